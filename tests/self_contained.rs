//! The project stands on its own: no file cites a document its users do not have (the
//! notes the lab was written from). Scenarios' `source` fields, NOTES.md and the
//! published records cite what anyone can read: the article by title and URL, man pages,
//! RFCs and kernel source paths.

use std::path::{Path, PathBuf};

/// What a citation of the private notes looks like. Built from pieces so that this file
/// does not match itself.
fn private_citations() -> Vec<String> {
    vec![
        ["shared", "/reference"].concat(),
        ["/work", "/shared"].concat(),
        ["edge-cases", ".md"].concat(),
        ["network-tier", ".md"].concat(),
        ["go-tcpsock-", "article"].concat(),
    ]
}

/// Every file of the source tree but the build output and git's own.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a folder of the source tree") {
        let path = entry.expect("a folder entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | ".git") {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_cites_notes_a_user_does_not_have() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(root, &mut all);
    assert!(
        all.iter().any(|p| p.ends_with("NOTES.md")),
        "the walk found the source tree"
    );
    let patterns = private_citations();
    let mut hits = Vec::new();
    for path in &all {
        // Binary files are not read as text (and cite nothing).
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            for p in &patterns {
                if line.contains(p.as_str()) {
                    hits.push(format!(
                        "{}:{}: cites `{p}`",
                        path.strip_prefix(root).unwrap_or(path).display(),
                        i + 1
                    ));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "cite the article, man pages, RFCs or kernel paths instead:\n{}",
        hits.join("\n")
    );
}
