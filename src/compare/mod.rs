//! Stage 4b, compare: expected lines against live lines, both normalized.
//!
//! In: the expected [`Line`]s (from the document or a snapshot) and the live ones. Out: a
//! [`Comparison`]: whether they agree, why not, and the value pairs (class, expected, live)
//! that the binding stage learns from. Lines agree when they have the same shape in the same
//! place, except that lines of one shape, and runs of lines keyed by generated names (which
//! kubectl sorts by those names), may come in another order; and identity values must
//! correspond one to one across the whole step.

use rustc_hash::FxHashMap as HashMap;

use similar::{Algorithm, DiffOp, TextDiff};

use crate::bind::Bindings;
use crate::normalize::{Kind, Labels, Line, Normalizer};

mod lists;
mod matcher;
use matcher::Matcher;
#[cfg(test)]
use matcher::age_seconds;

/// Classes whose values are generated names: rows keyed by them may be reordered.
const GENERATED: &[&str] = &["POD", "RS", "NAME"];

pub use crate::bind::{Pair, first_of_each};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub pass: bool,
    pub reason: Option<String>,
    /// For each expected line, the index of the live line it was matched with.
    pub matching: Option<Vec<usize>>,
    /// Identity and placement pairs, in expected order.
    pub pairs: Vec<Pair>,
    /// The identity pairs the comparison determined: of lines with no interchangeable
    /// alternative, or holding a value earlier steps determined (then with that value and the
    /// steps behind it, as a reason would name them). The others were chosen
    /// among interchangeable rows.
    pub determined: Vec<(Pair, Option<String>)>,
}

/// Compare. `unordered`: all lines form one group that may come in any order.
pub fn compare(norm: &Normalizer, expected: &[Line], live: &[Line], unordered: bool) -> Comparison {
    compare_held(norm, expected, live, unordered, &Bindings::default())
}

/// Compare under the identity values earlier steps bound (`held`): a bound document value
/// pairs only with its live value, and a bound live value with nothing else; the rows whose
/// order is free are ordered so that both hold.
pub fn compare_held(
    norm: &Normalizer,
    expected: &[Line],
    live: &[Line],
    unordered: bool,
    held: &Bindings,
) -> Comparison {
    let fail = |reason: String| Comparison {
        pass: false,
        reason: Some(reason),
        matching: None,
        pairs: align_pairs(norm, expected, live),
        determined: Vec::new(),
    };
    if expected.len() != live.len() {
        return fail(format!(
            "expected {} line(s), got {}",
            expected.len(),
            live.len()
        ));
    }
    let groups = groups(expected, unordered);
    // a line's value lists compared as the sets they are (see `lists`)
    let mut adjusted: Option<Vec<Line>> = None;
    let mut free: Vec<(usize, usize)> = Vec::new();
    for &(a, b) in &groups {
        if b - a != 1 {
            continue;
        }
        let (moved, f) = lists::reorder(norm, &expected[a], &live[a], held);
        free.extend(f.into_iter().map(|slot| (a, slot)));
        if let Some(line) = moved {
            adjusted.get_or_insert_with(|| live.to_vec())[a] = line;
        }
    }
    // in order of line, then slot: looked up by halves for each pair of a step of many rows
    debug_assert!(free.is_sorted());
    let live: &[Line] = adjusted.as_deref().unwrap_or(live);
    for &(a, b) in &groups {
        if !same_shapes(&expected[a..b], &live[a..b]) {
            let line = (a..b)
                .find(|&i| expected[i].shape != live[i].shape)
                .unwrap_or(a);
            return fail(format!("line {} differs", line + 1));
        }
    }
    let mut m = Matcher::new(norm, expected, live, held);
    let mut order: Vec<usize> = Vec::with_capacity(expected.len());
    if !m.greedy(&groups, &mut order) {
        m = Matcher::new(norm, expected, live, held);
        order.clear();
        let mut budget = 200_000usize;
        if expected.len() > 2_000 || !m.search(&groups, 0, &mut order, &mut budget) {
            return fail(
                m.conflict
                    .take()
                    .unwrap_or_else(|| "identity values do not correspond one to one".to_string()),
            );
        }
    }
    // the matcher's tables are done with before the pairs are made: on a step of many rows
    // both are megabytes, and holding the two at once would set the check's peak
    drop(m);
    let pairs = pairs_of(norm, expected, live, &order);
    let determined = determined(norm, expected, live, &order, &groups, held, &free);
    Comparison {
        pass: true,
        reason: None,
        matching: Some(order),
        pairs,
        determined,
    }
}

/// The identity pairs of lines whose pairing had no alternative: a group of one line, or a
/// line holding a value earlier steps determined.
fn determined(
    norm: &Normalizer,
    expected: &[Line],
    live: &[Line],
    order: &[usize],
    groups: &[(usize, usize)],
    held: &Bindings,
    free: &[(usize, usize)],
) -> Vec<(Pair, Option<String>)> {
    let mut out = Vec::new();
    for &(a, b) in groups {
        for e in a..b {
            let l = order[e];
            // a list member no earlier step placed was paired by choice, not determined
            let identity = || {
                expected[e]
                    .slots
                    .iter()
                    .zip(&live[l].slots)
                    .enumerate()
                    .filter(move |(k, _)| free.binary_search(&(e, *k)).is_err())
                    .map(|(_, p)| p)
                    .filter(|(es, _)| norm.class_kind(es.class) == Kind::Identity)
            };
            // the value an earlier step determined that fixes this row, and that step's chain
            let anchor = if held.constrains() {
                identity().find_map(|(es, _)| {
                    let (_, step) = held.held(&es.class, &es.value)?;
                    Some(format!(
                        "{} `{}`, bound since step {step}",
                        es.class, es.value
                    ))
                })
            } else {
                None
            };
            if b - a == 1 || anchor.is_some() {
                out.extend(identity().map(|(es, ls)| {
                    (
                        (es.class, es.value.clone(), ls.value.clone()),
                        anchor.clone(),
                    )
                }));
            }
        }
    }
    out
}

/// Compare a watch's output: the expected lines must appear in order among the live ones
/// (a watch prints more as time passes); identity values still correspond one to one.
pub fn subsequence(norm: &Normalizer, expected: &[Line], live: &[Line]) -> Comparison {
    subsequence_held(norm, expected, live, &Bindings::default())
}

/// [`subsequence`] under the identity values earlier steps bound (see [`compare_held`]).
pub fn subsequence_held(
    norm: &Normalizer,
    expected: &[Line],
    live: &[Line],
    held: &Bindings,
) -> Comparison {
    let mut picked = Vec::with_capacity(expected.len());
    let mut j = 0;
    for (i, e) in expected.iter().enumerate() {
        while j < live.len() && live[j].shape != e.shape {
            j += 1;
        }
        if j == live.len() {
            return Comparison {
                pass: false,
                reason: Some(format!(
                    "line {} of the watch never appeared (in order) in its {} live line(s)",
                    i + 1,
                    live.len()
                )),
                matching: None,
                pairs: align_pairs(norm, expected, live),
                determined: Vec::new(),
            };
        }
        picked.push(j);
        j += 1;
    }
    let sub: Vec<Line> = picked.iter().map(|&k| live[k].clone()).collect();
    let mut c = compare_held(norm, expected, &sub, false, held);
    if let Some(m) = c.matching.as_mut() {
        for k in m.iter_mut() {
            *k = picked[*k];
        }
    }
    c
}

/// Ranges of expected lines whose order is free.
fn groups(expected: &[Line], unordered: bool) -> Vec<(usize, usize)> {
    if unordered {
        return vec![(0, expected.len())];
    }
    let generated = |l: &Line| {
        l.slots
            .iter()
            .any(|s| GENERATED.contains(&s.class.as_str()))
    };
    let mut out = Vec::new();
    let mut a = 0;
    while a < expected.len() {
        let mut b = a + 1;
        while b < expected.len()
            && (expected[b].shape == expected[a].shape
                || (generated(&expected[a]) && generated(&expected[b])))
        {
            b += 1;
        }
        out.push((a, b));
        a = b;
    }
    out
}

fn pairs_of(norm: &Normalizer, expected: &[Line], live: &[Line], order: &[usize]) -> Vec<Pair> {
    let kept = |l: &Line| {
        l.slots
            .iter()
            .filter(|s| norm.class_kind(s.class) != Kind::Volatile)
            .count()
    };
    // counted first: a list grown by doubling holds up to twice its pairs at its peak
    let mut out = Vec::with_capacity(expected[..order.len()].iter().map(kept).sum());
    for (e, &l) in order.iter().enumerate() {
        for (es, ls) in expected[e].slots.iter().zip(&live[l].slots) {
            if norm.class_kind(es.class) != Kind::Volatile {
                out.push((es.class, es.value.clone(), ls.value.clone()));
            }
        }
    }
    out
}

/// Pairs from the lines that agree in shape, in order, when the whole does not agree (the
/// document is stale but later commands still need the values it names).
fn align_pairs(norm: &Normalizer, expected: &[Line], live: &[Line]) -> Vec<Pair> {
    let a: Vec<&str> = expected.iter().map(|l| &*l.shape).collect();
    let b: Vec<&str> = live.iter().map(|l| &*l.shape).collect();
    let mut order_e = Vec::new();
    let mut order_l = Vec::new();
    for op in similar::capture_diff_slices(Algorithm::Patience, &a, &b) {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            order_e.extend(old_index..old_index + len);
            order_l.extend(new_index..new_index + len);
        }
    }
    let e: Vec<Line> = order_e.iter().map(|&i| expected[i].clone()).collect();
    let identity: Vec<usize> = (0..order_l.len()).collect();
    let l: Vec<Line> = order_l.iter().map(|&i| live[i].clone()).collect();
    pairs_of(norm, &e, &l, &identity)
}

/// Expected and live rendered with one set of labels (live values shown under the labels of
/// the expected values they correspond to), live lines in matched order when there is one.
pub fn render_both(
    norm: &Normalizer,
    expected: &[Line],
    live: &[Line],
    comparison: &Comparison,
) -> (String, String) {
    let mut labels = Labels::default();
    let exp = norm.render(expected, &mut labels);
    let mut live_labels = Labels::default();
    for (class, e, l) in &comparison.pairs {
        if norm.class_kind(*class) == Kind::Identity {
            live_labels.set(*class, l, labels.label(*class, e));
        }
    }
    // New live values get labels after the expected ones, marked with a prime.
    let rendered = match &comparison.matching {
        Some(order) => norm.render_each(order.iter().map(|&i| &live[i]), &mut live_labels),
        None => norm.render(live, &mut live_labels),
    };
    (exp, rendered)
}

/// Whether a group of rows holds the same shapes, each as many times, on both sides (in any
/// order). Rows in the same order need no map: a compare of 20 000 such rows costs 11% fewer
/// instructions than when every shape was counted in one (`scripts/bench-instructions.sh`).
fn same_shapes(expected: &[Line], live: &[Line]) -> bool {
    // most often the rows come in the same order: no map is needed then
    if expected.iter().zip(live).all(|(e, l)| e.shape == l.shape) {
        return true;
    }
    let mut want: HashMap<&str, isize> =
        HashMap::with_capacity_and_hasher(expected.len(), Default::default());
    for (lines, by) in [(expected, 1), (live, -1)] {
        for l in lines {
            *want.entry(&l.shape).or_default() += by;
        }
    }
    want.values().all(|&n| n == 0)
}

/// A unified diff of expected against live.
pub fn unified_diff(expected: &str, live: &str) -> String {
    unified_diff_of(&mut expected.to_string(), &mut live.to_string())
}

/// [`unified_diff`] of two texts the caller owns, without copying them: each gets a final
/// newline for the diff (so that a last line compares equal to the same line followed by
/// more) and loses it again.
pub fn unified_diff_of(expected: &mut String, live: &mut String) -> String {
    expected.push('\n');
    live.push('\n');
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .timeout(std::time::Duration::from_secs(1))
        .diff_lines(expected.as_str(), live.as_str());
    let text = shown(&diff, DIFF_LINES);
    expected.pop();
    live.pop();
    text
}

/// The most lines of a diff shown: a reader (a terminal, a JSON report, a page of the book)
/// learns nothing more from a diff of a million added lines than from its first thousand, and
/// writing all of it would hold the output once more. The whole live output is in the run
/// file.
pub const DIFF_LINES: usize = 1_000;

/// The unified diff (three lines of context, `expected` and `live` as its header) as
/// `similar` writes it, cut after `most` lines of hunks with a last line saying how many more
/// there are.
fn shown(diff: &TextDiff<'_, '_, str>, most: usize) -> String {
    use std::fmt::Write as _;
    let mut udiff = diff.unified_diff();
    udiff.context_radius(3);
    let mut out = String::new();
    let (mut lines, mut left) = (0usize, 0usize);
    for (n, hunk) in udiff.iter_hunks().enumerate() {
        if n == 0 {
            out.push_str("--- expected\n+++ live\n");
        }
        if lines >= most {
            left += hunk.iter_changes().count() + 1;
            continue;
        }
        let _ = writeln!(out, "{}", hunk.header());
        lines += 1;
        for change in hunk.iter_changes() {
            if lines >= most {
                left += 1;
                continue;
            }
            let _ = write!(out, "{}{}", change.tag(), change.value());
            if change.missing_newline() {
                out.push_str("\n\\ No newline at end of file\n");
            }
            lines += 1;
        }
    }
    if left > 0 {
        let _ = writeln!(
            out,
            "... {left} more line(s) of the diff not shown (the live output is in the run file)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_shapes_holds_each_shape_as_often_in_any_order() {
        let norm = Normalizer::default();
        let lines = |t: &str| norm.lines(t, "");
        let a = lines("pod 10.0.0.1\nnode x\npod 10.0.0.2");
        assert!(same_shapes(&a, &a));
        assert!(same_shapes(
            &a,
            &lines("node x\npod 10.0.0.3\npod 10.0.0.4")
        ));
        assert!(!same_shapes(&a, &lines("node x\nnode x\npod 10.0.0.4")));
        assert!(!same_shapes(
            &a,
            &lines("pod 10.0.0.3\nnode x\nnode 10.0.0.4")
        ));
    }

    /// The diff as `similar` itself writes it, uncut.
    fn whole(a: &str, b: &str) -> String {
        let (a, b) = (format!("{a}\n"), format!("{b}\n"));
        TextDiff::configure()
            .algorithm(Algorithm::Patience)
            .diff_lines(a.as_str(), b.as_str())
            .unified_diff()
            .context_radius(3)
            .header("expected", "live")
            .to_string()
    }

    #[test]
    fn a_diff_under_the_cap_is_the_whole_unified_diff() {
        let many: Vec<String> = (0..40).map(|i| format!("line {i}")).collect();
        let mut changed = many.clone();
        changed[3] = "line three".into();
        changed[30] = "line thirty".into();
        changed.push("one more".into());
        for (a, b) in [
            ("ok", "failed"),
            ("same\nsame", "same\nsame"),
            ("", "new"),
            ("a\nb\nc", "a\nc"),
            (&many.join("\n")[..], &changed.join("\n")[..]),
        ] {
            assert_eq!(unified_diff(a, b), whole(a, b), "{a:?} / {b:?}");
        }
    }

    #[test]
    fn a_long_diff_stops_at_the_cap_and_counts_the_rest() {
        let a: Vec<String> = (0..10).map(|i| format!("row {i}")).collect();
        let b: Vec<String> = (0..3 * DIFF_LINES)
            .map(|i| format!("pod-{i} Running"))
            .collect();
        let (a, b) = (a.join("\n"), b.join("\n"));
        let cut = unified_diff(&a, &b);
        let all = whole(&a, &b);
        let lines: Vec<&str> = cut.lines().collect();
        // the two header lines, the cap's lines of hunks, the line that counts the rest
        assert_eq!(lines.len(), 2 + DIFF_LINES + 1);
        assert!(all.starts_with(&cut[..cut.len() - lines.last().unwrap().len() - 1]));
        let left = all.lines().count() - 2 - DIFF_LINES;
        assert_eq!(
            *lines.last().unwrap(),
            format!(
                "... {left} more line(s) of the diff not shown (the live output is in the run file)"
            )
        );
    }

    fn cmp(expected: &str, live: &str) -> Comparison {
        let n = Normalizer::default();
        compare(&n, &n.lines(expected, "x"), &n.lines(live, "x"), false)
    }

    #[test]
    fn a_watch_passes_when_its_lines_appear_in_order_among_more() {
        let n = Normalizer::default();
        let exp = n.lines(
            "NAME READY STATUS\napp-5586fc9d77-7frts 1/1 Running\napp-5586fc9d77-6dcg2 0/1 Pending",
            "kubectl get pods -w",
        );
        let live = n.lines(
            "NAME READY STATUS\napp-6b8f7d5c4-x7k2p 1/1 Running\ndnsutils 1/1 Running\napp-6b8f7d5c4-q9z4m 0/1 Pending\napp-6b8f7d5c4-q9z4m 1/1 Running",
            "kubectl get pods -w",
        );
        let c = subsequence(&n, &exp, &live);
        assert!(c.pass, "{:?}", c.reason);
        assert_eq!(c.matching, Some(vec![0, 1, 3]));
        // out of order: Pending before Running is not what was printed
        let swapped = n.lines(
            "NAME READY STATUS\napp-6b8f7d5c4-q9z4m 0/1 Pending\napp-6b8f7d5c4-x7k2p 1/1 Running",
            "kubectl get pods -w",
        );
        let c = subsequence(&n, &exp, &swapped);
        assert!(!c.pass);
        assert!(c.reason.unwrap().contains("never appeared"));
    }

    #[test]
    fn same_values_twice_must_stay_the_same() {
        assert!(cmp("a 10.0.0.1 b 10.0.0.1", "a 10.9.9.9 b 10.9.9.9").pass);
        let c = cmp("a 10.0.0.1 b 10.0.0.1", "a 10.9.9.9 b 10.9.9.8");
        assert!(!c.pass);
        assert!(c.reason.unwrap().contains("one to one"));
        assert!(!cmp("a 10.0.0.1 b 10.0.0.2", "a 10.9.9.9 b 10.9.9.9").pass);
    }

    #[test]
    fn rows_keyed_by_generated_names_may_reorder() {
        let exp = "app-9cc7d9df8-9d5t8 Running 10.244.2.4\napp-9cc7d9df8-ffsm6 Pending 10.244.1.4\ndnsutils Running 10.244.3.2";
        let live = "app-5f6b7c8d9-xk2lp Pending 10.244.3.9\napp-5f6b7c8d9-bq7rt Running 10.244.1.7\ndnsutils Running 10.244.2.2";
        let c = cmp(exp, live);
        assert!(c.pass, "{:?}", c.reason);
        assert_eq!(c.matching, Some(vec![1, 0, 2]));
        assert!(c.pairs.contains(&(
            "POD".into(),
            "9cc7d9df8-ffsm6".into(),
            "5f6b7c8d9-xk2lp".into()
        )));
    }

    #[test]
    fn lines_of_one_shape_may_reorder_but_others_may_not() {
        assert!(cmp("A 10.0.0.1\nA 10.0.0.2\nend", "A 10.1.0.2\nA 10.1.0.1\nend").pass);
        assert!(!cmp("x\ny", "y\nx").pass);
    }

    #[test]
    fn backtracking_finds_the_consistent_order() {
        // Greedy in place would bind 10.0.0.1 to 10.1.1.1 and then fail on the last line.
        let exp = "A 10.0.0.1\nA 10.0.0.2\nlast 10.0.0.2";
        let live = "A 10.1.1.1\nA 10.1.1.2\nlast 10.1.1.1";
        assert!(cmp(exp, live).pass);
    }

    #[test]
    fn count_status_and_port_changes_fail() {
        assert!(!cmp("a\nb", "a").pass);
        assert!(!cmp("pod 1/1 Running", "pod 0/1 Running").pass);
        assert!(!cmp("svc 80/TCP", "svc 81/TCP").pass);
    }

    #[test]
    fn placement_is_not_one_to_one() {
        let exp = "p-0 kind-worker2\np-1 kind-worker";
        let live = "p-0 kind-worker3\np-1 kind-worker3";
        let c = cmp(exp, live);
        assert!(c.pass);
        assert_eq!(
            c.pairs[0],
            ("NODE".into(), "kind-worker2".into(), "kind-worker3".into())
        );
    }

    #[test]
    fn diff_shows_live_values_under_expected_labels() {
        let n = Normalizer::default();
        let (e, l) = (
            n.lines("ip 10.0.0.1\nok", ""),
            n.lines("ip 10.0.0.9\nfailed", ""),
        );
        let c = compare(&n, &e, &l, false);
        let (a, b) = render_both(&n, &e, &l, &c);
        assert_eq!(
            (a.as_str(), b.as_str()),
            (
                "<IP1>\nok".replace("<IP1>", "ip <IP1>").as_str(),
                "ip <IP1>\nfailed"
            )
        );
        assert!(unified_diff(&a, &b).contains("-ok\n+failed"));
    }

    #[test]
    fn earlier_bindings_choose_among_interchangeable_rows_and_conflicts_name_the_step() {
        let n = Normalizer::default();
        let exp = n.lines(
            "app-5586fc9d77-6dcg2 10.244.1.6\napp-5586fc9d77-7frts 10.244.1.4",
            "x",
        );
        // kubectl sorted the live rows by their new names
        let live = n.lines(
            "app-6b8f7c9d4-c8vnm 10.244.7.9\napp-6b8f7c9d4-p9rgv 10.244.7.4",
            "x",
        );
        let plain = compare(&n, &exp, &live, false);
        assert!(plain.pass);
        assert_eq!(
            plain.matching,
            Some(vec![0, 1]),
            "by position when nothing is known"
        );
        let mut held = Bindings::default();
        held.hold(
            &[(
                (
                    "POD".into(),
                    "5586fc9d77-7frts".into(),
                    "6b8f7c9d4-c8vnm".into(),
                ),
                None,
            )],
            "endpoints/4",
        );
        let c = compare_held(&n, &exp, &live, false, &held);
        assert!(c.pass);
        assert_eq!(c.matching, Some(vec![1, 0]));
        // the row holding a determined value is determined too; the other is still a choice
        // ... and knows what fixed it: the chain a later conflict names
        assert!(
            c.determined
                .iter()
                .any(|((_, d, l), anchor)| d == "10.244.1.4"
                    && l == "10.244.7.9"
                    && anchor.as_deref()
                        == Some("POD `5586fc9d77-7frts`, bound since step endpoints/4"))
        );
        assert!(
            !c.determined
                .iter()
                .any(|((_, d, _), _)| d == "5586fc9d77-6dcg2")
        );
        // a determined value whose live value is not there: a conflict naming the step
        let gone = n.lines(
            "app-6b8f7c9d4-zq7xv 10.244.7.9\napp-6b8f7c9d4-p9rgv 10.244.7.4",
            "x",
        );
        let c = compare_held(&n, &exp, &gone, false, &held);
        assert!(!c.pass);
        let why = c.reason.unwrap();
        assert!(why.contains("since step endpoints/4"), "{why}");
    }

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        assert_eq!(age_seconds("21m"), Some(1_260));
        assert_eq!(age_seconds("4m51s"), Some(291));
        assert_eq!(age_seconds("3h6m"), Some(11_160));
        assert_eq!(age_seconds("2d3h"), Some(183_600));
        assert_eq!(age_seconds("0s"), Some(0));
        assert_eq!(age_seconds("3h6"), None);
        assert_eq!(age_seconds("<none>"), None);
    }

    #[test]
    fn interchangeable_rows_pair_by_age_before_position() {
        let n = Normalizer::default();
        // the new pod is five seconds old in the document; kubectl sorts the live pods by name
        let exp = n.lines(
            "app-5586fc9d77-6dcg2   1/1   Running   0   5s\napp-5586fc9d77-7frts   1/1   Running   0   27m",
            "x",
        );
        let live = n.lines(
            "app-6b8f7c9d4-c8vnm   1/1   Running   0   31m\napp-6b8f7c9d4-t4fwq   1/1   Running   0   9s",
            "x",
        );
        let c = compare(&n, &exp, &live, false);
        assert!(c.pass);
        assert_eq!(c.matching, Some(vec![1, 0]));
        assert!(
            c.pairs
                .iter()
                .any(|(_, d, l)| d == "5586fc9d77-6dcg2" && l == "6b8f7c9d4-t4fwq")
        );
    }
}
