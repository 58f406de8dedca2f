//! The wire's fault pipeline on synthetic frames: each fault kind, the RSTs a reset
//! injects, and the seed's determinism. No sockets and no sleeps: the pipeline takes the
//! time as input, so every test passes its own instants.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use proptest::prelude::*;

use tcplab::scenario::wire::{Dir, Fault, Host, WireChange, WireSpec};
use tcplab::wire::{parse, LogEntry, Output, Pipeline};

const A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const A_IP: [u8; 4] = [10, 89, 0, 1];
const B_IP: [u8; 4] = [10, 89, 0, 2];
const A_PORT: u16 = 40312;
const B_PORT: u16 = 5001;
const SEED: u64 = 0x7c91_2b03;

// ---- frames --------------------------------------------------------------------------

/// A TCP segment in `dir` with the flags named in `flags` (`"SYN"`, `"SYN|ACK"`, `"PSH"`,
/// ...), `ack` set when given, and `len` bytes of payload.
fn seg(dir: Dir, flags: &str, seq: u32, ack: Option<u32>, len: usize) -> Vec<u8> {
    let (smac, dmac, sip, dip, sp, dp) = match dir {
        Dir::AtoB => (A_MAC, B_MAC, A_IP, B_IP, A_PORT, B_PORT),
        Dir::BtoA => (B_MAC, A_MAC, B_IP, A_IP, B_PORT, A_PORT),
    };
    let mut b = PacketBuilder::ethernet2(smac, dmac)
        .ipv4(sip, dip, 64)
        .tcp(sp, dp, seq, 64240);
    for f in flags.split('|').filter(|f| !f.is_empty()) {
        b = match f {
            "SYN" => b.syn(),
            "FIN" => b.fin(),
            "PSH" => b.psh(),
            "RST" => b.rst(),
            other => panic!("no flag {other} in this helper"),
        };
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let mut out = Vec::new();
    b.write(&mut out, &payload).expect("a frame");
    out
}

/// A data segment from A: `len` payload bytes at `seq`, acknowledging 1.
fn data(seq: u32, len: usize) -> Vec<u8> {
    seg(Dir::AtoB, "PSH", seq, Some(1), len)
}

/// A pure ACK from A.
fn pure_ack(ack: u32) -> Vec<u8> {
    seg(Dir::AtoB, "", 1, Some(ack), 0)
}

/// An ARP request from A for B's address (Ethernet II, type 0x0806), built by hand.
fn arp_request() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&A_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&A_MAC);
    f.extend_from_slice(&A_IP);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&B_IP);
    f
}

// ---- pipelines -----------------------------------------------------------------------

/// A pipeline with `fault` on a>b and nothing on b>a.
fn faulty(fault: Fault) -> Pipeline {
    let spec = WireSpec {
        a_to_b: fault,
        ..WireSpec::default()
    };
    Pipeline::new(&spec, SEED)
}

fn ms(n: f64) -> Duration {
    Duration::from_secs_f64(n / 1000.0)
}

/// Offers each frame a>b at `t`, then takes what is due at `t`: the frames that passed at
/// once, and every log entry.
fn pass_now(p: &mut Pipeline, frames: &[Vec<u8>], t: Instant) -> (Vec<Vec<u8>>, Vec<LogEntry>) {
    let mut log = Vec::new();
    for f in frames {
        log.extend(p.offer(Dir::AtoB, f, t));
    }
    let out = p.take_due(t).into_iter().map(|(_, f)| f).collect();
    (out, log)
}

fn actions(log: &[LogEntry]) -> Vec<&str> {
    log.iter().map(|e| e.action.as_str()).collect()
}

/// A frame out of the pipeline, with the time it came out.
type Passed = (Instant, Dir, Vec<u8>);

/// Drains the pipeline by its own deadlines: each frame with the time it came out.
fn drain(p: &mut Pipeline) -> Vec<Passed> {
    let mut out = Vec::new();
    while let Some(at) = p.next_due() {
        for (d, f) in p.take_due(at) {
            out.push((at, d, f));
        }
    }
    out
}

// ---- no fault and non-TCP frames ------------------------------------------------------

#[test]
fn with_no_fault_every_frame_passes_at_once() {
    let mut p = faulty(Fault::default());
    let t = Instant::now();
    let frames = vec![
        arp_request(),
        seg(Dir::AtoB, "SYN", 0, None, 0),
        data(1, 1448),
    ];
    let (out, log) = pass_now(&mut p, &frames, t);
    assert_eq!(out, frames);
    assert!(log.is_empty());
    assert_eq!(p.next_due(), None);
    let c = p.counts(Dir::AtoB);
    assert_eq!((c.frames_in, c.frames_out, c.dropped), (3, 3, 0));
}

#[test]
fn a_frame_that_does_not_parse_passes_unchanged() {
    let mut p = faulty(Fault {
        drop_data: vec![1],
        ..Fault::default()
    });
    let junk = vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3];
    let (out, log) = pass_now(&mut p, std::slice::from_ref(&junk), Instant::now());
    assert_eq!(out, vec![junk]);
    assert!(log.is_empty());
}

#[test]
fn flags_are_named_in_the_records_order() {
    let t = parse(&seg(Dir::BtoA, "SYN", 9, Some(1), 0))
        .tcp
        .expect("tcp");
    assert_eq!(t.flags_text(), "SYN|ACK");
    let t = parse(&seg(Dir::AtoB, "FIN|PSH", 9, Some(1), 3))
        .tcp
        .expect("tcp");
    assert_eq!(t.flags_text(), "FIN|PSH|ACK");
    assert_eq!(t.payload_len, 3);
    assert!(parse(&arp_request()).tcp.is_none());
}

// ---- targeted drops -------------------------------------------------------------------

#[test]
fn drop_syn_drops_the_first_syns_only() {
    let mut p = faulty(Fault {
        drop_syn: Some(2),
        ..Fault::default()
    });
    let syn = seg(Dir::AtoB, "SYN", 0, None, 0);
    let (out, log) = pass_now(
        &mut p,
        &[syn.clone(), syn.clone(), syn.clone()],
        Instant::now(),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(actions(&log), ["dropped: SYN #1", "dropped: SYN #2"]);
    assert_eq!(log[0].flags, "SYN");
    assert_eq!(p.counts(Dir::AtoB).dropped, 2);
}

#[test]
fn drop_synack_drops_the_first_synack_and_not_the_syn() {
    let spec = WireSpec {
        b_to_a: Fault {
            drop_synack: Some(1),
            ..Fault::default()
        },
        ..WireSpec::default()
    };
    let mut p = Pipeline::new(&spec, SEED);
    let t = Instant::now();
    assert!(p
        .offer(Dir::AtoB, &seg(Dir::AtoB, "SYN", 0, None, 0), t)
        .is_empty());
    let synack = seg(Dir::BtoA, "SYN", 100, Some(1), 0);
    let log = p.offer(Dir::BtoA, &synack, t);
    assert_eq!(actions(&log), ["dropped: SYN-ACK #1"]);
    assert_eq!(log[0].flags, "SYN|ACK");
    assert_eq!((log[0].raw_seq, log[0].raw_ack), (100, 1));
    assert!(
        p.offer(Dir::BtoA, &synack, t).is_empty(),
        "the second SYN-ACK passes"
    );
    assert_eq!(p.take_due(t).len(), 2);
}

#[test]
fn drop_fin_drops_that_many_fins() {
    let mut p = faulty(Fault {
        drop_fin: Some(1),
        ..Fault::default()
    });
    let fin = seg(Dir::AtoB, "FIN", 1, Some(1), 0);
    let (out, log) = pass_now(
        &mut p,
        &[pure_ack(1), fin.clone(), fin.clone()],
        Instant::now(),
    );
    assert_eq!(out, vec![pure_ack(1), fin]);
    assert_eq!(actions(&log), ["dropped: FIN #1"]);
}

#[test]
fn drop_data_counts_every_payload_segment_retransmissions_included() {
    let mut p = faulty(Fault {
        drop_data: vec![2, 3],
        ..Fault::default()
    });
    // Segment 3 retransmits segment 2: it is counted (and dropped) as the 3rd.
    let frames = [
        data(1, 100),
        pure_ack(1),
        data(101, 100),
        data(101, 100),
        data(201, 100),
    ];
    let (out, log) = pass_now(&mut p, &frames, Instant::now());
    assert_eq!(out, vec![data(1, 100), pure_ack(1), data(201, 100)]);
    assert_eq!(
        actions(&log),
        ["dropped: data segment #2", "dropped: data segment #3"]
    );
    assert_eq!((log[0].raw_seq, log[0].len), (101, 100));
}

#[test]
fn stop_after_passes_that_many_payload_bytes_then_drops_payload_only() {
    let mut p = faulty(Fault {
        stop_after: Some(1000),
        ..Fault::default()
    });
    let frames = [
        data(1, 600),
        data(601, 600),
        data(1201, 600),
        pure_ack(1),
        data(1201, 1),
    ];
    let (out, log) = pass_now(&mut p, &frames, Instant::now());
    // 600 then 1200 bytes passed: the limit is reached after the second segment.
    assert_eq!(out, vec![data(1, 600), data(601, 600), pure_ack(1)]);
    assert_eq!(
        actions(&log),
        [
            "dropped: stop after 1000 bytes",
            "dropped: stop after 1000 bytes"
        ]
    );
}

#[test]
fn a_targeted_drop_set_mid_run_counts_from_then() {
    let mut p = faulty(Fault::default());
    let t = Instant::now();
    pass_now(&mut p, &[data(1, 10), data(11, 10)], t);
    let set = WireChange::Set {
        dir: Dir::AtoB,
        fault: Fault {
            drop_data: vec![1],
            ..Fault::default()
        },
    };
    assert!(p.apply(&set, t).is_empty());
    let (out, log) = pass_now(&mut p, &[data(21, 10), data(31, 10)], t);
    assert_eq!(out, vec![data(31, 10)]);
    assert_eq!(actions(&log), ["dropped: data segment #1"]);
}

// ---- blackhole, loss, duplicate ---------------------------------------------------------

#[test]
fn a_blackhole_drops_everything_arp_included_until_cleared() {
    let mut p = faulty(Fault::blackhole());
    let t = Instant::now();
    let (out, log) = pass_now(&mut p, &[arp_request(), data(1, 10)], t);
    assert!(out.is_empty());
    assert_eq!(actions(&log), ["dropped: blackhole", "dropped: blackhole"]);
    assert_eq!(log[0].flags, "", "ARP has no TCP flags");
    let clear = WireChange::Clear {
        dir: Dir::AtoB,
        fields: vec!["blackhole".to_owned()],
    };
    p.apply(&clear, t);
    let (out, log) = pass_now(&mut p, &[arp_request(), data(1, 10)], t);
    assert_eq!(out.len(), 2);
    assert!(log.is_empty());
    assert!(p.fault(Dir::AtoB).is_clear());
}

#[test]
fn a_blackhole_on_one_direction_leaves_the_other_alone() {
    let mut p = faulty(Fault::blackhole());
    let t = Instant::now();
    assert!(p
        .offer(Dir::BtoA, &seg(Dir::BtoA, "", 1, Some(1), 0), t)
        .is_empty());
    assert_eq!(p.take_due(t).len(), 1);
}

#[test]
fn loss_drops_about_its_share_and_numbers_the_drops() {
    let mut p = faulty(Fault {
        loss: Some(10.0),
        ..Fault::default()
    });
    let frames: Vec<Vec<u8>> = (0..2000).map(|i| data(1 + i * 10, 10)).collect();
    let (out, log) = pass_now(&mut p, &frames, Instant::now());
    assert_eq!(out.len() + log.len(), 2000);
    assert!(
        (120..=280).contains(&log.len()),
        "{} of 2000 lost at 10%",
        log.len()
    );
    for (i, e) in log.iter().enumerate() {
        assert_eq!(e.action, format!("dropped: loss #{}", i + 1));
    }
}

#[test]
fn loss_burst_drops_consecutive_frames_per_loss_event() {
    let mut p = faulty(Fault {
        loss: Some(5.0),
        loss_burst: Some(3),
        ..Fault::default()
    });
    let t = Instant::now();
    let lost: Vec<bool> = (0..3000)
        .map(|i| !p.offer(Dir::AtoB, &data(1 + i * 10, 10), t).is_empty())
        .collect();
    // Every run of lost frames is made of whole bursts (the last may be cut by the end).
    let mut runs = Vec::new();
    let mut run = 0;
    for &l in &lost {
        if l {
            run += 1;
        } else if run > 0 {
            runs.push(run);
            run = 0;
        }
    }
    assert!(runs.len() > 10, "{} bursts", runs.len());
    assert!(runs.iter().all(|r| r % 3 == 0), "runs {runs:?}");
}

#[test]
fn duplicate_sends_tcp_twice_and_other_frames_once() {
    let mut p = faulty(Fault {
        duplicate: Some(100.0),
        ..Fault::default()
    });
    let (out, log) = pass_now(&mut p, &[data(1, 10), arp_request()], Instant::now());
    assert_eq!(out, vec![data(1, 10), data(1, 10), arp_request()]);
    assert_eq!(actions(&log), ["duplicated"]);
    let c = p.counts(Dir::AtoB);
    assert_eq!((c.frames_in, c.frames_out, c.duplicated), (2, 3, 1));
}

// ---- delay, jitter, rate ----------------------------------------------------------------

#[test]
fn delay_holds_every_frame_for_its_time_in_order() {
    let mut p = faulty(Fault {
        delay: Some(ms(10.0)),
        ..Fault::default()
    });
    let t = Instant::now();
    p.offer(Dir::AtoB, &data(1, 10), t);
    p.offer(Dir::AtoB, &data(11, 10), t + ms(1.0));
    assert_eq!(p.next_due(), Some(t + ms(10.0)));
    assert!(p.take_due(t + ms(9.999)).is_empty());
    let out = drain(&mut p);
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].0, &out[0].2), (t + ms(10.0), &data(1, 10)));
    assert_eq!((out[1].0, &out[1].2), (t + ms(11.0), &data(11, 10)));
}

#[test]
fn frames_still_delayed_when_the_run_ends_are_logged_and_counted_as_dropped() {
    let mut p = faulty(Fault {
        delay: Some(ms(10.0)),
        ..Fault::default()
    });
    let t = Instant::now();
    p.offer(Dir::AtoB, &data(1, 10), t);
    p.offer(Dir::AtoB, &data(11, 10), t + ms(1.0));
    let log = p.abandon(t + ms(2.0));
    assert_eq!(
        actions(&log),
        vec!["dropped: on the wire when the run ended"; 2]
    );
    assert_eq!((log[0].raw_seq, log[1].raw_seq), (1, 11));
    assert_eq!(p.counts(Dir::AtoB).dropped, 2);
    assert_eq!(p.next_due(), None);
}

#[test]
fn jitter_stays_within_its_bound_and_reorders_with_a_fixed_seed() {
    let mut p = faulty(Fault {
        delay: Some(ms(10.0)),
        jitter: Some(ms(5.0)),
        ..Fault::default()
    });
    let t = Instant::now();
    let sent: Vec<(Instant, Vec<u8>)> = (0..200u32)
        .map(|i| (t + ms(f64::from(i) * 0.1), data(1 + i * 10, 10)))
        .collect();
    for (at, f) in &sent {
        p.offer(Dir::AtoB, f, *at);
    }
    let out = drain(&mut p);
    assert_eq!(out.len(), sent.len());
    let mut inversions = 0;
    for w in out.windows(2) {
        let seq = |f: &[u8]| parse(f).tcp.expect("tcp").seq;
        if seq(&w[1].2) < seq(&w[0].2) {
            inversions += 1;
        }
    }
    for (at, _, f) in &out {
        let (offered, _) = sent.iter().find(|(_, s)| s == f).expect("a frame sent");
        let held = *at - *offered;
        assert!(held >= ms(10.0) && held <= ms(15.0), "held {held:?}");
    }
    assert!(
        inversions > 0,
        "0.1 ms apart with 5 ms of jitter: some must overtake"
    );
}

#[test]
fn rate_paces_frames_at_their_serialization_time() {
    // 8 Mbit/s: a 1000-byte frame takes 1 ms.
    let mut p = faulty(Fault {
        rate: Some(8_000_000),
        ..Fault::default()
    });
    let t = Instant::now();
    let frame = data(1, 1000 - 54);
    assert_eq!(frame.len(), 1000);
    for _ in 0..4 {
        assert!(p.offer(Dir::AtoB, &frame, t).is_empty());
    }
    let times: Vec<Instant> = drain(&mut p).into_iter().map(|(at, _, _)| at).collect();
    assert_eq!(
        times,
        (1..=4).map(|i| t + ms(f64::from(i))).collect::<Vec<_>>()
    );
    // The link is idle again: a frame at 10 ms leaves at 11 ms.
    p.offer(Dir::AtoB, &frame, t + ms(10.0));
    assert_eq!(p.next_due(), Some(t + ms(11.0)));
}

#[test]
fn a_full_queue_drops_arrivals() {
    let mut p = faulty(Fault {
        rate: Some(8_000_000),
        queue: Some(2),
        ..Fault::default()
    });
    let t = Instant::now();
    let frame = data(1, 1000 - 54);
    // One in transmission, two waiting, then the queue is full.
    let log: Vec<LogEntry> = (0..5).flat_map(|_| p.offer(Dir::AtoB, &frame, t)).collect();
    assert_eq!(
        actions(&log),
        ["dropped: queue full", "dropped: queue full"]
    );
    // Once the first has left, there is room for one more.
    assert!(p.offer(Dir::AtoB, &frame, t + ms(1.0)).is_empty());
    assert_eq!(drain(&mut p).len(), 4);
}

// ---- reset injection ----------------------------------------------------------------------

/// A connection that has moved 100 bytes from A: B's last ACK is 1101, A's is 5001.
fn established(p: &mut Pipeline, t: Instant) {
    p.offer(Dir::AtoB, &seg(Dir::AtoB, "SYN", 1000, None, 0), t);
    p.offer(Dir::BtoA, &seg(Dir::BtoA, "SYN", 5000, Some(1001), 0), t);
    p.offer(Dir::AtoB, &seg(Dir::AtoB, "", 1001, Some(5001), 0), t);
    p.offer(Dir::AtoB, &seg(Dir::AtoB, "PSH", 1001, Some(5001), 100), t);
    p.offer(Dir::BtoA, &seg(Dir::BtoA, "", 5001, Some(1101), 0), t);
    p.take_due(t);
}

/// The one RST a reset sent, checked for valid IPv4 and TCP checksums; its addresses,
/// MACs and sequence number.
fn the_rst(out: &[Output]) -> ([u8; 6], [u8; 6], Ipv4Addr, u16, Ipv4Addr, u16, u32) {
    let frames: Vec<&Vec<u8>> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send { frame, .. } => Some(frame),
            Output::Log(_) => None,
        })
        .collect();
    assert_eq!(frames.len(), 1, "{out:?}");
    let p = SlicedPacket::from_ethernet(frames[0]).expect("the RST parses");
    let Some(etherparse::LinkSlice::Ethernet2(eth)) = &p.link else {
        panic!("no Ethernet")
    };
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        panic!("no IPv4")
    };
    let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
        panic!("no TCP")
    };
    let h = ip.header();
    assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
    let (s, d) = (h.source_addr(), h.destination_addr());
    assert_eq!(
        tcp.checksum(),
        tcp.calc_checksum_ipv4(s.octets(), d.octets()).unwrap()
    );
    assert!(tcp.rst() && !tcp.ack() && !tcp.syn() && !tcp.fin());
    assert!(tcp.payload().is_empty());
    let (sp, dp) = (tcp.source_port(), tcp.destination_port());
    (
        eth.source(),
        eth.destination(),
        s,
        sp,
        d,
        dp,
        tcp.sequence_number(),
    )
}

#[test]
fn a_reset_toward_b_comes_from_a_with_bs_last_ack() {
    let mut p = faulty(Fault::default());
    let t = Instant::now();
    established(&mut p, t);
    let out = p.apply(&WireChange::Reset { toward: Host::B }, t);
    let (smac, dmac, s, sp, d, dp, seq) = the_rst(&out);
    assert_eq!((smac, dmac), (A_MAC, B_MAC));
    assert_eq!((s, sp, d, dp), (A_IP.into(), A_PORT, B_IP.into(), B_PORT));
    assert_eq!(seq, 1101);
    assert!(matches!(&out[0], Output::Log(e) if e.action == "injected RST" && e.dir == Dir::AtoB));
    assert!(matches!(&out[1], Output::Send { dir: Dir::AtoB, .. }));
    assert_eq!(p.counts(Dir::AtoB).injected, 1);
}

#[test]
fn a_reset_toward_a_comes_from_b_with_as_last_ack() {
    let mut p = faulty(Fault::default());
    let t = Instant::now();
    established(&mut p, t);
    let out = p.apply(&WireChange::Reset { toward: Host::A }, t);
    let (smac, dmac, s, sp, d, dp, seq) = the_rst(&out);
    assert_eq!((smac, dmac), (B_MAC, A_MAC));
    assert_eq!((s, sp, d, dp), (B_IP.into(), B_PORT, A_IP.into(), A_PORT));
    assert_eq!(seq, 5001);
}

#[test]
fn a_connection_ended_by_a_rst_gets_no_reset() {
    let mut p = faulty(Fault::default());
    let t = Instant::now();
    established(&mut p, t);
    p.offer(Dir::AtoB, &seg(Dir::AtoB, "RST", 1101, None, 0), t);
    assert!(p
        .apply(&WireChange::Reset { toward: Host::B }, t)
        .is_empty());
}

// ---- the seed ------------------------------------------------------------------------------

/// What a pipeline with loss, duplication and jitter does to 500 frames.
fn run_with(seed: u64) -> (Vec<Passed>, Vec<LogEntry>) {
    let fault = Fault {
        loss: Some(5.0),
        duplicate: Some(5.0),
        delay: Some(ms(2.0)),
        jitter: Some(ms(3.0)),
        ..Fault::default()
    };
    let spec = WireSpec {
        a_to_b: fault.clone(),
        b_to_a: fault,
        seed: None,
    };
    let mut p = Pipeline::new(&spec, seed);
    let t = Instant::now();
    let mut log = Vec::new();
    for i in 0..500u32 {
        let at = t + ms(f64::from(i) * 0.05);
        let entries = if i % 2 == 0 {
            p.offer(Dir::AtoB, &data(1 + i * 10, 10), at)
        } else {
            p.offer(Dir::BtoA, &seg(Dir::BtoA, "", 1, Some(i), 0), at)
        };
        log.extend(entries);
    }
    (drain(&mut p), log)
}

#[test]
fn the_same_seed_and_frames_give_the_same_wire() {
    let (out1, log1) = run_with(SEED);
    let (out2, log2) = run_with(SEED);
    let (out3, log3) = run_with(SEED + 1);
    // Instants differ between runs (each takes its own now): compare times relative to
    // the first frame out, and everything else exactly.
    let shape = |o: &[Passed]| -> Vec<(Duration, Dir, Vec<u8>)> {
        o.iter()
            .map(|(at, d, f)| (*at - o[0].0, *d, f.clone()))
            .collect()
    };
    let acts = |l: &[LogEntry]| -> Vec<(Dir, String, u32)> {
        l.iter()
            .map(|e| (e.dir, e.action.clone(), e.raw_seq))
            .collect()
    };
    assert_eq!(shape(&out1), shape(&out2));
    assert_eq!(acts(&log1), acts(&log2));
    assert!(!log1.is_empty());
    assert!(shape(&out1) != shape(&out3) || acts(&log1) != acts(&log3));
}

// ---- properties ------------------------------------------------------------------------------

/// Frames of sizes 0..1448 payload, in either direction, offered `gap_us` apart.
fn frames_strategy() -> impl Strategy<Value = Vec<(bool, u16, u32)>> {
    prop::collection::vec((any::<bool>(), 0u16..1448, 0u32..2000), 1..60)
}

fn build(i: usize, b_to_a: bool, len: u16) -> (Dir, Vec<u8>) {
    let dir = if b_to_a { Dir::BtoA } else { Dir::AtoB };
    (dir, seg(dir, "", i as u32, Some(7), usize::from(len)))
}

proptest! {
    #[test]
    fn with_no_fault_frames_pass_unchanged_and_in_order(frames in frames_strategy()) {
        let mut p = Pipeline::new(&WireSpec::default(), SEED);
        let t = Instant::now();
        let mut at = t;
        for (i, (b, len, gap)) in frames.iter().enumerate() {
            at += Duration::from_micros(u64::from(*gap));
            let (dir, f) = build(i, *b, *len);
            prop_assert!(p.offer(dir, &f, at).is_empty());
            prop_assert_eq!(p.take_due(at), vec![(dir, f)]);
        }
        prop_assert_eq!(p.next_due(), None);
    }

    #[test]
    fn with_only_delay_frames_come_out_in_order_at_offer_time_plus_delay(
        frames in frames_strategy(),
        delay_us in 1u64..50_000,
    ) {
        let delay = Duration::from_micros(delay_us);
        let fault = Fault { delay: Some(delay), ..Fault::default() };
        let spec = WireSpec { a_to_b: fault.clone(), b_to_a: fault, seed: None };
        let mut p = Pipeline::new(&spec, SEED);
        let t = Instant::now();
        let mut at = t;
        let mut expected = Vec::new();
        for (i, (b, len, gap)) in frames.iter().enumerate() {
            at += Duration::from_micros(u64::from(*gap));
            let (dir, f) = build(i, *b, *len);
            p.offer(dir, &f, at);
            expected.push((at + delay, dir, f));
        }
        prop_assert_eq!(drain(&mut p), expected);
    }
}
