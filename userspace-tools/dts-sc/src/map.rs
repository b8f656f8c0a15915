//! The owner map of `dts-scserver`: which node owns which request paths.
//!
//! Pure logic. The map file has one entry a line, `PREFIX NODE_ID`, for
//! example `/n2/ 2`; blank lines and comments (from a `#` that starts a
//! word to the end of the line) are allowed. A prefix starts with `/` and
//! appears once; a node id is `1..=32`. [`OwnerMap::owner`] picks the
//! entry with the longest prefix of the request path; a path no prefix
//! matches has no owner (it is served locally).

use crate::parse_node_id;

/// A map file line that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct MapError {
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub what: String,
}

/// The parsed owner map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerMap {
    /// `(prefix, node)`, in file order.
    entries: Vec<(String, u32)>,
}

impl OwnerMap {
    /// Parses a map file's text.
    pub fn parse(text: &str) -> Result<Self, MapError> {
        let mut entries: Vec<(String, u32)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |what: String| MapError { line, what };
            let words: Vec<&str> = raw
                .split_whitespace()
                .take_while(|w| !w.starts_with('#'))
                .collect();
            match words.as_slice() {
                [] => {}
                [prefix, node] => {
                    if !prefix.starts_with('/') {
                        return Err(err(format!("prefix {prefix:?} does not start with '/'")));
                    }
                    let node = parse_node_id(node).map_err(|e| err(e.to_string()))?;
                    if entries.iter().any(|(p, _)| p == prefix) {
                        return Err(err(format!("prefix {prefix:?} appears twice")));
                    }
                    entries.push(((*prefix).to_owned(), node));
                }
                [_] => return Err(err("expected `PREFIX NODE_ID`, found one word".to_owned())),
                _ => {
                    return Err(err(format!(
                        "expected `PREFIX NODE_ID`, found {} words",
                        words.len()
                    )))
                }
            }
        }
        Ok(Self { entries })
    }

    /// The node owning `path`: the entry with the longest prefix of it.
    pub fn owner(&self, path: &str) -> Option<u32> {
        self.entries
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|&(_, node)| node)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The nodes the map names, sorted, without duplicates.
    pub fn nodes(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.entries.iter().map(|&(_, n)| n).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_longest_prefix() {
        let m =
            OwnerMap::parse("# owners\n\n/n2/ 2\n  /n3/   3   # node three\n/n2/sub/ 3\n/ 1\n\t\n")
                .unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m.nodes(), vec![1, 2, 3]);
        assert_eq!(m.owner("/n2/a.bin"), Some(2));
        assert_eq!(m.owner("/n2/sub/a.bin"), Some(3));
        assert_eq!(m.owner("/n2/subx"), Some(2));
        assert_eq!(m.owner("/n3/"), Some(3));
        assert_eq!(m.owner("/other"), Some(1));
        let m = OwnerMap::parse("/n2/ 2\n").unwrap();
        assert_eq!(m.owner("/n3/x"), None);
        assert_eq!(m.owner("/n2"), None);
    }

    #[test]
    fn empty_map() {
        for text in ["", "\n\n", "# nothing\n   # here\n"] {
            let m = OwnerMap::parse(text).unwrap();
            assert!(m.is_empty());
            assert_eq!(m.owner("/x"), None);
        }
    }

    #[test]
    fn bad_lines_name_their_number() {
        for (text, line) in [
            ("/n2/ 2\nn3/ 3\n", 2),
            ("/n2/ 0\n", 1),
            ("/n2/ 33\n", 1),
            ("\n\n/n2/ x\n", 3),
            ("/n2/\n", 1),
            ("/n2/ 2 3\n", 1),
            ("/n2/ 2\n/n2/ 3\n", 2),
            ("/n2/ -1\n", 1),
        ] {
            let e = OwnerMap::parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("line {line}: ")));
        }
    }
}
