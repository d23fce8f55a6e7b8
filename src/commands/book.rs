//! `labrun build` (the book through mdbook-driver, the preprocessor registered in-process) and
//! `labrun preprocess` (mdBook's preprocessor protocol).

use anyhow::Context;
use labrun::error::{Error, ExitCode};

use crate::{BuildMode, Supports};

pub(crate) fn build(
    book: &std::path::Path,
    mode: Option<BuildMode>,
    run: Option<String>,
    fail_on_drift: bool,
) -> anyhow::Result<ExitCode> {
    use labrun::render::preprocessor::{Drifted, Labrun, Mode, Options};
    if !book.join("book.toml").is_file() {
        return Err(Error::input(
            book.join("book.toml"),
            0,
            "no book.toml: not an mdBook book",
        )
        .into());
    }
    let mut md = mdbook_driver::MDBook::load(book)
        .map_err(|e| anyhow::anyhow!("loading the book {}: {e:#}", book.display()))?;
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
    match md.build() {
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
        Err(e) => Err(anyhow::anyhow!("building {}: {e:#}", book.display())),
    }
}

pub(crate) fn preprocess(supports: Option<Supports>) -> anyhow::Result<ExitCode> {
    use mdbook_preprocessor::Preprocessor as _;
    let pre = labrun::render::preprocessor::Labrun::default();
    if let Some(Supports::Supports { renderer }) = supports {
        return Ok(if pre.supports_renderer(&renderer).unwrap_or(false) {
            ExitCode::Success
        } else {
            ExitCode::StepsFailed
        });
    }
    let (ctx, book) = mdbook_preprocessor::parse_input(std::io::stdin().lock())
        .map_err(|e| anyhow::anyhow!("reading mdBook's input: {e:#}"))?;
    // the options checked before any chapter is read
    labrun::render::preprocessor::options(&ctx)?;
    let book = pre.run(&ctx, book).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    serde_json::to_writer(std::io::stdout().lock(), &book).context("writing the book")?;
    Ok(ExitCode::Success)
}
