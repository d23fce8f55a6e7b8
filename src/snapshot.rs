//! Stage 5, snapshot: the accepted, normalized output of every step, one reviewable text file
//! per document.
//!
//! In/out: `snapshots/<document path>.snap` (the path relative to the project, extension
//! dropped: see [`crate::config::Config::key`]). A header names the document and, when a live
//! run is kept beside the snapshot (`<path>.run.jsonl`), that run's SHA-256: the two are one
//! unit, and a reader that finds them from different accepts says so. Each entry starts with `=== <step id>`, carries a
//! small header (`command:`, `origin:`, `exit:`) and the normalized output, one `| ` line per
//! output line. `origin: run` entries were observed by a live run; `origin: document` entries
//! were seeded from the printed text and are *not yet verified*. Pending entries from a
//! failing check go to `<stem>.snap.new` (never when `CI` is set) for `labrun review`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::record::write_through;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub command: String,
    /// `run` (observed by a live run), `document` or `simulated` (not yet verified).
    pub origin: String,
    pub exit: i32,
    /// Normalized output lines, placeholders numbered.
    pub lines: Vec<String>,
}

impl Entry {
    pub fn verified(&self) -> bool {
        self.origin == "run"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub document: String,
    /// `sha256:<hex>` of the live run kept beside the snapshot, when there is one.
    pub run: Option<String>,
    /// Entries by step id, in file order.
    pub entries: Vec<(String, Entry)>,
}

impl Snapshot {
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|(i, _)| i == id).map(|(_, e)| e)
    }

    /// Insert or replace, keeping `order` (the document's step order) for new ids.
    pub fn put(&mut self, id: &str, entry: Entry, order: &[String]) {
        if let Some(slot) = self.entries.iter_mut().find(|(i, _)| i == id) {
            slot.1 = entry;
            return;
        }
        self.entries.push((id.to_string(), entry));
        let rank: BTreeMap<&str, usize> = order
            .iter()
            .enumerate()
            .map(|(n, i)| (i.as_str(), n))
            .collect();
        self.entries
            .sort_by_key(|(i, _)| rank.get(i.as_str()).copied().unwrap_or(usize::MAX));
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        s.push_str("# labrun snapshot: accepted outputs of each step, normalized.\n");
        let _ = writeln!(s, "# document: {}", self.document);
        if let Some(run) = &self.run {
            let _ = writeln!(s, "# run: {run}");
        }
        for (id, e) in &self.entries {
            let _ = writeln!(s, "\n=== {id}");
            for (n, line) in e.command.lines().enumerate() {
                let _ = writeln!(
                    s,
                    "{}{line}",
                    if n == 0 { "command: " } else { "command+ " }
                );
            }
            let origin = if e.verified() {
                e.origin.clone()
            } else {
                format!("{} (not yet verified)", e.origin)
            };
            let _ = writeln!(s, "origin: {origin}");
            let _ = writeln!(s, "exit: {}", e.exit);
            for l in &e.lines {
                if l.is_empty() {
                    s.push_str("|\n");
                } else {
                    let _ = writeln!(s, "| {l}");
                }
            }
        }
        s
    }

    pub fn parse(path: &Path, text: &str) -> Result<Snapshot> {
        let mut snap = Snapshot::default();
        let mut current: Option<(String, Entry)> = None;
        let bad = |n: usize, m: &str| Error::input(path, n + 1, format!("snapshot: {m}"));
        for (n, line) in text.lines().enumerate() {
            if let Some(id) = line.strip_prefix("=== ") {
                if let Some(done) = current.take() {
                    snap.entries.push(done);
                }
                let id = id.trim();
                if id.is_empty() || snap.get(id).is_some() {
                    return Err(bad(n, "missing or repeated step id"));
                }
                current = Some((
                    id.to_string(),
                    Entry {
                        command: String::new(),
                        origin: String::new(),
                        exit: 0,
                        lines: Vec::new(),
                    },
                ));
                continue;
            }
            if current.is_none()
                && let Some(doc) = line.strip_prefix("# document: ")
            {
                snap.document = doc.to_string();
                continue;
            }
            if current.is_none()
                && let Some(run) = line.strip_prefix("# run: ")
            {
                snap.run = Some(run.trim().to_string());
                continue;
            }
            if line.starts_with('#') && current.is_none() || line.trim().is_empty() {
                continue;
            }
            let Some((_, entry)) = current.as_mut() else {
                return Err(bad(
                    n,
                    "text outside an entry (entries start with `=== <step id>`)",
                ));
            };
            if line == "|" {
                entry.lines.push(String::new());
            } else if let Some(l) = line.strip_prefix("| ") {
                entry.lines.push(l.to_string());
            } else if !entry.lines.is_empty() {
                return Err(bad(n, "output lines must start with `| `"));
            } else if let Some(c) = line.strip_prefix("command: ") {
                entry.command = c.to_string();
            } else if let Some(c) = line.strip_prefix("command+ ") {
                entry.command.push('\n');
                entry.command.push_str(c);
            } else if let Some(o) = line.strip_prefix("origin: ") {
                entry.origin = o.trim_end_matches(" (not yet verified)").to_string();
            } else if let Some(x) = line.strip_prefix("exit: ") {
                entry.exit = x
                    .trim()
                    .parse()
                    .map_err(|_| bad(n, "exit is not an integer"))?;
            } else {
                return Err(bad(n, &format!("unknown line `{line}`")));
            }
        }
        if let Some(done) = current.take() {
            snap.entries.push(done);
        }
        Ok(snap)
    }
}

/// The document a snapshot file's header names, read from its first lines only.
pub fn document_named(path: &Path) -> Option<String> {
    use std::io::{BufRead as _, Read as _};
    let file = crate::input::open(path).ok()?;
    std::io::BufReader::new(file)
        .take(64 * 1024)
        .lines()
        .take(4)
        .map_while(|l| l.ok())
        .find_map(|l| l.strip_prefix("# document: ").map(str::to_string))
}

/// `sha256:<hex>` of a file's bytes: how a snapshot names the run kept beside it.
pub fn digest_of(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(bytes);
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// [`digest_of`] a file, read in chunks.
pub fn digest_file(path: &Path) -> Result<String> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let mut file = crate::input::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut chunk).map_err(|e| Error::io(path, e))? {
            0 => break,
            n => hasher.update(&chunk[..n]),
        }
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("sha256:{hex}"))
}

/// Where the live run accepted with a snapshot is kept: `<path>.run.jsonl` beside it.
pub fn committed_run(snapshot_path: &Path) -> PathBuf {
    snapshot_path.with_extension("run.jsonl")
}

/// The run kept beside `snapshot_path`, checked against the digest the snapshot names: an
/// accept interrupted between its two writes, or two accepts racing, leave a pair a reader
/// must not trust. `None` when no run is kept.
pub fn committed_run_checked(
    snapshot_path: &Path,
    snap: Option<&Snapshot>,
) -> Result<Option<PathBuf>> {
    let run = committed_run(snapshot_path);
    if !run.is_file() {
        return Ok(None);
    }
    let Some(named) = snap.and_then(|s| s.run.as_deref()) else {
        // A snapshot from before runs were named, or none: nothing to hold the run to.
        return Ok(Some(run));
    };
    let found = digest_file(&run)?;
    if found != named {
        return Err(Error::input(
            snapshot_path,
            0,
            format!(
                "the snapshot names the run {named} but {} is {found}: they come from different \
                 accepts (one was interrupted, or two raced); accept the run again",
                run.display()
            ),
        ));
    }
    Ok(Some(run))
}

/// The pending file beside a snapshot.
pub fn pending_path(snap: &Path) -> PathBuf {
    let mut p = snap.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

/// Load a snapshot file, or an empty one when there is none.
pub fn load(path: &Path) -> Result<Option<Snapshot>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::input::read_text(path, crate::input::SNAPSHOT_CAP, "a snapshot")?;
    Snapshot::parse(path, &text).map(Some)
}

/// Save atomically.
pub fn save(path: &Path, snap: &Snapshot) -> Result<()> {
    write_through(path, snap.to_text().as_bytes())
}

/// Whether pending files may be written: never in CI.
pub fn may_write_pending() -> bool {
    std::env::var_os("CI").is_none_or(|v| v.is_empty() || v == "false" || v == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(lines: &[&str]) -> Entry {
        Entry {
            command: "kubectl get pods\n  -o wide".into(),
            origin: "document".into(),
            exit: 0,
            lines: lines.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn round_trips_and_marks_unverified() {
        let mut s = Snapshot {
            document: "lab.adoc".into(),
            ..Default::default()
        };
        let order = vec!["a/1".to_string(), "a/2".to_string()];
        s.put("a/2", entry(&["x <IP1>", "", "| not a marker"]), &order);
        s.put("a/1", entry(&[]), &order);
        let text = s.to_text();
        assert!(text.contains("origin: document (not yet verified)"));
        assert!(text.find("=== a/1").unwrap() < text.find("=== a/2").unwrap());
        assert_eq!(Snapshot::parse(Path::new("s"), &text).unwrap(), s);
    }

    #[test]
    fn nonsense_is_an_error_with_a_line() {
        let e = Snapshot::parse(Path::new("s.snap"), "=== a/1\ncommand: x\nexit: zero\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.snap:3:"), "{e}");
        let e = Snapshot::parse(Path::new("s.snap"), "hello\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.snap:1:"), "{e}");
    }
}
