//! An actor instance on engine `E`: its context, and the run's sockets and sync points as
//! the interpreter reaches them by name.

use std::io;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::context::{count, Ctx};
use super::sockets::{Shared, Sockets};
use super::types::{lock, EngineError};
use crate::sys;

/// An actor instance: its context (what it is and records, whichever engine) and what it
/// shares with the run's other actors on engine `E`.
pub(super) struct Actor<E: Sockets> {
    pub cx: Ctx,
    pub shared: Arc<Shared<E>>,
}

/// An actor is its context plus the run's shared state: `a.call(..)`, `a.eval(..)` and
/// `a.name` are the context's.
impl<E: Sockets> Deref for Actor<E> {
    type Target = Ctx;

    fn deref(&self) -> &Ctx {
        &self.cx
    }
}

impl<E: Sockets> DerefMut for Actor<E> {
    fn deref_mut(&mut self) -> &mut Ctx {
        &mut self.cx
    }
}

impl<E: Sockets> Actor<E> {
    /// The open socket `name`.
    pub fn socket(&self, name: &str) -> Result<E::Socket, EngineError> {
        self.shared.resources.socket(name)
    }

    /// The descriptor number `close` left for `name`, if it was closed on purpose.
    pub fn stale(&self, name: &str) -> Option<sys::StaleHandle> {
        self.shared.resources.stale(name)
    }

    /// The local address of the socket `name`, open or closed (for `port_of`).
    pub fn local_addr_of(&self, name: &str) -> Result<SocketAddr, EngineError> {
        if let Some(a) = self.shared.resources.closed_addrs(name) {
            return a
                .map(|(l, _)| l)
                .ok_or_else(|| EngineError::AddressUnknown(name.to_owned()));
        }
        let s = self.socket(name)?;
        E::kernel(&s)
            .and_then(|k| k.local_addr())
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| EngineError::NoAddress {
                name: name.to_owned(),
                cause: None,
            })
    }

    /// The address of the socket a dial to `to` goes to.
    pub fn target(&self, to: &str) -> Result<SocketAddr, EngineError> {
        let no_address = |cause| EngineError::NoAddress {
            name: to.to_owned(),
            cause,
        };
        if let Ok(addr) = to.parse::<SocketAddr>() {
            return Ok(addr);
        }
        let s = self.socket(to)?;
        E::kernel(&s)
            .and_then(|k| k.local_addr())
            .map_err(|e| no_address(Some(e)))?
            .as_socket()
            .ok_or_else(|| no_address(None))
    }

    /// Stores socket `name`, remembering its peer if it has one.
    pub fn put_socket(&self, name: &str, s: E::Socket) {
        let kernel = E::kernel(&s).ok();
        let addr = |a: io::Result<socket2::SockAddr>| a.ok().and_then(|a| a.as_socket());
        let peer = kernel.as_ref().and_then(|k| addr(k.peer_addr()));
        if let Some(peer) = peer {
            self.remember_peer(name, peer);
        }
        // A connect_start socket may still be in SYN-SENT, where the kernel names no peer
        // (ENOTCONN): its endpoint takes the address it dialled, remembered before.
        let peer = peer.or_else(|| self.remembered_peer(name));
        if let Some(local) = kernel.as_ref().and_then(|k| addr(k.local_addr())) {
            self.run.out.endpoint(crate::packet::Endpoint {
                actor: self.name.clone(),
                sock: name.to_owned(),
                local: local.to_string(),
                peer: peer.map(|p| p.to_string()),
            });
        }
        self.shared.resources.put(name, s);
    }

    /// Counts one signal of `sync` and wakes the actors waiting for it.
    pub fn signal(&self, sync: &str) {
        *lock(&self.run.syncs).entry(sync.to_owned()).or_insert(0) += 1;
        self.shared.engine.wake_waiters();
    }

    /// A raw read(2)/write(2) on a closed socket's descriptor number, recorded with the
    /// engine's note on why it is raw.
    pub fn stale_call(
        &mut self,
        op: &str,
        sock: &str,
        n: usize,
        f: impl FnOnce() -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.call_noted(op, Some(sock), Some(n as u64), E::STALE_NOTE, f, count)
    }
}
