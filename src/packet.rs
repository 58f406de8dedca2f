//! The packets behind the calls: what a capture point saw, and what the wire did.
//!
//! Every run captures the TCP segments (and ICMP errors) of its own network: on the clean
//! room's loopback, or on the two hosts' interfaces when the scenario runs on the wire.
//! A [`Packet`] is one frame as one capture point saw it, with the kernel's timestamp;
//! sequence numbers are relative to the first one each side of a connection used (as
//! tcpdump and Wireshark show them). A [`WireEvent`] is one thing the wire's relay did to
//! a frame (dropped it, delayed it, duplicated it, injected a RST).

use serde::{Deserialize, Serialize};

use crate::scenario::wire::Dir;

/// Which way a frame crossed a capture point's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Way {
    /// Sent by the capture point's host.
    Out,
    /// Received by it.
    In,
}

/// One frame as one capture point saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Packet {
    /// The kernel's timestamp, in milliseconds since the scenario started (the same clock
    /// origin as the events' `at_ms`).
    pub at_ms: f64,
    /// The capture point: `lo` (the room's loopback), `a` or `b` (the hosts' interfaces).
    pub point: String,
    /// Out or in at that point; absent on loopback, where each frame is seen once.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub way: Option<Way>,
    /// `10.89.0.1:40312`.
    pub src: String,
    pub dst: String,
    /// `tcp` or `icmp`.
    pub proto: String,
    /// TCP flags joined by `|` in the order SYN, FIN, RST, PSH, ACK, URG (`SYN|ACK`);
    /// for ICMP its type and code in words (`destination unreachable: host`).
    pub flags: String,
    /// Relative sequence number (0 for the SYN).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seq: Option<u32>,
    /// Relative acknowledgement number, with ACK set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ack: Option<u32>,
    /// The window field as sent (unscaled).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub win: Option<u16>,
    /// TCP payload bytes.
    pub len: u32,
    /// A payload segment whose bytes this point already saw in the same direction.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub retransmission: bool,
    /// What the wire did to this frame (`dropped: loss #2`, `injected RST`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub wire: Option<String>,
    /// The frame's raw sequence and acknowledgement numbers, to match wire events.
    #[serde(skip)]
    pub raw_seq: u32,
    #[serde(skip)]
    pub raw_ack: u32,
    /// The kernel's timestamp, nanoseconds since the Unix epoch (for pcapng).
    #[serde(skip)]
    pub ts_ns: u64,
    /// The frame's first bytes as captured (Ethernet header first; for pcapng).
    #[serde(skip)]
    pub frame: Vec<u8>,
    /// The frame's length on the interface.
    #[serde(skip)]
    pub orig_len: u32,
}

/// What the wire did to one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireEvent {
    /// When, in milliseconds since the scenario started.
    pub at_ms: f64,
    pub dir: Dir,
    /// `dropped: loss #2`, `dropped: blackhole`, `dropped: FIN #1`, `duplicated`,
    /// `injected RST`, `delayed 10.4 ms` is not logged per frame (see the spec).
    pub action: String,
    /// TCP flags of the frame (as in [`Packet::flags`]).
    pub flags: String,
    /// Raw sequence and acknowledgement numbers and payload length of the frame, to find
    /// it among the captured packets.
    pub raw_seq: u32,
    pub raw_ack: u32,
    pub len: u32,
}

/// A socket's addresses, noted when it connected, was accepted or listened, so that a
/// packet's ports can be named after the scenario's sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub actor: String,
    pub sock: String,
    pub local: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peer: Option<String>,
}
