//! poll(2) on one socket, and the names of its event bits.
//!
//! The engines wait for readiness with [`poll`] and print `revents` by the names in
//! [`POLL_FLAGS`]; the bits are libc's, so each system gets its own values (poll(2)).

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::Socket;

pub const POLLIN: i16 = libc::POLLIN;
pub const POLLOUT: i16 = libc::POLLOUT;
pub const POLLERR: i16 = libc::POLLERR;
pub const POLLHUP: i16 = libc::POLLHUP;
/// The peer shut down its writing half; only where poll(2) has the bit.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
// POLLRDHUP exists on Linux and FreeBSD only (poll(2)).
pub const POLLRDHUP: Option<i16> = Some(libc::POLLRDHUP);
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
// macOS's poll(2) has no POLLRDHUP.
pub const POLLRDHUP: Option<i16> = None;

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
