//! One run of one scenario through the whole chain: engine -> observations -> verdict ->
//! record.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::{self, Engine, RunConfig};
use crate::env::Environment;
use crate::observe::observe;
use crate::record::{Record, ScenarioRef};
use crate::room::{self, RoomError, RoomPlan};
use crate::scenario::{ParamValue, Scenario};
use crate::sys;
use crate::tier;
use crate::verdict::judge;

/// How much each counter changed; `None` unless both snapshots were read.
fn counter_deltas(
    before: Option<BTreeMap<String, i64>>,
    after: Option<BTreeMap<String, i64>>,
) -> Option<BTreeMap<String, i64>> {
    let (before, after) = (before?, after?);
    Some(
        after
            .into_iter()
            .filter_map(|(k, v)| before.get(&k).map(|b| (k, v - b)))
            .collect(),
    )
}

/// The SHA-256 of a scenario file's text, hex; `None` when it cannot be read now.
fn file_sha256(path: &std::path::Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).ok()?;
    Some(
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Runs `scenario` once with `params` (already resolved) on `engine`, in a clean room of
/// its own where one can be made (see [`crate::room`]), with the scenario's own watchdog
/// limit.
pub fn run_scenario(
    engine: Engine,
    scenario: &Scenario,
    params: &BTreeMap<String, ParamValue>,
) -> Result<Record, RoomError> {
    run_in_room(
        engine,
        scenario,
        params,
        &RoomPlan::default(),
        &Environment::current(),
        None,
    )
}

/// Runs `scenario` once on `engine` in the room `plan` asks for (a fresh network
/// namespace, or the machine's own), judged against the expectations for this OS and
/// that engine. `host` is the environment read outside any room.
pub fn run_in_room(
    engine: Engine,
    scenario: &Scenario,
    params: &BTreeMap<String, ParamValue>,
    plan: &RoomPlan,
    host: &Environment,
    timeout: Option<Duration>,
) -> Result<Record, RoomError> {
    // A scenario on hosts needs a room of its own, whatever `--room` says: its links are
    // never built in the machine's namespace.
    let clean;
    let plan = if scenario.wire.is_some() && plan.choice == room::RoomChoice::Host {
        clean = RoomPlan {
            choice: room::RoomChoice::Clean,
            ..plan.clone()
        };
        &clean
    } else {
        plan
    };
    room::run_in(plan, host, |env| {
        run_scenario_on(engine, scenario, params, &env, timeout)
    })?
}

/// Runs `scenario` once on `engine` in the calling thread's network namespace, whose
/// environment `env` is, judged against the expectations for this OS and that engine;
/// with its packets captured, and for a scenario on hosts its own hosts and wire (see
/// [`crate::tier`]), which is an error where they cannot be made.
pub fn run_scenario_on(
    engine: Engine,
    scenario: &Scenario,
    params: &BTreeMap<String, ParamValue>,
    env: &Environment,
    timeout: Option<Duration>,
) -> Result<Record, RoomError> {
    let started_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let t0 = Instant::now();
    let (tier, net, wire_env) = tier::start(scenario, params, env, t0)?;
    // On the wire the environment is host a's (the hosts have the run's settings).
    let env = wire_env.as_ref().unwrap_or(env);
    let facts = env.facts();
    let engine_start = Instant::now();
    let config = RunConfig {
        params: params.clone(),
        facts: facts.clone(),
        timeout,
        net,
        start: Some(engine_start),
    };
    // The kernel's counters around the run, read on this thread: its network namespace
    // is the one the engine's threads (and the tokio engine's runtime thread) inherit.
    // The hosts of a run on the wire have their own, not read (left out of the record).
    let on_wire = scenario.wire.is_some();
    let before = sys::net_counters().filter(|_| !on_wire);
    let mut run = engine::run_on(engine, scenario, &config);
    drop(config);
    run.counters = counter_deltas(before, sys::net_counters());
    let seen = tier.finish(t0, engine_start);
    let captured = seen.capture.none.is_none();
    let observations = observe(scenario, &run, &seen.packets, captured);
    let mut problems: Vec<String> = run
        .stuck
        .iter()
        .map(|s| {
            let place = if s.step == 0 {
                "before its first step".to_owned()
            } else {
                format!("in step {} (`{}`, line {})", s.step, s.op, s.line)
            };
            format!(
                "watchdog: after {} ms `{}` was stuck {place}{}",
                run.timeout_ms,
                s.actor,
                match (engine, s.released) {
                    (Engine::Std, true) => "; it ended once its sockets were shut down",
                    (Engine::Std, false) =>
                        "; it did not end even after its sockets were shut down",
                    (Engine::Tokio, true) => "; its task was dropped (aborted)",
                    (Engine::Tokio, false) => "; its task did not end even when aborted",
                }
            )
        })
        .collect();
    problems.extend(run.failures.iter().cloned());
    let verdict = judge(
        scenario,
        &env.os,
        engine.name(),
        params,
        &facts,
        &observations,
        problems,
    );
    Ok(Record {
        scenario: ScenarioRef {
            name: scenario.name.clone(),
            title: scenario.title.clone(),
            topic: scenario.topic.clone(),
            file: scenario.path.display().to_string(),
            sha256: file_sha256(&scenario.path),
        },
        params: params.clone(),
        engine: engine.name().to_owned(),
        env: env.clone(),
        started_at,
        elapsed_ms: run.elapsed_ms,
        timeout_ms: run.timeout_ms,
        events: run.events,
        observations,
        verdict,
        stuck: run.stuck,
        failures: run.failures,
        hosts: scenario
            .actors
            .iter()
            .filter_map(|a| a.host.map(|h| (a.name.clone(), h.name().to_owned())))
            .collect(),
        endpoints: run.endpoints,
        packets: seen.packets,
        capture: Some(seen.capture),
        wire: seen.wire,
    })
}
