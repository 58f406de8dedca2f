//! Packet figures computed from a run's packets (the grammar and its key syntax are
//! [`crate::scenario::figure`]).

use std::collections::HashMap;

use crate::packet::{Endpoint, Packet, Way};
pub use crate::scenario::figure::{Figure, FigureError, FigureValue, FlagFilter, WayFilter};

impl Figure {
    /// The figure over a run's packets (in time order). `None` for `first_rst` when no RST
    /// was seen; counts are 0, never absent.
    pub fn compute(&self, packets: &[Packet], endpoints: &[Endpoint]) -> Option<FigureValue> {
        let at = |point: &str, way: &WayFilter| {
            let (point, way) = (point.to_owned(), way.clone());
            packets
                .iter()
                .filter(move |p| p.point == point && way_matches(&way, p, endpoints))
        };
        Some(match self {
            Figure::Packets { point, way, flags } => FigureValue::Count(
                at(point, way)
                    .filter(|p| match flags {
                        FlagFilter::All => true,
                        FlagFilter::Icmp => p.proto == "icmp",
                        FlagFilter::Exactly(f) => p.proto == "tcp" && &p.flags == f,
                    })
                    .count() as u64,
            ),
            Figure::Retransmissions { point, way } => {
                FigureValue::Count(at(point, way).filter(|p| p.retransmission).count() as u64)
            }
            Figure::Bytes { point, way } => FigureValue::Count(bytes(at(point, way))),
            Figure::Segments { point, way } => FigureValue::Count(segments(at(point, way))),
            Figure::LargestSegment { point, way } => FigureValue::Count(
                at(point, way)
                    .filter(|p| p.proto == "tcp")
                    .map(|p| u64::from(p.len))
                    .max()
                    .unwrap_or(0),
            ),
            Figure::ZeroWindowProbes { point, way } => {
                FigureValue::Count(zero_window_probes(packets, endpoints, point, way))
            }
            Figure::SynGaps { point } => FigureValue::List(syn_gaps(at(point, &WayFilter::Any))),
            Figure::FirstRst => FigureValue::Text(first_rst(packets, endpoints)?),
        })
    }
}

fn way_matches(filter: &WayFilter, p: &Packet, endpoints: &[Endpoint]) -> bool {
    match filter {
        WayFilter::Any => true,
        WayFilter::Out => p.way == Some(Way::Out),
        WayFilter::In => p.way == Some(Way::In),
        WayFilter::Sent { actor, sock } => endpoints.iter().any(|e| {
            let instance = e
                .actor
                .strip_prefix(actor.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('#'));
            instance
                && &e.sock == sock
                && e.local == p.src
                && e.peer.as_deref() == Some(p.dst.as_str())
        }),
    }
}

fn has(p: &Packet, flag: &str) -> bool {
    p.flags.split('|').any(|f| f == flag)
}

/// The sequence space the payload of each direction covered, summed.
fn bytes<'a>(packets: impl Iterator<Item = &'a Packet>) -> u64 {
    // Per direction: the lowest payload byte's raw sequence number and the highest end
    // (the lowest is not always the first seen: a first segment the loopback's backlog
    // dropped is seen only when it is resent, after later ones).
    let mut span: HashMap<(&str, &str), (u32, u32)> = HashMap::new();
    for p in packets.filter(|p| p.proto == "tcp" && p.len > 0) {
        let end = p.raw_seq.wrapping_add(p.len);
        let s = span.entry((&p.src, &p.dst)).or_insert((p.raw_seq, end));
        if (s.0.wrapping_sub(p.raw_seq) as i32) > 0 {
            s.0 = p.raw_seq;
        }
        if (end.wrapping_sub(s.1) as i32) > 0 {
            s.1 = end;
        }
    }
    span.values()
        .map(|(first, high)| u64::from(high.wrapping_sub(*first)))
        .sum()
}

/// Sequence space seen in one direction: the first payload segment's raw sequence number,
/// and the ranges seen since, relative to it (disjoint, sorted, touching ones merged).
type Seen = (u32, Vec<(i64, i64)>);

/// The payload segments that brought sequence space not seen before in their direction
/// (see the module's notes): the segments `bytes` counts the bytes of.
fn segments<'a>(packets: impl Iterator<Item = &'a Packet>) -> u64 {
    let mut seen: HashMap<(&str, &str), Seen> = HashMap::new();
    let mut n = 0;
    for p in packets.filter(|p| p.proto == "tcp" && p.len > 0) {
        let (base, ranges) = seen
            .entry((&p.src, &p.dst))
            .or_insert((p.raw_seq, Vec::new()));
        let start = i64::from(p.raw_seq.wrapping_sub(*base) as i32);
        let end = start + i64::from(p.len);
        if !ranges.iter().any(|&(s, e)| s <= start && end <= e) {
            n += 1;
            cover(ranges, start, end);
        }
    }
    n
}

/// Adds `start..end` to sorted disjoint `ranges`, merging what it touches.
fn cover(ranges: &mut Vec<(i64, i64)>, start: i64, end: i64) {
    let (mut s, mut e) = (start, end);
    ranges.retain(|&(rs, re)| {
        let apart = re < s || e < rs;
        if !apart {
            s = s.min(rs);
            e = e.max(re);
        }
        apart
    });
    let at = ranges.partition_point(|&(rs, _)| rs < s);
    ranges.insert(at, (s, e));
}

/// Gaps between successive SYNs (without ACK) of one four-tuple, in time order.
fn syn_gaps<'a>(packets: impl Iterator<Item = &'a Packet>) -> Vec<i64> {
    let mut last: HashMap<(&str, &str), f64> = HashMap::new();
    let mut gaps = Vec::new();
    for p in packets.filter(|p| has(p, "SYN") && !has(p, "ACK")) {
        if let Some(before) = last.insert((&p.src, &p.dst), p.at_ms) {
            gaps.push((p.at_ms - before).round() as i64);
        }
    }
    gaps
}

fn zero_window_probes(
    packets: &[Packet],
    endpoints: &[Endpoint],
    point: &str,
    way: &WayFilter,
) -> u64 {
    // Per direction (src, dst): the last window it advertised and its highest raw end.
    let mut win: HashMap<(&str, &str), u16> = HashMap::new();
    let mut high: HashMap<(&str, &str), u32> = HashMap::new();
    let mut n = 0;
    for p in packets
        .iter()
        .filter(|p| p.point == point && p.proto == "tcp")
    {
        let key = (p.src.as_str(), p.dst.as_str());
        let peer_closed = win.get(&(p.dst.as_str(), p.src.as_str())) == Some(&0);
        let plain = !has(p, "SYN") && !has(p, "FIN") && !has(p, "RST");
        let end = p.raw_seq.wrapping_add(p.len);
        let below_high = high.get(&key) == Some(&p.raw_seq.wrapping_add(1));
        if peer_closed
            && plain
            && (p.len == 1 || (p.len == 0 && below_high))
            && way_matches(way, p, endpoints)
        {
            n += 1;
        }
        if has(p, "ACK") {
            if let Some(w) = p.win {
                win.insert(key, w);
            }
        }
        let h = high.entry(key).or_insert(end);
        if (end.wrapping_sub(*h) as i32) > 0 {
            *h = end;
        }
    }
    n
}

/// The first RST's direction (see the module's notes).
fn first_rst(packets: &[Packet], endpoints: &[Endpoint]) -> Option<String> {
    let p = packets
        .iter()
        .filter(|p| p.proto == "tcp" && has(p, "RST"))
        .min_by(|x, y| x.at_ms.total_cmp(&y.at_ms))?;
    let peer = |h: &str| if h == "a" { "b" } else { "a" };
    Some(match (p.point.as_str(), p.way) {
        (h @ ("a" | "b"), Some(Way::Out)) => format!("{h}>{}", peer(h)),
        (h @ ("a" | "b"), Some(Way::In)) => format!("{}>{h}", peer(h)),
        _ => format!(
            "{}>{}",
            side_name(&p.src, &p.dst, endpoints),
            side_name(&p.dst, &p.src, endpoints)
        ),
    })
}

/// The scenario's name for the socket at `addr` talking to `other` (`client:s`): the
/// endpoint with that local address and that peer, else the one with that local address
/// (a listener), else the port (`40312`).
pub fn side_name(addr: &str, other: &str, endpoints: &[Endpoint]) -> String {
    let named = |e: &Endpoint| format!("{}:{}", e.actor, e.sock);
    endpoints
        .iter()
        .find(|e| e.local == addr && e.peer.as_deref() == Some(other))
        .or_else(|| endpoints.iter().find(|e| e.local == addr))
        .map(named)
        .unwrap_or_else(|| addr.rsplit(':').next().unwrap_or(addr).to_owned())
}

#[cfg(test)]
mod tests;
