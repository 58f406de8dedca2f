//! Connecting with tokio: refusal, a deadline of tokio's own against a full accept queue,
//! and the accept queue of a listener built with socket2.
//!
//! Uses only tokio, socket2 and libc (not the tcplab library). See connect(2), listen(2).

// errno values are Unix's.
#![cfg(unix)]

mod tokio_sockets;

use std::io;

use tokio::net::TcpStream;

#[cfg(target_os = "linux")] // only the Linux-only accept-queue group uses durations.
use std::time::Duration;

use tokio_sockets::{bounded, loopback_any_port, tcp_socket};
#[cfg(target_os = "linux")] // used by the Linux-only accept-queue group.
use tokio_sockets::{listener_with_backlog, SHORT_DEADLINE};

/// Deadline of the dials that count the accept queue: a dial into a queue with room
/// completes within microseconds on loopback, but a loaded machine may take a while to
/// run the task; long enough that only a dropped SYN reaches it.
#[cfg(target_os = "linux")] // used by the Linux-only accept-queue group.
const QUEUE_DIAL_DEADLINE: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------------------------------
// nobody listening
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn connect_to_a_port_without_a_listener_is_refused_at_once() {
    // Bound but not listening: the port stays reserved and refuses SYNs.
    let port = tcp_socket();
    port.bind(&loopback_any_port().into()).unwrap();
    let addr = port.local_addr().unwrap().as_socket().unwrap();

    let r = bounded("connect", TcpStream::connect(addr)).await;

    match r {
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused)
        }
        Ok(_) => panic!("connected to a port nobody listens on"),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// a full accept queue: SYNs are dropped, only a deadline ends the dial
// ---------------------------------------------------------------------------------------

#[cfg(target_os = "linux")] // backlog+1 and the silent SYN drop are Linux's.
#[tokio::test]
async fn connect_into_a_full_accept_queue_ends_only_at_the_tokio_deadline() {
    // Backlog 0 admits one connection, which the first dial takes.
    let listener = listener_with_backlog(0);
    let addr = listener.local_addr().unwrap();
    let _first = bounded("first connect", TcpStream::connect(addr))
        .await
        .unwrap();

    let second = tokio::time::timeout(SHORT_DEADLINE, TcpStream::connect(addr)).await;

    // tokio's timer expired: an Elapsed, no io::Error and no errno at all.
    assert!(second.is_err(), "the second dial completed: {second:?}");
}

#[cfg(target_os = "linux")] // backlog+1 is Linux's accept-queue rule.
#[tokio::test]
async fn a_socket2_listener_with_backlog_2_completes_3_dials_without_accepting() {
    let listener = listener_with_backlog(2);
    let addr = listener.local_addr().unwrap();
    let mut kept = Vec::new();
    loop {
        match tokio::time::timeout(QUEUE_DIAL_DEADLINE, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => kept.push(s),
            Ok(Err(e)) => panic!("unexpected error {e:?}"),
            Err(_) => break,
        }
        assert!(kept.len() <= 16, "the queue never filled");
    }

    assert_eq!(kept.len(), 3);
}

#[cfg(target_os = "linux")] // the queue rule above.
#[tokio::test]
async fn one_accept_on_a_full_queue_lets_exactly_one_more_dial_complete() {
    let listener = listener_with_backlog(0);
    let addr = listener.local_addr().unwrap();
    let _first = bounded("first connect", TcpStream::connect(addr))
        .await
        .unwrap();
    let _taken = bounded("accept", listener.accept()).await.unwrap();

    // The accept freed the one place in the queue.
    let second = bounded("second connect", TcpStream::connect(addr)).await;
    let third = tokio::time::timeout(QUEUE_DIAL_DEADLINE, TcpStream::connect(addr)).await;

    assert!(second.is_ok(), "{second:?}");
    assert!(third.is_err(), "a third dial completed: {third:?}");
}
