//! A book kept to its own files, checked before mdBook reads any of them.
//!
//! In: a book's root (the directory of its `book.toml`) and whether the command line lets the
//! book name programs. Out: the book's confines ([`Confines`]), or the first thing in the book
//! that reaches outside them, as an error at its file and line. A docs repository takes books
//! from strangers' pull requests; `labrun build` of such a book must not read, write or run
//! anything the book's own directory does not hold.
//!
//! The rules (each has a test in `tests/it/book.rs`):
//! - **Paths in `book.toml`** (`book.src`, `build.build-dir`, `output.html.theme`,
//!   `additional-css`, `additional-js`, `input-404`, the redirects, labrun's `include-from`)
//!   stay inside the root, also after links are followed. mdBook empties its build directory
//!   before writing it, and copies the others into the site.
//! - **No program the book names runs**: a `[preprocessor.NAME]` other than mdBook's own
//!   (`links`, `index`) and labrun, or an `[output.NAME]` other than `html` and `markdown`,
//!   makes mdBook run a command; refused unless the command line allows it
//!   (`--allow-book-programs`).
//! - **`SUMMARY.md`**: each link is a file inside `src` (not `SUMMARY.md` itself); one that
//!   is there is a regular file no larger than a document may be. A link outside would make
//!   mdBook create that file.
//! - **Every file under `src`** is a regular file or a directory, or a link to one inside the
//!   root: mdBook copies them all into the site, and a FIFO or a device would block it.
//! - **Includes** (`{{#include}}`, `{{#rustdoc_include}}`, `{{#playground}}`, `{{#playpen}}`,
//!   at any depth) name regular files inside the root or a directory labrun's
//!   `include-from` names, no larger than a document; [`Links`] checks them as the chapters
//!   are read, then lets mdBook's own preprocessor include them.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};

use crate::error::{Error, Result};
use crate::input::{self, DOCUMENT_CAP};

/// mdBook's preprocessors and renderers that run no program, and labrun (run in-process).
const OWN_PREPROCESSORS: &[&str] = &["links", "index", "labrun"];
const OWN_RENDERERS: &[&str] = &["html", "markdown"];
/// mdBook's limit on includes within includes.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Where a book may read from: its root, and the directories labrun's `include-from` names.
#[derive(Debug, Clone)]
pub struct Confines {
    /// The book's root and the `include-from` directories, each as its canonical path.
    readable: Vec<PathBuf>,
}

/// Check a book before mdBook loads it (see the module's rules).
pub fn check(root: &Path, allow_programs: bool) -> Result<Confines> {
    let toml_path = root.join("book.toml");
    let text = input::read_text(&toml_path, input::CONFIG_CAP, "book.toml")?;
    let table = toml::de::DeTable::parse(&text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_at(&text, s.start));
        Error::input(&toml_path, line, e.message().to_string())
    })?;
    let canon_root = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let root = &lexical(&std::path::absolute(root).map_err(|e| Error::io(root, e))?);
    let cfg = Toml {
        path: &toml_path,
        text: &text,
        table: table.get_ref(),
    };
    let inside = |key: &str, value: &str, line: usize, base: &Path| -> Result<PathBuf> {
        let path = lexical(&base.join(value));
        let real = resolved(&path);
        if !path.starts_with(root) || !real.starts_with(&canon_root) {
            return Err(Error::input(
                &toml_path,
                line,
                format!(
                    "`{key} = \"{value}\"` is outside the book ({}): labrun keeps a book to \
                     its own directory",
                    root.display()
                ),
            ));
        }
        Ok(path)
    };
    let (src_name, src_line) = cfg.string(&["book", "src"]).unwrap_or(("src".into(), 0));
    let src = inside("book.src", &src_name, src_line, root)?;
    for (keys, default) in [
        (&["build", "build-dir"][..], "book"),
        (&["output", "html", "theme"][..], "theme"),
    ] {
        let (value, line) = cfg.string(keys).unwrap_or((default.into(), 0));
        inside(&keys.join("."), &value, line, root)?;
    }
    for keys in [
        &["output", "html", "additional-css"][..],
        &["output", "html", "additional-js"][..],
    ] {
        for (value, line) in cfg.strings(keys) {
            inside(&keys.join("."), &value, line, root)?;
        }
    }
    if let Some((value, line)) = cfg.string(&["output", "html", "input-404"]) {
        inside("output.html.input-404", &value, line, &src)?;
    }
    let (build_dir, _) = cfg
        .string(&["build", "build-dir"])
        .unwrap_or(("book".into(), 0));
    let out = lexical(&root.join(build_dir));
    for (from, line) in cfg.keys(&["output", "html", "redirect"]) {
        let written = lexical(&out.join(from.trim_start_matches('/')));
        if !written.starts_with(&out) {
            return Err(Error::input(
                &toml_path,
                line,
                format!(
                    "the redirect from `{from}` would be written outside the build directory \
                     ({})",
                    out.display()
                ),
            ));
        }
    }
    let mut readable = vec![canon_root.clone()];
    for (value, line) in cfg.strings(&["preprocessor", "labrun", "include-from"]) {
        let dir = lexical(&root.join(&value));
        let real = std::fs::canonicalize(&dir).map_err(|e| {
            Error::input(
                &toml_path,
                line,
                format!("`include-from = \"{value}\"`: {e}"),
            )
        })?;
        readable.push(real);
    }
    if !allow_programs {
        programs(&cfg)?;
    }
    summary(&src)?;
    tree(&src, &canon_root)?;
    Ok(Confines { readable })
}

/// `book.toml` with its text, for lines.
struct Toml<'a> {
    path: &'a Path,
    text: &'a str,
    table: &'a toml::de::DeTable<'a>,
}

impl Toml<'_> {
    fn get(&self, keys: &[&str]) -> Option<&toml::Spanned<toml::de::DeValue<'_>>> {
        let (last, tables) = keys.split_last()?;
        let mut table = self.table;
        for k in tables {
            match table.get(*k)?.get_ref() {
                toml::de::DeValue::Table(t) => table = t,
                _ => return None,
            }
        }
        table.get(*last)
    }

    fn line(&self, at: usize) -> usize {
        line_at(self.text, at)
    }

    /// A string value and its line.
    fn string(&self, keys: &[&str]) -> Option<(String, usize)> {
        let v = self.get(keys)?;
        match v.get_ref() {
            toml::de::DeValue::String(s) => Some((s.to_string(), self.line(v.span().start))),
            _ => None,
        }
    }

    /// The strings of an array (or of one string) and their lines.
    fn strings(&self, keys: &[&str]) -> Vec<(String, usize)> {
        let Some(v) = self.get(keys) else {
            return Vec::new();
        };
        match v.get_ref() {
            toml::de::DeValue::String(s) => vec![(s.to_string(), self.line(v.span().start))],
            toml::de::DeValue::Array(a) => a
                .iter()
                .filter_map(|item| match item.get_ref() {
                    toml::de::DeValue::String(s) => {
                        Some((s.to_string(), self.line(item.span().start)))
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The keys of a table and their lines.
    fn keys(&self, keys: &[&str]) -> Vec<(String, usize)> {
        match self.get(keys).map(|v| v.get_ref()) {
            Some(toml::de::DeValue::Table(t)) => t
                .iter()
                .map(|(k, _)| (k.get_ref().to_string(), self.line(k.span().start)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Refuse the preprocessors and renderers that make mdBook run a program.
fn programs(cfg: &Toml) -> Result<()> {
    for (section, own, what) in [
        ("preprocessor", OWN_PREPROCESSORS, "preprocessor"),
        ("output", OWN_RENDERERS, "renderer"),
    ] {
        for (name, line) in cfg.keys(&[section]) {
            if own.contains(&name.as_str()) {
                continue;
            }
            let command = cfg
                .string(&[section, &name, "command"])
                .map_or(format!("mdbook-{name}"), |(c, _)| c);
            return Err(Error::input(
                cfg.path,
                line,
                format!(
                    "[{section}.{name}] makes mdBook run `{command}` (a {what}): labrun build \
                     runs no program a book names; pass --allow-book-programs if you trust \
                     this book"
                ),
            ));
        }
    }
    Ok(())
}

/// Every link of `SUMMARY.md` is a chapter inside `src`.
fn summary(src: &Path) -> Result<()> {
    let path = src.join("SUMMARY.md");
    let text = input::read_text(&path, DOCUMENT_CAP, "a SUMMARY.md")?;
    for (event, range) in pulldown_cmark::Parser::new(&text).into_offset_iter() {
        let pulldown_cmark::Event::Start(pulldown_cmark::Tag::Link { dest_url, .. }) = event else {
            continue;
        };
        if dest_url.is_empty() {
            continue; // a draft chapter
        }
        chapter(&path, src, &dest_url, line_at(&text, range.start))?;
    }
    Ok(())
}

/// The chapter a link of `summary` (at `line`) names: a file inside `src`, not the summary
/// itself; one that is there is a regular file under the cap. mdBook reads a link as a path,
/// `%20` as a space and nothing else decoded.
pub fn chapter(summary: &Path, src: &Path, href: &str, line: usize) -> Result<PathBuf> {
    let href = href.replace("%20", " ");
    let given = src.join(&href);
    let src = lexical(&std::path::absolute(src).map_err(|e| Error::io(src, e))?);
    let chapter = lexical(&src.join(&href));
    let refuse = |why: &str| Err(Error::input(summary, line, format!("`{href}` {why}")));
    if Path::new(&href).is_absolute() || !chapter.starts_with(&src) {
        return refuse("is outside the book's `src`: mdBook would read (or create) a file there");
    }
    if chapter == src.join("SUMMARY.md") {
        return refuse("is SUMMARY.md itself, not a chapter");
    }
    if chapter.exists() {
        // read as mdBook will read it: a regular file under the cap
        let _ = input::read_text(&chapter, DOCUMENT_CAP, "a chapter")?;
    }
    Ok(given)
}

/// Every entry under `dir` is a regular file or a directory inside `root`, after links.
fn tree(dir: &Path, root: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt as _;
    let mut todo = vec![dir.to_path_buf()];
    let mut seen = HashSet::new();
    while let Some(dir) = todo.pop() {
        let Ok(real) = std::fs::canonicalize(&dir) else {
            continue;
        };
        if !seen.insert(real) {
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io(&dir, e))?;
            let path = e.path();
            let refuse = |why: String| Err(Error::input(&path, 0, why));
            let Ok(real) = std::fs::canonicalize(&path) else {
                return refuse("a link to nothing: mdBook would fail to copy it".into());
            };
            if !real.starts_with(root) {
                return refuse(format!(
                    "a link to {}, outside the book: mdBook would copy it into the site",
                    real.display()
                ));
            }
            let kind = std::fs::metadata(&real)
                .map_err(|e| Error::io(&path, e))?
                .file_type();
            if kind.is_dir() {
                todo.push(path);
            } else if !kind.is_file() {
                let what = if kind.is_fifo() {
                    "a FIFO"
                } else {
                    "a device or a socket"
                };
                return refuse(format!(
                    "{what}: a book holds regular files only (mdBook would block copying it)"
                ));
            }
        }
    }
    Ok(())
}

/// mdBook's `links` preprocessor, with every include checked against the book's confines
/// first (at any depth), read under labrun's cap.
pub struct Links {
    pub confines: Confines,
}

impl Preprocessor for Links {
    fn name(&self) -> &str {
        "links"
    }

    fn run(&self, ctx: &PreprocessorContext, book: Book) -> anyhow::Result<Book> {
        let src = ctx.root.join(&ctx.config.book.src);
        for item in book.iter() {
            if let BookItem::Chapter(ch) = item
                && let Some(rel) = &ch.path
            {
                self.includes(&src.join(rel), &ch.content, 0)?;
            }
        }
        mdbook_driver::builtin_preprocessors::LinkPreprocessor::new().run(ctx, book)
    }

    fn supports_renderer(&self, _renderer: &str) -> anyhow::Result<bool> {
        Ok(true)
    }
}

impl Links {
    /// Check the includes of `text` (the contents of `file`), and theirs.
    fn includes(&self, file: &Path, text: &str, depth: usize) -> Result<()> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Ok(()); // mdBook stops here too, and says so
        }
        let base = file.parent().unwrap_or(Path::new("."));
        for (at, target) in include_targets(text) {
            let line = line_at(text, at);
            let path = lexical(&base.join(target));
            let refuse = |why: String| Err(Error::input(file, line, format!("`{target}` {why}")));
            let Ok(real) = std::fs::canonicalize(&path) else {
                continue; // mdBook says it cannot read it, and leaves the link as text
            };
            if !self.confines.readable.iter().any(|r| real.starts_with(r)) {
                return refuse(format!(
                    "is outside the book ({}): labrun includes only the book's own files \
                     (or those of a directory `include-from` names)",
                    real.display()
                ));
            }
            let included = input::read_text(&path, DOCUMENT_CAP, "an included file")?;
            self.includes(&path, &included, depth + 1)?;
        }
        Ok(())
    }
}

/// The include-like links of a chapter (mdBook's syntax: `{{#include PATH[:RANGE]}}`, a
/// backslash before it escapes it), each with its byte offset and the path it names.
fn include_targets(text: &str) -> Vec<(usize, &str)> {
    static LINK: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\\?\{\{\s*#(include|rustdoc_include|playground|playpen)\s+([^}]+)\}\}")
            .expect("a valid pattern")
    });
    LINK.captures_iter(text)
        .filter(|c| !c[0].starts_with('\\'))
        .filter_map(|c| {
            let args = c.get(2)?;
            let first = args.as_str().split_whitespace().next()?;
            let path = first.split(':').next().unwrap_or(first);
            Some((c.get(0)?.start(), path))
        })
        .collect()
}

/// `path` with `.` and `..` taken out by their text alone.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` with its links followed, as far as it exists (the rest kept as written).
fn resolved(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut at = path.to_path_buf();
    loop {
        if let Ok(real) = std::fs::canonicalize(&at) {
            return missing.iter().rev().fold(real, |p, m| p.join(m));
        }
        match (at.file_name().map(ToOwned::to_owned), at.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                at = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

fn line_at(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_are_found_as_mdbook_finds_them() {
        let text = "a {{#include x.rs}}\n\\{{#include esc.rs}} {{ #rustdoc_include ../y.rs:2:5 }}\n\
                    {{#playground p.rs editable}} {{#title T}}";
        let found: Vec<_> = include_targets(text).into_iter().map(|(_, p)| p).collect();
        assert_eq!(found, ["x.rs", "../y.rs", "p.rs"]);
    }

    #[test]
    fn dot_segments_are_taken_out_by_text() {
        assert_eq!(lexical(Path::new("/b/src/../../x")), PathBuf::from("/x"));
        assert_eq!(
            lexical(Path::new("/b/./src/a.md")),
            PathBuf::from("/b/src/a.md")
        );
    }
}
