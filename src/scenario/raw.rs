//! The file as written: the serde structs a scenario's TOML deserialises into, before
//! any check. [`validate`](super::validate) turns them into the [`model`](super::model).

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::expr::Expr;
use super::take::Take;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Spanned<String>,
    pub(super) title: String,
    pub(super) summary: String,
    pub(super) description: String,
    pub(super) source: String,
    #[serde(default)]
    pub(super) explanation: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) explain: Option<RawExplain>,
    /// `[engine_explanation]`: the short explanation under one engine, where it differs.
    #[serde(default)]
    pub(super) engine_explanation: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) timeout_ms: Option<u64>,
    #[serde(default)]
    pub(super) params: IndexMap<String, Spanned<RawParam>>,
    pub(super) actors: Vec<Spanned<RawActor>>,
    #[serde(default)]
    pub(super) observations: IndexMap<String, Spanned<RawObservation>>,
    #[serde(default)]
    pub(super) expect: IndexMap<String, Spanned<IndexMap<String, Spanned<toml::Value>>>>,
    /// `[wire]`: the faults between hosts a and b for the whole run, and the seed.
    #[serde(default)]
    pub(super) wire: Option<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExplain {
    pub(super) shows: Spanned<String>,
    pub(super) why: Spanned<String>,
    #[serde(default)]
    pub(super) elsewhere: Option<Spanned<String>>,
    pub(super) read: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    /// `int`, `size`, `duration`, `bool` or `text`; inferred from the default when absent.
    #[serde(default, rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) default: Option<toml::Value>,
    /// Inclusive bounds, a number or a text with the type's units (`"64MiB"`, `"5s"`).
    #[serde(default)]
    pub(super) min: Option<toml::Value>,
    #[serde(default)]
    pub(super) max: Option<toml::Value>,
    /// What an integer counts (`writers`), for help.
    #[serde(default)]
    pub(super) unit: Option<String>,
    #[serde(default)]
    pub(super) optional: bool,
    #[serde(default)]
    pub(super) choices: Option<Vec<String>>,
    pub(super) help: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawActor {
    pub(super) name: String,
    #[serde(default)]
    pub(super) count: Option<Expr>,
    /// `a` or `b`: the host the actor runs on (the network tier); absent: loopback.
    #[serde(default)]
    pub(super) host: Option<Spanned<String>>,
    pub(super) steps: Vec<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawObservation {
    #[serde(default)]
    pub(super) step: Option<String>,
    #[serde(default)]
    pub(super) take: Option<Take>,
    #[serde(default)]
    pub(super) counter: Option<String>,
    /// A packet figure (`packets(a, out, SYN)`, `retransmissions(b, in)`, `first_rst`).
    #[serde(default)]
    pub(super) packets: Option<String>,
    pub(super) help: String,
}
