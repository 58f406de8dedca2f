//! Markdown, ready for NOTES.md: one table row per observation of a run, the record
//! matrix as one table, a scenario's explanation as a section.

use std::fmt::Write as _;

use super::{Ending, Exporter, Matrix, Runs};
use crate::record::Record;
use crate::scenario::Scenario;
use crate::verdict::CheckResult;

pub struct Markdown;

impl Exporter for Markdown {
    fn records(&self, runs: &Runs) -> String {
        let mut out = environment(runs.records);
        out.push_str(&table(runs.records, runs.repeated));
        out
    }

    /// A section per scenario: its heading and table (the first with the environment
    /// above it), written as the scenario's runs finish.
    fn part(&self, runs: &Runs, index: usize) -> String {
        let mut out = if index == 0 {
            environment(runs.records)
        } else {
            "\n".to_owned()
        };
        if let Some(first) = runs.records.first() {
            let _ = writeln!(
                out,
                "### {}: {}\n",
                esc(&first.scenario.name),
                esc(&first.scenario.title)
            );
        }
        out.push_str(&table(runs.records, runs.repeated));
        out
    }

    /// A table of each scenario's verdict, or how often it held.
    fn summary(&self, runs: &Runs) -> String {
        let records = runs.records;
        let mut keys: Vec<(&str, &str)> = Vec::new();
        for r in records {
            let key = (r.scenario.name.as_str(), r.engine.as_str());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let mut out = String::from(
            "\n### Summary\n\n| scenario | engine | verdict | runs | ms |\n|---|---|---|---|---|\n",
        );
        for (name, engine) in keys {
            let mine: Vec<&Record> = records
                .iter()
                .filter(|r| r.scenario.name == name && r.engine == engine)
                .collect();
            let held = mine
                .iter()
                .filter(|r| r.verdict.status.is_success())
                .count();
            let verdict = if mine.len() == 1 {
                mine[0].verdict.label()
            } else {
                format!("held in {held} of {}", mine.len())
            };
            let ms: f64 = mine.iter().map(|r| r.elapsed_ms).sum();
            let _ = writeln!(
                out,
                "| {} | {engine} | {verdict} | {} | {ms:.1} |",
                esc(name),
                mine.len()
            );
        }
        out
    }

    /// The summary table, and then what did not run.
    fn close(&self, runs: &Runs, parts: usize, ending: &Ending) -> String {
        let mut out = if parts > 1 || ending.stop.is_some() {
            self.summary(runs)
        } else {
            String::new()
        };
        if let Some(d) = ending.describe() {
            let _ = writeln!(out, "\n_{}_", esc(&d));
        }
        out
    }

    fn matrix(&self, m: &Matrix) -> String {
        super::matrix::markdown(m)
    }

    fn sweep(&self, s: &super::Sweep) -> String {
        super::sweep::markdown(s)
    }

    fn explain(&self, s: &Scenario) -> String {
        super::explain::long_markdown(s)
    }
}

fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The line that says where the runs were made, from the first record.
fn environment(records: &[Record]) -> String {
    let Some(first) = records.first() else {
        return String::new();
    };
    let sys: Vec<String> = first
        .env
        .sysctls
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "Environment: {}, {} CPUs, engine {}; {}\n\n",
        first.env.summary(),
        first.env.cpus,
        if records.iter().all(|r| r.engine == first.engine) {
            first.engine.as_str()
        } else {
            "as named per scenario"
        },
        sys.join(", ")
    )
}

/// One row per observation of each record: observed, expected, verdict; with a `run`
/// column under `--repeat` (counted per scenario and engine), and the engine beside the
/// scenario when several ran.
fn table(records: &[Record], repeated: bool) -> String {
    let mut out = String::new();
    let mixed = records
        .iter()
        .any(|r| Some(&r.engine) != records.first().map(|f| &f.engine));
    if repeated {
        out.push_str("| scenario | run | observation | observed | expected | verdict |\n");
        out.push_str("|---|---|---|---|---|---|\n");
    } else {
        out.push_str("| scenario | observation | observed | expected | verdict |\n");
        out.push_str("|---|---|---|---|---|\n");
    }
    for (i, r) in records.iter().enumerate() {
        let run = 1 + records[..i]
            .iter()
            .filter(|o| o.scenario.name == r.scenario.name && o.engine == r.engine)
            .count();
        let mut names: Vec<&String> = r.observations.keys().collect();
        for c in &r.verdict.checks {
            if !names.contains(&&c.observation) {
                names.push(&c.observation);
            }
        }
        for name in names {
            let observed = r
                .observations
                .get(name)
                .map_or("(not observed)".to_owned(), |v| v.to_string());
            let check = r.verdict.checks.iter().find(|c| &c.observation == name);
            let (expected, mark) = match check {
                Some(c) => (
                    c.expected.clone(),
                    match c.result {
                        CheckResult::Holds => "holds",
                        CheckResult::Differs => "**differs**",
                        CheckResult::NotObserved => "not observed",
                        CheckResult::Unevaluable => "cannot evaluate",
                        CheckResult::NotApplicable => "n/a",
                    },
                ),
                None => ("".to_owned(), ""),
            };
            // A documented expectation is not a measurement: say so in the cell.
            let mark = match (mark, r.verdict.basis_note()) {
                ("", _) | (_, None) => mark.to_owned(),
                (m, Some(n)) => format!("{m} ({n})"),
            };
            let scenario = if mixed {
                format!("{} ({})", r.scenario.name, r.engine)
            } else {
                r.scenario.name.clone()
            };
            let run = if repeated {
                format!(" {run} |")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| {} |{run} {} | {} | {} | {} |",
                esc(&scenario),
                esc(name),
                esc(&observed),
                esc(&expected),
                mark
            );
        }
        // A run that did not complete says why under its rows.
        for p in &r.verdict.problems {
            let _ = writeln!(
                out,
                "| {} |{} problem | {} | | |",
                esc(&r.scenario.name),
                if repeated {
                    format!(" {run} |")
                } else {
                    String::new()
                },
                esc(p)
            );
        }
    }
    out
}
