//! The local backend: the steps run on this machine, in a scratch directory that starts as a
//! copy of the document's working directory (so a run never writes into the sources).
//!
//! In: the working directory to copy and where to put the scratch copy. Out: a [`Backend`]
//! whose session starts there. Network isolation (`--netns`) is process-wide and entered
//! before the runtime starts: see [`super::netns`].

use std::path::{Path, PathBuf};

use super::{Backend, Shell};
use crate::error::{Error, Result};

pub struct Local {
    shell: Shell,
    scratch: PathBuf,
    versions: serde_json::Value,
}

impl Local {
    /// A fresh scratch directory `<out>/work` holding a copy of `workdir`; the shell's state
    /// under `<out>/state`.
    pub fn new(workdir: &Path, out: &Path, cap: usize) -> Result<Local> {
        let scratch = out.join("work");
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
        }
        copy_tree(workdir, &scratch)?;
        let shell = Shell::new(&out.join("state"), &scratch)?.with_cap(cap);
        Ok(Local {
            shell,
            scratch,
            versions: versions(),
        })
    }

    pub fn shell_mut(&mut self) -> &mut Shell {
        &mut self.shell
    }

    pub fn scratch(&self) -> &Path {
        &self.scratch
    }
}

impl Backend for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn shell(&self) -> &Shell {
        &self.shell
    }

    /// The local backend never lets a step reach a cluster: it cannot see which cluster the
    /// user's current context names, and a tutorial's `kubectl delete` must not reach one that
    /// is not a kind cluster of the run's own.
    async fn before(&mut self, command: &str) -> Result<super::Admit> {
        if crate::policy::reaches_clusters(command) {
            return Err(Error::Environment(format!(
                "refusing to run `{}` with the local backend: it talks to a Kubernetes cluster \
                 (or manages kind clusters), and only the kind backend (--backend kind) checks \
                 that the cluster is a kind cluster of the run's own",
                command.lines().next().unwrap_or(command)
            )));
        }
        Ok(super::Admit::Run)
    }

    fn versions(&self) -> Option<serde_json::Value> {
        Some(self.versions.clone())
    }
}

/// What the steps ran on: the kernel, and bash and iproute2 when present.
fn versions() -> serde_json::Value {
    let first_line = |program: &str, arg: &str| {
        std::process::Command::new(program)
            .arg(arg)
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(|l| l.trim().to_string())
            })
            .filter(|l| !l.is_empty())
    };
    let mut v = serde_json::Map::new();
    if let Ok(k) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        v.insert("linux".into(), k.trim().into());
    }
    if let Some(b) = first_line("bash", "--version") {
        v.insert("bash".into(), b.into());
    }
    if let Some(ip) = first_line("ip", "-V") {
        v.insert("iproute2".into(), ip.into());
    }
    serde_json::Value::Object(v)
}

/// Copy a directory's regular files and subdirectories, leaving out `.git`, build outputs
/// (`target`) and whatever holds the destination. A symbolic link is copied as a link when it
/// points inside the tree being copied (a directory link is never followed, so `self -> .`
/// cannot recurse); a link that points outside the tree (`/etc/ssh`) is left out with a
/// warning, and a dangling one (an editor's `.#doc.md` lock) is left out quietly.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let root = std::fs::canonicalize(from).map_err(|e| Error::io(from, e))?;
    copy_dir(&root, from, to)
}

fn copy_dir(root: &Path, from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&src).map_err(|e| Error::io(&src, e))?;
        if entry.file_name() == ".git" || entry.file_name() == "target" {
            continue;
        }
        if meta.file_type().is_symlink() {
            let Ok(target) = std::fs::canonicalize(&src) else {
                continue; // dangling
            };
            if !target.starts_with(root) {
                tracing::warn!(
                    "{} points outside the directory being copied ({}): left out of the scratch copy",
                    src.display(),
                    target.display()
                );
                continue;
            }
            let link = std::fs::read_link(&src).map_err(|e| Error::io(&src, e))?;
            std::os::unix::fs::symlink(&link, &dst).map_err(|e| Error::io(&dst, e))?;
            continue;
        }
        // Never copy the scratch directory into itself (a document beside its `target/`).
        let inside = std::fs::canonicalize(&src)
            .ok()
            .zip(std::fs::canonicalize(to).ok())
            .is_some_and(|(s, t)| t.starts_with(s));
        if inside {
            continue;
        }
        if meta.is_dir() {
            copy_dir(root, &src, &dst)?;
        } else if meta.is_file() {
            std::fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
        }
    }
    Ok(())
}
