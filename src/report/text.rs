//! The terminal report: each run's timeline, observations, verdict and explanation; the
//! summary of repeats, the engine view and the table that ends a run; the record matrix;
//! a scenario's explanation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::summary::{Seen, Summary};
use super::verdicts::{self, check_text, failures, wrap, Paint, COLUMNS};
use super::{as_toml, engines, explain, fill, Ending, Exporter, Matrix, Runs};
use crate::event::Event;
use crate::packet::{Endpoint, Packet};
use crate::record::Record;
use crate::scenario::{Basis, Scenario};
use crate::verdict::{CheckResult, Status};

/// Timeline lines shown before the middle is cut (the JSON record keeps every event).
const TIMELINE_HEAD: usize = 40;
const TIMELINE_TAIL: usize = 20;

/// The width of the summary table's verdict column; a longer verdict (`held in 3 of 5
/// runs (documented, not measured)`) pushes its row's time to the right.
const SUMMARY_STATUS: usize = 46;

/// The widest the timeline's call column gets.
const CALL_COLUMN: usize = 30;

/// Consecutive identical calls folded into one line from this many on.
const FOLD_FROM: usize = 3;

#[derive(Default)]
pub struct Text {
    /// Terminal colours: the verdict words, the failing checks, the matrix's differing
    /// rows.
    pub colour: bool,
    /// `--quiet`: a line per verdict and the failures, no timeline, no explanation.
    pub quiet: bool,
    /// Whether the timeline shows the packets between the calls (`--no-packets`: not).
    pub packets: bool,
}

impl Text {
    fn paint(&self) -> Paint {
        Paint { on: self.colour }
    }
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
            let scenario = by_name.get(r.scenario.name.as_str()).copied();
            if self.quiet {
                quiet_one(&mut out, r, self.paint());
                continue;
            }
            if i > 0 {
                out.push_str("\n\n");
            }
            one(&mut out, r, scenario, self.paint(), self.packets);
        }
        // `one` breaks its own lines (and leaves the TOML it suggests whole).
        out
    }

    fn repeats(&self, runs: &Runs) -> String {
        let mut out = String::new();
        for s in runs.scenarios {
            out.push_str(&repeats(&s.name, &runs.of(s), self.quiet, self.paint()));
            if !self.quiet {
                out.push('\n');
            }
        }
        fit(&out)
    }

    fn engines(&self, runs: &Runs) -> String {
        let mut out = String::new();
        for s in runs.scenarios {
            out.push_str(&engines::engine_view(
                s,
                runs.os,
                &runs.of(s),
                self.quiet,
                self.paint(),
            ));
            if !self.quiet {
                out.push('\n');
            }
        }
        fit(&out)
    }

    /// Single records are set apart by two blank lines, as `records` does.
    fn part(&self, runs: &Runs, index: usize) -> String {
        let body = if runs.engines {
            self.engines(runs)
        } else if runs.repeated {
            self.repeats(runs)
        } else {
            self.records(runs)
        };
        if index > 0 && !runs.engines && !runs.repeated && !self.quiet {
            format!("\n\n{body}")
        } else {
            body
        }
    }

    fn summary(&self, runs: &Runs) -> String {
        fit(&summary(runs.records, self.paint()))
    }

    /// The summary table, and then what did not run.
    fn close(&self, runs: &Runs, parts: usize, ending: &Ending) -> String {
        let mut out = if parts > 1 || ending.stop.is_some() {
            self.summary(runs)
        } else {
            String::new()
        };
        if let Some(d) = ending.describe() {
            if out.is_empty() {
                out.push('\n');
            }
            out.push_str(&fit(&format!("  {}\n", self.paint().failure(&d))));
        }
        out
    }

    fn matrix(&self, m: &Matrix) -> String {
        super::matrix::text(m, self.colour)
    }

    fn explain(&self, s: &Scenario) -> String {
        explain::long_text(s)
    }
}

/// Every line of `text` broken to fit [`COLUMNS`], each continuation indented four
/// spaces more than its line.
fn fit(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let lead = body.len() - body.trim_start_matches(' ').len();
        let pieces = wrap(body, COLUMNS, lead + 4);
        out.push_str(&pieces.join("\n"));
        out.push_str(nl);
    }
    out
}

/// Writes `line` broken to fit [`COLUMNS`], continuations indented by `indent` (or four
/// spaces more than the line when that column is too far right to leave room).
fn put(out: &mut String, line: &str, indent: usize) {
    let lead = line.len() - line.trim_start_matches(' ').len();
    // A continuation needs room for a few words.
    let indent = if indent > COLUMNS - 24 {
        lead + 4
    } else {
        indent
    };
    for piece in wrap(line, COLUMNS, indent) {
        out.push_str(&piece);
        out.push('\n');
    }
}

/// The explanation's paragraphs, each joined into one line to be broken afresh: lines
/// run on into the next unless blank, indented, or the start of a list item (`-`, `*`,
/// `1.`), which keep lines of their own.
fn paragraphs(text: &str) -> Vec<String> {
    let own_line = |l: &str| {
        l.starts_with([' ', '\t', '-', '*', '|'])
            || l.split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push(String::new());
            open = false;
        } else if open && !own_line(line) {
            let last = out.last_mut().expect("an open paragraph");
            last.push(' ');
            last.push_str(line.trim_end());
        } else {
            out.push(line.trim_end().to_owned());
            open = true;
        }
    }
    out
}

/// `--quiet`: a record's verdict in one line, then why it failed.
fn quiet_one(out: &mut String, r: &Record, paint: Paint) {
    let v = &r.verdict;
    let engine = if r.engine == "std" {
        String::new()
    } else {
        format!(" (engine {})", r.engine)
    };
    put(
        out,
        &format!(
            "{}{engine}: {}{}",
            r.scenario.name,
            paint.verdict(v.status, &v.label()),
            held_note(v)
        ),
        4,
    );
    for c in v.checks.iter().filter(|c| verdicts::failing(c)) {
        let line = format!("  {} {}", verdicts::mark(c.result), check_text(c, 0));
        for piece in wrap(&line, COLUMNS, 7) {
            out.push_str(&paint.check(c.result, &piece));
            out.push('\n');
        }
    }
    for p in &v.problems {
        put(out, &format!("  {}", paint.failure(p)), 4);
    }
}

/// ` (3 of 4 expectations hold)` for a verdict with checks, else nothing.
fn held_note(v: &crate::verdict::Verdict) -> String {
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
            format!(" ({held} of {apply} expectations hold)")
        }
        _ => String::new(),
    }
}

fn one(
    out: &mut String,
    r: &Record,
    scenario: Option<&Scenario>,
    paint: Paint,
    show_packets: bool,
) {
    put(
        out,
        &format!("{}: {}", r.scenario.name, r.scenario.title),
        4,
    );
    let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    put(
        out,
        &format!(
            "  {} | engine {} | {}",
            r.scenario.file,
            r.engine,
            if params.is_empty() {
                "no parameters".to_owned()
            } else {
                params.join(" ")
            }
        ),
        4,
    );
    let sys: Vec<String> = r
        .env
        .sysctls
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                k.rsplit('.').next().unwrap_or(k),
                v.replace(' ', ",")
            )
        })
        .collect();
    put(
        out,
        &format!("  {} | {}", r.env.summary(), sys.join(" ")),
        4,
    );

    let _ = writeln!(out, "\nTimeline (ms since start; one line per socket call)");
    let (packets, endpoints) = super::packets::of(r);
    let packets = if show_packets { packets } else { &[] };
    let (header, lines, outcome_at) = timeline(&r.events, packets, endpoints);
    put(out, &header, 4);
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
            put(out, l, outcome_at);
        }
    }

    let _ = writeln!(out, "\nObservations");
    let width = r.observations.keys().map(|k| k.len()).max().unwrap_or(10);
    let value_w = r
        .observations
        .values()
        .map(|v| v.to_string().chars().count())
        .max()
        .unwrap_or(0)
        .min(30);
    for (k, v) in &r.observations {
        let help = scenario
            .and_then(|s| s.observation(k))
            .map_or("", |o| o.help.as_str());
        put(
            out,
            format!("  {k:<width$}  {:<value_w$} {help}", v.to_string()).trim_end(),
            width + value_w + 5,
        );
    }
    if let Some(s) = scenario {
        for o in &s.observations {
            if !r.observations.contains_key(&o.name) {
                put(
                    out,
                    &format!(
                        "  {:<width$}  (not observed: {})",
                        o.name,
                        if o.counter.is_some() {
                            "this system's counters cannot be read"
                        } else {
                            "its step did not complete, or this system does not report it"
                        }
                    ),
                    width + 5,
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
    let _ = writeln!(
        out,
        "\nVerdict on {on}: {}{}",
        paint.verdict(v.status, &v.label()),
        held_note(v)
    );
    match &v.basis {
        Some(Basis::Measured(m)) => {
            put(out, &format!("  expectations measured on: {m}"), 4);
        }
        Some(Basis::Documented(d)) => {
            put(
                out,
                &format!("  expectations from documentation, not measured: {d}"),
                4,
            );
        }
        None => {}
    }
    let why = scenario
        .and_then(|s| s.expectations_for(&v.os))
        .and_then(|e| e.why(&r.engine));
    if let Some(w) = why {
        put(out, &format!("  why {} differs here: {w}", r.engine), 4);
    }
    for c in &v.checks {
        let line = format!("  {} {}", verdicts::mark(c.result), check_text(c, width));
        for piece in wrap(&line, COLUMNS, width + 9) {
            out.push_str(&paint.check(c.result, &piece));
            out.push('\n');
        }
    }
    for p in &v.problems {
        put(out, &format!("  {}", paint.failure(p)), 4);
    }
    // How the commands below name the scenario: a file outside the catalogue by its path.
    let arg = scenario.map_or_else(|| r.scenario.name.clone(), |s| s.command_arg());
    if v.status == Status::Deviation && r.engine != "std" {
        put(
            out,
            &format!(
                "  If the {e} engine legitimately differs here, measure it (tcplab run {n} --engine {e} --repeat 20) and put the differing keys, with a `why`, in [expect.{os}.{e}].",
                e = r.engine,
                n = arg,
                os = v.os
            ),
            4,
        );
    }
    if v.status == Status::NoExpectation {
        put(
            out,
            &format!(
                "  No expectations for {} in this file yet. After measuring (tcplab run {} --repeat 10), add:",
                v.os, arg
            ),
            4,
        );
        // TOML to paste: its lines are not broken.
        let _ = writeln!(out, "    [expect.{}]", v.os);
        let _ = writeln!(
            out,
            "    measured = \"{}, tcplab run {}, <date>\"",
            r.env.summary(),
            arg
        );
        for (k, val) in &r.observations {
            let _ = writeln!(out, "    {k} = {}", as_toml(val));
        }
    }

    // The explanation for this engine, without the sentences on what was not observed.
    let why = scenario.map_or(String::new(), |s| fill(s.explanation_for(&r.engine), r));
    if !why.is_empty() {
        let _ = writeln!(out, "\nWhy");
        for para in paragraphs(&why) {
            put(out, &format!("  {para}"), 2);
        }
    }
    if let Some(tail) = scenario.and_then(super::short_tail) {
        let _ = writeln!(out);
        for line in tail.lines() {
            put(out, &format!("  {line}"), 4);
        }
    }
}

/// The timeline's header and lines, each column as wide as its widest cell, and the
/// column where the outcome starts (where a broken line continues). The packets go
/// between the calls, by time.
fn timeline(
    events: &[Event],
    packets: &[Packet],
    endpoints: &[Endpoint],
) -> (String, Vec<String>, usize) {
    let mut rows: Vec<[String; 9]> = Vec::new();
    let mut starts: Vec<f64> = Vec::new();
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
        starts.push(e.at_ms);
        rows.push([
            format!("{:.3}", e.at_ms),
            format!("{took:.3}"),
            e.actor.clone(),
            e.step.to_string(),
            call,
            e.sock.clone().unwrap_or_default(),
            e.requested.map_or(String::new(), |r| r.to_string()),
            e.returned.map_or(String::new(), |r| r.to_string()),
            outcome,
        ]);
        i += run;
    }
    let names = [
        "at", "took", "actor", "step", "call", "socket", "asked", "returned", "outcome",
    ];
    let mut w: Vec<usize> = (0..names.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([names[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // A long call's description (`look up the connection in the kernel's table`) widens
    // its own row only, not the column.
    w[4] = w[4].min(CALL_COLUMN);
    // Numbers to the right, words to the left.
    let line = |r: &[&str]| {
        format!(
            "  {:>w0$} {:>w1$}  {:<w2$} {:>w3$}  {:<w4$} {:<w5$} {:>w6$} {:>w7$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
            w5 = w[5],
            w6 = w[6],
            w7 = w[7],
        )
        .trim_end()
        .to_owned()
    };
    let outcome_at = 2 + w[..8].iter().sum::<usize>() + 11;
    let header = line(&names);
    let lines = rows
        .iter()
        .zip(starts)
        .map(|(r, at)| (at, line(&r.iter().map(String::as_str).collect::<Vec<_>>())))
        .collect();
    let lines = super::packets::interleave(lines, packets, endpoints, w[0], w[1]);
    (header, lines, outcome_at)
}

/// The summary of `--repeat N`: numeric observations as min/median/max, the others as
/// the distinct values seen, and how often the verdict held.
fn repeats(name: &str, records: &[&Record], quiet: bool, paint: Paint) -> String {
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
    let held = crate::verdict::Held::of(records.iter().map(|r| &r.verdict));
    let verdict = if held.unchecked() {
        held.phrase()
    } else {
        format!("{runs} runs, verdict {}", held.phrase())
    };
    let mut out = String::new();
    let note = records
        .iter()
        .find_map(|r| r.verdict.basis_note())
        .map_or(String::new(), |n| format!(" (expectations {n})"));
    let verdict = if held.unchecked() {
        verdict
    } else {
        paint.held(held.held, held.runs, &verdict)
    };
    let _ = writeln!(out, "{name}: {verdict}{note}");
    failures(&mut out, records, "  ", paint);
    if quiet {
        return out;
    }
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
fn summary(records: &[Record], paint: Paint) -> String {
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
    let rows: Vec<(String, String, f64)> = keys
        .iter()
        .map(|&(name, engine)| {
            let mine: Vec<&Record> = records
                .iter()
                .filter(|r| r.scenario.name == name && r.engine == engine)
                .collect();
            let held = crate::verdict::Held::of(mine.iter().map(|r| &r.verdict));
            let status = if mine.len() == 1 {
                mine[0].verdict.label()
            } else if held.unchecked() {
                held.phrase()
            } else {
                let note = mine[0]
                    .verdict
                    .basis_note()
                    .map_or(String::new(), |n| format!(" ({n})"));
                format!("{} runs{note}", held.phrase())
            };
            let pad = " ".repeat(SUMMARY_STATUS.saturating_sub(status.chars().count()));
            let status = if mine.len() == 1 {
                paint.verdict(mine[0].verdict.status, &status)
            } else if held.unchecked() {
                status
            } else {
                paint.held(held.held, held.runs, &status)
            };
            let ms: f64 = mine.iter().map(|r| r.elapsed_ms).sum();
            (label(name, engine), format!("{status}{pad}"), ms)
        })
        .collect();
    for (label, status, ms) in rows {
        put(
            &mut out,
            &format!("  {label:<width$} {status} {ms:>9.1} ms"),
            width + 3,
        );
    }
    let failed = records
        .iter()
        .filter(|r| !r.verdict.status.is_success())
        .count();
    let total: f64 = records.iter().map(|r| r.elapsed_ms).sum();
    let _ = writeln!(
        out,
        "  {}, {} not passing, {:.1} ms of scenario time",
        verdicts::runs(records.len()),
        failed,
        total
    );
    out
}
