//! The kind backend: a lab's steps against a kind cluster of the run's own.
//!
//! In: the lab, the cluster's name, `--reuse` / `--keep-cluster`. Out: a [`Backend`] whose
//! session has `KUBECONFIG` pointing at a kubeconfig under `target/labrun/<document>/`, never
//! the user's; that refuses any step that talks to a cluster unless the current context is a
//! kind cluster visible through Docker (`docker.rs`, `safety.rs`); that waits, after a step
//! that changed the cluster, until the cluster is quiet (`settle.rs`); and that deletes the
//! cluster it created at the end, on Ctrl-C too.

pub mod docker;
pub mod safety;
pub mod settle;
