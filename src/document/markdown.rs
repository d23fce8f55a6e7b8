//! Markdown input through pulldown-cmark.
//!
//! In: CommonMark source (with GitHub tables and the like, and Hugo's code shortcodes). Out:
//! sections from headings and code blocks from fences and shortcodes. A fence's content is
//! what CommonMark makes of it: inside a blockquote or a list item, the container's `> ` and
//! indentation are not part of it (the parser's text events, which map line for line onto the
//! source); at the top level that is the source byte for byte.

use std::path::Path;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use super::shortcode;
use super::{CodeBlock, Format, LineIndex, Parsed, ParsedBlock, push_section};
use crate::error::{Error, Result};

/// The Markdown format.
pub struct Markdown;

/// A code block being read: where it started and the content gathered so far.
struct Open {
    kind: CodeBlockKind<'static>,
    range: std::ops::Range<usize>,
    content: String,
    content_start: Option<usize>,
}

impl Format for Markdown {
    fn parse(&self, path: &Path, source: &str) -> Result<Parsed> {
        // MkDocs' tabs and admonitions, read as MkDocs reads them (lines stay where they are)
        let dedented = mkdocs_blocks(source);
        let source = dedented.as_deref().unwrap_or(source);
        let (shortcodes, masked) =
            shortcode::extract(source).map_err(|(line, m)| Error::input(path, line, m))?;
        let text = masked.as_deref().unwrap_or(source);
        let index = LineIndex::new(source);
        let mut reader = Reader {
            source,
            index: &index,
            out: Parsed::default(),
            section: None,
            prose_from: 0,
            shortcodes: shortcodes.into_iter().peekable(),
        };
        let mut heading: Option<(u8, usize, String)> = None;
        let mut open: Option<Open> = None;
        let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        for (event, range) in Parser::new_ext(text, opts).into_offset_iter() {
            match event {
                Event::Start(Tag::Heading { level, .. }) => {
                    reader.shortcodes_before(range.start);
                    heading = Some((level as u8, index.line(range.start), String::new()));
                }
                Event::Text(t) | Event::Code(t) if heading.is_some() => {
                    if let Some((_, _, title)) = heading.as_mut() {
                        title.push_str(&t);
                    }
                }
                Event::End(TagEnd::Heading(_)) => {
                    if let Some((level, line, title)) = heading.take() {
                        push_section(
                            &mut reader.out.sections,
                            title.trim().to_string(),
                            level,
                            line,
                        );
                        reader.section = Some(reader.out.sections.len() - 1);
                        reader.prose_from = range.end;
                    }
                }
                Event::Code(t) if open.is_none() => {
                    // MkDocs' inline highlighting: `#!bash k3d cluster create` is a command
                    if let Some((language, command)) = shebang_code(&t) {
                        reader.shortcodes_before(range.start);
                        let block = CodeBlock {
                            language: Some(language.to_string()),
                            // marked by its author as a command: its first word is a program
                            attributes: format!("{language} .input"),
                            line: index.line(range.start),
                            raw: format!("{command}\n"),
                            ..CodeBlock::default()
                        };
                        reader.push(block, range.start, range.end);
                    }
                }
                Event::Start(Tag::CodeBlock(kind)) => {
                    reader.shortcodes_before(range.start);
                    open = Some(Open {
                        kind: kind.into_static(),
                        range,
                        content: String::new(),
                        content_start: None,
                    });
                }
                Event::Text(t) if open.is_some() => {
                    if let Some(o) = open.as_mut() {
                        o.content_start.get_or_insert(range.start);
                        o.content.push_str(&t);
                    }
                }
                Event::End(TagEnd::CodeBlock) => {
                    if let Some(o) = open.take() {
                        let at = o.range.start;
                        reader.code_block(o);
                        if reader.out.blocks.len() > super::limits::MAX_BLOCKS {
                            return Err(super::limits::too_many_blocks(path, index.line(at)));
                        }
                    }
                }
                _ => {}
            }
        }
        reader.shortcodes_before(usize::MAX);
        Ok(reader.out)
    }

    fn lone_cr_ends_lines(&self) -> bool {
        true
    }

    fn directive<'a>(&self, line: &'a str) -> Option<&'a str> {
        let inner = line.trim().strip_prefix("<!--")?.strip_suffix("-->")?;
        inner.trim().strip_prefix("labrun:").map(str::trim)
    }
}

/// Whether `line` opens a MkDocs block whose content is indented under it: a content tab
/// (`=== "Using kind"`, pymdownx.tabbed), an admonition (`!!! note`, `!!! Success "Output"`) or a
/// collapsible one (`??? tip`, `???+ tip`, pymdownx.details).
fn opens_mkdocs_block(line: &str) -> bool {
    let t = line.trim_start();
    let rest = ["=== \"", "===! \"", "===+ \""]
        .iter()
        .any(|m| t.starts_with(m));
    let admonition = ["!!! ", "??? ", "???+ "].iter().any(|m| {
        t.strip_prefix(m)
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphabetic()))
    });
    rest || admonition
}

/// `source` with the content of MkDocs' tabs and admonitions four columns to the left, as
/// Python-Markdown reads it (in CommonMark, content indented four spaces under a line is an
/// indented code block, and a fence in it is text): each line loses four spaces for every
/// such block it is inside. Line count and order stay. `None` where there is no such block.
fn mkdocs_blocks(source: &str) -> Option<String> {
    if !source.contains("=== \"") && !source.contains("!!! ") && !source.contains("??? ") {
        return None;
    }
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let mut open: Vec<usize> = Vec::new();
    let mut out = String::with_capacity(source.len());
    let mut changed = false;
    for line in source.split_inclusive('\n') {
        let blank = line.trim().is_empty();
        if !blank {
            while open.last().is_some_and(|&i| indent(line) < i + 4) {
                open.pop();
            }
        }
        let cut = (4 * open.len()).min(indent(line));
        changed |= cut > 0;
        out.push_str(&line[cut..]);
        if !blank && opens_mkdocs_block(line) {
            open.push(indent(line));
        }
    }
    changed.then_some(out)
}

/// An inline code span that opens with `#!` and a shell language (`#!bash kubectl get pods`,
/// pymdownx's inline highlighting in MkDocs): the language and the command.
fn shebang_code(code: &str) -> Option<(&'static str, &str)> {
    let rest = code.strip_prefix("#!")?;
    let (language, command) = rest.split_once(' ')?;
    let language = crate::steps::SHELL_LANGUAGES
        .iter()
        .find(|l| **l == language)?;
    let command = command.trim();
    (!command.is_empty()).then_some((language, command))
}

struct Reader<'s> {
    source: &'s str,
    index: &'s LineIndex,
    out: Parsed,
    section: Option<usize>,
    /// Byte offset where the prose leading into the next block starts.
    prose_from: usize,
    shortcodes: std::iter::Peekable<std::vec::IntoIter<shortcode::Found>>,
}

impl Reader<'_> {
    fn push(&mut self, mut block: CodeBlock, markup_start: usize, end: usize) {
        block.section = self.section;
        block.lead = super::lead_text(
            &self.source[self.prose_from.min(markup_start)..markup_start],
            "<!--",
        );
        self.out.blocks.push(ParsedBlock {
            markup_line: self.index.line(markup_start),
            block,
        });
        self.prose_from = end;
    }

    /// The shortcode blocks that start before `offset`, in order.
    fn shortcodes_before(&mut self, offset: usize) {
        while let Some(found) = self.shortcodes.next_if(|f| f.start < offset) {
            let block = CodeBlock {
                language: found.language,
                attributes: found.attributes,
                line: found.line + 1,
                raw: found.raw,
                link_markers: found.link_markers,
                ..CodeBlock::default()
            };
            self.push(block, found.start, found.end);
        }
    }

    fn code_block(&mut self, open: Open) {
        let Open {
            kind,
            range,
            content,
            content_start,
        } = open;
        let source = self.source;
        let index = self.index;
        let first_line = index.line(range.start);
        let (language, attributes, content_line) = match &kind {
            CodeBlockKind::Fenced(info) => {
                let opening = source[range.start..].lines().next().unwrap_or("");
                let fence: String = opening
                    .trim_start()
                    .chars()
                    .take_while(|&c| c == '`' || c == '~')
                    .collect();
                let end = range.end.min(source.len());
                let last_line = index.line(end.saturating_sub(1).max(range.start));
                // The closing fence, seen through the container's markers.
                let closing = source[index.start(last_line).min(end)..end]
                    .trim_start_matches([' ', '\t', '>'])
                    .trim_end();
                let fence_char = fence.chars().next().unwrap_or('`');
                let closed = last_line > first_line
                    && closing.starts_with(&fence)
                    && closing.chars().all(|c| c == fence_char);
                if !closed {
                    // CommonMark (and mdBook) read an unclosed fence to the end of its
                    // container: so does labrun, with a warning at its line
                    self.out.warnings.push(super::Warning {
                        line: first_line,
                        message: format!(
                            "code block opened with `{fence}` is never closed: read to the end, as CommonMark does"
                        ),
                    });
                }
                let lang = info
                    .split([' ', ',', '{'])
                    .next()
                    .filter(|s| !s.is_empty())
                    .map(str::to_ascii_lowercase);
                (lang, info.to_string(), first_line + 1)
            }
            CodeBlockKind::Indented => (None, String::new(), first_line),
        };
        // The content's first line is where its first text event starts (an empty block: the
        // line after the opening fence).
        let line = content_start.map_or(content_line, |s| index.line(s));
        let block = CodeBlock {
            language,
            attributes,
            line,
            raw: content,
            ..CodeBlock::default()
        };
        self.push(block, range.start, range.end);
    }
}
