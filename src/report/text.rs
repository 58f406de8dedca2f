//! The terminal report: each run's timeline, observations, verdict and explanation; the
//! summary of repeats, the engine view and the table that ends a run; the record matrix;
//! a scenario's explanation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::summary::{Seen, Summary};
use super::{as_toml, engines, explain, fill, Exporter, Matrix, Runs};
use crate::event::Event;
use crate::record::Record;
use crate::scenario::{Basis, Scenario};
use crate::verdict::{CheckResult, Status};

/// Timeline lines shown before the middle is cut (the JSON record keeps every event).
const TIMELINE_HEAD: usize = 40;
const TIMELINE_TAIL: usize = 20;

/// Consecutive identical calls folded into one line from this many on.
const FOLD_FROM: usize = 3;

#[derive(Default)]
pub struct Text {
    /// Highlight the matrix's differing rows with terminal colours.
    pub colour: bool,
}

impl Exporter for Text {
    fn records(&self, runs: &Runs) -> String {
        let by_name: BTreeMap<&str, &Scenario> = runs
            .scenarios
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect();
        let mut out = String::new();
        for (i, r) in runs.records.iter().enumerate() {
            if i > 0 {
                out.push_str("\n\n");
            }
            one(&mut out, r, by_name.get(r.scenario.name.as_str()).copied());
        }
        out
    }

    fn repeats(&self, runs: &Runs) -> String {
        let mut out = String::new();
        for s in runs.scenarios {
            out.push_str(&repeats(&s.name, &runs.of(s)));
            out.push('\n');
        }
        out
    }

    fn engines(&self, runs: &Runs) -> String {
        let mut out = String::new();
        for s in runs.scenarios {
            out.push_str(&engines::engine_view(s, runs.os, &runs.of(s)));
            out.push('\n');
        }
        out
    }

    fn summary(&self, runs: &Runs) -> String {
        summary(runs.records)
    }

    fn matrix(&self, m: &Matrix) -> String {
        super::matrix::text(m, self.colour)
    }

    fn explain(&self, s: &Scenario) -> String {
        explain::long_text(s)
    }
}

fn one(out: &mut String, r: &Record, scenario: Option<&Scenario>) {
    let _ = writeln!(out, "{}: {}", r.scenario.name, r.scenario.title);
    let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "  {} | engine {} | {}",
        r.scenario.file,
        r.engine,
        if params.is_empty() {
            "no parameters".to_owned()
        } else {
            params.join(" ")
        }
    );
    let sys: Vec<String> = r
        .env
        .sysctls
        .iter()
        .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
        .collect();
    let _ = writeln!(out, "  {} | {}", r.env.summary(), sys.join(" "));

    let _ = writeln!(out, "\nTimeline (ms since start; one line per socket call)");
    let _ = writeln!(
        out,
        "  {:>9} {:>8}  {:<10} {:>4}  {:<30} {:<10} {:>9} {:>9}  outcome",
        "at", "took", "actor", "step", "call", "socket", "asked", "returned"
    );
    let lines = timeline(&r.events);
    let n = lines.len();
    for (i, l) in lines.iter().enumerate() {
        if n > TIMELINE_HEAD + TIMELINE_TAIL && i == TIMELINE_HEAD {
            let _ = writeln!(
                out,
                "  ... {} more lines (the JSON record, --json, has every event) ...",
                n - TIMELINE_HEAD - TIMELINE_TAIL
            );
        }
        if n <= TIMELINE_HEAD + TIMELINE_TAIL || i < TIMELINE_HEAD || i >= n - TIMELINE_TAIL {
            let _ = writeln!(out, "{l}");
        }
    }

    let _ = writeln!(out, "\nObservations");
    let width = r.observations.keys().map(|k| k.len()).max().unwrap_or(10);
    for (k, v) in &r.observations {
        let help = scenario
            .and_then(|s| s.observation(k))
            .map_or("", |o| o.help.as_str());
        let _ = writeln!(out, "  {k:<width$}  {:<30} {help}", v.to_string());
    }
    if let Some(s) = scenario {
        for o in &s.observations {
            if !r.observations.contains_key(&o.name) {
                let _ = writeln!(
                    out,
                    "  {:<width$}  (not observed: {})",
                    o.name,
                    if o.counter.is_some() {
                        "this system's counters cannot be read"
                    } else {
                        "its step did not complete, or this system does not report it"
                    }
                );
            }
        }
    }

    let v = &r.verdict;
    // The std engine's verdict reads as it always has; another engine's names itself,
    // since its expectations may come from its own table.
    let on = if r.engine == "std" {
        v.os.clone()
    } else {
        format!("{} (engine {})", v.os, r.engine)
    };
    let _ = write!(out, "\nVerdict on {on}: {}", v.label());
    match v.status {
        Status::Pass | Status::Deviation | Status::Incomplete if !v.checks.is_empty() => {
            let held = v
                .checks
                .iter()
                .filter(|c| c.result == CheckResult::Holds)
                .count();
            let apply = v
                .checks
                .iter()
                .filter(|c| c.result != CheckResult::NotApplicable)
                .count();
            let _ = writeln!(out, " ({held} of {apply} expectations hold)");
        }
        _ => out.push('\n'),
    }
    match &v.basis {
        Some(Basis::Measured(m)) => {
            let _ = writeln!(out, "  expectations measured on: {m}");
        }
        Some(Basis::Documented(d)) => {
            let _ = writeln!(out, "  expectations from documentation, not measured: {d}");
        }
        None => {}
    }
    let why = scenario
        .and_then(|s| s.expectations_for(&v.os))
        .and_then(|e| e.why(&r.engine));
    if let Some(w) = why {
        let _ = writeln!(out, "  why {} differs here: {w}", r.engine);
    }
    for c in &v.checks {
        let mark = match c.result {
            CheckResult::Holds => "ok  ",
            CheckResult::Differs => "DIFF",
            CheckResult::NotObserved => "MISS",
            CheckResult::Unevaluable => "??  ",
            CheckResult::NotApplicable => "n/a ",
        };
        let observed = c
            .observed
            .as_ref()
            .map_or("(not observed)".to_owned(), |o| o.to_string());
        let _ = write!(
            out,
            "  {mark} {:<width$}  observed {observed}, expected {}",
            c.observation, c.expected
        );
        match &c.note {
            Some(n) => {
                let _ = writeln!(out, " ({n})");
            }
            None => out.push('\n'),
        }
    }
    for p in &v.problems {
        let _ = writeln!(out, "  {p}");
    }
    if v.status == Status::Deviation && r.engine != "std" {
        let _ = writeln!(
            out,
            "  If the {e} engine legitimately differs here, measure it (tcplab run {n} --engine {e} --repeat 20) and put the differing keys, with a `why`, in [expect.{os}.{e}].",
            e = r.engine,
            n = r.scenario.name,
            os = v.os
        );
    }
    if v.status == Status::NoExpectation {
        let _ = writeln!(
            out,
            "  No expectations for {} in this file yet. After measuring (tcplab run {} --repeat 10), add:",
            v.os, r.scenario.name
        );
        let _ = writeln!(out, "    [expect.{}]", v.os);
        let _ = writeln!(
            out,
            "    measured = \"{}, tcplab run {}, <date>\"",
            r.env.summary(),
            r.scenario.name
        );
        for (k, val) in &r.observations {
            let _ = writeln!(out, "    {k} = {}", as_toml(val));
        }
    }

    // The explanation for this engine, without the sentences on what was not observed.
    let why = scenario.map_or(String::new(), |s| fill(s.explanation_for(&r.engine), r));
    if !why.is_empty() {
        let _ = writeln!(out, "\nWhy");
        for line in why.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(tail) = scenario.and_then(super::short_tail) {
        let _ = writeln!(out);
        for line in tail.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
}

fn timeline(events: &[Event]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let e = &events[i];
        let same = |o: &Event| {
            o.actor == e.actor
                && o.step == e.step
                && o.op == e.op
                && o.sock == e.sock
                && o.requested == e.requested
                && o.returned == e.returned
                && o.outcome == e.outcome
        };
        let run = events[i..].iter().take_while(|o| same(o)).count();
        let (run, call) = if run >= FOLD_FROM {
            (run, format!("{} x{run}", e.op))
        } else {
            (1, e.op.clone())
        };
        let last = &events[i + run - 1];
        let took = last.at_ms + last.elapsed_ms - e.at_ms;
        let mut outcome = e.outcome.to_string();
        if let Some(n) = &e.note {
            outcome.push_str(&format!("  [{n}]"));
        }
        lines.push(format!(
            "  {:>9.3} {:>8.3}  {:<10} {:>4}  {:<30} {:<10} {:>9} {:>9}  {outcome}",
            e.at_ms,
            took,
            e.actor,
            e.step,
            call,
            e.sock.as_deref().unwrap_or(""),
            e.requested.map_or(String::new(), |r| r.to_string()),
            e.returned.map_or(String::new(), |r| r.to_string()),
        ));
        i += run;
    }
    lines
}

/// The summary of `--repeat N`: numeric observations as min/median/max, the others as
/// the distinct values seen, and how often the verdict held.
fn repeats(name: &str, records: &[&Record]) -> String {
    let mut values: BTreeMap<&str, Vec<&crate::observe::Value>> = BTreeMap::new();
    for r in records {
        for (k, v) in &r.observations {
            values.entry(k).or_default().push(v);
        }
    }
    let summaries: Vec<(&str, Summary)> = values
        .into_iter()
        .map(|(k, v)| (k, Summary::of(v)))
        .collect();
    let runs = records.len();
    let held = records
        .iter()
        .filter(|r| r.verdict.status.is_success())
        .count();
    let mut out = String::new();
    let note = records
        .iter()
        .find_map(|r| r.verdict.basis_note())
        .map_or(String::new(), |n| format!(" (expectations {n})"));
    let _ = writeln!(
        out,
        "{name}: {runs} runs, verdict held in {held} of {runs}{note}"
    );
    let width = summaries.iter().map(|(k, _)| k.len()).max().unwrap_or(10);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>12} {:>12} {:>12}",
        "observation", "min", "median", "max"
    );
    let num = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v}")
        } else {
            format!("{v:.3}")
        }
    };
    // Numbers first, then the other values, each in name order.
    for (k, s) in &summaries {
        if let Seen::Numbers {
            min, median, max, ..
        } = s.seen
        {
            let _ = writeln!(
                out,
                "  {k:<width$}  {:>12} {:>12} {:>12}",
                num(min),
                num(median),
                num(max)
            );
        }
    }
    for (k, s) in &summaries {
        if let Seen::Distinct(_) = s.seen {
            let _ = writeln!(out, "  {k:<width$}  {}", s.counted(", "));
        }
    }
    out
}

/// The table that ends a run of several scenarios: one line per scenario (and engine,
/// when several ran), its verdict or how often it held, and the time it took.
fn summary(records: &[Record]) -> String {
    let mut out = String::from("\nSummary\n");
    let mixed = records.iter().any(|r| r.engine != records[0].engine);
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for r in records {
        let key = (r.scenario.name.as_str(), r.engine.as_str());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let label = |name: &str, engine: &str| {
        if mixed {
            format!("{name} ({engine})")
        } else {
            name.to_owned()
        }
    };
    let width = keys
        .iter()
        .map(|(n, e)| label(n, e).chars().count())
        .max()
        .unwrap_or(0);
    for &(name, engine) in &keys {
        let mine: Vec<&Record> = records
            .iter()
            .filter(|r| r.scenario.name == name && r.engine == engine)
            .collect();
        let held = mine
            .iter()
            .filter(|r| r.verdict.status.is_success())
            .count();
        let status = if mine.len() == 1 {
            mine[0].verdict.label()
        } else {
            let note = mine[0]
                .verdict
                .basis_note()
                .map_or(String::new(), |n| format!(" ({n})"));
            format!("held in {held} of {} runs{note}", mine.len())
        };
        let ms: f64 = mine.iter().map(|r| r.elapsed_ms).sum();
        let label = label(name, engine);
        let _ = writeln!(out, "  {label:<width$} {status:<32} {ms:>9.1} ms");
    }
    let failed = records
        .iter()
        .filter(|r| !r.verdict.status.is_success())
        .count();
    let total: f64 = records.iter().map(|r| r.elapsed_ms).sum();
    let _ = writeln!(
        out,
        "  {} runs, {} not passing, {:.1} ms of scenario time",
        records.len(),
        failed,
        total
    );
    out
}
