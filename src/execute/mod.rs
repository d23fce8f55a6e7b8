//! Stage 3, execute: commands run for real.
//!
//! In: a prepared command (bindings applied, TTY flags removed). Out: what it printed on
//! standard output and standard error (each capped), its exit code, its duration, and whether
//! it timed out or was cut. [`Shell`] is the session every backend runs steps in; a
//! [`Backend`] decides where that session lives (a scratch directory, a network namespace, a
//! kind cluster's isolation) and what happens around each step (refusal, settling).

pub mod contain;
pub mod copy;
pub mod docker_proxy;
pub mod kind;
pub mod local;
pub mod procs;
pub mod sandbox;
pub mod shell;

pub use local::{Local, Sandboxing};
pub use shell::{Outcome, Shell, Terminal};

use crate::error::Result;

/// What a backend says about a step before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    Run,
    /// Not run, for this reason (recorded; the step is reported as skipped).
    Skip(String),
}

/// Where and around what a run's steps execute. One small seam: the runner asks for the
/// session, and calls the hooks around each step.
#[allow(async_fn_in_trait)] // used on one thread; no Send bound wanted
pub trait Backend {
    /// `local`, `kind`.
    fn name(&self) -> &'static str;

    /// The session the steps run in.
    fn shell(&self) -> &Shell;

    /// The command to run for a step (bindings applied): the kind backend running a lab under
    /// another cluster name rewrites the lab's name to it.
    fn rewrite(&self, command: &str) -> String {
        command.to_string()
    }

    /// The name the run's cluster has, standing for the lab's own, recorded with each step.
    fn renamed(&self) -> Option<crate::record::Renamed> {
        None
    }

    /// Before a step runs, with the command as it will run: run it, skip it (with the
    /// reason), or refuse it with an error (which stops the run).
    async fn before(&mut self, _command: &str) -> Result<Admit> {
        Ok(Admit::Run)
    }

    /// After a step ran: wait for what it changed to settle. `Some(why)` fails the step.
    async fn after(&mut self, _command: &str, _outcome: &Outcome) -> Result<Option<String>> {
        Ok(None)
    }

    /// A step's own timeout, when this backend knows better than the run's default (a
    /// `timeout` directive still wins).
    fn timeout(&self, _command: &str) -> Option<std::time::Duration> {
        None
    }

    /// Whether a read-only step whose output does not match is tried again without a `retry`
    /// directive (while [`changing`](Backend::changing) says something around it may still
    /// change what it prints). A `retry=` directive always gets its whole budget.
    fn retries(&self) -> bool {
        true
    }

    /// Whether something around the steps is still changing now: while it is, a step that
    /// does not match is tried again; once it is not, the drift is known.
    async fn changing(&mut self) -> bool {
        false
    }

    /// How many tries in a row with the same output end a step's retries even while
    /// something around it is changing (a server left running in the background changes
    /// nothing a `cat` prints); `None`: only [`changing`](Backend::changing) and the budget do.
    fn steady_after(&self) -> Option<u32> {
        None
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
