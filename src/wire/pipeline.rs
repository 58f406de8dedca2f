//! The wire's faults as a pipeline that does no I/O: frames go in with the time they
//! arrived, come out at the time they are due, and every choice is drawn from a seeded
//! generator, so the same seed, frames and times give the same drops, copies and delays.
//!
//! Per direction, a frame meets in order: the targeted drops (`drop_syn`, `drop_synack`,
//! `drop_fin`, `drop_data`, `stop_after`), the blackhole, random loss (in bursts of
//! `loss_burst`), duplication, the bottleneck (`rate` with `queue` frames of room) and the
//! delay (`delay` plus a uniform 0..=`jitter`). Frames that are not TCP (ARP, ICMP,
//! IPv6 neighbour discovery) skip the targeted drops and duplication.
//!
//! The counts behind the targeted drops start when their fault is set: `drop_data = [1]`
//! set by a `wire` step in the middle of a run drops the next payload segment, and
//! `stop_after` counts the bytes passed since it was set.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::frame::{self, FrameInfo, TcpInfo};
use super::rng::SplitMix64;
use crate::packet::WireEvent;
use crate::scenario::wire::{Dir, Fault, Host, WireChange, WireSpec};

/// The bottleneck's room when `rate` is set without `queue`: Linux's default transmit
/// queue length (`txqueuelen` 1000 on Ethernet devices).
pub const DEFAULT_QUEUE_FRAMES: u32 = 1000;

/// The generator streams of one direction (see [`SplitMix64::stream`]).
const STREAM_LOSS: u64 = 1;
const STREAM_DUPLICATE: u64 = 2;
const STREAM_JITTER: u64 = 3;

/// One thing the wire did to a frame, with the time it did it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub at: Instant,
    pub dir: Dir,
    /// `dropped: loss #2`, `duplicated`, `injected RST` (see [`WireEvent::action`]).
    pub action: String,
    /// TCP flags as the packet records print them; empty for a frame that is not TCP.
    pub flags: String,
    pub raw_seq: u32,
    pub raw_ack: u32,
    pub len: u32,
}

impl LogEntry {
    /// The record's form, its time in milliseconds since `t0` (the run's start).
    pub fn to_event(&self, t0: Instant) -> WireEvent {
        WireEvent {
            at_ms: self.at.saturating_duration_since(t0).as_secs_f64() * 1000.0,
            dir: self.dir,
            action: self.action.clone(),
            flags: self.flags.clone(),
            raw_seq: self.raw_seq,
            raw_ack: self.raw_ack,
            len: self.len,
        }
    }
}

/// What [`Pipeline::apply`] asks of the relay.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this frame now in this direction (an injected RST).
    Send { dir: Dir, frame: Vec<u8> },
    /// Record this.
    Log(LogEntry),
}

/// Frames one direction saw and what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameCounts {
    /// Frames read from the sending host.
    pub frames_in: u64,
    /// Frames handed on toward the receiving host (copies and injected RSTs included).
    pub frames_out: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub injected: u64,
    /// Frames the relay could not send (the interface refused them); the pipeline leaves
    /// this at 0.
    #[serde(default)]
    pub send_failed: u64,
}

/// A frame waiting for its time, ordered by due time, then by arrival.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: Instant,
    order: u64,
    frame: Vec<u8>,
}

/// One direction: its faults, the counts behind them, and the frames on their way.
#[derive(Debug)]
struct Lane {
    dir: Dir,
    fault: Fault,
    syn_seen: u64,
    synack_seen: u64,
    fin_seen: u64,
    data_seen: u64,
    /// Payload bytes passed since `stop_after` was set.
    bytes_passed: u64,
    loss_drops: u64,
    /// Frames still to drop in the current loss burst.
    burst_left: u32,
    loss_rng: SplitMix64,
    dup_rng: SplitMix64,
    jitter_rng: SplitMix64,
    /// Frames in the bottleneck: when each starts and ends its transmission, oldest first.
    bottleneck: VecDeque<(Instant, Instant)>,
    due: BinaryHeap<Reverse<Due>>,
    counts: FrameCounts,
}

impl Lane {
    fn new(dir: Dir, fault: &Fault, seed: u64) -> Lane {
        let base = match dir {
            Dir::AtoB => 0,
            Dir::BtoA => 16,
        };
        Lane {
            dir,
            fault: fault.clone(),
            syn_seen: 0,
            synack_seen: 0,
            fin_seen: 0,
            data_seen: 0,
            bytes_passed: 0,
            loss_drops: 0,
            burst_left: 0,
            loss_rng: SplitMix64::stream(seed, base + STREAM_LOSS),
            dup_rng: SplitMix64::stream(seed, base + STREAM_DUPLICATE),
            jitter_rng: SplitMix64::stream(seed, base + STREAM_JITTER),
            bottleneck: VecDeque::new(),
            due: BinaryHeap::new(),
            counts: FrameCounts::default(),
        }
    }

    /// Restarts the counts of the fields `f` names (set or cleared), so that a new value
    /// counts from now.
    fn restart_counts(&mut self, f: &Fault) {
        if f.drop_syn.is_some() {
            self.syn_seen = 0;
        }
        if f.drop_synack.is_some() {
            self.synack_seen = 0;
        }
        if f.drop_fin.is_some() {
            self.fin_seen = 0;
        }
        if !f.drop_data.is_empty() {
            self.data_seen = 0;
        }
        if f.stop_after.is_some() {
            self.bytes_passed = 0;
        }
        if f.loss.is_some() || f.loss_burst.is_some() {
            self.burst_left = 0;
        }
        if f.rate.is_some() {
            self.bottleneck.clear();
        }
    }

    /// The targeted drops: the reason this segment is dropped, if it is.
    fn targeted(&mut self, t: &TcpInfo) -> Option<String> {
        if t.is_syn() {
            self.syn_seen += 1;
        }
        if t.is_synack() {
            self.synack_seen += 1;
        }
        if t.fin {
            self.fin_seen += 1;
        }
        if t.payload_len > 0 {
            self.data_seen += 1;
        }
        let f = &self.fault;
        if t.is_syn() && self.syn_seen <= u64::from(f.drop_syn.unwrap_or(0)) {
            return Some(format!("dropped: SYN #{}", self.syn_seen));
        }
        if t.is_synack() && self.synack_seen <= u64::from(f.drop_synack.unwrap_or(0)) {
            return Some(format!("dropped: SYN-ACK #{}", self.synack_seen));
        }
        if t.fin && self.fin_seen <= u64::from(f.drop_fin.unwrap_or(0)) {
            return Some(format!("dropped: FIN #{}", self.fin_seen));
        }
        if t.payload_len > 0 && f.drop_data.contains(&self.data_seen) {
            return Some(format!("dropped: data segment #{}", self.data_seen));
        }
        if let Some(limit) = f.stop_after {
            if t.payload_len > 0 && self.bytes_passed >= limit {
                return Some(format!("dropped: stop after {limit} bytes"));
            }
        }
        None
    }

    /// Random loss: whether this frame is lost, bursts included.
    fn lost(&mut self) -> bool {
        let Some(percent) = self.fault.loss.filter(|p| *p > 0.0) else {
            self.burst_left = 0;
            return false;
        };
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return true;
        }
        if self.loss_rng.chance(percent) {
            self.burst_left = self.fault.loss_burst.unwrap_or(1).saturating_sub(1);
            return true;
        }
        false
    }

    /// The bottleneck: when a frame of `len` bytes arriving at `now` leaves it, or `None`
    /// when its queue is full. Without a rate it leaves at once.
    fn bottleneck(&mut self, len: usize, now: Instant) -> Option<Instant> {
        let Some(rate) = self.fault.rate.filter(|r| *r > 0) else {
            return Some(now);
        };
        while self.bottleneck.front().is_some_and(|&(_, end)| end <= now) {
            self.bottleneck.pop_front();
        }
        let waiting = self
            .bottleneck
            .iter()
            .filter(|&&(start, _)| start > now)
            .count();
        if waiting >= self.fault.queue.unwrap_or(DEFAULT_QUEUE_FRAMES) as usize {
            return None;
        }
        let free = self.bottleneck.back().map_or(now, |&(_, end)| end.max(now));
        let nanos = (len as u128 * 8 * 1_000_000_000).div_ceil(u128::from(rate));
        let end = free + Duration::from_nanos(nanos.min(u64::MAX as u128) as u64);
        self.bottleneck.push_back((free, end));
        Some(end)
    }

    /// The delay after the bottleneck: `delay` plus a uniform 0..=`jitter`.
    fn delay(&mut self) -> Duration {
        let base = self.fault.delay.unwrap_or_default();
        let jitter = match self.fault.jitter {
            Some(j) if !j.is_zero() => {
                let max = j.as_nanos().min(u64::MAX as u128) as u64;
                Duration::from_nanos(self.jitter_rng.up_to(max))
            }
            _ => Duration::ZERO,
        };
        base + jitter
    }
}

/// A connection between the hosts, as the wire saw it.
#[derive(Debug, Clone, Default)]
struct Conn {
    /// Per host (A first): the last acknowledgement number it sent, and the source and
    /// destination MACs of its last frame.
    ack: [Option<u32>; 2],
    macs: [Option<([u8; 6], [u8; 6])>; 2],
}

fn host_index(h: Host) -> usize {
    match h {
        Host::A => 0,
        Host::B => 1,
    }
}

fn lane_index(d: Dir) -> usize {
    match d {
        Dir::AtoB => 0,
        Dir::BtoA => 1,
    }
}

/// The wire's two directions and the connections it has seen. See the module's doc.
#[derive(Debug)]
pub struct Pipeline {
    lanes: [Lane; 2],
    /// Keyed by (A's address, B's address), in the order first seen.
    conns: IndexMap<(SocketAddr, SocketAddr), Conn>,
    order: u64,
    seed: u64,
}

impl Pipeline {
    /// A wire with `spec`'s faults, its choices drawn from `seed` (the caller resolves
    /// `spec.seed`, so that a fresh seed can be recorded).
    pub fn new(spec: &WireSpec, seed: u64) -> Pipeline {
        Pipeline {
            lanes: [
                Lane::new(Dir::AtoB, &spec.a_to_b, seed),
                Lane::new(Dir::BtoA, &spec.b_to_a, seed),
            ],
            conns: IndexMap::new(),
            order: 0,
            seed,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The faults now in force in `dir`.
    pub fn fault(&self, dir: Dir) -> &Fault {
        &self.lanes[lane_index(dir)].fault
    }

    pub fn counts(&self, dir: Dir) -> FrameCounts {
        self.lanes[lane_index(dir)].counts
    }

    /// Carries out a `wire` step at `now`. A `Set` or `Clear` changes the faults of frames
    /// offered from now on (frames already on their way keep their times); a `Reset`
    /// returns one RST to send per connection seen (see [`Pipeline::resets`]).
    pub fn apply(&mut self, change: &WireChange, now: Instant) -> Vec<Output> {
        match change {
            WireChange::Set { dir, fault } => {
                let lane = &mut self.lanes[lane_index(*dir)];
                lane.fault.merge(fault);
                lane.restart_counts(fault);
                Vec::new()
            }
            WireChange::Clear { dir, fields } => {
                let lane = &mut self.lanes[lane_index(*dir)];
                let cleared = if fields.is_empty() {
                    std::mem::take(&mut lane.fault)
                } else {
                    let before = lane.fault.clone();
                    lane.fault.clear(fields);
                    before
                };
                lane.restart_counts(&cleared);
                Vec::new()
            }
            WireChange::Reset { toward } => self.resets(*toward, now),
        }
    }

    /// RSTs toward `host` for every connection on which it sent an acknowledgement: from
    /// its peer's address to its own, with sequence number the last acknowledgement it
    /// sent (its RCV.NXT, so that it accepts the RST), in frames with the MACs seen.
    pub fn resets(&mut self, host: Host, now: Instant) -> Vec<Output> {
        let (me, peer) = (host_index(host), host_index(host.peer()));
        let dir = Dir::toward(host);
        let mut out = Vec::new();
        for ((a, b), conn) in &self.conns {
            let Some(seq) = conn.ack[me] else { continue };
            // The peer's frames toward `host` carry the right MACs; else turn `host`'s own.
            let macs = conn.macs[peer].or(conn.macs[me].map(|(s, d)| (d, s)));
            let Some((src_mac, dst_mac)) = macs else {
                continue;
            };
            let (src, dst) = if host == Host::A { (*b, *a) } else { (*a, *b) };
            let Some(frame) = frame::build_rst(src_mac, dst_mac, src, dst, seq) else {
                continue;
            };
            out.push(Output::Log(LogEntry {
                at: now,
                dir,
                action: "injected RST".to_owned(),
                flags: "RST".to_owned(),
                raw_seq: seq,
                raw_ack: 0,
                len: 0,
            }));
            out.push(Output::Send { dir, frame });
        }
        let lane = &mut self.lanes[lane_index(dir)];
        let sent = out.len() as u64 / 2;
        lane.counts.injected += sent;
        lane.counts.frames_out += sent;
        out
    }

    /// Notes what a TCP segment tells of its connection: the sender's last ACK and MACs;
    /// a RST ends the connection.
    fn track(&mut self, dir: Dir, info: &FrameInfo, t: &TcpInfo) {
        let key = match dir {
            Dir::AtoB => (t.src, t.dst),
            Dir::BtoA => (t.dst, t.src),
        };
        if t.rst {
            self.conns.shift_remove(&key);
            return;
        }
        let me = host_index(dir.from_host());
        let conn = self.conns.entry(key).or_default();
        if t.ack {
            conn.ack[me] = Some(t.ack_no);
        }
        if info.macs.is_some() {
            conn.macs[me] = info.macs;
        }
    }

    /// A frame read from `dir`'s sending host at `now`: queued for its due time, copied,
    /// or dropped. Returns what the wire did to it that is worth recording (nothing for a
    /// frame that simply passes, delayed or not).
    pub fn offer(&mut self, dir: Dir, frame: &[u8], now: Instant) -> Vec<LogEntry> {
        let info = frame::parse(frame);
        if let Some(t) = &info.tcp {
            self.track(dir, &info, t);
        }
        let lane = &mut self.lanes[lane_index(dir)];
        lane.counts.frames_in += 1;
        let entry = |action: String| LogEntry {
            at: now,
            dir,
            action,
            flags: info.tcp.map(|t| t.flags_text()).unwrap_or_default(),
            raw_seq: info.tcp.map_or(0, |t| t.seq),
            raw_ack: info.tcp.map_or(0, |t| t.ack_no),
            len: info.tcp.map_or(0, |t| t.payload_len),
        };
        let mut reason = info.tcp.as_ref().and_then(|t| lane.targeted(t));
        if reason.is_none() && lane.fault.blackhole == Some(true) {
            reason = Some("dropped: blackhole".to_owned());
        }
        if reason.is_none() && lane.lost() {
            lane.loss_drops += 1;
            reason = Some(format!("dropped: loss #{}", lane.loss_drops));
        }
        let copies = match lane.fault.duplicate {
            Some(p) if info.tcp.is_some() && reason.is_none() && lane.dup_rng.chance(p) => 2,
            _ => 1,
        };
        let left = if reason.is_none() {
            let left = lane.bottleneck(frame.len(), now);
            if left.is_none() {
                reason = Some("dropped: queue full".to_owned());
            }
            left
        } else {
            None
        };
        if let Some(reason) = reason {
            lane.counts.dropped += 1;
            return vec![entry(reason)];
        }
        let at = left.unwrap_or(now) + lane.delay();
        if let Some(t) = &info.tcp {
            lane.bytes_passed += u64::from(t.payload_len);
        }
        for _ in 0..copies {
            self.order += 1;
            lane.due.push(Reverse(Due {
                at,
                order: self.order,
                frame: frame.to_vec(),
            }));
        }
        if copies == 2 {
            lane.counts.duplicated += 1;
            return vec![entry("duplicated".to_owned())];
        }
        Vec::new()
    }

    /// When the next frame is due, if one is waiting.
    pub fn next_due(&self) -> Option<Instant> {
        self.lanes
            .iter()
            .filter_map(|l| l.due.peek().map(|Reverse(d)| d.at))
            .min()
    }

    /// Gives up every frame still on its way (the run is over): each is logged as
    /// `dropped: on the wire when the run ended` and counted as dropped, so that no frame
    /// the hosts sent disappears from the record without a word.
    pub fn abandon(&mut self, now: Instant) -> Vec<LogEntry> {
        let mut out = Vec::new();
        for lane in &mut self.lanes {
            let mut left: Vec<Due> = lane.due.drain().map(|Reverse(d)| d).collect();
            left.sort_by_key(|d| (d.at, d.order));
            for d in left {
                let info = frame::parse(&d.frame);
                lane.counts.dropped += 1;
                out.push(LogEntry {
                    at: now,
                    dir: lane.dir,
                    action: "dropped: on the wire when the run ended".to_owned(),
                    flags: info.tcp.map(|t| t.flags_text()).unwrap_or_default(),
                    raw_seq: info.tcp.map_or(0, |t| t.seq),
                    raw_ack: info.tcp.map_or(0, |t| t.ack_no),
                    len: info.tcp.map_or(0, |t| t.payload_len),
                });
            }
        }
        out
    }

    /// The frames due by `now`, in the order they are due (then in the order they came).
    pub fn take_due(&mut self, now: Instant) -> Vec<(Dir, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let pick = self
                .lanes
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.due.peek().map(|Reverse(d)| ((d.at, d.order), i)))
                .filter(|((at, _), _)| *at <= now)
                .min();
            let Some((_, i)) = pick else { break };
            let lane = &mut self.lanes[i];
            let Some(Reverse(d)) = lane.due.pop() else {
                break;
            };
            lane.counts.frames_out += 1;
            out.push((lane.dir, d.frame));
        }
        out
    }
}
