//! Deterministic noise: a seeded RNG keyed by (seed, release, metric, time).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// FNV-1a over the parts, finished with SplitMix64, so nearby keys give unrelated seeds.
pub(crate) fn key(seed: u64, parts: &[&[u8]], n: i64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for p in parts {
        eat(p);
    }
    eat(&n.to_le_bytes());
    splitmix(h)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small RNG seeded from a key.
pub(crate) fn rng(key: u64) -> SmallRng {
    SmallRng::seed_from_u64(key)
}

/// A value in `[-1, 1]` determined by the key.
pub(crate) fn unit(key: u64) -> f64 {
    rng(key).random_range(-1.0..=1.0)
}
