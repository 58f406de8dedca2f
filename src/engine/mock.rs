//! A mock engine, to test the interpreter's loops without connections (after hyperfine's
//! `MockExecutor`).
//!
//! Its sockets answer reads, writes and dials from a script; a script that runs out
//! answers end of file (reads), takes the whole buffer (writes) or EAGAIN (`try_write`).
//! Only a socket whose address a step reads (a `dial_repeat` target) holds a real socket,
//! bound and never connected, for its address.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{SockRef, Socket};

use super::context::{Ctx, RunState};
use super::resources::Resources;
use super::run::{self, block_on};
use super::sockets::{CallNames, Dial, Direction, Prim, Sockets, WriteInChild};
use super::types::{lock, EngineError, Run, RunConfig, StepResult};
use crate::event::Outcome;
use crate::scenario::{PollFor, SockOpt};
use crate::sys;

/// What one scripted call answers.
type Answer = Result<usize, Outcome>;

/// A scripted socket.
#[derive(Default)]
struct MockSock {
    reads: Mutex<VecDeque<Answer>>,
    writes: Mutex<VecDeque<Answer>>,
    /// A bound socket, only for the address of a dial target.
    kernel: Option<Socket>,
}

#[derive(Default)]
struct Mock {
    dials: Mutex<VecDeque<Result<(), Outcome>>>,
    /// The timer the mock applies to writes, as tokio applies SO_SNDTIMEO.
    write_timer: Option<Duration>,
}

fn eagain() -> Outcome {
    Outcome::from_io(&io::Error::from_raw_os_error(libc::EAGAIN))
}

impl Sockets for Mock {
    type Socket = Arc<MockSock>;
    type WriteLock = Mutex<()>;
    type WriteGuard<'a> = std::sync::MutexGuard<'a, ()>;

    const NAMES: CallNames = CallNames {
        close: "close",
        connect_start: ("connect", None),
        connect_again: ("connect", None),
        state: "state",
        blocked: "is blocked",
        not_blocked: "did not block",
    };
    const STALE_NOTE: Option<&'static str> = None;

    fn kernel(s: &Arc<MockSock>) -> io::Result<SockRef<'_>> {
        match &s.kernel {
            Some(k) => Ok(SockRef::from(k)),
            None => Err(io::Error::other("a mock socket has no kernel socket")),
        }
    }

    fn bound(_: Socket) -> Arc<MockSock> {
        Arc::default()
    }

    fn listener(&self, _: &mut Ctx, _: &str, _: Socket) -> io::Result<Arc<MockSock>> {
        Ok(Arc::default())
    }

    fn connecting(&self, _: &mut Ctx, _: &str, _: Socket) -> Result<Arc<MockSock>, EngineError> {
        Ok(Arc::default())
    }

    fn into_socket(s: Arc<MockSock>) -> Result<io::Result<Socket>, Arc<MockSock>> {
        Err(s)
    }

    async fn accept(
        &self,
        _: &mut Ctx,
        _: &Arc<MockSock>,
        _: &str,
        _: Option<Duration>,
    ) -> Prim<Arc<MockSock>> {
        Ok(Ok(Arc::default()))
    }

    async fn dial(&self, cx: &mut Ctx, d: Dial<'_>) -> Result<Arc<MockSock>, Outcome> {
        let label = d.label;
        let answer = lock(&self.dials).pop_front();
        let answer = answer.unwrap_or_else(|| {
            let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
            Err(Outcome::from_io(&refused))
        });
        let at = cx.now_ms();
        cx.record(
            "connect",
            Some(label),
            None,
            None,
            answer.clone().err().unwrap_or(Outcome::Ok),
            at,
            0.0,
            None,
        );
        answer.map(|()| Arc::default())
    }

    fn timer(&self, _: &str, d: Direction) -> Option<Duration> {
        (d == Direction::Write)
            .then_some(self.write_timer)
            .flatten()
    }

    async fn read(
        &self,
        cx: &mut Ctx,
        s: &Arc<MockSock>,
        sock: &str,
        buf: &mut [u8],
        _: Option<Duration>,
    ) -> Prim<usize> {
        let answer = lock(&s.reads).pop_front().unwrap_or(Ok(0));
        let answer = answer.map(|k| k.min(buf.len()));
        record(cx, "read", sock, buf.len(), &answer);
        Ok(answer)
    }

    async fn write(
        &self,
        cx: &mut Ctx,
        s: &Arc<MockSock>,
        sock: &str,
        buf: &[u8],
        _: Option<Duration>,
    ) -> Prim<usize> {
        let answer = lock(&s.writes).pop_front().unwrap_or(Ok(buf.len()));
        let answer = answer.map(|k| k.min(buf.len()));
        record(cx, "write", sock, buf.len(), &answer);
        Ok(answer)
    }

    async fn begin_try_writes(&self, _: &mut Ctx, _: &Arc<MockSock>, _: &str) -> Prim<()> {
        Ok(Ok(()))
    }

    fn try_write(&self, cx: &mut Ctx, s: &Arc<MockSock>, sock: &str, buf: &[u8]) -> Prim<usize> {
        let answer = lock(&s.writes).pop_front().unwrap_or(Err(eagain()));
        record(cx, "try_write", sock, buf.len(), &answer);
        Ok(answer)
    }

    fn end_try_writes(&self, _: &mut Ctx, _: &Arc<MockSock>, _: &str) {}

    async fn poll(
        &self,
        _: &mut Ctx,
        _: &Arc<MockSock>,
        _: &str,
        _: PollFor,
        _: Duration,
    ) -> Result<(String, Outcome), EngineError> {
        Ok(("none".into(), Outcome::deadline()))
    }

    fn check_option(_: SockOpt, _: i64) -> Result<(), EngineError> {
        Ok(())
    }

    fn option_set(&self, _: &str, _: SockOpt, _: i64) -> Option<String> {
        None
    }

    fn write_in_child(
        &self,
        _: &mut Ctx,
        _: &Arc<MockSock>,
        _: &str,
        _: &WriteInChild,
    ) -> impl Future<Output = Result<sys::ChildEnd, Outcome>> {
        let none = io::Error::other("the mock forks nothing");
        std::future::ready(Err(Outcome::from_io(&none)))
    }

    async fn wait_sync(&self, cx: &Ctx, sync: &str, count: i64) -> bool {
        cx.signalled(sync, count)
    }

    fn wake_waiters(&self) {}

    fn instance_blocked(&self, _: &RunState, _: usize) -> bool {
        true
    }

    async fn pause() {}

    async fn hold(l: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
        lock(l)
    }

    fn cancel_all(&self, run: &RunState, _: &Resources<Arc<MockSock>>) {
        run.cancel();
    }
}

/// Records a scripted call as an event.
fn record(cx: &mut Ctx, op: &str, sock: &str, n: usize, answer: &Answer) {
    let at = cx.now_ms();
    let (returned, outcome) = match answer {
        Ok(k) => (Some(*k as i64), Outcome::Ok),
        Err(o) => (None, o.clone()),
    };
    cx.record(
        op,
        Some(sock),
        Some(n as u64),
        returned,
        outcome,
        at,
        0.0,
        None,
    );
}

/// A scenario whose actor `tested` runs `steps` on sockets `s` and `l`; another actor,
/// never run here, creates them (the parser wants a step that does).
fn scenario(steps: &str) -> crate::scenario::Scenario {
    let text = format!(
        r#"
name = "mock"
title = "t"
summary = "s"
description = "d"
source = "s"

[[actors]]
name = "maker"
steps = [
  {{ op = "listen", as = "l", backlog = 1 }},
  {{ op = "accept", from = "l", as = "s" }},
]

[[actors]]
name = "tested"
steps = [
  {steps}
]
"#
    );
    crate::scenario::parse(Path::new("mock.toml"), &text, "mock")
        .unwrap_or_else(|e| panic!("the mock scenario does not parse: {e}"))
}

/// Runs actor `tested` of `steps` on the mock with socket `s` scripted as given.
fn run_mock(mock: Mock, steps: &str, s: MockSock) -> Run {
    let sc = scenario(steps);
    let started = match run::start(&sc, &RunConfig::default(), |_| mock) {
        Ok(s) => s,
        Err(not_started) => panic!("the mock run did not start: {:?}", not_started.failures),
    };
    let shared = started.shared;
    shared.resources.put("s", Arc::new(s));
    let bound = super::sockets::new_socket().and_then(|k| {
        k.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        Ok(k)
    });
    let l = MockSock {
        kernel: Some(bound.expect("a socket bound to 127.0.0.1:0")),
        ..MockSock::default()
    };
    shared.resources.put("l", Arc::new(l));
    for (mut a, steps) in started.actors {
        if a.name == "tested" {
            block_on(run::run_actor(&mut a, &steps));
        }
    }
    shared.run.out.take_run(Vec::new(), 0.0, started.timeout)
}

fn scripted(reads: Vec<Answer>, writes: Vec<Answer>) -> MockSock {
    MockSock {
        reads: Mutex::new(reads.into()),
        writes: Mutex::new(writes.into()),
        kernel: None,
    }
}

fn only_step(run: &Run) -> &StepResult {
    assert!(
        run.failures.is_empty(),
        "engine failures: {:?}",
        run.failures
    );
    assert_eq!(run.steps.len(), 1, "{:?}", run.steps);
    &run.steps[0]
}

// -- reads ----------------------------------------------------------------------------

#[test]
fn read_to_eof_reads_until_a_read_returns_zero() {
    let s = scripted(vec![Ok(5), Ok(3), Ok(0), Ok(7)], vec![]);
    let run = run_mock(
        Mock::default(),
        r#"{ op = "read_to_eof", sock = "s", buf = 8 }"#,
        s,
    );
    let r = only_step(&run);
    assert_eq!(
        (r.bytes, r.count, r.calls.join(",")),
        (8, 3, "5,3,0".into())
    );
    assert!(r.outcome.is_ok());
}

#[test]
fn read_to_eof_stops_at_max_calls_and_at_the_first_error() {
    let s = scripted(vec![Ok(1), Ok(1), Ok(1), Ok(1)], vec![]);
    let steps = r#"{ op = "read_to_eof", sock = "s", buf = 8, max_calls = 2 }"#;
    let r = only_step(&run_mock(Mock::default(), steps, s)).clone();
    assert_eq!((r.bytes, r.count), (2, 2));

    let s = scripted(vec![Ok(4), Err(eagain()), Ok(4)], vec![]);
    let steps = r#"{ op = "read_to_eof", sock = "s", buf = 8 }"#;
    let r = only_step(&run_mock(Mock::default(), steps, s)).clone();
    assert_eq!((r.bytes, r.calls.join(",")), (4, "4,EAGAIN".into()));
    assert!(r.outcome.matches("EAGAIN"), "{}", r.outcome);
}

#[test]
fn read_times_goes_on_after_an_error_and_keeps_the_first_one() {
    let reset = Outcome::from_io(&io::Error::from_raw_os_error(libc::ECONNRESET));
    let s = scripted(vec![Ok(5), Err(reset), Err(eagain())], vec![]);
    let steps = r#"{ op = "read_times", sock = "s", buf = 8, times = 3 }"#;
    let r = only_step(&run_mock(Mock::default(), steps, s)).clone();
    assert_eq!(r.calls.join(","), "5,ECONNRESET,EAGAIN");
    assert!(r.outcome.matches("ECONNRESET"), "{}", r.outcome);
}

// -- writes ---------------------------------------------------------------------------

#[test]
fn write_all_writes_again_after_partial_writes_until_all_is_written() {
    let s = scripted(vec![], vec![Ok(4), Ok(3), Ok(100)]);
    let steps = r#"{ op = "write_all", sock = "s", bytes = 10 }"#;
    let r = only_step(&run_mock(Mock::default(), steps, s)).clone();
    assert_eq!((r.bytes, r.calls.join(",")), (10, "4,3,3".into()));
    assert!(r.outcome.is_ok());
}

#[test]
fn write_all_ends_at_the_first_failed_write_with_what_had_left() {
    let pipe = Outcome::from_io(&io::Error::from_raw_os_error(libc::EPIPE));
    let s = scripted(vec![], vec![Ok(6), Err(pipe), Ok(4)]);
    let steps = r#"{ op = "write_all", sock = "s", bytes = 10 }"#;
    let r = only_step(&run_mock(Mock::default(), steps, s)).clone();
    assert_eq!((r.bytes, r.calls.join(",")), (6, "6,EPIPE".into()));
    assert!(r.outcome.matches("EPIPE"));
}

#[test]
fn a_write_all_ended_by_the_engines_timer_says_what_its_caller_learns() {
    let mock = Mock {
        write_timer: Some(Duration::from_millis(100)),
        ..Mock::default()
    };
    let s = scripted(vec![], vec![Ok(6), Err(Outcome::deadline())]);
    let run = run_mock(mock, r#"{ op = "write_all", sock = "s", bytes = 10 }"#, s);
    let r = only_step(&run);
    assert_eq!((r.bytes, r.calls.join(",")), (6, "6,deadline".into()));
    let elapsed = run.events.iter().find(|e| e.op == "write_all: Elapsed");
    let note = elapsed.and_then(|e| e.note.clone()).unwrap_or_default();
    assert!(note.contains("6 of 10 bytes had left"), "{:?}", run.events);
}

#[test]
fn write_until_blocked_writes_until_a_write_would_block_or_max_bytes() {
    let s = scripted(vec![], vec![Ok(8), Ok(8), Ok(2)]);
    let steps = r#"{ op = "write_until_blocked", sock = "s", chunk = 8 }"#;
    let r = only_step(&run_mock(Mock::default(), steps, s)).clone();
    assert_eq!((r.bytes, r.calls.join(",")), (18, "8,8,2,EAGAIN".into()));
    assert!(r.outcome.matches("EAGAIN"));

    let s = scripted(vec![], vec![Ok(8), Ok(8), Ok(8)]);
    let steps = r#"{ op = "write_until_blocked", sock = "s", chunk = 8, max_bytes = 16 }"#;
    let r = only_step(&run_mock(Mock::default(), steps, s)).clone();
    assert_eq!((r.bytes, r.count), (16, 2));
    assert!(r.outcome.is_ok());
}

// -- exchanges and dials --------------------------------------------------------------

#[test]
fn request_reads_each_reply_whole_and_counts_the_exchanges() {
    // Two exchanges of two 3-byte parts and a 4-byte reply, the second reply in pieces.
    let s = scripted(vec![Ok(4), Ok(1), Ok(3)], vec![]);
    let steps =
        r#"{ op = "request", sock = "s", count = 2, parts = 2, part_bytes = 3, reply_bytes = 4 }"#;
    let r = only_step(&run_mock(Mock::default(), steps, s)).clone();
    assert_eq!((r.count, r.bytes), (2, 8));
    assert!(r.outcome.is_ok());
}

#[test]
fn a_reply_cut_short_by_eof_is_unexpected_eof() {
    let s = scripted(vec![Ok(2)], vec![]);
    let steps = r#"{ op = "respond", sock = "s", count = 1, request_bytes = 4, reply_bytes = 1 }"#;
    let r = only_step(&run_mock(Mock::default(), steps, s)).clone();
    assert_eq!(r.count, 0);
    assert!(r.outcome.matches("UnexpectedEof"), "{}", r.outcome);
}

#[test]
fn dial_repeat_counts_the_dials_until_the_first_that_fails() {
    let mock = Mock {
        dials: Mutex::new(vec![Ok(()), Ok(()), Ok(())].into()),
        ..Mock::default()
    };
    let steps = r#"{ op = "dial_repeat", to = "l", as = "d", max = 10 }"#;
    let r = only_step(&run_mock(mock, steps, MockSock::default())).clone();
    assert_eq!(r.count, 3);
    assert!(r.outcome.matches("ECONNREFUSED"), "{}", r.outcome);
}

#[test]
fn a_step_on_a_socket_no_step_made_yet_is_an_engine_error_that_names_it() {
    let steps =
        r#"{ op = "read", sock = "l2", buf = 1 }, { op = "listen", as = "l2", backlog = 1 }"#;
    let run = run_mock(Mock::default(), steps, MockSock::default());
    assert!(run.steps.is_empty());
    let failure = run.failures.join("\n");
    assert!(failure.contains("tested step 1 (read, line"), "{failure}");
    assert!(
        failure.contains("socket `l2` does not exist yet"),
        "{failure}"
    );
}
