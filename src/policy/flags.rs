//! Which flags of the cluster programs take a value: the one table the policy (what a command
//! does) and the kind guard (what it targets) read words by. In: a program's name. Out: its
//! one-letter flags that take a value and its long ones that do.
//!
//! pflag (kubectl, kind, helm) and the docker CLI read a group `-abc` as booleans until the
//! first letter that takes a value, which takes the rest of the group or the next word:
//! `kubectl -As URL` is `-A -s URL`, `kind -qn prod` is `-q -n prod`. A long flag that takes a
//! value takes `--flag value` or `--flag=value`.

/// A program's value-taking flags.
pub struct ValueFlags {
    pub program: &'static str,
    /// One-letter flags that take a value.
    pub short: &'static str,
    /// Long flags that take a value (only those the readers need: kind's, global and per
    /// command, which can stand before its verb).
    pub long: &'static [&'static str],
}

/// The table. A program not listed has its short flags read one at a time and no long flag
/// taking a separate value.
pub const VALUE_FLAGS: &[ValueFlags] = &[
    ValueFlags {
        program: "kubectl",
        short: "cfklLnops",
        long: &[],
    },
    ValueFlags {
        program: "oc",
        short: "cfklLnops",
        long: &[],
    },
    ValueFlags {
        program: "helm",
        short: "fno",
        long: &[],
    },
    ValueFlags {
        program: "kind",
        short: "nv",
        long: &[
            "--loglevel",
            "--verbosity",
            "--name",
            "--config",
            "--image",
            "--kubeconfig",
            "--wait",
            "--nodes",
        ],
    },
    ValueFlags {
        program: "docker",
        short: "cHl",
        long: &[],
    },
    ValueFlags {
        program: "istioctl",
        short: "cino",
        long: &[],
    },
];

/// The row of `program`, if listed.
pub fn of(program: &str) -> Option<&'static ValueFlags> {
    VALUE_FLAGS.iter().find(|f| f.program == program)
}

/// `program`'s one-letter flags that take a value (none when not listed).
pub fn short(program: &str) -> &'static str {
    of(program).map_or("", |f| f.short)
}

/// `program`'s long flags that take a value (none when not listed).
pub fn long(program: &str) -> &'static [&'static str] {
    of(program).map_or(&[], |f| f.long)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_a_program_with_flags_as_pflag_writes_them() {
        for f in VALUE_FLAGS {
            assert!(
                f.short.chars().all(|c| c.is_ascii_alphabetic()),
                "{}",
                f.program
            );
            assert!(
                f.long.iter().all(|l| l.starts_with("--") && l.len() > 3),
                "{}",
                f.program
            );
            // one row per program
            let rows = VALUE_FLAGS
                .iter()
                .filter(|g| g.program == f.program)
                .count();
            assert_eq!(rows, 1, "{}", f.program);
        }
        assert_eq!(short("kind"), "nv");
        assert!(long("kind").contains(&"--name"));
        assert_eq!(short("ls"), "");
    }
}
