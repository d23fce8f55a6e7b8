//! Markdown input through pulldown-cmark.
//!
//! In: CommonMark source (with GitHub tables and the like). Out: sections from headings and
//! code blocks from fences, each sliced byte-exact from the source by the event's span.

use std::path::Path;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use super::{CodeBlock, Format, LineIndex, Parsed, ParsedBlock, push_section};
use crate::error::{Error, Result};

/// The Markdown format.
pub struct Markdown;

impl Format for Markdown {
    fn parse(&self, path: &Path, source: &str) -> Result<Parsed> {
        let index = LineIndex::new(source);
        let mut out = Parsed::default();
        let mut section = None;
        let mut heading: Option<(u8, usize, String)> = None;
        let mut prose_from = 0;
        let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        for (event, range) in Parser::new_ext(source, opts).into_offset_iter() {
            match event {
                Event::Start(Tag::Heading { level, .. }) => {
                    heading = Some((level as u8, index.line(range.start), String::new()));
                }
                Event::Text(t) | Event::Code(t) if heading.is_some() => {
                    if let Some((_, _, title)) = heading.as_mut() {
                        title.push_str(&t);
                    }
                }
                Event::End(TagEnd::Heading(_)) => {
                    if let Some((level, line, title)) = heading.take() {
                        push_section(&mut out.sections, title.trim().to_string(), level, line);
                        section = Some(out.sections.len() - 1);
                        prose_from = range.end;
                    }
                }
                Event::Start(Tag::CodeBlock(kind)) => {
                    let block = code_block(path, source, &index, &kind, range.clone(), section)?;
                    let markup_start = range.start;
                    let mut block = block;
                    block.lead = super::lead_text(
                        &source[prose_from.min(markup_start)..markup_start],
                        "<!--",
                    );
                    out.blocks.push(ParsedBlock {
                        markup_line: index.line(markup_start),
                        block,
                    });
                    prose_from = range.end;
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn directive<'a>(&self, line: &'a str) -> Option<&'a str> {
        let inner = line.trim().strip_prefix("<!--")?.strip_suffix("-->")?;
        inner.trim().strip_prefix("labrun:").map(str::trim)
    }
}

fn code_block(
    path: &Path,
    source: &str,
    index: &LineIndex,
    kind: &CodeBlockKind,
    range: std::ops::Range<usize>,
    section: Option<usize>,
) -> Result<CodeBlock> {
    let first_line = index.line(range.start);
    let (language, attributes, content_first, content_end) = match kind {
        CodeBlockKind::Fenced(info) => {
            let opening = source[range.start..].lines().next().unwrap_or("").trim();
            let fence: String = opening
                .chars()
                .take_while(|&c| c == '`' || c == '~')
                .collect();
            let end = range.end.min(source.len());
            let last_line = index.line(end.saturating_sub(1).max(range.start));
            let closing = source[index.start(last_line).min(end)..end].trim();
            let closed = last_line > first_line
                && closing.starts_with(&fence)
                && closing
                    .chars()
                    .all(|c| c == fence.chars().next().unwrap_or('`'));
            if !closed {
                return Err(Error::input(
                    path,
                    first_line,
                    format!("code block opened with `{fence}` is never closed"),
                ));
            }
            let lang = info
                .split([' ', ',', '{'])
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_ascii_lowercase);
            (
                lang,
                info.to_string(),
                first_line + 1,
                index.start(last_line),
            )
        }
        CodeBlockKind::Indented => (None, String::new(), first_line, range.end),
    };
    let start = index.start(content_first).min(content_end);
    Ok(CodeBlock {
        language,
        attributes,
        line: content_first,
        raw: source[start..content_end].to_string(),
        section,
        lead: String::new(),
        directives: Default::default(),
    })
}
