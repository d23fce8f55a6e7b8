//! AsciiDoc to mdBook Markdown, from asciidork's AST.
//!
//! In: a parsed [`Document`] (for its code blocks, sliced byte-exact from the source) and a
//! hook that returns what to insert after each code block (the annotations). Out: Markdown
//! that mdBook renders natively: headings with explicit anchors (the section slugs step ids
//! use), paragraphs with inline code, bold, italic and links, lists, images with their block
//! titles, source blocks fenced with their language, admonitions as mdBook admonitions, tables.

use asciidork_ast::{
    AttrData, Block, BlockContent, BlockContext, CellContent, DocContent, EmptyMetadata, Inline,
    InlineNodes, ListItemTypeMeta, ListVariant, MacroNode, QuoteKind, Section, SpanKind,
    SpecialCharKind, SymbolKind, Table,
};

use crate::document::{Document, LineIndex};
use crate::error::Result;

/// Convert `doc` (an AsciiDoc document) to Markdown. `title` heads the page when the document
/// has no title of its own; `after_block(i)` is inserted after `doc.blocks[i]`.
pub fn to_markdown(
    doc: &Document,
    title: &str,
    after_block: &mut dyn FnMut(usize) -> String,
) -> Result<String> {
    crate::document::asciidoc_ast(&doc.path, &doc.source, |ast, _, _| {
        Ok(from_ast(doc, ast, title, after_block))
    })
}

/// As [`to_markdown`], from an AST already parsed (see
/// [`crate::document::parse_asciidoc_with_ast`]).
pub fn from_ast(
    doc: &Document,
    ast: &asciidork_ast::Document,
    title: &str,
    after_block: &mut dyn FnMut(usize) -> String,
) -> String {
    let mut w = Writer {
        doc,
        index: LineIndex::new(&doc.source),
        out: String::new(),
        after_block,
        section: 0,
    };
    match ast.title() {
        Some(t) => {
            let text = w.inline(&t.main);
            w.line(&format!("# {}", text.trim()));
        }
        None => w.line(&format!("# {title}")),
    }
    w.blank();
    match &ast.content {
        DocContent::Blocks(blocks) => w.blocks(blocks, ""),
        DocContent::Sections(s) => {
            if let Some(pre) = &s.preamble {
                w.blocks(pre, "");
            }
            for sec in s.sections.iter() {
                w.section(sec);
            }
        }
        DocContent::Parts(book) => {
            if let Some(pre) = &book.preamble {
                w.blocks(pre, "");
            }
            let parts = book.parts.iter().flat_map(|p| p.sections.iter());
            let all = book.opening_special_sects.iter().chain(parts);
            for sec in all.chain(book.closing_special_sects.iter()) {
                w.section(sec);
            }
        }
    }
    w.out.trim_end().to_string() + "\n"
}

struct Writer<'d, 'h> {
    doc: &'d Document,
    index: LineIndex,
    out: String,
    after_block: &'h mut dyn FnMut(usize) -> String,
    /// How many sections were written (their slugs are `doc.sections[n].slug`, in order).
    section: usize,
}

impl Writer<'_, '_> {
    fn line(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn blank(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    /// Each line of `text` prefixed with `indent` (list item bodies, block quotes).
    fn indented(&mut self, indent: &str, text: &str) {
        for l in text.lines() {
            if l.is_empty() {
                self.line(indent.trim_end());
            } else {
                self.line(&format!("{indent}{l}"));
            }
        }
    }

    fn section(&mut self, sec: &Section) {
        let title = self.inline(&sec.heading);
        // The document stage numbered the same sections in the same order.
        let slug = self
            .doc
            .sections
            .get(self.section)
            .map(|s| s.slug.clone())
            .unwrap_or_else(|| crate::document::slug(&title));
        self.section += 1;
        let hashes = "#".repeat((sec.level as usize + 1).min(6));
        self.blank();
        self.line(&format!("{hashes} {} {{#{slug}}}", title.trim()));
        self.blank();
        self.blocks(&sec.blocks, "");
    }

    fn blocks(&mut self, blocks: &[Block], indent: &str) {
        for b in blocks {
            self.block(b, indent);
        }
    }

    fn title(&mut self, b: &Block, indent: &str) {
        if let Some(t) = b.meta.title() {
            let t = self.inline(t);
            self.indented(indent, &format!("**{}**", t.trim()));
            self.blank();
        }
    }

    fn block(&mut self, b: &Block, indent: &str) {
        match (&b.context, &b.content) {
            (_, BlockContent::Section(sec)) => self.section(sec),
            (BlockContext::Comment, _) | (BlockContext::DocumentAttributeDecl, _) => {}
            (BlockContext::Listing | BlockContext::Literal, _) => self.code(b, indent),
            (BlockContext::Passthrough, BlockContent::Simple(nodes)) => {
                let raw = self.inline(nodes);
                self.indented(indent, &raw);
                self.blank();
            }
            (ctx, content) if admonition(*ctx).is_some() => {
                let kind = admonition(*ctx).unwrap_or("NOTE");
                let mut inner = String::new();
                std::mem::swap(&mut inner, &mut self.out);
                if let Some(t) = b.meta.title() {
                    let t = self.inline(t);
                    self.line(&format!("**{}**", t.trim()));
                    self.blank();
                }
                match content {
                    BlockContent::Simple(nodes) => {
                        let text = self.inline(nodes);
                        self.line(text.trim());
                    }
                    BlockContent::Compound(blocks) => self.blocks(blocks, ""),
                    _ => {}
                }
                std::mem::swap(&mut inner, &mut self.out);
                self.indented(indent, &format!("> [!{kind}]"));
                self.indented(&format!("{indent}> "), inner.trim_end());
                self.blank();
            }
            (_, BlockContent::Simple(nodes)) => {
                self.title(b, indent);
                let text = self.inline(nodes);
                self.indented(indent, text.trim());
                self.blank();
            }
            (_, BlockContent::Empty(EmptyMetadata::Image { target, attrs, .. })) => {
                let alt = attrs
                    .str_positional_at(0)
                    .map(str::to_string)
                    .unwrap_or_default();
                let mut target = target.src.to_string();
                if let Some(t) = target.strip_prefix("./") {
                    target = t.to_string();
                }
                self.indented(indent, &format!("![{}]({target})", escape(&alt)));
                if let Some(t) = b.meta.title() {
                    let t = self.inline(t);
                    self.blank();
                    self.indented(indent, &format!("*Figure: {}*", t.trim()));
                }
                self.blank();
            }
            (_, BlockContent::Empty(EmptyMetadata::DiscreteHeading { level, content, .. })) => {
                let text = self.inline(content);
                let hashes = "#".repeat((*level as usize + 1).min(6));
                self.line(&format!("{hashes} {}", text.trim()));
                self.blank();
            }
            (BlockContext::ThematicBreak, _) => {
                self.line("---");
                self.blank();
            }
            (_, BlockContent::List { variant, items, .. }) => {
                self.title(b, indent);
                for (n, item) in items.iter().enumerate() {
                    let marker = match variant {
                        ListVariant::Ordered => format!("{}. ", n + 1),
                        _ => "- ".to_string(),
                    };
                    let pad = " ".repeat(marker.len());
                    let mut principle = self.inline(&item.principle).trim().to_string();
                    if let ListItemTypeMeta::Checklist(checked, _) = &item.type_meta {
                        principle = format!("[{}] {principle}", if *checked { "x" } else { " " });
                    }
                    if *variant == ListVariant::Description {
                        principle = format!("**{principle}**");
                    }
                    self.line(&format!("{indent}{marker}{principle}"));
                    let body = format!("{indent}{pad}");
                    if let ListItemTypeMeta::DescList {
                        description: Some(d),
                        ..
                    } = &item.type_meta
                    {
                        self.blank();
                        self.block(d, &body);
                    }
                    if !item.blocks.is_empty() {
                        self.blank();
                        self.blocks(&item.blocks, &body);
                    }
                }
                self.blank();
            }
            (_, BlockContent::Table(t)) => {
                self.title(b, indent);
                self.table(t, indent);
            }
            (BlockContext::BlockQuote, BlockContent::Compound(blocks)) => {
                let mut inner = String::new();
                std::mem::swap(&mut inner, &mut self.out);
                self.blocks(blocks, "");
                std::mem::swap(&mut inner, &mut self.out);
                self.indented(&format!("{indent}> "), inner.trim_end());
                self.blank();
            }
            (_, BlockContent::Compound(blocks)) => {
                self.title(b, indent);
                self.blocks(blocks, indent);
            }
            (_, BlockContent::QuotedParagraph { quote, attr, .. }) => {
                let q = self.inline(quote);
                let a = self.inline(attr);
                self.indented(
                    &format!("{indent}> "),
                    &format!("{}\n\n— {}", q.trim(), a.trim()),
                );
                self.blank();
            }
            _ => {}
        }
    }

    /// A listing or literal block: the document stage's copy of it (sliced from the source),
    /// fenced with its language, then whatever the hook inserts after it.
    fn code(&mut self, b: &Block, indent: &str) {
        self.title(b, indent);
        let first = self.index.line(b.loc.start_pos as usize);
        let last = self.index.line(
            (b.loc.end_pos as usize)
                .saturating_sub(1)
                .max(b.loc.start_pos as usize),
        );
        let found = self
            .doc
            .blocks
            .iter()
            .position(|cb| cb.line >= first && cb.line <= last + 1);
        let Some(i) = found else {
            return;
        };
        let cb = &self.doc.blocks[i];
        let lang = match cb.language.as_deref() {
            Some("shell" | "sh" | "console" | "shell-session" | "zsh") => "bash".to_string(),
            Some(l) => l.to_string(),
            None => "text".to_string(),
        };
        let fence = fence_for(&cb.raw);
        self.indented(indent, &format!("{fence}{lang}"));
        self.indented(indent, cb.raw.trim_end_matches('\n'));
        self.indented(indent, &fence);
        let extra = (self.after_block)(i);
        if !extra.is_empty() {
            self.blank();
            self.indented(indent, extra.trim_end());
        }
        self.blank();
    }

    fn table(&mut self, t: &Table, indent: &str) {
        let cells = |w: &mut Self, row: &asciidork_ast::Row| -> Vec<String> {
            row.cells
                .iter()
                .map(|c| {
                    let text = match &c.content {
                        CellContent::Default(paras)
                        | CellContent::Emphasis(paras)
                        | CellContent::Header(paras)
                        | CellContent::Monospace(paras)
                        | CellContent::Strong(paras) => paras
                            .iter()
                            .map(|p| w.inline(p))
                            .collect::<Vec<_>>()
                            .join(" "),
                        CellContent::Literal(nodes) => w.inline(nodes),
                        CellContent::AsciiDoc(_) => String::new(),
                    };
                    text.replace('\n', " ")
                        .replace('|', "\\|")
                        .trim()
                        .to_string()
                })
                .collect()
        };
        let mut rows: Vec<Vec<String>> = Vec::new();
        let header = t.header_row.as_ref().map(|r| cells(self, r));
        for r in t.rows.iter() {
            rows.push(cells(self, r));
        }
        let width = header
            .as_ref()
            .map_or(0, Vec::len)
            .max(rows.iter().map(Vec::len).max().unwrap_or(0));
        if width == 0 {
            return;
        }
        let head = header.unwrap_or_else(|| vec![String::new(); width]);
        let row_line = |r: &[String]| format!("| {} |", r.join(" | "));
        self.indented(indent, &row_line(&head));
        self.indented(indent, &format!("|{}", " --- |".repeat(width)));
        for r in &rows {
            self.indented(indent, &row_line(r));
        }
        self.blank();
    }

    /// Inline nodes as Markdown.
    fn inline(&mut self, nodes: &InlineNodes) -> String {
        let mut s = String::new();
        for n in nodes.iter() {
            match &n.content {
                Inline::Text(t) => s.push_str(&escape(t)),
                Inline::MultiCharWhitespace(w) => s.push_str(w),
                Inline::Newline => s.push('\n'),
                Inline::LineBreak => s.push_str("  \n"),
                Inline::SpecialChar(SpecialCharKind::Ampersand) => s.push_str("&amp;"),
                Inline::SpecialChar(SpecialCharKind::LessThan) => s.push_str("&lt;"),
                Inline::SpecialChar(SpecialCharKind::GreaterThan) => s.push_str("&gt;"),
                Inline::CurlyQuote(k) => s.push(match k {
                    asciidork_ast::CurlyKind::LeftDouble => '“',
                    asciidork_ast::CurlyKind::RightDouble => '”',
                    asciidork_ast::CurlyKind::LeftSingle => '‘',
                    _ => '’',
                }),
                Inline::Quote(kind, inner) => {
                    let (a, b) = match kind {
                        QuoteKind::Double => ('“', '”'),
                        QuoteKind::Single => ('‘', '’'),
                    };
                    let text = self.inline(inner);
                    s.push(a);
                    s.push_str(&text);
                    s.push(b);
                }
                Inline::Symbol(sym) => s.push_str(match sym {
                    SymbolKind::Copyright => "©",
                    SymbolKind::Registered => "®",
                    SymbolKind::Trademark => "™",
                    SymbolKind::EmDash | SymbolKind::TripleDash => "—",
                    SymbolKind::Ellipsis => "…",
                    SymbolKind::SingleRightArrow => "→",
                    SymbolKind::DoubleRightArrow => "⇒",
                    SymbolKind::SingleLeftArrow => "←",
                    SymbolKind::DoubleLeftArrow => "⇐",
                }),
                Inline::SpacedDashes(..) => s.push_str(" — "),
                Inline::Span(kind, _, inner) => {
                    let text = self.inline(inner);
                    match kind {
                        SpanKind::Bold => s.push_str(&format!("**{text}**")),
                        SpanKind::Italic => s.push_str(&format!("*{text}*")),
                        SpanKind::Mono | SpanKind::LitMono => {
                            s.push_str(&code_span(&plain(inner)));
                        }
                        SpanKind::Highlight => s.push_str(&format!("<mark>{text}</mark>")),
                        SpanKind::Superscript => s.push_str(&format!("<sup>{text}</sup>")),
                        SpanKind::Subscript => s.push_str(&format!("<sub>{text}</sub>")),
                        SpanKind::Text => s.push_str(&text),
                    }
                }
                Inline::InlinePassthru(inner) => s.push_str(&plain(inner)),
                Inline::InlineAnchor(id) => s.push_str(&format!("<a id=\"{id}\"></a>")),
                Inline::Macro(m) => s.push_str(&self.macro_node(m)),
                _ => {}
            }
        }
        s
    }

    fn macro_node(&mut self, m: &MacroNode) -> String {
        match m {
            MacroNode::Link { target, attrs, .. } => {
                let text = attrs
                    .as_ref()
                    .and_then(|a| a.positional_at(0))
                    .map(|t| self.inline(t))
                    .filter(|t| !t.trim().is_empty());
                match text {
                    Some(t) => format!("[{}]({})", t.trim(), target.src),
                    None => format!("<{}>", target.src),
                }
            }
            MacroNode::Xref {
                target, linktext, ..
            } => {
                let text = linktext
                    .as_ref()
                    .map(|t| self.inline(t))
                    .unwrap_or_else(|| target.src.to_string());
                format!("[{}](#{})", text.trim(), target.src)
            }
            MacroNode::InlineImage { target, attrs, .. } => {
                let alt = attrs.str_positional_at(0).unwrap_or("").to_string();
                format!("![{}]({})", escape(&alt), target.src)
            }
            MacroNode::Footnote { text: Some(t), .. } => {
                let t = self.inline(t);
                format!(" ({})", t.trim())
            }
            MacroNode::Keyboard { keys, .. } => keys
                .iter()
                .map(|k| format!("<kbd>{k}</kbd>"))
                .collect::<Vec<_>>()
                .join("+"),
            MacroNode::Mailto { address, .. } => format!("<mailto:{}>", address.src),
            MacroNode::Button(b) => format!("**[{}]**", b.src),
            MacroNode::Menu(items) => items
                .iter()
                .map(|i| format!("**{}**", i.src))
                .collect::<Vec<_>>()
                .join(" › "),
            _ => String::new(),
        }
    }
}

fn admonition(ctx: BlockContext) -> Option<&'static str> {
    Some(match ctx {
        BlockContext::AdmonitionNote => "NOTE",
        BlockContext::AdmonitionTip => "TIP",
        BlockContext::AdmonitionImportant => "IMPORTANT",
        BlockContext::AdmonitionWarning => "WARNING",
        BlockContext::AdmonitionCaution => "CAUTION",
        _ => return None,
    })
}

/// The text of inline nodes without markup (for code spans).
fn plain(nodes: &InlineNodes) -> String {
    let mut s = String::new();
    for n in nodes.iter() {
        match &n.content {
            Inline::Text(t) | Inline::MultiCharWhitespace(t) => s.push_str(t),
            Inline::SpecialChar(SpecialCharKind::Ampersand) => s.push('&'),
            Inline::SpecialChar(SpecialCharKind::LessThan) => s.push('<'),
            Inline::SpecialChar(SpecialCharKind::GreaterThan) => s.push('>'),
            Inline::Newline => s.push(' '),
            Inline::Span(_, _, inner) | Inline::InlinePassthru(inner) | Inline::Quote(_, inner) => {
                s.push_str(&plain(inner))
            }
            Inline::CurlyQuote(_) => s.push('\''),
            Inline::Macro(MacroNode::Link { target, .. }) => s.push_str(&target.src),
            _ => {}
        }
    }
    s
}

/// A Markdown code span that holds `text`, whatever backticks it contains.
fn code_span(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat(longest + 1);
    if longest > 0 || text.starts_with(' ') || text.ends_with(' ') {
        format!("{ticks} {text} {ticks}")
    } else {
        format!("{ticks}{text}{ticks}")
    }
}

/// A fence longer than any backtick run at the start of a line of `raw`.
fn fence_for(raw: &str) -> String {
    let longest = raw
        .lines()
        .map(|l| l.trim_start().chars().take_while(|&c| c == '`').count())
        .max()
        .unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// Escape what Markdown would read as markup in plain text.
fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn md(src: &str) -> String {
        let doc = crate::document::parse(Path::new("t.adoc"), src.to_string()).unwrap();
        to_markdown(&doc, "Chapter", &mut |i| format!("<!-- after {i} -->")).unwrap()
    }

    #[test]
    fn headings_get_the_slugs_step_ids_use() {
        let m = md("== Deploy Kind Cluster\n\ntext\n\n=== NodePort\n\nmore\n");
        assert!(m.starts_with("# Chapter\n"), "{m}");
        assert!(
            m.contains("## Deploy Kind Cluster {#deploy-kind-cluster}"),
            "{m}"
        );
        assert!(m.contains("### NodePort {#nodeport}"), "{m}");
    }

    #[test]
    fn inline_markup() {
        let m =
            md("Run `kubectl get pods`, *bold*, _italic_ and https://kind.sigs.k8s.io/[kind].\n");
        assert!(
            m.contains(
                "Run `kubectl get pods`, **bold**, *italic* and [kind](https://kind.sigs.k8s.io/)."
            ),
            "{m}"
        );
    }

    #[test]
    fn source_blocks_are_fenced_and_followed_by_the_hook() {
        let m = md("== A\n\n[source,bash]\n----\nkubectl get pods\nNAME  READY\n----\n");
        assert!(
            m.contains("```bash\nkubectl get pods\nNAME  READY\n```\n\n<!-- after 0 -->"),
            "{m}"
        );
        // the ``` fences AsciiDoc also allows
        let m = md("```bash\nip a\n```\n");
        assert!(m.contains("```bash\nip a\n```"), "{m}");
    }

    #[test]
    fn lists_images_titles_and_admonitions() {
        let m = md("- one\n- two\n\nThen:\n\n. first\n. second\n");
        assert!(m.contains("- one\n- two\n"), "{m}");
        assert!(m.contains("1. first\n2. second\n"), "{m}");
        let m = md(".Pod on Host\nimage::./pod.svg[Pod to Pod]\n");
        assert!(m.contains("![Pod to Pod](pod.svg)"), "{m}");
        assert!(m.contains("*Figure: Pod on Host*"), "{m}");
        let m = md("NOTE: Kind needs Docker.\n");
        assert!(m.contains("> [!NOTE]\n> Kind needs Docker."), "{m}");
        let m = md(".Listing title\n[source,bash]\n----\nip r\n----\n");
        assert!(m.contains("**Listing title**\n\n```bash"), "{m}");
    }

    #[test]
    fn tables_become_pipe_tables() {
        let m = md("|===\n|Service |Port\n\n|clusterip-service |80\n|===\n");
        assert!(
            m.contains("| Service | Port |\n| --- | --- |\n| clusterip-service | 80 |"),
            "{m}"
        );
    }

    #[test]
    fn text_that_looks_like_markdown_is_escaped() {
        let m = md("Match pods with app=* and <none> [sic]\n");
        assert!(m.contains(r"app=\* and &lt;none&gt; \[sic\]"), "{m}");
    }
}
