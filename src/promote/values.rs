//! The author's values: which printed value each live value stands for, and a live line
//! written with them on the author's columns.
//!
//! In: the pairs a run and a step give (live value, the author's value, per class), a live
//! line and the author's line it replaces. Out: the line as the author would have written it
//! today — [`render`], [`relayout`].

use std::collections::{HashMap, HashSet};

use crate::lab::Lab;
use crate::normalize::{Kind, Span, forms};
use crate::record::StepRecord;
use crate::steps::Step;

/// Live value → the author's value, per class, one to one; a step's own pairs (its agreeing
/// lines, the lines they replace) before the run's (a node is not one to one across steps).
#[derive(Default)]
pub(super) struct Author<'p> {
    to_doc: HashMap<(String, String), String>,
    used: HashSet<(String, String)>,
    run: Option<&'p Author<'p>>,
}

impl<'p> Author<'p> {
    /// Pairs of one step, over the run's.
    pub(super) fn over(run: &'p Author<'p>) -> Self {
        Author {
            run: Some(run),
            ..Author::default()
        }
    }

    /// Every pair, the step's first.
    fn all(&self) -> impl Iterator<Item = (&(String, String), &String)> {
        self.to_doc
            .iter()
            .chain(self.run.into_iter().flat_map(|r| r.to_doc.iter()))
    }

    pub(super) fn pair(&mut self, class: &str, live: &str, doc: &str) {
        let key = (class.to_string(), live.to_string());
        let back = (class.to_string(), doc.to_string());
        if self.to_doc.contains_key(&key) || self.used.contains(&back) {
            return;
        }
        self.to_doc.insert(key, doc.to_string());
        self.used.insert(back);
    }

    pub(super) fn get(&self, class: &str, live: &str) -> Option<&str> {
        let key = (class.to_string(), live.to_string());
        self.to_doc
            .get(&key)
            .or_else(|| self.run.and_then(|r| r.to_doc.get(&key)))
            .map(String::as_str)
    }
}

/// Two lines of one shape: their identity and placement values stand for each other.
pub(super) fn pair_slots(
    norm: &crate::normalize::Normalizer,
    author: &mut Author<'_>,
    old: &crate::normalize::Line,
    live: &crate::normalize::Line,
) {
    for (o, l) in old.slots.iter().zip(&live.slots) {
        if o.class == l.class && norm.kind(&o.class) != Kind::Volatile {
            author.pair(&o.class, &l.value, &o.value);
        }
    }
}

/// A live line written with the author's values: identity and placement values through the
/// run's pairs, else the value of the same class at the same place in `template` (the line it
/// replaces) when that value stands for no other; a generated name no pair names keeps the
/// prefix the author wrote for its siblings (`app-<hash>-` of the same ReplicaSet); volatile
/// values (ages, TTLs) from `template`; anything else as seen.
pub(super) fn render(
    lab: &Lab,
    step: &Step,
    record: &StepRecord,
    author: &mut Author<'_>,
    live: &str,
    template: Option<&str>,
) -> String {
    let norm = &lab.norm;
    let spans = norm.spans(live, &record.command);
    let tspans: Vec<Span> = template.map_or_else(Vec::new, |t| norm.spans(t, &step.command));
    let mut nth: HashMap<&str, usize> = HashMap::new();
    let mut out = String::with_capacity(live.len());
    let mut pos = 0;
    for s in &spans {
        let class = s.slot.class.as_str();
        let k = nth.entry(class).or_default();
        let twin = tspans.iter().filter(|t| t.slot.class == class).nth(*k);
        *k += 1;
        let written = &live[s.start..s.end];
        let value = match norm.kind(class) {
            Kind::Volatile => twin.map(|t| template.unwrap_or("")[t.start..t.end].to_string()),
            Kind::Identity | Kind::Placement => {
                if author.get(class, &s.slot.value).is_none()
                    && let Some(t) = twin
                {
                    author.pair(class, &s.slot.value, &t.slot.value);
                }
                author
                    .get(class, &s.slot.value)
                    .map(|doc| written_as(class, doc, &s.slot.value, written))
                    .or_else(|| sibling(author, class, written))
            }
        };
        out.push_str(&live[pos..s.start]);
        out.push_str(value.as_deref().unwrap_or(written));
        pos = s.end;
    }
    out.push_str(&live[pos..]);
    out
}

/// A generated name (`9cc7d9df8-q8zrt`) written with the prefix the author wrote for another
/// live name of the same prefix.
fn sibling(author: &Author<'_>, class: &str, written: &str) -> Option<String> {
    let (prefix, suffix) = written.rsplit_once('-')?;
    let (_, doc) = author.all().find(|((c, live), _)| {
        c == class && live.rsplit_once('-').is_some_and(|(p, _)| p == prefix)
    })?;
    let (doc_prefix, _) = doc.rsplit_once('-')?;
    Some(format!("{doc_prefix}-{suffix}"))
}

/// The columns of a line: runs of text separated by two or more spaces, with their start
/// (in characters).
fn columns(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (byte, column)
    let mut spaces = 0;
    let mut end = 0;
    for (col, (i, c)) in line.char_indices().enumerate() {
        if c == ' ' {
            spaces += 1;
            if spaces == 2
                && let Some((b, sc)) = start.take()
            {
                out.push((sc, &line[b..end]));
            }
        } else {
            if start.is_none() {
                start = Some((i, col));
            }
            spaces = 0;
            end = i + c.len_utf8();
        }
    }
    if let Some((b, sc)) = start {
        out.push((sc, &line[b..end]));
    }
    out
}

/// `text` laid out on the columns of `model` when both have the same number (two or more) of
/// columns: each at the model's place, or two spaces after the one before when it does not
/// fit. Otherwise `text` as it is.
pub(super) fn relayout(text: &str, model: &str) -> String {
    let (t, m) = (columns(text), columns(model));
    if t.len() < 2 || t.len() != m.len() {
        return text.to_string();
    }
    let mut out = String::with_capacity(model.len());
    let mut width = 0;
    for (i, ((_, field), (at, _))) in t.iter().zip(&m).enumerate() {
        let gap = if i == 0 { 0 } else { 2 };
        let pad = if width + gap <= *at { at - width } else { gap };
        out.push_str(&" ".repeat(pad));
        out.push_str(field);
        width += pad + field.chars().count();
    }
    out
}

/// The author's canonical value `doc` written the way the live value was (`10-244-1-5` for a
/// dashed address).
fn written_as(class: &str, doc: &str, live: &str, written: &str) -> String {
    let live_forms = forms(class, live);
    let doc_forms = forms(class, doc);
    live_forms
        .iter()
        .position(|f| f == written)
        .and_then(|i| doc_forms.get(i).cloned())
        .unwrap_or_else(|| {
            if written == live {
                doc.to_string()
            } else {
                written.replace(live, doc)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_runs_separated_by_two_spaces() {
        let c = columns("NAME   READY  NOMINATED NODE");
        assert_eq!(c, [(0, "NAME"), (7, "READY"), (14, "NOMINATED NODE")]);
    }

    #[test]
    fn a_line_takes_the_authors_columns_when_it_fits() {
        let model = "web-0   1/1     Running   0          43s";
        assert_eq!(
            relayout("web-1      0/1      Pending      0      9s", model),
            "web-1   0/1     Pending   0          9s"
        );
        // a longer value pushes what follows, keeping two spaces
        assert_eq!(
            relayout(
                "web-1      0/1      ContainerCreating      0      9s",
                model
            ),
            "web-1   0/1     ContainerCreating  0  9s"
        );
        // another number of columns: as it is
        assert_eq!(relayout("a  b", model), "a  b");
    }

    #[test]
    fn an_address_is_written_in_the_form_the_live_line_used() {
        assert_eq!(
            written_as("IP", "10.244.1.5", "10.244.7.5", "10-244-7-5"),
            "10-244-1-5"
        );
        assert_eq!(
            written_as("IP", "10.244.1.5", "10.244.7.5", "10.244.7.5"),
            "10.244.1.5"
        );
    }

    #[test]
    fn a_new_generated_name_keeps_its_siblings_prefix() {
        let mut a = Author::default();
        a.pair("POD", "7d4f8b6c5-x2kqz", "9cc7d9df8-ffsm6");
        assert_eq!(
            sibling(&a, "POD", "7d4f8b6c5-q8zrt").as_deref(),
            Some("9cc7d9df8-q8zrt")
        );
        assert_eq!(sibling(&a, "POD", "5b6c7d8f9-q8zrt"), None);
    }

    #[test]
    fn pairs_are_one_to_one_and_the_steps_come_first() {
        let mut run = Author::default();
        run.pair("NODE", "kind-worker3", "kind-worker");
        run.pair("NODE", "kind-worker2", "kind-worker"); // taken: ignored
        assert_eq!(run.get("NODE", "kind-worker2"), None);
        let mut step = Author::over(&run);
        step.pair("NODE", "kind-worker3", "kind-worker2");
        assert_eq!(step.get("NODE", "kind-worker3"), Some("kind-worker2"));
    }
}
