//! Traffic splits between releases; weights always sum to 100.

use std::fmt;

use super::release::{Release, ReleaseRef};
use crate::error::Error;

/// The share of traffic one release receives.
///
/// Splits keep their weights in a canonical order: largest share first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrafficWeight {
    /// The release.
    pub release: ReleaseRef,
    /// Percent of requests, 0–100.
    pub percent: u8,
}

/// How traffic is divided between releases. The weights always sum to 100 and name each release
/// once (invariant 1 of the design); the constructor and deserialisation enforce it.
///
/// ```
/// use rollback_core::{Release, TrafficSplit, Version};
/// let a = Release::new(Version::parse("v1").unwrap(), "a");
/// let b = Release::new(Version::parse("v2").unwrap(), "b");
/// let split = TrafficSplit::new(vec![(a.reference(), 75), (b.reference(), 25)]).unwrap();
/// assert_eq!(split.percent_for("b"), 25);
/// assert!(TrafficSplit::new(vec![(a.reference(), 75)]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<TrafficWeight>", into = "Vec<TrafficWeight>")]
pub struct TrafficSplit {
    weights: Vec<TrafficWeight>,
}

impl TrafficSplit {
    /// A split from `(release, percent)` pairs. Zero weights are dropped.
    ///
    /// Fails when the weights do not sum to 100 or a revision appears twice.
    pub fn new(weights: Vec<(ReleaseRef, u8)>) -> Result<Self, Error> {
        Self::try_from(
            weights
                .into_iter()
                .map(|(release, percent)| TrafficWeight { release, percent })
                .collect::<Vec<_>>(),
        )
    }

    /// All traffic to one release.
    pub fn all_to(release: &Release) -> Self {
        TrafficSplit {
            weights: vec![TrafficWeight {
                release: release.reference(),
                percent: 100,
            }],
        }
    }

    /// `percent` to `to`, the rest to `from`. `percent` is clamped to 100.
    pub fn shift(from: &Release, to: &Release, percent: u8) -> Result<Self, Error> {
        let percent = percent.min(100);
        Self::new(vec![
            (to.reference(), percent),
            (from.reference(), 100 - percent),
        ])
    }

    /// The non-zero weights.
    pub fn weights(&self) -> &[TrafficWeight] {
        &self.weights
    }

    /// The percent a revision receives (0 if absent).
    pub fn percent_for(&self, revision: &str) -> u8 {
        self.weights
            .iter()
            .find(|w| w.release.revision == revision)
            .map_or(0, |w| w.percent)
    }

    /// The release with the largest share (ties: the first listed).
    pub fn primary(&self) -> &ReleaseRef {
        let mut best = &self.weights[0];
        for w in &self.weights[1..] {
            if w.percent > best.percent {
                best = w;
            }
        }
        &best.release
    }

    /// Whether all traffic goes to `revision`.
    pub fn is_all_to(&self, revision: &str) -> bool {
        self.percent_for(revision) == 100
    }
}

impl TryFrom<Vec<TrafficWeight>> for TrafficSplit {
    type Error = Error;
    fn try_from(weights: Vec<TrafficWeight>) -> Result<Self, Error> {
        let mut weights: Vec<_> = weights.into_iter().filter(|w| w.percent > 0).collect();
        // Canonical order (largest share first, then by revision) so that equal splits compare
        // equal however they were written.
        weights.sort_by(|a, b| {
            b.percent
                .cmp(&a.percent)
                .then_with(|| a.release.revision.cmp(&b.release.revision))
        });
        let sum: u32 = weights.iter().map(|w| u32::from(w.percent)).sum();
        if sum != 100 {
            return Err(Error::invalid_input(format!(
                "traffic weights sum to {sum}: they must sum to exactly 100"
            )));
        }
        for (i, w) in weights.iter().enumerate() {
            if weights[..i]
                .iter()
                .any(|o| o.release.revision == w.release.revision)
            {
                return Err(Error::invalid_input(format!(
                    "revision {:?} appears twice in a traffic split: each release may appear once",
                    w.release.revision
                )));
            }
        }
        Ok(TrafficSplit { weights })
    }
}

impl From<TrafficSplit> for Vec<TrafficWeight> {
    fn from(s: TrafficSplit) -> Self {
        s.weights
    }
}

impl fmt::Display for TrafficSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.weights.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}%", w.release.version, w.percent)?;
        }
        Ok(())
    }
}
