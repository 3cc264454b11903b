#!/usr/bin/python3
"""A TLS server on 127.0.0.1 that pretends to be an IMAP server with a bad
certificate (wrong host name, expired, self-signed) for postdesk's tests.

    tls_decoy.py --port PORT --cert FILE --key FILE --log FILE

Every connection is logged to --log: "handshake-failed ..." when the client
refused the certificate (what postdesk must do), "handshake-ok" when it
accepted it, and "command <verb>" for each IMAP command received.  A client
that sends LOGIN or AUTHENTICATE here has given its password away.
"""
import argparse
import signal
import socket
import ssl
import sys
import threading


def serve(conn, ctx, log):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        log("handshake-failed %s" % e.__class__.__name__)
        conn.close()
        return
    log("handshake-ok")
    try:
        tls.settimeout(10)
        tls.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] decoy ready\r\n")
        buf = b""
        while True:
            data = tls.recv(4096)
            if not data:
                break
            buf += data
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                parts = line.split(b" ", 2)
                tag = parts[0] if parts else b"*"
                verb = parts[1].upper() if len(parts) > 1 else b""
                log("command %s" % verb.decode("ascii", "replace"))
                if verb == b"LOGOUT":
                    tls.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                    return
                tls.sendall(tag + b" NO decoy\r\n")
    except (ssl.SSLError, OSError):
        pass
    finally:
        try:
            tls.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    lock = threading.Lock()

    def log(msg):
        with lock, open(a.log, "a", encoding="utf-8") as f:
            f.write(msg + "\n")

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, ctx, log), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
