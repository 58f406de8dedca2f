//! Packet capture on Linux: one AF_PACKET socket per interface, with the kernel's
//! timestamps, and an eventfd to wake the thread that polls them. See packet(7).

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// PACKET_IGNORE_OUTGOING (linux/if_packet.h, Linux 4.20): the socket does not see the
/// frames its host sends. On loopback every frame is both sent and received; with this
/// option each is seen once.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// sockaddr_ll.sll_pkttype of a frame the host sent (linux/if_packet.h).
const PACKET_OUTGOING: u8 = 4;

/// Every protocol (linux/if_ether.h), in network byte order where the kernel wants it.
const ETH_P_ALL: u16 = 0x0003;

/// Room for one SCM_TIMESTAMPNS control message (a struct timespec), with its header and
/// alignment; u64 words keep the buffer aligned for cmsghdr.
const CONTROL_WORDS: usize = 8;

/// One AF_PACKET SOCK_RAW socket bound to one interface, nonblocking, with SO_TIMESTAMPNS.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    /// Loopback without PACKET_IGNORE_OUTGOING (kernels before 4.20): outgoing frames are
    /// skipped here instead.
    skip_outgoing: bool,
}

/// What the kernel said of one frame; its first bytes are in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame {
    /// CLOCK_REALTIME, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The host sent it (sll_pkttype PACKET_OUTGOING).
    pub outgoing: bool,
    /// The frame's length on the interface.
    pub orig_len: u32,
    /// How many of its bytes are in the buffer.
    pub captured: usize,
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn set_int(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: the option value is a c_int that lives across the call, its size given.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

impl PacketSocket {
    /// Opens a socket on `ifname` of the calling thread's network namespace: created with
    /// protocol 0 (it sees nothing yet), its options set, then bound to the interface with
    /// ETH_P_ALL, so that no frame of another interface is queued before the bind.
    /// `rcvbuf` bytes of queue are asked with SO_RCVBUFFORCE (CAP_NET_ADMIN), else
    /// SO_RCVBUF (capped by net.core.rmem_max).
    pub fn open(ifname: &str, loopback: bool, rcvbuf: usize) -> io::Result<PacketSocket> {
        let name = CString::new(ifname).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: a NUL-terminated name that lives across the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a plain socket call; the descriptor is owned right after.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        })?;
        // SAFETY: raw is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size = libc::c_int::try_from(rcvbuf).unwrap_or(libc::c_int::MAX);
        if set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, size).is_err() {
            set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, size)?;
        }
        set_int(&fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
        let skip_outgoing =
            loopback && set_int(&fd, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1).is_err();
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = index as libc::c_int;
        // SAFETY: sll is a sockaddr_ll of the size given.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        let sock = PacketSocket { fd, skip_outgoing };
        // The counters start at the bind: what the unbound socket counted is read away.
        sock.drops()?;
        Ok(sock)
    }

    /// The next queued frame, its first `buf.len()` bytes in `buf`, or `None` when the
    /// queue is empty (the socket is nonblocking).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<RawFrame>> {
        loop {
            // SAFETY: plain data; zeroed is a valid value for each.
            let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
            let mut control = [0u64; CONTROL_WORDS];
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // SAFETY: msghdr is plain data; zeroed is a valid value.
            let mut msg: libc::msghdr = unsafe { zeroed() };
            msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
            // SAFETY: every pointer in msg points at a live buffer of the length given;
            // MSG_TRUNC makes the call return the frame's full length.
            let n = unsafe {
                libc::recvmsg(
                    self.fd.as_raw_fd(),
                    &mut msg,
                    libc::MSG_TRUNC | libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(e),
                };
            }
            let outgoing = sll.sll_pkttype == PACKET_OUTGOING;
            if outgoing && self.skip_outgoing {
                continue;
            }
            let ts_ns = timestamp(&msg).unwrap_or_else(now_ns);
            return Ok(Some(RawFrame {
                ts_ns,
                outgoing,
                orig_len: u32::try_from(n).unwrap_or(u32::MAX),
                captured: (n as usize).min(buf.len()),
            }));
        }
    }

    /// Frames the kernel dropped for want of queue room since the last call
    /// (PACKET_STATISTICS, which resets its counters when read).
    pub fn drops(&self) -> io::Result<u64> {
        // SAFETY: plain data; zeroed is a valid value.
        let mut st: libc::tpacket_stats = unsafe { zeroed() };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: st is a tpacket_stats of the size given; the kernel fills it.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        })?;
        Ok(u64::from(st.tp_drops))
    }
}

/// The SCM_TIMESTAMPNS control message's time, if the kernel attached one.
fn timestamp(msg: &libc::msghdr) -> Option<u64> {
    // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR and CMSG_NXTHDR stay within
    // msg_control's msg_controllen bytes.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !c.is_null() {
        // SAFETY: c points at a complete cmsghdr inside the control buffer.
        let h = unsafe { &*c };
        if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_TIMESTAMPNS {
            // SAFETY: an SCM_TIMESTAMPNS message carries a struct timespec; the data may
            // not be aligned for it, hence read_unaligned.
            let ts: libc::timespec = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(c).cast()) };
            return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        c = unsafe { libc::CMSG_NXTHDR(msg, c) };
    }
    None
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// An eventfd that wakes [`wait_frames`].
#[derive(Debug)]
pub struct Waker(OwnedFd);

impl Waker {
    pub fn new() -> io::Result<Waker> {
        // SAFETY: a plain eventfd call; the descriptor is owned right after.
        let raw = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: raw is a fresh descriptor nobody else owns.
        Ok(Waker(unsafe { OwnedFd::from_raw_fd(raw) }))
    }

    pub fn wake(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one`, as eventfd(2) wants.
        let n = unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if n == 8 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Waits up to `timeout` for a frame on any socket or for the waker; true once woken.
pub fn wait_frames(socks: &[PacketSocket], waker: &Waker, timeout: Duration) -> io::Result<bool> {
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| s.fd.as_raw_fd())
        .chain([waker.0.as_raw_fd()])
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: fds is a live array of pollfd of the length given.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(fds.last().is_some_and(|w| w.revents & libc::POLLIN != 0))
}
