//! shutdown(2) and close(2) semantics on real loopback sockets: half-close, shutdown of
//! either direction, close with unread data, abortive close, and a closed descriptor.
//!
//! Uses only std::net, socket2 and libc (not the tcplab library), so these tests state what
//! the kernel does, independent of the lab's engine. See tcp(7), shutdown(2), close(2).

// Raw descriptors, poll(2), fcntl(2) and errno values are Unix concepts.
#![cfg(unix)]

mod sockets;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;

use sockets::{
    abortive_close, assert_connection_reset, established_pair, poll_once, wait_for_queued_bytes,
    WAIT_BOUND,
};
#[cfg(target_os = "linux")] // TCP_INFO and its state numbers are Linux's.
use sockets::{tcp_info, wait_until_equal};

/// How far below the RLIMIT_NOFILE soft limit the "closed descriptor" test parks its
/// descriptor number: high enough that no other test's socket is ever given that number
/// (the kernel hands out the lowest free descriptor), low enough to be allowed.
const HIGH_FD_MARGIN: u64 = 16;

/// Caps that descriptor number where the soft limit is huge or unlimited, keeping the
/// process's descriptor table small.
const HIGH_FD_CEILING: u64 = 65_536;

// Linux TCP states as tcp_info.tcpi_state reports them (include/net/tcp_states.h).
#[cfg(target_os = "linux")] // other systems number their states differently.
mod linux_tcp_state {
    pub const ESTABLISHED: u8 = 1;
    pub const FIN_WAIT_2: u8 = 5;
    pub const CLOSE: u8 = 7;
    pub const CLOSE_WAIT: u8 = 8;
    pub const LAST_ACK: u8 = 9;
}

// ---------------------------------------------------------------------------------------
// helpers: the states the tests start from
// ---------------------------------------------------------------------------------------

/// A pair where the client has shut down its sending direction and the server has read
/// the EOF: client in FIN-WAIT-2, server in CLOSE-WAIT.
fn half_closed_pair() -> (TcpStream, TcpStream) {
    let (client, mut server) = established_pair();
    client.shutdown(Shutdown::Write).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        server.read(&mut buf).unwrap(),
        0,
        "expected the client's FIN"
    );
    (client, server)
}

/// A pair whose server has received `data` and not read it.
fn pair_with_unread_data_on_the_server(data: &[u8]) -> (TcpStream, TcpStream) {
    let (mut client, server) = established_pair();
    client.write_all(data).unwrap();
    wait_for_queued_bytes(&server, data.len());
    (client, server)
}

/// The socket's TCP state (tcp_info.tcpi_state).
#[cfg(target_os = "linux")] // TCP_INFO's layout and state numbers are Linux's.
fn tcp_state(stream: &TcpStream) -> u8 {
    tcp_info(stream).tcpi_state
}

/// Waits (bounded) until the socket reaches `expected`; state changes driven by the peer's
/// segments can lag behind what the peer's own calls returned.
#[cfg(target_os = "linux")] // uses tcp_state(), see there.
fn wait_for_tcp_state(stream: &TcpStream, expected: u8) {
    wait_until_equal("TCP state", expected, || tcp_state(stream));
}

// ---------------------------------------------------------------------------------------
// shutdown(SHUT_WR): a half-close
// ---------------------------------------------------------------------------------------

#[test]
fn after_shutdown_write_the_peer_reads_eof_and_can_still_send_back() {
    let (mut client, mut server) = half_closed_pair();

    server.write_all(b"reply").unwrap();
    server.shutdown(Shutdown::Write).unwrap();

    // This side can still read everything the peer sends, up to the peer's own FIN.
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"reply");
}

#[test]
fn write_after_own_shutdown_write_fails_with_epipe() {
    let (mut client, _server) = half_closed_pair();

    match client.write(b"late") {
        Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe)
        }
        Ok(n) => panic!("write after shutdown(Write) returned {n}"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

// Linux accepts a shutdown of an already shut direction; other systems may answer
// ENOTCONN for it (not measured here), so this is checked on Linux only.
#[cfg(target_os = "linux")] // see above.
#[test]
fn repeated_shutdown_succeeds() {
    let (client, _server) = half_closed_pair();

    client.shutdown(Shutdown::Write).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    client.shutdown(Shutdown::Both).unwrap();
    client.shutdown(Shutdown::Both).unwrap();
}

#[cfg(target_os = "linux")] // TCP_INFO state numbers are Linux's.
#[test]
fn before_any_shutdown_both_sides_are_established() {
    let (client, server) = established_pair();

    assert_eq!(tcp_state(&client), linux_tcp_state::ESTABLISHED);
    assert_eq!(tcp_state(&server), linux_tcp_state::ESTABLISHED);
}

#[cfg(target_os = "linux")] // TCP_INFO state numbers are Linux's.
#[test]
fn shutdown_write_moves_this_side_to_fin_wait_2_and_the_peer_to_close_wait() {
    let (client, server) = half_closed_pair();

    wait_for_tcp_state(&client, linux_tcp_state::FIN_WAIT_2);
    assert_eq!(tcp_state(&server), linux_tcp_state::CLOSE_WAIT);

    // The second FIN: the server waits in LAST-ACK for its ACK, then is CLOSED. The client
    // moves to TIME-WAIT, which Linux keeps in a separate mini-socket: the descriptor
    // itself reports CLOSE.
    server.shutdown(Shutdown::Write).unwrap();
    wait_for_tcp_state(&client, linux_tcp_state::CLOSE);
    let server_state = tcp_state(&server);
    assert!(
        server_state == linux_tcp_state::LAST_ACK || server_state == linux_tcp_state::CLOSE,
        "server state {server_state}"
    );
    wait_for_tcp_state(&server, linux_tcp_state::CLOSE);
}

// ---------------------------------------------------------------------------------------
// shutdown(SHUT_RD)
// ---------------------------------------------------------------------------------------

#[test]
fn read_after_own_shutdown_read_returns_0_at_once() {
    let (_client, mut server) = established_pair();

    server.shutdown(Shutdown::Read).unwrap();

    // No data and the peer is silent: without the shutdown this read would block.
    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).unwrap(), 0);
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

#[cfg(target_os = "linux")] // Linux keeps accepting data after SHUT_RD; BSDs discard it.
#[test]
fn data_sent_after_shutdown_read_can_still_be_read_on_linux() {
    let (mut client, mut server) = established_pair();
    server.shutdown(Shutdown::Read).unwrap();

    client.write_all(b"after").unwrap();
    wait_for_queued_bytes(&server, 5);

    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"after");
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// close() with unread received data: RST instead of FIN (RFC 2525)
// ---------------------------------------------------------------------------------------

#[test]
fn close_with_unread_received_data_makes_the_peer_read_econnreset() {
    let (mut client, server) = pair_with_unread_data_on_the_server(b"never read");

    drop(server);

    let mut buf = [0u8; 16];
    assert_connection_reset(client.read(&mut buf));
    assert_eq!(client.read(&mut buf).unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// SO_LINGER {on, 0} then close(): abortive close
// ---------------------------------------------------------------------------------------

#[test]
fn close_with_so_linger_zero_makes_the_peer_read_econnreset_once_then_0() {
    let (client, mut server) = established_pair();

    abortive_close(client);

    let revents = poll_once(server.as_raw_fd(), libc::POLLIN, WAIT_BOUND);
    let expected = libc::POLLIN | libc::POLLHUP | libc::POLLERR;
    assert_eq!(revents & expected, expected, "revents {revents:#x}");
    let mut buf = [0u8; 16];
    assert_connection_reset(server.read(&mut buf));
    assert_eq!(server.read(&mut buf).unwrap(), 0);
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

#[test]
fn so_error_after_an_abortive_close_is_econnreset_and_reading_it_clears_it() {
    let (client, mut server) = established_pair();

    abortive_close(client);
    let revents = poll_once(server.as_raw_fd(), 0, WAIT_BOUND);
    assert_ne!(revents & libc::POLLERR, 0, "revents {revents:#x}");

    let so_error = server.take_error().unwrap().expect("SO_ERROR is empty");
    assert_eq!(
        so_error.raw_os_error(),
        Some(libc::ECONNRESET),
        "{so_error:?}"
    );
    assert!(server.take_error().unwrap().is_none());
    // The pending error was consumed by getsockopt, so the read sees only the EOF.
    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// a descriptor this side closed
// ---------------------------------------------------------------------------------------

#[test]
fn write_on_a_closed_descriptor_fails_with_ebadf() {
    let (client, _server) = established_pair();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through the valid pointer.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    // rlim_t is u64 on Linux and macOS, i64 on FreeBSD.
    #[allow(clippy::unnecessary_cast)]
    let current = limit.rlim_cur as u64;
    assert!(current > 2 * HIGH_FD_MARGIN, "fd limit {current}");
    let ceiling = current.min(HIGH_FD_CEILING);
    let wanted = (ceiling - HIGH_FD_MARGIN) as libc::c_int;

    // A high duplicate: the kernel gives new descriptors the lowest free number, so no
    // socket opened by a test running in parallel can take this number once it is closed.
    // SAFETY: F_DUPFD on a valid descriptor only creates a new descriptor.
    let high = unsafe { libc::fcntl(client.as_raw_fd(), libc::F_DUPFD, wanted) };
    assert!(high >= wanted, "F_DUPFD: {:?}", io::Error::last_os_error());
    drop(client);
    // SAFETY: `high` was just created by F_DUPFD and is owned by nothing else.
    assert_eq!(unsafe { libc::close(high) }, 0);

    // SAFETY: writing from a valid buffer; the descriptor number is closed, which is the
    // point of the test, and no other code can have reused it (see above).
    let rc = unsafe { libc::write(high, b"x".as_ptr().cast(), 1) };
    let e = io::Error::last_os_error();
    assert_eq!(rc, -1);
    assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e:?}");
}
