//! Scenario files: the TOML format, its validation, and discovery of the catalogue.
//!
//! A scenario file is data, not code: a learner copies one, changes a step and runs it
//! without recompiling. Parsing checks everything that can be checked before a socket is
//! opened (names, references, types, expectations), so that a mistake is reported with
//! the file, the line and the field instead of surfacing halfway through a run.
//!
//! The flow through this folder: [`catalogue`](fn@catalogue) finds the files; `raw.rs`
//! holds the file as written (serde structs); `validate.rs` turns it into the
//! [`model`](Scenario), section by section, with `step.rs` (the ops, each named once),
//! `operands.rs` (socket options and the other enumerated step fields), `take.rs` (what
//! an observation takes), `expr.rs` (expressions), `expect.rs` (the expectation tables
//! and grammar) and `kernel.rs` (kernel-range tables); `vocab.rs` names the engines,
//! systems, facts and counter groups a file may use.
//!
//! Whether a file is valid depends on its text alone, never on the machine: what only
//! this machine can tell (`host.rs`: an errno name this system does not report, a
//! counter this kernel lacks) becomes a [`ScenarioWarning`] on the parsed [`Scenario`].

mod advice;
mod catalogue;
mod cx;
mod expect;
mod expr;
pub mod figure;
mod host;
mod kernel;
mod model;
mod operands;
mod params;
mod raw;
mod step;
mod take;
mod validate;
mod validate_net;
mod vocab;
pub mod wire;
mod wire_syntax;
pub use wire_syntax::WireDef;

#[cfg(test)]
mod tests;

pub use catalogue::{catalogue, discover, load, topic_of};
pub use expr::{Expr, ExprError, Lookup};
pub use kernel::{KernelExpectations, KernelRange};
pub use model::{
    lookup, memory_cap, Actor, Basis, EngineExpectations, Expectations, Expected, Explain,
    MemoryNeed, MemoryRefusal, ObservationDef, Scenario, ScenarioError, ScenarioWarning,
    DEFAULT_TIMEOUT_MS, MEMORY_CAP_MAX, MEMORY_CAP_RULE,
};
pub use operands::{How, PollFor, Queue, SigPipe, SockOpt};
pub use params::{align as align_params, quantity, Param, ParamKind, ParamValue, PARAM_TYPES};
pub use step::{dial_options, Action, Step, OPS};
pub use take::{Take, ValueType};
pub use validate::{parse, placeholders};
pub use vocab::{
    Engine, CLEAN_ROOM, COUNTER_GROUPS, ENGINE_NAMES, ERRNO_NAMES, FACTS, INDEX, OSES,
};
