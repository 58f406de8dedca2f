//! The kernel's own settings: one read or written by its sysctl name, and the TCP
//! settings every record carries.
//!
//! On Linux they are files under /proc/sys; on macOS and FreeBSD the record's settings are
//! read with sysctlbyname(3).

use std::io;

/// The path of a sysctl under /proc/sys (`net.core.somaxconn` -> `net/core/somaxconn`).
fn sysctl_path(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

/// One kernel setting by its sysctl name, with runs of whitespace made single spaces.
///
/// # Notes
/// On Linux this reads /proc/sys, which shows the network namespace of the calling thread
/// for `net.*`. macOS and FreeBSD have sysctl(3) instead, not read yet: NotFound.
pub fn read_sysctl(name: &str) -> io::Result<String> {
    let value = std::fs::read_to_string(sysctl_path(name))?;
    Ok(value.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Why a setting could not be written: opening its /proc/sys file failed (absent, or
/// read-only in this namespace) or the kernel refused the value.
#[derive(Debug)]
pub enum SysctlError {
    Open(io::Error),
    Write(io::Error),
}

/// Writes one kernel setting by its sysctl name (Linux: /proc/sys).
///
/// # Notes
/// In a network namespace other than the first, Linux shows only the per-namespace `net.*`
/// settings (others are absent: NotFound on open) and makes the global ones it shows
/// read-only (EACCES on open): a write here cannot change the host's settings. A value the
/// setting does not take fails on write (tcp_congestion_control: EPERM for an algorithm
/// the namespace may not choose, ENOENT for one the kernel lacks).
pub fn write_sysctl(name: &str, value: &str) -> Result<(), SysctlError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(sysctl_path(name))
        .map_err(SysctlError::Open)?;
    f.write_all(value.as_bytes()).map_err(SysctlError::Write)
}

/// The TCP settings that decide the lab's outcomes, read from /proc/sys.
///
/// # Notes
/// On Linux these are per network namespace. On macOS and FreeBSD the equivalents live
/// under sysctl(3) (`kern.ipc.somaxconn`, ...) and are not read yet: the list is empty.
pub fn tcp_sysctls() -> Vec<(&'static str, String)> {
    const NAMES: &[&str] = &[
        "net.core.somaxconn",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.tcp_abort_on_overflow",
        "net.ipv4.tcp_syn_retries",
        // Linux 6.5+: how many SYN retransmissions wait a fixed initial RTO (1 s) before
        // the doubling starts (absent on older kernels).
        "net.ipv4.tcp_syn_linear_timeouts",
        "net.core.wmem_max",
        "net.core.rmem_max",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        // What decides a fresh connection's send buffer and how it grows
        // (tcp_sndbuf_expand): the congestion control, the reordering estimate it starts
        // from, whether the metrics cache is kept, buffer autotuning.
        "net.ipv4.tcp_congestion_control",
        "net.ipv4.tcp_allowed_congestion_control",
        "net.ipv4.tcp_available_congestion_control",
        "net.ipv4.tcp_reordering",
        "net.ipv4.tcp_no_metrics_save",
        "net.ipv4.tcp_moderate_rcvbuf",
        "net.core.wmem_default",
        "net.core.rmem_default",
        // How segments are formed and sent.
        "net.ipv4.tcp_autocorking",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_timestamps",
        "net.ipv4.tcp_sack",
        "net.ipv4.tcp_window_scaling",
        "net.ipv4.tcp_notsent_lowat",
        // How long the kernel persists.
        "net.ipv4.tcp_retries2",
        "net.ipv4.tcp_fin_timeout",
    ];
    let mut found: Vec<(&'static str, String)> = NAMES
        .iter()
        .filter_map(|name| {
            let path = format!("/proc/sys/{}", name.replace('.', "/"));
            let value = std::fs::read_to_string(path).ok()?;
            Some((
                *name,
                value.split_whitespace().collect::<Vec<_>>().join(" "),
            ))
        })
        .collect();
    found.extend(bsd_sysctls());
    found
}

/// The BSD settings behind the same questions: the accept-queue limit and the socket
/// buffer sizes and limits, read with sysctlbyname(3).
///
/// # Notes
/// On macOS and FreeBSD `kern.ipc.somaxconn` caps the listen(2) backlog (FreeBSD also
/// calls it `kern.ipc.soacceptqueue`); `net.inet.tcp.sendspace`/`recvspace` are the
/// default buffer sizes and the `*buf_auto`/`*buf_max` pair the autotuning switch and
/// limit. Every one is an integer. See sysctl(3) and tcp(4).
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
fn bsd_sysctls() -> Vec<(&'static str, String)> {
    const NAMES: &[&str] = &[
        "kern.ipc.somaxconn",
        "kern.ipc.maxsockbuf",
        "net.inet.tcp.sendspace",
        "net.inet.tcp.recvspace",
        "net.inet.tcp.sendbuf_auto",
        "net.inet.tcp.recvbuf_auto",
        "net.inet.tcp.sendbuf_max",
        "net.inet.tcp.recvbuf_max",
    ];
    NAMES
        .iter()
        .filter_map(|name| {
            let cname = std::ffi::CString::new(*name).ok()?;
            let mut buf = [0u8; 8];
            let mut len = buf.len();
            // SAFETY: the buffer and its length describe writable memory of that size;
            // a null new value reads without writing.
            let rc = unsafe {
                libc::sysctlbyname(
                    cname.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    &mut len,
                    std::ptr::null_mut(),
                    0,
                )
            };
            if rc != 0 {
                return None;
            }
            let value = match len {
                4 => i64::from(i32::from_ne_bytes(buf[..4].try_into().ok()?)),
                8 => i64::from_ne_bytes(buf),
                _ => return None,
            };
            Some((*name, value.to_string()))
        })
        .collect()
}

/// Other Unix systems: no BSD settings to read.
#[cfg(not(any(target_os = "macos", target_os = "freebsd")))]
fn bsd_sysctls() -> Vec<(&'static str, String)> {
    Vec::new()
}
