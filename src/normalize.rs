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

use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use std::sync::{LazyLock, Mutex};

pub use compact_str::CompactString as Value;

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

/// How a masked value is written, from a group name's `__form` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Plain,
    /// IPv4 with dashes (`10-244-1-4`).
    Dash,
    /// IPv4 reversed, as in reverse DNS (`4.1.244.10`).
    Rev,
}

impl Form {
    fn of(suffix: &str) -> Form {
        match suffix {
            "dash" => Form::Dash,
            "rev" => Form::Rev,
            _ => Form::Plain,
        }
    }

    /// The canonical value of a masked text: IPv4 in its dashed and reverse-DNS forms becomes
    /// dotted, so that all three forms of one address share one placeholder and one binding.
    fn canonical(self, value: &str) -> Value {
        match self {
            Form::Plain => Value::from(value),
            Form::Dash => value.replace('-', ".").into(),
            Form::Rev => {
                let mut parts: Vec<&str> = value.split('.').collect();
                parts.reverse();
                parts.join(".").into()
            }
        }
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

/// A class's name, interned: copied, compared and hashed at a pointer's cost. Every name is
/// stored once per process (the built-in ones in [`CLASSES`], the user's the first time they
/// are seen), so two classes of one name are one pointer.
#[derive(Clone, Copy)]
pub struct Class(&'static str);

static INTERNED: LazyLock<Mutex<FxHashSet<&'static str>>> = LazyLock::new(Default::default);

impl Class {
    pub fn new(name: &str) -> Class {
        if let Some((c, _)) = CLASSES.iter().find(|(c, _)| *c == name) {
            return Class(c);
        }
        let mut names = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = names.get(name) {
            return Class(c);
        }
        let c: &'static str = Box::leak(name.into());
        names.insert(c);
        Class(c)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl std::ops::Deref for Class {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl PartialEq for Class {
    fn eq(&self, other: &Class) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Class {}

impl PartialEq<str> for Class {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Class {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::hash::Hash for Class {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        std::ptr::hash(self.0, h)
    }
}

impl std::fmt::Debug for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0, f)
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A masked value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub class: Class,
    /// Canonical value (IPv4 written dotted whatever its form); for a snapshot's placeholder,
    /// its label (`IP1`). Short values (all but the longest ids) are held inline.
    pub value: Value,
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
        .map(|spec| compile(spec.pattern, None, spec.when, spec.keep, spec.valid, false))
        .collect()
});

#[derive(Clone)]
struct Compiled {
    pattern: std::sync::Arc<str>,
    /// The pattern with Unicode classes, for lines that are not ASCII: compiled the first time
    /// one is seen (shared by every copy of the table).
    unicode: std::sync::Arc<std::sync::OnceLock<Regex>>,
    /// The same pattern with ASCII classes, for ASCII lines (where the two agree): a smaller
    /// automaton, so finding a match and its groups is cheaper.
    ascii: Option<regex::bytes::Regex>,
    /// The capture group that is the whole match, when the pattern is one named group with
    /// only zero-width assertions around it (or has no named group): then finding a match is
    /// enough, with no search for its groups.
    whole: Option<usize>,
    when: Option<Regex>,
    keep: Vec<String>,
    valid: Option<fn(&str) -> bool>,
    /// For each capture group index: (class, form).
    groups: Vec<Option<(Class, Form)>>,
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
    kinds: HashMap<&'static str, Kind>,
    /// Every mask's pattern in one automaton, ASCII semantics: which masks can match a line
    /// is one pass over it; only those then run. On an ASCII line ASCII and Unicode classes
    /// (`\b`, `\d`, `\s`, `\w`) agree, so the answer is exact; other lines run every mask.
    set: Option<RegexSet>,
}

/// The one-pass automaton over `masks`, in their order (none when a pattern has no ASCII
/// form: then every mask runs on every line).
fn mask_set(masks: &[Compiled]) -> Option<RegexSet> {
    RegexSet::new(masks.iter().map(|m| format!("(?-u:{})", m.pattern))).ok()
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
        let mut kinds: HashMap<&'static str, Kind> =
            CLASSES.iter().map(|(c, k)| (*c, *k)).collect();
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
            let c = compile(&m.pattern, m.class.as_deref(), None, &[], None, true)
                .map_err(|e| format!("mask `{}`: {e}", m.name))?;
            for (class, _) in c.groups.iter().flatten() {
                kinds.entry(class.as_str()).or_insert(kind);
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
    fn claims_of(&self, line: &str, active: &[usize]) -> Vec<(usize, usize, Class, Value)> {
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

    /// The class of that name, if a mask produces it.
    pub fn class(&self, name: &str) -> Option<Class> {
        self.kinds.get_key_value(name).map(|(c, _)| Class(c))
    }

    /// Mask every line of `text` printed by `command`. A long text is cut at line ends into
    /// one piece per core, masked side by side: each line's mask is its own.
    pub fn lines(&self, text: &str, command: &str) -> Vec<Line> {
        let active = self.active(command);
        let pieces = pieces(text, threads());
        if pieces.len() < 2 {
            return clean_lines(text).map(|l| self.line(&l, &active)).collect();
        }
        std::thread::scope(|scope| {
            let workers: Vec<_> = pieces
                .iter()
                .map(|piece| {
                    let active = &active;
                    scope.spawn(move || {
                        clean_lines(piece)
                            .map(|l| self.line(&l, active))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all = Vec::new();
            for w in workers {
                all.append(&mut w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            }
            all
        })
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
    ) -> Vec<(usize, usize, Class, Value)> {
        let mut claims: Vec<(usize, usize, Class, Value)> = Vec::new();
        let ascii = line.is_ascii();
        for m in masks {
            let mut claim = |i: usize, s: usize, e: usize| {
                let Some((class, form)) = &m.groups[i] else {
                    return;
                };
                let value = &line[s..e];
                if m.keep.iter().any(|k| k == value) || m.valid.is_some_and(|f| !f(value)) {
                    return;
                }
                let at = claims.partition_point(|c| c.0 < s);
                let overlaps_prev = at > 0 && claims[at - 1].1 > s;
                let overlaps_next = at < claims.len() && claims[at].0 < e;
                if !overlaps_prev && !overlaps_next {
                    claims.insert(at, (s, e, *class, form.canonical(value)));
                }
            };
            // the next match starts where this one ended (past an empty one: the next
            // character); one set of capture slots per mask and line, reused
            let mut from = 0;
            match (&m.ascii, m.whole) {
                (Some(re), Some(g)) if ascii => {
                    while let Some(whole) = re.find_at(line.as_bytes(), from) {
                        claim(g, whole.start(), whole.end());
                        from = whole.end() + usize::from(whole.is_empty());
                        if from > line.len() {
                            break;
                        }
                    }
                }
                (Some(re), None) if ascii => {
                    let mut locs = re.capture_locations();
                    while let Some(whole) = re.captures_read_at(&mut locs, line.as_bytes(), from) {
                        for i in 0..locs.len() {
                            if let Some((s, e)) = locs.get(i) {
                                claim(i, s, e);
                            }
                        }
                        from = whole.end() + usize::from(whole.is_empty());
                        if from > line.len() {
                            break;
                        }
                    }
                }
                _ => {
                    let re = m.unicode();
                    let mut locs = re.capture_locations();
                    while let Some(whole) = re.captures_read_at(&mut locs, line, from) {
                        for i in 0..locs.len() {
                            if let Some((s, e)) = locs.get(i) {
                                claim(i, s, e);
                            }
                        }
                        from = if whole.is_empty() {
                            whole.end()
                                + line[whole.end()..].chars().next().map_or(1, char::len_utf8)
                        } else {
                            whole.end()
                        };
                        if from > line.len() {
                            break;
                        }
                    }
                }
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
            shape.push_str(class.as_str());
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
                        compact_str::format_compact!("{class}?{}", slots.len())
                    } else {
                        compact_str::format_compact!("{class}{}", &caps[2])
                    };
                    slots.push(Slot {
                        class: Class::new(class),
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
                // Only a placeholder if the line has a slot of that class.
                let known = self.kinds.get_key_value(class);
                let is_slot = known
                    .is_some_and(|(c, _)| line.slots.iter().any(|s| std::ptr::eq(s.class.0, *c)));
                out.push_str(&rest[..open]);
                if let (true, Some((_, &kind))) = (is_slot, known) {
                    let slot = slots.next();
                    match (slot, kind) {
                        (Some(slot), Kind::Identity) => {
                            out.push('<');
                            out.push_str(names.get(slot.class, &slot.value));
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
    /// (class, value) → label
    by_value: HashMap<(Class, Value), Value>,
    counts: HashMap<Class, usize>,
}

impl Labels {
    pub fn label(&mut self, class: &str, value: &str) -> String {
        self.get(Class::new(class), value).to_string()
    }

    /// The label of `value`, given one if it has none yet (one hash lookup when it has one).
    fn get(&mut self, class: Class, value: &str) -> &str {
        use std::collections::hash_map::Entry;
        match self.by_value.entry((class, Value::from(value))) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                // A snapshot's placeholder keeps its own label.
                let label = if value.starts_with(class.as_str())
                    && value[class.len()..].chars().all(|c| c.is_ascii_digit())
                    && value.len() > class.len()
                {
                    Value::from(value)
                } else {
                    let n = self.counts.entry(class).or_default();
                    *n += 1;
                    compact_str::format_compact!("{class}{n}")
                };
                e.insert(label)
            }
        }
    }

    /// Give `value` the label `label` (for showing live values under the expected labels).
    pub fn set(&mut self, class: &str, value: &str, label: String) {
        self.by_value
            .insert((Class::new(class), value.into()), label.into());
    }
}

/// Below this many bytes a text is masked on one core (starting threads would cost more).
const PARALLEL_BYTES: usize = 128 * 1024;

/// How many cores masking may use: `LABRUN_THREADS`, else all the machine has.
pub fn threads() -> usize {
    static N: LazyLock<usize> = LazyLock::new(|| {
        std::env::var("LABRUN_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    });
    *N
}

/// `text` cut into at most `n` pieces of about equal size, each ending at a line end (or the
/// text's end); one piece when the text is short.
fn pieces(text: &str, n: usize) -> Vec<&str> {
    let n = n.min(text.len() / PARALLEL_BYTES).max(1);
    let mut out = Vec::with_capacity(n);
    let mut rest = text;
    for k in (1..n).rev() {
        let want = rest.len() / (k + 1);
        match rest.as_bytes()[want..].iter().position(|&b| b == b'\n') {
            Some(at) => {
                let (piece, tail) = rest.split_at(want + at + 1);
                out.push(piece);
                rest = tail;
            }
            None => break,
        }
    }
    out.push(rest);
    out
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
fn fold_into(out: &mut String, mut text: &str) {
    let blank = |b: u8| b == b' ' || b == b'\t';
    if out.is_empty() {
        let indent = text.bytes().take_while(|&b| blank(b)).count();
        out.push_str(&text[..indent]);
        text = &text[indent..];
    }
    // runs of spaces and tabs (ASCII, so every cut is at a character boundary) become one space
    while let Some(at) = text.bytes().position(blank) {
        out.push_str(&text[..at]);
        out.push(' ');
        let run = text[at..].bytes().take_while(|&b| blank(b)).count();
        text = &text[at + run..];
    }
    out.push_str(text);
}

impl Compiled {
    fn unicode(&self) -> &Regex {
        self.unicode
            .get_or_init(|| Regex::new(&self.pattern).expect("compiled when the table was built"))
    }
}

/// The index of the capture group that spans the whole match: the one named group when the
/// pattern is that group with only zero-width assertions (`\b`, `^`, `$`) around it, group 0
/// when there is no named group.
fn whole_group(pattern: &str) -> Option<usize> {
    use regex_syntax::hir::HirKind;
    let hir = regex_syntax::parse(pattern).ok()?;
    let parts = match hir.kind() {
        HirKind::Concat(parts) => parts.as_slice(),
        _ => std::slice::from_ref(&hir),
    };
    let mut named = None;
    for part in parts {
        match part.kind() {
            HirKind::Look(_) => {}
            HirKind::Capture(c) if c.name.is_some() && named.is_none() => {
                named = Some(c.index as usize)
            }
            _ => return None,
        }
    }
    // any other named group (nested in the one found) needs a search for groups
    let names = regex_syntax::parse(pattern)
        .ok()?
        .properties()
        .explicit_captures_len();
    match (named, names) {
        (Some(i), 1) => Some(i),
        (None, 0) => Some(0),
        _ => None,
    }
}

fn compile(
    pattern: &str,
    class: Option<&str>,
    when: Option<&str>,
    keep: &[&str],
    valid: Option<fn(&str) -> bool>,
    eager: bool,
) -> Result<Compiled, String> {
    let ascii = regex::bytes::Regex::new(&format!("(?-u:{pattern})")).ok();
    // Where the ASCII form does not compile, or when `eager` (a user's pattern, whose error
    // must show now, naming the mask), the Unicode form is compiled at once.
    let unicode = std::sync::OnceLock::new();
    let names: Vec<Option<String>> = match &ascii {
        Some(re) if !eager => re.capture_names().map(|n| n.map(str::to_string)).collect(),
        _ => {
            let re = Regex::new(pattern).map_err(|e| e.to_string())?;
            let names = re.capture_names().map(|n| n.map(str::to_string)).collect();
            let _ = unicode.set(re);
            names
        }
    };
    let mut groups: Vec<Option<(Class, Form)>> = names
        .iter()
        .map(|name| {
            name.as_deref().map(|n| match n.split_once("__") {
                Some((c, f)) => (Class::new(c), Form::of(f)),
                None => (Class::new(n), Form::Plain),
            })
        })
        .collect();
    if groups.iter().all(Option::is_none) {
        let class = class.ok_or("a pattern without named groups needs a `class`")?;
        groups[0] = Some((Class::new(class), Form::Plain));
    }
    let when = when
        .map(Regex::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok(Compiled {
        pattern: pattern.into(),
        unicode: std::sync::Arc::new(unicode),
        ascii,
        whole: whole_group(pattern),
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
