//! What a run may ask of the Docker daemon: one row per route of the Engine API.
//!
//! In: a request's method and path (the `/v1.NN` prefix removed). Out: a [`Rule`]. The table
//! [`ROUTES`] is read top to bottom; the first row whose method and pattern match decides. A
//! pattern is the path's segments, `*` standing for one segment (an id or a name) and `**` for
//! the rest. What no row names is refused: a new API section is closed until a row opens it.

/// What the proxy does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Forwarded as it is (reads, image work).
    Pass,
    /// Forwarded when the container the path names (`{1}`, the segment after `containers`)
    /// belongs to the run.
    Container,
    /// Forwarded when the exec instance the path names was created by this run.
    Exec,
    /// A list of containers: forwarded, and the answer keeps the run's containers only.
    ListContainers,
    /// A container created: the run's label added, its binds and privilege checked.
    CreateContainer,
    /// A network or volume created: the run's label added.
    CreateLabelled,
    /// Forwarded when the network or volume the path names carries the run's label.
    Labelled,
    /// A container connected to or disconnected from a network: the container (in the body)
    /// must be the run's.
    NetworkMember,
    /// Refused, with this reason.
    Deny(&'static str),
}

/// `(method, pattern, rule)`; `*` any method.
pub const ROUTES: &[(&str, &str, Rule)] = &[
    ("GET", "_ping", Rule::Pass),
    ("HEAD", "_ping", Rule::Pass),
    ("GET", "version", Rule::Pass),
    ("GET", "info", Rule::Pass),
    ("GET", "events", Rule::Pass),
    ("GET", "containers/json", Rule::ListContainers),
    ("POST", "containers/create", Rule::CreateContainer),
    (
        "POST",
        "containers/prune",
        Rule::Deny("pruning reaches every container of the machine"),
    ),
    ("*", "containers/*", Rule::Container),
    ("*", "containers/*/**", Rule::Container),
    ("*", "exec/*/**", Rule::Exec),
    ("GET", "images/**", Rule::Pass),
    ("HEAD", "images/**", Rule::Pass),
    ("POST", "images/create", Rule::Pass),
    ("POST", "images/load", Rule::Pass),
    ("POST", "images/*/tag", Rule::Pass),
    ("POST", "images/*/*/tag", Rule::Pass),
    ("POST", "build", Rule::Pass),
    ("POST", "session", Rule::Pass),
    ("GET", "distribution/**", Rule::Pass),
    (
        "DELETE",
        "images/**",
        Rule::Deny("removing an image takes it from every cluster of the machine"),
    ),
    ("GET", "networks", Rule::Pass),
    ("GET", "networks/*", Rule::Pass),
    ("POST", "networks/create", Rule::CreateLabelled),
    ("POST", "networks/*/connect", Rule::NetworkMember),
    ("POST", "networks/*/disconnect", Rule::NetworkMember),
    ("DELETE", "networks/*", Rule::Labelled),
    ("GET", "volumes", Rule::Pass),
    ("GET", "volumes/*", Rule::Pass),
    ("POST", "volumes/create", Rule::CreateLabelled),
    ("DELETE", "volumes/*", Rule::Labelled),
    (
        "POST",
        "*/prune",
        Rule::Deny("pruning reaches every cluster of the machine"),
    ),
    ("GET", "system/df", Rule::Pass),
];

/// The rule for `method` on `path` (no version prefix, no query).
pub fn rule(method: &str, path: &str) -> Rule {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (m, pattern, rule) in ROUTES {
        if (*m == "*" || *m == method) && matches(pattern, &segs) {
            return *rule;
        }
    }
    Rule::Deny("this part of the Docker API is closed to a run")
}

fn matches(pattern: &str, segs: &[&str]) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let mut i = 0;
    for (k, p) in pat.iter().enumerate() {
        if *p == "**" {
            return k == pat.len() - 1 && segs.len() > i;
        }
        match segs.get(i) {
            Some(s) if *p == "*" || p == s => i += 1,
            _ => return false,
        }
    }
    i == segs.len()
}

/// The path without the API version (`/v1.43/containers/json` → `containers/json`).
pub fn unversioned(path: &str) -> &str {
    let p = path.trim_start_matches('/');
    match p.split_once('/') {
        Some((v, rest))
            if v.starts_with('v') && v[1..].chars().all(|c| c.is_ascii_digit() || c == '.') =>
        {
            rest
        }
        _ => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per route the table decides, and the unlisted.
    #[test]
    fn each_route_gets_its_rule() {
        let cases: &[(&str, &str, Rule)] = &[
            ("GET", "/v1.43/_ping", Rule::Pass),
            ("HEAD", "/_ping", Rule::Pass),
            ("GET", "/v1.43/version", Rule::Pass),
            ("GET", "/v1.43/info", Rule::Pass),
            ("GET", "/v1.43/events", Rule::Pass),
            ("GET", "/v1.43/containers/json", Rule::ListContainers),
            ("POST", "/v1.43/containers/create", Rule::CreateContainer),
            ("POST", "/v1.43/containers/prune", Rule::Deny("")),
            (
                "DELETE",
                "/v1.43/containers/kind-control-plane",
                Rule::Container,
            ),
            ("GET", "/v1.43/containers/abc/json", Rule::Container),
            ("POST", "/v1.43/containers/abc/exec", Rule::Container),
            ("POST", "/v1.43/containers/abc/stop", Rule::Container),
            ("POST", "/v1.43/containers/abc/kill", Rule::Container),
            ("POST", "/v1.43/containers/abc/pause", Rule::Container),
            ("GET", "/v1.43/containers/abc/logs", Rule::Container),
            ("GET", "/v1.43/containers/abc/archive", Rule::Container),
            ("PUT", "/v1.43/containers/abc/archive", Rule::Container),
            ("HEAD", "/v1.43/containers/abc/archive", Rule::Container),
            ("POST", "/v1.43/containers/abc/attach", Rule::Container),
            ("POST", "/v1.43/exec/e1/start", Rule::Exec),
            ("GET", "/v1.43/exec/e1/json", Rule::Exec),
            ("POST", "/v1.43/exec/e1/resize", Rule::Exec),
            ("GET", "/v1.43/images/json", Rule::Pass),
            ("GET", "/v1.43/images/get", Rule::Pass),
            ("GET", "/v1.43/images/kindest/node/json", Rule::Pass),
            ("POST", "/v1.43/images/create", Rule::Pass),
            ("POST", "/v1.43/images/load", Rule::Pass),
            ("POST", "/v1.43/images/web/tag", Rule::Pass),
            ("POST", "/v1.43/build", Rule::Pass),
            (
                "DELETE",
                "/v1.43/images/kindest/node:v1.32.2",
                Rule::Deny(""),
            ),
            ("GET", "/v1.43/networks", Rule::Pass),
            ("GET", "/v1.43/networks/kind", Rule::Pass),
            ("POST", "/v1.43/networks/create", Rule::CreateLabelled),
            ("POST", "/v1.43/networks/kind/connect", Rule::NetworkMember),
            (
                "POST",
                "/v1.43/networks/kind/disconnect",
                Rule::NetworkMember,
            ),
            ("DELETE", "/v1.43/networks/kind", Rule::Labelled),
            ("GET", "/v1.43/volumes", Rule::Pass),
            ("POST", "/v1.43/volumes/create", Rule::CreateLabelled),
            ("DELETE", "/v1.43/volumes/v1", Rule::Labelled),
            ("POST", "/v1.43/networks/prune", Rule::Deny("")),
            ("POST", "/v1.43/volumes/prune", Rule::Deny("")),
            ("POST", "/v1.43/images/prune", Rule::Deny("")),
            ("GET", "/v1.43/system/df", Rule::Pass),
            ("POST", "/v1.43/swarm/init", Rule::Deny("")),
            ("GET", "/v1.43/services", Rule::Deny("")),
            ("GET", "/v1.43/secrets", Rule::Deny("")),
            ("POST", "/v1.43/plugins/pull", Rule::Deny("")),
            ("POST", "/v1.43/auth", Rule::Deny("")),
        ];
        for (method, path, want) in cases {
            let got = rule(method, unversioned(path));
            match (want, got) {
                (Rule::Deny(_), Rule::Deny(_)) => {}
                _ => assert_eq!(got, *want, "{method} {path}"),
            }
        }
    }

    #[test]
    fn the_version_prefix_is_dropped_and_only_it() {
        assert_eq!(unversioned("/v1.43/containers/json"), "containers/json");
        assert_eq!(unversioned("/containers/json"), "containers/json");
        assert_eq!(unversioned("/volumes/v1"), "volumes/v1");
    }
}
