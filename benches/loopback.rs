//! Loopback benches: single-stream throughput, connection set-up rate, and four writers
//! sharing one connection, each on std (blocking threads) and tokio (tasks).
//!
//! Case names are built from the parameters:
//! - `write_64KiB/std/nodelay/sysbuf`: 64 KiB writes through std with TCP_NODELAY on
//!   (`nagle`: off) and the system's buffer sizes (`buf1MiB`: SO_SNDBUF on the writer and
//!   SO_RCVBUF on the reader fixed at 1 MiB before the handshake). The reader is the same
//!   in every case and runs iperf3's server loop (see [`DrainStyle::Iperf3`]) with blocks of
//!   the write size, as iperf3's server reads its client's `-l`, so that the cases differ
//!   in their writer only and `scripts/iperf3-ratio` compares the same work;
//!   `TCPLAB_BENCH_DRAIN=engine` gives each case its engine's own reader instead;
//! - `connect/tokio`: one connect plus the matching accept, then both closed;
//! - `writers4_64KiB/std/mutex`: 4 writers, 64 KiB messages, one connection with a mutex
//!   around each whole message (`channel`: the writers feed one writer through a channel;
//!   `per_conn`: each writer has a connection of its own). Every byte is tagged with its
//!   writer; before each case is measured, a run of its own checks that every message
//!   arrives whole (the measured reader only drains, so the check does not slow it).
//!
//! Throughput is `Throughput::Bytes`: criterion prints bytes per second.
//!
//! `TCPLAB_BENCH_PIN=W,R` (Linux) pins the single-stream cases' writer to CPU W and reader
//! to CPU R (std: the bench thread and the drain thread; tokio: the bench thread and the
//! runtime's worker), to show how much of a figure is where the scheduler put the two;
//! iperf3's `-A W,R` does the same for its client and server.
//!
//! Every buffer a single-stream writer writes from or a reader reads into starts on a page
//! boundary, as iperf3's (which it maps from a file) do: over loopback, where a 1 MiB
//! reader's buffer started in its page cut the figure by 40% to 60% (NOTES.md, "Where in
//! its page the reader's buffer starts"). `TCPLAB_BENCH_READ_OFFSET=N` starts every
//! reader's buffer N bytes past a page boundary instead.
//!
//! `TCPLAB_BENCH_CC=NAME` (Linux) sets congestion control NAME (TCP_CONGESTION; `NAME+paced`
//! also turns the kernel's own pacing on, see benches/common) on both sockets of every
//! single-stream case, as iperf3's `-C NAME` does, instead of leaving the machine's
//! default: over loopback the algorithm decides these figures more than any loop here
//! (NOTES.md, "Against iperf3 with the same reader").

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use socket2::{Domain, Protocol, Socket, Type};
use tcplab::engine::{tag_byte, FrameCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "common/mod.rs"]
mod common;
use common::{congestion_list, pin_to, pinning, read_offsets, set_congestion, Congestion, PageBuf};

/// `TCPLAB_BENCH_CC` for the single-stream cases: one name at most (a case name has no
/// place for a list).
fn congestion() -> Option<Congestion> {
    let mut list = congestion_list();
    assert!(
        list.len() <= 1,
        "TCPLAB_BENCH_CC: this bench takes one congestion control, not a list"
    );
    list.pop()
}

/// `TCPLAB_BENCH_READ_OFFSET` for every reader here: one offset (default 0).
fn read_offset() -> usize {
    let list = read_offsets();
    assert!(
        list.len() == 1,
        "TCPLAB_BENCH_READ_OFFSET: this bench takes one offset, not a list (benches/pace.rs takes a list)"
    );
    list[0]
}

/// Bytes per write call; each size is its own group.
const WRITE_SIZES: [usize; 3] = [4 * 1024, 64 * 1024, 1024 * 1024];

/// TCP_NODELAY settings to compare: true disables Nagle's algorithm.
const NODELAY: [bool; 2] = [true, false];

/// Buffer sizes to compare: the system's (autotuning), or SO_SNDBUF/SO_RCVBUF fixed at
/// this many bytes (Linux doubles the request for its bookkeeping).
const BUFFERS: [Option<usize>; 2] = [None, Some(FIXED_BUFFER)];
const FIXED_BUFFER: usize = 1024 * 1024;

/// Measured time per single-stream case: 24 cases, about 3 s each with warm-up and
/// analysis, so this group takes a bit over a minute.
const MEASUREMENT_TIME: Duration = Duration::from_secs(2);

/// Measured time of the connection and concurrent-writer cases.
const SHORT_MEASUREMENT_TIME: Duration = Duration::from_secs(1);

/// Warm-up per case: lets the socket buffers autotune before measuring.
const WARM_UP_TIME: Duration = Duration::from_millis(500);

/// Samples per case (criterion's minimum).
const SAMPLE_SIZE: usize = 10;

/// Read buffer of the concurrent writers' reader: what iperf3 reads per call by default
/// (its default block). The single-stream readers read the write size instead.
const DRAIN_BUFFER: usize = 128 * 1024;

/// Bound on a single blocked write or read, so a broken reader fails the bench instead of
/// hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Writers sharing one connection, and the size of each of their messages.
const WRITERS: usize = 4;
const MESSAGE_SIZE: usize = 64 * 1024;

/// "4KiB", "64KiB", "1MiB".
fn size_name(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{}MiB", bytes / (1024 * 1024))
    } else {
        format!("{}KiB", bytes / 1024)
    }
}

fn delay_name(nodelay: bool) -> &'static str {
    if nodelay {
        "nodelay"
    } else {
        "nagle"
    }
}

fn buffer_name(buffer: Option<usize>) -> String {
    buffer.map_or("sysbuf".to_owned(), |b| format!("buf{}", size_name(b)))
}

/// A connected pair over loopback, set up through socket2 so that SO_RCVBUF (on the
/// listener, inherited by the accepted socket) and SO_SNDBUF are in place before the
/// handshake sizes the window.
fn std_pair(
    nodelay: bool,
    buffer: Option<usize>,
    cc: Option<&Congestion>,
) -> (TcpStream, TcpStream) {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    if let Some(b) = buffer {
        listener.set_recv_buffer_size(b).unwrap();
    }
    listener.bind(&any.into()).unwrap();
    listener.listen(1).unwrap();
    let listener: TcpListener = listener.into();
    let writer = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    if let Some(b) = buffer {
        writer.set_send_buffer_size(b).unwrap();
    }
    writer
        .connect(&listener.local_addr().unwrap().into())
        .unwrap();
    let writer: TcpStream = writer.into();
    let (reader, _) = listener.accept().unwrap();
    writer.set_nodelay(nodelay).unwrap();
    if let Some(cc) = cc {
        set_congestion(&writer, cc);
        set_congestion(&reader, cc);
    }
    writer.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    reader.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    (writer, reader)
}

/// Counts `bytes` a drain read into `total` and feeds them to `check`.
fn drained(total: &mut u64, check: &mut Option<FrameCheck>, bytes: &[u8]) {
    *total += bytes.len() as u64;
    if let Some(c) = check {
        c.feed(bytes);
    }
}

/// Adds `cpu` to the calling thread's CPUs (undoing [`pin_to`] one CPU at a time).
fn pin_also(cpu: usize) {
    #[cfg(target_os = "linux")]
    // As in pin_to.
    {
        // SAFETY: the set is read whole, one bit set in it and written back.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            libc::sched_getaffinity(0, size, &mut set);
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, size, &set);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// A thread that reads `reader` to EOF with `read_size` reads, feeding every byte to
/// `check`; returns it.
fn drain_thread(
    mut reader: TcpStream,
    mut check: Option<FrameCheck>,
    read_size: usize,
) -> StdDrain {
    let pin = pinning();
    thread::spawn(move || {
        if let Some((_, r)) = pin {
            pin_to(r);
        }
        let mut buf = PageBuf::new(read_size, read_offset(), 0);
        let mut total = 0u64;
        loop {
            match reader.read(buf.as_mut_slice()) {
                Ok(0) => return (total, check),
                Ok(n) => drained(&mut total, &mut check, &buf.as_slice()[..n]),
                Err(e) => panic!("drain failed: {e:?}"),
            }
        }
    })
}

/// How the single-stream cases' reader reads (`TCPLAB_BENCH_DRAIN`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum DrainStyle {
    /// `iperf3` (the default): iperf3's server loop, in a thread of its own for both
    /// engines: the socket non-blocking, select(2) before every read, then reads until the
    /// block is full or the socket has nothing more (iperf3 3.12's `iperf_recv` and
    /// `Nread`). The cases then differ in their writer only, and `scripts/iperf3-ratio`
    /// compares the same reader on both sides.
    Iperf3,
    /// `engine`: the case's engine reads: a blocking read(2) per call in a thread (std), a
    /// task on the runtime (tokio). How fast a writer goes over loopback depends on how
    /// its reader reads (NOTES.md, "The reader sets the writer's pace").
    Engine,
}

/// `TCPLAB_BENCH_DRAIN=iperf3|engine` (default iperf3); anything else stops the bench.
fn drain_style() -> DrainStyle {
    match std::env::var("TCPLAB_BENCH_DRAIN").as_deref() {
        Err(_) | Ok("") | Ok("iperf3") => DrainStyle::Iperf3,
        Ok("engine") => DrainStyle::Engine,
        Ok(other) => panic!("TCPLAB_BENCH_DRAIN is iperf3 or engine, not {other:?}"),
    }
}

/// A thread that drains `reader` to EOF as iperf3's server does (see
/// [`DrainStyle::Iperf3`]), `block` bytes per block; returns the bytes read. Where select(2)
/// is not available, it reads as [`drain_thread`] does.
fn iperf3_drain_thread(reader: TcpStream, block: usize) -> StdDrain {
    #[cfg(unix)]
    {
        let pin = pinning();
        thread::spawn(move || {
            if let Some((_, r)) = pin {
                pin_to(r);
            }
            let mut reader = reader;
            let mut buf = PageBuf::new(block, read_offset(), 0);
            (
                common::iperf3_read(&mut reader, buf.as_mut_slice(), IO_TIMEOUT).0,
                None,
            )
        })
    }
    #[cfg(not(unix))]
    drain_thread(reader, None, block)
}

/// The multi-thread runtime the tokio cases run on: the bench thread drives the writer
/// (`block_on`), one worker polls the I/O driver and, with `TCPLAB_BENCH_DRAIN=engine`,
/// runs the reader, as std has one thread each.
fn runtime(workers: usize) -> tokio::runtime::Runtime {
    runtime_pinned(workers, None)
}

/// [`runtime`] with its workers pinned to `cpu` when given.
fn runtime_pinned(workers: usize, cpu: Option<usize>) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(cpu) = cpu {
        b.on_thread_start(move || pin_to(cpu));
    }
    b.worker_threads(workers).enable_all().build().unwrap()
}

/// A task that reads `reader` to EOF with `read_size` reads, feeding every byte to `check`.
fn drain_task(
    rt: &tokio::runtime::Runtime,
    mut reader: tokio::net::TcpStream,
    mut check: Option<FrameCheck>,
    read_size: usize,
) -> TokioDrain {
    rt.spawn(async move {
        let mut buf = PageBuf::new(read_size, read_offset(), 0);
        let mut total = 0u64;
        loop {
            match reader.read(buf.as_mut_slice()).await {
                Ok(0) => return (total, check),
                Ok(n) => drained(&mut total, &mut check, &buf.as_slice()[..n]),
                Err(e) => panic!("drain failed: {e:?}"),
            }
        }
    })
}

fn to_tokio(s: TcpStream) -> tokio::net::TcpStream {
    s.set_nonblocking(true).unwrap();
    tokio::net::TcpStream::from_std(s).unwrap()
}

// ---------------------------------------------------------------------------------------
// single stream
// ---------------------------------------------------------------------------------------

/// A single-stream tokio case's reader: a thread ([`DrainStyle::Iperf3`]) or a task.
enum Drain {
    Thread(StdDrain),
    Task(TokioDrain),
}

fn single_stream(c: &mut Criterion) {
    // A bad TCPLAB_BENCH_READ_OFFSET stops the bench here rather than in a reader thread.
    read_offset();
    let style = drain_style();
    let cc = congestion();
    // Pinned for the single-stream cases only: the later groups run unpinned.
    let all_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some((w, _)) = pinning() {
        pin_to(w);
    }
    for size in WRITE_SIZES {
        let mut group = c.benchmark_group(format!("write_{}", size_name(size)));
        group
            .throughput(Throughput::Bytes(size as u64))
            .measurement_time(MEASUREMENT_TIME)
            .warm_up_time(WARM_UP_TIME)
            .sample_size(SAMPLE_SIZE);
        // On a page boundary, as iperf3's client buffer is.
        let payload = PageBuf::new(size, 0, 0xA5);
        let payload = payload.as_slice();
        for nodelay in NODELAY {
            for buffer in BUFFERS {
                let case = format!("{}/{}", delay_name(nodelay), buffer_name(buffer));

                let (mut writer, reader) = std_pair(nodelay, buffer, cc.as_ref());
                let drain = match style {
                    DrainStyle::Iperf3 => iperf3_drain_thread(reader, size),
                    DrainStyle::Engine => drain_thread(reader, None, size),
                };
                let mut written = 0u64;
                group.bench_function(BenchmarkId::new("std", &case), |b| {
                    b.iter(|| {
                        writer.write_all(black_box(payload)).unwrap();
                        written += size as u64;
                    })
                });
                writer.shutdown(Shutdown::Write).unwrap();
                let (drained, _) = drain.join().expect("drain thread panicked");
                assert_eq!(drained, written, "the reader missed bytes");

                let rt = runtime_pinned(1, pinning().map(|(_, r)| r));
                let (writer, reader) = std_pair(nodelay, buffer, cc.as_ref());
                let _entered = rt.enter();
                let mut writer = to_tokio(writer);
                let drain = match style {
                    DrainStyle::Iperf3 => Drain::Thread(iperf3_drain_thread(reader, size)),
                    DrainStyle::Engine => {
                        Drain::Task(drain_task(&rt, to_tokio(reader), None, size))
                    }
                };
                let mut written = 0u64;
                group.bench_function(BenchmarkId::new("tokio", &case), |b| {
                    b.iter_custom(|iters| {
                        written += iters * size as u64;
                        rt.block_on(async {
                            let t0 = Instant::now();
                            for _ in 0..iters {
                                writer.write_all(black_box(payload)).await.unwrap();
                            }
                            t0.elapsed()
                        })
                    })
                });
                rt.block_on(writer.shutdown()).unwrap();
                let (drained, _) = match drain {
                    Drain::Thread(t) => t.join().expect("drain thread panicked"),
                    Drain::Task(t) => rt.block_on(t).expect("drain task panicked"),
                };
                assert_eq!(drained, written, "the reader missed bytes");
            }
        }
        group.finish();
    }
    if pinning().is_some() {
        for cpu in 0..all_cpus {
            pin_also(cpu);
        }
    }
}

// ---------------------------------------------------------------------------------------
// connection set-up
// ---------------------------------------------------------------------------------------

fn connection_setup(c: &mut Criterion) {
    let mut group = c.benchmark_group("connect");
    group
        .throughput(Throughput::Elements(1))
        .measurement_time(SHORT_MEASUREMENT_TIME)
        .warm_up_time(WARM_UP_TIME)
        .sample_size(SAMPLE_SIZE);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();

    let listener = TcpListener::bind(any).unwrap();
    let addr = listener.local_addr().unwrap();
    group.bench_function("std", |b| {
        b.iter(|| {
            let client = TcpStream::connect(addr).unwrap();
            let (server, _) = listener.accept().unwrap();
            black_box((client, server));
        })
    });

    let rt = runtime(1);
    let listener = rt.block_on(tokio::net::TcpListener::bind(any)).unwrap();
    let addr = listener.local_addr().unwrap();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (client, accepted) =
                    tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
                black_box((client.unwrap(), accepted.unwrap()));
            })
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------
// four writers, one connection
// ---------------------------------------------------------------------------------------

/// Writer `w`'s message; the same for every message, since MESSAGE_SIZE is a multiple
/// of the 16 positions a tag tells apart.
fn tagged_message(w: usize) -> Arc<Vec<u8>> {
    const _: () = assert!(MESSAGE_SIZE.is_multiple_of(16));
    Arc::new((0..MESSAGE_SIZE).map(|i| tag_byte(w, i)).collect())
}

/// Checks that `check` saw `messages` whole messages and nothing else.
fn assert_intact(check: &FrameCheck, messages: u64, case: &str) {
    assert_eq!(check.corrupt, 0, "{case}: corrupt bytes");
    assert_eq!(check.interleaved, 0, "{case}: interleaved messages");
    assert_eq!(check.intact as u64, messages, "{case}: messages lost");
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// A mutex around each whole message on one shared connection.
    Mutex,
    /// The writers send their messages through a channel to one writer.
    Channel,
    /// Every writer has its own connection.
    PerConn,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Mutex => "mutex",
            Strategy::Channel => "channel",
            Strategy::PerConn => "per_conn",
        }
    }

    /// How many connections the writers use.
    fn conns(self) -> usize {
        if self == Strategy::PerConn {
            WRITERS
        } else {
            1
        }
    }
}

/// With `check`, the frame check for the reader of connection `k` of `conns`.
fn link_check(conns: usize, k: usize, check: bool) -> Option<FrameCheck> {
    // On a connection of its own, writer k keeps its tag: the check knows k+1 writers.
    let writers = if conns == 1 { WRITERS } else { k + 1 };
    check.then(|| FrameCheck::new(writers, MESSAGE_SIZE))
}

const STRATEGIES: [Strategy; 3] = [Strategy::Mutex, Strategy::Channel, Strategy::PerConn];

/// Messages per writer in the run that checks the frames before a case is measured.
const VERIFY_MESSAGES: u64 = 64;

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// What a reader found: bytes drained, and its frame check when it made one.
type Drained = (u64, Option<FrameCheck>);
type StdDrain = thread::JoinHandle<Drained>;
type TokioDrain = tokio::task::JoinHandle<Drained>;

/// The connections of a strategy (one, or one per writer) and their readers; with
/// `check`, each reader checks every frame.
fn std_links(strategy: Strategy, check: bool) -> (Vec<Mutex<TcpStream>>, Vec<StdDrain>) {
    let conns = strategy.conns();
    let mut links = Vec::new();
    let mut drains = Vec::new();
    for k in 0..conns {
        let (w, r) = std_pair(true, None, None);
        let c = link_check(conns, k, check);
        links.push(Mutex::new(w));
        drains.push(drain_thread(r, c, DRAIN_BUFFER));
    }
    (links, drains)
}

/// One batch on std: each writer thread writes `iters` messages.
fn std_batch(strategy: Strategy, links: &[Mutex<TcpStream>], iters: u64) -> Duration {
    let messages: Vec<Arc<Vec<u8>>> = (0..WRITERS).map(tagged_message).collect();
    let t0 = Instant::now();
    thread::scope(|s| match strategy {
        Strategy::Mutex | Strategy::PerConn => {
            for (w, msg) in messages.iter().enumerate() {
                let conn = &links[w % links.len()];
                s.spawn(move || {
                    for _ in 0..iters {
                        conn.lock().unwrap().write_all(msg).unwrap();
                    }
                });
            }
        }
        Strategy::Channel => {
            let (tx, rx) = mpsc::sync_channel::<Arc<Vec<u8>>>(WRITERS);
            let conn = &links[0];
            s.spawn(move || {
                let mut conn = conn.lock().unwrap();
                for msg in rx {
                    conn.write_all(&msg).unwrap();
                }
            });
            for msg in &messages {
                let tx = tx.clone();
                s.spawn(move || {
                    for _ in 0..iters {
                        tx.send(Arc::clone(msg)).unwrap();
                    }
                });
            }
        }
    });
    t0.elapsed()
}

/// Half-closes every connection and returns what each reader counted and checked.
fn std_finish(links: Vec<Mutex<TcpStream>>, drains: Vec<StdDrain>) -> Vec<Drained> {
    for w in &links {
        w.lock().unwrap().shutdown(Shutdown::Write).unwrap();
    }
    drains
        .into_iter()
        .map(|d| d.join().expect("drain thread panicked"))
        .collect()
}

/// Checks the readers' findings after `sent` messages per writer.
fn assert_all_intact(found: &[Drained], sent: u64, case: &str) {
    let per_conn = if found.len() == 1 { WRITERS as u64 } else { 1 };
    for (k, (bytes, check)) in found.iter().enumerate() {
        assert_eq!(
            *bytes,
            sent * per_conn * MESSAGE_SIZE as u64,
            "{case}: conn {k}"
        );
        if let Some(check) = check {
            assert_intact(check, sent * per_conn, case);
        }
    }
}

/// std: writer threads, spawned per batch. The frames are checked in a run of their own
/// before measuring, so that the measured reader only drains.
fn std_writers(strategy: Strategy, group: &mut Group<'_>) {
    let case = format!("std/{}", strategy.name());
    let (links, drains) = std_links(strategy, true);
    std_batch(strategy, &links, VERIFY_MESSAGES);
    assert_all_intact(&std_finish(links, drains), VERIFY_MESSAGES, &case);

    let (links, drains) = std_links(strategy, false);
    let mut sent = 0u64;
    group.bench_function(BenchmarkId::new("std", strategy.name()), |b| {
        b.iter_custom(|iters| {
            sent += iters;
            std_batch(strategy, &links, iters)
        })
    });
    assert_all_intact(&std_finish(links, drains), sent, &case);
}

type TokioLink = Arc<tokio::sync::Mutex<tokio::net::TcpStream>>;

fn tokio_links(
    rt: &tokio::runtime::Runtime,
    strategy: Strategy,
    check: bool,
) -> (Vec<TokioLink>, Vec<TokioDrain>) {
    let _entered = rt.enter();
    let conns = strategy.conns();
    let mut links = Vec::new();
    let mut drains = Vec::new();
    for k in 0..conns {
        let (w, r) = std_pair(true, None, None);
        let c = link_check(conns, k, check);
        links.push(Arc::new(tokio::sync::Mutex::new(to_tokio(w))));
        drains.push(drain_task(rt, to_tokio(r), c, DRAIN_BUFFER));
    }
    (links, drains)
}

/// One batch on tokio: each writer task writes `iters` messages.
fn tokio_batch(
    rt: &tokio::runtime::Runtime,
    strategy: Strategy,
    links: &[TokioLink],
    iters: u64,
) -> Duration {
    let messages: Vec<Arc<Vec<u8>>> = (0..WRITERS).map(tagged_message).collect();
    rt.block_on(async {
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        match strategy {
            Strategy::Mutex | Strategy::PerConn => {
                for (w, msg) in messages.iter().enumerate() {
                    let conn = Arc::clone(&links[w % links.len()]);
                    let msg = Arc::clone(msg);
                    tasks.push(tokio::spawn(async move {
                        for _ in 0..iters {
                            conn.lock().await.write_all(&msg).await.unwrap();
                        }
                    }));
                }
            }
            Strategy::Channel => {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Arc<Vec<u8>>>(WRITERS);
                let conn = Arc::clone(&links[0]);
                tasks.push(tokio::spawn(async move {
                    let mut conn = conn.lock().await;
                    while let Some(msg) = rx.recv().await {
                        conn.write_all(&msg).await.unwrap();
                    }
                }));
                for msg in &messages {
                    let tx = tx.clone();
                    let msg = Arc::clone(msg);
                    tasks.push(tokio::spawn(async move {
                        for _ in 0..iters {
                            tx.send(Arc::clone(&msg)).await.unwrap();
                        }
                    }));
                }
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        t0.elapsed()
    })
}

fn tokio_finish(
    rt: &tokio::runtime::Runtime,
    links: Vec<TokioLink>,
    drains: Vec<TokioDrain>,
) -> Vec<Drained> {
    rt.block_on(async {
        for w in &links {
            w.lock().await.shutdown().await.unwrap();
        }
        let mut found = Vec::new();
        for d in drains {
            found.push(d.await.expect("drain task panicked"));
        }
        found
    })
}

/// tokio: writer tasks on a two-worker runtime, spawned per batch; frames checked first,
/// as for std.
fn tokio_writers(strategy: Strategy, group: &mut Group<'_>) {
    let case = format!("tokio/{}", strategy.name());
    let rt = runtime(2);
    let (links, drains) = tokio_links(&rt, strategy, true);
    tokio_batch(&rt, strategy, &links, VERIFY_MESSAGES);
    assert_all_intact(&tokio_finish(&rt, links, drains), VERIFY_MESSAGES, &case);

    let (links, drains) = tokio_links(&rt, strategy, false);
    let mut sent = 0u64;
    group.bench_function(BenchmarkId::new("tokio", strategy.name()), |b| {
        b.iter_custom(|iters| {
            sent += iters;
            tokio_batch(&rt, strategy, &links, iters)
        })
    });
    assert_all_intact(&tokio_finish(&rt, links, drains), sent, &case);
}

fn concurrent_writers(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("writers{WRITERS}_{}", size_name(MESSAGE_SIZE)));
    group
        .throughput(Throughput::Bytes((WRITERS * MESSAGE_SIZE) as u64))
        .measurement_time(SHORT_MEASUREMENT_TIME)
        .warm_up_time(WARM_UP_TIME)
        .sample_size(SAMPLE_SIZE);
    for strategy in STRATEGIES {
        std_writers(strategy, &mut group);
        tokio_writers(strategy, &mut group);
    }
    group.finish();
}

criterion_group!(benches, single_stream, connection_setup, concurrent_writers);
criterion_main!(benches);
