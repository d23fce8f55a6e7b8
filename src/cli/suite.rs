//! `labrun run` of many documents, and `labrun report merge`.
//!
//! One document given as a file runs in this process, as it always did. Several documents, a
//! directory, a book, `--partition` or `--changed` make a run of many: each document runs in
//! a `labrun run` process of its own (its own scratch copy and run files, its own network
//! namespace with `--netns`, its own kind cluster with `--backend kind`), `--jobs` of them at
//! once; each writes its report to a file, and this process prints the report of them all.
//! A document's failure does not stop the others; SIGINT, SIGTERM and SIGHUP are passed to
//! every running document (each ends as a run of one would: its run written, its cluster
//! deleted), and no new one starts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::{Error, ExitCode};
use crate::suite::{DocReport, Outcome, Partition, SuiteReport};
use anyhow::Context;

use super::ReportFormat;
use super::run::RunArgs;

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let many = args.paths.len() > 1
        || args.paths.iter().any(|p| p.is_dir())
        || args.partition.is_some()
        || args.changed;
    if !many {
        return super::run::run_document(&args.paths[0], &args);
    }
    if args.jobs == 0 {
        return Err(Error::input("--jobs", 0, "--jobs must be at least 1").into());
    }
    let partition = args
        .partition
        .as_deref()
        .map(Partition::parse)
        .transpose()
        .map_err(|m| Error::input("--partition", 0, m))?;
    let all = crate::suite::documents(&args.paths)?;
    if (args.kind.cluster.is_some() || args.kind.own_cluster.is_some()) && all.len() > 1 {
        return Err(Error::input(
            "--cluster",
            0,
            "--cluster names one cluster; documents run together each get a cluster of their own",
        )
        .into());
    }
    // The shard's documents, each with its place in the whole list.
    let mut mine = Vec::new();
    for (index, doc) in all.iter().enumerate() {
        let config = crate::config::Config::for_document(doc)?;
        let key = config.key(doc);
        if partition.is_none_or(|p| p.holds(index, &key.to_string_lossy())) {
            mine.push(Planned {
                index,
                path: doc.clone(),
                key,
                dir: config.run_dir(doc),
            });
        }
    }
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let reports = runtime.block_on(run_all(&args, mine, all.len()))?;
    let mut suite = SuiteReport::new(reports);
    suite.summary.duration_ms = started.elapsed().as_millis() as u64;
    emit(&suite, args.format)?;
    Ok(exit_of(suite.exit_code()))
}

/// A document this shard runs.
struct Planned {
    index: usize,
    path: PathBuf,
    key: PathBuf,
    dir: PathBuf,
}

fn exit_of(code: u8) -> ExitCode {
    match code {
        0 => ExitCode::Success,
        1 => ExitCode::StepsFailed,
        3 => ExitCode::Environment,
        4 => ExitCode::Busy,
        129 => ExitCode::Hangup,
        130 => ExitCode::Interrupted,
        _ => ExitCode::BadInput,
    }
}

async fn run_all(
    args: &RunArgs,
    docs: Vec<Planned>,
    total: usize,
) -> anyhow::Result<Vec<DocReport>> {
    use futures::StreamExt as _;
    use tokio::signal::unix::{SignalKind, signal};
    let running: Arc<Mutex<Vec<u32>>> = Arc::default();
    let stopped: Arc<Mutex<Option<(nix::sys::signal::Signal, u8)>>> = Arc::default();
    let scratch = tempfile::tempdir().context("a directory for the documents' reports")?;
    let n = docs.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let each = docs.iter().map(|d| {
        let (running, stopped, scratch, done) = (&running, &stopped, scratch.path(), &done);
        async move {
            let r = one(args, d, running, stopped, scratch, total).await;
            let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let detail = match r.outcome {
                Outcome::Passed | Outcome::Failed => crate::report::closing_line(&r.summary),
                _ => r.message.clone().unwrap_or_default(),
            };
            eprintln!(
                "labrun: [{k}/{n}] {} {} in {:.1} s: {}",
                r.document,
                r.outcome.label(),
                r.duration_ms as f64 / 1e3,
                crate::report::printable(detail.lines().last().unwrap_or(""))
            );
            r
        }
    });
    let all = futures::stream::iter(each)
        .buffer_unordered(args.jobs.max(1))
        .collect::<Vec<_>>();
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::pin!(all);
    loop {
        use nix::sys::signal::Signal;
        let got = tokio::select! {
            reports = &mut all => return Ok(reports),
            _ = int.recv() => (Signal::SIGINT, 130),
            _ = term.recv() => (Signal::SIGTERM, 130),
            _ = hup.recv() => (Signal::SIGTERM, 129),
        };
        *stopped.lock().unwrap() = Some(got);
        for pid in running.lock().unwrap().iter() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid as i32), got.0);
        }
    }
}

/// Run one document in a `labrun run` of its own; its report.
async fn one(
    args: &RunArgs,
    d: &Planned,
    running: &Mutex<Vec<u32>>,
    stopped: &Mutex<Option<(nix::sys::signal::Signal, u8)>>,
    scratch: &Path,
    total: usize,
) -> DocReport {
    let name = d.path.display().to_string();
    let started = Instant::now();
    let finish = |mut r: DocReport| {
        r.duration_ms = started.elapsed().as_millis() as u64;
        r
    };
    if let Some((_, code)) = *stopped.lock().unwrap() {
        return DocReport::without_steps(
            &name,
            d.index,
            Outcome::Interrupted,
            code,
            "not started: the run was interrupted".into(),
        );
    }
    if args.changed {
        match unchanged(d) {
            Ok(Some(run)) => {
                return DocReport::without_steps(
                    &name,
                    d.index,
                    Outcome::Unchanged,
                    0,
                    format!("unchanged since {run}"),
                );
            }
            Ok(None) => {}
            Err(e) => {
                return finish(DocReport::without_steps(
                    &name,
                    d.index,
                    Outcome::Error,
                    2,
                    e.to_string(),
                ));
            }
        }
    }
    let report_file = scratch.join(format!("{}.json", d.index));
    let mut cmd = match std::env::current_exe() {
        Ok(exe) => tokio::process::Command::new(exe),
        Err(e) => {
            return DocReport::without_steps(
                &name,
                d.index,
                Outcome::Error,
                3,
                format!("finding labrun's own program: {e}"),
            );
        }
    };
    cmd.arg("run")
        .arg(&d.path)
        .args(["--format", "json", "--index", &d.index.to_string()])
        .arg("--report-file")
        .arg(&report_file)
        .args([
            "--backend",
            if args.backend == super::BackendName::Kind {
                "kind"
            } else {
                "local"
            },
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (on, flag) in [
        (args.netns, "--netns"),
        (args.strict, "--strict"),
        (args.allow_doc_drift, "--allow-doc-drift"),
        (args.wait, "--wait"),
        (args.kind.reuse, "--reuse"),
        (args.kind.keep_cluster, "--keep-cluster"),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    for (value, flag) in [
        (&args.kind.settle, "--settle"),
        (&args.kind.create_timeout, "--create-timeout"),
        (&args.kind.cluster, "--cluster"),
        (&args.kind.own_cluster, "--own-cluster"),
    ] {
        if let Some(v) = value {
            cmd.args([flag, v]);
        }
    }
    if args.backend == super::BackendName::Kind && args.kind.cluster.is_none() && total > 1 {
        // two chapters never share, or delete, each other's cluster: each lab's own cluster
        // name stands for one named from its document
        cmd.args(["--own-cluster", &crate::suite::cluster_name(&d.key)]);
    }
    // when this labrun dies, each document's labrun ends as on SIGTERM: its cluster deleted
    crate::execute::procs::end_with_parent(cmd.as_std_mut());
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return DocReport::without_steps(
                &name,
                d.index,
                Outcome::Error,
                3,
                format!("starting labrun for {name}: {e}"),
            );
        }
    };
    let pid = child.id();
    if let Some(pid) = pid {
        running.lock().unwrap().push(pid);
    }
    let out = child.wait_with_output().await;
    if let Some(pid) = pid {
        running.lock().unwrap().retain(|p| *p != pid);
    }
    let (code, stderr) = match out {
        Ok(o) => (
            o.status.code().unwrap_or(130),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (3, format!("waiting for labrun: {e}")),
    };
    // what the document's labrun said, under its name
    for line in stderr.lines() {
        eprintln!("[{}] {}", d.key.display(), crate::report::printable(line));
    }
    let code = u8::try_from(code).unwrap_or(130);
    // the document's labrun reports through the file it was given: its steps, or the error
    // that stopped it (what it printed is above, under its name; nothing is read back from it)
    let report = crate::input::read_text(&report_file, crate::input::RUN_CAP, "a report")
        .ok()
        .and_then(|t| serde_json::from_str::<DocReport>(&t).ok());
    finish(match (code, report) {
        (0 | 1, Some(mut r)) => {
            r.document = name;
            r
        }
        (129 | 130, _) => DocReport::without_steps(
            &name,
            d.index,
            Outcome::Interrupted,
            code,
            "interrupted".into(),
        ),
        (_, Some(mut r)) if r.outcome == Outcome::Error => {
            r.document = name;
            r
        }
        (c, _) => DocReport::without_steps(
            &name,
            d.index,
            Outcome::Error,
            if (2..=5).contains(&c) { c } else { 5 },
            format!("labrun ended with exit code {c} and wrote no report (what it said is above)"),
        ),
    })
}

/// The run a document is unchanged since, when its inputs are those of its last passing run.
fn unchanged(d: &Planned) -> crate::error::Result<Option<String>> {
    let Some(passed) = crate::suite::last_pass(&d.dir) else {
        return Ok(None);
    };
    let lab = crate::lab::Lab::open(&d.path)?;
    let now = crate::suite::inputs_digest(&lab)?;
    Ok((now == passed.inputs).then_some(passed.run))
}

fn emit(suite: &SuiteReport, format: ReportFormat) -> anyhow::Result<()> {
    use std::io::{IsTerminal as _, Write as _};
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Human => {
            let colour = crate::report::colour_for(std::io::stdout().is_terminal());
            crate::report::human_suite(suite, colour, &mut out)?
        }
        ReportFormat::Json => crate::report::json_suite(suite, &mut out)?,
        ReportFormat::Junit => crate::report::junit_suite(suite, &mut out)?,
        ReportFormat::Github => crate::report::github_suite(suite, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// `labrun report merge`: the reports of shards as the one report of an unsharded run.
pub fn merge(files: &[PathBuf], format: ReportFormat) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::new();
    for f in files {
        reports.push((f.clone(), crate::suite::read_report(f)?));
    }
    let mut suite = SuiteReport::merge(reports)?;
    suite.summary.duration_ms = suite
        .documents
        .iter()
        .map(|d| d.duration_ms)
        .max()
        .unwrap_or(0);
    emit(&suite, format)?;
    Ok(exit_of(suite.exit_code()))
}
