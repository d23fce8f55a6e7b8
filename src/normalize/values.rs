//! What masking makes: classes, values, slots and lines, and the labels they are shown with.
//!
//! In: the mask table's class names and the values masks matched. Out: [`Class`] (an interned
//! name), [`Slot`] and [`Line`] (a line's shape and its masked values), [`Shape`] (shared
//! among the lines of one text) and [`Labels`] (placeholder numbers by first appearance).

use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use std::sync::{LazyLock, Mutex};

use super::{CLASSES, Value};

/// A class's name, interned: copied, compared and hashed at a pointer's cost, and one word
/// wide (a pointer to the name's slot: in [`CLASSES`] for the built-in ones, made once for
/// each of the user's the first time it is seen), so that every masked value of a large
/// output carries one word for its class, not two. Two classes of one name are one pointer.
#[derive(Clone, Copy)]
pub struct Class(pub(super) &'static &'static str);

static INTERNED: LazyLock<Mutex<HashMap<&'static str, &'static &'static str>>> =
    LazyLock::new(Default::default);

impl Class {
    pub fn new(name: &str) -> Class {
        if let Some((c, _)) = CLASSES.iter().find(|(c, _)| *c == name) {
            return Class(c);
        }
        let mut names = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = names.get(name) {
            return Class(c);
        }
        let s: &'static str = Box::leak(name.into());
        let c: &'static &'static str = Box::leak(Box::new(s));
        names.insert(s, c);
        Class(c)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl From<&str> for Class {
    fn from(name: &str) -> Class {
        Class::new(name)
    }
}

impl std::ops::Deref for Class {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl PartialEq for Class {
    fn eq(&self, other: &Class) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Class {}

impl PartialEq<str> for Class {
    fn eq(&self, other: &str) -> bool {
        *self.0 == other
    }
}

impl PartialEq<&str> for Class {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other
    }
}

impl std::hash::Hash for Class {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        std::ptr::hash(self.0, h)
    }
}

impl std::fmt::Debug for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(*self.0, f)
    }
}

impl serde::Serialize for Class {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A masked value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub class: Class,
    /// Canonical value (IPv4 written dotted whatever its form); for a snapshot's placeholder,
    /// its label (`IP1`). Short values (all but the longest ids) are held inline.
    pub value: Value,
}

/// A masked value and where it stands in its line (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub slot: Slot,
}

/// A line after masking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line with masked values as `<CLASS>` and inner white space folded. Lines of one
    /// shape in one text share it (a listing of many like rows holds each shape once).
    pub shape: Shape,
    pub slots: Box<[Slot]>,
}

/// A line's shape: shared text, equal lines' shapes compared by pointer first.
pub type Shape = std::sync::Arc<str>;

/// The shapes of one text, each held once.
#[derive(Default)]
pub(super) struct Shapes(FxHashSet<Shape>);

impl Shapes {
    pub(super) fn intern(&mut self, shape: &str) -> Shape {
        if let Some(s) = self.0.get(shape) {
            return s.clone();
        }
        let s: Shape = shape.into();
        self.0.insert(s.clone());
        s
    }
}

/// Placeholder labels per class, by first appearance.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    /// (class, value) → label
    by_value: indexmap::IndexMap<(Class, Value), Value, rustc_hash::FxBuildHasher>,
    counts: HashMap<Class, usize>,
}

impl Labels {
    /// The label of `value` of `class`, given one if it has none yet.
    pub fn label(&mut self, class: Class, value: &str) -> Value {
        Value::from(self.get(class, value))
    }

    /// The label of `value`, given one if it has none yet (one hash lookup when it has one).
    pub(super) fn get(&mut self, class: Class, value: &str) -> &str {
        let counts = &mut self.counts;
        self.by_value
            .entry((class, Value::from(value)))
            .or_insert_with(|| {
                // A snapshot's placeholder keeps its own label.
                if value.starts_with(class.as_str())
                    && value[class.len()..].chars().all(|c| c.is_ascii_digit())
                    && value.len() > class.len()
                {
                    Value::from(value)
                } else {
                    let n = counts.entry(class).or_default();
                    *n += 1;
                    compact_str::format_compact!("{class}{n}")
                }
            })
    }

    /// Give `value` the label `label` (for showing live values under the expected labels).
    pub fn set(&mut self, class: Class, value: &str, label: Value) {
        self.by_value.insert((class, value.into()), label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_is_one_word_and_one_name_is_one_class() {
        assert_eq!(std::mem::size_of::<Class>(), std::mem::size_of::<usize>());
        // a built-in class points into the table, a user's is made once
        let ip = Class::new("IP");
        assert!(std::ptr::eq(
            ip.0,
            &CLASSES.iter().find(|(c, _)| *c == "IP").unwrap().0
        ));
        let mine = Class::new("TICKET_ID_OF_THIS_TEST");
        assert_eq!(mine, Class::new("TICKET_ID_OF_THIS_TEST"));
        assert_ne!(mine, ip);
        assert_eq!(mine.as_str(), "TICKET_ID_OF_THIS_TEST");
        assert_eq!(
            serde_json::to_string(&mine).unwrap(),
            "\"TICKET_ID_OF_THIS_TEST\""
        );
    }
}
