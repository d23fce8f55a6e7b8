//! The kind backend's Docker side, against this machine's real Docker daemon.
//!
//! kind's node image cannot be pulled here, so the node containers are stand-ins built from
//! Debian's busybox-static (`tests/images/build-fake-node.sh`, `docker import`), named and
//! labelled as kind names and labels its nodes; where a run needs the `kind` command itself,
//! `tests/fake-kind/kind.rs` (a test double that starts such containers and writes kubeconfigs as
//! kind does) stands in for it. What is tested is labrun's side: the Docker facts through
//! bollard, masking and binding of `docker ps` / `docker exec`, the safety refusal, the
//! same-name error, `--reuse`, and the clean-up on Ctrl-C.
//!
//! Without a reachable daemon these tests report and return, unless `LABRUN_REQUIRE_DOCKER=1`
//! (set by .ci/run), where they fail.

use crate::common;

use common::{docker_ready, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;
use std::time::{Duration, Instant};

use labrun::execute::kind::docker::Facts;

const BIN: &str = env!("CARGO_BIN_EXE_labrun");
const IMAGE: &str = "labrun/fake-node:test";

static IMAGE_BUILT: Once = Once::new();

fn image() {
    IMAGE_BUILT.call_once(|| common::run_script("tests/images/build-fake-node.sh", &[]));
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

/// Node containers of a stand-in cluster, removed when dropped.
struct Cluster(String);

impl Cluster {
    /// A control plane (API port published) and `workers` workers, labelled as kind does.
    fn start(tag: &str, workers: usize) -> Cluster {
        // `u` before the pid: stand-in names never look like a generated suffix (a bare
        // 29567 is all digits of Kubernetes' safe alphabet), whatever the mask table says.
        let name = format!("labrun-{tag}-u{}", std::process::id());
        let label = format!("io.x-k8s.kind.cluster={name}");
        let node = |suffix: &str, role: &str, extra: &[&str]| {
            let mut args = vec![
                "run".to_string(),
                "-d".into(),
                "--name".into(),
                format!("{name}-{suffix}"),
                "--label".into(),
                label.clone(),
                "--label".into(),
                format!("io.x-k8s.kind.role={role}"),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            args.extend([
                IMAGE.into(),
                "sh".into(),
                "-c".into(),
                "echo node booted; exec sleep 3600".into(),
            ]);
            let out = Command::new("docker").args(&args).output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        node("control-plane", "control-plane", &["-p", "127.0.0.1::6443"]);
        for i in 0..workers {
            let suffix = if i == 0 {
                "worker".to_string()
            } else {
                format!("worker{}", i + 1)
            };
            node(&suffix, "worker", &[]);
        }
        Cluster(name)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        remove_cluster(&self.0);
    }
}

fn remove_cluster(name: &str) {
    let ids = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.x-k8s.kind.cluster={name}"),
    ]);
    let ids = String::from_utf8_lossy(&ids.stdout).to_string();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids);
        docker(&args);
    }
}

fn containers_of(name: &str) -> usize {
    let out = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.x-k8s.kind.cluster={name}"),
    ]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .count()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn node_facts_come_from_docker() {
    if !docker_ready() {
        return;
    }
    image();
    let c = Cluster::start("facts", 2);
    let rt = runtime();
    let facts = rt.block_on(Facts::connect()).unwrap();
    let nodes = rt.block_on(facts.nodes(&c.0)).unwrap();
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    assert_eq!(
        names,
        [
            format!("{}-control-plane", c.0),
            format!("{}-worker", c.0),
            format!("{}-worker2", c.0)
        ]
    );
    let cp = &nodes[0];
    assert_eq!(cp.role, "control-plane");
    assert_eq!(cp.state, "running");
    assert_eq!(cp.api.len(), 1, "the API port is published");
    assert_eq!(cp.api[0].ip, "127.0.0.1");
    assert!(
        cp.address
            .as_deref()
            .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok())
    );
    assert_eq!(nodes[1].role, "worker");
    assert!(nodes[1].api.is_empty());
    assert!(rt.block_on(facts.clusters()).unwrap().contains(&c.0));
    // a node that stopped, and what it logged
    docker(&["stop", "-t", "1", &format!("{}-worker2", c.0)]);
    let nodes = rt.block_on(facts.nodes(&c.0)).unwrap();
    assert_eq!(nodes[2].state, "exited");
    let logs = rt.block_on(facts.last_logs(&nodes[2].id, 5)).unwrap();
    assert_eq!(logs.trim(), "node booted");
    assert!(
        rt.block_on(facts.version())
            .unwrap()
            .chars()
            .next()
            .unwrap()
            .is_ascii_digit()
    );
}

/// A scratch project holding `doc.md`.
fn project(doc: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // the test double's settings reach it in the sandbox as any variable does: named
    std::fs::write(
        dir.path().join("labrun.toml"),
        "retry = \"3s\"\n[sandbox]\nenv = [\"FAKE_KIND_API_FORWARD\", \"FAKE_KIND_CREATE_DELAY\", \"FAKE_KIND_CA_DIR\"]\nwrite = [\"calls\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("calls")).unwrap();
    std::fs::write(dir.path().join("doc.md"), doc).unwrap();
    dir
}

fn last_run(dir: &Path) -> Vec<labrun::record::StepRecord> {
    labrun::record::read(&dir.join("target/labrun/doc.md/last.jsonl")).unwrap()
}

#[test]
fn docker_ps_is_masked_and_docker_exec_follows_the_bound_node_without_a_tty() {
    if !docker_ready() {
        return;
    }
    image();
    let c = Cluster::start("bind", 1);
    // The document was written against another cluster: its printed id and node name are the
    // author's. The container's hostname is its short id, so the exec prints the listed id.
    let doc = format!(
        "# Nodes\n\n```console\n$ docker ps --filter label=io.x-k8s.kind.cluster={} --filter label=io.x-k8s.kind.role=worker --format '{{{{.ID}}}}  {{{{.Names}}}}'\n8f2d3c4b5a61  kind-worker\n$ docker exec -it kind-worker hostname\n8f2d3c4b5a61\n```\n",
        c.0
    );
    let dir = project(&doc);
    // the local backend's Docker is the run's own endpoint: these nodes are another
    // cluster's, not listed and not reached
    let out = Command::new(BIN)
        .args(["run"])
        .arg(dir.path().join("doc.md"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let records = last_run(dir.path());
    assert_eq!(records[0].stdout, "", "{}", text(&out));
    assert_ne!(records[1].exit_code, 0, "{}", text(&out));
    // binding and masking, on a machine the user hands over (`--unsandboxed`)
    let out = Command::new(BIN)
        .args(["run", "--unsandboxed"])
        .arg(dir.path().join("doc.md"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let records = last_run(dir.path());
    let worker = format!("{}-worker", c.0);
    assert!(records[0].stdout.contains(&worker));
    // the node name was bound, the TTY flag removed, and the record shows it as run
    assert_eq!(records[1].command, format!("docker exec {worker} hostname"));
    let id = records[0].stdout.split_whitespace().next().unwrap();
    assert_eq!(records[1].stdout.trim(), id);
}

/// `text` as an executable file at `path`.
fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `PATH` with the kind test double and a `kubectl` that leaves a mark when called.
fn fake_path(dir: &Path) -> (String, PathBuf) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // in a directory the project's `[sandbox] write` lets the steps write
    let mark = dir.join("calls").join("kubectl-calls");
    executable(
        &bin.join("kubectl"),
        &format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\necho \"No resources found in default namespace.\"\n",
            mark.display()
        ),
    );
    let kind_dir = common::fake_kind_dir();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        kind_dir.display(),
        std::env::var("PATH").unwrap()
    );
    (path, mark)
}

fn run_kind(dir: &Path, path: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["run"])
        .arg(dir.join("doc.md"))
        .args(["--backend", "kind", "--settle", "2s"])
        .args(args)
        .env("PATH", path)
        .output()
        .unwrap()
}

#[test]
fn a_step_is_refused_unless_the_context_is_the_runs_visible_kind_cluster() {
    if !docker_ready() {
        return;
    }
    image();
    // A tutorial that points kubectl somewhere else before it deletes things.
    let doc = "# Careful\n\n```console\n$ cp prod.kubeconfig \"$KUBECONFIG\"\n$ kubectl delete pods --all\n```\n";
    let dir = project(doc);
    std::fs::write(
        dir.path().join("prod.kubeconfig"),
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://prod.example.com:6443\n  name: prod\ncontexts:\n- context:\n    cluster: prod\n    user: admin\n  name: prod-admin\ncurrent-context: prod-admin\nusers:\n- name: admin\n  user:\n    token: secret\n",
    )
    .unwrap();
    let (path, mark) = fake_path(dir.path());
    let name = format!("labrun-refuse-u{}", std::process::id());
    let out = run_kind(dir.path(), &path, &["--cluster", &name]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("doc.md:5: refusing a step that talks to a cluster"),
        "{t}"
    );
    assert!(
        t.contains("`prod-admin`") && t.contains("prod.example.com"),
        "{t}"
    );
    assert!(!mark.exists(), "kubectl was called");
    // Nothing was created, nothing is left.
    assert_eq!(containers_of(&name), 0);
    // Before any cluster exists, there is no context at all: refused too.
    let dir = project("# Early\n\n```console\n$ kubectl get pods\n```\n");
    let (path, mark) = fake_path(dir.path());
    let out = run_kind(dir.path(), &path, &["--cluster", &name]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("no current context"), "{}", text(&out));
    assert!(!mark.exists());
}

#[test]
fn a_cluster_of_the_same_name_is_an_error_unless_reused() {
    if !docker_ready() {
        return;
    }
    image();
    let doc = "# Lab\n\n```console\n$ kind create cluster\n$ kubectl get pods\nNo resources found in default namespace.\n```\n";
    let dir = project(doc);
    let (path, mark) = fake_path(dir.path());
    // the user's own cluster, made by kind (here its double) into the user's kubeconfig
    let c = Cluster(format!("labrun-same-u{}", std::process::id()));
    let made = Command::new("kind")
        .args(["create", "cluster", "--name", &c.0])
        .env("PATH", &path)
        .env("KUBECONFIG", dir.path().join("users-kubeconfig"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let out = run_kind(dir.path(), &path, &["--cluster", &c.0]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("a kind cluster named `{}` already exists", c.0)),
        "{t}"
    );
    assert!(t.contains("--reuse"), "{t}");
    assert!(!mark.exists());
    // --reuse: the create step is skipped, the context checked against Docker, kubectl runs
    let out = run_kind(dir.path(), &path, &["--cluster", &c.0, "--reuse"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let records = last_run(dir.path());
    assert_eq!(
        records[0].skipped.as_deref(),
        Some(format!("--reuse: kind cluster `{}` exists already", c.0).as_str())
    );
    assert_eq!(std::fs::read_to_string(&mark).unwrap().trim(), "get pods");
    let versions = records[1].versions.as_ref().unwrap();
    assert_eq!(versions["kind"], "kind v0.0.0-labrun-test-double");
    assert!(versions["docker"].as_str().is_some());
    // a reused cluster is not labrun's to delete
    assert_eq!(containers_of(&c.0), 1);
}

#[test]
fn ctrl_c_deletes_the_cluster_the_run_created_unless_kept() {
    if !docker_ready() {
        return;
    }
    image();
    let name = format!("labrun-ctrlc-u{}", std::process::id());
    let marker = format!("labrun-hang-{}", std::process::id());
    let doc = format!(
        "# Lab\n\n```console\n$ kind create cluster\n$ bash -c 'exec -a {marker} sleep 300'\n```\n"
    );
    for keep in [false, true] {
        let dir = project(&doc);
        let (path, _) = fake_path(dir.path());
        let mut args = vec![
            "run".to_string(),
            dir.path().join("doc.md").display().to_string(),
            "--backend".into(),
            "kind".into(),
            "--settle".into(),
            "1s".into(),
            "--cluster".into(),
            name.clone(),
        ];
        if keep {
            args.push("--keep-cluster".into());
        }
        let mut child = Command::new(BIN)
            .args(&args)
            .env("PATH", &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let running = std::fs::read_dir("/proc").unwrap().any(|e| {
                e.ok()
                    .and_then(|e| std::fs::read(e.path().join("cmdline")).ok())
                    .is_some_and(|c| String::from_utf8_lossy(&c).starts_with(&marker))
            });
            if running {
                break;
            }
            assert!(Instant::now() < deadline, "the hanging step never started");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(containers_of(&name), 1, "the run created its cluster");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(130));
        if keep {
            assert_eq!(containers_of(&name), 1, "--keep-cluster keeps it");
            remove_cluster(&name);
        } else {
            assert_eq!(containers_of(&name), 0, "deleted on Ctrl-C");
        }
    }
}

#[test]
fn doctor_and_cluster_up_status_down() {
    if !docker_ready() {
        return;
    }
    image();
    let name = format!("labrun-life-u{}", std::process::id());
    let dir = project(&format!(
        "# Lab\n\n```console\n$ kind create cluster --name {name}\n$ kubectl get nodes\n```\n"
    ));
    let (path, _) = fake_path(dir.path());
    let doc = dir.path().join("doc.md");
    let labrun = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg(&doc)
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let out = labrun(&["doctor", "--backend", "kind"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("kind     ok       kind v0.0.0-labrun-test-double"));
    assert!(text(&out).contains(&format!("`{name}` does not exist")));
    let out = labrun(&["cluster", "up"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(containers_of(&name), 1, "kind's default: one control plane");
    let out = labrun(&["cluster", "status"]);
    let t = text(&out);
    assert!(
        t.contains(&format!("{name}-control-plane")) && t.contains("running"),
        "{t}"
    );
    assert!(t.contains("context: verified"), "{t}");
    let out = labrun(&["doctor", "--backend", "kind"]);
    assert!(
        text(&out).contains(&format!("kind-{name} → https://127.0.0.1:")),
        "{}",
        text(&out)
    );
    let out = labrun(&["cluster", "up"]);
    assert_eq!(out.status.code(), Some(3), "exists already: {}", text(&out));
    let out = labrun(&["cluster", "down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(containers_of(&name), 0);
    // without kind at all: exit 3 with advice
    let out = Command::new(BIN)
        .args(["doctor", "--backend", "kind"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).contains("kind.sigs.k8s.io"), "{}", text(&out));
}

#[test]
fn docker_exec_into_another_kind_clusters_node_is_refused() {
    if !docker_ready() {
        return;
    }
    image();
    let other = Cluster::start("other", 1);
    let name = format!("labrun-mine-u{}", std::process::id());
    let doc = format!(
        "# Lab\n\n```console\n$ kind create cluster\n$ docker exec -it {}-worker hostname\n```\n",
        other.0
    );
    let dir = project(&doc);
    let (path, _) = fake_path(dir.path());
    let out = run_kind(dir.path(), &path, &["--cluster", &name]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("it is a node of kind cluster `{}`", other.0)),
        "{t}"
    );
    // the run's own cluster was created, then deleted at the end; the other one is untouched
    assert_eq!(containers_of(&name), 0);
    assert_eq!(containers_of(&other.0), 2);
}

/// `PATH` with recording shims for `kubectl`, `helm` and `kind` (the kind shim records, then
/// hands over to the test double); the file every call is recorded in, one line each.
fn recording_path(dir: &Path) -> (String, PathBuf) {
    let bin = dir.join("shims");
    std::fs::create_dir_all(&bin).unwrap();
    // in the directory the project lets the steps write (see `project`)
    let calls = dir.join("calls").join("log");
    let kind = common::fake_kind_dir().join("kind");
    for (program, then) in [
        ("kubectl", "exit 0".to_string()),
        ("helm", "exit 0".to_string()),
        ("kind", format!("exec '{}' \"$@\"", kind.display())),
    ] {
        executable(
            &bin.join(program),
            &format!(
                "#!/bin/sh\necho \"{program} $*\" >> '{}'\n{then}\n",
                calls.display()
            ),
        );
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    (path, calls)
}

/// The calls that reached a shim, leaving out `kind version` (labrun asks it at start).
fn calls_made(calls: &Path) -> Vec<String> {
    std::fs::read_to_string(calls)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l != "kind version")
        .map(str::to_string)
        .collect()
}

/// Ways for a step to reach a cluster that is not the run's own that the text lint sees: each
/// is refused at preflight with its line (lint on), and each is harmless when it runs (lint
/// off). `VICTIM` stands for another kind cluster's name, `PROD_KUBECONFIG` for the path of
/// another cluster's kubeconfig that exists before the run.
const ESCAPES: &[&str] = &[
    "kubectl --kubeconfig ~/.kube/config delete pods --all",
    "KUBECONFIG=PROD_KUBECONFIG kubectl delete pods --all",
    "env KUBECONFIG=PROD_KUBECONFIG kubectl delete pods --all",
    "helm --kubeconfig PROD_KUBECONFIG uninstall web",
    "helm --kube-context prod-admin uninstall web",
    "kubectl --server https://prod.example.com:6443 delete pods --all",
    "kubectl --token eyJhbGciOi delete pods --all",
    "kubectl --context prod-admin delete pods --all",
    "for p in a b; do kubectl --context prod-admin delete pod $p; done",
    "echo $(kubectl --context prod-admin delete pods --all)",
    "bash -c 'kubectl --context prod-admin delete pods --all'",
    "kubectl get pods -o name | xargs kubectl --context prod-admin delete",
    "watch kubectl --context prod-admin get pods",
    "kubectl --cache-dir -- --kubeconfig=PROD_KUBECONFIG delete pods --all",
    "kubectl -As https://prod.example.com:6443 delete pods",
    "oc --kubeconfig PROD_KUBECONFIG delete pods --all",
    "kind delete cluster --name VICTIM",
    "kind delete cluster -n VICTIM",
    "kind delete cluster -qn VICTIM",
    "kind -q delete clusters VICTIM",
    "kind --loglevel debug delete cluster --name VICTIM",
    "kind delete clusters --all",
    "KIND_CLUSTER_NAME=VICTIM kind delete cluster",
    "kind load docker-image labrun/fake-node:test --name VICTIM",
    "kind export kubeconfig --name VICTIM",
    "kind get kubeconfig --name VICTIM > ~/.kube/config",
    "KIND_EXPERIMENTAL_PROVIDER=podman kind get clusters",
    "DOCKER_HOST=unix:///var/run/docker.sock docker rm -f VICTIM-worker",
    "docker -H unix:///var/run/docker.sock rm -f VICTIM-worker",
    "docker --context default rm -f VICTIM-worker",
    "env -i kubectl delete pods --all",
    "sudo kubectl delete pods --all",
];

/// Ways the text lint does not see (Docker housekeeping, credentials copied out of another
/// cluster's node, the user's own files, Docker contexts): what holds them is the run's Docker
/// endpoint and its sandbox, with the lint on and with it off.
const HELD: &[&str] = &[
    "docker rm -f $(docker ps -aq)",
    "docker stop VICTIM-control-plane",
    "docker kill VICTIM-worker",
    "docker pause VICTIM-control-plane",
    "docker container rm -f VICTIM-worker",
    "docker rename VICTIM-worker gone",
    "docker network disconnect bridge VICTIM-worker",
    "docker update --restart=always VICTIM-worker",
    "docker cp VICTIM-control-plane:/etc/kubernetes/admin.conf stolen.conf; cat stolen.conf",
    "docker exec VICTIM-control-plane cat /etc/kubernetes/admin.conf",
    "docker container exec VICTIM-control-plane cat /etc/kubernetes/admin.conf",
    "env docker exec VICTIM-worker true",
    "docker export VICTIM-control-plane | tar -xO etc/kubernetes/admin.conf",
    "docker commit VICTIM-control-plane stolen:latest",
    "docker run --rm --pid container:VICTIM-control-plane labrun/fake-node:test cat /proc/1/root/etc/kubernetes/admin.conf",
    "docker run --rm --network container:VICTIM-control-plane labrun/fake-node:test true",
    "docker run --rm --volumes-from VICTIM-control-plane labrun/fake-node:test true",
    "docker run --rm -v /:/host labrun/fake-node:test cat /host/etc/hostname",
    "docker run --rm -v /var/run/docker.sock:/var/run/docker.sock labrun/fake-node:test true",
    "docker run --rm --privileged labrun/fake-node:test true",
    "docker run -d --label io.x-k8s.kind.cluster=VICTIM labrun/fake-node:test sleep 60",
    "docker container prune -f",
    "docker network prune -f",
    "rm -f ~/.kube/config ~/.docker/config.json",
    "mkdir -p ~/.kube && cp \"$KUBECONFIG\" ~/.kube/config",
    "ln -sf /dev/null ~/.kube/config",
    "cat ~/.kube/config",
    "docker context create elsewhere --docker host=unix:///var/run/docker.sock && docker context use elsewhere && docker rm -f VICTIM-worker",
];

/// Another cluster and the user's own files, and what a test asserts of them after the escapes.
struct Victim {
    cluster: Cluster,
    home: tempfile::TempDir,
    prod: tempfile::TempDir,
}

/// A token no record may hold: in the other cluster's admin kubeconfig (in its node) and in
/// the user's own.
const SECRET: &str = "victim-secret-8c1f";

impl Victim {
    fn new(tag: &str) -> Victim {
        let cluster = Cluster::start(tag, 1);
        let cp = format!("{}-control-plane", cluster.0);
        let out = docker(&[
            "exec",
            &cp,
            "sh",
            "-c",
            &format!(
                "mkdir -p /etc/kubernetes && echo 'token: {SECRET}' > /etc/kubernetes/admin.conf"
            ),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".kube")).unwrap();
        std::fs::create_dir_all(home.path().join(".docker")).unwrap();
        std::fs::write(home.path().join(".kube/config"), Self::kubeconfig()).unwrap();
        std::fs::write(home.path().join(".docker/config.json"), "{\"auths\":{}}\n").unwrap();
        let prod = tempfile::tempdir().unwrap();
        std::fs::write(prod.path().join("config"), Self::kubeconfig()).unwrap();
        Victim {
            cluster,
            home,
            prod,
        }
    }

    fn kubeconfig() -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://prod.example.com:6443\n  name: prod\ncontexts:\n- context:\n    cluster: prod\n    user: admin\n  name: prod-admin\ncurrent-context: prod-admin\nusers:\n- name: admin\n  user:\n    token: {SECRET}\n"
        )
    }

    /// `form` aimed at this victim.
    fn aim(&self, form: &str) -> String {
        form.replace("VICTIM", &self.cluster.0).replace(
            "PROD_KUBECONFIG",
            &self.prod.path().join("config").display().to_string(),
        )
    }

    /// The victim as it was: both nodes running (none paused, renamed or cut off), the user's
    /// files byte for byte, and no secret in what the run recorded.
    fn assert_intact(&self, run_dir: &Path, context: &str) {
        let nodes = docker(&[
            "ps",
            "--filter",
            &format!("label=io.x-k8s.kind.cluster={}", self.cluster.0),
            "--filter",
            "status=running",
            "--format",
            "{{.Names}} {{.Networks}}",
        ]);
        let mut listed: Vec<String> = String::from_utf8_lossy(&nodes.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            [
                format!("{}-control-plane bridge", self.cluster.0),
                format!("{}-worker bridge", self.cluster.0)
            ],
            "the victim changed: {context}"
        );
        assert_eq!(
            std::fs::read_to_string(self.home.path().join(".kube/config")).unwrap(),
            Self::kubeconfig(),
            "{context}"
        );
        assert_eq!(
            std::fs::read_to_string(self.home.path().join(".docker/config.json")).unwrap(),
            "{\"auths\":{}}\n",
            "{context}"
        );
        let leaked = common::files_under(run_dir)
            .into_iter()
            .filter(|f| {
                std::fs::read(f).is_ok_and(|b| String::from_utf8_lossy(&b).contains(SECRET))
            })
            .collect::<Vec<_>>();
        assert!(
            leaked.is_empty(),
            "the victim's secret is in {leaked:?}: {context}"
        );
    }
}

#[test]
fn every_escape_is_refused_before_any_program_is_called() {
    if !docker_ready() {
        return;
    }
    image();
    let victim = Victim::new("victim-a");
    let mut doc = String::from("# Escapes\n\n");
    for e in ESCAPES {
        doc.push_str(&format!("```console\n$ {}\n```\n\n", victim.aim(e)));
    }
    let dir = project(&doc);
    let (path, calls) = recording_path(dir.path());
    let name = format!("labrun-escape-u{}", std::process::id());
    let out = Command::new(BIN)
        .args(["run"])
        .arg(dir.path().join("doc.md"))
        .args(["--backend", "kind", "--settle", "2s", "--cluster", &name])
        .env("PATH", &path)
        .env("HOME", victim.home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("{} step(s) would reach", ESCAPES.len())),
        "{t}"
    );
    for (i, e) in ESCAPES.iter().enumerate() {
        // each escape sits on line 4 + 4i of the document
        let at = format!("doc.md:{}: ", 4 + 4 * i);
        assert!(t.contains(&at), "`{e}` is not refused at {at}:\n{t}");
    }
    assert_eq!(calls_made(&calls), Vec::<String>::new(), "{t}");
    assert_eq!(containers_of(&name), 0);
    victim.assert_intact(&dir.path().join("target"), &t);
}

/// What the lint cannot see, with the lint on: one run per form against a cluster of the run's
/// own (made by the double, reused), so that a step refused as it starts does not hide the
/// forms after it.
#[test]
fn what_the_lint_cannot_see_is_held_by_the_endpoint_and_the_sandbox() {
    if !docker_ready() {
        return;
    }
    image();
    let victim = Victim::new("victim-b");
    let dir = project("");
    let (path, _calls) = recording_path(dir.path());
    let own = Cluster(format!("labrun-held-u{}", std::process::id()));
    let make_own = || {
        let made = kind(
            &path,
            &dir.path().join("own-kubeconfig"),
            &["create", "cluster", "--name", &own.0],
            &[],
        );
        assert!(made.status.success(), "{}", text(&made));
    };
    for form in HELD {
        // `docker rm -f $(docker ps -aq)` may remove the run's own (reused) nodes: the run's
        // to remove, and made again for the next form
        if containers_of(&own.0) == 0 {
            make_own();
        }
        let step = victim.aim(form);
        std::fs::write(
            dir.path().join("doc.md"),
            format!("# Held\n\n```console\n$ {step}\n```\n"),
        )
        .unwrap();
        let out = Command::new(BIN)
            .args(["run"])
            .arg(dir.path().join("doc.md"))
            .args([
                "--backend",
                "kind",
                "--settle",
                "2s",
                "--cluster",
                &own.0,
                "--reuse",
            ])
            .env("PATH", &path)
            .env("HOME", victim.home.path())
            .output()
            .unwrap();
        let t = text(&out);
        assert!(matches!(out.status.code(), Some(0..=3)), "{step}: {t}");
        // the form met what holds it: it ran (and failed or did no harm), or the step was
        // refused as it ran; never a run that stopped before reaching it
        let ran = last_run(dir.path())
            .first()
            .is_some_and(|r| r.skipped.is_none());
        assert!(ran || t.contains("refusing"), "{step} did not run: {t}");
        victim.assert_intact(&dir.path().join("target"), &format!("{step}: {t}"));
    }
}

/// What a lab does with its own cluster still runs, with the lint and the shims on: kind's
/// listing and image loading, Docker on the run's nodes, kubectl and helm with the run's
/// context or a copy of its kubeconfig.
#[test]
fn ordinary_steps_on_the_runs_own_cluster_still_run() {
    if !docker_ready() {
        return;
    }
    image();
    let name = format!("labrun-ordinary-u{}", std::process::id());
    let doc = format!(
        "# Ordinary\n\n```console\n$ kind create cluster --name {name}\n$ kind get clusters\n$ kind load docker-image labrun/fake-node:test --name {name}\n$ docker ps --filter label=io.x-k8s.kind.cluster={name} --format '{{{{.Names}}}}'\n$ docker exec {name}-control-plane ls /kind-images\n$ kubectl get pods -A\n$ helm install web ./chart --kube-context kind-{name}\n$ cp \"$KUBECONFIG\" /tmp/copy && kubectl --kubeconfig /tmp/copy get nodes\n$ kubectl --token \"$(echo made-during-the-run)\" get pods\n$ kind delete cluster --name {name}\n```\n"
    );
    let dir = project(&doc);
    let (path, calls) = recording_path(dir.path());
    let out = run_kind(dir.path(), &path, &["--cluster", &name]);
    let t = text(&out);
    let records = last_run(dir.path());
    for r in &records {
        assert_eq!(
            r.exit_code, 0,
            "`{}`: {}{}\n{t}",
            r.command, r.stdout, r.stderr
        );
    }
    assert_eq!(records.len(), 10, "{t}");
    assert!(records[1].stdout.contains(&name), "{:?}", records[1]);
    assert!(
        records[3].stdout.contains(&format!("{name}-control-plane")),
        "{:?}",
        records[3]
    );
    assert!(
        !records[4].stdout.trim().is_empty(),
        "the loaded image: {:?}",
        records[4]
    );
    let made = calls_made(&calls);
    for call in [
        "kubectl get pods -A".to_string(),
        format!("helm install web ./chart --kube-context kind-{name}"),
        "kubectl --kubeconfig /tmp/copy get nodes".to_string(),
        "kubectl --token made-during-the-run get pods".to_string(),
    ] {
        assert!(
            made.contains(&call),
            "{call} did not reach the program: {made:?}\n{t}"
        );
    }
    assert_eq!(containers_of(&name), 0, "the lab's own delete ran");
}

/// Every form, with the text lint off (`LABRUN_LINT=off`): each now runs, through the double
/// and the run's Docker endpoint, and must still be harmless.
#[test]
fn every_escape_is_harmless_with_the_lint_off() {
    if !docker_ready() {
        return;
    }
    image();
    let victim = Victim::new("victim-c");
    let mut doc = String::from("# Escapes\n\n```console\n$ kind create cluster\n```\n\n");
    // `sudo` runs the command in the sandbox (labrun's stand-in), where the cluster programs'
    // shims refuse it as it starts, and that stops the run: it goes last
    let (sudo, escapes): (Vec<&str>, Vec<&str>) =
        ESCAPES.iter().partition(|e| e.starts_with("sudo "));
    for e in escapes.iter().chain(HELD).chain(&sudo) {
        doc.push_str(&format!("```console\n$ {}\n```\n\n", victim.aim(e)));
    }
    let dir = project(&doc);
    let (path, _calls) = recording_path(dir.path());
    let name = format!("labrun-lintoff-u{}", std::process::id());
    let out = Command::new(BIN)
        .args(["run"])
        .arg(dir.path().join("doc.md"))
        .args(["--backend", "kind", "--settle", "2s", "--cluster", &name])
        .env("PATH", &path)
        .env("HOME", victim.home.path())
        .env("LABRUN_LINT", "off")
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.code().is_some(), "{t}");
    // the escapes ran (the lint was off): the run's own cluster was made and the steps were
    // not refused before they started
    assert!(!t.contains("would reach"), "{t}");
    let records = last_run(dir.path());
    assert_eq!(records.len(), 1 + escapes.len() + HELD.len(), "{t}");
    assert_eq!(sudo.len(), 1);
    assert!(
        t.contains("the run stopped after") && t.contains("labrun's kubeconfig"),
        "the shims refused `sudo kubectl …` as it started: {t}"
    );
    victim.assert_intact(&dir.path().join("target"), &t);
    // what held them: the run's Docker endpoint, saying so as a daemon does
    let stop = &records[1 + escapes.len() + 1];
    assert!(
        stop.stderr
            .contains("Error response from daemon: labrun: container"),
        "{stop:?}"
    );
    assert_eq!(
        containers_of(&name),
        0,
        "the run's own cluster deleted at its end"
    );
}

#[test]
fn the_labs_own_kind_delete_is_refused_when_the_run_has_another_cluster() {
    if !docker_ready() {
        return;
    }
    let lab = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("book/src/kubernetes-networking-abstractions.adoc"),
    )
    .unwrap();
    let line = lab
        .lines()
        .position(|l| l == "kind delete cluster --name kind")
        .unwrap()
        + 1;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.adoc"), &lab).unwrap();
    let (path, calls) = recording_path(dir.path());
    let name = format!("labrun-other-u{}", std::process::id());
    let out = Command::new(BIN)
        .arg("run")
        .arg(dir.path().join("doc.adoc"))
        .args(["--backend", "kind", "--cluster", &name])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("doc.adoc:{line}: `kind delete cluster --name kind`: `--name kind` names a kind cluster other than `{name}`")),
        "{t}"
    );
    assert_eq!(calls_made(&calls), Vec::<String>::new(), "{t}");
    assert_eq!(containers_of(&name), 0);
}

#[test]
fn what_the_text_cannot_show_is_refused_as_the_program_starts() {
    if !docker_ready() {
        return;
    }
    image();
    let prod = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://prod.example.com:6443\n  name: prod\ncontexts:\n- context:\n    cluster: prod\n    user: admin\n  name: prod-admin\ncurrent-context: prod-admin\nusers:\n- name: admin\n  user:\n    token: secret\n";
    // (the step that escapes, what the refusal says)
    let cases = [
        (
            "FLAGS=--context=prod-admin; kubectl $FLAGS delete pods --all",
            "`--context prod-admin` names a context other than",
        ),
        (
            "echo --kubeconfig=/root/.kube/config | xargs kubectl delete pods --all",
            "`--kubeconfig /root/.kube/config` names a kubeconfig other than",
        ),
        (
            "cp prod.kubeconfig \"$KUBECONFIG\" && kubectl delete pods --all",
            "now points at context `prod-admin` (server https://prod.example.com:6443)",
        ),
        (
            "sh ./cleanup.sh",
            "`--context prod-admin` names a context other than",
        ),
    ];
    for (i, (step, says)) in cases.iter().enumerate() {
        let doc = format!(
            "# Hidden\n\n```console\n$ kind create cluster\n$ kubectl get pods\n$ {step}\n```\n"
        );
        let dir = project(&doc);
        std::fs::write(dir.path().join("prod.kubeconfig"), prod).unwrap();
        std::fs::write(
            dir.path().join("cleanup.sh"),
            "kubectl --context prod-admin delete pods --all\n",
        )
        .unwrap();
        let (path, calls) = recording_path(dir.path());
        let name = format!("labrun-hidden{i}-u{}", std::process::id());
        let out = run_kind(dir.path(), &path, &["--cluster", &name]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(3), "{step}: {t}");
        assert!(
            t.contains("doc.md:6: refused a program as the step ran it"),
            "{step}: {t}"
        );
        assert!(t.contains(says), "{step}: {t}");
        let made = calls_made(&calls);
        // the run's own calls went through the shims to the real programs; the escape did not
        assert_eq!(made[0], "kind create cluster", "{made:?}");
        assert_eq!(made[1], "kubectl get pods", "{made:?}");
        assert!(
            made[2..]
                .iter()
                .all(|c| c.starts_with("kind delete cluster --name")),
            "{step}: {made:?}"
        );
        assert_eq!(containers_of(&name), 0, "the run's cluster was deleted");
    }
}

/// `kind …` through the test double, with labrun nowhere involved.
fn kind(path: &str, kubeconfig: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("kind")
        .args(args)
        .env("PATH", path)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("KIND_CLUSTER_NAME")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn inspect(container: &str, format: &str) -> String {
    String::from_utf8_lossy(&docker(&["inspect", "--format", format, container]).stdout)
        .trim()
        .to_string()
}

/// The double reads flags as kind's pflag does, so that no test passes because the double
/// refused a spelling kind would run.
#[test]
fn the_test_double_reads_flags_as_kinds_pflag_does() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        common::fake_kind_dir().display(),
        std::env::var("PATH").unwrap()
    );
    let kc = dir.path().join("config");
    for (args, says) in [
        (&["-q", "--loglevel", "debug", "version"][..], "kind v0.0.0"),
        (&["-v=3", "--verbosity", "2", "version"][..], "kind v0.0.0"),
        (
            &["get", "nodes", "-qn", "grouped"][..],
            "cluster \"grouped\"",
        ),
        (&["get", "nodes", "-qngluedon"][..], "cluster \"gluedon\""),
        (&["get", "nodes", "-n=equals"][..], "cluster \"equals\""),
        (
            &["--name", "before", "get", "nodes"][..],
            "cluster \"before\"",
        ),
        (&["get", "nodes", "--name=long"][..], "cluster \"long\""),
        (&["get", "--", "nodes"][..], "cluster \"kind\""),
    ] {
        let out = kind(&path, &kc, args, &[]);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    for args in [&["-x", "version"][..], &["get", "nodes", "-n"][..]] {
        let out = kind(&path, &kc, args, &[]);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
    }
}

#[test]
fn the_test_double_creates_what_a_kind_config_asks_for() {
    if !docker_ready() {
        return;
    }
    image();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = fake_path(dir.path());
    let kc = dir.path().join("kubeconfig");
    let pid = std::process::id();
    let c = Cluster(format!("labrun-cfg-u{pid}"));
    std::fs::write(
        dir.path().join("four.yaml"),
        format!(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: {}\nnetworking:\n  apiServerAddress: 127.0.0.1\nnodes:\n  - role: control-plane\n    extraPortMappings:\n      - containerPort: 80\n        listenAddress: 127.0.0.1\n  - role: worker\n  - role: worker\n  - role: worker\n",
            c.0
        ),
    )
    .unwrap();
    let out = kind(
        &path,
        &kc,
        &[
            "create",
            "cluster",
            "--config",
            dir.path().join("four.yaml").to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        out.stdout.is_empty(),
        "kind writes its progress to standard error"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "Creating cluster \"{}\" ...\n ✓ Ensuring node image",
            c.0
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("Set kubectl context to \"kind-{}\"", c.0)),
        "{err}"
    );
    let names: Vec<String> = ["control-plane", "worker", "worker2", "worker3"]
        .iter()
        .map(|s| format!("{}-{s}", c.0))
        .collect();
    assert_eq!(containers_of(&c.0), 4);
    for n in &names {
        assert_eq!(
            inspect(n, "{{.Config.Hostname}}"),
            *n,
            "the node name is its hostname"
        );
        assert!(inspect(n, "{{json .NetworkSettings.Networks}}").contains("\"kind\""));
    }
    let cp = &names[0];
    assert_eq!(
        inspect(cp, "{{index .Config.Labels \"io.x-k8s.kind.role\"}}"),
        "control-plane"
    );
    let published = String::from_utf8_lossy(&docker(&["port", cp]).stdout).to_string();
    assert!(published.contains("80/tcp -> 127.0.0.1:"), "{published}");
    assert!(published.contains("6443/tcp -> 127.0.0.1:"), "{published}");
    // certificate credentials, as kind writes them, and the context made current
    let conf = std::fs::read_to_string(&kc).unwrap();
    assert!(conf.contains("client-certificate-data") && conf.contains("client-key-data"));
    assert!(conf.contains("certificate-authority-data") && !conf.contains("token"));
    assert!(
        conf.contains(&format!("current-context: kind-{}", c.0)),
        "{conf}"
    );
    // the cluster's nodes, and its kubeconfig read back from the node
    let out = kind(&path, &kc, &["get", "nodes", "-n", &c.0], &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        names
    );
    let out = kind(&path, &kc, &["get", "kubeconfig", "--name", &c.0], &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("client-key-data"));
    // load docker-image of the lab's web server image reaches every node; an image that is
    // not there is an error
    common::run_script(
        "manifests/web-server/build-image.sh",
        &[("WEB_SERVER_TARGET_DIR", Path::new("target/web-server"))],
    );
    let out = kind(
        &path,
        &kc,
        &[
            "load",
            "docker-image",
            "labrun/web-server:0.1.0",
            "--name",
            &c.0,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    for n in &names {
        let ls = docker(&["exec", n, "ls", "/kind-images"]);
        assert_eq!(
            String::from_utf8_lossy(&ls.stdout).trim(),
            "labrun_web-server_0.1.0.tar"
        );
    }
    let out = kind(
        &path,
        &kc,
        &[
            "load",
            "docker-image",
            "labrun/no-such-image:0",
            "--name",
            &c.0,
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("not present locally"), "{}", text(&out));
    // delete: the nodes, then the kubeconfig's entries
    let out = kind(&path, &kc, &["delete", "cluster", "--name", &c.0], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    assert!(
        text(&out).contains(&format!("Deleted nodes: [{}]", quoted.join(" "))),
        "{}",
        text(&out)
    );
    assert_eq!(containers_of(&c.0), 0);
    let conf = std::fs::read_to_string(&kc).unwrap();
    assert!(!conf.contains(&format!("kind-{}", c.0)), "{conf}");
}

#[test]
fn the_test_double_names_clusters_in_kinds_order_and_locks_the_kubeconfig() {
    if !docker_ready() {
        return;
    }
    image();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = fake_path(dir.path());
    let kc = dir.path().join("kubeconfig");
    let pid = std::process::id();
    let (from_config, from_env, from_flag) = (
        Cluster(format!("labrun-byconfig-u{pid}")),
        Cluster(format!("labrun-byenv-u{pid}")),
        Cluster(format!("labrun-byflag-u{pid}")),
    );
    let config = dir.path().join("named.yaml");
    std::fs::write(
        &config,
        format!(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: {}\n",
            from_config.0
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let create = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["create", "cluster", "--config", config];
        args.extend(extra);
        let out = kind(&path, &kc, &args, env);
        assert!(out.status.success(), "{}", text(&out));
    };
    create(&[], &[]); // the config's name
    assert_eq!(containers_of(&from_config.0), 1);
    create(&[("KIND_CLUSTER_NAME", &from_env.0)], &[]); // the environment beats the config
    assert_eq!(containers_of(&from_env.0), 1);
    create(&[("KIND_CLUSTER_NAME", &from_env.0)], &["-n", &from_flag.0]); // the flag beats both
    assert_eq!(containers_of(&from_flag.0), 1);
    // a second create of the same name is kind's error
    let out = kind(
        &path,
        &kc,
        &["create", "cluster", "--name", &from_flag.0],
        &[],
    );
    assert!(text(&out).contains(&format!(
        "node(s) already exist for a cluster with the name \"{}\"",
        from_flag.0
    )));
    // a kubeconfig lock left behind stops kind from writing the kubeconfig
    std::fs::write(dir.path().join("kubeconfig.lock"), "").unwrap();
    let out = kind(
        &path,
        &kc,
        &["delete", "cluster", "--name", &from_config.0],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("failed to lock config file"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_create_that_outlives_its_budget_or_is_interrupted_leaves_no_node() {
    if !docker_ready() {
        return;
    }
    image();
    let name = format!("labrun-slow-u{}", std::process::id());
    let doc = "# Lab\n\n```console\n$ kind create cluster\n$ kubectl get nodes\n```\n";
    let dir = project(doc);
    let (path, mark) = fake_path(dir.path());
    let labrun = |args: &[&str], delay: &str| {
        let mut c = Command::new(BIN);
        c.arg("run")
            .arg(dir.path().join("doc.md"))
            .args(["--backend", "kind", "--settle", "1s", "--cluster", &name])
            .args(args)
            .env("PATH", &path)
            .env("FAKE_KIND_CREATE_DELAY", delay);
        c
    };
    // 1. the create outlives its budget: its nodes had started, and are gone at the end
    let out = labrun(&["--create-timeout", "3s"], "60").output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let records = last_run(dir.path());
    assert!(records[0].timed_out, "{:?}", records[0]);
    assert_eq!(containers_of(&name), 0, "a timed-out create leaves no node");
    // 2. interrupted during create
    let mut child = labrun(&[], "60")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while containers_of(&name) == 0 {
        assert!(Instant::now() < deadline, "the create never started a node");
        std::thread::sleep(Duration::from_millis(100));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(
        containers_of(&name),
        0,
        "an interrupted create leaves no node"
    );
    // 3. a lock a killed kind left beside labrun's kubeconfig does not stop the next run
    let lock = dir.path().join("target/labrun/doc.md/kube/config.lock");
    std::fs::write(&lock, "").unwrap();
    let out = labrun(&[], "0").output().unwrap();
    let records = last_run(dir.path());
    // kind's create succeeded (the stand-in cluster has no API server to settle against, so
    // the step is reported unsettled), and the next step reached the new cluster
    assert_eq!(records[0].exit_code, 0, "{}", text(&out));
    assert!(!records[0].timed_out);
    assert_eq!(std::fs::read_to_string(&mark).unwrap().trim(), "get nodes");
    assert!(!lock.exists());
    assert_eq!(containers_of(&name), 0, "deleted at the end of the run");
}

#[test]
fn no_false_refusal_for_ha_ipv6_or_a_non_loopback_api_address() {
    if !docker_ready() {
        return;
    }
    image();
    // another address of this machine: the Docker bridge's
    let bridge = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "docker0"])
        .output()
        .unwrap();
    let bridge = String::from_utf8_lossy(&bridge.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .expect("docker0 has an IPv4 address")
        .to_string();
    let configs = [
        ("ha", "nodes:\n  - role: control-plane\n  - role: control-plane\n  - role: control-plane\n  - role: worker\n".to_string(), "https://127.0.0.1:".to_string()),
        ("v6", "networking:\n  apiServerAddress: \"::1\"\n".to_string(), "https://[::1]:".to_string()),
        ("lan", format!("networking:\n  apiServerAddress: {bridge}\n"), format!("https://{bridge}:")),
    ];
    for (tag, config, server) in configs {
        let doc = "# Lab\n\n```console\n$ kind create cluster --config cluster.yaml\n$ kubectl get nodes\n```\n";
        let dir = project(doc);
        std::fs::write(
            dir.path().join("cluster.yaml"),
            format!("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n{config}"),
        )
        .unwrap();
        let (path, mark) = fake_path(dir.path());
        let cluster = Cluster(format!("labrun-{tag}-u{}", std::process::id()));
        let name = cluster.0.clone();
        let out = run_kind(dir.path(), &path, &["--cluster", &name, "--keep-cluster"]);
        let t = text(&out);
        assert!(!t.contains("refus"), "{tag}: {t}");
        assert_eq!(
            std::fs::read_to_string(&mark).unwrap_or_default().trim(),
            "get nodes",
            "{tag}: {t}"
        );
        let conf =
            std::fs::read_to_string(dir.path().join("target/labrun/doc.md/kube/config")).unwrap();
        assert!(conf.contains(&format!("server: {server}")), "{tag}: {conf}");
        let records = last_run(dir.path());
        assert_eq!(records[0].exit_code, 0, "{tag}: {t}");
        let nodes = if tag == "ha" { 5 } else { 1 };
        assert_eq!(containers_of(&name), nodes, "{tag}");
    }
}

#[test]
fn labrun_reaches_the_daemon_of_the_docker_clis_context() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("docker-config");
    let socket = dir.path().join("docker.sock");
    std::os::unix::fs::symlink("/var/run/docker.sock", &socket).unwrap();
    // the contexts are written by the docker CLI itself
    let cli = |args: &[&str]| {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_CONFIG", &config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .output()
            .unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", text(&out));
    };
    let host = format!("host=unix://{}", socket.display());
    cli(&["context", "create", "labrun-here", "--docker", &host]);
    cli(&[
        "context",
        "create",
        "labrun-nowhere",
        "--docker",
        "host=unix:///nonexistent/docker.sock",
    ]);
    cli(&["context", "use", "labrun-here"]);
    let doc = project("# Lab\n\n```console\n$ kind get clusters\n```\n");
    let (path, _) = fake_path(doc.path());
    let labrun = |args: &[&str], context: Option<&str>| {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("PATH", &path)
            .env("DOCKER_CONFIG", &config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT");
        if let Some(ctx) = context {
            c.env("DOCKER_CONTEXT", ctx);
        }
        c.output().unwrap()
    };
    let out = labrun(&["doctor", "--backend", "kind"], None);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains(&format!(
            "at unix://{} (from context labrun-here",
            socket.display()
        )),
        "{t}"
    );
    assert!(!t.contains("DIFFERS"), "{t}");
    // DOCKER_CONTEXT wins over the configuration's current context: a daemon that is not
    // there is reported as such, though the default socket answers
    let out = labrun(&["doctor", "--backend", "kind"], Some("labrun-nowhere"));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(
        t.contains(
            "not reachable at unix:///nonexistent/docker.sock (from DOCKER_CONTEXT=labrun-nowhere)"
        ),
        "{t}"
    );
    let doc_path = doc.path().join("doc.md");
    let out = labrun(
        &["run", doc_path.to_str().unwrap(), "--backend", "kind"],
        Some("labrun-nowhere"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("/nonexistent/docker.sock"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_doubles_certificate_credentials_reach_an_api_server_through_labrun() {
    if !docker_ready() {
        return;
    }
    image();
    // the kind network's gateway: where a node reaches this host
    if !docker(&["network", "inspect", "kind"]).status.success() {
        docker(&["network", "create", "kind"]);
    }
    let gateway = String::from_utf8_lossy(
        &docker(&[
            "network",
            "inspect",
            "kind",
            "--format",
            "{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}",
        ])
        .stdout,
    )
    .split_whitespace()
    .find(|g| !g.contains(':'))
    .expect("the kind network has an IPv4 gateway")
    .to_string();
    // the cluster's CA, and an API server whose certificate it signed, that requires a client
    // certificate it signed too
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ca = common::tls::Ca::new("kubernetes");
    let port = rt.block_on(common::tls::api_server(&ca, &ca, &gateway));
    let dir = project("# Lab\n\n```console\n$ kind create cluster\n```\n");
    ca.write(dir.path());
    let (path, _) = fake_path(dir.path());
    let cluster = Cluster(format!("labrun-certs-u{}", std::process::id()));
    let out = Command::new(BIN)
        .arg("run")
        .arg(dir.path().join("doc.md"))
        .args([
            "--backend",
            "kind",
            "--settle",
            "2s",
            "--cluster",
            &cluster.0,
        ])
        .env("PATH", &path)
        .env("FAKE_KIND_CA_DIR", dir.path())
        .env("FAKE_KIND_API_FORWARD", format!("{gateway}:{port}"))
        .output()
        .unwrap();
    // kind's kubeconfig (certificates) → labrun's client → the published port → the node →
    // the API server, which asked for the client certificate and answered /version
    let records = last_run(dir.path());
    let versions = records[0].versions.as_ref().unwrap();
    assert_eq!(versions["kubernetes"], "v1.32.2", "{}", text(&out));
    assert_eq!(containers_of(&cluster.0), 0, "deleted at the end");
}

#[test]
fn two_kind_documents_in_parallel_get_two_clusters_and_reach_only_their_own_nodes() {
    if !docker_ready() {
        return;
    }
    image();
    // two labs, both written for the cluster `kind`, run together: each gets a cluster named
    // from its document, and its `docker exec kind-worker` reaches that cluster's node
    let dir = tempfile::tempdir().unwrap();
    // the test double's settings reach it in the sandbox as any variable does: named
    std::fs::write(
        dir.path().join("labrun.toml"),
        "retry = \"3s\"\n[sandbox]\nenv = [\"FAKE_KIND_API_FORWARD\", \"FAKE_KIND_CREATE_DELAY\", \"FAKE_KIND_CA_DIR\"]\nwrite = [\"calls\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("calls")).unwrap();
    let docs = dir.path().join(format!("par{}", std::process::id()));
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(
        docs.join("cluster.yaml"),
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n  - role: worker\n",
    )
    .unwrap();
    for lab in ["a", "b"] {
        std::fs::write(
            docs.join(format!("{lab}.md")),
            format!(
                "# Lab {lab}\n\n```console\n$ kind create cluster --name kind --config cluster.yaml\n\
                 $ docker exec kind-worker hostname\nkind-worker\n\
                 $ docker exec kind-worker sh -c 'echo {lab} > /tmp/mark; ls /tmp'\nmark\n\
                 $ kind delete cluster --name kind\n```\n"
            ),
        )
        .unwrap();
    }
    let (path, _) = fake_path(dir.path());
    let dir_name = docs.file_name().unwrap().to_str().unwrap().to_string();
    let names: Vec<String> = ["a", "b"]
        .iter()
        .map(|l| labrun::suite::cluster_name(Path::new(&format!("{dir_name}/{l}.md"))))
        .collect();
    assert_ne!(names[0], names[1]);
    let out = Command::new(BIN)
        .args([
            "run",
            &dir_name,
            "--backend",
            "kind",
            "--settle",
            "2s",
            "--jobs",
            "2",
        ])
        .args(["--format", "json"])
        .current_dir(dir.path())
        .env("PATH", &path)
        .output()
        .unwrap();
    for n in &names {
        remove_cluster(n); // whatever happened, nothing is left running
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // the stand-in cluster has no API server to settle against: each create step is
    // reported unsettled (as in every test of a create here); every other step passes
    for d in report["documents"].as_array().unwrap() {
        let steps = d["steps"].as_array().unwrap();
        assert!(
            steps[0]["reason"]
                .as_str()
                .unwrap()
                .contains("did not settle"),
            "{report}"
        );
        for s in &steps[1..] {
            assert_eq!(s["status"], "pass", "{report}");
        }
    }
    for (lab, name) in ["a", "b"].iter().zip(&names) {
        let records = labrun::record::read(
            &dir.path()
                .join(format!("target/labrun/{dir_name}/{lab}.md/last.jsonl")),
        )
        .unwrap();
        // what ran named this document's cluster, and its node answered as itself
        assert_eq!(
            records[0].command,
            format!("kind create cluster --name {name} --config cluster.yaml")
        );
        assert_eq!(
            records[1].command,
            format!("docker exec {name}-worker hostname")
        );
        assert_eq!(records[1].stdout.trim(), format!("{name}-worker"));
        assert_eq!(
            records[3].command,
            format!("kind delete cluster --name {name}")
        );
        assert_eq!(records[1].renamed.as_ref().unwrap().document, "kind");
        assert_eq!(containers_of(name), 0, "deleted by the lab's own step");
    }
    assert_eq!(
        containers_of("kind"),
        0,
        "no cluster `kind` was made or touched"
    );
}
