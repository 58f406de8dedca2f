//! Synthetic records to draw: a run over the wire (handshake, data, a drop, its
//! retransmission, an injected RST), a loopback run, a bulk transfer and a keepalive run.

use std::collections::BTreeMap;

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
        capture: None,
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

fn endpoint(actor: &str, sock: &str, local: &str, peer: Option<&str>) -> Endpoint {
    Endpoint {
        actor: actor.into(),
        sock: sock.into(),
        local: local.into(),
        peer: peer.map(str::to_owned),
    }
}

#[allow(clippy::too_many_arguments)]
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
pub(super) fn wire_run() -> Record {
    let mut r = record("rst-on-the-wire", "A <forged> RST & a lost segment");
    r.hosts = BTreeMap::from([("client".into(), "a".into()), ("server".into(), "b".into())]);
    r.endpoints = vec![
        endpoint("client", "c", A, Some(B)),
        endpoint("server", "l", B, None),
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
        spec: Default::default(),
        frames: Default::default(),
        error: None,
        setup_ms: None,
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
pub(super) fn loopback_run() -> Record {
    let mut r = record("close-with-unread-data", "close with unread data sends RST");
    r.verdict.status = Status::Pass;
    r.verdict.checks.clear();
    let (c, s, stray) = ("127.0.0.1:40000", "127.0.0.1:8080", "127.0.0.1:5555");
    r.endpoints = vec![
        endpoint("server", "l", s, None),
        endpoint("server", "conn", s, Some(c)),
        endpoint("client", "c", c, Some(s)),
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
pub(super) fn bulk_run(n: u32) -> Record {
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
pub(super) fn keepalive_run() -> Record {
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
