//! The words that start a command: known programs, the document's own aliases, prompts.
//!
//! In: one line of a shell block. Out: whether its first word starts a command, and the
//! command behind a prompt. Data, not code: [`PROGRAMS`] and [`PROMPTS`] are tables the
//! README lists, each entry with a test.

use std::sync::LazyLock;

use regex::Regex;

/// Words that, alone on a line, are a printed value rather than a command: what a command
/// prints for a boolean field (`-o jsonpath='{.status.ready}'` prints `true`). Typed alone,
/// `true` and `false` do nothing a reader would be shown.
pub const VALUE_WORDS: &[&str] = &["true", "false"];

/// Programs and shell words that start a command in an unprompted block.
pub const PROGRAMS: &[&str] = &[
    // Kubernetes and containers
    "kubectl",
    "oc",
    "kind",
    "docker",
    "docker-compose",
    "podman",
    "crictl",
    "ctr",
    "nerdctl",
    "helm",
    "kustomize",
    "linkerd",
    "istioctl",
    "minikube",
    "k3d",
    "k3s",
    "k9s",
    "kubeadm",
    "kubectx",
    "kubens",
    "stern",
    "skaffold",
    "flux",
    "argocd",
    "velero",
    "cilium",
    "hubble",
    "calicoctl",
    "step",
    "cfssl",
    "vagrant",
    // clouds
    "eksctl",
    "aws",
    "gcloud",
    "gsutil",
    "az",
    "doctl",
    "terraform",
    // networking
    "ip",
    "ip6tables",
    "iptables",
    "iptables-save",
    "iptables-legacy",
    "ip6tables-save",
    "ipvsadm",
    "ipset",
    "nft",
    "bridge",
    "brctl",
    "ethtool",
    "ping",
    "ping6",
    "traceroute",
    "tracepath",
    "mtr",
    "curl",
    "wget",
    "http",
    "dig",
    "host",
    "nslookup",
    "ss",
    "netstat",
    "telnet",
    "tcpdump",
    "tshark",
    "conntrack",
    "nsenter",
    "unshare",
    "nc",
    "ncat",
    "socat",
    "arp",
    "route",
    "ifconfig",
    "sysctl",
    "bpftool",
    "tc",
    "iperf3",
    "ovs-vsctl",
    "wg",
    // files and text
    "cat",
    "ls",
    "tree",
    "grep",
    "egrep",
    "sed",
    "awk",
    "head",
    "tail",
    "sort",
    "uniq",
    "wc",
    "cut",
    "tr",
    "tee",
    "jq",
    "yq",
    "find",
    "touch",
    "mkdir",
    "rm",
    "rmdir",
    "cp",
    "mv",
    "ln",
    "chmod",
    "chown",
    "diff",
    "base64",
    "openssl",
    "tar",
    "gzip",
    "unzip",
    "xargs",
    "less",
    "more",
    "file",
    "stat",
    "envsubst",
    // processes and system
    "ps",
    "top",
    "kill",
    "pkill",
    "pgrep",
    "sleep",
    "seq",
    "watch",
    "timeout",
    "systemctl",
    "journalctl",
    "uname",
    "hostname",
    "id",
    "whoami",
    "date",
    "df",
    "du",
    "free",
    "mount",
    "modprobe",
    "lsmod",
    "apt",
    "apt-get",
    "dnf",
    "yum",
    "apk",
    "brew",
    "snap",
    "sudo",
    "env",
    "nohup",
    "time",
    "setsid",
    // shell words
    "cd",
    "pushd",
    "popd",
    "export",
    "unset",
    "source",
    ".",
    "echo",
    "printf",
    "read",
    "set",
    "alias",
    "for",
    "while",
    "until",
    "if",
    "case",
    "function",
    "true",
    "false",
    "test",
    "exit",
    "wait",
    "trap",
    "eval",
    "exec",
    "type",
    "which",
    "command",
    "declare",
    "local",
    "history",
    "clear",
    "bash",
    "sh",
    "zsh",
    // languages and tools
    "git",
    "make",
    "go",
    "cargo",
    "rustc",
    "python",
    "python3",
    "pip",
    "pip3",
    "node",
    "npm",
    "npx",
    "java",
    "ssh",
    "scp",
    "ssh-keygen",
    "ssh-copy-id",
    "su",
    "passwd",
    "useradd",
    "usermod",
    "groupadd",
    "labrun",
];

/// Words of bash's grammar that end or continue a construct (`fi`, `done`, `then`): a line
/// starting with one is a script's, never a program's.
pub const SHELL_KEYWORDS: &[&str] = &[
    "then", "else", "elif", "fi", "do", "done", "esac", "in", "select", "coproc",
];

/// Whether `word` is one of [`SHELL_KEYWORDS`].
pub fn is_shell_keyword(word: &str) -> bool {
    SHELL_KEYWORDS.contains(&word)
}

/// The words that start a command, for one document: [`PROGRAMS`] and the aliases and shell
/// functions the document defines (`alias k=kubectl` makes `k get pods` a command).
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    aliases: Vec<String>,
}

static ALIAS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[;&|(]\s*|\s)alias\s+([A-Za-z_][\w.-]*)=").unwrap());

static FUNCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:\$\s+)?(?:function\s+([A-Za-z_][\w-]*)|([A-Za-z_][\w-]*)\s*\(\s*\))")
        .unwrap()
});

impl Vocabulary {
    /// The aliases and functions defined anywhere in `texts` (the document's shell blocks).
    pub fn from_texts<'a>(texts: impl Iterator<Item = &'a str>) -> Self {
        let mut aliases = Vec::new();
        let mut add = |name: &str| {
            if !aliases.iter().any(|a| a == name) {
                aliases.push(name.to_string());
            }
        };
        for text in texts {
            if text.contains("alias") {
                ALIAS.captures_iter(text).for_each(|c| add(&c[1]));
            }
            if text.contains("()") || text.contains("function") {
                for c in FUNCTION.captures_iter(text) {
                    add(c.get(1).or(c.get(2)).map_or("", |m| m.as_str()));
                }
            }
        }
        Vocabulary { aliases }
    }

    /// Take `name` as a program: the first word of a line in a block the author marked as
    /// commands (`[.console-input]`).
    pub fn add_program(&mut self, name: &str) {
        if !name.is_empty() && !self.knows(name) {
            self.aliases.push(name.to_string());
        }
    }

    fn knows(&self, word: &str) -> bool {
        PROGRAMS.contains(&word) || self.aliases.iter().any(|a| a == word)
    }

    /// Whether the first word of `line` (after `NAME=value` assignments) is a known program,
    /// an alias, a path to a program (`./x`, `/usr/sbin/ip`), a function call `name()`, or
    /// whether the line assigns a command's output (`POD=$(kubectl …)`).
    pub fn starts_command(&self, line: &str) -> bool {
        let mut words = line.split_whitespace();
        let Some(mut word) = words.next() else {
            return false;
        };
        while let Some(value) = assignment_value(word) {
            if value.contains("$(") || value.contains('`') {
                // the value is a command's output, also inside a default (`${V:-$(cat v)}`)
                return true;
            }
            match words.next() {
                // `FOO=bar` alone sets a variable, also with a comment after it
                Some(w) if w.starts_with('#') => return true,
                Some(w) => word = w,
                None => return true,
            }
        }
        if VALUE_WORDS.contains(&word.trim_end_matches(';')) && words.next().is_none() {
            return false;
        }
        if word.starts_with("./") || word.starts_with("~/") {
            return true;
        }
        // a script by its relative path (`hack/build.sh`, `scripts/setup.sh`)
        if word.contains('/') && word.ends_with(".sh") && !word.starts_with(['-', '/']) {
            return true;
        }
        if word.starts_with('/') && word.len() > 1 && !word.contains(':') {
            let name = word.rsplit('/').next().unwrap_or(word);
            return PROGRAMS.contains(&name);
        }
        if word == "[" || word == "[[" {
            // a test, not the `[` that opens printed JSON
            return line.contains(" ]") && !line.contains("\",");
        }
        let word = word.trim_end_matches(';');
        self.knows(word) || (word.ends_with("()") && word.len() > 2) || is_attribute_reference(word)
    }
}

/// The program a line of a shell block names when the line is shaped as only a command is
/// (the document's own programs, such as `etcdctl`, that no table can hold): its first word
/// (after `NAME=value` assignments) is a lower-case name, not a shell keyword, and the line
/// either passes a flag (`-x`, `--name`) *and* expands a variable or a command (`$HOST`,
/// `${HOST}`, `$(…)`), or ends in ` \` onto an indented line that starts with a flag
/// (`prometheus \` over `  --config.file=…`). Printed output is not written so.
pub fn program_of_command_shape<'a>(line: &'a str, next: Option<&str>) -> Option<&'a str> {
    let mut words = line.split_whitespace().skip_while(|w| is_assignment(w));
    let first = words.next()?;
    let named = first.len() >= 2
        && first.starts_with(|c: char| c.is_ascii_lowercase())
        && first.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | '+')
        });
    if !named || is_shell_keyword(first) {
        return None;
    }
    let rest: Vec<&str> = words.collect();
    let flag = rest.iter().any(|w| {
        w.len() >= 2
            && w.starts_with('-')
            && w[1..].starts_with(|c: char| c == '-' || c.is_ascii_alphabetic())
    });
    let expands = rest.iter().any(|w| {
        w.match_indices('$').any(|(i, _)| {
            w[i + 1..]
                .starts_with(|c: char| c == '{' || c == '(' || c == '_' || c.is_ascii_uppercase())
        })
    });
    let continued = line.trim_end().ends_with(" \\")
        && next
            .is_some_and(|n| n.trim_start().starts_with('-') && n.starts_with(char::is_whitespace));
    ((flag && expands) || continued).then_some(first)
}

/// The first word of `line` when it reads as a program and its arguments: a lower-case name
/// (not a shell keyword), then a flag or a lower-case word (`nats sub msg.test`,
/// `func deploy --registry r`). Two shell blocks that open so with the same word make it a
/// program of the document's own: output is not written so twice.
pub fn program_like_head(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let second = words.next()?;
    let named = first.len() >= 2
        && first.starts_with(|c: char| c.is_ascii_lowercase())
        && first.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | '+')
        });
    let argument = second.starts_with('-')
        || second.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    (named && argument && !is_shell_keyword(first)).then_some(first)
}

/// Whether `word` is an AsciiDoc attribute reference left as written (`{orch-cli}`): the
/// site defines it, Asciidoctor shows it so where the page is read alone, and at the head of
/// a line of a shell block it stands for a program (`{orch-cli} get pods`).
pub fn is_attribute_reference(word: &str) -> bool {
    word.strip_prefix('{')
        .and_then(|w| w.strip_suffix('}'))
        .is_some_and(|name| {
            name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// Whether `word` is a `NAME=value` assignment.
pub fn is_assignment(word: &str) -> bool {
    assignment_value(word).is_some()
}

/// The value of `NAME=value`, if `word` is an assignment.
fn assignment_value(word: &str) -> Option<&str> {
    let (name, value) = word.split_once('=')?;
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    ok.then_some(value)
}

/// A prompt form, as data: its pattern (the command is the last group) and whether what
/// follows must start a command for the line to count as prompted.
pub struct Prompt {
    pub name: &'static str,
    pub pattern: &'static str,
    pub needs_command: bool,
    pub example: &'static str,
}

/// The prompts labrun recognises, tried in order. A bare `# ` is handled apart (a root prompt
/// only in a transcript block that opens with one).
pub const PROMPTS: &[Prompt] = &[
    Prompt {
        name: "dollar",
        pattern: r"^\s*(?:\([^)]*\)\s*)?\$\s+(\S.*)$",
        needs_command: false,
        example: "(venv) $ kubectl get pods",
    },
    Prompt {
        name: "user@host",
        pattern: r"^\s*(?:\([^)]*\)\s*)?[\w.-]+@[\w.-]+(?::[^\s$#]*)?\s?[$#%]\s+(\S.*)$",
        needs_command: false,
        example: "root@pod:/# ip a",
    },
    Prompt {
        name: "[user@host dir]",
        pattern: r"^\s*\[[^\]]+\]\s?[$#]\s+(\S.*)$",
        needs_command: false,
        example: "[root@pod /]# ip a",
    },
    Prompt {
        name: "shell-version",
        pattern: r"^\s*(?:ba|z|k)?sh-[\d.]+[$#]\s+(\S.*)$",
        needs_command: false,
        example: "sh-4.2$ cat /etc/resolv.conf",
    },
    Prompt {
        name: "word",
        pattern: r"^\s*[^\s$#]+\s[$#]\s+(\S.*)$",
        needs_command: true,
        example: "/ # ip route",
    },
];

static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    PROMPTS
        .iter()
        .map(|p| Regex::new(p.pattern).unwrap())
        .collect()
});

static ROOT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*#\s+(\S.*)$").unwrap());

impl Vocabulary {
    /// The command after a prompt, if `line` is a prompted command line. A bare `# ` prompt
    /// counts only when `root_prompt` is set (the block opens with `# <program>`).
    pub fn strip_prompt<'a>(&self, line: &'a str, root_prompt: bool) -> Option<&'a str> {
        if !line.bytes().any(|b| matches!(b, b'$' | b'#' | b'%')) {
            return None;
        }
        let t = line.trim_start();
        if t.starts_with('#') {
            let cmd = ROOT.captures(line)?.get(1)?.as_str();
            return (root_prompt && self.starts_command(cmd)).then_some(cmd);
        }
        for (prompt, re) in PROMPTS.iter().zip(COMPILED.iter()) {
            if let Some(caps) = re.captures(line) {
                let cmd = caps.get(1).map_or("", |m| m.as_str());
                if prompt.needs_command && !self.starts_command(cmd) {
                    continue;
                }
                return Some(cmd);
            }
        }
        None
    }

    /// A line that is only a prompt (`$`).
    pub fn bare_prompt(line: &str) -> bool {
        line.trim() == "$"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prompt_recognises_its_example() {
        let v = Vocabulary::default();
        for p in PROMPTS {
            let cmd = v.strip_prompt(p.example, false);
            assert!(cmd.is_some_and(|c| v.starts_command(c)), "{}", p.name);
        }
    }

    #[test]
    fn container_prompts() {
        let v = Vocabulary::default();
        for (line, cmd) in [
            ("/ $ ip a", "ip a"),
            ("~ $ cat /etc/hosts", "cat /etc/hosts"),
            ("sh-4.2$ ls", "ls"),
            ("bash-5.0# ps", "ps"),
            ("[root@pod /]# ip r", "ip r"),
            ("root@pod:/# hostname", "hostname"),
            ("/app # wget -qO- localhost", "wget -qO- localhost"),
        ] {
            assert_eq!(v.strip_prompt(line, false), Some(cmd), "{line}");
        }
        // a word and ` $ ` before what starts no command is output
        assert_eq!(v.strip_prompt("Total $ 5", false), None);
        assert_eq!(v.strip_prompt("price # 3 items", false), None);
        // a bare `# ` only as a root prompt
        assert_eq!(v.strip_prompt("# ip a", false), None);
        assert_eq!(v.strip_prompt("# ip a", true), Some("ip a"));
        assert_eq!(v.strip_prompt("# create a namespace", true), None);
    }

    #[test]
    fn programs_after_assignments_and_paths() {
        let v = Vocabulary::default();
        assert!(v.starts_command("kubectl get pods"));
        assert!(v.starts_command("FOO=1 BAR=2 kubectl get pods"));
        assert!(v.starts_command("/usr/sbin/ip netns list"));
        assert!(v.starts_command("./run.sh"));
        assert!(v.starts_command("POD=$(kubectl get pods -o name)"));
        assert!(v.starts_command("POD=`kubectl get pods -o name`"));
        assert!(v.starts_command("eksctl create cluster"));
        assert!(!v.starts_command("NAME   READY   STATUS"));
        assert!(!v.starts_command("/pause"));
        assert!(!v.starts_command("pod/dnsutils created"));
        assert!(v.starts_command("[ -f config ] && cat config"));
        assert!(!v.starts_command("[ \"a\", \"b\" ]"));
        assert!(!v.starts_command("["), "printed JSON opens with `[`");
    }

    #[test]
    fn a_line_shaped_as_only_a_command_is_names_its_program() {
        let next = Some("\t--listen-peer-urls http://${IP}:2380 \\");
        for (line, next, program) in [
            (
                "etcdctl --endpoints=$ENDPOINTS get sample",
                None,
                Some("etcdctl"),
            ),
            (
                "etcdctl --endpoints=${HOST_1}:2379 member list",
                None,
                Some("etcdctl"),
            ),
            (
                "NAME=x etcd --name $(hostname) --data-dir d",
                None,
                Some("etcd"),
            ),
            ("etcd --data-dir=data.etcd \\", next, Some("etcd")),
            ("prometheus \\", next, Some("prometheus")),
            ("prometheus \\", Some("and then some"), None),
            // a flag alone, or a variable alone, is not enough
            ("etcdctl --endpoints=localhost:2379 get sample", None, None),
            ("greeting is $HOME", None, None),
            // not a program's name
            ("Started --port $PORT", None, None),
            ("drwxr-xr-x 2 root root 4096 Jan 1 $dir", None, None),
            ("then --x $Y", None, None),
            ("-rw-r--r-- 1 root --x $HOME", None, None),
        ] {
            assert_eq!(program_of_command_shape(line, next), program, "{line}");
        }
    }

    #[test]
    fn a_program_like_head_is_a_name_and_an_argument() {
        for (line, head) in [
            ("nats sub msg.test", Some("nats")),
            ("func deploy --registry r", Some("func")),
            ("kn func invoke", Some("kn")),
            ("customer => preference => v1", None),
            ("Listening on [msg.test]", None),
            ("error: not found", None),
            ("nats", None),
            ("done now", None),
        ] {
            assert_eq!(program_like_head(line), head, "{line}");
        }
    }

    #[test]
    fn a_script_by_its_relative_path_is_a_program() {
        let v = Vocabulary::default();
        assert!(v.starts_command("hack/build.sh"));
        assert!(v.starts_command("scripts/clean.sh tutorial"));
        assert!(!v.starts_command("build.sh is the script"));
        assert!(!v.starts_command("--file=a/b.sh"));
    }

    #[test]
    fn an_attribute_reference_at_the_head_of_a_line_stands_for_a_program() {
        let v = Vocabulary::default();
        assert!(v.starts_command("{orch-cli} get pods -A"));
        assert!(v.starts_command("{prod_cli} server:status"));
        for not in ["{}", "{ a }", "{\"a\": 1}", "{{< note >}}", "{a b}"] {
            assert!(!is_attribute_reference(not), "{not}");
        }
    }

    #[test]
    fn a_value_word_alone_is_no_command() {
        let v = Vocabulary::default();
        for word in VALUE_WORDS {
            assert!(!v.starts_command(word), "{word}");
            assert!(!v.starts_command(&format!("  {word}")), "{word}");
        }
        assert!(v.starts_command("true && echo ok"));
        assert!(v.starts_command("false || echo no"));
    }

    #[test]
    fn an_assignment_with_a_comment_after_it_is_a_command() {
        let v = Vocabulary::default();
        assert!(v.starts_command("HOST_4=10.240.0.16 # new member"));
        assert!(!v.starts_command("HOST_4=10.240.0.16 new member"));
        assert!(v.starts_command("V=${V:-$(curl -fsSL https://example.com/v.txt)}"));
        assert!(v.starts_command("V=\"v-`date +%s`\""));
    }

    #[test]
    fn aliases_the_document_defines_are_programs() {
        let v = Vocabulary::from_texts(
            ["alias k=kubectl\n", "$ alias kgp='kubectl get pods'\n"].into_iter(),
        );
        assert!(v.starts_command("k get pods"));
        assert!(v.starts_command("kgp -A"));
        assert!(!Vocabulary::default().starts_command("k get pods"));
    }

    #[test]
    fn functions_the_document_defines_are_programs() {
        let v = Vocabulary::from_texts(
            ["greet() {\n  echo hi\n}\n", "function wait_ready {\n:\n}\n"].into_iter(),
        );
        assert!(v.starts_command("greet cluster"));
        assert!(v.starts_command("wait_ready web"));
    }

    #[test]
    fn the_table_has_the_cloud_and_cluster_clis() {
        for p in [
            "eksctl",
            "aws",
            "gcloud",
            "az",
            "doctl",
            "minikube",
            "k3d",
            "k3s",
            "vagrant",
            "ipvsadm",
            "conntrack",
            "tcpdump",
            "nft",
            "bpftool",
            "cilium",
            "hubble",
            "kustomize",
            "step",
        ] {
            assert!(PROGRAMS.contains(&p), "{p}");
        }
    }
}
