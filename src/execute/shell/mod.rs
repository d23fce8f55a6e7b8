//! The session: one bash for the whole run, in the run's sandbox, fed a command at a time as a
//! terminal is.
//!
//! In: one command at a time. Out: an [`Outcome`] per command. The session's bash reads its
//! commands from labrun (`bash -s`), so everything a terminal keeps carries from step to step:
//! variables, `readonly`, aliases (expanded from the next command on, as at a prompt),
//! functions, `set -o` and `shopt` options, traps, `umask`, the directory, background jobs.
//! A step's text is split into the complete commands bash would read one by one; each runs
//! through `eval` with an empty standard input, followed by a line of labrun's that reports its
//! exit status on the status FIFO, so a syntax error is reported as bash reports it and the
//! session goes on. Standard output and error are two FIFOs read for the whole run; what a
//! step's commands print between its start and its last status is its output.
//!
//! A step that runs out of time has every process it started killed (the processes of the
//! session that were not there when it began); if bash itself is stuck (a loop of builtins), it
//! is killed too and the sandbox starts a new one, as a new terminal on the same machine. A
//! step that ends the shell (`exit`, `kill -9 $$`, `set -e`) does the same.

use std::collections::{HashMap, HashSet};
use std::os::fd::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

mod session;
mod terminal;

pub use terminal::Terminal;
use terminal::capture;

use super::procs::{self, Proc};
use super::sandbox::{self, Isolation, Spec};
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

/// The file a bash told `exit` saves the session's state in, in the state directory.
const SAVED: &str = "saved.sh";

/// Default cap on each of stdout and stderr.
pub const DEFAULT_CAP: usize = 16 * 1024 * 1024;

/// A session of one run.
pub struct Shell {
    session: Arc<tokio::sync::Mutex<Session>>,
    cap: usize,
    /// Bash run silently before each command (the kind backend keeps its guard's shims first
    /// on `PATH` with it).
    prologue: String,
    /// Variables exported into the session (again into a new bash after the old one ended).
    exports: Mutex<Vec<(String, String)>>,
}

/// The helper, its pipes, and what it reported.
struct Session {
    helper: tokio::process::Child,
    commands: Option<tokio::process::ChildStdin>,
    status: pipe::Receiver,
    pending: Vec<u8>,
    out: pipe::Receiver,
    err: pipe::Receiver,
    state: PathBuf,
    helper_err: Arc<Mutex<Buffer>>,
    isolation: Option<Isolation>,
    /// The session's bash is new: it has not had the prelude and exports yet.
    fresh: bool,
    /// The state the last bash saved as it was told `exit`, for the next one.
    restore: Option<String>,
    /// End records of background commands not asked for yet: id → exit code.
    ended: HashMap<u64, i32>,
    next_terminal: u64,
}

/// A record the helper or bash wrote on the status FIFO.
#[derive(Debug)]
enum Record {
    Ready(String),
    Rc(i32),
    /// The session's bash ended with this code (a new one is starting).
    Exit(i32),
    Bg(u64, u32),
    End(u64, i32),
    Fail(String),
}

/// What waiting for a record gave.
enum Waited {
    Record(Record),
    Timeout,
    /// The helper is gone; what it said.
    Gone(String),
}

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    cut: bool,
}

impl Buffer {
    fn push(&mut self, data: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
        self.cut |= data.len() > room;
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Set first in every new bash: aliases expand as at a prompt; an unknown command is reported
/// as a terminal's bash reports it (not with the name of labrun's input); and `exit` at the
/// prompt keeps the session's state for the next bash (`SAVED`): a tutorial's `exit` leaves
/// a shell it opened in a container or on a node, and its later steps still need their
/// variables. In a subshell or a function, `exit` is bash's own. `STATUS` and `SAVED` stand
/// for the status FIFO and the saved state's file.
const PRELUDE: &str = r#"\builtin shopt -s expand_aliases
\builtin declare -F command_not_found_handle >/dev/null || command_not_found_handle() { \builtin printf 'bash: %s: command not found\n' "$1" >&2; \builtin return 127; }
exit() { \builtin local __labrun_rc=$?; if (( BASH_SUBSHELL == 0 && ${#FUNCNAME[@]} == 1 )); then { \builtin declare -p; \builtin declare -f; \builtin alias -p; \builtin shopt -p; \builtin set +o; \builtin printf 'cd -- %q\n' "$PWD"; \builtin umask -p; \builtin trap -p; } >SAVED 2>/dev/null; fi; \builtin exit "${1:-$__labrun_rc}"; }
"#;

/// Variables bash sets itself, or that are read-only: never restored from a saved state.
/// (`declare -p` prints one line per variable, control characters escaped, so a line filter
/// is exact.)
static SHELL_OWNED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"^declare -[a-zA-Z-]* (BASH|BASHOPTS|BASHPID|BASH_[A-Z0-9_]*|SHELLOPTS|EUID|PPID|UID|GROUPS|FUNCNAME|PIPESTATUS|RANDOM|SECONDS|LINENO|HISTCMD|SRANDOM|EPOCHSECONDS|EPOCHREALTIME|_|__labrun_rc|DIRSTACK|COMP_WORDBREAKS)(=|$)",
    )
    .expect("valid pattern")
});

/// The largest saved state restored into a new bash.
const SAVED_CAP: u64 = 64 * 1024 * 1024;

/// `text` as one ANSI-C quoted bash word (`$'…'`): nothing in it is expanded.
pub fn quote(text: &str) -> String {
    let mut q = String::with_capacity(text.len() + 3);
    q.push_str("$'");
    for c in text.chars() {
        match c {
            '\\' => q.push_str("\\\\"),
            '\'' => q.push_str("\\'"),
            '\n' => q.push_str("\\n"),
            '\0' => {}
            c if (c as u32) < 0x20 || c == '\x7f' => q.push_str(&format!("\\x{:02x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('\'');
    q
}

/// The complete commands of `text`, as bash reads them one by one: each piece is the fewest
/// lines that leave nothing open (a quote, a here-document, a loop, a trailing `\`).
pub fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut piece = String::new();
    for line in text.split_inclusive('\n') {
        piece.push_str(line);
        if !crate::steps::is_open(&piece) {
            if !piece.trim().is_empty() {
                out.push(std::mem::take(&mut piece));
            } else {
                piece.clear();
            }
        }
    }
    if !piece.trim().is_empty() {
        out.push(piece);
    }
    out
}

impl Shell {
    /// Build the sandbox `spec` describes and start the session in it.
    pub async fn start(spec: Spec) -> Result<Shell> {
        let state = spec.state.clone();
        std::fs::create_dir_all(&state).map_err(|e| Error::io(&state, e))?;
        let fifo = |name: &str| -> Result<pipe::Receiver> {
            let path = state.join(name);
            let _ = std::fs::remove_file(&path);
            nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .map_err(|e| Error::io(&path, e.into()))?;
            // read and write: never at its end, whoever else has it open
            let rx = pipe::OpenOptions::new()
                .read_write(true)
                .open_receiver(&path)
                .map_err(|e| Error::io(&path, e))?;
            widen(&rx);
            Ok(rx)
        };
        let status = fifo(sandbox::init::STATUS)?;
        let out = fifo(sandbox::init::OUT)?;
        let err = fifo(sandbox::init::ERR)?;
        let mut cmd = sandbox::command(&spec)?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.as_std_mut().pre_exec(super::contain::die_with_parent);
        }
        let mut helper = cmd
            .spawn()
            .map_err(|e| Error::Environment(format!("cannot start the sandbox: {e}")))?;
        let helper_err = Arc::new(Mutex::new(Buffer::default()));
        let sink = helper_err.clone();
        let mut stderr = helper.stderr.take().expect("piped");
        tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
                sink.lock().unwrap().push(&chunk[..n], 64 * 1024);
            }
        });
        let commands = helper.stdin.take();
        let mut session = Session {
            helper,
            commands,
            status,
            pending: Vec::new(),
            out,
            err,
            state,
            helper_err,
            isolation: None,
            fresh: true,
            restore: None,
            ended: HashMap::new(),
            next_terminal: 1,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        match session.wait(deadline, None).await? {
            Waited::Record(Record::Ready(json)) => {
                session.isolation = serde_json::from_str(&json).ok();
            }
            Waited::Record(Record::Fail(why)) => return Err(Error::Environment(why)),
            Waited::Gone(why) => return Err(Error::Environment(why)),
            Waited::Timeout => {
                return Err(Error::Environment(
                    "the sandbox did not start within 30 s".into(),
                ));
            }
            Waited::Record(other) => {
                return Err(Error::Environment(format!(
                    "the sandbox said {other:?} before it was ready"
                )));
            }
        }
        Ok(Shell {
            session: Arc::new(tokio::sync::Mutex::new(session)),
            cap: DEFAULT_CAP,
            prologue: String::new(),
            exports: Mutex::new(Vec::new()),
        })
    }

    /// How many processes of the session run besides its bash and the sandbox's first
    /// process: background jobs, watch terminals, daemons a step left. While there are,
    /// something may still change what a later step prints.
    pub async fn background(&self) -> usize {
        let s = self.session.lock().await;
        let helper = s.helper.id().unwrap_or(0);
        let tree = s.tree();
        let pid_ns = s.isolation.as_ref().is_some_and(|i| i.pid);
        let first = if pid_ns {
            tree.iter().find(|p| p.ppid == helper).map(|p| p.pid)
        } else {
            None
        };
        let bash_parent = first.unwrap_or(helper);
        let comm =
            |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        tree.iter()
            .filter(|p| Some(p.pid) != first)
            .filter(|p| !(p.ppid == bash_parent && comm(p.pid).trim() == "bash"))
            .count()
    }

    /// The isolation the session got.
    pub async fn isolation(&self) -> Isolation {
        self.session
            .lock()
            .await
            .isolation
            .clone()
            .unwrap_or_default()
    }

    /// Set an exported variable in the session (before its first step, or between steps).
    pub fn export(&self, name: &str, value: &str) -> Result<()> {
        let mut e = self.exports.lock().unwrap();
        e.retain(|(k, _)| k != name);
        e.push((name.to_string(), value.to_string()));
        Ok(())
    }

    /// Run `bash` silently before every command.
    pub fn set_prologue(&mut self, bash: &str) {
        self.prologue = bash.to_string();
    }

    /// Cap each stream at `bytes`.
    pub fn with_cap(mut self, bytes: usize) -> Shell {
        self.cap = bytes;
        self
    }

    /// What goes before a step's first command: the prelude and exports for a new bash (or
    /// exports set since the last step), and the prologue; all of it silent.
    fn opening(&self, s: &mut Session) -> String {
        let mut text = String::new();
        let exports = self.exports.lock().unwrap();
        if s.fresh {
            let path = |name: &str| quote(&s.state.join(name).display().to_string());
            text.push_str(
                &PRELUDE
                    .replace("STATUS", &path(sandbox::init::STATUS))
                    .replace("SAVED", &path(SAVED)),
            );
            if let Some(state) = s.restore.take() {
                text.push_str(&format!(
                    "\\builtin eval -- {} </dev/null >/dev/null 2>&1\n",
                    quote(&state)
                ));
            }
            s.fresh = false;
        }
        for (k, v) in exports.iter() {
            text.push_str(&format!("\\builtin export {k}={}\n", quote(v)));
        }
        if !self.prologue.is_empty() {
            text.push_str(&format!(
                "\\builtin eval -- {} </dev/null >/dev/null 2>&1\n",
                quote(&self.prologue)
            ));
        }
        text
    }

    /// Run `command` with a deadline. A timed-out command has every process it started
    /// killed and keeps what it printed until then.
    pub async fn run(&self, command: &str, timeout: Duration) -> Result<Outcome> {
        let mut s = self.session.lock().await;
        let started = Instant::now();
        let deadline = started + timeout;
        s.settle();
        s.discard_output();
        let before: HashSet<Proc> = s.tree().into_iter().collect();
        let mut step = (Buffer::default(), Buffer::default());
        let mut code = 0;
        let mut timed_out = false;
        let mut opening = self.opening(&mut s);
        for piece in commands(command) {
            let text = format!(
                "{opening}\\builtin eval -- {} </dev/null\n{}\n",
                quote(&piece),
                s.marker("rc", "")
            );
            opening.clear();
            s.feed(&text).await?;
            let waited = loop {
                match s.wait(deadline, Some((&mut step, self.cap))).await? {
                    Waited::Record(Record::End(n, c)) => {
                        s.ended.insert(n, c);
                    }
                    other => break other,
                }
            };
            match waited {
                Waited::Record(Record::Rc(n)) => code = n,
                Waited::Record(Record::Exit(n)) => {
                    code = n;
                    s.ended_shell();
                    break;
                }
                Waited::Record(other) => {
                    return Err(Error::Environment(format!(
                        "the session said {other:?} while a step ran"
                    )));
                }
                Waited::Gone(why) => return Err(Error::Environment(why)),
                Waited::Timeout => {
                    timed_out = true;
                    s.stop_step(&before, &mut step, self.cap).await?;
                    break;
                }
            }
        }
        s.drain(&mut step, self.cap);
        let (out, err) = step;
        Ok(Outcome {
            stdout: out.text(),
            stderr: err.text(),
            exit_code: if timed_out { -1 } else { code },
            duration: started.elapsed(),
            timed_out,
            truncated: out.cut || err.cut,
        })
    }

    /// Start `command` in the background in the session (its variables, functions and aliases
    /// as the session has them), its output collected until [`Terminal::stop`].
    pub async fn spawn(&self, command: &str) -> Result<Terminal> {
        let mut s = self.session.lock().await;
        s.settle();
        let id = s.next_terminal;
        s.next_terminal += 1;
        let paths = [
            s.state.join(format!("bg-{id}.out")),
            s.state.join(format!("bg-{id}.err")),
        ];
        let mut readers = Vec::new();
        let mut holds = Vec::new();
        for p in &paths {
            let _ = std::fs::remove_file(p);
            nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .map_err(|e| Error::io(p, e.into()))?;
            let rx = pipe::OpenOptions::new()
                .open_receiver(p)
                .map_err(|e| Error::io(p, e))?;
            // held open for the terminal's life: the background subshell opens its end after
            // bash has reported it started, and a reader that met no writer meanwhile would
            // see an end and go, leaving the command blocked on opening its output
            holds.push(
                pipe::OpenOptions::new()
                    .open_sender(p)
                    .map_err(|e| Error::io(p, e))?,
            );
            readers.push(capture(rx, self.cap));
        }
        let opening = self.opening(&mut s);
        let text = format!(
            "{opening}\\builtin set -m; {{ \\builtin eval -- {cmd} </dev/null; {end}; }} >{o} 2>{e} & {bg}; \\builtin disown; \\builtin set +m\n",
            cmd = quote(command),
            end = s.marker("end", &format!("{id} ")),
            o = quote(&paths[0].display().to_string()),
            e = quote(&paths[1].display().to_string()),
            bg = s
                .marker("bg", &format!("{id} "))
                .replace("\"$?\"", "\"$!\""),
        );
        s.feed(&text).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let inner = loop {
            match s.wait(deadline, None).await? {
                Waited::Record(Record::Bg(n, pid)) if n == id => break pid,
                Waited::Record(Record::End(n, code)) => {
                    s.ended.insert(n, code);
                }
                Waited::Record(Record::Exit(_)) => {
                    s.ended_shell();
                    return Err(Error::Environment(
                        "the session ended while starting a background command".into(),
                    ));
                }
                Waited::Gone(why) => return Err(Error::Environment(why)),
                Waited::Timeout => {
                    return Err(Error::Environment(
                        "the session did not start a background command within 30 s".into(),
                    ));
                }
                Waited::Record(_) => {}
            }
        };
        let job = s
            .tree()
            .into_iter()
            .find(|p| procs::inner_pid(p.pid) == Some(inner));
        let mut out = readers.into_iter();
        Ok(Terminal {
            session: self.session.clone(),
            id,
            job,
            out: out.next().expect("two readers"),
            err: out.next().expect("two readers"),
            started: Instant::now(),
            paths,
            holds,
        })
    }
}

/// Make a FIFO's buffer 1 MiB (the most an unprivileged process may ask for), so a background
/// command that prints between steps does not block on it.
fn widen(rx: &pipe::Receiver) {
    // SAFETY: F_SETPIPE_SZ on a pipe descriptor we own; failure leaves the default size.
    unsafe {
        libc::fcntl(rx.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
}
