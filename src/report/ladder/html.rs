//! The HTML page of `--format html`: every run's ladder inline, each under its title and
//! verdict, after a legend. The page is well-formed XML as well as HTML (every element
//! closed, every text escaped), so it can be checked with an XML parser.

use std::fmt::Write as _;

use super::draw::{AMBER, BLUE, GREEN, GREY, ORANGE, RED};
use crate::record::Record;
use crate::report::plot::xml;
use crate::report::verdicts::{check_text, failing, mark};
use crate::report::Ending;
use crate::verdict::Status;

const STYLE: &str = "body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-bottom: 0.2em; }
section.run { margin: 2em 0; border-top: 1px solid #ddd; padding-top: 0.5em; }
.verdict { font-weight: bold; } .pass { color: #2e7d32; } .fail { color: #c62828; } .other { color: #b7791f; }
.checks { font-family: monospace; font-size: 0.9em; } .legend p { max-width: 60em; }
.scroll { overflow-x: auto; }";

/// What opens the page: its head, title and legend.
pub(super) fn open(planned: usize) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    let _ = writeln!(
        out,
        "<title>tcplab: ladder diagrams of {planned} run{}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>tcplab: what went over the wire</h1>",
        if planned == 1 { "" } else { "s" }
    );
    out.push_str(&legend());
    out
}

/// One run's section: its title, verdict, failing checks and ladder.
pub(super) fn section(r: &Record, n: usize) -> String {
    let mut out = String::new();
    let class = match r.verdict.status {
        Status::Pass => "pass",
        Status::Deviation | Status::Incomplete => "fail",
        Status::NoExpectation => "other",
    };
    let _ = writeln!(
        out,
        "<section class=\"run\" id=\"run-{n}\">\n<h2>{} — {}</h2>",
        xml(&r.scenario.name),
        xml(&r.scenario.title)
    );
    let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "<p><span class=\"verdict {class}\">{}</span> · engine {} · {} {} · {}{}</p>",
        xml(&r.verdict.label()),
        xml(&r.engine),
        xml(&r.env.os),
        xml(&r.env.kernel_release),
        xml(&r.started_at),
        if params.is_empty() {
            String::new()
        } else {
            format!(" · {}", xml(&params.join(" ")))
        }
    );
    let bad: Vec<String> = r
        .verdict
        .checks
        .iter()
        .filter(|c| failing(c))
        .map(|c| format!("{} {}", mark(c.result), check_text(c, 0)))
        .chain(r.verdict.problems.iter().cloned())
        .collect();
    if !bad.is_empty() {
        out.push_str("<ul class=\"checks\">\n");
        for b in bad {
            let _ = writeln!(out, "<li>{}</li>", xml(&b));
        }
        out.push_str("</ul>\n");
    }
    let _ = writeln!(
        out,
        "<div class=\"scroll\">\n{}</div>\n</section>",
        super::untitled_svg(r)
    );
    out
}

/// What closes the page: why it ended early, if it did.
pub(super) fn close(ending: &Ending) -> String {
    let mut out = String::new();
    if let Some(d) = ending.describe() {
        let _ = writeln!(out, "<p class=\"ending\">{}</p>", xml(&d));
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The legend: what each mark means, drawn as the ladder draws it.
fn legend() -> String {
    const ROW_H: f64 = 20.0;
    let mut svg = String::new();
    let mut y = 14.0;
    let mut row = |svg: &mut String, glyph: String, text: &str| {
        let _ = writeln!(
            svg,
            r#"<g transform="translate(0,{y})">{glyph}<text x="90" y="4">{}</text></g>"#,
            xml(text)
        );
        y += ROW_H;
    };
    let line = |c: &str, dash: &str| {
        format!(
            r#"<line x1="8" y1="0" x2="66" y2="0" stroke="{c}" stroke-width="1.3"{dash}/><path d="M74,0 L66,-3.5 L66,3.5 Z" fill="{c}"/>"#
        )
    };
    row(
        &mut svg,
        line(BLUE, ""),
        "data segment: flags, seq:end, ack, len, win (sequence numbers relative)",
    );
    row(&mut svg, line(GREY, ""), "pure ACK");
    row(&mut svg, line(GREEN, ""), "SYN or FIN");
    row(&mut svg, line(RED, ""), "RST");
    row(
        &mut svg,
        line(ORANGE, r#" stroke-dasharray="6 3""#),
        "retransmission",
    );
    row(
        &mut svg,
        format!(
            r#"<line x1="8" y1="0" x2="40" y2="0" stroke="{BLUE}" stroke-width="1.3"/><path d="M35,-5 L45,5 M35,5 L45,-5" stroke="{RED}" stroke-width="2.2"/>"#
        ),
        "dropped on the wire (the wire's note in red), or never seen arriving",
    );
    row(
        &mut svg,
        format!(
            r#"<circle cx="40" cy="0" r="3.5" fill="{RED}"/><line x1="40" y1="0" x2="66" y2="0" stroke="{RED}" stroke-dasharray="2 2"/><path d="M74,0 L66,-3.5 L66,3.5 Z" fill="{RED}"/>"#
        ),
        "sent by the wire itself (injected RST), or seen arriving only",
    );
    row(
        &mut svg,
        format!(
            r##"<rect x="8" y="-6" width="66" height="12" fill="#eef3f9" stroke="{BLUE}" stroke-dasharray="3 3"/>"##
        ),
        "a train of data segments (and the ACKs coming back) folded into one band",
    );
    for (fill, stroke, text) in [
        (
            "#e8eef7",
            BLUE,
            "a socket call that succeeded, as tall as it took when it took 1 ms or more",
        ),
        (
            "#fdf3dc",
            AMBER,
            "a call that would block (EAGAIN, EINPROGRESS, a poll's deadline)",
        ),
        ("#fde0e0", RED, "a call that failed"),
    ] {
        row(
            &mut svg,
            format!(
                r#"<rect x="36" y="-5" width="10" height="10" fill="{fill}" stroke="{stroke}"/>"#
            ),
            text,
        );
    }
    row(
        &mut svg,
        format!(
            r##"<rect x="8" y="-6" width="66" height="12" fill="#f6f6f6"/><path d="M8,-6 L16,-9 L24,-6 L32,-9 L40,-6 L48,-9 L56,-6 L64,-9 L72,-6" fill="none" stroke="#aaaaaa"/><path d="M8,6 L16,3 L24,6 L32,3 L40,6 L48,3 L56,6 L64,3 L72,6" fill="none" stroke="{GREY}"/>"##
        ),
        "a long gap with nothing in it, cut (its length is written in it)",
    );
    format!(
        "<section class=\"legend\">\n<h2>Legend</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{y:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n{svg}</svg>\n<p>Time runs down and is not to scale: every label has a row of its own, and rows are further apart the longer the time between them; the ticks on the left are milliseconds since the scenario started. On a run over the wire each frame is drawn from when its host sent it to when the other host received it; on loopback a frame is seen once, so its arrow is nearly flat. Hover over an arrow or a call for its times.</p>\n</section>\n"
    )
}
