//! The programs that run another program: wrappers (`env`, `sudo`, `timeout`, `xargs`, …,
//! the [`WRAPPERS`] table), shells given a script (`bash -c`, a here-document fed to `sh`),
//! `eval`, `watch`, aliases and `ip netns exec`. In: a simple command the walker found. Out:
//! the command it runs, as a simple command of its own with the environment the wrapper gave
//! it, walked in turn.

use super::{Simple, Walker, Word, is_name, literal};

/// How to find the command a wrapper program runs: skip its options (those in `takes_value`
/// consume the next word), then `positional` words of its own.
pub struct Wrapper {
    pub program: &'static str,
    pub takes_value: &'static [&'static str],
    pub positional: usize,
}

/// Programs that run another program given as their arguments. `env`, `sudo` and `exec` also
/// change its environment (see [`simple_commands`]); `xargs` appends arguments it reads.
pub const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        program: "env",
        takes_value: &["-u", "--unset", "-C", "--chdir", "-S", "--split-string"],
        positional: 0,
    },
    Wrapper {
        program: "sudo",
        takes_value: &[
            "-u",
            "--user",
            "-g",
            "--group",
            "-h",
            "--host",
            "-p",
            "--prompt",
            "-C",
            "--close-from",
            "-D",
            "--chdir",
            "-r",
            "--role",
            "-t",
            "--type",
            "-U",
            "--other-user",
            "-T",
            "--command-timeout",
        ],
        positional: 0,
    },
    Wrapper {
        program: "doas",
        takes_value: &["-u", "-C"],
        positional: 0,
    },
    Wrapper {
        program: "exec",
        takes_value: &["-a"],
        positional: 0,
    },
    Wrapper {
        program: "command",
        takes_value: &[],
        positional: 0,
    },
    Wrapper {
        program: "builtin",
        takes_value: &[],
        positional: 0,
    },
    Wrapper {
        program: "time",
        takes_value: &["-f", "--format", "-o", "--output"],
        positional: 0,
    },
    Wrapper {
        program: "nohup",
        takes_value: &[],
        positional: 0,
    },
    Wrapper {
        program: "timeout",
        takes_value: &["-s", "--signal", "-k", "--kill-after"],
        positional: 1,
    },
    Wrapper {
        program: "nice",
        takes_value: &["-n", "--adjustment"],
        positional: 0,
    },
    Wrapper {
        program: "ionice",
        takes_value: &["-c", "--class", "-n", "--classdata"],
        positional: 0,
    },
    Wrapper {
        program: "stdbuf",
        takes_value: &["-i", "-o", "-e", "--input", "--output", "--error"],
        positional: 0,
    },
    Wrapper {
        program: "setsid",
        takes_value: &[],
        positional: 0,
    },
    Wrapper {
        program: "unbuffer",
        takes_value: &[],
        positional: 0,
    },
    Wrapper {
        program: "chroot",
        takes_value: &["--userspec", "--groups"],
        positional: 1,
    },
    Wrapper {
        program: "nsenter",
        takes_value: &[
            "-t", "--target", "-S", "--setuid", "-G", "--setgid", "-w", "--wd",
        ],
        positional: 0,
    },
    Wrapper {
        program: "xargs",
        takes_value: &[
            "-I",
            "-n",
            "--max-args",
            "-L",
            "--max-lines",
            "-P",
            "--max-procs",
            "-d",
            "--delimiter",
            "-E",
            "-s",
            "--max-chars",
            "-a",
            "--arg-file",
        ],
        positional: 0,
    },
    Wrapper {
        program: "watch",
        takes_value: &["-n", "--interval", "-d", "-q", "--equexit"],
        positional: 0,
    },
];

/// Programs that run a script given with `-c`, or read from standard input.
pub const SHELLS: &[&str] = &["bash", "sh", "dash", "zsh", "ash", "ksh", "mksh"];

impl Walker {
    /// The command a wrapper, a shell or `eval` runs, as commands of their own.
    pub(super) fn inner(&mut self, sc: &Simple, stdin: Option<&str>) -> Result<(), String> {
        let Some(program) = sc.program() else {
            return Ok(());
        };
        let args = sc.args();
        let mut env = Simple {
            assignments: sc.assignments.clone(),
            env_cleared: sc.env_cleared,
            env_removed: sc.env_removed.clone(),
            ..Simple::default()
        };
        if SHELLS.contains(&program) {
            return match shell_script(args)? {
                ShellScript::Text(t) => self.script(&t, &env, Some("a `sh -c` script")),
                ShellScript::Stdin => match stdin {
                    Some(t) => self.script(t, &env, Some("a script fed to a shell")),
                    None => Ok(()),
                },
                ShellScript::File => Ok(()),
            };
        }
        match program {
            "eval" => {
                let text = literal_join(args, "eval")?;
                return self.script(&text, &env, Some("`eval`"));
            }
            "alias" => {
                for a in args {
                    if let Some((_, value)) = a.text().split_once('=') {
                        self.script(value, &env, Some("an alias"))?;
                    }
                }
                return Ok(());
            }
            "ip" => {
                // `ip [-n NS] netns exec NS COMMAND …`
                let texts: Vec<&str> = args.iter().map(Word::text).collect();
                if let Some(i) = texts.windows(2).position(|w| w == ["netns", "exec"])
                    && args.len() > i + 3
                {
                    env.words = args[i + 3..].to_vec();
                    env.within = Some("`ip netns exec`");
                    return self.nested(env, stdin);
                }
                return Ok(());
            }
            _ => {}
        }
        let Some(wrapper) = WRAPPERS.iter().find(|w| w.program == program) else {
            return Ok(());
        };
        if program == "command" && args.iter().any(|a| matches!(a.text(), "-v" | "-V")) {
            return Ok(()); // only looks the name up
        }
        let mut i = 0;
        let mut exec_watch = false;
        while let Some(a) = args.get(i).and_then(|a| a.literal.as_deref()) {
            if a == "--" {
                i += 1;
                break;
            }
            if !a.starts_with('-') || a.len() == 1 {
                if (program == "env" || program == "sudo")
                    && let Some((name, value)) = a.split_once('=')
                    && is_name(name)
                {
                    env.assignments.push((name.to_string(), literal(value)));
                    i += 1;
                    continue;
                }
                break;
            }
            match (program, a) {
                ("env", "-i" | "--ignore-environment") => env.env_cleared = Some("`env -i`"),
                ("env", "-u" | "--unset") => {
                    if let Some(n) = args.get(i + 1) {
                        env.env_removed.push(n.text().to_string());
                    }
                }
                ("env", "-S" | "--split-string") => {
                    let rest = args.get(i + 1..).unwrap_or(&[]);
                    let text = literal_join(rest, "env -S")?;
                    return self.script(&text, &env, Some("`env -S`"));
                }
                ("exec", "-c") => env.env_cleared = Some("`exec -c`"),
                ("sudo", "-E") => {}
                ("watch", "-x" | "--exec") => exec_watch = true,
                _ => {}
            }
            if let Some(u) = a.strip_prefix("--unset=").filter(|_| program == "env") {
                env.env_removed.push(u.to_string());
            }
            i += if wrapper.takes_value.contains(&a) {
                2
            } else {
                1
            };
        }
        if program == "env" && args.first().is_some_and(|a| a.text() == "-") {
            env.env_cleared = Some("`env -`");
        }
        if program == "sudo"
            && !args
                .iter()
                .any(|a| a.text() == "-E" || a.text().starts_with("--preserve-env"))
        {
            // sudo's env_reset: the command gets a fresh environment, not the session's.
            env.env_cleared = Some("`sudo` (it resets the environment)");
        }
        i += wrapper.positional;
        let rest = args.get(i..).unwrap_or(&[]);
        if rest.is_empty() {
            return Ok(());
        }
        if program == "watch" && !exec_watch {
            let text = literal_join(rest, "watch")?;
            return self.script(&text, &env, Some("`watch`"));
        }
        env.words = rest.to_vec();
        env.open_ended = program == "xargs";
        env.within = Some(wrapper.program);
        self.nested(env, stdin)
    }

    /// List the command a wrapper runs, then what it runs in turn.
    fn nested(&mut self, env: Simple, stdin: Option<&str>) -> Result<(), String> {
        let at = self.out.len();
        self.out.push(env.clone());
        self.inner(&env, stdin)?;
        if self.out.len() > at + 1 {
            self.out[at].wraps = true;
        }
        Ok(())
    }
}

enum ShellScript {
    Text(String),
    Stdin,
    File,
}

/// What a shell runs: `-c SCRIPT`, a script file, or standard input.
fn shell_script(args: &[Word]) -> Result<ShellScript, String> {
    let mut i = 0;
    let mut dash_c = false;
    while let Some(a) = args.get(i) {
        let t = a.text();
        if t == "-o" || t == "+o" {
            i += 2;
            continue;
        }
        if t == "--" {
            i += 1;
            break;
        }
        if (t.starts_with('-') || t.starts_with('+')) && t.len() > 1 && a.literal.is_some() {
            if !t.starts_with("--") && t.contains('c') {
                dash_c = true;
            }
            i += 1;
            continue;
        }
        break;
    }
    match (dash_c, args.get(i)) {
        (true, Some(w)) => match &w.literal {
            Some(t) => Ok(ShellScript::Text(t.clone())),
            None => Err(format!(
                "a shell runs `{}`, a script labrun cannot read before it runs",
                w.raw
            )),
        },
        (true, None) | (false, None) => Ok(ShellScript::Stdin),
        (false, Some(_)) => Ok(ShellScript::File),
    }
}

/// Words joined with spaces, as `eval` and `watch` join them; every word must be literal.
fn literal_join(words: &[Word], what: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(words.len());
    for w in words {
        match &w.literal {
            Some(t) => out.push(t.as_str()),
            None => {
                return Err(format!(
                    "{what} runs `{}`, text labrun cannot read before it runs",
                    w.raw
                ));
            }
        }
    }
    Ok(out.join(" "))
}
