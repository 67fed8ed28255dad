#!/usr/bin/env Rscript
# Reference vectors for rollback-core's canary judge (rollback_core::judge).
#
# For every case it records what R's
#   wilcox.test(x, y, exact = FALSE, correct = TRUE, conf.int = TRUE, conf.level = level)
# computes (statistic W, p-value, estimate, confidence interval), and the labels that Kayenta's
# MannWhitneyClassifier rule gives with tolerance 0.25 and default effect-size settings
# (direction "either", mean ratio, allowed increase/decrease 1.0).
#
# When both samples are constant R stops ("cannot compute confidence interval when all
# observations are tied"); for those cases the expected values follow the judge's documented
# deterministic rule (estimate = difference of the constants, degenerate interval at it, p-value
# from the same normal approximation, 1 when every observation is tied) and `source` says so.
#
# Run from the repository root (R >= 4.0; no packages needed):
#   Rscript scripts/judge_vectors.R > rollback-core/tests/data/judge_vectors.json

set.seed(20240601)
tolerance <- 0.25

num <- function(v) {
  if (is.na(v)) return("null")
  if (is.infinite(v)) stop("infinite value in output")
  sprintf("%.17g", v)
}
arr <- function(v) paste0("[", paste(vapply(v, num, ""), collapse = ","), "]")
str <- function(s) paste0('"', s, '"')

# Kayenta's MannWhitneyClassifier, default configuration (direction either, mean ratio 1.0).
labels <- function(x, y, est, lo, hi) {
  if (length(x) == length(y) && all(sort(x) == sort(y))) return(c("Pass", "Pass"))
  if (length(unique(c(x, y))) == 1) return(c("Pass", "Pass"))
  bound <- tolerance * abs(est)
  above <- lo > bound
  below <- hi < -bound
  interval <- if (above) "High" else if (below) "Low" else "Pass"
  mx <- mean(x); my <- mean(y)
  ratio <- if (mx == 0 || my == 0) NA else mx / my
  kayenta <- if (above && (is.na(ratio) || ratio >= 1)) "High"
             else if (below && (is.na(ratio) || ratio <= 1)) "Low"
             else "Pass"
  c(interval, kayenta)
}

cases <- list()
add <- function(name, x, y, level = 0.98) {
  cases[[length(cases) + 1]] <<- list(name = name, x = x, y = y, level = level)
}

n <- function(k, mean = 0, sd = 1) rnorm(k, mean, sd)

# Plain normal samples, no shift and shifted both ways.
add("normal_50_no_shift", n(50, 100, 10), n(50, 100, 10))
add("normal_50_shift_up_1sd", n(50, 110, 10), n(50, 100, 10))
add("normal_50_shift_down_1sd", n(50, 90, 10), n(50, 100, 10))
add("normal_50_shift_up_small", n(50, 102, 10), n(50, 100, 10))
add("normal_50_shift_down_small", n(50, 97, 10), n(50, 100, 10))
add("normal_negative_values", n(40, -5, 2), n(40, -4, 2))
# Ties.
add("ties_rounded_normal", round(n(40, 10, 2)), round(n(45, 10.5, 2)))
add("ties_poisson_counts", as.numeric(rpois(60, 3)), as.numeric(rpois(60, 4)))
add("ties_poisson_same_rate", as.numeric(rpois(80, 2)), as.numeric(rpois(70, 2)))
add("ties_half_units", round(n(30, 5, 1) * 2) / 2, round(n(30, 5, 1) * 2) / 2)
add("ties_mostly_zero_error_rate", c(rep(0, 45), 1, 2, 1, 3, 1), c(rep(0, 48), 1, 1))
add("ties_within_and_across", c(1, 1, 2, 2, 3, 3, 4, 4, 5, 9), c(2, 2, 3, 3, 3, 4, 6, 6, 7, 7))
# Different sizes.
add("sizes_10_vs_200", n(10, 51, 5), n(200, 50, 5))
add("sizes_200_vs_10", n(200, 50, 5), n(10, 53, 5))
add("sizes_1_vs_20", c(12), n(20, 10, 1))
add("sizes_25_vs_3", n(25, 0, 1), c(-0.4, 0.3, 1.2))
# Heavy tails.
add("heavy_cauchy_no_shift", rcauchy(100), rcauchy(100))
add("heavy_cauchy_shift_up", rcauchy(100, 1.5), rcauchy(100))
add("heavy_lognormal_ratio_1_3", 1.3 * rlnorm(80, 3, 2), rlnorm(80, 3, 2))
add("heavy_pareto_latency", 100 / runif(120)^(1 / 1.2), 100 / runif(120)^(1 / 1.2))
add("heavy_t2_shift_down", rt(150, 2) - 0.8, rt(150, 2))
# Identical samples.
same <- n(30, 20, 3)
add("identical_samples", same, same)
add("identical_samples_permuted", same, rev(same))
add("identical_constant_samples", rep(5, 10), rep(5, 10))
add("constant_but_different_up", rep(5, 8), rep(3, 12))
add("constant_but_different_down", rep(0.25, 6), rep(0.5, 6))
add("single_value_different_sizes", rep(7, 4), rep(7, 9))
add("constant_vs_varying", rep(10, 20), n(20, 9, 1))
# Tiny samples (n = 2, 3): interval ends often are the range ends.
add("tiny_2_vs_2", c(1.5, 2.5), c(1.0, 2.0))
add("tiny_2_vs_2_far", c(10, 11), c(1, 2))
add("tiny_3_vs_3", c(3.1, 2.7, 3.9), c(2.2, 2.9, 2.5))
add("tiny_3_vs_3_shift_down", c(1.0, 1.2, 0.9), c(5.0, 5.5, 6.1))
add("tiny_2_vs_3", c(0.3, 0.4), c(0.1, 0.2, 0.35))
add("tiny_1_vs_1", c(2), c(1))
# Large samples.
add("large_1000_no_shift", n(1000, 200, 20), n(1000, 200, 20))
add("large_1000_shift_up_small", n(1000, 201, 20), n(1000, 200, 20))
add("large_1000_shift_down", n(1000, 190, 20), n(1000, 200, 20))
add("large_1000_ties", round(n(1000, 50, 4)), round(n(1000, 50.3, 4)))
# Scales.
add("scale_tiny_values", n(40, 2e-6, 1e-7), n(40, 2.1e-6, 1e-7))
add("scale_large_values", n(40, 3e8, 1e6), n(40, 3e8, 1e6))
# Other confidence levels.
add("level_95_shift_up", n(30, 10.5, 1), n(30, 10, 1), 0.95)
add("level_90_ties", as.numeric(rpois(25, 5)), as.numeric(rpois(25, 6)), 0.90)
# Random small shifts around the decision boundary, to exercise every label.
for (i in 1:24) {
  k <- sample(c(5, 8, 12, 20, 35), 1)
  s <- sample(c(-1.2, -0.8, -0.5, -0.2, 0.2, 0.5, 0.8, 1.2), 1)
  add(sprintf("boundary_%02d_n%d_shift%+.1f", i, k, s), n(k, s, 1), n(k + i %% 3, 0, 1))
}

out <- character()
for (case in cases) {
  x <- case$x; y <- case$y; level <- case$level
  both_constant <- length(unique(x)) == 1 && length(unique(y)) == 1
  if (both_constant) {
    t <- suppressWarnings(wilcox.test(x, y, exact = FALSE, correct = TRUE))
    d <- x[1] - y[1]
    w <- unname(t$statistic); p <- if (is.nan(t$p.value)) 1 else t$p.value
    est <- d; lo <- d; hi <- d
    source <- "deterministic"
    msg <- tryCatch({
      wilcox.test(x, y, exact = FALSE, correct = TRUE, conf.int = TRUE, conf.level = level)
      "none"
    }, error = function(e) conditionMessage(e), warning = function(w) conditionMessage(w))
    source <- paste0("deterministic (R: ", msg, ")")
  } else {
    t <- wilcox.test(x, y, exact = FALSE, correct = TRUE, conf.int = TRUE, conf.level = level)
    w <- unname(t$statistic); p <- t$p.value
    est <- unname(t$estimate); lo <- t$conf.int[1]; hi <- t$conf.int[2]
    source <- sprintf("R %s.%s wilcox.test", R.version$major, R.version$minor)
  }
  lab <- labels(x, y, est, lo, hi)
  out <- c(out, paste0(
    "{", str("name"), ":", str(case$name),
    ",", str("source"), ":", str(source),
    ",", str("conf_level"), ":", num(level),
    ",", str("w"), ":", num(w),
    ",", str("p_value"), ":", num(p),
    ",", str("estimate"), ":", num(est),
    ",", str("ci"), ":", arr(c(lo, hi)),
    ",", str("interval_label"), ":", str(lab[1]),
    ",", str("kayenta_label"), ":", str(lab[2]),
    ",", str("x"), ":", arr(x),
    ",", str("y"), ":", arr(y), "}"))
}
cat("{\n", str("generator"), ": ", str("scripts/judge_vectors.R"), ",\n",
    str("r_version"), ": ", str(R.version.string), ",\n",
    str("tolerance"), ": ", num(tolerance), ",\n",
    str("vectors"), ": [\n", paste(out, collapse = ",\n"), "\n]}\n", sep = "")
