//! Parameters: their types, units and bounds, and the values `--set` gives them.
//!
//! A parameter is an integer, a size (bytes), a duration (milliseconds), a boolean or a
//! text. Sizes and durations are integers in their base unit once parsed (a record holds
//! `65536`, not `64KiB`); the units are for people: `--set payload=1MiB`,
//! `--set dial_timeout_ms=2s`, and the listings print `64KiB` and `2s` back. Bounds are
//! inclusive and in the type's base unit; a value outside them is refused before anything
//! runs, naming the bound.

use std::fmt;

use super::expr::{Expr, Lookup};

/// A parameter's value; `Unset` for an optional parameter left alone.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Int(i64),
    Bool(bool),
    Text(String),
    Unset,
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(n) => write!(f, "{n}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Text(t) => f.write_str(t),
            ParamValue::Unset => f.write_str("unset"),
        }
    }
}

/// The type of a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    Int,
    /// Bytes; written with B, KiB, MiB, GiB (binary) or KB, MB, GB (decimal).
    Size,
    /// Milliseconds; written with ms or s.
    Duration,
    Bool,
    /// A text: one of `choices`, or any text when there are none.
    Text(Vec<String>),
}

/// The names `type = "..."` takes, in the order help lists them.
pub const PARAM_TYPES: &[&str] = &["int", "size", "duration", "bool", "text"];

/// Size suffixes and what they multiply by. Longest first, so that `KiB` is not read
/// as `B`.
const SIZE_UNITS: &[(&str, i64)] = &[
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("B", 1),
];

/// Duration suffixes (milliseconds per unit). `ms` before `s`.
const DURATION_UNITS: &[(&str, i64)] = &[("ms", 1), ("s", 1_000)];

impl ParamKind {
    /// The kind `type = "..."` names; `choices` make a text one.
    pub fn from_name(name: &str, choices: Option<&[String]>) -> Option<ParamKind> {
        Some(match name {
            "int" => ParamKind::Int,
            "size" => ParamKind::Size,
            "duration" => ParamKind::Duration,
            "bool" => ParamKind::Bool,
            "text" => ParamKind::Text(choices.map(<[String]>::to_vec).unwrap_or_default()),
            _ => return None,
        })
    }

    /// The name a file writes for this kind (`size`).
    pub fn name(&self) -> &'static str {
        match self {
            ParamKind::Int => "int",
            ParamKind::Size => "size",
            ParamKind::Duration => "duration",
            ParamKind::Bool => "bool",
            ParamKind::Text(_) => "text",
        }
    }

    /// Whether values of this kind are integers (and so may have bounds).
    pub fn is_numeric(&self) -> bool {
        matches!(self, ParamKind::Int | ParamKind::Size | ParamKind::Duration)
    }

    /// Parses a number of this kind: `64KiB` or `1MB` for a size, `2s` or `200ms` for a
    /// duration, a plain integer for any (the base unit), or, for an integer or a size,
    /// a constant expression (`2 * 64KiB`). `None` when it is none of these or does not
    /// fit in 64 bits.
    pub fn parse_number(&self, text: &str) -> Option<i64> {
        let text = text.trim();
        let units = match self {
            ParamKind::Size => SIZE_UNITS,
            ParamKind::Duration => DURATION_UNITS,
            ParamKind::Int => &[],
            ParamKind::Bool | ParamKind::Text(_) => return None,
        };
        if let Some(n) = with_unit(text, units) {
            return Some(n);
        }
        if *self == ParamKind::Duration {
            return None;
        }
        Expr::parse(text).ok()?.eval(&|_| Lookup::Unknown).ok()
    }

    /// A number of this kind as a person reads it: sizes in the largest binary unit that
    /// divides them (`64KiB`, else `1000B`), durations in seconds when whole (`2s`, else
    /// `200ms`).
    pub fn format_number(&self, n: i64) -> String {
        let units: &[(&str, i64)] = match self {
            ParamKind::Size => &[("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)],
            ParamKind::Duration => &[("s", 1000)],
            _ => &[],
        };
        if n == 0 {
            return "0".to_owned();
        }
        for (suffix, factor) in units {
            if n % factor == 0 {
                return format!("{}{suffix}", n / factor);
            }
        }
        match self {
            ParamKind::Size => format!("{n}B"),
            ParamKind::Duration => format!("{n}ms"),
            _ => n.to_string(),
        }
    }
}

/// A number as a sweep's range writes it: an integer, or one with a size unit (`64KiB`)
/// or a duration unit (`200ms`), with the kind the unit belongs to (`Int` for none) and
/// its value in that kind's base unit.
pub fn quantity(text: &str) -> Option<(i64, ParamKind)> {
    let text = text.trim();
    if let Some(n) = with_unit(text, &[]) {
        return Some((n, ParamKind::Int));
    }
    if let Some(n) = with_unit(text, DURATION_UNITS) {
        return Some((n, ParamKind::Duration));
    }
    with_unit(text, SIZE_UNITS).map(|n| (n, ParamKind::Size))
}

/// `text` as an integer followed by one of `units` (or none: the base unit).
fn with_unit(text: &str, units: &[(&str, i64)]) -> Option<i64> {
    let digits = text
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && *c == '-')))
        .map_or(text.len(), |(i, _)| i);
    let (number, suffix) = text.split_at(digits);
    let n: i64 = number.parse().ok()?;
    if suffix.is_empty() {
        return Some(n);
    }
    let (_, factor) = units.iter().find(|(u, _)| *u == suffix.trim_start())?;
    n.checked_mul(*factor)
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamKind::Int => f.write_str("an integer (sizes may use KiB, MiB)"),
            ParamKind::Size => f.write_str("a size in bytes (B, KiB, MiB, GiB, KB, MB, GB)"),
            ParamKind::Duration => f.write_str("a duration in milliseconds (ms, s)"),
            ParamKind::Bool => f.write_str("true or false"),
            ParamKind::Text(c) if c.is_empty() => f.write_str("a text"),
            ParamKind::Text(c) => write!(f, "one of {}", c.join(", ")),
        }
    }
}

/// A scenario's parameter: its type, default, bounds, unit and help.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    /// `Unset` for an optional parameter.
    pub default: ParamValue,
    /// Inclusive bounds, in the type's base unit (bytes, milliseconds).
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// What the number counts, for help (`writers`, `dials`); sizes and durations carry
    /// their own.
    pub unit: Option<String>,
    pub help: String,
}

impl Param {
    /// Parses a command-line value (`--set name=value`) as this parameter's type; the
    /// bounds are checked by [`Param::check_bounds`].
    pub fn parse_value(&self, text: &str) -> Result<ParamValue, String> {
        let bad = || {
            format!(
                "parameter `{}` takes {}, not `{text}`",
                self.name, self.kind
            )
        };
        if text == "unset" && self.default == ParamValue::Unset {
            return Ok(ParamValue::Unset);
        }
        match &self.kind {
            ParamKind::Int | ParamKind::Size | ParamKind::Duration => self
                .kind
                .parse_number(text)
                .map(ParamValue::Int)
                .ok_or_else(bad),
            ParamKind::Bool => text.parse().map(ParamValue::Bool).map_err(|_| bad()),
            ParamKind::Text(c) if c.is_empty() || c.iter().any(|x| x == text) => {
                Ok(ParamValue::Text(text.to_owned()))
            }
            ParamKind::Text(_) => Err(bad()),
        }
    }

    /// Whether `value` lies within the bounds; the error names the bound broken
    /// (`writers is at most 16`).
    pub fn check_bounds(&self, value: &ParamValue) -> Result<(), String> {
        let ParamValue::Int(n) = value else {
            return Ok(());
        };
        if let Some(max) = self.max.filter(|m| n > m) {
            return Err(format!("{} is at most {}", self.name, self.show(max)));
        }
        if let Some(min) = self.min.filter(|m| n < m) {
            return Err(format!("{} is at least {}", self.name, self.show(min)));
        }
        Ok(())
    }

    /// A number of this parameter in its units: `64KiB`, `200ms`, `16 writers`.
    pub fn show(&self, n: i64) -> String {
        let text = self.kind.format_number(n);
        match (&self.kind, &self.unit) {
            (ParamKind::Int, Some(u)) => format!("{text} {u}"),
            _ => text,
        }
    }

    /// A value of this parameter as [`Param::show`] writes numbers; others as they are.
    pub fn show_value(&self, v: &ParamValue) -> String {
        match v {
            ParamValue::Int(n) => self.show(*n),
            other => other.to_string(),
        }
    }

    /// The bounds as help prints them: `1 to 16 writers`, `at least 1ms`, or `None`.
    pub fn bounds(&self) -> Option<String> {
        match (self.min, self.max) {
            (Some(a), Some(b)) => Some(format!(
                "{} to {}",
                self.kind.format_number(a),
                self.show(b)
            )),
            (Some(a), None) => Some(format!("at least {}", self.show(a))),
            (None, Some(b)) => Some(format!("at most {}", self.show(b))),
            (None, None) => match &self.kind {
                ParamKind::Text(c) if !c.is_empty() => Some(format!("one of {}", c.join(", "))),
                _ => None,
            },
        }
    }

    /// One line of help: `writers  int  default 4  1 to 16 writers  writer threads ...`
    /// as columns (name, type, default, bounds, help), for listings to align.
    pub fn columns(&self) -> [String; 5] {
        let default = match &self.default {
            ParamValue::Unset => "unset".to_owned(),
            v => self.show_value(v),
        };
        [
            self.name.clone(),
            self.kind.name().to_owned(),
            default,
            self.bounds().unwrap_or_else(|| "-".to_owned()),
            self.help.clone(),
        ]
    }
}

/// `rows` of columns as aligned lines, each starting with `indent` (the last column is
/// not padded).
pub fn align(rows: &[[String; 5]], indent: &str) -> String {
    let mut widths = [0usize; 5];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(indent);
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(kind: ParamKind, min: Option<i64>, max: Option<i64>) -> Param {
        Param {
            name: "p".into(),
            kind,
            default: ParamValue::Int(1),
            min,
            max,
            unit: None,
            help: "h".into(),
        }
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        let k = ParamKind::Size;
        assert_eq!(k.parse_number("64KiB"), Some(65536));
        assert_eq!(k.parse_number("1MB"), Some(1_000_000));
        assert_eq!(k.parse_number("100B"), Some(100));
        assert_eq!(k.parse_number("4096"), Some(4096));
        assert_eq!(k.parse_number("2 * 64KiB"), Some(131072));
        assert_eq!(k.parse_number("64GiB"), Some(64 << 30));
        assert_eq!(k.parse_number("many"), None);
        assert_eq!(k.parse_number("99999999999GiB"), None, "overflow");
    }

    #[test]
    fn durations_take_ms_and_s() {
        let k = ParamKind::Duration;
        assert_eq!(k.parse_number("200ms"), Some(200));
        assert_eq!(k.parse_number("2s"), Some(2000));
        assert_eq!(k.parse_number("150"), Some(150));
        assert_eq!(k.parse_number("2h"), None);
        assert_eq!(k.parse_number("1KiB"), None);
    }

    #[test]
    fn numbers_print_back_in_their_units() {
        assert_eq!(ParamKind::Size.format_number(65536), "64KiB");
        assert_eq!(ParamKind::Size.format_number(1000), "1000B");
        assert_eq!(ParamKind::Duration.format_number(2000), "2s");
        assert_eq!(ParamKind::Duration.format_number(250), "250ms");
        assert_eq!(ParamKind::Int.format_number(16), "16");
    }

    #[test]
    fn a_value_outside_the_bounds_names_the_bound() {
        let p = param(ParamKind::Size, Some(1), Some(64 << 20));
        assert_eq!(
            p.check_bounds(&ParamValue::Int(65 << 20)).unwrap_err(),
            "p is at most 64MiB"
        );
        assert_eq!(
            p.check_bounds(&ParamValue::Int(0)).unwrap_err(),
            "p is at least 1B"
        );
        assert!(
            p.check_bounds(&ParamValue::Int(64 << 20)).is_ok(),
            "inclusive"
        );
        assert!(p.check_bounds(&ParamValue::Int(1)).is_ok(), "inclusive");
    }

    #[test]
    fn an_int_shows_its_unit() {
        let mut p = param(ParamKind::Int, Some(1), Some(16));
        p.unit = Some("writers".into());
        assert_eq!(p.bounds().unwrap(), "1 to 16 writers");
        assert_eq!(
            p.check_bounds(&ParamValue::Int(100)).unwrap_err(),
            "p is at most 16 writers"
        );
    }

    #[test]
    fn free_text_takes_anything_and_choices_only_theirs() {
        let free = Param {
            kind: ParamKind::Text(vec![]),
            ..param(ParamKind::Int, None, None)
        };
        assert_eq!(free.parse_value("bbr"), Ok(ParamValue::Text("bbr".into())));
        let chosen = Param {
            kind: ParamKind::Text(vec!["reno".into()]),
            ..param(ParamKind::Int, None, None)
        };
        assert!(chosen
            .parse_value("bbr")
            .unwrap_err()
            .contains("one of reno"));
    }
}
