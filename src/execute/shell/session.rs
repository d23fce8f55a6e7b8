//! The session's side of labrun's pipes: records on the status FIFO, the output FIFOs read
//! while a command runs, and the end of a command that ran out of time.
//!
//! In: a [`Session`]. Out: [`Waited`] records, what a command printed, a session whose bash
//! is back at its prompt (or new).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt as _};

use super::{Buffer, Record, SAVED, SAVED_CAP, SHELL_OWNED, Session, Waited, quote};
use crate::error::{Error, Result};
use crate::execute::procs::{self, Proc};
use crate::execute::sandbox;

impl Drop for Session {
    /// Every process of the session goes with it: in a sandbox the first process's end would
    /// take them, but without one (`--unsandboxed`) the orphans the helper adopted are killed
    /// here, before the helper.
    fn drop(&mut self) {
        if let Some(helper) = self.helper.id() {
            for _ in 0..16 {
                let left = procs::descendants(helper);
                if left.is_empty() {
                    break;
                }
                for p in left.iter().rev() {
                    let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGKILL);
                }
            }
            let _ = kill(Pid::from_raw(helper as i32), Signal::SIGKILL);
        }
    }
}

impl Session {
    /// The line bash runs to report `"$?"` (a record `WHAT PREFIX$?`) on the status FIFO.
    pub(super) fn marker(&self, what: &str, prefix: &str) -> String {
        // a simple command, not a `{ …; }` group: after `eval` met an open quote, bash
        // misreads a group on the next line and ends the session
        format!(
            "\\builtin printf '\\0{what} {prefix}%d\\n' \"$?\" >{} 2>/dev/null",
            quote(&self.state.join(sandbox::init::STATUS).display().to_string())
        )
    }

    pub(super) async fn feed(&mut self, text: &str) -> Result<()> {
        let Some(commands) = self.commands.as_mut() else {
            return Err(Error::Environment("the session is closed".into()));
        };
        let sent = async {
            commands.write_all(text.as_bytes()).await?;
            commands.flush().await
        };
        match sent.await {
            Ok(()) => Ok(()),
            Err(e) => Err(Error::Environment(format!(
                "the sandbox stopped reading commands ({e}){}",
                self.said()
            ))),
        }
    }

    pub(super) fn said(&self) -> String {
        let t = self.helper_err.lock().unwrap().text();
        if t.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", t.trim())
        }
    }

    /// Every process of the session now (the helper's descendants).
    pub(super) fn tree(&self) -> Vec<Proc> {
        self.helper.id().map(procs::descendants).unwrap_or_default()
    }

    /// The next complete record, if the status FIFO has brought one.
    pub(super) fn record(&mut self) -> Option<Record> {
        loop {
            let end = self.pending.iter().position(|&b| b == b'\n')?;
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            // a record starts at its NUL; anything before it is not labrun's
            let Some(start) = line.rfind('\0') else {
                continue;
            };
            let body = line[start + 1..].trim_end_matches('\n');
            let (word, rest) = body.split_once(' ').unwrap_or((body, ""));
            let num = |s: &str| s.trim().parse::<i64>().ok();
            let mut two = rest.split(' ');
            let rec = match word {
                "ready" => Record::Ready(rest.to_string()),
                "rc" => Record::Rc(num(rest).unwrap_or(255) as i32),
                "exit" => Record::Exit(num(rest).unwrap_or(255) as i32),
                "fail" => Record::Fail(rest.to_string()),
                "bg" => match (two.next().and_then(num), two.next().and_then(num)) {
                    (Some(id), Some(pid)) => Record::Bg(id as u64, pid as u32),
                    _ => continue,
                },
                "end" => match (two.next().and_then(num), two.next().and_then(num)) {
                    (Some(id), Some(code)) => Record::End(id as u64, code as i32),
                    _ => continue,
                },
                _ => continue,
            };
            return Some(rec);
        }
    }

    /// Wait for the next record until `deadline`, reading the session's output into `step`
    /// meanwhile (or discarding it).
    pub(super) async fn wait(
        &mut self,
        deadline: Instant,
        mut step: Option<(&mut (Buffer, Buffer), usize)>,
    ) -> Result<Waited> {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut ochunk = vec![0u8; 64 * 1024];
        let mut echunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(r) = self.record() {
                return Ok(Waited::Record(r));
            }
            let Session {
                status,
                out,
                err,
                helper,
                ..
            } = self;
            tokio::select! {
                r = status.read(&mut chunk) => {
                    let n = r.map_err(|e| Error::Environment(format!("reading the session: {e}")))?;
                    self.pending.extend_from_slice(&chunk[..n]);
                }
                r = out.read(&mut ochunk) => {
                    if let (Ok(n), Some((b, cap))) = (r, step.as_mut()) {
                        b.0.push(&ochunk[..n], *cap);
                    }
                }
                r = err.read(&mut echunk) => {
                    if let (Ok(n), Some((b, cap))) = (r, step.as_mut()) {
                        b.1.push(&echunk[..n], *cap);
                    }
                }
                status = helper.wait() => {
                    // what it wrote last may still be in the FIFO
                    self.drain_status();
                    if let Some(r) = self.record() {
                        return Ok(Waited::Record(r));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let code = status.ok().and_then(|s| s.code()).unwrap_or(-1);
                    return Ok(Waited::Gone(format!(
                        "the sandbox ended (exit {code}){}",
                        self.said()
                    )));
                }
                _ = tokio::time::sleep_until(deadline.into()) => return Ok(Waited::Timeout),
            }
        }
    }

    /// The session's bash ended: the next command goes to a new one, with the state the old
    /// one saved if it was told `exit`.
    pub(super) fn ended_shell(&mut self) {
        self.fresh = true;
        let saved = self.state.join(SAVED);
        if let Ok(text) = crate::input::read_text(&saved, SAVED_CAP, "the session's saved state") {
            let kept: Vec<&str> = text.lines().filter(|l| !SHELL_OWNED.is_match(l)).collect();
            self.restore = Some(kept.join("\n"));
        }
        let _ = std::fs::remove_file(&saved);
    }

    /// Take the records that came between commands (a bash that ended, background commands
    /// that ended).
    pub(super) fn settle(&mut self) {
        self.drain_status();
        while let Some(r) = self.record() {
            match r {
                Record::Exit(_) => self.ended_shell(),
                Record::End(n, c) => {
                    self.ended.insert(n, c);
                }
                _ => {}
            }
        }
    }

    pub(super) fn drain_status(&mut self) {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = self.status.try_read(&mut chunk) {
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }

    /// Take what is left in the output FIFOs without waiting: all a finished command printed
    /// (bash wrote it before its status).
    pub(super) fn drain(&mut self, step: &mut (Buffer, Buffer), cap: usize) {
        let mut chunk = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = self.out.try_read(&mut chunk) {
            step.0.push(&chunk[..n], cap);
        }
        while let Ok(n @ 1..) = self.err.try_read(&mut chunk) {
            step.1.push(&chunk[..n], cap);
        }
    }

    /// What background commands printed between steps belongs to no step.
    pub(super) fn discard_output(&mut self) {
        let mut sink = (Buffer::default(), Buffer::default());
        self.drain(&mut sink, 0);
    }

    /// End a step that ran out of time: kill what it started; if bash does not come back to
    /// report, kill bash too (the sandbox starts a new one).
    pub(super) async fn stop_step(
        &mut self,
        before: &HashSet<Proc>,
        step: &mut (Buffer, Buffer),
        cap: usize,
    ) -> Result<()> {
        let started: Vec<Proc> = self
            .tree()
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        for p in &started {
            let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGKILL);
        }
        let grace = Instant::now() + Duration::from_secs(2);
        loop {
            match self.wait(grace, Some((step, cap))).await? {
                Waited::Record(Record::Rc(_)) => return Ok(()),
                Waited::Record(Record::Exit(_)) => {
                    self.ended_shell();
                    return Ok(());
                }
                Waited::Record(Record::End(n, c)) => {
                    self.ended.insert(n, c);
                }
                Waited::Record(_) => {}
                Waited::Gone(why) => return Err(Error::Environment(why)),
                Waited::Timeout => break,
            }
        }
        // bash itself is busy: the session's shell is the one process of the tree whose parent
        // is the first process (or the helper, without namespaces)
        let helper = self.helper.id().unwrap_or(0);
        let tree = self.tree();
        let first = tree
            .iter()
            .find(|p| p.ppid == helper)
            .map_or(helper, |p| p.pid);
        let shell = if self.isolation.as_ref().is_some_and(|i| i.pid) {
            tree.iter().find(|p| p.ppid == first && before.contains(p))
        } else {
            tree.iter().find(|p| p.ppid == helper && before.contains(p))
        };
        if let Some(sh) = shell {
            let _ = kill(Pid::from_raw(sh.pid as i32), Signal::SIGKILL);
        }
        let grace = Instant::now() + Duration::from_secs(5);
        loop {
            match self.wait(grace, Some((step, cap))).await? {
                Waited::Record(Record::Exit(_)) => {
                    self.ended_shell();
                    return Ok(());
                }
                Waited::Record(_) => {}
                Waited::Gone(why) => return Err(Error::Environment(why)),
                Waited::Timeout => {
                    return Err(Error::Environment(
                        "a step ran out of time and its shell could not be stopped".into(),
                    ));
                }
            }
        }
    }
}
