//! Configuration: `labrun.toml`, found by walking up from the document's directory.
//!
//! In: the document's path. Out: [`Config`]: where snapshots live, the user's masks, and
//! where a run starts (later stages). Unknown keys are an error naming the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::normalize::UserMask;

/// A step's timeout when neither the block nor `labrun.toml` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest `output-cap`: a record labrun writes is one it reads back (at most
/// [`crate::input::RECORD_CAP`]), and a control byte is written as six (`\u001b`), on standard
/// output and standard error both: 6 × 2 × 16 MiB = 192 MiB, room left for the command.
pub const MAX_OUTPUT_CAP: usize = crate::input::RECORD_CAP as usize / 16;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Snapshot directory, relative to the configuration file (default `snapshots`).
    #[serde(default)]
    pub snapshots: Option<PathBuf>,
    /// Directory a run starts in, relative to the configuration file.
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    /// Default per-step timeout (`timeout = "120s"`); a block's `timeout=` directive wins.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Retry budget of a read-only step that does not match yet (`retry = "60s"`).
    #[serde(default)]
    pub retry: Option<String>,
    /// Bytes kept of each of a step's stdout and stderr (default 16 MiB); the rest is cut.
    #[serde(default)]
    pub output_cap: Option<usize>,
    #[serde(default, rename = "mask")]
    pub masks: Vec<UserMask>,
    /// What a run's sandbox lets through (`[sandbox]`).
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// The directory holding the configuration file (the project root).
    #[serde(skip)]
    pub root: PathBuf,
}

/// Whether the book holding `document` (the nearest `book.toml` above it) runs its chapters in
/// a network of their own (`netns = true` under `[preprocessor.labrun]`): then `labrun run`
/// of a chapter does too, as the book's live build would.
pub fn book_netns(document: &Path) -> bool {
    let Some(start) = std::fs::canonicalize(document)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    else {
        return false;
    };
    for dir in start.ancestors() {
        let file = dir.join("book.toml");
        if file.is_file() {
            return crate::input::read_text(&file, crate::input::CONFIG_CAP, "book.toml")
                .ok()
                .and_then(|t| toml::from_str::<toml::Value>(&t).ok())
                .and_then(|v| {
                    v.get("preprocessor")?
                        .get("labrun")?
                        .get("netns")?
                        .as_bool()
                })
                .unwrap_or(false);
        }
    }
    false
}

/// `[sandbox]` in `labrun.toml`: what a run may see beyond its own files.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SandboxConfig {
    /// Every run of this project in a network namespace of its own, as `--netns` asks.
    #[serde(default)]
    pub netns: bool,
    /// Paths of the host kept visible, read-only (`~/` is the user's home): `~/.gitconfig`.
    #[serde(default)]
    pub pass: Vec<String>,
    /// Variables of labrun's environment a step still gets (by name).
    #[serde(default)]
    pub env: Vec<String>,
    /// Paths of the host the steps may write (relative to the project root, or `~/`).
    #[serde(default)]
    pub write: Vec<String>,
}

impl SandboxConfig {
    /// The `pass` paths, `~/` expanded against the user's home, others against `root`.
    pub fn passed(&self, root: &Path) -> Vec<PathBuf> {
        expand(&self.pass, root)
    }

    /// The `write` paths, expanded as [`SandboxConfig::passed`].
    pub fn writable(&self, root: &Path) -> Vec<PathBuf> {
        expand(&self.write, root)
    }
}

fn expand(paths: &[String], root: &Path) -> Vec<PathBuf> {
    let home = crate::execute::sandbox::user_home();
    paths
        .iter()
        .map(|p| match p.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => root.join(p),
        })
        .collect()
}

/// One component of a document's key, written so that distinct names stay distinct and no
/// name leaves its directory: `%` is `%25`, a byte that is not UTF-8 is `%XX`, and a stem of
/// `.` or `..` (the documents `..md` and `...md`) is `%2E` or `%2E%2E`.
fn key_component(name: &std::ffi::OsStr) -> String {
    let mut out = String::new();
    for chunk in name.as_encoded_bytes().utf8_chunks() {
        out.push_str(&chunk.valid().replace('%', "%25"));
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    match out.as_str() {
        "" => "%".into(),
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => out,
    }
}

impl Config {
    /// The nearest `labrun.toml` at or above the document's directory; defaults when there is
    /// none, rooted at the repository the document is in (the nearest directory above it
    /// holding `.git`), else at the book it is a chapter of (the nearest directory above it
    /// holding `book.toml`: runs never land inside a book's `src`, which mdBook publishes),
    /// else at the document's own directory.
    pub fn for_document(document: &Path) -> Result<Config> {
        let start = std::fs::canonicalize(document)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        for dir in start.ancestors() {
            let file = dir.join("labrun.toml");
            if file.exists() && !file.is_file() {
                return Err(Error::input(&file, 0, "labrun.toml is not a file"));
            }
            if file.is_file() {
                let text = crate::input::read_text(&file, crate::input::CONFIG_CAP, "labrun.toml")?;
                let mut cfg: Config = toml::from_str(&text).map_err(|e| {
                    let line = e
                        .span()
                        .map_or(0, |s| text[..s.start].matches('\n').count() + 1);
                    Error::input(&file, line, e.message().to_string())
                })?;
                cfg.root = dir.to_path_buf();
                if let Some(cap) = cfg.output_cap
                    && !(1024..=MAX_OUTPUT_CAP).contains(&cap)
                {
                    let line = text
                        .lines()
                        .position(|l| l.trim_start().starts_with("output-cap"))
                        .map_or(0, |i| i + 1);
                    return Err(Error::input(
                        &file,
                        line,
                        format!(
                            "output-cap = {cap}: expected 1024 to {MAX_OUTPUT_CAP} bytes (a step's \
                             record must stay readable: a control byte takes six in it, on both \
                             streams)"
                        ),
                    ));
                }
                return Ok(cfg);
            }
        }
        // no labrun.toml: the repository the document is in, else its own directory; never
        // wherever labrun happens to be started (the same document keeps one name, and
        // `target/` and `snapshots/` go beside it, not into the current directory)
        let root = start
            .ancestors()
            .find(|d| d.join(".git").exists())
            .or_else(|| start.ancestors().find(|d| d.join("book.toml").is_file()))
            .unwrap_or(&start)
            .to_path_buf();
        Ok(Config {
            root,
            ..Config::default()
        })
    }

    /// Where runs, scratch directories and shell state go: `target/labrun` under the root.
    pub fn output_dir(&self) -> PathBuf {
        self.root.join("target").join("labrun")
    }

    /// A document's name in the project: its path relative to the project root, extension
    /// kept (`book/src/intro.md`). Its snapshot and its run directory are named after it, so
    /// no two documents share them: not two of one file name in different folders, not
    /// `intro.md` and `intro.adoc` side by side. Each part of the path is escaped so the name
    /// maps back to one file: `%` as `%25`, a byte that is not UTF-8 as `%XX`, a part that is
    /// `.` or `..` as `%2E`/`%2E%2E`. A document outside the root is named after its file
    /// name and a digest of its absolute path (`intro.md-1a2b3c4d`).
    pub fn key(&self, document: &Path) -> PathBuf {
        let canon = std::fs::canonicalize(document).unwrap_or_else(|_| document.to_path_buf());
        let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        let name = || {
            document
                .file_name()
                .map_or("document".into(), key_component)
        };
        match canon.strip_prefix(&root) {
            Ok(rel)
                if rel
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_))) =>
            {
                let mut key: PathBuf = rel
                    .parent()
                    .into_iter()
                    .flat_map(Path::components)
                    .map(|c| key_component(c.as_os_str()))
                    .collect();
                key.push(name());
                key
            }
            _ => {
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(canon.as_os_str().as_encoded_bytes());
                let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
                PathBuf::from(format!("{}-{short}", name()))
            }
        }
    }

    /// Where one document's runs keep their files: `target/labrun/<key>` (see [`Config::key`]).
    pub fn run_dir(&self, document: &Path) -> PathBuf {
        self.output_dir().join(self.key(document))
    }

    /// Where a document's snapshot is written: `<snapshots>/<key>.snap`.
    pub fn snapshot_path(&self, document: &Path) -> PathBuf {
        let mut p = self
            .snapshot_dir()
            .join(self.key(document))
            .into_os_string();
        p.push(".snap");
        PathBuf::from(p)
    }

    /// Where an earlier labrun kept this document's snapshot, when a file is there, the
    /// current name is not, and the file's header names this document: beside the current
    /// name without the extension (`<snapshots>/<dir>/<stem>.snap`, before names kept their
    /// extension), or at the top (`<snapshots>/<stem>.snap`, before names were paths).
    pub fn legacy_snapshot(&self, document: &Path) -> Option<PathBuf> {
        let new = self.snapshot_path(document);
        if new.exists() {
            return None;
        }
        let stem = document.file_stem()?.to_str()?;
        let beside = new.with_file_name(format!("{}.snap", key_component(stem.as_ref())));
        let top = self.snapshot_dir().join(format!("{stem}.snap"));
        let canon = std::fs::canonicalize(document).ok()?;
        [beside, top].into_iter().find(|old| {
            *old != new
                && old.is_file()
                && crate::snapshot::document_named(old).is_some_and(|named| {
                    [self.root.join(&named), PathBuf::from(&named)]
                        .iter()
                        .any(|p| std::fs::canonicalize(p).is_ok_and(|p| p == canon))
                })
        })
    }

    /// Bytes kept of each stream of a step.
    pub fn cap(&self) -> usize {
        self.output_cap
            .unwrap_or(crate::execute::shell::DEFAULT_CAP)
    }

    /// The directory whose files a run starts with.
    pub fn workdir(&self, document: &Path) -> PathBuf {
        match &self.workdir {
            Some(w) => self.root.join(w),
            None => document
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        }
    }

    /// The default step timeout and retry budget.
    pub fn durations(&self) -> Result<(Duration, Duration)> {
        let file = self.root.join("labrun.toml");
        let parse = |v: &Option<String>, default: Duration| {
            v.as_deref()
                .map(crate::directive::parse_duration)
                .transpose()
                .map(|d| d.unwrap_or(default))
                .map_err(|m| Error::input(&file, 0, m))
        };
        let timeout = parse(&self.timeout, DEFAULT_TIMEOUT)?;
        if timeout.is_zero() {
            return Err(Error::input(
                &file,
                0,
                "`timeout = \"0s\"`: a step needs some time to run (at least 1ms)",
            ));
        }
        Ok((
            timeout,
            parse(&self.retry, crate::directive::DEFAULT_RETRY)?,
        ))
    }

    pub fn snapshot_dir(&self) -> PathBuf {
        self.root
            .join(self.snapshots.as_deref().unwrap_or(Path::new("snapshots")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt as _;

    #[test]
    fn document_names_are_keys_one_to_one_that_stay_in_their_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            root: dir.path().to_path_buf(),
            ..Config::default()
        };
        let key = |name: &[u8]| {
            let path = dir.path().join(std::ffi::OsStr::from_bytes(name));
            std::fs::write(&path, "# T\n").unwrap();
            config.key(&path)
        };
        // names that are dot segments once the extension is dropped keep it, and stay in
        assert_eq!(key(b"..md"), PathBuf::from("..md"));
        assert!(
            config
                .run_dir(&dir.path().join("..md"))
                .starts_with(config.output_dir().join("..md"))
        );
        // one stem, two formats: two names
        assert_eq!(key(b"intro.md"), PathBuf::from("intro.md"));
        assert_eq!(key(b"intro.adoc"), PathBuf::from("intro.adoc"));
        // bytes that are not UTF-8 stay apart, and `%` cannot forge an escape
        assert_ne!(key(b"\xff.md"), key(b"\xfe.md"));
        assert_eq!(key(b"\xff.md"), PathBuf::from("%FF.md"));
        assert_eq!(key(b"%FF.md"), PathBuf::from("%25FF.md"));
        // a folder named `..` cannot be made, but a key part that is one is escaped
        assert_eq!(key_component(std::ffi::OsStr::new("..")), "%2E%2E");
    }
}
