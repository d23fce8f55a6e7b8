//! The longer commands of the binary, one file each; `main.rs` parses arguments and keeps the
//! short ones.

pub(crate) mod book;
pub(crate) mod kind;
pub(crate) mod run;
pub(crate) mod snapshot;
pub(crate) mod suite;
