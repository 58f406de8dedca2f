//! read(2) semantics on real loopback sockets: short reads, byte-stream coalescing, EOF,
//! receive timeouts and resets.
//!
//! Uses only std::net, socket2 and libc (not the tcplab library), so these tests state what
//! the kernel does, independent of the lab's engine. See tcp(7), socket(7), read(2).

// Raw descriptors, poll(2), FIONREAD and errno values are Unix concepts.
#![cfg(unix)]

mod sockets;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::time::Duration;

use sockets::{
    abortive_close, assert_connection_reset, established_pair, poll_once, queued_bytes,
    wait_for_queued_bytes, WAIT_BOUND,
};

/// SO_RCVTIMEO used where a read is *meant* to time out. Short, since the tests only
/// check the outcome, never the elapsed time.
const SHORT_RCVTIMEO: Duration = Duration::from_millis(50);

/// Marks buffer bytes that no read has written.
const UNTOUCHED: u8 = 0xAA;

// ---------------------------------------------------------------------------------------
// partial data: a read returns what is there
// ---------------------------------------------------------------------------------------

#[test]
fn read_of_two_available_bytes_into_a_ten_byte_buffer_returns_2() {
    let (mut client, mut server) = established_pair();
    client.write_all(b"hi").unwrap();

    let mut buf = [UNTOUCHED; 10];
    let n = server.read(&mut buf).unwrap();

    assert_eq!(n, 2);
    assert_eq!(&buf[..2], b"hi");
    assert!(buf[2..].iter().all(|&b| b == UNTOUCHED));
}

#[test]
fn fifteen_queued_bytes_read_into_a_ten_byte_buffer_come_back_as_10_then_5() {
    let (mut client, mut server) = established_pair();
    let data = b"fifteen bytes!!";
    assert_eq!(data.len(), 15);
    assert_eq!(client.write(data).unwrap(), 15);
    wait_for_queued_bytes(&server, 15);

    let mut buf = [0u8; 10];
    let first = server.read(&mut buf).unwrap();
    assert_eq!(first, 10);
    assert_eq!(&buf[..10], &data[..10]);
    let second = server.read(&mut buf).unwrap();
    assert_eq!(second, 5);
    assert_eq!(&buf[..5], &data[10..]);
    assert_eq!(queued_bytes(&server), 0);
}

#[test]
fn two_writes_of_2_and_15_bytes_can_be_read_as_10_then_7() {
    let (mut client, mut server) = established_pair();
    assert_eq!(client.write(b"ab").unwrap(), 2);
    assert_eq!(client.write(b"cdefghijklmnopq").unwrap(), 15);
    wait_for_queued_bytes(&server, 17);

    // TCP is a byte stream: the boundary between the two writes is not kept.
    let mut buf = [0u8; 10];
    assert_eq!(server.read(&mut buf).unwrap(), 10);
    assert_eq!(&buf, b"abcdefghij");
    assert_eq!(server.read(&mut buf).unwrap(), 7);
    assert_eq!(&buf[..7], b"klmnopq");
}

// ---------------------------------------------------------------------------------------
// peer closed after sending (FIN): data, then EOF for ever
// ---------------------------------------------------------------------------------------

#[test]
fn peer_that_writes_hello_and_closes_is_read_as_5_then_0_then_0() {
    let (mut client, mut server) = established_pair();
    client.write_all(b"hello").unwrap();
    drop(client);

    let mut buf = [0u8; 64];
    assert_eq!(server.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(server.read(&mut buf).unwrap(), 0);
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// SO_RCVTIMEO on a silent socket
// ---------------------------------------------------------------------------------------

#[test]
fn read_with_so_rcvtimeo_on_a_silent_socket_fails_with_eagain_and_consumes_nothing() {
    let (mut client, mut server) = established_pair();
    server.set_read_timeout(Some(SHORT_RCVTIMEO)).unwrap();

    let mut buf = [UNTOUCHED; 16];
    match server.read(&mut buf) {
        // Linux, macOS: EAGAIN/EWOULDBLOCK (one errno value on both).
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e:?}")
        }
        // Windows reports WSAETIMEDOUT instead (kept for when this file leaves cfg(unix)).
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
        Ok(n) => panic!("read on a silent socket returned {n}"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
    assert!(
        buf.iter().all(|&b| b == UNTOUCHED),
        "the failed read wrote bytes"
    );
    assert_eq!(queued_bytes(&server), 0);

    // The socket stays usable: data sent after the timeout is read whole.
    server.set_read_timeout(Some(WAIT_BOUND)).unwrap();
    client.write_all(b"late").unwrap();
    wait_for_queued_bytes(&server, 4);
    assert_eq!(server.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"late");
}

#[test]
fn read_with_so_rcvtimeo_times_out_again_after_the_queued_bytes_are_consumed() {
    let (mut client, mut server) = established_pair();
    client.write_all(b"abc").unwrap();
    wait_for_queued_bytes(&server, 3);
    server.set_read_timeout(Some(SHORT_RCVTIMEO)).unwrap();

    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).unwrap(), 3);
    let e = server
        .read(&mut buf)
        .expect_err("second read returned data");
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e:?}");
}

// ---------------------------------------------------------------------------------------
// peer reset (RST via SO_LINGER {on, 0}): queued data, then ECONNRESET once, then 0
// ---------------------------------------------------------------------------------------

#[test]
fn peer_reset_after_sending_delivers_the_queued_data_then_econnreset_then_0() {
    let (mut client, mut server) = established_pair();
    client.write_all(b"data").unwrap();
    wait_for_queued_bytes(&server, 4);

    abortive_close(client);
    // The RST has arrived once the socket reports an error.
    let revents = poll_once(server.as_raw_fd(), 0, WAIT_BOUND);
    assert_ne!(
        revents & libc::POLLERR,
        0,
        "no RST arrived, revents {revents:#x}"
    );

    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"data");
    assert_connection_reset(server.read(&mut buf));
    assert_eq!(server.read(&mut buf).unwrap(), 0);
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

#[test]
fn peer_reset_with_nothing_queued_is_read_as_econnreset_then_0() {
    let (client, mut server) = established_pair();

    abortive_close(client);

    // The blocking read wakes up when the RST arrives (bounded by SO_RCVTIMEO).
    let mut buf = [0u8; 16];
    assert_connection_reset(server.read(&mut buf));
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// shutdown(SHUT_WR) by the peer
// ---------------------------------------------------------------------------------------

#[test]
fn peer_shutdown_write_is_read_as_eof_while_the_connection_stays_open() {
    let (client, mut server) = established_pair();
    client.shutdown(Shutdown::Write).unwrap();

    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).unwrap(), 0);
    // Only the peer's direction ended: this side still has a peer address.
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
}
