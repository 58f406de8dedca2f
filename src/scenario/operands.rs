//! The values a step's fields take besides numbers and names: socket options, shutdown
//! directions, the queue a wait watches, poll events and SIGPIPE dispositions.

use serde::Deserialize;

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
    /// Milliseconds that sent data may stay unacknowledged (or the peer's window stay
    /// closed to probes) before the connection is dropped with ETIMEDOUT; 0: the
    /// system's retransmission limits decide (Linux only).
    #[serde(rename = "TCP_USER_TIMEOUT")]
    UserTimeout,
    /// SYN retransmissions before a connect gives up (Linux only; 1..=127).
    #[serde(rename = "TCP_SYNCNT")]
    SynCnt,
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
    /// Retransmissions of the segment now outstanding (read only; tcpi_retransmits):
    /// how far the retransmission timer has backed off.
    #[serde(rename = "TCP_INFO.retransmits")]
    InfoRetransmits,
    /// Unanswered zero-window or keepalive probes (read only; tcpi_probes).
    #[serde(rename = "TCP_INFO.probes")]
    InfoProbes,
    /// The retransmission timeout now in force, in microseconds (read only; tcpi_rto).
    #[serde(rename = "TCP_INFO.rto")]
    InfoRto,
    /// Segments sent but not yet acknowledged (read only; tcpi_unacked).
    #[serde(rename = "TCP_INFO.unacked")]
    InfoUnacked,
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
            SockOpt::InfoRetransmits => "retransmits",
            SockOpt::InfoProbes => "probes",
            SockOpt::InfoRto => "rto",
            SockOpt::InfoUnacked => "unacked",
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
            SockOpt::UserTimeout => "TCP_USER_TIMEOUT",
            SockOpt::SynCnt => "TCP_SYNCNT",
            SockOpt::NonBlocking => "O_NONBLOCK",
            SockOpt::Congestion => "TCP_CONGESTION",
            SockOpt::InfoSndCwnd => "TCP_INFO.snd_cwnd",
            SockOpt::InfoReordering => "TCP_INFO.reordering",
            SockOpt::InfoSndMss => "TCP_INFO.snd_mss",
            SockOpt::InfoSsthresh => "TCP_INFO.snd_ssthresh",
            SockOpt::InfoTotalRetrans => "TCP_INFO.total_retrans",
            SockOpt::InfoRetransmits => "TCP_INFO.retransmits",
            SockOpt::InfoProbes => "TCP_INFO.probes",
            SockOpt::InfoRto => "TCP_INFO.rto",
            SockOpt::InfoUnacked => "TCP_INFO.unacked",
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
    /// The peer shut down its writing half (its FIN arrived): POLLRDHUP, which poll(2)
    /// reports only when asked for, whether or not data is still queued to read.
    ///
    /// # Notes
    ///
    /// On Linux (and FreeBSD) this is POLLRDHUP. On macOS and Windows poll(2) has no such
    /// bit: `tcplab check` warns, and the std engine fails the step there. The tokio engine
    /// waits for tokio's `READ_CLOSED` readiness on every system (epoll's EPOLLRDHUP,
    /// kqueue's EV_EOF). See poll(2).
    Rdhup,
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
