//! What an observation takes from a step, and the type of the value it yields.

use std::fmt;

use serde::Deserialize;

/// What an observation takes from a step's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Take {
    /// The step's outcome: ok, or the error of its last call.
    Outcome,
    /// Bytes moved in all.
    Bytes,
    /// The byte count of each call, in order.
    Sizes,
    /// How many calls succeeded (dials, reads, writes, messages).
    Count,
    /// Wall time of the step.
    ElapsedMs,
    /// The value read back (`get`) or found (`wait_bytes`).
    Value,
    /// The poll events seen.
    Revents,
    /// Every call's result in order (`5, 0, 0` or `5, ECONNRESET, 0`).
    Calls,
    /// Messages that arrived whole.
    Intact,
    /// Messages with another writer's bytes inside them.
    Interleaved,
    /// Bytes sent but not received.
    Lost,
    /// The TCP state a `state` step found (`ESTABLISHED`, `TIME-WAIT`, `absent`).
    State,
    /// The pending error a `get SO_ERROR` read, as an outcome (`ok` when none).
    Error,
    /// How the child of a `write_in_child` step ended (`exited 0`, `killed by SIGPIPE`).
    Status,
    /// The name a `get TCP_CONGESTION` read (`bbr`).
    Name,
    /// A kernel counter's change over the run (observations with `counter`, not `take`).
    #[serde(skip)]
    Counter,
    /// A figure of the run's packets (observations with `packets`, not `take`).
    #[serde(skip)]
    Packets,
}

impl fmt::Display for Take {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Take::Outcome => "outcome",
            Take::Bytes => "bytes",
            Take::Sizes => "sizes",
            Take::Count => "count",
            Take::ElapsedMs => "elapsed_ms",
            Take::Value => "value",
            Take::Revents => "revents",
            Take::Calls => "calls",
            Take::Intact => "intact",
            Take::Interleaved => "interleaved",
            Take::Lost => "lost",
            Take::State => "state",
            Take::Error => "error",
            Take::Status => "status",
            Take::Name => "name",
            Take::Counter => "counter",
            Take::Packets => "packets",
        };
        f.write_str(s)
    }
}

/// The type of an observed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Int,
    Ms,
    List,
    Outcome,
    Text,
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::Int => "integer",
            ValueType::Ms => "milliseconds",
            ValueType::List => "list",
            ValueType::Outcome => "outcome",
            ValueType::Text => "text",
        })
    }
}

impl Take {
    pub fn value_type(self) -> ValueType {
        match self {
            Take::Outcome | Take::Error => ValueType::Outcome,
            Take::State | Take::Status | Take::Name => ValueType::Text,
            Take::Sizes => ValueType::List,
            Take::ElapsedMs => ValueType::Ms,
            Take::Revents | Take::Calls => ValueType::Text,
            _ => ValueType::Int,
        }
    }
}
