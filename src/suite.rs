//! Many documents in one run: which documents, which of them this shard runs, which are
//! unchanged since their last passing run, and the report of them all.
//!
//! In: the paths given to `labrun run` (documents, directories, books), a partition
//! (`count:K/N`, `hash:K/N`), each document's inputs. Out: the ordered list of documents,
//! the shard's share of it, an inputs digest per document (and the one recorded at its last
//! passing run), and [`SuiteReport`]: one [`DocReport`] per document — serialisable both ways,
//! so `labrun report merge` can combine the reports of several shards into the one an
//! unsharded run would have printed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::{Report, Status, Summary};
use crate::error::{Error, Result};

/// The documents `paths` name, in order: a file is itself; a directory holding `book.toml`
/// is its book's chapters in `SUMMARY.md` order; another directory is every `.md` and
/// `.adoc` file under it (but `SUMMARY.md`), sorted by path. A document named twice runs
/// once, where it was first named.
pub fn documents(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        let found = if p.is_dir() {
            if p.join("book.toml").is_file() {
                chapters(p)?
            } else {
                let mut files = Vec::new();
                walk(p, &mut files)?;
                files.sort();
                files
            }
        } else if p.exists() {
            vec![p.clone()]
        } else {
            return Err(Error::input(p, 0, "no such document or directory"));
        };
        if found.is_empty() && p.is_dir() {
            let looked = if p.join("book.toml").is_file() {
                "no chapter: its SUMMARY.md links no file"
            } else {
                "no document here: labrun looked for .md, .adoc and .asciidoc files (not SUMMARY.md, not under target/ or hidden directories)"
            };
            return Err(Error::input(p, 0, looked));
        }
        for f in found {
            let canon = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
            if seen.insert(canon) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

fn is_document(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("md" | "adoc" | "asciidoc")
    ) && p.file_name().is_some_and(|n| n != "SUMMARY.md")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if kind.is_dir() && !hidden && entry.file_name() != "target" {
            walk(&path, out)?;
        } else if kind.is_file() && is_document(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// A book's chapters: the links of its `SUMMARY.md` (under `src`, or book.toml's
/// `[book] src`), in order; draft chapters (an empty link) have no file and are left out.
pub fn chapters(book: &Path) -> Result<Vec<PathBuf>> {
    let toml_path = book.join("book.toml");
    let text = crate::input::read_text(&toml_path, crate::input::CONFIG_CAP, "book.toml")?;
    let value: toml::Value =
        toml::from_str(&text).map_err(|e| Error::input(&toml_path, 0, e.message().to_string()))?;
    let src = value
        .get("book")
        .and_then(|b| b.get("src"))
        .and_then(|s| s.as_str())
        .unwrap_or("src");
    let summary = book.join(src).join("SUMMARY.md");
    let text = crate::input::read_text(&summary, crate::input::DOCUMENT_CAP, "a SUMMARY.md")?;
    let mut out = Vec::new();
    for (event, range) in pulldown_cmark::Parser::new(&text).into_offset_iter() {
        if let pulldown_cmark::Event::Start(pulldown_cmark::Tag::Link { dest_url, .. }) = event
            && !dest_url.is_empty()
            && !dest_url.contains("://")
        {
            let line = text[..range.start].matches('\n').count() + 1;
            let file = dest_url.split('#').next().unwrap_or("");
            let path = crate::render::confine::chapter(&summary, &book.join(src), file, line)?;
            if !path.is_file() {
                return Err(Error::input(
                    &summary,
                    line,
                    format!("chapter `{file}` does not exist"),
                ));
            }
            out.push(path);
        }
    }
    Ok(out)
}

/// Which shard of a CI matrix runs which documents (cargo-nextest's syntax and meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// Every N-th document, starting with the K-th (1-based).
    Count { k: usize, n: usize },
    /// The documents whose name hashes to K modulo N: a document keeps its shard as others
    /// come and go.
    Hash { k: usize, n: usize },
}

impl Partition {
    /// `count:K/N` or `hash:K/N`, 1 ≤ K ≤ N.
    pub fn parse(text: &str) -> std::result::Result<Partition, String> {
        let bad = || format!("`{text}`: expected count:K/N or hash:K/N with 1 <= K <= N");
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        let (k, n) = rest.split_once('/').ok_or_else(bad)?;
        let (k, n): (usize, usize) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        match kind {
            "count" => Ok(Partition::Count { k, n }),
            "hash" => Ok(Partition::Hash { k, n }),
            _ => Err(bad()),
        }
    }

    /// Whether the document at `index` of the whole list, named `name` (its path in the
    /// project), belongs to this shard.
    pub fn holds(&self, index: usize, name: &str) -> bool {
        match *self {
            Partition::Count { k, n } => index % n == k - 1,
            Partition::Hash { k, n } => {
                use sha2::Digest as _;
                let d = sha2::Sha256::digest(name.as_bytes());
                let h = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
                (h % n as u64) as usize == k - 1
            }
        }
    }
}

/// Files of the working directory up to this size count by their content in the inputs'
/// digest; larger ones by their size and modification time (a 2 GB disk image is not read
/// whole before every run: reading it took longer than the copy the kernel makes of it).
const BY_CONTENT: u64 = 16 * 1024 * 1024;

/// The SHA-256 of everything a document's run depends on: the document's bytes, its
/// `labrun.toml`, its snapshot and the run kept beside it, every file of its workdir (paths
/// and bytes, in order; links as their targets) but other documents (`.md`, `.adoc`: a
/// chapter's edit re-runs that chapter only), the snapshot directory and `target/`, and
/// labrun's version.
pub fn inputs_digest(lab: &crate::lab::Lab) -> Result<String> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let file = |h: &mut sha2::Sha256, label: &str, path: &Path| -> Result<()> {
        use std::os::unix::fs::MetadataExt as _;
        h.update(label.as_bytes());
        h.update([0]);
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                h.update(b"absent");
                return Ok(());
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        h.update(meta.len().to_be_bytes());
        if !meta.is_file() {
            // a FIFO or a device is never read (it could block, or never end)
            h.update(b"special");
        } else if meta.len() > BY_CONTENT {
            h.update(meta.mtime().to_be_bytes());
            h.update(meta.mtime_nsec().to_be_bytes());
        } else {
            use std::io::Read as _;
            let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match f.read(&mut buf).map_err(|e| Error::io(path, e))? {
                    0 => break,
                    n => h.update(&buf[..n]),
                }
            }
        }
        Ok(())
    };
    file(&mut h, "document", &lab.doc.path)?;
    file(&mut h, "config", &lab.config.root.join("labrun.toml"))?;
    file(&mut h, "snapshot", &lab.snapshot_path)?;
    file(
        &mut h,
        "kept run",
        &crate::snapshot::committed_run(&lab.snapshot_path),
    )?;
    let workdir = lab.config.workdir(&lab.doc.path);
    let mut files = Vec::new();
    let skip = std::fs::metadata(lab.config.snapshot_dir()).ok().map(|m| {
        use std::os::unix::fs::MetadataExt as _;
        (m.dev(), m.ino())
    });
    workdir_files(&workdir, &workdir, skip, 0, &mut files)?;
    files.sort();
    for (rel, path) in files {
        match std::fs::read_link(&path) {
            Ok(target) => {
                h.update(b"link\0");
                h.update(rel.as_bytes());
                h.update(target.as_os_str().as_encoded_bytes());
            }
            Err(_) => file(&mut h, &format!("workdir/{rel}"), &path)?,
        }
    }
    h.update(b"labrun\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

/// The files of the working directory that a run's copy holds (the same depth; the snapshot
/// directory, by its device and inode, and other documents left out).
fn workdir_files(
    root: &Path,
    dir: &Path,
    skip: Option<(u64, u64)>,
    depth: usize,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if (entry.file_name() == "target" || entry.file_name() == ".git") && dir == root {
            continue; // labrun's own output, when the workdir is the project; not copied either
        }
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if kind.is_dir() {
            let id = entry.metadata().ok().map(|m| (m.dev(), m.ino()));
            if depth < crate::execute::copy::MAX_DEPTH && (skip.is_none() || id != skip) {
                workdir_files(root, &path, skip, depth + 1, out)?;
            }
        } else if !is_document(&path) {
            out.push((rel, path));
        }
    }
    Ok(())
}

/// What a document's last passing run recorded: `target/labrun/<document>/passed.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passed {
    pub inputs: String,
    pub run: String,
}

/// The record of the last passing run in the document's directory, if any (an unreadable
/// one counts as none: the document runs).
pub fn last_pass(document_dir: &Path) -> Option<Passed> {
    let path = document_dir.join("passed.json");
    let text = crate::input::read_text(&path, crate::input::CONFIG_CAP, "passed.json").ok()?;
    serde_json::from_str(&text).ok()
}

/// Record a passing run.
pub fn record_pass(document_dir: &Path, passed: &Passed) -> Result<()> {
    let text = serde_json::to_string(passed).expect("serialises");
    crate::record::write_atomic(&document_dir.join("passed.json"), text.as_bytes())
}

/// How a document's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    Failed,
    /// labrun could not run or check it (bad input, a missing program, a refusal).
    Error,
    Interrupted,
    /// Skipped by `--changed`: its inputs are those of its last passing run.
    Unchanged,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Interrupted => "interrupted",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// One step of a document's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    pub id: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(default)]
    pub section: String,
    #[serde(default)]
    pub line: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries: Option<u32>,
}

/// A document's report, in the form shards exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocReport {
    /// The document's path as it was named.
    pub document: String,
    /// Its place in the whole list of documents (before partitioning).
    pub index: usize,
    pub outcome: Outcome,
    pub exit_code: u8,
    #[serde(default)]
    pub duration_ms: u64,
    /// What labrun said when it could not run the document; the run it was unchanged since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepReport>,
    #[serde(default)]
    pub summary: Summary,
    #[serde(default)]
    pub stale: Vec<String>,
    #[serde(default)]
    pub doc_drift: Vec<Drift>,
}

/// A step whose printed output disagrees with its accepted snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub id: String,
    pub message: String,
}

impl DocReport {
    /// A checked document's report.
    pub fn of(report: &Report, document: &str, index: usize, strict: bool) -> DocReport {
        let failed = report.failed(strict);
        DocReport {
            document: document.to_string(),
            index,
            outcome: if failed {
                Outcome::Failed
            } else {
                Outcome::Passed
            },
            exit_code: if failed { 1 } else { 0 },
            duration_ms: 0,
            message: None,
            steps: report
                .verdicts
                .iter()
                .map(|v| StepReport {
                    id: v.id.clone(),
                    status: v.status,
                    reason: v.reason.clone(),
                    diff: v.diff.clone(),
                    section: v.section.clone(),
                    line: v.line,
                    executed: v.executed.clone(),
                    tries: v.tries,
                })
                .collect(),
            summary: report.summary(),
            stale: report.stale.clone(),
            doc_drift: report
                .doc_drift
                .iter()
                .map(|(id, message)| Drift {
                    id: id.clone(),
                    message: message.clone(),
                })
                .collect(),
        }
    }

    /// A document with no report of its own: an error, an interruption before any check, or
    /// unchanged.
    pub fn without_steps(
        document: &str,
        index: usize,
        outcome: Outcome,
        exit_code: u8,
        message: String,
    ) -> DocReport {
        DocReport {
            document: document.to_string(),
            index,
            outcome,
            exit_code,
            duration_ms: 0,
            message: Some(message),
            steps: Vec::new(),
            summary: Summary::default(),
            stale: Vec::new(),
            doc_drift: Vec::new(),
        }
    }
}

/// The report of a run of many documents (or of several shards, merged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteReport {
    pub documents: Vec<DocReport>,
    pub summary: SuiteSummary,
}

/// Totals over documents and their steps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteSummary {
    pub documents: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub interrupted: usize,
    pub unchanged: usize,
    pub steps: Summary,
    #[serde(default)]
    pub duration_ms: u64,
}

impl SuiteReport {
    /// The documents in the order of the whole list, totals recomputed.
    pub fn new(mut documents: Vec<DocReport>) -> SuiteReport {
        documents.sort_by_key(|d| d.index);
        let mut s = SuiteSummary {
            documents: documents.len(),
            ..Default::default()
        };
        for d in &documents {
            match d.outcome {
                Outcome::Passed => s.passed += 1,
                Outcome::Failed => s.failed += 1,
                Outcome::Error => s.errors += 1,
                Outcome::Interrupted => s.interrupted += 1,
                Outcome::Unchanged => s.unchanged += 1,
            }
            s.steps.pass += d.summary.pass;
            s.steps.fail += d.summary.fail;
            s.steps.skip += d.summary.skip;
            s.steps.not_run += d.summary.not_run;
            s.steps.unverified += d.summary.unverified;
            s.duration_ms += d.duration_ms;
        }
        SuiteReport {
            documents,
            summary: s,
        }
    }

    /// Merge the reports of shards: every document once (a document in two reports is an
    /// error: the shards overlapped).
    pub fn merge(reports: Vec<(PathBuf, SuiteReport)>) -> Result<SuiteReport> {
        let mut all: Vec<DocReport> = Vec::new();
        let mut seen: std::collections::HashMap<String, PathBuf> = Default::default();
        for (file, r) in reports {
            for d in r.documents {
                if let Some(first) = seen.insert(d.document.clone(), file.clone()) {
                    return Err(Error::input(
                        &file,
                        0,
                        format!(
                            "{} is reported here and in {}: the shards overlap",
                            d.document,
                            first.display()
                        ),
                    ));
                }
                all.push(d);
            }
        }
        Ok(SuiteReport::new(all))
    }

    /// The exit code of the whole run: 130/129 when interrupted; else the first error's code
    /// (2 to 5); else 1 when a document failed; else 0.
    pub fn exit_code(&self) -> u8 {
        let by = |o: Outcome| self.documents.iter().find(|d| d.outcome == o);
        if let Some(d) = by(Outcome::Interrupted) {
            return d.exit_code;
        }
        if let Some(d) = by(Outcome::Error) {
            return d.exit_code;
        }
        if by(Outcome::Failed).is_some() {
            return 1;
        }
        0
    }
}

/// Read a report file `labrun run … --format json` wrote (many documents, or one), checked:
/// a field that is missing or of the wrong kind is named by its path
/// (`documents[2].exit_code`), each document's exit code must be one its outcome gives, and
/// the totals must be those of its documents (a report edited or cut short is refused).
pub fn read_report(path: &Path) -> Result<SuiteReport> {
    let text = crate::input::read_text(path, crate::input::RUN_CAP, "a report")?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut de = serde_json::Deserializer::from_str(text);
    let report: SuiteReport = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let line = e.inner().line();
        let at = e.path().to_string();
        let at = if at == "." {
            String::new()
        } else {
            format!(" at `{at}`")
        };
        Error::input(
            path,
            line,
            format!(
                "not a labrun report of many documents{at}: {}",
                e.into_inner()
            ),
        )
    })?;
    let bad = |why: String| {
        Err(Error::input(
            path,
            0,
            format!("not a report labrun wrote: {why}"),
        ))
    };
    for (i, d) in report.documents.iter().enumerate() {
        let fits = match d.outcome {
            Outcome::Passed | Outcome::Unchanged => d.exit_code == 0,
            Outcome::Failed => d.exit_code == 1,
            Outcome::Error => (2..=5).contains(&d.exit_code),
            Outcome::Interrupted => matches!(d.exit_code, 129 | 130),
        };
        if !fits {
            return bad(format!(
                "`documents[{i}]` ({}) is {} with exit code {}",
                d.document,
                d.outcome.label(),
                d.exit_code
            ));
        }
    }
    let totals = SuiteReport::new(report.documents.clone()).summary;
    let told = SuiteSummary {
        duration_ms: totals.duration_ms,
        ..report.summary.clone()
    };
    if told != totals {
        return bad(format!(
            "its `summary` does not add up to its documents ({} documents, {} passed, {} \
             failed, {} steps passed, {} failed; the documents say {}, {}, {}, {}, {})",
            told.documents,
            told.passed,
            told.failed,
            told.steps.pass,
            told.steps.fail,
            totals.documents,
            totals.passed,
            totals.failed,
            totals.steps.pass,
            totals.steps.fail
        ));
    }
    Ok(report)
}

/// A kind cluster name for a document run beside others: `labrun-` and the document's name
/// in the project, lowercased, other characters as `-`, at most 40 characters (a digest of
/// the whole name when longer): kind prefixes node names and contexts with it.
pub fn cluster_name(key: &Path) -> String {
    let raw = key.to_string_lossy().to_lowercase();
    let mut slug = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && slug.ends_with('-')) {
            slug.push(c);
        }
    }
    let slug = slug.trim_matches('-').to_string();
    let name = format!("labrun-{slug}");
    if name.len() <= 40 {
        return name;
    }
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(raw.as_bytes());
    let short: String = d[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{short}", name[..31].trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_disjoint_and_cover_every_document() {
        let names: Vec<String> = (0..97).map(|i| format!("docs/chapter-{i}.md")).collect();
        for n in 1..=7 {
            for kind in ["count", "hash"] {
                let mut hits = vec![0; names.len()];
                for k in 1..=n {
                    let p = Partition::parse(&format!("{kind}:{k}/{n}")).unwrap();
                    for (i, name) in names.iter().enumerate() {
                        if p.holds(i, name) {
                            hits[i] += 1;
                        }
                    }
                }
                assert!(hits.iter().all(|&h| h == 1), "{kind} {n}: {hits:?}");
            }
        }
        // count deals round-robin: shard 1 of 3 holds the 1st, 4th, 7th …
        let p = Partition::parse("count:1/3").unwrap();
        assert!(p.holds(0, "a") && p.holds(3, "b") && !p.holds(1, "c"));
    }

    #[test]
    fn partition_specs_outside_the_syntax_are_refused() {
        for bad in [
            "count:0/3",
            "count:4/3",
            "hash:1/0",
            "slice:1/2",
            "count:1",
            "hash:a/b",
        ] {
            assert!(Partition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cluster_names_are_kind_safe_and_distinct() {
        let a = cluster_name(Path::new("book/src/pod-on-host"));
        assert_eq!(a, "labrun-book-src-pod-on-host");
        let long = cluster_name(Path::new(
            "a/very/long/path/to/some/chapter/of/the/book/intro",
        ));
        assert!(long.len() <= 40, "{long}");
        let other = cluster_name(Path::new(
            "a/very/long/path/to/some/chapter/of/the/book/outro",
        ));
        assert_ne!(long, other);
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
