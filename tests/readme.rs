//! Every command README.md shows runs as written.
//!
//! The rule (README.md says it too, under "Start here"):
//!
//! - Commands are the lines starting with `$ ` in fenced blocks marked `console`
//!   (indented blocks inside list items count). Other lines of such a block are output
//!   and are not compared. Blocks marked `text`, `toml`, `sh` or nothing are not run: a
//!   README shows things a user types that cannot run here (writing into their home
//!   directory) in a `text` block.
//! - A line `# not run: <why>` in a `console` block marks the next command as not run
//!   (a kernel download, a full run of the catalogue, a command that rewrites
//!   `results/`); the reason is required. A line `# exit N` says the next command exits
//!   with N instead of 0.
//! - `tcplab ARGS` runs the binary this test was built with; `cargo run [--release] --
//!   ARGS` runs it with ARGS as well (the same program). `cargo test` is the command
//!   running this test and is not run again. Any other program (`rm`, `cargo bench`) must
//!   be marked `# not run`, or the test fails naming it.
//! - Words are split as a shell would for simple commands: single and double quotes, and
//!   a trailing `# comment`. Pipes, redirections and `;`/`&&` are refused: each command
//!   stands alone.
//! - The commands run in order, in one scratch folder holding links to the repository's
//!   `scenarios/` and `results/` (so `./scenarios` is the catalogue and a file a command
//!   writes, `tcplab new ... -o .`, lands in the scratch folder, not in the repository),
//!   each within 60 s: one that takes longer is killed and the test fails naming it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// How long one README command may take.
const LIMIT: Duration = Duration::from_secs(60);

/// One command of a `console` block.
#[derive(Debug)]
struct Example {
    /// 1-based line in README.md.
    line: usize,
    text: String,
    /// The reason given in `# not run: ...`.
    not_run: Option<String>,
    exit: i32,
}

/// The `$ ` lines of README.md's `console` blocks, with their markers.
fn examples(readme: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut fence: Option<(String, bool)> = None; // (the fence's indent, a console block)
    let mut not_run = None;
    let mut exit = 0;
    for (i, raw) in readme.lines().enumerate() {
        let trimmed = raw.trim_start();
        let indent = &raw[..raw.len() - trimmed.len()];
        if let Some(info) = trimmed.strip_prefix("```") {
            match &fence {
                None => fence = Some((indent.to_owned(), info.trim() == "console")),
                Some(_) if info.trim().is_empty() => {
                    fence = None;
                    assert!(
                        not_run.is_none(),
                        "README.md:{}: `# not run` before the end of a block",
                        i + 1
                    );
                }
                Some(_) => {}
            }
            continue;
        }
        let Some((_, true)) = &fence else { continue };
        if let Some(why) = trimmed.strip_prefix("# not run:") {
            assert!(
                !why.trim().is_empty(),
                "README.md:{}: `# not run:` needs a reason",
                i + 1
            );
            not_run = Some(why.trim().to_owned());
        } else if let Some(n) = trimmed.strip_prefix("# exit ") {
            exit = n
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("README.md:{}: `# exit N` needs a number", i + 1));
        } else if let Some(cmd) = trimmed.strip_prefix("$ ") {
            out.push(Example {
                line: i + 1,
                text: cmd.to_owned(),
                not_run: not_run.take(),
                exit: std::mem::take(&mut exit),
            });
        }
    }
    assert!(fence.is_none(), "README.md ends inside a fenced block");
    out
}

/// Splits a simple shell command into words: quotes, and a `#` comment at a word's start.
fn words(cmd: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(x) => w.push(x),
                        None => return Err(format!("unclosed {c}")),
                    }
                }
            }
            '#' if word.is_none() => break,
            '|' | '>' | '<' | ';' | '&' | '$' | '`' => {
                return Err(format!("`{c}`: only simple commands are run"));
            }
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    out.push(w);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    Ok(out)
}

/// What running an example means: the binary's arguments, `None` for `cargo test`, or
/// why it cannot be run.
fn tcplab_args(words: &[String]) -> Result<Option<Vec<String>>, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["tcplab", rest @ ..] => Ok(Some(rest.iter().map(|s| s.to_string()).collect())),
        ["cargo", "test"] => Ok(None),
        ["cargo", "run", rest @ ..] => {
            let after = rest
                .iter()
                .position(|a| *a == "--")
                .ok_or("`cargo run` without `--`")?;
            if rest[..after].iter().any(|a| *a != "--release") {
                return Err("`cargo run` with options other than --release".into());
            }
            Ok(Some(
                rest[after + 1..].iter().map(|s| s.to_string()).collect(),
            ))
        }
        [program, ..] => Err(format!(
            "`{program}` is not tcplab: mark it `# not run: <why>` or show it as text"
        )),
        [] => Err("an empty command".into()),
    }
}

/// A scratch folder that sees the repository's `scenarios/` and `results/`.
fn scratch(root: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a scratch folder");
    for name in ["scenarios", "results"] {
        link(&root.join(name), &dir.path().join(name));
    }
    dir
}

#[cfg(unix)]
fn link(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to).expect("link into the scratch folder");
}

#[cfg(windows)]
// Windows needs a privilege for symbolic links; a junction would need another crate.
fn link(from: &Path, to: &Path) {
    std::os::windows::fs::symlink_dir(from, to).expect("link into the scratch folder");
}

/// Runs one command within [`LIMIT`]; `Err` says how it failed.
fn run(cwd: &Path, args: &[String], want: i32) -> Result<Duration, String> {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcplab"))
        .args(args)
        .current_dir(cwd)
        .env_remove("TCPLAB_SCENARIOS")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    // stderr is read on a thread of its own so that a chatty command cannot block on a
    // full pipe while this one waits for it to end.
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let status = match child.wait_timeout(LIMIT).map_err(|e| e.to_string())? {
        Some(st) => st,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {LIMIT:?}: killed"));
        }
    };
    let err = reader.join().unwrap_or_default();
    match status.code() {
        Some(c) if c == want => Ok(t0.elapsed()),
        other => Err(format!(
            "exit {other:?}, README expects {want}; stderr:\n{}",
            err.lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

#[test]
fn every_console_command_in_the_readme_runs_as_written() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let all = examples(&readme);
    assert!(
        all.iter().filter(|e| e.not_run.is_none()).count() >= 10,
        "README.md shows its commands in console blocks: found {all:?}"
    );
    let dir = scratch(&root);
    let mut failures = Vec::new();
    for e in &all {
        if e.not_run.is_some() {
            continue;
        }
        let place = format!("README.md:{}: `{}`", e.line, e.text);
        let args = match words(&e.text).and_then(|w| tcplab_args(&w)) {
            Ok(Some(args)) => args,
            Ok(None) => continue, // `cargo test`: this very run
            Err(why) => {
                failures.push(format!("{place}: {why}"));
                continue;
            }
        };
        match run(dir.path(), &args, e.exit) {
            Ok(took) => eprintln!("ok {took:>10.1?}  {place}"),
            Err(why) => failures.push(format!("{place}: {why}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---- the rule itself ------------------------------------------------------------------

#[test]
fn only_dollar_lines_of_console_blocks_are_commands_with_their_markers() {
    let text = "```sh\n$ not-this\n```\n  ```console\n  # not run: a download\n  $ tcplab kernels fetch\n  output\n  # exit 1\n  $ tcplab run x\n  ```\n```text\n$ nor-this\n```\n";
    let got = examples(text);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].text, "tcplab kernels fetch");
    assert_eq!(got[0].not_run.as_deref(), Some("a download"));
    assert_eq!(
        (got[1].line, got[1].exit, got[1].not_run.is_none()),
        (9, 1, true)
    );
}

#[test]
fn commands_are_split_as_a_shell_would_and_mapped_to_the_binary() {
    let w = words("tcplab run 'write-*' --topic read   # a comment").unwrap();
    assert_eq!(w, ["tcplab", "run", "write-*", "--topic", "read"]);
    let w = words("cargo run --release -- run backlog").unwrap();
    assert_eq!(tcplab_args(&w).unwrap().unwrap(), ["run", "backlog"]);
    assert_eq!(tcplab_args(&words("cargo test").unwrap()).unwrap(), None);
    assert!(tcplab_args(&words("rm -f x").unwrap()).is_err());
    assert!(words("tcplab run --all | head").is_err());
    assert!(words("tcplab run 'open").is_err());
}
