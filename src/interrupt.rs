//! Ctrl-C during `tcplab run`: the first one asks the run to stop after the run in
//! progress (which ends within its watchdog limit), so that the report can close with
//! what finished; a second one quits at once, though never in the middle of appending a
//! record (see [`critical`]).
//!
//! # Notes
//! On Unix SIGINT is blocked in every thread and taken by one thread of its own with
//! sigwait(2), so no socket call of a run sees EINTR. On Windows Ctrl-C keeps its default
//! (it ends the process). See signal(7).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::sys;

/// The exit status after Ctrl-C: 128 + SIGINT, as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Held while a record is appended: a second Ctrl-C waits for it before quitting.
static CRITICAL: Mutex<()> = Mutex::new(());

/// Whether Ctrl-C was pressed since [`watch`].
#[derive(Clone, Default)]
pub struct Interrupts {
    raised: Arc<AtomicBool>,
}

impl Interrupts {
    pub fn raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }
}

/// Starts taking Ctrl-C for the calling thread and every thread it starts afterwards.
/// Call it before the runs start their threads, and not in a process that starts other
/// programs (they would inherit a blocked SIGINT). `note` is printed to stderr on the
/// first Ctrl-C. Where Ctrl-C cannot be caught, it keeps its default, and the
/// [`Interrupts`] returned never rise.
pub fn watch(note: &'static str) -> Interrupts {
    let flag = Interrupts::default();
    if sys::block_interrupts().is_err() {
        return flag;
    }
    let raised = flag.raised.clone();
    let spawned = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            while sys::wait_interrupt().is_ok() {
                if !raised.swap(true, Ordering::SeqCst) {
                    eprintln!("{note}");
                    continue;
                }
                let _held = CRITICAL.lock();
                eprintln!("interrupted again: quitting now");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        });
    if spawned.is_err() {
        // Nobody would take the signal: give Ctrl-C its default back by not blocking it.
        let _ = sys::unblock_interrupts();
    }
    flag
}

/// Runs `f` where a second Ctrl-C cannot end the process (appending a record).
pub fn critical<T>(f: impl FnOnce() -> T) -> T {
    let _held = CRITICAL.lock();
    f()
}
