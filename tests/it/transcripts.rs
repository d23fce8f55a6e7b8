//! Each transcript style that real tutorials use, one Markdown fixture each.

use std::path::Path;

use labrun::{document, steps};

fn split(name: &str) -> Vec<steps::Step> {
    let path = Path::new("tests/fixtures/styles").join(name);
    steps::split(&document::load(&path).unwrap())
}

fn commands(steps: &[steps::Step]) -> Vec<&str> {
    steps.iter().map(|s| s.command.as_str()).collect()
}

#[test]
fn unprompted_commands_outputs_and_command_only_lines() {
    let s = split("unprompted.md");
    assert_eq!(
        commands(&s),
        [
            "kubectl get pods",
            "kubectl apply -f web.yaml",
            "ip netns add red",
            "ip netns add blue",
            "ip link add veth-red \\\n  type veth peer name veth-blue",
            "cat <<END > /tmp/hello\nhello\nEND",
            "cat /tmp/hello",
        ]
    );
    assert_eq!(s[0].expected.len(), 2);
    assert_eq!(s[1].expected, ["deployment.apps/app created"]);
    assert!(s[2..6].iter().all(|s| !s.has_expected()));
    assert_eq!(s[6].expected, ["hello"]);
    assert_eq!((s[0].line, s[0].expected_line), (6, Some(7)));
}

#[test]
fn prompted_dollar_user_host_sudo_and_root() {
    let s = split("prompted.md");
    assert_eq!(
        commands(&s),
        [
            "echo one",
            "echo two \\\nthree",
            "ip netns list",
            "sudo ip link show lo",
            "ip route",
            "hostname"
        ]
    );
    assert_eq!(s[1].expected, ["two three"]);
    assert_eq!(s[2].expected, ["red", "blue"]);
    assert_eq!(s[5].expected, ["node-1"]);
}

#[test]
fn output_in_a_following_block_introduced_by_a_colon() {
    let s = split("separate-output.md");
    assert_eq!(commands(&s), ["kubectl get services", "kubectl get nodes"]);
    assert_eq!(s[0].expected.len(), 2);
    assert_eq!(s[0].expected_line, Some(10));
    assert!(
        !s[1].has_expected(),
        "prose not ending in ':' does not introduce output"
    );
}

#[test]
fn a_block_without_commands_is_no_step() {
    assert!(split("excerpt.md").is_empty());
}

#[test]
fn announced_command_lines_stay_output() {
    let s = split("output-like-commands.md");
    assert_eq!(commands(&s), ["kind create cluster", "kubectl get nodes"]);
    assert!(
        s[0].expected
            .contains("kubectl cluster-info --context kind-kind")
    );
    assert_eq!(s[0].expected.last().unwrap(), "Have a nice day!");
}

#[test]
fn directives_apply_to_their_block() {
    let s = split("directives.md");
    assert!(s[0].directives.skip);
    assert_eq!(commands(&s[1..]), ["first-tool --flag", "second-tool"]);
    assert_eq!(s[1].expected, ["output of first tool"]);
    assert!(s[1].directives.unordered);
    assert_eq!(
        s[1].directives.timeout,
        Some(std::time::Duration::from_secs(120))
    );
    assert_eq!(
        s[2].directives.written,
        ["timeout=2m", "unordered", "commands=1,3"]
    );
}

#[test]
fn asciidoc_raw_text_is_byte_exact() {
    let src = "= T\n\n== S\n\n[source,bash]\n----\necho '<a> & b' # <1>\na & b\n\n\n----\n";
    let doc = document::parse(Path::new("x.adoc"), src.to_string()).unwrap();
    assert_eq!(doc.blocks[0].raw, "echo '<a> & b' # <1>\na & b\n\n\n");
    assert_eq!(doc.blocks[0].line, 7);
    assert_eq!(doc.sections[0].title, "S");
}
