//! Single-stream loopback throughput of std::net::TcpStream: one writer in the bench loop,
//! one reader thread that drains the other end.
//!
//! Case names are built from the parameters: `write_64KiB/std/nodelay` is 64 KiB writes
//! through std with TCP_NODELAY on (`nagle` means off).

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Bytes per write call; each size is its own group.
const WRITE_SIZES: [usize; 3] = [4 * 1024, 64 * 1024, 1024 * 1024];

/// TCP_NODELAY settings to compare: true disables Nagle's algorithm.
const NODELAY: [bool; 2] = [true, false];

/// Measured time per case: short, so the 6 cases finish well within a minute on 2 cores.
const MEASUREMENT_TIME: Duration = Duration::from_secs(2);

/// Warm-up per case: lets the socket buffers autotune before measuring.
const WARM_UP_TIME: Duration = Duration::from_millis(500);

/// Samples per case (criterion's minimum).
const SAMPLE_SIZE: usize = 10;

/// Read buffer of the draining thread.
const DRAIN_BUFFER: usize = 1024 * 1024;

/// Bound on a single blocked write or read, so a broken reader fails the bench instead of
/// hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected writer and a thread that reads the other end to EOF, returning the count.
struct Loopback {
    writer: TcpStream,
    drain: thread::JoinHandle<u64>,
}

impl Loopback {
    fn new(nodelay: bool) -> Loopback {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let listener = TcpListener::bind(any).unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut reader, _) = listener.accept().unwrap();
        writer.set_nodelay(nodelay).unwrap();
        writer.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        reader.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let drain = thread::spawn(move || {
            let mut buf = vec![0u8; DRAIN_BUFFER];
            let mut total = 0u64;
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return total,
                    Ok(n) => total += n as u64,
                    Err(e) => panic!("drain failed: {e:?}"),
                }
            }
        });
        Loopback { writer, drain }
    }

    /// Half-closes the writer and waits for the reader to see EOF; returns bytes drained.
    fn finish(self) -> u64 {
        self.writer.shutdown(Shutdown::Write).unwrap();
        self.drain.join().expect("drain thread panicked")
    }
}

/// "4KiB", "64KiB", "1MiB".
fn size_name(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{}MiB", bytes / (1024 * 1024))
    } else {
        format!("{}KiB", bytes / 1024)
    }
}

fn loopback_throughput(c: &mut Criterion) {
    for size in WRITE_SIZES {
        let mut group = c.benchmark_group(format!("write_{}", size_name(size)));
        group
            .throughput(Throughput::Bytes(size as u64))
            .measurement_time(MEASUREMENT_TIME)
            .warm_up_time(WARM_UP_TIME)
            .sample_size(SAMPLE_SIZE);
        for nodelay in NODELAY {
            let delay_name = if nodelay { "nodelay" } else { "nagle" };
            let mut link = Loopback::new(nodelay);
            let payload = vec![0xA5u8; size];
            let mut written = 0u64;
            group.bench_function(BenchmarkId::new("std", delay_name), |b| {
                b.iter(|| {
                    link.writer.write_all(black_box(&payload)).unwrap();
                    written += size as u64;
                })
            });
            assert_eq!(link.finish(), written, "the reader missed bytes");
        }
        group.finish();
    }
}

criterion_group!(benches, loopback_throughput);
criterion_main!(benches);
