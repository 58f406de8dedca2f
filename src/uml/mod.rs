//! Other Linux kernels on this machine: user-mode Linux (UML), the kernel built as an
//! ordinary program, booted with tcplab itself as its init.
//!
//! - [`fetch`] gets Debian's `user-mode-linux` packages (and, where the host's C library is
//!   too old for them, their suite's `libc6`) into the lab's own cache folder.
//! - [`Kernel`] is one kernel at hand: fetched, installed by the package manager, or named
//!   by path. [`kernels`] lists them, [`resolve`] finds the one a `--kernel` names.
//! - [`boot`] runs scenarios in a kernel: the command line, the console protocol and the
//!   watchdog on the host side; [`guest`] is the init on the other side.
//!
//! # Notes
//!
//! UML exists for Linux hosts only (x86_64 here); on other systems [`boot`] fails with an
//! error saying so, and the list is empty.

pub mod boot;
pub mod fetch;
pub mod guest;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where Debian's package manager installs the UML kernel (`apt-get install user-mode-linux`).
pub const SYSTEM_KERNEL: &str = "/usr/bin/linux.uml";

/// One UML kernel at hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kernel {
    /// The release its banner names (`6.1.176`).
    pub release: String,
    /// Where it comes from: `bookworm (user-mode-linux 6.1um4+b13)`, `system package`, or
    /// `path`.
    pub source: String,
    /// The Debian suite it was fetched from, when it was.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub suite: Option<String>,
    /// The `linux` executable.
    pub linux: PathBuf,
    /// A dynamic loader of its own suite (and the folder of that suite's C library), for
    /// a kernel built against a newer C library than the host's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub loader: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lib_dir: Option<PathBuf>,
    /// The executable's size in bytes.
    pub size: u64,
}

impl Kernel {
    /// `6.1.176 (bookworm)`: how errors and narration name it.
    pub fn label(&self) -> String {
        match &self.suite {
            Some(s) => format!("{} ({s})", self.release),
            None => format!("{} ({})", self.release, self.linux.display()),
        }
    }

    /// The kernel's major, minor and patch numbers.
    pub fn version(&self) -> Option<(u32, u32, u32)> {
        parse_release(&self.release)
    }
}

pub use crate::env::parse_release;

/// Why a kernel cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("unknown kernel `{asked}`; at hand: {at_hand} (see `tcplab kernels`)")]
    Unknown { asked: String, at_hand: String },
    #[error("unknown kernel `{0}`: no kernel is at hand; `tcplab kernels fetch` gets Debian's (or `apt-get install user-mode-linux`)")]
    NoneAtHand(String),
    #[error("kernel `{asked}` is ambiguous: it could be {candidates}")]
    Ambiguous { asked: String, candidates: String },
    #[error("{}: not a user-mode Linux kernel: {why}", path.display())]
    NotUml { path: PathBuf, why: String },
}

/// The lab's cache folder for kernels: `$TCPLAB_KERNELS`, else
/// `$XDG_CACHE_HOME/tcplab/kernels`, else `~/.cache/tcplab/kernels`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TCPLAB_KERNELS") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| std::env::temp_dir().join("tcplab-cache"));
    base.join("tcplab").join("kernels")
}

/// The kernels at hand, oldest first: those fetched into `cache`, then the system's
/// package when it is a release not fetched.
pub fn kernels(cache: &Path) -> Vec<Kernel> {
    let mut found: Vec<Kernel> = fetch::fetched(cache);
    if let Ok(k) = from_path(
        Path::new(SYSTEM_KERNEL),
        "system package (apt-get install user-mode-linux)",
    ) {
        if !found.iter().any(|f| f.release == k.release) {
            found.push(k);
        }
    }
    found.sort_by_key(|k| k.version());
    found
}

/// The kernel a `--kernel` names: a path to a UML `linux` binary, or a release, its
/// leading part (`6.1` is `6.1.176`, not `6.12.x`) or a suite name of a kernel at hand.
pub fn resolve(asked: &str, at_hand: &[Kernel]) -> Result<Kernel, KernelError> {
    if asked.contains('/') || Path::new(asked).is_file() {
        return from_path(Path::new(asked), "path");
    }
    let matches: Vec<&Kernel> = at_hand
        .iter()
        .filter(|k| {
            k.release == asked
                || k.suite.as_deref() == Some(asked)
                || k.release
                    .strip_prefix(asked)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('-'))
        })
        .collect();
    match matches[..] {
        [one] => Ok(one.clone()),
        [] if at_hand.is_empty() => Err(KernelError::NoneAtHand(asked.to_owned())),
        [] => Err(KernelError::Unknown {
            asked: asked.to_owned(),
            at_hand: at_hand
                .iter()
                .map(Kernel::label)
                .collect::<Vec<_>>()
                .join(", "),
        }),
        _ => Err(KernelError::Ambiguous {
            asked: asked.to_owned(),
            candidates: matches
                .iter()
                .map(|k| k.label())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// A kernel named by path: it must be an ELF executable with a Linux banner and UML's
/// own marks in it.
pub fn from_path(path: &Path, source: &str) -> Result<Kernel, KernelError> {
    let not_uml = |why: String| KernelError::NotUml {
        path: path.to_owned(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| not_uml(format!("cannot read it: {e}")))?;
    if !bytes.starts_with(b"\x7fELF") {
        return Err(not_uml("not an ELF executable".into()));
    }
    let release =
        banner_release(&bytes).ok_or_else(|| not_uml("no `Linux version` banner in it".into()))?;
    // Every UML kernel has its command-line help for the host-side drivers.
    if find(&bytes, b"rootfstype=hostfs").is_none() && find(&bytes, b"hostfs").is_none() {
        return Err(not_uml(format!(
            "a Linux {release} image without hostfs (a UML kernel has it)"
        )));
    }
    Ok(Kernel {
        release,
        source: source.to_owned(),
        suite: None,
        linux: path.to_owned(),
        loader: None,
        lib_dir: None,
        size: bytes.len() as u64,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The release in a kernel's `Linux version 6.1.176 (...)` banner.
pub fn banner_release(bytes: &[u8]) -> Option<String> {
    const BANNER: &[u8] = b"Linux version ";
    let mut from = 0;
    while let Some(i) = find(&bytes[from..], BANNER) {
        let start = from + i + BANNER.len();
        let rest = &bytes[start..bytes.len().min(start + 64)];
        if rest.first().is_some_and(u8::is_ascii_digit) {
            let end = rest
                .iter()
                .position(|b| b.is_ascii_whitespace() || *b == 0)
                .unwrap_or(rest.len());
            return Some(String::from_utf8_lossy(&rest[..end]).into_owned());
        }
        from = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(release: &str, suite: &str) -> Kernel {
        Kernel {
            release: release.into(),
            source: suite.into(),
            suite: Some(suite.into()),
            linux: PathBuf::from("/k/linux"),
            loader: None,
            lib_dir: None,
            size: 1,
        }
    }

    #[test]
    fn a_version_prefix_stops_at_a_dot() {
        let at_hand = [kernel("6.1.176", "bookworm"), kernel("6.12.57", "trixie")];
        assert_eq!(resolve("6.1", &at_hand).unwrap().release, "6.1.176");
        assert_eq!(resolve("6.12", &at_hand).unwrap().release, "6.12.57");
        assert_eq!(resolve("trixie", &at_hand).unwrap().release, "6.12.57");
        let e = resolve("5.10", &at_hand).unwrap_err().to_string();
        assert!(e.contains("6.1.176 (bookworm), 6.12.57 (trixie)"), "{e}");
        assert!(resolve("6", &at_hand)
            .unwrap_err()
            .to_string()
            .contains("ambiguous"));
    }

    #[test]
    fn the_banner_gives_the_release() {
        let img = b"\x7fELF...%s Linux version %s\0 Linux version 5.10.223 (debian@x) #1\0";
        assert_eq!(banner_release(img).as_deref(), Some("5.10.223"));
        assert_eq!(parse_release("6.1.176"), Some((6, 1, 176)));
        assert_eq!(parse_release("7.2"), Some((7, 2, 0)));
    }

    #[test]
    fn a_file_that_is_not_a_kernel_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("linux");
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        let e = from_path(&p, "path").unwrap_err().to_string();
        assert!(e.contains("not an ELF executable"), "{e}");
    }
}
