//! The archive's indexes: the SHA-256 list of `InRelease` and the package stanzas of a
//! `Packages` index, and whether a package needs a newer C library than the host's.
//!
//! Both are deb822 text (stanzas of `Field: value`); see Debian's repository format.

/// The SHA-256 `InRelease` gives for `name`.
pub fn release_sha256(inrelease: &str, name: &str) -> Option<String> {
    let mut in_sha = false;
    for line in inrelease.lines() {
        if !line.starts_with(' ') {
            in_sha = line.trim_end() == "SHA256:";
            continue;
        }
        if in_sha {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let [hash, _size, file] = parts[..] {
                if file == name {
                    return Some(hash.to_owned());
                }
            }
        }
    }
    None
}

/// One package's stanza in a `Packages` index, the fields the fetch uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub version: String,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    pub depends: String,
}

/// The stanza of `name` in a `Packages` index (the last one, should there be several).
pub fn package(index: &str, name: &str) -> Option<Package> {
    let head = format!("Package: {name}\n");
    index
        .split("\n\n")
        .filter(|s| s.trim_start().starts_with(&head))
        .filter_map(|stanza| {
            let field = |f: &str| {
                stanza.lines().find_map(|l| {
                    l.strip_prefix(f)
                        .and_then(|r| r.strip_prefix(": "))
                        .map(str::to_owned)
                })
            };
            Some(Package {
                version: field("Version")?,
                filename: field("Filename")?,
                size: field("Size")?.parse().ok()?,
                sha256: field("SHA256")?,
                depends: field("Depends").unwrap_or_default(),
            })
        })
        .last()
}

/// Whether a `Depends:` field asks for a newer C library than this process runs on
/// (`libc6 (>= 2.38)` against the host's 2.36).
pub(super) fn needs_newer_libc(depends: &str) -> bool {
    let Some(want) = depends.split(',').find_map(|d| {
        let d = d.trim();
        d.strip_prefix("libc6 (>= ")
            .and_then(|r| r.strip_suffix(')'))
            .map(str::to_owned)
    }) else {
        return false;
    };
    match host_libc() {
        Some(have) => version_tuple(&have) < version_tuple(&want),
        None => true,
    }
}

fn version_tuple(v: &str) -> Vec<u32> {
    v.split(|c: char| !c.is_ascii_digit())
        .map_while(|p| p.parse().ok())
        .collect()
}

/// The host's glibc version, when it is glibc.
fn host_libc() -> Option<String> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // gnu_get_libc_version is glibc's own.
    {
        extern "C" {
            fn gnu_get_libc_version() -> *const libc::c_char;
        }
        // SAFETY: returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
        Some(v.to_string_lossy().into_owned())
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packages_stanza_gives_version_file_and_hash() {
        let index = "Package: libc6\nVersion: 2.41-12\nFilename: pool/main/g/glibc/libc6_2.41-12_amd64.deb\nSize: 10\nSHA256: ab\n\nPackage: user-mode-linux\nVersion: 6.12um1+b22\nDepends: libc6 (>= 2.38)\nFilename: pool/main/u/user-mode-linux/u.deb\nSize: 35777868\nSHA256: cd\n";
        let p = package(index, "user-mode-linux").unwrap();
        assert_eq!(p.version, "6.12um1+b22");
        assert_eq!(p.size, 35777868);
        assert_eq!(p.depends, "libc6 (>= 2.38)");
        assert!(package(index, "user-mode").is_none());
        let rel = "Origin: Debian\nMD5Sum:\n 00 1 main/binary-amd64/Packages.xz\nSHA256:\n 11 2 main/binary-amd64/Packages\n 22 3 main/binary-amd64/Packages.xz\n";
        assert_eq!(
            release_sha256(rel, "main/binary-amd64/Packages.xz").as_deref(),
            Some("22")
        );
    }
}
