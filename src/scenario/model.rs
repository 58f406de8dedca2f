//! The validated scenario: what [`parse`](super::parse) builds and the engines, the
//! verdict and the reports read. Nothing here knows the TOML form.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::expr::{Expr, Lookup};
use super::kernel::KernelExpectations;
use super::params::{Param, ParamKind, ParamValue};
use super::step::Step;
use super::take::{Take, ValueType};
use super::vocab::INDEX;

/// Longest run the watchdog allows when a scenario does not say (milliseconds).
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// A scenario file that failed to parse or validate.
#[derive(Debug, thiserror::Error)]
pub struct ScenarioError {
    pub path: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// The field or step the problem is in (`actors[1].steps[3].op`, `params.backlog`).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        place(
            f,
            &self.path,
            self.line,
            self.field.as_deref(),
            &self.message,
        )
    }
}

/// Something in a valid scenario file that this machine cannot honour: an errno name
/// this system does not report, a kernel counter this kernel does not have.
///
/// The same file is valid on every machine; a warning says what will not hold here (the
/// expectation cannot be met, the observation will be absent). `tcplab check` prints
/// warnings without failing.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioWarning {
    pub path: PathBuf,
    /// 1-based line, when the thing warned about has a place in the file.
    pub line: Option<usize>,
    /// The field it is in (`observations.aborts`, `expect.linux.dial`).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        place(
            f,
            &self.path,
            self.line,
            self.field.as_deref(),
            &self.message,
        )
    }
}

/// `file:line: field: message`, leaving out what is not known.
fn place(
    f: &mut fmt::Formatter<'_>,
    path: &Path,
    line: Option<usize>,
    field: Option<&str>,
    message: &str,
) -> fmt::Result {
    write!(f, "{}", path.display())?;
    if let Some(line) = line {
        write!(f, ":{line}")?;
    }
    if let Some(field) = field {
        write!(f, ": {field}")?;
    }
    write!(f, ": {message}")
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    /// How many instances run (concurrent writers); each sees its number as `index`.
    pub count: Expr,
    /// The host it runs on, in a scenario on the wire; `None`: the room's loopback.
    pub host: Option<super::wire::Host>,
    pub steps: Vec<Step>,
}

/// A named observation: one figure taken from one step's outcome, or the change of one
/// kernel counter over the run.
#[derive(Debug, Clone)]
pub struct ObservationDef {
    pub name: String,
    /// The step id (empty for a counter).
    pub step: String,
    /// What is taken from the step (`Take::Counter` for a counter).
    pub take: Take,
    /// The kernel counter whose change over the run this is (`TcpExt.ListenOverflows`).
    pub counter: Option<String>,
    /// The packet figure this is (`retransmissions(a, out)`), taken from the run's capture.
    pub packets: Option<super::figure::Figure>,
    pub help: String,
}

impl ObservationDef {
    pub fn value_type(&self) -> ValueType {
        match &self.packets {
            Some(f) => f.value_type(),
            None => self.take.value_type(),
        }
    }
}

/// Where an expectation comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Measured on a named system (the text names it and the command).
    Measured(String),
    /// Taken from documentation, not measured (the text names the source).
    Documented(String),
}

/// One expected value or set of values.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// An integer or an expression over parameters and facts.
    Value(Expr),
    /// Inclusive bounds; either may be absent.
    Range {
        min: Option<Expr>,
        max: Option<Expr>,
    },
    /// A list of integers, exactly.
    List(Vec<i64>),
    /// An outcome: `ok`, an errno name (`EPIPE`), an io::ErrorKind (`BrokenPipe`) or
    /// `deadline` (a timer of the lab's own expired, no errno).
    Outcome(String),
    /// A text, exactly (poll events such as `POLLIN|POLLHUP`).
    Text(String),
    /// Any of the alternatives.
    AnyOf(Vec<Expected>),
    /// Checked only when the parameter is set (an optional integer) or true (a boolean).
    When(String, Box<Expected>),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Value(e) => write!(f, "{e}"),
            Expected::Range { min, max } => match (min, max) {
                (Some(a), Some(b)) => write!(f, "{a} ..= {b}"),
                (Some(a), None) => write!(f, ">= {a}"),
                (None, Some(b)) => write!(f, "<= {b}"),
                (None, None) => f.write_str("anything"),
            },
            Expected::List(l) => write!(f, "{l:?}"),
            Expected::Outcome(s) | Expected::Text(s) => f.write_str(s),
            Expected::AnyOf(alts) => {
                let alts: Vec<String> = alts.iter().map(|a| a.to_string()).collect();
                write!(f, "any of [{}]", alts.join(", "))
            }
            Expected::When(p, e) => write!(f, "{e} (when {p})"),
        }
    }
}

/// The expectations for one operating system.
#[derive(Debug, Clone)]
pub struct Expectations {
    pub os: String,
    pub basis: Basis,
    /// Observation name and what is expected of it, in file order.
    pub values: Vec<(String, Expected)>,
    /// What differs under one engine (`[expect.linux.tokio]`).
    pub engines: Vec<EngineExpectations>,
    /// What differs in a range of kernel versions (`[[expect.linux.kernels]]`).
    pub kernels: Vec<KernelExpectations>,
}

/// Expectations that replace same-named ones of their OS when one engine runs the steps.
#[derive(Debug, Clone)]
pub struct EngineExpectations {
    /// `std` or `tokio`.
    pub engine: String,
    /// The measurement under this engine; it covers the whole run, also the keys it does
    /// not override.
    pub basis: Basis,
    /// Why this engine differs, for reports.
    pub why: Option<String>,
    pub values: Vec<(String, Expected)>,
    /// Keys of the OS's table not checked under this engine (`skip = [...]`): a figure
    /// that means something else there, with the reason in `why`.
    pub skip: Vec<String>,
}

impl Expectations {
    /// The expectations in force when `engine` runs: this OS's, with the keys of the
    /// engine's table replacing the same-named ones (new keys are added at the end), and
    /// the engine's basis when it has a table.
    pub fn for_engine(&self, engine: &str) -> Expectations {
        let Some(e) = self.engines.iter().find(|e| e.engine == engine) else {
            return Expectations {
                engines: Vec::new(),
                ..self.clone()
            };
        };
        let mut values = self.values.clone();
        values.retain(|(k, _)| !e.skip.contains(k));
        for (k, v) in &e.values {
            match values.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = v.clone(),
                None => values.push((k.clone(), v.clone())),
            }
        }
        Expectations {
            os: self.os.clone(),
            basis: e.basis.clone(),
            values,
            engines: Vec::new(),
            kernels: self.kernels.clone(),
        }
    }

    /// The expectations in force in the kernel `version` (the `kernel_version` fact): the
    /// tables whose range holds it, applied in file order over these (see
    /// src/scenario/kernel.rs). Without a version, these unchanged.
    pub fn for_kernel(&self, version: Option<i64>) -> Expectations {
        let mut out = self.clone();
        let Some(version) = version else {
            return out;
        };
        for k in self.kernels.iter().filter(|k| k.range.contains(version)) {
            out.values.retain(|(name, _)| !k.skip.contains(name));
            for (name, v) in &k.values {
                match out.values.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => out.values.push((name.clone(), v.clone())),
                }
            }
            out.basis = k.basis.clone();
        }
        out
    }

    /// The `why` of each kernel table whose range holds `version`.
    pub fn kernel_why(&self, version: Option<i64>) -> Vec<&KernelExpectations> {
        self.kernels
            .iter()
            .filter(|k| version.is_some_and(|v| k.range.contains(v)))
            .collect()
    }

    /// The engine's `why`, when its table gives one.
    pub fn why(&self, engine: &str) -> Option<&str> {
        self.engines
            .iter()
            .find(|e| e.engine == engine)
            .and_then(|e| e.why.as_deref())
    }
}

/// The long explanation of a scenario: the `[explain]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Explain {
    /// What the scenario shows.
    pub shows: String,
    /// Why the kernel behaves so.
    pub why: String,
    /// How other systems differ, where that is documented.
    pub elsewhere: Option<String>,
    /// Man pages and RFC sections to read.
    pub read: Vec<String>,
}

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub path: PathBuf,
    /// Whether the file lies in the scenario folder it was loaded from, so that its name
    /// finds it on the command line; otherwise only its path does (see
    /// [`Scenario::command_arg`]).
    pub in_catalogue: bool,
    /// The folder it lives in below `scenarios/` (`connect`, `read`, ...).
    pub topic: String,
    pub name: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub source: String,
    /// A short explanation with `{observation}` and `{param}` placeholders.
    pub explanation: String,
    /// The short explanation under one engine where it differs (`[engine_explanation]`:
    /// `tokio = "..."`), by engine name, in file order.
    pub engine_explanations: Vec<(String, String)>,
    /// The long explanation `tcplab explain` prints (absent in minimal files).
    pub explain: Option<Explain>,
    pub timeout_ms: u64,
    pub params: Vec<Param>,
    pub actors: Vec<Actor>,
    pub observations: Vec<ObservationDef>,
    pub expectations: Vec<Expectations>,
    /// The wire between hosts a and b, in a scenario whose actors are placed on hosts;
    /// `None`: every actor on the room's loopback.
    pub wire: Option<super::wire_syntax::WireDef>,
    /// What this machine cannot honour, in file order (empty on most machines).
    pub warnings: Vec<ScenarioWarning>,
}

impl Scenario {
    /// The short explanation for a run on `engine`: its own where the file has one,
    /// else the common one.
    pub fn explanation_for(&self, engine: &str) -> &str {
        self.engine_explanations
            .iter()
            .find(|(e, _)| e == engine)
            .map_or(&self.explanation, |(_, t)| t)
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    pub fn observation(&self, name: &str) -> Option<&ObservationDef> {
        self.observations.iter().find(|o| o.name == name)
    }

    pub fn expectations_for(&self, os: &str) -> Option<&Expectations> {
        self.expectations.iter().find(|e| e.os == os)
    }

    /// The defaults with `overrides` (`name=value` pairs) applied, each checked against
    /// its parameter's type and bounds, then the memory the steps would allocate with
    /// them against this machine's cap ([`memory_cap`]). The error is a usage error's
    /// message: an unknown name with the closest and the list, a value of the wrong
    /// type, `` `--set writers=100`: writers is at most 16 (scenario concurrent-writers) ``.
    pub fn resolve_params(
        &self,
        overrides: &[(String, String)],
    ) -> Result<BTreeMap<String, ParamValue>, String> {
        self.resolve_params_under(overrides, self.timeout_ms)
    }

    /// [`Scenario::resolve_params`] for a run whose watchdog ends it after `watchdog_ms`
    /// (`--timeout-ms`): a duration set to that or more could never pass before the
    /// watchdog fires, and is refused.
    pub fn resolve_params_under(
        &self,
        overrides: &[(String, String)],
        watchdog_ms: u64,
    ) -> Result<BTreeMap<String, ParamValue>, String> {
        let mut values: BTreeMap<String, ParamValue> = self
            .params
            .iter()
            .map(|p| (p.name.clone(), p.default.clone()))
            .collect();
        for (name, text) in overrides {
            let Some(param) = self.param(name) else {
                return Err(self.no_such_param(name));
            };
            let value = param.parse_value(text)?;
            param
                .check_bounds(&value)
                .map_err(|why| format!("`--set {name}={text}`: {why} (scenario {})", self.name))?;
            if let (ParamKind::Duration, ParamValue::Int(ms)) = (&param.kind, &value) {
                if *ms >= 0 && *ms as u64 >= watchdog_ms {
                    let show = |n: u64| ParamKind::Duration.format_number(n as i64);
                    return Err(format!(
                        "`--set {name}={text}`: the watchdog ends the run after {}, before {} could pass; give --timeout-ms above {} (scenario {})",
                        show(watchdog_ms),
                        show(*ms as u64),
                        show(*ms as u64),
                        self.name
                    ));
                }
            }
            values.insert(name.clone(), value);
        }
        self.check_memory(&values, memory_cap()).map_err(|m| {
            let named: Vec<String> = overrides
                .iter()
                .filter(|(k, _)| m.params.contains(k))
                .map(|(k, v)| format!("--set {k}={v}"))
                .collect();
            if named.is_empty() {
                format!("scenario {}: {}", self.name, m.message)
            } else {
                format!(
                    "`{}`: {} (scenario {})",
                    named.join(" "),
                    m.message,
                    self.name
                )
            }
        })?;
        Ok(values)
    }

    /// The error for `--set NAME=...` naming no parameter: the closest names, then all.
    fn no_such_param(&self, name: &str) -> String {
        let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        if known.is_empty() {
            return format!(
                "scenario `{}` has no parameter `{name}` (parameters: none)",
                self.name
            );
        }
        let near = crate::suggest::closest(name, known.iter().copied());
        format!(
            "scenario `{}` has no parameter `{name}` (did you mean {}?) (parameters: {})",
            self.name,
            near.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            known.join(", ")
        )
    }

    /// The most memory the steps hold at once with these values: for each actor, its
    /// largest step's buffers times its instances, summed over the actors. Expressions
    /// naming facts of the room (known only at run time) count as nothing here; the
    /// engine refuses what it cannot allocate then.
    pub fn memory_needed(&self, params: &BTreeMap<String, ParamValue>) -> MemoryNeed {
        let facts = BTreeMap::new();
        let eval = |e: &Expr| e.eval(&|n| lookup(params, &facts, Some(0), n)).ok();
        let mut need = MemoryNeed::default();
        for a in &self.actors {
            let count = eval(&a.count).unwrap_or(1).max(1);
            let mut largest: Option<(i64, &Step, Vec<String>)> = None;
            for s in &a.steps {
                let mut bytes: i64 = 0;
                let mut names = Vec::new();
                for e in s.action.buffers() {
                    if let Some(n) = eval(e).filter(|n| *n > 0) {
                        bytes = bytes.saturating_add(n);
                        names.extend(e.names().into_iter().map(str::to_owned));
                    }
                }
                if largest.as_ref().is_none_or(|(b, _, _)| bytes > *b) {
                    largest = Some((bytes, s, names));
                }
            }
            let Some((bytes, step, mut names)) = largest else {
                continue;
            };
            let total = bytes.saturating_mul(count);
            need.bytes = need.bytes.saturating_add(total);
            if need.largest.as_ref().is_none_or(|(b, _)| total > *b) {
                let instances = if count > 1 {
                    format!(" ({count} instances)")
                } else {
                    String::new()
                };
                need.largest = Some((
                    total,
                    format!("{} of actor {}{instances}", step.describe(), a.name),
                ));
            }
            names.extend(a.count.names().into_iter().map(str::to_owned));
            need.params.extend(names);
        }
        need
    }

    /// Refuses values with which the steps would hold more than `cap` bytes at once.
    pub fn check_memory(
        &self,
        params: &BTreeMap<String, ParamValue>,
        cap: u64,
    ) -> Result<(), MemoryRefusal> {
        let need = self.memory_needed(params);
        if need.bytes <= 0 || need.bytes as u64 <= cap {
            return Ok(());
        }
        // Exactly where it is a whole number of a unit, else to a tenth of the largest.
        let size = |n: i64| {
            let exact = ParamKind::Size.format_number(n);
            match [("GiB", 1i64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
                .into_iter()
                .find(|(_, f)| n >= *f)
            {
                Some((u, f)) if n % f != 0 => format!("{:.1}{u}", n as f64 / f as f64),
                _ => exact,
            }
        };
        let most = need
            .largest
            .as_ref()
            .map(|(b, w)| format!(", {} of it for the {w}", size(*b)))
            .unwrap_or_default();
        Err(MemoryRefusal {
            message: format!(
                "the steps would hold {} of buffers at once{most}, above the memory cap of {} ({MEMORY_CAP_RULE})",
                size(need.bytes),
                size(cap.min(i64::MAX as u64) as i64)
            ),
            params: need.params.into_iter().collect(),
        })
    }
}

/// How the memory cap is chosen, for messages and help.
pub const MEMORY_CAP_RULE: &str = "a quarter of this machine's memory, at most 1GiB";

/// The largest cap on what a run's buffers may hold (bytes).
pub const MEMORY_CAP_MAX: u64 = 1 << 30;

/// The most memory a run's step buffers may hold at once on this machine: a quarter of
/// its physical memory, at most [`MEMORY_CAP_MAX`] (that, where the memory cannot be
/// read). A lab run needs megabytes; a value that asks for more is a mistake to refuse
/// before the run, not an allocation to die of halfway through it.
pub fn memory_cap() -> u64 {
    crate::sys::physical_memory().map_or(MEMORY_CAP_MAX, |m| (m / 4).min(MEMORY_CAP_MAX))
}

/// What [`Scenario::memory_needed`] found.
#[derive(Debug, Default)]
pub struct MemoryNeed {
    /// Bytes held at once, at most.
    pub bytes: i64,
    /// The actor step holding most (all its instances together), described.
    pub largest: Option<(i64, String)>,
    /// The parameters those sizes depend on.
    pub params: std::collections::BTreeSet<String>,
}

/// Values whose buffers exceed the memory cap: the message, and the parameters involved
/// (for the caller to name the `--set` responsible).
#[derive(Debug)]
pub struct MemoryRefusal {
    pub message: String,
    pub params: Vec<String>,
}

/// What `name` means in an expression: a parameter, the actor's instance number (when
/// `index` is given) or an environment fact.
pub fn lookup(
    params: &BTreeMap<String, ParamValue>,
    facts: &BTreeMap<String, i64>,
    index: Option<usize>,
    name: &str,
) -> Lookup {
    if name == INDEX {
        return index.map_or(Lookup::Unknown, |i| Lookup::Value(i as i64));
    }
    match params.get(name) {
        Some(ParamValue::Int(n)) => Lookup::Value(*n),
        Some(ParamValue::Bool(b)) => Lookup::Value(i64::from(*b)),
        Some(ParamValue::Unset) => Lookup::Unset,
        Some(ParamValue::Text(_)) => Lookup::Unknown,
        None => facts
            .get(name)
            .map_or(Lookup::Unknown, |v| Lookup::Value(*v)),
    }
}
