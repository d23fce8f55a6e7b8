//! `labrun doctor` and `labrun cluster up|down|status`: what a backend needs and the isolation
//! its runs get, and the document's kind cluster outside a run (always with labrun's own
//! kubeconfig).

use crate::error::{Error, ExitCode};
use crate::lab::Lab;
use anyhow::Context;

use super::ClusterAction;

fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(|l| l.trim().to_string())
}

/// What every backend needs: bash, and the sandbox this machine can build (with a network of
/// its own when `netns`); each line printed, what is missing pushed.
fn sandbox_lines(runtime: &tokio::runtime::Runtime, netns: bool, missing: &mut Vec<&'static str>) {
    use crate::execute::sandbox::{Network, probe};
    match first_line("bash", &["--version"]) {
        Some(v) => println!("bash     ok       {v}"),
        None => {
            println!("bash     MISSING  every step runs in bash");
            missing.push("bash");
        }
    }
    if netns {
        match first_line("ip", &["-V"]) {
            Some(v) => println!("ip       ok       {v}"),
            None => {
                println!("ip       MISSING  install iproute2: a network of the run's own needs it");
                missing.push("iproute2");
            }
        }
    }
    let network = if netns { Network::Own } else { Network::Host };
    let iso = runtime.block_on(probe(network));
    for (line, on) in iso.lines() {
        if line.starts_with("network namespace") && !netns {
            println!("sandbox  -        {line}: not asked (--netns)");
            continue;
        }
        println!(
            "sandbox  {}  {line}",
            if on { "ok     " } else { "MISSING" }
        );
        if !on {
            missing.push("the sandbox");
        }
    }
    for why in &iso.missing {
        println!("sandbox  MISSING  {why}");
        missing.push("the sandbox");
    }
    missing.dedup();
}

pub fn doctor(
    path: Option<&std::path::Path>,
    backend: super::BackendName,
    netns: bool,
) -> anyhow::Result<ExitCode> {
    use crate::execute::kind::{self, docker::Facts, safety};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut missing = Vec::new();
    sandbox_lines(
        &runtime,
        netns && backend == super::BackendName::Local,
        &mut missing,
    );
    if backend == super::BackendName::Local {
        return Ok(if missing.is_empty() {
            ExitCode::Success
        } else {
            eprintln!(
                "labrun: the local backend needs {}; see the lines above",
                missing.join(", ")
            );
            ExitCode::Environment
        });
    }
    let facts = runtime.block_on(Facts::connect());
    match &facts {
        Ok(f) => {
            let at = f.endpoint();
            println!(
                "docker   ok       server {} at {} (from {})",
                runtime.block_on(f.version()).unwrap_or_default(),
                at.host,
                at.from
            );
            // the docker CLI's own answer, which is kind's
            let cli = first_line(
                "docker",
                &[
                    "context",
                    "inspect",
                    "--format",
                    "{{.Endpoints.docker.Host}}",
                ],
            );
            if std::env::var_os("DOCKER_HOST").is_none()
                && let Some(cli) = cli.filter(|c| !c.is_empty() && *c != at.host)
            {
                println!(
                    "docker   DIFFERS  the docker CLI (and so kind) reaches {cli}, labrun {}",
                    at.host
                );
                missing.push("one Docker daemon for labrun and kind");
            }
        }
        Err(e) => {
            println!("docker   MISSING  {e}");
            missing.push("Docker");
        }
    }
    match first_line("kind", &["version"]) {
        Some(v) => println!("kind     ok       {v}"),
        None => {
            println!(
                "kind     MISSING  install it: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
            );
            missing.push("kind");
        }
    }
    match first_line("kubectl", &["version", "--client"]) {
        Some(v) => println!("kubectl  ok       {v}"),
        None => {
            println!(
                "kubectl  MISSING  install it: https://kubernetes.io/docs/tasks/tools/#kubectl"
            );
            missing.push("kubectl");
        }
    }
    if let Some(path) = path {
        let lab = Lab::open(path)?;
        let name = kind::cluster_name(&lab.steps);
        let kubeconfig = kind::kubeconfig_for(&lab.config.run_dir(path));
        let nodes = match &facts {
            Ok(f) => runtime.block_on(f.nodes(&name)).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if nodes.is_empty() {
            println!(
                "cluster  -        `{name}` does not exist (the lab's `kind create cluster` creates it)"
            );
        } else {
            let running = nodes.iter().filter(|n| n.state == "running").count();
            println!(
                "cluster  ok       `{name}`: {running}/{} node container(s) running",
                nodes.len()
            );
        }
        match safety::current(&kubeconfig) {
            Ok(Some(t)) => {
                let verdict = match safety::verify(Some(&t), &name, &nodes) {
                    Ok(()) => "verified: the run's kind cluster".to_string(),
                    Err(why) => format!("would be REFUSED: {why}"),
                };
                println!(
                    "context  {}  {} → {} ({verdict})",
                    if verdict.starts_with("verified") {
                        "ok     "
                    } else {
                        "REFUSED"
                    },
                    t.context,
                    t.server
                );
            }
            Ok(None) => println!(
                "context  -        none yet in {} (never the user's kubeconfig)",
                kubeconfig.display()
            ),
            Err(e) => println!("context  BROKEN   {e}"),
        }
    }
    if missing.is_empty() {
        Ok(ExitCode::Success)
    } else {
        eprintln!(
            "labrun: the kind backend needs {}; install and run `labrun doctor` again",
            missing.join(", ")
        );
        Ok(ExitCode::Environment)
    }
}

pub fn cluster(action: ClusterAction) -> anyhow::Result<ExitCode> {
    use crate::execute::kind::{self, docker::Facts, safety};
    let (ClusterAction::Up { path }
    | ClusterAction::Down { path }
    | ClusterAction::Status { path }) = &action;
    let lab = Lab::open(path)?;
    let name = kind::cluster_name(&lab.steps);
    let out = lab.config.run_dir(path);
    let kubeconfig = kind::kubeconfig_for(&out);
    // Creating or deleting the cluster while a run of the document uses it is refused.
    let _workspace = match action {
        ClusterAction::Status { .. } => None,
        _ => Some(crate::workspace::Workspace::lock(&out, path, false)?),
    };
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let facts = runtime.block_on(Facts::connect())?;
    let nodes = runtime.block_on(facts.nodes(&name))?;
    match action {
        ClusterAction::Status { .. } => {
            if nodes.is_empty() {
                println!("kind cluster `{name}` does not exist");
            }
            for n in &nodes {
                println!(
                    "{:<28} {:<14} {:<9} {:<15} {}",
                    n.name,
                    n.role,
                    n.state,
                    n.address.as_deref().unwrap_or("-"),
                    &n.id[..12.min(n.id.len())]
                );
            }
            let target = safety::current(&kubeconfig).map_err(Error::Environment)?;
            match safety::verify(target.as_ref(), &name, &nodes) {
                Ok(()) => println!("context: verified ({})", kubeconfig.display()),
                Err(why) => println!("context: {why}"),
            }
            Ok(ExitCode::Success)
        }
        ClusterAction::Up { .. } => {
            if !nodes.is_empty() {
                return Err(Error::Environment(format!(
                    "kind cluster `{name}` exists already; `labrun cluster down {}` deletes it",
                    path.display()
                ))
                .into());
            }
            let create = lab
                .steps
                .iter()
                .find(|s| s.command.starts_with("kind create cluster"))
                .map(|s| s.command.clone())
                .unwrap_or_else(|| "kind create cluster".into());
            kind::kind_version()?;
            let status = std::process::Command::new("bash")
                .arg("-c")
                .arg(&create)
                .current_dir(lab.config.workdir(path))
                .env("KUBECONFIG", &kubeconfig)
                .env("KIND_CLUSTER_NAME", &name)
                .status()
                .context("running kind")?;
            Ok(exit_of(status))
        }
        ClusterAction::Down { .. } => {
            if nodes.is_empty() {
                println!("kind cluster `{name}` does not exist");
                return Ok(ExitCode::Success);
            }
            kind::kind_version()?;
            let status = std::process::Command::new("kind")
                .args(["delete", "cluster", "--name", &name, "--kubeconfig"])
                .arg(&kubeconfig)
                .status()
                .context("running kind")?;
            Ok(exit_of(status))
        }
    }
}

/// kind's own exit: 0 when it succeeded, 1 otherwise (its message is already on stderr).
fn exit_of(status: std::process::ExitStatus) -> ExitCode {
    if status.success() {
        ExitCode::Success
    } else {
        ExitCode::StepsFailed
    }
}
