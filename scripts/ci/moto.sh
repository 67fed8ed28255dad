#!/usr/bin/env bash
# Starts the moto server (PyPI `moto[server]`) on 127.0.0.1 for rollback-ecs's tests.
#
#   bash scripts/ci/moto.sh            # then: source /tmp/rollback-test-moto/env.sh
#
# 1. installs `moto[server]` with pip if `moto_server` is missing;
# 2. stops a server that an earlier run of this script started (its pid file);
# 3. starts `moto_server -H 127.0.0.1 -p $PORT` in the background and waits until it answers;
# 4. prints and writes to $ENV_FILE:
#      export ROLLBACK_TEST_MOTO=http://127.0.0.1:$PORT
#
# Settings (environment): ROLLBACK_TEST_MOTO_PORT (5000), ROLLBACK_TEST_MOTO_DIR
# (/tmp/rollback-test-moto), ROLLBACK_TEST_MOTO_ENV ($DIR/env.sh).
# moto only ever listens on the loopback address; the tests use dummy credentials.
set -euo pipefail

PORT="${ROLLBACK_TEST_MOTO_PORT:-5000}"
DIR="${ROLLBACK_TEST_MOTO_DIR:-/tmp/rollback-test-moto}"
ENV_FILE="${ROLLBACK_TEST_MOTO_ENV:-$DIR/env.sh}"
ADDR="127.0.0.1:$PORT"
URL="http://$ADDR"

log() { echo "moto.sh: $*" >&2; }

if ! command -v curl >/dev/null; then
  log "installing Debian package curl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq curl >&2
fi
if ! command -v moto_server >/dev/null; then
  PY="$(command -v python3 || true)"
  if [[ -z "$PY" ]]; then
    log "installing Debian packages python3 python3-pip"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq python3 python3-pip >&2
  fi
  log "installing moto[server] from PyPI"
  python3 -m pip install -q 'moto[server]' >&2 \
    || python3 -m pip install -q --break-system-packages 'moto[server]' >&2
  hash -r
  if command -v pyenv >/dev/null; then pyenv rehash >/dev/null 2>&1 || true; fi
fi
MOTO="$(command -v moto_server || true)"
if [[ -z "$MOTO" ]]; then
  log "moto_server is not on PATH after installing moto[server]"
  exit 1
fi

mkdir -p "$DIR"
if [[ -f "$DIR/moto.pid" ]]; then
  old="$(cat "$DIR/moto.pid")"
  if kill -0 "$old" 2>/dev/null; then
    log "stopping the previous test server (pid $old)"
    kill "$old" || true
    for _ in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$DIR/moto.pid"
fi
if curl -fsS -o /dev/null "$URL/moto-api/" 2>/dev/null; then
  log "something already answers on $ADDR; set ROLLBACK_TEST_MOTO_PORT to a free port"
  exit 1
fi

nohup "$MOTO" -H 127.0.0.1 -p "$PORT" >"$DIR/moto.log" 2>&1 </dev/null &
echo $! >"$DIR/moto.pid"
log "started moto_server (pid $(cat "$DIR/moto.pid")), log in $DIR/moto.log"

ready=""
for _ in $(seq 120); do
  if curl -fsS -o /dev/null "$URL/moto-api/" 2>/dev/null; then ready=1; break; fi
  if ! kill -0 "$(cat "$DIR/moto.pid")" 2>/dev/null; then break; fi
  sleep 0.5
done
if [[ -z "$ready" ]]; then
  log "moto_server did not answer on $URL; its log:"
  tail -n 30 "$DIR/moto.log" >&2
  exit 1
fi

cat >"$ENV_FILE" <<ENV
export ROLLBACK_TEST_MOTO=$URL
ENV
log "ready at $URL; environment in $ENV_FILE"
cat "$ENV_FILE"
