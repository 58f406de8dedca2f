//! The `tcplab` command as a user meets it: exit status, stdout for results, stderr for
//! errors. Every test goes through `common::tcplab()`, which points `--scenarios` at the
//! catalogue in the source tree unless the test brings its own folder.
//!
//! Exit status: 0 when every run passed or had no expectation for this OS, 1 when one
//! deviated or did not complete, 2 for usage errors and invalid scenario files.

mod common;

use std::fs;
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use common::{fixture, fixture_text, line_of, tcplab, tcplab_with, write_scenario};

/// Longest a test lets one command run; the slowest scenario here (backlog) takes about
/// half a second, the deadlock fixture's watchdog 500 ms.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// The OS name the verdicts use (`std::env::consts::OS`).
const OS: &str = std::env::consts::OS;

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

// ---------------------------------------------------------------------------------------
// run: reports
// ---------------------------------------------------------------------------------------

// The catalogue's expectations are measured on Linux.
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "backlog has expectations for Linux only"
)]
#[test]
fn run_backlog_passes_and_shows_timeline_observations_verdict_and_why() {
    tcplab()
        .args(["run", "backlog"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Timeline"))
        .stdout(predicate::str::contains("listen"))
        .stdout(predicate::str::contains("\nObservations\n"))
        .stdout(predicate::str::contains("connected_before_block"))
        .stdout(predicate::str::contains("Verdict on linux: PASS"))
        .stdout(predicate::str::contains("\nWhy\n"))
        .stdout(predicate::str::contains(
            "dials completed against backlog 4",
        ));
}

// read-timeout's engine table is measured on Linux.
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "read-timeout has expectations for Linux only"
)]
#[test]
fn engine_all_prints_one_table_marking_the_differences_and_why() {
    tcplab()
        .args(["run", "read-timeout", "--engine", "all"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("observation"))
        .stdout(predicate::str::contains("| std"))
        .stdout(predicate::str::contains("| tokio"))
        .stdout(
            predicate::str::is_match(r"≠ timeout_error +\| EAGAIN \(WouldBlock\) +\| deadline")
                .unwrap(),
        )
        .stdout(predicate::str::contains("Why they differ"))
        .stdout(predicate::str::contains("loses no data"));
}

#[test]
fn engine_all_records_one_record_per_engine() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("records.jsonl");
    tcplab()
        .args(["run", "refused", "--engine", "all", "--record"])
        .arg(&store)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0);
    let engines: Vec<String> = records_in(&fs::read_to_string(&store).unwrap())
        .iter()
        .map(|r| r["engine"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(engines, ["std", "tokio"]);
}

#[test]
fn an_unknown_engine_is_a_usage_error_naming_the_choices() {
    tcplab()
        .args(["run", "refused", "--engine", "tokyo"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tokio"))
        .stderr(predicate::str::contains("all"));
}

#[test]
fn json_prints_one_pretty_record_with_a_trailing_newline() {
    let output = tcplab()
        .args(["run", "backlog", "--json"])
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab");
    // Linux passes; elsewhere there is no expectation yet, which also exits 0.
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout_of(&output);
    assert!(
        text.starts_with("{\n  \""),
        "not pretty-printed: {text:.80}"
    );
    assert!(text.ends_with("}\n"), "no trailing newline");

    let record: Value = serde_json::from_str(&text).expect("stdout is one JSON value");
    let record = record.as_object().expect("one record, not a list");
    for key in [
        "scenario",
        "params",
        "engine",
        "env",
        "events",
        "observations",
        "verdict",
    ] {
        assert!(
            record.contains_key(key),
            "no `{key}` in {:?}",
            record.keys()
        );
    }
    assert_eq!(record["scenario"]["name"], "backlog");
    assert_eq!(record["params"]["backlog"], 4);

    let env = &record["env"];
    assert_eq!(env["os"], OS);
    assert!(env["kernel_release"]
        .as_str()
        .is_some_and(|k| !k.is_empty()));
    assert_eq!(env["arch"], std::env::consts::ARCH);
    assert!(env["sysctls"].is_object());
    // The sysctls are Linux's; other systems report their own settings or none.
    if cfg!(target_os = "linux") {
        assert!(env["sysctls"]["net.core.somaxconn"].is_string(), "{env}");
    }

    assert!(record["events"].as_array().is_some_and(|e| !e.is_empty()));
    let observations = &record["observations"];
    for name in [
        "connected_before_block",
        "blocked_dial_error",
        "connected_after_one_accept",
    ] {
        assert!(!observations[name].is_null(), "no observation `{name}`");
    }
    assert!(record["verdict"]["status"].is_string());
}

#[test]
fn repeat_prints_min_median_and_max_of_each_observation() {
    tcplab()
        .args(["run", "refused", "--repeat", "3"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("3 runs"))
        .stdout(predicate::str::is_match(r"min\s+median\s+max").unwrap())
        .stdout(predicate::str::contains("dial_elapsed_ms"))
        .stderr(predicate::str::contains("run 3 of 3"));
}

#[test]
fn markdown_format_writes_one_table_row_per_observation_to_the_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("table.md");
    tcplab()
        .args(["run", "partial-read", "--format", "markdown", "--output"])
        .arg(&out)
        .timeout(COMMAND_LIMIT)
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
    let table = fs::read_to_string(&out).unwrap();
    assert!(table.contains("| scenario | observation | observed | expected | verdict |"));
    assert!(
        table.contains("| partial-read | short_read | 2 |"),
        "{table}"
    );
    assert!(
        table.contains("| partial-read | split_reads | [10, 5] |"),
        "{table}"
    );
}

#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the fixture has expectations for Linux only"
)]
#[test]
fn a_deviating_scenario_exits_1_and_shows_expected_against_observed() {
    tcplab()
        .arg("run")
        .arg(fixture("refused-expects-epipe.toml"))
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Verdict on linux: DEVIATION"))
        .stdout(predicate::str::contains("dial_error"))
        .stdout(predicate::str::contains("observed ECONNREFUSED"))
        .stdout(predicate::str::contains("expected EPIPE"));
}

#[test]
fn a_scenario_without_expectations_for_this_os_passes_and_shows_how_to_add_them() {
    tcplab()
        .arg("run")
        .arg(fixture("refused-no-expectation.toml"))
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("NO EXPECTATION"))
        .stdout(predicate::str::contains(format!("[expect.{OS}]")))
        .stdout(predicate::str::contains("measured = "))
        .stdout(predicate::str::contains("dial_error = "));
}

#[test]
fn a_deadlock_is_ended_by_the_watchdog_which_names_the_stuck_actor_and_step() {
    let text = fixture_text("deadlock-read-nobody-writes.toml");
    let read_line = line_of(&text, r#"op = "read""#);
    let wait_line = line_of(&text, r#"op = "wait", sync = "read-done""#);
    tcplab()
        .arg("run")
        .arg(fixture("deadlock-read-nobody-writes.toml"))
        .args(["--timeout-ms", "500"])
        // The run must end by itself, well before this.
        .timeout(Duration::from_secs(10))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("INCOMPLETE"))
        .stdout(predicate::str::contains(
            "watchdog: after 500 ms `server` was stuck in step 4",
        ))
        .stdout(predicate::str::contains(format!("line {read_line})")))
        .stdout(predicate::str::contains("`client` was stuck in step 3"))
        .stdout(predicate::str::contains(format!("line {wait_line})")));
}

#[test]
fn a_deadlock_on_tokio_is_ended_by_the_watchdog_which_drops_the_stuck_tasks() {
    let text = fixture_text("deadlock-read-nobody-writes.toml");
    let read_line = line_of(&text, r#"op = "read""#);
    tcplab()
        .arg("run")
        .arg(fixture("deadlock-read-nobody-writes.toml"))
        .args(["--timeout-ms", "500", "--engine", "tokio"])
        .timeout(Duration::from_secs(10))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("INCOMPLETE"))
        .stdout(predicate::str::contains(
            "watchdog: after 500 ms `server` was stuck in step 4 (`read().await`",
        ))
        .stdout(predicate::str::contains(format!("line {read_line})")))
        .stdout(predicate::str::contains("its task was dropped"));
}

// ---------------------------------------------------------------------------------------
// run: the record store
// ---------------------------------------------------------------------------------------

/// The lines of a record file, each parsed as JSON.
fn records_in(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every line is one JSON record"))
        .collect()
}

#[test]
fn record_appends_one_json_line_per_run_and_keeps_earlier_lines() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("records.jsonl");

    tcplab()
        .args(["run", "refused", "--repeat", "2", "--record"])
        .arg(&store)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0);
    let first = fs::read_to_string(&store).unwrap();
    assert_eq!(records_in(&first).len(), 2);
    assert!(first.ends_with('\n'));

    tcplab()
        .args(["run", "refused", "--record"])
        .arg(&store)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0);
    let second = fs::read_to_string(&store).unwrap();
    assert!(second.starts_with(&first), "earlier lines changed");
    let records = records_in(&second);
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r["scenario"]["name"] == "refused"));
}

#[test]
fn record_after_a_torn_last_line_starts_on_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("records.jsonl");
    let torn = r#"{"scenario":{"name":"refused"},"par"#;
    fs::write(&store, torn).unwrap();

    tcplab()
        .args(["run", "refused", "--record"])
        .arg(&store)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0);
    let text = fs::read_to_string(&store).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], torn, "the torn line was changed");
    let record: Value = serde_json::from_str(lines[1]).expect("the new record is whole");
    assert_eq!(record["scenario"]["name"], "refused");
    assert!(text.ends_with('\n'));
}

// ---------------------------------------------------------------------------------------
// run: usage errors (exit 2, nothing on stdout)
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_scenario_names_the_closest_match() {
    tcplab()
        .args(["run", "backlgo"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with("Error: "))
        .stderr(predicate::str::contains("unknown scenario `backlgo`"))
        .stderr(predicate::str::contains("backlog"));
}

#[test]
fn set_with_a_value_of_the_wrong_type_names_the_parameter_and_its_type() {
    tcplab()
        .args(["run", "backlog", "--set", "backlog=lots"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("Error: "))
        .stderr(predicate::str::contains("`backlog`"))
        .stderr(predicate::str::contains("integer"))
        .stderr(predicate::str::contains("`lots`"));
}

#[test]
fn set_of_an_unknown_parameter_lists_the_parameters() {
    tcplab()
        .args(["run", "backlog", "--set", "backlogg=4"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("no parameter `backlogg`"))
        .stderr(predicate::str::contains(
            "backlog, dial_timeout_ms, max_dials",
        ));
}

#[test]
fn run_without_names_or_all_is_a_usage_error() {
    tcplab()
        .arg("run")
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("Error: "))
        .stderr(predicate::str::contains("--all"));
}

#[test]
fn run_all_runs_the_valid_file_and_reports_the_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    write_scenario(
        dir.path(),
        "connect/refused-no-expectation.toml",
        &fixture_text("refused-no-expectation.toml"),
    );
    let broken_text = fixture_text("invalid/unknown-op.toml");
    let broken = write_scenario(dir.path(), "broken/unknown-op.toml", &broken_text);
    let line = line_of(&broken_text, r#"op = "bnid""#);

    tcplab_with(dir.path())
        .args(["run", "--all"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("refused-no-expectation"))
        .stdout(predicate::str::contains("Observations"))
        .stderr(predicate::str::contains(format!(
            "invalid scenario: {}:{line}:",
            broken.display()
        )));
}

// ---------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------

#[test]
fn check_accepts_every_scenario_in_the_catalogue() {
    tcplab()
        .arg("check")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("(backlog)"))
        .stderr(predicate::str::is_empty());
}

#[test]
fn check_accepts_the_runnable_fixtures() {
    tcplab()
        .arg("check")
        .arg(fixture("refused-expects-epipe.toml"))
        .arg(fixture("refused-no-expectation.toml"))
        .arg(fixture("deadlock-read-nobody-writes.toml"))
        .assert()
        .code(0)
        .stderr(predicate::str::is_empty());
}

// Names only some machines know (an errno of other systems, a counter this kernel lacks)
// are warnings on stderr: the file is valid on every machine and the exit status is 0.

/// `warning: FILE:LINE: FIELD: ` for the line of the fixture that holds `needle`.
fn warning_at(rel: &str, needle: &str, field: &str) -> String {
    let line = line_of(&fixture_text(rel), needle);
    format!("warning: {}:{line}: {field}: ", fixture(rel).display())
}

#[test]
fn check_warns_of_an_errno_this_system_lacks_and_exits_0() {
    let rel = "names-of-other-machines.toml";
    tcplab()
        .arg("check")
        .arg(fixture(rel))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("(names-of-other-machines)"))
        .stderr(predicate::str::contains(warning_at(
            rel,
            "dial_error = [",
            "expect.linux.dial_error",
        )))
        .stderr(predicate::str::contains("no errno `EPROCLIM`"))
        .stderr(predicate::str::contains("invalid").not());
}

// /proc/net/netstat is Linux's; where counters cannot be read there is nothing to warn of.
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "kernel counters are read on Linux only"
)]
#[test]
fn check_warns_of_a_counter_this_kernel_lacks_and_exits_0() {
    let rel = "names-of-other-machines.toml";
    tcplab()
        .arg("check")
        .arg(fixture(rel))
        .assert()
        .code(0)
        .stderr(predicate::str::contains(format!(
            "{}this kernel has no counter `TcpExt.NoSuchCounterHere`",
            warning_at(rel, "made_up = {", "observations.made_up")
        )));
}

#[test]
fn run_prints_the_warnings_and_keeps_the_verdicts_exit_status() {
    let rel = "names-of-other-machines.toml";
    tcplab()
        .arg("run")
        .arg(fixture(rel))
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stderr(predicate::str::contains(warning_at(
            rel,
            "dial_error = [",
            "expect.linux.dial_error",
        )));
}

/// Runs `tcplab check` on an invalid fixture and returns `FILE:LINE` for the line that
/// holds `needle`, the place the error must name.
fn check_rejects(rel: &str, needle: &str) -> (assert_cmd::assert::Assert, String) {
    let path = fixture(rel);
    let line = line_of(&fixture_text(rel), needle);
    let assert = tcplab().arg("check").arg(&path).assert().code(2);
    (
        assert,
        format!("invalid scenario: {}:{line}: ", path.display()),
    )
}

#[test]
fn check_rejects_an_unknown_op_with_file_line_and_the_valid_ops() {
    let (assert, place) = check_rejects("invalid/unknown-op.toml", r#"op = "bnid""#);
    assert
        .stderr(predicate::str::contains(place))
        .stderr(predicate::str::contains("unknown op `bnid`"))
        .stderr(predicate::str::contains("did you mean bind"))
        .stderr(predicate::str::contains(
            "bind, listen, accept, connect, dial_repeat, write, write_all",
        ))
        .stderr(predicate::str::contains("read_messages"));
}

#[test]
fn check_rejects_a_wrong_type_with_file_line_and_field() {
    let (assert, place) = check_rejects("invalid/wrong-type.toml", r#"timeout_ms = "soon""#);
    assert
        .stderr(predicate::str::contains(format!("{place}timeout_ms: ")))
        .stderr(predicate::str::contains("invalid type"));
}

#[test]
fn check_rejects_a_wrong_type_inside_a_step_with_file_line_step_and_field() {
    let (assert, place) = check_rejects("invalid/wrong-step-type.toml", "timeout_ms = [100]");
    assert
        .stderr(predicate::str::contains(format!(
            "{place}actors[1] (client) steps[1]: `timeout_ms`: "
        )))
        .stderr(predicate::str::contains("invalid type"));
}

#[test]
fn check_rejects_an_unknown_field_in_a_step_naming_the_field() {
    let (assert, place) = check_rejects("invalid/unknown-step-field.toml", "deadline_ms = 100");
    assert
        .stderr(predicate::str::contains(place))
        .stderr(predicate::str::contains("unknown field `deadline_ms`"))
        .stderr(predicate::str::contains("timeout_ms"));
}

#[test]
fn check_rejects_a_wait_on_a_sync_point_nobody_signals() {
    let (assert, place) = check_rejects("invalid/wait-never-signalled.toml", r#"sync = "never""#);
    assert
        .stderr(predicate::str::contains(place))
        .stderr(predicate::str::contains("no step signals `never`"));
}

#[test]
fn check_rejects_a_deeply_nested_expression_instead_of_overflowing_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}1", "-".repeat(50_000));
    let text = fixture_text("refused-no-expectation.toml").replace(
        r#"as = "c" }"#,
        &format!(r#"as = "c", timeout_ms = "{deep}" }}"#),
    );
    let path = write_scenario(dir.path(), "deep.toml", &text);
    tcplab()
        .arg("check")
        .arg(&path)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nested more than"))
        .stderr(predicate::str::contains("overflowed").not());
}

// ---------------------------------------------------------------------------------------
// list and env
// ---------------------------------------------------------------------------------------

#[test]
fn list_groups_scenarios_by_topic() {
    let output = tcplab().arg("list").output().expect("run tcplab");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout_of(&output);

    // Topic headers start at column 0; their scenarios follow, indented.
    let mut topics: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(entry) = line.strip_prefix("  ") {
            let name = entry.split_whitespace().next().expect("a name").to_owned();
            topics
                .last_mut()
                .expect("a topic header first")
                .1
                .push(name);
        } else {
            // `connect (5)`: the topic and how many scenarios it has.
            let topic = line.split_whitespace().next().expect("a topic name");
            topics.push((topic.to_owned(), Vec::new()));
        }
    }
    let names: Vec<&str> = topics.iter().map(|(t, _)| t.as_str()).collect();
    for topic in ["close", "concurrency", "connect", "read", "write"] {
        assert!(names.contains(&topic), "no topic `{topic}` in {names:?}");
    }
    let connect = &topics.iter().find(|(t, _)| t == "connect").unwrap().1;
    assert!(connect.iter().any(|n| n == "backlog"), "{connect:?}");
    assert!(connect.iter().any(|n| n == "refused"), "{connect:?}");
    let read = &topics.iter().find(|(t, _)| t == "read").unwrap().1;
    assert!(read.iter().any(|n| n == "read-timeout"), "{read:?}");
}

// ---------------------------------------------------------------------------------------
// explain
// ---------------------------------------------------------------------------------------

#[test]
fn explain_says_what_a_scenario_shows_why_what_to_read_and_what_is_expected() {
    let output = tcplab()
        .args(["explain", "backlog"])
        .output()
        .expect("run tcplab");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout_of(&output);
    for heading in [
        "What it shows",
        "Why the kernel does this",
        "Read",
        "Expected",
    ] {
        assert!(
            text.lines().any(|l| l == heading),
            "no `{heading}` section in:\n{text}"
        );
    }
    assert!(text.contains("listen(2)"), "{text}");
    assert!(text.contains("on linux (measured: "), "{text}");
}

#[test]
fn explain_of_an_unknown_scenario_names_the_closest_match() {
    tcplab()
        .args(["explain", "refsued"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("unknown scenario `refsued`"))
        .stderr(predicate::str::contains("refused"));
}

#[test]
fn run_ends_with_where_to_read_and_how_to_get_the_full_explanation() {
    let output = tcplab()
        .args(["run", "refused"])
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab");
    let text = stdout_of(&output);
    let tail: Vec<&str> = text.lines().rev().collect();
    assert_eq!(tail[0].trim(), "More: tcplab explain refused", "{text}");
    // Before it the Read line, broken to fit 100 columns: its continuations indented.
    let read = tail[1..]
        .iter()
        .position(|l| l.trim().starts_with("Read: "))
        .expect("a Read line")
        + 1;
    assert!(
        tail[1..read].iter().all(|l| l.starts_with("    ")),
        "{text}"
    );
}

#[test]
fn env_prints_the_os_and_the_kernel() {
    tcplab()
        .arg("env")
        .assert()
        .code(0)
        .stdout(predicate::str::is_match(format!(r"(?m)^os\s+{OS}$")).unwrap())
        .stdout(predicate::str::is_match(r"(?m)^kernel\s+\S+").unwrap());
}

#[test]
fn env_sets_every_setting_apart_from_its_value() {
    let output = tcplab()
        .args(["env", "--json"])
        .output()
        .expect("run tcplab");
    let env: Value = serde_json::from_str(&stdout_of(&output)).expect("one JSON value");
    let output = tcplab().arg("env").output().expect("run tcplab");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout_of(&output);
    // The longest names (tcp_available_congestion_control) once ran into their values.
    let sysctls = env["sysctls"].as_object().expect("a sysctls object");
    // Linux always has these settings; an empty list would leave nothing to check.
    #[cfg(target_os = "linux")]
    assert!(
        sysctls.contains_key("net.ipv4.tcp_available_congestion_control"),
        "{sysctls:?}"
    );
    for (name, value) in sysctls {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("no line of its own for {name}:\n{text}"));
        let rest = line[name.len()..].trim_start();
        assert_eq!(Some(rest), value.as_str(), "{name}: {line:?}");
    }
}

#[test]
fn env_json_names_the_os_and_the_kernel_release() {
    let output = tcplab()
        .args(["env", "--json"])
        .output()
        .expect("run tcplab");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let env: Value = serde_json::from_str(&stdout_of(&output)).expect("one JSON value");
    assert_eq!(env["os"], OS);
    assert!(env["kernel_release"]
        .as_str()
        .is_some_and(|k| !k.is_empty()));
}

// ---------------------------------------------------------------------------------------
// explanations that fit the run
// ---------------------------------------------------------------------------------------

#[test]
fn an_incomplete_run_explains_nothing_it_did_not_observe() {
    let output = tcplab()
        .args(["run", "write-timeout", "--timeout-ms", "50"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(out.contains("INCOMPLETE"), "{out}");
    let why = out.split("\nWhy\n").nth(1).unwrap_or("");
    assert!(!why.contains("(not observed)"), "{out}");
    assert!(!out.contains("returned (not observed) bytes"), "{out}");
}

#[test]
fn read_timeout_under_tokio_does_not_explain_an_eagain_it_did_not_get() {
    let output = tcplab()
        .args(["run", "read-timeout", "--engine", "tokio"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    let why = out.split("\nWhy\n").nth(1).expect("a Why section");
    let why = why.split("Read:").next().unwrap();
    assert!(why.contains("tokio::time::timeout"), "{out}");
    assert!(!why.contains("EAGAIN"), "{out}");
}

#[test]
fn explain_shows_the_expected_values_with_the_engine_overrides_in_both_forms() {
    let md = tcplab()
        .args(["explain", "read-timeout", "--markdown"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(md.status.code(), Some(0), "{md:?}");
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("### Expected"), "{md}");
    assert!(md.contains("- on linux under the tokio engine"), "{md}");
    tcplab()
        .args(["explain", "read-timeout"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("on linux under the tokio engine"))
        .stdout(predicate::str::contains(
            "why: tokio's socket is non-blocking",
        ));
}

// ---------------------------------------------------------------------------------------
// parameters: bounds, the memory guard, discovery, sweeps
// ---------------------------------------------------------------------------------------

#[test]
fn set_beyond_a_parameters_bound_is_a_usage_error_naming_the_bound() {
    tcplab()
        .args(["run", "concurrent-writers", "--set", "writers=100"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "`--set writers=100`: writers is at most 16 writers (scenario concurrent-writers)",
        ));
}

#[test]
fn a_huge_size_is_refused_before_the_run_without_a_backtrace() {
    tcplab()
        .args([
            "run",
            "write-partial-nonblocking",
            "--set",
            "write_size=64GiB",
        ])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("write_size is at most 256MiB"))
        .stderr(predicate::str::contains("backtrace").not())
        .stderr(predicate::str::contains("memory allocation").not());
}

#[test]
fn a_size_without_a_bound_is_refused_above_the_memory_cap() {
    tcplab()
        .arg("run")
        .arg(fixture("unbounded-write.toml"))
        .args(["--set", "n=64GiB"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "`--set n=64GiB`: the steps would hold 64.0GiB",
        ))
        .stderr(predicate::str::contains("above the memory cap of"))
        .stderr(predicate::str::contains("backtrace").not());
}

#[test]
fn set_of_a_misspelt_parameter_suggests_the_closest() {
    tcplab()
        .args(["run", "concurrent-writers", "--set", "writer=2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no parameter `writer` (did you mean `writers`?)",
        ))
        .stderr(predicate::str::contains(
            "(parameters: writers, message_size, messages, mutex)",
        ));
}

#[test]
fn check_rejects_a_negative_literal_buffer_with_file_line_and_field() {
    let (assert, place) = check_rejects("invalid/negative-buf.toml", "buf = -3");
    assert
        .stderr(predicate::str::contains(format!(
            "{place}actors[1] (client) steps[2].buf: "
        )))
        .stderr(predicate::str::contains("must be 0 or more, not -3"));
}

#[test]
fn check_names_a_missing_top_level_field_without_a_line() {
    let path = fixture("invalid/missing-title.toml");
    tcplab()
        .arg("check")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "invalid scenario: {}: missing top-level field `title`",
            path.display()
        )));
}

#[test]
fn list_params_shows_each_parameter_with_type_default_bounds_and_help() {
    let output = tcplab()
        .args(["list", "--params"])
        .output()
        .expect("run tcplab");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout_of(&output);
    let writers = text
        .lines()
        .find(|l| l.trim_start().starts_with("writers "))
        .unwrap_or_else(|| panic!("no writers line in:\n{text}"));
    let cols: Vec<&str> = writers
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cols[..4],
        ["writers", "int", "4 writers", "1 to 16 writers"],
        "{writers}"
    );
    assert!(cols[4].starts_with("writer threads"), "{writers}");
    assert!(
        text.contains("\nconcurrent-writers (concurrency)\n"),
        "{text}"
    );
    assert!(
        !text.contains("\nrefused "),
        "a scenario without parameters is left out"
    );
}

#[test]
fn params_shows_one_scenarios_parameters_and_how_to_set_them() {
    tcplab()
        .args(["params", "write-timeout"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("sndtimeo_ms  duration  100ms"))
        .stdout(predicate::str::contains("1ms to 60s"))
        .stdout(predicate::str::contains(
            "Set one with: tcplab run write-timeout --set NAME=VALUE",
        ));
    tcplab()
        .args(["params", "refsued"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown scenario `refsued`"));
}

#[test]
fn explain_shows_the_parameters() {
    tcplab()
        .args(["explain", "concurrent-writers"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "\nParameters (tcplab run concurrent-writers --set NAME=VALUE)\n",
        ))
        .stdout(predicate::str::contains("message_size  size  64KiB"));
}

#[test]
fn a_sweep_with_a_point_out_of_bounds_names_that_point() {
    tcplab()
        .args(["run", "backlog", "--set", "backlog=0,8,70000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`--set backlog=70000`: backlog is at most 65535",
        ));
    tcplab()
        .args(["run", "backlog", "--set", "backlog=16..0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`--set backlog=16..0`: the range runs down",
        ));
}
