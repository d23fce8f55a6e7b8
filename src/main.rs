//! The `labrun` command line: parses arguments, calls the library stages, maps errors to the
//! documented exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode as ProcessExit;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use labrun::error::{Error, ExitCode};

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

#[derive(Subcommand)]
enum Command {
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
    let filter = tracing_subscriber::EnvFilter::try_from_env("LABRUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(labrun_colour_stderr())
        .init();
}

fn labrun_colour_stderr() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
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
    }
}
