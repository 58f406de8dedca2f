//! The packets of a run: captured at each capture point (the room's loopback, or the two
//! hosts' interfaces), parsed into [`Packet`]s ([`parse`]), marked with what the wire did
//! ([`annotate`]), measured ([`figures`]) and written as pcapng ([`pcapng`]).
//!
//! [`Capture`] runs one thread that polls every point's socket and keeps the first
//! [`SNAPLEN`] bytes of each IPv4 TCP or ICMP frame; [`Capture::stop`] drains what is
//! queued and parses it.
//!
//! # Notes
//! On Linux each point is an AF_PACKET socket bound to the interface, created inside the
//! point's network namespace, with the kernel's receive timestamps (SO_TIMESTAMPNS). On
//! other systems [`Capture::start`] answers `Unsupported`. See packet(7).

pub mod annotate;
pub mod figures;
pub mod parse;
pub mod pcapng;

use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::packet::{Packet, Way};
use crate::sys::{self, CaptureSocket as PacketSocket, CaptureWaker as Waker};
use parse::Frame;

pub use annotate::annotate;
// The namespace a capture point lives in; exported here so that callers of this module
// (and its tests) can name it.
pub use crate::sys::NetnsFd;

/// Bytes kept of each frame: Ethernet (14) + IPv4 with options (up to 60) + TCP with
/// options (up to 60) do not all fit, but the common case (20 + 20..40) does, and
/// tcpdump's and Wireshark's dissectors stop cleanly at the cut.
pub const SNAPLEN: usize = 128;

/// Frames kept per run at most; beyond, they are counted in `truncated` (200 000 frames of
/// 128 bytes is about 30 MB).
pub const MAX_FRAMES: usize = 200_000;

/// The kernel queue asked for each capture socket, so that a burst between two polls is
/// not lost (Linux counts a frame that finds the queue full as a drop).
const RCVBUF: usize = 32 << 20;

/// How long the capture thread sleeps in poll at most (it wakes at once when stopped).
const POLL_SLICE: Duration = Duration::from_millis(200);

/// Frames read from one socket before the next socket's turn.
const READ_BUDGET: usize = 1024;

/// How long the drain after a stop may take at most.
const DRAIN_WAIT: Duration = Duration::from_secs(5);

/// How long [`Capture::stop`] waits for the thread to drain and hand back its frames.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// One interface to capture on.
#[derive(Debug, Clone)]
pub struct CapturePoint {
    /// `lo`, `a`, `b`: the name packets carry.
    pub name: String,
    /// The interface's name in its namespace (`lo`, `veth-a`).
    pub ifname: String,
    /// The namespace the interface is in; `None`: the calling thread's.
    pub netns: Option<Arc<NetnsFd>>,
    /// Loopback: each frame is seen once and has no way.
    pub loopback: bool,
}

/// A capture point as the outcome names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointInfo {
    pub name: String,
    pub ifname: String,
}

/// What a capture saw.
#[derive(Debug, Clone, Default)]
pub struct CaptureOutcome {
    /// Every kept frame, parsed, in time order.
    pub packets: Vec<Packet>,
    pub points: Vec<PointInfo>,
    /// Frames the kernel dropped for want of queue room (PACKET_STATISTICS).
    pub kernel_drops: u64,
    /// Frames not kept past [`MAX_FRAMES`].
    pub truncated: u64,
}

/// What the capture thread hands back.
struct Taken {
    frames: Vec<(usize, sys::RawFrame, Vec<u8>)>,
    drops: u64,
    truncated: u64,
    error: Option<io::Error>,
}

/// Wakes the capture thread for good when the capture is dropped without [`Capture::stop`]
/// (an error path), so that the thread ends instead of polling forever.
struct StopOnDrop(Arc<Waker>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.wake();
    }
}

/// A capture running on its own thread.
pub struct Capture {
    waker: StopOnDrop,
    done: mpsc::Receiver<Taken>,
    thread: thread::JoinHandle<()>,
    points: Vec<CapturePoint>,
    /// The Unix time, in ns, of the run's start `t0`.
    epoch_t0_ns: i128,
}

impl Capture {
    /// Opens a socket on every point and starts the thread that reads them. `t0` is the
    /// run's start: packets' `at_ms` count from it, as the events' do.
    pub fn start(points: Vec<CapturePoint>, t0: Instant) -> io::Result<Capture> {
        // The two clocks read together: kernel timestamps are CLOCK_REALTIME.
        let (wall, mono) = (SystemTime::now(), Instant::now());
        let wall_ns = wall
            .duration_since(UNIX_EPOCH)
            .map_err(io::Error::other)?
            .as_nanos() as i128;
        let since_t0 = mono.saturating_duration_since(t0).as_nanos() as i128;
        let mut socks = Vec::with_capacity(points.len());
        for p in &points {
            let open = || PacketSocket::open(&p.ifname, p.loopback, RCVBUF);
            let sock = match &p.netns {
                Some(ns) => ns.run(open)?,
                None => open(),
            }
            .map_err(|e| io::Error::new(e.kind(), format!("capture on {}: {e}", p.ifname)))?;
            socks.push(sock);
        }
        let waker = Arc::new(Waker::new()?);
        let (tx, done) = mpsc::channel();
        let w = Arc::clone(&waker);
        let thread = thread::Builder::new()
            .name("tcplab-capture".to_owned())
            .spawn(move || {
                let _ = tx.send(read_all(&socks, &w));
            })?;
        Ok(Capture {
            waker: StopOnDrop(waker),
            done,
            thread,
            points,
            epoch_t0_ns: wall_ns - since_t0,
        })
    }

    /// Stops the thread once it has read every frame already queued, and parses them.
    pub fn stop(self) -> io::Result<CaptureOutcome> {
        self.waker.0.wake()?;
        let taken = self.done.recv_timeout(STOP_WAIT).map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the capture thread did not hand back its frames",
            )
        })?;
        // It has sent its last word; the join returns at once.
        let _ = self.thread.join();
        if let Some(e) = taken.error {
            return Err(e);
        }
        let mut frames: Vec<Frame> = taken
            .frames
            .into_iter()
            .map(|(i, raw, bytes)| {
                let p = &self.points[i];
                Frame {
                    point: p.name.clone(),
                    way: if p.loopback {
                        None
                    } else if raw.outgoing {
                        Some(Way::Out)
                    } else {
                        Some(Way::In)
                    },
                    ts_ns: raw.ts_ns,
                    at_ms: (raw.ts_ns as i128 - self.epoch_t0_ns) as f64 / 1e6,
                    orig_len: raw.orig_len,
                    bytes,
                }
            })
            .collect();
        // Each point's frames are in order; across points, the kernel's time orders them.
        frames.sort_by_key(|f| f.ts_ns);
        Ok(CaptureOutcome {
            packets: parse::packets(&frames),
            points: self
                .points
                .iter()
                .map(|p| PointInfo {
                    name: p.name.clone(),
                    ifname: p.ifname.clone(),
                })
                .collect(),
            kernel_drops: taken.drops,
            truncated: taken.truncated,
        })
    }
}

/// The capture thread: reads every socket until woken, then drains them.
fn read_all(socks: &[PacketSocket], waker: &Waker) -> Taken {
    let mut t = Taken {
        frames: Vec::new(),
        drops: 0,
        truncated: 0,
        error: None,
    };
    let mut buf = [0u8; SNAPLEN];
    // Reads up to READ_BUDGET frames from each socket; true if one had more.
    let mut read = |t: &mut Taken| -> io::Result<bool> {
        let mut more = false;
        for (i, s) in socks.iter().enumerate() {
            let mut n = 0;
            while let Some(raw) = s.recv(&mut buf)? {
                n += 1;
                let bytes = &buf[..raw.captured];
                if parse::wanted(bytes) {
                    if t.frames.len() >= MAX_FRAMES {
                        t.truncated += 1;
                    } else {
                        t.frames.push((i, raw, bytes.to_vec()));
                    }
                }
                if n == READ_BUDGET {
                    more = true;
                    break;
                }
            }
        }
        Ok(more)
    };
    let outcome = (|| -> io::Result<()> {
        loop {
            let woken = sys::wait_frames(socks, waker, POLL_SLICE)?;
            read(&mut t)?;
            if woken {
                break;
            }
        }
        // Stopped: what is queued now was sent before the stop.
        let until = Instant::now() + DRAIN_WAIT;
        while read(&mut t)? {
            if Instant::now() > until {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "frames kept coming after the capture was stopped",
                ));
            }
        }
        Ok(())
    })();
    t.error = outcome.err();
    for s in socks {
        match s.drops() {
            Ok(n) => t.drops += n,
            Err(e) => {
                t.error.get_or_insert(e);
            }
        }
    }
    t
}
