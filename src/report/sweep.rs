//! Sweeps: runs of one scenario in one environment that differ only in their parameters
//! (`--set backlog=1`, `2`, `4`), shown as one table with a row per parameter set, and
//! plotted as SVG, one small chart per numeric observation against the swept parameter.
//!
//! Everything here is pure: records in, text out. [`is_sweep`] decides whether a set of
//! records is a sweep; [`Sweep::of`] builds one; the exporters print it (text, Markdown,
//! JSON) and [`svg`] draws it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::columns::{
    cell, description, label, param_groups, params_text, Cell, ColumnKey, ParamGroup,
};
use super::layout::{indented, text_table, TEXT_WIDTH};
use super::summary::any_differ;
use crate::observe::Value;
use crate::record::{Entry, Record};
use crate::scenario::ParamValue;

/// One scenario's runs in one environment over several parameter sets.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    /// The scenario's name (`name@sha` in a comparison where files of that name differ).
    pub scenario: String,
    /// The environment, short (`linux 6.18.44`) and in full.
    pub environment: String,
    pub description: String,
    /// The parameters that vary, by name.
    pub varied: Vec<String>,
    /// The parameters every run had alike.
    pub fixed: BTreeMap<String, ParamValue>,
    /// Units of parameters and observations, where known (`ms`, `bytes`).
    pub units: BTreeMap<String, String>,
    pub observations: Vec<SweepObservation>,
    /// One per parameter set, in the order of the varied values.
    pub rows: Vec<SweepRow>,
}

/// An observation of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepObservation {
    pub name: String,
    /// Every value a count or a time: it can be plotted.
    pub numeric: bool,
    /// True when it is not the same for every parameter set (by the one rule of
    /// [`super::summary::Summary`]).
    pub varies: bool,
}

/// The runs of one parameter set.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// The varied parameters' values.
    pub params: BTreeMap<String, ParamValue>,
    /// How many records ran with them.
    pub records: usize,
    /// One per observation; `None` where no run made it.
    pub cells: Vec<Option<Cell>>,
    /// The verdict (`PASS`), or each distinct one with its count; absent for published
    /// figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// True when `entries` are a sweep: all of one scenario (and one version of its file),
/// from one environment, with at least two parameter sets.
pub fn is_sweep(entries: &[Entry]) -> bool {
    let Some(first) = entries.first() else {
        return false;
    };
    let key = ColumnKey::of(first);
    let mut sha: Option<&str> = None;
    for e in entries {
        if e.scenario.name != first.scenario.name || ColumnKey::of(e) != key {
            return false;
        }
        match (sha, e.scenario.sha256.as_deref()) {
            (Some(a), Some(b)) if a != b => return false,
            (None, b) => sha = b,
            _ => {}
        }
    }
    let refs: Vec<&Entry> = entries.iter().collect();
    param_groups(&refs).0.len() > 1
}

impl Sweep {
    /// The sweep of `entries`, when they are one ([`is_sweep`]).
    pub fn of(entries: &[Entry]) -> Option<Sweep> {
        if !is_sweep(entries) {
            return None;
        }
        let refs: Vec<&Entry> = entries.iter().collect();
        let (groups, varied) = param_groups(&refs);
        let key = ColumnKey::of(&entries[0]);
        Some(Sweep::build(
            &entries[0].scenario.name,
            &label(&key),
            &description(&key),
            &refs,
            &groups,
            &varied,
        ))
    }

    /// The sweep of a run's records (`run --set a=1,2,3`), when they are one.
    pub fn of_records(records: &[Record]) -> Option<Sweep> {
        let entries: Vec<Entry> = records.iter().map(Entry::from).collect();
        Sweep::of(&entries)
    }

    /// Builds the sweep of `entries` grouped as `groups`, with `varied` naming the
    /// parameters that vary.
    pub(super) fn build(
        scenario: &str,
        environment: &str,
        description: &str,
        entries: &[&Entry],
        groups: &[ParamGroup],
        varied: &[String],
    ) -> Sweep {
        let mut names: Vec<&str> = Vec::new();
        for e in entries {
            for k in e.observations.keys() {
                if !names.contains(&k.as_str()) {
                    names.push(k);
                }
            }
        }
        let fixed: BTreeMap<String, ParamValue> = groups[0]
            .params
            .iter()
            .filter(|(k, v)| {
                !varied.contains(k) && groups.iter().all(|g| g.params.get(*k) == Some(*v))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut summaries: Vec<Vec<super::summary::Summary>> = vec![Vec::new(); names.len()];
        let rows: Vec<SweepRow> = groups
            .iter()
            .map(|g| {
                let cells = names
                    .iter()
                    .enumerate()
                    .map(|(i, obs)| {
                        let values: Vec<Value> = g
                            .members
                            .iter()
                            .filter_map(|&m| entries[m].observations.get(*obs).cloned())
                            .collect();
                        let (c, s) = cell(values, None)?;
                        summaries[i].push(s);
                        Some(c)
                    })
                    .collect();
                let mut verdicts: Vec<(&str, usize)> = Vec::new();
                for &m in &g.members {
                    if let Some(v) = &entries[m].verdict {
                        let l = v.status.label();
                        match verdicts.iter_mut().find(|(x, _)| *x == l) {
                            Some((_, n)) => *n += 1,
                            None => verdicts.push((l, 1)),
                        }
                    }
                }
                let verdict = match verdicts.as_slice() {
                    [] => None,
                    [(one, _)] => Some((*one).to_owned()),
                    many => Some(
                        many.iter()
                            .map(|(l, n)| format!("{l} (x{n})"))
                            .collect::<Vec<_>>()
                            .join(" / "),
                    ),
                };
                SweepRow {
                    params: g
                        .params
                        .iter()
                        .filter(|(k, _)| varied.contains(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    records: g.members.len(),
                    cells,
                    verdict,
                }
            })
            .collect();
        let observations: Vec<SweepObservation> = names
            .iter()
            .enumerate()
            .map(|(i, name)| SweepObservation {
                name: (*name).to_owned(),
                numeric: rows
                    .iter()
                    .flat_map(|r| &r.cells[i])
                    .all(|c| c.values.iter().all(|v| v.number().is_some())),
                varies: any_differ(&summaries[i]),
            })
            .collect();
        let mut units = BTreeMap::new();
        for p in varied.iter().chain(fixed.keys()) {
            if let Some(u) = unit_of_name(p) {
                units.insert(p.clone(), u.to_owned());
            }
        }
        for (i, o) in observations.iter().enumerate() {
            let ms = rows
                .iter()
                .flat_map(|r| &r.cells[i])
                .any(|c| c.values.iter().any(|v| matches!(v, Value::Ms(_))));
            if let Some(u) = if ms {
                Some("ms")
            } else {
                unit_of_name(&o.name)
            } {
                units.insert(o.name.clone(), u.to_owned());
            }
        }
        Sweep {
            scenario: scenario.to_owned(),
            environment: environment.to_owned(),
            description: description.to_owned(),
            varied: varied.to_vec(),
            fixed,
            units,
            observations,
            rows,
        }
    }

    /// Keeps only the observations that change with the parameters.
    pub fn retain_varying(&mut self) {
        let keep: Vec<bool> = self.observations.iter().map(|o| o.varies).collect();
        self.observations.retain(|o| o.varies);
        for r in &mut self.rows {
            let mut k = keep.iter();
            r.cells.retain(|_| *k.next().unwrap_or(&false));
        }
    }

    /// The parameter a plot puts on its x axis: the one varied parameter, when its values
    /// are integers.
    pub fn x(&self) -> Option<&str> {
        match self.varied.as_slice() {
            [one]
                if self
                    .rows
                    .iter()
                    .all(|r| matches!(r.params.get(one), Some(ParamValue::Int(_)))) =>
            {
                Some(one)
            }
            _ => None,
        }
    }

    /// `name (unit)`, or the name alone.
    pub(super) fn axis(&self, name: &str) -> String {
        match self.units.get(name) {
            Some(u) => format!("{name} ({u})"),
            None => name.to_owned(),
        }
    }

    pub(super) fn title(&self) -> String {
        format!(
            "{}: sweep of {} on {}",
            self.scenario,
            self.varied.join(", "),
            self.environment
        )
    }
}

/// The unit a name implies by its ending: `_ms` milliseconds, `_bytes` bytes.
// A parameter's declared unit, once scenario files carry one, is the better source.
fn unit_of_name(name: &str) -> Option<&'static str> {
    if name.ends_with("_ms") {
        Some("ms")
    } else if name.ends_with("_bytes") {
        Some("bytes")
    } else {
        None
    }
}

/// The text of one table cell.
fn cell_text(c: &Option<Cell>) -> String {
    c.as_ref().map_or("-".to_owned(), |c| c.text.clone())
}

/// Terminal text, at most [`TEXT_WIDTH`] wide: a title, the fixed parameters, then one
/// row per parameter set: the varied parameters, each observation, the verdict.
pub fn text(s: &Sweep) -> String {
    let mut out = String::new();
    let records: usize = s.rows.iter().map(|r| r.records).sum();
    let _ = writeln!(out, "{} ({records} records)", s.title());
    if !s.fixed.is_empty() {
        out.push_str(&indented(
            &format!("every run: {}", params_line(&s.fixed)),
            2,
            4,
            TEXT_WIDTH,
        ));
    }
    let mut header: Vec<String> = s.varied.clone();
    header.extend(s.observations.iter().map(|o| o.name.clone()));
    header.push("verdict".to_owned());
    let body: Vec<Vec<String>> = s
        .rows
        .iter()
        .map(|r| {
            let mut line: Vec<String> = s
                .varied
                .iter()
                .map(|k| r.params.get(k).map_or("-".to_owned(), |v| v.to_string()))
                .collect();
            line.extend(r.cells.iter().map(cell_text));
            line.push(r.verdict.clone().unwrap_or_else(|| "-".to_owned()));
            line
        })
        .collect();
    for l in text_table(&header, &body, None, None, TEXT_WIDTH - 2).lines() {
        let _ = writeln!(out, "  {l}");
    }
    out.push_str(&indented(
        &format!("environment: {}", s.description),
        2,
        4,
        TEXT_WIDTH,
    ));
    out
}

fn params_line(p: &BTreeMap<String, ParamValue>) -> String {
    let keys: Vec<String> = p.keys().cloned().collect();
    params_text(p, &keys)
}

/// Markdown: a heading line, then one table row per parameter set.
pub fn markdown(s: &Sweep) -> String {
    let esc = |t: &str| t.replace('|', "\\|");
    let mut out = format!("**{}**\n\n", esc(&s.title()));
    if !s.fixed.is_empty() {
        let _ = writeln!(out, "Every run: {}\n", esc(&params_line(&s.fixed)));
    }
    out.push('|');
    for h in s
        .varied
        .iter()
        .chain(s.observations.iter().map(|o| &o.name))
    {
        let _ = write!(out, " {} |", esc(h));
    }
    out.push_str(" verdict |\n|");
    out.push_str(&"---|".repeat(s.varied.len() + s.observations.len() + 1));
    out.push('\n');
    for r in &s.rows {
        out.push('|');
        for k in &s.varied {
            let v = r.params.get(k).map_or("-".to_owned(), |v| v.to_string());
            let _ = write!(out, " {} |", esc(&v));
        }
        for c in &r.cells {
            let _ = write!(out, " {} |", esc(&cell_text(c)));
        }
        let _ = writeln!(out, " {} |", r.verdict.as_deref().unwrap_or("-"));
    }
    let _ = writeln!(out, "\nEnvironment: {}", esc(&s.description));
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::record::{EntryEnv, ScenarioRef};
    use crate::report::{Exporter, Json, Markdown, Text};

    pub(crate) fn run(backlog: i64, connected: i64, ms: f64) -> Entry {
        Entry {
            scenario: ScenarioRef {
                name: "backlog".into(),
                title: "t".into(),
                topic: "connect".into(),
                file: "scenarios/connect/x.toml".into(),
                sha256: Some("ab".repeat(32)),
            },
            params: [
                ("backlog".to_owned(), ParamValue::Int(backlog)),
                ("dial_timeout_ms".to_owned(), ParamValue::Int(200)),
            ]
            .into_iter()
            .collect(),
            engine: "std".into(),
            env: EntryEnv {
                os: "linux".into(),
                os_version: None,
                kernel: Some("Linux".into()),
                kernel_release: Some("6.1".into()),
                arch: Some("x86_64".into()),
                sysctls: BTreeMap::new(),
                netns: None,
                guest: None,
            },
            observations: [
                ("connected".to_owned(), Value::Int(connected)),
                ("took_ms".to_owned(), Value::Ms(ms)),
                ("error".to_owned(), Value::Text("deadline".into())),
            ]
            .into_iter()
            .collect(),
            published: None,
            verdict: None,
        }
    }

    /// backlog 1, 2 and 4 (twice), in a shuffled order.
    pub(crate) fn swept() -> Vec<Entry> {
        vec![
            run(4, 5, 10.0),
            run(1, 2, 10.25),
            run(2, 3, 11.0),
            run(4, 5, 10.5),
        ]
    }

    // ---------------------------------------------------------------------------------
    // what a sweep is
    // ---------------------------------------------------------------------------------

    #[test]
    fn records_differing_only_in_parameters_are_a_sweep() {
        assert!(is_sweep(&swept()));
        assert!(!is_sweep(&swept()[..1]), "one parameter set is no sweep");
        let mut other_env = swept();
        other_env[1].env.kernel_release = Some("6.2".into());
        assert!(!is_sweep(&other_env), "two environments are a comparison");
        let mut other_file = swept();
        other_file[1].scenario.sha256 = Some("cd".repeat(32));
        assert!(
            !is_sweep(&other_file),
            "a modified scenario file is not the same"
        );
    }

    #[test]
    fn a_sweep_has_one_row_per_parameter_set_in_the_order_of_the_values() {
        let s = Sweep::of(&swept()).unwrap();
        assert_eq!(s.varied, ["backlog"]);
        assert_eq!(s.fixed.get("dial_timeout_ms"), Some(&ParamValue::Int(200)));
        let xs: Vec<&ParamValue> = s.rows.iter().map(|r| &r.params["backlog"]).collect();
        assert_eq!(
            xs,
            [
                &ParamValue::Int(1),
                &ParamValue::Int(2),
                &ParamValue::Int(4)
            ]
        );
        assert_eq!(s.rows[2].records, 2);
        assert_eq!(s.rows[2].cells[0].as_ref().unwrap().text, "5");
        let varies: Vec<(&str, bool, bool)> = s
            .observations
            .iter()
            .map(|o| (o.name.as_str(), o.numeric, o.varies))
            .collect();
        assert_eq!(
            varies,
            [
                ("connected", true, true),
                ("took_ms", true, false),
                ("error", false, false)
            ]
        );
        assert_eq!(s.units.get("took_ms").map(String::as_str), Some("ms"));
    }

    // ---------------------------------------------------------------------------------
    // the three exporters
    // ---------------------------------------------------------------------------------

    #[test]
    fn text_markdown_and_json_show_one_row_per_value() {
        let s = Sweep::of(&swept()).unwrap();
        let t = Text::default().sweep(&s);
        assert!(t.contains("sweep of backlog"), "{t}");
        assert!(t.contains("every run: dial_timeout_ms=200"), "{t}");
        let line = t
            .lines()
            .find(|l| l.trim_start().starts_with("2 "))
            .unwrap();
        assert!(line.contains(" 3 ") && line.contains("11 ms"), "{t}");
        assert!(t.lines().all(|l| l.chars().count() <= TEXT_WIDTH), "{t}");

        let md = Markdown.sweep(&s);
        assert!(
            md.contains("| backlog | connected | took_ms | error | verdict |"),
            "{md}"
        );
        assert!(
            md.contains("| 4 | 5 | 10 ms to 10.5 ms (2 runs) | deadline | - |"),
            "{md}"
        );

        let j: serde_json::Value = serde_json::from_str(&Json.sweep(&s)).unwrap();
        assert_eq!(j["varied"][0], "backlog");
        assert_eq!(j["rows"].as_array().unwrap().len(), 3);
        assert_eq!(j["rows"][0]["params"]["backlog"], 1);
    }

    // ---------------------------------------------------------------------------------
    // the plot
    // ---------------------------------------------------------------------------------
}
