//! The run: a document's steps executed in order through a [`Backend`], each recorded.
//!
//! In: an opened [`Lab`], a backend, [`Options`]. Out: one [`StepRecord`] per executed step,
//! appended as each step ends (so an interrupted run keeps what it did). Before each step the
//! bindings learned so far rewrite its command; a read-only step that does not match yet is
//! re-run about every second within its retry budget; a watch runs in a background terminal
//! and is collected by the later step that prints its output; a step ending in `&` runs in
//! the background until the run ends. Verdicts are not this module's output: `check` makes
//! them from the records, exactly as for a replay.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::check::{Checker, Status};
use crate::execute::{Admit, Backend, Outcome, Terminal};
use crate::lab::Lab;
use crate::policy::{self, Kind};
use crate::record::StepRecord;
use crate::steps::Step;

#[derive(Debug, Clone)]
pub struct Options {
    /// A step's timeout unless its block says otherwise.
    pub timeout: Duration,
    /// A retryable step's budget unless its block says otherwise.
    pub retry: Duration,
    /// Pause between tries.
    pub interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: crate::config::DEFAULT_TIMEOUT,
            retry: crate::directive::DEFAULT_RETRY,
            interval: Duration::from_secs(1),
        }
    }
}

/// What the runner reports while it works (for progress display).
#[derive(Debug)]
pub enum Event<'a> {
    Started {
        index: usize,
        total: usize,
        step: &'a Step,
        command: &'a str,
    },
    Retrying {
        step: &'a Step,
        tries: u32,
        reason: &'a str,
    },
    Finished {
        step: &'a Step,
        record: &'a StepRecord,
        status: Status,
    },
}

/// Background terminals of a run; stopped (their process groups killed) when dropped.
#[derive(Default)]
struct Terminals {
    watches: HashMap<String, Terminal>,
    background: Vec<Terminal>,
}

/// Execute `lab`'s steps; each record is pushed onto `records` as its step ends.
pub async fn run<B: Backend>(
    lab: &Lab,
    backend: &mut B,
    opts: &Options,
    records: &mut Vec<StepRecord>,
    progress: &mut dyn FnMut(Event),
) -> crate::error::Result<()> {
    let mut checker = Checker::new(&lab.norm, lab.snapshot.as_ref(), Default::default());
    let mut terminals = Terminals::default();
    let total = lab.steps.iter().filter(|s| !s.directives.skip).count();
    let mut index = 0;
    for step in &lab.steps {
        if step.directives.skip {
            checker.verdict(step, None);
            continue;
        }
        index += 1;
        let command = backend.rewrite(&checker.planned(step));
        progress(Event::Started {
            index,
            total,
            step,
            command: &command,
        });
        // A refusal names the step it stopped at.
        let at_step = |e| match e {
            crate::error::Error::Environment(m) => crate::error::Error::Environment(format!(
                "{}:{}: {m}",
                lab.doc.path.display(),
                step.line
            )),
            other => other,
        };
        let admit = backend.before(&command).await.map_err(at_step)?;
        let mut record = match admit {
            Admit::Skip(why) => {
                let mut r = record_of(step, &command, Outcome::default(), 1);
                r.skipped = Some(why);
                r
            }
            Admit::Run => execute(
                step,
                &command,
                lab,
                backend,
                &checker,
                &mut terminals,
                opts,
                progress,
            )
            .await
            .map_err(at_step)?,
        };
        record.versions = backend.versions();
        record.renamed = backend.renamed();
        let status = checker.verdict(step, Some(&record)).status;
        progress(Event::Finished {
            step,
            record: &record,
            status,
        });
        records.push(record);
    }
    for (_, t) in terminals.watches.drain() {
        t.stop().await;
    }
    for t in terminals.background.drain(..) {
        t.stop().await;
    }
    Ok(())
}

/// Run one admitted step as its kind asks: in the background, as a watch, or to its end.
#[allow(clippy::too_many_arguments)]
async fn execute<B: Backend>(
    step: &Step,
    command: &str,
    lab: &Lab,
    backend: &mut B,
    checker: &Checker<'_>,
    terminals: &mut Terminals,
    opts: &Options,
    progress: &mut dyn FnMut(Event),
) -> crate::error::Result<StepRecord> {
    Ok(match policy::kind(&step.command) {
        Kind::Background => {
            let t = backend.shell().spawn(policy::foreground(command)).await?;
            terminals.background.push(t);
            record_of(step, command, Outcome::default(), 1)
        }
        Kind::Watch if !step.has_expected() && !has_snapshot(lab, step) => {
            let t = backend.shell().spawn(command).await?;
            if let Some(old) = terminals.watches.insert(squash(command), t) {
                old.stop().await;
            }
            record_of(step, command, Outcome::default(), 1)
        }
        Kind::Watch => {
            collect_watch(step, command, backend, checker, terminals, opts, progress).await?
        }
        Kind::Plain => run_plain(step, command, backend, checker, opts, progress).await?,
    })
}

fn has_snapshot(lab: &Lab, step: &Step) -> bool {
    lab.snapshot
        .as_ref()
        .is_some_and(|s| s.get(&step.id).is_some())
}

fn squash(command: &str) -> String {
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The retry budget of a step: `None` when it must run once only. Without a directive, only
/// a read-only step is tried again, and only where the backend [`retries`](Backend::retries).
fn retry_budget(step: &Step, command: &str, opts: &Options, retries: bool) -> Option<Duration> {
    match step.directives.retry {
        Some(Some(budget)) => Some(budget),
        Some(None) => None,
        None => (retries && policy::read_only(command)).then_some(opts.retry),
    }
}

/// Tries after which, with nothing around the step changing, a drift is known (before the
/// budget ends): its output is what it will stay.
const STEADY: u32 = 3;

async fn run_plain<B: Backend>(
    step: &Step,
    command: &str,
    backend: &mut B,
    checker: &Checker<'_>,
    opts: &Options,
    progress: &mut dyn FnMut(Event),
) -> crate::error::Result<StepRecord> {
    let timeout = step
        .directives
        .timeout
        .or_else(|| backend.timeout(command))
        .unwrap_or(opts.timeout);
    let budget = retry_budget(step, command, opts, backend.retries());
    let directed = step.directives.retry.is_some();
    let steady = backend.steady_after();
    let started = Instant::now();
    let mut tries = 0;
    let mut last: Option<u64> = None;
    let mut same = 0;
    loop {
        tries += 1;
        let outcome = backend.shell().run(command, timeout).await?;
        // what it printed, as a hash: a large output is not kept twice to compare
        let seen = {
            use std::hash::{Hash as _, Hasher as _};
            let mut h = std::hash::DefaultHasher::new();
            (&outcome.stdout, &outcome.stderr, outcome.exit_code).hash(&mut h);
            h.finish()
        };
        same = if last == Some(seen) { same + 1 } else { 1 };
        last = Some(seen);
        let unsettled = backend.after(command, &outcome).await?;
        let timed_out = outcome.timed_out;
        let mut record = record_of(step, command, outcome, tries);
        if unsettled.is_some() {
            record.unsettled = unsettled;
            return Ok(record);
        }
        let Some(budget) = budget else {
            return Ok(record);
        };
        let trial = checker.trial(step, &record);
        if trial.status != Status::Fail
            || timed_out
            || started.elapsed() + opts.interval > budget
            || (!directed && steady.is_some_and(|n| same >= n))
            || (!directed && tries >= STEADY && !backend.changing().await)
        {
            return Ok(record);
        }
        progress(Event::Retrying {
            step,
            tries,
            reason: trial.reason.as_deref().unwrap_or("mismatch"),
        });
        tokio::time::sleep(opts.interval).await;
    }
}

/// A watch with printed output: the terminal started earlier (or now) is read until what it
/// printed matches, or the budget passes; then it is stopped.
async fn collect_watch<B: Backend>(
    step: &Step,
    command: &str,
    backend: &mut B,
    checker: &Checker<'_>,
    terminals: &mut Terminals,
    opts: &Options,
    progress: &mut dyn FnMut(Event),
) -> crate::error::Result<StepRecord> {
    let terminal = match terminals.watches.remove(&squash(command)) {
        Some(t) => t,
        None => backend.shell().spawn(command).await?,
    };
    let budget = step
        .directives
        .retry
        .flatten()
        .or(step.directives.timeout)
        .unwrap_or(opts.retry);
    let started = Instant::now();
    let poll = opts.interval.min(Duration::from_millis(250));
    let mut tries = 0;
    // lines the command prints only as it is interrupted (ping's statistics) are not waited for
    let epilogue = policy::epilogue(command);
    // polls since the command was seen to have ended by itself: one more read takes what it
    // printed last, then nothing more can appear
    let mut since_end = 0;
    let seen = loop {
        tries += 1;
        if !terminal.running() {
            since_end += 1;
        }
        let so_far = Outcome {
            stdout: terminal.output(),
            ..Outcome::default()
        };
        let so_far = record_of(step, command, so_far, tries);
        let trial = match epilogue {
            Some(e) => checker.trial_before(step, &so_far, e),
            None => checker.trial(step, &so_far),
        };
        if trial.status != Status::Fail {
            break true;
        }
        if since_end > 1 || started.elapsed() + poll > budget {
            break false;
        }
        if tries % 4 == 0 {
            progress(Event::Retrying {
                step,
                tries,
                reason: trial.reason.as_deref().unwrap_or("waiting"),
            });
        }
        tokio::time::sleep(poll).await;
    };
    let ended_alone = since_end > 0;
    let mut outcome = terminal.interrupt().await;
    // Interrupted on purpose is its normal end, unless the document says what exit to expect;
    // a command that ended by itself keeps its own exit code.
    if step.directives.exit.is_none() && !ended_alone {
        outcome.exit_code = 0;
    }
    // it ran once; the polls that read its output are not tries
    let mut record = record_of(step, command, outcome, 1);
    record.interrupted = if ended_alone {
        None
    } else if seen {
        Some("after its printed lines appeared".to_string())
    } else {
        Some(format!(
            "at its budget of {}s, its printed lines not all seen",
            budget.as_secs()
        ))
    };
    Ok(record)
}

fn record_of(step: &Step, command: &str, o: Outcome, tries: u32) -> StepRecord {
    StepRecord {
        step: step.id.clone(),
        command: command.to_string(),
        stdout: o.stdout,
        stderr: o.stderr,
        exit_code: o.exit_code,
        duration_ms: o.duration.as_millis() as u64,
        origin: Some("live".into()),
        tries: (tries > 1).then_some(tries),
        truncated: o.truncated,
        timed_out: o.timed_out,
        versions: None,
        skipped: None,
        interrupted: None,
        unsettled: None,
        renamed: None,
        at: Some(rfc3339(std::time::SystemTime::now() - o.duration)),
    }
}

/// `YYYYMMDDTHHMMSS.mmmZ` (UTC, milliseconds): the name of a run's directory.
pub fn run_id(now: std::time::SystemTime) -> String {
    let millis = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    let (y, mo, d, h, mi, s) = civil(now);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{millis:03}Z")
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC): when a step ran.
pub fn rfc3339(now: std::time::SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(now);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn civil(now: std::time::SystemTime) -> (i64, i64, i64, i64, i64, i64) {
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        let at = |s: u64| run_id(std::time::UNIX_EPOCH + Duration::from_millis(s * 1000 + 7));
        assert_eq!(at(0), "19700101T000000.007Z");
        // 2026-11-27 14:12:16 UTC
        assert_eq!(at(1_795_788_736), "20261127T141216.007Z");
        // a leap day
        assert_eq!(at(951_782_400), "20000229T000000.007Z");
        assert_eq!(
            rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(1_795_788_736)),
            "2026-11-27T14:12:16Z"
        );
    }
}

pub mod document;
