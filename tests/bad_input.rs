//! Bad input: a clear message naming file:line, exit 2, nothing on standard output.

use std::process::Command;

fn list(path: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(["list", "--format", "json", path])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_bad(path: &str, location: &str, words: &str) {
    let (code, stdout, stderr) = list(path);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "nothing written: {stdout}");
    assert!(stderr.contains(location), "{location} in {stderr}");
    assert!(stderr.contains(words), "{words} in {stderr}");
}

#[test]
fn unterminated_asciidoc_block() {
    assert_bad(
        "tests/fixtures/bad/unterminated.adoc",
        "unterminated.adoc:6",
        "never closed",
    );
}

#[test]
fn unterminated_markdown_fence() {
    assert_bad(
        "tests/fixtures/bad/unterminated.md",
        "unterminated.md:3",
        "never closed",
    );
}

#[test]
fn unknown_directive() {
    assert_bad(
        "tests/fixtures/bad/unknown-directive.md",
        "unknown-directive.md:5",
        "frobnicate",
    );
}

#[test]
fn directive_with_a_bad_value() {
    assert_bad(
        "tests/fixtures/bad/bad-value.adoc",
        "bad-value.adoc:5",
        "forever",
    );
}

#[test]
fn directive_not_above_a_block() {
    assert_bad(
        "tests/fixtures/bad/dangling-directive.md",
        "dangling-directive.md:3",
        "not directly above",
    );
}

#[test]
fn not_utf8() {
    assert_bad("tests/fixtures/bad/latin1.md", "latin1.md:4", "UTF-8");
}

#[test]
fn empty_file() {
    assert_bad("tests/fixtures/bad/empty.md", "empty.md", "empty");
}

#[test]
fn missing_file() {
    assert_bad(
        "tests/fixtures/bad/no-such-file.md",
        "no-such-file.md",
        "No such file",
    );
}

#[test]
fn unknown_extension_and_usage_errors() {
    assert_bad("Cargo.toml", "Cargo.toml", "unknown document format");
    let out = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(["list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
