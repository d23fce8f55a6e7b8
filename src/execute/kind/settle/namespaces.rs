//! Which namespaces a step touched, for settle to watch. In: the step's command, what it
//! printed, the directory its files are read from. Out: the namespaces (empty: all).

use std::collections::BTreeSet;

use serde::Deserialize as _;

/// The namespaces a step touched, for settle to watch; empty means all of them. From each
/// `kubectl`/`helm` call in the step (found by [`crate::syntax`]): `-A` (all); `-n`/
/// `--namespace`; `kubectl create namespace NAME`; the objects of each file given to `-f`
/// (`--filename`), read from `dir` — a Namespace's own name, else an object's
/// `metadata.namespace`, else the call's namespace; and the `namespace/NAME …` lines kubectl
/// printed. What cannot be read (a URL, standard input, `-k`, a computed name, a file that is
/// not there) means all namespaces: watching too much is slower, watching too little settles
/// early. Nothing named: `default`.
pub fn namespaces(command: &str, printed: &str, dir: &std::path::Path) -> BTreeSet<String> {
    let all = BTreeSet::new();
    let Ok(commands) = crate::syntax::simple_commands(command) else {
        return all;
    };
    let mut out = BTreeSet::new();
    for c in commands
        .iter()
        .filter(|c| matches!(c.program(), Some("kubectl" | "helm")))
    {
        let args: Vec<Option<&str>> = c.args().iter().map(|w| w.literal.as_deref()).collect();
        let value = |i: usize| args.get(i + 1).copied().flatten();
        let mut namespace = None;
        let mut files = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let Some(a) = a else { continue };
            match *a {
                "-A" | "--all-namespaces" | "-k" | "--kustomize" => return all,
                "-n" | "--namespace" => match value(i) {
                    Some(n) => namespace = Some(n.to_string()),
                    None => return all,
                },
                "-f" | "--filename" => match value(i) {
                    Some(f) => files.push(f.to_string()),
                    None => return all,
                },
                _ => {
                    if let Some(n) = a.strip_prefix("--namespace=") {
                        namespace = Some(n.to_string());
                    } else if let Some(f) = a
                        .strip_prefix("--filename=")
                        .or_else(|| a.strip_prefix("-f="))
                    {
                        files.push(f.to_string());
                    }
                }
            }
        }
        let words: Vec<&str> = args.iter().map(|a| a.unwrap_or("")).collect();
        if let Some(i) = words
            .windows(2)
            .position(|w| w[0] == "create" && matches!(w[1], "namespace" | "ns"))
        {
            match words
                .get(i + 2)
                .filter(|n| !n.is_empty() && !n.starts_with('-'))
            {
                Some(n) => {
                    out.insert(n.to_string());
                }
                None => return all,
            }
        }
        let home = namespace.clone().unwrap_or_else(|| "default".into());
        for f in files {
            if f == "-" || f.contains("://") {
                return all;
            }
            // read as every input is (a regular file, capped): a step may name /dev/zero
            let path = dir.join(&f);
            let Ok(text) = crate::input::read_text(&path, crate::input::DOCUMENT_CAP, "a manifest")
            else {
                return all;
            };
            for doc in serde_norway::Deserializer::from_str(&text) {
                let Ok(v) = serde_norway::Value::deserialize(doc) else {
                    return all;
                };
                let items = match v.get("items").and_then(|i| i.as_sequence()) {
                    Some(items) => items.clone(),
                    None => vec![v],
                };
                for o in items.iter().filter(|o| !o.is_null()) {
                    let meta = o.get("metadata");
                    let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(|v| v.as_str());
                    if o.get("kind").and_then(|k| k.as_str()) == Some("Namespace") {
                        out.extend(field("name").map(str::to_string));
                    } else {
                        out.insert(field("namespace").map_or(home.clone(), str::to_string));
                    }
                }
            }
        }
        if let Some(n) = namespace {
            out.insert(n);
        }
    }
    for line in printed.lines() {
        if let Some(rest) = line.strip_prefix("namespace/")
            && let Some(name) = rest.split_whitespace().next()
        {
            out.insert(name.to_string());
        }
    }
    if out.is_empty() {
        out.insert("default".into());
    }
    out
}
