//! Records: one run of one scenario with everything needed to compare it with a run on
//! another machine, and the JSON Lines store they are appended to.
//!
//! A record file holds one JSON object per line. A line is either a [`Record`] of a run
//! of this lab, or a published record ([`Entry`] with `published` set): figures a
//! publication reported, mapped onto the lab's scenario and observation names, with the
//! source, never presented as measured. [`read`] reads both as [`Entry`]s, the part of a
//! record that comparing needs.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use serde::{Deserialize, Serialize};

use crate::engine::Stuck;
use crate::env::{Environment, Guest, Netns};
use crate::event::Event;
use crate::observe::Observations;
use crate::packet::{Endpoint, Packet, WireEvent};
use crate::scenario::wire::WireSpec;
use crate::scenario::ParamValue;
use crate::verdict::Verdict;

/// The scenario a record is of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRef {
    pub name: String,
    pub title: String,
    pub topic: String,
    pub file: String,
    /// SHA-256 of the scenario file's text when it ran (hex), so that a modified copy
    /// that keeps the name is not taken for the original. Absent in records made before
    /// it was kept, and in published records.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub scenario: ScenarioRef,
    pub params: BTreeMap<String, ParamValue>,
    /// The engine that ran the steps (`std`: blocking threads).
    pub engine: String,
    pub env: Environment,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub elapsed_ms: f64,
    pub timeout_ms: u64,
    pub events: Vec<Event>,
    pub observations: Observations,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub stuck: Vec<Stuck>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub failures: Vec<String>,
    /// Which host each actor ran on (a scenario on the wire); empty: loopback.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub hosts: BTreeMap<String, String>,
    /// Each socket's addresses, to name packets after sockets.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub endpoints: Vec<Endpoint>,
    /// The run's packets, in time order (see [`crate::packet`]).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub packets: Vec<Packet>,
    /// Where the packets were captured, or why they were not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub capture: Option<CaptureInfo>,
    /// The wire: its faults, seed and what it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub wire: Option<WireRecord>,
}

/// Where a run's packets were captured, or why they were not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaptureInfo {
    /// Capture points as `name=interface` (`lo=lo`, `a=eth0`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub points: Vec<String>,
    /// Frames the kernel dropped before the capture read them (PACKET_STATISTICS).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub kernel_drops: u64,
    /// Frames beyond the capture's bound, not kept.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub truncated: u64,
    /// Why nothing was captured.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub none: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The wire of a run on two hosts: the faults it started with, its seed (the same seed
/// and the same frames give the same drops) and everything it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireRecord {
    pub seed: u64,
    pub spec: WireSpec,
    /// Per direction (`a>b`, `b>a`): frames in, out and dropped.
    pub frames: BTreeMap<String, FrameCounts>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub events: Vec<WireEvent>,
    /// Milliseconds from the start of building the hosts to the first step: the
    /// namespaces, links, relay and capture.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub setup_ms: Option<f64>,
    /// Why the relay stopped early or its log is missing, if it did or is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// Frames the wire took in, sent on and dropped in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameCounts {
    pub received: u64,
    pub sent: u64,
    pub dropped: u64,
}

/// Appends records to a JSON Lines file, one line each.
///
/// Each line goes out in a single `write` on a file opened for appending, and is synced
/// before the call returns, so a crash can at worst leave a torn last line; the lines
/// already there are never rewritten. If the file's last line was torn by such a crash,
/// a newline is written first so that the new record starts a line of its own.
pub fn append(path: &Path, records: &[Record]) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    let len = f.metadata()?.len();
    let mut text = String::new();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    for r in records {
        text.push_str(&serde_json::to_string(r).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

/// The part of a record line that comparing needs: what ran, where, and what was seen.
/// A [`Record`]'s line reads as one; a published record is written as one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub scenario: ScenarioRef,
    #[serde(default)]
    pub params: BTreeMap<String, ParamValue>,
    /// `std`, `tokio`, or for a published record the runtime it used (`go1.5.1`).
    pub engine: String,
    pub env: EntryEnv,
    pub observations: Observations,
    /// Set on a published record: where the figures come from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub published: Option<Published>,
    /// The verdict of a run of the lab (a published record has none).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verdict: Option<Verdict>,
}

/// An environment block as far as it is known. A run of the lab fills every field; a
/// published record only what the publication says (the rest is absent, not guessed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryEnv {
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub os_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kernel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kernel_release: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub arch: Option<String>,
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub netns: Option<Netns>,
    /// Set when the run happened in a kernel the lab booted (`run --kernel`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guest: Option<Guest>,
}

/// Where a published record's figures come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// Author, title, year, and where the programs are.
    pub source: String,
    /// The publication's own words for each observation, quoted or closely digested.
    #[serde(default)]
    pub reported: IndexMap<String, String>,
    /// How the figures were mapped onto the lab's names, where that needs saying.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// A line of a record file that could not be read as a record; it is skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    pub why: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.why)
    }
}

/// Reads every record of a record file. Lines that are not records (not JSON, JSON of
/// something else, a line torn by an interrupted write) come back as [`BadLine`]s; blank
/// lines are ignored. `Err` only when the file cannot be read at all.
pub fn read(path: &Path) -> std::io::Result<(Vec<Entry>, Vec<BadLine>)> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let ends_with_newline = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let problem = |why: String| BadLine {
            path: path.to_owned(),
            line: i + 1,
            why,
        };
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) if i + 1 == lines.len() && !ends_with_newline => {
                bad.push(problem(format!(
                    "torn last line (no newline at its end: a write was interrupted?): {e}"
                )));
                continue;
            }
            Err(e) => {
                bad.push(problem(format!("not JSON: {e}")));
                continue;
            }
        };
        match serde_json::from_value::<Entry>(value) {
            Ok(entry) => entries.push(entry),
            Err(e) => bad.push(problem(format!("not a tcplab record: {e}"))),
        }
    }
    Ok((entries, bad))
}

impl From<&Record> for Entry {
    fn from(r: &Record) -> Entry {
        Entry {
            scenario: r.scenario.clone(),
            params: r.params.clone(),
            engine: r.engine.clone(),
            env: EntryEnv {
                os: r.env.os.clone(),
                os_version: r.env.os_version.clone(),
                kernel: Some(r.env.kernel.clone()),
                kernel_release: Some(r.env.kernel_release.clone()),
                arch: Some(r.env.arch.clone()),
                sysctls: r.env.sysctls.clone(),
                netns: r.env.netns.clone(),
                guest: r.env.guest.clone(),
            },
            observations: r.observations.clone(),
            published: None,
            verdict: Some(r.verdict.clone()),
        }
    }
}
