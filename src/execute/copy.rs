//! The scratch copy a run starts in: the document's working directory, copied so that nothing
//! in the copy leads back into the sources.
//!
//! In: the directory to copy and where to put the copy. Out: the copy, and what was left out
//! (one warning each). Regular files are copied by the kernel: a reflink where the filesystem
//! offers one, else the data ranges only (`SEEK_DATA` / `SEEK_HOLE` and `copy_file_range`),
//! so a sparse file stays sparse and no file passes through labrun's memory. A symbolic link
//! into the tree becomes a relative link inside the copy; one that leads out of the tree is
//! left out (the sandbox shows the sources read-only anyway), a dangling one quietly. FIFOs,
//! devices and sockets are never opened: left out, and listed. `.git` and `target` are not
//! copied, nor the copy itself when it lies inside the tree.

use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Directories deeper than this are left out (a chain a thousand deep is not a tutorial's).
pub const MAX_DEPTH: usize = 128;

/// Names never copied.
const LEFT_OUT: &[&str] = &[".git", "target"];

/// Copy `from` into a new directory `to`; the warnings, one per thing left out.
pub fn copy_tree(from: &Path, to: &Path) -> Result<Vec<String>> {
    let root = std::fs::canonicalize(from).map_err(|e| Error::io(from, e))?;
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let dest = std::fs::metadata(to).map_err(|e| Error::io(to, e))?;
    let dest_id = (dest.dev(), dest.ino());
    let mut warnings = Vec::new();
    let mut stack = vec![(root.clone(), to.to_path_buf(), 0usize)];
    while let Some((src_dir, dst_dir, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&src_dir).map_err(|e| Error::io(&src_dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&src_dir, e))?;
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| LEFT_OUT.contains(&n)) {
                continue;
            }
            let (src, dst) = (entry.path(), dst_dir.join(&name));
            let meta = std::fs::symlink_metadata(&src).map_err(|e| Error::io(&src, e))?;
            let ft = meta.file_type();
            if ft.is_symlink() {
                link(&root, to, &src, &dst, &mut warnings)?;
            } else if ft.is_dir() {
                if (meta.dev(), meta.ino()) == dest_id {
                    continue; // the copy itself, inside the tree
                }
                if depth + 1 > MAX_DEPTH {
                    warnings.push(format!(
                        "{}: more than {MAX_DEPTH} directories deep, left out of the scratch copy",
                        src.display()
                    ));
                    continue;
                }
                std::fs::create_dir(&dst).map_err(|e| Error::io(&dst, e))?;
                let _ = std::fs::set_permissions(
                    &dst,
                    std::fs::Permissions::from_mode(meta.mode() & 0o7777 | 0o700),
                );
                stack.push((src, dst, depth + 1));
            } else if ft.is_file() {
                copy_file(&src, &dst, &meta)?;
            } else {
                let what = if ft.is_fifo() {
                    "a FIFO"
                } else if ft.is_socket() {
                    "a socket"
                } else if ft.is_char_device() || ft.is_block_device() {
                    "a device"
                } else {
                    "a special file"
                };
                warnings.push(format!(
                    "{}: {what}, left out of the scratch copy",
                    src.display()
                ));
            }
        }
    }
    Ok(warnings)
}

/// Recreate the link `src` at `dst`: relative, inside the copy, when it leads into the tree.
fn link(root: &Path, to: &Path, src: &Path, dst: &Path, warnings: &mut Vec<String>) -> Result<()> {
    let Ok(target) = std::fs::canonicalize(src) else {
        return Ok(()); // dangling (an editor's lock file)
    };
    let Ok(inside) = target.strip_prefix(root) else {
        warnings.push(format!(
            "{} points outside the directory being copied ({}): left out of the scratch copy",
            src.display(),
            target.display()
        ));
        return Ok(());
    };
    let from = dst.parent().unwrap_or(to);
    let rel = relative(from.strip_prefix(to).unwrap_or(Path::new("")), inside);
    std::os::unix::fs::symlink(&rel, dst).map_err(|e| Error::io(dst, e))
}

/// The path from directory `from` to `target`, both relative to the same root.
fn relative(from: &Path, target: &Path) -> PathBuf {
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = target.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Copy one regular file by the kernel, keeping its holes and its mode.
fn copy_file(src: &Path, dst: &Path, meta: &std::fs::Metadata) -> Result<()> {
    let input = File::open(src).map_err(|e| Error::io(src, e))?;
    let output = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dst)
        .map_err(|e| Error::io(dst, e))?;
    let _ = output.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777));
    // SAFETY: FICLONE takes the source descriptor as its argument; both are open files.
    let cloned = unsafe { libc::ioctl(output.as_raw_fd(), libc::FICLONE, input.as_raw_fd()) } == 0;
    if cloned {
        return Ok(());
    }
    let len = meta.len() as i64;
    let mut at: i64 = 0;
    use nix::unistd::{Whence, lseek};
    while at < len {
        let data = match lseek(&input, at, Whence::SeekData) {
            Ok(d) => d,
            Err(nix::Error::ENXIO) => break, // only a hole is left
            Err(_) => at,                    // no SEEK_DATA here: copy from where we are
        };
        let end = lseek(&input, data, Whence::SeekHole)
            .unwrap_or(len)
            .min(len);
        let mut off_in = data;
        let mut off_out = data;
        while off_in < end {
            let want = (end - off_in) as usize;
            let n = nix::fcntl::copy_file_range(
                &input,
                Some(&mut off_in),
                &output,
                Some(&mut off_out),
                want,
            );
            match n {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => {
                    // refused here (another filesystem): the rest through a buffer
                    fallback(&input, &output, off_in, len).map_err(|e| Error::io(src, e))?;
                    return output.set_len(len as u64).map_err(|e| Error::io(dst, e));
                }
            }
        }
        at = end;
    }
    output.set_len(len as u64).map_err(|e| Error::io(dst, e))
}

/// Copy `[from, to)` through a small buffer (where `copy_file_range` is refused).
fn fallback(input: &File, output: &File, from: i64, to: i64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = from as u64;
    while at < to as u64 {
        let want = buf.len().min((to as u64 - at) as usize);
        let n = input.read_at(&mut buf[..want], at)?;
        if n == 0 {
            break;
        }
        output.write_all_at(&buf[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_climb_to_the_common_parent() {
        assert_eq!(
            relative(Path::new("a/b"), Path::new("a/c/f")),
            PathBuf::from("../c/f")
        );
        assert_eq!(relative(Path::new(""), Path::new("f")), PathBuf::from("f"));
        assert_eq!(relative(Path::new("a"), Path::new("")), PathBuf::from(".."));
    }
}
