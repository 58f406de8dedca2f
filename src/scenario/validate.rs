//! Validation: the raw file ([`raw`](super::raw)) becomes a [`Scenario`], or an error
//! naming the file, the line and the field.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::expect::{expected_exprs, expected_from, EXPECTATION_KEYS};
use super::expr::{Expr, Lookup};
use super::kernel;
use super::model::*;
use super::raw::RawScenario;
use super::step::{Action, SockOpt, Step, Take, ValueType};
use super::vocab::{CLEAN_ROOM, COUNTER_GROUPS, ENGINE_NAMES, FACTS, INDEX, OSES};
use crate::suggest::closest;

/// Checks a counter name's form (`Group.Name`) and, where this machine's counters can be
/// read, that it exists; suggests the closest names otherwise.
fn check_counter(name: &str) -> Result<(), String> {
    let form_ok = name.split_once('.').is_some_and(|(g, n)| {
        COUNTER_GROUPS.contains(&g) && !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if !form_ok {
        return Err(format!(
            "`{name}` is not a counter name: write Group.Name with a group of {} (`TcpExt.ListenOverflows`)",
            COUNTER_GROUPS.join(", ")
        ));
    }
    if let Some(known) = known_counters() {
        if !known.iter().any(|k| k == name) {
            let near = closest(name, known.iter().map(String::as_str));
            return Err(format!(
                "this kernel has no counter `{name}` (did you mean {}?)",
                near.join(", ")
            ));
        }
    }
    Ok(())
}

/// This machine's counter names, read once; `None` where they cannot be read.
fn known_counters() -> Option<&'static Vec<String>> {
    static KNOWN: std::sync::OnceLock<Option<Vec<String>>> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| crate::sys::net_counters().map(|c| c.into_keys().collect()))
        .as_ref()
}

/// An observation taken from a step, once its fields are known to be there.
struct ResolvedObservation {
    step: String,
    take: Take,
    help: String,
}

/// The 1-based line of the first line from `from` on that sets `key` (`key = ...`), or
/// `from` when there is none.
fn key_line(text: &str, from: usize, key: &str) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(from, |(i, _)| i + 1)
}

/// Byte offset to 1-based line number.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses and validates one scenario file's text. `topic` is its folder.
pub fn parse(path: &Path, text: &str, topic: &str) -> Result<Scenario, ScenarioError> {
    let err = |line: Option<usize>, field: Option<String>, message: String| ScenarioError {
        path: path.to_owned(),
        line,
        field,
        message,
    };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        // The parser's message names the problem; the key on that line names the field.
        let field = line
            .and_then(|l| text.lines().nth(l - 1))
            .and_then(|l| l.split_once('='))
            .map(|(k, _)| k.trim().trim_start_matches('{').trim().to_owned())
            .filter(|k| !k.is_empty() && !k.contains(['[', '"', '#']));
        err(line, field, e.message().trim().to_owned())
    })?;
    let at = |span: std::ops::Range<usize>| Some(line_of(text, span.start));

    let name = raw.name.get_ref().clone();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(err(
            at(raw.name.span()),
            Some("name".into()),
            format!("`{name}` is not a short name: use lowercase letters, digits and `-`"),
        ));
    }

    // Parameters.
    let mut params = Vec::new();
    for (pname, sp) in &raw.params {
        let field = Some(format!("params.{pname}"));
        let line = at(sp.span());
        if FACTS.contains(&pname.as_str()) || pname == INDEX {
            return Err(err(
                line,
                field,
                format!(
                    "`{pname}` is a reserved name (facts: {}, {INDEX})",
                    FACTS.join(", ")
                ),
            ));
        }
        let p = sp.get_ref();
        let (kind, default) =
            match (&p.choices, &p.default) {
                (Some(c), Some(toml::Value::String(s))) if c.contains(s) => {
                    (ParamKind::Choice(c.clone()), ParamValue::Text(s.clone()))
                }
                (Some(c), _) => {
                    return Err(err(
                        line,
                        field,
                        format!("the default must be one of the choices ({})", c.join(", ")),
                    ))
                }
                (None, Some(toml::Value::Integer(n))) => (ParamKind::Int, ParamValue::Int(*n)),
                (None, Some(toml::Value::String(s))) => match Expr::parse(s)
                    .ok()
                    .and_then(|e| e.eval(&|_| Lookup::Unknown).ok())
                {
                    Some(n) => (ParamKind::Int, ParamValue::Int(n)),
                    None => {
                        return Err(err(
                            line,
                            field,
                            format!(
                            "default `{s}` is not a number; for a text parameter give `choices`"
                        ),
                        ))
                    }
                },
                (None, Some(toml::Value::Boolean(b))) => (ParamKind::Bool, ParamValue::Bool(*b)),
                (None, None) if p.optional => (ParamKind::Int, ParamValue::Unset),
                (None, None) => return Err(err(
                    line,
                    field,
                    "needs a `default` (or `optional = true` for an integer that may stay unset)"
                        .into(),
                )),
                (None, Some(other)) => {
                    return Err(err(
                        line,
                        field,
                        format!(
                            "default must be an integer, a boolean or one of `choices`, not {}",
                            other.type_str()
                        ),
                    ))
                }
            };
        params.push(Param {
            name: pname.clone(),
            kind,
            default,
            help: p.help.clone(),
        });
    }
    let param_names: BTreeSet<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let check_names = |e: &Expr, line: Option<usize>, field: &str| -> Result<(), ScenarioError> {
        for n in e.names() {
            if !param_names.contains(n) && !FACTS.contains(&n) && n != INDEX {
                return Err(err(
                    line,
                    Some(field.to_owned()),
                    format!(
                        "`{n}` is neither a parameter ({}) nor a fact ({}, {INDEX})",
                        if param_names.is_empty() {
                            "none".to_owned()
                        } else {
                            param_names.iter().copied().collect::<Vec<_>>().join(", ")
                        },
                        FACTS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    };

    // Actors and their steps.
    if raw.actors.len() < 2 {
        return Err(err(
            None,
            Some("actors".into()),
            "a scenario needs two or more actors (`[[actors]]` tables)".into(),
        ));
    }
    let mut actors = Vec::new();
    let mut step_ids: BTreeMap<String, (Action, Option<usize>)> = BTreeMap::new();
    for (ai, sp) in raw.actors.into_iter().enumerate() {
        let line = at(sp.span());
        let ra = sp.into_inner();
        if actors.iter().any(|a: &Actor| a.name == ra.name) {
            return Err(err(
                line,
                Some(format!("actors[{ai}].name")),
                format!("two actors are called `{}`", ra.name),
            ));
        }
        let count = ra.count.unwrap_or(Expr::Num(1));
        check_names(&count, line, &format!("actors[{ai}].count"))?;
        let mut steps = Vec::new();
        for (si, st) in ra.steps.into_iter().enumerate() {
            let line = at(st.span());
            let field = format!("actors[{ai}] ({}) steps[{si}]", ra.name);
            let step =
                Step::from_table(st.into_inner()).map_err(|m| err(line, Some(field.clone()), m))?;
            for (what, e) in step.action.exprs() {
                check_names(e, line, &format!("{field}.{what}"))?;
            }
            if let Action::Set { option, value, .. } = &step.action {
                if *option == SockOpt::Congestion && !matches!(value, Expr::Name(_)) {
                    return Err(err(
                        line,
                        Some(format!("{field}.value")),
                        format!("TCP_CONGESTION takes an algorithm's name (`reno`, `cubic`, `bbr`) or a text parameter, not `{value}`"),
                    ));
                }
                if option.read_only() {
                    return Err(err(
                        line,
                        Some(format!("{field}.option")),
                        format!("{} can only be read (use `get`)", option.name()),
                    ));
                }
            }
            if let Some(w) = &step.when {
                if !param_names.contains(w.as_str()) {
                    return Err(err(
                        line,
                        Some(format!("{field}.when")),
                        format!("`{w}` is not a parameter"),
                    ));
                }
            }
            if let Some(id) = &step.id {
                if step_ids
                    .insert(id.clone(), (step.action.clone(), line))
                    .is_some()
                {
                    return Err(err(
                        line,
                        Some(format!("{field}.id")),
                        format!("two steps have the id `{id}`"),
                    ));
                }
            }
            steps.push(step.with_line(line.unwrap_or(0)));
        }
        actors.push(Actor {
            name: ra.name,
            count,
            steps,
        });
    }

    // Cross-references between steps: sockets, sync points, actors.
    let all_steps = || {
        actors
            .iter()
            .flat_map(|a| a.steps.iter().map(move |s| (a, s)))
    };
    let made: BTreeSet<&str> = all_steps()
        .filter_map(|(_, s)| s.action.creates())
        .collect();
    let signalled: BTreeSet<&str> = all_steps()
        .filter_map(|(_, s)| match &s.action {
            Action::Signal { sync } => Some(sync.as_str()),
            _ => None,
        })
        .collect();
    for (a, s) in all_steps() {
        let field = Some(format!("{} step {}", a.name, s.describe()));
        let line = Some(s.line);
        for sock in s.action.uses() {
            if !made.contains(sock) {
                return Err(err(
                    line,
                    field,
                    format!(
                        "no step creates the socket `{sock}` (created: {})",
                        made.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        match &s.action {
            Action::Wait { sync, .. } if !signalled.contains(sync.as_str()) => {
                return Err(err(
                    line,
                    field,
                    format!("no step signals `{sync}`: this wait could never end"),
                ))
            }
            Action::WaitBlocked { actor } if !actors.iter().any(|x| &x.name == actor) => {
                return Err(err(line, field, format!("there is no actor `{actor}`")))
            }
            _ => {}
        }
    }

    // Observations.
    let mut observations = Vec::new();
    for (oname, sp) in raw.observations {
        let line = at(sp.span());
        let o = sp.into_inner();
        let field = Some(format!("observations.{oname}"));
        if param_names.contains(oname.as_str()) {
            return Err(err(
                line,
                field,
                format!("`{oname}` is also a parameter; expressions could not tell them apart"),
            ));
        }
        let (step, take) = match (o.step, o.take, o.counter) {
            (None, None, Some(counter)) => {
                check_counter(&counter).map_err(|m| err(line, field.clone(), m))?;
                observations.push(ObservationDef {
                    name: oname,
                    step: String::new(),
                    take: Take::Counter,
                    counter: Some(counter),
                    help: o.help,
                });
                continue;
            }
            (Some(step), Some(take), None) => (step, take),
            (_, _, Some(_)) => {
                return Err(err(
                    line,
                    field,
                    "an observation takes either `counter` or `step` and `take`, not both".into(),
                ))
            }
            _ => {
                return Err(err(
                    line,
                    field,
                    "an observation needs `step` and `take` (or `counter` for a kernel counter)"
                        .into(),
                ))
            }
        };
        let o = ResolvedObservation {
            step,
            take,
            help: o.help,
        };
        let Some((action, _)) = step_ids.get(&o.step) else {
            return Err(err(
                line,
                field,
                format!(
                    "no step has the id `{}` (ids: {})",
                    o.step,
                    step_ids.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let allowed = action.takes();
        if !allowed.contains(&o.take) {
            return Err(err(
                line,
                field,
                format!(
                    "a `{}` step has no `{}`; it has: {}",
                    action.op(),
                    o.take,
                    allowed
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        observations.push(ObservationDef {
            name: oname,
            step: o.step,
            take: o.take,
            counter: None,
            help: o.help,
        });
    }

    // Expectations: `[expect.<os>]`, and inside it `[expect.<os>.<engine>]` for what
    // differs under one engine.
    let parse_value = |label: &str,
                       key: &str,
                       vline: Option<usize>,
                       value: &toml::Value|
     -> Result<Expected, ScenarioError> {
        let field = Some(format!("{label}.{key}"));
        let Some(def) = observations.iter().find(|o| o.name == key) else {
            let names = observations.iter().map(|o| o.name.as_str());
            let near = closest(key, names);
            return Err(err(
                vline,
                field,
                format!(
                    "no observation `{key}` (did you mean {}?) (observations: {})",
                    near.join(", "),
                    observations
                        .iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        let expected =
            expected_from(value, def.value_type()).map_err(|m| err(vline, field.clone(), m))?;
        // Here, not per table, so the rule holds inside `[expect.<os>.<engine>]` too.
        let lower_bound = matches!(
            expected,
            Expected::Range {
                min: Some(_),
                max: None
            }
        );
        let in_clean_room = matches!(&expected, Expected::When(p, _) if p == CLEAN_ROOM);
        if def.counter.is_some() && !lower_bound && !in_clean_room {
            return Err(err(
                vline,
                field,
                format!("a counter counts for its whole network namespace: outside a clean room other traffic moves it too, so expect a lower bound `{{ min = N }}`, or an exact figure in a clean room only: `{{ value = N, when = \"{CLEAN_ROOM}\" }}`"),
            ));
        }
        if let Expected::When(p, _) = &expected {
            if !param_names.contains(p.as_str()) && !FACTS.contains(&p.as_str()) {
                return Err(err(
                    vline,
                    field,
                    format!("`when = \"{p}\"` names no parameter and no fact"),
                ));
            }
        }
        // Expectations may also name numeric observations of the same run.
        for e in expected_exprs(&expected) {
            for n in e.names() {
                let numeric_obs = observations.iter().any(|o| {
                    o.name == n && matches!(o.value_type(), ValueType::Int | ValueType::Ms)
                });
                if !numeric_obs {
                    check_names(&Expr::Name(n.to_owned()), vline, &format!("{label}.{key}"))?;
                }
            }
        }
        Ok(expected)
    };
    let parse_basis = |label: &str,
                       key: &str,
                       vline: Option<usize>,
                       value: &toml::Value,
                       basis: &mut Option<Basis>|
     -> Result<(), ScenarioError> {
        let field = Some(format!("{label}.{key}"));
        let Some(text) = value.as_str().filter(|t| !t.trim().is_empty()) else {
            return Err(err(
                vline,
                field,
                "must be a text naming the system and the command, or the source".into(),
            ));
        };
        if basis.is_some() {
            return Err(err(
                vline,
                field,
                "give `measured` or `documented`, not both".into(),
            ));
        }
        *basis = Some(if key == "measured" {
            Basis::Measured(text.to_owned())
        } else {
            Basis::Documented(text.to_owned())
        });
        Ok(())
    };
    let no_basis = |label: &str, line: Option<usize>| {
        err(
            line,
            Some(label.to_owned()),
            "say where the expectations come from: `measured = \"<system, command, date>\"` or `documented = \"<source>\"`".into(),
        )
    };
    let mut expectations = Vec::new();
    for (os, sp) in raw.expect {
        let line = at(sp.span());
        if !OSES.contains(&os.as_str()) {
            return Err(err(
                line,
                Some(format!("expect.{os}")),
                format!("unknown OS `{os}` (one of {})", OSES.join(", ")),
            ));
        }
        let label = format!("expect.{os}");
        let table = sp.into_inner();
        let mut basis = None;
        let mut values = Vec::new();
        let mut engines = Vec::new();
        let mut kernels = Vec::new();
        for (key, v) in table {
            let vline = at(v.span());
            let value = v.into_inner();
            match (key.as_str(), value) {
                ("measured" | "documented", value) => {
                    parse_basis(&label, &key, vline, &value, &mut basis)?
                }
                ("kernels", value) if observations.iter().all(|o| o.name != "kernels") => {
                    // `[[expect.linux.kernels]]`: what differs in a range of kernels.
                    let klabel = format!("{label}.kernels");
                    let Some(tables) = value.as_array() else {
                        return Err(err(
                            vline,
                            Some(klabel),
                            "write each range as its own `[[expect.<os>.kernels]]` table".into(),
                        ));
                    };
                    for t in tables {
                        let Some(t) = t.as_table() else {
                            return Err(err(
                                vline,
                                Some(klabel),
                                "write each range as its own `[[expect.<os>.kernels]]` table"
                                    .into(),
                            ));
                        };
                        let k = kernel::parse_table(
                            t,
                            |obs, v| parse_value(&klabel, obs, vline, v).map_err(|e| e.message),
                            |key, v, b| {
                                parse_basis(&klabel, key, vline, v, b).map_err(|e| e.message)
                            },
                            |n| observations.iter().any(|o| o.name == n),
                        )
                        .map_err(|(key, m)| err(vline, Some(format!("{klabel}.{key}")), m))?;
                        kernels.push(k);
                    }
                }
                (name, toml::Value::Table(t))
                    if ENGINE_NAMES.contains(&name)
                        || (observations.iter().all(|o| o.name != name)
                            && !EXPECTATION_KEYS.iter().any(|k| t.contains_key(*k))) =>
                {
                    // `[expect.linux.tokio]`: what differs under one engine.
                    let elabel = format!("{label}.{name}");
                    if !ENGINE_NAMES.contains(&name) {
                        let near = closest(name, ENGINE_NAMES.into_iter());
                        return Err(err(
                            vline,
                            Some(elabel),
                            format!(
                                "unknown engine `{name}` (did you mean {}?); engines: {}",
                                near.join(", "),
                                ENGINE_NAMES.join(", ")
                            ),
                        ));
                    }
                    let mut ebasis = None;
                    let mut why = None;
                    let mut skip = Vec::new();
                    let mut evalues = Vec::new();
                    for (k, value) in t {
                        // Keys inside the engine's table have no span of their own: the
                        // first line below its header that sets the key.
                        let kline = vline.map(|l| key_line(text, l, &k));
                        match k.as_str() {
                            "measured" | "documented" => {
                                parse_basis(&elabel, &k, kline, &value, &mut ebasis)?
                            }
                            "skip" => {
                                let names: Option<Vec<&str>> = value
                                    .as_array()
                                    .and_then(|a| a.iter().map(|v| v.as_str()).collect());
                                let Some(names) = names else {
                                    return Err(err(
                                        kline,
                                        Some(format!("{elabel}.skip")),
                                        "must be a list of observation names".into(),
                                    ));
                                };
                                for n in names {
                                    if !observations.iter().any(|o| o.name == n) {
                                        return Err(err(
                                            kline,
                                            Some(format!("{elabel}.skip")),
                                            format!("no observation `{n}`"),
                                        ));
                                    }
                                    skip.push(n.to_owned());
                                }
                            }
                            "why" => match value.as_str().filter(|t| !t.trim().is_empty()) {
                                Some(w) => why = Some(w.trim().to_owned()),
                                None => {
                                    return Err(err(
                                        kline,
                                        Some(format!("{elabel}.why")),
                                        "must be a text saying why this engine differs".into(),
                                    ))
                                }
                            },
                            obs => {
                                let e = parse_value(&elabel, obs, kline, &value)?;
                                evalues.push((obs.to_owned(), e));
                            }
                        }
                    }
                    let Some(ebasis) = ebasis else {
                        return Err(no_basis(&elabel, vline));
                    };
                    if !skip.is_empty() && why.is_none() {
                        return Err(err(
                            vline,
                            Some(format!("{elabel}.skip")),
                            "say in `why` why these are not checked under this engine".into(),
                        ));
                    }
                    engines.push(EngineExpectations {
                        engine: name.to_owned(),
                        basis: ebasis,
                        why,
                        values: evalues,
                        skip,
                    });
                }
                (obs, value) => {
                    let e = parse_value(&label, obs, vline, &value)?;
                    values.push((obs.to_owned(), e));
                }
            }
        }
        let Some(basis) = basis else {
            return Err(no_basis(&label, line));
        };
        expectations.push(Expectations {
            os,
            basis,
            values,
            engines,
            kernels,
        });
    }

    // The explanation's placeholders.
    let explanation = match raw.explanation {
        Some(sp) => {
            let line = at(sp.span());
            let text = sp.into_inner();
            for ph in placeholders(&text) {
                if !param_names.contains(ph) && !observations.iter().any(|o| o.name == ph) {
                    return Err(err(
                        line,
                        Some("explanation".into()),
                        format!("`{{{ph}}}` names neither a parameter nor an observation"),
                    ));
                }
            }
            text.trim().to_owned()
        }
        None => String::new(),
    };

    // The long explanation: every part that is there says something.
    let explain = match raw.explain {
        Some(e) => {
            let mut texts = vec![("shows", &e.shows), ("why", &e.why)];
            texts.extend(e.elsewhere.as_ref().map(|t| ("elsewhere", t)));
            for (key, text) in texts {
                if text.get_ref().trim().is_empty() {
                    return Err(err(
                        at(text.span()),
                        Some(format!("explain.{key}")),
                        "must not be empty (leave out an optional part instead)".into(),
                    ));
                }
            }
            if e.read.get_ref().is_empty() || e.read.get_ref().iter().any(|r| r.trim().is_empty()) {
                return Err(err(
                    at(e.read.span()),
                    Some("explain.read".into()),
                    "name at least one man page or RFC section, e.g. [\"tcp(7)\"]".into(),
                ));
            }
            Some(Explain {
                shows: e.shows.get_ref().trim().to_owned(),
                why: e.why.get_ref().trim().to_owned(),
                elsewhere: e.elsewhere.map(|t| t.get_ref().trim().to_owned()),
                read: e.read.into_inner(),
            })
        }
        None => None,
    };

    Ok(Scenario {
        path: path.to_owned(),
        topic: topic.to_owned(),
        name,
        title: raw.title,
        summary: raw.summary,
        description: raw.description.trim().to_owned(),
        source: raw.source,
        explanation,
        explain,
        timeout_ms: match raw.timeout_ms {
            Some(0) => {
                return Err(err(
                    None,
                    Some("timeout_ms".into()),
                    "must be at least 1 (milliseconds)".into(),
                ))
            }
            t => t.unwrap_or(DEFAULT_TIMEOUT_MS),
        },
        params,
        actors,
        observations,
        expectations,
    })
}

/// The `{name}` placeholders of an explanation.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}
