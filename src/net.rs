//! The network tier's topology: two hosts joined through a wire, A ─veth─ W ─veth─ B.
//!
//! A scenario that places its actors on hosts runs on three network namespaces: host A,
//! host B, and the wire W between them, which is the run's own clean room. Each host has
//! one interface, `eth0`, whose veth(4) peer sits in W (`wa` for A, `wb` for B). W has no
//! address and routes nothing: the relay (`crate::wire`) reads every frame from one W-side
//! end through an AF_PACKET socket and writes it to the other, so the hosts share one
//! Ethernet segment and one IPv4 subnet, and ARP crosses the relay like any other frame.
//!
//! [`build`] makes the hosts' namespaces and everything in them over NETLINK_ROUTE; the
//! [`Topology`] it returns holds the namespaces by descriptor. Nothing is named under
//! /run/netns: dropping the `Topology` (and the run's room) ends the namespaces, and the
//! veths die with them, so nothing is left on the machine however the run ends.
//!
//! # Addresses
//! The hosts live on [`SUBNET`]/[`PREFIX`] (10.89.0.0/24): A is [`A_ADDR`], B is
//! [`B_ADDR`]. The range is private (RFC 1918) and only ever exists inside the run's
//! namespaces: a host has `lo`, `eth0` and the connected route of its /24, and no default
//! route, so traffic to anything else fails at once with ENETUNREACH and never leaves the
//! hosts, whatever networks the machine itself is on. 10.89 is an out-of-the-way corner of
//! 10/8, so that a capture read beside real traffic is not mistaken for it. The MAC
//! addresses are fixed too (locally administered, the IPv4 address in the last four bytes
//! for the hosts), so captures of two runs compare byte for byte.
//!
//! # Notes
//! On Linux the topology is built from network namespaces (network_namespaces(7)), veth
//! pairs (veth(4)) and rtnetlink(7) requests; it needs CAP_SYS_ADMIN and CAP_NET_ADMIN in
//! the calling thread's user namespace: root, or an unprivileged user inside a user
//! namespace of its own (`room::prepare`). On macOS, FreeBSD and Windows there are no
//! network namespaces: [`build`] answers [`TopologyError::Unsupported`].

use std::net::Ipv4Addr;

use crate::scenario::wire::Host;
use crate::sys;

pub use crate::sys::NetnsFd;
pub use crate::sys::{Link, Topology, TopologyError};
pub use crate::sys::{
    A_ADDR, A_MAC, B_ADDR, B_MAC, HOST_IF, MTU, NO_ROUTE_ADDR, PREFIX, SUBNET, UNANSWERED_ADDR,
    W_A, W_A_MAC, W_B, W_B_MAC,
};

impl Topology {
    /// The network namespace of `host`.
    pub fn netns(&self, host: Host) -> &NetnsFd {
        match host {
            Host::A => &self.a,
            Host::B => &self.b,
        }
    }

    /// The address of `host`.
    pub fn addr(&self, host: Host) -> Ipv4Addr {
        match host {
            Host::A => self.a_addr,
            Host::B => self.b_addr,
        }
    }

    /// `eth0` of `host`, in the host's namespace.
    pub fn host_link(&self, host: Host) -> Link {
        match host {
            Host::A => self.a_if,
            Host::B => self.b_if,
        }
    }

    /// The W-side end of `host`'s veth pair, in W.
    pub fn wire_link(&self, host: Host) -> Link {
        match host {
            Host::A => self.w_a,
            Host::B => self.w_b,
        }
    }
}

/// Builds the topology with the calling thread's network namespace as the wire W.
///
/// Call it on the run's room thread (or any thread inside the namespace that is to be W;
/// from elsewhere, `w.run(net::build)`, which as an unprivileged user works only from a
/// namespace the process made: setns(2) back into the machine's namespace is refused
/// there). It refuses to run in PID 1's namespace ([`TopologyError::NotInRoom`]). It makes host A's and B's namespaces, a veth pair
/// from each into W (`wa`–A's `eth0`, `wb`–B's `eth0`), sets their MTU to [`MTU`], fixed
/// MACs, TX checksum offload and GRO off (so relayed frames carry real checksums, the
/// stack segments in software because scatter-gather and TSO go with the checksum
/// offload, no frame on the wire is larger than the MTU, and captures show frames as
/// sent), the
/// hosts' addresses, every link and loopback up, and IPv6 disabled in all three
/// namespaces (no router or neighbour solicitations in the captures). W's ends get no
/// address. Every setting is read back. The calling thread ends in the namespace it
/// started in.
///
/// # Notes
/// On Linux this needs CAP_SYS_ADMIN (new namespaces) and CAP_NET_ADMIN (links) in the
/// calling thread's user namespace: as root, or inside a user namespace of the process's
/// own (root there), where all of it works unprivileged. Errors name the step and the
/// errno (`cannot create veth ...: EPERM (Operation not permitted)`). On macOS, FreeBSD
/// and Windows it answers [`TopologyError::Unsupported`]. See rtnetlink(7), veth(4),
/// netdevice(7), network_namespaces(7).
pub fn build() -> Result<Topology, TopologyError> {
    sys::build_topology()
}
