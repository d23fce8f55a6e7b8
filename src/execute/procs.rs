//! The process table, as `/proc` shows it to labrun (outside the sandbox's PID namespace).
//!
//! In: a process id. Out: its descendants (one pass over `/proc`), each with its parent, start
//! time and id inside its innermost PID namespace: what the session needs to end a step that
//! ran out of time, and a background command, without ending the shell.

/// One process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    /// Start time, in clock ticks since boot (tells a new process from an old one that had
    /// the same id).
    pub start: u64,
}

/// `(pid, ppid, start)` from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<Proc> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(Proc {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Every process now.
pub fn all() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .collect()
}

/// Every descendant of `root` (not `root` itself), parents before children.
pub fn descendants(root: u32) -> Vec<Proc> {
    let table = all();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for c in table.iter().filter(|c| c.ppid == p) {
            out.push(*c);
            frontier.push(c.pid);
        }
    }
    out
}

/// The id `pid` has inside its innermost PID namespace (the last field of `NSpid`).
pub fn inner_pid(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// Whether `p` is still the same live process (not a zombie, not a new one with its id).
pub fn alive(p: &Proc) -> bool {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{}/stat", p.pid)) else {
        return false;
    };
    let Some(rest) = s.rfind(')').map(|i| &s[i + 2..]) else {
        return false;
    };
    let fields: Vec<&str> = rest.split(' ').collect();
    fields.first() != Some(&"Z") && fields.get(19).and_then(|f| f.parse().ok()) == Some(p.start)
}

/// Have the child `cmd` starts get SIGTERM when this process dies (`PR_SET_PDEATHSIG`): a
/// document's `labrun run` under a run of many ends, and deletes its cluster, with it.
pub fn end_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_and_its_child_are_descendants_with_their_inner_ids() {
        let mut child = std::process::Command::new("bash")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let me = std::process::id();
        let mut found = Vec::new();
        for _ in 0..200 {
            found = descendants(me);
            if found.iter().any(|p| p.ppid == child.id()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(found.iter().any(|p| p.pid == child.id() && p.ppid == me));
        let sleep = found.iter().find(|p| p.ppid == child.id()).unwrap();
        assert!(alive(sleep));
        // outside any PID namespace of its own, the inner id is the id
        assert_eq!(inner_pid(sleep.pid), Some(sleep.pid));
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(sleep.pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
