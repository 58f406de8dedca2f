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
    /// Present when the run happened inside another kernel the lab booted (`run --kernel`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guest: Option<Guest>,
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
            guest: None,
        }
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
            ("tcp_syncookies", "net.ipv4.tcp_syncookies"),
            ("tcp_abort_on_overflow", "net.ipv4.tcp_abort_on_overflow"),
            ("wmem_max", "net.core.wmem_max"),
            ("rmem_max", "net.core.rmem_max"),
            ("tcp_keepalive_time", "net.ipv4.tcp_keepalive_time"),
            ("tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_intvl"),
            ("tcp_keepalive_probes", "net.ipv4.tcp_keepalive_probes"),
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
        s
    }
}

/// The fact that holds the Linux kernel's version, for `kernel = "..."` ranges.
pub const KERNEL_VERSION_FACT: &str = "kernel_version";

/// A Linux release as one integer that orders like the version:
/// major * 1_000_000 + minor * 1_000 + patch (`6.1.176` is 6_001_176). Other systems'
/// kernels have versions of another kind: `None`.
pub fn kernel_version(os: &str, release: &str) -> Option<i64> {
    if os != "linux" {
        return None;
    }
    let (a, b, c) = crate::uml::parse_release(release)?;
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
