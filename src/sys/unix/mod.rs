//! Unix (Linux, macOS, FreeBSD) specific pieces, one file per concern: errno names,
//! descriptors, poll, socket options, thread states, namespaces and the kernel's own
//! settings and evidence.
//!
//! Everything in this folder is reached through the OS-neutral functions it exports
//! (re-exported here, so callers name them `crate::sys::...`); no other module names a
//! libc call.

mod child;
mod evidence;
mod host;
mod netns;
mod poll;
mod sockopt;
mod stale;
mod sysctl;
mod thread;

pub use child::{write_in_child, ChildEnd};
pub use evidence::{net_counters, tcp_state, tcp_state_in_table};
pub use host::{os_version, uname};
pub use netns::{loopback_up, unshare_netns};
pub use poll::{poll, POLLERR, POLLHUP, POLLIN, POLLOUT, POLL_FLAGS};
pub use sockopt::{
    bytes_queued, bytes_unacked, is_nonblocking, keepalive, set_keepalive, Keepalive,
};
pub use stale::{close_to_stale, stale_read, stale_write, StaleHandle};
pub use sysctl::{read_sysctl, tcp_sysctls, write_sysctl, SysctlError};
pub use thread::{thread_count, thread_id, thread_is_asleep};

/// The symbolic name of an errno value on this system, as the man pages spell it.
///
/// # Notes
/// On Linux `EWOULDBLOCK` equals `EAGAIN` and `ENOTSUP` equals `EOPNOTSUPP`; the first
/// name is reported. On macOS and FreeBSD the values differ from Linux but the names are
/// the same, which is what makes records from different systems comparable.
pub fn errno_name(code: i32) -> Option<&'static str> {
    ERRNOS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Every errno name the lab can report, for checking expectations.
pub fn errno_names() -> impl Iterator<Item = &'static str> {
    ERRNOS.iter().map(|(_, n)| *n)
}

// Built from libc's constants, so each OS gets its own numbers.
const ERRNOS: &[(i32, &str)] = &[
    (libc::EPERM, "EPERM"),
    (libc::ENOENT, "ENOENT"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::EBADF, "EBADF"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EACCES, "EACCES"),
    (libc::EFAULT, "EFAULT"),
    (libc::EINVAL, "EINVAL"),
    (libc::ENFILE, "ENFILE"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::EPIPE, "EPIPE"),
    (libc::ENOTSOCK, "ENOTSOCK"),
    (libc::EDESTADDRREQ, "EDESTADDRREQ"),
    (libc::EMSGSIZE, "EMSGSIZE"),
    (libc::EPROTOTYPE, "EPROTOTYPE"),
    (libc::ENOPROTOOPT, "ENOPROTOOPT"),
    (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
    (libc::EADDRINUSE, "EADDRINUSE"),
    (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
    (libc::ENETDOWN, "ENETDOWN"),
    (libc::ENETUNREACH, "ENETUNREACH"),
    (libc::ENETRESET, "ENETRESET"),
    (libc::ECONNABORTED, "ECONNABORTED"),
    (libc::ECONNRESET, "ECONNRESET"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::EISCONN, "EISCONN"),
    (libc::ENOTCONN, "ENOTCONN"),
    (libc::ESHUTDOWN, "ESHUTDOWN"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::ECONNREFUSED, "ECONNREFUSED"),
    (libc::EHOSTDOWN, "EHOSTDOWN"),
    (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    (libc::EALREADY, "EALREADY"),
    (libc::EINPROGRESS, "EINPROGRESS"),
];

pub const EINPROGRESS: i32 = libc::EINPROGRESS;
// The clean rooms' pieces (namespaces, the TCP metrics cache, TCP_INFO fields,
// TCP_CONGESTION): Linux's in a file of their own, stand-ins answering Unsupported
// elsewhere.
#[cfg(target_os = "linux")]
#[path = "../linux_room.rs"]
mod room;
#[cfg(not(target_os = "linux"))]
#[path = "../no_room.rs"]
mod room;
pub use room::{
    can_make_namespaces, congestion, enter_user_namespace, mtu, set_congestion, tcp_info_field,
    tcp_metrics,
};
