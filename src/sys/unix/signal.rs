//! Ctrl-C (SIGINT) taken as a message rather than a death: blocked in every thread and
//! waited for by one, so that no socket call of a run is interrupted by it (a handler
//! would run on whichever thread the kernel picks, and a call with a timeout there would
//! fail with EINTR even under SA_RESTART; see signal(7), "Interruption of system calls").

use std::io;
use std::mem::MaybeUninit;

fn sigint_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; sigaddset adds a valid signal.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGINT);
        set.assume_init()
    }
}

/// Blocks SIGINT in the calling thread, and so in every thread it starts from now on (a
/// new thread inherits its creator's mask). A blocked SIGINT waits, pending, for
/// [`wait_interrupt`]. The mask is inherited across execve(2) too: a process that starts
/// programs (UML guests) must not block it.
pub fn block_interrupts() -> io::Result<()> {
    let set = sigint_set();
    // SAFETY: a valid set; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Undoes [`block_interrupts`] for the calling thread.
pub fn unblock_interrupts() -> io::Result<()> {
    let set = sigint_set();
    // SAFETY: a valid set; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Waits for the next SIGINT (blocked by [`block_interrupts`]) to arrive.
pub fn wait_interrupt() -> io::Result<()> {
    let set = sigint_set();
    let mut sig = 0;
    // SAFETY: a valid set and a place for the signal number.
    let rc = unsafe { libc::sigwait(&set, &mut sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}
