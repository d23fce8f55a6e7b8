//! The decisions about a command, one row per form: read-only, changes the cluster, how the
//! run stage treats it, creates the kind cluster, which containers `docker exec` targets.
//! Every row is read by the one parser ([`crate::syntax`]); the forms are those tutorials
//! write: wrappers, loops, substitutions, `cd … &&`, environment prefixes, redirections.

use super::*;

/// `(command, read_only, changes_cluster, kind, creates_cluster, docker exec targets)`.
type Row = (
    &'static str,
    bool,
    bool,
    Kind,
    bool,
    &'static [&'static str],
);

const P: Kind = Kind::Plain;
const W: Kind = Kind::Watch;
const B: Kind = Kind::Background;

const ROWS: &[Row] = &[
    // plain reads
    ("kubectl get pods -o wide", true, false, P, false, &[]),
    (
        "kubectl -n kube-system get pods",
        true,
        false,
        P,
        false,
        &[],
    ),
    ("kubectl describe svc web", true, false, P, false, &[]),
    (
        "cat /etc/resolv.conf | grep nameserver",
        true,
        false,
        P,
        false,
        &[],
    ),
    ("ip -n pod1 addr show", true, false, P, false, &[]),
    ("ip netns exec pod1 ip route", true, false, P, false, &[]),
    (
        "iptables -t nat -nvL KUBE-SERVICES",
        true,
        false,
        P,
        false,
        &[],
    ),
    ("curl -s localhost:8080/host", true, false, P, false, &[]),
    (
        "dig +short web.default.svc.cluster.local",
        true,
        false,
        P,
        false,
        &[],
    ),
    ("kubectl get pods 2>/dev/null", true, false, P, false, &[]),
    (
        "kubectl get pods > /dev/null 2>&1",
        true,
        false,
        P,
        false,
        &[],
    ),
    // writes, however they are wrapped
    ("kubectl apply -f web.yaml", false, true, P, false, &[]),
    ("oc delete pod web", false, true, P, false, &[]),
    ("helm install web ./chart", false, true, P, false, &[]),
    (
        "helm upgrade --install web ./chart",
        false,
        true,
        P,
        false,
        &[],
    ),
    ("helm list -A", false, false, P, false, &[]),
    ("env kubectl apply -f web.yaml", false, true, P, false, &[]),
    (
        "timeout 30 kubectl delete pod web",
        false,
        true,
        P,
        false,
        &[],
    ),
    (
        "sudo -E kubectl scale deploy web --replicas=3",
        false,
        true,
        P,
        false,
        &[],
    ),
    (
        "for p in a b; do kubectl delete pod $p; done",
        false,
        true,
        P,
        false,
        &[],
    ),
    ("echo $(kubectl delete pod web)", false, true, P, false, &[]),
    (
        "bash -c 'kubectl label pod web x=y'",
        false,
        true,
        P,
        false,
        &[],
    ),
    (
        "kubectl get pods -o name | xargs kubectl delete",
        false,
        true,
        P,
        false,
        &[],
    ),
    (
        "KUBECONFIG=$KUBECONFIG kubectl rollout restart deploy/web",
        false,
        true,
        P,
        false,
        &[],
    ),
    (
        "kubectl get pods && kubectl delete pod x",
        false,
        true,
        P,
        false,
        &[],
    ),
    (
        "if kubectl get ns x; then kubectl create ns y; fi",
        false,
        true,
        P,
        false,
        &[],
    ),
    ("env rm -rf x", false, false, P, false, &[]),
    ("timeout 5 rm -rf x", false, false, P, false, &[]),
    ("curl -XPOST localhost/data", false, false, P, false, &[]),
    (
        "curl --request=PUT localhost/data",
        false,
        false,
        P,
        false,
        &[],
    ),
    ("curl -dname=x localhost/data", false, false, P, false, &[]),
    (
        "curl --data-binary @f localhost/data",
        false,
        false,
        P,
        false,
        &[],
    ),
    ("echo hi > file", false, false, P, false, &[]),
    (
        "kubectl get pods 2> errors.txt",
        false,
        false,
        P,
        false,
        &[],
    ),
    (
        "for i in 1 2; do echo $i; done > out.txt",
        false,
        false,
        P,
        false,
        &[],
    ),
    ("{ date; hostname; } >> log", false, false, P, false, &[]),
    ("sh ./setup.sh", false, false, P, false, &[]),
    (
        "curl -s https://get.example.com | bash",
        false,
        false,
        P,
        false,
        &[],
    ),
    ("$TOOL get pods", false, false, P, false, &[]),
    ("echo 'unclosed", false, false, P, false, &[]),
    ("ip link set veth1 up", false, false, P, false, &[]),
    (
        "ip netns exec pod1 ip link set lo up",
        false,
        false,
        P,
        false,
        &[],
    ),
    // the kind cluster, however the step writes it
    ("kind create cluster", false, true, P, true, &[]),
    (
        "kind create cluster --name lab --config kind.yaml",
        false,
        true,
        P,
        true,
        &[],
    ),
    (
        "cd manifests && kind create cluster --config kind.yaml",
        false,
        true,
        P,
        true,
        &[],
    ),
    (
        "KIND_EXPERIMENTAL_PROVIDER=docker kind create cluster",
        false,
        true,
        P,
        true,
        &[],
    ),
    ("kind -q create cluster -n lab", false, true, P, true, &[]),
    (
        "kind --loglevel debug create cluster",
        false,
        true,
        P,
        true,
        &[],
    ),
    (
        "timeout 600 kind create cluster --wait 5m",
        false,
        true,
        P,
        true,
        &[],
    ),
    (
        "kind load docker-image web:0.1.0",
        false,
        true,
        P,
        false,
        &[],
    ),
    ("kind get clusters", false, false, P, false, &[]),
    ("kind delete cluster", false, false, P, false, &[]),
    // docker exec, wherever it sits
    (
        "docker exec -it kind-worker iptables -L | grep KUBE",
        true,
        false,
        P,
        false,
        &["kind-worker"],
    ),
    (
        "docker exec -e A=1 -w /tmp kind-control-plane ls",
        true,
        false,
        P,
        false,
        &["kind-control-plane"],
    ),
    (
        "docker container exec kind-worker ip a",
        true,
        false,
        P,
        false,
        &["kind-worker"],
    ),
    (
        "env docker exec kind-worker ip a",
        true,
        false,
        P,
        false,
        &["kind-worker"],
    ),
    (
        "timeout 5 docker exec kind-worker ip a",
        true,
        false,
        P,
        false,
        &["kind-worker"],
    ),
    (
        "for n in kind-worker kind-worker2; do docker exec $n ip r; done",
        true,
        false,
        P,
        false,
        &["$n"],
    ),
    (
        "echo $(docker exec kind-control-plane hostname)",
        true,
        false,
        P,
        false,
        &["kind-control-plane"],
    ),
    (
        "docker -H unix:///run/d.sock exec kind-worker true",
        true,
        false,
        P,
        false,
        &["kind-worker"],
    ),
    (
        "docker exec kind-worker rm -rf /tmp/x",
        false,
        false,
        P,
        false,
        &["kind-worker"],
    ),
    ("docker ps", true, false, P, false, &[]),
    ("docker run busybox", false, false, P, false, &[]),
    // what never ends by itself, and what bounds it
    ("kubectl get pods -w", false, false, W, false, &[]),
    ("ping 10.0.0.3", true, false, W, false, &[]),
    ("ping -c 3 10.0.0.3", true, false, P, false, &[]),
    ("sudo ping 10.0.0.3", true, false, W, false, &[]),
    (
        "ip netns exec pod1 ping 10.0.0.3",
        true,
        false,
        W,
        false,
        &[],
    ),
    (
        "docker exec kind-worker ping 10.244.1.4",
        true,
        false,
        W,
        false,
        &["kind-worker"],
    ),
    (
        "kubectl exec dnsutils -- ping 10.244.1.4",
        true,
        false,
        W,
        false,
        &[],
    ),
    (
        "kubectl exec dnsutils -- timeout 3 ping x",
        true,
        false,
        P,
        false,
        &[],
    ),
    ("timeout 5 ping 10.0.0.3", true, false, P, false, &[]),
    ("ping 10.0.0.3 | head -n 3", true, false, P, false, &[]),
    ("ping 10.0.0.3 | grep ttl", true, false, W, false, &[]),
    ("watch -n1 kubectl get pods", true, false, W, false, &[]),
    ("tail -f events.log", true, false, W, false, &[]),
    ("kubectl logs -f web", true, false, W, false, &[]),
    (
        "kubectl port-forward svc/web 8080:80",
        false,
        false,
        W,
        false,
        &[],
    ),
    // the background
    ("python3 -m http.server 8000 &", false, false, B, false, &[]),
    (
        "kubectl port-forward svc/web 8080:80 >/dev/null &",
        false,
        false,
        B,
        false,
        &[],
    ),
    ("true && false", true, false, P, false, &[]),
    ("echo 'a & b'", true, false, P, false, &[]),
];

#[test]
fn every_row_is_decided_as_written() {
    assert!(ROWS.len() >= 60);
    let mut wrong = Vec::new();
    for &(command, ro, changes, kind_, creates, targets) in ROWS {
        let got = (
            read_only(command),
            changes_cluster(command),
            kind(command),
            creates_cluster(command),
            docker_exec_targets(command),
        );
        let want = (
            ro,
            changes,
            kind_,
            creates,
            targets.iter().map(|t| t.to_string()).collect(),
        );
        if got != want {
            wrong.push(format!("{command}\n   got {got:?}\n  want {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} row(s) decided otherwise:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_cluster_a_create_step_names() {
    for (command, name) in [
        ("kind create cluster", None),
        ("kind create cluster --name lab", Some("lab")),
        ("kind create cluster --name=lab", Some("lab")),
        ("kind create cluster -n lab", Some("lab")),
        ("kind -q create cluster -qnlab", Some("lab")),
        ("KIND_CLUSTER_NAME=lab kind create cluster", Some("lab")),
        (
            "cd x && env KIND_CLUSTER_NAME=lab kind create cluster",
            Some("lab"),
        ),
        ("kind get clusters", None),
    ] {
        assert_eq!(created_cluster_name(command).as_deref(), name, "{command}");
    }
    assert!(deletes_cluster("kind delete cluster --name lab"));
    assert!(deletes_cluster("cd / && kind -q delete cluster"));
    assert!(!deletes_cluster("kind delete clusters lab"));
}
