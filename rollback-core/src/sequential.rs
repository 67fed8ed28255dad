//! Streaming, anytime-valid detection: decide *when* a release breaks its SLA from per-step
//! request, error and latency counts, with a false-detection probability below `alpha` however
//! often the verdict is read.
//!
//! [`detect::assess`](crate::detect::assess) compares the mean of the last minute with the SLA:
//! it needs a full window before it can say anything, and read every step it raises false alarms
//! far more often than once per window would suggest. [`SequentialDetector`] instead keeps a
//! *test supermartingale* (an e-process) per SLA metric, updated at the data's native step in
//! O(K) time (K ≈ 10–30 mixture components), and declares a breach the first time the e-value
//! reaches `1/alpha`. Ville's inequality bounds the probability that this ever happens on a
//! release that is within its SLA, *whatever the monitoring schedule* — checking every second
//! costs nothing in false alarms.
//!
//! # The test
//!
//! Per metric the data are, at each step `t`, `n_t` trials and `x_t` events: requests and
//! failed (5xx) requests for the error rate; requests and requests slower than the latency
//! threshold for [`LatencySource::SlowCounts`]; one trial per step, an event when the step's
//! latency quantile is above the threshold, for [`LatencySource::QuantileSamples`] (a sequential
//! sign test).
//!
//! **Null hypothesis.** Given the past and `n_t`, `x_t ~ Binomial(n_t, p_t)` with `p_t ≤ p0` at
//! every step, where `p0` is the SLA bound (error rate `max`; `1 − q` of requests may be slower
//! than the `p(q)` latency threshold; `1/2` for the sign test). `p_t` may drift, traffic `n_t`
//! may depend on the past arbitrarily (bursts, retries, diurnal load).
//!
//! **One alternative, one start.** For an alternative `p > p0` the per-step likelihood ratio is
//!
//! ```text
//! LR_t(p) = (p/p0)^x_t · ((1−p)/(1−p0))^(n_t − x_t)
//! E[LR_t(p) | past, n_t] = (p_t·p/p0 + (1−p_t)·(1−p)/(1−p0))^n_t ≤ 1   for every p_t ≤ p0
//! ```
//!
//! (the base is linear in `p_t`, equals 1 at `p_t = p0` and increases with `p_t` because
//! `p > p0`), so `M_t = Π LR_i(p)` is a non-negative supermartingale under the *composite*
//! null. Capping a factor, `min(LR_t, e^c_t)` with `c_t` fixed before `x_t` is seen, keeps
//! this true (see *persistence* below).
//!
//! **Mixture over alternatives.** We do not know how bad a bad release is, so we mix over a
//! grid of `K` alternatives equally spaced in log-odds, `odds(p_k) = odds(p0) · 1.5^k` for
//! `k = 1..K` (up to `p_k ≤ 0.999`, `K ≤ 32`), with weights `1/K`. A convex combination of
//! supermartingales is one; the price of not knowing the effect is at most `ln K` nats of
//! evidence, and an effect between two grid points loses little because neighbouring
//! alternatives are only 1.5× apart in odds. (A conjugate beta mixture would need the
//! regularised incomplete beta function at millions of trials for the one-sided null; the grid
//! is exact and cheap.)
//!
//! **Mixture over change points.** A release that degrades an hour after the deploy must not
//! first pay back an hour of good behaviour (the plain SPRT does: its log-evidence drifts down
//! by ~0.04 nats per healthy request). Let `M^(j)` be the process that is 1 before step `j` and
//! multiplies the likelihood ratios from step `j` on; each is a test supermartingale, so is
//! `Σ_j w_j M^(j)` for weights summing to 1. We use
//!
//! ```text
//! w_j = ln 2 · (1/ln(j+1) − 1/ln(j+2)),   Σ_{j≥1} w_j = 1,   Σ_{j>t} w_j = ln 2 / ln(t+2)
//! ```
//!
//! (`−ln w_j ≈ ln j + 2 ln ln j`: a change after `j` steps costs that many extra nats, the
//! unavoidable price of bounding false alarms over an unbounded horizon). The sum over all
//! start points has an O(1) recursion per component (a weighted Shiryaev–Roberts statistic):
//!
//! ```text
//! R_t(k) = LR_t(p_k) · (R_{t−1}(k) + w_t),    R_0(k) = 0
//! E_t    = ln 2 / ln(t+2) + (1/K) Σ_k R_t(k)
//! ```
//!
//! `E_t` is the e-value reported. `E_0 = 1` and `E` is a non-negative supermartingale under the
//! null, so by **Ville's inequality** `P(∃t: E_t ≥ 1/α) ≤ α`. Steps with no trials carry no
//! evidence and do not advance `t`. With `m` metrics under test, each gets `α/m` (Bonferroni),
//! so the whole detector's false-detection probability is at most `α`.
//!
//! **Low traffic.** The e-process needs evidence by construction (2 errors in 3 requests are
//! worth at most a few nats), and a breach is additionally never declared before
//! `min_requests` trials (`min_samples` steps for the sign test). Both only remove rejections,
//! so validity is untouched.
//!
//! **Persistence (optional).** With `persistence = D > 0`, each step's log-likelihood ratio is
//! capped at `c_t`, fixed before the step is seen, so that **no burst shorter than `D` can reach
//! the threshold on its own**, however many errors it has: a two-second error blip of a healthy
//! service, which a 60-second SLA window would average away, is not a reason to roll back.
//! The cap is sized for the worst burst there is — one that hits the cap in every alternative
//! of the grid and at every start point inside it, at once: with `N = D/Δt` steps of the
//! current length `Δt` in the period, `c_t` solves
//!
//! ```text
//! V · w_s · Σ_{i=1..N} e^{i·c_t} = 1/α
//! ```
//!
//! where `V` is the capped tier's weight (1, or ½ with a fast-burn tier) and `w_s` the weight
//! of the earliest start point a burst shorter than `D` that includes this step can have (the
//! weights decrease, so that start is the heaviest). The guarantee assumes the burst starts
//! from no evidence: evidence left from before it (a healthy stream's e-value hovers around 1,
//! a little more after a near-miss) can shorten it by a step or so. The cost is a delay on real
//! breaches: a breach that saturates the cap is declared after `D` once the watch has run for a
//! few periods, and after up to about `1.5·D` in its first periods (where the earliest start
//! point weighs much more than later ones, and the cap must assume the burst began there); a
//! milder breach gives less than the cap per step and takes longer. `D = 0` (the default) turns
//! the cap off.
//!
//! **Fast burn (optional).** Persistence treats every excursion alike, so a release that fails
//! one request in eight waits `D` like one that fails one in a hundred. With `fast_burn = b > 1`
//! the mixture gets a second tier: the same grid and change-point recursion, *uncapped*, but
//! testing the wider null `p_t ≤ b·p0` (likelihood ratios against `b·p0` for alternatives
//! `odds(p_k) = odds(b·p0) · 1.5^k`). Each tier gets half the mixture weight:
//!
//! ```text
//! E_t = ½ · E_t^SLA(capped, vs p0) + ½ · E_t^fast(uncapped, vs b·p0)
//! ```
//!
//! Under the SLA null `p_t ≤ p0` we also have `p_t ≤ b·p0`, so the fast tier is a test
//! supermartingale too, and so is the average: Ville's bound `P(∃t: E_t ≥ 1/α) ≤ α` holds
//! against the SLA exactly as before. The price is `ln 2 ≈ 0.7` nats on the SLA tier (its cap
//! is computed with `V = ½`). What changes is *which* alternatives escape persistence:
//! only rates confidently above `b` times the SLA, an emergency at any duration (the
//! multi-window burn-rate alerts of the SRE workbook page on a 14.4× or 6× burn within minutes
//! and leave slower burns to longer windows). Excursions between `p0` and `b·p0` still need
//! about `D` of persistent evidence; an excursion *at or below* `b·p0` gives the fast tier no
//! evidence in expectation, however much traffic it carries. The choice of `b` is a statement
//! about the service: set it above the size of the short error blips it normally has (pod
//! restarts, a dependency hiccup), or those blips reach the threshold without waiting `D`.
//! The same `b` gives the paired error test below its fast tier, against `b` times the
//! tolerated odds ratio. The latency sign test (`p0 = ½`), the regression tests against a
//! fixed baseline and the paired latency test have none (see there for why).
//!
//! **Regression against the baseline (optional).** The SLA says what is *acceptable*; a
//! release can stay inside it and still be much worse than what it replaced (0.4 % errors
//! where the old release had 0.05 %; a p99 that tripled but is still under the p95 bound).
//! With [`DetectorConfig::regression`] set and a [`Baseline`] — totals over the hour before
//! the deploy, or the stable release beside a canary — [`SequentialDetector::with_baseline`]
//! adds up to two tests, each with its own share of `alpha` (so the bound above still holds
//! for the whole detector). The shares are fixed by what the baseline *has* — error counts
//! always, a latency histogram or not — and never by its values: with `m` SLA tests and `r`
//! possible regression tests (1, or 2 with a histogram) every test gets `α_i = α/(m + r)`. A
//! test the baseline's data rule out (too few requests, a tolerated rate above the SLA) is
//! skipped and its share goes unspent; handing it to the SLA tests instead would let the same
//! data that decide the skip also decide the shares, and the union bound below would no longer
//! sum to `α`.
//!
//! * *errors*: the same mixture e-process, against `p_null = odds⁻¹(τ · odds(U))`, where `U`
//!   is the baseline's upper confidence bound (the confidence sequence below, at half the
//!   test's share) and `τ` the tolerance. If the baseline's rate is below `U` (probability at
//!   least `1 − α_i/2`) and the release's rate stays below `τ×` the baseline's odds, the
//!   e-process fires with probability at most `α_i/2`: by the union bound, at most `α_i`.
//!   When `p_null` is not below the SLA the test is skipped (the SLA test is stricter) and a
//!   note says so.
//! * *latency distribution*: for each bound `le_j` of the latency histogram (the slowest 16
//!   with `p_null,j ≤ 0.9`), the share of requests slower than `le_j` against `τ×` the
//!   baseline's share, each an e-process as above; the test's e-value is their **average**.
//!   Each is a test supermartingale under its own null, so the average is one under all of
//!   them — the null "no part of the distribution got slower than the tolerance" — and
//!   Ville's inequality applies to it. The baselines' bounds share `α_i/2` (Bonferroni over
//!   the `J` bounds). This is a one-sided test of the whole distribution: a shift of the body
//!   shows at the middle bounds, a fattened tail at the top ones; getting faster never
//!   fires. The verdict names the bound with the most evidence ("4.1 % slower than 250 ms vs
//!   0.8 % before the deploy").
//!
//! Both use the persistence cap (each bound of the latency test is capped for `1/α_i`, not
//! `J/α_i`: a burst that moves every bound at once must not cross within `D` either; a shift
//! confined to one bound then needs about `D·(1 + ln J / ln(1/(α_i·w)))`) and no fast-burn
//! tier: their null is a tolerance over a rate measured at another time, far below the SLA,
//! and a healthy service's short bursts exceed even `b` times it — measured, an uncapped tier
//! there raised the benchmark's false alarms from 0 % to 37 % (errors) and 96 % (latency).
//! The null compares rates at different times (before and after the deploy), so diurnal
//! drift between them is what `τ` must cover.
//!
//! **Canary against the release beside it.** When a stable release serves *at the same
//! time* (a canary split), [`SequentialDetector::with_control`] tests the canary against it
//! step by step instead, as Netflix's canary work does (Lindon et al., KDD 2022; Lindon &
//! Malek, NeurIPS 2022: conditional on the events of both arms, test how they split). Per
//! step, with `x ~ Bin(n, p)` events in the canary's `n` requests and `x_r ~ Bin(n_r, q)` in
//! the control's, the canary's share `x` of the `e = x + x_r` events *given `e`* follows
//! Fisher's noncentral hypergeometric distribution with odds ratio `ω = odds(p)/odds(q)`,
//! whatever `q` is. The null `ω ≤ τ` (the canary's odds at most `τ×` its neighbour's) is then
//! tested exactly with the likelihood ratios
//!
//! ```text
//! LR_t(ω_k) = (ω_k/τ)^x · Σ_u C(n,u) C(n_r,e−u) τ^u / Σ_u C(n,u) C(n_r,e−u) ω_k^u,
//! ω_k = τ · 1.5^k,  k = 1..24
//! ```
//!
//! (the family has monotone likelihood ratios in `x`, so `E[LR_t] ≤ 1` for every `ω ≤ τ`),
//! mixed over `k` and over change points as above. `q` may drift arbitrarily from step to
//! step: a diurnal swing, a traffic burst or a dependency outage that hits both arms changes
//! `e`, not the split, so it cannot cause an alarm — the fixed-baseline test cannot say that.
//! Steps without events carry no evidence. The latency version does the same per histogram
//! bound with "slower than `le`" as the event, averaged over the (up to 16 slowest) bounds
//! both arms report. Both paired tests get `α / (m + 2)` each, `m` the SLA tests. There is
//! no baseline uncertainty to pay for: the control is observed alongside. With
//! `fast_burn = b`, half of the paired error test's mixture is an uncapped tier against the
//! null `ω ≤ b·τ` (the same likelihood ratios with `ω0 = b·τ`, `ω_k = b·τ·1.5^k`; under
//! `ω ≤ τ` it is a test supermartingale too): a canary confidently more than `b·τ` times as
//! likely to fail as its neighbour is declared without waiting for `D`. How fast depends on
//! the neighbour's events as much as the canary's, since they are what the split is judged
//! against. The paired latency test has no fast tier: per-step latency varies between the
//! arms far more than binomial sampling allows (a one-second pause in one pod), which an
//! uncapped tier reads as evidence (measured: 30 % false alarms at 1,000 req/s).
//!
//! **Shared causes.** In paired mode the SLA tests still run on the canary, and also track the
//! control's counts over each segment. When an SLA test's evidence crosses, the control's rate
//! over the crossing segment is looked at: if the control broke the SLA over the same steps
//! too (a dependency outage, a platform incident) *and* the canary is not clearly worse than
//! it (the low end of the canary's confidence interval over the segment has at most the
//! tolerance times the odds of the high end of the control's; for the latency sign test, its
//! quantile is at most the tolerance times the control's), the crossing is
//! recorded as *shared* ([`MetricVerdict::shared_with`]) and is not a breach of this release —
//! rolling it back would not restore the SLA. That SLA test then stays disarmed (a latched e-process cannot
//! re-arm without a fresh share of alpha); a canary that is *also* worse than its neighbour is
//! the paired tests' to find, and they keep running. This only removes alarms, so the bound
//! on false detections is untouched.
//!
//! **Explanation.** Alongside the sum we keep, per component, the *max* recursion
//! `C_t = max(C_{t−1}, ln w_t) + ln LR_t` (a CUSUM); its arg-max start is the most likely onset
//! of the bad period, and the counts since that onset give the reported rate. The interval
//! around it is the beta-binomial (Jeffreys prior) confidence sequence
//!
//! ```text
//! { p : ln B(x + ½, n − x + ½) − ln B(½, ½) − x ln p − (n − x) ln(1 − p) < ln(1/α) }
//! ```
//!
//! which is anytime-valid for a fixed start; computed over a data-chosen onset it is indicative
//! only. A breach is CRITICAL when the interval's lower end is at or above the SLA's critical
//! level.
//!
//! # Example
//!
//! ```
//! use chrono::{Duration, TimeZone, Utc};
//! use rollback_core::sequential::{DetectorConfig, DetectorState, Observation, SequentialDetector};
//!
//! # fn main() -> rollback_core::Result<()> {
//! let mut detector = SequentialDetector::new(DetectorConfig {
//!     alpha: 0.01,
//!     ..DetectorConfig::with_error_rate(0.005)
//! })?;
//! let t0 = Utc.with_ymd_and_hms(2024, 1, 15, 14, 27, 0).unwrap();
//! // 100 req/s with 0.1 % errors, then 12.4 % from 14:37.
//! for s in 0..900 {
//!     let errors = if s < 600 { u64::from(s % 10 == 0) } else { 12 };
//!     detector.observe(Observation::counts(t0 + Duration::seconds(s), 100, errors))?;
//! }
//! let verdict = detector.verdict();
//! assert_eq!(verdict.state, DetectorState::Breach);
//! let since = verdict.metrics[0].since.unwrap();
//! assert!(since >= t0 + Duration::seconds(600) && since <= t0 + Duration::seconds(602));
//! println!("{}", verdict.explanation);
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::detect::{Assessment, Breach, FailedRequests, Reading, Verdict};
use crate::error::{Error, Result};
use crate::model::finding::Severity;
use crate::model::metric::{format_percent, group_thousands, MetricKind, Quantile, Series};
use crate::policy::{DetectionPolicy, NoDataPolicy, Sla, Threshold};

/// Odds ratio between neighbouring alternatives of the mixture grid.
const GRID_RATIO: f64 = 1.5;
/// Most alternatives in the grid.
const MAX_COMPONENTS: usize = 32;
/// Largest alternative rate in the grid.
const MAX_ALTERNATIVE: f64 = 0.999;

/// Where the latency evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencySource {
    /// Per step, the number of requests slower than the threshold
    /// ([`Observation::slow`]; e.g. from a histogram's `le` bucket). The SLA `p(q) < T` holds
    /// exactly when at most `1 − q` of requests are slower than `T`, so this is the same
    /// binomial test as the error rate with `p0 = 1 − q`. Preferred: it uses every request.
    SlowCounts,
    /// Per step, the latency quantile itself ([`Observation::latency_ms`], the shape of a
    /// `Latency(q)` series): a sequential sign test of "the step's quantile is above the
    /// threshold" against `p0 = 1/2`. One bit per step, so it needs a dozen or more bad steps.
    QuantileSamples,
}

/// The latency part of the SLA under test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySla {
    /// Which quantile the SLA bounds (p95).
    pub quantile: Quantile,
    /// Its bound, in milliseconds.
    pub threshold: Threshold,
    /// Which observations carry the evidence.
    pub source: LatencySource,
}

/// How the detector decides. Validated by [`SequentialDetector::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// Bound on the probability of ever declaring a breach of a release that is within its
    /// SLA, over the whole (unbounded) watch, in (0, 0.5]. Default 0.01.
    pub alpha: f64,
    /// The error-rate SLA (ratio): `max` is the tested rate `p0`; a breach whose confidence
    /// interval lies at or above `critical` is CRITICAL.
    pub error_rate: Threshold,
    /// The latency SLA, if latency is tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySla>,
    /// No breach is declared before this many requests (default 50).
    pub min_requests: u64,
    /// No latency breach from quantile samples before this many steps (default 5).
    pub min_samples: u64,
    /// Shortest bad period that may cause a breach on its own (0 = off, the default): no burst
    /// shorter than this reaches the threshold, however bad; a sustained breach is declared
    /// after about this long (up to 1.5× early in the watch). See the module documentation.
    #[serde(with = "humantime_serde")]
    pub persistence: Duration,
    /// Fast-burn multiple `b` (0 = off, the default; otherwise > 1): half the evidence budget
    /// goes to a second, uncapped test of `p ≤ b · p0`, so a rate confidently above `b` times
    /// the SLA is declared without waiting for `persistence`. Applies to the error rate and to
    /// slow-request counts when `b · p0 < 1`, and to the paired error test against `b` times
    /// the tolerated odds ratio; not to the latency sign test, the regression tests against a
    /// fixed baseline or the paired latency test. See the module documentation.
    pub fast_burn: f64,
    /// The data's native step (default 10 s): the span of the first observation when
    /// `persistence` is on.
    #[serde(with = "humantime_serde")]
    pub step: Duration,
    /// A metric whose last data is older than this (at [`SequentialDetector::verdict_at`]) has
    /// no data (default 2 min).
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
    /// What missing data means (default: fail closed).
    pub no_data: NoDataPolicy,
    /// Regression tests against the release's pre-deploy baseline (off unless set; they run
    /// when the detector is built [`with_baseline`](SequentialDetector::with_baseline)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<RegressionConfig>,
}

/// How the release is compared with its pre-deploy baseline. See the module documentation,
/// *Regression against the baseline*.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegressionConfig {
    /// How much worse than the baseline is still acceptable, as a multiple of the odds of the
    /// baseline's rate (its upper confidence bound): `2` accepts 0.2 % errors against a 0.1 %
    /// baseline, 19 % slower than 250 ms against 10 %. Must exceed 1 (default 2).
    pub tolerance: f64,
    /// A baseline with fewer requests than this is not used (default 1,000).
    pub min_baseline_requests: u64,
}

impl Default for RegressionConfig {
    fn default() -> Self {
        RegressionConfig {
            tolerance: 2.0,
            min_baseline_requests: 1000,
        }
    }
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            alpha: 0.01,
            error_rate: Threshold::new(0.005, Some(0.05)),
            latency: None,
            min_requests: 50,
            min_samples: 5,
            persistence: Duration::ZERO,
            fast_burn: 0.0,
            step: Duration::from_secs(10),
            stale_after: Duration::from_secs(120),
            no_data: NoDataPolicy::Fail,
            regression: None,
        }
    }
}

impl DetectorConfig {
    /// The defaults with an error-rate SLA of `max` (a ratio, `0.005` = 0.5 %) and no critical
    /// level.
    pub fn with_error_rate(max: f64) -> Self {
        DetectorConfig {
            error_rate: Threshold::new(max, None),
            ..DetectorConfig::default()
        }
    }

    /// The configuration matching an environment's SLA and the detection policy: error rate
    /// and p95 latency (from quantile samples, the shape metrics sources return), the SLA's
    /// `min_requests`, the policy's step and no-data rule.
    pub fn from_sla(sla: &Sla, policy: &DetectionPolicy) -> Self {
        DetectorConfig {
            error_rate: sla.error_rate,
            latency: Some(LatencySla {
                quantile: Quantile::P95,
                threshold: sla.latency_p95_ms,
                source: LatencySource::QuantileSamples,
            }),
            min_requests: sla.min_requests,
            step: policy.step,
            no_data: policy.no_data,
            ..DetectorConfig::default()
        }
    }

    /// Checks every field; the error names the field, its value and what is accepted.
    pub fn validate(&self) -> Result<()> {
        if !(self.alpha > 0.0 && self.alpha <= 0.5) {
            return Err(Error::invalid_input(format!(
                "detector alpha = {}: expected a probability in (0, 0.5], e.g. 0.01",
                self.alpha
            )));
        }
        let p0 = self.error_rate.max;
        if !(p0 > 0.0 && p0 < 1.0) {
            return Err(Error::invalid_input(format!(
                "detector error_rate.max = {p0}: expected a ratio in (0, 1), e.g. 0.005 for 0.5 %"
            )));
        }
        if self
            .error_rate
            .critical
            .is_some_and(|c| !(c.is_finite() && c >= p0))
        {
            return Err(Error::invalid_input(format!(
                "detector error_rate.critical = {:?}: expected a ratio at least max ({p0})",
                self.error_rate.critical
            )));
        }
        if let Some(l) = &self.latency {
            let t = l.threshold;
            if !(t.max.is_finite() && t.max > 0.0)
                || t.critical.is_some_and(|c| !(c.is_finite() && c >= t.max))
            {
                return Err(Error::invalid_input(format!(
                    "detector latency threshold: max must be a positive number of ms and critical (if set) at least max; got max = {}, critical = {:?}",
                    t.max, t.critical
                )));
            }
        }
        if !(self.fast_burn == 0.0 || (self.fast_burn > 1.0 && self.fast_burn * p0 < 1.0)) {
            return Err(Error::invalid_input(format!(
                "detector fast_burn = {}: expected 0 (off) or a multiple of error_rate.max greater than 1 with fast_burn × max < 1 (max = {p0}), e.g. 10",
                self.fast_burn
            )));
        }
        if self.step.is_zero() {
            return Err(Error::invalid_input(
                "detector step must be greater than zero (the data's resolution, e.g. 10s)",
            ));
        }
        if self.stale_after.is_zero() {
            return Err(Error::invalid_input(
                "detector stale_after must be greater than zero (e.g. 2m)",
            ));
        }
        if let Some(r) = &self.regression {
            if !(r.tolerance.is_finite() && r.tolerance > 1.0) {
                return Err(Error::invalid_input(format!(
                    "detector regression.tolerance = {}: expected a multiple of the baseline's odds greater than 1, e.g. 2",
                    r.tolerance
                )));
            }
        }
        Ok(())
    }
}

/// A latency histogram in Prometheus's shape: per upper bound `le` (milliseconds, ascending,
/// the last one `+Inf`), the number of requests at or below it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// `(le in ms, cumulative count)`, ascending in `le`, ending with `(+Inf, total)`.
    pub buckets: Vec<(f64, u64)>,
}

impl LatencyHistogram {
    /// A validated histogram: bounds strictly increasing and not NaN, counts non-decreasing,
    /// the last bound `+Inf`.
    pub fn new(buckets: Vec<(f64, u64)>) -> Result<Self> {
        let h = LatencyHistogram { buckets };
        h.validate()?;
        Ok(h)
    }

    /// All requests counted (the `+Inf` bucket).
    pub fn total(&self) -> u64 {
        self.buckets.last().map_or(0, |b| b.1)
    }

    /// Requests slower than `le` (above the bucket with that exact bound), if the histogram has
    /// that bound.
    pub fn slower_than(&self, le: f64) -> Option<u64> {
        self.buckets
            .iter()
            .find(|b| b.0 == le)
            .map(|b| self.total() - b.1)
    }

    fn validate(&self) -> Result<()> {
        let Some(last) = self.buckets.last() else {
            return Err(Error::invalid_input(
                "latency histogram without buckets: expected cumulative counts per `le` bound ending with +Inf",
            ));
        };
        if last.0 != f64::INFINITY {
            return Err(Error::invalid_input(format!(
                "latency histogram ends at le = {}: expected the last bucket to be +Inf (all requests)",
                last.0
            )));
        }
        for w in self.buckets.windows(2) {
            let ((l0, c0), (l1, c1)) = (w[0], w[1]);
            if l0.is_nan() || l1.is_nan() || l1 <= l0 || l0 < 0.0 {
                return Err(Error::invalid_input(format!(
                    "latency histogram bounds {l0} then {l1}: expected non-negative bounds in strictly increasing order"
                )));
            }
            if c1 < c0 {
                return Err(Error::invalid_input(format!(
                    "latency histogram counts {c0} at le = {l0} then {c1} at le = {l1}: expected cumulative (non-decreasing) counts"
                )));
            }
        }
        Ok(())
    }

    /// Turns a `LatencyHistogram` answer (one series per `le` label in ms, `+Inf` included;
    /// responses per step at or below the bound) into one histogram per step, in time order.
    /// Series of one bound are summed; fractional counts are rounded, non-finite samples
    /// skipped; counts that decrease with the bound (rounding, scrape skew) are raised to
    /// keep the histogram cumulative.
    pub fn from_series(series: &[Series]) -> Result<Vec<(DateTime<Utc>, LatencyHistogram)>> {
        let mut steps: std::collections::BTreeMap<DateTime<Utc>, Vec<(f64, f64)>> =
            std::collections::BTreeMap::new();
        for s in series {
            let Some(le) = s.labels.get("le") else {
                return Err(Error::invalid_input(format!(
                    "latency histogram series without an `le` label (labels: {:?}): expected one series per bucket bound, as a `LatencyHistogram` query returns",
                    s.labels
                )));
            };
            let bound = match le.trim() {
                "+Inf" | "Inf" | "inf" | "+inf" => f64::INFINITY,
                v => match v.parse::<f64>() {
                    Ok(b) if b.is_finite() && b >= 0.0 => b,
                    _ => {
                        return Err(Error::invalid_input(format!(
                            "latency histogram series labelled le = {le:?}: expected a bound in ms (a non-negative number) or +Inf"
                        )))
                    }
                },
            };
            for p in s.samples.iter().filter(|p| p.value.is_finite()) {
                if p.value < 0.0 {
                    return Err(Error::invalid_input(format!(
                        "latency bucket le = {le} has {} responses at {}: expected a count of at least 0",
                        p.value, p.at
                    )));
                }
                let b = steps.entry(p.at).or_default();
                match b.iter_mut().find(|(l, _)| *l == bound) {
                    Some(e) => e.1 += p.value,
                    None => b.push((bound, p.value)),
                }
            }
        }
        let mut out = Vec::with_capacity(steps.len());
        let mut without_inf = None;
        for (at, mut b) in steps {
            b.sort_by(|x, y| x.0.total_cmp(&y.0));
            if b.last().is_none_or(|l| l.0 != f64::INFINITY) {
                // A step whose +Inf sample is missing (a scrape gap) is left out; a histogram
                // with no +Inf at all is an error below.
                without_inf.get_or_insert(at);
                continue;
            }
            let mut run = 0u64;
            let buckets = b
                .into_iter()
                .map(|(l, c)| {
                    run = run.max(c.round() as u64);
                    (l, run)
                })
                .collect();
            out.push((at, LatencyHistogram { buckets }));
        }
        if let (true, Some(at)) = (out.is_empty(), without_inf) {
            return Err(Error::invalid_input(format!(
                "latency histogram at {at} has no +Inf bucket: expected one series per `le` bound including +Inf"
            )));
        }
        Ok(out)
    }
}

/// The release's behaviour before the deploy (or the stable release's, beside a canary): the
/// reference of the regression tests. Totals over the baseline window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Requests in the baseline window.
    pub requests: u64,
    /// Failed (5xx) requests among them.
    pub errors: u64,
    /// The latency histogram over the window, if the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyHistogram>,
    /// Where it comes from, for explanations ("before the deploy", "v1.2.3 beside the canary").
    #[serde(default)]
    pub label: String,
}

impl Baseline {
    /// Totals of a `StatusCodes` answer and, optionally, a `LatencyHistogram` answer.
    pub fn from_series(
        label: impl Into<String>,
        status: &[Series],
        histogram: Option<&[Series]>,
    ) -> Result<Self> {
        let obs = Observation::from_series(status, None, None)?;
        let requests = obs.iter().map(|o| o.requests).sum();
        let errors = obs.iter().map(|o| o.errors).sum();
        let latency = match histogram {
            Some(h) if !h.is_empty() => {
                let steps = LatencyHistogram::from_series(h)?;
                let mut sum: Vec<(f64, u64)> = Vec::new();
                for (_, hist) in &steps {
                    for &(le, c) in &hist.buckets {
                        match sum.iter_mut().find(|b| b.0 == le) {
                            Some(b) => b.1 += c,
                            None => sum.push((le, c)),
                        }
                    }
                }
                sum.sort_by(|x, y| x.0.total_cmp(&y.0));
                // Steps with fewer bounds add to fewer buckets: keep the sum cumulative.
                let mut run = 0u64;
                for b in &mut sum {
                    run = run.max(b.1);
                    b.1 = run;
                }
                (!sum.is_empty()).then_some(LatencyHistogram { buckets: sum })
            }
            _ => None,
        };
        Ok(Baseline {
            requests,
            errors,
            latency,
            label: label.into(),
        })
    }
}

/// One step of data for the release under watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// When (the step's timestamp, as the metrics source labels it).
    pub at: DateTime<Utc>,
    /// Requests in the step.
    pub requests: u64,
    /// Failed (5xx) requests in the step; at most `requests`.
    pub errors: u64,
    /// Requests slower than the latency threshold, if known; at most `requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<u64>,
    /// The step's latency quantile in ms, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The step's latency histogram, if known (for the latency-shift regression test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<LatencyHistogram>,
    /// The same step of the control arm (the stable release serving beside a canary), for a
    /// detector built [`with_control`](SequentialDetector::with_control).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<ControlCounts>,
}

/// One step of the control arm: the stable release serving beside the canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlCounts {
    /// Requests in the step.
    pub requests: u64,
    /// Failed (5xx) requests; at most `requests`.
    pub errors: u64,
    /// The step's latency histogram, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<LatencyHistogram>,
    /// The step's latency quantile in ms, if known (for the sign test's shared-cause check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

impl Observation {
    /// A step with request and error counts only.
    pub fn counts(at: DateTime<Utc>, requests: u64, errors: u64) -> Self {
        Observation {
            at,
            requests,
            errors,
            slow: None,
            latency_ms: None,
            histogram: None,
            control: None,
        }
    }

    /// Adds the control arm's counts for the same step.
    pub fn with_control(mut self, control: ControlCounts) -> Self {
        self.control = Some(control);
        self
    }

    /// Attaches the steps of the control arm's `StatusCodes` (and optionally `Latency(q)` and
    /// `LatencyHistogram`) answers to the observations at the same times; steps the control
    /// has no counts for keep `control = None`.
    pub fn attach_control(
        obs: &mut [Observation],
        status: &[Series],
        latency: Option<&[Series]>,
        histogram: Option<&[Series]>,
    ) -> Result<()> {
        let control = Observation::from_series(status, latency, histogram)?;
        let mut by_time: std::collections::BTreeMap<DateTime<Utc>, Observation> =
            control.into_iter().map(|o| (o.at, o)).collect();
        for o in obs {
            if let Some(c) = by_time.remove(&o.at) {
                o.control = Some(ControlCounts {
                    requests: c.requests,
                    errors: c.errors,
                    histogram: c.histogram,
                    latency_ms: c.latency_ms,
                });
            }
        }
        Ok(())
    }

    /// Adds the step's latency histogram.
    pub fn with_histogram(mut self, histogram: LatencyHistogram) -> Self {
        self.histogram = Some(histogram);
        self
    }

    /// Adds the number of requests slower than the latency threshold.
    pub fn with_slow(mut self, slow: u64) -> Self {
        self.slow = Some(slow);
        self
    }

    /// Adds the step's latency quantile (ms).
    pub fn with_latency_ms(mut self, ms: f64) -> Self {
        self.latency_ms = Some(ms);
        self
    }

    /// Turns a `StatusCodes` answer (one series per `code` label, responses per step) and,
    /// optionally, a `Latency(q)` answer and a `LatencyHistogram` answer into observations in
    /// time order. Series of one code (per instance) are summed; 5xx codes count as errors;
    /// fractional counts (from a source that extrapolates, like PromQL `increase()`) are
    /// rounded; non-finite samples are skipped. A latency sample or histogram at a time with no
    /// status counts is ignored.
    pub fn from_series(
        status: &[Series],
        latency: Option<&[Series]>,
        histogram: Option<&[Series]>,
    ) -> Result<Vec<Observation>> {
        let mut steps: std::collections::BTreeMap<DateTime<Utc>, (f64, f64)> =
            std::collections::BTreeMap::new();
        for s in status {
            let Some(code) = s.labels.get("code") else {
                return Err(Error::invalid_input(format!(
                    "status-code series without a `code` label (labels: {:?}): expected one series per HTTP status code, as a `StatusCodes` query returns",
                    s.labels
                )));
            };
            let code: u16 = match code.parse() {
                Ok(c) if (100..=599).contains(&c) => c,
                _ => {
                    return Err(Error::invalid_input(format!(
                        "status-code series labelled code = {code:?}: expected an HTTP status code 100-599"
                    )))
                }
            };
            for p in s.samples.iter().filter(|p| p.value.is_finite()) {
                if p.value < 0.0 {
                    return Err(Error::invalid_input(format!(
                        "status code {code} has {} responses at {}: expected a count of at least 0",
                        p.value, p.at
                    )));
                }
                let e = steps.entry(p.at).or_insert((0.0, 0.0));
                e.0 += p.value;
                if code >= 500 {
                    e.1 += p.value;
                }
            }
        }
        let mut lat: std::collections::BTreeMap<DateTime<Utc>, (f64, u32)> =
            std::collections::BTreeMap::new();
        for s in latency.unwrap_or(&[]) {
            for p in s.samples.iter().filter(|p| p.value.is_finite()) {
                let e = lat.entry(p.at).or_insert((0.0, 0));
                e.0 += p.value;
                e.1 += 1;
            }
        }
        let mut hist: std::collections::BTreeMap<DateTime<Utc>, LatencyHistogram> = match histogram
        {
            Some(h) => LatencyHistogram::from_series(h)?.into_iter().collect(),
            None => Default::default(),
        };
        Ok(steps
            .into_iter()
            .map(|(at, (req, err))| {
                let requests = req.round() as u64;
                let mut o = Observation::counts(at, requests, (err.round() as u64).min(requests));
                if let Some((sum, n)) = lat.get(&at) {
                    o.latency_ms = Some(sum / f64::from(*n));
                }
                o.histogram = hist.remove(&at);
                o
            })
            .collect())
    }
}

/// The detector's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorState {
    /// Enough data and no evidence of a breach so far.
    Healthy,
    /// The SLA is broken (or data is missing and the no-data policy fails closed).
    Breach,
    /// Not enough data to tell yet (low traffic, or missing data under the `inconclusive`
    /// policy). Keep watching.
    Inconclusive,
}

impl fmt::Display for DetectorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DetectorState::Healthy => "healthy",
            DetectorState::Breach => "breach",
            DetectorState::Inconclusive => "inconclusive",
        })
    }
}

/// Which sequential test produced a metric's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// Failed requests against the SLA error rate.
    ErrorRate,
    /// Requests slower than the latency threshold against `1 − q`.
    SlowFraction,
    /// Steps whose latency quantile is above the threshold, against 1/2.
    LatencySign,
    /// Failed requests against the pre-deploy baseline's error rate (times the tolerance).
    ErrorRegression,
    /// Requests slower than each histogram bound against the baseline's share (times the
    /// tolerance): a one-sided sequential test of the whole latency distribution.
    LatencyShift,
}

/// A rate estimate with its anytime-valid interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateEstimate {
    /// Events / trials.
    pub rate: f64,
    /// Lower end of the confidence sequence at the test's level.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Events counted.
    pub events: u64,
    /// Trials counted.
    pub trials: u64,
    /// First step counted.
    pub from: DateTime<Utc>,
}

/// One metric's verdict and the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    /// Which metric (`ErrorRate`, `Latency(p95)`).
    pub metric: MetricKind,
    /// Which test.
    pub test: TestKind,
    /// Healthy, breach or inconclusive.
    pub state: DetectorState,
    /// The SLA bound of the metric (ratio for the error rate, ms for latency).
    pub threshold: f64,
    /// The rate the test compares against (`p0`).
    pub null_rate: f64,
    /// For regression tests: the baseline's own rate (errors, or requests slower than
    /// `threshold` ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<f64>,
    /// For an SLA test beside a canary's neighbour: the evidence crossed, but the control arm
    /// broke the SLA over the same steps (its rate here). Not a breach of this release: a
    /// shared cause (a dependency, the platform), which rolling back would not end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<f64>,
    /// The estimated rate: since the onset on a breach, over all data otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<RateEstimate>,
    /// The last latency quantile seen (ms), for latency tests fed with samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_value: Option<f64>,
    /// The current e-value.
    pub e_value: f64,
    /// The e-value at which a breach is declared (`m/alpha`).
    pub e_threshold: f64,
    /// When the evidence first crossed the threshold (the decision time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// The most likely start of the bad period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<DateTime<Utc>>,
    /// HIGH or CRITICAL on a breach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Trials seen over the whole watch.
    pub total_trials: u64,
    /// One line: which metric, what value, against what, since when.
    pub explanation: String,
}

/// The detector's verdict over all metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorVerdict {
    /// Breach if any metric breached (or has no data under the `fail` policy); else
    /// inconclusive if any is; else healthy.
    pub state: DetectorState,
    /// Per metric, breaches first.
    pub metrics: Vec<MetricVerdict>,
    /// The time of the verdict (the last observation, or the time asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The metrics' explanations, breaches first, joined by `; `.
    pub explanation: String,
    /// What the detector could not test and why (a regression test without a usable baseline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl DetectorVerdict {
    /// The breaching metrics.
    pub fn breaches(&self) -> impl Iterator<Item = &MetricVerdict> {
        self.metrics
            .iter()
            .filter(|m| m.state == DetectorState::Breach)
    }

    /// The most severe breach, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.breaches().filter_map(|m| m.severity).max()
    }

    /// The verdict in the shape of the detect stage's [`Assessment`], so the orchestrator can
    /// report, gate and explain it like a window assessment. Values are the estimates (error
    /// rate as a ratio; latency as the last quantile sample, or the slow fraction under
    /// `Custom("slow_fraction")` for slow counts).
    pub fn to_assessment(&self) -> Assessment {
        let mut readings = Vec::new();
        let mut breaches = Vec::new();
        let mut no_data = Vec::new();
        for m in &self.metrics {
            let (metric, value, threshold) = match m.test {
                TestKind::ErrorRate => (m.metric.clone(), m.estimate.map(|e| e.rate), m.threshold),
                TestKind::LatencySign => (m.metric.clone(), m.last_value, m.threshold),
                TestKind::SlowFraction => (
                    MetricKind::Custom("slow_fraction".into()),
                    m.estimate.map(|e| e.rate),
                    m.null_rate,
                ),
                TestKind::ErrorRegression => (
                    MetricKind::Custom("error_rate_vs_baseline".into()),
                    m.estimate.map(|e| e.rate),
                    m.null_rate,
                ),
                TestKind::LatencyShift => (
                    MetricKind::Custom(format!(
                        "slower_than_{}ms_vs_baseline",
                        group_thousands(m.threshold.round() as i64)
                    )),
                    m.estimate.map(|e| e.rate),
                    m.null_rate,
                ),
            };
            readings.push(Reading {
                metric: metric.clone(),
                value,
                threshold,
            });
            if m.total_trials == 0 {
                no_data.push(metric.clone());
            }
            if m.state == DetectorState::Breach {
                breaches.push(Breach {
                    metric,
                    value,
                    threshold,
                    severity: m.severity.unwrap_or(Severity::High),
                    since: m.onset.or(m.since),
                });
            }
        }
        breaches.sort_by_key(|b| std::cmp::Reverse(b.severity));
        let failed_requests = self
            .metrics
            .iter()
            .find(|m| m.test == TestKind::ErrorRate)
            .and_then(|m| m.estimate)
            .map(|e| FailedRequests {
                total_requests: e.trials,
                failed: e.events,
                by_status: Vec::new(),
            });
        Assessment {
            verdict: match self.state {
                DetectorState::Healthy => Verdict::Healthy,
                DetectorState::Breach => Verdict::Violation,
                DetectorState::Inconclusive => Verdict::Inconclusive,
            },
            readings,
            breaches,
            no_data,
            failed_requests,
        }
    }
}

/// The streaming detector: feed it [`Observation`]s in time order, read
/// [`verdict`](Self::verdict) whenever you like.
#[derive(Debug, Clone)]
pub struct SequentialDetector {
    config: DetectorConfig,
    error: RateTest,
    latency: Option<RateTest>,
    /// Errors against the baseline.
    regression: Option<RateTest>,
    /// Latency distribution against the baseline.
    shift: Option<ShiftTest>,
    baseline: Option<Baseline>,
    /// Paired mode: the control arm's label; the latency test is built at the first step with
    /// both histograms, at this level.
    control: Option<(String, f64)>,
    notes: Vec<String>,
    last_at: Option<DateTime<Utc>>,
    last_latency: Option<f64>,
}

/// The regression tests a baseline makes possible, decided before any observation.
struct RegressionPlan {
    /// `(null rate, baseline rate)` of the error test.
    errors: Option<(f64, f64)>,
    /// Per histogram bound: `(le ms, null rate, baseline rate)`.
    bounds: Vec<(f64, f64, f64)>,
    notes: Vec<String>,
}

/// `odds⁻¹(tolerance · odds(p))`.
fn inflate(p: f64, tolerance: f64) -> f64 {
    if p >= 1.0 {
        return 1.0;
    }
    let odds = tolerance * p / (1.0 - p);
    odds / (1.0 + odds)
}

impl RegressionPlan {
    /// Most histogram bounds tested (the slowest ones the baseline has evidence for).
    const MAX_BOUNDS: usize = 16;
    /// Bounds whose null rate is above this are not tested (the body of the distribution
    /// below them says little about a regression, and the grid has no room above them).
    const MAX_NULL: f64 = 0.9;

    /// Which regression tests run, each at level `alpha_each` (half for the baseline's upper
    /// confidence bounds, half for the e-process).
    fn new(cfg: &DetectorConfig, r: &RegressionConfig, b: &Baseline, alpha_each: f64) -> Self {
        let mut notes = Vec::new();
        let from = if b.label.is_empty() {
            "the baseline".to_string()
        } else {
            b.label.clone()
        };
        let mut errors = None;
        if b.requests < r.min_baseline_requests.max(1) {
            notes.push(format!(
                "error-rate regression not tested: {from} has {} requests, fewer than the {} needed",
                group_thousands(b.requests as i64),
                group_thousands(r.min_baseline_requests as i64)
            ));
        } else {
            let (_, ucb) =
                confidence_sequence(b.errors.min(b.requests), b.requests, alpha_each / 2.0);
            let null = inflate(ucb, r.tolerance);
            if null >= cfg.error_rate.max {
                notes.push(format!(
                    "error-rate regression not tested: {from} had {} errors (up to {}), and {}× its odds is not below the SLA's {}; the SLA test is the stricter one",
                    format_percent(100.0 * b.errors as f64 / b.requests as f64),
                    format_percent(100.0 * ucb),
                    fmt_e(r.tolerance),
                    format_percent(100.0 * cfg.error_rate.max)
                ));
            } else {
                errors = Some((null, b.errors as f64 / b.requests as f64));
            }
        }
        let mut bounds = Vec::new();
        match &b.latency {
            None => notes.push(format!(
                "latency-distribution regression not tested: no latency histogram for {from}"
            )),
            Some(h) if h.total() < r.min_baseline_requests.max(1) => notes.push(format!(
                "latency-distribution regression not tested: {from}'s histogram has {} requests, fewer than the {} needed",
                group_thousands(h.total() as i64),
                group_thousands(r.min_baseline_requests as i64)
            )),
            Some(h) => {
                let total = h.total();
                let finite: Vec<(f64, u64)> = h
                    .buckets
                    .iter()
                    .copied()
                    .filter(|b| b.0.is_finite())
                    .collect();
                // The slowest bounds first: that is where regressions show.
                let candidates: Vec<(f64, u64)> = finite
                    .into_iter()
                    .rev()
                    .map(|(le, c)| (le, total - c))
                    .collect();
                let j = candidates.len().clamp(1, Self::MAX_BOUNDS) as f64;
                for (le, slow) in candidates {
                    let (_, ucb) = confidence_sequence(slow, total, alpha_each / 2.0 / j);
                    let null = inflate(ucb, r.tolerance);
                    if null.is_nan() || null > Self::MAX_NULL {
                        break;
                    }
                    bounds.push((le, null, slow as f64 / total as f64));
                    if bounds.len() == Self::MAX_BOUNDS {
                        break;
                    }
                }
                bounds.reverse();
                if bounds.is_empty() {
                    notes.push(format!(
                        "latency-distribution regression not tested: {from}'s histogram has no bound that at most {} of requests exceed",
                        format_percent(100.0 * Self::MAX_NULL / r.tolerance)
                    ));
                }
            }
        }
        RegressionPlan {
            errors,
            bounds,
            notes,
        }
    }
}

impl SequentialDetector {
    /// A detector with a validated configuration: the SLA tests only.
    pub fn new(config: DetectorConfig) -> Result<Self> {
        Self::build_detector(config, None)
    }

    /// A detector that also tests the release against `baseline` (the same service before
    /// the deploy, or the stable release beside a canary) when `config.regression` is set:
    /// errors, and the latency distribution when both have histograms. A baseline too small to
    /// use is noted in the verdict, not an error. See the module documentation.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rollback_core::sequential::{
    ///     Baseline, DetectorConfig, Observation, RegressionConfig, SequentialDetector, TestKind,
    /// };
    ///
    /// # fn main() -> rollback_core::Result<()> {
    /// // The hour before the deploy: 360,000 requests, 0.05 % failed.
    /// let before = Baseline {
    ///     requests: 360_000,
    ///     errors: 180,
    ///     label: "the hour before the deploy".into(),
    ///     ..Baseline::default()
    /// };
    /// let config = DetectorConfig {
    ///     regression: Some(RegressionConfig::default()),
    ///     ..DetectorConfig::with_error_rate(0.005)
    /// };
    /// let mut d = SequentialDetector::with_baseline(config, before)?;
    /// let t0 = Utc.with_ymd_and_hms(2024, 5, 21, 9, 20, 0).unwrap();
    /// for s in 0..120 {
    ///     // 0.4 % now: inside the 0.5 % SLA, 8× the baseline.
    ///     d.observe(Observation::counts(t0 + Duration::seconds(10 * s), 1000, 4))?;
    /// }
    /// let v = d.verdict();
    /// assert!(v.breaches().all(|m| m.test == TestKind::ErrorRegression));
    /// assert!(d.breached(), "{}", v.explanation);
    /// # Ok(()) }
    /// ```
    pub fn with_baseline(config: DetectorConfig, baseline: Baseline) -> Result<Self> {
        if let Some(h) = &baseline.latency {
            h.validate()?;
        }
        if baseline.errors > baseline.requests {
            return Err(Error::invalid_input(format!(
                "baseline has {} errors out of {} requests: expected errors <= requests",
                baseline.errors, baseline.requests
            )));
        }
        Self::build_detector(config, Some(baseline))
    }

    fn build_detector(config: DetectorConfig, baseline: Option<Baseline>) -> Result<Self> {
        config.validate()?;
        let sla_tests = 1 + usize::from(config.latency.is_some());
        // The shares are fixed by what the baseline *has* (a histogram or not), never by its
        // counts: whether a regression test runs depends on the baseline's data (too few
        // requests, a confidence bound above the SLA), and a share handed back to the SLA
        // tests when it does not would be chosen by the same data that can make the baseline's
        // confidence bound wrong — the union bound would then exceed alpha. One share per
        // possible test; a skipped test's share is simply not spent.
        let possible = match (&config.regression, &baseline) {
            (Some(_), Some(b)) => 1 + usize::from(b.latency.is_some()),
            _ => 0,
        };
        let share = config.alpha / (sla_tests + possible) as f64;
        let plan = match (&config.regression, &baseline) {
            (Some(r), Some(b)) => Some(RegressionPlan::new(&config, r, b, share)),
            _ => None,
        };
        let alpha = share;
        let fast = config.fast_burn;
        let error = RateTest::new(config.error_rate.max, alpha, config.min_requests, fast);
        let latency = config.latency.map(|l| match l.source {
            LatencySource::SlowCounts => RateTest::new(
                1.0 - l.quantile.as_fraction(),
                alpha,
                config.min_requests,
                fast,
            ),
            LatencySource::QuantileSamples => RateTest::new(0.5, alpha, config.min_samples, 0.0),
        });
        // A regression test spends half its share on the baseline's confidence bounds (see
        // `RegressionPlan::new`) and half here.
        let alpha_reg = share / 2.0;
        let (regression, shift, notes) = match plan {
            Some(p) => (
                p.errors.map(|(null, base)| {
                    let mut t = RateTest::new(null, alpha_reg, config.min_requests, 0.0);
                    t.reference = Some(base);
                    t
                }),
                (!p.bounds.is_empty())
                    .then(|| ShiftTest::new(&p.bounds, alpha_reg, config.min_requests)),
                p.notes,
            ),
            None => (None, None, Vec::new()),
        };
        Ok(SequentialDetector {
            config,
            error,
            latency,
            regression,
            shift,
            baseline,
            control: None,
            notes,
            last_at: None,
            last_latency: None,
        })
    }

    /// A detector that also tests a canary against the control arm serving beside it at the
    /// same time (each [`Observation::control`]), step by step: errors, and the latency
    /// distribution when both arms have histograms. Drift and bursts that hit both arms
    /// cancel. Uses `config.regression`'s tolerance (an odds ratio; default 2). `label` names
    /// the control in explanations ("v2.3.1 beside it"). See the module documentation,
    /// *Canary against the release beside it*.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rollback_core::sequential::{
    ///     ControlCounts, DetectorConfig, DetectorState, Observation, SequentialDetector, TestKind,
    /// };
    ///
    /// # fn main() -> rollback_core::Result<()> {
    /// let config = DetectorConfig::with_error_rate(0.05);
    /// let mut d = SequentialDetector::with_control(config, "v2.3.1 beside it")?;
    /// let t0 = Utc.with_ymd_and_hms(2024, 3, 4, 10, 0, 0).unwrap();
    /// for s in 0..300 {
    ///     // 10-second steps: the canary fails 2 % of 200 requests, the stable release 0.25 %
    ///     // of 800 (both inside a 5 % SLA).
    ///     let canary = Observation::counts(t0 + Duration::seconds(10 * s), 200, 4);
    ///     let control = ControlCounts {
    ///         requests: 800,
    ///         errors: 2,
    ///         histogram: None,
    ///         latency_ms: None,
    ///     };
    ///     d.observe(canary.with_control(control))?;
    /// }
    /// let v = d.verdict();
    /// assert_eq!(v.state, DetectorState::Breach);
    /// assert!(v.breaches().all(|m| m.test == TestKind::ErrorRegression));
    /// # Ok(()) }
    /// ```
    pub fn with_control(mut config: DetectorConfig, label: impl Into<String>) -> Result<Self> {
        let r = *config
            .regression
            .get_or_insert_with(RegressionConfig::default);
        config.validate()?;
        let sla_tests = 1 + usize::from(config.latency.is_some());
        let mut d = Self::build_detector(
            DetectorConfig {
                regression: None,
                ..config.clone()
            },
            None,
        )?;
        // Both paired tests are allocated up front: alpha / (SLA tests + 2) each.
        let alpha = config.alpha / (sla_tests + 2) as f64;
        d.error = RateTest::new(
            config.error_rate.max,
            alpha,
            config.min_requests,
            config.fast_burn,
        );
        if let (Some(l), Some(t)) = (config.latency, d.latency.as_mut()) {
            *t = match l.source {
                LatencySource::SlowCounts => RateTest::new(
                    1.0 - l.quantile.as_fraction(),
                    alpha,
                    config.min_requests,
                    config.fast_burn,
                ),
                LatencySource::QuantileSamples => {
                    RateTest::new(0.5, alpha, config.min_samples, 0.0)
                }
            };
        }
        d.regression = Some(RateTest::paired(
            r.tolerance,
            alpha,
            config.min_requests,
            config.fast_burn,
        ));
        d.control = Some((label.into(), alpha));
        d.config = config;
        Ok(d)
    }

    /// A detector fed with a `StatusCodes` answer (and optionally `Latency(q)` and
    /// `LatencyHistogram` answers), as [`Observation::from_series`] reads them.
    pub fn from_series(
        config: DetectorConfig,
        status: &[Series],
        latency: Option<&[Series]>,
        histogram: Option<&[Series]>,
    ) -> Result<Self> {
        let mut d = SequentialDetector::new(config)?;
        d.observe_series(status, latency, histogram)?;
        Ok(d)
    }

    /// The baseline the regression tests compare against, if any.
    pub fn baseline(&self) -> Option<&Baseline> {
        self.baseline.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The time of the last observation.
    pub fn last_observed(&self) -> Option<DateTime<Utc>> {
        self.last_at
    }

    /// Feeds the steps of a (possibly overlapping) query answer that are newer than the last
    /// observation, so a poll loop can re-query a sliding window each tick. Returns how many
    /// steps were new.
    pub fn observe_series(
        &mut self,
        status: &[Series],
        latency: Option<&[Series]>,
        histogram: Option<&[Series]>,
    ) -> Result<usize> {
        let obs = Observation::from_series(status, latency, histogram)?;
        let mut n = 0;
        for o in obs {
            if self.last_at.is_some_and(|l| o.at <= l) {
                continue;
            }
            self.observe(o)?;
            n += 1;
        }
        Ok(n)
    }

    /// Feeds one step. Steps must come in strictly increasing time; counts must be consistent
    /// (`errors` and `slow` at most `requests`, latency finite and non-negative). A rejected
    /// observation changes nothing.
    pub fn observe(&mut self, o: Observation) -> Result<()> {
        if let Some(last) = self.last_at {
            if o.at <= last {
                return Err(Error::invalid_input(format!(
                    "observation at {} is not after the previous one at {last}: expected steps in strictly increasing time",
                    o.at
                )));
            }
        }
        if o.errors > o.requests {
            return Err(Error::invalid_input(format!(
                "observation at {}: {} errors out of {} requests; expected errors <= requests",
                o.at, o.errors, o.requests
            )));
        }
        if let Some(slow) = o.slow {
            if slow > o.requests {
                return Err(Error::invalid_input(format!(
                    "observation at {}: {slow} slow requests out of {}; expected slow <= requests",
                    o.at, o.requests
                )));
            }
        }
        if let Some(ms) = o.latency_ms {
            if !(ms.is_finite() && ms >= 0.0) {
                return Err(Error::invalid_input(format!(
                    "observation at {}: latency {ms} ms; expected a finite, non-negative number",
                    o.at
                )));
            }
        }
        if let Some(h) = &o.histogram {
            h.validate()
                .map_err(|e| e.with_context("observation", o.at))?;
        }
        if let Some(c) = &o.control {
            if c.errors > c.requests {
                return Err(Error::invalid_input(format!(
                    "observation at {}: the control has {} errors out of {} requests; expected errors <= requests",
                    o.at, c.errors, c.requests
                )));
            }
            if let Some(h) = &c.histogram {
                h.validate()
                    .map_err(|e| e.with_context("control observation", o.at))?;
            }
        }
        let dt = match self.last_at {
            Some(last) => (o.at - last).to_std().unwrap_or(self.config.step),
            None => self.config.step,
        };
        let persistence = self.config.persistence;
        let tolerance = self
            .config
            .regression
            .map_or(RegressionConfig::default().tolerance, |r| r.tolerance);
        // Steps of this length in the persistence period (`None`: no persistence).
        let period_steps =
            (!persistence.is_zero()).then(|| persistence.as_secs_f64() / dt.as_secs_f64());
        let cap = |t: &mut RateTest| {
            let ln_target = t.log_threshold;
            period_steps.map(|n| t.persistence_cap(n, ln_target))
        };
        let c = cap(&mut self.error);
        if self.control.is_some() {
            let ctl = o
                .control
                .as_ref()
                .map_or((0, 0), |c| (c.requests, c.errors));
            self.error
                .update_sla_paired(o.at, (o.requests, o.errors), ctl, c, tolerance, None);
        } else {
            self.error.update(o.at, o.requests, o.errors, c);
        }
        if let Some(t) = self.regression.as_mut() {
            let c = cap(t);
            if t.paired.is_some() {
                let ctl = o
                    .control
                    .as_ref()
                    .map_or((0, 0), |c| (c.requests, c.errors));
                t.update_paired(o.at, (o.requests, o.errors), ctl, c);
            } else {
                t.update(o.at, o.requests, o.errors, c);
            }
        }
        let control_hist = o.control.as_ref().and_then(|c| c.histogram.as_ref());
        if let (None, Some((_, alpha)), Some(h), Some(ch)) =
            (&self.shift, &self.control, &o.histogram, control_hist)
        {
            // The bounds both arms report, slowest 16: fixed by the layout, not the counts.
            let mut bounds: Vec<f64> = h
                .buckets
                .iter()
                .map(|b| b.0)
                .filter(|le| le.is_finite() && ch.slower_than(*le).is_some())
                .collect();
            let keep = bounds.len().saturating_sub(RegressionPlan::MAX_BOUNDS);
            bounds.drain(..keep);
            if !bounds.is_empty() {
                let tolerance = self
                    .config
                    .regression
                    .map_or(RegressionConfig::default().tolerance, |r| r.tolerance);
                self.shift = Some(ShiftTest::paired(
                    &bounds,
                    tolerance,
                    *alpha,
                    self.config.min_requests,
                ));
            }
        }
        if let (Some(t), Some(h)) = (self.shift.as_mut(), &o.histogram) {
            t.update(o.at, h, control_hist, period_steps);
        }
        if let (Some(test), Some(l)) = (self.latency.as_mut(), self.config.latency) {
            let ln_target = test.log_threshold;
            let c = period_steps.map(|n| test.persistence_cap(n, ln_target));
            match l.source {
                LatencySource::SlowCounts => {
                    if let Some(slow) = o.slow {
                        if self.control.is_some() {
                            let ctl = o
                                .control
                                .as_ref()
                                .and_then(|c| c.histogram.as_ref())
                                .and_then(|h| Some((h.total(), h.slower_than(l.threshold.max)?)))
                                .unwrap_or((0, 0));
                            test.update_sla_paired(
                                o.at,
                                (o.requests, slow),
                                ctl,
                                c,
                                tolerance,
                                None,
                            );
                        } else {
                            test.update(o.at, o.requests, slow, c);
                        }
                    }
                }
                LatencySource::QuantileSamples => {
                    if let Some(ms) = o.latency_ms {
                        let over = |ms: f64| u64::from(ms >= l.threshold.max);
                        if self.control.is_some() {
                            let theirs = o.control.as_ref().and_then(|c| c.latency_ms);
                            let ctl = theirs.map_or((0, 0), |cm| (1, over(cm)));
                            test.update_sla_paired(
                                o.at,
                                (1, over(ms)),
                                ctl,
                                c,
                                tolerance,
                                Some((ms, theirs.unwrap_or(0.0))),
                            );
                        } else {
                            test.update(o.at, 1, over(ms), c);
                        }
                        self.last_latency = Some(ms);
                    }
                }
            }
        }
        self.last_at = Some(o.at);
        Ok(())
    }

    /// Whether a breach has been declared (cheap; no verdict built).
    pub fn breached(&self) -> bool {
        self.error.breach()
            || self.latency.as_ref().is_some_and(RateTest::breach)
            || self
                .regression
                .as_ref()
                .is_some_and(|t| t.crossing.is_some())
            || self.shift.as_ref().is_some_and(|t| t.crossing.is_some())
    }

    /// The verdict as of the last observation.
    pub fn verdict(&self) -> DetectorVerdict {
        self.build(self.last_at)
    }

    /// The verdict at `now`: metrics whose last data is older than `stale_after` count as
    /// having no data (a breach already declared stays declared).
    pub fn verdict_at(&self, now: DateTime<Utc>) -> DetectorVerdict {
        self.build(Some(now))
    }

    fn build(&self, now: Option<DateTime<Utc>>) -> DetectorVerdict {
        let mut metrics = vec![self.metric_verdict(
            &self.error,
            MetricKind::ErrorRate,
            TestKind::ErrorRate,
            self.config.error_rate,
            now,
        )];
        if let (Some(test), Some(l)) = (&self.latency, &self.config.latency) {
            let kind = match l.source {
                LatencySource::SlowCounts => TestKind::SlowFraction,
                LatencySource::QuantileSamples => TestKind::LatencySign,
            };
            metrics.push(self.metric_verdict(
                test,
                MetricKind::Latency(l.quantile),
                kind,
                l.threshold,
                now,
            ));
        }
        if let Some(t) = &self.regression {
            metrics.push(self.metric_verdict(
                t,
                MetricKind::ErrorRate,
                TestKind::ErrorRegression,
                self.config.error_rate,
                now,
            ));
        }
        if let Some(s) = &self.shift {
            let (le, t) = s.view();
            metrics.push(self.metric_verdict(
                &t,
                MetricKind::LatencyHistogram,
                TestKind::LatencyShift,
                Threshold::new(le, None),
                now,
            ));
        }
        metrics.sort_by_key(|m| match m.state {
            DetectorState::Breach => 0,
            DetectorState::Inconclusive => 1,
            DetectorState::Healthy => 2,
        });
        let state = if metrics.iter().any(|m| m.state == DetectorState::Breach) {
            DetectorState::Breach
        } else if metrics
            .iter()
            .any(|m| m.state == DetectorState::Inconclusive)
        {
            DetectorState::Inconclusive
        } else {
            DetectorState::Healthy
        };
        let explanation = metrics
            .iter()
            .map(|m| m.explanation.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        DetectorVerdict {
            state,
            metrics,
            at: now,
            explanation,
            notes: self.notes.clone(),
        }
    }

    fn metric_verdict(
        &self,
        t: &RateTest,
        metric: MetricKind,
        test: TestKind,
        sla: Threshold,
        now: Option<DateTime<Utc>>,
    ) -> MetricVerdict {
        let fmt_rate = |v: f64| format_percent(v * 100.0);
        let fmt_sla = |v: f64| match test {
            TestKind::ErrorRate => fmt_rate(v),
            _ => metric.format_value(v),
        };
        let from = self
            .baseline
            .as_ref()
            .map(|b| b.label.as_str())
            .or(self.control.as_ref().map(|c| c.0.as_str()))
            .filter(|l| !l.is_empty())
            .unwrap_or("the baseline");
        let tolerance = self
            .config
            .regression
            .map_or(RegressionConfig::default().tolerance, |r| r.tolerance);
        // Paired tests: the control's rate over the breach segment, else over all steps.
        let paired_ref = t.paired.as_ref().map(|_| {
            let (x, n) = match t.crossing.and_then(|c| {
                c.segment
                    .onset
                    .map(|_| (c.segment.ref_events, c.segment.ref_trials))
            }) {
                Some(seg) => seg,
                None => (t.ref_events, t.ref_trials),
            };
            if n == 0 {
                0.0
            } else {
                x as f64 / n as f64
            }
        });
        let reference = paired_ref.or(t.reference);
        let null_rate = match paired_ref {
            Some(r) => inflate(r, tolerance),
            None => t.p0,
        };
        let ms = |v: f64| format!("{}ms", group_thousands(v.round() as i64));
        let what = match test {
            TestKind::ErrorRate => format!("{metric}"),
            TestKind::SlowFraction => format!("{metric}: requests over {}", fmt_sla(sla.max)),
            TestKind::LatencySign => format!("{metric}: steps over {}", fmt_sla(sla.max)),
            TestKind::ErrorRegression => format!("{metric} against {from}"),
            TestKind::LatencyShift => {
                format!(
                    "{metric} against {from}: requests slower than {}",
                    ms(sla.max)
                )
            }
        };
        let unit = match test {
            TestKind::LatencySign => "steps",
            _ => "requests",
        };
        let stale = now
            .zip(t.last_at)
            .and_then(|(n, l)| (n - l).to_std().ok())
            .is_some_and(|age| age > self.config.stale_after);
        let e_threshold = 1.0 / t.alpha;
        let mut v = MetricVerdict {
            metric: metric.clone(),
            test,
            state: DetectorState::Healthy,
            threshold: sla.max,
            null_rate,
            reference,
            shared_with: None,
            estimate: None,
            last_value: if test == TestKind::LatencySign {
                self.last_latency
            } else {
                None
            },
            e_value: t.log_e.exp(),
            e_threshold,
            since: None,
            onset: None,
            severity: None,
            total_trials: t.trials,
            explanation: String::new(),
        };
        let sla_text = match test {
            TestKind::ErrorRate => format!("SLA < {}", fmt_sla(sla.max)),
            TestKind::ErrorRegression | TestKind::LatencyShift if paired_ref.is_some() => format!(
                "vs {} in {from} over the same steps (tested: odds at most {}× its)",
                fmt_rate(reference.unwrap_or(0.0)),
                fmt_e(tolerance)
            ),
            TestKind::ErrorRegression | TestKind::LatencyShift => format!(
                "vs {} in {from} (tested: at most {}, tolerance {}× its odds)",
                fmt_rate(reference.unwrap_or(0.0)),
                fmt_rate(t.p0),
                fmt_e(tolerance)
            ),
            _ => format!(
                "SLA {} < {} (at most {} over)",
                metric,
                fmt_sla(sla.max),
                fmt_rate(t.p0)
            ),
        };
        if let Some(c) = &t.crossing {
            let comp = c.segment;
            let est = comp
                .onset
                .map(|from| t.estimate(comp.events, comp.trials, from));
            v.state = DetectorState::Breach;
            v.estimate = est;
            v.since = Some(c.at);
            v.onset = comp.onset;
            v.severity = Some(match (est, sla.critical) {
                (_, _) if test == TestKind::LatencyShift => Severity::High,
                (Some(e), Some(crit)) if test != TestKind::LatencySign && e.low >= crit => {
                    Severity::Critical
                }
                (_, Some(crit)) if test == TestKind::LatencySign => {
                    if self.last_latency.is_some_and(|l| l >= crit) {
                        Severity::Critical
                    } else {
                        Severity::High
                    }
                }
                _ => Severity::High,
            });
            let value = est.map_or_else(
                || "?".to_string(),
                |e| {
                    format!(
                        "{} [{}, {}] ({} of {} {unit})",
                        fmt_rate(e.rate),
                        fmt_rate(e.low),
                        fmt_rate(e.high),
                        group_thousands(e.events as i64),
                        group_thousands(e.trials as i64)
                    )
                },
            );
            let b = self.config.fast_burn;
            let tier = match test {
                _ if comp.capped => String::new(),
                _ if paired_ref.is_some() => {
                    format!(", fast burn: odds over {}× its", fmt_e(b * tolerance))
                }
                _ => format!(", fast burn: over {}× the SLA", fmt_e(b)),
            };
            v.explanation = format!(
                "{} {what}: {value} {sla_text} since {}{}: e-value {} >= {} (alpha {}{tier})",
                v.severity.unwrap_or(Severity::High),
                c.at.format("%H:%M:%S"),
                comp.onset
                    .map(|o| format!(" (onset {})", o.format("%H:%M:%S")))
                    .unwrap_or_default(),
                fmt_e(c.e_value),
                fmt_e(e_threshold),
                fmt_alpha(t.alpha)
            );
            if let Some(shared) = t.shared {
                // The neighbour broke the SLA over the same steps: not this release's breach.
                v.state = DetectorState::Healthy;
                v.severity = None;
                v.shared_with = Some(shared);
                let theirs = match test {
                    TestKind::LatencySign => {
                        format!(
                            "{} of its steps over {}",
                            fmt_rate(shared),
                            fmt_sla(sla.max)
                        )
                    }
                    TestKind::SlowFraction => {
                        format!(
                            "{} of its requests over {}",
                            fmt_rate(shared),
                            fmt_sla(sla.max)
                        )
                    }
                    _ => fmt_rate(shared),
                };
                v.explanation = format!(
                    "{what}: {value} {sla_text} since {} — but {from} had {theirs} in the same period: a shared cause (a dependency, the platform), not this release; rolling it back would not restore the SLA",
                    c.at.format("%H:%M:%S"),
                );
            }
            return v;
        }
        let regression = matches!(test, TestKind::ErrorRegression | TestKind::LatencyShift);
        if regression && (t.trials == 0 || stale) {
            // The SLA tests carry the no-data policy; a comparison without data is not run.
            v.explanation = format!(
                "{what}: not tested, {} (the SLA tests apply the no-data policy)",
                if t.trials == 0 {
                    "no data to compare (for the latency distribution: none at the baseline's bounds)"
                } else {
                    "no recent data"
                }
            );
            return v;
        }
        if t.trials == 0 || stale {
            let why = if t.trials == 0 {
                "no data".to_string()
            } else {
                format!(
                    "no data since {}",
                    t.last_at
                        .map(|l| l.format("%H:%M:%S").to_string())
                        .unwrap_or_default()
                )
            };
            v.state = match self.config.no_data {
                NoDataPolicy::Fail => DetectorState::Breach,
                NoDataPolicy::Inconclusive => DetectorState::Inconclusive,
                NoDataPolicy::Pass => DetectorState::Healthy,
            };
            if v.state == DetectorState::Breach {
                v.severity = Some(Severity::High);
            }
            v.explanation = format!(
                "{what}: {why} ({sla_text}; no-data policy {:?} makes it {})",
                self.config.no_data, v.state
            );
            return v;
        }
        let from = t.first_at.unwrap_or_default();
        let est = t.estimate(t.events, t.trials, from);
        v.estimate = Some(est);
        if t.trials < t.min_trials {
            v.state = DetectorState::Inconclusive;
            v.explanation = format!(
                "{what}: {} of {} {unit}, fewer than the {} needed for a verdict ({sla_text})",
                group_thousands(t.events as i64),
                group_thousands(t.trials as i64),
                t.min_trials
            );
            return v;
        }
        v.explanation = format!(
            "{what}: {} [{}, {}] over {} {unit} {sla_text}: no evidence of a breach (e-value {} < {})",
            fmt_rate(est.rate),
            fmt_rate(est.low),
            fmt_rate(est.high),
            group_thousands(est.trials as i64),
            fmt_e(v.e_value),
            fmt_e(e_threshold)
        );
        v
    }
}

/// A level with at most four significant digits (`0.01`, `0.001667`).
fn fmt_alpha(a: f64) -> String {
    let digits = (4 - a.log10().ceil() as i32).clamp(0, 12);
    let scale = 10f64.powi(digits);
    format!("{}", (a * scale).round() / scale)
}

fn fmt_e(e: f64) -> String {
    if e.is_infinite() {
        return "> 1e308".into();
    }
    if e >= 1e4 || (e > 0.0 && e < 1e-2) {
        format!("{e:.2e}")
    } else {
        format!("{e:.2}")
    }
}

/// When and how strongly the evidence first crossed `1/alpha`.
#[derive(Debug, Clone, Copy)]
struct Crossing {
    at: DateTime<Utc>,
    e_value: f64,
    /// The segment of the component with the most evidence as it was at the crossing (the verdict reports this, not the
    /// segment as it has run on since).
    segment: Segment,
}

/// A component's most likely bad period: its onset and the counts since.
#[derive(Debug, Clone, Copy)]
struct Segment {
    onset: Option<DateTime<Utc>>,
    events: u64,
    trials: u64,
    ref_events: u64,
    ref_trials: u64,
    capped: bool,
}

impl Component {
    fn segment(&self) -> Segment {
        Segment {
            onset: self.onset,
            events: self.seg_events,
            trials: self.seg_trials,
            ref_events: self.seg_ref_events,
            ref_trials: self.seg_ref_trials,
            capped: self.capped,
        }
    }
}

/// One alternative `p_k` of the mixture, with its Shiryaev–Roberts and CUSUM recursions.
#[derive(Debug, Clone)]
struct Component {
    /// `ln(p_k / p_ref)`, where `p_ref` is `p0` (SLA tier) or `b · p0` (fast-burn tier).
    a: f64,
    /// `ln((1 − p_k) / (1 − p_ref))`.
    b: f64,
    /// `ln v_k`, the component's mixture weight.
    ln_v: f64,
    /// Whether the persistence cap applies (SLA tier) or not (fast-burn tier).
    capped: bool,
    /// `ln R_t(k)`.
    log_sr: f64,
    /// `ln C_t(k)` (max over starts).
    log_cusum: f64,
    /// Start of the arg-max segment.
    onset: Option<DateTime<Utc>>,
    seg_events: u64,
    seg_trials: u64,
    /// The control arm's counts over the same segment (paired tests).
    seg_ref_events: u64,
    seg_ref_trials: u64,
}

/// The grid of alternatives above `p_ref`, `odds(p_k) = odds(p_ref) · 1.5^k`.
fn grid(p_ref: f64, capped: bool) -> Vec<Component> {
    let odds0 = p_ref / (1.0 - p_ref);
    let mut ps: Vec<f64> = (1..=MAX_COMPONENTS)
        .map(|k| {
            let odds = odds0 * GRID_RATIO.powi(k as i32);
            odds / (1.0 + odds)
        })
        .take_while(|p| *p <= MAX_ALTERNATIVE)
        .collect();
    if ps.is_empty() {
        // p_ref so close to 1 that no grid point fits: one alternative halfway to 1.
        ps.push((p_ref + 1.0) / 2.0);
    }
    let ln_k = (ps.len() as f64).ln();
    ps.into_iter()
        .map(|p| Component {
            a: (p / p_ref).ln(),
            b: ((1.0 - p) / (1.0 - p_ref)).ln(),
            ln_v: -ln_k,
            capped,
            log_sr: f64::NEG_INFINITY,
            log_cusum: f64::NEG_INFINITY,
            onset: None,
            seg_events: 0,
            seg_trials: 0,
            seg_ref_events: 0,
            seg_ref_trials: 0,
        })
        .collect()
}

/// The one-sided binomial e-process with mixtures over alternatives and change points.
#[derive(Debug, Clone)]
struct RateTest {
    p0: f64,
    alpha: f64,
    log_threshold: f64,
    min_trials: u64,
    comps: Vec<Component>,
    /// `−ln V`, `V` the capped tier's total weight (`ln 2` with a fast-burn tier, else 0).
    ln_inv_tier: f64,
    /// The last persistence cap, `(n, c)`: the next one starts its search from it.
    last_cap: Option<(f64, f64)>,
    /// Steps with at least one trial (the change-point index).
    steps: u64,
    trials: u64,
    events: u64,
    first_at: Option<DateTime<Utc>>,
    last_at: Option<DateTime<Utc>>,
    /// `ln E_t`.
    log_e: f64,
    crossing: Option<Crossing>,
    /// The baseline's own rate, for regression tests against a fixed baseline.
    reference: Option<f64>,
    /// Paired tests, per tier in component order (the persistence-capped tier, then the
    /// fast-burn tier): `ln ω0` of its null and `ln ω_k` per component.
    paired: Option<Vec<(f64, Vec<f64>)>>,
    /// The control arm's totals (paired tests).
    ref_events: u64,
    ref_trials: u64,
    /// Scratch space for one step's log-likelihood ratios.
    lrs: Vec<f64>,
    /// An SLA test in paired mode whose crossing the control arm shared: the control's rate
    /// over the crossing segment, at or above the SLA. Such a crossing is not a breach of
    /// this release.
    shared: Option<f64>,
}

impl RateTest {
    /// `fast_burn > 1` with `fast_burn · p0` below the grid's top adds the uncapped tier.
    fn new(p0: f64, alpha: f64, min_trials: u64, fast_burn: f64) -> Self {
        let mut comps = grid(p0, true);
        let p_fast = fast_burn * p0;
        if fast_burn > 1.0 && p_fast < MAX_ALTERNATIVE {
            let mut fast = grid(p_fast, false);
            for c in comps.iter_mut().chain(fast.iter_mut()) {
                c.ln_v -= std::f64::consts::LN_2;
            }
            comps.append(&mut fast);
        }
        let ln_inv_v = -comps[0].ln_v;
        let capped = comps.iter().filter(|c| c.capped).count() as f64;
        RateTest {
            p0,
            alpha,
            log_threshold: (1.0 / alpha).ln(),
            min_trials,
            comps,
            ln_inv_tier: ln_inv_v - capped.ln(),
            last_cap: None,
            steps: 0,
            trials: 0,
            events: 0,
            first_at: None,
            last_at: None,
            log_e: 0.0,
            crossing: None,
            reference: None,
            paired: None,
            ref_events: 0,
            ref_trials: 0,
            lrs: Vec::new(),
            shared: None,
        }
    }

    /// A crossing that counts: not shared with the control arm.
    fn breach(&self) -> bool {
        self.crossing.is_some() && self.shared.is_none()
    }

    /// An SLA test's step in paired mode: the binomial test of the canary's counts, with the
    /// control's counts tracked per segment; at the crossing, whether the control broke the
    /// SLA over the same segment (then the crossing is shared, not a breach).
    ///
    /// Shared means: the control broke the SLA over the same segment *and* the canary is not
    /// clearly worse — the low end of its rate's confidence interval has at most `tolerance ×`
    /// the odds of the high end of the control's over the segment, or, when
    /// `magnitude = (canary, control)` is given (the latency sign test), its value at most
    /// `tolerance ×` the control's at the crossing.
    #[allow(clippy::too_many_arguments)]
    fn update_sla_paired(
        &mut self,
        at: DateTime<Utc>,
        (n, x): (u64, u64),
        (nr, xr): (u64, u64),
        cap: Option<f64>,
        tolerance: f64,
        magnitude: Option<(f64, f64)>,
    ) {
        let mut lrs = std::mem::take(&mut self.lrs);
        let (xf, ff) = (x as f64, n.saturating_sub(x) as f64);
        lrs.clear();
        lrs.extend(self.comps.iter().map(|c| xf * c.a + ff * c.b));
        self.advance(at, n > 0, (n, x), (nr, xr), cap, &lrs);
        self.lrs = lrs;
        if let Some(c) = self.crossing.filter(|c| c.at == at) {
            let seg = c.segment;
            if seg.ref_trials > 0 && seg.trials > 0 {
                let rate = seg.ref_events as f64 / seg.ref_trials as f64;
                let comparable = match magnitude {
                    Some((mine, theirs)) => mine <= tolerance * theirs,
                    None => {
                        // Clearly worse: even the low end of the canary's interval has more
                        // than `tolerance ×` the odds of the high end of the control's (point
                        // estimates over a short segment are too noisy to decide on).
                        let (own, _) = confidence_sequence(seg.events, seg.trials, self.alpha);
                        let (_, theirs) =
                            confidence_sequence(seg.ref_events, seg.ref_trials, self.alpha);
                        // odds(own) <= tolerance · odds(theirs), without dividing by 0.
                        own * (1.0 - theirs) <= tolerance * theirs * (1.0 - own)
                    }
                };
                if rate >= self.p0 && comparable {
                    self.shared = Some(rate);
                }
            }
        }
    }

    /// The paired test of a canary against a control arm serving at the same time: per step,
    /// given how many events the two arms had together, how many fell in the canary. Null:
    /// the canary's odds of an event are at most `tolerance` times the control's. With
    /// `fast_burn = b > 1`, half the mixture weight goes to an uncapped tier testing odds at
    /// most `b · tolerance` times the control's. See the module documentation, *Canary
    /// against the release beside it*.
    fn paired(tolerance: f64, alpha: f64, min_trials: u64, fast_burn: f64) -> Self {
        let mut t = RateTest::new(0.5, alpha, min_trials, 0.0);
        let tier = |ln0: f64| {
            let ks: Vec<f64> = (1..=PAIRED_COMPONENTS)
                .map(|k| ln0 + k as f64 * GRID_RATIO.ln())
                .collect();
            (ln0, ks)
        };
        let mut tiers = vec![tier(tolerance.ln())];
        if fast_burn > 1.0 {
            tiers.push(tier((fast_burn * tolerance).ln()));
        }
        let template = t.comps[0].clone();
        let ln_v = -((PAIRED_COMPONENTS * tiers.len()) as f64).ln();
        t.comps = (0..tiers.len())
            .flat_map(|i| {
                let template = &template;
                (0..PAIRED_COMPONENTS).map(move |_| Component {
                    ln_v,
                    capped: i == 0,
                    ..template.clone()
                })
            })
            .collect();
        // The capped tier weighs 1/tiers.
        t.ln_inv_tier = (tiers.len() as f64).ln();
        t.paired = Some(tiers);
        t
    }

    /// One step of a paired test: the canary's `x` events in `n` trials, the control's `xr` in
    /// `nr`.
    fn update_paired(
        &mut self,
        at: DateTime<Utc>,
        (n, x): (u64, u64),
        (nr, xr): (u64, u64),
        cap: Option<f64>,
    ) {
        let mut lrs = std::mem::take(&mut self.lrs);
        let tiers = self.paired.as_ref().expect("a paired test");
        let informative = conditional_lrs(x, n, xr, nr, tiers, &mut lrs);
        self.advance(at, informative, (n, x), (nr, xr), cap, &lrs);
        self.lrs = lrs;
    }

    /// The persistence cap for the next step (nats per step), when a period `D` spans `n`
    /// steps of the current length: the largest per-step log-likelihood ratio `c` with which
    /// the capped tier, starting from no evidence, stays below `e^ln_target` through `n`
    /// steps even if every component of the tier and every start point inside the burst hits
    /// the cap at every step — `V · w · Σ_{i=1..n} e^{i·c} = e^ln_target`, with `V` the tier's
    /// weight and `w` the weight of the earliest start point such a burst can have (`n` steps
    /// back: the weights decrease). `ln_target` is `ln(1/α)` for a test on
    /// its own and `ln(1/α) − ln J` for one of the `J` bounds of the latency-shift test (whose
    /// e-value is their average).
    fn persistence_cap(&mut self, n: f64, ln_target: f64) -> f64 {
        // A burst shorter than the period that includes the next step has at most
        // `⌈n⌉ − 1` steps, so its earliest start point is `⌈n⌉ − 2` steps before the next one;
        // that one weighs most (the weights decrease).
        let k = if n.is_finite() {
            n.ceil().max(1.0) as u64
        } else {
            1
        };
        let first = (self.steps + 3).saturating_sub(k).clamp(1, self.steps + 1);
        let ln_m = ln_target + self.ln_inv_tier - ln_weight(first);
        // The weights change slowly, so the last cap (same period) is a close first guess.
        let guess = self.last_cap.filter(|(m, _)| *m == n).map(|(_, c)| c);
        let c = geometric_cap(n, ln_m, guess);
        self.last_cap = Some((n, c));
        c
    }

    fn update(&mut self, at: DateTime<Utc>, n: u64, x: u64, cap: Option<f64>) {
        let mut lrs = std::mem::take(&mut self.lrs);
        let (xf, ff) = (x as f64, n.saturating_sub(x) as f64);
        lrs.clear();
        lrs.extend(self.comps.iter().map(|c| xf * c.a + ff * c.b));
        self.advance(at, n > 0, (n, x), (0, 0), cap, &lrs);
        self.lrs = lrs;
    }

    /// Advances the mixture by one step whose per-component log-likelihood ratios are `lrs`.
    /// A step that carries no evidence (`informative` false) only moves the clock: it does not
    /// advance the change-point index.
    fn advance(
        &mut self,
        at: DateTime<Utc>,
        informative: bool,
        (n, x): (u64, u64),
        (nr, xr): (u64, u64),
        cap: Option<f64>,
        lrs: &[f64],
    ) {
        self.last_at = Some(at);
        if n == 0 {
            return;
        }
        self.first_at.get_or_insert(at);
        self.trials += n;
        self.events += x;
        self.ref_trials += nr;
        self.ref_events += xr;
        if !informative {
            // Counts still belong to the running segments.
            for c in &mut self.comps {
                if c.onset.is_some() {
                    c.seg_events += x;
                    c.seg_trials += n;
                    c.seg_ref_events += xr;
                    c.seg_ref_trials += nr;
                }
            }
            return;
        }
        self.steps += 1;
        let ln_w = ln_weight(self.steps);
        let mut best = (f64::NEG_INFINITY, 0);
        for (i, (c, l)) in self.comps.iter_mut().zip(lrs).enumerate() {
            let mut l = *l;
            if let (Some(cap), true) = (cap, c.capped) {
                l = l.min(cap);
            }
            c.log_sr = log_add_exp(c.log_sr, ln_w) + l;
            if ln_w > c.log_cusum {
                c.log_cusum = ln_w;
                c.onset = Some(at);
                c.seg_events = 0;
                c.seg_trials = 0;
                c.seg_ref_events = 0;
                c.seg_ref_trials = 0;
            }
            c.log_cusum += l;
            c.seg_events += x;
            c.seg_trials += n;
            c.seg_ref_events += xr;
            c.seg_ref_trials += nr;
            if c.log_sr + c.ln_v > best.0 {
                best = (c.log_sr + c.ln_v, i);
            }
        }
        let log_mix = log_sum_exp(self.comps.iter().map(|c| c.log_sr + c.ln_v));
        self.log_e = log_add_exp(ln_tail(self.steps), log_mix);
        if self.crossing.is_none()
            && self.log_e >= self.log_threshold
            && self.trials >= self.min_trials
        {
            self.crossing = Some(Crossing {
                at,
                e_value: self.log_e.exp(),
                segment: self.comps[best.1].segment(),
            });
        }
    }

    fn estimate(&self, events: u64, trials: u64, from: DateTime<Utc>) -> RateEstimate {
        let (low, high) = confidence_sequence(events, trials, self.alpha);
        RateEstimate {
            rate: if trials == 0 {
                0.0
            } else {
                events as f64 / trials as f64
            },
            low,
            high,
            events,
            trials,
            from,
        }
    }
}

/// The latency-shift test: one binomial e-process per histogram bound (requests slower than
/// the bound against the baseline's share times the tolerance), averaged. Each is a test
/// supermartingale under its own null, so their average is one under all of them at once;
/// the evidence is declared at `1/alpha` of the average.
#[derive(Debug, Clone)]
struct ShiftTest {
    /// Histogram bounds (ms), ascending.
    bounds: Vec<f64>,
    /// One test per bound, built at `alpha / J` (their average crosses at `1/alpha`); each
    /// bound's persistence cap is sized for `1/alpha`, what a burst moving every bound at once
    /// needs.
    tests: Vec<RateTest>,
    alpha: f64,
    log_threshold: f64,
    log_e: f64,
    /// The crossing, with the index of the bound with most evidence.
    crossing: Option<(Crossing, usize)>,
}

impl ShiftTest {
    fn new(bounds: &[(f64, f64, f64)], alpha: f64, min_trials: u64) -> Self {
        let j = bounds.len() as f64;
        ShiftTest {
            bounds: bounds.iter().map(|b| b.0).collect(),
            tests: bounds
                .iter()
                .map(|&(_, null, base)| {
                    let mut t = RateTest::new(null, alpha / j, min_trials, 0.0);
                    t.reference = Some(base);
                    t
                })
                .collect(),
            alpha,
            log_threshold: (1.0 / alpha).ln(),
            log_e: 0.0,
            crossing: None,
        }
    }

    /// The paired version: per bound, the canary's slow requests against the control's.
    fn paired(bounds: &[f64], tolerance: f64, alpha: f64, min_trials: u64) -> Self {
        let j = bounds.len() as f64;
        ShiftTest {
            bounds: bounds.to_vec(),
            tests: bounds
                .iter()
                .map(|_| RateTest::paired(tolerance, alpha / j, min_trials, 0.0))
                .collect(),
            alpha,
            log_threshold: (1.0 / alpha).ln(),
            log_e: 0.0,
            crossing: None,
        }
    }

    fn update(
        &mut self,
        at: DateTime<Utc>,
        h: &LatencyHistogram,
        control: Option<&LatencyHistogram>,
        period_steps: Option<f64>,
    ) {
        let n = h.total();
        // Each bound's test is built at alpha / J; the average crosses at 1/alpha, which a
        // burst moving every bound at once reaches when each bound reaches it.
        let ln_j = (self.tests.len() as f64).ln();
        let mut cached: Option<(u64, f64)> = None;
        for (le, t) in self.bounds.iter().zip(self.tests.iter_mut()) {
            let Some(slow) = h.slower_than(*le) else {
                continue;
            };
            // The bounds' tests differ only in their counts: one cap per step index.
            let c = period_steps.map(|steps| match cached {
                Some((at_step, c)) if at_step == t.steps => c,
                _ => {
                    let ln_target = t.log_threshold - ln_j;
                    let c = t.persistence_cap(steps, ln_target);
                    cached = Some((t.steps, c));
                    c
                }
            });
            if t.paired.is_some() {
                let (nr, xr) = control
                    .and_then(|ch| Some((ch.total(), ch.slower_than(*le)?)))
                    .unwrap_or((0, 0));
                t.update_paired(at, (n, slow), (nr, xr), c);
            } else {
                t.update(at, n, slow, c);
            }
        }
        let j = self.tests.len() as f64;
        self.log_e = log_sum_exp(self.tests.iter().map(|t| t.log_e)) - j.ln();
        let trials = self.tests.iter().map(|t| t.trials).max().unwrap_or(0);
        let min_trials = self.tests.first().map_or(0, |t| t.min_trials);
        if self.crossing.is_none() && self.log_e >= self.log_threshold && trials >= min_trials {
            let (i, best) = self.strongest();
            let component = best
                .comps
                .iter()
                .enumerate()
                .max_by(|a, b| (a.1.log_sr + a.1.ln_v).total_cmp(&(b.1.log_sr + b.1.ln_v)))
                .map_or(0, |c| c.0);
            self.crossing = Some((
                Crossing {
                    at,
                    e_value: self.log_e.exp(),
                    segment: best.comps[component].segment(),
                },
                i,
            ));
        }
    }

    /// Without a crossing: the bound where the release is nearest its null (its share over
    /// the null rate, or over the control's share in paired mode), so a healthy verdict names
    /// a bound that says something; the bound with the most evidence if none has data.
    fn closest(&self) -> usize {
        let ratio = |t: &RateTest| {
            let own = t.events as f64 / t.trials as f64;
            let null = if t.paired.is_some() {
                (t.ref_events as f64 + 0.5) / (t.ref_trials as f64 + 1.0)
            } else {
                t.p0
            };
            own / null
        };
        self.tests
            .iter()
            .enumerate()
            .filter(|(_, t)| t.trials > 0)
            .max_by(|a, b| ratio(a.1).total_cmp(&ratio(b.1)))
            .map_or_else(|| self.strongest().0, |(i, _)| i)
    }

    /// The bound with the most evidence now.
    fn strongest(&self) -> (usize, &RateTest) {
        self.tests
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.log_e.total_cmp(&b.1.log_e))
            .expect("a shift test has at least one bound")
    }

    /// The bound's test as the verdict reports it: the chosen bound's counts with the
    /// combined evidence, level and crossing.
    fn view(&self) -> (f64, RateTest) {
        let i = match &self.crossing {
            Some((_, i)) => *i,
            None => self.closest(),
        };
        let mut t = self.tests[i].clone();
        t.alpha = self.alpha;
        t.log_threshold = self.log_threshold;
        t.log_e = self.log_e;
        t.crossing = self.crossing.map(|c| c.0);
        (self.bounds[i], t)
    }
}

/// Alternatives of a paired test: odds ratios `ω0 · 1.5^k`, `k = 1..=24` (up to ~17,000×).
const PAIRED_COMPONENTS: usize = 24;

/// The exact conditional log-likelihood ratios of one step of a paired test, into `out`
/// (one per `ln ω_k` of each tier `(ln ω0, [ln ω_k])`, in order). With `x ~ Bin(n, p)` and `xr ~ Bin(nr, q)` independent, the canary's
/// share `x` of the `e = x + xr` events given `e` follows Fisher's noncentral hypergeometric
/// distribution with odds ratio `ω = odds(p)/odds(q)`:
///
/// ```text
/// P(x | e; ω) = C(n, x) C(nr, e − x) ω^x / Σ_u C(n, u) C(nr, e − u) ω^u
/// LR_k = (ω_k/ω0)^x · Σ_u h_u ω0^u / Σ_u h_u ω_k^u
/// ```
///
/// whose expectation under any `ω ≤ ω0` is at most 1 (the family has monotone likelihood
/// ratios in `x`). Returns false when the step carries no evidence (`e = 0`, or only one split
/// possible).
fn conditional_lrs(
    x: u64,
    n: u64,
    xr: u64,
    nr: u64,
    tiers: &[(f64, Vec<f64>)],
    out: &mut Vec<f64>,
) -> bool {
    out.clear();
    out.resize(tiers.iter().map(|(_, ks)| ks.len()).sum(), 0.0);
    let e = x + xr;
    let lo = e.saturating_sub(nr);
    let hi = e.min(n);
    if e == 0 || lo >= hi {
        return false;
    }
    // ln h_u up to a constant, by the ratio of consecutive terms.
    let mut h = Vec::with_capacity((hi - lo + 1) as usize);
    let mut cur = 0.0f64;
    h.push(cur);
    for u in lo..hi {
        let (uf, nf, ef, nrf) = (u as f64, n as f64, e as f64, nr as f64);
        cur += (nf - uf).ln() - (uf + 1.0).ln() + (ef - uf).ln() - (nrf - ef + uf + 1.0).ln();
        h.push(cur);
    }
    let ln_norm = |ln_w: f64| -> f64 {
        let m = h
            .iter()
            .enumerate()
            .map(|(i, hu)| hu + (lo + i as u64) as f64 * ln_w)
            .fold(f64::NEG_INFINITY, f64::max);
        m + h
            .iter()
            .enumerate()
            .map(|(i, hu)| hu + (lo + i as u64) as f64 * ln_w - m)
            .filter(|d| *d > -50.0)
            .map(f64::exp)
            .sum::<f64>()
            .ln()
    };
    let mut out = out.iter_mut();
    for (ln0, ks) in tiers {
        let base = ln_norm(*ln0);
        for (o, k) in out.by_ref().zip(ks) {
            *o = x as f64 * (k - ln0) - (ln_norm(*k) - base);
        }
    }
    true
}

/// `ln w_j`, `w_j = ln 2 · (1/ln(j+1) − 1/ln(j+2))`, computed without cancellation.
/// `ln Σ_{i=1..n} e^{i·c}` for `c ≥ 0` (`n` may be fractional: `e^c (e^{c·n} − 1)/(e^c − 1)`,
/// `ln n` at `c = 0`).
fn ln_geometric_sum(c: f64, n: f64) -> f64 {
    if c <= 0.0 {
        return n.ln();
    }
    c + (c * n).exp_m1().ln() - c.exp_m1().ln()
}

/// The `c ≥ 0` with `ln Σ_{i=1..n} e^{i·c} = ln_m`: 0 when even `c = 0` reaches it (or `n` is
/// not finite), the whole of `ln_m` when one step is longer than the period (`n ≤ 1`).
/// Newton's method from above: for `n ≥ 1` the left-hand side is increasing and convex in `c`
/// (its slope grows from `(n+1)/2` to `n`), so the iterates fall monotonically onto the root;
/// a few steps reach 1e-9 nats (the cap needs no more: any cap fixed before the step keeps
/// the test valid).
fn geometric_cap(n: f64, ln_m: f64, guess: Option<f64>) -> f64 {
    if !n.is_finite() {
        return 0.0;
    }
    let n = n.max(1.0);
    if n.ln() >= ln_m {
        return 0.0;
    }
    // The slope is at least (n+1)/2, so this start is at or above the root; from a guess
    // below it, the first Newton step lands above it (convexity), and from there on the
    // iterates fall onto it.
    let mut c = guess
        .filter(|g| g.is_finite() && *g > 0.0)
        .unwrap_or(2.0 * (ln_m - n.ln()) / (n + 1.0));
    for _ in 0..50 {
        let h = ln_geometric_sum(c, n) - ln_m;
        if h.abs() < 1e-9 || c <= 0.0 {
            break;
        }
        let slope = 1.0 + n / -(-c * n).exp_m1() - 1.0 / -(-c).exp_m1();
        c = (c - h / slope).max(0.0);
    }
    c
}

fn ln_weight(j: u64) -> f64 {
    let j = j as f64;
    let a = (j + 1.0).ln();
    let b = (j + 2.0).ln();
    std::f64::consts::LN_2.ln() + (1.0 / (j + 1.0)).ln_1p().ln() - a.ln() - b.ln()
}

/// `ln Σ_{j>t} w_j = ln(ln 2 / ln(t+2))`.
fn ln_tail(t: u64) -> f64 {
    std::f64::consts::LN_2.ln() - ((t as f64) + 2.0).ln().ln()
}

fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

fn log_sum_exp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// `ln Γ(x)` for `x > 0`: Stirling's series after shifting `x` above 10.
fn ln_gamma(mut x: f64) -> f64 {
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= x.ln();
        x += 1.0;
    }
    let x2 = x * x;
    let series = 1.0 / (12.0 * x) - 1.0 / (360.0 * x * x2) + 1.0 / (1260.0 * x * x2 * x2)
        - 1.0 / (1680.0 * x * x2 * x2 * x2);
    shift + (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + series
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// The beta-binomial (Jeffreys) confidence sequence for a rate after `x` events in `n` trials:
/// `{p : ln B(x+½, n−x+½) − ln B(½,½) − x ln p − (n−x) ln(1−p) < ln(1/α)}`.
fn confidence_sequence(x: u64, n: u64, alpha: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (xf, ff) = (x as f64, (n - x) as f64);
    let c = ln_beta(xf + 0.5, ff + 0.5) - ln_beta(0.5, 0.5) + alpha.ln();
    // Inside the set iff g(p) = x ln p + (n−x) ln(1−p) > c; g is concave, maximal at x/n.
    let g = |p: f64| {
        let mut v = 0.0;
        if x > 0 {
            v += xf * p.ln();
        }
        if x < n {
            v += ff * (1.0 - p).ln();
        }
        v
    };
    let mle = xf / n as f64;
    let bisect = |mut inside: f64, mut outside: f64| {
        for _ in 0..100 {
            let mid = 0.5 * (inside + outside);
            if g(mid) > c {
                inside = mid;
            } else {
                outside = mid;
            }
        }
        inside
    };
    let low = if x == 0 { 0.0 } else { bisect(mle, 0.0) };
    let high = if x == n { 1.0 } else { bisect(mle, 1.0) };
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metric::Sample;

    /// SplitMix64: a tiny deterministic generator for simulated streams.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        /// Binomial(n, p) by geometric skips: O(n·p + 1).
        fn binomial(&mut self, n: u64, p: f64) -> u64 {
            if p <= 0.0 {
                return 0;
            }
            let lq = (1.0 - p).ln();
            let (mut i, mut x) = (0u64, 0u64);
            loop {
                let skip = (self.uniform().ln() / lq).floor();
                if skip >= (n - i) as f64 {
                    return x;
                }
                i += skip as u64 + 1;
                x += 1;
                if i >= n {
                    return x;
                }
            }
        }
    }

    fn t0() -> DateTime<Utc> {
        "2024-01-15T14:27:00Z".parse().unwrap()
    }

    fn at(s: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(s)
    }

    /// One series labelled `key = value`, a sample every 10 s from `t0`.
    fn labelled_series(key: &str, value: &str, v: &[f64]) -> Series {
        Series::new(
            v.iter()
                .enumerate()
                .map(|(i, v)| Sample {
                    at: at(10 * i as i64),
                    value: *v,
                })
                .collect(),
        )
        .with_label(key, value)
    }

    /// `hits` false detections in `streams` are within `alpha` plus three binomial standard
    /// errors.
    fn assert_within_alpha(hits: usize, streams: u64, alpha: f64) {
        let slack = 3.0 * (alpha * (1.0 - alpha) / streams as f64).sqrt();
        assert!(
            hits as f64 / streams as f64 <= alpha + slack,
            "false detections {hits}/{streams}"
        );
    }

    fn config(alpha: f64, p0: f64) -> DetectorConfig {
        DetectorConfig {
            alpha,
            min_requests: 0,
            ..DetectorConfig::with_error_rate(p0)
        }
    }

    /// Runs `streams` seeded streams of `steps` steps; `rate(seed, step)` is the true error
    /// rate and requests per step vary in 5..=25. Returns the step of detection per stream.
    fn simulate(
        cfg: &DetectorConfig,
        streams: u64,
        steps: i64,
        rate: impl Fn(u64, i64) -> f64,
    ) -> Vec<Option<i64>> {
        (0..streams)
            .map(|seed| {
                let mut rng = Rng(seed.wrapping_mul(0xA076_1D64_78BD_642F) ^ 0x5EED);
                let mut d = SequentialDetector::new(cfg.clone()).unwrap();
                for s in 0..steps {
                    let n = 5 + rng.next_u64() % 21;
                    let x = rng.binomial(n, rate(seed, s));
                    d.observe(Observation::counts(at(s), n, x)).unwrap();
                    if d.breached() {
                        return Some(s);
                    }
                }
                None
            })
            .collect()
    }

    #[test]
    fn false_detection_rate_at_the_sla_boundary_stays_below_alpha_under_continuous_monitoring() {
        // 2,000 streams of 2,000 steps at exactly p = p0, checked at every step. A fixed-n test
        // repeated at every step would fire on most of them.
        let (alpha, streams) = (0.05, 2000u64);
        let hits = simulate(&config(alpha, 0.01), streams, 2000, |_, _| 0.01)
            .iter()
            .filter(|d| d.is_some())
            .count();
        assert_within_alpha(hits, streams, alpha);
    }

    #[test]
    fn drifting_error_rate_below_the_sla_is_not_flagged_more_than_alpha() {
        // The null is composite: any p_t <= p0, changing over time.
        let (alpha, streams) = (0.05, 1000u64);
        let hits = simulate(&config(alpha, 0.01), streams, 2000, |seed, s| {
            0.01 * (0.75 + 0.25 * ((s as f64 / 200.0) + seed as f64).sin())
        })
        .iter()
        .filter(|d| d.is_some())
        .count();
        assert!(
            hits as f64 / streams as f64 <= alpha,
            "false detections {hits}/{streams}"
        );
    }

    #[test]
    fn sustained_breach_is_detected_in_every_stream() {
        let delays = simulate(&config(0.01, 0.01), 200, 2000, |_, _| 0.05);
        assert!(
            delays.iter().all(|d| d.is_some()),
            "some breaches were missed"
        );
        let mut d: Vec<i64> = delays.into_iter().flatten().collect();
        d.sort_unstable();
        // ~15 requests per step: a 5x error rate needs a few hundred requests.
        assert!(d[d.len() / 2] < 60, "median delay {} steps", d[d.len() / 2]);
    }

    #[test]
    fn late_breach_after_a_long_healthy_period_is_detected_quickly() {
        // An hour of healthy 100 req/s, then 5 %: the change-point mixture does not make the
        // release pay back the hour of good behaviour.
        let mut d = SequentialDetector::new(config(0.01, 0.005)).unwrap();
        let mut rng = Rng(7);
        for s in 0..3600 {
            let x = rng.binomial(100, 0.001);
            d.observe(Observation::counts(at(s), 100, x)).unwrap();
        }
        assert!(!d.breached());
        let mut detected = None;
        for s in 3600..3700 {
            let x = rng.binomial(100, 0.05);
            d.observe(Observation::counts(at(s), 100, x)).unwrap();
            if d.breached() {
                detected = Some(s);
                break;
            }
        }
        let s = detected.expect("breach not detected in 100 s");
        assert!(s - 3600 <= 10, "detected after {} s", s - 3600);
        let v = d.verdict();
        let onset = v.metrics[0].onset.unwrap();
        assert!(onset >= at(3590) && onset <= at(3602), "onset {onset}");
    }

    #[test]
    fn detector_is_deterministic() {
        let a = simulate(&config(0.01, 0.01), 20, 500, |_, s| {
            if s > 200 {
                0.04
            } else {
                0.005
            }
        });
        let b = simulate(&config(0.01, 0.01), 20, 500, |_, s| {
            if s > 200 {
                0.04
            } else {
                0.005
            }
        });
        assert_eq!(a, b);
        let feed = |d: &mut SequentialDetector| {
            for s in 0..300 {
                d.observe(Observation::counts(at(s), 50, u64::from(s > 100) * 3))
                    .unwrap();
            }
        };
        let (mut x, mut y) = (
            SequentialDetector::new(config(0.01, 0.01)).unwrap(),
            SequentialDetector::new(config(0.01, 0.01)).unwrap(),
        );
        feed(&mut x);
        feed(&mut y);
        assert_eq!(x.verdict(), y.verdict());
    }

    #[test]
    fn three_requests_with_two_errors_give_no_verdict() {
        let mut d = SequentialDetector::new(DetectorConfig::with_error_rate(0.005)).unwrap();
        d.observe(Observation::counts(at(0), 3, 2)).unwrap();
        let v = d.verdict();
        assert_eq!(v.state, DetectorState::Inconclusive, "{}", v.explanation);
        assert!(
            v.explanation.contains("fewer than the 50"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn low_traffic_needs_evidence_even_without_the_guard() {
        // 1 error in 3 requests against 0.5 % is not enough evidence at alpha = 1 %.
        let mut d = SequentialDetector::new(config(0.01, 0.005)).unwrap();
        d.observe(Observation::counts(at(0), 3, 1)).unwrap();
        assert!(!d.breached());
    }

    #[test]
    fn missing_data_follows_the_no_data_policy() {
        for (policy, state) in [
            (NoDataPolicy::Fail, DetectorState::Breach),
            (NoDataPolicy::Inconclusive, DetectorState::Inconclusive),
            (NoDataPolicy::Pass, DetectorState::Healthy),
        ] {
            let d = SequentialDetector::new(DetectorConfig {
                no_data: policy,
                ..DetectorConfig::default()
            })
            .unwrap();
            let v = d.verdict();
            assert_eq!(v.state, state, "{policy:?}: {}", v.explanation);
            assert!(v.explanation.contains("no data"), "{}", v.explanation);
        }
    }

    #[test]
    fn stale_data_counts_as_missing() {
        let mut d = SequentialDetector::new(DetectorConfig::default()).unwrap();
        for s in 0..60 {
            d.observe(Observation::counts(at(s), 100, 0)).unwrap();
        }
        assert_eq!(d.verdict().state, DetectorState::Healthy);
        let v = d.verdict_at(at(600));
        assert_eq!(v.state, DetectorState::Breach, "{}", v.explanation);
        assert!(v.explanation.contains("no data since"), "{}", v.explanation);
    }

    #[test]
    fn misconfiguration_is_rejected_with_the_accepted_range() {
        for (cfg, needle) in [
            (
                DetectorConfig {
                    alpha: 0.0,
                    ..DetectorConfig::default()
                },
                "(0, 0.5]",
            ),
            (DetectorConfig::with_error_rate(1.5), "(0, 1)"),
            (
                DetectorConfig {
                    fast_burn: 0.5,
                    ..DetectorConfig::default()
                },
                "fast_burn",
            ),
            (
                DetectorConfig {
                    step: Duration::ZERO,
                    ..DetectorConfig::default()
                },
                "step",
            ),
        ] {
            let err = SequentialDetector::new(cfg).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn inconsistent_observations_are_rejected_and_change_nothing() {
        let mut d = SequentialDetector::new(DetectorConfig::default()).unwrap();
        let err = d.observe(Observation::counts(at(0), 3, 4)).unwrap_err();
        assert!(err.to_string().contains("errors <= requests"), "{err}");
        d.observe(Observation::counts(at(5), 10, 0)).unwrap();
        let err = d.observe(Observation::counts(at(5), 10, 0)).unwrap_err();
        assert!(err.to_string().contains("strictly increasing"), "{err}");
        assert_eq!(d.verdict().metrics[0].total_trials, 10);
    }

    #[test]
    fn breach_verdict_says_which_metric_what_value_against_what_and_since_when() {
        let mut d = SequentialDetector::new(DetectorConfig {
            error_rate: Threshold::new(0.005, Some(0.05)),
            ..DetectorConfig::default()
        })
        .unwrap();
        for s in 0..120 {
            let errors = if s < 60 { 0 } else { 124 };
            d.observe(Observation::counts(at(s), 1000, errors)).unwrap();
        }
        let v = d.verdict();
        assert_eq!(v.state, DetectorState::Breach);
        let m = &v.metrics[0];
        assert_eq!(m.metric, MetricKind::ErrorRate);
        assert_eq!(m.severity, Some(Severity::Critical));
        assert_eq!(m.since, Some(at(60)));
        assert_eq!(m.onset, Some(at(60)));
        let est = m.estimate.unwrap();
        assert!((est.rate - 0.124).abs() < 1e-9);
        assert!(est.low < 0.124 && est.high > 0.124 && est.low > 0.05);
        assert!(m.e_value >= m.e_threshold);
        for needle in [
            "Error rate",
            "12.4%",
            "SLA < 0.5%",
            "since 14:28:00",
            "e-value",
        ] {
            assert!(
                v.explanation.contains(needle),
                "{needle}: {}",
                v.explanation
            );
        }
        let a = v.to_assessment();
        assert_eq!(a.verdict, Verdict::Violation);
        assert_eq!(a.breaches[0].severity, Severity::Critical);
        assert_eq!(a.breaches[0].since, Some(at(60)));
    }

    #[test]
    fn healthy_verdict_reports_the_rate_with_its_interval() {
        let mut d = SequentialDetector::new(DetectorConfig::default()).unwrap();
        for s in 0..600 {
            d.observe(Observation::counts(at(s), 100, u64::from(s % 10 == 0)))
                .unwrap();
        }
        let v = d.verdict();
        assert_eq!(v.state, DetectorState::Healthy, "{}", v.explanation);
        let est = v.metrics[0].estimate.unwrap();
        assert!(
            est.low < 0.001 && 0.001 < est.high && est.high < 0.005,
            "{est:?}"
        );
        assert!(v.explanation.contains("no evidence"), "{}", v.explanation);
    }

    #[test]
    fn short_blip_does_not_fire_with_persistence_but_a_sustained_breach_does() {
        let cfg = DetectorConfig {
            persistence: Duration::from_secs(30),
            step: Duration::from_secs(1),
            ..config(0.01, 0.005)
        };
        let mut d = SequentialDetector::new(cfg.clone()).unwrap();
        for s in 0..600 {
            // A 5-second blip at 3 % among 0.1 %, 1,000 req/s.
            let errors = if (300..305).contains(&s) { 30 } else { 1 };
            d.observe(Observation::counts(at(s), 1000, errors)).unwrap();
        }
        assert!(!d.breached(), "{}", d.verdict().explanation);
        let mut without = SequentialDetector::new(config(0.01, 0.005)).unwrap();
        for s in 0..600 {
            let errors = if (300..305).contains(&s) { 30 } else { 1 };
            without
                .observe(Observation::counts(at(s), 1000, errors))
                .unwrap();
        }
        assert!(
            without.breached(),
            "the blip is real evidence without persistence"
        );
        for s in 600..700 {
            d.observe(Observation::counts(at(s), 1000, 30)).unwrap();
        }
        let since = d.verdict().metrics[0]
            .since
            .expect("sustained breach missed");
        assert!(since >= at(625) && since <= at(660), "since {since}");
    }

    #[test]
    fn fast_burn_tier_keeps_false_detections_at_the_sla_boundary_below_alpha() {
        // Both tiers are supermartingales under p_t <= p0, so their mixture is too.
        let (alpha, streams) = (0.05, 2000u64);
        let cfg = DetectorConfig {
            persistence: Duration::from_secs(5),
            step: Duration::from_secs(1),
            fast_burn: 2.0,
            ..config(alpha, 0.01)
        };
        let hits = simulate(&cfg, streams, 2000, |_, _| 0.01)
            .iter()
            .filter(|d| d.is_some())
            .count();
        assert_within_alpha(hits, streams, alpha);
    }

    #[test]
    fn fast_burn_skips_the_persistence_wait_only_above_b_times_the_sla() {
        let cfg = DetectorConfig {
            persistence: Duration::from_secs(30),
            step: Duration::from_secs(1),
            fast_burn: 10.0,
            ..config(0.01, 0.005)
        };
        // 1,000 req/s at 0.1 %, a 10-second blip at 3 % (6x the SLA, under the fast tier's
        // 5 %), then 12.4 % from 600 s.
        let run = |bad: u64| {
            let mut d = SequentialDetector::new(cfg.clone()).unwrap();
            let mut rng = Rng(11);
            for s in 0..900 {
                let p = match s {
                    300..310 => 0.03,
                    600.. => bad as f64 / 1000.0,
                    _ => 0.001,
                };
                d.observe(Observation::counts(at(s), 1000, rng.binomial(1000, p)))
                    .unwrap();
                if s == 599 {
                    assert!(!d.breached(), "blip: {}", d.verdict().explanation);
                }
            }
            d.verdict()
        };
        let fast = run(124);
        let since = fast.metrics[0].since.expect("12.4 % missed");
        assert!(since <= at(602), "12.4 % declared at {since}");
        assert!(
            fast.explanation.contains("fast burn"),
            "{}",
            fast.explanation
        );
        // 2 % is 4x the SLA: only the persistence-capped tier sees it.
        let slow = run(20);
        let since = slow.metrics[0].since.expect("2 % missed");
        assert!(since >= at(625), "2 % declared at {since}");
        assert!(
            !slow.explanation.contains("fast burn"),
            "{}",
            slow.explanation
        );
    }

    #[test]
    fn slow_request_counts_detect_a_latency_breach() {
        let mut d = SequentialDetector::new(DetectorConfig {
            latency: Some(LatencySla {
                quantile: Quantile::P95,
                threshold: Threshold::new(100.0, None),
                source: LatencySource::SlowCounts,
            }),
            ..DetectorConfig::default()
        })
        .unwrap();
        for s in 0..120 {
            let slow = if s < 60 { 2 } else { 15 };
            d.observe(Observation::counts(at(s), 100, 0).with_slow(slow))
                .unwrap();
        }
        let v = d.verdict();
        assert_eq!(v.state, DetectorState::Breach, "{}", v.explanation);
        let m = &v.metrics[0];
        assert_eq!(m.test, TestKind::SlowFraction);
        assert!(m.since.unwrap() <= at(65), "{}", v.explanation);
        assert!(
            v.explanation.contains("requests over 100ms"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn quantile_samples_feed_a_sign_test() {
        let mut d = SequentialDetector::new(DetectorConfig {
            latency: Some(LatencySla {
                quantile: Quantile::P95,
                threshold: Threshold::new(100.0, Some(1000.0)),
                source: LatencySource::QuantileSamples,
            }),
            ..DetectorConfig::default()
        })
        .unwrap();
        for s in 0..60 {
            let ms = if s < 30 { 80.0 } else { 3245.0 };
            d.observe(Observation::counts(at(10 * s), 100, 0).with_latency_ms(ms))
                .unwrap();
        }
        let v = d.verdict();
        assert_eq!(v.state, DetectorState::Breach, "{}", v.explanation);
        assert_eq!(v.metrics[0].test, TestKind::LatencySign);
        assert_eq!(v.metrics[0].severity, Some(Severity::Critical));
        assert_eq!(v.metrics[0].last_value, Some(3245.0));
    }

    #[test]
    fn status_code_series_become_observations() {
        let mk = |code: &str, v: &[f64]| labelled_series("code", code, v);
        let status = [
            mk("200", &[100.0, 99.6, f64::NAN]),
            mk("503", &[1.0, 0.4, 2.0]),
            mk("500", &[0.0, 1.0, 0.0]),
        ];
        let obs = Observation::from_series(&status, None, None).unwrap();
        assert_eq!(obs.len(), 3);
        assert_eq!((obs[0].requests, obs[0].errors), (101, 1));
        assert_eq!((obs[1].requests, obs[1].errors), (101, 1));
        assert_eq!((obs[2].requests, obs[2].errors), (2, 2));

        let mut d = SequentialDetector::new(DetectorConfig::default()).unwrap();
        let first = [mk("200", &[100.0, 99.6]), mk("503", &[1.0, 0.4])];
        assert_eq!(d.observe_series(&first, None, None).unwrap(), 2);
        assert_eq!(
            d.observe_series(&status, None, None).unwrap(),
            1,
            "overlap skipped"
        );

        let err = Observation::from_series(&[mk("abc", &[1.0])], None, None).unwrap_err();
        assert!(err.to_string().contains("100-599"), "{err}");
        let err = Observation::from_series(&[Series::new(vec![])], None, None).unwrap_err();
        assert!(err.to_string().contains("`code` label"), "{err}");
    }

    #[test]
    fn confidence_sequence_covers_the_estimate_and_shrinks() {
        let (l1, h1) = confidence_sequence(10, 1000, 0.01);
        let (l2, h2) = confidence_sequence(100, 10_000, 0.01);
        assert!(l1 < 0.01 && 0.01 < h1);
        assert!(l2 < 0.01 && 0.01 < h2);
        assert!(h2 - l2 < h1 - l1);
        assert_eq!(confidence_sequence(0, 100, 0.01).0, 0.0);
        assert_eq!(confidence_sequence(100, 100, 0.01).1, 1.0);
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn change_point_weights_sum_to_one() {
        let partial: f64 = (1..=10_000).map(|j| ln_weight(j).exp()).sum();
        assert!((partial + ln_tail(10_000).exp() - 1.0).abs() < 1e-9);
    }

    /// A multinomial draw over `probs` (summing to 1) as a cumulative histogram over `bounds`
    /// (the last `+Inf`).
    fn histogram(rng: &mut Rng, n: u64, bounds: &[f64], probs: &[f64]) -> LatencyHistogram {
        let (mut left, mut mass, mut cum) = (n, 1.0f64, 0u64);
        let mut buckets = Vec::new();
        for (b, p) in bounds.iter().zip(probs) {
            let x = if mass <= 0.0 || *p >= mass {
                left
            } else {
                rng.binomial(left, p / mass)
            };
            left -= x;
            mass -= p;
            cum += x;
            buckets.push((*b, cum));
        }
        LatencyHistogram::new(buckets).unwrap()
    }

    const BOUNDS: [f64; 6] = [50.0, 100.0, 250.0, 500.0, 1000.0, f64::INFINITY];
    /// Healthy: 60 % under 50 ms, 1 % over 500 ms, 0.2 % over 1 s.
    const HEALTHY: [f64; 6] = [0.60, 0.30, 0.07, 0.02, 0.008, 0.002];
    /// The tail fattens: 4 % over 500 ms.
    const SLOW_TAIL: [f64; 6] = [0.58, 0.28, 0.06, 0.04, 0.03, 0.01];

    fn regression_config(alpha: f64, sla: f64) -> DetectorConfig {
        DetectorConfig {
            alpha,
            regression: Some(RegressionConfig::default()),
            ..config(alpha, sla)
        }
    }

    fn baseline_of(requests: u64, errors: u64, probs: Option<&[f64]>) -> Baseline {
        let mut rng = Rng(99);
        Baseline {
            requests,
            errors,
            latency: probs.map(|p| histogram(&mut rng, requests, &BOUNDS, p)),
            label: "before the deploy".into(),
        }
    }

    #[test]
    fn alpha_shares_depend_on_what_the_baseline_has_not_on_its_counts() {
        // SLA 1 %, alpha 0.01. The e-value thresholds show each test's share: an SLA test
        // crosses at 1/alpha_i, a regression e-process at 2/alpha_i (half its share pays for
        // the baseline's confidence bounds).
        let thresholds = |b: Baseline| -> Vec<(TestKind, f64)> {
            let d = SequentialDetector::with_baseline(regression_config(0.01, 0.01), b).unwrap();
            d.verdict()
                .metrics
                .iter()
                .map(|m| (m.test, m.e_threshold))
                .collect()
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * b;
        // Errors only, the regression test runs: two tests, alpha/2 each.
        let t = thresholds(baseline_of(100_000, 100, None));
        assert!(
            t.iter()
                .any(|&(k, e)| k == TestKind::ErrorRate && close(e, 200.0)),
            "{t:?}"
        );
        assert!(
            t.iter()
                .any(|&(k, e)| k == TestKind::ErrorRegression && close(e, 400.0)),
            "{t:?}"
        );
        // Errors only, the baseline's data rule the regression test out (0.8 % errors: twice
        // its odds is above the 1 % SLA): its share is not handed to the SLA test.
        let t = thresholds(baseline_of(100_000, 800, None));
        assert!(
            t.iter().all(|&(k, _)| k != TestKind::ErrorRegression),
            "{t:?}"
        );
        assert!(
            t.iter()
                .any(|&(k, e)| k == TestKind::ErrorRate && close(e, 200.0)),
            "{t:?}"
        );
        // Too few requests: the same.
        let t = thresholds(baseline_of(10, 0, None));
        assert!(
            t.iter()
                .any(|&(k, e)| k == TestKind::ErrorRate && close(e, 200.0)),
            "{t:?}"
        );
        // With a histogram: three possible tests, alpha/3 each.
        let t = thresholds(baseline_of(100_000, 100, Some(&HEALTHY)));
        assert!(
            t.iter()
                .any(|&(k, e)| k == TestKind::ErrorRate && close(e, 300.0)),
            "{t:?}"
        );
        assert!(
            t.iter()
                .any(|&(k, e)| k == TestKind::ErrorRegression && close(e, 600.0)),
            "{t:?}"
        );
        assert!(
            t.iter()
                .any(|&(k, e)| k == TestKind::LatencyShift && close(e, 600.0)),
            "{t:?}"
        );
        // Without a baseline: the SLA test alone has all of alpha.
        let d = SequentialDetector::new(regression_config(0.01, 0.01)).unwrap();
        assert!(close(d.verdict().metrics[0].e_threshold, 100.0));
    }

    #[test]
    fn error_regression_false_detections_at_the_tolerance_stay_below_alpha() {
        // Baseline 1 % (its true rate); the release at exactly twice those odds, checked every
        // step, 1,000 streams: the SLA (20 %) never fires, the regression test must fire on
        // at most alpha of them.
        let (alpha, streams) = (0.05, 1000u64);
        let base = baseline_of(20_000, 200, None);
        let p = inflate(0.01, 2.0);
        let mut hits = 0;
        for seed in 0..streams {
            let mut rng = Rng(seed ^ 0xBA5E);
            let mut d =
                SequentialDetector::with_baseline(regression_config(alpha, 0.2), base.clone())
                    .unwrap();
            for s in 0..1500 {
                let x = rng.binomial(40, p);
                d.observe(Observation::counts(at(s), 40, x)).unwrap();
            }
            hits += usize::from(d.breached());
        }
        assert_within_alpha(hits, streams, alpha);
    }

    #[test]
    fn error_regression_inside_the_sla_is_detected_and_explained() {
        // 0.05 % before the deploy, 0.4 % after: inside the 0.5 % SLA, 8x the baseline.
        let base = baseline_of(200_000, 100, None);
        let mut d =
            SequentialDetector::with_baseline(regression_config(0.01, 0.005), base).unwrap();
        let mut rng = Rng(3);
        for s in 0..600 {
            let x = rng.binomial(200, 0.004);
            d.observe(Observation::counts(at(s), 200, x)).unwrap();
        }
        let v = d.verdict();
        assert_eq!(v.state, DetectorState::Breach, "{}", v.explanation);
        let m = v.breaches().next().unwrap();
        assert_eq!(m.test, TestKind::ErrorRegression);
        assert_eq!(m.reference, Some(0.0005));
        assert!(
            m.null_rate > 0.0005 && m.null_rate < 0.005,
            "{}",
            m.null_rate
        );
        assert_eq!(m.severity, Some(Severity::High));
        for needle in ["against before the deploy", "vs 0.05%", "tolerance 2.00×"] {
            assert!(
                v.explanation.contains(needle),
                "{needle}: {}",
                v.explanation
            );
        }
        let sla = v
            .metrics
            .iter()
            .find(|m| m.test == TestKind::ErrorRate)
            .unwrap();
        assert_eq!(sla.state, DetectorState::Healthy, "{}", sla.explanation);
        let a = v.to_assessment();
        assert_eq!(a.verdict, Verdict::Violation);
        // The same release against the same baseline, without the regression config: healthy.
        let mut plain = SequentialDetector::new(config(0.01, 0.005)).unwrap();
        let mut rng = Rng(3);
        for s in 0..600 {
            let x = rng.binomial(200, 0.004);
            plain.observe(Observation::counts(at(s), 200, x)).unwrap();
        }
        assert!(!plain.breached());
    }

    #[test]
    fn error_regression_waits_for_persistence_even_far_above_the_tested_rate() {
        // 0.05 % before the deploy (tested: at most ~0.1 %), SLA 5 %, persistence 60 s, fast
        // burn 10. A release at 4 % is 40× its baseline but inside the SLA: the regression test
        // has no fast tier (a healthy service's bursts exceed 10× such a null), so it waits.
        let cfg = DetectorConfig {
            persistence: Duration::from_secs(60),
            step: Duration::from_secs(1),
            fast_burn: 10.0,
            ..regression_config(0.01, 0.05)
        };
        let base = baseline_of(2_000_000, 1_000, None);
        let mut d = SequentialDetector::with_baseline(cfg, base).unwrap();
        let mut rng = Rng(5);
        for s in 0..600 {
            let p = if s >= 300 { 0.04 } else { 0.0005 };
            d.observe(Observation::counts(at(s), 2000, rng.binomial(2000, p)))
                .unwrap();
        }
        let v = d.verdict();
        let m = v
            .breaches()
            .find(|m| m.test == TestKind::ErrorRegression)
            .unwrap_or_else(|| panic!("missed: {}", v.explanation));
        assert!(m.since.unwrap() >= at(360), "{}", m.explanation);
        assert!(!m.explanation.contains("fast burn"), "{}", m.explanation);
    }

    #[test]
    fn unusable_baselines_are_noted_not_tested() {
        // Too small, and too bad (2x the odds of ~0.4 % is above the 0.5 % SLA).
        for (base, needle) in [
            (baseline_of(500, 0, None), "fewer than the 1,000 needed"),
            (
                baseline_of(100_000, 400, None),
                "the SLA test is the stricter one",
            ),
        ] {
            let d =
                SequentialDetector::with_baseline(regression_config(0.01, 0.005), base).unwrap();
            let v = d.verdict();
            assert!(
                v.metrics
                    .iter()
                    .all(|m| m.test != TestKind::ErrorRegression),
                "{v:?}"
            );
            assert!(v.notes.iter().any(|n| n.contains(needle)), "{:?}", v.notes);
            assert!(
                v.notes.iter().any(|n| n.contains("no latency histogram")),
                "{:?}",
                v.notes
            );
        }
        let err = SequentialDetector::with_baseline(
            regression_config(0.01, 0.005),
            baseline_of(10, 11, None),
        )
        .unwrap_err();
        assert!(err.to_string().contains("errors <= requests"), "{err}");
        let err = SequentialDetector::new(DetectorConfig {
            regression: Some(RegressionConfig {
                tolerance: 1.0,
                ..RegressionConfig::default()
            }),
            ..DetectorConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("greater than 1"), "{err}");
    }

    #[test]
    fn latency_shift_finds_a_fattened_tail_and_ignores_a_faster_release() {
        let base = baseline_of(100_000, 100, Some(&HEALTHY));
        let run = |probs: &[f64]| {
            let mut d =
                SequentialDetector::with_baseline(regression_config(0.01, 0.05), base.clone())
                    .unwrap();
            let mut rng = Rng(5);
            for s in 0..300 {
                let h = histogram(&mut rng, 100, &BOUNDS, probs);
                d.observe(Observation::counts(at(s), 100, 0).with_histogram(h))
                    .unwrap();
            }
            d.verdict()
        };
        let v = run(&SLOW_TAIL);
        assert_eq!(v.state, DetectorState::Breach, "{}", v.explanation);
        let m = v.breaches().next().unwrap();
        assert_eq!(m.test, TestKind::LatencyShift);
        assert_eq!(m.metric, MetricKind::LatencyHistogram);
        assert!(
            m.threshold == 500.0 || m.threshold == 1000.0,
            "{}",
            m.threshold
        );
        assert!(m.since.unwrap() <= at(120), "{}", v.explanation);
        assert!(
            v.explanation
                .contains("Latency distribution against before the deploy: requests slower than"),
            "{}",
            v.explanation
        );
        // Faster than the baseline everywhere: nothing to report.
        let faster = run(&[0.80, 0.15, 0.04, 0.008, 0.0015, 0.0005]);
        assert_eq!(
            faster.state,
            DetectorState::Healthy,
            "{}",
            faster.explanation
        );
    }

    #[test]
    fn latency_shift_false_detections_with_an_unchanged_distribution_stay_below_alpha() {
        // The release draws from the baseline's distribution; every bound is at its null's
        // lower end, so this checks the average-of-e-processes bookkeeping, not the tolerance.
        let (alpha, streams) = (0.05, 400u64);
        let base = baseline_of(50_000, 50, Some(&HEALTHY));
        let cfg = DetectorConfig {
            regression: Some(RegressionConfig {
                tolerance: 1.0001,
                ..RegressionConfig::default()
            }),
            ..regression_config(alpha, 0.2)
        };
        let mut hits = 0;
        for seed in 0..streams {
            let mut rng = Rng(seed ^ 0x1A7E);
            let mut d = SequentialDetector::with_baseline(cfg.clone(), base.clone()).unwrap();
            for s in 0..600 {
                let h = histogram(&mut rng, 50, &BOUNDS, &HEALTHY);
                d.observe(Observation::counts(at(s), 50, 0).with_histogram(h))
                    .unwrap();
            }
            hits += usize::from(d.breached());
        }
        assert_within_alpha(hits, streams, alpha);
    }

    #[test]
    fn histogram_series_become_cumulative_histograms_and_bad_ones_are_rejected() {
        let mk = |le: &str, v: &[f64]| labelled_series("le", le, v);
        let series = [
            mk("+Inf", &[100.0, 50.0]),
            mk("100", &[90.0, 20.0]),
            mk("250", &[89.6, 40.0]), // rounding made it smaller than le=100's
        ];
        let steps = LatencyHistogram::from_series(&series).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[0].1.buckets,
            vec![(100.0, 90), (250.0, 90), (f64::INFINITY, 100)]
        );
        assert_eq!(steps[1].1.slower_than(100.0), Some(30));
        let base = Baseline::from_series(
            "before",
            &[mk("200", &[100.0, 50.0]).with_label("code", "200")],
            Some(&series),
        )
        .unwrap();
        assert_eq!(base.requests, 150);
        assert_eq!(base.latency.unwrap().total(), 150);

        for (bad, needle) in [
            (vec![mk("100", &[1.0])], "+Inf"),
            (vec![mk("fast", &[1.0]), mk("+Inf", &[1.0])], "bound in ms"),
            (vec![Series::new(vec![])], "`le` label"),
            (vec![mk("+Inf", &[-1.0])], "at least 0"),
        ] {
            let err = LatencyHistogram::from_series(&bad).unwrap_err();
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }
        for (bad, needle) in [
            (
                vec![(100.0, 5), (50.0, 6), (f64::INFINITY, 7)],
                "increasing",
            ),
            (
                vec![(100.0, 5), (200.0, 4), (f64::INFINITY, 7)],
                "cumulative",
            ),
            (vec![(100.0, 5)], "+Inf"),
            (vec![], "without buckets"),
        ] {
            let err = LatencyHistogram::new(bad).unwrap_err();
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }
    }

    fn ln_choose(n: u64, k: u64) -> f64 {
        ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
    }

    #[test]
    fn conditional_likelihood_ratios_are_exact_and_average_to_one_at_the_null() {
        let (n, nr, e) = (30u64, 50u64, 12u64);
        let ln0 = 2f64.ln();
        let ks = [ln0 + 1.5f64.ln(), ln0 + 3.0 * 1.5f64.ln()];
        let tiers = [(ln0, ks.to_vec())];
        // P(x | e; ω) by brute force.
        let p = |x: u64, ln_w: f64| {
            let term = |u: u64| (ln_choose(n, u) + ln_choose(nr, e - u) + u as f64 * ln_w).exp();
            term(x) / (0..=e).map(term).sum::<f64>()
        };
        let mut out = Vec::new();
        let mut mean = [0.0f64; 2];
        for x in 0..=e {
            assert!(conditional_lrs(x, n, e - x, nr, &tiers, &mut out));
            for (k, ln_k) in ks.iter().enumerate() {
                let exact = (p(x, *ln_k) / p(x, ln0)).ln();
                assert!(
                    (out[k] - exact).abs() < 1e-9,
                    "x {x}: {} vs {exact}",
                    out[k]
                );
                mean[k] += p(x, ln0) * out[k].exp();
            }
        }
        for m in mean {
            assert!((m - 1.0).abs() < 1e-9, "E[LR] at the null = {m}");
        }
        // No events, or a split fixed by the counts: no evidence.
        assert!(!conditional_lrs(0, 10, 0, 10, &tiers, &mut out));
        assert!(!conditional_lrs(5, 10, 0, 0, &tiers, &mut out));
    }

    /// Both arms share a drifting rate with bursts; the canary's odds are `ratio` times the
    /// control's. Returns whether the paired detector fired, and whether a fixed-baseline
    /// detector (baseline: the control's quiet rate) fired on the canary alone.
    fn paired_stream(seed: u64, alpha: f64, ratio: f64, steps: i64) -> (bool, bool) {
        paired_stream_with(seed, regression_config(alpha, 0.2), ratio, steps)
    }

    fn paired_stream_with(seed: u64, cfg: DetectorConfig, ratio: f64, steps: i64) -> (bool, bool) {
        let mut rng = Rng(seed ^ 0xCA7A);
        let mut paired = SequentialDetector::with_control(cfg.clone(), "v1 beside it").unwrap();
        let mut fixed =
            SequentialDetector::with_baseline(cfg, baseline_of(100_000, 100, None)).unwrap();
        for s in 0..steps {
            // 0.1 % with ±50 % drift; a shared 2-minute dependency outage at 3 % mid-way.
            let mut q = 0.001 * (1.0 + 0.5 * (s as f64 / 300.0).sin());
            if (600..720).contains(&s) {
                q = 0.03;
            }
            let p = inflate(q, ratio);
            let (n, nr) = (100, 300);
            let o = Observation::counts(at(s), n, rng.binomial(n, p)).with_control(ControlCounts {
                requests: nr,
                errors: rng.binomial(nr, q),
                histogram: None,
                latency_ms: None,
            });
            fixed.observe(o.clone()).unwrap();
            paired.observe(o).unwrap();
        }
        (paired.breached(), fixed.breached())
    }

    #[test]
    fn paired_test_false_detections_at_the_tolerated_odds_ratio_stay_below_alpha() {
        let (alpha, streams) = (0.05, 300u64);
        let hits = (0..streams)
            .filter(|s| paired_stream(*s, alpha, 2.0, 1200).0)
            .count();
        assert_within_alpha(hits, streams, alpha);
    }

    #[test]
    fn paired_fast_burn_tier_keeps_false_detections_at_the_tolerated_odds_ratio_below_alpha() {
        // Both tiers are supermartingales under odds ratios at most the tolerance (the fast
        // tier's null, b × the tolerance, contains it), so their mixture is too.
        let (alpha, streams) = (0.05, 300u64);
        let cfg = DetectorConfig {
            persistence: Duration::from_secs(15),
            step: Duration::from_secs(1),
            fast_burn: 2.0,
            ..regression_config(alpha, 0.2)
        };
        let hits = (0..streams)
            .filter(|s| paired_stream_with(*s, cfg.clone(), 2.0, 1200).0)
            .count();
        assert_within_alpha(hits, streams, alpha);
    }

    #[test]
    fn paired_fast_burn_skips_the_persistence_wait_only_above_b_times_the_tolerance() {
        let cfg = DetectorConfig {
            persistence: Duration::from_secs(60),
            step: Duration::from_secs(1),
            fast_burn: 10.0,
            ..regression_config(0.01, 0.05)
        };
        // Both arms at 0.2 % with drift; from 300 s the canary's odds are `ratio` times its
        // neighbour's. The tolerance is 2, so the fast tier tests odds up to 20×.
        let run = |ratio: f64| {
            let mut d = SequentialDetector::with_control(cfg.clone(), "v1 beside it").unwrap();
            let mut rng = Rng(31);
            for s in 0..700 {
                let q = 0.002 * (1.0 + 0.5 * (s as f64 / 100.0).sin());
                let p = if s >= 300 { inflate(q, ratio) } else { q };
                let o = Observation::counts(at(s), 500, rng.binomial(500, p)).with_control(
                    ControlCounts {
                        requests: 500,
                        errors: rng.binomial(500, q),
                        histogram: None,
                        latency_ms: None,
                    },
                );
                d.observe(o).unwrap();
            }
            let v = d.verdict();
            let m = v
                .breaches()
                .find(|m| m.test == TestKind::ErrorRegression)
                .unwrap_or_else(|| panic!("{ratio}x missed: {}", v.explanation))
                .clone();
            m
        };
        // A canary failing 60× as often (about 11 %): declared inside half the 60 s period
        // (the neighbour's one error a step is what limits the evidence).
        let fast = run(60.0);
        assert!(fast.since.unwrap() <= at(330), "{}", fast.explanation);
        assert!(
            fast.explanation.contains("fast burn: odds over 20.00× its"),
            "{}",
            fast.explanation
        );
        // 8× is above the tolerance but under the fast tier's: it waits for the period.
        let slow = run(8.0);
        assert!(slow.since.unwrap() >= at(360), "{}", slow.explanation);
        assert!(
            !slow.explanation.contains("fast burn"),
            "{}",
            slow.explanation
        );
    }

    #[test]
    fn paired_test_ignores_a_shared_outage_that_a_fixed_baseline_flags() {
        let (paired, fixed) = paired_stream(1, 0.01, 1.0, 1200);
        assert!(!paired, "a shared outage is not the canary's fault");
        assert!(
            fixed,
            "against the quiet baseline the outage looks like a regression"
        );
    }

    #[test]
    fn paired_test_finds_a_canary_worse_than_its_neighbour_and_explains_it() {
        let mut rng = Rng(17);
        let mut d =
            SequentialDetector::with_control(regression_config(0.01, 0.2), "v2.3.1 beside it")
                .unwrap();
        for s in 0..600 {
            let q = 0.002 * (1.0 + 0.5 * (s as f64 / 100.0).sin());
            let p = if s >= 300 { inflate(q, 8.0) } else { q };
            let o =
                Observation::counts(at(s), 50, rng.binomial(50, p)).with_control(ControlCounts {
                    requests: 150,
                    errors: rng.binomial(150, q),
                    histogram: None,
                    latency_ms: None,
                });
            d.observe(o).unwrap();
        }
        let v = d.verdict();
        assert_eq!(v.state, DetectorState::Breach, "{}", v.explanation);
        let m = v.breaches().next().unwrap();
        assert_eq!(m.test, TestKind::ErrorRegression);
        assert!(m.since.unwrap() > at(300), "{}", m.explanation);
        let reference = m.reference.unwrap();
        assert!(reference > 0.0 && reference < 0.005, "{reference}");
        assert!(
            m.estimate.unwrap().rate > 4.0 * reference,
            "{}",
            m.explanation
        );
        for needle in [
            "against v2.3.1 beside it",
            "over the same steps",
            "odds at most 2.00×",
        ] {
            assert!(
                m.explanation.contains(needle),
                "{needle}: {}",
                m.explanation
            );
        }
    }

    #[test]
    fn paired_latency_shift_compares_the_arms_bucket_by_bucket() {
        let run = |canary: &[f64]| {
            let mut rng = Rng(23);
            let mut d =
                SequentialDetector::with_control(regression_config(0.01, 0.5), "stable").unwrap();
            for s in 0..300 {
                let h = histogram(&mut rng, 100, &BOUNDS, canary);
                let ch = histogram(&mut rng, 200, &BOUNDS, &HEALTHY);
                let o = Observation::counts(at(s), 100, 0)
                    .with_histogram(h)
                    .with_control(ControlCounts {
                        requests: 200,
                        errors: 0,
                        histogram: Some(ch),
                        latency_ms: None,
                    });
                d.observe(o).unwrap();
            }
            d.verdict()
        };
        let v = run(&SLOW_TAIL);
        let m = v
            .breaches()
            .find(|m| m.test == TestKind::LatencyShift)
            .unwrap_or_else(|| panic!("{}", v.explanation));
        assert!(m.threshold >= 500.0, "{}", m.explanation);
        assert!(
            m.explanation.contains("against stable"),
            "{}",
            m.explanation
        );
        let same = run(&HEALTHY);
        assert_eq!(same.state, DetectorState::Healthy, "{}", same.explanation);
    }

    #[test]
    fn inconsistent_control_counts_are_rejected() {
        let mut d = SequentialDetector::with_control(DetectorConfig::default(), "x").unwrap();
        let err = d
            .observe(
                Observation::counts(at(0), 10, 0).with_control(ControlCounts {
                    requests: 5,
                    errors: 6,
                    histogram: None,
                    latency_ms: None,
                }),
            )
            .unwrap_err();
        assert!(err.to_string().contains("control has 6 errors"), "{err}");
        assert!(d.last_observed().is_none());
    }

    #[test]
    fn an_sla_breach_the_neighbour_shares_is_not_the_canary_s() {
        // 0.5 % SLA, 100 req/s on the canary and 400 on the stable release; a 2-minute
        // dependency outage at 3 % hits both (shared) or only the canary.
        let run = |shared: bool| {
            let mut rng = Rng(31);
            let cfg = DetectorConfig {
                persistence: Duration::from_secs(15),
                step: Duration::from_secs(1),
                fast_burn: 5.0,
                ..regression_config(0.01, 0.005)
            };
            let mut d = SequentialDetector::with_control(cfg, "v2.3.1 beside it").unwrap();
            for s in 0..900 {
                let outage = (300..420).contains(&s);
                let p = if outage { 0.03 } else { 0.001 };
                let q = if outage && shared { 0.03 } else { 0.001 };
                let o = Observation::counts(at(s), 100, rng.binomial(100, p)).with_control(
                    ControlCounts {
                        requests: 400,
                        errors: rng.binomial(400, q),
                        histogram: None,
                        latency_ms: None,
                    },
                );
                d.observe(o).unwrap();
            }
            d.verdict()
        };
        let v = run(true);
        assert_eq!(v.state, DetectorState::Healthy, "{}", v.explanation);
        let sla = v
            .metrics
            .iter()
            .find(|m| m.test == TestKind::ErrorRate)
            .unwrap();
        let shared = sla
            .shared_with
            .expect("the SLA test crossed and was shared");
        assert!(shared > 0.02, "{shared}");
        assert!(sla.since.is_some());
        for needle in ["but v2.3.1 beside it had", "a shared cause"] {
            assert!(
                sla.explanation.contains(needle),
                "{needle}: {}",
                sla.explanation
            );
        }
        // The same outage on the canary alone is its own: both tests fire.
        let v = run(false);
        assert_eq!(v.state, DetectorState::Breach, "{}", v.explanation);
        assert!(v
            .breaches()
            .any(|m| m.test == TestKind::ErrorRate && m.shared_with.is_none()));
        assert!(v.breaches().any(|m| m.test == TestKind::ErrorRegression));
    }

    #[test]
    fn a_canary_clearly_worse_than_a_failing_neighbour_is_not_a_shared_cause() {
        // Errors: the stable release at 0.6 % (over the 0.5 % SLA), the canary at 40 %.
        let mut d = SequentialDetector::with_control(
            DetectorConfig {
                persistence: Duration::from_secs(15),
                step: Duration::from_secs(1),
                ..regression_config(0.01, 0.005)
            },
            "stable",
        )
        .unwrap();
        let mut rng = Rng(41);
        for s in 0..300 {
            let o = Observation::counts(at(s), 100, rng.binomial(100, 0.4)).with_control(
                ControlCounts {
                    requests: 400,
                    errors: rng.binomial(400, 0.006),
                    histogram: None,
                    latency_ms: None,
                },
            );
            d.observe(o).unwrap();
        }
        let v = d.verdict();
        let sla = v
            .metrics
            .iter()
            .find(|m| m.test == TestKind::ErrorRate)
            .unwrap();
        assert_eq!(sla.state, DetectorState::Breach, "{}", sla.explanation);
        assert_eq!(sla.shared_with, None);
        // Latency sign test: the canary's p95 at 5 s, the neighbour's at 600 ms, SLA 500 ms.
        let mut d = SequentialDetector::with_control(
            DetectorConfig {
                latency: Some(LatencySla {
                    quantile: Quantile::P95,
                    threshold: Threshold::new(500.0, None),
                    source: LatencySource::QuantileSamples,
                }),
                ..DetectorConfig::default()
            },
            "stable",
        )
        .unwrap();
        for s in 0..60 {
            let o = Observation::counts(at(10 * s), 100, 0)
                .with_latency_ms(5000.0)
                .with_control(ControlCounts {
                    requests: 400,
                    errors: 0,
                    histogram: None,
                    latency_ms: Some(600.0),
                });
            d.observe(o).unwrap();
        }
        let v = d.verdict();
        let lat = v
            .metrics
            .iter()
            .find(|m| m.test == TestKind::LatencySign)
            .unwrap();
        assert_eq!(lat.state, DetectorState::Breach, "{}", lat.explanation);
        assert_eq!(lat.shared_with, None);
    }

    #[test]
    fn a_regression_test_without_comparable_data_is_not_run_rather_than_failing_closed() {
        // The baseline's bounds are 50..1000 ms; the release reports 300 ms buckets only.
        let base = baseline_of(100_000, 100, Some(&HEALTHY));
        let mut d = SequentialDetector::with_baseline(regression_config(0.01, 0.05), base).unwrap();
        for s in 0..60 {
            let h = LatencyHistogram::new(vec![(300.0, 90), (f64::INFINITY, 100)]).unwrap();
            d.observe(Observation::counts(at(s), 100, 0).with_histogram(h))
                .unwrap();
        }
        let v = d.verdict();
        assert_eq!(v.state, DetectorState::Healthy, "{}", v.explanation);
        let m = v
            .metrics
            .iter()
            .find(|m| m.test == TestKind::LatencyShift)
            .unwrap();
        assert!(m.explanation.contains("not tested"), "{}", m.explanation);
    }

    #[test]
    fn the_reported_onset_is_the_one_at_the_decision() {
        // A breach at 60 s, then the release recovers for an hour: the verdict still says the
        // bad period started at 60 s, before the decision.
        let mut d = SequentialDetector::new(config(0.01, 0.005)).unwrap();
        for s in 0..3600 {
            let x = if (60..120).contains(&s) { 50 } else { 0 };
            d.observe(Observation::counts(at(s), 1000, x)).unwrap();
        }
        let v = d.verdict();
        let m = &v.metrics[0];
        let (since, onset) = (m.since.unwrap(), m.onset.unwrap());
        assert!(onset <= since, "onset {onset} after since {since}");
        assert!(onset >= at(60) && onset <= at(62), "{onset}");
        assert!(m.estimate.unwrap().rate > 0.02, "{}", m.explanation);
    }

    #[test]
    fn config_round_trips_through_toml() {
        let cfg = DetectorConfig {
            persistence: Duration::from_secs(15),
            ..DetectorConfig::default()
        };
        let text = toml::to_string(&cfg).unwrap();
        let back: DetectorConfig = crate::policy::toml_de(&text).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn no_burst_shorter_than_the_persistence_period_crosses_and_a_sustained_one_does() {
        // Bursts that saturate the cap of every alternative and every start point (every
        // request fails / is slower than every bound), after `start` healthy steps. For 1 s and
        // 10 s steps, periods of 15 s and 60 s, bursts early and late in the watch: the longest
        // burst shorter than the period never crosses; a sustained one crosses within 1.5 × the
        // period plus a step (the documented bound: the cap guards against the heaviest start
        // point a burst could have, so early in the watch it is conservative).
        let base = baseline_of(100_000, 100, Some(&HEALTHY));
        let all_slow = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        for (step_s, d_s) in [(1i64, 15i64), (10, 60), (10, 15)] {
            for start in [0i64, 12, 600] {
                let sla = DetectorConfig {
                    persistence: Duration::from_secs(d_s as u64),
                    step: Duration::from_secs(step_s as u64),
                    ..config(0.01, 0.005)
                };
                let shift = DetectorConfig {
                    persistence: Duration::from_secs(d_s as u64),
                    step: Duration::from_secs(step_s as u64),
                    ..regression_config(0.01, 0.2)
                };
                // Steps until the detector breaches (None within 3 periods).
                let first_breach = |errors_in_burst: bool| {
                    let mut rng = Rng(7);
                    let mut d = if errors_in_burst {
                        SequentialDetector::new(sla.clone()).unwrap()
                    } else {
                        SequentialDetector::with_baseline(shift.clone(), base.clone()).unwrap()
                    };
                    for s in 0..start {
                        let h = histogram(&mut rng, 1000, &BOUNDS, &HEALTHY);
                        d.observe(Observation::counts(at(s * step_s), 1000, 1).with_histogram(h))
                            .unwrap();
                    }
                    for k in 1..=3 * d_s / step_s {
                        let s = start + k - 1;
                        let (errors, probs) = if errors_in_burst {
                            (1000, &HEALTHY)
                        } else {
                            (1, &all_slow)
                        };
                        let h = histogram(&mut rng, 1000, &BOUNDS, probs);
                        d.observe(
                            Observation::counts(at(s * step_s), 1000, errors).with_histogram(h),
                        )
                        .unwrap();
                        if d.breached() {
                            return Some(k * step_s);
                        }
                    }
                    None
                };
                for (errors, what) in [(true, "error rate"), (false, "latency shift")] {
                    let crossed = first_breach(errors).unwrap_or_else(|| {
                        panic!("{what}: a sustained burst from step {start} never crossed")
                    });
                    assert!(
                        crossed >= d_s && crossed as f64 <= 1.5 * d_s as f64 + step_s as f64,
                        "{what}, {step_s} s steps, period {d_s} s, burst from step {start}: \
                         crossed after {crossed} s"
                    );
                }
            }
        }
    }
}
