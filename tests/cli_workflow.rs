//! Writing one's own experiment from the command line: `tcplab new`, then `check`, then
//! `run`; naming scenarios by stem, glob and topic; what a run suggests for a file
//! outside the catalogue; `--repeat` without expectations; the SO_RCVBUF warning; and
//! the generated completions and man page.

#[allow(dead_code)] // this file uses only some of the shared helpers
mod common;

use predicates::prelude::*;

use common::{catalogue_dir, tcplab, tcplab_with, write_scenario};

// ---- tcplab new ----------------------------------------------------------------------

#[test]
fn new_writes_a_skeleton_that_checks_and_runs_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    tcplab()
        .current_dir(dir.path())
        .args(["new", "peek-twice", "--topic", "read", "-o", "."])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("read-peek-twice.toml"));
    let file = dir.path().join("read-peek-twice.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# "),
        "the first comment says what it verifies"
    );
    assert!(text.contains("name = \"peek-twice\""));
    tcplab()
        .arg("check")
        .arg(&file)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("(peek-twice)"))
        .stderr(predicate::str::contains("warning").not());
    tcplab()
        .arg("run")
        .arg(&file)
        .args(["--engine", "all"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("NO EXPECTATION FOR THIS OS YET"));
}

#[test]
fn new_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, "keep me").unwrap();
    tcplab()
        .args(["new", "mine", "-o"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never overwrites"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[test]
fn new_into_the_catalogue_refuses_a_name_it_has_and_writes_topic_first() {
    let dir = tempfile::tempdir().unwrap();
    tcplab_with(dir.path())
        .args(["new", "probe", "--topic", "read"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("tcplab run probe"));
    assert!(dir.path().join("read/read-probe.toml").is_file());
    tcplab_with(dir.path())
        .args(["new", "probe", "--topic", "write"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already has a scenario `probe`"));
    tcplab_with(dir.path())
        .args(["new", "Bad Name"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a short name"));
}

// ---- choosing scenarios --------------------------------------------------------------

#[test]
fn a_file_stem_is_accepted_wherever_a_name_is() {
    tcplab()
        .args(["check", "connect-backlog-never-accepted"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("(backlog)"));
    tcplab()
        .args(["explain", "connect-backlog-never-accepted"])
        .assert()
        .code(0);
}

#[test]
fn a_glob_selects_by_name_and_stem_and_one_matching_nothing_names_the_pattern() {
    let out = tcplab().args(["list", "write-*"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("write-timeout") && text.contains("zero-length-write"),
        "{text}"
    );
    assert!(!text.contains("read-timeout"), "{text}");
    tcplab()
        .args(["run", "nothing-like-this-*"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no scenario matches `nothing-like-this-*`",
        ));
}

#[test]
fn topic_selects_a_folder_and_an_unknown_one_suggests_the_closest() {
    let out = tcplab()
        .args(["check", "--topic", "read"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(text.lines().all(|l| l.contains("/read/")), "{text}");
    tcplab()
        .args(["run", "--topic", "reed"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown topic `reed`; the closest: read",
        ));
}

#[test]
fn check_accepts_names_and_names_the_closest_for_an_unknown_one() {
    tcplab().args(["check", "backlog"]).assert().code(0);
    tcplab()
        .args(["check", "backlgo"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown scenario `backlgo`"))
        .stderr(predicate::str::contains("backlog"));
}

// ---- a file outside the catalogue ----------------------------------------------------

/// A scenario with no expectations that sets SO_RCVBUF on the accepted socket.
const OWN: &str = r#"# A peer shuts down its writing half before sending anything.
name = "shutwr-empty"
title = "t"
summary = "s"
source = "tcp(7)"
description = "d"

[[actors]]
name = "server"
steps = [
  { op = "listen", as = "l", backlog = 1 },
  { op = "signal", sync = "listening" },
  { op = "accept", from = "l", as = "c" },
  { op = "set", sock = "c", option = "SO_RCVBUF", value = 4096 },
  { op = "read", id = "r", sock = "c", buf = 10 },
]

[[actors]]
name = "client"
steps = [
  { op = "wait", sync = "listening" },
  { op = "connect", to = "l", as = "s" },
  { op = "shutdown", sock = "s", how = "write" },
]

[observations]
eof = { step = "r", take = "bytes", help = "what the read returned" }
"#;

#[test]
fn hints_after_running_a_file_outside_the_catalogue_name_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "shutwr-empty.toml", OWN);
    let out = tcplab().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The text report breaks long lines at spaces: compare with the breaks undone.
    let text = String::from_utf8_lossy(&out.stdout);
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        joined.contains(&format!("tcplab run {} --repeat 10", file.display())),
        "{text}"
    );
    assert!(!joined.contains("tcplab run shutwr-empty"), "{text}");
}

#[test]
fn repeat_without_expectations_says_so_instead_of_held() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "shutwr-empty.toml", OWN);
    let out = tcplab()
        .arg("run")
        .arg(&file)
        .args(["--repeat", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("shutwr-empty: no expectation for this OS in 3 runs"),
        "{text}"
    );
    assert!(!text.contains("held in"), "{text}");
}

#[test]
fn check_warns_of_so_rcvbuf_set_on_an_accepted_socket_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "shutwr-empty.toml", OWN);
    tcplab()
        .arg("check")
        .arg(&file)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("shutwr-empty.toml:14"))
        .stderr(predicate::str::contains(
            "SO_RCVBUF set on `c` after accept",
        ))
        .stderr(predicate::str::contains("on the listener `l`"));
}

#[test]
fn the_catalogue_draws_no_advice_warning() {
    tcplab()
        .arg("check")
        .assert()
        .code(0)
        .stderr(predicate::str::contains("after accept").not());
    assert!(catalogue_dir().is_dir());
}

// ---- completions and man pages -------------------------------------------------------

#[test]
fn completions_for_bash_zsh_and_fish_mention_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = tcplab().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for sub in [
            "run",
            "check",
            "explain",
            "compare",
            "new",
            "completions",
            "man",
        ] {
            assert!(text.contains(sub), "{shell} completions lack `{sub}`");
        }
    }
    tcplab()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tcsh"));
}

#[test]
fn man_renders_roff_naming_the_subcommands_and_writes_a_page_per_command() {
    let out = tcplab().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(".TH tcplab 1"), "{text}");
    for sub in ["tcplab\\-run", "tcplab\\-check", "tcplab\\-new"] {
        assert!(text.contains(sub), "the page lacks {sub}:\n{text}");
    }
    let dir = tempfile::tempdir().unwrap();
    tcplab()
        .args(["man", "--dir"])
        .arg(dir.path())
        .assert()
        .code(0);
    let run = std::fs::read_to_string(dir.path().join("tcplab-run.1")).unwrap();
    assert!(
        run.contains(".TH tcplab-run 1") && run.contains("\\-\\-topic"),
        "{run}"
    );
    assert!(!dir.path().join("tcplab-guest-init.1").exists());
}
