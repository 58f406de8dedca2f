//! JSON: one record as an object, several as an array, the matrix as one object; pretty,
//! with a trailing newline.

use serde::Serialize;

use super::{Exporter, Matrix, Runs};
use crate::scenario::Scenario;

pub struct Json;

impl Exporter for Json {
    fn records(&self, runs: &Runs) -> String {
        match runs.records {
            [one] => pretty(one),
            many => pretty(&many),
        }
    }

    fn matrix(&self, m: &Matrix) -> String {
        pretty(m)
    }

    fn sweep(&self, s: &super::Sweep) -> String {
        pretty(s)
    }

    /// `tcplab explain` has no JSON form (it offers text and `--markdown`); the terminal
    /// text stands in.
    fn explain(&self, s: &Scenario) -> String {
        super::explain::long_text(s)
    }
}

fn pretty(v: &impl Serialize) -> String {
    // Serialising plain data with string keys cannot fail.
    let mut text =
        serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
