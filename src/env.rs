//! The machine a record was made on: OS, kernel, architecture and the TCP settings that
//! decide the outcomes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sys;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// `linux`, `macos`, `windows`, ... (Rust's `std::env::consts::OS`).
    pub os: String,
    /// `unix` or `windows`.
    pub family: String,
    /// The system's own name for its version (`Debian GNU/Linux 12 (bookworm)`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub os_version: Option<String>,
    /// Kernel name and release from uname (`Linux`, `6.18.44`).
    pub kernel: String,
    pub kernel_release: String,
    pub arch: String,
    pub cpus: usize,
    /// The TCP sysctls in force (on Linux, in this network namespace), plus any setting
    /// a profile or `--sysctl` changed, as read back inside the namespace.
    pub sysctls: BTreeMap<String, String>,
    pub tcplab_version: String,
    /// Present when the run happened in a fresh network namespace with settings of its
    /// own (`--profile`, `--sysctl`); absent for the machine's own settings.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub netns: Option<Netns>,
    /// Where the run happened: a clean room of its own or the machine's own namespace
    /// (absent in records made before rooms existed, and in `tcplab env` outside a run).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub room: Option<Room>,
    /// The loopback interface's MTU in the run's namespace (it decides the segment size
    /// and so the send buffer a connection is given).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lo_mtu: Option<u32>,
    /// The kernel's cached TCP metrics for 127.0.0.1 as the run started (`ip tcp_metrics
    /// show 127.0.0.1`): empty when there is no entry, as in a clean room; absent where it
    /// cannot be read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tcp_metrics: Option<BTreeMap<String, i64>>,
    /// Present when the run happened inside another kernel the lab booted (`run --kernel`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guest: Option<Guest>,
}

/// The congestion controls whose presence is a fact (`cc_bbr_available`): Linux's default
/// ones and the one this kind of machine uses.
const CONGESTION_CONTROLS: &[&str] = &["reno", "cubic", "bbr"];

/// The address whose metrics cache entry the record keeps: the lab's peers are on loopback.
const METRICS_PEER: std::net::Ipv4Addr = std::net::Ipv4Addr::LOCALHOST;

/// The send-buffer multiplier of a congestion control (its `sndbuf_expand` hook, used by
/// tcp_sndbuf_expand in net/ipv4/tcp_input.c): BBR's is 3; the other algorithms in Linux's
/// tree define none, and the kernel uses 2 (cubic needs about 1.7 for fast recovery).
pub fn sndbuf_expand(congestion: &str) -> i64 {
    const BBR_SNDBUF_EXPAND: i64 = 3;
    const DEFAULT_SNDBUF_EXPAND: i64 = 2;
    if congestion == "bbr" {
        BBR_SNDBUF_EXPAND
    } else {
        DEFAULT_SNDBUF_EXPAND
    }
}

/// What tcp_sndbuf_expand counts per segment for a path of this MTU: the true size of an
/// sk_buff whose head holds one full segment, `roundup_pow_of_two(mss + MAX_TCP_HEADER +
/// sizeof(skb_shared_info)) + sizeof(struct sk_buff)`.
///
/// The two struct sizes are constants of a kernel build (x86_64 Linux 6.x: MAX_TCP_HEADER
/// 320 and skb_shared_info 320 bytes, sk_buff 256 after alignment); only the power-of-two
/// bucket the sum falls in matters, so the figure holds for every build whose overheads
/// keep it there (131328 for loopback's 65536).
pub fn tcp_per_mss(mtu: u32) -> i64 {
    const IPV4_TCP_HEADERS: i64 = 40;
    const HEAD_OVERHEAD: i64 = 320 + 320;
    const SK_BUFF_TRUESIZE: i64 = 256;
    let mss = i64::from(mtu) - IPV4_TCP_HEADERS;
    ((mss + HEAD_OVERHEAD) as u64).next_power_of_two() as i64 + SK_BUFF_TRUESIZE
}

/// The kernel a guest run happened in, as the host saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Guest {
    /// `uml`: user-mode Linux, the kernel as a program on the host.
    pub kind: String,
    /// Where the kernel came from (`bookworm (user-mode-linux 6.1um4+b13)`).
    pub source: String,
    /// The host's kernel release, which ran the guest.
    pub host_kernel_release: String,
}

/// Where a run happened, as its record tells (made by `crate::room`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// `clean` (a fresh network namespace of the run's own) or `host` (the machine's own).
    pub kind: String,
    /// For a clean room, how it was made: `unshare(CLONE_NEWNET)` with the process's own
    /// privilege, or inside an unprivileged `user namespace`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub via: Option<String>,
    /// Why a run that asked for a clean room ran in the host's namespace instead.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fallback: Option<String>,
}

impl Room {
    /// `clean room (user namespace)`, `host namespace`, `host namespace (no clean room: ...)`.
    pub fn describe(&self) -> String {
        match (&self.via, &self.fallback) {
            (_, Some(why)) => format!("host namespace (no clean room: {why})"),
            (via, None) if self.kind == "wire" => format!(
                "hosts a and b on a wire, fresh namespaces A-W-B ({})",
                via.as_deref().unwrap_or("unshare(CLONE_NEWNET)")
            ),
            (Some(via), None) => format!("clean room ({via})"),
            (None, None) => format!("{} namespace", self.kind),
        }
    }

    /// A fresh namespace of the run's own: a clean room, or the hosts of a run on the wire.
    pub fn is_clean(&self) -> bool {
        self.kind == "clean" || self.kind == "wire"
    }
}

/// The settings a run was given in its own network namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Netns {
    /// The named profile (`tcplab profiles`), if one was used.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile: Option<String>,
    /// The sysctls written in the namespace, as asked for (the profile's, then `--sysctl`).
    pub set: BTreeMap<String, String>,
}

impl Environment {
    /// Reads this machine's environment.
    pub fn current() -> Environment {
        let (kernel, kernel_release) = sys::uname();
        Environment {
            os: std::env::consts::OS.to_owned(),
            family: std::env::consts::FAMILY.to_owned(),
            os_version: sys::os_version(),
            kernel,
            kernel_release,
            arch: std::env::consts::ARCH.to_owned(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            sysctls: sys::tcp_sysctls()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            tcplab_version: env!("CARGO_PKG_VERSION").to_owned(),
            netns: None,
            room: None,
            lo_mtu: sys::mtu("lo").ok(),
            tcp_metrics: sys::tcp_metrics(METRICS_PEER)
                .ok()
                .map(Option::unwrap_or_default),
            guest: None,
        }
    }

    /// The environment of a run, read from inside its room (call it on a thread in the
    /// room): the room's own settings, loopback MTU and metrics cache, the settings
    /// `netns` changed read back, and, for a global setting the room does not show, the
    /// host's value (it applies inside the room too).
    pub fn in_room(room: Room, netns: Option<Netns>, host: &Environment) -> Environment {
        let mut env = match netns {
            Some(n) => Environment::current_in(n, host),
            None => {
                let mut env = Environment::current();
                for (k, v) in &host.sysctls {
                    env.sysctls.entry(k.clone()).or_insert_with(|| v.clone());
                }
                env
            }
        };
        env.room = Some(room);
        env
    }

    /// This environment as seen inside a network namespace with `netns`'s settings (call
    /// it from inside the namespace): the settings it changed are read back here.
    ///
    /// `host` is the environment read before entering the namespace. A setting the host
    /// shows but the namespace does not is global (Linux hides global `net.*` settings in
    /// other namespaces, such as `net.core.rmem_max`); it applies inside the namespace too,
    /// so the host's value is kept.
    pub fn current_in(netns: Netns, host: &Environment) -> Environment {
        let mut env = Environment::current();
        for name in netns.set.keys() {
            if let Ok(v) = sys::read_sysctl(name) {
                env.sysctls.insert(name.clone(), v);
            }
        }
        for (k, v) in &host.sysctls {
            env.sysctls.entry(k.clone()).or_insert_with(|| v.clone());
        }
        env.netns = Some(netns);
        env
    }

    /// The facts expressions may name (`somaxconn`, `tcp_wmem_max`, ...), from the sysctls.
    pub fn facts(&self) -> BTreeMap<String, i64> {
        let mut facts = BTreeMap::new();
        if let Some(v) = kernel_version(&self.os, &self.kernel_release) {
            facts.insert(KERNEL_VERSION_FACT.to_owned(), v);
        }
        let one = |name: &str| {
            self.sysctls
                .get(name)
                .and_then(|v| v.split_whitespace().next()?.parse::<i64>().ok())
        };
        for (fact, sysctl) in [
            ("somaxconn", "net.core.somaxconn"),
            ("tcp_syn_retries", "net.ipv4.tcp_syn_retries"),
            (
                "tcp_syn_linear_timeouts",
                "net.ipv4.tcp_syn_linear_timeouts",
            ),
            ("tcp_syncookies", "net.ipv4.tcp_syncookies"),
            ("tcp_abort_on_overflow", "net.ipv4.tcp_abort_on_overflow"),
            ("wmem_max", "net.core.wmem_max"),
            ("rmem_max", "net.core.rmem_max"),
            ("tcp_keepalive_time", "net.ipv4.tcp_keepalive_time"),
            ("tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_intvl"),
            ("tcp_keepalive_probes", "net.ipv4.tcp_keepalive_probes"),
            ("tcp_reordering", "net.ipv4.tcp_reordering"),
            ("tcp_no_metrics_save", "net.ipv4.tcp_no_metrics_save"),
            ("tcp_moderate_rcvbuf", "net.ipv4.tcp_moderate_rcvbuf"),
            ("tcp_autocorking", "net.ipv4.tcp_autocorking"),
            (
                "tcp_slow_start_after_idle",
                "net.ipv4.tcp_slow_start_after_idle",
            ),
            ("tcp_timestamps", "net.ipv4.tcp_timestamps"),
            ("tcp_sack", "net.ipv4.tcp_sack"),
            ("tcp_window_scaling", "net.ipv4.tcp_window_scaling"),
            ("tcp_retries2", "net.ipv4.tcp_retries2"),
            ("tcp_fin_timeout", "net.ipv4.tcp_fin_timeout"),
            ("tcp_notsent_lowat", "net.ipv4.tcp_notsent_lowat"),
            ("wmem_default", "net.core.wmem_default"),
            ("rmem_default", "net.core.rmem_default"),
        ] {
            if let Some(v) = one(sysctl) {
                facts.insert(fact.to_owned(), v);
            }
        }
        // macOS and FreeBSD: the same limit under its BSD name.
        if let (false, Some(v)) = (facts.contains_key("somaxconn"), one("kern.ipc.somaxconn")) {
            facts.insert("somaxconn".to_owned(), v);
        }
        for (prefix, sysctl) in [
            ("tcp_wmem", "net.ipv4.tcp_wmem"),
            ("tcp_rmem", "net.ipv4.tcp_rmem"),
        ] {
            let Some(v) = self.sysctls.get(sysctl) else {
                continue;
            };
            let parts: Vec<i64> = v
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if let [min, default, max] = parts[..] {
                facts.insert(format!("{prefix}_min"), min);
                facts.insert(format!("{prefix}_default"), default);
                facts.insert(format!("{prefix}_max"), max);
            }
        }
        if let Some(cc) = self.sysctls.get("net.ipv4.tcp_congestion_control") {
            facts.insert("cc_sndbuf_expand".to_owned(), sndbuf_expand(cc));
        }
        // Which of the usual algorithms the kernel has (built in or loaded): 1 or 0.
        if let Some(list) = self
            .sysctls
            .get("net.ipv4.tcp_available_congestion_control")
        {
            for cc in CONGESTION_CONTROLS {
                let there = list.split_whitespace().any(|a| a == *cc);
                facts.insert(format!("cc_{cc}_available"), i64::from(there));
            }
        }
        if let Some(mtu) = self.lo_mtu {
            facts.insert("lo_mtu".to_owned(), i64::from(mtu));
            facts.insert("tcp_per_mss".to_owned(), tcp_per_mss(mtu));
        }
        if let Some(r) = &self.room {
            facts.insert(
                crate::scenario::CLEAN_ROOM.to_owned(),
                i64::from(r.is_clean()),
            );
        }
        // The metrics cache entry as the run started; 0 where it holds none.
        if let Some(m) = &self.tcp_metrics {
            for name in ["reordering", "cwnd", "ssthresh"] {
                facts.insert(format!("metrics_{name}"), m.get(name).copied().unwrap_or(0));
            }
        }
        facts
    }

    /// One line: `linux 6.18.44 x86_64 (Debian GNU/Linux 12 (bookworm))`, with the
    /// namespace's profile or settings when there are any.
    pub fn summary(&self) -> String {
        let mut s = format!("{} {} {}", self.os, self.kernel_release, self.arch);
        if let Some(v) = &self.os_version {
            s.push_str(&format!(" ({v})"));
        }
        if let Some(n) = &self.netns {
            s.push_str(&format!(", {}", n.describe()));
        }
        if let Some(r) = &self.room {
            s.push_str(&format!(", {}", r.describe()));
        }
        s
    }
}

/// The fact that holds the Linux kernel's version, for `kernel = "..."` ranges.
pub const KERNEL_VERSION_FACT: &str = "kernel_version";

/// `6.1.176-um` -> (6, 1, 176); `7.2` -> (7, 2, 0).
pub fn parse_release(release: &str) -> Option<(u32, u32, u32)> {
    let digits: Vec<u32> = release
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map_while(|p| p.parse().ok())
        .collect();
    match digits[..] {
        [a, b, c] => Some((a, b, c)),
        [a, b] => Some((a, b, 0)),
        _ => None,
    }
}

/// A Linux release as one integer that orders like the version:
/// major * 1_000_000 + minor * 1_000 + patch (`6.1.176` is 6_001_176). Other systems'
/// kernels have versions of another kind: `None`.
pub fn kernel_version(os: &str, release: &str) -> Option<i64> {
    if os != "linux" {
        return None;
    }
    let (a, b, c) = parse_release(release)?;
    Some(i64::from(a) * 1_000_000 + i64::from(b) * 1_000 + i64::from(c))
}

impl Netns {
    /// `netns profile abort-on-overflow (net.ipv4.tcp_abort_on_overflow=1)`.
    pub fn describe(&self) -> String {
        let set: Vec<String> = self.set.iter().map(|(k, v)| format!("{k}={v}")).collect();
        match &self.profile {
            Some(p) => format!("netns profile {p} ({})", set.join(", ")),
            None => format!("netns with {}", set.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_the_environment_gives_is_one_scenarios_may_name() {
        let env = Environment::current();
        for name in env.facts().keys() {
            assert!(
                crate::scenario::FACTS.contains(&name.as_str()),
                "fact `{name}` is missing from scenario::FACTS"
            );
        }
    }

    #[test]
    fn a_loopback_segment_costs_131328_bytes_and_an_ethernet_one_4352() {
        assert_eq!(tcp_per_mss(65536), 131328);
        assert_eq!(tcp_per_mss(1500), 4352);
    }

    #[test]
    fn only_bbr_asks_for_a_threefold_send_buffer() {
        assert_eq!(sndbuf_expand("bbr"), 3);
        assert_eq!(sndbuf_expand("cubic"), 2);
        assert_eq!(sndbuf_expand("reno"), 2);
    }
}
