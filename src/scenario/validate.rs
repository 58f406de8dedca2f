//! Validation: the raw file ([`raw`](super::raw)) becomes a [`Scenario`], or an error
//! naming the file, the line and the field.
//!
//! [`parse`] takes the sections in file order, one function each: the name, the
//! parameters, the actors and their steps, the steps' cross-references, the observations,
//! the expectations (in `expect.rs`), the explanations and the timeout. The first
//! problem found is the error.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use indexmap::IndexMap;
use toml::Spanned;

use super::cx::{line_of, Cx, Names};
use super::expect;
use super::expr::{Expr, Lookup};
use super::host;
use super::model::*;
use super::operands::SockOpt;
use super::params::{Param, ParamKind, ParamValue, PARAM_TYPES};
use super::raw::{RawActor, RawExplain, RawObservation, RawParam, RawScenario};
use super::step::{Action, Step};
use super::take::Take;
use super::vocab::{ENGINE_NAMES, FACTS, INDEX};

/// The top-level fields every scenario file has (the rest are optional).
const TOP_LEVEL_REQUIRED: &[&str] = &[
    "name",
    "title",
    "summary",
    "description",
    "source",
    "[[actors]]",
];

/// Parses and validates one scenario file's text. `topic` is its folder.
pub fn parse(path: &Path, text: &str, topic: &str) -> Result<Scenario, ScenarioError> {
    let cx = Cx {
        path,
        text,
        warnings: RefCell::new(Vec::new()),
    };
    let raw = cx.toml()?;
    let name = cx.name(&raw.name)?;
    let params = cx.params(&raw.params)?;
    let names = Names {
        params: params.iter().map(|p| p.name.as_str()).collect(),
    };
    let hosts = cx.hosts(&raw.actors)?;
    let (mut actors, step_ids) = cx.actors(raw.actors, &names)?;
    for (a, h) in actors.iter_mut().zip(hosts) {
        a.host = h;
    }
    let wire = cx.network(raw.wire, &actors, &params)?;
    cx.cross_references(&actors)?;
    super::advice::advise(&cx, &actors);
    let observations = cx.observations(raw.observations, &names, &step_ids, &actors)?;
    let expectations = expect::expectations(&cx, raw.expect, &names, &observations)?;
    let explanation = cx.explanation(raw.explanation, &names, &observations)?;
    let mut engine_explanations = Vec::new();
    for (engine, text) in raw.engine_explanation {
        let line = cx.at(text.span());
        let field = format!("engine_explanation.{engine}");
        if !ENGINE_NAMES.contains(&engine.as_str()) {
            return Err(cx.err(
                line,
                Some(field),
                format!(
                    "`{engine}` is not an engine; engines: {}",
                    ENGINE_NAMES.join(", ")
                ),
            ));
        }
        let text = cx
            .explanation(Some(text), &names, &observations)
            .map_err(|mut e| {
                e.field = Some(field);
                e
            })?;
        engine_explanations.push((engine, text));
    }
    let explain = cx.explain(raw.explain)?;
    let timeout_ms = cx.timeout(raw.timeout_ms)?;
    Ok(Scenario {
        path: path.to_owned(),
        in_catalogue: false,
        topic: topic.to_owned(),
        name,
        title: raw.title,
        summary: raw.summary,
        description: raw.description.trim().to_owned(),
        source: raw.source,
        explanation,
        engine_explanations,
        explain,
        timeout_ms,
        params,
        actors,
        observations,
        expectations,
        wire,
        warnings: cx.warnings.into_inner(),
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

/// Each step id with the action of its step, for observations to refer to.
type StepIds = BTreeMap<String, Action>;

impl Cx<'_> {
    /// The TOML itself, into the raw structs.
    fn toml(&self) -> Result<RawScenario, ScenarioError> {
        let text = self.text;
        toml::from_str(text).map_err(|e| {
            // The document's own span (`0..0`, or all of it) rather than a table's.
            let whole_file = e
                .span()
                .is_some_and(|s| s.start == 0 && (s.end == 0 || s.end >= text.trim_end().len()));
            if let Some(key) = e
                .message()
                .trim()
                .strip_prefix("missing field ")
                .filter(|_| whole_file)
            {
                // The file as a whole lacks it: no line of the file is the place.
                return self.err(
                    None,
                    None,
                    format!(
                        "missing top-level field {key} (a scenario has {})",
                        TOP_LEVEL_REQUIRED.join(", ")
                    ),
                );
            }
            let line = e.span().map(|s| line_of(text, s.start));
            // The parser's message names the problem; the key on that line names the field.
            let field = line
                .and_then(|l| text.lines().nth(l - 1))
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim().trim_start_matches('{').trim().to_owned())
                .filter(|k| !k.is_empty() && !k.contains(['[', '"', '#']));
            self.err(line, field, e.message().trim().to_owned())
        })
    }

    /// The short name.
    fn name(&self, name: &Spanned<String>) -> Result<String, ScenarioError> {
        let text = name.get_ref();
        if text.is_empty()
            || !text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(self.err(
                self.at(name.span()),
                Some("name".into()),
                format!("`{text}` is not a short name: use lowercase letters, digits and `-`"),
            ));
        }
        Ok(text.clone())
    }

    /// `[params]`.
    fn params(
        &self,
        raw: &IndexMap<String, Spanned<RawParam>>,
    ) -> Result<Vec<Param>, ScenarioError> {
        raw.iter().map(|(name, sp)| self.param(name, sp)).collect()
    }

    /// One parameter: a reserved name is an error; `type` (or else the default) gives
    /// the type; the bounds are of that type and hold the default.
    fn param(&self, pname: &str, sp: &Spanned<RawParam>) -> Result<Param, ScenarioError> {
        let field = Some(format!("params.{pname}"));
        let line = self.at(sp.span());
        if FACTS.contains(&pname) || pname == INDEX {
            return Err(self.err(
                line,
                field,
                format!(
                    "`{pname}` is a reserved name (facts: {}, {INDEX})",
                    FACTS.join(", ")
                ),
            ));
        }
        let p = sp.get_ref();
        let fail = |message: String| Err(self.err(line, field.clone(), message));
        let declared = match &p.kind {
            None => None,
            Some(t) => match ParamKind::from_name(t, p.choices.as_deref()) {
                Some(k) => Some(k),
                None => {
                    let near = crate::suggest::closest(t, PARAM_TYPES.iter().copied());
                    return fail(format!(
                        "unknown type `{t}` (did you mean {}?); types: {}",
                        near.first().copied().unwrap_or("?"),
                        PARAM_TYPES.join(", ")
                    ));
                }
            },
        };
        if p.choices.is_some() && declared.as_ref().is_some_and(|k| k.name() != "text") {
            return fail("`choices` are for a text parameter (`type = \"text\"`)".into());
        }
        let (kind, default) = match declared {
            Some(kind) => match self.typed_default(&kind, p) {
                Ok(d) => (kind, d),
                Err(m) => return fail(m),
            },
            None => match inferred(p) {
                Ok(kd) => kd,
                Err(m) => return fail(m),
            },
        };
        let bound = |key: &str, v: &Option<toml::Value>| -> Result<Option<i64>, String> {
            let Some(v) = v else { return Ok(None) };
            if !kind.is_numeric() {
                return Err(format!(
                    "`{key}` applies to int, size and duration parameters, not to a {}",
                    kind.name()
                ));
            }
            let n = match v {
                toml::Value::Integer(n) => Some(*n),
                toml::Value::String(s) => kind.parse_number(s),
                _ => None,
            };
            n.map(Some)
                .ok_or_else(|| format!("`{key}` must be {kind}, not `{v}`"))
        };
        let (min, max) = match (bound("min", &p.min), bound("max", &p.max)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(m), _) | (_, Err(m)) => return fail(m),
        };
        if p.unit.is_some() && kind != ParamKind::Int {
            return fail(format!(
                "`unit` is for int parameters; a {} carries its own units",
                kind.name()
            ));
        }
        let param = Param {
            name: pname.to_owned(),
            kind,
            default,
            min,
            max,
            unit: p.unit.clone(),
            help: p.help.clone(),
        };
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                return fail(format!(
                    "`min` ({}) is above `max` ({})",
                    param.show(a),
                    param.show(b)
                ));
            }
        }
        if let Err(why) = param.check_bounds(&param.default) {
            return fail(format!(
                "the default {} is outside the bounds: {why}",
                param.show_value(&param.default)
            ));
        }
        Ok(param)
    }

    /// The default of a parameter whose `type` is declared.
    fn typed_default(&self, kind: &ParamKind, p: &RawParam) -> Result<ParamValue, String> {
        match (kind, &p.default) {
            (ParamKind::Bool, Some(toml::Value::Boolean(b))) => Ok(ParamValue::Bool(*b)),
            (ParamKind::Text(c), Some(toml::Value::String(s))) => {
                if c.is_empty() || c.contains(s) {
                    Ok(ParamValue::Text(s.clone()))
                } else {
                    Err(format!(
                        "the default must be one of the choices ({})",
                        c.join(", ")
                    ))
                }
            }
            (k, Some(toml::Value::Integer(n))) if k.is_numeric() => Ok(ParamValue::Int(*n)),
            (k, Some(toml::Value::String(s))) if k.is_numeric() => k
                .parse_number(s)
                .map(ParamValue::Int)
                .ok_or_else(|| format!("default `{s}` is not {k}")),
            (k, None) if p.optional && k.is_numeric() => Ok(ParamValue::Unset),
            (k, None) => Err(format!(
                "needs a `default`{}",
                if k.is_numeric() {
                    " (or `optional = true` for one that may stay unset)"
                } else {
                    ""
                }
            )),
            (k, Some(other)) => Err(format!(
                "a {} parameter's default is {k}, not {}",
                k.name(),
                other.type_str()
            )),
        }
    }

    /// `[[actors]]` and their steps; also the step ids, for the observations.
    fn actors(
        &self,
        raw: Vec<Spanned<RawActor>>,
        names: &Names,
    ) -> Result<(Vec<Actor>, StepIds), ScenarioError> {
        if raw.len() < 2 {
            return Err(self.err(
                None,
                Some("actors".into()),
                "a scenario needs two or more actors (`[[actors]]` tables)".into(),
            ));
        }
        let mut actors = Vec::new();
        let mut step_ids = StepIds::new();
        for (ai, sp) in raw.into_iter().enumerate() {
            let line = self.at(sp.span());
            let ra = sp.into_inner();
            if actors.iter().any(|a: &Actor| a.name == ra.name) {
                return Err(self.err(
                    line,
                    Some(format!("actors[{ai}].name")),
                    format!("two actors are called `{}`", ra.name),
                ));
            }
            let count = ra.count.unwrap_or(Expr::Num(1));
            names.check(self, &count, line, &format!("actors[{ai}].count"))?;
            let mut steps = Vec::new();
            for (si, st) in ra.steps.into_iter().enumerate() {
                let field = format!("actors[{ai}] ({}) steps[{si}]", ra.name);
                steps.push(self.step(st, &field, names, &mut step_ids)?);
            }
            actors.push(Actor {
                name: ra.name,
                count,
                host: None,
                steps,
            });
        }
        Ok((actors, step_ids))
    }

    /// One step: its op and fields, the names in its expressions, its `when` and its id.
    fn step(
        &self,
        st: Spanned<toml::Table>,
        field: &str,
        names: &Names,
        step_ids: &mut StepIds,
    ) -> Result<Step, ScenarioError> {
        let line = self.at(st.span());
        let step = Step::from_table(st.into_inner())
            .map_err(|m| self.err(line, Some(field.to_owned()), m))?;
        for (what, e) in step.action.exprs() {
            names.check(self, e, line, &format!("{field}.{what}"))?;
        }
        for (what, e) in step.action.non_negative() {
            // A constant can be checked now; one over parameters is bounded by theirs.
            if !e.names().is_empty() {
                continue;
            }
            if let Some(n) = e.eval(&|_| Lookup::Unknown).ok().filter(|n| *n < 0) {
                return Err(self.err(
                    line,
                    Some(format!("{field}.{what}")),
                    format!("`{what}` is a size, count or duration and must be 0 or more, not {n}"),
                ));
            }
        }
        if let Action::Connect { options, .. } = &step.action {
            super::step::dial_options(options)
                .map_err(|m| self.err(line, Some(format!("{field}.options")), m))?;
        }
        if let Action::Set { option, value, .. } = &step.action {
            if *option == SockOpt::Congestion && !matches!(value, Expr::Name(_)) {
                return Err(self.err(
                    line,
                    Some(format!("{field}.value")),
                    format!("TCP_CONGESTION takes an algorithm's name (`reno`, `cubic`, `bbr`) or a text parameter, not `{value}`"),
                ));
            }
            if option.read_only() {
                return Err(self.err(
                    line,
                    Some(format!("{field}.option")),
                    format!("{} can only be read (use `get`)", option.name()),
                ));
            }
        }
        if let Some(w) = &step.when {
            if !names.params.contains(w.as_str()) {
                return Err(self.err(
                    line,
                    Some(format!("{field}.when")),
                    format!("`{w}` is not a parameter"),
                ));
            }
        }
        if let Some(id) = &step.id {
            if step_ids.insert(id.clone(), step.action.clone()).is_some() {
                return Err(self.err(
                    line,
                    Some(format!("{field}.id")),
                    format!("two steps have the id `{id}`"),
                ));
            }
        }
        Ok(step.with_line(line.unwrap_or(0)))
    }

    /// Cross-references between steps: sockets, sync points, actors.
    fn cross_references(&self, actors: &[Actor]) -> Result<(), ScenarioError> {
        let all_steps = || {
            actors
                .iter()
                .flat_map(|a| a.steps.iter().map(move |s| (a, s)))
        };
        let made: BTreeSet<&str> = all_steps()
            .filter_map(|(_, s)| s.action.creates())
            .collect();
        self.one_maker_per_socket(actors)?;
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
                    return Err(self.err(
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
                    return Err(self.err(
                        line,
                        field,
                        format!("no step signals `{sync}`: this wait could never end"),
                    ))
                }
                Action::WaitBlocked { actor } if !actors.iter().any(|x| &x.name == actor) => {
                    return Err(self.err(line, field, format!("there is no actor `{actor}`")))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `[observations]`.
    fn observations(
        &self,
        raw: IndexMap<String, Spanned<RawObservation>>,
        names: &Names,
        step_ids: &StepIds,
        actors: &[Actor],
    ) -> Result<Vec<ObservationDef>, ScenarioError> {
        raw.into_iter()
            .map(|(name, sp)| self.observation(name, sp, names, step_ids, actors))
            .collect()
    }

    /// One observation: a kernel counter, or what it takes from which step.
    fn observation(
        &self,
        oname: String,
        sp: Spanned<RawObservation>,
        names: &Names,
        step_ids: &StepIds,
        actors: &[Actor],
    ) -> Result<ObservationDef, ScenarioError> {
        let line = self.at(sp.span());
        let o = sp.into_inner();
        let field = Some(format!("observations.{oname}"));
        if names.params.contains(oname.as_str()) {
            return Err(self.err(
                line,
                field,
                format!("`{oname}` is also a parameter; expressions could not tell them apart"),
            ));
        }
        if let Some(key) = &o.packets {
            let only = o.step.is_none() && o.take.is_none() && o.counter.is_none();
            return self.packet_observation(oname, key, only, o.help, line, actors);
        }
        let (step, take) = match (o.step, o.take, o.counter) {
            (None, None, Some(counter)) => {
                super::vocab::check_counter(&counter)
                    .map_err(|m| self.err(line, field.clone(), m))?;
                if let Some(m) = host::counter_warning(&counter) {
                    self.warn(line, field, m);
                }
                return Ok(ObservationDef {
                    name: oname,
                    step: String::new(),
                    take: Take::Counter,
                    counter: Some(counter),
                    packets: None,
                    help: o.help,
                });
            }
            (Some(step), Some(take), None) => (step, take),
            (_, _, Some(_)) => {
                return Err(self.err(
                    line,
                    field,
                    "an observation takes either `counter` or `step` and `take`, not both".into(),
                ))
            }
            _ => {
                return Err(self.err(
                    line,
                    field,
                    "an observation needs `step` and `take` (or `counter` for a kernel counter)"
                        .into(),
                ))
            }
        };
        let Some(action) = step_ids.get(&step) else {
            return Err(self.err(
                line,
                field,
                format!(
                    "no step has the id `{step}` (ids: {})",
                    step_ids.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let allowed = action.takes();
        if !allowed.contains(&take) {
            return Err(self.err(
                line,
                field,
                format!(
                    "a `{}` step has no `{take}`; it has: {}",
                    action.op(),
                    allowed
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(ObservationDef {
            name: oname,
            step,
            take,
            counter: None,
            packets: None,
            help: o.help,
        })
    }

    /// The short explanation: its placeholders name parameters or observations.
    fn explanation(
        &self,
        raw: Option<Spanned<String>>,
        names: &Names,
        observations: &[ObservationDef],
    ) -> Result<String, ScenarioError> {
        let Some(sp) = raw else {
            return Ok(String::new());
        };
        let line = self.at(sp.span());
        let text = sp.into_inner();
        for ph in placeholders(&text) {
            if !names.params.contains(ph) && !observations.iter().any(|o| o.name == ph) {
                return Err(self.err(
                    line,
                    Some("explanation".into()),
                    format!("`{{{ph}}}` names neither a parameter nor an observation"),
                ));
            }
        }
        Ok(text.trim().to_owned())
    }

    /// The long explanation, `[explain]`: every part that is there says something.
    fn explain(&self, raw: Option<RawExplain>) -> Result<Option<Explain>, ScenarioError> {
        let Some(e) = raw else {
            return Ok(None);
        };
        let mut texts = vec![("shows", &e.shows), ("why", &e.why)];
        texts.extend(e.elsewhere.as_ref().map(|t| ("elsewhere", t)));
        for (key, text) in texts {
            if text.get_ref().trim().is_empty() {
                return Err(self.err(
                    self.at(text.span()),
                    Some(format!("explain.{key}")),
                    "must not be empty (leave out an optional part instead)".into(),
                ));
            }
        }
        if e.read.get_ref().is_empty() || e.read.get_ref().iter().any(|r| r.trim().is_empty()) {
            return Err(self.err(
                self.at(e.read.span()),
                Some("explain.read".into()),
                "name at least one man page or RFC section, e.g. [\"tcp(7)\"]".into(),
            ));
        }
        Ok(Some(Explain {
            shows: e.shows.get_ref().trim().to_owned(),
            why: e.why.get_ref().trim().to_owned(),
            elsewhere: e.elsewhere.map(|t| t.get_ref().trim().to_owned()),
            read: e.read.into_inner(),
        }))
    }

    /// `timeout_ms`, or the default.
    fn timeout(&self, raw: Option<u64>) -> Result<u64, ScenarioError> {
        match raw {
            Some(0) => Err(self.err(
                None,
                Some("timeout_ms".into()),
                "must be at least 1 (milliseconds)".into(),
            )),
            t => Ok(t.unwrap_or(DEFAULT_TIMEOUT_MS)),
        }
    }
}

/// A parameter without `type`: the type its default has (an integer, a number in quotes,
/// a boolean), or a text when it has `choices`.
fn inferred(p: &RawParam) -> Result<(ParamKind, ParamValue), String> {
    Ok(match (&p.choices, &p.default) {
        (Some(c), Some(toml::Value::String(s))) if c.contains(s) => {
            (ParamKind::Text(c.clone()), ParamValue::Text(s.clone()))
        }
        (Some(c), _) => {
            return Err(format!(
                "the default must be one of the choices ({})",
                c.join(", ")
            ))
        }
        (None, Some(toml::Value::Integer(n))) => (ParamKind::Int, ParamValue::Int(*n)),
        (None, Some(toml::Value::String(s))) => match ParamKind::Int.parse_number(s) {
            Some(n) => (ParamKind::Int, ParamValue::Int(n)),
            None => {
                return Err(format!(
                    "default `{s}` is not a number; for a text parameter give `choices` or `type = \"text\"`"
                ))
            }
        },
        (None, Some(toml::Value::Boolean(b))) => (ParamKind::Bool, ParamValue::Bool(*b)),
        (None, None) if p.optional => (ParamKind::Int, ParamValue::Unset),
        (None, None) => {
            return Err(
                "needs a `default` (or `optional = true` for an integer that may stay unset)"
                    .into(),
            )
        }
        (None, Some(other)) => {
            return Err(format!(
                "default must be an integer, a boolean or one of `choices`, not {}",
                other.type_str()
            ))
        }
    })
}
