//! The step vocabulary. It names socket operations, not an engine's calls, so that a
//! blocking engine and an async one can run the same file.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::expr::Expr;

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Expr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "an integer, a boolean or an expression such as \"min(backlog, somaxconn)\"",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Expr, E> {
                Ok(Expr::Num(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Expr, E> {
                i64::try_from(v)
                    .map(Expr::Num)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Expr, E> {
                Ok(Expr::Num(i64::from(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expr, E> {
                Expr::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A socket option the lab can set and read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum SockOpt {
    #[serde(rename = "SO_SNDBUF")]
    SndBuf,
    #[serde(rename = "SO_RCVBUF")]
    RcvBuf,
    #[serde(rename = "TCP_NODELAY")]
    NoDelay,
    /// Seconds; a negative value turns lingering off.
    #[serde(rename = "SO_LINGER")]
    Linger,
    #[serde(rename = "SO_KEEPALIVE")]
    KeepAlive,
    /// Milliseconds; 0 means no timeout.
    #[serde(rename = "SO_RCVTIMEO")]
    RcvTimeo,
    /// Milliseconds; 0 means no timeout.
    #[serde(rename = "SO_SNDTIMEO")]
    SndTimeo,
    #[serde(rename = "SO_REUSEADDR")]
    ReuseAddr,
    /// The pending error (read only); its value is the errno number, 0 for none.
    #[serde(rename = "SO_ERROR")]
    Error,
    /// Bytes queued for reading (read only; the FIONREAD ioctl).
    #[serde(rename = "FIONREAD")]
    InQueue,
    /// Bytes in the send queue, sent or not, not yet acknowledged (read only; the
    /// SIOCOUTQ ioctl, Linux only).
    #[serde(rename = "SIOCOUTQ")]
    OutQueue,
    /// Seconds of idleness before the first keepalive probe.
    #[serde(rename = "TCP_KEEPIDLE")]
    KeepIdle,
    /// Seconds between keepalive probes.
    #[serde(rename = "TCP_KEEPINTVL")]
    KeepIntvl,
    /// Unanswered keepalive probes before the connection is dropped.
    #[serde(rename = "TCP_KEEPCNT")]
    KeepCnt,
    /// The descriptor's O_NONBLOCK flag (fcntl), 1 or 0: later calls on the socket return
    /// EAGAIN instead of blocking.
    #[serde(rename = "O_NONBLOCK")]
    NonBlocking,
    /// The socket's congestion control algorithm, by name (`reno`, `cubic`, `bbr`): `set`
    /// takes a name or a text parameter as `value`; `get` reads the name (`take = "name"`).
    #[serde(rename = "TCP_CONGESTION")]
    Congestion,
    /// Congestion window, in segments (read only; TCP_INFO's tcpi_snd_cwnd).
    #[serde(rename = "TCP_INFO.snd_cwnd")]
    InfoSndCwnd,
    /// The reordering the connection assumes, in segments (read only; tcpi_reordering):
    /// net.ipv4.tcp_reordering, or what the metrics cache held for the peer.
    #[serde(rename = "TCP_INFO.reordering")]
    InfoReordering,
    /// The sending MSS in bytes (read only; tcpi_snd_mss).
    #[serde(rename = "TCP_INFO.snd_mss")]
    InfoSndMss,
    /// Slow-start threshold in segments (read only; tcpi_snd_ssthresh).
    #[serde(rename = "TCP_INFO.snd_ssthresh")]
    InfoSsthresh,
    /// Segments retransmitted over the connection's life (read only; tcpi_total_retrans).
    #[serde(rename = "TCP_INFO.total_retrans")]
    InfoTotalRetrans,
}

impl SockOpt {
    /// Options a `set` step cannot change.
    pub fn read_only(self) -> bool {
        matches!(self, SockOpt::Error | SockOpt::InQueue | SockOpt::OutQueue)
            || self.tcp_info_field().is_some()
    }

    /// The tcp_info field (without `tcpi_`) a TCP_INFO option reads.
    pub fn tcp_info_field(self) -> Option<&'static str> {
        Some(match self {
            SockOpt::InfoSndCwnd => "snd_cwnd",
            SockOpt::InfoReordering => "reordering",
            SockOpt::InfoSndMss => "snd_mss",
            SockOpt::InfoSsthresh => "snd_ssthresh",
            SockOpt::InfoTotalRetrans => "total_retrans",
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SockOpt::SndBuf => "SO_SNDBUF",
            SockOpt::RcvBuf => "SO_RCVBUF",
            SockOpt::NoDelay => "TCP_NODELAY",
            SockOpt::Linger => "SO_LINGER",
            SockOpt::KeepAlive => "SO_KEEPALIVE",
            SockOpt::RcvTimeo => "SO_RCVTIMEO",
            SockOpt::SndTimeo => "SO_SNDTIMEO",
            SockOpt::ReuseAddr => "SO_REUSEADDR",
            SockOpt::Error => "SO_ERROR",
            SockOpt::InQueue => "FIONREAD",
            SockOpt::OutQueue => "SIOCOUTQ",
            SockOpt::KeepIdle => "TCP_KEEPIDLE",
            SockOpt::KeepIntvl => "TCP_KEEPINTVL",
            SockOpt::KeepCnt => "TCP_KEEPCNT",
            SockOpt::NonBlocking => "O_NONBLOCK",
            SockOpt::Congestion => "TCP_CONGESTION",
            SockOpt::InfoSndCwnd => "TCP_INFO.snd_cwnd",
            SockOpt::InfoReordering => "TCP_INFO.reordering",
            SockOpt::InfoSndMss => "TCP_INFO.snd_mss",
            SockOpt::InfoSsthresh => "TCP_INFO.snd_ssthresh",
            SockOpt::InfoTotalRetrans => "TCP_INFO.total_retrans",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    Read,
    Write,
    Both,
}

/// Which queue a `wait_bytes` step watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    /// Bytes received and waiting to be read (FIONREAD), until at least `bytes`.
    #[default]
    In,
    /// Bytes sent and not yet acknowledged (SIOCOUTQ, Linux), until at most `bytes`.
    Unacked,
}

/// The poll(2) event a `poll` step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollFor {
    /// Readable: data, EOF or an error.
    In,
    /// Writable.
    Out,
    /// An error is pending (a RST arrived).
    Err,
    /// The connection is shut down both ways (or reset).
    Hup,
}

/// What SIGPIPE does in the child of a `write_in_child` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigPipe {
    /// SIG_IGN, as Rust's runtime sets it: the write fails with EPIPE.
    Ignore,
    /// SIG_DFL: the signal ends the process.
    Default,
}

/// One operation of an actor. Numbers are expressions over parameters and facts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Binds a socket to 127.0.0.1:0 without listening: a port that refuses dials.
    /// With `port_of`, binds the port another socket (open or closed) had instead.
    Bind {
        #[serde(rename = "as")]
        name: String,
        #[serde(default)]
        reuseaddr: bool,
        port_of: Option<String>,
    },
    /// Binds 127.0.0.1:0 (or the port of `port_of`) and listens with this backlog.
    Listen {
        #[serde(rename = "as")]
        name: String,
        backlog: Expr,
        #[serde(default)]
        reuseaddr: bool,
        port_of: Option<String>,
    },
    /// Accepts one connection (blocking; with `timeout_ms`, bounded by poll).
    Accept {
        from: String,
        #[serde(rename = "as")]
        name: String,
        timeout_ms: Option<Expr>,
    },
    /// Connects to a listener or bound socket; with `timeout_ms`, a non-blocking connect
    /// and poll bounded by that deadline.
    Connect {
        to: String,
        #[serde(rename = "as")]
        name: String,
        timeout_ms: Option<Expr>,
    },
    /// A non-blocking connect(2): the step's outcome is what that one call returned
    /// (EINPROGRESS while the handshake runs); the socket is kept, still non-blocking,
    /// for `poll` and `get SO_ERROR` to follow.
    ConnectStart {
        to: String,
        #[serde(rename = "as")]
        name: String,
    },
    /// connect(2) once more on an existing socket `sock`, to the address of `to`.
    ConnectAgain {
        sock: String,
        to: String,
    },
    /// The socket's TCP state as the kernel reports it (RFC names); for a socket this
    /// side closed, its connection's entry in the kernel's table, or `absent`.
    State {
        sock: String,
    },
    /// A child process sets SIGPIPE to `sigpipe`, makes one plain write(2) of `bytes` on
    /// the inherited socket, reports and exits; the parent waits up to `timeout_ms`.
    WriteInChild {
        sock: String,
        bytes: Expr,
        sigpipe: SigPipe,
        timeout_ms: Option<Expr>,
    },
    /// `count` request/response exchanges: each sends the request as `parts` writes of
    /// `part_bytes`, then reads until `reply_bytes` arrived.
    Request {
        sock: String,
        count: Expr,
        parts: Expr,
        part_bytes: Expr,
        reply_bytes: Expr,
    },
    /// The other side of `request`: `count` times, reads until `request_bytes` arrived,
    /// then sends `reply_bytes` in one write.
    Respond {
        sock: String,
        count: Expr,
        request_bytes: Expr,
        reply_bytes: Expr,
    },
    /// Connects again and again, keeping every connection, until a dial fails or `max`
    /// dials have succeeded.
    DialRepeat {
        to: String,
        #[serde(rename = "as")]
        name: String,
        max: Expr,
        timeout_ms: Option<Expr>,
    },
    /// One write(2) of `bytes` bytes; reports what that one call moved.
    Write {
        sock: String,
        bytes: Expr,
    },
    /// write(2) in a loop until all `bytes` are written or a call fails.
    WriteAll {
        sock: String,
        bytes: Expr,
    },
    /// Non-blocking writes of `chunk` bytes until the kernel says EAGAIN (or `max_bytes`).
    WriteUntilBlocked {
        sock: String,
        chunk: Expr,
        max_bytes: Option<Expr>,
    },
    /// One read(2) into a buffer of `buf` bytes.
    Read {
        sock: String,
        buf: Expr,
    },
    /// read(2) into `buf` bytes until it returns 0 or fails (or `max_calls` reads).
    ReadToEof {
        sock: String,
        buf: Expr,
        max_calls: Option<Expr>,
    },
    /// Exactly `times` reads into `buf` bytes, going on past EOF and errors: shows what
    /// every later read returns.
    ReadTimes {
        sock: String,
        buf: Expr,
        times: Expr,
    },
    /// Waits until at least `bytes` bytes are queued for reading (FIONREAD; reads nothing),
    /// or with `queue = "unacked"` until at most `bytes` sent bytes are not yet
    /// acknowledged by the peer (SIOCOUTQ; `bytes = 0`: everything was acknowledged).
    WaitBytes {
        sock: String,
        bytes: Expr,
        timeout_ms: Option<Expr>,
        #[serde(default)]
        queue: Queue,
    },
    Set {
        sock: String,
        option: SockOpt,
        value: Expr,
    },
    Get {
        sock: String,
        option: SockOpt,
    },
    Shutdown {
        sock: String,
        how: How,
    },
    /// close(2). Later steps on this socket act on the closed descriptor number.
    Close {
        sock: String,
    },
    /// poll(2) until the event shows or `timeout_ms` passes.
    Poll {
        sock: String,
        #[serde(rename = "for")]
        wait_for: PollFor,
        timeout_ms: Expr,
    },
    /// Marks a named sync point reached (once per call).
    Signal {
        sync: String,
    },
    /// Waits until the sync point was signalled `count` times (default 1).
    Wait {
        sync: String,
        count: Option<Expr>,
    },
    /// Waits until every instance of `actor` is asleep inside a socket call.
    WaitBlocked {
        actor: String,
    },
    /// Writes `count` messages of `size` bytes, each with one `write_all`; every byte is
    /// tagged with the writer's instance number. When `lock` is true (non-zero), a mutex
    /// per socket is held around each whole message.
    WriteMessages {
        sock: String,
        count: Expr,
        size: Expr,
        #[serde(default = "no_lock")]
        lock: Expr,
    },
    /// Reads to EOF and checks the messages of `writers` writers, `count` each, of `size`.
    ReadMessages {
        sock: String,
        writers: Expr,
        count: Expr,
        size: Expr,
        buf: Expr,
    },
}

fn no_lock() -> Expr {
    Expr::Num(0)
}

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

impl Action {
    pub fn op(&self) -> &'static str {
        match self {
            Action::Bind { .. } => "bind",
            Action::Listen { .. } => "listen",
            Action::Accept { .. } => "accept",
            Action::Connect { .. } => "connect",
            Action::DialRepeat { .. } => "dial_repeat",
            Action::Write { .. } => "write",
            Action::WriteAll { .. } => "write_all",
            Action::WriteUntilBlocked { .. } => "write_until_blocked",
            Action::Read { .. } => "read",
            Action::ReadToEof { .. } => "read_to_eof",
            Action::ReadTimes { .. } => "read_times",
            Action::WaitBytes { .. } => "wait_bytes",
            Action::Set { .. } => "set",
            Action::Get { .. } => "get",
            Action::Shutdown { .. } => "shutdown",
            Action::Close { .. } => "close",
            Action::Poll { .. } => "poll",
            Action::Signal { .. } => "signal",
            Action::Wait { .. } => "wait",
            Action::WaitBlocked { .. } => "wait_blocked",
            Action::WriteMessages { .. } => "write_messages",
            Action::ReadMessages { .. } => "read_messages",
            Action::ConnectStart { .. } => "connect_start",
            Action::ConnectAgain { .. } => "connect_again",
            Action::State { .. } => "state",
            Action::WriteInChild { .. } => "write_in_child",
            Action::Request { .. } => "request",
            Action::Respond { .. } => "respond",
        }
    }

    /// The socket name this step creates.
    pub fn creates(&self) -> Option<&str> {
        match self {
            Action::Bind { name, .. }
            | Action::Listen { name, .. }
            | Action::ConnectStart { name, .. }
            | Action::Accept { name, .. }
            | Action::Connect { name, .. }
            | Action::DialRepeat { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The socket names this step uses.
    pub fn uses(&self) -> Vec<&str> {
        match self {
            Action::Accept { from, .. } => vec![from],
            Action::Bind { port_of, .. } | Action::Listen { port_of, .. } => {
                port_of.iter().map(String::as_str).collect()
            }
            Action::Connect { to, .. }
            | Action::DialRepeat { to, .. }
            | Action::ConnectStart { to, .. } => vec![to],
            Action::ConnectAgain { sock, to } => vec![sock, to],
            Action::Write { sock, .. }
            | Action::WriteAll { sock, .. }
            | Action::WriteUntilBlocked { sock, .. }
            | Action::Read { sock, .. }
            | Action::ReadToEof { sock, .. }
            | Action::ReadTimes { sock, .. }
            | Action::WaitBytes { sock, .. }
            | Action::Set { sock, .. }
            | Action::Get { sock, .. }
            | Action::Shutdown { sock, .. }
            | Action::Close { sock }
            | Action::Poll { sock, .. }
            | Action::WriteMessages { sock, .. }
            | Action::ReadMessages { sock, .. }
            | Action::State { sock }
            | Action::WriteInChild { sock, .. }
            | Action::Request { sock, .. }
            | Action::Respond { sock, .. } => vec![sock],
            _ => vec![],
        }
    }

    /// The expressions of the step, with their field names.
    pub fn exprs(&self) -> Vec<(&'static str, &Expr)> {
        fn opt<'a>(n: &'static str, e: &'a Option<Expr>) -> Option<(&'static str, &'a Expr)> {
            e.as_ref().map(|e| (n, e))
        }
        match self {
            Action::Listen { backlog, .. } => vec![("backlog", backlog)],
            Action::Accept { timeout_ms, .. } | Action::Connect { timeout_ms, .. } => {
                opt("timeout_ms", timeout_ms).into_iter().collect()
            }
            Action::DialRepeat {
                max, timeout_ms, ..
            } => {
                let mut v = vec![("max", max)];
                v.extend(opt("timeout_ms", timeout_ms));
                v
            }
            Action::Write { bytes, .. } | Action::WriteAll { bytes, .. } => vec![("bytes", bytes)],
            Action::WriteUntilBlocked {
                chunk, max_bytes, ..
            } => {
                let mut v = vec![("chunk", chunk)];
                v.extend(opt("max_bytes", max_bytes));
                v
            }
            Action::Read { buf, .. } => vec![("buf", buf)],
            Action::ReadToEof { buf, max_calls, .. } => {
                let mut v = vec![("buf", buf)];
                v.extend(opt("max_calls", max_calls));
                v
            }
            Action::ReadTimes { buf, times, .. } => vec![("buf", buf), ("times", times)],
            Action::WaitBytes {
                bytes, timeout_ms, ..
            } => {
                let mut v = vec![("bytes", bytes)];
                v.extend(opt("timeout_ms", timeout_ms));
                v
            }
            // TCP_CONGESTION's value is a name, not a number (see `Step::congestion`).
            Action::Set {
                option: SockOpt::Congestion,
                ..
            } => vec![],
            Action::Set { value, .. } => vec![("value", value)],
            Action::Poll { timeout_ms, .. } => vec![("timeout_ms", timeout_ms)],
            Action::Wait { count, .. } => opt("count", count).into_iter().collect(),
            Action::WriteMessages {
                count, size, lock, ..
            } => vec![("count", count), ("size", size), ("lock", lock)],
            Action::ReadMessages {
                writers,
                count,
                size,
                buf,
                ..
            } => vec![
                ("writers", writers),
                ("count", count),
                ("size", size),
                ("buf", buf),
            ],
            Action::WriteInChild {
                bytes, timeout_ms, ..
            } => {
                let mut v = vec![("bytes", bytes)];
                v.extend(opt("timeout_ms", timeout_ms));
                v
            }
            Action::Request {
                count,
                parts,
                part_bytes,
                reply_bytes,
                ..
            } => vec![
                ("count", count),
                ("parts", parts),
                ("part_bytes", part_bytes),
                ("reply_bytes", reply_bytes),
            ],
            Action::Respond {
                count,
                request_bytes,
                reply_bytes,
                ..
            } => vec![
                ("count", count),
                ("request_bytes", request_bytes),
                ("reply_bytes", reply_bytes),
            ],
            _ => vec![],
        }
    }

    /// What observations can take from this kind of step.
    pub fn takes(&self) -> Vec<Take> {
        use Take::*;
        let mut v = vec![Outcome, ElapsedMs];
        v.extend(match self {
            Action::DialRepeat { .. } => vec![Count],
            Action::Write { .. } | Action::Read { .. } => vec![Bytes],
            Action::WriteAll { .. }
            | Action::WriteUntilBlocked { .. }
            | Action::ReadToEof { .. } => {
                vec![Bytes, Sizes, Count, Calls]
            }
            Action::ReadTimes { .. } => vec![Bytes, Sizes, Count, Calls],
            Action::Get {
                option: SockOpt::Error,
                ..
            } => vec![Value, Error],
            Action::Get {
                option: SockOpt::Congestion,
                ..
            } => vec![Name],
            Action::WaitBytes { .. } | Action::Get { .. } => vec![Value],
            Action::State { .. } => vec![State],
            Action::WriteInChild { .. } => vec![Status, Bytes, Calls],
            Action::Request { .. } | Action::Respond { .. } => vec![Bytes, Count],
            Action::Poll { .. } => vec![Revents],
            Action::WriteMessages { .. } => vec![Bytes, Count],
            Action::ReadMessages { .. } => vec![Bytes, Count, Intact, Interleaved, Lost],
            _ => vec![],
        });
        v
    }
}

/// A step: an action, an optional id for observations, and an optional condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: Option<String>,
    /// Run only when this parameter is set (an optional integer) or true (a boolean).
    pub when: Option<String>,
    pub action: Action,
    /// 1-based line in the scenario file.
    pub line: usize,
}

/// Fields every step may carry besides those of its operation.
const COMMON_FIELDS: &[&str] = &["id", "when"];

/// The operations, for error messages.
pub const OPS: &[&str] = &[
    "bind",
    "listen",
    "accept",
    "connect",
    "dial_repeat",
    "write",
    "write_all",
    "write_until_blocked",
    "read",
    "read_to_eof",
    "read_times",
    "wait_bytes",
    "set",
    "get",
    "shutdown",
    "close",
    "poll",
    "signal",
    "wait",
    "wait_blocked",
    "write_messages",
    "read_messages",
    "connect_start",
    "connect_again",
    "state",
    "write_in_child",
    "request",
    "respond",
];

/// The one field whose TOML type is the one a serde "invalid type" message complains
/// of; serde's messages from a tagged enum do not name the field themselves.
fn field_of_type_error<'a>(message: &str, fields: &'a [(String, &'static str)]) -> Option<&'a str> {
    let found = message
        .strip_prefix("invalid type: ")?
        .split([' ', ','])
        .next()?;
    let toml_type = match found {
        "sequence" => "array",
        "map" => "table",
        "string" => "string",
        "integer" => "integer",
        "boolean" => "boolean",
        "floating" => "float",
        _ => return None,
    };
    let mut hits = fields.iter().filter(|(_, t)| *t == toml_type);
    match (hits.next(), hits.next()) {
        (Some((k, _)), None) => Some(k),
        _ => None,
    }
}

impl Step {
    /// Builds a step from its inline table; the error says which field is wrong and what
    /// the choices are.
    pub fn from_table(mut t: toml::Table) -> Result<Step, String> {
        let text = |t: &mut toml::Table, k: &str| -> Result<Option<String>, String> {
            match t.remove(k) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(format!("`{k}` must be a text, not {}", other.type_str())),
            }
        };
        let id = text(&mut t, COMMON_FIELDS[0])?;
        let when = text(&mut t, COMMON_FIELDS[1])?;
        match t.get("op") {
            None => return Err(format!("a step needs `op` (one of {})", OPS.join(", "))),
            Some(toml::Value::String(op)) if !OPS.contains(&op.as_str()) => {
                let near = crate::suggest::closest(op, OPS.iter().copied());
                return Err(format!(
                    "unknown op `{op}` (did you mean {}?); ops: {}",
                    near.first().copied().unwrap_or("?"),
                    OPS.join(", ")
                ));
            }
            _ => {}
        }
        let fields: Vec<(String, &'static str)> = t
            .iter()
            .filter(|(k, _)| *k != "op")
            .map(|(k, v)| (k.clone(), v.type_str()))
            .collect();
        let action: Action = toml::Value::Table(t)
            .try_into()
            .map_err(|e: toml::de::Error| {
                let m = e.message().trim().to_owned();
                if m.contains("unknown field") {
                    format!(
                        "{m} (every step may also have: {})",
                        COMMON_FIELDS.join(", ")
                    )
                } else {
                    match field_of_type_error(&m, &fields) {
                        Some(k) => format!("`{k}`: {m}"),
                        None => m,
                    }
                }
            })?;
        Ok(Step {
            id,
            when,
            action,
            line: 0,
        })
    }

    pub fn with_line(mut self, line: usize) -> Step {
        self.line = line;
        self
    }

    /// `write_all (line 12)` or `id "before" (line 12)`.
    pub fn describe(&self) -> String {
        match &self.id {
            Some(id) => format!("`{}` \"{id}\" (line {})", self.action.op(), self.line),
            None => format!("`{}` (line {})", self.action.op(), self.line),
        }
    }
}
