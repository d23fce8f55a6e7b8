//! A step's printed output: its lines in one text.
//!
//! In: the output lines of a block, as slices of it. Out: [`Printed`], the lines joined by
//! `\n` (none after the last) with their count. A step printed with a hundred thousand lines is
//! one allocation, not one per line, and is normalized and diffed as it stands, without being
//! joined again.

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Printed {
    text: String,
    lines: usize,
}

impl Printed {
    pub fn from_lines<'a, I>(lines: I) -> Printed
    where
        I: IntoIterator<Item = &'a str>,
        I::IntoIter: Clone,
    {
        let lines = lines.into_iter();
        // measured first: the text is made at its size, not grown by doubling
        let (count, bytes) = lines.clone().fold((0, 0), |(n, b), l| (n + 1, b + l.len()));
        let mut text = String::with_capacity((bytes + count).saturating_sub(1));
        for (n, l) in lines.enumerate() {
            if n > 0 {
                text.push('\n');
            }
            text.push_str(l);
        }
        Printed { text, lines: count }
    }

    /// The lines joined by `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &str> + Clone {
        (self.lines > 0)
            .then(|| self.text.split('\n'))
            .into_iter()
            .flatten()
    }

    pub fn len(&self) -> usize {
        self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    pub fn first(&self) -> Option<&str> {
        self.lines().next()
    }

    pub fn last(&self) -> Option<&str> {
        self.lines().next_back()
    }

    pub fn contains(&self, line: &str) -> bool {
        self.lines().any(|l| l == line)
    }

    /// Keep the first `n` lines.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.lines {
            return;
        }
        let end = match n {
            0 => 0,
            _ => self
                .text
                .match_indices('\n')
                .nth(n - 1)
                .map_or(self.text.len(), |(i, _)| i),
        };
        self.text.truncate(end);
        self.lines = n;
    }
}

impl Serialize for Printed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.lines())
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Printed {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.lines == N && self.lines().eq(other.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_one_text_read_back_as_they_were_given() {
        let p = Printed::from_lines(["NAME   READY", "", "web    1/1"]);
        assert_eq!(p.text(), "NAME   READY\n\nweb    1/1");
        assert_eq!(p, ["NAME   READY", "", "web    1/1"]);
        assert_eq!(
            (p.len(), p.first(), p.last()),
            (3, Some("NAME   READY"), Some("web    1/1"))
        );
        assert!(p.contains("") && !p.contains("web"));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"["NAME   READY","","web    1/1"]"#
        );
        // one empty line is a line; no lines is none
        let one = Printed::from_lines([""]);
        assert_eq!((one.len(), one.lines().count()), (1, 1));
        let none = Printed::from_lines([]);
        assert!(none.is_empty() && none.lines().next().is_none() && none.last().is_none());
    }

    #[test]
    fn truncating_keeps_the_first_lines() {
        let all = Printed::from_lines(["a", "b", "c"]);
        for (n, want) in [
            (0, vec![]),
            (1, vec!["a"]),
            (2, vec!["a", "b"]),
            (5, vec!["a", "b", "c"]),
        ] {
            let mut p = all.clone();
            p.truncate(n);
            assert_eq!(p.lines().collect::<Vec<_>>(), want, "{n}");
            assert_eq!(p, Printed::from_lines(want.iter().copied()));
        }
    }
}
