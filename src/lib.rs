//! labrun makes tutorials executable: it reads a lab written in AsciiDoc or Markdown, splits
//! its shell blocks into steps, runs them, masks what legitimately changes between runs,
//! compares with accepted snapshots and renders the book annotated with the verdicts.
//!
//! The stages, in the order data flows through them, are the modules below; see
//! ARCHITECTURE.md.

pub mod bind;
pub mod check;
pub mod cli;
pub mod compare;
pub mod config;
pub mod directive;
pub mod document;
pub mod error;
pub mod execute;
pub mod input;
pub mod lab;
pub mod list;
pub mod normalize;
pub mod policy;
pub mod promote;
pub mod record;
pub mod render;
pub mod report;
pub mod run;
pub mod snapshot;
pub mod steps;
pub mod suite;
pub mod syntax;
pub mod workspace;

/// Run `f`, catching a panic without the panic hook printing it: for a dependency's panic on
/// hostile input, which the caller turns into bad input. labrun's own code never runs under it.
pub fn quiet_panics<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> std::thread::Result<R> {
    use std::cell::Cell;
    thread_local!(static QUIET: Cell<bool> = const { Cell::new(false) });
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info)
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(f);
    QUIET.with(|q| q.set(was));
    r
}
