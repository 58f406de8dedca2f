use super::*;

const A: &str = "10.89.0.1:40000";
const B: &str = "10.89.0.2:5000";

/// A segment seen at `point`, from A to B when `from_a`.
fn seg(point: &str, way: Option<Way>, at_ms: f64, from_a: bool, flags: &str) -> Packet {
    let (src, dst) = if from_a { (A, B) } else { (B, A) };
    Packet {
        at_ms,
        point: point.to_owned(),
        way,
        src: src.to_owned(),
        dst: dst.to_owned(),
        proto: "tcp".to_owned(),
        flags: flags.to_owned(),
        seq: Some(0),
        ack: None,
        win: Some(1000),
        len: 0,
        retransmission: false,
        wire: None,
        raw_seq: 0,
        raw_ack: 0,
        ts_ns: 0,
        frame: Vec::new(),
        orig_len: 0,
    }
}

fn with(mut p: Packet, raw_seq: u32, len: u32, win: u16) -> Packet {
    p.raw_seq = raw_seq;
    p.len = len;
    p.win = Some(win);
    p
}

fn count(key: &str, packets: &[Packet]) -> u64 {
    match Figure::parse(key).unwrap().compute(packets, &[]) {
        Some(FigureValue::Count(n)) => n,
        other => panic!("{key}: {other:?}"),
    }
}

/// A handshake seen at both hosts: A sends SYN, B answers SYN|ACK, A acks.
fn handshake_on_the_wire() -> Vec<Packet> {
    let (out, inn) = (Some(Way::Out), Some(Way::In));
    vec![
        seg("a", out, 0.0, true, "SYN"),
        seg("b", inn, 0.1, true, "SYN"),
        seg("b", out, 0.2, false, "SYN|ACK"),
        seg("a", inn, 0.3, false, "SYN|ACK"),
        seg("a", out, 0.4, true, "ACK"),
        seg("b", inn, 0.5, true, "ACK"),
    ]
}

// ---- keys ----

#[test]
fn keys_read_back_in_their_canonical_spelling() {
    for (key, canonical) in [
        ("packets(a,out,ACK|SYN)", "packets(a, out, SYN|ACK)"),
        ("packets(lo, any, *)", "packets(lo, any, *)"),
        ("retransmissions(b, in)", "retransmissions(b, in)"),
        ("segments(lo,any)", "segments(lo, any)"),
        ("largest_segment( a , out )", "largest_segment(a, out)"),
        ("segments(lo, client:s1)", "segments(lo, client:s1)"),
        (
            "packets(lo,server:c,SYN|ACK)",
            "packets(lo, server:c, SYN|ACK)",
        ),
        ("syn_gaps(a)", "syn_gaps(a)"),
        (" first_rst ", "first_rst"),
    ] {
        assert_eq!(Figure::parse(key).unwrap().to_string(), canonical);
    }
}

#[test]
fn a_wrong_key_names_what_is_wrong() {
    assert_eq!(
        Figure::parse("packets(c, out, SYN)"),
        Err(FigureError::Point("c".into()))
    );
    assert_eq!(
        Figure::parse("packets(a, up, SYN)"),
        Err(FigureError::Way("up".into()))
    );
    assert_eq!(
        Figure::parse("packets(a, out, SYNACK)"),
        Err(FigureError::Flag("SYNACK".into()))
    );
    assert_eq!(
        Figure::parse("bytes(a)"),
        Err(FigureError::Arguments("bytes".into(), 2))
    );
    assert_eq!(
        Figure::parse("segments(a)"),
        Err(FigureError::Arguments("segments".into(), 2))
    );
    assert_eq!(
        Figure::parse("largest_segment(lo, sideways)"),
        Err(FigureError::Way("sideways".into()))
    );
    assert_eq!(
        Figure::parse("bytes(lo, client:)"),
        Err(FigureError::Way("client:".into()))
    );
    assert_eq!(
        Figure::parse("segment_sizes(a, out)"),
        Err(FigureError::Unknown("segment_sizes".into()))
    );
    // A figure's name without its arguments is told what it takes.
    assert_eq!(
        Figure::parse("segments"),
        Err(FigureError::Arguments("segments".into(), 2))
    );
    assert_eq!(
        Figure::parse("first_rst()"),
        Err(FigureError::Arguments("first_rst".into(), 0))
    );
}

#[test]
fn an_unknown_figure_suggests_the_closest_and_lists_them_all() {
    let m = Figure::parse("segment(lo, any)").unwrap_err().to_string();
    assert!(
        m.starts_with("unknown packet figure `segment` (did you mean segments?)"),
        "{m}"
    );
    assert!(m.contains("largest_segment(POINT, WAY)"), "{m}");
    assert!(m.contains("packets(POINT, WAY, FLAGS)"), "{m}");
    assert!(m.ends_with("first_rst"), "{m}");
    let m = Figure::parse("largest_segments(lo, any)")
        .unwrap_err()
        .to_string();
    assert!(m.contains("(did you mean largest_segment?)"), "{m}");
    let m = Figure::parse("bytes(lo)").unwrap_err().to_string();
    assert_eq!(
        m,
        "packet figure `bytes` wants 2 argument(s): bytes(POINT, WAY)"
    );
}

// ---- counts ----

#[test]
fn packets_are_counted_by_point_way_and_exact_flags() {
    let p = handshake_on_the_wire();
    assert_eq!(count("packets(a, out, SYN)", &p), 1);
    assert_eq!(count("packets(a, in, SYN)", &p), 0);
    assert_eq!(count("packets(a, in, ACK|SYN)", &p), 1);
    assert_eq!(count("packets(b, any, *)", &p), 3);
    assert_eq!(count("packets(b, any, ACK)", &p), 1);
    assert_eq!(count("packets(a, any, icmp)", &p), 0);
}

#[test]
fn bytes_leave_retransmissions_out_and_retransmissions_count_them() {
    let mut p = vec![
        with(seg("lo", None, 1.0, true, "PSH|ACK"), 1, 100, 1000),
        with(seg("lo", None, 2.0, true, "PSH|ACK"), 1, 100, 1000),
        with(seg("lo", None, 3.0, true, "PSH|ACK"), 101, 50, 1000),
    ];
    p[1].retransmission = true;
    assert_eq!(count("bytes(lo, any)", &p), 150);
    assert_eq!(count("retransmissions(lo, any)", &p), 1);
    assert_eq!(count("retransmissions(lo, out)", &p), 0);
}

#[test]
fn bytes_count_a_first_segment_seen_only_when_resent_after_later_ones() {
    // The first segment (seq 1) was dropped before the point saw it and came again last.
    let p = vec![
        with(seg("lo", None, 1.0, true, "PSH|ACK"), 101, 100, 1000),
        with(seg("lo", None, 2.0, true, "PSH|ACK"), 201, 100, 1000),
        with(seg("lo", None, 3.0, true, "PSH|ACK"), 1, 100, 1000),
    ];
    assert_eq!(count("bytes(lo, any)", &p), 300);
}

#[test]
fn segments_count_payload_segments_once_as_bytes_counts_their_bytes() {
    let mut p = vec![
        // The handshake's segments and a pure ACK carry no payload.
        seg("lo", None, 0.0, true, "SYN"),
        seg("lo", None, 0.1, false, "SYN|ACK"),
        seg("lo", None, 0.2, true, "ACK"),
        // 65536 bytes as one full loopback segment and the 53 bytes left over.
        with(seg("lo", None, 1.0, true, "ACK"), 1, 65483, 1000),
        with(seg("lo", None, 1.1, true, "PSH|ACK"), 65484, 53, 1000),
        with(seg("lo", None, 1.2, false, "ACK"), 1, 0, 1000),
        // The one-byte reply the other way.
        with(seg("lo", None, 1.3, false, "PSH|ACK"), 1, 1, 1000),
        // The tail again: a retransmission adds nothing.
        with(seg("lo", None, 1.4, true, "PSH|ACK"), 65484, 53, 1000),
    ];
    p[7].retransmission = true;
    assert_eq!(count("segments(lo, any)", &p), 3);
    assert_eq!(count("bytes(lo, any)", &p), 65537);
    assert_eq!(count("retransmissions(lo, any)", &p), 1);
    assert_eq!(count("largest_segment(lo, any)", &p), 65483);
}

#[test]
fn a_segment_whose_first_copy_was_never_seen_counts_once() {
    // As in bytes_count_a_first_segment_seen_only_when_resent_after_later_ones: the first
    // segment came only as a resend after the later ones; resent once more, it adds nothing.
    let p = vec![
        with(seg("lo", None, 1.0, true, "PSH|ACK"), 101, 100, 1000),
        with(seg("lo", None, 2.0, true, "PSH|ACK"), 201, 100, 1000),
        with(seg("lo", None, 3.0, true, "PSH|ACK"), 1, 100, 1000),
        with(seg("lo", None, 4.0, true, "PSH|ACK"), 1, 100, 1000),
        // A resend that merges two seen segments and one byte never seen.
        with(seg("lo", None, 5.0, true, "PSH|ACK"), 101, 201, 1000),
    ];
    assert_eq!(count("segments(lo, any)", &p), 4);
    assert_eq!(count("bytes(lo, any)", &p), 301);
    assert_eq!(count("largest_segment(lo, any)", &p), 201);
}

#[test]
fn segments_and_the_largest_follow_the_way_and_are_zero_without_payload() {
    let (out, inn) = (Some(Way::Out), Some(Way::In));
    let p = vec![
        with(seg("a", out, 1.0, true, "PSH|ACK"), 1, 1448, 1000),
        with(seg("a", out, 1.1, true, "PSH|ACK"), 1449, 100, 1000),
        with(seg("a", inn, 1.2, false, "PSH|ACK"), 1, 7, 1000),
    ];
    assert_eq!(count("segments(a, out)", &p), 2);
    assert_eq!(count("segments(a, in)", &p), 1);
    assert_eq!(count("largest_segment(a, out)", &p), 1448);
    assert_eq!(count("largest_segment(a, in)", &p), 7);
    assert_eq!(count("segments(b, any)", &p), 0);
    assert_eq!(count("largest_segment(b, any)", &p), 0);
    assert_eq!(
        count("largest_segment(a, any)", &handshake_on_the_wire()),
        0
    );
}

#[test]
fn a_socket_as_the_way_takes_what_that_socket_sent_on_loopback() {
    // Two connections to one listener port; on loopback packets have no way.
    let (c1, c2) = ("127.0.0.1:40001", "127.0.0.1:40002");
    let on = |at_ms: f64, src: &str, dst: &str, seq: u32, len: u32| {
        let mut p = with(seg("lo", None, at_ms, true, "PSH|ACK"), seq, len, 1000);
        (p.src, p.dst) = (src.to_owned(), dst.to_owned());
        p
    };
    let p = vec![
        on(1.0, c1, B, 1, 65483),
        on(1.1, B, c1, 1, 1),
        on(2.0, c2, B, 1, 32741),
        on(2.1, c2, B, 32742, 32795),
        on(2.2, B, c2, 1, 1),
    ];
    let end = |actor: &str, sock: &str, local: &str, peer: &str| Endpoint {
        actor: actor.into(),
        sock: sock.into(),
        local: local.into(),
        peer: Some(peer.into()),
    };
    let endpoints = [
        end("client", "s1", c1, B),
        end("client#1", "s2", c2, B),
        end("server", "c1", B, c1),
        end("server", "c2", B, c2),
    ];
    let count = |key: &str| match Figure::parse(key).unwrap().compute(&p, &endpoints) {
        Some(FigureValue::Count(n)) => n,
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(count("segments(lo, client:s1)"), 1);
    assert_eq!(count("largest_segment(lo, client:s1)"), 65483);
    // Every instance of a repeated actor.
    assert_eq!(count("segments(lo, client:s2)"), 2);
    assert_eq!(count("bytes(lo, client:s2)"), 65536);
    assert_eq!(count("segments(lo, server:c2)"), 1);
    assert_eq!(count("largest_segment(lo, server:c1)"), 1);
    // Sockets the run never made (or a prefix of an actor's name) take nothing.
    assert_eq!(count("segments(lo, client:s9)"), 0);
    assert_eq!(count("segments(lo, cli:s1)"), 0);
}

#[test]
fn a_probe_is_a_tiny_segment_while_the_peer_window_is_zero() {
    let out = Some(Way::Out);
    let inn = Some(Way::In);
    let p = vec![
        with(seg("a", out, 1.0, true, "PSH|ACK"), 100, 10, 1000),
        // B acks everything and closes its window.
        with(seg("a", inn, 2.0, false, "ACK"), 0, 0, 0),
        // Linux's probe: no payload, one below the highest sent.
        with(seg("a", out, 3.0, true, "ACK"), 109, 0, 1000),
        // Another system's: one byte.
        with(seg("a", out, 4.0, true, "ACK"), 110, 1, 1000),
        // A plain ACK at the highest sent is no probe.
        with(seg("a", out, 5.0, true, "ACK"), 111, 0, 1000),
        // Window open again: a tiny segment is data.
        with(seg("a", inn, 6.0, false, "ACK"), 0, 0, 500),
        with(seg("a", out, 7.0, true, "PSH|ACK"), 110, 1, 1000),
    ];
    assert_eq!(count("zero_window_probes(a, out)", &p), 2);
    assert_eq!(count("zero_window_probes(a, in)", &p), 0);
}

// ---- times and directions ----

#[test]
fn syn_gaps_are_the_times_between_successive_syns_of_one_connection() {
    let p = vec![
        seg("a", Some(Way::Out), 0.0, true, "SYN"),
        seg("a", Some(Way::Out), 1000.4, true, "SYN"),
        seg("a", Some(Way::Out), 3001.0, true, "SYN"),
        seg("a", Some(Way::In), 3001.5, false, "SYN|ACK"),
    ];
    let gaps = Figure::parse("syn_gaps(a)").unwrap().compute(&p, &[]);
    assert_eq!(gaps, Some(FigureValue::List(vec![1000, 2001])));
}

#[test]
fn the_first_rst_is_named_by_the_way_it_travelled() {
    let f = Figure::parse("first_rst").unwrap();
    assert_eq!(f.compute(&handshake_on_the_wire(), &[]), None);
    // First seen arriving at A: it came from B (or from the wire, toward A).
    let p = vec![
        seg("a", Some(Way::In), 1.0, false, "RST"),
        seg("b", Some(Way::Out), 2.0, true, "RST|ACK"),
    ];
    assert_eq!(f.compute(&p, &[]), Some(FigureValue::Text("b>a".into())));
}

#[test]
fn on_loopback_the_first_rst_names_the_sockets_or_their_ports() {
    let f = Figure::parse("first_rst").unwrap();
    let p = vec![seg("lo", None, 1.0, false, "RST")];
    assert_eq!(
        f.compute(&p, &[]),
        Some(FigureValue::Text("5000>40000".into()))
    );
    let endpoints = [
        Endpoint {
            actor: "server".into(),
            sock: "l".into(),
            local: B.into(),
            peer: None,
        },
        Endpoint {
            actor: "server".into(),
            sock: "c".into(),
            local: B.into(),
            peer: Some(A.into()),
        },
        Endpoint {
            actor: "client".into(),
            sock: "s".into(),
            local: A.into(),
            peer: Some(B.into()),
        },
    ];
    assert_eq!(
        f.compute(&p, &endpoints),
        Some(FigureValue::Text("server:c>client:s".into()))
    );
}
