//! Tests of the whole judge: scoring, validation of inputs against the config.

use super::*;

fn thresholds() -> ScoreThresholds {
    ScoreThresholds {
        pass: 90.0,
        marginal: 60.0,
    }
}

fn base() -> Vec<f64> {
    (0..50).map(|i| 100.0 + f64::from(i % 10)).collect()
}

fn high() -> Vec<f64> {
    base().into_iter().map(|v| v * 1.5).collect()
}

fn two_groups(metrics: Vec<MetricConfig>) -> JudgeConfig {
    JudgeConfig::new(
        vec![GroupConfig::new("a", 75.0), GroupConfig::new("b", 25.0)],
        metrics,
        thresholds(),
    )
}

#[test]
fn all_passing_metrics_score_100_and_pass() {
    let config = two_groups(vec![MetricConfig::new("m1"), MetricConfig::new("m2")]);
    let inputs = vec![
        MetricInput::new("m1", "a", base(), base()),
        MetricInput::new("m2", "b", base(), base()),
    ];
    let r = judge(&config, &inputs).expect("valid");
    assert_eq!(
        (r.score, r.verdict, r.forced_failure.clone()),
        (100.0, Verdict::Pass, None)
    );
    assert!(
        r.explanation.starts_with("Pass: score 100.00"),
        "{}",
        r.explanation
    );
}

#[test]
fn group_score_is_pass_share_and_summary_is_weighted() {
    let config = two_groups(vec![
        MetricConfig::new("m1"),
        MetricConfig::new("m2"),
        MetricConfig::new("m3"),
    ]);
    let inputs = vec![
        MetricInput::new("m1", "a", high(), base()),
        MetricInput::new("m2", "a", base(), base()),
        MetricInput::new("m3", "b", base(), base()),
    ];
    let r = judge(&config, &inputs).expect("valid");
    assert_eq!(r.groups[0].score, 50.0);
    assert_eq!(r.groups[0].counts.high, 1);
    assert_eq!(r.score, 62.5);
    assert_eq!(r.verdict, Verdict::Marginal);
    assert!(
        r.explanation.contains("failing: m1 High"),
        "{}",
        r.explanation
    );
}

#[test]
fn critical_failure_forces_score_zero_and_fail() {
    let config = two_groups(vec![
        MetricConfig::new("m1").critical(),
        MetricConfig::new("m2"),
    ]);
    let inputs = vec![
        MetricInput::new("m1", "a", high(), base()),
        MetricInput::new("m2", "b", base(), base()),
    ];
    let r = judge(&config, &inputs).expect("valid");
    assert_eq!((r.score, r.verdict), (0.0, Verdict::Fail));
    assert_eq!(
        r.forced_failure,
        Some(ForcedFailure::CriticalFailure {
            metric: "m1".into(),
            label: MetricLabel::High
        })
    );
}

#[test]
fn half_the_metrics_without_data_forces_fail() {
    let config = two_groups(vec![MetricConfig::new("m1"), MetricConfig::new("m2")]);
    let inputs = vec![
        MetricInput::new("m1", "a", vec![], base()),
        MetricInput::new("m2", "b", base(), base()),
    ];
    let r = judge(&config, &inputs).expect("valid");
    assert_eq!(
        r.forced_failure,
        Some(ForcedFailure::TooManyNoData {
            no_data: 1,
            scored: 2
        })
    );
    assert_eq!(r.verdict, Verdict::Fail);
}

#[test]
fn nodata_group_counts_as_100_but_nodata_fail_counts_against_its_group() {
    let config = two_groups(vec![
        MetricConfig::new("m1"),
        MetricConfig::new("m2"),
        MetricConfig::new("m3"),
        MetricConfig::new("m4").must_have_data(),
    ]);
    // Group b: only a NoData metric -> counts as 100.
    let inputs = vec![
        MetricInput::new("m1", "a", base(), base()),
        MetricInput::new("m2", "a", base(), base()),
        MetricInput::new("m3", "b", vec![f64::NAN], base()),
    ];
    let r = judge(&config, &inputs).expect("valid");
    assert!(r.groups[1].no_data);
    assert_eq!(r.score, 100.0);
    // A must-have-data metric without data: group b scores 0.
    let inputs = vec![
        MetricInput::new("m1", "a", base(), base()),
        MetricInput::new("m2", "a", base(), base()),
        MetricInput::new("m4", "b", vec![], base()),
    ];
    let r = judge(&config, &inputs).expect("valid");
    assert_eq!(r.metrics[2].label, MetricLabel::NoDataFail);
    assert_eq!((r.groups[1].score, r.score), (0.0, 75.0));
}

#[test]
fn muted_metrics_are_reported_but_not_scored() {
    let config = two_groups(vec![
        MetricConfig::new("m1").muted(),
        MetricConfig::new("m2"),
    ]);
    let inputs = vec![
        MetricInput::new("m1", "a", high(), base()),
        MetricInput::new("m2", "a", base(), base()),
        // group b has no scored metric: it adds nothing, as in Kayenta.
    ];
    let r = judge(&config, &inputs).expect("valid");
    assert_eq!(r.metrics[0].label, MetricLabel::High);
    assert!(r.metrics[0].muted);
    assert_eq!(r.groups[0].score, 100.0);
    assert_eq!(r.groups[1].contribution, 0.0);
    assert_eq!(r.score, 75.0);
    assert!(r.explanation.contains("1 muted"), "{}", r.explanation);
}

#[test]
fn unknown_group_error_names_the_metric_and_the_accepted_groups() {
    let config = two_groups(vec![MetricConfig::new("m1")]);
    let err = judge(&config, &[MetricInput::new("m1", "zzz", base(), base())])
        .expect_err("unknown group");
    let msg = err.to_string();
    assert!(
        msg.contains("`m1`") && msg.contains("`zzz`") && msg.contains("a, b"),
        "{msg}"
    );
}

#[test]
fn unknown_and_duplicate_metrics_are_rejected() {
    let config = two_groups(vec![MetricConfig::new("m1")]);
    let err = judge(&config, &[MetricInput::new("nope", "a", base(), base())])
        .expect_err("unknown metric");
    assert!(matches!(err, JudgeError::UnknownMetric { .. }));
    assert!(err.to_string().contains("configured metrics: m1"), "{err}");
    let twice = vec![
        MetricInput::new("m1", "a", base(), base()),
        MetricInput::new("m1", "a", base(), base()),
    ];
    assert!(matches!(
        judge(&config, &twice),
        Err(JudgeError::DuplicateMetric { .. })
    ));
}

#[test]
fn invalid_config_is_rejected_before_judging() {
    let mut config = two_groups(vec![MetricConfig::new("m1")]);
    config.thresholds.pass = 120.0;
    let err = judge(&config, &[]).expect_err("pass 120");
    assert!(err.to_string().contains("thresholds.pass"), "{err}");
}

#[test]
fn results_serialize_to_json_with_label_reason_and_explanation() {
    let config = two_groups(vec![MetricConfig::new("m1")]);
    let r = judge(&config, &[MetricInput::new("m1", "a", high(), base())]).expect("valid");
    let json = serde_json::to_value(&r).expect("serializable");
    let m = &json["metrics"][0];
    assert_eq!(m["label"], "High");
    assert_eq!(m["reason"]["rule"], "interval_above_tolerance");
    assert!(m["reason"]["mann_whitney"]["ci"][0]
        .as_f64()
        .is_some_and(|v| v > 0.0));
    assert!(m["explanation"]
        .as_str()
        .is_some_and(|s| s.starts_with("m1: High")));
}

#[test]
fn judging_is_deterministic() {
    let config = two_groups(vec![MetricConfig::new("m1"), MetricConfig::new("m2")]);
    let inputs = vec![
        MetricInput::new("m1", "a", vec![7.0; 20], vec![5.0; 20]),
        MetricInput::new("m2", "b", high(), base()),
    ];
    let first = judge(&config, &inputs).expect("valid");
    for _ in 0..5 {
        assert_eq!(judge(&config, &inputs).expect("valid"), first);
    }
}

/// Reference vectors made by R (`scripts/judge_vectors.R`).
mod r_vectors {
    use super::*;
    use crate::judge::classify::classify;

    #[derive(serde::Deserialize)]
    struct File {
        tolerance: f64,
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        source: String,
        conf_level: f64,
        w: f64,
        p_value: f64,
        estimate: f64,
        ci: (f64, f64),
        interval_label: String,
        kayenta_label: String,
        x: Vec<f64>,
        y: Vec<f64>,
    }

    fn load() -> File {
        let text = include_str!("../../tests/data/judge_vectors.json");
        serde_json::from_str(text).expect("judge_vectors.json parses")
    }

    #[test]
    fn vectors_cover_the_required_cases() {
        let file = load();
        let names: Vec<&str> = file.vectors.iter().map(|v| v.name.as_str()).collect();
        for prefix in [
            "ties_",
            "sizes_",
            "heavy_",
            "identical_",
            "tiny_",
            "large_1000",
            "boundary_",
        ] {
            assert!(
                names.iter().any(|n| n.starts_with(prefix)),
                "no {prefix} vector"
            );
        }
        for label in ["Pass", "High", "Low"] {
            assert!(
                file.vectors.iter().any(|v| v.kayenta_label == label),
                "no {label} vector"
            );
        }
        assert!(file.vectors.iter().any(|v| v.x.len() == 1000));
        assert!(file.vectors.iter().any(|v| v.x.len() == 2));
    }

    #[test]
    fn mann_whitney_agrees_with_r_wilcox_test() {
        let file = load();
        let mut worst = (0.0f64, 0.0f64);
        for v in &file.vectors {
            let mw = mann_whitney(&v.x, &v.y, v.conf_level)
                .unwrap_or_else(|e| panic!("{}: {e}", v.name));
            let ctx = format!("{} ({}): got {mw:?}", v.name, v.source);
            assert_eq!(mw.w, v.w, "W of {ctx}");
            assert!(
                (mw.p_value - v.p_value).abs() <= 1e-6,
                "p-value of {ctx}, R {}",
                v.p_value
            );
            for (got, want, what) in [
                (mw.estimate, v.estimate, "estimate"),
                (mw.ci.0, v.ci.0, "lower end"),
                (mw.ci.1, v.ci.1, "upper end"),
            ] {
                assert!((got - want).abs() <= 1e-4, "{what} of {ctx}, R {want}");
                worst.0 = worst.0.max((got - want).abs());
            }
            worst.1 = worst.1.max((mw.p_value - v.p_value).abs());
        }
        println!(
            "largest difference to R: location {:e}, p-value {:e}",
            worst.0, worst.1
        );
    }

    #[test]
    fn labels_agree_exactly_with_kayenta_rule_computed_in_r() {
        let file = load();
        let cfg = MetricConfig::new("m");
        for v in &file.vectors {
            let input = MetricInput::new("m", "g", v.x.clone(), v.y.clone());
            let result = classify(&cfg, &input, v.conf_level, file.tolerance);
            assert_eq!(
                result.label.as_str(),
                v.kayenta_label,
                "{}: {}",
                v.name,
                result.explanation
            );
            // The interval rule alone, without the effect size.
            let mw = mann_whitney(&v.x, &v.y, v.conf_level).expect("valid vector");
            let bound = file.tolerance * mw.estimate.abs();
            let mut sx = v.x.clone();
            let mut sy = v.y.clone();
            sx.sort_by(f64::total_cmp);
            sy.sort_by(f64::total_cmp);
            let single = sx.iter().chain(&sy).all(|&a| a == sx[0]);
            let interval = if sx == sy || single {
                "Pass"
            } else if mw.ci.0 > bound {
                "High"
            } else if mw.ci.1 < -bound {
                "Low"
            } else {
                "Pass"
            };
            assert_eq!(interval, v.interval_label, "interval label of {}", v.name);
        }
    }
}

/// Property tests of the Mann-Whitney interval and the labels.
///
/// R's algorithm finds each interval end to within `tol.root = 1e-4` of a jump of the step
/// function `W(d)`, and the estimate anywhere in the zero set of `W(d)` (which is a whole interval
/// when `n_x n_y` is even) — where exactly depends on the path of the root finder, which is not
/// mirror- or shift-invariant. So the properties are stated up to that: interval ends within
/// `2 × 1e-4`, and the transformed estimate a root of the original equation within `1e-4`.
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::judge::classify::classify;
    use crate::judge::mann_whitney::RankSums;

    /// zeroin's `2 * tol_act` bound, with room for rounding.
    fn root_tol(d: f64) -> f64 {
        1.0001e-4 + 1e-9 * (1.0 + d.abs())
    }

    fn sorted(v: &[f64]) -> Vec<f64> {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    /// `d` is within the root finder's tolerance of a zero of the uncorrected `W(d)` of `x`
    /// against `y` (`W` is non-increasing in `d`).
    fn is_estimate_of(x: &[f64], y: &[f64], d: f64) -> bool {
        let (xs, ys) = (sorted(x), sorted(y));
        if xs[0] == xs[xs.len() - 1] && ys[0] == ys[ys.len() - 1] {
            // Both constant: the documented exact answer.
            return d == xs[0] - ys[0];
        }
        let stat = RankSums::new(&xs, &ys);
        let tol = root_tol(d);
        stat.standardized(d - tol, false) >= 0.0 && stat.standardized(d + tol, false) <= 0.0
    }

    /// Samples of eighths: exact under shifts by eighths, and full of ties.
    fn sample() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec((-800i32..800).prop_map(|k| f64::from(k) / 8.0), 2..40)
    }

    fn continuous() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(-1e3f64..1e3, 2..40)
    }

    fn label_rank(label: MetricLabel) -> i32 {
        match label {
            MetricLabel::Low => 0,
            MetricLabel::Pass => 1,
            MetricLabel::High => 2,
            other => panic!("unexpected label {other:?}"),
        }
    }

    fn check_symmetry(x: &[f64], y: &[f64]) -> Result<(), TestCaseError> {
        let xy = mann_whitney(x, y, 0.98).expect("valid");
        let yx = mann_whitney(y, x, 0.98).expect("valid");
        prop_assert_eq!(yx.w, (x.len() * y.len()) as f64 - xy.w);
        prop_assert!(
            (yx.p_value - xy.p_value).abs() <= 1e-12,
            "{:?} vs {:?}",
            xy,
            yx
        );
        prop_assert!(
            (yx.ci.0 + xy.ci.1).abs() <= 2.0 * root_tol(xy.ci.1),
            "{:?} vs {:?}",
            xy,
            yx
        );
        prop_assert!(
            (yx.ci.1 + xy.ci.0).abs() <= 2.0 * root_tol(xy.ci.0),
            "{:?} vs {:?}",
            xy,
            yx
        );
        prop_assert!(is_estimate_of(x, y, -yx.estimate), "{:?} vs {:?}", xy, yx);
        prop_assert!(yx.ci.0 <= yx.estimate && yx.estimate <= yx.ci.1, "{:?}", yx);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn swapping_samples_negates_estimate_and_flips_interval(x in sample(), y in sample()) {
            check_symmetry(&x, &y)?;
        }

        #[test]
        fn swapping_continuous_samples_negates_estimate_and_flips_interval(
            x in continuous(),
            y in continuous(),
        ) {
            check_symmetry(&x, &y)?;
        }

        #[test]
        fn shifting_experiment_shifts_estimate_and_interval(
            x in sample(),
            y in sample(),
            c in (-400i32..400).prop_map(|k| f64::from(k) / 8.0),
        ) {
            let shifted: Vec<f64> = x.iter().map(|v| v + c).collect();
            let base = mann_whitney(&x, &y, 0.98).expect("valid");
            let moved = mann_whitney(&shifted, &y, 0.98).expect("valid");
            let tol = 2.0 * root_tol(base.ci.0.abs().max(base.ci.1.abs()) + c.abs());
            prop_assert!((moved.ci.0 - c - base.ci.0).abs() <= tol, "{:?} vs {:?}", base, moved);
            prop_assert!((moved.ci.1 - c - base.ci.1).abs() <= tol, "{:?} vs {:?}", base, moved);
            prop_assert!(is_estimate_of(&x, &y, moved.estimate - c), "{:?} vs {:?}", base, moved);
        }

        #[test]
        fn label_never_goes_down_as_the_experiment_shifts_up(x in sample(), y in sample()) {
            // Grid step larger than the flat zero sets of W(d), so that where the root finder
            // lands in them cannot reorder labels (see the module comment).
            let mut diffs: Vec<f64> = x.iter().flat_map(|a| y.iter().map(move |b| a - b)).collect();
            diffs.sort_by(f64::total_cmp);
            let gap = diffs.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
            let step = ((gap + 1e-3) * 8.0).ceil() / 8.0;
            let cfg = MetricConfig::new("m").effect_size(EffectSizeConfig {
                measure: EffectSizeMeasure::Cles,
                ..EffectSizeConfig::default()
            });
            let mut previous = None;
            for k in -12..=12 {
                let c = f64::from(k) * step;
                let input = MetricInput::new(
                    "m",
                    "g",
                    x.iter().map(|v| v + c).collect(),
                    y.clone(),
                );
                let label = classify(&cfg, &input, 0.98, 0.25).label;
                let rank = label_rank(label);
                if let Some((prev_c, prev)) = previous {
                    prop_assert!(rank >= prev, "label fell from {} at {} to {:?} at {}", prev, prev_c, label, c);
                }
                previous = Some((c, rank));
            }
        }
    }
}
