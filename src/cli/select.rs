//! Which scenarios a command means. `run`, `check`, `list` and `explain` all pick
//! scenarios the same way, here:
//!
//! - a **path** (it ends in `.toml` or contains a path separator): that file, inside the
//!   catalogue or not;
//! - a **name** (`backlog`) or a **file stem** (`connect-backlog-never-accepted`): that
//!   scenario of the catalogue;
//! - a **glob** over names and stems (`'write-*'`, `'*-timeout'`, `connect-?`): every
//!   scenario whose name or stem matches; `*` is any run of characters, `?` one character,
//!   `[abc]`/`[a-z]`/`[!a]` one of a set;
//! - `--topic T` (repeatable): every scenario in the folder `scenarios/T/`.
//!
//! Each scenario is taken once, in the order it was first named. An unknown name or topic
//! is an error naming the closest ones; a glob that matches nothing is an error naming
//! the pattern.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Args;

use tcplab::scenario::{self, Scenario, ScenarioError};
use tcplab::suggest::closest;

use super::load_catalogue;

/// `--topic`, shared by `run`, `check` and `list`.
#[derive(Args, Clone, Default)]
pub struct TopicArgs {
    /// Every scenario of this topic (its folder below the scenario folder: connect, read,
    /// write, close, options, concurrency, network); repeatable
    #[arg(long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
}

/// The scenarios `targets` and `topics` select, and the errors of the files among them
/// that do not parse. Nothing selected at all gives the whole catalogue. `Err` is a usage
/// error: an unknown name or topic, a glob matching nothing, an unreadable folder.
pub fn select(
    dir: &Path,
    targets: &[String],
    topics: &[String],
) -> anyhow::Result<(Vec<Scenario>, Vec<ScenarioError>)> {
    let (catalogue, broken) = load_catalogue(dir)?;
    if targets.is_empty() && topics.is_empty() {
        return Ok((catalogue, broken));
    }
    let mut picked = Picked::default();
    for t in targets {
        if is_path(t) {
            match scenario::load(Some(dir), Path::new(t)) {
                Ok(s) => picked.good(s),
                Err(e) => picked.bad(e),
            }
        } else if is_glob(t) {
            let mut matched = false;
            for s in catalogue
                .iter()
                .filter(|s| glob(t, &s.name) || glob(t, stem(&s.path)))
            {
                matched = true;
                picked.good(s.clone());
            }
            for e in broken.iter().filter(|e| glob(t, stem(&e.path))) {
                matched = true;
                picked.bad(copy(e));
            }
            if !matched {
                bail!(
                    "no scenario matches `{t}` (a glob over names and file stems; see `tcplab list`)"
                );
            }
        } else {
            picked.good(by_name(dir, t, &catalogue, &broken)?);
        }
    }
    for topic in topics {
        let of_topic = |p: &Path| scenario::topic_of(dir, p) == *topic;
        if !catalogue.iter().any(|s| s.topic == *topic) && !broken.iter().any(|e| of_topic(&e.path))
        {
            let known: BTreeSet<&str> = catalogue.iter().map(|s| s.topic.as_str()).collect();
            let near = closest(topic, known.iter().copied());
            bail!(
                "unknown topic `{topic}`; the closest: {} (topics: {})",
                near.join(", "),
                known.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        for s in catalogue.iter().filter(|s| s.topic == *topic) {
            picked.good(s.clone());
        }
        for e in broken.iter().filter(|e| of_topic(&e.path)) {
            picked.bad(copy(e));
        }
    }
    Ok((picked.scenarios, picked.errors))
}

/// What `run` means: `--all` the whole catalogue, otherwise the targets and topics,
/// at least one of them.
pub fn for_run(
    dir: &Path,
    targets: &[String],
    all: bool,
    topics: &[String],
) -> anyhow::Result<(Vec<Scenario>, Vec<ScenarioError>)> {
    if all && !(targets.is_empty() && topics.is_empty()) {
        bail!("give scenario names, globs or --topic, or --all, not both");
    }
    if !all && targets.is_empty() && topics.is_empty() {
        bail!("name a scenario to run (see `tcplab list`), or give --topic TOPIC or --all");
    }
    select(dir, targets, topics)
}

/// One scenario by name, file stem or path (`explain`). A file named by path that does
/// not parse is returned as its error.
pub fn find(dir: &Path, t: &str) -> anyhow::Result<Result<Scenario, ScenarioError>> {
    if is_path(t) {
        return Ok(scenario::load(Some(dir), Path::new(t)));
    }
    let (catalogue, broken) = load_catalogue(dir)?;
    Ok(Ok(by_name(dir, t, &catalogue, &broken)?))
}

/// A catalogue scenario by its name or its file's stem. An unknown one is an error
/// naming the closest names; a broken file it may mean is an error quoting that file's.
fn by_name(
    dir: &Path,
    t: &str,
    catalogue: &[Scenario],
    broken: &[ScenarioError],
) -> anyhow::Result<Scenario> {
    if let Some(s) = catalogue
        .iter()
        .find(|s| s.name == t)
        .or_else(|| catalogue.iter().find(|s| stem(&s.path) == t))
    {
        return Ok(s.clone());
    }
    // A broken file may be the one asked for: say so rather than "unknown".
    if let Some(e) = broken.iter().find(|e| stem(&e.path).contains(t)) {
        bail!("scenario `{t}` cannot be used: {e}");
    }
    let names = catalogue
        .iter()
        .flat_map(|s| [s.name.as_str(), stem(&s.path)]);
    let near = closest(t, names);
    if near.is_empty() {
        bail!(
            "unknown scenario `{t}`; the folder {} has none",
            dir.display()
        );
    }
    bail!(
        "unknown scenario `{t}`; the closest are: {} (see `tcplab list`)",
        near.join(", ")
    );
}

/// The scenarios picked so far, each once (by file).
#[derive(Default)]
struct Picked {
    seen: BTreeSet<PathBuf>,
    scenarios: Vec<Scenario>,
    errors: Vec<ScenarioError>,
}

impl Picked {
    fn good(&mut self, s: Scenario) {
        if self.seen.insert(s.path.clone()) {
            self.scenarios.push(s);
        }
    }

    fn bad(&mut self, e: ScenarioError) {
        if self.seen.insert(e.path.clone()) {
            self.errors.push(e);
        }
    }
}

/// A copy of a file's error (ScenarioError is not Clone).
fn copy(e: &ScenarioError) -> ScenarioError {
    ScenarioError {
        path: e.path.clone(),
        line: e.line,
        field: e.field.clone(),
        message: e.message.clone(),
    }
}

/// A file's stem (`connect-backlog-never-accepted`), or "" for none.
fn stem(path: &Path) -> &str {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("")
}

/// Whether a target names a file rather than a scenario.
fn is_path(t: &str) -> bool {
    t.ends_with(".toml") || t.contains(std::path::MAIN_SEPARATOR) || t.contains('/')
}

/// Whether a target is a glob.
fn is_glob(t: &str) -> bool {
    t.contains(['*', '?', '['])
}

/// Whether `text` matches the glob `pat` as a whole: `*` any run of characters, `?` one
/// character, `[...]` one of a set (`[abc]`, `[a-z]`, `[!a]`); anything else itself.
pub fn glob(pat: &str, text: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point (the last `*`), as fnmatch does.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class(&p[pi..], t[ti]) {
                Some((true, len)) => Some(pi + len),
                _ => None,
            },
            Some(&c) => (c == t[ti]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ti += 1;
            }
            (None, Some((sp, st))) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A `[...]` set at the start of `p` against `c`: whether it matches and the set's length
/// in characters; `None` when the `[` is not closed (then it is no set, and no match).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while let Some(&x) = p.get(i) {
        if x == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&y| y != ']') {
            hit |= (x..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= x == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn a_star_matches_any_run_of_characters() {
        assert!(glob("write-*", "write-after-peer-close"));
        assert!(glob("*-timeout", "read-timeout"));
        assert!(glob("*", "backlog"));
        assert!(glob("w*e*k", "write-block"));
        assert!(!glob("write-*", "read-timeout"));
        assert!(!glob("*-timeout", "read-timeouts"));
    }

    #[test]
    fn a_question_mark_is_one_character_and_sets_are_one_of_theirs() {
        assert!(glob("connect-?wice", "connect-twice"));
        assert!(!glob("connect-?", "connect-twice"));
        assert!(glob("[rw]*-timeout", "write-timeout"));
        assert!(glob("[a-s]*", "read-partial"));
        assert!(!glob("[!r]*", "read-partial"));
        assert!(!glob("[rw", "r"));
    }

    #[test]
    fn a_pattern_without_wildcards_matches_only_itself() {
        assert!(glob("backlog", "backlog"));
        assert!(!glob("backlog", "backlog-drain"));
    }
}
