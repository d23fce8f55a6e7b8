//! Process containment: every process a step starts is gone when its step ends (for a
//! background step, when the run ends, or it is stopped), however it left its process group.
//!
//! In: the `bash` command a session is about to start. Out: that command, wrapped. Two ways,
//! chosen once per labrun process ([`mode`]):
//!
//! - **PID namespace** (where `unshare --pid` works: root, or `CAP_SYS_ADMIN`): the step's bash
//!   is the first process of a PID namespace of its own, so when it ends the kernel kills
//!   everything left in it — `setsid`, `nohup` and double-forked daemons included — and
//!   `unshare --kill-child` ends it when labrun itself is killed, even with `kill -9`.
//! - **Tag and sweep** (anywhere else, or `LABRUN_PIDNS=0`): labrun is a child subreaper, so
//!   orphans of a step are re-parented to labrun rather than to init; every process of a step
//!   carries `__LABRUN_TAG` in its environment, and [`sweep`] kills what still carries it when
//!   the step ends. A process that empties its environment *and* leaves its session escapes
//!   this; a PID namespace does not let it.
//!
//! In both, the bash labrun starts dies with labrun (`PR_SET_PDEATHSIG`).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// How the processes of steps are contained in this labrun process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each bash the first process of its own PID namespace.
    PidNamespace,
    /// Subreaper, environment tag, sweep.
    Sweep,
}

static MODE: LazyLock<Mode> = LazyLock::new(|| {
    let wanted = std::env::var("LABRUN_PIDNS").map_or(true, |v| v != "0");
    let works = wanted
        && std::process::Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "true"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if works {
        Mode::PidNamespace
    } else {
        // Orphans of steps come to labrun, where a sweep finds them.
        let _ = nix::sys::prctl::set_child_subreaper(true);
        Mode::Sweep
    }
});

/// The containment this process uses (decided on first use).
pub fn mode() -> Mode {
    *MODE
}

/// The environment variable every process of one bash carries.
pub const TAG: &str = "__LABRUN_TAG";

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A tag unique to one bash of this labrun process.
pub fn new_tag() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The program and leading arguments that start `bash` contained.
pub fn launcher() -> &'static [&'static str] {
    match mode() {
        Mode::PidNamespace => &["unshare", "--pid", "--fork", "--kill-child", "bash"],
        Mode::Sweep => &["bash"],
    }
}

/// Bash run first in a new PID namespace: its process ids continue from the bash's own id
/// outside (`NSpid`), not from 2 — programs that take their pid for a unique id (`ping`'s
/// ICMP identifier, `$$`-named files) do not collide with the same program in another
/// step's namespace.
const PRELUDE: &str = "while read -r __labrun_k __labrun_v _; do [[ $__labrun_k == NSpid: ]] \
    && echo \"$__labrun_v\" > /proc/sys/kernel/ns_last_pid 2>/dev/null; done < /proc/self/status; \
    unset __labrun_k __labrun_v\n";

/// What the started bash runs before its script.
pub fn prelude() -> &'static str {
    match mode() {
        Mode::PidNamespace => PRELUDE,
        Mode::Sweep => "",
    }
}

/// Set on the started process before it runs: it dies when labrun does.
pub fn die_with_parent() -> std::io::Result<()> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
}

/// Kill every process that still carries `tag` (and reap those re-parented to labrun), until
/// none is left. Needed only in [`Mode::Sweep`]; cheap (one pass over `/proc`) otherwise
/// skipped.
pub fn sweep(tag: &str) {
    if mode() != Mode::Sweep {
        return;
    }
    let needle = format!("{TAG}={tag}\0");
    let me = std::process::id() as i32;
    for _ in 0..16 {
        let found = tagged(needle.as_bytes());
        if found.is_empty() {
            return;
        }
        for (pid, parent) in found {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            if parent == me {
                // an orphan labrun adopted as subreaper: nobody else will wait for it
                let _ = nix::sys::wait::waitpid(p, None);
            }
        }
    }
}

/// Processes (pid, parent pid) whose environment holds `needle`.
fn tagged(needle: &[u8]) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !env.windows(needle.len()).any(|w| w == needle) {
            continue;
        }
        let parent = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| {
                // `pid (comm) state ppid …`; comm may hold spaces and parentheses
                let rest = &s[s.rfind(')')? + 2..];
                rest.split(' ').nth(1)?.parse().ok()
            })
            .unwrap_or(0);
        out.push((pid, parent));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_name_this_process() {
        let (a, b) = (new_tag(), new_tag());
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("{}-", std::process::id())));
    }

    #[test]
    fn a_sweep_finds_a_process_by_its_tag_alone() {
        let tag = new_tag();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env(TAG, &tag)
            .spawn()
            .unwrap();
        let needle = format!("{TAG}={tag}\0");
        // until the child has exec'd, /proc shows the parent's environment
        let mut found = Vec::new();
        for _ in 0..200 {
            found = tagged(needle.as_bytes());
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0], (child.id() as i32, std::process::id() as i32));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(tagged(needle.as_bytes()).is_empty());
    }
}
