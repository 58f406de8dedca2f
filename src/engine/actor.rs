//! One actor instance's view of a run: its expressions, its events, the run's sockets.
//!
//! Every call an actor makes is recorded through its context as one [`Event`]: [`Actor::call`]
//! for calls that return at once or block the thread, the engines' own awaits through
//! [`Actor::record`]. A step's first [`MAX_EVENTS_PER_STEP`] calls are recorded one by
//! one; the rest are folded into one summary event.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::run::{lock, lookup_in, ActorState, Shared};
use super::sockets::Sockets;
use super::{EngineError, RunConfig};
use crate::event::{millis, Event, Outcome};
use crate::scenario::Expr;
use crate::sys;

/// Calls of one step recorded one by one; later ones are folded into a summary event.
const MAX_EVENTS_PER_STEP: usize = 200;

/// One actor instance: where it is in the run, and what it records.
pub(super) struct Actor<E: Sockets> {
    pub shared: Arc<Shared<E>>,
    /// Its place in the run's table of actors.
    pub slot: usize,
    /// `client`, or `writer#2` for the third instance of a repeated actor.
    pub name: String,
    /// Its instance number (`index` in expressions).
    pub index: usize,
    pub config: Arc<RunConfig>,
    log: EventLog,
}

impl<E: Sockets> Actor<E> {
    pub fn new(
        shared: Arc<Shared<E>>,
        slot: usize,
        name: String,
        index: usize,
        config: Arc<RunConfig>,
    ) -> Actor<E> {
        Actor {
            shared,
            slot,
            name,
            index,
            config,
            log: EventLog::default(),
        }
    }

    /// This instance's entry in the watchdog's table.
    pub fn actor_state(&self) -> &ActorState {
        &self.shared.run.actors[self.slot]
    }

    pub fn cancelled(&self) -> bool {
        self.shared.run.cancelled()
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> f64 {
        self.shared.run.ms(Instant::now())
    }

    /// Step `no` (at `line` of the scenario, doing `op`) starts.
    pub fn begin_step(&mut self, no: usize, line: usize, op: &str) {
        let st = self.actor_state();
        st.step.store(no, Ordering::SeqCst);
        st.line.store(line, Ordering::SeqCst);
        *lock(&st.op) = op.to_owned();
        self.log.begin_step(no);
    }

    // -- expressions -------------------------------------------------------------------

    pub fn eval(&self, e: &Expr) -> Result<i64, EngineError> {
        e.eval(&|n| lookup_in(&self.config, n, self.index))
            .map_err(|error| EngineError::Expr {
                expr: e.to_string(),
                error,
            })
    }

    /// A non-negative size from an expression.
    pub fn eval_size(&self, e: &Expr) -> Result<usize, EngineError> {
        let value = self.eval(e)?;
        usize::try_from(value).map_err(|_| EngineError::NotASize {
            expr: e.to_string(),
            value,
        })
    }

    // -- sockets -----------------------------------------------------------------------

    /// The open socket `name`.
    pub fn socket(&self, name: &str) -> Result<E::Socket, EngineError> {
        self.shared.resources.socket(name)
    }

    /// The kernel's view of socket `name` (socket2), for what both engines do alike.
    pub fn with_kernel<T>(
        &self,
        name: &str,
        f: impl FnOnce(&socket2::Socket) -> io::Result<T>,
    ) -> Result<io::Result<T>, EngineError> {
        let s = self.socket(name)?;
        Ok(E::kernel(&s).and_then(|k| f(&k)))
    }

    /// The local address of the socket `name`, open or closed (for `port_of`).
    pub fn local_addr_of(&self, name: &str) -> Result<SocketAddr, EngineError> {
        if let Some(a) = self.shared.resources.closed_addrs(name) {
            return a
                .map(|(l, _)| l)
                .ok_or_else(|| EngineError::AddressUnknown(name.to_owned()));
        }
        self.with_kernel(name, |s| s.local_addr())?
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| EngineError::NoAddress {
                name: name.to_owned(),
                cause: None,
            })
    }

    /// The address of the socket a dial to `to` goes to.
    pub fn target(&self, to: &str) -> Result<SocketAddr, EngineError> {
        let no_address = |cause| EngineError::NoAddress {
            name: to.to_owned(),
            cause,
        };
        self.with_kernel(to, |s| s.local_addr())?
            .map_err(|e| no_address(Some(e)))?
            .as_socket()
            .ok_or_else(|| no_address(None))
    }

    /// Remembers the peer `name` was connected (or is connecting) to.
    pub fn remember_peer(&self, name: &str, peer: SocketAddr) {
        lock(&self.shared.run.peers).insert(name.to_owned(), peer);
    }

    /// The peer remembered for `name`.
    pub fn remembered_peer(&self, name: &str) -> Option<SocketAddr> {
        lock(&self.shared.run.peers).get(name).copied()
    }

    /// Stores socket `name`, remembering its peer if it has one.
    pub fn put_socket(&self, name: &str, s: E::Socket) {
        let peer = E::kernel(&s)
            .ok()
            .and_then(|k| k.peer_addr().ok())
            .and_then(|a| a.as_socket());
        if let Some(peer) = peer {
            self.remember_peer(name, peer);
        }
        self.shared.resources.put(name, s);
    }

    // -- sync points -------------------------------------------------------------------

    /// Counts one signal of `sync` and wakes the actors waiting for it.
    pub fn signal(&self, sync: &str) {
        *lock(&self.shared.run.syncs)
            .entry(sync.to_owned())
            .or_insert(0) += 1;
        E::wake_waiters(&self.shared);
    }

    /// Whether `sync` was signalled `count` times yet.
    pub fn signalled(&self, sync: &str, count: i64) -> bool {
        lock(&self.shared.run.syncs).get(sync).copied().unwrap_or(0) >= count
    }

    // -- events ------------------------------------------------------------------------

    /// Runs one socket call that returns at once or blocks this thread, timing it and
    /// recording an event; the watchdog sees the actor inside it (for `wait_blocked`).
    /// `returned` turns the call's success value into the figure the event shows (bytes
    /// moved, option value).
    pub fn call<T>(
        &mut self,
        op: &str,
        sock: Option<&str>,
        requested: Option<u64>,
        f: impl FnOnce() -> io::Result<T>,
        returned: impl FnOnce(&T) -> Option<i64>,
    ) -> io::Result<T> {
        self.call_noted(op, sock, requested, None, f, returned)
    }

    /// [`Actor::call`] with a note on the event (why the call is made the way it is).
    pub fn call_noted<T>(
        &mut self,
        op: &str,
        sock: Option<&str>,
        requested: Option<u64>,
        note: Option<&str>,
        f: impl FnOnce() -> io::Result<T>,
        returned: impl FnOnce(&T) -> Option<i64>,
    ) -> io::Result<T> {
        let st = &self.shared.run.actors[self.slot];
        *lock(&st.op) = op.to_owned();
        st.in_call.store(true, Ordering::SeqCst);
        let t0 = Instant::now();
        let r = f();
        let elapsed_ms = millis(t0.elapsed());
        st.in_call.store(false, Ordering::SeqCst);
        let note = match note {
            _ if self.cancelled() => {
                Some("ended by the watchdog's shutdown, not by the scenario".to_owned())
            }
            n => n.map(str::to_owned),
        };
        self.record_call(op, sock, requested, &r, returned, t0, elapsed_ms, note);
        r
    }

    /// Records an event of the engine's own (a sync point, a deadline) or a call's.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        op: &str,
        sock: Option<&str>,
        requested: Option<u64>,
        returned: Option<i64>,
        outcome: Outcome,
        at_ms: f64,
        elapsed_ms: f64,
        note: Option<String>,
    ) {
        let event = Event {
            actor: self.name.clone(),
            step: self.log.step,
            op: op.to_owned(),
            sock: sock.map(str::to_owned),
            requested,
            returned,
            outcome,
            at_ms,
            elapsed_ms,
            note,
        };
        self.log.push(&self.shared.run.out.events, event);
    }

    /// Records a step of the engine's own that went well (a sync point, a look at a
    /// socket's state): no bytes, outcome `ok`, and `note` saying what it found.
    pub fn record_own(
        &mut self,
        op: &str,
        sock: Option<&str>,
        at_ms: f64,
        elapsed_ms: f64,
        note: String,
    ) {
        let ok = Outcome::Ok;
        self.record(op, sock, None, None, ok, at_ms, elapsed_ms, Some(note));
    }

    /// Records a call begun at `t0` that took `elapsed_ms` and gave `r`; `returned`
    /// turns its success value into the event's figure. Gives back the call's outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn record_call<T>(
        &mut self,
        op: &str,
        sock: Option<&str>,
        requested: Option<u64>,
        r: &io::Result<T>,
        returned: impl FnOnce(&T) -> Option<i64>,
        t0: Instant,
        elapsed_ms: f64,
        note: Option<String>,
    ) -> Outcome {
        let (outcome, ret) = match r {
            Ok(v) => (Outcome::Ok, returned(v)),
            Err(e) => (Outcome::from_io(e), None),
        };
        let at = self.shared.run.ms(t0);
        let o = outcome.clone();
        self.record(op, sock, requested, ret, o, at, elapsed_ms, note);
        outcome
    }

    /// The step ended: its folded calls become their summary event.
    pub fn flush_folded(&mut self) {
        self.log.flush(&self.shared.run.out.events);
    }
}

/// The figure a byte-moving call's event shows.
pub(super) fn count(k: &usize) -> Option<i64> {
    Some(*k as i64)
}

/// A raw read(2)/write(2) on a closed socket's descriptor number, recorded; `note` says
/// why the engine makes it raw.
pub(super) fn stale_call<E: Sockets>(
    a: &mut Actor<E>,
    op: &str,
    sock: &str,
    n: usize,
    f: impl FnOnce() -> io::Result<usize>,
) -> io::Result<usize> {
    a.call_noted(op, Some(sock), Some(n as u64), E::STALE_NOTE, f, count)
}

/// The descriptor number `close` left for `name`, if it was closed on purpose.
pub(super) fn stale<E: Sockets>(a: &Actor<E>, name: &str) -> Option<sys::StaleHandle> {
    a.shared.resources.stale(name)
}

/// Calls folded into one summary event once a step has recorded enough.
struct Folded {
    first: Event,
    calls: u64,
    returned: i64,
    elapsed_ms: f64,
    last: Outcome,
}

/// One actor's events of the current step: the first [`MAX_EVENTS_PER_STEP`] as they
/// come, the rest folded into one summary event (their total and the last outcome).
#[derive(Default)]
struct EventLog {
    /// The 1-based number of the step its events belong to.
    step: usize,
    recorded: usize,
    folded: Option<Folded>,
}

impl EventLog {
    /// Step `no` starts: nothing recorded for it yet.
    fn begin_step(&mut self, no: usize) {
        self.step = no;
        self.recorded = 0;
    }

    fn push(&mut self, sink: &Mutex<Vec<Event>>, event: Event) {
        self.recorded += 1;
        if self.recorded <= MAX_EVENTS_PER_STEP {
            lock(sink).push(event);
            return;
        }
        let f = self.folded.get_or_insert_with(|| Folded {
            first: event.clone(),
            calls: 0,
            returned: 0,
            elapsed_ms: 0.0,
            last: Outcome::Ok,
        });
        f.calls += 1;
        f.returned += event.returned.unwrap_or(0);
        f.elapsed_ms = event.at_ms + event.elapsed_ms - f.first.at_ms;
        f.last = event.outcome;
    }

    fn flush(&mut self, sink: &Mutex<Vec<Event>>) {
        if let Some(f) = self.folded.take() {
            lock(sink).push(Event {
                requested: None,
                returned: Some(f.returned),
                outcome: f.last,
                elapsed_ms: f.elapsed_ms,
                note: Some(format!(
                    "{} further calls folded into this event: their total and the last outcome",
                    f.calls
                )),
                ..f.first
            });
        }
    }
}
