//! The network tier end to end, through the binary: scenarios on two hosts with each of
//! the wire's faults under both engines, the seed, the pcapng file, the ladder diagram,
//! the unprivileged path, and what a run leaves behind (nothing), even when killed.
//!
//! Every assertion is on what a run recorded (its observations, packets and wire log) or
//! on the host after it, never on the test's own clock. Where namespaces cannot be made
//! the tests say SKIPPED and pass.

// Hosts are network namespaces, which are Linux's.
#![cfg(target_os = "linux")]

#[allow(dead_code)]
mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::sync::{RwLock, RwLockReadGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use wait_timeout::ChildExt;

use tcplab::scenario::wire::{Dir, WireSpec};
use tcplab::wire::Pipeline;

use common::{tcplab_with, write_scenario};

/// Longest a test lets one command run.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// What stderr says when a scenario on hosts cannot have them (src/tier.rs).
const NO_NAMESPACES: &str = "need network namespaces";

/// The uid and gid of `nobody`, for the unprivileged run as root.
const NOBODY: &str = "65534";

fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Tests share this; the one that counts the test process's own descriptors holds it
/// alone, so that no other test's pipes to a child are open while it counts.
static DESCRIPTORS: RwLock<()> = RwLock::new(());

fn sharing_descriptors() -> RwLockReadGuard<'static, ()> {
    DESCRIPTORS.read().unwrap_or_else(|e| e.into_inner())
}

// ---- scenarios ---------------------------------------------------------------------------

/// The server's first steps: listen on host b, tell the client, accept `c`.
const LISTEN_AND_ACCEPT: &str = r#"
  { op = "listen", as = "l", backlog = 4 },
  { op = "signal", sync = "up" },
  { op = "accept", from = "l", as = "c" },"#;

/// The client's first steps: wait for the listener, dial it as `s` (bounded).
const DIAL: &str = r#"
  { op = "wait", sync = "up" },
  { op = "connect", id = "dial", to = "l", as = "s", timeout_ms = 3000 },"#;

/// A scenario named `name` with a server on host b and a client on host a, the `[wire]`
/// table's lines `wire` (none: no table), the steps of each and its observations.
fn on_two_hosts(name: &str, wire: &str, server: &str, client: &str, observations: &str) -> String {
    let wire = if wire.is_empty() {
        String::new()
    } else {
        format!("[wire]\n{wire}\n")
    };
    format!(
        r#"# The network tier's test scenario `{name}`.
name = "{name}"
title = "t"
summary = "s"
description = "d"
source = "tests/network_tier.rs"
timeout_ms = 10000

{wire}
[[actors]]
name = "server"
host = "b"
steps = [{server}
]

[[actors]]
name = "client"
host = "a"
steps = [{client}
]

[observations]
{observations}
"#
    )
}

/// The smallest wire scenario: a dial and a close, on a clean wire.
fn dial_and_close(name: &str) -> String {
    on_two_hosts(
        name,
        "",
        r#"
  { op = "listen", as = "l", backlog = 4 },
  { op = "signal", sync = "up" },
  { op = "wait", sync = "done" },"#,
        &format!(
            r#"{DIAL}
  {{ op = "close", sock = "s" }},
  {{ op = "signal", sync = "done" }},"#
        ),
        r#"dial = { step = "dial", take = "outcome", help = "the dial" }"#,
    )
}

/// One byte each way, then each side shuts down and reads the other's FIN; the run ends
/// once the server's FIN is acknowledged, so no frame is still on the wire when the
/// capture stops. A handful of packets: no train to fold in a ladder.
fn one_byte_exchange(name: &str, wire: &str) -> String {
    on_two_hosts(
        name,
        wire,
        &format!(
            r#"{LISTEN_AND_ACCEPT}
  {{ op = "respond", sock = "c", count = 1, request_bytes = 1, reply_bytes = 1 }},
  {{ op = "read_to_eof", sock = "c", buf = 100 }},
  {{ op = "shutdown", sock = "c", how = "write" }},
  {{ op = "wait_bytes", sock = "c", bytes = 0, queue = "unacked", timeout_ms = 3000 }},
  {{ op = "signal", sync = "done" }},"#
        ),
        &format!(
            r#"{DIAL}
  {{ op = "request", id = "rt", sock = "s", count = 1, parts = 1, part_bytes = 1, reply_bytes = 1 }},
  {{ op = "shutdown", sock = "s", how = "write" }},
  {{ op = "read_to_eof", sock = "s", buf = 100 }},
  {{ op = "wait", sync = "done" }},"#
        ),
        r#"rt_ms = { step = "rt", take = "elapsed_ms", help = "the round trip" }
rt = { step = "rt", take = "outcome", help = "how it ended" }"#,
    )
}

/// The client writes `count` messages of `size` bytes and shuts down; the server reads
/// and checks them (observations `intact`, `lost`, `interleaved`, `read`).
fn messages_a_to_b(name: &str, wire: &str, count: u32, size: u32) -> String {
    on_two_hosts(
        name,
        wire,
        &format!(
            r#"{LISTEN_AND_ACCEPT}
  {{ op = "read_messages", id = "r", sock = "c", writers = 1, count = {count}, size = {size}, buf = "64KiB" }},
  {{ op = "signal", sync = "read" }},"#
        ),
        &format!(
            r#"{DIAL}
  {{ op = "write_messages", sock = "s", count = {count}, size = {size} }},
  {{ op = "shutdown", sock = "s", how = "write" }},
  {{ op = "wait", sync = "read" }},"#
        ),
        r#"intact = { step = "r", take = "intact", help = "messages whole and in order" }
lost = { step = "r", take = "lost", help = "bytes missing" }
interleaved = { step = "r", take = "interleaved", help = "messages out of place" }
read = { step = "r", take = "outcome", help = "how the reading ended" }"#,
    )
}

// ---- running them ------------------------------------------------------------------------

/// Scenario files written into a folder of their own, kept as long as this lives.
struct Scenarios {
    dir: tempfile::TempDir,
    paths: Vec<PathBuf>,
}

fn scenarios(texts: &[&str]) -> Scenarios {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let paths = texts
        .iter()
        .map(|text| {
            let name = text
                .lines()
                .find_map(|l| l.strip_prefix("name = \""))
                .and_then(|l| l.strip_suffix('"'))
                .expect("a scenario name");
            write_scenario(dir.path(), &format!("network/{name}.toml"), text)
        })
        .collect();
    Scenarios { dir, paths }
}

/// Whether this output is a wire scenario refused for want of namespaces (SKIPPED said).
fn refused_for_namespaces(test: &str, output: &std::process::Output) -> bool {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let refused = output.status.code() == Some(2) && stderr.contains(NO_NAMESPACES);
    if refused {
        skipped(
            test,
            &format!("no network namespaces here: {}", stderr.trim()),
        );
    }
    refused
}

/// `tcplab run FILES ARGS --record -`: the records, in order; `None` (SKIPPED said) where
/// namespaces cannot be made. The run must exit 0, its wire and capture without error.
fn run_records(test: &str, files: &Scenarios, args: &[&str]) -> Option<Vec<Value>> {
    let _shared = sharing_descriptors();
    let output = tcplab_with(files.dir.path())
        .arg("run")
        .args(&files.paths)
        .args(args)
        .args(["--record", "-"])
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab");
    if refused_for_namespaces(test, &output) {
        return None;
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr:\n{stderr}\nstdout:\n{stdout}"
    );
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a record ({e}): {l}")))
        .collect();
    for r in &records {
        assert!(
            r["wire"]["error"].is_null() && r["capture"]["none"].is_null(),
            "the wire or the capture failed: {}",
            brief(r)
        );
    }
    Some(records)
}

/// [`run_records`] of one scenario's `text`.
fn records_of(test: &str, text: &str, args: &[&str]) -> Option<Vec<Value>> {
    run_records(test, &scenarios(&[text]), args)
}

/// [`records_of`] under `--engine all`: the std run's record, then the tokio run's.
fn under_both_engines(test: &str, text: &str) -> Option<Vec<Value>> {
    let records = records_of(test, text, &["--engine", "all"])?;
    let engines: Vec<&str> = records
        .iter()
        .map(|r| r["engine"].as_str().unwrap())
        .collect();
    assert_eq!(engines, ["std", "tokio"]);
    Some(records)
}

/// What a failure message shows of a record: engine, observations, the wire's log and
/// the packets, one a line.
fn brief(r: &Value) -> String {
    let mut out = format!(
        "engine {}, verdict {}\nobservations {:#}\nwire {:#}\ncapture {}\npackets:\n",
        r["engine"], r["verdict"], r["observations"], r["wire"], r["capture"]
    );
    for p in packets(r) {
        out.push_str(&format!("  {p}\n"));
    }
    out
}

fn observation<'a>(r: &'a Value, name: &str) -> &'a Value {
    let v = &r["observations"][name];
    assert!(!v.is_null(), "no observation {name}: {}", brief(r));
    v
}

fn number(r: &Value, name: &str) -> f64 {
    observation(r, name)
        .as_f64()
        .unwrap_or_else(|| panic!("{name} is not a number: {}", brief(r)))
}

/// Asserts that the outcome observation `name` is `word`: `ok`, `deadline` (a timer of
/// the lab's own) or an errno name.
fn assert_outcome(r: &Value, name: &str, word: &str) {
    let o = observation(r, name);
    let is = match word {
        "ok" => o["result"] == "ok",
        "deadline" => o["result"] == "err" && o["deadline"] == true && o["errno"].is_null(),
        errno => o["result"] == "err" && o["errno"] == errno,
    };
    assert!(is, "{name} is {o}, not {word}: {}", brief(r));
}

fn packets(r: &Value) -> &[Value] {
    r["packets"].as_array().map_or(&[], |p| p.as_slice())
}

/// The wire's log: what it did to each frame it acted on (`dropped: loss #1`).
fn wire_actions(r: &Value) -> Vec<&str> {
    r["wire"]["events"]
        .as_array()
        .expect("a wire log")
        .iter()
        .map(|e| e["action"].as_str().expect("an action"))
        .collect()
}

fn frames(r: &Value, dir: &str, count: &str) -> u64 {
    r["wire"]["frames"][dir][count]
        .as_u64()
        .unwrap_or_else(|| panic!("no frame count {dir}.{count}: {}", brief(r)))
}

/// Asserts that all `count` messages arrived whole, in order, nothing lost.
fn assert_all_messages_intact(r: &Value, count: u64) {
    assert_outcome(r, "read", "ok");
    assert_eq!(observation(r, "intact"), count, "{}", brief(r));
    assert_eq!(observation(r, "lost"), 0, "{}", brief(r));
    assert_eq!(observation(r, "interleaved"), 0, "{}", brief(r));
}

// ---- each fault, under both engines ------------------------------------------------------

#[test]
fn a_delay_makes_a_one_byte_round_trip_last_at_least_twice_the_delay() {
    const DELAY_MS: f64 = 40.0;
    let text = one_byte_exchange("nt-delay", "both = { delay = \"40ms\" }");
    let Some(records) = under_both_engines("delay", &text) else {
        return;
    };
    for r in &records {
        assert_outcome(r, "rt", "ok");
        // The request crosses a>b and the reply b>a, each held DELAY_MS by the wire.
        let rt = number(r, "rt_ms");
        assert!(rt >= 2.0 * DELAY_MS, "round trip {rt} ms: {}", brief(r));
        assert_eq!(r["wire"]["spec"]["a_to_b"]["delay"], DELAY_MS);
        assert_eq!(r["wire"]["spec"]["b_to_a"]["delay"], DELAY_MS);
    }
}

#[test]
fn with_jitter_every_message_arrives_intact_and_in_order() {
    let text = messages_a_to_b("nt-jitter", "both = { jitter = \"4ms\" }", 40, 1000);
    let Some(records) = under_both_engines("jitter", &text) else {
        return;
    };
    for r in &records {
        assert_all_messages_intact(r, 40);
        assert_eq!(r["wire"]["spec"]["a_to_b"]["jitter"], 4.0, "{}", brief(r));
    }
}

#[test]
fn with_loss_in_bursts_every_message_arrives_and_the_wire_records_its_drops() {
    let text = messages_a_to_b(
        "nt-loss",
        "seed = 7\nboth = { loss = \"10%\", loss_burst = 2 }",
        64,
        1024,
    );
    let Some(records) = under_both_engines("loss", &text) else {
        return;
    };
    for r in &records {
        assert_all_messages_intact(r, 64);
        let dropped = frames(r, "a>b", "dropped") + frames(r, "b>a", "dropped");
        assert!(dropped > 0, "nothing dropped: {}", brief(r));
        let losses = wire_actions(r)
            .iter()
            .filter(|a| a.starts_with("dropped: loss #"))
            .count() as u64;
        assert_eq!(losses, dropped, "one log entry per drop: {}", brief(r));
        // The capture saw the dropped frames leave their host and the wire marked them.
        assert!(
            packets(r).iter().any(|p| p["wire"]
                .as_str()
                .is_some_and(|n| n.starts_with("dropped: loss #"))
                && p["way"] == "out"),
            "no packet marked with its loss: {}",
            brief(r)
        );
    }
}

#[test]
fn with_duplication_every_message_arrives_once_and_the_wire_records_the_copies() {
    let text = messages_a_to_b(
        "nt-duplicate",
        "seed = 7\nboth = { duplicate = \"20%\" }",
        32,
        1000,
    );
    let Some(records) = under_both_engines("duplicate", &text) else {
        return;
    };
    for r in &records {
        assert_all_messages_intact(r, 32);
        let copies = wire_actions(r)
            .iter()
            .filter(|a| **a == "duplicated")
            .count() as u64;
        assert!(copies > 0, "nothing duplicated: {}", brief(r));
        // The capture saw the copied frames leave their host, marked. (Frames out minus
        // frames in is not the copies: the relay does not drain what is still on its way
        // when the run ends.)
        assert!(
            packets(r)
                .iter()
                .any(|p| p["wire"] == "duplicated" && p["way"] == "out"),
            "no packet marked as duplicated: {}",
            brief(r)
        );
    }
}

#[test]
fn a_rate_limit_makes_a_transfer_last_at_least_its_bits_over_the_rate() {
    const BYTES: f64 = 65536.0;
    const RATE: f64 = 4e6;
    let text = on_two_hosts(
        "nt-rate",
        "\"a>b\" = { rate = \"4Mbit\", queue = 50 }",
        &format!(
            r#"{LISTEN_AND_ACCEPT}
  {{ op = "respond", sock = "c", count = 1, request_bytes = 65536, reply_bytes = 1 }},
  {{ op = "wait", sync = "done" }},"#
        ),
        &format!(
            r#"{DIAL}
  {{ op = "request", id = "x", sock = "s", count = 1, parts = 1, part_bytes = 65536, reply_bytes = 1 }},
  {{ op = "signal", sync = "done" }},"#
        ),
        r#"x = { step = "x", take = "outcome", help = "the transfer and its reply" }
x_ms = { step = "x", take = "elapsed_ms", help = "from the first write to the reply" }
x_count = { step = "x", take = "count", help = "exchanges done" }"#,
    );
    let Some(records) = under_both_engines("rate", &text) else {
        return;
    };
    for r in &records {
        assert_outcome(r, "x", "ok");
        assert_eq!(observation(r, "x_count"), 1, "{}", brief(r));
        // The reply comes after the last byte left the bottleneck, which lets through at
        // most RATE bits a second (of frames: the payload alone is a lower bound).
        let floor = BYTES * 8.0 / RATE * 1000.0;
        let took = number(r, "x_ms");
        assert!(took >= floor, "{took} ms < {floor} ms: {}", brief(r));
        assert_eq!(r["wire"]["spec"]["a_to_b"]["rate"], 4_000_000);
    }
}

#[test]
fn a_dial_into_a_blackhole_ends_at_its_deadline_and_one_after_clearing_it_connects() {
    let text = on_two_hosts(
        "nt-blackhole",
        "",
        r#"
  { op = "listen", as = "l", backlog = 4 },
  { op = "signal", sync = "up" },
  { op = "wait", sync = "done" },"#,
        r#"
  { op = "wait", sync = "up" },
  # a first dial, so that host a knows host b's address before the wire goes dark
  { op = "connect", id = "warm", to = "l", as = "w", timeout_ms = 3000 },
  { op = "wire", set = "blackhole" },
  { op = "connect", id = "dark", to = "l", as = "d", timeout_ms = 300 },
  { op = "wire", clear = "blackhole" },
  { op = "connect", id = "lit", to = "l", as = "s", timeout_ms = 3000 },
  { op = "signal", sync = "done" },"#,
        r#"warm = { step = "warm", take = "outcome", help = "before the blackhole" }
dark = { step = "dark", take = "outcome", help = "during it" }
lit = { step = "lit", take = "outcome", help = "after it was cleared" }"#,
    );
    let Some(records) = under_both_engines("blackhole", &text) else {
        return;
    };
    for r in &records {
        assert_outcome(r, "warm", "ok");
        assert_outcome(r, "dark", "deadline");
        assert_outcome(r, "lit", "ok");
        assert!(
            wire_actions(r).contains(&"dropped: blackhole"),
            "{}",
            brief(r)
        );
    }
}

#[test]
fn a_reset_toward_a_makes_its_next_read_fail_with_econnreset() {
    let text = on_two_hosts(
        "nt-reset",
        "",
        &format!(
            r#"{LISTEN_AND_ACCEPT}
  {{ op = "wait_bytes", sock = "c", bytes = 100, timeout_ms = 3000 }},
  {{ op = "wire", reset = "a" }},
  {{ op = "signal", sync = "reset" }},
  {{ op = "wait", sync = "done" }},"#
        ),
        &format!(
            r#"{DIAL}
  {{ op = "write_all", sock = "s", bytes = 100 }},
  {{ op = "wait", sync = "reset" }},
  {{ op = "read", id = "r", sock = "s", buf = 100 }},
  {{ op = "signal", sync = "done" }},"#
        ),
        r#"read_after = { step = "r", take = "outcome", help = "the read after the RST" }
rsts_in = { packets = "packets(a, in, RST)", help = "RSTs that reached host a" }"#,
    );
    let Some(records) = under_both_engines("reset", &text) else {
        return;
    };
    for r in &records {
        assert_outcome(r, "read_after", "ECONNRESET");
        assert_eq!(observation(r, "rsts_in"), 1, "{}", brief(r));
        assert_eq!(wire_actions(r), ["injected RST"], "{}", brief(r));
    }
}

#[test]
fn a_way_naming_a_socket_dialled_without_waiting_takes_what_it_sent() {
    // With a 20 ms delay the non-blocking dial is still in SYN-SENT when the step ends,
    // where the kernel names no peer: the socket's endpoint takes the address it dialled.
    let text = on_two_hosts(
        "nt-way-connect-start",
        "both = { delay = \"20ms\" }",
        &format!(
            r#"{LISTEN_AND_ACCEPT}
  {{ op = "read_to_eof", id = "r", sock = "c", buf = "64KiB" }},
  {{ op = "write_all", sock = "c", bytes = 1 }},
  {{ op = "signal", sync = "eof" }},"#
        ),
        r#"
  { op = "wait", sync = "up" },
  { op = "connect_start", to = "l", as = "s" },
  { op = "poll", sock = "s", for = "out", timeout_ms = 3000 },
  { op = "write_all", sock = "s", bytes = 3000 },
  { op = "shutdown", sock = "s", how = "write" },
  { op = "wait", sync = "eof" },"#,
        r#"bytes_read = { step = "r", take = "bytes", help = "bytes the server read before EOF" }
sent = { packets = "bytes(a, client:s)", help = "payload bytes the client's socket sent" }
segs = { packets = "segments(a, client:s)", help = "payload segments it sent" }
replies = { packets = "bytes(b, server:c)", help = "payload bytes the server's socket sent" }"#,
    );
    let Some(records) = under_both_engines("way-connect-start", &text) else {
        return;
    };
    for r in &records {
        assert_eq!(observation(r, "bytes_read"), 3000, "{}", brief(r));
        assert_eq!(observation(r, "sent"), 3000, "{}", brief(r));
        // 1448-byte segments on the veths' MTU of 1500: 1448 + 1448 + 104.
        assert_eq!(observation(r, "segs"), 3, "{}", brief(r));
        assert_eq!(observation(r, "replies"), 1, "{}", brief(r));
    }
}

/// The client sends 8 KiB (six segments) and shuts down; the server reads to EOF.
fn eight_kib_to_eof(name: &str, wire: &str, observations: &str) -> String {
    on_two_hosts(
        name,
        wire,
        &format!(
            r#"{LISTEN_AND_ACCEPT}
  {{ op = "read_to_eof", id = "r", sock = "c", buf = "64KiB" }},
  {{ op = "signal", sync = "eof" }},"#
        ),
        &format!(
            r#"{DIAL}
  {{ op = "write_all", sock = "s", bytes = 8192 }},
  {{ op = "shutdown", sock = "s", how = "write" }},
  {{ op = "wait", sync = "eof" }},"#
        ),
        &format!(
            r#"bytes_read = {{ step = "r", take = "bytes", help = "bytes read before EOF" }}
read = {{ step = "r", take = "outcome", help = "how the reading ended" }}
{observations}"#
        ),
    )
}

#[test]
fn dropping_the_second_data_segment_costs_a_retransmission_and_marks_that_packet() {
    let text = eight_kib_to_eof(
        "nt-drop-data",
        "\"a>b\" = { drop_data = [2] }",
        r#"retrans = { packets = "retransmissions(a, out)", help = "segments host a sent again" }"#,
    );
    let Some(records) = under_both_engines("drop_data", &text) else {
        return;
    };
    for r in &records {
        assert_outcome(r, "read", "ok");
        assert_eq!(observation(r, "bytes_read"), 8192, "{}", brief(r));
        assert!(number(r, "retrans") >= 1.0, "{}", brief(r));
        assert_eq!(
            wire_actions(r),
            ["dropped: data segment #2"],
            "{}",
            brief(r)
        );
        let marked: Vec<&Value> = packets(r)
            .iter()
            .filter(|p| p["wire"] == "dropped: data segment #2")
            .collect();
        assert_eq!(marked.len(), 1, "{}", brief(r));
        assert_eq!(marked[0]["point"], "a");
        assert_eq!(marked[0]["way"], "out");
        assert!(marked[0]["len"].as_u64() > Some(0), "{}", brief(r));
    }
}

#[test]
fn dropping_the_first_fin_makes_host_a_send_it_twice_and_host_b_see_it_once() {
    // The FIN goes alone (not on the data): the client shuts down once the server has
    // read the data.
    let text = on_two_hosts(
        "nt-drop-fin",
        "\"a>b\" = { drop_fin = 1 }",
        &format!(
            r#"{LISTEN_AND_ACCEPT}
  {{ op = "wait_bytes", sock = "c", bytes = 100, timeout_ms = 3000 }},
  {{ op = "signal", sync = "arrived" }},
  {{ op = "read_to_eof", id = "r", sock = "c", buf = "64KiB" }},
  {{ op = "signal", sync = "eof" }},"#
        ),
        &format!(
            r#"{DIAL}
  {{ op = "write_all", sock = "s", bytes = 100 }},
  {{ op = "wait", sync = "arrived" }},
  {{ op = "shutdown", sock = "s", how = "write" }},
  {{ op = "wait", sync = "eof" }},"#
        ),
        r#"bytes_read = { step = "r", take = "bytes", help = "bytes read before EOF" }
read = { step = "r", take = "outcome", help = "how the reading ended" }
fins_sent = { packets = "packets(a, out, FIN|ACK)", help = "FINs host a sent" }
fins_arrived = { packets = "packets(b, in, FIN|ACK)", help = "FINs that reached host b" }"#,
    );
    let Some(records) = under_both_engines("drop_fin", &text) else {
        return;
    };
    for r in &records {
        assert_outcome(r, "read", "ok");
        assert_eq!(observation(r, "bytes_read"), 100, "{}", brief(r));
        assert_eq!(observation(r, "fins_sent"), 2, "{}", brief(r));
        assert_eq!(observation(r, "fins_arrived"), 1, "{}", brief(r));
        assert_eq!(wire_actions(r), ["dropped: FIN #1"], "{}", brief(r));
    }
}

#[test]
fn dropping_the_first_syn_ack_still_connects_after_a_second_syn_ack() {
    let text = on_two_hosts(
        "nt-drop-synack",
        "\"b>a\" = { drop_synack = 1 }",
        r#"
  { op = "listen", as = "l", backlog = 4 },
  { op = "signal", sync = "up" },
  { op = "wait", sync = "done" },"#,
        &format!(
            r#"{DIAL}
  {{ op = "signal", sync = "done" }},"#
        ),
        r#"dial = { step = "dial", take = "outcome", help = "the dial" }
synacks_sent = { packets = "packets(b, out, SYN|ACK)", help = "SYN-ACKs host b sent" }
synacks_arrived = { packets = "packets(a, in, SYN|ACK)", help = "SYN-ACKs that reached host a" }"#,
    );
    let Some(records) = under_both_engines("drop_synack", &text) else {
        return;
    };
    for r in &records {
        assert_outcome(r, "dial", "ok");
        let sent = number(r, "synacks_sent");
        assert!(sent >= 2.0, "{}", brief(r));
        // Both b's SYN-ACK timer and a's second SYN can make a SYN-ACK, near 1 s: one of
        // them may still be on its way when the run ends.
        let arrived = number(r, "synacks_arrived");
        assert!(arrived >= 1.0 && arrived < sent, "{}", brief(r));
        assert_eq!(wire_actions(r), ["dropped: SYN-ACK #1"], "{}", brief(r));
    }
}

#[test]
fn dropping_the_first_syn_still_connects_after_the_initial_rto() {
    // The initial RTO is 1 s (RFC 6298 §2.1; Linux's TCP_TIMEOUT_INIT), less up to one
    // timer tick (10 ms at HZ=100).
    const INITIAL_RTO_MS: i64 = 1000 - 10;
    let text = on_two_hosts(
        "nt-drop-syn",
        "\"a>b\" = { drop_syn = 1 }",
        r#"
  { op = "listen", as = "l", backlog = 4 },
  { op = "signal", sync = "up" },
  { op = "wait", sync = "done" },"#,
        &format!(
            r#"{DIAL}
  {{ op = "signal", sync = "done" }},"#
        ),
        r#"dial = { step = "dial", take = "outcome", help = "the dial" }
syns = { packets = "packets(a, out, SYN)", help = "SYNs host a sent" }
gaps = { packets = "syn_gaps(a)", help = "ms between them" }"#,
    );
    let Some(records) = under_both_engines("drop_syn", &text) else {
        return;
    };
    for r in &records {
        assert_outcome(r, "dial", "ok");
        assert_eq!(observation(r, "syns"), 2, "{}", brief(r));
        let gap = observation(r, "gaps")[0].as_i64().expect("one gap");
        assert!(gap >= INITIAL_RTO_MS, "{gap} ms: {}", brief(r));
        assert_eq!(wire_actions(r), ["dropped: SYN #1"], "{}", brief(r));
    }
}

#[test]
fn bytes_past_stop_after_never_arrive() {
    // The limit falls on a segment boundary: the wire passes whole segments while fewer
    // than `stop_after` bytes have passed (src/wire/pipeline.rs), so the first write is
    // exactly the limit and is read before the second is made.
    let text = on_two_hosts(
        "nt-stop-after",
        "\"a>b\" = { stop_after = 1000 }",
        &format!(
            r#"{LISTEN_AND_ACCEPT}
  {{ op = "wait_bytes", sock = "c", bytes = 1000, timeout_ms = 3000 }},
  {{ op = "read", id = "first", sock = "c", buf = 4096 }},
  {{ op = "signal", sync = "first" }},
  {{ op = "wait", sync = "more" }},
  # bounded: the bytes past the limit never come
  {{ op = "wait_bytes", id = "rest", sock = "c", bytes = 1, timeout_ms = 500 }},
  {{ op = "signal", sync = "done" }},"#
        ),
        &format!(
            r#"{DIAL}
  {{ op = "write_all", sock = "s", bytes = 1000 }},
  {{ op = "wait", sync = "first" }},
  {{ op = "write_all", sock = "s", bytes = 2000 }},
  {{ op = "signal", sync = "more" }},
  {{ op = "wait", sync = "done" }},"#
        ),
        r#"first = { step = "first", take = "bytes", help = "bytes read up to the limit" }
rest = { step = "rest", take = "outcome", help = "waiting for more" }
rest_queued = { step = "rest", take = "value", help = "bytes that came after the limit" }
arrived = { packets = "bytes(b, in)", help = "payload bytes that reached host b" }"#,
    );
    let Some(records) = under_both_engines("stop_after", &text) else {
        return;
    };
    for r in &records {
        assert_eq!(observation(r, "first"), 1000, "{}", brief(r));
        assert_outcome(r, "rest", "deadline");
        assert_eq!(observation(r, "rest_queued"), 0, "{}", brief(r));
        assert_eq!(observation(r, "arrived"), 1000, "{}", brief(r));
        let actions = wire_actions(r);
        assert!(
            !actions.is_empty()
                && actions
                    .iter()
                    .all(|a| *a == "dropped: stop after 1000 bytes"),
            "{}",
            brief(r)
        );
    }
}

// ---- the seed ----------------------------------------------------------------------------

/// The drops the wire's pipeline makes for `spec` and `seed` in `dir` over `frames`
/// frames that only random loss can drop (not TCP: no targeted drop, no copy).
fn drops_the_pipeline_makes(spec: &WireSpec, seed: u64, dir: Dir, frames: u64) -> u64 {
    // An ARP frame: Ethernet, ethertype 0x0806, padded to the minimum length.
    let mut arp = vec![0u8; 60];
    arp[..6].copy_from_slice(&[0xff; 6]);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let mut p = Pipeline::new(spec, seed);
    let now = Instant::now();
    for _ in 0..frames {
        p.offer(dir, &arp, now);
    }
    p.counts(dir).dropped
}

#[test]
fn a_seeded_wire_records_its_seed_and_drops_what_its_pipeline_draws_for_that_seed() {
    // Which frames TCP sends depends on timing, but the loss draws do not: the n-th frame
    // of a direction is lost or not by the seed alone, so the drops are a function of how
    // many frames came. Only loss is set, so every frame meets nothing but the draws.
    let text = messages_a_to_b(
        "nt-seeded",
        "seed = 7\nboth = { loss = \"10%\", loss_burst = 2 }",
        64,
        1024,
    );
    let Some(records) = under_both_engines("seeded", &text) else {
        return;
    };
    for r in &records {
        assert_eq!(r["wire"]["seed"], 7, "{}", brief(r));
        assert_eq!(r["wire"]["spec"]["seed"], 7, "{}", brief(r));
        let spec: WireSpec =
            serde_json::from_value(r["wire"]["spec"].clone()).expect("the record's wire spec");
        for dir in [Dir::AtoB, Dir::BtoA] {
            let received = frames(r, dir.name(), "received");
            assert_eq!(
                frames(r, dir.name(), "dropped"),
                drops_the_pipeline_makes(&spec, 7, dir, received),
                "{} after {received} frames: {}",
                dir.name(),
                brief(r)
            );
        }
    }
}

#[test]
fn an_unseeded_wire_records_a_fresh_seed_for_each_run() {
    let text = one_byte_exchange("nt-unseeded", "both = { loss = 0 }");
    let Some(records) = records_of("unseeded", &text, &["--engine", "all", "--repeat", "2"]) else {
        return;
    };
    assert_eq!(records.len(), 4);
    let seeds: BTreeSet<u64> = records
        .iter()
        .map(|r| {
            assert!(r["wire"]["spec"]["seed"].is_null(), "{}", brief(r));
            r["wire"]["seed"].as_u64().expect("a seed recorded")
        })
        .collect();
    assert_eq!(seeds.len(), 4, "{seeds:?}");
}

// ---- the pcapng file ---------------------------------------------------------------------

/// A pcapng file read back: the interfaces' names, and per packet its interface, its
/// frame and its comment.
struct PcapFile {
    interfaces: Vec<String>,
    packets: Vec<(u32, Vec<u8>, Option<String>)>,
}

fn read_pcapng(path: &Path) -> PcapFile {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
    use pcap_file::pcapng::{Block, PcapNgReader};
    let bytes = std::fs::read(path).expect("the pcapng file");
    let mut r = PcapNgReader::new(bytes.as_slice()).expect("a section header");
    let mut packets = Vec::new();
    while let Some(b) = r.next_block() {
        if let Block::EnhancedPacket(e) = b.expect("a block") {
            let comment = e.options.iter().find_map(|o| match o {
                EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                _ => None,
            });
            packets.push((e.interface_id, e.data.to_vec(), comment));
        }
    }
    let interfaces = r
        .interfaces()
        .iter()
        .map(|i| {
            i.options
                .iter()
                .find_map(|o| match o {
                    InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                    _ => None,
                })
                .unwrap_or_default()
        })
        .collect();
    PcapFile {
        interfaces,
        packets,
    }
}

/// Whether an Ethernet frame is a TCP SYN without ACK.
fn is_syn(frame: &[u8]) -> bool {
    use etherparse::{SlicedPacket, TransportSlice};
    matches!(
        SlicedPacket::from_ethernet(frame).map(|p| p.transport),
        Ok(Some(TransportSlice::Tcp(t))) if t.syn() && !t.ack()
    )
}

/// The same exchange with no hosts: it runs on the clean room's loopback.
fn on_loopback(text: &str) -> String {
    text.replace("host = \"a\"\n", "")
        .replace("host = \"b\"\n", "")
}

#[test]
fn the_pcap_file_holds_each_runs_interfaces_its_packets_and_the_wires_notes() {
    let wire = one_byte_exchange("nt-pcap-wire", "\"a>b\" = { drop_fin = 1 }");
    let lo = on_loopback(&one_byte_exchange("nt-pcap-lo", ""));
    let files = scenarios(&[&wire, &lo]);
    let pcap = files.dir.path().join("runs.pcapng");
    let pcap_arg = pcap.to_str().expect("a UTF-8 path");
    let Some(records) = run_records("pcap", &files, &["--pcap", pcap_arg]) else {
        return;
    };
    assert_eq!(records.len(), 2);
    let file = read_pcapng(&pcap);
    // One interface per capture point and run: hosts a and b, then the loopback.
    assert_eq!(file.interfaces, ["run1:a", "run1:b", "run2:lo"]);
    let all: usize = records.iter().map(|r| packets(r).len()).sum();
    assert_eq!(file.packets.len(), all, "{}", brief(&records[0]));
    for (first, r) in [(0u32, &records[0]), (2, &records[1])] {
        let points = if first == 0 { 2 } else { 1 };
        let of_run: Vec<_> = file
            .packets
            .iter()
            .filter(|(i, _, _)| (first..first + points).contains(i))
            .collect();
        assert_eq!(of_run.len(), packets(r).len(), "{}", brief(r));
        assert!(
            of_run.iter().any(|(_, frame, _)| is_syn(frame)),
            "no SYN among the frames: {}",
            brief(r)
        );
    }
    // A comment on each packet the wire acted on, and on no other.
    let noted: Vec<String> = packets(&records[0])
        .iter()
        .filter_map(|p| p["wire"].as_str().map(str::to_owned))
        .collect();
    let comments: Vec<String> = file
        .packets
        .iter()
        .filter_map(|(_, _, c)| c.clone())
        .collect();
    assert_eq!(noted, ["dropped: FIN #1"], "{}", brief(&records[0]));
    assert_eq!(comments, noted);
}

// ---- the ladder diagram ------------------------------------------------------------------

/// The classes of every `<g>` element of an SVG document whose class list has `class`.
fn groups_of_class<'a>(doc: &'a roxmltree::Document, class: &str) -> Vec<&'a str> {
    doc.descendants()
        .filter(|n| n.has_tag_name("g"))
        .filter_map(|n| n.attribute("class"))
        .filter(|c| c.split_whitespace().any(|w| w == class))
        .collect()
}

#[test]
fn the_svg_ladder_parses_and_draws_one_arrow_per_packet_sent() {
    let text = one_byte_exchange("nt-svg", "\"a>b\" = { drop_fin = 1 }");
    let files = scenarios(&[&text]);
    let svg = files.dir.path().join("ladder.svg");
    let svg_arg = svg.to_str().expect("a UTF-8 path");
    let Some(records) = run_records("svg", &files, &["--format", "svg", "-o", svg_arg]) else {
        return;
    };
    let r = &records[0];
    let body = std::fs::read_to_string(&svg).expect("the SVG file");
    let doc = roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("not XML ({e}): {body}"));
    assert!(doc.root_element().has_tag_name("svg"));
    // Too few packets to fold a train: every packet sent is an arrow to where it arrived,
    // or, dropped, to the wire.
    assert!(groups_of_class(&doc, "fold").is_empty(), "{body}");
    let sent = packets(r).iter().filter(|p| p["way"] == "out").count();
    let arrived = packets(r).iter().filter(|p| p["way"] == "in").count();
    assert_eq!(arrived + 1, sent, "one frame dropped: {}", brief(r));
    let arrows = groups_of_class(&doc, "arrow");
    assert_eq!(arrows.len(), sent, "{body}\n{}", brief(r));
    let dropped: Vec<&&str> = arrows
        .iter()
        .filter(|c| c.split_whitespace().any(|w| w == "dropped"))
        .collect();
    assert_eq!(dropped.len(), 1, "{arrows:?}");
}

#[test]
fn the_html_report_holds_each_runs_ladder_as_inline_svg() {
    let text = one_byte_exchange("nt-html", "");
    let files = scenarios(&[&text]);
    let html = files.dir.path().join("ladder.html");
    let html_arg = html.to_str().expect("a UTF-8 path");
    let args = ["--engine", "all", "--format", "html", "-o", html_arg];
    let Some(records) = run_records("html", &files, &args) else {
        return;
    };
    assert_eq!(records.len(), 2);
    let page = std::fs::read_to_string(&html).expect("the HTML file");
    let svgs: Vec<&str> = page
        .match_indices("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ladder\"")
        .map(|(at, _)| {
            let end = page[at..].find("</svg>").expect("a closed <svg>") + "</svg>".len();
            &page[at..at + end]
        })
        .collect();
    assert_eq!(svgs.len(), records.len(), "{page}");
    for svg in svgs {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        assert!(!groups_of_class(&doc, "arrow").is_empty(), "{svg}");
    }
}

// ---- rooms: as root and as an ordinary user ----------------------------------------------

#[test]
fn as_root_a_wire_run_makes_its_namespaces_with_unshare() {
    if !is_root() {
        skipped("as_root_...", "not root");
        return;
    }
    let Some(records) = records_of("as_root", &dial_and_close("nt-root"), &[]) else {
        return;
    };
    let room = &records[0]["env"]["room"];
    assert_eq!(room["kind"], "wire", "{room}");
    assert_eq!(room["via"], "unshare(CLONE_NEWNET)", "{room}");
    assert_outcome(&records[0], "dial", "ok");
}

/// A folder any user can enter and read, holding a copy of the binary (the target folder
/// may sit below one only root can enter) and `text` as a scenario file.
struct OpenCopy {
    dir: tempfile::TempDir,
    bin: PathBuf,
    scenario: PathBuf,
}

fn open_copy(text: &str) -> OpenCopy {
    use std::os::unix::fs::PermissionsExt;
    let open = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    open(dir.path(), 0o755);
    let bin = dir.path().join("tcplab");
    std::fs::copy(assert_cmd::cargo::cargo_bin("tcplab"), &bin).expect("copy the binary");
    open(&bin, 0o755);
    let scenario = write_scenario(dir.path(), "network/nt-open.toml", text);
    open(&dir.path().join("network"), 0o755);
    open(&scenario, 0o644);
    OpenCopy { dir, bin, scenario }
}

/// Whether this system lets an ordinary user make a user namespace (SKIPPED said if not).
fn user_namespaces_allowed(test: &str) -> bool {
    let allowed = |path: &str| {
        std::fs::read_to_string(path)
            .map(|v| v.trim() != "0")
            .unwrap_or(true)
    };
    let ok = allowed("/proc/sys/user/max_user_namespaces")
        && allowed("/proc/sys/kernel/unprivileged_userns_clone");
    if !ok {
        skipped(test, "this system forbids unprivileged user namespaces");
    }
    ok
}

#[test]
fn an_unprivileged_wire_run_passes_in_a_user_namespace() {
    let test = "an_unprivileged_wire_run_passes_in_a_user_namespace";
    if !user_namespaces_allowed(test) {
        return;
    }
    let text = one_byte_exchange("nt-open", "both = { delay = \"5ms\" }");
    let copy = open_copy(&text);
    let setpriv = Path::new("/usr/bin/setpriv");
    let mut cmd = if is_root() {
        if !setpriv.exists() {
            skipped(
                test,
                "as root it needs /usr/bin/setpriv (util-linux) to become nobody",
            );
            return;
        }
        let mut c = StdCommand::new(setpriv);
        c.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "--"])
            .arg(&copy.bin);
        c
    } else {
        StdCommand::new(&copy.bin)
    };
    cmd.env_remove("TCPLAB_SCENARIOS")
        .current_dir(copy.dir.path())
        .arg("--scenarios")
        .arg(copy.dir.path())
        .arg("run")
        .arg(&copy.scenario)
        .args(["--record", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let _shared = sharing_descriptors();
    let mut child = cmd.spawn().expect("start tcplab as an ordinary user");
    let (stdout, stderr) = drain(&mut child);
    let Some(status) = child.wait_timeout(COMMAND_LIMIT).expect("wait") else {
        let _ = child.kill();
        panic!("tcplab did not end within {COMMAND_LIMIT:?}");
    };
    if status.code() != Some(0) && stderr.starts_with("setpriv:") {
        skipped(
            test,
            &format!("setpriv cannot become nobody here: {}", stderr.trim()),
        );
        return;
    }
    if status.code() == Some(2) && stderr.contains(NO_NAMESPACES) {
        skipped(
            test,
            &format!("nobody cannot make namespaces here: {}", stderr.trim()),
        );
        return;
    }
    assert_eq!(
        status.code(),
        Some(0),
        "stderr:\n{stderr}\nstdout:\n{stdout}"
    );
    let r: Value = serde_json::from_str(stdout.lines().next().expect("a record"))
        .unwrap_or_else(|e| panic!("not a record ({e}): {stdout}"));
    let room = &r["env"]["room"];
    assert_eq!(room["kind"], "wire", "{room}");
    assert!(
        room["via"]
            .as_str()
            .is_some_and(|v| v.contains("user namespace")),
        "{room}"
    );
    assert_outcome(&r, "rt", "ok");
    assert!(r["wire"]["error"].is_null(), "{}", brief(&r));
}

/// A child's stdout and stderr, read to their ends on threads of their own (the child
/// exits or is killed within the caller's bound; the pipes close with it).
fn drain(child: &mut Child) -> (String, String) {
    let read = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().expect("piped stdout")));
    let err = read(Box::new(child.stderr.take().expect("piped stderr")));
    (
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    )
}

// ---- nothing left behind -----------------------------------------------------------------

/// The machine's own network interfaces.
fn host_interfaces() -> BTreeSet<String> {
    std::fs::read_dir("/sys/class/net")
        .expect("/sys/class/net")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn fifty_wire_runs_pass_and_leave_no_interface_on_the_host() {
    let before = host_interfaces();
    let Some(records) = records_of("fifty", &dial_and_close("nt-fifty"), &["--repeat", "50"])
    else {
        return;
    };
    assert_eq!(records.len(), 50);
    for r in &records {
        assert_outcome(r, "dial", "ok");
        assert_eq!(r["env"]["room"]["kind"], "wire", "{}", brief(r));
    }
    assert_eq!(host_interfaces(), before);
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

#[test]
fn fifty_wire_runs_in_this_process_leave_no_descriptor_open() {
    use tcplab::scenario::Engine;
    let files = scenarios(&[&dial_and_close("nt-descriptors")]);
    let s = tcplab::scenario::load(Some(files.dir.path()), &files.paths[0]).expect("load");
    let params = s.resolve_params(&[]).expect("parameters");
    // Alone: no other test's pipes open while counting.
    let _alone = DESCRIPTORS.write().unwrap_or_else(|e| e.into_inner());
    let run = |engine| match tcplab::lab::run_scenario(engine, &s, &params) {
        Ok(r) => Some(r),
        Err(e) if e.to_string().contains(NO_NAMESPACES) => None,
        Err(e) => panic!("{e}"),
    };
    // A first run of each engine, for whatever is made once per process.
    for engine in [Engine::Std, Engine::Tokio] {
        if run(engine).is_none() {
            skipped(
                "fifty_wire_runs_in_this_process_...",
                "no network namespaces here",
            );
            return;
        }
    }
    let before = open_descriptors();
    for i in 0..50 {
        let engine = if i % 2 == 0 {
            Engine::Std
        } else {
            Engine::Tokio
        };
        let r = run(engine).expect("the room as before");
        assert!(r.wire.is_some_and(|w| w.error.is_none()));
    }
    assert_eq!(open_descriptors(), before);
}

// ---- killed in the middle of a run -------------------------------------------------------

/// A `tcplab run` whose stdout arrives in chunks on a channel.
struct Running {
    child: Child,
    chunks: mpsc::Receiver<Vec<u8>>,
    stdout: Vec<u8>,
}

impl Running {
    fn start(files: &Scenarios) -> Running {
        let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("tcplab"))
            .env_remove("TCPLAB_SCENARIOS")
            .arg("--scenarios")
            .arg(files.dir.path())
            .arg("run")
            .args(&files.paths)
            .args(["--record", "-"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tcplab");
        let mut out = child.stdout.take().expect("piped stdout");
        let (tx, chunks) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            chunks,
            stdout: Vec::new(),
        }
    }

    /// Reads stdout until its first whole line, or its end (tcplab exited: a refusal);
    /// panics (killing tcplab) after the limit.
    fn first_line(&mut self) -> String {
        let deadline = Instant::now() + COMMAND_LIMIT;
        while !self.stdout.contains(&b'\n') {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(c) => self.stdout.extend(c),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("no line on stdout within {COMMAND_LIMIT:?}");
                }
            }
        }
        let text = String::from_utf8_lossy(&self.stdout);
        text.lines().next().unwrap_or_default().to_owned()
    }

    /// The network namespaces the process holds descriptors of (`net:[4026532239]`).
    fn namespaces_held(&self) -> BTreeSet<String> {
        let fds = format!("/proc/{}/fd", self.child.id());
        std::fs::read_dir(fds)
            .into_iter()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .map(|l| l.to_string_lossy().into_owned())
            .filter(|l| l.starts_with("net:["))
            .collect()
    }

    /// Waits until the process holds the namespaces of two hosts (it is inside a run on
    /// the wire), or the limit passes; returns them.
    fn inside_a_wire_run(&mut self) -> BTreeSet<String> {
        let deadline = Instant::now() + COMMAND_LIMIT;
        loop {
            let held = self.namespaces_held();
            if held.len() >= 2 {
                return held;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("tcplab never held two hosts' namespaces");
            }
            thread::yield_now();
        }
    }

    /// SIGKILL, then waits for it within the limit.
    fn kill(mut self) -> std::process::ExitStatus {
        self.child.kill().expect("SIGKILL tcplab");
        match self
            .child
            .wait_timeout(COMMAND_LIMIT)
            .expect("wait for tcplab")
        {
            Some(status) => status,
            None => panic!("tcplab did not end within {COMMAND_LIMIT:?} of SIGKILL"),
        }
    }
}

/// Processes whose command line mentions `marker` (a test's own temporary folder): the
/// tcplab it started, and any child that process forked.
fn processes_mentioning(marker: &Path) -> Vec<(i32, String)> {
    let marker = marker.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| {
            let e = e.ok()?;
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&marker).then_some((pid, cmdline))
        })
        .collect()
}

/// Mounts that keep a network namespace alive by name (ip netns add, a bind mount).
fn namespace_mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("/proc/self/mountinfo")
        .lines()
        .filter(|l| l.contains("net:["))
        .map(str::to_owned)
        .collect()
}

/// A quick wire run, then one that blocks in a poll for 3 s.
fn quick_then_blocked(blocked_client: &str) -> Scenarios {
    let blocked = on_two_hosts(
        "nt-blocked",
        "",
        &format!(
            r#"{LISTEN_AND_ACCEPT}
  {{ op = "wait", sync = "done" }},"#
        ),
        &format!(
            r#"{DIAL}
{blocked_client}
  {{ op = "signal", sync = "done" }},"#
        ),
        "",
    );
    scenarios(&[&dial_and_close("nt-quick"), &blocked])
}

#[test]
fn a_run_killed_on_the_wire_leaves_no_interface_process_or_namespace_behind() {
    let _shared = sharing_descriptors();
    let before = host_interfaces();
    let mounts = namespace_mounts();
    let files =
        quick_then_blocked(r#"  { op = "poll", sock = "s", for = "in", timeout_ms = 3000 },"#);
    let mut run = Running::start(&files);
    let first = run.first_line();
    if !first.starts_with('{') {
        let status = run.kill();
        skipped(
            "a_run_killed_...",
            &format!("no record ({status}): {first}"),
        );
        return;
    }
    let held = run.inside_a_wire_run();
    let status = run.kill();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(host_interfaces(), before);
    assert_eq!(processes_mentioning(files.dir.path()), []);
    assert_eq!(namespace_mounts(), mounts, "held {held:?}");
}

// The child a `write_in_child` step forks must die with tcplab (src/sys/unix/child.rs sets
// PR_SET_PDEATHSIG): without it, SIGKILLed while that child is blocked in its write,
// tcplab left it running, re-parented to init, in the run's namespace W, holding the
// connection and tcplab's stdout, until TCP gave up on the write.
#[test]
fn a_run_killed_during_a_blocked_write_in_child_leaves_no_process_behind() {
    let _shared = sharing_descriptors();
    // The server never reads: 32 MiB fill both buffers and the child's write blocks.
    let files = quick_then_blocked(
        r#"  { op = "write_in_child", sock = "s", bytes = "32MiB", sigpipe = "ignore", timeout_ms = 3000 },"#,
    );
    let mut run = Running::start(&files);
    let first = run.first_line();
    if !first.starts_with('{') {
        let status = run.kill();
        skipped(
            "a_run_killed_during_...",
            &format!("no record ({status}): {first}"),
        );
        return;
    }
    let pid = run.child.id();
    run.inside_a_wire_run();
    // Bounded: the child exists once /proc shows tcplab with a child process.
    let deadline = Instant::now() + COMMAND_LIMIT;
    while processes_mentioning(files.dir.path()).len() < 2 && Instant::now() < deadline {
        thread::yield_now();
    }
    let status = run.kill();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let left = processes_mentioning(files.dir.path());
    // Clean up what this test made, by pid, before failing.
    for (p, _) in &left {
        // SAFETY: kill(2) of a process this test's tcplab (pid `pid`) forked.
        unsafe { libc::kill(*p, libc::SIGKILL) };
    }
    assert_eq!(left, [], "left behind by tcplab {pid}");
}

// ---- bad input at run time ---------------------------------------------------------------

#[test]
fn a_loss_set_past_its_parameters_bound_is_a_usage_error_naming_the_bound() {
    let output = common::tcplab()
        .args(["run", "loss", "--set", "loss=150"])
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`--set loss=150`: loss is at most 20"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing ran");
}

#[test]
fn a_parameter_feeding_a_fault_may_not_reach_past_the_faults_bound() {
    // The parameter's own bound (1000) is past the fault's (100%): refused before any
    // run, at the line of the fault.
    let text = on_two_hosts(
        "nt-loss-param",
        "both = { loss = \"loss\" }",
        &format!("{LISTEN_AND_ACCEPT}\n  {{ op = \"wait\", sync = \"done\" }},"),
        &format!("{DIAL}\n  {{ op = \"signal\", sync = \"done\" }},"),
        "",
    )
    .replace(
        "timeout_ms = 10000\n",
        "timeout_ms = 10000\n\n[params]\nloss = { type = \"int\", default = 3, min = 0, max = 1000, unit = \"%\", help = \"h\" }\n",
    );
    let files = scenarios(&[&text]);
    let output = tcplab_with(files.dir.path())
        .arg("run")
        .arg(&files.paths[0])
        .args(["--set", "loss=150"])
        .timeout(COMMAND_LIMIT)
        .output()
        .expect("run tcplab");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let line = common::line_of(&text, "both = { loss");
    let place = format!("{}:{line}: wire.both.loss", files.paths[0].display());
    assert!(stderr.contains(&place), "expected {place:?} in {stderr}");
    assert!(stderr.contains("outside 0%..=100%"), "{stderr}");
}

#[test]
fn a_wire_scenario_under_room_host_still_runs_on_its_own_hosts() {
    let Some(records) = records_of(
        "room_host",
        &dial_and_close("nt-room-host"),
        &["--room", "host"],
    ) else {
        return;
    };
    let r = &records[0];
    assert_eq!(r["env"]["room"]["kind"], "wire", "{}", brief(r));
    assert_eq!(
        r["capture"]["points"],
        serde_json::json!(["a=eth0", "b=eth0"])
    );
    assert_outcome(r, "dial", "ok");
}
