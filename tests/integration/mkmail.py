#!/usr/bin/python3
"""Write one test mail (RFC 5322 bytes, CRLF) to stdout for the integration tests.

    mkmail.py --from 'Jane Doe <jane@customer.example>' --subject 'Printer jammed'
              [--to support@example.com] [--cc ADDR] [--message-id ID] [--date DATE]
              [--in-reply-to ID] [--references 'ID ID'] [--received 'from ...']
              [--charset koi8-r] [--subject-encoding B|Q|8bit] [--name-encoding B|Q]
              [--body TEXT | --body-size N] [--html] [--attach FILE[:TYPE]]
              [--header 'Name: value' ...]

Text given on the command line is UTF-8; --charset re-encodes the subject,
the display name and the body into that charset (RFC 2047 encoded-words for
headers unless --subject-encoding 8bit), so charset handling is tested
against the bytes real mailers send.
"""
import argparse
import base64
import email.utils
import os
import sys


def q_encode(raw):
    out = []
    for b in raw:
        c = chr(b)
        if c == " ":
            out.append("_")
        elif c.isascii() and (c.isalnum() or c in "!*+-/"):
            out.append(c)
        else:
            out.append("=%02X" % b)
    return "".join(out)


def encoded_word(text, charset, enc):
    """RFC 2047 encoded-words, each at most 75 characters, split between
    characters (never inside a multibyte sequence), separated by folding."""
    words = []
    chunk = ""
    prefix = "=?%s?%s?" % (charset, enc.upper())

    def render(t):
        raw = t.encode(charset)
        if enc.upper() == "B":
            return prefix + base64.b64encode(raw).decode("ascii") + "?="
        return prefix + q_encode(raw) + "?="

    for ch in text:
        if chunk and len(render(chunk + ch)) > 75:
            words.append(render(chunk))
            chunk = ""
        chunk += ch
    if chunk:
        words.append(render(chunk))
    return "\r\n ".join(words)


def fold(line):
    """Fold a header line longer than 78 characters at whitespace."""
    if len(line) <= 78 or b"\r\n" in line:
        return line
    out = []
    cur = b""
    for part in line.split(b" "):
        if not cur:
            cur = part
        elif len(cur) + 1 + len(part) > 76:
            out.append(cur)
            cur = b"\t" + part
        else:
            cur += b" " + part
    out.append(cur)
    return b"\r\n".join(out)


def header_text(text, charset, enc):
    """ASCII stays as it is; anything else becomes an encoded-word or 8-bit bytes."""
    try:
        text.encode("ascii")
        return text.encode("ascii")
    except UnicodeEncodeError:
        pass
    if enc == "8bit":
        return text.encode(charset)
    return encoded_word(text, charset, enc).encode("ascii")


def address(spec, charset, enc):
    name, addr = email.utils.parseaddr(spec)
    if not name:
        return addr.encode("ascii")
    try:
        name.encode("ascii")
        return email.utils.formataddr((name, addr)).encode("ascii")
    except UnicodeEncodeError:
        return header_text(name, charset, enc) + b" <" + addr.encode("ascii") + b">"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="from_", required=True)
    ap.add_argument("--to", action="append")
    ap.add_argument("--cc", action="append", default=[])
    ap.add_argument("--subject", default="")
    ap.add_argument("--message-id")
    ap.add_argument("--date")
    ap.add_argument("--in-reply-to")
    ap.add_argument("--references")
    ap.add_argument("--received", action="append", default=[])
    ap.add_argument("--charset", default="utf-8")
    ap.add_argument("--subject-encoding", default="B")
    ap.add_argument("--name-encoding", default="B")
    ap.add_argument("--body", default="Hello,\n\nthis is a test.\n")
    ap.add_argument("--body-size", type=int, default=0,
                    help="pad the body with text lines to at least N bytes")
    ap.add_argument("--html", action="store_true", help="send the body as text/html only")
    ap.add_argument("--attach", action="append", default=[])
    ap.add_argument("--header", action="append", default=[])
    a = ap.parse_args()

    cs = a.charset
    msgid = a.message_id or email.utils.make_msgid(domain="customer.example")
    if not msgid.startswith("<"):
        msgid = "<%s>" % msgid
    date = a.date or email.utils.formatdate(localtime=False)
    to = a.to or ["Example Support <support@example.com>"]

    h = []
    for r in a.received:
        h.append(b"Received: " + r.encode("ascii"))
    h.append(b"From: " + address(a.from_, cs, a.name_encoding))
    h.append(b"To: " + b", ".join(address(t, cs, a.name_encoding) for t in to))
    if a.cc:
        h.append(b"Cc: " + b", ".join(address(c, cs, a.name_encoding) for c in a.cc))
    h.append(b"Subject: " + header_text(a.subject, cs, a.subject_encoding))
    h.append(b"Date: " + date.encode("ascii"))
    h.append(b"Message-ID: " + msgid.encode("ascii"))
    if a.in_reply_to:
        h.append(b"In-Reply-To: " + a.in_reply_to.encode("ascii"))
    if a.references:
        h.append(b"References: " + a.references.encode("ascii"))
    for extra in a.header:
        h.append(extra.encode("utf-8"))
    h.append(b"MIME-Version: 1.0")
    h = [fold(x) for x in h]

    body = a.body.replace("\\n", "\n")
    if a.body_size:
        i = 0
        while len(body.encode(cs)) < a.body_size:
            i += 1
            body += "Line %d of padding to make this message larger than the limit.\n" % i
    subtype = "html" if a.html else "plain"
    text = body.encode(cs).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    cte = b"7bit"
    try:
        body.encode("ascii")
    except UnicodeEncodeError:
        cte = b"8bit"
    text_part_headers = [
        b"Content-Type: text/%s; charset=%s" % (subtype.encode(), cs.encode()),
        b"Content-Transfer-Encoding: " + cte,
    ]

    if not a.attach:
        out = h + text_part_headers + [b"", text]
    else:
        boundary = b"=_postdesk_test_" + os.urandom(6).hex().encode()
        out = h + [b'Content-Type: multipart/mixed; boundary="' + boundary + b'"', b"",
                   b"This is a multi-part message in MIME format.", b"--" + boundary]
        out += text_part_headers + [b"", text]
        for spec in a.attach:
            path, _, ctype = spec.partition(":")
            ctype = ctype or "application/octet-stream"
            with open(path, "rb") as f:
                data = f.read()
            name = os.path.basename(path).encode()
            out += [b"--" + boundary,
                    b'Content-Type: ' + ctype.encode() + b'; name="' + name + b'"',
                    b"Content-Transfer-Encoding: base64",
                    b'Content-Disposition: attachment; filename="' + name + b'"', b""]
            b64 = base64.encodebytes(data).replace(b"\n", b"\r\n").rstrip(b"\r\n")
            out.append(b64)
        out.append(b"--" + boundary + b"--")
    sys.stdout.buffer.write(b"\r\n".join(out) + b"\r\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
