//! Steps that try to reach another cluster's nodes through Docker, on the real daemon: every
//! form is run, with the text lint on and off, and another cluster's node (a stand-in labelled
//! as kind labels its nodes) must still be running, unchanged, afterwards; the user's Docker
//! configuration too. What a run may do (its own containers) still works. Needs Docker
//! (`LABRUN_REQUIRE_DOCKER=1` makes its absence a failure, as in CI).

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::text;

const BIN: &str = env!("CARGO_BIN_EXE_labrun");

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

/// A stand-in node of another kind cluster, removed when dropped.
struct Victim {
    name: String,
}

impl Victim {
    fn start() -> Victim {
        let name = format!("victim-u{}-control-plane", std::process::id());
        let cluster = format!("victim-u{}", std::process::id());
        let out = docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &format!("io.x-k8s.kind.cluster={cluster}"),
            "--label",
            "io.x-k8s.kind.role=control-plane",
            "labrun/fake-node:test",
            "sleep",
            "3600",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        Victim { name }
    }

    fn state(&self) -> String {
        let out = docker(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.Paused}} {{.Name}} {{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}",
            &self.name,
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

/// The escape forms: `V` stands for the victim node's name, `IMAGE` for an image on the machine.
const ESCAPES: &[&str] = &[
    "docker rm -f $(docker ps -aq)",
    "docker rm -f $(docker ps -aq --filter label=io.x-k8s.kind.cluster)",
    "docker stop V",
    "docker rm -f V",
    "docker pause V",
    "docker kill V",
    "docker restart V",
    "docker rename V stolen",
    "docker update --restart=always V",
    "docker cp V:/etc/hostname ./stolen",
    "docker container exec V true",
    "docker exec V sh -c 'kill 1'",
    "timeout 5 docker exec V true",
    "for n in V; do docker exec $n true; done",
    "(docker exec V true)",
    "echo $(docker exec V hostname)",
    "sh -c 'docker rm -f V'",
    "env docker stop V",
    "bash -c 'docker container stop V'",
    "docker inspect V",
    "docker logs V",
    "docker top V",
    "docker commit V stolen:latest",
    "docker export V > stolen.tar",
    "docker network disconnect bridge V",
    "docker network connect bridge V",
    "docker container prune -f",
    "docker system prune -af",
    "docker image rm -f IMAGE",
    "docker -H unix:///var/run/docker.sock rm -f V",
    "DOCKER_HOST=unix:///run/docker.sock docker rm -f V",
    "docker context create real --docker host=unix:///var/run/docker.sock && docker context use real && docker rm -f V",
    "docker --config /root/.docker rm -f V",
    "docker run --rm -v /var/run/docker.sock:/s IMAGE true",
    "docker run --rm -v /:/host IMAGE true",
    "docker run --rm --privileged IMAGE true",
    "docker run --rm --pid=host IMAGE kill -9 1",
    "docker run --rm --cap-add SYS_ADMIN IMAGE true",
    "docker run --rm --label io.x-k8s.kind.cluster=victim-uPID IMAGE true",
    "docker run -d --name V-2 --label io.x-k8s.kind.cluster=victim-uPID IMAGE sleep 60",
    "python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock')\"",
];

fn project(doc: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("labrun.toml"), "retry = \"1s\"\n").unwrap();
    std::fs::write(dir.path().join("doc.md"), doc).unwrap();
    dir
}

fn escape_doc(victim: &str) -> String {
    let mut d = String::from("# Escapes\n\n```console\n");
    for e in ESCAPES {
        let step = e
            .replace("V", victim)
            .replace("IMAGE", "labrun/fake-node:test")
            .replace("uPID", &format!("u{}", std::process::id()));
        d.push_str(&format!("$ {step}\n"));
    }
    // what the run may do: a container of its own, listed, reached, removed
    d.push_str("$ docker run -d --name mine-uPID labrun/fake-node:test sleep 60\n");
    d.push_str("$ docker ps --format '{{.Names}}'\n");
    d.push_str("$ docker exec mine-uPID hostname\n");
    d.push_str("$ docker rm -f mine-uPID\n");
    d.push_str("```\n");
    d.replace("uPID", &format!("u{}", std::process::id()))
}

fn run(dir: &Path, lint: bool, home: &Path) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .arg(dir.join("doc.md"))
        .env("HOME", home)
        .env_remove("CI");
    if !lint {
        cmd.env("LABRUN_LINT", "off");
    }
    cmd.output().unwrap()
}

#[test]
fn no_docker_escape_reaches_another_clusters_node_lint_on_or_off() {
    if !common::docker_ready() {
        return;
    }
    common::run_script("tests/images/build-fake-node.sh", &[]);
    let victim = Victim::start();
    let before = victim.state();
    // the user's own Docker configuration, which must stay byte for byte
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".docker/config.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "{\"auths\":{}}\n").unwrap();
    for lint in [true, false] {
        let dir = project(&escape_doc(&victim.name));
        let out = run(dir.path(), lint, home.path());
        assert!(out.status.code().is_some(), "{}", text(&out));
        assert_eq!(victim.state(), before, "lint {lint}: {}", text(&out));
        assert!(
            docker(&["image", "inspect", "labrun/fake-node:test"])
                .status
                .success()
        );
        let stolen = docker(&["ps", "-aq", "--filter", &format!("name={}-2", victim.name)]);
        assert!(
            stolen.stdout.is_empty(),
            "a second node joined the victim's cluster"
        );
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            "{\"auths\":{}}\n"
        );
        assert!(!dir.path().join("stolen").exists());
        let records =
            labrun::record::read(&dir.path().join("target/labrun/doc.md/last.jsonl")).unwrap();
        let n = ESCAPES.len();
        // refusals read as the daemon's own
        assert!(
            records[2]
                .stderr
                .contains("Error response from daemon: labrun: container"),
            "{:?}",
            records[2]
        );
        // the run's own container: created, listed alone, reached, removed
        assert_eq!(records[n].exit_code, 0, "{:?}", records[n]);
        assert_eq!(
            records[n + 1].stdout.trim(),
            format!("mine-u{}", std::process::id())
        );
        assert_eq!(records[n + 2].exit_code, 0, "{:?}", records[n + 2]);
        assert_eq!(records[n + 3].exit_code, 0, "{:?}", records[n + 3]);
    }
}

#[test]
fn the_containers_a_run_leaves_are_removed_with_it() {
    if !common::docker_ready() {
        return;
    }
    common::run_script("tests/images/build-fake-node.sh", &[]);
    let name = format!("left-u{}", std::process::id());
    let dir = project(&format!(
        "# Left\n\n```console\n$ docker run -d --name {name} labrun/fake-node:test sleep 600 > /dev/null\n```\n"
    ));
    let out = run(dir.path(), true, Path::new("/root"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let left = docker(&["ps", "-aq", "--filter", &format!("name={name}")]);
    assert!(
        left.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&left.stdout)
    );
}
