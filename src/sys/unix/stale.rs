//! Stale descriptors: a socket closed on purpose, its number kept to show what calls on
//! it return (EBADF).
//!
//! The number is placed near the descriptor limit so that sockets other threads open
//! meanwhile do not take it over.

use std::io;
use std::os::fd::{IntoRawFd, RawFd};

use socket2::Socket;

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
