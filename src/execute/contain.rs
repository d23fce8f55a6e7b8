//! Process containment: every process a run starts is gone when the run ends, however it left
//! its process group.
//!
//! In: nothing. Out: [`die_with_parent`], set on the sandbox's helper as it starts. The rest is
//! the sandbox's ([`super::sandbox`]): its first process is PID 1 of a PID namespace of its
//! own, so when it ends the kernel kills everything left in it — `setsid`, `nohup` and
//! double-forked daemons included; and the helper dies with labrun (even with `kill -9`),
//! taking the first process with it. Without a sandbox (`--unsandboxed`) the helper is a child
//! subreaper: orphans of the steps are re-parented to it, and it kills its descendants as it
//! ends.

/// Set on the started process before it runs: it dies when labrun does.
pub fn die_with_parent() -> std::io::Result<()> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
}
