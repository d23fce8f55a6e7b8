//! The reader on documents in the styles public tutorials use: every document of
//! `tests/corpus/` against the steps reviewed by hand beside it, and one test per reading rule
//! of the README ("What counts as a command") through `--explain`'s roles.

use std::path::{Path, PathBuf};

use labrun::steps::{self, Role};
use labrun::{document, list};
use serde_json::Value;

fn corpus() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir("tests/corpus")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(p.extension().and_then(|e| e.to_str()), Some("md" | "adoc"))
                && p.file_name().is_some_and(|n| n != "README.md")
        })
        .collect();
    docs.sort();
    docs
}

fn listing(doc: &Path) -> Value {
    let doc = document::load(doc).unwrap();
    let steps = steps::split(&doc);
    Value::Array(
        steps
            .iter()
            .map(|s| {
                serde_json::json!({
                    "line": s.line,
                    "command": s.command,
                    "expected": s.expected.text(),
                })
            })
            .collect(),
    )
}

#[test]
fn every_corpus_document_reads_as_reviewed() {
    let docs = corpus();
    assert!(docs.len() >= 20, "{} documents", docs.len());
    for doc in docs {
        let reviewed = doc.with_extension("steps.json");
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&reviewed).unwrap()).unwrap();
        let actual = listing(&doc);
        let (a, e) = (actual.as_array().unwrap(), expected.as_array().unwrap());
        for (i, (a, e)) in a.iter().zip(e).enumerate() {
            assert_eq!(a, e, "{} step {}", doc.display(), i + 1);
        }
        assert_eq!(a.len(), e.len(), "{}: number of steps", doc.display());
    }
}

/// The role and rule `--explain` gives the line of `doc` whose text (trimmed) is `text`.
fn role_of(doc: &str, text: &str) -> (Role, &'static str) {
    let doc = document::load(Path::new("tests/corpus").join(doc).as_path()).unwrap();
    let roles = steps::explain(&doc);
    for (block, roles) in doc.blocks.iter().zip(&roles) {
        for (line, role) in block.raw.lines().zip(roles) {
            if line.trim() == text {
                return (role.role, role.rule);
            }
        }
    }
    panic!("no line `{text}`");
}

#[test]
fn rule_1_prompts_inside_containers_and_commands_above_the_first_prompt() {
    assert_eq!(
        role_of("container-shells.md", "/ # ip route").0,
        Role::Command
    );
    assert_eq!(
        role_of("container-shells.md", "sh-4.2$ id -u").0,
        Role::Command
    );
    assert_eq!(
        role_of("container-shells.md", "bash-5.0# ps -o pid,comm").0,
        Role::Command
    );
    assert_eq!(
        role_of("container-shells.md", "1     sleep").0,
        Role::Output
    );
    let (role, rule) = role_of("top-unprompted.md", "kubectl exec -it client -- bash");
    assert_eq!(role, Role::Command);
    assert_eq!(rule, steps::rule::BEFORE_PROMPTS);
}

#[test]
fn rule_2_aliases_functions_and_command_substitutions_start_commands() {
    assert_eq!(role_of("aliases.md", "k get pods").0, Role::Command);
    assert_eq!(role_of("loops.md", "greet cluster").0, Role::Command);
    assert_eq!(
        role_of(
            "assignments.md",
            "NODE_IP=`kubectl get nodes -o jsonpath='{.items[0].status.addresses[0].address}'`"
        )
        .0,
        Role::Command
    );
    let (role, rule) = role_of("loops.md", "{");
    assert_eq!((role, rule), (Role::Command, steps::rule::GROUP));
    // printed JSON opens with `{` too, and stays output
    assert_eq!(
        role_of("output-languages.md", "\"port\": 8080,").0,
        Role::Output
    );
}

#[test]
fn rule_4_where_a_command_ends_is_bash_grammar() {
    assert_eq!(role_of("loops.md", "done").0, Role::Continuation);
    assert_eq!(role_of("loops.md", "esac").0, Role::Continuation);
    assert_eq!(
        role_of("open-quotes.md", "second line'").0,
        Role::Continuation
    );
    // a command that never closes within its block ends at its line
    assert_eq!(role_of("open-quotes.md", "its late").0, Role::Output);
    // a `> ` after a line ending in `\` is a continuation prompt in any block
    let (role, rule) = role_of("continuation-prompts.md", "> --restart=Never \\");
    assert_eq!((role, rule), (Role::Continuation, steps::rule::GRAMMAR));
}

#[test]
fn rule_5_a_comment_above_a_prompted_command_is_no_output() {
    assert_eq!(
        role_of("prompted-comments.md", "# create the clusters' workloads"),
        (Role::Comment, steps::rule::COMMENT_ABOVE_PROMPT)
    );
    assert_eq!(
        role_of("prompted-comments.md", "# a line the script printed last").0,
        Role::Output
    );
}

#[test]
fn rule_6_a_repeated_command_after_output_starts_a_step() {
    assert_eq!(
        role_of("repeated-command.md", "curl localhost:8080/healthz"),
        (Role::Command, steps::rule::REPEATED)
    );
    // an indented hint in printed NOTES stays output
    assert_eq!(
        role_of("repeated-command.md", "kubectl get pods -l app=shop").0,
        Role::Output
    );
}

#[test]
fn rule_7_output_in_the_next_block() {
    assert_eq!(
        role_of("k8s-separate-output.md", "service/hello exposed"),
        (Role::Output, steps::rule::NEXT_BLOCK)
    );
    // a manifest after a command that prints no YAML is not its output
    assert_eq!(role_of("output-languages.md", "kind: Pod").0, Role::Skipped);
    // commands stay commands after a colon
    assert_eq!(
        role_of(
            "k8s-separate-output.md",
            "kubectl rollout status deployment hello"
        )
        .0,
        Role::Command
    );
}

#[test]
fn rule_11_shortcodes_and_containers() {
    let s = listing(Path::new("tests/corpus/hugo-text-prompts.md"));
    assert_eq!(
        s[0]["command"],
        "kubectl apply -f samples/echo/echo-v1.yaml -n mirror"
    );
    let s = listing(Path::new("tests/corpus/blockquote-fence.md"));
    assert!(s[0]["expected"].as_str().unwrap().starts_with("1: lo:"));
    assert_eq!(
        role_of("hugo-code-from-inline.md", "kind: Cluster").0,
        Role::Skipped
    );
}

fn warnings(doc: &str) -> String {
    let doc = document::load(Path::new("tests/corpus").join(doc).as_path()).unwrap();
    let steps = steps::split(&doc);
    let mut out = Vec::new();
    list::warnings(&doc, &steps, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_document_that_shows_commands_but_yields_no_step_is_warned_about() {
    let w = warnings("no-step-text-blocks.md");
    assert!(w.contains("no-step-text-blocks.md:4: no step found"), "{w}");
    assert!(w.contains("`text` block"), "{w}");
    assert_eq!(warnings("loops.md"), "");
}

/// A one-line shell block whose program labrun does not know yields no step, and says so at
/// its line, with the ways to make it one.
#[test]
fn a_one_line_block_of_an_unknown_program_is_warned_about_at_its_line() {
    let w = warnings("own-tools.md");
    assert!(
        w.contains("own-tools.md:18: no step found in this block, though `coursectl --version` reads like a command"),
        "{w}"
    );
    assert!(w.contains("[.console-input]"), "{w}");
    assert_eq!(w.lines().count(), 1, "{w}");
}

#[test]
fn asciidoc_headings_out_of_sequence_are_warnings_with_their_line() {
    let w = warnings("chapter-deeper.adoc");
    assert!(
        w.contains("chapter-deeper.adoc:1: Section title out of sequence"),
        "{w}"
    );
    let w = warnings("out-of-sequence.adoc");
    assert!(
        w.contains("out-of-sequence.adoc:10: Section title out of sequence"),
        "{w}"
    );
}

#[test]
fn asciidoc_is_read_where_asciidoctor_reads_it_with_warnings() {
    // a heading out of sequence and a block never closed: Asciidoctor warns about both and
    // renders the block to the end of the document
    let doc = document::parse(
        Path::new("x.adoc"),
        "==== Deep\n\n[source,bash]\n----\necho hi\n".into(),
    )
    .unwrap();
    let messages: Vec<String> = doc
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.line, w.message))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("4: this `----` block is never closed")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("1: Section title out of sequence")),
        "{messages:?}"
    );
    assert_eq!(steps::split(&doc)[0].command, "echo hi");
    // what Asciidoctor only warns about in the corpus document, each at its line
    let w = warnings("asciidoc-lenient.adoc");
    for at in [
        "asciidoc-lenient.adoc:4: Found macro placing Table of Contents",
        "asciidoc-lenient.adoc:6: Invalid cross reference",
    ] {
        assert!(w.contains(at), "{at} in {w}");
    }
}

#[test]
fn two_line_titles_are_sections_as_asciidoctor_reads_them() {
    let doc = document::load(Path::new("tests/corpus/asciidoc-lenient.adoc")).unwrap();
    let titles: Vec<&str> = doc.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Start the registry", "Check it", "Plain notes"]);
    let ids: Vec<String> = steps::split(&doc).into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["start-the-registry/1", "check-it/1", "plain-notes/1"]);
}

#[test]
fn untyped_blocks_say_which_rule_read_them() {
    let doc = document::load(Path::new("tests/corpus/untyped-fences.md")).unwrap();
    let rules: Vec<Option<&str>> = (0..doc.blocks.len())
        .map(|i| steps::untyped_rule(&doc, i))
        .collect();
    assert_eq!(rules[0], Some(steps::UNTYPED_RULES[0]), "a `$` prompt");
    assert_eq!(
        rules[1],
        Some(steps::UNTYPED_RULES[1]),
        "a known program with arguments"
    );
    assert_eq!(
        rules[2],
        Some(steps::UNTYPED_RULES[0]),
        "a root prompt opening the block"
    );
    assert_eq!(rules[5], None, "a YAML file");
    assert_eq!(rules[7], None, "a directory tree");
    assert_eq!(rules[8], None, "JSON");

    let doc = document::load(Path::new("tests/corpus/mdrip-readme.md")).unwrap();
    let rules: Vec<Option<&str>> = (0..doc.blocks.len())
        .map(|i| steps::untyped_rule(&doc, i))
        .collect();
    assert_eq!(rules[0], Some(steps::UNTYPED_RULES[2]), "X=$(command)");
    assert_eq!(
        rules[1],
        Some(steps::UNTYPED_RULES[2]),
        "X=$Y, then a command"
    );
    assert_eq!(rules[7], None, "an env file");
    assert_eq!(
        rules[8],
        Some(steps::UNTYPED_RULES[1]),
        "a command in a yaml fence"
    );
    assert_eq!(
        rules[9],
        Some(steps::UNTYPED_RULES[2]),
        "a command's output inside a default value"
    );
}

#[test]
fn a_lone_cr_ends_a_line_in_markdown_as_in_commonmark_and_stays_text_in_asciidoc() {
    let md = "# T\n\n```console\n$ echo one\rone\r$ echo two\rtwo\r```\n";
    let doc = document::parse(Path::new("cr.md"), md.to_string()).unwrap();
    let steps = steps::split(&doc);
    let read: Vec<(&str, String)> = steps
        .iter()
        .map(|s| (s.command.as_str(), s.expected.text().to_string()))
        .collect();
    assert_eq!(
        read,
        [("echo one", "one".into()), ("echo two", "two".into())]
    );
    assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
    // Asciidoctor reads lines at LF only: the CR stays inside the line
    let adoc = "= T\n\n[source,console]\n----\n$ echo one\rone\n----\n";
    let doc = document::parse(Path::new("cr.adoc"), adoc.to_string()).unwrap();
    assert_eq!(steps::split(&doc)[0].command, "echo one\rone");
}
