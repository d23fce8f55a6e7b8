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
        /// kind backend: the cluster's name (default: the lab's `kind create cluster --name`, else kind).
        #[arg(long)]
        cluster: Option<String>,
        /// kind backend: run against a cluster of that name that already exists.
        #[arg(long)]
        reuse: bool,
        /// kind backend: keep the cluster labrun created.
        #[arg(long)]
        keep_cluster: bool,
        /// kind backend: the longest a change may take to settle (default 180s).
        #[arg(long)]
        settle: Option<String>,
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
    /// Walk the pending snapshot entries of a document: accept, reject or skip each.
    Review { path: PathBuf },
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
    },
}

fn main() -> ProcessExit {
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
        Command::List { path, format } => {
            let doc = labrun::document::load(&path)?;
            let steps = labrun::steps::split(&doc);
            let mut out = std::io::stdout().lock();
            match format {
                ListFormat::Json => labrun::list::json(&doc, &steps, &mut out),
                ListFormat::Human => labrun::list::human(&doc, &steps, &mut out),
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
        Command::Review { path } => review(&path),
        Command::Build {
            book,
            mode,
            run,
            fail_on_drift,
        } => build(&book, mode, run, fail_on_drift),
        Command::Preprocess { supports } => preprocess(supports),
        Command::Doctor { path } => doctor(path.as_deref()),
        Command::Cluster { action } => cluster(action),
        Command::Run {
            path,
            backend,
            netns,
            cluster,
            reuse,
            keep_cluster,
            settle,
            format,
            strict,
        } => run_document(
            &path,
            backend,
            netns,
            KindArgs {
                cluster,
                reuse,
                keep_cluster,
                settle,
            },
            format,
            strict,
        ),
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

fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(|l| l.trim().to_string())
}

fn doctor(path: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    use labrun::execute::kind::{self, docker::Facts, safety};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut missing = Vec::new();
    let facts = runtime.block_on(Facts::connect());
    match &facts {
        Ok(f) => println!(
            "docker   ok       server {}",
            runtime.block_on(f.version()).unwrap_or_default()
        ),
        Err(e) => {
            println!("docker   MISSING  {e}");
            missing.push("Docker");
        }
    }
    match first_line("kind", &["version"]) {
        Some(v) => println!("kind     ok       {v}"),
        None => {
            println!(
                "kind     MISSING  install it: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
            );
            missing.push("kind");
        }
    }
    match first_line("kubectl", &["version", "--client"]) {
        Some(v) => println!("kubectl  ok       {v}"),
        None => {
            println!(
                "kubectl  MISSING  install it: https://kubernetes.io/docs/tasks/tools/#kubectl"
            );
            missing.push("kubectl");
        }
    }
    if let Some(path) = path {
        let lab = Lab::open(path)?;
        let name = kind::cluster_name(&lab.steps);
        let kubeconfig = kind::kubeconfig_for(&lab.config.run_dir(path));
        let nodes = match &facts {
            Ok(f) => runtime.block_on(f.nodes(&name)).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if nodes.is_empty() {
            println!(
                "cluster  -        `{name}` does not exist (the lab's `kind create cluster` creates it)"
            );
        } else {
            let running = nodes.iter().filter(|n| n.state == "running").count();
            println!(
                "cluster  ok       `{name}`: {running}/{} node container(s) running",
                nodes.len()
            );
        }
        match safety::current(&kubeconfig) {
            Ok(Some(t)) => {
                let verdict = match safety::verify(Some(&t), &name, &nodes) {
                    Ok(()) => "verified: the run's kind cluster".to_string(),
                    Err(why) => format!("would be REFUSED: {why}"),
                };
                println!(
                    "context  {}  {} → {} ({verdict})",
                    if verdict.starts_with("verified") {
                        "ok     "
                    } else {
                        "REFUSED"
                    },
                    t.context,
                    t.server
                );
            }
            Ok(None) => println!(
                "context  -        none yet in {} (never the user's kubeconfig)",
                kubeconfig.display()
            ),
            Err(e) => println!("context  BROKEN   {e}"),
        }
    }
    if missing.is_empty() {
        Ok(ExitCode::Success)
    } else {
        eprintln!(
            "labrun: the kind backend needs {}; install and run `labrun doctor` again",
            missing.join(", ")
        );
        Ok(ExitCode::Environment)
    }
}

fn cluster(action: ClusterAction) -> anyhow::Result<ExitCode> {
    use labrun::execute::kind::{self, docker::Facts, safety};
    let (ClusterAction::Up { path }
    | ClusterAction::Down { path }
    | ClusterAction::Status { path }) = &action;
    let lab = Lab::open(path)?;
    let name = kind::cluster_name(&lab.steps);
    let out = lab.config.run_dir(path);
    let kubeconfig = kind::kubeconfig_for(&out);
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let facts = runtime.block_on(Facts::connect())?;
    let nodes = runtime.block_on(facts.nodes(&name))?;
    match action {
        ClusterAction::Status { .. } => {
            if nodes.is_empty() {
                println!("kind cluster `{name}` does not exist");
            }
            for n in &nodes {
                println!(
                    "{:<28} {:<14} {:<9} {:<15} {}",
                    n.name,
                    n.role,
                    n.state,
                    n.address.as_deref().unwrap_or("-"),
                    &n.id[..12.min(n.id.len())]
                );
            }
            let target = safety::current(&kubeconfig).map_err(Error::Environment)?;
            match safety::verify(target.as_ref(), &name, &nodes) {
                Ok(()) => println!("context: verified ({})", kubeconfig.display()),
                Err(why) => println!("context: {why}"),
            }
            Ok(ExitCode::Success)
        }
        ClusterAction::Up { .. } => {
            if !nodes.is_empty() {
                return Err(Error::Environment(format!(
                    "kind cluster `{name}` exists already; `labrun cluster down {}` deletes it",
                    path.display()
                ))
                .into());
            }
            let create = lab
                .steps
                .iter()
                .find(|s| s.command.starts_with("kind create cluster"))
                .map(|s| s.command.clone())
                .unwrap_or_else(|| "kind create cluster".into());
            kind::kind_version()?;
            let status = std::process::Command::new("bash")
                .arg("-c")
                .arg(&create)
                .current_dir(lab.config.workdir(path))
                .env("KUBECONFIG", &kubeconfig)
                .env("KIND_CLUSTER_NAME", &name)
                .status()
                .context("running kind")?;
            Ok(if status.success() {
                ExitCode::Success
            } else {
                ExitCode::StepsFailed
            })
        }
        ClusterAction::Down { .. } => {
            if nodes.is_empty() {
                println!("kind cluster `{name}` does not exist");
                return Ok(ExitCode::Success);
            }
            kind::kind_version()?;
            let status = std::process::Command::new("kind")
                .args(["delete", "cluster", "--name", &name, "--kubeconfig"])
                .arg(&kubeconfig)
                .status()
                .context("running kind")?;
            Ok(if status.success() {
                ExitCode::Success
            } else {
                ExitCode::StepsFailed
            })
        }
    }
}

/// Run the steps through `backend` until they end or SIGINT/SIGTERM arrives; then the
/// backend's own end (on interruption too). Returns (interrupted, the error that stopped it).
async fn drive<B: labrun::execute::Backend>(
    lab: &Lab,
    backend: &mut B,
    opts: &labrun::run::Options,
    records: &mut Vec<labrun::record::StepRecord>,
) -> anyhow::Result<(bool, Option<Error>)> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut progress = Progress::new();
    let mut failed = None;
    let interrupted = {
        let mut show = |e: labrun::run::Event<'_>| progress.show(e);
        tokio::select! {
            r = labrun::run::run(lab, backend, opts, records, &mut show) => {
                failed = r.err();
                false
            }
            _ = int.recv() => true,
            _ = term.recv() => true,
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

fn build(
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
    if opts.mode == Mode::Live && opts.netns {
        labrun::execute::netns::enter()?;
    }
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

fn preprocess(supports: Option<Supports>) -> anyhow::Result<ExitCode> {
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
    let opts = labrun::render::preprocessor::options(&ctx)?;
    if opts.mode == labrun::render::preprocessor::Mode::Live && opts.netns {
        labrun::execute::netns::enter()?;
    }
    let book = pre.run(&ctx, book).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    serde_json::to_writer(std::io::stdout().lock(), &book).context("writing the book")?;
    Ok(ExitCode::Success)
}

struct KindArgs {
    cluster: Option<String>,
    reuse: bool,
    keep_cluster: bool,
    settle: Option<String>,
}

fn run_document(
    path: &std::path::Path,
    backend: BackendName,
    netns: bool,
    kind: KindArgs,
    format: ReportFormat,
    strict: bool,
) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(path)?;
    if netns && backend == BackendName::Kind {
        return Err(Error::input(
            path,
            0,
            "--netns and --backend kind do not go together: kind publishes the cluster's API \
             server on the host's loopback, which a run in its own network namespace cannot reach",
        )
        .into());
    }
    if netns {
        // Before the runtime starts: namespaces are entered by a single-threaded process.
        labrun::execute::netns::enter()?;
    }
    let (timeout, retry) = lab.config.durations()?;
    let opts = labrun::run::Options {
        timeout,
        retry,
        ..Default::default()
    };
    let out = lab.config.run_dir(path);
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
                let mut local = labrun::execute::Local::new(&workdir, &out, cap)?;
                drive(&lab, &mut local, &opts, &mut records).await
            }
            BackendName::Kind => {
                let settle = match &kind.settle {
                    Some(t) => labrun::directive::parse_duration(t)
                        .map_err(|m| Error::input(path, 0, format!("--settle: {m}")))?,
                    None => std::time::Duration::from_secs(180),
                };
                let kopts = labrun::execute::kind::Options {
                    cluster: kind.cluster.clone(),
                    reuse: kind.reuse,
                    keep: kind.keep_cluster,
                    settle,
                };
                let mut k =
                    labrun::execute::kind::Kind::new(&lab.steps, &workdir, &out, cap, kopts)
                        .await?;
                drive(&lab, &mut k, &opts, &mut records).await
            }
        }
    })?;
    let (interrupted, failed) = interrupted;
    let runs = out.join("runs");
    let file = runs.join(format!(
        "{}.jsonl",
        labrun::run::timestamp(std::time::SystemTime::now())
    ));
    labrun::record::write(&file, &records)?;
    labrun::record::write(&out.join("last.jsonl"), &records)?;
    if let Some(e) = failed {
        eprintln!(
            "labrun: the run stopped after {} step(s); the partial run is in {}",
            records.len(),
            file.display()
        );
        return Err(e.into());
    }
    if interrupted {
        eprintln!(
            "labrun: interrupted after {} step(s); the partial run is in {}",
            records.len(),
            file.display()
        );
        return Ok(ExitCode::Interrupted);
    }
    eprintln!("labrun: run recorded in {}", file.display());
    check_and_report(&lab, path, &file, &records, format, strict)
}

/// Show each step while it runs: a spinner with the elapsed time on a terminal (cluster
/// creation and settling take minutes), log lines otherwise (`LABRUN_LOG=info`).
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
                tracing::info!(
                    "{} {} in {} ms (exit {})",
                    step.id,
                    status.label(),
                    record.duration_ms,
                    record.exit_code
                );
            }
        }
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
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

fn review(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(path)?;
    let pending_path = labrun::snapshot::pending_path(&lab.snapshot_path);
    let Some(pending) = labrun::snapshot::load(&pending_path)? else {
        println!("no pending snapshot entries for {}", path.display());
        return Ok(ExitCode::Success);
    };
    let mut snap = lab.snapshot_or_new();
    let order = lab.step_ids();
    let mut left = labrun::snapshot::Snapshot {
        document: pending.document.clone(),
        entries: Vec::new(),
    };
    let stdin = std::io::stdin();
    let mut answer = String::new();
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
        print!("[a]ccept, [r]eject, [s]kip? ");
        std::io::stdout().flush().ok();
        answer.clear();
        stdin.read_line(&mut answer).context("reading the answer")?;
        match answer.trim() {
            "a" | "accept" => snap.put(&id, entry, &order),
            "r" | "reject" => {}
            _ => left.entries.push((id, entry)),
        }
    }
    labrun::snapshot::save(&lab.snapshot_path, &snap)?;
    if left.entries.is_empty() {
        std::fs::remove_file(&pending_path).ok();
    } else {
        labrun::snapshot::save(&pending_path, &left)?;
    }
    Ok(ExitCode::Success)
}
