//! The `labrun` command line: parses arguments, calls the library stages, maps errors to the
//! documented exit codes.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode as ProcessExit;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use labrun::error::{Error, ExitCode};
use labrun::lab::Lab;
use labrun::normalize::{Labels, Normalizer};
use labrun::snapshot::Entry;

mod commands;

#[derive(Parser)]
#[command(
    name = "labrun",
    version,
    about = "Run tutorials and keep their printed output true"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Human,
    Json,
    Junit,
    Github,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendName {
    Local,
    Kind,
}

#[derive(Clone, Copy, ValueEnum)]
enum BuildMode {
    Replay,
    Live,
    Off,
}

#[derive(Subcommand)]
enum ClusterAction {
    /// Create it with the lab's own `kind create cluster` command.
    Up { path: PathBuf },
    /// Delete it.
    Down { path: PathBuf },
    /// Its node containers and whether labrun's context points at it.
    Status { path: PathBuf },
}

#[derive(Subcommand)]
enum Supports {
    /// Exit 0 when the renderer is supported.
    Supports { renderer: String },
}

#[derive(Subcommand)]
enum Command {
    /// Execute a document's steps for real, record the run, and check it.
    Run {
        path: PathBuf,
        #[arg(long, value_enum, default_value = "local")]
        backend: BackendName,
        /// Run everything in a network namespace of its own (root needed).
        #[arg(long)]
        netns: bool,
        #[command(flatten)]
        kind: commands::run::KindArgs,
        #[arg(long, value_enum, default_value = "human")]
        format: ReportFormat,
        /// Not-run steps and stale prose fail too.
        #[arg(long)]
        strict: bool,
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
    },
    /// mdBook's preprocessor protocol (`[preprocessor.labrun] command = "labrun preprocess"`).
    Preprocess {
        #[command(subcommand)]
        supports: Option<Supports>,
    },
    /// Check a recorded run against the snapshots (or the document's printed output).
    Check {
        path: PathBuf,
        /// The recorded run (JSON Lines) to check.
        #[arg(long)]
        replay: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: ReportFormat,
        /// Not-run steps and stale prose fail too.
        #[arg(long)]
        strict: bool,
    },
    /// Accept outputs into the document's snapshot.
    Accept {
        path: PathBuf,
        /// From a recorded run.
        #[arg(
            long,
            conflicts_with = "from_doc",
            required_unless_present = "from_doc"
        )]
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
        /// The recorded run to promote.
        #[arg(
            long,
            conflicts_with = "from_snapshot",
            required_unless_present = "from_snapshot"
        )]
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
    /// Check what the kind backend needs: Docker, kind, kubectl, the cluster, the context.
    Doctor {
        /// The document whose cluster and kubeconfig to look at.
        path: Option<PathBuf>,
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

fn main() -> ProcessExit {
    // The kind backend's shims call `labrun __guard STATE PROGRAM ARGS…` before every cluster
    // program a step starts: checked first, with nothing else parsed (the arguments are the
    // program's).
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "__guard") {
        return ProcessExit::from(labrun::execute::kind::shim::main(&argv[2..]));
    }
    init_tracing();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::BadInput
            } else {
                ExitCode::Success
            };
            let _ = e.print();
            return ProcessExit::from(code as u8);
        }
    };
    match run(cli) {
        Ok(code) => ProcessExit::from(code as u8),
        // a reader that stopped reading (`labrun list | head -1`): nothing more to say
        Err(err)
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ProcessExit::from(ExitCode::Success as u8)
        }
        Err(err) => {
            let code = err
                .chain()
                .find_map(|e| e.downcast_ref::<Error>())
                .map_or(ExitCode::BadInput, Error::exit_code);
            eprintln!("labrun: {err:#}");
            ProcessExit::from(code as u8)
        }
    }
}

fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LABRUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(labrun::report::colour_for(std::io::stderr().is_terminal()))
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::List {
            path,
            format,
            explain,
        } => {
            let doc = labrun::document::load(&path)?;
            let steps = labrun::steps::split_checked(&doc)?;
            labrun::list::warnings(&doc, &steps, &mut std::io::stderr().lock())
                .context("writing warnings")?;
            let mut out = std::io::stdout().lock();
            match (format, explain) {
                (ListFormat::Json, false) => labrun::list::json(&doc, &steps, &mut out),
                (ListFormat::Human, false) => labrun::list::human(&doc, &steps, &mut out),
                (ListFormat::Json, true) => {
                    labrun::list::explain_json(&doc, &labrun::steps::explain(&doc), &mut out)
                }
                (ListFormat::Human, true) => {
                    labrun::list::explain(&doc, &labrun::steps::explain(&doc), &mut out)
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
        } => {
            let lab = Lab::open(&path)?;
            labrun::list::warnings(&lab.doc, &lab.steps, &mut std::io::stderr().lock()).ok();
            let records = labrun::record::read(&replay)?;
            check_and_report(&lab, &path, &replay, &records, format, strict)
        }
        Command::Accept {
            path,
            replay,
            from_doc,
        } => {
            let lab = Lab::open(&path)?;
            let accepted_run = replay.clone();
            let mut snap = lab.snapshot_or_new();
            let order = lab.step_ids();
            let mut n = 0;
            if from_doc {
                for step in lab.steps.iter().filter(|s| s.has_expected()) {
                    let lines = lab.norm.lines(&step.expected.join("\n"), &step.command);
                    let text = lab.norm.render(&lines, &mut Labels::default());
                    let entry = Entry {
                        command: step.command.clone(),
                        origin: "document".into(),
                        exit: step.directives.exit.unwrap_or(0),
                        lines: text.split('\n').map(str::to_string).collect(),
                    };
                    snap.put(&step.id, entry, &order);
                    n += 1;
                }
            } else if let Some(run) = &replay {
                let records = labrun::record::read(run)?;
                // Check first: that yields each step's normalized live output.
                let report = labrun::check::check(
                    run,
                    &lab.steps,
                    &records,
                    None,
                    &lab.norm,
                    Default::default(),
                )?;
                for v in report.verdicts {
                    if let Some(entry) = v.pending {
                        snap.put(&v.id, entry, &order);
                        n += 1;
                    }
                }
            }
            labrun::snapshot::save(&lab.snapshot_path, &snap)?;
            println!("accepted {n} step(s) into {}", lab.snapshot_path.display());
            // A run labrun observed live is kept beside the snapshot: the evidence the book
            // replays. Anything else (a simulated run, the document's text) is not.
            if let Some(run) = &accepted_run {
                let records = labrun::record::read(run)?;
                if !records.is_empty() && records.iter().all(|r| r.is_live()) {
                    let kept = labrun::render::preprocessor::committed_run(&lab.snapshot_path);
                    labrun::record::write(&kept, &records)?;
                    println!("kept the live run as {}", kept.display());
                }
            }
            Ok(ExitCode::Success)
        }
        Command::Review { path, replay } => review(&path, replay.as_deref()),
        Command::Promote {
            path,
            replay,
            from_snapshot: _,
            steps,
            dry_run,
        } => promote(&path, replay, &steps, dry_run),
        Command::Build {
            book,
            mode,
            run,
            fail_on_drift,
        } => commands::book::build(&book, mode, run, fail_on_drift),
        Command::Preprocess { supports } => commands::book::preprocess(supports),
        Command::Doctor { path } => commands::kind::doctor(path.as_deref()),
        Command::Cluster { action } => commands::kind::cluster(action),
        Command::Run {
            path,
            backend,
            netns,
            kind,
            format,
            strict,
        } => commands::run::run_document(&path, backend, netns, kind, format, strict),
        Command::Normalize { doc, command, file } => {
            let norm = match doc {
                Some(d) => Lab::open(&d)?.norm,
                None => Normalizer::default(),
            };
            let text = match file {
                Some(f) => std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?,
                None => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("reading standard input")?;
                    s
                }
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            // Line by line keeps memory flat on large inputs; numbering spans the whole text.
            let mut labels = Labels::default();
            for chunk in text.split_inclusive('\n').collect::<Vec<_>>().chunks(4096) {
                let lines = norm.lines(&chunk.concat(), &command);
                writeln!(out, "{}", norm.render(&lines, &mut labels))?;
            }
            out.flush()?;
            Ok(ExitCode::Success)
        }
    }
}

fn check_and_report(
    lab: &Lab,
    path: &std::path::Path,
    run_file: &std::path::Path,
    records: &[labrun::record::StepRecord],
    format: ReportFormat,
    strict: bool,
) -> anyhow::Result<ExitCode> {
    let report = labrun::check::check(
        run_file,
        &lab.steps,
        records,
        lab.snapshot.as_ref(),
        &lab.norm,
        labrun::check::Options { strict },
    )?;
    emit(&report, format, path)?;
    write_pending(lab, &report)?;
    Ok(if report.failed(strict) {
        ExitCode::StepsFailed
    } else {
        ExitCode::Success
    })
}

fn emit(
    report: &labrun::check::Report,
    format: ReportFormat,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let doc = path.display().to_string();
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Human => {
            let colour = labrun::report::colour_for(std::io::stdout().is_terminal());
            labrun::report::human(report, colour, &mut out)?
        }
        ReportFormat::Json => labrun::report::json(report, &mut out)?,
        ReportFormat::Junit => labrun::report::junit(report, &doc, &mut out)?,
        ReportFormat::Github => labrun::report::github(report, &doc, &mut out)?,
    }
    Ok(())
}

/// Failing steps' live outputs as pending entries, for `labrun review`; never in CI.
fn write_pending(lab: &Lab, report: &labrun::check::Report) -> anyhow::Result<()> {
    let failed: Vec<_> = report
        .verdicts
        .iter()
        .filter(|v| v.status == labrun::check::Status::Fail)
        .filter_map(|v| v.pending.clone().map(|p| (v.id.clone(), p)))
        .collect();
    if failed.is_empty() || !labrun::snapshot::may_write_pending() {
        return Ok(());
    }
    let pending = labrun::snapshot::Snapshot {
        document: lab.doc.path.display().to_string(),
        entries: failed,
    };
    let path = labrun::snapshot::pending_path(&lab.snapshot_path);
    labrun::snapshot::save(&path, &pending)?;
    eprintln!(
        "labrun: pending snapshot entries written to {} (labrun review)",
        path.display()
    );
    Ok(())
}

/// Replace the document's text (atomically, its permissions and byte order mark kept).
fn write_document(lab: &Lab, source: &str) -> anyhow::Result<()> {
    let bom = if lab.doc.bom { "\u{feff}" } else { "" };
    labrun::record::write_keeping_mode(&lab.doc.path, format!("{bom}{source}").as_bytes())?;
    Ok(())
}

fn promote(
    path: &std::path::Path,
    replay: Option<PathBuf>,
    only: &[String],
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(path)?;
    let run = match replay {
        Some(run) => run,
        None => {
            let kept = labrun::render::preprocessor::committed_run(&lab.snapshot_path);
            if !kept.exists() {
                return Err(Error::input(
                    path,
                    0,
                    format!(
                        "no live run is kept beside the snapshot ({}): accept one with `labrun \
                         accept {} --replay RUN`",
                        kept.display(),
                        path.display()
                    ),
                )
                .into());
            }
            kept
        }
    };
    let records = labrun::record::read(&run)?;
    let p = labrun::promote::promote(&lab, &run, &records, only)?;
    let mut err = std::io::stderr().lock();
    for l in &p.listed {
        writeln!(
            err,
            "{}:{}: step {} not promoted: {}",
            path.display(),
            l.line,
            l.id,
            labrun::report::printable(&l.why)
        )
        .ok();
    }
    if dry_run {
        print!(
            "{}",
            labrun::promote::diff(path, &lab.doc.source, &p.source)
        );
    } else if p.source != lab.doc.source {
        write_document(&lab, &p.source)?;
        if let Some(snap) = &p.snapshot {
            labrun::snapshot::save(&lab.snapshot_path, snap)?;
        }
    }
    let verb = if dry_run { "would promote" } else { "promoted" };
    println!(
        "{verb} {} step(s) in {}{}",
        p.promoted.len(),
        path.display(),
        if p.promoted.is_empty() {
            String::new()
        } else {
            format!(": {}", p.promoted.join(", "))
        }
    );
    Ok(if p.listed.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::StepsFailed
    })
}

fn review(path: &std::path::Path, run: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(path)?;
    let pending_path = labrun::snapshot::pending_path(&lab.snapshot_path);
    let Some(pending) = labrun::snapshot::load(&pending_path)? else {
        println!("no pending snapshot entries for {}", path.display());
        return Ok(ExitCode::Success);
    };
    let mut snap = lab.snapshot_or_new();
    let order = lab.step_ids();
    if let Some((id, _)) = pending.entries.iter().find(|(id, _)| !order.contains(id)) {
        return Err(Error::input(
            &pending_path,
            0,
            format!(
                "the pending entry for step `{id}` names a step {} does not have: it was \
                 written for another version of the document; remove the file to start over",
                path.display()
            ),
        )
        .into());
    }
    let mut left = labrun::snapshot::Snapshot {
        document: pending.document.clone(),
        entries: Vec::new(),
    };
    let stdin = std::io::stdin();
    let mut answer = String::new();
    let mut promote_ids: Vec<String> = Vec::new();
    for (id, entry) in pending.entries {
        let old = snap
            .get(&id)
            .map(|e| e.lines.join("\n"))
            .unwrap_or_default();
        println!("=== {id}\n$ {}", entry.command);
        print!(
            "{}",
            labrun::compare::unified_diff(&old, &entry.lines.join("\n"))
        );
        if run.is_some() {
            print!("[a]ccept, [p]romote into the document too, [r]eject, [s]kip? ");
        } else {
            print!("[a]ccept, [r]eject, [s]kip? ");
        }
        std::io::stdout().flush().ok();
        answer.clear();
        stdin.read_line(&mut answer).context("reading the answer")?;
        match answer.trim() {
            "a" | "accept" => snap.put(&id, entry, &order),
            "p" | "promote" if run.is_some() => {
                promote_ids.push(id.clone());
                snap.put(&id, entry, &order);
            }
            "r" | "reject" => {}
            _ => left.entries.push((id, entry)),
        }
    }
    if let (Some(run), false) = (run, promote_ids.is_empty()) {
        let records = labrun::record::read(run)?;
        let p = labrun::promote::promote(&lab, run, &records, &promote_ids)?;
        for l in &p.listed {
            eprintln!(
                "{}:{}: step {} not promoted: {}",
                path.display(),
                l.line,
                l.id,
                l.why
            );
        }
        if p.source != lab.doc.source {
            write_document(&lab, &p.source)?;
        }
        println!(
            "promoted {} step(s) into {}",
            p.promoted.len(),
            path.display()
        );
    }
    labrun::snapshot::save(&lab.snapshot_path, &snap)?;
    if left.entries.is_empty() {
        std::fs::remove_file(&pending_path).ok();
    } else {
        labrun::snapshot::save(&pending_path, &left)?;
    }
    Ok(ExitCode::Success)
}
