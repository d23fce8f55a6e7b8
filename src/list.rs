//! `labrun list`: the steps of a document, for people (human) and tools (JSON).
//!
//! In: a document and its steps. Out: text on a writer.

use std::io::Write;

use serde::Serialize;

use crate::document::Document;
use crate::steps::Step;

#[derive(Serialize)]
struct JsonStep<'a> {
    id: &'a str,
    section: &'a str,
    line: usize,
    command: &'a str,
    expected: String,
    directives: &'a [String],
}

#[derive(Serialize)]
struct JsonList<'a> {
    document: String,
    steps: Vec<JsonStep<'a>>,
}

/// One JSON object: `{"document", "steps": [{"id", "section", "line", "command", "expected",
/// "directives"}]}`.
pub fn json(doc: &Document, steps: &[Step], out: &mut dyn Write) -> std::io::Result<()> {
    let list = JsonList {
        document: doc.path.display().to_string(),
        steps: steps
            .iter()
            .map(|s| JsonStep {
                id: &s.id,
                section: &s.section,
                line: s.line,
                command: &s.command,
                expected: s.expected.join("\n"),
                directives: &s.directives.written,
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &list)?;
    writeln!(out)
}

/// A readable listing: one paragraph per step.
pub fn human(doc: &Document, steps: &[Step], out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{}: {} steps", doc.path.display(), steps.len())?;
    let width = steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let pad = width + 13;
    let mut section = None;
    for s in steps {
        if section != Some(&s.section) {
            writeln!(
                out,
                "\n== {}",
                if s.section.is_empty() {
                    "(preamble)"
                } else {
                    &s.section
                }
            )?;
            section = Some(&s.section);
        }
        let mut lines = s.command.lines();
        writeln!(
            out,
            "{:<28} line {:<5} $ {}",
            s.id,
            s.line,
            lines.next().unwrap_or("")
        )?;
        for l in lines {
            writeln!(out, "{:<pad$} > {l}", "")?;
        }
        if !s.directives.written.is_empty() {
            writeln!(
                out,
                "{:<pad$} [labrun: {}]",
                "",
                s.directives.written.join(" ")
            )?;
        }
        match s.expected.len() {
            0 => writeln!(out, "{:<pad$} (no printed output)", "")?,
            n => writeln!(out, "{:<pad$} {n} line(s) of printed output", "")?,
        }
    }
    Ok(())
}
