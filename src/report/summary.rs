//! What several runs saw of one observation, and the one rule for when two such
//! summaries differ.
//!
//! Every view of repeated values uses it: `--repeat N` (min, median, max), `--engine all`
//! (one cell per engine) and `tcplab compare` (one cell per environment). The views print
//! numbers with their own precision; what is summarised, and what counts as different,
//! is decided here once.

use crate::observe::Value;

/// Times closer than this many milliseconds count as the same...
const SAME_WITHIN_MS: f64 = 1.0;
/// ...or than this fraction of the larger one: time varies from run to run.
const SAME_WITHIN_FRACTION: f64 = 0.1;

/// The values one observation took over several runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How many values were summarised (runs that made the observation).
    pub n: usize,
    pub seen: Seen,
}

/// The shape of a [`Summary`].
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// Every value a count or a time: their range and median. `ms` when they are times.
    Numbers {
        min: f64,
        median: f64,
        max: f64,
        ms: bool,
    },
    /// Anything else (or nothing at all): each distinct value, told apart by how it
    /// prints, with how often it was seen, in the order first seen.
    Distinct(Vec<(Value, usize)>),
}

impl Summary {
    /// Summarises `values`; none at all is an empty [`Seen::Distinct`] (not observed).
    pub fn of<'a>(values: impl IntoIterator<Item = &'a Value>) -> Summary {
        let values: Vec<&Value> = values.into_iter().collect();
        let n = values.len();
        let numbers: Vec<f64> = values.iter().filter_map(|v| v.number()).collect();
        if n > 0 && numbers.len() == n {
            let mut sorted = numbers;
            sorted.sort_by(f64::total_cmp);
            let median = if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            };
            let ms = values.iter().any(|v| matches!(v, Value::Ms(_)));
            return Summary {
                n,
                seen: Seen::Numbers {
                    min: sorted[0],
                    median,
                    max: sorted[n - 1],
                    ms,
                },
            };
        }
        let mut distinct: Vec<(Value, usize, String)> = Vec::new();
        for v in values {
            let text = v.to_string();
            match distinct.iter_mut().find(|(_, _, t)| *t == text) {
                Some((_, count, _)) => *count += 1,
                None => distinct.push((v.clone(), 1, text)),
            }
        }
        Summary {
            n,
            seen: Seen::Distinct(distinct.into_iter().map(|(v, c, _)| (v, c)).collect()),
        }
    }

    /// True when nothing was observed.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The one rule for "these differ". Counts differ when their ranges do; times when
    /// their ranges lie further apart than run-to-run variation (1 ms, or 10% of the
    /// larger time); other values when the sets of distinct values differ (how often
    /// each was seen, and in which order, does not matter). Numbers and other values, or
    /// something and nothing, always differ.
    pub fn differs_from(&self, other: &Summary) -> bool {
        match (&self.seen, &other.seen) {
            (
                &Seen::Numbers {
                    min: a0,
                    max: a1,
                    ms: a_ms,
                    ..
                },
                &Seen::Numbers {
                    min: b0,
                    max: b1,
                    ms: b_ms,
                    ..
                },
            ) => {
                if a_ms || b_ms {
                    let slack = SAME_WITHIN_MS.max(SAME_WITHIN_FRACTION * a1.max(b1));
                    a0 > b1 + slack || b0 > a1 + slack
                } else {
                    (a0, a1) != (b0, b1)
                }
            }
            (Seen::Distinct(a), Seen::Distinct(b)) => {
                let texts = |d: &[(Value, usize)]| {
                    let mut t: Vec<String> = d.iter().map(|(v, _)| v.to_string()).collect();
                    t.sort();
                    t
                };
                texts(a) != texts(b)
            }
            _ => true,
        }
    }

    /// `min to max` with each end written by `one`, or one value when they are equal.
    /// `None` for values that are not numbers.
    pub fn range(&self, one: impl Fn(f64) -> String) -> Option<String> {
        match self.seen {
            Seen::Numbers { min, max, .. } if min == max => Some(one(min)),
            Seen::Numbers { min, max, .. } => Some(format!("{} to {}", one(min), one(max))),
            Seen::Distinct(_) => None,
        }
    }

    /// The distinct values as printed, each with `(xN)`, joined by `sep`.
    pub fn counted(&self, sep: &str) -> String {
        match &self.seen {
            Seen::Distinct(d) => d
                .iter()
                .map(|(v, c)| format!("{v} (x{c})"))
                .collect::<Vec<_>>()
                .join(sep),
            Seen::Numbers { .. } => String::new(),
        }
    }
}

/// True when any two of `summaries` differ ([`Summary::differs_from`]).
pub fn any_differ<'a>(summaries: impl IntoIterator<Item = &'a Summary>) -> bool {
    let all: Vec<&Summary> = summaries.into_iter().collect();
    all.iter()
        .enumerate()
        .any(|(i, a)| all[i + 1..].iter().any(|b| a.differs_from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[i64]) -> Summary {
        Summary::of(&v.iter().map(|&n| Value::Int(n)).collect::<Vec<_>>())
    }

    fn ms(v: &[f64]) -> Summary {
        Summary::of(&v.iter().map(|&n| Value::Ms(n)).collect::<Vec<_>>())
    }

    fn texts(v: &[&str]) -> Summary {
        Summary::of(
            &v.iter()
                .map(|t| Value::Text((*t).into()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn numbers_give_min_median_and_max() {
        let s = ints(&[7, 5, 6, 9]);
        assert_eq!(s.n, 4);
        assert_eq!(
            s.seen,
            Seen::Numbers {
                min: 5.0,
                median: 6.5,
                max: 9.0,
                ms: false
            }
        );
        assert_eq!(s.range(|x| x.to_string()).unwrap(), "5 to 9");
        assert_eq!(ints(&[3, 3]).range(|x| x.to_string()).unwrap(), "3");
    }

    #[test]
    fn other_values_are_counted_in_the_order_first_seen() {
        let s = texts(&["EPIPE", "ECONNRESET", "EPIPE"]);
        assert_eq!(s.counted(" / "), "EPIPE (x2) / ECONNRESET (x1)");
    }

    #[test]
    fn counts_differ_when_their_ranges_do() {
        assert!(!ints(&[5, 7]).differs_from(&ints(&[7, 6, 5])));
        assert!(ints(&[5, 7]).differs_from(&ints(&[5, 6])));
    }

    #[test]
    fn times_differ_only_beyond_run_to_run_variation() {
        assert!(!ms(&[0.03]).differs_from(&ms(&[0.9])), "within 1 ms");
        assert!(!ms(&[100.0]).differs_from(&ms(&[108.0])), "within 10%");
        assert!(ms(&[100.0]).differs_from(&ms(&[115.0])));
        assert!(ms(&[18.0, 23.5]).differs_from(&ms(&[115.7, 119.8])));
    }

    #[test]
    fn other_values_differ_when_the_sets_of_values_do() {
        let a = texts(&["EPIPE", "ECONNRESET"]);
        assert!(!a.differs_from(&texts(&["ECONNRESET", "EPIPE", "EPIPE"])));
        assert!(a.differs_from(&texts(&["EPIPE"])));
    }

    #[test]
    fn nothing_observed_differs_from_something_but_not_from_nothing() {
        let none = Summary::of(&[]);
        assert!(none.is_empty());
        assert!(none.differs_from(&ints(&[1])));
        assert!(none.differs_from(&texts(&["x"])));
        assert!(!none.differs_from(&Summary::of(&[])));
    }

    #[test]
    fn a_row_differs_when_any_two_differ() {
        // 0 and 1.8 are each within 1 ms of 0.9, but not of each other.
        assert!(any_differ(&[ms(&[0.0]), ms(&[0.9]), ms(&[1.8])]));
        assert!(!any_differ(&[ints(&[1]), ints(&[1])]));
    }
}
