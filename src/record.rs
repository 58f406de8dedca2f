//! Records: one run of one scenario with everything needed to compare it with a run on
//! another machine, and the JSON Lines store they are appended to.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::Stuck;
use crate::env::Environment;
use crate::event::Event;
use crate::observe::Observations;
use crate::scenario::ParamValue;
use crate::verdict::Verdict;

/// The scenario a record is of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRef {
    pub name: String,
    pub title: String,
    pub topic: String,
    pub file: String,
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
