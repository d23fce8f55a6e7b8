//! Stage 3, execute: commands run for real.
//!
//! In: a prepared command (bindings applied, TTY flags removed). Out: what it printed on
//! standard output and standard error (each capped), its exit code, its duration, and whether
//! it timed out or was cut. This module holds the shell session; backends (local, kind) build
//! on it.

pub mod shell;

pub use shell::{Outcome, Shell};
