//! Lists whose order their values decide.
//!
//! In: an expected line and a live line of one shape, and the identity values earlier steps
//! held. Out: the live line with the members of each value list put where the document's
//! members that stand for them sit, and which members no earlier step placed.
//!
//! Kubernetes sorts some lists by value: the Endpoints controller writes a subset's addresses
//! sorted by IP (as text), `kubectl get ep` prints them in that order, EndpointSlices and DNS
//! answers likewise. On a new cluster the same pods get other addresses, so the same four
//! members come in another order: position carries no meaning in such a list, membership
//! does. A list is a run of two or more values of one class, each followed by the same text
//! (no space, no comma: `:80`), separated by `,` or `, ` — `Addresses: <IP>,<IP>,<IP>`,
//! `web <IP>:80,<IP>:80`. Its members are compared as the set they are: a document member an
//! earlier step bound takes its live value wherever that sits in the live list; the others
//! keep their order, and are not held as bound (their pairing was a choice among equals).

use crate::bind::Bindings;
use crate::normalize::{Kind, Line, Normalizer};

/// The value lists of a shape: `(first slot, members)` for each.
#[cfg(test)]
fn lists(shape: &str) -> Vec<(usize, usize)> {
    lists_cut(shape)
        .into_iter()
        .map(|(f, n, _)| (f, n))
        .collect()
}

/// The value lists of a shape, each with whether it is cut short (`… + 1 more...`, as
/// `kubectl describe` shortens a list): the members shown are the first of a longer list.
fn lists_cut(shape: &str) -> Vec<(usize, usize, bool)> {
    // members are joined by `,`: most lines (a table's rows) hold none
    if !shape.contains(',') {
        return Vec::new();
    }
    // every placeholder: (start, end, class)
    let mut marks: Vec<(usize, usize, &str)> = Vec::new();
    let mut i = 0;
    while let Some(open) = shape[i..].find('<') {
        let s = i + open;
        let Some(len) = shape[s..].find('>') else {
            break;
        };
        let e = s + len + 1;
        let name = &shape[s + 1..e - 1];
        if !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            marks.push((s, e, name));
        }
        i = e;
    }
    let mut out = Vec::new();
    let mut k = 0;
    while k < marks.len() {
        // the text each member carries after its value, as the first member has it
        let after = |m: usize| {
            let (_, e, _) = marks[m];
            let rest = &shape[e..];
            let n = rest
                .find(|c: char| c == ',' || c.is_whitespace() || c == '<')
                .unwrap_or(rest.len());
            &rest[..n]
        };
        let suffix = after(k);
        let mut n = 1;
        while k + n < marks.len() {
            let (_, prev_end, class) = marks[k + n - 1];
            let (next_start, _, next_class) = marks[k + n];
            let between = &shape[prev_end..next_start];
            let joined = [format!("{suffix},"), format!("{suffix}, ")];
            if next_class != class || !joined.iter().any(|j| j == between) || after(k + n) != suffix
            {
                break;
            }
            n += 1;
        }
        if n >= 2 {
            let (_, end, _) = marks[k + n - 1];
            let rest = &shape[end + suffix.len()..];
            let cut = rest.strip_prefix(" + ").is_some_and(|r| {
                r.starts_with(|c: char| c.is_ascii_digit()) && r.contains(" more")
            });
            out.push((k, n, cut));
        }
        k += n;
    }
    out
}

/// The live line with its lists' members reordered to stand beside the document members
/// they were bound to (`None`: nothing moves), and the slots whose members no earlier step
/// placed.
pub fn reorder(
    norm: &Normalizer,
    expected: &Line,
    live: &Line,
    held: &Bindings,
) -> (Option<Line>, Vec<usize>) {
    let mut moved: Option<Line> = None;
    let mut free = Vec::new();
    if expected.shape != live.shape {
        return (None, free);
    }
    for (first, n, cut) in lists_cut(&expected.shape) {
        let class = expected.slots[first].class;
        if norm.class_kind(class) != Kind::Identity {
            continue;
        }
        let doc = &expected.slots[first..first + n];
        let now = &live.slots[first..first + n];
        let mut place: Vec<Option<usize>> = vec![None; n];
        let mut used = vec![false; n];
        for (k, d) in doc.iter().enumerate() {
            // an earlier step said which live value it stands for; or the same value is there
            let want = held
                .held(&class, &d.value)
                .map(|(l, _)| l.to_string())
                .or_else(|| Some(d.value.as_str().to_string()));
            if let Some(w) = want
                && let Some(j) = (0..n).find(|&j| !used[j] && now[j].value.as_str() == w)
            {
                place[k] = Some(j);
                used[j] = true;
            }
        }
        let mut rest = (0..n).filter(|&j| !used[j]);
        let mut members: Vec<_> = Vec::with_capacity(n);
        let mut changed = false;
        for (k, p) in place.iter_mut().enumerate() {
            if p.is_none() {
                *p = rest.next();
            }
            let j = p.expect("every member placed");
            changed |= j != k;
            let mut m = now[j].clone();
            match held.held(&class, &doc[k].value) {
                // in a list cut short, a bound member not shown is among those cut
                Some((l, _)) if cut && !now.iter().any(|x| x.value.as_str() == l) => {
                    m.value = l.into();
                    changed = true;
                }
                Some(_) => {}
                None => free.push(first + k),
            }
            members.push(m);
        }
        if changed {
            let line = moved.get_or_insert_with(|| live.clone());
            for (k, m) in members.into_iter().enumerate() {
                line.slots[first + k] = m;
            }
        }
    }
    (moved, free)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_a_run_of_one_class_each_with_the_same_text_after_it() {
        assert_eq!(lists("Addresses: <IP>,<IP>,<IP>,<IP>"), [(0, 4)]);
        assert_eq!(lists("web <IP>:80,<IP>:80 <AGE>"), [(0, 2)]);
        assert_eq!(lists("nameservers <IP>, <IP>"), [(0, 2)]);
        assert_eq!(lists("<POD> <IP> <NODE>"), Vec::<(usize, usize)>::new());
        // another class, another suffix, a space: not one list
        assert_eq!(lists("<IP>,<MAC>"), Vec::<(usize, usize)>::new());
        assert_eq!(lists("<IP>:80,<IP>:443"), Vec::<(usize, usize)>::new());
        assert_eq!(lists("inet <IP>/24 brd <IP>"), Vec::<(usize, usize)>::new());
        // two lists on a line, after a value that is no member
        assert_eq!(lists("<POD> a=<IP>,<IP> b=<HASH>,<HASH>"), [(1, 2), (3, 2)]);
        assert_eq!(
            lists_cut("Endpoints: <IP>:8080,<IP>:8080,<IP>:8080 + 1 more..."),
            [(0, 3, true)]
        );
        assert_eq!(lists_cut("<IP>,<IP> + x"), [(0, 2, false)]);
    }

    #[test]
    fn bound_members_stand_beside_their_live_values_wherever_they_sit() {
        let norm = Normalizer::default();
        let mut held = Bindings::default();
        // services/2 bound the document's .1.4 to the live .3.17 and .2.4 to .1.10
        let doc = norm.lines("x 10.244.1.4 y 10.244.2.4", "");
        let live = norm.lines("x 10.244.3.17 y 10.244.1.10", "");
        let pairs: Vec<_> = doc[0]
            .slots
            .iter()
            .zip(live[0].slots.iter())
            .map(|(d, l)| ((d.class, d.value.clone(), l.value.clone()), None))
            .collect();
        held.hold(&pairs, "services/2");
        let e = &norm.lines(
            "Addresses: 10.244.1.4,10.244.2.4",
            "kubectl describe ep web",
        )[0];
        // the controller sorts by text: .1.10 before .3.17
        let l = &norm.lines(
            "Addresses: 10.244.1.10,10.244.3.17",
            "kubectl describe ep web",
        )[0];
        let (moved, free) = reorder(&norm, e, l, &held);
        let moved = moved.expect("the members move");
        let values: Vec<&str> = moved.slots.iter().map(|s| s.value.as_str()).collect();
        assert_eq!(values, ["10.244.3.17", "10.244.1.10"]);
        assert!(free.is_empty());
        // the whole comparison passes, where pairing by position would not
        assert!(
            super::super::compare_held(
                &norm,
                std::slice::from_ref(e),
                std::slice::from_ref(l),
                false,
                &held
            )
            .pass
        );
        assert!(
            !super::super::compare_held(
                &norm,
                std::slice::from_ref(e),
                &norm.lines(
                    "Addresses: 10.244.1.10,10.244.3.18",
                    "kubectl describe ep web"
                ),
                false,
                &held
            )
            .pass,
            "a member that is not the bound one still fails"
        );
        // cut short by kubectl: a bound member not shown is among those cut
        let e = &norm.lines(
            "Endpoints: 10.244.1.4:80,10.244.2.4:80 + 1 more...",
            "kubectl describe svc web",
        )[0];
        let l = &norm.lines(
            "Endpoints: 10.244.1.10:80,10.244.2.2:80 + 1 more...",
            "kubectl describe svc web",
        )[0];
        assert!(
            super::super::compare_held(
                &norm,
                std::slice::from_ref(e),
                std::slice::from_ref(l),
                false,
                &held
            )
            .pass
        );
        // nothing bound: nothing moves, and no member is placed
        let (moved, free) = reorder(&norm, e, l, &Bindings::default());
        assert!(moved.is_none());
        assert_eq!(free, [0, 1]);
    }
}
