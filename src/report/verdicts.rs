//! What a verdict says in a line: a check against its expectation (`DIFF dial observed
//! ECONNREFUSED, expected EPIPE`), the failures of several runs grouped with how many
//! runs had each, and the terminal colours of verdict words and failing lines. The text
//! report, the engine view and JUnit's `<failure>` all say it so.

use crate::record::Record;
use crate::verdict::{Check, CheckResult, Status};

/// The width a run's terminal report keeps to: every line fits in this many columns,
/// except a word too long for it (a path, a URL), which keeps a line of its own.
pub const COLUMNS: usize = 100;

/// ANSI colours: a passing verdict green, a failing one and its DIFF lines bold red,
/// anything else (no expectation yet, cannot evaluate) yellow; then the reset.
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// The four-letter mark of a check's result, as the text report's check lines start.
pub fn mark(result: CheckResult) -> &'static str {
    match result {
        CheckResult::Holds => "ok  ",
        CheckResult::Differs => "DIFF",
        CheckResult::NotObserved => "MISS",
        CheckResult::Unevaluable => "??  ",
        CheckResult::NotApplicable => "n/a ",
    }
}

/// A check as one line without its mark: `dial  observed ECONNREFUSED, expected EPIPE`,
/// the observation name padded to `width`, and the check's note in brackets.
pub fn check_text(c: &Check, width: usize) -> String {
    let observed = c
        .observed
        .as_ref()
        .map_or("(not observed)".to_owned(), |o| o.to_string());
    let mut line = format!(
        "{:<width$}  observed {observed}, expected {}",
        c.observation, c.expected
    );
    if let Some(n) = &c.note {
        line.push_str(&format!(" ({n})"));
    }
    line
}

/// Whether a check is one that made its run fail (or could not be made).
pub fn failing(c: &Check) -> bool {
    matches!(
        c.result,
        CheckResult::Differs | CheckResult::NotObserved | CheckResult::Unevaluable
    )
}

/// The reasons the runs in `records` that did not pass failed, each distinct one once, in
/// the order first seen, with how many runs had it: the failing checks as `DIFF name
/// observed X, expected Y` and the problems (`watchdog: ...`).
pub fn distinct_failures(records: &[&Record]) -> Vec<(String, usize)> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for r in records.iter().filter(|r| !r.verdict.status.is_success()) {
        let mut mine: Vec<String> = r
            .verdict
            .checks
            .iter()
            .filter(|c| failing(c))
            .map(|c| format!("{} {}", mark(c.result), check_text(c, 0)))
            .collect();
        mine.extend(r.verdict.problems.iter().cloned());
        mine.dedup();
        for line in mine {
            match seen.iter_mut().find(|(l, _)| *l == line) {
                Some((_, n)) => *n += 1,
                None => seen.push((line, 1)),
            }
        }
    }
    seen
}

/// Writes why the runs in `records` that did not pass failed: each distinct failing
/// check or problem once, with how many runs had it when there were several, each line
/// starting with `indent` and broken to fit [`COLUMNS`].
pub fn failures(out: &mut String, records: &[&Record], indent: &str, paint: Paint) {
    let total = records.len();
    for (line, n) in distinct_failures(records) {
        let text = if total > 1 {
            format!("{indent}{line} ({n} of {total} runs)")
        } else {
            format!("{indent}{line}")
        };
        for piece in wrap(&text, COLUMNS, indent.len() + 5) {
            out.push_str(&paint.failure(&piece));
            out.push('\n');
        }
    }
}

/// `1 run` / `3 runs`.
pub fn runs(n: usize) -> String {
    format!("{n} run{}", if n == 1 { "" } else { "s" })
}

/// Terminal colours, on or off.
#[derive(Clone, Copy, Default)]
pub struct Paint {
    pub on: bool,
}

impl Paint {
    fn with(self, code: &str, text: &str) -> String {
        if self.on {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// A verdict's words in the colour of its status.
    pub fn verdict(self, status: Status, text: &str) -> String {
        let code = match status {
            Status::Pass => GREEN,
            Status::Deviation | Status::Incomplete => RED,
            Status::NoExpectation => YELLOW,
        };
        self.with(code, text)
    }

    /// Words that say how often a verdict held: green when always, red otherwise.
    pub fn held(self, held: usize, of: usize, text: &str) -> String {
        self.with(if held == of { GREEN } else { RED }, text)
    }

    /// A line that says why a run failed.
    pub fn failure(self, text: &str) -> String {
        self.with(RED, text)
    }

    /// A check line: red when the check failed, plain otherwise.
    pub fn check(self, result: CheckResult, text: &str) -> String {
        match result {
            CheckResult::Differs | CheckResult::NotObserved => self.with(RED, text),
            CheckResult::Unevaluable => self.with(YELLOW, text),
            _ => text.to_owned(),
        }
    }
}

/// How many columns `s` takes on a terminal: its characters less the ANSI escapes.
pub fn visible_width(s: &str) -> usize {
    let mut n = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte (a letter).
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            n += 1;
        }
    }
    n
}

/// Breaks `line` at spaces into pieces of at most `width` columns; the pieces after the
/// first are indented by `indent` spaces. The spacing within a piece is kept (a table's
/// columns stay aligned); a word longer than the room left stays whole on a line of its
/// own (a path, a URL).
pub fn wrap(line: &str, width: usize, indent: usize) -> Vec<String> {
    if visible_width(line) <= width {
        return vec![line.to_owned()];
    }
    let mut out = Vec::new();
    let mut rest = line;
    let mut pad = 0;
    loop {
        let room = width.saturating_sub(pad);
        if visible_width(rest) <= room {
            out.push(format!("{}{rest}", " ".repeat(pad)));
            break;
        }
        // The last space at which the piece before it fits; else the first space after
        // the word that does not fit. A space among the leading ones is no break.
        let lead = rest.len() - rest.trim_start_matches(' ').len();
        let spaces: Vec<usize> = rest
            .char_indices()
            .filter(|&(i, c)| c == ' ' && i > lead)
            .map(|(i, _)| i)
            .collect();
        let fits = spaces
            .iter()
            .copied()
            .rev()
            .find(|&i| visible_width(rest[..i].trim_end()) <= room);
        let Some(cut) = fits.or_else(|| spaces.first().copied()) else {
            out.push(format!("{}{rest}", " ".repeat(pad)));
            break;
        };
        out.push(format!("{}{}", " ".repeat(pad), rest[..cut].trim_end()));
        rest = rest[cut..].trim_start_matches(' ');
        pad = indent;
        if rest.is_empty() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spacing_within_a_piece_is_kept() {
        let line = format!("  a    b  {}", "c ".repeat(20));
        assert!(wrap(&line, 20, 4)[0].starts_with("  a    b  c"));
    }

    #[test]
    fn a_short_line_is_left_alone() {
        assert_eq!(wrap("  a b  c", 100, 4), vec!["  a b  c"]);
    }

    #[test]
    fn a_long_line_breaks_at_spaces_with_the_continuations_indented() {
        let line = format!("  {}", "word ".repeat(40));
        let pieces = wrap(&line, 30, 6);
        assert!(pieces.len() > 1);
        assert!(pieces.iter().all(|p| p.chars().count() <= 30), "{pieces:?}");
        assert!(pieces[1].starts_with("      word"));
        let words: usize = pieces.iter().map(|p| p.split_whitespace().count()).sum();
        assert_eq!(words, 40);
    }

    #[test]
    fn a_word_longer_than_the_width_stays_whole() {
        let long = "x".repeat(50);
        let pieces = wrap(&format!("a {long} b"), 20, 2);
        assert_eq!(
            pieces,
            vec!["a".to_owned(), format!("  {long}"), "  b".to_owned()]
        );
    }

    #[test]
    fn escapes_take_no_columns() {
        let p = Paint { on: true };
        assert_eq!(visible_width(&p.failure("DIFF")), 4);
    }
}
