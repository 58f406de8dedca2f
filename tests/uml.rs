//! `run --kernel`: scenarios inside a user-mode Linux kernel, and what happens when the
//! kernel is not one, dies, hangs or stops mid-run.
//!
//! The boot test needs a UML kernel: Debian's `user-mode-linux` package (which .ci/run
//! installs) or one named by $TCPLAB_TEST_KERNEL; without one it says SKIPPED. The
//! failure tests use stand-in "kernels" (shell scripts) through the library, so they run
//! everywhere a shell does.

#[allow(dead_code)]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use predicates::prelude::*;

use common::tcplab;
use tcplab::env::Guest;
use tcplab::uml::boot::{self, BootOptions};
use tcplab::uml::guest::{Job, JobItem};
use tcplab::uml::Kernel;

/// Longest a boot test may take: booting plus one short scenario, with room for a loaded
/// machine.
const BOOT_TEST_LIMIT: Duration = Duration::from_secs(120);

/// The kernel the boot tests use, with the XSAVE shim built beside the tcplab binary.
fn test_kernel() -> Option<PathBuf> {
    let kernel = std::env::var_os("TCPLAB_TEST_KERNEL")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(tcplab::uml::SYSTEM_KERNEL)))
        .filter(|p| p.is_file())?;
    ensure_shim();
    Some(kernel)
}

/// Builds the XSAVE shim (shim/, `libtcplab_xsave.so`) beside the tcplab binary these tests
/// run, once. `cargo test` builds that binary but not the shim's cdylib (a test build of a
/// cdylib crate makes only its test harness), and a UML kernel before 7.2 cannot boot
/// without the shim on a CPU whose XSAVE area is larger than UML's buffer (AVX-512): the
/// kernel says "ptrace set fp regs failed, errno = 14" and panics.
fn ensure_shim() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_tcplab"));
        if boot::find_shim(&exe).is_some() {
            return;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "-p", "tcplab-xsave"]);
        if exe.parent().and_then(Path::file_name) == Some("release".as_ref()) {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(
            status.success(),
            "cargo build -p tcplab-xsave failed: {status}"
        );
        assert!(
            boot::find_shim(&exe).is_some(),
            "the shim is not beside {} after building it",
            exe.display()
        );
    });
}

// ---- Booting a real UML kernel -------------------------------------------------------

#[test]
fn a_uml_kernel_boots_and_runs_one_scenario_as_if_here() {
    let Some(kernel) = test_kernel() else {
        println!(
            "SKIPPED: no UML kernel (apt-get install user-mode-linux, or set TCPLAB_TEST_KERNEL)"
        );
        return;
    };
    let out = tcplab()
        .args(["run", "refused", "--json", "--kernel"])
        .arg(&kernel)
        .timeout(BOOT_TEST_LIMIT)
        .output()
        .expect("tcplab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.contains("init ready after"), "{stderr}");
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON record");
    assert_eq!(record["scenario"]["name"], "refused");
    assert_eq!(record["env"]["guest"]["kind"], "uml");
    assert_eq!(record["env"]["cpus"], 1);
    let host = tcplab::env::Environment::current().kernel_release;
    assert_eq!(record["env"]["guest"]["host_kernel_release"], host.as_str());
    assert_eq!(record["verdict"]["status"], "pass");
    assert_eq!(
        record["observations"]["dial_error"]["errno"],
        "ECONNREFUSED"
    );
}

// ---- Bad input on the command line ---------------------------------------------------

#[test]
fn an_unknown_kernel_names_the_ones_at_hand() {
    let cache = tempfile::tempdir().unwrap();
    tcplab()
        .env("TCPLAB_KERNELS", cache.path())
        .args(["run", "refused", "--kernel", "4.19"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown kernel `4.19`"))
        .stderr(predicate::str::contains("kernels"));
}

#[test]
fn a_binary_that_is_not_a_uml_kernel_is_refused_before_booting() {
    let exe = std::env::current_exe().unwrap();
    tcplab()
        .args(["run", "refused", "--kernel"])
        .arg(&exe)
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a user-mode Linux kernel"));
}

#[test]
fn kernels_lists_nothing_at_hand_with_the_command_that_fetches() {
    let cache = tempfile::tempdir().unwrap();
    let out = tcplab()
        .env("TCPLAB_KERNELS", cache.path())
        .arg("kernels")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tcplab kernels fetch") || stderr.contains("use: tcplab run"),
        "{stderr}"
    );
}

#[test]
fn guest_init_refuses_to_run_unless_it_is_pid_1() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.json");
    std::fs::write(&job, "{}").unwrap();
    tcplab()
        .arg("guest-init")
        .arg(&job)
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "tcplab:error guest-init is the init of a UML guest",
        ));
}

// ---- Guests that fail: stand-in kernels ----------------------------------------------

/// A "kernel" that is a shell script, run by the host side as it would run UML.
fn stand_in(dir: &Path, script: &str) -> Kernel {
    let path = dir.join("linux");
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    #[cfg(unix)]
    // Permission bits are Unix's.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Kernel {
        release: "0.0.1".into(),
        source: "stand-in".into(),
        suite: Some("test".into()),
        linux: path,
        loader: None,
        lib_dir: None,
        size: 0,
    }
}

fn one_run_job() -> Job {
    Job {
        scenarios_dir: common::catalogue_dir(),
        items: vec![JobItem {
            path: common::catalogue_dir().join("connect/connect-refused.toml"),
            params: BTreeMap::new(),
        }],
        engines: vec!["std".into()],
        repeat: 2,
        timeout_ms: None,
        guest: Guest {
            kind: "uml".into(),
            source: "stand-in".into(),
            host_kernel_release: "host".into(),
        },
    }
}

fn quick_options() -> BootOptions {
    BootOptions {
        tcplab: PathBuf::from("/nonexistent/tcplab"),
        shim: None,
        shim_always: false,
        boot_timeout: Duration::from_secs(2),
        run_slack: Duration::from_secs(2),
        mem: "64M".into(),
    }
}

#[test]
fn a_kernel_that_panics_at_boot_is_named_with_its_console() {
    let dir = tempfile::tempdir().unwrap();
    let k = stand_in(
        dir.path(),
        "echo 'Kernel panic - not syncing: VFS: Unable to mount root fs'\necho ' [<60046010>] ? um_set_signals+0x36/0x3e'\nexit 1",
    );
    let job = one_run_job();
    let out = boot::run(&k, &job, &[Duration::ZERO; 2], &quick_options(), |_| {});
    let e = out.error.expect("an error").to_string();
    assert!(
        e.starts_with("kernel 0.0.1 (test): the kernel ended"),
        "{e}"
    );
    assert!(e.contains("before tcplab's init said it was ready"), "{e}");
    assert!(e.contains("| Kernel panic - not syncing: VFS"), "{e}");
    assert!(
        !e.contains("um_set_signals"),
        "stack lines are left out: {e}"
    );
    assert!(out.records.is_empty());
}

#[test]
fn a_kernel_that_hangs_at_boot_is_stopped_by_the_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let k = stand_in(dir.path(), "echo 'Booting...'\nexec sleep 600");
    let started = Instant::now();
    let out = boot::run(
        &k,
        &one_run_job(),
        &[Duration::ZERO; 2],
        &quick_options(),
        |_| {},
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the watchdog bounds the wait"
    );
    let e = out.error.expect("an error").to_string();
    assert!(e.contains("no sign of life for 2.0 s while booting"), "{e}");
    assert!(e.contains("| Booting..."), "{e}");
}

#[test]
fn a_guest_that_dies_mid_run_keeps_the_records_already_received() {
    // One real record, made here, handed back as a guest would, then the "kernel" dies.
    let s = tcplab::scenario::load(
        Some(&common::catalogue_dir()),
        &common::catalogue_dir().join("connect/connect-refused.toml"),
    )
    .unwrap();
    let params = s.resolve_params(&[]).unwrap();
    let r = tcplab::lab::run_scenario(tcplab::engine::Engine::Std, &s, &params)
        .expect("the run's room can be set up");
    let json = serde_json::to_string(&r).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let line_file = dir.path().join("record.line");
    std::fs::write(&line_file, format!("tcplab:record {} {json}\n", json.len())).unwrap();
    let k = stand_in(
        dir.path(),
        &format!(
            "echo 'tcplab:ready 1.0'\necho 'tcplab:start 0 0 std refused'\ncat '{}'\necho 'tcplab:start 0 1 std refused'\necho 'Kernel panic - not syncing: Segfault with no mm'\nexit 134",
            line_file.display()
        ),
    );
    let out = boot::run(
        &k,
        &one_run_job(),
        &[Duration::ZERO; 2],
        &quick_options(),
        |_| {},
    );
    assert_eq!(out.records.len(), 1, "the record before the crash is kept");
    assert_eq!(out.records[0].started_at, r.started_at);
    assert_eq!(out.records[0].events.len(), r.events.len());
    let e = out.error.expect("an error").to_string();
    assert!(e.contains("after 1 of 2 runs"), "{e}");
    assert!(
        e.contains("| Kernel panic - not syncing: Segfault with no mm"),
        "{e}"
    );
}

#[test]
fn a_kernel_that_fails_for_the_short_xsave_buffer_boots_again_with_the_shim() {
    let dir = tempfile::tempdir().unwrap();
    let k = stand_in(
        dir.path(),
        "if [ -z \"$LD_PRELOAD\" ]; then echo 'ptrace set fp regs failed, errno = 14'; exit 1; fi\necho 'tcplab:ready 1.0'\necho 'shim seen'\nexit 1",
    );
    let shim = dir.path().join("libshim.so");
    std::fs::write(&shim, "").unwrap();
    let options = BootOptions {
        shim: Some(shim),
        ..quick_options()
    };
    let out = boot::run(&k, &one_run_job(), &[Duration::ZERO; 2], &options, |_| {});
    assert!(out.with_shim, "booted again with the shim");
    assert!(out.boot_ms.is_some());
    let e = out
        .error
        .expect("the stand-in stops after ready")
        .to_string();
    assert!(e.contains("after 0 of 2 runs"), "{e}");
    // Without a shim at hand, the error says how to build one.
    let out = boot::run(
        &k,
        &one_run_job(),
        &[Duration::ZERO; 2],
        &quick_options(),
        |_| {},
    );
    let e = out.error.expect("an error").to_string();
    assert!(e.contains("cargo build -p tcplab-xsave"), "{e}");
}

// ---- Expectations for a range of kernels ---------------------------------------------

/// tests/fixtures/refused-minimal.toml with a kernel range whose bounds each test fills in.
const RANGED: &str = concat!(
    include_str!("fixtures/refused-minimal.toml"),
    r#"
[[expect.linux.kernels]]
range = "RANGE"
measured = "UML 5.10.46 (test)"
why = "an example"
dial = "ok"
"#
);

/// A scenario folder holding RANGED with `range` filled in, as misc/ranged.toml.
fn ranged(range: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::write_scenario(
        dir.path(),
        "misc/ranged.toml",
        &RANGED.replace("RANGE", range),
    );
    dir
}

#[test]
fn check_rejects_a_kernel_range_that_holds_no_version() {
    let dir = ranged(">= 6.0, < 5.10");
    common::tcplab_with(dir.path())
        .arg("check")
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expect.linux.kernels.range"))
        .stderr(predicate::str::contains("contains no kernel version"));
}

#[test]
fn explain_shows_a_kernel_range_with_its_bounds_and_why() {
    let dir = ranged("5.10");
    common::tcplab_with(dir.path())
        .args(["explain", "ranged"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "on linux kernels 5.10 (>= 5.10.0, < 5.11.0) (measured: UML 5.10.46 (test))",
        ))
        .stdout(predicate::str::contains("why: an example"));
}

// The host's own kernel is outside the range, so the OS table holds here.
#[test]
fn a_kernel_range_that_excludes_this_kernel_leaves_the_os_expectations() {
    let dir = ranged("< 2.6");
    let out = common::tcplab_with(dir.path())
        .args(["run", "ranged", "--json"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    if cfg!(target_os = "linux") {
        assert_eq!(record["verdict"]["status"], "pass", "{record}");
        assert_eq!(record["verdict"]["basis"]["measured"], "m");
    }
}

// In a guest the range is judged against the guest's kernel: this range holds every kernel
// from 3.0 on, so its table (which expects the wrong outcome on purpose) decides.
#[test]
fn a_kernel_range_is_judged_against_the_guest_s_kernel() {
    let Some(kernel) = test_kernel() else {
        println!(
            "SKIPPED: no UML kernel (apt-get install user-mode-linux, or set TCPLAB_TEST_KERNEL)"
        );
        return;
    };
    let dir = ranged(">= 3.0");
    let out = common::tcplab_with(dir.path())
        .args(["run", "ranged", "--json", "--kernel"])
        .arg(&kernel)
        .timeout(BOOT_TEST_LIMIT)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a deviation: {stderr}");
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["verdict"]["status"], "deviation");
    assert_eq!(record["verdict"]["basis"]["measured"], "UML 5.10.46 (test)");
}
