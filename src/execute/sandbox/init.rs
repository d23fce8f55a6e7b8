//! The helper's work: enter the namespaces, build the view, and be the sandbox's first process.
//!
//! In: a [`Spec`]. Out: the session's bash, running in the sandbox with the session FIFOs as
//! its standard output and error and the helper's standard input (labrun's commands) as its
//! own; when it ends (`exit`, `kill -9 $$`, `set -e`), a record `exit N` on the status FIFO
//! and a fresh bash in the same sandbox, as a new terminal on the same machine. When labrun
//! closes the commands' pipe, the first process exits, and the kernel ends every process left
//! in the PID namespace.

use std::io::Write as _;
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::path::Path;

use nix::sched::CloneFlags;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::{Isolation, Network, Spec, view};

/// The session's FIFOs, in the state directory.
pub const STATUS: &str = "status";
pub const OUT: &str = "out";
pub const ERR: &str = "err";

fn write_file(path: &str, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("sandbox: cannot write {path}: {e}"))
}

/// Build the sandbox and run the session; the helper's exit code.
pub fn start(spec: &Spec) -> Result<u8, String> {
    if !spec.contained {
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let code = session(spec, &Isolation::default(), None);
        kill_descendants(nix::unistd::getpid());
        return Ok(code);
    }
    let uid = nix::unistd::geteuid();
    let gid = nix::unistd::getegid();
    let missing = |what: &str, e: nix::Error| {
        format!(
            "sandbox: cannot create {what} ({e}). labrun runs a document's steps in namespaces \
             of their own; {}. To run without a sandbox, where the steps can change this \
             machine, pass --unsandboxed",
            if uid.is_root() {
                "this kernel or container does not allow them"
            } else {
                "as a user other than root it needs unprivileged user namespaces \
                 (sysctl kernel.unprivileged_userns_clone=1, or \
                 kernel.apparmor_restrict_unprivileged_userns=0), or run as root"
            }
        )
    };
    if uid.is_root() {
        nix::sched::unshare(CloneFlags::CLONE_NEWNS)
            .map_err(|e| missing("a mount namespace", e))?;
    } else {
        nix::sched::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
            .map_err(|e| missing("a user namespace", e))?;
        write_file("/proc/self/setgroups", "deny")?;
        write_file("/proc/self/uid_map", &format!("{uid} {uid} 1\n"))?;
        write_file("/proc/self/gid_map", &format!("{gid} {gid} 1\n"))?;
    }
    view::build(&spec.keep, &spec.home, uid.as_raw())?;

    // Root on the host's network keeps root's uid with a bounded set of capabilities (as a
    // container's root has): raw sockets for `ping`, none over the network's configuration,
    // mounts or the kernel. Elsewhere a user namespace: root inside (with --netns) holds its
    // powers over the run's own namespaces only.
    let userns = !uid.is_root() || spec.network == Network::Own;
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if spec.network == Network::Own {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if userns {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    let (go_r, go_w) = nix::unistd::pipe().map_err(|e| format!("sandbox: pipe: {e}"))?;
    let mut stack = vec![0u8; 1 << 20];
    let child_spec = spec.clone();
    let cb = Box::new(move || -> isize {
        // wait until the parent has written the identity maps; it sends this process's id
        // as the host sees it
        let mut id = [0u8; 4];
        if nix::unistd::read(&go_r, &mut id) != Ok(4) {
            return 3;
        }
        first_process(&child_spec, userns, u32::from_le_bytes(id)) as isize
    });
    // SAFETY: the helper is single-threaded (a fresh process that started no thread); the
    // child runs on its own stack and only starts processes and waits for them.
    let child = unsafe { nix::sched::clone(cb, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| missing("user, PID and mount namespaces", e))?;
    let map = |file: &str, text: &str| write_file(&format!("/proc/{child}/{file}"), text);
    if !userns {
    } else if uid.is_root() {
        map("uid_map", "0 0 4294967295\n")?;
        map("gid_map", "0 0 4294967295\n")?;
    } else {
        map("uid_map", &format!("{uid} {uid} 1\n"))?;
        map("gid_map", &format!("{gid} {gid} 1\n"))?;
    }
    nix::unistd::write(&go_w, &(child.as_raw() as u32).to_le_bytes())
        .map_err(|e| format!("sandbox: {e}"))?;
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as u8),
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(format!("sandbox: waiting for the first process: {e}")),
        }
    }
}

/// Capabilities root keeps in a sandbox without a user namespace (a container runtime's usual
/// set, less `mknod`): numbers from linux/capability.h.
pub const ROOT_KEEPS: &[(u32, &str)] = &[
    (0, "chown"),
    (1, "dac_override"),
    (3, "fowner"),
    (4, "fsetid"),
    (5, "kill"),
    (6, "setgid"),
    (7, "setuid"),
    (8, "setpcap"),
    (10, "net_bind_service"),
    (13, "net_raw"),
    (18, "sys_chroot"),
    (29, "audit_write"),
    (31, "setfcap"),
];

/// Drop every capability but [`ROOT_KEEPS`] from the bounding set: no program this process
/// starts (bash and all it runs, setuid or not) can hold one of them again.
fn bound_capabilities() -> Result<(), String> {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    for cap in 0..=last {
        if ROOT_KEEPS.iter().any(|(c, _)| *c == cap) {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            return Err(format!(
                "sandbox: cannot drop capability {cap}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// PID 1 of the sandbox: the new `/proc`, the network's loopback, root's bounds, then the
/// session.
fn first_process(spec: &Spec, userns: bool, host_pid: u32) -> i32 {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    let mut iso = Isolation {
        user: userns,
        bounded: !userns,
        mount: true,
        pid: true,
        network: spec.network == Network::Own,
        missing: Vec::new(),
    };
    use nix::mount::{MsFlags, mount};
    if let Err(e) = mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    ) {
        iso.missing.push(format!(
            "a /proc of the sandbox's own could not be mounted ({e})"
        ));
    }
    // Process ids continue from this process's id on the host, not from 2: programs that take
    // their id for a unique one (ping's ICMP identifier on the host's network, `$$`-named
    // files) do not collide with the same program in another run's sandbox.
    let _ = std::fs::write("/proc/sys/kernel/ns_last_pid", host_pid.to_string());
    if !userns && let Err(e) = view::guard_proc().and_then(|()| bound_capabilities()) {
        eprintln!("{e}");
        return 3;
    }
    if spec.network == Network::Own {
        // /sys/class/net describes this namespace, as in a pod
        let _ = mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        );
        if let Err(e) = loopback_up() {
            iso.missing.push(format!(
                "the loopback interface of the run's network could not be brought up ({e})"
            ));
        }
    }
    session(spec, &iso, Some(())).into()
}

/// `ip link set lo up`, done here with the capabilities this process has over the new network
/// namespace (a program it started as a user other than root would not have them).
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: a datagram socket, and two ioctls on a zeroed `ifreq` naming `lo`.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut r = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        if r == 0 {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            r = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if r == 0 { Ok(()) } else { Err(err) }
    }
}

/// Start the session's bash, and again whenever it ends, until labrun closes its commands.
fn session(spec: &Spec, iso: &Isolation, _pid1: Option<()>) -> u8 {
    let open = |name: &str| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(spec.state.join(name))
    };
    let (Ok(mut status), Ok(out), Ok(err)) = (open(STATUS), open(OUT), open(ERR)) else {
        eprintln!(
            "sandbox: cannot open the session's pipes in {}",
            spec.state.display()
        );
        return 3;
    };
    let mut ready = Some(serde_json::to_string(iso).unwrap_or_default());
    loop {
        let bash = match spawn(spec, &out, &err) {
            Ok(b) => b,
            Err(e) => {
                record(&mut status, &format!("fail cannot start bash: {e}"));
                return 3;
            }
        };
        // ready once the first bash runs: labrun counts it among the session's processes
        if let Some(r) = ready.take() {
            record(&mut status, &format!("{} {r}", super::READY));
        }
        let code = wait_for(bash);
        // what the old bash did not read (the rest of its step) is not the new one's
        discard_input();
        record(&mut status, &format!("exit {code}"));
        if commands_closed() {
            return 0;
        }
    }
}

/// Write one record on the status FIFO in one `write` (shorter than a pipe's atomic size, so
/// never mixed with bash's own records).
fn record(status: &mut std::fs::File, text: &str) {
    let _ = status.write_all(format!("\0{text}\n").as_bytes());
}

/// Start the session's bash: its own session and process group, the spec's environment, the
/// helper's standard input as its commands.
fn spawn(spec: &Spec, out: &std::fs::File, err: &std::fs::File) -> std::io::Result<Pid> {
    let stdin: OwnedFd = std::io::stdin().as_fd().try_clone_to_owned()?;
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-s"])
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(if spec.workdir.is_dir() {
            spec.workdir.as_path()
        } else {
            Path::new("/")
        })
        .stdin(stdin)
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?);
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    Ok(Pid::from_raw(child.id() as i32))
}

/// Reap every child until `bash` ends (orphans of the session come to the first process, or
/// to the subreaper); its exit code as bash reports one.
fn wait_for(bash: Pid) -> i32 {
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == bash => return code,
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == bash => return 128 + sig as i32,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}

/// Read and drop whatever waits on standard input now.
fn discard_input() {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) else {
        return;
    };
    let flags = OFlag::from_bits_truncate(flags);
    if fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).is_err() {
        return;
    }
    let mut buf = [0u8; 64 * 1024];
    while let Ok(1..) = nix::unistd::read(fd, &mut buf) {}
    let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
}

/// Whether labrun closed the session's commands (and nothing is left to read).
fn commands_closed() -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0].revents().is_some_and(|r| {
            r.contains(PollFlags::POLLHUP) && !r.contains(PollFlags::POLLIN)
                || r.contains(PollFlags::POLLNVAL)
        }),
        Err(_) => true,
    }
}

/// Kill every descendant of `root` until none is left (the subreaper's end of a run without
/// namespaces: orphans re-parent to it, so the tree holds them all).
pub fn kill_descendants(root: Pid) {
    for _ in 0..32 {
        let found = crate::execute::procs::descendants(root.as_raw() as u32);
        if found.is_empty() {
            return;
        }
        for p in &found {
            let _ = nix::sys::signal::kill(
                Pid::from_raw(p.pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        while let Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) =
            waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG))
        {}
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
