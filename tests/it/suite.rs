//! Many documents in one run (issue 14): a book and generated chapters together, shards that
//! are disjoint and cover everything, shard reports merged into the unsharded report,
//! `--changed`, and Ctrl-C during a parallel run.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{processes_with, text};

const BIN: &str = env!("CARGO_BIN_EXE_labrun");

fn labrun(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("CI", "true")
        .output()
        .unwrap()
}

/// A project of `n` generated one-step chapters under `docs/` (chapter `fail` drifts).
fn generated(n: usize, fail: Option<usize>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("labrun.toml"), "retry = \"1s\"\n").unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    for i in 0..n {
        let printed = if Some(i) == fail { "other" } else { "word" };
        std::fs::write(
            dir.path().join(format!("docs/ch{i:02}.md")),
            format!("# Chapter {i}\n\n```console\n$ echo word{i}\n{printed}{i}\n```\n"),
        )
        .unwrap();
    }
    dir
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

fn names(report: &serde_json::Value) -> Vec<String> {
    report["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["document"].as_str().unwrap().to_string())
        .collect()
}

/// The report without its timings.
fn untimed(mut v: serde_json::Value) -> serde_json::Value {
    v["summary"]["duration_ms"] = 0.into();
    for d in v["documents"].as_array_mut().unwrap() {
        d["duration_ms"] = 0.into();
    }
    v
}

#[test]
fn a_book_and_generated_chapters_run_together_and_one_failure_stops_none() {
    // the project's own book (introduction, the Pod-on-host chapter in a network namespace,
    // the kind lab, which the local backend refuses) and three generated chapters, one
    // drifting
    let dir = common::scratch_project();
    let extra = generated(3, Some(1));
    common::copy_tree(&extra.path().join("docs"), &dir.path().join("docs"));
    let out = labrun(
        dir.path(),
        &[
            "run", "book", "docs", "--netns", "--jobs", "3", "--format", "json",
        ],
    );
    let report = json(&out);
    assert_eq!(
        names(&report),
        [
            "book/src/introduction.md",
            "book/src/pod-on-host.md",
            "book/src/kubernetes-networking-abstractions.adoc",
            "docs/ch00.md",
            "docs/ch01.md",
            "docs/ch02.md"
        ],
        "book chapters in SUMMARY order, then the directory's documents sorted"
    );
    let outcome = |i: usize| {
        report["documents"][i]["outcome"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(outcome(0), "passed", "a chapter without steps");
    assert_eq!(outcome(1), "passed", "{}", text(&out));
    assert_eq!(outcome(2), "error");
    assert!(
        report["documents"][2]["message"]
            .as_str()
            .unwrap()
            .contains("refusing"),
        "{report}"
    );
    assert_eq!(
        (outcome(3), outcome(4), outcome(5)),
        ("passed".into(), "failed".into(), "passed".into())
    );
    assert_eq!(report["summary"]["documents"], 6);
    assert_eq!(report["summary"]["failed"], 1);
    assert_eq!(report["summary"]["errors"], 1);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the first error's code: {}",
        text(&out)
    );
    // each document's run in its own directory
    assert_eq!(
        common::run_dirs(dir.path(), "book/src/pod-on-host.md").len(),
        1
    );
    assert_eq!(common::run_dirs(dir.path(), "docs/ch01.md").len(), 1);
}

#[test]
fn shards_are_disjoint_cover_every_document_and_merge_into_the_unsharded_report() {
    let dir = generated(7, Some(4));
    let whole = labrun(
        dir.path(),
        &["run", "docs", "--jobs", "2", "--format", "json"],
    );
    assert_eq!(whole.status.code(), Some(1), "{}", text(&whole));
    let whole_report = json(&whole);
    for kind in ["count", "hash"] {
        let mut files = Vec::new();
        let mut seen = Vec::new();
        for k in 1..=3 {
            let out = labrun(
                dir.path(),
                &[
                    "run",
                    "docs",
                    "--partition",
                    &format!("{kind}:{k}/3"),
                    "--format",
                    "json",
                ],
            );
            let file = dir.path().join(format!("{kind}-{k}.json"));
            std::fs::write(&file, &out.stdout).unwrap();
            seen.extend(names(&json(&out)));
            files.push(file.display().to_string());
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "{kind}: shards overlap: {seen:?}");
        assert_eq!(sorted, names(&whole_report), "{kind}: every document once");
        let mut args = vec!["report", "merge", "--format", "json"];
        args.extend(files.iter().map(String::as_str));
        let merged = labrun(dir.path(), &args);
        assert_eq!(merged.status.code(), Some(1), "{}", text(&merged));
        assert_eq!(
            untimed(json(&merged)),
            untimed(whole_report.clone()),
            "{kind}"
        );
        // the human report, which holds no timings, is the same text
        let mut args = vec!["report", "merge"];
        args.extend(files.iter().map(String::as_str));
        let merged = labrun(dir.path(), &args);
        let unsharded = labrun(dir.path(), &["run", "docs"]);
        assert_eq!(text_of(&merged), text_of(&unsharded), "{kind}");
        // merging a shard twice is refused
        let twice = labrun(dir.path(), &["report", "merge", &files[0], &files[0]]);
        assert_eq!(twice.status.code(), Some(2), "{}", text(&twice));
        assert!(
            text(&twice).contains("the shards overlap"),
            "{}",
            text(&twice)
        );
    }
}

/// A report that was forged, edited or cut short is refused, saying what is wrong with it.
#[test]
fn merge_refuses_reports_labrun_did_not_write_and_names_the_field() {
    let dir = generated(2, Some(1));
    let real = labrun(dir.path(), &["run", "docs", "--format", "json"]);
    assert_eq!(real.status.code(), Some(1), "{}", text(&real));
    let report: serde_json::Value = json(&real);
    let merge = |value: &str| {
        std::fs::write(dir.path().join("r.json"), value).unwrap();
        labrun(dir.path(), &["report", "merge", "r.json"])
    };
    // the real report merges (and a byte-order mark before it is no error)
    let ok = merge(&format!("\u{feff}{report}"));
    assert_eq!(ok.status.code(), Some(1), "{}", text(&ok));
    let cases: Vec<(String, &str)> = vec![
        (
            r#"{"documents":[],"summary":{}}"#.into(),
            "r.json:1: not a labrun report of many documents at `summary`: missing field `documents`",
        ),
        (
            {
                let mut r = report.clone();
                r["documents"][1]["exit_code"] = "one".into();
                r.to_string()
            },
            "at `documents[1].exit_code`: invalid type: string \"one\"",
        ),
        (
            {
                let mut r = report.clone();
                r["documents"][1]["exit_code"] = 0.into();
                r.to_string()
            },
            "`documents[1]` (docs/ch01.md) is failed with exit code 0",
        ),
        (
            {
                let mut r = report.clone();
                r["summary"]["passed"] = 2.into();
                r.to_string()
            },
            "its `summary` does not add up to its documents (2 documents, 2 passed, 1 failed",
        ),
    ];
    for (value, message) in cases {
        let out = merge(&value);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains(message),
            "wanted {message:?} in {}",
            text(&out)
        );
    }
}

fn text_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn changed_skips_exactly_the_documents_whose_inputs_are_as_at_their_last_pass() {
    let dir = generated(4, None);
    let first = labrun(
        dir.path(),
        &["run", "docs", "--changed", "--format", "json"],
    );
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let outcomes = |o: &Output| -> Vec<String> {
        json(o)["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["outcome"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(outcomes(&first), ["passed"; 4]);
    // one document's bytes change (it still passes): only it runs again
    let p = dir.path().join("docs/ch02.md");
    let t = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, t.replace("# Chapter 2", "# Chapter two")).unwrap();
    let second = labrun(
        dir.path(),
        &["run", "docs", "--changed", "--format", "json"],
    );
    assert_eq!(
        outcomes(&second),
        ["unchanged", "unchanged", "passed", "unchanged"]
    );
    assert!(
        json(&second)["documents"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("unchanged since 20"),
        "{}",
        text(&second)
    );
    // a file of the workdir they share (the documents' directory) changes: all run
    std::fs::write(dir.path().join("docs/data.txt"), "x").unwrap();
    let third = labrun(
        dir.path(),
        &["run", "docs", "--changed", "--format", "json"],
    );
    assert_eq!(outcomes(&third), ["passed"; 4]);
    // the configuration changes: all run; a failing run records no pass
    std::fs::write(dir.path().join("labrun.toml"), "retry = \"2s\"\n").unwrap();
    let t = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, t.replace("word2\n```", "drift2\n```")).unwrap();
    let fourth = labrun(
        dir.path(),
        &["run", "docs", "--changed", "--format", "json"],
    );
    assert_eq!(outcomes(&fourth), ["passed", "passed", "failed", "passed"]);
    let fifth = labrun(
        dir.path(),
        &["run", "docs", "--changed", "--format", "json"],
    );
    assert_eq!(
        outcomes(&fifth),
        ["unchanged", "unchanged", "failed", "unchanged"]
    );
}

#[test]
fn ctrl_c_during_a_parallel_run_leaves_no_process_and_every_started_run_written() {
    let marker = format!("labrun-suite-int-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("labrun.toml"), "").unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    for i in 0..3 {
        std::fs::write(
            dir.path().join(format!("docs/d{i}.md")),
            format!(
                "# D{i}\n\n```console\n$ echo start{i}\nstart{i}\n$ setsid bash -c 'exec -a {marker}-{i} sleep 300' & bash -c 'exec -a {marker}-fg{i} sleep 300'\n```\n"
            ),
        )
        .unwrap();
    }
    let child = Command::new(BIN)
        .args(["run", "docs", "--jobs", "3", "--format", "json"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while (0..3).any(|i| processes_with(&format!("{marker}-fg{i}")).is_empty()) {
        assert!(
            Instant::now() < deadline,
            "the three documents never all started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let mut left = processes_with(&marker);
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        left = processes_with(&marker);
    }
    assert!(left.is_empty(), "left behind: {left:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for d in report["documents"].as_array().unwrap() {
        assert_eq!(d["outcome"], "interrupted", "{report}");
    }
    for i in 0..3 {
        let last = dir
            .path()
            .join(format!("target/labrun/docs/d{i}.md/last.jsonl"));
        let records = labrun::record::read(&last).unwrap();
        assert_eq!(records.len(), 1, "d{i}: the step that ended is recorded");
    }
}
