//! Group accuracy, the Loghub benchmark's parsing-accuracy metric.

use std::collections::hash_map::Entry;
use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Why [`group_accuracy`] could not score a parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccuracyError {
    /// The two label lists cover a different number of messages.
    #[error(
        "the ground truth has {truth} labels but the parse has {parsed}; both must label the same \
         messages in the same order"
    )]
    LengthMismatch {
        /// Number of ground-truth labels.
        truth: usize,
        /// Number of parsed labels.
        parsed: usize,
    },
    /// There is nothing to score.
    #[error("there are no messages to score; accuracy needs at least one labelled message")]
    Empty,
}

/// Group accuracy as the Loghub benchmark defines it (Zhu et al., ICSE-SEIP 2019).
///
/// Message `i` has ground-truth label `truth[i]` and parsed label `parsed[i]`. A message is
/// correct iff the set of messages sharing its parsed label is exactly the set sharing its
/// ground-truth label; the accuracy is the number of correct messages over the number of
/// messages. Label values themselves never matter, only the partition they induce.
///
/// ```
/// use rollback_rca::logparse::group_accuracy;
/// // Ground truth {0,1} {2} {3}; the parse merged 2 and 3: messages 0 and 1 are right.
/// let acc = group_accuracy(&["A", "A", "B", "C"], &[7, 7, 8, 8]).unwrap();
/// assert_eq!(acc, 0.5);
/// ```
pub fn group_accuracy<T: Eq + Hash, P: Eq + Hash>(
    truth: &[T],
    parsed: &[P],
) -> Result<f64, AccuracyError> {
    if truth.len() != parsed.len() {
        return Err(AccuracyError::LengthMismatch {
            truth: truth.len(),
            parsed: parsed.len(),
        });
    }
    if truth.is_empty() {
        return Err(AccuracyError::Empty);
    }
    let mut truth_sizes: FxHashMap<&T, usize> = FxHashMap::default();
    for t in truth {
        *truth_sizes.entry(t).or_default() += 1;
    }
    // For each parsed group: its size, the ground-truth label of its first message, and whether
    // every message in it carries that same label.
    let mut groups: FxHashMap<&P, (usize, &T, bool)> = FxHashMap::default();
    for (t, p) in truth.iter().zip(parsed) {
        match groups.entry(p) {
            Entry::Vacant(v) => {
                v.insert((1, t, true));
            }
            Entry::Occupied(mut o) => {
                let g = o.get_mut();
                g.0 += 1;
                g.2 &= g.1 == t;
            }
        }
    }
    let correct: usize = groups
        .values()
        .filter(|(size, label, pure)| *pure && truth_sizes.get(label) == Some(size))
        .map(|(size, _, _)| size)
        .sum();
    Ok(correct as f64 / truth.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_partitions_score_one_whatever_the_labels() {
        assert_eq!(group_accuracy(&[1, 1, 2], &["x", "x", "y"]), Ok(1.0));
    }

    #[test]
    fn a_split_group_loses_all_its_messages() {
        // Truth {0,1,2}; parse splits it into {0,1} and {2}: nothing is correct.
        assert_eq!(group_accuracy(&[1, 1, 1, 2], &[5, 5, 6, 7]), Ok(0.25));
    }

    #[test]
    fn a_merged_group_loses_all_its_messages() {
        assert_eq!(group_accuracy(&[1, 1, 2, 3], &[5, 5, 5, 6]), Ok(0.25));
    }

    #[test]
    fn mismatched_or_empty_inputs_are_errors() {
        assert!(matches!(
            group_accuracy(&[1, 2], &[1]),
            Err(AccuracyError::LengthMismatch {
                truth: 2,
                parsed: 1
            })
        ));
        assert_eq!(
            group_accuracy::<u8, u8>(&[], &[]),
            Err(AccuracyError::Empty)
        );
    }
}
