//! `--engine all`: one table per scenario, each observation under each engine, with the
//! differences marked and a line on why they differ.

use std::fmt::Write as _;

use super::summary::{any_differ, Seen, Summary};
use super::verdicts::{failures, Paint};
use crate::event::Outcome;
use crate::observe::Value;
use crate::record::Record;
use crate::scenario::Scenario;

/// One cell: the range of numbers (times to a tenth of a millisecond), the distinct
/// other values, or `(not observed)`.
fn cell(s: &Summary) -> String {
    let ms = matches!(s.seen, Seen::Numbers { ms: true, .. });
    let one = |x: f64| {
        if ms {
            format!("{x:.1} ms")
        } else {
            format!("{x}")
        }
    };
    match &s.seen {
        Seen::Numbers { .. } => s.range(one).unwrap_or_default(),
        Seen::Distinct(d) if d.is_empty() => "(not observed)".into(),
        Seen::Distinct(d) => d
            .iter()
            .map(|(v, _)| v.to_string())
            .collect::<Vec<_>>()
            .join(" / "),
    }
}

/// The engine view of one scenario's records (`records` holds the runs of every engine,
/// each record naming its engine).
/// `quiet` (`--quiet`) leaves out the table and the why: the verdicts and failures only.
pub(super) fn engine_view(
    scenario: &Scenario,
    os: &str,
    records: &[&Record],
    quiet: bool,
    paint: Paint,
) -> String {
    let mut engines: Vec<&str> = Vec::new();
    for r in records {
        if !engines.contains(&r.engine.as_str()) {
            engines.push(&r.engine);
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", scenario.name, scenario.title);
    if quiet {
        verdict_lines(&mut out, &engines, records, paint);
        return out;
    }
    let mut rows: Vec<(String, Vec<Summary>)> = Vec::new();
    for def in &scenario.observations {
        let seen = engines
            .iter()
            .map(|e| {
                Summary::of(
                    records
                        .iter()
                        .filter(|r| r.engine == *e)
                        .filter_map(|r| r.observations.get(&def.name)),
                )
            })
            .collect();
        rows.push((def.name.clone(), seen));
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(_, seen)| seen.iter().map(cell).collect())
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
    trim_line_end(&mut out);
    out.push('\n');
    let mut whys = Vec::new();
    for ((name, seen), cells) in rows.iter().zip(&cells) {
        let differs = any_differ(seen);
        let _ = write!(out, "  {} {name:<name_w$}", if differs { "≠" } else { " " });
        for (c, w) in cells.iter().zip(&col_w) {
            let _ = write!(out, " | {c:<w$}");
        }
        trim_line_end(&mut out);
        out.push('\n');
        if differs {
            whys.push((name.clone(), generic_why(seen)));
        }
    }
    out.push('\n');
    verdict_lines(&mut out, &engines, records, paint);
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

/// Drops the spaces that pad the last cell of the line being written.
fn trim_line_end(out: &mut String) {
    let kept = out.trim_end_matches(' ').len();
    out.truncate(kept);
}

/// Each engine's verdict (or how often it held), then why its runs failed: each distinct
/// failing check or problem once, with how many runs had it.
fn verdict_lines(out: &mut String, engines: &[&str], records: &[&Record], paint: Paint) {
    for e in engines {
        let mine: Vec<&Record> = records.iter().copied().filter(|r| r.engine == *e).collect();
        let held = crate::verdict::Held::of(mine.iter().map(|r| &r.verdict));
        let label = if mine.len() == 1 {
            paint.verdict(mine[0].verdict.status, mine[0].verdict.status.label())
        } else if held.unchecked() {
            held.phrase()
        } else {
            paint.held(held.held, held.runs, &format!("{} runs", held.phrase()))
        };
        let _ = writeln!(out, "  {e:<6} {label}");
        failures(out, &mine, "         ", paint);
    }
}

/// A line on why values differ, derived from the kinds of outcome when the scenario does
/// not say.
fn generic_why(seen: &[Summary]) -> String {
    let others = || {
        seen.iter().flat_map(|s| match &s.seen {
            Seen::Distinct(d) => d.as_slice(),
            Seen::Numbers { .. } => &[],
        })
    };
    let outcomes: Vec<&Outcome> = others()
        .filter_map(|(v, _)| match v {
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
    if seen
        .iter()
        .any(|s| matches!(s.seen, Seen::Numbers { ms: true, .. }))
    {
        return "a blocking call waits in the kernel; a non-blocking one returns at once with what fits, or parks until ready or until a tokio timer fires".into();
    }
    let texts: Vec<&str> = others()
        .filter_map(|(v, _)| match v {
            Value::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if texts.iter().any(|t| t.contains("POLL")) && texts.iter().any(|t| !t.contains("POLL")) {
        return "tokio reports its own readiness set (READABLE, READ_CLOSED, ERROR...), not poll(2)'s bits".into();
    }
    "the engines made different calls; each engine's timeline (--engine std, --engine tokio) shows every call".into()
}
