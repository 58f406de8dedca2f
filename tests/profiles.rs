//! Environment profiles: scenarios run in a fresh network namespace under other settings,
//! recorded in the environment block, without touching the host's settings.
//!
//! The settings are made in each run's own network namespace. The tests that check what
//! the host keeps need root (to read a host setting after a run as the same user would not
//! prove much otherwise); when the test process is not root they print that they were
//! skipped and return; CI runs as root. The unprivileged path is tests/rooms.rs's.
//! The tests run one at a time (a lock), so that one test's namespace is never mistaken
//! for another's.

// Network namespaces and /proc/sys are Linux's; elsewhere --profile is refused (exit 2).
#![cfg(target_os = "linux")]

// Each test file uses only some of the shared helpers.
#[allow(dead_code)]
mod common;

use std::process::{Command as StdCommand, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

use common::tcplab;

/// Longest a test lets one command run; the slowest run here (short SYN retries, two
/// dials that each give up after about 3 s) takes about 6 s.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// One namespace test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Says plainly that a test was skipped. Written to stderr directly, not with eprintln!,
/// which the test harness captures and shows only for failing tests.
fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// True when this process can create network namespaces; otherwise says the test is
/// skipped, plainly, on stderr.
fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        skipped(
            test,
            "needs root (CI runs as root): it reads the host's settings after a run as root would change them",
        );
    }
    root
}

fn host_sysctl(name: &str) -> String {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::read_to_string(path)
        .expect("read the host's sysctl")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON record")
}

// ---------------------------------------------------------------------------------------
// listing and refusing, with or without root
// ---------------------------------------------------------------------------------------

#[test]
fn profiles_lists_every_profile_with_its_settings() {
    let mut assert = tcplab().arg("profiles").assert().code(0);
    for p in tcplab::profile::PROFILES {
        assert = assert.stdout(predicate::str::contains(p.name));
        for (k, v) in p.settings {
            assert = assert.stdout(predicate::str::contains(format!("{k} = {v}")));
        }
    }
}

#[test]
fn an_unknown_profile_is_a_usage_error_naming_the_closest() {
    tcplab()
        .args(["run", "refused", "--profile", "macos-somaxcon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown profile `macos-somaxcon`"))
        .stderr(predicate::str::contains("macos-somaxconn"));
}

#[test]
fn a_setting_outside_net_is_refused_before_anything_runs() {
    tcplab()
        .args(["run", "refused", "--sysctl", "kernel.pid_max=4096"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a network setting"));
}

// ---------------------------------------------------------------------------------------
// running under a profile (root)
// ---------------------------------------------------------------------------------------

#[test]
fn macos_somaxconn_clamps_the_backlog_to_128_inside_the_namespace_only() {
    let _one = serial();
    if !root_or_skip("macos_somaxconn_...") {
        return;
    }
    let before = host_sysctl("net.core.somaxconn");
    let output = tcplab()
        .args(["run", "backlog", "--profile", "macos-somaxconn"])
        .args(["--set", "backlog=200", "--json"])
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let r = json_of(&output);
    assert_eq!(r["env"]["netns"]["profile"], "macos-somaxconn");
    assert_eq!(r["env"]["netns"]["set"]["net.core.somaxconn"], "128");
    // Read back inside the namespace, so the facts (somaxconn) follow the profile.
    assert_eq!(r["env"]["sysctls"]["net.core.somaxconn"], "128");
    // min(backlog 200, somaxconn 128) + 1.
    assert_eq!(r["observations"]["connected_before_block"], 129);
    assert_eq!(r["verdict"]["status"], "pass");
    assert_eq!(
        host_sysctl("net.core.somaxconn"),
        before,
        "the host changed"
    );
}

// tcp(7) says tcp_abort_on_overflow=1 resets connections the listener has no room for;
// measured here, the dial still gets no answer: a SYN that finds the accept queue full is
// dropped before that setting is consulted (it applies to the handshake's final ACK).
#[test]
fn abort_on_overflow_is_recorded_and_a_full_queue_still_drops_the_syn() {
    let _one = serial();
    if !root_or_skip("abort_on_overflow_...") {
        return;
    }
    let before = host_sysctl("net.ipv4.tcp_abort_on_overflow");
    let output = tcplab()
        .args(["run", "backlog", "--profile", "abort-on-overflow", "--json"])
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let r = json_of(&output);
    assert_eq!(r["env"]["sysctls"]["net.ipv4.tcp_abort_on_overflow"], "1");
    assert_eq!(r["observations"]["blocked_dial_error"]["deadline"], true);
    assert_eq!(host_sysctl("net.ipv4.tcp_abort_on_overflow"), before);
}

#[test]
fn short_syn_retries_turn_the_blocked_dial_into_etimedout_before_a_long_deadline() {
    let _one = serial();
    if !root_or_skip("short_syn_retries_...") {
        return;
    }
    let output = tcplab()
        .args(["run", "backlog", "--profile", "short-syn-retries", "--json"])
        .args(["--set", "dial_timeout_ms=20000", "--timeout-ms", "50000"])
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab");
    let r = json_of(&output);
    assert_eq!(r["env"]["sysctls"]["net.ipv4.tcp_syn_retries"], "1");
    assert_eq!(
        r["observations"]["blocked_dial_error"]["errno"], "ETIMEDOUT",
        "{r:#}"
    );
    // The scenario's Linux expectation (a deadline) was measured with 6 SYN retries:
    // under this profile the run is a deviation, and says so.
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(r["verdict"]["status"], "deviation");
}

#[test]
fn a_global_setting_is_refused_and_the_host_keeps_its_value() {
    let _one = serial();
    if !root_or_skip("a_global_setting_...") {
        return;
    }
    let before = host_sysctl("net.core.rmem_max");
    tcplab()
        .args(["run", "refused", "--sysctl", "net.core.rmem_max=4096"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not per network namespace"));
    assert_eq!(host_sysctl("net.core.rmem_max"), before);
}

/// The network namespaces of a process's threads (`net:[4026532008]`): a run's room is
/// its room thread's, not the main thread's.
fn netns_of(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_link(t.path().join("ns/net")).ok())
        .map(|p| p.display().to_string())
        .collect()
}

// The namespace has no name and no mount: it lives exactly as long as the process in it.
// A run killed with SIGKILL (no chance to clean up) leaves no process in that namespace.
#[test]
fn a_killed_run_leaves_no_namespace_behind() {
    let _one = serial();
    if !root_or_skip("a_killed_run_...") {
        return;
    }
    let ours = std::fs::read_link("/proc/thread-self/ns/net")
        .expect("our own netns")
        .display()
        .to_string();
    let before = host_sysctl("net.core.somaxconn");
    let bin = env!("CARGO_BIN_EXE_tcplab");
    // A dial deadline of 20 s keeps the run busy until it is killed.
    let mut child = StdCommand::new(bin)
        .arg("--scenarios")
        .arg(common::catalogue_dir())
        .args(["run", "backlog", "--profile", "macos-somaxconn"])
        .args(["--set", "dial_timeout_ms=20000", "--timeout-ms", "60000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tcplab");
    let t0 = Instant::now();
    let theirs = loop {
        match netns_of(child.id()).into_iter().find(|ns| *ns != ours) {
            Some(ns) => break ns,
            _ if t0.elapsed() > COMMAND_LIMIT => {
                let _ = child.kill();
                panic!("the run never entered a namespace of its own");
            }
            // Polling /proc: there is nothing to wait on for another process's unshare.
            _ => std::thread::yield_now(),
        }
    };
    child.kill().expect("SIGKILL the run");
    child.wait().expect("reap it");
    let holders: Vec<String> = std::fs::read_dir("/proc")
        .expect("list /proc")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| netns_of(pid).contains(&theirs))
        .map(|pid| pid.to_string())
        .collect();
    assert!(
        holders.is_empty(),
        "processes still in {theirs}: {holders:?}"
    );
    assert_eq!(
        host_sysctl("net.core.somaxconn"),
        before,
        "the host changed"
    );
}

// A global setting (net.core.rmem_max, say) is hidden inside a namespace but still
// applies there: the environment block keeps the host's value rather than losing it, and
// every setting the host's block shows is in the namespace's too.
#[test]
fn the_environment_in_a_namespace_keeps_every_setting_the_host_shows() {
    let _one = serial();
    if !root_or_skip("the_environment_in_a_namespace_...") {
        return;
    }
    let env = common::env_json;
    let host = env(&["--room", "host"]);
    let inside = env(&["--profile", "short-syn-retries"]);
    let host_sysctls = host["sysctls"].as_object().expect("sysctls");
    // Presence only: a namespace starts from the kernel's defaults, which a tuned host's
    // own values need not equal.
    for k in host_sysctls.keys() {
        assert!(
            inside["sysctls"].get(k).is_some(),
            "{k} missing in the namespace"
        );
    }
    assert_eq!(inside["sysctls"]["net.ipv4.tcp_syn_retries"], "1");
    assert!(host.get("netns").is_none());
    assert_eq!(inside["netns"]["profile"], "short-syn-retries");
}
