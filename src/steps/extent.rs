//! Where a command ends: a question of bash's grammar, answered by a bash parser.
//!
//! In: the text of a command read so far. Out: whether bash, having read it, would still be
//! reading the same command (an open quote, `$(`, backquote, here-document, `for … done`,
//! `if … fi`, `case … esac`, `{ … }`, `( … )`, a function body, a trailing `\`, `|`, `&&`,
//! `||`). brush-parser decides; a cheap scan first lets text that cannot be open skip the
//! parser. What grammar cannot decide (is this line a command or printed output?) is the
//! block reader's.

use std::sync::LazyLock;

use brush_parser::ParseError;

/// Compound commands open with these words.
const OPENERS: &[&str] = &["for", "while", "until", "if", "case", "select", "function"];

/// Whether `text` could leave bash reading on; `false` means it certainly does not.
fn might_be_open(text: &str) -> bool {
    let t = text.trim_end();
    if t.ends_with('\\') || t.ends_with('|') || t.ends_with("&&") {
        return true;
    }
    if text.contains(['\'', '"', '`', '(', '{', '<']) {
        return true;
    }
    text.lines().any(|l| {
        l.split([';', '&', '|'])
            .filter_map(|part| part.split_whitespace().next())
            .any(|w| OPENERS.contains(&w))
    })
}

static OPTIONS: LazyLock<brush_parser::ParserOptions> =
    LazyLock::new(brush_parser::ParserOptions::default);

/// A `<name>` written where a value goes (`export TOKEN=<your-token>`, `ssh <user>@host`): the
/// author's placeholder for what the reader types, not two redirections. Bash would wait for
/// the second redirection's file and read the next line into the command. Also several words
/// (`IMAGE=<add registry like "my.io/x">`) when they do not end in a space and the `>` ends
/// the word (`sort <in.txt >out.txt` stays two redirections).
static PLACEHOLDER: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"<[A-Za-z][A-Za-z0-9_-]*>|<[A-Za-z][^<>\n]*[^<>\s]>").unwrap()
});

/// `text` with each placeholder read as the word `value`.
fn unplaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in PLACEHOLDER.find_iter(text) {
        let ends_word = text[m.end()..]
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || "@:/\"';|&)".contains(c));
        if !ends_word {
            continue;
        }
        out.push_str(&text[last..m.start()]);
        out.push_str("value");
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

/// Whether bash, having read `text`, would still be reading the same command. A placeholder
/// (see [`PLACEHOLDER`]) is read as the word it stands for.
pub fn is_open(text: &str) -> bool {
    if !might_be_open(text) {
        return false;
    }
    let read;
    let text = if text.contains('<') && PLACEHOLDER.is_match(text) {
        read = unplaced(text);
        read.as_str()
    } else {
        text
    };
    match brush_parser::Parser::new(text.as_bytes(), &OPTIONS).parse_program() {
        Ok(_) => false,
        Err(ParseError::ParsingAtEndOfInput) => true,
        Err(ParseError::Tokenizing { inner, .. }) => inner.is_incomplete(),
        Err(ParseError::ParsingNear(_)) => false,
    }
}

/// The line-by-line rule for a command whose text never closes within its block (a stray
/// apostrophe): a trailing `\`, pipe or `&&` / `||` continues it.
pub fn continues(line: &str) -> bool {
    let t = line.trim_end();
    t.ends_with('\\') || t.ends_with('|') || t.ends_with("&&")
}

/// The terminator word of a here-document `line` opens, if any (for the same fallback).
pub fn heredoc_terminator(line: &str) -> Option<String> {
    static HEREDOC: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"<<-?\s*(?:'([^']+)'|"([^"]+)"|\\?([A-Za-z_][A-Za-z0-9_]*))"#).unwrap()
    });
    let caps = HEREDOC.captures(line)?;
    let word = caps.get(1).or(caps.get(2)).or(caps.get(3))?;
    Some(word.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_is_a_value_not_two_redirections() {
        for closed in [
            "export TOKEN=<your-token>",
            "ssh <user>@<host> uptime",
            "kubectl -n <namespace> get pods",
            "export IMAGE=<add registry like \"my.io/gatekeeper\">",
            "kubectl logs <pod name> -c app",
        ] {
            assert!(!is_open(closed), "{closed:?}");
        }
        // real redirections and here-documents are read as bash reads them
        assert!(!is_open("sort <in.txt >out.txt"));
        assert!(is_open("sort <in.txt >"));
        assert!(is_open("sort <in.txt > "));
        assert!(is_open("cat <<EOF\n<name>"));
        assert!(is_open("echo <name> |"));
    }

    #[test]
    fn open_until_bash_would_stop_reading() {
        for open in [
            "for i in 1 2 3; do",
            "for i in 1 2 3; do\n  echo $i",
            "while true; do",
            "until curl -s localhost; do sleep 1",
            "if [ -f x ]; then",
            "case $x in",
            "{",
            "(",
            "f() {",
            "echo 'it is",
            "echo \"a",
            "POD=$(kubectl get pods",
            "echo `date",
            "cat <<EOF\nhello",
            "kubectl get pods |",
            "make &&",
            "echo a \\",
        ] {
            assert!(is_open(open), "{open:?}");
        }
        for closed in [
            "for i in 1 2 3; do\n  echo $i\ndone",
            "if [ -f x ]; then echo y; fi",
            "case $x in a) echo a;; esac",
            "{ echo a; }",
            "f() {\n  echo a\n}",
            "echo 'it is'",
            "POD=$(kubectl get pods -o name)",
            "cat <<EOF\nhello\nEOF",
            "kubectl get pods | grep web",
            "kubectl get pods -o jsonpath='{.items[*].metadata.name}'",
            "kubectl get pods",
            "done",
        ] {
            assert!(!is_open(closed), "{closed:?}");
        }
    }
}
