//! `tcplab new NAME [--topic T] [-o PATH]`: writes a commented skeleton scenario that
//! passes `tcplab check` and runs as it is, for a learner to change step by step.
//!
//! Without `-o` the file goes into the catalogue, `scenarios/<topic>/<topic>-<name>.toml`
//! (named topic-first, as the catalogue's files are); with `-o` to that file, or into that
//! folder when it is one (`-o .`). An existing file is never overwritten, and a name the
//! catalogue already has is refused for a file written into the catalogue.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use tcplab::scenario;

use super::{load_catalogue, EXIT_OK};

#[derive(Args)]
pub struct NewArgs {
    /// The scenario's short name: lowercase letters, digits and `-` (`peek-after-eof`)
    pub name: String,
    /// The topic (folder below the scenario folder) to write it into [default: the
    /// name's first word when it is a topic, else `misc`]
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Write the file here instead (a file, or a folder to put `<topic>-<name>.toml` in:
    /// `-o .`)
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

pub fn new(dir: &Path, args: &NewArgs) -> anyhow::Result<ExitCode> {
    let name = args.name.as_str();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        bail!("`{name}` is not a short name: use lowercase letters, digits and `-`");
    }
    let (catalogue, _) = load_catalogue(dir).unwrap_or_default();
    let topic = match &args.topic {
        Some(t) => {
            if t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                bail!("`{t}` is not a topic name: use lowercase letters, digits and `-`");
            }
            t.clone()
        }
        None => {
            let first = name.split('-').next().unwrap_or(name);
            if catalogue.iter().any(|s| s.topic == first) {
                first.to_owned()
            } else {
                "misc".to_owned()
            }
        }
    };
    let stem = if name.starts_with(&format!("{topic}-")) {
        name.to_owned()
    } else {
        format!("{topic}-{name}")
    };
    let path = match &args.output {
        Some(o) if o.is_dir() => o.join(format!("{stem}.toml")),
        Some(o) => o.clone(),
        None => {
            if let Some(s) = catalogue.iter().find(|s| s.name == name) {
                bail!(
                    "the catalogue already has a scenario `{name}` ({}); choose another name, or write elsewhere with -o",
                    s.path.display()
                );
            }
            dir.join(&topic).join(format!("{stem}.toml"))
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} exists; tcplab new never overwrites a file (remove it, or give another name or -o PATH)",
                path.display()
            );
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(skeleton(name).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    // What to type next: the name finds a file in the catalogue, the path any file.
    let arg = match scenario::load(Some(dir), &path) {
        Ok(s) => s.command_arg(),
        Err(e) => bail!("the skeleton does not validate (a bug in tcplab): {e}"),
    };
    eprintln!(
        "wrote {}\nnext: edit it, then `tcplab check {arg}` and `tcplab run {arg}`",
        path.display()
    );
    Ok(ExitCode::from(EXIT_OK))
}

/// The skeleton: a complete small experiment (a client writes, closes; the server reads
/// to EOF) with a comment on every section saying what goes there.
fn skeleton(name: &str) -> String {
    SKELETON.replace("{name}", name)
}

const SKELETON: &str = r#"# What this scenario verifies, in a sentence or two (the first comment of the file).
# The fields are described in README.md, "Writing a scenario"; `tcplab check` on this
# file reports any mistake with its line and field.

name = "{name}"                        # the short name: `tcplab run {name}` in the catalogue
title = "A peer writes and closes; the other side reads to EOF"
summary = "one line for `tcplab list`: what happens, in figures"
source = "where the question comes from: a man page (tcp(7)), an RFC section, an article's URL"
description = """
One paragraph: the situation, and what each side does in which order.
"""
# Printed after a run, with {observation} and {parameter} placeholders filled in.
explanation = """
The server read {bytes_read} bytes in {reads} calls; the last read returned 0 (EOF).
"""
timeout_ms = 10000                     # the watchdog's limit for one run (optional)

[params]                               # each one overridable: --set payload=64KiB
payload = { default = "4KiB", help = "bytes the client writes before closing" }

# Actors run concurrently, one thread (std) or task (tokio) each. Order them with
# `signal`/`wait` sync points, never with time. Sockets are named with `as` and used by
# that name from any actor. An `id` makes a step's results available to [observations].
#
# Buffer sizes: set SO_RCVBUF/SO_SNDBUF on the listener before the client connects (an
# accepted socket inherits them, and the window scale is fixed in the handshake; see
# tcp(7)), not on the accepted socket.
[[actors]]
name = "server"
steps = [
  { op = "listen", as = "l", backlog = 1 },
  { op = "signal", sync = "listening" },
  { op = "accept", from = "l", as = "c", timeout_ms = 5000 },
  # reads until read(2) returns 0: the client's FIN
  { op = "read_to_eof", id = "drain", sock = "c", buf = "64KiB" },
]

[[actors]]
name = "client"
steps = [
  { op = "wait", sync = "listening" },
  { op = "connect", to = "l", as = "s", timeout_ms = 5000 },
  { op = "write_all", id = "send", sock = "s", bytes = "payload" },
  # the FIN goes out after the data
  { op = "close", sock = "s" },
]

[observations]                         # named figures taken from steps with an `id`
bytes_read = { step = "drain", take = "bytes", help = "bytes the server read in all" }
reads = { step = "drain", take = "count", help = "read calls that returned data or EOF" }
written = { step = "send", take = "bytes", help = "bytes the client's write_all moved" }

# After measuring (`tcplab run {name} --repeat 20`), write what you saw, per OS; until
# then the verdict is NO EXPECTATION FOR THIS OS YET, and the run prints the table to
# paste. Uncomment and fill in:
#
# [expect.linux]
# measured = "<system>, <kernel> (tcplab run {name} --repeat 20, <date>)"
# bytes_read = "payload"
# written = "payload"

# What `tcplab explain {name}` prints (optional):
#
# [explain]
# shows = """What the scenario shows, in a few sentences."""
# why = """Why the kernel behaves so: the mechanism, the kernel paths, the RFC rules."""
# read = ["tcp(7)", "RFC 9293 §3.6 (closing a connection)"]
"#;
