//! Annotations: the HTML that mdBook shows beside each step and above each chapter.
//!
//! In: a chapter's steps and a [`ChapterView`] (verdicts and records of its run, if any).
//! Out: HTML fragments that sit in mdBook Markdown as raw HTML: one panel per code block that
//! holds steps, a summary per chapter, the style sheet (theme variables only, no external
//! asset), and the book-level summary page. Every fragment is free of blank lines (newlines
//! inside `<pre>` are written as `&#10;`), so Markdown never splits it.

use std::collections::HashMap;

use crate::check::{Status, Verdict};
use crate::normalize::Normalizer;
use crate::record::StepRecord;
use crate::steps::Step;

/// What is known about one chapter's steps.
#[derive(Debug, Default, Clone)]
pub struct ChapterView {
    /// The document as the reader would name it (`book/src/pod-on-host.md`).
    pub document: String,
    pub verdicts: HashMap<String, Verdict>,
    pub records: HashMap<String, StepRecord>,
    /// The run the verdicts come from; `None` when the chapter has no recorded run.
    pub run: Option<RunInfo>,
    /// The command that would verify the chapter.
    pub verify: String,
    /// Something the reader should know about the run (it stopped early, …).
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The run file, as a reader would find it in the repository.
    pub file: String,
    /// When it started.
    pub at: Option<String>,
    pub versions: Option<serde_json::Value>,
    /// Every record is a live execution by labrun.
    pub live: bool,
    /// Run by this build (`--mode live`), not read from a file.
    pub now: bool,
}

/// How a step is shown: its verdict, except that a record that labrun did not observe live
/// never shows as verified.
pub fn shown(view: &ChapterView, step: &Step) -> (Status, Option<String>) {
    let Some(v) = view.verdicts.get(&step.id) else {
        return (Status::NotRun, Some("no recorded run".into()));
    };
    match view.records.get(&step.id) {
        Some(r) if !r.is_live() && v.status == Status::Pass => (
            Status::NotRun,
            Some(format!(
                "only a {} run: not a verification",
                r.origin.as_deref().unwrap_or("unlabelled")
            )),
        ),
        _ => (v.status, v.reason.clone()),
    }
}

/// Counts per shown status, in the order [`LABELS`] lists them.
pub fn counts(view: &ChapterView, steps: &[Step]) -> [usize; 5] {
    let mut c = [0; 5];
    for s in steps {
        c[slot(shown(view, s).0)] += 1;
    }
    c
}

/// Badge text and CSS suffix per status, in count order.
pub const LABELS: [(&str, &str); 5] = [
    ("passed", "pass"),
    ("drifted", "fail"),
    ("not yet verified", "unverified"),
    ("not run", "notrun"),
    ("skipped", "skip"),
];

fn slot(s: Status) -> usize {
    match s {
        Status::Pass => 0,
        Status::Fail => 1,
        Status::Unverified => 2,
        Status::NotRun => 3,
        Status::Skip => 4,
    }
}

/// The panel after a code block holding `steps`.
pub fn block(view: &ChapterView, steps: &[&Step], norm: &Normalizer) -> String {
    let mut h = String::from("<div class=\"labrun-block\">");
    for step in steps {
        let (status, reason) = shown(view, step);
        let (label, css) = LABELS[slot(status)];
        let verdict = view.verdicts.get(&step.id);
        let record = view.records.get(&step.id);
        let tries = verdict.and_then(|v| v.tries).filter(|&t| t > 1);
        h.push_str(&format!(
            "<div class=\"labrun-step labrun-{css}\" id=\"step-{}\">",
            anchor(&step.id)
        ));
        let badge = match tries {
            Some(t) => format!("{label} after {t} tries"),
            None => label.to_string(),
        };
        h.push_str(&format!(
            "<span class=\"labrun-badge\">{}</span> <code class=\"labrun-cmd\">{}</code>",
            esc(&badge),
            esc(step.command.lines().next().unwrap_or(""))
        ));
        if let Some(r) = record {
            let stopped = r
                .interrupted
                .as_ref()
                .map(|when| format!(" · stopped {when}"))
                .unwrap_or_default();
            h.push_str(&format!(
                " <span class=\"labrun-meta\">exit {} · {}{}</span>",
                r.exit_code,
                duration(r.duration_ms),
                esc(&stopped)
            ));
        }
        // Without a run, every step would repeat what the chapter's summary says once.
        let said_above = view.run.is_none() && status == Status::NotRun;
        if let Some(reason) = reason.filter(|_| status != Status::Pass && !said_above) {
            h.push_str(&format!(
                "<div class=\"labrun-reason\">{}</div>",
                esc(&reason)
            ));
        }
        if let Some(executed) = verdict.and_then(|v| v.executed.as_ref()) {
            h.push_str(&format!(
                "<div class=\"labrun-executed\">ran as <code>{}</code></div>",
                esc(executed)
            ));
        }
        if let (Some(diff), Status::Fail) = (verdict.and_then(|v| v.diff.as_ref()), status) {
            h.push_str("<details class=\"labrun-diff\" open><summary>expected → live</summary>");
            h.push_str(&pre(&diff_html(diff)));
            h.push_str("</details>");
        }
        if let Some(r) = record {
            let out = r.output();
            if !out.trim().is_empty() {
                h.push_str(&format!(
                    "<details class=\"labrun-live\"><summary>live output{}</summary>",
                    if r.truncated { " (cut at the cap)" } else { "" }
                ));
                h.push_str(&pre(&marked(norm, &out, &r.command)));
                h.push_str("</details>");
            }
        }
        h.push_str("</div>");
    }
    h.push_str("</div>");
    h
}

/// The summary at the top of a chapter.
pub fn chapter(view: &ChapterView, steps: &[Step]) -> String {
    let c = counts(view, steps);
    let mut h = String::from("<div class=\"labrun-summary\">");
    h.push_str("<strong>labrun</strong> ");
    for (i, (label, css)) in LABELS.iter().enumerate() {
        if c[i] > 0 {
            h.push_str(&format!(
                "<span class=\"labrun-count labrun-{css}\">{} {label}</span> ",
                c[i]
            ));
        }
    }
    match &view.run {
        Some(run) => {
            let at = run
                .at
                .as_ref()
                .map(|a| format!(" of {}", esc(a)))
                .unwrap_or_default();
            if run.now {
                h.push_str(&format!(
                    "<div class=\"labrun-meta\">run by this build{at}</div>"
                ));
            } else {
                h.push_str(&format!(
                    "<div class=\"labrun-meta\">from {} run <code>{}</code>{at}</div>",
                    if run.live {
                        "the recorded"
                    } else {
                        "a non-live"
                    },
                    esc(&run.file),
                ));
            }
            if let Some(serde_json::Value::Object(v)) = &run.versions {
                let list: Vec<String> = v
                    .iter()
                    .map(|(k, val)| {
                        format!(
                            "{} <code>{}</code>",
                            esc(k),
                            esc(val.as_str().unwrap_or(&val.to_string()))
                        )
                    })
                    .collect();
                if !list.is_empty() {
                    h.push_str(&format!(
                        "<div class=\"labrun-meta\">ran against {}</div>",
                        list.join(", ")
                    ));
                }
            }
        }
        None => h.push_str(&format!(
            "<div class=\"labrun-meta\">no recorded run; verify with <code>{}</code></div>",
            esc(&view.verify)
        )),
    }
    if let Some(n) = &view.note {
        h.push_str(&format!("<div class=\"labrun-reason\">{}</div>", esc(n)));
    }
    h.push_str("</div>");
    h
}

/// The book-level summary page (Markdown with an HTML table).
pub fn book(rows: &[(String, String, [usize; 5], Option<RunInfo>)]) -> String {
    let mut m = String::from("# Verification summary\n\n");
    m.push_str(STYLE);
    m.push_str(
        "\n\nEach chapter's steps, as the last recorded run of that chapter found them.\n\n",
    );
    m.push_str("<table class=\"labrun-table\"><thead><tr><th>chapter</th>");
    for (label, _) in LABELS {
        m.push_str(&format!("<th>{label}</th>"));
    }
    m.push_str("<th>run</th></tr></thead><tbody>");
    for (name, link, c, run) in rows {
        m.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td>",
            esc(link),
            esc(name)
        ));
        for (i, (_, css)) in LABELS.iter().enumerate() {
            m.push_str(&format!("<td class=\"labrun-{css}\">{}</td>", c[i]));
        }
        let when = run
            .as_ref()
            .map(|r| r.at.clone().unwrap_or_else(|| r.file.clone()))
            .unwrap_or_else(|| "none".into());
        m.push_str(&format!("<td>{}</td></tr>", esc(&when)));
    }
    m.push_str("</tbody></table>\n");
    m
}

/// The style sheet: mdBook theme variables, so light, navy and the others look native.
pub const STYLE: &str = "<style>\
.labrun-block{margin:-0.8em 0 1.2em 0;font-size:0.9em}\
.labrun-step{border-left:4px solid var(--quote-border,#888);background:var(--quote-bg);padding:0.3em 0.6em;margin:0.2em 0}\
.labrun-badge{display:inline-block;border-radius:0.7em;padding:0 0.6em;font-weight:bold;font-size:0.85em;color:#fff;background:#777}\
.labrun-pass{border-left-color:#2e8b57}.labrun-pass .labrun-badge{background:#2e8b57}\
.labrun-fail{border-left-color:#c0392b}.labrun-fail .labrun-badge{background:#c0392b}\
.labrun-unverified{border-left-color:#b7791f}.labrun-unverified .labrun-badge{background:#b7791f}\
.labrun-notrun .labrun-badge,.labrun-skip .labrun-badge{background:#7f8c8d}\
.labrun-cmd{font-size:0.85em}\
.labrun-meta{color:var(--sidebar-fg,inherit);opacity:0.8;font-size:0.85em}\
.labrun-reason{font-size:0.9em;margin-top:0.2em}\
.labrun-block pre{margin:0.3em 0;font-size:0.85em}\
.labrun-block summary{cursor:pointer;font-size:0.9em}\
.labrun-mask{background:rgba(128,128,255,0.25);color:inherit;border-radius:2px}\
.labrun-add{background:rgba(46,139,87,0.25)}.labrun-del{background:rgba(192,57,43,0.25)}\
.labrun-summary{border:1px solid var(--table-border-color,#888);border-radius:4px;padding:0.5em 0.8em;margin:1em 0}\
.labrun-count{display:inline-block;border-radius:0.7em;padding:0 0.6em;margin-right:0.3em;color:#fff;background:#7f8c8d;font-size:0.85em}\
.labrun-count.labrun-pass{background:#2e8b57}.labrun-count.labrun-fail{background:#c0392b}.labrun-count.labrun-unverified{background:#b7791f}\
.labrun-table td.labrun-fail{font-weight:bold}\
</style>";

/// `id` as an HTML id: letters, digits and dashes.
pub fn anchor(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// HTML-escape text.
pub fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            _ => s.push(c),
        }
    }
    s
}

/// A `<pre>` on one physical line: newlines as character references, so that no blank line
/// ends the surrounding HTML block in Markdown.
fn pre(html: &str) -> String {
    format!(
        "<pre><code>{}</code></pre>",
        html.trim_end_matches('\n').replace('\n', "&#10;")
    )
}

fn diff_html(diff: &str) -> String {
    let mut out = String::new();
    for line in diff.lines() {
        let class = match line.chars().next() {
            Some('+') if !line.starts_with("+++") => Some("labrun-add"),
            Some('-') if !line.starts_with("---") => Some("labrun-del"),
            _ => None,
        };
        match class {
            Some(c) => out.push_str(&format!("<span class=\"{c}\">{}</span>", esc(line))),
            None => out.push_str(&esc(line)),
        }
        out.push('\n');
    }
    out
}

/// The live output, HTML-escaped, with every value a mask claimed wrapped in
/// `<mark class="labrun-mask" title="CLASS">`.
pub fn marked(norm: &Normalizer, text: &str, command: &str) -> String {
    let mut out = String::new();
    for raw in text.lines() {
        let lines = norm.lines(raw, command);
        let mut cursor = 0;
        let mut line = String::new();
        if let Some(l) = lines.first() {
            for slot in &l.slots {
                let found = crate::normalize::forms(&slot.class, &slot.value)
                    .into_iter()
                    .filter_map(|f| raw[cursor..].find(&f).map(|at| (cursor + at, f.len())))
                    .min();
                if let Some((at, len)) = found {
                    line.push_str(&esc(&raw[cursor..at]));
                    line.push_str(&format!(
                        "<mark class=\"labrun-mask\" title=\"{}\">{}</mark>",
                        esc(&slot.class),
                        esc(&raw[at..at + len])
                    ));
                    cursor = at + len;
                }
            }
        }
        line.push_str(&esc(&raw[cursor..]));
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_values_are_marked_in_place() {
        let n = Normalizer::default();
        let m = marked(
            &n,
            "app-5586fc9d77-7frts   1/1   Running   10.244.1.5   kind-worker2\n",
            "kubectl get pods -o wide",
        );
        assert!(
            m.contains("<mark class=\"labrun-mask\" title=\"IP\">10.244.1.5</mark>"),
            "{m}"
        );
        assert!(m.contains("title=\"NODE\">kind-worker2</mark>"), "{m}");
        assert!(m.contains("Running"), "{m}");
    }

    #[test]
    fn fragments_have_no_blank_lines() {
        let p = pre("a\n\nb\n");
        assert!(!p.contains('\n'), "{p}");
        assert_eq!(p, "<pre><code>a&#10;&#10;b</code></pre>");
        assert!(!STYLE.contains("\n\n"));
    }
}
