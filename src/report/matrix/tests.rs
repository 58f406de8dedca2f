//! The record matrix's unit tests.

use std::collections::BTreeMap;

use super::*;
use crate::record::{Published, ScenarioRef};
use crate::report::layout::wrap;
use crate::report::{Exporter, Markdown, Text};
use crate::scenario::ParamValue;

fn entry(os: &str, release: &str, obs: &[(&str, Value)]) -> Entry {
    Entry {
        scenario: ScenarioRef {
            name: "backlog".into(),
            title: "t".into(),
            topic: "connect".into(),
            file: "scenarios/connect/x.toml".into(),
            sha256: None,
        },
        params: BTreeMap::new(),
        engine: "std".into(),
        env: EntryEnv {
            os: os.into(),
            os_version: None,
            kernel: Some("Linux".into()),
            kernel_release: Some(release.into()),
            arch: Some("x86_64".into()),
            sysctls: BTreeMap::new(),
            netns: None,
            guest: None,
        },
        observations: obs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        published: None,
        verdict: None,
    }
}

#[test]
fn repeats_in_one_environment_show_their_range_not_one_value() {
    let m = Matrix::from_entries(&[
        entry(
            "linux",
            "6.1",
            &[("n", Value::Int(5)), ("t", Value::Ms(0.25))],
        ),
        entry(
            "linux",
            "6.1",
            &[("n", Value::Int(7)), ("t", Value::Ms(0.125))],
        ),
        entry(
            "linux",
            "6.1",
            &[("n", Value::Int(6)), ("t", Value::Ms(0.5))],
        ),
    ]);
    assert_eq!(m.columns.len(), 1);
    assert_eq!(m.rows[0].cells[0].as_ref().unwrap().text, "5 to 7 (3 runs)");
    assert_eq!(
        m.rows[1].cells[0].as_ref().unwrap().text,
        "0.125 ms to 0.5 ms (3 runs)"
    );
    assert!(!m.rows[0].differs, "one column cannot differ from itself");
}

#[test]
fn distinct_non_numeric_values_are_all_listed_with_counts() {
    let t = |s: &str| Value::Text(s.into());
    let m = Matrix::from_entries(&[
        entry("linux", "6.1", &[("e", t("EPIPE"))]),
        entry("linux", "6.1", &[("e", t("ECONNRESET"))]),
        entry("linux", "6.1", &[("e", t("EPIPE"))]),
    ]);
    assert_eq!(
        m.rows[0].cells[0].as_ref().unwrap().text,
        "EPIPE (x2) / ECONNRESET (x1)"
    );
}

#[test]
fn two_environments_make_two_columns_and_a_difference_is_marked() {
    let mut published = entry("macos", "", &[("n", Value::Int(128))]);
    published.env.kernel = Some("Darwin".into());
    published.env.kernel_release = None;
    published.engine = "go1.5.1".into();
    published.published = Some(Published {
        source: "an article".into(),
        reported: [("n".to_owned(), "128 dials".to_owned())]
            .into_iter()
            .collect(),
        note: None,
    });
    let m = Matrix::from_entries(&[
        entry(
            "linux",
            "6.1",
            &[("n", Value::Int(5)), ("same", Value::Int(1))],
        ),
        published,
    ]);
    assert_eq!(m.columns.len(), 2);
    assert_eq!(m.columns[1].label, "Darwin, go1.5.1 (published)");
    assert!(m.rows[0].differs);
    assert!(
        !m.rows[1].differs,
        "a row only one column has does not differ"
    );
    assert_eq!(
        m.rows[0].cells[1].as_ref().unwrap().reported.as_deref(),
        Some("128 dials")
    );
    let md = Markdown.matrix(&m);
    assert!(md.contains("| ≠ | backlog | n | 5 | 128 |"), "{md}");
    assert!(md.contains("published, not measured: an article"), "{md}");
}

#[test]
fn timings_differ_only_beyond_run_to_run_variation() {
    let m = Matrix::from_entries(&[
        entry(
            "linux",
            "6.1",
            &[("near", Value::Ms(100.25)), ("far", Value::Ms(18.5))],
        ),
        entry(
            "linux",
            "6.2",
            &[("near", Value::Ms(101.5)), ("far", Value::Ms(116.0))],
        ),
    ]);
    assert_eq!(m.rows[0].cells[0].as_ref().unwrap().text, "100.25 ms");
    assert!(!m.rows[0].differs, "within 10%");
    assert!(m.rows[1].differs);
}

#[test]
fn environments_that_print_alike_are_numbered() {
    let mut a = entry("linux", "6.1", &[("n", Value::Int(1))]);
    let mut b = a.clone();
    a.env
        .sysctls
        .insert("net.core.somaxconn".into(), "128".into());
    b.env
        .sysctls
        .insert("net.core.somaxconn".into(), "4096".into());
    let m = Matrix::from_entries(&[a, b]);
    assert_eq!(m.columns[0].label, "linux 6.1 #1");
    assert_eq!(m.columns[1].label, "linux 6.1 #2");
}

// -----------------------------------------------------------------------------
// parameters, versions and width
// -----------------------------------------------------------------------------

fn with(mut e: Entry, params: &[(&str, i64)]) -> Entry {
    for (k, v) in params {
        e.params.insert((*k).into(), ParamValue::Int(*v));
    }
    e
}

#[test]
fn different_parameters_are_never_folded_into_one_cell() {
    let a = with(
        entry("linux", "6.1", &[("n", Value::Int(5))]),
        &[("backlog", 4)],
    );
    let b = with(
        entry("linux", "6.2", &[("n", Value::Int(5))]),
        &[("backlog", 4)],
    );
    let c = with(
        entry("linux", "6.2", &[("n", Value::Int(129))]),
        &[("backlog", 128)],
    );
    let m = Matrix::from_entries(&[a, b, c]);
    let rows: Vec<(&str, Vec<String>)> = m
        .rows
        .iter()
        .map(|r| {
            let cells = r
                .cells
                .iter()
                .map(|c| c.as_ref().map_or("-".to_owned(), |c| c.text.clone()))
                .collect();
            (r.params.as_str(), cells)
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("backlog=4", vec!["5".to_owned(), "5".to_owned()]),
            ("backlog=128", vec!["-".to_owned(), "129".to_owned()]),
        ]
    );
    assert!(
        m.rows.iter().all(|r| !r.differs),
        "a row one environment has cannot differ"
    );
    assert!(m.rows.iter().all(|r| r.observation != "(parameters)"));
}

#[test]
fn a_parameter_only_one_side_names_is_no_difference() {
    // A publication that does not state dial_timeout_ms.
    let a = with(
        entry("linux", "6.1", &[("n", Value::Int(5))]),
        &[("backlog", 4), ("dial_timeout_ms", 200)],
    );
    let b = with(
        entry("macos", "", &[("n", Value::Int(128))]),
        &[("backlog", 4)],
    );
    let m = Matrix::from_entries(&[a, b]);
    assert_eq!(m.rows.len(), 1);
    assert_eq!(m.rows[0].params, "");
    assert!(m.rows[0].differs);
}

#[test]
fn one_environment_over_several_parameter_sets_is_a_sweep() {
    let runs: Vec<Entry> = [1, 2, 4]
        .iter()
        .map(|&b| {
            with(
                entry("linux", "6.1", &[("n", Value::Int(b + 1))]),
                &[("backlog", b)],
            )
        })
        .collect();
    let m = Matrix::from_entries(&runs);
    assert!(m.rows.is_empty());
    assert_eq!(m.sweeps.len(), 1);
    assert_eq!(m.sweeps[0].rows.len(), 3);
    let t = Text::default().matrix(&m);
    assert!(t.contains("backlog: sweep of backlog on linux 6.1"), "{t}");
}

#[test]
fn a_modified_copy_that_keeps_the_name_is_a_scenario_of_its_own() {
    let mut a = entry("linux", "6.1", &[("n", Value::Int(5))]);
    a.scenario.sha256 = Some("a".repeat(64));
    let mut b = entry("linux", "6.1", &[("n", Value::Int(9))]);
    b.scenario.sha256 = Some("b".repeat(64));
    b.scenario.file = "/tmp/copy.toml".into();
    // An older record without the hash goes with the first version.
    let old = entry("linux", "6.2", &[("n", Value::Int(5))]);
    let m = Matrix::from_entries(&[a, b, old]);
    let names: Vec<&str> = m.rows.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(names, ["backlog@aaaaaaaa", "backlog@bbbbbbbb"]);
    assert_eq!(m.rows[0].cells[1].as_ref().unwrap().text, "5");
    assert_eq!(m.versions.len(), 2);
    assert_eq!(m.versions[1].file, "/tmp/copy.toml");
}

#[test]
fn the_text_table_fits_in_its_width_and_keeps_every_character() {
    let long = "a value with many words that would make the table far too wide";
    let cols: Vec<Entry> = (0..6)
        .map(|i| {
            let mut e = entry(
                "linux",
                &format!("6.{i}"),
                &[("n", Value::Text(long.into()))],
            );
            e.env
                .sysctls
                .insert("net.core.somaxconn".into(), "4096 ".repeat(40));
            e
        })
        .collect();
    let t = Text::default().matrix(&Matrix::from_entries(&cols));
    assert!(t.lines().all(|l| l.chars().count() <= TEXT_WIDTH), "{t}");
    // Wrapped, not cut: every word is there; Markdown has the cell whole.
    assert!(long.split(' ').all(|w| t.contains(w)), "{t}");
    assert!(Markdown.matrix(&Matrix::from_entries(&cols)).contains(long));
    assert!(t.contains("[6] linux 6.5"), "{t}");
}

#[test]
fn differs_keeps_only_the_differing_rows() {
    let mut m = Matrix::from_entries(&[
        entry(
            "linux",
            "6.1",
            &[("a", Value::Int(1)), ("b", Value::Int(1))],
        ),
        entry(
            "linux",
            "6.2",
            &[("a", Value::Int(1)), ("b", Value::Int(2))],
        ),
    ]);
    m.retain_differing();
    let names: Vec<&str> = m.rows.iter().map(|r| r.observation.as_str()).collect();
    assert_eq!(names, ["b"]);
}

#[test]
fn wrapping_breaks_at_spaces_and_underscores_and_inside_words_only_when_it_must() {
    assert_eq!(
        wrap("connected_before_block", 12),
        ["connected_", "before_block"]
    );
    assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
    assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
}
