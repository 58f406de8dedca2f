//! The file being validated: where its errors and warnings are, and the names its
//! expressions may use. Shared by the section parsers (`validate.rs`) and the expectation
//! tables (`expect.rs`).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use super::expr::Expr;
use super::model::{ScenarioError, ScenarioWarning};
use super::vocab::{FACTS, INDEX};

/// The file being validated, for errors and warnings that name a place in it.
pub(super) struct Cx<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
    /// What this machine cannot honour (see `host.rs`); a `RefCell` so that the checks
    /// passed to `kernel::parse_table` as closures can add to it.
    pub(super) warnings: RefCell<Vec<ScenarioWarning>>,
}

/// The names an expression may use: the parameters, the facts and `index`.
pub(super) struct Names<'a> {
    pub(super) params: BTreeSet<&'a str>,
}

impl Names<'_> {
    /// Checks that every name in `e` is a parameter, a fact or `index`.
    pub(super) fn check(
        &self,
        cx: &Cx,
        e: &Expr,
        line: Option<usize>,
        field: &str,
    ) -> Result<(), ScenarioError> {
        for n in e.names() {
            if !self.params.contains(n) && !FACTS.contains(&n) && n != INDEX {
                return Err(cx.err(
                    line,
                    Some(field.to_owned()),
                    format!(
                        "`{n}` is neither a parameter ({}) nor a fact ({}, {INDEX})",
                        if self.params.is_empty() {
                            "none".to_owned()
                        } else {
                            self.params.iter().copied().collect::<Vec<_>>().join(", ")
                        },
                        FACTS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Cx<'_> {
    /// An error at `line` (1-based) in `field` of this file.
    pub(super) fn err(
        &self,
        line: Option<usize>,
        field: Option<String>,
        message: String,
    ) -> ScenarioError {
        ScenarioError {
            path: self.path.to_owned(),
            line,
            field,
            message,
        }
    }

    /// Records a warning at `line` in `field`; the file stays valid.
    pub(super) fn warn(&self, line: Option<usize>, field: Option<String>, message: String) {
        self.warnings.borrow_mut().push(ScenarioWarning {
            path: self.path.to_owned(),
            line,
            field,
            message,
        });
    }

    /// The 1-based line a span starts on.
    pub(super) fn at(&self, span: Range<usize>) -> Option<usize> {
        Some(line_of(self.text, span.start))
    }

    /// The 1-based line of the first line from `from` on that sets `key` (`key = ...`),
    /// or `from` when there is none.
    pub(super) fn key_line(&self, from: usize, key: &str) -> usize {
        self.text
            .lines()
            .enumerate()
            .skip(from.saturating_sub(1))
            .find(|(_, l)| {
                l.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map_or(from, |(i, _)| i + 1)
    }
}

/// Byte offset to 1-based line number.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
