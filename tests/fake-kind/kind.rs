//! A TEST DOUBLE for the `kind` CLI, for machines where kind cannot run (no node image can be
//! pulled). Built by `cargo test` as the example `fake-kind`; the tests put it on `PATH` as
//! `kind`. It follows what kind's own source does where labrun depends on it, and says so
//! nowhere else: it is never presented as kind.
//!
//! - Cluster name: `--name`/`-n`, then `KIND_CLUSTER_NAME`, then (create only) the config's
//!   `name:`, then `kind`.
//! - `create cluster [--config FILE] [--image I] [--kubeconfig P]`: the config's nodes (one
//!   control plane by default) as containers of the stand-in image `labrun/fake-node:test`,
//!   named `<name>-control-plane[N]`, `<name>-worker[N]`, plus `<name>-external-load-balancer`
//!   when there are several control planes; on the Docker network `kind`, the node name as
//!   hostname, labelled `io.x-k8s.kind.cluster=<name>` and `io.x-k8s.kind.role=<role>`; the API
//!   port (6443) published on `networking.apiServerAddress` (default 127.0.0.1) and
//!   `apiServerPort` (default: any) of the load balancer, else the first control plane;
//!   `extraPortMappings` published on their node. Credentials are certificates: a CA, and a
//!   client certificate and key it signed, written as kind writes them
//!   (`certificate-authority-data`, `client-certificate-data`, `client-key-data`), kept in the
//!   API node at `/etc/kubernetes/admin.conf`. A cluster whose nodes exist already is an error.
//! - The kubeconfig (`--kubeconfig`, else the first path of `KUBECONFIG`, else
//!   `~/.kube/config`) is merged under `<kubeconfig>.lock` (a lock that exists is an error, as
//!   kind's is): `kind-<name>` cluster, user and context, made current; `delete cluster` removes
//!   them again and prints `Deleted nodes: [...]`.
//! - `load docker-image IMAGE…`: the image must exist locally; it is copied into every node
//!   (not the load balancer) under `/kind-images/`.
//! - `get clusters|nodes|kubeconfig`, `export kubeconfig`, `delete clusters NAME…|--all`,
//!   `version`.
//! - Everything but `get` output goes to standard error, in kind's status-line shape.
//! - The cluster's CA is kept in the control plane at `/etc/kubernetes/pki/ca.crt` and `ca.key`,
//!   as kind keeps it.
//! - Knobs for tests: `FAKE_KIND_CREATE_DELAY=SECONDS`: create pauses that long after its nodes
//!   start (an image pull, a slow boot), so timeouts and interruptions during create can be
//!   tested. `FAKE_KIND_CA_DIR=DIR`: the CA is `DIR/ca.crt` and `DIR/ca.key` (PEM, its subject
//!   `CN=kubernetes`) instead of a new one. `FAKE_KIND_API_FORWARD=HOST:PORT`: the API
//!   endpoint's container forwards its port 6443 to HOST:PORT (busybox `nc`), where a test runs
//!   an API server.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const IMAGE: &str = "labrun/fake-node:test";
const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
const ROLE_LABEL: &str = "io.x-k8s.kind.role";
const NODE_IMAGE: &str = "kindest/node:v1.32.2";

type Res<T> = Result<T, String>;

fn main() {
    if let Err(e) = run(std::env::args().skip(1).collect()) {
        eprintln!("ERROR: {e}");
        std::process::exit(1);
    }
}

#[derive(Default)]
struct Args {
    words: Vec<String>,
    name: Option<String>,
    config: Option<String>,
    kubeconfig: Option<String>,
    image: Option<String>,
    all: bool,
}

/// kind's flags as its commands declare them (cobra and pflag): the long name, the one-letter
/// shorthand, and whether the flag takes a value. Global and per-command flags are merged; a
/// flag the real command lacks would be rejected there, which no test here relies on. Kept
/// apart from labrun's own table (`src/policy/flags.rs`) on purpose: the double models kind,
/// so a mistake in labrun's reading of kind's flags shows up against it.
const FLAGS: &[(&str, Option<char>, bool)] = &[
    ("name", Some('n'), true),
    ("config", None, true),
    ("kubeconfig", None, true),
    ("image", None, true),
    ("wait", None, true),
    ("retain", None, false),
    ("quiet", Some('q'), false),
    ("all", Some('A'), false),
    ("verbosity", Some('v'), true),
    ("loglevel", None, true),
    ("internal", None, false),
    ("nodes", None, true),
];

fn set(a: &mut Args, long: &str, value: Option<String>) {
    match (long, value) {
        ("name", v) => a.name = v,
        ("config", v) => a.config = v,
        ("kubeconfig", v) => a.kubeconfig = v,
        ("image", v) => a.image = v,
        ("all", _) => a.all = true,
        _ => {}
    }
}

/// pflag's reading: `--flag value`, `--flag=value`, grouped shorthands (`-qn prod`, `-qnprod`,
/// `-n=prod`), `--` ends the flags; a boolean takes `--flag=false` too.
fn parse(args: Vec<String>) -> Res<Args> {
    let mut a = Args::default();
    let mut it = args.into_iter();
    while let Some(w) = it.next() {
        if w == "--" {
            a.words.extend(it.by_ref());
            break;
        }
        if let Some(body) = w.strip_prefix("--") {
            let (long, inline) = match body.split_once('=') {
                Some((l, v)) => (l, Some(v.to_string())),
                None => (body, None),
            };
            let &(long, _, takes) = FLAGS
                .iter()
                .find(|f| f.0 == long)
                .ok_or_else(|| format!("unknown flag: --{long}"))?;
            let value = match (takes, inline) {
                (true, Some(v)) => Some(v),
                (true, None) => Some(
                    it.next()
                        .ok_or_else(|| format!("flag needs an argument: --{long}"))?,
                ),
                (false, Some(v)) if v == "false" => continue,
                (false, _) => None,
            };
            set(&mut a, long, value);
        } else if w.len() > 1 && w.starts_with('-') {
            let shorts: Vec<char> = w[1..].chars().collect();
            let mut i = 0;
            while i < shorts.len() {
                let c = shorts[i];
                let &(long, _, takes) = FLAGS
                    .iter()
                    .find(|f| f.1 == Some(c))
                    .ok_or_else(|| format!("unknown shorthand flag: '{c}' in {w}"))?;
                if !takes {
                    set(&mut a, long, None);
                    i += 1;
                    continue;
                }
                let rest: String = shorts[i + 1..].iter().collect();
                let value = if let Some(v) = rest.strip_prefix('=') {
                    v.to_string()
                } else if !rest.is_empty() {
                    rest
                } else {
                    it.next()
                        .ok_or_else(|| format!("flag needs an argument: '{c}' in -{c}"))?
                };
                set(&mut a, long, Some(value));
                break;
            }
        } else {
            a.words.push(w);
        }
    }
    Ok(a)
}

fn run(args: Vec<String>) -> Res<()> {
    let a = parse(args)?;
    let words: Vec<&str> = a.words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["version"] => {
            println!("kind v0.0.0-labrun-test-double");
            Ok(())
        }
        ["create", "cluster"] => create(&a),
        ["delete", "cluster"] => delete(&resolve(&a, None), &kubeconfig_path(&a)),
        ["delete", "clusters", names @ ..] => {
            let names: Vec<String> = if a.all {
                clusters()?
            } else {
                names.iter().map(|n| n.to_string()).collect()
            };
            for n in names {
                delete(&n, &kubeconfig_path(&a))?;
            }
            Ok(())
        }
        ["get", "clusters"] => {
            let all = clusters()?;
            if all.is_empty() {
                eprintln!("No kind clusters found.");
            }
            all.iter().for_each(|c| println!("{c}"));
            Ok(())
        }
        ["get", "nodes"] => {
            let name = resolve(&a, None);
            let nodes = nodes(&name)?;
            if nodes.is_empty() {
                eprintln!("No kind nodes found for cluster \"{name}\".");
            }
            nodes.iter().for_each(|(n, _)| println!("{n}"));
            Ok(())
        }
        ["get", "kubeconfig"] => {
            print!("{}", admin_conf(&resolve(&a, None))?);
            Ok(())
        }
        ["export", "kubeconfig"] => {
            let name = resolve(&a, None);
            let conf: serde_norway::Value = serde_norway::from_str(&admin_conf(&name)?)
                .map_err(|e| format!("reading the cluster's kubeconfig: {e}"))?;
            merge(&kubeconfig_path(&a), &name, Some(&conf))?;
            eprintln!("Set kubectl context to \"kind-{name}\"");
            Ok(())
        }
        ["load", "docker-image", images @ ..] if !images.is_empty() => {
            load(&resolve(&a, None), images)
        }
        _ => Err(format!(
            "unknown command \"{}\" for \"kind\"",
            a.words.join(" ")
        )),
    }
}

/// kind's order: the flag, then `KIND_CLUSTER_NAME`, then the config's `name:`, then `kind`.
fn resolve(a: &Args, config_name: Option<&str>) -> String {
    a.name
        .clone()
        .or_else(|| {
            std::env::var("KIND_CLUSTER_NAME")
                .ok()
                .filter(|n| !n.is_empty())
        })
        .or_else(|| config_name.map(str::to_string))
        .unwrap_or_else(|| "kind".into())
}

fn kubeconfig_path(a: &Args) -> PathBuf {
    if let Some(k) = &a.kubeconfig {
        return PathBuf::from(k);
    }
    if let Some(first) = std::env::var("KUBECONFIG")
        .ok()
        .and_then(|k| k.split(':').find(|p| !p.is_empty()).map(str::to_string))
    {
        return PathBuf::from(first);
    }
    PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".kube/config")
}

fn docker(args: &[&str]) -> Res<String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("running docker: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// The Docker network `kind`, made once: creations are serialized by a lock, since two
/// clusters created at once would otherwise make two networks of that name (Docker does not
/// refuse the second), and extra ones are removed, as kind does.
fn ensure_network() -> Res<()> {
    let path = std::env::temp_dir().join("labrun-fake-kind-network.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    let _held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("locking {}: {e}", path.display()))?;
    let ids = docker(&["network", "ls", "-q", "--filter", "name=^kind$"])?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    match ids.split_first() {
        None => {
            docker(&["network", "create", "kind"])?;
        }
        Some((_, extra)) => {
            for id in extra {
                docker(&["network", "rm", id])?;
            }
        }
    }
    Ok(())
}

/// Node containers of a cluster: (name, role), sorted by name.
fn nodes(cluster: &str) -> Res<Vec<(String, String)>> {
    let filter = format!("label={CLUSTER_LABEL}={cluster}");
    let format = format!("{{{{.Names}}}} {{{{.Label \"{ROLE_LABEL}\"}}}}");
    let out = docker(&["ps", "-a", "--filter", &filter, "--format", &format])?;
    let mut all: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect();
    all.sort();
    Ok(all)
}

fn clusters() -> Res<Vec<String>> {
    let format = format!("{{{{.Label \"{CLUSTER_LABEL}\"}}}}");
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label={CLUSTER_LABEL}"),
        "--format",
        &format,
    ])?;
    let mut all: Vec<String> = out.lines().map(str::to_string).collect();
    all.sort();
    all.dedup();
    Ok(all)
}

/// One node of the config: its role and the ports it maps.
struct NodeSpec {
    role: String,
    ports: Vec<String>,
}

fn create(a: &Args) -> Res<()> {
    let config: serde_norway::Value = match &a.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("failed to read config file {path}: {e}"))?;
            serde_norway::from_str(&text)
                .map_err(|e| format!("failed to parse config file {path}: {e}"))?
        }
        None => serde_norway::Value::Null,
    };
    if a.config.is_some() {
        let kind = config.get("kind").and_then(|v| v.as_str());
        let version = config.get("apiVersion").and_then(|v| v.as_str());
        if kind != Some("Cluster") || version != Some("kind.x-k8s.io/v1alpha4") {
            return Err(format!(
                "failed to load config: kind is {kind:?}, apiVersion is {version:?}; expected Cluster, kind.x-k8s.io/v1alpha4"
            ));
        }
    }
    let name = resolve(a, config.get("name").and_then(|v| v.as_str()));
    if !nodes(&name)?.is_empty() {
        return Err(format!(
            "failed to create cluster: node(s) already exist for a cluster with the name \"{name}\""
        ));
    }
    let mut specs: Vec<NodeSpec> = Vec::new();
    for n in config
        .get("nodes")
        .and_then(|v| v.as_sequence())
        .into_iter()
        .flatten()
    {
        let role = n
            .get("role")
            .and_then(|r| r.as_str())
            .unwrap_or("control-plane");
        if role != "control-plane" && role != "worker" {
            return Err(format!("invalid configuration: unknown node role {role:?}"));
        }
        let mut ports = Vec::new();
        for m in n
            .get("extraPortMappings")
            .and_then(|v| v.as_sequence())
            .into_iter()
            .flatten()
        {
            let container = m
                .get("containerPort")
                .and_then(|v| v.as_u64())
                .ok_or("extraPortMappings: containerPort is required")?;
            let host = m.get("hostPort").and_then(|v| v.as_u64()).unwrap_or(0);
            let listen = m
                .get("listenAddress")
                .and_then(|v| v.as_str())
                .unwrap_or("0.0.0.0");
            let proto = m.get("protocol").and_then(|v| v.as_str()).unwrap_or("TCP");
            let host = if host == 0 {
                String::new()
            } else {
                host.to_string()
            };
            ports.push(format!(
                "{}:{host}:{container}/{}",
                bracket(listen),
                proto.to_lowercase()
            ));
        }
        specs.push(NodeSpec {
            role: role.into(),
            ports,
        });
    }
    if specs.is_empty() {
        specs.push(NodeSpec {
            role: "control-plane".into(),
            ports: Vec::new(),
        });
    }
    let networking = config.get("networking");
    let address = networking
        .and_then(|n| n.get("apiServerAddress"))
        .and_then(|v| v.as_str())
        .unwrap_or("127.0.0.1")
        .to_string();
    let port = networking
        .and_then(|n| n.get("apiServerPort"))
        .and_then(|v| v.as_u64())
        .filter(|p| *p != 0)
        .map(|p| p.to_string())
        .unwrap_or_default();
    let api_mapping = format!("{}:{port}:6443/tcp", bracket(&address));
    let image = a
        .image
        .clone()
        .or_else(|| {
            config
                .get("nodes")?
                .as_sequence()?
                .first()?
                .get("image")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| NODE_IMAGE.into());

    eprintln!("Creating cluster \"{name}\" ...");
    eprintln!(" ✓ Ensuring node image ({image}) 🖼");
    let control_planes = specs.iter().filter(|s| s.role == "control-plane").count();
    let mut names = Vec::new();
    let (mut cp, mut w) = (0, 0);
    for s in &specs {
        let n = if s.role == "control-plane" {
            cp += 1;
            numbered(&format!("{name}-control-plane"), cp)
        } else {
            w += 1;
            numbered(&format!("{name}-worker"), w)
        };
        let mut ports = s.ports.clone();
        if control_planes == 1 && s.role == "control-plane" {
            ports.push(api_mapping.clone());
        }
        names.push((n, s.role.clone(), ports));
    }
    if control_planes > 1 {
        names.push((
            format!("{name}-external-load-balancer"),
            "external-load-balancer".into(),
            vec![api_mapping.clone()],
        ));
    }
    eprintln!(
        " ✓ Preparing nodes {}",
        "📦 ".repeat(names.len()).trim_end()
    );
    ensure_network()?;
    for (n, role, ports) in &names {
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            "--name".into(),
            n.clone(),
            "--hostname".into(),
            n.clone(),
            "--network".into(),
            "kind".into(),
            "--label".into(),
            format!("{CLUSTER_LABEL}={name}"),
            "--label".into(),
            format!("{ROLE_LABEL}={role}"),
        ];
        for p in ports {
            args.push("--publish".into());
            args.push(p.clone());
        }
        args.push(IMAGE.into());
        let forward = std::env::var("FAKE_KIND_API_FORWARD").ok();
        match forward.as_deref().and_then(|f| f.rsplit_once(':')) {
            Some((host, port)) if ports.contains(&api_mapping) => {
                args.extend(["nc", "-ll", "-p", "6443", "-e", "nc", host, port].map(String::from))
            }
            _ => args.extend(["sleep".into(), "infinity".into()]),
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&args)?;
    }
    if let Some(delay) = std::env::var("FAKE_KIND_CREATE_DELAY")
        .ok()
        .and_then(|d| d.parse::<f64>().ok())
    {
        eprintln!(" • Starting control-plane 🕹️");
        std::thread::sleep(std::time::Duration::from_secs_f64(delay));
    }
    eprintln!(" ✓ Writing configuration 📜");
    eprintln!(" ✓ Starting control-plane 🕹️");
    let api_node = &names
        .iter()
        .find(|(_, r, _)| r == "external-load-balancer")
        .or_else(|| names.iter().find(|(_, r, _)| r == "control-plane"))
        .expect("a control plane")
        .0;
    let published = docker(&["port", api_node, "6443/tcp"])?;
    let host_port = published
        .lines()
        .next()
        .ok_or("the API port is not published")?
        .trim()
        .to_string();
    let server = format!("https://{host_port}");
    let (conf, ca_crt, ca_key) = credentials(&name, &server)?;
    // kept in the node, where `get kubeconfig` and `export kubeconfig` read it
    let cp_node = &names
        .iter()
        .find(|(_, r, _)| r == "control-plane")
        .expect("a control plane")
        .0;
    let text = serde_norway::to_string(&conf).map_err(|e| e.to_string())?;
    write_in_node(cp_node, "/etc/kubernetes/admin.conf", &text)?;
    write_in_node(cp_node, "/etc/kubernetes/pki/ca.crt", &ca_crt)?;
    write_in_node(cp_node, "/etc/kubernetes/pki/ca.key", &ca_key)?;
    eprintln!(" ✓ Installing CNI 🔌");
    eprintln!(" ✓ Installing StorageClass 💾");
    if w > 0 {
        eprintln!(" ✓ Joining worker nodes 🚜");
    }
    merge(&kubeconfig_path(a), &name, Some(&conf))?;
    eprintln!("Set kubectl context to \"kind-{name}\"");
    eprintln!("You can now use your cluster with:\n\nkubectl cluster-info --context kind-{name}\n");
    Ok(())
}

fn numbered(base: &str, i: usize) -> String {
    if i == 1 {
        base.to_string()
    } else {
        format!("{base}{i}")
    }
}

/// An IPv6 address in brackets, for Docker's `--publish`.
fn bracket(address: &str) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]")
    } else {
        address.to_string()
    }
}

/// `content` as the file `path` in the container `node`.
fn write_in_node(node: &str, path: &str, content: &str) -> Res<()> {
    let dir = path.rsplit_once('/').map_or("/", |(d, _)| d);
    let mut child = Command::new("docker")
        .args([
            "exec",
            "-i",
            node,
            "sh",
            "-c",
            &format!("mkdir -p {dir} && cat > {path}"),
        ])
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(content.as_bytes())
        .map_err(|e| e.to_string())?;
    if !child.wait().map_err(|e| e.to_string())?.success() {
        return Err(format!("writing {path} into {node}"));
    }
    Ok(())
}

/// A kubeconfig for the cluster with certificate credentials: a CA (new, or the one of
/// `FAKE_KIND_CA_DIR`), a client certificate it signed (`kubernetes-admin`, group
/// `kubeadm:cluster-admins`) and its key; and the CA's certificate and key (PEM).
fn credentials(name: &str, server: &str) -> Res<(serde_norway::Value, String, String)> {
    use base64::Engine as _;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let e = |e: rcgen::Error| e.to_string();
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "kubernetes");
    let (ca_pem, ca_key) = match std::env::var("FAKE_KIND_CA_DIR") {
        Ok(dir) => {
            let read = |f: &str| {
                std::fs::read_to_string(Path::new(&dir).join(f))
                    .map_err(|e| format!("{dir}/{f}: {e}"))
            };
            (
                read("ca.crt")?,
                KeyPair::from_pem(&read("ca.key")?).map_err(e)?,
            )
        }
        Err(_) => {
            let key = KeyPair::generate().map_err(e)?;
            (params.self_signed(&key).map_err(e)?.pem(), key)
        }
    };
    let ca_key_pem = ca_key.serialize_pem();
    let ca = Issuer::new(params, ca_key);
    let mut client = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    client
        .distinguished_name
        .push(DnType::CommonName, "kubernetes-admin");
    client
        .distinguished_name
        .push(DnType::OrganizationName, "kubeadm:cluster-admins");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().map_err(e)?;
    let cert = client.signed_by(&key, &ca).map_err(e)?;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let ctx = format!("kind-{name}");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server}\n  name: {ctx}\ncontexts:\n- context:\n    cluster: {ctx}\n    user: {ctx}\n  name: {ctx}\ncurrent-context: {ctx}\npreferences: {{}}\nusers:\n- name: {ctx}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&ca_pem),
        b64(&cert.pem()),
        b64(&key.serialize_pem()),
    );
    let conf = serde_norway::from_str(&text).map_err(|e| e.to_string())?;
    Ok((conf, ca_pem, ca_key_pem))
}

fn admin_conf(name: &str) -> Res<String> {
    let nodes = nodes(name)?;
    let (cp, _) = nodes
        .iter()
        .find(|(_, r)| r == "control-plane")
        .ok_or_else(|| {
            format!("could not locate any control plane nodes for cluster named '{name}'")
        })?;
    docker(&["exec", cp, "cat", "/etc/kubernetes/admin.conf"])
}

/// Put the cluster's entries into the kubeconfig at `path` and make its context current
/// (`conf`), or take them out (`None`), holding `<path>.lock` meanwhile.
fn merge(path: &Path, name: &str, conf: Option<&serde_norway::Value>) -> Res<()> {
    use serde_norway::Value;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let lock = PathBuf::from(format!("{}.lock", path.display()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
        .map_err(|e| format!("failed to lock config file: open {}: {e}", lock.display()))?;
    let result = (|| {
        let mut doc: Value = match std::fs::read_to_string(path) {
            Ok(t) if !t.trim().is_empty() => serde_norway::from_str(&t).map_err(|e| format!("{}: {e}", path.display()))?,
            _ => serde_norway::from_str("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: \"\"\n").expect("valid"),
        };
        let ctx = format!("kind-{name}");
        let map = doc
            .as_mapping_mut()
            .ok_or("a kubeconfig that is not a mapping")?;
        for key in ["clusters", "contexts", "users"] {
            let list = map
                .entry(Value::from(key))
                .or_insert_with(|| Value::Sequence(Vec::new()));
            if let Some(seq) = list.as_sequence_mut() {
                seq.retain(|e| e.get("name").and_then(|n| n.as_str()) != Some(&ctx));
                if let Some(conf) = conf
                    && let Some(new) = conf.get(key).and_then(|v| v.as_sequence())
                {
                    seq.extend(new.iter().cloned());
                }
            }
        }
        let current = map
            .get("current-context")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_string();
        match conf {
            Some(_) => {
                map.insert("current-context".into(), Value::from(ctx.as_str()));
            }
            None if current == ctx => {
                map.insert("current-context".into(), Value::from(""));
            }
            None => {}
        }
        let text = serde_norway::to_string(&doc).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())
    })();
    let _ = std::fs::remove_file(&lock);
    result
}

fn delete(name: &str, kubeconfig: &Path) -> Res<()> {
    eprintln!("Deleting cluster \"{name}\" ...");
    let nodes = nodes(name)?;
    if !nodes.is_empty() {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(nodes.iter().map(|(n, _)| n.as_str()));
        docker(&args)?;
    }
    if kubeconfig.exists() {
        merge(kubeconfig, name, None)?;
    }
    let quoted: Vec<String> = nodes.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    eprintln!("Deleted nodes: [{}]", quoted.join(" "));
    Ok(())
}

fn load(name: &str, images: &[&str]) -> Res<()> {
    let nodes: Vec<(String, String)> = nodes(name)?
        .into_iter()
        .filter(|(_, r)| r != "external-load-balancer")
        .collect();
    if nodes.is_empty() {
        return Err(format!("no nodes found for cluster \"{name}\""));
    }
    for image in images {
        let id = docker(&["image", "inspect", "--format", "{{.Id}}", image])
            .map_err(|_| format!("image: \"{image}\" not present locally"))?;
        let file = image.replace(['/', ':'], "_");
        for (node, _) in &nodes {
            eprintln!(
                "Image: \"{image}\" with ID \"{}\" not yet present on node \"{node}\", loading...",
                id.trim()
            );
            let mut save = Command::new("docker")
                .args(["save", image])
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?;
            let status = Command::new("docker")
                .args([
                    "exec",
                    "-i",
                    node,
                    "sh",
                    "-c",
                    &format!("mkdir -p /kind-images && cat > /kind-images/{file}.tar"),
                ])
                .stdin(save.stdout.take().expect("piped"))
                .status()
                .map_err(|e| e.to_string())?;
            let saved = save.wait().map_err(|e| e.to_string())?;
            if !status.success() || !saved.success() {
                return Err(format!(
                    "failed to load image \"{image}\" into node \"{node}\""
                ));
            }
        }
    }
    Ok(())
}
