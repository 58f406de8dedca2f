//! Markdown, ready for NOTES.md: one table row per observation of a run, the record
//! matrix as one table, a scenario's explanation as a section.

use super::{Exporter, Matrix, Runs};
use crate::scenario::Scenario;
use crate::verdict::CheckResult;

pub struct Markdown;

impl Exporter for Markdown {
    fn records(&self, runs: &Runs) -> String {
        let records = runs.records;
        let mut out = String::new();
        if let Some(first) = records.first() {
            let sys: Vec<String> = first
                .env
                .sysctls
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&format!(
                "Environment: {}, {} CPUs, engine {}; {}\n\n",
                first.env.summary(),
                first.env.cpus,
                if records.iter().all(|r| r.engine == first.engine) {
                    first.engine.as_str()
                } else {
                    "as named per scenario"
                },
                sys.join(", ")
            ));
        }
        // Records of several engines (`--engine all`) name theirs beside the scenario.
        let mixed = records
            .iter()
            .any(|r| Some(&r.engine) != records.first().map(|f| &f.engine));
        out.push_str("| scenario | observation | observed | expected | verdict |\n");
        out.push_str("|---|---|---|---|---|\n");
        for r in records {
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
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    if mixed {
                        format!("{} ({})", r.scenario.name, r.engine)
                    } else {
                        r.scenario.name.clone()
                    },
                    name,
                    observed.replace('|', "\\|"),
                    expected.replace('|', "\\|"),
                    mark
                ));
            }
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
