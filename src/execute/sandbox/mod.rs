//! The run's sandbox: an environment of its own, so that what a step can change follows from
//! what it can reach, not from what labrun recognises.
//!
//! In: a [`Spec`] (what stays visible, what is writable, the network, the environment). Out: a
//! helper process, `labrun __sandbox SPEC`, whose child is the first process (PID 1) of new
//! user, mount, PID, UTS and IPC namespaces (and a network namespace with
//! [`Network::Own`]). There it starts the session's bash and restarts it when it ends.
//!
//! What a step sees (built by [`view`] as root of the host, then locked by entering the user
//! namespace, so that root inside cannot undo it):
//!
//! - every file of the machine read-only; the run's scratch copy and state writable;
//! - fresh, empty `/tmp`, `/var/tmp`, `/run` and home directory (the user's credential stores
//!   — `~/.kube`, `~/.docker`, cloud CLI configuration — are not there), with the programs on
//!   `PATH` and the directories `labrun.toml` passes through kept visible read-only;
//! - a `/dev` of its own (null, zero, full, random, urandom, tty, a private `pts`), so no
//!   disk of the host can be opened;
//! - its own `/proc` (so `ps`, `$$`, `/proc/$$` are the sandbox's);
//! - root inside is root only over these namespaces: the host's network, hostname, sysctls
//!   and mounts are out of reach whatever a step runs.
//!
//! Where namespaces cannot be had, the run is refused (exit 3) naming what is missing, unless
//! the user asked for no sandbox ([`Spec::contained`] false): then the helper is only a
//! subreaper that ends every process of the run with it.

pub mod init;
pub mod view;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The network a run's steps get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Network {
    /// The host's network, reachable but not changeable (no network capability over it).
    Host,
    /// A network namespace of the run's own, with only a loopback interface.
    Own,
}

/// A path of the host kept visible in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keep {
    pub path: PathBuf,
    pub write: bool,
}

/// Everything the helper needs; passed to it as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// The session's directory (its FIFOs); writable.
    pub state: PathBuf,
    /// Where the session's bash starts.
    pub workdir: PathBuf,
    /// Paths kept visible (read-only unless `write`) over the fresh directories.
    pub keep: Vec<Keep>,
    pub network: Network,
    /// The session's whole environment.
    pub env: Vec<(String, String)>,
    /// The home directory a step sees (empty, private to the run).
    pub home: PathBuf,
    /// `false`: no namespaces at all (`--unsandboxed`); the steps can change this machine.
    pub contained: bool,
}

impl Spec {
    /// A sandbox for a session that starts in `workdir` with its FIFOs in `state`, both
    /// writable, on the host's network, with the environment a run gets.
    pub fn for_dir(state: &Path, workdir: &Path) -> Spec {
        let mut keep = vec![
            Keep {
                path: workdir.to_path_buf(),
                write: true,
            },
            Keep {
                path: state.to_path_buf(),
                write: true,
            },
        ];
        keep.extend(program_dirs());
        Spec {
            state: state.to_path_buf(),
            workdir: workdir.to_path_buf(),
            keep,
            network: Network::Host,
            env: environment(&user_home(), &[]),
            home: user_home(),
            contained: true,
        }
    }
}

/// The isolation a run gets on this machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// A user namespace: root inside is root over the run's namespaces only.
    pub user: bool,
    /// No user namespace, root's capabilities bounded instead (root on the host's network).
    #[serde(default)]
    pub bounded: bool,
    pub mount: bool,
    pub pid: bool,
    pub network: bool,
    /// Why a part is missing, one line each.
    pub missing: Vec<String>,
}

impl Isolation {
    /// One line per part, for `labrun doctor`.
    pub fn lines(&self) -> Vec<(String, bool)> {
        let root = if self.bounded {
            "root inside holds a container's capabilities only (no network, mount or \
             kernel administration)"
        } else {
            "user namespace: root inside is root over the run's namespaces only"
        };
        vec![
            (root.into(), self.user || self.bounded),
            (
                "mount namespace: sources read-only, private home, /tmp, /run and /dev".into(),
                self.mount,
            ),
            ("PID namespace with its own /proc".into(), self.pid),
            (
                "network namespace of the run's own (--netns)".into(),
                self.network,
            ),
        ]
    }
}

/// Variables of the user's environment a step still gets: how to find programs, the locale,
/// the terminal, proxies and certificate bundles. Nothing else passes (tokens, `KUBECONFIG`,
/// `DOCKER_HOST`, `SSH_AUTH_SOCK`, cloud credentials) unless `labrun.toml` names it.
pub const ENV_KEPT: &[&str] = &[
    "PATH",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TZ",
    "USER",
    "LOGNAME",
    "SHELL",
    "COLUMNS",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
];

/// Variables that name where a user's toolchains live (version managers, language homes): kept,
/// and the directories they name stay visible read-only, so that `python3` through pyenv's
/// shims, or `cargo` from `~/.cargo`, still runs. They name directories, never secrets.
pub const TOOL_ENV: &[&str] = &[
    "PYENV_ROOT",
    "PYENV_VERSION",
    "NVM_DIR",
    "NVM_BIN",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "GOROOT",
    "GOPATH",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "JAVA_HOME",
    "ASDF_DIR",
    "ASDF_DATA_DIR",
    "RBENV_ROOT",
    "SDKMAN_DIR",
    "KREW_ROOT",
];

/// The environment of a run's session: the kept variables of labrun's own (and `LC_*`), the
/// names `pass` adds, a private `HOME`, `TMPDIR`.
pub fn environment(home: &Path, pass: &[String]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            ENV_KEPT.contains(&k.as_str())
                || TOOL_ENV.contains(&k.as_str())
                || k.starts_with("LC_")
                || pass.iter().any(|p| p == k)
        })
        .collect();
    env.retain(|(k, _)| k != "HOME" && k != "TMPDIR");
    env.push(("HOME".into(), home.display().to_string()));
    env.push(("TMPDIR".into(), "/tmp".into()));
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()));
    }
    env.sort();
    env
}

/// Programs a run's sandbox puts first on the session's `PATH`, in place of the machine's:
/// (name, the script). `sudo` runs the command as the sandbox's root (the machine's sudo reads
/// the host's sudoers and PAM and cannot work in a user namespace). See `sudo.sh`.
pub const STAND_INS: &[(&str, &str)] = &[("sudo", include_str!("sudo.sh"))];

/// Write [`STAND_INS`] into `bin` (made if missing), each executable.
pub fn install_stand_ins(bin: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(bin).map_err(|e| Error::io(bin, e))?;
    for (name, script) in STAND_INS {
        let path = bin.join(name);
        std::fs::write(&path, script).map_err(|e| Error::io(&path, e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// Put `dir` first on the `PATH` of `env`.
pub fn put_first_on_path(env: &mut [(String, String)], dir: &Path) {
    for (_, v) in env.iter_mut().filter(|(k, _)| k == "PATH") {
        *v = format!("{}:{v}", dir.display());
    }
}

/// The user's home directory (what the sandbox hides and gives a fresh one at).
pub fn user_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| {
            if nix::unistd::geteuid().is_root() {
                PathBuf::from("/root")
            } else {
                PathBuf::from("/")
            }
        })
}

/// The directories of `PATH`, labrun's own and those [`TOOL_ENV`] names, under a directory the
/// sandbox covers: kept visible read-only, so that `kubectl` in `~/.local/bin` still runs.
pub fn program_dirs() -> Vec<Keep> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    dirs.extend(
        TOOL_ENV
            .iter()
            .filter_map(std::env::var_os)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute()),
    );
    let home = std::fs::canonicalize(user_home()).unwrap_or_else(|_| user_home());
    let covered = view::covered(&home);
    let mut found: Vec<PathBuf> = dirs
        .into_iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .filter(|d| d.is_dir() && covered.iter().any(|c| d.starts_with(c)))
        .collect();
    // A program directory in the home belongs to a toolchain installed there, whose programs
    // need the rest of it (pyenv's shims run ~/.pyenv/libexec, cargo's proxies ~/.rustup):
    // its top directory in the home is kept too, and rustup's default home beside cargo's.
    // Not ~/.local or ~/.config, which hold other programs' data and credentials.
    let mut tops: Vec<PathBuf> = found
        .iter()
        .filter_map(|d| d.strip_prefix(&home).ok()?.components().next())
        .map(|c| home.join(c))
        .filter(|t| {
            !matches!(
                t.file_name().and_then(|n| n.to_str()),
                Some(".local" | ".config" | ".kube" | ".docker" | ".ssh" | ".aws" | ".gnupg")
            )
        })
        .collect();
    if tops.iter().any(|t| t.ends_with(".cargo")) && std::env::var_os("RUSTUP_HOME").is_none() {
        tops.push(home.join(".rustup"));
    }
    found.extend(tops.into_iter().filter(|t| t.is_dir()));
    let mut out: Vec<Keep> = found
        .into_iter()
        .map(|path| Keep { path, write: false })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup();
    out
}

/// The first line the helper writes on the status FIFO once the session is ready.
pub const READY: &str = "ready";

static PROGRAM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The labrun program that builds sandboxes, when it is not this process's own (a test of
/// the library names the binary cargo built).
pub fn use_program(path: impl Into<PathBuf>) {
    let _ = PROGRAM.set(path.into());
}

/// Start the helper for `spec`: the returned command is spawned by the session, its standard
/// input the session's commands.
pub fn command(spec: &Spec) -> Result<tokio::process::Command> {
    let exe = match PROGRAM.get() {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| Error::Environment(format!("finding labrun's own program: {e}")))?,
    };
    let json = serde_json::to_string(spec).expect("a spec serialises");
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("__sandbox").arg(json);
    Ok(cmd)
}

/// `labrun __sandbox SPEC`: build the sandbox and run the session in it. Returns the exit code
/// of the helper: 0 when the session ended because labrun closed it, 3 when the sandbox
/// could not be built (the reason on standard error).
pub fn main(args: &[std::ffi::OsString]) -> u8 {
    let Some(spec) = args
        .first()
        .and_then(|a| a.to_str())
        .and_then(|a| serde_json::from_str::<Spec>(a).ok())
    else {
        eprintln!("labrun __sandbox: expected the sandbox's description as JSON");
        return 2;
    };
    match init::start(&spec) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            3
        }
    }
}

/// What isolation this machine gives a run, found by building a sandbox once (`labrun doctor`).
pub async fn probe(network: Network) -> Isolation {
    let Ok(dir) = tempfile::tempdir() else {
        return Isolation {
            missing: vec!["cannot create a temporary directory".into()],
            ..Default::default()
        };
    };
    let state = dir.path().join("state");
    let _ = std::fs::create_dir_all(&state);
    let spec = Spec {
        network,
        ..Spec::for_dir(&state, dir.path())
    };
    match super::Shell::start(spec).await {
        Ok(shell) => shell.isolation().await,
        Err(e) => Isolation {
            missing: vec![e.to_string()],
            ..Default::default()
        },
    }
}
