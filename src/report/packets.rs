//! The packets in the terminal timeline: each captured segment on a line of its own
//! between the socket calls, by time (`a → SYN seq 0 win 64240`,
//! `client:s → server:c PSH|ACK seq 1:1449 ack 1 len 1448`), with what the wire did to it;
//! long runs of plain segments folded into a line per direction, as the timeline folds
//! repeated calls.

use crate::capture::figures::side_name;
use crate::packet::{Endpoint, Packet, Way};
use crate::record::Record;

/// Consecutive plain segments (no SYN, FIN or RST, no retransmission, no wire note, a
/// window above 0) folded from this many on.
const FOLD_FROM: usize = 6;

/// Of a folded run, the segments shown before its summary lines and after them.
const FOLD_HEAD: usize = 2;
const FOLD_TAIL: usize = 1;

/// The packets and endpoints of a record, as the timeline shows them.
pub(super) fn of(r: &Record) -> (&[Packet], &[Endpoint]) {
    (&r.packets, &r.endpoints)
}

/// Interleaves packet lines with the timeline's call lines: `calls` are the lines with the
/// time each starts at, in order; a packet goes after the last call that started at or
/// before it. `at_width` and `took_width` are the widths of the timeline's first two
/// columns, so that a packet's time lines up with the calls'.
pub(super) fn interleave(
    calls: Vec<(f64, String)>,
    packets: &[Packet],
    endpoints: &[Endpoint],
    at_width: usize,
    took_width: usize,
) -> Vec<String> {
    if packets.is_empty() {
        return calls.into_iter().map(|(_, l)| l).collect();
    }
    let mut out = Vec::with_capacity(calls.len() + packets.len().min(64));
    let mut next = 0;
    let mut flush = |until: Option<f64>, out: &mut Vec<String>| {
        let start = next;
        while next < packets.len() && until.is_none_or(|t| packets[next].at_ms < t) {
            next += 1;
        }
        lines(&packets[start..next], endpoints, at_width, took_width, out);
    };
    for (at, line) in calls {
        flush(Some(at), &mut out);
        out.push(line);
    }
    flush(None, &mut out);
    out
}

/// Whether a segment may be folded into a summary.
fn plain(p: &Packet) -> bool {
    p.proto == "tcp"
        && !p.retransmission
        && p.wire.is_none()
        && p.win != Some(0)
        && !p
            .flags
            .split('|')
            .any(|f| matches!(f, "SYN" | "FIN" | "RST"))
}

/// The lines of a stretch of packets between two calls, folding runs of plain segments.
fn lines(ps: &[Packet], eps: &[Endpoint], aw: usize, tw: usize, out: &mut Vec<String>) {
    let line = |at: f64, text: String| format!("  {:>aw$} {:>tw$}  {text}", format!("{at:.3}"), "");
    let mut i = 0;
    while i < ps.len() {
        let run = ps[i..].iter().take_while(|p| plain(p)).count();
        if run < FOLD_FROM {
            let n = run.max(1);
            for p in &ps[i..i + n] {
                out.push(line(p.at_ms, describe(p, eps)));
            }
            i += n;
            continue;
        }
        let folded = &ps[i..i + run];
        for p in &folded[..FOLD_HEAD] {
            out.push(line(p.at_ms, describe(p, eps)));
        }
        let middle = &folded[FOLD_HEAD..run - FOLD_TAIL];
        // One summary per direction and flags, in the order each first appears.
        let mut groups: Vec<(String, String, usize, u64)> = Vec::new();
        for p in middle {
            let side = side(p, eps);
            match groups.iter_mut().find(|g| g.0 == side && g.1 == p.flags) {
                Some(g) => {
                    g.2 += 1;
                    g.3 += u64::from(p.len);
                }
                None => groups.push((side, p.flags.clone(), 1, u64::from(p.len))),
            }
        }
        for (side, flags, n, bytes) in groups {
            let what = if bytes > 0 {
                format!("({flags}, {bytes} bytes)")
            } else {
                format!("({flags})")
            };
            let s = if n == 1 { "" } else { "s" };
            out.push(line(
                middle[0].at_ms,
                format!("… {n} more segment{s} {side} {what}"),
            ));
        }
        for p in &folded[run - FOLD_TAIL..] {
            out.push(line(p.at_ms, describe(p, eps)));
        }
        i += run;
    }
}

/// Where a packet was seen and which way it went: `a →` (sent by host a), `b ←` (received
/// by b); on loopback the two sockets (`client:s → server:c`, or ports).
fn side(p: &Packet, eps: &[Endpoint]) -> String {
    match p.way {
        Some(Way::Out) => format!("{} →", p.point),
        Some(Way::In) => format!("{} ←", p.point),
        None if p.proto == "tcp" => format!(
            "{} → {}",
            side_name(&p.src, &p.dst, eps),
            side_name(&p.dst, &p.src, eps)
        ),
        None => format!("{} → {}", p.src, p.dst),
    }
}

/// One packet, as tcpdump would put it, shorter: `SYN seq 0 win 64240`,
/// `PSH|ACK seq 1:1449 ack 1 len 1448`, with a retransmission and the wire's note marked.
pub fn describe(p: &Packet, eps: &[Endpoint]) -> String {
    let mut s = side(p, eps);
    if p.proto != "tcp" {
        s.push_str(&format!(" ICMP {}", p.flags));
    } else {
        s.push(' ');
        s.push_str(&p.flags);
        if let Some(seq) = p.seq {
            s.push_str(&format!(" seq {seq}"));
            if p.len > 0 {
                s.push_str(&format!(":{}", seq.wrapping_add(p.len)));
            }
        }
        if let Some(ack) = p.ack {
            s.push_str(&format!(" ack {ack}"));
        }
        let syn_only = p.flags == "SYN";
        if let Some(w) = p.win.filter(|w| syn_only || *w == 0) {
            s.push_str(&format!(" win {w}"));
        }
        if p.len > 0 {
            s.push_str(&format!(" len {}", p.len));
        }
        if p.retransmission {
            s.push_str(" (retransmission)");
        }
    }
    if let Some(n) = &p.wire {
        s.push_str(&format!("  [wire: {n}]"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(at_ms: f64, way: Option<Way>, flags: &str, seq: u32, len: u32) -> Packet {
        Packet {
            at_ms,
            point: if way.is_some() { "a" } else { "lo" }.to_owned(),
            way,
            src: "127.0.0.1:40312".to_owned(),
            dst: "127.0.0.1:5000".to_owned(),
            proto: "tcp".to_owned(),
            flags: flags.to_owned(),
            seq: Some(seq),
            ack: flags.contains("ACK").then_some(1),
            win: Some(64240),
            len,
            retransmission: false,
            wire: None,
            raw_seq: 0,
            raw_ack: 0,
            ts_ns: 0,
            frame: Vec::new(),
            orig_len: 0,
        }
    }

    fn client_and_server() -> Vec<Endpoint> {
        vec![
            Endpoint {
                actor: "client".into(),
                sock: "s".into(),
                local: "127.0.0.1:40312".into(),
                peer: Some("127.0.0.1:5000".into()),
            },
            Endpoint {
                actor: "server".into(),
                sock: "l".into(),
                local: "127.0.0.1:5000".into(),
                peer: None,
            },
        ]
    }

    #[test]
    fn a_packet_reads_like_tcpdump_with_its_direction() {
        let mut p = seg(1.0, Some(Way::Out), "SYN", 0, 0);
        assert_eq!(describe(&p, &[]), "a → SYN seq 0 win 64240");
        p = seg(1.0, Some(Way::In), "PSH|ACK", 1, 1448);
        p.wire = Some("dropped: loss #2".into());
        p.retransmission = true;
        assert_eq!(
            describe(&p, &[]),
            "a ← PSH|ACK seq 1:1449 ack 1 len 1448 (retransmission)  [wire: dropped: loss #2]"
        );
        p = seg(1.0, None, "RST", 1, 0);
        assert_eq!(describe(&p, &[]), "40312 → 5000 RST seq 1");
        assert_eq!(
            describe(&p, &client_and_server()),
            "client:s → server:l RST seq 1"
        );
    }

    #[test]
    fn packets_go_after_the_call_that_started_before_them() {
        let calls = vec![(1.0, "CALL 1".to_owned()), (5.0, "CALL 2".to_owned())];
        let p = [
            seg(0.5, None, "SYN", 0, 0),
            seg(1.0, None, "SYN|ACK", 0, 0),
            seg(6.0, None, "FIN|ACK", 1, 0),
        ];
        let lines = interleave(calls, &p, &[], 5, 5);
        let starts: Vec<&str> = lines
            .iter()
            .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
            .collect();
        assert_eq!(starts, ["40312", "1", "40312", "2", "40312"]);
        assert!(lines[0].starts_with("  0.500        40312 → 5000 SYN"));
    }

    #[test]
    fn a_long_transfer_folds_into_a_few_lines() {
        // 20 000 data segments each answered by an ACK between two calls.
        let mut p = vec![seg(0.1, None, "SYN", 0, 0)];
        for i in 0..20_000u32 {
            let mut d = seg(
                1.0 + f64::from(i) * 0.01,
                None,
                "PSH|ACK",
                1 + i * 1448,
                1448,
            );
            let mut a = d.clone();
            a.src = d.dst.clone();
            a.dst = std::mem::take(&mut d.src);
            d.src = a.dst.clone();
            a.flags = "ACK".into();
            a.len = 0;
            p.push(d);
            p.push(a);
        }
        let calls = vec![(0.0, "connect".to_owned()), (500.0, "close".to_owned())];
        let lines = interleave(calls, &p, &client_and_server(), 7, 5);
        assert!(lines.len() <= 10, "{lines:#?}");
        let data = lines
            .iter()
            .find(|l| l.contains("more segments client:s → server:l"))
            .expect("the data folded");
        // The first data segment and its ACK are shown, then the fold, then the last ACK.
        assert!(
            data.contains(&format!(
                "… 19999 more segments client:s → server:l (PSH|ACK, {} bytes)",
                19_999 * 1448
            )),
            "{data}"
        );
        assert!(lines
            .iter()
            .any(|l| l.contains("… 19998 more segments server:l → client:s (ACK)")));
    }
}
