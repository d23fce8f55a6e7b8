//! The fuzzing harness shared by `tests/it/fuzz.rs` (a short run in every `cargo test`) and the
//! `fuzz` example (the long run: `cargo run --release --example fuzz -- 10000000`).
//!
//! Inputs come from a seeded generator, two ways: grammar fragments of what labrun reads
//! (fences, prompts, AsciiDoc delimiters, directives, shortcodes, here-documents, quotes, JSON
//! records, snapshot lines, addresses and names) strung together, and mutations (insert,
//! delete, duplicate, swap) of real documents: the corpus, the book's chapters, the user's lab.
//! Each input goes to one target: the Markdown or AsciiDoc reader and the step splitter (with
//! `--explain` and the warnings), the normalizer, the run-file reader, the snapshot reader.
//! A panic or an input that takes longer than a second is a finding, kept with its seed.

use std::path::Path;
use std::time::{Duration, Instant};

/// xorshift64*: small, seeded, repeatable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Pieces of every format labrun reads.
const FRAGMENTS: &[&str] = &[
    "```",
    "```console",
    "```bash",
    "```shell-session",
    "```json",
    "```yaml",
    "~~~",
    "    ",
    "$ ",
    "# ",
    "## ",
    "### ",
    "> ",
    "- ",
    "1. ",
    "* ",
    "\t",
    "\\",
    "&&",
    "||",
    "|",
    ";",
    "&",
    "<!-- labrun: ",
    "-->",
    "// labrun: ",
    "skip",
    "illustrative",
    "timeout=5s",
    "exit=3",
    "commands=2",
    "retry",
    "no-retry",
    "until-seen",
    "background",
    "timeout=99999999999999h",
    "exit=-1",
    "{{< text bash >}}",
    "{{< /text >}}",
    "{{< highlight console >}}",
    "{{< /highlight >}}",
    "{{% codeFromInline lang=\"bash\" %}}",
    "{{% /codeFromInline %}}",
    "@samples/a.yaml@",
    "= Title",
    "== Section",
    "=== Sub",
    "[source,bash]",
    "[source,console]",
    "----",
    "....",
    "====",
    "****",
    "|===",
    "++++",
    "////",
    "include::other.adoc[]",
    ":attr: v",
    "{attr}",
    "<<EOF",
    "<<-'EOF'",
    "EOF",
    "'",
    "\"",
    "$(",
    ")",
    "`",
    "${X:-",
    "}",
    "(( ",
    " ))",
    "for i in 1 2; do",
    "done",
    "if true; then",
    "fi",
    "case x in",
    "esac",
    "while read l; do",
    "kubectl get pods -A -o wide",
    "kubectl exec -it pod -- sh",
    "docker exec node ip a",
    "ip netns exec ns1 ping -c1 10.0.0.2",
    "ping 10.0.0.2",
    "curl -s http://10.96.0.1:80/",
    "root@node:/# ",
    "[root@host ~]# ",
    "PS C:\\> ",
    "> ",
    "NAME=$(kubectl get x)",
    "alias k=kubectl",
    "f() { echo; }",
    "NAME   READY   STATUS",
    "pod-7d9f8-xk2lp   1/1   Running",
    "10.244.1.5",
    "fe80::1%eth0",
    "2001:db8::1/64",
    "02:42:ac:11:00:02",
    "veth1a2b3c@if4",
    "5m32s",
    "2026-12-02T04:54:35Z",
    "time=0.042 ms",
    "KUBE-SVC-ABCDEFGHIJKLMNOP",
    "3f2a9c1e0b4d",
    "123e4567-e89b-12d3-a456-426614174000",
    ":32768",
    "kind-worker2",
    "{\"step\":\"a/1\",\"command\":\"x\",\"stdout\":\"",
    "\",\"stderr\":\"\",\"exit_code\":0,\"duration_ms\":1}",
    "=== a/1",
    "command: echo",
    "command+ more",
    "origin: run",
    "origin: document (not yet verified)",
    "exit: 0",
    "| line",
    "|",
    "# document: d.md",
    "# run: sha256:00",
    "\u{feff}",
    "\r",
    "é",
    "日本",
    "\u{200b}",
    "\u{1b}[2J",
    "\u{0}",
    "\u{ffff}",
    "🙂",
];

/// Real documents to mutate.
pub fn seeds(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |dir: &Path| {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if matches!(ext, "md" | "adoc" | "jsonl" | "snap" | "txt")
                && let Ok(text) = std::fs::read_to_string(&p)
            {
                out.push((ext.to_string(), text));
            }
        }
    };
    add(&root.join("tests/corpus"));
    add(&root.join("book/src"));
    add(&root.join("snapshots/book/src"));
    add(&root.join("tests/fixtures/normalize"));
    out
}

/// One generated input.
pub struct Input {
    pub target: Target,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Markdown,
    AsciiDoc,
    Normalizer,
    RunFile,
    Snapshot,
}

pub const TARGETS: [Target; 5] = [
    Target::Markdown,
    Target::AsciiDoc,
    Target::Normalizer,
    Target::RunFile,
    Target::Snapshot,
];

fn fragments(rng: &mut Rng, n: usize) -> String {
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick(FRAGMENTS));
        match rng.below(4) {
            0 => s.push('\n'),
            1 => s.push(' '),
            _ => {}
        }
    }
    s
}

/// Mutate `text` a few times, keeping it UTF-8 (edits at character boundaries).
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(s.len() + 1);
        match rng.below(5) {
            0 => {
                let n = 1 + rng.below(3);
                let f: Vec<char> = fragments(rng, n).chars().collect();
                s.splice(at..at, f);
            }
            1 => {
                let end = (at + rng.below(200)).min(s.len());
                s.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(400)).min(s.len());
                let copy: Vec<char> = s[at..end].to_vec();
                s.splice(at..at, copy);
            }
            3 if !s.is_empty() => {
                let other = rng.below(s.len());
                let at = at.min(s.len() - 1);
                s.swap(at, other);
            }
            _ => s.insert(at, '\n'),
        }
    }
    s.into_iter().collect()
}

/// The `i`-th input of the run seeded `seed`: the same pair always gives the same input.
pub fn input(seed: u64, i: u64, seeds: &[(String, String)]) -> Input {
    let mut rng = Rng::new(seed ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let target = TARGETS[(i % TARGETS.len() as u64) as usize];
    let wanted = match target {
        Target::Markdown => "md",
        Target::AsciiDoc => "adoc",
        Target::Normalizer => "txt",
        Target::RunFile => "jsonl",
        Target::Snapshot => "snap",
    };
    let base: Vec<&String> = seeds
        .iter()
        .filter(|(e, _)| e == wanted)
        .map(|(_, t)| t)
        .collect();
    let text = if base.is_empty() || rng.below(3) == 0 {
        let n = 1 + rng.below(60);
        fragments(&mut rng, n)
    } else {
        let t = base[rng.below(base.len())];
        // a window of a long seed keeps the inputs small and fast
        let chars: Vec<char> = t.chars().collect();
        let start = rng.below(chars.len().saturating_sub(2000) + 1);
        let window: String = chars[start..(start + 4000).min(chars.len())]
            .iter()
            .collect();
        mutate(&mut rng, &window)
    };
    Input { target, text }
}

/// Feed one input to its target. Errors are answers, not findings; a panic is.
pub fn feed(norm: &labrun::normalize::Normalizer, input: &Input) {
    match input.target {
        Target::Markdown | Target::AsciiDoc => {
            let name = if input.target == Target::Markdown {
                "fuzz.md"
            } else {
                "fuzz.adoc"
            };
            if let Ok(doc) = labrun::document::parse(Path::new(name), input.text.clone()) {
                let steps = labrun::steps::split(&doc);
                let _ = labrun::steps::split_checked(&doc);
                let _ = labrun::steps::explain(&doc);
                let _ = labrun::steps::warnings(&doc, &steps);
            }
        }
        Target::Normalizer => {
            let command = input.text.lines().next().unwrap_or("");
            let lines = norm.lines(&input.text, command);
            let _ = norm.render(&lines, &mut labrun::normalize::Labels::default());
        }
        Target::RunFile => {
            let _ = labrun::record::parse(Path::new("fuzz.jsonl"), &input.text);
        }
        Target::Snapshot => {
            let _ = labrun::snapshot::Snapshot::parse(Path::new("fuzz.snap"), &input.text);
        }
    }
}

/// What a run found.
#[derive(Default)]
pub struct Tally {
    pub inputs: u64,
    pub per_target: [u64; 5],
    pub panics: Vec<(u64, String)>,
    pub slowest: (Duration, u64),
}

/// Inputs `from..to` of the run seeded `seed`.
#[allow(dead_code)] // the short run's; the long one is watched
pub fn run(seed: u64, from: u64, to: u64, seeds: &[(String, String)]) -> Tally {
    run_watched(seed, from, to, seeds, &std::sync::atomic::AtomicU64::new(0))
}

/// [`run`], storing the index of the input being fed in `current` (for a watchdog).
pub fn run_watched(
    seed: u64,
    from: u64,
    to: u64,
    seeds: &[(String, String)],
    current: &std::sync::atomic::AtomicU64,
) -> Tally {
    let norm = labrun::normalize::Normalizer::default();
    let mut tally = Tally::default();
    for i in from..to {
        current.store(i, std::sync::atomic::Ordering::Relaxed);
        let input = input(seed, i, seeds);
        let started = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| feed(&norm, &input)));
        let took = started.elapsed();
        if took > tally.slowest.0 {
            tally.slowest = (took, i);
        }
        if let Err(p) = r {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            tally.panics.push((i, what));
        }
        tally.inputs += 1;
        tally.per_target[(i % TARGETS.len() as u64) as usize] += 1;
    }
    tally
}
