//! Linux pieces of the clean rooms: user and network namespaces, the loopback MTU, the
//! kernel's per-destination TCP metrics cache (generic netlink), TCP_INFO fields and the
//! congestion control of a socket.
//!
//! Included by `unix/mod.rs` on Linux only; the functions are re-exported from there with
//! answers of `Unsupported` / `None` on other systems.

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use socket2::Socket;

/// CAP_SYS_ADMIN's bit in the capability sets (include/uapi/linux/capability.h).
const CAP_SYS_ADMIN: u32 = 21;

/// Whether the calling thread holds CAP_SYS_ADMIN in its user namespace (CapEff of
/// /proc/thread-self/status): what unshare(CLONE_NEWNET) and setns(2) need.
pub fn can_make_namespaces() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/thread-self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0)
}

/// Moves the whole process into a new user namespace in which the caller's uid and gid
/// are mapped to root (as `unshare -r` does), so that it may create network namespaces
/// and write their settings without being root on the host.
///
/// The process must be single-threaded (the kernel answers EINVAL otherwise). The new
/// namespace's root owns nothing on the host: files the process writes are still the
/// user's, and the host's network namespace stays read-only to it.
///
/// # Notes
/// setgroups must be denied before an unprivileged process may write gid_map
/// (user_namespaces(7)). Some systems forbid unprivileged user namespaces
/// (kernel.unprivileged_userns_clone=0, Ubuntu's
/// kernel.apparmor_restrict_unprivileged_userns=1, user.max_user_namespaces=0): EPERM or
/// ENOSPC.
pub fn enter_user_namespace() -> io::Result<()> {
    // SAFETY: plain calls without pointers.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: unshare takes a flag word; the kernel checks the process is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(io::Error::last_os_error());
    }
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(())
}

/// The MTU of interface `name` in the calling thread's network namespace (SIOCGIFMTU;
/// netdevice(7)). Unlike /sys/class/net, the ioctl answers for the thread's namespace.
pub fn mtu(name: &str) -> io::Result<u32> {
    // SAFETY: a plain socket call; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes().take(15)) {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFMTU fills ifru_mtu of the ifreq we pass.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFMTU as _, &mut req) };
    let err = io::Error::last_os_error();
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return Err(err);
    }
    // SAFETY: the kernel just wrote ifru_mtu.
    Ok(unsafe { req.ifr_ifru.ifru_mtu } as u32)
}

// ---- generic netlink: the tcp_metrics family -----------------------------------------
// Constants from include/uapi/linux/netlink.h, genetlink.h and tcp_metrics.h.

const NETLINK_GENERIC: i32 = 16;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const TCP_METRICS_CMD_GET: u8 = 1;
const TCP_METRICS_GENL_VERSION: u8 = 1;
const TCP_METRICS_ATTR_ADDR_IPV4: u16 = 1;
const TCP_METRICS_ATTR_AGE: u16 = 3;
const TCP_METRICS_ATTR_VALS: u16 = 6;
/// The nested values are typed `TCP_METRIC_*` + 1, in this order (enum tcp_metric_index).
const TCP_METRIC_NAMES: &[&str] = &[
    "rtt_ms",
    "rttvar_ms",
    "ssthresh",
    "cwnd",
    "reordering",
    "rtt_us",
    "rttvar_us",
];

/// A netlink socket of the generic family, closed on drop.
struct Genl(i32);

impl Drop for Genl {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity((len + 3) & !3);
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize((len + 3) & !3, 0);
    out
}

/// The attributes of a buffer, as (type, payload) pairs.
fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((kind, &buf[4..len]));
        buf = &buf[((len + 3) & !3).min(buf.len())..];
    }
    out
}

impl Genl {
    fn open() -> io::Result<Genl> {
        // SAFETY: a plain socket call.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let s = Genl(fd);
        // A bound on every answer: the kernel replies at once, so this only matters if
        // something is badly wrong.
        let tv = libc::timeval {
            tv_sec: 2,
            tv_usec: 0,
        };
        // SAFETY: a valid timeval and its size.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        Ok(s)
    }

    /// Sends one request and returns the attributes of its one answer; a netlink error
    /// answer becomes that errno.
    fn ask(&self, family: u16, cmd: u8, version: u8, body: &[u8]) -> io::Result<Vec<u8>> {
        let len = 16 + 4 + body.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&family.to_ne_bytes());
        msg.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
        msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        msg.extend_from_slice(&[cmd, version, 0, 0]);
        msg.extend_from_slice(body);
        // SAFETY: the buffer and its length.
        if unsafe { libc::send(self.0, msg.as_ptr().cast(), msg.len(), 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; 16 * 1024];
        // SAFETY: the buffer and its length.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let buf = &buf[..n as usize];
        if buf.len() < 16 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "short netlink answer",
            ));
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        if kind == NLMSG_ERROR {
            let code = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
            return Err(io::Error::from_raw_os_error(-code));
        }
        let total = (u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize).min(buf.len());
        Ok(buf.get(20..total).unwrap_or_default().to_vec())
    }
}

/// The kernel's cached TCP metrics for destination `addr` in the calling thread's network
/// namespace, as `ip tcp_metrics show ADDR` prints them: `Ok(None)` when it holds no entry.
///
/// # Notes
/// Linux keeps these per destination (net/ipv4/tcp_metrics.c) when a connection ends,
/// unless net.ipv4.tcp_no_metrics_save is 1, and a new connection to the same address
/// starts from them: its initial `reordering` and `ssthresh` come from here, which moves
/// the send buffer a fresh connection is given (tcp_sndbuf_expand). `age_ms` is how old
/// the entry is. Read with generic netlink (the `tcp_metrics` family, TCP_METRICS_CMD_GET).
pub fn tcp_metrics(addr: Ipv4Addr) -> io::Result<Option<BTreeMap<String, i64>>> {
    let nl = Genl::open()?;
    let answer = nl.ask(
        GENL_ID_CTRL,
        CTRL_CMD_GETFAMILY,
        1,
        &attr(CTRL_ATTR_FAMILY_NAME, b"tcp_metrics\0"),
    )?;
    let family = attrs(&answer)
        .into_iter()
        .find(|(k, _)| *k == CTRL_ATTR_FAMILY_ID)
        .and_then(|(_, v)| Some(u16::from_ne_bytes(v.get(..2)?.try_into().ok()?)))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no tcp_metrics family id"))?;
    let answer = match nl.ask(
        family,
        TCP_METRICS_CMD_GET,
        TCP_METRICS_GENL_VERSION,
        &attr(TCP_METRICS_ATTR_ADDR_IPV4, &addr.octets()),
    ) {
        Ok(a) => a,
        // No entry for this address.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ESRCH) | Some(libc::ENOENT)) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let mut out = BTreeMap::new();
    for (kind, payload) in attrs(&answer) {
        match kind {
            TCP_METRICS_ATTR_AGE => {
                if let Some(b) = payload.get(..8) {
                    out.insert(
                        "age_ms".to_owned(),
                        u64::from_ne_bytes(b.try_into().unwrap()) as i64,
                    );
                }
            }
            TCP_METRICS_ATTR_VALS => {
                for (k, v) in attrs(payload) {
                    let (Some(name), Some(b)) = (
                        TCP_METRIC_NAMES.get(usize::from(k).wrapping_sub(1)),
                        v.get(..4),
                    ) else {
                        continue;
                    };
                    out.insert(
                        (*name).to_owned(),
                        i64::from(u32::from_ne_bytes(b.try_into().unwrap())),
                    );
                }
            }
            _ => {}
        }
    }
    Ok(Some(out))
}

// ---- TCP_INFO fields and TCP_CONGESTION -----------------------------------------------

/// getsockopt(TCP_INFO): the kernel's struct tcp_info for a socket (tcp(7)).
pub fn tcp_info(socket: &Socket) -> io::Result<libc::tcp_info> {
    // SAFETY: tcp_info is plain data; getsockopt writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: a valid pointer and its length.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info)
}

/// One field of getsockopt(TCP_INFO) by its tcp_info name without the `tcpi_` prefix.
pub fn tcp_info_field(socket: &Socket, field: &str) -> io::Result<i64> {
    let info = tcp_info(socket)?;
    Ok(i64::from(match field {
        "snd_cwnd" => info.tcpi_snd_cwnd,
        "reordering" => info.tcpi_reordering,
        "snd_mss" => info.tcpi_snd_mss,
        "rcv_mss" => info.tcpi_rcv_mss,
        "snd_ssthresh" => info.tcpi_snd_ssthresh,
        "total_retrans" => info.tcpi_total_retrans,
        "rtt_us" => info.tcpi_rtt,
        "retransmits" => u32::from(info.tcpi_retransmits),
        "probes" => u32::from(info.tcpi_probes),
        "rto" => info.tcpi_rto,
        "unacked" => info.tcpi_unacked,
        _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
    }))
}

/// The congestion control algorithm of a socket (getsockopt TCP_CONGESTION).
pub fn congestion(socket: &Socket) -> io::Result<String> {
    let mut buf = [0u8; 16];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: the buffer and its length.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let name = &buf[..(len as usize).min(buf.len())];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(String::from_utf8_lossy(&name[..end]).into_owned())
}

/// Sets the congestion control algorithm of a socket (setsockopt TCP_CONGESTION).
///
/// # Notes
/// Linux lets a socket pick any algorithm in net.ipv4.tcp_allowed_congestion_control;
/// others that are loaded (tcp_available_congestion_control) need CAP_NET_ADMIN in the
/// namespace's user namespace (EPERM otherwise), and unknown names give ENOENT (tcp(7)).
pub fn set_congestion(socket: &Socket, name: &str) -> io::Result<()> {
    // SAFETY: the name's bytes and their length.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
