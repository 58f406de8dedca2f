//! Kernel evidence: the TCP state of a socket or of a connection in the kernel's table,
//! and the SNMP counters of the namespace.
//!
//! The Linux-only parts are behind cfg(target_os = "linux") and answer `None` (absent)
//! elsewhere, so that other systems report nothing rather than something made up.

use socket2::Socket;

/// The RFC 9293 name of a Linux TCP state number (include/net/tcp_states.h).
///
/// # Notes
/// Linux's TCP_NEW_SYN_RECV (12) is a request socket, reported as SYN-RECEIVED like
/// TCP_SYN_RECV; TCP_CLOSE is the RFC's CLOSED.
#[cfg(target_os = "linux")]
// The numbering is Linux's own.
fn linux_state_name(n: u8) -> Option<&'static str> {
    Some(match n {
        1 => "ESTABLISHED",
        2 => "SYN-SENT",
        3 | 12 => "SYN-RECEIVED",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "CLOSED",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => return None,
    })
}

/// The TCP state of an open socket, with its RFC name (`ESTABLISHED`, `FIN-WAIT-2`).
///
/// # Notes
/// On Linux this is `tcpi_state` of getsockopt(TCP_INFO) (tcp(7)). macOS has
/// TCP_CONNECTION_INFO and FreeBSD its own TCP_INFO; neither is read yet, so those
/// systems answer `None`.
pub fn tcp_state(socket: &Socket) -> Option<&'static str> {
    #[cfg(target_os = "linux")]
    // struct tcp_info and its first byte, tcpi_state, are Linux's.
    {
        let info = super::room::tcp_info(socket).ok()?;
        linux_state_name(info.tcpi_state)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// What the kernel's connection table says about the connection `local` -> `peer`
/// (`peer` 0.0.0.0:0 for a listener): `Some(Some(state))`, `Some(None)` when it holds no
/// entry (the connection is gone), `None` when the table cannot be read.
///
/// # Notes
/// On Linux the table is /proc/thread-self/net/tcp (proc(5)): the calling thread's
/// network namespace, which is the one its sockets live in even when the process has
/// threads in other namespaces (/proc/net is the thread-group leader's). It lists
/// TIME-WAIT entries, which no descriptor refers to any more. Other systems answer
/// `None`.
pub fn tcp_state_in_table(
    local: std::net::SocketAddr,
    peer: std::net::SocketAddr,
) -> Option<Option<&'static str>> {
    #[cfg(target_os = "linux")]
    // /proc/<pid>/net/tcp is Linux's.
    {
        use std::net::{IpAddr, Ipv4Addr, SocketAddr};
        let text = std::fs::read_to_string("/proc/thread-self/net/tcp").ok()?;
        // `0100007F:1F90`: the address as the kernel's u32 in this machine's byte order,
        // the port in hex.
        let parse = |field: &str| -> Option<SocketAddr> {
            let (ip, port) = field.split_once(':')?;
            let ip = u32::from_str_radix(ip, 16).ok()?;
            let port = u16::from_str_radix(port, 16).ok()?;
            Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from(ip.to_ne_bytes())),
                port,
            ))
        };
        for line in text.lines().skip(1) {
            let mut f = line.split_whitespace().skip(1);
            let (Some(l), Some(p), Some(st)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if parse(l) == Some(local) && parse(p) == Some(peer) {
                let n = u8::from_str_radix(st, 16).ok()?;
                return Some(linux_state_name(n));
            }
        }
        Some(None)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (local, peer);
        None
    }
}

/// The SNMP and extended TCP/IP counters of this network namespace, as `Group.Name`
/// (`TcpExt.ListenOverflows`, `Tcp.OutRsts`), or `None` where they cannot be read.
///
/// # Notes
/// On Linux they come from /proc/thread-self/net/netstat and /proc/thread-self/net/snmp
/// (the calling thread's namespace; see the kernel's Documentation/networking/
/// snmp_counter.rst). They count for the whole namespace: other traffic moves them too.
/// macOS and FreeBSD keep similar statistics behind sysctl(3) (`net.inet.tcp.stats`),
/// not read yet: `None`.
pub fn net_counters() -> Option<std::collections::BTreeMap<String, i64>> {
    #[cfg(target_os = "linux")]
    // The /proc/net/{netstat,snmp} layout is Linux's: a header line of names and a line
    // of values per group.
    {
        let mut out = std::collections::BTreeMap::new();
        for file in [
            "/proc/thread-self/net/netstat",
            "/proc/thread-self/net/snmp",
        ] {
            let text = std::fs::read_to_string(file).ok()?;
            let lines: Vec<&str> = text.lines().collect();
            for pair in lines.chunks(2) {
                let [names, values] = pair else { continue };
                let (Some((group, names)), Some((_, values))) =
                    (names.split_once(':'), values.split_once(':'))
                else {
                    continue;
                };
                for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
                    if let Ok(v) = v.parse::<i64>() {
                        out.insert(format!("{group}.{n}"), v);
                    }
                }
            }
        }
        Some(out)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
