//! tcplab: a TCP socket behaviour lab.
//!
//! Data flows one way: scenario file -> [`scenario::Scenario`] -> [`engine`] runs the
//! actors -> [`event::Event`]s -> named [`observe`] observations -> [`record::Record`]
//! (observations + [`env::Environment`]) -> [`verdict::Verdict`] against the expectations
//! for this OS -> [`report`] (terminal, JSON, Markdown) and the record store.
//! [`lab`] drives one scenario through that chain; [`suggest`] offers the closest known
//! name when a name in a file or on the command line is wrong; [`sweep`] expands `--set`
//! lists and ranges into the grid of runs.

pub mod capture;
pub mod engine;
pub mod env;
pub mod event;
pub mod interrupt;
pub mod lab;
pub mod net;
pub mod observe;
pub mod packet;
pub mod profile;
pub mod record;
pub mod report;
pub mod room;
pub mod scenario;
pub mod suggest;
pub mod sweep;
pub mod tier;
pub mod uml;
pub mod verdict;
pub mod wire;

// OS-specific code lives in one place, picked by target family (as socket2 does).
#[cfg_attr(unix, path = "sys/unix/mod.rs")]
#[cfg_attr(windows, path = "sys/windows.rs")]
mod sys;
