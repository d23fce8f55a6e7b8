//! Stage 3, execute: commands run for real.
//!
//! In: a prepared command (bindings applied, TTY flags removed). Out: what it printed on
//! standard output and standard error (each capped), its exit code, its duration, and whether
//! it timed out or was cut. [`Shell`] is the session every backend runs steps in; a
//! [`Backend`] decides where that session lives (a scratch directory, a network namespace, a
//! kind cluster's isolation) and what happens around each step (refusal, settling).

pub mod kind;
pub mod local;
pub mod netns;
pub mod shell;

pub use local::Local;
pub use shell::{Outcome, Shell, Terminal};

use crate::error::Result;

/// Where and around what a run's steps execute. One small seam: the runner asks for the
/// session, and calls the hooks around each step.
#[allow(async_fn_in_trait)] // used on one thread; no Send bound wanted
pub trait Backend {
    /// `local`, `kind`.
    fn name(&self) -> &'static str;

    /// The session the steps run in.
    fn shell(&self) -> &Shell;

    /// Before a step runs, with the command as it will run: an error refuses it (and stops
    /// the run).
    async fn before(&mut self, _command: &str) -> Result<()> {
        Ok(())
    }

    /// After a step ran: wait for what it changed to settle.
    async fn after(&mut self, _command: &str, _outcome: &Outcome) -> Result<()> {
        Ok(())
    }

    /// Versions of what the steps run against, recorded with each step.
    fn versions(&self) -> Option<serde_json::Value> {
        None
    }

    /// At the end of the run, interrupted or not.
    async fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
