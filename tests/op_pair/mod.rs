//! The scenario the op tests (`engine_ops.rs`) run their steps in, and how they read its
//! observations: one connected pair, on either engine.
//!
//! The pair binds 127.0.0.1:0 and orders its actors with sync points.

use std::collections::BTreeMap;
use std::path::Path;

use tcplab::engine::Engine;
use tcplab::event::Outcome;
use tcplab::lab::run_scenario;
use tcplab::observe::Value;
use tcplab::record::Record;
use tcplab::scenario;
use tcplab::verdict::Status;

/// Runs, on `engine`, a scenario made of a server that listens and accepts `c`, a client
/// that connects `s`, the given extra steps for each, and the given observations;
/// `source` names the test file. Returns the record whether or not the run completed.
pub fn run_pair_on(
    engine: Engine,
    source: &str,
    server_steps: &str,
    client_steps: &str,
    observations: &str,
) -> Record {
    let text = format!(
        r#"name = "op-test"
title = "t"
summary = "s"
description = "d"
source = "{source}"
timeout_ms = 8000

[[actors]]
name = "server"
steps = [
  {{ op = "listen", as = "l", backlog = 4 }},
  {{ op = "signal", sync = "listening" }},
  {{ op = "accept", from = "l", as = "c" }},
  {{ op = "signal", sync = "accepted" }},
{server_steps}
]

[[actors]]
name = "client"
steps = [
  {{ op = "wait", sync = "listening" }},
  {{ op = "connect", to = "l", as = "s" }},
  {{ op = "wait", sync = "accepted" }},
{client_steps}
]

[observations]
{observations}
"#
    );
    let s = scenario::parse(Path::new("op-test.toml"), &text, "misc")
        .unwrap_or_else(|e| panic!("the test scenario does not parse: {e}\n{text}"));
    let r = run_scenario(engine, &s, &BTreeMap::new()).expect("the run's room can be set up");
    assert_eq!(r.engine, engine.name());
    r
}

/// `r`, once it is checked that the run completed (no expectation to hold, no problem).
pub fn completed(r: Record) -> Record {
    assert_eq!(
        r.verdict.status,
        Status::NoExpectation,
        "the run did not complete: {:?}",
        r.verdict.problems
    );
    r
}

pub fn text(r: &Record, name: &str) -> String {
    match r.observations.get(name) {
        Some(Value::Text(t)) => t.clone(),
        other => panic!("{name}: expected a text observation, got {other:?}"),
    }
}

pub fn int(r: &Record, name: &str) -> i64 {
    match r.observations.get(name) {
        Some(Value::Int(n)) => *n,
        other => panic!("{name}: expected an integer observation, got {other:?}"),
    }
}

pub fn outcome(r: &Record, name: &str) -> Outcome {
    match r.observations.get(name) {
        Some(Value::Outcome(o)) => o.clone(),
        other => panic!("{name}: expected an outcome observation, got {other:?}"),
    }
}
