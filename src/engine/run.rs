//! What every run does alike, whichever engine: the actor instances, the run's shared
//! state, the watchdog, and the loop that takes each actor through its steps.

use std::collections::HashMap;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::actor::Actor;
use super::resources::Resources;
use super::sockets::Sockets;
use super::{interp, EngineError, Run, RunConfig, StepOutcome, StepResult, Stuck};
use crate::event::{millis, Event};
use crate::scenario::{Lookup, ParamValue, Scenario, Step};

/// How long the watchdog waits, after ending every actor's calls, for stuck actors.
pub(super) const GRACE: Duration = Duration::from_secs(2);

/// A poisoned lock only means another actor panicked; the data is still what it was.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

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
    /// A run started at `start` with these actor instances.
    fn new(start: Instant, instances: &[Instance<'_>]) -> RunState {
        RunState {
            start,
            cancel: AtomicBool::new(false),
            actors: instances
                .iter()
                .map(|i| ActorState::new(&i.name, &i.actor.name))
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

/// Everything a run's actors share: the run's state, its sockets by name, the writers'
/// locks, and the engine's own state.
pub(super) struct Shared<E: Sockets> {
    pub run: RunState,
    pub resources: Resources<E::Socket>,
    pub write_locks: Mutex<HashMap<String, Arc<E::WriteLock>>>,
    pub engine: E,
}

impl<E: Sockets> Shared<E> {
    /// The lock `write_messages` writers on socket `name` share.
    pub fn write_lock(&self, name: &str) -> Arc<E::WriteLock> {
        Arc::clone(lock(&self.write_locks).entry(name.to_owned()).or_default())
    }

    /// Closes every socket the scenario left open.
    pub fn close_all(&self) {
        self.resources.clear();
        lock(&self.write_locks).clear();
    }
}

/// What a run's actors produce, gathered as they go.
#[derive(Default)]
pub(super) struct Outputs {
    pub events: Mutex<Vec<Event>>,
    results: Mutex<Vec<StepResult>>,
    /// Errors of the engine itself, each naming actor and step.
    failures: Mutex<Vec<String>>,
}

impl Outputs {
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
    fn settle(
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
        }
    }
}

/// One running copy of an actor: its name (`writer#2`), instance number and definition.
pub(super) struct Instance<'a> {
    pub name: String,
    pub index: usize,
    pub actor: &'a crate::scenario::Actor,
}

/// A run about to start: its instances, shared state and watchdog limit.
pub(super) struct Started<E: Sockets> {
    pub shared: Arc<Shared<E>>,
    /// Per instance: its actor context and steps, ready to run.
    pub actors: Vec<(Actor<E>, Vec<Step>)>,
    pub timeout: Duration,
}

/// Expands the actors into instances and builds the run's shared state around `engine`;
/// a run that cannot start (a bad `count`) is returned as its failures.
pub(super) fn start<E: Sockets>(
    scenario: &Scenario,
    config: &RunConfig,
    engine: impl FnOnce(usize) -> E,
) -> Result<Started<E>, Box<Run>> {
    let timeout = config
        .timeout
        .unwrap_or(Duration::from_millis(scenario.timeout_ms));
    let instances = match instances(scenario, config) {
        Ok(i) => i,
        Err(failures) => {
            return Err(Box::new(Run {
                failures: failures.iter().map(ToString::to_string).collect(),
                timeout_ms: timeout.as_millis() as u64,
                ..Run::default()
            }))
        }
    };
    let shared = Arc::new(Shared {
        run: RunState::new(Instant::now(), &instances),
        resources: Resources::default(),
        write_locks: Mutex::new(HashMap::new()),
        engine: engine(instances.len()),
    });
    let config = Arc::new(config.clone());
    let actors = instances
        .into_iter()
        .enumerate()
        .map(|(slot, i)| {
            let a = Actor::new(
                Arc::clone(&shared),
                slot,
                i.name,
                i.index,
                Arc::clone(&config),
            );
            (a, i.actor.steps.clone())
        })
        .collect();
    Ok(Started {
        shared,
        actors,
        timeout,
    })
}

/// Expands repeated actors into instances; the errors name the actor whose `count` is bad.
fn instances<'a>(
    scenario: &'a Scenario,
    config: &RunConfig,
) -> Result<Vec<Instance<'a>>, Vec<EngineError>> {
    let mut failures = Vec::new();
    let mut instances = Vec::new();
    for actor in &scenario.actors {
        let lookup = |n: &str| lookup_in(config, n, 0);
        match actor.count.eval(&lookup) {
            Ok(n) if (1..=64).contains(&n) => {
                for index in 0..n as usize {
                    let name = if n == 1 {
                        actor.name.clone()
                    } else {
                        format!("{}#{index}", actor.name)
                    };
                    instances.push(Instance { name, index, actor });
                }
            }
            Ok(n) => failures.push(EngineError::CountRange {
                actor: actor.name.clone(),
                n,
            }),
            Err(error) => failures.push(EngineError::CountExpr {
                actor: actor.name.clone(),
                error,
            }),
        }
    }
    if failures.is_empty() {
        Ok(instances)
    } else {
        Err(failures)
    }
}

pub(super) fn lookup_in(config: &RunConfig, name: &str, index: usize) -> Lookup {
    crate::scenario::lookup(&config.params, &config.facts, Some(index), name)
}

/// The watchdog: waits for every actor until `until`; then notes who is stuck where,
/// ends everything (`cancel_all`) and gives them [`GRACE`] to notice. Returns the run.
pub(super) fn watch<E: Sockets>(
    shared: &Shared<E>,
    done_rx: &mpsc::Receiver<usize>,
    timeout: Duration,
) -> Run {
    let actors = &shared.run.actors;
    let mut finished = vec![false; actors.len()];
    collect_done(done_rx, &mut finished, shared.run.start + timeout);
    let mut stuck: Vec<Stuck> = actors
        .iter()
        .zip(&finished)
        .filter(|(_, done)| !**done)
        .map(|(st, _)| st.stuck())
        .collect();
    if !stuck.is_empty() {
        E::cancel_all(shared);
        collect_done(done_rx, &mut finished, Instant::now() + GRACE);
        for s in &mut stuck {
            s.released = actors
                .iter()
                .zip(&finished)
                .any(|(st, done)| *done && st.name == s.actor);
        }
    }
    let elapsed_ms = shared.run.ms(Instant::now());
    shared.run.out.take_run(stuck, elapsed_ms, timeout)
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

/// Runs one actor instance's steps in order until the end, an engine error or a cancel.
pub(super) async fn run_actor<E: Sockets>(a: &mut Actor<E>, steps: &[Step]) {
    for (i, step) in steps.iter().enumerate() {
        if a.cancelled() {
            break;
        }
        a.begin_step(i + 1, step.line, step.action.op());
        if !step_enabled(&a.config, step.when.as_deref()) {
            continue;
        }
        let t0 = Instant::now();
        let outcome = interp::execute(a, step).await;
        a.flush_folded();
        // A step that ended after the run was cancelled was ended by the watchdog (or
        // another actor's failure), not by the scenario: its figures are not
        // observations, and its error is a consequence.
        if a.cancelled() {
            break;
        }
        if !a.shared.run.out.settle(&a.name, i + 1, step, t0, outcome) {
            E::cancel_all(&a.shared);
            break;
        }
    }
    a.actor_state().finished();
}

/// Runs an actor on the calling thread, for engines whose primitives never wait on a
/// waker (the std engine's block in the kernel instead); a panic is caught and reported
/// as the engine's bug, and cancels the run.
pub(super) fn run_actor_here<E: Sockets>(mut a: Actor<E>, steps: &[Step]) {
    let shared = Arc::clone(&a.shared);
    let ran = panic::catch_unwind(AssertUnwindSafe(|| block_on(run_actor(&mut a, steps))));
    if let Err(p) = ran {
        shared.run.out.panicked(&a.name, &*p);
        a.actor_state().finished();
        E::cancel_all(&shared);
    }
}

/// Polls `f` to its end on this thread. Only for futures that never return `Pending`:
/// the interpreter's futures over primitives that block instead of waiting on a waker.
pub(super) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a blocking engine's step waited on a waker, which nothing wakes"),
    }
}
