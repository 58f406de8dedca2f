//! Property: a loopback TCP connection is a byte stream. Whatever sizes the writer uses and
//! whatever buffer the reader reads into, the reader gets every byte, in order, and no read
//! returns more than its buffer.
//!
//! Uses only std::net and libc (not the tcplab library). See tcp(7).

// Raw descriptors and poll(2) are Unix concepts.
#![cfg(unix)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;

/// SO_RCVTIMEO / SO_SNDTIMEO on both sides: a bug fails the case instead of hanging.
const WAIT_BOUND: Duration = Duration::from_secs(20);

/// Cases per run: each case moves up to 560 KB, so this stays quick in debug builds.
const CASES: u32 = 32;

/// Largest single write the strategy produces (larger than loopback's first send buffer).
const MAX_WRITE: usize = 70_000;

/// Most writes per case.
const MAX_WRITES: usize = 8;

/// Largest read buffer the strategy produces.
const MAX_READ_BUF: usize = 65_536;

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

fn loopback_any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A connected client and the server side accepted from a fresh listener (ESTABLISHED on
/// both sides), with SO_RCVTIMEO and SO_SNDTIMEO set to WAIT_BOUND.
fn established_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(loopback_any_port()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let revents = poll_once(listener.as_raw_fd(), libc::POLLIN, WAIT_BOUND);
    assert_ne!(revents & libc::POLLIN, 0, "no connection to accept");
    let server = listener.accept().unwrap().0;
    for side in [&client, &server] {
        side.set_read_timeout(Some(WAIT_BOUND)).unwrap();
        side.set_write_timeout(Some(WAIT_BOUND)).unwrap();
    }
    (client, server)
}

/// Waits (bounded) for `events` on `fd`; returns the revents, 0 on timeout.
fn poll_once(fd: i32, events: i16, bound: Duration) -> i16 {
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

/// Byte `index` of the stream: a hash of its position, so a lost, repeated or reordered
/// byte (or block of bytes) shows up as a mismatch.
fn stream_byte(index: usize) -> u8 {
    ((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// Writes the stream in pieces of the given sizes, then half-closes.
fn writer(mut client: TcpStream, sizes: Vec<usize>) -> thread::JoinHandle<io::Result<()>> {
    thread::spawn(move || {
        let mut offset = 0;
        for size in sizes {
            let piece: Vec<u8> = (offset..offset + size).map(stream_byte).collect();
            client.write_all(&piece)?;
            offset += size;
        }
        client.shutdown(Shutdown::Write)
    })
}

// ---------------------------------------------------------------------------------------
// the property
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn reads_return_every_written_byte_in_order_and_never_more_than_the_buffer(
        sizes in vec(1..=MAX_WRITE, 1..=MAX_WRITES),
        read_buf_len in 1..=MAX_READ_BUF,
    ) {
        let total: usize = sizes.iter().sum();
        let (client, mut server) = established_pair();
        let writer = writer(client, sizes);

        let mut buf = vec![0u8; read_buf_len];
        let mut got = Vec::with_capacity(total);
        loop {
            let n = server.read(&mut buf).expect("read failed or timed out");
            prop_assert!(n <= read_buf_len, "read {} into a {}-byte buffer", n, read_buf_len);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            prop_assert!(got.len() <= total, "more bytes read than written");
        }
        writer.join().expect("writer panicked").expect("writer failed");

        prop_assert_eq!(got.len(), total);
        let first_bad = got.iter().enumerate().position(|(i, &b)| b != stream_byte(i));
        prop_assert_eq!(first_bad, None, "bytes out of order");
    }
}
