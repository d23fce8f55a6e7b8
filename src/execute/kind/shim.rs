//! The guard at the moment a program starts: shims for the cluster programs, first on the
//! session's `PATH`.
//!
//! In: the run's directory and what is the run's own. Out: `<out>/guard/bin/<program>` for
//! `kind` and every program of [`crate::policy::CLUSTER_PROGRAMS`], each a two-line script
//! that hands its arguments to `labrun __guard`, and `<out>/guard/state.json`, what the check
//! needs (the cluster, labrun's kubeconfig, the API server labrun last verified against
//! Docker). [`main`] is that check: the program's real arguments and environment are held to
//! the [`super::guard`] tables, labrun's kubeconfig must still point at the verified server,
//! and only then is the real program started (the first one on `PATH` after the shims), by
//! `exec`, with the same arguments, streams and environment. A refusal is printed on the
//! step's standard error, written to `<out>/guard/refusals` (the backend stops the run on
//! it, exit 3), and the program is not started (exit 126).
//!
//! This sees what a step's text cannot: `kubectl $FLAGS`, the arguments `xargs` reads, a
//! script file or `curl … | sh`, a kubeconfig overwritten earlier in the same step. It does
//! not see a program called by an absolute path (the text guard reads those) or a `PATH` that
//! a step reorders for its own commands.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::guard::{self, Own};
use crate::error::{Error, Result};
use crate::syntax::{Simple, Word};

/// What the check needs, written by the backend whenever it changes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub cluster: String,
    pub kubeconfig: PathBuf,
    /// The API server of labrun's kubeconfig, as last verified against Docker.
    pub server: Option<String>,
    /// The certificate authority of that server, as labrun's kubeconfig gives it.
    #[serde(default)]
    pub ca: Option<String>,
    /// labrun's own `DOCKER_HOST` / `DOCKER_CONTEXT`.
    pub docker: Vec<String>,
}

/// The shims' directory and state file under a run's directory.
pub struct Shims {
    pub bin: PathBuf,
    state: PathBuf,
    refusals: PathBuf,
}

impl Shims {
    /// Write a shim per program and the first state; `labrun` is this program's path.
    pub fn install(out: &Path, labrun: &Path, state: &State) -> Result<Shims> {
        let dir = out.join("guard");
        let bin = dir.join("bin");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir_all(&bin).map_err(|e| Error::io(&bin, e))?;
        let shims = Shims {
            state: dir.join("state.json"),
            refusals: dir.join("refusals"),
            bin,
        };
        let programs = crate::policy::CLUSTER_PROGRAMS.iter().chain(&["kind"]);
        for program in programs {
            let path = shims.bin.join(program);
            let text = format!(
                "#!/bin/sh\n# labrun's guard: checks this call, then starts the real {program}.\nexec {} __guard {} {program} \"$@\"\n",
                quote(&labrun.display().to_string()),
                quote(&shims.state.display().to_string()),
            );
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(&path, e))?;
        }
        shims.update(state)?;
        Ok(shims)
    }

    /// Replace the state (atomically: a program starting meanwhile reads the old or the new).
    pub fn update(&self, state: &State) -> Result<()> {
        let tmp = self.state.with_extension("json.tmp");
        let text = serde_json::to_string(state).expect("state serializes");
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.state).map_err(|e| Error::io(&self.state, e))
    }

    /// The refusals made since the last call, cleared.
    pub fn take_refusals(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.refusals).ok()?;
        let _ = std::fs::remove_file(&self.refusals);
        let text = text.trim().to_string();
        (!text.is_empty()).then_some(text)
    }

    /// A line of bash that puts the shims first on `PATH` unless they are already.
    pub fn prologue(&self) -> String {
        let bin = quote(&self.bin.display().to_string());
        format!("case \"$PATH\" in {bin}:*) ;; *) export PATH={bin}:\"$PATH\" ;; esac")
    }
}

/// `labrun __guard STATE PROGRAM ARGS…`: check, then `exec` the real program. Returns only
/// on refusal or when the program cannot be started, with the exit code to use.
pub fn main(args: &[std::ffi::OsString]) -> u8 {
    let (Some(state), Some(program)) = (args.first(), args.get(1)) else {
        eprintln!("labrun __guard: usage: labrun __guard STATE PROGRAM [ARGS…]");
        return 2;
    };
    let state_path = PathBuf::from(state);
    let program = program.to_string_lossy().to_string();
    let rest: Vec<String> = args[2..]
        .iter()
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    let verdict = std::fs::read_to_string(&state_path)
        .map_err(|e| {
            format!(
                "labrun's guard state {} cannot be read: {e}",
                state_path.display()
            )
        })
        .and_then(|t| serde_json::from_str::<State>(&t).map_err(|e| e.to_string()))
        .and_then(|s| check(&s, &program, &rest, |n| std::env::var(n).ok()));
    if let Err(why) = verdict {
        let line = format!("`{}`: {why}", guard::shown(&simple(&program, &rest)));
        eprintln!("labrun: refusing {line}");
        let refusals = state_path.with_file_name("refusals");
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&refusals)
        {
            let _ = writeln!(f, "{line}");
        }
        return 126;
    }
    let shims = state_path.with_file_name("bin");
    let Some(real) = find_real(&program, &shims) else {
        eprintln!("{program}: command not found");
        return 127;
    };
    use std::os::unix::process::CommandExt as _;
    let err = std::process::Command::new(&real)
        .arg0(&program)
        .args(&args[2..])
        .exec();
    eprintln!("labrun __guard: starting {}: {err}", real.display());
    126
}

/// The guard's verdict on `program args` started with the environment `env`.
pub fn check(
    state: &State,
    program: &str,
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let mut simple = simple(program, args);
    for (name, _) in guard::ENV {
        if let Some(v) = env(name) {
            simple.assignments.push((name.to_string(), literal(&v)));
        }
    }
    let own = Own {
        cluster: &state.cluster,
        kubeconfig: &state.kubeconfig,
        server: state.server.as_deref(),
        ca: state.ca.as_deref(),
        docker: &state.docker,
        at_start: true,
    };
    guard::check_simple(&simple, &own)?;
    if env("KUBECONFIG").is_none() {
        return Err(format!(
            "KUBECONFIG is not set in its environment: it would use ~/.kube/config, not \
             labrun's {}",
            state.kubeconfig.display()
        ));
    }
    if program == "kind" {
        let named = args
            .iter()
            .any(|a| a == "--name" || a == "-n" || a.starts_with("--name="));
        if !named && env("KIND_CLUSTER_NAME").is_none() {
            return Err(format!(
                "neither --name nor KIND_CLUSTER_NAME is given: kind would pick the cluster \
                 from its config or default, not necessarily `{}`",
                state.cluster
            ));
        }
        return Ok(()); // kind writes the kubeconfig; it does not read where it points
    }
    let target = super::safety::current(&state.kubeconfig)?;
    let want = format!("kind-{}", state.cluster);
    let ca = state.ca.as_deref().unwrap_or_default();
    match (&target, &state.server) {
        (Some(t), Some(server)) if t.is(&want, server, ca) => Ok(()),
        (Some(t), Some(server)) if t.context == want && &t.server == server => Err(format!(
            "labrun's kubeconfig {} now trusts another certificate authority or sends a client              elsewhere ({}) than the one labrun verified",
            state.kubeconfig.display(),
            if t.detours.is_empty() {
                "its certificate authority".to_string()
            } else {
                t.detours.join(", ")
            }
        )),
        (_, None) => Err(format!(
            "labrun has not verified kind cluster `{}` yet (its API server is not known)",
            state.cluster
        )),
        (None, Some(_)) => Err(format!(
            "labrun's kubeconfig {} has no current context any more",
            state.kubeconfig.display()
        )),
        (Some(t), Some(server)) => Err(format!(
            "labrun's kubeconfig now points at context `{}` (server {}), not `{want}` at {server}, \
             which labrun verified",
            t.context, t.server
        )),
    }
}

/// A program about to start, as a simple command whose every word is literal.
fn simple(program: &str, args: &[String]) -> Simple {
    Simple {
        words: std::iter::once(program)
            .chain(args.iter().map(String::as_str))
            .map(literal)
            .collect(),
        ..Simple::default()
    }
}

fn literal(t: &str) -> Word {
    Word {
        raw: t.to_string(),
        literal: Some(t.to_string()),
    }
}

/// The first `program` on `PATH` that is not in the shims' directory.
fn find_real(program: &str, shims: &Path) -> Option<PathBuf> {
    let shims = std::fs::canonicalize(shims).ok();
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| std::fs::canonicalize(d).ok() != shims)
        .map(|d| d.join(program))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Single-quoted for sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(dir: &Path, server: Option<&str>) -> State {
        State {
            cluster: "kind".into(),
            kubeconfig: dir.join("kubeconfig"),
            server: server.map(str::to_string),
            ca: Some(String::new()),
            docker: Vec::new(),
        }
    }

    fn kubeconfig(dir: &Path, context: &str, server: &str) {
        std::fs::write(
            dir.join("kubeconfig"),
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {server}\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: {context}\ncurrent-context: {context}\nusers:\n- name: u\n  user:\n    token: t\n"
            ),
        )
        .unwrap();
    }

    #[test]
    fn arguments_and_environment_as_the_program_gets_them() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path(), Some("https://127.0.0.1:41234"));
        kubeconfig(dir.path(), "kind-kind", "https://127.0.0.1:41234");
        let own = dir.path().join("kubeconfig").display().to_string();
        let env = |kc: Option<&str>| {
            let kc = kc.map(str::to_string);
            move |n: &str| (n == "KUBECONFIG").then(|| kc.clone()).flatten()
        };
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check(&s, "kubectl", &args(&["get", "pods"]), env(Some(&own))),
            Ok(())
        );
        // what `kubectl $FLAGS` or xargs put on the command line
        let e = check(
            &s,
            "kubectl",
            &args(&["--context=prod", "get", "pods"]),
            env(Some(&own)),
        )
        .unwrap_err();
        assert!(e.contains("`--context prod`"), "{e}");
        // an environment that lost or changed KUBECONFIG
        assert!(
            check(&s, "kubectl", &args(&["get", "pods"]), env(None))
                .unwrap_err()
                .contains("KUBECONFIG is not set")
        );
        assert!(
            check(
                &s,
                "helm",
                &args(&["list"]),
                env(Some("/root/.kube/config"))
            )
            .is_err()
        );
        // kind needs a name it can see
        assert!(check(&s, "kind", &args(&["delete", "cluster"]), env(Some(&own))).is_err());
        assert_eq!(
            check(
                &s,
                "kind",
                &args(&["delete", "cluster", "-n", "kind"]),
                env(Some(&own))
            ),
            Ok(())
        );
    }

    #[test]
    fn the_kubeconfig_must_still_point_at_the_verified_server() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("kubeconfig").display().to_string();
        let env = move |n: &str| (n == "KUBECONFIG").then(|| own.clone());
        let get = ["get".to_string(), "pods".to_string()];
        kubeconfig(dir.path(), "kind-kind", "https://127.0.0.1:41234");
        let unverified = state(dir.path(), None);
        assert!(
            check(&unverified, "kubectl", &get, &env)
                .unwrap_err()
                .contains("not verified")
        );
        let s = state(dir.path(), Some("https://127.0.0.1:41234"));
        assert_eq!(check(&s, "kubectl", &get, &env), Ok(()));
        // overwritten earlier in the same step (`cp prod.kubeconfig "$KUBECONFIG" && …`)
        kubeconfig(dir.path(), "prod-admin", "https://prod.example.com:6443");
        let e = check(&s, "kubectl", &get, &env).unwrap_err();
        assert!(
            e.contains("`prod-admin`") && e.contains("prod.example.com"),
            "{e}"
        );
        // the right name, another server
        kubeconfig(dir.path(), "kind-kind", "https://127.0.0.1:40000");
        assert!(check(&s, "kubectl", &get, &env).is_err());
    }

    /// A kubeconfig at `path` for context `kind-kind`, its cluster entry given by `cluster`
    /// (YAML lines indented four spaces).
    fn kubeconfig_at(path: &Path, cluster: &str) {
        std::fs::write(
            path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n{cluster}  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: kind-kind\ncurrent-context: kind-kind\nusers:\n- name: u\n  user:\n    token: t\n"
            ),
        )
        .unwrap();
    }

    #[test]
    fn a_copy_of_the_runs_kubeconfig_is_read_as_a_whole() {
        let dir = tempfile::tempdir().unwrap();
        let server = "https://127.0.0.1:41234";
        let own_cluster = format!("    server: {server}\n    certificate-authority-data: Q0E=\n");
        kubeconfig_at(&dir.path().join("kubeconfig"), &own_cluster);
        let mut s = state(dir.path(), Some(server));
        s.ca = Some("Q0E=".into());
        let own = dir.path().join("kubeconfig").display().to_string();
        let env = move |n: &str| (n == "KUBECONFIG").then(|| own.clone());
        let with = |p: &Path| {
            vec![
                format!("--kubeconfig={}", p.display()),
                "get".to_string(),
                "pods".to_string(),
            ]
        };
        let copy = dir.path().join("copy");
        // `cp "$KUBECONFIG" copy`, `kind get kubeconfig > copy`: the same cluster, CA, context
        kubeconfig_at(&copy, &own_cluster);
        assert_eq!(check(&s, "kubectl", &with(&copy), &env), Ok(()));
        // what a copy must not change: the server, the CA, where a client is sent
        for changed in [
            "    server: https://127.0.0.1:40000\n    certificate-authority-data: Q0E=\n"
                .to_string(),
            format!("    server: {server}\n    certificate-authority-data: T1RIRVI=\n"),
            format!(
                "    server: {server}\n    certificate-authority-data: Q0E=\n    proxy-url: http://10.0.0.9:3128\n"
            ),
            format!("    server: {server}\n    insecure-skip-tls-verify: true\n"),
        ] {
            kubeconfig_at(&copy, &changed);
            assert!(
                check(&s, "kubectl", &with(&copy), &env).is_err(),
                "{changed}"
            );
        }
        // labrun's own file, changed the same way, is refused too
        kubeconfig_at(
            &dir.path().join("kubeconfig"),
            &format!("    server: {server}\n    certificate-authority-data: T1RIRVI=\n"),
        );
        let get = ["get".to_string(), "pods".to_string()];
        let e = check(&s, "kubectl", &get, &env).unwrap_err();
        assert!(e.contains("certificate authority"), "{e}");
        // a path no one made is no kubeconfig of the run's as the program starts
        assert!(check(&s, "kubectl", &with(&dir.path().join("none")), &env).is_err());
    }

    #[test]
    fn a_token_computed_in_the_step_reaches_the_verified_server() {
        // `kubectl --token "$(kubectl create token default)" get pods`: allowed by the text
        // check (the value is computed), and as kubectl starts, where it is a plain word
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path(), Some("https://127.0.0.1:41234"));
        kubeconfig(dir.path(), "kind-kind", "https://127.0.0.1:41234");
        let own = dir.path().join("kubeconfig").display().to_string();
        let env = move |n: &str| (n == "KUBECONFIG").then(|| own.clone());
        let args: Vec<String> = ["--token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "get", "pods"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(check(&s, "kubectl", &args, &env), Ok(()));
        // with another server it is still refused, for the server
        let mut other = args.clone();
        other.splice(
            0..0,
            ["--server".to_string(), "https://prod:6443".to_string()],
        );
        assert!(check(&s, "kubectl", &other, &env).is_err());
    }

    #[test]
    fn the_real_program_is_the_first_after_the_shims() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path(), None);
        let shims = Shims::install(dir.path(), Path::new("/usr/bin/labrun"), &s).unwrap();
        let shim = std::fs::read_to_string(shims.bin.join("kubectl")).unwrap();
        assert!(shim.contains("'/usr/bin/labrun' __guard"), "{shim}");
        for p in crate::policy::CLUSTER_PROGRAMS.iter().chain(&["kind"]) {
            assert!(shims.bin.join(p).exists(), "{p}");
        }
        // `sh` is no shim: found where the system has it
        assert!(find_real("sh", &shims.bin).is_some());
        assert_eq!(find_real("kubectl-no-such-program", &shims.bin), None);
        assert!(shims.prologue().starts_with("case \"$PATH\" in '"));
    }
}
