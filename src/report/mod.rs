//! Reports: one exporter per format behind one trait.

mod compare;
mod explain;
mod json;
mod markdown;
mod text;

use std::collections::BTreeMap;

use crate::observe::Value;
use crate::record::Record;
use crate::scenario::Scenario;

pub use compare::compare;
pub use explain::{long_markdown, long_text, short_tail};
pub use json::Json;
pub use markdown::Markdown;
pub use text::{repeats, Text};

/// Turns records into one document. `scenarios` gives the explanations and the help of
/// each observation, by scenario name.
pub trait Exporter {
    fn export(&self, records: &[Record], scenarios: &BTreeMap<String, Scenario>) -> String;
}

/// Fills `{name}` placeholders with observed values and parameters; an observation the
/// run did not make reads `(not observed)`.
pub fn fill(template: &str, record: &Record) -> String {
    let mut out = template.to_owned();
    for (k, v) in &record.observations {
        out = out.replace(&format!("{{{k}}}"), &v.to_string());
    }
    for (k, v) in &record.params {
        out = out.replace(&format!("{{{k}}}"), &v.to_string());
    }
    for name in crate::scenario::placeholders(&out.clone()) {
        out = out.replace(&format!("{{{name}}}"), "(not observed)");
    }
    out
}

/// A value written as TOML, for the "how to add expectations" hint.
pub fn as_toml(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Ms(m) => format!("{{ min = {}, max = {} }}", m.floor(), m.ceil()),
        Value::List(l) => format!("{l:?}"),
        Value::Outcome(o) => {
            let word = match o {
                crate::event::Outcome::Ok => "ok".to_owned(),
                crate::event::Outcome::Err { deadline: true, .. } => "deadline".to_owned(),
                crate::event::Outcome::Err { errno: Some(e), .. } => e.clone(),
                crate::event::Outcome::Err { kind, .. } => kind.clone(),
            };
            format!("\"{word}\"")
        }
        Value::Text(t) => format!("\"{t}\""),
    }
}

/// Summary statistics of repeated runs of one scenario: per numeric observation
/// min/median/max, per other observation the distinct values seen.
pub struct Repeats {
    pub runs: usize,
    pub held: usize,
    pub numeric: Vec<(String, f64, f64, f64)>,
    pub other: Vec<(String, Vec<(String, usize)>)>,
}

impl Repeats {
    pub fn of(records: &[&Record]) -> Repeats {
        let mut numbers: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut others: BTreeMap<&str, Vec<(String, usize)>> = BTreeMap::new();
        for r in records {
            for (k, v) in &r.observations {
                match v.number() {
                    Some(n) => numbers.entry(k).or_default().push(n),
                    None => {
                        let seen = others.entry(k).or_default();
                        let text = v.to_string();
                        match seen.iter_mut().find(|(t, _)| *t == text) {
                            Some((_, c)) => *c += 1,
                            None => seen.push((text, 1)),
                        }
                    }
                }
            }
        }
        Repeats {
            runs: records.len(),
            held: records
                .iter()
                .filter(|r| r.verdict.status.is_success())
                .count(),
            numeric: numbers
                .into_iter()
                .map(|(k, mut v)| {
                    v.sort_by(f64::total_cmp);
                    let median = if v.len() % 2 == 1 {
                        v[v.len() / 2]
                    } else {
                        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
                    };
                    (k.to_owned(), v[0], median, v[v.len() - 1])
                })
                .collect(),
            other: others.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}
