//! What a document may cost to read, checked on its text before a parser builds anything.
//!
//! In: a document's source. Out: nothing, or an error at the first line that goes past a
//! limit. The parsers hold the document's whole tree in memory, and asciidork recurses into
//! nested lists and expands attributes as it meets them, so a few hundred bytes can ask for
//! gigabytes (`:a1: {a0}{a0}`, 29 times over) and a deep list can overflow the stack. The
//! limits are far above what a tutorial holds; each is an error that says which it is.
//!
//! The rules, each a rule about text (tests below, and in `tests/it/bad_input.rs`):
//! - an AsciiDoc attribute entry (`:name: value`) whose value, with the attributes it names
//!   (`{other}`) put in, is longer than [`MAX_ATTRIBUTE`];
//! - an AsciiDoc document whose attribute references (`{name}` of an attribute it defined),
//!   put in, make it longer than [`MAX_EXPANDED`];
//! - an AsciiDoc list item nested more than [`MAX_LIST_DEPTH`] deep: a list item is a line
//!   whose first word is a marker (`*`, `**`, `.`, `-`, `1.`, `a.`, `i)`, …); a marker not in
//!   the list's open markers opens a level, one in them closes the levels after it, and a
//!   line that is none of item, blank, `+`, or indented, after a blank line, ends the list;
//! - more than [`MAX_TABLE_CELLS`] AsciiDoc table cells in all (a cell starts at each `|`,
//!   or the table's own separator, between a `|===` line and its closing one);
//! - more than [`MAX_BLOCKS`] code blocks (in AsciiDoc, delimited blocks of the kinds above;
//!   in Markdown, counted by the reader as it finds them).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// The longest value one AsciiDoc attribute may expand to.
pub const MAX_ATTRIBUTE: u64 = 1 << 20;
/// The longest an AsciiDoc document may become with its attribute references put in.
pub const MAX_EXPANDED: u64 = 64 << 20;
/// The deepest AsciiDoc list nesting read.
pub const MAX_LIST_DEPTH: usize = 64;
/// The most AsciiDoc table cells read in one document.
pub const MAX_TABLE_CELLS: usize = 100_000;
/// The most code blocks read in one document.
pub const MAX_BLOCKS: usize = 50_000;

/// Check an AsciiDoc source against the limits above.
pub fn asciidoc(path: &Path, source: &str) -> Result<()> {
    let mut attrs: HashMap<&str, u64> = HashMap::new();
    let mut expanded = source.len() as u64;
    let mut list = List::default();
    let mut cells = 0usize;
    let mut table: Option<(&str, char)> = None;
    let mut verbatim: Option<&str> = None;
    let mut blocks = 0usize;
    for (i, line) in source.lines().enumerate() {
        let at = i + 1;
        let t = line.trim_end();
        // inside a listing or literal block nothing is a list item or an attribute entry
        if let Some(d) = verbatim {
            if t == d {
                verbatim = None;
            }
            continue;
        }
        if is_verbatim_delimiter(t) {
            verbatim = Some(t);
            list.end();
            blocks += 1;
            if blocks > MAX_BLOCKS {
                return Err(too_many_blocks(path, at));
            }
            continue;
        }
        if let Some((name, value)) = attribute_entry(t) {
            let len = value.len() as u64 + growth(value, &attrs);
            if len > MAX_ATTRIBUTE {
                return Err(Error::input(
                    path,
                    at,
                    format!(
                        "the attribute `{name}` expands to more than {} KiB (what the \
                         attributes it names hold, put in): labrun reads attributes up to that",
                        MAX_ATTRIBUTE >> 10
                    ),
                ));
            }
            attrs.insert(name, len);
            continue;
        }
        if t.contains('{') {
            expanded = expanded.saturating_add(growth(t, &attrs));
            if expanded > MAX_EXPANDED {
                return Err(Error::input(
                    path,
                    at,
                    format!(
                        "with its attribute references put in, the document passes {} MiB \
                         here: labrun reads documents up to that",
                        MAX_EXPANDED >> 20
                    ),
                ));
            }
        }
        match table {
            Some((d, _)) if t == d => table = None,
            Some((_, sep)) => {
                cells += t.matches(sep).count();
                if cells > MAX_TABLE_CELLS {
                    return Err(Error::input(
                        path,
                        at,
                        format!(
                            "more than {MAX_TABLE_CELLS} table cells: labrun reads documents \
                             with at most that many"
                        ),
                    ));
                }
            }
            None => {
                if let Some(sep) = table_delimiter(t) {
                    table = Some((t, sep));
                    list.end();
                    continue;
                }
                if list.line(t) > MAX_LIST_DEPTH {
                    return Err(Error::input(
                        path,
                        at,
                        format!(
                            "a list nested more than {MAX_LIST_DEPTH} deep: labrun reads lists \
                             up to that depth"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The error for a document with more than [`MAX_BLOCKS`] code blocks, at the first one past.
pub fn too_many_blocks(path: &Path, line: usize) -> Error {
    Error::input(
        path,
        line,
        format!(
            "more than {MAX_BLOCKS} code blocks: labrun reads documents with at most that many"
        ),
    )
}

/// What the attribute references of `text` add to its length (`{name}` of a known attribute
/// becomes its value; any other brace is text).
fn growth(text: &str, attrs: &HashMap<&str, u64>) -> u64 {
    let mut extra = 0u64;
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        let name = &rest[..close];
        if let Some(&len) = attrs.get(name) {
            extra = extra.saturating_add(len.saturating_sub(name.len() as u64 + 2));
            rest = &rest[close + 1..];
        }
    }
    extra
}

/// `:name: value` (also `:name!:` and `:!name:`, which unset): the name and the value.
pub(super) fn attribute_entry(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(':')?;
    let (name, value) = rest.split_once(':')?;
    let name = name.trim_start_matches('!').trim_end_matches('!');
    let word = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    (word && (value.is_empty() || value.starts_with(' '))).then_some((name, value.trim()))
}

/// A listing (`----`), literal (`....`), passthrough (`++++`) or comment (`////`) delimiter:
/// four or more of one of those characters.
pub(super) fn is_verbatim_delimiter(t: &str) -> bool {
    t.len() >= 4
        && ['-', '.', '+', '/']
            .iter()
            .any(|&c| t.chars().all(|x| x == c))
}

/// A table delimiter (`|===`, `,===`, `:===`, `!===`) and the separator its cells start with.
fn table_delimiter(t: &str) -> Option<char> {
    let mut chars = t.chars();
    let sep = chars.next()?;
    let rest = chars.as_str();
    (matches!(sep, '|' | ',' | ':' | '!') && rest.len() >= 3 && rest.chars().all(|c| c == '='))
        .then_some(sep)
}

/// The open markers of the current list.
#[derive(Default)]
struct List {
    open: Vec<String>,
    after_blank: bool,
}

impl List {
    fn end(&mut self) {
        self.open.clear();
    }

    /// Read one line; the list's depth after it.
    fn line(&mut self, t: &str) -> usize {
        let blank = t.trim().is_empty();
        if let Some(marker) = list_marker(t) {
            match self.open.iter().position(|m| *m == marker) {
                Some(p) => self.open.truncate(p + 1),
                None => self.open.push(marker),
            }
        } else if !blank && self.after_blank && !t.starts_with([' ', '\t', '+']) {
            self.end();
        }
        self.after_blank = blank;
        self.open.len()
    }
}

/// The marker of an AsciiDoc list item, numbers and letters taken as their kind (`1.` and
/// `2.` are one marker).
fn list_marker(line: &str) -> Option<String> {
    let t = line.trim_start();
    let (word, rest) = t.split_once([' ', '\t'])?;
    if rest.trim().is_empty() {
        return None;
    }
    if word.chars().all(|c| c == '*') || word.chars().all(|c| c == '.') || word == "-" {
        return Some(word.to_string());
    }
    let (body, end) = match word.strip_suffix('.') {
        Some(body) => (body, "."),
        None => (word.strip_suffix(')')?, ")"),
    };
    if body.is_empty() {
        return None;
    }
    if body.chars().all(|c| c.is_ascii_digit()) {
        Some(format!("1{end}"))
    } else if body.len() == 1 && body.chars().all(|c| c.is_ascii_alphabetic()) {
        Some(format!("a{end}"))
    } else if end == ")" && body.chars().all(|c| "ivxlcdmIVXLCDM".contains(c)) {
        Some(format!("i{end}"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str) -> std::result::Result<(), String> {
        asciidoc(Path::new("t.adoc"), source).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn an_attribute_that_doubles_itself_is_refused_at_its_line() {
        let mut doc = String::from("= T\n:a0: 0123456789abcdef\n");
        for i in 1..30 {
            doc.push_str(&format!(":a{i}: {{a{}}}{{a{}}}\n", i - 1, i - 1));
        }
        let e = check(&doc).unwrap_err();
        // a16 is 16 × 2^16 = 1 MiB; a17 passes it
        assert!(e.contains("t.adoc:19: the attribute `a17` expands"), "{e}");
    }

    #[test]
    fn references_in_the_body_count_towards_the_document() {
        let mut doc = String::from("= T\n:big: {a}\n");
        doc = doc.replace("{a}", &"x".repeat(1 << 19));
        for _ in 0..200 {
            doc.push_str("{big}{big}\n");
        }
        let e = check(&doc).unwrap_err();
        assert!(e.contains("passes 64 MiB"), "{e}");
        // the same references inside a listing block are its text
        let listing = format!(
            "= T\n:big: {}\n\n----\n{}----\n",
            "x".repeat(1 << 19),
            "{big}{big}\n".repeat(200)
        );
        assert!(check(&listing).is_ok());
    }

    #[test]
    fn lists_deeper_than_the_limit_are_refused_and_ordinary_ones_read() {
        let deep: String = (1..=70)
            .map(|n| format!("{} item\n", "*".repeat(n)))
            .collect();
        let e = check(&deep).unwrap_err();
        assert!(
            e.contains("t.adoc:65: a list nested more than 64 deep"),
            "{e}"
        );
        // markers that come back close levels; numbers are one marker
        let ordinary = "* a\n** b\n*** c\n* d\n. one\n.. two\n1. x\n2. y\n- z\n".repeat(1000);
        assert!(check(&ordinary).is_ok());
        // a paragraph after a blank line ends the list
        let mut lists = String::new();
        for n in 1..=40 {
            lists.push_str(&format!("{} item\n\ntext\n\n", "*".repeat(n)));
        }
        lists.push_str(
            &(1..=40)
                .map(|n| format!("{} item\n", ".".repeat(n)))
                .collect::<String>(),
        );
        assert!(check(&lists).is_ok());
    }

    #[test]
    fn table_cells_are_counted_across_tables() {
        let table = |rows: usize| format!("|===\n{}|===\n", "|a |b\n".repeat(rows));
        assert!(check(&table(1000)).is_ok());
        let e = check(&table(60_000)).unwrap_err();
        assert!(e.contains("more than 100000 table cells"), "{e}");
        // a CSV table counts its commas
        assert!(check(&format!(",===\n{},===\n", "a,b\n".repeat(50))).is_ok());
    }

    #[test]
    fn attribute_entries_and_list_markers_are_read_as_asciidoc_writes_them() {
        assert_eq!(attribute_entry(":toc: left"), Some(("toc", "left")));
        assert_eq!(attribute_entry(":sectnums!:"), Some(("sectnums", "")));
        assert_eq!(attribute_entry(":not an entry: x"), None);
        assert_eq!(attribute_entry("::x"), None);
        assert_eq!(list_marker("*** item").as_deref(), Some("***"));
        assert_eq!(list_marker("12. item").as_deref(), Some("1."));
        assert_eq!(list_marker("b) item").as_deref(), Some("a)"));
        assert_eq!(list_marker("iv) item").as_deref(), Some("i)"));
        assert_eq!(list_marker("Note. this"), None);
        assert_eq!(list_marker("Mix. this"), None);
        assert_eq!(list_marker("* "), None);
        assert_eq!(list_marker("\u{feff} x"), None);
        assert_eq!(list_marker("é. x"), None);
    }
}
