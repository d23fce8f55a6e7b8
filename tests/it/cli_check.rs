//! The check, accept, review and normalize commands end to end, through the binary, on a
//! copy of the lab in a scratch directory (so snapshots are written there, not here).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(LAB, dir.path().join("lab.adoc")).unwrap();
        std::fs::write(dir.path().join("labrun.toml"), "snapshots = \"snaps\"\n").unwrap();
        let run = run_from_document(&lab_steps());
        labrun::record::write(&dir.path().join("run.jsonl"), &run).unwrap();
        Scratch { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn labrun(&self, args: &[&str], ci: bool, stdin: &str) -> Output {
        labrun_with_stdin(self.dir.path(), args, ci, stdin)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_prints_the_closing_line_and_exits_zero() {
    let s = Scratch::new();
    let out = s.labrun(&["check", "lab.adoc", "--replay", "run.jsonl"], true, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let steps = lab_steps();
    let illustrative = steps.iter().filter(|s| s.directives.illustrative).count();
    let skipped = steps.iter().filter(|s| s.directives.skip).count();
    assert!(skipped > 0, "the lab keeps its obsolete commands, skipped");
    assert_eq!(
        stdout.lines().last(),
        Some(
            format!(
                "{} passed, 0 failed, {illustrative} not yet verified, {skipped} skipped",
                steps.len() - illustrative - skipped
            )
            .as_str()
        )
    );
}

fn report(s: &Scratch, format: &str) -> Output {
    let args = [
        "check",
        "lab.adoc",
        "--replay",
        "run.jsonl",
        "--format",
        format,
    ];
    s.labrun(&args, true, "")
}

#[test]
fn json_and_junit_reports() {
    let s = Scratch::new();
    let v: serde_json::Value = serde_json::from_slice(&report(&s, "json").stdout).unwrap();
    let illustrative = lab_steps()
        .iter()
        .filter(|s| s.directives.illustrative)
        .count();
    let skipped = lab_steps().iter().filter(|s| s.directives.skip).count();
    assert_eq!(
        v["summary"]["pass"],
        lab_steps().len() - illustrative - skipped
    );
    assert_eq!(v["summary"]["unverified"], illustrative);
    assert_eq!(v["steps"][0]["status"], "pass");
    let xml = text(&report(&s, "junit").stdout);
    assert_eq!(xml.matches("<testcase ").count(), lab_steps().len());
    assert!(xml.contains(r#"classname="Cluster IP" name="cluster-ip/3""#));
}

fn break_step(s: &Scratch, id: &str) {
    let path = s.path("run.jsonl");
    let mut run = labrun::record::read(&path).unwrap();
    let r = run.iter_mut().find(|r| r.step == id).unwrap();
    r.stdout = r.stdout.replace("Running", "Pending");
    labrun::record::write(&path, &run).unwrap();
}

#[test]
fn a_failure_exits_one_with_a_diff_and_writes_pending_entries_only_outside_ci() {
    let s = Scratch::new();
    break_step(&s, "explore-statefulsets/2");
    let out = s.labrun(&["check", "lab.adoc", "--replay", "run.jsonl"], true, "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL       explore-statefulsets/2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-dnsutils 1/1 Running 0 <AGE> <IP1> <NODE> <none> <none>"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+dnsutils 1/1 Pending 0 <AGE> <IP1> <NODE> <none> <none>"),
        "{stdout}"
    );
    assert!(!s.path("snaps/lab.adoc.snap.new").exists(), "never in CI");

    let out = s.labrun(&["check", "lab.adoc", "--replay", "run.jsonl"], false, "");
    assert_eq!(out.status.code(), Some(1));
    let pending = std::fs::read_to_string(s.path("snaps/lab.adoc.snap.new")).unwrap();
    assert!(pending.contains("=== explore-statefulsets/2"));
    assert!(pending.contains("origin: simulated (not yet verified)"));
}

#[test]
fn accept_from_doc_then_review_a_pending_change() {
    let s = Scratch::new();
    let out = s.labrun(&["accept", "lab.adoc", "--from-doc"], true, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let snap = std::fs::read_to_string(s.path("snaps/lab.adoc.snap")).unwrap();
    assert!(snap.contains("=== cluster-ip/3\ncommand: kubectl exec dnsutils -- host clusterip-service\norigin: document (not yet verified)\nexit: 0\n| clusterip-service.default.svc.cluster.local has address <IP1>\n"), "{snap}");
    assert!(!snap.contains("origin: run"), "nothing was observed");

    // The snapshot is now the expectation; a drifted run leaves a pending entry to review.
    break_step(&s, "explore-statefulsets/2");
    let out = s.labrun(&["check", "lab.adoc", "--replay", "run.jsonl"], false, "");
    assert_eq!(out.status.code(), Some(1));
    let out = s.labrun(&["review", "lab.adoc"], false, "a\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!s.path("snaps/lab.adoc.snap.new").exists());
    // The document still prints Running where the accepted output does not: what readers see
    // is wrong, so the step fails as document drift, with the accepted output beside it.
    let out = s.labrun(&["check", "lab.adoc", "--replay", "run.jsonl"], true, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL       explore-statefulsets/2"),
        "{stdout}"
    );
    assert!(stdout.contains("document drift: line"), "{stdout}");
    assert!(stdout.contains("promote --from-snapshot"), "{stdout}");
    assert!(stdout.contains("1 failed"), "{stdout}");
    // the old behaviour, asked for: a warning only
    let out = s.labrun(
        &[
            "check",
            "lab.adoc",
            "--replay",
            "run.jsonl",
            "--allow-doc-drift",
        ],
        true,
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("warning: explore-statefulsets/2"),
        "{stdout}"
    );
    let out = s.labrun(
        &[
            "check",
            "lab.adoc",
            "--replay",
            "run.jsonl",
            "--allow-doc-drift",
            "--strict",
        ],
        true,
        "",
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_document_edited_after_accept_fails_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.md");
    std::fs::write(&doc, "# Hi\n\n```console\n$ echo hello\nhello\n```\n").unwrap();
    let run = |args: &[&str]| common::labrun_with_stdin(dir.path(), args, true, "");
    assert_eq!(run(&["run", "doc.md"]).status.code(), Some(0));
    let last = "target/labrun/doc.md/last.jsonl";
    let out = run(&["accept", "doc.md", "--replay", last]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // the author edits what the book shows; the command still prints hello
    std::fs::write(&doc, "# Hi\n\n```console\n$ echo hello\ngoodbye\n```\n").unwrap();
    let out = run(&["run", "doc.md"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("document drift"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&["check", "doc.md", "--replay", last]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("+hello"),
        "the accepted output beside it: {}",
        text(&out.stdout)
    );
    assert_eq!(
        run(&["run", "doc.md", "--allow-doc-drift"]).status.code(),
        Some(0)
    );
}

#[test]
fn stale_snapshot_entries_are_reported() {
    let s = Scratch::new();
    s.labrun(&["accept", "lab.adoc", "--from-doc"], true, "");
    let p = s.path("snaps/lab.adoc.snap");
    let mut snap = std::fs::read_to_string(&p).unwrap();
    snap.push_str("\n=== gone/1\ncommand: echo\norigin: document\nexit: 0\n| hi\n");
    std::fs::write(&p, snap).unwrap();
    let out = s.labrun(&["check", "lab.adoc", "--replay", "run.jsonl"], true, "");
    assert!(text(&out.stdout).contains("snapshot entry `gone/1` matches no step (stale)"));
}

fn assert_bad(out: &Output, location: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(location),
        "{location} in {}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn broken_run_file_unknown_step_and_nonsense_snapshot_are_bad_input() {
    let s = Scratch::new();
    let good = std::fs::read_to_string(s.path("run.jsonl")).unwrap();
    std::fs::write(
        s.path("broken.jsonl"),
        format!(
            "{}{{\"step\": oops\n",
            good.lines().next().unwrap().to_owned() + "\n"
        ),
    )
    .unwrap();
    assert_bad(
        &s.labrun(&["check", "lab.adoc", "--replay", "broken.jsonl"], true, ""),
        "broken.jsonl:2",
    );

    std::fs::write(
        s.path("unknown.jsonl"),
        good.replacen(
            "\"step\":\"deploy-kind-cluster-with-ingress-enabled/1\"",
            "\"step\":\"nowhere/9\"",
            1,
        ),
    )
    .unwrap();
    let out = s.labrun(
        &["check", "lab.adoc", "--replay", "unknown.jsonl"],
        true,
        "",
    );
    assert_bad(&out, "unknown.jsonl:1");
    assert!(text(&out.stderr).contains("nowhere/9"));

    std::fs::create_dir_all(s.path("snaps")).unwrap();
    std::fs::write(
        s.path("snaps/lab.adoc.snap"),
        "=== a/1\ncommand: x\nthis is nonsense\n",
    )
    .unwrap();
    assert_bad(
        &s.labrun(&["check", "lab.adoc", "--replay", "run.jsonl"], true, ""),
        "lab.adoc.snap:3",
    );
}

#[test]
fn accept_from_a_run_is_atomic_and_keeps_origin() {
    let s = Scratch::new();
    let out = s.labrun(&["accept", "lab.adoc", "--replay", "run.jsonl"], true, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let snap = std::fs::read_to_string(s.path("snaps/lab.adoc.snap")).unwrap();
    assert!(snap.contains("origin: simulated (not yet verified)"));
    let leftovers: Vec<_> = std::fs::read_dir(s.path("snaps"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        [std::ffi::OsString::from("lab.adoc.snap")],
        "no temporary files left"
    );
}

#[test]
fn normalize_prints_the_masked_text() {
    let s = Scratch::new();
    let input = "app-9cc7d9df8-ffsm6   1/1   Running   0   49s   10.244.1.4   kind-worker2\n";
    let out = s.labrun(&["normalize", "--doc", "lab.adoc"], true, input);
    assert_eq!(
        text(&out.stdout),
        "app-<POD1> 1/1 Running 0 <AGE> <IP1> <NODE>\n"
    );
    assert!(Path::new(LAB).exists());
}

/// A step as a live run records it.
fn record(step: &str, command: &str, stdout: &str) -> labrun::record::StepRecord {
    labrun::record::StepRecord {
        step: step.into(),
        command: command.into(),
        stdout: stdout.into(),
        origin: Some("live".into()),
        ..Default::default()
    }
}

/// `labrun check doc.md --replay run.jsonl` on a document and a run of the test's own.
fn check_replay_of(doc: &str, run: &[labrun::record::StepRecord]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.md"), doc).unwrap();
    labrun::record::write(&dir.path().join("run.jsonl"), run).unwrap();
    Command::new(env!("CARGO_BIN_EXE_labrun"))
        .current_dir(dir.path())
        .args(["check", "doc.md", "--replay", "run.jsonl"])
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .output()
        .unwrap()
}

#[test]
fn a_recorder_that_chose_the_other_interchangeable_pod_settles_the_tie() {
    let doc = "# Pods\n\n```console\n$ kubectl get pods\nNAME                   READY   STATUS    RESTARTS   AGE\napp-5586fc9d77-7frts   1/1     Running   0          21m\napp-5586fc9d77-mxhgw   1/1     Running   0          21m\n$ kubectl label pod app-5586fc9d77-7frts app=nope --overwrite\npod/app-5586fc9d77-7frts labeled\n$ kubectl get pods app-5586fc9d77-7frts\nNAME                   READY   STATUS    RESTARTS   AGE\napp-5586fc9d77-7frts   1/1     Running   0          22m\n```\n";
    // Nothing tells the two listed pods apart; this recorder labelled the second one.
    let run = |label: &str| {
        vec![
            record(
                "pods/1",
                "kubectl get pods",
                "NAME                  READY   STATUS    RESTARTS   AGE\napp-6b8f7c9d4-k2zbd   1/1     Running   0          3m\napp-6b8f7c9d4-p9rgv   1/1     Running   0          3m\n",
            ),
            record(
                "pods/2",
                &format!("kubectl label pod app-6b8f7c9d4-{label} app=nope --overwrite"),
                &format!("pod/app-6b8f7c9d4-{label} labeled\n"),
            ),
            record(
                "pods/3",
                &format!("kubectl get pods app-6b8f7c9d4-{label}"),
                &format!(
                    "NAME                  READY   STATUS    RESTARTS   AGE\napp-6b8f7c9d4-{label}   1/1     Running   0          4m\n"
                ),
            ),
        ]
    };
    let out = check_replay_of(doc, &run("p9rgv"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // the same choice, the other way: labrun's own pairing by position
    let out = check_replay_of(doc, &run("k2zbd"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // a pod no row offered is still command drift
    let out = check_replay_of(doc, &run("zq7xv"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("command drift"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_watchs_collected_lines_bind_the_values_they_show() {
    // The new pod's name first appears in the watch; the next command names it.
    let doc = "# Pods\n\n```console\n$ kubectl get pods -w\nNAME                   READY   STATUS    RESTARTS   AGE\napp-5586fc9d77-6dcg2   0/1     Pending   0          0s\napp-5586fc9d77-6dcg2   1/1     Running   0          7s\n$ kubectl logs app-5586fc9d77-6dcg2\nlistening on :8080\n```\n";
    let run = |logs: &str| {
        vec![
            record(
                "pods/1",
                "kubectl get pods -w",
                "NAME                  READY   STATUS    RESTARTS   AGE\napp-6b8f7c9d4-t4fwq   0/1     Pending   0          0s\napp-6b8f7c9d4-t4fwq   0/1     ContainerCreating   0          1s\napp-6b8f7c9d4-t4fwq   1/1     Running   0          6s\n",
            ),
            record(
                "pods/2",
                &format!("kubectl logs app-6b8f7c9d4-{logs}"),
                "listening on :8080\n",
            ),
        ]
    };
    let out = check_replay_of(doc, &run("t4fwq"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = check_replay_of(doc, &run("zq7xv"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("command drift"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn without_a_labrun_toml_the_document_keeps_one_name_and_its_last_run_is_the_default() {
    // no labrun.toml, no repository: the project is the document's directory, wherever
    // labrun is started from
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        docs.join("doc.md"),
        "# Hi\n\n```console\n$ echo hello\nhello\n```\n",
    )
    .unwrap();
    let labrun = |args: &[&str]| common::labrun_with_stdin(&elsewhere, args, true, "");
    assert_eq!(labrun(&["run", "../docs/doc.md"]).status.code(), Some(0));
    assert!(docs.join("target/labrun/doc.md/last.jsonl").is_file());
    assert!(!elsewhere.join("target").exists());
    // check, accept and promote read the last run without --replay
    let out = labrun(&["check", "../docs/doc.md"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 passed"));
    let out = labrun(&["accept", "../docs/doc.md"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(docs.join("snapshots/doc.md.snap").is_file());
    let out = labrun(&["promote", "../docs/doc.md", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // a document never run: the message says what to do
    std::fs::write(docs.join("new.md"), "# New\n").unwrap();
    let out = labrun(&["check", "../docs/new.md"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no run of this document yet"),
        "{}",
        text(&out.stderr)
    );
}

/// Without an accepted entry, review shows the live output against what the document prints
/// (what check compared it with), not against nothing; and a later check where the step
/// passes takes its pending entry away.
#[test]
fn review_compares_with_the_document_and_a_passing_check_drops_stale_pending_entries() {
    let s = Scratch::new();
    let clean = std::fs::read(s.path("run.jsonl")).unwrap();
    break_step(&s, "explore-statefulsets/2");
    let out = s.labrun(&["check", "lab.adoc", "--replay", "run.jsonl"], false, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(s.path("snaps/lab.adoc.snap.new").exists());
    let out = s.labrun(&["review", "lab.adoc"], false, "s\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains(
            "(- the document's printed output (no accepted entry yet), + the live output)"
        ),
        "{shown}"
    );
    let removed = shown
        .lines()
        .any(|l| l.starts_with('-') && l.contains("Running"));
    let added = shown
        .lines()
        .any(|l| l.starts_with('+') && l.contains("Pending"));
    assert!(removed && added, "{shown}");
    assert!(
        s.path("snaps/lab.adoc.snap.new").exists(),
        "skipped: still pending"
    );
    // the step passes again: nothing is pending for it any more
    std::fs::write(s.path("run.jsonl"), clean).unwrap();
    let out = s.labrun(&["check", "lab.adoc", "--replay", "run.jsonl"], false, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(!s.path("snaps/lab.adoc.snap.new").exists());
    assert!(
        text(&out.stderr).contains("is gone: every step it held passes now"),
        "{}",
        text(&out.stderr)
    );
}
