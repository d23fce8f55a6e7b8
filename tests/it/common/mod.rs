//! Helpers shared by integration tests: runs built from the lab's own printed output.
//!
//! Such runs are labelled `origin: "simulated"`; they stand for no observation.

#![allow(dead_code)]

pub mod tls;

use std::path::Path;

use labrun::bind::strip_tty;
use labrun::record::StepRecord;
use labrun::steps::Step;

pub const LAB: &str = "book/src/kubernetes-networking-abstractions.adoc";

pub fn lab_steps() -> Vec<Step> {
    labrun::steps::split(&labrun::document::load(Path::new(LAB)).unwrap())
}

/// A run in which every step printed exactly what the document shows.
pub fn run_from_document(steps: &[Step]) -> Vec<StepRecord> {
    steps
        .iter()
        .filter(|s| !s.directives.skip)
        .map(|s| StepRecord {
            step: s.id.clone(),
            command: strip_tty(&s.command),
            stdout: if s.expected.is_empty() {
                String::new()
            } else {
                s.expected.text().to_owned() + "\n"
            },
            stderr: String::new(),
            exit_code: 0,
            duration_ms: 1,
            origin: Some("simulated".into()),
            ..Default::default()
        })
        .collect()
}

/// Replace every `(old, new)` at once (no chains), longest first.
pub fn substitute(text: &str, table: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = table.iter().collect();
    sorted.sort_by_key(|(o, _)| std::cmp::Reverse(o.len()));
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    'outer: while i < text.len() {
        for (old, new) in &sorted {
            if text[i..].starts_with(old) {
                out.push_str(new);
                i += old.len();
                continue 'outer;
            }
        }
        let c = text[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// What a fresh cluster changes: every address, generated name, hash, MAC, container id,
/// interface index, PID, DNS id and TTL, and the node each worker name stands for.
pub const FRESH: &[(&str, &str)] = &[
    // pod, service and node addresses (the three written forms)
    ("10.244.1.", "10.244.7."),
    ("10.244.2.", "10.244.5."),
    ("10.244.3.", "10.244.9."),
    ("10-244-1-", "10-244-7-"),
    (".1.244.10.in-addr", ".7.244.10.in-addr"),
    ("172.18.0.", "172.19.0."),
    ("10.98.252.195", "10.96.44.12"),
    ("10.105.214.153", "10.96.200.7"),
    ("10.101.85.57", "10.96.3.33"),
    ("140.82.112.3", "140.82.121.4"),
    ("fc00:f853:ccd:e793::4", "fc00:f853:ccd:e793::6"),
    ("fe80::42:acff:fe12:4", "fe80::42:acff:fe13:6"),
    ("fe80::3c57:42ff:fe6e:cd45", "fe80::98c1:11ff:fe22:3344"),
    // generated names
    ("9cc7d9df8-ffsm6", "7d4f8b6c5-x2kqz"),
    ("9cc7d9df8-9d5t8", "7d4f8b6c5-b7wnp"),
    ("9cc7d9df8-srxk5", "7d4f8b6c5-hq4vd"),
    ("9cc7d9df8-zrnvb", "7d4f8b6c5-m5ltc"),
    ("5586fc9d77-7frts", "6b8f7c9d4-p9rgv"),
    ("5586fc9d77-mxhgw", "6b8f7c9d4-k2zbd"),
    ("5586fc9d77-qpxwk", "6b8f7c9d4-w6jsh"),
    ("5586fc9d77-tpz8q", "6b8f7c9d4-c8vnm"),
    ("5586fc9d77-6dcg2", "6b8f7c9d4-t4fwq"),
    ("clusterip-service-l2n9q", "clusterip-service-r7kx2"),
    // kube-proxy chains, network namespaces, veths, MACs, container ids, ports
    ("V7R3EVKW3DT43QQM", "QW3ERT7YU8IO9PAS"),
    ("THJR2P3Q4C2QAEPT", "ZXCV5BNM6LKJ7HGF"),
    (
        "c18c44cb-6c3e-c48d-b783-e7850d40e01c",
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    ),
    (
        "ec37f6e4-a1b5-9bc9-b324-59d612edb4d4",
        "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    ),
    ("veth608eddaa", "veth1a2b3c4d"),
    ("veth45d1f3e8", "vethdeadbe01"),
    ("76:e6:c5:a4:71:7d", "aa:bb:cc:00:11:22"),
    ("3e:39:16:38:3f:23", "aa:bb:cc:00:11:33"),
    ("02:42:ac:12:00:04", "02:42:ac:13:00:06"),
    ("3e:57:42:6e:cd:45", "9a:c1:11:22:33:44"),
    ("df6df0736958", "1f2e3d4c5b6a"),
    ("e242f11d2d00", "2a3b4c5d6e7f"),
    ("a76b32f37c0e", "3b4c5d6e7f80"),
    ("07ccb63d870f", "4c5d6e7f8091"),
    ("52321->", "41234->"),
    // interface indices and netns ids
    ("4: veth608eddaa", "9: veth1a2b3c4d"),
    ("5: veth45d1f3e8", "12: vethdeadbe01"),
    ("11: eth0@if12", "21: eth0@if22"),
    ("@if5", "@if3"),
    ("(id: 2)", "(id: 0)"),
    ("(id: 1)", "(id: 3)"),
    // PIDs, DNS ids, TTLs, query times, timestamps, ages
    ("4687", "9123"),
    ("4737", "9188"),
    ("id: 45294", "id: 101"),
    ("id: 55908", "id: 202"),
    ("id: 11252", "id: 303"),
    ("id: 36874", "id: 404"),
    (". 30 IN", ". 17 IN"),
    (". 24 IN", ". 5 IN"),
    ("30      IN", "4      IN"),
    ("24      IN", "9      IN"),
    ("in 18 ms", "in 2 ms"),
    ("2021-01-30T", "2026-11-27T"),
    ("About an hour ago", "2 minutes ago"),
    ("Up About an hour", "Up 2 minutes"),
    ("17:00", "02:41"),
    // node placement: each worker name stands for another worker
    ("kind-worker2", "kind-worker3"),
    ("kind-worker3", "kind-worker"),
    ("kind-worker ", "kind-worker2 "),
    ("hostname=kind-worker\n", "hostname=kind-worker2\n"),
];

/// The lab's outputs as a fresh cluster would print them: every volatile value changed
/// consistently, ages changed, tables realigned, rows of generated names reordered, and the
/// commands written with the new values.
/// Address lists as the Endpoints controller keeps them: a subset's addresses sorted by IP,
/// as text; kubectl prints them in that order (`describe ep`'s Addresses, `get ep`'s
/// ENDPOINTS). New addresses sort differently. A list kubectl cut short (`+ 1 more...`) is
/// left as it is: which members it shows depends on the ones it hides.
pub fn sorted_lists(text: &str) -> String {
    let list =
        regex::Regex::new(r"\d+\.\d+\.\d+\.\d+(?::\d+)?(?:,\d+\.\d+\.\d+\.\d+(?::\d+)?)+").unwrap();
    list.replace_all(text, |c: &regex::Captures| {
        let whole = c.get(0).unwrap();
        if text[whole.end()..].starts_with(" + ") {
            return whole.as_str().to_string();
        }
        let mut members: Vec<&str> = whole.as_str().split(',').collect();
        members.sort_by_key(|m| m.split(':').next().unwrap_or(m).to_string());
        members.join(",")
    })
    .into_owned()
}

pub fn fresh_cluster() -> Vec<StepRecord> {
    let steps = lab_steps();
    let ages = regex::Regex::new(r"\b(\d+)([smhd])\b").unwrap();
    let columns = regex::Regex::new(r"(\S)   +").unwrap();
    let mut run = run_from_document(&steps);
    for r in &mut run {
        r.command = substitute(&r.command, FRESH);
        let out = substitute(&r.stdout, FRESH);
        let out = ages.replace_all(&out, |c: &regex::Captures| {
            format!("{}{}", c[1].parse::<u32>().unwrap() + 7, &c[2])
        });
        r.stdout = columns.replace_all(&out, "${1}      ").into_owned();
    }
    for r in &mut run {
        r.stdout = sorted_lists(&r.stdout);
    }
    // kubectl lists pods by name; new names sort differently.
    let reorder = run.iter_mut().find(|r| r.step == "nodeport/2").unwrap();
    let mut lines: Vec<&str> = reorder.stdout.lines().collect();
    lines.swap(1, 3);
    reorder.stdout = lines.join("\n") + "\n";
    // A pod placed on another node than the author's, sharing it with another pod.
    let moved = run
        .iter_mut()
        .find(|r| r.step == "explore-statefulsets/2")
        .unwrap();
    moved.stdout = moved.stdout.replacen("kind-worker ", "kind-worker3 ", 1);
    run
}

/// `labrun ARGS` in `dir` with `stdin` on its standard input; `CI` set or removed.
pub fn labrun_with_stdin(dir: &Path, args: &[&str], ci: bool, stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labrun"));
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1");
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Copy a directory tree (leaving out a book's build output, `book/book`).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_name() == "book" && from.ends_with("book") {
            continue;
        }
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A scratch copy of the project's book, labrun.toml, snapshots (with committed runs) and
/// manifests.
pub fn scratch_project() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for d in ["book", "snapshots", "manifests"] {
        copy_tree(&root.join(d), &dir.path().join(d));
    }
    std::fs::copy(root.join("labrun.toml"), dir.path().join("labrun.toml")).unwrap();
    dir
}

/// Whether the Docker daemon answers. Without it: report and return `false` so the test can
/// skip, unless `LABRUN_REQUIRE_DOCKER` is set (by .ci/run), where it fails.
pub fn docker_ready() -> bool {
    let ok = std::process::Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("LABRUN_REQUIRE_DOCKER").is_none(),
            "Docker is required here (LABRUN_REQUIRE_DOCKER is set) but the daemon is not reachable"
        );
        eprintln!("no Docker daemon: skipped (set LABRUN_REQUIRE_DOCKER=1 to fail instead)");
    }
    ok
}

/// A process's standard output then standard error, for assertion messages.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run a script of the repository (path relative to its root) with `env`; panic with its
/// standard error when it fails.
pub fn run_script(script: &str, env: &[(&str, &Path)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = std::process::Command::new(root.join(script));
    for (k, v) in env {
        cmd.env(k, root.join(v));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A directory holding `kind`: the test double `tests/fake-kind/kind.rs`, which `cargo test`
/// builds as the example `fake-kind`.
pub fn fake_kind_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().unwrap().parent().unwrap();
    let built = profile.join("examples/fake-kind");
    assert!(
        built.exists(),
        "{} is missing: cargo test builds it (the example fake-kind)",
        built.display()
    );
    let dir = profile.join("fake-kind-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("kind");
    if std::fs::read_link(&link).is_ok_and(|to| to == built) {
        return dir;
    }
    // a link left by a target directory that has since moved points nowhere: replace it,
    // through a new name so that tests making it side by side never see it missing
    let fresh = dir.join(format!(
        "kind.{}.{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_file(&fresh);
    std::os::unix::fs::symlink(&built, &fresh).unwrap();
    std::fs::rename(&fresh, &link).unwrap();
    dir
}

/// The run directories labrun made for the document named `key` under `root`
/// (`target/labrun/<key>/<run id>/`), oldest first.
#[allow(dead_code)]
pub fn run_dirs(root: &Path, key: &str) -> Vec<std::path::PathBuf> {
    let dir = root.join("target/labrun").join(key);
    let mut runs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().join("run.jsonl").is_file())
        .map(|e| e.path())
        .collect();
    runs.sort();
    runs
}

/// Processes whose command line holds `marker` (`/proc/<pid>: <command line>`).
#[allow(dead_code)]
pub fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let c = std::fs::read(p.join("cmdline")).ok()?;
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            c.contains(marker).then(|| format!("{}: {c}", p.display()))
        })
        .collect()
}

/// Every regular file under `dir`, links not followed.
#[allow(dead_code)]
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(t) if t.is_file() => found.push(e.path()),
                _ => {}
            }
        }
    }
    found
}
