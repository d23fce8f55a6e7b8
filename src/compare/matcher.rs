//! The one-to-one correspondence of identity values within a comparison.
//!
//! In: expected and live lines already grouped (ranges whose order is free), and the values
//! earlier steps held or chose. Out: for each expected line the live line it pairs with, such
//! that every identity value of the document stands for one live value and back, or the
//! first conflict found. A greedy pass (earlier choices first, then nearest age, then same
//! position) settles almost every listing; a bounded backtracking search the rest.

use crate::bind::Bindings;
use crate::normalize::{Kind, Line, Normalizer, Slot};

/// Interchangeable rows are ordered by age only in groups up to this size (beyond it, by
/// position: the comparison stays linear).
const AGED_GROUP: usize = 64;

/// A kubectl age (`21m`, `4m51s`, `3h6m`, `2d3h`, `45s`) in seconds.
pub(super) fn age_seconds(v: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut n = String::new();
    for c in v.chars() {
        if c.is_ascii_digit() {
            n.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'y' => 31_536_000,
            _ => return None,
        };
        total = total.checked_add(n.parse::<u64>().ok()?.checked_mul(unit)?)?;
        n.clear();
    }
    n.is_empty().then_some(total)
}

/// A masked value of one side: its line and its place among the line's slots.
#[derive(Clone, Copy)]
struct At {
    line: u32,
    slot: u32,
}

fn slot_at(lines: &[Line], at: At) -> &Slot {
    &lines[at.line as usize].slots[at.slot as usize]
}

fn slot_hash(s: &Slot) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one((s.class, s.value.as_str()))
}

fn same_value(a: &Slot, b: &Slot) -> bool {
    a.class == b.class && a.value == b.value
}

pub(super) struct Matcher<'a> {
    norm: &'a Normalizer,
    expected: &'a [Line],
    live: &'a [Line],
    held: &'a Bindings,
    /// Earlier steps held or chose values (else there is nothing to look up).
    constrained: bool,
    /// Document value → live value and back, per class: inverse of each other. Each entry
    /// names the two values by where they stand (sixteen bytes), not by their text.
    fwd: hashbrown::HashTable<(At, At)>,
    bwd: hashbrown::HashTable<(At, At)>,
    /// The pairs bound, in order, so that a line's can be undone (see [`Matcher::unbind`]).
    trail: Vec<(At, At)>,
    used: Vec<bool>,
    pub(super) conflict: Option<String>,
}

impl<'a> Matcher<'a> {
    pub(super) fn new(
        norm: &'a Normalizer,
        expected: &'a [Line],
        live: &'a [Line],
        held: &'a Bindings,
    ) -> Self {
        // room for every identity value at once, rather than growing the maps step by step
        let values: usize = expected
            .iter()
            .map(|l| {
                l.slots
                    .iter()
                    .filter(|s| norm.class_kind(s.class) == Kind::Identity)
                    .count()
            })
            .sum();
        Matcher {
            norm,
            expected,
            live,
            held,
            constrained: held.constrains(),
            fwd: hashbrown::HashTable::with_capacity(values),
            bwd: hashbrown::HashTable::with_capacity(values),
            trail: Vec::new(),
            used: vec![false; live.len()],
            conflict: None,
        }
    }

    /// Try to bind expected line `e` to live line `l`; on success returns the keys added.
    fn bind(&mut self, e: usize, l: usize) -> Option<usize> {
        let (ex, lv) = (self.expected, self.live);
        let (el, ll) = (&ex[e], &lv[l]);
        if el.shape != ll.shape {
            return None;
        }
        let mark = self.trail.len();
        for (i, (es, ls)) in el.slots.iter().zip(&ll.slots).enumerate() {
            if self.norm.class_kind(es.class) != Kind::Identity {
                continue;
            }
            let class = es.class;
            // what earlier steps bound holds for this one
            let earlier = if self.constrained {
                self.earlier(e, &class, &es.value, &ls.value)
            } else {
                None
            };
            if let Some(why) = earlier {
                self.conflict.get_or_insert(why);
                self.unbind(mark);
                return None;
            }
            // the two maps are inverse: a document value already bound agrees if its live
            // value is this one; an unbound one, if the live value is not taken
            let here = At {
                line: e as u32,
                slot: i as u32,
            };
            let there = At {
                line: l as u32,
                slot: i as u32,
            };
            let he = slot_hash(es);
            let agrees = match self.fwd.find(he, |(x, _)| same_value(slot_at(ex, *x), es)) {
                Some((_, y)) => slot_at(lv, *y).value == ls.value,
                None => {
                    let hl = slot_hash(ls);
                    if self
                        .bwd
                        .find(hl, |(y, _)| same_value(slot_at(lv, *y), ls))
                        .is_some()
                    {
                        false
                    } else {
                        self.fwd
                            .insert_unique(he, (here, there), |(x, _)| slot_hash(slot_at(ex, *x)));
                        self.bwd
                            .insert_unique(hl, (there, here), |(y, _)| slot_hash(slot_at(lv, *y)));
                        self.trail.push((here, there));
                        true
                    }
                }
            };
            if !agrees {
                if self.conflict.is_none() {
                    self.conflict = Some(format!(
                        "line {}: {} `{}` does not correspond one to one with the live `{}`",
                        e + 1,
                        class.as_str(),
                        es.value,
                        ls.value
                    ));
                }
                self.unbind(mark);
                return None;
            }
        }
        self.used[l] = true;
        Some(mark)
    }

    /// Why pairing `doc` with `live` (class `class`, expected line `e`) contradicts what an
    /// earlier step determined, if it does.
    fn earlier(&self, e: usize, class: &str, doc: &str, live: &str) -> Option<String> {
        if let Some((bound, step)) = self.held.held(class, doc)
            && bound != live
        {
            return Some(format!(
                "line {}: {class} `{doc}` stands for the live `{bound}` since step {step}, \
                 but here for `{live}`",
                e + 1
            ));
        }
        if let Some((bound, step)) = self.held.taken(class, live)
            && bound != doc
        {
            return Some(format!(
                "line {}: the live {class} `{live}` stands for `{bound}` since step {step}, \
                 but here for `{doc}`",
                e + 1
            ));
        }
        None
    }

    /// Undo the pairs bound since `mark` (a length of the trail).
    fn unbind(&mut self, mark: usize) {
        let (ex, lv) = (self.expected, self.live);
        for (here, there) in self.trail.drain(mark..) {
            let (es, ls) = (slot_at(ex, here), slot_at(lv, there));
            if let Ok(o) = self
                .fwd
                .find_entry(slot_hash(es), |(x, _)| same_value(slot_at(ex, *x), es))
            {
                o.remove();
            }
            if let Ok(o) = self
                .bwd
                .find_entry(slot_hash(ls), |(y, _)| same_value(slot_at(lv, *y), ls))
            {
                o.remove();
            }
        }
    }

    /// The live line of `a..b` whose identity values are the ones an earlier step chose for
    /// expected line `e`'s (among interchangeable rows), if any.
    fn preferred(&self, e: usize, a: usize, b: usize) -> Option<usize> {
        let wanted: Vec<(usize, &str)> = self.expected[e]
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| self.norm.class_kind(s.class) == Kind::Identity)
            .filter_map(|(i, s)| Some((i, self.held.chosen(&s.class, &s.value)?)))
            .collect();
        if wanted.is_empty() {
            return None;
        }
        (a..b).find(|&l| {
            !self.used[l]
                && wanted
                    .iter()
                    .all(|(i, v)| self.live[l].slots.get(*i).is_some_and(|s| s.value == *v))
        })
    }

    /// Among the unused lines of `a..b`, those whose ages are nearest expected line `e`'s,
    /// nearest position first among equals; `None` when `e` shows no age or the group is
    /// larger than [`AGED_GROUP`].
    fn by_age(&self, e: usize, a: usize, b: usize) -> Option<Vec<usize>> {
        if b - a > AGED_GROUP || !self.expected[e].slots.iter().any(|s| s.class == "AGE") {
            return None;
        }
        let distance = |l: usize| -> f64 {
            self.expected[e]
                .slots
                .iter()
                .zip(&self.live[l].slots)
                .filter(|(es, _)| es.class == "AGE")
                .filter_map(|(es, ls)| Some((age_seconds(&es.value)?, age_seconds(&ls.value)?)))
                .map(|(x, y)| ((1.0 + x as f64).ln() - (1.0 + y as f64).ln()).abs())
                .sum()
        };
        let mut lines: Vec<(f64, usize, usize)> = (a..b)
            .filter(|&l| !self.used[l])
            .map(|l| (distance(l), l.abs_diff(e), l))
            .collect();
        lines.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        Some(lines.into_iter().map(|(_, _, l)| l).collect())
    }

    /// The line an earlier step chose first; then, among interchangeable rows, the one whose
    /// age agrees best (a pod five seconds old in the document with the youngest live one) and
    /// the same position among equals; then the first compatible line of the group.
    pub(super) fn greedy(&mut self, groups: &[(usize, usize)], order: &mut Vec<usize>) -> bool {
        for &(a, b) in groups {
            for e in a..b {
                let preferred = if b - a > 1 && self.constrained {
                    self.preferred(e, a, b)
                } else {
                    None
                };
                let aged = if b - a > 1 {
                    self.by_age(e, a, b)
                } else {
                    None
                };
                let found = preferred
                    .into_iter()
                    .chain(aged.into_iter().flatten())
                    .chain(std::iter::once(e))
                    .chain(a..b)
                    .find(|&l| !self.used[l] && self.bind(e, l).is_some());
                match found {
                    Some(l) => {
                        order.push(l);
                        // a greedy choice is never undone
                        self.trail.clear();
                    }
                    None => return false,
                }
            }
        }
        true
    }

    /// Backtracking over the free orders, within a budget of attempts.
    pub(super) fn search(
        &mut self,
        groups: &[(usize, usize)],
        e: usize,
        order: &mut Vec<usize>,
        budget: &mut usize,
    ) -> bool {
        if e == self.expected.len() {
            return true;
        }
        let &(a, b) = groups.iter().find(|&&(a, b)| a <= e && e < b).unwrap();
        for l in a..b {
            if self.used[l] || *budget == 0 {
                continue;
            }
            *budget -= 1;
            if let Some(mark) = self.bind(e, l) {
                order.push(l);
                if self.search(groups, e + 1, order, budget) {
                    return true;
                }
                order.pop();
                self.used[l] = false;
                self.unbind(mark);
            }
        }
        false
    }
}
