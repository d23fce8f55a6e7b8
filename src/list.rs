//! `labrun list`: the steps of a document, for people (human) and tools (JSON).
//!
//! In: a document and its steps (or, for `--explain`, the role of every line of its code
//! blocks). Out: text on a writer; warnings about what was read on another.

use std::io::Write;

use serde::Serialize;

use crate::document::Document;
use crate::steps::{LineRole, Role, Step};

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
                expected: s.expected.text().to_string(),
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

/// Every document and reader warning, as `warning: file:line: message` lines.
pub fn warnings(doc: &Document, steps: &[Step], out: &mut dyn Write) -> std::io::Result<()> {
    let found = crate::steps::warnings(doc, steps);
    for w in doc.warnings.iter().chain(&found) {
        let at = crate::error::Location::new(&doc.path, w.line);
        writeln!(out, "warning: {at}: {}", w.message)?;
    }
    Ok(())
}

/// `--explain`: every line of every code block with its role and the rule that decided it.
pub fn explain(
    doc: &Document,
    roles: &[Vec<LineRole>],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} code blocks",
        doc.path.display(),
        doc.blocks.len()
    )?;
    let untyped = crate::steps::untyped_rules(doc);
    for ((block, roles), rule) in doc.blocks.iter().zip(roles).zip(untyped) {
        let language = match (block.language.as_deref(), rule) {
            (Some(l), Some(rule)) => format!("{l}, read as without a language: {rule}"),
            (Some(l), None) => l.to_string(),
            (None, Some(rule)) => format!("no language: {rule}"),
            (None, None) => "no language".to_string(),
        };
        writeln!(out, "\n-- line {} ({language})", block.line)?;
        let lines: Vec<&str> = block.raw.lines().collect();
        let width = lines
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
            .min(60);
        for (i, (text, role)) in lines.iter().zip(roles).enumerate() {
            let text = text.trim_end_matches('\r');
            writeln!(
                out,
                "{:>5}  {:<12} {text:<width$}  <- {}",
                block.line + i,
                role.role.as_str(),
                role.rule
            )?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonLine<'a> {
    line: usize,
    role: Role,
    rule: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct JsonBlock<'a> {
    line: usize,
    language: Option<&'a str>,
    lines: Vec<JsonLine<'a>>,
}

/// `--explain --format json`: `{"document", "blocks": [{"line", "language", "lines": [{"line",
/// "role", "rule", "text"}]}]}`.
pub fn explain_json(
    doc: &Document,
    roles: &[Vec<LineRole>],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let blocks: Vec<JsonBlock> = doc
        .blocks
        .iter()
        .zip(roles)
        .map(|(b, roles)| JsonBlock {
            line: b.line,
            language: b.language.as_deref(),
            lines: b
                .raw
                .lines()
                .zip(roles)
                .enumerate()
                .map(|(i, (text, r))| JsonLine {
                    line: b.line + i,
                    role: r.role,
                    rule: r.rule,
                    text: text.trim_end_matches('\r'),
                })
                .collect(),
        })
        .collect();
    let value = serde_json::json!({"document": doc.path.display().to_string(), "blocks": blocks});
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}
