//! Runs and accepts of documents side by side (issue 16, items 2 and 8): every run in a
//! directory of its own, one run of a document at a time, names derived from the document's
//! path, and a snapshot and its kept run written as one unit, modes kept.

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::text;

fn labrun(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .unwrap()
}

/// A project (a `labrun.toml` at its root) with `files` written into it.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("labrun.toml"), "").unwrap();
    for (name, body) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    dir
}

const ECHO: &str = "# Intro\n\n```console\n$ echo hello\nhello\n```\n";

#[test]
fn documents_of_one_file_name_in_two_folders_share_no_snapshot_and_no_run() {
    let other = ECHO.replace("hello", "bonjour");
    let dir = project(&[("a/intro.md", ECHO), ("b/intro.md", &other)]);
    for doc in ["a/intro.md", "b/intro.md"] {
        let out = labrun(dir.path(), &["run", doc]);
        assert_eq!(out.status.code(), Some(0), "{doc}: {}", text(&out));
        let out = labrun(
            dir.path(),
            &[
                "accept",
                doc,
                "--replay",
                &format!("target/labrun/{doc}/last.jsonl"),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{doc}: {}", text(&out));
    }
    let a = std::fs::read_to_string(dir.path().join("snapshots/a/intro.md.snap")).unwrap();
    let b = std::fs::read_to_string(dir.path().join("snapshots/b/intro.md.snap")).unwrap();
    assert!(a.contains("| hello") && !a.contains("bonjour"), "{a}");
    assert!(b.contains("| bonjour") && !b.contains("| hello"), "{b}");
    assert!(a.contains("# document: a/intro.md"), "{a}");
    assert_eq!(common::run_dirs(dir.path(), "a/intro.md").len(), 1);
    assert_eq!(common::run_dirs(dir.path(), "b/intro.md").len(), 1);
    // each still passes against its own snapshot
    for doc in ["a/intro.md", "b/intro.md"] {
        let out = labrun(dir.path(), &["run", doc]);
        assert_eq!(out.status.code(), Some(0), "{doc}: {}", text(&out));
    }
}

#[test]
fn runs_of_one_document_in_quick_succession_each_get_their_own_directory() {
    let dir = project(&[("doc.md", ECHO)]);
    for _ in 0..3 {
        let out = labrun(dir.path(), &["run", "doc.md"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let runs = common::run_dirs(dir.path(), "doc.md");
    assert_eq!(runs.len(), 3, "{runs:?}");
    // only the newest runs keep their scratch copy
    let with_work = runs.iter().filter(|r| r.join("work").exists()).count();
    assert_eq!(with_work, labrun::workspace::SCRATCH_KEPT);
    let last = std::fs::read(dir.path().join("target/labrun/doc.md/last.jsonl")).unwrap();
    assert_eq!(last, std::fs::read(runs[2].join("run.jsonl")).unwrap());
}

#[test]
fn a_second_run_of_a_running_document_is_refused_or_waits_with_wait() {
    let slow = "# Slow\n\n```console\n$ sleep 3; echo done\ndone\n```\n";
    let dir = project(&[("doc.md", slow)]);
    let first = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(["run", "doc.md"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // the lock exists once the first run holds it
    let lock = dir.path().join("target/labrun/doc.md/lock");
    let held = |p: &Path| {
        std::fs::read_to_string(p).is_ok_and(|t| t.contains(&format!("pid {}", first.id())))
    };
    while !held(&lock) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = labrun(dir.path(), &["run", "doc.md"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("is in use by labrun pid"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("--wait"), "{}", text(&out));
    let waited = labrun(dir.path(), &["run", "doc.md", "--wait"]);
    assert_eq!(waited.status.code(), Some(0), "{}", text(&waited));
    assert!(
        text(&waited).contains("waiting for labrun pid"),
        "{}",
        text(&waited)
    );
    let mut first = first;
    assert!(first.wait().unwrap().success());
    // two runs recorded, each whole, in directories of their own; the refused one made none
    let runs = common::run_dirs(dir.path(), "doc.md");
    assert_eq!(runs.len(), 2, "{runs:?}");
    for r in &runs {
        let records = labrun::record::read(&r.join("run.jsonl")).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].stdout, "done\n");
    }
}

/// A run file of the one-step document with `word` as its live output.
fn live_run(dir: &Path, name: &str, word: &str) -> String {
    let record = labrun::record::StepRecord {
        step: "intro/1".into(),
        command: "echo hello".into(),
        stdout: format!("{word}\n"),
        origin: Some("live".into()),
        ..Default::default()
    };
    labrun::record::write(&dir.join(name), &[record]).unwrap();
    name.to_string()
}

#[test]
fn concurrent_accepts_leave_a_snapshot_and_its_run_from_the_same_accept() {
    let dir = project(&[("doc.md", ECHO)]);
    let runs: Vec<String> = (0..16)
        .map(|i| live_run(dir.path(), &format!("run{i}.jsonl"), &format!("word{i}")))
        .collect();
    let children: Vec<_> = runs
        .iter()
        .map(|r| {
            Command::new(env!("CARGO_BIN_EXE_labrun"))
                .args(["accept", "doc.md", "--replay", r])
                .current_dir(dir.path())
                .env_remove("CI")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let snap_path = dir.path().join("snapshots/doc.md.snap");
    let snap = std::fs::read_to_string(&snap_path).unwrap();
    let kept = dir.path().join("snapshots/doc.md.run.jsonl");
    let digest = labrun::snapshot::digest_file(&kept).unwrap();
    assert!(snap.contains(&format!("# run: {digest}")), "{snap}");
    // and the entry is the kept run's output
    let word = labrun::record::read(&kept).unwrap()[0]
        .stdout
        .trim()
        .to_string();
    assert!(snap.contains(&format!("| {word}")), "{word} in {snap}");
    // the document still prints `hello`, which no accepted run printed: document drift,
    // allowed here (the snapshot and the kept run are what this test is about)
    let out = labrun(
        dir.path(),
        &[
            "check",
            "doc.md",
            "--replay",
            "snapshots/doc.md.run.jsonl",
            "--allow-doc-drift",
        ],
    );
    assert!(text(&out).contains("PASS"), "{}", text(&out));
}

#[test]
fn accept_keeps_the_modes_of_the_snapshot_and_of_the_kept_run() {
    let dir = project(&[("doc.md", ECHO)]);
    let first = live_run(dir.path(), "one.jsonl", "hello");
    let out = labrun(dir.path(), &["accept", "doc.md", "--replay", &first]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let snap = dir.path().join("snapshots/doc.md.snap");
    let kept = dir.path().join("snapshots/doc.md.run.jsonl");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // new files: what any program writing them would give (0666 less the umask)
    assert_eq!(mode(&snap) & 0o600, 0o600);
    assert_ne!(mode(&snap), 0o600, "not the temporary file's 0600");
    for (p, m) in [(&snap, 0o644), (&kept, 0o640)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let second = live_run(dir.path(), "two.jsonl", "hello");
    let out = labrun(dir.path(), &["accept", "doc.md", "--replay", &second]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mode(&snap), 0o644);
    assert_eq!(mode(&kept), 0o640);
}

#[test]
fn a_snapshot_under_an_old_name_is_read_and_moved_by_the_next_accept() {
    // the names earlier labruns used: the stem at the top (before names were paths), and the
    // path without the extension (before names kept it)
    for old_name in ["doc", "docs/doc"] {
        let dir = project(&[("docs/doc.md", ECHO)]);
        let run = live_run(dir.path(), "one.jsonl", "hello");
        let out = labrun(dir.path(), &["accept", "docs/doc.md", "--replay", &run]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let snaps = dir.path().join("snapshots");
        let new = snaps.join("docs/doc.md.snap");
        let old = snaps.join(format!("{old_name}.snap"));
        std::fs::rename(&new, &old).unwrap();
        std::fs::rename(
            snaps.join("docs/doc.md.run.jsonl"),
            snaps.join(format!("{old_name}.run.jsonl")),
        )
        .unwrap();
        let out = labrun(dir.path(), &["check", "docs/doc.md", "--replay", &run]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).contains("the name labrun used before"),
            "{old_name}: {}",
            text(&out)
        );
        let out = labrun(dir.path(), &["accept", "docs/doc.md", "--replay", &run]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(new.is_file() && !old.exists(), "{old_name}");
        assert!(snaps.join("docs/doc.md.run.jsonl").is_file());
        assert!(!snaps.join(format!("{old_name}.run.jsonl")).exists());
        // an old-named snapshot of another document is never taken for this one's
        std::fs::write(&old, "# labrun snapshot\n# document: elsewhere/doc.md\n").unwrap();
        std::fs::remove_file(&new).unwrap();
        let out = labrun(dir.path(), &["check", "docs/doc.md", "--replay", &run]);
        assert!(
            !text(&out).contains("the name labrun used before"),
            "{}",
            text(&out)
        );
    }
}

/// `intro.md` and `intro.adoc` side by side: two names, two snapshots, two run directories;
/// accepting one leaves the other as it was.
#[test]
fn one_stem_in_two_formats_shares_no_snapshot_and_no_run() {
    let adoc = "= Intro\n\n[source,console]\n----\n$ echo bonjour\nbonjour\n----\n";
    let dir = project(&[("intro.md", ECHO), ("intro.adoc", adoc)]);
    for doc in ["intro.md", "intro.adoc"] {
        let out = labrun(dir.path(), &["run", doc]);
        assert_eq!(out.status.code(), Some(0), "{doc}: {}", text(&out));
        let out = labrun(dir.path(), &["accept", doc]);
        assert_eq!(out.status.code(), Some(0), "{doc}: {}", text(&out));
    }
    let md = std::fs::read_to_string(dir.path().join("snapshots/intro.md.snap")).unwrap();
    let adoc = std::fs::read_to_string(dir.path().join("snapshots/intro.adoc.snap")).unwrap();
    assert!(md.contains("| hello") && !md.contains("bonjour"), "{md}");
    assert!(
        adoc.contains("| bonjour") && !adoc.contains("hello"),
        "{adoc}"
    );
    assert_eq!(common::run_dirs(dir.path(), "intro.md").len(), 1);
    assert_eq!(common::run_dirs(dir.path(), "intro.adoc").len(), 1);
    for doc in ["intro.md", "intro.adoc"] {
        let out = labrun(dir.path(), &["check", doc]);
        assert_eq!(out.status.code(), Some(0), "{doc}: {}", text(&out));
    }
}
