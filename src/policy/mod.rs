//! What labrun may do with a command, decided from its text alone: re-run it, watch it, run it
//! in the background, expect it to change a cluster, create or delete the kind cluster.
//!
//! In: a command as the document writes it. Out: a [`Kind`] (how the run stage treats it),
//! [`read_only`] (whether a mismatch may be retried), [`changes_cluster`],
//! [`creates_cluster`], [`docker_exec_targets`]. Every answer comes from the one reading of
//! the text that [`crate::syntax`] makes with a real bash parser: the simple commands wherever
//! they sit (behind `env`, `sudo`, `timeout`, in loops, in `$( )`, in `sh -c`), the files its
//! redirections write, whether it runs in the background. Text bash would not parse is
//! nothing labrun may re-run. The vocabulary is data: the tables below, listed in the README
//! the same way. A directive (`retry`, `no-retry`) overrides the table for one block.

pub mod flags;
#[cfg(test)]
mod table;
mod unbounded;

use crate::syntax::{self, Parsed, Simple};
pub use unbounded::{UNBOUNDED, Unbounded};
use unbounded::{innermost_words, row};

/// Programs that never change anything, whatever their arguments.
pub const READ_ONLY_PROGRAMS: &[&str] = &[
    "cat",
    "ls",
    "grep",
    "egrep",
    "head",
    "tail",
    "wc",
    "echo",
    "printf",
    "env",
    "hostname",
    "uname",
    "whoami",
    "id",
    "ps",
    "ss",
    "netstat",
    "dig",
    "host",
    "nslookup",
    "ping",
    "ping6",
    "traceroute",
    "tracepath",
    "arp",
    "route",
    "ifconfig",
    "iptables-save",
    "ip6tables-save",
    "wget",
    "date",
    "pwd",
    "true",
    "false",
    "sleep",
    "sort",
    "uniq",
    "awk",
    "cut",
    "jq",
    "yq",
    "column",
    "nc",
    "getent",
    "lsns",
    "readlink",
    "stat",
    "file",
    "which",
    "type",
    "test",
    "[",
];

/// `kubectl` verbs that only read.
pub const KUBECTL_READ_VERBS: &[&str] = &[
    "get",
    "describe",
    "logs",
    "top",
    "explain",
    "api-resources",
    "api-versions",
    "version",
    "cluster-info",
    "auth",
    "events",
    "wait",
];

/// `kubectl` verbs that change the cluster (the kind backend settles after them).
pub const KUBECTL_WRITE_VERBS: &[&str] = &[
    "apply", "create", "delete", "scale", "label", "annotate", "patch", "rollout", "replace",
    "set", "expose", "run", "edit", "cordon", "uncordon", "drain", "taint",
];

/// `docker` subcommands that only read.
pub const DOCKER_READ_VERBS: &[&str] = &["ps", "inspect", "logs", "images", "version", "info"];

/// `ip` objects and the actions on them that only read (no action means `show`).
const IP_READ_ACTIONS: &[&str] = &["show", "list", "lst", "sh", "ls", "l", "get"];

/// How the run stage treats a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs to its end, output compared.
    Plain,
    /// Never ends by itself ([`UNBOUNDED`]): with printed output, it runs until its printed
    /// lines have appeared (in order) and is then interrupted as a person would; without, it
    /// runs in a background terminal that a later step may read.
    Watch,
    /// Ends in ` &`: started in the background, stopped at the end of the run.
    Background,
}

/// The kind of `command`.
pub fn kind(command: &str) -> Kind {
    let Ok(p) = syntax::reading(command) else {
        return Kind::Plain;
    };
    if p.background {
        return Kind::Background;
    }
    let piped_into_head = p
        .commands
        .iter()
        .any(|s| matches!(s.place, Some((0, stage)) if stage > 0) && s.program() == Some("head"));
    match innermost(&p) {
        Some(w) if !piped_into_head && row(&refs(&w)).is_some() => Kind::Watch,
        _ => Kind::Plain,
    }
}

/// The epilogue of `command`'s program when it is unbounded: a line starting and ending so
/// begins what it prints only as it is interrupted.
pub fn epilogue(command: &str) -> Option<(&'static str, &'static str)> {
    let p = syntax::reading(command).ok()?;
    let w = innermost(&p)?;
    row(&refs(&w)).and_then(|u| u.epilogue)
}

/// What the step's first command runs in the end: through wrappers (`sudo`, `env`, `bash -c`,
/// `ip netns exec NS`, the commands the parser lists after them), then `docker exec C` and
/// `kubectl exec POD --`. `None` when `timeout N` bounds it at any level. A row of
/// [`UNBOUNDED`] met on the way is the answer (`watch` is a wrapper and unbounded).
fn innermost(p: &Parsed) -> Option<Vec<String>> {
    let mut i = p.commands.iter().position(|s| s.place == Some((0, 0)))?;
    loop {
        let s = p.commands.get(i)?;
        let w = words(s);
        if row(&refs(&w)).is_some() {
            return Some(w);
        }
        if s.program() == Some("timeout") {
            return None;
        }
        if s.wraps {
            i += 1;
            continue;
        }
        return innermost_words(w);
    }
}

/// A simple command's words as text, the program by its file name.
fn words(s: &Simple) -> Vec<String> {
    let mut w: Vec<String> = s.words.iter().map(|w| w.text().to_string()).collect();
    if let (Some(first), Some(p)) = (w.first_mut(), s.program()) {
        *first = p.to_string();
    }
    w
}

fn refs(w: &[String]) -> Vec<&str> {
    w.iter().map(String::as_str).collect()
}

/// The command with a trailing ` &` removed.
pub fn foreground(command: &str) -> &str {
    let t = command.trim_end();
    match t.strip_suffix('&') {
        Some(rest) if !rest.ends_with('&') => rest.trim_end(),
        _ => t,
    }
}

/// Files a redirection may write without changing anything.
const HARMLESS_WRITES: &[&str] = &["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"];

/// Whether every command `command` runs only reads, and none of its redirections writes a
/// file.
pub fn read_only(command: &str) -> bool {
    let Ok(p) = syntax::reading(command) else {
        return false;
    };
    p.writes
        .iter()
        .all(|w| HARMLESS_WRITES.contains(&w.as_str()))
        && !p.commands.is_empty()
        && p.commands.iter().all(simple_read_only)
}

/// Whether one simple command only reads: a wrapper by what it runs (listed after it), a
/// shell given no script it can read never.
fn simple_read_only(s: &Simple) -> bool {
    if s.words.is_empty() || s.wraps {
        return true; // an assignment; a wrapper, judged by its command
    }
    match s.program() {
        None => false,
        Some(p) if syntax::SHELLS.contains(&p) => false,
        Some(_) => part_read_only(&words(s)),
    }
}

/// Programs that change a machine's network state when they do not only read.
pub const NETWORK_PROGRAMS: &[&str] = &[
    "ip",
    "iptables",
    "ip6tables",
    "iptables-restore",
    "ip6tables-restore",
    "nft",
    "tc",
    "brctl",
    "bridge",
    "ifconfig",
    "route",
    "sysctl",
    "ethtool",
    "ovs-vsctl",
    "conntrack",
    "ifup",
    "ifdown",
    "ipset",
    "arp",
];

/// Whether `command` changes network state anywhere in its text (a program of
/// [`NETWORK_PROGRAMS`] that does not only read; `ip netns exec NS CMD` when CMD does).
pub fn changes_network(command: &str) -> bool {
    let Ok(read) = syntax::reading(command) else {
        return false;
    };
    read.commands.iter().any(|s| {
        s.program().is_some_and(|p| NETWORK_PROGRAMS.contains(&p)) && {
            let mut words: Vec<String> = s.words.iter().map(|w| w.text().to_string()).collect();
            if let Some(first) = words.first_mut() {
                *first = s.program().unwrap_or_default().to_string();
            }
            let w: Vec<&str> = words.iter().map(String::as_str).collect();
            match w.as_slice() {
                // its inner command is a simple command of its own, judged by itself
                ["ip", rest @ ..] if ip_netns_exec(rest) => false,
                ["sysctl", rest @ ..] => rest.iter().any(|a| *a == "-w" || a.contains('=')),
                ["route" | "arp" | "ifconfig", rest @ ..] => rest.len() > 1,
                _ => !part_read_only(&words),
            }
        }
    })
}

/// `ip [-n NS] netns exec NS …`.
fn ip_netns_exec(args: &[&str]) -> bool {
    args.windows(2).any(|w| w == ["netns", "exec"])
}

/// `helm` commands that change the cluster.
pub const HELM_WRITE_VERBS: &[&str] = &["install", "upgrade", "uninstall", "delete", "rollback"];

/// Whether `command` changes the cluster anywhere in its text: `kubectl`/`oc` with a verb of
/// [`KUBECTL_WRITE_VERBS`], `helm` with one of [`HELM_WRITE_VERBS`], `kind create` or
/// `kind load`.
pub fn changes_cluster(command: &str) -> bool {
    let Ok(read) = syntax::reading(command) else {
        return false;
    };
    read.commands.iter().any(|s| {
        let w = words(s);
        let w = refs(&w);
        match w.as_slice() {
            ["kubectl" | "oc", rest @ ..] => {
                verb(rest).is_some_and(|v| KUBECTL_WRITE_VERBS.contains(&v))
            }
            ["helm", rest @ ..] => verb(rest).is_some_and(|v| HELM_WRITE_VERBS.contains(&v)),
            ["kind", rest @ ..] => matches!(kind_verbs(rest).0.as_slice(), ["create" | "load", ..]),
            _ => false,
        }
    })
}

/// A kind command's verbs (`create cluster`) and the cluster it names with `--name`/`-n`, read
/// as pflag reads them: `--flag value`, `--flag=value`, grouped shorthands `-qn NAME`.
fn kind_verbs<'a>(args: &[&'a str]) -> (Vec<&'a str>, Option<&'a str>) {
    let (mut verbs, mut name) = (Vec::new(), None);
    let mut i = 0;
    while let Some(a) = args.get(i).copied() {
        i += 1;
        if a == "--" {
            verbs.extend(&args[i..]);
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some(("name", v)) => name = Some(v),
                Some(_) => {}
                None if flags::long("kind").contains(&a) => {
                    if long == "name" {
                        name = args.get(i).copied();
                    }
                    i += 1;
                }
                None => {}
            }
        } else if a.len() > 1 && a.starts_with('-') {
            // the first shorthand that takes a value takes the rest, or the next word
            if let Some(at) = a[1..].find(|c: char| flags::short("kind").contains(c)) {
                let rest = &a[2 + at..];
                let value = if rest.is_empty() {
                    i += 1;
                    args.get(i - 1).copied()
                } else {
                    Some(rest.strip_prefix('=').unwrap_or(rest))
                };
                if a.as_bytes()[1 + at] == b'n' {
                    name = value;
                }
            }
        } else {
            verbs.push(a);
        }
    }
    (verbs, name)
}

/// The kind command of `command` whose verbs begin with `want`, and the cluster it names
/// (`--name`, else `KIND_CLUSTER_NAME` given to it); anywhere in the text.
fn kind_command(command: &str, want: &[&str]) -> Option<Option<String>> {
    let read = syntax::reading(command).ok()?;
    read.commands.iter().find_map(|s| {
        let w = words(s);
        let w = refs(&w);
        let ["kind", rest @ ..] = w.as_slice() else {
            return None;
        };
        let (verbs, name) = kind_verbs(rest);
        verbs.starts_with(want).then(|| {
            name.map(str::to_string).or_else(|| {
                s.assignments
                    .iter()
                    .rev()
                    .find(|(n, _)| n == "KIND_CLUSTER_NAME")
                    .and_then(|(_, v)| v.literal.clone())
            })
        })
    })
}

/// Whether `command` runs `kind create cluster` anywhere in its text (`cd x && kind create
/// cluster`, behind `env` or `timeout`).
pub fn creates_cluster(command: &str) -> bool {
    kind_command(command, &["create", "cluster"]).is_some()
}

/// Whether `command` runs `kind delete cluster` anywhere in its text.
pub fn deletes_cluster(command: &str) -> bool {
    kind_command(command, &["delete", "cluster"]).is_some()
}

/// The cluster `command`'s `kind create cluster` names, if it runs one and names one.
pub fn created_cluster_name(command: &str) -> Option<String> {
    kind_command(command, &["create", "cluster"]).flatten()
}

/// Programs that talk to a Kubernetes cluster through a kubeconfig (and any `kubectl-*`
/// plugin).
pub const CLUSTER_PROGRAMS: &[&str] = &[
    "kubectl", "oc", "helm", "linkerd", "istioctl", "cilium", "flux", "kubectx", "kubens", "k9s",
    "stern", "velero", "skaffold",
];

/// Whether `program` (a file name) talks to a Kubernetes cluster.
pub fn cluster_program(program: &str) -> bool {
    CLUSTER_PROGRAMS.contains(&program) || program.starts_with("kubectl-")
}

/// Whether `command` runs a program that talks to a cluster, anywhere in its text (loops,
/// substitutions, `sh -c` strings, behind `env`/`sudo`/`xargs`/`watch`: see [`crate::syntax`]).
pub fn talks_to_cluster(command: &str) -> bool {
    runs_any(command, cluster_program)
}

/// Whether `command` talks to a cluster or runs `kind`, anywhere in its text (one parse for
/// both questions).
pub fn reaches_clusters(command: &str) -> bool {
    runs_any(command, |p| cluster_program(p) || p == "kind")
}

/// Whether a program `is` one of those asked about runs in `command`; when bash would not
/// parse the text, whether any word of it names one (an unreadable step is not let through
/// by being unreadable).
fn runs_any(command: &str, is: impl Fn(&str) -> bool) -> bool {
    match syntax::reading(command) {
        Ok(read) => read.commands.iter().any(|s| s.program().is_some_and(&is)),
        Err(_) => command
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .any(is),
    }
}

/// The docker CLI's own flags that take a value (before its command).
const DOCKER_VALUE_FLAGS: &[&str] = &[
    "-H",
    "--host",
    "-c",
    "--context",
    "--config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
];

/// `docker exec`'s flags that take a value.
const DOCKER_EXEC_VALUE_FLAGS: &[&str] = &[
    "-e",
    "--env",
    "-u",
    "--user",
    "-w",
    "--workdir",
    "--env-file",
    "--detach-keys",
];

/// The containers `docker exec` (or `docker container exec`) targets anywhere in `command`
/// (`docker exec -it kind-worker ip a` → `kind-worker`; behind `env`, `timeout`, in loops and
/// `$( )` too).
pub fn docker_exec_targets(command: &str) -> Vec<String> {
    let Ok(read) = syntax::reading(command) else {
        return Vec::new();
    };
    read.commands
        .iter()
        .filter_map(|s| {
            let w = words(s);
            let w = refs(&w);
            let ["docker", rest @ ..] = w.as_slice() else {
                return None;
            };
            let mut i = 0;
            while rest.get(i).is_some_and(|a| a.starts_with('-')) {
                i += if DOCKER_VALUE_FLAGS.contains(&rest[i]) {
                    2
                } else {
                    1
                };
            }
            let after = match rest.get(i..)? {
                ["exec", after @ ..] | ["container", "exec", after @ ..] => after,
                _ => return None,
            };
            let mut j = 0;
            while let Some(a) = after.get(j) {
                if a.starts_with('-') {
                    j += if DOCKER_EXEC_VALUE_FLAGS.contains(a) {
                        2
                    } else {
                        1
                    };
                    continue;
                }
                return Some(a.to_string());
            }
            None
        })
        .collect()
}

fn part_read_only(words: &[String]) -> bool {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let w = match w.as_slice() {
        ["sudo", rest @ ..] => rest.to_vec(),
        // `docker container exec` is `docker exec`
        ["docker", "container", rest @ ..] => std::iter::once("docker")
            .chain(rest.iter().copied())
            .collect(),
        other => other.to_vec(),
    };
    let w = w.as_slice();
    match w {
        [] => false,
        ["kubectl", rest @ ..] => match verb(rest) {
            Some("exec") => inner(rest, "exec").is_some_and(|c| part_read_only(&c)),
            Some(v) => KUBECTL_READ_VERBS.contains(&v) && !rest.contains(&"-w"),
            None => false,
        },
        ["docker", rest @ ..] => match verb(rest) {
            Some("exec") => inner(rest, "exec").is_some_and(|c| part_read_only(&c)),
            Some(v) => DOCKER_READ_VERBS.contains(&v),
            None => false,
        },
        ["ip", rest @ ..] => ip_read_only(rest),
        // a command given as words (`kubectl exec POD -- timeout 3 ping x`): what it bounds
        ["timeout", rest @ ..] => {
            let at = rest
                .iter()
                .position(|a| !a.starts_with('-'))
                .map_or(rest.len(), |i| i + 1);
            let inner: Vec<String> = rest[at.min(rest.len())..]
                .iter()
                .map(|s| s.to_string())
                .collect();
            part_read_only(&inner)
        }
        ["iptables" | "ip6tables", rest @ ..] => {
            rest.iter().any(|a| {
                matches!(*a, "-L" | "-S" | "--list" | "--list-rules")
                    || (a.starts_with('-') && !a.starts_with("--") && a.contains('L'))
            }) && !rest.iter().any(|a| {
                matches!(
                    *a,
                    "-A" | "-I" | "-D" | "-F" | "-N" | "-X" | "-P" | "-R" | "-Z" | "-E"
                )
            })
        }
        ["curl", rest @ ..] => !rest.iter().any(|a| {
            // `-XPOST`, `-dx=1`, `--data-binary`, `--request=PUT`: as curl reads them
            ["-X", "-d", "-T", "-o", "-O", "-F"]
                .iter()
                .any(|f| a.starts_with(f))
                || [
                    "--request",
                    "--data",
                    "--upload-file",
                    "--output",
                    "--remote-name",
                    "--form",
                    "--json",
                ]
                .iter()
                .any(|f| a.starts_with(f))
        }),
        ["bridge", rest @ ..] => rest.len() <= 1 || rest.get(1).is_some_and(|a| *a == "show"),
        ["sysctl", rest @ ..] => !rest.iter().any(|a| *a == "-w" || a.contains('=')),
        ["conntrack", rest @ ..] => rest.iter().any(|a| *a == "-L" || *a == "--dump"),
        [p, ..] => READ_ONLY_PROGRAMS.contains(p),
    }
}

/// `ip [-n NS] [-4|-6|-o|-d …] OBJECT [ACTION …]`; `ip netns exec NS CMD` reads when CMD does.
fn ip_read_only(args: &[&str]) -> bool {
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        i += if matches!(args[i], "-n" | "-netns" | "-f" | "-family") {
            2
        } else {
            1
        };
    }
    let Some(object) = args.get(i) else {
        return false;
    };
    let action = args.get(i + 1).copied();
    if *object == "netns" && action == Some("exec") {
        let cmd: Vec<String> = args.iter().skip(i + 3).map(|s| s.to_string()).collect();
        return part_read_only(&cmd);
    }
    match action {
        None => true,
        Some(a) if IP_READ_ACTIONS.contains(&a) => true,
        // `ip a dev eth0` style: a word that is not a known writing action
        Some(a) => !matches!(
            a,
            "add"
                | "a"
                | "del"
                | "delete"
                | "d"
                | "set"
                | "flush"
                | "change"
                | "replace"
                | "append"
                | "exec"
                | "attach"
                | "identify"
                | "pids"
                | "monitor"
                | "save"
                | "restore"
        ),
    }
}

/// The first word that is not a flag (or a flag's value) after the program.
fn verb<'a>(args: &[&'a str]) -> Option<&'a str> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if a.starts_with('-') {
            // `--context x`, `-n ns`: flags that take a separate value
            let takes_value = matches!(
                a,
                "-n" | "--namespace" | "--context" | "--kubeconfig" | "--cluster" | "-H" | "--host"
            );
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        return Some(a);
    }
    None
}

/// The command run inside `kubectl exec POD [--] CMD` / `docker exec CONTAINER CMD`.
fn inner(args: &[&str], word: &str) -> Option<Vec<String>> {
    let start = args.iter().position(|a| *a == word)? + 1;
    let rest = &args[start..];
    if let Some(dd) = rest.iter().position(|a| *a == "--") {
        return Some(rest[dd + 1..].iter().map(|s| s.to_string()).collect());
    }
    let mut i = 0;
    let mut target_seen = false;
    while i < rest.len() {
        let a = rest[i];
        if a.starts_with('-') {
            let takes_value = matches!(
                a,
                "-c" | "--container"
                    | "-n"
                    | "--namespace"
                    | "-u"
                    | "--user"
                    | "-e"
                    | "--env"
                    | "-w"
                    | "--workdir"
            );
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        if !target_seen {
            target_seen = true;
            i += 1;
            continue;
        }
        return Some(rest[i..].iter().map(|s| s.to_string()).collect());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_commands_from_the_lab() {
        for c in [
            "kubectl get pods -o wide",
            "kubectl describe svc clusterip-service",
            "kubectl exec dnsutils -- host -v -t a headless-service",
            "kubectl exec app-9cc7d9df8-ffsm6 ip a",
            "kubectl exec -it dnsutils -- dig headless-service",
            "docker exec -it kind-worker iptables -L -t nat",
            "docker exec kind-control-plane iptables -t nat -nvL KUBE-SERVICES",
            "docker ps",
            "ip a",
            "ip -n pod1 addr show",
            "ip r",
            "ip netns",
            "ip netns exec pod1 ip route",
            "ip netns exec pod1 ping -c 1 10.0.0.3",
            "curl localhost/host",
            "cat /etc/resolv.conf | grep nameserver",
            "iptables -L -t nat",
        ] {
            assert!(read_only(c), "{c} should be read-only");
        }
    }

    #[test]
    fn commands_that_change_something_are_not() {
        for c in [
            "kubectl apply -f web.yaml",
            "kubectl label pod app-5586fc9d77-7frts app=nope --overwrite",
            "kubectl exec app -- rm -rf /tmp/x",
            "kind create cluster --config kind-ingress.yaml",
            "ip netns add pod1",
            "ip link set veth1 up",
            "ip -n pod1 addr add 10.0.0.2/24 dev eth0",
            "ip netns exec pod1 ip link set lo up",
            "iptables -A INPUT -j DROP",
            "curl -X POST localhost/data",
            "echo hi > file",
            "docker run busybox",
            "kubectl get pods && kubectl delete pod x",
        ] {
            assert!(!read_only(c), "{c} should not be read-only");
        }
    }

    #[test]
    fn every_unbounded_row_is_unbounded_and_its_bounds_bound_it() {
        for u in UNBOUNDED {
            let mut words = vec![u.program];
            words.extend(u.verb);
            words.extend(u.when.first());
            words.push("target");
            let c = words.join(" ");
            assert_eq!(kind(&c), Kind::Watch, "{c}");
            for bound in u.unless {
                let bounded = format!("{c} {bound} 3");
                assert_eq!(kind(&bounded), Kind::Plain, "{bounded}");
            }
            assert_eq!(kind(&format!("timeout 5 {c}")), Kind::Plain);
            assert_eq!(kind(&format!("{c} | head -n 3")), Kind::Plain);
        }
        assert_eq!(kind("ping -c3 10.0.0.3"), Kind::Plain);
        assert_eq!(kind("ping --count=3 10.0.0.3"), Kind::Plain);
        assert_eq!(kind("ip netns exec pod1 ping 10.0.0.3"), Kind::Watch);
        assert_eq!(kind("ip netns exec pod1 ping -c 1 10.0.0.3"), Kind::Plain);
        assert_eq!(kind("docker exec kind-worker ping 10.244.1.4"), Kind::Watch);
        assert_eq!(
            kind("kubectl exec dnsutils -- ping 10.244.1.4"),
            Kind::Watch
        );
        assert_eq!(
            kind("kubectl exec dnsutils -- timeout 3 ping x"),
            Kind::Plain
        );
        assert_eq!(kind("sudo ping 10.0.0.3"), Kind::Watch);
        assert_eq!(kind("ping 10.0.0.3 | grep ttl"), Kind::Watch);
        assert_eq!(kind("kubectl logs app"), Kind::Plain);
        assert_eq!(kind("tail -n 5 file"), Kind::Plain);
        // what ping prints only as it is interrupted
        let stats = epilogue("ip netns exec pod2 ping 10.244.1.2").unwrap();
        let line = "--- 10.244.1.2 ping statistics ---";
        assert!(line.starts_with(stats.0) && line.ends_with(stats.1));
        assert_eq!(epilogue("kubectl get pods -w"), None);
        assert_eq!(
            epilogue("ping -c 1 10.0.0.1"),
            None,
            "bounded: it ends by itself"
        );
    }

    #[test]
    fn watches_and_background_steps() {
        assert_eq!(kind("kubectl get pods -w"), Kind::Watch);
        assert_eq!(kind("kubectl get endpoints --watch"), Kind::Watch);
        assert_eq!(kind("watch -n1 ip r"), Kind::Watch);
        assert_eq!(kind("tail -f events.log"), Kind::Watch);
        assert_eq!(kind("kubectl logs -f app-5586fc9d77-7frts"), Kind::Watch);
        assert_eq!(kind("kubectl logs app-5586fc9d77-7frts"), Kind::Plain);
        assert_eq!(kind("python3 -m http.server 8000 &"), Kind::Background);
        assert_eq!(kind("true && false"), Kind::Plain);
        assert_eq!(kind("kubectl get pods"), Kind::Plain);
        assert_eq!(foreground("sleep 5 &"), "sleep 5");
        assert_eq!(foreground("a && b"), "a && b");
    }

    #[test]
    fn cluster_changes_and_cluster_talk() {
        assert!(changes_cluster("kubectl apply -f web.yaml"));
        assert!(changes_cluster(
            "kubectl -n x scale deploy app --replicas=4"
        ));
        assert!(changes_cluster("kind create cluster --name kind"));
        assert!(!changes_cluster("kubectl get pods"));
        assert!(talks_to_cluster("kubectl get pods | grep app"));
        assert!(!talks_to_cluster("docker ps"));
        assert!(reaches_clusters("kind delete cluster"));
        assert_eq!(
            docker_exec_targets("docker exec -it kind-worker iptables -L | grep KUBE"),
            ["kind-worker"]
        );
        assert_eq!(
            docker_exec_targets("docker exec -e A=1 -w /tmp kind-control-plane ls"),
            ["kind-control-plane"]
        );
        assert!(docker_exec_targets("docker ps").is_empty());
        assert!(!reaches_clusters("echo kind"));
    }

    #[test]
    fn cluster_programs_are_seen_anywhere_in_the_text() {
        for c in [
            "for i in 1 2; do kubectl delete pod x$i; done",
            "echo $(kubectl get pods)",
            "bash -c 'helm list'",
            "env KUBECONFIG=x kubectl get pods",
            "kubectl-ns list",
            "echo 'unclosed; kubectl get pods",
        ] {
            assert!(talks_to_cluster(c), "{c}");
        }
        assert!(reaches_clusters("sudo kind delete cluster"));
        assert!(reaches_clusters("if true; then kind get nodes; fi"));
        assert!(!talks_to_cluster("echo kubectl"));
        assert!(!talks_to_cluster("ip netns exec pod1 ping -c 1 10.0.0.3"));
        for p in CLUSTER_PROGRAMS {
            assert!(talks_to_cluster(&format!("{p} version")), "{p}");
        }
    }
}
