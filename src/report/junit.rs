//! JUnit XML, for CI systems that show each test case: one `<testsuite>` per topic, one
//! `<testcase>` per scenario (and engine, when several ran), with a `<failure>` holding
//! the DIFF lines of a deviation, an `<error>` for a run that did not complete, and
//! `<skipped>` where this OS has no expectations yet. Under `--repeat` a case fails when
//! any of its runs did, and says in how many and why.
//!
//! The document is written whole when the run ends (or is stopped), not as the runs
//! finish: `<testsuite>` carries the counts of its cases as attributes, ahead of them.
//! For `tcplab compare` each row of the matrix is a case, failing where the environments
//! differ.

use std::fmt::Write as _;

use super::verdicts::distinct_failures;
use super::{Ending, Exporter, Matrix, Runs};
use crate::record::Record;
use crate::scenario::Scenario;
use crate::verdict::Status;

pub struct Junit;

/// How a case ended.
enum Outcome {
    Pass,
    /// A deviation: message, body.
    Failure(String, String),
    /// A run did not complete: message, body.
    Error(String, String),
    /// No expectation for this OS: message.
    Skipped(String),
}

/// One `<testcase>`.
struct Case {
    suite: String,
    name: String,
    seconds: f64,
    outcome: Outcome,
}

impl Exporter for Junit {
    fn records(&self, runs: &Runs) -> String {
        document(runs, None)
    }

    /// The document holds every case; the parts add nothing as they finish.
    fn part(&self, _runs: &Runs, _index: usize) -> String {
        String::new()
    }

    fn close(&self, runs: &Runs, _parts: usize, ending: &Ending) -> String {
        document(runs, ending.describe())
    }

    fn matrix(&self, m: &Matrix) -> String {
        let cases: Vec<Case> = m
            .rows
            .iter()
            .map(|r| {
                let cells: Vec<String> = m
                    .columns
                    .iter()
                    .zip(&r.cells)
                    .map(|(c, v)| {
                        format!(
                            "{}: {}",
                            c.label,
                            v.as_ref().map_or("-".to_owned(), |v| v.text.clone())
                        )
                    })
                    .collect();
                Case {
                    suite: r.scenario.clone(),
                    name: format!("{} {}", r.scenario, r.observation),
                    seconds: 0.0,
                    outcome: if r.differs {
                        Outcome::Failure("the environments differ".into(), cells.join("\n"))
                    } else {
                        Outcome::Pass
                    },
                }
            })
            .collect();
        write_document("tcplab compare", &cases, None)
    }

    /// `tcplab explain` has no JUnit form; the terminal text stands in.
    fn explain(&self, s: &Scenario) -> String {
        super::explain::long_text(s)
    }
}

/// The cases of a run: one per scenario, engine and set of parameters, in the order they
/// first ran.
fn cases(runs: &Runs) -> Vec<Case> {
    type Key<'a> = (&'a str, &'a str, String);
    let mut keys: Vec<Key> = Vec::new();
    for r in runs.records {
        let k = (r.scenario.name.as_str(), r.engine.as_str(), params_of(r));
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let engines_named = runs.records.iter().any(|r| r.engine != "std");
    keys.iter()
        .map(|(name, engine, params)| {
            let mine: Vec<&Record> = runs
                .records
                .iter()
                .filter(|r| {
                    r.scenario.name == *name && r.engine == *engine && params_of(r) == *params
                })
                .collect();
            let several_params = keys
                .iter()
                .filter(|(n, e, _)| n == name && e == engine)
                .count()
                > 1;
            let mut label = (*name).to_owned();
            if engines_named {
                label.push_str(&format!(" ({engine})"));
            }
            if several_params {
                label.push_str(&format!(" [{params}]"));
            }
            Case {
                suite: mine[0].scenario.topic.clone(),
                name: label,
                seconds: mine.iter().map(|r| r.elapsed_ms).sum::<f64>() / 1000.0,
                outcome: outcome(&mine),
            }
        })
        .collect()
}

fn params_of(r: &Record) -> String {
    r.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A case's outcome from its runs: an error when any did not complete, a failure when
/// any deviated, skipped when none had expectations, else a pass.
fn outcome(runs: &[&Record]) -> Outcome {
    let count = |s: Status| runs.iter().filter(|r| r.verdict.status == s).count();
    let held = runs
        .iter()
        .filter(|r| r.verdict.status.is_success())
        .count();
    let body = || {
        distinct_failures(runs)
            .into_iter()
            .map(|(line, n)| {
                if runs.len() > 1 {
                    format!("{line} ({n} of {} runs)", runs.len())
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let message = |label: &str| {
        if runs.len() == 1 {
            let v = &runs[0].verdict;
            format!(
                "{label} on {} (engine {}): {} of {} expectations hold",
                v.os,
                runs[0].engine,
                v.checks
                    .iter()
                    .filter(|c| c.result == crate::verdict::CheckResult::Holds)
                    .count(),
                v.checks
                    .iter()
                    .filter(|c| c.result != crate::verdict::CheckResult::NotApplicable)
                    .count()
            )
        } else {
            format!("{label}: verdict held in {held} of {} runs", runs.len())
        }
    };
    if count(Status::Incomplete) > 0 {
        Outcome::Error(message("INCOMPLETE"), body())
    } else if count(Status::Deviation) > 0 {
        Outcome::Failure(message("DEVIATION"), body())
    } else if count(Status::NoExpectation) == runs.len() {
        Outcome::Skipped(format!(
            "no expectations for {} in this scenario yet",
            runs[0].verdict.os
        ))
    } else {
        Outcome::Pass
    }
}

fn document(runs: &Runs, stopped: Option<String>) -> String {
    write_document("tcplab", &cases(runs), stopped)
}

/// The XML: the cases grouped into one `<testsuite>` per suite, in the order first seen.
fn write_document(name: &str, cases: &[Case], stopped: Option<String>) -> String {
    let mut suites: Vec<&str> = Vec::new();
    for c in cases {
        if !suites.contains(&c.suite.as_str()) {
            suites.push(&c.suite);
        }
    }
    let counts = |cs: &[&Case]| {
        let n = |f: fn(&Outcome) -> bool| cs.iter().filter(|c| f(&c.outcome)).count();
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\"",
            cs.len(),
            n(|o| matches!(o, Outcome::Failure(..))),
            n(|o| matches!(o, Outcome::Error(..))),
            n(|o| matches!(o, Outcome::Skipped(..))),
            cs.iter().map(|c| c.seconds).sum::<f64>()
        )
    };
    let all: Vec<&Case> = cases.iter().collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"{}\" {}>", esc(name), counts(&all));
    if let Some(why) = stopped {
        let _ = writeln!(out, "  <!-- {} -->", comment(&why));
    }
    for suite in suites {
        let mine: Vec<&Case> = cases.iter().filter(|c| c.suite == suite).collect();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" {}>",
            esc(suite),
            counts(&mine)
        );
        for c in mine {
            let _ = write!(
                out,
                "    <testcase classname=\"tcplab.{}\" name=\"{}\" time=\"{:.3}\"",
                esc(&c.suite),
                esc(&c.name),
                c.seconds
            );
            match &c.outcome {
                Outcome::Pass => out.push_str("/>\n"),
                Outcome::Skipped(m) => {
                    let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>", esc(m));
                    out.push_str("    </testcase>\n");
                }
                Outcome::Failure(m, body) | Outcome::Error(m, body) => {
                    let (tag, kind) = match &c.outcome {
                        Outcome::Failure(..) => ("failure", "deviation"),
                        _ => ("error", "incomplete"),
                    };
                    let _ = writeln!(
                        out,
                        ">\n      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>",
                        esc(m),
                        esc(body)
                    );
                    out.push_str("    </testcase>\n");
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text made safe for XML 1.0 content and attribute values: the five special characters
/// as entities, characters XML cannot hold (most control characters) as U+FFFD.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // In attributes a raw newline would be read back as a space.
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text for an XML comment, which may not hold `--`.
fn comment(s: &str) -> String {
    esc(s).replace("--", "- -")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_and_control_characters_are_escaped() {
        assert_eq!(
            esc("a<b>&\"c'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}&#10;"
        );
    }

    #[test]
    fn a_comment_never_holds_two_dashes() {
        assert!(!comment("stopped by --fail-fast").contains("--"));
    }
}
