//! Marks the captured packets the wire acted on with what it did (`dropped: loss #2`).
//!
//! The wire logs each frame it dropped, duplicated or injected, with the frame's flags, raw
//! sequence and acknowledgement numbers and payload length. A frame it dropped or
//! duplicated was captured leaving its sender (point of the direction's source host, way
//! Out) just before the wire logged it; a RST it injected was captured arriving at the
//! direction's destination host (way In) just after.

use crate::packet::{Packet, Way, WireEvent};

/// How far a packet's timestamp may be on the wrong side of its wire event: the kernel's
/// clock (CLOCK_REALTIME, converted once at the capture's start) and the relay's
/// (`Instant`) can disagree by a little.
const SLACK_MS: f64 = 2.0;

/// Sets [`Packet::wire`] on each packet a wire event names; a packet two events name
/// carries both notes (`dropped: loss #1; duplicated`). Events that match no packet are
/// left out (the packet was not captured).
pub fn annotate(packets: &mut [Packet], wire: &[WireEvent]) {
    for ev in wire {
        let injected = ev.action.starts_with("injected");
        let (host, way) = if injected {
            (ev.dir.to_host(), Way::In)
        } else {
            (ev.dir.from_host(), Way::Out)
        };
        let matches = |p: &Packet| {
            p.point == host.name()
                && p.way == Some(way)
                && p.proto == "tcp"
                && p.raw_seq == ev.raw_seq
                && p.raw_ack == ev.raw_ack
                && p.len == ev.len
                && p.flags == ev.flags
                && if injected {
                    p.at_ms >= ev.at_ms - SLACK_MS
                } else {
                    p.at_ms <= ev.at_ms + SLACK_MS
                }
        };
        // The nearest in time, a packet not yet marked first.
        let distance = |p: &Packet| (p.at_ms - ev.at_ms).abs();
        let best = |unmarked_only: bool| {
            packets
                .iter()
                .enumerate()
                .filter(|(_, p)| matches(p) && (!unmarked_only || p.wire.is_none()))
                .min_by(|(_, x), (_, y)| distance(x).total_cmp(&distance(y)))
                .map(|(i, _)| i)
        };
        let Some(i) = best(true).or_else(|| best(false)) else {
            continue;
        };
        let p = &mut packets[i];
        p.wire = Some(match p.wire.take() {
            Some(n) => format!("{n}; {}", ev.action),
            None => ev.action.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::wire::Dir;

    fn packet(point: &str, way: Way, at_ms: f64, flags: &str, raw_seq: u32, len: u32) -> Packet {
        Packet {
            at_ms,
            point: point.to_owned(),
            way: Some(way),
            src: "10.89.0.1:40000".to_owned(),
            dst: "10.89.0.2:5000".to_owned(),
            proto: "tcp".to_owned(),
            flags: flags.to_owned(),
            seq: Some(0),
            ack: None,
            win: Some(100),
            len,
            retransmission: false,
            wire: None,
            raw_seq,
            raw_ack: 7,
            ts_ns: 0,
            frame: Vec::new(),
            orig_len: 0,
        }
    }

    fn event(at_ms: f64, dir: Dir, action: &str, flags: &str, raw_seq: u32, len: u32) -> WireEvent {
        WireEvent {
            at_ms,
            dir,
            action: action.to_owned(),
            flags: flags.to_owned(),
            raw_seq,
            raw_ack: 7,
            len,
        }
    }

    #[test]
    fn a_drop_marks_the_senders_outgoing_copy_nearest_before_it() {
        let mut p = vec![
            packet("a", Way::Out, 1.0, "PSH|ACK", 100, 10),
            packet("a", Way::Out, 201.0, "PSH|ACK", 100, 10),
            packet("b", Way::In, 201.5, "PSH|ACK", 100, 10),
            packet("a", Way::Out, 401.0, "PSH|ACK", 100, 10),
        ];
        let ev = [
            event(1.2, Dir::AtoB, "dropped: loss #1", "PSH|ACK", 100, 10),
            event(201.1, Dir::AtoB, "duplicated", "PSH|ACK", 100, 10),
        ];
        annotate(&mut p, &ev);
        let notes: Vec<_> = p.iter().map(|p| p.wire.as_deref()).collect();
        assert_eq!(
            notes,
            [Some("dropped: loss #1"), Some("duplicated"), None, None]
        );
    }

    #[test]
    fn an_injected_rst_marks_the_receivers_incoming_copy() {
        let mut p = vec![
            packet("a", Way::Out, 5.0, "RST", 300, 0),
            packet("b", Way::In, 5.3, "RST", 300, 0),
        ];
        annotate(
            &mut p,
            &[event(5.1, Dir::AtoB, "injected RST", "RST", 300, 0)],
        );
        assert_eq!(p[0].wire, None);
        assert_eq!(p[1].wire.as_deref(), Some("injected RST"));
    }

    #[test]
    fn an_event_with_other_numbers_marks_nothing() {
        let mut p = vec![packet("a", Way::Out, 10.0, "PSH|ACK", 100, 10)];
        annotate(
            &mut p,
            &[
                event(11.0, Dir::AtoB, "dropped: loss #1", "PSH|ACK", 101, 10),
                event(11.0, Dir::BtoA, "dropped: loss #1", "PSH|ACK", 100, 10),
                // Before the packet was sent.
                event(5.0, Dir::AtoB, "dropped: loss #1", "PSH|ACK", 100, 10),
            ],
        );
        assert_eq!(p[0].wire, None);
    }

    #[test]
    fn two_events_on_one_packet_keep_both_notes() {
        let mut p = vec![packet("b", Way::Out, 1.0, "FIN|ACK", 9, 0)];
        annotate(
            &mut p,
            &[
                event(1.1, Dir::BtoA, "duplicated", "FIN|ACK", 9, 0),
                event(1.2, Dir::BtoA, "dropped: FIN #1", "FIN|ACK", 9, 0),
            ],
        );
        assert_eq!(p[0].wire.as_deref(), Some("duplicated; dropped: FIN #1"));
    }
}
