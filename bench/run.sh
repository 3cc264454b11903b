#!/usr/bin/env bash
# bench/run.sh - how fast postdesk ingests on this machine.
#
#   bench/run.sh [--mails N] [--idle-mails M] [--rate R] [--outbox-mails K]
#
# Builds an optimised postdesk (no sanitizers) in build-bench/, starts a
# private PostgreSQL and Dovecot on 127.0.0.1 (tests/integration/lib.sh),
# fills the support mailbox with N generated mails (bench/genmail.py: 2-6 KB
# bodies, English and Russian, 10 % attachments, 30 % threaded replies) and
# measures:
#   - ingest: postdeskd --once over the whole mailbox (mails/s, peak RSS);
#   - the same with N/10 mails, to show that memory does not grow with the mailbox;
#   - outbox: acknowledgements and notices sent over one SMTP connection to a
#     sink on loopback that discards them (mails/s);
#   - IDLE latency: M mails delivered at R/s while the daemon runs, from
#     delivery to the ticket's transaction (p50/p99);
#   - SLA scan: one scan over S open tickets (default 100,000) of which D
#     (default 100) are due, notices composed into the outbox; and the same
#     scan again when nothing is due.
# Prints a table and writes bench/results.json.  Not part of make check.
set -euo pipefail

MAILS=10000
OUT_MAILS=2000
IDLE_MAILS=200
RATE=20
SLA_TICKETS=100000
SLA_DUE=100
while [ $# -gt 0 ]; do
	case $1 in
	--mails) MAILS=$2; shift 2 ;;
	--idle-mails) IDLE_MAILS=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--outbox-mails) OUT_MAILS=$2; shift 2 ;;
	--sla-tickets) SLA_TICKETS=$2; shift 2 ;;
	--sla-due) SLA_DUE=$2; shift 2 ;;
	*) echo "usage: $0 [--mails N] [--idle-mails M] [--rate R]" >&2; exit 64 ;;
	esac
done

top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
build=${PD_BENCH_BUILD:-$top_srcdir/build-bench}
if [ ! -x "$build/postdeskd" ] || [ -n "$(find "$top_srcdir/src" "$top_srcdir/include" -newer "$build/postdeskd" -print -quit)" ]; then
	echo "# building an optimised postdesk in $build"
	[ -x "$top_srcdir/configure" ] || (cd "$top_srcdir" && autoreconf -fi >/dev/null)
	mkdir -p "$build"
	(cd "$build" && { [ -f Makefile ] || CFLAGS="-O2 -g" "$top_srcdir/configure" -q; } &&
		make -j2 postdesk postdeskd >/dev/null)
fi
top_builddir=$build
export top_srcdir top_builddir

. "$top_srcdir/tests/integration/lib.sh"
pd_init
pd_start_postgres
pd_start_dovecot
PY=/usr/bin/python3
MAILDIR=$PD_MAIL_DIR/support/Maildir

# fill_mailbox N: an empty INBOX with N fresh mails, indexed by Dovecot.
fill_mailbox() {
	pd_doveadm expunge -u support mailbox INBOX all >/dev/null 2>&1 || true
	pd_doveadm expunge -u support mailbox Processed all >/dev/null 2>&1 || true
	mkdir -p "$MAILDIR/new" "$MAILDIR/cur" "$MAILDIR/tmp"
	"$PY" "$top_srcdir/bench/genmail.py" "$1" --maildir "$MAILDIR" --seed "$1" \
		--owner "$PD_MAIL_UID:$PD_MAIL_GID"
	chown -R "$PD_MAIL_UID:$PD_MAIL_GID" "$MAILDIR"
	pd_doveadm mailbox status -u support messages INBOX >/dev/null
}

# ingest_run DB N: fresh database, N mails, one --once run; prints "secs rss_kb stored".
ingest_run() {
	local db=$1 n=$2 conf=$T/$1.conf
	pd_createdb "$db"
	pd_write_config "$conf" db="$db" smtp=no
	"$top_builddir/postdesk" -c "$conf" migrate >/dev/null
	fill_mailbox "$n"
	local start end
	start=$(date +%s.%N)
	/usr/bin/time -f "%M" -o "$T/$db.rss" "$top_builddir/postdeskd" -c "$conf" --once \
		>"$T/$db.log" 2>&1
	end=$(date +%s.%N)
	local stored
	stored=$(pd_psql "$db" "SELECT count(*) FROM messages")
	echo "$(echo "$end - $start" | bc) $(tail -1 "$T/$db.rss") $stored"
}

echo "# ingest of $MAILS mails"
read -r secs rss stored < <(ingest_run bench_big "$MAILS")
small=$((MAILS / 10))
echo "# ingest of $small mails"
read -r ssecs srss sstored < <(ingest_run bench_small "$small")

# Outbox: OUT_MAILS new tickets queue an acknowledgement and a notice each;
# one --once run sends them over one SMTP connection to a sink that discards.
echo "# outbox: $OUT_MAILS new tickets"
pd_start_smtp_sink --discard
pd_createdb bench_out
pd_write_config "$T/out.conf" db=bench_out
"$top_builddir/postdesk" -c "$T/out.conf" migrate >/dev/null
fill_mailbox "$OUT_MAILS"
"$top_builddir/postdeskd" -c "$T/out.conf" --once >"$T/out.log" 2>&1 || true
osent=$(pd_psql bench_out "SELECT count(*) FROM outbox WHERE status = 'sent'")
osecs=$("$PY" - "$T/out.log" <<'PYEOF'
import datetime, re, sys
t0 = t1 = None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})", line)
    if not m:
        continue
    ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
    if ": done: " in line:
        t0 = ts
    elif "outbox: " in line and " sent, " in line:
        t1 = ts
print("%.3f" % ((t1 - t0).total_seconds() if t0 and t1 else 0))
PYEOF
)

# SLA scan: SLA_TICKETS open tickets with their clocks running, SLA_DUE of
# them past a due time; one postdeskd --once over an empty mailbox runs one scan
# (its log line gives the time), then a second scan finds nothing due.
echo "# SLA scan: $SLA_TICKETS open tickets, $SLA_DUE due"
pd_createdb bench_sla
pd_write_config "$T/sla.conf" db=bench_sla \
	'sla=sla "normal" { first_response = "8h"  resolution = "3d"  calendar = "office" }' \
	'sla=sla "critical" { first_response = "30m"  resolution = "4h"  calendar = "24x7" }' \
	'sla=calendar "office" { timezone = "Europe/Moscow"  hours = {"mon-fri 09:00-18:00"} }' \
	'sla=line 1 { notify = {"l1@example.com"} }' 'sla=line 2 { notify = {"l2@example.com"} }'
"$top_builddir/postdesk" -c "$T/sla.conf" migrate >/dev/null
pd_psql bench_sla "
	INSERT INTO tickets (subject, requester_address, status, priority, sla_calendar, sla_since,
	    first_response_target, resolution_target, first_response_due, first_response_warn,
	    resolution_due, resolution_warn, created_at)
	SELECT 'Bench ticket ' || i, 'c' || i || '@customer.example',
	    CASE WHEN i % 3 = 0 THEN 'open' ELSE 'new' END,
	    CASE WHEN i % 10 = 0 THEN 'critical' ELSE 'normal' END, '24x7',
	    now() - interval '1 minute', 28800, 259200,
	    CASE WHEN i <= $SLA_DUE THEN now() - interval '1 second'
	         ELSE now() + (i % 5000 + 1) * interval '1 minute' + interval '1 hour' END,
	    CASE WHEN i <= $SLA_DUE THEN now() - interval '2 minutes'
	         ELSE now() + (i % 5000 + 1) * interval '1 minute' END,
	    now() + interval '3 days', now() + interval '2 days', now() - interval '1 minute'
	FROM generate_series(1, $SLA_TICKETS) AS i;
	INSERT INTO messages (ticket_id, direction, kind, from_address, subject, body_text)
	SELECT id, 'in', 'customer', requester_address, subject, 'The service is down since the morning.'
	FROM tickets WHERE id <= $SLA_DUE;
	ANALYZE tickets; ANALYZE messages;" >/dev/null
pd_doveadm expunge -u support mailbox INBOX all >/dev/null 2>&1 || true
"$top_builddir/postdeskd" -c "$T/sla.conf" --once >"$T/sla1.log" 2>&1 || true
"$top_builddir/postdeskd" -c "$T/sla.conf" --once >"$T/sla2.log" 2>&1 || true
sla_ms=$(sed -n 's/.*sla scan: .* in \([0-9]*\) ms.*/\1/p' "$T/sla1.log" | head -n 1)
sla_idle_ms=$(sed -n 's/.*sla scan: .* in \([0-9]*\) ms.*/\1/p' "$T/sla2.log" | head -n 1)
sla_notices=$(pd_psql bench_sla "SELECT count(*) FROM sla_notices")
pd_psql bench_sla "EXPLAIN ANALYZE SELECT id FROM tickets WHERE next_sla_at <= now() ORDER BY next_sla_at LIMIT 200 FOR UPDATE SKIP LOCKED" >"$T/sla.plan" 2>&1 || true
sla_plan="$(grep -o 'Index Scan using [a-z_]*' "$T/sla.plan" | head -n 1), $(grep -o 'Execution Time: [0-9.]* ms' "$T/sla.plan")"
echo "# SLA scan: ${sla_ms:-?} ms with $SLA_DUE due ($sla_notices notices), ${sla_idle_ms:-?} ms with none due; plan: $sla_plan"

# IDLE latency: the daemon runs, mails are delivered one by one at RATE/s.
echo "# IDLE latency: $IDLE_MAILS mails at $RATE/s"
pd_createdb bench_idle
pd_write_config "$T/idle.conf" db=bench_idle smtp=no
"$top_builddir/postdesk" -c "$T/idle.conf" migrate >/dev/null
pd_doveadm expunge -u support mailbox INBOX all >/dev/null 2>&1 || true
mkdir -p "$T/idle"
"$PY" "$top_srcdir/bench/genmail.py" "$IDLE_MAILS" --eml-dir "$T/idle" --seed 7
pd_daemon_start "$T/idle.conf" "$T/idle.log"
sleep 2
: >"$T/idle.sent"
interval=$(echo "scale=4; 1 / $RATE" | bc)
for f in "$T"/idle/*.eml; do
	mid=$(grep -m1 -i '^Message-ID:' "$f" | sed 's/^[^<]*<//; s/>.*//')
	printf '%s\t%s\n' "$mid" "$(date +%s.%N)" >>"$T/idle.sent"
	pd_deliver support "$f"
	sleep "$interval"
done
# wait until everything is stored (bounded)
for _ in $(seq 1 300); do
	n=$(pd_psql bench_idle "SELECT count(*) FROM messages")
	[ "$n" -ge "$IDLE_MAILS" ] && break
	sleep 0.1
done
kill -TERM "$PD_DAEMON_PID"
pd_wait_exit "$PD_DAEMON_PID" 20 || true
pd_psql bench_idle "SELECT message_id, extract(epoch FROM created_at) FROM messages" \
	| tr '|' '\t' >"$T/idle.stored"

"$PY" - "$T/idle.sent" "$T/idle.stored" "$MAILS" "$secs" "$rss" "$stored" "$small" "$ssecs" \
	"$srss" "$sstored" "$top_srcdir/bench/results.json" "$osent" "$osecs" \
	"$SLA_TICKETS" "$SLA_DUE" "${sla_ms:--1}" "${sla_idle_ms:--1}" "$sla_notices" <<'PYEOF'
import json, sys
sent_f, stored_f = sys.argv[1], sys.argv[2]
mails, secs, rss, stored = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
small, ssecs, srss, sstored = int(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
out = sys.argv[11]
osent, osecs = int(sys.argv[12]), float(sys.argv[13])
sla_tickets, sla_due, sla_ms, sla_idle_ms, sla_notices = (int(x) for x in sys.argv[14:19])
sent = dict(l.rstrip("\n").split("\t") for l in open(sent_f) if l.strip())
got = dict(l.rstrip("\n").split("\t") for l in open(stored_f) if l.strip())
lat = sorted((float(got[m]) - float(t)) * 1000 for m, t in sent.items() if m in got)
def pct(p):
    if not lat:
        return float("nan")
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
res = {
    "ingest": {"mails": mails, "stored": stored, "seconds": round(secs, 2),
               "mails_per_second": round(stored / secs, 1), "peak_rss_kb": rss},
    "ingest_small": {"mails": small, "stored": sstored, "seconds": round(ssecs, 2),
                     "mails_per_second": round(sstored / ssecs, 1), "peak_rss_kb": srss},
    "outbox": {"sent": osent, "seconds": round(osecs, 2),
               "mails_per_second": round(osent / osecs, 1) if osecs > 0 else None},
    "idle_latency_ms": {"mails": len(sent), "stored": len(lat), "p50": round(pct(50), 1),
                        "p99": round(pct(99), 1), "max": round(lat[-1], 1) if lat else None},
    "sla_scan": {"open_tickets": sla_tickets, "due": sla_due, "notices": sla_notices,
                 "ms": sla_ms, "ms_nothing_due": sla_idle_ms},
}
print()
print("%-34s %12s" % ("measure", "value"))
print("-" * 47)
print("%-34s %12.0f" % ("ingest mails/s (%d mails)" % mails, res["ingest"]["mails_per_second"]))
print("%-34s %12d" % ("peak RSS KB (%d mails)" % mails, rss))
print("%-34s %12.0f" % ("ingest mails/s (%d mails)" % small, res["ingest_small"]["mails_per_second"]))
print("%-34s %12d" % ("peak RSS KB (%d mails)" % small, srss))
print("%-34s %12.0f" % ("outbox mails/s (%d sent)" % osent, res["outbox"]["mails_per_second"] or 0))
print("%-34s %12.1f" % ("IDLE latency p50 ms", res["idle_latency_ms"]["p50"]))
print("%-34s %12.1f" % ("IDLE latency p99 ms", res["idle_latency_ms"]["p99"]))
print("%-34s %12d" % ("SLA scan ms (%d open, %d due)" % (sla_tickets, sla_due), sla_ms))
print("%-34s %12d" % ("SLA scan ms (nothing due)", sla_idle_ms))
print("%-34s %12s" % ("stored / delivered", "%d/%d %d/%d %d/%d" % (stored, mails, sstored, small, len(lat), len(sent))))
json.dump(res, open(out, "w"), indent=2)
print("\nwritten to", out)
PYEOF
