//! What only this machine can tell: which errno names it reports and which kernel
//! counters it has.
//!
//! A scenario file is valid or not by its text alone, on every machine; these checks
//! cannot make it invalid. What they find becomes a [`ScenarioWarning`](super::ScenarioWarning)
//! message: the expectation cannot be met here, or the observation will be absent here.

use crate::suggest::closest;

/// A warning when `name`, an errno name of some system, is not one this system reports.
pub(super) fn errno_warning(name: &str) -> Option<String> {
    let reported = crate::sys::errno_names().any(|n| n == name);
    (!reported).then(|| {
        format!(
            "this system ({}) reports no errno `{name}`; the expectation can hold only where one is reported",
            std::env::consts::OS
        )
    })
}

/// A warning when this kernel, whose counters can be read, has no counter `name`
/// (`TcpExt.ListenOverflows`), with the closest names it has.
pub(super) fn counter_warning(name: &str) -> Option<String> {
    let known = known_counters()?;
    if known.iter().any(|k| k == name) {
        return None;
    }
    let near = closest(name, known.iter().map(String::as_str));
    Some(format!(
        "this kernel has no counter `{name}` (did you mean {}?); the observation will be absent here",
        near.join(", ")
    ))
}

/// This machine's counter names, read once; `None` where they cannot be read.
fn known_counters() -> Option<&'static Vec<String>> {
    static KNOWN: std::sync::OnceLock<Option<Vec<String>>> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| crate::sys::net_counters().map(|c| c.into_keys().collect()))
        .as_ref()
}
