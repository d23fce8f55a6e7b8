//! Stage 4a, normalize: printed or live output becomes [`Line`]s whose volatile values are
//! masked.
//!
//! In: a text (and the command that printed it, for masks that only make sense after certain
//! commands). Out: one [`Line`] per input line: its *shape* (the text with every masked value
//! replaced by `<CLASS>` and runs of inner white space folded, so a realigned table has the
//! same shape) and its *slots* (the masked values, in order, with their class).
//!
//! The masks are data: [`MASKS`] is the one table, each entry with an example that a test
//! checks. Users add masks in `labrun.toml`. A class is [`Kind::Identity`] (numbered by first
//! appearance, so `<IP1> … <IP1>` demands the same address twice; bound for rewriting later
//! commands), [`Kind::Placement`] (not numbered, bound: which node a pod landed on) or
//! [`Kind::Volatile`] (not numbered, not bound: ages, TTLs, CPU time).

use rustc_hash::FxHashMap as HashMap;
use std::sync::LazyLock;

use regex::Regex;
use regex::bytes::RegexSet;

/// How the values of a class relate to each other and to later commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Identity,
    Placement,
    Volatile,
}

/// Every class a built-in mask produces, with its kind.
pub const CLASSES: &[(&str, Kind)] = &[
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
/// optional `__form` suffix naming how the value is written (see [`canonical`]).
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

fn octets(v: &str) -> bool {
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

/// The canonical value of a masked text: IPv4 in its dashed and reverse-DNS forms becomes
/// dotted, so that all three forms of one address share one placeholder and one binding.
pub fn canonical(form: &str, value: &str) -> String {
    match form {
        "dash" => value.replace('-', "."),
        "rev" => {
            let mut parts: Vec<&str> = value.split('.').collect();
            parts.reverse();
            parts.join(".")
        }
        _ => value.to_string(),
    }
}

/// All the ways a canonical value of `class` may be written in a command.
pub fn forms(class: &str, value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    if class == "IP" && value.contains('.') && octets(value) {
        out.push(value.replace('.', "-"));
        let mut parts: Vec<&str> = value.split('.').collect();
        parts.reverse();
        out.push(format!("{}.in-addr.arpa", parts.join(".")));
    }
    out
}

/// A masked value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub class: String,
    /// Canonical value (see [`canonical`]); for a snapshot's placeholder, its label (`IP1`).
    pub value: String,
}

/// A masked value and where it stands in its line (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub slot: Slot,
}

/// A line after masking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line with masked values as `<CLASS>` and inner white space folded.
    pub shape: String,
    pub slots: Vec<Slot>,
}

/// The built-in table, compiled once per process (regexes are shared, cloning is cheap).
static BUILT_IN: LazyLock<Result<Vec<Compiled>, String>> = LazyLock::new(|| {
    MASKS
        .iter()
        .map(|spec| compile(spec.pattern, None, spec.when, spec.keep, spec.valid))
        .collect()
});

#[derive(Clone)]
struct Compiled {
    regex: Regex,
    when: Option<Regex>,
    keep: Vec<String>,
    valid: Option<fn(&str) -> bool>,
    /// For each capture group index: (class, form).
    groups: Vec<Option<(String, String)>>,
}

/// A user-defined mask from configuration.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserMask {
    pub name: String,
    /// A regex; its named groups are masked (the group name is the class), or, without named
    /// groups, the whole match is masked as `class`.
    pub pattern: String,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
}

/// The compiled mask table, built-in masks first, then the user's.
pub struct Normalizer {
    masks: Vec<Compiled>,
    kinds: HashMap<String, Kind>,
    /// Every mask's pattern in one automaton, ASCII semantics: which masks can match a line
    /// is one pass over it; only those then run. On an ASCII line ASCII and Unicode classes
    /// (`\b`, `\d`, `\s`, `\w`) agree, so the answer is exact; other lines run every mask.
    set: Option<RegexSet>,
}

/// The one-pass automaton over `masks`, in their order (none when a pattern has no ASCII
/// form: then every mask runs on every line).
fn mask_set(masks: &[Compiled]) -> Option<RegexSet> {
    RegexSet::new(masks.iter().map(|m| format!("(?-u:{})", m.regex.as_str()))).ok()
}

static BUILT_IN_SET: LazyLock<Option<RegexSet>> =
    LazyLock::new(|| BUILT_IN.as_ref().ok().and_then(|m| mask_set(m)));

static ANSI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07").unwrap());
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([A-Z][A-Z0-9_]*?)(\d*)>").unwrap());

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new(&[]).expect("the built-in masks compile")
    }
}

impl Normalizer {
    /// Built-in masks plus `user` masks. An error names the user mask that does not compile.
    pub fn new(user: &[UserMask]) -> Result<Self, String> {
        let mut masks = BUILT_IN.as_ref().map_err(Clone::clone)?.clone();
        let mut kinds: HashMap<String, Kind> =
            CLASSES.iter().map(|(c, k)| (c.to_string(), *k)).collect();
        for m in user {
            let kind = match m.kind.as_deref() {
                None | Some("identity") => Kind::Identity,
                Some("placement") => Kind::Placement,
                Some("volatile") => Kind::Volatile,
                Some(other) => {
                    return Err(format!(
                        "mask `{}`: kind `{other}` is not identity, placement or volatile",
                        m.name
                    ));
                }
            };
            let c = compile(&m.pattern, m.class.as_deref(), None, &[], None)
                .map_err(|e| format!("mask `{}`: {e}", m.name))?;
            for (class, _) in c.groups.iter().flatten() {
                kinds.entry(class.clone()).or_insert(kind);
            }
            masks.insert(0, c); // the user's masks take priority
        }
        let set = if user.is_empty() {
            BUILT_IN_SET.clone()
        } else {
            mask_set(&masks)
        };
        Ok(Normalizer { masks, kinds, set })
    }

    /// The masks that apply to what `command` printed (a mask's `when`), by index.
    fn active(&self, command: &str) -> Vec<usize> {
        (0..self.masks.len())
            .filter(|&i| {
                self.masks[i]
                    .when
                    .as_ref()
                    .is_none_or(|w| w.is_match(command))
            })
            .collect()
    }

    /// The claims of `line` under the `active` masks: only the masks the one-pass automaton
    /// says can match run.
    fn claims_of(&self, line: &str, active: &[usize]) -> Vec<(usize, usize, String, String)> {
        match &self.set {
            Some(set) if line.is_ascii() => {
                let hits = set.matches(line.as_bytes());
                if !hits.matched_any() {
                    return Vec::new();
                }
                let masks = active.iter().filter(|&&i| hits.matched(i));
                Self::claims(line, masks.map(|&i| &self.masks[i]))
            }
            _ => Self::claims(line, active.iter().map(|&i| &self.masks[i])),
        }
    }

    /// The kind of a class (unknown classes count as identity).
    pub fn kind(&self, class: &str) -> Kind {
        self.kinds.get(class).copied().unwrap_or(Kind::Identity)
    }

    /// Mask every line of `text` printed by `command`.
    pub fn lines(&self, text: &str, command: &str) -> Vec<Line> {
        let active = self.active(command);
        clean_lines(text).map(|l| self.line(&l, &active)).collect()
    }

    /// The masked values of one clean line (see [`clean_lines`]) printed by `command`: where
    /// each stands, its class and canonical value, in order. What `promote` rewrites.
    pub fn spans(&self, line: &str, command: &str) -> Vec<Span> {
        self.claims_of(line, &self.active(command))
            .into_iter()
            .map(|(start, end, class, value)| Span {
                start,
                end,
                slot: Slot { class, value },
            })
            .collect()
    }

    /// Claimed ranges: (start, end, class, canonical value), sorted by start, never
    /// overlapping (the first mask to claim a range keeps it).
    fn claims<'m>(
        line: &str,
        masks: impl Iterator<Item = &'m Compiled>,
    ) -> Vec<(usize, usize, String, String)> {
        let mut claims: Vec<(usize, usize, String, String)> = Vec::new();
        for m in masks {
            // one set of capture slots per mask and line, reused from match to match
            let mut locs = m.regex.capture_locations();
            let mut from = 0;
            while from <= line.len() {
                let Some(whole) = m.regex.captures_read_at(&mut locs, line, from) else {
                    break;
                };
                for (i, group) in m.groups.iter().enumerate() {
                    let (Some((class, form)), Some((s, e))) = (group, locs.get(i)) else {
                        continue;
                    };
                    let value = &line[s..e];
                    if m.keep.iter().any(|k| k == value) || m.valid.is_some_and(|f| !f(value)) {
                        continue;
                    }
                    let at = claims.partition_point(|c| c.0 < s);
                    let overlaps_prev = at > 0 && claims[at - 1].1 > s;
                    let overlaps_next = at < claims.len() && claims[at].0 < e;
                    if !overlaps_prev && !overlaps_next {
                        claims.insert(at, (s, e, class.clone(), canonical(form, value)));
                    }
                }
                // the next match starts where this one ended (past an empty one: the next
                // character)
                from = if whole.end() > whole.start() {
                    whole.end()
                } else {
                    whole.end() + line[whole.end()..].chars().next().map_or(1, char::len_utf8)
                };
            }
        }
        claims
    }

    fn line(&self, line: &str, active: &[usize]) -> Line {
        let claims = self.claims_of(line, active);
        let mut shape = String::with_capacity(line.len());
        let mut slots = Vec::with_capacity(claims.len());
        let mut pos = 0;
        for (s, e, class, value) in claims {
            fold_into(&mut shape, &line[pos..s]);
            shape.push('<');
            shape.push_str(&class);
            shape.push('>');
            slots.push(Slot { class, value });
            pos = e;
        }
        fold_into(&mut shape, &line[pos..]);
        Line { shape, slots }
    }

    /// Read text that is already normalized (a snapshot): placeholders become slots whose
    /// value is their label, so `<IP1>` in two places still demands one value.
    pub fn parse_normalized(&self, text: &str) -> Vec<Line> {
        clean_lines(text)
            .map(|l| {
                let mut shape = String::new();
                let mut slots = Vec::new();
                let mut pos = 0;
                for caps in PLACEHOLDER.captures_iter(&l) {
                    let class = &caps[1];
                    if !self.kinds.contains_key(class) {
                        continue;
                    }
                    let m = caps.get(0).unwrap();
                    fold_into(&mut shape, &l[pos..m.start()]);
                    shape.push_str(&format!("<{class}>"));
                    let label = if caps[2].is_empty() {
                        format!("{class}?{}", slots.len())
                    } else {
                        format!("{class}{}", &caps[2])
                    };
                    slots.push(Slot {
                        class: class.to_string(),
                        value: label,
                    });
                    pos = m.end();
                }
                fold_into(&mut shape, &l[pos..]);
                Line { shape, slots }
            })
            .collect()
    }

    /// Render lines with numbered placeholders for identity classes (`<IP1>`), numbered by
    /// first appearance; `names` may pre-assign labels (value → label) and collects new ones.
    pub fn render(&self, lines: &[Line], names: &mut Labels) -> String {
        self.render_each(lines.iter(), names)
    }

    /// [`Normalizer::render`] of lines given one by one (in another order, without copying).
    pub fn render_each<'a>(
        &self,
        lines: impl Iterator<Item = &'a Line>,
        names: &mut Labels,
    ) -> String {
        let mut out = String::new();
        for (i, line) in lines.enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let mut slots = line.slots.iter();
            let mut rest = line.shape.as_str();
            while let Some(open) = rest.find('<') {
                let Some(close) = rest[open..].find('>') else {
                    break;
                };
                let class = &rest[open + 1..open + close];
                let is_slot = self.kinds.contains_key(class) && {
                    // Only a placeholder if a slot of that class is next.
                    line.slots.iter().any(|s| s.class == class)
                };
                out.push_str(&rest[..open]);
                if is_slot {
                    let slot = slots.next();
                    match (slot, self.kind(class)) {
                        (Some(slot), Kind::Identity) => {
                            out.push('<');
                            out.push_str(&names.label(&slot.class, &slot.value));
                            out.push('>');
                        }
                        _ => out.push_str(&rest[open..=open + close]),
                    }
                } else {
                    out.push_str(&rest[open..=open + close]);
                }
                rest = &rest[open + close + 1..];
            }
            out.push_str(rest);
        }
        out
    }

    /// The text as labrun sees it after masking, placeholders numbered.
    pub fn normalize(&self, text: &str, command: &str) -> String {
        self.render(&self.lines(text, command), &mut Labels::default())
    }
}

/// Placeholder labels per class, by first appearance.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    /// class → value → label
    by_value: HashMap<String, HashMap<String, String>>,
    counts: HashMap<String, usize>,
}

impl Labels {
    pub fn label(&mut self, class: &str, value: &str) -> String {
        if let Some(l) = self.by_value.get(class).and_then(|m| m.get(value)) {
            return l.clone();
        }
        // A snapshot's placeholder keeps its own label.
        let label = if value.starts_with(class)
            && value[class.len()..].chars().all(|c| c.is_ascii_digit())
            && value.len() > class.len()
        {
            value.to_string()
        } else {
            let n = match self.counts.get_mut(class) {
                Some(n) => n,
                None => self.counts.entry(class.to_string()).or_default(),
            };
            *n += 1;
            format!("{class}{n}")
        };
        self.set(class, value, label.clone());
        label
    }

    /// Give `value` the label `label` (for showing live values under the expected labels).
    pub fn set(&mut self, class: &str, value: &str, label: String) {
        match self.by_value.get_mut(class) {
            Some(m) => {
                m.insert(value.to_string(), label);
            }
            None => {
                let mut m = HashMap::default();
                m.insert(value.to_string(), label);
                self.by_value.insert(class.to_string(), m);
            }
        }
    }
}

/// Lines with ANSI escapes, `\r` and trailing white space removed.
pub fn clean_lines(text: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> + '_ {
    text.lines().map(|l| {
        let l = l.strip_suffix('\r').unwrap_or(l);
        let l = l.rsplit('\r').next().unwrap_or(l); // a carriage return overwrites the line
        if l.contains('\x1b') {
            std::borrow::Cow::Owned(ANSI.replace_all(l, "").trim_end().to_string())
        } else {
            std::borrow::Cow::Borrowed(l.trim_end())
        }
    })
}

/// Append `text` to `out`, folding runs of inner white space into one space but keeping the
/// line's leading indentation.
fn fold_into(out: &mut String, text: &str) {
    let mut chars = text.chars().peekable();
    if out.is_empty() {
        while let Some(&c) = chars.peek() {
            if c == ' ' || c == '\t' {
                out.push(c);
                chars.next();
            } else {
                break;
            }
        }
    }
    let mut in_space = false;
    for c in chars {
        if c == ' ' || c == '\t' {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
}

fn compile(
    pattern: &str,
    class: Option<&str>,
    when: Option<&str>,
    keep: &[&str],
    valid: Option<fn(&str) -> bool>,
) -> Result<Compiled, String> {
    let regex = Regex::new(pattern).map_err(|e| e.to_string())?;
    let mut groups: Vec<Option<(String, String)>> = regex
        .capture_names()
        .map(|name| {
            name.map(|n| match n.split_once("__") {
                Some((c, f)) => (c.to_string(), f.to_string()),
                None => (n.to_string(), String::new()),
            })
        })
        .collect();
    if groups.iter().all(Option::is_none) {
        let class = class.ok_or("a pattern without named groups needs a `class`")?;
        groups[0] = Some((class.to_string(), String::new()));
    }
    let when = when
        .map(Regex::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok(Compiled {
        regex,
        when,
        keep: keep.iter().map(|s| s.to_string()).collect(),
        valid,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_masks_form_one_automaton() {
        assert!(
            BUILT_IN_SET.is_some(),
            "every built-in pattern has an ASCII form"
        );
        let n = Normalizer::new(&[]).unwrap();
        assert_eq!(n.set.as_ref().map(RegexSet::len), Some(MASKS.len()));
    }

    #[test]
    fn every_mask_masks_its_example() {
        let n = Normalizer::default();
        for spec in MASKS {
            let (command, input, shape) = spec.example;
            let lines = n.lines(input, command);
            assert_eq!(lines[0].shape, shape, "mask {}", spec.name);
        }
    }

    #[test]
    fn every_class_of_the_table_is_declared() {
        let n = Normalizer::default();
        for spec in MASKS {
            for name in Regex::new(spec.pattern).unwrap().capture_names().flatten() {
                let class = name.split("__").next().unwrap();
                assert!(
                    n.kinds.contains_key(class),
                    "{} uses undeclared {class}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn a_generated_suffix_ends_its_name() {
        let n = Normalizer::default();
        let shape = |t: &str| n.lines(t, "docker ps")[0].shape.clone();
        // digits of the safe alphabet inside a longer name: the name is a node's
        assert_eq!(shape("labrun-bind-29567-worker"), "<NODE>");
        // a real suffix still is one, whatever follows that is not more name
        assert_eq!(
            shape("clusterip-service-l2n9q IPv4"),
            "clusterip-service-<NAME> IPv4"
        );
        assert_eq!(shape("app-9cc7d9df8,db"), "app-<RS>,db");
        assert_eq!(shape("app-9cc7d9df8-ffsm6 1/1"), "app-<POD> 1/1");
    }

    #[test]
    fn identity_values_are_numbered_by_first_appearance() {
        let n = Normalizer::default();
        let text = "inet 10.244.1.1/32 brd 10.244.1.1 scope global veth608eddaa\nvia 10.244.1.4";
        assert_eq!(
            n.normalize(text, "ip a"),
            "inet <IP1>/32 brd <IP1> scope global <VETH1>\nvia <IP2>"
        );
    }

    #[test]
    fn three_forms_of_one_address_share_a_placeholder() {
        let n = Normalizer::default();
        let text = "4.1.244.10.in-addr.arpa domain name pointer 10-244-1-4.clusterip-service.default.svc.cluster.local.";
        assert_eq!(
            n.normalize(text, "host 10.244.1.4"),
            "<IP1>.in-addr.arpa domain name pointer <IP1>.clusterip-service.default.svc.cluster.local."
        );
    }

    #[test]
    fn realigned_columns_have_the_same_shape() {
        let n = Normalizer::default();
        let a = n.lines(
            "postgres   ClusterIP   10.105.214.153   <none>   5432/TCP   23m",
            "",
        );
        let b = n.lines(
            "postgres  ClusterIP  10.96.7.8  <none>        5432/TCP  2d",
            "",
        );
        assert_eq!(a[0].shape, b[0].shape);
    }

    #[test]
    fn statuses_ports_counts_and_plain_names_stay() {
        let n = Normalizer::default();
        let out = n.normalize(
            "postgres-0   0/1   CrashLoopBackOff   3   5m   10.244.1.3   kind-worker2",
            "kubectl get pods -o wide",
        );
        assert_eq!(out, "postgres-0 0/1 CrashLoopBackOff 3 <AGE> <IP1> <NODE>");
        assert_eq!(
            n.normalize("NodePort: echo 30040/TCP", ""),
            "NodePort: echo 30040/TCP"
        );
        assert_eq!(
            n.normalize("Error from server (NotFound): pods \"app\" not found", ""),
            "Error from server (NotFound): pods \"app\" not found"
        );
    }

    #[test]
    fn ansi_carriage_returns_and_trailing_spaces_are_stripped() {
        let n = Normalizer::default();
        assert_eq!(
            n.normalize("\x1b[32mok\x1b[0m   \r\n50%\rdone  ", ""),
            "ok\ndone"
        );
    }

    #[test]
    fn pid_lists_are_masked_only_after_pid_commands() {
        let n = Normalizer::default();
        assert_eq!(
            n.normalize("4687\n4737", "ip netns pid cni-x"),
            "<PID1>\n<PID2>"
        );
        assert_eq!(n.normalize("4687", "cat count"), "4687");
    }

    #[test]
    fn placeholders_read_back_from_snapshots() {
        let n = Normalizer::default();
        let lines = n.parse_normalized("inet <IP1>/32 brd <IP1> <none> <AGE>");
        assert_eq!(lines[0].shape, "inet <IP>/32 brd <IP> <none> <AGE>");
        assert_eq!(lines[0].slots.len(), 3);
        assert_eq!(lines[0].slots[0].value, lines[0].slots[1].value);
        assert_eq!(
            n.render(&lines, &mut Labels::default()),
            "inet <IP1>/32 brd <IP1> <none> <AGE>"
        );
    }

    #[test]
    fn user_masks_take_priority_and_need_a_class() {
        let user = UserMask {
            name: "build".into(),
            pattern: r"build-\d+".into(),
            class: Some("BUILD".into()),
            kind: Some("volatile".into()),
        };
        let n = Normalizer::new(std::slice::from_ref(&user)).unwrap();
        assert_eq!(
            n.normalize("made build-42 at 10.0.0.1", ""),
            "made <BUILD> at <IP1>"
        );
        let bad = UserMask {
            class: None,
            ..user
        };
        assert!(Normalizer::new(&[bad]).is_err());
    }
}
