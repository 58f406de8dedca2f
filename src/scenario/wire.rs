//! The network tier's vocabulary: the two hosts, the wire's directions and its faults.
//!
//! A scenario that places an actor on a host (`host = "a"` or `"b"`) runs on two network
//! stacks joined by a wire, A ─veth─ W ─veth─ B, where a relay in W carries every frame
//! and applies the faults set for its direction. This file holds only what a scenario
//! says; the relay that acts on it is `crate::wire`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One of the two hosts an actor can be placed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Host {
    A,
    B,
}

/// The host names a file may use.
pub const HOSTS: &[&str] = &["a", "b"];

impl Host {
    pub fn name(self) -> &'static str {
        match self {
            Host::A => "a",
            Host::B => "b",
        }
    }

    pub fn from_name(s: &str) -> Option<Host> {
        match s {
            "a" => Some(Host::A),
            "b" => Some(Host::B),
            _ => None,
        }
    }

    /// The other host.
    pub fn peer(self) -> Host {
        match self {
            Host::A => Host::B,
            Host::B => Host::A,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A direction of travel on the wire, named by the host the frames leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dir {
    /// Frames from A to B (`"a>b"`).
    #[serde(rename = "a>b")]
    AtoB,
    /// Frames from B to A (`"b>a"`).
    #[serde(rename = "b>a")]
    BtoA,
}

/// The direction names a file may use (`both` is the two).
pub const DIRS: &[&str] = &["a>b", "b>a", "both"];

impl Dir {
    pub const ALL: [Dir; 2] = [Dir::AtoB, Dir::BtoA];

    pub fn name(self) -> &'static str {
        match self {
            Dir::AtoB => "a>b",
            Dir::BtoA => "b>a",
        }
    }

    /// The host frames in this direction leave.
    pub fn from_host(self) -> Host {
        match self {
            Dir::AtoB => Host::A,
            Dir::BtoA => Host::B,
        }
    }

    /// The host frames in this direction travel to.
    pub fn to_host(self) -> Host {
        self.from_host().peer()
    }

    /// The direction toward `host`.
    pub fn toward(host: Host) -> Dir {
        match host {
            Host::A => Dir::BtoA,
            Host::B => Dir::AtoB,
        }
    }

    /// The directions a file's name stands for: one, or both for `"both"`.
    pub fn parse_set(s: &str) -> Option<Vec<Dir>> {
        match s {
            "a>b" => Some(vec![Dir::AtoB]),
            "b>a" => Some(vec![Dir::BtoA]),
            "both" => Some(Dir::ALL.to_vec()),
            _ => None,
        }
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the wire does to the frames of one direction. Every field is optional: setting a
/// fault merges the fields it names into what is already set ([`Fault::merge`]); `clear`
/// removes them. Validated values only: percentages within 0..=100, no negative times.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Added to every frame's passage (one-way).
    #[serde(skip_serializing_if = "Option::is_none", default, with = "opt_duration_ms")]
    pub delay: Option<Duration>,
    /// A uniformly random extra delay in 0..=jitter per frame; frames may overtake each
    /// other (reordering follows from jitter).
    #[serde(skip_serializing_if = "Option::is_none", default, with = "opt_duration_ms")]
    pub jitter: Option<Duration>,
    /// Percent of frames dropped at random (seeded), 0..=100.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub loss: Option<f64>,
    /// With `loss`: each loss event drops this many consecutive frames (a burst).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub loss_burst: Option<u32>,
    /// Percent of frames sent twice, 0..=100.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duplicate: Option<f64>,
    /// A bottleneck: bits per second (a token bucket on frame bytes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rate: Option<u64>,
    /// With `rate`: frames the bottleneck queue holds; arrivals beyond it are dropped.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub queue: Option<u32>,
    /// Drop every frame (the peer vanishes: no FIN, no RST, no ICMP).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub blackhole: Option<bool>,
    /// Drop these TCP data segments, counted from 1 in this direction (first
    /// transmissions and retransmissions alike: a segment carrying payload).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub drop_data: Vec<u64>,
    /// Drop this many segments carrying FIN (the first ones).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub drop_fin: Option<u32>,
    /// Drop this many SYN-ACKs (the first ones).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub drop_synack: Option<u32>,
    /// Drop this many SYNs (the first ones).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub drop_syn: Option<u32>,
    /// Pass this many bytes of TCP payload, then drop every frame that carries payload.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stop_after: Option<u64>,
}

/// The fault names a file may use, in the order the docs list them.
pub const FAULT_FIELDS: &[&str] = &[
    "delay",
    "jitter",
    "loss",
    "loss_burst",
    "duplicate",
    "rate",
    "queue",
    "blackhole",
    "drop_data",
    "drop_fin",
    "drop_synack",
    "drop_syn",
    "stop_after",
];

impl Fault {
    /// A blackhole and nothing else (`set = "blackhole"`).
    pub fn blackhole() -> Fault {
        Fault {
            blackhole: Some(true),
            ..Fault::default()
        }
    }

    /// Sets the fields `other` names, keeping the rest.
    pub fn merge(&mut self, other: &Fault) {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            delay,
            jitter,
            loss,
            loss_burst,
            duplicate,
            rate,
            queue,
            blackhole,
            drop_fin,
            drop_synack,
            drop_syn,
            stop_after
        );
        if !other.drop_data.is_empty() {
            self.drop_data = other.drop_data.clone();
        }
    }

    /// Removes the named fields (names from [`FAULT_FIELDS`]); unknown names are ignored
    /// here because validation rejected them.
    pub fn clear(&mut self, names: &[String]) {
        for n in names {
            match n.as_str() {
                "delay" => self.delay = None,
                "jitter" => self.jitter = None,
                "loss" => self.loss = None,
                "loss_burst" => self.loss_burst = None,
                "duplicate" => self.duplicate = None,
                "rate" => self.rate = None,
                "queue" => self.queue = None,
                "blackhole" => self.blackhole = None,
                "drop_data" => self.drop_data.clear(),
                "drop_fin" => self.drop_fin = None,
                "drop_synack" => self.drop_synack = None,
                "drop_syn" => self.drop_syn = None,
                "stop_after" => self.stop_after = None,
                _ => {}
            }
        }
    }

    /// Whether nothing is set: the wire passes every frame at once.
    pub fn is_clear(&self) -> bool {
        *self == Fault::default()
    }
}

/// A change to the wire made by a `wire` step during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum WireChange {
    /// Merge these faults into the direction's.
    Set { dir: Dir, fault: Fault },
    /// Remove these fault fields (all of them when `fields` is empty).
    Clear { dir: Dir, fields: Vec<String> },
    /// Inject a RST toward `toward`, with the sequence number its socket expects, for
    /// every connection the wire has seen between the hosts.
    Reset { toward: Host },
}

/// The wire a scenario asks for before any step runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireSpec {
    /// The faults of each direction for the whole run (changed by `wire` steps).
    pub a_to_b: Fault,
    pub b_to_a: Fault,
    /// The random seed of the wire's choices; `None`: a fresh one per run, recorded.
    pub seed: Option<u64>,
}

impl WireSpec {
    pub fn fault(&self, dir: Dir) -> &Fault {
        match dir {
            Dir::AtoB => &self.a_to_b,
            Dir::BtoA => &self.b_to_a,
        }
    }
    pub fn fault_mut(&mut self, dir: Dir) -> &mut Fault {
        match dir {
            Dir::AtoB => &mut self.a_to_b,
            Dir::BtoA => &mut self.b_to_a,
        }
    }
}

/// Durations as milliseconds (a float) in records.
mod opt_duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64() * 1000.0),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let ms: Option<f64> = Option::deserialize(d)?;
        Ok(ms.map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0)))
    }
}
