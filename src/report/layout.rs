//! Plain-text layout for the views: the width a table keeps to, and lines wrapped to fit.

use std::fmt::Write as _;

/// Terminal colour for a differing row's cells (ANSI bold yellow) and the reset.
pub(super) const HIGHLIGHT: &str = "\x1b[1;33m";
pub(super) const RESET: &str = "\x1b[0m";

/// The widest the text table gets; cells wrap to fit, the full text is in JSON and
/// Markdown.
pub const TEXT_WIDTH: usize = 100;

/// A column is not narrowed below this many characters to make a table fit.
pub(super) const MIN_CELL: usize = 8;
/// The most a scenario, parameters or observation column takes before it wraps...
pub(super) const NAME_CELL: usize = 22;
/// ...and an environment's column, when choosing how many fit side by side.
pub(super) const ENV_CELL: usize = 18;

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
