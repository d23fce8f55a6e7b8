//! Commands that never end by themselves (the [`UNBOUNDED`] table), what bounds them, and
//! what they print only as they are interrupted. In: a command's words. Out: whether labrun
//! must end it, and how the lines it prints as it ends begin.

use super::{inner, verb};

/// A command that never ends by itself: `program` (with `verb` as its first word that is not
/// a flag, when given), unbounded always when `when` is empty, else only with one of those
/// flags; bounded again by any flag of `unless` (`ping -c 3`, `ping -w 5`, `-c3`, `--count=3`).
/// `epilogue`: how the lines it prints only as it is interrupted begin (ping's statistics):
/// labrun waits for the printed lines before them, then interrupts it.
pub struct Unbounded {
    pub program: &'static str,
    pub verb: Option<&'static str>,
    pub when: &'static [&'static str],
    pub unless: &'static [&'static str],
    pub epilogue: Option<(&'static str, &'static str)>,
}

/// The commands a person ends with Ctrl-C. Bounded whatever the table says: a command run by
/// `timeout N …`, and one piped into `head`.
pub const UNBOUNDED: &[Unbounded] = &[
    Unbounded {
        program: "ping",
        verb: None,
        when: &[],
        unless: &["-c", "-w", "--count"],
        epilogue: Some(("--- ", " ping statistics ---")),
    },
    Unbounded {
        program: "ping6",
        verb: None,
        when: &[],
        unless: &["-c", "-w", "--count"],
        epilogue: Some(("--- ", " ping statistics ---")),
    },
    Unbounded {
        program: "tcpdump",
        verb: None,
        when: &[],
        unless: &["-c"],
        epilogue: None,
    },
    Unbounded {
        program: "watch",
        verb: None,
        when: &[],
        unless: &[],
        epilogue: None,
    },
    Unbounded {
        program: "kubectl",
        verb: None,
        when: &["-w", "--watch", "--watch-only"],
        unless: &[],
        epilogue: None,
    },
    Unbounded {
        program: "kubectl",
        verb: Some("logs"),
        when: &["-f", "--follow"],
        unless: &[],
        epilogue: None,
    },
    Unbounded {
        program: "kubectl",
        verb: Some("port-forward"),
        when: &[],
        unless: &[],
        epilogue: None,
    },
    Unbounded {
        program: "docker",
        verb: Some("logs"),
        when: &["-f", "--follow"],
        unless: &[],
        epilogue: None,
    },
    Unbounded {
        program: "docker",
        verb: Some("events"),
        when: &[],
        unless: &[],
        epilogue: None,
    },
    Unbounded {
        program: "ip",
        verb: Some("monitor"),
        when: &[],
        unless: &[],
        epilogue: None,
    },
    Unbounded {
        program: "tail",
        verb: None,
        when: &["-f", "-F", "--follow"],
        unless: &[],
        epilogue: None,
    },
    Unbounded {
        program: "journalctl",
        verb: None,
        when: &["-f", "--follow"],
        unless: &[],
        epilogue: None,
    },
];

/// What a program's argument list runs in the end (a command given to `docker exec`,
/// `kubectl exec`, `sudo`, `ip netns exec` as words, not as shell text): `None` when
/// `timeout N` bounds it.
pub(super) fn innermost_words(mut w: Vec<String>) -> Option<Vec<String>> {
    loop {
        let words: Vec<&str> = w.iter().map(String::as_str).collect();
        if row(&words).is_some() {
            return Some(w);
        }
        let next = match words.as_slice() {
            ["timeout", ..] => return None,
            ["sudo", rest @ ..] => Some(rest.iter().map(|s| s.to_string()).collect()),
            ["ip", rest @ ..] => netns_exec(rest),
            ["docker" | "kubectl", rest @ ..] if verb(rest) == Some("exec") => inner(rest, "exec"),
            _ => None,
        };
        match next {
            Some(n) if !n.is_empty() => w = n,
            _ => return Some(w),
        }
    }
}

/// The command `ip [-n NS] netns exec NS COMMAND…` runs.
fn netns_exec(args: &[&str]) -> Option<Vec<String>> {
    let i = args.windows(2).position(|w| w == ["netns", "exec"])?;
    Some(args.iter().skip(i + 3).map(|s| s.to_string()).collect())
}

/// The row of [`UNBOUNDED`] the words of a simple command match.
pub(super) fn row(w: &[&str]) -> Option<&'static Unbounded> {
    let (program, args) = w.split_first()?;
    let flag = |a: &str, f: &str| {
        a == f
            || a.strip_prefix(f).is_some_and(|rest| {
                rest.starts_with('=')
                    || (!f.starts_with("--") && rest.chars().all(|c| c.is_ascii_digit()))
            })
    };
    let has = |flags: &[&str]| args.iter().any(|a| flags.iter().any(|f| flag(a, f)));
    UNBOUNDED.iter().find(|u| {
        u.program == *program
            && u.verb.is_none_or(|v| verb(args) == Some(v))
            && (u.when.is_empty() || has(u.when))
            && !has(u.unless)
    })
}
