#!/usr/bin/env python3
"""Writes the known test series of rollback-prometheus's real-server tests as OpenMetrics text.

Deterministic: the output depends only on --end (a Unix time) and --hours. Every counter grows
at a constant rate, so rate()/increase() answers are exact, and every expectation asserted in
rollback-prometheus/tests/real_server.rs follows from the constants below (see its header).

Usage: prometheus_testdata.py --end UNIX_SECONDS [--hours 3] --out FILE
"""

import argparse

STEP = 15  # seconds between samples, like a 15s scrape interval
BASE = 10_000  # counters start as if they had already run BASE intervals (no extrapolation cap)

NS = "shop"
DEPLOY = "checkout"
# version -> (revision = ReplicaSet name, pods)
RELEASES = {
    "v1.3.0": ("checkout-7d9f8b6c5", ["checkout-7d9f8b6c5-x2b4k", "checkout-7d9f8b6c5-p9q7r"]),
    "v1.2.9": ("checkout-6f7c9d8b5", ["checkout-6f7c9d8b5-m4n8z", "checkout-6f7c9d8b5-t5w2v"]),
}

# http_requests_total: requests per second by code.
REQUEST_RATES = {
    "v1.3.0": {"200": 8.0, "500": 1.0, "503": 1.0},  # error rate 0.2, 10 req/s
    "v1.2.9": {"200": 19.8, "500": 0.2},  # error rate 0.01, 20 req/s
}

# Latency histogram: cumulative bucket counts per 15s interval.
LE = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
BUCKETS = {
    "v1.3.0": [10, 30, 50, 70, 80, 90, 100, 100],  # p50 250ms, p95 3750ms
    "v1.2.9": [40, 80, 95, 99, 100, 100, 100, 100],  # p50 62.5ms, p95 250ms, p99 500ms
}

# A second latency histogram with its bounds in milliseconds, for the legacy instrumentation
# (labels app, kube_namespace, app_version): cumulative counts per 15s interval. 60 per interval
# = 4 req/s, like legacy_requests_total. p50 75 ms.
LEGACY_LE_MS = ["50", "100", "250", "1000", "+Inf"]
LEGACY_BUCKETS = [20, 40, 55, 59, 60]

# cAdvisor / kube-state-metrics, per pod of each release.
CPU_CORES = {"v1.3.0": 0.45, "v1.2.9": 0.15}  # limit 0.5 core -> 90% / 30%
MEMORY_BYTES = {"v1.3.0": 943_718_400, "v1.2.9": 268_435_456}  # limit 1 GiB -> 87.89% / 25%
CPU_LIMIT = 0.5
MEMORY_LIMIT = 1_073_741_824

QUEUE_DEPTH = 42

# payments: a counter reset and a series created inside the tests' ranges (seconds before END).
RESET_AGO = 1200
NEW_SERIES_AGO = 600


def esc(v):
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(d):
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in d.items()) + "}"


def fmt(x):
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


class Writer:
    def __init__(self, out, times):
        self.out = out
        self.times = times

    def counter(self, name, lbls, per_second=None, per_step=None):
        """A counter growing by per_step every STEP seconds (per_second * STEP, rounded so that
        every increment is exactly the same)."""
        if per_step is None:
            per_step = round(per_second * STEP, 9)
        for i, t in enumerate(self.times):
            value = round(per_step * (BASE + i), 6)
            self.out.write(f"{name}{labels(lbls)} {fmt(value)} {t}\n")

    def gauge(self, name, lbls, value):
        for t in self.times:
            self.out.write(f"{name}{labels(lbls)} {fmt(value)} {t}\n")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--end", type=int, required=True, help="Unix time of the last sample")
    p.add_argument("--hours", type=int, default=3)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    end = a.end - a.end % STEP
    start = end - a.hours * 3600
    times = list(range(start, end + 1, STEP))

    with open(a.out, "w", encoding="utf-8") as out:
        w = Writer(out, times)

        # Application request counter.
        for version, codes in REQUEST_RATES.items():
            for code, rate in codes.items():
                w.counter("http_requests_total",
                          {"deployment": DEPLOY, "namespace": NS, "version": version, "code": code},
                          rate)
        # Distractors the selectors must not match: a deployment whose name starts with ours,
        # the same deployment in another namespace.
        for code, rate in {"200": 5.0, "500": 5.0}.items():
            w.counter("http_requests_total",
                      {"deployment": "checkout-worker", "namespace": NS, "version": "v1.3.0",
                       "code": code}, rate)
        w.counter("http_requests_total",
                  {"deployment": DEPLOY, "namespace": "other", "version": "v1.3.0", "code": "500"},
                  100.0)
        # A deployment whose name needs escaping (a quote and a backslash): 1 req/s.
        w.counter("http_requests_total",
                  {"deployment": 'we"ird\\name', "namespace": NS, "version": "v1", "code": "200"},
                  1.0)
        # Exact counts (payments, v2.0.0, two pods): pod a counts 10 per scrape and restarts
        # RESET_AGO seconds before the end (its counter drops back to 10); pod b counts 5 per
        # scrape; pod a's first 500s create `code="500"` NEW_SERIES_AGO seconds before the end
        # with the value 3, then 3 more per scrape.
        n = len(times)
        reset_at = n - 1 - RESET_AGO // STEP
        new_at = n - 1 - NEW_SERIES_AGO // STEP
        pay = {"deployment": "payments", "namespace": NS, "version": "v2.0.0"}
        for i, t in enumerate(times):
            value = 10 * (BASE + i) if i < reset_at else 10 * (i - reset_at + 1)
            out.write(f"http_requests_total{labels({**pay, 'code': '200', 'pod': 'payments-a'})}"
                      f" {value} {t}\n")
        w.counter("http_requests_total", {**pay, "code": "200", "pod": "payments-b"}, per_step=5)
        for i, t in enumerate(times[new_at:]):
            out.write(f"http_requests_total{labels({**pay, 'code': '500', 'pod': 'payments-a'})}"
                      f" {3 * (i + 1)} {t}\n")
        # Other instrumentation: other metric and label names (error rate 0.25).
        for code, rate in {"200": 3.0, "500": 1.0}.items():
            w.counter("legacy_requests_total",
                      {"app": DEPLOY, "kube_namespace": NS, "app_version": "v1.3.0",
                       "status": code}, rate)

        # Latency histogram.
        for version, cum in BUCKETS.items():
            base = {"deployment": DEPLOY, "namespace": NS, "version": version}
            for le, count in zip(LE, cum):
                w.counter("http_request_duration_seconds_bucket", {**base, "le": le},
                          per_step=count)
            w.counter("http_request_duration_seconds_count", base, per_step=cum[-1])
            w.counter("http_request_duration_seconds_sum", base, per_step=cum[-1])
        legacy = {"app": DEPLOY, "kube_namespace": NS, "app_version": "v1.3.0"}
        for le, count in zip(LEGACY_LE_MS, LEGACY_BUCKETS):
            w.counter("legacy_request_latency_milliseconds_bucket", {**legacy, "le": le},
                      per_step=count)
        w.counter("legacy_request_latency_milliseconds_count", legacy,
                  per_step=LEGACY_BUCKETS[-1])
        w.counter("legacy_request_latency_milliseconds_sum", legacy,
                  per_step=100 * LEGACY_BUCKETS[-1])

        # cAdvisor: container="app" counts; the pod cgroup (container="") and the pause
        # container (container="POD") must be excluded by the queries.
        for version, (_, pods) in RELEASES.items():
            for pod in pods:
                base = {"namespace": NS, "pod": pod}
                w.counter("container_cpu_usage_seconds_total", {**base, "container": "app"},
                          CPU_CORES[version])
                w.counter("container_cpu_usage_seconds_total", {**base, "container": ""},
                          CPU_CORES[version] + 0.01)
                w.counter("container_cpu_usage_seconds_total", {**base, "container": "POD"},
                          0.01)
                w.gauge("container_memory_working_set_bytes", {**base, "container": "app"},
                        MEMORY_BYTES[version])
                w.gauge("container_memory_working_set_bytes", {**base, "container": ""},
                        MEMORY_BYTES[version] + 1_000_000)
                w.gauge("kube_pod_container_resource_limits",
                        {**base, "container": "app", "resource": "cpu", "unit": "core"},
                        CPU_LIMIT)
                w.gauge("kube_pod_container_resource_limits",
                        {**base, "container": "app", "resource": "memory", "unit": "byte"},
                        MEMORY_LIMIT)
        worker = {"namespace": NS, "pod": "checkout-worker-5c6d7f8b9-abcde", "container": "app"}
        w.counter("container_cpu_usage_seconds_total", worker, 2.0)
        w.gauge("container_memory_working_set_bytes", worker, 5_000_000_000)

        # A gauge for the custom query.
        w.gauge("checkout_queue_depth", {"deployment": DEPLOY, "namespace": NS}, QUEUE_DEPTH)

        out.write("# EOF\n")
    print(f"{a.out}: {len(times)} samples per series from {start} to {end}")


if __name__ == "__main__":
    main()
