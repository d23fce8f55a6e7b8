//! The safety rule: a step that talks to a cluster runs only against the run's kind cluster.
//!
//! In: labrun's own kubeconfig and the Docker facts of the run's cluster. Out: the current
//! context, or a refusal that names it and says how to proceed. The context must be the one
//! kind writes for the cluster (`kind-<name>`), the cluster's control-plane container must be
//! running, and the context's API server must be that container (its published port on the
//! host, or its address on the kind network). A name alone proves nothing: a context called
//! `kind-kind` that points at another server is refused too.

use std::path::Path;

use super::docker::Node;

/// Where the current context of a kubeconfig points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub context: String,
    pub server: String,
    /// What would send a client elsewhere than `server`, or run a program for credentials:
    /// the cluster's `proxy-url` and `tls-server-name`, the user's `exec` and
    /// `auth-provider`. kind writes none of them; one there was written by someone else.
    pub detours: Vec<String>,
    /// The certificate authority the client trusts for `server` (the inline data, or the
    /// named file's path): a copy of the run's kubeconfig trusts the same one.
    pub ca: String,
}

impl Target {
    /// Whether this is the run's verified `context` at `server` trusting `ca`, with nothing
    /// that would send a client elsewhere: the check of a kubeconfig as a whole.
    pub fn is(&self, context: &str, server: &str, ca: &str) -> bool {
        self.detours.is_empty() && self.context == context && self.server == server && self.ca == ca
    }
}

/// The current context of `kubeconfig`; `Ok(None)` when the file does not exist yet or has no
/// current context.
pub fn current(kubeconfig: &Path) -> Result<Option<Target>, String> {
    if !kubeconfig.exists() {
        return Ok(None);
    }
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
    let Some(name) = kc.current_context.clone().filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref());
    let user = ctx.and_then(|c| c.user.clone());
    let cluster = ctx.map(|c| c.cluster.clone()).ok_or_else(|| {
        format!(
            "context `{name}` is not defined in {}",
            kubeconfig.display()
        )
    })?;
    let entry = kc
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref());
    let server = entry.and_then(|c| c.server.clone()).unwrap_or_default();
    let mut detours = Vec::new();
    if let Some(c) = entry {
        if let Some(p) = &c.proxy_url {
            detours.push(format!("proxy-url {p}"));
        }
        if let Some(n) = &c.tls_server_name {
            detours.push(format!("tls-server-name {n}"));
        }
        if c.insecure_skip_tls_verify == Some(true) {
            detours.push("insecure-skip-tls-verify".into());
        }
    }
    let ca = entry
        .and_then(|c| {
            c.certificate_authority_data
                .clone()
                .or_else(|| c.certificate_authority.clone())
        })
        .unwrap_or_default();
    if let Some(u) = kc
        .auth_infos
        .iter()
        .find(|a| Some(&a.name) == user.as_ref())
        .and_then(|a| a.auth_info.as_ref())
    {
        if let Some(e) = &u.exec {
            detours.push(format!(
                "an exec credential plugin ({})",
                e.command.as_deref().unwrap_or("?")
            ));
        }
        if u.auth_provider.is_some() {
            detours.push("an auth-provider".into());
        }
    }
    Ok(Some(Target {
        context: name,
        server,
        detours,
        ca,
    }))
}

/// Whether `target` is the kind cluster `cluster` whose node containers are `nodes`.
///
/// kind's API endpoint is the cluster's external load balancer when it has several control
/// planes, else its control plane; the server must be where Docker publishes that container's
/// port 6443 (the address it is bound to and the port), or the container itself on the kind
/// network.
pub fn verify(target: Option<&Target>, cluster: &str, nodes: &[Node]) -> Result<(), String> {
    let Some(t) = target else {
        return Err(format!(
            "there is no current context yet (no kind cluster `{cluster}` was created in this run)"
        ));
    };
    let want = format!("kind-{cluster}");
    if !t.detours.is_empty() {
        return Err(format!(
            "context `{}` has {}, which kind never writes: a client would not go (only) to {}",
            t.context,
            t.detours.join(", "),
            t.server
        ));
    }
    if t.context != want {
        return Err(format!(
            "the current context is `{}` (server {}), not `{want}`, the kind cluster of this run",
            t.context, t.server
        ));
    }
    let running = |role: &str| {
        nodes
            .iter()
            .find(|n| n.role == role && n.state == "running")
    };
    let Some(cp) = running("control-plane") else {
        return Err(format!(
            "context `{}` names kind cluster `{cluster}`, but Docker shows no running \
             control-plane container labelled io.x-k8s.kind.cluster={cluster}",
            t.context
        ));
    };
    let api = match nodes.iter().find(|n| n.role == "external-load-balancer") {
        Some(lb) if lb.state == "running" => lb,
        Some(lb) => {
            return Err(format!(
                "kind cluster `{cluster}` has several control planes, and its API endpoint, the \
                 external load balancer `{}`, is {}",
                lb.name, lb.state
            ));
        }
        None => cp,
    };
    let (host, port) = host_port(&t.server);
    let published = port.is_some_and(|p| {
        api.api
            .iter()
            .any(|b| b.port == p && same_host(&host, &b.ip))
    });
    let internal = (api.address.as_deref() == Some(host.as_str()) || host == api.name)
        && port.is_none_or(|p| p == 6443);
    if !(published || internal) {
        let bound: Vec<String> = api
            .api
            .iter()
            .map(|b| {
                if b.ip.contains(':') {
                    format!("[{}]:{}", b.ip, b.port)
                } else {
                    format!("{}:{}", b.ip, b.port)
                }
            })
            .collect();
        return Err(format!(
            "context `{}` points at {}, which is not the API server of kind cluster `{cluster}` \
             (its API endpoint `{}` is published on {} and has address {})",
            t.context,
            t.server,
            api.name,
            if bound.is_empty() {
                "no host port".to_string()
            } else {
                bound.join(", ")
            },
            api.address.as_deref().unwrap_or("none")
        ));
    }
    Ok(())
}

/// Whether a server's `host` reaches a port bound to `bound`: the same address; `localhost` for
/// a loopback address; any loopback address for a wildcard binding (`0.0.0.0`, `::`).
fn same_host(host: &str, bound: &str) -> bool {
    let loopback = |h: &str| {
        h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let wildcard = matches!(bound, "" | "0.0.0.0" | "::");
    host == bound || (wildcard && loopback(host)) || (host == "localhost" && loopback(bound))
}

/// `https://127.0.0.1:36789` → (`127.0.0.1`, Some(36789)).
fn host_port(server: &str) -> (String, Option<u16>) {
    let rest = server.split("://").nth(1).unwrap_or(server);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        let (h, p) = v6.split_once(']').unwrap_or((v6, ""));
        return (h.to_string(), p.trim_start_matches(':').parse().ok());
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().ok()),
        None => (authority.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::kind::docker::Published;

    fn cp(port: Option<u16>, state: &str) -> Node {
        Node {
            id: "0123456789ab".into(),
            name: "kind-control-plane".into(),
            cluster: "kind".into(),
            role: "control-plane".into(),
            address: Some("172.18.0.3".into()),
            state: state.into(),
            api: port
                .map(|port| Published {
                    ip: "127.0.0.1".into(),
                    port,
                })
                .into_iter()
                .collect(),
        }
    }

    fn node(name: &str, role: &str, api: &[(&str, u16)]) -> Node {
        Node {
            id: format!("{name}-id"),
            name: name.into(),
            cluster: "kind".into(),
            role: role.into(),
            address: Some(format!("172.18.0.{}", name.len())),
            state: "running".into(),
            api: api
                .iter()
                .map(|(ip, port)| Published {
                    ip: ip.to_string(),
                    port: *port,
                })
                .collect(),
        }
    }

    fn target(context: &str, server: &str) -> Target {
        Target {
            ca: String::new(),
            context: context.into(),
            server: server.into(),
            detours: Vec::new(),
        }
    }

    /// The whole kubeconfig is read: a context of the right name and server that a proxy, a
    /// TLS name or a credential plugin would send elsewhere is refused.
    #[test]
    fn a_kubeconfig_that_detours_is_refused_whatever_its_names() {
        let dir = tempfile::tempdir().unwrap();
        let base = "apiVersion: v1\nkind: Config\ncurrent-context: kind-kind\ncontexts:\n- name: kind-kind\n  context:\n    cluster: kind-kind\n    user: kind-kind\nclusters:\n- name: kind-kind\n  cluster:\n    server: https://127.0.0.1:41234\n";
        for (cluster_extra, user, says) in [
            (
                "    proxy-url: http://elsewhere:3128\n",
                "  user: {}\n",
                "proxy-url",
            ),
            (
                "    tls-server-name: prod.example.com\n",
                "  user: {}\n",
                "tls-server-name",
            ),
            (
                "",
                "  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: steal\n",
                "exec credential plugin (steal)",
            ),
        ] {
            let text = format!("{base}{cluster_extra}users:\n- name: kind-kind\n{user}");
            let path = dir.path().join("config");
            std::fs::write(&path, text).unwrap();
            let t = current(&path).unwrap().unwrap();
            let why = verify(Some(&t), "kind", &[cp(Some(41234), "running")]).unwrap_err();
            assert!(why.contains(says), "{why}");
        }
    }

    #[test]
    fn the_runs_own_kind_cluster_passes() {
        let t = target("kind-kind", "https://127.0.0.1:41234");
        assert_eq!(
            verify(Some(&t), "kind", &[cp(Some(41234), "running")]),
            Ok(())
        );
        let internal = target("kind-kind", "https://kind-control-plane:6443");
        assert_eq!(
            verify(Some(&internal), "kind", &[cp(Some(41234), "running")]),
            Ok(())
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_context_named() {
        let nodes = [cp(Some(41234), "running")];
        let prod = target("prod-admin", "https://prod.example.com:6443");
        let e = verify(Some(&prod), "kind", &nodes).unwrap_err();
        assert!(
            e.contains("`prod-admin`") && e.contains("prod.example.com"),
            "{e}"
        );
        // the right name, the wrong server
        let lying = target("kind-kind", "https://10.0.0.5:6443");
        let e = verify(Some(&lying), "kind", &nodes).unwrap_err();
        assert!(e.contains("not the API server"), "{e}");
        // another port on localhost: another cluster
        let other = target("kind-kind", "https://127.0.0.1:40000");
        assert!(verify(Some(&other), "kind", &nodes).is_err());
        // the control plane stopped
        let t = target("kind-kind", "https://127.0.0.1:41234");
        let e = verify(Some(&t), "kind", &[cp(Some(41234), "exited")]).unwrap_err();
        assert!(e.contains("no running control-plane"), "{e}");
        // no context at all
        assert!(
            verify(None, "kind", &nodes)
                .unwrap_err()
                .contains("no current context")
        );
    }

    #[test]
    fn the_api_endpoint_is_found_as_kind_finds_it() {
        // several control planes: the external load balancer publishes the API
        let ha = [
            node("kind-control-plane", "control-plane", &[]),
            node("kind-control-plane2", "control-plane", &[]),
            node(
                "kind-external-load-balancer",
                "external-load-balancer",
                &[("127.0.0.1", 40001)],
            ),
        ];
        let t = target("kind-kind", "https://127.0.0.1:40001");
        assert_eq!(verify(Some(&t), "kind", &ha), Ok(()));
        let mut stopped = ha.clone();
        stopped[2].state = "exited".into();
        let e = verify(Some(&t), "kind", &stopped).unwrap_err();
        assert!(
            e.contains("external load balancer") && e.contains("exited"),
            "{e}"
        );
        // apiServerAddress on another address of the machine: that address, not loopback
        let lan = [node(
            "kind-control-plane",
            "control-plane",
            &[("192.168.1.10", 6443)],
        )];
        assert_eq!(
            verify(
                Some(&target("kind-kind", "https://192.168.1.10:6443")),
                "kind",
                &lan
            ),
            Ok(())
        );
        let e = verify(
            Some(&target("kind-kind", "https://127.0.0.1:6443")),
            "kind",
            &lan,
        )
        .unwrap_err();
        assert!(e.contains("published on 192.168.1.10:6443"), "{e}");
        // IPv6
        let v6 = [node(
            "kind-control-plane",
            "control-plane",
            &[("::1", 40002)],
        )];
        assert_eq!(
            verify(
                Some(&target("kind-kind", "https://[::1]:40002")),
                "kind",
                &v6
            ),
            Ok(())
        );
        assert!(
            verify(
                Some(&target("kind-kind", "https://127.0.0.1:40002")),
                "kind",
                &v6
            )
            .is_err()
        );
        // a wildcard binding answers on loopback; localhost names a loopback binding
        let any = [node(
            "kind-control-plane",
            "control-plane",
            &[("0.0.0.0", 40003)],
        )];
        assert_eq!(
            verify(
                Some(&target("kind-kind", "https://127.0.0.1:40003")),
                "kind",
                &any
            ),
            Ok(())
        );
        let lo = [node(
            "kind-control-plane",
            "control-plane",
            &[("127.0.0.1", 40004)],
        )];
        assert_eq!(
            verify(
                Some(&target("kind-kind", "https://localhost:40004")),
                "kind",
                &lo
            ),
            Ok(())
        );
        // inside the kind network: the node's name or address, on 6443 only
        assert!(
            verify(
                Some(&target("kind-kind", "https://kind-control-plane:7000")),
                "kind",
                &lo
            )
            .is_err()
        );
    }

    #[test]
    fn server_urls_split_into_host_and_port() {
        assert_eq!(
            host_port("https://127.0.0.1:41234"),
            ("127.0.0.1".into(), Some(41234))
        );
        assert_eq!(host_port("https://[::1]:6443/"), ("::1".into(), Some(6443)));
        assert_eq!(
            host_port("https://example.com"),
            ("example.com".into(), None)
        );
    }
}
