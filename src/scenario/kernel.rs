//! Expectations limited to a range of Linux kernel versions: where the behaviour itself
//! differs between kernels (not a default, which is a fact and belongs in a rule).
//!
//! ```toml
//! [[expect.linux.kernels]]
//! range = ">= 5.10, < 5.11"
//! measured = "UML 5.10.223 (tcplab run nodelay-small-writes --kernel 5.10 --repeat 5, 2026-12-03)"
//! why = "what changed, and the kernel change responsible"
//! nagle_ms = { max = "exchanges * 20" }
//! skip = ["nodelay_ms"]
//! ```
//!
//! A `range` is comparators joined by commas, each `<`, `<=`, `>`, `>=` or `=` and a
//! version `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`; `= 5.10` (or plain `5.10`) is every
//! 5.10.x. Each table needs its own basis (`measured`/`documented`) and a `why`. When the
//! kernel a run happened in (the `kernel_version` fact) is in the range, the table's keys
//! replace the same-named ones of the OS's (and engine's) table, `skip` removes keys, and
//! the verdict's basis is the table's. Tables apply in file order.

use std::fmt;

use super::{Basis, Expected};

/// One comparison of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// A range of kernel versions, as the `kernel_version` fact encodes them
/// (major * 1_000_000 + minor * 1_000 + patch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRange {
    /// The comparators, all of which must hold.
    pub bounds: Vec<(Cmp, i64)>,
    /// As written, for reports.
    pub text: String,
}

impl fmt::Display for KernelRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn encode(major: i64, minor: i64, patch: i64) -> i64 {
    major * 1_000_000 + minor * 1_000 + patch
}

/// `6.1` -> (6001000, true: patch unspecified).
fn version(text: &str) -> Result<(i64, bool), String> {
    let parts: Vec<&str> = text.split('.').collect();
    let nums: Option<Vec<i64>> = parts
        .iter()
        .map(|p| p.parse::<i64>().ok().filter(|n| (0..1000).contains(n)))
        .collect();
    match (nums.as_deref(), parts.len()) {
        (Some([a, b]), 2) => Ok((encode(*a, *b, 0), true)),
        (Some([a, b, c]), 3) => Ok((encode(*a, *b, *c), false)),
        _ => Err(format!(
            "`{text}` is not a kernel version (MAJOR.MINOR or MAJOR.MINOR.PATCH, such as 5.10 or 6.1.176)"
        )),
    }
}

impl KernelRange {
    /// Parses `">= 5.10, < 6.0"`.
    pub fn parse(text: &str) -> Result<KernelRange, String> {
        let mut bounds = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "`{text}`: an empty comparator (write such as `>= 5.10, < 6.0`)"
                ));
            }
            let (op, rest) = ["<=", ">=", "<", ">", "="]
                .iter()
                .find_map(|op| part.strip_prefix(op).map(|r| (*op, r.trim())))
                .unwrap_or(("=", part));
            let (v, minor_only) = version(rest)?;
            let next_minor = v - v % 1_000 + 1_000;
            match (op, minor_only) {
                ("<", _) => bounds.push((Cmp::Lt, v)),
                (">=", _) => bounds.push((Cmp::Ge, v)),
                // `<= 6.1` is every 6.1.x and below; `> 6.1` starts at 6.2.
                ("<=", true) => bounds.push((Cmp::Lt, next_minor)),
                ("<=", false) => bounds.push((Cmp::Le, v)),
                (">", true) => bounds.push((Cmp::Ge, next_minor)),
                (">", false) => bounds.push((Cmp::Gt, v)),
                ("=", true) => {
                    bounds.push((Cmp::Ge, v));
                    bounds.push((Cmp::Lt, next_minor));
                }
                _ => {
                    bounds.push((Cmp::Ge, v));
                    bounds.push((Cmp::Le, v));
                }
            }
        }
        let lowest = bounds
            .iter()
            .filter_map(|(c, v)| match c {
                Cmp::Ge => Some(*v),
                Cmp::Gt => Some(v + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let highest = bounds
            .iter()
            .filter_map(|(c, v)| match c {
                Cmp::Le => Some(*v),
                Cmp::Lt => Some(v - 1),
                _ => None,
            })
            .min()
            .unwrap_or(i64::MAX);
        if lowest > highest {
            return Err(format!("`{text}` contains no kernel version"));
        }
        Ok(KernelRange {
            bounds,
            text: text.trim().to_owned(),
        })
    }

    /// Whether the encoded version is in the range.
    pub fn contains(&self, version: i64) -> bool {
        self.bounds.iter().all(|&(c, v)| match c {
            Cmp::Lt => version < v,
            Cmp::Le => version <= v,
            Cmp::Gt => version > v,
            Cmp::Ge => version >= v,
        })
    }

    /// `>= 5.10.0, < 5.11.0`, each bound decoded.
    pub fn normalized(&self) -> String {
        self.bounds
            .iter()
            .map(|(c, v)| {
                format!(
                    "{} {}.{}.{}",
                    c.symbol(),
                    v / 1_000_000,
                    v / 1_000 % 1_000,
                    v % 1_000
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Expectations that replace same-named ones of their OS when the run's kernel is in
/// `range` (`[[expect.linux.kernels]]`).
#[derive(Debug, Clone)]
pub struct KernelExpectations {
    pub range: KernelRange,
    /// The measurement in those kernels.
    pub basis: Basis,
    /// What differs in those kernels, and why.
    pub why: String,
    pub values: Vec<(String, Expected)>,
    /// Keys of the OS's table not checked in those kernels.
    pub skip: Vec<String>,
}

/// The parts of one `[[expect.<os>.kernels]]` table, parsed by the caller's rules for
/// values and bases; `Err` is (key, message).
pub fn parse_table(
    table: &toml::value::Table,
    mut value: impl FnMut(&str, &toml::Value) -> Result<Expected, String>,
    mut basis: impl FnMut(&str, &toml::Value, &mut Option<Basis>) -> Result<(), String>,
    is_observation: impl Fn(&str) -> bool,
) -> Result<KernelExpectations, (String, String)> {
    let mut range = None;
    let mut b = None;
    let mut why = None;
    let mut values = Vec::new();
    let mut skip = Vec::new();
    for (k, v) in table {
        let e = |m: String| (k.clone(), m);
        match k.as_str() {
            "range" => {
                let text = v
                    .as_str()
                    .ok_or_else(|| e("must be a text such as \">= 5.10, < 6.0\"".into()))?;
                range = Some(KernelRange::parse(text).map_err(e)?);
            }
            "measured" | "documented" => basis(k, v, &mut b).map_err(e)?,
            "why" => match v.as_str().filter(|t| !t.trim().is_empty()) {
                Some(w) => why = Some(w.trim().to_owned()),
                None => {
                    return Err(e(
                        "must be a text saying what differs in these kernels and why".into(),
                    ))
                }
            },
            "skip" => {
                let names: Option<Vec<&str>> = v
                    .as_array()
                    .and_then(|a| a.iter().map(|v| v.as_str()).collect());
                let names = names.ok_or_else(|| e("must be a list of observation names".into()))?;
                for n in names {
                    if !is_observation(n) {
                        return Err(e(format!("no observation `{n}`")));
                    }
                    skip.push(n.to_owned());
                }
            }
            obs => values.push((obs.to_owned(), value(obs, v).map_err(e)?)),
        }
    }
    let range = range.ok_or_else(|| {
        (
            "range".to_owned(),
            "say which kernels: `range = \">= 5.10, < 6.0\"`".to_owned(),
        )
    })?;
    let basis = b.ok_or_else(|| {
        (
            "measured".to_owned(),
            "say where these expectations come from: `measured = \"<kernel, command, date>\"` or `documented = \"<source>\"`".to_owned(),
        )
    })?;
    let why = why.ok_or_else(|| {
        (
            "why".to_owned(),
            "say what differs in these kernels and why (`why = \"...\"`)".to_owned(),
        )
    })?;
    Ok(KernelExpectations {
        range,
        basis,
        why,
        values,
        skip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> i64 {
        let (n, _) = version(s).unwrap();
        n
    }

    #[test]
    fn a_minor_version_means_every_patch_of_it() {
        let r = KernelRange::parse("5.10").unwrap();
        assert!(r.contains(v("5.10.0")) && r.contains(v("5.10.223")));
        assert!(!r.contains(v("5.11.0")) && !r.contains(v("5.9.999")));
        assert_eq!(r.normalized(), ">= 5.10.0, < 5.11.0");
        let r = KernelRange::parse(">= 5.10, < 6.0").unwrap();
        assert!(r.contains(v("5.15.1")) && !r.contains(v("6.0.0")));
        let r = KernelRange::parse("<= 6.1").unwrap();
        assert!(r.contains(v("6.1.176")) && !r.contains(v("6.2.0")));
        let r = KernelRange::parse("> 6.1.176").unwrap();
        assert!(!r.contains(v("6.1.176")) && r.contains(v("6.1.177")));
    }

    #[test]
    fn a_range_that_holds_nothing_or_is_not_a_version_is_refused() {
        let e = KernelRange::parse(">= 6.0, < 5.10").unwrap_err();
        assert!(e.contains("contains no kernel version"), "{e}");
        let e = KernelRange::parse("~ 6").unwrap_err();
        assert!(e.contains("is not a kernel version"), "{e}");
        let e = KernelRange::parse(">= 5.10,").unwrap_err();
        assert!(e.contains("empty comparator"), "{e}");
    }

    /// The shared minimal scenario (tests/fixtures/refused-minimal.toml).
    const SCENARIO: &str = include_str!("../../tests/fixtures/refused-minimal.toml");

    fn with(extra: &str) -> Result<super::super::Scenario, super::super::ScenarioError> {
        super::super::parse(
            std::path::Path::new("t.toml"),
            &format!("{SCENARIO}{extra}"),
            "misc",
        )
    }

    #[test]
    fn a_kernel_table_replaces_the_oses_keys_in_its_range_only() {
        let s = with(
            "\n[[expect.linux.kernels]]\nrange = \"< 6.0\"\nmeasured = \"k\"\nwhy = \"w\"\ndial = \"ok\"\n",
        )
        .unwrap();
        let linux = s.expectations_for("linux").unwrap();
        assert_eq!(linux.kernels.len(), 1);
        let old = linux.for_engine("std").for_kernel(Some(v("5.10.223")));
        assert_eq!(old.values[0].1.to_string(), "ok");
        assert_eq!(old.basis, Basis::Measured("k".into()));
        let new = linux.for_engine("std").for_kernel(Some(v("6.1.176")));
        assert_eq!(new.values[0].1.to_string(), "ECONNREFUSED");
        assert_eq!(new.basis, Basis::Measured("m".into()));
    }

    #[test]
    fn a_kernel_table_needs_a_range_a_basis_and_a_why() {
        let e = with("\n[[expect.linux.kernels]]\nrange = \"6\"\nmeasured = \"k\"\nwhy = \"w\"\n")
            .unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("expect.linux.kernels.range"),
            "{e}"
        );
        let e = with("\n[[expect.linux.kernels]]\nrange = \"< 6.0\"\nwhy = \"w\"\n").unwrap_err();
        assert!(
            e.message.contains("where these expectations come from"),
            "{e}"
        );
        let e =
            with("\n[[expect.linux.kernels]]\nrange = \"< 6.0\"\nmeasured = \"k\"\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("expect.linux.kernels.why"), "{e}");
        let e = with(
            "\n[[expect.linux.kernels]]\nrange = \"< 6.0\"\nmeasured = \"k\"\nwhy = \"w\"\ndail = \"ok\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("no observation `dail`"), "{e}");
    }
}
