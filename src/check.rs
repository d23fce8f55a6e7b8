//! Stage 4, check: every step's verdict for one run.
//!
//! In: the document's steps, the run's records (in execution order), the accepted snapshot if
//! any, and the normalizer. Out: a [`Report`] with one [`Verdict`] per step, the snapshot
//! entries no step claims any more (stale), the warnings about stale prose, and the bindings
//! learned. The expectation is the accepted snapshot entry when there is one, otherwise the
//! output printed in the document. Binding always learns from the document's printed output,
//! since later commands are written with the document's values.

use std::collections::HashMap;

use serde::Serialize;

use crate::bind::{Bindings, prepare, strip_tty};
use crate::compare::{self, Comparison};
use crate::error::{Error, Result};
use crate::normalize::{Class, Labels, Line, Normalizer};
use crate::record::StepRecord;
use crate::snapshot::{Entry, Snapshot};
use crate::steps::Step;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    NotRun,
    /// The printed output was never observed (an `illustrative` step): neither pass nor fail.
    Unverified,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::NotRun => "not-run",
            Status::Unverified => "not yet verified",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub id: String,
    pub status: Status,
    pub reason: Option<String>,
    pub diff: Option<String>,
    #[serde(skip)]
    pub section: String,
    #[serde(skip)]
    pub line: usize,
    /// The command as executed, when it differs from the document's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tries: Option<u32>,
    /// The live output normalized on its own, for a pending snapshot entry.
    #[serde(skip)]
    pub pending: Option<Entry>,
    /// The values this step bound, once each, in the order its output names them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<Learned>,
}

/// A value a step bound: its class, the document's value and the live one; `determined` when
/// the output left it no other pairing (it then holds for the rest of the run), else it was
/// chosen among interchangeable rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Learned {
    pub class: Class,
    pub document: crate::normalize::Value,
    pub live: crate::normalize::Value,
    pub determined: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
    pub not_run: usize,
    pub unverified: usize,
}

#[derive(Debug, Default)]
pub struct Report {
    pub verdicts: Vec<Verdict>,
    /// Snapshot entries whose id matches no step.
    pub stale: Vec<String>,
    /// Steps whose printed output disagrees with the accepted snapshot.
    pub doc_drift: Vec<(String, String)>,
    pub bindings: Bindings,
}

impl Report {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for v in &self.verdicts {
            match v.status {
                Status::Pass => s.pass += 1,
                Status::Fail => s.fail += 1,
                Status::Skip => s.skip += 1,
                Status::NotRun => s.not_run += 1,
                Status::Unverified => s.unverified += 1,
            }
        }
        s
    }

    pub fn failed(&self, strict: bool) -> bool {
        let s = self.summary();
        s.fail > 0 || (strict && (s.not_run > 0 || !self.doc_drift.is_empty()))
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub strict: bool,
    /// Leave out each verdict's pending snapshot entry (the live output normalized again on
    /// its own): nothing will write it (in CI), and for an output of hundreds of megabytes it
    /// is as large again.
    pub skip_pending: bool,
    /// A step whose printed output disagrees with the accepted snapshot is only listed, not
    /// failed (`--allow-doc-drift`): by default the document is what readers see, so a
    /// document that prints something the step does not is a failed step.
    pub allow_doc_drift: bool,
}

/// Verdicts one step at a time, carrying the bindings learned so far: what `check` uses for a
/// whole run and `run` uses while executing (to decide a retry before committing a verdict).
pub struct Checker<'a> {
    norm: &'a Normalizer,
    snapshot: Option<&'a Snapshot>,
    opts: Options,
    pub bindings: Bindings,
}

impl<'a> Checker<'a> {
    pub fn new(norm: &'a Normalizer, snapshot: Option<&'a Snapshot>, opts: Options) -> Self {
        Checker {
            norm,
            snapshot,
            opts,
            bindings: Bindings::default(),
        }
    }

    /// The command to execute for `step`: bindings applied, TTY flags removed.
    pub fn planned(&self, step: &Step) -> String {
        prepare(&step.command, &self.bindings)
    }

    /// The verdict for `step` given its record (or none); learns the step's bindings.
    pub fn verdict(&mut self, step: &Step, record: Option<&StepRecord>) -> Verdict {
        // A step that did not run is decided without its printed output: skip normalizing it.
        let doc = match record {
            Some(_) => self.norm.lines(step.expected.text(), &step.command),
            None => Vec::new(),
        };
        let entry = self.snapshot.and_then(|s| s.get(&step.id));
        verdict(
            step,
            doc,
            record,
            entry,
            self.norm,
            &mut self.bindings,
            self.opts,
        )
    }

    /// The verdict `step` would get, without learning anything: for deciding a retry.
    /// [`Checker::trial`] on the printed lines before the first line that starts with
    /// `epilogue.0` and ends with `epilogue.1` (what a command prints only as it is
    /// interrupted), in the document and in its snapshot entry alike.
    pub fn trial_before(
        &self,
        step: &Step,
        record: &StepRecord,
        epilogue: (&str, &str),
    ) -> Verdict {
        let begins = |l: &str| l.starts_with(epilogue.0) && l.trim_end().ends_with(epilogue.1);
        let mut cut = step.clone();
        let epilogue_at = cut.expected.lines().position(&begins);
        if let Some(i) = epilogue_at {
            cut.expected.truncate(i);
        }
        let entry = self.snapshot.and_then(|s| s.get(&step.id)).map(|e| {
            let mut e = e.clone();
            if let Some(i) = e.lines.iter().position(|l| begins(l)) {
                e.lines.truncate(i);
            }
            e
        });
        let mut scratch = self.bindings.clone();
        let doc = self.norm.lines(cut.expected.text(), &cut.command);
        verdict(
            &cut,
            doc,
            Some(record),
            entry.as_ref(),
            self.norm,
            &mut scratch,
            self.opts,
        )
    }

    pub fn trial(&self, step: &Step, record: &StepRecord) -> Verdict {
        let mut scratch = self.bindings.clone();
        let doc = self.norm.lines(step.expected.text(), &step.command);
        let entry = self.snapshot.and_then(|s| s.get(&step.id));
        verdict(
            step,
            doc,
            Some(record),
            entry,
            self.norm,
            &mut scratch,
            self.opts,
        )
    }
}

/// Check a run. `records` must name steps of `steps`; an unknown id is bad input.
pub fn check(
    path: &std::path::Path,
    steps: &[Step],
    records: &[StepRecord],
    snapshot: Option<&Snapshot>,
    norm: &Normalizer,
    opts: Options,
) -> Result<Report> {
    let mut by_id: HashMap<&str, &StepRecord> = HashMap::new();
    for (n, r) in records.iter().enumerate() {
        if !steps.iter().any(|s| s.id == r.step) {
            return Err(Error::input(
                path,
                n + 1,
                format!(
                    "the run names step `{}`, which the document does not have",
                    r.step
                ),
            ));
        }
        by_id.insert(&r.step, r);
    }
    let mut report = Report::default();
    let mut checker = Checker::new(norm, snapshot, opts);
    for step in steps {
        let record = by_id.get(step.id.as_str()).copied();
        let mut v = checker.verdict(step, record);
        let entry = snapshot.and_then(|s| s.get(&step.id));
        if let (Some(entry), true) = (entry, step.has_expected()) {
            let doc = norm.lines(step.expected.text(), &step.command);
            let snap = norm.parse_normalized(&entry.lines.join("\n"));
            // an unbounded command's printed lines need only appear, in order, in what it
            // printed; the snapshot holds all of it
            let c = if crate::policy::kind(&step.command) == crate::policy::Kind::Watch {
                compare::subsequence(norm, &doc, &snap)
            } else {
                compare::compare(norm, &snap, &doc, step.directives.unordered)
            };
            if !c.pass {
                let why = format!(
                    "line {}: the printed output disagrees with the accepted snapshot ({})",
                    step.expected_line.unwrap_or(step.line),
                    c.reason.unwrap_or_default()
                );
                if !opts.allow_doc_drift && v.status == Status::Pass {
                    v.status = Status::Fail;
                    v.reason = Some(format!(
                        "document drift: {why}; `labrun promote --from-snapshot` writes the \
                         accepted output into the document"
                    ));
                    v.diff = Some(compare::unified_diff(
                        step.expected.text(),
                        &entry.lines.join("\n"),
                    ));
                }
                report.doc_drift.push((step.id.clone(), why));
            }
        }
        report.verdicts.push(v);
    }
    report.bindings = checker.bindings;
    if let Some(snap) = snapshot {
        report.stale = snap
            .entries
            .iter()
            .filter(|(id, _)| !steps.iter().any(|s| &s.id == id))
            .map(|(id, _)| id.clone())
            .collect();
    }
    Ok(report)
}

fn squash(command: &str) -> String {
    strip_tty(command)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One step's verdict; `doc_lines` is the step's printed output, normalized.
fn verdict(
    step: &Step,
    doc_lines: Vec<Line>,
    record: Option<&StepRecord>,
    entry: Option<&Entry>,
    norm: &Normalizer,
    bindings: &mut Bindings,
    opts: Options,
) -> Verdict {
    let mut v = Verdict {
        id: step.id.clone(),
        status: Status::Pass,
        reason: None,
        diff: None,
        section: step.section.clone(),
        line: step.line,
        executed: None,
        tries: record.and_then(|r| r.tries),
        pending: None,
        bindings: Vec::new(),
    };
    if step.directives.skip {
        v.status = Status::Skip;
        v.reason = Some("skipped by directive".into());
        return v;
    }
    let Some(record) = record else {
        if step.directives.illustrative && !entry.is_some_and(Entry::verified) {
            v.status = Status::Unverified;
            v.reason = Some("illustrative output, not yet verified by a live run".into());
            return v;
        }
        v.status = if opts.strict {
            Status::Fail
        } else {
            Status::NotRun
        };
        v.reason = Some("not run".into());
        return v;
    };
    // a run whose cluster stood for the lab's under another name is read with the lab's
    let ran = &record.command;
    let shown = record.as_document();
    let record = &*shown;
    if let Some(why) = &record.skipped {
        v.status = Status::Skip;
        v.reason = Some(why.clone());
        return v;
    }
    let mut planned = prepare(&step.command, bindings);
    // A recorder that chose another of some interchangeable rows ran the command with that
    // choice: it settles the tie from here on, rather than count as drift.
    if squash(&record.command) != squash(&planned)
        && let Some(settled) = bindings.settled_by(&step.command, &record.command, |a, b| {
            squash(a) == squash(b)
        })
    {
        *bindings = settled;
        planned = prepare(&step.command, bindings);
    }
    if *ran != step.command {
        v.executed = Some(ran.clone());
    }
    let live_text = record.output();
    let live = norm.lines(&live_text, &record.command);
    // What earlier steps bound holds for the document's printed values (compared before this
    // step learns), not for a snapshot entry's labels (`IP1`).
    let mut doc_cmp = step
        .has_expected()
        .then(|| compare_live(step, norm, &doc_lines, trim(&live), bindings));
    if squash(&record.command) != squash(&planned) {
        v.status = Status::Fail;
        v.reason = Some(format!(
            "command drift: ran `{}`, the document (with bound values) says `{}`",
            record.command, planned
        ));
        return v;
    }
    // the lines are done with once judged (`judge` owns and drops them): what the step
    // learns is made from the pairs alone, with room the lines gave back
    let mut v = judge(
        v,
        step,
        doc_lines,
        live,
        &live_text,
        record,
        entry,
        norm,
        opts,
        doc_cmp.as_ref(),
    );
    // Learn bindings from the document's printed output, whatever the verdict.
    match &mut doc_cmp {
        Some(c) if c.pass => v.bindings = learn_agreeing(c, bindings, norm, &step.id),
        Some(c) => bindings.learn(&c.pairs),
        None => {}
    }
    v
}

/// What an agreeing comparison teaches: every pair learned, the identity ones chosen, the
/// determined ones held; the values learned (each once, as its first pair has it) for the
/// step's report. The pairs are given up before the bindings grow.
fn learn_agreeing(
    c: &mut Comparison,
    bindings: &mut Bindings,
    norm: &Normalizer,
    step: &str,
) -> Vec<Learned> {
    // each value once, as its first pair has it; then the pairs are done with, before
    // the bindings grow by what they learn from the list
    let mut learned: Vec<Learned> = compare::first_of_each(&c.pairs)
        .into_iter()
        .map(|n| {
            let (class, doc, live) = &c.pairs[n as usize];
            Learned {
                class: *class,
                document: doc.clone(),
                live: live.clone(),
                determined: false,
            }
        })
        .collect();
    c.pairs = Vec::new();
    if !c.determined.is_empty() {
        let determined: rustc_hash::FxHashSet<(Class, &str)> = c
            .determined
            .iter()
            .map(|((k, d, _), _)| (*k, d.as_str()))
            .collect();
        for l in &mut learned {
            l.determined = determined.contains(&(l.class, l.document.as_str()));
        }
    }
    let each = || learned.iter().map(|l| (l.class, &l.document, &l.live));
    bindings.learn_unique(each(), learned.len());
    // identity values an agreeing output determined hold for the rest of the run;
    // those chosen among interchangeable rows are preferred until a later step pairs
    // them otherwise
    bindings.choose(
        each().filter(|(class, _, _)| norm.class_kind(*class) == crate::normalize::Kind::Identity),
    );
    bindings.hold(&c.determined, step);
    learned
}

/// The rest of a step's verdict, once it ran the command the document (with bound values)
/// names: its pending snapshot entry, and pass or fail. `doc_cmp` is the document's printed
/// output compared with the live one.
#[allow(clippy::too_many_arguments)]
fn judge(
    mut v: Verdict,
    step: &Step,
    doc_lines: Vec<Line>,
    live: Vec<Line>,
    live_text: &str,
    record: &StepRecord,
    entry: Option<&Entry>,
    norm: &Normalizer,
    opts: Options,
    doc_cmp: Option<&Comparison>,
) -> Verdict {
    let live_trimmed = trim(&live);
    v.pending = (!opts.skip_pending).then(|| Entry {
        command: step.command.clone(),
        origin: if record.is_live() {
            "run".into()
        } else {
            record.origin.clone().unwrap_or_else(|| "unknown".into())
        },
        exit: record.exit_code,
        // no output is one empty line, as the snapshot writes it
        lines: match live_trimmed {
            [] => vec![String::new()],
            lines => norm.render_lines(lines, &mut Labels::default()),
        },
    });

    let want_exit = step.directives.exit.unwrap_or(0);
    if let Some(why) = &record.unsettled {
        v.status = Status::Fail;
        v.reason = Some(format!("did not settle: {why}"));
        return v;
    }
    if record.truncated {
        v.status = Status::Fail;
        v.reason = Some(format!(
            "the output was cut at the cap after {} bytes (`output-cap` in labrun.toml)",
            record.stdout.len().max(record.stderr.len())
        ));
        return v;
    }
    if record.timed_out {
        v.status = Status::Fail;
        v.reason = Some(format!(
            "timed out after {:.1}s (the block's `timeout=` directive or `timeout` in labrun.toml)",
            record.duration_ms as f64 / 1000.0
        ));
        return v;
    }
    if record.exit_code != want_exit {
        v.status = Status::Fail;
        v.reason = Some(format!(
            "exit code {} (expected {want_exit})",
            record.exit_code
        ));
        v.diff = Some(compare::unified_diff(
            step.expected.text(),
            live_text.trim_end(),
        ));
        return v;
    }
    if step.directives.illustrative && !entry.is_some_and(Entry::verified) {
        v.status = Status::Unverified;
        v.reason = Some("illustrative output, not yet verified by a live run".into());
        return v;
    }
    let from_entry;
    let (expected, comparison): (&[Line], std::borrow::Cow<Comparison>) = match (entry, doc_cmp) {
        (Some(e), _) => {
            from_entry = norm.parse_normalized(&e.lines.join("\n"));
            let c = compare_live(step, norm, &from_entry, live_trimmed, &Bindings::default());
            (&from_entry, std::borrow::Cow::Owned(c))
        }
        (None, Some(c)) => (&doc_lines, std::borrow::Cow::Borrowed(c)),
        (None, None) => {
            v.reason = Some("no printed output; exit code checked".into());
            return v;
        }
    };
    if !comparison.pass {
        // both sides rendered, placeholders numbered alike, only for the diff of a failure
        let (mut exp_text, mut live_text) =
            compare::render_both(norm, expected, live_trimmed, &comparison);
        // the masked lines are done with: let the diff have their memory
        drop(live);
        v.status = Status::Fail;
        v.reason = comparison.reason.clone();
        v.diff = Some(compare::unified_diff_of(&mut exp_text, &mut live_text));
    }
    v
}

/// `expected` compared with the live lines as the step's command reads: a watch's printed
/// lines need only appear in order among what it printed.
fn compare_live(
    step: &Step,
    norm: &Normalizer,
    expected: &[Line],
    live: &[Line],
    held: &Bindings,
) -> Comparison {
    if crate::policy::kind(&step.command) == crate::policy::Kind::Watch {
        compare::subsequence_held(norm, expected, live, held)
    } else {
        compare::compare_held(norm, expected, live, step.directives.unordered, held)
    }
}

/// Lines without leading and trailing blank lines (the document's printed output is trimmed
/// the same way).
fn trim(lines: &[Line]) -> &[Line] {
    let first = lines.iter().position(|l| !l.shape.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.shape.trim().is_empty());
    match (first, last) {
        (Some(a), Some(b)) => &lines[a..=b],
        _ => &[],
    }
}
