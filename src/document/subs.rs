//! AsciiDoc substitutions a verbatim block asks for, applied as Asciidoctor applies them.
//!
//! In: a block's attribute lists (`source,bash,subs="+macros,+attributes"`), its text, and the
//! document's attribute entries above it. Out: the text a reader of the rendered page sees.
//! A listing block shows its text as written, but `subs` can add substitutions: with
//! `attributes`, `{name}` becomes the value of the attribute `name` defined above the block
//! (an undefined one stays as written, Asciidoctor's default); with `macros`, `pass:[text]`
//! becomes `text`; with `indent=N`, the lines lose the indentation they share. All keep
//! every line a line, so line numbers stay true. And two kinds of line that are not prose
//! between blocks: a callout list item (`<1> Creates it.`) and a block macro
//! (`copyToClipboard::id[]`).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// The document's attribute entries in order: (1-based line, name, value with the attributes
/// it names put in; `None` where the entry unsets it).
pub struct Entries(Vec<(usize, String, Option<String>)>);

impl Entries {
    /// Read the entries of `source` (outside verbatim blocks), each value resolved against
    /// the entries above it.
    pub fn read(source: &str) -> Entries {
        let mut out = Vec::new();
        let mut now: HashMap<String, String> = HashMap::new();
        let mut verbatim: Option<&str> = None;
        for (i, line) in source.lines().enumerate() {
            let t = line.trim_end();
            if let Some(d) = verbatim {
                if t == d {
                    verbatim = None;
                }
                continue;
            }
            if super::limits::is_verbatim_delimiter(t) {
                verbatim = Some(t);
                continue;
            }
            let Some((name, value)) = super::limits::attribute_entry(t) else {
                continue;
            };
            let unset =
                t.starts_with(":!") || t[1..].split(':').next().is_some_and(|n| n.ends_with('!'));
            let value = (!unset).then(|| attributes(value, &now));
            match &value {
                Some(v) => now.insert(name.to_string(), v.clone()),
                None => now.remove(name),
            };
            out.push((i + 1, name.to_string(), value));
        }
        Entries(out)
    }

    /// The attributes defined above `line` (1-based), by name.
    fn above(&self, line: usize) -> HashMap<&str, &str> {
        let mut map = HashMap::new();
        for (at, name, value) in self.0.iter().take_while(|(at, ..)| *at < line) {
            let _ = at;
            match value {
                Some(v) => map.insert(name.as_str(), v.as_str()),
                None => map.remove(name.as_str()),
            };
        }
        map
    }
}

/// Which substitutions the block's `subs` adds: (attributes, macros, quotes).
fn asked(attributes: &str) -> (bool, bool, bool) {
    let Some(at) = attributes.find("subs=") else {
        return (false, false, false);
    };
    let rest = &attributes[at + 5..];
    let value = match rest.strip_prefix('"') {
        Some(q) => q.split('"').next().unwrap_or(""),
        None => rest.split(',').next().unwrap_or(""),
    };
    let items: Vec<&str> = value
        .split(',')
        .map(|i| i.trim().trim_matches('+'))
        .collect();
    let has = |names: &[&str]| items.iter().any(|i| names.contains(i));
    (
        has(&["attributes", "a", "normal", "n"]),
        has(&["macros", "m", "normal", "n"]),
        has(&["quotes", "q", "normal", "n"]),
    )
}

/// `raw` as a reader sees it under the block's `subs` (unchanged when it asks for none).
pub fn apply(raw: String, attributes: &str, line: usize, entries: &Entries) -> String {
    let (attrs, macros, quotes) = asked(attributes);
    if !attrs && !macros && !quotes {
        return raw;
    }
    let mut text = raw;
    if quotes && (text.contains("__") || text.contains("**") || text.contains("##")) {
        text = QUOTED.replace_all(&text, "$1$2$3").into_owned();
    }
    if macros && text.contains("pass:") {
        text = passthroughs(&text);
    }
    if attrs && text.contains('{') {
        let now = entries.above(line);
        text = attributes_in(&text, &now);
    }
    // macros come after attributes, as in Asciidoctor: `link:{repo}/x.yml[x.yml]` shows `x.yml`
    if macros && (text.contains("link:") || text.contains("://")) {
        text = links(&text);
    }
    text
}

/// Unconstrained emphasis, strong and mark (`__<name>__`, `**x**`, `##x##`) under `quotes`:
/// the reader sees the text without the marks (on one line).
static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"__([^\n]+?)__|\*\*([^\n]+?)\*\*|##([^\n]+?)##").expect("a valid pattern")
});

static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"link:([^\s\[]+)\[([^\]\n]*)\]|\b((?:https?|ftp)://[^\s\[]+)\[([^\]\n]*)\]")
        .expect("a valid pattern")
});

/// A link macro as the text it shows: `link:TARGET[TEXT]` and `https://TARGET[TEXT]` are
/// `TEXT` (the target where `TEXT` is empty).
fn links(text: &str) -> String {
    LINK.replace_all(text, |c: &regex::Captures| {
        let (target, shown) = match c.get(1) {
            Some(t) => (t.as_str(), &c[2]),
            None => (&c[3], &c[4]),
        };
        if shown.is_empty() {
            target.to_string()
        } else {
            // `link:x[text,window=_blank]`: the attributes after the text are not shown
            shown.split(",window=").next().unwrap_or(shown).to_string()
        }
    })
    .into_owned()
}

static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\?\{([A-Za-z0-9_][A-Za-z0-9_-]*)\}").expect("a valid pattern"));

fn attributes(text: &str, now: &HashMap<String, String>) -> String {
    let borrowed: HashMap<&str, &str> = now.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    attributes_in(text, &borrowed)
}

/// `{name}` put in where `name` is defined; `\{name}` is the text `{name}`.
fn attributes_in(text: &str, now: &HashMap<&str, &str>) -> String {
    REFERENCE
        .replace_all(text, |c: &regex::Captures| {
            let whole = &c[0];
            if let Some(escaped) = whole.strip_prefix('\\') {
                return escaped.to_string();
            }
            now.get(&c[1])
                .map_or(whole.to_string(), |v| (*v).to_string())
        })
        .into_owned()
}

/// `pass:[text]` (and `pass:q[text]`, …) as its text; `\]` inside is a `]`.
fn passthroughs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("pass:") {
        let after = &rest[at + 5..];
        let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let Some(inner) = after[letters..].strip_prefix('[') else {
            out.push_str(&rest[..at + 5]);
            rest = after;
            continue;
        };
        let mut end = None;
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            match c {
                '\n' => break,
                '\\' => escaped = !escaped,
                ']' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else {
            out.push_str(&rest[..at + 5]);
            rest = after;
            continue;
        };
        out.push_str(&rest[..at]);
        out.push_str(&inner[..end].replace("\\]", "]"));
        rest = &inner[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A block macro line (`copyToClipboard::deploy[]`, `image::x.png[]`): not prose.
pub(super) fn is_block_macro(line: &str) -> bool {
    let t = line.trim();
    t.ends_with(']')
        && t.split_once("::").is_some_and(|(name, rest)| {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !rest.starts_with(' ')
                && rest.contains('[')
        })
}

/// A callout list item: `<1> text` or `<.> text`.
pub(super) fn is_callout_item(line: &str) -> bool {
    line.trim_start()
        .strip_prefix('<')
        .and_then(|r| r.split_once('>'))
        .is_some_and(|(n, rest)| {
            (n == "." || (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
                && rest.starts_with([' ', '\t'])
        })
}

/// `text` without the leading white space all its non-blank lines share.
pub(super) fn dedent(text: &str) -> String {
    let common = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    if common == 0 {
        return text.to_string();
    }
    text.split_inclusive('\n')
        .map(|l| {
            l.get(common..)
                .filter(|_| !l.trim().is_empty())
                .unwrap_or(l.trim_start_matches([' ', '\t']))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_put_in_only_where_subs_asks_for_them() {
        let source = ":ns: tutorial\n:app: my{ns}\n\n----\n:inside: no\n----\n:ns!:\n";
        let entries = Entries::read(source);
        let raw = "kubectl -n {ns} get deploy {app} {undefined} \\{ns}\n".to_string();
        assert_eq!(
            apply(
                raw.clone(),
                "source,bash,subs=\"+macros,+attributes\"",
                4,
                &entries
            ),
            "kubectl -n tutorial get deploy mytutorial {undefined} {ns}\n"
        );
        assert_eq!(apply(raw.clone(), "source,bash", 4, &entries), raw);
        // after `:ns!:` it is undefined again; an entry inside a listing is its text
        assert_eq!(
            apply(
                "{ns} {inside}\n".into(),
                "source,bash,subs=attributes+",
                9,
                &entries
            ),
            "{ns} {inside}\n"
        );
    }

    #[test]
    fn quoted_text_loses_its_marks_where_subs_asks_for_quotes() {
        let entries = Entries::read("");
        assert_eq!(
            apply(
                "DOMAIN=__<domain_name>__ **x**\n".to_string(),
                "source,bash,subs=\"+quotes\"",
                1,
                &entries
            ),
            "DOMAIN=<domain_name> x\n"
        );
        assert_eq!(
            apply("A=__b__\n".to_string(), "source,bash", 1, &entries),
            "A=__b__\n"
        );
    }

    #[test]
    fn links_are_their_text_where_subs_asks_for_macros() {
        let raw = "kubectl apply -f link:{repo}/app.yml[manifests/app.yml] -n demo\ncurl https://example.com/x[] ok\n";
        let entries = Entries::read(":repo: https://example.com/r\n");
        assert_eq!(
            apply(
                raw.to_string(),
                "source,bash,subs=\"+macros,+attributes\"",
                5,
                &entries
            ),
            "kubectl apply -f manifests/app.yml -n demo\ncurl https://example.com/x ok\n"
        );
        // without macros in subs the text stays as written
        assert_eq!(apply(raw.to_string(), "source,bash", 5, &entries), raw);
    }

    #[test]
    fn passthroughs_are_their_text_where_subs_asks_for_macros() {
        let raw = "kubectl get pod --field-selector pass:['status.phase!=Terminating'] -o name\n";
        assert_eq!(
            apply(
                raw.into(),
                "source,bash,subs=\"+macros\"",
                1,
                &Entries(Vec::new())
            ),
            "kubectl get pod --field-selector 'status.phase!=Terminating' -o name\n"
        );
        assert_eq!(
            passthroughs("a pass:q[x\\]y] b pass: c pass:[open"),
            "a x]y b pass: c pass:[open"
        );
    }
}
