//! Stage 2, steps: the shell blocks of a [`Document`] become [`Step`]s.
//!
//! In: a document. Out: for every `bash` / `sh` / `shell` / `console` block, the commands it
//! holds (continuations, compound commands and heredocs joined, as bash reads them) and the
//! output the author printed under each, or in the block right after; for `--explain`, the
//! role of every line of every block and the rule that decided it; warnings about a document
//! that looks like a tutorial but yields no step. The rules that tell a command from output
//! are in the README ("What counts as a command") and here: `words.rs` (programs, aliases,
//! prompts), `extent.rs` (where a command ends, by bash's grammar), `block.rs` (one block, line
//! by line), `kinds.rs` (what a block is: shell, output of the block above, or neither), this
//! file (across blocks). They depend only on the text, never on what is
//! installed.

mod block;
mod extent;
mod kinds;
mod printed;
mod words;

pub use extent::is_open;
pub use printed::Printed;

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::directive::Directives;
use crate::document::{Document, Warning};

pub use block::{LineRole, Role, head as command_head, rule, strip_callouts};
pub use kinds::{
    DATA_LANGUAGES, INPUT_LEAD_WORDS, INPUT_ROLES, OUTPUT_LANGUAGES, OUTPUT_LEAD_WORDS,
    OUTPUT_ROLES, UNTYPED_RULES, is_script_file, marked_input, marked_output,
    opens_with_table_header,
};
use kinds::{attach_output_block, is_shell, untyped_claim};
pub use words::{PROGRAMS, PROMPTS, Vocabulary};

/// Languages whose blocks are split into steps.
pub const SHELL_LANGUAGES: &[&str] = &["bash", "sh", "shell", "console", "shell-session", "zsh"];

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
    pub expected: Printed,
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
    read(doc).steps
}

/// [`split`], refusing a document in which a command would swallow what follows it (a
/// here-document never terminated): bad input at the command's line. What `list`, `run` and
/// `check` use.
pub fn split_checked(doc: &Document) -> crate::error::Result<Vec<Step>> {
    let read = read(doc);
    match read.unterminated {
        Some(line) => Err(crate::error::Error::input(
            &doc.path,
            line,
            "this command opens a here-document that is never terminated in its block: bash \
             would read the rest of the block (and, run, labrun's own next lines) into it",
        )),
        None => Ok(read.steps),
    }
}

/// Every line of every code block with its role and the rule that decided it, block by block.
pub fn explain(doc: &Document) -> Vec<Vec<LineRole>> {
    read(doc).roles
}

/// Warnings about what labrun read: a document that shows commands (prompted lines, or a
/// block whose first line starts a command) but yields no step, and why.
pub fn warnings(doc: &Document, steps: &[Step]) -> Vec<Warning> {
    if !steps.is_empty() {
        return unknown_programs(doc, steps);
    }
    let vocab = vocabulary(doc);
    let looks_like_shell = doc.blocks.iter().find_map(|b| {
        let first = b.raw.lines().find(|l| !block::is_blank(l))?;
        let prompted = b
            .raw
            .lines()
            .find(|l| vocab.strip_prompt(l, false).is_some());
        let line = prompted.or(vocab.starts_command(first.trim()).then_some(first))?;
        Some((b, line.trim()))
    });
    let Some((b, line)) = looks_like_shell else {
        return Vec::new();
    };
    let why = match b.language.as_deref() {
        Some(l) if is_shell(b) => format!(
            "its `{l}` block yields no command (name its command lines with `labrun: commands=`)"
        ),
        Some(l) => format!(
            "it is a `{l}` block, and labrun reads only {} blocks (give it a shell language)",
            SHELL_LANGUAGES.join(", ")
        ),
        None => format!(
            "it has no language, and labrun reads only {} blocks (give it a shell language)",
            SHELL_LANGUAGES.join(", ")
        ),
    };
    vec![Warning {
        line: b.line,
        message: format!("no step found, though `{line}` looks like a command: {why}"),
    }]
}

/// Shell blocks of one line that yield no step though the line reads like a command of a
/// program labrun does not know (`mytool --version`: a lower-case word and its arguments):
/// the author's own tool, most likely. Each is a warning at the block, saying how to make it a step.
fn unknown_programs(doc: &Document, steps: &[Step]) -> Vec<Warning> {
    let mut out = Vec::new();
    for (index, b) in doc.blocks.iter().enumerate() {
        if !is_shell(b) || marked_output(b) || steps.iter().any(|s| s.block == index) {
            continue;
        }
        let mut lines = b.raw.lines().filter(|l| !block::is_blank(l));
        let (Some(first), None) = (lines.next(), lines.next()) else {
            continue; // an excerpt of several lines is a script's, as rule 8 reads it
        };
        let first = first.trim();
        let mut words_of = first.split_whitespace();
        let word = words_of.next().unwrap_or("");
        if words_of.next().is_none() {
            continue; // one word alone (a name, an address) is as likely printed as typed
        }
        let program_like = word.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if program_like && !words::is_shell_keyword(word) {
            out.push(Warning {
                line: b.line,
                message: format!(
                    "no step found in this block, though `{first}` reads like a command: \
                     `{word}` is no program labrun knows (mark the block as commands, \
                     `[.console-input]` or `{{.input}}`, or name it with `labrun: commands=1`)"
                ),
            });
        }
    }
    out
}

fn vocabulary(doc: &Document) -> Vocabulary {
    let mut vocab = Vocabulary::from_texts(
        doc.blocks
            .iter()
            .filter(|b| is_shell(b))
            .map(|b| b.raw.as_str()),
    );
    // a line shaped as only a command is makes its first word a program of this document
    for b in doc.blocks.iter().filter(|b| is_shell(b)) {
        let lines: Vec<&str> = b.raw.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let line = vocab.strip_prompt(line, false).unwrap_or(line);
            if let Some(w) = words::program_of_command_shape(line, lines.get(i + 1).copied()) {
                vocab.add_program(w);
            }
        }
    }
    // a word that opens two or more shell blocks as a program and its arguments is one
    let mut heads: Vec<&str> = Vec::new();
    for b in doc.blocks.iter().filter(|b| is_shell(b)) {
        let first = b
            .raw
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        let first = first.map(|l| vocab.strip_prompt(l, false).unwrap_or(l));
        if let Some(w) = first.and_then(words::program_like_head)
            && !vocab.starts_command(w)
        {
            heads.push(w);
        }
    }
    heads.sort_unstable();
    for pair in heads.windows(2) {
        if pair[0] == pair[1] {
            vocab.add_program(pair[0]);
        }
    }
    // the author said these blocks are commands: the first word of each line is a program
    for b in doc.blocks.iter().filter(|b| marked_input(b)) {
        for line in b.raw.lines() {
            let line = vocab.strip_prompt(line, false).unwrap_or(line);
            let first = line.split_whitespace().find(|w| !words::is_assignment(w));
            if let Some(w) = first.filter(|w| !w.starts_with('#')) {
                vocab.add_program(w);
            }
        }
    }
    vocab
}

/// What reading every block of a document gives.
struct Reading {
    steps: Vec<Step>,
    roles: Vec<Vec<LineRole>>,
    /// The source line of the first command with a here-document never terminated.
    unterminated: Option<usize>,
}

fn read(doc: &Document) -> Reading {
    let vocab = vocabulary(doc);
    let mut unterminated = None;
    let mut steps: Vec<Step> = Vec::new();
    let mut roles = Vec::with_capacity(doc.blocks.len());
    let mut ordinals = vec![0usize; doc.sections.len() + 1];
    let mut last_shell_block: Option<usize> = None;
    for (index, block) in doc.blocks.iter().enumerate() {
        let shell =
            (is_shell(block) || marked_input(block) || untyped_claim(block, &vocab).is_some())
                && !marked_output(block)
                && !is_script_file(block);
        let read = shell.then(|| block::read(block, &vocab));
        if let Some(&n) = read.as_ref().and_then(|r| r.unterminated.first()) {
            unterminated.get_or_insert(block.line + n);
        }
        let mut block_roles = match &read {
            Some(r) => r.roles.clone(),
            None => vec![LineRole::new(Role::Skipped, rule::NOT_SHELL); block.raw.lines().count()],
        };
        let raw_steps = read.map(|r| r.steps).unwrap_or_default();
        if raw_steps.is_empty() {
            if let Some(prev) = last_shell_block.take()
                && attach_output_block(doc, &vocab, prev, index, &mut steps)
            {
                let why = if marked_output(block) {
                    rule::OUTPUT_ROLE
                } else {
                    rule::NEXT_BLOCK
                };
                for r in block_roles.iter_mut().filter(|r| r.role != Role::Blank) {
                    *r = LineRole::new(Role::Output, why);
                }
            }
            roles.push(block_roles);
            continue;
        }
        for raw in raw_steps {
            let slot = block.section.map_or(0, |s| s + 1);
            ordinals[slot] += 1;
            let (slug, title) = match block.section {
                Some(s) => (doc.sections[s].slug.as_str(), doc.sections[s].title.clone()),
                None => ("preamble", String::new()),
            };
            let command = if block.link_markers {
                without_link_markers(&raw.command)
            } else {
                raw.command
            };
            let expected = without_ctrl_c(&command, raw.output);
            steps.push(Step {
                id: format!("{slug}/{}", ordinals[slot]),
                section: title,
                line: block.line + raw.first_line,
                command,
                expected,
                expected_line: raw.output_first.map(|l| block.line + l),
                directives: block.directives.clone(),
                block: index,
            });
        }
        roles.push(std::mem::take(&mut block_roles));
        last_shell_block = Some(index);
    }
    Reading {
        steps,
        roles,
        unterminated,
    }
}

static LINK_MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"@([\w.~/-]*[\w/])@").unwrap());

/// `@samples/app.yaml@` in a command of an Istio `text` block is the plain path.
fn without_link_markers(command: &str) -> String {
    if !command.contains('@') {
        return command.to_string();
    }
    LINK_MARKER.replace_all(command, "$1").into_owned()
}

/// Under a command that never ends by itself, a line `^C` is the terminal's echo of the
/// author's Ctrl-C, not output.
fn without_ctrl_c(command: &str, output: Printed) -> Printed {
    let echo = |l: &&str| l.trim() == "^C";
    if crate::policy::kind(command) == crate::policy::Kind::Watch
        && output.lines().any(|l| echo(&l))
    {
        return Printed::from_lines(output.lines().filter(|l| !echo(l)));
    }
    output
}

/// For each block of `doc`, the rule that reads it as shell although it has no language, for
/// `list --explain` (the document's vocabulary learned once).
pub fn untyped_rules(doc: &Document) -> Vec<Option<&'static str>> {
    let vocab = vocabulary(doc);
    doc.blocks
        .iter()
        .map(|b| untyped_claim(b, &vocab))
        .collect()
}

/// [`untyped_rules`] of one block.
pub fn untyped_rule(doc: &Document, index: usize) -> Option<&'static str> {
    untyped_claim(doc.blocks.get(index)?, &vocabulary(doc))
}

#[cfg(test)]
mod tests {
    use super::kinds::{FORMATTED, announces_output, asks_to_type};
    use super::*;
    use crate::document::CodeBlock;

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
            ..CodeBlock::default()
        }
    }

    fn split_block(block: &CodeBlock) -> Vec<block::RawStep> {
        block::read(block, &Vocabulary::default()).steps
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
                Printed::from_lines([
                    "64 bytes from 10.0.0.3: icmp_seq=1",
                    "^C",
                    "--- 10.0.0.3 ping statistics ---",
                ]),
            )
        };
        assert_eq!(out("ping 10.0.0.3").len(), 2);
        assert!(!out("ping 10.0.0.3").contains("^C"));
        // a command that ends by itself printed it: it stays
        assert_eq!(out("ping -c 1 10.0.0.3").len(), 3);
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

    /// A two-block document: a command block, then a block with `attributes` and `raw`.
    fn two_blocks(attributes: &str, raw: &str) -> Vec<Step> {
        let mut output = typed("bash", raw);
        output.attributes = attributes.into();
        output.line = 5;
        let doc = Document {
            blocks: vec![typed("bash", "kubectl get pods\n"), output],
            ..Document::default()
        };
        split(&doc)
    }

    #[test]
    fn every_output_role_makes_a_block_the_output_of_the_command_above() {
        for role in OUTPUT_ROLES {
            for attributes in [
                format!(".{role},source,bash"),
                format!("source,bash,role={role}"),
            ] {
                let steps = two_blocks(&attributes, "echo not a command\nready\n");
                assert_eq!(steps.len(), 1, "{attributes}");
                assert_eq!(
                    steps[0].expected.text(),
                    "echo not a command\nready",
                    "{attributes}"
                );
            }
        }
        // without the role the block is commands
        let plain = two_blocks("source,bash", "echo a command\n");
        assert_eq!(plain.len(), 2);
        assert_eq!(plain[1].command, "echo a command");
    }

    #[test]
    fn every_input_role_makes_the_first_words_programs() {
        for role in INPUT_ROLES {
            let mut b = typed("bash", "mytool profile list\n");
            b.attributes = format!(".{role},source,bash");
            let doc = Document {
                blocks: vec![b],
                ..Document::default()
            };
            let steps = split(&doc);
            assert_eq!(steps.len(), 1, "{role}");
            assert_eq!(steps[0].command, "mytool profile list");
        }
        // unmarked, the author's own tool is an excerpt
        assert!(
            split(&Document {
                blocks: vec![typed("bash", "mytool profile list\n")],
                ..Document::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn callouts_are_cut_from_asciidoc_lines_as_asciidoctor_shows_them() {
        for (line, read) in [
            ("kubectl apply -f x.yaml <1>", "kubectl apply -f x.yaml"),
            ("kubectl apply -f x.yaml <1> <2>", "kubectl apply -f x.yaml"),
            ("kubectl apply -f x.yaml # <1>", "kubectl apply -f x.yaml"),
            ("curl localhost // <.>", "curl localhost"),
            ("echo a<1>", "echo a<1>"),
            ("echo <name>", "echo <name>"),
            ("sort < in > out", "sort < in > out"),
        ] {
            assert_eq!(strip_callouts(line), read, "{line}");
        }
    }

    #[test]
    fn every_output_lead_word_introduces_the_next_block_and_other_prose_does_not() {
        for w in OUTPUT_LEAD_WORDS {
            let lead = format!("Run it. The next block {w} what happens.");
            assert!(announces_output(&lead), "{w}");
            let two = two_blocks_after("source,text", "ready\n", &lead);
            assert_eq!(two.len(), 1, "{w}");
            assert_eq!(two[0].expected.text(), "ready", "{w}");
        }
        // only the last sentence counts, and only whole words
        assert!(!announces_output("You will see it. Now save the file."));
        assert!(!announces_output("Create the seed file."));
        let other = two_blocks_after("source,text", "ready\n", "Now save this file.");
        assert_eq!(other[0].expected.text(), "");
    }

    #[test]
    fn a_formatted_block_is_output_only_under_a_command_that_prints_its_format() {
        for (language, marks) in FORMATTED {
            assert!(OUTPUT_LANGUAGES.contains(language), "{language}");
            let mut output = typed(language, "x: 1\n");
            output.line = 5;
            output.lead = "It prints:".into();
            let under = |command: &str| {
                let doc = Document {
                    blocks: vec![typed("bash", &format!("{command}\n")), output.clone()],
                    ..Document::default()
                };
                split(&doc)[0].expected.text().to_string()
            };
            assert_eq!(
                under(&format!("echo {} a b", marks[0].trim())),
                "x: 1",
                "{language}"
            );
            assert_eq!(under("kubectl delete pod web"), "", "{language}");
        }
    }

    #[test]
    fn a_script_file_is_not_typed_at_a_terminal() {
        for first in ["#!/bin/bash", "#!/usr/bin/env bash", "  #!/bin/sh -e"] {
            let doc = Document {
                blocks: vec![typed(
                    "bash",
                    &format!("{first}\nkubectl get pods\nexit 1\n"),
                )],
                ..Document::default()
            };
            assert!(split(&doc).is_empty(), "{first}");
        }
        // a comment that is not an interpreter line, and a block marked as commands, are read
        let doc = Document {
            blocks: vec![typed("bash", "# list them\nkubectl get pods\n")],
            ..Document::default()
        };
        assert_eq!(split(&doc).len(), 1);
        let mut marked = typed("bash", "#!/bin/bash\nkubectl get pods\n");
        marked.attributes = ".console-input,source,bash".into();
        let doc = Document {
            blocks: vec![marked],
            ..Document::default()
        };
        assert_eq!(split(&doc).len(), 1);
    }

    #[test]
    fn every_input_lead_word_keeps_the_next_block_from_being_output() {
        for w in INPUT_LEAD_WORDS {
            let lead = format!("Create one, then {w} in your chat window:");
            assert!(asks_to_type(&lead), "{w}");
            let two = two_blocks_after("", "Create a VM named web\n", &lead);
            assert_eq!(two[0].expected.text(), "", "{w}");
        }
        // the same block after a colon alone is the command's output
        let two = two_blocks_after("", "Create a VM named web\n", "It answers:");
        assert_eq!(two[0].expected.text(), "Create a VM named web");
    }

    #[test]
    fn an_input_role_over_a_table_is_output_of_the_command_above() {
        let mut table = typed("bash", "NAME    READY   STATUS\nweb-1   1/1     Running\n");
        table.attributes = ".console-input,source,bash".into();
        table.line = 5;
        assert!(opens_with_table_header(&table));
        assert!(marked_output(&table) && !marked_input(&table));
        let doc = Document {
            blocks: vec![typed("bash", "kubectl get pods\n"), table],
            ..Document::default()
        };
        let steps = split(&doc);
        assert_eq!(steps.len(), 1);
        assert_eq!(
            steps[0].expected.text(),
            "NAME    READY   STATUS\nweb-1   1/1     Running"
        );
        // a block of commands is no table
        let mut input = typed("bash", "toolctl profile list\n");
        input.attributes = ".console-input,source,bash".into();
        assert!(!opens_with_table_header(&input) && marked_input(&input));
    }

    #[test]
    fn output_after_an_include_is_not_the_previous_commands() {
        let mut output = typed("bash", "hello from v2\n");
        output.attributes = ".console-output,source,bash".into();
        output.line = 7;
        let mut first = typed("bash", "kubectl apply -f app.yml\n");
        first.line = 2;
        let source = "----\nkubectl apply -f app.yml\n----\ninclude::traffic.adoc[]\n\n----\nhello from v2\n----\n";
        let doc = Document {
            source: source.into(),
            blocks: vec![first.clone(), output.clone()],
            ..Document::default()
        };
        assert_eq!(split(&doc)[0].expected.text(), "");
        // without the include, the role attaches it
        let doc = Document {
            source: source.replace("include::traffic.adoc[]", "Then:"),
            blocks: vec![first, output],
            ..Document::default()
        };
        assert_eq!(split(&doc)[0].expected.text(), "hello from v2");
    }

    /// [`two_blocks`] with `lead` as the prose before the second block.
    fn two_blocks_after(attributes: &str, raw: &str, lead: &str) -> Vec<Step> {
        let mut output = typed("text", raw);
        output.attributes = attributes.into();
        output.line = 5;
        output.lead = lead.into();
        let doc = Document {
            blocks: vec![typed("bash", "kubectl get pods\n"), output],
            ..Document::default()
        };
        split(&doc)
    }
}
