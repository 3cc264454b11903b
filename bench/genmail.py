#!/usr/bin/env python3
"""Generate realistic support mail for benchmarks and load tests.

Writes N messages straight into a Maildir's new/ folder (the fastest way to
fill a mailbox; Dovecot indexes them on the next SELECT) or, with --eml-dir,
as numbered .eml files.  Bodies are 2-6 KB of English or Russian text, 10 %
carry an attachment, 30 % are replies that thread to an earlier message
(In-Reply-To/References), Russian mail is encoded in koi8-r, windows-1251
(8bit) or UTF-8 (quoted-printable) as real clients do, with RFC 2047 names
and subjects.  The MIME text is assembled directly (no email package), so
100,000 mails take well under a minute per core; --jobs J splits the work
over J processes.
"""
import argparse
import base64
import binascii
import datetime
import os
import random
import time
import urllib.parse
from email.utils import format_datetime

EN_WORDS = ("the printer on the third floor does not print anymore after the update "
            "our invoice shows a wrong amount please check the order number and tell us "
            "when the service will be available again we cannot log in to the portal since "
            "this morning the error message says access denied urgent outage production "
            "server is down customers complain about slow pages").split()
RU_WORDS = ("принтер на третьем этаже не печатает после обновления в счёте указана "
            "неверная сумма проверьте пожалуйста номер заказа и сообщите когда сервис снова "
            "будет доступен мы не можем войти в личный кабинет с утра ошибка доступ запрещён "
            "срочно авария сервер не работает клиенты жалуются на медленную работу").split()
EN_NAMES = ["Alice Johnson", "Bob Miller", "Carol White", "David Brown", "Emma Davis"]
RU_NAMES = ["Иван Петров", "Мария Сидорова", "Ольга Кузнецова", "Дмитрий Смирнов",
            "Анна Волкова"]


def sentence(rng, words, n):
    return " ".join(rng.choices(words, k=n)).capitalize() + "."


def body(rng, words, size):
    """About size bytes of text in lines of at most ~72 characters."""
    lines, line, total = [], "", 0
    while total < size:
        s = sentence(rng, words, rng.randint(8, 20))
        total += len(s.encode()) + 1
        if line and len(line) + len(s) > 72:
            lines.append(line)
            line = s
        else:
            line = (line + " " + s).strip()
    lines.append(line)
    return "\n".join(lines) + "\n"


def encode_header(text):
    """RFC 2047 (UTF-8, base64) when needed, folded into short encoded words."""
    if text.isascii():
        return text
    words = []
    for i in range(0, len(text), 20):
        chunk = base64.b64encode(text[i:i + 20].encode()).decode()
        words.append("=?utf-8?b?%s?=" % chunk)
    return "\n ".join(words)


def address(name, addr):
    if name.isascii():
        return '%s <%s>' % (name, addr)
    return "%s <%s>" % (encode_header(name), addr)


def make(rng, i, earlier, domain, tag, date):
    ru = rng.random() < 0.4
    name = rng.choice(RU_NAMES if ru else EN_NAMES)
    user = "customer%d" % rng.randint(1, 2000)
    reply = earlier and rng.random() < 0.3
    irt = None
    if reply:
        parent_id, parent_subject, parent_from, ru = rng.choice(earlier)
        subject = ("Ответ: " if ru else "Re: ") + parent_subject
        name, user = parent_from
        irt = parent_id
    words = RU_WORDS if ru else EN_WORDS
    if not reply:
        subject = sentence(rng, words, rng.randint(3, 7)).rstrip(".")
    domain_no = int(user[len("customer"):]) % 97
    mid = "<%d.%s@mail.example.org>" % (i, tag)
    head = ["From: " + address(name, "%s@customer%d.example.org" % (user, domain_no)),
            "To: Example Support <support@%s>" % domain,
            "Subject: " + encode_header(subject),
            "Date: " + date,
            "Message-ID: " + mid]
    if irt:
        head.append("In-Reply-To: " + irt)
        head.append("References: " + irt)
    head.append("MIME-Version: 1.0")

    text = body(rng, words, rng.randint(2000, 6000))
    charset = rng.choice(["koi8-r", "windows-1251", "utf-8"]) if ru else "utf-8"
    if charset == "utf-8":
        payload = binascii.b2a_qp(text.encode("utf-8"))
        cte = "quoted-printable"
    else:
        payload = text.encode(charset)
        cte = "8bit"
    text_part = ('Content-Type: text/plain; charset="%s"\nContent-Transfer-Encoding: %s\n\n'
                 % (charset, cte)).encode() + payload

    if rng.random() < 0.1:
        data = rng.randbytes(rng.randint(2000, 20000))
        fname = ("счёт-%d.pdf" if ru else "invoice-%d.pdf") % i
        if fname.isascii():
            disp = 'attachment; filename="%s"' % fname
        else:
            disp = "attachment; filename*=utf-8''%s" % urllib.parse.quote(fname)
        boundary = "=_bench_%d_%s" % (i, tag)
        head.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
        b = boundary.encode()
        out = ("\n".join(head) + "\n\n").encode() + b"--" + b + b"\n" + text_part + \
            b"\n--" + b + b"\nContent-Type: application/pdf\n" + \
            b"Content-Transfer-Encoding: base64\nContent-Disposition: " + disp.encode() + \
            b"\n\n" + base64.encodebytes(data) + b"--" + b + b"--\n"
    else:
        out = ("\n".join(head) + "\n").encode() + text_part

    if not reply:
        earlier.append((mid, subject, (name, user), ru))
        if len(earlier) > 500:
            earlier.pop(0)
    return out


def generate(a, job, first, last, uid, gid):
    """Mails first..last-1 of the run; job j > 0 has its own random stream
    (and threads among its own mails)."""
    rng = random.Random(a.seed + 7919 * job)
    earlier = []
    out = os.path.join(a.maildir, "new") if a.maildir else a.eml_dir
    now = int(time.time())
    tag = "bench%d.%d.%d" % (a.seed, now, os.getpid() if a.jobs == 1 else os.getppid())
    date = format_datetime(datetime.datetime.now(datetime.timezone.utc))
    for i in range(first, last):
        data = make(rng, i, earlier, a.domain, tag, date)
        if a.maildir:
            name = "%d.M%dP%d.bench,S=%d" % (now, i, os.getpid(), len(data))
        else:
            name = "%06d.eml" % i
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(data)
        if uid is not None:
            os.chown(path, uid, gid)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("count", type=int)
    ap.add_argument("--maildir", help="Maildir root (new/ is filled)")
    ap.add_argument("--eml-dir", help="write NNNNNN.eml files here instead")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--domain", default="example.com")
    ap.add_argument("--owner", help="uid:gid to chown the files to")
    ap.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    a = ap.parse_args()
    if not a.maildir and not a.eml_dir:
        ap.error("--maildir or --eml-dir is needed")
    out = os.path.join(a.maildir, "new") if a.maildir else a.eml_dir
    os.makedirs(out, exist_ok=True)
    uid = gid = None
    if a.owner:
        uid, gid = (int(x) for x in a.owner.split(":"))
    if a.jobs <= 1:
        generate(a, 0, 0, a.count, uid, gid)
        return
    step = (a.count + a.jobs - 1) // a.jobs
    pids = []
    for j in range(a.jobs):
        pid = os.fork()
        if pid == 0:
            rc = 1
            try:
                generate(a, j, j * step, min(a.count, (j + 1) * step), uid, gid)
                rc = 0
            finally:
                os._exit(rc)
        pids.append(pid)
    bad = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        bad += status != 0
    if bad:
        raise SystemExit("genmail: %d job(s) failed" % bad)


if __name__ == "__main__":
    main()
