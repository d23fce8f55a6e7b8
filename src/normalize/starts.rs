//! Stage 4a, normalize (starts): where on a line each mask can start a match.
//!
//! In: the mask table and an ASCII line. Out: for each mask, every position where one of its
//! matches starts, from one pass over the line backwards through a lazy automaton of all the
//! masks at once (match kind All, so every start of every mask is seen). `claims.rs` then ends
//! each match from its start.

use super::claims::{Compiled, ascii_syntax};
use regex_automata::hybrid::dfa::{Cache as LazyCache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::{Input, MatchKind};

/// Every mask's ASCII form in one automaton, read backwards from a line's end: each position
/// where some mask's match can start, and which masks. Lazy (its states are built as lines
/// need them), in the masks' order.
#[derive(Clone)]
pub(in crate::normalize) struct Starts(pub(super) DFA);

impl Starts {
    /// None when a pattern has no ASCII form (then every mask runs on every line).
    pub(super) fn new(masks: &[Compiled]) -> Option<Starts> {
        let patterns: Vec<String> = masks.iter().map(|m| m.ascii_form()).collect();
        DFA::builder()
            .configure(DFA::config().match_kind(MatchKind::All))
            .syntax(ascii_syntax())
            .thompson(
                thompson::Config::new()
                    .utf8(false)
                    .reverse(true)
                    .which_captures(thompson::WhichCaptures::None),
            )
            .build_many(&patterns)
            .ok()
            .map(Starts)
    }

    /// How many masks the automaton holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0.pattern_len()
    }

    /// Report `(mask, start)` for every start of a match in `line`, from the line's end
    /// backwards; an error when the automaton cannot finish (then the caller searches).
    ///
    /// A match found after reading the byte at `at` backwards starts at `at + 1` (matches are
    /// seen one byte late, so that look-behind such as `\b` can be decided); one found at the
    /// line's start, after its end-of-input step, starts at 0.
    pub(super) fn each(
        &self,
        cache: &mut LazyCache,
        line: &[u8],
        mut found: impl FnMut(usize, usize),
    ) -> Result<(), ()> {
        let dfa = &self.0;
        let mut sid = dfa
            .start_state_reverse(cache, &Input::new(line))
            .map_err(drop)?;
        let mut report = |cache: &mut LazyCache, sid, at| {
            for k in 0..dfa.match_len(cache, sid) {
                found(dfa.match_pattern(cache, sid, k).as_usize(), at);
            }
        };
        for at in (0..line.len()).rev() {
            sid = dfa.next_state(cache, sid, line[at]).map_err(drop)?;
            if sid.is_tagged() {
                if sid.is_match() {
                    report(cache, sid, at + 1);
                } else if sid.is_dead() {
                    return Ok(());
                } else if sid.is_quit() {
                    return Err(());
                }
            }
        }
        sid = dfa.next_eoi_state(cache, sid).map_err(drop)?;
        if sid.is_match() {
            report(cache, sid, 0);
        }
        Ok(())
    }
}
