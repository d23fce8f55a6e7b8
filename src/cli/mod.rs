//! The `labrun` command line as a library: the arguments (clap), and what each command does
//! with the stages. In: a parsed [`Cli`]. Out: the exit code it means, or the error that
//! stopped it. `src/main.rs` is a thin shell around [`execute`]: tests call it in-process.

use std::io::{Read, Write};
use std::path::PathBuf;

use crate::error::{Error, ExitCode};
use crate::lab::Lab;
use crate::normalize::{Labels, Normalizer};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

pub mod book;
pub mod kind;
pub mod run;
pub mod snapshot;
pub mod suite;

#[derive(Parser)]
#[command(
    name = "labrun",
    version,
    about = "Run tutorials and keep their printed output true"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
    Junit,
    Github,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum BackendName {
    Local,
    Kind,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum BuildMode {
    Replay,
    Live,
    Off,
}

#[derive(Subcommand)]
pub enum ClusterAction {
    /// Create it with the lab's own `kind create cluster` command.
    Up { path: PathBuf },
    /// Delete it.
    Down { path: PathBuf },
    /// Its node containers and whether labrun's context points at it.
    Status { path: PathBuf },
}

#[derive(Subcommand)]
pub enum ReportAction {
    /// Combine the JSON reports of shards into the report one unsharded run would print.
    Merge {
        /// Reports written by `labrun run … --format json`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: ReportFormat,
    },
}

#[derive(Subcommand)]
pub enum Supports {
    /// Exit 0 when the renderer is supported.
    Supports { renderer: String },
}

#[derive(Subcommand)]
pub enum Command {
    /// Execute documents' steps for real, record each run, and check it: one document, several,
    /// a directory of them, or a book (its SUMMARY.md chapters, in order).
    Run(run::RunArgs),
    /// Reports of several runs (shards of a CI matrix) combined.
    Report {
        #[command(subcommand)]
        action: ReportAction,
    },
    /// Build the book with mdBook, in-process, each step annotated (the main job).
    Build {
        /// The book's directory (holding book.toml).
        #[arg(default_value = "book")]
        book: PathBuf,
        /// Where annotations come from (default: book.toml's, else replay).
        #[arg(long, value_enum)]
        mode: Option<BuildMode>,
        /// Which run to replay: committed (default), last, or a path relative to the book.
        #[arg(long)]
        run: Option<String>,
        /// Fail (exit 1) when a step drifted.
        #[arg(long)]
        fail_on_drift: bool,
        /// Run the preprocessors and renderers book.toml names (mdBook runs their commands);
        /// without it such a book is refused.
        #[arg(long)]
        allow_book_programs: bool,
    },
    /// mdBook's preprocessor protocol (`[preprocessor.labrun] command = "labrun preprocess"`).
    Preprocess {
        #[command(subcommand)]
        supports: Option<Supports>,
    },
    /// Check a recorded run against the snapshots (or the document's printed output).
    Check {
        path: PathBuf,
        /// The recorded run (JSON Lines) to check (default: the document's last run).
        #[arg(long)]
        replay: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: ReportFormat,
        /// Not-run steps and stale prose fail too.
        #[arg(long)]
        strict: bool,
        /// A step whose printed output disagrees with the accepted snapshot passes, with a
        /// warning (by default it fails: the document is what readers see).
        #[arg(long)]
        allow_doc_drift: bool,
    },
    /// Accept outputs into the document's snapshot.
    Accept {
        path: PathBuf,
        /// From a recorded run (default: the document's last run).
        #[arg(long, conflicts_with = "from_doc")]
        replay: Option<PathBuf>,
        /// From the outputs printed in the document (marked not yet verified).
        #[arg(long)]
        from_doc: bool,
    },
    /// Walk the pending snapshot entries of a document: accept, reject or skip each (with
    /// `--replay`, promote it into the document too).
    Review {
        path: PathBuf,
        /// The run the pending entries came from: offers to promote an entry into the
        /// document as well.
        #[arg(long)]
        replay: Option<PathBuf>,
    },
    /// Write a run's output into the document where it drifted, keeping the author's values.
    Promote {
        path: PathBuf,
        /// The recorded run to promote (default: the document's last run, unless
        /// `--from-snapshot`).
        #[arg(long, conflicts_with = "from_snapshot")]
        replay: Option<PathBuf>,
        /// The live run kept beside the document's snapshot (`labrun accept`).
        #[arg(long)]
        from_snapshot: bool,
        /// Only these steps (repeatable).
        #[arg(long = "step", value_name = "ID")]
        steps: Vec<String>,
        /// Print the change as a unified diff and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a text (a file or standard input) as labrun sees it after masking.
    Normalize {
        /// Use the masks of this document's configuration.
        #[arg(long)]
        doc: Option<PathBuf>,
        /// The command that printed the text (some masks apply only after some commands).
        #[arg(long, default_value = "")]
        command: String,
        file: Option<PathBuf>,
    },
    /// Check what a backend needs on this machine, and the isolation its runs get: bash and
    /// the sandbox (local), iproute2 (--netns), Docker, kind, kubectl, the cluster (kind).
    Doctor {
        /// The document whose cluster and kubeconfig to look at (kind).
        path: Option<PathBuf>,
        /// The backend to check.
        #[arg(long, value_enum, default_value = "local")]
        backend: BackendName,
        /// Check a run in a network namespace of its own.
        #[arg(long)]
        netns: bool,
    },
    /// The document's kind cluster outside a run (labrun's own kubeconfig).
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// List the executable steps of a document.
    List {
        /// An AsciiDoc (.adoc) or Markdown (.md) document.
        path: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: ListFormat,
        /// Every line of every code block with its role and the rule that decided it.
        #[arg(long)]
        explain: bool,
    },
}

/// Do what `cli` asks: the exit code it means, or the error that stopped it (its exit code is
/// [`crate::error::exit_code_of`]).
pub fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::List {
            path,
            format,
            explain,
        } => {
            let doc = crate::document::load(&path)?;
            let steps = crate::steps::split_checked(&doc)?;
            crate::list::warnings(&doc, &steps, &mut std::io::stderr().lock())
                .context("writing warnings")?;
            let mut out = std::io::stdout().lock();
            match (format, explain) {
                (ListFormat::Json, false) => crate::list::json(&doc, &steps, &mut out),
                (ListFormat::Human, false) => crate::list::human(&doc, &steps, &mut out),
                (ListFormat::Json, true) => {
                    crate::list::explain_json(&doc, &crate::steps::explain(&doc), &mut out)
                }
                (ListFormat::Human, true) => {
                    crate::list::explain(&doc, &crate::steps::explain(&doc), &mut out)
                }
            }
            .context("writing the listing")?;
            out.flush().ok();
            Ok(ExitCode::Success)
        }
        Command::Check {
            path,
            replay,
            format,
            strict,
            allow_doc_drift,
        } => {
            let replay = match replay {
                Some(r) => r,
                None => last_run(&path)?,
            };
            // the run file is read while the document opens; the document's errors come first
            let (lab, records) = std::thread::scope(|scope| {
                let records = scope.spawn(|| crate::record::read(&replay));
                let lab = Lab::open(&path);
                let records = records
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e));
                (lab, records)
            });
            let lab = lab?;
            crate::list::warnings(&lab.doc, &lab.steps, &mut std::io::stderr().lock()).ok();
            let records = records?;
            check_and_report(
                &lab,
                &path,
                &replay,
                &records,
                format,
                (strict, allow_doc_drift),
                None,
            )
        }
        Command::Accept {
            path,
            replay,
            from_doc,
        } => {
            let replay = match (replay, from_doc) {
                (None, false) => Some(last_run(&path)?),
                (r, _) => r,
            };
            snapshot::accept(&path, replay.as_deref(), from_doc)
        }
        Command::Review { path, replay } => snapshot::review(&path, replay.as_deref()),
        Command::Promote {
            path,
            replay,
            from_snapshot,
            steps,
            dry_run,
        } => {
            let replay = match (replay, from_snapshot) {
                (None, false) => Some(last_run(&path)?),
                (r, _) => r,
            };
            snapshot::promote(&path, replay, &steps, dry_run)
        }
        Command::Build {
            book,
            mode,
            run,
            fail_on_drift,
            allow_book_programs,
        } => book::build(&book, mode, run, fail_on_drift, allow_book_programs),
        Command::Preprocess { supports } => book::preprocess(supports),
        Command::Doctor {
            path,
            backend,
            netns,
        } => kind::doctor(path.as_deref(), backend, netns),
        Command::Cluster { action } => kind::cluster(action),
        Command::Run(args) => suite::run(args),
        Command::Report {
            action: ReportAction::Merge { files, format },
        } => suite::merge(&files, format),
        Command::Normalize { doc, command, file } => {
            let norm = match doc {
                Some(d) => Lab::open(&d)?.norm,
                None => Normalizer::default(),
            };
            let (name, input) = match file {
                Some(f) => {
                    let opened = crate::input::open(&f)?;
                    (f, opened)
                }
                None => {
                    use std::os::fd::AsFd as _;
                    let stdin = std::io::stdin().as_fd().try_clone_to_owned();
                    let name = PathBuf::from("<stdin>");
                    let fd = stdin.map_err(|e| Error::io(&name, e))?;
                    (name, std::fs::File::from(fd))
                }
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            normalize_stream(&norm, &command, &name, input, &mut out)?;
            out.flush()?;
            Ok(ExitCode::Success)
        }
    }
}

/// `labrun normalize`: the text read 4 096 lines at a time, so memory stays flat however long
/// the input; placeholder numbering spans the whole text. A line longer than a run record may
/// be, or one that is not UTF-8, is an error at its line.
fn normalize_stream(
    norm: &Normalizer,
    command: &str,
    name: &std::path::Path,
    input: std::fs::File,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // One thread reads and masks chunk after chunk; this one numbers and writes them, so
    // that writing one chunk and masking the next go on side by side.
    let (send, receive) =
        std::sync::mpsc::sync_channel::<anyhow::Result<Vec<crate::normalize::Line>>>(1);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let read = read_chunks(name, input, |chunk| {
                send.send(Ok(norm.lines(chunk, command))).is_ok()
            });
            if let Err(e) = read {
                let _ = send.send(Err(e));
            }
        });
        let mut labels = Labels::default();
        for lines in receive {
            writeln!(out, "{}", norm.render(&lines?, &mut labels))?;
            // a chunk is out as soon as it is masked: whoever reads the pipe sees it now
            out.flush()?;
        }
        Ok(())
    })
}

/// Lines `normalize` reads before masking them: enough to share among cores, few enough
/// that memory stays small and output flows (a chunk is a few megabytes at most).
const CHUNK_LINES: usize = 16_384;

/// Read `input` in chunks of whole lines, each checked for its length and its UTF-8, and hand
/// each to `each` until it returns false. A chunk ends at [`CHUNK_LINES`] lines, at the end of
/// the input, or when everything read so far is a whole line and nothing more is waiting (a
/// pipe whose writer pauses: what it wrote comes out now, not when the chunk fills).
fn read_chunks(
    name: &std::path::Path,
    input: std::fs::File,
    mut each: impl FnMut(&str) -> bool,
) -> anyhow::Result<()> {
    use std::io::BufRead as _;
    let waiting = |file: &std::fs::File| {
        use nix::poll::{PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd as _;
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        // an error here is not the input's: take it as "more may come" and read on
        nix::poll::poll(&mut fds, PollTimeout::ZERO).map_or(true, |n| n > 0)
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, input);
    let (mut chunk, mut line) = (String::new(), Vec::new());
    let (mut n, mut in_chunk) = (0usize, 0usize);
    loop {
        line.clear();
        let read = (&mut reader)
            .take(crate::input::RECORD_CAP + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(name, e))?;
        if read > 0 {
            n += 1;
            if line.len() as u64 > crate::input::RECORD_CAP {
                return Err(Error::input(name, n, "a line longer than 256 MiB").into());
            }
            let text = std::str::from_utf8(&line).map_err(|e| {
                Error::input(
                    name,
                    n,
                    format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to()),
                )
            })?;
            chunk.push_str(text);
            in_chunk += 1;
        }
        let paused = read > 0 && reader.buffer().is_empty() && !waiting(reader.get_ref());
        if (read == 0 && in_chunk > 0) || in_chunk == CHUNK_LINES || (paused && in_chunk > 0) {
            if !each(&chunk) {
                return Ok(());
            }
            chunk.clear();
            in_chunk = 0;
        }
        if read == 0 {
            return Ok(());
        }
    }
}

/// The document's last run (`target/labrun/<key>/last.jsonl`), the default of `--replay`.
fn last_run(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    let config = crate::config::Config::for_document(path)?;
    let last = config.run_dir(path).join("last.jsonl");
    if !last.is_file() {
        return Err(Error::input(
            path,
            0,
            format!(
                "no run of this document yet ({} is not there): run `labrun run {}` first, or name a run with --replay",
                last.display(),
                path.display()
            ),
        )
        .into());
    }
    Ok(last)
}

pub fn check_and_report(
    lab: &Lab,
    path: &std::path::Path,
    run_file: &std::path::Path,
    records: &[crate::record::StepRecord],
    format: ReportFormat,
    (strict, allow_doc_drift): (bool, bool),
    doc_report: Option<(&std::path::Path, usize)>,
) -> anyhow::Result<ExitCode> {
    let mut report = crate::check::check(
        run_file,
        &lab.steps,
        records,
        lab.snapshot.as_ref(),
        &lab.norm,
        crate::check::Options {
            strict,
            skip_pending: !crate::snapshot::may_write_pending(),
            allow_doc_drift,
        },
    )?;
    emit(&report, format, path)?;
    if let Some((file, index)) = doc_report {
        let d = crate::suite::DocReport::of(&report, &path.display().to_string(), index, strict);
        let text = serde_json::to_string(&d).context("writing the document's report")?;
        crate::record::write_atomic(file, text.as_bytes())?;
    }
    let failed = report.failed(strict);
    // last, as it takes the pending entries out of the report (not a copy of a large output)
    snapshot::write_pending(lab, &mut report);
    Ok(if failed {
        ExitCode::StepsFailed
    } else {
        ExitCode::Success
    })
}

fn emit(
    report: &crate::check::Report,
    format: ReportFormat,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let doc = path.display().to_string();
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Human => {
            let colour = crate::report::colour_for(std::io::stdout().is_terminal());
            crate::report::human(report, colour, &mut out)?
        }
        ReportFormat::Json => crate::report::json(report, &mut out)?,
        ReportFormat::Junit => crate::report::junit(report, &doc, &mut out)?,
        ReportFormat::Github => crate::report::github(report, &doc, &mut out)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("labrun").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn commands_run_in_process_with_their_exit_codes() {
        let root = env!("CARGO_MANIFEST_DIR");
        let doc = format!("{root}/tests/corpus/aliases.md");
        assert_eq!(
            execute(parse(&["list", &doc, "--format", "json"])).unwrap(),
            ExitCode::Success
        );
        // a document that is not there is the input's fault
        let err = execute(parse(&["list", "no/such/doc.md"])).unwrap_err();
        assert_eq!(crate::error::exit_code_of(&err), ExitCode::BadInput);
        // check without a run names what to do
        let dir = tempfile::tempdir().unwrap();
        let lone = dir.path().join("doc.md");
        std::fs::write(&lone, "# A\n\n```console\n$ echo hi\nhi\n```\n").unwrap();
        let err = execute(parse(&["check", lone.to_str().unwrap()])).unwrap_err();
        assert!(
            format!("{err:#}").contains("no run of this document yet"),
            "{err:#}"
        );
        assert_eq!(crate::error::exit_code_of(&err), ExitCode::BadInput);
    }

    #[test]
    fn a_run_of_another_backend_with_netns_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("doc.md");
        std::fs::write(&doc, "# A\n\n```console\n$ echo hi\n```\n").unwrap();
        let args = ["run", doc.to_str().unwrap(), "--backend", "kind", "--netns"];
        let err = execute(parse(&args)).unwrap_err();
        assert!(format!("{err:#}").contains("do not go together"), "{err:#}");
        assert!(!dir.path().join("target").exists(), "nothing was started");
    }
}
