//! The ladder drawn from synthetic records: a run over the wire (handshake, data, a drop,
//! its retransmission, an injected RST), a loopback run, a bulk transfer and a keepalive
//! run. The SVG is parsed as XML and its marks counted; labels are checked not to
//! overlap, with their widths as `draw` computes them.
//!
//! To look at the example page: `TCPLAB_LADDER_DIR=/tmp/ladder cargo test --lib
//! ladder::tests::the_example_page` writes `ladder.html` and one SVG per run there
//! (without the variable they go to a temporary folder that is removed).

use std::collections::BTreeMap;

use super::draw::CHAR_W;
use super::model::{FOLD_FROM, MAX_ARROWS};
use super::*;
use crate::env::Environment;
use crate::event::{Event, Outcome};
use crate::packet::{Endpoint, Packet, Way, WireEvent};
use crate::record::{Record, ScenarioRef, WireRecord};
use crate::scenario::wire::Dir;
use crate::scenario::ParamValue;
use crate::verdict::{Check, CheckResult, Status, Verdict};

// --- Builders ---------------------------------------------------------------------------

const A: &str = "10.89.0.1:40312";
const B: &str = "10.89.0.2:8080";
/// One way across the wire in the synthetic runs (ms).
const LATENCY: f64 = 0.06;

fn record(name: &str, title: &str) -> Record {
    Record {
        scenario: ScenarioRef {
            name: name.into(),
            title: title.into(),
            topic: "wire".into(),
            file: format!("scenarios/wire/{name}.toml"),
            sha256: None,
        },
        params: BTreeMap::from([("payload".to_owned(), ParamValue::Int(4096))]),
        engine: "std".into(),
        env: Environment::current(),
        started_at: "2025-01-01T00:00:00Z".into(),
        elapsed_ms: 0.0,
        timeout_ms: 10_000,
        events: Vec::new(),
        observations: Default::default(),
        verdict: Verdict {
            status: Status::Deviation,
            os: "linux".into(),
            basis: None,
            checks: vec![Check {
                observation: "reset_seen".into(),
                expected: "\"ECONNRESET\"".into(),
                observed: None,
                result: CheckResult::NotObserved,
                note: None,
            }],
            problems: Vec::new(),
        },
        stuck: Vec::new(),
        failures: Vec::new(),
        packets: Vec::new(),
        wire: None,
        endpoints: Vec::new(),
        hosts: BTreeMap::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn packet(
    at: f64,
    point: &str,
    way: Option<Way>,
    src: &str,
    dst: &str,
    flags: &str,
    seq: u32,
    ack: u32,
    len: u32,
) -> Packet {
    Packet {
        at_ms: at,
        point: point.into(),
        way,
        src: src.into(),
        dst: dst.into(),
        proto: "tcp".into(),
        flags: flags.into(),
        seq: Some(seq),
        ack: flags.contains("ACK").then_some(ack),
        win: Some(502),
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

/// A segment that crossed the wire: seen leaving `from` and arriving at the other host.
fn crossed(out: &mut Vec<Packet>, at: f64, from: &str, flags: &str, seq: u32, ack: u32, len: u32) {
    let (to, src, dst) = if from == "a" {
        ("b", A, B)
    } else {
        ("a", B, A)
    };
    out.push(packet(
        at,
        from,
        Some(Way::Out),
        src,
        dst,
        flags,
        seq,
        ack,
        len,
    ));
    out.push(packet(
        at + LATENCY,
        to,
        Some(Way::In),
        src,
        dst,
        flags,
        seq,
        ack,
        len,
    ));
}

fn event(
    actor: &str,
    step: usize,
    op: &str,
    at: f64,
    took: f64,
    asked: Option<u64>,
    got: Option<i64>,
    outcome: Outcome,
) -> Event {
    Event {
        actor: actor.into(),
        step,
        op: op.into(),
        sock: Some("c".into()),
        requested: asked,
        returned: got,
        outcome,
        at_ms: at,
        elapsed_ms: took,
        note: None,
    }
}

fn err(errno: &str, kind: &str) -> Outcome {
    Outcome::Err {
        kind: kind.into(),
        errno: Some(errno.into()),
        code: None,
        deadline: false,
    }
}

/// A client on a, a server on b: the handshake, four segments of which the wire drops
/// the third, the ACKs, the retransmission, and after a long pause a RST the wire
/// injects toward a while the client reads.
fn wire_run() -> Record {
    let mut r = record("rst-on-the-wire", "A <forged> RST & a lost segment");
    r.hosts = BTreeMap::from([("client".into(), "a".into()), ("server".into(), "b".into())]);
    r.endpoints = vec![
        Endpoint {
            actor: "client".into(),
            sock: "c".into(),
            local: A.into(),
            peer: Some(B.into()),
        },
        Endpoint {
            actor: "server".into(),
            sock: "l".into(),
            local: B.into(),
            peer: None,
        },
    ];
    let p = &mut r.packets;
    crossed(p, 0.10, "a", "SYN", 0, 0, 0);
    crossed(p, 0.17, "b", "SYN|ACK", 0, 1, 0);
    crossed(p, 0.24, "a", "ACK", 1, 1, 0);
    for k in 0..4u32 {
        let at = 1.0 + f64::from(k) * 0.01;
        if k == 2 {
            let mut lost = packet(
                at,
                "a",
                Some(Way::Out),
                A,
                B,
                "PSH|ACK",
                1 + 1448 * k,
                1,
                1448,
            );
            lost.wire = Some("dropped: loss #2".into());
            p.push(lost);
        } else {
            crossed(p, at, "a", "PSH|ACK", 1 + 1448 * k, 1, 1448);
        }
    }
    crossed(p, 1.08, "b", "ACK", 1, 1449, 0);
    crossed(p, 1.09, "b", "ACK", 1, 2897, 0);
    crossed(p, 1.10, "b", "ACK", 1, 2897, 0);
    let mut again = packet(1.30, "a", Some(Way::Out), A, B, "PSH|ACK", 2897, 1, 1448);
    again.retransmission = true;
    let mut arrived = again.clone();
    (arrived.point, arrived.way, arrived.at_ms) = ("b".into(), Some(Way::In), 1.30 + LATENCY);
    p.extend([again, arrived]);
    crossed(p, 1.37, "b", "ACK", 1, 5793, 0);
    let mut rst = packet(200.0, "a", Some(Way::In), B, A, "RST", 1, 0, 0);
    rst.wire = Some("injected RST".into());
    p.push(rst);
    r.wire = Some(WireRecord {
        seed: 42,
        events: vec![
            WireEvent {
                at_ms: 1.02,
                dir: Dir::AtoB,
                action: "dropped: loss #2".into(),
                flags: "PSH|ACK".into(),
                raw_seq: 0,
                raw_ack: 0,
                len: 1448,
            },
            WireEvent {
                at_ms: 199.97,
                dir: Dir::BtoA,
                action: "injected RST".into(),
                flags: "RST".into(),
                raw_seq: 0,
                raw_ack: 0,
                len: 0,
            },
        ],
    });
    r.events = vec![
        event("server", 1, "listen", 0.01, 0.01, None, None, Outcome::Ok),
        event("server", 2, "accept", 0.05, 0.26, None, None, Outcome::Ok),
        event("client", 1, "connect", 0.09, 0.16, None, None, Outcome::Ok),
        event(
            "client",
            2,
            "write",
            0.95,
            0.02,
            Some(4096),
            Some(4096),
            Outcome::Ok,
        ),
        event(
            "server",
            3,
            "read",
            1.05,
            0.01,
            Some(65536),
            Some(2896),
            Outcome::Ok,
        ),
        event(
            "server",
            4,
            "read",
            1.12,
            0.01,
            Some(65536),
            None,
            err("EAGAIN", "WouldBlock"),
        ),
        event(
            "server",
            5,
            "read",
            1.40,
            0.01,
            Some(65536),
            Some(2896),
            Outcome::Ok,
        ),
        event(
            "client",
            3,
            "read",
            150.0,
            50.1,
            Some(4096),
            None,
            err("ECONNRESET", "ConnectionReset"),
        ),
    ];
    r.events[7].note = Some("reset <by the wire>".into());
    r
}

/// A client and a server on loopback, and a stray SYN from a port no socket has, which
/// the server's kernel answers with a RST.
fn loopback_run() -> Record {
    let mut r = record("close-with-unread-data", "close with unread data sends RST");
    r.verdict.status = Status::Pass;
    r.verdict.checks.clear();
    let (c, s, stray) = ("127.0.0.1:40000", "127.0.0.1:8080", "127.0.0.1:5555");
    r.endpoints = vec![
        Endpoint {
            actor: "server".into(),
            sock: "l".into(),
            local: s.into(),
            peer: None,
        },
        Endpoint {
            actor: "server".into(),
            sock: "conn".into(),
            local: s.into(),
            peer: Some(c.into()),
        },
        Endpoint {
            actor: "client".into(),
            sock: "c".into(),
            local: c.into(),
            peer: Some(s.into()),
        },
    ];
    let lo =
        |at, src, dst, flags, seq, ack, len| packet(at, "lo", None, src, dst, flags, seq, ack, len);
    r.packets = vec![
        lo(0.100, c, s, "SYN", 0, 0, 0),
        lo(0.101, s, c, "SYN|ACK", 0, 1, 0),
        lo(0.102, c, s, "ACK", 1, 1, 0),
        lo(0.300, c, s, "PSH|ACK", 1, 1, 100),
        lo(0.301, s, c, "ACK", 1, 101, 0),
        lo(0.500, s, c, "RST|ACK", 1, 101, 0),
        lo(0.600, stray, s, "SYN", 0, 0, 0),
        lo(0.601, s, stray, "RST|ACK", 0, 1, 0),
    ];
    r.events = vec![
        event("server", 1, "accept", 0.02, 0.09, None, None, Outcome::Ok),
        event("client", 1, "connect", 0.09, 0.013, None, None, Outcome::Ok),
        event(
            "client",
            2,
            "write",
            0.29,
            0.02,
            Some(100),
            Some(100),
            Outcome::Ok,
        ),
        event("server", 2, "close", 0.49, 0.02, None, None, Outcome::Ok),
        event(
            "client",
            3,
            "read",
            0.55,
            0.01,
            Some(4096),
            None,
            err("ECONNRESET", "ConnectionReset"),
        ),
    ];
    r
}

/// A bulk transfer of `n` segments a to b, an ACK back for every second one.
fn bulk_run(n: u32) -> Record {
    let mut r = record("bulk", "bulk transfer");
    r.hosts = BTreeMap::from([("client".into(), "a".into()), ("server".into(), "b".into())]);
    let p = &mut r.packets;
    crossed(p, 0.10, "a", "SYN", 0, 0, 0);
    crossed(p, 0.17, "b", "SYN|ACK", 0, 1, 0);
    crossed(p, 0.24, "a", "ACK", 1, 1, 0);
    for k in 0..n {
        let at = 1.0 + f64::from(k) * 0.012;
        crossed(p, at, "a", "ACK", 1 + 1448 * k, 1, 1448);
        if k % 2 == 1 {
            crossed(p, at + 0.07, "b", "ACK", 1, 1 + 1448 * (k + 1), 0);
        }
    }
    for k in 0..n / 4 {
        let at = 0.9 + f64::from(k) * 0.048;
        r.events.push(event(
            "client",
            2,
            "write",
            at,
            0.005,
            Some(65536),
            Some(65536),
            Outcome::Ok,
        ));
    }
    r
}

/// Ten keepalive probes and their answers over five seconds.
fn keepalive_run() -> Record {
    let mut r = record("keepalive", "keepalive probes");
    r.hosts = BTreeMap::from([("client".into(), "a".into()), ("server".into(), "b".into())]);
    let p = &mut r.packets;
    crossed(p, 0.10, "a", "SYN", 0, 0, 0);
    crossed(p, 0.17, "b", "SYN|ACK", 0, 1, 0);
    crossed(p, 0.24, "a", "ACK", 1, 1, 0);
    for k in 1..=10 {
        let at = f64::from(k) * 500.0;
        crossed(p, at, "a", "ACK", 0, 1, 0);
        crossed(p, at + 0.1, "b", "ACK", 1, 1, 0);
    }
    r
}

// --- Reading the SVG --------------------------------------------------------------------

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("the SVG is not XML: {e}\n{svg}"))
}

fn has_class(n: &roxmltree::Node, c: &str) -> bool {
    n.attribute("class")
        .is_some_and(|k| k.split(' ').any(|x| x == c))
}

fn count(doc: &roxmltree::Document, c: &str) -> usize {
    doc.descendants().filter(|n| has_class(n, c)).count()
}

fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect()
        })
        .collect()
}

/// A text's box from its anchor, its length in characters and the monospace advance.
fn text_box(n: &roxmltree::Node) -> (f64, f64, f64, f64) {
    let num = |a: &str| {
        n.attribute(a)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let text: String = n
        .descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect();
    let w = text.chars().count() as f64 * CHAR_W;
    let (x, y) = (num("x"), num("y"));
    let left = match n.attribute("text-anchor") {
        Some("middle") => x - w / 2.0,
        Some("end") => x - w,
        _ => x,
    };
    (left, y - 9.0, left + w, y + 3.0)
}

/// The labels of arrows and calls whose boxes overlap, as pairs of their texts.
fn overlapping(doc: &roxmltree::Document) -> Vec<(String, String)> {
    let labels: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter(|n| {
            has_class(n, "packet-label")
                || n.parent()
                    .is_some_and(|p| has_class(&p, "call") || has_class(&p, "fold"))
        })
        .collect();
    let mut out = Vec::new();
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            let (p, q) = (text_box(a), text_box(b));
            if p.0 < q.2 && q.0 < p.2 && p.1 < q.3 && q.1 < p.3 {
                let t = |n: &roxmltree::Node| {
                    n.descendants()
                        .filter(|d| d.is_text())
                        .filter_map(|d| d.text())
                        .collect()
                };
                out.push((t(a), t(b)));
            }
        }
    }
    out
}

// --- A run over the wire ----------------------------------------------------------------

#[test]
fn every_departure_and_the_injected_rst_is_one_arrow() {
    let r = wire_run();
    let svg = svg(&r);
    let doc = parse(&svg);
    let departures = r.packets.iter().filter(|p| p.way == Some(Way::Out)).count();
    assert_eq!(count(&doc, "arrow"), departures + 1, "{svg}");
    assert_eq!(count(&doc, "from-wire"), 1);
    assert_eq!(count(&doc, "inject-mark"), 1);
    assert_eq!(count(&doc, "retransmission"), 1);
    assert_eq!(count(&doc, "rst"), 1);
}

#[test]
fn the_dropped_segment_ends_in_an_x_with_the_wires_note() {
    let doc_text = svg(&wire_run());
    let doc = parse(&doc_text);
    assert_eq!(count(&doc, "drop-mark"), 1);
    assert_eq!(count(&doc, "dropped"), 1);
    let all = texts(&doc);
    assert!(
        all.iter()
            .any(|t| t == "PSH|ACK 2897:4345 ack 1 len 1448 win 502 · dropped: loss #2"),
        "{all:?}"
    );
    // The X sits on the wire, halfway between the lanes.
    let wire_x = doc
        .descendants()
        .find(|n| has_class(n, "wire"))
        .and_then(|n| n.attribute("x1"));
    let mark = doc
        .descendants()
        .find(|n| has_class(n, "drop-mark"))
        .and_then(|n| n.attribute("d"));
    let x: f64 = wire_x.unwrap().parse().unwrap();
    assert!(
        mark.unwrap().contains(&format!("M{:.1},", x - 5.0)),
        "{mark:?} vs wire at {x}"
    );
}

#[test]
fn lanes_are_the_hosts_with_their_actors_and_the_calls_show_outcomes() {
    let doc_text = svg(&wire_run());
    let doc = parse(&doc_text);
    let all = texts(&doc);
    for t in ["a", "b", "client", "server", "10.89.0.1", "wire", "seed 42"] {
        assert!(all.iter().any(|x| x == t), "no {t} in {all:?}");
    }
    for t in [
        "connect ok",
        "write 4096 → 4096",
        "read EAGAIN",
        "read ECONNRESET",
    ] {
        assert!(
            all.iter().any(|x| x.ends_with(t)) || all.iter().any(|x| x == t),
            "no {t} in {all:?}"
        );
    }
    let failed: Vec<String> = doc
        .descendants()
        .filter(|n| has_class(n, "failed"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.has_tag_name("text"))
                .filter_map(|d| d.text())
                .collect()
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("ECONNRESET"));
    assert_eq!(count(&doc, "would-block"), 1);
}

#[test]
fn every_text_is_escaped() {
    let text = svg(&wire_run());
    assert!(!text.contains("<forged>") && !text.contains("<by the wire>"));
    let doc = parse(&text);
    let title = doc
        .descendants()
        .find(|n| has_class(n, "title"))
        .and_then(|n| n.text());
    assert_eq!(
        title,
        Some("rst-on-the-wire — A <forged> RST & a lost segment")
    );
    let tooltips: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        tooltips.iter().any(|t| t.contains("[reset <by the wire>]")),
        "{tooltips:?}"
    );
}

#[test]
fn no_two_labels_overlap() {
    for r in [wire_run(), loopback_run(), bulk_run(40), keepalive_run()] {
        let text = svg(&r);
        let doc = parse(&text);
        let o = overlapping(&doc);
        assert!(o.is_empty(), "{}: {o:?}", r.scenario.name);
    }
}

#[test]
fn a_long_pause_is_cut_and_says_how_long_it_was() {
    let doc_text = svg(&keepalive_run());
    let doc = parse(&doc_text);
    assert_eq!(
        count(&doc, "gap"),
        10,
        "the handshake's pause and nine between probes"
    );
    let height: f64 = doc
        .root_element()
        .attribute("height")
        .unwrap()
        .parse()
        .unwrap();
    assert!(height < 1800.0, "{height}");
    assert!(texts(&doc)
        .iter()
        .any(|t| t == "499.8 ms later (not to scale)"));
}

// --- Loopback ---------------------------------------------------------------------------

#[test]
fn on_loopback_the_lanes_are_the_actors_and_arrows_are_flat() {
    let doc_text = svg(&loopback_run());
    let doc = parse(&doc_text);
    let lanes: Vec<&str> = doc
        .descendants()
        .filter(|n| has_class(n, "lane-name"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(lanes, ["server", "client", "port 5555"]);
    assert_eq!(count(&doc, "arrow"), 8);
    assert_eq!(count(&doc, "wire"), 0);
    for line in doc.descendants().filter(|n| n.has_tag_name("line")) {
        if line.parent().is_some_and(|p| has_class(&p, "arrow")) {
            let y = |a| line.attribute(a).unwrap().parse::<f64>().unwrap();
            assert!((y("y2") - y("y1")).abs() <= 3.01, "{line:?}");
        }
    }
}

// --- Size -------------------------------------------------------------------------------

#[test]
fn a_long_train_is_one_band_and_a_bulk_transfer_stays_small() {
    let doc_text = svg(&bulk_run(40));
    let doc = parse(&doc_text);
    assert_eq!(count(&doc, "fold"), 1);
    let band: Vec<String> = texts(&doc)
        .into_iter()
        .filter(|t| t.starts_with("… "))
        .collect();
    // 40 segments and 20 ACKs after the handshake: 3 arrows kept before, 2 after.
    assert_eq!(band, ["… 37 segments, 53576 bytes, 18 ACKs back"]);
    assert!(FOLD_FROM <= 40);

    let big = svg(&bulk_run(2000));
    let doc = parse(&big);
    assert!(
        count(&doc, "arrow") < MAX_ARROWS,
        "{}",
        count(&doc, "arrow")
    );
    assert!(big.len() < 2_000_000, "{} bytes", big.len());
}

// --- The page and the exporters --------------------------------------------------------

#[test]
fn the_page_holds_every_runs_diagram_inline() {
    let records = [wire_run(), loopback_run()];
    let page = html(&records);
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&page, opt).expect("the page is XML");
    let svgs = doc.descendants().filter(|n| n.has_tag_name("svg")).count();
    assert_eq!(svgs, 3, "two ladders and the legend");
    assert_eq!(doc.descendants().filter(|n| has_class(n, "run")).count(), 2);
    assert!(page.contains("DEVIATION") && page.contains("MISS reset_seen"));

    let runs = Runs {
        scenarios: &[],
        records: &records,
        os: "linux",
        engines: false,
        repeated: false,
    };
    let streamed = Html.run(&runs);
    assert_eq!(
        streamed, page,
        "written as the runs finish, the page is the same"
    );
    assert_eq!(Svg.run(&runs), svg(&records[0]), "svg: the first run");
}

#[test]
fn the_example_page() {
    let keep = std::env::var_os("TCPLAB_LADDER_DIR").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let records = [wire_run(), loopback_run(), bulk_run(40), keepalive_run()];
    std::fs::write(dir.join("ladder.html"), html(&records)).unwrap();
    for r in &records {
        std::fs::write(dir.join(format!("{}.svg", r.scenario.name)), svg(r)).unwrap();
    }
    assert!(dir.join("ladder.html").metadata().unwrap().len() > 1000);
}
