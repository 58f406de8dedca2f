//! The lab's threads as the kernel sees them: an id, whether one is asleep in a call,
//! how many there are.
//!
//! On Linux these come from /proc/self/task (proc(5)); other systems have no such files
//! and answer `None` (or 0 for the id).

/// An identifier of the calling thread that `thread_is_asleep` understands.
pub fn thread_id() -> u64 {
    #[cfg(target_os = "linux")]
    // gettid is the key to /proc/self/task; other systems have no such file to read.
    {
        // SAFETY: gettid has no preconditions.
        (unsafe { libc::gettid() }) as u64
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Whether the thread is asleep in the kernel (state `S` in /proc), or `None` where the
/// system does not say.
///
/// # Notes
/// On Linux a thread blocked in a socket call waiting for buffer space or data sleeps
/// interruptibly (`S`). On macOS and FreeBSD there is no /proc to read and `None` is
/// returned.
pub fn thread_is_asleep(tid: u64) -> Option<bool> {
    #[cfg(target_os = "linux")]
    // /proc/self/task/TID/stat is Linux's; see proc(5).
    {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        // The state follows the command name, which is in parentheses and may hold spaces.
        let after = stat.rsplit_once(')')?.1;
        after.split_whitespace().next().map(|s| s == "S")
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tid;
        None
    }
}

/// Threads in this process, where the system says (Linux: /proc/self/task).
pub fn thread_count() -> Option<usize> {
    #[cfg(target_os = "linux")]
    // /proc/self/task is Linux's; see proc(5).
    {
        std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
