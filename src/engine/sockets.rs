//! Where the engines differ: the socket primitives the interpreter calls.
//!
//! The interpreter (`interp.rs`) runs every step the same way on every engine; whatever a
//! step needs that an engine does its own way is one primitive of [`Sockets`]. Everything
//! else (socket creation and binding, options, ioctls, shutdown, TCP_INFO, addresses) both
//! engines do alike through socket2, on the kernel socket [`Sockets::kernel`] gives, with
//! the helpers at the end of this file.
//!
//! Each primitive's doc says what the std engine does (blocking calls on one OS thread per
//! actor) and what tokio does (awaits on one current-thread runtime): that is the list of
//! differences the lab's `--engine all` tables show.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::context::{Ctx, RunState};
use super::resources::Resources;
use super::types::{lock, Addrs, EngineError};
use crate::event::Outcome;
use crate::scenario::{PollFor, SockOpt};
use crate::sys;

/// A primitive's answer: the call's value, or the outcome that ended it (an errno, or a
/// deadline of the engine's own) — or an engine error, which ends the run.
pub(super) type Prim<T> = Result<Result<T, Outcome>, EngineError>;

/// One dial: the name its socket is recorded under, where it goes, and its limit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dial<'a> {
    pub label: &'a str,
    pub addr: SocketAddr,
    pub limit: Option<Duration>,
    /// Options to set between socket(2) and connect(2).
    pub options: &'a [(SockOpt, i64)],
}

/// Sets a dial's options on its new socket, each call recorded.
pub(super) fn dial_options(
    cx: &mut Ctx,
    label: &str,
    s: &Socket,
    options: &[(SockOpt, i64)],
) -> io::Result<()> {
    for &(opt, v) in options {
        let op = format!("setsockopt({})", opt.name());
        cx.call(
            &op,
            Some(label),
            None,
            || set_option(s, opt, v),
            |_| Some(v),
        )?;
    }
    Ok(())
}

/// The direction of a timer an engine applies itself (SO_RCVTIMEO / SO_SNDTIMEO on tokio).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Read,
    Write,
}

/// The names an engine gives the calls it makes alike but names or explains its own way.
pub(super) struct CallNames {
    /// `close`: std closes the descriptor; tokio drops the stream (after deregistering it).
    pub close: &'static str,
    /// `connect_start`'s non-blocking connect(2), and why it is made so.
    pub connect_start: (&'static str, Option<&'static str>),
    /// `connect_again`'s connect(2) on a socket that has connected or is connecting.
    pub connect_again: (&'static str, Option<&'static str>),
    /// `state` on an open socket.
    pub state: &'static str,
    /// What `wait_blocked`'s event says the actor is.
    pub blocked: &'static str,
    /// The engine error when the actor never got there.
    pub not_blocked: &'static str,
}

/// The socket primitives of an engine; `self` is the engine's own state in one run. Every
/// method that takes an actor's context records its own events through it (`cx.call`,
/// `cx.record`); a call's failure is the `Outcome` of [`Prim`], never an engine error.
pub(super) trait Sockets: Sized + Send + Sync + 'static {
    /// A socket as the engine holds it (std: a socket2 socket; tokio: a listener, a
    /// stream, or a socket that is only bound).
    type Socket: Clone + Send + Sync + 'static;
    /// The lock `write_messages` writers hold around a whole message.
    type WriteLock: Default + Send + Sync + 'static;
    /// Holding that lock.
    type WriteGuard<'a>;

    /// The calls this engine names its own way.
    const NAMES: CallNames;

    /// Why a read or write on a closed socket is a raw call on its descriptor number.
    const STALE_NOTE: Option<&'static str>;

    /// The kernel socket behind `s`, for what both engines do alike through socket2.
    fn kernel(s: &Self::Socket) -> io::Result<SockRef<'_>>;

    /// A socket that is bound and nothing more (`bind`).
    fn bound(s: Socket) -> Self::Socket;

    /// A listening socket (`listen`). std keeps it blocking; tokio makes it non-blocking
    /// and registers it with the runtime (`TcpListener::from_std`, recorded).
    fn listener(&self, cx: &mut Ctx, name: &str, s: Socket) -> io::Result<Self::Socket>;

    /// The socket of a non-blocking connect in progress (`connect_start`). std keeps the
    /// socket2 socket; tokio registers it (`TcpStream::from_std`, recorded).
    fn connecting(&self, cx: &mut Ctx, name: &str, s: Socket) -> Result<Self::Socket, EngineError>;

    /// The socket of `s` alone, for `close`; gives `s` back while another actor holds it.
    /// tokio deregisters the socket from the runtime first.
    fn into_socket(s: Self::Socket) -> Result<io::Result<Socket>, Self::Socket>;

    /// One accept on listener `l`, within `limit` when given. std: poll(2) for POLLIN
    /// within the limit, then a blocking accept(2); tokio: `accept().await` under
    /// `tokio::time::timeout`.
    fn accept(
        &self,
        cx: &mut Ctx,
        l: &Self::Socket,
        from: &str,
        limit: Option<Duration>,
    ) -> impl Future<Output = Prim<Self::Socket>>;

    /// One dial of `addr` on a new socket, within `limit` when given. std: a blocking
    /// connect(2), or with a limit a non-blocking one, poll(2) for POLLOUT and SO_ERROR;
    /// tokio: `TcpSocket::connect().await`, under `tokio::time::timeout` with a limit.
    fn dial(
        &self,
        cx: &mut Ctx,
        d: Dial<'_>,
    ) -> impl Future<Output = Result<Self::Socket, Outcome>>;

    /// The timer the engine itself applies to reads or writes on socket `name`. std: none,
    /// the kernel applies SO_RCVTIMEO/SO_SNDTIMEO to each blocking call (EAGAIN); tokio:
    /// the kernel ignores them on its non-blocking sockets, so the engine times each read,
    /// each write and the whole of a `write_all` with `tokio::time::timeout` of that length.
    fn timer(&self, name: &str, d: Direction) -> Option<Duration>;

    /// One read into `buf` (std: a blocking recv(2); tokio: `read().await`, which parks on
    /// EAGAIN until the socket is readable), within `limit` (tokio's timer).
    fn read(
        &self,
        cx: &mut Ctx,
        s: &Self::Socket,
        sock: &str,
        buf: &mut [u8],
        limit: Option<Duration>,
    ) -> impl Future<Output = Prim<usize>>;

    /// One write of `buf` (std: a blocking send(2), which returns once all of it is queued
    /// or a timeout or error cut it short; tokio: `write().await`, which parks until some
    /// space is free and takes what fits), within `limit` (tokio's timer).
    fn write(
        &self,
        cx: &mut Ctx,
        s: &Self::Socket,
        sock: &str,
        buf: &[u8],
        limit: Option<Duration>,
    ) -> impl Future<Output = Prim<usize>>;

    /// Before `write_until_blocked`'s writes: std sets O_NONBLOCK; tokio awaits
    /// writability once, so that the first `try_write` reaches the kernel.
    fn begin_try_writes(
        &self,
        cx: &mut Ctx,
        s: &Self::Socket,
        sock: &str,
    ) -> impl Future<Output = Prim<()>>;

    /// One write that does not wait (std: send(2) on the non-blocking socket; tokio:
    /// `try_write`): EAGAIN is where a writer would block or park.
    fn try_write(&self, cx: &mut Ctx, s: &Self::Socket, sock: &str, buf: &[u8]) -> Prim<usize>;

    /// After `write_until_blocked`: std clears O_NONBLOCK again; tokio has nothing to undo.
    fn end_try_writes(&self, cx: &mut Ctx, s: &Self::Socket, sock: &str);

    /// Waits until `s` is ready as `wait_for` asks, or `limit` passes; gives the readiness
    /// seen by name and how the wait ended, and records its event. std: poll(2) and its
    /// revents bits (`POLLIN|POLLHUP`); tokio: `ready(Interest).await` and tokio's
    /// readiness set (`READABLE|READ_CLOSED`).
    fn poll(
        &self,
        cx: &mut Ctx,
        s: &Self::Socket,
        sock: &str,
        wait_for: PollFor,
        limit: Duration,
    ) -> impl Future<Output = Result<(String, Outcome), EngineError>>;

    /// Refuses an option value the engine cannot run with (tokio: clearing O_NONBLOCK).
    fn check_option(opt: SockOpt, v: i64) -> Result<(), EngineError>;

    /// After an option was set: what the engine does with it besides the kernel, as the
    /// event's note (tokio: SO_RCVTIMEO/SO_SNDTIMEO become its timers).
    fn option_set(&self, sock: &str, opt: SockOpt, v: i64) -> Option<String>;

    /// Forks a child that writes on `s` as `w` says (its bytes, SIGPIPE at its default or
    /// ignored) and waits for it within `w.limit`. std: from the actor's thread; tokio:
    /// from a thread of the blocking pool (`spawn_blocking`), so the other tasks go on.
    fn write_in_child(
        &self,
        cx: &mut Ctx,
        s: &Self::Socket,
        sock: &str,
        w: &WriteInChild,
    ) -> impl Future<Output = Result<sys::ChildEnd, Outcome>>;

    /// Waits until `sync` was signalled `count` times; false if the run was cancelled.
    /// std: a condition variable; tokio: `Notify`.
    fn wait_sync(&self, cx: &Ctx, sync: &str, count: i64) -> impl Future<Output = bool>;

    /// Wakes the actors waiting in [`Sockets::wait_sync`].
    fn wake_waiters(&self);

    /// Whether actor instance `slot` waits on a socket (`wait_blocked`): std: inside a
    /// call and asleep in the kernel; tokio: parked in an await on a socket future (a
    /// connect only while its handshake is not done).
    fn instance_blocked(&self, run: &RunState, slot: usize) -> bool;

    /// A short pause between looks at what the kernel does not signal (FIONREAD, a
    /// thread's sleep): std sleeps the thread, tokio a timer.
    fn pause() -> impl Future<Output = ()>;

    /// Takes the writers' lock (std: a `Mutex`; tokio: `tokio::sync::Mutex`).
    fn hold(l: &Self::WriteLock) -> impl Future<Output = Self::WriteGuard<'_>>;

    /// Ends every wait and call a run's actors are in: std shuts every socket down (which
    /// wakes blocked calls); tokio aborts the tasks (drops their futures).
    fn cancel_all(&self, run: &RunState, resources: &Resources<Self::Socket>);
}

/// What `write_in_child` writes and how long it waits for the child.
pub(super) struct WriteInChild {
    /// How many bytes the child writes.
    pub bytes: usize,
    pub limit: Duration,
    /// SIGPIPE left at its default (the child dies of it), else ignored.
    pub default: bool,
}

impl WriteInChild {
    /// What the child does, for the event's name.
    pub fn child_op(&self) -> &'static str {
        if self.default {
            "fork; child: signal(SIGPIPE, SIG_DFL), write"
        } else {
            "fork; child: signal(SIGPIPE, SIG_IGN), write"
        }
    }
}

/// Everything a run's actors share on engine `E`: the run's state, its sockets by name,
/// the writers' locks, and the engine's own state.
pub(super) struct Shared<E: Sockets> {
    pub run: Arc<RunState>,
    pub resources: Resources<E::Socket>,
    pub write_locks: Mutex<HashMap<String, Arc<E::WriteLock>>>,
    pub engine: E,
}

impl<E: Sockets> Shared<E> {
    /// The lock `write_messages` writers on socket `name` share.
    pub fn write_lock(&self, name: &str) -> Arc<E::WriteLock> {
        Arc::clone(lock(&self.write_locks).entry(name.to_owned()).or_default())
    }

    /// Ends every wait and call of the run's actors.
    pub fn cancel_all(&self) {
        self.engine.cancel_all(&self.run, &self.resources);
    }

    /// Closes every socket the scenario left open.
    pub fn close_all(&self) {
        self.resources.clear();
        lock(&self.write_locks).clear();
    }
}

// ---------------------------------------------------------------------------------------
// What both engines do alike, through socket2
// ---------------------------------------------------------------------------------------

pub(super) fn new_socket() -> io::Result<Socket> {
    Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
}

/// `make` run with the calling thread in `ns` (a host's namespace; `None`: where it is):
/// a socket belongs for life to the namespace it was created in, whichever thread then
/// uses it, so this is the one place where a host's sockets come from.
pub(super) fn in_netns<T>(
    ns: Option<&crate::sys::NetnsFd>,
    make: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    match ns {
        None => make(),
        Some(ns) => ns.run(make)?,
    }
}

pub(super) fn ms(d: i64) -> Duration {
    Duration::from_millis(d.max(0) as u64)
}

/// socket(2), SO_REUSEADDR if asked, and bind(2) to 127.0.0.1:`port` (0: any free
/// port), each call recorded.
pub(super) fn bound_socket(
    cx: &mut Ctx,
    name: &str,
    reuseaddr: bool,
    port: u16,
) -> io::Result<Socket> {
    let ns = cx.netns();
    let make = || in_netns(ns.as_deref(), new_socket);
    let s = cx.call("socket", Some(name), None, make, |_| None)?;
    if reuseaddr {
        let set = || s.set_reuse_address(true);
        cx.call("setsockopt(SO_REUSEADDR)", Some(name), None, set, |_| {
            Some(1)
        })?;
    }
    let addr = SockAddr::from(SocketAddr::from((cx.bind_ip(), port)));
    cx.call("bind", Some(name), None, || s.bind(&addr), |_| None)?;
    Ok(s)
}

/// [`bound_socket`] and then listen(2) with `backlog`, each call recorded.
pub(super) fn listening_socket(
    cx: &mut Ctx,
    name: &str,
    backlog: i32,
    reuseaddr: bool,
    port: u16,
) -> io::Result<Socket> {
    let s = bound_socket(cx, name, reuseaddr, port)?;
    let requested = Some(backlog.max(0) as u64);
    cx.call(
        "listen",
        Some(name),
        requested,
        || s.listen(backlog),
        |_| None,
    )?;
    Ok(s)
}

/// socket(2) and O_NONBLOCK on it, each call recorded (a `connect_start` step's socket).
pub(super) fn nonblocking_socket(cx: &mut Ctx, name: &str) -> io::Result<Socket> {
    let ns = cx.netns();
    let make = || in_netns(ns.as_deref(), new_socket);
    let s = cx.call("socket", Some(name), None, make, |_| None)?;
    let set = || s.set_nonblocking(true);
    cx.call("set_nonblocking(true)", Some(name), None, set, |_| None)?;
    Ok(s)
}

/// The addresses of a socket about to be closed, for a later `state` step. The peer is
/// the one the socket was created for (getpeername fails once the connection ended),
/// 0.0.0.0:0 for a socket that never had one (a listener).
pub(super) fn closing_addrs(s: &Socket, remembered: Option<SocketAddr>) -> Addrs {
    let local = s.local_addr().ok()?.as_socket()?;
    let peer = s
        .peer_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .or(remembered)
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    Some((local, peer))
}

pub(super) fn set_option(s: &Socket, opt: SockOpt, v: i64) -> io::Result<()> {
    let timeout = |v: i64| (v > 0).then(|| ms(v));
    match opt {
        SockOpt::SndBuf => s.set_send_buffer_size(v.max(0) as usize),
        SockOpt::RcvBuf => s.set_recv_buffer_size(v.max(0) as usize),
        SockOpt::NoDelay => s.set_tcp_nodelay(v != 0),
        SockOpt::Linger => s.set_linger((v >= 0).then(|| Duration::from_secs(v as u64))),
        SockOpt::KeepAlive => s.set_keepalive(v != 0),
        SockOpt::RcvTimeo => s.set_read_timeout(timeout(v)),
        SockOpt::SndTimeo => s.set_write_timeout(timeout(v)),
        SockOpt::ReuseAddr => s.set_reuse_address(v != 0),
        SockOpt::KeepIdle => sys::set_keepalive(s, sys::Keepalive::Idle, v),
        SockOpt::KeepIntvl => sys::set_keepalive(s, sys::Keepalive::Interval, v),
        SockOpt::KeepCnt => sys::set_keepalive(s, sys::Keepalive::Count, v),
        SockOpt::UserTimeout => sys::set_keepalive(s, sys::Keepalive::UserTimeout, v),
        SockOpt::SynCnt => sys::set_keepalive(s, sys::Keepalive::SynCount, v),
        SockOpt::NonBlocking => s.set_nonblocking(v != 0),
        SockOpt::Congestion => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP_CONGESTION takes a name (args::set_congestion)",
        )),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} can only be read", opt.name()),
        )),
    }
}

pub(super) fn get_option(s: &Socket, opt: SockOpt) -> io::Result<i64> {
    let whole_ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis() as i64);
    Ok(match opt {
        SockOpt::SndBuf => s.send_buffer_size()? as i64,
        SockOpt::RcvBuf => s.recv_buffer_size()? as i64,
        SockOpt::NoDelay => i64::from(s.tcp_nodelay()?),
        SockOpt::Linger => s.linger()?.map_or(-1, |d| d.as_secs() as i64),
        SockOpt::KeepAlive => i64::from(s.keepalive()?),
        SockOpt::RcvTimeo => whole_ms(s.read_timeout()?),
        SockOpt::SndTimeo => whole_ms(s.write_timeout()?),
        SockOpt::ReuseAddr => i64::from(s.reuse_address()?),
        SockOpt::Error => s.take_error()?.and_then(|e| e.raw_os_error()).unwrap_or(0) as i64,
        SockOpt::InQueue => sys::bytes_queued(s)? as i64,
        SockOpt::OutQueue => sys::bytes_unacked(s)? as i64,
        SockOpt::KeepIdle => sys::keepalive(s, sys::Keepalive::Idle)?,
        SockOpt::KeepIntvl => sys::keepalive(s, sys::Keepalive::Interval)?,
        SockOpt::KeepCnt => sys::keepalive(s, sys::Keepalive::Count)?,
        SockOpt::UserTimeout => sys::keepalive(s, sys::Keepalive::UserTimeout)?,
        SockOpt::SynCnt => sys::keepalive(s, sys::Keepalive::SynCount)?,
        SockOpt::NonBlocking => i64::from(sys::is_nonblocking(s)?),
        SockOpt::Congestion => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TCP_CONGESTION is a name (args::get_congestion)",
            ))
        }
        info => sys::tcp_info_field(s, info.tcp_info_field().unwrap_or_default())?,
    })
}
