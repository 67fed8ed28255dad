//! Drain's fixed-depth prefix tree: token count, then the first few tokens, then a leaf list.

use rustc_hash::FxHashMap;

use super::tokenize::{has_digit, WILDCARD};

#[derive(Debug, Default)]
struct Node {
    children: FxHashMap<Box<str>, Node>,
    leaf: Vec<usize>,
}

/// Where a cluster sits in the tree: its token count and the child keys taken below it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeafPath {
    len: usize,
    keys: Vec<Box<str>>,
    indexed: bool,
}

#[derive(Debug)]
pub(crate) struct Tree {
    roots: FxHashMap<usize, Node>,
    /// Drain.py's `self.depth`: the configured depth minus two.
    max_depth: usize,
    max_children: usize,
    /// Drain.py never files a cluster whose token count is below `max_depth`; keep that quirk
    /// only when faithful.
    faithful: bool,
}

impl Tree {
    pub(crate) fn new(depth: usize, max_children: usize, faithful: bool) -> Self {
        Self {
            roots: FxHashMap::default(),
            max_depth: depth.saturating_sub(2).max(1),
            max_children,
            faithful,
        }
    }

    /// Number of token layers walked for a sequence of `len` tokens.
    fn walk_len(&self, len: usize) -> usize {
        len.min(self.max_depth - 1)
    }

    /// The leaf list for `tokens` (Drain's `treeSearch`), if any.
    pub(crate) fn search(&self, tokens: &[impl AsRef<str>]) -> &[usize] {
        let Some(mut node) = self.roots.get(&tokens.len()) else {
            return &[];
        };
        for token in &tokens[..self.walk_len(tokens.len())] {
            match node
                .children
                .get(token.as_ref())
                .or_else(|| node.children.get(WILDCARD))
            {
                Some(child) => node = child,
                None => return &[],
            }
        }
        &node.leaf
    }

    /// Files cluster `slot` under `tokens` (Drain's `addSeqToPrefixTree`).
    pub(crate) fn insert(&mut self, tokens: &[impl AsRef<str>], slot: usize) -> LeafPath {
        let len = tokens.len();
        let walk = self.walk_len(len);
        let mut path = LeafPath {
            len,
            keys: Vec::with_capacity(walk),
            indexed: !(self.faithful && len < self.max_depth),
        };
        let max_children = self.max_children;
        let mut node = self.roots.entry(len).or_default();
        for token in &tokens[..walk] {
            let token = token.as_ref();
            let key: &str = if node.children.contains_key(token) {
                token
            } else if has_digit(token) || token == WILDCARD {
                WILDCARD
            } else if node.children.contains_key(WILDCARD) {
                if node.children.len() < max_children {
                    token
                } else {
                    WILDCARD
                }
            } else if node.children.len() + 1 < max_children {
                token
            } else {
                WILDCARD
            };
            path.keys.push(key.into());
            node = node.children.entry(key.into()).or_default();
        }
        if path.indexed && !node.leaf.contains(&slot) {
            node.leaf.push(slot);
        }
        path
    }

    /// Whether a token at `position` of a `len`-token sequence routes through the tree.
    pub(crate) fn routes(&self, len: usize, position: usize) -> bool {
        position < self.walk_len(len)
    }

    /// Removes cluster `slot` filed at `path`, pruning nodes left empty.
    pub(crate) fn remove(&mut self, path: &LeafPath, slot: usize) {
        if !path.indexed {
            return;
        }
        if let Some(root) = self.roots.get_mut(&path.len) {
            remove_below(root, &path.keys, slot);
            if root.children.is_empty() && root.leaf.is_empty() {
                self.roots.remove(&path.len);
            }
        }
    }
}

fn remove_below(node: &mut Node, keys: &[Box<str>], slot: usize) {
    match keys.split_first() {
        None => node.leaf.retain(|&s| s != slot),
        Some((key, rest)) => {
            if let Some(child) = node.children.get_mut(key) {
                remove_below(child, rest, slot);
                if child.children.is_empty() && child.leaf.is_empty() {
                    node.children.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_length_and_leading_tokens() {
        let mut t = Tree::new(4, 100, false);
        t.insert(&["Deleting", "block", "x"], 0);
        t.insert(&["Receiving", "block", "x"], 1);
        assert_eq!(t.search(&["Deleting", "block", "y"]), &[0]);
        assert_eq!(t.search(&["Receiving", "y", "z"]), &[1]);
        assert!(t.search(&["Deleting", "block"]).is_empty());
    }

    #[test]
    fn tokens_with_digits_share_the_wildcard_child() {
        let mut t = Tree::new(4, 100, false);
        t.insert(&["42", "done"], 0);
        assert_eq!(t.search(&["77", "done"]), &[0]);
    }

    #[test]
    fn past_max_children_new_tokens_go_to_the_wildcard_child() {
        let mut t = Tree::new(4, 3, false);
        t.insert(&["a", "x"], 0);
        t.insert(&["b", "x"], 1);
        t.insert(&["c", "x"], 2); // the last free child becomes the wildcard
        t.insert(&["d", "x"], 3);
        assert_eq!(t.search(&["b", "x"]), &[1]);
        assert_eq!(t.search(&["zzz", "x"]), &[2, 3]);
    }

    #[test]
    fn faithful_mode_never_files_sequences_shorter_than_its_depth() {
        let mut t = Tree::new(6, 100, true);
        t.insert(&["Connection", "closed"], 0);
        assert!(t.search(&["Connection", "closed"]).is_empty());
    }

    #[test]
    fn removing_the_last_cluster_prunes_its_path() {
        let mut t = Tree::new(5, 100, false);
        let p = t.insert(&["a", "b", "c"], 0);
        t.remove(&p, 0);
        assert!(t.roots.is_empty());
    }
}
