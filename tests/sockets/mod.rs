//! Helpers shared by the direct socket-semantics tests (`tcp_connect`, `tcp_read`,
//! `tcp_write`, `tcp_close`, `tcp_concurrency`, `prop_stream`): the states the tests start
//! from, bounded waits, and what the kernel reports about a socket.
//!
//! Uses only std::net, socket2 and libc (not the tcplab library), so the tests built on it
//! still state what the kernel does, independent of the lab's engine. Only test files that
//! are `#![cfg(unix)]` include it: raw descriptors, poll(2), FIONREAD and errno values are
//! Unix concepts. See tcp(7), socket(7), poll(2).

// Every test binary compiles its own copy of this module and uses a different subset of
// it; without this, each binary would warn about the helpers that only the others use.
#![allow(dead_code)]

use std::fmt::Debug;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

// ---------------------------------------------------------------------------------------
// bounds: every wait has one
// ---------------------------------------------------------------------------------------

/// Upper bound for every wait that is expected to finish at once; only a bug reaches it.
pub const WAIT_BOUND: Duration = Duration::from_secs(10);

/// Upper bound for the reads and writes of bulk transfers between threads (hundreds of KB
/// per test, several writer threads, debug builds on a loaded machine): longer than
/// WAIT_BOUND, and still only a bug reaches it.
pub const TRANSFER_WAIT_BOUND: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// addresses and bare sockets
// ---------------------------------------------------------------------------------------

/// `127.0.0.1:0`: loopback, with a port the kernel picks, so tests never collide on one.
pub fn loopback_any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A fresh IPv4 TCP socket (CLOSED: neither bound nor connected), for the options that
/// must be set before bind(), listen() or connect().
pub fn tcp_socket() -> Socket {
    Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap()
}

// ---------------------------------------------------------------------------------------
// connected pairs: (client, server), ESTABLISHED on both sides
// ---------------------------------------------------------------------------------------

/// A connected client and the server side accepted from a fresh listener (ESTABLISHED on
/// both sides), with SO_RCVTIMEO and SO_SNDTIMEO set to WAIT_BOUND so nothing can hang.
pub fn established_pair() -> (TcpStream, TcpStream) {
    established_pair_with_timeouts(WAIT_BOUND)
}

/// Like established_pair(), but the accept and SO_RCVTIMEO / SO_SNDTIMEO on both sides
/// are bounded by `bound` (TRANSFER_WAIT_BOUND for bulk transfers).
pub fn established_pair_with_timeouts(bound: Duration) -> (TcpStream, TcpStream) {
    let (client, server) = connect_and_accept(bound);
    for side in [&client, &server] {
        set_io_timeouts(side, bound);
    }
    (client, server)
}

/// A connected client and the server side accepted from a fresh listener (ESTABLISHED on
/// both sides), left as the kernel hands them out: no SO_RCVTIMEO or SO_SNDTIMEO, so only
/// for tests that make no blocking read or write on them.
pub fn established_pair_without_timeouts() -> (TcpStream, TcpStream) {
    connect_and_accept(WAIT_BOUND)
}

/// Connects a client to a fresh loopback listener and accepts it within `accept_bound`;
/// the listener is closed on return, the pair stays ESTABLISHED.
fn connect_and_accept(accept_bound: Duration) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(loopback_any_port()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let server = accept_within(&listener, accept_bound);
    (client, server)
}

/// Sets SO_RCVTIMEO and SO_SNDTIMEO to `bound`, so no blocking read or write on `stream`
/// can hang.
pub fn set_io_timeouts(stream: &TcpStream, bound: Duration) {
    stream.set_read_timeout(Some(bound)).unwrap();
    stream.set_write_timeout(Some(bound)).unwrap();
}

/// Accepts one connection, failing the test instead of hanging if none arrives.
pub fn accept_within(listener: &TcpListener, bound: Duration) -> TcpStream {
    let revents = poll_once(listener.as_raw_fd(), libc::POLLIN, bound);
    assert_ne!(revents & libc::POLLIN, 0, "no connection to accept");
    listener.accept().unwrap().0
}

// ---------------------------------------------------------------------------------------
// bounded waits
// ---------------------------------------------------------------------------------------

/// Waits (bounded) for `events` on `fd`; returns the revents, 0 on timeout.
/// POLLERR and POLLHUP are always reported, so `events == 0` waits for just those.
pub fn poll_once(fd: i32, events: i16, bound: Duration) -> i16 {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let deadline = Instant::now() + bound;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().clamp(0, i32::MAX as u128) as i32;
        // SAFETY: `pfd` is a valid pollfd for the duration of the call and nfds is 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return if n == 0 { 0 } else { pfd.revents };
        }
        let e = io::Error::last_os_error();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "poll failed: {e:?}");
    }
}

/// Waits (bounded) until exactly `expected` bytes sit in the receive queue, so the next
/// read sees all of them at once.
pub fn wait_for_queued_bytes(stream: &TcpStream, expected: usize) {
    let deadline = Instant::now() + WAIT_BOUND;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        poll_once(stream.as_raw_fd(), libc::POLLIN, left);
        let queued = queued_bytes(stream);
        if queued >= expected {
            assert_eq!(queued, expected, "more bytes queued than were sent");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {queued} of {expected} bytes arrived"
        );
        // Readable but short: the rest is in flight; let the kernel deliver it.
        std::thread::yield_now();
    }
}

/// Waits (bounded by WAIT_BOUND) until `current()` returns `expected`; for what the kernel
/// changes on its own, with no descriptor event to poll for (a TCP state, an accept queue
/// length). The failure message names `what`.
pub fn wait_until_equal<T>(what: &str, expected: T, mut current: impl FnMut() -> T)
where
    T: PartialEq + Debug,
{
    let deadline = Instant::now() + WAIT_BOUND;
    loop {
        let now = current();
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} stuck at {now:?}, expected {expected:?}"
        );
        std::thread::yield_now();
    }
}

// ---------------------------------------------------------------------------------------
// what the kernel reports about a socket
// ---------------------------------------------------------------------------------------

/// Bytes waiting in the receive queue (ioctl FIONREAD).
pub fn queued_bytes(stream: &TcpStream) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the valid pointer.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {:?}", io::Error::last_os_error());
    n as usize
}

/// The kernel's TCP_INFO for `socket` (getsockopt(IPPROTO_TCP, TCP_INFO)).
///
/// # Notes
///
/// On Linux, `tcpi_state` is the TCP state as numbered in include/net/tcp_states.h; on a
/// LISTEN socket `tcpi_unacked` is the accept queue length and `tcpi_sacked` the effective
/// backlog (tcp_get_info()). See tcp(7).
#[cfg(target_os = "linux")] // TCP_INFO's layout and field meanings are Linux's.
pub fn tcp_info(socket: &impl AsRawFd) -> libc::tcp_info {
    // SAFETY: tcp_info is plain old data; all-zero is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid for writes and `len` holds the buffer size.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {:?}", io::Error::last_os_error());
    info
}

// ---------------------------------------------------------------------------------------
// resets: abortive close and ECONNRESET
// ---------------------------------------------------------------------------------------

/// Closes `stream` with SO_LINGER {on, 0}: the kernel discards what is queued and sends
/// RST instead of FIN (an abortive close).
pub fn abortive_close(stream: TcpStream) {
    SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}

/// Asserts that a read failed with ECONNRESET (io::ErrorKind::ConnectionReset).
pub fn assert_connection_reset(result: io::Result<usize>) {
    match result {
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset)
        }
        Ok(n) => panic!("expected ECONNRESET, read returned {n}"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}
