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
use std::sync::{Arc, Mutex};
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
    /// The directory every step's bash starts in before it restores the session's own: a
    /// step whose saved directory was removed stays here, never where labrun was started.
    root: PathBuf,
    cap: usize,
    /// Bash run after the state is restored and before each command (the kind backend keeps
    /// its guard's shims first on `PATH` with it).
    prologue: String,
    /// A bash already started and waiting for its script: the next step does not wait for
    /// bash to start.
    spare: Mutex<Option<Spawned>>,
}

/// Default cap on each of stdout and stderr.
pub const DEFAULT_CAP: usize = 16 * 1024 * 1024;

/// Appended to every step: the session's state, written by bash builtins only (no extra
/// process per step); [`Shell::commit`] filters it into the state file.
const SAVE: &str = r#"
__labrun_rc=$?
{
  declare -p
  declare -f
  alias -p
  shopt -p
  printf 'cd -- %q\n' "$PWD"
} > "$__LABRUN_STATE.new" 2>/dev/null
exit $__labrun_rc
"#;

/// Variables bash sets itself, or that are read-only: never restored. (`declare -p` prints
/// one line per variable, control characters escaped, so a line filter is exact.)
static SHELL_OWNED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"^declare -[a-zA-Z]*r|^declare -[a-zA-Z-]* (BASH|BASHOPTS|BASHPID|BASH_[A-Z0-9_]*|SHELLOPTS|EUID|PPID|UID|GROUPS|FUNCNAME|PIPESTATUS|RANDOM|SECONDS|LINENO|HISTCMD|SRANDOM|EPOCHSECONDS|EPOCHREALTIME|_|__labrun_rc|DIRSTACK|COMP_WORDBREAKS)(=|$)",
    )
    .expect("valid pattern")
});

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
            root: workdir,
            cap: DEFAULT_CAP,
            prologue: String::new(),
            spare: Mutex::new(None),
        })
    }

    /// Set an exported variable in the session (before its first step, or between steps).
    pub fn export(&self, name: &str, value: &str) -> Result<()> {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.state)
            .map_err(|e| Error::io(&self.state, e))?;
        writeln!(f, "export {name}='{}'", value.replace('\'', r"'\''"))
            .map_err(|e| Error::io(&self.state, e))
    }

    /// Run `bash` before every command, after the session's state is restored.
    pub fn set_prologue(&mut self, bash: &str) {
        self.prologue = format!("{bash}\n");
    }

    /// Cap each stream at `bytes`.
    pub fn with_cap(mut self, bytes: usize) -> Shell {
        self.cap = bytes;
        self
    }

    /// Write `command` to a file of its own for bash to source: no text of a step (an
    /// unterminated here-document, an open quote) can reach labrun's own lines around it.
    fn step_file(&self, command: &str) -> Result<StepFile> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self.state.with_file_name(format!("step-{n}.sh"));
        std::fs::write(&path, command).map_err(|e| Error::io(&path, e))?;
        Ok(StepFile(path))
    }

    /// Run `command` with a deadline. A timed-out command has its process group killed and
    /// keeps what it printed until then.
    pub async fn run(&self, command: &str, timeout: Duration) -> Result<Outcome> {
        let file = self.step_file(command)?;
        let script = format!(
            ". \"$__LABRUN_STATE\" 2>/dev/null\n{}. {}\n{SAVE}",
            self.prologue,
            quoted(&file.0)
        );
        let started = Instant::now();
        let fresh = self.fresh_state();
        let _ = std::fs::remove_file(&fresh);
        let spare = self.spare.lock().unwrap().take();
        let mut proc = match spare {
            Some(p) => p,
            None => Spawned::waiting(&self.state, &self.root, self.cap)?,
        };
        // The next step's bash starts while this one runs; it reads the session's state only
        // when it gets its script, after this step has saved it.
        *self.spare.lock().unwrap() = Spawned::waiting(&self.state, &self.root, self.cap).ok();
        proc.feed(&script).await?;
        let status = tokio::time::timeout(timeout, proc.child.wait()).await;
        let duration = started.elapsed();
        proc.guard.kill(); // whatever the step left behind in its group goes with it
        let (stdout, stderr, truncated) = proc.collect().await;
        match status {
            Ok(status) => {
                let status =
                    status.map_err(|e| Error::Environment(format!("waiting for bash: {e}")))?;
                self.commit()?;
                Ok(Outcome {
                    stdout,
                    stderr,
                    exit_code: exit_code(status),
                    duration,
                    timed_out: false,
                    truncated,
                })
            }
            Err(_) => Ok(Outcome {
                stdout,
                stderr,
                exit_code: -1,
                duration,
                timed_out: true,
                truncated,
            }),
        }
    }

    fn fresh_state(&self) -> PathBuf {
        self.state.with_extension("sh.new")
    }

    /// Take the state a finished step saved (if it got that far: `exit` in a step skips it)
    /// into the session, without the variables bash owns.
    fn commit(&self) -> Result<()> {
        let fresh = self.fresh_state();
        let Ok(text) = std::fs::read_to_string(&fresh) else {
            return Ok(());
        };
        let mut kept = String::with_capacity(text.len());
        for line in text.lines().filter(|l| !SHELL_OWNED.is_match(l)) {
            kept.push_str(line);
            kept.push('\n');
        }
        std::fs::write(&self.state, kept).map_err(|e| Error::io(&self.state, e))?;
        let _ = std::fs::remove_file(&fresh);
        Ok(())
    }

    /// Start `command` in a background terminal: the session's state restored, its own
    /// process group, output collected until [`Terminal::stop`].
    pub fn spawn(&self, command: &str) -> Result<Terminal> {
        let file = self.step_file(command)?;
        let script = format!(
            ". \"$__LABRUN_STATE\" 2>/dev/null\n{}. {}",
            self.prologue,
            quoted(&file.0)
        );
        Ok(Terminal {
            proc: Spawned::start(&script, &self.state, &self.root, self.cap)?,
            started: Instant::now(),
            _file: file,
        })
    }
}

/// A step's text as a file, removed when the step is done with it.
struct StepFile(PathBuf);

impl Drop for StepFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `path` as one bash word.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// A bash process in its own group, its two streams read into capped buffers.
struct Spawned {
    child: tokio::process::Child,
    guard: GroupGuard,
    out: Captured,
    err: Captured,
}

type Captured = (Arc<Mutex<Buffer>>, tokio::task::JoinHandle<()>);

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    cut: bool,
}

/// Reads its whole script from standard input, then gives the script an empty standard input.
const WAITING: &str =
    r#"IFS= read -r -d '' __labrun_script; exec </dev/null; eval "$__labrun_script""#;

impl Spawned {
    /// Bash started and waiting for its script on standard input ([`Spawned::feed`]).
    fn waiting(state: &Path, root: &Path, cap: usize) -> Result<Spawned> {
        Spawned::spawn(WAITING, state, root, cap, Stdio::piped())
    }

    /// Bash started on `script`, standard input empty.
    fn start(script: &str, state: &Path, root: &Path, cap: usize) -> Result<Spawned> {
        Spawned::spawn(script, state, root, cap, Stdio::null())
    }

    /// Hand a waiting bash its script.
    async fn feed(&mut self, script: &str) -> Result<()> {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = self.child.stdin.take().expect("a waiting bash has a stdin");
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|e| Error::Environment(format!("handing bash its step: {e}")))?;
        drop(stdin);
        Ok(())
    }

    fn spawn(script: &str, state: &Path, root: &Path, cap: usize, stdin: Stdio) -> Result<Spawned> {
        let launcher = super::contain::launcher();
        let tag = super::contain::new_tag();
        let mut cmd = tokio::process::Command::new(launcher[0]);
        cmd.current_dir(root)
            .args(&launcher[1..])
            .arg("--noprofile")
            .arg("--norc")
            .arg("-c")
            .arg(format!("{}{script}", super::contain::prelude()))
            .env("__LABRUN_STATE", state)
            .env(super::contain::TAG, &tag)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd.as_std_mut().process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.as_std_mut().pre_exec(super::contain::die_with_parent);
        }
        let mut child = cmd.spawn().map_err(|e| {
            Error::Environment(format!("cannot start bash in {}: {e}", root.display()))
        })?;
        let guard = GroupGuard(
            child.id().map(|id| Pid::from_raw(id as i32)),
            tag,
            std::cell::Cell::new(false),
        );
        let out = capture(child.stdout.take().expect("piped"), cap);
        let err = capture(child.stderr.take().expect("piped"), cap);
        Ok(Spawned {
            child,
            guard,
            out,
            err,
        })
    }

    /// What was read so far, without stopping.
    fn peek(&self) -> String {
        String::from_utf8_lossy(&self.out.0.lock().unwrap().bytes).into_owned()
    }

    /// Wait (briefly: the group is dead, its pipes close) for the readers, then take the text.
    async fn collect(self) -> (String, String, bool) {
        let take = |(buf, task): Captured| async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
            let b = std::mem::take(&mut *buf.lock().unwrap());
            (String::from_utf8_lossy(&b.bytes).into_owned(), b.cut)
        };
        let ((o, c1), (e, c2)) = tokio::join!(take(self.out), take(self.err));
        (o, e, c1 || c2)
    }
}

/// A command running in the background (a watch, a step ending in `&`).
pub struct Terminal {
    proc: Spawned,
    started: Instant,
    _file: StepFile,
}

impl Terminal {
    /// Standard output printed so far.
    pub fn output(&self) -> String {
        self.proc.peek()
    }

    /// Stop the terminal (its whole process group) and return what it printed.
    pub async fn stop(self) -> Outcome {
        self.end(&[Signal::SIGTERM]).await
    }

    /// End it as a person at a terminal would: Ctrl-C (SIGINT to its process group, so that
    /// `ping` prints its statistics), then SIGTERM, then SIGKILL, each after a short grace.
    pub async fn interrupt(self) -> Outcome {
        self.end(&[Signal::SIGINT, Signal::SIGTERM]).await
    }

    async fn end(mut self, signals: &[Signal]) -> Outcome {
        let mut status = Err(());
        for signal in signals {
            if let Some(pgid) = self.proc.guard.0 {
                let _ = killpg(pgid, *signal);
            }
            if let Ok(s) =
                tokio::time::timeout(Duration::from_secs(2), self.proc.child.wait()).await
            {
                status = Ok(s);
                break;
            }
        }
        self.proc.guard.kill();
        let duration = self.started.elapsed();
        let exit = match status {
            Ok(Ok(s)) => exit_code(s),
            _ => 128 + Signal::SIGKILL as i32,
        };
        let (stdout, stderr, truncated) = self.proc.collect().await;
        Outcome {
            stdout,
            stderr,
            exit_code: exit,
            duration,
            timed_out: false,
            truncated,
        }
    }
}

/// Kills a process group when dropped: on timeout, on Ctrl-C (the future is dropped), and
/// after a normal exit (background leftovers of the step); then whatever left the group but
/// still carries the bash's tag (see [`super::contain`]).
/// Once killed, dropping it does nothing more (no second sweep of `/proc` per step).
struct GroupGuard(Option<Pid>, String, std::cell::Cell<bool>);

impl GroupGuard {
    fn kill(&self) {
        if self.2.replace(true) {
            return;
        }
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        super::contain::sweep(&self.1);
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Read a stream to its end into a shared buffer, keeping at most `cap` bytes (the rest is
/// drained, so the writer never blocks).
fn capture(mut r: impl AsyncRead + Unpin + Send + 'static, cap: usize) -> Captured {
    let buf = Arc::new(Mutex::new(Buffer::default()));
    let shared = buf.clone();
    let task = tokio::spawn(async move {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut b = shared.lock().unwrap();
                    let room = cap.saturating_sub(b.bytes.len());
                    b.bytes.extend_from_slice(&chunk[..n.min(room)]);
                    b.cut |= n > room;
                }
            }
        }
    });
    (buf, task)
}
