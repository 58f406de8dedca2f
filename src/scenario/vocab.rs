//! The scenario vocabulary that is not a step: engines, operating systems, the facts an
//! expression may name and the kernel counter groups an observation may read.
//!
//! These names are part of the file format (`[expect.linux.tokio]`, `when = "clean_room"`),
//! so they live here and the layers below the scenario take them from here.

/// Which engine runs the steps: part of the scenario vocabulary (`[expect.linux.tokio]`,
/// `--engine`), so the engine layer takes the names from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// Blocking std sockets, one OS thread per actor.
    Std,
    /// Non-blocking tokio sockets, one task per actor on a current-thread runtime.
    Tokio,
}

impl Engine {
    /// Every engine, in the order reports show them.
    pub const ALL: [Engine; 2] = [Engine::Std, Engine::Tokio];

    /// The name records, scenario files (`[expect.linux.tokio]`) and `--engine` use.
    pub const fn name(self) -> &'static str {
        match self {
            Engine::Std => "std",
            Engine::Tokio => "tokio",
        }
    }

    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// The engine names, for messages and suggestions (from [`Engine::ALL`]).
pub const ENGINE_NAMES: [&str; Engine::ALL.len()] = {
    let mut names = [""; Engine::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Engine::ALL[i].name();
        i += 1;
    }
    names
};

/// The environment facts an expression may name, besides the parameters.
///
/// `somaxconn` and the `tcp_*` names come from the kernel's settings (Linux sysctls); an
/// expression naming one on a system that does not report it cannot be evaluated there.
pub const FACTS: &[&str] = &[
    "somaxconn",
    "tcp_syn_retries",
    "tcp_syn_linear_timeouts",
    "tcp_syncookies",
    "tcp_abort_on_overflow",
    "tcp_wmem_min",
    "tcp_wmem_default",
    "tcp_wmem_max",
    "tcp_rmem_min",
    "tcp_rmem_default",
    "tcp_rmem_max",
    "wmem_max",
    "rmem_max",
    "tcp_keepalive_time",
    "tcp_keepalive_intvl",
    "tcp_keepalive_probes",
    "tcp_reordering",
    "tcp_no_metrics_save",
    "tcp_moderate_rcvbuf",
    "tcp_autocorking",
    "tcp_slow_start_after_idle",
    "tcp_timestamps",
    "tcp_sack",
    "tcp_window_scaling",
    "tcp_retries2",
    "tcp_fin_timeout",
    "tcp_notsent_lowat",
    "wmem_default",
    "rmem_default",
    // The congestion control's send-buffer multiplier (bbr 3, others 2; tcp_sndbuf_expand).
    "cc_sndbuf_expand",
    // 1 when the kernel has that congestion control (tcp_available_congestion_control).
    "cc_reno_available",
    "cc_cubic_available",
    "cc_bbr_available",
    // The loopback MTU, and what one segment of it costs in a send buffer.
    "lo_mtu",
    "tcp_per_mss",
    // The metrics cache entry for 127.0.0.1 as the run started; 0 where there is none.
    "metrics_reordering",
    "metrics_cwnd",
    "metrics_ssthresh",
    // The kernel's release as one number, major x 1000000 + minor x 1000 + patch (6.18.44:
    // 6018044), which [[expect.<os>.kernels]] ranges are decided by (env::KERNEL_VERSION_FACT).
    "kernel_version",
    // 1 when the run happened in a clean room of its own, 0 in the host's namespace.
    CLEAN_ROOM,
];

/// The fact that says a run had a clean room: `when = "clean_room"` limits an expectation
/// to such runs (a counter then counts only the scenario's own traffic).
pub const CLEAN_ROOM: &str = "clean_room";

/// The name an actor's steps use for their instance number (0 for a single actor).
pub const INDEX: &str = "index";

/// The operating systems an expectation can be written for (`std::env::consts::OS`).
pub const OSES: &[&str] = &[
    "linux", "macos", "windows", "freebsd", "openbsd", "netbsd", "illumos",
];

/// The groups of kernel counters an observation may name (Linux's /proc/net/netstat and
/// /proc/net/snmp).
pub const COUNTER_GROUPS: &[&str] = &[
    "TcpExt", "IpExt", "MPTcpExt", "Tcp", "Ip", "Icmp", "IcmpMsg", "Udp", "UdpLite",
];

/// Every errno name of the systems in [`OSES`] (their errno.h, as the libc crate spells
/// them): an outcome may name any of them, whichever system validates the file. One that
/// this system does not report is a warning, not an error (see `host.rs`).
pub const ERRNO_NAMES: &[&str] = &[
    "E2BIG",
    "EACCES",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "EADI",
    "EADV",
    "EAFNOSUPPORT",
    "EAGAIN",
    "EALREADY",
    "EAUTH",
    "EBADARCH",
    "EBADE",
    "EBADEXEC",
    "EBADF",
    "EBADFD",
    "EBADMACHO",
    "EBADMSG",
    "EBADR",
    "EBADRPC",
    "EBADRQC",
    "EBADSLT",
    "EBFONT",
    "EBUSY",
    "ECANCELED",
    "ECAPMODE",
    "ECHILD",
    "ECHRNG",
    "ECOMM",
    "ECONNABORTED",
    "ECONNREFUSED",
    "ECONNRESET",
    "EDEADLK",
    "EDEADLOCK",
    "EDESTADDRREQ",
    "EDEVERR",
    "EDOM",
    "EDOOFUS",
    "EDOTDOT",
    "EDQUOT",
    "EEXIST",
    "EFAULT",
    "EFBIG",
    "EFTYPE",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EHWPOISON",
    "EIDRM",
    "EILSEQ",
    "EINPROGRESS",
    "EINTEGRITY",
    "EINTR",
    "EINVAL",
    "EIO",
    "EIPSEC",
    "EISCONN",
    "EISDIR",
    "EISNAM",
    "EKEYEXPIRED",
    "EKEYREJECTED",
    "EKEYREVOKED",
    "EL2HLT",
    "EL2NSYNC",
    "EL3HLT",
    "EL3RST",
    "ELIBACC",
    "ELIBBAD",
    "ELIBEXEC",
    "ELIBMAX",
    "ELIBSCN",
    "ELNRNG",
    "ELOCKUNMAPPED",
    "ELOOP",
    "EMEDIUMTYPE",
    "EMFILE",
    "EMLINK",
    "EMSGSIZE",
    "EMULTIHOP",
    "ENAMETOOLONG",
    "ENAVAIL",
    "ENEEDAUTH",
    "ENETDOWN",
    "ENETRESET",
    "ENETUNREACH",
    "ENFILE",
    "ENOANO",
    "ENOATTR",
    "ENOBUFS",
    "ENOCSI",
    "ENODATA",
    "ENODEV",
    "ENOENT",
    "ENOEXEC",
    "ENOKEY",
    "ENOLCK",
    "ENOLINK",
    "ENOMEDIUM",
    "ENOMEM",
    "ENOMSG",
    "ENONET",
    "ENOPKG",
    "ENOPOLICY",
    "ENOPROTOOPT",
    "ENOSPC",
    "ENOSR",
    "ENOSTR",
    "ENOSYS",
    "ENOTACTIVE",
    "ENOTBLK",
    "ENOTCAPABLE",
    "ENOTCONN",
    "ENOTDIR",
    "ENOTEMPTY",
    "ENOTNAM",
    "ENOTRECOVERABLE",
    "ENOTSOCK",
    "ENOTSUP",
    "ENOTTY",
    "ENOTUNIQ",
    "ENXIO",
    "EOPNOTSUPP",
    "EOVERFLOW",
    "EOWNERDEAD",
    "EPERM",
    "EPFNOSUPPORT",
    "EPIPE",
    "EPROCLIM",
    "EPROCUNAVAIL",
    "EPROGMISMATCH",
    "EPROGUNAVAIL",
    "EPROTO",
    "EPROTONOSUPPORT",
    "EPROTOTYPE",
    "EPWROFF",
    "EQFULL",
    "ERANGE",
    "EREMCHG",
    "EREMOTE",
    "EREMOTEIO",
    "ERESTART",
    "ERFKILL",
    "EROFS",
    "ERPCMISMATCH",
    "ESHLIBVERS",
    "ESHUTDOWN",
    "ESOCKTNOSUPPORT",
    "ESPIPE",
    "ESRCH",
    "ESRMNT",
    "ESTALE",
    "ESTRPIPE",
    "ETIME",
    "ETIMEDOUT",
    "ETOOMANYREFS",
    "ETXTBSY",
    "EUCLEAN",
    "EUNATCH",
    "EUSERS",
    "EWOULDBLOCK",
    "EXDEV",
    "EXFULL",
];

/// Checks a counter name's form: `Group.Name` with a known group. Whether this kernel
/// has it is a warning (`host::counter_warning`), not an error.
pub(super) fn check_counter(name: &str) -> Result<(), String> {
    let form_ok = name.split_once('.').is_some_and(|(g, n)| {
        COUNTER_GROUPS.contains(&g) && !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if !form_ok {
        return Err(format!(
            "`{name}` is not a counter name: write Group.Name with a group of {} (`TcpExt.ListenOverflows`)",
            COUNTER_GROUPS.join(", ")
        ));
    }
    Ok(())
}
