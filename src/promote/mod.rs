//! Stage 6, promote: what a run printed, written back into the document, keeping the
//! author's values.
//!
//! In: a lab (its document, steps and masks) and a recorded run. Out: [`Promotion`] — the
//! document's new source, in which only the printed output of the steps that drifted has
//! changed, and within it only the lines that really changed: a line whose shape still agrees
//! is kept as the author wrote it (every address, name, age and MAC), a changed or new line is
//! written with the author's value wherever a live value stands for one (the run's bindings,
//! the step's agreeing lines, the line it replaces) and as seen elsewhere; lines the author cut
//! at an elision (`...`) stay cut; container prefixes (`> `, list indentation), tabs and line
//! endings are kept. Steps whose command drifted, whose exit code changed, or that did not
//! finish are not rewritten: they are listed, with their line, for the author.

mod values;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use similar::{Algorithm, DiffOp};

use crate::check::{self, Status};
use crate::error::{Error, Result};
use crate::lab::Lab;
use crate::normalize::clean_lines;
use crate::record::StepRecord;
use crate::snapshot::Snapshot;
use crate::steps::Step;
use values::{Author, pair_slots, relayout, render};

/// Lines that stand for lines the author cut.
pub const ELISIONS: &[&str] = &["...", "…", "[...]", "[…]", "# ...", "(...)"];

/// A step the promotion left for the author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub line: usize,
    pub why: String,
}

/// The outcome of promoting a run into a document.
#[derive(Debug, Clone)]
pub struct Promotion {
    /// The document's new source (equal to the old one when nothing changed).
    pub source: String,
    /// The steps whose printed output was rewritten.
    pub promoted: Vec<String>,
    /// The drifted steps not rewritten, and why.
    pub listed: Vec<Listed>,
    /// The snapshot with the promoted steps' entries replaced by the run's, when the document
    /// has a snapshot holding any of them.
    pub snapshot: Option<Snapshot>,
}

/// Promote `records` (read from `run`) into `lab`'s document; `only` limits it to those step
/// ids. A run recorded against another version of the document is refused (bad input).
pub fn promote(
    lab: &Lab,
    run: &Path,
    records: &[StepRecord],
    only: &[String],
) -> Result<Promotion> {
    for id in only {
        if !lab.steps.iter().any(|s| &s.id == id) {
            return Err(Error::input(
                &lab.doc.path,
                0,
                format!("--step {id}: the document has no such step"),
            ));
        }
    }
    same_version(lab, run, records)?;
    let report = check::check(
        run,
        &lab.steps,
        records,
        None,
        &lab.norm,
        Default::default(),
    )?;
    let by_id: HashMap<&str, &StepRecord> = records.iter().map(|r| (r.step.as_str(), r)).collect();
    let mut author = Author::default();
    for v in &report.verdicts {
        for b in &v.bindings {
            author.pair(&b.class, &b.live, &b.document);
        }
    }
    let source = &lab.doc.source;
    // the source's lines, with their endings, split once for every step
    let src: Vec<&str> = source.split_inclusive('\n').collect();
    let mut edits: Vec<Edit> = Vec::new();
    let mut promoted = Vec::new();
    let mut listed = Vec::new();
    for (step, v) in lab.steps.iter().zip(&report.verdicts) {
        if v.status != Status::Fail || !(only.is_empty() || only.contains(&step.id)) {
            continue;
        }
        let Some(record) = by_id.get(step.id.as_str()) else {
            continue;
        };
        let list = |why: String| Listed {
            id: step.id.clone(),
            line: step.line,
            why,
        };
        if let Some(why) = not_promotable(step, record, v.reason.as_deref()) {
            listed.push(list(why));
            continue;
        }
        match rewrite(lab, step, record, &mut Author::over(&author), &src) {
            Ok(edit) if edit.unchanged(&src) => listed.push(list(
                "what changed lies where the author cut lines (`...`), which stay as written"
                    .into(),
            )),
            Ok(edit) => {
                edits.push(edit);
                promoted.push(step.id.clone());
            }
            Err(why) => listed.push(list(why)),
        }
    }
    let source = apply(source, edits);
    let snapshot = lab.snapshot.as_ref().and_then(|snap| {
        let mut snap = snap.clone();
        let order = lab.step_ids();
        let mut touched = false;
        for v in &report.verdicts {
            if promoted.contains(&v.id)
                && snap.get(&v.id).is_some()
                && let Some(entry) = &v.pending
            {
                snap.put(&v.id, entry.clone(), &order);
                touched = true;
            }
        }
        touched.then_some(snap)
    });
    Ok(Promotion {
        source,
        promoted,
        listed,
        snapshot,
    })
}

/// Refuse a run whose steps are not this document's: a step it names that the document
/// lacks, or a command whose program and first argument (masked) differ from the document's
/// step.
fn same_version(lab: &Lab, run: &Path, records: &[StepRecord]) -> Result<()> {
    for (n, r) in records.iter().enumerate() {
        let Some(step) = lab.steps.iter().find(|s| s.id == r.step) else {
            return Err(Error::input(
                run,
                n + 1,
                format!(
                    "the run names step `{}`, which {} does not have: it was recorded against \
                     another version of the document",
                    r.step,
                    lab.doc.path.display()
                ),
            ));
        };
        // the program and its first argument, masked (a bound address may differ)
        let head = |command: &str| {
            let line = crate::bind::strip_tty(first_line(command));
            let words: Vec<&str> = line
                .split_whitespace()
                .skip_while(|w| w.contains('=') && !w.starts_with('-'))
                .take(2)
                .collect();
            lab.norm
                .lines(&words.join(" "), command)
                .first()
                .map(|l| l.shape.clone())
        };
        if head(&r.command) != head(&step.command) {
            return Err(Error::input(
                run,
                n + 1,
                format!(
                    "step `{}` ran `{}`, but the document's step `{}` (line {}) is `{}`: the run \
                     was recorded against another version of the document",
                    r.step,
                    first_line(&r.command),
                    step.id,
                    step.line,
                    first_line(&step.command)
                ),
            ));
        }
    }
    Ok(())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Why a failing step is left to the author, if it is.
fn not_promotable(step: &Step, record: &StepRecord, reason: Option<&str>) -> Option<String> {
    let reason = reason.unwrap_or("");
    if reason.starts_with("command drift") {
        return Some(format!("{reason}; the command is the author's to change"));
    }
    let want = step.directives.exit.unwrap_or(0);
    if record.exit_code != want {
        return Some(format!(
            "it exited with {} where the document expects {want}; the author decides",
            record.exit_code
        ));
    }
    if record.timed_out || record.truncated || record.unsettled.is_some() {
        return Some(format!("it did not finish cleanly ({reason})"));
    }
    if !step.has_expected() {
        return Some("the document prints no output for it".into());
    }
    if crate::policy::kind(&step.command) == crate::policy::Kind::Watch {
        return Some(
            "its printed lines are a selection of what it printed until interrupted: promote \
             it by hand"
                .into(),
        );
    }
    None
}

/// Replace `len` source lines from 0-based line `start` by `lines` (each with its ending).
struct Edit {
    start: usize,
    len: usize,
    lines: Vec<String>,
}

impl Edit {
    /// Whether the edit writes back the lines it replaces.
    fn unchanged(&self, src: &[&str]) -> bool {
        let old = &src[self.start.min(src.len())..(self.start + self.len).min(src.len())];
        old.len() == self.lines.len() && old.iter().zip(&self.lines).all(|(a, b)| a == b)
    }
}

fn apply(source: &str, mut edits: Vec<Edit>) -> String {
    if edits.is_empty() {
        return source.to_string();
    }
    let mut lines: Vec<String> = source.split_inclusive('\n').map(str::to_string).collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.start));
    for e in edits {
        lines.splice(e.start..e.start + e.len, e.lines);
    }
    lines.concat()
}

/// One output line of the promoted text.
enum Out {
    /// The author's line `i`, as written.
    Keep(usize),
    /// Live line `i`, with the author's values, modelled on the author's line `template`.
    New(usize, Option<usize>),
}

/// The printed output of `step` rewritten from `record`.
fn rewrite(
    lab: &Lab,
    step: &Step,
    record: &StepRecord,
    author: &mut Author<'_>,
    src: &[&str],
) -> std::result::Result<Edit, String> {
    let norm = &lab.norm;
    let old: Vec<&str> = step.expected.lines().collect();
    let start = step.expected_line.ok_or("no printed output")? - 1;
    // Where each printed line stands in the source: its container prefix and line ending.
    let mut prefixes = Vec::with_capacity(old.len());
    let mut endings = Vec::with_capacity(old.len());
    for (k, text) in old.iter().enumerate() {
        let line = src.get(start + k).copied().unwrap_or("");
        let body = line.trim_end_matches('\n').trim_end_matches('\r');
        let Some(prefix) = body.strip_suffix(*text) else {
            return Err(format!(
                "its printed output does not stand line for line at line {} of the source",
                start + 1
            ));
        };
        prefixes.push(prefix.to_string());
        endings.push(line[body.len()..].to_string());
    }
    let live: Vec<String> = {
        let all: Vec<String> = clean_lines(&record.output())
            .map(std::borrow::Cow::into_owned)
            .collect();
        let first = all.iter().position(|l| !l.trim().is_empty());
        let last = all.iter().rposition(|l| !l.trim().is_empty());
        match (first, last) {
            (Some(a), Some(b)) => all[a..=b].to_vec(),
            _ => Vec::new(),
        }
    };
    let old_lines = norm.lines(step.expected.text(), &step.command);
    let live_lines = norm.lines(&live.join("\n"), &record.command);
    let old_shapes: Vec<&str> = old_lines.iter().map(|l| &*l.shape).collect();
    let live_shapes: Vec<&str> = live_lines.iter().map(|l| &*l.shape).collect();

    let ops = similar::capture_diff_slices(Algorithm::Patience, &old_shapes, &live_shapes);
    // Hunks: runs of unequal lines, with what stands equal between them.
    let mut out: Vec<Out> = Vec::new();
    let mut pending_old: Vec<usize> = Vec::new();
    let mut pending_live: Vec<usize> = Vec::new();
    let mut hunks: Vec<(Vec<usize>, Vec<usize>, usize)> = Vec::new(); // (old, live, at in out)
    let mut flush = |out: &mut Vec<Out>, po: &mut Vec<usize>, pl: &mut Vec<usize>| {
        if !po.is_empty() || !pl.is_empty() {
            hunks.push((std::mem::take(po), std::mem::take(pl), out.len()));
        }
    };
    for op in &ops {
        match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                flush(&mut out, &mut pending_old, &mut pending_live);
                for k in 0..len {
                    out.push(Out::Keep(old_index + k));
                    pair_slots(
                        norm,
                        author,
                        &old_lines[old_index + k],
                        &live_lines[new_index + k],
                    );
                }
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => pending_old.extend(old_index..old_index + old_len),
            DiffOp::Insert {
                new_index, new_len, ..
            } => pending_live.extend(new_index..new_index + new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                pending_old.extend(old_index..old_index + old_len);
                pending_live.extend(new_index..new_index + new_len);
            }
        }
    }
    flush(&mut out, &mut pending_old, &mut pending_live);

    // A row that only moved (its shape is among the live lines of some hunk) stays where the
    // author wrote it.
    let mut moved_live: HashSet<usize> = HashSet::new();
    let mut moved_old: HashSet<usize> = HashSet::new();
    for (olds, _, _) in &hunks {
        for &o in olds {
            let found = hunks
                .iter()
                .flat_map(|(_, lives, _)| lives.iter().copied())
                .find(|l| !moved_live.contains(l) && live_shapes[*l] == old_shapes[o]);
            if let Some(l) = found {
                moved_live.insert(l);
                moved_old.insert(o);
                pair_slots(norm, author, &old_lines[o], &live_lines[l]);
            }
        }
    }

    // Each hunk, from the last, into the output at its place.
    for (olds, lives, at) in hunks.into_iter().rev() {
        let elided = olds.iter().any(|&o| ELISIONS.contains(&old[o].trim()));
        let mut items: Vec<Out> = Vec::new();
        if elided {
            items.extend(olds.iter().map(|&o| Out::Keep(o)));
        } else {
            let olds: Vec<usize> = olds
                .into_iter()
                .filter(|o| !moved_old.contains(o))
                .collect();
            let lives: Vec<usize> = lives
                .into_iter()
                .filter(|l| !moved_live.contains(l))
                .collect();
            for (k, &l) in lives.iter().enumerate() {
                items.push(Out::New(l, olds.get(k).copied()));
            }
        }
        out.splice(at..at, items);
    }
    // Moved rows: back in the author's order, before the first line that stands after them
    // in the author's text (a kept line, or a new one that replaces a later line).
    let mut moved: Vec<usize> = moved_old.into_iter().collect();
    moved.sort_unstable();
    for o in moved {
        let at = out
            .iter()
            .position(|x| match *x {
                Out::Keep(k) | Out::New(_, Some(k)) => k > o,
                Out::New(_, None) => false,
            })
            .unwrap_or(out.len());
        out.insert(at, Out::Keep(o));
    }

    // Text of each output line.
    let ending = endings.first().cloned().unwrap_or_else(|| "\n".into());
    let mut lines = Vec::with_capacity(out.len());
    let mut prefix = prefixes.first().cloned().unwrap_or_default();
    let mut last_kept: Option<usize> = None;
    for item in &out {
        match *item {
            Out::Keep(i) => {
                prefix = prefixes[i].clone();
                last_kept = Some(i);
                lines.push(src[start + i].to_string());
            }
            Out::New(l, template) => {
                let text = render(
                    lab,
                    step,
                    record,
                    author,
                    &live[l],
                    template.map(|t| old[t]),
                );
                // the author's columns: those of the line it replaces, else of the last kept
                let model = template.or(last_kept).map(|t| old[t]);
                let text = model.map_or(text.clone(), |m| relayout(&text, m));
                let p = if text.is_empty() {
                    prefix.trim_end().to_string()
                } else {
                    template.map_or(prefix.clone(), |t| prefixes[t].clone())
                };
                lines.push(format!("{p}{text}{ending}"));
            }
        }
    }
    Ok(Edit {
        start,
        len: old.len(),
        lines,
    })
}

/// A unified diff of the document, `--- a/PATH` / `+++ b/PATH`, three lines of context.
pub fn diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}
