//! The directive vocabulary: what an author may say to labrun about one code block.
//!
//! In: the text after `labrun:` in an invisible comment just above a block
//! (`// labrun: …` in AsciiDoc, `<!-- labrun: … -->` in Markdown). Out: [`Directives`],
//! the block's settings. Words are separated by spaces; an unknown word is an error that
//! the document stage reports at the comment's line.

use std::time::Duration;

use serde::Serialize;

/// Settings for one code block. `Default` is "no directive".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Directives {
    /// The words as written, in order, for listings and reports.
    pub written: Vec<String>,
    /// `skip`: the block's steps are listed but never run.
    #[serde(skip)]
    pub skip: bool,
    /// `commands=1,4-6`: exactly these lines of the block (1-based, counted from the first
    /// content line) start commands; every other line is output or a continuation.
    #[serde(skip)]
    pub commands: Option<Vec<(usize, usize)>>,
    /// `timeout=30s`: the longest one step of the block may run.
    #[serde(skip)]
    pub timeout: Option<Duration>,
    /// `unordered`: the output lines are compared as a multiset.
    #[serde(skip)]
    pub unordered: bool,
    /// `retry`, `retry=90s`, `no-retry`: whether (and how long) a mismatching step is re-run.
    #[serde(skip)]
    pub retry: Option<Option<Duration>>,
    /// `illustrative`: the printed output was never observed by a run; the step is
    /// "not yet verified" until a live run records it.
    #[serde(skip)]
    pub illustrative: bool,
    /// `exit=N`: the exit code the step is expected to end with (default 0).
    #[serde(skip)]
    pub exit: Option<i32>,
}

/// Every word the vocabulary knows, for messages.
pub const WORDS: &[&str] = &[
    "skip",
    "commands=LINES",
    "timeout=DURATION",
    "unordered",
    "retry[=DURATION]",
    "no-retry",
    "illustrative",
    "exit=CODE",
];

impl Directives {
    /// Add the words of one directive comment. The error is a message without location.
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        for word in text.split_whitespace() {
            self.add_word(word)?;
            self.written.push(word.to_string());
        }
        Ok(())
    }

    fn add_word(&mut self, word: &str) -> Result<(), String> {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let none = |v: Option<&str>| match v {
            Some(_) => Err(format!("directive `{key}` takes no value")),
            None => Ok(()),
        };
        match key {
            "skip" => none(value).map(|_| self.skip = true),
            "unordered" => none(value).map(|_| self.unordered = true),
            "illustrative" => none(value).map(|_| self.illustrative = true),
            "no-retry" => {
                none(value)?;
                if matches!(self.retry, Some(Some(_))) {
                    return Err("`no-retry` contradicts `retry` on the same block".into());
                }
                self.retry = Some(None);
                Ok(())
            }
            "retry" => {
                if self.retry == Some(None) {
                    return Err("`retry` contradicts `no-retry` on the same block".into());
                }
                let budget = value.map(parse_duration).transpose()?;
                self.retry = Some(Some(budget.unwrap_or(DEFAULT_RETRY)));
                Ok(())
            }
            "timeout" => {
                let t = parse_duration(need(key, value)?)?;
                if t.is_zero() {
                    return Err(format!(
                        "`timeout={}`: a step needs some time to run (at least 1ms)",
                        value.unwrap_or_default()
                    ));
                }
                self.timeout = Some(t);
                Ok(())
            }
            "exit" => {
                let v = need(key, value)?;
                let code: i32 = v
                    .parse()
                    .ok()
                    .filter(|c| (0..=255).contains(c))
                    .ok_or_else(|| format!("`exit={v}`: expected an exit code from 0 to 255"))?;
                self.exit = Some(code);
                Ok(())
            }
            "commands" => {
                self.commands = Some(parse_lines(need(key, value)?)?);
                Ok(())
            }
            _ => Err(format!(
                "unknown labrun directive `{word}`; known: {}",
                WORDS.join(", ")
            )),
        }
    }

    /// Whether 1-based block line `n` is named by `commands=`.
    pub fn names_command_line(&self, n: usize) -> Option<bool> {
        self.commands
            .as_ref()
            .map(|ranges| ranges.iter().any(|&(a, b)| a <= n && n <= b))
    }
}

fn need<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, String> {
    value.ok_or_else(|| format!("directive `{key}` needs a value"))
}

/// Retry budget used by a bare `retry`.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(60);

/// The longest duration a directive or configuration may name: 7 days.
pub const MAX_DURATION_MS: u64 = 7 * 24 * 3_600_000;

/// `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds, at most 7 days.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration (examples: 500ms, 30s, 2m)");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(bad());
    }
    // digits too many for a number are a duration all the same, and a long one
    let n: u64 = digits.parse().unwrap_or(u64::MAX);
    let per = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    let ms = n
        .checked_mul(per)
        .filter(|&ms| ms <= MAX_DURATION_MS)
        .ok_or_else(|| format!("`{text}` is longer than labrun waits for anything (7 days)"))?;
    Ok(Duration::from_millis(ms))
}

fn parse_lines(text: &str) -> Result<Vec<(usize, usize)>, String> {
    let bad = || format!("`commands={text}`: expected line numbers such as 1,3-4");
    text.split(',')
        .map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: usize = a.parse().map_err(|_| bad())?;
            let b: usize = b.parse().map_err(|_| bad())?;
            if a == 0 || b < a {
                return Err(bad());
            }
            Ok((a, b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_word() {
        let mut d = Directives::default();
        d.add("skip timeout=30s unordered commands=1,3-4 exit=2 illustrative")
            .unwrap();
        assert!(d.skip && d.unordered && d.illustrative);
        assert_eq!(d.timeout, Some(Duration::from_secs(30)));
        assert_eq!(d.exit, Some(2));
        assert_eq!(d.names_command_line(3), Some(true));
        assert_eq!(d.names_command_line(2), Some(false));
        assert_eq!(d.written.len(), 6);
    }

    #[test]
    fn retry_forms() {
        let mut d = Directives::default();
        d.add("retry").unwrap();
        assert_eq!(d.retry, Some(Some(DEFAULT_RETRY)));
        d.add("retry=90s").unwrap();
        assert_eq!(d.retry, Some(Some(Duration::from_secs(90))));
        let mut d = Directives::default();
        d.add("no-retry").unwrap();
        assert_eq!(d.retry, Some(None));
    }

    #[test]
    fn contradictions_and_out_of_range_values_are_errors() {
        let mut d = Directives::default();
        assert!(d.add("retry no-retry").unwrap_err().contains("contradicts"));
        let mut d = Directives::default();
        assert!(
            d.add("no-retry retry=5s")
                .unwrap_err()
                .contains("contradicts")
        );
        for bad in ["exit=256", "exit=-1", "exit=x"] {
            assert!(
                Directives::default()
                    .add(bad)
                    .unwrap_err()
                    .contains("0 to 255"),
                "{bad}"
            );
        }
        assert!(Directives::default().add("exit=255").is_ok());
        let long = Directives::default()
            .add("timeout=1147797409030816545h")
            .unwrap_err();
        assert!(long.contains("longer than"), "{long}");
        assert!(parse_duration("168h").is_ok());
        assert!(parse_duration("169h").is_err());
    }

    #[test]
    fn rejects_unknown_and_malformed_words() {
        let mut d = Directives::default();
        assert!(d.add("frobnicate").unwrap_err().contains("unknown"));
        assert!(d.add("timeout").unwrap_err().contains("needs a value"));
        assert!(d.add("timeout=soon").unwrap_err().contains("duration"));
        assert!(d.add("skip=yes").unwrap_err().contains("no value"));
        assert!(d.add("commands=3-1").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("1d").is_err());
        // a number too long to hold is a long duration, said so
        assert!(
            parse_duration("99999999999999999999h")
                .unwrap_err()
                .contains("longer than labrun waits")
        );
        assert!(parse_duration("h").unwrap_err().contains("not a duration"));
        let mut d = Directives::default();
        assert!(d.add("timeout=0s").unwrap_err().contains("at least 1ms"));
        assert!(d.add("timeout=1ms").is_ok());
    }
}
