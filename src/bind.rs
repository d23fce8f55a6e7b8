//! Stage 4c, bind: what each printed value stands for in this run.
//!
//! In: the value pairs that comparing a step's printed output with its live output yields
//! (`class`, document value, live value). Out: [`Bindings`], kept for the rest of the run, and
//! [`Bindings::rewrite`], which turns a later command written with the author's values
//! (`kubectl exec app-9cc7d9df8-ffsm6 ip a`) into the command to run today. The executor calls
//! [`prepare`]: rewrite, then remove the TTY flags no unattended run can honour.

use rustc_hash::FxHashMap as HashMap;

use crate::normalize::{Class, Value, forms};

/// A map that keeps its entries in one list, in the order they came (a removal moves the last
/// entry into the gap).
type Dense<K, V> = indexmap::IndexMap<K, V, rustc_hash::FxBuildHasher>;

/// What comparing a step yields and binding keeps: `(class, document value, live value)`,
/// inline values (no allocation for all but long ones). Defined here, where it is kept, so
/// that compare depends on bind and not the other way round.
pub type Pair = (Class, Value, Value);

/// The step (and the chain behind it) that bound a value: shared by every value it bound.
type Step = std::sync::Arc<str>;

/// Document value → live value, per class.
#[derive(Debug, Default, Clone)]
pub struct Bindings {
    map: Dense<(Class, Value), Value>,
    /// Identity values that a step's agreeing output determined (a line with no
    /// interchangeable alternative, or one holding a value already determined), with the step
    /// that bound them: constraints for the rest of the run. class → document value →
    /// (live value, step).
    held: HashMap<Value, HashMap<Value, (Value, Step)>>,
    /// The same, from the live side: class → live value → (document value, step).
    taken: HashMap<Value, HashMap<Value, (Value, Step)>>,
    /// Identity values paired among interchangeable rows: a choice, preferred while nothing
    /// contradicts it, replaced when a later step pairs them otherwise. class → document
    /// value → live value.
    chosen: HashMap<Value, Dense<Value, Value>>,
    /// How `map` rewrites a command, made on the first rewrite after `map` changed: a run
    /// rewrites every later step's command (and each retry's), and a large output binds
    /// hundreds of thousands of values.
    rewrites: std::sync::OnceLock<Rewrites>,
}

/// Every written form of a bound document value, with the live value's same form.
#[derive(Debug, Default, Clone)]
struct Rewrites {
    to: HashMap<Value, Value>,
    /// The longest document form, in bytes: no replacement is longer.
    longest: usize,
}

impl Rewrites {
    fn of(map: &Dense<(Class, Value), Value>) -> Rewrites {
        let mut r = Rewrites::default();
        for ((class, doc), live) in map.iter() {
            for (d, l) in forms(class, doc).into_iter().zip(forms(class, live)) {
                r.longest = r.longest.max(d.len());
                // of two bindings written alike, the first learned stands
                r.to.entry(Value::from(d)).or_insert_with(|| Value::from(l));
            }
        }
        r
    }
}

/// The map of one class, made the first time (the class's name copied once, not per value).
fn of_class<'m, V: Default>(maps: &'m mut HashMap<Value, V>, class: &str) -> &'m mut V {
    // a class name fits inline in a `Value`: the key costs no allocation, the lookup one hash
    maps.entry(class.into()).or_default()
}

impl Bindings {
    /// Whether any identity value is held or chosen (else a comparison need not look).
    pub fn constrains(&self) -> bool {
        !self.held.is_empty() || !self.chosen.is_empty()
    }

    /// Remember identity pairs chosen among interchangeable rows (a later step may replace
    /// them).
    pub fn choose<'p, I>(&mut self, pairs: I)
    where
        I: IntoIterator<Item = (Class, &'p Value, &'p Value)>,
        I::IntoIter: Clone,
    {
        let pairs = pairs.into_iter();
        // each class's map grows once, to its number of pairs, rather than by doubling (which
        // holds the old table beside the new one)
        let mut counts: Vec<(Class, usize)> = Vec::new();
        for (class, _, _) in pairs.clone() {
            match counts.iter_mut().find(|(c, _)| *c == class) {
                Some((_, n)) => *n += 1,
                None => counts.push((class, 1)),
            }
        }
        for (class, n) in counts {
            of_class(&mut self.chosen, &class).reserve(n);
        }
        for (class, doc, live) in pairs {
            let chosen = of_class(&mut self.chosen, &class);
            match chosen.get_mut(doc) {
                Some(was) => {
                    if was != live {
                        was.clone_from(live);
                    }
                }
                None => {
                    chosen.insert(doc.clone(), live.clone());
                }
            }
        }
    }

    /// The live value a document value was last chosen to stand for.
    pub fn chosen(&self, class: &str, doc: &str) -> Option<&str> {
        self.chosen.get(class)?.get(doc).map(Value::as_str)
    }

    /// Hold determined identity pairs (`pairs` already filtered to identity classes) as
    /// constraints: the first binding of a value, on either side, stands for the rest of the
    /// run.
    /// A pair anchored by a value an earlier step determined carries that value and its chain
    /// of steps; it is named with the step, so that a conflict shows the chain behind it.
    pub fn hold(&mut self, pairs: &[(Pair, Option<String>)], step: &str) {
        let mut named: Option<Step> = None;
        for ((class, doc, live), anchor) in pairs {
            if self.held(class, doc).is_some() || self.taken(class, live).is_some() {
                continue;
            }
            let step: Step = match anchor {
                Some(a) => format!("{step} (beside {a})").into(),
                None => named.get_or_insert_with(|| step.into()).clone(),
            };
            of_class(&mut self.held, class).insert(doc.clone(), (live.clone(), step.clone()));
            of_class(&mut self.taken, class).insert(live.clone(), (doc.clone(), step));
        }
    }

    /// The live value an earlier step bound to a document value, and that step.
    pub fn held(&self, class: &str, doc: &str) -> Option<(&str, &str)> {
        let (l, s) = self.held.get(class)?.get(doc)?;
        Some((l.as_str(), s))
    }

    /// The document value an earlier step bound a live value to, and that step.
    pub fn taken(&self, class: &str, live: &str) -> Option<(&str, &str)> {
        let (d, s) = self.taken.get(class)?.get(live)?;
        Some((d.as_str(), s))
    }

    /// Learn from one step. Within the step the first pair for a value wins (the first row
    /// that names it); a later step's pair replaces an earlier step's.
    pub fn learn(&mut self, pairs: &[Pair]) {
        let first = first_of_each(pairs);
        let each = first.iter().map(|&n| {
            let (class, doc, live) = &pairs[n as usize];
            (*class, doc, live)
        });
        self.learn_unique(each, first.len());
    }

    /// Learn `n` pairs, each of a different value: the map grows once, to their number.
    pub fn learn_unique<'p>(
        &mut self,
        pairs: impl IntoIterator<Item = (Class, &'p Value, &'p Value)>,
        n: usize,
    ) {
        self.map.reserve(n);
        let mut pairs = pairs.into_iter().peekable();
        if pairs.peek().is_some() {
            self.rewrites = Default::default();
        }
        for (class, doc, live) in pairs {
            let key = (class, doc.clone());
            if doc == live {
                self.map.swap_remove(&key);
            } else {
                self.map.insert(key, live.clone());
            }
        }
    }

    /// Where `recorded` (a command another recorder ran) differs from `command` rewritten with
    /// these bindings only because the recorder chose otherwise among interchangeable rows:
    /// the bindings with that choice swapped (document values `d` and `d2` of one class, both
    /// chosen and neither determined, exchange their live values), which then stand. `same`
    /// says whether two commands agree.
    pub fn settled_by(
        &self,
        command: &str,
        recorded: &str,
        same: impl Fn(&str, &str) -> bool,
    ) -> Option<Bindings> {
        for (class, chosen) in &self.chosen {
            let free: Vec<(&Value, &Value)> = chosen
                .iter()
                .filter(|(d, _)| self.held(class, d).is_none())
                .collect();
            for (d, l) in &free {
                if !command.contains(d.as_str()) {
                    continue;
                }
                for (d2, l2) in &free {
                    if d2 == d || l2 == l {
                        continue;
                    }
                    let mut b = self.clone();
                    b.rechoose(class, d, l2);
                    b.rechoose(class, d2, l);
                    if same(&b.rewrite(command), recorded) {
                        return Some(b);
                    }
                }
            }
        }
        None
    }

    fn rechoose(&mut self, class: &str, doc: &str, live: &str) {
        of_class(&mut self.chosen, class).insert(doc.into(), live.into());
        let key = (Class::new(class), doc.into());
        self.rewrites = Default::default();
        if doc == live {
            self.map.swap_remove(&key);
        } else {
            self.map.insert(key, live.into());
        }
    }

    /// Replace every bound document value in `command` by its live value. A value is replaced
    /// only where it stands alone (no letter or digit right before or after it), and all
    /// replacements are made in one pass, longest value first.
    pub fn rewrite(&self, command: &str) -> String {
        if self.map.is_empty() {
            return command.to_string();
        }
        let rewrites = self.rewrites.get_or_init(|| Rewrites::of(&self.map));
        let bytes = command.as_bytes();
        let alone_after = |end: usize| end == command.len() || !bytes[end].is_ascii_alphanumeric();
        let mut out = String::with_capacity(command.len());
        let mut i = 0;
        'outer: while i < command.len() {
            let before_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            if before_ok {
                // the longest bound form that starts here and stands alone
                for end in (i + 1..=command.len().min(i + rewrites.longest)).rev() {
                    if command.is_char_boundary(end)
                        && alone_after(end)
                        && let Some(live) = rewrites.to.get(&command[i..end])
                    {
                        out.push_str(live);
                        i = end;
                        continue 'outer;
                    }
                }
            }
            let c = command[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
        out
    }
}

/// The command to run: bindings applied, TTY flags removed.
pub fn prepare(command: &str, bindings: &Bindings) -> String {
    strip_tty(&bindings.rewrite(command))
}

const TTY_FLAGS: &[&str] = &["-it", "-ti", "-t", "--tty", "--tty=true"];
/// Options of `docker exec|run` and `kubectl exec|run` that take a separate value (the
/// subcommands' own, which `src/policy/flags.rs`, the programs' global flags, does not hold).
const VALUED: &[&str] = &[
    "-e",
    "--env",
    "-u",
    "--user",
    "-w",
    "--workdir",
    "--name",
    "-v",
    "--volume",
    "-p",
    "--publish",
    "--network",
    "--entrypoint",
    "-l",
    "--label",
    "-c",
    "--container",
    "-n",
    "--namespace",
    "--context",
    "--image",
    "--env-file",
    "--detach-keys",
    "--kubeconfig",
];

/// Remove `-it`, `-ti`, `-t`, `--tty` from `docker exec|run` and `kubectl exec|run`: only among
/// their own options (before the container or pod and its command), never from the command
/// run inside (`iptables -t nat` keeps its `-t`).
pub fn strip_tty(command: &str) -> String {
    let mut out = Vec::new();
    let words = command.split(' ');
    let mut prev: Option<&str> = None;
    // State inside a docker/kubectl exec|run: Some(positionals seen), None outside.
    let mut inside: Option<(bool, usize)> = None; // (is_kubectl, positionals)
    let mut after_value = false;
    for w in words {
        if let Some((kubectl, positionals)) = inside {
            let limit = if kubectl { 2 } else { 1 };
            if w == "--" || positionals >= limit || ["|", "&&", "||", ";"].contains(&w) {
                inside = None;
            } else if after_value {
                after_value = false;
            } else if w.is_empty() {
            } else if TTY_FLAGS.contains(&w) {
                prev = Some(w);
                continue;
            } else if VALUED.contains(&w) {
                after_value = true;
            } else if !w.starts_with('-') {
                inside = Some((kubectl, positionals + 1));
                if positionals + 1 >= limit && !kubectl {
                    inside = None;
                }
            }
        }
        if matches!(prev, Some("docker") | Some("kubectl")) && (w == "exec" || w == "run") {
            inside = Some((prev == Some("kubectl"), 0));
        }
        out.push(w);
        prev = Some(w);
    }
    out.join(" ")
}

/// The index of each pair whose class and document value no earlier pair has, in order. The
/// set of those seen holds indexes (four bytes a value), not the values: on a step of many
/// rows it would otherwise be as large as the pairs themselves.
pub fn first_of_each(pairs: &[Pair]) -> Vec<u32> {
    use std::hash::BuildHasher;
    let hasher = rustc_hash::FxBuildHasher;
    let hash_of = |n: u32| {
        let (class, doc, _) = &pairs[n as usize];
        hasher.hash_one((class, doc.as_str()))
    };
    let mut seen = hashbrown::HashTable::<u32>::with_capacity(pairs.len());
    let mut first = Vec::with_capacity(pairs.len());
    for n in 0..pairs.len() as u32 {
        let (class, doc, _) = &pairs[n as usize];
        let hash = hash_of(n);
        let same = |&m: &u32| {
            let (c, d, _) = &pairs[m as usize];
            c == class && d == doc
        };
        if seen.find(hash, same).is_none() {
            seen.insert_unique(hash, n, |&m| hash_of(m));
            first.push(n);
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(c: &str, d: &str, l: &str) -> Pair {
        (c.into(), d.into(), l.into())
    }

    #[test]
    fn rewrites_values_where_they_stand_alone() {
        let mut b = Bindings::default();
        b.learn(&[
            pair("POD", "9cc7d9df8-ffsm6", "5f6b7c8d9-xk2lp"),
            pair("IP", "10.244.1.4", "10.244.3.7"),
            pair("NODE", "kind-worker2", "kind-worker3"),
        ]);
        assert_eq!(
            b.rewrite("kubectl exec app-9cc7d9df8-ffsm6 ip a"),
            "kubectl exec app-5f6b7c8d9-xk2lp ip a"
        );
        assert_eq!(
            b.rewrite("wget 10.244.1.4:8080/host"),
            "wget 10.244.3.7:8080/host"
        );
        assert_eq!(b.rewrite("host 10.244.1.45"), "host 10.244.1.45");
        assert_eq!(
            b.rewrite("dig 4.1.244.10.in-addr.arpa"),
            "dig 7.3.244.10.in-addr.arpa"
        );
        assert_eq!(
            b.rewrite("docker exec kind-worker2 ip a"),
            "docker exec kind-worker3 ip a"
        );
    }

    #[test]
    fn of_two_values_written_alike_the_first_learned_stands_and_the_longest_form_wins() {
        // an address's dashed form and a name that reads the same
        let ip = pair("IP", "10.0.0.1", "10.0.0.9");
        let name = pair("POD", "10-0-0-1", "web-1");
        let mut b = Bindings::default();
        b.learn(&[ip.clone(), name.clone()]);
        assert_eq!(b.rewrite("curl 10-0-0-1:80"), "curl 10-0-0-9:80");
        let mut b = Bindings::default();
        b.learn(&[name, ip]);
        assert_eq!(b.rewrite("curl 10-0-0-1:80"), "curl web-1:80");
        // the longer bound value is taken where both start
        b.learn(&[pair("POD", "10-0-0-1-extra", "api-2")]);
        assert_eq!(b.rewrite("a 10-0-0-1-extra b 10-0-0-1"), "a api-2 b web-1");
        // and a rewrite after learning sees what was learned
        b.learn(&[pair("POD", "10-0-0-1", "web-7")]);
        assert_eq!(b.rewrite("b 10-0-0-1"), "b web-7");
    }

    #[test]
    fn one_pass_no_chains() {
        let mut b = Bindings::default();
        b.learn(&[
            pair("IP", "10.0.0.1", "10.0.0.2"),
            pair("IP", "10.0.0.2", "10.0.0.3"),
        ]);
        assert_eq!(b.rewrite("a 10.0.0.1 b 10.0.0.2"), "a 10.0.0.2 b 10.0.0.3");
    }

    #[test]
    fn first_pair_in_a_step_wins_later_steps_replace() {
        let mut b = Bindings::default();
        b.learn(&[
            pair("NODE", "kind-worker2", "kind-worker3"),
            pair("NODE", "kind-worker2", "kind-worker"),
        ]);
        assert_eq!(b.rewrite("kind-worker2"), "kind-worker3");
        b.learn(&[pair("NODE", "kind-worker2", "kind-worker")]);
        assert_eq!(b.rewrite("kind-worker2"), "kind-worker");
        // a first pair that keeps the value unbinds it, whatever the step's later pairs say
        b.learn(&[
            pair("NODE", "kind-worker2", "kind-worker2"),
            pair("NODE", "kind-worker2", "kind-worker3"),
        ]);
        assert_eq!(b.rewrite("kind-worker2"), "kind-worker2");
    }

    #[test]
    fn determined_values_hold_both_ways_and_the_first_binding_stands() {
        let mut b = Bindings::default();
        b.hold(
            &[(pair("POD", "5586fc9d77-7frts", "6b8f7c9d4-p9rgv"), None)],
            "endpoints/4",
        );
        assert_eq!(
            b.held("POD", "5586fc9d77-7frts"),
            Some(("6b8f7c9d4-p9rgv", "endpoints/4"))
        );
        assert_eq!(
            b.taken("POD", "6b8f7c9d4-p9rgv"),
            Some(("5586fc9d77-7frts", "endpoints/4"))
        );
        // neither side can be bound again
        b.hold(
            &[(pair("POD", "5586fc9d77-7frts", "6b8f7c9d4-zzzzz"), None)],
            "endpoints/8",
        );
        b.hold(
            &[(pair("POD", "5586fc9d77-6dcg2", "6b8f7c9d4-p9rgv"), None)],
            "endpoints/8",
        );
        assert_eq!(
            b.held("POD", "5586fc9d77-7frts").unwrap().0,
            "6b8f7c9d4-p9rgv"
        );
        assert_eq!(b.held("POD", "5586fc9d77-6dcg2"), None);
        // a choice among interchangeable rows is replaced by the next one
        for (class, doc, live) in [
            pair("IP", "10.244.1.4", "10.244.7.4"),
            pair("IP", "10.244.1.4", "10.244.7.9"),
        ] {
            b.choose([(class, &doc, &live)]);
        }
        assert_eq!(b.chosen("IP", "10.244.1.4"), Some("10.244.7.9"));
        assert_eq!(b.held("IP", "10.244.1.4"), None);
    }

    #[test]
    fn tty_flags_go_only_from_the_outer_command() {
        assert_eq!(
            strip_tty("docker exec -it kind-worker2 ip a"),
            "docker exec kind-worker2 ip a"
        );
        assert_eq!(
            strip_tty("docker exec -it  kind-worker2 iptables -t nat -L"),
            "docker exec  kind-worker2 iptables -t nat -L"
        );
        assert_eq!(
            strip_tty("kubectl exec -it dnsutils -- host -v -t a github.com"),
            "kubectl exec dnsutils -- host -v -t a github.com"
        );
        assert_eq!(
            strip_tty("kubectl run -ti --image=busybox b -- sh"),
            "kubectl run --image=busybox b -- sh"
        );
        assert_eq!(
            strip_tty("docker exec -it kind-worker2 ps aux | grep -t 4687"),
            "docker exec kind-worker2 ps aux | grep -t 4687"
        );
        assert_eq!(strip_tty("iptables -t nat -L"), "iptables -t nat -L");
    }

    #[test]
    fn first_of_each_keeps_the_first_pair_of_each_class_and_value_in_order() {
        let p = |c: &str, d: &str, l: &str| (Class::new(c), Value::from(d), Value::from(l));
        let pairs = [
            p("IP", "10.244.1.4", "10.244.7.4"),
            p("POD", "10.244.1.4", "x"),
            p("IP", "10.244.1.4", "10.244.7.9"),
            p("IP", "10.244.1.5", "10.244.7.5"),
            p("POD", "10.244.1.4", "y"),
        ];
        // the same value in another class is another value; a repeat is left out
        assert_eq!(first_of_each(&pairs), [0, 1, 3]);
        assert!(first_of_each(&[]).is_empty());
    }
}
