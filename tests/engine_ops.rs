//! The step operations the full catalogue added (`state`, `connect_start`,
//! `connect_again`, `write_in_child`, `request`/`respond`, the keepalive and O_NONBLOCK
//! options, `bind`/`listen` with `port_of`, `get SO_ERROR` as an outcome, and counter
//! observations), each run through the library's engines on a minimal scenario and checked
//! against what the kernel is known to do.
//!
//! Every test runs on every engine (`name::std`, `name::tokio`, so that a failure names
//! the engine), because the kernel's rule is the same whichever engine makes the call.
//! Where an engine legitimately shows something else (a connect that tokio finished,
//! tokio's sockets being non-blocking, tokio's readiness names instead of poll(2) bits),
//! the test matches on the engine and says why.
//!
//! Every scenario here binds 127.0.0.1:0 and orders its actors with sync points.

mod op_pair;

use tcplab::engine::Engine;
use tcplab::record::Record;
use tcplab::verdict::Status;

use op_pair::{int, outcome, text};

/// Runs, on `engine`, a scenario made of a server that listens and accepts `c`, a client
/// that connects `s`, the given extra steps for each, and the given observations; panics
/// unless the run completed.
fn run_pair(engine: Engine, server_steps: &str, client_steps: &str, observations: &str) -> Record {
    op_pair::completed(run_pair_any(
        engine,
        server_steps,
        client_steps,
        observations,
    ))
}

/// As [`run_pair`], whether or not the run completed.
fn run_pair_any(
    engine: Engine,
    server_steps: &str,
    client_steps: &str,
    observations: &str,
) -> Record {
    op_pair::run_pair_on(
        engine,
        "tests/engine_ops.rs",
        server_steps,
        client_steps,
        observations,
    )
}

/// Makes a module `name` holding one `#[test]` per engine (`name::std`, `name::tokio`),
/// each running the body with `engine` set to that engine. Attributes (`cfg` with its
/// reason) apply to the whole module.
macro_rules! on_every_engine {
    ($(#[$attr:meta])* fn $name:ident($engine:ident: Engine) $body:block) => {
        $(#[$attr])*
        mod $name {
            use super::*;

            fn run($engine: Engine) $body

            #[test]
            fn std() {
                run(Engine::Std)
            }

            #[test]
            fn tokio() {
                run(Engine::Tokio)
            }
        }
    };
}

// The macro lists the engines by hand: this stops the build when Engine::ALL grows, so
// that a new engine cannot go untested here.
const _: [Engine; 2] = Engine::ALL;

// ---- state ---------------------------------------------------------------------------

on_every_engine! {
    #[cfg(target_os = "linux")]
    // TCP_INFO and /proc/thread-self/net/tcp are Linux's; elsewhere `state` is absent.
    fn state_names_the_rfc_states_of_a_half_close_and_time_wait_after_close(engine: Engine) {
        let r = run_pair(
            engine,
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
        // The client sent the first FIN; the server's FIN found it in FIN-WAIT-2, so its
        // side of the connection holds TIME-WAIT after its close. On tokio the close
        // stored the addresses of the stream, so the kernel's table could be searched for
        // its connection after the descriptor was gone.
        assert_eq!(text(&r, "client_closed"), "TIME-WAIT");
    }
}

on_every_engine! {
    #[cfg(target_os = "linux")]
    // /proc/thread-self/net/tcp is Linux's.
    fn state_of_a_connection_reset_on_close_is_absent(engine: Engine) {
        let r = run_pair(
            engine,
            r#"  { op = "set", sock = "c", option = "SO_LINGER", value = 0 },
  { op = "close", sock = "c" },
  { op = "state", id = "gone", sock = "c" },
  { op = "signal", sync = "closed" },"#,
            r#"  { op = "wait", sync = "closed" },"#,
            r#"gone = { step = "gone", take = "state", help = "h" }"#,
        );
        assert_eq!(text(&r, "gone"), "absent");
    }
}

// ---- connect_start, connect_again, SO_ERROR as an outcome ---------------------------

on_every_engine! {
    fn connect_start_returns_einprogress_and_so_error_names_the_result(engine: Engine) {
        let r = run_pair(
            engine,
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
        // The raw call's own answer, on both engines (tokio's TcpSocket::connect would
        // never show it). On loopback the answer comes back within the call on some
        // systems; EINPROGRESS is what Linux, macOS and FreeBSD document for a handshake
        // still running.
        for name in ["ok_start", "ref_start"] {
            let o = outcome(&r, name);
            assert!(o.matches("EINPROGRESS") || o.is_ok(), "{name}: {o}");
        }
        // The std engine polls with poll(2) and names its bits; tokio takes the socket
        // into the runtime and names its readiness.
        let ready = match engine {
            Engine::Std => "POLLOUT",
            Engine::Tokio => "WRITABLE",
        };
        assert!(
            text(&r, "ok_ready").contains(ready),
            "{}",
            text(&r, "ok_ready")
        );
        assert!(outcome(&r, "ok_err").is_ok());
        assert!(outcome(&r, "ref_err").matches("ECONNREFUSED"));
        assert_eq!(
            int(&r, "nb"),
            1,
            "connect_start leaves the socket non-blocking"
        );
    }
}

/// `connect_again` after the pair's connect: the engines connect differently, so the
/// kernel answers the next connect(2) differently (one test per engine, as the macro
/// makes them).
mod connect_again_on_a_connected_socket_is_eisconn {
    use super::*;

    /// The pair's client with two more connect(2) calls on its connected socket.
    fn run_twice(engine: Engine) -> Record {
        run_pair(
            engine,
            r#"  { op = "wait", sync = "done" },"#,
            r#"  { op = "connect_again", id = "again", sock = "s", to = "l" },
  { op = "connect_again", id = "third", sock = "s", to = "l" },
  { op = "signal", sync = "done" },"#,
            r#"again = { step = "again", take = "outcome", help = "h" }
third = { step = "third", take = "outcome", help = "h" }"#,
        )
    }

    #[test]
    fn std() {
        // std's connect is a blocking connect(2) that returned once the handshake was
        // done: the socket is connected, and every further connect(2) says EISCONN.
        let r = run_twice(Engine::Std);
        assert!(
            outcome(&r, "again").matches("EISCONN"),
            "{}",
            outcome(&r, "again")
        );
        assert!(
            outcome(&r, "third").matches("EISCONN"),
            "{}",
            outcome(&r, "third")
        );
    }

    #[cfg(target_os = "linux")]
    // The socket layer's "connecting" state left by a non-blocking connect is Linux's
    // (__inet_stream_connect); other systems may answer EISCONN at once.
    #[test]
    fn tokio() {
        // tokio's connect is a non-blocking connect(2), a wait for writability and
        // SO_ERROR: it never calls connect(2) again, so Linux still has the socket marked
        // as connecting. The next connect(2) finds the handshake done and returns 0; only
        // the one after it says EISCONN.
        let r = run_twice(Engine::Tokio);
        assert!(outcome(&r, "again").is_ok(), "{}", outcome(&r, "again"));
        assert!(
            outcome(&r, "third").matches("EISCONN"),
            "{}",
            outcome(&r, "third")
        );
    }
}

// ---- options -------------------------------------------------------------------------

on_every_engine! {
    fn keepalive_knobs_and_o_nonblock_read_back_what_was_set(engine: Engine) {
        // A read with nothing to read shows the kernel's EAGAIN only where the engine
        // makes the call itself: tokio's read waits for readiness in the runtime and
        // retries on WouldBlock, so on tokio it would wait until the scenario's timeout.
        let empty_read = match engine {
            Engine::Std => r#"
  { op = "read", id = "empty", sock = "s", buf = 16 },"#,
            Engine::Tokio => "",
        };
        let empty_obs = match engine {
            Engine::Std => r#"
empty = { step = "empty", take = "outcome", help = "h" }"#,
            Engine::Tokio => "",
        };
        let r = run_pair(
            engine,
            r#"  { op = "wait", sync = "done" },"#,
            &format!(
                r#"  {{ op = "set", sock = "s", option = "TCP_KEEPIDLE", value = 11 }},
  {{ op = "set", sock = "s", option = "TCP_KEEPINTVL", value = 5 }},
  {{ op = "set", sock = "s", option = "TCP_KEEPCNT", value = 3 }},
  {{ op = "get", id = "idle", sock = "s", option = "TCP_KEEPIDLE" }},
  {{ op = "get", id = "intvl", sock = "s", option = "TCP_KEEPINTVL" }},
  {{ op = "get", id = "cnt", sock = "s", option = "TCP_KEEPCNT" }},
  {{ op = "get", id = "nb0", sock = "s", option = "O_NONBLOCK" }},
  {{ op = "set", id = "set_nb", sock = "s", option = "O_NONBLOCK", value = 1 }},
  {{ op = "get", id = "nb1", sock = "s", option = "O_NONBLOCK" }},{empty_read}
  {{ op = "signal", sync = "done" }},"#
            ),
            &format!(
                r#"idle = {{ step = "idle", take = "value", help = "h" }}
intvl = {{ step = "intvl", take = "value", help = "h" }}
cnt = {{ step = "cnt", take = "value", help = "h" }}
nb0 = {{ step = "nb0", take = "value", help = "h" }}
set_nb = {{ step = "set_nb", take = "outcome", help = "h" }}
nb1 = {{ step = "nb1", take = "value", help = "h" }}{empty_obs}"#
            ),
        );
        assert_eq!(
            (int(&r, "idle"), int(&r, "intvl"), int(&r, "cnt")),
            (11, 5, 3)
        );
        assert!(outcome(&r, "set_nb").is_ok());
        match engine {
            Engine::Std => {
                // A std socket starts blocking; the step makes it non-blocking.
                assert_eq!((int(&r, "nb0"), int(&r, "nb1")), (0, 1));
                // Non-blocking and nothing to read: EAGAIN/EWOULDBLOCK instead of waiting.
                assert!(outcome(&r, "empty").matches("WouldBlock"));
            }
            Engine::Tokio => {
                // What the kernel says of tokio's socket before and after: non-blocking
                // both times.
                assert_eq!((int(&r, "nb0"), int(&r, "nb1")), (1, 1));
            }
        }
    }
}

on_every_engine! {
    fn clearing_o_nonblock_works_on_std_and_fails_its_step_on_tokio_naming_the_reason(
        engine: Engine
    ) {
        let r = run_pair_any(
            engine,
            r#"  { op = "wait", sync = "done" },"#,
            r#"  { op = "set", id = "clear", sock = "s", option = "O_NONBLOCK", value = 0 },
  { op = "get", id = "nb", sock = "s", option = "O_NONBLOCK" },
  { op = "signal", sync = "done" },"#,
            r#"clear = { step = "clear", take = "outcome", help = "h" }
nb = { step = "nb", take = "value", help = "h" }"#,
        );
        match engine {
            Engine::Std => {
                // A std socket may be blocking: the flag is cleared (it was never set).
                let r = op_pair::completed(r);
                assert!(outcome(&r, "clear").is_ok(), "{}", outcome(&r, "clear"));
                assert_eq!(int(&r, "nb"), 0);
            }
            Engine::Tokio => {
                // A blocking socket would block the runtime's thread: the step is refused
                // and the run is incomplete, saying why.
                assert_eq!(r.verdict.status, Status::Incomplete, "{:?}", r.verdict);
                let why = r.verdict.problems.join("\n");
                assert!(
                    why.contains("O_NONBLOCK")
                        && why.contains("tokio requires non-blocking sockets"),
                    "{why}"
                );
            }
        }
    }
}

// ---- bind / listen on the port of another socket -------------------------------------

on_every_engine! {
    fn listen_with_port_of_takes_the_port_of_a_closed_listener(engine: Engine) {
        let r = run_pair(
            engine,
            r#"  { op = "listen", as = "m", backlog = 1 },
  { op = "close", sock = "m" },
  { op = "listen", id = "again", as = "m2", backlog = 1, port_of = "m" },
  { op = "listen", id = "busy", as = "m3", backlog = 1, port_of = "l" },"#,
            "",
            r#"again = { step = "again", take = "outcome", help = "h" }
busy = { step = "busy", take = "outcome", help = "h" }"#,
        );
        // A closed listener with no connections leaves nothing behind.
        assert!(outcome(&r, "again").is_ok(), "{}", outcome(&r, "again"));
        // The port of a listener that is still open is taken.
        assert!(outcome(&r, "busy").matches("EADDRINUSE"));
    }
}

// ---- write_in_child ------------------------------------------------------------------

on_every_engine! {
    #[cfg(unix)]
    // SIGPIPE and fork are Unix's; the op is not available elsewhere.
    fn write_in_child_reports_epipe_when_ignored_and_death_by_sigpipe_by_default(
        engine: Engine
    ) {
        // On tokio the child is forked from the runtime's thread.
        let r = run_pair(
            engine,
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
        assert_eq!(
            text(&r, "dfl_write"),
            "",
            "a killed child reports no write result"
        );
    }
}

on_every_engine! {
    #[cfg(unix)]
    // fork is Unix's.
    fn write_in_child_writes_on_a_healthy_connection_and_exits_0(engine: Engine) {
        let r = run_pair(
            engine,
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
}

// ---- request / respond ---------------------------------------------------------------

on_every_engine! {
    fn request_and_respond_complete_every_exchange_with_exact_byte_counts(engine: Engine) {
        let r = run_pair(
            engine,
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
}

on_every_engine! {
    fn a_reply_cut_short_by_eof_is_unexpected_eof_as_read_exact_says(engine: Engine) {
        let r = run_pair(
            engine,
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
}

// ---- counters ------------------------------------------------------------------------

on_every_engine! {
    #[cfg(target_os = "linux")]
    // /proc/thread-self/net/netstat is Linux's; elsewhere counter observations are absent.
    fn a_counter_observation_sees_its_own_abort(engine: Engine) {
        let r = run_pair(
            engine,
            r#"  { op = "wait_bytes", sock = "c", bytes = 5, timeout_ms = 5000 },
  { op = "close", sock = "c" },"#,
            r#"  { op = "write", sock = "s", bytes = 5 },"#,
            r#"aborts = { counter = "TcpExt.TCPAbortOnClose", help = "h" }"#,
        );
        // Other tests in this process may abort connections too: at least this one counted.
        assert!(int(&r, "aborts") >= 1, "{}", int(&r, "aborts"));
    }
}

on_every_engine! {
    #[cfg(not(target_os = "linux"))]
    // Where counters cannot be read, the observation is absent, not made up.
    fn a_counter_observation_is_absent_where_counters_are_not_read(engine: Engine) {
        let r = run_pair(
            engine,
            "",
            "",
            r#"aborts = { counter = "TcpExt.TCPAbortOnClose", help = "h" }"#,
        );
        assert!(!r.observations.contains_key("aborts"));
    }
}

// ---- poll for = "rdhup" ---------------------------------------------------------------

on_every_engine! {
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    // POLLRDHUP is Linux's and FreeBSD's; elsewhere the std engine refuses the step.
    fn poll_for_rdhup_waits_for_the_peers_fin_not_for_its_data(engine: Engine) {
        let r = run_pair(
            engine,
            r#"  { op = "wait_bytes", sock = "c", bytes = 5, timeout_ms = 5000 },
  { op = "poll", id = "data_only", sock = "c", for = "rdhup", timeout_ms = 200 },
  { op = "signal", sync = "polled" },
  { op = "poll", id = "fin", sock = "c", for = "rdhup", timeout_ms = 5000 },
  { op = "read_times", id = "reads", sock = "c", buf = 64, times = 2 },"#,
            r#"  { op = "write_all", sock = "s", bytes = 5 },
  { op = "wait", sync = "polled" },
  { op = "shutdown", sock = "s", how = "write" },"#,
            r#"data_only = { step = "data_only", take = "outcome", help = "h" }
fin = { step = "fin", take = "outcome", help = "h" }
fin_revents = { step = "fin", take = "revents", help = "h" }
reads = { step = "reads", take = "sizes", help = "h" }"#,
        );
        // Data alone is not a half-close: the wait runs out.
        assert!(
            matches!(outcome(&r, "data_only"), tcplab::event::Outcome::Err { deadline: true, .. }),
            "{}",
            outcome(&r, "data_only")
        );
        // The FIN ends the wait, while the 5 bytes are still queued before it.
        assert!(outcome(&r, "fin").is_ok(), "{}", outcome(&r, "fin"));
        let bit = match engine {
            Engine::Std => "POLLRDHUP",
            Engine::Tokio => "READ_CLOSED",
        };
        assert!(
            text(&r, "fin_revents").contains(bit),
            "{}",
            text(&r, "fin_revents")
        );
        assert_eq!(r.observations.get("reads").map(|v| v.to_string()).as_deref(), Some("[5, 0]"));
    }
}
