//! Windows specific pieces, with the same API as `sys/unix/`: error names, stale
//! handles, poll, and what the system says about itself.
//!
//! The lab is measured on Linux; this file makes it build and run on Windows, reporting
//! what Winsock reports and marking the rest absent (never a Linux figure in disguise).
//! Everything in this file is reached through the OS-neutral functions it exports.

use std::io;
use std::os::windows::io::{IntoRawSocket, RawSocket};
use std::time::Duration;

use socket2::Socket;
use windows_sys::Win32::Networking::WinSock as ws;

/// The symbolic name of a Winsock error code, as Microsoft's documentation spells it
/// (`WSAECONNREFUSED`).
///
/// # Notes
/// On Windows socket calls fail with Winsock codes (10000 and up), not errno values; the
/// names keep the `WSA` prefix so that a record says which system answered.
pub fn errno_name(code: i32) -> Option<&'static str> {
    WSA_ERRORS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Every error name an expectation may use: the Winsock names, and the POSIX names so
/// that the catalogue's expectations for other systems still validate here.
pub fn errno_names() -> impl Iterator<Item = &'static str> {
    WSA_ERRORS
        .iter()
        .map(|(_, n)| *n)
        .chain(POSIX_NAMES.iter().copied())
}

// Built from windows-sys's constants.
const WSA_ERRORS: &[(i32, &str)] = &[
    (ws::WSAEINTR, "WSAEINTR"),
    (ws::WSAEBADF, "WSAEBADF"),
    (ws::WSAEACCES, "WSAEACCES"),
    (ws::WSAEFAULT, "WSAEFAULT"),
    (ws::WSAEINVAL, "WSAEINVAL"),
    (ws::WSAEMFILE, "WSAEMFILE"),
    (ws::WSAEWOULDBLOCK, "WSAEWOULDBLOCK"),
    (ws::WSAEINPROGRESS, "WSAEINPROGRESS"),
    (ws::WSAEALREADY, "WSAEALREADY"),
    (ws::WSAENOTSOCK, "WSAENOTSOCK"),
    (ws::WSAEDESTADDRREQ, "WSAEDESTADDRREQ"),
    (ws::WSAEMSGSIZE, "WSAEMSGSIZE"),
    (ws::WSAEPROTOTYPE, "WSAEPROTOTYPE"),
    (ws::WSAENOPROTOOPT, "WSAENOPROTOOPT"),
    (ws::WSAEPROTONOSUPPORT, "WSAEPROTONOSUPPORT"),
    (ws::WSAEOPNOTSUPP, "WSAEOPNOTSUPP"),
    (ws::WSAEAFNOSUPPORT, "WSAEAFNOSUPPORT"),
    (ws::WSAEADDRINUSE, "WSAEADDRINUSE"),
    (ws::WSAEADDRNOTAVAIL, "WSAEADDRNOTAVAIL"),
    (ws::WSAENETDOWN, "WSAENETDOWN"),
    (ws::WSAENETUNREACH, "WSAENETUNREACH"),
    (ws::WSAENETRESET, "WSAENETRESET"),
    (ws::WSAECONNABORTED, "WSAECONNABORTED"),
    (ws::WSAECONNRESET, "WSAECONNRESET"),
    (ws::WSAENOBUFS, "WSAENOBUFS"),
    (ws::WSAEISCONN, "WSAEISCONN"),
    (ws::WSAENOTCONN, "WSAENOTCONN"),
    (ws::WSAESHUTDOWN, "WSAESHUTDOWN"),
    (ws::WSAETIMEDOUT, "WSAETIMEDOUT"),
    (ws::WSAECONNREFUSED, "WSAECONNREFUSED"),
    (ws::WSAEHOSTDOWN, "WSAEHOSTDOWN"),
    (ws::WSAEHOSTUNREACH, "WSAEHOSTUNREACH"),
];

/// The errno names `sys/unix/errno.rs` reports, for validating other systems' expectations.
const POSIX_NAMES: &[&str] = &[
    "EPERM",
    "ENOENT",
    "EINTR",
    "EIO",
    "EBADF",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOSPC",
    "EPIPE",
    "ENOTSOCK",
    "EDESTADDRREQ",
    "EMSGSIZE",
    "EPROTOTYPE",
    "ENOPROTOOPT",
    "EPROTONOSUPPORT",
    "EOPNOTSUPP",
    "EAFNOSUPPORT",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ENETDOWN",
    "ENETUNREACH",
    "ENETRESET",
    "ECONNABORTED",
    "ECONNRESET",
    "ENOBUFS",
    "EISCONN",
    "ENOTCONN",
    "ESHUTDOWN",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EALREADY",
    "EINPROGRESS",
];

/// A socket handle that was closed on purpose, kept to show what calls on it return.
///
/// # Notes
/// Windows hands out socket handles from a larger space than Unix descriptors and does
/// not reuse the lowest free one first, so the stale value is kept as it was; a call on it
/// answers WSAENOTSOCK.
#[derive(Debug, Clone, Copy)]
pub struct StaleHandle(RawSocket);

/// Closes `socket` for real and returns its handle value, which now refers to nothing.
pub fn close_to_stale(socket: Socket) -> io::Result<StaleHandle> {
    let raw = socket.into_raw_socket();
    // SAFETY: we own the handle and close it exactly once.
    if unsafe { ws::closesocket(raw as ws::SOCKET) } != 0 {
        return Err(last_wsa_error());
    }
    Ok(StaleHandle(raw))
}

/// send() on a stale handle.
pub fn stale_write(handle: StaleHandle, buf: &[u8]) -> io::Result<usize> {
    let len = buf.len().min(i32::MAX as usize) as i32;
    // SAFETY: the pointer and length describe `buf`; the handle may be invalid, which is
    // what the call is for: Winsock answers WSAENOTSOCK.
    let n = unsafe { ws::send(handle.0 as ws::SOCKET, buf.as_ptr(), len, 0) };
    if n < 0 {
        Err(last_wsa_error())
    } else {
        Ok(n as usize)
    }
}

/// recv() on a stale handle.
pub fn stale_read(handle: StaleHandle, buf: &mut [u8]) -> io::Result<usize> {
    let len = buf.len().min(i32::MAX as usize) as i32;
    // SAFETY: as in stale_write.
    let n = unsafe { ws::recv(handle.0 as ws::SOCKET, buf.as_mut_ptr(), len, 0) };
    if n < 0 {
        Err(last_wsa_error())
    } else {
        Ok(n as usize)
    }
}

fn last_wsa_error() -> io::Error {
    // SAFETY: no preconditions.
    io::Error::from_raw_os_error(unsafe { ws::WSAGetLastError() })
}

/// The error a non-blocking connect returns while the handshake is under way.
// Winsock answers WSAEWOULDBLOCK where Unix answers EINPROGRESS (see connect() on MSDN).
pub const EINPROGRESS: i32 = ws::WSAEWOULDBLOCK;
pub const POLLIN: i16 = ws::POLLIN;
pub const POLLOUT: i16 = ws::POLLOUT;
pub const POLLERR: i16 = ws::POLLERR;
pub const POLLHUP: i16 = ws::POLLHUP;
/// WSAPoll has no POLLRDHUP (the peer's FIN shows only as POLLHUP or a read of 0).
pub const POLLRDHUP: Option<i16> = None;

/// Poll events by name, in the order they are printed.
pub const POLL_FLAGS: &[(&str, i16)] = &[
    ("POLLIN", ws::POLLIN),
    ("POLLOUT", ws::POLLOUT),
    ("POLLERR", ws::POLLERR),
    ("POLLHUP", ws::POLLHUP),
];

/// WSAPoll on one socket; returns the revents bits, 0 when the timeout passed.
pub fn poll(socket: &Socket, events: i16, timeout: Duration) -> io::Result<i16> {
    use std::os::windows::io::AsRawSocket;
    let mut fds = ws::WSAPOLLFD {
        fd: socket.as_raw_socket() as ws::SOCKET,
        events,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid WSAPOLLFD.
    let rc = unsafe { ws::WSAPoll(&mut fds, 1, ms) };
    if rc < 0 {
        Err(last_wsa_error())
    } else {
        Ok(fds.revents)
    }
}

/// Bytes waiting in the socket's receive queue (FIONREAD through ioctlsocket).
pub fn bytes_queued(socket: &Socket) -> io::Result<usize> {
    use std::os::windows::io::AsRawSocket;
    let mut n: u32 = 0;
    // SAFETY: FIONREAD writes one u32.
    let rc = unsafe { ws::ioctlsocket(socket.as_raw_socket() as ws::SOCKET, ws::FIONREAD, &mut n) };
    if rc != 0 {
        Err(last_wsa_error())
    } else {
        Ok(n as usize)
    }
}

/// Bytes in the send queue not yet acknowledged by the peer.
///
/// # Notes
/// Windows has no SIOCOUTQ; `Unsupported`.
pub fn bytes_unacked(socket: &Socket) -> io::Result<usize> {
    let _ = socket;
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// An identifier of the calling thread that `thread_is_asleep` understands.
pub fn thread_id() -> u64 {
    0
}

/// Whether the thread is asleep in the kernel; Windows has no /proc to say, so `None`.
pub fn thread_is_asleep(tid: u64) -> Option<bool> {
    let _ = tid;
    None
}

/// The kernel's name and release. The release is not read yet (it needs RtlGetVersion;
/// GetVersionEx reports what the manifest allows): `unknown`.
pub fn uname() -> (String, String) {
    ("Windows_NT".to_owned(), "unknown".to_owned())
}

/// The system's own description of its version: not read yet.
pub fn os_version() -> Option<String> {
    None
}

/// The machine's physical memory: not read yet (GlobalMemoryStatusEx would tell), so the
/// memory guard uses its upper cap.
pub fn physical_memory() -> Option<u64> {
    None
}

/// The TCP settings that decide the lab's outcomes.
///
/// # Notes
/// Windows keeps its equivalents in the registry and `netsh int tcp`; none is read yet:
/// the list is empty, so expressions naming a fact cannot be evaluated here.
pub fn tcp_sysctls() -> Vec<(&'static str, String)> {
    Vec::new()
}

/// Network namespaces are Linux's; Windows has none.
pub fn unshare_netns() -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// See `unshare_netns`.
pub fn loopback_up() -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Kernel settings by sysctl name: Windows has none to read this way.
pub fn read_sysctl(name: &str) -> io::Result<String> {
    let _ = name;
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Why a setting could not be written (see the Unix version).
#[derive(Debug)]
pub enum SysctlError {
    Open(io::Error),
    // Never made here (nothing is written), but matched by the OS-neutral code.
    #[allow(dead_code)]
    Write(io::Error),
}

/// See `read_sysctl`.
pub fn write_sysctl(name: &str, value: &str) -> Result<(), SysctlError> {
    let _ = (name, value);
    Err(SysctlError::Open(io::Error::from(
        io::ErrorKind::Unsupported,
    )))
}

/// Threads in this process, where the system says (not on Windows).
pub fn thread_count() -> Option<usize> {
    None
}

// ---- kernel evidence and per-socket knobs (the scenario catalogue's ops) ----------------

/// The TCP state of an open socket. Windows reports it through GetTcpTable2 / SIO_TCP_INFO,
/// not read yet: `None`.
pub fn tcp_state(socket: &Socket) -> Option<&'static str> {
    let _ = socket;
    None
}

/// What the kernel's connection table says about a connection: not read on Windows (it
/// would be GetTcpTable2), so `None`.
pub fn tcp_state_in_table(
    local: std::net::SocketAddr,
    peer: std::net::SocketAddr,
) -> Option<Option<&'static str>> {
    let _ = (local, peer);
    None
}

/// The TCP/IP counters: Windows keeps them behind GetTcpStatisticsEx, not read yet: `None`.
pub fn net_counters() -> Option<std::collections::BTreeMap<String, i64>> {
    None
}

/// A TCP keepalive setting.
#[derive(Debug, Clone, Copy)]
pub enum Keepalive {
    /// TCP_KEEPIDLE: seconds of idleness before the first probe.
    Idle,
    /// TCP_KEEPINTVL: seconds between probes.
    Interval,
    /// TCP_KEEPCNT: unanswered probes before the connection is dropped.
    Count,
    /// TCP_USER_TIMEOUT is Linux's; Winsock refuses the number.
    UserTimeout,
    /// TCP_SYNCNT is Linux's (Windows has TCP_MAXRTMS instead); Winsock refuses the number.
    SynCount,
}

impl Keepalive {
    fn raw(self) -> i32 {
        match self {
            Keepalive::Idle => ws::TCP_KEEPIDLE,
            Keepalive::Interval => ws::TCP_KEEPINTVL,
            Keepalive::Count => ws::TCP_KEEPCNT,
            Keepalive::UserTimeout | Keepalive::SynCount => -1,
        }
    }
}

/// setsockopt(IPPROTO_TCP, TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT), one call.
///
/// # Notes
/// Winsock has these options since Windows 10 version 1709; older systems answer
/// WSAENOPROTOOPT.
pub fn set_keepalive(socket: &Socket, knob: Keepalive, value: i64) -> io::Result<()> {
    use std::os::windows::io::AsRawSocket;
    let v = i32::try_from(value).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid i32 and its size.
    let rc = unsafe {
        ws::setsockopt(
            socket.as_raw_socket() as ws::SOCKET,
            ws::IPPROTO_TCP,
            knob.raw(),
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as i32,
        )
    };
    if rc != 0 {
        Err(last_wsa_error())
    } else {
        Ok(())
    }
}

/// getsockopt of a keepalive setting, as Winsock reports it.
pub fn keepalive(socket: &Socket, knob: Keepalive) -> io::Result<i64> {
    use std::os::windows::io::AsRawSocket;
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as i32;
    // SAFETY: a valid i32 and its size.
    let rc = unsafe {
        ws::getsockopt(
            socket.as_raw_socket() as ws::SOCKET,
            ws::IPPROTO_TCP,
            knob.raw(),
            (&mut v as *mut i32).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        Err(last_wsa_error())
    } else {
        Ok(i64::from(v))
    }
}

/// Whether the socket is in non-blocking mode: Winsock can set it (FIONBIO) but has no
/// call that reads it back, so `Unsupported`.
pub fn is_nonblocking(socket: &Socket) -> io::Result<bool> {
    let _ = socket;
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// How a child process made by [`write_in_child`] ended.
// The engine matches on every variant; on Windows no child is ever made.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildEnd {
    /// It exited with `status`; `write` is what its write returned, as it reported.
    Exited {
        status: i32,
        write: Option<Result<usize, i32>>,
    },
    /// A signal ended it.
    Killed(&'static str),
    /// It did not end within the limit and was killed.
    TimedOut,
}

/// The SIGPIPE probe needs fork(2) and SIGPIPE, neither of which Windows has (a write to
/// a reset connection fails with WSAECONNRESET there): `Unsupported`.
pub fn write_in_child(
    socket: &Socket,
    buf: &[u8],
    sigpipe_default: bool,
    limit: Duration,
) -> io::Result<ChildEnd> {
    let _ = (socket, buf, sigpipe_default, limit);
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

// Packet capture: Windows has no AF_PACKET; every call answers Unsupported.
#[path = "no_capture.rs"]
mod capture;
pub use capture::{wait_frames, PacketSocket as CaptureSocket, RawFrame, Waker as CaptureWaker};

// The clean rooms' pieces: Windows has no network namespaces; every one answers
// Unsupported or None.
#[path = "no_room.rs"]
mod room;
pub use room::{
    can_make_namespaces, congestion, enter_user_namespace, mtu, set_congestion, tcp_info_field,
    tcp_metrics,
};

/// Ctrl-C is left to Windows' default (it ends the process): a console control handler
/// would need another windows-sys feature, and the lab is measured on Linux.
pub fn block_interrupts() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Ctrl-C is not caught on Windows",
    ))
}

/// Nothing to undo: [`block_interrupts`] refuses.
pub fn unblock_interrupts() -> io::Result<()> {
    Ok(())
}

/// Never called: [`block_interrupts`] refuses.
pub fn wait_interrupt() -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Windows has no network namespaces; every call answers `Unsupported`.
#[derive(Debug)]
pub struct NetnsFd(());

impl NetnsFd {
    pub fn current() -> io::Result<NetnsFd> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub fn fresh() -> io::Result<NetnsFd> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub fn try_clone(&self) -> io::Result<NetnsFd> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub fn enter(&self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub fn run<T>(&self, _f: impl FnOnce() -> T) -> io::Result<T> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

// The topology's plan and result types: OS-neutral, shared with unix/mod.rs.
#[path = "topology_plan.rs"]
mod topology_plan;
pub use topology_plan::*;

/// Windows has no network namespaces: the network tier's topology cannot be built.
pub fn build_topology() -> Result<Topology, TopologyError> {
    Err(TopologyError::Unsupported("windows"))
}

/// Windows has no packet sockets (the wire's relay is Linux's); every call answers
/// `Unsupported`.
#[derive(Debug)]
pub struct PacketSocket(());

impl PacketSocket {
    pub fn open(_ifname: &str) -> io::Result<PacketSocket> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "packet sockets are Linux's",
        ))
    }
    pub fn ignore_outgoing(&self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub fn set_send_timeout(&self, _limit: Duration) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub fn try_recv(&self, _buf: &mut [u8]) -> io::Result<Option<usize>> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub fn send(&self, _frame: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// See [`PacketSocket`].
#[derive(Debug)]
pub struct Waker(());

impl Waker {
    pub fn new() -> io::Result<Waker> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub fn wake(&self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    pub fn drain(&self) {}
}

/// See [`PacketSocket`].
pub fn poll_readable(
    _sockets: &[&PacketSocket],
    _waker: &Waker,
    _timeout: Duration,
) -> io::Result<(Vec<bool>, bool)> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
