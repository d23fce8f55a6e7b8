//! `labrun run`: a document executed through a backend (local or kind), its run written, then
//! checked and reported exactly as `labrun check --replay` would.

use std::io::Write as _;

use anyhow::Context;
use labrun::error::{Error, ExitCode};
use labrun::lab::Lab;

use crate::{BackendName, ReportFormat, check_and_report};

/// Run the steps through `backend` until they end or SIGINT/SIGTERM/SIGHUP arrives; then the
/// backend's own end (on interruption too). Returns (the exit code of the signal that stopped
/// it, the error that stopped it).
pub(crate) async fn drive<B: labrun::execute::Backend>(
    lab: &Lab,
    backend: &mut B,
    opts: &labrun::run::Options,
    records: &mut Vec<labrun::record::StepRecord>,
    file: &std::path::Path,
) -> anyhow::Result<(Option<ExitCode>, Option<Error>)> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    // the terminal closed: the run ends as on SIGTERM, its file written
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut progress = Progress::new(file);
    let mut failed = None;
    let interrupted = {
        let mut show = |e: labrun::run::Event<'_>| progress.show(e);
        tokio::select! {
            r = labrun::run::run(lab, backend, opts, records, &mut show) => {
                failed = r.err();
                None
            }
            _ = int.recv() => Some(ExitCode::Interrupted),
            _ = term.recv() => Some(ExitCode::Interrupted),
            _ = hup.recv() => Some(ExitCode::Hangup),
        }
    };
    progress.clear();
    // The run's future is dropped: its processes are killed. Then the backend's own end
    // (the kind backend deletes the cluster it created).
    if let Err(e) = backend.finish().await {
        eprintln!("labrun: {e}");
    }
    Ok((interrupted, failed))
}

/// `labrun run`'s arguments.
#[derive(clap::Args, Clone)]
pub(crate) struct RunArgs {
    /// Documents (.md, .adoc), directories of them, or books (a directory with book.toml).
    #[arg(required = true)]
    pub(crate) paths: Vec<std::path::PathBuf>,
    #[arg(long, value_enum, default_value = "local")]
    pub(crate) backend: BackendName,
    /// Run everything in a network namespace of its own (root needed); one per document.
    #[arg(long)]
    pub(crate) netns: bool,
    /// Run the steps without a sandbox: they can then change this machine (its network,
    /// files, other clusters). Only for documents you trust.
    #[arg(long)]
    pub(crate) unsandboxed: bool,
    #[command(flatten)]
    pub(crate) kind: KindArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub(crate) format: ReportFormat,
    /// Not-run steps and stale prose fail too.
    #[arg(long)]
    pub(crate) strict: bool,
    /// A step whose printed output disagrees with the accepted snapshot passes, with a
    /// warning (by default it fails: the document is what readers see).
    #[arg(long)]
    pub(crate) allow_doc_drift: bool,
    /// When another labrun is running a document, wait for it instead of refusing.
    #[arg(long)]
    pub(crate) wait: bool,
    /// Documents run at once, each in a session of its own (default 1).
    #[arg(long, short = 'j', default_value_t = 1)]
    pub(crate) jobs: usize,
    /// Run only this shard's documents: count:K/N or hash:K/N (cargo-nextest's meaning).
    #[arg(long)]
    pub(crate) partition: Option<String>,
    /// Skip a document whose inputs are those of its last passing run.
    #[arg(long)]
    pub(crate) changed: bool,
    /// (internal) Write this document's report, for the run of many documents, here.
    #[arg(long, hide = true)]
    pub(crate) report_file: Option<std::path::PathBuf>,
    /// (internal) The document's place in the run of many documents.
    #[arg(long, hide = true, default_value_t = 0)]
    pub(crate) index: usize,
}

/// Where this process writes its document's report for a run of many documents (its file,
/// the document as named, its index): set once the document is known, so an error that ends
/// the process is reported there too, not only on standard error.
pub(crate) static REPORT_FILE: std::sync::OnceLock<(std::path::PathBuf, String, usize)> =
    std::sync::OnceLock::new();

/// The kind backend's flags of `labrun run`.
#[derive(clap::Args, Clone)]
pub(crate) struct KindArgs {
    /// kind backend: the cluster's name (default: the lab's `kind create cluster --name`, else kind).
    #[arg(long)]
    pub(crate) cluster: Option<String>,
    /// kind backend: a cluster of this name stands for the lab's own (its cluster name in the
    /// lab's commands becomes this one; what they print reads back as the lab's name).
    #[arg(long, conflicts_with = "cluster")]
    pub(crate) own_cluster: Option<String>,
    /// kind backend: run against a cluster of that name that already exists.
    #[arg(long)]
    pub(crate) reuse: bool,
    /// kind backend: keep the cluster labrun created.
    #[arg(long)]
    pub(crate) keep_cluster: bool,
    /// kind backend: the longest a change may take to settle (default 180s).
    #[arg(long)]
    pub(crate) settle: Option<String>,
    /// kind backend: the longest the lab's `kind create cluster` may take (default 10m).
    #[arg(long)]
    pub(crate) create_timeout: Option<String>,
}

pub(crate) fn run_document(path: &std::path::Path, args: &RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.report_file {
        let _ = REPORT_FILE.set((file.clone(), path.display().to_string(), args.index));
    }
    let RunArgs {
        backend,
        netns,
        format,
        strict,
        wait,
        ..
    } = *args;
    let kind = &args.kind;
    let lab = Lab::open(path)?;
    // what this run depends on, taken before it starts: a pass is recorded against it
    let inputs = labrun::suite::inputs_digest(&lab)?;
    labrun::list::warnings(&lab.doc, &lab.steps, &mut std::io::stderr().lock()).ok();
    // a chapter of a book whose live build runs in a network of its own runs so here too
    let netns = netns || (backend == BackendName::Local && labrun::config::book_netns(path));
    if netns && backend == BackendName::Kind {
        return Err(Error::input(
            path,
            0,
            "--netns and --backend kind do not go together: kind publishes the cluster's API \
             server on the host's loopback, which a run in its own network namespace cannot reach",
        )
        .into());
    }
    let sandboxing = labrun::execute::Sandboxing {
        contained: !args.unsandboxed,
        ..labrun::execute::Sandboxing::from_config(&lab.config, netns)
    };
    if backend == BackendName::Local {
        labrun::execute::local::preflight(path, &lab.steps, sandboxing.network)?;
    }
    let (timeout, retry) = lab.config.durations()?;
    let opts = labrun::run::Options {
        timeout,
        retry,
        ..Default::default()
    };
    // One run of a document at a time, in a directory of its own; both exist (and are
    // writable) before the first step runs.
    let workspace = labrun::workspace::Workspace::lock(&lab.config.run_dir(path), path, wait)?;
    let this_run = workspace.start_run()?;
    let file = this_run.file();
    labrun::record::write(&file, &[])?;
    let out = this_run.dir.clone();
    let cap = lab.config.cap();
    let workdir = lab.config.workdir(path);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut records = Vec::new();
    let interrupted = runtime.block_on(async {
        match backend {
            BackendName::Local => {
                let mut local =
                    labrun::execute::Local::new(&lab.config.root, &workdir, &out, cap, &sandboxing)
                        .await?;
                drive(&lab, &mut local, &opts, &mut records, &file).await
            }
            BackendName::Kind => {
                let settle = match &kind.settle {
                    Some(t) => labrun::directive::parse_duration(t)
                        .map_err(|m| Error::input(path, 0, format!("--settle: {m}")))?,
                    None => labrun::execute::kind::Options::default().settle,
                };
                let create = match &kind.create_timeout {
                    Some(t) => labrun::directive::parse_duration(t)
                        .map_err(|m| Error::input(path, 0, format!("--create-timeout: {m}")))?,
                    None => labrun::execute::kind::Options::default().create,
                };
                let kopts = labrun::execute::kind::Options {
                    cluster: kind.own_cluster.clone().or_else(|| kind.cluster.clone()),
                    rename: kind.own_cluster.is_some(),
                    sandbox: sandboxing.clone(),
                    sources: lab.config.root.clone(),
                    reuse: kind.reuse,
                    keep: kind.keep_cluster,
                    settle,
                    create,
                };
                let mut k = labrun::execute::kind::Kind::new(
                    &lab.steps,
                    &workdir,
                    workspace.dir(),
                    &out,
                    cap,
                    kopts,
                )
                .await?;
                k.preflight(path, &lab.steps)?;
                drive(&lab, &mut k, &opts, &mut records, &file).await
            }
        }
    })?;
    let (interrupted, failed) = interrupted;
    // the run file already holds each finished step (appended as it ended); written whole
    // again, atomically, it is the same text
    // A full disk may stop these writes: the steps ran all the same, so their verdicts (from
    // the records in memory) are reported, and what the files lack is said.
    let mut complete = true;
    if let Err(e) = labrun::record::write(&file, &records) {
        let kept = labrun::record::read(&file).map(|r| r.len()).unwrap_or(0);
        complete = kept == records.len();
        if complete {
            eprintln!(
                "labrun: warning: {}; the run file holds every step as it ended",
                labrun::error::with_causes(&e)
            );
        } else {
            eprintln!(
                "labrun: warning: {}; the run file holds {kept} of the {} steps that ran \
                 (the rest are lost; the verdicts below are of every step)",
                labrun::error::with_causes(&e),
                records.len()
            );
        }
    }
    if let Err(e) = labrun::record::write(&workspace.last(), &records) {
        eprintln!(
            "labrun: warning: {}; last.jsonl still names an earlier run: check this one with \
             --replay {}",
            labrun::error::with_causes(&e),
            file.display()
        );
    }
    if let Some(e) = failed {
        eprintln!(
            "labrun: the run stopped after {} step(s); the partial run is in {}",
            records.len(),
            file.display()
        );
        return Err(e.into());
    }
    if let Some(code) = interrupted {
        // the terminal may be gone (SIGHUP): a failed write to it changes nothing
        let _ = writeln!(
            std::io::stderr(),
            "labrun: interrupted after {} step(s); the partial run is in {}",
            records.len(),
            file.display()
        );
        return Ok(code);
    }
    if complete {
        eprintln!("labrun: run recorded in {}", file.display());
    } else {
        eprintln!("labrun: the partial run is in {}", file.display());
    }
    let doc_report = args.report_file.as_deref().map(|f| (f, args.index));
    let code = check_and_report(
        &lab,
        path,
        &file,
        &records,
        format,
        (strict, args.allow_doc_drift),
        doc_report,
    )?;
    if code == ExitCode::Success {
        // what `--changed` reads next time; not being able to write it changes no verdict
        if let Err(e) = labrun::suite::record_pass(
            workspace.dir(),
            &labrun::suite::Passed {
                inputs,
                run: this_run.id.clone(),
            },
        ) {
            eprintln!(
                "labrun: warning: {}; --changed will run this document again",
                labrun::error::with_causes(&e)
            );
        }
    }
    Ok(code)
}

/// Show each step while it runs: a spinner with the elapsed time on a terminal (cluster
/// creation and settling take minutes), log lines otherwise (`LABRUN_LOG=info`).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// The run file, each step's record appended (and flushed) as the step ends: a run killed
    /// or stopped by a full disk keeps every step it finished.
    file: std::path::PathBuf,
    /// Appending failed once (said then; the run goes on, its records kept in memory).
    append_failed: bool,
}

impl Progress {
    fn new(file: &std::path::Path) -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            file: file.to_path_buf(),
            append_failed: false,
        }
    }

    /// Append one record to the run file.
    fn append(&mut self, record: &labrun::record::StepRecord) {
        if self.append_failed {
            return;
        }
        use std::io::Write as _;
        let line = labrun::record::to_text(std::slice::from_ref(record));
        let done = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.file)
            .and_then(|mut f| {
                let before = f.metadata()?.len();
                let wrote = f.write_all(line.as_bytes()).and_then(|_| f.flush());
                if wrote.is_err() {
                    // a record cut by a full disk would make the whole file unreadable
                    let _ = f.set_len(before);
                }
                wrote
            });
        if let Err(e) = done {
            self.append_failed = true;
            eprintln!(
                "labrun: warning: could not add a step to {}: {e}; the run goes on, and is written whole at its end",
                self.file.display()
            );
        }
    }

    fn show(&mut self, e: labrun::run::Event) {
        use labrun::run::Event;
        match e {
            Event::Started {
                index,
                total,
                step,
                command,
            } => {
                let first = command.lines().next().unwrap_or("");
                match &self.bar {
                    Some(bar) => {
                        bar.reset_elapsed();
                        let short: String = first.chars().take(70).collect();
                        bar.set_message(format!("[{index}/{total}] {} $ {short}", step.id));
                    }
                    None => tracing::info!("[{index}/{total}] {} $ {first}", step.id),
                }
            }
            Event::Retrying {
                step,
                tries,
                reason,
            } => match &self.bar {
                Some(bar) => bar.set_message(format!("{} try {tries}: {reason}; again", step.id)),
                None => tracing::info!("{} try {tries}: {reason}; again", step.id),
            },
            Event::Finished {
                step,
                record,
                status,
            } => {
                self.append(record);
                // each verdict as it ends, on a terminal or not (a CI log shows the run going)
                let tries = record
                    .tries
                    .filter(|t| *t > 1)
                    .map(|t| format!(", {t} tries"))
                    .unwrap_or_default();
                let line = format!(
                    "{:<8} {} (line {}) {} ms{tries}",
                    status.label(),
                    step.id,
                    step.line,
                    record.duration_ms
                );
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
        }
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
