//! The captured frames as a pcapng file: one Section Header Block, one Interface
//! Description Block per capture point of each run (`run1:a`), one Enhanced Packet Block
//! per packet, with its direction and, where the wire acted on it, its note as a comment.
//! tcpdump, tshark and Wireshark read it. See the pcapng draft (IETF opsawg-pcapng).

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use super::{PointInfo, SNAPLEN};
use crate::packet::{Packet, Way};

/// if_tsresol 9: timestamps count nanoseconds.
const NANOSECONDS: u8 = 9;

/// epb_flags' direction bits (bits 0-1): 01 inbound, 10 outbound.
const EPB_INBOUND: u32 = 0b01;
const EPB_OUTBOUND: u32 = 0b10;

/// One run's capture, as the file shows it.
#[derive(Debug, Clone, Copy)]
pub struct PcapRun<'a> {
    /// `connect-refused (engine std, repeat 2)`: the interfaces' description.
    pub title: &'a str,
    pub points: &'a [PointInfo],
    pub packets: &'a [Packet],
}

fn other(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        e => io::Error::other(e),
    }
}

/// Writes every run's packets into one pcapng section; runs are numbered from 1 in the
/// interfaces' names (`run1:lo`, `run2:a`). A packet whose point is not among its run's
/// points is left out.
pub fn write_pcapng(w: impl Write, runs: &[PcapRun]) -> io::Result<()> {
    let section = SectionHeaderBlock {
        options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed(
            concat!("tcplab ", env!("CARGO_PKG_VERSION")),
        ))],
        ..Default::default()
    };
    let mut out = PcapNgWriter::with_section_header(w, section).map_err(other)?;
    let mut first_id = 0u32;
    for (n, run) in runs.iter().enumerate() {
        for p in run.points {
            let idb = InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: SNAPLEN as u32,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(format!(
                        "run{}:{}",
                        n + 1,
                        p.name
                    ))),
                    InterfaceDescriptionOption::IfDescription(Cow::Owned(format!(
                        "{} on {}",
                        run.title, p.ifname
                    ))),
                    InterfaceDescriptionOption::IfTsResol(NANOSECONDS),
                ],
            };
            out.write_pcapng_block(idb).map_err(other)?;
        }
        for pkt in run.packets {
            let Some(i) = run.points.iter().position(|p| p.name == pkt.point) else {
                continue;
            };
            let mut options = Vec::new();
            match pkt.way {
                Some(Way::In) => options.push(EnhancedPacketOption::Flags(EPB_INBOUND)),
                Some(Way::Out) => options.push(EnhancedPacketOption::Flags(EPB_OUTBOUND)),
                None => {}
            }
            if let Some(note) = &pkt.wire {
                options.push(EnhancedPacketOption::Comment(Cow::Borrowed(note)));
            }
            let epb = EnhancedPacketBlock {
                interface_id: first_id + i as u32,
                timestamp: Duration::from_nanos(pkt.ts_ns),
                original_len: pkt.orig_len.max(pkt.frame.len() as u32),
                // The interface says SNAPLEN: readers refuse a longer packet.
                data: Cow::Borrowed(&pkt.frame[..pkt.frame.len().min(SNAPLEN)]),
                options,
            };
            out.write_pcapng_block(epb).map_err(other)?;
        }
        first_id += run.points.len() as u32;
    }
    out.into_inner().flush()
}
