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
        }
    }
}

pub struct Local {
    shell: Shell,
    scratch: PathBuf,
    versions: serde_json::Value,
    network: Network,
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
        let env = if sandboxing.contained {
            sandbox::environment(&home, &sandboxing.env)
        } else {
            std::env::vars().collect()
        };
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
        })
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
