//! Who sets the pace over loopback: the same writes beside different readers and writers,
//! with each thread's CPU time.
//!
//!   cargo bench --bench pace [-- FILTER]
//!
//! Not a criterion bench: it prints one table (stdout). Each case streams `STREAM_BYTES`
//! over loopback in writes of one size, with one writer loop and one reader loop:
//! - writers: `blocking` (write_all on a blocking socket: the std bench's writer) or
//!   `select` (a non-blocking socket, select(2) for writability, then up to ten writes, as
//!   iperf3's client does);
//! - readers: `blocking` (one blocking read(2) per call, as large as the writes: the std
//!   engine's reader) or `iperf3` (iperf3's server loop: a non-blocking socket, select(2)
//!   before every read, then reads until the block is full or the socket is empty).
//!
//! Beside bytes per second it prints each thread's CPU time per GiB moved (getrusage with
//! RUSAGE_THREAD) and how often each slept (voluntary context switches), and the writer's
//! ACKs in and data segments out (TCP_INFO), and the machine's high-resolution timer
//! softirqs per MiB: without the fq qdisc (loopback has none) a paced socket waits for
//! each held segment's departure time with such a timer, so the column bounds from above
//! how often pacing held a segment (the count is the whole machine's, and other soft
//! hrtimers add to it). Every configuration runs
//! `ROUNDS` times, the configurations interleaved, so a change on the machine meets all of
//! them; cells are the median with the lowest and highest round. FILTER keeps the cases
//! whose name (`4KiB/nagle/blocking-writer/iperf3-reader/bbr/rbuf+0`) contains it.
//! `TCPLAB_BENCH_PIN=W,R` pins the writer to CPU W and the reader to CPU R, as in
//! benches/loopback.rs. `TCPLAB_BENCH_CC=bbr,cubic,cubic+paced` runs every case with each
//! congestion control named, set on the writer with TCP_CONGESTION (`+paced`: with the
//! kernel's own pacing turned on as well; `+paced@2GiB`: paced at 2 GiB/s at most; see
//! benches/common); unset, the cases run with the machine's default, which the last part
//! of each name gives. The writer's buffer starts on a page boundary, as iperf3's does, and
//! so does the reader's (`rbuf+0`, the name's last part) unless
//! `TCPLAB_BENCH_READ_OFFSET=0,3472` asks for a case at each of these offsets past a page
//! boundary (NOTES.md, "Where in its page the reader's buffer starts").
//!
//! # Notes
//! On Linux loopback hands every segment to the receiving stack on the CPU that sent it,
//! so the two threads split the stack's work between them depending on when each runs;
//! NOTES.md ("The reader sets the writer's pace") reads the table. Other systems: the bench
//! prints a line saying it measures Linux only (RUSAGE_THREAD and tcp_info are Linux's).

/// Bytes each case streams: a second or more at loopback speeds.
#[cfg(target_os = "linux")]
const STREAM_BYTES: u64 = 4 << 30;

/// Rounds over all configurations (`TCPLAB_PACE_ROUNDS` overrides).
#[cfg(target_os = "linux")]
const ROUNDS: usize = 3;

#[cfg(target_os = "linux")]
#[path = "common/mod.rs"]
mod common;

// RUSAGE_THREAD and tcp_info's counters are Linux's.
#[cfg(target_os = "linux")]
mod linux {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::common::{
        congestion_list, default_congestion, hrtimer_softirqs, iperf3_read, pin_to, pinning,
        read_offsets, select_one, set_congestion, tcp_info, Congestion, PageBuf,
    };
    use super::{ROUNDS, STREAM_BYTES};

    /// What iperf3's client writes per select(2) wake-up without a rate (its `multisend`).
    const IPERF3_MULTISEND: usize = 10;

    /// Bound on any one wait, so that a broken side fails the bench instead of hanging it.
    const IO_TIMEOUT: Duration = Duration::from_secs(30);

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Writer {
        Blocking,
        Select,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Reader {
        Blocking,
        Iperf3,
    }

    /// One thread's share: CPU seconds (user + system) and voluntary context switches.
    #[derive(Clone, Copy, Default)]
    struct Share {
        cpu: f64,
        sleeps: i64,
    }

    fn thread_share() -> Share {
        // SAFETY: rusage is plain data that getrusage fills in.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer; RUSAGE_THREAD is the calling thread.
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut r) }, 0);
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
        Share {
            cpu: t(r.ru_utime) + t(r.ru_stime),
            sleeps: r.ru_nvcsw,
        }
    }

    fn since(before: Share) -> Share {
        let now = thread_share();
        Share {
            cpu: now.cpu - before.cpu,
            sleeps: now.sleeps - before.sleeps,
        }
    }

    /// Reads to EOF into a buffer of `block` bytes that starts `offset` bytes past a page
    /// boundary; returns the bytes read, the read calls and the thread's share.
    fn read_all(mut r: TcpStream, block: usize, offset: usize, how: Reader) -> (u64, u64, Share) {
        let before = thread_share();
        let mut buf = PageBuf::new(block, offset, 0);
        let (mut total, mut calls) = (0u64, 0u64);
        if how == Reader::Blocking {
            r.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            loop {
                calls += 1;
                match r.read(buf.as_mut_slice()) {
                    Ok(0) => return (total, calls, since(before)),
                    Ok(n) => total += n as u64,
                    Err(e) => panic!("read failed: {e:?}"),
                }
            }
        }
        let (total, calls) = iperf3_read(&mut r, buf.as_mut_slice(), IO_TIMEOUT);
        (total, calls, since(before))
    }

    /// Writes `STREAM_BYTES` in writes of `payload`; returns the write calls.
    fn write_all(w: &mut TcpStream, payload: &[u8], how: Writer) -> u64 {
        let writes = STREAM_BYTES / payload.len() as u64;
        if how == Writer::Blocking {
            w.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
            for _ in 0..writes {
                w.write_all(payload).unwrap();
            }
            return writes;
        }
        w.set_nonblocking(true).unwrap();
        let (mut calls, mut done, mut off) = (0u64, 0u64, 0usize);
        let mut quiet_since = Instant::now();
        while done < writes {
            if !select_one(w.as_raw_fd(), true) {
                assert!(
                    quiet_since.elapsed() < IO_TIMEOUT,
                    "writer: no room for {IO_TIMEOUT:?}"
                );
                continue;
            }
            quiet_since = Instant::now();
            for _ in 0..IPERF3_MULTISEND {
                calls += 1;
                match w.write(&payload[off..]) {
                    Ok(n) => {
                        off += n;
                        if off == payload.len() {
                            off = 0;
                            done += 1;
                            if done == writes {
                                break;
                            }
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => panic!("write failed: {e:?}"),
                }
            }
        }
        w.set_nonblocking(false).unwrap();
        calls
    }

    /// One case's figures.
    struct Run {
        gib_per_s: f64,
        writer: Share,
        reader: Share,
        write_calls: u64,
        read_calls: u64,
        acks_in: u32,
        segs_out: u32,
        /// HRTIMER softirqs on all CPUs during the case; None without /proc/softirqs.
        hrtimers: Option<u64>,
    }

    /// One case: a write size, Nagle, the two loops, the congestion control (None: the
    /// machine's default, not set on the socket) and where in its page the reader's buffer
    /// starts.
    struct Case {
        name: String,
        size: usize,
        nodelay: bool,
        writer: Writer,
        reader: Reader,
        cc: Option<Congestion>,
        read_offset: usize,
    }

    fn run(case: &Case) -> Run {
        let Case {
            size,
            nodelay,
            writer,
            reader,
            read_offset,
            ..
        } = *case;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut w = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (r, _) = listener.accept().unwrap();
        w.set_nodelay(nodelay).unwrap();
        if let Some(cc) = &case.cc {
            set_congestion(&w, cc);
        }
        let pin = pinning();
        let drain = thread::spawn(move || {
            if let Some((_, cpu)) = pin {
                pin_to(cpu);
            }
            read_all(r, size, read_offset, reader)
        });
        // On a page boundary, as iperf3's client buffer is.
        let payload = PageBuf::new(size, 0, 0xA5);
        let payload = payload.as_slice();
        let hrtimers_before = hrtimer_softirqs();
        let before = thread_share();
        let t0 = Instant::now();
        let write_calls = write_all(&mut w, payload, writer);
        let info = tcp_info(&w);
        w.shutdown(std::net::Shutdown::Write).unwrap();
        let (got, read_calls, reader_share) = drain.join().expect("reader panicked");
        let secs = t0.elapsed().as_secs_f64();
        let writer_share = since(before);
        let hrtimers = hrtimers_before.zip(hrtimer_softirqs()).map(|(a, b)| b - a);
        let sent = STREAM_BYTES / size as u64 * size as u64;
        assert_eq!(got, sent, "the reader's count");
        Run {
            gib_per_s: sent as f64 / f64::from(1 << 30) / secs,
            writer: writer_share,
            reader: reader_share,
            write_calls,
            read_calls,
            acks_in: info.tcpi_segs_in,
            segs_out: info.tcpi_data_segs_out,
            hrtimers,
        }
    }

    fn size_name(bytes: usize) -> String {
        if bytes.is_multiple_of(1 << 20) {
            format!("{}MiB", bytes >> 20)
        } else {
            format!("{}KiB", bytes >> 10)
        }
    }

    /// "1.23 (1.10 to 1.40)" over the rounds' values.
    fn cell(mut values: Vec<f64>, decimals: usize) -> String {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        format!(
            "{median:.decimals$} ({:.decimals$} to {:.decimals$})",
            values[0],
            values[n - 1]
        )
    }

    pub fn main() {
        // cargo passes `--bench`; anything else not starting with `-` is the filter.
        let filter = std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .unwrap_or_default();
        let rounds = std::env::var("TCPLAB_PACE_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(ROUNDS);
        if let Some((w, _)) = pinning() {
            pin_to(w);
        }
        let default_cc = default_congestion();
        // None: the machine's default, left as it is.
        let ccs: Vec<Option<Congestion>> = match congestion_list() {
            l if l.is_empty() => vec![None],
            l => l.into_iter().map(Some).collect(),
        };
        let offsets = read_offsets();
        let mut cases = Vec::new();
        for size in [4 << 10, 1 << 20] {
            for nodelay in [false, true] {
                for writer in [Writer::Blocking, Writer::Select] {
                    for (reader, cc, read_offset) in [Reader::Blocking, Reader::Iperf3]
                        .into_iter()
                        .flat_map(|r| ccs.iter().map(move |cc| (r, cc)))
                        .flat_map(|(r, cc)| offsets.iter().map(move |&o| (r, cc, o)))
                    {
                        let name = format!(
                            "{}/{}/{}-writer/{}-reader/{}/rbuf+{read_offset}",
                            size_name(size),
                            if nodelay { "nodelay" } else { "nagle" },
                            if writer == Writer::Blocking {
                                "blocking"
                            } else {
                                "select"
                            },
                            if reader == Reader::Blocking {
                                "blocking"
                            } else {
                                "iperf3"
                            },
                            cc.as_ref().map_or(default_cc.clone(), Congestion::label),
                        );
                        if name.contains(&filter) {
                            cases.push(Case {
                                name,
                                size,
                                nodelay,
                                writer,
                                reader,
                                cc: cc.clone(),
                                read_offset,
                            });
                        }
                    }
                }
            }
        }
        let mut runs: Vec<Vec<Run>> = cases.iter().map(|_| Vec::new()).collect();
        for round in 1..=rounds {
            for (i, case) in cases.iter().enumerate() {
                eprintln!("round {round} of {rounds}: {}", case.name);
                runs[i].push(run(case));
            }
        }
        println!(
            "{} GiB per case, {rounds} rounds{}, machine's congestion control {default_cc}; median (lowest to highest); per GiB: CPU seconds of each thread; per MiB: sleeps, calls, ACKs, segments, hrtimer softirqs (whole machine)",
            STREAM_BYTES >> 30,
            pinning().map_or(String::new(), |(w, r)| format!(", writer on CPU {w}, reader on CPU {r}")),
        );
        println!("| case | GiB/s | writer CPU s/GiB | reader CPU s/GiB | writer sleeps/MiB | reader sleeps/MiB | writes/MiB | reads/MiB | ACKs in/MiB | data segments/MiB | hrtimer softirqs/MiB |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        let mib = (STREAM_BYTES >> 20) as f64;
        let gib = (STREAM_BYTES >> 30) as f64;
        for (case, rs) in cases.iter().zip(&runs) {
            let col = |f: &dyn Fn(&Run) -> f64, d| cell(rs.iter().map(f).collect(), d);
            let timers: Option<Vec<f64>> = rs
                .iter()
                .map(|r| r.hrtimers.map(|n| n as f64 / mib))
                .collect();
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                case.name,
                col(&|r| r.gib_per_s, 2),
                col(&|r| r.writer.cpu / gib, 3),
                col(&|r| r.reader.cpu / gib, 3),
                col(&|r| r.writer.sleeps as f64 / mib, 2),
                col(&|r| r.reader.sleeps as f64 / mib, 2),
                col(&|r| r.write_calls as f64 / mib, 1),
                col(&|r| r.read_calls as f64 / mib, 1),
                col(&|r| f64::from(r.acks_in) / mib, 2),
                col(&|r| f64::from(r.segs_out) / mib, 2),
                timers.map_or("-".to_owned(), |t| cell(t, 2)),
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
    println!("pace: per-thread CPU time (RUSAGE_THREAD) and TCP_INFO counters are Linux's; nothing to print here");
}
