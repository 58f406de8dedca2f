//! The wire's relay on real sockets: A ─veth─ W ─veth─ B in three fresh network
//! namespaces, the relay in W, a TCP connection from A to B through it.
//!
//! As root with iproute2's `ip` installed; otherwise each test says SKIPPED and passes.
//! The topology is built here with `ip` (the project's netlink topology lives elsewhere);
//! nothing is named under /run/netns and everything ends with the test's descriptors.

// Network namespaces, veths and packet sockets are Linux's.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use tcplab::scenario::wire::{Dir, Fault, Host, WireChange, WireSpec};
use tcplab::wire::{Relay, WireLog};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 2);
const SEED: u64 = 20240611;

/// Longest any one socket call, channel wait or transfer may take in these tests.
const LIMIT: Duration = Duration::from_secs(30);

/// The payload pattern: byte `i` of the stream is `i % 251` (a prime, so a lost, doubled
/// or swapped segment shows), written from a buffer of whole periods.
const PERIOD: usize = 251;
const CHUNK: usize = PERIOD * 256;

/// SIOCETHTOOL and ETHTOOL_STXCSUM (linux/sockios.h, linux/ethtool.h): what
/// `ethtool -K IF tx off` does, for machines without ethtool.
const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_STXCSUM: u32 = 0x17;

fn skipped(test: &str, why: &str) {
    let _ = writeln!(io::stderr(), "SKIPPED {test}: {why}");
}

// ---- namespaces and the topology -----------------------------------------------------------

/// A network namespace held by a descriptor.
struct Ns(File);

impl Ns {
    fn fresh() -> io::Result<Ns> {
        std::thread::spawn(|| {
            // SAFETY: unshare takes a flag word and changes only this thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            File::open("/proc/thread-self/ns/net").map(Ns)
        })
        .join()
        .expect("the namespace thread")
    }

    fn enter(&self) -> io::Result<()> {
        // SAFETY: setns takes a descriptor we own; it moves only this thread.
        if unsafe { libc::setns(self.0.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Runs `f` on a thread of its own inside this namespace.
    fn run<T: Send>(&self, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter()?;
                f()
            })
            .join()
            .expect("a thread in a namespace")
        })
    }

    /// The path `ip ... netns PATH` takes for this namespace.
    fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.0.as_raw_fd())
    }

    /// `ip ARGS` inside this namespace (a child inherits its thread's namespace).
    fn ip(&self, args: &str) -> io::Result<()> {
        self.run(|| {
            let out = Command::new("ip")
                .args(args.split_whitespace())
                .stdin(Stdio::null())
                .output()?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                return Err(io::Error::other(format!("ip {args}: {}", err.trim())));
            }
            Ok(())
        })
    }
}

/// Turns TX checksum offload off on `ifname` of the calling thread's namespace.
fn tx_checksum_off(ifname: &str) -> io::Result<()> {
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    let mut value = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: 0,
    };
    // SAFETY: a plain socket call; closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(ifname.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // SAFETY: SIOCETHTOOL reads the ifreq and the ethtool_value it points to, both alive.
    let rc = unsafe { libc::ioctl(fd, SIOCETHTOOL as _, &mut req) };
    let err = io::Error::last_os_error();
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return Err(err);
    }
    Ok(())
}

/// How a host's end of a veth is set up.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    /// The kernel's defaults: TSO and TX checksum offload on (frames of up to 64 KiB
    /// with partial checksums cross a veth; a relay cannot carry them).
    Defaults,
    /// TX checksum offload off: the kernel then also drops scatter-gather and so TSO and
    /// GSO, and every frame is at most one MTU with its checksum filled in. What the
    /// relay needs.
    TxOff,
    /// TX off and `gso_max_segs 1` as well (the brief's first plan), to measure its cost.
    TxOffOneSegment,
}

/// A host's end of a veth set up as `end`, with an address, up.
fn host_end(ns: &Ns, ifname: &str, ip: Ipv4Addr, end: End) -> io::Result<()> {
    if end == End::TxOffOneSegment {
        ns.ip(&format!("link set {ifname} gso_max_segs 1"))?;
    }
    if end != End::Defaults {
        ns.run(|| tx_checksum_off(ifname))?;
    }
    ns.ip(&format!("addr add {ip}/24 dev {ifname}"))?;
    ns.ip(&format!("link set {ifname} up"))
}

/// A ─ wa (W) wb ─ B, or the reason it cannot be built here.
struct Topology {
    w: Ns,
    a: Ns,
    b: Ns,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn three_hosts() -> Result<Topology, String> {
    if !is_root() {
        return Err("needs root".to_owned());
    }
    let fresh = || Ns::fresh().map_err(|e| format!("cannot make a network namespace: {e}"));
    let t = Topology {
        w: fresh()?,
        a: fresh()?,
        b: fresh()?,
    };
    let build = || -> io::Result<()> {
        t.w.ip(&format!(
            "link add wa type veth peer name a0 netns {}",
            t.a.path()
        ))?;
        t.w.ip(&format!(
            "link add wb type veth peer name b0 netns {}",
            t.b.path()
        ))?;
        t.w.ip("link set wa up")?;
        t.w.ip("link set wb up")?;
        host_end(&t.a, "a0", A_IP, End::TxOff)?;
        host_end(&t.b, "b0", B_IP, End::TxOff)
    };
    build().map_err(|e| format!("cannot build the topology: {e}"))?;
    Ok(t)
}

/// A ─ B on one plain veth pair, its ends set up as `end` (for the measurement).
fn two_hosts(end: End) -> Result<(Ns, Ns), String> {
    let a = Ns::fresh().map_err(|e| e.to_string())?;
    let b = Ns::fresh().map_err(|e| e.to_string())?;
    let build = || -> io::Result<()> {
        a.ip(&format!(
            "link add a0 type veth peer name b0 netns {}",
            b.path()
        ))?;
        host_end(&a, "a0", A_IP, end)?;
        host_end(&b, "b0", B_IP, end)
    };
    build().map_err(|e| e.to_string())?;
    Ok((a, b))
}

impl Topology {
    fn relay(&self, spec: WireSpec) -> Relay {
        self.w
            .run(|| Relay::start("wa", "wb", spec, SEED, Instant::now()))
            .expect("the relay starts in W")
    }
}

// ---- transfers -----------------------------------------------------------------------------

/// A listener on B's address, port 0, whose accept gives up after [`LIMIT`].
fn listener(b: &Ns) -> (Socket, SocketAddr) {
    b.run(|| {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        s.bind(&SocketAddr::V4(SocketAddrV4::new(B_IP, 0)).into())?;
        s.listen(16)?;
        // On Linux SO_RCVTIMEO bounds accept too.
        s.set_read_timeout(Some(LIMIT))?;
        let addr = s.local_addr()?.as_socket().expect("an inet address");
        Ok((s, addr))
    })
    .expect("a listener in B")
}

fn connect(a: &Ns, to: SocketAddr, limit: Duration) -> io::Result<TcpStream> {
    a.run(|| {
        let s = TcpStream::connect_timeout(&to, limit)?;
        s.set_read_timeout(Some(LIMIT))?;
        s.set_write_timeout(Some(LIMIT))?;
        Ok(s)
    })
}

/// What the receiving side counted.
struct Received {
    bytes: usize,
    /// The offset of the first byte out of the pattern, if one was.
    first_wrong: Option<usize>,
}

/// Moves `total` pattern bytes from A to B through whatever joins them: what B received
/// and how long from the first write to B's end of stream.
fn transfer(a: &Ns, b: &Ns, total: usize) -> (Received, Duration) {
    let (l, addr) = listener(b);
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || {
            let got = (|| -> io::Result<(Received, Instant)> {
                let (c, _) = l.accept()?;
                let mut c: TcpStream = c.into();
                c.set_read_timeout(Some(LIMIT))?;
                let mut buf = vec![0u8; 1 << 16];
                let mut r = Received {
                    bytes: 0,
                    first_wrong: None,
                };
                loop {
                    let n = c.read(&mut buf)?;
                    if n == 0 {
                        return Ok((r, Instant::now()));
                    }
                    if r.first_wrong.is_none() {
                        let wrong = buf[..n]
                            .iter()
                            .enumerate()
                            .position(|(i, &x)| x != ((r.bytes + i) % PERIOD) as u8);
                        r.first_wrong = wrong.map(|i| r.bytes + i);
                    }
                    r.bytes += n;
                }
            })();
            let _ = done_tx.send(got);
        });
        let mut c = connect(a, addr, LIMIT).expect("A connects to B");
        let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % PERIOD) as u8).collect();
        let start = Instant::now();
        let mut left = total;
        while left > 0 {
            let n = left.min(CHUNK);
            c.write_all(&chunk[..n]).expect("A writes");
            left -= n;
        }
        c.shutdown(Shutdown::Write).expect("A shuts down");
        let (got, end) = done_rx
            .recv_timeout(LIMIT * 2)
            .expect("B ends within the limit")
            .expect("B reads to the end");
        (got, end - start)
    })
}

fn stop(relay: Relay) -> WireLog {
    relay.stop().expect("the relay stops")
}

fn mbit_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64() / 1e6
}

// ---- tests ---------------------------------------------------------------------------------

const MEGABYTE: usize = 1 << 20;

#[test]
fn a_megabyte_crosses_a_clean_wire_whole_and_in_order() {
    let t = match three_hosts() {
        Ok(t) => t,
        Err(why) => return skipped("a_megabyte_crosses_a_clean_wire", &why),
    };
    let relay = t.relay(WireSpec::default());
    let (got, _) = transfer(&t.a, &t.b, MEGABYTE);
    let log = stop(relay);
    assert_eq!(got.bytes, MEGABYTE);
    assert_eq!(got.first_wrong, None);
    assert_eq!(log.error, None);
    assert!(
        log.events.is_empty(),
        "a clean wire logs nothing: {:?}",
        log.events
    );
    for d in Dir::ALL {
        let c = log.frames.get(d);
        assert_eq!(c.frames_in, c.frames_out, "{d}: {c:?}");
        assert_eq!((c.dropped, c.send_failed), (0, 0), "{d}: {c:?}");
    }
    assert!(log.frames.a_to_b.frames_in > (MEGABYTE / 1500) as u64);
}

#[test]
fn a_megabyte_crosses_two_percent_loss_whole_and_in_order() {
    let t = match three_hosts() {
        Ok(t) => t,
        Err(why) => return skipped("a_megabyte_crosses_two_percent_loss", &why),
    };
    let lossy = Fault {
        loss: Some(2.0),
        ..Fault::default()
    };
    let relay = t.relay(WireSpec {
        a_to_b: lossy.clone(),
        b_to_a: lossy,
        seed: Some(SEED),
    });
    let (got, _) = transfer(&t.a, &t.b, MEGABYTE);
    let log = stop(relay);
    assert_eq!(got.bytes, MEGABYTE);
    assert_eq!(got.first_wrong, None);
    let lost = log
        .events
        .iter()
        .filter(|e| e.action.starts_with("dropped: loss #"))
        .count();
    assert!(lost > 0, "2% of about a thousand frames");
    assert_eq!(
        lost as u64,
        log.frames.a_to_b.dropped + log.frames.b_to_a.dropped
    );
    assert_eq!(log.seed, SEED);
}

#[test]
fn a_blackhole_times_a_connect_out_until_it_is_cleared() {
    let t = match three_hosts() {
        Ok(t) => t,
        Err(why) => return skipped("a_blackhole_times_a_connect_out", &why),
    };
    let relay = t.relay(WireSpec {
        a_to_b: Fault::blackhole(),
        ..WireSpec::default()
    });
    let (_l, addr) = listener(&t.b);
    match connect(&t.a, addr, Duration::from_millis(300)) {
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
        other => panic!("a connect into a blackhole: {other:?}"),
    }
    relay
        .change(WireChange::Clear {
            dir: Dir::AtoB,
            fields: vec![],
        })
        .expect("the relay takes the change");
    // A's neighbour entry for B is still being resolved: its next probe passes.
    connect(&t.a, addr, Duration::from_secs(5)).expect("a connect once the blackhole is gone");
    let log = stop(relay);
    let holes = log
        .events
        .iter()
        .filter(|e| e.action == "dropped: blackhole")
        .count();
    assert!(holes > 0);
    assert!(log.events.iter().all(|e| e.dir == Dir::AtoB));
}

#[test]
fn a_reset_toward_b_resets_bs_socket() {
    let t = match three_hosts() {
        Ok(t) => t,
        Err(why) => return skipped("a_reset_toward_b_resets_bs_socket", &why),
    };
    let relay = t.relay(WireSpec::default());
    let (l, addr) = listener(&t.b);
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (out_tx, out_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || {
            let got = (|| -> io::Result<io::Result<usize>> {
                let (c, _) = l.accept()?;
                let mut c: TcpStream = c.into();
                c.set_read_timeout(Some(LIMIT))?;
                let mut buf = [0u8; 100];
                c.read_exact(&mut buf)?;
                // The reply carries B's acknowledgement of all 100 bytes past the wire.
                c.write_all(&buf)?;
                go_rx.recv_timeout(LIMIT).map_err(io::Error::other)?;
                Ok(c.read(&mut buf))
            })();
            let _ = out_tx.send(got);
        });
        let mut c = connect(&t.a, addr, LIMIT).expect("A connects");
        c.write_all(&[7u8; 100]).expect("A writes");
        let mut back = [0u8; 100];
        c.read_exact(&mut back).expect("A reads B's reply");
        relay
            .change(WireChange::Reset { toward: Host::B })
            .expect("the relay injects");
        go_tx.send(()).expect("B waits for go");
        let read = out_rx
            .recv_timeout(LIMIT)
            .expect("B answers")
            .expect("B's socket");
        match read {
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => panic!("B's read after the reset: {other:?}"),
        }
    });
    let log = stop(relay);
    let rst: Vec<_> = log
        .events
        .iter()
        .filter(|e| e.action == "injected RST")
        .collect();
    assert_eq!(rst.len(), 1, "{:?}", log.events);
    assert_eq!(rst[0].dir, Dir::AtoB);
    assert_eq!(log.frames.a_to_b.injected, 1);
}

/// The figures for the notes: a transfer over a plain veth pair (each way of setting
/// its ends up), the same through the
/// relay with no fault, and one through 10 ms delay, 0-5 ms jitter and 2% loss. Run with
/// `cargo test --release --test wire_relay -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check: run it by name"]
fn measure_relay_throughput() {
    const BULK: usize = 512 * MEGABYTE;
    const LOSSY: usize = 3 * MEGABYTE;
    for end in [End::Defaults, End::TxOff, End::TxOffOneSegment] {
        let (a, b) = match two_hosts(end) {
            Ok(h) => h,
            Err(why) => return skipped("measure_relay_throughput", &why),
        };
        let (got, d) = transfer(&a, &b, BULK);
        assert_eq!(got.bytes, BULK);
        let rate = mbit_per_s(BULK, d);
        println!(
            "plain veth, {end:?}: {} MiB in {d:.2?}: {rate:.0} Mbit/s",
            BULK >> 20
        );
    }

    let t = three_hosts().expect("the topology");
    let relay = t.relay(WireSpec::default());
    let (got, d) = transfer(&t.a, &t.b, BULK);
    let log = stop(relay);
    assert_eq!((got.bytes, got.first_wrong), (BULK, None));
    println!(
        "relay, no fault: {} MiB in {d:.2?}: {:.0} Mbit/s; a>b {:?}; b>a {:?}",
        BULK >> 20,
        mbit_per_s(BULK, d),
        log.frames.a_to_b,
        log.frames.b_to_a
    );

    let rough = Fault {
        delay: Some(Duration::from_millis(10)),
        jitter: Some(Duration::from_millis(5)),
        loss: Some(2.0),
        ..Fault::default()
    };
    let relay = t.relay(WireSpec {
        a_to_b: rough.clone(),
        b_to_a: rough,
        seed: Some(SEED),
    });
    let (got, d) = transfer(&t.a, &t.b, LOSSY);
    let log = stop(relay);
    assert_eq!((got.bytes, got.first_wrong), (LOSSY, None));
    println!(
        "relay, 10 ms + 0-5 ms jitter + 2% loss each way: {} MiB in {d:.2?}: {:.1} Mbit/s; {} wire events",
        LOSSY >> 20,
        mbit_per_s(LOSSY, d),
        log.events.len()
    );
}
