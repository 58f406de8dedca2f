//! What the engine saw: one event per socket call, and the outcome of every call.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

use crate::sys;

/// How a call ended.
///
/// `Err` keeps both the portable `io::ErrorKind` and the raw errno, because the two tell
/// different stories: Rust maps EAGAIN to `WouldBlock`, while the errno name is what the
/// man pages and other languages talk about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Err {
        /// `io::ErrorKind` as Rust names it (`BrokenPipe`, `WouldBlock`).
        kind: String,
        /// The errno name (`EPIPE`); absent when the error came from the lab's own timer.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        errno: Option<String>,
        /// The raw errno number on this system.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        code: Option<i32>,
        /// True when a deadline of the lab's own (poll timeout) expired: no errno.
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        deadline: bool,
    },
}

impl Outcome {
    pub fn from_io(e: &io::Error) -> Outcome {
        let code = e.raw_os_error();
        Outcome::Err {
            kind: format!("{:?}", e.kind()),
            errno: code.and_then(|c| {
                sys::errno_name(c)
                    .map(str::to_owned)
                    .or(Some(format!("errno {c}")))
            }),
            code,
            deadline: false,
        }
    }

    /// A deadline of the lab's own expired (a poll timed out); there is no errno.
    pub fn deadline() -> Outcome {
        Outcome::Err {
            kind: format!("{:?}", io::ErrorKind::TimedOut),
            errno: None,
            code: None,
            deadline: true,
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// Whether `word` names this outcome: `ok`, `deadline`, the errno name or the kind.
    pub fn matches(&self, word: &str) -> bool {
        match self {
            Outcome::Ok => word == "ok",
            Outcome::Err {
                kind,
                errno,
                deadline,
                ..
            } => {
                (word == "deadline" && *deadline) || kind == word || errno.as_deref() == Some(word)
            }
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Err { deadline: true, .. } => f.write_str("deadline (no errno)"),
            Outcome::Err {
                kind,
                errno: Some(errno),
                ..
            } => write!(f, "{errno} ({kind})"),
            Outcome::Err { kind, .. } => f.write_str(kind),
        }
    }
}

/// One socket call (or one wait of the engine's own, such as a sync point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `client`, or `writer#2` for the third instance of a repeated actor.
    pub actor: String,
    /// 1-based index of the step in the actor's list.
    pub step: usize,
    /// The call: `connect`, `write`, `setsockopt(SO_SNDBUF)`, `poll(POLLOUT)`, ...
    pub op: String,
    /// The socket name in the scenario, when the call is on one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sock: Option<String>,
    /// Bytes asked for (buffer size for reads, length for writes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub requested: Option<u64>,
    /// Bytes the call reported moved, or the value it returned (an option's value).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub returned: Option<i64>,
    pub outcome: Outcome,
    /// When the call started, in milliseconds since the scenario started.
    pub at_ms: f64,
    /// How long the call took, in milliseconds.
    pub elapsed_ms: f64,
    /// Anything else worth reading (`3 more calls folded into this one`, `POLLIN|POLLHUP`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// A duration in milliseconds, with nanosecond resolution.
///
/// Dividing the whole nanoseconds once keeps the value the nearest double to the exact
/// figure, so it prints as `0.239245`, not `0.23924499999999999`.
pub fn millis(d: std::time::Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}
