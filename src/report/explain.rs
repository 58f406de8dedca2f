//! `tcplab explain`: a scenario's long explanation, and the short form that ends a run.

use std::fmt::Write;

use crate::scenario::{Basis, Scenario};

/// Indents every line of `text` by two spaces, keeping paragraph breaks.
fn indented(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                format!("  {}", l.trim())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The whole explanation as terminal text: what the scenario shows, why, how other
/// systems differ, what to read, and what is expected where.
pub(super) fn long_text(s: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", s.name, s.title);
    let _ = writeln!(out, "  topic {}, file {}", s.topic, s.path.display());
    let _ = writeln!(out, "  from: {}", s.source);
    let _ = writeln!(out, "\nSetup\n{}", indented(&s.description));
    out.push_str(&params_block(s));
    match &s.explain {
        Some(e) => {
            let _ = writeln!(out, "\nWhat it shows\n{}", indented(&e.shows));
            let _ = writeln!(out, "\nWhy the kernel does this\n{}", indented(&e.why));
            if let Some(other) = &e.elsewhere {
                let _ = writeln!(out, "\nOther systems\n{}", indented(other));
            }
            let _ = writeln!(out, "\nRead");
            for r in &e.read {
                let _ = writeln!(out, "  - {r}");
            }
        }
        None => {
            let _ = writeln!(
                out,
                "\nThis scenario file has no [explain] table; its summary: {}",
                s.summary
            );
        }
    }
    if !s.engine_explanations.is_empty() {
        // Only files with engine variants: otherwise the run's own Why says it all.
        let _ = writeln!(out, "\nAfter a run (filled in with what it observed)");
        let _ = writeln!(out, "{}", indented(&s.explanation));
        for (engine, text) in &s.engine_explanations {
            let _ = writeln!(out, "  under the {engine} engine:");
            for l in indented(text).lines() {
                let _ = writeln!(out, "  {l}");
            }
        }
    }
    let _ = writeln!(out, "\nExpected");
    let lines = expected(s);
    let width = lines
        .iter()
        .filter_map(|l| l.key.as_ref())
        .map(String::len)
        .max();
    for l in lines {
        let indent = "  ".repeat(l.depth + 1);
        match &l.key {
            Some(k) => {
                let width = width.unwrap_or(0);
                let _ = writeln!(out, "{indent}{k:<width$}  {}", l.text);
            }
            None => {
                let _ = writeln!(out, "{indent}{}", l.text);
            }
        }
    }
    let _ = writeln!(out, "\nRun it: tcplab run {}", s.command_arg());
    out
}

/// The `Parameters` block: each parameter's name, type, default, bounds and help, and
/// how to set one; nothing for a scenario without parameters.
fn params_block(s: &Scenario) -> String {
    if s.params.is_empty() {
        return String::new();
    }
    let rows: Vec<[String; 5]> = s.params.iter().map(|p| p.columns()).collect();
    format!(
        "\nParameters (tcplab run {} --set NAME=VALUE)\n{}",
        s.name,
        crate::scenario::align_params(&rows, "  ")
    )
}

/// The same explanation as Markdown, for notes and web pages.
pub(super) fn long_markdown(s: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {}: {}\n", s.name, s.title);
    let _ = writeln!(out, "{}\n", s.description);
    if let Some(e) = &s.explain {
        let _ = writeln!(out, "**What it shows.** {}\n", e.shows);
        let _ = writeln!(out, "**Why.** {}\n", e.why);
        if let Some(other) = &e.elsewhere {
            let _ = writeln!(out, "**Other systems.** {other}\n");
        }
        let _ = writeln!(out, "**Read:** {}\n", e.read.join("; "));
    }
    if !s.params.is_empty() {
        let _ = writeln!(out, "### Parameters\n");
        let _ = writeln!(out, "| name | type | default | bounds | help |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for p in &s.params {
            let cells: Vec<String> = p.columns().iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| `{}` | {} |", cells[0], cells[1..].join(" | "));
        }
        let _ = writeln!(
            out,
            "\nSet one with `tcplab run {} --set NAME=VALUE`.\n",
            s.command_arg()
        );
    }
    let _ = writeln!(out, "### Expected\n");
    for l in expected(s) {
        let indent = "  ".repeat(l.depth);
        match &l.key {
            Some(k) => {
                let _ = writeln!(out, "{indent}- `{k}`: {}", l.text);
            }
            None => {
                let _ = writeln!(out, "{indent}- {}", l.text);
            }
        }
    }
    out
}

/// One line of the Expected section, `depth` levels in.
struct Line {
    depth: usize,
    /// An observation, when the line is what is expected of it.
    key: Option<String>,
    text: String,
}

fn basis(b: &Basis) -> String {
    match b {
        Basis::Measured(m) => format!("measured: {m}"),
        Basis::Documented(d) => format!("documented, not measured: {d}"),
    }
}

fn line(out: &mut Vec<Line>, depth: usize, text: String) {
    out.push(Line {
        depth,
        key: None,
        text,
    });
}

fn value(out: &mut Vec<Line>, key: &str, text: String) {
    out.push(Line {
        depth: 1,
        key: Some(key.to_owned()),
        text,
    });
}

/// What is expected where: each OS with its basis and values, then what differs under
/// an engine (`[expect.<os>.<engine>]`) and in a range of kernels.
fn expected(s: &Scenario) -> Vec<Line> {
    let mut out = Vec::new();
    if s.expectations.is_empty() {
        line(&mut out, 0, "nothing yet on any system".to_owned());
    }
    for x in &s.expectations {
        line(&mut out, 0, format!("on {} ({})", x.os, basis(&x.basis)));
        for (k, v) in &x.values {
            value(&mut out, k, v.to_string());
        }
        for e in &x.engines {
            line(
                &mut out,
                0,
                format!(
                    "on {} under the {} engine ({})",
                    x.os,
                    e.engine,
                    basis(&e.basis)
                ),
            );
            if let Some(why) = &e.why {
                line(&mut out, 1, format!("why: {why}"));
            }
            for (k, v) in &e.values {
                value(&mut out, k, v.to_string());
            }
            for k in &e.skip {
                value(&mut out, k, "not checked".to_owned());
            }
            if e.values.is_empty() && e.skip.is_empty() {
                line(&mut out, 1, "the same values".to_owned());
            }
        }
        for k in &x.kernels {
            line(
                &mut out,
                0,
                format!(
                    "on {} kernels {} ({}) ({})",
                    x.os,
                    k.range,
                    k.range.normalized(),
                    basis(&k.basis)
                ),
            );
            line(&mut out, 1, format!("why: {}", k.why));
            for (name, v) in &k.values {
                value(&mut out, name, v.to_string());
            }
            for name in &k.skip {
                value(&mut out, name, "not checked".to_owned());
            }
        }
    }
    out
}

/// The lines that end `tcplab run NAME`: where to read on, and the full explanation's
/// command.
pub fn short_tail(s: &Scenario) -> Option<String> {
    let e = s.explain.as_ref()?;
    Some(format!(
        "Read: {}\nMore: tcplab explain {}",
        e.read.join("; "),
        s.command_arg()
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::env::Environment;
    use crate::observe::{Observations, Value};
    use crate::record::{Record, ScenarioRef};
    use crate::report::{fill, Exporter, Markdown, Text};
    use crate::verdict::{Status, Verdict};

    fn catalogue(file: &str) -> Scenario {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        crate::scenario::load(Some(&dir), &dir.join(file)).expect("a catalogue scenario")
    }

    /// A record of `s` on `engine` that observed `observations` and nothing else.
    fn record(s: &Scenario, engine: &str, observations: &[(&str, Value)]) -> Record {
        let observations: Observations = observations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        Record {
            scenario: ScenarioRef {
                name: s.name.clone(),
                title: s.title.clone(),
                topic: s.topic.clone(),
                file: s.path.display().to_string(),
                sha256: None,
            },
            params: s.resolve_params(&[]).expect("the defaults resolve"),
            engine: engine.to_owned(),
            env: Environment::current(),
            started_at: String::new(),
            elapsed_ms: 0.0,
            timeout_ms: 0,
            events: Vec::new(),
            observations,
            verdict: Verdict {
                status: Status::Incomplete,
                os: "linux".into(),
                basis: None,
                checks: Vec::new(),
                problems: Vec::new(),
            },
            stuck: Vec::new(),
            failures: Vec::new(),
            packets: Vec::new(),
            wire: None,
            endpoints: Vec::new(),
            hosts: Default::default(),
        }
    }

    // -----------------------------------------------------------------------------------
    // the short explanation after a run
    // -----------------------------------------------------------------------------------

    #[test]
    fn a_sentence_on_what_was_not_observed_is_left_out() {
        let s = catalogue("write/write-timeout.toml");
        // An incomplete run: the big write's figures are missing, the queues were read.
        let r = record(
            &s,
            "std",
            &[
                ("next_write_error", Value::Text("EAGAIN".into())),
                ("following_writes", Value::Text("333312, EAGAIN".into())),
            ],
        );
        let why = fill(s.explanation_for("std"), &r);
        assert!(!why.contains("not observed"), "{why}");
        assert!(!why.contains("The big write returned"), "{why}");
        assert!(
            why.contains("The next writes returned 333312, EAGAIN"),
            "{why}"
        );
        assert!(why.contains("as `EAGAIN`"), "{why}");
        // Nothing observed at all: nothing to say.
        assert_eq!(fill(s.explanation_for("std"), &record(&s, "std", &[])), "");
    }

    #[test]
    fn tokio_gets_its_own_explanation_where_it_differs() {
        let s = catalogue("read/read-timeout.toml");
        let seen = [
            ("timeout_bytes", Value::Int(0)),
            ("timeout_elapsed_ms", Value::Ms(101.5)),
            ("read_after_timeout", Value::Int(65536)),
        ];
        let mut std_seen = seen.to_vec();
        std_seen.push(("timeout_error", Value::Text("EAGAIN".into())));
        let mut tokio_seen = seen.to_vec();
        tokio_seen.push(("timeout_error", Value::Text("deadline".into())));
        let std_why = fill(s.explanation_for("std"), &record(&s, "std", &std_seen));
        let tokio_why = fill(
            s.explanation_for("tokio"),
            &record(&s, "tokio", &tokio_seen),
        );
        assert!(std_why.contains("EAGAIN"), "{std_why}");
        assert!(!tokio_why.contains("EAGAIN"), "{tokio_why}");
        assert!(tokio_why.contains("tokio::time::timeout"), "{tokio_why}");
        assert!(tokio_why.contains("65536 bytes"), "{tokio_why}");
    }

    // -----------------------------------------------------------------------------------
    // tcplab explain
    // -----------------------------------------------------------------------------------

    #[test]
    fn markdown_explain_lists_the_parameters_with_their_bounds() {
        let s = catalogue("concurrency/concurrency-shared-writers.toml");
        let md = long_markdown(&s);
        assert!(md.contains("### Parameters"), "{md}");
        let row = md
            .lines()
            .find(|l| l.starts_with("| `writers` |"))
            .expect("a writers row");
        assert!(row.contains("16"), "{row}");
    }

    #[test]
    fn markdown_explain_has_an_expected_section() {
        let md = Markdown.explain(&catalogue("read/read-timeout.toml"));
        let expected = md
            .split("### Expected")
            .nth(1)
            .expect("an Expected section");
        assert!(expected.contains("- on linux (measured: "), "{md}");
        assert!(expected.contains("  - `timeout_error`: EAGAIN"), "{md}");
        assert!(
            expected.contains("- on linux under the tokio engine (measured: "),
            "{md}"
        );
        assert!(expected.contains("  - `timeout_error`: deadline"), "{md}");
    }

    #[test]
    fn text_explain_shows_the_engine_overrides_and_explanations() {
        let t = Text::default().explain(&catalogue("write/write-timeout.toml"));
        let expected = t.split("\nExpected\n").nth(1).expect("an Expected section");
        let tokio = expected
            .split("on linux under the tokio engine")
            .nth(1)
            .expect("the tokio table");
        assert!(tokio.contains("why: On tokio's non-blocking socket"), "{t}");
        assert!(tokio.contains("next_write_error"), "{t}");
        assert!(tokio.contains("deadline"), "{t}");
        assert!(tokio.contains("big_write_elapsed_ms"), "{t}");
        assert!(tokio.contains("not checked"), "{t}");
        assert!(t.contains("under the tokio engine:\n"), "{t}");
    }
}
