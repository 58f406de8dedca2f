//! A kernel that runs with its own suite's C library: a copy whose ELF interpreter is
//! rewritten to a link to that suite's loader.
//!
//! Needed when the kernel's package asks for a newer libc6 than the host's; the copy is
//! made once, next to the kernel.

use std::path::PathBuf;

use super::{set_executable, Kernel};

/// The interpreter path written into a kernel that runs with its own suite's loader:
/// relative, resolved in the suite's folder (the kernel is started there).
pub const OWN_INTERP: &str = "./ld.so";
/// The copy of such a kernel with [`OWN_INTERP`] as its interpreter.
pub const OWN_LINUX: &str = "linux.own-libc";

/// For a kernel that needs its own suite's C library: `<suite>/linux.own-libc`, the
/// kernel with its ELF interpreter (PT_INTERP) rewritten to `./ld.so`, and `<suite>/ld.so`,
/// a link to the suite's loader; made once. Returns the copy and the folder to start it in.
///
/// Starting the kernel as `ld.so linux ...` does not work: the host then sets the program
/// break after ld.so, not after the kernel, and UML 6.12 sizes its memory from it (`Too few
/// physical memory!`); UML 7.2 re-executes /proc/self/exe, which is then ld.so itself.
pub fn own_libc_kernel(kernel: &Kernel) -> Result<(PathBuf, PathBuf), String> {
    let loader = kernel.loader.as_ref().ok_or("no loader of its own")?;
    let dir = kernel
        .linux
        .parent()
        .ok_or("the kernel has no folder")?
        .to_owned();
    let copy = dir.join(OWN_LINUX);
    let link = dir.join("ld.so");
    if !link.exists() {
        let target = loader.strip_prefix(&dir).unwrap_or(loader);
        #[cfg(unix)]
        // Symbolic links as Unix makes them.
        std::os::unix::fs::symlink(target, &link)
            .map_err(|e| format!("cannot link {}: {e}", link.display()))?;
        let _ = target;
    }
    if !copy.is_file() {
        let mut bytes = std::fs::read(&kernel.linux)
            .map_err(|e| format!("cannot read {}: {e}", kernel.linux.display()))?;
        set_interp(&mut bytes, OWN_INTERP)?;
        let part = copy.with_extension("part");
        std::fs::write(&part, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        set_executable(&part).map_err(|e| e.to_string())?;
        std::fs::rename(&part, &copy)
            .map_err(|e| format!("cannot write {}: {e}", copy.display()))?;
    }
    Ok((copy, dir))
}

/// Rewrites the PT_INTERP string of a 64-bit little-endian ELF executable in place; the new
/// path must fit the old one's room.
pub fn set_interp(elf: &mut [u8], interp: &str) -> Result<(), String> {
    const PT_INTERP: u32 = 3;
    let u16_at = |b: &[u8], o: usize| {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
    };
    let u64_at = |b: &[u8], o: usize| {
        b.get(o..o + 8)
            .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")) as usize)
    };
    if !elf.starts_with(b"\x7fELF\x02\x01") {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let bad = || "a damaged ELF header".to_owned();
    let phoff = u64_at(elf, 0x20).ok_or_else(bad)?;
    let phentsize = u16_at(elf, 0x36).ok_or_else(bad)?;
    let phnum = u16_at(elf, 0x38).ok_or_else(bad)?;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let kind = elf
            .get(ph..ph + 4)
            .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
            .ok_or_else(bad)?;
        if kind != PT_INTERP {
            continue;
        }
        let off = u64_at(elf, ph + 8).ok_or_else(bad)?;
        let size = u64_at(elf, ph + 32).ok_or_else(bad)?;
        if interp.len() + 1 > size {
            return Err(format!(
                "`{interp}` does not fit the interpreter's {size} bytes"
            ));
        }
        let slot = elf.get_mut(off..off + size).ok_or_else(bad)?;
        slot.fill(0);
        slot[..interp.len()].copy_from_slice(interp.as_bytes());
        return Ok(());
    }
    Err("no interpreter (PT_INTERP) to rewrite".into())
}
