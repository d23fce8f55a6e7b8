//! What labrun reads from disk: every input file read with a cap, checked while reading, and
//! decoded as UTF-8 with the line of the first invalid byte.
//!
//! In: a path and what it is (a document, a run file, a snapshot, the configuration). Out: its
//! text, or an error naming the file (and line) — never gigabytes read from `/dev/zero`, an
//! endless FIFO or a link to one before anything is checked. The caps are the README's
//! ("Limits and safety").

use std::io::{BufRead, Read};
use std::path::Path;

use crate::error::{Error, Result};

const MIB: u64 = 1 << 20;
/// The largest document labrun reads.
pub const DOCUMENT_CAP: u64 = 64 * MIB;
/// The largest snapshot (or pending snapshot).
pub const SNAPSHOT_CAP: u64 = 512 * MIB;
/// The largest `labrun.toml`.
pub const CONFIG_CAP: u64 = MIB;
/// The longest record (one line) of a run file: two capped outputs, JSON-escaped, and more.
pub const RECORD_CAP: u64 = 256 * MIB;
/// The largest run file.
pub const RUN_CAP: u64 = 4096 * MIB;

fn size(bytes: u64) -> String {
    format!("{} MiB", bytes / MIB)
}

/// `path` opened for reading if it is a regular file (after links). A FIFO, a device, a
/// socket or a directory is refused before anything is read: a FIFO with no writer would
/// block forever and a device may never end. The file is opened without blocking, so even
/// opening a FIFO returns at once.
pub fn open(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let kind = file.metadata().map_err(|e| Error::io(path, e))?.file_type();
    let what = if kind.is_file() {
        return Ok(file);
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(Error::input(
        path,
        0,
        format!("{what}: labrun reads regular files only"),
    ))
}

/// The whole of `path`, at most `cap` bytes, as UTF-8.
pub fn read_text(path: &Path, cap: u64, what: &str) -> Result<String> {
    let file = open(path)?;
    // a regular file's size sizes the buffer (read once, not grown and copied); a pipe's is
    // unknown, and the cap bounds it either way
    let known = file
        .metadata()
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map_or(0, |m| m.len().min(cap) as usize);
    let mut bytes = Vec::with_capacity(known + 1);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > cap {
        return Err(Error::input(
            path,
            0,
            format!(
                "larger than {}, the most labrun reads for {what}",
                size(cap)
            ),
        ));
    }
    decode(path, bytes, 1)
}

/// UTF-8, or an error naming the line (counted from `first_line`) of the first invalid byte.
pub fn decode(path: &Path, bytes: Vec<u8>, first_line: usize) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + first_line;
        Error::input(
            path,
            line,
            format!("not valid UTF-8 (byte {valid}); labrun reads UTF-8 only"),
        )
    })
}

/// The lines of a run file, each at most [`RECORD_CAP`] bytes and all of them at most
/// [`RUN_CAP`], handed to `each` (1-based line number, text) as they are read.
pub fn each_line(path: &Path, mut each: impl FnMut(usize, &str) -> Result<()>) -> Result<()> {
    let file = open(path)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let (mut n, mut total) = (0usize, 0u64);
    loop {
        line.clear();
        let read = (&mut reader)
            .take(RECORD_CAP + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(path, e))?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        total += read as u64;
        if line.len() as u64 > RECORD_CAP {
            return Err(Error::input(
                path,
                n,
                format!(
                    "a record longer than {}, the most labrun reads for one",
                    size(RECORD_CAP)
                ),
            ));
        }
        if total > RUN_CAP {
            return Err(Error::input(
                path,
                n,
                format!(
                    "larger than {}, the most labrun reads for a run file",
                    size(RUN_CAP)
                ),
            ));
        }
        let text = std::str::from_utf8(&line).map_err(|e| {
            Error::input(
                path,
                n,
                format!(
                    "not valid UTF-8 (byte {} of the line); labrun reads UTF-8 only",
                    e.valid_up_to()
                ),
            )
        })?;
        // a byte-order mark some editors put first is not part of the first record
        let text = if n == 1 {
            text.trim_start_matches('\u{feff}')
        } else {
            text
        };
        each(n, text.trim_end_matches(['\n', '\r']))?;
        if line.capacity() > 1 << 20 {
            line = Vec::new(); // one long record does not keep its buffer for the rest
        }
    }
}
