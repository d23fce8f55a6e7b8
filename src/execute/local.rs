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
        Ok(Local { shell, scratch })
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
}

/// Copy a directory's regular files and subdirectories (symlinks copied as what they point
/// to; nothing else), leaving out `.git` and whatever holds the destination.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::metadata(&src).map_err(|e| Error::io(&src, e))?;
        // Never copy the scratch directory into itself (a document beside its `target/`).
        let inside = std::fs::canonicalize(&src)
            .ok()
            .zip(std::fs::canonicalize(to).ok())
            .is_some_and(|(s, t)| t.starts_with(s));
        if inside || entry.file_name() == ".git" {
            continue;
        }
        if meta.is_dir() {
            copy_tree(&src, &dst)?;
        } else if meta.is_file() {
            std::fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
        }
    }
    Ok(())
}
