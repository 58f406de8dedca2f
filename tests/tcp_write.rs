//! write(2) semantics on real loopback sockets: filling the buffers of a peer that does not
//! read, buffer sizes, send timeouts, zero-length writes and writes to a closed peer.
//!
//! Uses only std::net, socket2 and libc (not the tcplab library), so these tests state what
//! the kernel does, independent of the lab's engine. See tcp(7), socket(7), write(2).

// Raw descriptors, poll(2) and errno values are Unix concepts.
#![cfg(unix)]

mod sockets;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use sockets::{
    abortive_close, accept_within, established_pair, loopback_any_port, poll_once, set_io_timeouts,
    tcp_socket, WAIT_BOUND,
};

/// SO_SNDTIMEO used where a write is *meant* to time out. Short, since the tests only
/// check the outcome, never the elapsed time.
const SHORT_SNDTIMEO: Duration = Duration::from_millis(100);

/// Chunk size of the non-blocking writes that fill a non-reading peer.
const CHUNK: usize = 64 * 1024;

/// Buffer size requested with SO_SNDBUF / SO_RCVBUF where the tests want small buffers.
/// Setting either turns Linux's autotuning off for that buffer.
const SMALL_BUFFER: usize = 32 * 1024;

/// Size of a single blocking write that cannot fit into two SMALL_BUFFERs.
const OVERSIZED_WRITE: usize = 8 * 1024 * 1024;

// Linux doubles the requested buffer size for bookkeeping (socket(7): "the kernel doubles
// this value ... and this doubled value is returned by getsockopt(2)").
#[cfg(target_os = "linux")] // the quirk is Linux's.
const LINUX_BUFFER_FACTOR: usize = 2;

// ---------------------------------------------------------------------------------------
// helpers: the states the tests start from
// ---------------------------------------------------------------------------------------

/// Like established_pair(), but the client's send buffer and the server's receive buffer
/// are fixed at SMALL_BUFFER (set before the handshake, so the window matches), so a
/// non-reading server stops the client after a predictable amount of data.
fn established_pair_with_small_buffers() -> (TcpStream, TcpStream) {
    let listener = tcp_socket();
    listener.set_recv_buffer_size(SMALL_BUFFER).unwrap();
    listener.bind(&loopback_any_port().into()).unwrap();
    listener.listen(4).unwrap();
    let listener: TcpListener = listener.into();
    let client = tcp_socket();
    client.set_send_buffer_size(SMALL_BUFFER).unwrap();
    client
        .connect(&listener.local_addr().unwrap().into())
        .unwrap();
    let client: TcpStream = client.into();
    let server = accept_within(&listener, WAIT_BOUND);
    for side in [&client, &server] {
        set_io_timeouts(side, WAIT_BOUND);
    }
    (client, server)
}

/// A pair whose server side closed cleanly (FIN, nothing unread) and whose client has
/// read the EOF: the client is in CLOSE-WAIT, the server's socket is orphaned.
fn pair_with_peer_closed() -> TcpStream {
    let (mut client, server) = established_pair();
    drop(server);
    let mut buf = [0u8; 16];
    assert_eq!(client.read(&mut buf).unwrap(), 0, "expected the peer's FIN");
    client
}

/// Waits (bounded) until the peer's RST has arrived: the socket reports POLLERR/POLLHUP.
fn wait_for_reset(stream: &TcpStream) {
    let revents = poll_once(stream.as_raw_fd(), 0, WAIT_BOUND);
    assert_ne!(
        revents & (libc::POLLERR | libc::POLLHUP),
        0,
        "no RST arrived, revents {revents:#x}"
    );
}

/// What write_until_blocked() saw.
#[derive(Debug)]
struct FillReport {
    /// Bytes the kernel accepted before the first EAGAIN.
    total: usize,
    /// Writes that moved some but not all of their chunk, before the first EAGAIN.
    partial_writes: usize,
    /// Number of writes that returned a count (full or partial).
    successful_writes: usize,
}

/// Writes CHUNK-sized non-blocking writes until the kernel answers EAGAIN; returns how
/// much went in. Leaves the stream in non-blocking mode.
fn write_until_blocked(stream: &mut TcpStream) -> FillReport {
    stream.set_nonblocking(true).unwrap();
    let chunk = vec![0x5Au8; CHUNK];
    let mut report = FillReport {
        total: 0,
        partial_writes: 0,
        successful_writes: 0,
    };
    loop {
        match stream.write(&chunk) {
            Ok(n) => {
                assert!(n > 0, "a non-blocking write of {CHUNK} bytes returned 0");
                report.total += n;
                report.successful_writes += 1;
                if n < CHUNK {
                    report.partial_writes += 1;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e:?}");
                return report;
            }
            Err(e) => panic!("unexpected error {e:?}"),
        }
        assert!(
            report.total < 1024 * 1024 * 1024,
            "1 GiB went into a socket whose peer never reads"
        );
    }
}

fn assert_broken_pipe(result: io::Result<usize>) {
    match result {
        Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe)
        }
        Ok(n) => panic!("expected EPIPE, write returned {n}"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// a peer that does not read: the buffers fill up
// ---------------------------------------------------------------------------------------

#[test]
fn nonblocking_writes_to_a_non_reading_peer_move_some_bytes_then_fail_with_eagain() {
    let (mut client, _server) = established_pair();

    let report = write_until_blocked(&mut client);

    assert!(report.total > 0, "{report:?}");
    assert!(report.successful_writes > 0, "{report:?}");
    // The socket stays full: another attempt fails the same way.
    let e = client
        .write(&[1u8; 16])
        .expect_err("write into full buffers succeeded");
    assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e:?}");
}

#[test]
fn nonblocking_writes_to_a_non_reading_peer_end_with_a_partial_write_before_eagain() {
    let (mut client, _server) = established_pair();

    let report = write_until_blocked(&mut client);

    // The last chunk that still found room went in partly (0 < n < CHUNK).
    assert!(report.partial_writes >= 1, "{report:?}");
}

#[test]
fn bytes_accepted_by_nonblocking_writes_all_reach_the_peer_once_it_reads() {
    let (mut client, mut server) = established_pair_with_small_buffers();
    let report = write_until_blocked(&mut client);
    client.set_nonblocking(false).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();

    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();

    assert_eq!(got.len(), report.total);
    assert!(got.iter().all(|&b| b == 0x5A));
}

// ---------------------------------------------------------------------------------------
// SO_SNDBUF / SO_RCVBUF
// ---------------------------------------------------------------------------------------

#[cfg(target_os = "linux")] // the doubling is Linux's; macOS and Windows report the request.
#[test]
fn so_sndbuf_set_to_n_reads_back_as_2n() {
    let socket = tcp_socket();

    socket.set_send_buffer_size(SMALL_BUFFER).unwrap();

    assert_eq!(
        socket.send_buffer_size().unwrap(),
        LINUX_BUFFER_FACTOR * SMALL_BUFFER
    );
}

#[cfg(target_os = "linux")] // the doubling is Linux's; macOS and Windows report the request.
#[test]
fn so_rcvbuf_set_to_n_reads_back_as_2n() {
    let socket = tcp_socket();

    socket.set_recv_buffer_size(SMALL_BUFFER).unwrap();

    assert_eq!(
        socket.recv_buffer_size().unwrap(),
        LINUX_BUFFER_FACTOR * SMALL_BUFFER
    );
}

// ---------------------------------------------------------------------------------------
// blocking write with SO_SNDTIMEO
// ---------------------------------------------------------------------------------------

#[test]
fn blocking_write_with_so_sndtimeo_returns_the_partial_count_then_the_next_fails_with_eagain() {
    let (mut client, _server) = established_pair_with_small_buffers();
    client.set_write_timeout(Some(SHORT_SNDTIMEO)).unwrap();
    let big = vec![7u8; OVERSIZED_WRITE];

    let n = client.write(&big).unwrap();
    assert!(
        n > 0 && n < OVERSIZED_WRITE,
        "wrote {n} of {OVERSIZED_WRITE}"
    );

    // Nothing drained meanwhile: this write moves no byte, so it fails.
    match client.write(&big) {
        // Linux, macOS: EAGAIN/EWOULDBLOCK.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e:?}")
        }
        // Windows reports WSAETIMEDOUT instead (kept for when this file leaves cfg(unix)).
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
        Ok(n) => panic!("second write into full buffers returned {n}"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// zero-length write
// ---------------------------------------------------------------------------------------

#[test]
fn zero_length_write_returns_0_and_sends_nothing() {
    let (mut client, mut server) = established_pair();

    assert_eq!(client.write(&[]).unwrap(), 0);
    client.write_all(b"x").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();

    // Everything the peer ever receives is the one byte written after it.
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"x");
}

// ---------------------------------------------------------------------------------------
// writing to a peer that has gone
// ---------------------------------------------------------------------------------------

#[test]
fn write_after_peer_close_succeeds_once_then_fails_with_epipe_on_the_second_write() {
    let mut client = pair_with_peer_closed();

    // The bytes reach the local kernel; the closed peer answers them with RST.
    assert_eq!(client.write(b"ping").unwrap(), 4);
    wait_for_reset(&client);

    // In CLOSE-WAIT a RST is reported as EPIPE, not ECONNRESET (Linux tcp_reset()).
    assert_broken_pipe(client.write(b"ping"));
    assert_broken_pipe(client.write(b"ping"));
}

#[test]
fn write_after_peer_reset_fails_with_econnreset_once_then_with_epipe() {
    let (mut client, server) = established_pair();
    abortive_close(server);
    wait_for_reset(&client);

    match client.write(b"ping") {
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset)
        }
        Ok(n) => panic!("write after a RST returned {n}"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
    assert_broken_pipe(client.write(b"ping"));
}
