//! Sweeps drawn as SVG (`--plot FILE`): one small chart per numeric observation against
//! the swept parameter, written by hand (it is simple XML).

use std::fmt::Write as _;

use super::sweep::{Sweep, SweepRow};
use crate::observe::Value;
use crate::scenario::ParamValue;

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
pub(super) fn xml(s: &str) -> String {
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

/// Where row `r` stands on the axis of parameter `x`: its integer value.
fn x_of(r: &SweepRow, x: &str) -> Option<f64> {
    match r.params.get(x) {
        Some(ParamValue::Int(n)) => Some(*n as f64),
        _ => None,
    }
}

/// One chart: observation `i` of `s` against parameter `x`, its top left at `(ox, oy)`.
fn chart(out: &mut String, s: &Sweep, x: &str, i: usize, ox: f64, oy: f64) {
    let obs = &s.observations[i].name;
    let points: Vec<(f64, f64)> = s
        .rows
        .iter()
        .filter_map(|r| {
            let px = x_of(r, x)?;
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
            let px = x_of(r, x)?;
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
    use crate::report::sweep::tests::{run, swept};

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
