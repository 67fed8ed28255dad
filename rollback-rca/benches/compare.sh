#!/usr/bin/env bash
# Throughput of rollback-rca's log template miner against Drain3 on one generated corpus, and
# the memory of a 10-million-line stream. Run from anywhere:
#   bash rollback-rca/benches/compare.sh [LINES] [STREAM_LINES]      (RUNS=3 by default)
# Needs: python3 with drain3 (pip install drain3), GNU time (Debian package `time`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lines="${1:-200000}"
stream="${2:-10000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../../target}"
cargo build --quiet --release -p rollback-rca --example logparse_throughput
bin="$CARGO_TARGET_DIR/release/examples/logparse_throughput"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" generate "$lines" "$work/corpus.log"

rss() { awk -F': ' '/Maximum resident set size/ {printf "%.1f MB", $2 / 1024}' "$1"; }
rate() { sed -n 's/.*lines_per_sec=\([0-9]*\).*/\1/p' <<<"$1"; }

# Best of RUNS runs each (the machine is shared; the best run is the least disturbed one).
runs="${RUNS:-3}"
best() {
    local best_out="" best_rate=0 out r
    for _ in $(seq "$runs"); do
        out="$(/usr/bin/time -v -o "$work/$1.time.tmp" "${@:2}")"
        r="$(rate "$out")"
        if [ "$r" -gt "$best_rate" ]; then
            best_rate="$r"; best_out="$out"; cp "$work/$1.time.tmp" "$work/$1.time"
        fi
    done
    echo "$best_out"
}
rust_out="$(best rust "$bin" parse "$work/corpus.log")"
py_out="$(best py python3 "$here/drain3_throughput.py" "$work/corpus.log")"
echo "$rust_out  max_rss=$(rss "$work/rust.time")  (best of $runs)"
echo "$py_out  max_rss=$(rss "$work/py.time")  (best of $runs)"
awk -v r="$(rate "$rust_out")" -v p="$(rate "$py_out")" \
    'BEGIN { printf "ratio rust/drain3 = %.1fx\n", r / p }'

stream_out="$(/usr/bin/time -v -o "$work/stream.time" "$bin" stream "$stream")"
echo "$stream_out  max_rss=$(rss "$work/stream.time")"
