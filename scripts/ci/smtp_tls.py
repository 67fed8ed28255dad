"""SMTP servers with TLS and AUTH for the email tests of rollback-notify (aiosmtpd, from PyPI).

Started by scripts/ci/smtp.sh; runs until it gets SIGTERM or SIGINT. Two servers on 127.0.0.1,
both writing every message into one maildir and both requiring AUTH before MAIL:

* --starttls-port: plain SMTP that must be upgraded with STARTTLS before anything else
  (`require_starttls`); AUTH is offered only after the upgrade and only as LOGIN.
* --tls-port: implicit TLS ("SMTPS") from the first byte; AUTH offered only as PLAIN.

A client that offers PLAIN first (lettre does) so uses LOGIN on one and PLAIN on the other.

aiosmtpd's CLI cannot set up AUTH, hence the Python API. Over implicit TLS aiosmtpd 1.4 does not
see the TLS layer (it is set up by asyncio, not by STARTTLS) and with `auth_require_tls` would
refuse AUTH with "538 Encryption required" (aio-libs/aiosmtpd#274, #281); the whole connection is
TLS there, so that server sets `auth_require_tls=False`.
"""

import argparse
import hmac
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--maildir", required=True)
    p.add_argument("--starttls-port", type=int, required=True)
    p.add_argument("--tls-port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True, help="file holding the accepted password")
    args = p.parse_args()

    with open(args.password_file, "rb") as f:
        password = f.read().strip()
    user = args.user.encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, user)
            and hmac.compare_digest(auth_data.password, password)
        )
        # handled=False: aiosmtpd itself answers "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=ok, handled=False)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    handler = Mailbox(args.maildir)
    common = dict(
        hostname="127.0.0.1",
        server_hostname="localhost",
        authenticator=authenticator,
        auth_required=True,
    )
    starttls = Controller(
        handler,
        port=args.starttls_port,
        tls_context=context,
        require_starttls=True,
        auth_exclude_mechanism=["PLAIN"],
        **common,
    )
    implicit = Controller(
        handler,
        port=args.tls_port,
        ssl_context=context,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],
        **common,
    )
    starttls.start()
    try:
        implicit.start()
    except BaseException:
        starttls.stop()
        raise

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(
        f"smtp_tls.py: STARTTLS on 127.0.0.1:{args.starttls_port}, "
        f"implicit TLS on 127.0.0.1:{args.tls_port}, maildir {args.maildir}",
        flush=True,
    )
    stop.wait()
    implicit.stop()
    starttls.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
