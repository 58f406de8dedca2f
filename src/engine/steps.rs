//! Each step of the vocabulary, on blocking std sockets (socket2).
//!
//! A socket call that fails is not an engine error: its errno is the observation. An
//! engine error (`Err(String)`) is a scenario that cannot go on: a socket that does not
//! exist yet, an expression that cannot be evaluated.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::args::{self, bound_socket, failed, port_for};
use super::{ActorCtx, Ctx, StepResult, SLICE};
use crate::event::{millis, Outcome};
use crate::scenario::{Action, PollFor, SockOpt, Step};
use crate::sys;

/// Writers a `read_messages` check can tell apart: a byte carries its writer in 4 bits.
pub const MAX_TAGGED_WRITERS: usize = 16;

/// Longest `wait_blocked` and default `wait_bytes` wait, within the watchdog's limit.
pub(super) const ENGINE_WAIT_LIMIT: Duration = Duration::from_secs(30);

pub(super) type StepOutcome = Result<StepResult, String>;

pub(super) fn new_socket() -> io::Result<Socket> {
    Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
}

pub(super) fn ms(d: i64) -> Duration {
    Duration::from_millis(d.max(0) as u64)
}

/// The byte a writer puts at position `pos` of its own stream (see `read_messages`).
pub fn tag_byte(writer: usize, pos: usize) -> u8 {
    ((writer as u8 & 0x0F) << 4) | (pos as u8 & 0x0F)
}

pub(super) fn execute(ctx: &mut Ctx<'_>, step: &Step) -> StepOutcome {
    let op = step.action.op();
    let mut r = StepResult::new(&ctx.actor, None, op);
    match &step.action {
        Action::Bind {
            name,
            reuseaddr,
            port_of,
        } => {
            let port = port_for(ctx, port_of)?;
            match bound_socket(ctx, name, *reuseaddr, port) {
                Ok(s) => ctx.put_socket(name, s),
                Err(e) => return Ok(failed(r, &e)),
            }
        }
        Action::Listen {
            name,
            backlog,
            reuseaddr,
            port_of,
        } => {
            let backlog = args::backlog(ctx, backlog)?;
            let port = port_for(ctx, port_of)?;
            match args::listening_socket(ctx, name, backlog, *reuseaddr, port) {
                Ok(s) => ctx.put_socket(name, s),
                Err(e) => return Ok(failed(r, &e)),
            }
        }
        Action::Accept {
            from,
            name,
            timeout_ms,
        } => {
            let l = ctx.socket(from)?;
            if let Some(t) = timeout_ms {
                let t = ctx.eval(t)?;
                if let Some(out) = poll_for(ctx, &l, from, sys::POLLIN, ms(t))? {
                    r.outcome = out;
                    return Ok(r);
                }
            }
            match ctx.call("accept", Some(from), None, || l.accept(), |_| None) {
                Ok((s, _)) => ctx.put_socket(name, s),
                Err(e) => return Ok(failed(r, &e)),
            }
        }
        Action::Connect {
            to,
            name,
            timeout_ms,
        } => {
            let addr = target(ctx, to)?;
            let deadline = args::eval_opt(ctx, timeout_ms)?;
            let (outcome, sock) = dial(ctx, name, &addr, deadline)?;
            r.outcome = outcome;
            if let Some(s) = sock {
                ctx.put_socket(name, s);
            }
        }
        Action::DialRepeat {
            to,
            name,
            max,
            timeout_ms,
        } => {
            let addr = target(ctx, to)?;
            let max = ctx.eval(max)?;
            let deadline = args::eval_opt(ctx, timeout_ms)?;
            let mut group = Vec::new();
            while (group.len() as i64) < max && !ctx.cancelled() {
                let label = format!("{name}#{}", group.len());
                let (outcome, sock) = dial(ctx, &label, &addr, deadline)?;
                match sock {
                    Some(s) => group.push(s),
                    None => {
                        r.outcome = outcome;
                        break;
                    }
                }
            }
            r.count = group.len() as i64;
            ctx.put_group(name, group);
        }
        Action::Write { sock, bytes } => {
            let n = ctx.eval_size(bytes)?;
            let buf = vec![b'x'; n];
            let res = match ctx.stale(sock) {
                Some(h) => ctx.call(
                    "write",
                    Some(sock),
                    Some(n as u64),
                    || sys::stale_write(h, &buf),
                    count,
                ),
                None => {
                    let s = ctx.socket(sock)?;
                    ctx.call(
                        "send",
                        Some(sock),
                        Some(n as u64),
                        || (&*s).write(&buf),
                        count,
                    )
                }
            };
            match res {
                Ok(k) => r.bytes = k as i64,
                Err(e) => r.outcome = Outcome::from_io(&e),
            }
        }
        Action::WriteAll { sock, bytes } => {
            let n = ctx.eval_size(bytes)?;
            let buf = vec![b'x'; n];
            let s = ctx.socket(sock)?;
            write_all(ctx, &s, sock, &buf, &mut r);
        }
        Action::WriteUntilBlocked {
            sock,
            chunk,
            max_bytes,
        } => {
            let a = args::WriteUntilBlocked::eval(ctx, chunk, max_bytes)?;
            let s = ctx.socket(sock)?;
            let buf = vec![b'x'; a.chunk];
            if let Err(e) = ctx.call(
                "set_nonblocking(true)",
                Some(sock),
                None,
                || s.set_nonblocking(true),
                |_| None,
            ) {
                return Ok(failed(r, &e));
            }
            loop {
                if ctx.cancelled() || a.full(&r) {
                    break;
                }
                match ctx.call(
                    "send",
                    Some(sock),
                    Some(a.chunk as u64),
                    || (&*s).write(&buf),
                    count,
                ) {
                    Ok(k) => r.moved(k),
                    Err(e) => {
                        r.failed(&e);
                        break;
                    }
                }
            }
            let _ = ctx.call(
                "set_nonblocking(false)",
                Some(sock),
                None,
                || s.set_nonblocking(false),
                |_| None,
            );
        }
        Action::Read { sock, buf } => {
            let n = ctx.eval_size(buf)?;
            let mut b = vec![0u8; n];
            let res = match ctx.stale(sock) {
                Some(h) => ctx.call(
                    "read",
                    Some(sock),
                    Some(n as u64),
                    || sys::stale_read(h, &mut b),
                    count,
                ),
                None => {
                    let s = ctx.socket(sock)?;
                    ctx.call(
                        "recv",
                        Some(sock),
                        Some(n as u64),
                        || (&*s).read(&mut b),
                        count,
                    )
                }
            };
            match res {
                Ok(k) => r.bytes = k as i64,
                Err(e) => r.outcome = Outcome::from_io(&e),
            }
        }
        Action::ReadToEof {
            sock,
            buf,
            max_calls,
        } => {
            let a = args::ReadToEof::eval(ctx, buf, max_calls)?;
            let n = a.buf;
            let s = ctx.socket(sock)?;
            let mut b = vec![0u8; n];
            loop {
                if ctx.cancelled() || a.done(&r) {
                    break;
                }
                match ctx.call(
                    "recv",
                    Some(sock),
                    Some(n as u64),
                    || (&*s).read(&mut b),
                    count,
                ) {
                    Ok(k) => {
                        r.moved(k);
                        if k == 0 {
                            break;
                        }
                    }
                    Err(e) => {
                        r.failed(&e);
                        break;
                    }
                }
            }
        }
        Action::ReadTimes { sock, buf, times } => {
            let n = ctx.eval_size(buf)?;
            let times = ctx.eval_size(times)?;
            let mut b = vec![0u8; n];
            let stale = ctx.stale(sock);
            let s = match stale {
                Some(_) => None,
                None => Some(ctx.socket(sock)?),
            };
            for _ in 0..times {
                if ctx.cancelled() {
                    break;
                }
                let res = match (&s, stale) {
                    (Some(s), _) => ctx.call(
                        "recv",
                        Some(sock),
                        Some(n as u64),
                        || (&**s).read(&mut b),
                        count,
                    ),
                    (None, Some(h)) => ctx.call(
                        "read",
                        Some(sock),
                        Some(n as u64),
                        || sys::stale_read(h, &mut b),
                        count,
                    ),
                    (None, None) => unreachable!("a socket or its stale number was found above"),
                };
                match res {
                    Ok(k) => r.moved(k),
                    // Keep the first error as the step's outcome; later reads still run.
                    Err(e) => r.failed_again(Outcome::from_io(&e)),
                }
            }
        }
        Action::WaitBytes {
            sock,
            bytes,
            timeout_ms,
            queue,
        } => {
            let a = args::WaitBytes::eval(ctx, bytes, timeout_ms, *queue)?;
            let s = ctx.socket(sock)?;
            let t0 = Instant::now();
            let at = ctx.now_ms();
            let mut queued = 0;
            let outcome = loop {
                match a.read(&s) {
                    Ok(q) => queued = q,
                    Err(e) => break Outcome::from_io(&e),
                }
                if a.reached(queued) {
                    break Outcome::Ok;
                }
                if ctx.cancelled() || t0.elapsed() >= a.limit {
                    break Outcome::deadline();
                }
                ctx.engine_wait_pause();
            };
            let el = millis(t0.elapsed());
            a.finish(ctx, sock, queued, outcome, at, el, &mut r);
        }
        Action::Set {
            sock,
            option: SockOpt::Congestion,
            value,
        } => {
            let name = args::congestion_name(ctx, value)?;
            let s = ctx.socket(sock)?;
            r.outcome = args::set_congestion(ctx, &s, sock, &name);
        }
        Action::Get {
            sock,
            option: SockOpt::Congestion,
        } => {
            let s = ctx.socket(sock)?;
            args::get_congestion(ctx, &s, sock, &mut r);
        }
        Action::Set {
            sock,
            option,
            value,
        } => {
            let v = ctx.eval(value)?;
            let s = ctx.socket(sock)?;
            let op = format!("setsockopt({})", option.name());
            let res = ctx.call(
                &op,
                Some(sock),
                None,
                || set_option(&s, *option, v),
                |_| Some(v),
            );
            if let Err(e) = res {
                r.outcome = Outcome::from_io(&e);
            }
        }
        Action::Get { sock, option } => {
            let s = ctx.socket(sock)?;
            let op = args::get_op(*option);
            match ctx.call(
                &op,
                Some(sock),
                None,
                || get_option(&s, *option),
                |v| Some(*v),
            ) {
                Ok(v) => {
                    r.value = Some(v);
                    r.error = args::pending_error(*option, v);
                }
                Err(e) => r.outcome = Outcome::from_io(&e),
            }
        }
        Action::ConnectStart { to, name } => {
            let addr = target(ctx, to)?;
            let s = match args::nonblocking_socket(ctx, name) {
                Ok(s) => s,
                Err(e) => return Ok(failed(r, &e)),
            };
            let res = ctx.call(
                "connect (non-blocking)",
                Some(name),
                None,
                || s.connect(&addr),
                |_| None,
            );
            if let Err(e) = res {
                r.outcome = Outcome::from_io(&e);
            }
            // Kept whatever connect said, so that poll and SO_ERROR can follow.
            if let Some(peer) = addr.as_socket() {
                ctx.remember_peer(name, peer);
            }
            ctx.put_socket(name, s);
        }
        Action::ConnectAgain { sock, to } => {
            let addr = target(ctx, to)?;
            let s = ctx.socket(sock)?;
            if let Err(e) = ctx.call("connect", Some(sock), None, || s.connect(&addr), |_| None) {
                r.outcome = Outcome::from_io(&e);
            }
        }
        Action::State { sock } => {
            let at = ctx.now_ms();
            let t0 = Instant::now();
            let (op, state) = match ctx.closed_addrs(sock) {
                Some(addrs) => args::closed_state(addrs),
                None => {
                    let s = ctx.socket(sock)?;
                    (
                        "getsockopt(TCP_INFO)",
                        sys::tcp_state(&s).map(str::to_owned),
                    )
                }
            };
            let note = args::state_note(&state);
            ctx.record_own(op, Some(sock), at, millis(t0.elapsed()), note);
            r.state = state;
        }
        Action::WriteInChild {
            sock,
            bytes,
            sigpipe,
            timeout_ms,
        } => {
            let a = args::WriteInChild::eval(ctx, bytes, *sigpipe, timeout_ms)?;
            let s = ctx.socket(sock)?;
            let buf = vec![b'x'; a.bytes];
            let end = ctx.call(
                a.child_op(),
                Some(sock),
                Some(a.bytes as u64),
                || sys::write_in_child(&s, &buf, a.default, a.limit),
                |_| None,
            );
            args::child_ended(&mut r, end);
        }
        Action::Request {
            sock,
            count: n,
            parts,
            part_bytes,
            reply_bytes,
        } => {
            let a = args::Request::eval(ctx, n, parts, part_bytes, reply_bytes)?;
            let s = ctx.socket(sock)?;
            'exchanges: for _ in 0..a.count {
                for _ in 0..a.parts {
                    let mut one = StepResult::new(&ctx.actor, None, "write_all");
                    write_all(ctx, &s, sock, &a.part, &mut one);
                    if !one.outcome.is_ok() {
                        r.outcome = one.outcome;
                        break 'exchanges;
                    }
                }
                match read_exactly(ctx, &s, sock, a.reply) {
                    Ok(k) => r.bytes += k as i64,
                    Err(o) => {
                        r.outcome = o;
                        break;
                    }
                }
                r.count += 1;
            }
        }
        Action::Respond {
            sock,
            count: n,
            request_bytes,
            reply_bytes,
        } => {
            let a = args::Respond::eval(ctx, n, request_bytes, reply_bytes)?;
            let s = ctx.socket(sock)?;
            for _ in 0..a.count {
                match read_exactly(ctx, &s, sock, a.request) {
                    Ok(k) => r.bytes += k as i64,
                    Err(o) => {
                        r.outcome = o;
                        break;
                    }
                }
                let mut one = StepResult::new(&ctx.actor, None, "write_all");
                write_all(ctx, &s, sock, &a.reply, &mut one);
                if !one.outcome.is_ok() {
                    r.outcome = one.outcome;
                    break;
                }
                r.count += 1;
            }
        }
        Action::Shutdown { sock, how } => {
            let s = ctx.socket(sock)?;
            let (how, label) = args::shutdown_how(*how);
            if let Err(e) = ctx.call(label, Some(sock), None, || s.shutdown(how), |_| None) {
                r.outcome = Outcome::from_io(&e);
            }
        }
        Action::Close { sock } => {
            let s = ctx.take_socket(sock)?;
            let addrs = closing_addrs(&s, ctx.remembered_peer(sock));
            match ctx.call(
                "close",
                Some(sock),
                None,
                || sys::close_to_stale(s),
                |_| Some(0),
            ) {
                Ok(h) => ctx.put_closed(sock, h, addrs),
                Err(e) => r.outcome = Outcome::from_io(&e),
            }
        }
        Action::Poll {
            sock,
            wait_for,
            timeout_ms,
        } => {
            let t = ctx.eval(timeout_ms)?;
            let s = ctx.socket(sock)?;
            let (events, wanted) = poll_bits(*wait_for);
            let t0 = Instant::now();
            let at = ctx.now_ms();
            let mut seen = 0i16;
            let outcome = loop {
                let left = ms(t).saturating_sub(t0.elapsed());
                match sys::poll(&s, events, left.min(SLICE)) {
                    Ok(rev) => {
                        seen = rev;
                        if rev & wanted != 0 {
                            break Outcome::Ok;
                        }
                    }
                    Err(e) => break Outcome::from_io(&e),
                }
                if ctx.cancelled() || t0.elapsed() >= ms(t) {
                    break Outcome::deadline();
                }
            };
            let names = revent_names(seen);
            ctx.record(
                &format!("poll({})", revent_names(events | wanted)),
                Some(sock),
                None,
                Some(i64::from(seen)),
                outcome.clone(),
                at,
                millis(t0.elapsed()),
                Some(names.clone()),
            );
            r.revents = Some(names);
            r.outcome = outcome;
        }
        Action::Signal { sync } => {
            ctx.signal(sync);
            let at = ctx.now_ms();
            ctx.record_own("signal", None, at, 0.0, sync.clone());
        }
        Action::Wait { sync, count } => {
            let n = args::wait_count(ctx, count)?;
            let at = ctx.now_ms();
            let t0 = Instant::now();
            if !ctx.wait_sync(sync, n) {
                return Err(format!("cancelled while waiting for `{sync}`"));
            }
            let el = millis(t0.elapsed());
            ctx.record_own("wait", None, at, el, sync.clone());
        }
        Action::WaitBlocked { actor } => {
            let at = ctx.now_ms();
            let t0 = Instant::now();
            while !ctx.actor_blocked(actor)? {
                if ctx.cancelled() {
                    return Err(format!("cancelled while waiting for `{actor}` to block"));
                }
                if t0.elapsed() >= ENGINE_WAIT_LIMIT {
                    return Err(format!("`{actor}` did not block in a socket call"));
                }
                ctx.engine_wait_pause();
            }
            let el = millis(t0.elapsed());
            let note = format!("{actor} is asleep inside a socket call");
            ctx.record_own("wait_blocked", None, at, el, note);
        }
        Action::WriteMessages {
            sock,
            count: n,
            size,
            lock,
        } => {
            let a = args::WriteMessages::eval(ctx, n, size, lock)?;
            let guard = a.locked.then(|| ctx.write_lock(sock));
            let s = ctx.socket(sock)?;
            let mut msg = vec![0u8; a.size];
            for m in 0..a.count {
                a.fill(&mut msg, m);
                let mut one = StepResult::new(&ctx.actor, None, "write_all");
                match &guard {
                    Some(g) => {
                        let _held = super::lock(g);
                        write_all(ctx, &s, sock, &msg, &mut one);
                    }
                    None => write_all(ctx, &s, sock, &msg, &mut one),
                }
                r.bytes += one.bytes;
                if !one.outcome.is_ok() {
                    r.outcome = one.outcome;
                    break;
                }
                r.count += 1;
            }
        }
        Action::ReadMessages {
            sock,
            writers,
            count: n,
            size,
            buf,
        } => {
            let a = args::ReadMessages::eval(ctx, writers, n, size, buf)?;
            let s = ctx.socket(sock)?;
            let mut check = a.check();
            let mut b = vec![0u8; a.buf];
            loop {
                if ctx.cancelled() {
                    break;
                }
                match ctx.call(
                    "recv",
                    Some(sock),
                    Some(a.buf as u64),
                    || (&*s).read(&mut b),
                    count,
                ) {
                    Ok(0) => break,
                    Ok(k) => check.feed(&b[..k]),
                    Err(e) => {
                        r.outcome = Outcome::from_io(&e);
                        break;
                    }
                }
            }
            a.finish(&check, &mut r);
        }
    }
    Ok(r)
}

/// What a `state` step reports when the kernel holds no entry for a closed socket.
pub const ABSENT: &str = "absent";

/// How long a `write_in_child` step waits for its child by default.
pub(super) const CHILD_LIMIT: Duration = Duration::from_secs(2);

/// The addresses of a socket about to be closed, for a later `state` step. The peer is
/// the one the socket was created for (getpeername fails once the connection ended),
/// 0.0.0.0:0 for a socket that never had one (a listener).
pub(super) fn closing_addrs(s: &Socket, remembered: Option<SocketAddr>) -> super::Addrs {
    let local = s.local_addr().ok()?.as_socket()?;
    let peer = s
        .peer_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .or(remembered)
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    Some((local, peer))
}

/// Reads until exactly `want` bytes arrived; EOF early is `UnexpectedEof`.
fn read_exactly(ctx: &mut Ctx<'_>, s: &Socket, sock: &str, want: usize) -> Result<usize, Outcome> {
    let mut b = vec![0u8; want.max(1)];
    let mut got = 0;
    while got < want {
        if ctx.cancelled() {
            return Err(Outcome::deadline());
        }
        let left = want - got;
        match ctx.call(
            "recv",
            Some(sock),
            Some(left as u64),
            || (&*s).read(&mut b[..left]),
            count,
        ) {
            Ok(0) => {
                return Err(Outcome::from_io(&io::Error::from(
                    io::ErrorKind::UnexpectedEof,
                )))
            }
            Ok(k) => got += k,
            Err(e) => return Err(Outcome::from_io(&e)),
        }
    }
    Ok(got)
}

pub(super) fn count(k: &usize) -> Option<i64> {
    Some(*k as i64)
}

fn write_all(ctx: &mut Ctx<'_>, s: &Arc<Socket>, sock: &str, buf: &[u8], r: &mut StepResult) {
    let mut off = 0;
    while off < buf.len() {
        if ctx.cancelled() {
            return;
        }
        let part = &buf[off..];
        match ctx.call(
            "send",
            Some(sock),
            Some(part.len() as u64),
            || (&**s).write(part),
            count,
        ) {
            Ok(0) => {
                r.outcome = Outcome::from_io(&io::Error::from(io::ErrorKind::WriteZero));
                return;
            }
            Ok(k) => {
                off += k;
                r.moved(k);
            }
            Err(e) => {
                r.failed(&e);
                return;
            }
        }
    }
}

/// The address of the socket a dial goes to.
fn target(ctx: &Ctx<'_>, to: &str) -> Result<SockAddr, String> {
    let s = ctx.socket(to)?;
    s.local_addr()
        .map_err(|e| format!("cannot read the address of `{to}`: {e}"))
}

/// One dial: blocking connect(2), or with a deadline a non-blocking connect and poll.
fn dial(
    ctx: &mut Ctx<'_>,
    label: &str,
    addr: &SockAddr,
    deadline_ms: Option<i64>,
) -> Result<(Outcome, Option<Socket>), String> {
    let s = match ctx.call("socket", Some(label), None, new_socket, |_| None) {
        Ok(s) => s,
        Err(e) => return Ok((Outcome::from_io(&e), None)),
    };
    let Some(deadline) = deadline_ms else {
        return Ok(
            match ctx.call("connect", Some(label), None, || s.connect(addr), |_| None) {
                Ok(()) => (Outcome::Ok, Some(s)),
                Err(e) => (Outcome::from_io(&e), None),
            },
        );
    };
    if let Err(e) = s.set_nonblocking(true) {
        return Ok((Outcome::from_io(&e), None));
    }
    match ctx.call(
        "connect (non-blocking)",
        Some(label),
        None,
        || s.connect(addr),
        |_| None,
    ) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(sys::EINPROGRESS) => {
            if let Some(out) = poll_for(ctx, &s, label, sys::POLLOUT, ms(deadline))? {
                return Ok((out, None));
            }
            match ctx.call(
                "getsockopt(SO_ERROR)",
                Some(label),
                None,
                || s.take_error(),
                |e| Some(e.as_ref().and_then(|e| e.raw_os_error()).unwrap_or(0) as i64),
            ) {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return Ok((Outcome::from_io(&e), None)),
            }
        }
        Err(e) => return Ok((Outcome::from_io(&e), None)),
    }
    if let Err(e) = s.set_nonblocking(false) {
        return Ok((Outcome::from_io(&e), None));
    }
    Ok((Outcome::Ok, Some(s)))
}

/// Polls until `events` show up or `limit` passes. `Some(outcome)` means stop: the
/// deadline passed (or the run was cancelled), or poll itself failed.
fn poll_for(
    ctx: &mut Ctx<'_>,
    s: &Socket,
    label: &str,
    events: i16,
    limit: Duration,
) -> Result<Option<Outcome>, String> {
    let t0 = Instant::now();
    let at = ctx.now_ms();
    let op = format!("poll({})", revent_names(events));
    loop {
        let left = limit.saturating_sub(t0.elapsed());
        match sys::poll(s, events, left.min(SLICE)) {
            Ok(0) => {}
            Ok(rev) => {
                let el = millis(t0.elapsed());
                ctx.record(
                    &op,
                    Some(label),
                    None,
                    Some(i64::from(rev)),
                    Outcome::Ok,
                    at,
                    el,
                    Some(revent_names(rev)),
                );
                return Ok(None);
            }
            Err(e) => {
                let el = millis(t0.elapsed());
                ctx.record(
                    &op,
                    Some(label),
                    None,
                    None,
                    Outcome::from_io(&e),
                    at,
                    el,
                    None,
                );
                return Ok(Some(Outcome::from_io(&e)));
            }
        }
        if ctx.cancelled() || t0.elapsed() >= limit {
            let el = millis(t0.elapsed());
            let note = format!("nothing within {} ms", limit.as_millis());
            ctx.record(
                &op,
                Some(label),
                None,
                Some(0),
                Outcome::deadline(),
                at,
                el,
                Some(note),
            );
            return Ok(Some(Outcome::deadline()));
        }
    }
}

pub(super) fn poll_bits(f: PollFor) -> (i16, i16) {
    match f {
        PollFor::In => (sys::POLLIN, sys::POLLIN),
        PollFor::Out => (sys::POLLOUT, sys::POLLOUT),
        // Errors and hang-ups are always reported, whatever was asked for.
        PollFor::Err => (0, sys::POLLERR),
        PollFor::Hup => (0, sys::POLLHUP),
    }
}

/// `POLLIN|POLLHUP`, or `none`.
pub fn revent_names(bits: i16) -> String {
    let names: Vec<&str> = sys::POLL_FLAGS
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("|")
    }
}

pub(super) fn set_option(s: &Socket, opt: SockOpt, v: i64) -> io::Result<()> {
    let timeout = |v: i64| (v > 0).then(|| ms(v));
    match opt {
        SockOpt::SndBuf => s.set_send_buffer_size(v.max(0) as usize),
        SockOpt::RcvBuf => s.set_recv_buffer_size(v.max(0) as usize),
        SockOpt::NoDelay => s.set_tcp_nodelay(v != 0),
        SockOpt::Linger => s.set_linger((v >= 0).then(|| Duration::from_secs(v as u64))),
        SockOpt::KeepAlive => s.set_keepalive(v != 0),
        SockOpt::RcvTimeo => s.set_read_timeout(timeout(v)),
        SockOpt::SndTimeo => s.set_write_timeout(timeout(v)),
        SockOpt::ReuseAddr => s.set_reuse_address(v != 0),
        SockOpt::KeepIdle => sys::set_keepalive(s, sys::Keepalive::Idle, v),
        SockOpt::KeepIntvl => sys::set_keepalive(s, sys::Keepalive::Interval, v),
        SockOpt::KeepCnt => sys::set_keepalive(s, sys::Keepalive::Count, v),
        SockOpt::NonBlocking => s.set_nonblocking(v != 0),
        SockOpt::Congestion => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP_CONGESTION takes a name (args::set_congestion)",
        )),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} can only be read", opt.name()),
        )),
    }
}

pub(super) fn get_option(s: &Socket, opt: SockOpt) -> io::Result<i64> {
    let whole_ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis() as i64);
    Ok(match opt {
        SockOpt::SndBuf => s.send_buffer_size()? as i64,
        SockOpt::RcvBuf => s.recv_buffer_size()? as i64,
        SockOpt::NoDelay => i64::from(s.tcp_nodelay()?),
        SockOpt::Linger => s.linger()?.map_or(-1, |d| d.as_secs() as i64),
        SockOpt::KeepAlive => i64::from(s.keepalive()?),
        SockOpt::RcvTimeo => whole_ms(s.read_timeout()?),
        SockOpt::SndTimeo => whole_ms(s.write_timeout()?),
        SockOpt::ReuseAddr => i64::from(s.reuse_address()?),
        SockOpt::Error => s.take_error()?.and_then(|e| e.raw_os_error()).unwrap_or(0) as i64,
        SockOpt::InQueue => sys::bytes_queued(s)? as i64,
        SockOpt::OutQueue => sys::bytes_unacked(s)? as i64,
        SockOpt::KeepIdle => sys::keepalive(s, sys::Keepalive::Idle)?,
        SockOpt::KeepIntvl => sys::keepalive(s, sys::Keepalive::Interval)?,
        SockOpt::KeepCnt => sys::keepalive(s, sys::Keepalive::Count)?,
        SockOpt::NonBlocking => i64::from(sys::is_nonblocking(s)?),
        SockOpt::Congestion => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TCP_CONGESTION is a name (args::get_congestion)",
            ))
        }
        info => sys::tcp_info_field(s, info.tcp_info_field().unwrap_or_default())?,
    })
}

/// Checks a stream of tagged bytes (see [`tag_byte`]) from several writers.
///
/// Every byte names its writer and its position (mod 16) in that writer's own stream, so
/// each writer's bytes can be followed through the shared stream: a message is intact
/// when its bytes arrived contiguously, interleaved when another writer's bytes came in
/// between. A byte that names no writer or the wrong position is corrupt.
pub struct FrameCheck {
    size: usize,
    /// Bytes seen per writer so far.
    seen: Vec<usize>,
    /// Stream position of the first byte of each writer's current message.
    started: Vec<usize>,
    pub received: usize,
    pub valid: usize,
    pub corrupt: usize,
    pub intact: usize,
    pub interleaved: usize,
}

impl FrameCheck {
    pub fn new(writers: usize, size: usize) -> FrameCheck {
        FrameCheck {
            size: size.max(1),
            seen: vec![0; writers],
            started: vec![0; writers],
            received: 0,
            valid: 0,
            corrupt: 0,
            intact: 0,
            interleaved: 0,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let at = self.received;
            self.received += 1;
            let w = usize::from(b >> 4);
            if w >= self.seen.len() || usize::from(b & 0x0F) != self.seen[w] & 0x0F {
                self.corrupt += 1;
                continue;
            }
            if self.seen[w].is_multiple_of(self.size) {
                self.started[w] = at;
            }
            self.seen[w] += 1;
            self.valid += 1;
            if self.seen[w].is_multiple_of(self.size) {
                if at + 1 - self.started[w] == self.size {
                    self.intact += 1;
                } else {
                    self.interleaved += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(writer: usize, m: usize, size: usize) -> Vec<u8> {
        (0..size).map(|i| tag_byte(writer, m * size + i)).collect()
    }

    #[test]
    fn whole_messages_in_any_order_are_intact() {
        let mut c = FrameCheck::new(2, 20);
        c.feed(&message(0, 0, 20));
        c.feed(&message(1, 0, 20));
        c.feed(&message(0, 1, 20));
        assert_eq!((c.intact, c.interleaved, c.corrupt, c.valid), (3, 0, 0, 60));
    }

    #[test]
    fn a_message_split_by_another_writer_is_interleaved() {
        let mut c = FrameCheck::new(2, 20);
        let a = message(0, 0, 20);
        c.feed(&a[..7]);
        c.feed(&message(1, 0, 20));
        c.feed(&a[7..]);
        assert_eq!((c.intact, c.interleaved, c.corrupt), (1, 1, 0));
    }

    #[test]
    fn lost_or_foreign_bytes_are_corrupt() {
        let mut c = FrameCheck::new(1, 20);
        let a = message(0, 0, 20);
        c.feed(&a[..5]);
        c.feed(&a[6..]);
        assert!(c.corrupt > 0);
        let mut c = FrameCheck::new(1, 4);
        c.feed(&[0xF0]);
        assert_eq!(c.corrupt, 1);
    }
}
