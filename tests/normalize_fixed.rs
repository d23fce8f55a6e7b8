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
