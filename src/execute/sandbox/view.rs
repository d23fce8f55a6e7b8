//! The files a sandboxed step sees, built in a mount namespace of the helper's own.
//!
//! In: the [`Spec`](super::Spec)'s kept paths and home. Out: this process's mount namespace
//! changed so that every mount is read-only; `/tmp`, `/var/tmp`, `/run` and the home directory
//! are fresh, empty tmpfs; `/dev` holds only harmless devices; the kept paths are back where
//! they were, read-only or writable as asked. Nothing here reaches the host's mounts: the
//! namespace is private from its first call.
//!
//! The new mount API (`open_tree`, `move_mount`, `mount_setattr`, Linux 5.12) does what the
//! old one cannot: take a kept path along before what holds it is covered (a project under
//! `/tmp`, tools under `~/.local/bin`), and make a whole tree read-only in one call.

use std::ffi::CString;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};

use super::Keep;

const OPEN_TREE_CLONE: libc::c_uint = 0x1;
const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// `struct mount_attr` of linux/mount.h.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The directories the sandbox covers with fresh ones.
pub fn covered(home: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = ["/tmp", "/var/tmp", "/run"]
        .iter()
        .map(PathBuf::from)
        .collect();
    if home != Path::new("/") {
        dirs.push(std::fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf()));
    }
    dirs.retain(|d| d.is_dir());
    dirs
}

/// Devices a step may open: the rest of the host's `/dev` (its disks above all) is not there.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Host paths kept visible whatever the spec says: what name resolution reads through `/run`
/// (`/etc/resolv.conf` is a link into it where systemd-resolved runs).
const ALWAYS_KEPT: &[&str] = &["/run/systemd/resolve"];

fn c_path(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("a path has no NUL")
}

fn err(what: &str, p: &Path, e: impl std::fmt::Display) -> String {
    format!("sandbox: {what} {}: {e}", p.display())
}

/// A detached copy of the mount tree at `path`, to be put back with [`put`].
fn clone_tree(path: &Path, recursive: bool) -> Result<OwnedFd, String> {
    let c = c_path(path);
    let flags = OPEN_TREE_CLONE
        | OPEN_TREE_CLOEXEC
        | if recursive {
            libc::AT_RECURSIVE as u32
        } else {
            0
        };
    // SAFETY: open_tree reads a NUL-terminated path and returns a new file descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(err(
            "cannot take along",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the descriptor was just returned to us and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attach a tree taken by [`clone_tree`] at `path`.
fn put(tree: &OwnedFd, path: &Path) -> Result<(), String> {
    let c = c_path(path);
    let empty = CString::new("").expect("no NUL");
    // SAFETY: both paths are NUL-terminated; the descriptor is a detached mount tree.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(err(
            "cannot put back",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Set (and clear) mount attributes on the mount at `path`, and every mount below it.
fn set_attr(path: &Path, set: u64, clear: u64) -> Result<(), String> {
    let c = c_path(path);
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the path is NUL-terminated, `attr` a valid struct of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(err(
            "cannot change the mounts at",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn tmpfs(path: &Path, mode: &str) -> Result<(), String> {
    mount(
        Some("tmpfs"),
        path,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(mode),
    )
    .map_err(|e| err("cannot mount a fresh directory at", path, e))
}

/// Create `path` (and its parents) where it does not exist; a read-only place where it does
/// is fine.
fn make_dir(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|e| err("cannot create", path, e))
}

fn make_file(path: &Path) -> Result<(), String> {
    std::fs::File::create(path)
        .map(drop)
        .map_err(|e| err("cannot create", path, e))
}

/// The id of the mount `path` is on (`statx`'s `stx_mnt_id`): a bind mount of the same
/// filesystem has a device number of the same, but a mount of its own. `None` where the
/// kernel does not say.
pub fn mount_id(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt as _;
    const STATX_MNT_ID: u32 = 0x1000;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statx writes into the zeroed struct we own; the path is NUL-terminated.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            STATX_MNT_ID,
            &mut st,
        )
    };
    (r == 0 && st.stx_mask & STATX_MNT_ID != 0).then_some(st.stx_mnt_id)
}

/// Make `/proc/sys` read-only and `/proc/sysrq-trigger` harmless, in a sandbox whose root is
/// the host's root with bounded capabilities (no user namespace): the kernel's settings are the
/// host's there.
pub fn guard_proc() -> Result<(), String> {
    let sys = Path::new("/proc/sys");
    mount(
        Some(sys),
        sys,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| err("cannot bind", sys, e))?;
    set_attr(
        sys,
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        0,
    )?;
    let sysrq = Path::new("/proc/sysrq-trigger");
    if sysrq.exists() {
        mount(
            Some("/dev/null"),
            sysrq,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| err("cannot hide", sysrq, e))?;
    }
    Ok(())
}

/// Build the view. Called once, in a fresh mount namespace, before the user namespace that
/// locks it.
pub fn build(keep: &[Keep], home: &Path, uid: u32) -> Result<(), String> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| err("cannot make private", Path::new("/"), e))?;

    // Take along what is put back after the covering.
    let mut kept: Vec<Keep> = keep
        .iter()
        .filter_map(|k| {
            std::fs::canonicalize(&k.path).ok().map(|path| Keep {
                path,
                write: k.write,
            })
        })
        .collect();
    for p in ALWAYS_KEPT {
        if Path::new(p).is_dir() {
            kept.push(Keep {
                path: PathBuf::from(p),
                write: false,
            });
        }
    }
    // parents first, so a writable directory inside a read-only one stays writable
    kept.sort_by(|a, b| a.path.cmp(&b.path).then(a.write.cmp(&b.write)));
    kept.dedup_by(|b, a| a.path == b.path);
    let mut trees = Vec::new();
    for k in &kept {
        // a single file (the Docker socket) is taken alone
        let dir = k.path.is_dir();
        trees.push((clone_tree(&k.path, dir)?, dir));
    }
    let mut devices = Vec::new();
    for d in DEVICES {
        let p = Path::new("/dev").join(d);
        if p.exists() {
            devices.push((p.clone(), clone_tree(&p, false)?));
        }
    }

    // Everything read-only but /proc (a new proc is mounted over it inside, and the kernel
    // refuses that over a proc it locked read-only).
    set_attr(Path::new("/"), MOUNT_ATTR_RDONLY, 0)?;
    if Path::new("/proc").is_dir() {
        set_attr(Path::new("/proc"), 0, MOUNT_ATTR_RDONLY)?;
    }

    // Fresh, empty places (a home inside /tmp is made on the fresh /tmp first).
    for dir in covered(home) {
        make_dir(&dir)?;
        let mode = if dir == home {
            format!("mode=0700,uid={uid}")
        } else if dir == Path::new("/run") {
            "mode=0755".into()
        } else {
            "mode=1777".into()
        };
        tmpfs(&dir, &mode)?;
    }
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    make_dir(&run_user)?;
    let _ = nix::unistd::chown(&run_user, Some(nix::unistd::Uid::from_raw(uid)), None);
    let _ = std::fs::set_permissions(
        &run_user,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    );

    // A /dev of harmless devices.
    tmpfs(Path::new("/dev"), "mode=0755")?;
    for (p, tree) in &devices {
        make_file(p)?;
        put(tree, p)?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let _ = std::os::unix::fs::symlink(to, Path::new("/dev").join(link));
    }
    let pts = Path::new("/dev/pts");
    make_dir(pts)?;
    mount(
        Some("devpts"),
        pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(|e| err("cannot mount", pts, e))?;
    let shm = Path::new("/dev/shm");
    make_dir(shm)?;
    tmpfs(shm, "mode=1777")?;

    // Put back what is kept.
    for (k, (tree, dir)) in kept.iter().zip(&trees) {
        if *dir {
            make_dir(&k.path)?;
        } else if !k.path.exists() {
            if let Some(parent) = k.path.parent() {
                make_dir(parent)?;
            }
            make_file(&k.path)?;
        }
        put(tree, &k.path)?;
        if k.write {
            set_attr(
                &k.path,
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                MOUNT_ATTR_RDONLY,
            )?;
        } else {
            set_attr(
                &k.path,
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                0,
            )?;
        }
    }
    Ok(())
}
