//! Each step's arguments, evaluated and checked against the actor's parameters, and the
//! folding of its calls' results into the step's result: the parts of the interpreter's
//! arms that make no call.

use std::io;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use socket2::Socket;

use super::context::Ctx;
use super::framing::{tag_byte, FrameCheck, MAX_TAGGED_WRITERS};
use super::sockets::{ms, WriteInChild};
use super::types::{Addrs, EngineError, StepResult, ABSENT, ENGINE_WAIT_LIMIT};
use crate::event::{millis, Outcome};
use crate::scenario::{Expr, How, ParamValue, Queue, SigPipe, SockOpt};
use crate::sys;

/// How long a `write_in_child` step waits for its child by default.
const CHILD_LIMIT: Duration = Duration::from_secs(2);

/// A step's buffer of `n` bytes, each `fill`: an [`EngineError::Alloc`] when the
/// allocator refuses, so that a size too large for the machine ends the run with a
/// message rather than the process with an abort.
pub(super) fn buffer(fill: u8, n: usize) -> Result<Vec<u8>, EngineError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| EngineError::Alloc(n))?;
    v.resize(n, fill);
    Ok(v)
}

/// An optional expression, evaluated.
pub(super) fn eval_opt(cx: &Ctx, e: &Option<Expr>) -> Result<Option<i64>, EngineError> {
    e.as_ref().map(|e| cx.eval(e)).transpose()
}

/// An optional size, evaluated.
pub(super) fn eval_size_opt(cx: &Ctx, e: &Option<Expr>) -> Result<Option<usize>, EngineError> {
    e.as_ref().map(|e| cx.eval_size(e)).transpose()
}

/// A `listen` step's backlog, as listen(2) takes it.
pub(super) fn backlog(cx: &Ctx, e: &Expr) -> Result<i32, EngineError> {
    let backlog = cx.eval(e)?;
    i32::try_from(backlog).map_err(|_| EngineError::Backlog(backlog))
}

/// How many signals a `wait` step waits for (1 unless given).
pub(super) fn wait_count(cx: &Ctx, e: &Option<Expr>) -> Result<i64, EngineError> {
    Ok(eval_opt(cx, e)?.unwrap_or(1))
}

/// The algorithm a `set TCP_CONGESTION` step names: its `value` is a text parameter's name
/// (that parameter's value) or the algorithm's own name (`value = "reno"`).
pub(super) fn congestion_name(cx: &Ctx, value: &Expr) -> Result<String, EngineError> {
    let Expr::Name(name) = value else {
        return Err(EngineError::CongestionName(value.to_string()));
    };
    Ok(match cx.config.params.get(name) {
        Some(ParamValue::Text(t)) => t.clone(),
        _ => name.clone(),
    })
}

/// setsockopt(TCP_CONGESTION) with `name`, recorded with the name as the event's note.
pub(super) fn set_congestion(cx: &mut Ctx, s: &Socket, sock: &str, name: &str) -> Outcome {
    let t0 = Instant::now();
    let res = sys::set_congestion(s, name);
    let el = millis(t0.elapsed());
    let note = Some(format!("`{name}`"));
    cx.record_call(
        "setsockopt(TCP_CONGESTION)",
        Some(sock),
        None,
        &res,
        |_| None,
        t0,
        el,
        note,
    )
}

/// getsockopt(TCP_CONGESTION), recorded with the name read as the event's note; the name
/// goes into the step's result for `take = "name"`.
pub(super) fn get_congestion(cx: &mut Ctx, s: &Socket, sock: &str, r: &mut StepResult) {
    let t0 = Instant::now();
    let res = sys::congestion(s);
    let el = millis(t0.elapsed());
    let note = res.as_ref().ok().map(|n| format!("`{n}`"));
    r.outcome = cx.record_call(
        "getsockopt(TCP_CONGESTION)",
        Some(sock),
        None,
        &res,
        |_| None,
        t0,
        el,
        note,
    );
    r.name = res.ok();
}

/// A `shutdown` step's direction and the call's name.
pub(super) fn shutdown_how(how: How) -> (Shutdown, &'static str) {
    match how {
        How::Read => (Shutdown::Read, "shutdown(SHUT_RD)"),
        How::Write => (Shutdown::Write, "shutdown(SHUT_WR)"),
        How::Both => (Shutdown::Both, "shutdown(SHUT_RDWR)"),
    }
}

/// The call a `get` step makes: an ioctl for the queues, getsockopt for the rest.
pub(super) fn get_op(option: SockOpt) -> String {
    match option {
        SockOpt::InQueue | SockOpt::OutQueue => format!("ioctl({})", option.name()),
        _ => format!("getsockopt({})", option.name()),
    }
}

/// What a `state` step finds for a socket closed on purpose: the kernel's table entry
/// for the addresses it had, [`ABSENT`] when there is none.
pub(super) fn closed_state(addrs: Addrs) -> (&'static str, Option<String>) {
    let state = addrs.and_then(|(l, p)| sys::tcp_state_in_table(l, p));
    (
        "look up the connection in the kernel's table",
        state.map(|st| st.unwrap_or(ABSENT).to_owned()),
    )
}

/// The note of a `state` step's event: the state, or why there is none.
pub(super) fn state_note(state: &Option<String>) -> String {
    state
        .clone()
        .unwrap_or_else(|| "this system does not report TCP states".into())
}

/// `write_until_blocked`: the size of each write and the most to write in all.
pub(super) struct WriteUntilBlocked {
    pub chunk: usize,
    pub max: Option<usize>,
}

impl WriteUntilBlocked {
    pub fn eval(cx: &Ctx, chunk: &Expr, max_bytes: &Option<Expr>) -> Result<Self, EngineError> {
        Ok(WriteUntilBlocked {
            chunk: cx.eval_size(chunk)?,
            max: eval_size_opt(cx, max_bytes)?,
        })
    }

    /// Whether the step has written all it may (`r` holds what it wrote so far).
    pub fn full(&self, r: &StepResult) -> bool {
        self.max.is_some_and(|m| r.bytes as usize >= m)
    }
}

/// `read_to_eof`: the read buffer's size and the most reads to make.
pub(super) struct ReadToEof {
    pub buf: usize,
    pub max: Option<usize>,
}

impl ReadToEof {
    pub fn eval(cx: &Ctx, buf: &Expr, max_calls: &Option<Expr>) -> Result<Self, EngineError> {
        Ok(ReadToEof {
            buf: cx.eval_size(buf)?,
            max: eval_size_opt(cx, max_calls)?,
        })
    }

    /// Whether the step has made all the reads it may (`r` holds them).
    pub fn done(&self, r: &StepResult) -> bool {
        self.max.is_some_and(|m| r.sizes.len() >= m)
    }
}

/// `wait_bytes`: which queue, how many bytes to wait for, and for how long.
pub(super) struct WaitBytes {
    pub want: usize,
    pub limit: Duration,
    pub queue: Queue,
}

impl WaitBytes {
    pub fn eval(
        cx: &Ctx,
        bytes: &Expr,
        timeout_ms: &Option<Expr>,
        queue: Queue,
    ) -> Result<Self, EngineError> {
        Ok(WaitBytes {
            want: cx.eval_size(bytes)?,
            limit: eval_opt(cx, timeout_ms)?.map_or(ENGINE_WAIT_LIMIT, ms),
            queue,
        })
    }

    /// The queue's length now.
    pub fn read(&self, s: &Socket) -> io::Result<usize> {
        match self.queue {
            Queue::In => sys::bytes_queued(s),
            Queue::Unacked => sys::bytes_unacked(s),
        }
    }

    /// Whether the queue is where the step waits for it.
    pub fn reached(&self, queued: usize) -> bool {
        match self.queue {
            Queue::In => queued >= self.want,
            Queue::Unacked => queued <= self.want,
        }
    }

    /// Records the wait, begun at `at_ms` and lasting `elapsed_ms`, and its figures.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &self,
        cx: &mut Ctx,
        sock: &str,
        queued: usize,
        outcome: Outcome,
        at_ms: f64,
        elapsed_ms: f64,
        r: &mut StepResult,
    ) {
        let (op, note) = match self.queue {
            Queue::In => (
                "ioctl(FIONREAD) until enough",
                format!("{queued} bytes queued"),
            ),
            Queue::Unacked => (
                "ioctl(SIOCOUTQ) until acknowledged",
                format!("{queued} bytes not yet acknowledged"),
            ),
        };
        cx.record(
            op,
            Some(sock),
            Some(self.want as u64),
            Some(queued as i64),
            outcome.clone(),
            at_ms,
            elapsed_ms,
            Some(note),
        );
        r.value = Some(queued as i64);
        r.outcome = outcome;
    }
}

impl WriteInChild {
    pub fn eval(
        cx: &Ctx,
        bytes: &Expr,
        sigpipe: SigPipe,
        timeout_ms: &Option<Expr>,
    ) -> Result<Self, EngineError> {
        Ok(WriteInChild {
            bytes: cx.eval_size(bytes)?,
            limit: eval_opt(cx, timeout_ms)?.map_or(CHILD_LIMIT, ms),
            default: sigpipe == SigPipe::Default,
        })
    }
}

/// Folds how a `write_in_child` step's child ended into the step's result.
pub(super) fn child_ended(r: &mut StepResult, end: Result<sys::ChildEnd, Outcome>) {
    match end {
        Ok(sys::ChildEnd::Exited { status, write }) => {
            r.status = Some(format!("exited {status}"));
            match write {
                Some(Ok(k)) => r.moved(k),
                Some(Err(code)) => r.failed(Outcome::from_io(&io::Error::from_raw_os_error(code))),
                None => {}
            }
        }
        Ok(sys::ChildEnd::Killed(sig)) => r.status = Some(format!("killed by {sig}")),
        Ok(sys::ChildEnd::TimedOut) => {
            r.status = Some("killed by the lab after its deadline".into());
            r.outcome = Outcome::deadline();
        }
        Err(o) => r.outcome = o,
    }
}

/// `request`: exchanges, each of `parts` writes of `part` then a read of `reply` bytes.
pub(super) struct Request {
    pub count: usize,
    pub parts: usize,
    pub part: Vec<u8>,
    pub reply: usize,
}

impl Request {
    pub fn eval(
        cx: &Ctx,
        count: &Expr,
        parts: &Expr,
        part_bytes: &Expr,
        reply_bytes: &Expr,
    ) -> Result<Self, EngineError> {
        Ok(Request {
            count: cx.eval_size(count)?,
            parts: cx.eval_size(parts)?,
            part: buffer(b'q', cx.eval_size(part_bytes)?)?,
            reply: cx.eval_size(reply_bytes)?,
        })
    }
}

/// `respond`: exchanges, each a read of `request` bytes then a write of `reply`.
pub(super) struct Respond {
    pub count: usize,
    pub request: usize,
    pub reply: Vec<u8>,
}

impl Respond {
    pub fn eval(
        cx: &Ctx,
        count: &Expr,
        request_bytes: &Expr,
        reply_bytes: &Expr,
    ) -> Result<Self, EngineError> {
        Ok(Respond {
            count: cx.eval_size(count)?,
            request: cx.eval_size(request_bytes)?,
            reply: buffer(b'r', cx.eval_size(reply_bytes)?)?,
        })
    }
}

/// `write_messages`: this writer's messages, tagged (see [`super::tag_byte`]).
pub(super) struct WriteMessages {
    pub count: usize,
    pub size: usize,
    /// Whether a lock is held around each whole message.
    pub locked: bool,
    /// This writer's number: the actor instance's.
    pub writer: usize,
}

impl WriteMessages {
    pub fn eval(cx: &Ctx, count: &Expr, size: &Expr, lock: &Expr) -> Result<Self, EngineError> {
        let count = cx.eval_size(count)?;
        let size = cx.eval_size(size)?;
        let locked = cx.eval(lock)? != 0;
        let writer = cx.index;
        if writer >= MAX_TAGGED_WRITERS {
            return Err(EngineError::TooManyWriters);
        }
        Ok(WriteMessages {
            count,
            size,
            locked,
            writer,
        })
    }

    /// Fills `msg` with message number `m` of this writer.
    pub fn fill(&self, msg: &mut [u8], m: usize) {
        for (i, b) in msg.iter_mut().enumerate() {
            *b = tag_byte(self.writer, m * self.size + i);
        }
    }
}

/// `read_messages`: how many writers sent how many messages of what size, and the
/// size of each read.
pub(super) struct ReadMessages {
    pub writers: usize,
    pub count: usize,
    pub size: usize,
    pub buf: usize,
}

impl ReadMessages {
    pub fn eval(
        cx: &Ctx,
        writers: &Expr,
        count: &Expr,
        size: &Expr,
        buf: &Expr,
    ) -> Result<Self, EngineError> {
        let writers = cx.eval_size(writers)?;
        let count = cx.eval_size(count)?;
        let size = cx.eval_size(size)?.max(1);
        let buf = cx.eval_size(buf)?;
        if writers > MAX_TAGGED_WRITERS {
            return Err(EngineError::TooManyWriters);
        }
        Ok(ReadMessages {
            writers,
            count,
            size,
            buf,
        })
    }

    /// The check the read bytes are fed to.
    pub fn check(&self) -> FrameCheck {
        FrameCheck::new(self.writers, self.size)
    }

    /// Folds what `check` saw into the step's result; corrupt bytes make the outcome
    /// `InvalidData`, whatever the reads said.
    pub fn finish(&self, check: &FrameCheck, r: &mut StepResult) {
        r.bytes = check.received as i64;
        r.count = (check.intact + check.interleaved) as i64;
        r.intact = check.intact as i64;
        r.interleaved = check.interleaved as i64;
        let expected = self.writers * self.count * self.size;
        r.lost = expected.saturating_sub(check.valid) as i64;
        if check.corrupt > 0 {
            r.outcome = Outcome::Err {
                kind: "InvalidData".into(),
                errno: None,
                code: None,
                deadline: false,
            };
        }
    }
}

/// What a `get SO_ERROR` read means, as an outcome; `None` for other options.
pub(super) fn pending_error(option: SockOpt, v: i64) -> Option<Outcome> {
    (option == SockOpt::Error).then(|| match v {
        0 => Outcome::Ok,
        code => Outcome::from_io(&io::Error::from_raw_os_error(code as i32)),
    })
}

/// A wire change as the timeline shows it: `set blackhole a>b`, `clear all b>a`,
/// `reset toward a`.
pub(super) fn describe_change(c: &crate::scenario::wire::WireChange) -> String {
    use crate::scenario::wire::WireChange;
    match c {
        WireChange::Set { dir, fault } => {
            let text = serde_json::to_value(fault)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| match v {
                            serde_json::Value::Bool(true) => k.clone(),
                            v => format!("{k}={v}"),
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            format!("set {text} {dir}")
        }
        WireChange::Clear { dir, fields } if fields.is_empty() => format!("clear all {dir}"),
        WireChange::Clear { dir, fields } => format!("clear {} {dir}", fields.join(",")),
        WireChange::Reset { toward } => format!("reset toward {toward}"),
    }
}
