//! Raw frames on one interface: AF_PACKET sockets, and the poll and wake-up the wire's
//! relay needs around them.
//!
//! Packet sockets are Linux's (packet(7)); elsewhere every call answers `Unsupported`,
//! so the relay's code compiles everywhere and refuses at its start.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// One AF_PACKET SOCK_RAW socket bound to one interface, seeing every protocol
/// (ETH_P_ALL): whole Ethernet frames in and out.
///
/// # Notes
/// On Linux opening one needs CAP_NET_RAW in the namespace's user namespace. A socket
/// bound to a veth sees what the veth receives whatever the destination MAC (veths do
/// not filter), and, unless [`PacketSocket::ignore_outgoing`] is set, what is sent on it,
/// this socket's own sends included. On other systems there are no packet sockets and
/// `Unsupported` is returned. See packet(7).
#[derive(Debug)]
pub struct PacketSocket(OwnedFd);

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl From<PacketSocket> for OwnedFd {
    fn from(s: PacketSocket) -> OwnedFd {
        s.0
    }
}

/// Which descriptors [`poll_readable`] found readable, in the order given.
pub type Readable = Vec<bool>;

#[cfg(target_os = "linux")]
// Packet sockets, eventfd(2) and recv's MSG_DONTWAIT on a blocking socket: Linux's.
mod imp {
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use super::{PacketSocket, Readable};

    /// The receive buffer the relay asks for: room for a few thousand full frames, so that a
    /// burst the relay has not yet read is not dropped by the socket (the default, 208 KiB,
    /// holds about a hundred, each frame costing its skb's truesize, about 2.3 KiB).
    const PACKET_RCVBUF: usize = 8 << 20;

    /// PACKET_IGNORE_OUTGOING (linux/if_packet.h, since 4.20): the socket does not see
    /// the frames sent on its interface. libc does not name it.
    const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

    /// ETH_P_ALL in network byte order, as socket(2) and sockaddr_ll want it.
    fn eth_p_all() -> u16 {
        (libc::ETH_P_ALL as u16).to_be()
    }

    fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    }

    fn set_int(
        fd: &OwnedFd,
        level: libc::c_int,
        name: libc::c_int,
        v: libc::c_int,
    ) -> io::Result<()> {
        // SAFETY: the option value is a c_int that lives for the call, its size passed.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    pub fn open(ifname: &str) -> io::Result<PacketSocket> {
        let name = CString::new(ifname).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "an interface name with a NUL byte",
            )
        })?;
        // SAFETY: if_nametoindex reads a NUL-terminated string that lives for the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("no interface {ifname}: {e}"),
            ));
        }
        // SAFETY: a plain socket call; the descriptor is owned at once.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::c_int::from(eth_p_all()),
            )
        })?;
        // SAFETY: raw is a descriptor we just opened and nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Bigger than net.core.rmem_max allows needs the FORCE variant (CAP_NET_ADMIN);
        // without it the plain one takes what the limit allows.
        let want = PACKET_RCVBUF as libc::c_int;
        set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, want)
            .or_else(|_| set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, want))?;
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = eth_p_all();
        addr.sll_ifindex = index as libc::c_int;
        // SAFETY: addr is a sockaddr_ll that lives for the call, its size passed.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("binding a packet socket to {ifname}: {e}"),
            )
        })?;
        Ok(PacketSocket(fd))
    }

    pub fn ignore_outgoing(s: &PacketSocket) -> io::Result<()> {
        set_int(&s.0, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    }

    pub fn set_send_timeout(s: &PacketSocket, limit: Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: limit.as_secs() as libc::time_t,
            tv_usec: limit.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: the option value is a timeval that lives for the call, its size passed.
        check(unsafe {
            libc::setsockopt(
                s.0.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    pub fn try_recv(s: &PacketSocket, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: buf is writable for its length for the call.
        let n = unsafe {
            libc::recv(
                s.0.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(n as usize))
    }

    pub fn send(s: &PacketSocket, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: frame is readable for its length for the call.
        let n = unsafe { libc::send(s.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    pub fn waker() -> io::Result<OwnedFd> {
        // SAFETY: a plain eventfd call; the descriptor is owned at once.
        let raw = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: raw is a descriptor we just opened and nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    }

    pub fn wake(fd: BorrowedFd<'_>) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: eventfd takes exactly 8 bytes, which `one` provides for the call.
        let n = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn drain(fd: BorrowedFd<'_>) {
        let mut v: u64 = 0;
        // SAFETY: eventfd gives exactly 8 bytes, which `v` holds; EAGAIN when none.
        let _ = unsafe { libc::read(fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }

    pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> io::Result<Readable> {
        let mut pfds: Vec<libc::pollfd> = fds
            .iter()
            .map(|fd| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // Round up, so that a deadline 0.3 ms away is not polled with 0 (a busy loop).
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: pfds is a valid array of its length for the call.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(vec![false; fds.len()]);
            }
            return Err(e);
        }
        let bad = libc::POLLERR | libc::POLLNVAL;
        if let Some(p) = pfds.iter().find(|p| p.revents & bad != 0) {
            return Err(io::Error::other(format!(
                "poll reported an error on descriptor {} (revents {:#x})",
                p.fd, p.revents
            )));
        }
        Ok(pfds.iter().map(|p| p.revents & libc::POLLIN != 0).collect())
    }
}

#[cfg(not(target_os = "linux"))]
// Only Linux has packet sockets and eventfd; the relay refuses at its start elsewhere.
mod imp {
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd};
    use std::time::Duration;

    use super::{PacketSocket, Readable};

    fn unsupported<T>() -> io::Result<T> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "packet sockets are Linux's",
        ))
    }
    pub fn open(_ifname: &str) -> io::Result<PacketSocket> {
        unsupported()
    }
    pub fn ignore_outgoing(_s: &PacketSocket) -> io::Result<()> {
        unsupported()
    }
    pub fn set_send_timeout(_s: &PacketSocket, _limit: Duration) -> io::Result<()> {
        unsupported()
    }
    pub fn try_recv(_s: &PacketSocket, _buf: &mut [u8]) -> io::Result<Option<usize>> {
        unsupported()
    }
    pub fn send(_s: &PacketSocket, _frame: &[u8]) -> io::Result<usize> {
        unsupported()
    }
    pub fn waker() -> io::Result<OwnedFd> {
        unsupported()
    }
    pub fn wake(_fd: BorrowedFd<'_>) -> io::Result<()> {
        unsupported()
    }
    pub fn drain(_fd: BorrowedFd<'_>) {}
    pub fn poll_readable(_fds: &[BorrowedFd<'_>], _timeout: Duration) -> io::Result<Readable> {
        unsupported()
    }
}

impl PacketSocket {
    /// A packet socket bound to interface `ifname` of the calling thread's network
    /// namespace, seeing every protocol both ways, with a receive buffer of
    /// 8 MiB (as much of it as the system grants). Blocking; reads go
    /// through [`PacketSocket::try_recv`], which never waits.
    pub fn open(ifname: &str) -> io::Result<PacketSocket> {
        imp::open(ifname)
    }

    /// Stops the socket seeing frames sent on its interface (PACKET_IGNORE_OUTGOING,
    /// Linux 4.20 and later): a relay then never reads back its own sends.
    pub fn ignore_outgoing(&self) -> io::Result<()> {
        imp::ignore_outgoing(self)
    }

    /// Bounds how long [`PacketSocket::send`] may wait for room in the send buffer.
    pub fn set_send_timeout(&self, limit: Duration) -> io::Result<()> {
        imp::set_send_timeout(self, limit)
    }

    /// The next frame into `buf` without waiting: its length (which may exceed `buf`'s
    /// when it was cut), or `None` when none is queued.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        imp::try_recv(self, buf)
    }

    /// Sends one whole frame (Ethernet header first) out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        imp::send(self, frame)
    }
}

/// A descriptor another thread makes readable to wake a [`poll_readable`] (an eventfd).
#[derive(Debug)]
pub struct Waker(OwnedFd);

impl Waker {
    pub fn new() -> io::Result<Waker> {
        imp::waker().map(Waker)
    }

    /// Makes the descriptor readable until [`Waker::drain`].
    pub fn wake(&self) -> io::Result<()> {
        imp::wake(self.0.as_fd())
    }

    pub fn drain(&self) {
        imp::drain(self.0.as_fd())
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// poll(2) for reading on `sockets` and `waker`, at most `timeout`: which sockets are
/// readable, in the order given, and whether the waker is (nothing when the time passed or
/// a signal came). An error or closed descriptor is an error.
pub fn poll_readable(
    sockets: &[&PacketSocket],
    waker: &Waker,
    timeout: Duration,
) -> io::Result<(Readable, bool)> {
    let mut fds: Vec<BorrowedFd<'_>> = sockets.iter().map(|s| s.as_fd()).collect();
    fds.push(waker.as_fd());
    let mut ready = imp::poll_readable(&fds, timeout)?;
    let woken = ready.pop().unwrap_or(false);
    Ok((ready, woken))
}
