//! `kernels fetch` against an archive of its own: a small HTTP server on 127.0.0.1:0
//! serving an `InRelease`, a `Packages.xz` and a `.deb` this test builds, so the download,
//! the checks, the unpacking and the idempotence are tested without the network.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use tcplab::uml::fetch::{self, FetchError, Mirror};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    lzma_rs::xz_compress(&mut &bytes[..], &mut out).unwrap();
    out
}

/// A .deb (ar: debian-binary, control.tar.xz, data.tar.xz) holding `usr/bin/linux.uml`.
fn deb_with_kernel(linux: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(linux.len() as u64);
    h.set_mode(0o755);
    h.set_cksum();
    tar.append_data(&mut h, "./usr/bin/linux.uml", linux)
        .unwrap();
    let data = xz(&tar.into_inner().unwrap());
    let mut deb = b"!<arch>\n".to_vec();
    for (name, body) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.xz", xz(b"")),
        ("data.tar.xz", data),
    ] {
        let header = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            100644,
            body.len()
        );
        deb.extend_from_slice(header.as_bytes());
        deb.extend_from_slice(&body);
        if body.len() % 2 == 1 {
            deb.push(b'\n');
        }
    }
    deb
}

/// Serves `files` by path on 127.0.0.1:0, one request per connection, and counts the
/// requests per path.
fn archive(files: BTreeMap<String, Vec<u8>>) -> (String, Arc<Mutex<BTreeMap<String, usize>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(BTreeMap::new()));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            if r.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_owned();
            *counted.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
            let _ = match files.get(&path) {
                Some(body) => conn
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| conn.write_all(body)),
                None => conn.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    (format!("http://{addr}/debian"), hits)
}

/// An archive with suite `test` whose user-mode-linux is `deb`; `index_sha` replaces the
/// package's SHA-256 in the index when given.
fn test_archive(
    deb: &[u8],
    index_sha: Option<&str>,
) -> (Mirror, Arc<Mutex<BTreeMap<String, usize>>>) {
    let pool = "pool/main/u/user-mode-linux/user-mode-linux_9.9um1_amd64.deb";
    let packages = format!(
        "Package: libc6\nVersion: 2.28-1\nFilename: pool/main/g/glibc/libc6_2.28-1_amd64.deb\nSize: 1\nSHA256: 00\n\n\
         Package: user-mode-linux\nVersion: 9.9um1\nDepends: libc6 (>= 2.28)\nFilename: {pool}\nSize: {}\nSHA256: {}\n",
        deb.len(),
        index_sha.map_or_else(|| sha256(deb), str::to_owned)
    );
    let packages_xz = xz(packages.as_bytes());
    let inrelease = format!(
        "Origin: Test\nSuite: test\nSHA256:\n {} {} main/binary-amd64/Packages.xz\n",
        sha256(&packages_xz),
        packages_xz.len()
    );
    let files = BTreeMap::from([
        (
            "/debian/dists/test/InRelease".to_owned(),
            inrelease.into_bytes(),
        ),
        (
            "/debian/dists/test/main/binary-amd64/Packages.xz".to_owned(),
            packages_xz,
        ),
        (format!("/debian/{pool}"), deb.to_vec()),
    ]);
    let (uri, hits) = archive(files);
    (
        Mirror {
            uri,
            keyring: PathBuf::from("/nonexistent/keyring.gpg"),
        },
        hits,
    )
}

const FAKE_KERNEL: &[u8] =
    b"\x7fELF\x02\x01\x01 fake UML: hostfs rootfstype=hostfs ... Linux version 9.9.9 (test@test) #1\0";

#[test]
fn a_fetched_kernel_is_unpacked_listed_and_not_downloaded_twice() {
    let deb = deb_with_kernel(FAKE_KERNEL);
    let (mirror, hits) = test_archive(&deb, None);
    let cache = tempfile::tempdir().unwrap();
    let suites = vec!["test".to_owned()];
    let got = fetch::fetch_from(cache.path(), &mirror, &suites).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].release, "9.9.9");
    assert_eq!(got[0].suite.as_deref(), Some("test"));
    assert_eq!(
        std::fs::read(cache.path().join("test/linux")).unwrap(),
        FAKE_KERNEL
    );
    assert!(got[0].loader.is_none(), "libc6 (>= 2.28) is the host's");
    let listed = tcplab::uml::kernels(cache.path());
    assert!(listed.iter().any(|k| k.release == "9.9.9"), "{listed:?}");

    let again = fetch::fetch_from(cache.path(), &mirror, &suites).unwrap();
    assert_eq!(again[0].release, "9.9.9");
    let hits = hits.lock().unwrap();
    let deb_hits = hits
        .iter()
        .filter(|(p, _)| p.ends_with(".deb"))
        .map(|(_, n)| *n)
        .sum::<usize>();
    assert_eq!(deb_hits, 1, "the package is downloaded once: {hits:?}");
}

#[test]
fn a_package_whose_hash_differs_from_the_index_is_refused() {
    let deb = deb_with_kernel(FAKE_KERNEL);
    let (mirror, _) = test_archive(&deb, Some("ab"));
    let cache = tempfile::tempdir().unwrap();
    let e = fetch::fetch_from(cache.path(), &mirror, &["test".to_owned()]).unwrap_err();
    assert!(matches!(e, FetchError::Checksum { .. }), "{e}");
    assert!(e.to_string().contains("the index says ab"), "{e}");
    assert!(!cache.path().join("test/linux").exists());
}

#[test]
fn an_unknown_suite_is_named_with_debian_s() {
    let deb = deb_with_kernel(FAKE_KERNEL);
    let (mirror, _) = test_archive(&deb, None);
    let cache = tempfile::tempdir().unwrap();
    let e = fetch::fetch_from(cache.path(), &mirror, &["bookwrom".to_owned()])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("bookwrom: the archive has no such suite"),
        "{e}"
    );
    assert!(e.contains("bullseye, bookworm, trixie, sid"), "{e}");
}
