//! The socket options and ioctls the catalogue reads and sets that socket2 does not
//! offer: queue sizes (FIONREAD, SIOCOUTQ), the keepalive knobs and O_NONBLOCK.
//!
//! Each is one call on the socket's descriptor; see tcp(7), ioctl(2) and fcntl(2).

use std::io;
use std::os::fd::AsRawFd;

use socket2::Socket;

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

/// A TCP keepalive setting (tcp(7)).
#[derive(Debug, Clone, Copy)]
pub enum Keepalive {
    /// TCP_KEEPIDLE: seconds of idleness before the first probe.
    Idle,
    /// TCP_KEEPINTVL: seconds between probes.
    Interval,
    /// TCP_KEEPCNT: unanswered probes before the connection is dropped.
    Count,
    /// TCP_USER_TIMEOUT: milliseconds unacknowledged data may wait (Linux).
    UserTimeout,
    /// TCP_SYNCNT: SYN retransmissions before a connect gives up (Linux).
    SynCount,
}

impl Keepalive {
    fn raw(self) -> libc::c_int {
        match self {
            // macOS calls the idle time TCP_KEEPALIVE; the others match.
            #[cfg(any(target_os = "macos", target_os = "ios"))]
            Keepalive::Idle => libc::TCP_KEEPALIVE,
            #[cfg(not(any(target_os = "macos", target_os = "ios")))]
            Keepalive::Idle => libc::TCP_KEEPIDLE,
            Keepalive::Interval => libc::TCP_KEEPINTVL,
            Keepalive::Count => libc::TCP_KEEPCNT,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Keepalive::UserTimeout => libc::TCP_USER_TIMEOUT,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Keepalive::SynCount => libc::TCP_SYNCNT,
            // Linux's options; elsewhere a number no TCP level uses, refused with
            // ENOPROTOOPT by the system itself.
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Keepalive::UserTimeout | Keepalive::SynCount => -1,
        }
    }
}

/// setsockopt(IPPROTO_TCP, TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT), one call.
///
/// # Notes
/// On Linux values must be 1..=32767 (EINVAL otherwise); setting them does not turn
/// SO_KEEPALIVE on. On macOS the idle time is TCP_KEEPALIVE.
pub fn set_keepalive(socket: &Socket, knob: Keepalive, value: i64) -> io::Result<()> {
    let v = libc::c_int::try_from(value).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a valid c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            knob.raw(),
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// getsockopt of a keepalive setting, as the kernel reports it.
pub fn keepalive(socket: &Socket, knob: Keepalive) -> io::Result<i64> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a valid c_int and its size.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            knob.raw(),
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i64::from(v))
    }
}

/// Whether O_NONBLOCK is set on the socket (fcntl(F_GETFL)).
pub fn is_nonblocking(socket: &Socket) -> io::Result<bool> {
    // SAFETY: F_GETFL takes no argument.
    let flags = unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(flags & libc::O_NONBLOCK != 0)
    }
}
