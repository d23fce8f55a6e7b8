//! A Docker endpoint of the run's own: the only daemon a step (and the kind it runs) can reach.
//!
//! In: where to listen (a unix socket in the run's state directory), the real daemon's socket,
//! and what makes a container the run's ([`Owner`]: the run's label, and the kind cluster it
//! may act on). Out: a task serving the Engine API there, one request per connection
//! (`Connection: close`, so no later request on a connection escapes its check), each decided
//! by [`rules::ROUTES`]: containers are acted on only when they are the run's (created through
//! this endpoint — labelled `dev.labrun.run` as they are — or nodes of the run's cluster),
//! lists answer with the run's containers only, exec instances are the run's own, streams
//! (`docker exec`, `attach`, `cp`, `logs`, `save`, `load`) pass through, hijacked connections
//! included. A refusal is a Docker-style error (`Error response from daemon: labrun: …`), so
//! the step that asked fails as it would on a daemon that said no.

pub mod rules;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub use rules::{Rule, rule};

use crate::error::{Error, Result};

/// The label every container, network and volume created through the proxy carries.
pub const RUN_LABEL: &str = "dev.labrun.run";
/// kind's label naming a node's cluster.
pub const KIND_LABEL: &str = "io.x-k8s.kind.cluster";

/// What makes an object the run's.
#[derive(Debug, Clone)]
pub struct Owner {
    /// This run's id (the value of [`RUN_LABEL`]).
    pub run: String,
    /// The kind cluster the run may act on (its nodes), if any.
    pub cluster: Option<String>,
    /// Host paths a container may bind-mount (the run's own directories, `/lib/modules` for
    /// kind's nodes); every other bind is refused.
    pub binds: Vec<PathBuf>,
}

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

struct Shared {
    owner: Owner,
    upstream: PathBuf,
    /// Containers (ids and names) created through the proxy.
    created: Mutex<HashSet<String>>,
    /// Exec instances created through the proxy.
    execs: Mutex<HashSet<String>>,
}

/// The serving task; stops when dropped.
pub struct Proxy {
    socket: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Proxy {
    /// Listen at `socket`, forwarding to the daemon at `upstream` (a unix socket).
    pub fn start(socket: &Path, upstream: &Path, owner: Owner) -> Result<Proxy> {
        let _ = std::fs::remove_file(socket);
        let listener = tokio::net::UnixListener::bind(socket).map_err(|e| Error::io(socket, e))?;
        let shared = Arc::new(Shared {
            owner,
            upstream: upstream.to_path_buf(),
            created: Mutex::new(HashSet::new()),
            execs: Mutex::new(HashSet::new()),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Ok(Proxy {
            socket: socket.to_path_buf(),
            task,
        })
    }

    /// `unix://…` for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A Docker-style error: the CLI prints `Error response from daemon: <message>`.
fn refuse(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "message": format!("labrun: {message}") }).to_string();
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(full(body))
        .expect("a valid response")
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    match decide(shared, req).await {
        Ok(r) => r,
        Err(why) => refuse(StatusCode::FORBIDDEN, &why),
    }
}

/// Apply the route's rule, then forward (or refuse with the reason).
async fn decide(
    shared: &Shared,
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, String> {
    let path = rules::unversioned(req.uri().path()).to_string();
    let segs: Vec<String> = path.split('/').map(str::to_string).collect();
    let method = req.method().as_str().to_string();
    match rule(&method, &path) {
        Rule::Deny(why) => Err(format!("{method} /{path}: {why}")),
        Rule::Pass => forward(shared, req).await,
        Rule::Container => {
            let id = &segs[1];
            check_container(shared, id).await?;
            if method == "POST" && segs.get(2).is_some_and(|s| s == "exec") {
                let resp = forward(shared, req).await?;
                let (parts, body) = resp.into_parts();
                let bytes = collect(body).await?;
                if let Some(id) = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("Id")?.as_str().map(str::to_string))
                {
                    shared.execs.lock().unwrap().insert(id);
                }
                return Ok(Response::from_parts(parts, full(bytes)));
            }
            forward(shared, req).await
        }
        Rule::Exec => {
            if shared.execs.lock().unwrap().contains(&segs[1]) {
                forward(shared, req).await
            } else {
                Err(format!("exec instance {} is not this run's", segs[1]))
            }
        }
        Rule::ListContainers => {
            let resp = forward(shared, req).await?;
            let (mut parts, body) = resp.into_parts();
            let bytes = collect(body).await?;
            let kept = match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Array(all)) => {
                    let mine: Vec<Value> = all
                        .into_iter()
                        .filter(|c| owns_labels(&shared.owner, c.get("Labels")))
                        .collect();
                    Bytes::from(Value::Array(mine).to_string())
                }
                _ => bytes,
            };
            sized(&mut parts.headers, kept.len());
            Ok(Response::from_parts(parts, full(kept)))
        }
        Rule::CreateContainer => {
            let name = req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("name="))
                    .map(str::to_string)
            });
            let (parts, body) = req.into_parts();
            let mut spec: Value = serde_json::from_slice(&collect(body).await?)
                .map_err(|e| format!("a container's description that is not JSON: {e}"))?;
            check_create(&shared.owner, &spec)?;
            let (containers, volumes) = references(&spec);
            for c in containers {
                check_container(shared, &c).await?;
            }
            for v in volumes {
                if let Some(info) = get_json(shared, &format!("/volumes/{v}")).await
                    && !labelled(&shared.owner, info.get("Labels"))
                {
                    return Err(format!(
                        "volume {v} was not created by this run (it may hold another container's data)"
                    ));
                }
            }
            label(&mut spec, "Labels", &shared.owner.run);
            let resp = forward_with(shared, parts, spec.to_string().into()).await?;
            let (parts, body) = resp.into_parts();
            let bytes = collect(body).await?;
            if parts.status.is_success() {
                let mut created = shared.created.lock().unwrap();
                if let Some(id) = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("Id")?.as_str().map(str::to_string))
                {
                    created.insert(id);
                }
                created.extend(name);
            }
            Ok(Response::from_parts(parts, full(bytes)))
        }
        Rule::CreateLabelled => {
            let (parts, body) = req.into_parts();
            let mut spec: Value = serde_json::from_slice(&collect(body).await?)
                .map_err(|e| format!("a description that is not JSON: {e}"))?;
            label(&mut spec, "Labels", &shared.owner.run);
            forward_with(shared, parts, spec.to_string().into()).await
        }
        Rule::Labelled => {
            let what = &segs[0];
            let inspect = format!("/{what}/{}", segs[1]);
            match get_json(shared, &inspect).await {
                Some(v) if labelled(&shared.owner, v.get("Labels")) => forward(shared, req).await,
                Some(_) => Err(format!(
                    "{} {} was not created by this run",
                    what.trim_end_matches('s'),
                    segs[1]
                )),
                None => forward(shared, req).await,
            }
        }
        Rule::NetworkMember => {
            let (parts, body) = req.into_parts();
            let bytes = collect(body).await?;
            let container = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("Container")?.as_str().map(str::to_string))
                .unwrap_or_default();
            check_container(shared, &container).await?;
            forward_with(shared, parts, bytes).await
        }
    }
}

/// Whether labels (a JSON object) carry the run's label.
fn labelled(owner: &Owner, labels: Option<&Value>) -> bool {
    labels
        .and_then(|l| l.get(RUN_LABEL))
        .and_then(Value::as_str)
        == Some(owner.run.as_str())
}

/// Whether labels make a container the run's: its label, or a node of its cluster.
fn owns_labels(owner: &Owner, labels: Option<&Value>) -> bool {
    labelled(owner, labels)
        || owner.cluster.as_deref().is_some_and(|c| {
            labels
                .and_then(|l| l.get(KIND_LABEL))
                .and_then(Value::as_str)
                == Some(c)
        })
}

/// Refuse unless the container `id` (or name) is the run's; one the daemon does not know goes
/// on (the daemon answers "No such container").
async fn check_container(shared: &Shared, id: &str) -> std::result::Result<(), String> {
    if shared.created.lock().unwrap().contains(id) {
        return Ok(());
    }
    let Some(info) = get_json(shared, &format!("/containers/{id}/json")).await else {
        return Ok(());
    };
    if owns_labels(&shared.owner, info.pointer("/Config/Labels")) {
        return Ok(());
    }
    let other = info
        .pointer("/Config/Labels")
        .and_then(|l| l.get(KIND_LABEL))
        .and_then(Value::as_str);
    Err(match other {
        Some(c) => format!(
            "container {id} belongs to another cluster ({c}); this run's is {}",
            shared.owner.cluster.as_deref().unwrap_or("none")
        ),
        None => format!("container {id} was not created by this run"),
    })
}

/// A container's description is refused when it would join another cluster, be privileged
/// without being a node of the run's cluster, or bind a host path outside the allowed ones.
fn check_create(owner: &Owner, spec: &Value) -> std::result::Result<(), String> {
    let labels = spec.get("Labels");
    let cluster = labels
        .and_then(|l| l.get(KIND_LABEL))
        .and_then(Value::as_str);
    if let Some(c) = cluster
        && owner.cluster.as_deref() != Some(c)
    {
        return Err(format!(
            "a container labelled for cluster {c} is not this run's to create"
        ));
    }
    let host = spec.get("HostConfig");
    let privileged = host
        .and_then(|h| h.get("Privileged"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if privileged && cluster.is_none() {
        return Err(
            "a privileged container is for the run's kind nodes only (it could reach the host)"
                .into(),
        );
    }
    if cluster.is_none() {
        // what would share the host's processes, devices or powers
        for (field, what) in [
            ("PidMode", "the host's processes"),
            ("IpcMode", "the host's IPC"),
            ("UTSMode", "the host's hostname"),
            ("UsernsMode", "the host's users"),
            ("CgroupnsMode", "the host's cgroups"),
        ] {
            if host.and_then(|h| h.get(field)).and_then(Value::as_str) == Some("host") {
                return Err(format!(
                    "a container sharing {what} is outside what this run may reach"
                ));
            }
        }
        for (field, what) in [
            ("CapAdd", "added capabilities"),
            ("Devices", "host devices"),
        ] {
            if host
                .and_then(|h| h.get(field))
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                return Err(format!(
                    "a container with {what} is for the run's kind nodes only"
                ));
            }
        }
    }
    let mut sources: Vec<String> = host
        .and_then(|h| h.get("Binds"))
        .and_then(Value::as_array)
        .map(|b| {
            b.iter()
                .filter_map(Value::as_str)
                .filter_map(|s| s.split(':').next().map(str::to_string))
                .filter(|s| s.starts_with('/'))
                .collect()
        })
        .unwrap_or_default();
    if let Some(mounts) = host.and_then(|h| h.get("Mounts")).and_then(Value::as_array) {
        for m in mounts {
            if m.get("Type").and_then(Value::as_str) == Some("bind")
                && let Some(s) = m.get("Source").and_then(Value::as_str)
            {
                sources.push(s.to_string());
            }
        }
    }
    for s in sources {
        let p = Path::new(&s);
        // kind binds /dev/mapper into its nodes on Btrfs and ZFS hosts (read in kind's
        // provider, `commonArgs`)
        let node_only = cluster.is_some() && p.starts_with("/dev/mapper");
        if !node_only && !owner.binds.iter().any(|allowed| p.starts_with(allowed)) {
            return Err(format!(
                "binding {s} of the host into a container is outside what this run may reach"
            ));
        }
    }
    Ok(())
}

/// The containers and the named volumes a container's description reaches into: another
/// container's network, processes or IPC (`container:NAME`), its volumes (`VolumesFrom`), and
/// volumes mounted by name. Each must be the run's: a victim node's processes show its files
/// under `/proc/PID/root`, its volumes its credentials.
fn references(spec: &Value) -> (Vec<String>, Vec<String>) {
    let host = spec.get("HostConfig");
    let text = |field: &str| host.and_then(|h| h.get(field)).and_then(Value::as_str);
    let mut containers: Vec<String> = ["NetworkMode", "PidMode", "IpcMode"]
        .iter()
        .filter_map(|f| text(f)?.strip_prefix("container:").map(str::to_string))
        .collect();
    if let Some(from) = host
        .and_then(|h| h.get("VolumesFrom"))
        .and_then(Value::as_array)
    {
        containers.extend(from.iter().filter_map(Value::as_str).map(|v| {
            v.strip_suffix(":ro")
                .or_else(|| v.strip_suffix(":rw"))
                .unwrap_or(v)
                .to_string()
        }));
    }
    let mut volumes: Vec<String> = host
        .and_then(|h| h.get("Binds"))
        .and_then(Value::as_array)
        .map(|b| {
            b.iter()
                .filter_map(Value::as_str)
                .filter_map(|s| s.split(':').next())
                .filter(|s| !s.starts_with('/') && !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(mounts) = host.and_then(|h| h.get("Mounts")).and_then(Value::as_array) {
        volumes.extend(mounts.iter().filter_map(|m| {
            (m.get("Type").and_then(Value::as_str) == Some("volume"))
                .then(|| m.get("Source")?.as_str().map(str::to_string))
                .flatten()
                .filter(|s| !s.is_empty())
        }));
    }
    (containers, volumes)
}

/// Add the run's label to the labels object at `field`.
fn label(spec: &mut Value, field: &str, run: &str) {
    if let Value::Object(map) = spec {
        let labels = map
            .entry(field)
            .or_insert_with(|| Value::Object(Default::default()));
        if !labels.is_object() {
            *labels = Value::Object(Default::default());
        }
        if let Value::Object(l) = labels {
            l.insert(RUN_LABEL.into(), Value::String(run.into()));
        }
    }
}

async fn collect(
    body: impl hyper::body::Body<Data = Bytes, Error = impl std::fmt::Display>,
) -> std::result::Result<Bytes, String> {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| format!("reading a body: {e}"))
}

/// GET `path` from the daemon, as JSON; `None` when it says it has no such thing.
async fn get_json(shared: &Shared, path: &str) -> Option<Value> {
    let req = Request::get(path)
        .header("Host", "docker")
        .body(full(Bytes::new()))
        .ok()?;
    let resp = send(shared, req).await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let bytes = collect(resp.into_body()).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Forward a request as it is (its body streamed).
async fn forward(
    shared: &Shared,
    mut req: Request<Incoming>,
) -> std::result::Result<Response<Body>, String> {
    let upgrade = req.headers().contains_key(hyper::header::UPGRADE);
    let client_side = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts, body.map_err(|e| e.into()).boxed());
    let mut resp = send(shared, req).await?;
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_side) = client_side
    {
        let daemon_side = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            if let (Ok(c), Ok(d)) = (client_side.await, daemon_side.await) {
                let (mut c, mut d) = (TokioIo::new(c), TokioIo::new(d));
                let _ = tokio::io::copy_bidirectional(&mut c, &mut d).await;
            }
        });
    }
    Ok(streamed(resp))
}

/// Forward a request whose body was read (and perhaps changed) to `body`.
async fn forward_with(
    shared: &Shared,
    mut parts: hyper::http::request::Parts,
    body: Bytes,
) -> std::result::Result<Response<Body>, String> {
    sized(&mut parts.headers, body.len());
    let resp = send(shared, Request::from_parts(parts, full(body))).await?;
    Ok(streamed(resp))
}

/// A daemon's answer passed on as it streams.
fn streamed(resp: Response<Incoming>) -> Response<Body> {
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, body.map_err(|e| e.into()).boxed())
}

/// Headers for a body read whole (and perhaps changed): its length, not chunks.
fn sized(headers: &mut hyper::HeaderMap, len: usize) {
    headers.remove(hyper::header::TRANSFER_ENCODING);
    headers.insert(
        hyper::header::CONTENT_LENGTH,
        hyper::header::HeaderValue::from(len),
    );
}

/// One request on a connection of its own to the daemon.
async fn send(
    shared: &Shared,
    req: Request<Body>,
) -> std::result::Result<Response<Incoming>, String> {
    let stream = tokio::net::UnixStream::connect(&shared.upstream)
        .await
        .map_err(|e| {
            format!(
                "cannot reach the Docker daemon at {}: {e}",
                shared.upstream.display()
            )
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("talking to the Docker daemon: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    sender
        .send_request(req)
        .await
        .map_err(|e| format!("talking to the Docker daemon: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            run: "r1".into(),
            cluster: Some("lab".into()),
            binds: vec![PathBuf::from("/lib/modules"), PathBuf::from("/work/run")],
        }
    }

    #[test]
    fn a_container_is_the_runs_by_its_label_or_as_a_node_of_its_cluster() {
        let o = owner();
        let v = |j: &str| serde_json::from_str::<Value>(j).unwrap();
        assert!(owns_labels(&o, Some(&v(r#"{"dev.labrun.run":"r1"}"#))));
        assert!(owns_labels(
            &o,
            Some(&v(r#"{"io.x-k8s.kind.cluster":"lab"}"#))
        ));
        assert!(!owns_labels(
            &o,
            Some(&v(r#"{"io.x-k8s.kind.cluster":"prod"}"#))
        ));
        assert!(!owns_labels(&o, Some(&v(r#"{"dev.labrun.run":"r2"}"#))));
        assert!(!owns_labels(&o, None));
    }

    #[test]
    fn creating_is_checked_for_cluster_privilege_and_binds() {
        let o = owner();
        let v = |j: &str| serde_json::from_str::<Value>(j).unwrap();
        // kind's own node of the run's cluster
        assert!(check_create(&o, &v(r#"{"Labels":{"io.x-k8s.kind.cluster":"lab"},"HostConfig":{"Privileged":true,"Binds":["/lib/modules:/lib/modules:ro"]}}"#)).is_ok());
        // a node for another cluster
        assert!(check_create(&o, &v(r#"{"Labels":{"io.x-k8s.kind.cluster":"prod"}}"#)).is_err());
        // privileged, not a node
        assert!(check_create(&o, &v(r#"{"HostConfig":{"Privileged":true}}"#)).is_err());
        // the host's root, by bind or by mount
        assert!(check_create(&o, &v(r#"{"HostConfig":{"Binds":["/:/host"]}}"#)).is_err());
        assert!(check_create(&o, &v(r#"{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/root/.kube","Target":"/k"}]}}"#)).is_err());
        // the host's processes, powers and devices
        assert!(check_create(&o, &v(r#"{"HostConfig":{"PidMode":"host"}}"#)).is_err());
        assert!(check_create(&o, &v(r#"{"HostConfig":{"CapAdd":["SYS_ADMIN"]}}"#)).is_err());
        assert!(
            check_create(
                &o,
                &v(r#"{"HostConfig":{"Devices":[{"PathOnHost":"/dev/sda"}]}}"#)
            )
            .is_err()
        );
        // a named volume and a bind of the run's own directory
        assert!(
            check_create(
                &o,
                &v(r#"{"HostConfig":{"Binds":["data:/data","/work/run/x:/x"]}}"#)
            )
            .is_ok()
        );
    }

    #[test]
    fn what_a_container_reaches_into_is_named_for_checking() {
        let v = |j: &str| serde_json::from_str::<Value>(j).unwrap();
        let (c, vols) = references(&v(
            r#"{"HostConfig":{"NetworkMode":"container:prod-control-plane","PidMode":"container:a","IpcMode":"shareable","VolumesFrom":["b:ro","c"],"Binds":["data:/data","/work/x:/x"],"Mounts":[{"Type":"volume","Source":"etcd"},{"Type":"bind","Source":"/y"},{"Type":"volume","Source":""}]}}"#,
        ));
        assert_eq!(c, ["prod-control-plane", "a", "b", "c"]);
        assert_eq!(vols, ["data", "etcd"]);
        let (c, vols) = references(&v(r#"{"HostConfig":{"NetworkMode":"bridge"}}"#));
        assert!(c.is_empty() && vols.is_empty());
    }

    #[test]
    fn the_runs_label_is_added_beside_the_authors() {
        let mut spec = serde_json::json!({"Image": "web", "Labels": {"app": "web"}});
        label(&mut spec, "Labels", "r1");
        assert_eq!(spec["Labels"]["app"], "web");
        assert_eq!(spec["Labels"][RUN_LABEL], "r1");
        let mut bare = serde_json::json!({"Image": "web"});
        label(&mut bare, "Labels", "r1");
        assert_eq!(bare["Labels"][RUN_LABEL], "r1");
    }
}
