//! Docker facts about kind clusters, through bollard.
//!
//! In: the local Docker daemon. Out: the node containers of a kind cluster — their ids, names,
//! roles, addresses on the `kind` network, state, the host port the API server is published
//! on — and, for a failure report, a container's last log lines. kind labels every node
//! container `io.x-k8s.kind.cluster=<cluster>` and `io.x-k8s.kind.role=<role>`.

use std::collections::{BTreeSet, HashMap};

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, LogsOptionsBuilder};
use futures::StreamExt;
use serde::Serialize;

use crate::error::{Error, Result};

/// The label kind puts on every node container, valued with the cluster's name.
pub const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// The label naming a node's role (`control-plane`, `worker`, `external-load-balancer`).
pub const ROLE_LABEL: &str = "io.x-k8s.kind.role";

/// One node container of a kind cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub cluster: String,
    pub role: String,
    /// Address on the cluster's Docker network (`kind` for kind clusters), if attached.
    pub address: Option<String>,
    /// `running`, `exited`, …
    pub state: String,
    /// Where the container's port 6443 (the API server) is published on the host: the
    /// control plane's, or the external load balancer's when there are several control planes.
    pub api: Vec<Published>,
}

/// A published port: the host address it is bound to (`127.0.0.1`, `::1`, `0.0.0.0`, …) and the
/// host port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    pub ip: String,
    pub port: u16,
}

/// Where a Docker daemon is reached, and what chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///var/run/docker.sock`, `tcp://host:2375`, …
    pub host: String,
    /// `DOCKER_HOST`, `DOCKER_CONTEXT=name`, `context name (…/config.json)`, or `default`.
    pub from: String,
}

/// The socket the docker CLI uses when nothing else is said.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The daemon the docker CLI, and so kind, talks to: `DOCKER_HOST`; else the context named by
/// `DOCKER_CONTEXT`, else the CLI configuration's `currentContext` (`$DOCKER_CONFIG/config.json`,
/// default `~/.docker/config.json`), its endpoint read from
/// `contexts/meta/<sha256 of the name>/meta.json`; else the default socket. `env` reads the
/// environment.
pub fn endpoint(env: impl Fn(&str) -> Option<String>) -> Result<Endpoint> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(host) = set("DOCKER_HOST") {
        return Ok(Endpoint {
            host,
            from: "DOCKER_HOST".into(),
        });
    }
    let config = match set("DOCKER_CONFIG") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            std::path::PathBuf::from(set("HOME").unwrap_or_else(|| "/root".into())).join(".docker")
        }
    };
    let (context, from) = match set("DOCKER_CONTEXT") {
        Some(c) => (Some(c.clone()), format!("DOCKER_CONTEXT={c}")),
        None => {
            let file = config.join("config.json");
            let current = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v.get("currentContext")?.as_str().map(str::to_string))
                .filter(|c| !c.is_empty());
            let from = format!(
                "context {} ({})",
                current.as_deref().unwrap_or(""),
                file.display()
            );
            (current, from)
        }
    };
    let Some(context) = context.filter(|c| c != "default") else {
        return Ok(Endpoint {
            host: DEFAULT_HOST.into(),
            from: "default".into(),
        });
    };
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(context.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta = config.join("contexts/meta").join(digest).join("meta.json");
    let host = std::fs::read_to_string(&meta)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v.pointer("/Endpoints/docker/Host")?
                .as_str()
                .map(str::to_string)
        })
        .ok_or_else(|| {
            Error::Environment(format!(
                "Docker context `{context}` ({from}) has no Docker endpoint in {}",
                meta.display()
            ))
        })?;
    Ok(Endpoint { host, from })
}

/// A connection to the Docker daemon the docker CLI talks to.
pub struct Facts {
    docker: Docker,
    endpoint: Endpoint,
}

impl Facts {
    /// Connect where [`endpoint`] says, and check that the daemon answers.
    pub async fn connect() -> Result<Facts> {
        let endpoint = endpoint(|n| std::env::var(n).ok())?;
        let at = |e: bollard::errors::Error| {
            Error::Environment(format!(
                "Docker is not reachable at {} (from {}): {e}; the kind backend needs the \
                 Docker daemon that kind uses (check `docker info`)",
                endpoint.host, endpoint.from
            ))
        };
        let docker = Docker::connect_with_host(&endpoint.host).map_err(at)?;
        docker.ping().await.map_err(at)?;
        Ok(Facts { docker, endpoint })
    }

    /// Where this connection reaches the daemon, and why there.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The daemon's version.
    pub async fn version(&self) -> Result<String> {
        let v = self.docker.version().await.map_err(unreachable)?;
        Ok(v.version.unwrap_or_else(|| "unknown".into()))
    }

    /// The kind clusters that have node containers (running or not).
    pub async fn clusters(&self) -> Result<BTreeSet<String>> {
        Ok(self
            .all_nodes()
            .await?
            .into_iter()
            .map(|n| n.cluster)
            .collect())
    }

    /// The node containers of every kind cluster, in one call to the daemon.
    pub async fn all_nodes(&self) -> Result<Vec<Node>> {
        self.containers(None).await
    }

    /// The node containers of `cluster`, sorted by name.
    pub async fn nodes(&self, cluster: &str) -> Result<Vec<Node>> {
        self.containers(Some(cluster)).await
    }

    async fn containers(&self, cluster: Option<&str>) -> Result<Vec<Node>> {
        let label = match cluster {
            Some(c) => format!("{CLUSTER_LABEL}={c}"),
            None => CLUSTER_LABEL.to_string(),
        };
        let filters: HashMap<&str, Vec<String>> = HashMap::from([("label", vec![label])]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(unreachable)?;
        let mut nodes: Vec<Node> = list
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                let networks = c
                    .network_settings
                    .and_then(|n| n.networks)
                    .unwrap_or_default();
                let address = networks
                    .get("kind")
                    .or_else(|| networks.values().next())
                    .and_then(|e| e.ip_address.clone())
                    .filter(|a| !a.is_empty());
                let api = c
                    .ports
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|p| p.private_port == 6443)
                    .filter_map(|p| {
                        Some(Published {
                            ip: p.ip.unwrap_or_default(),
                            port: p.public_port?,
                        })
                    })
                    .collect();
                Node {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .unwrap_or_default()
                        .first()
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                    cluster: labels.get(CLUSTER_LABEL).cloned().unwrap_or_default(),
                    role: labels.get(ROLE_LABEL).cloned().unwrap_or_default(),
                    address,
                    state: c
                        .state
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    api,
                }
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    /// The last `n` lines a container logged (stdout and stderr), for failure reports.
    pub async fn last_logs(&self, container: &str, n: usize) -> Result<String> {
        let opts = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&n.to_string())
            .build();
        let mut stream = self.docker.logs(container, Some(opts));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => text.push_str(&c.to_string()),
                Err(e) => return Err(unreachable(e)),
            }
        }
        Ok(text)
    }
}

fn unreachable(e: bollard::errors::Error) -> Error {
    Error::Environment(format!(
        "Docker is not reachable ({e}); the kind backend needs a running Docker daemon \
         (check `docker info`, DOCKER_HOST, and that you may use the socket)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_chosen_as_the_docker_cli_chooses_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().display().to_string();
        // the context's metadata lives under the SHA-256 of its name
        let meta = dir
            .path()
            .join("contexts/meta/64921710cf591b9ce0bd40f82578f33b5287eadeccb046c871d5e6e633315c06");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"labrun-ctx","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///run/labrun-ctx.sock","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            let config = config.clone();
            move |n: &str| {
                if n == "DOCKER_CONFIG" {
                    return Some(config.clone());
                }
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(endpoint(env(&[])).unwrap().host, DEFAULT_HOST);
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"labrun-ctx"}"#,
        )
        .unwrap();
        let e = endpoint(env(&[])).unwrap();
        assert_eq!(e.host, "unix:///run/labrun-ctx.sock");
        assert!(e.from.starts_with("context labrun-ctx"), "{}", e.from);
        assert_eq!(
            endpoint(env(&[("DOCKER_CONTEXT", "default")]))
                .unwrap()
                .host,
            DEFAULT_HOST
        );
        let e = endpoint(env(&[
            ("DOCKER_HOST", "tcp://10.1.2.3:2375"),
            ("DOCKER_CONTEXT", "default"),
        ]))
        .unwrap();
        assert_eq!(
            (e.host.as_str(), e.from.as_str()),
            ("tcp://10.1.2.3:2375", "DOCKER_HOST")
        );
        let e = endpoint(env(&[("DOCKER_CONTEXT", "nowhere")])).unwrap_err();
        assert!(e.to_string().contains("Docker context `nowhere`"), "{e}");
    }
}
