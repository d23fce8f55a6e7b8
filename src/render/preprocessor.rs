//! labrun as an mdBook preprocessor.
//!
//! In: mdBook's book (chapters' sources) and `[preprocessor.labrun]` from `book.toml`. Out:
//! the same book with AsciiDoc chapters converted to Markdown, every step annotated with what
//! its chapter's recorded run found (or, `mode = "live"`, what running it now finds), a
//! summary on top of each chapter, and a summary page for the whole book. `labrun build`
//! registers [`Labrun`] in-process; `labrun preprocess` speaks mdBook's protocol for
//! `mdbook build` (`supports <renderer>`, book JSON in and out).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mdbook_preprocessor::book::{Book, BookItem, Chapter};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use serde::Deserialize;

use super::annotate::{self, ChapterView, RunInfo};
use crate::config::Config;
use crate::normalize::{Normalizer, UserMask};
use crate::record::StepRecord;
use crate::steps::Step;

/// Where the annotations come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// From each chapter's recorded run.
    #[default]
    Replay,
    /// Run each chapter now, with the local backend.
    Live,
    /// No annotations (AsciiDoc chapters are still converted).
    Off,
}

/// `[preprocessor.labrun]`. Unknown keys are an error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    // mdBook's own keys for every preprocessor.
    pub command: Option<String>,
    pub renderers: Option<Vec<String>>,
    pub before: Option<Vec<String>>,
    pub after: Option<Vec<String>>,
    pub optional: Option<bool>,
    // labrun's.
    #[serde(default)]
    pub mode: Mode,
    /// `mode = "live"` in book.toml runs every chapter's commands on the machine that builds
    /// the book; it takes effect only with `confirm-live = true` beside it (or `--mode live`
    /// on the command line).
    #[serde(default)]
    pub confirm_live: bool,
    /// Directories (relative to the book) whose files chapters may include, besides the
    /// book's own.
    #[serde(default)]
    pub include_from: Vec<String>,
    /// Which run to replay: `committed` (the run accepted next to the snapshot, the default),
    /// `last` (the newest run under `target/labrun`), or a path relative to the book.
    pub run: Option<String>,
    /// Fail the build when a step drifted.
    #[serde(default)]
    pub fail_on_drift: bool,
    /// Add the book-level summary page (default true).
    pub summary: Option<bool>,
    /// Live mode: the per-step timeout (`30s`, `2m`).
    pub timeout: Option<String>,
    /// Live mode: run the whole build in network and mount namespaces of its own (as
    /// `labrun run --netns`), so chapters that build networks never touch the host's.
    #[serde(default)]
    pub netns: bool,
    /// Masks added to every chapter's.
    #[serde(default, rename = "mask")]
    pub masks: Vec<UserMask>,
}

/// The build failed because steps drifted and `fail-on-drift` is set.
#[derive(Debug, thiserror::Error)]
#[error("labrun: steps drifted (fail-on-drift): {0}")]
pub struct Drifted(pub String);

/// The preprocessor.
#[derive(Debug, Default)]
pub struct Labrun {
    /// Options given directly (by `labrun build`), overriding `book.toml`'s.
    pub overrides: Option<Options>,
}

impl Preprocessor for Labrun {
    fn name(&self) -> &str {
        "labrun"
    }

    fn supports_renderer(&self, _renderer: &str) -> mdbook_preprocessor::errors::Result<bool> {
        // The annotations are HTML, which mdBook's Markdown-based renderers carry through.
        Ok(true)
    }

    fn run(
        &self,
        ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_preprocessor::errors::Result<Book> {
        let opts = match &self.overrides {
            Some(o) => o.clone(),
            None => options(ctx)?,
        };
        let src = ctx.root.join(&ctx.config.book.src);
        let mut rows = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let mut drifted: Vec<String> = Vec::new();
        book.for_each_chapter_mut(|ch| match chapter(&ctx.root, &src, ch, &opts) {
            Ok(Some((counts, run))) => {
                if counts[1] > 0 {
                    drifted.push(format!("{} ({} drifted)", ch.name, counts[1]));
                }
                let link = ch
                    .path
                    .as_ref()
                    .map(|p| p.with_extension("html").display().to_string())
                    .unwrap_or_default();
                rows.push((ch.name.clone(), link, counts, run));
            }
            Ok(None) => {}
            Err(e) => errors.push(format!("{e:#}")),
        });
        if !errors.is_empty() {
            anyhow::bail!("labrun: {}", errors.join("\nlabrun: "));
        }
        if opts.fail_on_drift && !drifted.is_empty() {
            return Err(anyhow::Error::new(Drifted(drifted.join(", "))));
        }
        if opts.summary.unwrap_or(true) && opts.mode != Mode::Off && !rows.is_empty() {
            let page = annotate::book(&rows);
            let mut ch = Chapter::new("Verification summary", page, "labrun-summary.md", vec![]);
            ch.source_path = None;
            book.push_item(BookItem::Chapter(ch));
        }
        Ok(book)
    }
}

/// `[preprocessor.labrun]` from the book's configuration.
pub fn options(ctx: &PreprocessorContext) -> anyhow::Result<Options> {
    let o: Option<Options> = ctx
        .config
        .get("preprocessor.labrun")
        .map_err(|e| anyhow::anyhow!("book.toml [preprocessor.labrun]: {e:#}"))?;
    let o = o.unwrap_or_default();
    live_confirmed(&o, &ctx.root.join("book.toml"))?;
    Ok(o)
}

/// Refuse `mode = "live"` from book.toml without `confirm-live = true`: a book from
/// someone else must not run its commands on a plain build.
pub fn live_confirmed(o: &Options, book_toml: &Path) -> crate::error::Result<()> {
    if o.mode == Mode::Live && !o.confirm_live {
        let line = crate::input::read_text(book_toml, crate::input::CONFIG_CAP, "book.toml")
            .ok()
            .and_then(|t| {
                t.lines()
                    .position(|l| l.trim_start().starts_with("mode") && l.contains("live"))
            })
            .map_or(0, |i| i + 1);
        return Err(crate::error::Error::input(
            book_toml,
            line,
            "`mode = \"live\"` runs every chapter's commands on this machine: add \
             `confirm-live = true` beside it, or pass --mode live",
        ));
    }
    Ok(())
}

/// Convert and annotate one chapter in place. Returns its counts and run when it has steps.
fn chapter(
    book_root: &Path,
    src: &Path,
    ch: &mut Chapter,
    opts: &Options,
) -> anyhow::Result<Shown> {
    let Some(rel) = ch.path.clone() else {
        return Ok(None);
    };
    let path = src.join(&rel);
    let is_adoc = crate::document::format_for(&path).is_ok_and(|_| {
        matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("adoc" | "asciidoc" | "asc")
        )
    });
    let is_md = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("md" | "markdown")
    );
    if !is_adoc && !is_md {
        return Ok(None);
    }
    if ch.content.trim().is_empty() {
        return Ok(None);
    }
    let name = ch.name.clone();
    let (content, shown) = if is_adoc {
        // One parse: the document stage and the converter share the AST.
        crate::document::parse_asciidoc_with_ast(&path, ch.content.clone(), |doc, ast| {
            Ok(annotated(book_root, &path, doc, opts, &mut |doc, hook| {
                super::asciidoc::from_ast(doc, ast, &name, hook)
            }))
        })??
    } else {
        let doc = crate::document::parse(&path, ch.content.clone())?;
        annotated(book_root, &path, &doc, opts, &mut |doc, hook| {
            annotate_markdown(doc, hook)
        })?
    };
    ch.content = content;
    Ok(shown)
}

/// Turns a document into Markdown, inserting the hook's text after each code block.
type Writer<'w> =
    dyn FnMut(&crate::document::Document, &mut dyn FnMut(usize) -> String) -> String + 'w;

/// A chapter's counts and run, when it has steps.
type Shown = Option<([usize; 5], Option<RunInfo>)>;

/// A chapter's Markdown with its annotations (`write` turns the document into Markdown with
/// the hook's text after each code block), and what [`Shown`] says of it.
fn annotated(
    book_root: &Path,
    path: &Path,
    doc: &crate::document::Document,
    opts: &Options,
    write: &mut Writer,
) -> anyhow::Result<(String, Shown)> {
    let path = path.to_path_buf();
    let steps = crate::steps::split(doc);
    if opts.mode == Mode::Off || steps.is_empty() {
        return Ok((write(doc, &mut |_| String::new()), None));
    }
    let config = Config::for_document(&path)?;
    let mut masks = config.masks.clone();
    masks.extend(opts.masks.iter().cloned());
    let norm = Normalizer::new(&masks)
        .map_err(|m| anyhow::anyhow!("{}: {m}", config.root.join("labrun.toml").display()))?;
    let snapshot_path = config.snapshot_path(&path);
    let snapshot_path = config.legacy_snapshot(&path).unwrap_or(snapshot_path);
    let snapshot = crate::snapshot::load(&snapshot_path)?;
    let shown_path = path
        .strip_prefix(&config.root)
        .unwrap_or(&path)
        .display()
        .to_string();
    let mut view = ChapterView {
        document: shown_path.clone(),
        verify: verify_command(&shown_path, &steps),
        ..Default::default()
    };
    let records: Option<(Vec<StepRecord>, String)> = match opts.mode {
        Mode::Replay => {
            let file = run_file(
                book_root,
                &config,
                &path,
                &snapshot_path,
                snapshot.as_ref(),
                opts,
            )?;
            match file {
                Some(f) if f.is_file() => Some((
                    crate::record::read(&f)?,
                    f.strip_prefix(&config.root)
                        .unwrap_or(&f)
                        .display()
                        .to_string(),
                )),
                _ => None,
            }
        }
        Mode::Live => {
            let (records, note) = live(&path, &config, opts)?;
            view.note = note;
            Some((records, "this build (live)".to_string()))
        }
        Mode::Off => None,
    };
    // With no run, every step is checked against nothing: not run, or not yet verified when
    // its printed output was never observed.
    let (records, file) = records.unwrap_or_default();
    let report = crate::check::check(
        Path::new(&file),
        &steps,
        &records,
        snapshot.as_ref(),
        &norm,
        Default::default(),
    )?;
    if !file.is_empty() {
        view.run = Some(RunInfo {
            file,
            at: records.iter().find_map(|r| r.at.clone()),
            versions: records.iter().find_map(|r| r.versions.clone()),
            live: !records.is_empty() && records.iter().all(StepRecord::is_live),
            now: matches!(opts.mode, Mode::Live),
        });
    }
    view.verdicts = report
        .verdicts
        .into_iter()
        .map(|v| (v.id.clone(), v))
        .collect();
    view.records = records.into_iter().map(|r| (r.step.clone(), r)).collect();
    let mut by_block: HashMap<usize, Vec<&Step>> = HashMap::new();
    for s in &steps {
        by_block.entry(s.block).or_default().push(s);
    }
    let mut hook = |i: usize| match by_block.get(&i) {
        Some(ss) => annotate::block(&view, ss, &norm),
        None => String::new(),
    };
    let body = write(doc, &mut hook);
    let summary = format!(
        "{}\n{}\n",
        annotate::STYLE,
        annotate::chapter(&view, &steps)
    );
    let counts = annotate::counts(&view, &steps);
    Ok((
        after_title(&body, &summary),
        Some((counts, view.run.clone())),
    ))
}

/// The run to replay for a chapter.
fn run_file(
    book_root: &Path,
    config: &Config,
    doc: &Path,
    snapshot_path: &Path,
    snapshot: Option<&crate::snapshot::Snapshot>,
    opts: &Options,
) -> crate::error::Result<Option<PathBuf>> {
    Ok(match opts.run.as_deref().unwrap_or("committed") {
        "committed" => crate::snapshot::committed_run_checked(snapshot_path, snapshot)?,
        "last" => Some(config.run_dir(doc).join("last.jsonl")),
        other => {
            // a run named on purpose that is not there is a mistake, not a book with no run
            let file = book_root.join(other);
            if !file.is_file() {
                return Err(crate::error::Error::input(
                    &file,
                    0,
                    format!(
                        "--run {other}: no such run file (a path is read from the book's directory)"
                    ),
                ));
            }
            Some(file)
        }
    })
}

/// The command a reader would use to verify a chapter.
fn verify_command(doc: &str, steps: &[Step]) -> String {
    let cluster = steps
        .iter()
        .any(|s| crate::policy::reaches_clusters(&s.command));
    let netns = steps.iter().any(|s| s.command.starts_with("ip netns"));
    if cluster {
        format!("labrun run {doc} --backend kind")
    } else if netns {
        format!("labrun run {doc} --netns")
    } else {
        format!("labrun run {doc}")
    }
}

/// Run a chapter now with the local backend. A refusal or an error of the run becomes a note
/// on the chapter, with the steps that did run.
fn live(
    path: &Path,
    config: &Config,
    opts: &Options,
) -> anyhow::Result<(Vec<StepRecord>, Option<String>)> {
    let lab = crate::lab::Lab::open(path)?;
    let (timeout, retry) = config.durations()?;
    let timeout = match &opts.timeout {
        Some(t) => {
            crate::directive::parse_duration(t).map_err(|m| anyhow::anyhow!("timeout: {m}"))?
        }
        None => timeout,
    };
    let request = crate::run::document::Request {
        via: crate::run::document::Via::Local,
        sandboxing: crate::execute::Sandboxing::from_config(config, opts.netns),
        options: crate::run::Options {
            timeout,
            retry,
            ..Default::default()
        },
        wait: true,
    };
    // the same run as `labrun run`'s: its file appended as steps end, its workspace locked
    let done = match crate::run::document::document(&lab, path, &request, &mut |_| {}) {
        Ok(done) => done,
        // the sandbox or the runtime could not start: a note, as a run that stopped
        Err(e) => return Ok((Vec::new(), Some(format!("the live run stopped: {e:#}")))),
    };
    let mut notes: Vec<String> = done.warnings;
    if let Some(e) = done.failed {
        notes.insert(0, format!("the live run stopped: {e}"));
    }
    if done.interrupted.is_some() {
        notes.insert(0, "the live run was interrupted".to_string());
    }
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    let records = done.records;
    Ok((records, note))
}

/// Insert `extra(i)` after the code block `doc.blocks[i]` of a Markdown document.
fn annotate_markdown(
    doc: &crate::document::Document,
    extra: &mut dyn FnMut(usize) -> String,
) -> String {
    let lines: Vec<&str> = doc.source.split_inclusive('\n').collect();
    // 0-based index of the last line of each block (its closing fence when fenced).
    let mut after: HashMap<usize, usize> = HashMap::new();
    for (i, b) in doc.blocks.iter().enumerate() {
        let content = b.raw.lines().count();
        let next = b.line - 1 + content; // 0-based line after the content
        let fenced = lines.get(next).is_some_and(|l| {
            let t = l.trim_start();
            t.starts_with("```") || t.starts_with("~~~")
        });
        let last = if fenced { next } else { next.saturating_sub(1) };
        after.insert(last, i);
    }
    let mut out = String::with_capacity(doc.source.len());
    for (n, line) in lines.iter().enumerate() {
        out.push_str(line);
        if let Some(&i) = after.get(&n) {
            let text = extra(i);
            if !text.is_empty() {
                if !line.ends_with('\n') {
                    out.push('\n');
                }
                out.push('\n');
                out.push_str(text.trim_end());
                out.push_str("\n\n");
            }
        }
    }
    out
}

/// `extra` placed right after the page's first `# ` heading (or at the top).
fn after_title(body: &str, extra: &str) -> String {
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        if line.starts_with("# ") {
            let end = offset + line.len();
            return format!("{}\n{}\n{}", &body[..end], extra.trim_end(), &body[end..]);
        }
        offset += line.len();
    }
    format!("{}\n\n{body}", extra.trim_end())
}
