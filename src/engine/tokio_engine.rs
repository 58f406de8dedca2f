//! The tokio engine: the same steps on non-blocking tokio sockets, one task per actor.
//!
//! Every actor instance is a task on one current-thread tokio runtime, so tasks take turns
//! only at their await points, as in a single-threaded async server. The runtime runs on a
//! thread of its own; the calling thread is the watchdog, which aborts the tasks (drops
//! their futures, as a tokio program cancels) when the limit passes.
//!
//! Each step is one tokio implementation, and the records show what the runtime shows:
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
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{SockAddr, SockRef, Socket};
use tokio::io::{Interest, Ready};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::AbortHandle;
use tokio::time::error::Elapsed;

use super::args::{self, bound_socket, failed, port_for};
use super::steps::{closing_addrs, count, get_option, ms, set_option};
use super::steps::{StepOutcome, ENGINE_WAIT_LIMIT};
use super::{
    instances, lock, step_enabled, timeout_of, watch, ActorCtx, EventLog, Run, RunConfig, RunState,
    StepResult, GRACE, SLICE,
};
use crate::event::{millis, Event, Outcome};
use crate::scenario::{Action, PollFor, Scenario, SockOpt, Step};
use crate::sys;

/// The TCP state of a connect whose handshake is not done (RFC 9293 names).
const SYN_SENT: &str = "SYN-SENT";

/// How often the engine looks again at state the runtime does not signal (FIONREAD, a
/// task's parking), bounded by the caller's deadline and the cancel flag.
const LOOK_AGAIN: Duration = Duration::from_millis(1);

/// A scenario resource, as tokio holds it.
enum Res {
    /// Bound without listening (a port that refuses dials); nothing ever awaits on it.
    Bound(Arc<Socket>),
    Listener(Arc<TcpListener>),
    Stream(Arc<TcpStream>),
    /// Closed on purpose: the descriptor number later raw calls use, and the addresses it
    /// had (for `state` and `port_of`).
    Closed(sys::StaleHandle, Addrs),
    // Held, never read: the dialled connections stay open until the run ends.
    Group(#[allow(dead_code)] Vec<Arc<TcpStream>>),
}

/// The local and peer address of a closed socket (see the std engine's [`Addrs`]).
type Addrs = super::Addrs;

/// A socket taken out of the resources for a while, by another owner of its `Arc`.
enum Held {
    Stream(Arc<TcpStream>),
    Listener(Arc<TcpListener>),
    Bound(Arc<Socket>),
}

impl Held {
    /// The socket as socket2 sees it, for calls tokio does not wrap.
    fn sock_ref(&self) -> SockRef<'_> {
        match self {
            Held::Stream(s) => SockRef::from(&**s),
            Held::Listener(l) => SockRef::from(&**l),
            Held::Bound(b) => SockRef::from(&**b),
        }
    }
}

/// The deadlines a scenario gave a socket with SO_RCVTIMEO / SO_SNDTIMEO.
#[derive(Debug, Clone, Copy, Default)]
struct Deadlines {
    read: Option<Duration>,
    write: Option<Duration>,
}

struct Shared {
    run: RunState,
    resources: Mutex<HashMap<String, Res>>,
    deadlines: Mutex<HashMap<String, Deadlines>>,
    sync_notify: tokio::sync::Notify,
    write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
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

impl Shared {
    /// Ends every task: a tokio program cancels by dropping futures.
    fn cancel_all(&self) {
        self.run.cancel();
        self.sync_notify.notify_waiters();
        for t in lock(&self.tasks).iter() {
            t.abort();
        }
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

/// Runs `scenario` on tokio; the same contract as the std engine's [`super::run`].
pub(super) fn run(scenario: &Scenario, config: &RunConfig) -> Run {
    let timeout = timeout_of(scenario, config);
    let (instances, mut failures) = instances(scenario, config);
    let start = Instant::now();
    if !failures.is_empty() {
        return Run::not_started(failures, timeout);
    }
    let shared = Arc::new(Shared {
        run: RunState::new(start, &instances),
        resources: Mutex::new(HashMap::new()),
        deadlines: Mutex::new(HashMap::new()),
        sync_notify: tokio::sync::Notify::new(),
        write_locks: Mutex::new(HashMap::new()),
        tasks: Mutex::new(Vec::new()),
        connecting: instances.iter().map(|_| Connecting::default()).collect(),
    });
    let config = Arc::new(config.clone());
    let plan: Vec<(String, usize, Vec<Step>)> = instances
        .into_iter()
        .map(|(name, index, actor)| (name, index, actor.steps.clone()))
        .collect();

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
                Err(e) => {
                    sh.run
                        .out
                        .fail(format!("cannot start the tokio runtime: {e}"));
                    drop(done_tx);
                    let _ = joined_tx.send(());
                    return;
                }
            };
            rt.block_on(async {
                let mut handles = Vec::new();
                for (slot, (name, index, steps)) in plan.into_iter().enumerate() {
                    let guard = DoneGuard {
                        slot,
                        tx: done_tx.clone(),
                    };
                    let mut ctx = Ctx {
                        shared: Arc::clone(&sh),
                        slot,
                        actor: name.clone(),
                        index,
                        config: Arc::clone(&config),
                        log: EventLog::default(),
                    };
                    let h = tokio::spawn(async move {
                        let _guard = guard;
                        run_actor(&mut ctx, &steps).await;
                        ctx.actor_state().finished();
                    });
                    lock(&sh.tasks).push(h.abort_handle());
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
            lock(&sh.resources).clear();
            let _ = joined_tx.send(());
        });
    if let Err(e) = runtime_thread {
        failures.push(format!("cannot start the runtime's thread: {e}"));
        return Run::not_started(failures, timeout);
    }

    // The watchdog: as in the std engine, but ending a stuck task is dropping it.
    let stuck = watch(&shared.run.actors, &done_rx, start + timeout, || {
        shared.cancel_all()
    });
    let elapsed_ms = shared.run.ms(Instant::now());
    // Panics are collected when the tasks are joined; a thread stuck in a blocking call
    // (none of the steps makes one) is left behind after GRACE.
    let _ = joined_rx.recv_timeout(GRACE);

    shared
        .run
        .out
        .take_run(failures, stuck, elapsed_ms, timeout)
}

/// One actor instance's steps in order, as in the std engine.
async fn run_actor(ctx: &mut Ctx, steps: &[Step]) {
    for (i, step) in steps.iter().enumerate() {
        if ctx.shared.run.cancelled() {
            break;
        }
        ctx.begin_step(i + 1, step.line, step.action.op());
        if !step_enabled(&ctx.config, step.when.as_deref()) {
            continue;
        }
        let t0 = Instant::now();
        let outcome = execute(ctx, step).await;
        ctx.flush_folded();
        if ctx.shared.run.cancelled() {
            break;
        }
        if !ctx
            .shared
            .run
            .out
            .settle(&ctx.actor, i + 1, step, t0, outcome)
        {
            ctx.shared.cancel_all();
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parking: what `wait_blocked` and the events' notes see
// ---------------------------------------------------------------------------------------

/// Marks the actor parked while `inner` is pending, and counts how often it parked.
struct Parked<'a, F> {
    inner: Pin<&'a mut F>,
    flag: &'a AtomicBool,
    parks: &'a AtomicUsize,
}

impl<F: Future> Future for Parked<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.inner.as_mut().poll(cx) {
            Poll::Pending => {
                if !self.flag.swap(true, Ordering::SeqCst) {
                    self.parks.fetch_add(1, Ordering::SeqCst);
                }
                Poll::Pending
            }
            Poll::Ready(v) => {
                self.flag.store(false, Ordering::SeqCst);
                Poll::Ready(v)
            }
        }
    }
}

/// What a pending socket future means for `wait_blocked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Waiting for data, buffer space, a connection to accept or an event: blocked.
    Io,
    /// A connect. It parks at least once on tokio even when the kernel completes the
    /// handshake at once (a non-blocking connect(2) says EINPROGRESS), where the std
    /// engine's blocking connect to loopback does not sleep; counting it would let
    /// `wait_blocked` end before the actor reaches the call the scenario means.
    Handshake,
    /// A blocking thread waiting for a child process (`write_in_child`): not a socket.
    Child,
}

/// One actor instance's view of the run.
struct Ctx {
    shared: Arc<Shared>,
    slot: usize,
    actor: String,
    index: usize,
    config: Arc<RunConfig>,
    log: EventLog,
}

impl ActorCtx for Ctx {
    fn scope(&self) -> (&RunConfig, usize) {
        (&self.config, self.index)
    }

    fn run(&self) -> &RunState {
        &self.shared.run
    }

    fn slot(&self) -> usize {
        self.slot
    }

    fn log_parts(&mut self) -> (&str, &mut EventLog, &Mutex<Vec<Event>>) {
        (&self.actor, &mut self.log, &self.shared.run.out.events)
    }

    /// A call that does not wait (setsockopt, try_write, bind).
    fn call<T>(
        &mut self,
        op: &str,
        sock: Option<&str>,
        requested: Option<u64>,
        f: impl FnOnce() -> io::Result<T>,
        returned: impl FnOnce(&T) -> Option<i64>,
    ) -> io::Result<T> {
        let t0 = Instant::now();
        let r = f();
        let elapsed_ms = millis(t0.elapsed());
        self.record_call(op, sock, requested, &r, returned, t0, elapsed_ms, None);
        r
    }

    fn local_addr_of(&self, name: &str) -> Result<SocketAddr, String> {
        if let Some(a) = self.closed_addrs(name) {
            return a
                .map(|(l, _)| l)
                .ok_or_else(|| format!("the address of the closed socket `{name}` is unknown"));
        }
        self.with_socket(name, |s| s.local_addr())?
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| format!("cannot read the address of `{name}`"))
    }
}

impl Ctx {
    /// Awaits a socket future, within `limit` when given; marks the actor parked while
    /// it is pending (for `wait_blocked`, unless `kind` is [`Wait::Handshake`]), and
    /// records one event. `Err(Elapsed)` is the timer's outcome.
    #[allow(clippy::too_many_arguments)]
    async fn await_call<T, F>(
        &mut self,
        kind: Wait,
        op: &str,
        sock: Option<&str>,
        requested: Option<u64>,
        limit: Option<Duration>,
        fut: F,
        returned: impl FnOnce(&T) -> Option<i64>,
    ) -> Result<io::Result<T>, Elapsed>
    where
        F: Future<Output = io::Result<T>>,
    {
        let shared = Arc::clone(&self.shared);
        let st = &shared.run.actors[self.slot];
        *lock(&st.op) = op.to_owned();
        let parks = AtomicUsize::new(0);
        let not_blocking = AtomicBool::new(false);
        let mut fut = std::pin::pin!(fut);
        let parked = Parked {
            inner: fut.as_mut(),
            flag: match kind {
                Wait::Io => &st.in_call,
                Wait::Handshake => &shared.connecting[self.slot].parked,
                Wait::Child => &not_blocking,
            },
            parks: &parks,
        };
        let t0 = Instant::now();
        let r = match limit {
            Some(d) => tokio::time::timeout(d, parked).await,
            None => Ok(parked.await),
        };
        st.in_call.store(false, Ordering::SeqCst);
        let elapsed_ms = millis(t0.elapsed());
        let parks = parks.load(Ordering::SeqCst);
        let mut notes = Vec::new();
        if parks > 0 && kind == Wait::Child {
            notes.push("the task parked while a blocking-pool thread waited for the child".into());
        } else if parks > 0 {
            notes.push(format!(
                "parked {parks}x until the socket was ready (tokio turns EAGAIN into waiting)"
            ));
        }
        let (outcome, ret) = match &r {
            Ok(Ok(v)) => (Outcome::Ok, returned(v)),
            Ok(Err(e)) => (Outcome::from_io(e), None),
            Err(_) => {
                notes.push(format!(
                    "tokio::time::timeout({} ms) elapsed and dropped the future",
                    limit.map_or(0, |d| d.as_millis())
                ));
                (Outcome::deadline(), None)
            }
        };
        let at = self.shared.run.ms(t0);
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        self.record(op, sock, requested, ret, outcome, at, elapsed_ms, note);
        r
    }

    // -- resources ---------------------------------------------------------------------

    fn stream(&self, name: &str) -> Result<Arc<TcpStream>, String> {
        match lock(&self.shared.resources).get(name) {
            Some(Res::Stream(s)) => Ok(Arc::clone(s)),
            Some(Res::Listener(_)) => Err(format!("`{name}` is a listener, not a connection")),
            Some(Res::Bound(_)) => Err(format!("`{name}` is bound, not connected")),
            Some(Res::Group(_)) => Err(format!(
                "`{name}` is a set of dialled connections, not one socket"
            )),
            Some(Res::Closed(..)) => Err(format!("socket `{name}` was closed by an earlier step")),
            None => Err(missing(name)),
        }
    }

    fn listener(&self, name: &str) -> Result<Arc<TcpListener>, String> {
        match lock(&self.shared.resources).get(name) {
            Some(Res::Listener(l)) => Ok(Arc::clone(l)),
            Some(_) => Err(format!("`{name}` is not a listening socket")),
            None => Err(missing(name)),
        }
    }

    /// Runs `f` on the socket under `name` whatever tokio type holds it (options, ioctls,
    /// shutdown, addresses): through socket2's `SockRef`.
    fn with_socket<T>(&self, name: &str, f: impl FnOnce(&Socket) -> T) -> Result<T, String> {
        Ok(f(&self.held(name)?.sock_ref()))
    }

    fn stale(&self, name: &str) -> Option<sys::StaleHandle> {
        match lock(&self.shared.resources).get(name) {
            Some(Res::Closed(h, _)) => Some(*h),
            _ => None,
        }
    }

    /// The addresses `name` had when it was closed; `None` if it is not a closed socket.
    fn closed_addrs(&self, name: &str) -> Option<Addrs> {
        match lock(&self.shared.resources).get(name) {
            Some(Res::Closed(_, a)) => Some(*a),
            _ => None,
        }
    }

    /// Stores a connected stream, remembering its peer.
    fn put_stream(&self, name: &str, s: TcpStream) {
        if let Ok(peer) = s.peer_addr() {
            self.remember_peer(name, peer);
        }
        self.put(name, Res::Stream(Arc::new(s)));
    }

    /// A handle on the socket under `name` that can leave this task (for a blocking
    /// thread), whatever tokio type holds it.
    fn held(&self, name: &str) -> Result<Held, String> {
        match lock(&self.shared.resources).get(name) {
            Some(Res::Stream(s)) => Ok(Held::Stream(Arc::clone(s))),
            Some(Res::Listener(l)) => Ok(Held::Listener(Arc::clone(l))),
            Some(Res::Bound(b)) => Ok(Held::Bound(Arc::clone(b))),
            Some(Res::Group(_)) => Err(format!(
                "`{name}` is a set of dialled connections, not one socket"
            )),
            Some(Res::Closed(..)) => Err(format!("socket `{name}` was closed by an earlier step")),
            None => Err(missing(name)),
        }
    }

    fn put(&self, name: &str, r: Res) {
        lock(&self.shared.resources).insert(name.to_owned(), r);
    }

    /// Takes the socket out so that it can be closed, as a plain socket2 socket
    /// (deregistered from the runtime); fails if another actor holds it.
    fn take_socket(&self, name: &str) -> Result<io::Result<Socket>, String> {
        let mut res = lock(&self.shared.resources);
        let busy =
            || format!("socket `{name}` is in use by another actor and cannot be closed now");
        match res.remove(name) {
            Some(Res::Stream(s)) => match Arc::try_unwrap(s) {
                Ok(s) => Ok(s.into_std().map(Socket::from)),
                Err(s) => {
                    res.insert(name.to_owned(), Res::Stream(s));
                    Err(busy())
                }
            },
            Some(Res::Listener(l)) => match Arc::try_unwrap(l) {
                Ok(l) => Ok(l.into_std().map(Socket::from)),
                Err(l) => {
                    res.insert(name.to_owned(), Res::Listener(l));
                    Err(busy())
                }
            },
            Some(Res::Bound(b)) => match Arc::try_unwrap(b) {
                Ok(b) => Ok(Ok(b)),
                Err(b) => {
                    res.insert(name.to_owned(), Res::Bound(b));
                    Err(busy())
                }
            },
            Some(other) => {
                res.insert(name.to_owned(), other);
                Err(format!("`{name}` is not an open socket"))
            }
            None => Err(missing(name)),
        }
    }

    fn deadlines(&self, name: &str) -> Deadlines {
        lock(&self.shared.deadlines)
            .get(name)
            .copied()
            .unwrap_or_default()
    }

    fn write_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(
            lock(&self.shared.write_locks)
                .entry(name.to_owned())
                .or_default(),
        )
    }

    // -- sync points -------------------------------------------------------------------

    fn signal(&self, sync: &str) {
        *lock(&self.shared.run.syncs)
            .entry(sync.to_owned())
            .or_insert(0) += 1;
        self.shared.sync_notify.notify_waiters();
    }

    async fn wait_sync(&self, sync: &str, count: i64) -> bool {
        loop {
            let notified = self.shared.sync_notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before looking, so a signal in between is not missed.
            notified.as_mut().enable();
            if lock(&self.shared.run.syncs).get(sync).copied().unwrap_or(0) >= count {
                return true;
            }
            if self.cancelled() {
                return false;
            }
            let _ = tokio::time::timeout(SLICE, notified).await;
        }
    }

    /// Whether every instance of `actor` is parked in an await on a socket future; a
    /// parked connect only while its handshake is not done (see the module's notes).
    fn actor_blocked(&self, actor: &str) -> Result<bool, String> {
        let mut any = false;
        for (slot, st) in self.shared.run.actors.iter().enumerate() {
            if st.base != actor {
                continue;
            }
            any = true;
            if st.in_call.load(Ordering::SeqCst) {
                continue;
            }
            let c = &self.shared.connecting[slot];
            let handshaking = c.parked.load(Ordering::SeqCst)
                && match lock(&c.probe).as_ref().map(sys::tcp_state) {
                    Some(Some(state)) => state == SYN_SENT,
                    // The state cannot be read here: a parked connect counts.
                    Some(None) => true,
                    None => false,
                };
            if !handshaking {
                return Ok(false);
            }
        }
        if any {
            Ok(true)
        } else {
            Err(format!("there is no actor `{actor}`"))
        }
    }
}

fn missing(name: &str) -> String {
    format!(
        "socket `{name}` does not exist yet: the step that creates it has not run (order the actors with signal/wait)"
    )
}

// ---------------------------------------------------------------------------------------
// The steps
// ---------------------------------------------------------------------------------------

/// Awaits readiness for `interest`, then tries `io` until it does not say WouldBlock:
/// what tokio's own `read`/`write` futures do.
async fn ready_then<T>(
    s: &TcpStream,
    interest: Interest,
    mut io: impl FnMut(&TcpStream) -> io::Result<T>,
) -> io::Result<T> {
    loop {
        s.ready(interest).await?;
        match io(s) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

/// One read as tokio's `read().await`: one call that moved bytes, EOF or an error.
async fn read_once(
    ctx: &mut Ctx,
    s: &TcpStream,
    sock: &str,
    buf: &mut [u8],
    limit: Option<Duration>,
) -> Result<io::Result<usize>, Elapsed> {
    let n = buf.len() as u64;
    let fut = ready_then(s, Interest::READABLE, |s| s.try_read(buf));
    ctx.await_call(
        Wait::Io,
        "read().await",
        Some(sock),
        Some(n),
        limit,
        fut,
        count,
    )
    .await
}

/// One write as tokio's `write().await`.
async fn write_once(
    ctx: &mut Ctx,
    s: &TcpStream,
    sock: &str,
    buf: &[u8],
    limit: Option<Duration>,
) -> Result<io::Result<usize>, Elapsed> {
    let n = buf.len() as u64;
    let fut = ready_then(s, Interest::WRITABLE, |s| s.try_write(buf));
    ctx.await_call(
        Wait::Io,
        "write().await",
        Some(sock),
        Some(n),
        limit,
        fut,
        count,
    )
    .await
}

/// tokio's `write_all`: writes until all is written or one fails, the whole of it within
/// `limit`. The figures are the lab's (it sees each write); the note says what the
/// caller of a timed-out `write_all` learns.
async fn write_all(
    ctx: &mut Ctx,
    s: &TcpStream,
    sock: &str,
    buf: &[u8],
    limit: Option<Duration>,
    r: &mut StepResult,
) {
    let deadline = limit.map(|d| Instant::now() + d);
    let mut off = 0;
    while off < buf.len() {
        if ctx.cancelled() {
            return;
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match write_once(ctx, s, sock, &buf[off..], left).await {
            Ok(Ok(0)) => {
                r.failed(&io::Error::from(io::ErrorKind::WriteZero));
                return;
            }
            Ok(Ok(k)) => {
                off += k;
                r.moved(k);
            }
            Ok(Err(e)) => {
                r.failed(&e);
                return;
            }
            Err(_) => {
                r.outcome = Outcome::deadline();
                r.calls.push("deadline".into());
                let at = ctx.now_ms();
                ctx.record(
                    "write_all: Elapsed",
                    Some(sock),
                    Some(buf.len() as u64),
                    None,
                    Outcome::deadline(),
                    at,
                    0.0,
                    Some(format!(
                        "the caller of a timed-out write_all gets Elapsed only; {off} of {} bytes had left",
                        buf.len()
                    )),
                );
                return;
            }
        }
    }
}

/// tokio's `read_exact`: reads until exactly `want` bytes arrived, each read within
/// `limit`; EOF early is `UnexpectedEof`, as `read_exact` says.
async fn read_exactly(
    ctx: &mut Ctx,
    s: &TcpStream,
    sock: &str,
    want: usize,
    limit: Option<Duration>,
) -> Result<usize, Outcome> {
    let mut b = vec![0u8; want.max(1)];
    let mut got = 0;
    while got < want {
        if ctx.cancelled() {
            return Err(Outcome::deadline());
        }
        let left = want - got;
        match read_once(ctx, s, sock, &mut b[..left], limit).await {
            Ok(Ok(0)) => {
                return Err(Outcome::from_io(&io::Error::from(
                    io::ErrorKind::UnexpectedEof,
                )))
            }
            Ok(Ok(k)) => got += k,
            Ok(Err(e)) => return Err(Outcome::from_io(&e)),
            Err(_) => return Err(Outcome::deadline()),
        }
    }
    Ok(got)
}

/// One dial: `TcpSocket::connect`, within the deadline when given.
async fn dial(
    ctx: &mut Ctx,
    label: &str,
    addr: SocketAddr,
    deadline_ms: Option<i64>,
) -> (Outcome, Option<TcpStream>) {
    let s = match ctx.call("socket", Some(label), None, TcpSocket::new_v4, |_| None) {
        Ok(s) => s,
        Err(e) => return (Outcome::from_io(&e), None),
    };
    let limit = deadline_ms.map(ms);
    // The engine's own look at the handshake, for `wait_blocked`; not a call of the
    // scenario's, so not recorded.
    let shared = Arc::clone(&ctx.shared);
    let connecting = &shared.connecting[ctx.slot];
    *lock(&connecting.probe) = SockRef::from(&s).try_clone().ok();
    let _forget = ConnectingGuard(connecting);
    match ctx
        .await_call(
            Wait::Handshake,
            "connect().await",
            Some(label),
            None,
            limit,
            s.connect(addr),
            |_| None,
        )
        .await
    {
        Ok(Ok(stream)) => (Outcome::Ok, Some(stream)),
        Ok(Err(e)) => (Outcome::from_io(&e), None),
        Err(_) => (Outcome::deadline(), None),
    }
}

/// The address of the socket a dial goes to.
fn target(ctx: &Ctx, to: &str) -> Result<SocketAddr, String> {
    ctx.with_socket(to, |s| s.local_addr())?
        .map_err(|e| format!("cannot read the address of `{to}`: {e}"))?
        .as_socket()
        .ok_or_else(|| format!("`{to}` has no IP address"))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
// tokio has the PRIORITY readiness (EPOLLPRI) only where epoll reports it.
const PRIORITY: Option<(Ready, &str)> = Some((Ready::PRIORITY, "PRIORITY"));
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const PRIORITY: Option<(Ready, &str)> = None;

/// tokio's readiness set by name: `READABLE|WRITABLE|READ_CLOSED`, or `none`.
pub fn ready_names(r: Ready) -> String {
    let names: Vec<&str> = [
        (Ready::READABLE, "READABLE"),
        (Ready::WRITABLE, "WRITABLE"),
        (Ready::READ_CLOSED, "READ_CLOSED"),
        (Ready::WRITE_CLOSED, "WRITE_CLOSED"),
        (Ready::ERROR, "ERROR"),
    ]
    .into_iter()
    .chain(PRIORITY)
    .filter(|(bit, _)| r & *bit == *bit && !bit.is_empty())
    .map(|(_, n)| n)
    .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("|")
    }
}

/// Runs one step. Each arm is that op's one tokio implementation.
async fn execute(ctx: &mut Ctx, step: &Step) -> StepOutcome {
    let op = step.action.op();
    let mut r = StepResult::new(&ctx.actor, None, op);
    match &step.action {
        Action::Bind {
            name,
            reuseaddr,
            port_of,
        } => {
            let port = port_for(ctx, port_of)?;
            match bound_socket(ctx, name, *reuseaddr, port) {
                Ok(s) => ctx.put(name, Res::Bound(Arc::new(s))),
                Err(e) => return Ok(failed(r, &e)),
            }
        }
        Action::Listen {
            name,
            backlog,
            reuseaddr,
            port_of,
        } => {
            let backlog = args::backlog(ctx, backlog)?;
            let port = port_for(ctx, port_of)?;
            let listening = args::listening_socket(ctx, name, backlog, *reuseaddr, port);
            let listening = listening.and_then(|s| {
                // tokio needs a non-blocking socket; registering it is TcpListener::from_std.
                s.set_nonblocking(true)?;
                ctx.call(
                    "TcpListener::from_std",
                    Some(name),
                    None,
                    || TcpListener::from_std(s.into()),
                    |_| None,
                )
            });
            match listening {
                Ok(l) => ctx.put(name, Res::Listener(Arc::new(l))),
                Err(e) => return Ok(failed(r, &e)),
            }
        }
        Action::Accept {
            from,
            name,
            timeout_ms,
        } => {
            let l = ctx.listener(from)?;
            let limit = args::eval_opt(ctx, timeout_ms)?.map(ms);
            match ctx
                .await_call(
                    Wait::Io,
                    "accept().await",
                    Some(from),
                    None,
                    limit,
                    l.accept(),
                    |_| None,
                )
                .await
            {
                Ok(Ok((s, _))) => ctx.put_stream(name, s),
                Ok(Err(e)) => return Ok(failed(r, &e)),
                Err(_) => r.outcome = Outcome::deadline(),
            }
        }
        Action::Connect {
            to,
            name,
            timeout_ms,
        } => {
            let addr = target(ctx, to)?;
            let deadline = args::eval_opt(ctx, timeout_ms)?;
            let (outcome, sock) = dial(ctx, name, addr, deadline).await;
            r.outcome = outcome;
            if let Some(s) = sock {
                ctx.put_stream(name, s);
            }
        }
        Action::DialRepeat {
            to,
            name,
            max,
            timeout_ms,
        } => {
            let addr = target(ctx, to)?;
            let max = ctx.eval(max)?;
            let deadline = args::eval_opt(ctx, timeout_ms)?;
            let mut group = Vec::new();
            while (group.len() as i64) < max && !ctx.cancelled() {
                let label = format!("{name}#{}", group.len());
                let (outcome, sock) = dial(ctx, &label, addr, deadline).await;
                match sock {
                    Some(s) => group.push(Arc::new(s)),
                    None => {
                        r.outcome = outcome;
                        break;
                    }
                }
            }
            r.count = group.len() as i64;
            ctx.put(name, Res::Group(group));
        }
        Action::Write { sock, bytes } => {
            let n = ctx.eval_size(bytes)?;
            let buf = vec![b'x'; n];
            if let Some(h) = ctx.stale(sock) {
                match stale_call(ctx, sock, "write", n, || sys::stale_write(h, &buf)) {
                    Ok(k) => r.bytes = k as i64,
                    Err(e) => r.outcome = Outcome::from_io(&e),
                }
                return Ok(r);
            }
            let s = ctx.stream(sock)?;
            let limit = ctx.deadlines(sock).write;
            match write_once(ctx, &s, sock, &buf, limit).await {
                Ok(Ok(k)) => r.bytes = k as i64,
                Ok(Err(e)) => r.outcome = Outcome::from_io(&e),
                Err(_) => r.outcome = Outcome::deadline(),
            }
        }
        Action::WriteAll { sock, bytes } => {
            let n = ctx.eval_size(bytes)?;
            let buf = vec![b'x'; n];
            let s = ctx.stream(sock)?;
            let limit = ctx.deadlines(sock).write;
            write_all(ctx, &s, sock, &buf, limit, &mut r).await;
        }
        Action::WriteUntilBlocked {
            sock,
            chunk,
            max_bytes,
        } => {
            let a = args::WriteUntilBlocked::eval(ctx, chunk, max_bytes)?;
            let s = ctx.stream(sock)?;
            let buf = vec![b'x'; a.chunk];
            // Writable once, so that the first try_write reaches the kernel.
            if let Ok(Err(e)) | Err(e) = ctx
                .await_call(
                    Wait::Io,
                    "writable().await",
                    Some(sock),
                    None,
                    None,
                    s.writable(),
                    |_| None,
                )
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))
            {
                return Ok(failed(r, &e));
            }
            loop {
                if ctx.cancelled() || a.full(&r) {
                    break;
                }
                match ctx.call(
                    "try_write",
                    Some(sock),
                    Some(a.chunk as u64),
                    || s.try_write(&buf),
                    count,
                ) {
                    Ok(k) => r.moved(k),
                    Err(e) => {
                        r.failed(&e);
                        break;
                    }
                }
            }
        }
        Action::Read { sock, buf } => {
            let n = ctx.eval_size(buf)?;
            let mut b = vec![0u8; n];
            if let Some(h) = ctx.stale(sock) {
                match stale_call(ctx, sock, "read", n, || sys::stale_read(h, &mut b)) {
                    Ok(k) => r.bytes = k as i64,
                    Err(e) => r.outcome = Outcome::from_io(&e),
                }
                return Ok(r);
            }
            let s = ctx.stream(sock)?;
            let limit = ctx.deadlines(sock).read;
            match read_once(ctx, &s, sock, &mut b, limit).await {
                Ok(Ok(k)) => r.bytes = k as i64,
                Ok(Err(e)) => r.outcome = Outcome::from_io(&e),
                Err(_) => r.outcome = Outcome::deadline(),
            }
        }
        Action::ReadToEof {
            sock,
            buf,
            max_calls,
        } => {
            let a = args::ReadToEof::eval(ctx, buf, max_calls)?;
            let s = ctx.stream(sock)?;
            let limit = ctx.deadlines(sock).read;
            let mut b = vec![0u8; a.buf];
            loop {
                if ctx.cancelled() || a.done(&r) {
                    break;
                }
                match read_once(ctx, &s, sock, &mut b, limit).await {
                    Ok(Ok(k)) => {
                        r.moved(k);
                        if k == 0 {
                            break;
                        }
                    }
                    Ok(Err(e)) => {
                        r.failed(&e);
                        break;
                    }
                    Err(_) => {
                        r.outcome = Outcome::deadline();
                        r.calls.push("deadline".into());
                        break;
                    }
                }
            }
        }
        Action::ReadTimes { sock, buf, times } => {
            let n = ctx.eval_size(buf)?;
            let times = ctx.eval_size(times)?;
            let mut b = vec![0u8; n];
            let stale = ctx.stale(sock);
            let s = match stale {
                Some(_) => None,
                None => Some(ctx.stream(sock)?),
            };
            let limit = ctx.deadlines(sock).read;
            for _ in 0..times {
                if ctx.cancelled() {
                    break;
                }
                let res = match (&s, stale) {
                    (Some(s), _) => read_once(ctx, s, sock, &mut b, limit).await,
                    (None, Some(h)) => Ok(stale_call(ctx, sock, "read", n, || {
                        sys::stale_read(h, &mut b)
                    })),
                    (None, None) => unreachable!("a socket or its stale number was found above"),
                };
                match res {
                    Ok(Ok(k)) => r.moved(k),
                    // Keep the first error as the step's outcome; later reads still run.
                    Ok(Err(e)) => r.failed_again(Outcome::from_io(&e)),
                    Err(_) => r.failed_again(Outcome::deadline()),
                }
            }
        }
        Action::WaitBytes {
            sock,
            bytes,
            timeout_ms,
            queue,
        } => {
            let a = args::WaitBytes::eval(ctx, bytes, timeout_ms, *queue)?;
            let t0 = Instant::now();
            let at = ctx.now_ms();
            let mut queued = 0;
            let outcome = loop {
                match ctx.with_socket(sock, |s| a.read(s))? {
                    Ok(q) => queued = q,
                    Err(e) => break Outcome::from_io(&e),
                }
                if a.reached(queued) {
                    break Outcome::Ok;
                }
                if ctx.cancelled() || t0.elapsed() >= a.limit {
                    break Outcome::deadline();
                }
                tokio::time::sleep(LOOK_AGAIN).await;
            };
            let el = millis(t0.elapsed());
            a.finish(ctx, sock, queued, outcome, at, el, &mut r);
        }
        Action::Set {
            sock,
            option: SockOpt::Congestion,
            value,
        } => {
            let name = args::congestion_name(ctx, value)?;
            let held = ctx.held(sock)?;
            r.outcome = args::set_congestion(ctx, &held.sock_ref(), sock, &name);
        }
        Action::Get {
            sock,
            option: SockOpt::Congestion,
        } => {
            let held = ctx.held(sock)?;
            args::get_congestion(ctx, &held.sock_ref(), sock, &mut r);
        }
        Action::Set {
            sock,
            option,
            value,
        } => {
            let v = ctx.eval(value)?;
            if *option == SockOpt::NonBlocking && v == 0 {
                // tokio requires its sockets non-blocking (TcpStream::from_std's contract):
                // a blocking one would stall the runtime's only thread inside a read or
                // write, and with it every other actor and the engine's own timers.
                return Err(
                    "clearing O_NONBLOCK on a tokio socket would make its reads and writes block the runtime's thread; tokio requires non-blocking sockets, so this step cannot run on the tokio engine"
                        .into(),
                );
            }
            let t0 = Instant::now();
            let res = ctx.with_socket(sock, |s| set_option(s, *option, v))?;
            let el = millis(t0.elapsed());
            let mut note = None;
            if res.is_ok() && matches!(option, SockOpt::RcvTimeo | SockOpt::SndTimeo) {
                let d = (v > 0).then(|| ms(v));
                let mut all = lock(&ctx.shared.deadlines);
                let entry = all.entry(sock.clone()).or_default();
                if *option == SockOpt::RcvTimeo {
                    entry.read = d;
                } else {
                    entry.write = d;
                }
                note = Some(format!(
                    "the kernel ignores it on a non-blocking socket; the engine applies tokio::time::timeout({v} ms) to later {} on `{sock}`",
                    if *option == SockOpt::RcvTimeo { "reads" } else { "writes" }
                ));
            }
            if res.is_ok() && *option == SockOpt::NonBlocking {
                note = Some(
                    "tokio's sockets are always non-blocking: the flag was already set".into(),
                );
            }
            let op = format!("setsockopt({})", option.name());
            r.outcome = ctx.record_call(&op, Some(sock), None, &res, |_| Some(v), t0, el, note);
        }
        Action::Get { sock, option } => {
            let op = args::get_op(*option);
            let t0 = Instant::now();
            let res = ctx.with_socket(sock, |s| get_option(s, *option))?;
            let el = millis(t0.elapsed());
            let outcome = ctx.record_call(&op, Some(sock), None, &res, |v| Some(*v), t0, el, None);
            match res {
                Ok(v) => {
                    r.value = Some(v);
                    r.error = args::pending_error(*option, v);
                }
                Err(_) => r.outcome = outcome,
            }
        }
        Action::Shutdown { sock, how } => {
            let (how, label) = args::shutdown_how(*how);
            let t0 = Instant::now();
            let res = ctx.with_socket(sock, |s| s.shutdown(how))?;
            let el = millis(t0.elapsed());
            r.outcome = ctx.record_call(label, Some(sock), None, &res, |_| None, t0, el, None);
        }
        Action::Close { sock } => {
            let s = match ctx.take_socket(sock)? {
                Ok(s) => s,
                Err(e) => return Ok(failed(r, &e)),
            };
            // Kept for a later `state` step (the kernel's table) and `port_of`.
            let addrs = closing_addrs(&s, ctx.remembered_peer(sock));
            match ctx.call(
                "close (drop)",
                Some(sock),
                None,
                || sys::close_to_stale(s),
                |_| Some(0),
            ) {
                Ok(h) => ctx.put(sock, Res::Closed(h, addrs)),
                Err(e) => r.outcome = Outcome::from_io(&e),
            }
        }
        Action::Poll {
            sock,
            wait_for,
            timeout_ms,
        } => {
            let t = ctx.eval(timeout_ms)?;
            let s = ctx.stream(sock)?;
            let (interest, wanted) = match wait_for {
                PollFor::In => (Interest::READABLE, Ready::READABLE | Ready::READ_CLOSED),
                PollFor::Out => (Interest::WRITABLE, Ready::WRITABLE | Ready::WRITE_CLOSED),
                PollFor::Err => (Interest::ERROR, Ready::ERROR),
                // Both halves closed: no interest maps to it alone, so look again.
                PollFor::Hup => (
                    Interest::READABLE | Interest::WRITABLE,
                    Ready::READ_CLOSED | Ready::WRITE_CLOSED,
                ),
            };
            let all_of = *wait_for == PollFor::Hup;
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
            let res = ctx
                .await_call(Wait::Io, &op, Some(sock), None, Some(ms(t)), fut, |_| None)
                .await;
            let names = ready_names(*lock(&seen));
            r.revents = Some(names);
            r.outcome = match res {
                Ok(Ok(_)) => Outcome::Ok,
                Ok(Err(e)) => Outcome::from_io(&e),
                Err(_) => Outcome::deadline(),
            };
        }
        Action::Signal { sync } => {
            ctx.signal(sync);
            let at = ctx.now_ms();
            let note = sync.clone();
            ctx.record_own("signal", None, at, 0.0, note);
        }
        Action::Wait { sync, count } => {
            let n = args::wait_count(ctx, count)?;
            let at = ctx.now_ms();
            let t0 = Instant::now();
            if !ctx.wait_sync(sync, n).await {
                return Err(format!("cancelled while waiting for `{sync}`"));
            }
            let el = millis(t0.elapsed());
            let note = sync.clone();
            ctx.record_own("wait", None, at, el, note);
        }
        Action::WaitBlocked { actor } => {
            let at = ctx.now_ms();
            let t0 = Instant::now();
            while !ctx.actor_blocked(actor)? {
                if ctx.cancelled() {
                    return Err(format!("cancelled while waiting for `{actor}` to block"));
                }
                if t0.elapsed() >= ENGINE_WAIT_LIMIT {
                    return Err(format!("`{actor}` did not park in an await on a socket"));
                }
                tokio::time::sleep(LOOK_AGAIN).await;
            }
            let el = millis(t0.elapsed());
            let note = format!("{actor} is parked in an await on a socket");
            ctx.record_own("wait_blocked", None, at, el, note);
        }
        Action::WriteMessages {
            sock,
            count: n,
            size,
            lock: locked,
        } => {
            let a = args::WriteMessages::eval(ctx, n, size, locked)?;
            let guard = a.locked.then(|| ctx.write_lock(sock));
            let s = ctx.stream(sock)?;
            let limit = ctx.deadlines(sock).write;
            let mut msg = vec![0u8; a.size];
            for m in 0..a.count {
                a.fill(&mut msg, m);
                let mut one = StepResult::new(&ctx.actor, None, "write_all");
                match &guard {
                    Some(g) => {
                        let _held = g.lock().await;
                        write_all(ctx, &s, sock, &msg, limit, &mut one).await;
                    }
                    None => write_all(ctx, &s, sock, &msg, limit, &mut one).await,
                }
                r.bytes += one.bytes;
                if !one.outcome.is_ok() {
                    r.outcome = one.outcome;
                    break;
                }
                r.count += 1;
            }
        }
        Action::ConnectStart { to, name } => {
            // tokio's own TcpSocket::connect makes this same call but keeps its answer:
            // EINPROGRESS becomes a pending future, and the caller learns only how the
            // handshake ended. To show the call's immediate result, as the scenario asks,
            // the engine makes it through socket2 on a non-blocking socket and hands the
            // socket to tokio afterwards, as a tokio program has to for this.
            let addr = target(ctx, to)?;
            let s = match args::nonblocking_socket(ctx, name) {
                Ok(s) => s,
                Err(e) => return Ok(failed(r, &e)),
            };
            let t0 = Instant::now();
            let res = s.connect(&SockAddr::from(addr));
            let el = millis(t0.elapsed());
            let note = Some(
                "made through socket2: tokio's TcpSocket::connect().await never returns EINPROGRESS, it parks until the handshake ends".to_owned(),
            );
            let op = "connect (non-blocking, socket2)";
            r.outcome = ctx.record_call(op, Some(name), None, &res, |_| None, t0, el, note);
            // Kept whatever connect said, so that poll and SO_ERROR can follow.
            ctx.remember_peer(name, addr);
            match ctx.call(
                "TcpStream::from_std",
                Some(name),
                None,
                || TcpStream::from_std(s.into()),
                |_| None,
            ) {
                Ok(stream) => ctx.put(name, Res::Stream(Arc::new(stream))),
                Err(e) => return Err(format!("tokio did not take the connecting socket: {e}")),
            }
        }
        Action::ConnectAgain { sock, to } => {
            // tokio has no call that connects an existing stream: the raw connect(2)
            // through socket2::SockRef, on tokio's non-blocking socket.
            let addr = SockAddr::from(target(ctx, to)?);
            let t0 = Instant::now();
            let res = ctx.with_socket(sock, |s| s.connect(&addr))?;
            let el = millis(t0.elapsed());
            let note =
                Some("through socket2::SockRef: tokio cannot connect a TcpStream again".to_owned());
            let op = "connect (socket2)";
            r.outcome = ctx.record_call(op, Some(sock), None, &res, |_| None, t0, el, note);
        }
        Action::State { sock } => {
            let at = ctx.now_ms();
            let t0 = Instant::now();
            let (op, state) = match ctx.closed_addrs(sock) {
                Some(addrs) => args::closed_state(addrs),
                None => (
                    "getsockopt(TCP_INFO) through SockRef",
                    ctx.with_socket(sock, sys::tcp_state)?.map(str::to_owned),
                ),
            };
            let note = args::state_note(&state);
            let el = millis(t0.elapsed());
            ctx.record_own(op, Some(sock), at, el, note);
            r.state = state;
        }
        Action::WriteInChild {
            sock,
            bytes,
            sigpipe,
            timeout_ms,
        } => {
            let a = args::WriteInChild::eval(ctx, bytes, *sigpipe, timeout_ms)?;
            let held = ctx.held(sock)?;
            let n = a.bytes;
            let buf = vec![b'x'; n];
            let op = format!("spawn_blocking: {}", a.child_op());
            // The same fork as the std engine's (the child makes only async-signal-safe
            // calls prepared before the fork), from a thread of tokio's blocking pool, so
            // that waiting for the child (bounded by `limit`) does not stall the other
            // actors' tasks. The child writes on tokio's descriptor, which is non-blocking.
            let child = async move {
                tokio::task::spawn_blocking(move || {
                    sys::write_in_child(&held.sock_ref(), &buf, a.default, a.limit)
                })
                .await
                .unwrap_or_else(|e| Err(io::Error::other(format!("the blocking task failed: {e}"))))
            };
            match ctx
                .await_call(
                    Wait::Child,
                    &op,
                    Some(sock),
                    Some(n as u64),
                    None,
                    child,
                    |_| None,
                )
                .await
            {
                Ok(end) => args::child_ended(&mut r, end),
                Err(_) => r.outcome = Outcome::deadline(),
            }
        }
        Action::Request {
            sock,
            count: n,
            parts,
            part_bytes,
            reply_bytes,
        } => {
            let a = args::Request::eval(ctx, n, parts, part_bytes, reply_bytes)?;
            let s = ctx.stream(sock)?;
            let deadlines = ctx.deadlines(sock);
            'exchanges: for _ in 0..a.count {
                for _ in 0..a.parts {
                    let mut one = StepResult::new(&ctx.actor, None, "write_all");
                    write_all(ctx, &s, sock, &a.part, deadlines.write, &mut one).await;
                    if !one.outcome.is_ok() {
                        r.outcome = one.outcome;
                        break 'exchanges;
                    }
                }
                match read_exactly(ctx, &s, sock, a.reply, deadlines.read).await {
                    Ok(k) => r.bytes += k as i64,
                    Err(o) => {
                        r.outcome = o;
                        break;
                    }
                }
                r.count += 1;
            }
        }
        Action::Respond {
            sock,
            count: n,
            request_bytes,
            reply_bytes,
        } => {
            let a = args::Respond::eval(ctx, n, request_bytes, reply_bytes)?;
            let s = ctx.stream(sock)?;
            let deadlines = ctx.deadlines(sock);
            for _ in 0..a.count {
                match read_exactly(ctx, &s, sock, a.request, deadlines.read).await {
                    Ok(k) => r.bytes += k as i64,
                    Err(o) => {
                        r.outcome = o;
                        break;
                    }
                }
                let mut one = StepResult::new(&ctx.actor, None, "write_all");
                write_all(ctx, &s, sock, &a.reply, deadlines.write, &mut one).await;
                if !one.outcome.is_ok() {
                    r.outcome = one.outcome;
                    break;
                }
                r.count += 1;
            }
        }
        Action::ReadMessages {
            sock,
            writers,
            count: n,
            size,
            buf,
        } => {
            let a = args::ReadMessages::eval(ctx, writers, n, size, buf)?;
            let s = ctx.stream(sock)?;
            let limit = ctx.deadlines(sock).read;
            let mut check = a.check();
            let mut b = vec![0u8; a.buf];
            loop {
                if ctx.cancelled() {
                    break;
                }
                match read_once(ctx, &s, sock, &mut b, limit).await {
                    Ok(Ok(0)) => break,
                    Ok(Ok(k)) => check.feed(&b[..k]),
                    Ok(Err(e)) => {
                        r.outcome = Outcome::from_io(&e);
                        break;
                    }
                    Err(_) => {
                        r.outcome = Outcome::deadline();
                        break;
                    }
                }
            }
            a.finish(&check, &mut r);
        }
    }
    Ok(r)
}

/// A raw read(2)/write(2) on a closed socket's descriptor number, recorded.
fn stale_call(
    ctx: &mut Ctx,
    sock: &str,
    op: &str,
    n: usize,
    f: impl FnOnce() -> io::Result<usize>,
) -> io::Result<usize> {
    let t0 = Instant::now();
    let r = f();
    let el = millis(t0.elapsed());
    let note = Some("raw call on the closed descriptor number: tokio, like std, has no call on a dropped socket".to_owned());
    ctx.record_call(op, Some(sock), Some(n as u64), &r, count, t0, el, note);
    r
}
