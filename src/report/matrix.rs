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

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::summary::{any_differ, Seen, Summary};
use super::sweep::Sweep;
use crate::env::Netns;
use crate::observe::Value;
use crate::record::{Entry, EntryEnv};
use crate::scenario::{Engine, ParamValue};

/// The widest the text table gets; cells wrap to fit, the full text is in JSON and
/// Markdown.
pub const TEXT_WIDTH: usize = 100;

/// What makes two records belong to the same column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct ColumnKey {
    published: Option<String>,
    os: String,
    os_version: Option<String>,
    kernel: Option<String>,
    kernel_release: Option<String>,
    arch: Option<String>,
    sysctls: BTreeMap<String, String>,
    engine: String,
    netns: Option<Netns>,
    /// `uml` for a run in a kernel the lab booted.
    guest: Option<String>,
}

impl ColumnKey {
    pub(super) fn of(e: &Entry) -> ColumnKey {
        ColumnKey {
            published: e.published.as_ref().map(|p| p.source.clone()),
            os: e.env.os.clone(),
            os_version: e.env.os_version.clone(),
            kernel: e.env.kernel.clone(),
            kernel_release: e.env.kernel_release.clone(),
            arch: e.env.arch.clone(),
            sysctls: e.env.sysctls.clone(),
            engine: e.engine.clone(),
            netns: e.env.netns.clone(),
            guest: e.env.guest.as_ref().map(|g| g.kind.clone()),
        }
    }
}

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

/// What one column saw for one row.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// As printed: one value, `min to max (N runs)`, or the distinct values with their
    /// counts.
    pub text: String,
    /// Every value, one per record, in file order.
    pub values: Vec<Value>,
    /// The publication's own words, for a published column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported: Option<String>,
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

/// Records of one parameter set: the set that names the most parameters, and the
/// records whose sets agree with it on every parameter both name (a published record
/// names only those its source states).
pub(super) struct ParamGroup<'a> {
    pub(super) params: &'a BTreeMap<String, ParamValue>,
    pub(super) members: Vec<usize>,
}

/// True when `a` and `b` give no parameter different values.
fn compatible(a: &BTreeMap<String, ParamValue>, b: &BTreeMap<String, ParamValue>) -> bool {
    a.iter().all(|(k, v)| b.get(k).is_none_or(|w| w == v))
}

/// Groups `entries` by parameter set (see [`ParamGroup`]), ordered by the values of the
/// parameters that vary (numbers by size); and names those parameters.
pub(super) fn param_groups<'a>(entries: &[&'a Entry]) -> (Vec<ParamGroup<'a>>, Vec<String>) {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    // Fullest sets first, so that a partial set joins a full one it agrees with.
    order.sort_by_key(|&i| std::cmp::Reverse(entries[i].params.len()));
    let mut groups: Vec<ParamGroup> = Vec::new();
    for i in order {
        let p = &entries[i].params;
        match groups.iter_mut().find(|g| compatible(g.params, p)) {
            Some(g) => g.members.push(i),
            None => groups.push(ParamGroup {
                params: p,
                members: vec![i],
            }),
        }
    }
    for g in &mut groups {
        g.members.sort();
    }
    let mut varied: Vec<String> = Vec::new();
    for (i, a) in groups.iter().enumerate() {
        for b in &groups[i + 1..] {
            for (k, v) in a.params {
                if b.params.get(k).is_some_and(|w| w != v) && !varied.contains(k) {
                    varied.push(k.clone());
                }
            }
        }
    }
    varied.sort();
    let sort_key = |g: &ParamGroup| -> Vec<(i64, String)> {
        varied
            .iter()
            .map(|k| match g.params.get(k) {
                Some(ParamValue::Int(n)) => (*n, String::new()),
                Some(v) => (i64::MIN, v.to_string()),
                None => (i64::MIN, String::new()),
            })
            .collect()
    };
    groups.sort_by_cached_key(|g| sort_key(g));
    (groups, varied)
}

/// `k=v` for each of `keys` that `params` names, space-separated.
pub(super) fn params_text(params: &BTreeMap<String, ParamValue>, keys: &[String]) -> String {
    keys.iter()
        .filter_map(|k| params.get(k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cell of `values`, or `None` when there are none.
pub(super) fn cell(values: Vec<Value>, reported: Option<String>) -> Option<(Cell, Summary)> {
    if values.is_empty() {
        return None;
    }
    let summary = Summary::of(&values);
    Some((
        Cell {
            text: cell_text(&summary),
            values,
            reported,
        },
        summary,
    ))
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

/// A cell as printed: one value if all agree; `min to max (N runs)` for numbers that
/// vary, written with every digit they have (milliseconds as recorded); otherwise each
/// distinct value with its count.
pub(super) fn cell_text(s: &Summary) -> String {
    let ms = matches!(s.seen, Seen::Numbers { ms: true, .. });
    let one = |x: f64| {
        if ms {
            format!("{x} ms")
        } else {
            format!("{x}")
        }
    };
    match &s.seen {
        Seen::Numbers { min, max, .. } if min == max => one(*min),
        Seen::Numbers { .. } => format!("{} ({} runs)", s.range(one).unwrap_or_default(), s.n),
        Seen::Distinct(d) if d.len() == 1 => d[0].0.to_string(),
        Seen::Distinct(_) => s.counted(" / "),
    }
}

/// Terminal colour for a differing row's cells (ANSI bold yellow) and the reset.
const HIGHLIGHT: &str = "\x1b[1;33m";
const RESET: &str = "\x1b[0m";

/// A column is not narrowed below this many characters to make a table fit.
const MIN_CELL: usize = 8;
/// The most a scenario, parameters or observation column takes before it wraps...
const NAME_CELL: usize = 22;
/// ...and an environment's column, when choosing how many fit side by side.
const ENV_CELL: usize = 18;

/// Splits `s` into lines of at most `width` characters, breaking after a space, `_`,
/// `/` or `,` where it can and inside a word only where it must.
pub(super) fn wrap(s: &str, width: usize) -> Vec<String> {
    wrap_after(s, width, &[' ', '_', '/', ','])
}

/// [`wrap`], breaking only after the characters `breaks`.
fn wrap_after(s: &str, width: usize, breaks: &[char]) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for para in s.split('\n') {
        let mut pieces: Vec<String> = Vec::new();
        let mut piece = String::new();
        for ch in para.chars() {
            piece.push(ch);
            if breaks.contains(&ch) {
                pieces.push(std::mem::take(&mut piece));
            }
        }
        if !piece.is_empty() {
            pieces.push(piece);
        }
        let mut line = String::new();
        for p in pieces {
            let len = |t: &str| t.trim_end().chars().count();
            if !line.is_empty() && line.chars().count() + len(&p) > width {
                lines.push(line.trim_end().to_owned());
                line.clear();
            }
            let mut p: &str = &p;
            while len(p) > width {
                let cut = p.char_indices().nth(width).map_or(p.len(), |(i, _)| i);
                lines.push(p[..cut].to_owned());
                p = &p[cut..];
            }
            line.push_str(p);
        }
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// A plain-text table that fits in `width` characters: columns two spaces apart, the
/// widest narrowed first, cells wrapped onto more lines where they do not fit. `marks`
/// puts a one-character mark column first; `highlight` colours, from that column on,
/// the cells of the rows marked.
pub(super) fn text_table(
    header: &[String],
    body: &[Vec<String>],
    marks: Option<&[bool]>,
    highlight: Option<usize>,
    width: usize,
) -> String {
    const GAP: usize = 2;
    let n = header.len();
    let mut widths: Vec<usize> = (0..n)
        .map(|i| {
            body.iter()
                .map(|l| l[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let lead = if marks.is_some() { 2 } else { 0 };
    let budget = width.saturating_sub(lead + GAP * n.saturating_sub(1));
    while widths.iter().sum::<usize>() > budget {
        let Some((i, &w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else {
            break;
        };
        if w <= MIN_CELL {
            break;
        }
        widths[i] -= 1;
    }
    let mut out = String::new();
    let mut emit = |cells: &[String], mark: Option<bool>| {
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| wrap(c, w))
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for l in 0..height {
            if let Some(m) = mark {
                out.push_str(if m && l == 0 { "* " } else { "  " });
            }
            let mut line = String::new();
            for (i, w) in wrapped.iter().enumerate() {
                let c = w.get(l).map_or("", String::as_str);
                let pad = widths[i].saturating_sub(c.chars().count());
                if mark == Some(true) && highlight.is_some_and(|h| i >= h) && !c.is_empty() {
                    let _ = write!(line, "{HIGHLIGHT}{c}{RESET}");
                } else {
                    line.push_str(c);
                }
                if i + 1 < n {
                    line.push_str(&" ".repeat(pad + GAP));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    };
    emit(header, marks.map(|_| false));
    for (i, cells) in body.iter().enumerate() {
        emit(cells, marks.map(|m| m[i]));
    }
    out
}

/// `text` wrapped at spaces to `width`, each line indented by `indent` spaces (the first by
/// `first` instead).
pub(super) fn indented(text: &str, first: usize, indent: usize, width: usize) -> String {
    let mut out = String::new();
    for (i, l) in wrap_after(text, width.saturating_sub(indent).max(MIN_CELL), &[' '])
        .iter()
        .enumerate()
    {
        let pad = if i == 0 { first } else { indent };
        let _ = writeln!(out, "{}{l}", " ".repeat(pad));
    }
    out
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

pub(super) fn label(k: &ColumnKey) -> String {
    let mut s = match (&k.published, &k.kernel_release) {
        (Some(_), _) => {
            let system = k
                .os_version
                .clone()
                .or_else(|| k.kernel.clone())
                .unwrap_or_else(|| k.os.clone());
            format!("{system}, {}", k.engine)
        }
        (None, Some(r)) => format!("{} {r}", k.os),
        (None, None) => k.os.clone(),
    };
    if let Some(g) = &k.guest {
        s.push_str(&format!(" ({g})"));
    }
    if k.published.is_none() && k.engine != Engine::Std.name() {
        s.push_str(&format!(" {}", k.engine));
    }
    if let Some(n) = &k.netns {
        match &n.profile {
            Some(p) => s.push_str(&format!(" [{p}]")),
            None => {
                let set: Vec<String> = n
                    .set
                    .iter()
                    .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
                    .collect();
                s.push_str(&format!(" [{}]", set.join(" ")));
            }
        }
    }
    if k.published.is_some() {
        s.push_str(" (published)");
    }
    s
}

pub(super) fn description(k: &ColumnKey) -> String {
    let mut parts = vec![k.os.clone()];
    parts.extend(k.os_version.iter().cloned());
    if let Some(kernel) = &k.kernel {
        parts.push(format!(
            "{kernel} {}",
            k.kernel_release.as_deref().unwrap_or("(release not known)")
        ));
    }
    parts.extend(k.arch.iter().cloned());
    parts.push(format!("engine {}", k.engine));
    if let Some(g) = &k.guest {
        parts.push(format!("in a {g} guest"));
    }
    if let Some(n) = &k.netns {
        parts.push(n.describe());
    }
    if !k.sysctls.is_empty() {
        let sys: Vec<String> = k.sysctls.iter().map(|(a, b)| format!("{a}={b}")).collect();
        parts.push(sys.join(" "));
    }
    let mut s = parts.join(", ");
    if let Some(src) = &k.published {
        s.push_str(&format!("; published, not measured: {src}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Published, ScenarioRef};
    use crate::report::{Exporter, Markdown, Text};
    use crate::scenario::ParamValue;

    fn entry(os: &str, release: &str, obs: &[(&str, Value)]) -> Entry {
        Entry {
            scenario: ScenarioRef {
                name: "backlog".into(),
                title: "t".into(),
                topic: "connect".into(),
                file: "scenarios/connect/x.toml".into(),
                sha256: None,
            },
            params: BTreeMap::new(),
            engine: "std".into(),
            env: EntryEnv {
                os: os.into(),
                os_version: None,
                kernel: Some("Linux".into()),
                kernel_release: Some(release.into()),
                arch: Some("x86_64".into()),
                sysctls: BTreeMap::new(),
                netns: None,
                guest: None,
            },
            observations: obs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            published: None,
            verdict: None,
        }
    }

    #[test]
    fn repeats_in_one_environment_show_their_range_not_one_value() {
        let m = Matrix::from_entries(&[
            entry(
                "linux",
                "6.1",
                &[("n", Value::Int(5)), ("t", Value::Ms(0.25))],
            ),
            entry(
                "linux",
                "6.1",
                &[("n", Value::Int(7)), ("t", Value::Ms(0.125))],
            ),
            entry(
                "linux",
                "6.1",
                &[("n", Value::Int(6)), ("t", Value::Ms(0.5))],
            ),
        ]);
        assert_eq!(m.columns.len(), 1);
        assert_eq!(m.rows[0].cells[0].as_ref().unwrap().text, "5 to 7 (3 runs)");
        assert_eq!(
            m.rows[1].cells[0].as_ref().unwrap().text,
            "0.125 ms to 0.5 ms (3 runs)"
        );
        assert!(!m.rows[0].differs, "one column cannot differ from itself");
    }

    #[test]
    fn distinct_non_numeric_values_are_all_listed_with_counts() {
        let t = |s: &str| Value::Text(s.into());
        let m = Matrix::from_entries(&[
            entry("linux", "6.1", &[("e", t("EPIPE"))]),
            entry("linux", "6.1", &[("e", t("ECONNRESET"))]),
            entry("linux", "6.1", &[("e", t("EPIPE"))]),
        ]);
        assert_eq!(
            m.rows[0].cells[0].as_ref().unwrap().text,
            "EPIPE (x2) / ECONNRESET (x1)"
        );
    }

    #[test]
    fn two_environments_make_two_columns_and_a_difference_is_marked() {
        let mut published = entry("macos", "", &[("n", Value::Int(128))]);
        published.env.kernel = Some("Darwin".into());
        published.env.kernel_release = None;
        published.engine = "go1.5.1".into();
        published.published = Some(Published {
            source: "an article".into(),
            reported: [("n".to_owned(), "128 dials".to_owned())]
                .into_iter()
                .collect(),
            note: None,
        });
        let m = Matrix::from_entries(&[
            entry(
                "linux",
                "6.1",
                &[("n", Value::Int(5)), ("same", Value::Int(1))],
            ),
            published,
        ]);
        assert_eq!(m.columns.len(), 2);
        assert_eq!(m.columns[1].label, "Darwin, go1.5.1 (published)");
        assert!(m.rows[0].differs);
        assert!(
            !m.rows[1].differs,
            "a row only one column has does not differ"
        );
        assert_eq!(
            m.rows[0].cells[1].as_ref().unwrap().reported.as_deref(),
            Some("128 dials")
        );
        let md = Markdown.matrix(&m);
        assert!(md.contains("| ≠ | backlog | n | 5 | 128 |"), "{md}");
        assert!(md.contains("published, not measured: an article"), "{md}");
    }

    #[test]
    fn timings_differ_only_beyond_run_to_run_variation() {
        let m = Matrix::from_entries(&[
            entry(
                "linux",
                "6.1",
                &[("near", Value::Ms(100.25)), ("far", Value::Ms(18.5))],
            ),
            entry(
                "linux",
                "6.2",
                &[("near", Value::Ms(101.5)), ("far", Value::Ms(116.0))],
            ),
        ]);
        assert_eq!(m.rows[0].cells[0].as_ref().unwrap().text, "100.25 ms");
        assert!(!m.rows[0].differs, "within 10%");
        assert!(m.rows[1].differs);
    }

    #[test]
    fn environments_that_print_alike_are_numbered() {
        let mut a = entry("linux", "6.1", &[("n", Value::Int(1))]);
        let mut b = a.clone();
        a.env
            .sysctls
            .insert("net.core.somaxconn".into(), "128".into());
        b.env
            .sysctls
            .insert("net.core.somaxconn".into(), "4096".into());
        let m = Matrix::from_entries(&[a, b]);
        assert_eq!(m.columns[0].label, "linux 6.1 #1");
        assert_eq!(m.columns[1].label, "linux 6.1 #2");
    }

    // -----------------------------------------------------------------------------
    // parameters, versions and width
    // -----------------------------------------------------------------------------

    fn with(mut e: Entry, params: &[(&str, i64)]) -> Entry {
        for (k, v) in params {
            e.params.insert((*k).into(), ParamValue::Int(*v));
        }
        e
    }

    #[test]
    fn different_parameters_are_never_folded_into_one_cell() {
        let a = with(
            entry("linux", "6.1", &[("n", Value::Int(5))]),
            &[("backlog", 4)],
        );
        let b = with(
            entry("linux", "6.2", &[("n", Value::Int(5))]),
            &[("backlog", 4)],
        );
        let c = with(
            entry("linux", "6.2", &[("n", Value::Int(129))]),
            &[("backlog", 128)],
        );
        let m = Matrix::from_entries(&[a, b, c]);
        let rows: Vec<(&str, Vec<String>)> = m
            .rows
            .iter()
            .map(|r| {
                let cells = r
                    .cells
                    .iter()
                    .map(|c| c.as_ref().map_or("-".to_owned(), |c| c.text.clone()))
                    .collect();
                (r.params.as_str(), cells)
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("backlog=4", vec!["5".to_owned(), "5".to_owned()]),
                ("backlog=128", vec!["-".to_owned(), "129".to_owned()]),
            ]
        );
        assert!(
            m.rows.iter().all(|r| !r.differs),
            "a row one environment has cannot differ"
        );
        assert!(m.rows.iter().all(|r| r.observation != "(parameters)"));
    }

    #[test]
    fn a_parameter_only_one_side_names_is_no_difference() {
        // A publication that does not state dial_timeout_ms.
        let a = with(
            entry("linux", "6.1", &[("n", Value::Int(5))]),
            &[("backlog", 4), ("dial_timeout_ms", 200)],
        );
        let b = with(
            entry("macos", "", &[("n", Value::Int(128))]),
            &[("backlog", 4)],
        );
        let m = Matrix::from_entries(&[a, b]);
        assert_eq!(m.rows.len(), 1);
        assert_eq!(m.rows[0].params, "");
        assert!(m.rows[0].differs);
    }

    #[test]
    fn one_environment_over_several_parameter_sets_is_a_sweep() {
        let runs: Vec<Entry> = [1, 2, 4]
            .iter()
            .map(|&b| {
                with(
                    entry("linux", "6.1", &[("n", Value::Int(b + 1))]),
                    &[("backlog", b)],
                )
            })
            .collect();
        let m = Matrix::from_entries(&runs);
        assert!(m.rows.is_empty());
        assert_eq!(m.sweeps.len(), 1);
        assert_eq!(m.sweeps[0].rows.len(), 3);
        let t = Text::default().matrix(&m);
        assert!(t.contains("backlog: sweep of backlog on linux 6.1"), "{t}");
    }

    #[test]
    fn a_modified_copy_that_keeps_the_name_is_a_scenario_of_its_own() {
        let mut a = entry("linux", "6.1", &[("n", Value::Int(5))]);
        a.scenario.sha256 = Some("a".repeat(64));
        let mut b = entry("linux", "6.1", &[("n", Value::Int(9))]);
        b.scenario.sha256 = Some("b".repeat(64));
        b.scenario.file = "/tmp/copy.toml".into();
        // An older record without the hash goes with the first version.
        let old = entry("linux", "6.2", &[("n", Value::Int(5))]);
        let m = Matrix::from_entries(&[a, b, old]);
        let names: Vec<&str> = m.rows.iter().map(|r| r.scenario.as_str()).collect();
        assert_eq!(names, ["backlog@aaaaaaaa", "backlog@bbbbbbbb"]);
        assert_eq!(m.rows[0].cells[1].as_ref().unwrap().text, "5");
        assert_eq!(m.versions.len(), 2);
        assert_eq!(m.versions[1].file, "/tmp/copy.toml");
    }

    #[test]
    fn the_text_table_fits_in_its_width_and_keeps_every_character() {
        let long = "a value with many words that would make the table far too wide";
        let cols: Vec<Entry> = (0..6)
            .map(|i| {
                let mut e = entry(
                    "linux",
                    &format!("6.{i}"),
                    &[("n", Value::Text(long.into()))],
                );
                e.env
                    .sysctls
                    .insert("net.core.somaxconn".into(), "4096 ".repeat(40));
                e
            })
            .collect();
        let t = Text::default().matrix(&Matrix::from_entries(&cols));
        assert!(t.lines().all(|l| l.chars().count() <= TEXT_WIDTH), "{t}");
        // Wrapped, not cut: every word is there; Markdown has the cell whole.
        assert!(long.split(' ').all(|w| t.contains(w)), "{t}");
        assert!(Markdown.matrix(&Matrix::from_entries(&cols)).contains(long));
        assert!(t.contains("[6] linux 6.5"), "{t}");
    }

    #[test]
    fn differs_keeps_only_the_differing_rows() {
        let mut m = Matrix::from_entries(&[
            entry(
                "linux",
                "6.1",
                &[("a", Value::Int(1)), ("b", Value::Int(1))],
            ),
            entry(
                "linux",
                "6.2",
                &[("a", Value::Int(1)), ("b", Value::Int(2))],
            ),
        ]);
        m.retain_differing();
        let names: Vec<&str> = m.rows.iter().map(|r| r.observation.as_str()).collect();
        assert_eq!(names, ["b"]);
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_underscores_and_inside_words_only_when_it_must() {
        assert_eq!(
            wrap("connected_before_block", 12),
            ["connected_", "before_block"]
        );
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }
}
