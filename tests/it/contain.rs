//! Process containment through the binary: `setsid`, `nohup` and double-forked children of a
//! step live as in a terminal and are gone when the run ends, in the run's sandbox (its PID
//! namespace) and without one (`--unsandboxed`: the helper is a subreaper); SIGHUP ends a run
//! as SIGTERM does (exit 129, run written); `kill -9` of labrun takes its steps with it.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{processes_with, text};

const BIN: &str = env!("CARGO_BIN_EXE_labrun");

fn project(doc: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("labrun.toml"), "").unwrap();
    std::fs::write(dir.path().join("doc.md"), doc).unwrap();
    dir
}

/// Wait (at most `limit`) for no process with `marker` to be left; the ones left.
fn gone(marker: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = processes_with(marker);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while processes_with(marker).is_empty() {
        assert!(Instant::now() < deadline, "{marker} never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A step that leaves its process group three ways, each child named by `marker`.
fn escaping_doc(marker: &str) -> String {
    format!(
        "# Escape\n\n```console\n\
         $ setsid bash -c 'exec -a {marker}-setsid sleep 300' & nohup bash -c 'exec -a {marker}-nohup sleep 300' >/dev/null 2>&1 & ( (bash -c 'exec -a {marker}-double sleep 300' &) & ); sleep 0.3; echo started\n\
         started\n\
         ```\n"
    )
}

fn run(dir: &Path, pidns: bool) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "doc.md"])
        .current_dir(dir)
        .env_remove("CI");
    if !pidns {
        cmd.arg("--unsandboxed");
    }
    cmd.output().unwrap()
}

#[test]
fn processes_that_leave_their_group_die_with_the_run_in_its_sandbox() {
    let marker = format!("labrun-esc-ns-{}", std::process::id());
    let dir = project(&escaping_doc(&marker));
    let out = run(dir.path(), true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let left = gone(&marker, Duration::from_secs(2));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn processes_that_leave_their_group_die_with_the_run_without_a_sandbox() {
    let marker = format!("labrun-esc-sweep-{}", std::process::id());
    let dir = project(&escaping_doc(&marker));
    let out = run(dir.path(), false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let left = gone(&marker, Duration::from_secs(2));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_background_steps_daemon_lives_through_the_run_and_not_beyond() {
    for pidns in [true, false] {
        let marker = format!("labrun-bg-{pidns}-{}", std::process::id());
        let doc = format!(
            "# Daemon\n\n```console\n$ setsid bash -c 'exec -a {marker} sleep 300' &\n$ for i in $(seq 100); do pgrep -f {marker} > /dev/null && break; sleep 0.1; done; pgrep -fc {marker}\n1\n```\n"
        );
        let dir = project(&doc);
        let out = run(dir.path(), pidns);
        assert_eq!(out.status.code(), Some(0), "pidns {pidns}: {}", text(&out));
        let left = gone(&marker, Duration::from_secs(2));
        assert!(left.is_empty(), "pidns {pidns}: left behind: {left:?}");
    }
}

#[test]
fn sighup_ends_the_run_like_sigterm_with_exit_129_and_the_run_written() {
    let marker = format!("labrun-hup-{}", std::process::id());
    let doc = format!(
        "# Hangup\n\n```console\n$ echo one\none\n$ bash -c 'exec -a {marker} sleep 300'\n```\n"
    );
    let dir = project(&doc);
    let mut child = Command::new(BIN)
        .args(["run", "doc.md"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&marker);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(129));
    let left = gone(&marker, Duration::from_secs(2));
    assert!(left.is_empty(), "left behind: {left:?}");
    let records =
        labrun::record::read(&dir.path().join("target/labrun/doc.md/last.jsonl")).unwrap();
    assert_eq!(records.len(), 1, "the step that ended is recorded");
    assert_eq!(records[0].stdout, "one\n");
}

#[test]
fn a_killed_labrun_takes_its_steps_with_it() {
    let marker = format!("labrun-kill9-{}", std::process::id());
    let doc = format!(
        "# Killed\n\n```console\n$ sleep 600 &\n$ setsid bash -c 'exec -a {marker}-setsid sleep 300' & bash -c 'exec -a {marker}-fg sleep 300'\n```\n"
    );
    let dir = project(&doc);
    let mut child = Command::new(BIN)
        .args(["run", "doc.md"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&format!("{marker}-fg"));
    wait_for(&format!("{marker}-setsid"));
    child.kill().unwrap(); // SIGKILL: labrun runs no code of its own after it
    child.wait().unwrap();
    let left = gone(&marker, Duration::from_secs(5));
    assert!(left.is_empty(), "left behind: {left:?}");
}
