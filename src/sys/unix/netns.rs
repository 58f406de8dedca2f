//! The network namespace of the run: a fresh anonymous one, and its loopback brought up.
//!
//! Both are Linux's (unshare(2), netdevice(7)); elsewhere they answer `Unsupported`.

use std::io;

/// Moves the calling thread into a fresh, anonymous network namespace (unshare(2) with
/// CLONE_NEWNET). Call it on the main thread before any other thread exists: threads
/// created afterwards inherit the namespace, threads that already exist do not.
///
/// # Notes
/// On Linux this needs CAP_SYS_ADMIN (root) and fails with EPERM otherwise. The namespace
/// has no name and no mount: it ends with the last process in it, so nothing is left
/// behind however the process ends (even SIGKILL). On other systems there are no network
/// namespaces and `Unsupported` is returned. See unshare(2), network_namespaces(7).
pub fn unshare_netns() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    // Network namespaces are Linux's.
    {
        // SAFETY: unshare takes a flag word and changes only this thread's namespaces.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Brings the loopback interface of the current network namespace up (a new namespace
/// starts with `lo` down), the way `ip link set lo up` does: SIOCGIFFLAGS, then
/// SIOCSIFFLAGS with IFF_UP added. See netdevice(7).
pub fn loopback_up() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    // The ioctl layout (struct ifreq) is Linux's here; only Linux has namespaces to use it in.
    {
        // SAFETY: a plain socket call; the descriptor is closed below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: ifreq is plain data; zeroed is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS fills ifru_flags of the ifreq we pass.
        let mut rc = unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) };
        if rc == 0 {
            // SAFETY: the kernel just wrote ifru_flags; IFF_UP fits a c_short.
            unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
            // SAFETY: SIOCSIFFLAGS reads the ifreq we pass.
            rc = unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) };
        }
        let err = io::Error::last_os_error();
        // SAFETY: fd is ours and closed once.
        unsafe { libc::close(fd) };
        if rc != 0 {
            return Err(err);
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// A network namespace held open by a descriptor (`/proc/thread-self/ns/net` of a thread
/// that was in it): the namespace lives while the descriptor does, with no name under
/// /run/netns and nothing mounted.
#[derive(Debug)]
// Only Linux's setns(2) reads the descriptor; elsewhere it is made and dropped.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub struct NetnsFd(std::os::fd::OwnedFd);

impl NetnsFd {
    /// The calling thread's network namespace.
    pub fn current() -> io::Result<NetnsFd> {
        let f = std::fs::File::open("/proc/thread-self/ns/net")?;
        Ok(NetnsFd(f.into()))
    }

    /// A fresh network namespace, made on a short-lived thread (unshare(2) with
    /// CLONE_NEWNET moves only that thread), with its loopback up. Needs CAP_SYS_ADMIN in
    /// the current user namespace.
    pub fn fresh() -> io::Result<NetnsFd> {
        std::thread::Builder::new()
            .name("tcplab-netns".to_owned())
            .spawn(|| {
                unshare_netns()?;
                loopback_up()?;
                NetnsFd::current()
            })?
            .join()
            .map_err(|_| io::Error::other("the thread making a network namespace panicked"))?
    }

    /// A second descriptor of the same namespace (dup(2)).
    pub fn try_clone(&self) -> io::Result<NetnsFd> {
        Ok(NetnsFd(self.0.try_clone()?))
    }

    /// Moves the calling thread into this namespace (setns(2)). Sockets created afterwards
    /// on this thread belong to it for life.
    pub fn enter(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        // setns(2) and CLONE_NEWNET are Linux's.
        {
            use std::os::fd::AsRawFd;
            // SAFETY: setns takes a descriptor we own and a flag; it changes only this
            // thread's namespace.
            if unsafe { libc::setns(self.0.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }
    }

    /// Runs `f` with the calling thread in this namespace, then moves it back to the one
    /// it was in (used to create a socket in a host's namespace from any thread).
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> io::Result<T> {
        let back = NetnsFd::current()?;
        self.enter()?;
        let out = f();
        back.enter()?;
        Ok(out)
    }
}
