//! Hugo shortcodes that hold code, inside Markdown.
//!
//! In: Markdown source. Out: the code blocks written as paired shortcodes
//! (`{{< text bash >}}` … `{{< /text >}}`, `{{< codeFromInline lang="bash" >}}` …), each with
//! its language and its content relative to the opener's indentation, and the source with
//! those lines blanked (same length, newlines kept) so that the CommonMark parser neither
//! reads their content as headings nor as prose. Which shortcodes hold code, and where each
//! names its language, is the [`SHORTCODES`] table; every other shortcode is prose.

use std::sync::LazyLock;

use regex::Regex;

/// A shortcode that holds a code block, and how it names the block's language.
pub struct Shortcode {
    pub name: &'static str,
    /// The named argument that gives the language (`lang="bash"`, `syntax=bash`), tried in
    /// order; then the first positional argument.
    pub language_keys: &'static [&'static str],
    /// `@path/to/file@` in its commands means the plain path (Istio's link markers).
    pub link_markers: bool,
}

pub const SHORTCODES: &[Shortcode] = &[
    // Istio: `{{< text bash >}}`, `{{< text syntax=bash snip_id=x >}}`
    Shortcode {
        name: "text",
        language_keys: &["syntax", "lang"],
        link_markers: true,
    },
    // kind's site: `{{< codeFromInline lang="bash" >}}`
    Shortcode {
        name: "codeFromInline",
        language_keys: &["lang"],
        link_markers: false,
    },
    // Hugo's own: `{{< highlight bash "linenos=table" >}}`
    Shortcode {
        name: "highlight",
        language_keys: &["lang"],
        link_markers: false,
    },
];

/// One code block found as a shortcode.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// Byte offset of the opener line.
    pub start: usize,
    /// Byte offset just past the closer line.
    pub end: usize,
    /// 1-based line of the opener.
    pub line: usize,
    pub language: Option<String>,
    /// The opener's arguments as written.
    pub attributes: String,
    /// Content lines with the opener's indentation removed, each with its newline.
    pub raw: String,
    pub link_markers: bool,
}

static OPENER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([ \t>]*)\{\{([<%])\s*([A-Za-z][\w-]*)\b(.*?)\s*[>%]\}\}\s*$").unwrap()
});

static CLOSER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[ \t>]*\{\{[<%]\s*/\s*([A-Za-z][\w-]*)\s*[>%]\}\}\s*$").unwrap()
});

static ARG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?:([\w-]+)=)?(?:"([^"]*)"|'([^']*)'|(\S+))"#).unwrap());

/// The language the opener's arguments name for `code`.
fn language(code: &Shortcode, args: &str) -> Option<String> {
    let mut positional = None;
    let mut named = Vec::new();
    for caps in ARG.captures_iter(args) {
        let value = caps
            .get(2)
            .or(caps.get(3))
            .or(caps.get(4))
            .map_or("", |m| m.as_str());
        match caps.get(1) {
            Some(key) => named.push((key.as_str(), value)),
            None if positional.is_none() => positional = Some(value),
            None => {}
        }
    }
    code.language_keys
        .iter()
        .find_map(|k| named.iter().find(|(n, _)| n == k).map(|(_, v)| *v))
        .or(positional)
        .filter(|l| !l.is_empty())
        .map(str::to_ascii_lowercase)
}

/// Whether `line` opens or closes a CommonMark fence (after container markers).
fn fence(line: &str) -> Option<(char, usize)> {
    let t = line.trim_start_matches([' ', '\t', '>']);
    let c = t.chars().next().filter(|&c| c == '`' || c == '~')?;
    let n = t.chars().take_while(|&x| x == c).count();
    (n >= 3).then_some((c, n))
}

/// The code shortcodes of `source`, and the source with their lines blanked. An opener never
/// closed is an error at its line.
pub fn extract(source: &str) -> Result<(Vec<Found>, Option<String>), (usize, String)> {
    if !source.contains("{{") {
        return Ok((Vec::new(), None));
    }
    let mut found = Vec::new();
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        lines.push((offset, line));
        offset += line.len();
    }
    let mut in_fence: Option<(char, usize)> = None;
    let mut i = 0;
    while i < lines.len() {
        let (start, line) = lines[i];
        let text = line.trim_end_matches(['\n', '\r']);
        if let Some((c, n)) = fence(text) {
            match in_fence {
                Some((oc, on)) if oc == c && n >= on => in_fence = None,
                None => in_fence = Some((c, n)),
                _ => {}
            }
            i += 1;
            continue;
        }
        let opener = if in_fence.is_none() {
            OPENER.captures(text)
        } else {
            None
        };
        let Some(caps) = opener else {
            i += 1;
            continue;
        };
        let name = &caps[3];
        let Some(code) = SHORTCODES.iter().find(|s| s.name == name) else {
            i += 1;
            continue;
        };
        let indent = caps.get(1).map_or("", |m| m.as_str()).to_string();
        let args = caps.get(4).map_or("", |m| m.as_str()).trim().to_string();
        let close = (i + 1..lines.len()).find(|&j| {
            CLOSER
                .captures(lines[j].1.trim_end_matches(['\n', '\r']))
                .is_some_and(|c| &c[1] == name)
        });
        let Some(close) = close else {
            return Err((
                i + 1,
                format!("shortcode `{{{{< {name} >}}}}` is never closed (`{{{{< /{name} >}}}}`)"),
            ));
        };
        let mut raw = String::new();
        for &(_, l) in &lines[i + 1..close] {
            raw.push_str(strip_indent(l, &indent));
        }
        let end = lines[close].0 + lines[close].1.len();
        found.push(Found {
            start,
            end,
            line: i + 1,
            language: language(code, &args),
            attributes: format!("{name} {args}").trim().to_string(),
            raw,
            link_markers: code.link_markers,
        });
        i = close + 1;
    }
    if found.is_empty() {
        return Ok((found, None));
    }
    let mut masked = source.as_bytes().to_vec();
    for f in &found {
        for b in &mut masked[f.start..f.end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    // The blanked ranges are whole lines and every byte in them became a space or stayed a
    // newline, so the text stays UTF-8.
    let masked = String::from_utf8(masked).expect("blanking keeps UTF-8");
    Ok((found, Some(masked)))
}

/// `line` without the opener's indentation, as far as it has it (blank lines may have less).
fn strip_indent<'a>(line: &'a str, indent: &str) -> &'a str {
    if let Some(rest) = line.strip_prefix(indent) {
        return rest;
    }
    let common = line
        .bytes()
        .zip(indent.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    &line[common..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_entry_opens_a_block_with_its_language() {
        for (code, opener) in SHORTCODES.iter().zip([
            "{{< text syntax=bash snip_id=check >}}",
            r#"{{< codeFromInline lang="bash" >}}"#,
            "{{< highlight bash \"linenos=table\" >}}",
        ]) {
            let src = format!("intro\n\n{opener}\necho hi\n{{{{< /{} >}}}}\n", code.name);
            let (found, masked) = extract(&src).unwrap();
            assert_eq!(found.len(), 1, "{}", code.name);
            assert_eq!(found[0].language.as_deref(), Some("bash"), "{}", code.name);
            assert_eq!(found[0].raw, "echo hi\n");
            assert_eq!(found[0].line, 3);
            let masked = masked.unwrap();
            assert_eq!(masked.len(), src.len());
            assert!(!masked.contains("echo"));
        }
    }

    #[test]
    fn positional_language_and_indented_content() {
        let src = "1. Run:\n\n    {{< text bash >}}\n    $ kubectl get pods\n\n    NAME\n    {{< /text >}}\n";
        let (found, _) = extract(src).unwrap();
        assert_eq!(found[0].language.as_deref(), Some("bash"));
        assert_eq!(found[0].raw, "$ kubectl get pods\n\nNAME\n");
    }

    #[test]
    fn other_shortcodes_and_fenced_examples_are_prose() {
        let src = "{{< warning >}}\nCareful\n{{< /warning >}}\n```\n{{< text bash >}}\n```\n";
        let (found, masked) = extract(src).unwrap();
        assert!(found.is_empty());
        assert!(masked.is_none());
    }

    #[test]
    fn an_unclosed_code_shortcode_is_an_error_at_its_line() {
        let err = extract("a\n{{< text bash >}}\n$ ls\n").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.contains("never closed"), "{}", err.1);
    }
}
