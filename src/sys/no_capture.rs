//! Packet capture where there is no AF_PACKET (macOS, FreeBSD, Windows): the same API as
//! `unix/capture.rs`, every call answering `Unsupported`.

use std::io;
use std::time::Duration;

fn unsupported<T>() -> io::Result<T> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[derive(Debug)]
pub struct PacketSocket(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame {
    pub ts_ns: u64,
    pub outgoing: bool,
    pub orig_len: u32,
    pub captured: usize,
}

impl PacketSocket {
    pub fn open(_ifname: &str, _loopback: bool, _rcvbuf: usize) -> io::Result<PacketSocket> {
        unsupported()
    }
    pub fn recv(&self, _buf: &mut [u8]) -> io::Result<Option<RawFrame>> {
        unsupported()
    }
    pub fn drops(&self) -> io::Result<u64> {
        unsupported()
    }
}

#[derive(Debug)]
pub struct Waker(());

impl Waker {
    pub fn new() -> io::Result<Waker> {
        unsupported()
    }
    pub fn wake(&self) -> io::Result<()> {
        unsupported()
    }
}

pub fn wait_frames(
    _socks: &[PacketSocket],
    _waker: &Waker,
    _timeout: Duration,
) -> io::Result<bool> {
    unsupported()
}
