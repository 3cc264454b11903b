#!/usr/bin/python3
"""A small OAuth 2.0 authorization server for postdesk's integration tests.

    oauth2_server.py --port PORT --dir DIR [options]

Serves on 127.0.0.1:PORT (plain HTTP, which postdesk allows on loopback):

  POST /token       RFC 6749 token endpoint (form): grant_type refresh_token,
                    client_credentials, or the RFC 8628 device_code grant.
                    Access tokens live --lifetime seconds.
  POST /devicecode  RFC 8628 device authorization: device_code, user_code,
                    verification_uri, interval 1.  The sign-in "completes" by
                    itself: the first poll gets authorization_pending, the
                    second slow_down, the next ones (at least 5 s later, as
                    slow_down asks) the tokens.
  POST /introspect  RFC 7662 (form token=...): {"active": true, "username":
                    USER} for a live access token, else {"active": false}.
                    Dovecot's oauth2 passdb (introspection_mode = post) and
                    smtp_sink.py --xoauth2 ask it.
  POST /revoke      (form user=USER) revoke every access token of USER now,
                    so that the next login with a cached token is refused.
  GET  /stats       JSON counters (grants per user, refused and expired
                    tokens presented, device polls and their spacing) and
                    each user's current refresh token.

Options:
  --client ID[:SECRET]        a registered client (repeatable); without SECRET
                              a public client
  --refresh USER:CLIENT:FILE  the refresh token in FILE (created with a new
                              token unless it exists) is valid for USER
  --rotate                    every refresh_token grant issues a new refresh
                              token and invalidates the old one
  --app CLIENT:USER           client_credentials for CLIENT yield a token for USER
  --invalid-grant CLIENT      refresh_token grants of CLIENT get invalid_grant
  --device CLIENT:USER        device sign-ins of CLIENT are USER's
  --lifetime SECS             access token lifetime (default 3600)

Every token and secret it issues or knows is appended to DIR/secrets (one per
line) so that tests can prove none of them reached a log.  Requests are
logged (without tokens) to stderr.
"""
import argparse
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


class State:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.clients = {}          # id -> secret or None
        self.refresh = {}          # token -> (user, client)
        self.access = {}           # token -> (user, expires_at)
        self.apps = {}             # client -> user
        self.device_users = {}     # client -> user
        self.devices = {}          # device_code -> dict
        self.invalid = set(args.invalid_grant or [])
        self.stats = {"grants": {}, "refused": 0, "expired": 0, "introspections": 0,
                      "device_polls": 0, "device_poll_gaps": [], "rotations": 0}
        for c in args.client or []:
            cid, _, sec = c.partition(":")
            self.clients[cid] = sec or None
            if sec:
                self.remember(sec)
        for a in args.app or []:
            cid, _, user = a.partition(":")
            self.apps[cid] = user
        for d in args.device or []:
            cid, _, user = d.partition(":")
            self.device_users[cid] = user
        for r in args.refresh or []:
            user, client, path = r.split(":", 2)
            if os.path.exists(path):
                with open(path, encoding="ascii") as f:
                    tok = f.read().strip()
            else:
                tok = self.new_token("rt")
                with open(path, "w", encoding="ascii") as f:
                    f.write(tok + "\n")
                os.chmod(path, 0o600)
            self.remember(tok)
            self.refresh[tok] = (user, client)

    def remember(self, secret):
        with open(os.path.join(self.dir, "secrets"), "a", encoding="ascii") as f:
            f.write(secret + "\n")

    def new_token(self, kind):
        tok = "%s-%s" % (kind, secrets.token_urlsafe(24))
        self.remember(tok)
        return tok

    def grant(self, user):
        tok = self.new_token("at")
        life = self.args.lifetime
        self.access[tok] = (user, time.time() + life)
        g = self.stats["grants"]
        g[user] = g.get(user, 0) + 1
        return tok, life

    def client_ok(self, form):
        cid = form.get("client_id", "")
        if cid not in self.clients:
            return False
        want = self.clients[cid]
        return want is None or form.get("client_secret") == want


class Handler(BaseHTTPRequestHandler):
    server_version = "pd-oauth2-test/1"

    def log_message(self, fmt, *a):  # no tokens in here: paths only
        sys.stderr.write("oauth2: %s\n" % (fmt % a))

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("ascii", "replace")
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                out = dict(STATE.stats)
                # the newest refresh token of each user (tests compare files)
                out["current_refresh"] = {u: t for t, (u, c) in STATE.refresh.items()}
                return self.answer(200, out)
        self.answer(404, {"error": "not_found"})

    def do_POST(self):
        form = self.form()
        with LOCK:
            if self.path == "/token":
                return self.token(form)
            if self.path == "/devicecode":
                return self.devicecode(form)
            if self.path == "/introspect":
                return self.introspect(form)
            if self.path == "/revoke":
                user = form.get("user")
                for tok, (u, exp) in list(STATE.access.items()):
                    if u == user:
                        del STATE.access[tok]
                return self.answer(200, {"revoked": user})
        self.answer(404, {"error": "not_found"})

    def token(self, form):
        st = STATE
        gt = form.get("grant_type")
        ctype = self.headers.get("Content-Type") or ""
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return self.answer(400, {"error": "invalid_request",
                                     "error_description": "form expected"})
        if not st.client_ok(form):
            return self.answer(401, {"error": "invalid_client"})
        cid = form["client_id"]
        if gt == "refresh_token":
            if cid in st.invalid:
                return self.answer(400, {"error": "invalid_grant",
                                         "error_description": "AADSTS70000: the grant is "
                                                              "expired or revoked"})
            rt = form.get("refresh_token")
            owner = st.refresh.get(rt)
            if owner is None or owner[1] != cid:
                return self.answer(400, {"error": "invalid_grant",
                                         "error_description": "unknown refresh token"})
            tok, life = st.grant(owner[0])
            out = {"access_token": tok, "token_type": "Bearer", "expires_in": life,
                   "scope": form.get("scope", "")}
            if st.args.rotate:
                del st.refresh[rt]
                new = st.new_token("rt")
                st.refresh[new] = owner
                st.stats["rotations"] += 1
                out["refresh_token"] = new
            return self.answer(200, out)
        if gt == "client_credentials":
            user = st.apps.get(cid)
            if user is None or st.clients.get(cid) is None:
                return self.answer(400, {"error": "unauthorized_client"})
            tok, life = st.grant(user)
            return self.answer(200, {"access_token": tok, "token_type": "Bearer",
                                     "expires_in": life})
        if gt == "urn:ietf:params:oauth:grant-type:device_code":
            d = st.devices.get(form.get("device_code"))
            if d is None or d["client"] != cid:
                return self.answer(400, {"error": "invalid_grant"})
            now = time.time()
            st.stats["device_polls"] += 1
            if d["last"] is not None:
                st.stats["device_poll_gaps"].append(round(now - d["last"], 2))
            d["last"] = now
            d["polls"] += 1
            if d["polls"] == 1:
                return self.answer(400, {"error": "authorization_pending"})
            if d["polls"] == 2:
                return self.answer(400, {"error": "slow_down"})
            del st.devices[form.get("device_code")]
            user = st.device_users.get(cid, "nobody")
            tok, life = st.grant(user)
            rt = st.new_token("rt")
            st.refresh[rt] = (user, cid)
            return self.answer(200, {"access_token": tok, "token_type": "Bearer",
                                     "expires_in": life, "refresh_token": rt})
        return self.answer(400, {"error": "unsupported_grant_type"})

    def devicecode(self, form):
        st = STATE
        if not st.client_ok(form) or not form.get("scope"):
            return self.answer(400, {"error": "invalid_client"})
        dc = st.new_token("dc")
        code = secrets.token_hex(4).upper()
        st.devices[dc] = {"client": form["client_id"], "polls": 0, "last": None}
        return self.answer(200, {"device_code": dc, "user_code": code,
                                 "verification_uri": "http://127.0.0.1:%d/device" %
                                                     st.args.port,
                                 "expires_in": 120, "interval": 1})

    def introspect(self, form):
        st = STATE
        st.stats["introspections"] += 1
        tok = form.get("token", "")
        entry = st.access.get(tok)
        if entry is None:
            st.stats["refused"] += 1
            return self.answer(200, {"active": False})
        user, exp = entry
        if time.time() >= exp:
            st.stats["expired"] += 1
            return self.answer(200, {"active": False})
        return self.answer(200, {"active": True, "username": user})


def main():
    global STATE
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--client", action="append")
    ap.add_argument("--refresh", action="append")
    ap.add_argument("--rotate", action="store_true")
    ap.add_argument("--app", action="append")
    ap.add_argument("--invalid-grant", action="append")
    ap.add_argument("--device", action="append")
    ap.add_argument("--lifetime", type=int, default=3600)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    STATE = State(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


STATE = None

if __name__ == "__main__":
    sys.exit(main())
