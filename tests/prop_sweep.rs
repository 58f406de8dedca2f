//! Sweep expansion (`--set backlog=0..16`, several `--set` making a grid): what the grid
//! holds, for lists and ranges the strategies make up.

use proptest::prelude::*;

use tcplab::sweep::{expand, values, MAX_POINTS};

/// Cases per property: the expansion is cheap, so enough to cover odd steps and sizes.
const CASES: u32 = 256;

/// A list of distinct small integers, as `--set` writes it.
fn int_list() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::btree_set(-50i64..500, 1..6).prop_map(|s| s.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn a_list_gives_back_exactly_its_values(list in int_list()) {
        let text = list.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",");
        let got: Vec<i64> = values(&text).unwrap().iter().map(|v| v.parse().unwrap()).collect();
        prop_assert_eq!(got, list);
    }

    #[test]
    fn a_range_steps_from_lo_to_at_most_hi(lo in -100i64..100, span in 0i64..300, step in 1i64..40) {
        let hi = lo + span;
        let got: Vec<i64> = values(&format!("{lo}..{hi}:{step}"))
            .unwrap()
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        prop_assert_eq!(got.len() as i64, span / step + 1);
        prop_assert_eq!(got[0], lo);
        prop_assert!(got.iter().all(|v| *v <= hi));
        prop_assert!(got.windows(2).all(|w| w[1] - w[0] == step));
    }

    #[test]
    fn a_size_range_with_a_factor_multiplies_in_bytes(lo_kib in 1i64..64, factor in 2i64..5, steps in 0u32..6) {
        let hi = lo_kib * factor.pow(steps);
        let got = values(&format!("{lo_kib}KiB..{hi}KiB:x{factor}")).unwrap();
        prop_assert_eq!(got.len() as u32, steps + 1);
        prop_assert_eq!(got.last().unwrap(), &tcplab::scenario::ParamKind::Size.format_number(hi * 1024));
    }

    #[test]
    fn a_grid_is_every_combination_once_in_the_order_given(lists in prop::collection::vec(int_list(), 0..4)) {
        let sets: Vec<(String, String)> = lists
            .iter()
            .enumerate()
            .map(|(i, l)| (format!("p{i}"), l.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")))
            .collect();
        let grid = expand(&sets).unwrap();
        let expected: usize = lists.iter().map(Vec::len).product();
        prop_assert!(expected <= MAX_POINTS);
        prop_assert_eq!(grid.len(), expected);
        let mut seen = std::collections::BTreeSet::new();
        for point in &grid {
            prop_assert_eq!(point.len(), lists.len());
            for (i, (name, v)) in point.iter().enumerate() {
                prop_assert_eq!(name, &format!("p{i}"));
                prop_assert!(lists[i].contains(&v.parse::<i64>().unwrap()));
            }
            prop_assert!(seen.insert(point.clone()), "a point twice: {:?}", point);
        }
        // The first parameter varies slowest: its values come in runs, in list order.
        if let Some(first) = lists.first() {
            let order: Vec<i64> = grid.iter().map(|p| p[0].1.parse().unwrap()).collect();
            let run = expected / first.len();
            for (k, chunk) in order.chunks(run).enumerate() {
                prop_assert!(chunk.iter().all(|v| *v == first[k]));
            }
        }
    }
}
