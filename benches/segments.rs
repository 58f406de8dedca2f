//! What a stream of writes becomes on the wire over loopback: segment counts and sizes
//! from getsockopt(TCP_INFO) on both ends, per write size and Nagle setting.
//!
//!   cargo bench --bench segments [-- FILTER]
//!
//! Not a criterion bench: it prints one table (stdout) of what the kernel counted while one
//! writer streamed `STREAM_BYTES` to a reader reading as many bytes per call as the writer
//! writes (as iperf3's server and benches/loopback.rs do), then the segments of a single
//! write on an idle connection. Each case runs three ways: blocking writes and reads
//! (`blocking`, as the std bench); non-blocking writes that wait in poll(2) when the send
//! buffer is full (`poll`, as iperf3); and the tokio bench's layout (`tokio`). Beside the
//! kernel's counters: the process's CPU time per GiB moved and its voluntary context
//! switches per write (getrusage), what a readiness model costs in wake-ups. FILTER keeps the rows whose case name
//! (`write_64KiB/nodelay/blocking`) contains it.
//!
//! # Notes
//! On Linux the counters are tcp_info's `tcpi_data_segs_out`, `tcpi_bytes_sent`,
//! `tcpi_segs_in` (mostly ACKs, on the writer), `tcpi_snd_mss`, `tcpi_pmtu`,
//! `tcpi_rwnd_limited` and `tcpi_sndbuf_limited` (Linux 4.10 to 5.5). Other systems have
//! no such counters through TCP_INFO; there the bench prints a line saying so.
//! Read tcp(7) and include/uapi/linux/tcp.h.

/// Bytes each streamed case writes: enough for the ACK clock to settle.
#[cfg(target_os = "linux")]
const STREAM_BYTES: usize = 512 * 1024 * 1024;

/// Bytes per write call: those of benches/loopback.rs, and around 64 KiB the loopback
/// MSS (65483 = 65536 - 53) and twice it.
#[cfg(target_os = "linux")]
const WRITE_SIZES: [usize; 6] = [
    4 * 1024,
    LOOPBACK_MSS,
    64 * 1024,
    2 * LOOPBACK_MSS,
    128 * 1024,
    1024 * 1024,
];

/// Linux's MSS over loopback: IPv4's largest datagram (65535 bytes: loopback's 65536-byte
/// MTU is capped to it, tcpi_pmtu) less 20 bytes of IPv4 header, 20 of TCP header and 12 of
/// timestamp option. tcpi_snd_mss reads it once the peer's window has grown past twice it;
/// before, Linux bounds the MSS to half the largest window the peer offered.
#[cfg(target_os = "linux")]
const LOOPBACK_MSS: usize = 65483;

#[cfg(target_os = "linux")]
#[path = "common/mod.rs"]
mod common;

// struct tcp_info and its counters are Linux's.
#[cfg(target_os = "linux")]
mod linux {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::thread;
    use std::time::Instant;

    use super::common::{tcp_info, PageBuf};
    use super::{LOOPBACK_MSS, STREAM_BYTES, WRITE_SIZES};

    /// getsockopt(SO_SNDBUF): the send buffer the kernel has granted (or autotuned to).
    fn send_buffer(s: &impl AsRawFd) -> i32 {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid fd, pointer and length.
        let rc = unsafe {
            libc::getsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(
            rc,
            0,
            "getsockopt(SO_SNDBUF): {}",
            std::io::Error::last_os_error()
        );
        value
    }

    fn pair(nodelay: bool) -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        writer.set_nodelay(nodelay).unwrap();
        (writer, reader)
    }

    fn size_name(bytes: usize) -> String {
        if bytes.is_multiple_of(1024 * 1024) {
            format!("{}MiB", bytes / (1024 * 1024))
        } else if bytes.is_multiple_of(1024) {
            format!("{}KiB", bytes / 1024)
        } else {
            format!("{bytes}B")
        }
    }

    /// What the two ends counted while `STREAM_BYTES` went through in `write_size` writes.
    struct Stream {
        secs: f64,
        writes: u64,
        writer: libc::tcp_info,
        /// The writer's SO_SNDBUF at the end.
        sndbuf: i32,
        reads: u64,
        /// User plus system CPU time of the whole process (both ends), in seconds.
        cpu_secs: f64,
        /// Voluntary context switches of the whole process: how often a thread slept.
        sleeps: i64,
    }

    /// How the two ends do their I/O.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mode {
        /// Blocking writes and reads, a thread each: the std bench.
        Blocking,
        /// Non-blocking writes waiting in poll(2), against a blocking reader thread.
        Poll,
        /// The tokio bench's layout: the writer driven by `block_on` on this thread, the
        /// reader a task on the runtime's one worker, which also polls epoll.
        Tokio,
    }

    impl Mode {
        fn name(self) -> &'static str {
            match self {
                Mode::Blocking => "blocking",
                Mode::Poll => "poll",
                Mode::Tokio => "tokio",
            }
        }
    }

    fn rusage() -> libc::rusage {
        // SAFETY: rusage is plain data that getrusage fills in.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer.
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) }, 0);
        r
    }

    fn cpu_secs(r: &libc::rusage) -> f64 {
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
        t(r.ru_utime) + t(r.ru_stime)
    }

    /// Writes all of `buf` on a non-blocking socket, waiting in poll(2) whenever the send
    /// buffer is full: what iperf3 (select) and tokio (epoll) do.
    fn write_all_polled(writer: &mut TcpStream, buf: &[u8]) {
        let mut off = 0;
        while off < buf.len() {
            match writer.write(&buf[off..]) {
                Ok(n) => off += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let mut fd = libc::pollfd {
                        fd: writer.as_raw_fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    let rc = unsafe { libc::poll(&mut fd, 1, -1) };
                    assert_eq!(rc, 1, "poll: {}", std::io::Error::last_os_error());
                }
                Err(e) => panic!("write failed: {e:?}"),
            }
        }
    }

    fn stream(write_size: usize, nodelay: bool, mode: Mode) -> Stream {
        let (mut writer, reader) = pair(nodelay);
        let writes = STREAM_BYTES.div_ceil(write_size) as u64;
        let total = writes * write_size as u64;
        // Page-aligned, as in the other benches (benches/common PageBuf).
        let payload = PageBuf::new(write_size, 0, 0xA5);
        let payload = payload.as_slice();
        let before = rusage();
        let t0 = Instant::now();
        let (reader_info, reads, (writer_info, sndbuf)) = if mode == Mode::Tokio {
            tokio_stream(writer, reader, payload, writes)
        } else {
            let mut reader = reader;
            let drain = thread::spawn(move || {
                let mut buf = PageBuf::new(write_size, 0, 0);
                let mut got = 0u64;
                let mut reads = 0u64;
                while got < total {
                    let n = reader.read(buf.as_mut_slice()).unwrap();
                    assert!(n > 0, "early EOF after {got} of {total} bytes");
                    got += n as u64;
                    reads += 1;
                }
                // Tell the writer every byte is in, so its counters are final.
                reader.write_all(&[1]).unwrap();
                (tcp_info(&reader), reads, reader)
            });
            writer.set_nonblocking(mode == Mode::Poll).unwrap();
            for _ in 0..writes {
                if mode == Mode::Poll {
                    write_all_polled(&mut writer, payload);
                } else {
                    writer.write_all(payload).unwrap();
                }
            }
            writer.set_nonblocking(false).unwrap();
            writer.read_exact(&mut [0u8; 1]).unwrap();
            let (info, reads, _keep_open) = drain.join().expect("drain thread panicked");
            (info, reads, (tcp_info(&writer), send_buffer(&writer)))
        };
        let secs = t0.elapsed().as_secs_f64();
        let after = rusage();
        assert_eq!(reader_info.tcpi_bytes_received, total, "the reader's count");
        Stream {
            secs,
            writes,
            writer: writer_info,
            sndbuf,
            reads,
            cpu_secs: cpu_secs(&after) - cpu_secs(&before),
            sleeps: after.ru_nvcsw - before.ru_nvcsw,
        }
    }

    /// `writes` writes of `payload` in the tokio bench's layout; returns the reader's
    /// TCP_INFO, its read count and the writer's TCP_INFO.
    fn tokio_stream(
        writer: TcpStream,
        reader: TcpStream,
        payload: &[u8],
        writes: u64,
    ) -> (libc::tcp_info, u64, (libc::tcp_info, i32)) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let _entered = rt.enter();
        let to_tokio = |s: TcpStream| {
            s.set_nonblocking(true).unwrap();
            tokio::net::TcpStream::from_std(s).unwrap()
        };
        let mut writer = to_tokio(writer);
        let mut reader = to_tokio(reader);
        let total = writes * payload.len() as u64;
        let read_size = payload.len();
        let drain = rt.spawn(async move {
            let mut buf = PageBuf::new(read_size, 0, 0);
            let mut got = 0u64;
            let mut reads = 0u64;
            while got < total {
                let n = reader.read(buf.as_mut_slice()).await.unwrap();
                assert!(n > 0, "early EOF after {got} of {total} bytes");
                got += n as u64;
                reads += 1;
            }
            reader.write_all(&[1]).await.unwrap();
            (tcp_info(&reader), reads, reader)
        });
        rt.block_on(async {
            for _ in 0..writes {
                writer.write_all(payload).await.unwrap();
            }
            writer.read_exact(&mut [0u8; 1]).await.unwrap();
            let (info, reads, _keep_open) = drain.await.expect("drain task panicked");
            (info, reads, (tcp_info(&writer), send_buffer(&writer)))
        })
    }

    /// Bytes streamed before the single write, so that the peer's window has grown and
    /// the MSS is the loopback's full one.
    const WARM_UP_BYTES: usize = 64 * 1024 * 1024;

    /// Data segments one `write_size` write becomes on a warmed-up, idle connection; the
    /// MSS and path MTU then; and the bytes the reader received.
    fn one_write(write_size: usize, nodelay: bool) -> (u32, u32, u32, u64) {
        let (mut writer, mut reader) = pair(nodelay);
        let warm = thread::spawn(move || {
            let mut buf = vec![0u8; 1024 * 1024];
            let mut got = 0;
            while got < WARM_UP_BYTES {
                got += reader
                    .read(&mut buf[..(WARM_UP_BYTES - got).min(1024 * 1024)])
                    .unwrap();
            }
            reader.write_all(&[1]).unwrap();
            reader
        });
        writer.write_all(&vec![0u8; WARM_UP_BYTES]).unwrap();
        writer.read_exact(&mut [0u8; 1]).unwrap();
        let mut reader = warm.join().expect("warm-up reader panicked");
        let before_segs = tcp_info(&writer).tcpi_data_segs_out;
        let before_bytes = tcp_info(&reader).tcpi_bytes_received;
        writer.write_all(&vec![0x5Au8; write_size]).unwrap();
        reader.read_exact(&mut vec![0u8; write_size]).unwrap();
        let r = tcp_info(&reader);
        let w = tcp_info(&writer);
        (
            w.tcpi_data_segs_out - before_segs,
            w.tcpi_snd_mss,
            w.tcpi_pmtu,
            r.tcpi_bytes_received - before_bytes,
        )
    }

    pub fn main() {
        // cargo passes `--bench`; anything else not starting with `-` is the filter.
        let filter = std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .unwrap_or_default();
        println!(
            "{} MiB per case, reads as large as the writes; per write: data segments out, ACKs back, reads",
            STREAM_BYTES >> 20,
        );
        println!(
            "| case | GiB/s | CPU s / GiB | sleeps / write | data segs / write | mean segment (B) | ACKs / write | reads / write | rwnd-limited | sndbuf-limited | SO_SNDBUF at end (KiB) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        for size in WRITE_SIZES {
            for (nodelay, mode) in [true, false]
                .into_iter()
                .flat_map(|n| [Mode::Blocking, Mode::Poll, Mode::Tokio].map(|m| (n, m)))
            {
                let case = format!(
                    "write_{}/{}/{}",
                    size_name(size),
                    if nodelay { "nodelay" } else { "nagle" },
                    mode.name(),
                );
                if !case.contains(&filter) {
                    continue;
                }
                let s = stream(size, nodelay, mode);
                let w = &s.writer;
                let segs = w.tcpi_data_segs_out as f64;
                let busy = w.tcpi_busy_time.max(1) as f64;
                let gib = (s.writes * size as u64) as f64 / f64::from(1 << 30);
                println!(
                    "| {case} | {:.2} | {:.2} | {:.3} | {:.3} | {:.0} | {:.3} | {:.3} | {:.0}% | {:.0}% | {} |",
                    gib / s.secs,
                    s.cpu_secs / gib,
                    s.sleeps as f64 / s.writes as f64,
                    segs / s.writes as f64,
                    w.tcpi_bytes_sent as f64 / segs,
                    w.tcpi_segs_in as f64 / s.writes as f64,
                    s.reads as f64 / s.writes as f64,
                    100.0 * w.tcpi_rwnd_limited as f64 / busy,
                    100.0 * w.tcpi_sndbuf_limited as f64 / busy,
                    s.sndbuf / 1024,
                );
            }
        }
        println!();
        println!(
            "One write on an idle connection, after {} MiB streamed (TCP_NODELAY on):",
            WARM_UP_BYTES >> 20
        );
        for size in [LOOPBACK_MSS, 64 * 1024, 128 * 1024] {
            let (segs, mss, pmtu, bytes) = one_write(size, true);
            println!(
                "  {size} bytes -> {segs} data segments with snd_mss {mss} (pmtu {pmtu}): {} full + {} B (reader got {bytes} B)",
                size / mss as usize,
                size % mss as usize
            );
        }
    }
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("segments: TCP_INFO's segment counters are Linux's; nothing to print here");
}
