//! `tcplab kernels fetch`: Debian's user-mode Linux packages into the lab's cache folder.
//!
//! The archive is the one the system's apt is configured with (its `.sources` files or
//! `sources.list`), read, never changed. For each suite: `InRelease` (checked with gpgv
//! against the keyring the sources name, when gpgv is there), the `Packages` index it
//! lists (checked by SHA-256), then the `user-mode-linux` package (checked by the SHA-256
//! the index gives) and, when the kernel needs a newer C library than the host's, that
//! suite's `libc6`, so the kernel runs with its own loader. A suite whose package has not
//! changed is not downloaded again.
//!
//! Layout of the cache: `<cache>/<suite>/linux`, `<suite>/libc6/...`, and
//! `<suite>/kernel.json` (the [`Manifest`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{banner_release, Kernel};

mod apt;
mod archive;
mod http;
mod index;
mod own_libc;
mod verify;

pub use apt::{apt_mirror, mirror_from_deb822, mirror_from_list, Mirror};
pub use archive::ar_members;
pub use http::http_get;
pub use index::{package, release_sha256, Package};
pub use own_libc::{own_libc_kernel, set_interp, OWN_INTERP, OWN_LINUX};

use archive::{deb_data, extract_linux, find_loader};
use index::needs_newer_libc;
use verify::{check_sha256, sha256_hex, verify_signature};

/// The suites `tcplab kernels fetch` gets by default, oldest first.
pub const SUITES: [&str; 4] = ["bullseye", "bookworm", "trixie", "sid"];
/// Debian's name for this architecture.
const DEB_ARCH: &str = "amd64";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("no Debian archive in apt's configuration (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list)")]
    NoMirror,
    #[error("{url}: {why}")]
    Http { url: String, why: String },
    #[error("{suite}: {why}")]
    Index { suite: String, why: String },
    #[error("{what}: SHA-256 {got}, the index says {want}")]
    Checksum {
        what: String,
        got: String,
        want: String,
    },
    #[error("{what}: {why}")]
    Unpack { what: String, why: String },
    #[error("{}: {e}", path.display())]
    Io { path: PathBuf, e: std::io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |e| FetchError::Io {
        path: path.to_owned(),
        e,
    }
}

/// What `kernels fetch` wrote for one suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub suite: String,
    /// `user-mode-linux` package version (`6.1um4+b13`).
    pub package_version: String,
    pub release: String,
    pub url: String,
    pub sha256: String,
    /// The suite's libc6, when the kernel runs with its own loader.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub libc6: Option<String>,
    /// Relative to the suite's folder.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub loader: Option<PathBuf>,
}

impl Manifest {
    fn kernel(&self, dir: &Path) -> Option<Kernel> {
        let linux = dir.join("linux");
        let size = std::fs::metadata(&linux).ok()?.len();
        let loader = self.loader.as_ref().map(|l| dir.join(l));
        Some(Kernel {
            release: self.release.clone(),
            source: match &self.libc6 {
                Some(l) => format!(
                    "{} (user-mode-linux {}, with libc6 {l})",
                    self.suite, self.package_version
                ),
                None => format!("{} (user-mode-linux {})", self.suite, self.package_version),
            },
            suite: Some(self.suite.clone()),
            lib_dir: loader.as_ref().and_then(|l| l.parent().map(Path::to_owned)),
            loader,
            linux,
            size,
        })
    }
}

/// The kernels already fetched into `cache`.
pub fn fetched(cache: &Path) -> Vec<Kernel> {
    let Ok(dir) = std::fs::read_dir(cache) else {
        return Vec::new();
    };
    let mut out: Vec<Kernel> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("kernel.json")).ok()?;
            let m: Manifest = serde_json::from_str(&text).ok()?;
            m.kernel(&e.path())
        })
        .collect();
    out.sort_by_key(|k| k.version());
    out
}

/// Fetches each suite's kernel into `cache` from the archive apt is configured with;
/// narration goes to stderr.
pub fn fetch(cache: &Path, suites: &[String]) -> Result<Vec<Kernel>, FetchError> {
    let mirror = apt_mirror()?;
    eprintln!(
        "archive {} (from apt's configuration); cache {}",
        mirror.uri,
        cache.display()
    );
    fetch_from(cache, &mirror, suites)
}

/// Fetches each suite's kernel into `cache` from `mirror`.
pub fn fetch_from(
    cache: &Path,
    mirror: &Mirror,
    suites: &[String],
) -> Result<Vec<Kernel>, FetchError> {
    let mut out = Vec::new();
    for suite in suites {
        out.push(fetch_suite(cache, mirror, suite)?);
    }
    Ok(out)
}

fn fetch_suite(cache: &Path, mirror: &Mirror, suite: &str) -> Result<Kernel, FetchError> {
    let dir = cache.join(suite);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let index_err = |why: String| FetchError::Index {
        suite: suite.to_owned(),
        why,
    };
    let inrelease_url = format!("{}/dists/{suite}/InRelease", mirror.uri);
    let inrelease = match http_get(&inrelease_url, None) {
        Err(FetchError::Http { why, .. }) if why.contains(" 404 ") => {
            let _ = std::fs::remove_dir(&dir);
            return Err(index_err(format!(
                "the archive has no such suite ({inrelease_url}: {why}); Debian's are {}",
                SUITES.join(", ")
            )));
        }
        other => other?,
    };
    verify_signature(&dir, &inrelease, &mirror.keyring, suite);
    let inrelease = String::from_utf8_lossy(&inrelease);
    let index_name = format!("main/binary-{DEB_ARCH}/Packages.xz");
    let index_sha = release_sha256(&inrelease, &index_name)
        .ok_or_else(|| index_err(format!("InRelease lists no {index_name}")))?;
    let index_url = format!("{}/dists/{suite}/{index_name}", mirror.uri);
    let xz = http_get(&index_url, Some(&format!("{suite}: Packages index")))?;
    check_sha256(&format!("{suite} {index_name}"), &xz, &index_sha)?;
    let mut index = Vec::new();
    lzma_rs::xz_decompress(&mut &xz[..], &mut index).map_err(|e| FetchError::Unpack {
        what: index_url.clone(),
        why: e.to_string(),
    })?;
    let index = String::from_utf8_lossy(&index);
    let uml = package(&index, "user-mode-linux")
        .ok_or_else(|| index_err("no user-mode-linux package".into()))?;
    let libc = package(&index, "libc6").ok_or_else(|| index_err("no libc6 package".into()))?;

    let manifest_path = dir.join("kernel.json");
    let old: Option<Manifest> = std::fs::read_to_string(&manifest_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let need_libc = needs_newer_libc(&uml.depends);
    if let Some(m) = &old {
        let libc_same = m.libc6.as_deref() == need_libc.then_some(libc.version.as_str());
        if m.package_version == uml.version && libc_same {
            if let Some(k) = m.kernel(&dir) {
                eprintln!("{suite}: user-mode-linux {} already here", uml.version);
                return Ok(k);
            }
        }
    }

    let deb = download_deb(mirror, suite, &uml, &dir)?;
    let linux = dir.join("linux");
    extract_linux(&deb, &linux)?;
    let bytes = std::fs::read(&linux).map_err(io_err(&linux))?;
    let release = banner_release(&bytes).ok_or_else(|| FetchError::Unpack {
        what: uml.filename.clone(),
        why: "the linux binary has no `Linux version` banner".into(),
    })?;
    let _ = std::fs::remove_file(&deb);

    let (libc6, loader) = if need_libc {
        let deb = download_deb(mirror, suite, &libc, &dir)?;
        let root = dir.join("libc6");
        let _ = std::fs::remove_dir_all(&root);
        let data = deb_data(&deb)?;
        tar::Archive::new(&data[..])
            .unpack(&root)
            .map_err(|e| FetchError::Unpack {
                what: libc.filename.clone(),
                why: e.to_string(),
            })?;
        let _ = std::fs::remove_file(&deb);
        let loader = find_loader(&root).ok_or_else(|| FetchError::Unpack {
            what: libc.filename.clone(),
            why: "no ld-linux-x86-64.so.2 in it".into(),
        })?;
        let rel = loader.strip_prefix(&dir).unwrap_or(&loader).to_owned();
        (Some(libc.version.clone()), Some(rel))
    } else {
        (None, None)
    };
    let manifest = Manifest {
        suite: suite.to_owned(),
        package_version: uml.version.clone(),
        release,
        url: format!("{}/{}", mirror.uri, uml.filename),
        sha256: uml.sha256.clone(),
        libc6,
        loader,
    };
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serialises") + "\n";
    std::fs::write(&manifest_path, text).map_err(io_err(&manifest_path))?;
    let k = manifest.kernel(&dir).ok_or_else(|| FetchError::Unpack {
        what: uml.filename.clone(),
        why: "the kernel vanished after unpacking".into(),
    })?;
    eprintln!("{suite}: Linux {} ready ({})", k.release, k.linux.display());
    Ok(k)
}

fn download_deb(
    mirror: &Mirror,
    suite: &str,
    pkg: &Package,
    dir: &Path,
) -> Result<PathBuf, FetchError> {
    let name = pkg.filename.rsplit('/').next().unwrap_or(&pkg.filename);
    let path = dir.join(name);
    if let Ok(bytes) = std::fs::read(&path) {
        if sha256_hex(&bytes) == pkg.sha256 {
            return Ok(path);
        }
    }
    let url = format!("{}/{}", mirror.uri, pkg.filename);
    let label = format!("{suite}: {name} ({:.1} MB)", pkg.size as f64 / 1e6);
    let bytes = http_get(&url, Some(&label))?;
    check_sha256(&url, &bytes, &pkg.sha256)?;
    let part = path.with_extension("part");
    std::fs::write(&part, &bytes).map_err(io_err(&part))?;
    std::fs::rename(&part, &path).map_err(io_err(&path))?;
    Ok(path)
}

fn set_executable(path: &Path) -> Result<(), FetchError> {
    #[cfg(unix)]
    // Permission bits are Unix's.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(io_err(path))?;
    }
    let _ = path;
    Ok(())
}
