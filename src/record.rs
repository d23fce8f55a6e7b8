//! Recorded runs: the JSON Lines file an execution writes and `--replay` reads.
//!
//! In/out: one JSON object per executed step, in execution order:
//! `{"step", "command", "stdout", "stderr", "exit_code", "duration_ms"}`, plus optional fields
//! labrun itself adds (`origin`, `tries`, `truncated`, `timed_out`, `versions`, `skipped`,
//! `unsettled`, `at`). Unknown fields
//! are ignored. Writing is atomic: a temporary file renamed into place.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One executed step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: String,
    pub command: String,
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    pub duration_ms: u64,
    /// Where the output came from: `live` (an execution by labrun), `simulated` (built by a
    /// test from the document), `document`. Absent means unknown: never counted as verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// How many times the step ran (retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries: Option<u32>,
    /// The output was cut at the cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The step was killed at its timeout.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// Versions of what the step ran against (kind, Kubernetes, Docker), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<serde_json::Value>,
    /// The backend did not run the step, for this reason (`--reuse`: the cluster exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// labrun interrupted the step on purpose, and when: a command that never ends by itself,
    /// after its printed lines appeared, or at its budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// The step ran, but what it changed did not settle (what is not ready, latest events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsettled: Option<String>,
    /// When the step started (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The run's kind cluster stood for the lab's own under another name: in what ran and
    /// what it printed, `live` reads as `document` when checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed: Option<Renamed>,
}

/// A cluster name of the run and the lab's name it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renamed {
    pub live: String,
    pub document: String,
}

impl StepRecord {
    /// What a reader would have seen: standard output, then standard error (borrowed when
    /// there is only one of them: an output of hundreds of megabytes is not copied).
    pub fn output(&self) -> std::borrow::Cow<'_, str> {
        match (self.stdout.is_empty(), self.stderr.is_empty()) {
            (_, true) => std::borrow::Cow::Borrowed(&self.stdout),
            (true, false) => std::borrow::Cow::Borrowed(&self.stderr),
            (false, false) => {
                let mut s = self.stdout.clone();
                if !s.ends_with('\n') {
                    s.push('\n');
                }
                s.push_str(&self.stderr);
                std::borrow::Cow::Owned(s)
            }
        }
    }

    /// The record as the document would have written it: the run's cluster name read as the
    /// lab's (see [`Renamed`]); itself when nothing was renamed.
    pub fn as_document(&self) -> std::borrow::Cow<'_, StepRecord> {
        match &self.renamed {
            Some(r) if !r.live.is_empty() => {
                let back = |t: &str| t.replace(&r.live, &r.document);
                let mut copy = self.clone();
                copy.command = back(&self.command);
                copy.stdout = back(&self.stdout);
                copy.stderr = back(&self.stderr);
                std::borrow::Cow::Owned(copy)
            }
            _ => std::borrow::Cow::Borrowed(self),
        }
    }

    /// Whether this output was observed by a live execution.
    pub fn is_live(&self) -> bool {
        self.origin.as_deref() == Some("live")
    }
}

/// Read a run file; a malformed line is an error naming `file:line`.
pub fn read(path: &Path) -> Result<Vec<StepRecord>> {
    let mut records = Records::default();
    crate::input::each_line(path, |n, line| records.add(path, n, line))?;
    Ok(records.out)
}

/// Records as they are read: malformed lines and steps recorded twice are errors at their
/// line.
#[derive(Default)]
struct Records {
    out: Vec<StepRecord>,
    seen: std::collections::HashMap<String, usize>,
}

impl Records {
    fn add(&mut self, path: &Path, n: usize, line: &str) -> Result<()> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let record: StepRecord = serde_json::from_str(line)
            .map_err(|e| Error::input(path, n, format!("not a run record: {e}")))?;
        if let Some(first) = self.seen.insert(record.step.clone(), n) {
            return Err(Error::input(
                path,
                n,
                format!(
                    "step `{}` is recorded twice (lines {first} and {n})",
                    record.step
                ),
            ));
        }
        self.out.push(record);
        Ok(())
    }
}

/// Parse a run file's text (see [`read`]).
pub fn parse(path: &Path, text: &str) -> Result<Vec<StepRecord>> {
    let mut records = Records::default();
    for (i, line) in text.lines().enumerate() {
        records.add(path, i + 1, line)?;
    }
    Ok(records.out)
}

/// Write a whole run file atomically.
pub fn write(path: &Path, records: &[StepRecord]) -> Result<()> {
    write_atomic(path, to_text(records).as_bytes())
}

/// A run file's text: one JSON object per line.
pub fn to_text(records: &[StepRecord]) -> String {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).expect("records serialize"));
        text.push('\n');
    }
    text
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename, so an
/// interrupted write never leaves a half-written file. A file that exists keeps its
/// permissions; a new one gets the ones any program would give it (`0666` less the umask),
/// not the temporary file's `0600`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let permissions = std::fs::metadata(path)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o666 & !umask()));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file()
        .set_permissions(permissions)
        .map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Write `bytes` to the file `path` names, through it when it is a symbolic link: the link
/// stays, its target gets the new text (atomically, as [`write_atomic`]). For the user's own
/// files — a document, a snapshot — which a project may keep as links.
pub fn write_through(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut target = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&target) {
            Ok(next) => {
                target = match target.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                }
            }
            Err(_) => return write_atomic(&target, bytes),
        }
    }
    Err(Error::io(
        path,
        std::io::Error::other("too many levels of symbolic links"),
    ))
}

/// The process's umask, read without changing it (`/proc/self/status`); `022` when unknown.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_are_ignored_and_bad_lines_are_located() {
        let p = Path::new("run.jsonl");
        let ok = r#"{"step":"a/1","command":"x","stdout":"o","stderr":"","exit_code":0,"duration_ms":3,"extra":1}"#;
        assert_eq!(parse(p, ok).unwrap()[0].step, "a/1");
        let err = parse(p, &format!("{ok}\n{{broken"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("run.jsonl:2:"), "{err}");
    }

    #[test]
    fn a_step_recorded_twice_is_an_error_naming_both_lines() {
        let r =
            r#"{"step":"a/1","command":"x","stdout":"","stderr":"","exit_code":0,"duration_ms":3}"#;
        let err = parse(Path::new("run.jsonl"), &format!("{r}\n{r}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("run.jsonl:2:"), "{err}");
        assert!(err.contains("recorded twice (lines 1 and 2)"), "{err}");
    }

    #[test]
    fn output_is_stdout_then_stderr() {
        let r = StepRecord {
            stdout: "out".into(),
            stderr: "err\n".into(),
            ..Default::default()
        };
        assert_eq!(r.output(), "out\nerr\n");
    }

    #[test]
    fn a_broken_output_string_is_an_error_at_its_line() {
        let p = Path::new("run.jsonl");
        for (stdout, why) in [
            (r#""\ud83d""#, "unexpected end of hex escape"),
            (r#""\ude00x""#, "lone leading surrogate"),
            ("12", "expected a string"),
        ] {
            let line = format!(
                r#"{{"step":"a/1","command":"x","stdout":{stdout},"stderr":"","exit_code":0,"duration_ms":3}}"#
            );
            let err = parse(p, &format!("\n{line}")).unwrap_err().to_string();
            assert!(
                err.starts_with("run.jsonl:2:") && err.contains(why),
                "{err}"
            );
        }
    }
}
