//! Stage 4a, normalize (claims): where the masks claim one line.
//!
//! In: a clean line and the masks that apply to it, in priority order. Out: its claims, the
//! ranges whose text a mask masks (start, end, class, canonical value), sorted by start and
//! never overlapping: each mask's matches are taken left to right, each one's group claimed
//! unless a mask before it claimed some of that text.
//!
//! On an ASCII line (where ASCII and Unicode classes agree) the masks are not searched one by
//! one. One backward pass of [`Starts`], an automaton of every mask at once, lists where each
//! mask can begin a match; each match is then one anchored search from such a start, as long
//! as the match itself. A mask's matches, taken left to right, start where its own search
//! would have found them: the leftmost start not before the end of the previous match. So the
//! claims are those of running each mask over the whole line, at a fraction of the scans.
//! Lines that are not ASCII run every mask's Unicode form.

use super::split;
use super::starts::Starts;
use super::values::Class;
use super::{MASKS, Value};
use regex::Regex;
use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::hybrid::dfa::Cache as LazyCache;
use regex_automata::meta;
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind};
use std::sync::{Arc, LazyLock, OnceLock};

/// A claim: start, end, class and canonical value.
pub(super) type Claim = (usize, usize, Class, Value);

/// How a masked value is written, from a group name's `__form` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    Plain,
    /// IPv4 with dashes (`10-244-1-4`).
    Dash,
    /// IPv4 reversed, as in reverse DNS (`4.1.244.10`).
    Rev,
}

impl Form {
    fn of(suffix: &str) -> Form {
        match suffix {
            "dash" => Form::Dash,
            "rev" => Form::Rev,
            _ => Form::Plain,
        }
    }

    /// The canonical value of a masked text: IPv4 in its dashed and reverse-DNS forms becomes
    /// dotted, so that all three forms of one address share one placeholder and one binding.
    fn canonical(self, value: &str) -> Value {
        match self {
            Form::Plain => Value::from(value),
            Form::Dash => value.replace('-', ".").into(),
            Form::Rev => {
                let mut parts: Vec<&str> = value.split('.').collect();
                parts.reverse();
                parts.join(".").into()
            }
        }
    }
}

/// The built-in table, compiled once per process (regexes are shared, cloning is cheap).
pub(super) static BUILT_IN: LazyLock<Result<Vec<Compiled>, String>> = LazyLock::new(|| {
    MASKS
        .iter()
        .map(|spec| compile(spec.pattern, None, spec.when, spec.keep, spec.valid, false))
        .collect()
});

/// [`Starts`] of the built-in table.
pub(super) static BUILT_IN_STARTS: LazyLock<Option<Starts>> =
    LazyLock::new(|| BUILT_IN.as_ref().ok().and_then(|m| Starts::new(m)));

/// One mask, compiled as far as it has been used: its regexes are built the first time a
/// line needs them (most lines of most outputs need few of the table's masks), once for
/// every copy of the table.
#[derive(Clone)]
pub(super) struct Compiled(Arc<Mask>);

struct Mask {
    pattern: Box<str>,
    /// The class of a pattern without named groups (a user's mask).
    class: Option<Class>,
    when: Option<Regex>,
    keep: Vec<String>,
    valid: Option<fn(&str) -> bool>,
    /// The pattern with Unicode classes, for lines that are not ASCII.
    unicode: OnceLock<Regex>,
    built: OnceLock<Built>,
}

/// What the first use of a mask builds.
struct Built {
    /// The pattern with ASCII classes (for ASCII lines, where the two agree) as a dense
    /// automaton anchored at a match's start: where a match found to start somewhere ends,
    /// by one walk as long as the match. None when it would be too large.
    ends: Option<dense::DFA<Vec<u32>>>,
    /// The ASCII form as a whole regex, for searching a match for its groups or a line for
    /// matches: built the first time one is needed. None when it does not compile (then the
    /// Unicode form runs).
    ascii: OnceLock<Option<meta::Regex>>,
    /// The capture group that is the whole match, when the pattern is one named group with
    /// only zero-width assertions around it (or has no named group): then finding a match is
    /// enough, with no search for its groups.
    whole: Option<usize>,
    /// Otherwise, for a pattern that is context around one named group: where the group
    /// lies, from the match's bytes, when they leave one possibility.
    split: Option<split::Split>,
    /// For each capture group index: (class, form).
    groups: Vec<Option<(Class, Form)>>,
}

/// A dense automaton is built for a mask only up to this size.
const DENSE_LIMIT: usize = 1 << 20;

impl Compiled {
    fn unicode(&self) -> &Regex {
        self.0.unicode.get_or_init(|| {
            Regex::new(&self.0.pattern).expect("checked when the mask was compiled")
        })
    }

    fn built(&self) -> &Built {
        self.0.built.get_or_init(|| {
            let m = &self.0;
            let ascii = ascii_form(&m.pattern);
            let ends = dense::Builder::new()
                .configure(
                    dense::Config::new()
                        .start_kind(StartKind::Anchored)
                        .match_kind(MatchKind::LeftmostFirst)
                        .dfa_size_limit(Some(DENSE_LIMIT))
                        .determinize_size_limit(Some(4 * DENSE_LIMIT)),
                )
                .syntax(ascii_syntax())
                .thompson(
                    thompson::Config::new()
                        .utf8(false)
                        .which_captures(thompson::WhichCaptures::None),
                )
                .build(&ascii)
                .ok();
            let names = match capture_names(&ascii) {
                Some(names) => names,
                None => self
                    .unicode()
                    .capture_names()
                    .map(|n| n.map(str::to_string))
                    .collect(),
            };
            let mut groups: Vec<Option<(Class, Form)>> = names
                .iter()
                .map(|name| {
                    name.as_deref().map(|n| match n.split_once("__") {
                        Some((c, f)) => (Class::new(c), Form::of(f)),
                        None => (Class::new(n), Form::Plain),
                    })
                })
                .collect();
            if groups.iter().all(Option::is_none) {
                groups[0] = m.class.map(|c| (c, Form::Plain));
            }
            Built {
                ends,
                ascii: OnceLock::new(),
                whole: whole_group(&m.pattern),
                split: split::Split::of(&m.pattern),
                groups,
            }
        })
    }

    /// The pattern's ASCII form.
    pub(super) fn ascii_form(&self) -> String {
        ascii_form(&self.0.pattern)
    }

    /// The ASCII form as a whole regex (built the first time).
    fn meta(&self) -> Option<&meta::Regex> {
        self.built()
            .ascii
            .get_or_init(|| {
                meta::Regex::builder()
                    .syntax(ascii_syntax())
                    .configure(meta::Config::new().utf8_empty(false))
                    .build(&ascii_form(&self.0.pattern))
                    .ok()
            })
            .as_ref()
    }

    /// The classes the mask's groups mask (building it, if it was not yet).
    pub(super) fn classes(&self) -> impl Iterator<Item = Class> + '_ {
        self.built().groups.iter().flatten().map(|(c, _)| *c)
    }

    /// Which commands' output the mask applies to (none: every command's).
    pub(super) fn when(&self) -> Option<&Regex> {
        self.0.when.as_ref()
    }
}

/// The ASCII form of a pattern: bytes, not characters, with ASCII classes.
fn ascii_form(pattern: &str) -> String {
    format!("(?-u:{pattern})")
}

pub(super) fn ascii_syntax() -> syntax::Config {
    syntax::Config::new().utf8(false)
}

/// A mask of `pattern`. With `eager` (a user's mask, whose errors must show now, naming it)
/// it is built at once and its errors returned; the built-in table's are built as lines
/// need them (its tests build every one).
pub(super) fn compile(
    pattern: &str,
    class: Option<&str>,
    when: Option<&str>,
    keep: &[&str],
    valid: Option<fn(&str) -> bool>,
    eager: bool,
) -> Result<Compiled, String> {
    let when = when
        .map(Regex::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    let mask = Compiled(Arc::new(Mask {
        pattern: pattern.into(),
        class: class.map(Class::new),
        when,
        keep: keep.iter().map(|s| s.to_string()).collect(),
        valid,
        unicode: OnceLock::new(),
        built: OnceLock::new(),
    }));
    if eager {
        let unicode = Regex::new(pattern).map_err(|e| e.to_string())?;
        // a pattern that matches nothing at all matches at every position of every line: a
        // 20 MB line would be claimed twenty million times
        if unicode.is_match("") {
            return Err(format!(
                "the pattern `{pattern}` can match the empty text: it would mask nothing at every position"
            ));
        }
        let _ = mask.0.unicode.set(unicode);
        if mask.built().groups.iter().all(Option::is_none) {
            return Err("a pattern without named groups needs a `class`".into());
        }
    }
    Ok(mask)
}

/// The name of each capture group of `pattern` (read as bytes), by index; group 0 (the whole
/// match) has none. None when the pattern does not parse so.
fn capture_names(pattern: &str) -> Option<Vec<Option<String>>> {
    use regex_syntax::hir::{Hir, HirKind};
    fn walk(hir: &Hir, names: &mut Vec<Option<String>>) {
        match hir.kind() {
            HirKind::Capture(c) => {
                let i = c.index as usize;
                if names.len() <= i {
                    names.resize(i + 1, None);
                }
                names[i] = c.name.as_deref().map(str::to_string);
                walk(&c.sub, names);
            }
            HirKind::Concat(parts) | HirKind::Alternation(parts) => {
                parts.iter().for_each(|p| walk(p, names))
            }
            HirKind::Repetition(r) => walk(&r.sub, names),
            _ => {}
        }
    }
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    let mut names = vec![None];
    walk(&hir, &mut names);
    Some(names)
}

/// The index of the capture group that spans the whole match: the one named group when the
/// pattern is that group with only zero-width assertions (`\b`, `^`, `$`) around it, group 0
/// when there is no named group.
fn whole_group(pattern: &str) -> Option<usize> {
    use regex_syntax::hir::HirKind;
    let hir = regex_syntax::parse(pattern).ok()?;
    let parts = match hir.kind() {
        HirKind::Concat(parts) => parts.as_slice(),
        _ => std::slice::from_ref(&hir),
    };
    let mut named = None;
    for part in parts {
        match part.kind() {
            HirKind::Look(_) => {}
            HirKind::Capture(c) if c.name.is_some() && named.is_none() => {
                named = Some(c.index as usize)
            }
            _ => return None,
        }
    }
    // any other named group (nested in the one found) needs a search for groups
    let names = hir.properties().explicit_captures_len();
    match (named, names) {
        (Some(i), 1) => Some(i),
        (None, 0) => Some(0),
        _ => None,
    }
}

/// What masking one line after another reuses: the automata's caches, and where each mask
/// can start on the current line. One per thread at a time.
pub(super) struct Scratch {
    starts: Option<LazyCache>,
    /// Per mask, the ASCII regex's cache, made when the mask is first used.
    caches: Vec<Option<meta::Cache>>,
    /// Per mask, the starts on the current line, last first.
    at: Vec<Vec<u32>>,
    /// The masks with starts on the current line.
    touched: Vec<usize>,
    claims: Vec<Claim>,
}

impl Scratch {
    pub(super) fn new(masks: &[Compiled], starts: Option<&Starts>) -> Scratch {
        Scratch {
            starts: starts.map(|s| s.0.create_cache()),
            caches: (0..masks.len()).map(|_| None).collect(),
            at: vec![Vec::new(); masks.len()],
            touched: Vec::new(),
            claims: Vec::new(),
        }
    }

    /// The starts of every mask on `line`, from one backward pass; false when the pass could
    /// not finish.
    fn find_starts(&mut self, starts: &Starts, line: &[u8]) -> bool {
        for &i in &self.touched {
            self.at[i].clear();
        }
        self.touched.clear();
        let Some(cache) = self.starts.as_mut() else {
            return false;
        };
        let (at, touched) = (&mut self.at, &mut self.touched);
        starts
            .each(cache, line, |mask, start| {
                let list = &mut at[mask];
                if list.is_empty() {
                    touched.push(mask);
                }
                list.push(start as u32);
            })
            .is_ok()
    }
}

/// Claimed ranges of `line` under `masks[active]` (active in priority order), sorted by
/// start, never overlapping (the first mask to claim a range keeps it). The result lives in
/// `scratch` until the next line.
pub(super) fn claims<'s>(
    line: &str,
    masks: &[Compiled],
    active: &[usize],
    starts: Option<&Starts>,
    group: usize,
    scratch: &'s mut Scratch,
) -> &'s [Claim] {
    scratch.claims.clear();
    let ascii = line.is_ascii();
    let bytes = line.as_bytes();
    let from_starts = match starts {
        Some(starts) if ascii && line.len() <= u32::MAX as usize => {
            scratch.find_starts(starts, bytes)
        }
        _ => false,
    };
    let Scratch {
        caches, at, claims, ..
    } = scratch;
    // The first `group` masks (the user's) are taken together: where their matches overlap,
    // the one that starts first wins, then the longer, then the one declared first.
    let together = group > 1 && active.iter().filter(|&&i| i < group).nth(1).is_some();
    if together {
        let mut found: Vec<Claim> = Vec::new();
        for &i in active.iter().filter(|&&i| i < group) {
            let mut own = Vec::new();
            mask_claims(
                &masks[i],
                &at[i],
                from_starts,
                ascii,
                line,
                &mut own,
                &mut caches[i],
            );
            found.append(&mut own);
        }
        found.sort_by_key(|c| (c.0, std::cmp::Reverse(c.1)));
        for c in found {
            insert_free(claims, c);
        }
    }
    for &i in active {
        // most masks find no start on a line: skipped here, not in a call (measured with
        // scripts/bench-instructions.sh: the call per mask and line cost 8% of normalize)
        if (together && i < group) || (from_starts && at[i].is_empty()) {
            continue;
        }
        mask_claims(
            &masks[i],
            &at[i],
            from_starts,
            ascii,
            line,
            claims,
            &mut caches[i],
        );
    }
    &scratch.claims
}

/// Whether `s..e`, to be inserted at `at` of the sorted `claims`, overlaps no claim there.
fn free_at(claims: &[Claim], at: usize, s: usize, e: usize) -> bool {
    let overlaps_prev = at > 0 && claims[at - 1].1 > s;
    let overlaps_next = at < claims.len() && claims[at].0 < e;
    !overlaps_prev && !overlaps_next
}

/// Insert `c` into the sorted `claims` unless it overlaps a claim there.
fn insert_free(claims: &mut Vec<Claim>, c: Claim) {
    let at = claims.partition_point(|x| x.0 < c.0);
    if free_at(claims, at, c.0, c.1) {
        claims.insert(at, c);
    }
}

/// One mask's claims on `line`, added to `claims` where no claim there holds their text.
/// Inlined: as a call per mask and line it cost 1.5% of normalize
/// (`scripts/bench-instructions.sh`).
#[inline(always)]
fn mask_claims(
    m: &Compiled,
    starts: &[u32],
    from_starts: bool,
    ascii: bool,
    line: &str,
    claims: &mut Vec<Claim>,
    cache: &mut Option<meta::Cache>,
) {
    let bytes = line.as_bytes();
    if from_starts && starts.is_empty() {
        return;
    }
    let built = m.built();
    let mut claim = Claimer {
        mask: m,
        m: built,
        line,
        claims,
        cache,
    };
    // from the starts, where an anchored search can end them; else a search of the line
    let anchored = from_starts && (built.ends.is_some() || m.meta().is_some());
    if anchored {
        let mut next = starts.len();
        let mut from = 0;
        loop {
            // the leftmost start not before `from` (the list is last first)
            while next > 0 && (starts[next - 1] as usize) < from {
                next -= 1;
            }
            if next == 0 {
                break;
            }
            let s = starts[next - 1] as usize;
            let Some(e) = claim.end_from(s) else {
                // cannot be: the automaton saw a match start here; go on past it
                next -= 1;
                continue;
            };
            claim.found(s, e);
            from = e + usize::from(e == s);
            if from > line.len() {
                break;
            }
        }
    } else if let Some(re) = ascii.then(|| m.meta()).flatten() {
        let mut from = 0;
        loop {
            let input = Input::new(bytes).range(from..);
            let Some(whole) = re.search_with(claim.cache(re), &input) else {
                break;
            };
            claim.found(whole.start(), whole.end());
            from = whole.end() + usize::from(whole.is_empty());
            if from > line.len() {
                break;
            }
        }
    } else {
        let re = m.unicode();
        let mut locs = re.capture_locations();
        let mut from = 0;
        while let Some(whole) = re.captures_read_at(&mut locs, line, from) {
            claim.claim_all(&locs);
            from = if whole.is_empty() {
                whole.end() + line[whole.end()..].chars().next().map_or(1, char::len_utf8)
            } else {
                whole.end()
            };
            if from > line.len() {
                break;
            }
        }
    }
}

/// One mask's claims on one line.
struct Claimer<'a> {
    mask: &'a Compiled,
    m: &'a Built,
    line: &'a str,
    claims: &'a mut Vec<Claim>,
    /// The cache of the mask's ASCII regex, made when first needed.
    cache: &'a mut Option<meta::Cache>,
}

impl Claimer<'_> {
    /// The group `g` of the mask at `s..e`, claimed unless the mask keeps or rejects that
    /// value or an earlier claim holds some of its text.
    fn claim(&mut self, g: usize, s: usize, e: usize) {
        let Some((class, form)) = &self.m.groups[g] else {
            return;
        };
        let value = &self.line[s..e];
        let mask = &self.mask.0;
        if mask.keep.iter().any(|k| k == value) || mask.valid.is_some_and(|f| !f(value)) {
            return;
        }
        let claims = &mut *self.claims;
        let at = claims.partition_point(|c| c.0 < s);
        if free_at(claims, at, s, e) {
            claims.insert(at, (s, e, *class, form.canonical(value)));
        }
    }

    /// Every group of a match of the Unicode form, claimed.
    fn claim_all(&mut self, locs: &regex::CaptureLocations) {
        for g in 0..locs.len() {
            if let Some((s, e)) = locs.get(g) {
                self.claim(g, s, e);
            }
        }
    }

    fn cache(&mut self, re: &meta::Regex) -> &mut meta::Cache {
        self.cache.get_or_insert_with(|| re.create_cache())
    }

    /// Where the mask's match that starts at `s` ends. Inlined, as [`mask_claims`] is.
    #[inline(always)]
    fn end_from(&mut self, s: usize) -> Option<usize> {
        let input = Input::new(self.line.as_bytes())
            .range(s..)
            .anchored(Anchored::Yes);
        match &self.m.ends {
            Some(dfa) => dfa
                .try_search_fwd(&input)
                .ok()
                .flatten()
                .map(|h| h.offset()),
            None => {
                let re = self.mask.meta()?;
                re.search_half_with(self.cache(re), &input)
                    .map(|h| h.offset())
            }
        }
    }

    /// A match of the ASCII form at `s..e`: its group claimed, where it lies found from the
    /// match's bytes when they tell, else by searching the match for its groups.
    fn found(&mut self, s: usize, e: usize) {
        if let Some(g) = self.m.whole {
            return self.claim(g, s, e);
        }
        let bytes = self.line.as_bytes();
        if let Some((g, gs, ge)) = self
            .m
            .split
            .as_ref()
            .and_then(|split| split.cut(bytes, s, e).map(|(gs, ge)| (split.group, gs, ge)))
        {
            return self.claim(g, gs, ge);
        }
        // the same match, its groups searched for
        let Some(re) = self.mask.meta() else {
            // (only the Unicode form compiles: on an ASCII line it finds the same match)
            let re = self.mask.unicode();
            let mut locs = re.capture_locations();
            if re.captures_read_at(&mut locs, self.line, s).is_some() {
                self.claim_all(&locs);
            }
            return;
        };
        let mut caps = re.create_captures();
        let input = Input::new(bytes).range(s..).anchored(Anchored::Yes);
        re.search_captures_with(self.cache(re), &input, &mut caps);
        for g in 0..caps.group_len() {
            if let Some(span) = caps.get_group(g) {
                self.claim(g, span.start, span.end);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> (&'static [Compiled], &'static Starts) {
        let masks = BUILT_IN.as_ref().unwrap();
        (masks, BUILT_IN_STARTS.as_ref().unwrap())
    }

    /// Every position of `line` where a match of mask `i` starts, by an anchored search at
    /// each position in turn.
    fn starts_by_trying_each_position(m: &Compiled, line: &[u8]) -> Vec<usize> {
        let re = m.meta().unwrap();
        (0..=line.len())
            .filter(|&p| re.is_match(Input::new(line).range(p..).anchored(Anchored::Yes)))
            .collect()
    }

    fn starts_of(line: &[u8]) -> Vec<Vec<usize>> {
        let (masks, starts) = table();
        let mut scratch = Scratch::new(masks, Some(starts));
        assert!(scratch.find_starts(starts, line));
        let mut out = vec![Vec::new(); masks.len()];
        for &i in &scratch.touched {
            out[i] = scratch.at[i].iter().rev().map(|&s| s as usize).collect();
        }
        out
    }

    #[test]
    fn every_built_in_mask_builds_an_ascii_form_with_named_groups() {
        // built lazily, so a pattern whose ASCII form broke would only run slower (on its
        // Unicode form) without this
        for (m, spec) in table().0.iter().zip(MASKS) {
            assert!(m.built().ends.is_some(), "{}", spec.name);
            assert!(m.meta().is_some(), "{}", spec.name);
            assert!(m.classes().count() > 0, "{}", spec.name);
        }
    }

    #[test]
    fn group_names_are_read_as_the_regex_crate_reads_them() {
        let patterns = MASKS.iter().map(|s| s.pattern).chain([
            r"(?P<A>x(?P<B>y)|(z))+(?:w(?P<C>v))?",
            r"plain",
            r"(a)(?P<N__dash>b)",
        ]);
        for p in patterns {
            let want: Vec<Option<String>> = Regex::new(p)
                .unwrap()
                .capture_names()
                .map(|n| n.map(str::to_string))
                .collect();
            assert_eq!(capture_names(&ascii_form(p)), Some(want), "{p}");
        }
    }

    #[test]
    fn masks_starting_at_one_place_are_all_reported_there() {
        // A pod's name: the deployment pod and generated-suffix masks both start a match at
        // the name's first byte and again after its first `-` (the automaton is in one state
        // there that ends a match of both); the suffix mask once more after the second.
        let line = b"ns-0   app-0-22sqhlt5d-42sqh   1/1";
        let found = starts_of(line);
        let named = |name: &str| MASKS.iter().position(|s| s.name == name).unwrap();
        assert_eq!(found[named("deployment-pod-name")], vec![7, 11]);
        assert_eq!(found[named("generated-name-suffix")], vec![7, 11, 13]);
    }

    #[test]
    fn the_backward_pass_finds_every_start_of_every_mask() {
        let (masks, _) = table();
        let lines = super::super::split::tests::lines();
        let mut seen = 0;
        for line in lines.iter().filter(|l| l.is_ascii()).take(4000) {
            let found = starts_of(line.as_bytes());
            for (i, m) in masks.iter().enumerate() {
                let want = starts_by_trying_each_position(m, line.as_bytes());
                seen += want.len();
                assert_eq!(found[i], want, "{} on {line:?}", MASKS[i].name);
            }
        }
        assert!(seen > 1000, "the lines exercise the masks: {seen} starts");
    }

    #[test]
    fn claims_from_starts_are_the_claims_of_searching_every_mask() {
        let (masks, starts) = table();
        let active: Vec<usize> = (0..masks.len()).collect();
        let mut fast = Scratch::new(masks, Some(starts));
        let mut slow = Scratch::new(masks, None);
        let mut claimed = 0;
        for line in super::super::split::tests::lines() {
            let a = claims(&line, masks, &active, Some(starts), 0, &mut fast).to_vec();
            let b = claims(&line, masks, &active, None, 0, &mut slow);
            assert_eq!(a, b, "{line:?}");
            claimed += a.len();
        }
        assert!(claimed > 4000, "{claimed} claims");
    }
}
