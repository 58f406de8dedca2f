//! The step vocabulary. It names socket operations, not an engine's calls, so that a
//! blocking engine and an async one can run the same file.
//!
//! Adding an op: one entry in the `actions!` list below (its name as files write it,
//! its variant and fields), then its arms in `impl Action` (what it creates, uses,
//! evaluates and offers observations), then the engines that run it.

use serde::Deserialize;

use super::expr::Expr;
use super::operands::{How, PollFor, Queue, SigPipe, SockOpt};
use super::take::Take;

/// Defines [`Action`] from one list in which each op's name is written once: every
/// variant gets that name as its serde tag (`op = "write_all"`), and [`Action::op`] and
/// [`OPS`] are made from the same list, in its order.
macro_rules! actions {
    ($(
        $(#[$meta:meta])*
        $op:literal => $variant:ident { $($fields:tt)* },
    )*) => {
        /// One operation of an actor. Numbers are expressions over parameters and facts.
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(tag = "op", deny_unknown_fields)]
        pub enum Action {
            $(
                $(#[$meta])*
                #[serde(rename = $op)]
                $variant { $($fields)* },
            )*
        }

        /// The operations, for error messages.
        pub const OPS: &[&str] = &[$($op),*];

        impl Action {
            /// The op name the file gives this step (`write_all`).
            pub fn op(&self) -> &'static str {
                match self {
                    $(Action::$variant { .. } => $op,)*
                }
            }
        }
    };
}

actions! {
    /// Binds a socket to 127.0.0.1:0 without listening: a port that refuses dials.
    /// With `port_of`, binds the port another socket (open or closed) had instead.
    "bind" => Bind {
        #[serde(rename = "as")]
        name: String,
        #[serde(default)]
        reuseaddr: bool,
        port_of: Option<String>,
    },
    /// Binds 127.0.0.1:0 (or the port of `port_of`) and listens with this backlog.
    "listen" => Listen {
        #[serde(rename = "as")]
        name: String,
        backlog: Expr,
        #[serde(default)]
        reuseaddr: bool,
        port_of: Option<String>,
    },
    /// Accepts one connection (blocking; with `timeout_ms`, bounded by poll).
    "accept" => Accept {
        from: String,
        #[serde(rename = "as")]
        name: String,
        timeout_ms: Option<Expr>,
    },
    /// Connects to a listener or bound socket; with `timeout_ms`, a non-blocking connect
    /// and poll bounded by that deadline.
    "connect" => Connect {
        to: String,
        #[serde(rename = "as")]
        name: String,
        timeout_ms: Option<Expr>,
        /// Socket options set between socket(2) and connect(2) (`{ TCP_SYNCNT = 1 }`):
        /// the ones that shape the handshake itself.
        #[serde(default)]
        options: indexmap::IndexMap<String, Expr>,
    },
    /// Connects again and again, keeping every connection, until a dial fails or `max`
    /// dials have succeeded.
    "dial_repeat" => DialRepeat {
        to: String,
        #[serde(rename = "as")]
        name: String,
        max: Expr,
        timeout_ms: Option<Expr>,
    },
    /// One write(2) of `bytes` bytes; reports what that one call moved.
    "write" => Write {
        sock: String,
        bytes: Expr,
    },
    /// write(2) in a loop until all `bytes` are written or a call fails.
    "write_all" => WriteAll {
        sock: String,
        bytes: Expr,
    },
    /// Non-blocking writes of `chunk` bytes until the kernel says EAGAIN (or `max_bytes`).
    "write_until_blocked" => WriteUntilBlocked {
        sock: String,
        chunk: Expr,
        max_bytes: Option<Expr>,
    },
    /// One read(2) into a buffer of `buf` bytes.
    "read" => Read {
        sock: String,
        buf: Expr,
    },
    /// read(2) into `buf` bytes until it returns 0 or fails (or `max_calls` reads).
    "read_to_eof" => ReadToEof {
        sock: String,
        buf: Expr,
        max_calls: Option<Expr>,
    },
    /// Exactly `times` reads into `buf` bytes, going on past EOF and errors: shows what
    /// every later read returns.
    "read_times" => ReadTimes {
        sock: String,
        buf: Expr,
        times: Expr,
    },
    /// Waits until at least `bytes` bytes are queued for reading (FIONREAD; reads nothing),
    /// or with `queue = "unacked"` until at most `bytes` sent bytes are not yet
    /// acknowledged by the peer (SIOCOUTQ; `bytes = 0`: everything was acknowledged).
    "wait_bytes" => WaitBytes {
        sock: String,
        bytes: Expr,
        timeout_ms: Option<Expr>,
        #[serde(default)]
        queue: Queue,
    },
    "set" => Set {
        sock: String,
        option: SockOpt,
        value: Expr,
    },
    "get" => Get {
        sock: String,
        option: SockOpt,
    },
    "shutdown" => Shutdown {
        sock: String,
        how: How,
    },
    /// close(2). Later steps on this socket act on the closed descriptor number.
    "close" => Close {
        sock: String,
    },
    /// poll(2) until the event shows or `timeout_ms` passes.
    "poll" => Poll {
        sock: String,
        #[serde(rename = "for")]
        wait_for: PollFor,
        timeout_ms: Expr,
    },
    /// Marks a named sync point reached (once per call).
    "signal" => Signal {
        sync: String,
    },
    /// Waits until the sync point was signalled `count` times (default 1).
    "wait" => Wait {
        sync: String,
        count: Option<Expr>,
    },
    /// Waits until every instance of `actor` is asleep inside a socket call.
    "wait_blocked" => WaitBlocked {
        actor: String,
    },
    /// Writes `count` messages of `size` bytes, each with one `write_all`; every byte is
    /// tagged with the writer's instance number. When `lock` is true (non-zero), a mutex
    /// per socket is held around each whole message.
    "write_messages" => WriteMessages {
        sock: String,
        count: Expr,
        size: Expr,
        #[serde(default = "no_lock")]
        lock: Expr,
    },
    /// Reads to EOF and checks the messages of `writers` writers, `count` each, of `size`.
    "read_messages" => ReadMessages {
        sock: String,
        writers: Expr,
        count: Expr,
        size: Expr,
        buf: Expr,
    },
    /// A non-blocking connect(2): the step's outcome is what that one call returned
    /// (EINPROGRESS while the handshake runs); the socket is kept, still non-blocking,
    /// for `poll` and `get SO_ERROR` to follow.
    "connect_start" => ConnectStart {
        to: String,
        #[serde(rename = "as")]
        name: String,
    },
    /// connect(2) once more on an existing socket `sock`, to the address of `to`.
    "connect_again" => ConnectAgain {
        sock: String,
        to: String,
    },
    /// The socket's TCP state as the kernel reports it (RFC names); for a socket this
    /// side closed, its connection's entry in the kernel's table, or `absent`.
    "state" => State {
        sock: String,
    },
    /// A child process sets SIGPIPE to `sigpipe`, makes one plain write(2) of `bytes` on
    /// the inherited socket, reports and exits; the parent waits up to `timeout_ms`.
    "write_in_child" => WriteInChild {
        sock: String,
        bytes: Expr,
        sigpipe: SigPipe,
        timeout_ms: Option<Expr>,
    },
    /// Changes the wire between hosts a and b (a scenario whose actors are on hosts):
    /// `set` merges faults (a table, or "blackhole"), `clear` removes them ("all", a
    /// name or a list), `reset` injects a RST toward a host; `dir` ("a>b", "b>a",
    /// "both", the default) picks the direction of `set` and `clear`. The change is in
    /// force when the step ends.
    "wire" => Wire {
        set: Option<toml::Value>,
        clear: Option<toml::Value>,
        reset: Option<String>,
        dir: Option<String>,
    },
    /// `count` request/response exchanges: each sends the request as `parts` writes of
    /// `part_bytes`, then reads until `reply_bytes` arrived.
    "request" => Request {
        sock: String,
        count: Expr,
        parts: Expr,
        part_bytes: Expr,
        reply_bytes: Expr,
    },
    /// The other side of `request`: `count` times, reads until `request_bytes` arrived,
    /// then sends `reply_bytes` in one write.
    "respond" => Respond {
        sock: String,
        count: Expr,
        request_bytes: Expr,
        reply_bytes: Expr,
    },
}

/// Whether a dial's `to` is an address (`10.89.0.9:9`) rather than a socket's name.
pub fn is_address(to: &str) -> bool {
    to.parse::<std::net::SocketAddr>().is_ok()
}

fn no_lock() -> Expr {
    Expr::Num(0)
}

impl Action {
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
            | Action::ConnectStart { to, .. } => [to.as_str()]
                .into_iter()
                .filter(|t| !is_address(t))
                .collect(),
            Action::ConnectAgain { sock, to } => [sock.as_str(), to.as_str()]
                .into_iter()
                .filter(|t| !is_address(t))
                .collect(),
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
            Action::Accept { timeout_ms, .. } => {
                opt("timeout_ms", timeout_ms).into_iter().collect()
            }
            Action::Connect {
                timeout_ms,
                options,
                ..
            } => {
                let mut v: Vec<_> = opt("timeout_ms", timeout_ms).into_iter().collect();
                v.extend(options.values().map(|e| ("options", e)));
                v
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

    /// The expressions giving the sizes of the buffers the step allocates (the engine
    /// builds one buffer of each, once per step): what the memory guard adds up.
    pub fn buffers(&self) -> Vec<&Expr> {
        match self {
            Action::Write { bytes, .. }
            | Action::WriteAll { bytes, .. }
            | Action::WriteInChild { bytes, .. } => vec![bytes],
            Action::WriteUntilBlocked { chunk, .. } => vec![chunk],
            Action::Read { buf, .. }
            | Action::ReadToEof { buf, .. }
            | Action::ReadTimes { buf, .. }
            | Action::ReadMessages { buf, .. } => vec![buf],
            Action::WriteMessages { size, .. } => vec![size],
            Action::Request {
                part_bytes,
                reply_bytes,
                ..
            } => vec![part_bytes, reply_bytes],
            Action::Respond {
                request_bytes,
                reply_bytes,
                ..
            } => vec![request_bytes, reply_bytes],
            _ => vec![],
        }
    }

    /// The fields whose value must not be negative: sizes, counts and durations (all
    /// but a listen backlog, which listen(2) takes as any int, a `set` value, where a
    /// negative SO_LINGER means off, and `lock`, a flag).
    pub fn non_negative(&self) -> Vec<(&'static str, &Expr)> {
        self.exprs()
            .into_iter()
            .filter(|(f, _)| !matches!(*f, "backlog" | "value" | "lock"))
            .collect()
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

impl Action {
    /// The changes a `wire` step makes under these parameters (a fault's value may name
    /// one); empty for every other op.
    pub fn wire_changes(
        &self,
        params: &std::collections::BTreeMap<String, super::ParamValue>,
    ) -> Result<Vec<super::wire::WireChange>, String> {
        match self {
            Action::Wire {
                set,
                clear,
                reset,
                dir,
            } => super::wire_syntax::wire_step(
                set.as_ref(),
                clear.as_ref(),
                reset.as_deref(),
                dir.as_deref(),
                &|n| params.get(n).cloned(),
            ),
            _ => Ok(Vec::new()),
        }
    }
}

/// A `connect` step's `options` as socket options, or what is wrong with one.
pub fn dial_options(
    options: &indexmap::IndexMap<String, Expr>,
) -> Result<Vec<(SockOpt, &Expr)>, String> {
    options
        .iter()
        .map(|(k, e)| {
            let opt: SockOpt = toml::Value::String(k.clone())
                .try_into()
                .map_err(|_| format!("`options.{k}` is not a socket option the lab sets"))?;
            if opt.read_only() || matches!(opt, SockOpt::Congestion | SockOpt::NonBlocking) {
                return Err(format!(
                    "`options.{k}`: {} cannot be set before connect here (set it in a `set` step)",
                    opt.name()
                ));
            }
            Ok((opt, e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_is_written_once_and_is_its_variants_tag() {
        let mut seen = std::collections::BTreeSet::new();
        for op in OPS {
            assert!(seen.insert(op), "{op} is listed twice");
            let mut t = toml::Table::new();
            t.insert("op".into(), (*op).into());
            // Most ops need fields; none may be an unknown variant.
            if let Err(e) = toml::Value::Table(t).try_into::<Action>() {
                assert!(!e.to_string().contains("unknown variant"), "{op}: {e}");
            }
        }
    }

    #[test]
    fn a_step_names_its_op_as_the_file_wrote_it() {
        let t: toml::Table = toml::from_str("op = \"write_all\"\nsock = \"c\"\nbytes = 5").unwrap();
        assert_eq!(Step::from_table(t).unwrap().action.op(), "write_all");
    }
}
