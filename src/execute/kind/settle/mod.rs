//! Settle: after a step that changed the cluster, wait until it is quiet — no sleeps.
//!
//! In: the run's kubeconfig, the namespaces the step touched, a bound. Out: `Ok` once the
//! cluster is quiet, or the list of what is not, with the latest events of those objects.
//! Quiet means: every node Ready; every Deployment, StatefulSet and DaemonSet rolled out
//! (observed generation current, updated and ready equal desired; a StatefulSet as `kubectl
//! rollout status` judges it, partitions and OnDelete included); no pod Pending (which
//! includes ContainerCreating) or Terminating; every Service's EndpointSlices holding exactly
//! its ready pods (every pod with `publishNotReadyAddresses`), address family by address
//! family. A Deployment past its progress deadline is a failure at once, not a wait.
//! [`unsettled`] decides that on API objects; [`wait`] feeds it from kube-rs watchers
//! (reflector stores), re-deciding on every change; [`namespaces`] says which namespaces a
//! step touched, from its flags, the files it applied and what kubectl printed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};

mod namespaces;

pub use namespaces::namespaces;

/// What the cluster looks like, as the watchers last saw it.
#[derive(Debug, Default, Clone)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub deployments: Vec<Deployment>,
    pub statefulsets: Vec<StatefulSet>,
    pub daemonsets: Vec<DaemonSet>,
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    pub slices: Vec<EndpointSlice>,
}

/// One thing that is not settled: `kind/namespace/name` and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NotReady {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub why: String,
    /// It will not settle by waiting (a Deployment past its progress deadline).
    pub failed: bool,
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}: {}", self.kind, self.name, self.why)
        } else {
            write!(
                f,
                "{}/{}/{}: {}",
                self.kind, self.namespace, self.name, self.why
            )
        }
    }
}

fn in_scope<K: Resource>(o: &K, namespaces: &BTreeSet<String>) -> bool {
    namespaces.is_empty()
        || o.meta()
            .namespace
            .as_ref()
            .is_some_and(|n| namespaces.contains(n))
}

fn nr<K: Resource>(kind: &'static str, o: &K, why: String) -> NotReady {
    NotReady {
        kind,
        namespace: o.meta().namespace.clone().unwrap_or_default(),
        name: o.meta().name.clone().unwrap_or_default(),
        why,
        failed: false,
    }
}

/// Everything in `c` that is not settled, within `namespaces` (empty: all). Sorted.
pub fn unsettled(c: &Cluster, namespaces: &BTreeSet<String>) -> Vec<NotReady> {
    let mut out = Vec::new();
    for n in &c.nodes {
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        if !ready {
            out.push(nr("node", n, "not Ready".into()));
        }
    }
    let generation = |meta_gen: Option<i64>, observed: Option<i64>| {
        observed.unwrap_or(0) >= meta_gen.unwrap_or(0)
    };
    for d in c.deployments.iter().filter(|d| in_scope(*d, namespaces)) {
        let want = d.spec.replicas.unwrap_or(1);
        let s = d.status.clone().unwrap_or_default();
        let deadline = s.conditions.iter().flatten().find(|c| {
            c.type_.as_deref() == Some("Progressing")
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
        if let Some(c) = deadline {
            let mut n = nr(
                "deployment",
                d,
                format!(
                    "progress deadline exceeded: {}",
                    c.message.as_deref().unwrap_or("")
                ),
            );
            n.failed = true;
            out.push(n);
        } else if !generation(d.metadata.generation, s.observed_generation) {
            out.push(nr(
                "deployment",
                d,
                "new generation not yet observed".into(),
            ));
        } else if s.updated_replicas.unwrap_or(0) < want
            || s.ready_replicas.unwrap_or(0) < want
            || s.available_replicas.unwrap_or(0) < want
            || s.replicas.unwrap_or(0) > want
        {
            out.push(nr(
                "deployment",
                d,
                format!(
                    "rolling out: {}/{want} updated, {}/{want} ready, {} total",
                    s.updated_replicas.unwrap_or(0),
                    s.ready_replicas.unwrap_or(0),
                    s.replicas.unwrap_or(0)
                ),
            ));
        }
    }
    // As `kubectl rollout status` judges a StatefulSet: the generation observed, the ready
    // replicas, then with RollingUpdate either the partition's pods updated or every pod at the
    // update revision; OnDelete pods are replaced only when deleted, so readiness is all.
    for ss in c.statefulsets.iter().filter(|s| in_scope(*s, namespaces)) {
        let want = ss.spec.replicas.unwrap_or(1);
        let s = ss.status.clone().unwrap_or_default();
        let strategy = ss.spec.update_strategy.clone().unwrap_or_default();
        let on_delete = strategy.type_.as_deref() == Some("OnDelete");
        let partition = strategy
            .rolling_update
            .and_then(|r| r.partition)
            .filter(|p| *p > 0);
        let rolled = if on_delete {
            Ok(())
        } else if let Some(p) = partition {
            let updated = s.updated_replicas.unwrap_or(0);
            if updated < want - p {
                Err(format!(
                    "partitioned roll out: {updated} of {} new pods updated",
                    want - p
                ))
            } else {
                Ok(())
            }
        } else if s.update_revision.is_some() && s.current_revision != s.update_revision {
            Err("revision not current".to_string())
        } else {
            Ok(())
        };
        if s.observed_generation.unwrap_or(0) == 0
            || !generation(ss.metadata.generation, s.observed_generation)
        {
            out.push(nr(
                "statefulset",
                ss,
                "new generation not yet observed".into(),
            ));
        } else if s.ready_replicas.unwrap_or(0) < want || s.replicas > want {
            out.push(nr(
                "statefulset",
                ss,
                format!(
                    "rolling out: {}/{want} ready",
                    s.ready_replicas.unwrap_or(0)
                ),
            ));
        } else if let Err(why) = rolled {
            out.push(nr("statefulset", ss, format!("rolling out: {why}")));
        }
    }
    for ds in c.daemonsets.iter().filter(|d| in_scope(*d, namespaces)) {
        let Some(s) = ds.status.clone() else {
            out.push(nr("daemonset", ds, "no status yet".into()));
            continue;
        };
        if !generation(ds.metadata.generation, s.observed_generation) {
            out.push(nr(
                "daemonset",
                ds,
                "new generation not yet observed".into(),
            ));
        } else if s.number_ready < s.desired_number_scheduled
            || s.updated_number_scheduled.unwrap_or(0) < s.desired_number_scheduled
        {
            out.push(nr(
                "daemonset",
                ds,
                format!(
                    "rolling out: {}/{} ready",
                    s.number_ready, s.desired_number_scheduled
                ),
            ));
        }
    }
    for p in c.pods.iter().filter(|p| in_scope(*p, namespaces)) {
        if p.metadata.deletion_timestamp.is_some() {
            out.push(nr("pod", p, "Terminating".into()));
            continue;
        }
        let status = p.status.clone().unwrap_or_default();
        if status.phase.as_deref() == Some("Pending") {
            let waiting = status
                .container_statuses
                .unwrap_or_default()
                .into_iter()
                .find_map(|c| c.state.and_then(|s| s.waiting).and_then(|w| w.reason));
            out.push(nr("pod", p, waiting.unwrap_or_else(|| "Pending".into())));
        }
    }
    // Services with a selector: their EndpointSlices hold exactly the ready matching pods
    // (every matching pod with `publishNotReadyAddresses`), in each of the Service's address
    // families (a dual-stack pod has an address in each; each family has slices of its own).
    for svc in c.services.iter().filter(|s| in_scope(*s, namespaces)) {
        let Some(spec) = svc.spec.as_ref() else {
            continue;
        };
        let Some(selector) = spec.selector.clone().filter(|s| !s.is_empty()) else {
            continue;
        };
        let not_ready_too = spec.publish_not_ready_addresses == Some(true);
        let families: Vec<&str> = match &spec.ip_families {
            Some(f) if !f.is_empty() => f.iter().map(String::as_str).collect(),
            _ => vec!["IPv4"],
        };
        let family_of = |ip: &str| if ip.contains(':') { "IPv6" } else { "IPv4" };
        let ns = svc.namespace().unwrap_or_default();
        let name = svc.name_any();
        let want: BTreeSet<String> = c
            .pods
            .iter()
            .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| {
                let labels = p.metadata.labels.clone().unwrap_or_default();
                selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .filter(|p| not_ready_too || pod_ready(p))
            .flat_map(pod_ips)
            .filter(|ip| families.contains(&family_of(ip)))
            .collect();
        let have: BTreeSet<String> = c
            .slices
            .iter()
            .filter(|s| s.namespace().as_deref() == Some(ns.as_str()))
            .filter(|s| {
                s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("kubernetes.io/service-name"))
                    == Some(&name)
            })
            .filter(|s| families.contains(&s.address_type.as_str()))
            .flat_map(|s| s.endpoints.iter().flatten())
            .filter(|e| {
                not_ready_too || e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true)
            })
            .flat_map(|e| e.addresses.iter().cloned())
            .collect();
        if want != have {
            let missing: Vec<&String> = want.difference(&have).collect();
            let extra: Vec<&String> = have.difference(&want).collect();
            out.push(nr(
                "service",
                svc,
                format!("endpoints lag the ready pods (missing {missing:?}, stale {extra:?})"),
            ));
        }
    }
    out.sort();
    out
}

/// A pod's addresses: every family's (`podIPs`), else its one `podIP`.
fn pod_ips(p: &Pod) -> Vec<String> {
    let Some(status) = p.status.as_ref() else {
        return Vec::new();
    };
    match &status.pod_ips {
        Some(ips) if !ips.is_empty() => ips.iter().map(|i| i.ip.clone()).collect(),
        _ => status.pod_ip.iter().cloned().collect(),
    }
}

fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// A watcher and its store for one kind of object, in `namespaces` (all when empty).
fn watch<K>(
    client: &Client,
    namespaces: &BTreeSet<String>,
) -> (Vec<Store<K>>, Vec<tokio::task::JoinHandle<()>>)
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let apis: Vec<Api<K>> = if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|n| Api::namespaced(client.clone(), n))
            .collect()
    };
    let mut stores = Vec::new();
    let mut tasks = Vec::new();
    for api in apis {
        let (reader, writer) = reflector::store();
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .touched_objects();
        tasks.push(tokio::spawn(async move {
            stream.for_each(|_| futures::future::ready(())).await;
        }));
        stores.push(reader);
    }
    (stores, tasks)
}

fn all<K: Resource + Clone>(stores: &[Store<K>]) -> Vec<K>
where
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    stores
        .iter()
        .flat_map(|s| s.state().into_iter().map(|o| (*o).clone()))
        .collect()
}

/// Whether the whole cluster is quiet now, from one list of each kind of object (no watch):
/// a read-only step whose output stays the same while this is true is not going to change.
/// An API that does not answer counts as not quiet.
pub async fn quiet_now(client: &Client) -> bool {
    async fn list<K>(client: &Client) -> Option<Vec<K>>
    where
        K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
        K::DynamicType: Default,
    {
        Api::<K>::all(client.clone())
            .list(&Default::default())
            .await
            .ok()
            .map(|l| l.items)
    }
    let c = async {
        Some(Cluster {
            nodes: list(client).await?,
            deployments: list(client).await?,
            statefulsets: list(client).await?,
            daemonsets: list(client).await?,
            pods: list(client).await?,
            services: list(client).await?,
            slices: list(client).await?,
        })
    };
    match tokio::time::timeout(Duration::from_secs(5), c).await {
        Ok(Some(c)) => unsettled(&c, &BTreeSet::new()).is_empty(),
        _ => false,
    }
}

/// Wait until `namespaces` (and the nodes) are quiet, at most `bound`. The error lists what is
/// not ready and the latest events of those objects.
pub async fn wait(
    client: &Client,
    namespaces: &BTreeSet<String>,
    bound: Duration,
) -> Result<(), String> {
    let (node_reader, node_writer) = reflector::store::<Node>();
    let node_stream = reflector::reflector(
        node_writer,
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    let mut tasks = vec![tokio::spawn(async move {
        node_stream.for_each(|_| futures::future::ready(())).await;
    })];
    let (deploys, t) = watch::<Deployment>(client, namespaces);
    tasks.extend(t);
    let (sets, t) = watch::<StatefulSet>(client, namespaces);
    tasks.extend(t);
    let (daemons, t) = watch::<DaemonSet>(client, namespaces);
    tasks.extend(t);
    let (pods, t) = watch::<Pod>(client, namespaces);
    tasks.extend(t);
    let (services, t) = watch::<Service>(client, namespaces);
    tasks.extend(t);
    let (slices, t) = watch::<EndpointSlice>(client, namespaces);
    tasks.extend(t);
    struct Abort(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for Abort {
        fn drop(&mut self) {
            self.0.iter().for_each(|t| t.abort());
        }
    }
    let _abort = Abort(tasks);

    // The deadline runs from the last progress (an image being pulled, pods starting one by
    // one), never past ten times the bound.
    let started = tokio::time::Instant::now();
    let cap = started + bound * 10;
    let mut deadline = started + bound;
    let snapshot = || Cluster {
        nodes: node_reader
            .state()
            .into_iter()
            .map(|o| (*o).clone())
            .collect(),
        deployments: all(&deploys),
        statefulsets: all(&sets),
        daemonsets: all(&daemons),
        pods: all(&pods),
        services: all(&services),
        slices: all(&slices),
    };
    // Every store has its first list before anything is judged: an empty store is not a quiet
    // one.
    let ready = async {
        let _ = node_reader.wait_until_ready().await;
        for s in &deploys {
            let _ = s.wait_until_ready().await;
        }
        for s in &sets {
            let _ = s.wait_until_ready().await;
        }
        for s in &daemons {
            let _ = s.wait_until_ready().await;
        }
        for s in &pods {
            let _ = s.wait_until_ready().await;
        }
        for s in &services {
            let _ = s.wait_until_ready().await;
        }
        for s in &slices {
            let _ = s.wait_until_ready().await;
        }
    };
    if tokio::time::timeout_at(deadline, ready).await.is_err() {
        return Err("the cluster's API did not answer the watches in time".into());
    }
    // Quiet twice in a row, a quarter second apart: a controller that has not reacted yet to
    // the step's change would otherwise look quiet.
    let mut quiet_in_a_row = 0;
    let mut last = Vec::new();
    let mut seen = 0;
    let mut failed = false;
    while tokio::time::Instant::now() < deadline {
        let now = snapshot();
        let state = fingerprint(&now);
        last = unsettled(&now, namespaces);
        if last.iter().any(|n| n.failed) {
            failed = true;
            break;
        }
        if state != seen {
            seen = state;
            deadline = (tokio::time::Instant::now() + bound).min(cap);
        }
        if last.is_empty() {
            quiet_in_a_row += 1;
            if quiet_in_a_row >= 2 {
                return Ok(());
            }
        } else {
            quiet_in_a_row = 0;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut report = if failed {
        "the cluster will not settle:\n".to_string()
    } else {
        format!(
            "the cluster did not settle: nothing changed for {}s:\n",
            bound.as_secs()
        )
    };
    for n in last.iter().filter(|n| n.failed || !failed) {
        report.push_str(&format!("  {n}\n"));
        for e in events(client, n).await {
            report.push_str(&format!("    {e}\n"));
        }
    }
    Err(report)
}

/// Which objects exist and at which resource version: when it changes, something moved.
fn fingerprint(c: &Cluster) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    fn each<K: Resource>(h: &mut impl Hasher, items: &[K]) {
        let mut v: Vec<(&Option<String>, &Option<String>)> = items
            .iter()
            .map(|o| (&o.meta().uid, &o.meta().resource_version))
            .collect();
        v.sort();
        v.hash(h);
    }
    each(&mut h, &c.nodes);
    each(&mut h, &c.deployments);
    each(&mut h, &c.statefulsets);
    each(&mut h, &c.daemonsets);
    each(&mut h, &c.pods);
    each(&mut h, &c.services);
    each(&mut h, &c.slices);
    h.finish()
}

/// The latest events about one object (type, reason, message), newest last, at most five.
async fn events(client: &Client, n: &NotReady) -> Vec<String> {
    let api: Api<Event> = if n.namespace.is_empty() {
        Api::all(client.clone())
    } else {
        Api::namespaced(client.clone(), &n.namespace)
    };
    let lp = kube::api::ListParams::default().fields(&format!("involvedObject.name={}", n.name));
    let Ok(list) = api.list(&lp).await else {
        return Vec::new();
    };
    let mut items: Vec<(String, String)> = list
        .items
        .into_iter()
        .map(|e| {
            let when = e
                .last_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
                .unwrap_or_default();
            (
                when,
                format!(
                    "{} {}: {}",
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.message.unwrap_or_default().trim()
                ),
            )
        })
        .collect();
    items.sort();
    let start = items.len().saturating_sub(5);
    items.drain(start..).map(|(_, e)| e).collect()
}

/// Counts of objects by kind, for progress messages.
pub fn describe(c: &Cluster) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("nodes", c.nodes.len()),
        ("pods", c.pods.len()),
        ("deployments", c.deployments.len()),
        ("statefulsets", c.statefulsets.len()),
    ])
}
