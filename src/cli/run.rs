//! `labrun run`: a document executed through a backend (local or kind), its run written, then
//! checked and reported exactly as `labrun check --replay` would.

use std::io::Write as _;

use crate::error::{Error, ExitCode};
use crate::lab::Lab;
use crate::run::document::{Done, Request, Via};

use super::{BackendName, ReportFormat, check_and_report};

/// `labrun run`'s arguments.
#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// Documents (.md, .adoc), directories of them, or books (a directory with book.toml).
    #[arg(required = true)]
    pub paths: Vec<std::path::PathBuf>,
    #[arg(long, value_enum, default_value = "local")]
    pub backend: BackendName,
    /// Run everything in a network namespace of its own (root needed); one per document.
    #[arg(long)]
    pub netns: bool,
    /// Run the steps without a sandbox: they can then change this machine (its network,
    /// files, other clusters). Only for documents you trust.
    #[arg(long)]
    pub unsandboxed: bool,
    #[command(flatten)]
    pub kind: KindArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub format: ReportFormat,
    /// Not-run steps and stale prose fail too.
    #[arg(long)]
    pub strict: bool,
    /// A step whose printed output disagrees with the accepted snapshot passes, with a
    /// warning (by default it fails: the document is what readers see).
    #[arg(long)]
    pub allow_doc_drift: bool,
    /// When another labrun is running a document, wait for it instead of refusing.
    #[arg(long)]
    pub wait: bool,
    /// Documents run at once, each in a session of its own (default 1).
    #[arg(long, short = 'j', default_value_t = 1)]
    pub jobs: usize,
    /// Run only this shard's documents: count:K/N or hash:K/N (cargo-nextest's meaning).
    #[arg(long)]
    pub partition: Option<String>,
    /// Skip a document whose inputs are those of its last passing run.
    #[arg(long)]
    pub changed: bool,
    /// (internal) Write this document's report, for the run of many documents, here.
    #[arg(long, hide = true)]
    pub report_file: Option<std::path::PathBuf>,
    /// (internal) The document's place in the run of many documents.
    #[arg(long, hide = true, default_value_t = 0)]
    pub index: usize,
}

/// Where this process writes its document's report for a run of many documents (its file,
/// the document as named, its index): set once the document is known, so an error that ends
/// the process is reported there too, not only on standard error.
pub static REPORT_FILE: std::sync::OnceLock<(std::path::PathBuf, String, usize)> =
    std::sync::OnceLock::new();

/// The kind backend's flags of `labrun run`.
#[derive(clap::Args, Clone)]
pub struct KindArgs {
    /// kind backend: the cluster's name (default: the lab's `kind create cluster --name`, else kind).
    #[arg(long)]
    pub cluster: Option<String>,
    /// kind backend: a cluster of this name stands for the lab's own (its cluster name in the
    /// lab's commands becomes this one; what they print reads back as the lab's name).
    #[arg(long, conflicts_with = "cluster")]
    pub own_cluster: Option<String>,
    /// kind backend: run against a cluster of that name that already exists.
    #[arg(long)]
    pub reuse: bool,
    /// kind backend: keep the cluster labrun created.
    #[arg(long)]
    pub keep_cluster: bool,
    /// kind backend: the longest a change may take to settle (default 180s).
    #[arg(long)]
    pub settle: Option<String>,
    /// kind backend: the longest the lab's `kind create cluster` may take (default 10m).
    #[arg(long)]
    pub create_timeout: Option<String>,
}

pub fn run_document(path: &std::path::Path, args: &RunArgs) -> anyhow::Result<ExitCode> {
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
    let inputs = crate::suite::inputs_digest(&lab)?;
    crate::list::warnings(&lab.doc, &lab.steps, &mut std::io::stderr().lock()).ok();
    // a chapter of a book whose live build runs in a network of its own runs so here too
    let netns = netns || (backend == BackendName::Local && crate::config::book_netns(path));
    if netns && backend == BackendName::Kind {
        return Err(Error::input(
            path,
            0,
            "--netns and --backend kind do not go together: kind publishes the cluster's API \
             server on the host's loopback, which a run in its own network namespace cannot reach",
        )
        .into());
    }
    let sandboxing = crate::execute::Sandboxing {
        contained: !args.unsandboxed,
        ..crate::execute::Sandboxing::from_config(&lab.config, netns)
    };
    if backend == BackendName::Local {
        crate::execute::local::preflight(path, &lab.steps, sandboxing.network)?;
    }
    let (timeout, retry) = lab.config.durations()?;
    let options = crate::run::Options {
        timeout,
        retry,
        ..Default::default()
    };
    let via = match backend {
        BackendName::Local => Via::Local,
        BackendName::Kind => {
            let duration = |flag: &str, value: &Option<String>, default| match value {
                Some(t) => crate::directive::parse_duration(t)
                    .map_err(|m| Error::input(path, 0, format!("{flag}: {m}"))),
                None => Ok(default),
            };
            let defaults = crate::execute::kind::Options::default();
            Via::Kind(crate::run::document::Kind {
                cluster: kind.own_cluster.clone().or_else(|| kind.cluster.clone()),
                rename: kind.own_cluster.is_some(),
                reuse: kind.reuse,
                keep: kind.keep_cluster,
                settle: duration("--settle", &kind.settle, defaults.settle)?,
                create: duration("--create-timeout", &kind.create_timeout, defaults.create)?,
            })
        }
    };
    let request = Request {
        via,
        sandboxing,
        options,
        wait,
    };
    let mut progress = Progress::new();
    let done = crate::run::document::document(&lab, path, &request, &mut |e| progress.show(e));
    progress.clear();
    let Done {
        records,
        file,
        run_id,
        workspace,
        interrupted,
        failed,
        complete,
        warnings,
    } = done?;
    for w in &warnings {
        eprintln!("labrun: warning: {w}");
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
        if let Err(e) = crate::suite::record_pass(
            &workspace,
            &crate::suite::Passed {
                inputs,
                run: run_id,
            },
        ) {
            eprintln!(
                "labrun: warning: {}; --changed will run this document again",
                crate::error::with_causes(&e)
            );
        }
    }
    Ok(code)
}

/// Show each step while it runs: a spinner with the elapsed time on a terminal (cluster
/// creation and settling take minutes), log lines otherwise (`LABRUN_LOG=info`); each step's
/// verdict as it ends, on a terminal or not (a CI log shows the run going).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new() -> Self {
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
        Progress { bar }
    }

    fn show(&mut self, e: crate::run::Event) {
        use crate::run::Event;
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
