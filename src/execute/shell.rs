//! A shell session whose state persists across steps while each step keeps its own timeout.
//!
//! In: one command at a time. Out: an [`Outcome`] per command. Every command runs in a fresh
//! `bash` that first restores the session's saved state (variables, exported environment,
//! functions, aliases, shell options, working directory) and saves it again after the command:
//! so a step that hangs can be killed, with its whole process group, without losing the
//! session. Standard input is empty; each stream is capped.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{Error, Result};

/// What one command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    /// The exit code; 128 + signal when killed by a signal; -1 when timed out.
    pub exit_code: i32,
    pub duration: Duration,
    pub timed_out: bool,
    /// A stream was longer than the cap and was cut.
    pub truncated: bool,
}

/// A persistent shell session rooted in a state directory.
pub struct Shell {
    state: PathBuf,
    cap: usize,
}

/// Default cap on each of stdout and stderr.
pub const DEFAULT_CAP: usize = 16 * 1024 * 1024;

const SAVE: &str = r#"
__labrun_rc=$?
{
  export -p
  declare -p 2>/dev/null | grep -Ev '^declare -[a-zA-Z]*r|^declare -[a-zA-Z-]* (BASH|BASHOPTS|BASHPID|BASH_[A-Z_]*|SHELLOPTS|EUID|PPID|UID|GROUPS|FUNCNAME|PIPESTATUS|RANDOM|SECONDS|LINENO|HISTCMD|SRANDOM|EPOCHSECONDS|EPOCHREALTIME|_|__labrun_rc|DIRSTACK|COMP_WORDBREAKS)='
  declare -f
  alias -p
  shopt -p
  printf 'cd -- %q\n' "$PWD"
} > "$__LABRUN_STATE.tmp" 2>/dev/null && mv -f "$__LABRUN_STATE.tmp" "$__LABRUN_STATE"
exit $__labrun_rc
"#;

impl Shell {
    /// A session that starts in `workdir`, keeping its state under `state_dir`.
    pub fn new(state_dir: &Path, workdir: &Path) -> Result<Shell> {
        std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
        let state = state_dir.join("shell-state.sh");
        let workdir = std::fs::canonicalize(workdir).map_err(|e| Error::io(workdir, e))?;
        let init = format!(
            "cd -- '{}'\n",
            workdir.display().to_string().replace('\'', r"'\''")
        );
        std::fs::write(&state, init).map_err(|e| Error::io(&state, e))?;
        Ok(Shell {
            state,
            cap: DEFAULT_CAP,
        })
    }

    /// Cap each stream at `bytes`.
    pub fn with_cap(mut self, bytes: usize) -> Shell {
        self.cap = bytes;
        self
    }

    /// Run `command` with a deadline. A timed-out command has its process group killed.
    pub async fn run(&self, command: &str, timeout: Duration) -> Result<Outcome> {
        let script = format!(". \"$__LABRUN_STATE\" 2>/dev/null\n{command}\n{SAVE}",);
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg("--noprofile")
            .arg("--norc")
            .arg("-c")
            .arg(script)
            .env("__LABRUN_STATE", &self.state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd.as_std_mut().process_group(0);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::Environment(format!("cannot start bash: {e}")))?;
        let pgid = child.id().map(|id| Pid::from_raw(id as i32));
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let cap = self.cap;
        let reading = async move {
            let (o, e) = tokio::join!(read_capped(out, cap), read_capped(err, cap));
            let status = child.wait().await;
            (o, e, status)
        };
        let guard = GroupGuard(pgid);
        let result = tokio::time::timeout(timeout, reading).await;
        let duration = started.elapsed();
        drop(guard); // whatever the step left behind in its group goes with it
        match result {
            Ok(((stdout, t1), (stderr, t2), status)) => {
                let status =
                    status.map_err(|e| Error::Environment(format!("waiting for bash: {e}")))?;
                use std::os::unix::process::ExitStatusExt as _;
                let exit_code = status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
                Ok(Outcome {
                    stdout,
                    stderr,
                    exit_code,
                    duration,
                    timed_out: false,
                    truncated: t1 || t2,
                })
            }
            Err(_) => Ok(Outcome {
                exit_code: -1,
                duration,
                timed_out: true,
                ..Outcome::default()
            }),
        }
    }
}

/// Kills a process group when dropped: on timeout, on Ctrl-C (the future is dropped), and
/// after a normal exit (background leftovers of the step).
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// Read a stream to its end, keeping at most `cap` bytes (the rest is drained, so the writer
/// never blocks). Returns the text and whether it was cut.
async fn read_capped(mut r: impl AsyncRead + Unpin, cap: usize) -> (String, bool) {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut cut = false;
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                cut |= n > room;
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), cut)
}
