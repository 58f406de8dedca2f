//! The engine-neutral halves of the steps: arguments evaluated and checked, sockets
//! bound, results folded.
//!
//! Both engines run the same step the same way up to the socket call, and read its
//! figures the same way after it; only the call itself differs (a blocking call on std,
//! an await on tokio). What is the same lives here once, built on [`ActorCtx`]; each
//! engine's `execute` keeps only its calls.

use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{SockAddr, Socket};

use super::steps::{ms, new_socket, ABSENT, CHILD_LIMIT, ENGINE_WAIT_LIMIT};
use super::{ActorCtx, Addrs, FrameCheck, StepResult, MAX_TAGGED_WRITERS};
use crate::event::{millis, Outcome};
use crate::scenario::{Expr, How, ParamValue, Queue, SigPipe, SockOpt};
use crate::sys;

/// The engine error of a `read_messages`/`write_messages` step with too many writers.
fn too_many_writers() -> String {
    format!("at most {MAX_TAGGED_WRITERS} writers can be told apart")
}

/// An optional expression, evaluated.
pub(super) fn eval_opt(ctx: &impl ActorCtx, e: &Option<Expr>) -> Result<Option<i64>, String> {
    e.as_ref().map(|e| ctx.eval(e)).transpose()
}

/// An optional size, evaluated.
pub(super) fn eval_size_opt(
    ctx: &impl ActorCtx,
    e: &Option<Expr>,
) -> Result<Option<usize>, String> {
    e.as_ref().map(|e| ctx.eval_size(e)).transpose()
}

/// A `listen` step's backlog, as listen(2) takes it.
pub(super) fn backlog(ctx: &impl ActorCtx, e: &Expr) -> Result<i32, String> {
    let backlog = ctx.eval(e)?;
    i32::try_from(backlog).map_err(|_| format!("backlog {backlog} out of range"))
}

/// How many signals a `wait` step waits for (1 unless given).
pub(super) fn wait_count(ctx: &impl ActorCtx, e: &Option<Expr>) -> Result<i64, String> {
    Ok(eval_opt(ctx, e)?.unwrap_or(1))
}

/// The port a `bind`/`listen` step asks for: that of `port_of`, or 0 (any).
pub(super) fn port_for(ctx: &impl ActorCtx, port_of: &Option<String>) -> Result<u16, String> {
    match port_of {
        Some(other) => ctx.local_addr_of(other).map(|a| a.port()),
        None => Ok(0),
    }
}

/// socket(2), SO_REUSEADDR if asked, and bind(2) to 127.0.0.1:`port` (0: any free
/// port), each call recorded.
pub(super) fn bound_socket(
    ctx: &mut impl ActorCtx,
    name: &str,
    reuseaddr: bool,
    port: u16,
) -> io::Result<Socket> {
    let s = ctx.call("socket", Some(name), None, new_socket, |_| None)?;
    if reuseaddr {
        let set = || s.set_reuse_address(true);
        ctx.call("setsockopt(SO_REUSEADDR)", Some(name), None, set, |_| {
            Some(1)
        })?;
    }
    let addr = SockAddr::from(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    ctx.call("bind", Some(name), None, || s.bind(&addr), |_| None)?;
    Ok(s)
}

/// socket(2) and O_NONBLOCK on it, each call recorded (a `connect_start` step's socket).
pub(super) fn nonblocking_socket(ctx: &mut impl ActorCtx, name: &str) -> io::Result<Socket> {
    let s = ctx.call("socket", Some(name), None, new_socket, |_| None)?;
    ctx.call(
        "set_nonblocking(true)",
        Some(name),
        None,
        || s.set_nonblocking(true),
        |_| None,
    )?;
    Ok(s)
}

/// [`bound_socket`] and then listen(2) with `backlog`, each call recorded.
pub(super) fn listening_socket(
    ctx: &mut impl ActorCtx,
    name: &str,
    backlog: i32,
    reuseaddr: bool,
    port: u16,
) -> io::Result<Socket> {
    let s = bound_socket(ctx, name, reuseaddr, port)?;
    let requested = Some(backlog.max(0) as u64);
    ctx.call(
        "listen",
        Some(name),
        requested,
        || s.listen(backlog),
        |_| None,
    )?;
    Ok(s)
}

/// The algorithm a `set TCP_CONGESTION` step names: its `value` is a text parameter's name
/// (that parameter's value) or the algorithm's own name (`value = "reno"`).
pub(super) fn congestion_name(ctx: &impl ActorCtx, value: &Expr) -> Result<String, String> {
    let Expr::Name(name) = value else {
        return Err(format!(
            "TCP_CONGESTION takes an algorithm's name (`reno`, `cubic`, `bbr`) or a text parameter, not `{value}`"
        ));
    };
    Ok(match ctx.scope().0.params.get(name) {
        Some(ParamValue::Text(t)) => t.clone(),
        _ => name.clone(),
    })
}

/// setsockopt(TCP_CONGESTION) with `name`, recorded with the name as the event's note.
pub(super) fn set_congestion(
    ctx: &mut impl ActorCtx,
    s: &Socket,
    sock: &str,
    name: &str,
) -> Outcome {
    let t0 = Instant::now();
    let res = sys::set_congestion(s, name);
    let el = millis(t0.elapsed());
    let note = Some(format!("`{name}`"));
    ctx.record_call(
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
pub(super) fn get_congestion(ctx: &mut impl ActorCtx, s: &Socket, sock: &str, r: &mut StepResult) {
    let t0 = Instant::now();
    let res = sys::congestion(s);
    let el = millis(t0.elapsed());
    let note = res.as_ref().ok().map(|n| format!("`{n}`"));
    r.outcome = ctx.record_call(
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
    pub fn eval(
        ctx: &impl ActorCtx,
        chunk: &Expr,
        max_bytes: &Option<Expr>,
    ) -> Result<Self, String> {
        Ok(WriteUntilBlocked {
            chunk: ctx.eval_size(chunk)?,
            max: eval_size_opt(ctx, max_bytes)?,
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
    pub fn eval(ctx: &impl ActorCtx, buf: &Expr, max_calls: &Option<Expr>) -> Result<Self, String> {
        Ok(ReadToEof {
            buf: ctx.eval_size(buf)?,
            max: eval_size_opt(ctx, max_calls)?,
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
        ctx: &impl ActorCtx,
        bytes: &Expr,
        timeout_ms: &Option<Expr>,
        queue: Queue,
    ) -> Result<Self, String> {
        Ok(WaitBytes {
            want: ctx.eval_size(bytes)?,
            limit: eval_opt(ctx, timeout_ms)?.map_or(ENGINE_WAIT_LIMIT, ms),
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
        ctx: &mut impl ActorCtx,
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
        ctx.record(
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

/// `write_in_child`: what the child writes, how long to wait for it, its SIGPIPE.
pub(super) struct WriteInChild {
    /// How many bytes the child writes.
    pub bytes: usize,
    pub limit: Duration,
    /// SIGPIPE left at its default (the child dies of it), else ignored.
    pub default: bool,
}

impl WriteInChild {
    pub fn eval(
        ctx: &impl ActorCtx,
        bytes: &Expr,
        sigpipe: SigPipe,
        timeout_ms: &Option<Expr>,
    ) -> Result<Self, String> {
        Ok(WriteInChild {
            bytes: ctx.eval_size(bytes)?,
            limit: eval_opt(ctx, timeout_ms)?.map_or(CHILD_LIMIT, ms),
            default: sigpipe == SigPipe::Default,
        })
    }

    /// What the child does, for the event's name.
    pub fn child_op(&self) -> &'static str {
        if self.default {
            "fork; child: signal(SIGPIPE, SIG_DFL), write"
        } else {
            "fork; child: signal(SIGPIPE, SIG_IGN), write"
        }
    }
}

/// Folds how a `write_in_child` step's child ended into the step's result.
pub(super) fn child_ended(r: &mut StepResult, end: io::Result<sys::ChildEnd>) {
    match end {
        Ok(sys::ChildEnd::Exited { status, write }) => {
            r.status = Some(format!("exited {status}"));
            match write {
                Some(Ok(k)) => r.moved(k),
                Some(Err(code)) => r.failed(&io::Error::from_raw_os_error(code)),
                None => {}
            }
        }
        Ok(sys::ChildEnd::Killed(sig)) => r.status = Some(format!("killed by {sig}")),
        Ok(sys::ChildEnd::TimedOut) => {
            r.status = Some("killed by the lab after its deadline".into());
            r.outcome = Outcome::deadline();
        }
        Err(e) => r.outcome = Outcome::from_io(&e),
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
        ctx: &impl ActorCtx,
        count: &Expr,
        parts: &Expr,
        part_bytes: &Expr,
        reply_bytes: &Expr,
    ) -> Result<Self, String> {
        Ok(Request {
            count: ctx.eval_size(count)?,
            parts: ctx.eval_size(parts)?,
            part: vec![b'q'; ctx.eval_size(part_bytes)?],
            reply: ctx.eval_size(reply_bytes)?,
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
        ctx: &impl ActorCtx,
        count: &Expr,
        request_bytes: &Expr,
        reply_bytes: &Expr,
    ) -> Result<Self, String> {
        Ok(Respond {
            count: ctx.eval_size(count)?,
            request: ctx.eval_size(request_bytes)?,
            reply: vec![b'r'; ctx.eval_size(reply_bytes)?],
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
    pub fn eval(
        ctx: &impl ActorCtx,
        count: &Expr,
        size: &Expr,
        lock: &Expr,
    ) -> Result<Self, String> {
        let count = ctx.eval_size(count)?;
        let size = ctx.eval_size(size)?;
        let locked = ctx.eval(lock)? != 0;
        let writer = ctx.scope().1;
        if writer >= MAX_TAGGED_WRITERS {
            return Err(too_many_writers());
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
            *b = super::tag_byte(self.writer, m * self.size + i);
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
        ctx: &impl ActorCtx,
        writers: &Expr,
        count: &Expr,
        size: &Expr,
        buf: &Expr,
    ) -> Result<Self, String> {
        let writers = ctx.eval_size(writers)?;
        let count = ctx.eval_size(count)?;
        let size = ctx.eval_size(size)?.max(1);
        let buf = ctx.eval_size(buf)?;
        if writers > MAX_TAGGED_WRITERS {
            return Err(too_many_writers());
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

/// The step's result after a call that failed and ended it.
pub(super) fn failed(mut r: StepResult, e: &io::Error) -> StepResult {
    r.failed(e);
    r
}

impl StepResult {
    /// A call that moved `k` bytes.
    pub(super) fn moved(&mut self, k: usize) {
        self.bytes += k as i64;
        self.sizes.push(k as i64);
        self.count += 1;
        self.calls.push(k.to_string());
    }

    /// A call that failed.
    pub(super) fn failed(&mut self, e: &io::Error) {
        self.outcome = Outcome::from_io(e);
        self.calls.push(call_label(&self.outcome));
    }

    /// A call that failed, in a step that goes on: the first error stays the step's
    /// outcome.
    pub(super) fn failed_again(&mut self, o: Outcome) {
        self.calls.push(call_label(&o));
        if self.outcome.is_ok() {
            self.outcome = o;
        }
    }
}

/// How `calls` shows a failed call: its errno name, else the outcome.
fn call_label(o: &Outcome) -> String {
    match o {
        Outcome::Err { errno: Some(n), .. } => n.clone(),
        other => other.to_string(),
    }
}
