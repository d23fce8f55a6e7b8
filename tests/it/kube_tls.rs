//! labrun's Kubernetes client with the credentials kind writes: a kubeconfig holding a CA
//! (`certificate-authority-data`), a client certificate and key it signed
//! (`client-certificate-data`, `client-key-data`), and an IP address as the server's host.
//! The API server here is the test's own: TLS with a certificate for 127.0.0.1 signed by that
//! CA, and it accepts only clients whose certificate that CA signed. It answers `/version`.

use crate::common;

use std::path::Path;

use base64::Engine as _;
use common::tls::{Ca, api_server};

/// A kubeconfig as kind writes it: the CA, and a client certificate and key that `client_ca`
/// signed.
fn kubeconfig(path: &Path, port: u16, ca: &Ca, client_ca: &Ca) {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (cert, key) = client_ca.sign(false);
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: https://127.0.0.1:{port}\n  name: kind-kind\ncontexts:\n- context:\n    cluster: kind-kind\n    user: kind-kind\n  name: kind-kind\ncurrent-context: kind-kind\nusers:\n- name: kind-kind\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&ca.issuer.pem()),
            b64(&cert.pem()),
            b64(&key.serialize_pem())
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_certificate_credentials_reach_the_api_server_and_nothing_else_does() {
    let cluster = Ca::new("kubernetes");
    let port = api_server(&cluster, &cluster, "127.0.0.1").await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");

    // the credentials kind writes: the server checks the client, the client the server
    kubeconfig(&kc, port, &cluster, &cluster);
    let client = labrun::execute::kind::client_for(&kc).await.unwrap();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, "v1.32.2");

    // a client certificate from another CA: the server refuses the connection
    let stranger = Ca::new("another-cluster");
    kubeconfig(&kc, port, &cluster, &stranger);
    let client = labrun::execute::kind::client_for(&kc).await.unwrap();
    assert!(client.apiserver_version().await.is_err());

    // a server whose certificate another CA signed: the client refuses it
    let impostor = api_server(&stranger, &cluster, "127.0.0.1").await;
    kubeconfig(&kc, impostor, &cluster, &cluster);
    let client = labrun::execute::kind::client_for(&kc).await.unwrap();
    assert!(client.apiserver_version().await.is_err());
}
