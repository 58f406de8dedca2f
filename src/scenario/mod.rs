//! Scenario files: the TOML format, its validation, and discovery of the catalogue.
//!
//! A scenario file is data, not code: a learner copies one, changes a step and runs it
//! without recompiling. Parsing checks everything that can be checked before a socket is
//! opened (names, references, types, expectations), so that a mistake is reported with
//! the file, the line and the field instead of surfacing halfway through a run.

mod expr;
mod kernel;
mod step;

/// Which engine runs the steps: part of the scenario vocabulary (`[expect.linux.tokio]`,
/// `--engine`), so the engine layer takes the names from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// Blocking std sockets, one OS thread per actor.
    Std,
    /// Non-blocking tokio sockets, one task per actor on a current-thread runtime.
    Tokio,
}

impl Engine {
    /// Every engine, in the order reports show them.
    pub const ALL: [Engine; 2] = [Engine::Std, Engine::Tokio];

    /// The name records, scenario files (`[expect.linux.tokio]`) and `--engine` use.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Std => "std",
            Engine::Tokio => "tokio",
        }
    }

    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// The engine names, for messages and suggestions.
pub const ENGINE_NAMES: [&str; 2] = ["std", "tokio"];

pub use kernel::{KernelExpectations, KernelRange};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

pub use expr::{Expr, ExprError, Lookup};
pub use step::{Action, How, PollFor, Queue, SigPipe, SockOpt, Step, Take, ValueType};

/// The environment facts an expression may name, besides the parameters.
///
/// `somaxconn` and the `tcp_*` names come from the kernel's settings (Linux sysctls); an
/// expression naming one on a system that does not report it cannot be evaluated there.
pub const FACTS: &[&str] = &[
    "somaxconn",
    "tcp_syn_retries",
    "tcp_syncookies",
    "tcp_abort_on_overflow",
    "tcp_wmem_min",
    "tcp_wmem_default",
    "tcp_wmem_max",
    "tcp_rmem_min",
    "tcp_rmem_default",
    "tcp_rmem_max",
    "wmem_max",
    "rmem_max",
    "tcp_keepalive_time",
    "tcp_keepalive_intvl",
    "tcp_keepalive_probes",
    "tcp_reordering",
    "tcp_no_metrics_save",
    "tcp_moderate_rcvbuf",
    "tcp_autocorking",
    "tcp_slow_start_after_idle",
    "tcp_timestamps",
    "tcp_sack",
    "tcp_window_scaling",
    "tcp_retries2",
    "tcp_fin_timeout",
    "tcp_notsent_lowat",
    "wmem_default",
    "rmem_default",
    // The congestion control's send-buffer multiplier (bbr 3, others 2; tcp_sndbuf_expand).
    "cc_sndbuf_expand",
    // 1 when the kernel has that congestion control (tcp_available_congestion_control).
    "cc_reno_available",
    "cc_cubic_available",
    "cc_bbr_available",
    // The loopback MTU, and what one segment of it costs in a send buffer.
    "lo_mtu",
    "tcp_per_mss",
    // The metrics cache entry for 127.0.0.1 as the run started; 0 where there is none.
    "metrics_reordering",
    "metrics_cwnd",
    "metrics_ssthresh",
    // The kernel's release as one number, major x 1000000 + minor x 1000 + patch (6.18.44:
    // 6018044), which [[expect.<os>.kernels]] ranges are decided by (env::KERNEL_VERSION_FACT).
    "kernel_version",
    // 1 when the run happened in a clean room of its own, 0 in the host's namespace.
    CLEAN_ROOM,
];

/// The fact that says a run had a clean room: `when = "clean_room"` limits an expectation
/// to such runs (a counter then counts only the scenario's own traffic).
pub const CLEAN_ROOM: &str = "clean_room";

/// The name an actor's steps use for their instance number (0 for a single actor).
pub const INDEX: &str = "index";

/// The operating systems an expectation can be written for (`std::env::consts::OS`).
pub const OSES: &[&str] = &[
    "linux", "macos", "windows", "freebsd", "openbsd", "netbsd", "illumos",
];

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
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A parameter's type and default.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    Int,
    Bool,
    Choice(Vec<String>),
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamKind::Int => f.write_str("an integer (sizes may use KiB, MiB)"),
            ParamKind::Bool => f.write_str("true or false"),
            ParamKind::Choice(c) => write!(f, "one of {}", c.join(", ")),
        }
    }
}

/// A parameter's value; `Unset` for an optional parameter left alone.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Int(i64),
    Bool(bool),
    Text(String),
    Unset,
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(n) => write!(f, "{n}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Text(t) => f.write_str(t),
            ParamValue::Unset => f.write_str("unset"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub default: ParamValue,
    pub help: String,
}

impl Param {
    /// Parses a command-line value (`--set name=value`) as this parameter's type.
    pub fn parse_value(&self, text: &str) -> Result<ParamValue, String> {
        let bad = || {
            format!(
                "parameter `{}` takes {}, not `{text}`",
                self.name, self.kind
            )
        };
        if text == "unset" && self.default == ParamValue::Unset {
            return Ok(ParamValue::Unset);
        }
        match &self.kind {
            ParamKind::Int => {
                let e = Expr::parse(text).map_err(|_| bad())?;
                e.eval(&|_| Lookup::Unknown)
                    .map(ParamValue::Int)
                    .map_err(|_| bad())
            }
            ParamKind::Bool => text.parse().map(ParamValue::Bool).map_err(|_| bad()),
            ParamKind::Choice(c) if c.iter().any(|x| x == text) => {
                Ok(ParamValue::Text(text.to_owned()))
            }
            ParamKind::Choice(_) => Err(bad()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    /// How many instances run (concurrent writers); each sees its number as `index`.
    pub count: Expr,
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
    pub help: String,
}

impl ObservationDef {
    pub fn value_type(&self) -> ValueType {
        self.take.value_type()
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
    /// The folder it lives in below `scenarios/` (`connect`, `read`, ...).
    pub topic: String,
    pub name: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub source: String,
    /// A short explanation with `{observation}` and `{param}` placeholders.
    pub explanation: String,
    /// The long explanation `tcplab explain` prints (absent in minimal files).
    pub explain: Option<Explain>,
    pub timeout_ms: u64,
    pub params: Vec<Param>,
    pub actors: Vec<Actor>,
    pub observations: Vec<ObservationDef>,
    pub expectations: Vec<Expectations>,
}

impl Scenario {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    pub fn observation(&self, name: &str) -> Option<&ObservationDef> {
        self.observations.iter().find(|o| o.name == name)
    }

    pub fn expectations_for(&self, os: &str) -> Option<&Expectations> {
        self.expectations.iter().find(|e| e.os == os)
    }

    /// The defaults with `overrides` (`name=value` pairs) applied.
    pub fn resolve_params(
        &self,
        overrides: &[(String, String)],
    ) -> Result<BTreeMap<String, ParamValue>, String> {
        let mut values: BTreeMap<String, ParamValue> = self
            .params
            .iter()
            .map(|p| (p.name.clone(), p.default.clone()))
            .collect();
        for (name, text) in overrides {
            let Some(param) = self.param(name) else {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                return Err(format!(
                    "scenario `{}` has no parameter `{name}` (parameters: {})",
                    self.name,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ));
            };
            values.insert(name.clone(), param.parse_value(text)?);
        }
        Ok(values)
    }
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

// ---------------------------------------------------------------------------------------
// The file as written
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    title: String,
    summary: String,
    description: String,
    source: String,
    #[serde(default)]
    explanation: Option<Spanned<String>>,
    #[serde(default)]
    explain: Option<RawExplain>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    params: IndexMap<String, Spanned<RawParam>>,
    actors: Vec<Spanned<RawActor>>,
    #[serde(default)]
    observations: IndexMap<String, Spanned<RawObservation>>,
    #[serde(default)]
    expect: IndexMap<String, Spanned<IndexMap<String, Spanned<toml::Value>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExplain {
    shows: Spanned<String>,
    why: Spanned<String>,
    #[serde(default)]
    elsewhere: Option<Spanned<String>>,
    read: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    default: Option<toml::Value>,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    choices: Option<Vec<String>>,
    help: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActor {
    name: String,
    #[serde(default)]
    count: Option<Expr>,
    steps: Vec<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObservation {
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    take: Option<Take>,
    #[serde(default)]
    counter: Option<String>,
    help: String,
}

/// The groups of kernel counters an observation may name (Linux's /proc/net/netstat and
/// /proc/net/snmp).
pub const COUNTER_GROUPS: &[&str] = &[
    "TcpExt", "IpExt", "MPTcpExt", "Tcp", "Ip", "Icmp", "IcmpMsg", "Udp", "UdpLite",
];

/// Checks a counter name's form (`Group.Name`) and, where this machine's counters can be
/// read, that it exists; suggests the closest names otherwise.
fn check_counter(name: &str) -> Result<(), String> {
    let form_ok = name.split_once('.').is_some_and(|(g, n)| {
        COUNTER_GROUPS.contains(&g) && !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if !form_ok {
        return Err(format!(
            "`{name}` is not a counter name: write Group.Name with a group of {} (`TcpExt.ListenOverflows`)",
            COUNTER_GROUPS.join(", ")
        ));
    }
    if let Some(known) = known_counters() {
        if !known.iter().any(|k| k == name) {
            let near = closest(name, known.iter().map(String::as_str));
            return Err(format!(
                "this kernel has no counter `{name}` (did you mean {}?)",
                near.join(", ")
            ));
        }
    }
    Ok(())
}

/// This machine's counter names, read once; `None` where they cannot be read.
fn known_counters() -> Option<&'static Vec<String>> {
    static KNOWN: std::sync::OnceLock<Option<Vec<String>>> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| crate::sys::net_counters().map(|c| c.into_keys().collect()))
        .as_ref()
}

/// An observation taken from a step, once its fields are known to be there.
struct ResolvedObservation {
    step: String,
    take: Take,
    help: String,
}

/// The 1-based line of the first line from `from` on that sets `key` (`key = ...`), or
/// `from` when there is none.
fn key_line(text: &str, from: usize, key: &str) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(from, |(i, _)| i + 1)
}

/// Byte offset to 1-based line number.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses and validates one scenario file's text. `topic` is its folder.
pub fn parse(path: &Path, text: &str, topic: &str) -> Result<Scenario, ScenarioError> {
    let err = |line: Option<usize>, field: Option<String>, message: String| ScenarioError {
        path: path.to_owned(),
        line,
        field,
        message,
    };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        // The parser's message names the problem; the key on that line names the field.
        let field = line
            .and_then(|l| text.lines().nth(l - 1))
            .and_then(|l| l.split_once('='))
            .map(|(k, _)| k.trim().trim_start_matches('{').trim().to_owned())
            .filter(|k| !k.is_empty() && !k.contains(['[', '"', '#']));
        err(line, field, e.message().trim().to_owned())
    })?;
    let at = |span: std::ops::Range<usize>| Some(line_of(text, span.start));

    let name = raw.name.get_ref().clone();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(err(
            at(raw.name.span()),
            Some("name".into()),
            format!("`{name}` is not a short name: use lowercase letters, digits and `-`"),
        ));
    }

    // Parameters.
    let mut params = Vec::new();
    for (pname, sp) in &raw.params {
        let field = Some(format!("params.{pname}"));
        let line = at(sp.span());
        if FACTS.contains(&pname.as_str()) || pname == INDEX {
            return Err(err(
                line,
                field,
                format!(
                    "`{pname}` is a reserved name (facts: {}, {INDEX})",
                    FACTS.join(", ")
                ),
            ));
        }
        let p = sp.get_ref();
        let (kind, default) =
            match (&p.choices, &p.default) {
                (Some(c), Some(toml::Value::String(s))) if c.contains(s) => {
                    (ParamKind::Choice(c.clone()), ParamValue::Text(s.clone()))
                }
                (Some(c), _) => {
                    return Err(err(
                        line,
                        field,
                        format!("the default must be one of the choices ({})", c.join(", ")),
                    ))
                }
                (None, Some(toml::Value::Integer(n))) => (ParamKind::Int, ParamValue::Int(*n)),
                (None, Some(toml::Value::String(s))) => match Expr::parse(s)
                    .ok()
                    .and_then(|e| e.eval(&|_| Lookup::Unknown).ok())
                {
                    Some(n) => (ParamKind::Int, ParamValue::Int(n)),
                    None => {
                        return Err(err(
                            line,
                            field,
                            format!(
                            "default `{s}` is not a number; for a text parameter give `choices`"
                        ),
                        ))
                    }
                },
                (None, Some(toml::Value::Boolean(b))) => (ParamKind::Bool, ParamValue::Bool(*b)),
                (None, None) if p.optional => (ParamKind::Int, ParamValue::Unset),
                (None, None) => return Err(err(
                    line,
                    field,
                    "needs a `default` (or `optional = true` for an integer that may stay unset)"
                        .into(),
                )),
                (None, Some(other)) => {
                    return Err(err(
                        line,
                        field,
                        format!(
                            "default must be an integer, a boolean or one of `choices`, not {}",
                            other.type_str()
                        ),
                    ))
                }
            };
        params.push(Param {
            name: pname.clone(),
            kind,
            default,
            help: p.help.clone(),
        });
    }
    let param_names: BTreeSet<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let check_names = |e: &Expr, line: Option<usize>, field: &str| -> Result<(), ScenarioError> {
        for n in e.names() {
            if !param_names.contains(n) && !FACTS.contains(&n) && n != INDEX {
                return Err(err(
                    line,
                    Some(field.to_owned()),
                    format!(
                        "`{n}` is neither a parameter ({}) nor a fact ({}, {INDEX})",
                        if param_names.is_empty() {
                            "none".to_owned()
                        } else {
                            param_names.iter().copied().collect::<Vec<_>>().join(", ")
                        },
                        FACTS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    };

    // Actors and their steps.
    if raw.actors.len() < 2 {
        return Err(err(
            None,
            Some("actors".into()),
            "a scenario needs two or more actors (`[[actors]]` tables)".into(),
        ));
    }
    let mut actors = Vec::new();
    let mut step_ids: BTreeMap<String, (Action, Option<usize>)> = BTreeMap::new();
    for (ai, sp) in raw.actors.into_iter().enumerate() {
        let line = at(sp.span());
        let ra = sp.into_inner();
        if actors.iter().any(|a: &Actor| a.name == ra.name) {
            return Err(err(
                line,
                Some(format!("actors[{ai}].name")),
                format!("two actors are called `{}`", ra.name),
            ));
        }
        let count = ra.count.unwrap_or(Expr::Num(1));
        check_names(&count, line, &format!("actors[{ai}].count"))?;
        let mut steps = Vec::new();
        for (si, st) in ra.steps.into_iter().enumerate() {
            let line = at(st.span());
            let field = format!("actors[{ai}] ({}) steps[{si}]", ra.name);
            let step =
                Step::from_table(st.into_inner()).map_err(|m| err(line, Some(field.clone()), m))?;
            for (what, e) in step.action.exprs() {
                check_names(e, line, &format!("{field}.{what}"))?;
            }
            if let Action::Set { option, value, .. } = &step.action {
                if *option == SockOpt::Congestion && !matches!(value, Expr::Name(_)) {
                    return Err(err(
                        line,
                        Some(format!("{field}.value")),
                        format!("TCP_CONGESTION takes an algorithm's name (`reno`, `cubic`, `bbr`) or a text parameter, not `{value}`"),
                    ));
                }
                if option.read_only() {
                    return Err(err(
                        line,
                        Some(format!("{field}.option")),
                        format!("{} can only be read (use `get`)", option.name()),
                    ));
                }
            }
            if let Some(w) = &step.when {
                if !param_names.contains(w.as_str()) {
                    return Err(err(
                        line,
                        Some(format!("{field}.when")),
                        format!("`{w}` is not a parameter"),
                    ));
                }
            }
            if let Some(id) = &step.id {
                if step_ids
                    .insert(id.clone(), (step.action.clone(), line))
                    .is_some()
                {
                    return Err(err(
                        line,
                        Some(format!("{field}.id")),
                        format!("two steps have the id `{id}`"),
                    ));
                }
            }
            steps.push(step.with_line(line.unwrap_or(0)));
        }
        actors.push(Actor {
            name: ra.name,
            count,
            steps,
        });
    }

    // Cross-references between steps: sockets, sync points, actors.
    let all_steps = || {
        actors
            .iter()
            .flat_map(|a| a.steps.iter().map(move |s| (a, s)))
    };
    let made: BTreeSet<&str> = all_steps()
        .filter_map(|(_, s)| s.action.creates())
        .collect();
    let signalled: BTreeSet<&str> = all_steps()
        .filter_map(|(_, s)| match &s.action {
            Action::Signal { sync } => Some(sync.as_str()),
            _ => None,
        })
        .collect();
    for (a, s) in all_steps() {
        let field = Some(format!("{} step {}", a.name, s.describe()));
        let line = Some(s.line);
        for sock in s.action.uses() {
            if !made.contains(sock) {
                return Err(err(
                    line,
                    field,
                    format!(
                        "no step creates the socket `{sock}` (created: {})",
                        made.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        match &s.action {
            Action::Wait { sync, .. } if !signalled.contains(sync.as_str()) => {
                return Err(err(
                    line,
                    field,
                    format!("no step signals `{sync}`: this wait could never end"),
                ))
            }
            Action::WaitBlocked { actor } if !actors.iter().any(|x| &x.name == actor) => {
                return Err(err(line, field, format!("there is no actor `{actor}`")))
            }
            _ => {}
        }
    }

    // Observations.
    let mut observations = Vec::new();
    for (oname, sp) in raw.observations {
        let line = at(sp.span());
        let o = sp.into_inner();
        let field = Some(format!("observations.{oname}"));
        if param_names.contains(oname.as_str()) {
            return Err(err(
                line,
                field,
                format!("`{oname}` is also a parameter; expressions could not tell them apart"),
            ));
        }
        let (step, take) = match (o.step, o.take, o.counter) {
            (None, None, Some(counter)) => {
                check_counter(&counter).map_err(|m| err(line, field.clone(), m))?;
                observations.push(ObservationDef {
                    name: oname,
                    step: String::new(),
                    take: Take::Counter,
                    counter: Some(counter),
                    help: o.help,
                });
                continue;
            }
            (Some(step), Some(take), None) => (step, take),
            (_, _, Some(_)) => {
                return Err(err(
                    line,
                    field,
                    "an observation takes either `counter` or `step` and `take`, not both".into(),
                ))
            }
            _ => {
                return Err(err(
                    line,
                    field,
                    "an observation needs `step` and `take` (or `counter` for a kernel counter)"
                        .into(),
                ))
            }
        };
        let o = ResolvedObservation {
            step,
            take,
            help: o.help,
        };
        let Some((action, _)) = step_ids.get(&o.step) else {
            return Err(err(
                line,
                field,
                format!(
                    "no step has the id `{}` (ids: {})",
                    o.step,
                    step_ids.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let allowed = action.takes();
        if !allowed.contains(&o.take) {
            return Err(err(
                line,
                field,
                format!(
                    "a `{}` step has no `{}`; it has: {}",
                    action.op(),
                    o.take,
                    allowed
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        observations.push(ObservationDef {
            name: oname,
            step: o.step,
            take: o.take,
            counter: None,
            help: o.help,
        });
    }

    // Expectations: `[expect.<os>]`, and inside it `[expect.<os>.<engine>]` for what
    // differs under one engine.
    let parse_value = |label: &str,
                       key: &str,
                       vline: Option<usize>,
                       value: &toml::Value|
     -> Result<Expected, ScenarioError> {
        let field = Some(format!("{label}.{key}"));
        let Some(def) = observations.iter().find(|o| o.name == key) else {
            let names = observations.iter().map(|o| o.name.as_str());
            let near = closest(key, names);
            return Err(err(
                vline,
                field,
                format!(
                    "no observation `{key}` (did you mean {}?) (observations: {})",
                    near.join(", "),
                    observations
                        .iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        let expected =
            expected_from(value, def.value_type()).map_err(|m| err(vline, field.clone(), m))?;
        // Here, not per table, so the rule holds inside `[expect.<os>.<engine>]` too.
        let lower_bound = matches!(
            expected,
            Expected::Range {
                min: Some(_),
                max: None
            }
        );
        let in_clean_room = matches!(&expected, Expected::When(p, _) if p == CLEAN_ROOM);
        if def.counter.is_some() && !lower_bound && !in_clean_room {
            return Err(err(
                vline,
                field,
                format!("a counter counts for its whole network namespace: outside a clean room other traffic moves it too, so expect a lower bound `{{ min = N }}`, or an exact figure in a clean room only: `{{ value = N, when = \"{CLEAN_ROOM}\" }}`"),
            ));
        }
        if let Expected::When(p, _) = &expected {
            if !param_names.contains(p.as_str()) && !FACTS.contains(&p.as_str()) {
                return Err(err(
                    vline,
                    field,
                    format!("`when = \"{p}\"` names no parameter and no fact"),
                ));
            }
        }
        // Expectations may also name numeric observations of the same run.
        for e in expected_exprs(&expected) {
            for n in e.names() {
                let numeric_obs = observations.iter().any(|o| {
                    o.name == n && matches!(o.value_type(), ValueType::Int | ValueType::Ms)
                });
                if !numeric_obs {
                    check_names(&Expr::Name(n.to_owned()), vline, &format!("{label}.{key}"))?;
                }
            }
        }
        Ok(expected)
    };
    let parse_basis = |label: &str,
                       key: &str,
                       vline: Option<usize>,
                       value: &toml::Value,
                       basis: &mut Option<Basis>|
     -> Result<(), ScenarioError> {
        let field = Some(format!("{label}.{key}"));
        let Some(text) = value.as_str().filter(|t| !t.trim().is_empty()) else {
            return Err(err(
                vline,
                field,
                "must be a text naming the system and the command, or the source".into(),
            ));
        };
        if basis.is_some() {
            return Err(err(
                vline,
                field,
                "give `measured` or `documented`, not both".into(),
            ));
        }
        *basis = Some(if key == "measured" {
            Basis::Measured(text.to_owned())
        } else {
            Basis::Documented(text.to_owned())
        });
        Ok(())
    };
    let no_basis = |label: &str, line: Option<usize>| {
        err(
            line,
            Some(label.to_owned()),
            "say where the expectations come from: `measured = \"<system, command, date>\"` or `documented = \"<source>\"`".into(),
        )
    };
    let mut expectations = Vec::new();
    for (os, sp) in raw.expect {
        let line = at(sp.span());
        if !OSES.contains(&os.as_str()) {
            return Err(err(
                line,
                Some(format!("expect.{os}")),
                format!("unknown OS `{os}` (one of {})", OSES.join(", ")),
            ));
        }
        let label = format!("expect.{os}");
        let table = sp.into_inner();
        let mut basis = None;
        let mut values = Vec::new();
        let mut engines = Vec::new();
        let mut kernels = Vec::new();
        for (key, v) in table {
            let vline = at(v.span());
            let value = v.into_inner();
            match (key.as_str(), value) {
                ("measured" | "documented", value) => {
                    parse_basis(&label, &key, vline, &value, &mut basis)?
                }
                ("kernels", value) if observations.iter().all(|o| o.name != "kernels") => {
                    // `[[expect.linux.kernels]]`: what differs in a range of kernels.
                    let klabel = format!("{label}.kernels");
                    let Some(tables) = value.as_array() else {
                        return Err(err(
                            vline,
                            Some(klabel),
                            "write each range as its own `[[expect.<os>.kernels]]` table".into(),
                        ));
                    };
                    for t in tables {
                        let Some(t) = t.as_table() else {
                            return Err(err(
                                vline,
                                Some(klabel),
                                "write each range as its own `[[expect.<os>.kernels]]` table"
                                    .into(),
                            ));
                        };
                        let k = kernel::parse_table(
                            t,
                            |obs, v| parse_value(&klabel, obs, vline, v).map_err(|e| e.message),
                            |key, v, b| {
                                parse_basis(&klabel, key, vline, v, b).map_err(|e| e.message)
                            },
                            |n| observations.iter().any(|o| o.name == n),
                        )
                        .map_err(|(key, m)| err(vline, Some(format!("{klabel}.{key}")), m))?;
                        kernels.push(k);
                    }
                }
                (name, toml::Value::Table(t))
                    if ENGINE_NAMES.contains(&name)
                        || (observations.iter().all(|o| o.name != name)
                            && !EXPECTATION_KEYS.iter().any(|k| t.contains_key(*k))) =>
                {
                    // `[expect.linux.tokio]`: what differs under one engine.
                    let elabel = format!("{label}.{name}");
                    if !ENGINE_NAMES.contains(&name) {
                        let near = closest(name, ENGINE_NAMES.into_iter());
                        return Err(err(
                            vline,
                            Some(elabel),
                            format!(
                                "unknown engine `{name}` (did you mean {}?); engines: {}",
                                near.join(", "),
                                ENGINE_NAMES.join(", ")
                            ),
                        ));
                    }
                    let mut ebasis = None;
                    let mut why = None;
                    let mut skip = Vec::new();
                    let mut evalues = Vec::new();
                    for (k, value) in t {
                        // Keys inside the engine's table have no span of their own: the
                        // first line below its header that sets the key.
                        let kline = vline.map(|l| key_line(text, l, &k));
                        match k.as_str() {
                            "measured" | "documented" => {
                                parse_basis(&elabel, &k, kline, &value, &mut ebasis)?
                            }
                            "skip" => {
                                let names: Option<Vec<&str>> = value
                                    .as_array()
                                    .and_then(|a| a.iter().map(|v| v.as_str()).collect());
                                let Some(names) = names else {
                                    return Err(err(
                                        kline,
                                        Some(format!("{elabel}.skip")),
                                        "must be a list of observation names".into(),
                                    ));
                                };
                                for n in names {
                                    if !observations.iter().any(|o| o.name == n) {
                                        return Err(err(
                                            kline,
                                            Some(format!("{elabel}.skip")),
                                            format!("no observation `{n}`"),
                                        ));
                                    }
                                    skip.push(n.to_owned());
                                }
                            }
                            "why" => match value.as_str().filter(|t| !t.trim().is_empty()) {
                                Some(w) => why = Some(w.trim().to_owned()),
                                None => {
                                    return Err(err(
                                        kline,
                                        Some(format!("{elabel}.why")),
                                        "must be a text saying why this engine differs".into(),
                                    ))
                                }
                            },
                            obs => {
                                let e = parse_value(&elabel, obs, kline, &value)?;
                                evalues.push((obs.to_owned(), e));
                            }
                        }
                    }
                    let Some(ebasis) = ebasis else {
                        return Err(no_basis(&elabel, vline));
                    };
                    if !skip.is_empty() && why.is_none() {
                        return Err(err(
                            vline,
                            Some(format!("{elabel}.skip")),
                            "say in `why` why these are not checked under this engine".into(),
                        ));
                    }
                    engines.push(EngineExpectations {
                        engine: name.to_owned(),
                        basis: ebasis,
                        why,
                        values: evalues,
                        skip,
                    });
                }
                (obs, value) => {
                    let e = parse_value(&label, obs, vline, &value)?;
                    values.push((obs.to_owned(), e));
                }
            }
        }
        let Some(basis) = basis else {
            return Err(no_basis(&label, line));
        };
        expectations.push(Expectations {
            os,
            basis,
            values,
            engines,
            kernels,
        });
    }

    // The explanation's placeholders.
    let explanation = match raw.explanation {
        Some(sp) => {
            let line = at(sp.span());
            let text = sp.into_inner();
            for ph in placeholders(&text) {
                if !param_names.contains(ph) && !observations.iter().any(|o| o.name == ph) {
                    return Err(err(
                        line,
                        Some("explanation".into()),
                        format!("`{{{ph}}}` names neither a parameter nor an observation"),
                    ));
                }
            }
            text.trim().to_owned()
        }
        None => String::new(),
    };

    // The long explanation: every part that is there says something.
    let explain = match raw.explain {
        Some(e) => {
            let mut texts = vec![("shows", &e.shows), ("why", &e.why)];
            texts.extend(e.elsewhere.as_ref().map(|t| ("elsewhere", t)));
            for (key, text) in texts {
                if text.get_ref().trim().is_empty() {
                    return Err(err(
                        at(text.span()),
                        Some(format!("explain.{key}")),
                        "must not be empty (leave out an optional part instead)".into(),
                    ));
                }
            }
            if e.read.get_ref().is_empty() || e.read.get_ref().iter().any(|r| r.trim().is_empty()) {
                return Err(err(
                    at(e.read.span()),
                    Some("explain.read".into()),
                    "name at least one man page or RFC section, e.g. [\"tcp(7)\"]".into(),
                ));
            }
            Some(Explain {
                shows: e.shows.get_ref().trim().to_owned(),
                why: e.why.get_ref().trim().to_owned(),
                elsewhere: e.elsewhere.map(|t| t.get_ref().trim().to_owned()),
                read: e.read.into_inner(),
            })
        }
        None => None,
    };

    Ok(Scenario {
        path: path.to_owned(),
        topic: topic.to_owned(),
        name,
        title: raw.title,
        summary: raw.summary,
        description: raw.description.trim().to_owned(),
        source: raw.source,
        explanation,
        explain,
        timeout_ms: match raw.timeout_ms {
            Some(0) => {
                return Err(err(
                    None,
                    Some("timeout_ms".into()),
                    "must be at least 1 (milliseconds)".into(),
                ))
            }
            t => t.unwrap_or(DEFAULT_TIMEOUT_MS),
        },
        params,
        actors,
        observations,
        expectations,
    })
}

/// The `{name}` placeholders of an explanation.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

fn expected_exprs(e: &Expected) -> Vec<&Expr> {
    match e {
        Expected::Value(x) => vec![x],
        Expected::Range { min, max } => min.iter().chain(max.iter()).collect(),
        Expected::AnyOf(alts) => alts.iter().flat_map(expected_exprs).collect(),
        Expected::When(_, e) => expected_exprs(e),
        _ => vec![],
    }
}

/// The keys of an expectation written as a table (`{ min = 1 }`): a table with none of
/// them inside `[expect.<os>]` is an engine's table.
const EXPECTATION_KEYS: &[&str] = &["min", "max", "any_of", "when", "value"];

/// Names an outcome expectation may use besides errno names and io::ErrorKind names.
const OUTCOME_WORDS: &[&str] = &["ok", "deadline"];

/// `std::io::ErrorKind` names as `{:?}` prints them (with `Uncategorized`, which std
/// prints for errnos it does not map, such as EBADF).
const ERROR_KINDS: &[&str] = &[
    "NotFound",
    "PermissionDenied",
    "ConnectionRefused",
    "ConnectionReset",
    "HostUnreachable",
    "NetworkUnreachable",
    "ConnectionAborted",
    "NotConnected",
    "AddrInUse",
    "AddrNotAvailable",
    "NetworkDown",
    "BrokenPipe",
    "AlreadyExists",
    "WouldBlock",
    "InvalidInput",
    "InvalidData",
    "TimedOut",
    "WriteZero",
    "Interrupted",
    "Unsupported",
    "UnexpectedEof",
    "OutOfMemory",
    "InProgress",
    "ResourceBusy",
    "Other",
    "Uncategorized",
];

fn expected_from(v: &toml::Value, ty: ValueType) -> Result<Expected, String> {
    use toml::Value as V;
    let expr = |v: &V| -> Result<Expr, String> {
        match v {
            V::Integer(n) => Ok(Expr::Num(*n)),
            V::String(s) => Expr::parse(s).map_err(|e| e.to_string()),
            other => Err(format!(
                "expected an integer or an expression, found {}",
                other.type_str()
            )),
        }
    };
    match (ty, v) {
        (_, V::Table(t)) if t.contains_key("when") => {
            let mut rest = t.clone();
            let Some(V::String(param)) = rest.remove("when") else {
                return Err("`when` takes a parameter name".into());
            };
            let inner = match (rest.len(), rest.get("value")) {
                (1, Some(v)) => expected_from(v, ty)?,
                _ if rest.contains_key("value") => {
                    return Err("`value` stands alone beside `when`".into())
                }
                _ => expected_from(&V::Table(rest), ty)?,
            };
            Ok(Expected::When(param, Box::new(inner)))
        }
        (_, V::Table(t)) if t.contains_key("any_of") => {
            if t.len() != 1 {
                return Err("`any_of` stands alone in its table".into());
            }
            let Some(V::Array(alts)) = t.get("any_of") else {
                return Err("`any_of` takes a list of alternatives".into());
            };
            if alts.is_empty() {
                return Err("`any_of` needs at least one alternative".into());
            }
            alts.iter()
                .map(|a| expected_from(a, ty))
                .collect::<Result<_, _>>()
                .map(Expected::AnyOf)
        }
        (ValueType::Int | ValueType::Ms, V::Table(t)) => {
            if let Some(k) = t.keys().find(|k| *k != "min" && *k != "max") {
                return Err(format!(
                    "unknown key `{k}` (a table holds min and max, any_of, or value with when)"
                ));
            }
            Ok(Expected::Range {
                min: t.get("min").map(expr).transpose()?,
                max: t.get("max").map(expr).transpose()?,
            })
        }
        (ValueType::Int | ValueType::Ms, V::Array(alts)) => alts
            .iter()
            .map(|a| expr(a).map(Expected::Value))
            .collect::<Result<_, _>>()
            .map(Expected::AnyOf),
        (ValueType::Int | ValueType::Ms, v) => expr(v).map(Expected::Value),
        (ValueType::List, V::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_integer()
                    .ok_or_else(|| "a list expectation holds integers".to_owned())
            })
            .collect::<Result<_, _>>()
            .map(Expected::List),
        (ValueType::List, _) => Err("expected a list of integers such as [10, 5]".into()),
        (ValueType::Outcome, V::String(s)) => {
            // Windows' WSAE* names are not in this system's table; accept them by form.
            let known = OUTCOME_WORDS.contains(&s.as_str())
                || ERROR_KINDS.contains(&s.as_str())
                || crate::sys::errno_names().any(|n| n == s)
                || s.starts_with("WSAE");
            if known {
                Ok(Expected::Outcome(s.clone()))
            } else {
                let words = OUTCOME_WORDS
                    .iter()
                    .copied()
                    .chain(ERROR_KINDS.iter().copied())
                    .chain(crate::sys::errno_names());
                let near = closest(s, words);
                Err(format!(
                    "`{s}` is not an outcome (did you mean {}?): use `ok`, `deadline`, an errno name (EPIPE) or an io::ErrorKind (BrokenPipe)",
                    near.join(", ")
                ))
            }
        }
        (ValueType::Outcome, V::Array(alts)) => alts
            .iter()
            .map(|a| expected_from(a, ty))
            .collect::<Result<_, _>>()
            .map(Expected::AnyOf),
        (ValueType::Text, V::String(s)) => Ok(Expected::Text(s.clone())),
        (ValueType::Text, V::Array(alts)) => alts
            .iter()
            .map(|a| expected_from(a, ty))
            .collect::<Result<_, _>>()
            .map(Expected::AnyOf),
        (ty, other) => Err(format!(
            "a {ty} observation cannot be expected to be {}",
            other.type_str()
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------

/// Every `*.toml` below `dir`, sorted; no list to keep in sync.
pub fn discover(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The topic of a file: its first folder below `root`, or `misc`.
pub fn topic_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .ok()
        .and_then(|rel| {
            let mut parts = rel.components();
            let first = parts.next()?;
            parts
                .next()
                .map(|_| first.as_os_str().to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "misc".to_owned())
}

/// Reads and parses a file.
pub fn load(root: Option<&Path>, path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_owned(),
        line: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    let topic = root.map_or_else(|| "misc".to_owned(), |r| topic_of(r, path));
    parse(path, &text, &topic)
}

/// The catalogue: every scenario below `dir` that parses, and the errors of those that
/// do not. Duplicate short names are errors of the later file.
pub fn catalogue(dir: &Path) -> std::io::Result<(Vec<Scenario>, Vec<ScenarioError>)> {
    let mut good: Vec<Scenario> = Vec::new();
    let mut bad = Vec::new();
    for path in discover(dir)? {
        match load(Some(dir), &path) {
            Ok(s) => {
                if let Some(first) = good.iter().find(|g| g.name == s.name) {
                    bad.push(ScenarioError {
                        path: path.clone(),
                        line: None,
                        field: Some("name".into()),
                        message: format!(
                            "the name `{}` is taken by {}",
                            s.name,
                            first.path.display()
                        ),
                    });
                } else {
                    good.push(s);
                }
            }
            Err(e) => bad.push(e),
        }
    }
    Ok((good, bad))
}

/// Similarity below which a name is not offered as a suggestion (Jaro-Winkler).
const SUGGEST_FROM: f64 = 0.75;

/// Up to three known names closest to `wanted`, closest first; the single closest one
/// when none is really close.
pub fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = names
        .map(|n| {
            let mut score = strsim::jaro_winkler(wanted, n);
            if n.contains(wanted) || wanted.contains(n) {
                score += 0.5;
            }
            (score, n)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let close: Vec<&str> = scored
        .iter()
        .filter(|(s, _)| *s >= SUGGEST_FROM)
        .take(3)
        .map(|(_, n)| *n)
        .collect();
    if close.is_empty() {
        scored.into_iter().take(1).map(|(_, n)| n).collect()
    } else {
        close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid two-actor scenario; `extra` is appended (more tables), `step` replaces the
    /// client's middle step.
    fn file(step: &str, extra: &str) -> String {
        format!(
            r#"name = "t"
title = "t"
summary = "s"
description = "d"
source = "s"

[params]
n = {{ default = 2, help = "h" }}

[[actors]]
name = "server"
steps = [
  {{ op = "bind", as = "p" }},
  {{ op = "signal", sync = "bound" }},
]

[[actors]]
name = "client"
steps = [
  {{ op = "wait", sync = "bound" }},
  {step},
]

[observations]
dial = {{ step = "dial", take = "outcome", help = "h" }}
{extra}"#
        )
    }

    const DIAL: &str = r#"{ op = "connect", id = "dial", to = "p", as = "c" }"#;

    fn error(text: &str) -> ScenarioError {
        parse(Path::new("t.toml"), text, "misc").expect_err("the file should be rejected")
    }

    #[test]
    fn a_valid_file_parses() {
        let s = parse(Path::new("t.toml"), &file(DIAL, ""), "misc").unwrap();
        assert_eq!(s.actors.len(), 2);
        assert_eq!(s.actors[1].steps[1].line, 21);
        assert_eq!(s.observations[0].take, Take::Outcome);
    }

    #[test]
    fn an_explain_table_parses_and_its_texts_are_trimmed() {
        let extra = "[explain]\nshows = \" s \"\nwhy = \"w\"\nread = [\"tcp(7)\"]\n";
        let s = parse(Path::new("t.toml"), &file(DIAL, extra), "misc").unwrap();
        let e = s.explain.expect("an explanation");
        assert_eq!(e.shows, "s");
        assert_eq!(e.elsewhere, None);
        assert_eq!(e.read, ["tcp(7)"]);
    }

    #[test]
    fn an_explain_table_needs_something_to_read_and_known_keys() {
        let e = error(&file(
            DIAL,
            "[explain]\nshows = \"s\"\nwhy = \"w\"\nread = []\n",
        ));
        assert_eq!(e.field.as_deref(), Some("explain.read"), "{e}");
        assert_eq!(e.line, Some(29), "{e}");
        let e = error(&file(
            DIAL,
            "[explain]\nshows = \"s\"\nwhy = \"w\"\nread = [\"r\"]\nsee = \"x\"\n",
        ));
        assert!(e.message.contains("see"), "{e}");
        assert_eq!(e.line, Some(30), "{e}");
        let e = error(&file(
            DIAL,
            "[explain]\nshows = \"s\"\nwhy = \" \"\nread = [\"r\"]\n",
        ));
        assert_eq!(e.field.as_deref(), Some("explain.why"), "{e}");
    }

    #[test]
    fn an_unknown_op_names_the_line_and_the_closest_op() {
        let e = error(&file(r#"{ op = "conect", to = "p", as = "c" }"#, ""));
        assert_eq!(e.line, Some(21));
        assert!(e.message.contains("did you mean connect"), "{e}");
    }

    #[test]
    fn setting_a_read_only_option_is_rejected() {
        let e = error(&file(
            r#"{ op = "set", id = "dial", sock = "p", option = "SO_ERROR", value = 0 }"#,
            "",
        ));
        assert!(e.message.contains("can only be read"), "{e}");
    }

    #[test]
    fn a_socket_nobody_creates_is_rejected() {
        let e = error(&file(
            r#"{ op = "connect", id = "dial", to = "q", as = "c" }"#,
            "",
        ));
        assert!(e.message.contains("no step creates the socket `q`"), "{e}");
    }

    #[test]
    fn an_observation_named_like_a_parameter_is_rejected() {
        let text = file(DIAL, "").replace("dial = {", "n = {");
        assert!(error(&text).message.contains("also a parameter"));
    }

    #[test]
    fn expectations_must_name_their_basis_and_known_observations() {
        let e = error(&file(DIAL, "[expect.linux]\ndial = \"ok\"\n"));
        assert!(e.message.contains("measured"), "{e}");
        let e = error(&file(
            DIAL,
            "[expect.linux]\nmeasured = \"m\"\ndail = \"ok\"\n",
        ));
        assert_eq!(e.line, Some(28));
        assert!(e.message.contains("no observation `dail`"), "{e}");
        let e = error(&file(DIAL, "[expect.plan9]\nmeasured = \"m\"\n"));
        assert!(e.message.contains("unknown OS"), "{e}");
    }

    #[test]
    fn expectation_forms_parse_by_observation_type() {
        let s = parse(
            Path::new("t.toml"),
            &file(
                DIAL,
                "[expect.linux]\nmeasured = \"m\"\ndial = [\"ECONNREFUSED\", \"ok\"]\n",
            ),
            "misc",
        )
        .unwrap();
        let (_, e) = &s.expectations[0].values[0];
        assert!(matches!(e, Expected::AnyOf(alts) if alts.len() == 2));
        let e = error(&file(DIAL, "[expect.linux]\nmeasured = \"m\"\ndial = 5\n"));
        assert!(e.message.contains("outcome"), "{e}");
        let e = error(&file(
            DIAL,
            "[expect.linux]\nmeasured = \"m\"\ndial = \"ECONREFUSED\"\n",
        ));
        assert!(e.message.contains("did you mean ECONNREFUSED"), "{e}");
    }

    #[test]
    fn an_engine_table_overrides_same_named_keys_for_that_engine_only() {
        let text = file(
            DIAL,
            "[expect.linux]\nmeasured = \"m\"\ndial = \"ECONNREFUSED\"\n\n[expect.linux.tokio]\nmeasured = \"t\"\nwhy = \"w\"\ndial = \"deadline\"\n",
        );
        let s = parse(Path::new("t.toml"), &text, "misc").unwrap();
        let linux = s.expectations_for("linux").unwrap();
        assert_eq!(linux.why("tokio"), Some("w"));
        let std = linux.for_engine("std");
        assert_eq!(std.values[0].1, Expected::Outcome("ECONNREFUSED".into()));
        assert_eq!(std.basis, Basis::Measured("m".into()));
        let tokio = linux.for_engine("tokio");
        assert_eq!(tokio.values.len(), 1);
        assert_eq!(tokio.values[0].1, Expected::Outcome("deadline".into()));
        assert_eq!(tokio.basis, Basis::Measured("t".into()));
    }

    #[test]
    fn an_unknown_engine_names_the_line_and_the_closest_engine() {
        let text = file(
            DIAL,
            "[expect.linux]\nmeasured = \"m\"\n\n[expect.linux.tokyo]\nmeasured = \"t\"\n",
        );
        let e = error(&text);
        assert_eq!(e.line, Some(29), "{e}");
        assert_eq!(e.field.as_deref(), Some("expect.linux.tokyo"));
        assert!(e.message.contains("did you mean tokio"), "{e}");
    }

    #[test]
    fn an_engine_table_is_checked_like_its_os_table() {
        let base = "[expect.linux]\nmeasured = \"m\"\n\n[expect.linux.tokio]\n";
        let e = error(&file(DIAL, &format!("{base}dial = \"ok\"\n")));
        assert!(e.message.contains("measured"), "{e}");
        let e = error(&file(
            DIAL,
            &format!("{base}measured = \"t\"\n\ndail = \"ok\"\n"),
        ));
        assert_eq!(e.line, Some(32), "{e}");
        assert!(e.message.contains("did you mean dial"), "{e}");
        let e = error(&file(
            DIAL,
            &format!("{base}measured = \"t\"\nskip = [\"dial\"]\n"),
        ));
        assert!(e.message.contains("why"), "{e}");
    }

    #[test]
    fn a_when_on_an_unknown_parameter_is_rejected() {
        let text = file(
            DIAL,
            "[expect.linux]\nmeasured = \"m\"\ndial = { value = \"ok\", when = \"nope\" }\n",
        );
        assert!(error(&text).message.contains("names no parameter"));
    }

    #[test]
    fn a_counter_observation_takes_only_a_lower_bound() {
        let obs = "aborts = { counter = \"TcpExt.TCPAbortOnClose\", help = \"h\" }\n";
        let ok = format!("{obs}[expect.linux]\nmeasured = \"m\"\naborts = {{ min = 1 }}\n");
        let s = parse(Path::new("t.toml"), &file(DIAL, &ok), "misc").unwrap();
        assert_eq!(s.observation("aborts").unwrap().take, Take::Counter);
        for bad in [
            "aborts = 1",
            "aborts = { min = 1, max = 3 }",
            "aborts = { max = 3 }",
        ] {
            let text = file(
                DIAL,
                &format!("{obs}[expect.linux]\nmeasured = \"m\"\n{bad}\n"),
            );
            assert!(error(&text).message.contains("lower bound"), "{bad}");
        }
    }

    #[test]
    fn a_counter_name_must_have_a_known_group_and_exist_where_readable() {
        let e = error(&file(
            DIAL,
            "x = { counter = \"ListenOverflows\", help = \"h\" }\n",
        ));
        assert!(e.message.contains("Group.Name"), "{e}");
        if crate::sys::net_counters().is_some() {
            let e = error(&file(
                DIAL,
                "x = { counter = \"TcpExt.ListenOverflow\", help = \"h\" }\n",
            ));
            assert!(
                e.message.contains("did you mean TcpExt.ListenOverflows"),
                "{e}"
            );
        }
    }

    #[test]
    fn an_observation_names_a_step_and_take_or_a_counter() {
        let e = error(&file(DIAL, "x = { step = \"dial\", help = \"h\" }\n"));
        assert!(e.message.contains("needs `step` and `take`"), "{e}");
        let e = error(&file(
            DIAL,
            "x = { step = \"dial\", take = \"outcome\", counter = \"Tcp.OutRsts\", help = \"h\" }\n",
        ));
        assert!(e.message.contains("not both"), "{e}");
    }

    #[test]
    fn set_values_are_checked_against_the_parameter_type() {
        let s = parse(Path::new("t.toml"), &file(DIAL, ""), "misc").unwrap();
        assert_eq!(
            s.resolve_params(&[("n".into(), "64KiB".into())]).unwrap()["n"],
            ParamValue::Int(65536)
        );
        let e = s
            .resolve_params(&[("n".into(), "many".into())])
            .unwrap_err();
        assert!(e.contains("`n` takes an integer"), "{e}");
    }
}
