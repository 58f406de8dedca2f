//! Clean rooms: every run in a fresh network namespace of its own, as root and as an
//! ordinary user, with the environment that decides the figures recorded.
//!
//! The unprivileged path is made real: as root the tests run tcplab as `nobody` with
//! setpriv(1); as an ordinary user they run it as themselves.

// Network namespaces are Linux's; elsewhere every run is in the machine's own stack.
#![cfg(target_os = "linux")]

#[allow(dead_code)]
mod common;

use std::path::Path;
use std::process::Command as StdCommand;
use std::time::Duration;

use serde_json::Value;

use common::tcplab;

/// Longest a test lets one command run.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// The uid and gid the unprivileged runs take when the tests run as root.
const NOBODY: &str = "65534";

fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A copy of the binary and the catalogue that any user can read and run: the checkout
/// may sit below a folder only root can enter (/root), which `nobody` could not reach.
struct OpenCopy {
    dir: tempfile::TempDir,
}

impl OpenCopy {
    fn new() -> OpenCopy {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temporary folder");
        let open = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
                .expect("set permissions")
        };
        open(dir.path(), 0o755);
        let bin = dir.path().join("tcplab");
        std::fs::copy(env!("CARGO_BIN_EXE_tcplab"), &bin).expect("copy the binary");
        open(&bin, 0o755);
        let scenarios = dir.path().join("scenarios");
        std::fs::create_dir(&scenarios).expect("a scenarios folder");
        open(&scenarios, 0o755);
        for topic in std::fs::read_dir(common::catalogue_dir()).expect("the catalogue") {
            let topic = topic.expect("a topic").path();
            if !topic.is_dir() {
                continue;
            }
            let to = scenarios.join(topic.file_name().expect("a name"));
            std::fs::create_dir(&to).expect("a topic folder");
            open(&to, 0o755);
            for f in std::fs::read_dir(&topic).expect("a topic folder") {
                let f = f.expect("a file").path();
                let dest = to.join(f.file_name().expect("a name"));
                std::fs::copy(&f, &dest).expect("copy a scenario");
                open(&dest, 0o644);
            }
        }
        OpenCopy { dir }
    }
}

/// tcplab as an unprivileged user: `nobody` through setpriv when the tests are root (on
/// an open copy of the binary and catalogue), the tests' own user otherwise; `None` (and
/// SKIPPED said) when setpriv is missing. Keep the copy alive while the command runs.
fn unprivileged(test: &str) -> Option<(StdCommand, OpenCopy)> {
    let copy = OpenCopy::new();
    let bin = copy.dir.path().join("tcplab");
    let mut cmd = if is_root() {
        let setpriv = Path::new("/usr/bin/setpriv");
        if !setpriv.exists() {
            skipped(
                test,
                "as root it needs /usr/bin/setpriv (util-linux) to become nobody",
            );
            return None;
        }
        let mut c = StdCommand::new(setpriv);
        c.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "--"])
            .arg(bin);
        c
    } else {
        StdCommand::new(bin)
    };
    cmd.env_remove("TCPLAB_SCENARIOS")
        .current_dir(copy.dir.path())
        .arg("--scenarios")
        .arg(copy.dir.path().join("scenarios"));
    Some((cmd, copy))
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Whether this system lets an ordinary user make a user namespace (some distributions
/// forbid it); the tests of that path say SKIPPED where it does not.
fn user_namespaces_allowed(test: &str) -> bool {
    let max = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .map(|v| v.trim() != "0")
        .unwrap_or(true);
    let clone = std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone")
        .map(|v| v.trim() != "0")
        .unwrap_or(true);
    if !(max && clone) {
        skipped(test, "this system forbids unprivileged user namespaces");
    }
    max && clone
}

// ---- an ordinary user -----------------------------------------------------------------

/// `tcplab ARGS --json` as an unprivileged user, which must succeed, as JSON; `None` (and
/// SKIPPED said) where that cannot be tried here.
fn run_unprivileged(test: &str, args: &[&str]) -> Option<Value> {
    let (mut cmd, _copy) = unprivileged(test)?;
    if !user_namespaces_allowed(test) {
        return None;
    }
    let output = cmd.args(args).arg("--json").output().expect("run tcplab");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    Some(json_of(&output))
}

#[test]
fn an_unprivileged_run_happens_in_a_clean_room_of_its_own() {
    let test = "an_unprivileged_run_happens_in_a_clean_room_of_its_own";
    let Some(r) = run_unprivileged(test, &["run", "buffer-sizes"]) else {
        return;
    };
    assert_eq!(r["env"]["room"]["kind"], "clean", "{:#}", r["env"]);
    assert_eq!(r["env"]["room"]["via"], "user namespace");
    // A fresh namespace's metrics cache is empty.
    assert_eq!(r["env"]["tcp_metrics"], serde_json::json!({}));
    assert_eq!(r["verdict"]["status"], "pass", "{:#}", r["verdict"]);
}

#[test]
fn an_unprivileged_user_can_set_a_rooms_congestion_control() {
    let test = "an_unprivileged_user_can_set_a_rooms_congestion_control";
    let args = [
        "run",
        "buffer-sizes",
        "--sysctl",
        "net.ipv4.tcp_congestion_control=reno",
    ];
    let Some(r) = run_unprivileged(test, &args) else {
        return;
    };
    assert_eq!(
        r["env"]["sysctls"]["net.ipv4.tcp_congestion_control"],
        "reno"
    );
    assert_eq!(r["observations"]["congestion"], "reno");
    assert_eq!(r["verdict"]["status"], "pass", "{:#}", r["verdict"]);
}

// Root without any capability (setpriv clears the bounding set) may not create a user
// namespace here (EPERM), and is not privileged enough for a network namespace: the case
// of a system that refuses both.
#[test]
fn where_no_room_can_be_made_a_run_says_so_and_settings_are_refused() {
    let test = "where_no_room_can_be_made_a_run_says_so_and_settings_are_refused";
    if !is_root() {
        skipped(test, "needs root, to drop every capability with setpriv");
        return;
    }
    let setpriv = Path::new("/usr/bin/setpriv");
    if !setpriv.exists() {
        skipped(test, "needs /usr/bin/setpriv (util-linux)");
        return;
    }
    let run = |args: &[&str]| {
        StdCommand::new(setpriv)
            .args(["--bounding-set", "-all", "--inh-caps", "-all", "--"])
            .arg(env!("CARGO_BIN_EXE_tcplab"))
            .arg("--scenarios")
            .arg(common::catalogue_dir())
            .args(args)
            .output()
            .expect("run tcplab")
    };
    let probe = run(&["env", "--json"]);
    let env = json_of(&probe);
    if env["room"]["kind"] == "clean" {
        skipped(test, "this system lets a capability-less root make rooms");
        return;
    }
    let stderr = String::from_utf8_lossy(&probe.stderr);
    assert!(stderr.contains("no clean room"), "{stderr}");
    assert!(env["room"]["fallback"].is_string(), "{env:#}");

    let output = run(&["run", "refused", "--profile", "macos-somaxconn"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("none can be made here"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing ran, nothing printed");
}

// ---- what the record keeps --------------------------------------------------------------

#[test]
fn the_host_room_shows_the_machines_metrics_cache_and_a_clean_room_an_empty_one() {
    let env = common::env_json;
    let clean = env(&[]);
    let host = env(&["--room", "host"]);
    assert_eq!(host["room"]["kind"], "host");
    assert!(host["tcp_metrics"].is_object(), "{host:#}");
    if clean["room"]["kind"] == "clean" {
        assert_eq!(clean["tcp_metrics"], serde_json::json!({}));
    }
    for e in [&clean, &host] {
        for name in [
            "net.ipv4.tcp_congestion_control",
            "net.ipv4.tcp_allowed_congestion_control",
            "net.ipv4.tcp_reordering",
            "net.ipv4.tcp_no_metrics_save",
        ] {
            assert!(e["sysctls"][name].is_string(), "{name} missing: {e:#}");
        }
        assert_eq!(e["lo_mtu"], 65536);
    }
}

#[test]
fn a_congestion_control_the_room_may_not_choose_is_refused_naming_the_allowed_ones() {
    let allowed = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_allowed_congestion_control")
        .unwrap_or_default();
    let available = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .unwrap_or_default();
    let Some(other) = available
        .split_whitespace()
        .find(|a| !allowed.split_whitespace().any(|b| b == *a))
    else {
        skipped(
            "a_congestion_control_the_room_may_not_choose_...",
            "every available congestion control is allowed here",
        );
        return;
    };
    let output = tcplab()
        .args(["env", "--sysctl"])
        .arg(format!("net.ipv4.tcp_congestion_control={other}"))
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab env");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("none can be made here") {
        skipped("a_congestion_control_...", "no room can be made here");
        return;
    }
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tcp_allowed_congestion_control"),
        "{stderr}"
    );
    assert!(stderr.contains(allowed.trim()), "{stderr}");
    assert!(!stderr.contains("is global"), "{stderr}");
}

#[test]
fn a_congestion_control_the_kernel_lacks_is_refused_as_unknown() {
    let output = tcplab()
        .args([
            "env",
            "--sysctl",
            "net.ipv4.tcp_congestion_control=nosuchcc",
        ])
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab env");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("none can be made here") {
        skipped(
            "a_congestion_control_the_kernel_lacks_...",
            "no room can be made here",
        );
        return;
    }
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("has no congestion control `nosuchcc`"),
        "{stderr}"
    );
}
