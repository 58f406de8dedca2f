//! The packet figures an observation can take (`packets = "retransmissions(a, out)"`): how many segments of which
//! flags each point saw, retransmissions, the first RST's direction, zero-window probes,
//! the gaps between SYN retransmissions, payload bytes, payload segments and the largest.
//!
//! # Key grammar
//! ```text
//! packets(POINT, WAY, FLAGS)      count of packets
//! retransmissions(POINT, WAY)     count of payload segments flagged as retransmissions
//! bytes(POINT, WAY)               payload bytes, each byte once (see below)
//! segments(POINT, WAY)            count of payload segments, each byte's first (see below)
//! largest_segment(POINT, WAY)     the largest payload of one segment, in bytes
//! zero_window_probes(POINT, WAY)  count of probes (see below)
//! syn_gaps(POINT)                 ms between successive SYNs of one connection, a list
//! first_rst                       the first RST's direction, text
//!
//! POINT  lo | a | b
//! WAY    out | in | any           (loopback packets have no way: use any)
//!        ACTOR:SOCK               what that socket sent (client:s; every instance of a
//!                                 repeated actor), on loopback as on the wire
//! FLAGS  a TCP flag set in any order (SYN|ACK, ACK|FIN), or * (every packet), or icmp
//! ```
//! Spaces after the commas are optional. A WAY `ACTOR:SOCK` keeps the packets sent from
//! that socket's address to its peer's as the run noted them (`crate::packet::Endpoint`):
//! on loopback, where packets have no way, it tells the directions and connections apart.
//! The scenario's validation checks that the point is one its run captures (`lo` on
//! loopback, `a` and `b` on hosts) and that the actor makes that socket with `connect`,
//! `connect_start` or `accept` (a listener sends nothing of its own). `first_rst` is `a>b` or `b>a` on the wire (the
//! way the RST travelled, wherever it was first seen); on loopback it is `SRC>DST`, each
//! side named `actor:sock` from the run's endpoints, else by its port. A zero-window probe
//! is a segment without SYN, FIN or RST sent while the other side's last advertised window
//! was 0, carrying one byte, or none at a sequence number one below the highest sent
//! (Linux's probe, tcp_xmit_probe_skb). `bytes` is, per direction of each connection, the
//! span of sequence space its payload covered (the highest end minus the first payload
//! segment's start): a retransmission adds nothing, and bytes whose first copy the point
//! never saw (dropped before it) still count once.
//!
//! `segments` counts, per direction of each connection, the segments carrying payload
//! (length > 0) that brought at least one byte of sequence space this point had not seen
//! before: the segments that carried what `bytes` counts. A retransmission of bytes already
//! seen adds nothing (`retransmissions` counts it); a resent segment whose first copy the
//! point never saw counts once, as its bytes do (and `retransmissions` may count it too,
//! since it came after later bytes). `largest_segment` is the largest payload of any one
//! segment seen, a retransmission included (a resent segment is still a segment the path
//! carried), 0 when none carried payload. A segment is one captured packet. On loopback
//! the capture sees each packet once, as the receiver got it (its sending copy is ignored),
//! and loopback carries GSO packets whole: at its own MTU of 65536 a packet holds at most
//! one MSS (65483 bytes with timestamps; TCP bounds a GSO packet, as it bounds the MSS, to
//! half the largest window the peer offered and to 64 KiB), but under a smaller MTU one
//! packet may hold many MSS's worth (45 x 1448 = 65160 bytes at MTU 1500).
//!
//! This is the grammar only; `crate::capture::figures` computes a figure from a run's
//! packets.

use std::fmt;

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
    Segments {
        point: String,
        way: WayFilter,
    },
    LargestSegment {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WayFilter {
    Out,
    In,
    Any,
    /// The packets socket `sock` of actor `actor` sent: from its address to its peer's.
    Sent {
        actor: String,
        sock: String,
    },
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

/// The figures by name, with the arguments each takes (for messages and suggestions).
const FIGURES: [(&str, usize); 8] = [
    ("packets", 3),
    ("retransmissions", 2),
    ("bytes", 2),
    ("segments", 2),
    ("largest_segment", 2),
    ("zero_window_probes", 2),
    ("syn_gaps", 1),
    ("first_rst", 0),
];

/// Why a figure's key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    /// A name that is no figure (the name alone, without its arguments).
    #[error("unknown packet figure `{0}`{near}; figures: {all}", near = closest_figure(.0), all = figure_names())]
    Unknown(String),
    #[error("packet figure `{0}` wants {1} argument(s): {usage}", usage = usage(.0))]
    Arguments(String, usize),
    #[error("unknown capture point `{0}` (lo, a, b)")]
    Point(String),
    #[error("unknown way `{0}` (out, in, any, or ACTOR:SOCK)")]
    Way(String),
    #[error("unknown TCP flag `{0}` (SYN, FIN, RST, PSH, ACK, URG, or * or icmp)")]
    Flag(String),
}

const FLAG_ORDER: [&str; 6] = ["SYN", "FIN", "RST", "PSH", "ACK", "URG"];

impl Figure {
    /// The type of the figure's value, for expectations.
    pub fn value_type(&self) -> super::ValueType {
        match self {
            Figure::SynGaps { .. } => super::ValueType::List,
            Figure::FirstRst => super::ValueType::Text,
            _ => super::ValueType::Int,
        }
    }

    /// The capture point the figure reads, if it names one (`first_rst` reads them all).
    pub fn point(&self) -> Option<&str> {
        match self {
            Figure::Packets { point, .. }
            | Figure::Retransmissions { point, .. }
            | Figure::Bytes { point, .. }
            | Figure::Segments { point, .. }
            | Figure::LargestSegment { point, .. }
            | Figure::ZeroWindowProbes { point, .. }
            | Figure::SynGaps { point } => Some(point),
            Figure::FirstRst => None,
        }
    }

    /// The way the figure filters packets by, if it takes one.
    pub fn way(&self) -> Option<&WayFilter> {
        match self {
            Figure::Packets { way, .. }
            | Figure::Retransmissions { way, .. }
            | Figure::Bytes { way, .. }
            | Figure::Segments { way, .. }
            | Figure::LargestSegment { way, .. }
            | Figure::ZeroWindowProbes { way, .. } => Some(way),
            Figure::SynGaps { .. } | Figure::FirstRst => None,
        }
    }

    /// Reads a key (`packets(a, out, SYN)`).
    pub fn parse(key: &str) -> Result<Figure, FigureError> {
        let key = key.trim();
        if key == "first_rst" {
            return Ok(Figure::FirstRst);
        }
        let Some((name, args)) = key.strip_suffix(')').and_then(|k| k.split_once('(')) else {
            // A figure's name without its arguments (`segments`) is told what it wants.
            let name = key.split('(').next().unwrap_or(key).trim();
            return Err(match FIGURES.iter().find(|(n, _)| *n == name) {
                Some((n, args)) => FigureError::Arguments((*n).to_owned(), *args),
                None => FigureError::Unknown(name.to_owned()),
            });
        };
        let name = name.trim();
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
            _ => match s.split_once(':') {
                Some((actor, sock)) if word(actor) && word(sock) => Ok(WayFilter::Sent {
                    actor: actor.to_owned(),
                    sock: sock.to_owned(),
                }),
                _ => Err(FigureError::Way(s.to_owned())),
            },
        };
        Ok(match name {
            "packets" => {
                want(3)?;
                Figure::Packets {
                    point: point(args[0])?,
                    way: way(args[1])?,
                    flags: flag_filter(args[2])?,
                }
            }
            "retransmissions" | "bytes" | "segments" | "largest_segment" | "zero_window_probes" => {
                want(2)?;
                let (point, way) = (point(args[0])?, way(args[1])?);
                match name {
                    "retransmissions" => Figure::Retransmissions { point, way },
                    "bytes" => Figure::Bytes { point, way },
                    "segments" => Figure::Segments { point, way },
                    "largest_segment" => Figure::LargestSegment { point, way },
                    _ => Figure::ZeroWindowProbes { point, way },
                }
            }
            "syn_gaps" => {
                want(1)?;
                Figure::SynGaps {
                    point: point(args[0])?,
                }
            }
            "first_rst" => return Err(FigureError::Arguments("first_rst".into(), 0)),
            other => return Err(FigureError::Unknown(other.to_owned())),
        })
    }
}

/// ` (did you mean segments?)`: the known figure closest to `name`.
fn closest_figure(name: &str) -> String {
    crate::suggest::closest(name, FIGURES.iter().map(|(n, _)| *n))
        .first()
        .map(|n| format!(" (did you mean {n}?)"))
        .unwrap_or_default()
}

/// Every figure as it is written: `packets(POINT, WAY, FLAGS), ..., first_rst`.
fn figure_names() -> String {
    FIGURES
        .iter()
        .map(|(n, _)| usage(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How figure `name` is written (`segments(POINT, WAY)`); the name alone if it is none.
fn usage(name: &str) -> String {
    match FIGURES.iter().find(|(n, _)| *n == name) {
        Some((n, 0)) => (*n).to_owned(),
        Some((n, k)) => format!("{n}({})", ["POINT", "WAY", "FLAGS"][..*k].join(", ")),
        None => name.to_owned(),
    }
}

impl fmt::Display for Figure {
    /// The key in its canonical spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let way = |w: &WayFilter| match w {
            WayFilter::Out => "out".to_owned(),
            WayFilter::In => "in".to_owned(),
            WayFilter::Any => "any".to_owned(),
            WayFilter::Sent { actor, sock } => format!("{actor}:{sock}"),
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
            Figure::Segments { point, way: w } => write!(f, "segments({point}, {})", way(w)),
            Figure::LargestSegment { point, way: w } => {
                write!(f, "largest_segment({point}, {})", way(w))
            }
            Figure::ZeroWindowProbes { point, way: w } => {
                write!(f, "zero_window_probes({point}, {})", way(w))
            }
            Figure::SynGaps { point } => write!(f, "syn_gaps({point})"),
            Figure::FirstRst => f.write_str("first_rst"),
        }
    }
}

/// One side of `ACTOR:SOCK` (whether the scenario has it is for its validation).
fn word(s: &str) -> bool {
    !s.is_empty() && !s.contains(char::is_whitespace)
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
