//! What a code block is, besides its lines: shell to read, the output of the block above,
//! or neither. In: a [`CodeBlock`] (its language, roles, first line, the prose before it) and
//! the document's [`Vocabulary`]. Out: whether it is read as shell (and by which of
//! [`UNTYPED_RULES`] when it has no language), whether its roles mark it as commands or
//! output, and whether it is the output of the previous block's last command. Each table
//! here has a test per row in `mod.rs`.

use super::block;
use super::words::{self, Vocabulary};
use super::{SHELL_LANGUAGES, Step};
use crate::document::{CodeBlock, Document};

/// Languages (or none) of a block that may hold the output of the commands in the block just
/// before it. A shell-language block is such a block only when it yields no command.
pub const OUTPUT_LANGUAGES: &[&str] = &[
    "text",
    "txt",
    "plaintext",
    "output",
    "none",
    "log",
    "console",
    "shell",
    "shell-session",
    "json",
    "yaml",
    "yml",
    "diff",
];

/// Roles that mark a block as output (`[.console-output]`, `[source,bash,role=output]`,
/// `{.output}`): such a block is never read as commands, whatever its language, and holds the
/// output of the command just before it.
pub const OUTPUT_ROLES: &[&str] = &["output", "console-output", "command-output", "result"];

/// Words that, in the last sentence of the prose between two blocks, say the next block is
/// what the command printed ("You should see an error.", "The response looks like this.").
pub const OUTPUT_LEAD_WORDS: &[&str] = &[
    "output",
    "outputs",
    "see",
    "prints",
    "returns",
    "return",
    "shows",
    "displays",
    "response",
    "result",
    "similar to",
    "looks like",
    "look like",
    "something like",
];

/// Words of prose that ask the reader to type the block below somewhere (a chat, a form, a
/// program's own prompt): a block after a last sentence holding one is input, never the
/// output of the command above (`create one by typing in your IDE chat:`).
pub const INPUT_LEAD_WORDS: &[&str] = &["type", "typing", "enter", "paste"];

/// Whether the last sentence of `lead` speaks of what a command printed (one of
/// [`OUTPUT_LEAD_WORDS`], as a whole word).
pub(super) fn announces_output(lead: &str) -> bool {
    last_sentence_has(lead, OUTPUT_LEAD_WORDS)
}

/// Whether the last sentence of `lead` asks the reader to type (one of [`INPUT_LEAD_WORDS`]).
pub(super) fn asks_to_type(lead: &str) -> bool {
    last_sentence_has(lead, INPUT_LEAD_WORDS)
}

/// Whether the last sentence of `lead` holds one of `table`'s words or phrases, whole.
pub(super) fn last_sentence_has(lead: &str, table: &[&str]) -> bool {
    let last = lead
        .trim_end_matches(['.', '!', ' '])
        .rsplit(['.', '!', '?'])
        .next()
        .unwrap_or("")
        .to_lowercase();
    let words: Vec<&str> = last
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    table.iter().any(|w| {
        let parts: Vec<&str> = w.split(' ').collect();
        words
            .windows(parts.len())
            .any(|win| win == parts.as_slice())
    })
}

/// Roles that mark a block as commands (`[.console-input]`): the first word of each of its
/// lines is taken as a program, so the author's own tools (`toolctl profile list`) are read
/// as commands, and a block without a language is read as shell. `execute` is the role
/// Antora workshop pages (Showroom) give a block the reader runs with a click.
pub const INPUT_ROLES: &[&str] = &["input", "console-input", "command-input", "execute"];

/// Whether the block's roles mark it as commands (and its first line is not a table's
/// header, see [`opens_with_table_header`]).
pub fn marked_input(block: &CodeBlock) -> bool {
    block.roles().iter().any(|r| INPUT_ROLES.contains(r)) && !opens_with_table_header(block)
}

/// Whether the block's roles mark it as output; or they mark it as commands, but its first
/// line is a table's header (`NAME   READY   STATUS`): an author who copied the role from
/// the block above, as printed tables are never typed.
pub fn marked_output(block: &CodeBlock) -> bool {
    let roles = block.roles();
    roles.iter().any(|r| OUTPUT_ROLES.contains(r))
        || (roles.iter().any(|r| INPUT_ROLES.contains(r)) && opens_with_table_header(block))
}

/// Whether the first line of `block` that is not blank is a table's header: two or more
/// cells, two or more spaces apart, each of capital letters and digits (`CONTAINER ID`,
/// `AGE`, `NOMINATED NODE`).
pub fn opens_with_table_header(block: &CodeBlock) -> bool {
    let Some(first) = block.raw.lines().find(|l| !block::is_blank(l)) else {
        return false;
    };
    let cells: Vec<&str> = first
        .trim()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    cells.len() >= 2
        && cells.iter().all(|c| {
            c.starts_with(|ch: char| ch.is_ascii_uppercase())
                && c.chars().all(|ch| {
                    ch.is_ascii_uppercase()
                        || ch.is_ascii_digit()
                        || matches!(ch, ' ' | '-' | '_' | '(' | ')' | '%' | '/')
                })
        })
}

/// What in a command says it prints YAML.
const YAML_MARKS: &[&str] = &[
    "-o yaml",
    "-oyaml",
    "--output yaml",
    "--output=yaml",
    "yq ",
    "cat ",
    "helm get",
    "helm template",
    "kustomize build",
];

/// Languages an output block may have only under a command that prints that format.
pub(super) const FORMATTED: &[(&str, &[&str])] = &[
    (
        "json",
        &[
            "-o json",
            "-ojson",
            "--output json",
            "--output=json",
            "jq ",
            "curl",
            "cat ",
        ],
    ),
    ("yaml", YAML_MARKS),
    ("yml", YAML_MARKS),
    ("diff", &["diff"]),
];

/// What in a command says it prints a file or a structured format: the only commands a block
/// without a language that reads as a file's content may be the output of.
pub(super) const PRINTS_FILES: &[&str] = &[
    "yaml", "yml", "json", "jq ", "yq ", "curl", "cat ", "tree", "ls", "find ", "env", "printenv",
];

/// Whether `block` is typed as shell.
pub(super) fn is_shell(block: &CodeBlock) -> bool {
    block
        .language
        .as_deref()
        .is_some_and(|l| SHELL_LANGUAGES.contains(&l))
}

/// Why a block without a language is read as shell, by the same rules as a shell block: the
/// rules, in order. A block that reads as a file's content is never claimed (see
/// [`reads_as_content`]).
pub const UNTYPED_RULES: &[&str] = &[
    "a block without a language with a prompted line (`$ `, `user@host:~$ `, `# program` opening it) is read as shell",
    "a block without a language whose first line is a known program with arguments, or a command of the document's own aliases or functions, is read as shell",
    "a block without a language whose first line sets a variable to a command's output (`DIR=$(mktemp -d)`, `V=${V:-$(cat v.txt)}`), or from another variable with a command on the next line (`BASE=$DIR/base`), is read as shell",
];

/// Whether `block` is a script file's content, not lines typed at a terminal: its first line
/// is an interpreter line (`#!/bin/bash`, `#!/usr/bin/env bash`). The reader saves it and
/// runs the file; its `exit 1` would end the terminal.
pub fn is_script_file(block: &CodeBlock) -> bool {
    block
        .raw
        .lines()
        .find(|l| !block::is_blank(l))
        .is_some_and(|l| l.trim_start().starts_with("#!/"))
        && !marked_input(block)
}

/// Data formats whose blocks are read by [`UNTYPED_RULES`] as blocks without a language are:
/// an author who typed `kubectl argo rollouts set image …` in a ```` ```yaml ```` fence (a
/// file's content, the first line `key: value`, `{` or `---`, is never claimed).
pub const DATA_LANGUAGES: &[&str] = &["yaml", "yml", "json"];

/// Which of [`UNTYPED_RULES`] claims `block` (a block without a language, or in one of
/// [`DATA_LANGUAGES`]), if one does.
pub(super) fn untyped_claim(block: &CodeBlock, vocab: &Vocabulary) -> Option<&'static str> {
    if block
        .language
        .as_deref()
        .is_some_and(|l| !DATA_LANGUAGES.contains(&l))
    {
        return None;
    }
    let first = block.raw.lines().find(|l| !block::is_blank(l))?.trim();
    if reads_as_content(first) {
        return None;
    }
    // read as a terminal: `# program …` opening the block is a root prompt
    let root = first
        .strip_prefix("# ")
        .is_some_and(|c| vocab.starts_command(c));
    if block
        .raw
        .lines()
        .any(|l| vocab.strip_prompt(l, root).is_some())
    {
        return Some(UNTYPED_RULES[0]);
    }
    let mut words = first.split_whitespace();
    let opens = words.next().is_some_and(|w| !words::is_assignment(w)) && words.next().is_some();
    if opens && vocab.starts_command(first) {
        return Some(UNTYPED_RULES[1]);
    }
    // a script that sets its variables first (mdrip-tested READMEs): `BASE=$DIR/base`, then
    // `mkdir -p $BASE`; an env file (`PORT=8080`) sets nothing from a command or a variable
    let mut lines = block
        .raw
        .lines()
        .filter(|l| !block::is_blank(l))
        .map(str::trim);
    let first = lines.next()?;
    let computed = first.split_whitespace().next().is_some_and(|w| {
        words::is_assignment(w)
            && w.split_once('=')
                .is_some_and(|(_, value)| value.contains('$'))
    });
    let then_command = |l: &str| {
        let mut w = l.split_whitespace();
        let opens = w.next().is_some_and(|w| !words::is_assignment(w)) && w.next().is_some();
        opens && vocab.starts_command(l)
    };
    // a command's output anywhere in the value (`V=${V:-$(curl -s …)}`), not only at its start
    let sets_from_command = first
        .split_once('=')
        .is_some_and(|(_, value)| value.contains("$(") || value.contains('`'));
    (computed && (sets_from_command || lines.next().is_some_and(then_command)))
        .then_some(UNTYPED_RULES[2])
}

/// Whether a block's first line reads as a file's content rather than a terminal: JSON, a
/// YAML document or mapping (`apiVersion: v1`, `---`), an INI section, XML, a directory
/// tree's root (`.` or `├──`), an env file (`PORT=8080`).
pub(super) fn reads_as_content(first: &str) -> bool {
    let key = first.split_whitespace().next().unwrap_or("");
    // `[` opens JSON (`[`, `[{`, `["x"]`) or an INI section (`[server]`), not a log line
    // (`[2021-10-12 13:15:03] DEL key`)
    let bracket = first.starts_with('[')
        && (first == "["
            || first.starts_with("[{")
            || first.starts_with("[\"")
            || first.starts_with("[[")
            || (first.ends_with(']') && !first.contains("] ")));
    bracket || first.starts_with(['{', '<', '├', '└', '│'])
        || first == "---"
        || first == "."
        || (key.ends_with(':') && key.len() > 1 && !key.contains('@'))
        || first.contains(" = ") && !first.contains("==")
        // an env file (`PORT=8080`): a plain value, not a command's output or a variable's
        || (words::is_assignment(first)
            && !first.contains(['$', '`', ' ', '\t']))
}

/// A block that yields no command, right after a shell block in the same section, with no
/// prose between or after prose ending in a colon ("The output is similar to:"), in an output
/// language (or none): the output of the shell block's last command, if that printed nothing.
/// A `json` or `yaml` block only under a command that prints that format; never a block that
/// opens with a command (prompted, or a known program with arguments).
pub(super) fn attach_output_block(
    doc: &Document,
    vocab: &Vocabulary,
    prev: usize,
    index: usize,
    steps: &mut [Step],
) -> bool {
    let block = &doc.blocks[index];
    let marked = marked_output(block);
    // a block that opens with a command (prompted, or a known program and its arguments) is
    // commands, whatever its language; a lone word (`iptables`) or `name=value` is output
    let first = block
        .raw
        .lines()
        .find(|l| !block::is_blank(l))
        .map(str::trim);
    if !marked
        && first.is_some_and(|l| {
            let mut words = l.split_whitespace();
            let opens =
                words.next().is_some_and(|w| !words::is_assignment(w)) && words.next().is_some();
            vocab.strip_prompt(l, false).is_some() || (opens && vocab.starts_command(l))
        })
    {
        return false;
    }
    let language = block.language.as_deref();
    let typed_as_output = language.is_none_or(|l| OUTPUT_LANGUAGES.contains(&l));
    let lead = block.lead.trim_end();
    let introduced =
        (lead.is_empty() || lead.ends_with(':') || announces_output(lead)) && !asks_to_type(lead);
    let same_section = block.section == doc.blocks[prev].section;
    // an `include::` between the two blocks holds the commands this output is of (labrun does
    // not read included files): it is not the previous command's
    let included_between = doc.source.contains("include::")
        && doc
            .source
            .lines()
            .skip(doc.blocks[prev].line)
            .take(block.line.saturating_sub(doc.blocks[prev].line + 1))
            .any(|l| l.starts_with("include::"));
    if included_between {
        return false;
    }
    let Some(last) = steps.last_mut() else {
        return false;
    };
    if !((marked || (typed_as_output && introduced)) && same_section && last.block == prev) {
        return false;
    }
    if last.has_expected() || block.directives.skip {
        return false;
    }
    if let Some((_, marks)) = FORMATTED.iter().find(|(l, _)| Some(*l) == language)
        && !marked
    {
        let command = last.command.to_ascii_lowercase();
        if !marks.iter().any(|m| command.contains(m)) {
            return false;
        }
    }
    // a block without a language that reads as a file (a YAML manifest after "create a file
    // with:"), or that sets a variable from a command (`V=${V:-$(curl …)}` after "Pick a
    // version:"), is output only under a command that prints files or a format
    let script_like = || untyped_claim(block, vocab) == Some(UNTYPED_RULES[2]);
    if !marked && language.is_none() && (first.is_some_and(reads_as_content) || script_like()) {
        let command = last.command.to_ascii_lowercase();
        if !PRINTS_FILES.iter().any(|m| command.contains(m)) {
            return false;
        }
    }
    let lines: Vec<&str> = block::lines_of(block);
    match block::trim_blank(&lines) {
        Some((first, output)) => {
            last.expected = output;
            last.expected_line = Some(block.line + first);
            true
        }
        None => false,
    }
}
