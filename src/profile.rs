//! Environment profiles: running scenarios under other kernel settings without touching
//! the machine's own, in a fresh network namespace.
//!
//! Several differences between systems come from settings rather than code (the accept
//! queue limit, buffer limits, SYN retries, what a full accept queue does). On Linux most
//! `net.*` settings belong to a network namespace, so the lab can enter a new namespace,
//! change them there, and run the scenarios inside it.
//!
//! # Notes
//! The settings are written by [`apply`] inside the run's own room (a fresh network
//! namespace, see [`crate::room`]), never in the host's namespace. On other systems there
//! are no network namespaces and the room says so. See network_namespaces(7).

use std::collections::BTreeMap;
use std::io;

use crate::env::Netns;
use crate::sys;

/// A named set of settings.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub name: &'static str,
    /// sysctl name and value, as written to /proc/sys.
    pub settings: &'static [(&'static str, &'static str)],
    /// What it models, in one sentence.
    pub models: &'static str,
}

/// The named profiles, listed by `tcplab profiles`.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "macos-somaxconn",
        settings: &[("net.core.somaxconn", "128")],
        models: "the accept-queue limit of the article's macOS (kern.ipc.somaxconn: 128), also Linux's default before 5.4",
    },
    Profile {
        name: "abort-on-overflow",
        settings: &[("net.ipv4.tcp_abort_on_overflow", "1")],
        models: "a listener that resets a handshake it has no room to accept instead of ignoring its final ACK (tcp(7))",
    },
    Profile {
        name: "small-buffers",
        settings: &[
            ("net.ipv4.tcp_wmem", "4096 16384 16384"),
            ("net.ipv4.tcp_rmem", "4096 131072 131072"),
        ],
        models: "buffers that never grow: autotuning capped at Linux's default sizes (16 KiB to send, 128 KiB to receive)",
    },
    Profile {
        name: "short-syn-retries",
        settings: &[("net.ipv4.tcp_syn_retries", "1")],
        models: "a dial that gives up after one SYN retransmission (about 3 s) instead of six (about 127 s)",
    },
];

/// The profile called `name`.
pub fn find(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

/// Why the lab could not give a run the settings asked for; nothing on the host was
/// changed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown profile `{name}`; the closest are: {closest} (see `tcplab profiles`)")]
    UnknownProfile { name: String, closest: String },
    #[error("`{0}` is not a network setting: only net.* settings live in a network namespace")]
    NotNetwork(String),
    #[error(
        "`--sysctl {name}={value}`: give a dotted lowercase name (net.core.somaxconn) and a value"
    )]
    BadName { name: String, value: String },
    #[error("`{0}` is global, not per network namespace: Linux shows it read-only in a namespace of its own, and changing it would change the host, so tcplab refuses")]
    NotNamespaced(String),
    #[error("unknown sysctl `{0}` (no /proc/sys entry on this machine)")]
    UnknownSysctl(String),
    #[error("`{name}={value}`: in a network namespace other than the host's, Linux lets a namespace choose only the algorithms in net.ipv4.tcp_allowed_congestion_control ({allowed}); the others loaded ({available}) can be set per socket with TCP_CONGESTION by a process with CAP_NET_ADMIN (EPERM)")]
    CongestionNotAllowed {
        name: String,
        value: String,
        allowed: String,
        available: String,
    },
    #[error("`{name}={value}`: this kernel has no congestion control `{value}` (available: {available})")]
    CongestionUnknown {
        name: String,
        value: String,
        available: String,
    },
    #[error("the kernel refused `{name}={value}` in the namespace: {error}")]
    Refused {
        name: String,
        value: String,
        error: io::Error,
    },
}

/// The settings of `profile` with `extra` (`--sysctl`) applied on top, checked for form.
pub fn settings(profile: Option<&str>, extra: &[(String, String)]) -> Result<Netns, ProfileError> {
    let mut set = BTreeMap::new();
    let profile = match profile {
        Some(name) => {
            let Some(p) = find(name) else {
                let near = crate::suggest::closest(name, PROFILES.iter().map(|p| p.name));
                let closest = if near.is_empty() {
                    PROFILES
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    near.join(", ")
                };
                return Err(ProfileError::UnknownProfile {
                    name: name.to_owned(),
                    closest,
                });
            };
            for (k, v) in p.settings {
                set.insert((*k).to_owned(), (*v).to_owned());
            }
            Some(p.name.to_owned())
        }
        None => None,
    };
    for (name, value) in extra {
        let well_formed = !name.is_empty()
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if !well_formed || value.trim().is_empty() {
            return Err(ProfileError::BadName {
                name: name.clone(),
                value: value.clone(),
            });
        }
        if !name.starts_with("net.") {
            return Err(ProfileError::NotNetwork(name.clone()));
        }
        // Several numbers (tcp_wmem) are written separated by single spaces, as read back.
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        set.insert(name.clone(), value);
    }
    Ok(Netns { profile, set })
}

/// Writes `netns`'s settings in the calling thread's network namespace, which must be a
/// room of the run's own (see [`crate::room`]): never the host's.
///
/// Each refusal is told by what the kernel answered. A global setting is absent from a
/// namespace of its own or read-only there; a congestion control outside
/// tcp_allowed_congestion_control is EPERM; an unknown one ENOENT.
///
/// `on_host` tells whether the namespace the room was made from has a setting, read
/// before the room was entered: a setting there but not here is global.
pub fn apply(netns: &Netns, on_host: &dyn Fn(&str) -> bool) -> Result<(), ProfileError> {
    for (name, value) in &netns.set {
        let Err(e) = sys::write_sysctl(name, value) else {
            continue;
        };
        let listed = |n: &str| sys::read_sysctl(n).unwrap_or_else(|_| "unknown".to_owned());
        return Err(match e {
            sys::SysctlError::Open(e) if e.kind() == io::ErrorKind::NotFound => {
                if on_host(name) {
                    ProfileError::NotNamespaced(name.clone())
                } else {
                    ProfileError::UnknownSysctl(name.clone())
                }
            }
            sys::SysctlError::Open(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                ProfileError::NotNamespaced(name.clone())
            }
            sys::SysctlError::Write(e)
                if name == CONGESTION && e.kind() == io::ErrorKind::PermissionDenied =>
            {
                ProfileError::CongestionNotAllowed {
                    name: name.clone(),
                    value: value.clone(),
                    allowed: listed("net.ipv4.tcp_allowed_congestion_control"),
                    available: listed("net.ipv4.tcp_available_congestion_control"),
                }
            }
            sys::SysctlError::Write(e)
                if name == CONGESTION && e.kind() == io::ErrorKind::NotFound =>
            {
                ProfileError::CongestionUnknown {
                    name: name.clone(),
                    value: value.clone(),
                    available: listed("net.ipv4.tcp_available_congestion_control"),
                }
            }
            sys::SysctlError::Open(error) | sys::SysctlError::Write(error) => {
                ProfileError::Refused {
                    name: name.clone(),
                    value: value.clone(),
                    error,
                }
            }
        });
    }
    Ok(())
}

/// The namespace's default congestion control.
const CONGESTION: &str = "net.ipv4.tcp_congestion_control";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_and_sysctls_merge_with_the_command_line_winning() {
        let n = settings(
            Some("macos-somaxconn"),
            &[
                ("net.core.somaxconn".into(), "64".into()),
                ("net.ipv4.tcp_wmem".into(), "4096  8192   8192".into()),
            ],
        )
        .unwrap();
        assert_eq!(n.profile.as_deref(), Some("macos-somaxconn"));
        assert_eq!(n.set["net.core.somaxconn"], "64");
        assert_eq!(n.set["net.ipv4.tcp_wmem"], "4096 8192 8192");
    }

    #[test]
    fn non_network_and_malformed_names_are_refused_before_anything_runs() {
        let e = settings(None, &[("kernel.pid_max".into(), "1000".into())]).unwrap_err();
        assert!(matches!(e, ProfileError::NotNetwork(_)), "{e}");
        let e = settings(None, &[("net/core/somaxconn".into(), "1".into())]).unwrap_err();
        assert!(matches!(e, ProfileError::BadName { .. }), "{e}");
        let e = settings(None, &[("net.core.somaxconn".into(), " ".into())]).unwrap_err();
        assert!(matches!(e, ProfileError::BadName { .. }), "{e}");
    }

    #[test]
    fn an_unknown_profile_suggests_the_closest() {
        let e = settings(Some("small-buffer"), &[]).unwrap_err();
        assert!(e.to_string().contains("small-buffers"), "{e}");
    }

    #[test]
    fn every_profile_sets_only_network_settings() {
        for p in PROFILES {
            let n = settings(Some(p.name), &[]).unwrap();
            assert!(n.set.keys().all(|k| k.starts_with("net.")), "{}", p.name);
            assert!(!n.set.is_empty(), "{}", p.name);
        }
    }
}
