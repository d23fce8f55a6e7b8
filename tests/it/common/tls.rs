//! A Kubernetes API server of the tests' own, over TLS: a CA, certificates it signs, and a
//! server that requires a client certificate and answers `/version`.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Ca {
    pub issuer: CertifiedIssuer<'static, KeyPair>,
    key_pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let key_pem = key.serialize_pem();
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
            key_pem,
        }
    }

    /// A certificate and its key, signed by this CA.
    pub fn sign(&self, server: bool) -> (rcgen::Certificate, KeyPair) {
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

/// An API server on `address` that requires a client certificate signed by `clients`, and
/// presents a certificate for 127.0.0.1 signed by `ca`. Returns its port.
pub async fn api_server(ca: &Ca, clients: &Ca, address: &str) -> u16 {
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
    let listener = tokio::net::TcpListener::bind((address, 0)).await.unwrap();
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

impl Ca {
    /// The CA's certificate and key, PEM, in `dir/ca.crt` and `dir/ca.key`, as kind keeps a
    /// cluster's CA.
    pub fn write(&self, dir: &std::path::Path) {
        std::fs::write(dir.join("ca.crt"), self.issuer.pem()).unwrap();
        std::fs::write(dir.join("ca.key"), self.key_pem.clone()).unwrap();
    }
}
