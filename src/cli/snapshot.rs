//! The commands that write a document's snapshot or the document itself: `accept`, `review`,
//! `promote`, and the pending entries a failing check leaves for `review`.
//!
//! Every write of a snapshot happens under the document's snapshot lock, from a snapshot read
//! under that lock, so two accepts never lose each other's entries; the snapshot and the live
//! run kept beside it are written as one unit ([`commit`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, ExitCode};
use crate::lab::Lab;
use crate::normalize::Labels;
use crate::record::StepRecord;
use crate::snapshot::{Entry, Snapshot};
use crate::workspace::Lock;
use anyhow::Context;

/// The document opened under its snapshot lock (waiting for another accept to end).
fn open_locked(path: &Path) -> anyhow::Result<(Lock, Lab)> {
    let config = crate::config::Config::for_document(path)?;
    let what = format!("the snapshot of {}", path.display());
    let lock = Lock::take(&config.run_dir(path).join("snapshot.lock"), true, &what)?;
    let lab = Lab::open(path)?;
    Ok((lock, lab))
}

/// Write `snap` and, when given, the live run kept beside it, as one unit: the run first, then
/// the snapshot naming the run's SHA-256 — a reader (`labrun build`) that finds a pair from
/// two different accepts refuses it. A snapshot read from its old stem-only name moves to its
/// new one. Files keep their modes.
fn commit(lab: &Lab, snap: &mut Snapshot, run: Option<&[StepRecord]>) -> anyhow::Result<()> {
    let new_run = crate::snapshot::committed_run(&lab.snapshot_path);
    if let Some(records) = run {
        let text = crate::record::to_text(records);
        crate::record::write_atomic(&new_run, text.as_bytes())?;
        snap.run = Some(crate::snapshot::digest_of(text.as_bytes()));
    } else if let Some(old) = &lab.legacy_snapshot {
        let old_run = crate::snapshot::committed_run(old);
        if old_run.is_file() && !new_run.exists() {
            let bytes = std::fs::read(&old_run).map_err(|e| Error::io(&old_run, e))?;
            crate::record::write_atomic(&new_run, &bytes)?;
        }
    }
    snap.document = lab.document_name();
    crate::snapshot::save(&lab.snapshot_path, snap)?;
    if let Some(old) = &lab.legacy_snapshot {
        for f in [crate::snapshot::committed_run(old), old.clone()] {
            if f.is_file() {
                std::fs::remove_file(&f).map_err(|e| Error::io(&f, e))?;
            }
        }
        eprintln!(
            "labrun: moved the snapshot from {} to {}",
            old.display(),
            lab.snapshot_path.display()
        );
    }
    Ok(())
}

pub fn accept(path: &Path, replay: Option<&Path>, from_doc: bool) -> anyhow::Result<ExitCode> {
    let (_lock, lab) = open_locked(path)?;
    let mut snap = lab.snapshot_or_new();
    let order = lab.step_ids();
    let mut n = 0;
    let mut kept: Option<Vec<StepRecord>> = None;
    if from_doc {
        for step in lab.steps.iter().filter(|s| s.has_expected()) {
            let lines = lab.norm.lines(step.expected.text(), &step.command);
            let text = lab.norm.render(&lines, &mut Labels::default());
            let entry = Entry {
                command: step.command.clone(),
                origin: "document".into(),
                exit: step.directives.exit.unwrap_or(0),
                lines: text.split('\n').map(str::to_string).collect(),
            };
            snap.put(&step.id, entry, &order);
            n += 1;
        }
    } else if let Some(run) = replay {
        let records = crate::record::read(run)?;
        // Check first: that yields each step's normalized live output.
        let report = crate::check::check(
            run,
            &lab.steps,
            &records,
            None,
            &lab.norm,
            Default::default(),
        )?;
        for v in report.verdicts {
            if let Some(entry) = v.pending {
                snap.put(&v.id, entry, &order);
                n += 1;
            }
        }
        // A run labrun observed live is kept beside the snapshot: the evidence the book
        // replays. Anything else (a simulated run, the document's text) is not.
        if !records.is_empty() && records.iter().all(StepRecord::is_live) {
            kept = Some(records);
        }
    }
    commit(&lab, &mut snap, kept.as_deref())?;
    println!("accepted {n} step(s) into {}", lab.snapshot_path.display());
    if kept.is_some() {
        println!(
            "kept the live run as {}",
            crate::snapshot::committed_run(&lab.snapshot_path).display()
        );
    }
    Ok(ExitCode::Success)
}

/// Failing steps' live outputs as pending entries, for `labrun review`; never in CI. A pending
/// file that cannot be written is a warning: the check's verdict stands. The entries are taken
/// out of `report`.
pub fn write_pending(lab: &Lab, report: &mut crate::check::Report) {
    if !crate::snapshot::may_write_pending() {
        return;
    }
    let path = crate::snapshot::pending_path(&lab.snapshot_path);
    // what this check decided replaces what an earlier one left: a step that passes now has
    // nothing pending; one this check did not reach keeps its entry
    let decided: std::collections::HashSet<String> = report
        .verdicts
        .iter()
        .filter(|v| {
            matches!(
                v.status,
                crate::check::Status::Pass | crate::check::Status::Fail
            )
        })
        .map(|v| v.id.clone())
        .collect();
    let mut entries: Vec<_> = report
        .verdicts
        .iter_mut()
        .filter(|v| v.status == crate::check::Status::Fail)
        .filter_map(|v| v.pending.take().map(|p| (v.id.clone(), p)))
        .collect();
    let earlier = crate::snapshot::load(&path).ok().flatten();
    let had = earlier.as_ref().map_or(0, |e| e.entries.len());
    if let Some(earlier) = earlier {
        entries.extend(
            earlier
                .entries
                .into_iter()
                .filter(|(id, _)| !decided.contains(id)),
        );
        let order = lab.step_ids();
        entries.sort_by_key(|(id, _)| order.iter().position(|o| o == id));
    }
    if entries.is_empty() {
        if had > 0 && std::fs::remove_file(&path).is_ok() {
            eprintln!(
                "labrun: {} is gone: every step it held passes now",
                path.display()
            );
        }
        return;
    }
    let pending = Snapshot {
        document: lab.document_name(),
        run: None,
        entries,
    };
    match crate::snapshot::save(&path, &pending) {
        Ok(()) => eprintln!(
            "labrun: pending snapshot entries written to {} (labrun review)",
            path.display()
        ),
        Err(e) => eprintln!(
            "labrun: warning: the pending snapshot entries could not be written: {}",
            crate::error::with_causes(&e)
        ),
    }
}

/// Replace the document's text (atomically, its permissions and byte order mark kept).
fn write_document(lab: &Lab, source: &str) -> anyhow::Result<()> {
    let bom = if lab.doc.bom { "\u{feff}" } else { "" };
    crate::record::write_through(&lab.doc.path, format!("{bom}{source}").as_bytes())?;
    Ok(())
}

pub fn promote(
    path: &Path,
    replay: Option<PathBuf>,
    only: &[String],
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let (_lock, lab) = open_locked(path)?;
    let run = match replay {
        Some(run) => run,
        None => {
            let kept =
                crate::snapshot::committed_run_checked(&lab.snapshot_path, lab.snapshot.as_ref())?;
            let Some(kept) = kept else {
                return Err(Error::input(
                    path,
                    0,
                    format!(
                        "no live run is kept beside the snapshot ({}): accept one with `labrun \
                         accept {} --replay RUN`",
                        crate::snapshot::committed_run(&lab.snapshot_path).display(),
                        path.display()
                    ),
                )
                .into());
            };
            kept
        }
    };
    let records = crate::record::read(&run)?;
    let p = crate::promote::promote(&lab, &run, &records, only)?;
    let mut err = std::io::stderr().lock();
    for l in &p.listed {
        writeln!(
            err,
            "{}:{}: step {} not promoted: {}",
            path.display(),
            l.line,
            l.id,
            crate::report::printable(&l.why)
        )
        .ok();
    }
    if dry_run {
        print!("{}", crate::promote::diff(path, &lab.doc.source, &p.source));
    } else if p.source != lab.doc.source {
        write_document(&lab, &p.source)?;
        if let Some(snap) = &p.snapshot {
            let mut snap = snap.clone();
            commit(&lab, &mut snap, None)?;
        }
    }
    let verb = if dry_run { "would promote" } else { "promoted" };
    println!(
        "{verb} {} step(s) in {}{}",
        p.promoted.len(),
        path.display(),
        if p.promoted.is_empty() {
            String::new()
        } else {
            format!(": {}", p.promoted.join(", "))
        }
    );
    Ok(if p.listed.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::StepsFailed
    })
}

pub fn review(path: &Path, run: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (_lock, lab) = open_locked(path)?;
    let pending_path = crate::snapshot::pending_path(&lab.snapshot_path);
    let Some(pending) = crate::snapshot::load(&pending_path)? else {
        println!("no pending snapshot entries for {}", path.display());
        return Ok(ExitCode::Success);
    };
    let mut snap = lab.snapshot_or_new();
    let order = lab.step_ids();
    if let Some((id, _)) = pending.entries.iter().find(|(id, _)| !order.contains(id)) {
        return Err(Error::input(
            &pending_path,
            0,
            format!(
                "the pending entry for step `{id}` names a step {} does not have: it was \
                 written for another version of the document; remove the file to start over",
                path.display()
            ),
        )
        .into());
    }
    let mut left = Snapshot {
        document: pending.document.clone(),
        run: None,
        entries: Vec::new(),
    };
    let stdin = std::io::stdin();
    let mut answer = String::new();
    let mut promote_ids: Vec<String> = Vec::new();
    for (id, entry) in pending.entries {
        // against the accepted entry, or where there is none, against what the document
        // prints for the step (what check compared it with)
        let (old, against) = match snap.get(&id) {
            Some(e) => (e.lines.join("\n"), "the accepted snapshot"),
            None => (
                lab.steps
                    .iter()
                    .find(|s| s.id == id)
                    .map(|s| lab.norm.normalize(s.expected.text(), &s.command))
                    .unwrap_or_default(),
                "the document's printed output (no accepted entry yet)",
            ),
        };
        println!(
            "=== {id}\n$ {}\n(- {against}, + the live output)",
            entry.command
        );
        print!(
            "{}",
            crate::compare::unified_diff(&old, &entry.lines.join("\n"))
        );
        if run.is_some() {
            print!("[a]ccept, [p]romote into the document too, [r]eject, [s]kip? ");
        } else {
            print!("[a]ccept, [r]eject, [s]kip? ");
        }
        std::io::stdout().flush().ok();
        answer.clear();
        stdin.read_line(&mut answer).context("reading the answer")?;
        match answer.trim() {
            "a" | "accept" => snap.put(&id, entry, &order),
            "p" | "promote" if run.is_some() => {
                promote_ids.push(id.clone());
                snap.put(&id, entry, &order);
            }
            "r" | "reject" => {}
            _ => left.entries.push((id, entry)),
        }
    }
    if let (Some(run), false) = (run, promote_ids.is_empty()) {
        let records = crate::record::read(run)?;
        let p = crate::promote::promote(&lab, run, &records, &promote_ids)?;
        for l in &p.listed {
            eprintln!(
                "{}:{}: step {} not promoted: {}",
                path.display(),
                l.line,
                l.id,
                l.why
            );
        }
        if p.source != lab.doc.source {
            write_document(&lab, &p.source)?;
        }
        println!(
            "promoted {} step(s) into {}",
            p.promoted.len(),
            path.display()
        );
    }
    commit(&lab, &mut snap, None)?;
    if left.entries.is_empty() {
        std::fs::remove_file(&pending_path).ok();
    } else {
        crate::snapshot::save(&pending_path, &left)?;
    }
    Ok(ExitCode::Success)
}
