//! The lab as a fixture: every step of the book's lab chapter, with its command, line and
//! printed output, against a listing reviewed line by line against the lab's text.

use std::path::Path;

use labrun::{document, steps};

const LAB: &str = "book/src/kubernetes-networking-abstractions.adoc";

fn lab_steps() -> Vec<steps::Step> {
    steps::split(&document::load(Path::new(LAB)).unwrap())
}

#[test]
fn every_step_matches_the_reviewed_listing() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/lab.steps.json").unwrap())
            .unwrap();
    let doc = document::load(Path::new(LAB)).unwrap();
    let steps = steps::split(&doc);
    let mut out = Vec::new();
    labrun::list::json(&doc, &steps, &mut out).unwrap();
    let actual: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let (a, e) = (&actual["steps"], &expected["steps"]);
    assert_eq!(a.as_array().unwrap().len(), 114);
    for (i, (a, e)) in a
        .as_array()
        .unwrap()
        .iter()
        .zip(e.as_array().unwrap())
        .enumerate()
    {
        assert_eq!(a, e, "step {i}");
    }
}

#[test]
fn lines_point_at_the_commands_in_the_source() {
    let source = std::fs::read_to_string(LAB).unwrap();
    let lines: Vec<&str> = source.lines().collect();
    for step in lab_steps() {
        let first = step.command.lines().next().unwrap();
        assert_eq!(lines[step.line - 1].trim(), first, "{}", step.id);
        if let (Some(l), Some(e)) = (step.expected_line, step.expected.first()) {
            assert_eq!(lines[l - 1], e, "{}", step.id);
        }
    }
}

#[test]
fn kind_output_keeps_its_kubectl_hint_line() {
    let steps = lab_steps();
    let create = &steps[0];
    assert_eq!(
        create.command,
        "kind create cluster --config=kind-ingress.yaml"
    );
    assert!(
        create
            .expected
            .contains("kubectl cluster-info --context kind-kind")
    );
    assert_eq!(
        create.expected.last().unwrap().split(' ').next(),
        Some("Have")
    );
}

#[test]
fn the_namespace_excerpt_is_not_a_step() {
    assert!(
        !lab_steps()
            .iter()
            .any(|s| s.command.starts_with("cni-") || s.line == 420)
    );
}

#[test]
fn watch_commands_without_output_have_none() {
    let steps = lab_steps();
    let watches: Vec<_> = steps
        .iter()
        .filter(|s| s.command.ends_with(" -w"))
        .collect();
    assert_eq!(watches.len(), 3);
    assert!(!watches[0].has_expected() && !watches[1].has_expected());
    assert_eq!(watches[2].expected.len(), 15);
}

#[test]
fn ids_are_section_and_ordinal_and_unique() {
    let steps = lab_steps();
    let mut ids: Vec<_> = steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids[0], "deploy-kind-cluster-with-ingress-enabled/1");
    assert!(ids.contains(&"cluster-ip/22"));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), steps.len());
}

#[test]
fn ids_do_not_shift_when_an_unrelated_block_is_added() {
    let source = std::fs::read_to_string(LAB).unwrap();
    let before = lab_steps();
    // A new block in the first section must not move the ids of later sections.
    let edited = source.replacen(
        "== Explore StatefulSets",
        "[source,bash]\n----\nkubectl version\n----\n\n== Explore StatefulSets",
        1,
    );
    let after = steps::split(&document::parse(Path::new(LAB), edited).unwrap());
    assert_eq!(after.len(), before.len() + 1);
    let later = |v: &[steps::Step]| {
        v.iter()
            .filter(|s| !s.id.starts_with("deploy-kind"))
            .map(|s| (s.id.clone(), s.command.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(later(&before), later(&after));
}

/// The book's copy is the user's lab with the mis-decoded lines repaired, the picture it names
/// (never supplied) drawn as an SVG, and sections added: every original line is still there,
/// in order.
#[test]
fn book_copy_keeps_every_line_of_the_original_in_order() {
    let original = Path::new("tests/fixtures/lab/kubernetes-networking-abstractions.adoc");
    let original = std::fs::read_to_string(original)
        .expect("the user's lab, kept byte for byte in tests/fixtures/lab/");
    let book = std::fs::read_to_string(LAB).unwrap();
    let b: Vec<&str> = book.split('\n').collect();
    let mut at = 0;
    let mut repaired = 0;
    for o in original.split('\n') {
        let mojibake = o.contains('‚') || o.contains("\u{f8ff}");
        if mojibake {
            // a repaired line: the next line of the book, without the mis-decoding
            repaired += 1;
            assert!(
                !b[at].contains('‚') && !b[at].contains("\u{f8ff}"),
                "not repaired: {}",
                b[at]
            );
            at += 1;
            continue;
        }
        let want = if o == "image::./container_connectivity.png[Pod to Pod External]" {
            "image::./container_connectivity.svg[Pod to Pod External]"
        } else {
            o
        };
        let found = b[at..].iter().position(|l| *l == want);
        let Some(k) = found else {
            panic!("original line missing (or out of order) in the book: {o:?}");
        };
        at += k + 1;
    }
    assert_eq!(repaired, 11);
    assert!(book.contains(" ✓ Preparing nodes 📦"));
    assert!(book.contains("\"/usr/local/bin/entr…\""));
}

/// The sections written for the lab (LoadBalancer, Ingress, Service Mesh, the image load, the
/// extra clean-up) carry outputs nobody has observed here: every one of their steps says so.
/// (The listing in tests/fixtures/lab.steps.json was regenerated when they were added; its 65
/// original steps were checked to be unchanged but for their line numbers.)
#[test]
fn the_added_sections_are_illustrative_until_a_live_run() {
    let steps = lab_steps();
    let added = |id: &str| {
        [
            "loadbalancer/",
            "deploy-an-ingress-controller/",
            "ingress-rules/",
            "linkerd/",
            "istio/",
        ]
        .iter()
        .any(|p| id.starts_with(p))
            || ["explore-statefulsets/8", "clean-up/2", "clean-up/3"].contains(&id)
    };
    let new: Vec<&steps::Step> = steps.iter().filter(|s| added(&s.id)).collect();
    assert_eq!(new.len(), 44);
    for s in &new {
        assert!(
            s.directives.illustrative,
            "{} is not marked illustrative",
            s.id
        );
    }
    // and nothing the user wrote was marked
    assert_eq!(
        steps.iter().filter(|s| s.directives.illustrative).count(),
        new.len()
    );
    // the image build prints nothing it claims: only its exit code is checked
    let build = steps
        .iter()
        .find(|s| s.id == "explore-statefulsets/7")
        .unwrap();
    assert_eq!(build.command, "./web-server/build-image.sh");
    assert!(!build.has_expected() && !build.directives.illustrative);
}

/// The user's lab, as written (kept byte for byte in `tests/fixtures/lab/`), splits into exactly its 65 steps with the lines,
/// commands and outputs the reader gave before it learned shortcodes, containers, grammar and
/// the rest (`tests/fixtures/user-lab.steps.json`, written by that earlier `labrun list`).
#[test]
fn the_users_lab_keeps_its_65_steps() {
    let path = Path::new("tests/fixtures/lab/kubernetes-networking-abstractions.adoc");
    let doc =
        document::load(path).expect("the user's lab, kept byte for byte in tests/fixtures/lab/");
    let steps = steps::split(&doc);
    let mut out = Vec::new();
    labrun::list::json(&doc, &steps, &mut out).unwrap();
    let actual: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/user-lab.steps.json").unwrap(),
    )
    .unwrap();
    assert_eq!(actual["steps"].as_array().unwrap().len(), 65);
    assert_eq!(actual["steps"], expected["steps"]);
}
