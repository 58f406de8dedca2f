//! The verdict: observations against the expectations for this OS.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::observe::{Observations, Value};
use crate::scenario::{lookup, Basis, Expected, Expr, Lookup, ParamValue, Scenario};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every expectation held.
    Pass,
    /// At least one observation differs from what is expected on this OS.
    Deviation,
    /// The scenario states no expectations for this OS yet.
    NoExpectation,
    /// The run did not complete (watchdog, engine error); what was observed is shown.
    Incomplete,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Deviation => "DEVIATION",
            Status::NoExpectation => "NO EXPECTATION FOR THIS OS YET",
            Status::Incomplete => "INCOMPLETE",
        }
    }

    /// Whether the run counts as a success for the exit status.
    pub fn is_success(self) -> bool {
        matches!(self, Status::Pass | Status::NoExpectation)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckResult {
    Holds,
    Differs,
    /// The step it comes from never ran.
    NotObserved,
    /// The expectation names something this machine does not report.
    Unevaluable,
    /// The expectation applies only under other parameters (`when`).
    NotApplicable,
}

/// One observation against its expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub observation: String,
    /// As written, with expressions evaluated: `min(backlog, somaxconn) + 1 (= 5)`.
    pub expected: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub observed: Option<Value>,
    pub result: CheckResult,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: Status,
    /// The OS whose expectations were used.
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub basis: Option<Basis>,
    pub checks: Vec<Check>,
    /// Why the run is incomplete, when it is.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub problems: Vec<String>,
}

impl Verdict {
    /// `documented, not measured` when the expectations come from documentation; reports
    /// print it beside the status so a documented PASS is never read as a measured one.
    pub fn basis_note(&self) -> Option<&'static str> {
        match self.basis {
            Some(Basis::Documented(_)) => Some("documented, not measured"),
            _ => None,
        }
    }

    /// The status with the basis note: `PASS (documented, not measured)`.
    pub fn label(&self) -> String {
        match self.basis_note() {
            Some(n) => format!("{} ({n})", self.status.label()),
            None => self.status.label().to_owned(),
        }
    }

    pub fn deviations(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| !matches!(c.result, CheckResult::Holds | CheckResult::NotApplicable))
    }
}

/// How the verdicts of several runs of one scenario came out: how many passed, and
/// whether any run had expectations to check at all. A run without expectations for its
/// OS counts as a success for the exit status, but it did not "hold" anything: reports
/// say `no expectation for this OS in N runs` for those, never `held in N of N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub runs: usize,
    /// Runs whose expectations all held.
    pub held: usize,
    /// Runs that had expectations for their OS.
    pub checked: usize,
    /// Runs that did not complete.
    pub incomplete: usize,
}

impl Held {
    pub fn of<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> Held {
        let mut h = Held {
            runs: 0,
            held: 0,
            checked: 0,
            incomplete: 0,
        };
        for v in verdicts {
            h.runs += 1;
            h.held += usize::from(v.status == Status::Pass);
            h.checked += usize::from(v.basis.is_some());
            h.incomplete += usize::from(v.status == Status::Incomplete);
        }
        h
    }

    /// Whether no run had expectations to check.
    pub fn unchecked(&self) -> bool {
        self.checked == 0
    }

    /// `held in 3 of 5`, or `no expectation for this OS in 5 runs` (with how many did
    /// not complete).
    pub fn phrase(&self) -> String {
        if !self.unchecked() {
            return format!("held in {} of {}", self.held, self.runs);
        }
        let mut out = format!("no expectation for this OS in {} runs", self.runs);
        if self.incomplete > 0 {
            out.push_str(&format!(", {} incomplete", self.incomplete));
        }
        out
    }
}

/// Judges `observed` against the scenario's expectations for `os` under `engine` (the
/// OS's expectations with the engine's table over them). `problems` (from the engine:
/// watchdog, failures) make the verdict incomplete whatever the checks say.
pub fn judge(
    scenario: &Scenario,
    os: &str,
    engine: &str,
    params: &BTreeMap<String, ParamValue>,
    facts: &BTreeMap<String, i64>,
    observed: &Observations,
    problems: Vec<String>,
) -> Verdict {
    // The engine's table over the OS's, then the kernel ranges that hold this run's kernel.
    let kernel = facts.get(crate::env::KERNEL_VERSION_FACT).copied();
    let Some(exp) = scenario
        .expectations_for(os)
        .map(|e| e.for_engine(engine).for_kernel(kernel))
    else {
        return Verdict {
            status: if problems.is_empty() {
                Status::NoExpectation
            } else {
                Status::Incomplete
            },
            os: os.to_owned(),
            basis: None,
            checks: Vec::new(),
            problems,
        };
    };
    // Names are parameters, facts, or numeric observations of this run.
    let eval = |e: &Expr| {
        e.eval(&|n| match lookup(params, facts, None, n) {
            Lookup::Unknown => match observed.get(n) {
                Some(Value::Int(v)) => Lookup::Value(*v),
                Some(Value::Ms(v)) => Lookup::Value(v.round() as i64),
                _ => Lookup::Unknown,
            },
            found => found,
        })
    };
    let mut checks = Vec::new();
    for (name, expected) in &exp.values {
        let text = describe(expected, &eval);
        let observed_value = observed.get(name).cloned();
        let applies = match expected {
            Expected::When(p, _) => match params.get(p) {
                Some(ParamValue::Bool(b)) => *b,
                Some(ParamValue::Int(_)) => true,
                // A fact (`clean_room`): in force when it is not 0.
                None => facts.get(p).is_some_and(|v| *v != 0),
                _ => false,
            },
            _ => true,
        };
        let (result, note) = match &observed_value {
            _ if !applies => (CheckResult::NotApplicable, None),
            None => (
                CheckResult::NotObserved,
                Some(
                    if scenario
                        .observation(name)
                        .is_some_and(|o| o.counter.is_some())
                    {
                        "the kernel's counters cannot be read on this machine"
                    } else {
                        "its step did not complete, or this system does not report it"
                    }
                    .to_owned(),
                ),
            ),
            Some(v) => match holds(expected, v, &eval) {
                Ok(true) => (CheckResult::Holds, None),
                Ok(false) => (CheckResult::Differs, None),
                Err(why) => (CheckResult::Unevaluable, Some(why)),
            },
        };
        checks.push(Check {
            observation: name.clone(),
            expected: text,
            observed: observed_value,
            result,
            note,
        });
    }
    let status = if !problems.is_empty() {
        Status::Incomplete
    } else if checks
        .iter()
        .all(|c| matches!(c.result, CheckResult::Holds | CheckResult::NotApplicable))
    {
        Status::Pass
    } else {
        Status::Deviation
    };
    Verdict {
        status,
        os: os.to_owned(),
        basis: Some(exp.basis.clone()),
        checks,
        problems,
    }
}

type Eval<'a> = dyn Fn(&Expr) -> Result<i64, crate::scenario::ExprError> + 'a;

fn describe(e: &Expected, eval: &Eval<'_>) -> String {
    let one = |x: &Expr| match (x, eval(x)) {
        (Expr::Num(_), _) => x.to_string(),
        (_, Ok(v)) => format!("{x} (= {v})"),
        (_, Err(_)) => x.to_string(),
    };
    match e {
        Expected::Value(x) => one(x),
        Expected::Range { min, max } => match (min, max) {
            (Some(a), Some(b)) => format!("{} ..= {}", one(a), one(b)),
            (Some(a), None) => format!(">= {}", one(a)),
            (None, Some(b)) => format!("<= {}", one(b)),
            (None, None) => "anything".into(),
        },
        Expected::AnyOf(alts) => {
            let alts: Vec<String> = alts.iter().map(|a| describe(a, eval)).collect();
            format!("one of {}", alts.join(" | "))
        }
        Expected::When(p, inner) => format!("{} when {p}", describe(inner, eval)),
        other => other.to_string(),
    }
}

fn holds(e: &Expected, v: &Value, eval: &Eval<'_>) -> Result<bool, String> {
    let num = |x: &Expr| {
        eval(x)
            .map(|n| n as f64)
            .map_err(|err| format!("`{x}`: {err}"))
    };
    Ok(match (e, v) {
        (Expected::When(_, inner), v) => return holds(inner, v, eval),
        (Expected::AnyOf(alts), v) => {
            let mut last_err = None;
            for a in alts {
                match holds(a, v, eval) {
                    Ok(true) => return Ok(true),
                    Ok(false) => {}
                    Err(why) => last_err = Some(why),
                }
            }
            match last_err {
                Some(why) => return Err(why),
                None => false,
            }
        }
        (Expected::Value(x), v) => match v.number() {
            Some(n) => n == num(x)?,
            None => return Err(format!("observed {v} is not a number")),
        },
        (Expected::Range { min, max }, v) => {
            let Some(n) = v.number() else {
                return Err(format!("observed {v} is not a number"));
            };
            let lo = min.as_ref().map(num).transpose()?;
            let hi = max.as_ref().map(num).transpose()?;
            lo.is_none_or(|lo| n >= lo) && hi.is_none_or(|hi| n <= hi)
        }
        (Expected::List(l), Value::List(o)) => l == o,
        (Expected::Outcome(word), Value::Outcome(o)) => o.matches(word),
        (Expected::Text(t), Value::Text(o)) => t == o,
        (e, v) => return Err(format!("cannot compare {v} with {e}")),
    })
}
