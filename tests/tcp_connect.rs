//! connect(2) semantics on real loopback sockets: refused dials, a full accept queue as a
//! dial black hole, and connecting a socket that is already connected.
//!
//! Uses only std::net, socket2 and libc (not the tcplab library), so these tests state what
//! the kernel does, independent of the lab's engine. See tcp(7), listen(2), connect(2).

// Raw descriptors, poll(2) and errno values are Unix concepts.
#![cfg(unix)]

mod sockets;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
#[cfg(target_os = "linux")] // only the Linux-only full-queue group uses durations.
use std::time::Duration;

use socket2::Socket;

use sockets::{
    established_pair_without_timeouts, loopback_any_port, poll_once, tcp_socket, WAIT_BOUND,
};
#[cfg(target_os = "linux")] // TCP_INFO's listener fields are Linux-specific.
use sockets::{tcp_info, wait_until_equal};

/// Deadline for a dial that is expected to time out: well below the first SYN
/// retransmission (1 s on Linux), so the dropped SYN is never retried inside it.
#[cfg(target_os = "linux")] // used by the Linux-only full-queue group.
const BLACK_HOLE_DIAL_DEADLINE: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------------
// helpers: the states the tests start from
// ---------------------------------------------------------------------------------------

/// A socket bound to a loopback port that is not listening: held open for the whole test,
/// so no other test can take the port, and a SYN to it is answered with RST.
fn bound_but_not_listening() -> (Socket, SocketAddr) {
    let socket = tcp_socket();
    socket.bind(&loopback_any_port().into()).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, addr)
}

/// A listener (LISTEN state) on loopback with the given backlog that never accepts.
fn listener_that_never_accepts(backlog: i32) -> (Socket, SocketAddr) {
    let listener = tcp_socket();
    listener.bind(&loopback_any_port().into()).unwrap();
    listener.listen(backlog).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    (listener, addr)
}

/// Dials `addr` with a deadline; the result says whether the handshake finished in time.
#[cfg(target_os = "linux")] // used by the Linux-only full-queue group.
fn dial_with_deadline(addr: SocketAddr, deadline: Duration) -> io::Result<Socket> {
    let client = tcp_socket();
    client.connect_timeout(&addr.into(), deadline)?;
    Ok(client)
}

/// Number of completed connections waiting in a listener's accept queue.
///
/// On Linux, TCP_INFO on a LISTEN socket reports the accept queue length in
/// `tcpi_unacked` and the effective backlog in `tcpi_sacked` (tcp_get_info()).
#[cfg(target_os = "linux")] // TCP_INFO's listener fields are Linux-specific.
fn accept_queue(listener: &Socket) -> (u32, u32) {
    let info = tcp_info(listener);
    (info.tcpi_unacked, info.tcpi_sacked)
}

/// Waits (bounded) until the listener's accept queue holds `expected` connections.
///
/// A client's connect() returns when its SYN-ACK arrives; the server queues the child only
/// when the final ACK is processed, which can lag on a loaded machine. Waiting here keeps
/// the next SYN from racing that ACK.
#[cfg(target_os = "linux")] // uses accept_queue(), see there.
fn wait_for_accept_queue(listener: &Socket, expected: u32) {
    wait_until_equal("accept queue", expected, || accept_queue(listener).0);
}

/// A listener that never accepts, with its accept queue filled: returns the listener,
/// its address and the clients whose dials completed (they must stay open).
#[cfg(target_os = "linux")] // The backlog+1 rule is Linux's, see the test group below.
fn listener_with_full_queue(backlog: i32) -> (Socket, SocketAddr, Vec<Socket>) {
    let (listener, addr) = listener_that_never_accepts(backlog);
    let mut admitted = Vec::new();
    for queued in 1..=LINUX_ACCEPT_QUEUE_EXTRA + backlog as u32 {
        let client = dial_with_deadline(addr, WAIT_BOUND)
            .unwrap_or_else(|e| panic!("dial {queued} of backlog {backlog} failed: {e:?}"));
        wait_for_accept_queue(&listener, queued);
        admitted.push(client);
    }
    (listener, addr, admitted)
}

/// Asserts that a dial with a short deadline neither completes nor is refused.
#[cfg(target_os = "linux")] // used by the Linux-only full-queue group.
fn assert_dial_times_out(addr: SocketAddr) {
    match dial_with_deadline(addr, BLACK_HOLE_DIAL_DEADLINE) {
        Ok(_) => panic!("dial to a full accept queue completed"),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

// Linux admits one connection more than the backlog: the queue counts as full only when
// its length is *greater* than the backlog (sk_acceptq_is_full()).
#[cfg(target_os = "linux")] // the rule itself is Linux's.
const LINUX_ACCEPT_QUEUE_EXTRA: u32 = 1;

// ---------------------------------------------------------------------------------------
// nothing listening
// ---------------------------------------------------------------------------------------

#[test]
fn connect_to_a_port_nobody_listens_on_is_refused_with_econnrefused() {
    let (_holder, addr) = bound_but_not_listening();

    let e = TcpStream::connect(addr).expect_err("connect to a closed port succeeded");

    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e:?}");
}

#[test]
fn nonblocking_connect_to_a_closed_port_reports_the_refusal_through_poll_and_so_error() {
    let (_holder, addr) = bound_but_not_listening();
    let client = tcp_socket();
    client.set_nonblocking(true).unwrap();

    // Linux, macOS and the BSDs all start the handshake in the background, even on
    // loopback: the RST is processed after connect() returns.
    match client.connect(&addr.into()) {
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        other => panic!("unexpected connect result {other:?}"),
    }
    let revents = poll_once(client.as_raw_fd(), libc::POLLOUT, WAIT_BOUND);

    assert_ne!(revents & libc::POLLOUT, 0, "revents {revents:#x}");
    assert_ne!(revents & libc::POLLERR, 0, "revents {revents:#x}");
    let so_error = client.take_error().unwrap().expect("SO_ERROR is empty");
    assert_eq!(
        so_error.raw_os_error(),
        Some(libc::ECONNREFUSED),
        "{so_error:?}"
    );
    // SO_ERROR is cleared by reading it.
    assert!(client.take_error().unwrap().is_none());
}

// ---------------------------------------------------------------------------------------
// full accept queue: a listener that never accepts
//
// Linux only: the queue admits backlog+1 connections and then drops SYNs silently
// (net.ipv4.tcp_abort_on_overflow=0, the default). BSDs and macOS scale the backlog
// (roughly 3/2 of it) and Windows answers with RST, so their counts differ.
// ---------------------------------------------------------------------------------------

#[cfg(target_os = "linux")] // backlog+1 is Linux's rule, see the banner above.
fn assert_full_queue_admits_backlog_plus_one(backlog: i32, admitted_expected: usize) {
    let (listener, addr, admitted) = listener_with_full_queue(backlog);

    assert_eq!(admitted.len(), admitted_expected);
    assert_eq!(
        accept_queue(&listener),
        (admitted_expected as u32, backlog as u32)
    );
    assert_dial_times_out(addr);
    // The dropped SYN left nothing behind in the queue.
    assert_eq!(accept_queue(&listener).0, admitted_expected as u32);
}

#[cfg(target_os = "linux")] // backlog+1 is Linux's rule, see the banner above.
#[test]
fn full_accept_queue_with_backlog_0_admits_1_connection_then_a_dial_times_out() {
    assert_full_queue_admits_backlog_plus_one(0, 1);
}

#[cfg(target_os = "linux")] // backlog+1 is Linux's rule, see the banner above.
#[test]
fn full_accept_queue_with_backlog_1_admits_2_connections_then_a_dial_times_out() {
    assert_full_queue_admits_backlog_plus_one(1, 2);
}

#[cfg(target_os = "linux")] // backlog+1 is Linux's rule, see the banner above.
#[test]
fn full_accept_queue_with_backlog_4_admits_5_connections_then_a_dial_times_out() {
    assert_full_queue_admits_backlog_plus_one(4, 5);
}

#[cfg(target_os = "linux")] // backlog+1 is Linux's rule, see the banner above.
#[test]
fn after_one_accept_on_a_full_queue_exactly_one_more_dial_succeeds() {
    let backlog = 1;
    let (listener, addr, _admitted) = listener_with_full_queue(backlog);
    assert_dial_times_out(addr);

    let (_accepted, _) = listener.accept().unwrap(); // the queue is full: returns at once
    let late = dial_with_deadline(addr, WAIT_BOUND);
    assert!(late.is_ok(), "dial after an accept failed: {late:?}");
    wait_for_accept_queue(&listener, 2);

    assert_dial_times_out(addr);
}

#[test]
fn data_sent_by_a_client_still_in_the_accept_queue_is_delivered_after_the_accept() {
    let (listener, addr) = listener_that_never_accepts(4);
    let mut client = TcpStream::connect(addr).unwrap();

    client.write_all(b"early").unwrap();
    let revents = poll_once(listener.as_raw_fd(), libc::POLLIN, WAIT_BOUND);
    assert_ne!(revents & libc::POLLIN, 0, "nothing to accept");
    let (server, _) = listener.accept().unwrap();
    let mut server: TcpStream = server.into();
    server.set_read_timeout(Some(WAIT_BOUND)).unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"early");
}

#[test]
fn closing_a_listener_resets_the_connections_still_in_its_queue() {
    let (listener, addr) = listener_that_never_accepts(4);
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(WAIT_BOUND)).unwrap();
    #[cfg(target_os = "linux")] // see wait_for_accept_queue()
    wait_for_accept_queue(&listener, 1);

    drop(listener);

    let mut buf = [0u8; 16];
    let e = client
        .read(&mut buf)
        .expect_err("read after the listener closed succeeded");
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "{e:?}");
}

// ---------------------------------------------------------------------------------------
// connect on a connected socket
// ---------------------------------------------------------------------------------------

#[test]
fn connect_on_an_established_socket_fails_with_eisconn() {
    let listener = tcp_socket();
    listener.bind(&loopback_any_port().into()).unwrap();
    listener.listen(4).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tcp_socket();
    client.connect(&addr).unwrap();

    let again = client.connect(&addr).expect_err("second connect succeeded");
    assert_eq!(again.raw_os_error(), Some(libc::EISCONN), "{again:?}");

    let (_other_holder, other_addr) = bound_but_not_listening();
    let elsewhere = client
        .connect(&other_addr.into())
        .expect_err("connect to another address succeeded");
    assert_eq!(
        elsewhere.raw_os_error(),
        Some(libc::EISCONN),
        "{elsewhere:?}"
    );
}

#[test]
fn an_established_pair_reports_each_others_addresses() {
    let (client, server) = established_pair_without_timeouts();

    assert_eq!(client.local_addr().unwrap(), server.peer_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
}
