//! The run's sockets by name: live ones, ones closed on purpose, and sets of dials.

use std::collections::HashMap;
use std::sync::Mutex;

use super::types::{lock, Addrs, EngineError};
use crate::sys;

/// A scenario resource, `S` being the engine's socket.
enum Res<S> {
    Open(S),
    /// Closed on purpose: the descriptor number later raw calls use, and the addresses it
    /// had (for `state` and `port_of`).
    Closed(sys::StaleHandle, Addrs),
    /// The connections of a `dial_repeat`, held open until the run ends.
    Group(Vec<S>),
}

/// The run's resources, shared by its actors.
pub(super) struct Resources<S>(Mutex<HashMap<String, Res<S>>>);

impl<S> Default for Resources<S> {
    fn default() -> Self {
        Resources(Mutex::new(HashMap::new()))
    }
}

impl<S: Clone> Resources<S> {
    /// The open socket `name`.
    pub fn socket(&self, name: &str) -> Result<S, EngineError> {
        match lock(&self.0).get(name) {
            Some(Res::Open(s)) => Ok(s.clone()),
            Some(Res::Group(_)) => Err(EngineError::Group(name.to_owned())),
            Some(Res::Closed(..)) => Err(EngineError::Closed(name.to_owned())),
            None => Err(EngineError::Missing(name.to_owned())),
        }
    }

    /// The descriptor number left by `close`, if `name` was closed.
    pub fn stale(&self, name: &str) -> Option<sys::StaleHandle> {
        match lock(&self.0).get(name) {
            Some(Res::Closed(h, _)) => Some(*h),
            _ => None,
        }
    }

    /// The addresses `name` had when it was closed; `None` if it is not a closed socket.
    pub fn closed_addrs(&self, name: &str) -> Option<Addrs> {
        match lock(&self.0).get(name) {
            Some(Res::Closed(_, a)) => Some(*a),
            _ => None,
        }
    }

    pub fn put(&self, name: &str, s: S) {
        lock(&self.0).insert(name.to_owned(), Res::Open(s));
    }

    pub fn put_group(&self, name: &str, g: Vec<S>) {
        lock(&self.0).insert(name.to_owned(), Res::Group(g));
    }

    pub fn put_closed(&self, name: &str, h: sys::StaleHandle, addrs: Addrs) {
        lock(&self.0).insert(name.to_owned(), Res::Closed(h, addrs));
    }

    /// Takes socket `name` out so that it can be closed: `unwrap` gives the socket back
    /// when another actor still holds it, and it stays where it was.
    pub fn take<T>(
        &self,
        name: &str,
        unwrap: impl FnOnce(S) -> Result<T, S>,
    ) -> Result<T, EngineError> {
        let mut res = lock(&self.0);
        match res.remove(name) {
            Some(Res::Open(s)) => unwrap(s).map_err(|s| {
                res.insert(name.to_owned(), Res::Open(s));
                EngineError::Busy(name.to_owned())
            }),
            Some(other) => {
                res.insert(name.to_owned(), other);
                Err(EngineError::NotOpen(name.to_owned()))
            }
            None => Err(EngineError::Missing(name.to_owned())),
        }
    }

    /// Every live socket, dials included (for the watchdog's shutdown).
    pub fn each_open(&self, mut f: impl FnMut(&S)) {
        for res in lock(&self.0).values() {
            match res {
                Res::Open(s) => f(s),
                Res::Group(g) => g.iter().for_each(&mut f),
                Res::Closed(..) => {}
            }
        }
    }

    /// Closes every socket.
    pub fn clear(&self) {
        lock(&self.0).clear();
    }
}
