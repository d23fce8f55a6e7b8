//! Where a mask's one group lies inside a match, found without a search for groups.
//!
//! In: a mask's pattern whose top level is a sequence around one named group (context before
//! it, the group, context after: `(?:^|\s)(?P<AGE>…)(?:$|\s)`). Out: a [`Split`] which, given
//! where a match starts and ends in an ASCII line, tries every way of cutting the match into
//! those three parts that their lengths allow, keeping the cuts where each non-empty part
//! starts and ends with a byte it can start and end with. Every real cut passes these tests
//! and the match has one, so when a single cut is left it is the group the search for groups
//! would report; when more are left (or too many to try), the caller searches.
//!
//! A search for groups runs a backtracking engine over the match; this is a few byte
//! lookups, and most of the table's masks with context are of this form.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Beyond this many cuts a match is left to the search for groups.
const MAX_CUTS: usize = 64;

/// A set of bytes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct Bytes([u128; 2]);

impl Bytes {
    fn add_range(&mut self, lo: u8, hi: u8) {
        for b in lo..=hi {
            self.0[usize::from(b >> 7)] |= 1u128 << (b & 127);
        }
    }

    fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 7)] & (1u128 << (b & 127)) != 0
    }

    fn union(mut self, other: Bytes) -> Bytes {
        self.0[0] |= other.0[0];
        self.0[1] |= other.0[1];
        self
    }
}

/// What one part of the pattern can match: its shortest and longest length in bytes (none:
/// unbounded) and the bytes a non-empty match can start and end with.
#[derive(Clone, Debug)]
struct Part {
    min: usize,
    max: Option<usize>,
    first: Bytes,
    last: Bytes,
}

impl Part {
    fn of(parts: &[Hir]) -> Option<Part> {
        let hir = Hir::concat(parts.to_vec());
        let props = hir.properties();
        Some(Part {
            min: props.minimum_len()?,
            max: props.maximum_len(),
            first: ends(&hir, End::First)?,
            last: ends(&hir, End::Last)?,
        })
    }

    /// Whether `text` may be a match of this part, by its length and its two ends.
    fn admits(&self, text: &[u8]) -> bool {
        let n = text.len();
        n >= self.min
            && self.max.is_none_or(|max| n <= max)
            && (n == 0 || (self.first.has(text[0]) && self.last.has(text[n - 1])))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum End {
    First,
    Last,
}

/// The bytes a non-empty match of `hir` can start (or end) with, over-approximated: on an
/// ASCII line a character class can only match its ASCII members, so those are enough.
fn ends(hir: &Hir, end: End) -> Option<Bytes> {
    let mut set = Bytes::default();
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => {
            let b = match end {
                End::First => *lit.0.first()?,
                End::Last => *lit.0.last()?,
            };
            set.add_range(b, b);
        }
        HirKind::Class(Class::Bytes(c)) => {
            for r in c.ranges() {
                set.add_range(r.start(), r.end());
            }
        }
        HirKind::Class(Class::Unicode(c)) => {
            for r in c.ranges() {
                let (lo, hi) = (u32::from(r.start()), u32::from(r.end()).min(0x7f));
                if lo <= hi {
                    set.add_range(lo as u8, hi as u8);
                }
            }
        }
        HirKind::Repetition(r) => set = ends(&r.sub, end)?,
        HirKind::Capture(c) => set = ends(&c.sub, end)?,
        HirKind::Concat(parts) => {
            // the first part that cannot be empty ends the parts a match can start with
            let ordered: Box<dyn Iterator<Item = &Hir>> = match end {
                End::First => Box::new(parts.iter()),
                End::Last => Box::new(parts.iter().rev()),
            };
            for part in ordered {
                set = set.union(ends(part, end)?);
                if part.properties().minimum_len()? > 0 {
                    break;
                }
            }
        }
        HirKind::Alternation(alts) => {
            for alt in alts {
                set = set.union(ends(alt, end)?);
            }
        }
    }
    Some(set)
}

/// A pattern cut around its one named group.
#[derive(Clone, Debug)]
pub(super) struct Split {
    /// The group's index.
    pub group: usize,
    before: Part,
    inside: Part,
    after: Part,
}

impl Split {
    /// The split of `pattern` (read with ASCII classes, as on an ASCII line), when its top
    /// level is a sequence with exactly one named group among its parts, no other named group
    /// anywhere, and lengths that bound the cuts to try.
    pub fn of(pattern: &str) -> Option<Split> {
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(&format!("(?-u:{pattern})"))
            .ok()?;
        if hir.properties().explicit_captures_len() != 1 {
            return None;
        }
        let HirKind::Concat(parts) = hir.kind() else {
            return None;
        };
        let at = parts
            .iter()
            .position(|p| matches!(p.kind(), HirKind::Capture(c) if c.name.is_some()))?;
        let HirKind::Capture(cap) = parts[at].kind() else {
            return None;
        };
        let split = Split {
            group: cap.index as usize,
            before: Part::of(&parts[..at])?,
            inside: Part::of(std::slice::from_ref(&parts[at]))?,
            after: Part::of(&parts[at + 1..])?,
        };
        // where the group starts must follow from one side's lengths, and where it ends from
        // the other's or the group's own
        let starts =
            split.before.max.is_some() || (split.inside.max.is_some() && split.after.max.is_some());
        let ends = split.after.max.is_some() || split.inside.max.is_some();
        (starts && ends).then_some(split)
    }

    /// The group's range in the match `line[s..e]`, when exactly one cut of it is possible.
    pub fn cut(&self, line: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
        let (b, g, a) = (&self.before, &self.inside, &self.after);
        let (lo, hi) = match b.max {
            Some(max) => (s + b.min, (s + max).min(e)),
            None => (
                e.saturating_sub(a.max? + g.max?).max(s + b.min),
                e.saturating_sub(a.min + g.min),
            ),
        };
        if hi.saturating_sub(lo) > MAX_CUTS {
            return None;
        }
        let mut found = None;
        for p in lo..=hi {
            if p > e || !b.admits(&line[s..p]) {
                continue;
            }
            let (qlo, qhi) = match a.max {
                Some(max) => (e.saturating_sub(max).max(p), e - a.min.min(e)),
                None => (p + g.min, (p + g.max?).min(e)),
            };
            if qhi.saturating_sub(qlo) > MAX_CUTS {
                return None;
            }
            for q in qlo..=qhi {
                if q < p || q > e || !g.admits(&line[p..q]) || !a.admits(&line[q..e]) {
                    continue;
                }
                if found.replace((p, q)).is_some() {
                    return None;
                }
            }
        }
        found
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::normalize::MASKS;

    fn groups(pattern: &str, line: &str) -> Vec<(usize, usize, usize)> {
        let re = regex::bytes::Regex::new(&format!("(?-u:{pattern})")).unwrap();
        let split = Split::of(pattern).expect("a split");
        let mut out = Vec::new();
        for m in re.find_iter(line.as_bytes()) {
            let by_cut = split.cut(line.as_bytes(), m.start(), m.end());
            let caps = re.captures_at(line.as_bytes(), m.start()).unwrap();
            let g = caps.get(split.group).unwrap();
            if let Some(cut) = by_cut {
                assert_eq!(cut, (g.start(), g.end()), "{pattern} on {line:?}");
            }
            out.push((split.group, g.start(), g.end()));
        }
        out
    }

    #[test]
    fn context_of_one_character_on_each_side_is_cut_off() {
        let split = Split::of(r"(?:^|[\s(])(?P<AGE>(?:\d+[ydhms]){1,4})(?:$|[\s)])").unwrap();
        let line = b"x  3m6s  y";
        assert_eq!(split.cut(line, 2, 8), Some((3, 7)));
        assert_eq!(split.cut(b"3m6s", 0, 4), Some((0, 4)));
        assert_eq!(
            groups(split_age(), "up (12s) and 3m6s"),
            vec![(1, 4, 7), (1, 13, 17)]
        );
    }

    fn split_age() -> &'static str {
        r"(?:^|[\s(])(?P<AGE>(?:\d+[ydhms]){1,4})(?:$|[\s)])"
    }

    #[test]
    fn a_group_after_a_name_of_any_length_is_found_from_the_end() {
        let pod = r"\b[a-z0-9](?:[-a-z0-9]*[a-z0-9])?-(?P<POD>[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5})\b";
        let split = Split::of(pod).unwrap();
        let line = b"kube-system   coredns-5d78c9869d-xk2vb   1/1";
        assert_eq!(split.cut(line, 14, 38), Some((22, 38)));
    }

    #[test]
    fn two_possible_cuts_are_left_to_the_search_for_groups() {
        // `aa-bcd-` or `aa-`: both end in `-`, and both remainders start and end as the group
        // may, so the bytes alone cannot tell
        let pod = r"\b[a-z0-9](?:[-a-z0-9]*[a-z0-9])?-(?P<POD>[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5})\b";
        let split = Split::of(pod).unwrap();
        assert_eq!(split.cut(b"aa-bcd-bcdfgh-bcdfg", 0, 19), None);
        assert_eq!(
            groups(pod, "aa-bcd-bcdfgh-bcdfg"),
            vec![(1, 7, 19)],
            "the search for groups decides"
        );
    }

    #[test]
    fn patterns_the_cut_cannot_bound_have_no_split() {
        // context of any length on both sides of a group of any length
        assert!(Split::of(r"^\S+\.\s+(?P<TTL>\d+)\s+IN\s").is_none());
        // two named groups
        assert!(Split::of(r"(?P<A>\d+)-(?P<B>\d+)").is_none());
        // a group inside an alternation
        assert!(Split::of(r"(?:x(?P<A>\d+)|y)").is_none());
        // the group is the whole match: no split needed, but one is possible
        assert!(Split::of(r"\b(?P<IP>\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b").is_some());
    }

    /// A small deterministic generator of lines made of the table's own examples, cut and
    /// recombined, for comparing every cut with the search for groups (and every way of
    /// finding claims with the others).
    pub(in crate::normalize) fn lines() -> Vec<String> {
        let mut pool: Vec<&str> = Vec::new();
        for spec in MASKS {
            pool.extend(spec.example.1.split(' '));
        }
        pool.extend([
            "", "-", "(", ")", "  ", "\t", "a-", "-b", "x9", "bcdfg", "bcdfghj", "--", "1", "12",
            "3m", "6s", ":", "::", "@if", ".", "10.0.0.1", "ms", "->", "/tcp",
        ]);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut out: Vec<String> = MASKS.iter().map(|m| m.example.1.to_string()).collect();
        for _ in 0..20_000 {
            let mut line = String::new();
            for _ in 0..1 + next(6) {
                let piece = pool[next(pool.len())];
                // cut a piece at a random place now and then, to make near-misses
                let piece = if next(3) == 0 && !piece.is_empty() {
                    let at = next(piece.len() + 1);
                    if next(2) == 0 {
                        &piece[..at]
                    } else {
                        &piece[at..]
                    }
                } else {
                    piece
                };
                line.push_str(piece);
                if next(2) == 0 {
                    line.push(if next(2) == 0 { ' ' } else { '-' });
                }
            }
            out.push(line);
        }
        out
    }

    #[test]
    fn every_cut_agrees_with_the_search_for_groups() {
        let lines = lines();
        let mut cut = 0;
        let mut searched = 0;
        for spec in MASKS {
            let Some(split) = Split::of(spec.pattern) else {
                continue;
            };
            let re = regex::bytes::Regex::new(&format!("(?-u:{})", spec.pattern)).unwrap();
            for line in lines.iter().filter(|l| l.is_ascii()) {
                let line = line.as_bytes();
                for m in re.find_iter(line) {
                    let caps = re.captures_at(line, m.start()).unwrap();
                    assert_eq!(caps.get(0).map(|g| g.range()), Some(m.range()));
                    let g = caps.get(split.group).map(|g| (g.start(), g.end()));
                    match split.cut(line, m.start(), m.end()) {
                        Some(c) => {
                            cut += 1;
                            assert_eq!(
                                Some(c),
                                g,
                                "{} on {:?}",
                                spec.name,
                                String::from_utf8_lossy(line)
                            );
                        }
                        None => searched += 1,
                    }
                }
            }
        }
        // the generator must exercise the cut, not only the fallback
        assert!(cut > 10 * searched.max(1), "{cut} cut, {searched} searched");
    }
}
