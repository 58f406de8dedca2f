//! Unpacking a .deb: its `ar` members, the xz-compressed `data.tar`, the kernel binary
//! and the C library's loader in it.
//!
//! A .deb is an ar(1) archive whose `data.tar.xz` member holds the package's files;
//! see deb(5).

use std::path::{Path, PathBuf};

use super::{io_err, set_executable, FetchError};

/// The members of an `ar` archive (a .deb is one): name and contents.
pub fn ar_members(bytes: &[u8]) -> Result<Vec<(String, &[u8])>, String> {
    let body = bytes
        .strip_prefix(b"!<arch>\n")
        .ok_or("not an ar archive (a .deb is one)")?;
    let mut out = Vec::new();
    let mut at = 0;
    while at + 60 <= body.len() {
        let header = &body[at..at + 60];
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_owned();
        let size: usize = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .map_err(|_| format!("bad size in the ar header of `{name}`"))?;
        let start = at + 60;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| format!("`{name}` runs past the end of the archive"))?;
        out.push((name, &body[start..end]));
        at = end + (size & 1);
    }
    Ok(out)
}

/// The uncompressed `data.tar` of a .deb.
pub(super) fn deb_data(deb: &Path) -> Result<Vec<u8>, FetchError> {
    let what = deb.display().to_string();
    let unpack = |why: String| FetchError::Unpack {
        what: what.clone(),
        why,
    };
    let bytes = std::fs::read(deb).map_err(io_err(deb))?;
    let members = ar_members(&bytes).map_err(unpack)?;
    let (name, data) = members
        .iter()
        .find(|(n, _)| n.starts_with("data.tar"))
        .ok_or_else(|| unpack("no data.tar member".into()))?;
    let mut out = Vec::new();
    match name.as_str() {
        "data.tar.xz" => lzma_rs::xz_decompress(&mut &data[..], &mut out)
            .map_err(|e| unpack(format!("data.tar.xz: {e}")))?,
        "data.tar" => out.extend_from_slice(data),
        other => {
            return Err(unpack(format!(
                "{other}: only xz-compressed packages are unpacked (Debian's user-mode-linux and libc6 are)"
            )))
        }
    }
    Ok(out)
}

/// Writes the package's `usr/bin/linux.uml` (or `linux`) to `dest`.
pub(super) fn extract_linux(deb: &Path, dest: &Path) -> Result<(), FetchError> {
    let what = deb.display().to_string();
    let unpack = |why: String| FetchError::Unpack {
        what: what.clone(),
        why,
    };
    let data = deb_data(deb)?;
    let mut archive = tar::Archive::new(&data[..]);
    for entry in archive.entries().map_err(|e| unpack(e.to_string()))? {
        let mut entry = entry.map_err(|e| unpack(e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| unpack(e.to_string()))?
            .into_owned();
        let p = path.to_string_lossy();
        let p = p.trim_start_matches("./");
        if (p == "usr/bin/linux.uml" || p == "usr/bin/linux")
            && entry.header().entry_type().is_file()
        {
            let part = dest.with_extension("part");
            let mut f = std::fs::File::create(&part).map_err(io_err(&part))?;
            std::io::copy(&mut entry, &mut f).map_err(io_err(&part))?;
            drop(f);
            set_executable(&part)?;
            std::fs::rename(&part, dest).map_err(io_err(dest))?;
            return Ok(());
        }
    }
    Err(unpack("no usr/bin/linux.uml in it".into()))
}

/// The real file (not a symlink) `ld-linux-x86-64.so.2` below `root`.
pub(super) fn find_loader(root: &Path) -> Option<PathBuf> {
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let t = e.file_type().ok()?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() && e.file_name() == "ld-linux-x86-64.so.2" {
                return Some(e.path());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ar_members_are_read_and_a_torn_archive_is_refused() {
        let mut deb = b"!<arch>\n".to_vec();
        for (name, body) in [("debian-binary", &b"2.0\n"[..]), ("data.tar", &b"abc"[..])] {
            deb.extend_from_slice(
                format!(
                    "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    0,
                    0,
                    0,
                    100644,
                    body.len()
                )
                .as_bytes(),
            );
            deb.extend_from_slice(body);
            if body.len() % 2 == 1 {
                deb.push(b'\n');
            }
        }
        let m = ar_members(&deb).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1], ("data.tar".to_owned(), &b"abc"[..]));
        assert!(ar_members(&deb[..deb.len() - 3]).is_err());
        assert!(ar_members(b"PK\x03\x04").is_err());
    }
}
