//! Writing with tokio: a peer that never reads, tokio's own WouldBlock, a write_all
//! that times out without telling how much left, writes to a closed peer.
//!
//! Uses only tokio, socket2 and libc (not the tcplab library). See write(2), tcp(7).

// errno values are Unix's.
#![cfg(unix)]

mod tokio_sockets;

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use tokio_sockets::{
    bounded, established_pair, established_pair_with_buffers, fill_until_would_block,
    SHORT_DEADLINE,
};

/// Buffer size requested on both sides where the tests want small buffers.
const SMALL_BUFFER: usize = 32 * 1024;

/// A write far larger than the small buffers together.
const OVERSIZED_WRITE: usize = 8 * 1024 * 1024;

/// A pair whose server side closed cleanly and whose client has seen the EOF: the client
/// is in CLOSE-WAIT, the server's socket is gone.
async fn pair_with_peer_closed() -> TcpStream {
    let (mut client, server) = established_pair().await;
    drop(server);
    let mut buf = [0u8; 16];
    let n = bounded("read the FIN", client.read(&mut buf))
        .await
        .unwrap();
    assert_eq!(n, 0, "expected the peer's FIN");
    client
}

// ---------------------------------------------------------------------------------------
// a peer that does not read
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn try_write_into_full_buffers_answers_would_block_without_the_kernels_errno() {
    let (client, _server) = established_pair().await;

    let (total, e) = fill_until_would_block(&client).await;

    assert!(total > 0);
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    // tokio replaces the kernel's EAGAIN with an error of its own.
    assert_eq!(e.raw_os_error(), None, "{e:?}");
}

#[tokio::test]
async fn one_write_larger_than_the_buffers_returns_at_once_with_a_partial_count() {
    let (mut client, _server) = established_pair_with_buffers(SMALL_BUFFER).await;
    let big = vec![1u8; OVERSIZED_WRITE];

    // No timer: a non-blocking send takes what fits and returns.
    let n = bounded("write", client.write(&big)).await.unwrap();

    assert!(n > 0 && n < OVERSIZED_WRITE, "wrote {n}");
}

#[tokio::test]
async fn a_timed_out_write_all_does_not_tell_how_many_bytes_already_left() {
    let (mut client, mut server) = established_pair_with_buffers(SMALL_BUFFER).await;
    let big = vec![2u8; OVERSIZED_WRITE];

    let r = tokio::time::timeout(SHORT_DEADLINE, client.write_all(&big)).await;
    // All the caller learns: Elapsed.
    assert!(r.is_err(), "write_all finished: {r:?}");

    // Yet bytes did leave: the peer reads them.
    drop(client);
    let mut got = Vec::new();
    bounded("read_to_end", server.read_to_end(&mut got))
        .await
        .unwrap();
    assert!(
        !got.is_empty() && got.len() < OVERSIZED_WRITE,
        "{}",
        got.len()
    );
    assert!(got.iter().all(|&b| b == 2));
}

// ---------------------------------------------------------------------------------------
// a peer that has closed
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn after_the_peer_closed_the_first_write_succeeds_and_one_after_the_rst_fails_with_epipe() {
    let mut client = pair_with_peer_closed().await;

    let first = bounded("first write", client.write(b"hello"))
        .await
        .unwrap();
    assert_eq!(first, 5);
    // The closed peer answers those bytes with a RST; tokio shows it as ERROR readiness.
    let ready = bounded("the RST", client.ready(tokio::io::Interest::ERROR))
        .await
        .unwrap();
    assert!(ready.is_error(), "{ready:?}");

    match bounded("second write", client.write(b"hello")).await {
        // Linux: the RST arrived in CLOSE-WAIT, the socket is closed: EPIPE.
        Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe)
        }
        // macOS and the BSDs may report the reset itself first.
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {}
        Ok(n) => panic!("the second write returned {n}"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}
