#!/usr/bin/env bash
# Throughput of rollback-rca's log template miner against Drain3 on one generated corpus, and
# the memory of a 10-million-line stream. Run from anywhere:
#   bash rollback-rca/benches/compare.sh [LINES] [STREAM_LINES]
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

rust_out="$(/usr/bin/time -v -o "$work/rust.time" "$bin" parse "$work/corpus.log")"
py_out="$(/usr/bin/time -v -o "$work/py.time" python3 "$here/drain3_throughput.py" "$work/corpus.log")"
echo "$rust_out  max_rss=$(rss "$work/rust.time")"
echo "$py_out  max_rss=$(rss "$work/py.time")"
awk -v r="$(rate "$rust_out")" -v p="$(rate "$py_out")" \
    'BEGIN { printf "ratio rust/drain3 = %.1fx\n", r / p }'

stream_out="$(/usr/bin/time -v -o "$work/stream.time" "$bin" stream "$stream")"
echo "$stream_out  max_rss=$(rss "$work/stream.time")"
