//! What every run does alike, whichever engine: the actor instances, the run's shared
//! state, the watchdog, and the loop that takes each actor through its steps.

use std::collections::HashMap;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::actor::Actor;
use super::context::{Ctx, RunState};
use super::interp;
use super::resources::Resources;
use super::sockets::{Shared, Sockets};
use super::types::{EngineError, Run, RunConfig, Stuck};
use crate::scenario::{ParamValue, Scenario, Step};

/// How long the watchdog waits, after ending every actor's calls, for stuck actors.
pub(super) const GRACE: Duration = Duration::from_secs(2);

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
    let names = instances
        .iter()
        .map(|i| (i.name.as_str(), i.actor.name.as_str()));
    let t0 = config.start.unwrap_or_else(Instant::now);
    let run = Arc::new(RunState::new(t0, names));
    let shared = Arc::new(Shared {
        run: Arc::clone(&run),
        resources: Resources::default(),
        write_locks: Mutex::new(HashMap::new()),
        engine: engine(instances.len()),
    });
    let config = Arc::new(config.clone());
    let actors = instances
        .into_iter()
        .enumerate()
        .map(|(slot, i)| {
            let mut cx = Ctx::new(Arc::clone(&run), slot, i.name, i.index, Arc::clone(&config));
            cx.host = i.actor.host;
            let shared = Arc::clone(&shared);
            (Actor { cx, shared }, i.actor.steps.clone())
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
        let lookup = |n: &str| crate::scenario::lookup(&config.params, &config.facts, Some(0), n);
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
        shared.cancel_all();
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
            a.shared.cancel_all();
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
        shared.cancel_all();
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
