//! Unix (Linux, macOS, FreeBSD) specific pieces, one file per concern: errno names,
//! descriptors, poll, socket options, thread states, namespaces and the kernel's own
//! settings and evidence.
//!
//! Everything in this folder is reached through the OS-neutral functions it exports
//! (re-exported here, so callers name them `crate::sys::...`); no other module names a
//! libc call.

mod child;
mod errno;
mod evidence;
mod host;
mod netns;
mod packet_socket;
mod poll;
mod signal;
mod sockopt;
mod stale;
mod sysctl;
mod thread;
mod topology;
// The topology's plan and result types: OS-neutral, shared with windows.rs.
#[path = "../topology_plan.rs"]
mod topology_plan;

pub use child::{write_in_child, ChildEnd};
pub use errno::{errno_name, errno_names, EINPROGRESS};
pub use evidence::{net_counters, tcp_state, tcp_state_in_table};
pub use host::{os_version, physical_memory, uname};
pub use netns::{loopback_up, unshare_netns, NetnsFd};
pub use packet_socket::{poll_readable, PacketSocket, Waker};
pub use poll::{poll, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLL_FLAGS};
pub use signal::{block_interrupts, unblock_interrupts, wait_interrupt};
pub use sockopt::{
    bytes_queued, bytes_unacked, is_nonblocking, keepalive, set_keepalive, Keepalive,
};
pub use stale::{close_to_stale, stale_read, stale_write, StaleHandle};
pub use sysctl::{read_sysctl, tcp_sysctls, write_sysctl, SysctlError};
pub use thread::{thread_count, thread_id, thread_is_asleep};
pub use topology::build_topology;
pub use topology_plan::*;

// The clean rooms' pieces (namespaces, the TCP metrics cache, TCP_INFO fields,
// TCP_CONGESTION): Linux's in a file of their own, stand-ins answering Unsupported
// elsewhere.
#[cfg(target_os = "linux")]
#[path = "../linux_room.rs"]
mod room;
#[cfg(not(target_os = "linux"))]
#[path = "../no_room.rs"]
mod room;
// Packet capture: AF_PACKET is Linux's; elsewhere every call answers Unsupported.
#[cfg(target_os = "linux")]
mod capture;
#[cfg(not(target_os = "linux"))]
#[path = "../no_capture.rs"]
mod capture;
pub use capture::{wait_frames, PacketSocket as CaptureSocket, RawFrame, Waker as CaptureWaker};

pub use room::{
    can_make_namespaces, congestion, enter_user_namespace, mtu, set_congestion, tcp_info_field,
    tcp_metrics,
};
