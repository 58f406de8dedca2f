//! The step operations the full catalogue added, on the tokio engine: each run on a
//! minimal scenario and checked against what the kernel does and what tokio shows of it,
//! in the same way as `tests/tcp_ops.rs` does for the std engine. Where tokio shows
//! something else (a connect that tokio finished, tokio's sockets being non-blocking),
//! the test says why.
//!
//! Every scenario here binds 127.0.0.1:0 and orders its actors with sync points.

mod op_pair;

use tcplab::engine::Engine;
use tcplab::record::Record;
use tcplab::verdict::Status;

use op_pair::{int, outcome, text};

/// Runs, on the tokio engine, a scenario made of a server that listens and accepts `c`, a
/// client that connects `s`, the given extra steps for each, and the given observations;
/// panics unless the run completed.
fn run_pair(server_steps: &str, client_steps: &str, observations: &str) -> Record {
    op_pair::completed(run_pair_any(server_steps, client_steps, observations))
}

/// As [`run_pair`], whether or not the run completed.
fn run_pair_any(server_steps: &str, client_steps: &str, observations: &str) -> Record {
    op_pair::run_pair_on(
        Engine::Tokio,
        "tests/tokio_ops.rs",
        server_steps,
        client_steps,
        observations,
    )
}

// ---- state ---------------------------------------------------------------------------

#[cfg(target_os = "linux")]
// TCP_INFO and /proc/thread-self/net/tcp are Linux's; elsewhere `state` is absent.
#[test]
fn state_reads_tokio_sockets_and_closed_ones_through_their_stored_addresses() {
    let r = run_pair(
        r#"  { op = "read", sock = "c", buf = 64 },
  { op = "state", id = "server_eof", sock = "c" },
  { op = "signal", sync = "server-read-eof" },
  { op = "wait", sync = "client-state" },
  { op = "close", sock = "c" },
  { op = "signal", sync = "server-closed" },"#,
        r#"  { op = "shutdown", sock = "s", how = "write" },
  { op = "wait", sync = "server-read-eof" },
  { op = "state", id = "client_fin", sock = "s" },
  { op = "signal", sync = "client-state" },
  { op = "wait", sync = "server-closed" },
  { op = "read", sock = "s", buf = 64 },
  { op = "close", sock = "s" },
  { op = "state", id = "client_closed", sock = "s" },"#,
        r#"server_eof = { step = "server_eof", take = "state", help = "h" }
client_fin = { step = "client_fin", take = "state", help = "h" }
client_closed = { step = "client_closed", take = "state", help = "h" }"#,
    );
    assert_eq!(text(&r, "server_eof"), "CLOSE-WAIT");
    // FIN-WAIT-1 until the server's ACK of the FIN has been processed.
    assert!(
        ["FIN-WAIT-1", "FIN-WAIT-2"].contains(&text(&r, "client_fin").as_str()),
        "{}",
        text(&r, "client_fin")
    );
    // The close stored the addresses of the tokio stream, so the kernel's table could be
    // searched for its connection after the descriptor was gone.
    assert_eq!(text(&r, "client_closed"), "TIME-WAIT");
}

// ---- connect_start, connect_again ------------------------------------------------------

#[test]
fn connect_start_shows_the_raw_call_and_tokio_takes_the_socket_afterwards() {
    let r = run_pair(
        r#"  { op = "bind", as = "p" },
  { op = "signal", sync = "bound" },
  { op = "wait", sync = "done" },"#,
        r#"  { op = "wait", sync = "bound" },
  { op = "connect_start", id = "ok_start", to = "l", as = "a" },
  { op = "poll", id = "ok_ready", sock = "a", for = "out", timeout_ms = 2000 },
  { op = "get", id = "ok_err", sock = "a", option = "SO_ERROR" },
  { op = "connect_start", id = "ref_start", to = "p", as = "b" },
  { op = "poll", sock = "b", for = "out", timeout_ms = 2000 },
  { op = "get", id = "ref_err", sock = "b", option = "SO_ERROR" },
  { op = "get", id = "nb", sock = "b", option = "O_NONBLOCK" },
  { op = "signal", sync = "done" },"#,
        r#"ok_start = { step = "ok_start", take = "outcome", help = "h" }
ok_ready = { step = "ok_ready", take = "revents", help = "h" }
ok_err = { step = "ok_err", take = "error", help = "h" }
ref_start = { step = "ref_start", take = "outcome", help = "h" }
ref_err = { step = "ref_err", take = "error", help = "h" }
nb = { step = "nb", take = "value", help = "h" }"#,
    );
    // The raw call's own answer: tokio's TcpSocket::connect would never show it.
    for name in ["ok_start", "ref_start"] {
        let o = outcome(&r, name);
        assert!(o.matches("EINPROGRESS") || o.is_ok(), "{name}: {o}");
    }
    // tokio's readiness names, not poll(2) bits.
    assert!(
        text(&r, "ok_ready").contains("WRITABLE"),
        "{}",
        text(&r, "ok_ready")
    );
    assert!(outcome(&r, "ok_err").is_ok());
    assert!(outcome(&r, "ref_err").matches("ECONNREFUSED"));
    assert_eq!(int(&r, "nb"), 1);
}

#[cfg(target_os = "linux")]
// The socket layer's "connecting" state left by a non-blocking connect is Linux's
// (__inet_stream_connect); other systems may answer EISCONN at once.
#[test]
fn connect_again_after_a_tokio_connect_completes_it_once_then_is_eisconn() {
    // tokio's connect is a non-blocking connect(2), a wait for writability and SO_ERROR:
    // it never calls connect(2) again, so Linux still has the socket marked as
    // connecting. The next connect(2) finds the handshake done and returns 0; only the
    // one after it says EISCONN.
    let r = run_pair(
        r#"  { op = "wait", sync = "done" },"#,
        r#"  { op = "connect_again", id = "again", sock = "s", to = "l" },
  { op = "connect_again", id = "third", sock = "s", to = "l" },
  { op = "signal", sync = "done" },"#,
        r#"again = { step = "again", take = "outcome", help = "h" }
third = { step = "third", take = "outcome", help = "h" }"#,
    );
    assert!(outcome(&r, "again").is_ok(), "{}", outcome(&r, "again"));
    assert!(
        outcome(&r, "third").matches("EISCONN"),
        "{}",
        outcome(&r, "third")
    );
}

// ---- options -------------------------------------------------------------------------

#[test]
fn keepalive_knobs_read_back_and_a_tokio_socket_is_already_non_blocking() {
    let r = run_pair(
        r#"  { op = "wait", sync = "done" },"#,
        r#"  { op = "set", sock = "s", option = "TCP_KEEPIDLE", value = 11 },
  { op = "set", sock = "s", option = "TCP_KEEPINTVL", value = 5 },
  { op = "set", sock = "s", option = "TCP_KEEPCNT", value = 3 },
  { op = "get", id = "idle", sock = "s", option = "TCP_KEEPIDLE" },
  { op = "get", id = "intvl", sock = "s", option = "TCP_KEEPINTVL" },
  { op = "get", id = "cnt", sock = "s", option = "TCP_KEEPCNT" },
  { op = "get", id = "nb0", sock = "s", option = "O_NONBLOCK" },
  { op = "set", id = "set_nb", sock = "s", option = "O_NONBLOCK", value = 1 },
  { op = "get", id = "nb1", sock = "s", option = "O_NONBLOCK" },
  { op = "signal", sync = "done" },"#,
        r#"idle = { step = "idle", take = "value", help = "h" }
intvl = { step = "intvl", take = "value", help = "h" }
cnt = { step = "cnt", take = "value", help = "h" }
nb0 = { step = "nb0", take = "value", help = "h" }
set_nb = { step = "set_nb", take = "outcome", help = "h" }
nb1 = { step = "nb1", take = "value", help = "h" }"#,
    );
    assert_eq!(
        (int(&r, "idle"), int(&r, "intvl"), int(&r, "cnt")),
        (11, 5, 3)
    );
    // What the kernel says of tokio's socket before and after: non-blocking both times.
    assert_eq!((int(&r, "nb0"), int(&r, "nb1")), (1, 1));
    assert!(outcome(&r, "set_nb").is_ok());
}

#[test]
fn clearing_o_nonblock_fails_its_step_on_tokio_and_names_the_reason() {
    let r = run_pair_any(
        r#"  { op = "wait", sync = "done" },"#,
        r#"  { op = "set", sock = "s", option = "O_NONBLOCK", value = 0 },
  { op = "signal", sync = "done" },"#,
        "",
    );
    assert_eq!(r.verdict.status, Status::Incomplete, "{:?}", r.verdict);
    let why = r.verdict.problems.join("\n");
    assert!(
        why.contains("O_NONBLOCK") && why.contains("tokio requires non-blocking sockets"),
        "{why}"
    );
}

// ---- bind / listen on the port of another socket -------------------------------------

#[test]
fn listen_with_port_of_takes_the_port_of_a_closed_tokio_listener() {
    let r = run_pair(
        r#"  { op = "listen", as = "m", backlog = 1 },
  { op = "close", sock = "m" },
  { op = "listen", id = "again", as = "m2", backlog = 1, port_of = "m" },
  { op = "listen", id = "busy", as = "m3", backlog = 1, port_of = "l" },"#,
        "",
        r#"again = { step = "again", take = "outcome", help = "h" }
busy = { step = "busy", take = "outcome", help = "h" }"#,
    );
    assert!(outcome(&r, "again").is_ok(), "{}", outcome(&r, "again"));
    assert!(outcome(&r, "busy").matches("EADDRINUSE"));
}

// ---- write_in_child ------------------------------------------------------------------

#[cfg(unix)]
// SIGPIPE and fork are Unix's; the op is not available elsewhere.
#[test]
fn write_in_child_from_the_runtime_reports_epipe_and_death_by_sigpipe() {
    let r = run_pair(
        r#"  { op = "close", sock = "c" },
  { op = "signal", sync = "closed" },"#,
        r#"  { op = "wait", sync = "closed" },
  { op = "write", sock = "s", bytes = 5 },
  { op = "poll", sock = "s", for = "err", timeout_ms = 2000 },
  { op = "write_in_child", id = "ign", sock = "s", bytes = 5, sigpipe = "ignore" },
  { op = "write_in_child", id = "dfl", sock = "s", bytes = 5, sigpipe = "default" },"#,
        r#"ign_status = { step = "ign", take = "status", help = "h" }
ign_write = { step = "ign", take = "calls", help = "h" }
dfl_status = { step = "dfl", take = "status", help = "h" }
dfl_write = { step = "dfl", take = "calls", help = "h" }"#,
    );
    assert_eq!(text(&r, "ign_status"), "exited 0");
    assert_eq!(text(&r, "ign_write"), "EPIPE");
    assert_eq!(text(&r, "dfl_status"), "killed by SIGPIPE");
    assert_eq!(text(&r, "dfl_write"), "");
}

#[cfg(unix)]
// fork is Unix's.
#[test]
fn write_in_child_from_the_runtime_writes_on_a_healthy_connection_and_exits_0() {
    let r = run_pair(
        r#"  { op = "wait_bytes", id = "got", sock = "c", bytes = 7, timeout_ms = 5000 },"#,
        r#"  { op = "write_in_child", id = "w", sock = "s", bytes = 7, sigpipe = "default" },"#,
        r#"status = { step = "w", take = "status", help = "h" }
written = { step = "w", take = "bytes", help = "h" }
got = { step = "got", take = "value", help = "h" }"#,
    );
    assert_eq!(text(&r, "status"), "exited 0");
    assert_eq!(int(&r, "written"), 7);
    assert_eq!(int(&r, "got"), 7);
}

// ---- request / respond ---------------------------------------------------------------

#[test]
fn request_and_respond_complete_every_exchange_with_exact_byte_counts() {
    let r = run_pair(
        r#"  { op = "respond", id = "resp", sock = "c", count = 4, request_bytes = 30, reply_bytes = 7 },"#,
        r#"  { op = "set", sock = "s", option = "TCP_NODELAY", value = 1 },
  { op = "request", id = "req", sock = "s", count = 4, parts = 3, part_bytes = 10, reply_bytes = 7 },"#,
        r#"req_count = { step = "req", take = "count", help = "h" }
req_bytes = { step = "req", take = "bytes", help = "h" }
resp_count = { step = "resp", take = "count", help = "h" }
resp_bytes = { step = "resp", take = "bytes", help = "h" }"#,
    );
    assert_eq!((int(&r, "req_count"), int(&r, "req_bytes")), (4, 28));
    assert_eq!((int(&r, "resp_count"), int(&r, "resp_bytes")), (4, 120));
}

#[test]
fn a_reply_cut_short_by_eof_is_unexpected_eof_as_read_exact_says() {
    let r = run_pair(
        r#"  { op = "read", sock = "c", buf = 64 },
  { op = "write", sock = "c", bytes = 3 },
  { op = "close", sock = "c" },"#,
        r#"  { op = "request", id = "req", sock = "s", count = 1, parts = 1, part_bytes = 10, reply_bytes = 7 },"#,
        r#"req = { step = "req", take = "outcome", help = "h" }
req_count = { step = "req", take = "count", help = "h" }"#,
    );
    assert!(
        outcome(&r, "req").matches("UnexpectedEof"),
        "{}",
        outcome(&r, "req")
    );
    assert_eq!(int(&r, "req_count"), 0);
}
