//! The network tier's topology: two hosts joined through a wire namespace, built over
//! netlink, as root and as an unprivileged user inside a user namespace.
//!
//! The relay is not part of these tests: where frames must cross W, a minimal AF_PACKET
//! copy loop of the test's own ([`Bridge`]) stands in for it. Every test says SKIPPED and
//! passes where network namespaces cannot be made.

// Network namespaces, veths and AF_PACKET are Linux's.
#![cfg(target_os = "linux")]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tcplab::net::{self, Topology};
use wait_timeout::ChildExt;

/// The bound on any one connect, read or write.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How much crosses the wire each way in the transfer test.
const TRANSFER: usize = 100 * 1024;
/// The longest frame an AF_PACKET socket may see: the MTU plus the Ethernet header.
const MAX_FRAME: usize = net::MTU as usize + 14;
/// Builds the helper process times.
const BUILDS: usize = 50;
/// The bound on the helper process.
const HELPER_TIMEOUT: Duration = Duration::from_secs(120);
/// The environment variable that turns [`helper_builds_fifty_topologies`] on.
const HELPER_ENV: &str = "TCPLAB_TOPOLOGY_HELPER";
/// `PACKET_IGNORE_OUTGOING` (linux/if_packet.h): a packet socket skips the frames it sends.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

// ---- helpers ---------------------------------------------------------------------------

/// Runs `f` on a thread of its own moved into a fresh network namespace, as the lab's room
/// thread is: that namespace is the wire W. None (and SKIPPED said) where none can be made.
///
/// A thread, not `NetnsFd::run`: inside a user namespace a thread may enter the
/// namespaces it made but not go back to the machine's own (setns(2) wants CAP_SYS_ADMIN
/// over the namespace entered), so W is entered once and the thread ends there.
fn in_fresh_wire<T: Send>(test: &str, f: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: unshare takes a flag word and moves only this thread.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    let e = io::Error::last_os_error();
                    eprintln!("SKIPPED {test}: cannot make a network namespace here ({e})");
                    return None;
                }
                Some(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Runs `f` in a fresh W holding a freshly built topology.
fn in_topology<T: Send>(test: &str, f: impl FnOnce(&Topology) -> T + Send) -> Option<T> {
    in_fresh_wire(test, || {
        let topo = net::build().unwrap_or_else(|e| panic!("{e}"));
        f(&topo)
    })
}

/// What the stand-in relay saw.
#[derive(Debug, Default)]
struct BridgeStats {
    frames: AtomicUsize,
    longest: AtomicUsize,
}

/// A minimal stand-in for the relay: copies every frame between `wa` and `wb` on a
/// thread, until dropped.
struct Bridge {
    stop: Arc<AtomicBool>,
    stats: Arc<BridgeStats>,
    thread: Option<JoinHandle<()>>,
}

impl Bridge {
    /// Opens the two packet sockets in the calling thread's namespace (W) and starts
    /// copying.
    fn start(topo: &Topology) -> Bridge {
        let ends = [
            packet_socket(topo.w_a.ifindex).expect("packet socket on wa"),
            packet_socket(topo.w_b.ifindex).expect("packet socket on wb"),
        ];
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(BridgeStats::default());
        let thread = {
            let (stop, stats) = (stop.clone(), stats.clone());
            std::thread::spawn(move || copy_frames(&ends, &stop, &stats))
        };
        Bridge {
            stop,
            stats,
            thread: Some(thread),
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An AF_PACKET socket receiving every frame of interface `ifindex` but its own.
fn packet_socket(ifindex: u32) -> io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: a plain socket call; the descriptor goes into an OwnedFd at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            proto.into(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: the option value is a c_int that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: bind reads the sockaddr_ll we pass, of the length we pass.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// The copy loop: poll both ends (20 ms at most, to see the stop flag), move each frame
/// to the other end, note its true length.
fn copy_frames(ends: &[OwnedFd; 2], stop: &AtomicBool, stats: &BridgeStats) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let mut fds = ends.each_ref().map(|e| libc::pollfd {
            fd: e.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: fds is an array of two pollfds that outlives the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, 20) } <= 0 {
            continue;
        }
        for (i, p) in fds.iter().enumerate() {
            if p.revents & libc::POLLIN == 0 {
                continue;
            }
            // SAFETY: recv writes at most buf.len() bytes into buf; MSG_TRUNC makes it
            // return the frame's true length.
            let n = unsafe {
                libc::recv(
                    p.fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC | libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                continue;
            }
            let n = n as usize;
            stats.frames.fetch_add(1, Ordering::Relaxed);
            stats.longest.fetch_max(n, Ordering::Relaxed);
            let out = ends[1 - i].as_raw_fd();
            // SAFETY: send reads the first min(n, len) bytes of buf.
            unsafe { libc::send(out, buf.as_ptr().cast(), n.min(buf.len()), 0) };
        }
    }
}

/// Connects from host A to `to` (bounded), reporting the error as the kernel gave it.
fn dial_from_a(topo: &Topology, to: SocketAddrV4) -> io::Result<TcpStream> {
    topo.a
        .run(|| TcpStream::connect_timeout(&SocketAddr::V4(to), IO_TIMEOUT))
        .expect("enter host a")
}

/// A connection from A to a listener on B (port 0), through the bridge: (A's end, B's end).
fn established_pair(topo: &Topology) -> (TcpStream, TcpStream) {
    let listener = topo
        .b
        .run(|| TcpListener::bind(SocketAddrV4::new(topo.b_addr, 0)))
        .expect("enter host b")
        .expect("listen on b");
    let to = match listener.local_addr().unwrap() {
        SocketAddr::V4(a) => a,
        other => panic!("unexpected listener address {other}"),
    };
    let client = dial_from_a(topo, to).expect("connect from a to b");
    // The handshake is complete: the connection waits in the backlog, accept returns.
    let (server, peer) = listener.accept().expect("accept on b");
    assert_eq!(peer.ip(), topo.a_addr);
    for s in [&client, &server] {
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    }
    (client, server)
}

/// Sends [`TRANSFER`] bytes from A to B, which sends them back once it has them all;
/// checks both copies and the frames' length.
fn transfer_both_ways(topo: &Topology) {
    let bridge = Bridge::start(topo);
    let (mut client, mut server) = established_pair(topo);
    let data: Vec<u8> = (0..TRANSFER).map(|i| (i * 7 % 251) as u8).collect();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let r = server
            .read_to_end(&mut got)
            .and_then(|_| server.write_all(&got))
            .map(|()| got);
        let _ = tx.send(r);
    });
    client.write_all(&data).expect("write on a");
    client.shutdown(Shutdown::Write).expect("shutdown on a");
    let at_b = rx
        .recv_timeout(IO_TIMEOUT * 2)
        .expect("b answers in time")
        .expect("read and echo on b");
    assert_eq!(at_b.len(), TRANSFER);
    assert!(at_b == data, "the bytes that reached b differ");
    let mut back = Vec::new();
    let n = client.read_to_end(&mut back).expect("read the echo on a");
    assert_eq!(n, TRANSFER);
    assert!(back == data, "the bytes that came back to a differ");
    let longest = bridge.stats.longest.load(Ordering::Relaxed);
    assert!(bridge.stats.frames.load(Ordering::Relaxed) > 2 * TRANSFER / 1500);
    assert!(
        longest <= MAX_FRAME,
        "a {longest}-byte frame crossed the wire"
    );
}

/// The names of the calling thread's namespace's interfaces (if_nameindex(3)).
fn link_names() -> Vec<String> {
    // SAFETY: if_nameindex returns an array ended by a zeroed entry, freed below.
    let list = unsafe { libc::if_nameindex() };
    assert!(
        !list.is_null(),
        "if_nameindex: {}",
        io::Error::last_os_error()
    );
    let mut names = Vec::new();
    for i in 0.. {
        // SAFETY: entries up to and including the terminating one are valid.
        let entry = unsafe { &*list.add(i) };
        if entry.if_index == 0 {
            break;
        }
        // SAFETY: if_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.if_name) };
        names.push(name.to_string_lossy().into_owned());
    }
    // SAFETY: list came from if_nameindex and is freed once.
    unsafe { libc::if_freenameindex(list) };
    names.sort();
    names
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn read_sysctl(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path).map(|s| s.trim().to_owned())
}

// ---- one topology ----------------------------------------------------------------------

#[test]
fn a_connection_from_a_to_b_carries_100_kib_each_way_through_the_wire() {
    in_topology(
        "a_connection_from_a_to_b_carries_100_kib_each_way",
        transfer_both_ways,
    );
}

#[test]
fn the_topology_has_the_planned_links_and_no_ipv6() {
    let host_all = read_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6").ok();
    in_topology("the_topology_has_the_planned_links_and_no_ipv6", |topo| {
        assert_eq!(
            (topo.a_addr, topo.b_addr, topo.prefix),
            (net::A_ADDR, net::B_ADDR, 24)
        );
        assert_eq!(
            (topo.a_if.name, topo.b_if.name),
            (net::HOST_IF, net::HOST_IF)
        );
        assert_eq!((topo.w_a.name, topo.w_b.name), (net::W_A, net::W_B));
        assert_eq!(topo.a_if.mac, net::A_MAC);
        assert_eq!(topo.w_b.mac, net::W_B_MAC);
        assert!(topo.setup > Duration::ZERO);
        // In W: the two wire ends and lo, IPv6 off on them; no eth0 here.
        assert_eq!(link_names(), ["lo", "wa", "wb"]);
        assert_eq!(
            read_sysctl("/proc/sys/net/ipv6/conf/wa/disable_ipv6").unwrap(),
            "1"
        );
        let e = read_sysctl("/proc/sys/net/ipv6/conf/eth0/disable_ipv6").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        for host in [&topo.a, &topo.b] {
            let (names, v6) = host
                .run(|| {
                    (
                        link_names(),
                        read_sysctl("/proc/sys/net/ipv6/conf/eth0/disable_ipv6"),
                    )
                })
                .unwrap();
            assert_eq!(names, ["eth0", "lo"]);
            assert_eq!(v6.unwrap(), "1");
        }
    });
    // The writes went to the topology's namespaces, not to the one the test started in.
    assert_eq!(
        read_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6").ok(),
        host_all
    );
}

#[test]
fn building_in_the_machines_own_namespace_is_refused_and_changes_nothing() {
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
    match (ino("/proc/thread-self/ns/net"), ino("/proc/1/ns/net")) {
        (Ok(me), Ok(init)) if me == init => {}
        _ => {
            // Anywhere else the build would go ahead, in the test's own namespace.
            eprintln!("SKIPPED: not in PID 1's network namespace, or PID 1's cannot be read");
            return;
        }
    }
    let links = link_names();
    match net::build() {
        Err(net::TopologyError::NotInRoom) => {}
        other => panic!("unexpected answer {other:?}"),
    }
    assert_eq!(link_names(), links);
}

// ---- dials that fail -------------------------------------------------------------------

#[test]
fn a_dial_to_the_no_route_address_fails_at_once_with_enetunreach() {
    in_topology(
        "a_dial_to_the_no_route_address_fails_with_enetunreach",
        |topo| {
            let started = Instant::now();
            let e = dial_from_a(topo, SocketAddrV4::new(net::NO_ROUTE_ADDR, 80)).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENETUNREACH), "{e:?}");
            assert!(started.elapsed() < Duration::from_secs(1));
        },
    );
}

#[test]
fn a_dial_to_the_unanswered_address_fails_with_ehostunreach_after_arp_gives_up() {
    in_topology(
        "a_dial_to_the_unanswered_address_fails_with_ehostunreach",
        |topo| {
            let bridge = Bridge::start(topo);
            let started = Instant::now();
            let e = dial_from_a(topo, SocketAddrV4::new(net::UNANSWERED_ADDR, 80)).unwrap_err();
            let took = started.elapsed();
            assert_eq!(e.raw_os_error(), Some(libc::EHOSTUNREACH), "{e:?}");
            // Three ARP requests one second apart.
            assert!(
                took > Duration::from_secs(2) && took < Duration::from_secs(6),
                "{took:?}"
            );
            // The requests crossed the wire (to B, who did not answer).
            assert!(bridge.stats.frames.load(Ordering::Relaxed) >= 3);
        },
    );
}

// ---- fifty builds, in a process of their own -------------------------------------------

/// Runs [`helper_builds_fifty_topologies`] in a child process (so that no other test's
/// descriptors or threads blur its counts), as root or, with `unprivileged`, as `nobody`
/// inside a user namespace of its own, and returns its output.
fn run_helper(unprivileged: bool) -> Option<String> {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "helper_builds_fifty_topologies",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(
        HELPER_ENV,
        if unprivileged {
            "user-namespace"
        } else {
            "as-is"
        },
    );
    let out = tempfile::tempfile().unwrap();
    cmd.stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out.try_clone().unwrap()))
        .stdin(Stdio::null());
    if unprivileged {
        // SAFETY: plain calls without pointers.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let (uid, gid) = if uid == 0 { (65534, 65534) } else { (uid, gid) };
        cmd.uid(uid).gid(gid);
        let uid_map = format!("0 {uid} 1");
        let gid_map = format!("0 {gid} 1");
        // SAFETY: the closure runs between fork and exec and makes only system calls
        // (prctl, unshare, open, write, close) on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                // Dropping root made the process undumpable, which gives /proc/self to
                // root; its own maps must be writable by it.
                if libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) != 0
                    || libc::unshare(libc::CLONE_NEWUSER) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                write_proc(c"/proc/self/setgroups", b"deny")?;
                write_proc(c"/proc/self/uid_map", uid_map.as_bytes())?;
                write_proc(c"/proc/self/gid_map", gid_map.as_bytes())
            })
        };
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIPPED: cannot start the helper in a user namespace here ({e})");
            return None;
        }
    };
    let status = match child.wait_timeout(HELPER_TIMEOUT).unwrap() {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the helper took more than {HELPER_TIMEOUT:?}");
        }
    };
    let mut text = String::new();
    let mut out = out;
    io::Seek::rewind(&mut out).unwrap();
    out.read_to_string(&mut text).unwrap();
    assert!(status.success(), "the helper failed ({status}):\n{text}");
    Some(text)
}

/// Writes `data` to a /proc file with bare system calls (for `pre_exec`).
fn write_proc(path: &std::ffi::CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: path is NUL-terminated; the descriptor is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: write reads data.len() bytes of data.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let err = io::Error::last_os_error();
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    if n != data.len() as isize {
        return Err(err);
    }
    Ok(())
}

/// The helper's report line for one kind of figure.
fn figures(label: &str, mut d: Vec<Duration>) -> String {
    d.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "topology: {label}: median {:.1} ms, range {:.1}-{:.1} ms over {} builds",
        ms(d[d.len() / 2]),
        ms(d[0]),
        ms(d[d.len() - 1]),
        d.len()
    )
}

/// Not a test of its own: the body of the child process [`run_helper`] starts (it does
/// nothing unless TCPLAB_TOPOLOGY_HELPER is set). One transfer through the wire, then
/// fifty builds, each in a fresh W, checking that no descriptor and no link in the
/// process's own namespace is left behind.
#[test]
fn helper_builds_fifty_topologies() {
    let Ok(mode) = std::env::var(HELPER_ENV) else {
        return;
    };
    // SAFETY: a plain call without pointers.
    let euid = unsafe { libc::geteuid() };
    println!();
    println!("topology: helper ({mode}), euid {euid}");
    if in_topology("helper_builds_fifty_topologies", transfer_both_ways).is_none() {
        return;
    }
    let (links, fds) = (link_names(), open_fds());
    let (mut setup, mut total) = (Vec::new(), Vec::new());
    for _ in 0..BUILDS {
        let started = Instant::now();
        let took = in_fresh_wire("helper", || {
            net::build().unwrap_or_else(|e| panic!("{e}")).setup
        });
        total.push(started.elapsed());
        setup.push(took.expect("a fresh W, as for the first build"));
    }
    assert_eq!(
        open_fds(),
        fds,
        "descriptors left open after {BUILDS} builds"
    );
    assert_eq!(link_names(), links, "links left in the process's namespace");
    println!("{}", figures(&format!("{mode}: build()"), setup));
    println!(
        "{}",
        figures(&format!("{mode}: thread + W + build()"), total)
    );
}

#[test]
fn fifty_builds_as_the_current_user_leave_no_descriptor_and_no_link() {
    if std::env::var(HELPER_ENV).is_ok() {
        return;
    }
    let Some(out) = run_helper(false) else { return };
    for line in out
        .lines()
        .filter(|l| l.starts_with("topology:") || l.starts_with("SKIPPED"))
    {
        eprintln!("{line}");
    }
}

#[test]
fn fifty_builds_as_an_unprivileged_user_in_a_user_namespace_work_too() {
    if std::env::var(HELPER_ENV).is_ok() {
        return;
    }
    let Some(out) = run_helper(true) else { return };
    for line in out
        .lines()
        .filter(|l| l.starts_with("topology:") || l.starts_with("SKIPPED"))
    {
        eprintln!("{line}");
    }
    assert!(
        out.contains("euid 0"),
        "the helper is root in its user namespace:\n{out}"
    );
}
