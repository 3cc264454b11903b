#!/usr/bin/python3
"""SMTP sink for postdesk's integration tests and demo.

Accepts every mail on 127.0.0.1:PORT and writes it, as received, to DIR/N.eml
(N = 1, 2, ...), with the envelope in DIR/N.env.  Run with /usr/bin/python3 so
that aiosmtpd from Debian's python3-aiosmtpd is found whatever PATH says.

    smtp_sink.py --port PORT --dir DIR [--pidfile FILE]

Optional: a file DIR/reply holding one SMTP reply line (e.g. "451 4.3.0 try
later") makes the sink answer DATA with it instead of accepting the mail,
so tests can exercise temporary and permanent failures.
"""
import argparse
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.dir = directory
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        reply_file = os.path.join(self.dir, "reply")
        if os.path.exists(reply_file):
            with open(reply_file, encoding="ascii") as f:
                line = f.read().strip()
            if line:
                return line
        self.n += 1
        base = os.path.join(self.dir, str(self.n))
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        with open(base + ".env", "w", encoding="utf-8") as f:
            f.write("MAIL FROM:%s\n" % envelope.mail_from)
            for rcpt in envelope.rcpt_tos:
                f.write("RCPT TO:%s\n" % rcpt)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK queued as sink-%d" % self.n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--pidfile")
    args = ap.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    # Keep numbering across restarts of the sink in one state folder.
    existing = [int(n[:-4]) for n in os.listdir(args.dir)
                if n.endswith(".eml") and n[:-4].isdigit()]
    handler = Sink(args.dir)
    handler.n = max(existing, default=0)

    controller = Controller(handler, hostname=args.host, port=args.port,
                            decode_data=False, enable_SMTPUTF8=True,
                            data_size_limit=64 * 1024 * 1024)
    controller.start()
    if args.pidfile:
        with open(args.pidfile, "w", encoding="ascii") as f:
            f.write("%d\n" % os.getpid())

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
