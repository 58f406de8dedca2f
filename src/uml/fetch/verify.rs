//! What makes a download trusted: the `InRelease` signature (gpgv) and the SHA-256 of
//! each file against what the signed index gives.
//!
//! gpgv(1) is used when it and the keyring are there; the hashes are always checked.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use super::FetchError;

/// Checks the `InRelease` signature with gpgv when gpgv and the keyring are there; says
/// so on stderr when it could not (the index hashes are still checked against it).
pub(super) fn verify_signature(dir: &Path, inrelease: &[u8], keyring: &Path, suite: &str) {
    let path = dir.join("InRelease");
    if std::fs::write(&path, inrelease).is_err() || !keyring.is_file() {
        eprintln!(
            "{suite}: note: InRelease signature not checked (no keyring {})",
            keyring.display()
        );
        return;
    }
    let out = Command::new("gpgv")
        .arg("--keyring")
        .arg(keyring)
        .arg(&path)
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => eprintln!(
            "{suite}: warning: gpgv did not accept InRelease: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => eprintln!("{suite}: note: InRelease signature not checked (gpgv: {e})"),
    }
    let _ = std::fs::remove_file(&path);
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn check_sha256(what: &str, bytes: &[u8], want: &str) -> Result<(), FetchError> {
    let got = sha256_hex(bytes);
    if got != want {
        return Err(FetchError::Checksum {
            what: what.to_owned(),
            got,
            want: want.to_owned(),
        });
    }
    Ok(())
}
