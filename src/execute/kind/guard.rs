//! The guard: a step reaches no cluster but the run's own, by anything its text names.
//!
//! In: a step's command as it will run, and what is the run's own ([`Own`]: the kind
//! cluster's name, labrun's kubeconfig, the API server it points at). Out: `Ok`, or the
//! reason to refuse. Every simple command the step would run is found by [`crate::syntax`] —
//! inside loops, substitutions, `sh -c` strings, `eval`, `watch`, `xargs`, `env`, `sudo` — and
//! each is held to the tables below: an environment variable or a flag that chooses a
//! kubeconfig, context, cluster, server, token, kind cluster or Docker daemon must name the
//! run's own, an emptied environment must not reach a cluster program (kubectl would fall back
//! to `~/.kube/config`), and text bash would not parse is refused, not guessed.
//!
//! This is what the text shows. What it cannot show (a script file, arguments `xargs` reads,
//! a variable set by an earlier step) is checked again when the program starts: see
//! [`super::shim`].

use std::path::Path;

use crate::syntax::{Simple, Word};

/// What a name chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A kubeconfig file.
    Kubeconfig,
    /// A context in the kubeconfig.
    Context,
    /// A cluster entry in the kubeconfig.
    Cluster,
    /// An API server address.
    Server,
    /// A bearer token (written into the document, it belongs to a cluster that existed
    /// before the run).
    Token,
    /// A kind cluster, by name.
    KindCluster,
    /// A Docker daemon (kind acts on the clusters of the daemon it talks to).
    Docker,
    /// kind's node provider (`KIND_EXPERIMENTAL_PROVIDER`): only Docker, whose daemon the run
    /// reaches through its own endpoint.
    Provider,
}

/// Environment variables that choose what a program reaches.
pub const ENV: &[(&str, Target)] = &[
    ("KUBECONFIG", Target::Kubeconfig),
    ("KIND_CLUSTER_NAME", Target::KindCluster),
    ("HELM_KUBECONTEXT", Target::Context),
    ("HELM_KUBEAPISERVER", Target::Server),
    ("HELM_KUBETOKEN", Target::Token),
    ("DOCKER_HOST", Target::Docker),
    ("DOCKER_CONTEXT", Target::Docker),
    ("KIND_EXPERIMENTAL_PROVIDER", Target::Provider),
];

/// Flags that choose what a program reaches, as `--flag value`, `--flag=value` or `-fvalue`.
pub const FLAGS: &[(&str, &str, Target)] = &[
    ("kubectl", "--kubeconfig", Target::Kubeconfig),
    ("kubectl", "--context", Target::Context),
    ("kubectl", "--cluster", Target::Cluster),
    ("kubectl", "--server", Target::Server),
    ("kubectl", "-s", Target::Server),
    ("kubectl", "--token", Target::Token),
    ("oc", "--kubeconfig", Target::Kubeconfig),
    ("oc", "--context", Target::Context),
    ("oc", "--cluster", Target::Cluster),
    ("oc", "--server", Target::Server),
    ("oc", "-s", Target::Server),
    ("oc", "--token", Target::Token),
    ("helm", "--kubeconfig", Target::Kubeconfig),
    ("helm", "--kube-context", Target::Context),
    ("helm", "--kube-apiserver", Target::Server),
    ("helm", "--kube-token", Target::Token),
    ("linkerd", "--kubeconfig", Target::Kubeconfig),
    ("linkerd", "--context", Target::Context),
    ("linkerd", "--api-addr", Target::Server),
    ("istioctl", "--kubeconfig", Target::Kubeconfig),
    ("istioctl", "-c", Target::Kubeconfig),
    ("istioctl", "--context", Target::Context),
    ("kind", "--kubeconfig", Target::Kubeconfig),
    ("kind", "--name", Target::KindCluster),
    ("kind", "-n", Target::KindCluster),
    ("docker", "-H", Target::Docker),
    ("docker", "--host", Target::Docker),
    ("docker", "-c", Target::Docker),
    ("docker", "--context", Target::Docker),
];

/// Programs whose own flags end at their first word that is not a flag (`docker -H x run …`:
/// after `run`, the flags are the container's).
const FLAGS_BEFORE_VERB: &[&str] = &["docker"];

/// Shell builtins that set a variable named by an argument (`export NAME=value`, `read NAME`).
const SETTERS: &[&str] = &[
    "export",
    "declare",
    "typeset",
    "local",
    "readonly",
    "read",
    "mapfile",
    "readarray",
    "printf",
    "unset",
];

/// What is the run's own.
#[derive(Debug, Clone)]
pub struct Own<'a> {
    /// The kind cluster's name (`kind`); its context and kubeconfig cluster are `kind-<name>`.
    pub cluster: &'a str,
    /// labrun's kubeconfig for the run.
    pub kubeconfig: &'a Path,
    /// The API server labrun's kubeconfig points at (verified against Docker), once known.
    pub server: Option<&'a str>,
    /// The certificate authority of the verified server (see [`super::safety::Target::ca`]).
    pub ca: Option<&'a str>,
    /// labrun's own `DOCKER_HOST` / `DOCKER_CONTEXT` values, if it was started with them.
    pub docker: &'a [String],
    /// Checked as the program starts (the shim), not from the step's text: every word is
    /// known, and the server the kubeconfig names has just been verified.
    pub at_start: bool,
}

/// `Ok`, or why `command` would reach something other than the run's own.
pub fn check(command: &str, own: &Own) -> Result<(), String> {
    let commands = crate::syntax::simple_commands(command)
        .map_err(|e| format!("labrun cannot see what this step reaches: {e}"))?;
    commands.iter().try_for_each(|s| {
        check_simple(s, own).map_err(|why| match s.words.is_empty() {
            true => why,
            false => format!("`{}`: {why}", shown(s)),
        })
    })
}

/// `Ok`, or why one simple command (as found in a step's text, or as a program is about to
/// be started with it) would reach something other than the run's own. The reason does not
/// repeat the command: the caller shows it.
pub fn check_simple(s: &Simple, own: &Own) -> Result<(), String> {
    let at = |what: String| match s.within {
        Some(w) => format!("{what} (inside {w})"),
        None => what,
    };
    for (name, value) in &s.assignments {
        if let Some(target) = guarded(name) {
            named(target, value, own).map_err(|why| at(format!("`{name}={}` {why}", value.raw)))?;
        }
    }
    let Some(program) = s.program() else {
        return Ok(());
    };
    if crate::policy::cluster_program(program) || program == "kind" {
        if let Some(by) = s.env_cleared {
            return Err(at(format!(
                "`{program}` runs with its environment emptied by {by}: without labrun's \
                 KUBECONFIG it would read ~/.kube/config"
            )));
        }
        if let Some(v) = s.env_removed.iter().find(|v| guarded(v).is_some()) {
            return Err(at(format!(
                "`{program}` runs with {v} removed from its environment: it would fall back to \
                 its defaults, not the run's own"
            )));
        }
    }
    if SETTERS.contains(&program) {
        setter(program, s.args(), own).map_err(at)?;
    }
    flags(program, s.args(), own).map_err(at)?;
    if program == "kind" {
        kind_clusters(s.args(), own).map_err(at)?;
    }
    Ok(())
}

/// `export NAME=value`, `declare -x NAME=value`, `read NAME`, `printf -v NAME …`, `unset NAME`,
/// `export -n NAME`: a builtin that sets, un-exports or removes a variable the table guards.
fn setter(program: &str, args: &[Word], own: &Own) -> Result<(), String> {
    let flag = |a: &Word| a.text().starts_with(['-', '+']);
    let declares = matches!(
        program,
        "export" | "declare" | "typeset" | "local" | "readonly"
    );
    let removes = program == "unset"
        || (program == "export" && args.iter().any(|a| a.text() == "-n"))
        || (declares
            && args
                .iter()
                .any(|a| a.text().starts_with('+') && a.text().contains('x')));
    let names: Vec<&Word> = match program {
        "printf" => args
            .windows(2)
            .filter(|w| w[0].text() == "-v")
            .map(|w| &w[1])
            .collect(),
        "read" | "mapfile" | "readarray" => {
            let mut names = Vec::new();
            let mut i = 0;
            while let Some(a) = args.get(i) {
                let takes_value = matches!(
                    a.text(),
                    "-a" | "-d"
                        | "-i"
                        | "-n"
                        | "-N"
                        | "-p"
                        | "-t"
                        | "-u"
                        | "-O"
                        | "-s"
                        | "-C"
                        | "-c"
                );
                if !flag(a) {
                    names.push(a);
                }
                i += if takes_value { 2 } else { 1 };
            }
            names
        }
        _ => args.iter().filter(|a| !flag(a)).collect(),
    };
    for a in names {
        let (name, value) = match a.text().split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (a.text(), None),
        };
        let Some(target) = guarded(name) else {
            continue;
        };
        if removes {
            return Err(format!(
                "`{program} {name}` takes labrun's {name} away from the programs that follow"
            ));
        }
        match value {
            Some(_) => named(target, &value_word(a), own)
                .map_err(|why| format!("`{program} {}` {why}", a.raw))?,
            // `export KUBECONFIG`: it keeps the session's own value
            None if declares => {}
            None => {
                return Err(format!(
                    "`{program}` sets {name} to what it reads, which labrun cannot check"
                ));
            }
        }
    }
    Ok(())
}

/// The value part of a `NAME=value` word, keeping whether it is literal.
fn value_word(w: &Word) -> Word {
    let cut = |s: &str| {
        s.split_once('=')
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    Word {
        raw: cut(&w.raw),
        literal: w.literal.as_deref().map(cut),
    }
}

/// The flags of `program` that choose a target, each held to the run's own.
fn flags(program: &str, args: &[Word], own: &Own) -> Result<(), String> {
    let table: Vec<(&str, Target)> = FLAGS
        .iter()
        .filter(|(p, _, _)| *p == program)
        .map(|(_, f, t)| (*f, *t))
        .collect();
    if table.is_empty() {
        return Ok(());
    }
    let shorts = crate::policy::flags::of(program).map(|f| f.short);
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let t = a.text();
        if t == "--" {
            // the value of a flag before it (pflag takes any next word as a value:
            // `--cache-dir -- --kubeconfig=P`), else the end of this program's flags
            // (`kubectl exec POD -- cmd`)
            let prev = i.checked_sub(1).and_then(|p| args.get(p)).map(Word::text);
            if !prev.is_some_and(|p| p.starts_with('-') && !p.contains('=') && p.len() > 1) {
                break;
            }
            i += 1;
            continue;
        }
        if !t.starts_with('-') && FLAGS_BEFORE_VERB.contains(&program) {
            break;
        }
        // a group of one-letter flags: booleans up to the first that takes a value
        if let Some(shorts) = shorts
            && t.len() > 2
            && t.starts_with('-')
            && !t.starts_with("--")
        {
            for (k, c) in t[1..].char_indices() {
                if !shorts.contains(c) {
                    continue;
                }
                let rest = &t[1 + k + c.len_utf8()..];
                let rest = rest.strip_prefix('=').unwrap_or(rest);
                let value = if rest.is_empty() {
                    args.get(i + 1).cloned()
                } else {
                    let cut = a.raw.len().saturating_sub(rest.len());
                    Some(Word {
                        raw: a.raw.get(cut..).unwrap_or(rest).to_string(),
                        literal: a.literal.as_ref().map(|_| rest.to_string()),
                    })
                };
                let flag = format!("-{c}");
                if let (Some(value), Some((_, target))) =
                    (value, table.iter().find(|(f, _)| *f == flag))
                {
                    named(*target, &value, own)
                        .map_err(|why| format!("`{flag} {}` {why}", value.raw))?;
                }
                break;
            }
            i += 1;
            continue;
        }
        for (flag, target) in &table {
            let value = if t == *flag {
                match args.get(i + 1) {
                    Some(v) => v.clone(),
                    None => continue,
                }
            } else if let Some(v) = t.strip_prefix(flag).and_then(|r| {
                if flag.starts_with("--") {
                    r.strip_prefix('=')
                } else {
                    (!r.is_empty()).then_some(r.strip_prefix('=').unwrap_or(r))
                }
            }) {
                let cut = a.raw.len().saturating_sub(v.len());
                Word {
                    raw: a.raw.get(cut..).unwrap_or(v).to_string(),
                    literal: a.literal.as_ref().map(|_| v.to_string()),
                }
            } else {
                continue;
            };
            named(*target, &value, own).map_err(|why| format!("`{flag} {}` {why}", value.raw))?;
        }
        i += 1;
    }
    Ok(())
}

/// `kind delete clusters NAME…` / `--all`: every name must be the run's own.
fn kind_clusters(args: &[Word], own: &Own) -> Result<(), String> {
    // the words that are not flags (nor a flag's value), wherever the flags stand: kind's
    // global flags may come before the verb (`kind -q delete clusters prod`)
    let long_values = crate::policy::flags::long("kind");
    let mut words: Vec<&Word> = Vec::new();
    let mut all = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let t = a.text();
        i += 1;
        if t == "--all" || (t.starts_with('-') && !t.starts_with("--") && t.contains('A')) {
            all = true;
        }
        if !t.starts_with('-') {
            words.push(a);
        } else if long_values.contains(&t)
            || (!t.starts_with("--") && t.ends_with(['n', 'v']) && t.len() >= 2)
        {
            i += 1; // its value
        }
    }
    let texts: Vec<&str> = words.iter().map(|w| w.text()).collect();
    if texts.first() != Some(&"delete") || texts.get(1) != Some(&"clusters") {
        return Ok(());
    }
    if all {
        return Err(
            "`kind delete clusters --all` deletes every kind cluster, not only the \
                    run's own"
                .into(),
        );
    }
    for a in &words[2..] {
        named(Target::KindCluster, a, own)
            .map_err(|why| format!("`kind delete clusters {}` {why}", a.raw))?;
    }
    Ok(())
}

/// A simple command as written, shortened to one line.
pub fn shown(s: &Simple) -> String {
    let all: Vec<&str> = s.words.iter().map(|w| w.raw.as_str()).collect();
    let text = all.join(" ");
    match text.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Whether the kubeconfig at `path` is the run's: labrun's own file, or a copy of it, read as
/// a whole (its current context, server and certificate authority those labrun verified,
/// nothing that would send a client elsewhere). A file that does not exist when the text is
/// checked, before the run, can only be made by the run's steps; it is checked as a whole when
/// a program starts.
fn own_kubeconfig(path: &str, own: &Own) -> bool {
    let p = Path::new(path);
    if p == own.kubeconfig
        || matches!(
            (std::fs::canonicalize(p), std::fs::canonicalize(own.kubeconfig)),
            (Ok(a), Ok(b)) if a == b
        )
    {
        return true;
    }
    if !p.exists() {
        return !own.at_start;
    }
    let (Some(server), Some(ca)) = (own.server, own.ca) else {
        return false;
    };
    matches!(
        super::safety::current(p),
        Ok(Some(t)) if t.is(&format!("kind-{}", own.cluster), server, ca)
    )
}

fn guarded(name: &str) -> Option<Target> {
    ENV.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// `Ok` when `value` names the run's own `target`; else why not.
fn named(target: Target, value: &Word, own: &Own) -> Result<(), String> {
    let context = format!("kind-{}", own.cluster);
    // `$KUBECONFIG`, `"${KIND_CLUSTER_NAME}"`: the session's own value, which the guard keeps.
    let own_variable = |var: &str| {
        let r = value.raw.trim_matches('"');
        r == format!("${var}") || r == format!("${{{var}}}")
    };
    let literal = value.literal.as_deref();
    let ok = match target {
        Target::Kubeconfig => {
            own_variable("KUBECONFIG") || literal.is_some_and(|l| own_kubeconfig(l, own))
        }
        Target::Context | Target::Cluster => literal == Some(context.as_str()),
        Target::KindCluster => own_variable("KIND_CLUSTER_NAME") || literal == Some(own.cluster),
        Target::Server => literal.is_some() && literal == own.server,
        // a token computed during the run (`$(kubectl create token …)`) is for the server
        // the run's kubeconfig names; one written into the document is not
        // As the program starts, a token goes to the server the (verified) kubeconfig names:
        // another cluster's token would only be refused by it.
        Target::Token => literal.is_none() || own.at_start,
        Target::Docker => literal.is_some_and(|l| own.docker.iter().any(|d| d == l)),
        Target::Provider => literal == Some("docker"),
    };
    if ok {
        return Ok(());
    }
    let what = match target {
        Target::Kubeconfig => format!(
            "names a kubeconfig other than labrun's for this run ({})",
            own.kubeconfig.display()
        ),
        Target::Context => format!("names a context other than `{context}`, this run's"),
        Target::Cluster => format!("names a kubeconfig cluster other than `{context}`, this run's"),
        Target::Server => format!(
            "names an API server other than this run's ({})",
            own.server.unwrap_or("none yet")
        ),
        Target::Token => "gives a token written into the document, which belongs to a cluster \
                          that existed before this run"
            .into(),
        Target::KindCluster => format!(
            "names a kind cluster other than `{}`, this run's",
            own.cluster
        ),
        Target::Docker => "names a Docker daemon other than the one labrun checks the run's \
                           cluster on"
            .into(),
        Target::Provider => "makes kind use a node provider other than Docker, whose daemon the \
                             run reaches through its own endpoint"
            .into(),
    };
    let dynamic = if literal.is_none()
        && !matches!(target, Target::Token | Target::Docker | Target::Provider)
    {
        " (or a value labrun cannot know before the step runs)"
    } else {
        ""
    };
    Err(format!("{what}{dynamic}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> Own<'static> {
        Own {
            cluster: "kind",
            kubeconfig: Path::new("/tmp/labrun-test/kubeconfig"),
            server: Some("https://127.0.0.1:41234"),
            ca: Some("CA"),
            docker: &[],
            at_start: false,
        }
    }

    /// A kubeconfig that exists before the run and is not the run's (another cluster's
    /// credentials, as `/root/.kube/config` would be on a user's machine): `PROD_KUBECONFIG`
    /// in a test's command stands for its path. A path that does not exist before the run
    /// is left to the check as the program starts (see `a_kubeconfig_made_by_the_run_…`).
    fn prod_kubeconfig() -> String {
        // under the build's own target directory, not /tmp, where it would outlive the tests
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(format!("labrun-guard-prod-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: prod-admin\n",
        )
        .unwrap();
        path.display().to_string()
    }

    fn refused(command: &str) -> String {
        let command = &command.replace("PROD_KUBECONFIG", &prod_kubeconfig());
        match check(command, &own()) {
            Ok(()) => panic!("`{command}` was let through"),
            Err(why) => why,
        }
    }

    fn allowed(command: &str) {
        let command = &command.replace("PROD_KUBECONFIG", &prod_kubeconfig());
        if let Err(why) = check(command, &own()) {
            panic!("`{command}` was refused: {why}");
        }
    }

    /// Flags read as pflag and the docker CLI read them (issue 30's spellings): a `--` taken
    /// as a flag's value, one-letter flags grouped, global flags before the verb.
    #[test]
    fn flags_are_read_as_the_programs_own_parsers_read_them() {
        for (step, says) in [
            (
                "kubectl --cache-dir -- --kubeconfig=PROD_KUBECONFIG get pods",
                "--kubeconfig",
            ),
            (
                "kubectl -As https://prod.example.com:6443 get pods",
                "`-s https://prod",
            ),
            (
                "kubectl -Asprod.example.com get pods",
                "`-s prod.example.com",
            ),
            ("kind delete cluster -qn prod", "`-n prod`"),
            ("kind -q delete clusters prod", "kind delete clusters prod"),
            (
                "kind --loglevel debug delete clusters prod",
                "kind delete clusters prod",
            ),
            ("kind delete clusters -qA", "--all"),
            ("oc --context prod get pods", "--context prod"),
            ("oc -s https://prod.example.com get pods", "-s https://prod"),
            (
                "KIND_EXPERIMENTAL_PROVIDER=podman kind create cluster",
                "node provider",
            ),
        ] {
            let why = refused(step);
            assert!(why.contains(says), "{step}: {why}");
        }
        for step in [
            "kubectl exec -it web -- kubectl --context prod get pods",
            "kubectl get pods -owide",
            "kubectl get pods -ojsonpath='{.items[*].spec.nodeName}'",
            "kubectl get pods -A -o wide",
            "kind delete cluster -qn kind",
            "kind -q delete clusters kind",
            // the value of a long flag is no cluster name
            "kind delete clusters --kubeconfig /tmp/x kind",
            "kind delete clusters --config cfg.yaml kind",
            "KIND_EXPERIMENTAL_PROVIDER=docker kind create cluster",
            "oc get pods -A",
        ] {
            allowed(step);
        }
    }

    #[test]
    fn a_kubeconfig_made_by_the_run_is_left_to_the_check_as_the_program_starts() {
        // before the run, no such file: only a step can make it, inside the run's sandbox
        let made = std::env::temp_dir().join("labrun-guard-never-made/config");
        let step = format!("kubectl --kubeconfig {} get pods", made.display());
        allowed(&step);
        // as the program starts, it must be there and be the run's (shim tests read copies)
        let at_start = Own {
            at_start: true,
            ..own()
        };
        assert!(check(&step, &at_start).is_err());
        // one that exists and is another cluster's is refused at once
        refused("kubectl --kubeconfig PROD_KUBECONFIG get pods");
    }

    #[test]
    fn every_environment_variable_in_the_table_is_held_to_the_runs_own() {
        for (name, target) in ENV {
            let why = refused(&format!("{name}=PROD_KUBECONFIG kubectl get pods"));
            assert!(why.contains(name), "{why}");
            // a kubeconfig elsewhere is one that exists and is not the run's
            let elsewhere = if *target == Target::Kubeconfig {
                "PROD_KUBECONFIG"
            } else {
                "elsewhere"
            };
            let why = refused(&format!("export {name}={elsewhere}"));
            assert!(why.contains("export"), "{why}");
            let own_value = match target {
                Target::Kubeconfig => Some("/tmp/labrun-test/kubeconfig"),
                Target::Context => Some("kind-kind"),
                Target::KindCluster => Some("kind"),
                Target::Server => Some("https://127.0.0.1:41234"),
                Target::Provider => Some("docker"),
                Target::Token | Target::Cluster | Target::Docker => None,
            };
            if let Some(v) = own_value {
                allowed(&format!("{name}={v} kubectl get pods"));
            }
        }
        allowed("KUBECONFIG=\"$KUBECONFIG\" kubectl get pods");
        allowed("KIND_CLUSTER_NAME=${KIND_CLUSTER_NAME} kind get nodes");
    }

    #[test]
    fn every_flag_in_the_table_is_held_to_the_runs_own() {
        for (program, flag, target) in FLAGS {
            let verb = if *program == "kind" {
                "get nodes"
            } else {
                "version"
            };
            let other = if *target == Target::Kubeconfig {
                "PROD_KUBECONFIG"
            } else {
                "other"
            };
            let why = refused(&format!("{program} {flag} {other} {verb}"));
            assert!(why.contains(flag), "{why}");
            if flag.starts_with("--") {
                refused(&format!("{program} {flag}={other} {verb}"));
            }
            let own_value = match target {
                Target::Kubeconfig => Some("/tmp/labrun-test/kubeconfig"),
                Target::Context | Target::Cluster => Some("kind-kind"),
                Target::KindCluster => Some("kind"),
                Target::Server => Some("https://127.0.0.1:41234"),
                Target::Token => Some("\"$(kubectl create token admin)\""),
                Target::Docker => None,
                Target::Provider => Some("docker"),
            };
            if let Some(v) = own_value {
                allowed(&format!("{program} {flag} {v} {verb}"));
            }
        }
        allowed("kubectl --kubeconfig \"$KUBECONFIG\" get pods");
        allowed("kubectl get pods -n kube-system -o wide");
    }

    #[test]
    fn the_escapes_the_review_found_are_refused() {
        for c in [
            "kubectl --kubeconfig ~/.kube/config delete pods --all",
            "KUBECONFIG=~/.kube/config kubectl delete pods --all",
            "env KUBECONFIG=PROD_KUBECONFIG kubectl delete pods --all",
            "helm --kubeconfig PROD_KUBECONFIG uninstall web",
            "helm --kube-context prod uninstall web",
            "kubectl --server https://prod.example.com:6443 get pods",
            "kubectl -shttps://prod.example.com:6443 get pods",
            "kubectl --token abc.def get pods",
            "kubectl --context prod-admin delete ns default",
            "kubectl --context=prod-admin delete ns default",
            "for i in 1 2; do kubectl --context prod delete pod x$i; done",
            "echo $(kubectl --context prod get pods)",
            "bash -c 'kubectl --context prod delete pods --all'",
            "sh -c \"KUBECONFIG=PROD_KUBECONFIG kubectl get pods\"",
            "kubectl get pods -o name | xargs kubectl --context prod delete",
            "watch kubectl --context prod get pods",
            "kind delete cluster --name other",
            "kind delete cluster -n other",
            "kind delete cluster --name=other",
            "KIND_CLUSTER_NAME=other kind delete cluster",
            "kind load docker-image web:1 --name other",
            "kind export kubeconfig --name other",
            "kind get nodes -n other",
            "kind delete clusters --all",
            "kind delete clusters kind other",
            "env -i kubectl get pods",
            "env -u KUBECONFIG kubectl get pods",
            "sudo kubectl delete pods --all",
            "unset KUBECONFIG",
            "export -n KUBECONFIG",
            "declare +x KUBECONFIG",
            "read KUBECONFIG < prod-path",
            "printf -v KUBECONFIG %s PROD_KUBECONFIG",
            ": ${KUBECONFIG:=PROD_KUBECONFIG}",
            "alias k='kubectl --context prod'",
            "eval kubectl --context prod get pods",
            "DOCKER_HOST=ssh://prod kind delete cluster",
            "docker -H tcp://prod:2375 ps",
            "kubectl --context \"$CTX\" get pods",
            "kubectl get pods; for x in $(seq 3); do echo",
        ] {
            refused(c);
        }
    }

    #[test]
    fn the_reason_names_what_was_named_and_where() {
        let why = refused("for i in 1; do kubectl --context prod-admin get pods; done");
        assert!(
            why.contains("`kubectl --context prod-admin get pods`: `--context prod-admin` names"),
            "{why}"
        );
        assert!(why.contains("`kind-kind`"), "{why}");
        let why = refused("bash -c 'kind delete cluster --name other'");
        assert!(why.contains("(inside a `sh -c` script)"), "{why}");
        let why = refused("kubectl --context \"$CTX\" get pods");
        assert!(why.contains("cannot know"), "{why}");
        let why = refused("echo 'unclosed");
        assert!(why.contains("cannot see"), "{why}");
    }

    #[test]
    fn ordinary_steps_pass() {
        for c in [
            "kind create cluster --name kind --config kind-ingress.yaml",
            "kind delete cluster --name kind",
            "kind delete clusters kind",
            "kind get clusters",
            "kubectl get pods -o wide",
            "kubectl exec dnsutils -- host -v -t a headless-service",
            "kubectl exec -it app -- sh -c 'echo --context prod'",
            "kubectl config set-context --current --namespace=web",
            "docker exec -it kind-control-plane iptables -L -t nat",
            "docker run -c 512 busybox true",
            "sudo -E kubectl get pods",
            "export PATH=$PATH:$HOME/.linkerd2/bin",
            "export KUBECONFIG",
            "curl -sL https://example.com/install | sh",
            "helm install web ./chart --namespace web --create-namespace",
        ] {
            allowed(c);
        }
    }
}
