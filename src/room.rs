//! Clean rooms: every run in a fresh network namespace of its own.
//!
//! A socket's figures depend on more than the code: the namespace's settings, the
//! kernel's per-destination TCP metrics cache (a connection to 127.0.0.1 starts from what
//! earlier connections to it left there), and other traffic moving the counters. A fresh
//! network namespace has none of that history: a private loopback, an empty metrics cache,
//! the kernel's defaults for a new namespace, no other traffic. So by default each run
//! happens in one, made for it and gone with it; `--room host` runs in the machine's own
//! namespace on purpose, to show what its history does.
//!
//! # How a room is made
//! [`run_in`] runs the whole scenario on a thread of its own, which first calls
//! unshare(CLONE_NEWNET): only that thread moves, and the engine's threads (and the tokio
//! engine's runtime thread), spawned from it, inherit the room, so every socket of the run
//! is created inside it and keeps it for life. Nothing is named under /run/netns and
//! nothing is mounted: the namespace ends when the run's last thread and socket are gone,
//! however the process ends.
//!
//! That needs CAP_SYS_ADMIN. As root the lab has it. Otherwise [`prepare`], called before
//! the process starts its first thread, moves the process into a user namespace of its own
//! where the user is root (unshare(CLONE_NEWUSER) with a uid and gid map), which this kind
//! of system allows unprivileged users; rooms are then made there, and `--sysctl` and
//! `--profile` work without root too. Where the system refuses both, runs happen in the
//! machine's own namespace, and the record and stderr say so.
//!
//! # Notes
//! On Linux only: other systems have no network namespaces, and their runs happen in the
//! machine's own network stack, recorded as such. See network_namespaces(7),
//! user_namespaces(7), unshare(2).

use std::sync::OnceLock;

use crate::env::{Environment, Netns};
use crate::profile::{self, ProfileError};
use crate::sys;

/// Where a run is asked to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RoomChoice {
    /// A fresh network namespace for every run (the default).
    #[default]
    Clean,
    /// The machine's own network namespace, with its settings and its history.
    Host,
}

pub use crate::env::Room;

/// How this process can make rooms; decided once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Means {
    /// It holds CAP_SYS_ADMIN (root, or already inside a user namespace of its own).
    Privileged,
    /// It entered a user namespace of its own in [`prepare`].
    UserNamespace,
    /// Neither: the reason, for the record and stderr.
    Unavailable(String),
}

static MEANS: OnceLock<Means> = OnceLock::new();

/// Decides how rooms will be made, entering a user namespace where that is needed and
/// allowed. Call it before the process starts any thread (a user namespace can be entered
/// only by a single-threaded process); later calls return the first answer. Processes that
/// never call it (tests, libraries) get rooms where they are privileged and the host's
/// namespace otherwise.
pub fn prepare() -> &'static Means {
    MEANS.get_or_init(|| {
        if !cfg!(target_os = "linux") {
            return Means::Unavailable(format!(
                "network namespaces are Linux's; this is {}",
                std::env::consts::OS
            ));
        }
        if sys::can_make_namespaces() {
            return Means::Privileged;
        }
        if let Some(n) = sys::thread_count().filter(|&n| n > 1) {
            return Means::Unavailable(format!(
                "not root, and a user namespace can be entered only before the first thread starts ({n} threads run)"
            ));
        }
        match sys::enter_user_namespace() {
            Ok(()) if sys::can_make_namespaces() => Means::UserNamespace,
            Ok(()) => Means::Unavailable(
                "the user namespace entered grants no CAP_SYS_ADMIN".to_owned(),
            ),
            Err(e) => Means::Unavailable(format!(
                "not root, and this system refuses unprivileged user namespaces (unshare(CLONE_NEWUSER): {e}; see kernel.unprivileged_userns_clone, user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns)"
            )),
        }
    })
}

/// Why a run could not have the room it asked for.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("--sysctl and --profile need a network namespace of the run's own, and none can be made here: {0}")]
    NoRoom(String),
    #[error("--sysctl and --profile change settings in the run's own network namespace; with --room host there is none (drop --room host)")]
    SettingsNeedRoom,
    #[error("cannot make a network namespace for the run (unshare(CLONE_NEWNET): {0})")]
    Unshare(std::io::Error),
    #[error("cannot bring the loopback interface up in the run's network namespace: {0}")]
    Loopback(std::io::Error),
    #[error(transparent)]
    Settings(#[from] ProfileError),
    #[error(transparent)]
    Tier(#[from] crate::tier::TierError),
}

/// What a run asks of its room: where, and which settings (`--profile`, `--sysctl`).
#[derive(Debug, Clone, Default)]
pub struct RoomPlan {
    pub choice: RoomChoice,
    pub netns: Option<Netns>,
}

/// Runs `f` on a thread of its own in the room `plan` asks for, with the environment as
/// seen from inside it (read there: the room's settings, loopback MTU and metrics cache).
/// Every thread `f` starts inherits the room. `host` is the environment read outside any
/// room: a global setting a room does not show is taken from it.
pub fn run_in<T: Send>(
    plan: &RoomPlan,
    host: &Environment,
    f: impl FnOnce(Environment) -> T + Send,
) -> Result<T, RoomError> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("tcplab-room".to_owned())
            .spawn_scoped(scope, || -> Result<T, RoomError> {
                let env = enter(plan, host)?;
                Ok(f(env))
            })
            .map_err(RoomError::Unshare)?;
        match worker.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Moves the calling thread into the room `plan` asks for and reads its environment.
fn enter(plan: &RoomPlan, host: &Environment) -> Result<Environment, RoomError> {
    let clean = |via: &str| Room {
        kind: "clean".to_owned(),
        via: Some(via.to_owned()),
        fallback: None,
    };
    let room = match (plan.choice, prepare()) {
        (RoomChoice::Host, _) if plan.netns.is_some() => return Err(RoomError::SettingsNeedRoom),
        (RoomChoice::Host, _) => Room {
            kind: "host".to_owned(),
            via: None,
            fallback: None,
        },
        (RoomChoice::Clean, Means::Unavailable(why)) => {
            if plan.netns.is_some() {
                return Err(RoomError::NoRoom(why.clone()));
            }
            Room {
                kind: "host".to_owned(),
                via: None,
                fallback: Some(why.clone()),
            }
        }
        (RoomChoice::Clean, means) => {
            // Which settings the namespace we leave has, to tell a global setting from an
            // unknown one if the room refuses it.
            let wanted: Vec<(String, bool)> = plan
                .netns
                .iter()
                .flat_map(|n| n.set.keys())
                .map(|k| (k.clone(), sys::read_sysctl(k).is_ok()))
                .collect();
            sys::unshare_netns().map_err(RoomError::Unshare)?;
            sys::loopback_up().map_err(RoomError::Loopback)?;
            if let Some(n) = &plan.netns {
                let on_host = |name: &str| wanted.iter().any(|(k, there)| k == name && *there);
                profile::apply(n, &on_host)?;
            }
            clean(if *means == Means::UserNamespace {
                "user namespace"
            } else {
                "unshare(CLONE_NEWNET)"
            })
        }
    };
    Ok(Environment::in_room(room, plan.netns.clone(), host))
}
