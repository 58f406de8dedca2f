//! Named observations, taken from the steps' outcomes, the kernel's counters and the
//! run's packets.

use std::fmt;

use indexmap::IndexMap;

use serde::{Deserialize, Serialize};

use crate::engine::{Run, StepResult};
use crate::event::Outcome;
use crate::packet::Packet;
use crate::scenario::figure::FigureValue;
use crate::scenario::{Scenario, Take};

/// The observations of one run by name, in the order the scenario names them.
pub type Observations = IndexMap<String, Value>;

/// One observed figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Int(i64),
    Ms(f64),
    List(Vec<i64>),
    Outcome(Outcome),
    Text(String),
}

impl Value {
    /// The number, for integers and milliseconds.
    pub fn number(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Ms(m) => Some(*m),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Ms(m) => write!(f, "{m:.1} ms"),
            Value::List(l) => {
                let items: Vec<String> = l.iter().map(|i| i.to_string()).collect();
                write!(f, "[{}]", items.join(", "))
            }
            Value::Outcome(o) => write!(f, "{o}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// Takes every observation the scenario names from the run. An observation whose step
/// never ran (the run stopped first, or a `when` skipped it) is absent.
///
/// A step that ran in several actor instances (concurrent writers) is summed over them:
/// counts and bytes add up, lists are joined in instance order, the first error wins, and
/// the longest time is kept.
pub fn observe(scenario: &Scenario, run: &Run, packets: &[Packet], captured: bool) -> Observations {
    let mut out = Observations::new();
    for def in &scenario.observations {
        if let Some(figure) = &def.packets {
            // Absent where nothing was captured: a count of 0 would be invented.
            let value = figure
                .compute(packets, &run.endpoints)
                .filter(|_| captured)
                .map(|v| match v {
                    FigureValue::Count(n) => Value::Int(n as i64),
                    FigureValue::Text(t) => Value::Text(t),
                    FigureValue::List(l) => Value::List(l),
                });
            if let Some(v) = value {
                out.insert(def.name.clone(), v);
            }
            continue;
        }
        if let Some(name) = &def.counter {
            // Absent where the kernel's counters cannot be read (not Linux): not faked.
            if let Some(delta) = run.counters.as_ref().and_then(|c| c.get(name)) {
                out.insert(def.name.clone(), Value::Int(*delta));
            }
            continue;
        }
        let hits: Vec<&StepResult> = run
            .steps
            .iter()
            .filter(|s| s.id.as_deref() == Some(def.step.as_str()))
            .collect();
        if hits.is_empty() {
            continue;
        }
        let sum = |f: fn(&StepResult) -> i64| Value::Int(hits.iter().map(|h| f(h)).sum());
        let v = match def.take {
            Take::Outcome => Value::Outcome(
                hits.iter()
                    .map(|h| h.outcome.clone())
                    .find(|o| !o.is_ok())
                    .unwrap_or(Outcome::Ok),
            ),
            Take::Bytes => sum(|h| h.bytes),
            Take::Count => sum(|h| h.count),
            Take::Intact => sum(|h| h.intact),
            Take::Interleaved => sum(|h| h.interleaved),
            Take::Lost => sum(|h| h.lost),
            Take::Sizes => Value::List(hits.iter().flat_map(|h| h.sizes.clone()).collect()),
            Take::ElapsedMs => Value::Ms(hits.iter().map(|h| h.elapsed_ms).fold(0.0, f64::max)),
            Take::Value => match hits.iter().find_map(|h| h.value) {
                Some(v) => Value::Int(v),
                None => continue,
            },
            Take::Calls => Value::Text(
                hits.iter()
                    .flat_map(|h| h.calls.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Take::Revents => match hits.iter().find_map(|h| h.revents.clone()) {
                Some(v) => Value::Text(v),
                None => continue,
            },
            // Absent where the system does not report TCP states.
            Take::State => match hits.iter().find_map(|h| h.state.clone()) {
                Some(v) => Value::Text(v),
                None => continue,
            },
            Take::Error => match hits.iter().find_map(|h| h.error.clone()) {
                Some(o) => Value::Outcome(o),
                None => continue,
            },
            Take::Status => match hits.iter().find_map(|h| h.status.clone()) {
                Some(v) => Value::Text(v),
                None => continue,
            },
            Take::Name => match hits.iter().find_map(|h| h.name.clone()) {
                Some(v) => Value::Text(v),
                None => continue,
            },
            // Counter and packet observations were handled above.
            Take::Counter | Take::Packets => continue,
        };
        out.insert(def.name.clone(), v);
    }
    out
}
