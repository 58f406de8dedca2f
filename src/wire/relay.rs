//! The relay: the pipeline's I/O, one thread in the middle namespace polling a packet
//! socket on each side and a waker for the `wire` steps.

use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::pipeline::{FrameCounts, Output, Pipeline};
use crate::packet::WireEvent;
use crate::scenario::wire::{Dir, WireChange, WireSpec};
use crate::sys::{poll_readable, PacketSocket, Waker};

/// The longest frame read whole: a 64 KiB IP packet with its Ethernet header and room to
/// spare (the hosts' veths send frames of one MTU; this only guards against GSO left on).
const RECV_BUFFER: usize = 65536 + 1024;

/// Frames read from one side before the loop sends what is due and looks at the other
/// side, so that a busy direction does not starve the other.
const READ_BATCH: usize = 64;

/// The longest poll when no frame is due: the loop wakes this often even when idle (a
/// bound on every wait, not a busy loop).
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// How long `change` and `stop` wait for the relay thread to answer.
const COMMAND_LIMIT: Duration = Duration::from_secs(5);

/// How long one send may wait for room in a packet socket's send buffer.
const SEND_LIMIT: Duration = Duration::from_millis(100);

/// Frame counts of both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireFrames {
    #[serde(rename = "a>b")]
    pub a_to_b: FrameCounts,
    #[serde(rename = "b>a")]
    pub b_to_a: FrameCounts,
}

impl WireFrames {
    pub fn get(&self, dir: Dir) -> &FrameCounts {
        match dir {
            Dir::AtoB => &self.a_to_b,
            Dir::BtoA => &self.b_to_a,
        }
    }
}

/// What the wire did during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireLog {
    /// Every frame dropped, copied or injected, in the order it happened.
    pub events: Vec<WireEvent>,
    /// The seed the wire's choices were drawn from.
    pub seed: u64,
    pub frames: WireFrames,
    /// Why the relay stopped before it was asked to, if it did (a socket error).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

enum Command {
    Change(WireChange, mpsc::SyncSender<()>),
    Stop,
}

/// The relay thread and the way to reach it.
///
/// # Notes
/// On Linux it needs CAP_NET_RAW in the middle namespace, and the hosts' veths must send
/// frames of at most one MTU with their checksums filled in: GSO limited to one segment
/// (`gso_max_segs 1`) and TX checksum offload off, or the relay would carry super-frames
/// and frames whose checksum the receiver rejects. On other systems `start` answers
/// `Unsupported`. See packet(7).
#[derive(Debug)]
pub struct Relay {
    commands: mpsc::Sender<Command>,
    waker: Arc<Waker>,
    done: mpsc::Receiver<WireLog>,
    thread: Option<JoinHandle<()>>,
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the wire's relay has stopped")
}

impl Relay {
    /// Opens a packet socket on `a_side` (the interface toward host A) and `b_side` in the
    /// calling thread's network namespace and starts the relay thread with `spec`'s
    /// faults and `seed`; the log's times are milliseconds since `t0`.
    pub fn start(
        a_side: &str,
        b_side: &str,
        spec: WireSpec,
        seed: u64,
        t0: Instant,
    ) -> io::Result<Relay> {
        let open = |name: &str| -> io::Result<PacketSocket> {
            let context = |e: io::Error| {
                io::Error::new(e.kind(), format!("the wire's packet socket on {name}: {e}"))
            };
            let s = PacketSocket::open(name).map_err(context)?;
            s.ignore_outgoing().map_err(context)?;
            s.set_send_timeout(SEND_LIMIT).map_err(context)?;
            Ok(s)
        };
        let sockets = [open(a_side)?, open(b_side)?];
        let waker = Arc::new(Waker::new()?);
        let (commands, inbox) = mpsc::channel();
        let (report, done) = mpsc::channel();
        let pipeline = Pipeline::new(&spec, seed);
        let w = Arc::clone(&waker);
        let thread = std::thread::Builder::new()
            .name("tcplab-wire".to_owned())
            .spawn(move || {
                let log = Loop::new(sockets, w, inbox, pipeline, t0).run();
                let _ = report.send(log);
            })?;
        Ok(Relay {
            commands,
            waker,
            done,
            thread: Some(thread),
        })
    }

    /// Carries out a `wire` step; it is in force (and a reset's RSTs are sent) when this
    /// returns.
    pub fn change(&self, change: WireChange) -> io::Result<()> {
        let (ack, acked) = mpsc::sync_channel(1);
        self.commands
            .send(Command::Change(change, ack))
            .map_err(|_| stopped())?;
        self.waker.wake()?;
        acked.recv_timeout(COMMAND_LIMIT).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the wire's relay did not take a change within {COMMAND_LIMIT:?}"),
            ),
            mpsc::RecvTimeoutError::Disconnected => stopped(),
        })
    }

    /// Stops the relay thread and returns its log. Frames still delayed on the wire are
    /// not sent.
    pub fn stop(mut self) -> io::Result<WireLog> {
        self.finish().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the wire's relay did not stop within {COMMAND_LIMIT:?}"),
            )
        })
    }

    fn finish(&mut self) -> Option<WireLog> {
        let thread = self.thread.take()?;
        let _ = self.commands.send(Command::Stop);
        let _ = self.waker.wake();
        let log = self.done.recv_timeout(COMMAND_LIMIT).ok()?;
        // The thread sent its log as its last act: this join returns at once.
        let _ = thread.join();
        Some(log)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The relay thread's state.
struct Loop {
    /// A's side first: frames read there go a>b and out of B's side.
    sockets: [PacketSocket; 2],
    waker: Arc<Waker>,
    inbox: mpsc::Receiver<Command>,
    pipeline: Pipeline,
    t0: Instant,
    events: Vec<WireEvent>,
    send_failed: [u64; 2],
}

fn side(dir: Dir) -> (usize, usize) {
    match dir {
        Dir::AtoB => (0, 1),
        Dir::BtoA => (1, 0),
    }
}

impl Loop {
    fn new(
        sockets: [PacketSocket; 2],
        waker: Arc<Waker>,
        inbox: mpsc::Receiver<Command>,
        pipeline: Pipeline,
        t0: Instant,
    ) -> Loop {
        Loop {
            sockets,
            waker,
            inbox,
            pipeline,
            t0,
            events: Vec::new(),
            send_failed: [0; 2],
        }
    }

    fn run(mut self) -> WireLog {
        let error = self.serve().err().map(|e| e.to_string());
        let mut frames = WireFrames {
            a_to_b: self.pipeline.counts(Dir::AtoB),
            b_to_a: self.pipeline.counts(Dir::BtoA),
        };
        frames.a_to_b.send_failed = self.send_failed[0];
        frames.b_to_a.send_failed = self.send_failed[1];
        WireLog {
            events: self.events,
            seed: self.pipeline.seed(),
            frames,
            error,
        }
    }

    /// The loop: poll until a socket is readable, a command came or a frame is due.
    fn serve(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; RECV_BUFFER];
        loop {
            let now = Instant::now();
            let timeout = self.pipeline.next_due().map_or(IDLE_WAIT, |d| {
                d.saturating_duration_since(now).min(IDLE_WAIT)
            });
            let (ready, woken) = {
                let [a, b] = &self.sockets;
                poll_readable(&[a, b], &self.waker, timeout)?
            };
            if woken {
                self.waker.drain();
                while let Ok(c) = self.inbox.try_recv() {
                    match c {
                        Command::Change(change, ack) => {
                            let out = self.pipeline.apply(&change, Instant::now());
                            self.emit(out);
                            let _ = ack.send(());
                        }
                        Command::Stop => {
                            // What is due goes out; what is still delayed is given up, and
                            // logged as such.
                            self.send_due();
                            for entry in self.pipeline.abandon(Instant::now()) {
                                self.events.push(entry.to_event(self.t0));
                            }
                            return Ok(());
                        }
                    }
                }
            }
            for (i, dir) in [(0, Dir::AtoB), (1, Dir::BtoA)] {
                if ready[i] {
                    self.read(dir, &mut buf)?;
                }
            }
            self.send_due();
        }
    }

    /// Up to [`READ_BATCH`] frames from `dir`'s sending side into the pipeline.
    fn read(&mut self, dir: Dir, buf: &mut [u8]) -> io::Result<()> {
        let (from, _) = side(dir);
        for _ in 0..READ_BATCH {
            let Some(n) = self.sockets[from].try_recv(buf)? else {
                break;
            };
            let now = Instant::now();
            if n > buf.len() {
                // Cut short by the buffer: passing a part would corrupt it.
                self.events.push(WireEvent {
                    at_ms: now.saturating_duration_since(self.t0).as_secs_f64() * 1000.0,
                    dir,
                    action: format!("dropped: longer than {} bytes", buf.len()),
                    flags: String::new(),
                    raw_seq: 0,
                    raw_ack: 0,
                    len: n as u32,
                });
                continue;
            }
            for entry in self.pipeline.offer(dir, &buf[..n], now) {
                self.events.push(entry.to_event(self.t0));
            }
        }
        Ok(())
    }

    fn send_due(&mut self) {
        for (dir, frame) in self.pipeline.take_due(Instant::now()) {
            self.send(dir, &frame);
        }
    }

    fn send(&mut self, dir: Dir, frame: &[u8]) {
        let (from, to) = side(dir);
        if self.sockets[to].send(frame).is_err() {
            // Counted by direction, which is indexed like the side frames come from.
            self.send_failed[from] += 1;
        }
    }

    fn emit(&mut self, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Send { dir, frame } => self.send(dir, &frame),
                Output::Log(entry) => self.events.push(entry.to_event(self.t0)),
            }
        }
    }
}
