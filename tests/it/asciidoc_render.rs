//! The AsciiDoc-to-Markdown conversion on the whole lab: what mdBook will see.

use std::path::Path;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

const LAB: &str = "book/src/kubernetes-networking-abstractions.adoc";

fn converted() -> (labrun::document::Document, String) {
    let doc = labrun::document::load(Path::new(LAB)).unwrap();
    let md = labrun::render::asciidoc::to_markdown(
        &doc,
        "Kubernetes networking abstractions",
        &mut |i| format!("<!-- block {i} -->"),
    )
    .unwrap();
    (doc, md)
}

#[test]
fn every_section_becomes_a_heading_with_its_slug_as_anchor() {
    let (doc, md) = converted();
    for s in &doc.sections {
        let hashes = "#".repeat(s.level as usize + 1);
        let line = format!("{hashes} {} {{#{}}}", s.title, s.slug);
        assert!(md.lines().any(|l| l == line), "missing heading: {line}");
    }
}

#[test]
fn every_code_block_is_fenced_verbatim_and_followed_by_its_annotation() {
    let (doc, md) = converted();
    let mut code_blocks = Vec::new();
    let mut current: Option<String> = None;
    for e in Parser::new(&md) {
        match e {
            Event::Start(Tag::CodeBlock(_)) => current = Some(String::new()),
            Event::Text(t) if current.is_some() => current.as_mut().unwrap().push_str(&t),
            Event::End(TagEnd::CodeBlock) => code_blocks.push(current.take().unwrap()),
            _ => {}
        }
    }
    assert_eq!(code_blocks.len(), doc.blocks.len());
    for (b, got) in doc.blocks.iter().zip(&code_blocks) {
        assert_eq!(got.trim_end(), b.raw.trim_end(), "block at line {}", b.line);
    }
    for i in 0..doc.blocks.len() {
        assert!(
            md.contains(&format!("<!-- block {i} -->")),
            "annotation {i}"
        );
    }
}

#[test]
fn prose_has_no_asciidoc_markup_left() {
    let (_, md) = converted();
    let mut in_code = false;
    for e in Parser::new(&md) {
        match e {
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(t) if !in_code => {
                for bad in [
                    "[source,",
                    "----",
                    "image::",
                    "https://docs.docker.com/engine/install/[",
                ] {
                    assert!(!t.contains(bad), "left over {bad:?} in {t:?}");
                }
            }
            _ => {}
        }
    }
    assert!(md.contains("[here](https://docs.docker.com/engine/install/)"));
    assert!(md.contains("![Pod to Pod External](container_connectivity.svg)"));
    assert!(md.contains("*Figure: Pod on Host*"));
    assert!(md.contains("- Stable, unique network identifiers."));
    assert!(md.contains("1. Deploy Kind Cluster with ingress enabled"));
}
