//! Helpers shared by the CLI tests: one way to run the binary, and a place for scenario
//! files a test writes itself.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The catalogue in the source tree (`scenarios/`).
pub fn catalogue_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// A fixture file below `tests/fixtures/`, as an absolute path.
#[allow(dead_code)] // used by the tests that read fixtures, not by every file
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// `tcplab --scenarios <the catalogue>`.
pub fn tcplab() -> Command {
    tcplab_with(&catalogue_dir())
}

/// `tcplab --scenarios <dir>`; $TCPLAB_SCENARIOS is removed so that only `dir` counts.
pub fn tcplab_with(scenarios: &Path) -> Command {
    let mut cmd = Command::cargo_bin("tcplab").expect("the tcplab binary is built");
    cmd.env_remove("TCPLAB_SCENARIOS")
        .arg("--scenarios")
        .arg(scenarios);
    cmd
}

/// Writes `text` to `dir/rel` (creating its folders) and returns the path.
pub fn write_scenario(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().expect("a file below dir")).expect("create folders");
    fs::write(&path, text).expect("write the scenario file");
    path
}

/// A fixture's text.
#[allow(dead_code)] // used by the tests that read fixtures, not by every file
pub fn fixture_text(rel: &str) -> String {
    fs::read_to_string(fixture(rel)).expect("read the fixture")
}

/// The 1-based line of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}"))
        + 1
}

/// `tcplab env --json ARGS`, which must succeed, as JSON.
#[allow(dead_code)] // used by the room and profile tests, not by every file
pub fn env_json(args: &[&str]) -> serde_json::Value {
    let output = tcplab()
        .args(["env", "--json"])
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("run tcplab env");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON environment block")
}

/// `tcplab --scenarios <the catalogue>` as a plain process, for a test that talks to it
/// while it runs (reads its stdout as it comes, sends it a signal).
#[allow(dead_code)] // used by the run tests only
pub fn tcplab_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("tcplab"));
    cmd.env_remove("TCPLAB_SCENARIOS")
        .arg("--scenarios")
        .arg(catalogue_dir());
    cmd
}
