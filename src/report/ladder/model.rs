//! From a record to what its ladder shows: lanes, arrows, folded trains and calls, in
//! time order. No geometry here: `axis` turns times into heights and `draw` draws.

use std::collections::BTreeMap;

use crate::event::{Event, Outcome};
use crate::packet::{Packet, Way};
use crate::record::Record;

/// A train of plain data segments one way (with the plain ACKs coming back) is folded
/// into one band from this many segments on.
pub(super) const FOLD_FROM: usize = 8;
/// Of a folded train, this many arrows stay drawn before the band, and after it.
pub(super) const KEEP_HEAD: usize = 3;
pub(super) const KEEP_TAIL: usize = 2;
/// At most this many arrows; what comes after is one band saying how many were left out.
pub(super) const MAX_ARROWS: usize = 400;
/// At most this many call boxes; the rest are counted under the diagram.
pub(super) const MAX_CALLS: usize = 400;
/// Identical calls in a row of one actor are one box from this many on (`read ×12`).
const CALL_FOLD_FROM: usize = 3;
/// A call that took this long or longer (ms) is drawn as tall as it took; a shorter one
/// is a small box at its start.
pub(super) const LONG_CALL_MS: f64 = 1.0;
/// Clock noise allowed when a packet seen arriving is matched with one seen leaving (ms).
const PAIR_SLACK_MS: f64 = 0.001;

/// A vertical lane: a host (wire runs), an actor (loopback) or an unknown port.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Lane {
    pub name: String,
    /// Under the name: the actors on a host, the addresses seen.
    pub lines: Vec<String>,
}

/// Where an arrow starts or ends: on a lane, or on the wire between the two hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Lane(usize),
    Wire,
}

/// What a packet is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Data,
    Ack,
    /// SYN or FIN.
    Control,
    Rst,
    Icmp,
}

/// What became of a packet.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Fate {
    Delivered,
    /// Left its host and never arrived: the wire's note, or `not seen at b`.
    Dropped(String),
    /// Arrived without having left a host: the wire's note (`injected RST`).
    FromWire(String),
}

/// One packet: from its send time on one lane to its receive time on another.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Arrow {
    pub from: End,
    pub to: End,
    pub start: f64,
    pub end: f64,
    pub label: String,
    pub kind: Kind,
    pub retransmission: bool,
    pub fate: Fate,
    /// The length of a data segment (for a folded train's byte count).
    pub len: u32,
}

/// Arrows drawn as one band: a train of data segments, or what was left out.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fold {
    pub from: usize,
    pub to: usize,
    pub start: f64,
    pub end: f64,
    pub label: String,
}

/// How a call ended, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallState {
    Ok,
    /// EAGAIN, EINPROGRESS, a poll's deadline: nothing went wrong, nothing happened yet.
    WouldBlock,
    Failed,
}

/// One socket call (or several identical ones in a row), on its actor's column.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Call {
    pub column: usize,
    pub start: f64,
    pub end: f64,
    pub label: String,
    pub state: CallState,
    /// Everything about the call, for the tooltip.
    pub title: String,
}

/// A column of calls: one actor's, beside its lane.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Column {
    pub lane: usize,
    pub actor: String,
}

/// Everything a ladder shows, in time order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ladder {
    /// On a wire run, lane 0 is host a and lane 1 host b.
    pub lanes: Vec<Lane>,
    /// A wire run: the wire runs between lanes 0 and 1, with its seed when known.
    pub wire: Option<Option<u64>>,
    pub columns: Vec<Column>,
    pub arrows: Vec<Arrow>,
    pub folds: Vec<Fold>,
    pub calls: Vec<Call>,
    /// Calls past [`MAX_CALLS`], not drawn.
    pub hidden_calls: usize,
}

/// The ladder of one record.
pub(super) fn build(r: &Record) -> Ladder {
    let wire_run = !r.hosts.is_empty() || r.packets.iter().any(|p| p.point != "lo");
    let mut lanes = Lanes::default();
    let mut columns: Vec<Column> = Vec::new();
    if wire_run {
        lanes.lane("a");
        lanes.lane("b");
    }
    for actor in actors(r) {
        let lane = match host_of(r, &actor) {
            Some(h) => lanes.lane(h),
            None => lanes.lane(&actor),
        };
        if wire_run {
            lanes.0[lane].lines.push(actor.clone());
        }
        columns.push(Column { lane, actor });
    }
    if !wire_run {
        for e in &r.endpoints {
            let lane = lanes.lane(&e.actor);
            if !lanes.0[lane].lines.contains(&e.local) {
                lanes.0[lane].lines.push(e.local.clone());
            }
        }
    }
    if wire_run {
        for e in &r.endpoints {
            if let (Some(h), Some(ip)) = (host_of(r, &e.actor), ip_of(&e.local)) {
                let lane = lanes.lane(h);
                let line = ip.to_owned();
                if !lanes.0[lane].lines.contains(&line) {
                    lanes.0[lane].lines.push(line);
                }
            }
        }
    }
    let mut arrows = if wire_run {
        wire_arrows(r)
    } else {
        loopback_arrows(r, &mut lanes)
    };
    arrows.sort_by(|a, b| a.start.total_cmp(&b.start));
    let (mut arrows, mut folds) = fold_trains(arrows);
    if arrows.len() > MAX_ARROWS {
        let rest = arrows.split_off(MAX_ARROWS);
        let start = rest.iter().map(|a| a.start).fold(f64::MAX, f64::min);
        let end = rest.iter().map(|a| a.end).fold(f64::MIN, f64::max);
        folds.push(Fold {
            from: 0,
            to: lanes.0.len().saturating_sub(1),
            start,
            end,
            label: format!("… {} more packets not drawn (see the record)", rest.len()),
        });
    }
    let mut calls = calls(r, &columns);
    let hidden_calls = calls.len().saturating_sub(MAX_CALLS);
    calls.truncate(MAX_CALLS);
    Ladder {
        lanes: lanes.0,
        wire: wire_run.then(|| r.wire.as_ref().map(|w| w.seed)),
        columns,
        arrows,
        folds,
        calls,
        hidden_calls,
    }
}

/// The lanes by name, made when first asked for.
#[derive(Default)]
struct Lanes(Vec<Lane>);

impl Lanes {
    fn lane(&mut self, name: &str) -> usize {
        if let Some(i) = self.0.iter().position(|l| l.name == name) {
            return i;
        }
        self.0.push(Lane {
            name: name.to_owned(),
            lines: Vec::new(),
        });
        self.0.len() - 1
    }
}

/// The actors in the order they first appear: in the events, then in the endpoints,
/// then in the hosts.
fn actors(r: &Record) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let names = r.events.iter().map(|e| &e.actor);
    let names = names.chain(r.endpoints.iter().map(|e| &e.actor));
    for a in names.chain(r.hosts.keys()) {
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    out
}

/// The host an actor runs on; `writer#2` is placed where `writer` is.
fn host_of<'a>(r: &'a Record, actor: &str) -> Option<&'a str> {
    let base = actor.split('#').next().unwrap_or(actor);
    r.hosts
        .get(actor)
        .or_else(|| r.hosts.get(base))
        .map(String::as_str)
}

/// `10.89.0.1` of `10.89.0.1:40312` (and of `[::1]:80`).
fn ip_of(addr: &str) -> Option<&str> {
    let (ip, _) = addr.rsplit_once(':')?;
    Some(ip.trim_start_matches('[').trim_end_matches(']'))
}

fn port_of(addr: &str) -> Option<&str> {
    addr.rsplit_once(':').map(|(_, p)| p)
}

/// The arrow's text: flags, sequence (`1:1449` for data), ack, length, window.
pub(super) fn label(p: &Packet) -> String {
    if p.proto != "tcp" {
        return format!("{} {}", p.proto.to_uppercase(), p.flags);
    }
    let mut s = p.flags.clone();
    if let Some(seq) = p.seq {
        if p.len > 0 {
            s.push_str(&format!(" {seq}:{}", seq.wrapping_add(p.len)));
        } else {
            s.push_str(&format!(" {seq}"));
        }
    }
    if let Some(ack) = p.ack.filter(|_| p.flags.split('|').any(|f| f == "ACK")) {
        s.push_str(&format!(" ack {ack}"));
    }
    if p.len > 0 {
        s.push_str(&format!(" len {}", p.len));
    }
    if let Some(w) = p.win {
        s.push_str(&format!(" win {w}"));
    }
    s
}

fn kind(p: &Packet) -> Kind {
    let has = |f: &str| p.flags.split('|').any(|x| x == f);
    if p.proto != "tcp" {
        Kind::Icmp
    } else if has("RST") {
        Kind::Rst
    } else if has("SYN") || has("FIN") {
        Kind::Control
    } else if p.len > 0 {
        Kind::Data
    } else {
        Kind::Ack
    }
}

fn arrow(p: &Packet, from: End, to: End, start: f64, end: f64, fate: Fate) -> Arrow {
    Arrow {
        from,
        to,
        start,
        end,
        label: label(p),
        kind: kind(p),
        retransmission: p.retransmission,
        fate,
        len: p.len,
    }
}

/// On loopback each frame is seen once: sent and received at the same instant, from the
/// lane of the actor whose socket has its source address to that of its destination.
fn loopback_arrows(r: &Record, lanes: &mut Lanes) -> Vec<Arrow> {
    let mut lane_of = |addr: &str, peer: &str| -> usize {
        let exact: Vec<_> = r.endpoints.iter().filter(|e| e.local == addr).collect();
        let found = exact
            .iter()
            .find(|e| e.peer.as_deref() == Some(peer))
            .or(exact.first())
            .map(|e| e.actor.clone())
            .or_else(|| {
                r.endpoints
                    .iter()
                    .find(|e| port_of(&e.local).is_some() && port_of(&e.local) == port_of(addr))
                    .map(|e| e.actor.clone())
            });
        match found {
            Some(actor) => lanes.lane(&actor),
            None => lanes.lane(&format!("port {}", port_of(addr).unwrap_or(addr))),
        }
    };
    r.packets
        .iter()
        .map(|p| {
            let from = End::Lane(lane_of(&p.src, &p.dst));
            let to = End::Lane(lane_of(&p.dst, &p.src));
            let fate = match &p.wire {
                Some(n) if n.starts_with("dropped") => Fate::Dropped(n.clone()),
                _ => Fate::Delivered,
            };
            arrow(p, from, to, p.at_ms, p.at_ms, fate)
        })
        .collect()
}

/// On the wire each frame is seen leaving one host (way out) and arriving at the other
/// (way in): each departure is paired with the first unpaired arrival of the same
/// segment (flags, relative numbers, length), preferring one with the same addresses.
/// A departure the wire dropped, or that never arrived, ends halfway; an arrival with no
/// departure (the wire's RST) starts on the wire.
fn wire_arrows(r: &Record) -> Vec<Arrow> {
    let lane = |point: &str| match point {
        "a" => Some(0),
        "b" => Some(1),
        _ => None,
    };
    let same = |o: &Packet, i: &Packet| {
        o.flags == i.flags && o.seq == i.seq && o.ack == i.ack && o.len == i.len
    };
    let mut outs: Vec<&Packet> = r
        .packets
        .iter()
        .filter(|p| p.way != Some(Way::In) && lane(&p.point).is_some())
        .collect();
    outs.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    let ins: Vec<&Packet> = r
        .packets
        .iter()
        .filter(|p| p.way == Some(Way::In) && lane(&p.point).is_some())
        .collect();
    let mut used = vec![false; ins.len()];
    let mut pairs: Vec<(&Packet, Option<&Packet>)> = Vec::new();
    for o in outs {
        let dropped = o.wire.as_deref().is_some_and(|n| n.starts_with("dropped"));
        let found = (!dropped)
            .then(|| {
                (0..ins.len())
                    .filter(|&k| !used[k] && ins[k].point != o.point && same(o, ins[k]))
                    .filter(|&k| ins[k].at_ms >= o.at_ms - PAIR_SLACK_MS)
                    .min_by(|&x, &y| {
                        let key =
                            |k: usize| (ins[k].src != o.src || ins[k].dst != o.dst, ins[k].at_ms);
                        let (a, b) = (key(x), key(y));
                        a.0.cmp(&b.0).then(a.1.total_cmp(&b.1))
                    })
            })
            .flatten();
        if let Some(k) = found {
            used[k] = true;
        }
        pairs.push((o, found.map(|k| ins[k])));
    }
    let mut delays: Vec<f64> = pairs
        .iter()
        .filter_map(|(o, i)| i.map(|i| i.at_ms - o.at_ms))
        .collect();
    delays.sort_by(f64::total_cmp);
    let latency = delays.get(delays.len() / 2).copied().unwrap_or(0.0);
    let mut out = Vec::new();
    for (o, i) in pairs {
        let from = lane(&o.point).unwrap_or(0);
        let a = match i {
            Some(i) => arrow(
                o,
                End::Lane(from),
                End::Lane(1 - from),
                o.at_ms,
                i.at_ms,
                Fate::Delivered,
            ),
            None => {
                let other = if from == 0 { "b" } else { "a" };
                let note = o.wire.clone().unwrap_or(format!("not seen at {other}"));
                let end = o.at_ms + latency / 2.0;
                arrow(
                    o,
                    End::Lane(from),
                    End::Wire,
                    o.at_ms,
                    end,
                    Fate::Dropped(note),
                )
            }
        };
        out.push(a);
    }
    let injections = r.wire.as_ref().map_or(&[][..], |w| &w.events[..]);
    for i in ins.iter().zip(&used).filter(|(_, u)| !**u).map(|(i, _)| i) {
        let to = lane(&i.point).unwrap_or(1);
        let other = if to == 0 { "b" } else { "a" };
        let note = i
            .wire
            .clone()
            .unwrap_or(format!("not seen leaving {other}"));
        // The relay's own log says when it sent the frame; else halfway in time.
        let start = injections
            .iter()
            .filter(|w| w.flags == i.flags && w.len == i.len && w.at_ms <= i.at_ms)
            .filter(|w| w.action.contains("inject"))
            .map(|w| w.at_ms)
            .fold(None, |best: Option<f64>, t| {
                Some(best.map_or(t, |b| b.max(t)))
            })
            .unwrap_or(i.at_ms - latency / 2.0);
        out.push(arrow(
            i,
            End::Wire,
            End::Lane(to),
            start,
            i.at_ms,
            Fate::FromWire(note),
        ));
    }
    out
}

/// A packet a train may hold: delivered, first sent, data or a pure ACK.
fn plain(a: &Arrow) -> bool {
    a.fate == Fate::Delivered && !a.retransmission && matches!(a.kind, Kind::Data | Kind::Ack)
}

/// Folds each long train of data segments one way, with the ACKs coming back, into one
/// band, keeping its first [`KEEP_HEAD`] and last [`KEEP_TAIL`] arrows drawn.
fn fold_trains(arrows: Vec<Arrow>) -> (Vec<Arrow>, Vec<Fold>) {
    let mut keep = Vec::new();
    let mut folds = Vec::new();
    let mut i = 0;
    while i < arrows.len() {
        let first = &arrows[i];
        if !(plain(first) && first.kind == Kind::Data) {
            keep.push(first.clone());
            i += 1;
            continue;
        }
        let (fwd, back) = ((first.from, first.to), (first.to, first.from));
        let n = arrows[i..]
            .iter()
            .take_while(|a| {
                plain(a)
                    && ((a.kind == Kind::Data && (a.from, a.to) == fwd)
                        || (a.kind == Kind::Ack && (a.from, a.to) == back))
            })
            .count();
        let train = &arrows[i..i + n];
        let data = train.iter().filter(|a| a.kind == Kind::Data).count();
        if data < FOLD_FROM || n <= KEEP_HEAD + KEEP_TAIL + 1 {
            keep.extend(train.iter().cloned());
            i += n;
            continue;
        }
        let (head, rest) = train.split_at(KEEP_HEAD);
        let (middle, tail) = rest.split_at(rest.len() - KEEP_TAIL);
        keep.extend(head.iter().cloned());
        let segments = middle.iter().filter(|a| a.kind == Kind::Data).count();
        let bytes: u64 = middle.iter().map(|a| u64::from(a.len)).sum();
        let acks = middle.len() - segments;
        let lane = |e: End| match e {
            End::Lane(l) => l,
            End::Wire => 0,
        };
        let mut text = format!("… {segments} segments, {bytes} bytes");
        if acks > 0 {
            text.push_str(&format!(", {acks} ACKs back"));
        }
        folds.push(Fold {
            from: lane(first.from),
            to: lane(first.to),
            start: middle.iter().map(|a| a.start).fold(f64::MAX, f64::min),
            end: middle.iter().map(|a| a.end).fold(f64::MIN, f64::max),
            label: text,
        });
        keep.extend(tail.iter().cloned());
        i += n;
    }
    (keep, folds)
}

/// Two events are one call repeated when everything but their times is the same.
fn same_call(a: &Event, b: &Event) -> bool {
    a.actor == b.actor
        && a.step == b.step
        && a.op == b.op
        && a.sock == b.sock
        && a.requested == b.requested
        && a.returned == b.returned
        && a.outcome == b.outcome
}

fn state(o: &Outcome) -> CallState {
    match o {
        Outcome::Ok => CallState::Ok,
        Outcome::Err { deadline: true, .. } => CallState::WouldBlock,
        Outcome::Err { errno, kind, .. } => {
            let waiting = ["EAGAIN", "EWOULDBLOCK", "EINPROGRESS", "EALREADY"];
            if errno.as_deref().is_some_and(|e| waiting.contains(&e)) || kind == "WouldBlock" {
                CallState::WouldBlock
            } else {
                CallState::Failed
            }
        }
    }
}

/// `write 4096 → 4096`, `connect ok`, `read EAGAIN`, `c2: read ECONNRESET ×3`.
pub(super) fn call_label(e: &Event, with_sock: bool, times: usize) -> String {
    let mut s = match (&e.sock, with_sock) {
        (Some(sock), true) => format!("{sock}: {}", e.op),
        _ => e.op.clone(),
    };
    match &e.outcome {
        Outcome::Ok => match (e.requested, e.returned) {
            (Some(r), Some(n)) => s.push_str(&format!(" {r} → {n}")),
            (None, Some(n)) => s.push_str(&format!(" → {n}")),
            (Some(r), None) => s.push_str(&format!(" {r} ok")),
            (None, None) => s.push_str(" ok"),
        },
        Outcome::Err { deadline: true, .. } => s.push_str(" deadline"),
        Outcome::Err {
            errno: Some(errno), ..
        } => s.push_str(&format!(" {errno}")),
        Outcome::Err { kind, .. } => s.push_str(&format!(" {kind}")),
    }
    if times > 1 {
        s.push_str(&format!(" ×{times}"));
    }
    s
}

/// The calls, one box per call or per run of identical calls of one actor.
fn calls(r: &Record, columns: &[Column]) -> Vec<Call> {
    let mut socks: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in &r.events {
        let list = socks.entry(&e.actor).or_default();
        if let Some(s) = e.sock.as_deref().filter(|s| !list.contains(s)) {
            list.push(s);
        }
    }
    // Runs of identical calls per actor, in the order they started.
    let mut runs: Vec<Vec<&Event>> = Vec::new();
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &r.events {
        match last.get(e.actor.as_str()) {
            Some(&k) if same_call(runs[k][0], e) => runs[k].push(e),
            _ => {
                last.insert(&e.actor, runs.len());
                runs.push(vec![e]);
            }
        }
    }
    let mut out = Vec::new();
    for run in runs {
        let column = columns
            .iter()
            .position(|c| c.actor == run[0].actor)
            .unwrap_or(0);
        let with_sock = socks
            .get(run[0].actor.as_str())
            .is_some_and(|s| s.len() > 1);
        let group: Vec<&[&Event]> = if run.len() >= CALL_FOLD_FROM {
            vec![&run[..]]
        } else {
            run.chunks(1).collect()
        };
        for g in group {
            let (e, last) = (g[0], g[g.len() - 1]);
            let mut title = format!(
                "{} step {}: {}{} at {:.3} ms, took {:.3} ms: {}",
                e.actor,
                e.step,
                e.op,
                e.sock
                    .as_ref()
                    .map_or(String::new(), |s| format!(" on {s}")),
                e.at_ms,
                last.at_ms + last.elapsed_ms - e.at_ms,
                e.outcome
            );
            if let Some(n) = &e.note {
                title.push_str(&format!(" [{n}]"));
            }
            out.push(Call {
                column,
                start: e.at_ms,
                end: last.at_ms + last.elapsed_ms,
                label: call_label(e, with_sock, g.len()),
                state: state(&e.outcome),
                title,
            });
        }
    }
    out.sort_by(|a, b| a.start.total_cmp(&b.start));
    out
}
