//! Reading with tokio: reads return what is queued, EOF is 0 for ever, a read's deadline
//! is a tokio timer (SO_RCVTIMEO does nothing on tokio's non-blocking socket), and
//! dropping a read future at its deadline loses no data.
//!
//! Uses only tokio, socket2 and libc (not the tcplab library). See read(2), socket(7).

// errno values are Unix's.
#![cfg(unix)]

mod tokio_sockets;

use std::time::Duration;

use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tokio_sockets::{bounded, established_pair, SHORT_DEADLINE};

/// Bytes sent after a read timed out.
const PAYLOAD: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------
// what a read returns
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_read_returns_what_is_queued_not_what_the_buffer_holds() {
    let (mut client, mut server) = established_pair().await;
    client.write_all(b"hi").await.unwrap();

    let mut buf = [0u8; 10];
    let n = bounded("read", server.read(&mut buf)).await.unwrap();

    assert_eq!(n, 2);
    assert_eq!(&buf[..n], b"hi");
}

#[tokio::test]
async fn after_the_peer_sent_data_and_closed_reads_return_the_data_then_0_for_ever() {
    let (mut client, mut server) = established_pair().await;
    client.write_all(b"hello").await.unwrap();
    drop(client);

    let mut buf = [0u8; 10];
    let mut sizes = Vec::new();
    for _ in 0..3 {
        sizes.push(bounded("read", server.read(&mut buf)).await.unwrap());
    }

    assert_eq!(sizes, [5, 0, 0]);
}

// ---------------------------------------------------------------------------------------
// deadlines
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_read_with_a_timer_on_a_silent_socket_elapses_and_loses_no_data() {
    let (mut client, mut server) = established_pair().await;
    let mut buf = vec![0u8; PAYLOAD];

    let timed = tokio::time::timeout(SHORT_DEADLINE, server.read(&mut buf)).await;
    assert!(timed.is_err(), "the read returned {timed:?}");

    // The dropped read future took nothing: every byte sent afterwards arrives.
    let sent = vec![7u8; PAYLOAD];
    client.write_all(&sent).await.unwrap();
    let mut got = vec![0u8; PAYLOAD];
    bounded("read_exact", server.read_exact(&mut got))
        .await
        .unwrap();
    assert_eq!(got, sent);
}

#[tokio::test]
async fn so_rcvtimeo_is_stored_but_does_not_end_a_tokio_read() {
    let (_client, mut server) = established_pair().await;
    let rcvtimeo = Duration::from_millis(20);
    SockRef::from(&server)
        .set_read_timeout(Some(rcvtimeo))
        .unwrap();

    // The kernel keeps the value...
    let stored = SockRef::from(&server).read_timeout().unwrap();
    assert!(stored.is_some_and(|d| d >= rcvtimeo), "{stored:?}");
    // ...but the socket is non-blocking, so no read waits in the kernel for it to apply:
    // the read is still pending when a much later tokio timer fires.
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(10 * rcvtimeo, server.read(&mut buf)).await;
    assert!(r.is_err(), "the read ended on its own: {r:?}");
}
