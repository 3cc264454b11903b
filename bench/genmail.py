#!/usr/bin/env python3
"""Generate realistic support mail for benchmarks and load tests.

Writes N messages straight into a Maildir's new/ folder (the fastest way to
fill a mailbox; Dovecot indexes them on the next SELECT) or, with --eml-dir,
as numbered .eml files.  Bodies are 2-6 KB of English or Russian text, 10 %
carry an attachment, 30 % are replies that thread to an earlier message
(In-Reply-To/References), Russian mail is encoded in koi8-r, windows-1251 or
UTF-8 as real clients do.
"""
import argparse
import os
import random
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
import datetime

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
    return " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."


def body(rng, words, size):
    parts, total = [], 0
    while total < size:
        s = sentence(rng, words, rng.randint(8, 20))
        parts.append(s)
        total += len(s.encode()) + 1
    lines, line = [], ""
    for s in parts:
        if len(line) + len(s) > 72:
            lines.append(line)
            line = s
        else:
            line = (line + " " + s).strip()
    lines.append(line)
    return "\n".join(lines) + "\n"


def make(rng, i, earlier, domain):
    ru = rng.random() < 0.4
    name = rng.choice(RU_NAMES if ru else EN_NAMES)
    user = "customer%d" % rng.randint(1, 2000)
    msg = EmailMessage()
    reply = earlier and rng.random() < 0.3
    if reply:
        parent_id, parent_subject, parent_from, ru = rng.choice(earlier)
        subject = ("Ответ: " if ru else "Re: ") + parent_subject
        name, user = parent_from
        msg["In-Reply-To"] = parent_id
        msg["References"] = parent_id
    words = RU_WORDS if ru else EN_WORDS
    if not reply:
        subject = sentence(rng, words, rng.randint(3, 7)).rstrip(".")
    domain_no = int(user[len("customer"):]) % 97
    msg["From"] = Address(name, user, "customer%d.example.org" % domain_no)
    msg["To"] = Address("Example Support", "support", domain)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.datetime.now(datetime.timezone.utc))
    mid = make_msgid(idstring="bench%d" % i, domain="mail.example.org")
    msg["Message-ID"] = mid
    text = body(rng, words, rng.randint(2000, 6000))
    charset = "utf-8"
    if ru:
        charset = rng.choice(["koi8-r", "windows-1251", "utf-8"])
    msg.set_content(text, charset=charset,
                    cte="8bit" if charset != "utf-8" else "quoted-printable")
    if rng.random() < 0.1:
        data = bytes(rng.getrandbits(8) for _ in range(rng.randint(2000, 20000)))
        msg.add_attachment(data, maintype="application", subtype="pdf",
                           filename=("счёт-%d.pdf" if ru else "invoice-%d.pdf") % i)
    if not reply:
        earlier.append((mid, subject, (name, user), ru))
        if len(earlier) > 500:
            earlier.pop(0)
    return bytes(msg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("count", type=int)
    ap.add_argument("--maildir", help="Maildir root (new/ is filled)")
    ap.add_argument("--eml-dir", help="write NNNNNN.eml files here instead")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--domain", default="example.com")
    ap.add_argument("--owner", help="uid:gid to chown the files to")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    earlier = []
    out = os.path.join(a.maildir, "new") if a.maildir else a.eml_dir
    os.makedirs(out, exist_ok=True)
    now = int(time.time())
    uid = gid = None
    if a.owner:
        uid, gid = (int(x) for x in a.owner.split(":"))
    for i in range(a.count):
        data = make(rng, i, earlier, a.domain)
        if a.maildir:
            name = "%d.M%dP%d.bench,S=%d" % (now, i, os.getpid(), len(data))
        else:
            name = "%06d.eml" % i
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(data)
        if uid is not None:
            os.chown(path, uid, gid)


if __name__ == "__main__":
    main()
