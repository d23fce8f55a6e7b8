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
fn unterminated_asciidoc_block_is_read_to_the_end_as_asciidoctor_reads_it() {
    // Asciidoctor warns ("unterminated listing block") and reads the block to the end of the
    // document; so does labrun, with the warning at the delimiter's line
    let (code, stdout, stderr) = list("tests/fixtures/bad/unterminated.adoc");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("unterminated.adoc:6: this `----` block is never closed"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["steps"][0]["command"], "echo hi");
    assert_eq!(v["steps"][0]["expected"], "hi\n\n== Two");
}

#[test]
fn unterminated_markdown_fence_is_read_to_the_end_as_commonmark_reads_it() {
    let (code, stdout, stderr) = list("tests/fixtures/bad/unterminated.md");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("unterminated.md:3: code block opened with ````` is never closed"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["steps"][0]["command"], "echo hi");
    assert_eq!(v["steps"][0]["expected"], "hi");
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

/// `labrun ARGS` in `dir`: exit code, standard output, standard error.
fn labrun_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(args)
        .current_dir(dir)
        .env("CI", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), text).unwrap();
    dir
}

/// `labrun list --format json` of `doc` as `d.adoc`: exit code, the listing (null when
/// stdout is no JSON) and stderr.
fn list_json(doc: &str) -> (i32, serde_json::Value, String) {
    let dir = scratch("d.adoc", doc);
    let (code, stdout, stderr) = labrun_in(dir.path(), &["list", "--format", "json", "d.adoc"]);
    let v = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (code, v, stderr)
}

#[test]
fn deeply_nested_asciidoc_blocks_are_refused_not_a_crash() {
    let mut doc = String::from("= Deep\n\n");
    for k in 0..2_500 {
        doc.push_str(&format!("{}\n", if k % 2 == 0 { "====" } else { "****" }));
    }
    for k in (0..2_500).rev() {
        doc.push_str(&format!("{}\n", if k % 2 == 0 { "====" } else { "****" }));
    }
    let dir = scratch("deep.adoc", &doc);
    for cmd in [
        &["list", "deep.adoc"][..],
        &["list", "--explain", "deep.adoc"],
    ] {
        let (code, stdout, stderr) = labrun_in(dir.path(), cmd);
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains("deep.adoc:67: delimited blocks nested more than 64 deep"),
            "{stderr}"
        );
    }
}

#[test]
fn a_byte_order_mark_before_a_fence_is_no_error() {
    let dir = scratch("bom.md", "\u{feff}```bash\necho hi\nhi\n```\n");
    let (code, stdout, stderr) = labrun_in(dir.path(), &["list", "--format", "json", "bom.md"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"command\": \"echo hi\""), "{stdout}");
    assert!(stdout.contains("\"line\": 2"), "{stdout}");
}

#[test]
fn a_directive_shown_inside_a_code_fence_is_text() {
    let doc = "# How to\n\nWrite this above a block:\n\n```markdown\n<!-- labrun: skip -->\n```\n";
    let dir = scratch("howto.md", doc);
    let (code, _, stderr) = labrun_in(dir.path(), &["list", "howto.md"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn directive_values_out_of_range_or_contradicting_are_errors_at_their_line() {
    for (directive, words) in [
        ("timeout=1147797409030816545h", "longer than"),
        ("exit=256", "0 to 255"),
        ("exit=-1", "0 to 255"),
        ("retry no-retry", "contradicts"),
        ("commands=5", "the block has 2 line(s)"),
    ] {
        let doc = format!("# T\n\n<!-- labrun: {directive} -->\n```bash\necho a\necho b\n```\n");
        let dir = scratch("d.md", &doc);
        let (code, stdout, stderr) = labrun_in(dir.path(), &["list", "d.md"]);
        assert_eq!(code, 2, "{directive}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains("d.md:3:"), "{directive}: {stderr}");
        assert!(stderr.contains(words), "{directive}: {stderr}");
    }
}

#[test]
fn a_step_recorded_twice_in_a_run_file_is_bad_input() {
    let dir = scratch("d.md", "# T\n\n```bash\necho a\na\n```\n");
    let r = r#"{"step":"t/1","command":"echo a","stdout":"a\n","stderr":"","exit_code":0,"duration_ms":1}"#;
    std::fs::write(dir.path().join("run.jsonl"), format!("{r}\n{r}\n")).unwrap();
    let (code, _, stderr) = labrun_in(dir.path(), &["check", "d.md", "--replay", "run.jsonl"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("run.jsonl:2: step `t/1` is recorded twice"),
        "{stderr}"
    );
}

#[test]
fn review_refuses_a_pending_entry_for_a_step_the_document_lacks() {
    let dir = scratch("d.md", "# T\n\n```bash\necho a\na\n```\n");
    std::fs::create_dir(dir.path().join("snapshots")).unwrap();
    std::fs::write(
        dir.path().join("snapshots/d.md.snap.new"),
        "# labrun snapshot of d.md\n\n=== gone/1\ncommand: echo b\norigin: run\nexit: 0\n| b\n",
    )
    .unwrap();
    let (code, _, stderr) = labrun_in(dir.path(), &["review", "d.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`gone/1`"), "{stderr}");
}

#[test]
fn a_reader_that_stops_reading_ends_labrun_quietly() {
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "'{}' list book/src/kubernetes-networking-abstractions.adoc | head -1; echo \"rc=${{PIPESTATUS[0]}}\"",
                env!("CARGO_BIN_EXE_labrun")
            ),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rc=0"), "{stdout}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn thousands_of_identical_headings_get_unique_step_ids() {
    let mut doc = String::new();
    for _ in 0..8_000 {
        doc.push_str("## Same\n\n```bash\necho x\n```\n\n");
    }
    let dir = scratch("same.md", &doc);
    let (code, stdout, stderr) = labrun_in(dir.path(), &["list", "--format", "json", "same.md"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let ids: std::collections::HashSet<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 8_000);
    assert!(ids.contains("same-8000/1") && ids.contains("same/1"));
}

#[test]
fn the_workdir_copy_keeps_links_inside_and_leaves_out_what_points_elsewhere() {
    let doc = "# Links\n\n```bash\ntest -L self && test -L inner && cat inner && test ! -e ssh && test ! -e .#doc.md && echo ok\nhello\nok\n```\n";
    let dir = scratch("doc.md", doc);
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/file"), "hello\n").unwrap();
    std::os::unix::fs::symlink(".", d.join("self")).unwrap();
    std::os::unix::fs::symlink("sub/file", d.join("inner")).unwrap();
    std::os::unix::fs::symlink("/etc/ssh", d.join("ssh")).unwrap();
    std::os::unix::fs::symlink("root@host.4242:1700000000", d.join(".#doc.md")).unwrap();
    let (code, stdout, stderr) = labrun_in(d, &["run", "doc.md"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("points outside the directory being copied"),
        "{stderr}"
    );
}

#[test]
fn control_sequences_a_step_printed_never_reach_the_terminal_and_junit_stays_well_formed() {
    // an exit code that differs: the report shows what the step printed, as it printed it
    let doc = "# Esc\n\n```bash\nprintf '\\033]0;pwned\\007\\033[2J\\357\\277\\277done\\n'; exit 3\nplain\n```\n";
    let dir = scratch("esc.md", doc);
    std::fs::write(dir.path().join("labrun.toml"), "retry = \"1s\"\n").unwrap();
    let (code, stdout, _) = labrun_in(dir.path(), &["run", "esc.md"]);
    assert_eq!(code, 1);
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout:?}"
    );
    assert!(stdout.contains("\\u{1b}]0;pwned\\u{7}"), "{stdout}");
    let (_, xml, _) = labrun_in(
        dir.path(),
        &[
            "check",
            "esc.md",
            "--replay",
            "target/labrun/esc.md/last.jsonl",
            "--format",
            "junit",
        ],
    );
    assert!(xml.starts_with("<?xml"), "{xml}");
    for c in xml.chars() {
        let allowed = matches!(c, '\t' | '\n' | '\r')
            || (!c.is_control() && c != '\u{fffe}' && c != '\u{ffff}');
        assert!(allowed, "XML 1.0 forbids {c:?} in {xml:?}");
    }
}

#[test]
fn endless_inputs_are_refused_before_they_are_read() {
    let dir = scratch("d.md", "# T\n\n```bash\necho a\na\n```\n");
    let d = dir.path();
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.md")).unwrap();
    let (code, _, stderr) = labrun_in(d, &["list", "zero.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("zero.md: a device: labrun reads regular files only"),
        "{stderr}"
    );
    let (code, _, stderr) = labrun_in(d, &["check", "d.md", "--replay", "/dev/zero"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("/dev/zero: a device: labrun reads regular files only"),
        "{stderr}"
    );
    // a regular file past the cap is refused after the cap, not read to its end
    let big = std::fs::File::create(d.join("big.md")).unwrap();
    big.set_len(65 << 20).unwrap();
    let (code, _, stderr) = labrun_in(d, &["list", "big.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("big.md: larger than 64 MiB, the most labrun reads for a document"),
        "{stderr}"
    );
}

#[test]
fn a_fifo_given_as_document_run_or_snapshot_is_refused_at_once_not_waited_on() {
    let dir = scratch("d.md", "# T\n\n```bash\necho a\na\n```\n");
    let d = dir.path();
    for name in ["fifo.md", "run.jsonl"] {
        nix::unistd::mkfifo(
            &d.join(name),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
    }
    let (code, _, stderr) = labrun_in(d, &["list", "fifo.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("fifo.md: a FIFO: labrun reads regular files only"),
        "{stderr}"
    );
    let (code, _, stderr) = labrun_in(d, &["check", "d.md", "--replay", "run.jsonl"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("run.jsonl: a FIFO"), "{stderr}");
    // the snapshot where the document's would be
    let snaps = d.join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    nix::unistd::mkfifo(
        &snaps.join("d.md.snap"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let (code, _, stderr) = labrun_in(d, &["check", "d.md", "--replay", "/dev/null"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("d.md.snap: a FIFO"), "{stderr}");
}

#[test]
fn a_run_file_that_is_not_utf8_names_its_line() {
    let dir = scratch("d.md", "# T\n\n```bash\necho a\na\n```\n");
    let r = r#"{"step":"t/1","command":"echo a","stdout":"a\n","stderr":"","exit_code":0,"duration_ms":1}"#;
    let mut bytes = format!("\n{r}\n").into_bytes();
    bytes.extend_from_slice(b"{\"step\":\"\xff\"}\n");
    std::fs::write(dir.path().join("run.jsonl"), bytes).unwrap();
    let (code, _, stderr) = labrun_in(dir.path(), &["check", "d.md", "--replay", "run.jsonl"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("run.jsonl:3: not valid UTF-8"), "{stderr}");
}

/// A run file some editor saved with a byte-order mark reads as the same run.
#[test]
fn a_byte_order_mark_before_a_run_file_is_no_error() {
    let dir = scratch("d.md", "# T\n\n```bash\necho a\na\n```\n");
    let r = r#"{"step":"t/1","command":"echo a","stdout":"a\n","stderr":"","exit_code":0,"duration_ms":1,"origin":"run"}"#;
    std::fs::write(dir.path().join("run.jsonl"), format!("\u{feff}{r}\n")).unwrap();
    let (code, stdout, stderr) = labrun_in(dir.path(), &["check", "d.md", "--replay", "run.jsonl"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

/// Inputs of a few bytes that ask a parser for gigabytes or for a stack it does not have: each
/// is refused at the line that goes past labrun's limit, before the parser sees it.
#[test]
fn documents_that_would_cost_the_reader_gigabytes_are_refused_at_their_line() {
    let mut bomb = String::from("= Bomb\n:a0: 0123456789abcdef\n");
    for i in 1..30 {
        bomb.push_str(&format!(":a{i}: {{a{}}}{{a{}}}\n", i - 1, i - 1));
    }
    bomb.push_str("\n{a29}\n");
    let deep: String = (1..=3000)
        .map(|n| format!("{} item\n", "*".repeat(n)))
        .collect();
    let table = format!("= T\n\n|===\n{}|===\n", "|a |b\n".repeat(300_000));
    let adoc_blocks = format!("= M\n\n{}", "----\nx\n----\n\n".repeat(60_000));
    let md_blocks = format!("# M\n\n{}", "```\nx\n```\n".repeat(60_000));
    for (name, text, message) in [
        (
            "bomb.adoc",
            bomb.as_str(),
            "bomb.adoc:19: the attribute `a17` expands to more than 1024 KiB",
        ),
        (
            "deep.adoc",
            deep.as_str(),
            "deep.adoc:65: a list nested more than 64 deep",
        ),
        (
            "table.adoc",
            table.as_str(),
            "table.adoc:50004: more than 100000 table cells",
        ),
        (
            "blocks.adoc",
            adoc_blocks.as_str(),
            "blocks.adoc:200003: more than 50000 code blocks",
        ),
        (
            "blocks.md",
            md_blocks.as_str(),
            "blocks.md:150003: more than 50000 code blocks",
        ),
    ] {
        let dir = scratch(name, text);
        let (code, stdout, stderr) = labrun_in(dir.path(), &["list", name]);
        assert_eq!(code, 2, "{name}: {stdout}{stderr}");
        assert!(stderr.contains(message), "{name}: {stderr}");
    }
}

/// `ifdef`/`endif` pairs nested inside each other are valid AsciiDoc, and read.
#[test]
fn nested_conditionals_are_read() {
    let doc = "= I\n:x:\n\nifdef::x[]\nifdef::y[]\ninner\nendif::y[]\n[source,console]\n----\n$ echo hi\nhi\n----\nendif::x[]\n";
    let dir = scratch("ifdef.adoc", doc);
    let (code, stdout, stderr) = labrun_in(dir.path(), &["list", "ifdef.adoc"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("$ echo hi"), "{stdout}");
}

#[test]
fn configuration_that_cannot_work_is_an_error() {
    let dir = scratch("d.md", "# T\n\n```bash\necho a\na\n```\n");
    std::fs::write(
        dir.path().join("labrun.toml"),
        "timeout = \"30s\"\noutput-cap = 0\n",
    )
    .unwrap();
    let (code, _, stderr) = labrun_in(dir.path(), &["run", "d.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("labrun.toml:2: output-cap = 0"), "{stderr}");
    // a cap whose record could not be read back (control bytes on both streams)
    std::fs::write(dir.path().join("labrun.toml"), "output-cap = 33554432\n").unwrap();
    let (code, _, stderr) = labrun_in(dir.path(), &["run", "d.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("labrun.toml:1: output-cap = 33554432: expected 1024 to 16777216"),
        "{stderr}"
    );
    // no step may have no time at all
    std::fs::write(dir.path().join("labrun.toml"), "timeout = \"0s\"\n").unwrap();
    let (code, _, stderr) = labrun_in(dir.path(), &["run", "d.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("at least 1ms"), "{stderr}");
    std::fs::remove_file(dir.path().join("labrun.toml")).unwrap();
    std::fs::create_dir(dir.path().join("labrun.toml")).unwrap();
    let (code, _, stderr) = labrun_in(dir.path(), &["run", "d.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("labrun.toml is not a file"), "{stderr}");
}

#[test]
fn an_include_is_named_not_dropped_without_a_word() {
    let doc = "= T\n\n== S\n\ninclude::setup.adoc[]\n\n[source,bash]\n----\necho a\n----\n";
    let dir = scratch("inc.adoc", doc);
    let (code, _, stderr) = labrun_in(dir.path(), &["list", "inc.adoc"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: inc.adoc:5: `include::setup.adoc[]` is not read"),
        "{stderr}"
    );
}

#[test]
fn an_unterminated_heredoc_is_bad_input_at_its_line() {
    let doc = "# T\n\n```bash\necho start\ncat <<EOF > notes.txt\nfirst\nsecond\n```\n";
    let dir = scratch("h.md", doc);
    for cmd in [&["list", "h.md"][..], &["run", "h.md"]] {
        let (code, stdout, stderr) = labrun_in(dir.path(), cmd);
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains("h.md:5: this command opens a here-document"),
            "{stderr}"
        );
    }
    assert!(!dir.path().join("target").exists(), "nothing ran");
}

#[test]
fn check_keeps_exit_1_when_only_the_pending_file_cannot_be_written() {
    let dir = scratch("d.md", "# T\n\n```console\n$ echo a\na\n```\n");
    let r = r#"{"step":"t/1","command":"echo a","stdout":"b\n","stderr":"","exit_code":0,"duration_ms":1,"origin":"live"}"#;
    std::fs::write(dir.path().join("run.jsonl"), format!("{r}\n")).unwrap();
    // the pending file's name is taken by a directory: it cannot be written
    std::fs::create_dir_all(dir.path().join("snapshots/d.md.snap.new/x")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(["check", "d.md", "--replay", "run.jsonl"])
        .current_dir(dir.path())
        .env_remove("CI")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("warning: the pending snapshot entries could not be written"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
}

#[test]
fn a_url_scheme_ending_a_line_does_not_crash_the_asciidoc_reader() {
    // asciidork 0.38 panics on it; labrun reads the document all the same
    for scheme in ["http://", "https://", "mailto://", "file:///"] {
        let doc = format!("= T\n\nOpen {scheme}\n\n[source,console]\n----\n$ echo hi\nhi\n----\n");
        let (code, v, stderr) = list_json(&doc);
        assert_eq!(code, 0, "{scheme}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(v["steps"][0]["command"], "echo hi", "{scheme}");
        assert_eq!(v["steps"][0]["line"], 7, "{scheme}: lines as in the source");
    }
}

#[test]
fn an_unclosed_table_after_a_heading_out_of_sequence_is_read_at_once() {
    // found by the fuzzer: asciidork 0.38 loops without end on an unclosed block after a
    // heading out of sequence; labrun closes it at the end, as Asciidoctor reads it, first
    let dir = scratch("d.adoc", "=== a/1\n|===");
    let (code, _, stderr) = labrun_in(dir.path(), &["list", "d.adoc"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("d.adoc:2: this `|===` block is never closed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("d.adoc:1: Section title out of sequence"),
        "{stderr}"
    );
    let dir = scratch("d.adoc", "= T\n\n=== a\n\n====\ntext\n");
    let (code, _, stderr) = labrun_in(dir.path(), &["list", "d.adoc"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("d.adoc:5: this `====` block is never closed"),
        "{stderr}"
    );
}

#[test]
fn a_bare_list_marker_before_a_table_is_read_not_looped_on() {
    // found by the fuzzer: asciidork 0.38 opens an empty list item at `- ` and loops without
    // end on the table and listing after it; Asciidoctor reads no list item there
    let dir = scratch("d.adoc", "- \n|===\n----\n$ echo hi\n----\n|===\n");
    let (code, _, stderr) = labrun_in(dir.path(), &["list", "d.adoc"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_table_right_under_a_paragraph_line_is_read_not_looped_on() {
    // found by the fuzzer: asciidork 0.38 loops without end on a table opened right under a
    // line of text that holds a delimited block, a blank line (before its end, an attribute
    // entry, an attribute list, a block title), an attribute list before its end, and more;
    // the line is left out of every such table, and said
    let tables = [
        "|===\n----\n----\n|===\n",
        "|===\n|a\n....\nb\n....\n|===\n",
        "|===\n|a\n\n|===\n",
        "|===\n----\n",
        "|===\n\n:attr:\n|===\n",
        "|===\n|a\n\n[x]\n|===\n",
        "|===\n\n.T\n|===\n",
        "|===\n\n:attr:\n",
        "|===\n```\n```\n|===\n",
        "|===\n```bash\n",
        "|===\n[source,bash]\n",
        "|===\n|a |b\n|===\n",
    ];
    // a line that opens with `[` but is no attribute list is a paragraph line too
    let lines = [
        "A paragraph line",
        "[x",
        "1",
        "\"",
        "=",
        "==",
        "=x",
        ". D",
        "..x",
        "|x",
    ];
    for (table, line) in tables.iter().flat_map(|t| lines.map(|l| (t, l))) {
        let doc = format!("= T\n\n{line}\n{table}\n[source,console]\n----\n$ echo hi\nhi\n----\n");
        let (code, v, stderr) = list_json(&doc);
        assert_eq!(code, 0, "{line:?} {table:?}: {stderr}");
        assert!(
            stderr.contains("d.adoc:3: this line runs into the table under it"),
            "{line:?} {table:?}: {stderr}"
        );
        if table.matches("|===").count() == 2 {
            assert_eq!(v["steps"][0]["command"], "echo hi", "{table:?}");
        }
    }
    // a paragraph runs on over a line that would open a section at a block's start
    let dir = scratch("d.adoc", "= T\n\ni\n= a\n|===\n[source,bash]\n");
    let (code, _, stderr) = labrun_in(dir.path(), &["list", "d.adoc"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("d.adoc:4: this line runs into the table under it"),
        "{stderr}"
    );
}

#[test]
fn tables_are_not_parsed_for_the_steps_yet_stand_between_blocks_as_text() {
    // the steps never come from a table, so `list` does not parse its cells (a 49 000-row
    // table took 287 MB); the table's text still stands between the blocks around it
    let rows: String = (0..2_000).map(|i| format!("|r{i} |v{i}\n")).collect();
    let doc = format!(
        "= T\n\n[source,console]\n----\n$ touch x\n----\n\n|===\n{rows}|===\n\n....\nnot output\n....\n\n[source,console]\n----\n$ echo hi\nhi\n----\n"
    );
    let (code, v, stderr) = list_json(&doc);
    assert_eq!(code, 0, "{stderr}");
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{v}");
    assert_eq!(steps[0]["command"], "touch x");
    assert_eq!(
        steps[0]["expected"], "",
        "the block after the table is no output"
    );
    assert_eq!(steps[1]["command"], "echo hi");
    assert_eq!(steps[1]["line"], 2_000 + 17);
}

#[test]
fn a_cr_opening_a_line_is_text_as_asciidoctor_reads_it_not_looped_on() {
    // found by the fuzzer: asciidork 0.38 reads `CR|===` as a table and loops without end;
    // Asciidoctor reads lines at LF only, so the CR is text
    for doc in [
        "\r|===",
        "= T\n\n\r|===\n\n[source,console]\n----\n$ echo hi\nhi\n----\n",
    ] {
        let (code, v, stderr) = list_json(doc);
        assert_eq!(code, 0, "{doc:?}: {stderr}");
        if doc.contains("echo") {
            assert_eq!(v["steps"][0]["command"], "echo hi");
            assert_eq!(v["steps"][0]["line"], 7);
        }
    }
}

#[test]
fn a_delimiter_line_ending_in_white_space_is_a_delimiter_as_asciidoctor_reads_it() {
    // found by the fuzzer: asciidork 0.38 took `|=== ` for text and looped on the table after
    let dir = scratch("d.adoc", "|=== \n----\n");
    let (code, _, stderr) = labrun_in(dir.path(), &["list", "d.adoc"]);
    assert_eq!(code, 0, "{stderr}");
    let doc = "= T\n\n[source,console]\n----  \n$ echo hi\nhi\n----\t\n\nAfter.\n";
    let (code, v, stderr) = list_json(doc);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["steps"][0]["command"], "echo hi");
    assert_eq!(v["steps"][0]["expected"], "hi");
    assert_eq!(v["steps"][0]["line"], 5);
}

#[test]
fn an_empty_table_is_read_not_looped_on() {
    // found by the fuzzer: asciidork 0.38 loops without end on a table with nothing inside
    for body in ["|===\n|===\n", "|===\n\n// nothing\n|===\n"] {
        let doc = format!("= T\n\n{body}\n[source,console]\n----\n$ echo hi\nhi\n----\n");
        let (code, v, stderr) = list_json(&doc);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(v["steps"][0]["command"], "echo hi");
    }
}
