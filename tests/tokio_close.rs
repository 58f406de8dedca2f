//! Closing with tokio: shutdown of this side's writing half, dropping a stream with data
//! unread (a RST for the peer) and without (a FIN).
//!
//! Uses only tokio, socket2 and libc (not the tcplab library). See shutdown(2), tcp(7).

// errno values are Unix's.
#![cfg(unix)]

mod tokio_sockets;

use std::io;
use std::net::Shutdown;

use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tokio_sockets::{bounded, established_pair};

// ---------------------------------------------------------------------------------------
// this side's own halves
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn after_async_shutdown_a_write_fails_with_epipe_and_the_peer_reads_eof() {
    let (mut client, mut server) = established_pair().await;

    // AsyncWriteExt::shutdown is shutdown(SHUT_WR) on a TcpStream.
    bounded("shutdown", client.shutdown()).await.unwrap();
    let r = bounded("write", client.write(b"late")).await;

    match r {
        Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe)
        }
        Ok(n) => panic!("write after shutdown returned {n}"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
    let mut buf = [0u8; 8];
    assert_eq!(bounded("read", server.read(&mut buf)).await.unwrap(), 0);
}

#[tokio::test]
async fn after_shutdown_of_the_reading_half_a_read_returns_0_at_once() {
    let (client, _server) = established_pair().await;
    let mut client = client;
    // tokio has no call for SHUT_RD; socket2 reaches the same socket.
    SockRef::from(&client).shutdown(Shutdown::Read).unwrap();

    let mut buf = [0u8; 8];
    let n = bounded("read", client.read(&mut buf)).await.unwrap();

    assert_eq!(n, 0);
}

// ---------------------------------------------------------------------------------------
// dropping a stream
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn dropping_a_stream_with_nothing_unread_gives_the_peer_eof() {
    let (client, mut server) = established_pair().await;

    drop(client);

    let mut buf = [0u8; 8];
    assert_eq!(bounded("read", server.read(&mut buf)).await.unwrap(), 0);
}

#[tokio::test]
async fn dropping_a_stream_with_unread_data_resets_the_peer() {
    let (mut client, server) = established_pair().await;
    client.write_all(b"never read").await.unwrap();
    // Wait until the bytes sit in the server's receive queue, then drop it unread.
    bounded("readable", server.readable()).await.unwrap();

    drop(server);

    let mut buf = [0u8; 8];
    match bounded("read", client.read(&mut buf)).await {
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset)
        }
        Ok(n) => panic!("expected ECONNRESET, read returned {n}"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}
