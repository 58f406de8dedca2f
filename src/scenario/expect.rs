//! The expectation grammar: what a value under `[expect.<os>]` may be for each type of
//! observation.

use super::expr::Expr;
use super::model::Expected;
use super::step::ValueType;
use crate::suggest::closest;

pub(super) fn expected_exprs(e: &Expected) -> Vec<&Expr> {
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
pub(super) const EXPECTATION_KEYS: &[&str] = &["min", "max", "any_of", "when", "value"];

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

pub(super) fn expected_from(v: &toml::Value, ty: ValueType) -> Result<Expected, String> {
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
            // Windows' WSAE* names are not in this system's table; accept them by form.
            let known = OUTCOME_WORDS.contains(&s.as_str())
                || ERROR_KINDS.contains(&s.as_str())
                || crate::sys::errno_names().any(|n| n == s)
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
