#!/usr/bin/python3
"""mailcheck.py - read mail the way a mail client does, for agents.sh.

An independent MIME reader (Python's email package, email.policy.default) so
that the integration suite checks postdesk's outbound mail with code that
shares nothing with postdesk's own parser.

    mailcheck.py parts FILE            every leaf part: TYPE<TAB>FILENAME<TAB>SIZE<TAB>SHA256<TAB>DISPOSITION
    mailcheck.py sha FILE NAME         sha256 of the decoded bytes of the part named NAME ("" if none)
    mailcheck.py same FILE NAME ORIG   the part named NAME holds ORIG's text (line ends aside)
    mailcheck.py cid FILE NAME         the Content-ID (without <>) of the part named NAME
    mailcheck.py extract FILE NAME OUT write the decoded bytes of the part named NAME to OUT
    mailcheck.py text FILE             the text/plain body (decoded), "" if none
    mailcheck.py html FILE             the text of the text/html body ("" if none)
    mailcheck.py htmlsrc FILE          the text/html body as HTML, decoded
    mailcheck.py header FILE NAME      the unfolded, decoded value of the first NAME header
    mailcheck.py addrs FILE NAME       the addresses of header NAME, lower case, one a line
    mailcheck.py answer FILE           what a customer reads as the agent's text: the text/plain
                                       body above the signature line ("-- "), non-empty lines,
                                       stripped, one a line
    mailcheck.py leaks [--forbid S]... [--known MAIL]... NOTICE FILE...
                                       every line of NOTICE's text (plain and HTML), every
                                       marker, "Ticket #N:" line and command line, and every
                                       line holding a string S, that appears in a FILE (its
                                       subject, text/plain or text/html); prints "FILE: LINE"
                                       for each and exits 1 when there is any; the lines of
                                       a MAIL the customer wrote do not count
    mailcheck.py lines NOTICE          how many distinct notice lines `leaks` looks for
    mailcheck.py fill TEMPLATE NOTICE  a draft from TEMPLATE (see tests/data/agents/README)
    mailcheck.py mbox OUT FILE...      an mbox file of the given mails (for mutt -f)
"""
import email
import email.policy
import email.utils
import hashlib
import html.parser
import mailbox
import os
import quopri
import re
import sys
import time

MARKERS = ("======== postdesk notice", "======== end of postdesk notice")
TICKET_LINE = re.compile(r"Ticket #\d+:")
COMMAND_LINE = re.compile(r"^#(note|close|resolve|pending|priority|assign|line|type)\b.*\s{2,}\S")


def load(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(f, policy=email.policy.default)


def leaves(msg):
    """The parts that hold data, in order; a mail carried as message/rfc822 is one of them."""
    if msg.get_content_type() == "message/rfc822" or not msg.is_multipart():
        yield msg
        return
    for part in msg.get_payload():
        yield from leaves(part)


def decoded(part):
    if part.get_content_type() == "message/rfc822":
        # a mail carried as a mail: its text as written (compat32 keeps headers as they came)
        inner = part.get_payload(0)
        return inner.as_bytes(policy=email.policy.compat32.clone(linesep="\n"))
    payload = part.get_payload(decode=True)
    return payload if payload is not None else b""


def cmd_same(args):
    """same FILE NAME ORIGINAL: the part named NAME holds ORIGINAL's text, line ends and
    trailing blank lines aside (for a forwarded mail, which may travel as message/rfc822)."""
    part = named(load(args[0]), args[1])
    with open(args[2], "rb") as f:
        want = f.read().replace(b"\r\n", b"\n").rstrip(b"\n")
    got = decoded(part).replace(b"\r\n", b"\n").rstrip(b"\n") if part is not None else None
    if got != want:
        sys.stdout.write("part %s: %s\n" % (args[1], "missing" if got is None else
                                              "%d bytes, want %d" % (len(got), len(want))))
        sys.exit(1)


def plain(msg):
    body = msg.get_body(("plain",))
    if body is None:
        return ""
    try:
        text = body.get_content()
    except (LookupError, UnicodeError):
        text = decoded(body).decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


class _Text(html.parser.HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "pre", "hr", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head", "title") and self.skip:
            self.skip -= 1
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_text(msg):
    body = msg.get_body(("html",))
    if body is None:
        return ""
    try:
        src = body.get_content()
    except (LookupError, UnicodeError):
        src = decoded(body).decode("utf-8", "replace")
    p = _Text()
    p.feed(src)
    p.close()
    return "".join(p.out).replace("\xa0", " ")


def unquote(line):
    """A line without its quote prefix ("> ", ">>", "> > ") and outer space."""
    return re.sub(r"^(\s*>)+", "", line).strip()


def cmd_parts(args):
    for part in leaves(load(args[0])):
        data = decoded(part)
        print("\t".join([part.get_content_type(), part.get_filename() or "", str(len(data)),
                         hashlib.sha256(data).hexdigest(), part.get_content_disposition() or ""]))


def named(msg, name):
    for part in leaves(msg):
        if part.get_filename() == name:
            return part
    return None


def cmd_sha(args):
    part = named(load(args[0]), args[1])
    print(hashlib.sha256(decoded(part)).hexdigest() if part is not None else "")


def cmd_cid(args):
    part = named(load(args[0]), args[1])
    cid = part["Content-ID"] if part is not None else None
    print(str(cid).strip().strip("<>") if cid else "")


def cmd_extract(args):
    part = named(load(args[0]), args[1])
    if part is None:
        sys.exit(1)
    with open(args[2], "wb") as f:
        f.write(decoded(part))


def cmd_text(args):
    sys.stdout.write(plain(load(args[0])))


def cmd_html(args):
    sys.stdout.write(html_text(load(args[0])))


def cmd_htmlsrc(args):
    body = load(args[0]).get_body(("html",))
    if body is not None:
        sys.stdout.write(body.get_content())


def cmd_header(args):
    v = load(args[0])[args[1]]
    print("" if v is None else " ".join(str(v).split()))


def cmd_addrs(args):
    for _, addr in email.utils.getaddresses(load(args[0]).get_all(args[1], [])):
        if addr:
            print(addr.lower())


def answer_lines(text):
    out = []
    for line in text.splitlines():
        if line.rstrip() == "--":  # the signature ("-- "; agents.sh checks its exact form apart)
            break
        if line.strip():
            out.append(line.strip())
    return out


def cmd_answer(args):
    for line in answer_lines(plain(load(args[0]))):
        print(line)


def notice_lines(path):
    msg = load(path)
    lines = set()
    for text in (plain(msg), html_text(msg)):
        for line in text.splitlines():
            if line.strip():
                lines.add(line.strip())
    return lines


def cmd_lines(args):
    print(len(notice_lines(args[0])))


def cmd_leaks(args):
    forbid = []
    known = set()
    while len(args) >= 2 and args[0] in ("--forbid", "--known"):
        if args[0] == "--forbid":
            forbid.append(args[1])
        else:  # a mail the customer wrote: its lines are no secret to the customer
            known |= {l.strip() for l in plain(load(args[1])).splitlines() if l.strip()}
        args = args[2:]
    lines = notice_lines(args[0]) - known
    found = 0
    for path in args[1:]:
        msg = load(path)
        texts = [str(msg["Subject"] or ""), plain(msg), html_text(msg)]
        for text in texts:
            for line in text.splitlines():
                s = unquote(line)
                if not s:
                    continue
                if (s in lines or line.strip() in lines or s.startswith(MARKERS)
                        or TICKET_LINE.search(s) or COMMAND_LINE.search(s)
                        or any(f in s for f in forbid)):
                    print("%s: %s" % (path, line.strip()))
                    found += 1
    sys.exit(1 if found else 0)


def html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def flowed_quote(line, width=72):
    """A line quoted as Thunderbird sends it with format=flowed (RFC 3676): "> ",
    and a line longer than width broken at spaces, each piece but the last
    ending in a space (a soft break)."""
    if not line:
        return ">"
    pieces = []
    while len(line) > width - 2 and " " in line[:width - 2]:
        cut = line.rfind(" ", 0, width - 2)
        pieces.append(line[:cut + 1])
        line = line[cut + 1:]
    pieces.append(line)
    return "\n".join("> " + p for p in pieces)


def cmd_fill(args):
    """Placeholders in TEMPLATE:
    @@TOKEN@@ the notice's Reply-To address, @@NOTICE_MID@@ its Message-ID,
    @@SUBJECT@@ its subject, @@NOTICE_DATE@@ its Date, @@DATE@@ now, @@MID@@ a fresh id,
    @@QUOTED@@ its text with "> " before every line (">" for empty lines),
    @@QUOTEDFLOWED@@ the same with long lines broken as format=flowed does,
    @@PLAIN@@ its text as it is, @@HTML@@ its text as HTML paragraphs (one a line,
    Outlook's <p class=MsoNormal>), @@GMAILHTML@@ the same as <div>s.
    @@QP:NAME@@ is NAME encoded as quoted-printable (for parts that declare it)."""
    notice = load(args[1])
    with open(args[0], "rb") as f:
        tpl = f.read().decode("utf-8")
    text = plain(notice).replace("\r\n", "\n").rstrip("\n")
    lines = text.split("\n")
    values = {
        "TOKEN": email.utils.parseaddr(str(notice["Reply-To"] or notice["From"]))[1],
        "NOTICE_MID": str(notice["Message-ID"]).strip(),
        "SUBJECT": " ".join(str(notice["Subject"]).split()),
        "NOTICE_DATE": str(notice["Date"]),
        "DATE": email.utils.formatdate(time.time(), localtime=False),
        "MID": "%x.%x" % (int(time.time() * 1000), os.getpid()),
        "QUOTED": "\n".join(("> " + l) if l else ">" for l in lines),
        "QUOTEDFLOWED": "\n".join(flowed_quote(l) for l in lines),
        "PLAIN": text,
        "HTML": "\n".join('<p class="MsoNormal">%s<o:p></o:p></p>' % (html_escape(l) or "&nbsp;")
                          for l in lines),
        "GMAILHTML": "\n".join("<div>%s</div>" % (html_escape(l) or "<br>") for l in lines),
    }

    def sub(m):
        name = m.group(2)
        v = values[name]
        if m.group(1):
            v = quopri.encodestring(v.replace("\n", "\r\n").encode("utf-8")).decode("ascii")
            v = v.replace("\r\n", "\n")
        return v

    out = re.sub(r"@@(QP:)?([A-Z_]+)@@", sub, tpl)
    sys.stdout.buffer.write(out.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))


def cmd_mbox(args):
    box = mailbox.mbox(args[0])
    box.lock()
    try:
        for path in args[1:]:
            with open(path, "rb") as f:
                box.add(f.read().replace(b"\r\n", b"\n"))
        box.flush()
    finally:
        box.unlock()
        box.close()


COMMANDS = {"parts": cmd_parts, "sha": cmd_sha, "same": cmd_same, "cid": cmd_cid, "extract": cmd_extract, "text": cmd_text,
            "html": cmd_html, "htmlsrc": cmd_htmlsrc, "header": cmd_header, "addrs": cmd_addrs, "answer": cmd_answer,
            "leaks": cmd_leaks, "lines": cmd_lines, "fill": cmd_fill, "mbox": cmd_mbox}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        sys.stderr.write(__doc__)
        sys.exit(64)
    COMMANDS[sys.argv[1]](sys.argv[2:])
