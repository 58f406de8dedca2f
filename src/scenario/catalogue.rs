//! The catalogue: scenario files found by walking a folder, sorted (no list to keep in
//! sync), each file's topic being its folder.

use std::path::{Path, PathBuf};

use super::model::{Scenario, ScenarioError};
use super::validate::parse;

/// Every `*.toml` below `dir`, sorted; no list to keep in sync.
pub fn discover(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The topic of a file: its first folder below `root`, or `misc`.
pub fn topic_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .ok()
        .and_then(|rel| {
            let mut parts = rel.components();
            let first = parts.next()?;
            parts
                .next()
                .map(|_| first.as_os_str().to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "misc".to_owned())
}

/// Reads and parses a file.
pub fn load(root: Option<&Path>, path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_owned(),
        line: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    let topic = root.map_or_else(|| "misc".to_owned(), |r| topic_of(r, path));
    let mut s = parse(path, &text, &topic)?;
    s.in_catalogue = root.is_some_and(|r| inside(r, path));
    Ok(s)
}

/// Whether `path` lies below `root`, compared as written and, failing that, resolved
/// (`scenarios/read/x.toml` against `/src/tcplab/scenarios`).
fn inside(root: &Path, path: &Path) -> bool {
    path.starts_with(root)
        || match (root.canonicalize(), path.canonicalize()) {
            (Ok(r), Ok(p)) => p.starts_with(r),
            _ => false,
        }
}

impl Scenario {
    /// How the command line names this scenario: its name when the file is in the
    /// catalogue, else its path (quoted for a shell when it needs to be), so that the
    /// commands a report suggests (`tcplab run ...`, `tcplab explain ...`) find it.
    pub fn command_arg(&self) -> String {
        if self.in_catalogue {
            return self.name.clone();
        }
        let p = self.path.display().to_string();
        let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
        if p.chars().all(plain) {
            p
        } else {
            format!("'{}'", p.replace('\'', "'\\''"))
        }
    }
}

/// The catalogue: every scenario below `dir` that parses, and the errors of those that
/// do not. Duplicate short names are errors of the later file.
pub fn catalogue(dir: &Path) -> std::io::Result<(Vec<Scenario>, Vec<ScenarioError>)> {
    let mut good: Vec<Scenario> = Vec::new();
    let mut bad = Vec::new();
    for path in discover(dir)? {
        match load(Some(dir), &path) {
            Ok(s) => {
                if let Some(first) = good.iter().find(|g| g.name == s.name) {
                    bad.push(ScenarioError {
                        path: path.clone(),
                        line: None,
                        field: Some("name".into()),
                        message: format!(
                            "the name `{}` is taken by {}",
                            s.name,
                            first.path.display()
                        ),
                    });
                } else {
                    good.push(s);
                }
            }
            Err(e) => bad.push(e),
        }
    }
    Ok((good, bad))
}
