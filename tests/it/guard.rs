//! The guard on real documents: every step of the book's chapters and of the lab as the user
//! wrote it passes with the run's own cluster (no false refusal), and is refused when the run's
//! cluster has another name wherever a step names `kind` as the cluster.

use std::path::Path;

use labrun::execute::kind::guard::{Own, check};

fn steps(path: &Path) -> Vec<labrun::steps::Step> {
    labrun::lab::Lab::open(path).unwrap().steps
}

fn own(cluster: &str) -> Own<'_> {
    Own {
        cluster,
        kubeconfig: Path::new("/tmp/labrun-guard-test/kubeconfig"),
        server: Some("https://127.0.0.1:41234"),
        ca: Some("CA"),
        docker: &[],
        at_start: false,
    }
}

#[test]
fn every_step_of_the_book_and_the_lab_passes_with_the_runs_own_cluster() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![
        root.join("book/src/kubernetes-networking-abstractions.adoc"),
        root.join("book/src/pod-on-host.md"),
    ];
    docs.push(root.join("tests/fixtures/lab/kubernetes-networking-abstractions.adoc"));
    let mut seen = 0;
    for doc in &docs {
        for s in steps(doc) {
            seen += 1;
            if let Err(why) = check(&s.command, &own("kind")) {
                panic!(
                    "{}:{}: `{}` refused: {why}",
                    doc.display(),
                    s.line,
                    s.command
                );
            }
        }
    }
    assert!(seen > 100, "{seen} steps");
}

#[test]
fn with_another_cluster_name_the_labs_kind_delete_is_refused() {
    let lab = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("book/src/kubernetes-networking-abstractions.adoc");
    let refused: Vec<(String, String)> = steps(&lab)
        .into_iter()
        .filter_map(|s| {
            check(&s.command, &own("other"))
                .err()
                .map(|w| (s.command, w))
        })
        .collect();
    let delete = refused
        .iter()
        .find(|(c, _)| c.starts_with("kind delete cluster"))
        .expect("the lab's kind delete cluster step is refused");
    assert!(delete.1.contains("other than `other`"), "{}", delete.1);
    // only the steps that name the cluster `kind` are refused
    for (c, why) in &refused {
        assert!(c.contains("kind"), "{c}: {why}");
    }
}
