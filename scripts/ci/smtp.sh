#!/usr/bin/env bash
# Starts real SMTP servers (aiosmtpd, from PyPI) for the email tests of rollback-notify.
#
# Usage:  eval "$(bash scripts/ci/smtp.sh)"      # or: bash scripts/ci/smtp.sh ENV_FILE; . ENV_FILE
#
# Installs aiosmtpd with pip if it is missing and starts, all on 127.0.0.1:
#   * plain SMTP without AUTH on ${ROLLBACK_SMTP_PORT:-2525}, writing a maildir;
#   * STARTTLS (required) with AUTH LOGIN on ${ROLLBACK_SMTP_STARTTLS_PORT:-2587} and implicit TLS
#     with AUTH PLAIN on ${ROLLBACK_SMTP_TLS_PORT:-2465} (scripts/ci/smtp_tls.py), both writing a
#     second maildir and refusing mail without AUTH. Their certificate is issued for localhost and
#     127.0.0.1 by a throwaway CA generated here with openssl (needed on PATH); the client trusts
#     it through the channel's `ca_file`.
# It waits until every port accepts connections, and prints (or writes to ENV_FILE):
#   export ROLLBACK_TEST_SMTP=127.0.0.1:2525
#   export ROLLBACK_TEST_SMTP_MAILDIR=/tmp/.../maildir
#   export ROLLBACK_TEST_SMTP_STARTTLS=127.0.0.1:2587
#   export ROLLBACK_TEST_SMTP_TLS=127.0.0.1:2465
#   export ROLLBACK_TEST_SMTP_TLS_MAILDIR=/tmp/.../tls-maildir
#   export ROLLBACK_TEST_SMTP_CA=/tmp/.../tls/ca.pem
#   export ROLLBACK_TEST_SMTP_USER=rollback-bot
#   export ROLLBACK_TEST_SMTP_PASSWORD=SECRET-smtp-...   (random, for these servers only)
# The servers' pids are in $dir/aiosmtpd.pid and $dir/smtp_tls.pid, their logs beside them.
# Nothing but the export lines goes to stdout.
set -euo pipefail

port="${ROLLBACK_SMTP_PORT:-2525}"
starttls_port="${ROLLBACK_SMTP_STARTTLS_PORT:-2587}"
tls_port="${ROLLBACK_SMTP_TLS_PORT:-2465}"
env_file="${1:-}"
py="${PYTHON:-python3}"
here="$(cd "$(dirname "$0")" && pwd)"

if ! "$py" -c 'import aiosmtpd' >/dev/null 2>&1; then
    echo "smtp.sh: installing aiosmtpd with pip" >&2
    "$py" -m pip install --quiet --disable-pip-version-check aiosmtpd >&2 \
        || "$py" -m pip install --quiet --disable-pip-version-check --break-system-packages aiosmtpd >&2
fi
if ! command -v openssl >/dev/null 2>&1; then
    echo "smtp.sh: openssl is needed for the TLS servers' certificate (apt-get install openssl)" >&2
    exit 1
fi

port_open() {
    "$py" - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

if [ "$port" = "$starttls_port" ] || [ "$port" = "$tls_port" ] || [ "$starttls_port" = "$tls_port" ]; then
    echo "smtp.sh: the three ports must differ ($port, $starttls_port, $tls_port)" >&2
    exit 1
fi
# A server from an earlier run on the same port would receive our mail: refuse to start twice.
for p in "$port" "$starttls_port" "$tls_port"; do
    if port_open "$p"; then
        echo "smtp.sh: something already listens on 127.0.0.1:$p; set ROLLBACK_SMTP_PORT," \
            "ROLLBACK_SMTP_STARTTLS_PORT and ROLLBACK_SMTP_TLS_PORT to free ports" >&2
        exit 1
    fi
done

dir="$(mktemp -d "${TMPDIR:-/tmp}/rollback-smtp.XXXXXX")"
maildir="$dir/maildir"
tls_maildir="$dir/tls-maildir"
mkdir -p "$maildir"/{cur,new,tmp} "$tls_maildir"/{cur,new,tmp}

# A throwaway CA and a server certificate it signs, for localhost and 127.0.0.1 (webpki wants
# the names in subjectAltName, a v3 certificate, and no CA flag on the server's own).
certs="$dir/tls"
mkdir -p "$certs"
cat >"$certs/server.ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
EXT
if ! {
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=rollback-notify test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$certs/ca.key" -out "$certs/ca.pem" \
        && openssl req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout "$certs/server.key" -out "$certs/server.csr" \
        && openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" \
            -CAcreateserial -days 7 -extfile "$certs/server.ext" -out "$certs/server.pem"
} >"$certs/openssl.log" 2>&1; then
    echo "smtp.sh: could not generate the test certificates; openssl said:" >&2
    cat "$certs/openssl.log" >&2
    exit 1
fi

user="rollback-bot"
password="SECRET-smtp-$("$py" -c 'import secrets; print(secrets.token_hex(12))')"
(umask 077 && printf '%s\n' "$password" >"$dir/password")

nohup "$py" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$maildir" \
    >"$dir/aiosmtpd.log" 2>&1 </dev/null &
echo $! >"$dir/aiosmtpd.pid"

nohup "$py" "$here/smtp_tls.py" --cert "$certs/server.pem" --key "$certs/server.key" \
    --maildir "$tls_maildir" --starttls-port "$starttls_port" --tls-port "$tls_port" \
    --user "$user" --password-file "$dir/password" \
    >"$dir/smtp_tls.log" 2>&1 </dev/null &
echo $! >"$dir/smtp_tls.pid"

# Wait (at most ~10 s) for every port to accept connections.
for _ in $(seq 1 50); do
    if port_open "$port" && port_open "$starttls_port" && port_open "$tls_port"; then
        lines="export ROLLBACK_TEST_SMTP=127.0.0.1:$port
export ROLLBACK_TEST_SMTP_MAILDIR=$maildir
export ROLLBACK_TEST_SMTP_STARTTLS=127.0.0.1:$starttls_port
export ROLLBACK_TEST_SMTP_TLS=127.0.0.1:$tls_port
export ROLLBACK_TEST_SMTP_TLS_MAILDIR=$tls_maildir
export ROLLBACK_TEST_SMTP_CA=$certs/ca.pem
export ROLLBACK_TEST_SMTP_USER=$user
export ROLLBACK_TEST_SMTP_PASSWORD=$password"
        if [ -n "$env_file" ]; then
            (umask 077 && printf '%s\n' "$lines" >"$env_file")
        else
            printf '%s\n' "$lines"
        fi
        echo "smtp.sh: aiosmtpd pid $(cat "$dir/aiosmtpd.pid") on 127.0.0.1:$port," \
            "maildir $maildir; TLS servers pid $(cat "$dir/smtp_tls.pid") on" \
            "127.0.0.1:$starttls_port (STARTTLS) and 127.0.0.1:$tls_port (TLS)," \
            "maildir $tls_maildir" >&2
        exit 0
    fi
    for name in aiosmtpd smtp_tls; do
        if ! kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
            break 2
        fi
    done
    sleep 0.2
done
echo "smtp.sh: the SMTP servers did not start; their logs:" >&2
cat "$dir/aiosmtpd.log" "$dir/smtp_tls.log" >&2
for name in aiosmtpd smtp_tls; do
    kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
done
exit 1
