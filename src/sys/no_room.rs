//! The clean-room pieces on systems without network namespaces (everything but Linux):
//! each answers `Unsupported` or `None`, so that nothing is made up.

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;

use socket2::Socket;

fn unsupported<T>() -> io::Result<T> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Only Linux has network namespaces.
pub fn can_make_namespaces() -> bool {
    false
}

/// Only Linux has user namespaces.
pub fn enter_user_namespace() -> io::Result<()> {
    unsupported()
}

/// Not read on this system yet.
pub fn mtu(name: &str) -> io::Result<u32> {
    let _ = name;
    unsupported()
}

/// The TCP metrics cache is Linux's.
pub fn tcp_metrics(addr: Ipv4Addr) -> io::Result<Option<BTreeMap<String, i64>>> {
    let _ = addr;
    unsupported()
}

/// Linux's struct tcp_info; other systems' are not read yet.
pub fn tcp_info_field(socket: &Socket, field: &str) -> io::Result<i64> {
    let _ = (socket, field);
    unsupported()
}

/// TCP_CONGESTION is read on Linux only so far.
pub fn congestion(socket: &Socket) -> io::Result<String> {
    let _ = socket;
    unsupported()
}

/// TCP_CONGESTION is set on Linux only so far.
pub fn set_congestion(socket: &Socket, name: &str) -> io::Result<()> {
    let _ = (socket, name);
    unsupported()
}
