//! `tcplab check` on the network tier's parts of a scenario: hosts, the `[wire]` table,
//! `wire` steps and packet figures. Every mistake is exit 2 with the file, the line and the field.

mod common;

use common::{line_of, tcplab, write_scenario};

/// A scenario on two hosts whose `[wire]` table and steps are `wire` and `steps`.
fn on_wire(wire: &str, client_host: &str, steps: &str) -> String {
    format!(
        r#"name = "bad-wire"
title = "t"
summary = "s"
description = "d"
source = "s"
{wire}

[[actors]]
name = "server"
host = "b"
steps = [
  {{ op = "listen", as = "l", backlog = 1 }},
  {{ op = "signal", sync = "up" }},
]

[[actors]]
name = "client"
host = "{client_host}"
steps = [
  {{ op = "wait", sync = "up" }},
  {{ op = "connect", to = "l", as = "s" }},
{steps}
]
"#
    )
}

/// Runs `check` on `text` and returns its stderr, asserting exit 2 and the place: the
/// line containing `needle`.
fn rejected(text: &str, needle: &str, field: &str, message: &str) -> String {
    rejected_at(text, line_of(text, needle), field, message)
}

/// [`rejected`] at a line given by number.
fn rejected_at(text: &str, line: usize, field: &str, message: &str) -> String {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write_scenario(dir.path(), "network/bad.toml", text);
    let out = tcplab()
        .arg("check")
        .arg(&path)
        .output()
        .expect("run tcplab check");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let place = format!("{}:{line}: {field}", path.display());
    assert!(stderr.contains(&place), "expected {place:?} in {stderr}");
    assert!(stderr.contains(message), "expected {message:?} in {stderr}");
    stderr
}

#[test]
fn a_loss_above_100_percent_names_the_bound() {
    let text = on_wire("[wire]\nboth = { loss = \"150%\" }", "a", "");
    rejected(&text, "150%", "wire.both.loss", "outside 0%..=100%");
}

#[test]
fn a_negative_delay_is_rejected() {
    let text = on_wire("[wire]\n\"a>b\" = { delay = -1 }", "a", "");
    rejected(&text, "delay = -1", "wire.a>b.delay", "must be 0 or more");
}

#[test]
fn an_unknown_direction_suggests_the_directions() {
    let text = on_wire("[wire]\n\"a>c\" = { delay = 1 }", "a", "");
    rejected(&text, "a>c", "wire.a>c", "known: seed, both, a>b, b>a");
}

#[test]
fn an_unknown_host_suggests_the_hosts() {
    let text = on_wire("", "c", "");
    rejected(
        &text,
        "host = \"c\"",
        "actors[1] (client).host",
        "unknown host `c`",
    );
}

#[test]
fn a_misspelt_fault_suggests_the_closest() {
    let text = on_wire("", "a", "  { op = \"wire\", set = { lose = \"2%\" } },");
    rejected(&text, "lose", "client step", "did you mean loss?");
}

#[test]
fn a_wire_step_with_an_unknown_direction_is_rejected() {
    let text = on_wire(
        "",
        "a",
        "  { op = \"wire\", set = \"blackhole\", dir = \"up\" },",
    );
    rejected(
        &text,
        "dir = \"up\"",
        "client step",
        "unknown direction (`dir`) `up`",
    );
}

#[test]
fn a_reset_toward_an_unknown_host_is_rejected() {
    let text = on_wire("", "a", "  { op = \"wire\", reset = \"c\" },");
    rejected(&text, "reset = \"c\"", "client step", "unknown host `c`");
}

#[test]
fn a_wire_without_hosts_is_rejected() {
    let text = on_wire("", "a", "  { op = \"wire\", set = \"blackhole\" },")
        .replace("host = \"b\"\n", "")
        .replace("host = \"a\"\n", "");
    rejected(&text, "op = \"wire\"", "client step", "needs a wire");
}

#[test]
fn actors_half_on_hosts_are_rejected() {
    let text = on_wire("", "a", "").replace("host = \"a\"\n", "");
    // the client's `[[actors]]` table, the line before its name
    let table = line_of(&text, "name = \"client\"") - 1;
    rejected_at(&text, table, "actors[1] (client).host", "every actor needs");
}

#[test]
fn a_valid_wire_scenario_passes() {
    let text = on_wire(
        "[wire]\nseed = 3\nboth = { delay = \"5ms\", jitter = \"1ms\" }\n\"a>b\" = { loss = 2, drop_fin = 1 }",
        "a",
        "  { op = \"wire\", set = { rate = \"10Mbit\", queue = 20 }, dir = \"b>a\" },\n  { op = \"wire\", clear = [\"rate\", \"queue\"] },\n  { op = \"wire\", reset = \"b\" },",
    );
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write_scenario(dir.path(), "network/ok.toml", &text);
    let out = tcplab()
        .arg("check")
        .arg(&path)
        .output()
        .expect("run check");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn two_actors_making_one_socket_name_are_rejected() {
    // Both clients would make `s`: one socket, shared and overwritten.
    let text = on_wire("", "a", "").replace(
        "  { op = \"listen\", as = \"l\", backlog = 1 },",
        "  { op = \"listen\", as = \"l\", backlog = 1 },\n  { op = \"bind\", as = \"s\" },",
    );
    rejected(
        &text,
        "op = \"connect\", to = \"l\", as = \"s\"",
        "client step",
        "`server` already makes a socket called `s`",
    );
}

#[test]
fn a_packet_figure_with_a_missing_argument_is_rejected() {
    let text = format!(
        "{}\n[observations]\nsegs = {{ packets = \"segments(a)\", help = \"h\" }}\n",
        on_wire("", "a", "")
    );
    rejected(
        &text,
        "segs = {",
        "observations.segs.packets",
        "packet figure `segments` wants 2 argument(s)",
    );
}

#[test]
fn a_largest_segment_at_an_unknown_point_is_rejected() {
    let text = format!(
        "{}\n[observations]\nbig = {{ packets = \"largest_segment(c, out)\", help = \"h\" }}\n",
        on_wire("", "a", "")
    );
    rejected(
        &text,
        "big = {",
        "observations.big.packets",
        "unknown capture point `c` (lo, a, b)",
    );
}

#[test]
fn a_packet_figure_naming_an_unknown_actor_or_socket_is_rejected() {
    let with = |key: &str| {
        format!(
            "{}\n[observations]\nsegs = {{ packets = \"segments(a, {key})\", help = \"h\" }}\n",
            on_wire("", "a", "")
        )
    };
    rejected(
        &with("clinet:s"),
        "segs = {",
        "observations.segs.packets",
        "there is no actor `clinet` (did you mean client?); actors: server, client",
    );
    rejected(
        &with("server:s"),
        "segs = {",
        "observations.segs.packets",
        "`server` makes no socket `s`: `client` makes it (`client:s`)",
    );
    rejected(
        &with("client:ss"),
        "segs = {",
        "observations.segs.packets",
        "`client` makes no socket `ss` (did you mean s?); it makes: s",
    );
}

#[test]
fn a_packet_figure_naming_a_socket_that_sends_nothing_of_its_own_is_rejected() {
    // A listener's SYN-ACKs belong to the connections accept makes.
    let text = format!(
        "{}\n[observations]\nsyns = {{ packets = \"packets(b, server:l, SYN|ACK)\", help = \"h\" }}\n",
        on_wire("", "a", "")
    );
    rejected(
        &text,
        "syns = {",
        "observations.syns.packets",
        "`server:l` is made by `listen`: a WAY names a connected socket",
    );
}

#[test]
fn an_unknown_packet_figure_suggests_the_closest() {
    let text = format!(
        "{}\n[observations]\nsegs = {{ packets = \"segment(a, out)\", help = \"h\" }}\n",
        on_wire("", "a", "")
    );
    rejected(
        &text,
        "segs = {",
        "observations.segs.packets",
        "unknown packet figure `segment` (did you mean segments?)",
    );
}

#[test]
fn a_packet_figure_naming_a_socket_its_actor_makes_passes() {
    let text = format!(
        "{}\n[observations]\nsegs = {{ packets = \"segments(a, client:s)\", help = \"h\" }}\n",
        on_wire("", "a", "")
    );
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write_scenario(dir.path(), "network/good.toml", &text);
    let out = tcplab()
        .arg("check")
        .arg(&path)
        .output()
        .expect("run tcplab check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_packet_figure_at_a_point_the_run_does_not_capture_is_rejected() {
    let text = format!(
        "{}\n[observations]\nsegs = {{ packets = \"segments(lo, client:s)\", help = \"h\" }}\n",
        on_wire("", "a", "")
    );
    rejected(
        &text,
        "segs = {",
        "observations.segs.packets",
        "its packets are captured at `a` and `b`, not `lo`",
    );
    // The same scenario on loopback: no hosts, so no point a.
    let on_loopback = text
        .replace("host = \"b\"\n", "")
        .replace("host = \"a\"\n", "")
        .replace("segments(lo, client:s)", "segments(a, client:s)");
    rejected(
        &on_loopback,
        "segs = {",
        "observations.segs.packets",
        "its packets are captured at `lo`, not `a`",
    );
}
