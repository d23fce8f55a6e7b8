//! The local backend: the steps run on this machine, in the run's sandbox, in a scratch
//! directory that starts as a copy of the document's working directory.
//!
//! In: the project root, the working directory to copy, where to put the scratch copy, and
//! [`Sandboxing`]. Out: a [`Backend`] whose session starts there (see [`super::sandbox`] for
//! what the steps can reach).

use std::path::{Path, PathBuf};

use super::sandbox::{self, Keep, Network, Spec};
use super::{Backend, Shell};
use crate::error::{Error, Result};

/// What a run's sandbox lets through, besides the run's own files.
#[derive(Debug, Clone)]
pub struct Sandboxing {
    pub network: Network,
    /// `false`: no sandbox at all (`--unsandboxed`).
    pub contained: bool,
    /// Host paths kept visible, read-only.
    pub pass: Vec<PathBuf>,
    /// Names of labrun's environment variables the steps still get.
    pub env: Vec<String>,
    /// Host paths the steps may write (the kind backend's kubeconfig directory).
    pub writable: Vec<PathBuf>,
    /// The kind cluster whose nodes the steps may act on through Docker.
    pub cluster: Option<String>,
}

impl Sandboxing {
    /// The project's `[sandbox]` settings; `netns` from the command line or the settings.
    pub fn from_config(config: &crate::config::Config, netns: bool) -> Sandboxing {
        Sandboxing {
            network: if netns || config.sandbox.netns {
                Network::Own
            } else {
                Network::Host
            },
            contained: true,
            pass: config.sandbox.passed(&config.root),
            env: config.sandbox.env.clone(),
            writable: config.sandbox.writable(&config.root),
            cluster: None,
        }
    }
}

impl Default for Sandboxing {
    fn default() -> Self {
        Sandboxing {
            network: Network::Host,
            contained: true,
            pass: Vec::new(),
            env: Vec::new(),
            writable: Vec::new(),
            cluster: None,
        }
    }
}

pub struct Local {
    shell: Shell,
    scratch: PathBuf,
    versions: serde_json::Value,
    network: Network,
    /// The run's own Docker endpoint, when the machine has a daemon.
    docker: Option<DockerAccess>,
}

/// The run's Docker endpoint and what it needs to clean up after the run.
struct DockerAccess {
    proxy: super::docker_proxy::Proxy,
    upstream: PathBuf,
    run: String,
    /// The socket's directory: short, under /tmp (a unix socket's path has at most 107 bytes,
    /// and a run's state directory in a deep project has more).
    dir: tempfile::TempDir,
}

impl Local {
    /// A fresh scratch directory `<out>/work` holding a copy of `workdir`; the session's
    /// FIFOs under `<out>/state`; the sandbox around it all, `sources` (the project) visible
    /// read-only.
    pub async fn new(
        sources: &Path,
        workdir: &Path,
        out: &Path,
        cap: usize,
        sandboxing: &Sandboxing,
    ) -> Result<Local> {
        let scratch = out.join("work");
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
        }
        for warning in super::copy::copy_tree(workdir, &scratch)? {
            tracing::warn!("{warning}");
        }
        let state = out.join("state");
        std::fs::create_dir_all(&state).map_err(|e| Error::io(&state, e))?;
        let bin = out.join("bin");
        if sandboxing.contained {
            sandbox::install_stand_ins(&bin)?;
        }
        let mut keep = vec![
            Keep {
                path: sources.to_path_buf(),
                write: false,
            },
            Keep {
                path: workdir.to_path_buf(),
                write: false,
            },
            Keep {
                path: scratch.clone(),
                write: true,
            },
            Keep {
                path: state.clone(),
                write: true,
            },
        ];
        keep.extend(sandbox::program_dirs());
        keep.extend(sandboxing.pass.iter().filter(|p| p.exists()).map(|p| Keep {
            path: p.clone(),
            write: false,
        }));
        keep.extend(sandboxing.writable.iter().map(|p| Keep {
            path: p.clone(),
            write: true,
        }));
        let home = sandbox::user_home();
        let docker = if sandboxing.contained {
            docker_access(out, sandboxing.cluster.clone())?
        } else {
            None
        };
        if let Some(d) = &docker {
            keep.push(Keep {
                path: d.dir.path().to_path_buf(),
                write: true,
            });
        }
        let mut env = if sandboxing.contained {
            sandbox::environment(&home, &sandboxing.env)
        } else {
            std::env::vars().collect()
        };
        if sandboxing.contained {
            keep.push(Keep {
                path: bin.clone(),
                write: false,
            });
            sandbox::put_first_on_path(&mut env, &bin);
        }
        if let Some(d) = &docker {
            env.retain(|(k, _)| k != "DOCKER_HOST");
            env.push(("DOCKER_HOST".into(), d.proxy.host()));
        }
        let spec = Spec {
            state,
            workdir: std::fs::canonicalize(&scratch).map_err(|e| Error::io(&scratch, e))?,
            keep,
            network: sandboxing.network,
            env,
            home,
            contained: sandboxing.contained,
        };
        let shell = Shell::start(spec).await?.with_cap(cap);
        Ok(Local {
            shell,
            scratch,
            versions: versions(),
            network: sandboxing.network,
            docker,
        })
    }

    /// The `DOCKER_HOST` the steps use (the run's own endpoint), if any.
    pub fn docker_host(&self) -> Option<String> {
        self.docker.as_ref().map(|d| d.proxy.host())
    }

    /// Remove the containers the run created (kind's nodes are the kind backend's to delete).
    pub async fn reap(&mut self) {
        let Some(d) = self.docker.take() else {
            return;
        };
        drop(d.proxy);
        let Ok(docker) = bollard::Docker::connect_with_unix(
            &d.upstream.display().to_string(),
            30,
            bollard::API_DEFAULT_VERSION,
        ) else {
            return;
        };
        let filters = std::collections::HashMap::from([(
            "label".to_string(),
            vec![format!("{}={}", super::docker_proxy::RUN_LABEL, d.run)],
        )]);
        let opts = bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let Ok(list) = docker.list_containers(Some(opts)).await else {
            return;
        };
        for c in list {
            let node = c
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(super::docker_proxy::KIND_LABEL));
            if let (false, Some(id)) = (node, c.id) {
                let opts = bollard::query_parameters::RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                };
                let _ = docker.remove_container(&id, Some(opts)).await;
            }
        }
    }

    pub fn shell_mut(&mut self) -> &mut Shell {
        &mut self.shell
    }

    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// The network the steps get.
    pub fn network(&self) -> Network {
        self.network
    }
}

/// Start the run's Docker endpoint when the daemon the docker CLI would use is a local socket;
/// `None` (the steps have no Docker) when there is none.
fn docker_access(out: &Path, cluster: Option<String>) -> Result<Option<DockerAccess>> {
    let Ok(endpoint) = super::kind::docker::endpoint(|n| std::env::var(n).ok()) else {
        return Ok(None);
    };
    let Some(upstream) = endpoint.host.strip_prefix("unix://").map(PathBuf::from) else {
        tracing::warn!(
            "the Docker daemon is reached at {} (from {}): the run's own endpoint serves a \
             local socket only, so the steps have no Docker",
            endpoint.host,
            endpoint.from
        );
        return Ok(None);
    };
    if !upstream.exists() {
        return Ok(None);
    }
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(out.as_os_str().as_encoded_bytes());
    let run: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let owner = super::docker_proxy::Owner {
        run: run.clone(),
        cluster,
        binds: vec![PathBuf::from("/lib/modules"), out.to_path_buf()],
    };
    let base = if Path::new("/tmp").is_dir() {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("labrun-docker-")
        .tempdir_in(&base)
        .map_err(|e| Error::io(&base, e))?;
    let proxy =
        super::docker_proxy::Proxy::start(&dir.path().join("docker.sock"), &upstream, owner)?;
    Ok(Some(DockerAccess {
        proxy,
        upstream,
        run,
        dir,
    }))
}

/// Whether the text lints run: `LABRUN_LINT=off` turns them off, so that a test can show the
/// sandbox holds without them (not for users: the lints are the fast, clear feedback).
pub fn lint_on() -> bool {
    std::env::var_os("LABRUN_LINT").is_none_or(|v| v != "off")
}

/// Refuse, before the first step, a step that changes network state when the run has no
/// network of its own: it could not work (the sandbox gives no power over the host's network),
/// and the author should know why at once. A lint: the sandbox does not depend on it.
pub fn preflight(document: &Path, steps: &[crate::steps::Step], network: Network) -> Result<()> {
    if network == Network::Own || !lint_on() {
        return Ok(());
    }
    for step in steps.iter().filter(|s| !s.directives.skip) {
        if crate::policy::changes_network(&step.command) {
            return Err(Error::Environment(format!(
                "{}:{}: `{}` changes network state (links, addresses, routes, firewall rules, \
                 network namespaces or sysctls), which a run may do only in a network of its \
                 own: pass --netns, or set `netns = true` under [sandbox] in labrun.toml",
                document.display(),
                step.line,
                step.command.lines().next().unwrap_or("")
            )));
        }
    }
    Ok(())
}

impl Backend for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn shell(&self) -> &Shell {
        &self.shell
    }

    /// The local backend never lets a step reach a cluster: it cannot see which cluster the
    /// user's current context names, and a tutorial's `kubectl delete` must not reach one that
    /// is not a kind cluster of the run's own.
    async fn before(&mut self, command: &str) -> Result<super::Admit> {
        if crate::policy::reaches_clusters(command) {
            return Err(Error::Environment(format!(
                "refusing to run `{}` with the local backend: it talks to a Kubernetes cluster \
                 (or manages kind clusters), and only the kind backend (--backend kind) checks \
                 that the cluster is a kind cluster of the run's own",
                command.lines().next().unwrap_or(command)
            )));
        }
        Ok(super::Admit::Run)
    }

    fn versions(&self) -> Option<serde_json::Value> {
        Some(self.versions.clone())
    }

    async fn finish(&mut self) -> Result<()> {
        self.reap().await;
        Ok(())
    }

    /// On this machine only what the run left running can change what a step prints.
    async fn changing(&mut self) -> bool {
        self.shell.background().await > 0
    }

    /// A process left running that changes nothing for five tries (about five seconds) is not
    /// going to: the drift is known then, not after the whole budget (60 s).
    fn steady_after(&self) -> Option<u32> {
        Some(5)
    }
}

/// What the steps ran on: the kernel, and bash and iproute2 when present.
fn versions() -> serde_json::Value {
    let first_line = |program: &str, arg: &str| {
        std::process::Command::new(program)
            .arg(arg)
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(|l| l.trim().to_string())
            })
            .filter(|l| !l.is_empty())
    };
    let mut v = serde_json::Map::new();
    if let Ok(k) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        v.insert("linux".into(), k.trim().into());
    }
    if let Some(b) = first_line("bash", "--version") {
        v.insert("bash".into(), b.into());
    }
    if let Some(ip) = first_line("ip", "-V") {
        v.insert("iproute2".into(), ip.into());
    }
    serde_json::Value::Object(v)
}
