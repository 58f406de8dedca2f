//! The engines that run a scenario's steps, and what they share.
//!
//! Two engines run the same scenario files and return the same [`Run`], so observations,
//! verdicts and reports do not know which one ran:
//! - `std` (this file and `steps.rs`): one OS thread per actor, blocking std sockets
//!   through socket2, a watchdog over the whole run;
//! - `tokio` (`tokio_engine.rs`): one task per actor on a tokio runtime, non-blocking
//!   tokio sockets, deadlines as tokio timers.
//!
//! What the engines do alike is written once: here the watchdog, the run's common state
//! (`RunState`) and the actor context's shared methods (`ActorCtx`: expressions,
//! events); in `args.rs` each step's arguments and the folding of its results. Each
//! engine keeps only its calls (a blocking call on std, an await on tokio).
//!
//! Every socket call goes through the engine's `call`, which times it and records an
//! [`Event`]. Ordering between actors comes only from the scenario's sync points; neither
//! engine sleeps to order anything. Their own waits (sync points, `wait_blocked`,
//! `wait_bytes`, `poll`) re-check a cancel flag at least every [`SLICE`], so the watchdog
//! can end them.

mod args;
mod steps;
mod tokio_engine;

pub use steps::{tag_byte, FrameCheck, MAX_TAGGED_WRITERS};

use std::collections::{BTreeMap, HashMap};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use socket2::Socket;

use crate::event::{millis, Event, Outcome};
pub use crate::scenario::{Engine, ENGINE_NAMES};
use crate::scenario::{Lookup, ParamValue, Scenario, Step};
use crate::sys;

/// How often the engine's own waits look at the cancel flag.
pub const SLICE: Duration = Duration::from_millis(20);

/// How long the watchdog waits, after shutting every socket down, for stuck actors.
const GRACE: Duration = Duration::from_secs(2);

/// Calls of one step recorded one by one; later ones are folded into a summary event.
const MAX_EVENTS_PER_STEP: usize = 200;

/// Runs `scenario` on `engine`; see [`run`] and the tokio engine's notes.
pub fn run_on(engine: Engine, scenario: &Scenario, config: &RunConfig) -> Run {
    match engine {
        Engine::Std => run(scenario, config),
        Engine::Tokio => tokio_engine::run(scenario, config),
    }
}

/// What a run is given besides the scenario.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    pub params: BTreeMap<String, ParamValue>,
    /// Environment facts for expressions (`somaxconn`, ...).
    pub facts: BTreeMap<String, i64>,
    /// Overrides the scenario's own watchdog limit.
    pub timeout: Option<Duration>,
}

/// The outcome of one step of one actor instance.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    pub actor: String,
    pub id: Option<String>,
    pub op: &'static str,
    pub outcome: Outcome,
    pub bytes: i64,
    pub sizes: Vec<i64>,
    pub count: i64,
    pub value: Option<i64>,
    pub revents: Option<String>,
    /// Each call's result, for `calls`.
    pub calls: Vec<String>,
    pub intact: i64,
    pub interleaved: i64,
    pub lost: i64,
    /// The TCP state a `state` step found (RFC name, or `absent`).
    pub state: Option<String>,
    /// The pending error a `get SO_ERROR` read, as an outcome.
    pub error: Option<Outcome>,
    /// How a `write_in_child` step's child ended.
    pub status: Option<String>,
    /// The name a `get TCP_CONGESTION` read.
    pub name: Option<String>,
    pub elapsed_ms: f64,
}

impl StepResult {
    pub(super) fn new(actor: &str, id: Option<String>, op: &'static str) -> StepResult {
        StepResult {
            actor: actor.to_owned(),
            id,
            op,
            outcome: Outcome::Ok,
            bytes: 0,
            sizes: Vec::new(),
            count: 0,
            value: None,
            revents: None,
            calls: Vec::new(),
            intact: 0,
            interleaved: 0,
            lost: 0,
            state: None,
            error: None,
            status: None,
            name: None,
            elapsed_ms: 0.0,
        }
    }
}

/// An actor the watchdog found still running.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stuck {
    pub actor: String,
    /// 1-based step index, its operation and line in the scenario file.
    pub step: usize,
    pub op: String,
    pub line: usize,
    /// Whether it ended once the watchdog shut its sockets down.
    pub released: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub events: Vec<Event>,
    pub steps: Vec<StepResult>,
    /// Set when the watchdog fired.
    pub stuck: Vec<Stuck>,
    /// Errors of the engine itself (not of socket calls), each naming actor and step.
    pub failures: Vec<String>,
    pub elapsed_ms: f64,
    /// The watchdog's limit in force.
    pub timeout_ms: u64,
    /// How much each kernel counter (`TcpExt.ListenOverflows`) changed over the run,
    /// closing of left-over sockets included; `None` where counters cannot be read. Set
    /// by the caller around the engine ([`crate::lab::run_scenario`]), not by the engine.
    pub counters: Option<BTreeMap<String, i64>>,
}

/// The local and peer address a socket had when it was closed (the peer 0.0.0.0:0 for
/// one that was not connected).
pub type Addrs = Option<(std::net::SocketAddr, std::net::SocketAddr)>;

/// A scenario resource: a live socket, a socket closed on purpose, or a set of dials.
enum Res {
    Socket(Arc<Socket>),
    Closed(sys::StaleHandle, Addrs),
    Group(Vec<Arc<Socket>>),
}

/// Where an actor instance is, for the watchdog and `wait_blocked`.
struct ActorState {
    name: String,
    /// The logical actor (without `#i`), for `wait_blocked`.
    base: String,
    tid: Mutex<Option<u64>>,
    step: AtomicUsize,
    line: AtomicUsize,
    op: Mutex<String>,
    in_call: AtomicBool,
}

/// What both engines' shared state holds alike: the run's clock and cancel flag, the
/// watchdog's table of actors, the sync points, the peers remembered per socket, and
/// what the actors produce.
struct RunState {
    start: Instant,
    cancel: AtomicBool,
    actors: Vec<ActorState>,
    syncs: Mutex<HashMap<String, i64>>,
    /// The peer each connected socket was created for, by socket name: getpeername(2)
    /// fails once the connection is gone, and a `state` step after close needs it.
    peers: Mutex<HashMap<String, std::net::SocketAddr>>,
    out: Outputs,
}

impl RunState {
    /// A run started at `start` with these actor instances.
    fn new(start: Instant, instances: &[Instance<'_>]) -> RunState {
        RunState {
            start,
            cancel: AtomicBool::new(false),
            actors: instances
                .iter()
                .map(|(name, _, actor)| ActorState::new(name, &actor.name))
                .collect(),
            syncs: Mutex::new(HashMap::new()),
            peers: Mutex::new(HashMap::new()),
            out: Outputs::default(),
        }
    }

    /// Milliseconds from the run's start to `t`.
    fn ms(&self, t: Instant) -> f64 {
        millis(t.duration_since(self.start))
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Raises the cancel flag; the engine's `cancel_all` then ends what it can.
    fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

struct Shared {
    run: RunState,
    resources: Mutex<HashMap<String, Res>>,
    sync_cv: Condvar,
    write_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// What a run's actors produce, gathered as they go; the same in both engines.
#[derive(Default)]
struct Outputs {
    events: Mutex<Vec<Event>>,
    results: Mutex<Vec<StepResult>>,
    /// Errors of the engine itself, each naming actor and step.
    failures: Mutex<Vec<String>>,
}

impl Outputs {
    fn fail(&self, msg: String) {
        lock(&self.failures).push(msg);
    }

    /// A panic of actor `name`: a bug of the engine, not a finding.
    fn panicked(&self, name: &str, p: &(dyn std::any::Any + Send)) {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        self.fail(format!("{name}: the engine panicked (a bug): {what}"));
    }

    /// Files how step `no` of `actor`, begun at `t0`, ended; false when it was an engine
    /// error, which ends the run.
    fn settle(
        &self,
        actor: &str,
        no: usize,
        step: &Step,
        t0: Instant,
        outcome: steps::StepOutcome,
    ) -> bool {
        match outcome {
            Ok(mut r) => {
                r.id = step.id.clone();
                r.elapsed_ms = millis(t0.elapsed());
                lock(&self.results).push(r);
                true
            }
            Err(msg) => {
                self.fail(format!(
                    "{actor} step {no} ({}, line {}): {msg}",
                    step.action.op(),
                    step.line
                ));
                false
            }
        }
    }

    /// The run: events in time order, step results, and the failures of the engine
    /// after those found before it started (`failures`).
    fn take_run(
        &self,
        mut failures: Vec<String>,
        stuck: Vec<Stuck>,
        elapsed_ms: f64,
        timeout: Duration,
    ) -> Run {
        let mut events = std::mem::take(&mut *lock(&self.events));
        events.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        failures.extend(std::mem::take(&mut *lock(&self.failures)));
        let steps = std::mem::take(&mut *lock(&self.results));
        Run {
            events,
            steps,
            stuck,
            failures,
            elapsed_ms,
            timeout_ms: timeout.as_millis() as u64,
            // Set by the lab around the engine.
            counters: None,
        }
    }
}

impl Run {
    /// A run that could not start: only its failures.
    fn not_started(failures: Vec<String>, timeout: Duration) -> Run {
        Run {
            failures,
            timeout_ms: timeout.as_millis() as u64,
            ..Run::default()
        }
    }
}

/// The watchdog's limit: the run's override, else the scenario's own.
fn timeout_of(scenario: &Scenario, config: &RunConfig) -> Duration {
    config
        .timeout
        .unwrap_or(Duration::from_millis(scenario.timeout_ms))
}

/// The watchdog: waits for every actor until `until`; then notes who is stuck where,
/// ends everything (`cancel_all`) and gives them [`GRACE`] to notice.
fn watch(
    actors: &[ActorState],
    done_rx: &mpsc::Receiver<usize>,
    until: Instant,
    cancel_all: impl FnOnce(),
) -> Vec<Stuck> {
    let mut finished = vec![false; actors.len()];
    collect_done(done_rx, &mut finished, until);
    let mut stuck: Vec<Stuck> = actors
        .iter()
        .zip(&finished)
        .filter(|(_, done)| !**done)
        .map(|(st, _)| st.stuck())
        .collect();
    if !stuck.is_empty() {
        cancel_all();
        collect_done(done_rx, &mut finished, Instant::now() + GRACE);
        for s in &mut stuck {
            s.released = actors
                .iter()
                .zip(&finished)
                .any(|(st, done)| *done && st.name == s.actor);
        }
    }
    stuck
}

/// A poisoned lock only means another actor panicked; the data is still what it was.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Ends every wait of the engine and every blocking call that a shutdown can end.
    fn cancel_all(&self) {
        self.run.cancel();
        self.sync_cv.notify_all();
        for res in lock(&self.resources).values() {
            let socks: Vec<&Arc<Socket>> = match res {
                Res::Socket(s) => vec![s],
                Res::Group(g) => g.iter().collect(),
                Res::Closed(..) => vec![],
            };
            for s in socks {
                // Wakes blocked reads, writes and (on Linux) accepts; errors are expected
                // on sockets that are not connected.
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// Runs `scenario` with `config` and returns everything it saw. Never panics on a
/// scenario's behaviour; never blocks past the watchdog limit plus [`GRACE`].
pub fn run(scenario: &Scenario, config: &RunConfig) -> Run {
    let timeout = timeout_of(scenario, config);
    let (instances, failures) = instances(scenario, config);
    let start = Instant::now();
    if !failures.is_empty() {
        return Run::not_started(failures, timeout);
    }
    let shared = Arc::new(Shared {
        run: RunState::new(start, &instances),
        resources: Mutex::new(HashMap::new()),
        sync_cv: Condvar::new(),
        write_locks: Mutex::new(HashMap::new()),
    });

    let (done_tx, done_rx) = mpsc::channel::<usize>();
    for (slot, (name, index, actor)) in instances.into_iter().enumerate() {
        let sh = Arc::clone(&shared);
        let config = config.clone();
        let steps = actor.steps.clone();
        let done_tx = done_tx.clone();
        let spawned = thread::Builder::new()
            .name(format!("tcplab-{name}"))
            .spawn(move || {
                *lock(&sh.run.actors[slot].tid) = Some(sys::thread_id());
                let mut ctx = Ctx {
                    shared: &sh,
                    slot,
                    actor: name.clone(),
                    index,
                    config: &config,
                    log: EventLog::default(),
                };
                // A panic is a bug of the engine, not a finding: report it, stop the
                // run, and still tell the watchdog this actor is done.
                let ran = panic::catch_unwind(AssertUnwindSafe(|| run_actor(&mut ctx, &steps)));
                if let Err(p) = ran {
                    sh.run.out.panicked(&name, &*p);
                    sh.cancel_all();
                }
                sh.run.actors[slot].finished();
                let _ = done_tx.send(slot);
            });
        if let Err(e) = spawned {
            shared
                .run
                .out
                .fail(format!("cannot start a thread for an actor: {e}"));
            shared.cancel_all();
        }
    }
    drop(done_tx);

    // Shutting every socket down ends the stuck actors' blocking calls.
    let stuck = watch(&shared.run.actors, &done_rx, start + timeout, || {
        shared.cancel_all()
    });
    let elapsed_ms = shared.run.ms(Instant::now());
    // Close every socket the scenario left open.
    lock(&shared.resources).clear();
    lock(&shared.write_locks).clear();

    shared
        .run
        .out
        .take_run(failures, stuck, elapsed_ms, timeout)
}

/// One running copy of an actor: its name (`writer#2`), instance number and definition.
type Instance<'a> = (String, usize, &'a crate::scenario::Actor);

/// Expands repeated actors into instances; the errors name the actor whose `count` is bad.
fn instances<'a>(scenario: &'a Scenario, config: &RunConfig) -> (Vec<Instance<'a>>, Vec<String>) {
    let mut failures = Vec::new();
    let mut instances = Vec::new();
    for actor in &scenario.actors {
        let lookup = |n: &str| lookup_in(config, n, 0);
        match actor.count.eval(&lookup) {
            Ok(n) if (1..=64).contains(&n) => {
                for i in 0..n as usize {
                    let name = if n == 1 {
                        actor.name.clone()
                    } else {
                        format!("{}#{i}", actor.name)
                    };
                    instances.push((name, i, actor));
                }
            }
            Ok(n) => failures.push(format!(
                "actor `{}`: count {n} is outside 1..=64",
                actor.name
            )),
            Err(e) => failures.push(format!("actor `{}`: count: {e}", actor.name)),
        }
    }
    (instances, failures)
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
    fn finished(&self) {
        self.step.store(0, Ordering::SeqCst);
        *lock(&self.op) = "finished".into();
    }

    /// Where this actor is now, for the watchdog's report.
    fn stuck(&self) -> Stuck {
        Stuck {
            actor: self.name.clone(),
            step: self.step.load(Ordering::SeqCst),
            op: lock(&self.op).clone(),
            line: self.line.load(Ordering::SeqCst),
            released: false,
        }
    }
}

/// Whether a step with `when = name` runs under these parameters.
fn step_enabled(config: &RunConfig, when: Option<&str>) -> bool {
    let Some(w) = when else { return true };
    match config.params.get(w) {
        Some(ParamValue::Int(_)) => true,
        Some(ParamValue::Bool(b)) => *b,
        Some(ParamValue::Text(t)) => !t.is_empty(),
        _ => false,
    }
}

/// Marks actors done as they report, until all have or `until` passes.
fn collect_done(done_rx: &mpsc::Receiver<usize>, finished: &mut [bool], until: Instant) {
    while finished.iter().any(|done| !done) {
        let left = until.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok(slot) => finished[slot] = true,
            Err(_) => return,
        }
    }
}

/// Runs one actor instance's steps in order until the end, an engine error or a cancel.
fn run_actor(ctx: &mut Ctx<'_>, steps: &[Step]) {
    for (i, step) in steps.iter().enumerate() {
        if ctx.shared.run.cancelled() {
            break;
        }
        ctx.begin_step(i + 1, step.line, step.action.op());
        if !step_enabled(ctx.config, step.when.as_deref()) {
            continue;
        }
        let t0 = Instant::now();
        let outcome = steps::execute(ctx, step);
        ctx.flush_folded();
        // A step that ended after the run was cancelled was ended by the watchdog's
        // shutdown (or another actor's failure), not by the scenario: its figures are
        // not observations, and its error is a consequence.
        if ctx.shared.run.cancelled() {
            break;
        }
        if !ctx
            .shared
            .run
            .out
            .settle(&ctx.actor, i + 1, step, t0, outcome)
        {
            ctx.shared.cancel_all();
            break;
        }
    }
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
pub(super) struct EventLog {
    /// The 1-based number of the step its events belong to.
    step: usize,
    recorded: usize,
    folded: Option<Folded>,
}

impl EventLog {
    /// Step `no` starts: nothing recorded for it yet.
    pub(super) fn begin_step(&mut self, no: usize) {
        self.step = no;
        self.recorded = 0;
    }

    pub(super) fn push(&mut self, sink: &Mutex<Vec<Event>>, event: Event) {
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

    pub(super) fn flush(&mut self, sink: &Mutex<Vec<Event>>) {
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

/// What the two engines' actor contexts share: where the actor is (for the watchdog),
/// expressions evaluated for this instance, and events recorded through the step's
/// [`EventLog`]. Each engine's `Ctx` gives the parts; the logic is here once.
trait ActorCtx {
    /// The run's configuration and this instance's number, for expressions.
    fn scope(&self) -> (&RunConfig, usize);

    /// The run this instance belongs to.
    fn run(&self) -> &RunState;

    /// This instance's place in the run's table of actors.
    fn slot(&self) -> usize;

    /// This instance's name, its event log and the run's list of events.
    fn log_parts(&mut self) -> (&str, &mut EventLog, &Mutex<Vec<Event>>);

    /// Runs one socket call that does not wait on the engine, timing it and recording
    /// an event. `returned` turns the call's success value into the figure the event
    /// shows (bytes moved, option value).
    fn call<T>(
        &mut self,
        op: &str,
        sock: Option<&str>,
        requested: Option<u64>,
        f: impl FnOnce() -> std::io::Result<T>,
        returned: impl FnOnce(&T) -> Option<i64>,
    ) -> std::io::Result<T>;

    /// The local address of the socket `name`, open or closed (for `port_of`).
    fn local_addr_of(&self, name: &str) -> Result<std::net::SocketAddr, String>;

    /// This instance's entry in the watchdog's table.
    fn actor_state(&self) -> &ActorState {
        &self.run().actors[self.slot()]
    }

    fn cancelled(&self) -> bool {
        self.run().cancelled()
    }

    /// Milliseconds since the run started.
    fn now_ms(&self) -> f64 {
        self.run().ms(Instant::now())
    }

    /// Remembers the peer `name` was connected (or is connecting) to.
    fn remember_peer(&self, name: &str, peer: std::net::SocketAddr) {
        lock(&self.run().peers).insert(name.to_owned(), peer);
    }

    /// The peer remembered for `name`.
    fn remembered_peer(&self, name: &str) -> Option<std::net::SocketAddr> {
        lock(&self.run().peers).get(name).copied()
    }

    /// Step `no` (at `line` of the scenario, doing `op`) starts.
    fn begin_step(&mut self, no: usize, line: usize, op: &str) {
        let st = self.actor_state();
        st.step.store(no, Ordering::SeqCst);
        st.line.store(line, Ordering::SeqCst);
        *lock(&st.op) = op.to_owned();
        self.log_parts().1.begin_step(no);
    }

    fn eval(&self, e: &crate::scenario::Expr) -> Result<i64, String> {
        let (config, index) = self.scope();
        e.eval(&|n| lookup_in(config, n, index))
            .map_err(|err| format!("`{e}`: {err}"))
    }

    /// A non-negative size from an expression.
    fn eval_size(&self, e: &crate::scenario::Expr) -> Result<usize, String> {
        let v = self.eval(e)?;
        usize::try_from(v).map_err(|_| format!("`{e}` is {v}, not a size"))
    }

    /// Records an event of the engine's own (a sync point, a deadline) or a call's.
    #[allow(clippy::too_many_arguments)]
    fn record(
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
        let (actor, log, sink) = self.log_parts();
        let event = Event {
            actor: actor.to_owned(),
            step: log.step,
            op: op.to_owned(),
            sock: sock.map(str::to_owned),
            requested,
            returned,
            outcome,
            at_ms,
            elapsed_ms,
            note,
        };
        log.push(sink, event);
    }

    /// Records a step of the engine's own that went well (a sync point, a look at a
    /// socket's state): no bytes, outcome `ok`, and `note` saying what it found.
    fn record_own(
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
    fn record_call<T>(
        &mut self,
        op: &str,
        sock: Option<&str>,
        requested: Option<u64>,
        r: &std::io::Result<T>,
        returned: impl FnOnce(&T) -> Option<i64>,
        t0: Instant,
        elapsed_ms: f64,
        note: Option<String>,
    ) -> Outcome {
        let (outcome, ret) = match r {
            Ok(v) => (Outcome::Ok, returned(v)),
            Err(e) => (Outcome::from_io(e), None),
        };
        let at = self.run().ms(t0);
        self.record(
            op,
            sock,
            requested,
            ret,
            outcome.clone(),
            at,
            elapsed_ms,
            note,
        );
        outcome
    }

    /// The step ended: its folded calls become their summary event.
    fn flush_folded(&mut self) {
        let (_, log, sink) = self.log_parts();
        log.flush(sink);
    }
}

/// One actor instance's view of the run.
pub(crate) struct Ctx<'a> {
    shared: &'a Shared,
    slot: usize,
    pub actor: String,
    pub index: usize,
    config: &'a RunConfig,
    log: EventLog,
}

impl ActorCtx for Ctx<'_> {
    fn scope(&self) -> (&RunConfig, usize) {
        (self.config, self.index)
    }

    fn run(&self) -> &RunState {
        &self.shared.run
    }

    fn slot(&self) -> usize {
        self.slot
    }

    fn log_parts(&mut self) -> (&str, &mut EventLog, &Mutex<Vec<Event>>) {
        (&self.actor, &mut self.log, &self.shared.run.out.events)
    }

    /// Blocks in the call; the watchdog sees the actor inside it (for `wait_blocked`).
    fn call<T>(
        &mut self,
        op: &str,
        sock: Option<&str>,
        requested: Option<u64>,
        f: impl FnOnce() -> std::io::Result<T>,
        returned: impl FnOnce(&T) -> Option<i64>,
    ) -> std::io::Result<T> {
        let st = &self.shared.run.actors[self.slot];
        *lock(&st.op) = op.to_owned();
        st.in_call.store(true, Ordering::SeqCst);
        let t0 = Instant::now();
        let r = f();
        let elapsed_ms = millis(t0.elapsed());
        st.in_call.store(false, Ordering::SeqCst);
        let note = self
            .cancelled()
            .then(|| "ended by the watchdog's shutdown, not by the scenario".to_owned());
        self.record_call(op, sock, requested, &r, returned, t0, elapsed_ms, note);
        r
    }

    fn local_addr_of(&self, name: &str) -> Result<std::net::SocketAddr, String> {
        if let Some(a) = self.closed_addrs(name) {
            return a
                .map(|(l, _)| l)
                .ok_or_else(|| format!("the address of the closed socket `{name}` is unknown"));
        }
        self.socket(name)?
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| format!("cannot read the address of `{name}`"))
    }
}

impl Ctx<'_> {
    // -- resources ---------------------------------------------------------------------

    pub fn socket(&self, name: &str) -> Result<Arc<Socket>, String> {
        match lock(&self.shared.resources).get(name) {
            Some(Res::Socket(s)) => Ok(Arc::clone(s)),
            Some(Res::Group(_)) => Err(format!(
                "`{name}` is a set of dialled connections, not one socket"
            )),
            Some(Res::Closed(..)) => Err(format!("socket `{name}` was closed by an earlier step")),
            None => Err(format!(
                "socket `{name}` does not exist yet: the step that creates it has not run (order the actors with signal/wait)"
            )),
        }
    }

    /// The descriptor number left by `close`, if `name` was closed.
    pub fn stale(&self, name: &str) -> Option<sys::StaleHandle> {
        match lock(&self.shared.resources).get(name) {
            Some(Res::Closed(h, _)) => Some(*h),
            _ => None,
        }
    }

    /// The addresses `name` had when it was closed; `None` if it is not a closed socket.
    pub fn closed_addrs(&self, name: &str) -> Option<Addrs> {
        match lock(&self.shared.resources).get(name) {
            Some(Res::Closed(_, a)) => Some(*a),
            _ => None,
        }
    }

    pub fn put_socket(&self, name: &str, s: Socket) {
        if let Some(peer) = s.peer_addr().ok().and_then(|a| a.as_socket()) {
            self.remember_peer(name, peer);
        }
        lock(&self.shared.resources).insert(name.to_owned(), Res::Socket(Arc::new(s)));
    }

    pub fn put_group(&self, name: &str, g: Vec<Socket>) {
        lock(&self.shared.resources).insert(
            name.to_owned(),
            Res::Group(g.into_iter().map(Arc::new).collect()),
        );
    }

    /// Takes the socket out so that it can be closed; fails if another actor holds it.
    pub fn take_socket(&self, name: &str) -> Result<Socket, String> {
        let mut res = lock(&self.shared.resources);
        match res.remove(name) {
            Some(Res::Socket(s)) => Arc::try_unwrap(s).map_err(|s| {
                res.insert(name.to_owned(), Res::Socket(s));
                format!("socket `{name}` is in use by another actor and cannot be closed now")
            }),
            Some(other) => {
                res.insert(name.to_owned(), other);
                Err(format!("`{name}` is not an open socket"))
            }
            None => Err(format!("socket `{name}` does not exist yet")),
        }
    }

    pub fn put_closed(&self, name: &str, h: sys::StaleHandle, addrs: Addrs) {
        lock(&self.shared.resources).insert(name.to_owned(), Res::Closed(h, addrs));
    }

    pub fn write_lock(&self, name: &str) -> Arc<Mutex<()>> {
        Arc::clone(
            lock(&self.shared.write_locks)
                .entry(name.to_owned())
                .or_default(),
        )
    }

    // -- sync points -------------------------------------------------------------------

    pub fn signal(&self, sync: &str) {
        *lock(&self.shared.run.syncs)
            .entry(sync.to_owned())
            .or_insert(0) += 1;
        self.shared.sync_cv.notify_all();
    }

    /// Waits until `sync` was signalled `count` times; false if the run was cancelled.
    pub fn wait_sync(&self, sync: &str, count: i64) -> bool {
        let mut syncs = lock(&self.shared.run.syncs);
        loop {
            if syncs.get(sync).copied().unwrap_or(0) >= count {
                return true;
            }
            if self.cancelled() {
                return false;
            }
            syncs = self
                .shared
                .sync_cv
                .wait_timeout(syncs, SLICE)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Whether every instance of `actor` is inside a socket call and asleep in the kernel.
    /// Where the system cannot tell sleep from running, being inside the call counts.
    pub fn actor_blocked(&self, actor: &str) -> Result<bool, String> {
        let mut any = false;
        for st in self.shared.run.actors.iter().filter(|s| s.base == actor) {
            any = true;
            if !st.in_call.load(Ordering::SeqCst) {
                return Ok(false);
            }
            let Some(tid) = *lock(&st.tid) else {
                return Ok(false);
            };
            if sys::thread_is_asleep(tid) == Some(false) {
                return Ok(false);
            }
        }
        if any {
            Ok(true)
        } else {
            Err(format!("there is no actor `{actor}`"))
        }
    }

    pub fn engine_wait_pause(&self) {
        // A short pause between looks at state the kernel does not signal (a thread's
        // sleep, FIONREAD); bounded by the caller's deadline and the cancel flag.
        thread::sleep(Duration::from_millis(1));
    }
}
