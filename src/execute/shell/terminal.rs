//! A command running in the background of the session: a watch, a step ending in `&`.
//!
//! In: the session, the job's first process and two FIFOs it writes. Out: what it printed so
//! far ([`Terminal::output`]), and, once it is stopped or interrupted as a person would stop it,
//! its [`Outcome`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Buffer, Outcome, Record, Session, Waited};
use crate::execute::procs::{self, Proc};

pub(super) type Captured = (Arc<Mutex<Buffer>>, tokio::task::JoinHandle<()>);

/// Read a stream to its end into a shared buffer, keeping at most `cap` bytes (the rest is
/// drained, so the writer never blocks).
pub(super) fn capture(mut r: impl AsyncRead + Unpin + Send + 'static, cap: usize) -> Captured {
    let buf = Arc::new(Mutex::new(Buffer::default()));
    let shared = buf.clone();
    let task = tokio::spawn(async move {
        let mut chunk = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = r.read(&mut chunk).await {
            shared.lock().unwrap().push(&chunk[..n], cap);
        }
    });
    (buf, task)
}

/// A command running in the background of the session (a watch, a step ending in `&`).
pub struct Terminal {
    pub(super) session: Arc<tokio::sync::Mutex<Session>>,
    pub(super) id: u64,
    /// Its first process (the leader of its process group), as labrun sees it.
    pub(super) job: Option<Proc>,
    pub(super) out: Captured,
    pub(super) err: Captured,
    pub(super) started: Instant,
    pub(super) paths: [PathBuf; 2],
    /// labrun's own write ends of the two FIFOs, let go once the command is gone, so the
    /// readers then see the end of what it printed.
    pub(super) holds: Vec<tokio::net::unix::pipe::Sender>,
}

impl Terminal {
    /// Standard output printed so far.
    pub fn output(&self) -> String {
        self.out.0.lock().unwrap().text()
    }

    /// Whether its command is still running (a watch such as `ping` may end by itself: an
    /// unreachable network, a name that does not resolve).
    pub fn running(&self) -> bool {
        self.job.is_some_and(|j| procs::alive(&j))
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
        let family: Vec<Proc> = self
            .job
            .map(|j| {
                let mut f = vec![j];
                f.extend(procs::descendants(j.pid));
                f
            })
            .unwrap_or_default();
        let mut code = None;
        for signal in signals.iter().chain([&Signal::SIGKILL]) {
            if let Some(j) = self.job
                && procs::alive(&j)
            {
                let _ = killpg(Pid::from_raw(j.pid as i32), *signal);
            }
            if *signal == Signal::SIGKILL {
                for p in family.iter().filter(|p| procs::alive(p)) {
                    let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGKILL);
                }
            }
            let deadline = Instant::now() + Duration::from_secs(2);
            code = self.ended(deadline, *signal).await;
            if code.is_some() {
                break;
            }
        }
        // what left the group goes too
        for p in family.iter().filter(|p| procs::alive(p)) {
            let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGKILL);
        }
        self.job = None;
        let duration = self.started.elapsed();
        let take = |(buf, task): &mut Captured| {
            let buf = buf.clone();
            let task = std::mem::replace(task, tokio::spawn(async {}));
            async move {
                let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
                let b = std::mem::take(&mut *buf.lock().unwrap());
                (b.text(), b.cut)
            }
        };
        self.holds.clear();
        let (o, e) = (take(&mut self.out), take(&mut self.err));
        let ((stdout, c1), (stderr, c2)) = tokio::join!(o, e);
        Outcome {
            stdout,
            stderr,
            exit_code: code.unwrap_or(128 + Signal::SIGKILL as i32),
            duration,
            timed_out: false,
            truncated: c1 || c2,
        }
    }

    /// Wait until the command ended, or `deadline`: its exit code (128 + `signal` when it
    /// died of it without reporting).
    async fn ended(&self, deadline: Instant, signal: Signal) -> Option<i32> {
        let mut s = self.session.lock().await;
        loop {
            if let Some(c) = s.ended.remove(&self.id) {
                return Some(c);
            }
            if self.job.is_none_or(|j| !procs::alive(&j)) {
                // it may have reported just before it went
                s.drain_status();
                while let Some(r) = s.record() {
                    if let Record::End(n, c) = r {
                        s.ended.insert(n, c);
                    }
                }
                return Some(s.ended.remove(&self.id).unwrap_or(128 + signal as i32));
            }
            let step = (Instant::now() + Duration::from_millis(20)).min(deadline);
            match s.wait(step, None).await {
                Ok(Waited::Record(Record::End(n, c))) => {
                    s.ended.insert(n, c);
                }
                Ok(Waited::Record(Record::Exit(_))) => s.ended_shell(),
                Ok(Waited::Timeout) if Instant::now() >= deadline => return None,
                Ok(Waited::Gone(_)) | Err(_) => return None,
                _ => {}
            }
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(j) = self.job
            && procs::alive(&j)
        {
            let _ = killpg(Pid::from_raw(j.pid as i32), Signal::SIGKILL);
        }
        for p in &self.paths {
            let _ = std::fs::remove_file(p);
        }
    }
}
