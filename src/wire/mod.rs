//! The wire between the two hosts: a relay in the middle namespace W that carries every
//! frame between A's and B's veths and applies the scenario's faults per direction.
//!
//! The faults are a sans-IO [`Pipeline`] (frames and times in, frames due and log entries
//! out, every choice drawn from a seed), tested without sockets or sleeps; the [`Relay`]
//! is the pipeline's I/O: two packet sockets, one thread, one poll loop. The scenario's
//! vocabulary (hosts, directions, faults, `wire` steps) is `crate::scenario::wire`; what
//! the wire did becomes [`crate::packet::WireEvent`]s.

mod frame;
mod pipeline;
mod relay;
mod rng;

pub use frame::{build_rst, parse, FrameInfo, TcpInfo};
pub use pipeline::{FrameCounts, LogEntry, Output, Pipeline, DEFAULT_QUEUE_FRAMES};
pub use relay::{Relay, WireFrames, WireLog};
pub use rng::SplitMix64;
