//! The lab's web server image, built and run on this machine's Docker daemon (no registry: a
//! `FROM scratch` image of a static binary and Debian's busybox), its HTTP answers checked for
//! real, `/data` against a real PostgreSQL server started for the test; and the lab's DNS
//! utilities image (Debian's host and dig, busybox's wget), with the commands the lab runs
//! inside both pods.
//!
//! Needs Docker. Without a reachable daemon these tests report and return, unless
//! `LABRUN_REQUIRE_DOCKER=1` (set by .ci/run), where they fail. The PostgreSQL test needs the
//! server binaries (Debian's `postgresql`, installed by .ci/run) and `setpriv`.

use crate::common;

use common::docker_ready;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Once;
use std::time::{Duration, Instant};

const IMAGE: &str = "labrun/web-server:0.1.0";

static BUILD: Once = Once::new();

/// Build the image once per test process, as the lab's setup step does.
fn image() {
    BUILD.call_once(|| {
        common::run_script(
            "manifests/web-server/build-image.sh",
            &[("WEB_SERVER_TARGET_DIR", Path::new("target/web-server"))],
        )
    });
}

/// A container removed when dropped.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

fn run(name: &str, args: &[&str]) -> Container {
    let name = format!("labrun-test-{name}-{}", std::process::id());
    let out = Command::new("docker")
        .args(["run", "-d", "--name", &name])
        .args(args)
        .arg(IMAGE)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Container(name)
}

/// A Docker network of the test's own, removed when dropped.
struct Network(String);

impl Network {
    fn create(tag: &str) -> Network {
        let name = format!("labrun-test-{tag}-net-{}", std::process::id());
        let made = Command::new("docker")
            .args(["network", "create", &name])
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        Network(name)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

/// GET `path` from `port` on 127.0.0.1, retrying while the server starts: (status, body).
fn get(port: u16, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                let mut text = String::new();
                if s.read_to_string(&mut text).is_ok() && !text.is_empty() {
                    let status = text[9..12].parse().unwrap();
                    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
                    return (status, body);
                }
            }
            Err(e) if Instant::now() > deadline => panic!("no answer on port {port}: {e}"),
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn published_port(c: &Container) -> u16 {
    let out = Command::new("docker")
        .args(["port", &c.0, "8080/tcp"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no published port: {text}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_image_is_tiny_and_answers_root_healthz_and_host() {
    if !docker_ready() {
        return;
    }
    image();
    let c = run(
        "answers",
        &[
            "-p",
            "127.0.0.1::8080",
            "-e",
            "MY_NODE_NAME=kind-worker2",
            "-e",
            "MY_POD_IP=10.244.1.5",
        ],
    );
    let port = published_port(&c);
    assert_eq!(get(port, "/healthz"), (200, "ok\n".into()));
    assert_eq!(
        get(port, "/"),
        (200, "Hello from the lab's web server\n".into())
    );
    // exactly what the lab prints for wget -q -O- …/host
    assert_eq!(
        get(port, "/host"),
        (200, "NODE: kind-worker2, POD IP:10.244.1.5\n".into())
    );
    assert_eq!(get(port, "/nope").0, 404);
    // nothing listens on the default DB_HOST (`postgres` does not resolve here)
    let (status, body) = get(port, "/data");
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("Database Not Connected: "), "{body}");
    // the image holds the binary and busybox, and runs unprivileged
    let out = Command::new("docker")
        .args([
            "image",
            "inspect",
            IMAGE,
            "--format",
            "{{.Size}} {{.Config.User}}",
        ])
        .output()
        .unwrap();
    let inspect = String::from_utf8_lossy(&out.stdout);
    let mut it = inspect.split_whitespace();
    let size: u64 = it.next().unwrap().parse().unwrap();
    assert!(size < 10_000_000, "{size} bytes");
    assert_eq!(it.next(), Some("65534:65534"));
    // SIGTERM (docker stop) ends it cleanly: exit 0, not the SIGKILL that follows an ignored TERM
    let out = Command::new("docker")
        .args(["stop", "-t", "20", &c.0])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new("docker")
        .args(["inspect", &c.0, "--format", "{{.State.ExitCode}}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}

#[test]
fn data_tells_a_service_that_is_not_postgres_from_one_that_is_absent() {
    if !docker_ready() {
        return;
    }
    image();
    // A second web server on the same network, named like a database host: it resolves
    // (Docker's DNS) and accepts the connection, but never answers PostgreSQL's SSLRequest.
    let net = Network::create("impostor");
    let net = &net.0;
    let impostor = run("impostor", &["--network", net, "-e", "PORT=5432"]);
    let impostor_host = impostor.0.clone();
    let web = run(
        "asker",
        &[
            "--network",
            net,
            "-p",
            "127.0.0.1::8080",
            "-e",
            &format!("DB_HOST={impostor_host}"),
            "-e",
            "DB_PORT=5432",
        ],
    );
    let port = published_port(&web);
    get(port, "/healthz");
    let (status, body) = get(port, "/data");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("no answer from"),
        "resolved and connected, no postgres: {body}"
    );
    drop(web);
    drop(impostor);
}

/// A PostgreSQL server in a scratch directory, run as `nobody` (postgres refuses root).
struct Postgres {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn postgres_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.path().join("bin").join(name)))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no PostgreSQL server binaries (apt-get install postgresql)"))
}

fn start_postgres(port: u16) -> Postgres {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let status = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let as_nobody = |program: PathBuf| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(program);
        c
    };
    let out = as_nobody(postgres_bin("initdb"))
        .args(["-D"])
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let child = as_nobody(postgres_bin("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-c", "listen_addresses=127.0.0.1", "-p", &port.to_string()])
        .arg("-k")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "postgres did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Postgres { child, _dir: dir }
}

#[test]
fn data_reports_a_real_postgres_as_connected() {
    if !docker_ready() {
        return;
    }
    image();
    let pg_port = free_port();
    let _pg = start_postgres(pg_port);
    let web_port = free_port();
    let _web = run(
        "postgres",
        &[
            "--network",
            "host",
            "-e",
            &format!("PORT={web_port}"),
            "-e",
            "DB_HOST=127.0.0.1",
            "-e",
            &format!("DB_PORT={pg_port}"),
        ],
    );
    assert_eq!(get(web_port, "/data"), (200, "Database Connected\n".into()));
}

static DNSUTILS: Once = Once::new();

/// `docker exec CONTAINER ARGS…`: (exit code, stdout + stderr).
fn exec(c: &Container, args: &[&str]) -> (i32, String) {
    let out = Command::new("docker")
        .args(["exec", &c.0])
        .args(args)
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_labs_commands_inside_the_pods_run_in_both_images() {
    if !docker_ready() {
        return;
    }
    image();
    DNSUTILS.call_once(|| common::run_script("manifests/dnsutils/build-image.sh", &[]));
    // a user network: Docker's DNS answers for container names, as CoreDNS does for Services
    let net = Network::create("pods");
    let net = &net.0;
    let web_name = format!("web-{}", std::process::id());
    let web = run(
        "pods-web",
        &["--network", net, "--network-alias", &web_name],
    );
    // the app pod: `ip a`, `ip r`, `ps` (as its unprivileged user)
    let (code, ip_a) = exec(&web, &["ip", "a"]);
    assert_eq!(code, 0, "{ip_a}");
    assert!(
        ip_a.contains("1: lo: <LOOPBACK,UP,LOWER_UP>") && ip_a.contains("inet 127.0.0.1/8"),
        "{ip_a}"
    );
    assert!(ip_a.contains("eth0@if"), "{ip_a}");
    let (code, ip_r) = exec(&web, &["ip", "r"]);
    assert_eq!(code, 0, "{ip_r}");
    assert!(ip_r.starts_with("default via "), "{ip_r}");
    let (code, ps) = exec(&web, &["ps"]);
    assert_eq!(code, 0, "{ps}");
    assert!(ps.contains("/web-server"), "{ps}");
    // the DNS utilities pod: host, dig and wget against the web server by name
    let name = format!("labrun-test-dnsutils-{}", std::process::id());
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            net,
            "labrun/dnsutils:0.1.0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dns = Container(name);
    let (code, host) = exec(&dns, &["host", &web_name]);
    assert_eq!(code, 0, "{host}");
    assert!(host.contains(&format!("{web_name} has address ")), "{host}");
    let (code, dig) = exec(&dns, &["dig", "+short", &web_name]);
    assert_eq!(code, 0, "{dig}");
    assert!(dig.trim().parse::<std::net::Ipv4Addr>().is_ok(), "{dig}");
    let (code, body) = exec(&dns, &["wget", "-q", "-O-", &format!("{web_name}:8080/")]);
    assert_eq!(code, 0, "{body}");
    assert_eq!(body, "Hello from the lab's web server\n");
}
