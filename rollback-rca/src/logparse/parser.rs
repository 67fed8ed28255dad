//! The streaming parser: tree search, cluster store with LRU eviction, and cluster merging.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};

use regex::Regex;
use rustc_hash::{FxHashMap, FxHasher};

use super::config::{ConfigError, ParserConfig, Strategy};
use super::format::LogFormat;
use super::tokenize::{apply_masks, tokens_generalised, tokens_plain, WILDCARD};
use super::tree::{LeafPath, Tree};

const NIL: usize = usize::MAX;
/// Distinct constant values one position must take across otherwise identical templates before
/// the improved strategy calls it a parameter.
const SIBLING_VALUES: usize = 3;
/// Templates with fewer constant tokens than this accept only messages that agree on all of
/// them (improved strategy): in `Connection closed` / `Connection reset` the differing word is
/// the event, not a parameter.
const FUZZY_MIN_CONSTANTS: usize = 4;
/// Constant tokens a template must keep (besides a candidate position) before it may merge
/// with others: with less context two templates say too little to be the same event.
const MIN_CONTEXT_CONSTANTS: usize = 2;
/// Positions of a template considered for sibling merging (and tracked in a bit set).
const MAX_INDEXED_POSITIONS: usize = 64;
/// Longest example line kept, in bytes.
const MAX_EXAMPLE_BYTES: usize = 512;

/// Identifies a cluster (a template) of a [`Parser`].
///
/// Clusters can merge as the parser learns; an id handed out earlier then stands for the cluster
/// it merged into, which [`Parser::resolve`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterId(u64);

impl ClusterId {
    /// The id as a number (unique within one parser, never reused).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "C{}", self.0)
    }
}

/// What a parser knows about one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSummary {
    /// The cluster's id.
    pub id: ClusterId,
    /// Its template, parameters shown as `<*>`.
    pub template: String,
    /// Messages it received (including those of clusters merged into it).
    pub count: u64,
    /// The first few lines it received, each cut to 512 bytes.
    pub examples: Vec<String>,
}

#[derive(Debug)]
struct Cluster {
    id: u64,
    template: Vec<Box<str>>,
    /// `token_hash` of each template token: comparisons in the hot path are on these.
    hashes: Vec<u64>,
    /// Where the cluster is filed in the tree: where it was created, plus the wildcard route of
    /// each leading position that sibling merging made a parameter.
    paths: Vec<LeafPath>,
    /// Slot of the representative this cluster forwards to (its own slot if it is one).
    rep: usize,
    /// Clusters forwarding to this one.
    stubs: Vec<usize>,
    count: u64,
    examples: Vec<String>,
    /// Positions made parameters by sibling merging.
    variable: u64,
    hole_keys: Vec<u64>,
    shape_key: Option<u64>,
    prev: usize,
    next: usize,
}

/// An online log template miner (Drain, He et al. 2017, with improvements; see [`Strategy`]).
///
/// Feed lines with [`add`](Self::add); each returns the id of the cluster the line joined. Memory
/// is bounded: at most `max_clusters` clusters are kept, the least recently used one is forgotten
/// first, and each keeps a bounded number of example lines.
///
/// ```
/// use rollback_rca::logparse::{Parser, ParserConfig};
/// let mut parser = Parser::new(ParserConfig::new())?;
/// for user in ["alice", "bob", "carol", "dave"] {
///     parser.add(&format!("Accepted password for {user} from 10.0.0.7 port 22 ssh2"));
/// }
/// let templates = parser.templates();
/// assert_eq!(templates, ["Accepted password for <*> from <*> port <*>"]);
/// # Ok::<(), rollback_rca::logparse::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Parser {
    similarity: f64,
    max_clusters: usize,
    max_examples: usize,
    strategy: Strategy,
    format: Option<LogFormat>,
    masks: Vec<Regex>,
    tree: Tree,
    slots: Vec<Option<Cluster>>,
    free: Vec<usize>,
    ids: FxHashMap<u64, usize>,
    next_id: u64,
    live: usize,
    head: usize,
    tail: usize,
    holes: FxHashMap<u64, Vec<usize>>,
    shapes: FxHashMap<u64, usize>,
    /// Improved strategy: token-sequence hash → (slot, id) of the cluster that last took that
    /// exact sequence, so repeated messages skip the leaf scan. Cleared when it outgrows
    /// `4 * max_clusters` entries.
    seen: FxHashMap<u64, (usize, u64)>,
    lines: u64,
    unformatted: u64,
}

impl Parser {
    /// Builds a parser, checking every setting.
    pub fn new(config: ParserConfig) -> Result<Self, ConfigError> {
        if !(0.0..=1.0).contains(&config.similarity) {
            return Err(ConfigError::Similarity(config.similarity));
        }
        if config.depth < 3 {
            return Err(ConfigError::Depth(config.depth));
        }
        if config.max_children < 2 {
            return Err(ConfigError::MaxChildren(config.max_children));
        }
        if config.max_clusters == 0 {
            return Err(ConfigError::MaxClusters);
        }
        let format = config.format.as_deref().map(LogFormat::new).transpose()?;
        let masks = config
            .masks
            .iter()
            .map(|m| {
                Regex::new(m).map_err(|e| ConfigError::Mask {
                    pattern: m.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let faithful = config.strategy == Strategy::Drain;
        Ok(Self {
            similarity: config.similarity,
            max_clusters: config.max_clusters,
            max_examples: config.max_examples,
            strategy: config.strategy,
            format,
            masks,
            tree: Tree::new(config.depth, config.max_children, faithful),
            slots: Vec::new(),
            free: Vec::new(),
            ids: FxHashMap::default(),
            next_id: 1,
            live: 0,
            head: NIL,
            tail: NIL,
            holes: FxHashMap::default(),
            shapes: FxHashMap::default(),
            seen: FxHashMap::default(),
            lines: 0,
            unformatted: 0,
        })
    }

    /// Mines one log line: extracts its `<Content>` with the configured format (a line that does
    /// not match the format is mined whole and counted by [`unformatted`](Self::unformatted)),
    /// and returns the cluster it joined.
    pub fn add(&mut self, line: &str) -> ClusterId {
        let content = match &self.format {
            Some(format) => match format.content(line) {
                Some(content) => content,
                None => {
                    self.unformatted += 1;
                    line.trim()
                }
            },
            None => line.trim(),
        };
        self.add_with_example(content, line)
    }

    /// Mines a message whose header was already removed (the format is not applied).
    pub fn add_content(&mut self, content: &str) -> ClusterId {
        self.add_with_example(content, content)
    }

    /// The cluster that `id` stands for now (after merges), or `None` if it was forgotten.
    pub fn resolve(&self, id: ClusterId) -> Option<ClusterId> {
        let slot = *self.ids.get(&id.0)?;
        let rep = self.cluster(slot)?.rep;
        Some(ClusterId(self.cluster(rep)?.id))
    }

    /// The template of the cluster `id` stands for, if still known.
    pub fn template(&self, id: ClusterId) -> Option<String> {
        let slot = *self.ids.get(&id.0)?;
        let rep = self.cluster(slot)?.rep;
        self.cluster(rep).map(|c| self.render(c))
    }

    /// A summary of the cluster `id` stands for, if still known.
    pub fn cluster_summary(&self, id: ClusterId) -> Option<ClusterSummary> {
        let slot = *self.ids.get(&id.0)?;
        let rep = self.cluster(slot)?.rep;
        self.cluster(rep).map(|c| self.summary(c))
    }

    /// Every current cluster, most recently used first.
    pub fn clusters(&self) -> Vec<ClusterSummary> {
        self.lru_order()
            .filter(|c| self.ids.get(&c.id) == Some(&c.rep))
            .map(|c| self.summary(c))
            .collect()
    }

    /// Every current template, most recently used first.
    pub fn templates(&self) -> Vec<String> {
        self.lru_order()
            .filter(|c| self.ids.get(&c.id) == Some(&c.rep))
            .map(|c| self.render(c))
            .collect()
    }

    /// Clusters held in memory, including those kept only to forward to the cluster they merged
    /// into; never more than `max_clusters`.
    pub fn tracked_clusters(&self) -> usize {
        self.live
    }

    /// Lines mined so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Lines that did not match the configured format (and were mined whole).
    pub fn unformatted(&self) -> u64 {
        self.unformatted
    }

    fn add_with_example(&mut self, content: &str, line: &str) -> ClusterId {
        self.lines += 1;
        let masked = apply_masks(&self.masks, content);
        let mut tokens: Vec<Cow<'_, str>> = Vec::with_capacity(32);
        match self.strategy {
            Strategy::Drain => tokens_plain(&masked, &mut tokens),
            Strategy::Improved => tokens_generalised(&masked, &mut tokens),
        }
        let hashes: Vec<u64> = tokens.iter().map(|t| token_hash(t)).collect();
        let improved = self.strategy == Strategy::Improved;
        let key = if improved { sequence_hash(&hashes) } else { 0 };
        let cached = if improved {
            self.cached(key, &hashes)
        } else {
            None
        };
        let slot = match cached.or_else(|| self.fast_match(&tokens, &hashes)) {
            Some(slot) => {
                self.absorb(slot, &hashes);
                slot
            }
            None => self.create(&tokens, &hashes),
        };
        if improved && cached.is_none() {
            if self.seen.len() >= self.max_clusters.saturating_mul(4) {
                self.seen.clear();
            }
            if let Some(c) = self.cluster(slot) {
                self.seen.insert(key, (slot, c.id));
            }
        }
        let rep = self.cluster(slot).map_or(slot, |c| c.rep);
        let max_examples = self.max_examples;
        let id = match self.slots.get_mut(rep).and_then(Option::as_mut) {
            Some(c) => {
                c.count += 1;
                if c.examples.len() < max_examples {
                    c.examples
                        .push(truncate(line, MAX_EXAMPLE_BYTES).to_owned());
                }
                c.id
            }
            None => 0,
        };
        self.touch(slot);
        if rep != slot {
            self.touch(rep);
        }
        ClusterId(id)
    }

    /// The cluster that last took exactly these tokens, if it is still there and still takes
    /// them with every position equal or a parameter.
    fn cached(&self, key: u64, hashes: &[u64]) -> Option<usize> {
        let &(slot, id) = self.seen.get(&key)?;
        let c = self.cluster(slot)?;
        let wild = wild_hash();
        let fits = c.id == id
            && c.hashes.len() == hashes.len()
            && c.hashes
                .iter()
                .zip(hashes)
                .all(|(&t, &m)| t == wild || t == m);
        fits.then_some(slot)
    }

    fn cluster(&self, slot: usize) -> Option<&Cluster> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    fn cluster_mut(&mut self, slot: usize) -> Option<&mut Cluster> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    fn render(&self, c: &Cluster) -> String {
        let mut out = String::new();
        let mut last_wild = false;
        for t in &c.template {
            let wild = &**t == WILDCARD;
            if wild && last_wild && self.strategy == Strategy::Improved {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(t);
            last_wild = wild;
        }
        out
    }

    fn summary(&self, c: &Cluster) -> ClusterSummary {
        ClusterSummary {
            id: ClusterId(c.id),
            template: self.render(c),
            count: c.count,
            examples: c.examples.clone(),
        }
    }

    fn lru_order(&self) -> impl Iterator<Item = &Cluster> {
        let mut slot = self.head;
        std::iter::from_fn(move || {
            let c = self.cluster(slot)?;
            slot = c.next;
            Some(c)
        })
    }

    /// Drain's `fastMatch` over the leaf the tree routes `tokens` to.
    fn fast_match(&self, tokens: &[Cow<'_, str>], hashes: &[u64]) -> Option<usize> {
        let mut best: Option<(f64, usize, usize)> = None;
        for &slot in self.tree.search(tokens) {
            let Some(c) = self.cluster(slot) else {
                continue;
            };
            let Some((sim, params)) = self.similarity_of(&c.hashes, hashes) else {
                continue;
            };
            if best.is_none_or(|(s, p, _)| sim > s || (sim == s && params > p)) {
                best = Some((sim, params, slot));
            }
        }
        best.filter(|(sim, _, _)| *sim >= self.similarity)
            .map(|(_, _, slot)| slot)
    }

    /// Drain's `seqDist` (similarity, parameter count); `None` when the improved strategy rules
    /// the pair out whatever the threshold.
    fn similarity_of(&self, template: &[u64], tokens: &[u64]) -> Option<(f64, usize)> {
        if template.len() != tokens.len() {
            return None;
        }
        if template.is_empty() {
            return Some((1.0, 0));
        }
        let n = template.len() as f64;
        // A pair that cannot reach the threshold any more is dropped early: it could never be
        // the match (Drain keeps the best pair and then compares it with the threshold).
        let floor = self.similarity * n - 1e-9;
        let improved = self.strategy == Strategy::Improved;
        let (mut same, mut params, mut constants, mut misses) = (0usize, 0usize, 0usize, 0usize);
        let wild = wild_hash();
        for (&t, &m) in template.iter().zip(tokens) {
            if t == wild {
                params += 1;
                if !improved {
                    misses += 1;
                }
            } else {
                constants += 1;
                if t == m {
                    same += 1;
                } else {
                    misses += 1;
                }
            }
            if ((template.len() - misses) as f64) < floor {
                return None;
            }
        }
        match self.strategy {
            Strategy::Drain => Some((same as f64 / n, params)),
            Strategy::Improved => {
                // A differing word is a parameter only in a template with enough constants,
                // and at most half of them may differ.
                let conflicts = constants - same;
                if conflicts > 0 && (constants < FUZZY_MIN_CONSTANTS || conflicts * 2 > constants) {
                    return None;
                }
                Some(((same + params) as f64 / n, params))
            }
        }
    }

    /// Drain's template update: positions where the message differs become parameters.
    fn absorb(&mut self, slot: usize, hashes: &[u64]) {
        let Some(c) = self.cluster_mut(slot) else {
            return;
        };
        let wild = wild_hash();
        let mut changed = false;
        for ((t, h), &m) in c.template.iter_mut().zip(c.hashes.iter_mut()).zip(hashes) {
            if *h != m && *h != wild {
                *t = WILDCARD.into();
                *h = wild;
                changed = true;
            }
        }
        if changed && c.rep == slot && self.strategy == Strategy::Improved {
            self.reindex(slot);
        }
    }

    fn create(&mut self, tokens: &[Cow<'_, str>], hashes: &[u64]) -> usize {
        while self.live >= self.max_clusters && self.tail != NIL {
            self.evict(self.tail);
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        let path = self.tree.insert(tokens, slot);
        self.slots[slot] = Some(Cluster {
            id,
            template: tokens.iter().map(|t| Box::from(&**t)).collect(),
            hashes: hashes.to_vec(),
            paths: vec![path],
            rep: slot,
            stubs: Vec::new(),
            count: 0,
            examples: Vec::new(),
            variable: 0,
            hole_keys: Vec::new(),
            shape_key: None,
            prev: NIL,
            next: NIL,
        });
        self.ids.insert(id, slot);
        self.live += 1;
        self.push_front(slot);
        if self.strategy == Strategy::Improved {
            self.reindex(slot);
        }
        slot
    }

    // ---- LRU list -------------------------------------------------------------------------

    fn unlink(&mut self, slot: usize) {
        let (prev, next) = match self.cluster(slot) {
            Some(c) => (c.prev, c.next),
            None => return,
        };
        match self.cluster_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.cluster_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    fn push_front(&mut self, slot: usize) {
        let old_head = self.head;
        if let Some(c) = self.cluster_mut(slot) {
            c.prev = NIL;
            c.next = old_head;
        }
        match self.cluster_mut(old_head) {
            Some(h) => h.prev = slot,
            None => self.tail = slot,
        }
        self.head = slot;
    }

    fn touch(&mut self, slot: usize) {
        if self.head != slot && self.cluster(slot).is_some() {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    /// Forgets a cluster; forgetting a representative forgets the clusters forwarding to it.
    fn evict(&mut self, slot: usize) {
        let Some(c) = self.cluster(slot) else {
            return;
        };
        let rep = c.rep;
        if rep == slot {
            let stubs = self.cluster_mut(slot).map(|c| std::mem::take(&mut c.stubs));
            for stub in stubs.unwrap_or_default() {
                self.remove(stub);
            }
        } else if let Some(r) = self.cluster_mut(rep) {
            r.stubs.retain(|&s| s != slot);
        }
        self.remove(slot);
    }

    fn remove(&mut self, slot: usize) {
        self.unindex(slot);
        self.unlink(slot);
        if let Some(c) = self.slots.get_mut(slot).and_then(Option::take) {
            for path in &c.paths {
                self.tree.remove(path, slot);
            }
            self.ids.remove(&c.id);
            self.free.push(slot);
            self.live -= 1;
        }
    }

    // ---- Merging (improved strategy) ------------------------------------------------------

    fn unindex(&mut self, slot: usize) {
        let Some(c) = self.cluster_mut(slot) else {
            return;
        };
        let keys = std::mem::take(&mut c.hole_keys);
        let shape = c.shape_key.take();
        for key in keys {
            if let Some(members) = self.holes.get_mut(&key) {
                members.retain(|&s| s != slot);
                if members.is_empty() {
                    self.holes.remove(&key);
                }
            }
        }
        if let Some(key) = shape {
            if self.shapes.get(&key) == Some(&slot) {
                self.shapes.remove(&key);
            }
        }
    }

    /// Re-files a representative whose template changed, merging it with clusters that now have
    /// the same shape, or with siblings when a position proves to be a parameter.
    fn reindex(&mut self, start: usize) {
        let mut work = vec![start];
        while let Some(slot) = work.pop() {
            match self.cluster(slot) {
                Some(c) if c.rep == slot => {}
                _ => continue,
            }
            self.unindex(slot);
            let Some(c) = self.cluster(slot) else {
                continue;
            };
            let shape = shape_hash(&c.template);
            let constants = c.template.iter().filter(|t| &***t != WILDCARD).count();
            if let Some(&other) = self.shapes.get(&shape) {
                if other != slot
                    && constants >= MIN_CONTEXT_CONSTANTS
                    && self.same_shape(other, slot)
                {
                    self.merge(slot, other);
                    continue;
                }
            }
            let keys: Vec<u64> = (0..c.template.len().min(MAX_INDEXED_POSITIONS))
                .map(|i| hole_hash(&c.template, i))
                .collect();
            self.shapes.insert(shape, slot);
            for &key in &keys {
                self.holes.entry(key).or_default().push(slot);
            }
            if let Some(c) = self.cluster_mut(slot) {
                c.shape_key = Some(shape);
                c.hole_keys = keys.clone();
            }
            let Some(template) = self.cluster(slot).map(|c| &c.template) else {
                continue;
            };
            let context: Vec<bool> = (0..keys.len())
                .map(|i| {
                    let own = usize::from(&*template[i] != WILDCARD);
                    constants - own >= MIN_CONTEXT_CONSTANTS
                })
                .collect();
            for (i, key) in keys.into_iter().enumerate() {
                if !context[i] {
                    continue;
                }
                if let Some(target) = self.merge_siblings(slot, i, key) {
                    work.push(target);
                    break;
                }
            }
        }
    }

    /// Merges the representatives equal to `slot` except at position `i` if that position is
    /// known to be a parameter or takes enough distinct values; returns the merge target.
    fn merge_siblings(&mut self, slot: usize, i: usize, key: u64) -> Option<usize> {
        let members: Vec<usize> = self
            .holes
            .get(&key)?
            .iter()
            .copied()
            .filter(|&m| m == slot || self.equal_except(m, slot, i))
            .collect();
        if members.len() < 2 {
            return None;
        }
        let bit = 1u64 << i;
        let target = match members
            .iter()
            .copied()
            .find(|&m| self.cluster(m).is_some_and(|c| c.variable & bit != 0))
        {
            Some(t) => t,
            None => {
                let constants: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&m| self.cluster(m).is_some_and(|c| &*c.template[i] != WILDCARD))
                    .collect();
                if constants.len() < SIBLING_VALUES {
                    return None;
                }
                constants
                    .iter()
                    .copied()
                    .min_by_key(|&m| self.cluster(m).map_or(u64::MAX, |c| c.id))?
            }
        };
        for m in members {
            if m != target {
                self.merge(m, target);
            }
        }
        let route = match self.cluster_mut(target) {
            Some(t) => {
                t.template[i] = WILDCARD.into();
                t.hashes[i] = wild_hash();
                t.variable |= bit;
                t.template.clone()
            }
            None => return Some(target),
        };
        // New values at a leading position would otherwise miss the target in the tree and
        // start a cluster of their own each: file it under the wildcard route too.
        if self.tree.routes(route.len(), i) {
            let path = self.tree.insert(&route, target);
            if let Some(t) = self.cluster_mut(target) {
                t.paths.push(path);
            }
        }
        Some(target)
    }

    fn equal_except(&self, a: usize, b: usize, i: usize) -> bool {
        match (self.cluster(a), self.cluster(b)) {
            (Some(a), Some(b)) => {
                a.template.len() == b.template.len()
                    && a.template
                        .iter()
                        .zip(&b.template)
                        .enumerate()
                        .all(|(j, (x, y))| j == i || x == y)
            }
            _ => false,
        }
    }

    fn same_shape(&self, a: usize, b: usize) -> bool {
        match (self.cluster(a), self.cluster(b)) {
            (Some(a), Some(b)) => collapsed(&a.template).eq(collapsed(&b.template)),
            _ => false,
        }
    }

    /// Makes `from` (a representative) forward to `into`.
    fn merge(&mut self, from: usize, into: usize) {
        self.unindex(from);
        let Some(f) = self.cluster_mut(from) else {
            return;
        };
        f.rep = into;
        let stubs = std::mem::take(&mut f.stubs);
        let count = std::mem::take(&mut f.count);
        let examples = std::mem::take(&mut f.examples);
        let (len, variable) = (f.template.len(), f.variable);
        for &s in &stubs {
            if let Some(c) = self.cluster_mut(s) {
                c.rep = into;
            }
        }
        let max_examples = self.max_examples;
        if let Some(t) = self.cluster_mut(into) {
            t.stubs.extend(stubs);
            t.stubs.push(from);
            t.count += count;
            let room = max_examples.saturating_sub(t.examples.len());
            t.examples.extend(examples.into_iter().take(room));
            if t.template.len() == len {
                t.variable |= variable;
            }
        }
    }
}

/// A template's tokens with each run of wildcards reduced to one.
fn collapsed(template: &[Box<str>]) -> impl Iterator<Item = &str> {
    let mut last_wild = false;
    template.iter().filter_map(move |t| {
        let wild = &**t == WILDCARD;
        let skip = wild && last_wild;
        last_wild = wild;
        (!skip).then_some(&**t)
    })
}

fn shape_hash(template: &[Box<str>]) -> u64 {
    let mut h = FxHasher::default();
    for t in collapsed(template) {
        t.hash(&mut h);
    }
    h.finish()
}

/// A token's 64-bit hash. Hot-path comparisons use these instead of the strings; two different
/// tokens compare equal only on a hash collision, a chance of about 2^-64 per pair compared.
fn token_hash(token: &str) -> u64 {
    let mut h = FxHasher::default();
    token.hash(&mut h);
    // Final avalanche (SplitMix64) so that similar tokens differ in every bit.
    let mut z = h.finish();
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn wild_hash() -> u64 {
    token_hash(WILDCARD)
}

fn sequence_hash(hashes: &[u64]) -> u64 {
    let mut h = FxHasher::default();
    hashes.len().hash(&mut h);
    for t in hashes {
        t.hash(&mut h);
    }
    h.finish()
}

fn hole_hash(template: &[Box<str>], hole: usize) -> u64 {
    let mut h = FxHasher::default();
    template.len().hash(&mut h);
    hole.hash(&mut h);
    for (j, t) in template.iter().enumerate() {
        if j != hole {
            t.hash(&mut h);
        }
    }
    h.finish()
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
