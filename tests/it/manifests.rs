//! The lab's manifests deserialize into the Kubernetes API types and carry the facts the lab's
//! printed outputs rely on.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use serde::Deserialize;

fn documents(name: &str) -> Vec<serde_norway::Value> {
    let text = std::fs::read_to_string(format!("manifests/{name}")).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| serde_norway::Value::deserialize(d).unwrap())
        .collect()
}

fn one<T: serde::de::DeserializeOwned>(name: &str, kind: &str) -> T {
    let doc = documents(name)
        .into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("{name} has no {kind}"));
    serde_norway::from_value(doc).unwrap()
}

fn service(name: &str) -> Service {
    one(name, "Service")
}

#[test]
fn dnsutils_is_a_sleeping_pod_from_the_labs_own_image_never_pulled() {
    let pod: Pod = one("dnsutils.yaml", "Pod");
    assert_eq!(pod.metadata.name.as_deref(), Some("dnsutils"));
    assert_eq!(pod.metadata.namespace.as_deref(), Some("default"));
    let c = &pod.spec.unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("labrun/dnsutils:0.1.0"));
    assert_eq!(c.image_pull_policy.as_deref(), Some("Never"));
    assert_eq!(c.command.as_ref().unwrap()[0], "sleep");
    // the lab builds it and loads it into the nodes before it creates the pod
    let lab = std::fs::read_to_string("book/src/kubernetes-networking-abstractions.adoc").unwrap();
    let load = lab
        .find("kind load docker-image labrun/dnsutils:0.1.0")
        .unwrap();
    let apply = lab.find("kubectl apply -f dnsutils.yaml").unwrap();
    assert!(load < apply);
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
        let (tag, digest) = image.split_once("@sha256:").expect("pinned by digest");
        assert!(tag.starts_with("kindest/node:v"), "{image}");
        assert!(
            digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "{image}"
        );
    }
}

#[test]
fn every_file_the_lab_applies_exists() {
    let lab = std::fs::read_to_string("book/src/kubernetes-networking-abstractions.adoc").unwrap();
    let mut named = Vec::new();
    for line in lab.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !matches!(words.first(), Some(&"kubectl") | Some(&"kind")) {
            continue; // `-f` means a file to kubectl; to docker it is a format
        }
        for (i, w) in words.iter().enumerate() {
            let file = match (*w, words.get(i + 1)) {
                ("-f", Some(f)) => *f,
                (w, _) if w.starts_with("--config=") => &w["--config=".len()..],
                _ => continue,
            };
            if file == "-" || file.starts_with("https://") {
                continue; // standard input, or a pinned upstream manifest
            }
            assert!(
                std::path::Path::new("manifests").join(file).is_file(),
                "the lab applies {file}, which manifests/ does not have"
            );
            named.push(file.to_string());
        }
    }
    for f in [
        "kind-ingress.yaml",
        "web.yaml",
        "metallb-pool.yaml",
        "service-loadbalancer.yaml",
        "ingress.yaml",
    ] {
        assert!(named.iter().any(|n| n == f), "{f} is never applied");
    }
}

#[test]
fn upstream_manifests_are_pinned_to_a_version() {
    let lab = std::fs::read_to_string("book/src/kubernetes-networking-abstractions.adoc").unwrap();
    let urls: Vec<&str> = lab
        .split_whitespace()
        .filter(|w| w.starts_with("https://") && w.ends_with(".yaml"))
        .collect();
    assert!(urls.len() >= 3, "{urls:?}");
    let version = regex::Regex::new(r"/v\d+\.\d+\.\d+/|/controller-v\d+\.\d+\.\d+/").unwrap();
    for u in urls {
        assert!(version.is_match(u), "not pinned: {u}");
    }
    for pin in ["LINKERD2_VERSION=edge-", "ISTIO_VERSION=1."] {
        assert!(lab.contains(pin), "{pin}");
    }
}

#[test]
fn loadbalancer_service_selects_the_app() {
    let svc = service("service-loadbalancer.yaml");
    let spec = svc.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(spec.selector.unwrap()["app"], "app");
    let port = &spec.ports.unwrap()[0];
    assert_eq!(port.port, 80);
    assert_eq!(
        port.target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8080))
    );
}

#[test]
fn ingress_routes_two_paths_to_the_clusterip_service() {
    use k8s_openapi::api::networking::v1::Ingress;
    let ing: Ingress = one("ingress.yaml", "Ingress");
    let spec = ing.spec.unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let rules = spec.rules.unwrap();
    let paths = &rules[0].http.as_ref().unwrap().paths;
    let routed: Vec<(&str, &str, i32)> = paths
        .iter()
        .map(|p| {
            let svc = p.backend.service.as_ref().unwrap();
            (
                p.path.as_deref().unwrap(),
                svc.name.as_str(),
                svc.port.as_ref().unwrap().number.unwrap(),
            )
        })
        .collect();
    assert_eq!(
        routed,
        [
            ("/host", "clusterip-service", 80),
            ("/data", "clusterip-service", 80)
        ]
    );
    // the backend Service exists, on that port
    let target = service("service-clusterip.yaml");
    assert_eq!(target.metadata.name.as_deref(), Some("clusterip-service"));
    assert_eq!(target.spec.unwrap().ports.unwrap()[0].port, 80);
}

/// MetalLB's CRDs are not in k8s-openapi; these types hold the fields MetalLB v0.14 documents
/// for the two kinds the lab uses, and refuse any other.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Crd<S> {
    api_version: String,
    kind: String,
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    spec: S,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PoolSpec {
    addresses: Vec<String>,
    #[serde(default)]
    auto_assign: Option<bool>,
    #[serde(default, rename = "avoidBuggyIPs")]
    avoid_buggy_ips: Option<bool>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct L2Spec {
    #[serde(default)]
    ip_address_pools: Vec<String>,
    #[serde(default)]
    node_selectors: Option<serde_norway::Value>,
    #[serde(default)]
    interfaces: Option<Vec<String>>,
}

#[test]
fn metallb_pool_lies_in_the_kind_network_and_is_advertised() {
    let pool: Crd<PoolSpec> = serde_norway::from_value(
        documents("metallb-pool.yaml")
            .into_iter()
            .find(|d| d["kind"] == "IPAddressPool")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(pool.api_version, "metallb.io/v1beta1");
    assert_eq!(pool.kind, "IPAddressPool");
    assert_eq!(pool.metadata.namespace.as_deref(), Some("metallb-system"));
    let _ = (pool.spec.auto_assign, pool.spec.avoid_buggy_ips);
    for range in &pool.spec.addresses {
        let (a, b) = range.split_once('-').expect("a range a-b");
        let (a, b): (std::net::Ipv4Addr, std::net::Ipv4Addr) =
            (a.parse().unwrap(), b.parse().unwrap());
        assert!(u32::from(a) <= u32::from(b), "{range}");
        for ip in [a, b] {
            assert_eq!(
                ip.octets()[..2],
                [172, 18],
                "{ip} outside kind's 172.18.0.0/16"
            );
        }
    }
    let l2: Crd<L2Spec> = serde_norway::from_value(
        documents("metallb-pool.yaml")
            .into_iter()
            .find(|d| d["kind"] == "L2Advertisement")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(l2.api_version, "metallb.io/v1beta1");
    assert_eq!(l2.kind, "L2Advertisement");
    let _ = (&l2.spec.node_selectors, &l2.spec.interfaces);
    assert_eq!(
        l2.spec.ip_address_pools,
        [pool.metadata.name.clone().unwrap()]
    );
}
