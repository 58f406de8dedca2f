//! Helpers shared by the tokio behaviour tests (`tokio_connect`, `tokio_read`,
//! `tokio_write`, `tokio_close`, `tokio_concurrency`): the states the tests start from and
//! bounded waits.
//!
//! Uses only tokio, socket2 and libc (not the tcplab library), so the tests state what
//! tokio shows of the kernel, independent of the lab's engine. Only `#![cfg(unix)]` test
//! files include it (errno values are Unix's).

// Every test binary compiles its own copy and uses a different subset.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};

/// Upper bound for every wait that is expected to finish at once; only a bug reaches it.
pub const WAIT_BOUND: Duration = Duration::from_secs(10);

/// A deadline that is *meant* to expire: short, since the tests check the outcome, never
/// the elapsed time.
pub const SHORT_DEADLINE: Duration = Duration::from_millis(100);

/// `127.0.0.1:0`: loopback, with a port the kernel picks.
pub fn loopback_any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A fresh IPv4 TCP socket (socket2), for options set before bind, listen or connect.
pub fn tcp_socket() -> Socket {
    Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap()
}

/// Awaits `fut`, failing the test instead of hanging if it takes longer than WAIT_BOUND.
pub async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT_BOUND, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {WAIT_BOUND:?}"),
    }
}

/// A listener built with socket2 (backlog under the test's control), handed to tokio.
pub fn listener_with_backlog(backlog: i32) -> TcpListener {
    let s = tcp_socket();
    s.bind(&loopback_any_port().into()).unwrap();
    s.listen(backlog).unwrap();
    s.set_nonblocking(true).unwrap();
    TcpListener::from_std(s.into()).unwrap()
}

/// A connected client and the server side accepted from a fresh listener (ESTABLISHED
/// on both sides), as tokio streams.
pub async fn established_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(loopback_any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = bounded("connect and accept", async {
        tokio::join!(TcpStream::connect(addr), listener.accept())
    })
    .await;
    (client.unwrap(), accepted.unwrap().0)
}

/// Like established_pair(), but the client's send buffer and the server's receive buffer
/// are fixed at `size` (set before the handshake), so a non-reading server stops the
/// client after a predictable amount of data.
pub async fn established_pair_with_buffers(size: usize) -> (TcpStream, TcpStream) {
    let l = tcp_socket();
    l.set_recv_buffer_size(size).unwrap();
    l.bind(&loopback_any_port().into()).unwrap();
    l.listen(4).unwrap();
    l.set_nonblocking(true).unwrap();
    let listener = TcpListener::from_std(l.into()).unwrap();
    let addr = listener.local_addr().unwrap();
    let c = tokio::net::TcpSocket::new_v4().unwrap();
    c.set_send_buffer_size(size as u32).unwrap();
    let (client, accepted) = bounded("connect and accept", async {
        tokio::join!(c.connect(addr), listener.accept())
    })
    .await;
    (client.unwrap(), accepted.unwrap().0)
}

/// Writes with try_write until tokio answers WouldBlock; returns the bytes that went in
/// and the WouldBlock error.
pub async fn fill_until_would_block(stream: &TcpStream) -> (usize, std::io::Error) {
    bounded("writable", stream.writable()).await.unwrap();
    let chunk = vec![0x5Au8; 64 * 1024];
    let mut total = 0;
    loop {
        match stream.try_write(&chunk) {
            Ok(n) => total += n,
            Err(e) => return (total, e),
        }
        assert!(total < 1 << 30, "1 GiB went into a peer that never reads");
    }
}
