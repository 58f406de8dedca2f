//! The plan of the network tier's topology (names, addresses, MACs) and what building it
//! returns: OS-neutral data, here at the bottom layer so that the Linux code that builds
//! it (`unix/topology.rs`) and `crate::net`, which presents it, both use it without a
//! cycle. See `crate::net` for the design.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::NetnsFd;

/// The hosts' subnet (with [`PREFIX`]): 10.89.0.0/24.
pub const SUBNET: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 0);
/// The length of the hosts' subnet prefix.
pub const PREFIX: u8 = 24;
/// Host A's address, on its `eth0`.
pub const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 1);
/// Host B's address, on its `eth0`.
pub const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 2);

/// An address on the hosts' subnet that no one has: a dial to it from a host fails with
/// EHOSTUNREACH after about 3 s.
///
/// The address is on-link, so the kernel asks for it by ARP; the relay carries the
/// requests to the other host, which does not own it, and no one answers. After
/// `mcast_solicit` (3) unanswered requests one `retrans_time_ms` (1 s) apart, the
/// neighbour entry fails and the pending SYN, with the connect(2), gets EHOSTUNREACH
/// (sooner only with a smaller TCP_SYNCNT or a connect timeout). See arp(7).
pub const UNANSWERED_ADDR: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 9);

/// An address on a network no host has a route to: a dial to it from a host fails at once
/// with ENETUNREACH, before any packet is sent.
///
/// A host's only routes are its loopback and the connected route of the hosts' /24; there
/// is no default route, so the route lookup of connect(2) fails. See ip(7), route(8).
pub const NO_ROUTE_ADDR: Ipv4Addr = Ipv4Addr::new(10, 90, 0, 1);

/// The name of each host's interface (in its own namespace).
pub const HOST_IF: &str = "eth0";
/// The W-side end of host A's veth pair.
pub const W_A: &str = "wa";
/// The W-side end of host B's veth pair.
pub const W_B: &str = "wb";
/// The MTU of all four veth ends (Ethernet's).
pub const MTU: u32 = 1500;

/// Host A's `eth0` MAC address: locally administered, then A's IPv4 address.
pub const A_MAC: [u8; 6] = [0x02, 0x00, 10, 89, 0, 1];
/// Host B's `eth0` MAC address.
pub const B_MAC: [u8; 6] = [0x02, 0x00, 10, 89, 0, 2];
/// The MAC address of `wa` (W's end toward A; `W` is 0x57). No frame is addressed to it.
pub const W_A_MAC: [u8; 6] = [0x02, 0x57, 0, 0, 0, 0x0a];
/// The MAC address of `wb` (W's end toward B).
pub const W_B_MAC: [u8; 6] = [0x02, 0x57, 0, 0, 0, 0x0b];

/// One veth end of the topology as its namespace sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Its name (`eth0`, `wa`, `wb`).
    pub name: &'static str,
    /// Its interface index in its namespace (for an AF_PACKET `sockaddr_ll`).
    pub ifindex: u32,
    /// Its MAC address, read back from the kernel.
    pub mac: [u8; 6],
}

/// The two hosts and the wire, as `crate::net::build` made them. Dropping it ends the hosts'
/// namespaces (unless a socket or thread still holds one), and with them all four veths.
#[derive(Debug)]
pub struct Topology {
    /// Host A's network namespace.
    pub a: NetnsFd,
    /// Host B's network namespace.
    pub b: NetnsFd,
    /// Host A's address ([`A_ADDR`]).
    pub a_addr: Ipv4Addr,
    /// Host B's address ([`B_ADDR`]).
    pub b_addr: Ipv4Addr,
    /// The prefix length of the hosts' subnet ([`PREFIX`]).
    pub prefix: u8,
    /// `eth0` in host A's namespace.
    pub a_if: Link,
    /// `eth0` in host B's namespace.
    pub b_if: Link,
    /// `wa`, in W: the end the relay reads A's frames from and writes B's frames to.
    pub w_a: Link,
    /// `wb`, in W: the same toward B.
    pub w_b: Link,
    /// How long `crate::net::build` took, from its first call to its return.
    pub setup: Duration,
}

/// Why the topology could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// This system has no network namespaces.
    #[error("the network tier needs network namespaces, which are Linux's; this is {0}")]
    Unsupported(&'static str),
    /// The calling thread is in the machine's own network namespace (PID 1's), whose
    /// links and IPv6 settings the build would change.
    #[error("the topology is built in a run's own network namespace, and the calling thread is in the machine's (PID 1's): nothing was changed")]
    NotInRoom,
    /// A step failed; `step` says which, `error` carries the kernel's answer.
    #[error("cannot {step}: {}", errno_text(.error))]
    Step { step: String, error: io::Error },
    /// A setting was accepted but reads back otherwise.
    #[error("{what} reads back {got} after being set to {wanted}")]
    ReadBack {
        what: String,
        wanted: String,
        got: String,
    },
}

impl TopologyError {
    /// The errno of the step that failed, when the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            TopologyError::Step { error, .. } => error.raw_os_error(),
            _ => None,
        }
    }
}

/// `EPERM (Operation not permitted)` for an errno, the error's own text otherwise.
fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error().and_then(super::errno_name) {
        Some(name) => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            format!("{name} ({text})")
        }
        None => e.to_string(),
    }
}
