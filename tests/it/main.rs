//! labrun's integration tests, one binary: each module is what used to be a test file of its
//! own (`cargo test --test it MODULE::` runs one; the guide's Tests chapter says what each
//! needs). One binary links the tree once, where 27 linked it 27 times.

mod common;

mod asciidoc_render;
mod bad_input;
mod book;
mod browser;
mod check_replay;
mod cli_check;
mod cli_run;
mod contain;
mod corpus;
mod docker_escape;
mod execute_shell;
mod fuzz;
mod guard;
mod kind_docker;
mod kind_e2e;
mod kube_tls;
mod lab;
mod manifests;
mod normalize_fixed;
mod promote;
mod sandbox;
mod settle;
mod settle_api;
mod suite;
mod transcripts;
mod web_server;
mod workspace;
