#!/usr/bin/env python3
"""mimecheck.py - build rich test mails and take mails apart with Python's
email package (a parser independent of postdesk's own).

  mimecheck.py build --from A --to B --subject S --message-id ID
               [--in-reply-to ID] [--text T] [--html H]
               [--inline PATH:TYPE:CID]... [--attach PATH:TYPE]...    > mail.eml
      Without --text the mail has no text/plain part (HTML only).  Inline
      images sit beside the HTML in multipart/related, attachments around
      everything in multipart/mixed.
  mimecheck.py parts FILE    one line per attachment or inline image:
                             NAME<TAB>TYPE<TAB>SHA256<TAB>CONTENT-ID<TAB>SIZE
  mimecheck.py text FILE     the decoded text/plain body
  mimecheck.py html FILE     the decoded text/html body ("" when none)
  mimecheck.py structure FILE  the content types, indented by depth
"""
import argparse
import email
import email.policy
import hashlib
import mimetypes
import os
import sys
from email.message import EmailMessage


def build(a):
    m = EmailMessage()
    m["From"] = a.from_
    m["To"] = a.to
    m["Subject"] = a.subject
    m["Message-ID"] = a.message_id
    if a.in_reply_to:
        m["In-Reply-To"] = a.in_reply_to
        m["References"] = a.in_reply_to
    if a.text is not None:
        m.set_content(a.text)
        if a.html is not None:
            m.add_alternative(a.html, subtype="html")
    elif a.html is not None:
        m.set_content(a.html, subtype="html")
    else:
        m.set_content("")
    if a.inline:
        html_part = m if a.text is None else m.get_payload()[1]
        for spec in a.inline:
            path, ctype, cid = spec.split(":", 2)
            main, sub = ctype.split("/")
            with open(path, "rb") as f:
                data = f.read()
            html_part.add_related(data, maintype=main, subtype=sub, cid="<%s>" % cid,
                                  filename=os.path.basename(path), disposition="inline")
    for spec in a.attach:
        path, _, ctype = spec.partition(":")
        ctype = ctype or mimetypes.guess_type(path)[0] or "application/octet-stream"
        main, sub = ctype.split("/")
        with open(path, "rb") as f:
            data = f.read()
        m.add_attachment(data, maintype=main, subtype=sub, filename=os.path.basename(path))
    sys.stdout.buffer.write(m.as_bytes(policy=email.policy.SMTP))


def load(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(f, policy=email.policy.default)


def files(m):
    for part in m.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        cid = part.get("Content-ID", "")
        if name is None and not cid and part.get_content_maintype() == "text":
            continue
        data = part.get_payload(decode=True) or b""
        yield name or "", part.get_content_type(), hashlib.sha256(data).hexdigest(), \
            str(cid).strip("<>"), len(data)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--from", dest="from_", required=True)
    b.add_argument("--to", default="Example Support <support@example.com>")
    b.add_argument("--subject", default="")
    b.add_argument("--message-id", required=True)
    b.add_argument("--in-reply-to")
    b.add_argument("--text")
    b.add_argument("--html")
    b.add_argument("--inline", action="append", default=[])
    b.add_argument("--attach", action="append", default=[])
    for c in ("parts", "text", "html", "structure"):
        sub.add_parser(c).add_argument("file")
    a = ap.parse_args()
    if a.cmd == "build":
        build(a)
    elif a.cmd == "parts":
        for f in files(load(a.file)):
            print("\t".join(str(x) for x in f))
    elif a.cmd == "text":
        p = load(a.file).get_body(("plain",))
        print(p.get_content() if p is not None else "")
    elif a.cmd == "html":
        p = load(a.file).get_body(("html",))
        print(p.get_content() if p is not None else "")
    elif a.cmd == "structure":
        def walk(p, d):
            print("  " * d + p.get_content_type())
            if p.is_multipart():
                for c in p.get_payload():
                    walk(c, d + 1)
        walk(load(a.file), 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
