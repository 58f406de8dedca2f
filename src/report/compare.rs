//! `--engine all`: one table per scenario, each observation under each engine, with the
//! differences marked and a line on why they differ.

use std::fmt::Write as _;

use crate::event::Outcome;
use crate::observe::Value;
use crate::record::Record;
use crate::scenario::Scenario;

/// Timings closer than this many milliseconds count as the same...
const SAME_WITHIN_MS: f64 = 1.0;
/// ...or than this fraction of the larger one: time varies from run to run.
const SAME_WITHIN_FRACTION: f64 = 0.1;

/// What one engine observed of one observation over its runs.
#[derive(Debug, Default)]
struct Seen {
    numbers: Vec<f64>,
    ms: bool,
    others: Vec<Value>,
}

impl Seen {
    fn add(&mut self, v: &Value) {
        match v {
            Value::Int(n) => self.numbers.push(*n as f64),
            Value::Ms(m) => {
                self.ms = true;
                self.numbers.push(*m);
            }
            other => {
                if !self.others.contains(other) {
                    self.others.push(other.clone());
                }
            }
        }
    }

    fn range(&self) -> Option<(f64, f64)> {
        let lo = self.numbers.iter().copied().reduce(f64::min)?;
        let hi = self.numbers.iter().copied().reduce(f64::max)?;
        Some((lo, hi))
    }

    fn text(&self) -> String {
        if let Some((lo, hi)) = self.range() {
            let one = |x: f64| {
                if self.ms {
                    format!("{x:.1} ms")
                } else {
                    format!("{x}")
                }
            };
            return if lo == hi {
                one(lo)
            } else {
                format!("{} to {}", one(lo), one(hi))
            };
        }
        if self.others.is_empty() {
            return "(not observed)".into();
        }
        let texts: Vec<String> = self.others.iter().map(|v| v.to_string()).collect();
        texts.join(" / ")
    }

    fn differs_from(&self, other: &Seen) -> bool {
        match (self.range(), other.range()) {
            (Some((a0, a1)), Some((b0, b1))) if self.ms => {
                let slack = SAME_WITHIN_MS.max(SAME_WITHIN_FRACTION * a1.max(b1));
                a0 > b1 + slack || b0 > a1 + slack
            }
            (Some(a), Some(b)) => a != b,
            (None, None) => self.text() != other.text(),
            _ => true,
        }
    }
}

/// The comparison of one scenario's records under several engines (`records` holds the
/// runs of every engine, each record naming its engine).
pub fn compare(scenario: &Scenario, os: &str, records: &[&Record]) -> String {
    let mut engines: Vec<&str> = Vec::new();
    for r in records {
        if !engines.contains(&r.engine.as_str()) {
            engines.push(&r.engine);
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", scenario.name, scenario.title);
    let mut rows: Vec<(String, Vec<Seen>)> = Vec::new();
    for def in &scenario.observations {
        let seen = engines
            .iter()
            .map(|e| {
                let mut s = Seen::default();
                for r in records.iter().filter(|r| r.engine == *e) {
                    if let Some(v) = r.observations.get(&def.name) {
                        s.add(v);
                    }
                }
                s
            })
            .collect();
        rows.push((def.name.clone(), seen));
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(_, seen)| seen.iter().map(Seen::text).collect())
        .collect();
    let name_w = rows
        .iter()
        .map(|(n, _)| n.len())
        .chain([11])
        .max()
        .unwrap_or(11);
    let col_w: Vec<usize> = (0..engines.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].len())
                .chain([engines[i].len()])
                .max()
                .unwrap_or(8)
        })
        .collect();
    let _ = write!(out, "    {:<name_w$}", "observation");
    for (e, w) in engines.iter().zip(&col_w) {
        let _ = write!(out, " | {e:<w$}");
    }
    out.push('\n');
    let mut whys = Vec::new();
    for ((name, seen), cells) in rows.iter().zip(&cells) {
        let differs = seen.windows(2).any(|w| w[0].differs_from(&w[1]));
        let _ = write!(out, "  {} {name:<name_w$}", if differs { "≠" } else { " " });
        for (c, w) in cells.iter().zip(&col_w) {
            let _ = write!(out, " | {c:<w$}");
        }
        out.push('\n');
        if differs {
            whys.push((name.clone(), generic_why(seen)));
        }
    }
    out.push('\n');
    for e in &engines {
        let mine: Vec<&&Record> = records.iter().filter(|r| r.engine == *e).collect();
        let held = mine
            .iter()
            .filter(|r| r.verdict.status.is_success())
            .count();
        let label = if mine.len() == 1 {
            mine[0].verdict.status.label().to_owned()
        } else {
            format!("held in {held} of {} runs", mine.len())
        };
        let _ = writeln!(out, "  {e:<6} {label}");
        for r in &mine {
            for p in &r.verdict.problems {
                let _ = writeln!(out, "         {p}");
            }
        }
    }
    if !whys.is_empty() {
        let exp = scenario.expectations_for(os);
        out.push_str("\n  Why they differ:\n");
        let stated: Vec<(&str, &str)> = engines
            .iter()
            .filter_map(|e| exp.and_then(|x| x.why(e)).map(|w| (*e, w)))
            .collect();
        for (e, w) in &stated {
            let _ = writeln!(out, "    ({e}) {w}");
        }
        if stated.is_empty() {
            for (name, why) in whys {
                let _ = writeln!(out, "    {name}: {why}");
            }
        }
    }
    out
}

/// A line on why values differ, derived from the kinds of outcome when the scenario does
/// not say.
fn generic_why(seen: &[Seen]) -> String {
    let outcomes: Vec<&Outcome> = seen
        .iter()
        .flat_map(|s| s.others.iter())
        .filter_map(|v| match v {
            Value::Outcome(o) => Some(o),
            _ => None,
        })
        .collect();
    let has = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().any(|o| f(o));
    let deadline = |o: &Outcome| matches!(o, Outcome::Err { deadline: true, .. });
    let eagain = |o: &Outcome| o.matches("WouldBlock");
    if has(&deadline) && has(&eagain) {
        return "a timeout surfaces as EAGAIN/WouldBlock from the kernel under std (SO_RCVTIMEO/SO_SNDTIMEO on a blocking socket) but as an elapsed tokio timer under tokio (the kernel ignores those options on a non-blocking socket)".into();
    }
    if has(&deadline) {
        return "one engine's call ended at a deadline of its own (no errno) where the other's got an answer from the kernel".into();
    }
    if !outcomes.is_empty() {
        return "the calls ended differently; each engine's timeline (--engine std, --engine tokio) shows every call".into();
    }
    if seen.iter().any(|s| s.ms) {
        return "a blocking call waits in the kernel; a non-blocking one returns at once with what fits, or parks until ready or until a tokio timer fires".into();
    }
    let texts: Vec<&str> = seen
        .iter()
        .flat_map(|s| s.others.iter())
        .filter_map(|v| match v {
            Value::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if texts.iter().any(|t| t.contains("POLL")) && texts.iter().any(|t| !t.contains("POLL")) {
        return "tokio reports its own readiness set (READABLE, READ_CLOSED, ERROR...), not poll(2)'s bits".into();
    }
    "the engines made different calls; each engine's timeline (--engine std, --engine tokio) shows every call".into()
}
