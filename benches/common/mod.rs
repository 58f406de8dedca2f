//! What the benches share: pinning a thread to a CPU (`TCPLAB_BENCH_PIN`), a socket's
//! congestion control (`TCPLAB_BENCH_CC`), buffers placed at a chosen offset in a page
//! (`TCPLAB_BENCH_READ_OFFSET`), iperf3's server read loop, select(2) on one
//! descriptor, TCP_INFO and the machine's high-resolution timer softirqs. Each bench
//! includes this file (`#[path = "common/mod.rs"] mod common;`) and uses a part of it.

// Each bench is its own crate and uses only some of these.
#![allow(dead_code)]

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The page size the buffers are placed against (sysconf; 4096 where it cannot be read).
pub fn page_size() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: sysconf reads a constant of the system.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if n > 0 {
            return n as usize;
        }
    }
    4096
}

/// A buffer of `len` bytes that starts `offset` bytes past a page boundary. iperf3 reads
/// and writes through buffers it maps from a file (mmap in `iperf_new_stream`), which
/// start on a page boundary; a `Vec` starts wherever the allocator's history puts it, and
/// over loopback that alone cut 1 MiB writes by 40% to 60% (NOTES.md, "Where in its page
/// the reader's buffer starts"). So the loopback and pace benches write from and read
/// into `PageBuf`s, the readers' at offset 0 unless `TCPLAB_BENCH_READ_OFFSET` says
/// otherwise.
pub struct PageBuf {
    store: Vec<u8>,
    start: usize,
    len: usize,
}

impl PageBuf {
    /// `len` bytes of `fill`, `offset` bytes (less than a page) past a page boundary.
    pub fn new(len: usize, offset: usize, fill: u8) -> PageBuf {
        let page = page_size();
        assert!(
            offset < page,
            "a buffer offset is less than a page ({page} bytes), not {offset}"
        );
        let store = vec![fill; len + 2 * page];
        let start = (page - store.as_ptr() as usize % page) % page + offset;
        assert_eq!(store[start..].as_ptr() as usize % page, offset);
        PageBuf { store, start, len }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.store[self.start..self.start + self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.store[self.start..self.start + self.len]
    }
}

/// `TCPLAB_BENCH_READ_OFFSET=N[,N...]`: where in its page each reader's buffer starts, in
/// bytes past the boundary (default 0, as iperf3's). A value of a page or more, or one that
/// is not a number, stops the bench with a message.
pub fn read_offsets() -> Vec<usize> {
    let page = page_size();
    let v = std::env::var("TCPLAB_BENCH_READ_OFFSET").unwrap_or_default();
    let list: Vec<usize> = v
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| match e.parse::<usize>() {
            Ok(n) if n < page => n,
            _ => panic!(
                "TCPLAB_BENCH_READ_OFFSET: `{e}` is not a byte offset below the page size ({page}); a list such as 0,3472"
            ),
        })
        .collect();
    if list.is_empty() {
        vec![0]
    } else {
        list
    }
}

/// `TCPLAB_BENCH_PIN=W,R`: the CPUs the writer and the reader are pinned to.
pub fn pinning() -> Option<(usize, usize)> {
    let v = std::env::var("TCPLAB_BENCH_PIN").ok()?;
    let (w, r) = v.split_once(',')?;
    Some((w.trim().parse().ok()?, r.trim().parse().ok()?))
}

/// A congestion control a bench sets on its sockets, as `TCPLAB_BENCH_CC` names it:
/// `NAME` (TCP_CONGESTION), or `NAME+paced`, which also sets SO_MAX_PACING_RATE to a rate no
/// connection reaches: Linux then paces the socket itself (`sk_pacing_status`
/// SK_PACING_NEEDED) with the rate the algorithm computes, as it does for bbr without the
/// fq qdisc, so that an algorithm which does not pace (cubic, reno) can be compared paced
/// and unpaced; or `NAME+paced@RATE` (`2.5GiB`, `800MiB`: per second), which paces it at
/// most at RATE, so that a pacing rate that binds can be set by hand.
#[derive(Clone, Debug, PartialEq)]
pub struct Congestion {
    pub name: String,
    /// SO_MAX_PACING_RATE in bytes per second: None leaves it alone (no pacing unless the
    /// algorithm asks for it), `u64::MAX - 1` paces with the algorithm's own rate.
    pub max_pacing_rate: Option<u64>,
    /// RATE as written, for the label.
    rate_text: Option<String>,
}

impl Congestion {
    /// `bbr`, `cubic+paced`, `cubic+paced@2.5GiB`: the name as the benches print it.
    pub fn label(&self) -> String {
        match (&self.max_pacing_rate, &self.rate_text) {
            (None, _) => self.name.clone(),
            (Some(_), None) => format!("{}+paced", self.name),
            (Some(_), Some(r)) => format!("{}+paced@{r}", self.name),
        }
    }
}

/// `2.5GiB`, `800MiB`, `64KiB` (per second) in bytes; None if it is not such a rate.
fn rate_bytes(text: &str) -> Option<u64> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let scale = match unit {
        "KiB" => 1u64 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    let n: f64 = number.parse().ok()?;
    (n.is_finite() && n > 0.0 && n * (scale as f64) < 1e18).then_some((n * scale as f64) as u64)
}

/// The machine's default congestion control (net.ipv4.tcp_congestion_control), or "?"
/// where it cannot be read.
pub fn default_congestion() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .map_or("?".to_owned(), |s| s.trim().to_owned())
}

/// `TCPLAB_BENCH_CC`: a comma-separated list of `NAME` or `NAME+paced` (see [`Congestion`]);
/// empty or unset when the benches leave each socket with the machine's default. A malformed
/// entry stops the bench with a message.
pub fn congestion_list() -> Vec<Congestion> {
    let v = std::env::var("TCPLAB_BENCH_CC").unwrap_or_default();
    v.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let bad = || -> ! {
                panic!("TCPLAB_BENCH_CC: `{e}` is not NAME, NAME+paced or NAME+paced@RATE (a list such as bbr,cubic,cubic+paced,cubic+paced@2GiB; RATE per second in KiB, MiB or GiB)")
            };
            let (name, max_pacing_rate, rate_text) = match e.split_once("+paced") {
                None => (e, None, None),
                Some((n, "")) => (n, Some(u64::MAX - 1), None),
                Some((n, rate)) => {
                    let rate = rate.strip_prefix('@').unwrap_or_else(|| bad());
                    let bytes = rate_bytes(rate).unwrap_or_else(|| bad());
                    (n, Some(bytes), Some(rate.to_owned()))
                }
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                bad();
            }
            Congestion {
                name: name.to_owned(),
                max_pacing_rate,
                rate_text,
            }
        })
        .collect()
}

/// Sets `cc` on `s` (TCP_CONGESTION, and SO_MAX_PACING_RATE for `+paced`). An algorithm this
/// kernel does not have, or one this process may not choose, stops the bench with the
/// kernel's lists.
#[cfg(target_os = "linux")]
pub fn set_congestion(s: &TcpStream, cc: &Congestion) {
    use std::os::fd::AsRawFd;
    let sock = socket2::SockRef::from(s);
    if let Err(e) = sock.set_tcp_congestion(cc.name.as_bytes()) {
        let list = |f: &str| {
            std::fs::read_to_string(format!("/proc/sys/net/ipv4/{f}"))
                .map_or("?".to_owned(), |s| s.trim().to_owned())
        };
        panic!(
            "TCPLAB_BENCH_CC: cannot set congestion control `{}`: {e} (available: {}; allowed without CAP_NET_ADMIN: {})",
            cc.name,
            list("tcp_available_congestion_control"),
            list("tcp_allowed_congestion_control"),
        );
    }
    if let Some(rate) = cc.max_pacing_rate {
        // Any rate but ~0 turns the kernel's own pacing on.
        // SAFETY: a valid descriptor and an 8-byte option value.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MAX_PACING_RATE,
                (&rate as *const u64).cast(),
                std::mem::size_of::<u64>() as libc::socklen_t,
            )
        };
        assert_eq!(
            rc,
            0,
            "SO_MAX_PACING_RATE: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Elsewhere only the name is checked: other systems name their algorithms differently.
#[cfg(not(target_os = "linux"))]
pub fn set_congestion(_s: &TcpStream, cc: &Congestion) {
    panic!("TCPLAB_BENCH_CC ({}) is Linux's", cc.label());
}

/// High-resolution timer softirqs run so far, summed over CPUs (/proc/softirqs, HRTIMER);
/// None where there is no such file. Linux's TCP pacing without the fq qdisc waits for
/// each paced segment's departure time with an hrtimer (tcp_pacing_check in
/// net/ipv4/tcp_output.c), so the count over a case bounds how often pacing held a
/// segment; it is the whole machine's, so other work adds to it.
pub fn hrtimer_softirqs() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/softirqs").ok()?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("HRTIMER:"))?;
    line.split_whitespace()
        .skip(1)
        .map(|v| v.parse::<u64>().ok())
        .sum()
}

/// Pins the calling thread to `cpu` (Linux; elsewhere nothing happens).
pub fn pin_to(cpu: usize) {
    #[cfg(target_os = "linux")]
    // sched_setaffinity is Linux's; the benches only report where it is not available.
    {
        // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes a bit inside it.
        let ok = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        };
        assert!(ok, "TCPLAB_BENCH_PIN: cannot pin a thread to CPU {cpu}");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// select(2) on one descriptor for reading (or writing), at most one second, as iperf3
/// waits at most until its next timer; true when it is ready.
#[cfg(unix)]
pub fn select_one(fd: i32, write: bool) -> bool {
    assert!(
        (fd as usize) < libc::FD_SETSIZE,
        "descriptor {fd} too high for select"
    );
    // SAFETY: a zeroed fd_set holding one open descriptor below FD_SETSIZE; select writes
    // only into it and the timeval.
    unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_SET(fd, &mut set);
        let mut timeout = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        let (r, w) = if write {
            (std::ptr::null_mut(), &mut set as *mut libc::fd_set)
        } else {
            (&mut set as *mut libc::fd_set, std::ptr::null_mut())
        };
        let rc = libc::select(fd + 1, r, w, std::ptr::null_mut(), &mut timeout);
        assert!(rc >= 0, "select: {}", std::io::Error::last_os_error());
        rc > 0
    }
}

/// Drains `reader` to EOF as iperf3 3.12's server does (`iperf_recv`, `Nread`): the socket
/// non-blocking, select(2) before every read, then reads until `buf` (one block) is full or
/// the socket has nothing more. Returns the bytes and the read calls; a stream silent for
/// `quiet` fails the bench.
#[cfg(unix)]
pub fn iperf3_read(reader: &mut TcpStream, buf: &mut [u8], quiet: Duration) -> (u64, u64) {
    use std::os::fd::AsRawFd;
    reader.set_nonblocking(true).unwrap();
    let block = buf.len();
    let (mut total, mut calls) = (0u64, 0u64);
    let mut quiet_since = Instant::now();
    loop {
        if !select_one(reader.as_raw_fd(), false) {
            assert!(
                quiet_since.elapsed() < quiet,
                "reader: nothing to read for {quiet:?}"
            );
            continue;
        }
        quiet_since = Instant::now();
        let mut got = 0;
        while got < block {
            calls += 1;
            match reader.read(&mut buf[got..]) {
                Ok(0) => return (total + got as u64, calls),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("read failed: {e:?}"),
            }
        }
        total += got as u64;
    }
}

/// getsockopt(TCP_INFO).
#[cfg(target_os = "linux")]
pub fn tcp_info(s: &impl std::os::fd::AsRawFd) -> libc::tcp_info {
    // SAFETY: tcp_info is plain data; getsockopt writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: a valid fd, pointer and length.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(
        rc,
        0,
        "getsockopt(TCP_INFO): {}",
        std::io::Error::last_os_error()
    );
    info
}
