//! A write made by a forked child process, to show what SIGPIPE does to a process that
//! writes on a connection the peer has closed.
//!
//! The child runs only async-signal-safe calls and reports through a pipe; see fork(2),
//! sigaction(2), pipe(7).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use socket2::Socket;

/// How a child process made by [`write_in_child`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildEnd {
    /// It exited with `status`; `write` is what its write(2) returned, as it reported:
    /// the bytes written or the raw errno (`None` if it reported nothing).
    Exited {
        status: i32,
        write: Option<Result<usize, i32>>,
    },
    /// A signal ended it (`SIGPIPE`), before it could report anything.
    Killed(&'static str),
    /// It did not end within the limit and was killed with SIGKILL.
    TimedOut,
}

/// Forks a child that sets SIGPIPE's disposition (ignored, or the default that ends the
/// process), makes one plain write(2) of `buf` on the inherited socket (no
/// MSG_NOSIGNAL), reports the result through a pipe and exits. The parent waits at most
/// `limit`, then kills it.
///
/// # Notes
/// The child runs only async-signal-safe calls (close_range, sigaction, write, _exit):
/// the parent has other threads, whose locks the child must not touch. It first closes
/// every other descriptor it inherited (close_range(2) on Linux), so that other
/// threads' sockets do not outlive their close in the parent. On macOS and FreeBSD the
/// same calls exist except close_range, so the child keeps its inherited descriptors for
/// its short life.
pub fn write_in_child(
    socket: &Socket,
    buf: &[u8],
    sigpipe_default: bool,
    limit: Duration,
) -> io::Result<ChildEnd> {
    let sock = socket.as_raw_fd();
    let mut pipe = [0 as libc::c_int; 2];
    // SAFETY: pipe writes two descriptors into the array.
    if unsafe { libc::pipe(pipe.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [rd, wr] = pipe;
    // The disposition the child installs, prepared here so the child only calls
    // sigaction(2).
    // SAFETY: sigaction is plain data; sigemptyset initialises its mask.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = if sigpipe_default {
        libc::SIG_DFL
    } else {
        libc::SIG_IGN
    };
    // SAFETY: a valid pointer to the mask inside `action`.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: after fork the child calls only async-signal-safe functions and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: our own pipe descriptors, closed once.
        unsafe {
            libc::close(rd);
            libc::close(wr);
        }
        return Err(e);
    }
    if pid == 0 {
        // The child. It must not outlive the lab: killed with it (SIGKILL included), it
        // would hold the connection, the run's namespace and the lab's stdout for as long
        // as its write blocks (minutes).
        #[cfg(any(target_os = "linux", target_os = "android"))]
        // PR_SET_PDEATHSIG is Linux's; elsewhere the bounded wait of the parent is all.
        // SAFETY: prctl and getppid are plain system calls, async-signal-safe.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = parent;
        // SAFETY: async-signal-safe calls only, on descriptors inherited from the parent.
        unsafe {
            child_close_others(sock, wr);
            libc::sigaction(libc::SIGPIPE, &action, std::ptr::null_mut());
            let n = libc::write(sock, buf.as_ptr().cast(), buf.len());
            // The report: bytes written (>= 0) or minus the errno.
            let report: i64 = if n < 0 {
                -i64::from(*errno_location())
            } else {
                n as i64
            };
            let bytes = report.to_ne_bytes();
            libc::write(wr, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(0);
        }
    }
    // The parent.
    // SAFETY: the child's end of the pipe, closed once here.
    unsafe { libc::close(wr) };
    let start = std::time::Instant::now();
    let mut status: libc::c_int = 0;
    let end = loop {
        // SAFETY: our own child; status is written on success.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            break None;
        }
        if rc < 0 {
            break Some(Err(io::Error::last_os_error()));
        }
        if start.elapsed() >= limit {
            // SAFETY: our own child, not yet reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            break Some(Ok(ChildEnd::TimedOut));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut bytes = [0u8; 8];
    // SAFETY: reads at most 8 bytes into `bytes`; the write end is closed in both
    // processes by now, so this cannot block.
    let got = unsafe { libc::read(rd, bytes.as_mut_ptr().cast(), bytes.len()) };
    // SAFETY: our own read end, closed once.
    unsafe { libc::close(rd) };
    if let Some(r) = end {
        return r;
    }
    let report = (got == 8).then(|| {
        let v = i64::from_ne_bytes(bytes);
        if v >= 0 {
            Ok(v as usize)
        } else {
            Err((-v) as i32)
        }
    });
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        return Ok(ChildEnd::Killed(signal_name(sig)));
    }
    Ok(ChildEnd::Exited {
        status: libc::WEXITSTATUS(status),
        write: report,
    })
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// The calling thread's errno, readable in a forked child.
///
/// # Safety
/// Returns the thread's errno location, as the C library does.
unsafe fn errno_location() -> *mut libc::c_int {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // glibc and musl name it __errno_location; BSDs __error.
    {
        libc::__errno_location()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        libc::__error()
    }
}

/// In a forked child: closes every descriptor above 2 except `keep_a` and `keep_b`.
///
/// # Safety
/// Only for a freshly forked child: it closes descriptors the parent's objects own.
unsafe fn child_close_others(keep_a: RawFd, keep_b: RawFd) {
    #[cfg(target_os = "linux")]
    // close_range(2) exists since Linux 5.9; on an older kernel it fails with ENOSYS and
    // the descriptors are simply kept.
    {
        let (lo, hi) = (
            keep_a.min(keep_b) as libc::c_uint,
            keep_a.max(keep_b) as libc::c_uint,
        );
        let close_range = |first: libc::c_uint, last: libc::c_uint| {
            if first <= last {
                libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint);
            }
        };
        close_range(3, lo.saturating_sub(1));
        close_range(lo + 1, hi - 1);
        close_range(hi + 1, libc::c_uint::MAX);
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (keep_a, keep_b);
    }
}
