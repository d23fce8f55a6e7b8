//! The whole lab, end to end, on a real kind cluster: `cargo test --test kind_e2e -- --ignored`.
//!
//! Needs Docker, kind (v0.27 or newer; its node image is pulled from the registry), kubectl,
//! Rust and network access for the images and manifests the lab installs, and no kind cluster
//! named `kind` (the run creates it and deletes it). None of that exists where labrun is built,
//! so these tests are ignored by default.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_labrun");
const LAB: &str = "book/src/kubernetes-networking-abstractions.adoc";

fn kind_nodes() -> usize {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster=kind"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .count()
}

#[test]
#[ignore = "needs kind"]
fn the_lab_runs_end_to_end_on_a_kind_cluster_of_its_own() {
    assert_eq!(
        kind_nodes(),
        0,
        "a kind cluster named `kind` exists; delete it first"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(BIN)
        .args(["run", LAB, "--backend", "kind", "--format", "json"])
        .current_dir(root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 0: everything matched; 1: drift. Anything else (refusal, environment) is a failure here.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = labrun::record::read(
        &root.join("target/labrun/book/src/kubernetes-networking-abstractions.adoc/last.jsonl"),
    )
    .unwrap();
    let steps = labrun::steps::split(&labrun::document::load(&root.join(LAB)).unwrap());
    let runnable = steps.iter().filter(|s| !s.directives.skip).count();
    assert_eq!(records.len(), runnable, "every step ran");
    for r in &records {
        assert!(r.is_live());
        assert!(
            r.unsettled.is_none(),
            "{} did not settle: {:?}",
            r.step,
            r.unsettled
        );
        let v = r.versions.as_ref().unwrap();
        assert!(v["kind"].as_str().unwrap().starts_with("kind v"));
    }
    assert!(
        records
            .iter()
            .any(|r| r.versions.as_ref().unwrap().get("kubernetes").is_some()),
        "the server's version was recorded"
    );
    eprintln!("{}", report["summary"]);
    // the lab's own `kind delete cluster` ran; nothing is left
    assert_eq!(kind_nodes(), 0);
}

#[test]
#[ignore = "needs kind"]
fn doctor_is_happy_where_kind_exists() {
    let out = Command::new(BIN)
        .args(["doctor", "--backend", "kind", LAB])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
