//! `--netns`: the whole run in network and mount namespaces of its own.
//!
//! In: nothing; called while the process has one thread (before the async runtime starts).
//! Out: this process, and every step it starts, sees only a loopback interface; network
//! namespaces the steps create (`ip netns add`) live in a private `/run/netns` and vanish with
//! the run. Nothing the run does to interfaces, routes or firewall rules reaches the host's.

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

use crate::error::{Error, Result};

/// Enter fresh network and mount namespaces. Exit code 3 when the machine can't provide them.
pub fn enter() -> Result<()> {
    let env = |what: &str, e: nix::Error| {
        Error::Environment(format!(
            "--netns: cannot {what} ({e}); it needs root (or CAP_SYS_ADMIN) and a kernel with \
             network namespaces; run without --netns, or as root"
        ))
    };
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)
        .map_err(|e| env("create a network namespace", e))?;
    // Mounts made from here on stay in this namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| env("make the mount namespace private", e))?;
    std::fs::create_dir_all("/run/netns")
        .map_err(|e| Error::Environment(format!("--netns: cannot create /run/netns: {e}")))?;
    mount(
        Some("tmpfs"),
        "/run/netns",
        Some("tmpfs"),
        MsFlags::empty(),
        Some("mode=0755"),
    )
    .map_err(|e| env("mount a private /run/netns", e))?;
    // /sys/class/net should describe this namespace, as in a pod.
    let _ = mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        MsFlags::empty(),
        None::<&str>,
    );
    match std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Error::Environment(format!(
            "--netns: `ip link set lo up` failed ({s})"
        ))),
        Err(e) => Err(Error::Environment(format!(
            "--netns: cannot run `ip` ({e}); install iproute2"
        ))),
    }
}
