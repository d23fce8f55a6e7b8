//! A map kept as a list of its entries with a table of their indexes beside it: what the
//! bindings hold their values in, and the placeholder labels of a rendered output.
//!
//! In: keys and values. Out: the same lookups as a hash map, entries in the order they were
//! first inserted (a removal moves the last entry into the gap). A hash map's table holds
//! whole entries in a power of two of slots, up to half of them empty, and holds the old
//! table beside the new one while it grows: for the hundreds of thousands of values a large
//! output names, each (class, value, value) entry of 56 bytes is paid for two or three times
//! over. Here an empty slot costs five bytes (an index and its control byte), and the entries
//! lie in one list (which a large block's allocator grows in place).

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

#[derive(Clone)]
pub struct Dense<K, V> {
    entries: Vec<(K, V)>,
    index: HashTable<u32>,
}

impl<K, V> Default for Dense<K, V> {
    fn default() -> Self {
        Dense {
            entries: Vec::new(),
            index: HashTable::new(),
        }
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for Dense<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

fn hash<Q: Hash + ?Sized>(q: &Q) -> u64 {
    FxBuildHasher.hash_one(q)
}

impl<K: Hash + Eq, V> Dense<K, V> {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Room for `n` more entries, made at once.
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
        let entries = &self.entries;
        self.index.reserve(n, |&i| hash(&entries[i as usize].0));
    }

    fn slot<Q>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = &self.entries;
        self.index
            .find(hash(key), |&i| entries[i as usize].0.borrow() == key)
            .map(|&i| i as usize)
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slot(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slot(key).map(|i| &mut self.entries[i].1)
    }

    /// Insert or replace; the value replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(i) = self.slot(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        let n = u32::try_from(self.entries.len()).expect("fewer than 2^32 bindings");
        let h = hash(&key);
        self.entries.push((key, value));
        let entries = &self.entries;
        self.index
            .insert_unique(h, n, |&i| hash(&entries[i as usize].0));
        None
    }

    /// The value of `key`, made by `make` and inserted first if there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce(&K) -> V) -> &mut V {
        let i = match self.slot(&key) {
            Some(i) => i,
            None => {
                let value = make(&key);
                self.insert(key, value);
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    /// Remove an entry; the last entry takes its place in the order.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = &self.entries;
        let found = self
            .index
            .find_entry(hash(key), |&i| entries[i as usize].0.borrow() == key)
            .ok()?;
        let (i, _) = found.remove();
        let (i, last) = (i as usize, self.entries.len() - 1);
        if i != last {
            // the last entry moves to `i`: its index says so
            let moved = hash(&self.entries[last].0);
            let at = self
                .index
                .find_mut(moved, |&j| j as usize == last)
                .expect("every entry is indexed");
            *at = i as u32;
        }
        Some(self.entries.swap_remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_as_a_hash_map_through_inserts_replacements_and_removals() {
        // a fixed pseudo-random sequence of operations, checked against std's map at each step
        let mut dense: Dense<String, u32> = Dense::default();
        let mut model: HashMap<String, u32> = HashMap::new();
        let mut x: u32 = 12345;
        for step in 0..20_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = format!("k{}", (x >> 8) % 500);
            match (x >> 4) % 3 {
                0 | 1 => assert_eq!(dense.insert(key.clone(), step), model.insert(key, step)),
                _ => assert_eq!(dense.remove(key.as_str()), model.remove(&key)),
            }
            assert_eq!(dense.iter().count(), model.len());
        }
        for (k, v) in &model {
            assert_eq!(dense.get(k.as_str()), Some(v));
        }
        assert_eq!(dense.iter().count(), model.len());
        assert!(dense.get("absent").is_none());
    }

    #[test]
    fn entries_keep_their_first_insertion_order_and_a_removal_fills_the_gap_from_the_end() {
        let mut d: Dense<&str, u8> = Dense::default();
        d.reserve(3);
        for (k, v) in [("a", 1), ("b", 2), ("c", 3), ("a", 9)] {
            d.insert(k, v);
        }
        fn order<'a>(d: &Dense<&'a str, u8>) -> Vec<(&'a str, u8)> {
            d.iter().map(|(k, v)| (*k, *v)).collect()
        }
        assert_eq!(order(&d), [("a", 9), ("b", 2), ("c", 3)]);
        assert_eq!(d.remove("a"), Some(9));
        assert_eq!(order(&d), [("c", 3), ("b", 2)]);
        *d.get_mut("b").unwrap() = 7;
        assert_eq!(d.get("b"), Some(&7));
        assert_eq!(*d.get_or_insert_with("b", |_| 0), 7);
        assert_eq!(*d.get_or_insert_with("d", |k| k.len() as u8 * 4), 4);
        assert_eq!(order(&d), [("c", 3), ("b", 7), ("d", 4)]);
    }
}
