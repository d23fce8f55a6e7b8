//! The mask table: which values of a printed output change from run to run, as data.
//!
//! In: nothing (a table). Out: [`CLASSES`] (each class and its [`Kind`]) and [`MASKS`] (each
//! mask's pattern, the commands it applies after, the values it keeps, a check of what it
//! matched, and an example that a test runs), and the checks the table names.

/// How the values of a class relate to each other and to later commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Identity,
    Placement,
    Volatile,
}

/// Every class a built-in mask produces, with its kind. A `static`, not a `const`: a class's
/// name is compared by its address ([`super::Class`]), so there must be one copy of each.
pub static CLASSES: &[(&str, Kind)] = &[
    ("IP", Kind::Identity),
    ("MAC", Kind::Identity),
    ("CONTAINER", Kind::Identity),
    ("NETNS", Kind::Identity),
    ("UID", Kind::Identity),
    ("HASH", Kind::Identity),
    ("POD", Kind::Identity),
    ("RS", Kind::Identity),
    ("NAME", Kind::Identity),
    ("VETH", Kind::Identity),
    ("PID", Kind::Identity),
    ("PORT", Kind::Identity),
    ("NODE", Kind::Placement),
    ("AGE", Kind::Volatile),
    ("TIME", Kind::Volatile),
    ("IFINDEX", Kind::Volatile),
    ("DNSID", Kind::Volatile),
    ("TTL", Kind::Volatile),
    ("MS", Kind::Volatile),
    ("CPU", Kind::Volatile),
    ("MEM", Kind::Volatile),
    ("VSZ", Kind::Volatile),
    ("RSS", Kind::Volatile),
    ("START", Kind::Volatile),
    ("CPUTIME", Kind::Volatile),
];

/// One mask. Every named group of `pattern` is masked; the group's name is the class, with an
/// optional `__form` suffix naming how the value is written (see `Form::canonical`).
pub struct MaskSpec {
    pub name: &'static str,
    pub pattern: &'static str,
    /// Only after commands matching this pattern.
    pub when: Option<&'static str>,
    /// Values that are never masked (constants that happen to look volatile).
    pub keep: &'static [&'static str],
    /// An extra test a value must pass (octets ≤ 255, not all digits, …).
    pub valid: Option<fn(&str) -> bool>,
    /// (command, input line, its shape): checked by a test for every entry.
    pub example: (&'static str, &'static str, &'static str),
}

// Generated names use Kubernetes' "safe" alphabet, `bcdfghjklmnpqrstvwxz2456789`: no vowels,
// so English words do not look generated. A generated suffix ends the name: one followed by
// `-` and more name (`labrun-29567-worker`) is part of another name, not a suffix.
/// The mask table. Order is priority: where two masks claim overlapping text, the earlier wins.
pub static MASKS: &[MaskSpec] = &[
    MaskSpec {
        name: "rfc3339-timestamp",
        pattern: r"(?P<TIME>\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "",
            "trigger-time: 2021-01-30T18:16:09Z",
            "trigger-time: <TIME>",
        ),
    },
    MaskSpec {
        name: "date-default",
        pattern: r"(?P<TIME>\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} (?:[A-Z]{2,5} |[+-]\d{4} )?\d{4})",
        when: None,
        keep: &[],
        valid: None,
        example: ("date", "Sat Dec  5 22:20:08 UTC 2026", "<TIME>"),
    },
    MaskSpec {
        name: "http-date",
        pattern: r"(?P<TIME>\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} (?:GMT|UTC|[+-]\d{4}))",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "curl -sI localhost:8080",
            "Date: Sat, 05 Dec 2026 22:20:08 GMT",
            "Date: <TIME>",
        ),
    },
    MaskSpec {
        name: "ls-long-time",
        pattern: r"(?P<TIME>\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d (?:\d{2}:\d{2}| \d{4}))",
        when: Some(r"\bls\b"),
        keep: &[],
        valid: None,
        example: (
            "ls -l",
            "-rw-r--r-- 1 root root 6 Dec  5 22:20 status.txt",
            "-rw-r--r-- 1 root root 6 <TIME> status.txt",
        ),
    },
    MaskSpec {
        name: "docker-relative-time",
        pattern: r"(?P<AGE>\b(?:About (?:a|an) (?:minute|hour)|Less than a second|\d+ (?:seconds?|minutes?|hours?|days?|weeks?|months?|years?))(?: ago)?)",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "docker ps",
            "About an hour ago   Up 5 minutes",
            "<AGE> Up <AGE>",
        ),
    },
    MaskSpec {
        name: "kubectl-age",
        pattern: r"(?:^|[\s(])(?P<AGE>(?:\d+[ydhms]){1,4})(?:$|[\s)])",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "kubectl get pods",
            "dnsutils   1/1   Running   0   3m6s",
            "dnsutils 1/1 Running 0 <AGE>",
        ),
    },
    MaskSpec {
        name: "cni-netns",
        pattern: r"\b(?P<NETNS>cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "",
            "link-netns cni-c18c44cb-6c3e-c48d-b783-e7850d40e01c",
            "link-netns <NETNS>",
        ),
    },
    MaskSpec {
        name: "uuid",
        pattern: r"\b(?P<UID>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "",
            "UID: 3f1e2d4c-5b6a-4789-9abc-def012345678",
            "UID: <UID>",
        ),
    },
    MaskSpec {
        name: "container-id",
        pattern: r"\b(?P<CONTAINER>[0-9a-f]{64}|[0-9a-f]{12})\b",
        when: None,
        keep: &[],
        valid: Some(has_hex_letter_and_digit),
        example: (
            "docker ps",
            "df6df0736958   kindest/node:v1.18.2",
            "<CONTAINER> kindest/node:v1.18.2",
        ),
    },
    MaskSpec {
        name: "kube-proxy-chain",
        pattern: r"\bKUBE-(?:SVC|SEP|FW|XLB|EXT|SVL|FWS)-(?P<HASH>[A-Z0-9]{16})\b",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "",
            "Chain KUBE-SVC-V7R3EVKW3DT43QQM (1 references)",
            "Chain KUBE-SVC-<HASH> (1 references)",
        ),
    },
    MaskSpec {
        name: "mac-address",
        pattern: r"\b(?P<MAC>[0-9a-f]{2}(?::[0-9a-f]{2}){5})\b",
        when: None,
        keep: &["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"],
        valid: None,
        example: (
            "ip a",
            "link/ether 76:e6:c5:a4:71:7d brd ff:ff:ff:ff:ff:ff",
            "link/ether <MAC> brd ff:ff:ff:ff:ff:ff",
        ),
    },
    MaskSpec {
        name: "ipv6-address",
        pattern: r"(?:^|[^0-9A-Za-z:])(?P<IP>(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,6}:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,5}|(?:[0-9a-f]{1,4}:){1,7}:|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})(?:$|[^0-9A-Za-z:])",
        when: None,
        keep: &["::1", "::"],
        valid: None,
        example: (
            "ip a",
            "inet6 fe80::42:acff:fe12:4/64 scope link",
            "inet6 <IP>/64 scope link",
        ),
    },
    MaskSpec {
        name: "ipv4-reverse-dns",
        pattern: r"\b(?P<IP__rev>\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\.in-addr\.arpa\b",
        when: None,
        keep: &[],
        valid: Some(octets),
        example: (
            "host 10.244.1.4",
            "4.1.244.10.in-addr.arpa domain name pointer",
            "<IP>.in-addr.arpa domain name pointer",
        ),
    },
    MaskSpec {
        name: "ipv4-dashed",
        pattern: r"\b(?P<IP__dash>\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3})\b",
        when: None,
        keep: &[],
        valid: Some(octets),
        example: (
            "",
            "pointer 10-244-1-4.clusterip-service.default.svc.",
            "pointer <IP>.clusterip-service.default.svc.",
        ),
    },
    MaskSpec {
        name: "ipv4-address",
        pattern: r"\b(?P<IP>\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b",
        when: None,
        keep: &["0.0.0.0", "127.0.0.1", "255.255.255.255"],
        valid: Some(octets),
        example: (
            "",
            "inet 10.244.1.4/24 brd 10.244.1.255 scope global eth0",
            "inet <IP>/24 brd <IP> scope global eth0",
        ),
    },
    MaskSpec {
        name: "ephemeral-host-port",
        pattern: r":(?P<PORT>\d{5})->\d+/(?:tcp|udp|sctp)",
        when: None,
        keep: &[],
        valid: Some(ephemeral),
        example: (
            "docker ps",
            "127.0.0.1:52321->6443/tcp",
            "127.0.0.1:<PORT>->6443/tcp",
        ),
    },
    MaskSpec {
        name: "deployment-pod-name",
        pattern: r"\b[a-z0-9](?:[-a-z0-9]*[a-z0-9])?-(?P<POD>[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5})\b",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "kubectl get pods",
            "app-9cc7d9df8-ffsm6   1/1",
            "app-<POD> 1/1",
        ),
    },
    MaskSpec {
        name: "replicaset-name",
        pattern: r"\b[a-z0-9](?:[-a-z0-9]*[a-z0-9])?-(?P<RS>[bcdfghjklmnpqrstvwxz2456789]{6,10})(?:$|[^-0-9a-z])",
        when: None,
        keep: &[],
        valid: Some(has_digit),
        example: (
            "kubectl get rs",
            "app-9cc7d9df8   4   4   4",
            "app-<RS> 4 4 4",
        ),
    },
    MaskSpec {
        name: "generated-name-suffix",
        pattern: r"\b[a-z0-9](?:[-a-z0-9]*[a-z0-9])?-(?P<NAME>[bcdfghjklmnpqrstvwxz2456789]{5})(?:$|[^-0-9a-z])",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "kubectl get endpointslice",
            "clusterip-service-l2n9q   IPv4",
            "clusterip-service-<NAME> IPv4",
        ),
    },
    MaskSpec {
        name: "kind-worker-node",
        pattern: r"\b(?P<NODE>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?-worker\d*)\b",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "kubectl get pods -o wide",
            "10.244.1.3   kind-worker2   <none>",
            "<IP> <NODE> <none>",
        ),
    },
    MaskSpec {
        name: "veth-name",
        pattern: r"\b(?P<VETH>(?:veth|cali|lxc)[0-9a-f]{6,})\b",
        when: None,
        keep: &[],
        valid: None,
        example: ("ip a", "scope global veth608eddaa", "scope global <VETH>"),
    },
    MaskSpec {
        name: "ip-link-index",
        pattern: r"^(?P<IFINDEX>\d+): [^\s:]+: <",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "ip a",
            "11: eth0@if12: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500",
            "<IFINDEX>: eth0@if<IFINDEX>: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500",
        ),
    },
    MaskSpec {
        name: "ip-link-peer-index",
        pattern: r"@if(?P<IFINDEX>\d+)\b",
        when: None,
        keep: &[],
        valid: None,
        example: ("ip a", "5: eth0@if5:", "5: eth0@if<IFINDEX>:"),
    },
    MaskSpec {
        name: "netns-id",
        pattern: r"(?:link-netnsid |\(id: )(?P<IFINDEX>\d+)\b",
        when: None,
        keep: &[],
        valid: None,
        example: ("ip netns list", "red (id: 2)", "red (id: <IFINDEX>)"),
    },
    MaskSpec {
        name: "pid-list",
        pattern: r"^\s*(?P<PID>\d+)\s*$",
        when: Some(r"\b(?:ip netns pid|pidof|pgrep)\b|\becho \$!|\$\$"),
        keep: &[],
        valid: None,
        example: ("ip netns pid red", "4687", "<PID>"),
    },
    MaskSpec {
        name: "ps-row",
        pattern: r"^\S+\s+(?P<PID>\d+)\s+(?P<CPU>\d+\.\d)\s+(?P<MEM>\d+\.\d)\s+(?P<VSZ>\d+)\s+(?P<RSS>\d+)\s+\S+\s+\S+\s+(?P<START>\S+)\s+(?P<CPUTIME>\d+:\d{2}(?::\d{2})?)\s",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "ps aux",
            "root      4687  0.0  0.0    968     4 ?        Ss   17:00   0:00 /pause",
            "root <PID> <CPU> <MEM> <VSZ> <RSS> ? Ss <START> <CPUTIME> /pause",
        ),
    },
    MaskSpec {
        name: "dns-message-id",
        pattern: r"opcode: \w+, status: \w+, id: (?P<DNSID>\d+)",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "host -v",
            ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 45294",
            ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: <DNSID>",
        ),
    },
    MaskSpec {
        name: "dns-ttl",
        pattern: r"^\S+\.\s+(?P<TTL>\d+)\s+IN\s",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "host -v",
            "github.com.             30      IN      A       140.82.112.3",
            "github.com. <TTL> IN A <IP>",
        ),
    },
    MaskSpec {
        name: "dns-query-time",
        pattern: r"(?:\bin (?P<MS>\d+) ms\b|Query time: (?P<MS__dig>\d+) msec)",
        when: None,
        keep: &[],
        valid: None,
        example: (
            "host -v",
            "Received 54 bytes from 10.96.0.10#53 in 18 ms",
            "Received 54 bytes from <IP>#53 in <MS> ms",
        ),
    },
    MaskSpec {
        name: "ping-time",
        pattern: r"(?:\btime[=<](?P<MS>\d+(?:\.\d+)?) ?ms\b|packet loss, time (?P<MS__total>\d+)ms\b)",
        when: Some(r"\bping6?\b"),
        keep: &[],
        valid: None,
        example: (
            "ping -c 2 10.244.1.3",
            "64 bytes from 10.244.1.3: icmp_seq=1 ttl=64 time=0.304 ms",
            "64 bytes from <IP>: icmp_seq=1 ttl=64 time=<MS> ms",
        ),
    },
    MaskSpec {
        name: "ping-rtt-summary",
        pattern: r"(?:rtt|round-trip) min/avg/max(?:/mdev|/stddev)? = (?P<MS__min>[\d.]+)/(?P<MS__avg>[\d.]+)/(?P<MS__max>[\d.]+)(?:/(?P<MS__mdev>[\d.]+))?",
        when: Some(r"\bping6?\b"),
        keep: &[],
        valid: None,
        example: (
            "ping -c 2 10.244.1.3",
            "rtt min/avg/max/mdev = 0.069/0.186/0.304/0.117 ms",
            "rtt min/avg/max/mdev = <MS>/<MS>/<MS>/<MS> ms",
        ),
    },
];

pub(super) fn octets(v: &str) -> bool {
    v.split(['.', '-'])
        .all(|o| o.parse::<u16>().is_ok_and(|n| n <= 255))
}

fn ephemeral(v: &str) -> bool {
    v.parse::<u32>().is_ok_and(|n| (32768..=65535).contains(&n))
}

fn has_digit(v: &str) -> bool {
    v.chars().any(|c| c.is_ascii_digit())
}

fn has_hex_letter_and_digit(v: &str) -> bool {
    has_digit(v) && v.chars().any(|c| c.is_ascii_alphabetic())
}
