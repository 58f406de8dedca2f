//! Several threads writing to one shared blocking socket while another thread reads.
//!
//! What the kernel guarantees, and so what is asserted: no byte is lost or duplicated, and
//! each thread's bytes arrive in the order that thread wrote them. What it does *not*
//! guarantee is that one write call's bytes stay together: a blocking write that waits for
//! buffer space releases the socket lock, and another thread's bytes can go in between.
//! Whether that happens in a given run is up to scheduling, so it is not asserted either way.
//! With a Mutex held around each whole message, every message arrives intact.
//!
//! Uses only std::net, socket2 and libc (not the tcplab library). See tcp(7), write(2).

// Raw descriptors and poll(2) are Unix concepts.
#![cfg(unix)]

mod sockets;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use sockets::{established_pair_with_timeouts, TRANSFER_WAIT_BOUND};

/// Number of writer threads. Their id must fit in WRITER_ID_BITS bits.
const WRITERS: usize = 4;

/// Messages each writer sends.
const MESSAGES_PER_WRITER: u32 = 24;

/// Payload size of one message: larger than loopback's first send buffer, so a single
/// write_all has to wait for space and can be split.
const MESSAGE_LEN: usize = 48 * 1024;

/// Top bits of every byte in the unsynchronised test name the writer.
const WRITER_ID_BITS: u32 = 2;
const _: () = assert!(WRITERS <= 1 << WRITER_ID_BITS, "writer ids must fit");

// ---------------------------------------------------------------------------------------
// helpers: the states the tests start from
// ---------------------------------------------------------------------------------------

/// A reader thread that reads the server side to EOF (each read bounded by SO_RCVTIMEO).
fn reader_to_eof(mut server: TcpStream) -> thread::JoinHandle<io::Result<Vec<u8>>> {
    thread::spawn(move || {
        let mut got = Vec::new();
        server.read_to_end(&mut got)?;
        Ok(got)
    })
}

/// Starts WRITERS threads on one shared socket, all released together by a barrier, each
/// running `write_messages(writer_id, &socket)`; then half-closes and returns what the
/// reader got.
fn run_writers_against_one_reader<F>(write_messages: F) -> Vec<u8>
where
    F: Fn(usize, &TcpStream) -> io::Result<()> + Send + Sync + 'static,
{
    let (client, server) = established_pair_with_timeouts(TRANSFER_WAIT_BOUND);
    let reader = reader_to_eof(server);
    let client = Arc::new(client);
    let write_messages = Arc::new(write_messages);
    let start = Arc::new(Barrier::new(WRITERS));

    let writers: Vec<_> = (0..WRITERS)
        .map(|id| {
            let client = Arc::clone(&client);
            let write_messages = Arc::clone(&write_messages);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                write_messages(id, &client)
            })
        })
        .collect();
    for (id, writer) in writers.into_iter().enumerate() {
        writer
            .join()
            .expect("writer panicked")
            .unwrap_or_else(|e| panic!("writer {id} failed: {e:?}"));
    }
    client.shutdown(Shutdown::Write).unwrap();
    reader
        .join()
        .expect("reader panicked")
        .expect("reader failed")
}

/// Byte `index` of writer `id`'s stream in the unsynchronised test: the writer id in the
/// top bits, and 6 bits of a hash of the byte's position, so a lost, duplicated or
/// reordered byte breaks the expected sequence.
fn tagged_byte(id: usize, index: u64) -> u8 {
    let hash =
        index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - (8 - WRITER_ID_BITS));
    ((id as u8) << (8 - WRITER_ID_BITS)) | hash as u8
}

fn writer_of(byte: u8) -> usize {
    (byte >> (8 - WRITER_ID_BITS)) as usize
}

/// Payload byte `index` of message `seq` from writer `id` in the framed test.
fn payload_byte(id: usize, seq: u32, index: usize) -> u8 {
    let position = (id as u64) << 48 | (seq as u64) << 24 | index as u64;
    (position.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// A frame: writer id (1 byte), sequence number (4 bytes), payload length (4 bytes), payload.
const FRAME_HEADER_LEN: usize = 9;

fn frame(id: usize, seq: u32) -> Vec<u8> {
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + MESSAGE_LEN);
    frame.push(id as u8);
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.extend_from_slice(&(MESSAGE_LEN as u32).to_be_bytes());
    frame.extend((0..MESSAGE_LEN).map(|i| payload_byte(id, seq, i)));
    frame
}

// ---------------------------------------------------------------------------------------
// unsynchronised writers: nothing lost, each writer's bytes in order
// ---------------------------------------------------------------------------------------

#[test]
fn concurrent_unsynchronised_writers_lose_no_byte_and_each_writers_bytes_arrive_in_order() {
    let got = run_writers_against_one_reader(|id, mut socket| {
        let mut next = 0u64;
        for _ in 0..MESSAGES_PER_WRITER {
            let message: Vec<u8> = (next..next + MESSAGE_LEN as u64)
                .map(|index| tagged_byte(id, index))
                .collect();
            socket.write_all(&message)?;
            next += MESSAGE_LEN as u64;
        }
        Ok(())
    });

    assert_eq!(
        got.len(),
        WRITERS * MESSAGES_PER_WRITER as usize * MESSAGE_LEN
    );
    let mut next = [0u64; WRITERS];
    for (offset, &byte) in got.iter().enumerate() {
        let id = writer_of(byte);
        assert!(id < WRITERS, "byte {offset} names writer {id}");
        assert_eq!(
            byte,
            tagged_byte(id, next[id]),
            "byte {offset}: writer {id}'s byte {} is out of order",
            next[id]
        );
        next[id] += 1;
    }
    for (id, &count) in next.iter().enumerate() {
        assert_eq!(
            count,
            MESSAGES_PER_WRITER as u64 * MESSAGE_LEN as u64,
            "writer {id}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// writers serialised by a Mutex around whole messages: every message intact
// ---------------------------------------------------------------------------------------

#[test]
fn concurrent_writers_holding_a_mutex_around_whole_messages_deliver_every_message_intact() {
    let lock = Arc::new(Mutex::new(()));

    let got = run_writers_against_one_reader(move |id, mut socket| {
        for seq in 0..MESSAGES_PER_WRITER {
            let message = frame(id, seq);
            let _whole_message = lock.lock().unwrap();
            socket.write_all(&message)?;
        }
        Ok(())
    });

    let frame_len = FRAME_HEADER_LEN + MESSAGE_LEN;
    assert_eq!(
        got.len(),
        WRITERS * MESSAGES_PER_WRITER as usize * frame_len
    );
    let mut next_seq = [0u32; WRITERS];
    for (n, message) in got.chunks(frame_len).enumerate() {
        let id = message[0] as usize;
        assert!(id < WRITERS, "message {n} names writer {id}");
        let seq = u32::from_be_bytes(message[1..5].try_into().unwrap());
        let len = u32::from_be_bytes(message[5..9].try_into().unwrap()) as usize;
        assert_eq!(
            seq, next_seq[id],
            "message {n} from writer {id} out of order"
        );
        assert_eq!(len, MESSAGE_LEN, "message {n}");
        assert!(
            message[FRAME_HEADER_LEN..]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == payload_byte(id, seq, i)),
            "message {n} (writer {id}, seq {seq}) arrived mixed with other bytes"
        );
        next_seq[id] += 1;
    }
    assert_eq!(next_seq, [MESSAGES_PER_WRITER; WRITERS]);
}
