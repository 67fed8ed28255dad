#!/usr/bin/env bash
# Starts a real SMTP server (aiosmtpd, from PyPI) for the email tests of rollback-notify.
#
# Usage:  eval "$(bash scripts/ci/smtp.sh)"      # or: bash scripts/ci/smtp.sh ENV_FILE; . ENV_FILE
#
# Installs aiosmtpd with pip if it is missing, starts it in the background on
# 127.0.0.1:${ROLLBACK_SMTP_PORT:-2525} writing every message into a maildir under a temporary
# directory, waits until the port accepts connections, and prints (or writes to ENV_FILE):
#   export ROLLBACK_TEST_SMTP=127.0.0.1:2525
#   export ROLLBACK_TEST_SMTP_MAILDIR=/tmp/.../maildir
# The server's pid is in $dir/aiosmtpd.pid and its log in $dir/aiosmtpd.log. Nothing but the
# export lines goes to stdout.
set -euo pipefail

port="${ROLLBACK_SMTP_PORT:-2525}"
env_file="${1:-}"
py="${PYTHON:-python3}"

if ! "$py" -c 'import aiosmtpd' >/dev/null 2>&1; then
    echo "smtp.sh: installing aiosmtpd with pip" >&2
    "$py" -m pip install --quiet --disable-pip-version-check aiosmtpd >&2 \
        || "$py" -m pip install --quiet --disable-pip-version-check --break-system-packages aiosmtpd >&2
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/rollback-smtp.XXXXXX")"
maildir="$dir/maildir"
mkdir -p "$maildir"/{cur,new,tmp}

# A server from an earlier run on the same port would receive our mail: refuse to start twice.
if "$py" - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
then
    echo "smtp.sh: something already listens on 127.0.0.1:$port; set ROLLBACK_SMTP_PORT" >&2
    exit 1
fi

nohup "$py" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$maildir" \
    >"$dir/aiosmtpd.log" 2>&1 </dev/null &
echo $! >"$dir/aiosmtpd.pid"

# Wait (at most ~10 s) for the port to accept connections.
for _ in $(seq 1 50); do
    if "$py" - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
    then
        lines="export ROLLBACK_TEST_SMTP=127.0.0.1:$port
export ROLLBACK_TEST_SMTP_MAILDIR=$maildir"
        if [ -n "$env_file" ]; then
            printf '%s\n' "$lines" >"$env_file"
        else
            printf '%s\n' "$lines"
        fi
        echo "smtp.sh: aiosmtpd pid $(cat "$dir/aiosmtpd.pid") on 127.0.0.1:$port, maildir $maildir" >&2
        exit 0
    fi
    sleep 0.2
done
echo "smtp.sh: aiosmtpd did not start; its log:" >&2
cat "$dir/aiosmtpd.log" >&2
exit 1
