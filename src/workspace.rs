//! Where a document's runs keep their files, and the locks that keep two runs (or two accepts)
//! of one document from writing over each other.
//!
//! In: a document's directory under `target/labrun/` ([`crate::config::Config::run_dir`]).
//! Out: a [`Workspace`], held for as long as the run lasts: `target/labrun/<key>/` holds the
//! document's `lock`, its `last.jsonl` (replaced atomically) and labrun's kubeconfig; a
//! [`RunDir`] is one run's own `target/labrun/<key>/<run id>/` (its `run.jsonl`, the scratch
//! copy `work/`, the shell's `state/`), created exclusively, so no two runs ever share one even
//! within a second. Older runs are pruned as a new one starts: see [`RUNS_KEPT`].

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Run directories kept per document; of those, only the newest [`SCRATCH_KEPT`] keep their
/// scratch copy, shell state and guard shims (the rest keep their `run.jsonl`).
pub const RUNS_KEPT: usize = 20;
/// Runs whose scratch directory is kept: this run and the one before it.
pub const SCRATCH_KEPT: usize = 2;

/// An exclusive lock on a file (`flock`), released when dropped or when the process dies.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Take the lock at `path`. When another process holds it: wait for it when `wait`,
    /// else [`Error::Busy`] saying who holds it (`what` names what it guards).
    pub fn take(path: &Path, wait: bool, what: &str) -> Result<Lock> {
        use std::io::{Read as _, Seek as _, Write as _};
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        use std::os::unix::fs::OpenOptionsExt as _;
        // never through a link someone planted: truncating or locking its target is not ours
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::io(
                    path,
                    std::io::Error::other(
                        "is a symbolic link; labrun's lock must be a file of its own",
                    ),
                ),
                _ => Error::io(path, e),
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "another labrun".to_string()
                } else {
                    format!("labrun {holder}")
                };
                if !wait {
                    return Err(Error::Busy(format!(
                        "{what} is in use by {holder} (lock {}); wait for it to end, or pass \
                         --wait",
                        path.display()
                    )));
                }
                eprintln!("labrun: waiting for {holder}, which holds {what}");
                file.lock().map_err(|e| Error::io(path, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "pid {}", std::process::id());
        Ok(Lock { _file: file })
    }
}

/// A document's directory under `target/labrun`, locked for one run.
#[derive(Debug)]
pub struct Workspace {
    dir: PathBuf,
    _lock: Lock,
}

impl Workspace {
    /// Lock the document whose directory is `dir` (see [`Lock::take`]).
    pub fn lock(dir: &Path, document: &Path, wait: bool) -> Result<Workspace> {
        let what = format!("the document {}", document.display());
        let lock = Lock::take(&dir.join("lock"), wait, &what)?;
        Ok(Workspace {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The document's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The document's latest run, replaced as each run ends.
    pub fn last(&self) -> PathBuf {
        self.dir.join("last.jsonl")
    }

    /// A new run directory, named after the time (`20261202T045435.123Z`, then `-2`, `-3` …
    /// if that exists); older runs are pruned first.
    pub fn start_run(&self) -> Result<RunDir> {
        self.prune()?;
        let base = crate::run::run_id(std::time::SystemTime::now());
        for n in 1.. {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let dir = self.dir.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(RunDir { id, dir }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
        unreachable!("an unbounded range ends only by returning")
    }

    /// The run directories, oldest first.
    pub fn runs(&self) -> Result<Vec<PathBuf>> {
        let mut runs = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(runs),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_run = name.to_str().is_some_and(|n| {
                n.len() >= 16
                    && n.as_bytes()[8] == b'T'
                    && n[..8].bytes().all(|b| b.is_ascii_digit())
            });
            if is_run && entry.file_type().is_ok_and(|t| t.is_dir()) {
                runs.push(entry.path());
            }
        }
        runs.sort_by_key(|p| run_order(p));
        Ok(runs)
    }

    /// Keep room for one more run: at most [`RUNS_KEPT`] - 1 old runs stay, and only the
    /// newest [`SCRATCH_KEPT`] - 1 of them keep their scratch copy.
    fn prune(&self) -> Result<()> {
        let runs = self.runs()?;
        let n = runs.len();
        for (i, run) in runs.iter().enumerate() {
            let age = n - i; // 1 = the newest old run
            if age >= RUNS_KEPT {
                remove_tree(run)?;
            } else if age >= SCRATCH_KEPT {
                for sub in ["work", "state", "guard"] {
                    remove_tree(&run.join(sub))?;
                }
            }
        }
        Ok(())
    }
}

/// Sort key of a run directory: its time, then its `-N` suffix as a number.
fn run_order(p: &Path) -> (String, u64) {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match name.rsplit_once('-') {
        Some((base, n)) if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() => {
            (base.to_string(), n.parse().unwrap_or(0))
        }
        _ => (name.to_string(), 1),
    }
}

/// Remove a run's directory, never crossing into another filesystem: a directory mounted
/// inside it (a bind mount a step made, had it escaped the sandbox) is left, with a warning,
/// and so are its parents.
fn remove_tree(p: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(p, e)),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(p).map_err(|e| Error::io(p, e));
    }
    remove_within(
        p,
        crate::execute::sandbox::view::mount_id(p).unwrap_or(meta.dev()),
    )?;
    Ok(())
}

/// Remove what `dir` holds on device `dev`, then `dir`; whether all of it went.
fn remove_within(dir: &Path, dev: u64) -> Result<bool> {
    use std::os::unix::fs::MetadataExt as _;
    let mut all = true;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            if crate::execute::sandbox::view::mount_id(&path).unwrap_or(meta.dev()) != dev {
                tracing::warn!(
                    "{}: another filesystem is mounted here; left as it is (unmount it, then \
                     remove the directory)",
                    path.display()
                );
                all = false;
            } else {
                all &= remove_within(&path, dev)?;
            }
        } else {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    if all {
        std::fs::remove_dir(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(all)
}

/// One run's directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub dir: PathBuf,
}

impl RunDir {
    /// The run's record.
    pub fn file(&self) -> PathBuf {
        self.dir.join("run.jsonl")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let doc = Path::new("intro.md");
        let first = Workspace::lock(dir.path(), doc, false).unwrap();
        // flock is per open file: a second open in this process conflicts as another
        // process's would.
        let e = Workspace::lock(dir.path(), doc, false).unwrap_err();
        assert!(matches!(e, Error::Busy(_)), "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("intro.md"), "{text}");
        drop(first);
        Workspace::lock(dir.path(), doc, false).unwrap();
    }

    #[test]
    fn runs_started_in_one_second_get_their_own_directories_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::lock(dir.path(), Path::new("d.md"), false).unwrap();
        let mut ids = Vec::new();
        for _ in 0..RUNS_KEPT + 5 {
            let run = ws.start_run().unwrap();
            std::fs::create_dir_all(run.dir.join("work")).unwrap();
            std::fs::write(run.file(), "").unwrap();
            ids.push(run.id);
        }
        let unique: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        let runs = ws.runs().unwrap();
        assert_eq!(runs.len(), RUNS_KEPT);
        let names: Vec<_> = runs
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ids[ids.len() - RUNS_KEPT..], "newest kept, in order");
        let with_work = runs.iter().filter(|r| r.join("work").exists()).count();
        assert_eq!(with_work, SCRATCH_KEPT);
        assert!(runs.iter().all(|r| r.join("run.jsonl").exists()));
    }
}
