//! The record matrix behind `tcplab compare`: one row per scenario observation and
//! parameter set, one column per environment.
//!
//! A column is one environment: OS, version, kernel, architecture and the sysctls read,
//! plus the engine when it is not `std`, the network-namespace settings when there were
//! any, and the source when the record is published rather than measured. Several records
//! of one scenario with the same parameters in one column (`--repeat`, or several files
//! from the same machine) are summarised ([`Summary`]), never reduced to one picked
//! value: numbers as their range, anything else as every distinct value with how often it
//! was seen. A row differs by [`Summary`]'s one rule, the one the `--engine all` view
//! uses.
//!
//! Records never fold together what ran differently: each parameter set has rows of its
//! own (labelled with the parameters that vary), and records of a scenario file whose
//! text differs (a modified copy that kept the name) are a scenario of their own,
//! `name@sha`. The records of one scenario from one environment that differ only in
//! their parameters are a sweep ([`super::sweep`]) and are shown as one.

use std::fmt::Write as _;

use serde::Serialize;

use super::columns::{cell, description, label, param_groups, params_text, Cell, ColumnKey};
use super::layout::{indented, text_table, ENV_CELL, NAME_CELL, TEXT_WIDTH};
use super::summary::any_differ;
use super::sweep::Sweep;
use crate::observe::Value;
use crate::record::{Entry, EntryEnv};

/// One environment.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// Short, unique: `linux 6.18.44-fc-v669`, `macos Darwin, go1.5.1 (published)`.
    pub label: String,
    /// Everything known about the environment, for the legend.
    pub description: String,
    pub env: EntryEnv,
    pub engine: String,
    /// The source, for published figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// How many records fell in this column.
    pub records: usize,
}

/// One scenario observation under one parameter set.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The scenario's name; `name@sha` (the first 8 hex digits of its file's SHA-256)
    /// when records of that name come from files whose text differs.
    pub scenario: String,
    /// The parameters that vary between this scenario's records, as this row's records
    /// set them (`backlog=4`); empty when every record ran with the same ones.
    pub params: String,
    pub observation: String,
    /// True when the columns that have a value do not all show the same.
    pub differs: bool,
    /// One per column; `None` where the column has no such record or observation.
    pub cells: Vec<Option<Cell>>,
}

/// A version of a scenario file, when records of one name come from files whose text
/// differs.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// `name@sha`, as the rows name it.
    pub scenario: String,
    pub file: String,
    pub sha256: String,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    /// Scenarios whose records come from one environment and differ only in their
    /// parameters, shown as sweeps instead of rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sweeps: Vec<Sweep>,
    /// The file versions behind `name@sha` scenarios.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<Version>,
}

impl Matrix {
    /// Builds the matrix. Columns come in the order their first record appears; scenarios
    /// in the catalogue's order (by file path), observations in the order first seen,
    /// parameter sets in the order of their values.
    pub fn from_entries(entries: &[Entry]) -> Matrix {
        build(entries)
    }

    /// Keeps only the rows where the environments differ, and of each sweep the
    /// observations that change with the parameters (`compare --differs`).
    pub fn retain_differing(&mut self) {
        self.rows.retain(|r| r.differs);
        for s in &mut self.sweeps {
            s.retain_varying();
        }
        self.sweeps.retain(|s| !s.observations.is_empty());
    }
}

/// One scenario as the records name it: its name, or `name@sha` when files of that name
/// differ, with the records of it.
struct Version_<'a> {
    label: String,
    topic: &'a str,
    file: &'a str,
    sha: Option<&'a str>,
    entries: Vec<usize>,
}

/// The scenarios of `entries`, a modified copy that kept the name apart from the
/// original. A record that does not say its file's SHA-256 (made before the lab kept
/// it, or published) goes with the first version of its name.
fn versions(entries: &[Entry]) -> Vec<Version_<'_>> {
    let mut out: Vec<Version_> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let name = e.scenario.name.as_str();
        let sha = e.scenario.sha256.as_deref();
        let same = |v: &Version_| {
            entries[v.entries[0]].scenario.name == name
                && (sha.is_none() || v.sha.is_none() || v.sha == sha)
        };
        match out.iter_mut().find(|v| same(v)) {
            Some(v) => {
                v.entries.push(i);
                if v.sha.is_none() && sha.is_some() {
                    v.sha = sha;
                    v.file = &e.scenario.file;
                }
            }
            None => out.push(Version_ {
                label: name.to_owned(),
                topic: &e.scenario.topic,
                file: &e.scenario.file,
                sha,
                entries: vec![i],
            }),
        }
    }
    let labels: Vec<String> = out
        .iter()
        .map(|v| {
            let name = &entries[v.entries[0]].scenario.name;
            let several = out
                .iter()
                .filter(|w| entries[w.entries[0]].scenario.name == *name)
                .count()
                > 1;
            match v.sha {
                Some(sha) if several => format!("{name}@{}", &sha[..sha.len().min(8)]),
                _ => name.clone(),
            }
        })
        .collect();
    for (v, l) in out.iter_mut().zip(labels) {
        v.label = l;
    }
    out
}

fn build(entries: &[Entry]) -> Matrix {
    let mut keys: Vec<ColumnKey> = Vec::new();
    let mut column_of = Vec::with_capacity(entries.len());
    for e in entries {
        let k = ColumnKey::of(e);
        let i = keys.iter().position(|x| *x == k).unwrap_or_else(|| {
            keys.push(k);
            keys.len() - 1
        });
        column_of.push(i);
    }
    let mut columns: Vec<Column> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let first = &entries[column_of.iter().position(|&c| c == i).unwrap_or(0)];
            Column {
                label: label(k),
                description: description(k),
                env: first.env.clone(),
                engine: k.engine.clone(),
                published: k.published.clone(),
                records: column_of.iter().filter(|&&c| c == i).count(),
            }
        })
        .collect();
    // Two environments that print alike (they differ in a sysctl): number them.
    for i in 0..columns.len() {
        let same: Vec<usize> = (0..columns.len())
            .filter(|&j| columns[j].label == columns[i].label)
            .collect();
        if same.len() > 1 {
            for (n, j) in same.into_iter().enumerate() {
                columns[j].label = format!("{} #{}", columns[j].label, n + 1);
            }
        }
    }

    // Scenarios in the catalogue's order (topic folder, then file name), whether the
    // records name their files relative to the source tree or absolutely.
    let scenarios = versions(entries);
    let file_name = |f: &str| {
        std::path::Path::new(f)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("")
            .to_owned()
    };
    // The versions of one name stay together, in the order their records came.
    let place = |v: &Version_| {
        let first = scenarios
            .iter()
            .find(|w| entries[w.entries[0]].scenario.name == entries[v.entries[0]].scenario.name)
            .unwrap_or(v);
        (
            first.topic.to_owned(),
            file_name(first.file),
            first.label.clone(),
        )
    };
    let mut order: Vec<(usize, _)> = scenarios.iter().map(place).enumerate().collect();
    order.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut slots: Vec<Option<Version_>> = scenarios.into_iter().map(Some).collect();
    let scenarios: Vec<Version_> = order
        .into_iter()
        .filter_map(|(i, _)| slots[i].take())
        .collect();
    let versions: Vec<Version> = scenarios
        .iter()
        .filter(|v| v.label.contains('@'))
        .map(|v| Version {
            scenario: v.label.clone(),
            file: v.file.to_owned(),
            sha256: v.sha.unwrap_or_default().to_owned(),
        })
        .collect();

    let mut rows = Vec::new();
    let mut sweeps = Vec::new();
    for v in &scenarios {
        let mine: Vec<&Entry> = v.entries.iter().map(|&i| &entries[i]).collect();
        let cols: Vec<usize> = v.entries.iter().map(|&i| column_of[i]).collect();
        let (groups, varied) = param_groups(&mine);
        if groups.len() > 1 && cols.iter().all(|&c| c == cols[0]) {
            let c = &columns[cols[0]];
            sweeps.push(Sweep::build(
                &v.label,
                &c.label,
                &c.description,
                &mine,
                &groups,
                &varied,
            ));
            continue;
        }
        let mut names: Vec<&str> = Vec::new();
        for e in &mine {
            for k in e.observations.keys() {
                if !names.contains(&k.as_str()) {
                    names.push(k);
                }
            }
        }
        for obs in names {
            for g in &groups {
                let mut summaries = Vec::new();
                let cells: Vec<Option<Cell>> = (0..columns.len())
                    .map(|c| {
                        let here: Vec<usize> = g
                            .members
                            .iter()
                            .copied()
                            .filter(|&i| cols[i] == c)
                            .collect();
                        let values: Vec<Value> = here
                            .iter()
                            .filter_map(|&i| mine[i].observations.get(obs).cloned())
                            .collect();
                        let reported = here
                            .iter()
                            .find_map(|&i| mine[i].published.as_ref()?.reported.get(obs).cloned());
                        let (cell, summary) = cell(values, reported)?;
                        summaries.push(summary);
                        Some(cell)
                    })
                    .collect();
                if cells.iter().all(Option::is_none) {
                    continue;
                }
                rows.push(Row {
                    scenario: v.label.clone(),
                    params: params_text(g.params, &varied),
                    observation: obs.to_owned(),
                    // Columns without a value (`-`) have nothing to differ with.
                    differs: any_differ(&summaries),
                    cells,
                });
            }
        }
    }
    Matrix {
        columns,
        rows,
        sweeps,
        versions,
    }
}

/// Plain text, at most [`TEXT_WIDTH`] wide: a marker column (`*` where the columns
/// differ), scenario, the parameters that vary (when any do), observation, then one
/// numbered column per environment, described in the legend below; then the sweeps.
/// `colour` highlights the differing rows' cells with terminal colours.
pub(super) fn text(m: &Matrix, colour: bool) -> String {
    let mut out = String::new();
    if !m.rows.is_empty() {
        let params = m.rows.iter().any(|r| !r.params.is_empty());
        let mut header = vec!["scenario".to_owned()];
        if params {
            header.push("parameters".to_owned());
        }
        header.push("observation".to_owned());
        let first_env = header.len();
        header.extend((1..=m.columns.len()).map(|i| format!("[{i}]")));
        let body: Vec<Vec<String>> = m
            .rows
            .iter()
            .map(|r| {
                let mut line = vec![r.scenario.clone()];
                if params {
                    line.push(r.params.clone());
                }
                line.push(r.observation.clone());
                line.extend(
                    r.cells
                        .iter()
                        .map(|c| c.as_ref().map_or("-".to_owned(), |c| c.text.clone())),
                );
                line
            })
            .collect();
        let marks: Vec<bool> = m.rows.iter().map(|r| r.differs).collect();
        // As many environments side by side as fit; the rest in further panels below,
        // each repeating the row names.
        let natural = |i: usize| {
            body.iter()
                .map(|l| l[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let fixed: usize = (0..first_env).map(|i| natural(i).min(NAME_CELL) + 2).sum();
        let room = TEXT_WIDTH.saturating_sub(2 + fixed);
        let mut panels: Vec<Vec<usize>> = vec![Vec::new()];
        let mut used = 0;
        for c in first_env..header.len() {
            let w = natural(c).min(ENV_CELL) + 2;
            let panel = panels.last_mut().expect("one panel at least");
            if !panel.is_empty() && used + w > room {
                panels.push(vec![c]);
                used = w;
            } else {
                panel.push(c);
                used += w;
            }
        }
        for (n, panel) in panels.iter().enumerate() {
            if n > 0 {
                out.push('\n');
            }
            let pick = |line: &[String]| -> Vec<String> {
                (0..first_env)
                    .chain(panel.iter().copied())
                    .map(|i| line[i].clone())
                    .collect()
            };
            // A row this panel's environments have no record of is left out of it.
            let shown: Vec<usize> = (0..body.len())
                .filter(|&r| panels.len() == 1 || panel.iter().any(|&c| body[r][c] != "-"))
                .collect();
            let rows: Vec<Vec<String>> = shown.iter().map(|&r| pick(&body[r])).collect();
            let marks: Vec<bool> = shown.iter().map(|&r| marks[r]).collect();
            out.push_str(&text_table(
                &pick(&header),
                &rows,
                Some(&marks),
                colour.then_some(first_env),
                TEXT_WIDTH,
            ));
        }
        out.push_str("\n* the environments differ on this row; `-` no record of it\n");
        out.push_str("\nEnvironments\n");
        for (i, c) in m.columns.iter().enumerate() {
            let head = format!(
                "[{}] {} ({} record{}): {}",
                i + 1,
                c.label,
                c.records,
                if c.records == 1 { "" } else { "s" },
                c.description
            );
            out.push_str(&indented(&head, 2, 6, TEXT_WIDTH));
        }
        if !m.versions.is_empty() {
            out.push_str("\nScenario files (records of one name whose files differ)\n");
            for v in &m.versions {
                let head = format!("{}: {} (sha256 {})", v.scenario, v.file, v.sha256);
                out.push_str(&indented(&head, 2, 6, TEXT_WIDTH));
            }
        }
    }
    for s in &m.sweeps {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&super::sweep::text(s));
    }
    if out.is_empty() {
        out.push_str("no rows\n");
    }
    out
}

/// Markdown: a table where `≠` marks the rows where the environments differ, the
/// environments described below it (every text in full); then the sweeps.
pub(super) fn markdown(m: &Matrix) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    if !m.rows.is_empty() {
        let params = m.rows.iter().any(|r| !r.params.is_empty());
        out.push_str("| | scenario |");
        if params {
            out.push_str(" parameters |");
        }
        out.push_str(" observation |");
        for c in &m.columns {
            let _ = write!(out, " {} |", esc(&c.label));
        }
        out.push_str(if params {
            "\n|---|---|---|---|"
        } else {
            "\n|---|---|---|"
        });
        out.push_str(&"---|".repeat(m.columns.len()));
        out.push('\n');
        for r in &m.rows {
            let _ = write!(
                out,
                "| {} | {} |",
                if r.differs { "≠" } else { "" },
                esc(&r.scenario)
            );
            if params {
                let _ = write!(out, " {} |", esc(&r.params));
            }
            let _ = write!(out, " {} |", esc(&r.observation));
            for c in &r.cells {
                let _ = write!(
                    out,
                    " {} |",
                    c.as_ref().map_or("-".to_owned(), |c| esc(&c.text))
                );
            }
            out.push('\n');
        }
        out.push_str("\n≠: the environments differ on this row; -: no record of it.\n\n");
        for c in &m.columns {
            let _ = writeln!(
                out,
                "- **{}**: {} ({} record{})",
                esc(&c.label),
                esc(&c.description),
                c.records,
                if c.records == 1 { "" } else { "s" }
            );
        }
        for v in &m.versions {
            let _ = writeln!(
                out,
                "- **{}**: scenario file {} (sha256 {})",
                esc(&v.scenario),
                esc(&v.file),
                v.sha256
            );
        }
    }
    for s in &m.sweeps {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&super::sweep::markdown(s));
    }
    out
}

#[cfg(test)]
mod tests;
