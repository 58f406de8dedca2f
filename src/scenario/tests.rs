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

// ---- parameters: types, bounds, units -------------------------------------------------

/// `file` with `[params]` holding `p` (one inline table) instead of `n`.
fn with_param(p: &str) -> String {
    file(DIAL, "").replace("n = { default = 2, help = \"h\" }", p)
}

#[test]
fn a_declared_type_parses_its_default_and_bounds_in_its_units() {
    let s = valid(&with_param(
        r#"n = { type = "size", default = "64KiB", min = "1B", max = "16MiB", help = "h" }"#,
    ));
    let p = s.param("n").unwrap();
    assert_eq!(p.kind, ParamKind::Size);
    assert_eq!(p.default, ParamValue::Int(65536));
    assert_eq!((p.min, p.max), (Some(1), Some(16 << 20)));
    let s = valid(&with_param(
        r#"n = { type = "duration", default = "2s", max = "1min", help = "h" }"#
            .replace("1min", "60s")
            .as_str(),
    ));
    assert_eq!(s.param("n").unwrap().default, ParamValue::Int(2000));
}

#[test]
fn an_undeclared_type_is_inferred_from_the_default_as_before() {
    let s = valid(&with_param(r#"n = { default = "64KiB", help = "h" }"#));
    assert_eq!(s.param("n").unwrap().kind, ParamKind::Int);
    let s = valid(&with_param(r#"n = { default = true, help = "h" }"#));
    assert_eq!(s.param("n").unwrap().kind, ParamKind::Bool);
}

#[test]
fn a_free_text_parameter_takes_any_text() {
    let s = valid(&with_param(
        r#"n = { type = "text", default = "reno", help = "h" }"#,
    ));
    let v = s.resolve_params(&[("n".into(), "bbr".into())]).unwrap();
    assert_eq!(v["n"], ParamValue::Text("bbr".into()));
}

#[test]
fn parameter_declarations_that_cannot_hold_are_rejected_with_line_and_field() {
    for (p, why) in [
        (
            r#"n = { type = "sise", default = 1, help = "h" }"#,
            "did you mean size?",
        ),
        (
            r#"n = { type = "int", default = 20, max = 16, help = "h" }"#,
            "the default 20 is outside the bounds: n is at most 16",
        ),
        (
            r#"n = { type = "int", default = 2, min = 5, max = 1, help = "h" }"#,
            "`min` (5) is above `max` (1)",
        ),
        (
            r#"n = { type = "bool", default = true, max = 1, help = "h" }"#,
            "`max` applies to int, size and duration",
        ),
        (
            r#"n = { type = "size", default = 1, unit = "bytes", help = "h" }"#,
            "`unit` is for int parameters",
        ),
        (
            r#"n = { type = "int", default = 1, choices = ["a"], help = "h" }"#,
            "`choices` are for a text parameter",
        ),
        (
            r#"n = { type = "size", default = "lots", help = "h" }"#,
            "default `lots` is not a size",
        ),
        (
            r#"n = { type = "duration", default = 1, max = "5KiB", help = "h" }"#,
            "`max` must be a duration",
        ),
    ] {
        let e = error(&with_param(p));
        assert_eq!(e.line, Some(8), "{p}: {e}");
        assert_eq!(e.field.as_deref(), Some("params.n"), "{p}: {e}");
        assert!(e.message.contains(why), "{p}: {e}");
    }
}

#[test]
fn set_outside_a_bound_names_the_bound_and_the_scenario() {
    let s = valid(&with_param(
        r#"n = { type = "int", default = 4, min = 1, max = 16, unit = "writers", help = "h" }"#,
    ));
    let e = s.resolve_params(&[("n".into(), "100".into())]).unwrap_err();
    assert_eq!(e, "`--set n=100`: n is at most 16 writers (scenario t)");
    let e = s.resolve_params(&[("n".into(), "0".into())]).unwrap_err();
    assert_eq!(e, "`--set n=0`: n is at least 1 writers (scenario t)");
    assert!(
        s.resolve_params(&[("n".into(), "16".into())]).is_ok(),
        "bounds are inclusive"
    );
}

#[test]
fn set_of_an_unknown_name_suggests_the_closest_and_lists_all() {
    let s = valid(&with_param(r#"writers = { default = 4, help = "h" }"#));
    let e = s
        .resolve_params(&[("writer".into(), "1".into())])
        .unwrap_err();
    assert!(
        e.contains("no parameter `writer` (did you mean `writers`?)"),
        "{e}"
    );
    assert!(e.contains("(parameters: writers)"), "{e}");
}

#[test]
fn a_duration_the_watchdog_would_cut_short_is_refused() {
    let s = valid(&with_param(
        r#"n = { type = "duration", default = 100, help = "h" }"#,
    ));
    let e = s
        .resolve_params_under(&[("n".into(), "20s".into())], 15_000)
        .unwrap_err();
    assert!(e.contains("the watchdog ends the run after 15s"), "{e}");
    assert!(e.contains("--timeout-ms above 20s"), "{e}");
    assert!(s
        .resolve_params_under(&[("n".into(), "20s".into())], 50_000)
        .is_ok());
}

// ---- the memory guard -----------------------------------------------------------------

/// A file whose client writes `n` bytes in each of `count` instances.
fn writer_file(count: &str) -> String {
    with_param(r#"n = { type = "size", default = "1KiB", help = "h" }"#)
        .replace(
            "name = \"client\"\n",
            &format!("name = \"client\"\ncount = \"{count}\"\n"),
        )
        .replace(
            DIAL,
            &format!("{DIAL},\n  {{ op = \"write_all\", sock = \"c\", bytes = \"n\" }}"),
        )
}

#[test]
fn the_memory_guard_adds_a_steps_buffers_over_an_actors_instances() {
    let s = valid(&writer_file("3"));
    let values = s.resolve_params(&[("n".into(), "1MiB".into())]).unwrap();
    assert_eq!(s.memory_needed(&values).bytes, 3 << 20);
    assert!(
        s.check_memory(&values, 3 << 20).is_ok(),
        "at the cap is allowed"
    );
    let e = s.check_memory(&values, (3 << 20) - 1).unwrap_err();
    assert!(
        e.message.contains("would hold 3MiB of buffers"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("above the memory cap of"),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains("`write_all` (line 23) of actor client (3 instances)"),
        "{}",
        e.message
    );
    assert_eq!(e.params, ["n"]);
}

#[test]
fn a_size_the_machine_cannot_allocate_is_refused_before_the_run() {
    let s = valid(&writer_file("1"));
    let e = s
        .resolve_params(&[("n".into(), "64GiB".into())])
        .unwrap_err();
    assert!(
        e.starts_with("`--set n=64GiB`: the steps would hold 64GiB"),
        "{e}"
    );
    assert!(e.contains(MEMORY_CAP_RULE), "{e}");
    assert!(memory_cap() <= MEMORY_CAP_MAX);
}

// ---- literal step arguments and the file's shape --------------------------------------

#[test]
fn a_negative_literal_size_is_rejected_with_line_and_field() {
    let e = error(&file(
        &format!("{DIAL},\n  {{ op = \"read\", sock = \"c\", buf = -3 }}"),
        "",
    ));
    assert_eq!(e.line, Some(22), "{e}");
    assert_eq!(e.field.as_deref(), Some("actors[1] (client) steps[2].buf"));
    assert!(e.message.contains("must be 0 or more, not -3"), "{e}");
    // A negative SO_LINGER means off, and a negative backlog is listen(2)'s to judge.
    valid(&file(
        &format!("{DIAL},\n  {{ op = \"set\", sock = \"c\", option = \"SO_LINGER\", value = -1 }}"),
        "",
    ));
}

#[test]
fn a_missing_top_level_field_is_named_without_a_misleading_line() {
    let e = error(&file(DIAL, "").replace("title = \"t\"\n", ""));
    assert_eq!(e.line, None, "{e}");
    assert!(
        e.message.starts_with("missing top-level field `title`"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "t.toml: missing top-level field `title` (a scenario has name, title, summary, description, source, [[actors]])"
    );
}

// ---- the catalogue's parameters -------------------------------------------------------

fn catalogue_scenarios() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let (good, bad) = catalogue(&dir).expect("read the catalogue");
    assert!(bad.is_empty(), "{bad:?}");
    good
}

#[test]
fn every_numeric_parameter_of_the_catalogue_has_bounds_holding_its_default() {
    for s in catalogue_scenarios() {
        for p in s.params.iter().filter(|p| p.kind.is_numeric()) {
            assert!(
                p.min.is_some() && p.max.is_some(),
                "{} {}: no bounds",
                s.name,
                p.name
            );
            assert!(p.check_bounds(&p.default).is_ok(), "{} {}", s.name, p.name);
        }
        s.resolve_params(&[])
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
    }
}

#[test]
fn every_bound_of_the_catalogue_is_enforced_just_outside_it() {
    for s in catalogue_scenarios() {
        for p in &s.params {
            let cases = [
                (p.max.and_then(|m| m.checked_add(1)), "at most", p.max),
                (p.min.and_then(|m| m.checked_sub(1)), "at least", p.min),
            ];
            for (outside, word, bound) in cases {
                let (Some(v), Some(bound)) = (outside, bound) else {
                    continue;
                };
                let text = p.kind.format_number(v);
                let e = s
                    .resolve_params(&[(p.name.clone(), text.clone())])
                    .expect_err(&format!("{} {}={text}", s.name, p.name));
                assert_eq!(
                    e,
                    format!(
                        "`--set {}={text}`: {} is {word} {} (scenario {})",
                        p.name,
                        p.name,
                        p.show(bound),
                        s.name
                    )
                );
                // The bound itself is inside.
                let at = p.kind.format_number(bound);
                assert!(
                    p.check_bounds(&p.parse_value(&at).unwrap()).is_ok(),
                    "{} {}={at}",
                    s.name,
                    p.name
                );
            }
        }
    }
}

#[test]
fn the_catalogue_at_every_maximum_fits_under_the_largest_memory_cap() {
    for s in catalogue_scenarios() {
        let mut values = s.resolve_params(&[]).unwrap();
        for p in &s.params {
            if let Some(max) = p.max {
                values.insert(p.name.clone(), ParamValue::Int(max));
            }
        }
        if let Err(e) = s.check_memory(&values, MEMORY_CAP_MAX) {
            panic!("{}: {}", s.name, e.message);
        }
    }
}
