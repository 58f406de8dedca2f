//! An `LD_PRELOAD` shim around ptrace(2) for user-mode Linux (UML) kernels older than 7.2.
//!
//! UML saves and restores its processes' floating-point state with
//! `PTRACE_GETREGSET`/`PTRACE_SETREGSET` and `NT_X86_XSTATE`, through a buffer of a fixed
//! size compiled into the kernel (832 bytes in Debian's 5.10, 6.1 and 6.12: the legacy
//! area, the XSAVE header and AVX). A host whose XSAVE area is larger (AVX-512, AMX) may
//! refuse a shorter buffer on `SETREGSET` with EFAULT, and the kernel dies at boot with
//! `ptrace set fp regs failed, errno = 14`.
//!
//! The shim keeps the full-size area of each traced process: on `GETREGSET` it reads the
//! whole area and hands UML the first bytes it asked for; on `SETREGSET` it lays UML's bytes
//! over the area last read and writes the full size back. Every other call goes to the
//! C library's ptrace unchanged.
//!
//! # Notes
//!
//! Only Linux on x86_64 has this interface; elsewhere the library is empty.
//! Read: ptrace(2) (PTRACE_GETREGSET), the kernel's arch/x86/kernel/fpu/regset.c.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod linux {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use libc::{c_int, c_long, c_void, iovec, pid_t};

    const PTRACE_GETREGSET: c_int = 0x4204;
    const PTRACE_SETREGSET: c_int = 0x4205;
    /// The regset of the whole XSAVE area (elf.h).
    const NT_X86_XSTATE: usize = 0x202;
    /// More than any XSAVE area so far (AMX's is 11008 bytes); the kernel says how much
    /// it filled in.
    const XSTATE_MAX: usize = 16 * 1024;

    type Ptrace = unsafe extern "C" fn(c_int, ...) -> c_long;

    /// The XSAVE area last read, per traced process: a buffer of [`XSTATE_MAX`] bytes
    /// (allocated once per process, never cleared again) and how much of it the kernel
    /// filled in.
    static AREAS: Mutex<Option<Areas>> = Mutex::new(None);

    /// Per traced process: its XSAVE buffer and how many bytes of it are filled in.
    type Areas = HashMap<pid_t, (Vec<u8>, usize)>;

    fn real() -> Option<Ptrace> {
        static REAL: OnceLock<usize> = OnceLock::new();
        let f = *REAL.get_or_init(|| {
            // SAFETY: a NUL-terminated name; RTLD_NEXT finds the C library's ptrace.
            unsafe { libc::dlsym(libc::RTLD_NEXT, c"ptrace".as_ptr()) as usize }
        });
        // SAFETY: dlsym returned the address of `long ptrace(int, ...)`.
        (f != 0).then(|| unsafe { std::mem::transmute::<usize, Ptrace>(f) })
    }

    unsafe fn call(request: c_int, pid: pid_t, addr: *mut c_void, data: *mut c_void) -> c_long {
        match real() {
            Some(f) => f(request, pid, addr, data),
            None => libc::syscall(libc::SYS_ptrace, request as c_long, pid, addr, data),
        }
    }

    /// Reads `pid`'s whole XSAVE area into `area`; returns how many bytes it has.
    unsafe fn read_full(pid: pid_t, addr: *mut c_void, area: &mut [u8]) -> Result<usize, c_long> {
        let mut iov = iovec {
            iov_base: area.as_mut_ptr().cast(),
            iov_len: area.len(),
        };
        let r = call(PTRACE_GETREGSET, pid, addr, (&mut iov as *mut iovec).cast());
        if r < 0 {
            return Err(r);
        }
        Ok(iov.iov_len)
    }

    /// # Safety
    ///
    /// The C library's contract for ptrace(2); called by the program in its stead.
    #[no_mangle]
    pub unsafe extern "C" fn ptrace(
        request: c_int,
        pid: pid_t,
        addr: *mut c_void,
        data: *mut c_void,
    ) -> c_long {
        let xstate = addr as usize == NT_X86_XSTATE && !data.is_null();
        if !xstate || !(request == PTRACE_GETREGSET || request == PTRACE_SETREGSET) {
            return call(request, pid, addr, data);
        }
        let iov = &mut *(data as *mut iovec);
        if iov.iov_len >= XSTATE_MAX {
            return call(request, pid, addr, data);
        }
        let mut areas = match AREAS.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let areas = areas.get_or_insert_with(HashMap::new);
        let fresh = !areas.contains_key(&pid);
        let (area, full) = areas
            .entry(pid)
            .or_insert_with(|| (vec![0u8; XSTATE_MAX], 0));
        if request == PTRACE_GETREGSET || fresh {
            match read_full(pid, addr, area) {
                Ok(n) => *full = n,
                Err(r) => return r,
            }
        }
        if request == PTRACE_GETREGSET {
            let n = iov.iov_len.min(*full);
            std::ptr::copy_nonoverlapping(area.as_ptr(), iov.iov_base.cast::<u8>(), n);
            iov.iov_len = n;
            return 0;
        }
        // SETREGSET: UML's bytes over the full area, the full area back.
        if iov.iov_len >= *full {
            return call(request, pid, addr, data);
        }
        std::ptr::copy_nonoverlapping(iov.iov_base.cast::<u8>(), area.as_mut_ptr(), iov.iov_len);
        let mut whole = iovec {
            iov_base: area.as_mut_ptr().cast(),
            iov_len: *full,
        };
        call(request, pid, addr, (&mut whole as *mut iovec).cast())
    }
}
