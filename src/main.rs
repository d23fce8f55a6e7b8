//! The `labrun` binary: a thin shell around [`labrun::cli`]. It starts the two helpers a run
//! spawns (`__sandbox`, `__guard`), sets up logging, parses the arguments and maps the
//! result to the documented exit codes.

use std::process::ExitCode as ProcessExit;

use clap::Parser;
use labrun::cli::Cli;
use labrun::error::ExitCode;

fn main() -> ProcessExit {
    // The kind backend's shims call `labrun __guard STATE PROGRAM ARGS…` before every cluster
    // program a step starts: checked first, with nothing else parsed (the arguments are the
    // program's).
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The run's sandbox: `labrun __sandbox SPEC` builds it and is its first process (a fresh,
    // single-threaded process, as entering namespaces needs).
    if argv.get(1).is_some_and(|a| a == "__sandbox") {
        return ProcessExit::from(labrun::execute::sandbox::main(&argv[2..]));
    }
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
    match labrun::cli::execute(cli) {
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
            let code = labrun::error::exit_code_of(&err);
            eprintln!("labrun: {err:#}");
            // a document run for a run of many says why in the report it was asked for
            if let Some((file, document, index)) = labrun::cli::run::REPORT_FILE.get() {
                let d = labrun::suite::DocReport::without_steps(
                    document,
                    *index,
                    labrun::suite::Outcome::Error,
                    code as u8,
                    format!("{err:#}"),
                );
                if let Ok(text) = serde_json::to_string(&d) {
                    let _ = labrun::record::write_atomic(file, text.as_bytes());
                }
            }
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
