//! A document run from start to end, the one way labrun runs one: `labrun run`, a run of
//! many documents (each in a child `labrun run`), and the book's live mode all come here.
//!
//! In: an opened [`Lab`], its path, a [`Request`] (backend, sandbox, options). Out: [`Done`]:
//! the records, the run file (each record appended as its step ends, the whole file written
//! again at the end), whether a signal or an error stopped it, and warnings about what could
//! not be written (a full disk keeps every verdict). The run happens in the document's
//! workspace, locked for it; the backend's own end runs on interruption too.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::{Event, Options};
use crate::error::{Error, ExitCode};
use crate::execute::{Backend, Sandboxing};
use crate::lab::Lab;
use crate::record::StepRecord;

/// The kind backend's settings for one run.
#[derive(Debug, Clone)]
pub struct Kind {
    /// The cluster's name (default: the lab's `kind create cluster --name`, else kind).
    pub cluster: Option<String>,
    /// `cluster` stands for the lab's own cluster (its name in the lab's commands).
    pub rename: bool,
    pub reuse: bool,
    pub keep: bool,
    pub settle: Duration,
    pub create: Duration,
}

/// The backend a run goes through.
#[derive(Debug, Clone)]
pub enum Via {
    Local,
    Kind(Kind),
}

/// What a run of one document needs.
#[derive(Debug, Clone)]
pub struct Request {
    pub via: Via,
    pub sandboxing: Sandboxing,
    pub options: Options,
    /// When another labrun runs the document, wait for it instead of refusing.
    pub wait: bool,
}

/// How a run ended.
pub struct Done {
    pub records: Vec<StepRecord>,
    /// The run's file (`target/labrun/<key>/<id>/run.jsonl`).
    pub file: PathBuf,
    pub run_id: String,
    /// The document's workspace directory (`passed.json` goes there).
    pub workspace: PathBuf,
    /// The exit code of the signal that stopped it (SIGINT, SIGTERM, SIGHUP).
    pub interrupted: Option<ExitCode>,
    /// The error that stopped it after some steps.
    pub failed: Option<Error>,
    /// The run file holds every step that ran.
    pub complete: bool,
    /// What could not be written, one sentence each.
    pub warnings: Vec<String>,
}

/// Run `lab` (opened from `path`) as `request` says. `show` sees every event (a progress
/// display); each finished step's record is appended to the run file before `show` sees it.
pub fn document(
    lab: &Lab,
    path: &Path,
    request: &Request,
    show: &mut dyn FnMut(Event<'_>),
) -> anyhow::Result<Done> {
    // One run of a document at a time, in a directory of its own; both exist (and are
    // writable) before the first step runs.
    let workspace =
        crate::workspace::Workspace::lock(&lab.config.run_dir(path), path, request.wait)?;
    let this_run = workspace.start_run()?;
    let file = this_run.file();
    crate::record::write(&file, &[])?;
    let out = this_run.dir.clone();
    let cap = lab.config.cap();
    let workdir = lab.config.workdir(path);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut records = Vec::new();
    let mut appender = Appender {
        file: file.clone(),
        failed: None,
    };
    let (interrupted, failed) = runtime.block_on(async {
        match &request.via {
            Via::Local => {
                let mut local = crate::execute::Local::new(
                    &lab.config.root,
                    &workdir,
                    &out,
                    cap,
                    &request.sandboxing,
                )
                .await?;
                drive(
                    lab,
                    &mut local,
                    &request.options,
                    &mut records,
                    &mut appender,
                    show,
                )
                .await
            }
            Via::Kind(k) => {
                let options = crate::execute::kind::Options {
                    cluster: k.cluster.clone(),
                    rename: k.rename,
                    sandbox: request.sandboxing.clone(),
                    sources: lab.config.root.clone(),
                    reuse: k.reuse,
                    keep: k.keep,
                    settle: k.settle,
                    create: k.create,
                };
                let mut kind = crate::execute::kind::Kind::new(
                    &lab.steps,
                    &workdir,
                    workspace.dir(),
                    &out,
                    cap,
                    options,
                )
                .await?;
                kind.preflight(path, &lab.steps)?;
                drive(
                    lab,
                    &mut kind,
                    &request.options,
                    &mut records,
                    &mut appender,
                    show,
                )
                .await
            }
        }
    })?;
    // (a failed append was said as it happened)
    let mut warnings: Vec<String> = Vec::new();
    // the run file already holds each finished step (appended as it ended); written whole
    // again, atomically, it is the same text. A full disk may stop these writes: the steps ran
    // all the same, so their verdicts (from the records in memory) are reported, and what the
    // files lack is said.
    let mut complete = true;
    if let Err(e) = crate::record::write(&file, &records) {
        let kept = crate::record::read(&file).map(|r| r.len()).unwrap_or(0);
        complete = kept == records.len();
        warnings.push(if complete {
            format!(
                "{}; the run file holds every step as it ended",
                crate::error::with_causes(&e)
            )
        } else {
            format!(
                "{}; the run file holds {kept} of the {} steps that ran (the rest are lost; \
                 the verdicts below are of every step)",
                crate::error::with_causes(&e),
                records.len()
            )
        });
    }
    if let Err(e) = crate::record::write(&workspace.last(), &records) {
        warnings.push(format!(
            "{}; last.jsonl still names an earlier run: check this one with --replay {}",
            crate::error::with_causes(&e),
            file.display()
        ));
    }
    Ok(Done {
        records,
        file,
        run_id: this_run.id.clone(),
        workspace: workspace.dir().to_path_buf(),
        interrupted,
        failed,
        complete,
        warnings,
    })
}

/// Run the steps through `backend` until they end or SIGINT/SIGTERM/SIGHUP arrives; then the
/// backend's own end (on interruption too). Returns (the exit code of the signal that stopped
/// it, the error that stopped it).
async fn drive<B: Backend>(
    lab: &Lab,
    backend: &mut B,
    opts: &Options,
    records: &mut Vec<StepRecord>,
    appender: &mut Appender,
    show: &mut dyn FnMut(Event<'_>),
) -> anyhow::Result<(Option<ExitCode>, Option<Error>)> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    // the terminal closed: the run ends as on SIGTERM, its file written
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut failed = None;
    let interrupted = {
        let mut each = |e: Event<'_>| {
            if let Event::Finished { record, .. } = &e {
                appender.append(record);
            }
            show(e)
        };
        tokio::select! {
            r = super::run(lab, backend, opts, records, &mut each) => {
                failed = r.err();
                None
            }
            _ = int.recv() => Some(ExitCode::Interrupted),
            _ = term.recv() => Some(ExitCode::Interrupted),
            _ = hup.recv() => Some(ExitCode::Hangup),
        }
    };
    // The run's future is dropped: its processes are killed. Then the backend's own end
    // (the kind backend deletes the cluster it created).
    if let Err(e) = backend.finish().await {
        eprintln!("labrun: {e}");
    }
    Ok((interrupted, failed))
}

/// The run file, each step's record appended (and flushed) as the step ends: a run killed or
/// stopped by a full disk keeps every step it finished.
struct Appender {
    file: PathBuf,
    /// Appending failed once (said then; the run goes on, its records kept in memory).
    failed: Option<String>,
}

impl Appender {
    fn append(&mut self, record: &StepRecord) {
        if self.failed.is_some() {
            return;
        }
        let line = crate::record::to_text(std::slice::from_ref(record));
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
            let message = format!(
                "could not add a step to {}: {e}; the run goes on, and is written whole at its end",
                self.file.display()
            );
            // said at once, as the run goes on for minutes
            eprintln!("labrun: warning: {message}");
            self.failed = Some(message);
        }
    }
}
