//! The tokio engine: the same steps on non-blocking tokio sockets, one task per actor.
//!
//! Every actor instance is a task on one current-thread tokio runtime, so tasks take turns
//! only at their await points, as in a single-threaded async server. The runtime runs on a
//! thread of its own; the calling thread is the watchdog, which aborts the tasks (drops
//! their futures, as a tokio program cancels) when the limit passes.
//!
//! The steps are interpreted as on every engine (`interp.rs`); these are tokio's
//! primitives (see `sockets.rs` for the list), and the records show
//! what the runtime shows:
//! - reads and writes await readiness and then call `try_read`/`try_write`, which is what
//!   tokio's own `read`/`write` futures do. A `WouldBlock` from the kernel does not reach
//!   the caller: the task parks until the socket is ready again. An event's note says how
//!   often its call parked.
//! - `SO_RCVTIMEO`/`SO_SNDTIMEO` are set on the socket as asked (the kernel stores them),
//!   but the kernel ignores them on a non-blocking socket. The engine therefore applies a
//!   `tokio::time::timeout` of the same length to every later read (or write) future on
//!   that socket: a `read`, each read of `read_to_eof`/`read_times`, a `write`, and the
//!   whole of a `write_all` or of one `write_messages` message. An expired timer is the
//!   outcome `deadline` (no errno), with the bytes the engine saw move. The caller of a
//!   timed-out tokio `write_all` learns only `Elapsed`, not how many bytes had left; the
//!   event's note says so.
//! - `accept` and `connect` with `timeout_ms` are `tokio::time::timeout` around
//!   `accept()`/`connect()`; a connect is `TcpSocket::connect`.
//! - `write_until_blocked` waits for writability once and then calls `try_write` until it
//!   answers `WouldBlock`: the point where a tokio writer would park.
//! - `poll` awaits `ready(Interest)` and reports tokio's readiness set (`READABLE`,
//!   `WRITABLE`, `READ_CLOSED`, `WRITE_CLOSED`, `ERROR`), not poll(2) bits.
//! - `wait_blocked` waits until every instance of the actor is parked in an await on a
//!   socket future (the future returned `Pending`). A parked connect counts only while
//!   the kernel still has its socket in SYN-SENT (TCP_INFO, read through a duplicate of
//!   the descriptor; where the state cannot be read, a parked connect counts): a tokio
//!   connect always parks once, even when the kernel completes a loopback handshake at
//!   once, and only a connect whose handshake is not done is waiting as a blocking
//!   connect(2) would sleep.
//! - Listeners are built with socket2 (options and backlog under the scenario's control),
//!   then handed to tokio. `set`, `get` and `shutdown` reach the tokio socket through
//!   `socket2::SockRef`, as a tokio program does for options tokio does not wrap.
//! - `close` deregisters the socket from the runtime and closes it; later `read`/`write`
//!   steps on it are raw read(2)/write(2) on the stale descriptor number, as in the std
//!   engine: neither runtime offers a call on a dropped socket.
//! - `write_messages` writers are tasks sharing one `TcpStream` by reference; with
//!   `lock` a `tokio::sync::Mutex` is held around each whole message.
//! - `connect_start` is the raw non-blocking connect(2) through socket2 (its EINPROGRESS
//!   is the step's outcome), then `TcpStream::from_std`: tokio's own `TcpSocket::connect`
//!   makes the same call but never shows its immediate answer. `connect_again` is
//!   connect(2) through `SockRef`; tokio has no call for it.
//! - `state` is TCP_INFO through `SockRef`; `close` keeps the socket's addresses so that
//!   `state` after close and `port_of` work as on std.
//! - `write_in_child` forks from a blocking-pool thread (`spawn_blocking`), so waiting for
//!   the child does not stall the other tasks; the child writes on tokio's non-blocking
//!   descriptor.
//! - `request`/`respond` are `write_all`/`read_exact` loops.
//! - `O_NONBLOCK` reads 1 on every tokio socket; setting it to 0 fails the step, because
//!   a blocking socket would stall the runtime's thread.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use socket2::{SockRef, Socket};
use tokio::io::{Interest, Ready};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::AbortHandle;

use super::context::{count, Ctx, RunState};
use super::resources::Resources;
use super::run::{self, GRACE};
use super::sockets::{ms, CallNames, Dial, Direction, Prim, Sockets, WriteInChild};
use super::tokio_parking::{await_call, ready_names, ready_then, Wait};
use super::types::{lock, EngineError, Run, RunConfig, SLICE};
use crate::event::Outcome;
use crate::scenario::{PollFor, Scenario, SockOpt};
use crate::sys;

/// The TCP state of a connect whose handshake is not done (RFC 9293 names).
const SYN_SENT: &str = "SYN-SENT";

/// How often the engine looks again at state the runtime does not signal (FIONREAD, a
/// task's parking), bounded by the caller's deadline and the cancel flag.
const LOOK_AGAIN: Duration = Duration::from_millis(1);

/// A socket as tokio holds it.
#[derive(Clone)]
pub(super) enum TokioSocket {
    /// Bound without listening (a port that refuses dials); nothing ever awaits on it.
    Bound(Arc<Socket>),
    Listener(Arc<TcpListener>),
    Stream(Arc<TcpStream>),
}

impl TokioSocket {
    /// The stream, for the steps that read, write or wait on one.
    fn stream(&self, name: &str) -> Result<&TcpStream, EngineError> {
        let is = match self {
            TokioSocket::Stream(s) => return Ok(s),
            TokioSocket::Listener(_) => "a listener, not a connection",
            TokioSocket::Bound(_) => "bound, not connected",
        };
        Err(EngineError::WrongKind {
            name: name.to_owned(),
            is,
        })
    }
}

/// The deadlines a scenario gave a socket with SO_RCVTIMEO / SO_SNDTIMEO.
#[derive(Debug, Clone, Copy, Default)]
struct Deadlines {
    read: Option<Duration>,
    write: Option<Duration>,
}

/// The tokio engine's own state in a run.
pub(super) struct Tokio {
    deadlines: Mutex<HashMap<String, Deadlines>>,
    sync_notify: tokio::sync::Notify,
    tasks: Mutex<Vec<AbortHandle>>,
    /// Per actor instance: its connect in progress, for `wait_blocked`.
    connecting: Vec<Connecting>,
}

/// A connect an actor instance is awaiting.
#[derive(Default)]
struct Connecting {
    /// The connect future returned `Pending` and has not finished.
    parked: AtomicBool,
    /// A duplicate of the connecting socket's descriptor, to read its TCP state.
    probe: Mutex<Option<Socket>>,
}

/// Forgets an actor instance's connect when its await ends, finished or dropped.
struct ConnectingGuard<'a>(&'a Connecting);

impl Drop for ConnectingGuard<'_> {
    fn drop(&mut self) {
        self.0.parked.store(false, Ordering::SeqCst);
        *lock(&self.0.probe) = None;
    }
}

/// Tells the watchdog an actor is done when its task ends, finished or aborted.
struct DoneGuard {
    slot: usize,
    tx: mpsc::Sender<usize>,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.tx.send(self.slot);
    }
}

/// Runs `scenario` on tokio; the same contract as the std engine's.
pub(super) fn run(scenario: &Scenario, config: &RunConfig) -> Run {
    let started = run::start(scenario, config, |n| Tokio {
        deadlines: Mutex::new(HashMap::new()),
        sync_notify: tokio::sync::Notify::new(),
        tasks: Mutex::new(Vec::new()),
        connecting: (0..n).map(|_| Connecting::default()).collect(),
    });
    let started = match started {
        Ok(s) => s,
        Err(not_started) => return *not_started,
    };
    let shared = started.shared;
    let actors = started.actors;
    let (done_tx, done_rx) = mpsc::channel::<usize>();
    let (joined_tx, joined_rx) = mpsc::channel::<()>();
    let sh = Arc::clone(&shared);
    let runtime_thread = thread::Builder::new()
        .name("tcplab-tokio".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(cause) => {
                    let what = "the tokio runtime";
                    sh.run.out.fail(EngineError::Start { what, cause });
                    drop(done_tx);
                    let _ = joined_tx.send(());
                    return;
                }
            };
            // A current-thread runtime and local tasks: the tasks take turns on one
            // thread, as in a single-threaded async server.
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async {
                let mut handles = Vec::new();
                for (mut a, steps) in actors {
                    let guard = DoneGuard {
                        slot: a.slot,
                        tx: done_tx.clone(),
                    };
                    let name = a.name.clone();
                    let h = tokio::task::spawn_local(async move {
                        let _guard = guard;
                        run::run_actor(&mut a, &steps).await;
                    });
                    lock(&sh.engine.tasks).push(h.abort_handle());
                    handles.push((name, h));
                }
                drop(done_tx);
                for (name, h) in handles {
                    if let Err(e) = h.await {
                        if e.is_panic() {
                            sh.run.out.panicked(&name, &*e.into_panic());
                            sh.cancel_all();
                        }
                    }
                }
            });
            // Close every socket the scenario left open while the runtime still exists.
            sh.close_all();
            let _ = joined_tx.send(());
        });
    if let Err(cause) = runtime_thread {
        let what = "the runtime's thread";
        shared.run.out.fail(EngineError::Start { what, cause });
        shared.cancel_all();
    }
    // The watchdog: as in the std engine, but ending a stuck task is dropping it.
    let run = run::watch(&shared, &done_rx, started.timeout);
    // Panics are collected when the tasks are joined; a thread stuck in a blocking call
    // (none of the steps makes one) is left behind after GRACE.
    let _ = joined_rx.recv_timeout(GRACE);
    run
}

impl Sockets for Tokio {
    type Socket = TokioSocket;
    type WriteLock = tokio::sync::Mutex<()>;
    type WriteGuard<'a> = tokio::sync::MutexGuard<'a, ()>;

    const NAMES: CallNames = CallNames {
        close: "close (drop)",
        // tokio's own TcpSocket::connect makes this same call but keeps its answer:
        // EINPROGRESS becomes a pending future, and the caller learns only how the
        // handshake ended. To show the call's immediate result, as the scenario asks, the
        // engine makes it through socket2 on a non-blocking socket and hands the socket to
        // tokio afterwards, as a tokio program has to for this.
        connect_start: (
            "connect (non-blocking, socket2)",
            Some("made through socket2: tokio's TcpSocket::connect().await never returns EINPROGRESS, it parks until the handshake ends"),
        ),
        // tokio has no call that connects an existing stream: the raw connect(2) through
        // socket2::SockRef, on tokio's non-blocking socket.
        connect_again: (
            "connect (socket2)",
            Some("through socket2::SockRef: tokio cannot connect a TcpStream again"),
        ),
        state: "getsockopt(TCP_INFO) through SockRef",
        blocked: "is parked in an await on a socket",
        not_blocked: "did not park in an await on a socket",
    };

    const STALE_NOTE: Option<&'static str> = Some(
        "raw call on the closed descriptor number: tokio, like std, has no call on a dropped socket",
    );

    fn kernel(s: &TokioSocket) -> io::Result<SockRef<'_>> {
        Ok(match s {
            TokioSocket::Bound(b) => SockRef::from(&**b),
            TokioSocket::Listener(l) => SockRef::from(&**l),
            TokioSocket::Stream(s) => SockRef::from(&**s),
        })
    }

    fn bound(s: Socket) -> TokioSocket {
        TokioSocket::Bound(Arc::new(s))
    }

    /// tokio needs a non-blocking socket; registering it is `TcpListener::from_std`.
    fn listener(&self, cx: &mut Ctx, name: &str, s: Socket) -> io::Result<TokioSocket> {
        s.set_nonblocking(true)?;
        let register = || TcpListener::from_std(s.into());
        let l = cx.call("TcpListener::from_std", Some(name), None, register, |_| {
            None
        })?;
        Ok(TokioSocket::Listener(Arc::new(l)))
    }

    fn connecting(&self, cx: &mut Ctx, name: &str, s: Socket) -> Result<TokioSocket, EngineError> {
        let register = || TcpStream::from_std(s.into());
        match cx.call("TcpStream::from_std", Some(name), None, register, |_| None) {
            Ok(stream) => Ok(TokioSocket::Stream(Arc::new(stream))),
            Err(e) => Err(EngineError::Adopt(e)),
        }
    }

    fn into_socket(s: TokioSocket) -> Result<io::Result<Socket>, TokioSocket> {
        match s {
            TokioSocket::Stream(s) => Arc::try_unwrap(s)
                .map(|s| s.into_std().map(Socket::from))
                .map_err(TokioSocket::Stream),
            TokioSocket::Listener(l) => Arc::try_unwrap(l)
                .map(|l| l.into_std().map(Socket::from))
                .map_err(TokioSocket::Listener),
            TokioSocket::Bound(b) => Arc::try_unwrap(b).map(Ok).map_err(TokioSocket::Bound),
        }
    }

    async fn accept(
        &self,
        cx: &mut Ctx,
        l: &TokioSocket,
        from: &str,
        limit: Option<Duration>,
    ) -> Prim<TokioSocket> {
        let TokioSocket::Listener(l) = l else {
            let is = "not a listening socket";
            return Err(EngineError::WrongKind {
                name: from.to_owned(),
                is,
            });
        };
        let op = "accept().await";
        let accepted = await_call(
            cx,
            Wait::Io,
            op,
            Some(from),
            None,
            limit,
            l.accept(),
            |_| None,
        );
        Ok(accepted
            .await
            .map(|(s, _)| TokioSocket::Stream(Arc::new(s))))
    }

    async fn dial(&self, cx: &mut Ctx, d: Dial<'_>) -> Result<TokioSocket, Outcome> {
        let Dial {
            label,
            addr,
            limit,
            options,
        } = d;
        let ns = cx.netns();
        let make = || super::sockets::in_netns(ns.as_deref(), TcpSocket::new_v4);
        let s = cx
            .call("socket", Some(label), None, make, |_| None)
            .map_err(|e| Outcome::from_io(&e))?;
        super::sockets::dial_options(cx, label, &SockRef::from(&s), options)
            .map_err(|e| Outcome::from_io(&e))?;
        // The engine's own look at the handshake, for `wait_blocked`; not a call of the
        // scenario's, so not recorded.
        let connecting = &self.connecting[cx.slot];
        *lock(&connecting.probe) = SockRef::from(&s).try_clone().ok();
        let _forget = ConnectingGuard(connecting);
        let op = "connect().await";
        let connect = s.connect(addr);
        let stream = await_call(
            cx,
            Wait::Handshake(&connecting.parked),
            op,
            Some(label),
            None,
            limit,
            connect,
            |_| None,
        );
        stream.await.map(|s| TokioSocket::Stream(Arc::new(s)))
    }

    fn timer(&self, name: &str, d: Direction) -> Option<Duration> {
        let all = lock(&self.deadlines);
        let deadlines = all.get(name).copied().unwrap_or_default();
        match d {
            Direction::Read => deadlines.read,
            Direction::Write => deadlines.write,
        }
    }

    async fn read(
        &self,
        cx: &mut Ctx,
        s: &TokioSocket,
        sock: &str,
        buf: &mut [u8],
        limit: Option<Duration>,
    ) -> Prim<usize> {
        let s = s.stream(sock)?;
        let n = Some(buf.len() as u64);
        let fut = ready_then(s, Interest::READABLE, |s| s.try_read(buf));
        let op = "read().await";
        Ok(await_call(cx, Wait::Io, op, Some(sock), n, limit, fut, count).await)
    }

    async fn write(
        &self,
        cx: &mut Ctx,
        s: &TokioSocket,
        sock: &str,
        buf: &[u8],
        limit: Option<Duration>,
    ) -> Prim<usize> {
        let s = s.stream(sock)?;
        let n = Some(buf.len() as u64);
        let fut = ready_then(s, Interest::WRITABLE, |s| s.try_write(buf));
        let op = "write().await";
        Ok(await_call(cx, Wait::Io, op, Some(sock), n, limit, fut, count).await)
    }

    async fn begin_try_writes(&self, cx: &mut Ctx, s: &TokioSocket, sock: &str) -> Prim<()> {
        let s = s.stream(sock)?;
        let op = "writable().await";
        Ok(await_call(
            cx,
            Wait::Io,
            op,
            Some(sock),
            None,
            None,
            s.writable(),
            |_| None,
        )
        .await)
    }

    fn try_write(&self, cx: &mut Ctx, s: &TokioSocket, sock: &str, buf: &[u8]) -> Prim<usize> {
        let s = s.stream(sock)?;
        let n = Some(buf.len() as u64);
        let res = cx.call("try_write", Some(sock), n, || s.try_write(buf), count);
        Ok(res.map_err(|e| Outcome::from_io(&e)))
    }

    fn end_try_writes(&self, _: &mut Ctx, _: &TokioSocket, _: &str) {}

    async fn poll(
        &self,
        cx: &mut Ctx,
        s: &TokioSocket,
        sock: &str,
        wait_for: PollFor,
        limit: Duration,
    ) -> Result<(String, Outcome), EngineError> {
        let s = s.stream(sock)?;
        let (interest, wanted) = match wait_for {
            PollFor::In => (Interest::READABLE, Ready::READABLE | Ready::READ_CLOSED),
            PollFor::Out => (Interest::WRITABLE, Ready::WRITABLE | Ready::WRITE_CLOSED),
            PollFor::Err => (Interest::ERROR, Ready::ERROR),
            // The peer's FIN: mio's READ_CLOSED (EPOLLRDHUP, kqueue's EV_EOF).
            PollFor::Rdhup => (Interest::READABLE, Ready::READ_CLOSED),
            // Both halves closed: no interest maps to it alone, so look again.
            PollFor::Hup => (
                Interest::READABLE | Interest::WRITABLE,
                Ready::READ_CLOSED | Ready::WRITE_CLOSED,
            ),
        };
        let all_of = wait_for == PollFor::Hup;
        let seen = Mutex::new(Ready::EMPTY);
        let fut = async {
            loop {
                let got = s.ready(interest).await?;
                *lock(&seen) = got;
                let hit = if all_of {
                    got & wanted == wanted
                } else {
                    !(got & wanted).is_empty()
                };
                if hit {
                    return Ok(got);
                }
                tokio::time::sleep(LOOK_AGAIN).await;
            }
        };
        let op = format!("ready({}).await", ready_names(wanted));
        let res = await_call(
            cx,
            Wait::Io,
            &op,
            Some(sock),
            None,
            Some(limit),
            fut,
            |_| None,
        )
        .await;
        let names = ready_names(*lock(&seen));
        Ok((names, res.err().unwrap_or(Outcome::Ok)))
    }

    fn check_option(opt: SockOpt, v: i64) -> Result<(), EngineError> {
        if opt == SockOpt::NonBlocking && v == 0 {
            // tokio requires its sockets non-blocking (TcpStream::from_std's contract): a
            // blocking one would stall the runtime's only thread inside a read or write,
            // and with it every other actor and the engine's own timers.
            return Err(EngineError::Unsupported(
                "clearing O_NONBLOCK on a tokio socket would make its reads and writes block the runtime's thread; tokio requires non-blocking sockets, so this step cannot run on the tokio engine",
            ));
        }
        Ok(())
    }

    fn option_set(&self, sock: &str, opt: SockOpt, v: i64) -> Option<String> {
        match opt {
            SockOpt::RcvTimeo | SockOpt::SndTimeo => {
                let d = (v > 0).then(|| ms(v));
                let mut all = lock(&self.deadlines);
                let entry = all.entry(sock.to_owned()).or_default();
                let what = if opt == SockOpt::RcvTimeo {
                    entry.read = d;
                    "reads"
                } else {
                    entry.write = d;
                    "writes"
                };
                Some(format!(
                    "the kernel ignores it on a non-blocking socket; the engine applies tokio::time::timeout({v} ms) to later {what} on `{sock}`"
                ))
            }
            SockOpt::NonBlocking => {
                Some("tokio's sockets are always non-blocking: the flag was already set".into())
            }
            _ => None,
        }
    }

    /// The same fork as the std engine's (the child makes only async-signal-safe calls
    /// prepared before the fork), from a thread of tokio's blocking pool, so that waiting
    /// for the child (bounded by `limit`) does not stall the other actors' tasks. The child
    /// writes on tokio's descriptor, which is non-blocking.
    async fn write_in_child(
        &self,
        cx: &mut Ctx,
        s: &TokioSocket,
        sock: &str,
        w: &WriteInChild,
    ) -> Result<sys::ChildEnd, Outcome> {
        let (buf, default, limit) = (vec![b'x'; w.bytes], w.default, w.limit);
        let held = s.clone();
        let child = async move {
            tokio::task::spawn_blocking(move || {
                let k = Tokio::kernel(&held)?;
                sys::write_in_child(&k, &buf, default, limit)
            })
            .await
            .unwrap_or_else(|e| Err(io::Error::other(format!("the blocking task failed: {e}"))))
        };
        let op = format!("spawn_blocking: {}", w.child_op());
        let n = Some(w.bytes as u64);
        await_call(cx, Wait::Child, &op, Some(sock), n, None, child, |_| None).await
    }

    async fn wait_sync(&self, cx: &Ctx, sync: &str, count: i64) -> bool {
        loop {
            let notified = self.sync_notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before looking, so a signal in between is not missed.
            notified.as_mut().enable();
            if cx.signalled(sync, count) {
                return true;
            }
            if cx.cancelled() {
                return false;
            }
            let _ = tokio::time::timeout(SLICE, notified).await;
        }
    }

    fn wake_waiters(&self) {
        self.sync_notify.notify_waiters();
    }

    fn instance_blocked(&self, run: &RunState, slot: usize) -> bool {
        if run.actors[slot].in_call.load(Ordering::SeqCst) {
            return true;
        }
        let c = &self.connecting[slot];
        c.parked.load(Ordering::SeqCst)
            && match lock(&c.probe).as_ref().map(sys::tcp_state) {
                Some(Some(state)) => state == SYN_SENT,
                // The state cannot be read here: a parked connect counts.
                Some(None) => true,
                None => false,
            }
    }

    async fn pause() {
        tokio::time::sleep(LOOK_AGAIN).await;
    }

    async fn hold(l: &tokio::sync::Mutex<()>) -> tokio::sync::MutexGuard<'_, ()> {
        l.lock().await
    }

    /// A tokio program cancels by dropping futures.
    fn cancel_all(&self, run: &RunState, _: &Resources<TokioSocket>) {
        run.cancel();
        self.sync_notify.notify_waiters();
        for t in lock(&self.tasks).iter() {
            t.abort();
        }
    }
}
