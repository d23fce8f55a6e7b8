//! `labrun promote` through the binary, on a scratch copy of the project: the lab against a
//! simulated fresh cluster (with one substantive change at a time), a Markdown document of
//! local commands run for real, and the Pod-on-host chapter from a real `--netns` run.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use labrun::record::StepRecord;

fn labrun(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(args)
        .current_dir(dir)
        .env("CI", "1")
        .output()
        .unwrap()
}

/// A scratch project whose lab has no snapshot: the document is what runs compare with.
fn project() -> tempfile::TempDir {
    let dir = scratch_project();
    std::fs::remove_file(
        dir.path()
            .join("snapshots/book/src/kubernetes-networking-abstractions.adoc.snap"),
    )
    .ok();
    dir
}

fn write_run(dir: &Path, records: &[StepRecord]) {
    labrun::record::write(&dir.join("run.jsonl"), records).unwrap();
}

fn lab(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(LAB)).unwrap()
}

/// Promote `run.jsonl` into the lab; the lines that changed (old, new), in order.
fn promoted(dir: &Path, records: &[StepRecord]) -> (Output, Vec<(String, String)>) {
    write_run(dir, records);
    let before = lab(dir);
    let out = labrun(dir, &["promote", LAB, "--replay", "run.jsonl"]);
    let after = lab(dir);
    (out, changed_lines(&before, &after))
}

/// Lines removed and added, paired where they replace each other.
fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = Vec::new();
    for group in diff.grouped_ops(0) {
        for op in group {
            let (o, n) = (op.old_range(), op.new_range());
            let old: Vec<&str> = before.split_inclusive('\n').collect::<Vec<_>>()[o].to_vec();
            let new: Vec<&str> = after.split_inclusive('\n').collect::<Vec<_>>()[n].to_vec();
            if old == new {
                continue;
            }
            for k in 0..old.len().max(new.len()) {
                out.push((
                    old.get(k).unwrap_or(&"").to_string(),
                    new.get(k).unwrap_or(&"").to_string(),
                ));
            }
        }
    }
    out
}

fn text(o: &Output) -> String {
    common::text(o)
}

/// After promoting, `labrun check` of the same run passes every step of the lab that can, and
/// `labrun list` gives the same ids.
fn checks_and_lists_as_before(dir: &Path, ids_before: &[String]) {
    let check = labrun(
        dir,
        &["check", LAB, "--replay", "run.jsonl", "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let failed: Vec<&serde_json::Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "fail")
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    let steps = labrun::steps::split(&labrun::document::load(&dir.join(LAB)).unwrap());
    let ids: Vec<String> = steps.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, ids_before);
}

fn ids() -> Vec<String> {
    lab_steps().iter().map(|s| s.id.clone()).collect()
}

#[test]
fn a_fresh_cluster_with_nothing_substantive_changed_promotes_to_no_change_at_all() {
    let dir = project();
    let (out, changed) = promoted(dir.path(), &fresh_cluster());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("promoted 0 step(s)"), "{}", text(&out));
    assert_eq!(changed, Vec::<(String, String)>::new());
}

#[test]
fn a_changed_node_port_promotes_to_a_one_line_diff_with_the_authors_spacing() {
    let dir = project();
    let mut run = fresh_cluster();
    let r = run.iter_mut().find(|r| r.step == "nodeport/6").unwrap();
    r.stdout = r.stdout.replace("30040/TCP", "30041/TCP");
    let (out, changed) = promoted(dir.path(), &run);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        changed,
        [(
            "NodePort:                 echo  30040/TCP\n".to_string(),
            "NodePort:                 echo  30041/TCP\n".to_string()
        )]
    );
    checks_and_lists_as_before(dir.path(), &ids());
}

#[test]
fn a_missing_endpoint_changes_the_one_line_keeping_the_authors_addresses() {
    let dir = project();
    let mut run = fresh_cluster();
    let r = run.iter_mut().find(|r| r.step == "nodeport/6").unwrap();
    r.stdout = r.stdout.replace(" + 1 more...", "");
    let (out, changed) = promoted(dir.path(), &run);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        changed,
        [(
            "Endpoints:                10.244.1.5:8080,10.244.2.7:8080,10.244.2.8:8080 + 1 more...\n"
                .to_string(),
            "Endpoints:                10.244.1.5:8080,10.244.2.7:8080,10.244.2.8:8080\n"
                .to_string()
        )]
    );
    checks_and_lists_as_before(dir.path(), &ids());
}

#[test]
fn an_extra_pod_row_is_one_added_line_written_with_the_authors_names_and_nodes() {
    let dir = project();
    let mut run = fresh_cluster();
    let r = run.iter_mut().find(|r| r.step == "nodeport/2").unwrap();
    // a fifth replica of the same ReplicaSet, on the node the author calls kind-worker2
    let extra = "app-7d4f8b6c5-q8zrt      1/1      Running      0      9s      10.244.7.9      kind-worker3      <none>      <none>";
    r.stdout = format!("{}{extra}\n", r.stdout);
    let (out, changed) = promoted(dir.path(), &run);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(changed.len(), 1, "{changed:?}");
    let (old, new) = &changed[0];
    assert_eq!(old, "");
    // the ReplicaSet hash and the node as the author wrote them, the new suffix, address and
    // age as seen, on the author's columns
    assert_eq!(
        new,
        "app-9cc7d9df8-q8zrt   1/1     Running   0          9s    10.244.7.9   kind-worker2   <none>           <none>\n"
    );
    checks_and_lists_as_before(dir.path(), &ids());
}

#[test]
fn command_drift_and_exit_codes_are_listed_not_rewritten() {
    let dir = project();
    let mut run = fresh_cluster();
    let r = run.iter_mut().find(|r| r.step == "nodeport/6").unwrap();
    r.stdout = r.stdout.replace("30040/TCP", "30041/TCP");
    r.exit_code = 1;
    let (out, changed) = promoted(dir.path(), &run);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(changed.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{LAB}:288: step nodeport/6 not promoted: it exited with 1"
        )),
        "{err}"
    );
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let dir = project();
    let mut run = fresh_cluster();
    let r = run.iter_mut().find(|r| r.step == "nodeport/6").unwrap();
    r.stdout = r.stdout.replace("30040/TCP", "30041/TCP");
    write_run(dir.path(), &run);
    let before = lab(dir.path());
    let out = labrun(
        dir.path(),
        &["promote", LAB, "--replay", "run.jsonl", "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains(&format!("--- a/{LAB}")), "{diff}");
    assert!(
        diff.contains("-NodePort:                 echo  30040/TCP"),
        "{diff}"
    );
    assert!(
        diff.contains("+NodePort:                 echo  30041/TCP"),
        "{diff}"
    );
    assert!(diff.contains("would promote 1 step(s)"), "{diff}");
    assert_eq!(lab(dir.path()), before);
}

#[test]
fn a_run_of_another_version_of_the_document_is_refused() {
    let dir = project();
    let mut run = fresh_cluster();
    // the ids shifted: this record is another step's
    let r = run.iter_mut().find(|r| r.step == "nodeport/6").unwrap();
    r.command = "kubectl get pods -o wide".into();
    write_run(dir.path(), &run);
    let before = lab(dir.path());
    let out = labrun(dir.path(), &["promote", LAB, "--replay", "run.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another version of the document"), "{err}");
    assert_eq!(lab(dir.path()), before);
}

/// A Markdown document of local commands: list-nested fences and an output block of its own,
/// its printed output stale in three places.
const STALE: &str = "# Files\n\n\
1. Make two files:\n\n   ```bash\n   printf 'alpha\\nbeta\\n' > one.txt\n   printf 'gamma\\n' > two.txt\n   ```\n\n\
2. Count their lines:\n\n   ```bash\n   wc -l one.txt two.txt\n    2 one.txt\n    3 two.txt\n    5 total\n   ```\n\n\
> Read one back:\n>\n> ```bash\n> cat one.txt\n> alpha\n> delta\n> ```\n\n\
```bash\nls *.txt\n```\n\nThe output is similar to:\n\n```\none.txt\nthree.txt\n```\n";

#[test]
fn a_markdown_document_promotes_from_a_real_run_keeping_its_containers() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("files.md");
    std::fs::write(&doc, STALE).unwrap();
    // the stale steps are read-only: retried until their budget, kept short here
    std::fs::write(dir.path().join("labrun.toml"), "retry = \"1s\"\n").unwrap();
    let run = labrun(dir.path(), &["run", "files.md"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let last = dir.path().join("target/labrun/files.md/last.jsonl");
    let out = labrun(
        dir.path(),
        &["promote", "files.md", "--replay", last.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after = std::fs::read_to_string(&doc).unwrap();
    let expected = STALE
        .replace("    3 two.txt\n    5 total", "    1 two.txt\n    3 total")
        .replace("> delta", "> beta")
        .replace("three.txt", "two.txt");
    assert_eq!(after, expected);
    let check = labrun(
        dir.path(),
        &["check", "files.md", "--replay", last.to_str().unwrap()],
    );
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}

const POD: &str = "book/src/pod-on-host.md";
const STATS: &str = "2 packets transmitted, 2 received, 0% packet loss, time 1021ms";
const STALE_STATS: &str = "2 packets transmitted, 1 received, 50% packet loss, time 1021ms";

/// The Pod-on-host chapter with its first ping's statistics gone stale.
fn stale_chapter(dir: &Path) -> String {
    let path = dir.join(POD);
    let original = std::fs::read_to_string(&path).unwrap();
    assert_eq!(original.matches(STATS).count(), 1);
    std::fs::write(&path, original.replace(STATS, STALE_STATS)).unwrap();
    original
}

#[test]
fn the_pod_on_host_chapter_promotes_from_a_real_netns_run_to_the_authors_text() {
    let dir = scratch_project();
    let original = stale_chapter(dir.path());
    let run = labrun(dir.path(), &["run", POD, "--netns"]);
    // the snapshot agrees with the run; the stale prose is a failed step: document drift
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(
        text(&run).contains("document drift: line"),
        "{}",
        text(&run)
    );
    assert!(
        text(&run).contains("promote --from-snapshot"),
        "{}",
        text(&run)
    );
    let last = "target/labrun/book/src/pod-on-host.md/last.jsonl";
    let out = labrun(dir.path(), &["promote", POD, "--replay", last]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("promoted 1 step(s)"), "{}", text(&out));
    // every address, MAC, round-trip time and the ping's own time as the author wrote them
    assert_eq!(
        std::fs::read_to_string(dir.path().join(POD)).unwrap(),
        original
    );
    let check = labrun(
        dir.path(),
        &["check", POD, "--replay", last, "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(
        report["doc_drift"],
        serde_json::json!([]),
        "no stale prose left"
    );
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}

#[test]
fn from_snapshot_promotes_the_live_run_kept_beside_the_snapshot() {
    let dir = scratch_project();
    let original = stale_chapter(dir.path());
    let out = labrun(dir.path(), &["promote", POD, "--from-snapshot"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(POD)).unwrap(),
        original
    );
    // nothing kept: a clear refusal
    std::fs::remove_file(
        dir.path()
            .join("snapshots/book/src/pod-on-host.md.run.jsonl"),
    )
    .unwrap();
    let out = labrun(dir.path(), &["promote", POD, "--from-snapshot"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no live run is kept"), "{}", text(&out));
}

#[test]
fn review_can_promote_an_entry_into_the_document_as_well() {
    let dir = scratch_project();
    let kept = std::fs::read_to_string(
        dir.path()
            .join("snapshots/book/src/pod-on-host.md.run.jsonl"),
    )
    .unwrap();
    // the chapter's real run, with its first ping's statistics changed: a run that drifted
    let drifted = kept.replace(
        "2 packets transmitted, 2 received, 0% packet loss",
        "2 packets transmitted, 1 received, 50% packet loss",
    );
    assert_ne!(drifted, kept);
    std::fs::write(dir.path().join("drifted.jsonl"), drifted).unwrap();
    let labrun_tty = |args: &[&str], stdin: &str| labrun_with_stdin(dir.path(), args, false, stdin);
    let check = labrun_tty(&["check", POD, "--replay", "drifted.jsonl"], "");
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    let review = labrun_tty(&["review", POD, "--replay", "drifted.jsonl"], "p\n");
    assert_eq!(review.status.code(), Some(0), "{}", text(&review));
    assert!(
        text(&review).contains("promoted 1 step(s)"),
        "{}",
        text(&review)
    );
    let chapter = std::fs::read_to_string(dir.path().join(POD)).unwrap();
    assert!(
        chapter.contains(STALE_STATS),
        "the document now says what the run printed"
    );
    let check = labrun(
        dir.path(),
        &[
            "check",
            POD,
            "--replay",
            "drifted.jsonl",
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert_eq!(report["doc_drift"], serde_json::json!([]));
}

#[test]
fn line_endings_and_tabs_stay_as_the_author_wrote_them() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "# Tabs\r\n\r\n```bash\r\nprintf 'a\\tb\\nc\\td\\n'\r\na\tb\r\nc\tx\r\n```\r\n";
    std::fs::write(dir.path().join("tabs.md"), doc).unwrap();
    std::fs::write(dir.path().join("labrun.toml"), "retry = \"1s\"\n").unwrap();
    let run = labrun(dir.path(), &["run", "tabs.md"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let out = labrun(
        dir.path(),
        &[
            "promote",
            "tabs.md",
            "--replay",
            "target/labrun/tabs.md/last.jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after = std::fs::read_to_string(dir.path().join("tabs.md")).unwrap();
    assert_eq!(after, doc.replace("c\tx\r\n", "c\td\r\n"));
}

#[test]
fn an_unordered_block_keeps_its_order_and_the_authors_cuts_stay_cut() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "# Order\n\n<!-- labrun: unordered -->\n```bash\nprintf 'c\\nb\\na\\nz\\n'\na\nb\nc\nd\n```\n\n\
```bash\nseq 1 9\n1\n...\n9\n```\n\n```bash\nprintf 'x\\n'\ny\n```\n";
    std::fs::write(dir.path().join("order.md"), doc).unwrap();
    std::fs::write(dir.path().join("labrun.toml"), "retry = \"1s\"\n").unwrap();
    let run = labrun(dir.path(), &["run", "order.md"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let last = "target/labrun/order.md/last.jsonl";
    // only the first step
    let out = labrun(
        dir.path(),
        &["promote", "order.md", "--replay", last, "--step", "order/1"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after = std::fs::read_to_string(dir.path().join("order.md")).unwrap();
    assert_eq!(
        after,
        doc.replace("c\nd\n", "c\nz\n"),
        "the author's order, the one changed row"
    );
    // all of them: the cut stays (and is listed: the check still compares every line), the last
    // step's line changes
    let out = labrun(dir.path(), &["promote", "order.md", "--replay", last]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "order.md:13: step order/2 not promoted: what changed lies where the author cut"
        ),
        "{}",
        text(&out)
    );
    let after = std::fs::read_to_string(dir.path().join("order.md")).unwrap();
    assert_eq!(
        after,
        doc.replace("c\nd\n", "c\nz\n").replace("\ny\n", "\nx\n")
    );
}
