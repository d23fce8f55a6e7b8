//! labrun's Kubernetes client with the credentials kind writes: a kubeconfig holding a CA
//! (`certificate-authority-data`), a client certificate and key it signed
//! (`client-certificate-data`, `client-key-data`), and an IP address as the server's host.
//! The API server here is the test's own: TLS with a certificate for 127.0.0.1 signed by that
//! CA, and it accepts only clients whose certificate that CA signed. It answers `/version`.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// A certificate and its key, signed by this CA.
    fn sign(&self, server: bool) -> (rcgen::Certificate, KeyPair) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        if server {
            params.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
            params
                .distinguished_name
                .push(DnType::CommonName, "kube-apiserver");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        } else {
            params
                .distinguished_name
                .push(DnType::CommonName, "kubernetes-admin");
            params
                .distinguished_name
                .push(DnType::OrganizationName, "kubeadm:cluster-admins");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert, key)
    }
}

/// An API server on 127.0.0.1 that requires a client certificate signed by `clients`, and
/// presents a certificate signed by `ca`. Returns its port.
async fn api_server(ca: &Ca, clients: &Ca) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(clients.issuer.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let (cert, key) = ca.sign(true);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // a client the verifier refused
                };
                let mut buf = vec![0u8; 4096];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let body = if request.starts_with("GET /version") {
                    r#"{"major":"1","minor":"32","gitVersion":"v1.32.2","gitCommit":"","gitTreeState":"clean","buildDate":"","goVersion":"","compiler":"gc","platform":"linux/amd64"}"#
                } else {
                    r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}"#
                };
                let status = if body.contains("Failure") {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

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
    let port = api_server(&cluster, &cluster).await;
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
    let impostor = api_server(&stranger, &cluster).await;
    kubeconfig(&kc, impostor, &cluster, &cluster);
    let client = labrun::execute::kind::client_for(&kc).await.unwrap();
    assert!(client.apiserver_version().await.is_err());
}
