//! The network tier's topology on Linux: host namespaces, veth pairs, addresses and link
//! settings over NETLINK_ROUTE (rtnetlink), offloads over the ethtool ioctl, IPv6 off
//! through /proc/sys. The plan (names, addresses, MACs) is `topology_plan.rs`'s.
//!
//! rtnetlink's API is async; each build runs it on a private current-thread tokio runtime
//! that lives for the build only: creating one costs about 10 µs (measured), so nothing
//! is cached between builds, and dropping it closes the connections' sockets, which would
//! otherwise keep the hosts' namespaces alive. Netlink and ioctl sockets belong to the namespace
//! they were created in, so the hosts' ones are created with the thread inside the host's
//! namespace (`NetnsFd::run`) and used from W afterwards; /proc/sys/net shows the
//! namespace of the thread that opens the file, so its writes happen inside `run` too.
//!
//! # Notes
//! Linux only; on other Unix systems [`build_topology`] answers `Unsupported`. See
//! rtnetlink(7), veth(4), netdevice(7), and the kernel's ethtool.h for the ioctl.

use super::{Topology, TopologyError};

/// Network namespaces are Linux's: elsewhere there is no topology to build.
#[cfg(not(target_os = "linux"))]
pub fn build_topology() -> Result<Topology, TopologyError> {
    Err(TopologyError::Unsupported(std::env::consts::OS))
}

/// See `crate::net::build`.
#[cfg(target_os = "linux")]
pub fn build_topology() -> Result<Topology, TopologyError> {
    linux::build()
}

// Everything below uses netlink, ethtool and /proc/sys/net: Linux's.
#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::net::{IpAddr, Ipv4Addr};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;

    use futures_util::TryStreamExt;
    use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute};
    use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec, LinkVeth};

    use super::super::netns::{loopback_up, NetnsFd};
    use crate::sys::topology_plan as net;
    use crate::sys::{Link, Topology, TopologyError};

    // ethtool commands (include/uapi/linux/ethtool.h), each taking a struct ethtool_value.
    /// Read whether TX checksum offload is on.
    const ETHTOOL_GTXCSUM: u32 = 0x16;
    /// Turn TX checksum offload on or off.
    const ETHTOOL_STXCSUM: u32 = 0x17;
    /// Read whether generic receive offload is on.
    const ETHTOOL_GGRO: u32 = 0x2b;
    /// Turn generic receive offload on or off.
    const ETHTOOL_SGRO: u32 = 0x2c;

    /// `struct ethtool_value` of ethtool.h: a command and its one argument or answer.
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }

    /// Whether the calling thread is in the network namespace of PID 1: the machine's own
    /// (or its container's), which `build` must never change. Where PID 1's namespace
    /// cannot be read (not root) nothing of it could be changed either.
    fn in_machine_namespace() -> bool {
        use std::os::unix::fs::MetadataExt;
        match (
            std::fs::metadata("/proc/thread-self/ns/net"),
            std::fs::metadata("/proc/1/ns/net"),
        ) {
            (Ok(me), Ok(init)) => me.dev() == init.dev() && me.ino() == init.ino(),
            _ => false,
        }
    }

    /// What a step's error becomes: the step's description and the kernel's answer.
    fn step(what: impl Into<String>) -> impl FnOnce(io::Error) -> TopologyError {
        let step = what.into();
        move |error| TopologyError::Step { step, error }
    }

    /// An rtnetlink error as the io::Error of the kernel's errno (the NLMSG_ERROR code).
    fn nl(e: rtnetlink::Error) -> io::Error {
        match e {
            rtnetlink::Error::NetlinkError(m) => m.to_io(),
            other => io::Error::other(other.to_string()),
        }
    }

    /// One host while it is being built.
    struct HostPlan {
        label: &'static str,
        netns: NetnsFd,
        addr: Ipv4Addr,
        mac: [u8; 6],
        wire_name: &'static str,
        wire_mac: [u8; 6],
    }

    /// Sockets made inside a host's namespace, used from W afterwards.
    struct HostSockets {
        ioctl: OwnedFd,
        netlink: Handle,
        /// The host's namespace opened again (/proc/thread-self/ns/net from inside it), for
        /// IFLA_NET_NS_FD: `NetnsFd` does not lend its descriptor.
        netns_file: std::fs::File,
    }

    pub(super) fn build() -> Result<Topology, TopologyError> {
        let started = Instant::now();
        if in_machine_namespace() {
            return Err(TopologyError::NotInRoom);
        }
        let in_w = "the wire's namespace";
        loopback_up().map_err(step(format!("bring `lo` up in {in_w}")))?;
        // Before the veths exist, so that the new interfaces inherit it (`default`).
        disable_ipv6(in_w, &["all", "default"])?;

        let hosts = [
            HostPlan {
                label: "host a's namespace",
                netns: NetnsFd::fresh().map_err(step("make host a's network namespace"))?,
                addr: net::A_ADDR,
                mac: net::A_MAC,
                wire_name: net::W_A,
                wire_mac: net::W_A_MAC,
            },
            HostPlan {
                label: "host b's namespace",
                netns: NetnsFd::fresh().map_err(step("make host b's network namespace"))?,
                addr: net::B_ADDR,
                mac: net::B_MAC,
                wire_name: net::W_B,
                wire_mac: net::W_B_MAC,
            },
        ];

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(step("start the runtime for netlink requests"))?;
        // The connections' sockets are registered with this runtime's reactor.
        let guard = rt.enter();
        let (w_conn, w_nl, _) = rtnetlink::new_connection()
            .map_err(step(format!("open a netlink socket in {in_w}")))?;
        let w_ioctl = ioctl_socket().map_err(step(format!("open an ioctl socket in {in_w}")))?;
        let mut conns = vec![w_conn];
        let mut sockets = Vec::new();
        for h in &hosts {
            let (conn, netlink, ioctl, netns_file) = h
                .netns
                .run(|| -> Result<_, TopologyError> {
                    disable_ipv6(h.label, &["all", "default"])?;
                    let (conn, netlink, _) = rtnetlink::new_connection()
                        .map_err(step(format!("open a netlink socket in {}", h.label)))?;
                    let ioctl = ioctl_socket()
                        .map_err(step(format!("open an ioctl socket in {}", h.label)))?;
                    let netns_file = std::fs::File::open("/proc/thread-self/ns/net")
                        .map_err(step(format!("open the namespace file of {}", h.label)))?;
                    Ok((conn, netlink, ioctl, netns_file))
                })
                .map_err(step(format!("enter {}", h.label)))??;
            conns.push(conn);
            sockets.push(HostSockets {
                ioctl,
                netlink,
                netns_file,
            });
        }

        let (a_if, b_if, w_a, w_b) = rt.block_on(async {
            // The connections run on this thread while the requests are awaited; they end
            // with the runtime, closing their sockets.
            for conn in conns {
                tokio::spawn(conn);
            }
            let mut host_links = Vec::new();
            let mut wire_links = Vec::new();
            for (h, s) in hosts.iter().zip(&sockets) {
                create_veth(&w_nl, h, &s.netns_file).await?;
                // Offloads off while the link is still down: no frame leaves unchecked.
                offloads_off(&s.ioctl, net::HOST_IF, h.label, true)?;
                // `default` already made it so; written and read back for the record.
                h.netns
                    .run(|| disable_ipv6(h.label, &[net::HOST_IF]))
                    .map_err(step(format!("enter {}", h.label)))??;
                let link = read_link(&s.netlink, net::HOST_IF, h.label, h.mac).await?;
                s.netlink
                    .address()
                    .add(link.ifindex, IpAddr::V4(h.addr), net::PREFIX)
                    .execute()
                    .await
                    .map_err(nl)
                    .map_err(step(format!(
                        "add {}/{} to `{}` in {}",
                        h.addr,
                        net::PREFIX,
                        net::HOST_IF,
                        h.label
                    )))?;
                link_up(&s.netlink, &link, h.label).await?;
                offloads_off(&w_ioctl, h.wire_name, in_w, false)?;
                let wire = read_link(&w_nl, h.wire_name, in_w, h.wire_mac).await?;
                link_up(&w_nl, &wire, in_w).await?;
                host_links.push(link);
                wire_links.push(wire);
            }
            Ok::<_, TopologyError>((host_links[0], host_links[1], wire_links[0], wire_links[1]))
        })?;
        drop(guard);
        drop(rt);
        drop(sockets);

        let [a, b] = hosts;
        Ok(Topology {
            a: a.netns,
            b: b.netns,
            a_addr: a.addr,
            b_addr: b.addr,
            prefix: net::PREFIX,
            a_if,
            b_if,
            w_a,
            w_b,
            setup: started.elapsed(),
        })
    }

    /// Creates `wire_name` in W with its peer `eth0` placed straight into the host's
    /// namespace (IFLA_NET_NS_FD in the peer's message), both down, with the MTU, their
    /// fixed MAC. No `gso_max_segs 1`: TX checksum offload off (see `build`) already
    /// takes scatter-gather and with it TSO away, so the stack segments in software and
    /// frames stay within the MTU; `gso_max_segs 1` on top cut a plain veth pair from
    /// about 3.6 to 0.32 Gbit/s here (and the relay from 1.84 to 0.27).
    async fn create_veth(
        w: &Handle,
        h: &HostPlan,
        netns: &std::fs::File,
    ) -> Result<(), TopologyError> {
        let peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(net::HOST_IF)
            .mtu(net::MTU)
            .address(h.mac.to_vec())
            .setns_by_fd(netns.as_raw_fd())
            .build();
        let veth = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(h.wire_name)
            .mtu(net::MTU)
            .address(h.wire_mac.to_vec())
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .build();
        w.link()
            .add(veth)
            .execute()
            .await
            .map_err(nl)
            .map_err(step(format!(
                "create veth `{}` in the wire's namespace with its peer `{}` in {}",
                h.wire_name,
                net::HOST_IF,
                h.label
            )))
    }

    /// Reads link `name` back (RTM_GETLINK): its index, and a check that its MAC and MTU
    /// are the ones asked for.
    async fn read_link(
        nl_handle: &Handle,
        name: &'static str,
        label: &str,
        mac: [u8; 6],
    ) -> Result<Link, TopologyError> {
        let what = format!("read link `{name}` in {label}");
        let msg = nl_handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute()
            .try_next()
            .await
            .map_err(nl)
            .map_err(step(what.clone()))?
            .ok_or_else(|| step(what.clone())(io::Error::from_raw_os_error(libc::ENODEV)))?;
        let (mut got_mac, mut mtu) = (None, None);
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::Address(m) => got_mac = Some(m.clone()),
                LinkAttribute::Mtu(m) => mtu = Some(*m),
                _ => {}
            }
        }
        let show = |v: Option<u32>| v.map_or("nothing".to_owned(), |v| v.to_string());
        let checks = [
            (
                "MAC address",
                fmt_mac(&mac),
                got_mac.as_deref().map_or("nothing".to_owned(), fmt_mac),
            ),
            ("MTU", net::MTU.to_string(), show(mtu)),
        ];
        for (setting, wanted, got) in checks {
            if wanted != got {
                return Err(TopologyError::ReadBack {
                    what: format!("the {setting} of `{name}` in {label}"),
                    wanted,
                    got,
                });
            }
        }
        Ok(Link {
            name,
            ifindex: msg.header.index,
            mac,
        })
    }

    /// `02:00:0a:59:00:01`.
    fn fmt_mac(mac: &[u8]) -> String {
        let hex: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
        hex.join(":")
    }

    /// Sets `link` up (RTM_NEWLINK with IFF_UP in the change mask).
    async fn link_up(nl_handle: &Handle, link: &Link, label: &str) -> Result<(), TopologyError> {
        nl_handle
            .link()
            .set(LinkUnspec::new_with_index(link.ifindex).up().build())
            .execute()
            .await
            .map_err(nl)
            .map_err(step(format!("bring `{}` up in {label}", link.name)))
    }

    /// An AF_INET datagram socket of the calling thread's namespace, for ioctls on its
    /// interfaces (netdevice(7): any socket of the namespace will do).
    fn ioctl_socket() -> io::Result<OwnedFd> {
        // SAFETY: a plain socket call; the descriptor is owned by the OwnedFd below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// One ethtool command on interface `name` of `sock`'s namespace (SIOCETHTOOL); returns
    /// the `data` the kernel leaves in the ethtool_value.
    fn ethtool(sock: &OwnedFd, name: &str, cmd: u32, data: u32) -> io::Result<u32> {
        let mut value = EthtoolValue { cmd, data };
        // SAFETY: ifreq is plain data; zeroed is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes().take(15)) {
            *dst = src as libc::c_char;
        }
        req.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
        // SAFETY: SIOCETHTOOL reads the command from, and writes its answer to, the
        // ethtool_value that ifr_data points to; `value` outlives the call.
        let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL as _, &mut req) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(value.data)
    }

    /// Turns GRO off on `name`, and TX checksum offload too where `tx_csum` (the hosts'
    /// ends: the relay copies frames, so a checksum left for hardware would never be
    /// filled in), and reads both back.
    fn offloads_off(
        sock: &OwnedFd,
        name: &str,
        label: &str,
        tx_csum: bool,
    ) -> Result<(), TopologyError> {
        let mut settings = vec![("GRO", ETHTOOL_SGRO, ETHTOOL_GGRO)];
        if tx_csum {
            settings.push(("TX checksum offload", ETHTOOL_STXCSUM, ETHTOOL_GTXCSUM));
        }
        for (what, set, get) in settings {
            ethtool(sock, name, set, 0)
                .map_err(step(format!("turn {what} off on `{name}` in {label}")))?;
            let now = ethtool(sock, name, get, 0)
                .map_err(step(format!("read {what} of `{name}` in {label}")))?;
            if now != 0 {
                return Err(TopologyError::ReadBack {
                    what: format!("{what} of `{name}` in {label}"),
                    wanted: "off".to_owned(),
                    got: "on".to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Writes 1 to /proc/sys/net/ipv6/conf/{conf}/disable_ipv6 for each of `confs`, in the
    /// calling thread's namespace, and reads each back.
    fn disable_ipv6(label: &str, confs: &[&str]) -> Result<(), TopologyError> {
        // A kernel built without IPv6 (Debian's user-mode Linux) has no such files and
        // no IPv6 traffic to keep out of the captures.
        if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
            return Ok(());
        }
        for conf in confs {
            let path = format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6");
            std::fs::write(&path, "1")
                .map_err(step(format!("disable IPv6 in {label} (write {path})")))?;
            let got = std::fs::read_to_string(&path)
                .map_err(step(format!("read {path} back in {label}")))?;
            if got.trim() != "1" {
                return Err(TopologyError::ReadBack {
                    what: format!("{path} in {label}"),
                    wanted: "1".to_owned(),
                    got: got.trim().to_owned(),
                });
            }
        }
        Ok(())
    }
}
