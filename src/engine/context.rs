//! What an actor instance is in a run, whichever engine: where it is (for the watchdog and
//! `wait_blocked`), its expressions, and the events it records.
//!
//! Every call an actor makes is recorded through its context as one [`Event`]:
//! [`Ctx::call`] for calls that return at once or block the thread, an engine's own awaits
//! through [`Ctx::record`]. A step's first [`MAX_EVENTS_PER_STEP`] calls are recorded one
//! by one; the rest are folded into one summary event.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::types::{lock, EngineError, Run, RunConfig, StepOutcome, StepResult, Stuck};
use crate::event::{millis, Event, Outcome};
use crate::scenario::{Expr, Lookup, Step};

/// Calls of one step recorded one by one; later ones are folded into a summary event.
const MAX_EVENTS_PER_STEP: usize = 200;

/// Where an actor instance is, for the watchdog and `wait_blocked`.
pub(super) struct ActorState {
    pub name: String,
    /// The logical actor (without `#i`), for `wait_blocked`.
    pub base: String,
    /// The OS thread it runs on (std engine), to ask whether it sleeps in the kernel.
    pub tid: Mutex<Option<u64>>,
    pub step: AtomicUsize,
    pub line: AtomicUsize,
    pub op: Mutex<String>,
    /// Inside a socket call (std) or parked in an await on a socket future (tokio).
    pub in_call: AtomicBool,
}

impl ActorState {
    fn new(name: &str, base: &str) -> ActorState {
        ActorState {
            name: name.to_owned(),
            base: base.to_owned(),
            tid: Mutex::new(None),
            step: AtomicUsize::new(0),
            line: AtomicUsize::new(0),
            op: Mutex::new("starting".into()),
            in_call: AtomicBool::new(false),
        }
    }

    /// Its steps are over (done, failed or cancelled).
    pub fn finished(&self) {
        self.step.store(0, Ordering::SeqCst);
        *lock(&self.op) = "finished".into();
    }

    /// Where this actor is now, for the watchdog's report.
    pub fn stuck(&self) -> Stuck {
        Stuck {
            actor: self.name.clone(),
            step: self.step.load(Ordering::SeqCst),
            op: lock(&self.op).clone(),
            line: self.line.load(Ordering::SeqCst),
            released: false,
        }
    }
}

/// The run's clock and cancel flag, the watchdog's table of actors, the sync points,
/// the peers remembered per socket, and what the actors produce.
pub(super) struct RunState {
    pub start: Instant,
    cancel: AtomicBool,
    pub actors: Vec<ActorState>,
    pub syncs: Mutex<HashMap<String, i64>>,
    /// The peer each connected socket was created for, by socket name: getpeername(2)
    /// fails once the connection is gone, and a `state` step after close needs it.
    pub peers: Mutex<HashMap<String, std::net::SocketAddr>>,
    pub out: Outputs,
}

impl RunState {
    /// A run started at `start` with these actor instances (each name and its actor's).
    pub fn new<'a>(
        start: Instant,
        instances: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> RunState {
        RunState {
            start,
            cancel: AtomicBool::new(false),
            actors: instances
                .map(|(name, base)| ActorState::new(name, base))
                .collect(),
            syncs: Mutex::new(HashMap::new()),
            peers: Mutex::new(HashMap::new()),
            out: Outputs::default(),
        }
    }

    /// Milliseconds from the run's start to `t`.
    pub fn ms(&self, t: Instant) -> f64 {
        millis(t.duration_since(self.start))
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Raises the cancel flag; the engine's `cancel_all` then ends what it can.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

/// What a run's actors produce, gathered as they go.
#[derive(Default)]
pub(super) struct Outputs {
    pub events: Mutex<Vec<Event>>,
    results: Mutex<Vec<StepResult>>,
    /// Errors of the engine itself, each naming actor and step.
    failures: Mutex<Vec<String>>,
    endpoints: Mutex<Vec<crate::packet::Endpoint>>,
}

impl Outputs {
    /// Notes a socket's addresses (see [`Run::endpoints`]).
    pub fn endpoint(&self, e: crate::packet::Endpoint) {
        lock(&self.endpoints).push(e);
    }

    pub fn fail(&self, e: impl std::fmt::Display) {
        lock(&self.failures).push(e.to_string());
    }

    /// A panic of actor `name`: a bug of the engine, not a finding.
    pub fn panicked(&self, name: &str, p: &(dyn std::any::Any + Send)) {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        self.fail(format!("{name}: the engine panicked (a bug): {what}"));
    }

    /// Files how step `no` of `actor`, begun at `t0`, ended; false when it was an engine
    /// error, which ends the run.
    pub fn settle(
        &self,
        actor: &str,
        no: usize,
        step: &Step,
        t0: Instant,
        outcome: StepOutcome,
    ) -> bool {
        match outcome {
            Ok(mut r) => {
                r.id = step.id.clone();
                r.elapsed_ms = millis(t0.elapsed());
                lock(&self.results).push(r);
                true
            }
            Err(e) => {
                self.fail(format!(
                    "{actor} step {no} ({}, line {}): {e}",
                    step.action.op(),
                    step.line
                ));
                false
            }
        }
    }

    /// The run: events in time order, step results, and the failures of the engine
    /// after those found before it started.
    pub fn take_run(&self, stuck: Vec<Stuck>, elapsed_ms: f64, timeout: Duration) -> Run {
        let mut events = std::mem::take(&mut *lock(&self.events));
        events.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        Run {
            events,
            steps: std::mem::take(&mut *lock(&self.results)),
            stuck,
            failures: std::mem::take(&mut *lock(&self.failures)),
            elapsed_ms,
            timeout_ms: timeout.as_millis() as u64,
            // Set by the lab around the engine.
            counters: None,
            endpoints: std::mem::take(&mut *lock(&self.endpoints)),
        }
    }
}

/// One actor instance's context: the run it belongs to, its place and name in it, the
/// parameters its expressions read, and its events.
pub(super) struct Ctx {
    pub run: Arc<RunState>,
    /// Its place in the run's table of actors.
    pub slot: usize,
    /// `client`, or `writer#2` for the third instance of a repeated actor.
    pub name: String,
    /// Its instance number (`index` in expressions).
    pub index: usize,
    pub config: Arc<RunConfig>,
    /// The host it runs on (a scenario on the wire); `None`: the room's loopback.
    pub host: Option<crate::scenario::wire::Host>,
    log: EventLog,
}

impl Ctx {
    pub fn new(
        run: Arc<RunState>,
        slot: usize,
        name: String,
        index: usize,
        config: Arc<RunConfig>,
    ) -> Ctx {
        Ctx {
            run,
            slot,
            name,
            index,
            config,
            host: None,
            log: EventLog::default(),
        }
    }

    /// The namespace of this actor's host, where its sockets must be created; `None` on
    /// loopback (the calling thread's, the room's).
    pub fn netns(&self) -> Option<Arc<crate::sys::NetnsFd>> {
        let (h, net) = (self.host?, self.config.net.as_ref()?);
        Some(Arc::clone(&net.host(h).0))
    }

    /// The address its sockets bind: its host's, or 127.0.0.1 on loopback.
    pub fn bind_ip(&self) -> std::net::Ipv4Addr {
        match (self.host, self.config.net.as_ref()) {
            (Some(h), Some(net)) => net.host(h).1,
            _ => std::net::Ipv4Addr::LOCALHOST,
        }
    }

    /// This instance's entry in the watchdog's table.
    pub fn actor_state(&self) -> &ActorState {
        &self.run.actors[self.slot]
    }

    pub fn cancelled(&self) -> bool {
        self.run.cancelled()
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> f64 {
        self.run.ms(Instant::now())
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

    /// Remembers the peer `name` was connected (or is connecting) to.
    pub fn remember_peer(&self, name: &str, peer: SocketAddr) {
        lock(&self.run.peers).insert(name.to_owned(), peer);
    }

    /// The peer remembered for `name`.
    pub fn remembered_peer(&self, name: &str) -> Option<SocketAddr> {
        lock(&self.run.peers).get(name).copied()
    }

    /// Whether `sync` was signalled `count` times yet.
    pub fn signalled(&self, sync: &str, count: i64) -> bool {
        lock(&self.run.syncs).get(sync).copied().unwrap_or(0) >= count
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
        let st = &self.run.actors[self.slot];
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
        self.log.push(&self.run.out.events, event);
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
        let at = self.run.ms(t0);
        let o = outcome.clone();
        self.record(op, sock, requested, ret, o, at, elapsed_ms, note);
        outcome
    }

    /// The step ended: its folded calls become their summary event.
    pub fn flush_folded(&mut self) {
        self.log.flush(&self.run.out.events);
    }
}

/// The figure a byte-moving call's event shows.
pub(super) fn count(k: &usize) -> Option<i64> {
    Some(*k as i64)
}

fn lookup_in(config: &RunConfig, name: &str, index: usize) -> Lookup {
    crate::scenario::lookup(&config.params, &config.facts, Some(index), name)
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
