//! Stage 1, document: a tutorial file becomes a [`Document`].
//!
//! In: a path to an AsciiDoc (`.adoc`, `.asciidoc`) or Markdown (`.md`) file. Out: its sections
//! (title, level, line) and its code blocks (language, attributes, first content line, raw
//! text sliced byte-exact from the source, the prose that leads into it, and the labrun
//! directives written just above it). Each input format is one [`Format`] implementation in
//! its own file; everything after this stage is format-agnostic.

mod asciidoc;
pub mod limits;
mod markdown;
mod shortcode;
mod subs;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::directive::Directives;
use crate::error::{Error, Result};

pub use asciidoc::{AsciiDoc, parse_with_ast as parse_asciidoc_with_ast, with_ast as asciidoc_ast};
pub use markdown::Markdown;
pub use shortcode::SHORTCODES;

/// A parsed tutorial.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub path: PathBuf,
    pub source: String,
    pub sections: Vec<Section>,
    pub blocks: Vec<CodeBlock>,
    /// What the reader noticed that is not an error (a heading out of sequence).
    pub warnings: Vec<Warning>,
    /// The file began with a byte order mark (left out of `source`, kept when rewriting).
    pub bom: bool,
}

/// A note about a document that is not an error: its 1-based line and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    /// 1 for `==` / `#`-level chapters' first sub-level, as the format counts it.
    pub level: u8,
    /// 1-based line of the heading.
    pub line: usize,
    /// Unique within the document: the title slugged, with `-2`, `-3` … on repeats.
    pub slug: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeBlock {
    /// Lower-cased source language, if any (`bash`, `console`, …).
    pub language: Option<String>,
    /// The attribute lists or info string as written (`source,bash`, `bash title="x"`); an
    /// AsciiDoc block's several lists (`[.console-output]` over `[source,bash]`) joined by `,`.
    pub attributes: String,
    /// 1-based line of the first content line (the line after the opening delimiter).
    pub line: usize,
    /// The content exactly as in the source, delimiters excluded, with its final newline.
    pub raw: String,
    /// Index into [`Document::sections`] of the innermost section holding the block.
    pub section: Option<usize>,
    /// Plain text of the prose between the previous code block (or heading) and this one.
    pub lead: String,
    /// Directives from the `labrun:` comments just above the block.
    pub directives: Directives,
    /// Written as a shortcode whose commands mark paths as `@path@` (Istio's `text`).
    pub link_markers: bool,
    /// An AsciiDoc verbatim block: a `<1>` (or `<.>`) at a line's end is a callout, not text.
    pub callouts: bool,
}

impl CodeBlock {
    /// The block's roles, from its attribute lists: `[.console-output]`,
    /// `[source.output,bash]`, `[source,bash,role=output]`, a Markdown info string's `{.output}`.
    pub fn roles(&self) -> Vec<&str> {
        let mut roles = Vec::new();
        for item in self
            .attributes
            .split([',', ' ', '{', '}'])
            .filter(|i| !i.is_empty())
        {
            match item.split_once('=') {
                Some((key, value)) if key.trim() == "role" => {
                    roles.extend(value.trim_matches(['"', '\'']).split('.'));
                }
                Some(_) => {}
                None => roles.extend(item.split(['.', '#']).skip(1)),
            }
        }
        roles.retain(|r| !r.is_empty());
        roles
    }
}

/// What a format's parser hands back before directives are attached.
#[derive(Debug, Default)]
pub struct Parsed {
    pub sections: Vec<Section>,
    pub blocks: Vec<ParsedBlock>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug)]
pub struct ParsedBlock {
    pub block: CodeBlock,
    /// 1-based line where the block's own markup starts (attribute line, title or fence):
    /// directive comments must stand on the lines directly above it.
    pub markup_line: usize,
}

/// One input format. A second format is a new implementation, not a branch elsewhere.
pub trait Format {
    /// Parse `source` (read from `path`, used in messages) into sections and code blocks.
    fn parse(&self, path: &Path, source: &str) -> Result<Parsed>;
    /// Whether a lone carriage return ends a line (CommonMark's line endings: LF, CRLF, CR).
    fn lone_cr_ends_lines(&self) -> bool {
        false
    }
    /// If `line` is a labrun directive comment in this format, the directive text after
    /// `labrun:`.
    fn directive<'a>(&self, line: &'a str) -> Option<&'a str>;
}

/// The format for a path, by its extension.
pub fn format_for(path: &Path) -> Result<Box<dyn Format>> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(e) if e == "adoc" || e == "asciidoc" || e == "asc" => Ok(Box::new(AsciiDoc)),
        Some(e) if e == "md" || e == "markdown" => Ok(Box::new(Markdown)),
        _ => Err(Error::input(
            path,
            0,
            "unknown document format: expected .adoc, .asciidoc or .md",
        )),
    }
}

/// Read and parse a document from disk.
pub fn load(path: &Path) -> Result<Document> {
    let source = crate::input::read_text(path, crate::input::DOCUMENT_CAP, "a document")?;
    parse(path, source)
}

/// Parse a document already in memory.
pub fn parse(path: &Path, source: String) -> Result<Document> {
    let (source, bom) = match source.strip_prefix('\u{feff}') {
        Some(rest) => (rest.to_string(), true),
        None => (source, false),
    };
    let format = format_for(path)?;
    // as CommonMark reads it, a lone CR ends a line: it becomes a LF (same length, so every
    // offset holds), and a command never runs on past it
    let source = if format.lone_cr_ends_lines() && source.contains('\r') {
        lone_crs_as_lfs(source)
    } else {
        source
    };
    if source.trim().is_empty() {
        return Err(Error::input(path, 0, "the document is empty"));
    }
    let mut parsed = format.parse(path, &source)?;
    unique_slugs(&mut parsed.sections);
    let blocks = attach_directives(path, &source, format.as_ref(), parsed.blocks)?;
    Ok(Document {
        path: path.to_path_buf(),
        source,
        sections: parsed.sections,
        blocks,
        warnings: parsed.warnings,
        bom,
    })
}

/// `source` with every CR that no LF follows replaced by a LF (CRLF stays).
fn lone_crs_as_lfs(source: String) -> String {
    let mut bytes = source.into_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n') {
            bytes[i] = b'\n';
        }
    }
    // only ASCII bytes were replaced by ASCII bytes
    String::from_utf8(bytes).unwrap_or_default()
}

/// Every `labrun:` comment must stand directly above a code block (only other directive
/// comments between them); each is parsed, and an unknown word is an error at its line. A
/// directive written *inside* a code block (a README showing one) is the block's text.
fn attach_directives(
    path: &Path,
    source: &str,
    format: &dyn Format,
    blocks: Vec<ParsedBlock>,
) -> Result<Vec<CodeBlock>> {
    let lines: Vec<&str> = source.lines().collect();
    let mut claimed = vec![false; lines.len() + 1];
    for b in &blocks {
        let first = b.block.line.min(claimed.len());
        let last = (b.block.line + b.block.raw.lines().count()).min(claimed.len());
        claimed[first..last].iter_mut().for_each(|c| *c = true);
    }
    let mut out = Vec::with_capacity(blocks.len());
    for ParsedBlock {
        mut block,
        markup_line,
    } in blocks
    {
        let mut found = Vec::new();
        let mut n = markup_line;
        while n > 1 {
            let Some(text) = format.directive(lines[n - 2]) else {
                break;
            };
            found.push((n - 1, text));
            claimed[n - 1] = true;
            n -= 1;
        }
        found.reverse();
        let block_lines = block.raw.lines().count();
        for (line, text) in found {
            block
                .directives
                .add(text)
                .map_err(|message| Error::input(path, line, message))?;
            if let Some(last) = block
                .directives
                .commands
                .iter()
                .flatten()
                .map(|r| r.1)
                .max()
                && last > block_lines
            {
                return Err(Error::input(
                    path,
                    line,
                    format!(
                        "`commands=` names line {last}, but the block has {block_lines} line(s)"
                    ),
                ));
            }
        }
        out.push(block);
    }
    for (i, line) in lines.iter().enumerate() {
        if format.directive(line).is_some() && !claimed[i + 1] {
            return Err(Error::input(
                path,
                i + 1,
                "labrun directive is not directly above a code block",
            ));
        }
    }
    Ok(out)
}

/// The prose between two blocks as one line of text, leaving out comment lines (those that
/// start with `comment`).
pub(crate) fn lead_text(between: &str, comment: &str) -> String {
    between
        .lines()
        // a blockquote's `>` markers are not prose (`> ` before a quoted fence)
        .map(|l| l.trim().trim_start_matches(['>', ' ', '\t']))
        .filter(|l| !l.is_empty() && !l.starts_with(comment))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Turns byte offsets into 1-based line numbers.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(source: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 1-based line holding byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }

    /// Byte offset where 1-based `line` starts (the end of the source past the last line).
    pub fn start(&self, line: usize) -> usize {
        self.starts.get(line - 1).copied().unwrap_or(usize::MAX)
    }
}

/// A heading's slug: lower-case ASCII letters and digits, other runs become one `-`.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("section");
    }
    out
}

/// Push a section with its title's slug; [`unique_slugs`] makes the slugs unique once all
/// are pushed.
pub(crate) fn push_section(sections: &mut Vec<Section>, title: String, level: u8, line: usize) {
    let slug = slug(&title);
    sections.push(Section {
        title,
        level,
        line,
        slug,
    });
}

/// Make every slug unique, in order: a repeat of a taken slug gets the first free `-2`, `-3`, …
/// In one pass: each base remembers the next number to try, so 8 000 headings of one title
/// cost 8 000 steps, not 32 million.
pub(crate) fn unique_slugs(sections: &mut [Section]) {
    let mut taken: HashSet<String> = HashSet::with_capacity(sections.len());
    let mut next: HashMap<String, usize> = HashMap::new();
    for s in sections.iter_mut() {
        if taken.insert(s.slug.clone()) {
            continue;
        }
        let n = next.entry(s.slug.clone()).or_insert(2);
        while taken.contains(&format!("{}-{n}", s.slug)) {
            *n += 1;
        }
        s.slug = format!("{}-{n}", s.slug);
        *n += 1;
        taken.insert(s.slug.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_maps_offsets_to_lines() {
        let idx = LineIndex::new("a\nbc\n\nd");
        assert_eq!(idx.line(0), 1);
        assert_eq!(idx.line(2), 2);
        assert_eq!(idx.line(5), 3);
        assert_eq!(idx.line(6), 4);
        assert_eq!(idx.start(2), 2);
    }

    #[test]
    fn slugs_are_lowercase_and_dashed() {
        assert_eq!(slug("  NodePort"), "nodeport");
        assert_eq!(
            slug("Deploy Kind Cluster with ingress enabled"),
            "deploy-kind-cluster-with-ingress-enabled"
        );
        assert_eq!(slug("Pod on host, by hand!"), "pod-on-host-by-hand");
        assert_eq!(slug("***"), "section");
    }

    #[test]
    fn repeated_titles_get_numbered_slugs() {
        let mut s = Vec::new();
        for (title, line) in [("Setup", 1), ("Setup", 5), ("Setup 2", 9), ("Setup", 12)] {
            push_section(&mut s, title.into(), 1, line);
        }
        unique_slugs(&mut s);
        let slugs: Vec<&str> = s.iter().map(|s| s.slug.as_str()).collect();
        // `Setup 2` takes `setup-2-2`: the second `Setup` had `setup-2`; the third skips on
        assert_eq!(slugs, ["setup", "setup-2", "setup-2-2", "setup-3"]);
    }
}
