//! The settle driver (`settle::wait`: kube-rs watchers, reflector stores, the deadline, the
//! events of what did not settle) against an API server of the test's own: a small HTTP
//! server on 127.0.0.1 that answers the list requests with one of the cluster states in
//! tests/fixtures/settle/ and holds watch requests open, sending MODIFIED events where a test
//! asks for a cluster that becomes ready. No cluster runs here;
//! this is the Kubernetes API's list-then-watch protocol as kube-rs speaks it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use labrun::execute::kind::settle;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// `kind: List` fixture → the list the API serves for one resource path.
fn list_for(fixture: &serde_json::Value, path: &str) -> serde_json::Value {
    let (kind, api_version) = match path.rsplit('/').next().unwrap_or("") {
        "nodes" => ("Node", "v1"),
        "pods" => ("Pod", "v1"),
        "services" => ("Service", "v1"),
        "events" => ("Event", "v1"),
        "deployments" => ("Deployment", "apps/v1"),
        "statefulsets" => ("StatefulSet", "apps/v1"),
        "daemonsets" => ("DaemonSet", "apps/v1"),
        "endpointslices" => ("EndpointSlice", "discovery.k8s.io/v1"),
        other => panic!("unexpected resource {other}"),
    };
    let items: Vec<serde_json::Value> = if kind == "Event" {
        vec![serde_json::json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "app-5586fc9d77-6dcg2.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "app-5586fc9d77-6dcg2", "namespace": "default"},
            "reason": "Pulling", "type": "Normal",
            "message": "Pulling image \"labrun/web-server:0.1.0\"",
            "lastTimestamp": "2026-11-27T10:01:00Z"
        })]
    } else {
        fixture["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == kind)
            .cloned()
            .collect()
    };
    serde_json::json!({
        "apiVersion": api_version,
        "kind": format!("{kind}List"),
        "metadata": {"resourceVersion": "100"},
        "items": items,
    })
}

/// What a watch on `path` reports after a moment when the cluster goes from the `pending`
/// fixture to ready: the pod becomes Ready, the Deployment counts it, its EndpointSlice lists it.
fn changes_for(fixture: &serde_json::Value, path: &str) -> Vec<serde_json::Value> {
    let item = |kind: &str| {
        fixture["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let modified = |o: serde_json::Value| serde_json::json!({"type": "MODIFIED", "object": o});
    match path.rsplit('/').next().unwrap_or("") {
        "pods" => item("Pod")
            .into_iter()
            .filter(|p| p["status"]["phase"] == "Pending")
            .map(|mut p| {
                p["metadata"]["resourceVersion"] = "101".into();
                p["status"] = serde_json::json!({
                    "phase": "Running", "podIP": "10.244.2.9",
                    "conditions": [{"type": "Ready", "status": "True"}]
                });
                modified(p)
            })
            .collect(),
        "deployments" => item("Deployment")
            .into_iter()
            .map(|mut d| {
                d["metadata"]["resourceVersion"] = "102".into();
                d["status"]["readyReplicas"] = 2.into();
                d["status"]["availableReplicas"] = 2.into();
                modified(d)
            })
            .collect(),
        "endpointslices" => item("EndpointSlice")
            .into_iter()
            .map(|mut e| {
                e["metadata"]["resourceVersion"] = "103".into();
                let mut more = e["endpoints"][0].clone();
                more["addresses"] = serde_json::json!(["10.244.2.9"]);
                e["endpoints"].as_array_mut().unwrap().push(more);
                modified(e)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Serve `fixture` until the test ends; returns the server's URL and the paths requested.
/// With `then_ready: Some(n)`, watches report the changes of [`changes_for`] half a second in,
/// after `n` seconds of progress: once a second, the pending pod's status is touched (a new
/// resource version, still Pending), as while an image is pulled.
async fn serve(fixture: &str) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    serve_with(fixture, None, false).await
}

/// With `late_statefulset`, the StatefulSet list answers a second late and holds one
/// StatefulSet none of whose pods is ready.
async fn serve_with(
    fixture: &str,
    then_ready: Option<u32>,
    late_statefulset: bool,
) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let text = std::fs::read_to_string(format!("tests/fixtures/settle/{fixture}.json")).unwrap();
    let fixture: Arc<serde_json::Value> = Arc::new(serde_json::from_str(&text).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let fixture = fixture.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut reader = BufReader::new(read);
                let mut request = String::new();
                if reader.read_line(&mut request).await.is_err() {
                    return;
                }
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let target = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                log.lock().unwrap().push(target.clone());
                if query
                    .split('&')
                    .any(|q| q == "watch=true" || q == "watch=1")
                {
                    // a watch: headers, the changes if any, then silence until the test ends
                    let _ = write
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                        .await;
                    if let Some(progress) = then_ready {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        for i in 0..progress {
                            if path.ends_with("/pods") {
                                for mut pod in fixture["items"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .filter(|p| {
                                        p["kind"] == "Pod" && p["status"]["phase"] == "Pending"
                                    })
                                    .cloned()
                                {
                                    pod["metadata"]["resourceVersion"] =
                                        (90 + i).to_string().into();
                                    let event =
                                        serde_json::json!({"type": "MODIFIED", "object": pod});
                                    let line = format!("{event}\n");
                                    let chunk = format!("{:x}\r\n{line}\r\n", line.len());
                                    let _ = write.write_all(chunk.as_bytes()).await;
                                }
                                let _ = write.flush().await;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        for event in changes_for(&fixture, path) {
                            let line = format!("{event}\n");
                            let chunk = format!("{:x}\r\n{line}\r\n", line.len());
                            let _ = write.write_all(chunk.as_bytes()).await;
                        }
                        let _ = write.flush().await;
                    }
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    return;
                }
                let mut list = list_for(&fixture, path);
                if late_statefulset && path.ends_with("/statefulsets") {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    list["items"] = serde_json::json!([{
                        "apiVersion": "apps/v1", "kind": "StatefulSet",
                        "metadata": {"name": "postgres", "namespace": "default", "generation": 1, "resourceVersion": "7", "uid": "s-1"},
                        "spec": {"replicas": 1, "serviceName": "postgres", "selector": {"matchLabels": {"app": "postgres"}},
                                 "template": {"metadata": {"labels": {"app": "postgres"}}, "spec": {"containers": [{"name": "postgres", "image": "postgres"}]}}},
                        "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 0}
                    }]);
                }
                let body = list.to_string();
                let _ = write
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    (url, seen)
}

fn client(url: &str) -> kube::Client {
    let config = kube::Config::new(url.parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

fn default_ns() -> BTreeSet<String> {
    BTreeSet::from(["default".to_string()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_cluster_settles_at_once() {
    let (url, seen) = serve("rolled-out").await;
    let started = Instant::now();
    let r = settle::wait(&client(&url), &default_ns(), Duration::from_secs(20)).await;
    assert_eq!(r, Ok(()));
    assert!(started.elapsed() < Duration::from_secs(20));
    let seen = seen.lock().unwrap().clone();
    for path in [
        "/api/v1/nodes",
        "/apis/apps/v1/namespaces/default/deployments",
        "/api/v1/namespaces/default/pods",
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
    ] {
        assert!(
            seen.iter().any(|p| p.starts_with(path)),
            "{path} never listed: {seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_does_not_settle_fails_with_what_and_its_events() {
    let (url, _) = serve("pending").await;
    let err = settle::wait(&client(&url), &default_ns(), Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        err.starts_with("the cluster did not settle: nothing changed for 2s"),
        "{err}"
    );
    assert!(
        err.contains("pod/default/app-5586fc9d77-6dcg2: ContainerCreating"),
        "{err}"
    );
    assert!(err.contains("deployment/default/app: rolling out"), "{err}");
    assert!(
        err.contains("Normal Pulling: Pulling image \"labrun/web-server:0.1.0\""),
        "the object's latest events: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_events_settle_a_pending_cluster() {
    // Listed, the cluster is pending and would never settle; the watches' MODIFIED events
    // (pod Ready, Deployment counting it, EndpointSlice listing it) are what settle it.
    let (url, _) = serve_with("pending", Some(0), false).await;
    let r = settle::wait(&client(&url), &default_ns(), Duration::from_secs(20)).await;
    assert_eq!(r, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_never_answers_is_bounded() {
    // a port where nothing listens
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = settle::wait(
        &client(&format!("http://127.0.0.1:{port}")),
        &default_ns(),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert!(err.contains("did not answer the watches in time"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_runs_from_the_last_progress() {
    // Four seconds of progress (a pod's status touched each second, as an image is pulled),
    // then ready: with a two-second bound from the step's end this would have failed; from
    // the last progress, it settles.
    let (url, _) = serve_with("pending", Some(4), false).await;
    let r = settle::wait(&client(&url), &default_ns(), Duration::from_secs(2)).await;
    assert_eq!(r, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_is_synced_before_anything_is_judged() {
    // Everything else is quiet at once; the StatefulSet list answers late, with a StatefulSet
    // that is not ready. Judged before that store had its list, the cluster would look quiet.
    let (url, _) = serve_with("rolled-out", None, true).await;
    let err = settle::wait(&client(&url), &default_ns(), Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(
        err.contains("statefulset/default/postgres: rolling out: 0/1 ready"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_past_its_progress_deadline_fails_at_once() {
    let (url, _) = serve("deadline-exceeded").await;
    let started = Instant::now();
    let err = settle::wait(&client(&url), &default_ns(), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(err.starts_with("the cluster will not settle:"), "{err}");
    assert!(
        err.contains("deployment/default/app: progress deadline exceeded: ReplicaSet \"app-6b8f7d5c4\" has timed out progressing."),
        "{err}"
    );
    // not after waiting out the bound
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// What a retry asks between tries: is the cluster still changing? One list of each kind,
/// judged as settle judges it; an API that does not answer is not quiet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_asks_whether_the_cluster_is_quiet_now() {
    let (url, _) = serve("rolled-out").await;
    assert!(settle::quiet_now(&client(&url)).await);
    for state in ["pending", "rolling-out", "endpoints-lagging", "terminating"] {
        let (url, _) = serve(state).await;
        assert!(!settle::quiet_now(&client(&url)).await, "{state}");
    }
    // nothing listens there
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", gone.local_addr().unwrap());
    drop(gone);
    assert!(!settle::quiet_now(&client(&url)).await);
}
