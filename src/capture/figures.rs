//! Named figures taken from a run's packets, for observations: how many segments of which
//! flags each point saw, retransmissions, the first RST's direction, zero-window probes,
//! the gaps between SYN retransmissions, payload bytes.
//!
//! # Key grammar
//! ```text
//! packets(POINT, WAY, FLAGS)      count of packets
//! retransmissions(POINT, WAY)     count of payload segments flagged as retransmissions
//! bytes(POINT, WAY)               payload bytes, each byte once (see below)
//! zero_window_probes(POINT, WAY)  count of probes (see below)
//! syn_gaps(POINT)                 ms between successive SYNs of one connection, a list
//! first_rst                       the first RST's direction, text
//!
//! POINT  lo | a | b
//! WAY    out | in | any           (loopback packets have no way: use any)
//! FLAGS  a TCP flag set in any order (SYN|ACK, ACK|FIN), or * (every packet), or icmp
//! ```
//! Spaces after the commas are optional. `first_rst` is `a>b` or `b>a` on the wire (the
//! way the RST travelled, wherever it was first seen); on loopback it is `SRC>DST`, each
//! side named `actor:sock` from the run's endpoints, else by its port. A zero-window probe
//! is a segment without SYN, FIN or RST sent while the other side's last advertised window
//! was 0, carrying one byte, or none at a sequence number one below the highest sent
//! (Linux's probe, tcp_xmit_probe_skb). `bytes` is, per direction of each connection, the
//! span of sequence space its payload covered (the highest end minus the first payload
//! segment's start): a retransmission adds nothing, and bytes whose first copy the point
//! never saw (dropped before it) still count once.

use std::collections::HashMap;
use std::fmt;

use crate::packet::{Endpoint, Packet, Way};

/// One figure a scenario can take from the packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Figure {
    Packets {
        point: String,
        way: WayFilter,
        flags: FlagFilter,
    },
    Retransmissions {
        point: String,
        way: WayFilter,
    },
    Bytes {
        point: String,
        way: WayFilter,
    },
    ZeroWindowProbes {
        point: String,
        way: WayFilter,
    },
    SynGaps {
        point: String,
    },
    FirstRst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WayFilter {
    Out,
    In,
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagFilter {
    /// Every packet.
    All,
    /// ICMP messages.
    Icmp,
    /// TCP segments with exactly these flags, in [`crate::packet::Packet::flags`] order.
    Exactly(String),
}

/// A figure's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FigureValue {
    Count(u64),
    Text(String),
    /// Whole milliseconds.
    List(Vec<i64>),
}

/// Why a figure's key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    #[error("unknown packet figure `{0}` (packets, retransmissions, bytes, zero_window_probes, syn_gaps, first_rst)")]
    Unknown(String),
    #[error("packet figure `{0}` wants {1} argument(s)")]
    Arguments(String, usize),
    #[error("unknown capture point `{0}` (lo, a, b)")]
    Point(String),
    #[error("unknown way `{0}` (out, in, any)")]
    Way(String),
    #[error("unknown TCP flag `{0}` (SYN, FIN, RST, PSH, ACK, URG, or * or icmp)")]
    Flag(String),
}

const FLAG_ORDER: [&str; 6] = ["SYN", "FIN", "RST", "PSH", "ACK", "URG"];

impl Figure {
    /// Reads a key (`packets(a, out, SYN)`).
    pub fn parse(key: &str) -> Result<Figure, FigureError> {
        let key = key.trim();
        if key == "first_rst" {
            return Ok(Figure::FirstRst);
        }
        let (name, args) = key
            .strip_suffix(')')
            .and_then(|k| k.split_once('('))
            .ok_or_else(|| FigureError::Unknown(key.to_owned()))?;
        let args: Vec<&str> = args.split(',').map(str::trim).collect();
        let want = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(FigureError::Arguments(name.to_owned(), n))
            }
        };
        let point = |s: &str| match s {
            "lo" | "a" | "b" => Ok(s.to_owned()),
            _ => Err(FigureError::Point(s.to_owned())),
        };
        let way = |s: &str| match s {
            "out" => Ok(WayFilter::Out),
            "in" => Ok(WayFilter::In),
            "any" => Ok(WayFilter::Any),
            _ => Err(FigureError::Way(s.to_owned())),
        };
        Ok(match name.trim() {
            "packets" => {
                want(3)?;
                Figure::Packets {
                    point: point(args[0])?,
                    way: way(args[1])?,
                    flags: flag_filter(args[2])?,
                }
            }
            "retransmissions" | "bytes" | "zero_window_probes" => {
                want(2)?;
                let (point, way) = (point(args[0])?, way(args[1])?);
                match name.trim() {
                    "retransmissions" => Figure::Retransmissions { point, way },
                    "bytes" => Figure::Bytes { point, way },
                    _ => Figure::ZeroWindowProbes { point, way },
                }
            }
            "syn_gaps" => {
                want(1)?;
                Figure::SynGaps {
                    point: point(args[0])?,
                }
            }
            _ => return Err(FigureError::Unknown(key.to_owned())),
        })
    }

    /// The figure over a run's packets (in time order). `None` for `first_rst` when no RST
    /// was seen; counts are 0, never absent.
    pub fn compute(&self, packets: &[Packet], endpoints: &[Endpoint]) -> Option<FigureValue> {
        let at = |point: &str, way: WayFilter| {
            let point = point.to_owned();
            packets
                .iter()
                .filter(move |p| p.point == point && way_matches(way, p.way))
        };
        Some(match self {
            Figure::Packets { point, way, flags } => FigureValue::Count(
                at(point, *way)
                    .filter(|p| match flags {
                        FlagFilter::All => true,
                        FlagFilter::Icmp => p.proto == "icmp",
                        FlagFilter::Exactly(f) => p.proto == "tcp" && &p.flags == f,
                    })
                    .count() as u64,
            ),
            Figure::Retransmissions { point, way } => {
                FigureValue::Count(at(point, *way).filter(|p| p.retransmission).count() as u64)
            }
            Figure::Bytes { point, way } => FigureValue::Count(bytes(at(point, *way))),
            Figure::ZeroWindowProbes { point, way } => {
                FigureValue::Count(zero_window_probes(packets, point, *way))
            }
            Figure::SynGaps { point } => FigureValue::List(syn_gaps(at(point, WayFilter::Any))),
            Figure::FirstRst => FigureValue::Text(first_rst(packets, endpoints)?),
        })
    }
}

impl fmt::Display for Figure {
    /// The key in its canonical spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let way = |w: &WayFilter| match w {
            WayFilter::Out => "out",
            WayFilter::In => "in",
            WayFilter::Any => "any",
        };
        match self {
            Figure::Packets {
                point,
                way: w,
                flags,
            } => {
                let flags = match flags {
                    FlagFilter::All => "*",
                    FlagFilter::Icmp => "icmp",
                    FlagFilter::Exactly(s) => s,
                };
                write!(f, "packets({point}, {}, {flags})", way(w))
            }
            Figure::Retransmissions { point, way: w } => {
                write!(f, "retransmissions({point}, {})", way(w))
            }
            Figure::Bytes { point, way: w } => write!(f, "bytes({point}, {})", way(w)),
            Figure::ZeroWindowProbes { point, way: w } => {
                write!(f, "zero_window_probes({point}, {})", way(w))
            }
            Figure::SynGaps { point } => write!(f, "syn_gaps({point})"),
            Figure::FirstRst => f.write_str("first_rst"),
        }
    }
}

fn flag_filter(s: &str) -> Result<FlagFilter, FigureError> {
    match s {
        "*" => return Ok(FlagFilter::All),
        "icmp" => return Ok(FlagFilter::Icmp),
        _ => {}
    }
    let asked: Vec<String> = s
        .split('|')
        .map(|f| f.trim().to_ascii_uppercase())
        .collect();
    if let Some(bad) = asked.iter().find(|f| !FLAG_ORDER.contains(&f.as_str())) {
        return Err(FigureError::Flag(bad.clone()));
    }
    let set: Vec<&str> = FLAG_ORDER
        .iter()
        .copied()
        .filter(|f| asked.iter().any(|a| a == f))
        .collect();
    Ok(FlagFilter::Exactly(set.join("|")))
}

fn way_matches(filter: WayFilter, way: Option<Way>) -> bool {
    match filter {
        WayFilter::Any => true,
        WayFilter::Out => way == Some(Way::Out),
        WayFilter::In => way == Some(Way::In),
    }
}

fn has(p: &Packet, flag: &str) -> bool {
    p.flags.split('|').any(|f| f == flag)
}

/// The sequence space the payload of each direction covered, summed.
fn bytes<'a>(packets: impl Iterator<Item = &'a Packet>) -> u64 {
    // Per direction: the first payload byte's raw sequence number and the highest end.
    let mut span: HashMap<(&str, &str), (u32, u32)> = HashMap::new();
    for p in packets.filter(|p| p.proto == "tcp" && p.len > 0) {
        let end = p.raw_seq.wrapping_add(p.len);
        let s = span.entry((&p.src, &p.dst)).or_insert((p.raw_seq, end));
        if (end.wrapping_sub(s.1) as i32) > 0 {
            s.1 = end;
        }
    }
    span.values()
        .map(|(first, high)| u64::from(high.wrapping_sub(*first)))
        .sum()
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

fn zero_window_probes(packets: &[Packet], point: &str, way: WayFilter) -> u64 {
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
            && way_matches(way, p.way)
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
