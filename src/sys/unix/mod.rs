//! Unix (Linux, macOS, FreeBSD) specific pieces: errno names, raw descriptors, poll,
//! thread states and the kernel's own settings.
//!
//! Everything in this file is reached through the OS-neutral functions it exports; no
//! other module names a libc call.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use socket2::Socket;

mod host;
mod netns;
mod poll;
mod sockopt;
mod stale;
mod sysctl;
mod thread;

pub use host::{os_version, uname};
pub use netns::{loopback_up, unshare_netns};
pub use poll::{poll, POLLERR, POLLHUP, POLLIN, POLLOUT, POLL_FLAGS};
pub use sockopt::{
    bytes_queued, bytes_unacked, is_nonblocking, keepalive, set_keepalive, Keepalive,
};
pub use stale::{close_to_stale, stale_read, stale_write, StaleHandle};
pub use sysctl::{read_sysctl, tcp_sysctls, write_sysctl, SysctlError};
pub use thread::{thread_count, thread_id, thread_is_asleep};

/// The symbolic name of an errno value on this system, as the man pages spell it.
///
/// # Notes
/// On Linux `EWOULDBLOCK` equals `EAGAIN` and `ENOTSUP` equals `EOPNOTSUPP`; the first
/// name is reported. On macOS and FreeBSD the values differ from Linux but the names are
/// the same, which is what makes records from different systems comparable.
pub fn errno_name(code: i32) -> Option<&'static str> {
    ERRNOS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Every errno name the lab can report, for checking expectations.
pub fn errno_names() -> impl Iterator<Item = &'static str> {
    ERRNOS.iter().map(|(_, n)| *n)
}

// Built from libc's constants, so each OS gets its own numbers.
const ERRNOS: &[(i32, &str)] = &[
    (libc::EPERM, "EPERM"),
    (libc::ENOENT, "ENOENT"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::EBADF, "EBADF"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EACCES, "EACCES"),
    (libc::EFAULT, "EFAULT"),
    (libc::EINVAL, "EINVAL"),
    (libc::ENFILE, "ENFILE"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::EPIPE, "EPIPE"),
    (libc::ENOTSOCK, "ENOTSOCK"),
    (libc::EDESTADDRREQ, "EDESTADDRREQ"),
    (libc::EMSGSIZE, "EMSGSIZE"),
    (libc::EPROTOTYPE, "EPROTOTYPE"),
    (libc::ENOPROTOOPT, "ENOPROTOOPT"),
    (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
    (libc::EADDRINUSE, "EADDRINUSE"),
    (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
    (libc::ENETDOWN, "ENETDOWN"),
    (libc::ENETUNREACH, "ENETUNREACH"),
    (libc::ENETRESET, "ENETRESET"),
    (libc::ECONNABORTED, "ECONNABORTED"),
    (libc::ECONNRESET, "ECONNRESET"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::EISCONN, "EISCONN"),
    (libc::ENOTCONN, "ENOTCONN"),
    (libc::ESHUTDOWN, "ESHUTDOWN"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::ECONNREFUSED, "ECONNREFUSED"),
    (libc::EHOSTDOWN, "EHOSTDOWN"),
    (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    (libc::EALREADY, "EALREADY"),
    (libc::EINPROGRESS, "EINPROGRESS"),
];

pub const EINPROGRESS: i32 = libc::EINPROGRESS;
// =======================================================================================
// Kernel evidence and the catalogue's extra calls (issue 4): TCP states, SNMP counters,
// keepalive knobs, non-blocking mode, and a write made by a child process.
// Linux-only parts are behind cfg(target_os = "linux") and answer `None` (absent)
// elsewhere, so that other systems report nothing rather than something made up.
// =======================================================================================

/// The RFC 9293 name of a Linux TCP state number (include/net/tcp_states.h).
///
/// # Notes
/// Linux's TCP_NEW_SYN_RECV (12) is a request socket, reported as SYN-RECEIVED like
/// TCP_SYN_RECV; TCP_CLOSE is the RFC's CLOSED.
#[cfg(target_os = "linux")]
// The numbering is Linux's own.
fn linux_state_name(n: u8) -> Option<&'static str> {
    Some(match n {
        1 => "ESTABLISHED",
        2 => "SYN-SENT",
        3 | 12 => "SYN-RECEIVED",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "CLOSED",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => return None,
    })
}

/// The TCP state of an open socket, with its RFC name (`ESTABLISHED`, `FIN-WAIT-2`).
///
/// # Notes
/// On Linux this is `tcpi_state` of getsockopt(TCP_INFO) (tcp(7)). macOS has
/// TCP_CONNECTION_INFO and FreeBSD its own TCP_INFO; neither is read yet, so those
/// systems answer `None`.
pub fn tcp_state(socket: &Socket) -> Option<&'static str> {
    #[cfg(target_os = "linux")]
    // struct tcp_info and its first byte, tcpi_state, are Linux's.
    {
        let info = room::tcp_info(socket).ok()?;
        linux_state_name(info.tcpi_state)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// What the kernel's connection table says about the connection `local` -> `peer`
/// (`peer` 0.0.0.0:0 for a listener): `Some(Some(state))`, `Some(None)` when it holds no
/// entry (the connection is gone), `None` when the table cannot be read.
///
/// # Notes
/// On Linux the table is /proc/thread-self/net/tcp (proc(5)): the calling thread's
/// network namespace, which is the one its sockets live in even when the process has
/// threads in other namespaces (/proc/net is the thread-group leader's). It lists
/// TIME-WAIT entries, which no descriptor refers to any more. Other systems answer
/// `None`.
pub fn tcp_state_in_table(
    local: std::net::SocketAddr,
    peer: std::net::SocketAddr,
) -> Option<Option<&'static str>> {
    #[cfg(target_os = "linux")]
    // /proc/<pid>/net/tcp is Linux's.
    {
        use std::net::{IpAddr, Ipv4Addr, SocketAddr};
        let text = std::fs::read_to_string("/proc/thread-self/net/tcp").ok()?;
        // `0100007F:1F90`: the address as the kernel's u32 in this machine's byte order,
        // the port in hex.
        let parse = |field: &str| -> Option<SocketAddr> {
            let (ip, port) = field.split_once(':')?;
            let ip = u32::from_str_radix(ip, 16).ok()?;
            let port = u16::from_str_radix(port, 16).ok()?;
            Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from(ip.to_ne_bytes())),
                port,
            ))
        };
        for line in text.lines().skip(1) {
            let mut f = line.split_whitespace().skip(1);
            let (Some(l), Some(p), Some(st)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if parse(l) == Some(local) && parse(p) == Some(peer) {
                let n = u8::from_str_radix(st, 16).ok()?;
                return Some(linux_state_name(n));
            }
        }
        Some(None)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (local, peer);
        None
    }
}

/// The SNMP and extended TCP/IP counters of this network namespace, as `Group.Name`
/// (`TcpExt.ListenOverflows`, `Tcp.OutRsts`), or `None` where they cannot be read.
///
/// # Notes
/// On Linux they come from /proc/thread-self/net/netstat and /proc/thread-self/net/snmp
/// (the calling thread's namespace; see the kernel's Documentation/networking/
/// snmp_counter.rst). They count for the whole namespace: other traffic moves them too.
/// macOS and FreeBSD keep similar statistics behind sysctl(3) (`net.inet.tcp.stats`),
/// not read yet: `None`.
pub fn net_counters() -> Option<std::collections::BTreeMap<String, i64>> {
    #[cfg(target_os = "linux")]
    // The /proc/net/{netstat,snmp} layout is Linux's: a header line of names and a line
    // of values per group.
    {
        let mut out = std::collections::BTreeMap::new();
        for file in [
            "/proc/thread-self/net/netstat",
            "/proc/thread-self/net/snmp",
        ] {
            let text = std::fs::read_to_string(file).ok()?;
            let lines: Vec<&str> = text.lines().collect();
            for pair in lines.chunks(2) {
                let [names, values] = pair else { continue };
                let (Some((group, names)), Some((_, values))) =
                    (names.split_once(':'), values.split_once(':'))
                else {
                    continue;
                };
                for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
                    if let Ok(v) = v.parse::<i64>() {
                        out.insert(format!("{group}.{n}"), v);
                    }
                }
            }
        }
        Some(out)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

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
        // The child.
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

// The clean rooms' pieces (namespaces, the TCP metrics cache, TCP_INFO fields,
// TCP_CONGESTION): Linux's in a file of their own, stand-ins answering Unsupported
// elsewhere.
#[cfg(target_os = "linux")]
#[path = "../linux_room.rs"]
mod room;
#[cfg(not(target_os = "linux"))]
#[path = "../no_room.rs"]
mod room;
pub use room::{
    can_make_namespaces, congestion, enter_user_namespace, mtu, set_congestion, tcp_info_field,
    tcp_metrics,
};
