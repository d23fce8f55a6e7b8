//! AsciiDoc input through asciidork-parser.
//!
//! In: AsciiDoc source. Out: sections and delimited code blocks. The AST gives structure and
//! spans; the text of each block is sliced from the source by its span, because the AST's
//! text has had substitutions applied (callouts, `<`, `&`, trailing blank lines).

use std::path::Path;

use asciidork_ast::{
    AttrData, Block, BlockContent, BlockContext, DocContent, Section as AstSection,
};
use asciidork_parser::prelude::{Bump, Parser, SourceFile};

use super::{CodeBlock, Format, LineIndex, Parsed, ParsedBlock, Warning, push_section};
use crate::error::{Error, Result};

/// The AsciiDoc format.
pub struct AsciiDoc;

impl Format for AsciiDoc {
    fn parse(&self, path: &Path, source: &str) -> Result<Parsed> {
        parse_lenient(path, source, Tables::Skip, |ast, mut warnings, read| {
            let mut parsed = walk(read, ast);
            warnings.extend(includes(source));
            parsed.warnings = warnings;
            Ok(parsed)
        })
    }

    fn directive<'a>(&self, line: &'a str) -> Option<&'a str> {
        let rest = line.trim().strip_prefix("//")?;
        if rest.starts_with('/') {
            return None; // a `////` comment block delimiter
        }
        rest.trim_start().strip_prefix("labrun:").map(str::trim)
    }
}

/// `include::` lines: labrun reads one file, so each is a warning at its line (the included
/// text's steps are not part of the document, and inside a block the line would read as text).
fn includes(source: &str) -> Vec<Warning> {
    if !source.contains("include::") {
        return Vec::new();
    }
    source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("include::") && l.trim_end().ends_with(']'))
        .map(|(i, l)| Warning {
            line: i + 1,
            message: format!(
                "`{}` is not read: labrun runs this file alone (inline the text, or run the included file)",
                l.trim_end()
            ),
        })
        .collect()
}

/// A block attribute list line (`[source,bash]`, `[.console-input]`), not an anchor
/// (`[[id]]`).
fn is_attribute_list(line: &str) -> bool {
    line.len() > 2 && line.starts_with('[') && line.ends_with(']') && !line.starts_with("[[")
}

/// Delimited blocks may nest this deep; deeper is refused before the parser (which recurses)
/// sees it.
pub const MAX_NESTING: usize = 64;

/// A block never closed: its delimiter and its line (0-based).
type Unclosed = (String, usize);

/// What [`nesting`] finds.
struct Nesting {
    /// Lines asciidork 0.38 loops on, to blank (0-based, in order).
    loops: Vec<usize>,
    /// Blocks never closed, innermost first.
    unclosed: Vec<Unclosed>,
    /// Each closed `|===` table: its opening and closing lines (0-based).
    tables: Vec<(usize, usize)>,
}

/// Refuse delimited blocks nested more than [`MAX_NESTING`] deep, in one pass over the lines:
/// a delimiter line closes the innermost block it matches, or opens one; inside a listing
/// (also a ```` ``` ```` fence), literal, passthrough or comment block, delimiters of other
/// kinds are text. Finds the lines (0-based) on which asciidork 0.38 loops without end —
/// the delimiters of empty tables (nothing but blank lines and comments inside), and the line
/// of text right above a table — which [`with_ast`] blanks; the blocks never closed,
/// innermost first (delimiter, 0-based line): Asciidoctor reads such a block to the end of
/// the document with a warning, where asciidork refuses it (and 0.38 can first loop without
/// end): [`with_ast`] closes them at the end; and where each table stands.
fn nesting(path: &Path, source: &str) -> Result<Nesting> {
    // (delimiter, 0-based line, whether anything but blanks and comments came inside)
    let mut open: Vec<(&str, usize, bool)> = Vec::new();
    let mut loops = Vec::new();
    let mut tables = Vec::new();
    // whether the line above is a line of text: a paragraph runs on over lines that would
    // be markup at a block's start (`= a` under `i` is text), up to a blank line, a
    // delimiter or an attribute list, as Asciidoctor reads it
    let mut text_above = false;
    for (i, line) in source.lines().enumerate() {
        let t = line.trim_end();
        let delimiter = is_delimiter_line(t);
        let ends_paragraph = t.trim().is_empty() || delimiter || is_attribute_list(t.trim());
        let text = is_prose_line(t) || (text_above && !ends_paragraph);
        let above = std::mem::replace(&mut text_above, text);
        // a fenced listing opens with its language (```` ```bash ````) and closes bare
        let t = if t.starts_with("```") { "```" } else { t };
        let content = !t.trim().is_empty() && !t.starts_with("//");
        if !delimiter {
            if content && let Some(top) = open.last_mut() {
                top.2 = true;
            }
            continue;
        }
        // a table's lines run to its closing `|===`, whatever they hold (Asciidoctor reads the
        // cells later): another delimiter inside it is the cells' text here
        if t != "|===" && open.last().is_some_and(|(d, ..)| *d == "|===") {
            if let Some(top) = open.last_mut() {
                top.2 = true;
            }
            continue;
        }
        if open.last().is_some_and(|(d, ..)| *d == t) {
            let (d, at, full) = open.pop().expect("checked");
            if d == "|===" && !full {
                loops.extend([at, i]);
            }
            if d == "|===" {
                tables.push((at, i));
            }
            continue;
        }
        if let Some(top) = open.last_mut() {
            top.2 = true;
        }
        if open
            .last()
            .is_some_and(|(d, ..)| d.starts_with(['-', '.', '+', '/', '`']) && d.len() >= 3)
        {
            continue;
        }
        // a table opened right under a line of text: asciidork 0.38 loops without end on
        // such tables when they hold a delimited block, a blank line, an attribute list before
        // the end, and more (the fuzzer kept finding kinds). The text line above is blanked, so
        // the table stands on its own, as Asciidoctor reads it (a delimiter line ends a
        // paragraph there), and the line left out is said.
        if t == "|===" && above {
            loops.push(i - 1);
        }
        open.push((t, i, false));
        if open.len() > MAX_NESTING {
            return Err(Error::input(
                path,
                i + 1,
                format!("delimited blocks nested more than {MAX_NESTING} deep"),
            ));
        }
    }
    loops.sort_unstable();
    loops.dedup();
    let unclosed = open
        .iter()
        .rev()
        .map(|(d, at, _)| (d.to_string(), *at))
        .collect();
    Ok(Nesting {
        loops,
        unclosed,
        tables,
    })
}

/// Whether `t` (a line without its trailing white space) is a block delimiter.
fn is_delimiter_line(t: &str) -> bool {
    let repeated = |c: char| t.len() >= 4 && t.chars().all(|x| x == c);
    t == "--" || t == "|===" || t.starts_with("```") || "=*_-.+/".chars().any(repeated)
}

/// `source` with the white space after each delimiter line's delimiter taken away, as
/// Asciidoctor reads lines (asciidork 0.38 takes `|=== ` for text, and then loops on the
/// table it finds later; found by the fuzzer). Lines stay where they are. `None` where no
/// delimiter line ends in white space.
fn trimmed_delimiters(source: &str) -> Option<String> {
    let needs = source.lines().any(|l| {
        let t = l.trim_end();
        t.len() < l.trim_end_matches('\r').len() && is_delimiter_line(t)
    });
    if !needs {
        return None;
    }
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        let t = line.trim_end();
        if is_delimiter_line(t) {
            out.push_str(t);
            out.push_str(&line[line.trim_end_matches(['\n', '\r']).len()..]);
        } else {
            out.push_str(line);
        }
    }
    Some(out)
}

/// A line of text (a paragraph's, a list item's): not blank, and not an attribute list,
/// anchor, block title, section title, comment or delimiter.
fn is_prose_line(line: &str) -> bool {
    let t = line.trim();
    // `[` opens an attribute list or an anchor only when the line is one (`[x` is text); `.`
    // a block title only before a word (`. D`, `..x` are text); `=` a section title only
    // with a space after one to six of them (`=`, `==`, `=x` are text); `|` outside a table is
    // text. The fuzzer found asciidork 0.38 looping on each of these text lines over a table.
    let list = is_attribute_list(t) || (t.starts_with("[[") && t.ends_with("]]"));
    let title = t
        .strip_prefix('.')
        .is_some_and(|r| r.starts_with(|c: char| c != '.' && !c.is_whitespace()));
    let level = t.len() - t.trim_start_matches('=').len();
    let section = (1..=6).contains(&level) && t[level..].starts_with(' ');
    // a lone `+` attaches the next block to a list item
    let marker = list || title || section || t.starts_with("//") || t == "+";
    !(t.is_empty() || marker || is_delimiter_line(t))
}

/// The characters that underline a two-line section title, by level (`=` the document title,
/// `-` a section of level 1, …), as Asciidoctor reads them.
const UNDERLINES: &[char] = &['=', '-', '~', '^', '+'];

/// `source` with two-line (setext) section titles written as one-line ones, the way
/// Asciidoctor reads them: a line with a letter or digit, not starting with `.`, `[`, `/`,
/// `:`, `*`, `-`, `<`, `|`, white space or a delimiter, after a blank line (or at the start),
/// underlined by one of [`UNDERLINES`] repeated, the underline's length within one of the
/// title's (`Install` over `-------`). The pair keeps its length (the marker `== ` is taken
/// from the underline, which becomes spaces), so the AST's offsets into the source stay true;
/// a title whose underline is too short for its marker is left as written. Inside a listing,
/// literal, passthrough or comment block nothing is a title. `None` when there is none.
fn setext_titles(source: &str) -> Option<String> {
    if !source.contains("\n-") && !source.contains("\n=") && !source.contains("\n~") {
        return None;
    }
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut out = String::with_capacity(source.len());
    let mut verbatim: Option<&str> = None;
    let mut changed = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let body = line.trim_end_matches(['\n', '\r']);
        let delimiter = body.len() >= 4
            && ["-", ".", "+", "/"]
                .iter()
                .any(|c| body.chars().all(|x| x.to_string() == *c));
        if let Some(d) = verbatim {
            if body == d {
                verbatim = None;
            }
            out.push_str(line);
            i += 1;
            continue;
        }
        let after_blank = i == 0 || lines[i - 1].trim().is_empty();
        let title_like = after_blank
            && body.chars().any(char::is_alphanumeric)
            && !body.starts_with(['.', '[', '/', ':', '*', '-', '<', '|', '=', ' ', '\t'])
            && !body.starts_with("```");
        if title_like && let Some(next) = lines.get(i + 1) {
            let under = next.trim_end_matches(['\n', '\r']);
            let first = under.chars().next();
            let level = first.and_then(|c| UNDERLINES.iter().position(|u| *u == c));
            let uniform = first.is_some_and(|c| under.chars().all(|x| x == c));
            let (tl, ul) = (body.chars().count(), under.chars().count());
            let marker = level.map_or(0, |l| l + 2);
            if let Some(level) = level
                && uniform
                && ul >= 2
                && tl.abs_diff(ul) <= 1
                && under.len() >= marker
            {
                out.push_str(&"=".repeat(level + 1));
                out.push(' ');
                out.push_str(line);
                out.push_str(&" ".repeat(under.len() - marker));
                out.push_str(&next[under.len()..]);
                changed = true;
                i += 2;
                continue;
            }
        }
        if delimiter {
            verbatim = Some(body);
        }
        out.push_str(line);
        i += 1;
    }
    changed.then_some(out)
}

/// Lines (0-based) that hold a list marker and nothing else (`- `, `* `, `.. `; never four or
/// more, which delimit blocks): Asciidoctor
/// strips the trailing space and reads no list item there, where asciidork 0.38 opens an
/// empty item and, when a table holding a listing follows, loops without end (found by the
/// fuzzer). [`with_ast`] blanks them.
fn bare_markers(source: &str) -> Vec<usize> {
    source
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty()
                && t.len() <= 3
                && (t.chars().all(|c| c == '*') || t.chars().all(|c| c == '.') || t == "-")
                && l.trim_start().len() > t.len()
        })
        .map(|(i, _)| i)
        .collect()
}

/// `source` with the CRs that open a line (not before an LF) made spaces, same length.
/// Asciidoctor reads lines at LF only, so such a CR is text at the line's start; asciidork
/// 0.38 reads `CR|===` as a table it then loops on without end (found by the fuzzer). A
/// CR inside a line stays. `None` where no line opens with one.
fn opening_crs(source: &str) -> Option<String> {
    let opens = |l: &str| l.starts_with('\r') && l.trim_start_matches('\r') != "\n";
    if !source.split_inclusive('\n').any(opens) {
        return None;
    }
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        if opens(line) {
            let rest = line.trim_start_matches('\r');
            out.extend(std::iter::repeat_n(' ', line.len() - rest.len()));
            out.push_str(rest);
        } else {
            out.push_str(line);
        }
    }
    Some(out)
}

/// `source` with each table (its lines, 0-based, first and last included) blanked, same
/// length, with the attribute lists and title right above it (left alone, they would be
/// block metadata attached to nothing).
fn blank_tables(source: &str, tables: &[(usize, usize)]) -> String {
    let text: Vec<&str> = source.lines().collect();
    let metadata = |n: usize| {
        let t = text.get(n).map_or("", |l| l.trim());
        let title = t.starts_with('.') && !is_prose_line(t) && !is_delimiter_line(t);
        is_attribute_list(t) || (title && t.len() > 1)
    };
    let mut lines: Vec<usize> = Vec::new();
    for &(first, last) in tables {
        let mut top = first;
        while top > 0 && metadata(top - 1) {
            top -= 1;
        }
        lines.extend(top..=last);
    }
    lines.sort_unstable();
    lines.dedup();
    blank_lines(source, &lines)
}

/// [`blank_lines`], or `None` when there is no line to blank (the passes' `Option` form).
fn blanked(source: &str, lines: &[usize]) -> Option<String> {
    (!lines.is_empty()).then(|| blank_lines(source, lines))
}

/// `source` with the given lines (0-based) blanked: spaces of the same length, so the AST's
/// offsets into the source stay true.
fn blank_lines(source: &str, lines: &[usize]) -> String {
    debug_assert!(lines.is_sorted());
    let mut out = String::with_capacity(source.len());
    for (i, line) in source.split_inclusive('\n').enumerate() {
        if lines.binary_search(&i).is_ok() {
            let body = line.trim_end_matches(['\n', '\r']);
            out.extend(std::iter::repeat_n(' ', body.len()));
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Parse `source` with asciidork and hand the AST to `f` (it lives in an arena that ends with
/// this call), with the warnings of a lenient parse. The one place AsciiDoc is parsed: the
/// document stage and the Markdown converter share the parse.
pub fn with_ast<R>(
    path: &Path,
    source: &str,
    f: impl FnOnce(&asciidork_ast::Document, Vec<Warning>, &str) -> Result<R>,
) -> Result<R> {
    parse_lenient(path, source, Tables::Keep, f)
}

/// Whether the parser sees a document's tables.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tables {
    /// For the book, which shows them.
    Keep,
    /// For the steps, which never come from a table: each table (delimiters and all) is
    /// blanked before the parse, and `f` gets the text with it, so the prose read between two
    /// blocks is the same. A 49 000-row table (0.76 MB) took 287 MB to list with its cells
    /// parsed, 27 MB without (`/usr/bin/time`, `labrun list`).
    Skip,
}

/// [`with_ast`], with the tables kept or skipped.
fn parse_lenient<R>(
    path: &Path,
    source: &str,
    tables: Tables,
    f: impl FnOnce(&asciidork_ast::Document, Vec<Warning>, &str) -> Result<R>,
) -> Result<R> {
    super::limits::asciidoc(path, source)?;
    let uncr = opening_crs(source);
    let source = uncr.as_deref().unwrap_or(source);
    let trimmed = trimmed_delimiters(source);
    let source = trimmed.as_deref().unwrap_or(source);
    let titled = setext_titles(source);
    let source = titled.as_deref().unwrap_or(source);
    // bare list markers first: a table holding only one is empty, which the nesting then sees
    let unmarked = blanked(source, &bare_markers(source));
    let source = unmarked.as_deref().unwrap_or(source);
    let first = nesting(path, source)?;
    let unclosed = first.unclosed;
    let mut early = Vec::new();
    let closed;
    let source = if unclosed.is_empty() {
        source
    } else {
        let mut text = source.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        for (delimiter, at) in &unclosed {
            early.push(Warning {
                line: at + 1,
                message: format!(
                    "this `{delimiter}` block is never closed: read to the end of the document, as Asciidoctor does"
                ),
            });
            text.push_str(delimiter);
            text.push('\n');
        }
        closed = text;
        &closed
    };
    // closing blocks at the end may have made a table empty: read the nesting again then only
    let (blank, table_lines) = if unclosed.is_empty() {
        (first.loops, first.tables)
    } else {
        let again = nesting(path, source)?;
        (again.loops, again.tables)
    };
    // a line of text left out is said, with the way to keep it
    let lines: Vec<&str> = if blank.is_empty() {
        Vec::new()
    } else {
        source.lines().collect()
    };
    for &n in &blank {
        // the others blanked are an empty table's delimiters
        if lines
            .get(n)
            .is_some_and(|l| !is_delimiter_line(l.trim_end()))
        {
            early.push(Warning {
                line: n + 1,
                message: "this line runs into the table under it (no blank line between), which the AsciiDoc parser cannot read: the line is left out; put a blank line under it".into(),
            });
        }
    }
    let unlooped = blanked(source, &blank);
    let source = unlooped.as_deref().unwrap_or(source);
    // the text parsed; `source` is what `f` gets
    let untabled = (tables == Tables::Skip && !table_lines.is_empty())
        .then(|| blank_tables(source, &table_lines));
    let parsed = untabled.as_deref().unwrap_or(source);
    let f = |ast: &asciidork_ast::Document, mut warnings: Vec<Warning>, read: &str| {
        early.append(&mut warnings);
        f(ast, early, read)
    };
    // asciidork 0.38 panics on a URL scheme that ends a line (`see http://`); such a
    // document is read again with those lines disarmed (same length: the AST's offsets stay
    // true), and any other panic of the parser is bad input, not a crash.
    let mut f = Some(f);
    if let Some(r) = parse_checked(path, parsed, source, &mut f)? {
        return Ok(r);
    }
    let disarmed = disarm_bare_schemes(source);
    let parsed = disarm_bare_schemes(parsed);
    parse_checked(path, &parsed, &disarmed, &mut f)?.ok_or_else(|| {
        Error::input(
            path,
            0,
            "the AsciiDoc parser (asciidork) failed on this document",
        )
    })
}

/// The parser's answer, or `None` when it panicked.
fn parse_quietly(
    p: Parser<'_>,
) -> Option<
    std::result::Result<
        asciidork_parser::prelude::ParseResult<'_>,
        Vec<asciidork_parser::Diagnostic>,
    >,
> {
    crate::quiet_panics(std::panic::AssertUnwindSafe(|| p.parse())).ok()
}

/// Lines ending in a URL scheme and nothing else (`http://`, `mailto://`, `file:///`) with
/// the scheme's last `/` replaced by a space: text of the same length asciidork reads.
fn disarm_bare_schemes(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let bare = [
            "http://",
            "https://",
            "ftp://",
            "mailto://",
            "irc://",
            "file:///",
        ]
        .iter()
        .any(|s| body.ends_with(s));
        if bare {
            out.push_str(&body[..body.len() - 1]);
            out.push(' ');
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// One parse, lenient as Asciidoctor is: what asciidork reports about a document it could read
/// (a `toc::[]` with no `:toc:`, a cross reference to another page, a section out of
/// sequence) is a warning at its line, and the document is read. Only what asciidork cannot
/// read at all is refused. `f` (taken from its slot) gets the AST of `source` and `handed`,
/// the text the AST's offsets point into (`source` with its tables, where they were blanked
/// for the parse). `None` when the parser panicked (`f` is left in its slot).
fn parse_checked<R, F>(
    path: &Path,
    source: &str,
    handed: &str,
    f: &mut Option<F>,
) -> Result<Option<R>>
where
    F: FnOnce(&asciidork_ast::Document, Vec<Warning>, &str) -> Result<R>,
{
    let error = |d: &asciidork_parser::Diagnostic| {
        Error::input(path, d.line_num as usize, d.message.clone())
    };
    let bump = Bump::new();
    let mut parser = Parser::from_str(source, SourceFile::Tmp, &bump);
    parser.apply_job_settings(asciidork_core::JobSettings {
        strict: false,
        ..Default::default()
    });
    let Some(parsed) = parse_quietly(parser) else {
        return Ok(None);
    };
    let result = parsed.map_err(|d| error(&d[0]))?;
    let mut warnings: Vec<Warning> = result
        .warnings
        .iter()
        .map(|d| Warning {
            line: d.line_num as usize,
            message: format!("{} (read as Asciidoctor would, with a warning)", d.message),
        })
        .collect();
    // asciidork gives two warnings of one line in either order from run to run
    warnings.sort_by(|a, b| (a.line, &a.message).cmp(&(b.line, &b.message)));
    let f = f.take().expect("the callback runs once");
    f(&result.document, warnings, handed).map(Some)
}

/// Sections and code blocks of a parsed AsciiDoc document.
fn walk(source: &str, ast: &asciidork_ast::Document) -> Parsed {
    let mut walk = Walk {
        source,
        index: LineIndex::new(source),
        out: Parsed::default(),
        section: None,
        prose_from: 0,
        entries: super::subs::Entries::read(if source.contains("subs=") { source } else { "" }),
    };
    match &ast.content {
        DocContent::Blocks(blocks) => walk.blocks(blocks),
        DocContent::Sections(s) => {
            if let Some(pre) = &s.preamble {
                walk.blocks(pre);
            }
            for sec in s.sections.iter() {
                walk.section(sec);
            }
        }
        DocContent::Parts(book) => {
            if let Some(pre) = &book.preamble {
                walk.blocks(pre);
            }
            let parts = book.parts.iter().flat_map(|p| p.sections.iter());
            let all = book.opening_special_sects.iter().chain(parts);
            for sec in all.chain(book.closing_special_sects.iter()) {
                walk.section(sec);
            }
        }
    }
    walk.out
}

/// A document and its AST from one parse, for `f`.
pub fn parse_with_ast<R>(
    path: &Path,
    source: String,
    f: impl FnOnce(&super::Document, &asciidork_ast::Document) -> Result<R>,
) -> Result<R> {
    if source.trim().is_empty() {
        return Err(Error::input(path, 0, "the document is empty"));
    }
    let (source, bom) = match source.strip_prefix('\u{feff}') {
        Some(rest) => (rest.to_string(), true),
        None => (source, false),
    };
    let src = source.clone();
    with_ast(path, &src, |ast, warnings, read| {
        let mut parsed = walk(read, ast);
        super::unique_slugs(&mut parsed.sections);
        let blocks = super::attach_directives(path, &src, &AsciiDoc, parsed.blocks)?;
        let doc = super::Document {
            path: path.to_path_buf(),
            source,
            sections: parsed.sections,
            blocks,
            warnings,
            bom,
        };
        f(&doc, ast)
    })
}

struct Walk<'s> {
    source: &'s str,
    index: LineIndex,
    out: Parsed,
    section: Option<usize>,
    /// Byte offset where the prose leading into the next block starts.
    prose_from: usize,
    /// The attribute entries, for blocks whose `subs` put them in.
    entries: super::subs::Entries,
}

impl Walk<'_> {
    fn section(&mut self, sec: &AstSection) {
        let title = sec.heading.plain_text().concat().trim().to_string();
        let start = sec.loc.start_pos as usize;
        let line = self.index.line(start);
        push_section(&mut self.out.sections, title, sec.level, line);
        let outer = self.section;
        self.section = Some(self.out.sections.len() - 1);
        // Prose starts after the heading line.
        self.prose_from = self.index.start(line + 1).min(self.source.len());
        self.blocks(&sec.blocks);
        self.section = outer;
    }

    fn blocks(&mut self, blocks: &[Block]) {
        for b in blocks {
            match &b.content {
                BlockContent::Section(sec) => self.section(sec),
                BlockContent::Compound(inner) => self.blocks(inner),
                BlockContent::List { items, .. } => {
                    for item in items.iter() {
                        self.blocks(&item.blocks);
                    }
                }
                _ if matches!(b.context, BlockContext::Listing | BlockContext::Literal) => {
                    self.code_block(b)
                }
                _ => {}
            }
        }
    }

    fn code_block(&mut self, b: &Block) {
        let start = b.loc.start_pos as usize;
        let end = (b.loc.end_pos as usize).min(self.source.len());
        let first_line = self.index.line(start);
        let last_line = self.index.line(end.saturating_sub(1).max(start));
        let line_text = |n: usize| {
            let s = self.index.start(n).min(self.source.len());
            let e = self.index.start(n + 1).min(self.source.len());
            self.source[s..e].trim_end_matches(['\n', '\r'])
        };
        let opening = line_text(first_line).trim_end();
        let delimited = is_delimiter(opening) && last_line > first_line;
        let (content_first, content_end) = if delimited {
            (
                first_line + 1,
                self.index.start(last_line).min(self.source.len()),
            )
        } else {
            (
                first_line,
                self.index.start(last_line + 1).min(self.source.len()),
            )
        };
        let content_start = self.index.start(content_first).min(content_end);
        let raw = self.source[content_start..content_end].to_string();

        let fence_lang = opening
            .strip_prefix("```")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.split([',', ' ']).next().unwrap_or(s).to_string());
        let language = b
            .meta
            .attrs
            .source_language()
            .map(|s| s.trim().to_string())
            .or(fence_lang)
            .map(|s| s.to_ascii_lowercase());
        let mut markup_start = if b.meta.is_empty() {
            start
        } else {
            (b.meta.start_loc.start as usize).min(start)
        };
        // attribute lists right under a paragraph line (`Run it:` then `[source,bash]`) are the
        // block's in Asciidoctor; asciidork leaves them in the paragraph
        if b.meta.is_empty() {
            let mut n = first_line;
            while n > 1 && is_attribute_list(line_text(n - 1).trim()) {
                n -= 1;
            }
            markup_start = self.index.start(n).min(start);
        }
        let markup_line = self.index.line(markup_start);
        // every attribute list above the block (`[.console-output]` over `[source,bash]`),
        // not its title (`.Title`)
        let attributes = (markup_line..first_line)
            .map(|n| line_text(n).trim())
            .filter_map(|l| l.strip_prefix('[')?.strip_suffix(']'))
            .collect::<Vec<_>>()
            .join(",");
        // `indent=N` re-indents the block as Asciidoctor shows it: read it without the
        // indentation its lines share (lines and their count stay)
        // the language of such a list, where asciidork saw none
        let language = language.or_else(|| {
            let items: Vec<&str> = attributes.split(',').map(str::trim).collect();
            let at = items.iter().position(|i| *i == "source")?;
            items
                .get(at + 1)
                .filter(|l| !l.is_empty() && !l.contains('='))
                .map(|l| l.to_ascii_lowercase())
        });
        let raw = if attributes
            .split(',')
            .any(|a| a.trim().starts_with("indent="))
        {
            super::subs::dedent(&raw)
        } else {
            raw
        };
        let raw = super::subs::apply(raw, &attributes, content_first, &self.entries);
        // a callout list (`<1> Creates the Deployment.`) explains the block above, a block
        // macro (`copyToClipboard::id[]`) is no text: neither is prose leading into this one
        let between = &self.source[self.prose_from.min(markup_start)..markup_start];
        let lead = super::lead_text(
            &between
                .lines()
                .filter(|l| !super::subs::is_callout_item(l) && !super::subs::is_block_macro(l))
                .collect::<Vec<_>>()
                .join("\n"),
            "//",
        );
        self.out.blocks.push(ParsedBlock {
            block: CodeBlock {
                language,
                attributes,
                line: content_first,
                raw,
                section: self.section,
                lead,
                callouts: true,
                ..CodeBlock::default()
            },
            markup_line,
        });
        self.prose_from = end;
    }
}

fn is_delimiter(line: &str) -> bool {
    let repeated = |c: char| line.len() >= 4 && line.chars().all(|x| x == c);
    repeated('-') || repeated('.') || line.starts_with("```")
}
