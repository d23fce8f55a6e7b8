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

/// A connection to the local Docker daemon.
pub struct Facts {
    docker: Docker,
}

impl Facts {
    /// Connect (DOCKER_HOST or the local socket) and check that the daemon answers.
    pub async fn connect() -> Result<Facts> {
        let docker = Docker::connect_with_local_defaults().map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        Ok(Facts { docker })
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
