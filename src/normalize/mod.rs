//! Stage 4a, normalize: printed or live output becomes [`Line`]s whose volatile values are
//! masked.
//!
//! In: a text (and the command that printed it, for masks that only make sense after certain
//! commands). Out: one [`Line`] per input line: its *shape* (the text with every masked value
//! replaced by `<CLASS>` and runs of inner white space folded, so a realigned table has the
//! same shape) and its *slots* (the masked values, in order, with their class).
//!
//! The masks are data: [`MASKS`] is the one table, each entry with an example that a test
//! checks. Users add masks in `labrun.toml`. A class is [`Kind::Identity`] (numbered by first
//! appearance, so `<IP1> … <IP1>` demands the same address twice; bound for rewriting later
//! commands), [`Kind::Placement`] (not numbered, bound: which node a pod landed on) or
//! [`Kind::Volatile`] (not numbered, not bound: ages, TTLs, CPU time).

mod claims;
mod masks;
mod split;
mod starts;
mod values;

use claims::{BUILT_IN, BUILT_IN_STARTS, Compiled, Scratch, compile};
use rustc_hash::FxHashMap as HashMap;
use starts::Starts;
use std::sync::{LazyLock, Mutex};

pub use compact_str::CompactString as Value;
use masks::octets;
pub use masks::{CLASSES, Kind, MASKS, MaskSpec};
use values::Shapes;
pub use values::{Class, Labels, Line, Shape, Slot, Span};

use regex::Regex;

/// All the ways a canonical value of `class` may be written in a command.
pub fn forms(class: &str, value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    if class == "IP" && value.contains('.') && octets(value) {
        out.push(value.replace('.', "-"));
        let mut parts: Vec<&str> = value.split('.').collect();
        parts.reverse();
        out.push(format!("{}.in-addr.arpa", parts.join(".")));
    }
    out
}

/// A user-defined mask from configuration.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserMask {
    pub name: String,
    /// A regex; its named groups are masked (the group name is the class), or, without named
    /// groups, the whole match is masked as `class`.
    pub pattern: String,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
}

/// The compiled mask table, built-in masks first, then the user's.
pub struct Normalizer {
    masks: Vec<Compiled>,
    kinds: HashMap<&'static str, Kind>,
    /// The same, by interned class: a pointer hashed, not a name.
    class_kinds: HashMap<Class, Kind>,
    /// Every mask's pattern in one automaton, ASCII semantics, read backwards: where each
    /// mask can start a match on a line is one pass over it. On an ASCII line ASCII and
    /// Unicode classes (`\b`, `\d`, `\s`, `\w`) agree, so the answer is exact; other lines
    /// run every mask.
    starts: Option<Starts>,
    /// Scratch left by earlier calls, its automata's caches warm, for the next to take.
    scratch: Mutex<Vec<Scratch>>,
    /// How many of `masks`, first, are the user's (in the order declared).
    user: usize,
}

static ANSI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07").unwrap());
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([A-Z][A-Z0-9_]*?)(\d*)>").unwrap());

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new(&[]).expect("the built-in masks compile")
    }
}

impl Normalizer {
    /// Built-in masks plus `user` masks. An error names the user mask that does not compile.
    pub fn new(user: &[UserMask]) -> Result<Self, String> {
        let mut masks = BUILT_IN.as_ref().map_err(Clone::clone)?.clone();
        // the user's masks come first, in the order declared: before every built-in one, and
        // among themselves the earliest match wins, then the longest (see `claims`)
        let mut kinds: HashMap<&'static str, Kind> =
            CLASSES.iter().map(|(c, k)| (*c, *k)).collect();
        for (declared, m) in user.iter().enumerate() {
            let kind = match m.kind.as_deref() {
                None | Some("identity") => Kind::Identity,
                Some("placement") => Kind::Placement,
                Some("volatile") => Kind::Volatile,
                Some(other) => {
                    return Err(format!(
                        "mask `{}`: kind `{other}` is not identity, placement or volatile",
                        m.name
                    ));
                }
            };
            let c = compile(&m.pattern, m.class.as_deref(), None, &[], None, true)
                .map_err(|e| format!("mask `{}`: {e}", m.name))?;
            for class in c.classes() {
                kinds.entry(class.as_str()).or_insert(kind);
            }
            masks.insert(declared, c);
        }
        let class_kinds = kinds.iter().map(|(c, k)| (Class::new(c), *k)).collect();
        let starts = if user.is_empty() {
            BUILT_IN_STARTS.clone()
        } else {
            Starts::new(&masks)
        };
        Ok(Normalizer {
            masks,
            kinds,
            class_kinds,
            starts,
            scratch: Mutex::new(Vec::new()),
            user: user.len(),
        })
    }

    /// The masks that apply to what `command` printed (a mask's `when`), by index.
    fn active(&self, command: &str) -> Vec<usize> {
        (0..self.masks.len())
            .filter(|&i| self.masks[i].when().is_none_or(|w| w.is_match(command)))
            .collect()
    }

    /// Scratch to mask with: one an earlier call left, its caches warm, or a new one.
    fn take_scratch(&self) -> Scratch {
        let left = self.scratch.lock().ok().and_then(|mut pool| pool.pop());
        left.unwrap_or_else(|| Scratch::new(&self.masks, self.starts.as_ref()))
    }

    fn give_back(&self, scratch: Scratch) {
        if let Ok(mut pool) = self.scratch.lock() {
            pool.push(scratch);
        }
    }

    /// The kind of a class (unknown classes count as identity).
    pub fn kind(&self, class: &str) -> Kind {
        self.kinds.get(class).copied().unwrap_or(Kind::Identity)
    }

    /// [`Normalizer::kind`] of an interned class, looked up by its pointer.
    pub fn class_kind(&self, class: Class) -> Kind {
        self.class_kinds
            .get(&class)
            .copied()
            .unwrap_or(Kind::Identity)
    }

    /// Mask every line of `text` printed by `command`. A long text is cut at line ends into
    /// one piece per core, masked side by side: each line's mask is its own.
    pub fn lines(&self, text: &str, command: &str) -> Vec<Line> {
        let active = self.active(command);
        let pieces = pieces(text, threads());
        let mask = |piece: &str| {
            let mut worker = Worker {
                scratch: self.take_scratch(),
                shapes: Shapes::default(),
                shape: String::new(),
            };
            let lines: Vec<Line> = clean_lines(piece)
                .map(|l| self.line(&l, &active, &mut worker))
                .collect();
            self.give_back(worker.scratch);
            lines
        };
        if pieces.len() < 2 {
            return mask(text);
        }
        std::thread::scope(|scope| {
            let workers: Vec<_> = pieces
                .iter()
                .map(|piece| scope.spawn(|| mask(piece)))
                .collect();
            let mut all = Vec::new();
            for w in workers {
                all.append(&mut w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            }
            all
        })
    }

    /// The masked values of one clean line (see [`clean_lines`]) printed by `command`: where
    /// each stands, its class and canonical value, in order. What `promote` rewrites.
    pub fn spans(&self, line: &str, command: &str) -> Vec<Span> {
        let mut scratch = self.take_scratch();
        let active = self.active(command);
        let spans = claims::claims(
            line,
            &self.masks,
            &active,
            self.starts.as_ref(),
            self.user,
            &mut scratch,
        )
        .iter()
        .map(|(start, end, class, value)| Span {
            start: *start,
            end: *end,
            slot: Slot {
                class: *class,
                value: value.clone(),
            },
        })
        .collect();
        self.give_back(scratch);
        spans
    }

    fn line(&self, line: &str, active: &[usize], worker: &mut Worker) -> Line {
        let claims = claims::claims(
            line,
            &self.masks,
            active,
            self.starts.as_ref(),
            self.user,
            &mut worker.scratch,
        );
        let shape = &mut worker.shape;
        shape.clear();
        let mut slots = Vec::with_capacity(claims.len());
        let mut pos = 0;
        for (s, e, class, value) in claims {
            fold_into(shape, &line[pos..*s]);
            shape.push('<');
            shape.push_str(class.as_str());
            shape.push('>');
            slots.push(Slot {
                class: *class,
                value: value.clone(),
            });
            pos = *e;
        }
        fold_into(shape, &line[pos..]);
        Line {
            shape: worker.shapes.intern(shape),
            slots: slots.into(),
        }
    }

    /// Read text that is already normalized (a snapshot): placeholders become slots whose
    /// value is their label, so `<IP1>` in two places still demands one value.
    pub fn parse_normalized(&self, text: &str) -> Vec<Line> {
        let mut shapes = Shapes::default();
        clean_lines(text)
            .map(|l| {
                let mut shape = String::new();
                let mut slots = Vec::new();
                let mut pos = 0;
                for caps in PLACEHOLDER.captures_iter(&l) {
                    let class = &caps[1];
                    if !self.kinds.contains_key(class) {
                        continue;
                    }
                    let m = caps.get(0).unwrap();
                    fold_into(&mut shape, &l[pos..m.start()]);
                    shape.push_str(&format!("<{class}>"));
                    let label = if caps[2].is_empty() {
                        compact_str::format_compact!("{class}?{}", slots.len())
                    } else {
                        compact_str::format_compact!("{class}{}", &caps[2])
                    };
                    slots.push(Slot {
                        class: Class::new(class),
                        value: label,
                    });
                    pos = m.end();
                }
                fold_into(&mut shape, &l[pos..]);
                Line {
                    shape: shapes.intern(&shape),
                    slots: slots.into(),
                }
            })
            .collect()
    }

    /// Render lines with numbered placeholders for identity classes (`<IP1>`), numbered by
    /// first appearance; `names` may pre-assign labels (value → label) and collects new ones.
    pub fn render(&self, lines: &[Line], names: &mut Labels) -> String {
        self.render_each(lines.iter(), names)
    }

    /// [`Normalizer::render`] of lines given one by one (in another order, without copying).
    pub fn render_each<'a>(
        &self,
        lines: impl Iterator<Item = &'a Line>,
        names: &mut Labels,
    ) -> String {
        let mut out = String::new();
        for (i, line) in lines.enumerate() {
            if i > 0 {
                out.push('\n');
            }
            self.render_line(line, names, &mut out);
        }
        out
    }

    /// [`Normalizer::render`], one string per line (no text of them all held besides).
    pub fn render_lines(&self, lines: &[Line], names: &mut Labels) -> Vec<String> {
        lines
            .iter()
            .map(|line| {
                // room for a label's number after each placeholder, so that a line is
                // allocated once and not grown to twice its length
                let mut out = String::with_capacity(line.shape.len() + 8 * line.slots.len());
                self.render_line(line, names, &mut out);
                out
            })
            .collect()
    }

    fn render_line(&self, line: &Line, names: &mut Labels, out: &mut String) {
        let mut slots = line.slots.iter();
        let mut rest: &str = &line.shape;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>') else {
                break;
            };
            let class = &rest[open + 1..open + close];
            // Only a placeholder if the line has a slot of that class.
            let known = self.kinds.get_key_value(class);
            let is_slot =
                known.is_some_and(|(c, _)| line.slots.iter().any(|s| std::ptr::eq(*s.class.0, *c)));
            out.push_str(&rest[..open]);
            if let (true, Some((_, &kind))) = (is_slot, known) {
                let slot = slots.next();
                match (slot, kind) {
                    (Some(slot), Kind::Identity) => {
                        out.push('<');
                        out.push_str(names.get(slot.class, &slot.value));
                        out.push('>');
                    }
                    _ => out.push_str(&rest[open..=open + close]),
                }
            } else {
                out.push_str(&rest[open..=open + close]);
            }
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
    }

    /// The text as labrun sees it after masking, placeholders numbered.
    pub fn normalize(&self, text: &str, command: &str) -> String {
        self.render(&self.lines(text, command), &mut Labels::default())
    }
}

/// What one thread masking lines reuses from line to line.
struct Worker {
    scratch: Scratch,
    shapes: Shapes,
    /// The shape being built.
    shape: String,
}

/// Below this many bytes a text is masked on one core (starting threads would cost more).
const PARALLEL_BYTES: usize = 128 * 1024;

/// How many cores masking may use: `LABRUN_THREADS`, else all the machine has.
pub fn threads() -> usize {
    static N: LazyLock<usize> = LazyLock::new(|| {
        std::env::var("LABRUN_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    });
    *N
}

/// `text` cut into at most `n` pieces of about equal size, each ending at a line end (or the
/// text's end); one piece when the text is short.
fn pieces(text: &str, n: usize) -> Vec<&str> {
    let n = n.min(text.len() / PARALLEL_BYTES).max(1);
    let mut out = Vec::with_capacity(n);
    let mut rest = text;
    for k in (1..n).rev() {
        let want = rest.len() / (k + 1);
        match rest.as_bytes()[want..].iter().position(|&b| b == b'\n') {
            Some(at) => {
                let (piece, tail) = rest.split_at(want + at + 1);
                out.push(piece);
                rest = tail;
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

/// Lines with ANSI escapes, `\r` and trailing white space removed.
pub fn clean_lines(text: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> + '_ {
    text.lines().map(|l| {
        let l = l.strip_suffix('\r').unwrap_or(l);
        let l = l.rsplit('\r').next().unwrap_or(l); // a carriage return overwrites the line
        if l.contains('\x1b') {
            std::borrow::Cow::Owned(ANSI.replace_all(l, "").trim_end().to_string())
        } else {
            std::borrow::Cow::Borrowed(l.trim_end())
        }
    })
}

/// Append `text` to `out`, folding runs of inner white space into one space but keeping the
/// line's leading indentation.
fn fold_into(out: &mut String, mut text: &str) {
    let blank = |b: u8| b == b' ' || b == b'\t';
    if out.is_empty() {
        let indent = text.bytes().take_while(|&b| blank(b)).count();
        out.push_str(&text[..indent]);
        text = &text[indent..];
    }
    // runs of spaces and tabs (ASCII, so every cut is at a character boundary) become one space
    while let Some(at) = text.bytes().position(blank) {
        out.push_str(&text[..at]);
        out.push(' ');
        let run = text[at..].bytes().take_while(|&b| blank(b)).count();
        text = &text[at + run..];
    }
    out.push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_masks_form_one_automaton() {
        assert!(
            BUILT_IN_STARTS.is_some(),
            "every built-in pattern has an ASCII form"
        );
        let n = Normalizer::new(&[]).unwrap();
        assert_eq!(n.starts.as_ref().map(Starts::len), Some(MASKS.len()));
    }

    #[test]
    fn every_mask_masks_its_example() {
        let n = Normalizer::default();
        for spec in MASKS {
            let (command, input, shape) = spec.example;
            let lines = n.lines(input, command);
            assert_eq!(&*lines[0].shape, shape, "mask {}", spec.name);
        }
    }

    #[test]
    fn every_class_of_the_table_is_declared() {
        let n = Normalizer::default();
        for spec in MASKS {
            for name in Regex::new(spec.pattern).unwrap().capture_names().flatten() {
                let class = name.split("__").next().unwrap();
                assert!(
                    n.kinds.contains_key(class),
                    "{} uses undeclared {class}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn a_generated_suffix_ends_its_name() {
        let n = Normalizer::default();
        let shape = |t: &str| n.lines(t, "docker ps")[0].shape.to_string();
        // digits of the safe alphabet inside a longer name: the name is a node's
        assert_eq!(shape("labrun-bind-29567-worker"), "<NODE>");
        // a real suffix still is one, whatever follows that is not more name
        assert_eq!(
            shape("clusterip-service-l2n9q IPv4"),
            "clusterip-service-<NAME> IPv4"
        );
        assert_eq!(shape("app-9cc7d9df8,db"), "app-<RS>,db");
        assert_eq!(shape("app-9cc7d9df8-ffsm6 1/1"), "app-<POD> 1/1");
    }

    #[test]
    fn identity_values_are_numbered_by_first_appearance() {
        let n = Normalizer::default();
        let text = "inet 10.244.1.1/32 brd 10.244.1.1 scope global veth608eddaa\nvia 10.244.1.4";
        assert_eq!(
            n.normalize(text, "ip a"),
            "inet <IP1>/32 brd <IP1> scope global <VETH1>\nvia <IP2>"
        );
    }

    #[test]
    fn three_forms_of_one_address_share_a_placeholder() {
        let n = Normalizer::default();
        let text = "4.1.244.10.in-addr.arpa domain name pointer 10-244-1-4.clusterip-service.default.svc.cluster.local.";
        assert_eq!(
            n.normalize(text, "host 10.244.1.4"),
            "<IP1>.in-addr.arpa domain name pointer <IP1>.clusterip-service.default.svc.cluster.local."
        );
    }

    #[test]
    fn realigned_columns_have_the_same_shape() {
        let n = Normalizer::default();
        let a = n.lines(
            "postgres   ClusterIP   10.105.214.153   <none>   5432/TCP   23m",
            "",
        );
        let b = n.lines(
            "postgres  ClusterIP  10.96.7.8  <none>        5432/TCP  2d",
            "",
        );
        assert_eq!(a[0].shape, b[0].shape);
    }

    #[test]
    fn statuses_ports_counts_and_plain_names_stay() {
        let n = Normalizer::default();
        let out = n.normalize(
            "postgres-0   0/1   CrashLoopBackOff   3   5m   10.244.1.3   kind-worker2",
            "kubectl get pods -o wide",
        );
        assert_eq!(out, "postgres-0 0/1 CrashLoopBackOff 3 <AGE> <IP1> <NODE>");
        assert_eq!(
            n.normalize("NodePort: echo 30040/TCP", ""),
            "NodePort: echo 30040/TCP"
        );
        assert_eq!(
            n.normalize("Error from server (NotFound): pods \"app\" not found", ""),
            "Error from server (NotFound): pods \"app\" not found"
        );
    }

    #[test]
    fn ansi_carriage_returns_and_trailing_spaces_are_stripped() {
        let n = Normalizer::default();
        assert_eq!(
            n.normalize("\x1b[32mok\x1b[0m   \r\n50%\rdone  ", ""),
            "ok\ndone"
        );
    }

    #[test]
    fn pid_lists_are_masked_only_after_pid_commands() {
        let n = Normalizer::default();
        assert_eq!(
            n.normalize("4687\n4737", "ip netns pid cni-x"),
            "<PID1>\n<PID2>"
        );
        assert_eq!(n.normalize("4687", "cat count"), "4687");
    }

    #[test]
    fn placeholders_read_back_from_snapshots() {
        let n = Normalizer::default();
        let lines = n.parse_normalized("inet <IP1>/32 brd <IP1> <none> <AGE>");
        assert_eq!(&*lines[0].shape, "inet <IP>/32 brd <IP> <none> <AGE>");
        assert_eq!(lines[0].slots.len(), 3);
        assert_eq!(lines[0].slots[0].value, lines[0].slots[1].value);
        assert_eq!(
            n.render(&lines, &mut Labels::default()),
            "inet <IP1>/32 brd <IP1> <none> <AGE>"
        );
    }

    #[test]
    fn among_the_users_masks_the_earliest_match_wins_then_the_longest() {
        let mask = |name: &str, pattern: &str, class: &str| UserMask {
            name: name.into(),
            pattern: pattern.into(),
            class: Some(class.into()),
            kind: Some("volatile".into()),
        };
        let stamp = mask(
            "stamp",
            r"[A-Z][a-z]{2} [A-Z][a-z]{2} +\d+ [\d:]+ UTC \d{4}",
            "STAMP",
        );
        let mtime = mask("mtime", r"[A-Z][a-z]{2} +\d+ \d{2}:\d{2}", "MTIME");
        let line = "built Sat Dec  5 22:20:52 UTC 2026";
        // declared in either order, the match that starts first wins
        for user in [
            [stamp.clone(), mtime.clone()],
            [mtime.clone(), stamp.clone()],
        ] {
            let n = Normalizer::new(&user).unwrap();
            assert_eq!(n.normalize(line, ""), "built <STAMP>");
        }
        // the same start: the longer wins, whatever the order
        let short = mask("short", r"Sat Dec", "SHORT");
        for user in [
            [short.clone(), stamp.clone()],
            [stamp.clone(), short.clone()],
        ] {
            let n = Normalizer::new(&user).unwrap();
            assert_eq!(n.normalize(line, ""), "built <STAMP>");
        }
        // the same start and length: the one declared first
        let other = mask("other", r"Sat Dec", "OTHER");
        let n = Normalizer::new(&[short.clone(), other.clone()]).unwrap();
        assert_eq!(n.normalize("Sat Dec", ""), "<SHORT>");
        let n = Normalizer::new(&[other, short]).unwrap();
        assert_eq!(n.normalize("Sat Dec", ""), "<OTHER>");
    }

    #[test]
    fn user_masks_take_priority_and_need_a_class() {
        let user = UserMask {
            name: "build".into(),
            pattern: r"build-\d+".into(),
            class: Some("BUILD".into()),
            kind: Some("volatile".into()),
        };
        let n = Normalizer::new(std::slice::from_ref(&user)).unwrap();
        assert_eq!(
            n.normalize("made build-42 at 10.0.0.1", ""),
            "made <BUILD> at <IP1>"
        );
        let bad = UserMask {
            class: None,
            ..user.clone()
        };
        assert!(Normalizer::new(&[bad]).is_err());
        // a pattern that can match nothing matches everywhere: refused, named
        let empty = UserMask {
            pattern: r"(?P<BUILD>\d*)".into(),
            ..user
        };
        let e = Normalizer::new(&[empty]).err().unwrap();
        assert!(
            e.contains("mask `build`") && e.contains("empty text"),
            "{e}"
        );
    }
}
