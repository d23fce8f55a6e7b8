//! Stage 2, steps: the shell blocks of a [`Document`] become [`Step`]s.
//!
//! In: a document. Out: for every `bash` / `sh` / `shell` / `console` block, the commands it
//! holds (continuations and heredocs joined) and the output the author printed under each.
//! The rules that tell a command from output are in the README ("What counts as a command")
//! and nowhere else but here; they depend only on the text, never on what is installed.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::directive::Directives;
use crate::document::{CodeBlock, Document};

/// Languages whose blocks are split into steps.
pub const SHELL_LANGUAGES: &[&str] = &["bash", "sh", "shell", "console", "shell-session", "zsh"];

/// Languages (or none) of a block that may hold the output of the commands in the shell
/// block just before it.
pub const OUTPUT_LANGUAGES: &[&str] = &["text", "txt", "plaintext", "output", "none", "log"];

/// Programs and shell words that start a command in an unprompted block. Data, not code:
/// the README lists the same words.
pub const PROGRAMS: &[&str] = &[
    // Kubernetes and containers
    "kubectl",
    "kind",
    "docker",
    "docker-compose",
    "podman",
    "crictl",
    "ctr",
    "helm",
    "kustomize",
    "linkerd",
    "istioctl",
    "minikube",
    "k3d",
    "k9s",
    "kubeadm",
    "cilium",
    "calicoctl",
    // networking
    "ip",
    "ip6tables",
    "iptables",
    "iptables-save",
    "nft",
    "bridge",
    "brctl",
    "ethtool",
    "ping",
    "ping6",
    "traceroute",
    "tracepath",
    "curl",
    "wget",
    "dig",
    "host",
    "nslookup",
    "ss",
    "netstat",
    "tcpdump",
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
    // files and text
    "cat",
    "ls",
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
    "xargs",
    "less",
    "more",
    "file",
    "stat",
    // processes and system
    "ps",
    "top",
    "kill",
    "pkill",
    "pgrep",
    "sleep",
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
    "apt",
    "apt-get",
    "dnf",
    "yum",
    "brew",
    "sudo",
    "env",
    "nohup",
    "time",
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
    "true",
    "false",
    "test",
    "[",
    "exit",
    "wait",
    "trap",
    "eval",
    "exec",
    "type",
    "which",
    "command",
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
    "java",
    "ssh",
    "scp",
    "labrun",
];

/// One executable step: a command and the output printed under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Stable id: the section's slug and the step's ordinal within that section.
    pub id: String,
    /// Title of the innermost section holding the step ("" before the first heading).
    pub section: String,
    /// 1-based source line of the command's first line.
    pub line: usize,
    /// The command, continuation lines and heredoc bodies included, `\n`-joined.
    pub command: String,
    /// The printed output, line by line, without leading or trailing blank lines.
    pub expected: Vec<String>,
    /// 1-based source line of the first printed output line, if any.
    pub expected_line: Option<usize>,
    /// The block's directives.
    pub directives: Directives,
    /// Index of the block in [`Document::blocks`] that holds the command.
    pub block: usize,
}

impl Step {
    /// Whether the author printed any output for this step.
    pub fn has_expected(&self) -> bool {
        self.expected_line.is_some()
    }
}

/// Split every shell block of `doc` into steps, in document order.
pub fn split(doc: &Document) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut ordinals = vec![0usize; doc.sections.len() + 1];
    let mut last_shell_block: Option<usize> = None;
    for (index, block) in doc.blocks.iter().enumerate() {
        if is_shell(block) {
            let raw_steps = split_block(block);
            if raw_steps.is_empty() {
                last_shell_block = None;
                continue;
            }
            for raw in raw_steps {
                let slot = block.section.map_or(0, |s| s + 1);
                ordinals[slot] += 1;
                let (slug, title) = match block.section {
                    Some(s) => (doc.sections[s].slug.as_str(), doc.sections[s].title.clone()),
                    None => ("preamble", String::new()),
                };
                let expected = without_ctrl_c(&raw.command, raw.output);
                steps.push(Step {
                    id: format!("{slug}/{}", ordinals[slot]),
                    section: title,
                    line: block.line + raw.first_line,
                    command: raw.command,
                    expected,
                    expected_line: raw.output_first.map(|l| block.line + l),
                    directives: block.directives.clone(),
                    block: index,
                });
            }
            last_shell_block = Some(index);
        } else if let Some(prev) = last_shell_block.take() {
            attach_output_block(doc, prev, index, &mut steps);
        }
    }
    steps
}

/// Under a command that never ends by itself, a line `^C` is the terminal's echo of the
/// author's Ctrl-C, not output.
fn without_ctrl_c(command: &str, mut output: Vec<String>) -> Vec<String> {
    if crate::policy::kind(command) == crate::policy::Kind::Watch {
        output.retain(|l| l.trim() != "^C");
    }
    output
}

fn is_shell(block: &CodeBlock) -> bool {
    block
        .language
        .as_deref()
        .is_some_and(|l| SHELL_LANGUAGES.contains(&l))
}

/// A commands-only shell block followed, in the same section, by an untyped or text block
/// introduced by prose ending in a colon ("The output is similar to:"): that block is the
/// output of the shell block's last command.
fn attach_output_block(doc: &Document, prev: usize, index: usize, steps: &mut [Step]) {
    let block = &doc.blocks[index];
    let typed_as_output = block
        .language
        .as_deref()
        .is_none_or(|l| OUTPUT_LANGUAGES.contains(&l));
    let introduced = block.lead.trim_end().ends_with(':');
    let same_section = block.section == doc.blocks[prev].section;
    let Some(last) = steps.last_mut() else {
        return;
    };
    if !(typed_as_output && introduced && same_section && last.block == prev) {
        return;
    }
    if last.has_expected() || block.directives.skip {
        return;
    }
    let lines: Vec<&str> = block.raw.lines().collect();
    if let Some((first, output)) = trim_blank(&lines, 0) {
        last.expected = output;
        last.expected_line = Some(block.line + first);
    }
}

/// A step as found in one block, with lines counted from 0 within the block.
#[derive(Debug, Default)]
struct RawStep {
    first_line: usize,
    command: String,
    output: Vec<String>,
    output_first: Option<usize>,
}

/// The shell's own line joining: a trailing `\`, pipe or `&&` / `||` continues the command.
fn continues(line: &str) -> bool {
    let t = line.trim_end();
    t.ends_with('\\') || t.ends_with('|') || t.ends_with("&&")
}

static HEREDOC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"<<-?\s*(?:'([^']+)'|"([^"]+)"|\\?([A-Za-z_][A-Za-z0-9_]*))"#).unwrap()
});

/// The terminator word of a heredoc that `line` opens, if any.
fn heredoc_terminator(line: &str) -> Option<String> {
    let caps = HEREDOC.captures(line)?;
    let word = caps.get(1).or(caps.get(2)).or(caps.get(3))?;
    Some(word.as_str().to_string())
}

static PROMPT: LazyLock<Regex> = LazyLock::new(|| {
    // `$ cmd`, `user@host:~$ cmd`, `[user@host dir]# cmd`, `(env) $ cmd`
    Regex::new(r"^\s*(?:\([^)]*\)\s*)?(?:[\w.-]+@[\w.-]+(?::[^\s$#]*)?\s?|\[[^\]]+\]\s?)?[$#%]\s+(\S.*)$|^\s*\$\s*$").unwrap()
});

/// The command after a prompt, if `line` is a prompted command line. A bare `# ` prompt
/// counts only when `root_prompt` is set (the block opens with `# <program>`).
fn strip_prompt(line: &str, root_prompt: bool) -> Option<&str> {
    let caps = PROMPT.captures(line)?;
    let cmd = caps.get(1).map_or("", |m| m.as_str());
    let t = line.trim_start();
    if t.starts_with("# ") || t.starts_with("#\t") {
        return (root_prompt && starts_with_program(cmd)).then_some(cmd);
    }
    if t.starts_with('%') && !line.contains('@') {
        return None; // a bare `%` is too often output (percentages)
    }
    Some(cmd)
}

/// Whether the first word of `line` (after `sudo` and `VAR=value` assignments) is a known
/// program, a path to one (`./x`, `/usr/sbin/ip`), or a shell function call `name()`.
pub fn starts_with_program(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let Some(mut word) = words.next() else {
        return false;
    };
    while is_assignment(word) {
        match words.next() {
            Some(w) => word = w,
            None => return true, // `FOO=bar` alone sets a variable
        }
    }
    if word.starts_with("./") || word.starts_with("~/") {
        return true;
    }
    if word.starts_with('/') && word.len() > 1 && !word.contains(':') {
        let name = word.rsplit('/').next().unwrap_or(word);
        return PROGRAMS.contains(&name);
    }
    PROGRAMS.contains(&word) || (word.ends_with("()") && word.len() > 2)
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t == "#" || t.starts_with("# ") || t.starts_with("#!")
}

/// Where a command may start: at the top of the block, after a blank line, or right after
/// the last line of a command (no output yet).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    Top,
    AfterCommand,
    AfterBlank,
    InOutput,
}

/// Split one shell block. No step comes out of a block that holds no command.
fn split_block(block: &CodeBlock) -> Vec<RawStep> {
    let lines: Vec<&str> = block
        .raw
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    // A bare `# ` is a root prompt only in a transcript-typed block that opens with one;
    // everywhere else it starts a comment.
    let transcript = matches!(block.language.as_deref(), Some("console" | "shell-session"));
    let root_prompt = transcript
        && lines.iter().find(|l| !is_blank(l)).is_some_and(|l| {
            l.trim_start()
                .strip_prefix("# ")
                .is_some_and(starts_with_program)
        });
    let prompted = lines.iter().any(|l| strip_prompt(l, root_prompt).is_some());
    let mut steps: Vec<RawStep> = Vec::new();
    let mut outputs: Vec<(usize, &str)> = Vec::new();
    let mut pending_continuation = false;
    let mut heredoc: Option<String> = None;
    let mut position = Position::Top;
    let mut last_output: Option<&str> = None;

    let finish = |steps: &mut Vec<RawStep>, outputs: &mut Vec<(usize, &str)>| {
        if let Some(step) = steps.last_mut() {
            let texts: Vec<&str> = outputs.iter().map(|(_, l)| *l).collect();
            if let Some((first, out)) = trim_blank(&texts, 0) {
                step.output = out;
                step.output_first = Some(outputs[first].0);
            }
        }
        outputs.clear();
    };

    for (n, &line) in lines.iter().enumerate() {
        // Inside a command: heredoc bodies and continuation lines belong to it.
        if let Some(term) = &heredoc {
            append(&mut steps, line, false);
            if line.trim() == term {
                heredoc = None;
                position = Position::AfterCommand;
            }
            continue;
        }
        if pending_continuation {
            let text = if prompted {
                line.trim_start().strip_prefix("> ").unwrap_or(line)
            } else {
                line
            };
            append(&mut steps, text, true);
            pending_continuation = continues(text);
            heredoc = heredoc_terminator(text);
            continue;
        }

        let command = match block.directives.names_command_line(n + 1) {
            Some(true) => Some(line.trim_start()),
            Some(false) => None,
            None if prompted => strip_prompt(line, root_prompt),
            None => {
                let at_start = position != Position::InOutput;
                let announced = position == Position::AfterBlank
                    && last_output.is_some_and(|l| l.trim_end().ends_with(':'));
                (at_start && !announced && starts_with_program(line.trim_start()))
                    .then(|| line.trim_start())
            }
        };

        if let Some(cmd) = command {
            finish(&mut steps, &mut outputs);
            steps.push(RawStep {
                first_line: n,
                command: cmd.trim_end().to_string(),
                ..Default::default()
            });
            last_output = None;
            pending_continuation = continues(cmd);
            heredoc = heredoc_terminator(cmd);
            position = Position::AfterCommand;
            continue;
        }
        if is_blank(line) {
            if position == Position::InOutput {
                position = Position::AfterBlank;
            }
            if !steps.is_empty() {
                outputs.push((n, line));
            }
            continue;
        }
        if !prompted
            && block.directives.commands.is_none()
            && position != Position::InOutput
            && is_comment(line)
        {
            continue; // a comment among commands
        }
        if steps.is_empty() {
            continue; // output before any command: an excerpt, not a step
        }
        outputs.push((n, line));
        last_output = Some(line);
        position = Position::InOutput;
    }
    finish(&mut steps, &mut outputs);
    steps
}

fn append(steps: &mut [RawStep], line: &str, trim: bool) {
    if let Some(step) = steps.last_mut() {
        step.command.push('\n');
        step.command
            .push_str(if trim { line.trim_end() } else { line });
    }
}

/// Lines without leading and trailing blank lines, with the index of the first kept line.
fn trim_blank(lines: &[&str], base: usize) -> Option<(usize, Vec<String>)> {
    let first = lines.iter().position(|l| !is_blank(l))?;
    let last = lines.iter().rposition(|l| !is_blank(l))?;
    Some((
        base + first,
        lines[first..=last].iter().map(|l| l.to_string()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(raw: &str) -> CodeBlock {
        typed("bash", raw)
    }

    fn typed(language: &str, raw: &str) -> CodeBlock {
        CodeBlock {
            language: Some(language.into()),
            attributes: String::new(),
            line: 1,
            raw: raw.into(),
            section: None,
            lead: String::new(),
            directives: Directives::default(),
        }
    }

    fn commands(raw: &str) -> Vec<String> {
        split_block(&block(raw))
            .into_iter()
            .map(|s| s.command)
            .collect()
    }

    #[test]
    fn ctrl_c_under_an_unbounded_command_is_not_output() {
        let out = |command: &str| {
            without_ctrl_c(
                command,
                vec![
                    "64 bytes from 10.0.0.3: icmp_seq=1".into(),
                    "^C".into(),
                    "--- 10.0.0.3 ping statistics ---".into(),
                ],
            )
        };
        assert_eq!(out("ping 10.0.0.3").len(), 2);
        assert!(!out("ping 10.0.0.3").contains(&"^C".to_string()));
        // a command that ends by itself printed it: it stays
        assert_eq!(out("ping -c 1 10.0.0.3").len(), 3);
    }

    #[test]
    fn programs_after_assignments_and_paths() {
        assert!(starts_with_program("kubectl get pods"));
        assert!(starts_with_program("FOO=1 BAR=2 kubectl get pods"));
        assert!(starts_with_program("/usr/sbin/ip netns list"));
        assert!(starts_with_program("./run.sh"));
        assert!(!starts_with_program("NAME   READY   STATUS"));
        assert!(!starts_with_program("/pause"));
        assert!(!starts_with_program("pod/dnsutils created"));
    }

    #[test]
    fn continuation_and_heredoc_are_joined() {
        let c =
            commands("kubectl apply -f - <<EOF\napiVersion: v1\nkind: Pod\nEOF\necho \\\n  done\n");
        assert_eq!(
            c,
            vec![
                "kubectl apply -f - <<EOF\napiVersion: v1\nkind: Pod\nEOF",
                "echo \\\n  done"
            ]
        );
    }

    #[test]
    fn announced_line_after_blank_stays_output() {
        let steps = split_block(&block(
            "kind create cluster\nYou can now use it with:\n\nkubectl cluster-info\n\nBye\n",
        ));
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].output.len(), 5);
    }

    #[test]
    fn root_prompt_only_when_block_opens_with_it() {
        let console = |raw| -> Vec<String> {
            split_block(&typed("console", raw))
                .into_iter()
                .map(|s| s.command)
                .collect()
        };
        assert_eq!(
            console("# ip link\n1: lo\n# ip route\n"),
            vec!["ip link", "ip route"]
        );
        assert_eq!(commands("# ip link\nip route\n"), vec!["ip route"]);
        assert_eq!(
            commands("# make a namespace\nip netns add a\n"),
            vec!["ip netns add a"]
        );
    }
}
