//! The validation's unit tests: each rule of the format, on a small two-actor file.

use std::path::Path;

use super::*;

/// A valid two-actor scenario; `extra` is appended (more tables), `step` replaces the
/// client's middle step.
fn file(step: &str, extra: &str) -> String {
    format!(
        r#"name = "t"
title = "t"
summary = "s"
description = "d"
source = "s"

[params]
n = {{ default = 2, help = "h" }}

[[actors]]
name = "server"
steps = [
  {{ op = "bind", as = "p" }},
  {{ op = "signal", sync = "bound" }},
]

[[actors]]
name = "client"
steps = [
  {{ op = "wait", sync = "bound" }},
  {step},
]

[observations]
dial = {{ step = "dial", take = "outcome", help = "h" }}
{extra}"#
    )
}

const DIAL: &str = r#"{ op = "connect", id = "dial", to = "p", as = "c" }"#;

fn valid(text: &str) -> Scenario {
    parse(Path::new("t.toml"), text, "misc").expect("the file should parse")
}

fn error(text: &str) -> ScenarioError {
    parse(Path::new("t.toml"), text, "misc").expect_err("the file should be rejected")
}

#[test]
fn a_valid_file_parses() {
    let s = parse(Path::new("t.toml"), &file(DIAL, ""), "misc").unwrap();
    assert_eq!(s.actors.len(), 2);
    assert_eq!(s.actors[1].steps[1].line, 21);
    assert_eq!(s.observations[0].take, Take::Outcome);
}

#[test]
fn an_explain_table_parses_and_its_texts_are_trimmed() {
    let extra = "[explain]\nshows = \" s \"\nwhy = \"w\"\nread = [\"tcp(7)\"]\n";
    let s = parse(Path::new("t.toml"), &file(DIAL, extra), "misc").unwrap();
    let e = s.explain.expect("an explanation");
    assert_eq!(e.shows, "s");
    assert_eq!(e.elsewhere, None);
    assert_eq!(e.read, ["tcp(7)"]);
}

#[test]
fn an_explain_table_needs_something_to_read_and_known_keys() {
    let e = error(&file(
        DIAL,
        "[explain]\nshows = \"s\"\nwhy = \"w\"\nread = []\n",
    ));
    assert_eq!(e.field.as_deref(), Some("explain.read"), "{e}");
    assert_eq!(e.line, Some(29), "{e}");
    let e = error(&file(
        DIAL,
        "[explain]\nshows = \"s\"\nwhy = \"w\"\nread = [\"r\"]\nsee = \"x\"\n",
    ));
    assert!(e.message.contains("see"), "{e}");
    assert_eq!(e.line, Some(30), "{e}");
    let e = error(&file(
        DIAL,
        "[explain]\nshows = \"s\"\nwhy = \" \"\nread = [\"r\"]\n",
    ));
    assert_eq!(e.field.as_deref(), Some("explain.why"), "{e}");
}

#[test]
fn an_unknown_op_names_the_line_and_the_closest_op() {
    let e = error(&file(r#"{ op = "conect", to = "p", as = "c" }"#, ""));
    assert_eq!(e.line, Some(21));
    assert!(e.message.contains("did you mean connect"), "{e}");
}

#[test]
fn setting_a_read_only_option_is_rejected() {
    let e = error(&file(
        r#"{ op = "set", id = "dial", sock = "p", option = "SO_ERROR", value = 0 }"#,
        "",
    ));
    assert!(e.message.contains("can only be read"), "{e}");
}

#[test]
fn a_socket_nobody_creates_is_rejected() {
    let e = error(&file(
        r#"{ op = "connect", id = "dial", to = "q", as = "c" }"#,
        "",
    ));
    assert!(e.message.contains("no step creates the socket `q`"), "{e}");
}

#[test]
fn an_observation_named_like_a_parameter_is_rejected() {
    let text = file(DIAL, "").replace("dial = {", "n = {");
    assert!(error(&text).message.contains("also a parameter"));
}

#[test]
fn expectations_must_name_their_basis_and_known_observations() {
    let e = error(&file(DIAL, "[expect.linux]\ndial = \"ok\"\n"));
    assert!(e.message.contains("measured"), "{e}");
    let e = error(&file(
        DIAL,
        "[expect.linux]\nmeasured = \"m\"\ndail = \"ok\"\n",
    ));
    assert_eq!(e.line, Some(28));
    assert!(e.message.contains("no observation `dail`"), "{e}");
    let e = error(&file(DIAL, "[expect.plan9]\nmeasured = \"m\"\n"));
    assert!(e.message.contains("unknown OS"), "{e}");
}

#[test]
fn expectation_forms_parse_by_observation_type() {
    let s = parse(
        Path::new("t.toml"),
        &file(
            DIAL,
            "[expect.linux]\nmeasured = \"m\"\ndial = [\"ECONNREFUSED\", \"ok\"]\n",
        ),
        "misc",
    )
    .unwrap();
    let (_, e) = &s.expectations[0].values[0];
    assert!(matches!(e, Expected::AnyOf(alts) if alts.len() == 2));
    let e = error(&file(DIAL, "[expect.linux]\nmeasured = \"m\"\ndial = 5\n"));
    assert!(e.message.contains("outcome"), "{e}");
    let e = error(&file(
        DIAL,
        "[expect.linux]\nmeasured = \"m\"\ndial = \"ECONREFUSED\"\n",
    ));
    assert!(e.message.contains("did you mean ECONNREFUSED"), "{e}");
}

#[test]
fn an_engine_table_overrides_same_named_keys_for_that_engine_only() {
    let text = file(
        DIAL,
        "[expect.linux]\nmeasured = \"m\"\ndial = \"ECONNREFUSED\"\n\n[expect.linux.tokio]\nmeasured = \"t\"\nwhy = \"w\"\ndial = \"deadline\"\n",
    );
    let s = parse(Path::new("t.toml"), &text, "misc").unwrap();
    let linux = s.expectations_for("linux").unwrap();
    assert_eq!(linux.why("tokio"), Some("w"));
    let std = linux.for_engine("std");
    assert_eq!(std.values[0].1, Expected::Outcome("ECONNREFUSED".into()));
    assert_eq!(std.basis, Basis::Measured("m".into()));
    let tokio = linux.for_engine("tokio");
    assert_eq!(tokio.values.len(), 1);
    assert_eq!(tokio.values[0].1, Expected::Outcome("deadline".into()));
    assert_eq!(tokio.basis, Basis::Measured("t".into()));
}

#[test]
fn an_unknown_engine_names_the_line_and_the_closest_engine() {
    let text = file(
        DIAL,
        "[expect.linux]\nmeasured = \"m\"\n\n[expect.linux.tokyo]\nmeasured = \"t\"\n",
    );
    let e = error(&text);
    assert_eq!(e.line, Some(29), "{e}");
    assert_eq!(e.field.as_deref(), Some("expect.linux.tokyo"));
    assert!(e.message.contains("did you mean tokio"), "{e}");
}

#[test]
fn an_engine_table_is_checked_like_its_os_table() {
    let base = "[expect.linux]\nmeasured = \"m\"\n\n[expect.linux.tokio]\n";
    let e = error(&file(DIAL, &format!("{base}dial = \"ok\"\n")));
    assert!(e.message.contains("measured"), "{e}");
    let e = error(&file(
        DIAL,
        &format!("{base}measured = \"t\"\n\ndail = \"ok\"\n"),
    ));
    assert_eq!(e.line, Some(32), "{e}");
    assert!(e.message.contains("did you mean dial"), "{e}");
    let e = error(&file(
        DIAL,
        &format!("{base}measured = \"t\"\nskip = [\"dial\"]\n"),
    ));
    assert!(e.message.contains("why"), "{e}");
}

#[test]
fn a_when_on_an_unknown_parameter_is_rejected() {
    let text = file(
        DIAL,
        "[expect.linux]\nmeasured = \"m\"\ndial = { value = \"ok\", when = \"nope\" }\n",
    );
    assert!(error(&text).message.contains("names no parameter"));
}

#[test]
fn a_counter_observation_takes_only_a_lower_bound() {
    let obs = "aborts = { counter = \"TcpExt.TCPAbortOnClose\", help = \"h\" }\n";
    let ok = format!("{obs}[expect.linux]\nmeasured = \"m\"\naborts = {{ min = 1 }}\n");
    let s = parse(Path::new("t.toml"), &file(DIAL, &ok), "misc").unwrap();
    assert_eq!(s.observation("aborts").unwrap().take, Take::Counter);
    for bad in [
        "aborts = 1",
        "aborts = { min = 1, max = 3 }",
        "aborts = { max = 3 }",
    ] {
        let text = file(
            DIAL,
            &format!("{obs}[expect.linux]\nmeasured = \"m\"\n{bad}\n"),
        );
        assert!(error(&text).message.contains("lower bound"), "{bad}");
    }
}

#[test]
fn a_counter_name_must_have_a_known_group() {
    let e = error(&file(
        DIAL,
        "x = { counter = \"ListenOverflows\", help = \"h\" }\n",
    ));
    assert!(e.message.contains("Group.Name"), "{e}");
    let e = error(&file(DIAL, "x = { counter = \"Foo.Bar\", help = \"h\" }\n"));
    assert!(e.message.contains("Group.Name"), "{e}");
}

// ---- what only this machine can tell: warnings, never errors ---------------------------

#[test]
fn a_counter_this_kernel_lacks_is_a_warning_with_the_closest_names() {
    let s = valid(&file(
        DIAL,
        "x = { counter = \"TcpExt.ListenOverflow\", help = \"h\" }\n",
    ));
    // Where counters cannot be read (not Linux), nothing can be said about the name.
    if crate::sys::net_counters().is_some() {
        let [w] = &s.warnings[..] else {
            panic!("one warning expected: {:?}", s.warnings)
        };
        assert_eq!(w.field.as_deref(), Some("observations.x"));
        assert_eq!(w.line, Some(26), "{w}");
        assert!(
            w.message.contains("did you mean TcpExt.ListenOverflows"),
            "{w}"
        );
    }
}

#[test]
fn an_errno_of_another_system_is_a_warning_not_an_error() {
    // EDOOFUS is FreeBSD's; the lab reports it nowhere, Linux has no such errno.
    let s = valid(&file(
        DIAL,
        "[expect.linux]\nmeasured = \"m\"\ndial = [\"EDOOFUS\", \"ok\"]\n",
    ));
    let [w] = &s.warnings[..] else {
        panic!("one warning expected: {:?}", s.warnings)
    };
    assert_eq!(w.field.as_deref(), Some("expect.linux.dial"));
    assert_eq!(w.line, Some(28), "{w}");
    assert!(w.message.contains("no errno `EDOOFUS`"), "{w}");
}

#[test]
fn an_errno_this_system_reports_gives_no_warning() {
    let s = valid(&file(
        DIAL,
        "[expect.linux]\nmeasured = \"m\"\ndial = \"ECONNREFUSED\"\n",
    ));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn an_errno_shaped_name_of_no_system_is_still_an_error() {
    let e = error(&file(
        DIAL,
        "[expect.linux]\nmeasured = \"m\"\ndial = \"EMADEUP\"\n",
    ));
    assert!(e.message.contains("is not an outcome"), "{e}");
}

#[test]
fn every_errno_this_system_reports_is_known_on_every_system() {
    // Otherwise a file using it would be valid here and invalid elsewhere.
    for name in crate::sys::errno_names() {
        assert!(
            ERRNO_NAMES.contains(&name) || name.starts_with("WSAE"),
            "{name} is missing from scenario::ERRNO_NAMES"
        );
    }
}

#[test]
fn an_observation_names_a_step_and_take_or_a_counter() {
    let e = error(&file(DIAL, "x = { step = \"dial\", help = \"h\" }\n"));
    assert!(e.message.contains("needs `step` and `take`"), "{e}");
    let e = error(&file(
        DIAL,
        "x = { step = \"dial\", take = \"outcome\", counter = \"Tcp.OutRsts\", help = \"h\" }\n",
    ));
    assert!(e.message.contains("not both"), "{e}");
}

#[test]
fn set_values_are_checked_against_the_parameter_type() {
    let s = parse(Path::new("t.toml"), &file(DIAL, ""), "misc").unwrap();
    assert_eq!(
        s.resolve_params(&[("n".into(), "64KiB".into())]).unwrap()["n"],
        ParamValue::Int(65536)
    );
    let e = s
        .resolve_params(&[("n".into(), "many".into())])
        .unwrap_err();
    assert!(e.contains("`n` takes an integer"), "{e}");
}

// ---------------------------------------------------------------------------------------
// per-engine short explanations
// ---------------------------------------------------------------------------------------

#[test]
fn an_engine_explanation_replaces_the_common_one_for_that_engine_only() {
    let text = file(
        DIAL,
        "\n[engine_explanation]\ntokio = \"under tokio {dial}\"\n",
    )
    .replace(
        "source = \"s\"",
        "source = \"s\"\nexplanation = \"common {dial}\"",
    );
    let s = valid(&text);
    assert_eq!(s.explanation_for("std"), "common {dial}");
    assert_eq!(s.explanation_for("tokio"), "under tokio {dial}");
}

#[test]
fn an_engine_explanation_names_a_known_engine_and_known_placeholders() {
    let e = error(&file(DIAL, "\n[engine_explanation]\nasync = \"x\"\n"));
    assert_eq!(e.field.as_deref(), Some("engine_explanation.async"), "{e}");
    let e = error(&file(DIAL, "\n[engine_explanation]\ntokio = \"{nope}\"\n"));
    assert_eq!(e.field.as_deref(), Some("engine_explanation.tokio"), "{e}");
}
