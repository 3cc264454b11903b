#!/usr/bin/python3
"""Write one mail built to hurt a mail parser (RFC 5322 bytes, CRLF) to stdout,
for tests/integration/hostile.sh.

    hostile_mail.py KIND [--id MESSAGE-ID] [--from ADDR] [--subject TEXT] [options]

Kinds:
  parts     multipart/mixed with --count leaf parts (default 10000): the first
            is the text body, every tenth one an attachment "part-NNNNN.bin",
            the others small inline text parts
  longhdr   one unfolded header line of --size bytes (default 1 MiB) in X-Long
  longsubj  an unfolded Subject of --size bytes (words of "w0123456789")
  deep      --depth nested multipart/mixed (default 100), a text body at the
            top, "deepest.txt" in the innermost one
  deeprfc   --depth nested message/rfc822 attachments
  badb64    a base64 text body and attachment with stray characters, a broken
            final quantum and URL-safe letters
  badqp     quoted-printable with "=ZZ", a lone "=" at the end, a 100 kB line
            and raw 8-bit bytes
  nul       NUL bytes in the Subject, the From display name, a header value,
            the 8bit text body and a binary attachment
  big       an attachment of --size random bytes (default 50 MiB), base64;
            --attach-out FILE also writes the attachment's bytes there
  crlf      encoded words that decode to CR/LF plus a header in the Subject,
            the From display name and an attachment name (RFC 2047 Q and B,
            RFC 2231), and a bare CR in a raw Subject continuation
  sql       SQL metacharacters in Subject, From name, Message-ID, body and an
            attachment file name
  sqltexts  not a mail: those texts as JSON (subject, name, message_id,
            body, filename), for the test to compare with what was stored

Everything random is seeded from --seed (default 1), so a failing run can be
repeated byte for byte.
"""
import argparse
import base64
import json
import random
import sys

CRLF = b"\r\n"

# The metacharacters of sql: quotes, backslashes, placeholders, comments,
# E'' strings, dollar quoting, a statement separator, a NUL-free bytea escape.
SQL_SUBJECT = "Robert'); DROP TABLE tickets;-- \\ $1 E'\\x27' $$x$$ \"q\" %s ?"
SQL_NAME = "O'Brien \\\"$1\\\"; DELETE FROM messages;--"
SQL_MSGID = "sql'1;--$2\\x@e'vil.example"
SQL_BODY = ("Hello');\nDROP TABLE messages; --\nSELECT pg_sleep(10); $1 $$body$$ "
            "E'\\\\' \\' \\\\ ''\nCOPY tickets TO '/tmp/x';\n")
SQL_FILENAME = "x'); DROP TABLE attachments;--\\$1.txt"
SQL_TEXTS = {"subject": SQL_SUBJECT, "name": SQL_NAME, "message_id": SQL_MSGID,
             "body": SQL_BODY, "filename": SQL_FILENAME}


def q_word(raw, charset="utf-8"):
    """One RFC 2047 Q encoded word of raw bytes (every byte but letters and
    digits escaped)."""
    out = []
    for b in raw:
        c = chr(b)
        if c.isascii() and c.isalnum():
            out.append(c)
        elif c == " ":
            out.append("_")
        else:
            out.append("=%02X" % b)
    return ("=?%s?Q?%s?=" % (charset, "".join(out))).encode("ascii")


def b_word(raw, charset="utf-8"):
    return ("=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode("ascii"))).encode("ascii")


def b64_lines(data):
    return base64.encodebytes(data).replace(b"\n", CRLF).rstrip(CRLF)


def top(a, extra=(), ctype=None):
    """The top header block (without the empty line)."""
    h = [b"From: " + a.from_.encode("utf-8"),
         b"To: Example Support <support@example.com>",
         b"Subject: " + a.subject.encode("utf-8"),
         b"Date: Mon, 01 Mar 2027 10:00:00 +0000",
         b"Message-ID: <" + a.id.encode("utf-8") + b">",
         b"MIME-Version: 1.0"]
    h += list(extra)
    if ctype is not None:
        h.append(b"Content-Type: " + ctype)
    return h


def mail(headers, body):
    return CRLF.join(headers) + CRLF + CRLF + body


def k_parts(a):
    bnd = b"=_parts_" + str(a.count).encode()
    out = [b"This is a multi-part message in MIME format."]
    for i in range(a.count):
        out.append(b"--" + bnd)
        if i == 0:
            out += [b"Content-Type: text/plain; charset=us-ascii", b"",
                    b"Body of a mail with %d parts." % a.count]
        elif i % 10 == 0:
            out += [b"Content-Type: application/octet-stream",
                    b"Content-Transfer-Encoding: base64",
                    b'Content-Disposition: attachment; filename="part-%05d.bin"' % i, b"",
                    b64_lines(b"attachment %d" % i)]
        else:
            out += [b"Content-Type: text/plain", b"", b"part %d" % i]
    out.append(b"--" + bnd + b"--")
    return mail(top(a, ctype=b'multipart/mixed; boundary="' + bnd + b'"'), CRLF.join(out) + CRLF)


def k_longhdr(a):
    rnd = random.Random(a.seed)
    value = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(a.size))
    return mail(top(a, extra=[b"X-Long: " + value.encode("ascii")],
                    ctype=b"text/plain; charset=us-ascii"),
                b"A mail with a header line of %d bytes." % a.size + CRLF)


def k_longsubj(a):
    words = []
    n = 0
    i = 0
    while n < a.size:
        w = "w%010d" % i
        words.append(w)
        n += len(w) + 1
        i += 1
    a.subject = " ".join(words)[:a.size]
    return mail(top(a, ctype=b"text/plain; charset=us-ascii"),
                b"A mail with a Subject of %d bytes." % a.size + CRLF)


def k_deep(a):
    inner = mail([b"Content-Type: text/plain",
                  b'Content-Disposition: attachment; filename="deepest.txt"'],
                 b"the innermost part" + CRLF)
    for lvl in range(a.depth - 1, 0, -1):
        bnd = b"=_lvl_%03d" % lvl
        inner = mail([b'Content-Type: multipart/mixed; boundary="' + bnd + b'"'],
                     b"--" + bnd + CRLF + inner + CRLF + b"--" + bnd + b"--" + CRLF)
    bnd = b"=_lvl_000"
    body = (b"--" + bnd + CRLF + b"Content-Type: text/plain; charset=us-ascii" + CRLF + CRLF +
            b"Top text of a mail nested %d deep." % a.depth + CRLF +
            b"--" + bnd + CRLF + inner + CRLF + b"--" + bnd + b"--" + CRLF)
    return mail(top(a, ctype=b'multipart/mixed; boundary="' + bnd + b'"'), body)


def k_deeprfc(a):
    inner = mail([b"From: inner@example.org", b"Subject: level %d" % a.depth,
                  b"Content-Type: text/plain"], b"innermost message" + CRLF)
    for lvl in range(a.depth - 1, 0, -1):
        bnd = b"=_rfc_%03d" % lvl
        inner = mail([b"From: inner@example.org", b"Subject: level %d" % lvl,
                      b'Content-Type: multipart/mixed; boundary="' + bnd + b'"'],
                     b"--" + bnd + CRLF + b"Content-Type: message/rfc822" + CRLF + CRLF +
                     inner + CRLF + b"--" + bnd + b"--" + CRLF)
    bnd = b"=_rfc_000"
    body = (b"--" + bnd + CRLF + b"Content-Type: text/plain" + CRLF + CRLF +
            b"Forwarded %d levels deep." % a.depth + CRLF +
            b"--" + bnd + CRLF + b"Content-Type: message/rfc822" + CRLF + CRLF + inner + CRLF +
            b"--" + bnd + b"--" + CRLF)
    return mail(top(a, ctype=b'multipart/mixed; boundary="' + bnd + b'"'), body)


def k_badb64(a):
    bnd = b"=_badb64"
    text = base64.b64encode(b"Damaged base64 body: the printer is on fire.\n")
    bad_text = text[:10] + b"!!@@##" + text[10:30] + CRLF + b"***" + text[30:] + b"Q"
    bad_att = b"AAAA-_-_" + base64.b64encode(bytes(range(256))) + b"=A=B==C"
    body = (b"--" + bnd + CRLF + b"Content-Type: text/plain; charset=utf-8" + CRLF +
            b"Content-Transfer-Encoding: base64" + CRLF + CRLF + bad_text + CRLF +
            b"--" + bnd + CRLF + b"Content-Type: application/pdf" + CRLF +
            b"Content-Transfer-Encoding: base64" + CRLF +
            b'Content-Disposition: attachment; filename="broken.pdf"' + CRLF + CRLF +
            bad_att + CRLF + b"--" + bnd + b"--" + CRLF)
    return mail(top(a, ctype=b'multipart/mixed; boundary="' + bnd + b'"'), body)


def k_badqp(a):
    long_line = b"x" * 100000
    body = (b"Damaged quoted-printable =ZZ and =4 and =\xff=" + CRLF +
            b"raw 8-bit: \xe9\xe8 \xd0\xbf\xd1\x80 and a soft break =" + CRLF +
            b"here. =3D=3d=0" + CRLF + long_line + b"=" + CRLF + b"end =")
    return mail(top(a, extra=[b"Content-Transfer-Encoding: quoted-printable"],
                    ctype=b"text/plain; charset=iso-8859-1"), body)


def k_nul(a):
    bnd = b"=_nul"
    h = top(a)
    h[0] = b'From: "Nul\x00Name" <' + a.from_.split("<")[-1].rstrip(">").encode() + b">"
    h[2] = b"Subject: " + a.subject.encode() + b" with a \x00 NUL"
    h += [b"X-Nul: before\x00after",
          b'Content-Type: multipart/mixed; boundary="' + bnd + b'"']
    body = (b"--" + bnd + CRLF + b"Content-Type: text/plain; charset=utf-8" + CRLF +
            b"Content-Transfer-Encoding: 8bit" + CRLF + CRLF +
            b"Text with a \x00 NUL byte and \x00\x00 two more." + CRLF +
            b"--" + bnd + CRLF + b"Content-Type: application/octet-stream" + CRLF +
            b"Content-Transfer-Encoding: binary" + CRLF +
            b'Content-Disposition: attachment; filename="nul.bin"' + CRLF + CRLF +
            b"\x00\x01\x02\x00binary\x00" + CRLF + b"--" + bnd + b"--" + CRLF)
    return mail(h, body)


def k_big(a):
    rnd = random.Random(a.seed)
    data = rnd.randbytes(a.size)
    if a.attach_out:
        with open(a.attach_out, "wb") as f:
            f.write(data)
    bnd = b"=_big"
    parts = [b"--" + bnd, b"Content-Type: text/plain; charset=us-ascii", b"",
             b"The log file of %d bytes is attached." % a.size,
             b"--" + bnd, b"Content-Type: application/octet-stream",
             b"Content-Transfer-Encoding: base64",
             b'Content-Disposition: attachment; filename="big.bin"', b""]
    sys.stdout.buffer.write(mail(top(a, ctype=b'multipart/mixed; boundary="' + bnd + b'"'),
                                 CRLF.join(parts) + CRLF))
    # base64 in slices, so the script itself stays small
    step = 57 * 20000
    for off in range(0, len(data), step):
        sys.stdout.buffer.write(b64_lines(data[off:off + step]) + CRLF)
    return CRLF + b"--" + bnd + b"--" + CRLF


def k_crlf(a):
    inj = b"\r\nBcc: victim@evil.example\r\nX-Injected: yes"
    bnd = b"=_crlf"
    h = [b"From: " + q_word(b"Eve" + inj.replace(b"victim", b"victim2")) +
         b" <" + a.from_.split("<")[-1].rstrip(">").encode() + b">",
         b"Reply-To: " + b_word(b"Mallory\r\nCc: victim3@evil.example") +
         b" <" + a.from_.split("<")[-1].rstrip(">").encode() + b">",
         b"To: Example Support <support@example.com>",
         b"Subject: " + q_word(a.subject.encode() + inj) + b" " +
         b_word(b"\rTo: victim4@evil.example\n"),
         b"Date: Mon, 01 Mar 2027 10:00:00 +0000",
         b"Message-ID: <" + a.id.encode() + b">",
         b"MIME-Version: 1.0",
         b'Content-Type: multipart/mixed; boundary="' + bnd + b'"']
    body = (b"--" + bnd + CRLF + b"Content-Type: text/plain" + CRLF + CRLF +
            b"Please help." + CRLF + b"--" + bnd + CRLF +
            b"Content-Type: text/plain; name*=utf-8''a%0D%0ABcc%3A%20victim5%40evil.example.txt" +
            CRLF + b"Content-Disposition: attachment; filename=" +
            q_word(b"b\r\nBcc: victim6@evil.example.txt") + CRLF + CRLF + b"x" + CRLF +
            b"--" + bnd + b"--" + CRLF)
    return mail(h, body)


def k_sql(a):
    bnd = b"=_sql"
    addr = a.from_.split("<")[-1].rstrip(">")
    h = [b"From: " + q_word(SQL_NAME.encode()) + b" <" + addr.encode() + b">",
         b"To: Example Support <support@example.com>",
         b"Subject: " + q_word(SQL_SUBJECT.encode()),
         b"Date: Mon, 01 Mar 2027 10:00:00 +0000",
         b"Message-ID: <" + SQL_MSGID.encode() + b">",
         b"MIME-Version: 1.0",
         b'Content-Type: multipart/mixed; boundary="' + bnd + b'"']
    fn = "".join("%%%02X" % b for b in SQL_FILENAME.encode())
    body = (b"--" + bnd + CRLF + b"Content-Type: text/plain; charset=utf-8" + CRLF +
            b"Content-Transfer-Encoding: base64" + CRLF + CRLF +
            b64_lines(SQL_BODY.encode()) + CRLF + b"--" + bnd + CRLF +
            b"Content-Type: text/plain" + CRLF +
            b"Content-Disposition: attachment; filename*=utf-8''" + fn.encode() + CRLF + CRLF +
            b"'; DROP TABLE blobs;--" + CRLF + b"--" + bnd + b"--" + CRLF)
    return mail(h, body)


KINDS = {"parts": k_parts, "longhdr": k_longhdr, "longsubj": k_longsubj, "deep": k_deep,
         "deeprfc": k_deeprfc, "badb64": k_badb64, "badqp": k_badqp, "nul": k_nul,
         "big": k_big, "crlf": k_crlf, "sql": k_sql}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=sorted(KINDS) + ["sqltexts"])
    ap.add_argument("--id", default="hostile@customer.example")
    ap.add_argument("--from", dest="from_", default="Hostile Sender <hostile@customer.example>")
    ap.add_argument("--subject", default="Hostile mail")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attach-out")
    a = ap.parse_args()
    if a.kind == "sqltexts":
        json.dump(SQL_TEXTS, sys.stdout, ensure_ascii=False)
        return 0
    if a.size == 0:
        a.size = 50 * 1024 * 1024 if a.kind == "big" else 1024 * 1024
    sys.stdout.buffer.write(KINDS[a.kind](a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
