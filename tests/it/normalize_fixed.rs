//! `labrun normalize` prints what it printed before the one-pass mask automaton: on the printed
//! output of every step of the lab (a fixture that binary wrote) and on a 100 000-row listing
//! (the SHA-256 that binary gave). See tests/fixtures/normalize/README.md.

use std::io::Write;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

fn normalize(command: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(["normalize", "--command", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn the_labs_printed_outputs_normalize_as_before() {
    let listing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/lab.steps.json").unwrap())
            .unwrap();
    let mut out = String::new();
    for s in listing["steps"].as_array().unwrap() {
        let expected = s["expected"].as_str().unwrap();
        if expected.is_empty() {
            continue;
        }
        let text = normalize(
            s["command"].as_str().unwrap(),
            format!("{expected}\n").as_bytes(),
        );
        out.push_str(&format!(
            "=== {}\n{}",
            s["id"].as_str().unwrap(),
            String::from_utf8(text).unwrap()
        ));
    }
    let fixture = std::fs::read_to_string("tests/fixtures/normalize/lab-printed.txt").unwrap();
    assert!(
        out == fixture,
        "normalize output changed on the lab's printed outputs"
    );
}

#[test]
fn a_100000_row_listing_normalizes_as_before() {
    let listing = Command::new("python3")
        .args(["scripts/pods.py", "100000", "1"])
        .output()
        .expect("python3 runs the listing generator");
    assert!(listing.status.success());
    let out = normalize("kubectl get pods -A -o wide", &listing.stdout);
    let digest = Sha256::digest(&out);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "f4932b53eae4819eb9211e0e1c1b4fd167e3cd429d206134081978f76afda7b4"
    );
}

/// `labrun normalize` reading a pipe this test writes and writing one it reads.
fn streaming_normalize() -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(["normalize"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn normalize_streams_what_it_has_read_before_its_input_ends() {
    use std::io::Read;
    let mut child = streaming_normalize();
    let mut stdin = child.stdin.take().unwrap();
    // one chunk's worth of lines, the input left open
    for i in 0..4096 {
        writeln!(stdin, "pod-{i} 10.244.{}.{} Running", i / 250, i % 250).unwrap();
    }
    stdin.flush().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    assert!(
        first.starts_with(b"pod-0 <IP1>"),
        "{:?}",
        String::from_utf8_lossy(&first)
    );
    drop(stdin);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn normalize_passes_on_a_few_lines_as_soon_as_the_writer_pauses() {
    // `tail -f log | labrun normalize`: three lines and a pause are three lines out
    use std::io::{BufRead, BufReader};
    let mut child = streaming_normalize();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "a 10.0.0.1\nb 10.0.0.2\nc 10.0.0.1").unwrap();
    stdin.flush().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut got = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        got.push(line);
    }
    assert_eq!(got, ["a <IP1>\n", "b <IP2>\n", "c <IP1>\n"]);
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_line_of_normalize_input_that_is_not_utf8_is_named() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_labrun"))
        .args(["normalize"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ok\nok\n\xff bad\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("<stdin>:3: not valid UTF-8"), "{stderr}");
}
