//! The types a run returns and the errors that end one; the engine's bottom layer.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::framing::MAX_TAGGED_WRITERS;
use crate::event::{Event, Outcome};
use crate::packet::Endpoint;
use crate::scenario::wire::{Host, WireChange};
use crate::scenario::{ExprError, ParamValue};

/// How often the engine's own waits look at the cancel flag.
pub const SLICE: Duration = Duration::from_millis(20);

/// Longest `wait_blocked` and default `wait_bytes` wait, within the watchdog's limit.
pub(super) const ENGINE_WAIT_LIMIT: Duration = Duration::from_secs(30);

/// What a `state` step reports when the kernel holds no entry for a closed socket.
pub const ABSENT: &str = "absent";

/// A poisoned lock only means another actor panicked; the data is still what it was.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The network a scenario on the wire runs on: each host's namespace and address, and
/// the way a `wire` step reaches the wire's relay. Made by the lab around the engine.
#[derive(Clone)]
pub struct Net {
    /// Host a's and host b's network namespace and address, in that order.
    pub hosts: [HostNet; 2],
    /// Applies one change to the wire; in force when it returns.
    pub wire: WireHandle,
}

/// A host's network namespace and address.
pub type HostNet = (std::sync::Arc<crate::sys::NetnsFd>, std::net::Ipv4Addr);

/// How a `wire` step reaches the relay.
pub type WireHandle = std::sync::Arc<dyn Fn(&WireChange) -> std::io::Result<()> + Send + Sync>;

impl Net {
    pub fn host(&self, h: Host) -> &HostNet {
        &self.hosts[h as usize]
    }
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("a", &self.hosts[0].1)
            .field("b", &self.hosts[1].1)
            .finish_non_exhaustive()
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
    /// The hosts and the wire, for a scenario whose actors are on hosts.
    pub net: Option<Net>,
    /// The run's start, the origin of every event's time; `None`: when the engine
    /// starts. Given when something else (the packet capture) counts from it too.
    pub start: Option<std::time::Instant>,
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
    pub(super) fn new(actor: &str, op: &'static str) -> StepResult {
        StepResult {
            actor: actor.to_owned(),
            id: None,
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

    /// A call that moved `k` bytes.
    pub(super) fn moved(&mut self, k: usize) {
        self.bytes += k as i64;
        self.sizes.push(k as i64);
        self.count += 1;
        self.calls.push(k.to_string());
    }

    /// A call that failed (or a deadline that ended it), ending the step.
    pub(super) fn failed(&mut self, o: Outcome) {
        self.calls.push(call_label(&o));
        self.outcome = o;
    }

    /// A call that failed, in a step that goes on: the first error stays the step's
    /// outcome.
    pub(super) fn failed_again(&mut self, o: Outcome) {
        self.calls.push(call_label(&o));
        if self.outcome.is_ok() {
            self.outcome = o;
        }
    }
}

/// How `calls` shows a failed call: its errno name, `deadline` for a timer of the lab's
/// own, else the outcome.
fn call_label(o: &Outcome) -> String {
    match o {
        Outcome::Err { errno: Some(n), .. } => n.clone(),
        Outcome::Err { deadline: true, .. } => "deadline".into(),
        other => other.to_string(),
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
    /// Each socket's addresses when it was made (listened, connected, accepted), so that
    /// packets can be named after the scenario's sockets.
    pub endpoints: Vec<Endpoint>,
}

/// The local and peer address a socket had when it was closed (the peer 0.0.0.0:0 for
/// one that was not connected).
pub type Addrs = Option<(std::net::SocketAddr, std::net::SocketAddr)>;

/// Why a scenario cannot go on: an error of the engine or of the scenario's use of it,
/// not of a socket call (a call's errno is an observation, never an `EngineError`).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("a `wire` step ran without a wire (the actors are not on hosts)")]
    NoWire,
    #[error("the wire step's faults are invalid with these parameters: {0}")]
    Wire(String),
    #[error("socket `{0}` does not exist yet: the step that creates it has not run (order the actors with signal/wait)")]
    Missing(String),
    #[error("`{0}` is a set of dialled connections, not one socket")]
    Group(String),
    #[error("socket `{0}` was closed by an earlier step")]
    Closed(String),
    #[error("`{0}` is not an open socket")]
    NotOpen(String),
    #[error("socket `{0}` is in use by another actor and cannot be closed now")]
    Busy(String),
    /// The socket is of another kind than the step needs (an engine that tells them
    /// apart: tokio's listeners and streams are different types).
    #[error("`{name}` is {is}")]
    WrongKind { name: String, is: &'static str },
    #[error("the address of the closed socket `{0}` is unknown")]
    AddressUnknown(String),
    #[error("cannot read the address of `{name}`{}", cause.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    NoAddress {
        name: String,
        cause: Option<std::io::Error>,
    },
    #[error("`{expr}`: {error}")]
    Expr { expr: String, error: ExprError },
    #[error("`{expr}` is {value}, not a size")]
    NotASize { expr: String, value: i64 },
    #[error("backlog {0} out of range")]
    Backlog(i64),
    #[error("at most {MAX_TAGGED_WRITERS} writers can be told apart")]
    TooManyWriters,
    #[error("TCP_CONGESTION takes an algorithm's name (`reno`, `cubic`, `bbr`) or a text parameter, not `{0}`")]
    CongestionName(String),
    #[error("cancelled while waiting for `{0}`")]
    CancelledSync(String),
    #[error("cancelled while waiting for `{0}` to block")]
    CancelledBlock(String),
    #[error("`{actor}` {how}")]
    NotBlocked { actor: String, how: &'static str },
    #[error("there is no actor `{0}`")]
    NoActor(String),
    /// A step this engine cannot run, and why.
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("tokio did not take the connecting socket: {0}")]
    Adopt(std::io::Error),
    /// A repeated actor's `count` outside what the engine runs.
    #[error("actor `{actor}`: count {n} is outside 1..=64")]
    CountRange { actor: String, n: i64 },
    #[error("actor `{actor}`: count: {error}")]
    CountExpr { actor: String, error: ExprError },
    /// The allocator refused a step's buffer (the memory guard of `resolve_params`
    /// refuses what it can foresee before the run; this is what it could not).
    #[error("cannot allocate {0} bytes for this step")]
    Alloc(usize),
    /// The engine could not start a thread, runtime or task.
    #[error("cannot start {what}: {cause}")]
    Start {
        what: &'static str,
        cause: std::io::Error,
    },
}

/// What a step gives back: its result, or the engine error that ends the run.
pub(super) type StepOutcome = Result<StepResult, EngineError>;
