//! The std engine: blocking std sockets (socket2), one OS thread per actor.
//!
//! Each actor instance runs the interpreter on a thread of its own; every primitive is a
//! blocking call, so the interpreter's futures never pend. The calling thread is the
//! watchdog: when the limit passes it shuts every socket down, which ends the blocking
//! calls it can (reads, writes and, on Linux, accepts), and waits a grace period for the
//! actors to notice. Sync points are a condition variable.

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{SockAddr, SockRef, Socket};

use super::context::{count, Ctx, RunState};
use super::resources::Resources;
use super::run;
use super::sockets::{
    in_netns, new_socket, CallNames, Dial, Direction, Prim, Sockets, WriteInChild,
};
use super::types::{lock, EngineError, Run, RunConfig, SLICE};
use crate::event::{millis, Outcome};
use crate::scenario::{PollFor, Scenario, SockOpt};
use crate::sys;

/// The std engine's own state in a run: the condition variable sync points wait on.
#[derive(Default)]
pub(super) struct Std {
    sync_cv: Condvar,
}

/// Runs `scenario` on the std engine; see [`super::run_on`].
pub(super) fn run(scenario: &Scenario, config: &RunConfig) -> Run {
    let started = match run::start(scenario, config, |_| Std::default()) {
        Ok(s) => s,
        Err(not_started) => return *not_started,
    };
    let shared = started.shared;
    let (done_tx, done_rx) = mpsc::channel::<usize>();
    for (a, steps) in started.actors {
        let slot = a.slot;
        let sh = Arc::clone(&shared);
        let done_tx = done_tx.clone();
        let spawned = thread::Builder::new()
            .name(format!("tcplab-{}", a.name))
            .spawn(move || {
                *lock(&sh.run.actors[slot].tid) = Some(sys::thread_id());
                run::run_actor_here(a, &steps);
                let _ = done_tx.send(slot);
            });
        if let Err(cause) = spawned {
            let what = "a thread for an actor";
            shared.run.out.fail(EngineError::Start { what, cause });
            shared.cancel_all();
        }
    }
    drop(done_tx);
    // Shutting every socket down ends the stuck actors' blocking calls.
    let run = run::watch(&shared, &done_rx, started.timeout);
    shared.close_all();
    run
}

impl Sockets for Std {
    type Socket = Arc<Socket>;
    type WriteLock = Mutex<()>;
    type WriteGuard<'a> = MutexGuard<'a, ()>;

    const NAMES: CallNames = CallNames {
        close: "close",
        connect_start: ("connect (non-blocking)", None),
        connect_again: ("connect", None),
        state: "getsockopt(TCP_INFO)",
        blocked: "is asleep inside a socket call",
        not_blocked: "did not block in a socket call",
    };

    const STALE_NOTE: Option<&'static str> = None;

    fn kernel(s: &Arc<Socket>) -> io::Result<SockRef<'_>> {
        Ok(SockRef::from(&**s))
    }

    fn bound(s: Socket) -> Arc<Socket> {
        Arc::new(s)
    }

    fn listener(&self, _: &mut Ctx, _: &str, s: Socket) -> io::Result<Arc<Socket>> {
        Ok(Arc::new(s))
    }

    fn connecting(&self, _: &mut Ctx, _: &str, s: Socket) -> Result<Arc<Socket>, EngineError> {
        Ok(Arc::new(s))
    }

    fn into_socket(s: Arc<Socket>) -> Result<io::Result<Socket>, Arc<Socket>> {
        Arc::try_unwrap(s).map(Ok)
    }

    async fn accept(
        &self,
        cx: &mut Ctx,
        l: &Arc<Socket>,
        from: &str,
        limit: Option<Duration>,
    ) -> Prim<Arc<Socket>> {
        if let Some(limit) = limit {
            if let Some(out) = poll_for(cx, l, from, sys::POLLIN, limit) {
                return Ok(Err(out));
            }
        }
        let accepted = cx.call("accept", Some(from), None, || l.accept(), |_| None);
        Ok(accepted
            .map(|(s, _)| Arc::new(s))
            .map_err(|e| Outcome::from_io(&e)))
    }

    async fn dial(&self, cx: &mut Ctx, d: Dial<'_>) -> Result<Arc<Socket>, Outcome> {
        dial(cx, d.label, &SockAddr::from(d.addr), d.limit, d.options).map(Arc::new)
    }

    fn timer(&self, _: &str, _: Direction) -> Option<Duration> {
        None
    }

    async fn read(
        &self,
        cx: &mut Ctx,
        s: &Arc<Socket>,
        sock: &str,
        buf: &mut [u8],
        _: Option<Duration>,
    ) -> Prim<usize> {
        let n = Some(buf.len() as u64);
        let res = cx.call("recv", Some(sock), n, || (&**s).read(buf), count);
        Ok(res.map_err(|e| Outcome::from_io(&e)))
    }

    async fn write(
        &self,
        cx: &mut Ctx,
        s: &Arc<Socket>,
        sock: &str,
        buf: &[u8],
        _: Option<Duration>,
    ) -> Prim<usize> {
        self.try_write(cx, s, sock, buf)
    }

    async fn begin_try_writes(&self, cx: &mut Ctx, s: &Arc<Socket>, sock: &str) -> Prim<()> {
        let set = || s.set_nonblocking(true);
        let res = cx.call("set_nonblocking(true)", Some(sock), None, set, |_| None);
        Ok(res.map_err(|e| Outcome::from_io(&e)))
    }

    fn try_write(&self, cx: &mut Ctx, s: &Arc<Socket>, sock: &str, buf: &[u8]) -> Prim<usize> {
        let n = Some(buf.len() as u64);
        let res = cx.call("send", Some(sock), n, || (&**s).write(buf), count);
        Ok(res.map_err(|e| Outcome::from_io(&e)))
    }

    fn end_try_writes(&self, cx: &mut Ctx, s: &Arc<Socket>, sock: &str) {
        let set = || s.set_nonblocking(false);
        let _ = cx.call("set_nonblocking(false)", Some(sock), None, set, |_| None);
    }

    async fn poll(
        &self,
        cx: &mut Ctx,
        s: &Arc<Socket>,
        sock: &str,
        wait_for: PollFor,
        limit: Duration,
    ) -> Result<(String, Outcome), EngineError> {
        let (events, wanted) = poll_bits(wait_for)?;
        let t0 = Instant::now();
        let at = cx.now_ms();
        let mut seen = 0i16;
        let outcome = loop {
            let left = limit.saturating_sub(t0.elapsed());
            match sys::poll(s, events, left.min(SLICE)) {
                Ok(rev) => {
                    seen = rev;
                    if rev & wanted != 0 {
                        break Outcome::Ok;
                    }
                }
                Err(e) => break Outcome::from_io(&e),
            }
            if cx.cancelled() || t0.elapsed() >= limit {
                break Outcome::deadline();
            }
        };
        let names = revent_names(seen);
        cx.record(
            &format!("poll({})", revent_names(events | wanted)),
            Some(sock),
            None,
            Some(i64::from(seen)),
            outcome.clone(),
            at,
            millis(t0.elapsed()),
            Some(names.clone()),
        );
        Ok((names, outcome))
    }

    fn check_option(_: SockOpt, _: i64) -> Result<(), EngineError> {
        Ok(())
    }

    fn option_set(&self, _: &str, _: SockOpt, _: i64) -> Option<String> {
        None
    }

    async fn write_in_child(
        &self,
        cx: &mut Ctx,
        s: &Arc<Socket>,
        sock: &str,
        w: &WriteInChild,
    ) -> Result<sys::ChildEnd, Outcome> {
        let buf = vec![b'x'; w.bytes];
        let child = || sys::write_in_child(s, &buf, w.default, w.limit);
        cx.call(
            w.child_op(),
            Some(sock),
            Some(w.bytes as u64),
            child,
            |_| None,
        )
        .map_err(|e| Outcome::from_io(&e))
    }

    async fn wait_sync(&self, cx: &Ctx, sync: &str, count: i64) -> bool {
        let mut syncs = lock(&cx.run.syncs);
        loop {
            if syncs.get(sync).copied().unwrap_or(0) >= count {
                return true;
            }
            if cx.run.cancelled() {
                return false;
            }
            syncs = self
                .sync_cv
                .wait_timeout(syncs, SLICE)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn wake_waiters(&self) {
        self.sync_cv.notify_all();
    }

    /// Where the system cannot tell a thread's sleep from running, being inside the call
    /// counts.
    fn instance_blocked(&self, run: &RunState, slot: usize) -> bool {
        let st = &run.actors[slot];
        if !st.in_call.load(Ordering::SeqCst) {
            return false;
        }
        let Some(tid) = *lock(&st.tid) else {
            return false;
        };
        sys::thread_is_asleep(tid) != Some(false)
    }

    async fn pause() {
        thread::sleep(Duration::from_millis(1));
    }

    async fn hold(l: &Mutex<()>) -> MutexGuard<'_, ()> {
        lock(l)
    }

    fn cancel_all(&self, run: &RunState, resources: &Resources<Self::Socket>) {
        run.cancel();
        self.sync_cv.notify_all();
        // Wakes blocked reads, writes and (on Linux) accepts; errors are expected on
        // sockets that are not connected.
        resources.each_open(|s| {
            let _ = s.shutdown(std::net::Shutdown::Both);
        });
    }
}

/// One dial: blocking connect(2), or with a limit a non-blocking connect and poll.
fn dial(
    cx: &mut Ctx,
    label: &str,
    addr: &SockAddr,
    limit: Option<Duration>,
    options: &[(SockOpt, i64)],
) -> Result<Socket, Outcome> {
    let from_io = |e: io::Error| Outcome::from_io(&e);
    let ns = cx.netns();
    let make = || in_netns(ns.as_deref(), new_socket);
    let s = cx
        .call("socket", Some(label), None, make, |_| None)
        .map_err(from_io)?;
    super::sockets::dial_options(cx, label, &s, options).map_err(from_io)?;
    let Some(limit) = limit else {
        let connect = || s.connect(addr);
        cx.call("connect", Some(label), None, connect, |_| None)
            .map_err(from_io)?;
        return Ok(s);
    };
    s.set_nonblocking(true).map_err(from_io)?;
    let connect = || s.connect(addr);
    match cx.call("connect (non-blocking)", Some(label), None, connect, |_| {
        None
    }) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(sys::EINPROGRESS) => {
            if let Some(out) = poll_for(cx, &s, label, sys::POLLOUT, limit) {
                return Err(out);
            }
            let pending = |e: &Option<io::Error>| {
                Some(e.as_ref().and_then(|e| e.raw_os_error()).unwrap_or(0) as i64)
            };
            match cx.call(
                "getsockopt(SO_ERROR)",
                Some(label),
                None,
                || s.take_error(),
                pending,
            ) {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return Err(from_io(e)),
            }
        }
        Err(e) => return Err(from_io(e)),
    }
    s.set_nonblocking(false).map_err(from_io)?;
    Ok(s)
}

/// Polls until `events` show up or `limit` passes. `Some(outcome)` means stop: the
/// deadline passed (or the run was cancelled), or poll itself failed.
fn poll_for(
    cx: &mut Ctx,
    s: &Socket,
    label: &str,
    events: i16,
    limit: Duration,
) -> Option<Outcome> {
    let t0 = Instant::now();
    let at = cx.now_ms();
    let op = format!("poll({})", revent_names(events));
    loop {
        let left = limit.saturating_sub(t0.elapsed());
        let (returned, outcome, note) = match sys::poll(s, events, left.min(SLICE)) {
            Ok(0) if !cx.cancelled() && t0.elapsed() < limit => continue,
            Ok(0) => {
                let note = format!("nothing within {} ms", limit.as_millis());
                (Some(0), Outcome::deadline(), Some(note))
            }
            Ok(rev) => (Some(i64::from(rev)), Outcome::Ok, Some(revent_names(rev))),
            Err(e) => (None, Outcome::from_io(&e), None),
        };
        let el = millis(t0.elapsed());
        cx.record(
            &op,
            Some(label),
            None,
            returned,
            outcome.clone(),
            at,
            el,
            note,
        );
        return (!outcome.is_ok()).then_some(outcome);
    }
}

/// The poll(2) events a `poll` step asks for, and the revents bits that end its wait.
fn poll_bits(f: PollFor) -> Result<(i16, i16), EngineError> {
    Ok(match f {
        PollFor::In => (sys::POLLIN, sys::POLLIN),
        PollFor::Out => (sys::POLLOUT, sys::POLLOUT),
        // Errors and hang-ups are always reported, whatever was asked for.
        PollFor::Err => (0, sys::POLLERR),
        PollFor::Hup => (0, sys::POLLHUP),
        // POLLRDHUP is reported only when asked for.
        PollFor::Rdhup => {
            let bit = sys::POLLRDHUP.ok_or(EngineError::Unsupported(
                "poll for = \"rdhup\": this system's poll(2) has no POLLRDHUP",
            ))?;
            (bit, bit)
        }
    })
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
