//! Several tokio tasks writing framed messages to one connection, per strategy: a
//! tokio::sync::Mutex around each whole message, a channel feeding one writer task, and
//! the read and write halves of a split stream used at the same time.
//!
//! What is asserted: with any of these strategies every message arrives whole and no byte
//! is lost. Every byte names its writer and its position in that writer's stream, so the
//! reader can check each message.
//!
//! Uses only tokio, socket2 and libc (not the tcplab library).

// errno values are Unix's (the shared helpers assume Unix).
#![cfg(unix)]

mod tokio_sockets;

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};

use tokio_sockets::{bounded, established_pair};

/// Writer tasks; each one's id fits in the top 4 bits of a byte.
const WRITERS: usize = 4;

/// Messages each writer sends.
const MESSAGES: usize = 16;

/// Bytes per message: larger than loopback's first send buffer, so one message needs
/// several sends and could be split if nothing kept it whole.
const MESSAGE_LEN: usize = 64 * 1024;

/// Byte `pos` of writer `w`'s stream: the writer in the top 4 bits, the position mod 16
/// in the bottom 4.
fn tag(w: usize, pos: usize) -> u8 {
    ((w as u8) << 4) | (pos as u8 & 0x0F)
}

/// Message `m` of writer `w`.
fn message(w: usize, m: usize) -> Vec<u8> {
    (0..MESSAGE_LEN)
        .map(|i| tag(w, m * MESSAGE_LEN + i))
        .collect()
}

/// Reads `server` to EOF and returns how many messages arrived whole, after checking
/// that every byte is where its writer put it.
async fn intact_messages(mut server: TcpStream) -> usize {
    let mut got = Vec::new();
    bounded("read_to_end", server.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got.len(), WRITERS * MESSAGES * MESSAGE_LEN, "bytes lost");
    let mut seen = [0usize; WRITERS];
    let mut intact = 0;
    for chunk in got.chunks(MESSAGE_LEN) {
        let w = usize::from(chunk[0] >> 4);
        assert!(w < WRITERS, "byte {:#x} names no writer", chunk[0]);
        let m = seen[w] / MESSAGE_LEN;
        if chunk == message(w, m).as_slice() {
            intact += 1;
        }
        seen[w] += MESSAGE_LEN;
    }
    intact
}

// ---------------------------------------------------------------------------------------
// one connection shared by several tasks
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_behind_a_tokio_mutex_deliver_every_message_whole() {
    let (client, server) = established_pair().await;
    let reader = tokio::spawn(intact_messages(server));
    let shared = Arc::new(Mutex::new(client));

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let shared = Arc::clone(&shared);
        writers.push(tokio::spawn(async move {
            for m in 0..MESSAGES {
                let msg = message(w, m);
                // Held across the whole write_all: no other task's bytes can get in.
                shared.lock().await.write_all(&msg).await.unwrap();
            }
        }));
    }
    for h in writers {
        bounded("writer", h).await.unwrap();
    }
    shared.lock().await.shutdown().await.unwrap();

    assert_eq!(bounded("reader", reader).await.unwrap(), WRITERS * MESSAGES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_feeding_one_writer_task_through_a_channel_deliver_every_message_whole() {
    let (mut client, server) = established_pair().await;
    let reader = tokio::spawn(intact_messages(server));
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITERS);
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            client.write_all(&msg).await.unwrap();
        }
        client.shutdown().await.unwrap();
    });

    let mut producers = Vec::new();
    for w in 0..WRITERS {
        let tx = tx.clone();
        producers.push(tokio::spawn(async move {
            for m in 0..MESSAGES {
                tx.send(message(w, m)).await.unwrap();
            }
        }));
    }
    drop(tx);
    for h in producers {
        bounded("producer", h).await.unwrap();
    }
    bounded("writer task", writer).await.unwrap();

    assert_eq!(bounded("reader", reader).await.unwrap(), WRITERS * MESSAGES);
}

// ---------------------------------------------------------------------------------------
// split halves: reading and writing one stream at the same time
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_halves_of_a_split_stream_read_and_write_at_the_same_time() {
    let (client, server) = established_pair().await;
    // The server echoes everything back.
    let echo = tokio::spawn(async move {
        let (mut r, mut w) = server.into_split();
        bounded("echo", tokio::io::copy(&mut r, &mut w))
            .await
            .unwrap()
    });
    let (mut r, mut w) = client.into_split();
    let sent: Vec<u8> = (0..MESSAGES * MESSAGE_LEN).map(|i| i as u8).collect();
    let to_send = sent.clone();

    // More than the buffers hold: without reading at the same time both sides would stall.
    let writing = tokio::spawn(async move {
        w.write_all(&to_send).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut got = Vec::new();
    bounded("read back", r.read_to_end(&mut got)).await.unwrap();
    bounded("writer", writing).await.unwrap();

    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "the echo differs from what was sent");
    assert_eq!(bounded("echo task", echo).await.unwrap(), sent.len() as u64);
}
