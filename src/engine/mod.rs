//! The engines that run a scenario's steps, and the types they return.
//!
//! A scenario's steps are interpreted once, by `interp.rs`; an engine is the set of socket
//! primitives the interpreter calls, the `Sockets` trait (`sockets.rs`), whose doc
//! comments are the one list of where the engines differ. Two engines implement it and
//! return the same [`Run`], so observations, verdicts and reports do not know which one
//! ran:
//! - `std` (`std_engine.rs`): one OS thread per actor, blocking std sockets through
//!   socket2;
//! - `tokio` (`tokio_engine.rs`): one task per actor on a current-thread tokio runtime,
//!   non-blocking tokio sockets, deadlines as tokio timers.
//!
//! The layers, each using only those above it in this list:
//! - `types.rs`: what a run returns ([`Run`], [`StepResult`]) and [`EngineError`];
//!   `framing.rs`: the tagged bytes of concurrent writers;
//! - `resources.rs`: the run's sockets by name; `context.rs`: an actor instance's context
//!   (where it is, for the watchdog; its expressions; the events it records) and the run's
//!   shared state;
//! - `sockets.rs`: the `Sockets` trait and what both engines do alike
//!   through socket2; `actor.rs`: an actor on an engine (its context plus the run's sockets);
//!   `args.rs`: each step's arguments and the folding of its results;
//! - `interp.rs`: the interpreter; `run.rs`: instances, the watchdog, the step loop;
//! - `std_engine.rs`, `tokio_engine.rs` (with `tokio_parking.rs`) and, in tests,
//!   `mock.rs`: the engines.
//!
//! Ordering between actors comes only from the scenario's sync points; neither engine
//! sleeps to order anything. The engines' own waits (sync points, `wait_blocked`,
//! `wait_bytes`, `poll`) re-check a cancel flag at least every [`SLICE`], so the watchdog
//! can end them.

mod actor;
mod args;
mod context;
mod framing;
mod interp;
#[cfg(test)]
mod mock;
mod resources;
mod run;
mod sockets;
mod std_engine;
mod tokio_engine;
mod tokio_parking;
mod types;

pub use crate::scenario::{Engine, ENGINE_NAMES};
pub use framing::{tag_byte, FrameCheck, MAX_TAGGED_WRITERS};

pub use types::{Addrs, EngineError, Net, Run, RunConfig, StepResult, Stuck, ABSENT, SLICE};

use crate::scenario::Scenario;

/// Runs `scenario` on `engine` and returns everything it saw. Never panics on a
/// scenario's behaviour; never blocks past the watchdog limit plus a grace period.
pub fn run_on(engine: Engine, scenario: &Scenario, config: &RunConfig) -> Run {
    match engine {
        Engine::Std => std_engine::run(scenario, config),
        Engine::Tokio => tokio_engine::run(scenario, config),
    }
}
