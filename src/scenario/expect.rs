//! `[expect.<os>]`: the expectations of each system, what differs under one engine
//! (`[expect.<os>.<engine>]`) or in a range of kernels (`[[expect.<os>.kernels]]`), and
//! the grammar of one expected value for each type of observation.

use indexmap::IndexMap;
use toml::Spanned;

use super::cx::{Cx, Names};
use super::expr::Expr;
use super::host;
use super::kernel::{self, KernelExpectations};
use super::model::{
    Basis, EngineExpectations, Expectations, Expected, ObservationDef, ScenarioError,
};
use super::take::ValueType;
use super::vocab::{CLEAN_ROOM, ENGINE_NAMES, ERRNO_NAMES, FACTS, OSES};
use crate::suggest::closest;

/// The `[expect]` section as written: per OS, its keys with their places.
type RawExpect = IndexMap<String, Spanned<IndexMap<String, Spanned<toml::Value>>>>;

/// Validates every `[expect.<os>]` table, in file order.
pub(super) fn expectations(
    cx: &Cx,
    raw: RawExpect,
    names: &Names,
    observations: &[ObservationDef],
) -> Result<Vec<Expectations>, ScenarioError> {
    let tables = Tables {
        cx,
        names,
        observations,
    };
    raw.into_iter()
        .map(|(os, sp)| tables.os_table(os, sp))
        .collect()
}

/// What an expectation table is checked against.
struct Tables<'a> {
    cx: &'a Cx<'a>,
    names: &'a Names<'a>,
    observations: &'a [ObservationDef],
}

impl Tables<'_> {
    /// Whether the file defines an observation called `name`.
    fn is_observation(&self, name: &str) -> bool {
        self.observations.iter().any(|o| o.name == name)
    }

    /// One `[expect.<os>]` table, with the engine and kernel tables inside it.
    fn os_table(
        &self,
        os: String,
        sp: Spanned<IndexMap<String, Spanned<toml::Value>>>,
    ) -> Result<Expectations, ScenarioError> {
        let line = self.cx.at(sp.span());
        if !OSES.contains(&os.as_str()) {
            return Err(self.cx.err(
                line,
                Some(format!("expect.{os}")),
                format!("unknown OS `{os}` (one of {})", OSES.join(", ")),
            ));
        }
        let label = format!("expect.{os}");
        let mut basis = None;
        let mut values = Vec::new();
        let mut engines = Vec::new();
        let mut kernels = Vec::new();
        for (key, v) in sp.into_inner() {
            let vline = self.cx.at(v.span());
            let value = v.into_inner();
            match (key.as_str(), value) {
                ("measured" | "documented", value) => {
                    self.basis(&label, &key, vline, &value, &mut basis)?
                }
                ("kernels", value) if !self.is_observation("kernels") => {
                    kernels.extend(self.kernel_tables(&label, vline, &value)?)
                }
                (name, toml::Value::Table(t))
                    if ENGINE_NAMES.contains(&name)
                        || (!self.is_observation(name)
                            && !EXPECTATION_KEYS.iter().any(|k| t.contains_key(*k))) =>
                {
                    engines.push(self.engine_table(&label, name, vline, t)?)
                }
                (obs, value) => {
                    let e = self.value(&label, obs, vline, &value)?;
                    values.push((obs.to_owned(), e));
                }
            }
        }
        let Some(basis) = basis else {
            return Err(self.no_basis(&label, line));
        };
        Ok(Expectations {
            os,
            basis,
            values,
            engines,
            kernels,
        })
    }

    /// `[[expect.<os>.kernels]]`: what differs in a range of kernels (see kernel.rs).
    fn kernel_tables(
        &self,
        label: &str,
        vline: Option<usize>,
        value: &toml::Value,
    ) -> Result<Vec<KernelExpectations>, ScenarioError> {
        let klabel = format!("{label}.kernels");
        let not_tables = || {
            self.cx.err(
                vline,
                Some(klabel.clone()),
                "write each range as its own `[[expect.<os>.kernels]]` table".into(),
            )
        };
        let tables = value.as_array().ok_or_else(not_tables)?;
        let mut kernels = Vec::new();
        for t in tables {
            let t = t.as_table().ok_or_else(not_tables)?;
            let k = kernel::parse_table(
                t,
                |obs, v| self.value(&klabel, obs, vline, v).map_err(|e| e.message),
                |key, v, b| self.basis(&klabel, key, vline, v, b).map_err(|e| e.message),
                |n| self.is_observation(n),
            )
            .map_err(|(key, m)| self.cx.err(vline, Some(format!("{klabel}.{key}")), m))?;
            kernels.push(k);
        }
        Ok(kernels)
    }

    /// `[expect.<os>.<engine>]`: what differs under one engine.
    fn engine_table(
        &self,
        label: &str,
        name: &str,
        vline: Option<usize>,
        t: toml::Table,
    ) -> Result<EngineExpectations, ScenarioError> {
        let elabel = format!("{label}.{name}");
        if !ENGINE_NAMES.contains(&name) {
            let near = closest(name, ENGINE_NAMES.into_iter());
            return Err(self.cx.err(
                vline,
                Some(elabel),
                format!(
                    "unknown engine `{name}` (did you mean {}?); engines: {}",
                    near.join(", "),
                    ENGINE_NAMES.join(", ")
                ),
            ));
        }
        let mut basis = None;
        let mut why = None;
        let mut skip = Vec::new();
        let mut values = Vec::new();
        for (k, value) in t {
            // Keys inside the engine's table have no span of their own: the first line
            // below its header that sets the key.
            let kline = vline.map(|l| self.cx.key_line(l, &k));
            match k.as_str() {
                "measured" | "documented" => self.basis(&elabel, &k, kline, &value, &mut basis)?,
                "skip" => {
                    let names: Option<Vec<&str>> = value
                        .as_array()
                        .and_then(|a| a.iter().map(|v| v.as_str()).collect());
                    let field = Some(format!("{elabel}.skip"));
                    let Some(names) = names else {
                        return Err(self.cx.err(
                            kline,
                            field,
                            "must be a list of observation names".into(),
                        ));
                    };
                    for n in names {
                        if !self.is_observation(n) {
                            return Err(self.cx.err(kline, field, format!("no observation `{n}`")));
                        }
                        skip.push(n.to_owned());
                    }
                }
                "why" => match value.as_str().filter(|t| !t.trim().is_empty()) {
                    Some(w) => why = Some(w.trim().to_owned()),
                    None => {
                        return Err(self.cx.err(
                            kline,
                            Some(format!("{elabel}.why")),
                            "must be a text saying why this engine differs".into(),
                        ))
                    }
                },
                obs => {
                    let e = self.value(&elabel, obs, kline, &value)?;
                    values.push((obs.to_owned(), e));
                }
            }
        }
        let Some(basis) = basis else {
            return Err(self.no_basis(&elabel, vline));
        };
        if !skip.is_empty() && why.is_none() {
            return Err(self.cx.err(
                vline,
                Some(format!("{elabel}.skip")),
                "say in `why` why these are not checked under this engine".into(),
            ));
        }
        Ok(EngineExpectations {
            engine: name.to_owned(),
            basis,
            why,
            values,
            skip,
        })
    }

    /// One expected value, `key = value` in the table `label`: the observation exists and
    /// the value fits its type. The rules hold alike in OS, engine and kernel tables.
    fn value(
        &self,
        label: &str,
        key: &str,
        vline: Option<usize>,
        value: &toml::Value,
    ) -> Result<Expected, ScenarioError> {
        let field = Some(format!("{label}.{key}"));
        let Some(def) = self.observations.iter().find(|o| o.name == key) else {
            let names = self.observations.iter().map(|o| o.name.as_str());
            let near = closest(key, names);
            return Err(self.cx.err(
                vline,
                field,
                format!(
                    "no observation `{key}` (did you mean {}?) (observations: {})",
                    near.join(", "),
                    self.observations
                        .iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        let expected = expected_from(value, def.value_type())
            .map_err(|m| self.cx.err(vline, field.clone(), m))?;
        for name in outcomes(&expected) {
            if let Some(m) = ERRNO_NAMES
                .contains(&name)
                .then(|| host::errno_warning(name))
                .flatten()
            {
                self.cx.warn(vline, field.clone(), m);
            }
        }
        let lower_bound = matches!(
            expected,
            Expected::Range {
                min: Some(_),
                max: None
            }
        );
        let in_clean_room = matches!(&expected, Expected::When(p, _) if p == CLEAN_ROOM);
        if def.counter.is_some() && !lower_bound && !in_clean_room {
            return Err(self.cx.err(
                vline,
                field,
                format!("a counter counts for its whole network namespace: outside a clean room other traffic moves it too, so expect a lower bound `{{ min = N }}`, or an exact figure in a clean room only: `{{ value = N, when = \"{CLEAN_ROOM}\" }}`"),
            ));
        }
        if let Expected::When(p, _) = &expected {
            if !self.names.params.contains(p.as_str()) && !FACTS.contains(&p.as_str()) {
                return Err(self.cx.err(
                    vline,
                    field,
                    format!("`when = \"{p}\"` names no parameter and no fact"),
                ));
            }
        }
        // Expectations may also name numeric observations of the same run.
        for e in expected_exprs(&expected) {
            for n in e.names() {
                let numeric_obs = self.observations.iter().any(|o| {
                    o.name == n && matches!(o.value_type(), ValueType::Int | ValueType::Ms)
                });
                if !numeric_obs {
                    let name = Expr::Name(n.to_owned());
                    self.names
                        .check(self.cx, &name, vline, &format!("{label}.{key}"))?;
                }
            }
        }
        Ok(expected)
    }

    /// `measured` or `documented`: one of them, once, with a text.
    fn basis(
        &self,
        label: &str,
        key: &str,
        vline: Option<usize>,
        value: &toml::Value,
        basis: &mut Option<Basis>,
    ) -> Result<(), ScenarioError> {
        let field = Some(format!("{label}.{key}"));
        let Some(text) = value.as_str().filter(|t| !t.trim().is_empty()) else {
            return Err(self.cx.err(
                vline,
                field,
                "must be a text naming the system and the command, or the source".into(),
            ));
        };
        if basis.is_some() {
            return Err(self.cx.err(
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
    }

    /// The error for a table that says neither `measured` nor `documented`.
    fn no_basis(&self, label: &str, line: Option<usize>) -> ScenarioError {
        self.cx.err(
            line,
            Some(label.to_owned()),
            "say where the expectations come from: `measured = \"<system, command, date>\"` or `documented = \"<source>\"`".into(),
        )
    }
}

/// The outcome names an expectation uses (`EPIPE`, `ok`), alternatives included.
fn outcomes(e: &Expected) -> Vec<&str> {
    match e {
        Expected::Outcome(s) => vec![s],
        Expected::AnyOf(alts) => alts.iter().flat_map(outcomes).collect(),
        Expected::When(_, e) => outcomes(e),
        _ => vec![],
    }
}

fn expected_exprs(e: &Expected) -> Vec<&Expr> {
    match e {
        Expected::Value(x) => vec![x],
        Expected::Range { min, max } => min.iter().chain(max.iter()).collect(),
        Expected::AnyOf(alts) => alts.iter().flat_map(expected_exprs).collect(),
        Expected::When(_, e) => expected_exprs(e),
        _ => vec![],
    }
}

/// The keys of an expectation written as a table (`{ min = 1 }`): a table with none of
/// them inside `[expect.<os>]` is an engine's table.
const EXPECTATION_KEYS: &[&str] = &["min", "max", "any_of", "when", "value"];

/// Names an outcome expectation may use besides errno names and io::ErrorKind names.
const OUTCOME_WORDS: &[&str] = &["ok", "deadline"];

/// `std::io::ErrorKind` names as `{:?}` prints them (with `Uncategorized`, which std
/// prints for errnos it does not map, such as EBADF).
const ERROR_KINDS: &[&str] = &[
    "NotFound",
    "PermissionDenied",
    "ConnectionRefused",
    "ConnectionReset",
    "HostUnreachable",
    "NetworkUnreachable",
    "ConnectionAborted",
    "NotConnected",
    "AddrInUse",
    "AddrNotAvailable",
    "NetworkDown",
    "BrokenPipe",
    "AlreadyExists",
    "WouldBlock",
    "InvalidInput",
    "InvalidData",
    "TimedOut",
    "WriteZero",
    "Interrupted",
    "Unsupported",
    "UnexpectedEof",
    "OutOfMemory",
    "InProgress",
    "ResourceBusy",
    "Other",
    "Uncategorized",
];

fn expected_from(v: &toml::Value, ty: ValueType) -> Result<Expected, String> {
    use toml::Value as V;
    let expr = |v: &V| -> Result<Expr, String> {
        match v {
            V::Integer(n) => Ok(Expr::Num(*n)),
            V::String(s) => Expr::parse(s).map_err(|e| e.to_string()),
            other => Err(format!(
                "expected an integer or an expression, found {}",
                other.type_str()
            )),
        }
    };
    match (ty, v) {
        (_, V::Table(t)) if t.contains_key("when") => {
            let mut rest = t.clone();
            let Some(V::String(param)) = rest.remove("when") else {
                return Err("`when` takes a parameter name".into());
            };
            let inner = match (rest.len(), rest.get("value")) {
                (1, Some(v)) => expected_from(v, ty)?,
                _ if rest.contains_key("value") => {
                    return Err("`value` stands alone beside `when`".into())
                }
                _ => expected_from(&V::Table(rest), ty)?,
            };
            Ok(Expected::When(param, Box::new(inner)))
        }
        (_, V::Table(t)) if t.contains_key("any_of") => {
            if t.len() != 1 {
                return Err("`any_of` stands alone in its table".into());
            }
            let Some(V::Array(alts)) = t.get("any_of") else {
                return Err("`any_of` takes a list of alternatives".into());
            };
            if alts.is_empty() {
                return Err("`any_of` needs at least one alternative".into());
            }
            alts.iter()
                .map(|a| expected_from(a, ty))
                .collect::<Result<_, _>>()
                .map(Expected::AnyOf)
        }
        (ValueType::Int | ValueType::Ms, V::Table(t)) => {
            if let Some(k) = t.keys().find(|k| *k != "min" && *k != "max") {
                return Err(format!(
                    "unknown key `{k}` (a table holds min and max, any_of, or value with when)"
                ));
            }
            Ok(Expected::Range {
                min: t.get("min").map(expr).transpose()?,
                max: t.get("max").map(expr).transpose()?,
            })
        }
        (ValueType::Int | ValueType::Ms, V::Array(alts)) => alts
            .iter()
            .map(|a| expr(a).map(Expected::Value))
            .collect::<Result<_, _>>()
            .map(Expected::AnyOf),
        (ValueType::Int | ValueType::Ms, v) => expr(v).map(Expected::Value),
        (ValueType::List, V::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_integer()
                    .ok_or_else(|| "a list expectation holds integers".to_owned())
            })
            .collect::<Result<_, _>>()
            .map(Expected::List),
        (ValueType::List, _) => Err("expected a list of integers such as [10, 5]".into()),
        (ValueType::Outcome, V::String(s)) => {
            // Windows' WSAE* names are accepted by form. Any system's errno name is
            // accepted, so the file is valid everywhere; one this system does not report
            // is a warning (see `Tables::value`).
            let known = OUTCOME_WORDS.contains(&s.as_str())
                || ERROR_KINDS.contains(&s.as_str())
                || ERRNO_NAMES.contains(&s.as_str())
                || s.starts_with("WSAE");
            if known {
                Ok(Expected::Outcome(s.clone()))
            } else {
                let words = OUTCOME_WORDS
                    .iter()
                    .copied()
                    .chain(ERROR_KINDS.iter().copied())
                    .chain(crate::sys::errno_names());
                let near = closest(s, words);
                Err(format!(
                    "`{s}` is not an outcome (did you mean {}?): use `ok`, `deadline`, an errno name (EPIPE) or an io::ErrorKind (BrokenPipe)",
                    near.join(", ")
                ))
            }
        }
        (ValueType::Outcome, V::Array(alts)) => alts
            .iter()
            .map(|a| expected_from(a, ty))
            .collect::<Result<_, _>>()
            .map(Expected::AnyOf),
        (ValueType::Text, V::String(s)) => Ok(Expected::Text(s.clone())),
        (ValueType::Text, V::Array(alts)) => alts
            .iter()
            .map(|a| expected_from(a, ty))
            .collect::<Result<_, _>>()
            .map(Expected::AnyOf),
        (ty, other) => Err(format!(
            "a {ty} observation cannot be expected to be {}",
            other.type_str()
        )),
    }
}
