//! The ladder as SVG: lanes side by side, time down, each packet an arrow across the gap
//! between its lanes, each call a box beside its actor's lane. Labels are monospace, so
//! their widths are known without a font ([`CHAR_W`]); every label has a row of its own
//! (see `axis`), so no two labels share a height, and each has a white ground so an
//! arrow passing behind it does not cross its letters.

use std::fmt::Write as _;

use super::axis::{duration, Axis, Rows, ROW};
use super::model::{Arrow, CallState, End, Fate, Kind, Ladder, LONG_CALL_MS};
use crate::record::Record;
use crate::report::plot::xml;
use crate::verdict::Status;

/// Labels are 11 px monospace (the SVG's font size): about 0.6 em a character.
pub(super) const CHAR_W: f64 = 6.7;
/// The time axis on the left, the margin around everything.
const AXIS_W: f64 = 76.0;
const MARGIN: f64 = 14.0;
/// The diagram's title lines.
const HEAD_H: f64 = 48.0;
/// A lane's name, and each line under it.
const LANE_NAME_H: f64 = 18.0;
const LANE_LINE_H: f64 = 13.0;
/// A call's box: its width, and its height when the call was short.
const BOX_W: f64 = 10.0;
const BOX_H: f64 = 10.0;
/// The space between two lanes: room for the longest label, within these bounds.
const GAP_MIN: f64 = 300.0;
const GAP_MAX: f64 = 720.0;
/// A call's label is cut to this many characters (the box's tooltip has it all).
const CALL_CHARS: usize = 44;
/// How far down a loopback arrow's head is from its tail: sent and received at the same
/// instant, drawn nearly flat.
const SLANT: f64 = 3.0;
/// An arrowhead's length and half width.
const HEAD_LEN: f64 = 8.0;
const HEAD_HALF: f64 = 3.5;

/// Colours: the plot's blue for data, grey for pure ACKs, green for SYN and FIN, red
/// for RST and failures, orange for retransmissions, amber for calls that would block.
pub(super) const BLUE: &str = "#3a6ea5";
pub(super) const GREY: &str = "#777777";
pub(super) const GREEN: &str = "#2e7d32";
pub(super) const RED: &str = "#c62828";
pub(super) const ORANGE: &str = "#e67e00";
pub(super) const PURPLE: &str = "#8e24aa";
pub(super) const AMBER: &str = "#b7791f";

/// The stroke colour of an arrow.
pub(super) fn colour(kind: Kind, retransmission: bool) -> &'static str {
    match kind {
        Kind::Rst => RED,
        _ if retransmission => ORANGE,
        Kind::Data => BLUE,
        Kind::Ack => GREY,
        Kind::Control => GREEN,
        Kind::Icmp => PURPLE,
    }
}

fn kind_class(kind: Kind) -> &'static str {
    match kind {
        Kind::Data => "data",
        Kind::Ack => "ack",
        Kind::Control => "control",
        Kind::Rst => "rst",
        Kind::Icmp => "icmp",
    }
}

/// The text an arrow carries: its label, and what the wire did.
fn arrow_text(a: &Arrow) -> (String, Option<String>) {
    let note = match &a.fate {
        Fate::Delivered => None,
        Fate::Dropped(n) | Fate::FromWire(n) => Some(n.clone()),
    };
    let mut label = a.label.clone();
    if a.retransmission {
        label.push_str(" (retransmission)");
    }
    (label, note)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `s` cut to `n` characters, `…` standing for the rest.
fn cut(s: &str, n: usize) -> String {
    if chars(s) <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Rows asked for by one arrow: its tail, and when its head is later, its label and head.
struct ArrowRows {
    start: usize,
    label: Option<usize>,
    end: Option<usize>,
}

/// The SVG of one record's ladder; `titled`: with the run's title and verdict at its top
/// (the HTML page has them in its own heading).
pub(super) fn svg(l: &Ladder, r: &Record, titled: bool) -> String {
    let head_h = if titled { HEAD_H } else { 8.0 };
    // --- Rows: every tail, head and label of an arrow, every call, every band --------
    let mut rows = Rows::default();
    let arrow_rows: Vec<ArrowRows> = l
        .arrows
        .iter()
        .map(|a| {
            let start = rows.add(a.start);
            if a.end > a.start {
                ArrowRows {
                    start,
                    label: Some(rows.add((a.start + a.end) / 2.0)),
                    end: Some(rows.add(a.end)),
                }
            } else {
                ArrowRows {
                    start,
                    label: None,
                    end: None,
                }
            }
        })
        .collect();
    let fold_rows: Vec<(usize, usize, usize)> = l
        .folds
        .iter()
        .map(|f| {
            rows.keep_whole(f.start, f.end);
            (
                rows.add(f.start),
                rows.add((f.start + f.end) / 2.0),
                rows.add(f.end),
            )
        })
        .collect();
    let call_rows: Vec<(usize, Option<usize>)> = l
        .calls
        .iter()
        .map(|c| {
            let long = c.end - c.start >= LONG_CALL_MS;
            (rows.add(c.start), long.then(|| rows.add(c.end)))
        })
        .collect();

    // --- Columns and lanes, left to right ------------------------------------------
    let header_lines = l.lanes.iter().map(|x| x.lines.len()).max().unwrap_or(0);
    let lanes_top = head_h + LANE_NAME_H + LANE_LINE_H * header_lines as f64 + 10.0;
    let axis = Axis::lay(&rows, lanes_top + ROW);
    let col_w: Vec<f64> = (0..l.columns.len())
        .map(|c| {
            let n = l
                .calls
                .iter()
                .filter(|x| x.column == c)
                .map(|x| chars(&x.label).min(CALL_CHARS))
                .max()
                .unwrap_or(0)
                .max(chars(&l.columns[c].actor));
            BOX_W + 6.0 + n as f64 * CHAR_W + 10.0
        })
        .collect();
    let longest = l
        .arrows
        .iter()
        .map(|a| {
            let (t, n) = arrow_text(a);
            chars(&t) + n.map_or(0, |n| chars(&n) + 3)
        })
        .chain(l.folds.iter().map(|f| chars(&f.label)))
        .max()
        .unwrap_or(0);
    let gap = (longest as f64 * CHAR_W + 60.0).clamp(GAP_MIN, GAP_MAX);
    let label_chars = ((gap - 24.0) / CHAR_W) as usize;
    let mut lane_x = vec![0.0; l.lanes.len()];
    // Per column: the box's left edge, the label's x, and whether it runs leftwards.
    let mut col_at = vec![(0.0, 0.0, false); l.columns.len()];
    let mut x = AXIS_W + MARGIN;
    for (i, lx) in lane_x.iter_mut().enumerate() {
        let mine: Vec<usize> = (0..l.columns.len())
            .filter(|&c| l.columns[c].lane == i)
            .collect();
        let name_w = chars(&l.lanes[i].name)
            .max(l.lanes[i].lines.iter().map(|s| chars(s)).max().unwrap_or(0))
            as f64
            * CHAR_W;
        if i == 0 {
            // The first lane's calls on its left, the nearest column first.
            for &c in mine.iter().rev() {
                col_at[c] = (x + col_w[c] - BOX_W, x + col_w[c] - BOX_W - 5.0, true);
                x += col_w[c];
            }
            x = x.max(AXIS_W + MARGIN + name_w / 2.0 + BOX_W / 2.0);
            *lx = x - BOX_W / 2.0;
            x = *lx + BOX_W / 2.0;
        } else {
            *lx = x + gap;
            let mut cx = *lx - BOX_W / 2.0;
            for &c in &mine {
                col_at[c] = (cx, cx + BOX_W + 5.0, false);
                cx += col_w[c];
            }
            x = cx.max(*lx + name_w / 2.0);
        }
    }
    let width = x + 2.0 * MARGIN;
    let wire_x = (l.wire.is_some() && l.lanes.len() > 1).then(|| (lane_x[0] + lane_x[1]) / 2.0);
    let height = axis.bottom + if l.hidden_calls > 0 { 2.0 * ROW } else { ROW };

    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    out.push('\n');
    let _ = writeln!(
        out,
        r#"<rect width="{width:.0}" height="{height:.0}" fill="white"/>"#
    );

    // --- Title ----------------------------------------------------------------------
    if titled {
        title(&mut out, r);
    }

    // --- Lanes, the wire, the axis ----------------------------------------------------
    let bottom = axis.bottom;
    for (i, lane) in l.lanes.iter().enumerate() {
        let lx = lane_x[i];
        let _ = writeln!(
            out,
            r#"<text class="lane-name" x="{lx:.1}" y="{:.1}" text-anchor="middle" font-size="13" font-weight="bold">{}</text>"#,
            head_h + 13.0,
            xml(&lane.name)
        );
        for (k, line) in lane.lines.iter().enumerate() {
            let _ = writeln!(
                out,
                r#"<text class="lane-line" x="{lx:.1}" y="{:.1}" text-anchor="middle" fill="{GREY}">{}</text>"#,
                head_h + LANE_NAME_H + 10.0 + LANE_LINE_H * k as f64,
                xml(line)
            );
        }
        let _ = writeln!(
            out,
            r##"<line class="lane" x1="{lx:.1}" y1="{lanes_top:.1}" x2="{lx:.1}" y2="{bottom:.1}" stroke="#999999" stroke-width="1.5"/>"##
        );
    }
    if let (Some(wx), Some(seed)) = (wire_x, l.wire) {
        let _ = writeln!(
            out,
            r#"<text class="lane-name" x="{wx:.1}" y="{:.1}" text-anchor="middle" fill="{GREY}">wire</text>"#,
            head_h + 13.0
        );
        if let Some(s) = seed {
            let _ = writeln!(
                out,
                r#"<text class="lane-line" x="{wx:.1}" y="{:.1}" text-anchor="middle" fill="{GREY}">seed {s}</text>"#,
                head_h + LANE_NAME_H + 10.0
            );
        }
        let _ = writeln!(
            out,
            r##"<line class="wire" x1="{wx:.1}" y1="{lanes_top:.1}" x2="{wx:.1}" y2="{bottom:.1}" stroke="#cccccc" stroke-dasharray="2 4"/>"##
        );
    }
    let ax = AXIS_W - 6.0;
    let _ = writeln!(
        out,
        r##"<text class="axis-name" x="{:.1}" y="{:.1}" text-anchor="end" fill="{GREY}">ms</text><line class="axis" x1="{ax}" y1="{lanes_top:.1}" x2="{ax}" y2="{bottom:.1}" stroke="#bbbbbb"/>"##,
        ax - 4.0,
        lanes_top - 2.0
    );
    for (y, t) in axis.ticks() {
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{ax}" y2="{y:.1}" stroke="#bbbbbb"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end" font-family="monospace" fill="{GREY}">{}</text>"##,
            ax - 4.0,
            ax - 6.0,
            y + 4.0,
            xml(&t)
        );
    }

    // --- Folded trains ----------------------------------------------------------------
    for (f, &(s, m, e)) in l.folds.iter().zip(&fold_rows) {
        let (x1, x2) = (
            lane_x[f.from.min(f.to)] + BOX_W,
            lane_x[f.from.max(f.to)] - BOX_W,
        );
        let (y1, y2) = (axis.y(s) - ROW / 2.0, axis.y(e) + ROW / 2.0);
        let _ = writeln!(
            out,
            r##"<g class="fold"><rect x="{x1:.1}" y="{y1:.1}" width="{:.1}" height="{:.1}" fill="#eef3f9" stroke="{BLUE}" stroke-dasharray="3 3"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-family="monospace" fill="{BLUE}">{}</text></g>"##,
            x2 - x1,
            y2 - y1,
            (x1 + x2) / 2.0,
            axis.y(m) + 4.0,
            xml(&cut(&f.label, label_chars))
        );
    }

    // --- Cut gaps ------------------------------------------------------------------------
    for b in &axis.breaks {
        let zig = |y: f64| {
            let mut d = format!("M{MARGIN},{y:.1}");
            let mut zx = MARGIN;
            let mut up = true;
            while zx < width - MARGIN {
                zx += 8.0;
                let _ = write!(d, " L{zx:.1},{:.1}", if up { y - 3.0 } else { y + 3.0 });
                up = !up;
            }
            d
        };
        let _ = writeln!(
            out,
            r##"<g class="gap"><rect x="0" y="{:.1}" width="{width:.0}" height="{:.1}" fill="#f6f6f6"/><path d="{}" fill="none" stroke="#aaaaaa"/><path d="{}" fill="none" stroke="#aaaaaa"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{GREY}" font-style="italic">{} later (not to scale)</text></g>"##,
            b.top,
            b.bottom - b.top,
            zig(b.top),
            zig(b.bottom),
            width / 2.0,
            (b.top + b.bottom) / 2.0 + 4.0,
            xml(&duration(b.ms))
        );
    }

    // --- Arrows: lines first, labels above them all --------------------------------------
    let end_x = |e: End, toward: f64| match e {
        End::Lane(i) => {
            let lx = lane_x[i];
            if toward > lx {
                lx + BOX_W / 2.0
            } else {
                lx - BOX_W / 2.0
            }
        }
        End::Wire => wire_x.unwrap_or((lane_x[0] + lane_x[lane_x.len() - 1]) / 2.0),
    };
    let lane_of = |e: End, other: End| match (e, other) {
        (End::Lane(i), _) => i,
        (End::Wire, End::Lane(0)) => 1.min(l.lanes.len() - 1),
        (End::Wire, _) => 0,
    };
    let mut labels = String::new();
    for (a, ar) in l.arrows.iter().zip(&arrow_rows) {
        let (la, lb) = (lane_of(a.from, a.to), lane_of(a.to, a.from));
        let (ca, cb) = (lane_x[la], lane_x[lb]);
        let x1 = end_x(a.from, cb);
        let y1 = axis.y(ar.start);
        let full_x2 = end_x(a.to, ca);
        let (x2, y2) = match (&a.fate, ar.end) {
            (Fate::Dropped(_), _) if a.to != End::Wire => ((x1 + full_x2) / 2.0, y1 + SLANT),
            (_, Some(e)) => (full_x2, axis.y(e)),
            (_, None) => (full_x2, y1 + SLANT),
        };
        let stroke = colour(a.kind, a.retransmission);
        let mut class = format!("arrow {}", kind_class(a.kind));
        let mut dash = "";
        if a.retransmission {
            class.push_str(" retransmission");
            dash = r#" stroke-dasharray="6 3""#;
        }
        match a.fate {
            Fate::Dropped(_) => class.push_str(" dropped"),
            Fate::FromWire(_) => {
                class.push_str(" from-wire");
                dash = r#" stroke-dasharray="2 2""#;
            }
            Fate::Delivered => {}
        }
        let (text, note) = arrow_text(a);
        let tooltip = match &note {
            Some(n) => format!("{text} · {n} · {:.3} → {:.3} ms", a.start, a.end),
            None => format!("{text} · {:.3} → {:.3} ms", a.start, a.end),
        };
        let _ = writeln!(
            out,
            r#"<g class="{class}"><title>{}</title><line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="1.3"{dash}/>"#,
            xml(&tooltip)
        );
        match a.fate {
            Fate::Dropped(_) => {
                let _ = writeln!(
                    out,
                    r#"<path class="drop-mark" d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="{RED}" stroke-width="2.2"/>"#,
                    x2 - 5.0,
                    y2 - 5.0,
                    x2 + 5.0,
                    y2 + 5.0,
                    x2 - 5.0,
                    y2 + 5.0,
                    x2 + 5.0,
                    y2 - 5.0
                );
            }
            _ => {
                let (dx, dy) = (x2 - x1, y2 - y1);
                let n = (dx * dx + dy * dy).sqrt().max(1e-9);
                let (ux, uy) = (dx / n, dy / n);
                let (bx, by) = (x2 - ux * HEAD_LEN, y2 - uy * HEAD_LEN);
                let _ = writeln!(
                    out,
                    r#"<path class="head" d="M{x2:.1},{y2:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="{stroke}"/>"#,
                    bx - uy * HEAD_HALF,
                    by + ux * HEAD_HALF,
                    bx + uy * HEAD_HALF,
                    by - ux * HEAD_HALF
                );
            }
        }
        if matches!(a.fate, Fate::FromWire(_)) {
            let _ = writeln!(
                out,
                r#"<circle class="inject-mark" cx="{x1:.1}" cy="{y1:.1}" r="3.5" fill="{RED}"/>"#
            );
        }
        out.push_str("</g>\n");
        // The label: on its own row, centred where the arrow crosses that row, kept
        // within the gap between the arrow's lanes.
        let ly = ar.label.map_or((y1 + y2) / 2.0, |k| axis.y(k));
        let cross = if (y2 - y1).abs() > 1e-9 {
            x1 + (ly - y1) / (y2 - y1) * (x2 - x1)
        } else {
            (x1 + full_x2) / 2.0
        };
        let whole = match &note {
            Some(n) => format!("{text} · {n}"),
            None => text.clone(),
        };
        let shown = cut(&whole, label_chars);
        let w = chars(&shown) as f64 * CHAR_W;
        let (lo, hi) = (ca.min(cb) + BOX_W, ca.max(cb) - BOX_W);
        let cx = if hi - lo > w {
            cross.clamp(lo + w / 2.0, hi - w / 2.0)
        } else {
            (lo + hi) / 2.0
        };
        let body = match (&note, shown == whole) {
            (Some(n), true) => format!(
                r#"{} · <tspan class="note" fill="{RED}" font-weight="bold">{}</tspan>"#,
                xml(&text),
                xml(n)
            ),
            _ => xml(&shown),
        };
        // A white ground under the label: the arrow (and any other passing behind)
        // stops at its letters.
        let _ = writeln!(
            labels,
            r#"<rect class="label-ground" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="white"/><text class="packet-label" x="{cx:.1}" y="{:.1}" text-anchor="middle" font-family="monospace" fill="{stroke}">{body}</text>"#,
            cx - w / 2.0 - 2.0,
            ly - 6.0,
            w + 4.0,
            12.0,
            ly + 4.0
        );
    }

    // --- Calls --------------------------------------------------------------------------
    for (c, &(s, e)) in l.calls.iter().zip(&call_rows) {
        let (bx, tx, leftwards) = col_at[c.column];
        let y = axis.y(s);
        let (top, h) = match e {
            Some(e) => (y - BOX_H / 2.0, axis.y(e) - y + BOX_H / 2.0),
            None => (y - BOX_H / 2.0, BOX_H),
        };
        let (fill, stroke, class, weight) = match c.state {
            CallState::Ok => ("#e8eef7", BLUE, "call", "normal"),
            CallState::WouldBlock => ("#fdf3dc", AMBER, "call would-block", "normal"),
            CallState::Failed => ("#fde0e0", RED, "call failed", "bold"),
        };
        let text_fill = if c.state == CallState::Ok {
            "#222222"
        } else {
            stroke
        };
        let anchor = if leftwards { "end" } else { "start" };
        let _ = writeln!(
            out,
            r#"<g class="{class}"><title>{}</title><rect x="{bx:.1}" y="{top:.1}" width="{BOX_W}" height="{h:.1}" fill="{fill}" stroke="{stroke}"/><text x="{tx:.1}" y="{:.1}" text-anchor="{anchor}" font-family="monospace" font-weight="{weight}" fill="{text_fill}">{}</text></g>"#,
            xml(&c.title),
            y + 4.0,
            xml(&cut(&c.label, CALL_CHARS))
        );
    }
    out.push_str(&labels);
    if l.hidden_calls > 0 {
        let _ = writeln!(
            out,
            r#"<text class="hidden-calls" x="{MARGIN}" y="{:.1}" fill="{GREY}">… {} more calls not drawn (see the record)</text>"#,
            axis.bottom + ROW,
            l.hidden_calls
        );
    }
    out.push_str("</svg>\n");
    out
}

/// The run's title and verdict, on two lines.
fn title(out: &mut String, r: &Record) {
    let status_colour = match r.verdict.status {
        Status::Pass => GREEN,
        Status::Deviation | Status::Incomplete => RED,
        Status::NoExpectation => AMBER,
    };
    let _ = writeln!(
        out,
        r#"<text class="title" x="{MARGIN}" y="20" font-size="14" font-weight="bold">{}</text>"#,
        xml(&format!("{} — {}", r.scenario.name, r.scenario.title))
    );
    let _ = writeln!(
        out,
        r#"<text class="subtitle" x="{MARGIN}" y="38"><tspan class="verdict" fill="{status_colour}" font-weight="bold">{}</tspan> · engine {} · {} · {}</text>"#,
        xml(&r.verdict.label()),
        xml(&r.engine),
        xml(&r.env.os),
        xml(&r.started_at)
    );
}
