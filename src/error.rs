//! Errors of the library stages, and the exit codes the binary maps them to.
//!
//! In: nothing. Out: [`Error`], one variant per kind of failure labrun itself can meet
//! (as opposed to a step that ran and drifted, which is a verdict, not an error), and
//! [`ExitCode`], the documented process exit codes.

use std::path::PathBuf;

/// Process exit codes. Documented in the README; this is the only place they are defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything ran and matched.
    Success = 0,
    /// At least one step failed (drift, non-zero exit, timeout).
    StepsFailed = 1,
    /// Bad input or usage: a malformed document, run file or snapshot; an unknown directive.
    BadInput = 2,
    /// A required piece of the environment is missing (Docker, kind, a network namespace).
    Environment = 3,
    /// Another labrun holds the document (a run, or an accept, of the same document): nothing
    /// was run or written.
    Busy = 4,
    /// labrun could not finish for a reason that is not its input: a write failed (a full
    /// disk, a read-only file system), or a part of it failed to start (its async runtime, a
    /// signal handler, mdBook's renderer). The message says which.
    Failure = 5,
    /// The terminal was closed (SIGHUP): handled as SIGTERM, the partial run written.
    Hangup = 129,
    /// Interrupted (SIGINT or SIGTERM): every process of the run stopped, the partial run
    /// written.
    Interrupted = 130,
}

/// A place in a file, printed as `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: usize) -> Self {
        Location {
            file: file.into(),
            line,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input (document, run file, snapshot, configuration) is malformed.
    #[error("{at}: {message}")]
    Input { at: Location, message: String },
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The machine lacks something labrun needs.
    #[error("{0}")]
    Environment(String),
    /// Another labrun holds what this one needs (a document's run or snapshot lock).
    #[error("{0}")]
    Busy(String),
}

impl Error {
    pub fn input(file: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::Input {
            at: Location::new(file, line),
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The exit code this error maps to.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Io { source, .. } if is_write_failure(source) => ExitCode::Failure,
            Error::Input { .. } | Error::Io { .. } => ExitCode::BadInput,
            Error::Environment(_) => ExitCode::Environment,
            Error::Busy(_) => ExitCode::Busy,
        }
    }
}

/// An error and what caused it, on one line (`PATH: No space left on device`): what a
/// warning prints, where the error's own text names only the file.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A write the machine refused, whatever was written: the disk or a quota is full, or the
/// file system is read-only. Not the input's fault.
pub fn is_write_failure(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{QuotaExceeded, ReadOnlyFilesystem, StorageFull};
    matches!(e.kind(), StorageFull | QuotaExceeded | ReadOnlyFilesystem)
}

/// The exit code of any error: labrun's own by its variant, a write the machine refused as
/// [`ExitCode::Failure`], and anything else — which is never the input's (labrun's own
/// errors name input) — as [`ExitCode::Failure`] too.
pub fn exit_code_of(err: &anyhow::Error) -> ExitCode {
    if let Some(e) = err.chain().find_map(|e| e.downcast_ref::<Error>()) {
        return e.exit_code();
    }
    ExitCode::Failure
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
