//! Property: a loopback TCP connection is a byte stream. Whatever sizes the writer uses and
//! whatever buffer the reader reads into, the reader gets every byte, in order, and no read
//! returns more than its buffer.
//!
//! Uses only std::net and libc (not the tcplab library). See tcp(7).

// Raw descriptors and poll(2) are Unix concepts.
#![cfg(unix)]

mod sockets;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

use proptest::collection::vec;
use proptest::prelude::*;

use sockets::{established_pair_with_timeouts, TRANSFER_WAIT_BOUND};

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
        // SO_RCVTIMEO / SO_SNDTIMEO on both sides: a bug fails the case instead of hanging.
        let (client, mut server) = established_pair_with_timeouts(TRANSFER_WAIT_BOUND);
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
