//! Captured frames into the lab's [`Packet`] records: the Ethernet, IPv4, TCP and ICMP
//! headers read from a frame's first bytes (etherparse), then the sequence numbers made
//! relative per connection direction and retransmissions flagged, as tcpdump and
//! Wireshark show them.
//!
//! OS-neutral: it reads bytes, whatever captured them.

use std::collections::HashMap;

use etherparse::{
    EtherType, Ethernet2HeaderSlice, Icmpv4Slice, IpNumber, Ipv4HeaderSlice, TcpHeaderSlice,
};

use crate::packet::{Packet, Way};

/// One frame as a capture point took it: its first bytes and what the kernel said of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The capture point's name (`lo`, `a`, `b`).
    pub point: String,
    pub way: Option<Way>,
    /// The kernel's timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The same instant in milliseconds since the scenario started.
    pub at_ms: f64,
    /// The frame's length on the interface.
    pub orig_len: u32,
    /// The frame's first bytes, Ethernet header first.
    pub bytes: Vec<u8>,
}

/// Whether a frame is one the lab keeps (IPv4 carrying TCP or ICMP), from its Ethernet and
/// IPv4 headers alone: the capture thread's cheap test before it stores a frame.
pub fn wanted(bytes: &[u8]) -> bool {
    let Ok(eth) = Ethernet2HeaderSlice::from_slice(bytes) else {
        return false;
    };
    if eth.ether_type() != EtherType::IPV4 {
        return false;
    }
    match Ipv4HeaderSlice::from_slice(&bytes[eth.slice().len()..]) {
        Ok(ip) => matches!(ip.protocol(), IpNumber::TCP | IpNumber::ICMP),
        Err(_) => false,
    }
}

/// The packet a frame carries, with raw sequence numbers (`seq`, `ack` and `retransmission`
/// are set by [`Sequencer`]), or `None` for anything but IPv4 TCP and ICMP, or a frame cut
/// before the end of its headers.
pub fn parse_frame(f: &Frame) -> Option<Packet> {
    let eth = Ethernet2HeaderSlice::from_slice(&f.bytes).ok()?;
    if eth.ether_type() != EtherType::IPV4 {
        return None;
    }
    let ip_bytes = &f.bytes[eth.slice().len()..];
    let ip = Ipv4HeaderSlice::from_slice(ip_bytes).ok()?;
    let hlen = ip.slice().len();
    let rest = &ip_bytes[hlen..];
    // The payload's length from the IP header: the frame is cut at the snap length.
    let ip_payload = usize::from(ip.total_len()).saturating_sub(hlen);
    let mut p = Packet {
        at_ms: f.at_ms,
        point: f.point.clone(),
        way: f.way,
        src: ip.source_addr().to_string(),
        dst: ip.destination_addr().to_string(),
        proto: String::new(),
        flags: String::new(),
        seq: None,
        ack: None,
        win: None,
        len: 0,
        retransmission: false,
        wire: None,
        raw_seq: 0,
        raw_ack: 0,
        ts_ns: f.ts_ns,
        frame: f.bytes.clone(),
        orig_len: f.orig_len,
    };
    match ip.protocol() {
        IpNumber::TCP => {
            let tcp = TcpHeaderSlice::from_slice(rest).ok()?;
            p.proto = "tcp".to_owned();
            p.src = format!("{}:{}", p.src, tcp.source_port());
            p.dst = format!("{}:{}", p.dst, tcp.destination_port());
            p.flags = tcp_flags(&tcp);
            p.raw_seq = tcp.sequence_number();
            p.raw_ack = tcp.acknowledgment_number();
            p.win = Some(tcp.window_size());
            p.len = ip_payload.saturating_sub(tcp.slice().len()) as u32;
        }
        IpNumber::ICMP => {
            let icmp = Icmpv4Slice::from_slice(rest).ok()?;
            p.proto = "icmp".to_owned();
            p.flags = icmp_words(icmp.type_u8(), icmp.code_u8(), quoted_ports(icmp));
        }
        _ => return None,
    }
    Some(p)
}

/// `SYN|ACK`: the flags set, in the order SYN, FIN, RST, PSH, ACK, URG.
fn tcp_flags(t: &TcpHeaderSlice) -> String {
    let all = [
        (t.syn(), "SYN"),
        (t.fin(), "FIN"),
        (t.rst(), "RST"),
        (t.psh(), "PSH"),
        (t.ack(), "ACK"),
        (t.urg(), "URG"),
    ];
    let set: Vec<&str> = all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
    if set.is_empty() {
        "none".to_owned()
    } else {
        set.join("|")
    }
}

/// The TCP ports of the datagram an ICMP error quotes (` for 10.0.0.1:4000>10.0.0.2:5000`),
/// or nothing when it quotes none.
fn quoted_ports(icmp: Icmpv4Slice) -> String {
    let quoted = icmp.payload();
    let Ok(h) = Ipv4HeaderSlice::from_slice(quoted) else {
        return String::new();
    };
    let body = &quoted[h.slice().len()..];
    if h.protocol() != IpNumber::TCP || body.len() < 4 {
        return String::new();
    }
    let port = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
    format!(
        " for {}:{}>{}:{}",
        h.source_addr(),
        port(0),
        h.destination_addr(),
        port(2)
    )
}

/// An ICMP message's type and code in words (`destination unreachable: port`), RFC 792's.
pub fn icmp_words(kind: u8, code: u8, quoted: String) -> String {
    let words = match (kind, code) {
        (0, _) => "echo reply".to_owned(),
        (3, c) => format!(
            "destination unreachable: {}",
            match c {
                0 => "net",
                1 => "host",
                2 => "protocol",
                3 => "port",
                4 => "fragmentation needed",
                5 => "source route failed",
                9 | 10 | 13 => "administratively prohibited",
                _ => "other",
            }
        ),
        (4, _) => "source quench".to_owned(),
        (5, _) => "redirect".to_owned(),
        (8, _) => "echo request".to_owned(),
        (11, 0) => "time exceeded: ttl".to_owned(),
        (11, _) => "time exceeded: reassembly".to_owned(),
        (12, _) => "parameter problem".to_owned(),
        (k, c) => format!("type {k} code {c}"),
    };
    format!("{words}{quoted}")
}

/// What one direction of one connection, at one point, has shown so far.
#[derive(Debug, Clone, Copy)]
struct Side {
    /// The raw sequence number that shows as 0.
    base: u32,
    /// The highest raw sequence end seen (seq + payload, + 1 for SYN and FIN).
    high: u32,
}

/// Whether `a` is at or before `b` in sequence space (RFC 793's modulo comparison).
fn seq_le(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) >= 0
}

/// Makes sequence numbers relative and flags retransmissions, one packet after another in
/// capture order.
///
/// Each direction of a connection (source to destination at one capture point) counts from
/// its SYN's sequence number, or from the first segment seen when the SYN was not; an
/// acknowledgement counts from the other direction's base. A SYN without ACK starts a new
/// connection on its four-tuple. A payload segment whose end is at or below the highest end
/// already seen in its direction is a retransmission.
#[derive(Debug, Default)]
pub struct Sequencer {
    sides: HashMap<(String, String, String), Side>,
}

impl Sequencer {
    pub fn apply(&mut self, p: &mut Packet) {
        if p.proto != "tcp" {
            return;
        }
        let flag = |f: &str| p.flags.split('|').any(|x| x == f);
        let (syn, fin, ack) = (flag("SYN"), flag("FIN"), flag("ACK"));
        let key = (p.point.clone(), p.src.clone(), p.dst.clone());
        let back = (p.point.clone(), p.dst.clone(), p.src.clone());
        if syn && !ack {
            // A new connection on this four-tuple: both directions start afresh.
            self.sides.remove(&back);
            self.sides.remove(&key);
        }
        if syn {
            self.sides.remove(&key);
        }
        let side = self.sides.entry(key).or_insert(Side {
            base: p.raw_seq,
            high: p.raw_seq,
        });
        let end = p
            .raw_seq
            .wrapping_add(p.len)
            .wrapping_add(u32::from(syn) + u32::from(fin));
        p.retransmission = p.len > 0 && seq_le(end, side.high);
        if seq_le(side.high, end) {
            side.high = end;
        }
        p.seq = Some(p.raw_seq.wrapping_sub(side.base));
        if ack {
            let back_side = self.sides.entry(back).or_insert(Side {
                base: p.raw_ack,
                high: p.raw_ack,
            });
            p.ack = Some(p.raw_ack.wrapping_sub(back_side.base));
        }
    }
}

/// Every frame the lab keeps, parsed, in the order given, with relative sequence numbers.
pub fn packets(frames: &[Frame]) -> Vec<Packet> {
    let mut seq = Sequencer::default();
    frames
        .iter()
        .filter_map(parse_frame)
        .map(|mut p| {
            seq.apply(&mut p);
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    const A: [u8; 4] = [10, 89, 0, 1];
    const B: [u8; 4] = [10, 89, 0, 2];

    /// A TCP frame from A:40000 to B:5000 (or back), built by etherparse.
    fn tcp(
        from_a: bool,
        seq: u32,
        build: impl FnOnce(
            etherparse::PacketBuilderStep<etherparse::TcpHeader>,
        ) -> etherparse::PacketBuilderStep<etherparse::TcpHeader>,
        payload: &[u8],
    ) -> Frame {
        let (s, d, sp, dp) = if from_a {
            (A, B, 40000, 5000)
        } else {
            (B, A, 5000, 40000)
        };
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(s, d, 64)
            .tcp(sp, dp, seq, 64240);
        let mut bytes = Vec::new();
        build(b).write(&mut bytes, payload).unwrap();
        let orig_len = bytes.len() as u32;
        bytes.truncate(128);
        Frame {
            point: "a".to_owned(),
            way: Some(if from_a { Way::Out } else { Way::In }),
            ts_ns: 1,
            at_ms: 0.0,
            orig_len,
            bytes,
        }
    }

    // ---- one frame ----

    #[test]
    fn a_syn_reads_as_its_flags_addresses_and_window() {
        let p = parse_frame(&tcp(true, 1000, |b| b.syn(), &[])).unwrap();
        assert_eq!(p.src, "10.89.0.1:40000");
        assert_eq!(p.dst, "10.89.0.2:5000");
        assert_eq!(p.flags, "SYN");
        assert_eq!(p.proto, "tcp");
        assert_eq!(p.win, Some(64240));
        assert_eq!(p.raw_seq, 1000);
        assert_eq!(p.len, 0);
    }

    #[test]
    fn a_cut_frame_keeps_its_payload_length_from_the_ip_header() {
        let f = tcp(true, 1, |b| b.psh().ack(7), &[7u8; 1448]);
        assert_eq!(f.bytes.len(), 128);
        let p = parse_frame(&f).unwrap();
        assert_eq!(p.len, 1448);
        assert_eq!(p.flags, "PSH|ACK");
        assert_eq!(p.orig_len, 14 + 20 + 20 + 1448);
    }

    #[test]
    fn arp_and_ipv6_frames_are_not_kept() {
        let mut v6 = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([0; 16], [1; 16], 64)
            .tcp(1, 2, 3, 4)
            .write(&mut v6, &[])
            .unwrap();
        let f = Frame {
            bytes: v6.clone(),
            ..tcp(true, 1, |b| b, &[])
        };
        assert!(parse_frame(&f).is_none());
        assert!(!wanted(&v6));
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert!(!wanted(&arp));
        assert!(wanted(&tcp(true, 1, |b| b, &[]).bytes));
    }

    #[test]
    fn an_icmp_port_unreachable_names_its_type_code_and_quoted_ports() {
        // The datagram it quotes: a TCP SYN from B to A.
        let mut quoted = Vec::new();
        PacketBuilder::ipv4(B, A, 64)
            .tcp(5000, 40000, 9, 100)
            .syn()
            .write(&mut quoted, &[])
            .unwrap();
        let mut bytes = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(A, B, 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut bytes, &quoted[..28])
            .unwrap();
        let f = Frame {
            bytes,
            ..tcp(true, 1, |b| b, &[])
        };
        let p = parse_frame(&f).unwrap();
        assert_eq!(p.proto, "icmp");
        assert_eq!(p.src, "10.89.0.1");
        assert_eq!(
            p.flags,
            "destination unreachable: port for 10.89.0.2:5000>10.89.0.1:40000"
        );
        assert_eq!(p.seq, None);
    }

    // ---- a connection ----

    #[test]
    fn sequence_numbers_count_from_each_sides_syn() {
        let frames = [
            tcp(true, 1000, |b| b.syn(), &[]),
            tcp(false, 7000, |b| b.syn().ack(1001), &[]),
            tcp(true, 1001, |b| b.ack(7001), &[]),
            tcp(true, 1001, |b| b.psh().ack(7001), &[1; 10]),
            tcp(false, 7001, |b| b.fin().ack(1011), &[]),
        ];
        let p = packets(&frames);
        let seq: Vec<_> = p.iter().map(|p| (p.seq, p.ack)).collect();
        assert_eq!(
            seq,
            [
                (Some(0), None),
                (Some(0), Some(1)),
                (Some(1), Some(1)),
                (Some(1), Some(1)),
                (Some(1), Some(11)),
            ]
        );
        assert!(p.iter().all(|p| !p.retransmission));
    }

    #[test]
    fn a_resent_payload_is_a_retransmission_and_new_data_is_not() {
        let frames = [
            tcp(true, u32::MAX - 5, |b| b.ack(1), &[1; 10]),
            tcp(true, u32::MAX - 5, |b| b.ack(1), &[1; 10]),
            tcp(true, 4, |b| b.ack(1), &[1; 10]),
            tcp(true, u32::MAX, |b| b.ack(1), &[1; 2]),
        ];
        let p = packets(&frames);
        let re: Vec<_> = p.iter().map(|p| p.retransmission).collect();
        // Across the wrap of sequence space: the first segment seen is the base.
        assert_eq!(re, [false, true, false, true]);
        assert_eq!(p[2].seq, Some(10));
    }

    #[test]
    fn a_new_syn_on_the_same_ports_starts_a_new_connection() {
        let frames = [
            tcp(true, 1000, |b| b.syn(), &[]),
            tcp(true, 1001, |b| b.ack(1), &[1; 10]),
            tcp(true, 50_000, |b| b.syn(), &[]),
            tcp(true, 50_001, |b| b.ack(1), &[1; 10]),
        ];
        let p = packets(&frames);
        assert_eq!(p[2].seq, Some(0));
        assert_eq!(p[3].seq, Some(1));
        assert!(!p[3].retransmission);
    }
}
