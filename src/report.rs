//! Stage 6a, report: verdicts for people and for CI.
//!
//! In: a [`Report`]. Out: text on a writer — human (coloured diffs on a terminal, `NO_COLOR`
//! respected, ending with `N passed, M failed`), JSON, JUnit XML, or GitHub Actions
//! annotations.

use std::io::Write;

use serde::Serialize;

use crate::check::{Report, Status, Summary, Verdict};
use crate::suite::{DocReport, Outcome, SuiteReport, SuiteSummary};

/// Whether to colour a stream: a terminal, and `NO_COLOR` unset.
pub fn colour_for(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The closing line: `N passed, M failed`, then each other count that is not zero
/// (`, K not yet verified`, `, K not run`, `, K skipped`).
pub fn closing_line(s: &Summary) -> String {
    let mut line = format!("{} passed, {} failed", s.pass, s.fail);
    for (n, what) in [
        (s.unverified, "not yet verified"),
        (s.not_run, "not run"),
        (s.skip, "skipped"),
    ] {
        if n > 0 {
            line.push_str(&format!(", {n} {what}"));
        }
    }
    line
}

/// Text for a terminal: control characters a step printed (`ESC ] 0;…`, `ESC [2J`, a bell)
/// shown as escapes, never sent; tabs kept.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\t' && c != '\n' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

pub fn human(report: &Report, colour: bool, out: &mut dyn Write) -> std::io::Result<()> {
    human_doc(&DocReport::of(report, "", 0, false), colour, out)
}

/// One document's verdicts, warnings and closing line.
fn human_doc(d: &DocReport, colour: bool, out: &mut dyn Write) -> std::io::Result<()> {
    for v in &d.steps {
        let (tag, code) = match v.status {
            Status::Pass => ("PASS", "32"),
            Status::Fail => ("FAIL", "31;1"),
            Status::Skip => ("SKIP", "33"),
            Status::NotRun => ("NOT RUN", "33"),
            Status::Unverified => ("UNVERIFIED", "36"),
        };
        let tries = match v.tries {
            Some(n) if n > 1 => format!(" ({n} tries)"),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<10} {} (line {}){tries}",
            paint(colour, code, tag),
            v.id,
            v.line
        )?;
        if v.status == Status::Fail {
            if let Some(r) = &v.reason {
                writeln!(out, "    {}", printable(r))?;
            }
            if let Some(cmd) = &v.executed {
                writeln!(out, "    ran: {}", printable(cmd))?;
            }
            if let Some(diff) = &v.diff {
                for l in diff.lines() {
                    let l = &*printable(l);
                    let c = match l.as_bytes().first() {
                        Some(b'-') if !l.starts_with("---") => "31",
                        Some(b'+') if !l.starts_with("+++") => "32",
                        Some(b'@') => "36",
                        _ => "",
                    };
                    let l = if c.is_empty() {
                        l.to_string()
                    } else {
                        paint(colour, c, l)
                    };
                    writeln!(out, "    {l}")?;
                }
            }
        }
    }
    for drift in &d.doc_drift {
        writeln!(
            out,
            "{} {}: {}",
            paint(colour, "33", "warning:"),
            drift.id,
            drift.message
        )?;
    }
    for id in &d.stale {
        writeln!(
            out,
            "{} snapshot entry `{id}` matches no step (stale)",
            paint(colour, "33", "warning:")
        )?;
    }
    writeln!(out, "{}", closing_line(&d.summary))
}

/// Many documents: each one's report under its name, then a line per document and the
/// totals.
pub fn human_suite(s: &SuiteReport, colour: bool, out: &mut dyn Write) -> std::io::Result<()> {
    for d in &s.documents {
        writeln!(
            out,
            "{}",
            paint(colour, "1", &format!("== {}", printable(&d.document)))
        )?;
        match d.outcome {
            Outcome::Unchanged | Outcome::Error => {
                writeln!(out, "{}", printable(d.message.as_deref().unwrap_or("")))?
            }
            _ => human_doc(d, colour, out)?,
        }
        writeln!(out)?;
    }
    for d in &s.documents {
        let (tag, code) = outcome_tag(d.outcome);
        let detail = match d.outcome {
            Outcome::Unchanged | Outcome::Error => {
                printable(d.message.as_deref().unwrap_or("")).into_owned()
            }
            _ => closing_line(&d.summary),
        };
        writeln!(
            out,
            "{:<12} {}: {detail}",
            paint(colour, code, tag),
            printable(&d.document)
        )?;
    }
    writeln!(out, "{}", suite_line(&s.summary))
}

fn outcome_tag(o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Passed => ("PASSED", "32"),
        Outcome::Failed => ("FAILED", "31;1"),
        Outcome::Error => ("ERROR", "31;1"),
        Outcome::Interrupted => ("INTERRUPTED", "33"),
        Outcome::Unchanged => ("UNCHANGED", "36"),
    }
}

/// `N documents: A passed, B failed[, C errors, D interrupted, E unchanged]; steps: …`.
pub fn suite_line(s: &SuiteSummary) -> String {
    let mut line = format!(
        "{} document(s): {} passed, {} failed",
        s.documents, s.passed, s.failed
    );
    for (n, what) in [
        (s.errors, "with errors"),
        (s.interrupted, "interrupted"),
        (s.unchanged, "unchanged"),
    ] {
        if n > 0 {
            line.push_str(&format!(", {n} {what}"));
        }
    }
    line.push_str(&format!("; steps: {}", closing_line(&s.steps)));
    line
}

/// Many documents as JSON: `{"documents": [...], "summary": {...}}`.
pub fn json_suite(s: &SuiteReport, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, s)?;
    writeln!(out)
}

#[derive(Serialize)]
struct JsonReport<'a> {
    steps: &'a [Verdict],
    summary: Summary,
    stale: &'a [String],
    doc_drift: Vec<serde_json::Value>,
}

pub fn json(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let r = JsonReport {
        steps: &report.verdicts,
        summary: report.summary(),
        stale: &report.stale,
        doc_drift: report
            .doc_drift
            .iter()
            .map(|(id, m)| serde_json::json!({"id": id, "message": m}))
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &r)?;
    writeln!(out)
}

/// Text with the characters XML 1.0 forbids left out (C0 controls but tab, newline and
/// carriage return; U+FFFE, U+FFFF), the rest escaped.
fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| {
            matches!(c, '\t' | '\n' | '\r')
                || !(c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}'))
        })
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one testcase per step, classname the section.
pub fn junit(report: &Report, document: &str, out: &mut dyn Write) -> std::io::Result<()> {
    junit_docs(&[DocReport::of(report, document, 0, false)], out)
}

/// Many documents as JUnit XML: a `<testsuite>` per document.
pub fn junit_suite(s: &SuiteReport, out: &mut dyn Write) -> std::io::Result<()> {
    junit_docs(&s.documents, out)
}

fn junit_docs(docs: &[DocReport], out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    write!(out, "<testsuites>")?;
    for d in docs {
        let s = &d.summary;
        let errors = usize::from(d.outcome == Outcome::Error);
        writeln!(
            out,
            r#"<testsuite name="{}" tests="{}" failures="{}" errors="{errors}" skipped="{}">"#,
            xml(&d.document),
            d.steps.len() + errors,
            s.fail,
            s.skip + s.not_run + s.unverified
        )?;
        if d.outcome == Outcome::Error {
            writeln!(
                out,
                r#"  <testcase classname="labrun" name="{}"><error message="{}"/></testcase>"#,
                xml(&d.document),
                xml(d.message.as_deref().unwrap_or("error"))
            )?;
        }
        for v in &d.steps {
            let class = if v.section.is_empty() {
                "preamble"
            } else {
                &v.section
            };
            write!(
                out,
                r#"  <testcase classname="{}" name="{}">"#,
                xml(class),
                xml(&v.id)
            )?;
            match v.status {
                Status::Fail => write!(
                    out,
                    r#"<failure message="{}">{}</failure>"#,
                    xml(v.reason.as_deref().unwrap_or("failed")),
                    xml(v.diff.as_deref().unwrap_or(""))
                )?,
                Status::Skip | Status::NotRun | Status::Unverified => {
                    write!(out, r#"<skipped message="{}"/>"#, xml(v.status.label()))?
                }
                Status::Pass => {}
            }
            writeln!(out, "</testcase>")?;
        }
        write!(out, "</testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// GitHub Actions annotations: `::error file=…,line=…::` per failed step.
pub fn github(report: &Report, document: &str, out: &mut dyn Write) -> std::io::Result<()> {
    github_doc(&DocReport::of(report, document, 0, false), out)
}

/// Many documents' annotations.
pub fn github_suite(s: &SuiteReport, out: &mut dyn Write) -> std::io::Result<()> {
    for d in &s.documents {
        github_doc(d, out)?;
    }
    Ok(())
}

/// A workflow command's message, escaped as GitHub's toolkit escapes data: `%`, CR, LF.
fn github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value, escaped as GitHub's toolkit escapes properties: the
/// data's three and `:` and `,`, so a file name can neither end the command nor add a property.
fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn github_doc(d: &DocReport, out: &mut dyn Write) -> std::io::Result<()> {
    let esc = |s: &str| github_data(s);
    let document = &github_property(&d.document);
    if d.outcome == Outcome::Error {
        writeln!(
            out,
            "::error file={document},title=labrun::{}",
            esc(d.message.as_deref().unwrap_or("error"))
        )?;
    }
    for v in &d.steps {
        if v.status == Status::Fail {
            let msg = format!(
                "{}: {}\n{}",
                v.id,
                v.reason.as_deref().unwrap_or("failed"),
                v.diff.as_deref().unwrap_or("")
            );
            writeln!(
                out,
                "::error file={document},line={},title=labrun::{}",
                v.line,
                esc(&msg)
            )?;
        }
    }
    for drift in &d.doc_drift {
        writeln!(
            out,
            "::warning file={document},title=labrun::{}",
            esc(&format!("{}: {}", drift.id, drift.message))
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_cannot_forge_a_workflow_command_or_a_property() {
        let d = DocReport {
            document: "a,line=1\n::add-mask::x%0A\r:b.md".into(),
            index: 0,
            outcome: Outcome::Error,
            exit_code: 2,
            duration_ms: 0,
            message: Some("bad\n::stop-commands::x".into()),
            steps: Vec::new(),
            summary: Summary::default(),
            stale: Vec::new(),
            doc_drift: Vec::new(),
        };
        let mut out = Vec::new();
        github_doc(&d, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert_eq!(
            text,
            "::error file=a%2Cline=1%0A%3A%3Aadd-mask%3A%3Ax%250A%0D%3Ab.md,title=labrun::bad%0A::stop-commands::x\n"
        );
    }
}
