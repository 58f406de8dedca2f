//! The record matrix behind `tcplab compare`: one row per scenario observation, one
//! column per environment.
//!
//! A column is one environment: OS, version, kernel, architecture and the sysctls read,
//! plus the engine when it is not `std`, the network-namespace settings when there were
//! any, and the source when the record is published rather than measured. Several records
//! of one scenario in one column (`--repeat`, or several files from the same machine) are
//! summarised ([`Summary`]), never reduced to one picked value: numbers as their range,
//! anything else as every distinct value with how often it was seen. A row differs by
//! [`Summary`]'s one rule, the one the `--engine all` view uses.

use std::collections::BTreeMap;

use serde::Serialize;

use super::summary::{any_differ, Seen, Summary};
use crate::env::Netns;
use crate::observe::Value;
use crate::record::{Entry, EntryEnv};
use crate::scenario::Engine;

/// What makes two records belong to the same column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ColumnKey {
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
    fn of(e: &Entry) -> ColumnKey {
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

/// One scenario observation (or `parameters`, when those differ between columns).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub observation: String,
    /// True when the columns that have a value do not all show the same.
    pub differs: bool,
    /// One per column; `None` where the column has no such record or observation.
    pub cells: Vec<Option<Cell>>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// The name of the row that shows parameters where the columns ran with different ones.
pub const PARAMS_ROW: &str = "(parameters)";

impl Matrix {
    /// Builds the matrix. Columns come in the order their first record appears; scenarios
    /// in the catalogue's order (by file path), observations in the order first seen.
    pub fn from_entries(entries: &[Entry]) -> Matrix {
        build(entries)
    }
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
    let mut scenarios: Vec<(&str, &str, &str)> = Vec::new();
    for e in entries {
        let file = std::path::Path::new(&e.scenario.file)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("");
        let k = (e.scenario.topic.as_str(), file, e.scenario.name.as_str());
        if !scenarios.iter().any(|s| s.2 == k.2) {
            scenarios.push(k);
        }
    }
    scenarios.sort();

    let mut rows = Vec::new();
    for (_, _, name) in scenarios {
        let mine: Vec<(usize, &Entry)> = entries
            .iter()
            .zip(&column_of)
            .filter(|(e, _)| e.scenario.name == name)
            .map(|(e, &c)| (c, e))
            .collect();
        if let Some(row) = params_row(name, &mine, columns.len()) {
            rows.push(row);
        }
        let mut names: Vec<&str> = Vec::new();
        for (_, e) in &mine {
            for k in e.observations.keys() {
                if !names.contains(&k.as_str()) {
                    names.push(k);
                }
            }
        }
        for obs in names {
            let mut summaries = Vec::new();
            let cells: Vec<Option<Cell>> = (0..columns.len())
                .map(|c| {
                    let values: Vec<Value> = mine
                        .iter()
                        .filter(|(col, _)| *col == c)
                        .filter_map(|(_, e)| e.observations.get(obs).cloned())
                        .collect();
                    if values.is_empty() {
                        return None;
                    }
                    let reported = mine
                        .iter()
                        .filter(|(col, _)| *col == c)
                        .find_map(|(_, e)| e.published.as_ref()?.reported.get(obs).cloned());
                    let summary = Summary::of(&values);
                    let text = cell_text(&summary);
                    summaries.push(summary);
                    Some(Cell {
                        text,
                        values,
                        reported,
                    })
                })
                .collect();
            rows.push(Row {
                scenario: name.to_owned(),
                observation: obs.to_owned(),
                // Columns without a value (`-`) have nothing to differ with.
                differs: any_differ(&summaries),
                cells,
            });
        }
    }
    Matrix { columns, rows }
}

/// A row of the parameters, when the columns ran the scenario with different ones: a
/// parameter two columns both name with different values, or one column with several
/// sets. (A published record names only the parameters its source states.)
fn params_row(name: &str, mine: &[(usize, &Entry)], columns: usize) -> Option<Row> {
    let mut sets: Vec<Vec<&BTreeMap<String, crate::scenario::ParamValue>>> =
        vec![Vec::new(); columns];
    for (c, e) in mine {
        if !sets[*c].contains(&&e.params) {
            sets[*c].push(&e.params);
        }
    }
    let several = sets.iter().any(|s| s.len() > 1);
    let known: Vec<&BTreeMap<_, _>> = sets.iter().flatten().copied().collect();
    let conflict = known.iter().enumerate().any(|(i, a)| {
        known[i + 1..]
            .iter()
            .any(|b| a.iter().any(|(k, v)| b.get(k).is_some_and(|w| w != v)))
    });
    if !several && !conflict {
        return None;
    }
    let text = |e: &Entry| {
        e.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let cells: Vec<Option<Cell>> = (0..columns)
        .map(|c| {
            let mut seen: Vec<String> = Vec::new();
            for (_, e) in mine.iter().filter(|(col, _)| *col == c) {
                let t = text(e);
                if !seen.contains(&t) {
                    seen.push(t);
                }
            }
            (!seen.is_empty()).then(|| Cell {
                text: seen.join(" / "),
                values: Vec::new(),
                reported: None,
            })
        })
        .collect();
    Some(Row {
        scenario: name.to_owned(),
        observation: PARAMS_ROW.to_owned(),
        differs: true,
        cells,
    })
}

/// A cell as printed: one value if all agree; `min to max (N runs)` for numbers that
/// vary, written with every digit they have (milliseconds as recorded); otherwise each
/// distinct value with its count.
fn cell_text(s: &Summary) -> String {
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

fn label(k: &ColumnKey) -> String {
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

fn description(k: &ColumnKey) -> String {
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
    use crate::report::{Exporter, Markdown};

    fn entry(os: &str, release: &str, obs: &[(&str, Value)]) -> Entry {
        Entry {
            scenario: ScenarioRef {
                name: "backlog".into(),
                title: "t".into(),
                topic: "connect".into(),
                file: "scenarios/connect/x.toml".into(),
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

    #[test]
    fn different_parameters_get_a_row_of_their_own() {
        use crate::scenario::ParamValue;
        let mut a = entry("linux", "6.1", &[("n", Value::Int(5))]);
        a.params.insert("backlog".into(), ParamValue::Int(4));
        a.params
            .insert("dial_timeout_ms".into(), ParamValue::Int(200));
        let mut b = entry("linux", "6.2", &[("n", Value::Int(129))]);
        b.params.insert("backlog".into(), ParamValue::Int(128));
        let m = Matrix::from_entries(&[a.clone(), b]);
        assert_eq!(m.rows[0].observation, PARAMS_ROW);
        assert_eq!(m.rows[0].cells[1].as_ref().unwrap().text, "backlog=128");
        // A parameter only one side names (a publication that does not state it) is no
        // difference by itself.
        let mut c = entry("macos", "", &[("n", Value::Int(128))]);
        c.params
            .insert("dial_timeout_ms".into(), ParamValue::Int(200));
        let m = Matrix::from_entries(&[a, c]);
        assert_ne!(m.rows[0].observation, PARAMS_ROW);
    }
}
