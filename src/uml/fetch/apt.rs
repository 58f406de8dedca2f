//! The archive apt is configured with: its URI and keyring, read from the `.sources`
//! files (deb822) or `sources.list`, never changed.
//!
//! Security suites are skipped: they live in another archive, without user-mode-linux.
//! See sources.list(5).

use std::path::PathBuf;

use super::FetchError;

/// The keyring apt uses when a source names none.
const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The archive apt uses: its URI and the keyring it is signed with.
#[derive(Debug, Clone, PartialEq)]
pub struct Mirror {
    pub uri: String,
    pub keyring: PathBuf,
}

/// The Debian archive apt is configured with: the first source whose suites are not
/// security updates (those live in another archive, without user-mode-linux).
pub fn apt_mirror() -> Result<Mirror, FetchError> {
    let mut texts = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if let Ok(t) = std::fs::read_to_string(&p) {
                texts.push((p.extension().is_some_and(|e| e == "sources"), t));
            }
        }
    }
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push((false, t));
    }
    texts
        .iter()
        .find_map(|(deb822, t)| {
            if *deb822 {
                mirror_from_deb822(t)
            } else {
                mirror_from_list(t)
            }
        })
        .ok_or(FetchError::NoMirror)
}

/// A `.sources` file (deb822): stanzas of `URIs:`, `Suites:`, `Signed-By:`.
pub fn mirror_from_deb822(text: &str) -> Option<Mirror> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(|v| v.trim().to_owned())
            })
        };
        let types = field("Types").unwrap_or_default();
        let uri = field("URIs")?.split_whitespace().next()?.to_owned();
        let suites = field("Suites")?;
        let plain = types.split_whitespace().any(|t| t == "deb")
            && !suites.split_whitespace().all(|s| s.contains("security"));
        plain.then(|| Mirror {
            uri: uri.trim_end_matches('/').to_owned(),
            keyring: field("Signed-By")
                .filter(|k| k.starts_with('/'))
                .map_or_else(|| PathBuf::from(DEFAULT_KEYRING), PathBuf::from),
        })
    })
}

/// A one-line-per-source `sources.list`: `deb [options] URI suite components`.
pub fn mirror_from_list(text: &str) -> Option<Mirror> {
    text.lines().find_map(|line| {
        let line = line.split('#').next()?.trim();
        let rest = line.strip_prefix("deb ")?.trim();
        let (options, rest) = match rest.strip_prefix('[') {
            Some(r) => r.split_once(']')?,
            None => ("", rest),
        };
        let mut words = rest.split_whitespace();
        let uri = words.next()?;
        let suite = words.next()?;
        if suite.contains("security") {
            return None;
        }
        let keyring = options
            .split_whitespace()
            .find_map(|o| o.strip_prefix("signed-by="))
            .map_or_else(|| PathBuf::from(DEFAULT_KEYRING), PathBuf::from);
        Some(Mirror {
            uri: uri.trim_end_matches('/').to_owned(),
            keyring,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_comes_from_a_deb822_source_not_the_security_one() {
        let text = "Types: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nURIs: http://deb.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /k.gpg\n";
        let m = mirror_from_deb822(text).unwrap();
        assert_eq!(m.uri, "http://deb.example/debian");
        assert_eq!(m.keyring, PathBuf::from("/k.gpg"));
        let list =
            "# comment\ndeb [arch=amd64 signed-by=/x.gpg] http://m.example/debian bookworm main\n";
        let m = mirror_from_list(list).unwrap();
        assert_eq!(m.uri, "http://m.example/debian");
        assert_eq!(m.keyring, PathBuf::from("/x.gpg"));
    }
}
