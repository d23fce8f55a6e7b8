//! The settle conditions on Kubernetes API objects, one fixture per cluster state (see
//! tests/fixtures/settle/README.md for where the fixtures come from).

use std::collections::BTreeSet;

use labrun::execute::kind::settle::{Cluster, NotReady, namespaces, unsettled};

fn load(state: &str) -> Cluster {
    let text = std::fs::read_to_string(format!("tests/fixtures/settle/{state}.json")).unwrap();
    cluster_of(&serde_json::from_str(&text).unwrap())
}

/// The objects of a `kind: List`, parsed with k8s-openapi's types.
fn cluster_of(list: &serde_json::Value) -> Cluster {
    let mut c = Cluster::default();
    for item in list["items"].as_array().unwrap() {
        let v = item.clone();
        match item["kind"].as_str().unwrap() {
            "Node" => c.nodes.push(serde_json::from_value(v).unwrap()),
            "Deployment" => c.deployments.push(serde_json::from_value(v).unwrap()),
            "StatefulSet" => c.statefulsets.push(serde_json::from_value(v).unwrap()),
            "DaemonSet" => c.daemonsets.push(serde_json::from_value(v).unwrap()),
            "Pod" => c.pods.push(serde_json::from_value(v).unwrap()),
            "Service" => c.services.push(serde_json::from_value(v).unwrap()),
            "EndpointSlice" => c.slices.push(serde_json::from_value(v).unwrap()),
            other => panic!("unexpected kind {other}"),
        }
    }
    c
}

fn default_ns() -> BTreeSet<String> {
    BTreeSet::from(["default".to_string()])
}

fn whys(v: &[NotReady]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

#[test]
fn a_rolled_out_cluster_is_quiet() {
    assert_eq!(unsettled(&load("rolled-out"), &default_ns()), []);
}

#[test]
fn a_rolling_deployment_is_not() {
    let w = whys(&unsettled(&load("rolling-out"), &default_ns()));
    assert!(
        w.contains(
            &"deployment/default/app: rolling out: 1/2 updated, 2/2 ready, 3 total".to_string()
        ),
        "{w:?}"
    );
}

#[test]
fn a_generation_the_controller_has_not_seen_is_not() {
    let w = whys(&unsettled(&load("generation-not-observed"), &default_ns()));
    assert_eq!(
        w,
        ["deployment/default/app: new generation not yet observed"]
    );
}

#[test]
fn a_pending_pod_says_why() {
    let w = whys(&unsettled(&load("pending"), &default_ns()));
    assert!(
        w.contains(&"pod/default/app-5586fc9d77-6dcg2: ContainerCreating".to_string()),
        "{w:?}"
    );
}

#[test]
fn a_terminating_pod_is_not_quiet() {
    let w = whys(&unsettled(&load("terminating"), &default_ns()));
    // the endpoints already left it out: only the pod itself holds the cluster
    assert_eq!(w, ["pod/default/app-5586fc9d77-qpxwk: Terminating"]);
}

#[test]
fn endpoints_that_lag_the_ready_pods_are_named() {
    let w = whys(&unsettled(&load("endpoints-lagging"), &default_ns()));
    assert_eq!(
        w,
        [
            "service/default/clusterip-service: endpoints lag the ready pods (missing [\"10.244.2.7\"], stale [\"10.244.3.9\"])"
        ]
    );
}

#[test]
fn a_node_not_ready_holds_everything() {
    let w = whys(&unsettled(&load("node-not-ready"), &default_ns()));
    assert_eq!(w, ["node/kind-worker: not Ready"]);
}

#[test]
fn other_namespaces_are_out_of_scope() {
    let only_kube_system = BTreeSet::from(["kube-system".to_string()]);
    assert_eq!(unsettled(&load("pending"), &only_kube_system), []);
}

#[test]
fn the_namespaces_a_command_touches() {
    let manifests = std::path::Path::new("manifests");
    let ns = |c: &str| namespaces(c, "", manifests);
    assert_eq!(ns("kubectl apply -f web.yaml"), default_ns());
    assert_eq!(
        ns("kubectl -n metallb-system apply -f metallb-pool.yaml"),
        BTreeSet::from(["metallb-system".to_string()])
    );
    assert_eq!(
        ns("kubectl delete pods --namespace=ingress-nginx --all"),
        BTreeSet::from(["ingress-nginx".to_string()])
    );
    assert!(ns("kubectl get pods -A").is_empty(), "all namespaces");
}

/// The rolled-out cluster with `change` applied to its JSON first: each test below says what
/// it changed.
fn derived(change: impl FnOnce(&mut serde_json::Value)) -> Cluster {
    let text = std::fs::read_to_string("tests/fixtures/settle/rolled-out.json").unwrap();
    let mut list: serde_json::Value = serde_json::from_str(&text).unwrap();
    change(&mut list);
    cluster_of(&list)
}

fn items_of<'a>(list: &'a mut serde_json::Value, kind: &str) -> Vec<&'a mut serde_json::Value> {
    list["items"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .filter(|i| i["kind"] == kind)
        .collect()
}

#[test]
fn a_deployment_past_its_progress_deadline_has_failed() {
    let u: Vec<NotReady> = unsettled(&load("deadline-exceeded"), &default_ns())
        .into_iter()
        .filter(|n| n.kind == "deployment")
        .collect();
    assert_eq!(u.len(), 1);
    assert!(u[0].failed);
    assert!(
        u[0].why.starts_with("progress deadline exceeded: "),
        "{}",
        u[0]
    );
    // rolling out, but not past the deadline: a wait, not a failure
    assert!(
        unsettled(&load("rolling-out"), &default_ns())
            .iter()
            .all(|n| !n.failed)
    );
}

/// A StatefulSet of three whose update reached `updated` pods, all ready, with `strategy`.
fn statefulset(strategy: serde_json::Value, updated: i64) -> Cluster {
    derived(|list| {
        list["items"].as_array_mut().unwrap().push(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "postgres", "namespace": "default", "generation": 2},
            "spec": {"replicas": 3, "serviceName": "postgres", "updateStrategy": strategy,
                     "selector": {"matchLabels": {"app": "postgres"}},
                     "template": {"metadata": {"labels": {"app": "postgres"}},
                                  "spec": {"containers": [{"name": "postgres", "image": "postgres"}]}}},
            "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3,
                       "updatedReplicas": updated, "currentRevision": "postgres-1",
                       "updateRevision": "postgres-2"}
        }));
    })
}

#[test]
fn statefulsets_are_judged_as_kubectl_rollout_status_judges_them() {
    let rolling = serde_json::json!({"type": "RollingUpdate"});
    let w = whys(&unsettled(&statefulset(rolling, 1), &default_ns()));
    assert_eq!(
        w,
        ["statefulset/default/postgres: rolling out: revision not current"]
    );
    // a partition of 2: only the one pod above it is updated, and it is
    let part =
        |p: i64| serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"partition": p}});
    assert_eq!(unsettled(&statefulset(part(2), 1), &default_ns()), []);
    let w = whys(&unsettled(&statefulset(part(1), 1), &default_ns()));
    assert_eq!(
        w,
        [
            "statefulset/default/postgres: rolling out: partitioned roll out: 1 of 2 new pods updated"
        ]
    );
    // OnDelete: pods are replaced when deleted; all ready is all there is to wait for
    let on_delete = serde_json::json!({"type": "OnDelete"});
    assert_eq!(unsettled(&statefulset(on_delete, 0), &default_ns()), []);
}

#[test]
fn publish_not_ready_addresses_expects_every_pod_in_the_endpoints() {
    // one pod not ready; the slice lists only the ready one
    let state = |publish: bool| {
        derived(|list| {
            items_of(list, "Pod")[1]["status"]["conditions"][0]["status"] = "False".into();
            let ip = items_of(list, "Pod")[1]["status"]["podIP"].clone();
            for s in items_of(list, "EndpointSlice") {
                s["endpoints"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|e| e["addresses"][0] != ip);
            }
            items_of(list, "Service")[0]["spec"]["publishNotReadyAddresses"] = publish.into();
        })
    };
    assert_eq!(unsettled(&state(false), &default_ns()), []);
    let w = whys(&unsettled(&state(true), &default_ns()));
    assert_eq!(w.len(), 1);
    assert!(
        w[0].contains("endpoints lag the ready pods (missing [\"10.244."),
        "{w:?}"
    );
}

#[test]
fn dual_stack_services_are_judged_family_by_family() {
    // every pod gets an IPv6 address too; the Service asks for both families or only IPv4
    let state = |families: &[&str], v6_slice: bool| {
        let families: Vec<String> = families.iter().map(|f| f.to_string()).collect();
        derived(move |list| {
            let mut v6 = Vec::new();
            for (i, p) in items_of(list, "Pod").into_iter().enumerate() {
                let v4 = p["status"]["podIP"].as_str().unwrap().to_string();
                let six = format!("fd00:10:244::{}", i + 5);
                p["status"]["podIPs"] = serde_json::json!([{"ip": v4}, {"ip": six}]);
                v6.push(six);
            }
            items_of(list, "Service")[0]["spec"]["ipFamilies"] = serde_json::json!(families);
            if v6_slice {
                let mut slice = items_of(list, "EndpointSlice")[0].clone();
                slice["metadata"]["name"] = "clusterip-service-v6".into();
                slice["addressType"] = "IPv6".into();
                let template = slice["endpoints"][0].clone();
                slice["endpoints"] = v6
                    .iter()
                    .map(|a| {
                        let mut e = template.clone();
                        e["addresses"] = serde_json::json!([a]);
                        e
                    })
                    .collect();
                list["items"].as_array_mut().unwrap().push(slice);
            }
        })
    };
    assert_eq!(
        unsettled(&state(&["IPv4", "IPv6"], true), &default_ns()),
        []
    );
    let w = whys(&unsettled(&state(&["IPv4", "IPv6"], false), &default_ns()));
    assert!(
        w.len() == 1 && w[0].contains("missing [\"fd00:10:244::"),
        "{w:?}"
    );
    // a single-stack Service does not wait for the pods' other family
    assert_eq!(unsettled(&state(&["IPv4"], false), &default_ns()), []);
}

#[test]
fn the_namespaces_a_step_touched_come_from_its_files_and_what_kubectl_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pool.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: metallb-system\n---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: kind\n  namespace: metallb-system\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loose\n",
    )
    .unwrap();
    let ns = |c: &str, printed: &str| namespaces(c, printed, dir.path());
    let set = |v: &[&str]| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<String>>()
    };
    assert_eq!(
        ns("kubectl apply -f pool.yaml", ""),
        set(&["default", "metallb-system"])
    );
    assert_eq!(
        ns("kubectl apply -n web -f pool.yaml", ""),
        set(&["metallb-system", "web"])
    );
    assert_eq!(ns("kubectl create namespace web", ""), set(&["web"]));
    assert_eq!(
        ns(
            "kubectl apply -f https://example.com/deploy.yaml",
            "namespace/ingress-nginx created\n"
        ),
        BTreeSet::new(),
        "a file that cannot be read: all namespaces"
    );
    assert_eq!(
        ns("cat pool.yaml | kubectl apply -f -", ""),
        BTreeSet::new(),
        "standard input: all namespaces"
    );
    assert_eq!(ns("kubectl apply -f missing.yaml", ""), BTreeSet::new());
    assert_eq!(
        ns("for f in a b; do kubectl apply -f $f; done", ""),
        BTreeSet::new()
    );
    assert_eq!(
        ns(
            "kubectl label pod x app=nope",
            "namespace/linkerd configured\n"
        ),
        set(&["linkerd"])
    );
    assert_eq!(
        ns(
            "helm install web ./chart --namespace web --create-namespace",
            ""
        ),
        set(&["web"])
    );
}
