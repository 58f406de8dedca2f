//! Reports: one exporter per format behind one trait.

mod engines;
mod explain;
mod json;
mod markdown;
pub mod matrix;
pub mod summary;
mod text;

use std::collections::BTreeMap;

use crate::observe::Value;
use crate::record::Record;
use crate::scenario::Scenario;

pub use engines::engine_view;
pub use explain::{long_markdown, long_text, short_tail};
pub use json::Json;
pub use markdown::Markdown;
pub use matrix::Matrix;
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
