//! What the record views share: the environment that makes a column (a record's OS,
//! kernel, settings, engine, room), records grouped by parameter set, and a cell's
//! summary as printed. Used by the record matrix (`matrix.rs`) and by sweeps (`sweep.rs`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::summary::{Seen, Summary};
use crate::env::Netns;
use crate::observe::Value;
use crate::record::Entry;
use crate::scenario::{Engine, ParamValue};

/// What makes two records belong to the same column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct ColumnKey {
    pub(super) published: Option<String>,
    pub(super) os: String,
    pub(super) os_version: Option<String>,
    pub(super) kernel: Option<String>,
    pub(super) kernel_release: Option<String>,
    pub(super) arch: Option<String>,
    pub(super) sysctls: BTreeMap<String, String>,
    pub(super) engine: String,
    pub(super) netns: Option<Netns>,
    /// `uml` for a run in a kernel the lab booted.
    pub(super) guest: Option<String>,
}

impl ColumnKey {
    pub(super) fn of(e: &Entry) -> ColumnKey {
        ColumnKey {
            published: e.published.as_ref().map(|p| p.source.clone()),
            os: e.env.os.clone(),
            os_version: e.env.os_version.clone(),
            kernel: e.env.kernel.clone(),
            kernel_release: e.env.kernel_release.clone(),
            arch: e.env.arch.clone(),
            sysctls: e.env.sysctls.clone(),
            engine: e.engine.clone(),
            netns: e.env.netns.clone(),
            guest: e.env.guest.as_ref().map(|g| g.kind.clone()),
        }
    }
}

/// What one column saw for one row.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// As printed: one value, `min to max (N runs)`, or the distinct values with their
    /// counts.
    pub text: String,
    /// Every value, one per record, in file order.
    pub values: Vec<Value>,
    /// The publication's own words, for a published column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported: Option<String>,
}

/// Records of one parameter set: the set that names the most parameters, and the
/// records whose sets agree with it on every parameter both name (a published record
/// names only those its source states).
pub(super) struct ParamGroup<'a> {
    pub(super) params: &'a BTreeMap<String, ParamValue>,
    pub(super) members: Vec<usize>,
}

/// True when `a` and `b` give no parameter different values.
fn compatible(a: &BTreeMap<String, ParamValue>, b: &BTreeMap<String, ParamValue>) -> bool {
    a.iter().all(|(k, v)| b.get(k).is_none_or(|w| w == v))
}

/// Groups `entries` by parameter set (see [`ParamGroup`]), ordered by the values of the
/// parameters that vary (numbers by size); and names those parameters.
pub(super) fn param_groups<'a>(entries: &[&'a Entry]) -> (Vec<ParamGroup<'a>>, Vec<String>) {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    // Fullest sets first, so that a partial set joins a full one it agrees with.
    order.sort_by_key(|&i| std::cmp::Reverse(entries[i].params.len()));
    let mut groups: Vec<ParamGroup> = Vec::new();
    for i in order {
        let p = &entries[i].params;
        match groups.iter_mut().find(|g| compatible(g.params, p)) {
            Some(g) => g.members.push(i),
            None => groups.push(ParamGroup {
                params: p,
                members: vec![i],
            }),
        }
    }
    for g in &mut groups {
        g.members.sort();
    }
    let mut varied: Vec<String> = Vec::new();
    for (i, a) in groups.iter().enumerate() {
        for b in &groups[i + 1..] {
            for (k, v) in a.params {
                if b.params.get(k).is_some_and(|w| w != v) && !varied.contains(k) {
                    varied.push(k.clone());
                }
            }
        }
    }
    varied.sort();
    let sort_key = |g: &ParamGroup| -> Vec<(i64, String)> {
        varied
            .iter()
            .map(|k| match g.params.get(k) {
                Some(ParamValue::Int(n)) => (*n, String::new()),
                Some(v) => (i64::MIN, v.to_string()),
                None => (i64::MIN, String::new()),
            })
            .collect()
    };
    groups.sort_by_cached_key(|g| sort_key(g));
    (groups, varied)
}

/// `k=v` for each of `keys` that `params` names, space-separated.
pub(super) fn params_text(params: &BTreeMap<String, ParamValue>, keys: &[String]) -> String {
    keys.iter()
        .filter_map(|k| params.get(k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cell of `values`, or `None` when there are none.
pub(super) fn cell(values: Vec<Value>, reported: Option<String>) -> Option<(Cell, Summary)> {
    if values.is_empty() {
        return None;
    }
    let summary = Summary::of(&values);
    Some((
        Cell {
            text: cell_text(&summary),
            values,
            reported,
        },
        summary,
    ))
}

/// A cell as printed: one value if all agree; `min to max (N runs)` for numbers that
/// vary, written with every digit they have (milliseconds as recorded); otherwise each
/// distinct value with its count.
pub(super) fn cell_text(s: &Summary) -> String {
    let ms = matches!(s.seen, Seen::Numbers { ms: true, .. });
    let one = |x: f64| {
        if ms {
            format!("{x} ms")
        } else {
            format!("{x}")
        }
    };
    match &s.seen {
        Seen::Numbers { min, max, .. } if min == max => one(*min),
        Seen::Numbers { .. } => format!("{} ({} runs)", s.range(one).unwrap_or_default(), s.n),
        Seen::Distinct(d) if d.len() == 1 => d[0].0.to_string(),
        Seen::Distinct(_) => s.counted(" / "),
    }
}

pub(super) fn label(k: &ColumnKey) -> String {
    let mut s = match (&k.published, &k.kernel_release) {
        (Some(_), _) => {
            let system = k
                .os_version
                .clone()
                .or_else(|| k.kernel.clone())
                .unwrap_or_else(|| k.os.clone());
            format!("{system}, {}", k.engine)
        }
        (None, Some(r)) => format!("{} {r}", k.os),
        (None, None) => k.os.clone(),
    };
    if let Some(g) = &k.guest {
        s.push_str(&format!(" ({g})"));
    }
    if k.published.is_none() && k.engine != Engine::Std.name() {
        s.push_str(&format!(" {}", k.engine));
    }
    if let Some(n) = &k.netns {
        match &n.profile {
            Some(p) => s.push_str(&format!(" [{p}]")),
            None => {
                let set: Vec<String> = n
                    .set
                    .iter()
                    .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
                    .collect();
                s.push_str(&format!(" [{}]", set.join(" ")));
            }
        }
    }
    if k.published.is_some() {
        s.push_str(" (published)");
    }
    s
}

pub(super) fn description(k: &ColumnKey) -> String {
    let mut parts = vec![k.os.clone()];
    parts.extend(k.os_version.iter().cloned());
    if let Some(kernel) = &k.kernel {
        parts.push(format!(
            "{kernel} {}",
            k.kernel_release.as_deref().unwrap_or("(release not known)")
        ));
    }
    parts.extend(k.arch.iter().cloned());
    parts.push(format!("engine {}", k.engine));
    if let Some(g) = &k.guest {
        parts.push(format!("in a {g} guest"));
    }
    if let Some(n) = &k.netns {
        parts.push(n.describe());
    }
    if !k.sysctls.is_empty() {
        let sys: Vec<String> = k.sysctls.iter().map(|(a, b)| format!("{a}={b}")).collect();
        parts.push(sys.join(" "));
    }
    let mut s = parts.join(", ");
    if let Some(src) = &k.published {
        s.push_str(&format!("; published, not measured: {src}"));
    }
    s
}
