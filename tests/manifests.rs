//! The lab's manifests deserialize into the Kubernetes API types and carry the facts the lab's
//! printed outputs rely on.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use serde::Deserialize;

fn documents(name: &str) -> Vec<serde_yaml::Value> {
    let text = std::fs::read_to_string(format!("manifests/{name}")).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_yaml::Value::deserialize(d).unwrap())
        .collect()
}

fn one<T: serde::de::DeserializeOwned>(name: &str, kind: &str) -> T {
    let doc = documents(name)
        .into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("{name} has no {kind}"));
    serde_yaml::from_value(doc).unwrap()
}

fn service(name: &str) -> Service {
    one(name, "Service")
}

#[test]
fn dnsutils_is_a_sleeping_pod_from_a_maintained_image() {
    let pod: Pod = one("dnsutils.yaml", "Pod");
    assert_eq!(pod.metadata.name.as_deref(), Some("dnsutils"));
    assert_eq!(pod.metadata.namespace.as_deref(), Some("default"));
    let c = &pod.spec.unwrap().containers[0];
    assert!(
        c.image
            .as_deref()
            .unwrap()
            .contains("e2e-test-images/jessie-dnsutils")
    );
    assert_eq!(c.command.as_ref().unwrap()[0], "sleep");
}

#[test]
fn database_service_configmap_and_statefulset() {
    let svc = service("database.yaml");
    assert_eq!(svc.metadata.name.as_deref(), Some("postgres"));
    assert_eq!(
        svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].port,
        5432
    );
    let cm: ConfigMap = one("database.yaml", "ConfigMap");
    assert_eq!(cm.metadata.name.as_deref(), Some("postgres-config"));
    let data = cm.data.unwrap();
    for key in ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"] {
        assert!(data.contains_key(key), "{key}");
    }
    let sts: StatefulSet = one("database.yaml", "StatefulSet");
    assert_eq!(sts.metadata.name.as_deref(), Some("postgres"));
    let spec = sts.spec;
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(spec.service_name.as_deref(), Some("postgres"));
    assert_eq!(spec.volume_claim_templates.map(|v| v.len()), Some(1));
    // Three documents, in the order `kubectl apply` reports them in the lab.
    let kinds: Vec<_> = documents("database.yaml")
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["Service", "ConfigMap", "StatefulSet"]);
}

#[test]
fn web_deployment_learns_node_and_ip_from_the_downward_api() {
    let d: Deployment = one("web.yaml", "Deployment");
    assert_eq!(d.metadata.name.as_deref(), Some("app"));
    let spec = d.spec;
    assert_eq!(spec.replicas, Some(1));
    let labels = spec.selector.match_labels.unwrap();
    assert_eq!(labels.get("app").map(String::as_str), Some("app"));
    let pod = spec.template.spec.unwrap();
    let c = &pod.containers[0];
    assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 8080);
    assert!(c.readiness_probe.is_some() && c.liveness_probe.is_some());
    let fields: Vec<_> = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .filter_map(|e| {
            e.value_from
                .as_ref()?
                .field_ref
                .as_ref()
                .map(|f| f.field_path.clone())
        })
        .collect();
    assert!(fields.contains(&"spec.nodeName".to_string()));
    assert!(fields.contains(&"status.podIP".to_string()));
}

#[test]
fn the_four_services_as_the_lab_describes_them() {
    let np = service("services-nodeport.yaml").spec.unwrap();
    assert_eq!(np.type_.as_deref(), Some("NodePort"));
    let p = &np.ports.unwrap()[0];
    assert_eq!(
        (p.name.as_deref(), p.port, p.node_port),
        (Some("echo"), 8080, Some(30040))
    );

    let cip = service("service-clusterip.yaml");
    assert_eq!(cip.metadata.name.as_deref(), Some("clusterip-service"));
    assert_eq!(
        cip.metadata.labels.unwrap().get("app").map(String::as_str),
        Some("app")
    );
    let spec = cip.spec.unwrap();
    let p = &spec.ports.unwrap()[0];
    assert_eq!(p.port, 80);
    assert_eq!(
        p.target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8080))
    );

    let hl = service("service-headless.yml");
    assert_eq!(hl.metadata.name.as_deref(), Some("headless-service"));
    assert_eq!(hl.spec.unwrap().cluster_ip.as_deref(), Some("None"));

    let ext = service("service-external.yml");
    assert_eq!(ext.metadata.name.as_deref(), Some("external-service"));
    let spec = ext.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ExternalName"));
    assert_eq!(spec.external_name.as_deref(), Some("github.com"));
}

#[test]
fn kind_config_has_an_ingress_ready_control_plane_and_three_workers() {
    let cfg = &documents("kind-ingress.yaml")[0];
    assert_eq!(cfg["kind"], "Cluster");
    assert_eq!(cfg["apiVersion"], "kind.x-k8s.io/v1alpha4");
    let nodes = cfg["nodes"].as_sequence().unwrap();
    let roles: Vec<_> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["control-plane", "worker", "worker", "worker"]);
    let cp = &nodes[0];
    let patch = cp["kubeadmConfigPatches"][0].as_str().unwrap();
    assert!(patch.contains("node-labels: \"ingress-ready=true\""));
    let ports: Vec<_> = cp["extraPortMappings"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["containerPort"].as_u64().unwrap(),
                m["hostPort"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ports, [(80, 80), (443, 443)]);
    for n in nodes {
        let image = n["image"].as_str().unwrap();
        assert!(
            image.starts_with("kindest/node:v"),
            "pinned node image: {image}"
        );
    }
}

#[test]
fn every_file_the_lab_applies_exists() {
    let lab = std::fs::read_to_string("book/src/kubernetes-networking-abstractions.adoc").unwrap();
    let mut named = 0;
    for word in lab.split_whitespace() {
        let file = word.strip_prefix("--config=").unwrap_or(word);
        if file.ends_with(".yaml") || file.ends_with(".yml") {
            named += 1;
            assert!(
                std::path::Path::new("manifests").join(file).exists(),
                "manifests/{file}"
            );
        }
    }
    assert!(named >= 8);
}
