//! One shell block read line by line.
//!
//! In: a code block and the document's [`Vocabulary`]. Out: the steps it holds (lines counted
//! from 0 within the block) and, for every line, its [`Role`] and the rule that decided it —
//! the README's numbered rules, which `labrun list --explain` prints.

use serde::Serialize;

use super::extent;
use super::words::{Vocabulary, is_assignment};
use crate::document::CodeBlock;

/// What a line of a code block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Command,
    Continuation,
    Output,
    Comment,
    Prompt,
    Blank,
    Skipped,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Command => "command",
            Role::Continuation => "continuation",
            Role::Output => "output",
            Role::Comment => "comment",
            Role::Prompt => "prompt",
            Role::Blank => "blank",
            Role::Skipped => "skipped",
        }
    }
}

/// The rules, as `--explain` names them; the numbers are the README's.
pub mod rule {
    pub const PROMPT: &str = "1 a prompt starts a command";
    pub const BEFORE_PROMPTS: &str = "1 an unprompted command above the block's first prompt";
    pub const PROMPTED_OUTPUT: &str = "1 in a prompted block, an unprompted line is output";
    pub const BARE_PROMPT: &str = "1 a prompt with nothing typed";
    pub const PROGRAM: &str = "2 a known program at a command position";
    pub const NOT_AT_POSITION: &str =
        "2 output has begun: only a blank line makes a command position";
    pub const NOT_A_PROGRAM: &str = "2 its first word is no known program";
    pub const ANNOUNCED: &str = "3 announced by output ending in `:`";
    pub const GRAMMAR: &str = "4 bash is still reading the command";
    pub const GROUP: &str = "2 a `{ }` or `( )` group whose first command is a known program";
    pub const LINE_RULE: &str = "4 a trailing `\\`, `|` or `&&`, or a here-document, never closed";
    pub const UNTERMINATED: &str = "4 a here-document never terminated: the rest of the block";
    pub const COMMENT: &str = "5 a comment at a command position";
    pub const COMMENT_ABOVE_PROMPT: &str = "5 a comment above a prompted command";
    pub const REPEATED: &str = "6 repeats the previous command's program and first argument";
    pub const NEXT_BLOCK: &str = "7 the output of the previous block's last command";
    pub const OUTPUT_ROLE: &str =
        "7 its role marks it as output: the previous block's last command's";
    pub const EXCERPT: &str = "8 no command above it: an excerpt";
    pub const OUTPUT: &str = "9 printed output of the command above";
    pub const DIRECTIVE: &str = "commands= names this line";
    pub const DIRECTIVE_NOT: &str = "commands= does not name this line";
    pub const NOT_SHELL: &str = "not a shell block";
    pub const BLANK: &str = "blank";
}

/// A line's role and the rule behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRole {
    pub role: Role,
    pub rule: &'static str,
}

impl LineRole {
    pub fn new(role: Role, rule: &'static str) -> Self {
        LineRole { role, rule }
    }
}

/// A step as found in one block, with lines counted from 0 within the block.
#[derive(Debug, Default)]
pub(super) struct RawStep {
    pub first_line: usize,
    pub command: String,
    pub output: super::Printed,
    pub output_first: Option<usize>,
}

/// What reading a block gives.
pub(super) struct Read {
    pub steps: Vec<RawStep>,
    pub roles: Vec<LineRole>,
    /// Lines (within the block) of commands bash would not end: a here-document never
    /// terminated swallows the rest of the block (and, run, whatever follows it).
    pub unterminated: Vec<usize>,
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

/// A block's lines as the reader sees them: without `\r`, and in an AsciiDoc block without
/// callouts.
pub(super) fn lines_of(block: &CodeBlock) -> Vec<&str> {
    block
        .raw
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .map(|l| if block.callouts { strip_callouts(l) } else { l })
        .collect()
}

/// An AsciiDoc line without its callouts, as Asciidoctor shows it: one or more `<N>` or `<.>`
/// ending the line, the space before them, and a line comment (`#`, `//`, `--`, `;;`) just
/// before the first (`kubectl apply -f x.yaml # <1>`).
pub fn strip_callouts(line: &str) -> &str {
    let mut end = line;
    let mut found = false;
    while let Some(rest) = end.trim_end().strip_suffix('>')
        && let Some(open) = rest.rfind('<')
        && let inner = &rest[open + 1..]
        && (inner == "." || (!inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit())))
        && (open == 0 || rest[..open].ends_with([' ', '\t']))
    {
        end = &rest[..open];
        found = true;
    }
    if !found {
        return line;
    }
    let t = end.trim_end();
    ["#", "//", "--", ";;"]
        .iter()
        .find_map(|c| {
            t.strip_suffix(c)
                .filter(|x| x.is_empty() || x.ends_with([' ', '\t']))
        })
        .map_or(t, str::trim_end)
}

/// The longest a command may run on while bash is still reading it, in lines.
const MAX_COMMAND_LINES: usize = 400;

struct Reader<'a> {
    lines: Vec<&'a str>,
    block: &'a CodeBlock,
    vocab: &'a Vocabulary,
    prompted: bool,
    root_prompt: bool,
}

pub(super) fn read(block: &CodeBlock, vocab: &Vocabulary) -> Read {
    let lines: Vec<&str> = lines_of(block);
    // A bare `# ` is a root prompt only in a transcript-typed block (or one without a
    // language, read as a terminal) that opens with one; everywhere else it starts a comment.
    let transcript = matches!(
        block.language.as_deref(),
        None | Some("console" | "shell-session")
    );
    let root_prompt = transcript
        && lines.iter().find(|l| !is_blank(l)).is_some_and(|l| {
            l.trim_start()
                .strip_prefix("# ")
                .is_some_and(|c| vocab.starts_command(c))
        });
    let prompted = lines
        .iter()
        .any(|l| Vocabulary::bare_prompt(l) || vocab.strip_prompt(l, root_prompt).is_some());
    let reader = Reader {
        lines,
        block,
        vocab,
        prompted,
        root_prompt,
    };
    reader.read()
}

impl<'a> Reader<'a> {
    fn prompted_command(&self, n: usize) -> Option<&'a str> {
        self.vocab.strip_prompt(self.lines[n], self.root_prompt)
    }

    /// Whether line `n` starts a command, with the command's first line and the rule.
    fn starts(
        &self,
        n: usize,
        position: Position,
        seen_prompt: bool,
        last_output: Option<&str>,
        previous: Option<&str>,
    ) -> Result<(&'a str, &'static str), &'static str> {
        let line = self.lines[n];
        match self.block.directives.names_command_line(n + 1) {
            Some(true) => return Ok((line.trim_start(), rule::DIRECTIVE)),
            Some(false) => return Err(rule::DIRECTIVE_NOT),
            None => {}
        }
        let at_position = position != Position::InOutput;
        if self.prompted {
            if let Some(cmd) = self.prompted_command(n) {
                return Ok((cmd, rule::PROMPT));
            }
            if !seen_prompt
                && at_position
                && !is_comment(line)
                && self.vocab.starts_command(line.trim_start())
            {
                return Ok((line.trim_start(), rule::BEFORE_PROMPTS));
            }
            return Err(rule::PROMPTED_OUTPUT);
        }
        let announced = position == Position::AfterBlank
            && last_output.is_some_and(|l| l.trim_end().ends_with(':'));
        if announced {
            return Err(rule::ANNOUNCED);
        }
        if at_position && self.vocab.starts_command(line.trim_start()) {
            return Ok((line.trim_start(), rule::PROGRAM));
        }
        if at_position && self.group(n) {
            return Ok((line.trim_start(), rule::GROUP));
        }
        if previous.is_some_and(|p| self.repeats(p, line)) {
            return Ok((line, rule::REPEATED));
        }
        Err(if at_position {
            rule::NOT_A_PROGRAM
        } else {
            rule::NOT_AT_POSITION
        })
    }

    /// A line at column 0 that repeats the program of `previous` (a command's first line) and
    /// the shape of its first argument.
    fn repeats(&self, previous: &str, line: &str) -> bool {
        if line.starts_with(char::is_whitespace) || !self.vocab.starts_command(line) {
            return false;
        }
        head(previous).is_some_and(|p| head(line) == Some(p))
    }

    /// The command starting at line `n` with first line `first`: its text, the index of the
    /// line after it, and the rule that joined its continuation lines (none: one line).
    fn extent(&self, n: usize, first: &str) -> (String, usize, &'static str) {
        let mut text = first.trim_end().to_string();
        if !extent::is_open(&text) {
            return (text, n + 1, rule::GRAMMAR);
        }
        let last = self.lines.len().min(n + 1 + MAX_COMMAND_LINES);
        let mut grown = text.clone();
        let mut previous = first;
        for k in n + 1..last {
            if self.ends_open_command(k) {
                break;
            }
            let body = self.continuation(self.lines[k], previous);
            grown.push('\n');
            grown.push_str(body.trim_end());
            previous = body;
            if !extent::is_open(&grown) {
                return (grown, k + 1, rule::GRAMMAR);
            }
        }
        // Never closed: the line rules, as the text is written.
        let mut k = n + 1;
        let mut pending = extent::continues(first);
        let mut heredoc = extent::heredoc_terminator(first);
        let mut previous = first;
        while k < self.lines.len() && (pending || heredoc.is_some()) {
            let line = self.lines[k];
            text.push('\n');
            if let Some(term) = &heredoc {
                text.push_str(line);
                if line.trim() == term {
                    heredoc = None;
                }
            } else {
                let body = self.continuation(line, previous);
                text.push_str(body.trim_end());
                pending = extent::continues(body);
                heredoc = extent::heredoc_terminator(body);
                previous = body;
            }
            k += 1;
        }
        let how = if heredoc.is_some() {
            rule::UNTERMINATED
        } else {
            rule::LINE_RULE
        };
        (text, k, how)
    }

    /// A `{ … }` or `( … )` group at line `n` is a command when bash reads it as a group
    /// whose first command starts with a known program (printed JSON opens with `{` too).
    fn group(&self, n: usize) -> bool {
        let t = self.lines[n].trim_start();
        let opens = |c: char| {
            t.strip_prefix(c)
                .is_some_and(|r| r.is_empty() || r.starts_with(char::is_whitespace))
        };
        if !(opens('{') || opens('(')) {
            return false;
        }
        let (text, _, how) = self.extent(n, t);
        if how != rule::GRAMMAR || extent::is_open(&text) {
            return false;
        }
        crate::syntax::simple_commands(&text)
            .ok()
            .and_then(|cmds| cmds.into_iter().find(|c| !c.words.is_empty()))
            .is_some_and(|c| self.vocab.starts_command(&c.words[0].raw))
    }

    /// Line `k` starts a command of its own, so an open command before it ends unclosed.
    fn ends_open_command(&self, k: usize) -> bool {
        if self.block.directives.names_command_line(k + 1) == Some(true) {
            return true;
        }
        self.prompted
            && !self.lines[k].trim_start().starts_with("> ")
            && self.prompted_command(k).is_some()
    }

    /// A continuation line without its continuation prompt: `> ` in a prompted block, or
    /// after a line ending in `\` in any block.
    fn continuation(&self, line: &'a str, previous: &str) -> &'a str {
        let after_backslash = previous.trim_end().ends_with('\\');
        if self.prompted || after_backslash {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("> ") {
                return rest;
            }
            if t == ">" {
                return "";
            }
        }
        line
    }

    /// Whether the `#` line `n` of a prompted block stands above a prompted command (with
    /// only comments and blank lines between).
    fn comment_above_prompt(&self, n: usize) -> bool {
        for k in n + 1..self.lines.len() {
            if self.prompted_command(k).is_some() {
                return true;
            }
            if !(is_blank(self.lines[k]) || is_comment(self.lines[k])) {
                return false;
            }
        }
        false
    }

    fn read(&self) -> Read {
        let count = self.lines.len();
        let mut roles = vec![LineRole::new(Role::Skipped, rule::EXCERPT); count];
        let mut steps: Vec<RawStep> = Vec::new();
        let mut outputs: Vec<(usize, &str)> = Vec::new();
        // Output lines attach to the last step, unless a bare prompt ended it.
        let mut current = false;
        let mut position = Position::Top;
        let mut last_output: Option<&str> = None;
        let mut seen_prompt = false;
        let mut unterminated = Vec::new();
        let mut n = 0;
        while n < count {
            let line = self.lines[n];
            let previous = if current {
                steps.last().and_then(|s| s.command.lines().next())
            } else {
                None
            };
            let started = self.starts(n, position, seen_prompt, last_output, previous);
            let why = match started {
                Ok((first, why)) => {
                    finish(&mut steps, &mut outputs);
                    seen_prompt |= why == rule::PROMPT;
                    roles[n] = LineRole::new(Role::Command, why);
                    let (command, next, how) = self.extent(n, first);
                    if how == rule::UNTERMINATED {
                        unterminated.push(n);
                    }
                    for r in &mut roles[n + 1..next] {
                        *r = LineRole::new(Role::Continuation, how);
                    }
                    steps.push(RawStep {
                        first_line: n,
                        command,
                        ..Default::default()
                    });
                    current = true;
                    last_output = None;
                    position = Position::AfterCommand;
                    n = next;
                    continue;
                }
                Err(why) => why,
            };
            if is_blank(line) {
                roles[n] = LineRole::new(Role::Blank, rule::BLANK);
                if position == Position::InOutput {
                    position = Position::AfterBlank;
                }
                if current {
                    outputs.push((n, line));
                }
            } else if self.prompted && Vocabulary::bare_prompt(line) {
                roles[n] = LineRole::new(Role::Prompt, rule::BARE_PROMPT);
                finish(&mut steps, &mut outputs);
                current = false;
            } else if !self.prompted
                && self.block.directives.commands.is_none()
                && position != Position::InOutput
                && is_comment(line)
            {
                roles[n] = LineRole::new(Role::Comment, rule::COMMENT);
            } else if self.prompted && is_comment(line) && self.comment_above_prompt(n) {
                roles[n] = LineRole::new(Role::Comment, rule::COMMENT_ABOVE_PROMPT);
            } else if current {
                let rule = match why {
                    rule::ANNOUNCED | rule::DIRECTIVE_NOT => why,
                    _ => rule::OUTPUT,
                };
                roles[n] = LineRole::new(Role::Output, rule);
                outputs.push((n, line));
                last_output = Some(line);
                position = Position::InOutput;
            }
            n += 1;
        }
        finish(&mut steps, &mut outputs);
        Read {
            steps,
            roles,
            unterminated,
        }
    }
}

/// The output gathered for the last step, trimmed of blank lines at both ends.
fn finish(steps: &mut [RawStep], outputs: &mut Vec<(usize, &str)>) {
    if let Some(step) = steps.last_mut() {
        let texts: Vec<&str> = outputs.iter().map(|(_, l)| *l).collect();
        if let Some((first, out)) = trim_blank(&texts) {
            step.output = out;
            step.output_first = Some(outputs[first].0);
        }
    }
    outputs.clear();
}

/// A command line's program word and the shape of its first argument (rule 6; `promote`
/// tells a run of another version of the document by it).
pub fn head(text: &str) -> Option<(&str, Option<String>)> {
    let mut words = text.split_whitespace().skip_while(|w| is_assignment(w));
    let program = words.next()?;
    Some((program, words.next().map(shape)))
}

/// A first argument's shape: up to its first `/`, letters as `a`, digits as `0`, each run
/// once, other characters kept (`get` → `a`, `localhost:8080/healthz` → `a:0`).
fn shape(word: &str) -> String {
    let head = word.split('/').next().unwrap_or(word);
    let mut out = String::new();
    for c in head.chars() {
        let class = if c.is_alphabetic() {
            'a'
        } else if c.is_ascii_digit() {
            '0'
        } else {
            c
        };
        if !(matches!(class, 'a' | '0') && out.ends_with(class)) {
            out.push(class);
        }
    }
    out
}

pub(super) fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t == "#" || t.starts_with("# ") || t.starts_with("#!")
}

/// Lines without leading and trailing blank lines, with the index of the first kept line.
pub(super) fn trim_blank(lines: &[&str]) -> Option<(usize, super::Printed)> {
    let first = lines.iter().position(|l| !is_blank(l))?;
    let last = lines.iter().rposition(|l| !is_blank(l))?;
    Some((
        first,
        super::Printed::from_lines(lines[first..=last].iter().copied()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_first_arguments() {
        assert_eq!(shape("get"), "a");
        assert_eq!(shape("localhost:8080/"), "a:0");
        assert_eq!(shape("localhost:8080/healthz"), "a:0");
        assert_eq!(shape("10.96.0.1"), "0.0.0.0");
        assert_eq!(shape("-n"), "-a");
    }
}
