//! JSON: one record as an object, several as an array, the matrix as one object; pretty,
//! with a trailing newline.
//!
//! A run writes its array as the runs finish: `[`, then each record as it comes (after a
//! `,` from the second on), then `]` at the end, or when Ctrl-C or `--fail-fast` stopped
//! it; the text is the same as the whole array pretty-printed at once.

use serde::Serialize;

use super::{Ending, Exporter, Matrix, Runs};
use crate::record::Record;
use crate::scenario::Scenario;

pub struct Json;

impl Exporter for Json {
    fn records(&self, runs: &Runs) -> String {
        match runs.records {
            [one] => pretty(one),
            many => pretty(&many),
        }
    }

    fn open(&self, planned: usize) -> String {
        if planned == 1 {
            String::new()
        } else {
            "[".into()
        }
    }

    fn finished(&self, record: &Record, before: usize, planned: usize) -> String {
        if planned == 1 {
            return pretty(record);
        }
        // An element of a pretty array: its lines two spaces in (JSON strings hold no
        // raw newline, so every line break is the printer's).
        let mut out = String::from(if before == 0 { "\n" } else { ",\n" });
        let text = pretty(record);
        for (i, line) in text.trim_end().lines().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str("  ");
            out.push_str(line);
        }
        out
    }

    /// The records went out as they finished.
    fn part(&self, _runs: &Runs, _index: usize) -> String {
        String::new()
    }

    fn close(&self, runs: &Runs, _parts: usize, ending: &Ending) -> String {
        match (ending.planned, runs.records.len()) {
            (1, _) => String::new(),
            (_, 0) => "]\n".into(),
            _ => "\n]\n".into(),
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
