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
    let _ = writeln!(out, "\nExpected");
    if s.expectations.is_empty() {
        let _ = writeln!(out, "  nothing yet on any system");
    }
    for x in &s.expectations {
        let basis = match &x.basis {
            Basis::Measured(m) => format!("measured: {m}"),
            Basis::Documented(d) => format!("documented, not measured: {d}"),
        };
        let _ = writeln!(out, "  on {} ({basis})", x.os);
        let width = x.values.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in &x.values {
            let _ = writeln!(out, "    {k:<width$}  {v}");
        }
        for k in &x.kernels {
            let basis = match &k.basis {
                Basis::Measured(m) => format!("measured: {m}"),
                Basis::Documented(d) => format!("documented, not measured: {d}"),
            };
            let _ = writeln!(
                out,
                "  on {} kernels {} ({}) ({basis})",
                x.os,
                k.range,
                k.range.normalized()
            );
            let _ = writeln!(out, "    why: {}", k.why);
            for (name, v) in &k.values {
                let _ = writeln!(out, "    {name:<width$}  {v}");
            }
            for name in &k.skip {
                let _ = writeln!(out, "    {name:<width$}  not checked");
            }
        }
    }
    let _ = writeln!(out, "\nRun it: tcplab run {}", s.name);
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
    out
}

/// The lines that end `tcplab run NAME`: where to read on, and the full explanation's
/// command.
pub fn short_tail(s: &Scenario) -> Option<String> {
    let e = s.explain.as_ref()?;
    Some(format!(
        "Read: {}\nMore: tcplab explain {}",
        e.read.join("; "),
        s.name
    ))
}
