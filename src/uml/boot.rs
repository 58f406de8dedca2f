//! The host side of a guest run: boots a UML kernel with tcplab as its init, reads the
//! console, and watches the guest.
//!
//! The kernel gets the host's root through hostfs (`rootfstype=hostfs rootflags=/`), so the
//! guest runs this very tcplab binary and reads the scenario files where they are. Its
//! console goes to the kernel process's stdout (`con0=null,fd:1`); every line that is not
//! the protocol's ([`super::guest`]) is the kernel's and kept for error messages.
//!
//! The watchdog: the guest must say it is ready within [`BootOptions::boot_timeout`], and
//! then hand back each run's record within that run's limit. When it does not, or the
//! kernel ends before the last record, the whole process group is killed and the error
//! names the kernel and quotes the console; the records already received are kept.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::guest::{Job, DONE, ERROR, READY, RECORD, START};
use super::Kernel;
use crate::record::Record;

/// Disables glibc's AVX-512 string routines in the guest (they corrupted state under UML
/// on AVX-512 hosts); passed on the kernel command line, which gives it to init.
pub const GLIBC_TUNABLES: &str =
    "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD";
/// The shim's file name beside the tcplab binary (shim/ in the workspace).
pub const SHIM_NAME: &str = "libtcplab_xsave.so";
/// Console lines kept for error messages.
const CONSOLE_TAIL: usize = 25;
/// How long the kernel may take to end after the guest said it was done.
const POWER_OFF_LIMIT: Duration = Duration::from_secs(15);

/// How to boot.
#[derive(Debug, Clone)]
pub struct BootOptions {
    /// The tcplab binary the guest runs as its init (the host's own, through hostfs).
    pub tcplab: PathBuf,
    /// The XSAVE shim, if found: preloaded when a kernel fails at boot with UML's short
    /// XSAVE buffer (`ptrace set fp regs failed`), and then booted again.
    pub shim: Option<PathBuf>,
    /// Preload the shim from the start (`$TCPLAB_XSAVE_SHIM` names it).
    pub shim_always: bool,
    /// From starting the kernel to the guest's ready line.
    pub boot_timeout: Duration,
    /// Added to each run's own watchdog limit (UML is slower than the host: one CPU,
    /// HZ=100).
    pub run_slack: Duration,
    /// The guest's memory (`mem=`).
    pub mem: String,
}

impl BootOptions {
    /// This tcplab binary, the shim beside it (or `$TCPLAB_XSAVE_SHIM`), 30 s to boot and
    /// 30 s of slack per run.
    pub fn for_this_binary() -> std::io::Result<BootOptions> {
        let tcplab = std::env::current_exe()?;
        Ok(BootOptions {
            shim: find_shim(&tcplab),
            shim_always: std::env::var_os("TCPLAB_XSAVE_SHIM").is_some(),
            tcplab,
            boot_timeout: Duration::from_secs(30),
            run_slack: Duration::from_secs(30),
            mem: "512M".into(),
        })
    }
}

/// `$TCPLAB_XSAVE_SHIM`, else the shim beside `exe` or one folder up (a test binary lives
/// in target/debug/deps, the shim in target/debug).
pub fn find_shim(exe: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TCPLAB_XSAVE_SHIM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let dir = exe.parent()?;
    [dir.join(SHIM_NAME), dir.parent()?.join(SHIM_NAME)]
        .into_iter()
        .find(|p| p.is_file())
}

/// A guest that did not finish.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestError {
    /// `6.1.176 (bookworm)`.
    pub kernel: String,
    pub what: String,
    /// The console's last lines (the kernel's, not the protocol's).
    pub console: Vec<String>,
}

impl std::fmt::Display for GuestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kernel {}: {}", self.kernel, self.what)?;
        if self.console.is_empty() {
            write!(f, "; the console said nothing")
        } else {
            write!(f, "; the console said:")?;
            for l in &self.console {
                write!(f, "\n  | {l}")?;
            }
            Ok(())
        }
    }
}

impl std::error::Error for GuestError {}

/// What the host hears from a guest, as it happens.
#[derive(Debug)]
pub enum GuestEvent<'a> {
    /// The init is up: milliseconds from starting the kernel.
    Ready(f64),
    /// A run begins: index into [`Job::runs`].
    Start(usize),
    Record(&'a Record),
}

/// How a guest run went.
#[derive(Debug)]
pub struct Outcome {
    pub records: Vec<Record>,
    /// From starting the kernel to the guest's ready line.
    pub boot_ms: Option<f64>,
    /// From starting the kernel to its end.
    pub total_ms: f64,
    pub error: Option<GuestError>,
    /// Whether the kernel ran with the XSAVE shim preloaded.
    pub with_shim: bool,
}

enum Msg {
    Out(String),
    Err(String),
    OutClosed,
    Exited(std::io::Result<ExitStatus>),
}

/// Boots `kernel` with `job`, `limits[i]` being the watchdog limit of `job.runs()[i]`
/// (before the slack), and calls `on_event` as the guest speaks.
///
/// Without [`BootOptions::shim_always`] the kernel first boots as it is; if it dies at
/// boot with UML's short-XSAVE-buffer failure and the shim is at hand, it boots again with
/// the shim preloaded ([`Outcome::with_shim`] says so).
pub fn run(
    kernel: &Kernel,
    job: &Job,
    limits: &[Duration],
    options: &BootOptions,
    mut on_event: impl FnMut(GuestEvent<'_>),
) -> Outcome {
    let shim = options.shim.as_deref();
    let first = run_once(
        kernel,
        job,
        limits,
        options,
        shim.filter(|_| options.shim_always),
        &mut on_event,
    );
    let xsave = first
        .error
        .as_ref()
        .is_some_and(|e| looks_like_xsave_failure(&e.console));
    match shim {
        Some(shim) if xsave && !first.with_shim && first.boot_ms.is_none() => {
            run_once(kernel, job, limits, options, Some(shim), &mut on_event)
        }
        _ => first,
    }
}

fn run_once(
    kernel: &Kernel,
    job: &Job,
    limits: &[Duration],
    options: &BootOptions,
    shim: Option<&Path>,
    on_event: &mut impl FnMut(GuestEvent<'_>),
) -> Outcome {
    let started = Instant::now();
    let label = kernel.label();
    let mut outcome = Outcome {
        records: Vec::new(),
        boot_ms: None,
        total_ms: 0.0,
        error: None,
        with_shim: shim.is_some(),
    };
    let fail = |what: String, console: Vec<String>| GuestError {
        kernel: label.clone(),
        what,
        console,
    };
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        // UML kernels are x86_64 Linux programs.
        outcome.error = Some(fail(
            "user-mode Linux runs on x86_64 Linux hosts only".into(),
            vec![],
        ));
        return outcome;
    }
    let exe = options.tcplab.display().to_string();
    if exe.contains(char::is_whitespace) {
        outcome.error = Some(fail(
            format!("the tcplab binary's path `{exe}` has a space; the kernel command line cannot carry it"),
            vec![],
        ));
        return outcome;
    }
    let runs = job.runs();
    let dir = match job_dir() {
        Ok(d) => d,
        Err(e) => {
            outcome.error = Some(fail(format!("cannot write the job: {e}"), vec![]));
            return outcome;
        }
    };
    let job_path = dir.join("job.json");
    let text = serde_json::to_string(job).expect("a job serialises");
    if let Err(e) = std::fs::write(&job_path, text) {
        outcome.error = Some(fail(
            format!("cannot write {}: {e}", job_path.display()),
            vec![],
        ));
        return outcome;
    }

    let mut cmd = match &kernel.lib_dir {
        Some(lib) if kernel.loader.is_some() => {
            let (linux, cwd) = match super::fetch::own_libc_kernel(kernel) {
                Ok(p) => p,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    outcome.error = Some(fail(
                        format!("cannot prepare it to run with its own C library: {e}"),
                        vec![],
                    ));
                    return outcome;
                }
            };
            let mut c = Command::new(linux);
            c.current_dir(cwd).env("LD_LIBRARY_PATH", lib);
            c
        }
        _ => Command::new(&kernel.linux),
    };
    cmd.args([
        format!("mem={}", options.mem),
        // Without a root= of ours UML appends `root=98:0` (after the `--`, among init's
        // arguments); hostfs ignores the device name.
        "root=/dev/root".into(),
        "rootfstype=hostfs".into(),
        "rootflags=/".into(),
        "rw".into(),
        format!("init={exe}"),
        "con=null".into(),
        "con0=null,fd:1".into(),
        "quiet".into(),
        GLIBC_TUNABLES.into(),
        "--".into(),
        "guest-init".into(),
        job_path.display().to_string(),
    ]);
    // UML maps its memory from a file in TMPDIR; /dev/shm keeps it in RAM.
    let shm = Path::new("/dev/shm");
    cmd.env("TMPDIR", if shm.is_dir() { shm } else { &dir });
    if let Some(shim) = shim {
        cmd.env("LD_PRELOAD", shim);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    set_process_group(&mut cmd);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            outcome.error = Some(fail(
                format!("cannot start {}: {e}", kernel.linux.display()),
                vec![],
            ));
            return outcome;
        }
    };
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    spawn_reader(stdout, tx.clone(), Msg::Out, Some(Msg::OutClosed));
    spawn_reader(stderr, tx.clone(), Msg::Err, None);
    std::thread::spawn(move || {
        let _ = tx.send(Msg::Exited(child.wait()));
    });

    let mut console: VecDeque<String> = VecDeque::new();
    let keep = |line: String, console: &mut VecDeque<String>| {
        if console.len() == CONSOLE_TAIL {
            console.pop_front();
        }
        console.push_back(line);
    };
    let mut limit = options.boot_timeout;
    let mut deadline = started + limit;
    let mut doing = "booting (no ready line from the guest's init yet)".to_owned();
    let mut done = false;
    let mut exited: Option<std::io::Result<ExitStatus>> = None;
    let mut out_closed = false;
    let mut problem: Option<String> = None;
    loop {
        if exited.is_some() && out_closed {
            break;
        }
        let now = Instant::now();
        let Some(left) = deadline.checked_duration_since(now) else {
            problem = Some(format!(
                "the guest gave no sign of life for {:.1} s while {doing}: stopped it",
                limit.as_secs_f64()
            ));
            break;
        };
        let msg = match rx.recv_timeout(left) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            Msg::Out(line) => {
                let line = line.trim_end_matches('\r').to_owned();
                if line.starts_with(READY) {
                    let ms = started.elapsed().as_secs_f64() * 1e3;
                    outcome.boot_ms = Some(ms);
                    on_event(GuestEvent::Ready(ms));
                    limit = run_limit(limits, 0, options);
                    deadline = Instant::now() + limit;
                    doing = "starting the first run".into();
                } else if let Some(rest) = line.strip_prefix(START) {
                    // Runs go one after the other: this is the one after the last record.
                    let i = outcome.records.len();
                    if let Some((item, k, engine)) = runs.get(i) {
                        let name = rest.split_whitespace().nth(3).unwrap_or("?");
                        doing = format!(
                            "running `{name}` (run {} of {}, engine {engine}, item {item})",
                            k + 1,
                            job.repeat
                        );
                    }
                    limit = run_limit(limits, i, options);
                    deadline = Instant::now() + limit;
                    on_event(GuestEvent::Start(i));
                } else if let Some(rest) = line.strip_prefix(RECORD) {
                    match parse_record(rest) {
                        Ok(r) => {
                            on_event(GuestEvent::Record(&r));
                            outcome.records.push(r);
                            let next = outcome.records.len();
                            limit = run_limit(limits, next, options);
                            deadline = Instant::now() + limit;
                            doing = format!("after record {next} of {}", runs.len());
                        }
                        Err(why) => {
                            problem = Some(format!(
                                "record {} of {} came back damaged over the console: {why}",
                                outcome.records.len() + 1,
                                runs.len()
                            ));
                            break;
                        }
                    }
                } else if let Some(rest) = line.strip_prefix(ERROR) {
                    problem = Some(format!("the guest's tcplab failed: {}", rest.trim()));
                    limit = POWER_OFF_LIMIT;
                    deadline = Instant::now() + limit;
                    doing = "powering off after an error".into();
                } else if line.starts_with(DONE) {
                    done = true;
                    limit = POWER_OFF_LIMIT;
                    deadline = Instant::now() + limit;
                    doing = "powering off".into();
                } else if !line.trim().is_empty() && !is_stack_line(&line) {
                    keep(line, &mut console);
                }
            }
            Msg::Err(line) => {
                if !line.trim().is_empty() {
                    keep(line, &mut console);
                }
            }
            Msg::OutClosed => out_closed = true,
            Msg::Exited(status) => exited = Some(status),
        }
    }
    kill_group(pid);
    let _ = std::fs::remove_dir_all(&dir);
    outcome.total_ms = started.elapsed().as_secs_f64() * 1e3;
    let console: Vec<String> = console.into_iter().collect();
    if problem.is_none() && !(done && outcome.records.len() == runs.len()) {
        let how = match &exited {
            Some(Ok(s)) => format!("ended ({s})"),
            Some(Err(e)) => format!("could not be waited for ({e})"),
            None => "closed its console".into(),
        };
        problem = Some(if outcome.boot_ms.is_none() {
            format!("the kernel {how} before tcplab's init said it was ready (a UML kernel? a panic at boot?)")
        } else {
            format!(
                "the kernel {how} after {} of {} runs",
                outcome.records.len(),
                runs.len()
            )
        });
    }
    if let Some(p) = problem {
        let console = if looks_like_xsave_failure(&console) && shim.is_none() {
            let mut c = console;
            c.push(format!(
                "(this is UML's short XSAVE buffer: build the shim with `cargo build -p tcplab-xsave` so that {SHIM_NAME} is beside tcplab, or set TCPLAB_XSAVE_SHIM)"
            ));
            c
        } else {
            console
        };
        outcome.error = Some(fail(p, console));
    }
    outcome
}

fn run_limit(limits: &[Duration], i: usize, options: &BootOptions) -> Duration {
    limits.get(i).copied().unwrap_or(Duration::ZERO) + options.run_slack
}

/// A line of a kernel stack dump (` [<60046010>] ? um_set_signals+0x36/0x3e`, ` 606944ba
/// 607e7fcd ...`): dropped from the console kept for errors, so that the lines that say
/// what happened stay.
fn is_stack_line(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("[<")
        || t == "Stack:"
        || t == "Call Trace:"
        || (!t.is_empty()
            && t.split_whitespace()
                .all(|w| w.len() >= 8 && w.chars().all(|c| c.is_ascii_hexdigit())))
}

fn looks_like_xsave_failure(console: &[String]) -> bool {
    console
        .iter()
        .any(|l| l.contains("ptrace set fp regs failed"))
}

/// `<len> <json>`: the length guards against a line the console cut or mixed.
fn parse_record(rest: &str) -> Result<Record, String> {
    let rest = rest.trim_start();
    let (len, json) = rest.split_once(' ').ok_or("no length before the record")?;
    let len: usize = len.parse().map_err(|_| format!("bad length `{len}`"))?;
    if json.len() != len {
        return Err(format!("{} bytes arrived of {len}", json.len()));
    }
    serde_json::from_str(json).map_err(|e| format!("not a record: {e}"))
}

fn spawn_reader<R: Read + Send + 'static>(
    r: R,
    tx: mpsc::Sender<Msg>,
    wrap: fn(String) -> Msg,
    at_end: Option<Msg>,
) {
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches('\n')
                        .to_owned();
                    if tx.send(wrap(line)).is_err() {
                        return;
                    }
                }
            }
        }
        if let Some(m) = at_end {
            let _ = tx.send(m);
        }
    });
}

/// A fresh folder for the job, under the temporary folder.
fn job_dir() -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "tcplab-guest-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

#[cfg(unix)]
// Process groups are Unix's: the kernel and all its helper processes die together.
fn set_process_group(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
}

#[cfg(not(unix))]
fn set_process_group(_: &mut Command) {}

#[cfg(unix)]
// kill(2) on the process group (negative pid) is Unix's.
fn kill_group(pid: u32) {
    // SAFETY: a signal to the group this run created; ESRCH when it is already gone.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_line_with_the_wrong_length_is_damaged() {
        assert!(parse_record("5 {}")
            .unwrap_err()
            .contains("2 bytes arrived of 5"));
        assert!(parse_record("x {}").unwrap_err().contains("bad length"));
        assert!(parse_record("2 {}").unwrap_err().contains("not a record"));
    }
}
