//! labrun makes tutorials executable: it reads a lab written in AsciiDoc or Markdown, splits
//! its shell blocks into steps, runs them, masks what legitimately changes between runs,
//! compares with accepted snapshots and renders the book annotated with the verdicts.
//!
//! The stages, in the order data flows through them, are the modules below; see
//! ARCHITECTURE.md.

pub mod bind;
pub mod check;
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
pub mod syntax;
pub mod workspace;
