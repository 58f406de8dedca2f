//! Expectations taken from documentation are reported as such: a documented PASS is never
//! shown as a measured one, in the text report, the --repeat summary, the run summary and
//! Markdown.

// Each test file uses only some of the shared helpers.
#[allow(dead_code)]
mod common;

use std::time::Duration;

use predicates::prelude::*;

use common::{tcplab_with, write_scenario};

/// Longest a test lets one command run (refused dials, a few milliseconds each).
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// A refused dial whose expectation for this OS is documented, not measured.
fn documented_refused(dir: &std::path::Path) {
    let text = format!(
        r#"# Verifies that documented expectations are reported as documented.
name = "refused-documented"
title = "A refused dial with a documented expectation"
summary = "fixture: the expectation comes from documentation"
source = "tcplab tests"
description = "The server binds a port without listening; the client dials it once."

[[actors]]
name = "server"
steps = [
  {{ op = "bind", as = "p" }},
  {{ op = "signal", sync = "bound" }},
  {{ op = "wait", sync = "done" }},
]

[[actors]]
name = "client"
steps = [
  {{ op = "wait", sync = "bound" }},
  {{ op = "connect", id = "dial", to = "p", as = "c" }},
  {{ op = "signal", sync = "done" }},
]

[observations]
dial_error = {{ step = "dial", take = "outcome", help = "what connect(2) returned" }}

[expect.{os}]
documented = "connect(2): ECONNREFUSED, no-one listening on the remote address"
dial_error = "ConnectionRefused"
"#,
        os = std::env::consts::OS
    );
    write_scenario(dir, "connect/refused-documented.toml", &text);
}

#[test]
fn a_documented_pass_says_documented_not_measured_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    documented_refused(dir.path());
    let note = "documented, not measured";
    tcplab_with(dir.path())
        .args(["run", "refused-documented"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!("PASS ({note})")))
        .stdout(predicate::str::contains(
            "expectations from documentation, not measured: connect(2)",
        ));
    tcplab_with(dir.path())
        .args(["run", "refused-documented", "--repeat", "2"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "verdict held in 2 of 2 (expectations {note})"
        )));
    tcplab_with(dir.path())
        .args(["run", "refused-documented", "--format", "markdown"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!("| holds ({note}) |")));
    tcplab_with(dir.path())
        .args(["run", "--all"])
        .timeout(COMMAND_LIMIT)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!("PASS ({note})")));
}
