//! `labrun build` (the book through mdbook-driver, the preprocessor registered in-process) and
//! `labrun preprocess` (mdBook's preprocessor protocol).

use std::path::Path;

use crate::error::{Error, ExitCode};
use anyhow::Context;

use super::{BuildMode, Supports};

pub fn build(
    book: &std::path::Path,
    mode: Option<BuildMode>,
    run: Option<String>,
    fail_on_drift: bool,
    allow_programs: bool,
) -> anyhow::Result<ExitCode> {
    use crate::render::preprocessor::{Drifted, Labrun, Mode, Options};
    if !book.join("book.toml").is_file() {
        let found = books_near(Path::new("."));
        let hint = match found.as_slice() {
            [] => String::new(),
            some => format!(
                "; books here: {}",
                some.iter()
                    .map(|b| format!("`labrun build {}`", b.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Err(Error::input(
            book.join("book.toml"),
            0,
            format!("no book.toml: not an mdBook book{hint}"),
        )
        .into());
    }
    // before mdBook reads a file of the book: what it would read, write or run stays inside
    let confines = crate::render::confine::check(book, allow_programs)?;
    let mut md = mdbook_driver::MDBook::load(book)
        .map_err(|e| Error::input(book, 0, format!("mdBook cannot load this book: {e:#}")))?;
    let mut opts: Options = md
        .config
        .get("preprocessor.labrun")
        .map_err(|e| {
            Error::input(
                book.join("book.toml"),
                0,
                format!("[preprocessor.labrun]: {e:#}"),
            )
        })?
        .unwrap_or_default();
    if mode.is_none() {
        crate::render::preprocessor::live_confirmed(&opts, &book.join("book.toml"))?;
    }
    if let Some(m) = mode {
        opts.mode = match m {
            BuildMode::Replay => Mode::Replay,
            BuildMode::Live => Mode::Live,
            BuildMode::Off => Mode::Off,
        };
    }
    if run.is_some() {
        opts.run = run;
    }
    opts.fail_on_drift |= fail_on_drift;
    md.with_preprocessor(Labrun {
        overrides: Some(opts),
    });
    if md.config.build.use_default_preprocessors {
        // in place of mdBook's own: the same includes, each checked against the confines
        md.with_preprocessor(crate::render::confine::Links { confines });
    }
    let built = md.build();
    // mdBook copies every file of the source it does not render: an AsciiDoc chapter's raw
    // source would be published beside its page
    drop_asciidoc_sources(&md.source_dir(), &md.build_dir_for("html"));
    match built {
        Ok(()) => {
            eprintln!(
                "labrun: book written to {}",
                md.build_dir_for("html").display()
            );
            Ok(ExitCode::Success)
        }
        Err(e) if e.chain().any(|c| c.downcast_ref::<Drifted>().is_some()) => {
            eprintln!("{e:#}");
            Ok(ExitCode::StepsFailed)
        }
        // the machine refused a write (a full disk): not the book's fault (exit 5)
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(crate::error::is_write_failure)
            }) =>
        {
            Err(anyhow::anyhow!("building {}: {e:#}", book.display()))
        }
        Err(e) => Err(Error::input(book, 0, format!("mdBook could not build it: {e:#}")).into()),
    }
}

/// Directories holding a `book.toml` at most two levels under `dir` (not under `target/` or
/// hidden ones), sorted: what `labrun build` suggests when its book is not one.
fn books_near(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut level = vec![dir.to_path_buf()];
    for _ in 0..2 {
        let mut next = Vec::new();
        for d in level {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if !e.file_type().is_ok_and(|t| t.is_dir())
                    || name.starts_with('.')
                    || name == "target"
                {
                    continue;
                }
                let path = e.path();
                if path.join("book.toml").is_file() {
                    found.push(path.strip_prefix(dir).unwrap_or(&path).to_path_buf());
                }
                next.push(path);
            }
        }
        level = next;
    }
    found.sort();
    found
}

/// Remove from the HTML output the AsciiDoc files of the book's source (chapters labrun
/// rendered to pages), so the site holds the pages, not their raw sources.
fn drop_asciidoc_sources(src: &std::path::Path, out: &std::path::Path) {
    let mut todo = vec![src.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(path),
                Ok(t) if t.is_file() => {
                    let adoc = path
                        .extension()
                        .is_some_and(|x| x == "adoc" || x == "asciidoc" || x == "asc");
                    if adoc && let Ok(rel) = path.strip_prefix(src) {
                        let _ = std::fs::remove_file(out.join(rel));
                    }
                }
                _ => {}
            }
        }
    }
}

pub fn preprocess(supports: Option<Supports>) -> anyhow::Result<ExitCode> {
    use mdbook_preprocessor::Preprocessor as _;
    let pre = crate::render::preprocessor::Labrun::default();
    if let Some(Supports::Supports { renderer }) = supports {
        return Ok(if pre.supports_renderer(&renderer).unwrap_or(false) {
            ExitCode::Success
        } else {
            ExitCode::StepsFailed
        });
    }
    let (ctx, book) = mdbook_preprocessor::parse_input(std::io::stdin().lock())
        .map_err(|e| Error::input("<mdBook's input>", 0, format!("{e:#}")))?;
    // the options checked before any chapter is read
    crate::render::preprocessor::options(&ctx)?;
    let book = pre.run(&ctx, book).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    serde_json::to_writer(std::io::stdout().lock(), &book).context("writing the book")?;
    Ok(ExitCode::Success)
}
