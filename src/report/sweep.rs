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

use super::matrix::{
    cell, description, indented, label, param_groups, params_text, text_table, Cell, ColumnKey,
    ParamGroup, TEXT_WIDTH,
};
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
    fn axis(&self, name: &str) -> String {
        match self.units.get(name) {
            Some(u) => format!("{name} ({u})"),
            None => name.to_owned(),
        }
    }

    fn title(&self) -> String {
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

/// Why a set of sweeps cannot be plotted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlotError {
    #[error("no sweep to plot: a sweep is records of one scenario from one environment that differ in their parameters")]
    NoSweep,
    #[error("nothing to plot: no sweep varies exactly one integer parameter and has a numeric observation ({0})")]
    NothingNumeric(String),
}

/// Chart geometry (pixels): each chart's size, its margins, and charts per line.
const CHART_W: f64 = 360.0;
const CHART_H: f64 = 240.0;
const MARGIN_LEFT: f64 = 64.0;
const MARGIN_RIGHT: f64 = 16.0;
const MARGIN_TOP: f64 = 28.0;
const MARGIN_BOTTOM: f64 = 44.0;
const CHARTS_PER_LINE: usize = 2;
/// Height of a sweep's title line above its charts.
const TITLE_H: f64 = 28.0;
/// The x axis is logarithmic (base 2) when the largest value is this many times the
/// smallest or more: `rcvbuf` 1, 4096, 65536 would crowd together on a linear one.
const LOG_FROM_RATIO: f64 = 64.0;

/// Escapes text for XML.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number as a tick label: integers without a fraction, others with up to two digits.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let t = format!("{x:.2}");
        t.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A tick label: [`num`], with large values shortened (`65536` stays, `8388608` is
/// `8.39M`) so that it fits beside the axis.
fn tick(x: f64) -> String {
    match x.abs() {
        a if a >= 1e9 => format!("{}G", num((x / 1e7).round() / 100.0)),
        a if a >= 1e6 => format!("{}M", num((x / 1e4).round() / 100.0)),
        a if a >= 1e5 => format!("{}k", num((x / 10.0).round() / 100.0)),
        _ => num(x),
    }
}

/// Round tick positions covering `lo..=hi`, about five of them.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

/// An SVG document with one small chart per numeric observation of each sweep that can
/// be plotted ([`Sweep::x`]), against the swept parameter: every run's value as a point,
/// the medians joined by a line. Each chart is a `<g class="chart">` naming its
/// observation in `data-observation`; each value a `<circle class="point">`.
pub fn svg(sweeps: &[Sweep]) -> Result<String, PlotError> {
    if sweeps.is_empty() {
        return Err(PlotError::NoSweep);
    }
    let plottable: Vec<(&Sweep, &str, Vec<usize>)> = sweeps
        .iter()
        .filter_map(|s| {
            let x = s.x()?;
            let charts: Vec<usize> = (0..s.observations.len())
                .filter(|&i| {
                    s.observations[i].numeric && s.rows.iter().any(|r| r.cells[i].is_some())
                })
                .collect();
            (!charts.is_empty()).then_some((s, x, charts))
        })
        .collect();
    if plottable.is_empty() {
        let names: Vec<String> = sweeps
            .iter()
            .map(|s| format!("{} varies {}", s.scenario, s.varied.join(", ")))
            .collect();
        return Err(PlotError::NothingNumeric(names.join("; ")));
    }
    let width = CHART_W * CHARTS_PER_LINE as f64;
    let mut body = String::new();
    let mut y0 = 0.0;
    for (s, x, charts) in &plottable {
        let _ = writeln!(
            body,
            r#"<text class="sweep-title" x="8" y="{:.1}" font-size="14" font-weight="bold">{}</text>"#,
            y0 + 20.0,
            xml(&s.title())
        );
        y0 += TITLE_H;
        for (n, &i) in charts.iter().enumerate() {
            let ox = (n % CHARTS_PER_LINE) as f64 * CHART_W;
            let oy = y0 + (n / CHARTS_PER_LINE) as f64 * CHART_H;
            chart(&mut body, s, x, i, ox, oy);
        }
        y0 += charts.len().div_ceil(CHARTS_PER_LINE) as f64 * CHART_H;
    }
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{y0:.0}" viewBox="0 0 {width:.0} {y0:.0}" font-family="sans-serif" font-size="11">"#
    );
    out.push('\n');
    let _ = writeln!(
        out,
        r#"<rect width="{width:.0}" height="{y0:.0}" fill="white"/>"#
    );
    out.push_str(&body);
    out.push_str("</svg>\n");
    Ok(out)
}

/// One chart: observation `i` of `s` against parameter `x`, its top left at `(ox, oy)`.
fn chart(out: &mut String, s: &Sweep, x: &str, i: usize, ox: f64, oy: f64) {
    let obs = &s.observations[i].name;
    let points: Vec<(f64, f64)> = s
        .rows
        .iter()
        .filter_map(|r| {
            let px = match r.params.get(x) {
                Some(ParamValue::Int(n)) => *n as f64,
                _ => return None,
            };
            Some(
                r.cells[i]
                    .iter()
                    .flat_map(|c| &c.values)
                    .filter_map(Value::number)
                    .map(move |v| (px, v))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect();
    let medians: Vec<(f64, f64)> = s
        .rows
        .iter()
        .filter_map(|r| {
            let px = match r.params.get(x) {
                Some(ParamValue::Int(n)) => *n as f64,
                _ => return None,
            };
            let c = r.cells[i].as_ref()?;
            let mut v: Vec<f64> = c.values.iter().filter_map(Value::number).collect();
            v.sort_by(f64::total_cmp);
            let n = v.len();
            (n > 0).then(|| {
                let m = if n % 2 == 1 {
                    v[n / 2]
                } else {
                    (v[n / 2 - 1] + v[n / 2]) / 2.0
                };
                (px, m)
            })
        })
        .collect();
    let (xmin, xmax) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (ymin, ymax) = points
        .iter()
        .fold((0f64, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let ymax = if ymax <= ymin { ymin + 1.0 } else { ymax };
    let log = xmin > 0.0 && xmax / xmin >= LOG_FROM_RATIO;
    let fx = |v: f64| if log { v.log2() } else { v };
    let (lo, hi) = if fx(xmax) > fx(xmin) {
        (fx(xmin), fx(xmax))
    } else {
        (fx(xmin) - 1.0, fx(xmin) + 1.0)
    };
    let plot_w = CHART_W - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = CHART_H - MARGIN_TOP - MARGIN_BOTTOM;
    // A little room at both ends so the end points do not sit on the frame.
    let pad = (hi - lo) * 0.05;
    let sx = |v: f64| MARGIN_LEFT + (fx(v) - lo + pad) / (hi - lo + 2.0 * pad) * plot_w;
    let sy = |v: f64| MARGIN_TOP + plot_h - (v - ymin) / (ymax - ymin) * plot_h;
    let _ = writeln!(
        out,
        r#"<g class="chart" data-observation="{}" transform="translate({ox:.1},{oy:.1})">"#,
        xml(obs)
    );
    let _ = writeln!(
        out,
        r#"<text class="chart-title" x="{:.1}" y="16" text-anchor="middle" font-weight="bold">{}</text>"#,
        CHART_W / 2.0,
        xml(obs)
    );
    let (left, right, top, bottom) = (
        MARGIN_LEFT,
        CHART_W - MARGIN_RIGHT,
        MARGIN_TOP,
        MARGIN_TOP + plot_h,
    );
    let _ = writeln!(
        out,
        r#"<path class="axes" d="M{left:.1},{top:.1} V{bottom:.1} H{right:.1}" fill="none" stroke="black"/>"#
    );
    let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    xs.dedup();
    for v in &xs {
        let px = sx(*v);
        let _ = writeln!(
            out,
            r#"<line x1="{px:.1}" y1="{bottom:.1}" x2="{px:.1}" y2="{:.1}" stroke="black"/><text class="x-tick" x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 4.0,
            bottom + 15.0,
            tick(*v)
        );
    }
    for v in ticks(ymin, ymax) {
        let py = sy(v);
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{py:.1}" x2="{right:.1}" y2="{py:.1}" stroke="#ddd"/><text class="y-tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left - 4.0,
            left - 6.0,
            py + 4.0,
            tick(v)
        );
    }
    let xlabel = if log {
        format!("{} (log scale)", s.axis(x))
    } else {
        s.axis(x)
    };
    let _ = writeln!(
        out,
        r#"<text class="x-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (left + right) / 2.0,
        CHART_H - 8.0,
        xml(&xlabel)
    );
    let _ = writeln!(
        out,
        r#"<text class="y-label" transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (top + bottom) / 2.0,
        xml(&s.axis(obs))
    );
    if medians.len() > 1 {
        let line: Vec<String> = medians
            .iter()
            .map(|(a, b)| format!("{:.1},{:.1}", sx(*a), sy(*b)))
            .collect();
        let _ = writeln!(
            out,
            r##"<polyline class="median" points="{}" fill="none" stroke="#3a6ea5" stroke-width="1.5"/>"##,
            line.join(" ")
        );
    }
    for (a, b) in &points {
        let _ = writeln!(
            out,
            r##"<circle class="point" cx="{:.1}" cy="{:.1}" r="3" fill="#3a6ea5"><title>{x}={}: {}</title></circle>"##,
            sx(*a),
            sy(*b),
            num(*a),
            num(*b)
        );
    }
    out.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{EntryEnv, ScenarioRef};
    use crate::report::{Exporter, Json, Markdown, Text};

    fn run(backlog: i64, connected: i64, ms: f64) -> Entry {
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
    fn swept() -> Vec<Entry> {
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

    #[test]
    fn the_svg_has_one_chart_per_numeric_observation_with_a_point_per_run() {
        let s = Sweep::of(&swept()).unwrap();
        let text = svg(std::slice::from_ref(&s)).unwrap();
        let doc = roxmltree::Document::parse(&text).expect("the SVG is XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let charts: Vec<roxmltree::Node> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("chart"))
            .collect();
        let names: Vec<&str> = charts
            .iter()
            .filter_map(|c| c.attribute("data-observation"))
            .collect();
        assert_eq!(
            names,
            ["connected", "took_ms"],
            "text values are not plotted"
        );
        for c in &charts {
            let points = c
                .descendants()
                .filter(|n| n.attribute("class") == Some("point"))
                .count();
            assert_eq!(points, 4, "one point per run");
            let labels: Vec<&str> = c
                .descendants()
                .filter(|n| matches!(n.attribute("class"), Some("x-label" | "y-label")))
                .filter_map(|n| n.text())
                .collect();
            assert_eq!(labels[0], "backlog");
            assert!(labels[1].starts_with(c.attribute("data-observation").unwrap()));
        }
        let took = charts[1]
            .descendants()
            .find(|n| n.attribute("class") == Some("y-label"))
            .and_then(|n| n.text());
        assert_eq!(took, Some("took_ms (ms)"));
    }

    #[test]
    fn nothing_to_plot_is_an_error_that_says_why() {
        assert_eq!(svg(&[]), Err(PlotError::NoSweep));
        let mut s = Sweep::of(&swept()).unwrap();
        s.observations.iter_mut().for_each(|o| o.numeric = false);
        assert!(matches!(svg(&[s]), Err(PlotError::NothingNumeric(_))));
    }

    #[test]
    fn a_wide_range_of_values_gets_a_logarithmic_axis() {
        let s = Sweep::of(&[run(1, 1, 1.0), run(4096, 2, 1.0), run(65536, 3, 1.0)]).unwrap();
        let text = svg(&[s]).unwrap();
        assert!(text.contains("backlog (log scale)"), "{text}");
    }
}
