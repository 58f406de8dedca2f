//! The step interpreter: every op of the vocabulary, once, for every engine.
//!
//! Each arm evaluates the step's arguments, makes its calls (the engine's primitives of
//! [`Sockets`] where the engines differ, socket2 on the kernel socket where they do not)
//! and folds their results into the step's [`StepResult`]. A socket call that fails is
//! not an engine error: its errno is the observation. An engine error ends the run: a
//! socket that does not exist yet, an expression that cannot be evaluated.
//!
//! The interpreter is async; on the std engine its futures never pend (the primitives
//! block the actor's thread instead), on tokio they park the actor's task.

use std::io;
use std::time::Instant;

use socket2::SockAddr;

use std::sync::Arc;

use super::actor::Actor;
use super::args;
use super::sockets::{
    bound_socket, closing_addrs, get_option, listening_socket, ms, nonblocking_socket, set_option,
    Dial, Direction, Sockets, WriteInChild,
};
use super::types::{EngineError, StepOutcome, StepResult, ENGINE_WAIT_LIMIT};
use crate::event::{millis, Outcome};
use crate::scenario::{Action, SockOpt, Step};
use crate::sys;

/// Runs one step of actor `a`.
pub(super) async fn execute<E: Sockets>(a: &mut Actor<E>, step: &Step) -> StepOutcome {
    let shared = Arc::clone(&a.shared);
    let e = &shared.engine;
    let mut r = StepResult::new(&a.name, step.action.op());
    match &step.action {
        Action::Wire { .. } => {
            let net = a.config.net.clone().ok_or(EngineError::NoWire)?;
            let changes = step
                .action
                .wire_changes(&a.config.params)
                .map_err(EngineError::Wire)?;
            for change in changes {
                let op = format!("wire {}", args::describe_change(&change));
                let apply = || (net.wire)(&change);
                if let Err(e) = a.call(&op, None, None, apply, |_| None) {
                    r.failed(Outcome::from_io(&e));
                    break;
                }
            }
        }
        Action::Bind {
            name,
            reuseaddr,
            port_of,
        } => {
            let port = port_for(a, port_of)?;
            match bound_socket(a, name, *reuseaddr, port) {
                Ok(s) => a.put_socket(name, E::bound(s)),
                Err(e) => r.failed(Outcome::from_io(&e)),
            }
        }
        Action::Listen {
            name,
            backlog,
            reuseaddr,
            port_of,
        } => {
            let backlog = args::backlog(a, backlog)?;
            let port = port_for(a, port_of)?;
            let listening = listening_socket(a, name, backlog, *reuseaddr, port)
                .and_then(|s| e.listener(a, name, s));
            match listening {
                Ok(l) => a.put_socket(name, l),
                Err(e) => r.failed(Outcome::from_io(&e)),
            }
        }
        Action::Accept {
            from,
            name,
            timeout_ms,
        } => {
            let l = a.socket(from)?;
            let limit = args::eval_opt(a, timeout_ms)?.map(ms);
            match e.accept(a, &l, from, limit).await? {
                Ok(s) => a.put_socket(name, s),
                Err(o) => r.failed(o),
            }
        }
        Action::Connect {
            to,
            name,
            timeout_ms,
            options,
        } => {
            let addr = a.target(to)?;
            let limit = args::eval_opt(a, timeout_ms)?.map(ms);
            let mut set = Vec::new();
            for (opt, e) in crate::scenario::dial_options(options).unwrap_or_default() {
                set.push((opt, a.eval(e)?));
            }
            let d = Dial {
                label: name,
                addr,
                limit,
                options: &set,
            };
            match e.dial(a, d).await {
                Ok(s) => a.put_socket(name, s),
                Err(o) => r.outcome = o,
            }
        }
        Action::DialRepeat {
            to,
            name,
            max,
            timeout_ms,
        } => {
            let addr = a.target(to)?;
            let max = a.eval(max)?;
            let limit = args::eval_opt(a, timeout_ms)?.map(ms);
            let mut group = Vec::new();
            while (group.len() as i64) < max && !a.cancelled() {
                let label = format!("{name}#{}", group.len());
                let d = Dial {
                    label: &label,
                    addr,
                    limit,
                    options: &[],
                };
                match e.dial(a, d).await {
                    Ok(s) => group.push(s),
                    Err(o) => {
                        r.outcome = o;
                        break;
                    }
                }
            }
            r.count = group.len() as i64;
            a.shared.resources.put_group(name, group);
        }
        Action::Write { sock, bytes } => {
            let buf = args::buffer(b'x', a.eval_size(bytes)?)?;
            let res = match a.stale(sock) {
                Some(h) => Ok(a
                    .stale_call("write", sock, buf.len(), || sys::stale_write(h, &buf))
                    .map_err(|e| Outcome::from_io(&e))),
                None => {
                    let s = a.socket(sock)?;
                    let limit = e.timer(sock, Direction::Write);
                    e.write(a, &s, sock, &buf, limit).await
                }
            };
            match res? {
                Ok(k) => r.bytes = k as i64,
                Err(o) => r.outcome = o,
            }
        }
        Action::WriteAll { sock, bytes } => {
            let buf = args::buffer(b'x', a.eval_size(bytes)?)?;
            let s = a.socket(sock)?;
            write_all(a, &s, sock, &buf, &mut r).await?;
        }
        Action::WriteUntilBlocked {
            sock,
            chunk,
            max_bytes,
        } => {
            let w = args::WriteUntilBlocked::eval(a, chunk, max_bytes)?;
            let s = a.socket(sock)?;
            let buf = args::buffer(b'x', w.chunk)?;
            if let Err(o) = e.begin_try_writes(a, &s, sock).await? {
                r.failed(o);
                return Ok(r);
            }
            while !a.cancelled() && !w.full(&r) {
                match e.try_write(a, &s, sock, &buf)? {
                    Ok(k) => r.moved(k),
                    Err(o) => {
                        r.failed(o);
                        break;
                    }
                }
            }
            e.end_try_writes(a, &s, sock);
        }
        Action::Read { sock, buf } => {
            let mut b = args::buffer(0, a.eval_size(buf)?)?;
            match read_or_stale(a, sock, &mut b).await? {
                Ok(k) => r.bytes = k as i64,
                Err(o) => r.outcome = o,
            }
        }
        Action::ReadToEof {
            sock,
            buf,
            max_calls,
        } => {
            let rd = args::ReadToEof::eval(a, buf, max_calls)?;
            let s = a.socket(sock)?;
            let limit = e.timer(sock, Direction::Read);
            let mut b = args::buffer(0, rd.buf)?;
            while !a.cancelled() && !rd.done(&r) {
                match e.read(a, &s, sock, &mut b, limit).await? {
                    Ok(k) => {
                        r.moved(k);
                        if k == 0 {
                            break;
                        }
                    }
                    Err(o) => {
                        r.failed(o);
                        break;
                    }
                }
            }
        }
        Action::ReadTimes { sock, buf, times } => {
            let mut b = args::buffer(0, a.eval_size(buf)?)?;
            let times = a.eval_size(times)?;
            if a.stale(sock).is_none() {
                // The socket must exist before the first read, as for one read.
                a.socket(sock)?;
            }
            for _ in 0..times {
                if a.cancelled() {
                    break;
                }
                match read_or_stale(a, sock, &mut b).await? {
                    Ok(k) => r.moved(k),
                    // Keep the first error as the step's outcome; later reads still run.
                    Err(o) => r.failed_again(o),
                }
            }
        }
        Action::WaitBytes {
            sock,
            bytes,
            timeout_ms,
            queue,
        } => {
            let w = args::WaitBytes::eval(a, bytes, timeout_ms, *queue)?;
            let s = a.socket(sock)?;
            let t0 = Instant::now();
            let at = a.now_ms();
            let mut queued = 0;
            let outcome = loop {
                match E::kernel(&s).and_then(|k| w.read(&k)) {
                    Ok(q) => queued = q,
                    Err(e) => break Outcome::from_io(&e),
                }
                if w.reached(queued) {
                    break Outcome::Ok;
                }
                if a.cancelled() || t0.elapsed() >= w.limit {
                    break Outcome::deadline();
                }
                E::pause().await;
            };
            let el = millis(t0.elapsed());
            w.finish(a, sock, queued, outcome, at, el, &mut r);
        }
        Action::Set {
            sock,
            option: SockOpt::Congestion,
            value,
        } => {
            let name = args::congestion_name(a, value)?;
            let s = a.socket(sock)?;
            r.outcome = match E::kernel(&s) {
                Ok(k) => args::set_congestion(a, &k, sock, &name),
                Err(e) => Outcome::from_io(&e),
            };
        }
        Action::Get {
            sock,
            option: SockOpt::Congestion,
        } => {
            let s = a.socket(sock)?;
            match E::kernel(&s) {
                Ok(k) => args::get_congestion(a, &k, sock, &mut r),
                Err(e) => r.outcome = Outcome::from_io(&e),
            }
        }
        Action::Set {
            sock,
            option,
            value,
        } => {
            let v = a.eval(value)?;
            E::check_option(*option, v)?;
            let s = a.socket(sock)?;
            let t0 = Instant::now();
            let res = E::kernel(&s).and_then(|k| set_option(&k, *option, v));
            let el = millis(t0.elapsed());
            let note = match res {
                Ok(()) => e.option_set(sock, *option, v),
                Err(_) => None,
            };
            let op = format!("setsockopt({})", option.name());
            r.outcome = a.record_call(&op, Some(sock), None, &res, |_| Some(v), t0, el, note);
        }
        Action::Get { sock, option } => {
            let s = a.socket(sock)?;
            let op = args::get_op(*option);
            let get = || E::kernel(&s).and_then(|k| get_option(&k, *option));
            match a.call(&op, Some(sock), None, get, |v| Some(*v)) {
                Ok(v) => {
                    r.value = Some(v);
                    r.error = args::pending_error(*option, v);
                }
                Err(e) => r.outcome = Outcome::from_io(&e),
            }
        }
        Action::Shutdown { sock, how } => {
            let (how, label) = args::shutdown_how(*how);
            let s = a.socket(sock)?;
            let shut = || E::kernel(&s)?.shutdown(how);
            if let Err(e) = a.call(label, Some(sock), None, shut, |_| None) {
                r.outcome = Outcome::from_io(&e);
            }
        }
        Action::Close { sock } => {
            let s = match a.shared.resources.take(sock, E::into_socket)? {
                Ok(s) => s,
                Err(e) => {
                    r.failed(Outcome::from_io(&e));
                    return Ok(r);
                }
            };
            // Kept for a later `state` step (the kernel's table) and `port_of`.
            let addrs = closing_addrs(&s, a.remembered_peer(sock));
            let close = || sys::close_to_stale(s);
            match a.call(E::NAMES.close, Some(sock), None, close, |_| Some(0)) {
                Ok(h) => a.shared.resources.put_closed(sock, h, addrs),
                Err(e) => r.outcome = Outcome::from_io(&e),
            }
        }
        Action::Poll {
            sock,
            wait_for,
            timeout_ms,
        } => {
            let t = a.eval(timeout_ms)?;
            let s = a.socket(sock)?;
            let (revents, outcome) = e.poll(a, &s, sock, *wait_for, ms(t)).await?;
            r.revents = Some(revents);
            r.outcome = outcome;
        }
        Action::Signal { sync } => {
            a.signal(sync);
            let at = a.now_ms();
            a.record_own("signal", None, at, 0.0, sync.clone());
        }
        Action::Wait { sync, count } => {
            let n = args::wait_count(a, count)?;
            let at = a.now_ms();
            let t0 = Instant::now();
            if !e.wait_sync(a, sync, n).await {
                return Err(EngineError::CancelledSync(sync.clone()));
            }
            let el = millis(t0.elapsed());
            a.record_own("wait", None, at, el, sync.clone());
        }
        Action::WaitBlocked { actor } => {
            let at = a.now_ms();
            let t0 = Instant::now();
            while !all_blocked(a, actor)? {
                if a.cancelled() {
                    return Err(EngineError::CancelledBlock(actor.clone()));
                }
                if t0.elapsed() >= ENGINE_WAIT_LIMIT {
                    return Err(EngineError::NotBlocked {
                        actor: actor.clone(),
                        how: E::NAMES.not_blocked,
                    });
                }
                E::pause().await;
            }
            let el = millis(t0.elapsed());
            let note = format!("{actor} {}", E::NAMES.blocked);
            a.record_own("wait_blocked", None, at, el, note);
        }
        Action::ConnectStart { to, name } => {
            let addr = a.target(to)?;
            let s = match nonblocking_socket(a, name) {
                Ok(s) => s,
                Err(e) => {
                    r.failed(Outcome::from_io(&e));
                    return Ok(r);
                }
            };
            let (op, note) = E::NAMES.connect_start;
            let connect = || s.connect(&SockAddr::from(addr));
            if let Err(e) = a.call_noted(op, Some(name), None, note, connect, |_| None) {
                r.outcome = Outcome::from_io(&e);
            }
            // Kept whatever connect said, so that poll and SO_ERROR can follow.
            a.remember_peer(name, addr);
            let s = e.connecting(a, name, s)?;
            a.put_socket(name, s);
        }
        Action::ConnectAgain { sock, to } => {
            let addr = SockAddr::from(a.target(to)?);
            let s = a.socket(sock)?;
            let (op, note) = E::NAMES.connect_again;
            let connect = || E::kernel(&s)?.connect(&addr);
            if let Err(e) = a.call_noted(op, Some(sock), None, note, connect, |_| None) {
                r.outcome = Outcome::from_io(&e);
            }
        }
        Action::State { sock } => {
            let at = a.now_ms();
            let t0 = Instant::now();
            let (op, state) = match a.shared.resources.closed_addrs(sock) {
                // The kernel's table is per namespace: an actor on a host reads its host's.
                Some(addrs) => match a.netns() {
                    Some(ns) => ns
                        .run(|| args::closed_state(addrs))
                        .unwrap_or(("look up the connection in the kernel's table", None)),
                    None => args::closed_state(addrs),
                },
                None => {
                    let s = a.socket(sock)?;
                    let state = E::kernel(&s).ok().and_then(|k| sys::tcp_state(&k));
                    (E::NAMES.state, state.map(str::to_owned))
                }
            };
            let note = args::state_note(&state);
            a.record_own(op, Some(sock), at, millis(t0.elapsed()), note);
            r.state = state;
        }
        Action::WriteInChild {
            sock,
            bytes,
            sigpipe,
            timeout_ms,
        } => {
            let w = WriteInChild::eval(a, bytes, *sigpipe, timeout_ms)?;
            let s = a.socket(sock)?;
            let end = e.write_in_child(a, &s, sock, &w).await;
            args::child_ended(&mut r, end);
        }
        Action::Request {
            sock,
            count: n,
            parts,
            part_bytes,
            reply_bytes,
        } => {
            let q = args::Request::eval(a, n, parts, part_bytes, reply_bytes)?;
            let s = a.socket(sock)?;
            'exchanges: for _ in 0..q.count {
                for _ in 0..q.parts {
                    let mut one = StepResult::new(&a.name, "write_all");
                    write_all(a, &s, sock, &q.part, &mut one).await?;
                    if !one.outcome.is_ok() {
                        r.outcome = one.outcome;
                        break 'exchanges;
                    }
                }
                match read_exactly(a, &s, sock, q.reply).await? {
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
            let p = args::Respond::eval(a, n, request_bytes, reply_bytes)?;
            let s = a.socket(sock)?;
            for _ in 0..p.count {
                match read_exactly(a, &s, sock, p.request).await? {
                    Ok(k) => r.bytes += k as i64,
                    Err(o) => {
                        r.outcome = o;
                        break;
                    }
                }
                let mut one = StepResult::new(&a.name, "write_all");
                write_all(a, &s, sock, &p.reply, &mut one).await?;
                if !one.outcome.is_ok() {
                    r.outcome = one.outcome;
                    break;
                }
                r.count += 1;
            }
        }
        Action::WriteMessages {
            sock,
            count: n,
            size,
            lock,
        } => {
            let w = args::WriteMessages::eval(a, n, size, lock)?;
            let lock = w.locked.then(|| a.shared.write_lock(sock));
            let s = a.socket(sock)?;
            let mut msg = args::buffer(0, w.size)?;
            for m in 0..w.count {
                w.fill(&mut msg, m);
                let mut one = StepResult::new(&a.name, "write_all");
                match &lock {
                    Some(l) => {
                        let _held = E::hold(l).await;
                        write_all(a, &s, sock, &msg, &mut one).await?;
                    }
                    None => write_all(a, &s, sock, &msg, &mut one).await?,
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
            let rm = args::ReadMessages::eval(a, writers, n, size, buf)?;
            let s = a.socket(sock)?;
            let limit = e.timer(sock, Direction::Read);
            let mut check = rm.check();
            let mut b = args::buffer(0, rm.buf)?;
            while !a.cancelled() {
                match e.read(a, &s, sock, &mut b, limit).await? {
                    Ok(0) => break,
                    Ok(k) => check.feed(&b[..k]),
                    Err(o) => {
                        r.outcome = o;
                        break;
                    }
                }
            }
            rm.finish(&check, &mut r);
        }
    }
    Ok(r)
}

/// The port a `bind`/`listen` step asks for: that of `port_of`, or 0 (any).
fn port_for<E: Sockets>(a: &Actor<E>, port_of: &Option<String>) -> Result<u16, EngineError> {
    match port_of {
        Some(other) => a.local_addr_of(other).map(|a| a.port()),
        None => Ok(0),
    }
}

/// Whether every instance of `actor` waits on a socket, as the engine tells.
fn all_blocked<E: Sockets>(a: &Actor<E>, actor: &str) -> Result<bool, EngineError> {
    let mut slots = (a.shared.run.actors.iter().enumerate())
        .filter(|(_, st)| st.base == *actor)
        .map(|(slot, _)| slot)
        .peekable();
    if slots.peek().is_none() {
        return Err(EngineError::NoActor(actor.to_owned()));
    }
    Ok(slots.all(|slot| a.shared.engine.instance_blocked(&a.run, slot)))
}

/// One read on socket `sock`, or a raw read(2) on its descriptor number once closed.
async fn read_or_stale<E: Sockets>(
    a: &mut Actor<E>,
    sock: &str,
    b: &mut [u8],
) -> Result<Result<usize, Outcome>, EngineError> {
    let shared = Arc::clone(&a.shared);
    let e = &shared.engine;
    if let Some(h) = a.stale(sock) {
        let n = b.len();
        let res = a.stale_call("read", sock, n, || sys::stale_read(h, b));
        return Ok(res.map_err(|e| Outcome::from_io(&e)));
    }
    let s = a.socket(sock)?;
    let limit = e.timer(sock, Direction::Read);
    e.read(a, &s, sock, b, limit).await
}

/// Writes until all of `buf` is written or a write fails: std's `write_all` and tokio's.
/// Where the engine times writes itself (tokio's SO_SNDTIMEO), the timer covers the whole
/// of it, and an expired one is recorded with what its caller learns.
async fn write_all<E: Sockets>(
    a: &mut Actor<E>,
    s: &E::Socket,
    sock: &str,
    buf: &[u8],
    r: &mut StepResult,
) -> Result<(), EngineError> {
    let shared = Arc::clone(&a.shared);
    let e = &shared.engine;
    let deadline = e.timer(sock, Direction::Write).map(|d| Instant::now() + d);
    let mut off = 0;
    while off < buf.len() {
        if a.cancelled() {
            return Ok(());
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match e.write(a, s, sock, &buf[off..], left).await? {
            Ok(0) => {
                r.failed(Outcome::from_io(&io::Error::from(io::ErrorKind::WriteZero)));
                return Ok(());
            }
            Ok(k) => {
                off += k;
                r.moved(k);
            }
            Err(o) => {
                let timer = matches!(o, Outcome::Err { deadline: true, .. }) && deadline.is_some();
                r.failed(o);
                if timer {
                    let at = a.now_ms();
                    let note = format!(
                        "the caller of a timed-out write_all gets Elapsed only; {off} of {} bytes had left",
                        buf.len()
                    );
                    let n = Some(buf.len() as u64);
                    let o = Outcome::deadline();
                    a.record(
                        "write_all: Elapsed",
                        Some(sock),
                        n,
                        None,
                        o,
                        at,
                        0.0,
                        Some(note),
                    );
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Reads until exactly `want` bytes arrived (`read_exact`); EOF early is `UnexpectedEof`.
async fn read_exactly<E: Sockets>(
    a: &mut Actor<E>,
    s: &E::Socket,
    sock: &str,
    want: usize,
) -> Result<Result<usize, Outcome>, EngineError> {
    let shared = Arc::clone(&a.shared);
    let e = &shared.engine;
    let limit = e.timer(sock, Direction::Read);
    let mut b = args::buffer(0, want.max(1))?;
    let mut got = 0;
    while got < want {
        if a.cancelled() {
            return Ok(Err(Outcome::deadline()));
        }
        let left = want - got;
        match e.read(a, s, sock, &mut b[..left], limit).await? {
            Ok(0) => {
                let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
                return Ok(Err(Outcome::from_io(&eof)));
            }
            Ok(k) => got += k,
            Err(o) => return Ok(Err(o)),
        }
    }
    Ok(Ok(got))
}
