//! Stage 6, render: chapters of the book with each step's verdict beside it.
//!
//! In: a chapter's source (Markdown or AsciiDoc), its steps, and what is known about them
//! (the verdicts of a recorded run, or none). Out: mdBook Markdown: AsciiDoc converted from
//! its AST (`asciidoc.rs`), and after every code block that holds steps an annotation
//! (`annotate.rs`): a badge per step, the command as executed, the live output with masked
//! values marked, and for drift the diff. `preprocessor.rs` plugs this into mdBook.

pub mod annotate;
pub mod asciidoc;
pub mod confine;
pub mod preprocessor;
