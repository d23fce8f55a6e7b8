//! A step's text as bash reads it: every simple command it would run.
//!
//! In: a command as the document writes it (bindings applied). Out: the [`Simple`] commands in
//! it — the environment assignments in front of a program, the program and its arguments —
//! found by a real bash parser (brush-parser) wherever they sit: pipelines and lists, loops,
//! conditionals, functions, subshells, command and process substitutions, here-documents that
//! expand, the scripts of `bash -c`/`sh -c`/`eval`/`watch`, a here-document fed to a shell,
//! alias values, and the command behind a wrapper (`env`, `sudo`, `timeout`, `xargs`, … — the
//! [`WRAPPERS`] table). A wrapper and the command it runs are both listed; the inner one
//! carries what the wrapper did to its environment. Text bash would not parse, or an expansion
//! whose inside labrun cannot see, is an error: callers refuse, they never guess.

mod wrappers;

pub use wrappers::{SHELLS, WRAPPERS, Wrapper};

use brush_parser::ast;
use brush_parser::word::{ParameterExpr, WordPiece, WordPieceWithSource};

/// A word of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// As written, quotes included.
    pub raw: String,
    /// What bash passes to the program, when no expansion is involved (quotes removed).
    pub literal: Option<String>,
}

impl Word {
    /// The literal text, else the text as written.
    pub fn text(&self) -> &str {
        self.literal.as_deref().unwrap_or(&self.raw)
    }
}

/// One simple command: `NAME=value … program arg …`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Simple {
    /// Assignments in front of the program, or given to a wrapper (`env NAME=value`), in
    /// order; with no program, shell variable assignments.
    pub assignments: Vec<(String, Word)>,
    /// The program and its arguments.
    pub words: Vec<Word>,
    /// The environment it runs in was emptied, and by what (`env -i`, `exec -c`, `sudo`).
    pub env_cleared: Option<&'static str>,
    /// Variables removed from its environment (`env -u NAME`).
    pub env_removed: Vec<String>,
    /// Arguments the text does not show are appended (`xargs` appends what it reads).
    pub open_ended: bool,
    /// Where it was found, when not at the top of the step: `bash -c`, `$( … )`, `sudo`, ….
    pub within: Option<&'static str>,
    /// It runs another command that is listed after it (a wrapper given a command, a shell
    /// given a script, `eval`, `ip netns exec`): what it does is what that one does.
    pub wraps: bool,
    /// The files its output redirections write (`> f`, `>> f`, `&> f`), as written.
    pub writes: Vec<String>,
    /// At the top of the step: its pipeline (0-based, in order) and its place in that
    /// pipeline; a command inside a loop or group at the top gets the loop's place.
    pub place: Option<(usize, usize)>,
}

impl Simple {
    /// The program's file name (`/usr/bin/kubectl` → `kubectl`), when written literally.
    pub fn program(&self) -> Option<&str> {
        let w = self.words.first()?.literal.as_deref()?;
        Some(w.rsplit('/').next().unwrap_or(w))
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[Word] {
        self.words.get(1..).unwrap_or(&[])
    }
}

/// Nested scripts deeper than this are refused rather than followed.
const MAX_DEPTH: usize = 24;

/// A step's text as bash reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Every simple command, outermost first within each command.
    pub commands: Vec<Simple>,
    /// Every file an output redirection writes, on a simple command or a compound one
    /// (`for …; done > f`), as written.
    pub writes: Vec<String>,
    /// The step's last command ends in `&`: bash starts it in the background.
    pub background: bool,
}

/// [`parse`] of `text`, shared: the policy asks several questions of one step's command
/// (read-only? changes the cluster? unbounded? which cluster?) and each gets the one reading.
/// The last few readings are kept per thread.
pub fn reading(text: &str) -> Result<std::rc::Rc<Parsed>, String> {
    use std::cell::RefCell;
    use std::rc::Rc;
    type Kept = Vec<(String, Result<Rc<Parsed>, String>)>;
    const KEEP: usize = 8;
    thread_local!(static READ: RefCell<Kept> = const { RefCell::new(Vec::new()) });
    if let Some(hit) = READ.with(|r| {
        r.borrow()
            .iter()
            .find(|(t, _)| t == text)
            .map(|(_, p)| p.clone())
    }) {
        return hit;
    }
    let read = parse(text).map(Rc::new);
    READ.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() == KEEP {
            drop(r.remove(0));
        }
        r.push((text.to_string(), read.clone()));
    });
    read
}

/// Every simple command `text` would run, outermost first within each command.
pub fn simple_commands(text: &str) -> Result<Vec<Simple>, String> {
    parse(text).map(|p| p.commands)
}

/// `text` as bash reads it: its commands, the files it writes, whether it runs in the
/// background.
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut w = Walker {
        out: Vec::new(),
        depth: 0,
        options: brush_parser::ParserOptions::default(),
        writes: Vec::new(),
        top: None,
        pipelines: 0,
        background: false,
    };
    w.script(text, &Simple::default(), None)?;
    Ok(Parsed {
        commands: w.out,
        writes: w.writes,
        background: w.background,
    })
}

struct Walker {
    out: Vec<Simple>,
    depth: usize,
    options: brush_parser::ParserOptions,
    /// Output redirection targets met so far.
    writes: Vec<String>,
    /// The place of the top-level pipeline stage being walked.
    top: Option<(usize, usize)>,
    /// Top-level pipelines met so far.
    pipelines: usize,
    background: bool,
}

/// The environment a nested command inherits: assignments and clearings of its wrappers.
type Env = Simple;

impl Walker {
    fn script(
        &mut self,
        text: &str,
        env: &Env,
        within: Option<&'static str>,
    ) -> Result<(), String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("scripts nested more than {MAX_DEPTH} deep"));
        }
        self.depth += 1;
        let program = brush_parser::Parser::new(text.as_bytes(), &self.options)
            .parse_program()
            .map_err(|e| format!("bash cannot parse `{}`: {e}", first_line(text)))?;
        let result = program
            .complete_commands
            .iter()
            .try_for_each(|c| self.list(c, env, within));
        self.depth -= 1;
        result
    }

    fn list(
        &mut self,
        list: &ast::CompoundList,
        env: &Env,
        within: Option<&'static str>,
    ) -> Result<(), String> {
        let top = self.depth == 1 && within.is_none() && self.top.is_none();
        for item in &list.0 {
            let and_or = &item.0;
            self.pipeline(&and_or.first, env, within, top)?;
            for next in &and_or.additional {
                let (ast::AndOr::And(p) | ast::AndOr::Or(p)) = next;
                self.pipeline(p, env, within, top)?;
            }
            if top {
                self.background = matches!(item.1, ast::SeparatorOperator::Async);
            }
        }
        Ok(())
    }

    fn pipeline(
        &mut self,
        p: &ast::Pipeline,
        env: &Env,
        within: Option<&'static str>,
        top: bool,
    ) -> Result<(), String> {
        for (stage, c) in p.seq.iter().enumerate() {
            if top {
                self.top = Some((self.pipelines, stage));
            }
            self.command(c, env, within)?;
        }
        if top {
            self.top = None;
            self.pipelines += 1;
        }
        Ok(())
    }

    fn command(
        &mut self,
        c: &ast::Command,
        env: &Env,
        within: Option<&'static str>,
    ) -> Result<(), String> {
        match c {
            ast::Command::Simple(s) => self.simple(s, env, within),
            ast::Command::Compound(c, redirects) => {
                self.compound(c, env, within)?;
                self.redirects(redirects.as_ref(), env)
            }
            ast::Command::Function(f) => {
                self.compound(&f.body.0, env, within)?;
                self.redirects(f.body.1.as_ref(), env)
            }
            ast::Command::ExtendedTest(t, redirects) => {
                self.test(&t.expr, env)?;
                self.redirects(redirects.as_ref(), env)
            }
        }
    }

    fn compound(
        &mut self,
        c: &ast::CompoundCommand,
        env: &Env,
        within: Option<&'static str>,
    ) -> Result<(), String> {
        use ast::CompoundCommand as C;
        match c {
            C::Arithmetic(a) => self.arithmetic(&a.expr.value, env),
            C::ArithmeticForClause(a) => {
                for e in [&a.initializer, &a.condition, &a.updater]
                    .into_iter()
                    .flatten()
                {
                    self.arithmetic(&e.value, env)?;
                }
                self.list(&a.body.list, env, within)
            }
            C::BraceGroup(b) => self.list(&b.list, env, within),
            C::Subshell(s) => self.list(&s.list, env, within),
            C::ForClause(f) => {
                for w in f.values.iter().flatten() {
                    self.word(w, env)?;
                }
                self.list(&f.body.list, env, within)
            }
            C::CaseClause(c) => {
                self.word(&c.value, env)?;
                for item in &c.cases {
                    for p in &item.patterns {
                        self.word(p, env)?;
                    }
                    if let Some(cmd) = &item.cmd {
                        self.list(cmd, env, within)?;
                    }
                }
                Ok(())
            }
            C::IfClause(i) => {
                self.list(&i.condition, env, within)?;
                self.list(&i.then, env, within)?;
                for e in i.elses.iter().flatten() {
                    if let Some(c) = &e.condition {
                        self.list(c, env, within)?;
                    }
                    self.list(&e.body, env, within)?;
                }
                Ok(())
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                self.list(&w.0, env, within)?;
                self.list(&w.1.list, env, within)
            }
            C::Coprocess(c) => self.command(&c.body, env, within),
        }
    }

    fn test(&mut self, t: &ast::ExtendedTestExpr, env: &Env) -> Result<(), String> {
        use ast::ExtendedTestExpr as T;
        match t {
            T::And(a, b) | T::Or(a, b) => {
                self.test(a, env)?;
                self.test(b, env)
            }
            T::Not(a) | T::Parenthesized(a) => self.test(a, env),
            T::UnaryTest(_, w) => self.word(w, env).map(drop),
            T::BinaryTest(_, a, b) => {
                self.word(a, env)?;
                self.word(b, env).map(drop)
            }
        }
    }

    fn redirects(&mut self, r: Option<&ast::RedirectList>, env: &Env) -> Result<(), String> {
        for r in r.iter().flat_map(|r| r.0.iter()) {
            self.redirect(r, env)?;
        }
        Ok(())
    }

    /// A redirection's words; the text it feeds as standard input, when it is written out.
    fn redirect(&mut self, r: &ast::IoRedirect, env: &Env) -> Result<Option<String>, String> {
        use ast::IoFileRedirectKind as K;
        use ast::{IoFileRedirectTarget as T, IoRedirect as R};
        match r {
            R::File(_, K::Write | K::Append | K::Clobber | K::ReadAndWrite, T::Filename(w)) => {
                self.writes.push(w.value.clone());
                self.word(w, env).map(|_| None)
            }
            R::OutputAndError(w, _) => {
                self.writes.push(w.value.clone());
                self.word(w, env).map(|_| None)
            }
            R::File(_, _, T::Filename(w) | T::Duplicate(w)) => self.word(w, env).map(|_| None),
            R::File(_, _, T::ProcessSubstitution(_, s)) => self
                .list(&s.list, env, Some("a process substitution"))
                .map(|_| None),
            R::File(_, _, T::Fd(_)) => Ok(None),
            R::HereString(_, w) => Ok(self.word(w, env)?.literal),
            R::HereDocument(_, h) => {
                if h.requires_expansion {
                    let pieces = brush_parser::word::parse_heredoc(&h.doc.value, &self.options)
                        .map_err(|e| format!("a here-document labrun cannot read: {e}"))?;
                    return self.pieces(&pieces, &h.doc.value, env);
                }
                Ok(Some(h.doc.value.clone()))
            }
        }
    }

    fn simple(
        &mut self,
        s: &ast::SimpleCommand,
        env: &Env,
        within: Option<&'static str>,
    ) -> Result<(), String> {
        use ast::CommandPrefixOrSuffixItem as I;
        let mut sc = Simple {
            within,
            place: if within.is_none() { self.top } else { None },
            ..env.clone()
        };
        sc.words.clear();
        sc.open_ended = false;
        sc.wraps = false;
        let writes_before = self.writes.len();
        let mut stdin = None;
        let items = s.prefix.iter().flat_map(|p| p.0.iter());
        for item in items {
            match item {
                I::AssignmentWord(a, _) => {
                    for (name, value) in self.assignment(a, env)? {
                        sc.assignments.push((name, value));
                    }
                }
                I::IoRedirect(r) => stdin = self.redirect(r, env)?.or(stdin),
                I::Word(w) => sc.words.push(self.word(w, env)?),
                I::ProcessSubstitution(_, sub) => {
                    self.list(&sub.list, env, Some("a process substitution"))?
                }
            }
        }
        if let Some(w) = &s.word_or_name {
            sc.words.push(self.word(w, env)?);
        }
        for item in s.suffix.iter().flat_map(|p| p.0.iter()) {
            match item {
                I::Word(w) | I::AssignmentWord(_, w) => sc.words.push(self.word(w, env)?),
                I::IoRedirect(r) => stdin = self.redirect(r, env)?.or(stdin),
                I::ProcessSubstitution(_, sub) => {
                    self.list(&sub.list, env, Some("a process substitution"))?
                }
            }
        }
        sc.writes = self.writes[writes_before..].to_vec();
        let at = self.out.len();
        self.out.push(sc.clone());
        self.inner(&sc, stdin.as_deref())?;
        if self.out.len() > at + 1 {
            self.out[at].wraps = true;
        }
        Ok(())
    }

    fn assignment(
        &mut self,
        a: &ast::Assignment,
        env: &Env,
    ) -> Result<Vec<(String, Word)>, String> {
        let name = match &a.name {
            ast::AssignmentName::VariableName(n) | ast::AssignmentName::ArrayElementName(n, _) => {
                n.clone()
            }
        };
        match &a.value {
            ast::AssignmentValue::Scalar(w) => Ok(vec![(name, self.word(w, env)?)]),
            ast::AssignmentValue::Array(items) => items
                .iter()
                .map(|(_, w)| Ok((name.clone(), self.word(w, env)?)))
                .collect(),
        }
    }

    fn word(&mut self, w: &ast::Word, env: &Env) -> Result<Word, String> {
        let pieces = brush_parser::word::parse(&w.value, &self.options)
            .map_err(|e| format!("bash cannot read the word `{}`: {e}", w.value))?;
        Ok(Word {
            raw: w.value.clone(),
            literal: self.pieces(&pieces, &w.value, env)?,
        })
    }

    /// Walk a word's pieces for the commands they run; the literal text when there is no
    /// expansion.
    fn pieces(
        &mut self,
        pieces: &[WordPieceWithSource],
        raw: &str,
        env: &Env,
    ) -> Result<Option<String>, String> {
        let mut lit = Some(String::new());
        let push = |lit: &mut Option<String>, s: &str| {
            if let Some(l) = lit {
                l.push_str(s);
            }
        };
        let shell = Simple {
            assignments: Vec::new(),
            ..env.clone()
        };
        for p in pieces {
            match &p.piece {
                WordPiece::Text(t) | WordPiece::SingleQuotedText(t) => push(&mut lit, t),
                WordPiece::EscapeSequence(e) => push(&mut lit, e.strip_prefix('\\').unwrap_or(e)),
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    let inner_raw = raw.get(p.start_index..p.end_index).unwrap_or(raw);
                    match self.pieces(inner, inner_raw, env)? {
                        Some(t) => push(&mut lit, &t),
                        None => lit = None,
                    }
                }
                // `$'…'` escapes are not interpreted here: its text is not taken as literal.
                WordPiece::AnsiCQuotedText(_) | WordPiece::TildeExpansion(_) => lit = None,
                WordPiece::ParameterExpansion(pe) => {
                    lit = None;
                    let text = raw.get(p.start_index..p.end_index).unwrap_or(raw);
                    self.parameter(pe, text, &shell)?;
                }
                WordPiece::CommandSubstitution(t) | WordPiece::BackquotedCommandSubstitution(t) => {
                    lit = None;
                    self.script(t, &shell, Some("a command substitution"))?;
                }
                WordPiece::ArithmeticExpression(a) => {
                    lit = None;
                    self.arithmetic(&a.value, &shell)?;
                }
            }
        }
        Ok(lit)
    }

    /// `${NAME:-word}` and its kin hold words of their own; `${NAME:=word}` assigns.
    fn parameter(&mut self, pe: &ParameterExpr, text: &str, env: &Env) -> Result<(), String> {
        use brush_parser::word::Parameter;
        let (inner, assigns) = match pe {
            ParameterExpr::Parameter { .. } | ParameterExpr::ParameterLength { .. } => (None, None),
            ParameterExpr::UseDefaultValues { default_value, .. } => (default_value.as_ref(), None),
            ParameterExpr::UseAlternativeValue {
                alternative_value, ..
            } => (alternative_value.as_ref(), None),
            ParameterExpr::IndicateErrorIfNullOrUnset { error_message, .. } => {
                (error_message.as_ref(), None)
            }
            ParameterExpr::AssignDefaultValues {
                parameter,
                default_value,
                ..
            } => {
                let name = match parameter {
                    Parameter::Named(n)
                    | Parameter::NamedWithIndex { name: n, .. }
                    | Parameter::NamedWithAllIndices { name: n, .. } => Some(n.clone()),
                    _ => None,
                };
                (default_value.as_ref(), name)
            }
            _ => {
                if text.contains("$(") || text.contains('`') {
                    return Err(format!(
                        "the expansion `{text}` runs a command labrun does not look inside"
                    ));
                }
                (None, None)
            }
        };
        let value = match inner {
            Some(t) => {
                let pieces = brush_parser::word::parse(t, &self.options)
                    .map_err(|e| format!("bash cannot read `{text}`: {e}"))?;
                Word {
                    raw: t.clone(),
                    literal: self.pieces(&pieces, t, env)?,
                }
            }
            None => literal(""),
        };
        if let Some(name) = assigns {
            self.out.push(Simple {
                assignments: vec![(name, value)],
                within: Some("`${NAME:=…}`"),
                ..Simple::default()
            });
        }
        Ok(())
    }

    fn arithmetic(&mut self, text: &str, env: &Env) -> Result<(), String> {
        if !(text.contains("$(") || text.contains('`')) {
            return Ok(());
        }
        let pieces = brush_parser::word::parse(text, &self.options)
            .map_err(|e| format!("bash cannot read `$(( {text} ))`: {e}"))?;
        self.pieces(&pieces, text, env).map(drop)
    }
}

fn literal(t: &str) -> Word {
    Word {
        raw: t.to_string(),
        literal: Some(t.to_string()),
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn first_line(text: &str) -> String {
    let l = text.lines().next().unwrap_or("");
    if l.chars().count() > 80 {
        format!("{}…", l.chars().take(80).collect::<String>())
    } else {
        l.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_command_is_read_once_for_every_question() {
        let a = reading("kubectl get pods | grep web").unwrap();
        let b = reading("kubectl get pods | grep web").unwrap();
        assert!(std::rc::Rc::ptr_eq(&a, &b));
        assert_eq!(*a, parse("kubectl get pods | grep web").unwrap());
        // an unreadable text is an error every time
        assert!(reading("bash -c \"$SCRIPT\"").is_err());
        assert!(reading("bash -c \"$SCRIPT\"").is_err());
    }

    /// Each simple command as its words' texts.
    fn commands(text: &str) -> Vec<Vec<String>> {
        simple_commands(text)
            .unwrap()
            .iter()
            .map(|s| s.words.iter().map(|w| w.text().to_string()).collect())
            .collect()
    }

    fn has(text: &str, words: &[&str]) -> bool {
        commands(text).iter().any(|c| c == words)
    }

    #[test]
    fn lists_pipelines_and_compound_commands() {
        let t = "kubectl get pods | grep app && for p in a b; do kubectl delete pod $p; done";
        assert!(has(t, &["kubectl", "get", "pods"]));
        assert!(has(t, &["grep", "app"]));
        assert!(has(t, &["kubectl", "delete", "pod", "$p"]));
        assert!(has(
            "if true; then kind delete cluster; fi",
            &["kind", "delete", "cluster"]
        ));
        assert!(has("while false; do helm list; done", &["helm", "list"]));
        assert!(has(
            "case x in x) kubectl get ns;; esac",
            &["kubectl", "get", "ns"]
        ));
        assert!(has("f() { kubectl get ns; }", &["kubectl", "get", "ns"]));
        assert!(has(
            "( cd /tmp && kubectl get ns )",
            &["kubectl", "get", "ns"]
        ));
        assert!(has("{ kubectl get ns; }", &["kubectl", "get", "ns"]));
        assert!(has("[[ -n $(kubectl get ns) ]]", &["kubectl", "get", "ns"]));
    }

    #[test]
    fn substitutions_are_followed() {
        assert!(has("echo $(kubectl get ns)", &["kubectl", "get", "ns"]));
        assert!(has(
            "echo \"`kind get clusters`\"",
            &["kind", "get", "clusters"]
        ));
        assert!(has("diff <(kubectl get ns) b", &["kubectl", "get", "ns"]));
        assert!(has("X=$(helm list) true", &["helm", "list"]));
        assert!(has(
            "echo ${X:-$(kubectl get ns)}",
            &["kubectl", "get", "ns"]
        ));
        assert!(has(
            "echo $(( $(kubectl get ns | wc -l) + 1 ))",
            &["kubectl", "get", "ns"]
        ));
        assert!(has(
            "cat <<EOF\n$(kubectl get ns)\nEOF",
            &["kubectl", "get", "ns"]
        ));
        // a quoted here-document does not expand: its text is data
        assert!(!has(
            "cat <<'EOF'\n$(kubectl get ns)\nEOF",
            &["kubectl", "get", "ns"]
        ));
    }

    #[test]
    fn shells_eval_watch_and_aliases_are_read() {
        assert!(has("bash -c 'kubectl get ns'", &["kubectl", "get", "ns"]));
        assert!(has(
            "sh -ec \"kind delete cluster\"",
            &["kind", "delete", "cluster"]
        ));
        assert!(has(
            "bash <<EOF\nkubectl get ns\nEOF",
            &["kubectl", "get", "ns"]
        ));
        assert!(has("bash <<< 'kubectl get ns'", &["kubectl", "get", "ns"]));
        assert!(has("eval kubectl get ns", &["kubectl", "get", "ns"]));
        assert!(has("watch -n1 kubectl get ns", &["kubectl", "get", "ns"]));
        assert!(has("watch -x kubectl get ns", &["kubectl", "get", "ns"]));
        assert!(has(
            "alias k='kubectl --context prod'",
            &["kubectl", "--context", "prod"]
        ));
        assert!(simple_commands("bash -c \"$SCRIPT\"").is_err());
        assert!(simple_commands("eval \"$CMD\"").is_err());
    }

    #[test]
    fn wrappers_run_the_command_behind_them() {
        assert!(has(
            "sudo -u root kubectl get ns",
            &["kubectl", "get", "ns"]
        ));
        assert!(has("timeout 5 kubectl get ns", &["kubectl", "get", "ns"]));
        assert!(has(
            "nohup kind create cluster &",
            &["kind", "create", "cluster"]
        ));
        assert!(has(
            "xargs -I{} kubectl delete pod {}",
            &["kubectl", "delete", "pod", "{}"]
        ));
        assert!(has(
            "ip netns exec pod1 kubectl get ns",
            &["kubectl", "get", "ns"]
        ));
        assert!(has(
            "time env A=1 nice -n 5 kubectl get ns",
            &["kubectl", "get", "ns"]
        ));
        assert!(!has("command -v kubectl", &["kubectl"]));
        let inner = |t: &str| {
            simple_commands(t)
                .unwrap()
                .into_iter()
                .find(|s| s.program() == Some("kubectl"))
                .unwrap()
        };
        let s = inner("env KUBECONFIG=/root/.kube/config kubectl get ns");
        assert_eq!(s.assignments[0].0, "KUBECONFIG");
        assert_eq!(s.assignments[0].1.text(), "/root/.kube/config");
        assert_eq!(inner("env -i kubectl get ns").env_cleared, Some("`env -i`"));
        assert_eq!(
            inner("env -u KUBECONFIG kubectl get ns").env_removed,
            ["KUBECONFIG"]
        );
        assert!(inner("sudo kubectl get ns").env_cleared.is_some());
        assert!(inner("sudo -E kubectl get ns").env_cleared.is_none());
        assert!(inner("ls | xargs kubectl delete pod").open_ended);
        // a wrapper's environment reaches a shell's script
        let s = inner("env KUBECONFIG=x bash -c 'kubectl get ns'");
        assert_eq!(s.assignments[0].0, "KUBECONFIG");
        assert_eq!(s.within, Some("a `sh -c` script"));
    }

    #[test]
    fn words_are_literal_only_without_expansions() {
        let s =
            &simple_commands("kubectl --context='kind-kind' get pod \"$P\" ~/x a\\ b").unwrap()[0];
        let lits: Vec<Option<&str>> = s.words.iter().map(|w| w.literal.as_deref()).collect();
        assert_eq!(
            lits,
            [
                Some("kubectl"),
                Some("--context=kind-kind"),
                Some("get"),
                Some("pod"),
                None,
                None,
                Some("a b")
            ]
        );
        assert_eq!(s.program(), Some("kubectl"));
        let abs = &simple_commands("/usr/local/bin/kubectl get ns").unwrap()[0];
        assert_eq!(abs.program(), Some("kubectl"));
    }

    #[test]
    fn assignments_and_assigning_expansions_are_listed() {
        let all = simple_commands("KUBECONFIG=/x; : ${KIND_CLUSTER_NAME:=other}").unwrap();
        assert_eq!(all[0].assignments[0].0, "KUBECONFIG");
        assert!(all[0].words.is_empty());
        assert!(all.iter().any(|s| {
            s.assignments
                .iter()
                .any(|(n, v)| n == "KIND_CLUSTER_NAME" && v.text() == "other")
        }));
    }

    #[test]
    fn what_bash_would_not_parse_is_an_error() {
        assert!(simple_commands("for x in; do").is_err());
        assert!(simple_commands("echo 'open").is_err());
        let mut nested = "kubectl get ns".to_string();
        for _ in 0..30 {
            nested = format!("echo $({nested})");
        }
        assert!(simple_commands(&nested).unwrap_err().contains("nested"));
    }
}
