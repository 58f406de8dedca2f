//! What the wire needs to know of a frame (its MACs, and for TCP its addresses, flags,
//! numbers and payload length), and the RST frames it injects.
//!
//! Parsing and building go through etherparse (Ethernet II, IPv4 or IPv6, TCP); a frame
//! that does not parse as TCP is passed on as it is, without a look inside.

use std::net::{IpAddr, SocketAddr};

use etherparse::{LinkSlice, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

/// The hop limit of the RSTs the wire injects (Linux's default TTL, ip-sysctl's
/// `ip_default_ttl`), so that they look like the peer's own.
const INJECTED_TTL: u8 = 64;

/// One frame as the wire reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// Source and destination MAC addresses, for an Ethernet II frame.
    pub macs: Option<([u8; 6], [u8; 6])>,
    /// The TCP segment inside, if there is one.
    pub tcp: Option<TcpInfo>,
}

/// A TCP segment's fields the faults and the RST injection use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub ack: bool,
    pub urg: bool,
    pub seq: u32,
    /// The acknowledgement number field (meaningful with `ack`).
    pub ack_no: u32,
    /// Payload bytes (the IP length tells, so Ethernet padding is not counted).
    pub payload_len: u32,
}

impl TcpInfo {
    /// The flags joined by `|` in the order SYN, FIN, RST, PSH, ACK, URG (`SYN|ACK`), as
    /// the packet records print them.
    pub fn flags_text(&self) -> String {
        let named = [
            (self.syn, "SYN"),
            (self.fin, "FIN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
            (self.urg, "URG"),
        ];
        let on: Vec<&str> = named.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
        on.join("|")
    }

    /// A SYN that opens (no ACK).
    pub fn is_syn(&self) -> bool {
        self.syn && !self.ack
    }

    /// A SYN-ACK (the passive side's answer).
    pub fn is_synack(&self) -> bool {
        self.syn && self.ack
    }
}

/// Reads a frame; what is not Ethernet II or not TCP leaves the fields `None`.
pub fn parse(frame: &[u8]) -> FrameInfo {
    let Ok(p) = SlicedPacket::from_ethernet(frame) else {
        return FrameInfo {
            macs: None,
            tcp: None,
        };
    };
    let macs = match &p.link {
        Some(LinkSlice::Ethernet2(e)) => Some((e.source(), e.destination())),
        _ => None,
    };
    let ips = match &p.net {
        Some(NetSlice::Ipv4(ip)) => Some((
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        )),
        Some(NetSlice::Ipv6(ip)) => Some((
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
        )),
        _ => None,
    };
    let tcp = match (ips, &p.transport) {
        (Some((s, d)), Some(TransportSlice::Tcp(t))) => Some(TcpInfo {
            src: SocketAddr::new(s, t.source_port()),
            dst: SocketAddr::new(d, t.destination_port()),
            syn: t.syn(),
            fin: t.fin(),
            rst: t.rst(),
            psh: t.psh(),
            ack: t.ack(),
            urg: t.urg(),
            seq: t.sequence_number(),
            ack_no: t.acknowledgment_number(),
            payload_len: t.payload().len() as u32,
        }),
        _ => None,
    };
    FrameInfo { macs, tcp }
}

/// A RST segment from `src` to `dst` with sequence number `seq` and no ACK, in an
/// Ethernet II frame from `src_mac` to `dst_mac`, checksums computed. `None` when the
/// two addresses are not of one family.
///
/// # Notes
/// A RST without ACK is accepted by a synchronized connection when its sequence number is
/// exactly the receiver's RCV.NXT (RFC 5961 section 3.2; anything else in the window only
/// draws a challenge ACK), which is why the caller passes the last acknowledgement number
/// the receiver sent.
pub fn build_rst(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
) -> Option<Vec<u8>> {
    let eth = PacketBuilder::ethernet2(src_mac, dst_mac);
    let ip = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), INJECTED_TTL),
        (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), INJECTED_TTL),
        _ => return None,
    };
    let builder = ip.tcp(src.port(), dst.port(), seq, 0).rst();
    let mut out = Vec::with_capacity(builder.size(0));
    // Writing to a Vec fails only on a payload too long for the IP length field.
    builder.write(&mut out, &[]).ok()?;
    Some(out)
}
