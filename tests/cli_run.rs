//! `tcplab run` as it reports: streamed as the runs finish, Ctrl-C, --fail-fast, output
//! paths checked before anything runs, --record -, colour, --quiet, 100 columns, the
//! Markdown run column and JUnit XML.

// Each test file uses only some of the shared helpers.
#[allow(dead_code)]
mod common;

use std::fs;
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use common::{fixture, tcplab};

/// Longest a test lets one command run (`run --all` takes a few seconds).
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// The scenario that deviates: a refused dial expected to fail with EPIPE (Linux only).
fn deviating() -> String {
    fixture("refused-expects-epipe.toml").display().to_string()
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

// ---------------------------------------------------------------------------------------
// Ctrl-C: a child whose stdout is read as it comes
// ---------------------------------------------------------------------------------------

// SIGINT is sent with kill(2): Unix only (Windows delivers Ctrl-C to a console, which a
// test's child does not have).
#[cfg(unix)]
mod ctrl_c {
    use std::io::Read;
    use std::process::{Child, ExitStatus, Stdio};
    use std::sync::mpsc;
    use std::thread;
    use std::time::Instant;

    use serde_json::Value;

    use wait_timeout::ChildExt;

    use super::common::tcplab_process;
    use super::COMMAND_LIMIT;

    /// A running `tcplab` whose stdout arrives in chunks on a channel.
    struct Running {
        child: Child,
        chunks: mpsc::Receiver<Vec<u8>>,
        stdout: Vec<u8>,
    }

    impl Running {
        fn start(args: &[&str]) -> Running {
            let mut child = tcplab_process()
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start tcplab");
            let mut out = child.stdout.take().expect("piped stdout");
            let (tx, chunks) = mpsc::channel();
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
            Running {
                child,
                chunks,
                stdout: Vec::new(),
            }
        }

        /// Reads stdout until it holds `needle`; panics after the command limit.
        fn wait_for(&mut self, needle: &str) {
            let deadline = Instant::now() + COMMAND_LIMIT;
            while !String::from_utf8_lossy(&self.stdout).contains(needle) {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.chunks.recv_timeout(left) {
                    Ok(c) => self.stdout.extend(c),
                    Err(e) => panic!(
                        "no {needle:?} on stdout ({e}); so far:\n{}",
                        String::from_utf8_lossy(&self.stdout)
                    ),
                }
            }
        }

        fn interrupt(&self) {
            let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
            // SAFETY: kill(2) with a pid of our own child and a valid signal.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        }

        /// The rest of stdout and the exit status, within the command limit.
        fn finish(mut self) -> (String, String, ExitStatus) {
            let deadline = Instant::now() + COMMAND_LIMIT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.chunks.recv_timeout(left) {
                    Ok(c) => self.stdout.extend(c),
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let _ = self.child.kill();
                        panic!("tcplab did not end within {COMMAND_LIMIT:?}");
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(status) = self.child.wait_timeout(left).expect("wait for tcplab") else {
                let _ = self.child.kill();
                panic!("tcplab closed stdout but did not exit");
            };
            let mut stderr = String::new();
            self.child
                .stderr
                .take()
                .expect("piped stderr")
                .read_to_string(&mut stderr)
                .expect("read stderr");
            (
                String::from_utf8(self.stdout).expect("stdout is UTF-8"),
                stderr,
                status,
            )
        }
    }

    #[test]
    fn ctrl_c_during_run_all_prints_the_finished_reports_and_a_summary_and_exits_130() {
        let mut run = Running::start(&["run", "--all"]);
        run.wait_for("\nVerdict on ");
        run.interrupt();
        let (stdout, stderr, status) = run.finish();
        assert_eq!(status.code(), Some(130), "{stderr}");
        assert!(stdout.contains("\nSummary\n"), "{stdout}");
        assert!(
            stdout.contains("interrupted (Ctrl-C): ") && stdout.contains(" planned runs not made"),
            "{stdout}"
        );
        assert!(
            stderr.contains("interrupted: the run in progress finishes"),
            "{stderr}"
        );
        let (catalogue, _) = tcplab::scenario::catalogue(&super::common::catalogue_dir()).unwrap();
        let reported = stdout.matches("\nVerdict on ").count();
        assert!(
            reported >= 1 && reported < catalogue.len(),
            "{reported} reports"
        );
    }

    #[test]
    fn ctrl_c_during_a_json_run_still_closes_a_valid_array() {
        let mut run = Running::start(&["run", "--all", "--json"]);
        // The first record is whole once its closing brace (two spaces in) has come.
        run.wait_for("\n  }");
        run.interrupt();
        let (stdout, stderr, status) = run.finish();
        assert_eq!(status.code(), Some(130), "{stderr}");
        let records: Vec<Value> = serde_json::from_str(&stdout).expect("stdout is a JSON array");
        assert!(!records.is_empty());
        assert!(records.iter().all(|r| r["verdict"]["status"].is_string()));
    }
}

// ---------------------------------------------------------------------------------------
// Streamed formats
// ---------------------------------------------------------------------------------------

#[test]
fn json_of_several_runs_is_one_pretty_array_as_if_printed_at_once() {
    let output = tcplab()
        .args(["run", "refused", "partial-read", "--repeat", "2", "--json"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout_of(&output);
    let records: Vec<Value> = serde_json::from_str(&text).expect("one JSON array");
    assert_eq!(records.len(), 4);
    // Laid out as a pretty-printed array: each record two spaces in, one per element.
    assert!(text.starts_with("[\n  {\n    \"scenario\": {"));
    assert!(text.ends_with("\n  }\n]\n"));
    assert_eq!(text.matches("\n  },\n  {\n").count(), 3);
    assert!(text
        .lines()
        .all(|l| l == "[" || l == "]" || l.starts_with("  ")));
}

#[test]
fn markdown_under_repeat_numbers_the_runs() {
    let output = tcplab()
        .args(["run", "refused", "--repeat", "2", "--format", "markdown"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let text = stdout_of(&output);
    assert!(text.contains("| scenario | run | observation | observed | expected | verdict |"));
    assert!(text.contains("| refused | 1 | dial_error |"), "{text}");
    assert!(text.contains("| refused | 2 | dial_error |"), "{text}");
}

#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the fixture has expectations for Linux only"
)]
#[test]
fn repeat_shows_each_distinct_failing_check_once_with_how_many_runs_had_it() {
    let output = tcplab()
        .args(["run", &deviating(), "--repeat", "3"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stdout_of(&output);
    assert!(text.contains("verdict held in 0 of 3"), "{text}");
    let diff =
        "DIFF dial_error  observed ECONNREFUSED (ConnectionRefused), expected EPIPE (3 of 3 runs)";
    assert_eq!(text.matches(diff).count(), 1, "{text}");
}

#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the fixture has expectations for Linux only"
)]
#[test]
fn engine_all_shows_each_engines_failing_checks() {
    let output = tcplab()
        .args(["run", &deviating(), "--engine", "all"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stdout_of(&output);
    assert_eq!(
        text.matches("DIFF dial_error  observed ECONNREFUSED")
            .count(),
        2,
        "one line under each engine:\n{text}"
    );
}

// ---------------------------------------------------------------------------------------
// Stopping early, output paths
// ---------------------------------------------------------------------------------------

#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the fixture has expectations for Linux only"
)]
#[test]
fn fail_fast_stops_after_the_first_run_that_does_not_pass() {
    let output = tcplab()
        .args(["run", &deviating(), "refused", "--fail-fast"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout_of(&output);
    assert!(text.contains("Verdict on linux: DEVIATION"), "{text}");
    assert!(
        !text.contains("refused: Dialling a port nobody listens on"),
        "{text}"
    );
    assert!(text.contains("--fail-fast"), "{text}");
    assert!(text.contains("1 of 2 planned runs not made"), "{text}");
}

#[test]
fn an_output_file_in_a_missing_folder_is_a_usage_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("missing/report.txt");
    let store = dir.path().join("records.jsonl");
    tcplab()
        .args(["run", "refused", "-o"])
        .arg(&report)
        .arg("--record")
        .arg(&store)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(report.display().to_string()));
    assert!(!store.exists(), "a run was made");
}

#[test]
fn a_record_file_in_a_missing_folder_is_a_usage_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("missing/records.jsonl");
    tcplab()
        .args(["run", "refused", "--record"])
        .arg(&store)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(store.display().to_string()));
}

#[test]
fn record_dash_writes_json_lines_to_stdout_and_the_report_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let output = tcplab()
        .current_dir(dir.path())
        .args(["run", "refused", "partial-read", "--record", "-"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let names: Vec<String> = stdout_of(&output)
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).expect("each line is one record");
            r["scenario"]["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(names, ["refused", "partial-read"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("Verdict on "), "{stderr}");
    assert!(!dir.path().join("-").exists(), "a file named `-` was made");
}

#[test]
fn record_dash_with_output_dash_is_a_usage_error() {
    tcplab()
        .args(["run", "refused", "--record", "-", "-o", "-"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("both want stdout"));
}

// ---------------------------------------------------------------------------------------
// Colour, --quiet, width
// ---------------------------------------------------------------------------------------

#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the fixture has expectations for Linux only"
)]
#[test]
fn color_always_colours_the_verdict_and_the_diff_lines_and_never_does_not() {
    let run = |when: &str| {
        let output = tcplab()
            .args(["run", &deviating(), "--color", when])
            .timeout(COMMAND_LIMIT)
            .output()
            .unwrap();
        stdout_of(&output)
    };
    let always = run("always");
    assert!(always.contains("\x1b[1;31mDEVIATION"), "{always}");
    assert!(always.contains("\x1b[1;31m  DIFF dial_error"), "{always}");
    assert!(!run("never").contains('\x1b'));
}

#[test]
fn color_auto_does_not_colour_a_pipe_even_with_an_empty_no_color() {
    let output = tcplab()
        .env("NO_COLOR", "")
        .args(["run", "refused"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert!(!stdout_of(&output).contains('\x1b'));
}

#[test]
fn compare_takes_color_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("records.jsonl");
    tcplab()
        .args(["run", "refused", "--record"])
        .arg(&store)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0);
    tcplab()
        .args(["compare", "--color", "never"])
        .arg(&store)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\x1b").not());
}

#[test]
fn quiet_prints_the_verdicts_and_the_summary_without_a_timeline() {
    let output = tcplab()
        .args(["run", "refused", "partial-read", "--quiet"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let text = stdout_of(&output);
    assert!(!text.contains("Timeline"), "{text}");
    assert!(!text.contains("\nWhy\n"), "{text}");
    assert!(text.contains("refused: "), "{text}");
    assert!(text.contains("partial-read: "), "{text}");
    assert!(text.contains("\nSummary\n"), "{text}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("[1/2]"), "no progress lines: {stderr}");
}

/// The lines of `text` wider than 100 columns that could have been broken (more than
/// one word).
fn too_wide(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.chars().count() > 100 && l.split_whitespace().count() > 1)
        .collect()
}

#[test]
fn every_line_of_the_text_report_of_the_catalogue_fits_100_columns() {
    let output = tcplab()
        .args(["run", "--all"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let text = stdout_of(&output);
    assert!(text.contains("\nSummary\n"));
    assert_eq!(too_wide(&text), Vec::<&str>::new());
}

#[test]
fn every_line_of_the_repeat_and_engine_views_fits_100_columns() {
    let output = tcplab()
        .args([
            "run",
            "backlog",
            "read-timeout",
            "--engine",
            "all",
            "--repeat",
            "2",
        ])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let text = stdout_of(&output);
    assert!(text.contains("held in"), "{text}");
    assert_eq!(too_wide(&text), Vec::<&str>::new());
}

// ---------------------------------------------------------------------------------------
// JUnit
// ---------------------------------------------------------------------------------------

#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the fixture has expectations for Linux only"
)]
#[test]
fn junit_parses_with_one_testcase_per_scenario_and_the_diff_in_its_failure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("junit.xml");
    tcplab()
        .args(["run", "refused", &deviating(), "--format", "junit", "-o"])
        .arg(&out)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(1);
    let text = fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("2"));
    assert_eq!(root.attribute("failures"), Some("1"));
    let cases: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(names, ["refused", "refused-expects-epipe"]);
    let failure = cases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("the deviating case has a <failure>");
    assert!(failure
        .text()
        .unwrap_or("")
        .contains("DIFF dial_error  observed ECONNREFUSED (ConnectionRefused), expected EPIPE"));
    assert!(
        cases[0].children().all(|n| !n.is_element()),
        "a pass is empty"
    );
}

#[test]
fn junit_marks_a_scenario_without_expectations_skipped() {
    let output = tcplab()
        .arg("run")
        .arg(fixture("refused-no-expectation.toml"))
        .args(["--format", "junit"])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let text = stdout_of(&output);
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    assert_eq!(doc.root_element().attribute("skipped"), Some("1"));
    assert!(doc.descendants().any(|n| n.has_tag_name("skipped")));
}

// ---------------------------------------------------------------------------------------
// sweeps: `--set NAME=LIST` runs once per value and ends with a table
// ---------------------------------------------------------------------------------------

/// The lines of the sweep table that `text` holds for `param`, one per value (the rows
/// after the header, up to the environment line).
fn sweep_rows<'a>(text: &'a str, param: &str) -> Vec<&'a str> {
    let start = text
        .find(&format!("sweep of {param}"))
        .unwrap_or_else(|| panic!("no sweep of {param}:\n{text}"));
    text[start..]
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(param))
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("environment"))
        .filter(|l| l.starts_with("  ") && l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect()
}

#[test]
fn a_sweep_runs_once_per_value_and_prints_one_row_per_value() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("sweep.jsonl");
    let output = tcplab()
        .args([
            "run",
            "backlog",
            "--set",
            "backlog=0,1,4",
            "--quiet",
            "--record",
        ])
        .arg(&rec)
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout_of(&output);
    let rows = sweep_rows(&text, "backlog");
    let values: Vec<&str> = rows
        .iter()
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(values, ["0", "1", "4"], "{text}");
    // One record per value, each with its parameter.
    let backlogs: Vec<i64> = fs::read_to_string(&rec)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["params"]["backlog"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(backlogs, [0, 1, 4]);
}

#[test]
fn a_sweep_under_both_engines_gives_a_table_per_engine() {
    let output = tcplab()
        .args([
            "run",
            "backlog",
            "--set",
            "backlog=1,2",
            "--engine",
            "all",
            "--quiet",
        ])
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout_of(&output);
    assert_eq!(text.matches("sweep of backlog").count(), 2, "{text}");
    assert!(text.contains(" tokio (2 records)"), "{text}");
}

#[test]
fn plot_draws_one_chart_per_numeric_observation_of_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("backlog.svg");
    tcplab()
        .args([
            "run",
            "backlog",
            "--set",
            "backlog=0..2",
            "--quiet",
            "--plot",
        ])
        .arg(&svg)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0);
    let text = fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the plot is XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    // Each chart is titled with its observation; three points per chart (backlog 0, 1, 2).
    assert!(text.contains(">connected_before_block<"), "{text}");
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert!(
        circles >= 3 && circles % 3 == 0,
        "{circles} points:\n{text}"
    );
}

#[test]
fn plot_without_a_sweep_is_a_usage_error_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("x.svg");
    tcplab()
        .args(["run", "backlog", "--plot"])
        .arg(&svg)
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--plot draws a sweep"))
        .stdout(predicate::str::is_empty());
    assert!(!svg.exists());
}

#[test]
fn a_sweep_over_all_runs_the_scenarios_without_that_parameter_once() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("all.jsonl");
    let output = tcplab()
        .args([
            "run",
            "--all",
            "--set",
            "backlog=1,2",
            "--quiet",
            "--record",
        ])
        .arg(&rec)
        .timeout(COMMAND_LIMIT)
        .output()
        .unwrap();
    let names: Vec<String> = fs::read_to_string(&rec)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["scenario"]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names.iter().filter(|n| *n == "backlog").count(),
        2,
        "{output:?}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "refused").count(),
        1,
        "{output:?}"
    );
}
