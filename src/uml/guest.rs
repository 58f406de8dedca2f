//! The guest side: tcplab as PID 1 of a UML kernel (`tcplab guest-init JOB`, hidden).
//!
//! It mounts the guest's own /proc and /sys over the host's (the root is the host's,
//! through hostfs) and a tmpfs on /tmp, brings loopback up, runs the job's scenarios, and
//! hands each record back over the console as one line ([`RECORD`]). Then it syncs and
//! powers the guest off with reboot(2), and waits: init must not exit (the kernel would
//! panic).
//!
//! # Notes
//!
//! mount(2) and reboot(2) are called as Linux has them; the guest is always Linux.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::env::{Environment, Guest};
use crate::lab::{run_in_room, run_scenario_on};
use crate::room::{Room, RoomPlan};
use crate::scenario::{self, ParamValue};

/// Console line prefixes of the protocol; anything else on the console is the kernel's.
pub const READY: &str = "tcplab:ready";
pub const START: &str = "tcplab:start";
pub const RECORD: &str = "tcplab:record";
pub const ERROR: &str = "tcplab:error";
pub const DONE: &str = "tcplab:done";

/// What the host asks the guest to run: written by the host as JSON, read by the init.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub scenarios_dir: PathBuf,
    pub items: Vec<JobItem>,
    /// Engine names, in the order to run them.
    pub engines: Vec<String>,
    pub repeat: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timeout_ms: Option<u64>,
    /// What the records' `env.guest` says.
    pub guest: Guest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobItem {
    pub path: PathBuf,
    pub params: BTreeMap<String, ParamValue>,
}

impl Job {
    /// The runs in order: (item, repeat, engine).
    pub fn runs(&self) -> Vec<(usize, u32, String)> {
        let mut out = Vec::new();
        for i in 0..self.items.len() {
            for k in 0..self.repeat {
                for e in &self.engines {
                    out.push((i, k, e.clone()));
                }
            }
        }
        out
    }
}

/// Writes one protocol line on the console in one write.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let mut text = line.replace(['\r', '\n'], " ");
    text.push('\n');
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The init: never returns.
pub fn init(job_path: &Path) -> ! {
    // Never power off anything but a guest: reboot(2) from a root process on the host
    // would stop the host.
    if std::process::id() != 1 {
        say(&format!(
            "{ERROR} guest-init is the init of a UML guest (PID 1); this is PID {}",
            std::process::id()
        ));
        std::process::exit(2);
    }
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| run_job(job_path, started));
    match outcome {
        Ok(Ok(())) => say(DONE),
        Ok(Err(e)) => say(&format!("{ERROR} {e:#}")),
        Err(_) => say(&format!(
            "{ERROR} the guest's tcplab panicked (see the console above)"
        )),
    }
    power_off()
}

fn run_job(job_path: &Path, started: Instant) -> anyhow::Result<()> {
    use anyhow::Context;
    // Read the job before mounting anything over the host's view.
    let text = std::fs::read_to_string(job_path)
        .with_context(|| format!("cannot read the job {}", job_path.display()))?;
    let job: Job = serde_json::from_str(&text).context("the job is not valid")?;
    // /proc first: checking a scenario reads the kernel's counter names there (the guest's
    // own, not the host's, which hostfs would show through an unmounted /proc).
    mount_guest(&[("proc", "/proc"), ("sysfs", "/sys")])?;
    // The scenarios before the tmpfs: they may live under /tmp, which it covers.
    let mut scenarios = Vec::new();
    for item in &job.items {
        let s = scenario::load(Some(&job.scenarios_dir), &item.path)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        scenarios.push(s);
    }
    mount_guest(&[("tmpfs", "/tmp")])?;
    crate::sys::loopback_up().context("cannot bring lo up")?;
    let mut env = Environment::current();
    env.guest = Some(job.guest.clone());
    say(&format!(
        "{READY} {:.1}",
        started.elapsed().as_secs_f64() * 1e3
    ));
    let timeout = job.timeout_ms.map(Duration::from_millis);
    for (i, k, engine) in job.runs() {
        let e = Engine::from_name(&engine)
            .ok_or_else(|| anyhow::anyhow!("unknown engine `{engine}` in the job"))?;
        let s = &scenarios[i];
        say(&format!("{START} {i} {k} {engine} {}", s.name));
        // A clean room for each run, as on the host: without one, the guest's metrics
        // cache would carry one run's history into the next.
        let params = &job.items[i].params;
        let mut r = match run_in_room(e, s, params, &RoomPlan::default(), &env, timeout) {
            Ok(r) => r,
            Err(room_error) => {
                let mut here = env.clone();
                here.room = Some(Room {
                    kind: "host".to_owned(),
                    via: None,
                    fallback: Some(format!("the guest kernel gave no room: {room_error}")),
                });
                match run_scenario_on(e, s, params, &here, timeout) {
                    Ok(r) => r,
                    Err(e) => {
                        say(&format!("{e}"));
                        continue;
                    }
                }
            }
        };
        r.env.guest = Some(job.guest.clone());
        let json = serde_json::to_string(&r)?;
        say(&format!("{RECORD} {} {json}", json.len()));
    }
    Ok(())
}

#[cfg(target_os = "linux")]
// The guest is Linux: mount(2) with Linux's flags.
fn mount_guest(mounts: &[(&str, &str)]) -> anyhow::Result<()> {
    use std::ffi::CString;
    for &(fstype, target) in mounts {
        let src = CString::new(fstype).expect("no NUL");
        let dst = CString::new(target).expect("no NUL");
        // SAFETY: NUL-terminated strings that outlive the call; no data argument.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                src.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            anyhow::bail!("cannot mount {fstype} on {target}: {e}");
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn mount_guest(mounts: &[(&str, &str)]) -> anyhow::Result<()> {
    let _ = mounts;
    anyhow::bail!("the guest init runs in a Linux kernel only")
}

/// Syncs and powers off; reboot(2) does not return when it works, and if it fails the
/// init waits rather than exit (an init that exits panics the kernel).
fn power_off() -> ! {
    #[cfg(target_os = "linux")]
    // reboot(2) with Linux's command word.
    if std::process::id() == 1 {
        // SAFETY: sync and reboot take no pointers; this is the guest's init.
        unsafe {
            libc::sync();
            libc::reboot(libc::RB_POWER_OFF);
        }
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
