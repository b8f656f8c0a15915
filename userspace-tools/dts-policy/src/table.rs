//! A map with a fixed capacity that evicts its oldest entry when full.
//!
//! Every per-path or per-client table of the policies is a [`BoundedMap`],
//! so a stream of distinct URLs or clients cannot grow the proxy's memory
//! past `capacity` entries. "Oldest" means least recently *written*: an
//! [`insert`](BoundedMap::insert) (new key or update) makes the entry the
//! youngest; reads do not change the order.
//!
//! Both indexes are `BTreeMap`s: lookups are O(log n) in the worst case
//! whatever the keys, nothing is randomly seeded, and the behaviour is the
//! same on every run.

use std::collections::BTreeMap;

/// A map holding at most `capacity` entries, evicting the least recently
/// written one to make room.
#[derive(Clone, Debug)]
pub struct BoundedMap<K, V> {
    capacity: usize,
    next_seq: u64,
    entries: BTreeMap<K, (u64, V)>,
    by_age: BTreeMap<u64, K>,
}

impl<K: Ord + Clone, V> BoundedMap<K, V> {
    /// An empty map for at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            next_seq: 0,
            entries: BTreeMap::new(),
            by_age: BTreeMap::new(),
        }
    }

    /// The maximum number of entries.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(_, v)| v)
    }

    /// The value of `key`, mutable; does not make the entry younger.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    /// Sets `key` to `value` and makes it the youngest entry. When `key` is
    /// new and the map is full, the oldest entry is evicted first and
    /// returned.
    pub fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let mut evicted = None;
        if let Some((old_seq, _)) = self.entries.get(&key) {
            let old_seq = *old_seq;
            self.by_age.remove(&old_seq);
        } else if self.entries.len() >= self.capacity {
            evicted = self.pop_oldest();
        }
        self.by_age.insert(seq, key.clone());
        self.entries.insert(key, (seq, value));
        evicted
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let (seq, v) = self.entries.remove(key)?;
        self.by_age.remove(&seq);
        Some(v)
    }

    /// The least recently written entry.
    pub fn oldest(&self) -> Option<(&K, &V)> {
        let (_, key) = self.by_age.first_key_value()?;
        self.entries.get_key_value(key).map(|(k, (_, v))| (k, v))
    }

    /// Removes and returns the least recently written entry.
    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        let (_, key) = self.by_age.pop_first()?;
        let (_, v) = self.entries.remove(&key)?;
        Some((key, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_oldest_when_full() {
        let mut m = BoundedMap::new(3);
        assert!(m.insert(1, "a").is_none());
        assert!(m.insert(2, "b").is_none());
        assert!(m.insert(3, "c").is_none());
        assert_eq!(m.insert(4, "d"), Some((1, "a")));
        assert_eq!(m.len(), 3);
        assert_eq!(m.get(&1), None);
        assert_eq!(m.oldest(), Some((&2, &"b")));
    }

    #[test]
    fn update_makes_the_entry_youngest() {
        let mut m = BoundedMap::new(2);
        m.insert(1, 10);
        m.insert(2, 20);
        assert!(m.insert(1, 11).is_none());
        assert_eq!(m.insert(3, 30), Some((2, 20)));
        assert_eq!(m.get(&1), Some(&11));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn get_mut_and_remove() {
        let mut m = BoundedMap::new(4);
        m.insert("x", 1);
        m.insert("y", 2);
        if let Some(v) = m.get_mut(&"x") {
            *v = 5;
        }
        // get_mut did not refresh "x": it is still the oldest.
        assert_eq!(m.oldest(), Some((&"x", &5)));
        assert_eq!(m.remove(&"x"), Some(5));
        assert_eq!(m.remove(&"x"), None);
        assert_eq!(m.pop_oldest(), Some(("y", 2)));
        assert!(m.is_empty());
        assert_eq!(m.pop_oldest(), None);
    }

    #[test]
    fn capacity_is_at_least_one() {
        let mut m = BoundedMap::new(0);
        assert_eq!(m.capacity(), 1);
        m.insert(1, ());
        m.insert(2, ());
        assert_eq!(m.len(), 1);
        assert!(m.get(&2).is_some());
    }

    #[test]
    fn never_exceeds_capacity() {
        let mut m = BoundedMap::new(100);
        for i in 0..10_000u32 {
            m.insert(i % 977, i);
            assert!(m.len() <= 100);
        }
    }
}
