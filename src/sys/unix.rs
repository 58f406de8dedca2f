//! Unix (Linux, macOS, FreeBSD) specific pieces: errno names, raw descriptors, poll,
//! thread states and the kernel's own settings.
//!
//! Everything in this file is reached through the OS-neutral functions it exports; no
//! other module names a libc call.

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::time::Duration;

use socket2::Socket;

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

/// A descriptor number that was closed on purpose, kept to show what calls on it return.
#[derive(Debug, Clone, Copy)]
pub struct StaleHandle(RawFd);

/// How far below the descriptor limit the stale number is placed.
// The kernel hands out the lowest free descriptor, so a number this close to the limit is
// not reused by sockets that other threads of the process open meanwhile: a call on the
// stale number cannot land on somebody else's socket.
const STALE_FD_MARGIN: u64 = 16;

/// Closes `socket` for real and returns a descriptor number that refers to nothing.
///
/// The socket is duplicated to a high descriptor number first, then both descriptors are
/// closed, so the returned number stays free.
pub fn close_to_stale(socket: Socket) -> io::Result<StaleHandle> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // rlim_t is u64 on Linux and macOS but not on every Unix.
    #[allow(clippy::unnecessary_cast)]
    let ceiling = (limit.rlim_cur as u64).min(i32::MAX as u64);
    let high = ceiling.saturating_sub(STALE_FD_MARGIN).max(64) as libc::c_int;
    let fd = socket.into_raw_fd();
    // SAFETY: fd is a descriptor we own; F_DUPFD returns a new one or -1.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD, high) };
    let dup_err = io::Error::last_os_error();
    // SAFETY: we own fd and close it exactly once.
    let close_rc = unsafe { libc::close(fd) };
    if dup < 0 {
        return Err(dup_err);
    }
    // SAFETY: dup is the duplicate made above; closing it closes the socket itself.
    if unsafe { libc::close(dup) } != 0 || close_rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(StaleHandle(dup))
}

/// write(2) on a stale descriptor number.
pub fn stale_write(handle: StaleHandle, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`; the descriptor may be invalid, which
    // is what the call is for: the kernel answers EBADF.
    let n = unsafe { libc::write(handle.0, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// read(2) on a stale descriptor number.
pub fn stale_read(handle: StaleHandle, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: as in stale_write.
    let n = unsafe { libc::read(handle.0, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

pub const EINPROGRESS: i32 = libc::EINPROGRESS;
pub const POLLIN: i16 = libc::POLLIN;
pub const POLLOUT: i16 = libc::POLLOUT;
pub const POLLERR: i16 = libc::POLLERR;
pub const POLLHUP: i16 = libc::POLLHUP;

/// Poll events by name, in the order they are printed.
pub const POLL_FLAGS: &[(&str, i16)] = &[
    ("POLLIN", libc::POLLIN),
    ("POLLOUT", libc::POLLOUT),
    ("POLLERR", libc::POLLERR),
    ("POLLHUP", libc::POLLHUP),
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    // POLLRDHUP exists on Linux and FreeBSD only: the peer shut down its writing half.
    ("POLLRDHUP", libc::POLLRDHUP),
];

/// poll(2) on one socket; returns the revents bits, 0 when the timeout passed.
pub fn poll(socket: &Socket, events: i16, timeout: Duration) -> io::Result<i16> {
    let mut fds = libc::pollfd {
        fd: socket.as_raw_fd(),
        events,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut fds, 1, ms) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(fds.revents)
    }
}

/// Bytes waiting in the socket's receive queue (FIONREAD).
pub fn bytes_queued(socket: &Socket) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n.max(0) as usize)
    }
}

/// Bytes in the send queue not yet acknowledged by the peer (SIOCOUTQ).
///
/// # Notes
/// On Linux this is the SIOCOUTQ ioctl (tcp(7)). macOS has SO_NWRITE and FreeBSD
/// FIONWRITE, not read yet: those systems answer `Unsupported`.
pub fn bytes_unacked(socket: &Socket) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SIOCOUTQ is Linux's name for TIOCOUTQ on a socket.
    {
        let mut n: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one c_int.
        let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n.max(0) as usize)
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = socket;
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// An identifier of the calling thread that `thread_is_asleep` understands.
pub fn thread_id() -> u64 {
    #[cfg(target_os = "linux")]
    // gettid is the key to /proc/self/task; other systems have no such file to read.
    {
        // SAFETY: gettid has no preconditions.
        (unsafe { libc::gettid() }) as u64
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Whether the thread is asleep in the kernel (state `S` in /proc), or `None` where the
/// system does not say.
///
/// # Notes
/// On Linux a thread blocked in a socket call waiting for buffer space or data sleeps
/// interruptibly (`S`). On macOS and FreeBSD there is no /proc to read and `None` is
/// returned.
pub fn thread_is_asleep(tid: u64) -> Option<bool> {
    #[cfg(target_os = "linux")]
    // /proc/self/task/TID/stat is Linux's; see proc(5).
    {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        // The state follows the command name, which is in parentheses and may hold spaces.
        let after = stat.rsplit_once(')')?.1;
        after.split_whitespace().next().map(|s| s == "S")
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tid;
        None
    }
}

/// Moves the calling thread into a fresh, anonymous network namespace (unshare(2) with
/// CLONE_NEWNET). Call it on the main thread before any other thread exists: threads
/// created afterwards inherit the namespace, threads that already exist do not.
///
/// # Notes
/// On Linux this needs CAP_SYS_ADMIN (root) and fails with EPERM otherwise. The namespace
/// has no name and no mount: it ends with the last process in it, so nothing is left
/// behind however the process ends (even SIGKILL). On other systems there are no network
/// namespaces and `Unsupported` is returned. See unshare(2), network_namespaces(7).
pub fn unshare_netns() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    // Network namespaces are Linux's.
    {
        // SAFETY: unshare takes a flag word and changes only this thread's namespaces.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Brings the loopback interface of the current network namespace up (a new namespace
/// starts with `lo` down), the way `ip link set lo up` does: SIOCGIFFLAGS, then
/// SIOCSIFFLAGS with IFF_UP added. See netdevice(7).
pub fn loopback_up() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    // The ioctl layout (struct ifreq) is Linux's here; only Linux has namespaces to use it in.
    {
        // SAFETY: a plain socket call; the descriptor is closed below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: ifreq is plain data; zeroed is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS fills ifru_flags of the ifreq we pass.
        let mut rc = unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) };
        if rc == 0 {
            // SAFETY: the kernel just wrote ifru_flags; IFF_UP fits a c_short.
            unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
            // SAFETY: SIOCSIFFLAGS reads the ifreq we pass.
            rc = unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) };
        }
        let err = io::Error::last_os_error();
        // SAFETY: fd is ours and closed once.
        unsafe { libc::close(fd) };
        if rc != 0 {
            return Err(err);
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// The path of a sysctl under /proc/sys (`net.core.somaxconn` -> `net/core/somaxconn`).
fn sysctl_path(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

/// One kernel setting by its sysctl name, with runs of whitespace made single spaces.
///
/// # Notes
/// On Linux this reads /proc/sys, which shows the network namespace of the calling thread
/// for `net.*`. macOS and FreeBSD have sysctl(3) instead, not read yet: NotFound.
pub fn read_sysctl(name: &str) -> io::Result<String> {
    let value = std::fs::read_to_string(sysctl_path(name))?;
    Ok(value.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Writes one kernel setting by its sysctl name (Linux: /proc/sys).
///
/// # Notes
/// In a network namespace other than the first, Linux shows only the per-namespace `net.*`
/// settings (others are absent: NotFound) and makes the global ones it shows read-only
/// (EACCES): a write here cannot change the host's settings.
pub fn write_sysctl(name: &str, value: &str) -> io::Result<()> {
    std::fs::write(sysctl_path(name), value)
}

/// Threads in this process, where the system says (Linux: /proc/self/task).
pub fn thread_count() -> Option<usize> {
    #[cfg(target_os = "linux")]
    // /proc/self/task is Linux's; see proc(5).
    {
        std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The kernel's name and release, from uname(2).
pub fn uname() -> (String, String) {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (std::env::consts::OS.to_owned(), "unknown".to_owned());
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (field(&u.sysname), field(&u.release))
}

/// The system's own description of its version (Linux: PRETTY_NAME of os-release).
pub fn os_version() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

/// The TCP settings that decide the lab's outcomes, read from /proc/sys.
///
/// # Notes
/// On Linux these are per network namespace. On macOS and FreeBSD the equivalents live
/// under sysctl(3) (`kern.ipc.somaxconn`, ...) and are not read yet: the list is empty.
pub fn tcp_sysctls() -> Vec<(&'static str, String)> {
    const NAMES: &[&str] = &[
        "net.core.somaxconn",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.tcp_abort_on_overflow",
        "net.ipv4.tcp_syn_retries",
    ];
    NAMES
        .iter()
        .filter_map(|name| {
            let path = format!("/proc/sys/{}", name.replace('.', "/"));
            let value = std::fs::read_to_string(path).ok()?;
            Some((
                *name,
                value.split_whitespace().collect::<Vec<_>>().join(" "),
            ))
        })
        .collect()
}
