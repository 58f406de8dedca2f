//! Reports: one exporter per format ([`Text`], [`Json`], [`Markdown`]) behind one trait,
//! [`Exporter`], with a method per view: a run's records, the summary of `--repeat`, the
//! engine view of `--engine all`, the table that ends a run of several scenarios, the
//! record matrix of `tcplab compare` ([`matrix`]) and `tcplab explain`. The command line
//! picks an exporter by `--format` and hands it the data.
//!
//! Repeated values are summarised by [`summary::Summary`] in every view, and whether two
//! summaries differ is its one rule.

mod columns;
mod engines;
mod explain;
mod json;
mod junit;
pub mod ladder;
mod layout;
mod markdown;
pub mod matrix;
mod packets;
pub mod plot;
pub mod summary;
pub mod sweep;
mod text;
pub mod verdicts;

use crate::observe::Value;
use crate::record::Record;
use crate::scenario::Scenario;

use explain::short_tail;
pub use json::Json;
pub use junit::Junit;
pub use ladder::{Html, Svg};
pub use markdown::Markdown;
pub use matrix::Matrix;
pub use sweep::Sweep;
pub use text::Text;

/// What one `tcplab run` produced, as its report needs it.
pub struct Runs<'a> {
    /// The scenarios in the order they ran: the explanations and the help of each
    /// observation.
    pub scenarios: &'a [Scenario],
    /// Every record, in the order the runs were made.
    pub records: &'a [Record],
    /// The OS whose expectations the engine view quotes on why engines differ.
    pub os: &'a str,
    /// `--engine all`: every engine ran each scenario.
    pub engines: bool,
    /// `--repeat N` with N above 1.
    pub repeated: bool,
}

impl Runs<'_> {
    /// The records of one scenario.
    fn of(&self, s: &Scenario) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.scenario.name == s.name)
            .collect()
    }
}

/// Turns the lab's results into one document in one format. A format without a view of
/// its own shows every record instead (JSON and Markdown for `--repeat` and
/// `--engine all`), or nothing (the summary table).
pub trait Exporter {
    /// Every record in full.
    fn records(&self, runs: &Runs) -> String;

    /// The summary of `--repeat N`, one block per scenario.
    fn repeats(&self, runs: &Runs) -> String {
        self.records(runs)
    }

    /// The engine view of `--engine all`, one table per scenario.
    fn engines(&self, runs: &Runs) -> String {
        self.records(runs)
    }

    /// The table that ends a run of several scenarios.
    fn summary(&self, _runs: &Runs) -> String {
        String::new()
    }

    /// The record matrix of `tcplab compare`.
    fn matrix(&self, m: &Matrix) -> String;

    /// A scenario's whole explanation (`tcplab explain`).
    fn explain(&self, s: &Scenario) -> String;

    /// The runs of one scenario over several parameter sets ([`sweep`]): one row per
    /// set. Terminal text unless a format has its own.
    fn sweep(&self, s: &Sweep) -> String {
        sweep::text(s)
    }

    // --- Streaming: a run's report written as its runs finish ---------------------
    // `tcplab run` calls `open` before the first run, `finished` after each run,
    // `part` when the runs of one scenario (with one set of parameters) are all done,
    // and `close` at the end, or when Ctrl-C or `--fail-fast` stopped it early. A format
    // writes its document through whichever of these fit it; `run` is the whole at once.

    /// What opens the report of `planned` runs (JSON: `[` when there are several).
    fn open(&self, _planned: usize) -> String {
        String::new()
    }

    /// Called after each run with its record, `before` records having come before it.
    fn finished(&self, _record: &Record, _before: usize, _planned: usize) -> String {
        String::new()
    }

    /// The report of one finished part: the runs of one scenario, `index` counting the
    /// parts from 0. By default the engine view for `--engine all`, else the summary for
    /// `--repeat`, else every record.
    fn part(&self, runs: &Runs, _index: usize) -> String {
        if runs.engines {
            self.engines(runs)
        } else if runs.repeated {
            self.repeats(runs)
        } else {
            self.records(runs)
        }
    }

    /// What closes the report: the summary table of every run that finished (`runs`)
    /// when there were several parts or the run stopped early, and what did not run.
    fn close(&self, runs: &Runs, parts: usize, ending: &Ending) -> String {
        if parts > 1 || ending.stop.is_some() {
            self.summary(runs)
        } else {
            String::new()
        }
    }

    /// The report of a run at once: its parts one scenario at a time, then the summary
    /// table when several scenarios ran.
    fn run(&self, runs: &Runs) -> String {
        let planned = runs.records.len();
        let mut out = self.open(planned);
        for (i, r) in runs.records.iter().enumerate() {
            out.push_str(&self.finished(r, i, planned));
        }
        let mut parts = 0;
        for s in runs.scenarios {
            let mine: Vec<Record> = runs.of(s).into_iter().cloned().collect();
            if mine.is_empty() {
                continue;
            }
            let part = Runs {
                scenarios: std::slice::from_ref(s),
                records: &mine,
                ..*runs
            };
            out.push_str(&self.part(&part, parts));
            parts += 1;
        }
        out.push_str(&self.close(runs, parts, &Ending::complete(planned)));
        out
    }
}

/// Why a run stopped before every planned run was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Ctrl-C (SIGINT).
    Interrupted,
    /// `--fail-fast`: a run did not pass.
    FailFast,
}

/// How a report ends: how many runs were planned, how many of them were not made, and
/// what stopped the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ending {
    pub planned: usize,
    pub not_run: usize,
    pub stop: Option<Stop>,
}

impl Ending {
    /// Every planned run was made.
    pub fn complete(planned: usize) -> Ending {
        Ending {
            planned,
            not_run: 0,
            stop: None,
        }
    }

    /// `interrupted (Ctrl-C): 12 of 33 planned runs not made`; `None` when complete.
    pub fn describe(&self) -> Option<String> {
        let why = match self.stop? {
            Stop::Interrupted => "interrupted (Ctrl-C)",
            Stop::FailFast => "stopped by --fail-fast after a run that did not pass",
        };
        Some(format!(
            "{why}: {} of {} planned runs not made",
            self.not_run, self.planned
        ))
    }
}
// --- end of streaming ----------------------------------------------------------------

/// Fills `{name}` placeholders with observed values and parameters. A sentence (up to
/// a `.` followed by a space or a line break, or up to a blank line) that names something
/// the run did not observe is left out: a sentence built on an absent figure says
/// nothing true.
pub fn fill(template: &str, record: &Record) -> String {
    let value = |name: &str| {
        record
            .observations
            .get(name)
            .map(|v| v.to_string())
            .or_else(|| record.params.get(name).map(|v| v.to_string()))
    };
    let mut out = String::new();
    for sentence in sentences(template) {
        let names = crate::scenario::placeholders(sentence);
        let Some(values) = names.iter().map(|n| value(n)).collect::<Option<Vec<_>>>() else {
            continue;
        };
        let mut s = sentence.to_owned();
        for (n, v) in names.iter().zip(values) {
            s = s.replace(&format!("{{{n}}}"), &v);
        }
        out.push_str(&s);
    }
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// `text` cut after each `.` followed by whitespace (the whitespace kept with the
/// sentence) and after each blank line; together the pieces are `text`.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'.' if bytes.get(i + 1).is_some_and(|c| c.is_ascii_whitespace()) => Some(i + 2),
            b'\n' if bytes.get(i + 1) == Some(&b'\n') => Some(i + 2),
            _ => None,
        };
        match end {
            Some(e) => {
                out.push(&text[start..e]);
                start = e;
                i = e;
            }
            None => i += 1,
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
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
