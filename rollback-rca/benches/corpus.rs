//! Deterministic synthetic log corpus for the throughput and memory benchmarks.
//!
//! `Corpus::new(seed)` builds 400 message templates (3–14 tokens) from a digit-free vocabulary,
//! with parameters of many shapes: integers, IPv4 addresses, hex ids, paths, durations, user
//! names (word parameters), id lists of 1–5 ids and names of 1–3 words (parameters that change
//! the token count). Template popularity is skewed (Zipf-like), 2% of lines are short messages
//! and 1% are novel word salads, so new clusters keep appearing and the LRU bound is exercised.
//! The same seed always yields the same lines.

#![allow(dead_code)]

/// A small, fast, deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Word(usize),
    Int,
    Ip,
    Hex,
    Path,
    Duration,
    User,
    IdList,
    Name,
}

pub struct Corpus {
    rng: Rng,
    vocab: Vec<String>,
    templates: Vec<Vec<Slot>>,
    /// Cumulative weights for the skewed template choice.
    weights: Vec<u64>,
    salads: u64,
}

const USERS: [&str; 12] = [
    "root", "admin", "oracle", "test", "guest", "ubuntu", "git", "postgres", "nagios", "deploy",
    "jenkins", "www",
];
const SHORT: [&str; 8] = [
    "Restart",
    "Shutdown",
    "Connection closed",
    "Connection reset",
    "Digest: done",
    "ok",
    "Shutting down",
    "Starting",
];

fn word(rng: &mut Rng) -> String {
    const C: &[u8] = b"bcdfghjklmnprstvwz";
    const V: &[u8] = b"aeiou";
    let syllables = 1 + rng.below(3);
    let mut w = String::new();
    for _ in 0..syllables {
        w.push(C[rng.below(C.len() as u64) as usize] as char);
        w.push(V[rng.below(V.len() as u64) as usize] as char);
    }
    if rng.below(3) == 0 {
        w.push(C[rng.below(C.len() as u64) as usize] as char);
    }
    w
}

impl Corpus {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let vocab: Vec<String> = (0..600).map(|_| word(&mut rng)).collect();
        let mut templates = Vec::new();
        for _ in 0..400 {
            let len = 3 + rng.below(12) as usize;
            let mut t = Vec::with_capacity(len);
            for pos in 0..len {
                let slot = if pos < 2 || rng.below(10) < 6 {
                    Slot::Word(rng.below(vocab.len() as u64) as usize)
                } else {
                    match rng.below(9) {
                        0 | 1 => Slot::Int,
                        2 => Slot::Ip,
                        3 => Slot::Hex,
                        4 => Slot::Path,
                        5 => Slot::Duration,
                        6 => Slot::User,
                        7 => Slot::IdList,
                        _ => Slot::Name,
                    }
                };
                t.push(slot);
            }
            templates.push(t);
        }
        let mut total = 0;
        let weights = (0..templates.len() as u64)
            .map(|i| {
                total += 10_000 / (i + 1) + 1;
                total
            })
            .collect();
        Self {
            rng,
            vocab,
            templates,
            weights,
            salads: 0,
        }
    }

    /// Writes the next line (without newline) into `out`, replacing its content, and returns
    /// the line's ground-truth event (its template; every word salad is an event of its own).
    pub fn next_line(&mut self, out: &mut String) -> u64 {
        use std::fmt::Write;
        out.clear();
        let roll = self.rng.below(100);
        if roll < 2 {
            let k = self.rng.below(SHORT.len() as u64);
            out.push_str(SHORT[k as usize]);
            return 1_000 + k;
        }
        if roll < 3 {
            for i in 0..5 {
                if i > 0 {
                    out.push(' ');
                }
                let w = word(&mut self.rng);
                out.push_str(&w);
            }
            self.salads += 1;
            return 1_000_000 + self.salads;
        }
        let total = *self.weights.last().unwrap_or(&1);
        let pick = self.rng.below(total);
        let idx = self.weights.partition_point(|&w| w <= pick);
        let idx = idx.min(self.templates.len() - 1);
        for (i, slot) in self.templates[idx].clone().into_iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let r = &mut self.rng;
            let _ = match slot {
                Slot::Word(w) => {
                    out.push_str(&self.vocab[w]);
                    Ok(())
                }
                Slot::Int => write!(out, "{}", r.below(100_000)),
                Slot::Ip => write!(
                    out,
                    "{}.{}.{}.{}",
                    10 + r.below(200),
                    r.below(256),
                    r.below(256),
                    1 + r.below(254)
                ),
                Slot::Hex => write!(out, "0x{:08x}", r.next_u64() as u32),
                Slot::Path => write!(
                    out,
                    "/var/lib/app/{}/data-{}.log",
                    r.below(64),
                    r.below(1000)
                ),
                Slot::Duration => write!(out, "{}ms", r.below(5000)),
                Slot::User => {
                    out.push_str(USERS[r.below(USERS.len() as u64) as usize]);
                    Ok(())
                }
                Slot::IdList => {
                    let n = 1 + r.below(5);
                    out.push('[');
                    for k in 0..n {
                        if k > 0 {
                            out.push_str(", ");
                        }
                        let _ = write!(out, "{}", r.below(1_000_000));
                    }
                    out.push(']');
                    Ok(())
                }
                Slot::Name => {
                    let n = 1 + r.below(3);
                    for k in 0..n {
                        if k > 0 {
                            out.push(' ');
                        }
                        let w = word(r);
                        let mut cs = w.chars();
                        if let Some(c) = cs.next() {
                            out.push(c.to_ascii_uppercase());
                            out.push_str(cs.as_str());
                        }
                    }
                    Ok(())
                }
            };
        }
        idx as u64
    }
}
