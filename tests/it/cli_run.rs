//! `labrun run` for real, through the binary: documents written into a scratch project, run on
//! this machine, checked through the run files they leave and through `/proc`.
//!
//! Needs: bash, coreutils; the `--netns` tests need root (CI runs as root) and iproute2.

use crate::common;

use common::text;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use labrun::record::StepRecord;

const BIN: &str = env!("CARGO_BIN_EXE_labrun");

/// A scratch project: `labrun.toml` (with `extra` appended) and `doc.md`.
fn project(doc: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("labrun.toml"),
        format!("snapshots = \"snapshots\"\n{extra}"),
    )
    .unwrap();
    std::fs::write(dir.path().join("doc.md"), doc).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("run")
        .arg(dir.join("doc.md"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .unwrap()
}

fn last_run(dir: &Path) -> Vec<StepRecord> {
    labrun::record::read(&dir.join("target/labrun/doc.md/last.jsonl")).unwrap()
}

fn processes_with(marker: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let c = std::fs::read(p.join("cmdline")).ok()?;
            String::from_utf8_lossy(&c).contains(marker).then_some(p)
        })
        .collect()
}

#[test]
fn the_session_persists_and_bindings_rewrite_later_commands() {
    // Step 2 prints an address chosen at random; the document shows 10.0.0.7. Step 3 greps for
    // the document's value: it passes only if binding rewrote it to the live one.
    let dir = project(
        "# Bind\n\n```console\n$ export FILE=addr.txt; echo \"10.0.0.$((RANDOM % 200 + 10))\" > \"$FILE\"\n$ cat \"$FILE\"\n10.0.0.7\n$ grep -c 10.0.0.7 \"$FILE\"\n1\n```\n",
        "",
    );
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let records = last_run(dir.path());
    assert_eq!(records.len(), 3);
    let live_ip = records[1].stdout.trim().to_string();
    assert_ne!(live_ip, "10.0.0.7");
    assert_eq!(records[2].command, format!("grep -c {live_ip} \"$FILE\""));
    assert!(records.iter().all(|r| r.origin.as_deref() == Some("live")));
    // The run also sits in a directory of its own, named after its time.
    let runs = common::run_dirs(dir.path(), "doc.md");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        labrun::record::read(&runs[0].join("run.jsonl")).unwrap(),
        records
    );
    // The document's own files are untouched: the run happened in a scratch copy.
    assert!(!dir.path().join("addr.txt").exists());
}

#[test]
fn a_read_only_step_is_retried_until_a_background_writer_makes_it_match() {
    let dir = project(
        "# Retry\n\n```console\n$ (sleep 2.5; echo ready > status.txt) &\n$ cat status.txt\nready\n```\n",
        "",
    );
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let records = last_run(dir.path());
    let tries = records[1].tries.unwrap_or(1);
    assert!(tries >= 3, "expected several tries, got {tries}");
    assert!(text(&out).contains(&format!("({tries} tries)")));
}

#[test]
fn a_drift_with_nothing_running_is_known_after_three_tries() {
    // nothing the run started is still running: neither a steady output nor one that changes
    // at every try (`date +%N`) will match by waiting
    let dir = project(
        "# Drift\n\n```console\n$ echo goodbye\nhello\n$ date +%N\n123\n```\n",
        "",
    );
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let records = last_run(dir.path());
    assert_eq!(records[0].tries, Some(3), "{}", text(&out));
    assert_eq!(records[1].tries, Some(3), "{}", text(&out));
}

#[test]
fn a_process_left_running_that_changes_nothing_ends_the_retries_after_five_same_outputs() {
    let dir = project(
        "# Server\n\n```console\n$ sleep 300 &\n$ echo goodbye\nhello\n```\n",
        "",
    );
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(last_run(dir.path())[1].tries, Some(5), "{}", text(&out));
}

#[test]
fn date_and_ls_times_printed_on_another_day_pass() {
    let dir = project(
        "# Times\n\n```console\n$ date\nMon Jan  5 10:00:00 UTC 2026\n$ date -R\nMon, 05 Jan 2026 10:00:00 +0000\n$ touch a && ls -go a\n-rw-r--r-- 1 0 Jan  5 10:00 a\n```\n",
        "",
    );
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_step_that_changes_state_is_never_rerun() {
    let dir = project(
        "# Once\n\n```console\n$ echo run >> tally.txt; wc -l < tally.txt\n5\n$ cat tally.txt\nrun\n```\n",
        "",
    );
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let records = last_run(dir.path());
    assert_eq!(records[0].tries, None, "ran once");
    assert_eq!(records[1].stdout, "run\n", "the tally shows one run");
}

#[test]
fn a_watch_terminal_is_collected_by_the_later_step_that_prints_its_output() {
    let dir = project(
        "# Watch\n\nIn one terminal:\n\n```console\n$ touch events.log\n$ tail -f events.log\n```\n\nMeanwhile:\n\n```console\n$ (for i in 1 2 3; do sleep 0.3; echo \"event $i\"; done >> events.log) &\n```\n\nThe first terminal shows:\n\n```console\n$ tail -f events.log\nevent 1\nevent 3\n```\n",
        "",
    );
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let records = last_run(dir.path());
    assert_eq!(records.len(), 4);
    assert_eq!(records[1].stdout, "", "the starting watch records nothing");
    // Collected from the terminal started two steps earlier: all three lines, compared as a
    // subsequence with the two printed.
    assert_eq!(records[3].stdout, "event 1\nevent 2\nevent 3\n");
    assert!(processes_with("events.log").is_empty());
}

#[test]
fn a_hanging_step_is_cut_at_its_timeout_and_keeps_what_it_printed() {
    let dir = project(
        "# Hang\n\n<!-- labrun: timeout=1s -->\n```console\n$ echo started; sleep 30\nstarted\n```\n",
        "",
    );
    let started = Instant::now();
    let out = run(dir.path(), &[]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = &last_run(dir.path())[0];
    assert!(r.timed_out);
    assert_eq!(r.stdout, "started\n");
    assert!(text(&out).contains("timed out after"), "{}", text(&out));
}

#[test]
fn output_beyond_the_cap_is_cut_flagged_and_fails_with_a_clear_reason() {
    let dir = project(
        "# Flood\n\n```console\n$ yes labrun | head -c 50000000\n```\n",
        "output-cap = 100000\n",
    );
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = &last_run(dir.path())[0];
    assert!(r.truncated);
    assert_eq!(r.stdout.len(), 100_000);
    assert!(text(&out).contains("cut at the cap"), "{}", text(&out));
}

#[test]
fn sigint_stops_every_process_of_the_run_and_keeps_the_partial_run() {
    let marker = format!("labrun-int-{}", std::process::id());
    let doc = format!(
        "# Interrupt\n\n```console\n$ bash -c 'exec -a {marker}-bg sleep 300' &\n$ touch {marker}.log\n$ tail -f {marker}.log\n$ bash -c 'exec -a {marker}-fg sleep 300'\n```\n"
    );
    let dir = project(&doc, "");
    let mut child = Command::new(BIN)
        .arg("run")
        .arg(dir.path().join("doc.md"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while processes_with(&format!("{marker}-fg")).is_empty() {
        assert!(Instant::now() < deadline, "the hanging step never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // all three are alive now: the background step, the watch, the foreground step (each
    // with the bash that started it)
    for part in ["-bg", ".log", "-fg"] {
        assert!(
            !processes_with(&format!("{marker}{part}")).is_empty(),
            "{part}"
        );
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let mut left = processes_with(&marker);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        left = processes_with(&marker);
    }
    assert!(left.is_empty(), "left behind: {left:?}");
    let records = last_run(dir.path());
    assert_eq!(records.len(), 3, "the three steps that ended are recorded");
}

#[test]
fn netns_runs_with_only_a_loopback_and_leaves_the_host_untouched() {
    let dir = project(
        "# Isolated\n\n```console\n$ ip netns add labrun-test-ns\n$ ip -o link show | cut -d: -f2\n lo\n$ ip netns\nlabrun-test-ns\n```\n",
        "",
    );
    let out = run(dir.path(), &["--netns"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let host = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&host.stdout).contains("labrun-test-ns"));
}

#[test]
fn an_unprivileged_user_gets_a_network_of_its_own_through_a_user_namespace() {
    let dir = project(
        "# X\n\n```console\n$ ip -o link | wc -l; id -u\n1\n65534\n```\n",
        "",
    );
    let mut perms = std::fs::metadata(dir.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    std::fs::set_permissions(dir.path(), perms).unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "run",
        ])
        .arg(dir.path().join("doc.md"))
        .arg("--netns")
        .output()
        .unwrap();
    // where the kernel refuses unprivileged user namespaces, labrun says so (exit 3)
    if out.status.code() == Some(3) {
        assert!(text(&out).contains("user namespace"), "{}", text(&out));
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn the_pod_on_host_chapter_passes_end_to_end() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(BIN)
        .args([
            "run",
            "book/src/pod-on-host.md",
            "--backend",
            "local",
            "--netns",
        ])
        .current_dir(root)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(" passed, 0 failed"), "{}", text(&out));
}

#[test]
fn the_local_backend_refuses_a_step_that_would_reach_a_cluster() {
    // A `kubectl` on PATH that leaves a mark if it is ever called.
    let dir = project(
        "# Careful\n\n```console\n$ echo before\nbefore\n$ kubectl delete pod app-5586fc9d77-7frts\npod \"app-5586fc9d77-7frts\" deleted\n```\n",
        "",
    );
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let mark = dir.path().join("kubectl-was-called");
    let fake = bin.join("kubectl");
    std::fs::write(&fake, format!("#!/bin/sh\ntouch '{}'\n", mark.display())).unwrap();
    let mut perms = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = Command::new(BIN)
        .arg("run")
        .arg(dir.path().join("doc.md"))
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(!mark.exists(), "kubectl ran");
    let t = text(&out);
    assert!(
        t.contains("doc.md:6: refusing to run `kubectl delete pod"),
        "{t}"
    );
    // what ran before the refusal is recorded
    assert_eq!(last_run(dir.path()).len(), 1);
}

#[test]
fn run_reports_in_the_ci_formats() {
    let dir = project(
        "# Formats\n\n```console\n$ echo hello\nhello\n$ echo drift\nexpected\n```\n",
        "retry = \"1s\"\n",
    );
    let out = run(dir.path(), &["--format", "junit"]);
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.contains("<testcase classname=\"Formats\""), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
    let out = run(dir.path(), &["--format", "github"]);
    let gh = String::from_utf8_lossy(&out.stdout);
    assert!(gh.contains("::error file="), "{gh}");
    assert!(gh.contains(",line=6"), "{gh}");
}

#[test]
fn a_step_whose_directory_was_removed_writes_nowhere_as_in_a_terminal() {
    let doc = "# Gone\n\n```console\n$ mkdir d && cd d && rmdir \"$PWD\"\n$ touch written-here\n$ pwd\n```\n";
    let dir = project(doc, "");
    // labrun is started from the project itself: the step must not write there
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["run", "doc.md"])
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "{}", text(&out));
    assert!(
        !dir.path().join("written-here").exists(),
        "a step wrote into the directory labrun was started from"
    );
    let scratch = common::run_dirs(dir.path(), "doc.md")[0].join("work");
    assert!(!scratch.join("written-here").exists());
    let records = last_run(dir.path());
    // the session stays in the removed directory, as a terminal's shell does
    assert_ne!(records[1].exit_code, 0, "{:?}", records[1]);
    assert_eq!(
        Path::new(records[2].stdout.trim()),
        std::fs::canonicalize(&scratch).unwrap().join("d")
    );
}

/// Run a one-step document (`labrun.toml` with `extra`): what labrun printed, and the step's
/// record.
fn one_step(doc: &str, extra: &str) -> (Output, StepRecord) {
    let dir = project(doc, extra);
    let out = run(dir.path(), &[]);
    let record = last_run(dir.path()).remove(0);
    (out, record)
}

#[test]
fn an_unbounded_ping_is_interrupted_once_its_printed_lines_appeared() {
    // The author pressed Ctrl-C after two replies.
    let doc = "# Ping\n\n```console\n$ ping 127.0.0.1\nPING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\n64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.046 ms\n64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.052 ms\n```\n";
    let (out, r) = one_step(doc, "retry = \"60s\"\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        r.interrupted.as_deref(),
        Some("after its printed lines appeared")
    );
    // interrupted as Ctrl-C interrupts it: ping printed its statistics
    assert!(
        r.stdout.contains("--- 127.0.0.1 ping statistics ---"),
        "{}",
        r.stdout
    );
    assert_eq!(r.exit_code, 0);
    // it ended once the lines were there, not at its budget
    assert!(r.duration_ms < 20_000, "{} ms", r.duration_ms);
    assert_eq!(r.tries, None);
}

#[test]
fn an_unbounded_command_whose_lines_never_appear_fails_at_its_budget_with_what_it_saw() {
    let doc = "# Ping\n\n<!-- labrun: retry=3s -->\n```console\n$ ping 127.0.0.1\nPING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\nFrom 127.0.0.1 icmp_seq=1 Destination Host Unreachable\n```\n";
    let (out, r) = one_step(doc, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        r.interrupted.as_deref(),
        Some("at its budget of 3s, its printed lines not all seen")
    );
    // the report shows what it saw
    let t = text(&out);
    assert!(t.contains("FAIL"), "{t}");
    assert!(t.contains("+64 bytes from 127.0.0.1: icmp_seq=1"), "{t}");
}

#[test]
fn an_unbounded_command_that_ends_by_itself_is_judged_then_with_its_own_exit_code() {
    // `tail -f` of a file that is not there ends at once (as `ping` on an unreachable
    // network does): nothing more can appear, so the step ends then, not at its 60 s budget
    let doc = "# Tail\n\n```console\n$ tail -f no-such-file\nhello\n```\n";
    let (out, r) = one_step(doc, "retry = \"60s\"\n");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert_eq!(r.interrupted, None, "{r:?}");
    assert!(r.stderr.contains("no-such-file"), "{r:?}");
    assert!(r.duration_ms < 20_000, "{} ms", r.duration_ms);
    let t = text(&out);
    assert!(t.contains("exit code 1 (expected 0)"), "{t}");
}

#[test]
fn an_authors_ctrl_c_and_pings_statistics_are_read_as_ping_prints_them() {
    // As often pasted: the replies, the terminal's ^C, then what ping prints as it stops.
    let doc = "# Ping\n\n```console\n$ ping 127.0.0.1\nPING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\n64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.046 ms\n64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.052 ms\n^C\n--- 127.0.0.1 ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss, time 1001ms\nrtt min/avg/max/mdev = 0.046/0.049/0.052/0.003 ms\n```\n";
    let (out, r) = one_step(doc, "retry = \"30s\"\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // interrupted after the second reply, so its statistics count two packets, as printed
    assert_eq!(
        r.interrupted.as_deref(),
        Some("after its printed lines appeared")
    );
    assert!(
        r.stdout.contains("2 packets transmitted, 2 received"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_run_killed_after_its_third_step_keeps_three_records_that_check_reads() {
    let dir = project(
        "# Five\n\n```console\n$ echo one\none\n$ echo two\ntwo\n$ echo three\nthree\n$ sleep 300\n$ echo five\nfive\n```\n",
        "",
    );
    let mut child = Command::new(BIN)
        .arg("run")
        .arg(dir.path().join("doc.md"))
        .env_remove("CI")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // each record is on disk as its step ends: wait for the third
    let deadline = Instant::now() + Duration::from_secs(60);
    let file = loop {
        let file = std::fs::read_dir(dir.path().join("target/labrun/doc.md"))
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("run.jsonl"))
            .find(|f| f.is_file());
        if let Some(f) = &file
            && std::fs::read_to_string(f).is_ok_and(|t| t.lines().count() == 3)
        {
            break f.clone();
        }
        assert!(Instant::now() < deadline, "no third record");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    let records = labrun::record::read(&file).unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[2].stdout, "three\n");
    let out = Command::new(BIN)
        .args(["check", "doc.md", "--replay"])
        .arg(&file)
        .current_dir(dir.path())
        .env_remove("CI")
        .output()
        .unwrap();
    let t = text(&out);
    assert!(t.contains("3 passed"), "{t}");
    assert!(t.contains("not run"), "{t}");
}

/// The guide's first tutorial is a chapter labrun runs: it passes as written, and the drift
/// the chapter describes (`butter` for `eggs`) fails that step alone.
#[test]
fn the_guides_first_tutorial_passes_and_its_drift_fails_there() {
    let chapter = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("guide/src/first-tutorial.md"),
    )
    .unwrap();
    let dir = project(&chapter, "");
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("5 passed, 0 failed"), "{}", text(&out));
    std::fs::write(
        dir.path().join("doc.md"),
        chapter.replace("\neggs\n", "\nbutter\n"),
    )
    .unwrap();
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("FAIL       read-it-back/1"), "{t}");
    assert!(t.contains("4 passed, 1 failed"), "{t}");
}

/// The README's first tutorial: the document it shows, run, prints the two reports the README
/// shows (passing, then drifting with `butter` written for `eggs`), line for line.
#[test]
fn the_readmes_first_tutorial_prints_the_reports_the_readme_shows() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let doc = readme
        .split("````markdown\n")
        .nth(1)
        .and_then(|r| r.split("````\n").next())
        .expect("the tutorial document in the README");
    // the reports: the console blocks that begin `$ labrun run hello.md`
    let reports: Vec<String> = readme
        .split("```console\n$ labrun run hello.md\n")
        .skip(1)
        .map(|r| r.split("```\n").next().unwrap().to_string())
        .collect();
    assert_eq!(reports.len(), 2, "a passing and a drifting report");
    let dir = tempfile::tempdir().unwrap();
    let report_of = |text: &str| {
        std::fs::write(dir.path().join("hello.md"), text).unwrap();
        let out = Command::new(BIN)
            .args(["run", "hello.md"])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("CI")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(report_of(doc), (Some(0), reports[0].clone()));
    assert_eq!(
        report_of(&doc.replace("\neggs\n", "\nbutter\n")),
        (Some(1), reports[1].clone())
    );
}

/// The user guide runs green: every chapter read, the first tutorial's steps passing, the
/// benchmark list skipped as its directive says.
#[test]
fn the_user_guide_runs_green() {
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("guide");
    let work = tempfile::tempdir().unwrap();
    // a copy: the run's files go beside the copy, not into the repository
    let copy = work.path().join("guide");
    common::copy_tree(&guide, &copy);
    let _ = std::fs::remove_dir_all(copy.join("book"));
    let out = Command::new(BIN)
        .arg("run")
        .arg(&copy)
        .env_remove("CI")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    // the benchmark list: its thirteen commands (scripts by their relative path among them),
    // skipped
    assert!(t.contains("steps: 5 passed, 0 failed, 13 skipped"), "{t}");
}

#[test]
fn a_directory_with_no_document_is_an_error_saying_what_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("run")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("no document here: labrun looked for .md, .adoc"),
        "{}",
        text(&out)
    );
}

/// A disk that fills up during a run (a 4 MiB tmpfs, mounted in a mount namespace of the
/// test's own, never the host's): every step that ran gets its verdict, the run file keeps the
/// steps recorded before the disk filled, `check` reads them, and the warnings say what was
/// lost. Needs root (mount).
#[test]
fn a_run_on_a_full_disk_keeps_its_finished_steps_and_every_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = "0".repeat(4000);
    // steps 4 and 5 print 4 000 bytes: their records cannot fit in what is left of the run
    // file's last page once step 3 has filled the disk
    let doc = format!(
        "# Full\n\n```console\n$ echo one\none\n$ echo two\ntwo\n\
         $ cat /dev/zero > big 2>/dev/null; echo filled\nfilled\n\
         $ printf %04000d 0; echo\n{zeros}\n$ printf %04000d 0; echo\n{zeros}\n```\n"
    );
    let script = format!(
        "set -e; mount -t tmpfs -o size=4m tmpfs mnt; cd mnt; : > labrun.toml; \
         printf '%s' \"$DOC\" > doc.md; \
         set +e; {BIN} run doc.md > ../run.out 2> ../run.err; echo $? > ../run.code; \
         {BIN} check doc.md --replay target/labrun/doc.md/2*/run.jsonl > ../check.out 2>&1; \
         echo $? > ../check.code; \
         {BIN} accept doc.md --replay target/labrun/doc.md/2*/run.jsonl > ../accept.out 2>&1; \
         echo $? > ../accept.code"
    );
    std::fs::create_dir(dir.path().join("mnt")).unwrap();
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "bash",
            "-c",
            &script,
        ])
        .current_dir(dir.path())
        .env("DOC", &doc)
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    let (stdout, stderr) = (read("run.out"), read("run.err"));
    assert_eq!(read("run.code").trim(), "0", "{stdout}{stderr}");
    assert!(stdout.contains("5 passed, 0 failed"), "{stdout}");
    assert!(
        stderr.contains("No space left on device")
            && stderr.contains("the run file holds 3 of the 5 steps that ran")
            && stderr.contains("last.jsonl still names an earlier run")
            && stderr.contains("the partial run is in"),
        "{stderr}"
    );
    // the steps it holds are whole records that check reads
    let check = read("check.out");
    assert_eq!(read("check.code").trim(), "0", "{check}");
    assert!(check.contains("3 passed, 0 failed, 2 not run"), "{check}");
    // a write the full disk refuses is not bad input: exit 5, saying why
    let accept = read("accept.out");
    assert_eq!(read("accept.code").trim(), "5", "{accept}");
    assert!(accept.contains("No space left on device"), "{accept}");
}
