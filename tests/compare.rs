//! `tcplab compare`: record files in, one matrix out; bad lines are reported with file
//! and line and skipped, the rest still compares; the reference records in results/
//! compare cleanly.

// Each test file uses only some of the shared helpers.
#[allow(dead_code)]
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use common::tcplab;

/// Longest a test lets one command run (two fast scenarios, or a comparison).
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// A record file with one run each of two fast scenarios, made by `run --record`.
fn recorded(dir: &Path) -> PathBuf {
    let file = dir.join("here.jsonl");
    tcplab()
        .args(["run", "refused", "partial-read", "--record"])
        .arg(&file)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0);
    file
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

// ---------------------------------------------------------------------------------------
// the record file as written by run --record
// ---------------------------------------------------------------------------------------

#[test]
fn run_record_appends_one_json_line_per_run_and_compare_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = recorded(dir.path());
    let text = fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.ends_with('\n'));
    let output = tcplab()
        .args(["compare"])
        .arg(&file)
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let out = stdout_of(&output);
    assert!(out.contains("refused"), "{out}");
    assert!(out.contains("dial_error"), "{out}");
    assert!(out.contains("[10, 5]"), "{out}");
    assert!(out.contains("Environments"), "{out}");
}

#[test]
fn run_all_record_builds_a_record_file_with_every_scenario_of_the_machine() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("machine.jsonl");
    tcplab()
        .args(["run", "--all", "--record"])
        .arg(&file)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0);
    let catalogue = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let (scenarios, _) = tcplab::scenario::catalogue(&catalogue).unwrap();
    let (entries, bad) = tcplab::record::read(&file).unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    let mut names: Vec<&str> = entries.iter().map(|e| e.scenario.name.as_str()).collect();
    let mut wanted: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    wanted.sort();
    assert_eq!(names, wanted);
    let os = &entries[0].env.os;
    assert!(entries
        .iter()
        .all(|e| &e.env.os == os && e.published.is_none()));
}

#[test]
fn bad_lines_are_named_by_file_and_line_and_the_rest_still_compares() {
    let dir = tempfile::tempdir().unwrap();
    let file = recorded(dir.path());
    let mut text = fs::read_to_string(&file).unwrap();
    text.push_str("this is not json\n{\"some\": \"other tool\"}\n\n{\"scenario\": {\"na");
    fs::write(&file, text).unwrap();
    let shown = file.display().to_string();
    tcplab()
        .args(["compare"])
        .arg(&file)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stderr(predicate::str::contains(format!("{shown}:3: not JSON")))
        .stderr(predicate::str::contains(format!(
            "{shown}:4: not a tcplab record"
        )))
        .stderr(predicate::str::contains(format!(
            "{shown}:6: torn last line"
        )))
        .stdout(predicate::str::contains("split_reads"));
}

#[test]
fn a_file_that_cannot_be_read_is_exit_2_but_the_others_still_compare() {
    let dir = tempfile::tempdir().unwrap();
    let file = recorded(dir.path());
    tcplab()
        .args(["compare"])
        .arg(&file)
        .arg(dir.path().join("missing.jsonl"))
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"))
        .stderr(predicate::str::contains("missing.jsonl"))
        .stdout(predicate::str::contains("dial_error"));
}

#[test]
fn no_records_at_all_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junk.jsonl");
    fs::write(&file, "junk\n").unwrap();
    tcplab()
        .args(["compare"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no records to compare"));
}

// ---------------------------------------------------------------------------------------
// formats
// ---------------------------------------------------------------------------------------

/// The recorded file plus a copy that claims another kernel and a different figure: two
/// environments, one differing row.
fn two_environments(dir: &Path) -> (PathBuf, PathBuf) {
    let a = recorded(dir);
    let text = fs::read_to_string(&a).unwrap();
    let other: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["env"]["kernel_release"] = Value::from("9.9.9-test");
            if v["scenario"]["name"] == "partial-read" {
                v["observations"]["short_read"] = Value::from(3);
            }
            v.to_string()
        })
        .collect();
    let b = dir.join("other.jsonl");
    fs::write(&b, other.join("\n") + "\n").unwrap();
    (a, b)
}

/// `tcplab compare` with `args` over the records of [`two_environments`].
fn compare_two_environments(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_environments(dir.path());
    tcplab()
        .arg("compare")
        .args(args)
        .arg(&a)
        .arg(&b)
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap()
}

#[test]
fn markdown_is_a_table_with_one_column_per_environment_and_marked_differences() {
    let output = compare_two_environments(&["--format", "markdown"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let md = stdout_of(&output);
    let header = md.lines().next().unwrap();
    assert!(header.starts_with("| | scenario | observation |"), "{md}");
    assert!(header.contains("9.9.9-test"), "{md}");
    assert_eq!(header.matches("linux").count(), 2, "{md}");
    assert!(
        md.contains("| ≠ | partial-read | short_read | 2 | 3 |"),
        "{md}"
    );
    assert!(
        md.contains("|  | partial-read | split_reads | [10, 5] | [10, 5] |"),
        "{md}"
    );
}

#[test]
fn json_gives_columns_and_rows_with_every_value() {
    let output = compare_two_environments(&["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let m: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(m["columns"].as_array().unwrap().len(), 2);
    let row = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["observation"] == "short_read")
        .expect("a short_read row");
    assert_eq!(row["differs"], true);
    assert_eq!(row["cells"][0]["values"], serde_json::json!([2]));
    assert_eq!(row["cells"][1]["values"], serde_json::json!([3]));
}

#[test]
fn text_marks_differing_rows_without_colour_when_stdout_is_not_a_terminal() {
    let output = compare_two_environments(&[]);
    let out = stdout_of(&output);
    let line = out
        .lines()
        .find(|l| l.contains("short_read"))
        .expect("a short_read line");
    assert!(line.starts_with('*'), "{out}");
    assert!(!out.contains('\x1b'), "colour codes in a pipe: {out:?}");
    let same = out.lines().find(|l| l.contains("split_reads")).unwrap();
    assert!(same.starts_with(' '), "{out}");
}

/// The recorded file plus a copy from "another kernel" whose `refused` dial took `shift_ms`
/// longer; `tcplab compare` of the two, as text.
fn compare_with_dial_slower_by(shift_ms: f64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let a = recorded(dir.path());
    let text = fs::read_to_string(&a).unwrap();
    let other: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["env"]["kernel_release"] = Value::from("9.9.9-test");
            if let Some(ms) = v["observations"]["dial_elapsed_ms"].as_f64() {
                v["observations"]["dial_elapsed_ms"] = Value::from(ms + shift_ms);
            }
            v.to_string()
        })
        .collect();
    let b = dir.path().join("other.jsonl");
    fs::write(&b, other.join("\n") + "\n").unwrap();
    let output = tcplab()
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    stdout_of(&output)
}

// The rule is the one `run --engine all` marks its rows by (report::summary).
#[test]
fn timings_differ_only_beyond_run_to_run_variation() {
    let dial = |out: &str| {
        out.lines()
            .find(|l| l.contains("dial_elapsed_ms"))
            .expect("a dial_elapsed_ms line")
            .to_owned()
    };
    let near = compare_with_dial_slower_by(0.5);
    assert!(dial(&near).starts_with(' '), "{near}");
    let far = compare_with_dial_slower_by(50.0);
    assert!(dial(&far).starts_with('*'), "{far}");
}

// ---------------------------------------------------------------------------------------
// the reference records
// ---------------------------------------------------------------------------------------

fn results() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("results/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_reference_records_compare_without_a_bad_line() {
    let output = tcplab()
        .arg("compare")
        .args(results())
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out = stdout_of(&output);
    assert!(out.contains("(published)"), "{out}");
    assert!(out.contains("published, not measured"), "{out}");
}

// Literature records carry their source and no measurement of this lab: no events and no
// verdict, so nothing can mistake them for a run.
#[test]
fn published_records_name_their_source_and_carry_no_measurement() {
    let mut published = 0;
    for f in results() {
        for (i, line) in fs::read_to_string(&f).unwrap().lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v.get("published").is_none() {
                continue;
            }
            published += 1;
            let at = format!("{}:{}", f.display(), i + 1);
            let source = v["published"]["source"].as_str().unwrap_or("");
            assert!(source.contains("Tony Bai"), "{at}: source {source:?}");
            assert!(
                v.get("events").is_none(),
                "{at}: events in a published record"
            );
            assert!(
                v.get("verdict").is_none(),
                "{at}: a verdict in a published record"
            );
            for k in v["observations"].as_object().unwrap().keys() {
                assert!(
                    v["published"]["reported"].get(k).is_some(),
                    "{at}: `{k}` has no words of the publication beside it"
                );
            }
        }
    }
    assert!(published > 0, "no published records in results/");
}

// A published figure is filed under a scenario and observation of the catalogue; a
// rename there must not leave the literature records pointing at nothing.
#[test]
fn published_records_use_the_catalogue_s_scenario_and_observation_names() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let (catalogue, _) = tcplab::scenario::catalogue(&dir).unwrap();
    for f in results() {
        let (entries, bad) = tcplab::record::read(&f).unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        for e in entries.iter().filter(|e| e.published.is_some()) {
            let s = catalogue
                .iter()
                .find(|s| s.name == e.scenario.name)
                .unwrap_or_else(|| panic!("no scenario `{}`", e.scenario.name));
            assert_eq!(s.topic, e.scenario.topic, "{}", s.name);
            for k in e.observations.keys() {
                assert!(
                    s.observation(k).is_some(),
                    "{} has no observation `{k}`",
                    s.name
                );
            }
            for k in e.params.keys() {
                assert!(s.param(k).is_some(), "{} has no parameter `{k}`", s.name);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// parameters, scenario versions, filters and width
// ---------------------------------------------------------------------------------------

/// `run backlog --set backlog=N --record FILE` for each N, into one file.
fn backlog_sweep(dir: &Path, values: &[u32]) -> PathBuf {
    let file = dir.join("sweep.jsonl");
    for v in values {
        tcplab()
            .args([
                "run",
                "backlog",
                "--set",
                &format!("backlog={v}"),
                "--record",
            ])
            .arg(&file)
            .timeout(COMMAND_LIMIT)
            .assert()
            .code(0);
    }
    file
}

#[test]
fn runs_with_different_parameters_are_a_sweep_not_one_folded_cell() {
    let dir = tempfile::tempdir().unwrap();
    let file = backlog_sweep(dir.path(), &[1, 2, 4]);
    let output = tcplab()
        .arg("compare")
        .arg(&file)
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let out = stdout_of(&output);
    assert!(out.contains("backlog: sweep of backlog on "), "{out}");
    assert!(!out.contains("runs)"), "a range folds runs together: {out}");
    assert!(!out.contains("(parameters)"), "{out}");
    // One row per value: the value first, then connected_before_block (backlog + 1).
    for v in [1, 2, 4] {
        let row = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{v} ")))
            .unwrap_or_else(|| panic!("no row for backlog={v}: {out}"));
        assert!(row.contains(&format!(" {} ", v + 1)), "{row}");
        assert!(row.trim_end().ends_with("PASS"), "{row}");
    }

    let json = tcplab()
        .args(["compare", "--format", "json"])
        .arg(&file)
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let m: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(m["rows"].as_array().unwrap().len(), 0);
    let sweep = &m["sweeps"][0];
    assert_eq!(sweep["varied"], serde_json::json!(["backlog"]));
    let values: Vec<&Value> = sweep["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["params"]["backlog"])
        .collect();
    assert_eq!(values, [1, 2, 4]);
}

#[test]
fn plot_writes_one_svg_chart_per_numeric_observation_with_a_point_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = backlog_sweep(dir.path(), &[1, 3]);
    let svg = dir.path().join("sweep.svg");
    tcplab()
        .args(["compare", "--plot"])
        .arg(&svg)
        .arg(&file)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0);
    let text = fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the plot is XML");
    let charts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("chart"))
        .filter_map(|n| n.attribute("data-observation"))
        .collect();
    // backlog's numeric observations; blocked_dial_error is an outcome, not plotted.
    assert!(charts.contains(&"connected_before_block"), "{charts:?}");
    assert!(!charts.contains(&"blocked_dial_error"), "{charts:?}");
    let points = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("point"))
        .count();
    assert_eq!(points, 2 * charts.len());

    // Records that are no sweep have nothing to plot: an error, exit 2.
    let one = recorded(dir.path());
    tcplab()
        .args(["compare", "--plot"])
        .arg(dir.path().join("none.svg"))
        .arg(&one)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no sweep to plot"));
}

#[test]
fn a_modified_copy_that_keeps_the_name_is_not_merged_with_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let original =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/connect/connect-refused.toml");
    let copy = dir.path().join("connect-refused.toml");
    let text = fs::read_to_string(&original).unwrap();
    fs::write(&copy, format!("# my copy\n{text}")).unwrap();
    let file = dir.path().join("both.jsonl");
    for target in [original.as_path(), copy.as_path()] {
        tcplab()
            .arg("run")
            .arg(target)
            .arg("--record")
            .arg(&file)
            .timeout(COMMAND_LIMIT)
            .assert()
            .code(0);
    }
    let json = tcplab()
        .args(["compare", "--format", "json"])
        .arg(&file)
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let m: Value = serde_json::from_slice(&json.stdout).unwrap();
    let mut names: Vec<&str> = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["scenario"].as_str())
        .collect();
    names.dedup();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("refused@")), "{names:?}");
    let files: Vec<&str> = m["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["file"].as_str())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.ends_with(&copy.display().to_string())),
        "{files:?}"
    );
}

/// The reference records: many environments, every scenario.
fn reference_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

#[test]
fn scenario_and_differs_filter_the_rows() {
    let output = tcplab()
        .args([
            "compare",
            "--format",
            "json",
            "--differs",
            "--scenario",
            "read-*",
        ])
        .args(reference_files())
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let m: Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = m["rows"].as_array().unwrap();
    assert!(!rows.is_empty(), "read-timeout differs between engines");
    for r in rows {
        assert!(r["scenario"].as_str().unwrap().starts_with("read-"), "{r}");
        assert_eq!(r["differs"], true, "{r}");
    }
    tcplab()
        .args(["compare", "--scenario", "read-timeuot"])
        .args(reference_files())
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("matches no record"))
        .stderr(predicate::str::contains("read-timeout"));
}

#[test]
fn the_text_table_of_every_reference_record_fits_in_100_columns() {
    let output = tcplab()
        .arg("compare")
        .args(reference_files())
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let out = stdout_of(&output);
    let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest <= 100, "{widest} columns wide");
    assert!(out.contains("[1] "), "environments are numbered: {out}");
    assert!(!out.contains("(parameters)"), "{out}");
}
