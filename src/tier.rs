//! The network tier around one run: the packets behind the calls, and for a scenario on
//! two hosts the hosts themselves and the wire between them.
//!
//! Every run captures its packets: on the clean room's loopback, or on both hosts'
//! interfaces when its actors are on hosts. A scenario on hosts gets three network
//! namespaces of its own, A ─veth─ W ─veth─ B ([`crate::net`]): W is the run's clean room
//! (such a scenario always has one: the lab never builds links in the machine's own
//! namespace), A and B are made for the run, and a relay in W carries every frame
//! between the hosts and applies the scenario's faults ([`crate::wire`]). All of it is
//! held by descriptors and ends with the run.
//!
//! # Notes
//! On Linux only. Elsewhere a run on loopback records why nothing was captured, and a
//! scenario on hosts cannot run (there are no namespaces to make hosts of).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::capture::{self, Capture, CaptureOutcome, CapturePoint};
use crate::engine::Net;
use crate::env::{Environment, Room};
use crate::net::{self, Topology};
use crate::packet::Packet;
use crate::record::{CaptureInfo, FrameCounts, WireRecord};
use crate::scenario::wire::{Dir, Host, WireSpec};
use crate::scenario::{ParamValue, Scenario};
use crate::wire::{Relay, WireLog};

/// Why a scenario on hosts could not get its network.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    #[error("scenario `{scenario}` runs on two hosts, which need network namespaces: {why}")]
    NoNamespaces { scenario: String, why: String },
    #[error("scenario `{scenario}`: cannot build the hosts and the wire: {why}")]
    Build { scenario: String, why: String },
    #[error("scenario `{scenario}`: its wire is invalid with these parameters: {why}")]
    Spec { scenario: String, why: String },
}

/// The network of one run while it runs.
pub struct Tier {
    capture: Result<Capture, String>,
    wire: Option<Wire>,
}

/// The hosts and the relay of a run on the wire.
struct Wire {
    /// Shared with the engine's `wire` steps; taken out to stop it, after which a late
    /// step is told the wire has stopped.
    relay: Arc<Mutex<Option<Relay>>>,
    spec: WireSpec,
    seed: u64,
    // Dropped after the relay and the capture that use them.
    topology: Topology,
}

/// What the network saw, for the record, its times counted from the engine's start.
pub struct Seen {
    pub packets: Vec<Packet>,
    pub capture: CaptureInfo,
    pub wire: Option<WireRecord>,
}

/// The seed of a run's wire: the scenario's, or a fresh one (recorded either way).
fn seed_for(
    scenario: &Scenario,
    params: &BTreeMap<String, ParamValue>,
) -> Result<(WireSpec, u64), String> {
    let def = scenario.wire.clone().unwrap_or_default();
    let spec = def.spec(params)?;
    let seed = spec.seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        // SplitMix64's finaliser, so that runs started close together differ in every bit.
        let mut z = t ^ u64::from(std::process::id()).rotate_left(32);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    });
    Ok((spec, seed))
}

/// Starts the run's network: for a scenario on hosts the namespaces, the wire and the
/// capture on both hosts, with the engine's [`Net`]; otherwise the capture on the room's
/// loopback (when the run has a room of its own; the host's loopback carries the
/// machine's other traffic). `t0` is the run's start, the origin of every time.
pub fn start(
    scenario: &Scenario,
    params: &BTreeMap<String, ParamValue>,
    env: &Environment,
    t0: Instant,
) -> Result<(Tier, Option<Net>, Option<Environment>), TierError> {
    if scenario.wire.is_none() {
        let clean = env.room.as_ref().is_some_and(|r| r.kind == "clean");
        let capture = if clean {
            let lo = CapturePoint {
                name: "lo".to_owned(),
                ifname: "lo".to_owned(),
                netns: None,
                loopback: true,
            };
            Capture::start(vec![lo], t0).map_err(|e| format!("cannot capture on lo: {e}"))
        } else {
            Err("not captured: the run is in the machine's own namespace, whose loopback carries other traffic too".to_owned())
        };
        return Ok((
            Tier {
                capture,
                wire: None,
            },
            None,
            None,
        ));
    }
    let name = scenario.name.clone();
    let (spec, seed) = seed_for(scenario, params).map_err(|why| TierError::Spec {
        scenario: name.clone(),
        why,
    })?;
    match env.room.as_ref() {
        Some(r) if r.kind == "clean" => {}
        r => {
            return Err(TierError::NoNamespaces {
                scenario: name,
                why: r
                    .and_then(|r| r.fallback.clone())
                    .unwrap_or_else(|| "the run has no network namespace of its own".to_owned()),
            })
        }
    }
    let build = |why: String| TierError::Build {
        scenario: name.clone(),
        why,
    };
    // The calling thread is in the run's room, which becomes W.
    let topology = net::build().map_err(|e| build(e.to_string()))?;
    // The settings of the run's profile, in both hosts (the room has them already).
    if let Some(n) = &env.netns {
        for h in [Host::A, Host::B] {
            topology
                .netns(h)
                .run(|| crate::profile::apply(n, &|_| false))
                .map_err(|e| build(e.to_string()))?
                .map_err(|e| build(format!("host {h}: {e}")))?;
        }
    }
    let relay = Relay::start(net::W_A, net::W_B, spec.clone(), seed, t0)
        .map_err(|e| build(e.to_string()))?;
    let relay = Arc::new(Mutex::new(Some(relay)));
    // One descriptor of each host's namespace, shared by the capture and the engine.
    let dup = |h: Host| topology.netns(h).try_clone().map(Arc::new);
    let hosts_ns = [dup(Host::A), dup(Host::B)];
    let [a_ns, b_ns] = hosts_ns.map(|r| r.map_err(|e| build(e.to_string())));
    let (a_ns, b_ns) = (a_ns?, b_ns?);
    let points = [(Host::A, &a_ns), (Host::B, &b_ns)]
        .into_iter()
        .map(|(h, ns)| CapturePoint {
            name: h.name().to_owned(),
            ifname: net::HOST_IF.to_owned(),
            netns: Some(Arc::clone(ns)),
            loopback: false,
        })
        .collect();
    let capture =
        Capture::start(points, t0).map_err(|e| format!("cannot capture on the hosts: {e}"));
    // The environment as host a sees it (its settings are the run's).
    let host_env = topology.netns(Host::A).run(|| {
        let room = Room {
            kind: "wire".to_owned(),
            via: env.room.as_ref().and_then(|r| r.via.clone()),
            fallback: None,
        };
        Environment::in_room(room, env.netns.clone(), env)
    });
    let to_relay = Arc::clone(&relay);
    let net = Net {
        hosts: [
            (a_ns, topology.addr(Host::A)),
            (b_ns, topology.addr(Host::B)),
        ],
        wire: Arc::new(move |c| {
            let relay = to_relay.lock().unwrap_or_else(|e| e.into_inner());
            match relay.as_ref() {
                Some(r) => r.change(c.clone()),
                None => Err(std::io::Error::other(
                    "the wire has stopped (the run is over)",
                )),
            }
        }),
    };
    let tier = Tier {
        capture,
        wire: Some(Wire {
            relay,
            spec,
            seed,
            topology,
        }),
    };
    Ok((tier, Some(net), host_env.ok()))
}

impl Tier {
    /// Stops the wire and the capture and returns what they saw, the packets marked with
    /// what the wire did to them.
    /// `t0` is the origin the capture and the relay count from, `engine_start` the
    /// events' origin; packets and wire events are moved onto the events' clock.
    pub fn finish(self, t0: Instant, engine_start: Instant) -> Seen {
        let shift = crate::event::millis(engine_start.saturating_duration_since(t0));
        // The relay first (the capture drains what it sent last), the namespaces last.
        let mut keep = None;
        let wire_log: Option<(WireLog, WireSpec)> = self.wire.map(|w| {
            let Wire {
                relay,
                spec,
                seed,
                topology,
            } = w;
            let taken = relay.lock().unwrap_or_else(|e| e.into_inner()).take();
            keep = Some(topology);
            let stopped = match taken.map(Relay::stop) {
                Some(Ok(log)) => log,
                Some(Err(e)) => lost_log(seed, format!("the relay did not stop: {e}")),
                None => lost_log(
                    seed,
                    "the relay was stopped before the run ended".to_owned(),
                ),
            };
            (stopped, spec)
        });
        let (mut packets, capture) = match self.capture.map(Capture::stop) {
            Ok(Ok(CaptureOutcome {
                packets,
                points,
                kernel_drops,
                truncated,
            })) => (
                packets,
                CaptureInfo {
                    points: points
                        .iter()
                        .map(|p| format!("{}={}", p.name, p.ifname))
                        .collect(),
                    kernel_drops,
                    truncated,
                    none: None,
                },
            ),
            Ok(Err(e)) => (
                Vec::new(),
                CaptureInfo {
                    none: Some(format!("the capture failed: {e}")),
                    ..CaptureInfo::default()
                },
            ),
            Err(why) => (
                Vec::new(),
                CaptureInfo {
                    none: Some(why),
                    ..CaptureInfo::default()
                },
            ),
        };
        let wire = wire_log.map(|(log, spec)| {
            capture::annotate(&mut packets, &log.events);
            let frames = Dir::ALL
                .into_iter()
                .map(|d| {
                    let c = log.frames.get(d);
                    (
                        d.name().to_owned(),
                        FrameCounts {
                            received: c.frames_in,
                            sent: c.frames_out,
                            dropped: c.dropped,
                        },
                    )
                })
                .collect();
            WireRecord {
                seed: log.seed,
                spec,
                frames,
                events: log.events,
                error: log.error,
                setup_ms: None,
            }
        });
        drop(keep);
        for p in &mut packets {
            p.at_ms -= shift;
        }
        let mut wire = wire;
        if let Some(w) = wire.as_mut() {
            w.setup_ms = Some(shift);
            for e in &mut w.events {
                e.at_ms -= shift;
            }
        }
        Seen {
            packets,
            capture,
            wire,
        }
    }
}

/// The log of a relay whose own log was lost: nothing but the seed and why.
fn lost_log(seed: u64, why: String) -> WireLog {
    WireLog {
        events: Vec::new(),
        seed,
        frames: Default::default(),
        error: Some(why),
    }
}
