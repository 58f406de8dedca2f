//! What the benches share: pinning a thread to a CPU (`TCPLAB_BENCH_PIN`), iperf3's server
//! read loop, select(2) on one descriptor, and TCP_INFO. Each bench includes this file
//! (`#[path = "common/mod.rs"] mod common;`) and uses a part of it.

// Each bench is its own crate and uses only some of these.
#![allow(dead_code)]

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `TCPLAB_BENCH_PIN=W,R`: the CPUs the writer and the reader are pinned to.
pub fn pinning() -> Option<(usize, usize)> {
    let v = std::env::var("TCPLAB_BENCH_PIN").ok()?;
    let (w, r) = v.split_once(',')?;
    Some((w.trim().parse().ok()?, r.trim().parse().ok()?))
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
/// non-blocking, select(2) before every read, then reads until `block` bytes are in or the
/// socket has nothing more. Returns the bytes and the read calls; a stream silent for
/// `quiet` fails the bench.
#[cfg(unix)]
pub fn iperf3_read(reader: &mut TcpStream, block: usize, quiet: Duration) -> (u64, u64) {
    use std::os::fd::AsRawFd;
    reader.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; block];
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
