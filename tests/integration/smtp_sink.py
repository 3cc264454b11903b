#!/usr/bin/python3
"""SMTP sink for postdesk's integration tests and demo.

Accepts every mail on 127.0.0.1:PORT and writes it, as received, to DIR/N.eml
(N = 1, 2, ...), with the envelope in DIR/N.env.  Run with /usr/bin/python3 so
that aiosmtpd from Debian's python3-aiosmtpd is found whatever PATH says.

    smtp_sink.py --port PORT --dir DIR [--pidfile FILE] [options below]

Optional: a file DIR/reply holding one SMTP reply line (e.g. "451 4.3.0 try
later") makes the sink answer DATA with it instead of accepting the mail,
so tests can exercise temporary and permanent failures; it is read anew for
every mail, and a 421 line closes the connection after it is sent.

Failures from the command line (for tests that start their own sink):
  --fail-code CODE      answer CODE (4xx or 5xx) instead of accepting a mail
  --fail-count N        ... for the first N mail transactions only (default:
                        all of them).  A transaction counts once, at the stage
                        where it is failed.
  --fail-at STAGE       where to fail: "data" (default: after the whole
                        message was received, at the end of DATA - the reply
                        a real server gives after content checks), "rcpt"
                        (every RCPT TO of the transaction) or "mail" (MAIL
                        FROM).
  --fail-text TEXT      reply text after the code (default names the sink).
  A 421 reply closes the connection after it is sent, as RFC 5321 requires.
  --reject-rcpt ADDR    answer "550 5.1.1" to RCPT TO:<ADDR> (repeatable);
                        other recipients are accepted.
  --discard             accept mails without writing them (benchmarks); the
                        count in DIR/accepted still grows.

Counting: DIR/connections holds the number of SMTP sessions so far, i.e.
connections on which the client sent EHLO or HELO (port probes that only
connect, and the listener's own start-up check, do not count; a STARTTLS
session counts once).  DIR/accepted holds the number of mails accepted.
Both files are replaced atomically on every change.  Each session is also
logged on stderr: "sink: session N from HOST:PORT".

Delivery log: DIR/accepted.ids gets one line per accepted mail, "N<TAB>
MESSAGE-ID" (N: the DIR/N.eml it went to, "-" with --discard; MESSAGE-ID as
in the header, "" when it has none).  DIR/ambiguous gets the same line for
every accepted mail after whose "250" to DATA the connection ended without
the client sending any further command (no MAIL, RSET, NOOP, QUIT...): a
client that died right then cannot know that the mail went out and will
send it again, so a second copy of such a mail is expected; any other copy
is a duplicate.  Both files are appended to (and flushed) at once.

TLS (certificates from tests/data/tls: server-chain.pem, server-key.pem):
  --tls starttls        offer STARTTLS and refuse mail before it (530)
  --tls implicit        TLS from the first byte (smtps)
  --cert FILE --key FILE
AUTH:
  --auth USER:PASSWORD  offer AUTH PLAIN/LOGIN (also without TLS) and require
                        it before MAIL; wrong credentials get 535.
  --xoauth2 URL         offer only AUTH XOAUTH2 and OAUTHBEARER and require it
                        before MAIL; the bearer token is checked by POSTing
                        token=... to URL (an RFC 7662 introspection endpoint,
                        tests/integration/oauth2_server.py), which must say
                        active and name the user.  A refused token gets the
                        error challenge (334 base64 JSON) and then 535, as
                        Google and Microsoft answer.
Idle:
  --idle-timeout SECS   close sessions idle that long (aiosmtpd's timeout,
                        default 300).
"""
import argparse
import asyncio
import email.parser
import email.policy
import os
import base64
import json
import signal
import ssl
import sys
import urllib.parse
import urllib.request

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult


def write_count(directory, name, value):
    tmp = os.path.join(directory, name + ".tmp")
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % value)
    os.rename(tmp, os.path.join(directory, name))


def append_line(directory, name, line):
    with open(os.path.join(directory, name), "a", encoding="utf-8",
              errors="surrogateescape") as f:
        f.write(line + "\n")


def message_id_of(data):
    """The Message-ID header of a raw mail, unfolded and stripped ("" if none)."""
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
        value = headers.get("Message-ID")
    except Exception:  # a header the parser chokes on: no id rather than no mail
        value = None
    if value is None:
        return ""
    return " ".join(str(value).split())


def default_text(code):
    if code == 421:
        return "4.3.2 sink: service not available, closing connection"
    if code < 500:
        return "4.3.0 sink: temporary failure, try again later"
    return "5.7.1 sink: message refused"


class Sink:
    def __init__(self, directory, args=None):
        self.dir = directory
        self.n = 0
        self.args = args
        self.sessions = 0
        self.accepted = 0
        self.fail_left = None if args is None else args.fail_count
        self.reject = set() if args is None or not args.reject_rcpt else \
            {a.lower() for a in args.reject_rcpt}

    # ---- scripted failures

    def _fail_now(self, server, envelope, stage):
        """The failure reply for this transaction at this stage, or None."""
        a = self.args
        if a is None or a.fail_code is None or a.fail_at != stage:
            return None
        decided = getattr(envelope, "pd_fail", None)
        if decided is None:
            decided = self.fail_left is None or self.fail_left > 0
            if decided and self.fail_left is not None:
                self.fail_left -= 1
            envelope.pd_fail = decided
        if not decided:
            return None
        reply = "%d %s" % (a.fail_code, a.fail_text or default_text(a.fail_code))
        if a.fail_code == 421:
            # The reply is written before this callback runs; close() flushes.
            asyncio.get_running_loop().call_soon(server.transport.close)
        return reply

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self._fail_now(server, envelope, "mail")
        if reply:
            del envelope.pd_fail  # no transaction began: the next MAIL is a new one
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._fail_now(server, envelope, "rcpt")
        if reply:
            return reply
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: sink: recipient rejected" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply_file = os.path.join(self.dir, "reply")
        if os.path.exists(reply_file):
            with open(reply_file, encoding="ascii") as f:
                line = f.read().strip()
            if line:
                if line.startswith("421"):
                    asyncio.get_running_loop().call_soon(server.transport.close)
                return line
        reply = self._fail_now(server, envelope, "data")
        if reply:
            return reply
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.accepted += 1
        write_count(self.dir, "accepted", self.accepted)
        if self.args is not None and self.args.discard:
            self._delivered(server, "-", data)
            return "250 2.0.0 OK discarded"
        self.n += 1
        base = os.path.join(self.dir, str(self.n))
        self._delivered(server, str(self.n), data)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        with open(base + ".env", "w", encoding="utf-8") as f:
            f.write("MAIL FROM:%s\n" % envelope.mail_from)
            for rcpt in envelope.rcpt_tos:
                f.write("RCPT TO:%s\n" % rcpt)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK queued as sink-%d" % self.n

    # ---- the delivery log (see "Delivery log" above)

    def _delivered(self, server, name, data):
        line = "%s\t%s" % (name, message_id_of(data))
        append_line(self.dir, "accepted.ids", line)
        # confirmed by the client's next command, or ambiguous at connection end
        server.pd_unconfirmed = line

    def connection_ended(self, server):
        line = getattr(server, "pd_unconfirmed", None)
        if line is not None:
            server.pd_unconfirmed = None
            append_line(self.dir, "ambiguous", line)
            print("sink: connection ended right after 250 to DATA: %s" % line,
                  file=sys.stderr, flush=True)

    # ---- session counting (called by CountingSMTP)

    def session_started(self, peer):
        self.sessions += 1
        write_count(self.dir, "connections", self.sessions)
        host, port = (peer[0], peer[1]) if isinstance(peer, tuple) else (peer, 0)
        print("sink: session %d from %s:%s" % (self.sessions, host, port),
              file=sys.stderr, flush=True)


class OAuthSink(Sink):
    """A sink that wants an OAuth 2.0 bearer token (SASL XOAUTH2 or
    OAUTHBEARER), checked with the introspection endpoint."""

    def _token_ok(self, user, token):
        body = urllib.parse.urlencode({"token": token}).encode()
        try:
            with urllib.request.urlopen(self.args.xoauth2, body, timeout=10) as r:
                answer = json.load(r)
        except Exception as e:  # the endpoint is down: refuse, say why
            print("sink: introspection failed: %s" % e, file=sys.stderr, flush=True)
            return False
        return answer.get("active") is True and answer.get("username") == user

    async def _bearer(self, server, args, parse):
        if len(args) > 1:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                return AuthResult(success=False, handled=False)
        else:
            blob = await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        user, token = parse(blob.decode("utf-8", "replace"))
        if user and token and self._token_ok(user, token):
            print("sink: %s login as %s" % (args[0], user), file=sys.stderr, flush=True)
            return AuthResult(success=True, auth_data=user)
        print("sink: %s token refused for %s" % (args[0], user), file=sys.stderr, flush=True)
        err = json.dumps({"status": "401", "schemes": "bearer", "scope": "SMTP.Send"})
        await server.challenge_auth(base64.b64encode(err.encode()), encode_to_b64=False)
        return AuthResult(success=False, handled=False)

    @staticmethod
    def _parse_xoauth2(s):
        # "user=" USER ^A "auth=Bearer " TOKEN ^A ^A
        fields = dict(f.split("=", 1) for f in s.split("\x01") if "=" in f)
        auth = fields.get("auth", "")
        return fields.get("user"), auth[7:] if auth.startswith("Bearer ") else None

    @staticmethod
    def _parse_oauthbearer(s):
        # "n,a=" USER "," ^A "host=..." ^A "port=..." ^A "auth=Bearer " TOKEN ^A ^A
        head, _, rest = s.partition("\x01")
        user = None
        for part in head.split(","):
            if part.startswith("a="):
                user = part[2:].replace("=2C", ",").replace("=3D", "=")
        fields = dict(f.split("=", 1) for f in rest.split("\x01") if "=" in f)
        auth = fields.get("auth", "")
        return user, auth[7:] if auth.startswith("Bearer ") else None

    async def auth_XOAUTH2(self, server, args):
        return await self._bearer(server, args, self._parse_xoauth2)

    async def auth_OAUTHBEARER(self, server, args):
        return await self._bearer(server, args, self._parse_oauthbearer)


class CountingSMTP(SMTP):
    """aiosmtpd's SMTP (one instance per connection) that reports its first
    EHLO/HELO to the handler, and every command and the end of the
    connection, for the delivery log."""

    pd_counted = False
    pd_unconfirmed = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for verb, method in list(self._smtp_methods.items()):
            self._smtp_methods[verb] = self._pd_command(method)

    def _pd_command(self, method):
        async def wrapped(arg):
            # any command after a 250 to DATA: the client lived to read it
            self.pd_unconfirmed = None
            return await method(arg)
        return wrapped

    def connection_lost(self, error):
        self.event_handler.connection_ended(self)
        super().connection_lost(error)

    def _pd_count(self):
        if not self.pd_counted:
            self.pd_counted = True
            self.event_handler.session_started(self.session.peer)

    async def smtp_EHLO(self, hostname):
        self._pd_count()
        return await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname):
        self._pd_count()
        return await super().smtp_HELO(hostname)


class SinkController(Controller):
    def factory(self):
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


def authenticator_for(spec):
    user, _, password = spec.partition(":")

    def check(server, session, envelope, mechanism, auth_data):
        ok = (getattr(auth_data, "login", None) == user.encode() and
              getattr(auth_data, "password", None) == password.encode())
        # handled=False: let aiosmtpd answer 535 itself (the default True means
        # "the authenticator already replied", and it would stay silent)
        return AuthResult(success=ok, handled=False)

    return check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--pidfile")
    ap.add_argument("--fail-code", type=int)
    ap.add_argument("--fail-count", type=int)
    ap.add_argument("--fail-at", choices=("mail", "rcpt", "data"), default="data")
    ap.add_argument("--fail-text")
    ap.add_argument("--reject-rcpt", action="append")
    ap.add_argument("--discard", action="store_true")
    ap.add_argument("--tls", choices=("none", "starttls", "implicit"), default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth")
    ap.add_argument("--xoauth2")
    ap.add_argument("--idle-timeout", type=float, default=300)
    args = ap.parse_args()
    if args.fail_code is not None and not 400 <= args.fail_code <= 599:
        ap.error("--fail-code must be 4xx or 5xx")
    if args.tls != "none" and not (args.cert and args.key):
        ap.error("--tls %s needs --cert and --key" % args.tls)

    os.makedirs(args.dir, exist_ok=True)
    # Keep numbering across restarts of the sink in one state folder.
    existing = [int(n[:-4]) for n in os.listdir(args.dir)
                if n.endswith(".eml") and n[:-4].isdigit()]
    handler = (OAuthSink if args.xoauth2 else Sink)(args.dir, args)
    handler.n = max(existing, default=0)

    kwargs = dict(hostname=args.host, port=args.port,
                  decode_data=False, enable_SMTPUTF8=True,
                  data_size_limit=64 * 1024 * 1024,
                  timeout=args.idle_timeout)
    if args.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            kwargs.update(ssl_context=ctx)
    if args.auth:
        kwargs.update(authenticator=authenticator_for(args.auth),
                      auth_required=True, auth_require_tls=False)
    elif args.xoauth2:
        kwargs.update(authenticator=lambda *a: AuthResult(success=False, handled=False),
                      auth_required=True, auth_require_tls=False,
                      auth_exclude_mechanism=["PLAIN", "LOGIN"])

    controller = SinkController(handler, **kwargs)
    controller.start()
    # The controller's own start-up probe connected without EHLO: not counted.
    write_count(args.dir, "connections", 0)
    write_count(args.dir, "accepted", 0)
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w", encoding="ascii") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.pidfile + ".tmp", args.pidfile)

    done = []

    def on_signal(signum, frame):
        done.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not done:
        signal.pause()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
