//! How the tokio engine awaits a socket future: marked parked while it is pending (what
//! `wait_blocked` sees), timed by tokio's timer when a limit applies, and recorded as one
//! event whose note says how often it parked.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{Interest, Ready};
use tokio::net::TcpStream;

use super::context::Ctx;
use super::types::lock;
use crate::event::{millis, Outcome};

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
#[derive(Debug, Clone, Copy)]
pub(super) enum Wait<'a> {
    /// Waiting for data, buffer space, a connection to accept or an event: blocked.
    Io,
    /// A connect. It parks at least once on tokio even when the kernel completes the
    /// handshake at once (a non-blocking connect(2) says EINPROGRESS), where the std
    /// engine's blocking connect to loopback does not sleep; counting it would let
    /// `wait_blocked` end before the actor reaches the call the scenario means. The flag
    /// is the instance's own, which `wait_blocked` reads beside the socket's TCP state.
    Handshake(&'a AtomicBool),
    /// A blocking thread waiting for a child process (`write_in_child`): not a socket.
    Child,
}

/// Awaits a socket future, within `limit` when given; marks the actor parked while it is
/// pending (for `wait_blocked`, unless `kind` is [`Wait::Handshake`]), and records one
/// event. An expired timer is the outcome `deadline`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn await_call<T, F>(
    cx: &mut Ctx,
    kind: Wait<'_>,
    op: &str,
    sock: Option<&str>,
    requested: Option<u64>,
    limit: Option<Duration>,
    fut: F,
    returned: impl FnOnce(&T) -> Option<i64>,
) -> Result<T, Outcome>
where
    F: Future<Output = io::Result<T>>,
{
    let run = Arc::clone(&cx.run);
    let st = &run.actors[cx.slot];
    *lock(&st.op) = op.to_owned();
    let parks = AtomicUsize::new(0);
    let not_blocking = AtomicBool::new(false);
    let mut fut = std::pin::pin!(fut);
    let parked = Parked {
        inner: fut.as_mut(),
        flag: match kind {
            Wait::Io => &st.in_call,
            Wait::Handshake(flag) => flag,
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
    if parks > 0 && matches!(kind, Wait::Child) {
        notes.push("the task parked while a blocking-pool thread waited for the child".into());
    } else if parks > 0 {
        notes.push(format!(
            "parked {parks}x until the socket was ready (tokio turns EAGAIN into waiting)"
        ));
    }
    let (result, ret) = match r {
        Ok(Ok(v)) => {
            let ret = returned(&v);
            (Ok(v), ret)
        }
        Ok(Err(e)) => (Err(Outcome::from_io(&e)), None),
        Err(_) => {
            notes.push(format!(
                "tokio::time::timeout({} ms) elapsed and dropped the future",
                limit.map_or(0, |d| d.as_millis())
            ));
            (Err(Outcome::deadline()), None)
        }
    };
    let outcome = result.as_ref().err().cloned().unwrap_or(Outcome::Ok);
    let at = run.ms(t0);
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    cx.record(op, sock, requested, ret, outcome, at, elapsed_ms, note);
    result
}

/// Awaits readiness for `interest`, then tries `io` until it does not say WouldBlock:
/// what tokio's own `read`/`write` futures do.
pub(super) async fn ready_then<T>(
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
