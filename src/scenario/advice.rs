//! Advice on valid files: steps that run but do not do what their author most likely
//! wants, or cannot run on this system. Each becomes a [`ScenarioWarning`](super::ScenarioWarning)
//! (`tcplab check` and `tcplab run` print it; the file stays valid, the exit status is
//! unchanged).

use std::collections::BTreeMap;

use super::cx::Cx;
use super::model::Actor;
use super::operands::{PollFor, SockOpt};
use super::step::Action;

/// Warns of `set SO_RCVBUF` on a socket an `accept` step made, and of `poll for =
/// "rdhup"` where poll(2) has no POLLRDHUP.
pub(super) fn advise(cx: &Cx, actors: &[Actor]) {
    // Sockets made by accept, with the listener each came from.
    let accepted: BTreeMap<&str, &str> = actors
        .iter()
        .flat_map(|a| &a.steps)
        .filter_map(|s| match &s.action {
            Action::Accept { from, name, .. } => Some((name.as_str(), from.as_str())),
            _ => None,
        })
        .collect();
    for (a, step) in actors
        .iter()
        .flat_map(|a| a.steps.iter().map(move |s| (a, s)))
    {
        match &step.action {
            Action::Set {
                sock,
                option: SockOpt::RcvBuf,
                ..
            } => {
                if let Some(listener) = accepted.get(sock.as_str()) {
                    cx.warn(
                        Some(step.line),
                        Some(format!("{} step {}", a.name, step.describe())),
                        format!(
                            "SO_RCVBUF set on `{sock}` after accept comes too late for the handshake: the \
                             window scale was fixed from the listener's buffer, and the call turns off receive \
                             buffer autotuning (tcp(7): on a connection, buffer sizes must be set before \
                             listen(2) or connect(2)); set it on the listener `{listener}` before the client \
                             connects, and the accepted socket inherits it"
                        ),
                    );
                }
            }
            Action::Poll {
                wait_for: PollFor::Rdhup,
                ..
            } if crate::sys::POLLRDHUP.is_none() => {
                cx.warn(
                    Some(step.line),
                    Some(format!("{} step {}", a.name, step.describe())),
                    format!(
                        "this system ({})'s poll(2) has no POLLRDHUP: `for = \"rdhup\"` fails the step on the std engine here (tokio waits for READ_CLOSED instead)",
                        std::env::consts::OS
                    ),
                );
            }
            _ => {}
        }
    }
}
