//! The settle conditions on Kubernetes API objects, one fixture per cluster state (see
//! tests/fixtures/settle/README.md for where the fixtures come from).

use std::collections::BTreeSet;

use labrun::execute::kind::settle::{Cluster, NotReady, namespaces, unsettled};

fn load(state: &str) -> Cluster {
    let text = std::fs::read_to_string(format!("tests/fixtures/settle/{state}.json")).unwrap();
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
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
    assert_eq!(namespaces("kubectl apply -f web.yaml"), default_ns());
    assert_eq!(
        namespaces("kubectl -n metallb-system apply -f metallb-pool.yaml"),
        BTreeSet::from(["metallb-system".to_string()])
    );
    assert_eq!(
        namespaces("kubectl delete pods --namespace=ingress-nginx --all"),
        BTreeSet::from(["ingress-nginx".to_string()])
    );
    assert!(
        namespaces("kubectl get pods -A").is_empty(),
        "all namespaces"
    );
}
