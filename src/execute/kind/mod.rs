//! The kind backend: a lab's steps against a kind cluster of the run's own.
//!
//! In: the lab, the cluster's name, `--reuse` / `--keep-cluster`. Out: a [`Backend`] whose
//! session has `KUBECONFIG` pointing at a kubeconfig under `target/labrun/<document>/`, never
//! the user's; that refuses any step that talks to a cluster unless the current context is a
//! kind cluster visible through Docker (`docker.rs`, `safety.rs`); that waits, after a step
//! that changed the cluster, until the cluster is quiet (`settle/`); and that deletes the
//! cluster it created at the end, on Ctrl-C too.

pub mod docker;
pub mod guard;
pub mod safety;
pub mod settle;
pub mod shim;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::local::Local;
use super::{Admit, Backend, Outcome, Shell};
use crate::error::{Error, Result};
use crate::policy;
use crate::steps::Step;

/// How the kind backend is asked to behave (`labrun run --backend kind …`).
#[derive(Debug, Clone)]
pub struct Options {
    /// The cluster's name; default: the lab's `kind create cluster --name`, else `kind`.
    pub cluster: Option<String>,
    /// Run against a cluster of that name that already exists.
    pub reuse: bool,
    /// Keep the cluster labrun created at the end.
    pub keep: bool,
    /// The longest a change may take to settle.
    pub settle: Duration,
    /// The longest the lab's `kind create cluster` may take (node images are pulled, four
    /// nodes boot): a budget of its own, not the step timeout.
    pub create: Duration,
    /// `cluster` stands for the lab's own: the lab's cluster name in its commands (`--name`,
    /// node names, the `kind-<name>` context) is rewritten to it, and read back in what they
    /// print (a run of many documents gives each one its own cluster this way).
    pub rename: bool,
    /// The sandbox the steps run in (the kubeconfig's directory is added, writable).
    pub sandbox: crate::execute::Sandboxing,
    /// The project the document belongs to, visible read-only to the steps.
    pub sources: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cluster: None,
            reuse: false,
            keep: false,
            settle: Duration::from_secs(180),
            create: Duration::from_secs(600),
            rename: false,
            sandbox: Default::default(),
            sources: PathBuf::from("."),
        }
    }
}

/// The kind backend.
pub struct Kind {
    local: Local,
    facts: docker::Facts,
    cluster: String,
    kubeconfig: PathBuf,
    opts: Options,
    /// A create step of this run started when no node of the cluster existed: whatever nodes
    /// that name has now are this run's, created or half-created (so it deletes them at the
    /// end, whatever the create step's fate).
    created: bool,
    /// The cluster existed when the run started (`--reuse`).
    existed: bool,
    /// The lab's own `kind delete cluster` ran.
    deleted: bool,
    versions: serde_json::Map<String, serde_json::Value>,
    /// labrun's own `DOCKER_HOST` / `DOCKER_CONTEXT` values.
    docker: Vec<String>,
    /// The guard at the moment a program starts.
    shims: shim::Shims,
    /// The API server labrun's kubeconfig points at, as last verified against Docker.
    verified: Option<(String, String)>,
    /// The run's cluster under the lab's name, with the pattern that finds the lab's name.
    renamed: Option<(crate::record::Renamed, regex::Regex)>,
}

/// The pattern of the lab's cluster name `lab` in a command: after `--name`, `--name=` or
/// `KIND_CLUSTER_NAME=`; as the prefix of a node (`-control-plane`, `-worker`, `-worker2`,
/// `-external-load-balancer`); inside the `kind-<name>` context.
fn lab_name_pattern(lab: &str) -> regex::Regex {
    let l = regex::escape(lab);
    regex::Regex::new(&format!(
        r"(?P<flag>--name[= ]|KIND_CLUSTER_NAME=){l}\b|\b{l}(?P<node>-(?:control-plane\d*|worker\d*|external-load-balancer))\b|\bkind-{l}\b"
    ))
    .expect("an escaped name makes a valid pattern")
}

/// `command` with the lab's cluster name as the run's (see [`lab_name_pattern`]).
fn rename_in(command: &str, pattern: &regex::Regex, run: &str) -> String {
    pattern
        .replace_all(command, |c: &regex::Captures| {
            if let Some(flag) = c.name("flag") {
                format!("{}{run}", flag.as_str())
            } else if let Some(node) = c.name("node") {
                format!("{run}{}", node.as_str())
            } else {
                format!("kind-{run}")
            }
        })
        .into_owned()
}

/// The cluster a lab creates: the name its `kind create cluster` step gives (`--name`, `-n`,
/// `KIND_CLUSTER_NAME=`), else `kind`.
pub fn cluster_name(steps: &[Step]) -> String {
    steps
        .iter()
        .find(|s| policy::creates_cluster(&s.command))
        .and_then(|s| policy::created_cluster_name(&s.command))
        .unwrap_or_else(|| "kind".into())
}

/// labrun's own kubeconfig for a document's runs: `<out>/kube/config` (its directory is the
/// one place of the document's directory the steps may write: kind locks the file beside it).
pub fn kubeconfig_for(out: &Path) -> PathBuf {
    out.join("kube").join("config")
}

/// A Kubernetes client for the current context of `kubeconfig`, with the credentials kind
/// writes there (a CA, a client certificate and key).
pub async fn client_for(kubeconfig: &Path) -> Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .map_err(|e| Error::Environment(format!("{}: {e}", kubeconfig.display())))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| Error::Environment(format!("{}: {e}", kubeconfig.display())))?;
    kube::Client::try_from(config)
        .map_err(|e| Error::Environment(format!("a client for {}: {e}", kubeconfig.display())))
}

/// `kind version`, or an environment error saying kind is missing.
pub fn kind_version() -> Result<String> {
    let out = std::process::Command::new("kind")
        .arg("version")
        .output()
        .map_err(|e| {
            Error::Environment(format!(
                "kind is not installed or not on PATH ({e}); see https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
            ))
        })?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The kind backend's sandbox: the project's, on the host's network (kind publishes the API
/// server there), with the kubeconfig's directory writable and Docker through the run's own
/// endpoint, which lets the steps act on the run's cluster's nodes.
fn k_sandbox(opts: &Options, kube_dir: &Path) -> Result<crate::execute::Sandboxing> {
    let mut s = opts.sandbox.clone();
    s.network = crate::execute::sandbox::Network::Host;
    s.writable.push(kube_dir.to_path_buf());
    Ok(s)
}

impl Kind {
    /// Connect to Docker, find kind, decide the cluster, and prepare the session: a scratch
    /// copy of `workdir` in the run's directory `out`, `KUBECONFIG` at labrun's own file in the
    /// document's directory `document_dir`, `KIND_CLUSTER_NAME` the cluster.
    pub async fn new(
        steps: &[Step],
        workdir: &Path,
        document_dir: &Path,
        out: &Path,
        cap: usize,
        opts: Options,
    ) -> Result<Kind> {
        let facts = docker::Facts::connect().await?;
        let mut versions = serde_json::Map::new();
        versions.insert("docker".into(), facts.version().await?.into());
        versions.insert("kind".into(), kind_version()?.into());
        let cluster = opts.cluster.clone().unwrap_or_else(|| cluster_name(steps));
        let kubeconfig = kubeconfig_for(document_dir);
        let existing = facts.nodes(&cluster).await?;
        if !existing.is_empty() && !opts.reuse {
            return Err(Error::Environment(format!(
                "a kind cluster named `{cluster}` already exists ({} node container(s): {}); \
                 pass --reuse to run against it, or delete it with `kind delete cluster --name {cluster}`",
                existing.len(),
                existing
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // labrun's own kubeconfig, and the lock a killed kind may have left beside it
        for stale in [kubeconfig.clone(), lock_of(&kubeconfig)] {
            if std::fs::exists(&stale).unwrap_or(false) {
                std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
            }
        }
        if !existing.is_empty() {
            let status = std::process::Command::new("kind")
                .args(["export", "kubeconfig", "--name", &cluster, "--kubeconfig"])
                .arg(&kubeconfig)
                .output()
                .map_err(|e| Error::Environment(format!("kind export kubeconfig: {e}")))?;
            if !status.status.success() {
                return Err(Error::Environment(format!(
                    "kind export kubeconfig --name {cluster}: {}",
                    String::from_utf8_lossy(&status.stderr).trim()
                )));
            }
        }
        let kube_dir = kubeconfig.parent().unwrap_or(document_dir).to_path_buf();
        std::fs::create_dir_all(&kube_dir).map_err(|e| Error::io(&kube_dir, e))?;
        let mut sandboxing = k_sandbox(&opts, &kube_dir)?;
        sandboxing.cluster = Some(cluster.clone());
        let mut local = Local::new(&opts.sources, workdir, out, cap, &sandboxing).await?;
        local
            .shell()
            .export("KUBECONFIG", &kubeconfig.display().to_string())?;
        local.shell().export("KIND_CLUSTER_NAME", &cluster)?;
        // the steps' Docker is the run's own endpoint
        let docker: Vec<String> = local.docker_host().into_iter().collect();
        let labrun = std::env::current_exe()
            .map_err(|e| Error::Environment(format!("finding labrun's own program: {e}")))?;
        // in the session's state directory: the shims record refusals there from inside the
        // sandbox
        let shims = shim::Shims::install(
            &out.join("state"),
            &labrun,
            &shim::State {
                cluster: cluster.clone(),
                kubeconfig: kubeconfig.clone(),
                server: None,
                ca: None,
                docker: docker.clone(),
            },
        )?;
        if crate::execute::local::lint_on() {
            local.shell_mut().set_prologue(&shims.prologue());
        }
        let mut k = Kind {
            local,
            facts,
            cluster,
            kubeconfig,
            opts,
            created: false,
            existed: !existing.is_empty(),
            deleted: false,
            versions,
            docker,
            shims,
            verified: None,
            renamed: None,
        };
        let lab = cluster_name(steps);
        if k.opts.rename && lab != k.cluster {
            k.renamed = Some((
                crate::record::Renamed {
                    live: k.cluster.clone(),
                    document: lab.clone(),
                },
                lab_name_pattern(&lab),
            ));
        }
        if k.existed {
            k.learn_server_version().await;
            k.reverify().await?;
        }
        Ok(k)
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A client for the run's cluster, made only after labrun's kubeconfig is verified again
    /// as a whole: a step may have rewritten it since the last check.
    async fn client(&self) -> Result<kube::Client> {
        let (_, verdict) = self.target().await?;
        verdict.map_err(|why| {
            Error::Environment(format!(
                "labrun's kubeconfig {} is no longer the run's cluster, so labrun opens no \
                 client with it: {why}",
                self.kubeconfig.display()
            ))
        })?;
        client_for(&self.kubeconfig).await
    }

    async fn learn_server_version(&mut self) {
        if let Ok(client) = self.client().await
            && let Ok(v) = client.apiserver_version().await
        {
            self.versions
                .insert("kubernetes".into(), v.git_version.into());
        }
    }

    /// What is the run's own, for the guard; the server once labrun's kubeconfig names one.
    fn own<'a>(&'a self, server: Option<&'a str>, ca: Option<&'a str>) -> guard::Own<'a> {
        guard::Own {
            cluster: &self.cluster,
            kubeconfig: &self.kubeconfig,
            server,
            ca,
            docker: &self.docker,
            at_start: false,
        }
    }

    /// Where labrun's kubeconfig points now, and whether that is this run's kind cluster: the
    /// kubeconfig read once, the cluster's node containers listed once.
    async fn target(&self) -> Result<(Option<safety::Target>, Result<(), String>)> {
        let target = safety::current(&self.kubeconfig).map_err(Error::Environment)?;
        let nodes = self.facts.nodes(&self.cluster).await?;
        let verdict = safety::verify(target.as_ref(), &self.cluster, &nodes);
        Ok((target, verdict))
    }

    /// Tell the shims which API server labrun verified (none: every cluster program is
    /// refused as it starts).
    fn set_verified(&mut self, verified: Option<(String, String)>) -> Result<()> {
        if verified != self.verified {
            self.verified = verified;
            self.shims.update(&shim::State {
                cluster: self.cluster.clone(),
                kubeconfig: self.kubeconfig.clone(),
                server: self.verified.as_ref().map(|(s, _)| s.clone()),
                ca: self.verified.as_ref().map(|(_, ca)| ca.clone()),
                docker: self.docker.clone(),
            })?;
        }
        Ok(())
    }

    /// Verify where labrun's kubeconfig points, and tell the shims.
    async fn reverify(&mut self) -> Result<()> {
        let (target, verdict) = self.target().await?;
        self.set_verified(verdict.ok().and(target.map(|t| (t.server, t.ca))))
    }

    /// A program the shims refused while a step ran stops the run.
    fn refused_meanwhile(&self) -> Result<()> {
        match self.shims.take_refusals() {
            Some(why) => Err(Error::Environment(format!(
                "refused a program as the step ran it: {why}"
            ))),
            None => Ok(()),
        }
    }

    /// Before the first step: every step whose text names a kubeconfig, context, server,
    /// token, kind cluster or Docker daemon other than the run's own, with its line. The run
    /// does not start if there is one, so nothing is half-built. (The API server is not known
    /// yet: a step that names one is refused here.)
    pub fn preflight(&self, doc: &Path, steps: &[Step]) -> Result<()> {
        if !crate::execute::local::lint_on() {
            return Ok(());
        }
        let refused: Vec<String> = steps
            .iter()
            .filter(|s| !s.directives.skip)
            // with --reuse, the lab's create step is skipped
            .filter(|s| !self.existed || !is_create(&s.command))
            .filter_map(|s| {
                guard::check(&self.rewrite(&s.command), &self.own(None, None))
                    .err()
                    .map(|why| format!("{}:{}: {why}", doc.display(), s.line))
            })
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        Err(Error::Environment(format!(
            "refusing to run: {} step(s) would reach something other than kind cluster `{}` \
             and labrun's kubeconfig for it:\n  {}",
            refused.len(),
            self.cluster,
            refused.join("\n  ")
        )))
    }

    /// The refusal of a step that talks to a cluster when the current context is not this
    /// run's kind cluster.
    fn refusal(&self, why: String) -> Error {
        Error::Environment(format!(
            "refusing a step that talks to a cluster: {why}. labrun's kubeconfig for this run \
             is {}; let the lab's `kind create cluster` step create the cluster, or pass \
             --cluster NAME --reuse to run against an existing kind cluster",
            self.kubeconfig.display()
        ))
    }

    /// `docker exec` into a node of *another* kind cluster is refused: inside a node, the
    /// cluster's admin kubeconfig is at hand, so the step would reach that cluster.
    async fn check_exec_targets(&self, command: &str) -> Result<()> {
        let targets = policy::docker_exec_targets(command);
        if targets.is_empty() {
            return Ok(());
        }
        let foreign = self
            .facts
            .all_nodes()
            .await?
            .into_iter()
            .find(|n| n.cluster != self.cluster && targets.contains(&n.name));
        if let Some(n) = foreign {
            return Err(Error::Environment(format!(
                "refusing `docker exec` into `{}`: it is a node of kind cluster `{}`, \
                 not of this run's cluster `{}`",
                n.name, n.cluster, self.cluster
            )));
        }
        Ok(())
    }

    /// What a failed step should say about node containers that are not running.
    async fn stopped_nodes(&self) -> Option<String> {
        let nodes = self.facts.nodes(&self.cluster).await.ok()?;
        let mut report = String::new();
        for n in nodes.iter().filter(|n| n.state != "running") {
            let logs = self.facts.last_logs(&n.id, 20).await.unwrap_or_default();
            report.push_str(&format!(
                "node container {} is {}; its last log lines:\n{}",
                n.name,
                n.state,
                logs.trim_end()
            ));
        }
        (!report.is_empty()).then_some(report)
    }

    /// Delete the cluster if this run created it (or began to) and nobody asked to keep it.
    pub fn cleanup(&mut self) -> Result<()> {
        if !self.created || self.deleted || self.opts.keep {
            return Ok(());
        }
        // a kind killed while it held the kubeconfig's lock would make the delete fail
        let lock = lock_of(&self.kubeconfig);
        if lock.exists() {
            std::fs::remove_file(&lock).map_err(|e| Error::io(&lock, e))?;
        }
        let out = std::process::Command::new("kind")
            .args(["delete", "cluster", "--name", &self.cluster, "--kubeconfig"])
            .arg(&self.kubeconfig)
            .output()
            .map_err(|e| Error::Environment(format!("kind delete cluster: {e}")))?;
        if !out.status.success() {
            return Err(Error::Environment(format!(
                "kind delete cluster --name {}: {}",
                self.cluster,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        self.deleted = true;
        Ok(())
    }
}

/// The lock kind holds while it writes a kubeconfig.
fn lock_of(kubeconfig: &Path) -> PathBuf {
    let mut name = kubeconfig.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn is_create(command: &str) -> bool {
    policy::creates_cluster(command)
}

fn is_delete(command: &str) -> bool {
    policy::deletes_cluster(command)
}

impl Backend for Kind {
    fn name(&self) -> &'static str {
        "kind"
    }

    fn shell(&self) -> &Shell {
        self.local.shell()
    }

    fn rewrite(&self, command: &str) -> String {
        match &self.renamed {
            Some((r, pattern)) => rename_in(command, pattern, &r.live),
            None => command.to_string(),
        }
    }

    fn renamed(&self) -> Option<crate::record::Renamed> {
        self.renamed.as_ref().map(|(r, _)| r.clone())
    }

    async fn before(&mut self, command: &str) -> Result<Admit> {
        self.refused_meanwhile()?; // by a background step or watch since the last step
        if is_create(command) && self.existed {
            return Ok(Admit::Skip(format!(
                "--reuse: kind cluster `{}` exists already",
                self.cluster
            )));
        }
        if is_create(command) && self.facts.nodes(&self.cluster).await?.is_empty() {
            self.created = true;
        }
        // The command as it will run (bindings applied), against labrun's kubeconfig as it
        // is now: a step's own names first, then where the kubeconfig points.
        let talks = policy::talks_to_cluster(command);
        let (target, verdict) = if talks || self.created || self.existed {
            self.target().await?
        } else {
            // no cluster of the run's yet and the step talks to none: nothing to verify
            (None, Err(String::new()))
        };
        let server = target.as_ref().map(|t| t.server.as_str());
        let ca = target.as_ref().map(|t| t.ca.as_str());
        if !crate::execute::local::lint_on() {
            // a test of the sandbox alone: what holds must hold without the text checks
            self.set_verified(verdict.ok().and(target.map(|t| (t.server, t.ca))))?;
            return Ok(Admit::Run);
        }
        guard::check(command, &self.own(server, ca)).map_err(|why| {
            Error::Environment(format!(
                "refusing a step that reaches another cluster: {why}"
            ))
        })?;
        if talks {
            verdict.clone().map_err(|why| self.refusal(why))?;
        }
        self.check_exec_targets(command).await?;
        self.set_verified(verdict.ok().and(target.map(|t| (t.server, t.ca))))?;
        Ok(Admit::Run)
    }

    async fn after(&mut self, command: &str, outcome: &Outcome) -> Result<Option<String>> {
        self.refused_meanwhile()?;
        if outcome.exit_code != 0 {
            return Ok(self.stopped_nodes().await);
        }
        if is_create(command) {
            self.learn_server_version().await;
            self.reverify().await?;
        }
        if is_delete(command) {
            self.deleted = true;
            return Ok(None);
        }
        if !policy::changes_cluster(command) {
            return Ok(None);
        }
        let client = self.client().await?;
        let namespaces: BTreeSet<String> = if is_create(command) {
            BTreeSet::from(["kube-system".to_string()])
        } else {
            settle::namespaces(command, &outcome.stdout, self.local.scratch())
        };
        Ok(settle::wait(&client, &namespaces, self.opts.settle)
            .await
            .err())
    }

    fn versions(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::Object(self.versions.clone()))
    }

    fn timeout(&self, command: &str) -> Option<Duration> {
        is_create(command).then_some(self.opts.create)
    }

    /// The cluster is changing unless every object is settled now (one list of each kind), or
    /// what the run left running on this machine is.
    async fn changing(&mut self) -> bool {
        if self.local.changing().await {
            return true;
        }
        if self.deleted {
            return false;
        }
        match self.client().await {
            Ok(client) => !settle::quiet_now(&client).await,
            Err(_) => false,
        }
    }

    async fn finish(&mut self) -> Result<()> {
        self.local.reap().await;
        self.cleanup()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labs_cluster_name_becomes_the_runs_where_it_names_the_cluster() {
        let p = lab_name_pattern("kind");
        let run = "labrun-lab";
        for (command, renamed) in [
            (
                "kind create cluster --name kind --config x.yaml",
                "kind create cluster --name labrun-lab --config x.yaml",
            ),
            (
                "kind delete cluster --name=kind",
                "kind delete cluster --name=labrun-lab",
            ),
            (
                "docker exec -it kind-worker2 ip a",
                "docker exec -it labrun-lab-worker2 ip a",
            ),
            (
                "docker exec kind-control-plane crictl ps",
                "docker exec labrun-lab-control-plane crictl ps",
            ),
            (
                "kubectl --context kind-kind get nodes",
                "kubectl --context kind-labrun-lab get nodes",
            ),
            (
                "KIND_CLUSTER_NAME=kind kind get nodes",
                "KIND_CLUSTER_NAME=labrun-lab kind get nodes",
            ),
            // the program, a kind of object, another cluster's nodes: left alone
            (
                "kind get clusters; kubectl explain kind",
                "kind get clusters; kubectl explain kind",
            ),
            (
                "docker exec mykind-worker ls",
                "docker exec mykind-worker ls",
            ),
        ] {
            assert_eq!(rename_in(command, &p, run), renamed, "{command}");
        }
    }
}
