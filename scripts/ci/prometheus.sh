#!/usr/bin/env bash
# Starts a real Prometheus server holding known test series, for rollback-prometheus's tests.
#
#   bash scripts/ci/prometheus.sh            # then: source "$ROLLBACK_TEST_PROMETHEUS_ENV"
#
# 1. installs Debian's `prometheus` package (prometheus + promtool) if missing;
# 2. writes 3 hours of known series ending now (scripts/ci/prometheus_testdata.py) as OpenMetrics;
# 3. backfills them with `promtool tsdb create-blocks-from openmetrics` into a fresh data dir
#    (a fresh server has an empty head block, so data up to "now" is accepted; the retention is
#    long, so the blocks are never outside it);
# 4. starts prometheus on 127.0.0.1:$PORT in the background and waits for /-/ready and for the
#    data to be queryable;
# 5. prints and writes to $ENV_FILE:
#      export ROLLBACK_TEST_PROMETHEUS=http://127.0.0.1:$PORT
#      export ROLLBACK_TEST_PROMETHEUS_START=<unix s of the first sample>
#      export ROLLBACK_TEST_PROMETHEUS_END=<unix s of the last sample>
#
# Settings (environment): ROLLBACK_TEST_PROMETHEUS_PORT (9090), ROLLBACK_TEST_PROMETHEUS_DIR
# (/tmp/rollback-test-prometheus), ROLLBACK_TEST_PROMETHEUS_ENV ($DIR/env.sh).
# A server started by an earlier run of this script (its pid file) is stopped first.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${ROLLBACK_TEST_PROMETHEUS_PORT:-9090}"
DIR="${ROLLBACK_TEST_PROMETHEUS_DIR:-/tmp/rollback-test-prometheus}"
ENV_FILE="${ROLLBACK_TEST_PROMETHEUS_ENV:-$DIR/env.sh}"
HOURS=3
ADDR="127.0.0.1:$PORT"
URL="http://$ADDR"

log() { echo "prometheus.sh: $*" >&2; }

missing=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if (( ${#missing[@]} )); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
fi
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
  # The package may start its own service on :9090; we run our own instance.
  if command -v systemctl >/dev/null; then systemctl stop prometheus >/dev/null 2>&1 || true; fi
  if command -v service >/dev/null; then service prometheus stop >/dev/null 2>&1 || true; fi
fi

# Stop our own earlier instance, if any.
if [[ -f "$DIR/prometheus.pid" ]]; then
  old="$(cat "$DIR/prometheus.pid")"
  if kill -0 "$old" 2>/dev/null; then
    log "stopping the previous test server (pid $old)"
    kill "$old" || true
    for _ in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  fi
fi
if curl -fsS -o /dev/null "$URL/-/ready" 2>/dev/null; then
  log "something already answers on $ADDR; set ROLLBACK_TEST_PROMETHEUS_PORT to a free port"
  exit 1
fi

rm -rf "$DIR"
mkdir -p "$DIR/data"

END=$(( $(date +%s) / 15 * 15 ))
START=$(( END - HOURS * 3600 ))
python3 "$HERE/prometheus_testdata.py" --end "$END" --hours "$HOURS" --out "$DIR/testdata.om" >&2
promtool tsdb create-blocks-from openmetrics "$DIR/testdata.om" "$DIR/data" >"$DIR/backfill.log"
log "backfilled $(grep -c '^[0-9A-Z]\{26\}' "$DIR/backfill.log") blocks into $DIR/data"

cat >"$DIR/prometheus.yml" <<YML
global:
  scrape_interval: 15s
scrape_configs: []
YML

nohup prometheus \
  --config.file="$DIR/prometheus.yml" \
  --storage.tsdb.path="$DIR/data" \
  --storage.tsdb.retention.time=3650d \
  --web.listen-address="$ADDR" \
  >"$DIR/prometheus.log" 2>&1 </dev/null &
echo $! >"$DIR/prometheus.pid"
log "started prometheus (pid $(cat "$DIR/prometheus.pid")), log in $DIR/prometheus.log"

ready=""
for _ in $(seq 120); do
  if curl -fsS -o /dev/null "$URL/-/ready" 2>/dev/null; then ready=1; break; fi
  if ! kill -0 "$(cat "$DIR/prometheus.pid")" 2>/dev/null; then break; fi
  sleep 0.5
done
if [[ -z "$ready" ]]; then
  log "prometheus did not become ready; its log:"
  tail -n 30 "$DIR/prometheus.log" >&2
  exit 1
fi

# The backfilled blocks must be queryable at END.
answer="$(curl -fsS "$URL/api/v1/query" --data-urlencode 'query=count(http_requests_total)' \
  --data-urlencode "time=$END")"
if [[ "$answer" != *'"result":[{'* ]]; then
  log "the backfilled series are not queryable at $END: $answer"
  tail -n 30 "$DIR/prometheus.log" >&2
  exit 1
fi

cat >"$ENV_FILE" <<ENV
export ROLLBACK_TEST_PROMETHEUS=$URL
export ROLLBACK_TEST_PROMETHEUS_START=$START
export ROLLBACK_TEST_PROMETHEUS_END=$END
ENV
log "ready at $URL with data from $START to $END; environment in $ENV_FILE"
cat "$ENV_FILE"
