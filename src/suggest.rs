//! Name suggestions for error messages: the known names closest to a misspelt one.
//!
//! Scenario validation (ops, observations, engines, errno names, counters), the profile
//! table and the command line (scenario names) all suggest through [`closest`], so a
//! typo is answered the same way everywhere.

/// Similarity below which a name is not offered as a suggestion (Jaro-Winkler).
pub const SUGGEST_FROM: f64 = 0.75;

/// Up to three known names closest to `wanted`, closest first; the single closest one
/// when none is really close.
pub fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = names
        .map(|n| {
            let mut score = strsim::jaro_winkler(wanted, n);
            if n.contains(wanted) || wanted.contains(n) {
                score += 0.5;
            }
            (score, n)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let close: Vec<&str> = scored
        .iter()
        .filter(|(s, _)| *s >= SUGGEST_FROM)
        .take(3)
        .map(|(_, n)| *n)
        .collect();
    if close.is_empty() {
        scored.into_iter().take(1).map(|(_, n)| n).collect()
    } else {
        close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: &[&str] = &["connect", "connect_start", "close", "listen", "accept"];

    #[test]
    fn a_typo_suggests_the_name_it_misspells_first() {
        assert_eq!(closest("conect", OPS.iter().copied())[0], "connect");
    }

    #[test]
    fn at_most_three_close_names_are_offered() {
        assert!(closest("c", OPS.iter().copied()).len() <= 3);
    }

    #[test]
    fn a_name_like_none_still_gets_the_single_closest() {
        assert_eq!(closest("zzzz", OPS.iter().copied()).len(), 1);
    }

    #[test]
    fn no_names_give_no_suggestion() {
        assert!(closest("x", std::iter::empty()).is_empty());
    }
}
