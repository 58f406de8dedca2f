//! Sweeps: `--set` values that name several values, expanded into the grid of runs.
//!
//! A `--set NAME=VALUE` value may be
//! - one value: `backlog=16`, `payload=1MiB`, `mutex=true`;
//! - a list: `backlog=0,1,2,4,8,16` (commas inside parentheses belong to an expression:
//!   `payload=max(1KiB, 4KiB)` is one value);
//! - an inclusive range: `backlog=0..16` (step 1), `backlog=0..16:4` (0, 4, 8, 12, 16: an
//!   added step, which may carry the same units, `1KiB..4KiB:1KiB`), `message_size=1KiB..1MiB:x4`
//!   (1KiB, 4KiB, 16KiB, 64KiB, 256KiB, 1MiB: a factor); the last value is `hi` itself only
//!   when a step lands on it;
//! - a list of those: `backlog=0,1..4,16`.
//!
//! Bounds carry an integer with an optional unit (`B`, `KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`;
//! `ms`, `s`); both ends and an added step must be of one kind. The values come out in the
//! units the range was written in (`1KiB..4KiB` gives `1KiB`, `2KiB`, `3KiB`, `4KiB`).
//!
//! Several `--set` make a grid: every combination, the first `--set` varying slowest, as
//! nested loops written in the order given. Nothing here knows a scenario: whether each
//! value suits its parameter is [`Scenario::resolve_params`](crate::scenario::Scenario::resolve_params)'s
//! to say, for each point.

use crate::scenario::{quantity, ParamKind};

/// The most runs one grid may hold: beyond it a range is surely a typo (`0..100000`).
pub const MAX_POINTS: usize = 1000;

/// A `--set` that does not expand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    #[error("`--set {name}` is given twice; for several values write one list: --set {name}=A,B")]
    Twice { name: String },
    #[error("`--set {name}={text}`: {why}")]
    Value {
        name: String,
        text: String,
        why: String,
    },
    #[error("the sweep would make {points} runs, more than {MAX_POINTS}; use a larger step or fewer values")]
    TooMany { points: usize },
}

/// The grid of `sets` (`name`, `value` pairs as `--set` gives them): one list of
/// overrides per run, in order, the first name varying slowest. Without a list or range
/// it is one point, `sets` itself; without sets, one empty point.
pub fn expand(sets: &[(String, String)]) -> Result<Vec<Vec<(String, String)>>, SweepError> {
    let mut axes: Vec<(&str, Vec<String>)> = Vec::new();
    for (name, text) in sets {
        if axes.iter().any(|(n, _)| n == name) {
            return Err(SweepError::Twice { name: name.clone() });
        }
        let vals = values(text).map_err(|why| SweepError::Value {
            name: name.clone(),
            text: text.clone(),
            why,
        })?;
        axes.push((name, vals));
    }
    let points = axes
        .iter()
        .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
        .filter(|&n| n <= MAX_POINTS)
        .ok_or_else(|| SweepError::TooMany {
            points: axes
                .iter()
                .map(|(_, v)| v.len())
                .fold(1usize, usize::saturating_mul),
        })?;
    let mut grid = Vec::with_capacity(points);
    for i in 0..points {
        // Mixed radix, the last axis fastest.
        let mut rest = i;
        let mut point = vec![(String::new(), String::new()); axes.len()];
        for (slot, (name, vals)) in point.iter_mut().zip(&axes).rev() {
            *slot = ((*name).to_owned(), vals[rest % vals.len()].clone());
            rest /= vals.len();
        }
        grid.push(point);
    }
    Ok(grid)
}

/// The values one `--set` value names: itself, or its list and ranges expanded.
pub fn values(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in split_list(text) {
        let item = item.trim();
        if item.is_empty() {
            return Err("an empty value in the list".into());
        }
        match item.split_once("..") {
            Some((lo, hi)) => range(lo, hi, &mut out)?,
            None => out.push(item.to_owned()),
        }
        if out.len() > MAX_POINTS {
            return Err(format!("more than {MAX_POINTS} values"));
        }
    }
    Ok(out)
}

/// `text` split at commas outside parentheses.
fn split_list(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// How a range steps.
enum Step {
    Add(i64),
    Times(i64),
}

/// Expands `lo..hi[:step]` onto `out`.
fn range(lo: &str, rest: &str, out: &mut Vec<String>) -> Result<(), String> {
    let (hi, step) = match rest.split_once(':') {
        Some((hi, step)) => (hi, Some(step.trim())),
        None => (rest, None),
    };
    let bound = |t: &str| {
        quantity(t).ok_or_else(|| {
            format!(
                "`{}` is not a number (a range is LO..HI, LO..HI:STEP or LO..HI:xFACTOR)",
                t.trim()
            )
        })
    };
    let ((lo, lo_kind), (hi, hi_kind)) = (bound(lo)?, bound(hi)?);
    let kind = unit_kind(&lo_kind, &hi_kind)?;
    if lo > hi {
        return Err(format!(
            "the range runs down ({} > {}); write the smaller end first",
            kind.format_number(lo),
            kind.format_number(hi)
        ));
    }
    let step = match step {
        None => Step::Add(1),
        Some(s) => match s.strip_prefix('x') {
            Some(f) => match f.parse::<i64>() {
                Ok(f) if f >= 2 => Step::Times(f),
                _ => return Err(format!("`x{f}` is not a factor of 2 or more")),
            },
            None => {
                let (n, k) = bound(s)?;
                unit_kind(&kind, &k)?;
                if n <= 0 {
                    return Err(format!("the step must be above 0, not {s}"));
                }
                Step::Add(n)
            }
        },
    };
    if matches!(step, Step::Times(_)) && lo <= 0 {
        return Err("a range with a factor starts above 0".into());
    }
    let mut v = lo;
    while v <= hi {
        out.push(kind.format_number(v));
        if out.len() > MAX_POINTS {
            return Err(format!("more than {MAX_POINTS} values"));
        }
        let next = match step {
            Step::Add(n) => v.checked_add(n),
            Step::Times(f) => v.checked_mul(f),
        };
        match next {
            Some(n) => v = n,
            None => break,
        }
    }
    Ok(())
}

/// The kind two numbers of one range share: a plain integer takes the other's unit.
fn unit_kind(a: &ParamKind, b: &ParamKind) -> Result<ParamKind, String> {
    match (a, b) {
        (ParamKind::Int, k) | (k, ParamKind::Int) => Ok(k.clone()),
        (x, y) if x == y => Ok(x.clone()),
        _ => Err("a range mixes a size and a duration".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    fn vals(text: &str) -> Vec<String> {
        values(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    // ---- one value -------------------------------------------------------------

    #[test]
    fn a_single_value_is_one_point_unchanged() {
        let sets = [set("backlog", "16"), set("payload", "max(1KiB, 4KiB)")];
        assert_eq!(expand(&sets).unwrap(), vec![sets.to_vec()]);
    }

    #[test]
    fn no_sets_are_one_empty_point() {
        assert_eq!(expand(&[]).unwrap(), vec![Vec::<(String, String)>::new()]);
    }

    // ---- lists and ranges ------------------------------------------------------

    #[test]
    fn a_list_gives_its_values_in_order() {
        assert_eq!(vals("0,1,2,4, 8,16"), ["0", "1", "2", "4", "8", "16"]);
    }

    #[test]
    fn a_range_is_inclusive() {
        assert_eq!(vals("0..3"), ["0", "1", "2", "3"]);
        assert_eq!(vals("0..16:4"), ["0", "4", "8", "12", "16"]);
        assert_eq!(vals("0..10:4"), ["0", "4", "8"], "10 is not on a step");
        assert_eq!(vals("5..5"), ["5"]);
        assert_eq!(vals("-2..1"), ["-2", "-1", "0", "1"]);
    }

    #[test]
    fn a_range_keeps_its_units() {
        assert_eq!(vals("1KiB..4KiB:1KiB"), ["1KiB", "2KiB", "3KiB", "4KiB"]);
        assert_eq!(
            vals("1KiB..1MiB:x4"),
            ["1KiB", "4KiB", "16KiB", "64KiB", "256KiB", "1MiB"]
        );
        assert_eq!(vals("500ms..2s:500ms"), ["500ms", "1s", "1500ms", "2s"]);
    }

    #[test]
    fn ranges_and_values_mix_in_a_list() {
        assert_eq!(vals("0,2..4,16"), ["0", "2", "3", "4", "16"]);
    }

    #[test]
    fn bad_ranges_say_why() {
        for (text, why) in [
            ("4..0", "runs down"),
            ("0..4:0", "above 0"),
            ("0..64:x2", "starts above 0"),
            ("1..64:x1", "factor of 2"),
            ("a..4", "not a number"),
            ("1KiB..1s", "mixes"),
            ("1,,2", "empty value"),
            ("0..5000", "more than 1000"),
        ] {
            let e = values(text).expect_err(text);
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    // ---- grids -----------------------------------------------------------------

    #[test]
    fn several_sets_make_a_grid_with_the_first_varying_slowest() {
        let grid = expand(&[set("a", "1,2"), set("b", "x,y,z")]).unwrap();
        let flat: Vec<String> = grid
            .iter()
            .map(|p| format!("{}{}", p[0].1, p[1].1))
            .collect();
        assert_eq!(flat, ["1x", "1y", "1z", "2x", "2y", "2z"]);
        assert!(grid.iter().all(|p| p[0].0 == "a" && p[1].0 == "b"));
    }

    #[test]
    fn a_name_set_twice_is_refused() {
        let e = expand(&[set("a", "1"), set("a", "2")]).unwrap_err();
        assert_eq!(e, SweepError::Twice { name: "a".into() });
        assert!(e.to_string().contains("--set a=A,B"), "{e}");
    }

    #[test]
    fn a_grid_beyond_the_limit_is_refused_before_it_is_built() {
        let e = expand(&[set("a", "1..100"), set("b", "1..100")]).unwrap_err();
        assert_eq!(e, SweepError::TooMany { points: 10_000 });
    }
}
