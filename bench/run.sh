#!/usr/bin/env bash
# bench/run.sh - postdesk against the limits of its parts, on this machine.
#
#   bench/run.sh [--mails N] [--small N] [--big N] [--idle-mails M] [--rate R]
#                [--smtp-mails K] [--sla-tickets S] [--sla-due D] [--out FILE]
#                [--only PARTS]
#
# Builds an optimised postdesk (no sanitizers; $PD_BENCH_BUILD, default
# build-bench/) and the part-limit tools beside it (bench/*.c), starts a
# private PostgreSQL and Dovecot on 127.0.0.1 (tests/integration/lib.sh) and
# bench/smtpsink (a C SMTP sink that discards), and measures:
#   - the parts, on the same N mails (default 10,000; bench/genmail.py: 2-6 KB
#     bodies, English and Russian, 10 % attachments, 30 % threaded replies):
#       imapfetch  UID FETCH BODY.PEEK[] of the mailbox, batches of 100 UIDs;
#       pgload     the rows postdesk writes per mail, one prepared statement,
#                  all mails in one transaction, and one transaction per mail;
#                  and their set-based limits, 100 mails a transaction: INSERT
#                  ... SELECT FROM unnest(arrays) per table, and COPY per table;
#                  with the CPU time PostgreSQL spent on them per mail;
#       smtpsend   K ack-sized mails (default 5,000) over one libcurl session;
#   - ingest: postdeskd --once over the N mails, acknowledgements and notices
#     queued in the same transactions (mails/s from start to "done"), as a
#     fraction of the slowest ingest part (IMAP fetch, PostgreSQL); the CPU
#     time per mail of postdeskd, PostgreSQL and Dovecot's imap until "done",
#     and the rates that allows: PostgreSQL's work for one connection on one
#     core, and all three on all cores;
#   - outbox: the same run then delivers what it queued to the sink over one
#     SMTP session (acks/s);
#   - IDLE latency: M mails (default 500) delivered into the Maildir at R/s
#     (default 20) while the daemon runs, delivery -> ticket committed (the
#     daemon's log line for the mail, written after COMMIT): p50/p99/max;
#   - classify: the shipped classification rules over one 4 KB ru/en mail
#     (bench/classify, built from postdesk's objects), mails/s;
#   - smtpclient: postdesk's own SMTP client (smtp.c, bench/smtpclient) over
#     one session to bench/smtpsink, mails/s and CPU per mail;
#   - memory: peak RSS of postdeskd --once (no SMTP) over --small (1,000)
#     and --big (100,000; --big 0 skips it) mails;
#   - SLA scan: one scan over S open tickets (100,000) of which D (100) are
#     due, and a second one with nothing due;
#   - hostile mail: postdeskd --once over each of hostile.sh's mails alone
#     (10,000 parts, 1 MB header line, 1 MB Subject, 100-deep nesting, ...);
#   - takeover: two daemons on one database, the fetcher killed with SIGKILL:
#     the kill -> a new mail stored by the other one.
# Where the time goes: PD_BENCH_PERF=DIR records a system-wide perf profile of
# each postdeskd run into DIR/NAME.perf (perf report -i ... --sort comm,sym);
# PD_BENCH_STATEMENTS=1 preloads pg_stat_statements and prints the ingest
# run's statements by total execution time.
# PD_BENCH_BATCH=N runs the breakdown with batch_size = N (default: the
# daemon's default).
# PD_BENCH_KB=1 imports the shipped knowledge base (conf/kb) before the
# breakdown, as README sets a desk up: each new ticket's acknowledgement then
# asks for article suggestions.
# Prints one table (targets met or not) and writes FILE (default
# bench/results.json).  --only PARTS (comma-separated: imap, pgload, smtp,
# ingest, breakdown, sla, idle, memory, classify, smtpclient) runs just those
# measures (classify and smtpclient start no database or IMAP server) and prints
# their lines, without the table or FILE (a partial run has no targets to
# weigh); e.g. --only sla for the SLA scan figure alone.  Not part of make check.  The machine is shared:
# other processes' load shows up in the figures (the load average is
# recorded).
set -euo pipefail

MAILS=10000
SMALL=1000
BIG=100000
IDLE_MAILS=500
RATE=20
SMTP_MAILS=5000
SLA_TICKETS=100000
SLA_DUE=100
OUT=
ONLY=
usage() {
	echo "usage: $0 [--mails N] [--small N] [--big N (0: skip)] [--idle-mails M] [--rate R]" \
		"[--smtp-mails K] [--sla-tickets S] [--sla-due D] [--out FILE]" \
		"[--only imap,pgload,smtp,ingest,breakdown,sla,idle,memory,classify,smtpclient]" >&2
	exit 64
}
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case $1 in
	--mails) MAILS=$2 ;;
	--small) SMALL=$2 ;;
	--big) BIG=$2 ;;
	--idle-mails) IDLE_MAILS=$2 ;;
	--rate) RATE=$2 ;;
	--smtp-mails) SMTP_MAILS=$2 ;;
	--sla-tickets) SLA_TICKETS=$2 ;;
	--sla-due) SLA_DUE=$2 ;;
	--out) OUT=$2 ;;
	--only) ONLY=$2 ;;
	*) usage ;;
	esac
	shift 2
done

for part in ${ONLY//,/ }; do
	case $part in
	imap | pgload | smtp | ingest | breakdown | sla | idle | memory | classify | smtpclient) ;;
	*) usage ;;
	esac
done
# want PART: whether this run measures PART.
want() { [ -z "$ONLY" ] || case ",$ONLY," in *",$1,"*) true ;; *) false ;; esac; }

top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$OUT" ] || OUT=$top_srcdir/bench/results.json
build=${PD_BENCH_BUILD:-$top_srcdir/build-bench}
if [ ! -x "$build/postdeskd" ] || [ -n "$(find "$top_srcdir/src" "$top_srcdir/include" "$top_srcdir/sql" -newer "$build/postdeskd" -print -quit)" ]; then
	echo "# building an optimised postdesk in $build"
	[ -x "$top_srcdir/configure" ] || (cd "$top_srcdir" && autoreconf -fi >/dev/null)
	mkdir -p "$build"
	(cd "$build" && { [ -f Makefile ] || CFLAGS="-O2 -g" "$top_srcdir/configure" -q; } &&
		make -j2 postdesk postdeskd >/dev/null)
fi

# The part-limit tools, built with the libraries postdesk uses.
tools=$build/bench
mkdir -p "$tools"
build_tool() {
	local name=$1
	shift
	if [ ! -x "$tools/$name" ] || [ "$top_srcdir/bench/$name.c" -nt "$tools/$name" ]; then
		local flags=
		[ $# -eq 0 ] || flags=$(pkg-config --cflags --libs "$@")
		# shellcheck disable=SC2086
		${CC:-cc} -std=c11 -O2 -g -Wall -Wextra -Werror -o "$tools/$name" \
			"$top_srcdir/bench/$name.c" $flags
	fi
}
build_tool imapfetch libetpan
build_tool pgload libpq gnutls
build_tool smtpsend libcurl
build_tool smtpsink
# the single-part tools built from postdesk's own objects (Makefile.am EXTRA_PROGRAMS)
if want classify || want smtpclient; then
	make -C "$build" -j2 bench/classify bench/smtpclient >/dev/null
fi

top_builddir=$build
export top_srcdir top_builddir

# servers: every part but classify and smtpclient needs PostgreSQL and Dovecot
servers=0
for part in imap pgload smtp ingest breakdown sla idle memory; do
	want $part && servers=1
done

. "$top_srcdir/tests/integration/lib.sh"
pd_init
if [ $servers = 1 ]; then
	[ -z "${PD_BENCH_STATEMENTS:-}" ] ||
		PD_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements ${PD_PG_OPTIONS:-}"
	pd_start_postgres
	pd_start_dovecot
fi
PY=/usr/bin/python3
MAILDIR=${PD_MAIL_DIR:-$T/no-dovecot}/support/Maildir
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# The fast sink, discarding; postdesk's configs point at it (PD_SMTP_PORT).
pd_free_port PD_SMTP_PORT
mkdir -p "$T/csink"
"$tools/smtpsink" --port "$PD_SMTP_PORT" --dir "$T/csink" --discard 2>"$T/csink.log" &
PD_BG_PIDS="$PD_BG_PIDS $!"
pd_wait_port "$PD_SMTP_PORT" 10 || pd_die "bench/smtpsink did not start: $(cat "$T/csink.log")"
CSINK_PORT=$PD_SMTP_PORT
export PD_SMTP_PORT

# kv NAME LINE: the value of NAME=value in a tool's output line.
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# logtime LOG TEXT: epoch seconds of the first log line containing TEXT.
logtime() {
	"$PY" - "$1" "$2" <<-'EOF'
		import datetime, re, sys
		for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
		    if sys.argv[2] in line:
		        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})", line)
		        if m:
		            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
		            print("%.3f" % t.timestamp())
		            break
	EOF
}

# fill_mailbox N: an empty INBOX with N fresh mails, indexed by Dovecot.
fill_mailbox() {
	local jobs=1
	[ "$1" -ge 20000 ] && jobs=2
	pd_doveadm expunge -u support mailbox INBOX all >/dev/null 2>&1 || true
	pd_doveadm expunge -u support mailbox Processed all >/dev/null 2>&1 || true
	mkdir -p "$MAILDIR/new" "$MAILDIR/cur" "$MAILDIR/tmp"
	"$PY" "$top_srcdir/bench/genmail.py" "$1" --maildir "$MAILDIR" --seed "$1" --jobs $jobs \
		--owner "$PD_MAIL_UID:$PD_MAIL_GID"
	chown -R "$PD_MAIL_UID:$PD_MAIL_GID" "$MAILDIR"
	pd_doveadm mailbox status -u support messages INBOX >/dev/null
}

# fresh_db NAME [pd_write_config options]: a migrated database and $T/NAME.conf.
fresh_db() {
	local db=$1
	shift
	pd_createdb "$db"
	pd_write_config "$T/$db.conf" db="$db" "$@"
	"$top_builddir/postdesk" -c "$T/$db.conf" migrate >/dev/null
}

# cpu_ticks: CPU time (clock ticks, user + system) of PostgreSQL's and
# postdeskd's processes, summed by name: "postdeskd=N postgres=N".  A process
# that exits between two readings drops out (the ingest's own live until
# postdeskd ends).
cpu_ticks() {
	# (a process that ends between the glob and cat fails cat: not an error)
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | sed -n 's/^[0-9]* (\(postdeskd\|postgres\)) [A-Za-z] \(.*\)$/\1 \2/p' |
		awk '{ t[$1] += $12 + $13 } END { printf "postdeskd=%d postgres=%d", t["postdeskd"], t["postgres"] }'
}

# imap_ticks ARRAY: ARRAY[pid] = the CPU ticks of each Dovecot imap process
# there is now (a process that is gone keeps its last reading).
imap_ticks() {
	local -n into=$1 # the caller's array
	local ip st
	for ip in $(pgrep -x imap || true); do
		read -ra st <<<"$(sed 's/^.*) //' "/proc/$ip/stat" 2>/dev/null || true)"
		if [ "${#st[@]}" -gt 12 ]; then
			# shellcheck disable=SC2034 # into is a nameref
			into["$ip"]=$((st[11] + st[12]))
		fi
	done
}

# pgload_run ARGS: bench/pgload's line, with pg_other_cpu_ms= the CPU time
# PostgreSQL's other processes (WAL writer, checkpointer...) spent meanwhile;
# pgload gives its backend's own.
pgload_run() {
	local t0 t1 line
	t0=$(kv postgres "$(cpu_ticks)")
	line=$("$tools/pgload" "$@") || return 1
	t1=$(kv postgres "$(cpu_ticks)")
	echo "$line pg_other_cpu_ms=$(((t1 - t0) * 1000 / $(getconf CLK_TCK)))"
}

# once_run DB [cpu]: postdeskd --once on $T/DB.conf; sets RUN_START (epoch),
# RUN_SECS (ingest: start to "done"), RUN_RSS (KB), RUN_STORED; with cpu
# also RUN_CPU, the CPU time (ms) each of postdeskd, PostgreSQL and Dovecot's
# imap spent from the start to "done" (read when "done" shows in the log,
# within 10 ms; the outbox's sending starts after it).
once_run() {
	local db=$1 start done_at pid t0 t1
	start=$(date +%s.%N)
	RUN_START=$start
	local perf=()
	# PD_BENCH_PERF=DIR: record a system-wide profile of each run (perf)
	# into DIR/DB.perf, to see where the time goes (daemon and backend)
	if [ -n "${PD_BENCH_PERF:-}" ]; then
		mkdir -p "$PD_BENCH_PERF"
		perf=(perf record -q -a -g -o "$PD_BENCH_PERF/$db.perf" --)
	fi
	: >"$T/$db.log"
	local -A imap0=() imap1=()
	if [ "${2:-}" = cpu ]; then
		t0=$(cpu_ticks)
		imap_ticks imap0
	fi
	"${perf[@]}" /usr/bin/time -f "%M" -o "$T/$db.rss" "$top_builddir/postdeskd" -c "$T/$db.conf" --once \
		>"$T/$db.log" 2>&1 &
	pid=$!
	RUN_CPU=
	if [ "${2:-}" = cpu ]; then
		# Dovecot's imap process ends with its session, before "done": it
		# is read every 100 ms, and its last reading stands for it
		local k=0 ip imap=0 hz
		while kill -0 "$pid" 2>/dev/null && ! grep -q ": done: " "$T/$db.log"; do
			[ $((k++ % 10)) != 0 ] || imap_ticks imap1
			sleep 0.01
		done
		t1=$(cpu_ticks)
		imap_ticks imap1
		for ip in "${!imap1[@]}"; do
			imap=$((imap + imap1[$ip] - ${imap0[$ip]:-0}))
		done
		hz=$(getconf CLK_TCK)
		RUN_CPU="$(printf '%s\n%s\n' "$t0" "$t1" | tr ' ' '\n' | awk -F= -v hz="$hz" '
			NR <= 2 { a[$1] = $2; next } { printf "%s=%d ", $1, ($2 - a[$1]) * 1000 / hz }')imap=$((imap * 1000 / hz))"
	fi
	wait "$pid" || echo "# postdeskd --once exited $? (see $T/$db.log)"
	done_at=$(logtime "$T/$db.log" ": done: ")
	[ -n "$done_at" ] || pd_die "no 'done' line in $T/$db.log"
	RUN_SECS=$(echo "$done_at - $start" | bc)
	RUN_RSS=$(tail -n 1 "$T/$db.rss")
	RUN_STORED=$(pd_psql "$db" "SELECT count(*) FROM messages WHERE direction = 'in'")
}

# ------------------------------------------------------------------ parts + ingest

if want imap || want pgload || want ingest; then
	echo "# $MAILS mails into the mailbox"
	fill_mailbox "$MAILS"
	INBOX_COUNT=$(pd_mailbox_count support INBOX)
fi
if want imap; then
	echo "# imapfetch: UID FETCH BODY.PEEK[] of the $INBOX_COUNT mails"
	IMAP_LINE=$("$tools/imapfetch" --port "$PD_IMAP_PORT" --user support --password secret)
	echo "#   $IMAP_LINE"
fi
if want pgload; then
	echo "# pgload: the same mails' rows, one transaction"
	fresh_db bench_pg1 smtp=no
	PG1_LINE=$(pgload_run --conninfo "$(pd_conninfo bench_pg1)" --maildir "$MAILDIR")
	echo "#   $PG1_LINE"
	echo "# pgload: one transaction per mail"
	fresh_db bench_pg2 smtp=no
	PG2_LINE=$(pgload_run --conninfo "$(pd_conninfo bench_pg2)" --maildir "$MAILDIR" --each)
	echo "#   $PG2_LINE"
	echo "# pgload: set-based, INSERT ... SELECT FROM unnest per table, 100 mails a transaction"
	fresh_db bench_pg3 smtp=no
	PG3_LINE=$(pgload_run --conninfo "$(pd_conninfo bench_pg3)" --maildir "$MAILDIR" --set --batch 100)
	echo "#   $PG3_LINE"
	echo "# pgload: COPY per table, 100 mails a transaction"
	fresh_db bench_pg4 smtp=no
	PG4_LINE=$(pgload_run --conninfo "$(pd_conninfo bench_pg4)" --maildir "$MAILDIR" --copy --batch 100)
	echo "#   $PG4_LINE"
fi
if want smtp; then
	echo "# smtpsend: $SMTP_MAILS mails over one session to bench/smtpsink"
	SEND_LINE=$("$tools/smtpsend" --port "$PD_SMTP_PORT" --mails "$SMTP_MAILS")
	echo "#   $SEND_LINE"
	# The Python sink of the integration tests, for comparison (fewer mails).
	pd_start_smtp_sink --discard
	PYSEND_LINE=$("$tools/smtpsend" --port "$PD_SMTP_PORT" --mails $((SMTP_MAILS / 5)))
	echo "#   tests/integration/smtp_sink.py: $PYSEND_LINE"
	pd_stop_smtp_sink
	PD_SMTP_PORT=$CSINK_PORT
fi
if want classify; then
	echo "# classify: the shipped rules (conf/postdesk.conf) over one 4 KB ru/en mail"
	CLASSIFY_LINE=$("$build/bench/classify" --conf "$top_srcdir/conf/postdesk.conf")
	echo "#   $CLASSIFY_LINE"
fi
if want smtpclient; then
	echo "# smtpclient: postdesk's smtp.c, $SMTP_MAILS mails over one session to bench/smtpsink"
	SMTPCLIENT_LINE=$("$build/bench/smtpclient" --port "$CSINK_PORT" --mails "$SMTP_MAILS")
	echo "#   $SMTPCLIENT_LINE"
fi
if [ $servers = 0 ]; then
	# only the single-part tools: nothing below runs without the servers
	echo "# --only $ONLY: load $LOAD_START -> $(cut -d' ' -f1-3 /proc/loadavg); no table, $OUT not written"
	exit 0
fi
if want ingest; then
	echo "# ingest: postdeskd --once over the same $INBOX_COUNT mails, acks queued, then the outbox"
	fresh_db bench_ingest
	sink_before=$(cat "$T/csink/accepted" 2>/dev/null || echo 0)
	# PD_BENCH_STATEMENTS=1: the statements of the run by total time
	# (pg_stat_statements; the cluster is started with it preloaded)
	if [ -n "${PD_BENCH_STATEMENTS:-}" ]; then
		psql -X -At -U postgres -d bench_ingest -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
		psql -X -At -U postgres -d bench_ingest -c "SELECT pg_stat_statements_reset()" >/dev/null
	fi
	# what the parts before wrote is flushed now, so that the CPU time read
	# for PostgreSQL's processes is the ingest's own
	psql -X -At -U postgres -d bench_ingest -c "CHECKPOINT" >/dev/null
	once_run bench_ingest cpu
	if [ -n "${PD_BENCH_STATEMENTS:-}" ]; then
		psql -X -A -F " | " -U postgres -d bench_ingest -c "SELECT calls, round(total_exec_time)::int AS ms,
			round(total_exec_time * 1000 / greatest(calls, 1))::int AS us_per_call,
			left(regexp_replace(query, '\s+', ' ', 'g'), 90)
			FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 30" | sed 's/^/#   /'
	fi
	INGEST_SECS=$RUN_SECS INGEST_RSS=$RUN_RSS INGEST_STORED=$RUN_STORED INGEST_START=$RUN_START
	INGEST_CPU=$RUN_CPU
	done_at=$(logtime "$T/bench_ingest.log" ": done: ")
	OUTBOX_START=$done_at
	outbox_at=$(logtime "$T/bench_ingest.log" " to retry, ")
	OUTBOX_SECS=$(echo "${outbox_at:-$done_at} - $done_at" | bc)
	OUTBOX_SENT=$(pd_psql bench_ingest "SELECT count(*) FROM outbox WHERE status = 'sent'")
	OUTBOX_ACKS=$(pd_psql bench_ingest "SELECT count(*) FROM outbox WHERE status = 'sent' AND kind = 'ack'")
	OUTBOX_QUEUED=$(pd_psql bench_ingest "SELECT count(*) FROM outbox")
	sleep 0.3 # the sink writes its counts when idle
	OUTBOX_SINK=$(($(cat "$T/csink/accepted") - sink_before))
	echo "#   $INGEST_STORED stored in $(printf %.2f "$INGEST_SECS")s; outbox: $OUTBOX_SENT of $OUTBOX_QUEUED sent in $(printf %.2f "$OUTBOX_SECS")s (sink got $OUTBOX_SINK); peak RSS ${INGEST_RSS} KB"
	echo "#   CPU ms until done: $INGEST_CPU"
fi

# Where ingest's time goes: the daemon's per-batch debug line (fetch, parse,
# store incl. queueing the acks, mark) over a separate run of up to 2,000
# mails (debug logging costs a little, so not in the measured run).
if want breakdown; then
	BD_MAILS=$((MAILS < 2000 ? MAILS : 2000))
	echo "# ingest breakdown: $BD_MAILS mails, log_level debug"
	fresh_db bench_breakdown 'extra=log_level = "debug"' ${PD_BENCH_BATCH:+"extra=batch_size = $PD_BENCH_BATCH"}
	# PD_BENCH_KB=1: with the shipped knowledge base imported, as README
	# sets a desk up (each new ticket's acknowledgement suggests articles)
	[ -z "${PD_BENCH_KB:-}" ] ||
		"$top_builddir/postdesk" -c "$T/bench_breakdown.conf" kb import "$top_srcdir/conf/kb" >/dev/null
	fill_mailbox "$BD_MAILS"
	once_run bench_breakdown
	BREAKDOWN="$(awk '/ (fetch|mark|ahead_mark)_ms=/ { for (i = 1; i <= NF; i++) if (split($i, a, "=") == 2 && a[1] ~ /_ms$/) s[a[1]] += a[2] }
		END { printf "fetch_ms=%d parse_ms=%d store_ms=%d mark_ms=%d ahead_mark_ms=%d wait_ms=%d", s["fetch_ms"], s["parse_ms"], s["store_ms"], s["mark_ms"], s["ahead_mark_ms"], s["wait_ms"] }' \
		"$T/bench_breakdown.log") total_ms=$(printf %.0f "$(echo "$RUN_SECS * 1000" | bc)") mails=$RUN_STORED"
	echo "#   $BREAKDOWN"
	# the store's set-based part, per phase (storeset.c's debug line)
	# a later wave (wave=N) plans again what the earlier left to the
	# per-mail path: its mails are not per-mail after all
	BREAKDOWN_SET="$(awk '/ set: mails=/ { m = 0; later = 0
			for (i = 1; i <= NF; i++) if (split($i, a, "=") == 2 && a[2] ~ /^[0-9]+$/) {
				s[a[1]] += a[2]; if (a[1] == "mails") m = a[2]; if (a[1] == "wave") later = 1 }
			if (later) { waves++; s["per_mail"] -= m } }
		END { printf "set: new=%d follow_ups=%d duplicates=%d per_mail=%d later_waves=%d facts_ms=%d plan_ms=%d rows_ms=%d kb_ms=%d compose_ms=%d sync_ms=%d",
			s["new"], s["follow_ups"], s["duplicates"], s["per_mail"], waves, s["facts_ms"], s["plan_ms"], s["rows_ms"], s["kb_ms"], s["compose_ms"], s["sync_ms"] }' \
		"$T/bench_breakdown.log")"
	echo "#   $BREAKDOWN_SET"
fi

# ------------------------------------------------------------------ SLA scan

# SLA_TICKETS open tickets with their clocks running, SLA_DUE of them past a
# due time; one postdeskd --once over an empty mailbox runs one scan (its log
# line gives the time), then a second scan finds nothing due.
if want sla; then
	echo "# SLA scan: $SLA_TICKETS open tickets, $SLA_DUE due"
	fresh_db bench_sla \
		'sla=sla "normal" { first_response = "8h"  resolution = "3d"  calendar = "office" }' \
		'sla=sla "critical" { first_response = "30m"  resolution = "4h"  calendar = "24x7" }' \
		'sla=calendar "office" { timezone = "Europe/Moscow"  hours = {"mon-fri 09:00-18:00"} }' \
		'sla=line 1 { notify = {"l1@example.com"} }' 'sla=line 2 { notify = {"l2@example.com"} }'
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
	"$top_builddir/postdeskd" -c "$T/bench_sla.conf" --once >"$T/sla1.log" 2>&1 || true
	"$top_builddir/postdeskd" -c "$T/bench_sla.conf" --once >"$T/sla2.log" 2>&1 || true
	SLA_MS=$(sed -n 's/.*sla scan: .* in \([0-9]*\) ms.*/\1/p' "$T/sla1.log" | head -n 1)
	SLA_IDLE_MS=$(sed -n 's/.*sla scan: .* in \([0-9]*\) ms.*/\1/p' "$T/sla2.log" | head -n 1)
	SLA_NOTICES=$(pd_psql bench_sla "SELECT count(*) FROM sla_notices")
	pd_psql bench_sla "EXPLAIN ANALYZE SELECT id FROM tickets WHERE next_sla_at <= now() ORDER BY next_sla_at LIMIT 200 FOR UPDATE SKIP LOCKED" >"$T/sla.plan" 2>&1 || true
	SLA_PLAN="$(grep -o '[A-Za-z ]*Scan[A-Za-z_ ]* on [a-z_]*' "$T/sla.plan" | head -n 1 | sed 's/^ *//'), $(grep -o 'Execution Time: [0-9.]* ms' "$T/sla.plan")"
	echo "#   ${SLA_MS:-?} ms with $SLA_DUE due ($SLA_NOTICES notices), ${SLA_IDLE_MS:-?} ms with none due; plan: $SLA_PLAN"
fi

# ------------------------------------------------------------------ IDLE latency

# The daemon waits in IDLE; mails are delivered into the Maildir as a local
# delivery agent does (written to tmp/, renamed into new/), at RATE/s on a
# fixed schedule.  Latency: the rename -> the daemon's log line for the mail
# (written after the transaction committed).
if want idle; then
	echo "# IDLE latency: $IDLE_MAILS mails at $RATE/s"
	fresh_db bench_idle smtp=no
	pd_doveadm expunge -u support mailbox INBOX all >/dev/null 2>&1 || true
	mkdir -p "$T/idle"
	"$PY" "$top_srcdir/bench/genmail.py" "$IDLE_MAILS" --eml-dir "$T/idle" --seed 7
	pd_daemon_start "$T/bench_idle.conf" "$T/idle.log"
	sleep 2 # connected, in IDLE
	"$PY" - "$T/idle" "$MAILDIR" "$RATE" "$PD_MAIL_UID" "$PD_MAIL_GID" "$T/idle.sent" <<'PYEOF'
import os, re, sys, time
src, maildir, rate, uid, gid, sent = sys.argv[1], sys.argv[2], float(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
files = sorted(os.listdir(src))
t0 = time.time() + 0.2
with open(sent, "w") as log:
    for k, name in enumerate(files):
        data = open(os.path.join(src, name), "rb").read()
        mid = re.search(rb"^Message-ID:\s*<([^>]*)>", data, re.M | re.I).group(1).decode()
        fname = "%d.M%dP%d.idle,S=%d" % (int(t0), k, os.getpid(), len(data))
        tmp = os.path.join(maildir, "tmp", fname)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, uid, gid)
        delay = t0 + k / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        os.rename(tmp, os.path.join(maildir, "new", fname))
        log.write("%s\t%.6f\n" % (mid, time.time()))
PYEOF
	for _ in $(seq 1 300); do
		n=$(pd_psql bench_idle "SELECT count(*) FROM messages")
		[ "$n" -ge "$IDLE_MAILS" ] && break
		sleep 0.1
	done
	kill -TERM "$PD_DAEMON_PID"
	pd_wait_exit "$PD_DAEMON_PID" 20 || true
fi

# ------------------------------------------------------------------ takeover

# Two daemons on one database (default poll_interval, IDLE); the fetcher is
# killed with SIGKILL and a mail delivered: kill -> that mail committed by
# the other one (tests/integration/instances.sh does the same with checks).
echo "# takeover: kill -9 of the fetcher -> a new mail stored by the standby"
fresh_db bench_takeover smtp=no
pd_doveadm expunge -u support mailbox INBOX all >/dev/null 2>&1 || true
"$top_builddir/postdeskd" -c "$T/bench_takeover.conf" >"$T/takeover1.log" 2>&1 &
TK1=$!
PD_BG_PIDS="$PD_BG_PIDS $TK1"
for _ in $(seq 1 100); do grep -q "connected to" "$T/takeover1.log" && break; sleep 0.1; done
pd_daemon_start "$T/bench_takeover.conf" "$T/takeover2.log"
for _ in $(seq 1 100); do grep -q "standing by" "$T/takeover2.log" && break; sleep 0.1; done
"$PY" "$top_srcdir/tests/integration/mkmail.py" --from "Kay <kay@customer.example>" \
	--subject "Takeover" --message-id "<takeover@bench.example>" --body "After the kill." \
	>"$T/takeover.eml"
TK_T0=$(date +%s%N)
kill -9 "$TK1"
wait "$TK1" 2>/dev/null || true # killed: 137
pd_deliver support "$T/takeover.eml"
TAKEOVER_MS=-1
for _ in $(seq 1 1200); do
	if [ "$(pd_psql bench_takeover "SELECT count(*) FROM messages WHERE message_id = 'takeover@bench.example'")" = 1 ]; then
		TAKEOVER_MS=$((($(date +%s%N) - TK_T0) / 1000000))
		break
	fi
	sleep 0.05
done
kill -TERM "$PD_DAEMON_PID"
pd_wait_exit "$PD_DAEMON_PID" 20 || true
echo "#   ${TAKEOVER_MS} ms"

# ------------------------------------------------------------------ hostile mail

# Each of hostile.sh's mails (tests/integration/hostile_mail.py) alone in the
# INBOX, postdeskd --once with SMTP (acknowledgement and notice composed):
# start -> "done", so that what a sender can make one mail cost shows.
echo "# hostile mail: postdeskd --once over each of hostile.sh's mails"
HOSTILE_TIMES=
for kind in "parts --count 10000" "longhdr --size 1048576" "longsubj --size 1048576" \
	"deep --depth 100" "deeprfc --depth 100" "badb64" "badqp" "nul" "crlf" "sql" \
	"big --size 52428800"; do
	name=${kind%% *}
	args=()
	[ "$name" = big ] && args=(--attach-out "$T/hostile.bin")
	fresh_db "bench_h_$name" 'extra=max_message_size = "120M"'
	pd_doveadm expunge -u support mailbox INBOX all >/dev/null 2>&1 || true
	# shellcheck disable=SC2086
	"$PY" "$top_srcdir/tests/integration/hostile_mail.py" $kind "${args[@]}" \
		>"$T/hostile.eml" || pd_die "hostile_mail.py $kind"
	pd_deliver support "$T/hostile.eml" || pd_die "deliver hostile $name"
	once_run "bench_h_$name"
	ms=$(printf %.0f "$(echo "$RUN_SECS * 1000" | bc)")
	echo "#   $name: $(wc -c <"$T/hostile.eml") bytes, stored $RUN_STORED in $ms ms, peak RSS $RUN_RSS KB"
	HOSTILE_TIMES="$HOSTILE_TIMES $name=$ms"
	rm -f "$T/hostile.eml" "$T/hostile.bin"
done

# ------------------------------------------------------------------ memory

if want memory; then
	echo "# memory: postdeskd --once over $SMALL mails (no SMTP)"
	fresh_db bench_small smtp=no
	fill_mailbox "$SMALL"
	once_run bench_small
	SMALL_SECS=$RUN_SECS SMALL_RSS=$RUN_RSS SMALL_STORED=$RUN_STORED
	echo "#   $SMALL_STORED stored in $(printf %.2f "$SMALL_SECS")s, peak RSS $SMALL_RSS KB"
	BIG_SECS=0 BIG_RSS=0 BIG_STORED=0 BIG_START=0
	if [ "$BIG" -gt 0 ]; then
		echo "# memory: postdeskd --once over $BIG mails (no SMTP)"
		fresh_db bench_bigrss smtp=no
		fill_mailbox "$BIG"
		once_run bench_bigrss
		BIG_SECS=$RUN_SECS BIG_RSS=$RUN_RSS BIG_STORED=$RUN_STORED BIG_START=$RUN_START
		echo "#   $BIG_STORED stored in $(printf %.2f "$BIG_SECS")s, peak RSS $BIG_RSS KB"
	fi
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -n "$ONLY" ]; then
	echo "# --only $ONLY: load $LOAD_START -> $LOAD_END; no table, $OUT not written"
	exit 0
fi

# ------------------------------------------------------------------ report

PG_VERSION=$("$PD_PG_BINDIR/postgres" --version | sed 's/^postgres (PostgreSQL) //')
DOVECOT_VERSION=$(dovecot --version 2>/dev/null | cut -d' ' -f1)
export MAILS INBOX_COUNT SMALL BIG IDLE_MAILS RATE SMTP_MAILS SLA_TICKETS SLA_DUE OUT \
	IMAP_LINE PG1_LINE PG2_LINE PG3_LINE PG4_LINE SEND_LINE PYSEND_LINE \
	INGEST_SECS INGEST_RSS INGEST_STORED OUTBOX_SECS OUTBOX_SENT OUTBOX_ACKS OUTBOX_QUEUED \
	OUTBOX_SINK SMALL_SECS SMALL_RSS SMALL_STORED BIG_SECS BIG_RSS BIG_STORED \
	INGEST_START INGEST_CPU OUTBOX_START BIG_START BREAKDOWN SLA_PLAN LOAD_START LOAD_END PG_VERSION DOVECOT_VERSION
export SLA_MS=${SLA_MS:--1} SLA_IDLE_MS=${SLA_IDLE_MS:--1} SLA_NOTICES TAKEOVER_MS HOSTILE_TIMES
"$PY" - "$T/idle.sent" "$T/idle.log" "$T/bench_ingest.log" "$T/bench_bigrss.log" <<'PYEOF'
import datetime, json, os, platform, re, subprocess, sys

E = os.environ


def kv(line):
    return dict(x.split("=", 1) for x in line.split() if "=" in x)


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return 0.0


# IDLE latency: delivery (rename into new/) -> the daemon's log line for the mail
sent = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip())
done = {}
for line in open(sys.argv[2], encoding="utf-8", errors="replace"):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) .* msgid=<([^>]*)> .*action=", line)
    if m and m.group(2) not in done:
        done[m.group(2)] = datetime.datetime.strptime(
            m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
lat = sorted(max(0.0, done[k] - float(t)) * 1000 for k, t in sent.items() if k in done)


def tenths(path, pattern, start):
    """Rates (per s) over the ten tenths of a run, from its per-mail log
    lines: a rate that falls from the first tenth to the last means work
    that grows with what is already stored or sent."""
    ts = []
    try:
        for line in open(path, encoding="utf-8", errors="replace"):
            if re.search(pattern, line):
                ts.append(datetime.datetime.strptime(
                    line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp())
    except (OSError, ValueError):
        return []
    if len(ts) < 10:
        return []
    out, prev = [], start
    for k in range(10):
        part = ts[len(ts) * k // 10:len(ts) * (k + 1) // 10]
        span = part[-1] - prev
        out.append(round(len(part) / span, 1) if span > 0 else None)
        prev = part[-1]
    return out


MAIL_LINE = r" msgid=<[^>]*> .* action=[a-z]"
SENT_LINE = r" outbox=\S+ kind=\S+ .*action=sent"
ingest_tenths = tenths(sys.argv[3], MAIL_LINE, float(E["INGEST_START"]))
outbox_tenths = tenths(sys.argv[3], SENT_LINE, float(E["OUTBOX_START"]))
big_tenths = tenths(sys.argv[4], MAIL_LINE, float(E["BIG_START"])) if int(E["BIG"]) else []


def pct(p):
    if not lat:
        return None
    return round(lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))], 1)


imap, pg1, pg2 = kv(E["IMAP_LINE"]), kv(E["PG1_LINE"]), kv(E["PG2_LINE"])
pg3, pg4 = kv(E["PG3_LINE"]), kv(E["PG4_LINE"])
send, pysend = kv(E["SEND_LINE"]), kv(E["PYSEND_LINE"])
stored, isecs = int(E["INGEST_STORED"]), num(E["INGEST_SECS"])
ingest_rate = stored / isecs if isecs > 0 else 0.0
osent, osecs = int(E["OUTBOX_SENT"]), num(E["OUTBOX_SECS"])
outbox_rate = osent / osecs if osecs > 0 else 0.0
parts = {
    "imap_fetch": {"what": "UID FETCH BODY.PEEK[], batches of 100 UIDs (libetpan)",
                   "mails": int(imap["mails"]), "bytes": int(imap["bytes"]),
                   "seconds": num(imap["seconds"]), "mails_per_second": num(imap["mails_per_s"]),
                   "mb_per_second": num(imap["mb_per_s"])},
    "pg_one_transaction": {"what": "ticket, participant, message, raw, event, ack per mail; "
                                   "one prepared statement; one transaction",
                           "mails": int(pg1["mails"]), "seconds": num(pg1["seconds"]),
                           "mails_per_second": num(pg1["mails_per_s"]),
                           "rate_first_last_tenth": [num(pg1.get("first_tenth")),
                                                     num(pg1.get("last_tenth"))]},
    "pg_transaction_per_mail": {"what": "the same, BEGIN/statement/COMMIT per mail",
                                "mails": int(pg2["mails"]), "seconds": num(pg2["seconds"]),
                                "mails_per_second": num(pg2["mails_per_s"]),
                                "rate_first_last_tenth": [num(pg2.get("first_tenth")),
                                                          num(pg2.get("last_tenth"))]},
    "pg_set_batch": {"what": "the same rows, 100 mails a transaction: INSERT ... SELECT FROM "
                             "unnest(arrays) per table, ticket numbers from the sequence in "
                             "one call",
                     "mails": int(pg3["mails"]), "seconds": num(pg3["seconds"]),
                     "mails_per_second": num(pg3["mails_per_s"]),
                     "rate_first_last_tenth": [num(pg3.get("first_tenth")),
                                               num(pg3.get("last_tenth"))]},
    "pg_copy_batch": {"what": "the same rows, 100 mails a transaction: COPY FROM STDIN (text) "
                              "per table, ticket and message ids from their sequences",
                      "mails": int(pg4["mails"]), "seconds": num(pg4["seconds"]),
                      "mails_per_second": num(pg4["mails_per_s"]),
                      "rate_first_last_tenth": [num(pg4.get("first_tenth")),
                                                num(pg4.get("last_tenth"))]},
    "smtp_one_session": {"what": "libcurl, ~2 KB mails, one reused connection, C sink",
                         "mails": int(send["mails"]), "seconds": num(send["seconds"]),
                         "mails_per_second": num(send["mails_per_s"]),
                         "connections": int(send["connections"])},
    "smtp_one_session_python_sink": {"what": "the same to tests/integration/smtp_sink.py",
                                     "mails": int(pysend["mails"]),
                                     "seconds": num(pysend["seconds"]),
                                     "mails_per_second": num(pysend["mails_per_s"])},
}
for p in parts.values():
    p["ingest_fraction"] = round(ingest_rate / p["mails_per_second"], 3) \
        if p["mails_per_second"] else None
# what the rows cost PostgreSQL: pgload's backend and the server's other
# processes (WAL writer, checkpointer...) while it ran, per mail
for key, line in (("pg_one_transaction", pg1), ("pg_transaction_per_mail", pg2),
                  ("pg_set_batch", pg3), ("pg_copy_batch", pg4)):
    m = parts[key]["mails"]
    if m and "backend_cpu_ms" in line and num(line["backend_cpu_ms"]) >= 0:
        parts[key]["postgresql_cpu_ms_per_mail"] = round(
            (num(line["backend_cpu_ms"]) + num(line.get("pg_other_cpu_ms"))) / m, 3)
        parts[key]["client_cpu_ms_per_mail"] = round(num(line.get("client_cpu_ms")) / m, 3)

# The ingest's CPU time until "done", per process and per mail, and the
# rates it allows: PostgreSQL's work for one connection runs on one core;
# all of it shares the machine's cores.
icpu = {k: int(v) for k, v in kv(E.get("INGEST_CPU", "")).items()}
ingest_cpu = None
if stored and icpu:
    per = {k: round(v / stored, 3) for k, v in icpu.items()}
    total = sum(per.values())
    ingest_cpu = {"what": "CPU time (user + system) from the start to 'done', read from /proc: "
                          "postdeskd, every PostgreSQL process, Dovecot's imap",
                  "ms": icpu, "ms_per_mail": per, "ms_per_mail_total": round(total, 3),
                  "ceiling_postgresql_one_core": round(1000 / per["postgres"]) if per.get("postgres") else None,
                  "ceiling_all_cores": round(1000 * (os.cpu_count() or 1) / total) if total else None}
ingest_parts = ("imap_fetch", "pg_one_transaction")
slowest = min(ingest_parts, key=lambda k: parts[k]["mails_per_second"])
send_rate = parts["smtp_one_session"]["mails_per_second"]
small_rss, big_rss, big = int(E["SMALL_RSS"]), int(E["BIG_RSS"]), int(E["BIG"])
p99 = pct(99)
sla_ms = int(E["SLA_MS"])

bd = {k: int(v) for k, v in kv(E["BREAKDOWN"]).items()}
breakdown = {"mails": bd.get("mails", 0), "total_ms": bd.get("total_ms", 0),
             "what": "postdeskd --once, log_level debug: per-batch fetch/parse/store/mark "
                     "(store includes queueing the acks); fetch and parse of the next batch "
                     "run in a second thread while one is stored, and so does the mark of "
                     "a backlog's committed mails (ahead_mark_ms; mark_ms: the round's last "
                     "mark, in the main thread), wait = the main thread "
                     "waiting for them; other = the rest of the main thread's time (search, "
                     "the first batch's fetch and parse, start)"}
for k in ("fetch_ms", "parse_ms", "store_ms", "mark_ms", "ahead_mark_ms", "wait_ms"):
    breakdown[k] = bd.get(k, 0)
breakdown["other_ms"] = max(0, breakdown["total_ms"] - sum(bd.get(k, 0) for k in (
    "store_ms", "mark_ms", "wait_ms")))

targets = {
    "ingest_mails_per_second": {"target": ">= 5000", "value": round(ingest_rate, 1),
                                "met": ingest_rate >= 5000},
    "outbox_acks_per_second": {"target": ">= 1000", "value": round(outbox_rate, 1),
                               "met": outbox_rate >= 1000},
    "idle_p99_ms": {"target": "< 1000", "value": p99,
                    "met": p99 is not None and p99 < 1000 and len(lat) == len(sent)},
    "peak_rss_small_kb": {"target": "< 32768", "value": small_rss, "met": small_rss < 32768},
    "peak_rss_big_kb": {"target": "< 32768", "value": big_rss if big else None,
                        "met": (big_rss < 32768) if big else None},
    "sla_scan_ms": {"target": "< 100", "value": sla_ms, "met": 0 <= sla_ms < 100},
    "takeover_ms": {"target": "< 5000", "value": int(E["TAKEOVER_MS"]),
                    "met": 0 <= int(E["TAKEOVER_MS"]) < 5000},
}


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def modversion(pkg):
    try:
        return subprocess.run(["pkg-config", "--modversion", pkg], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return ""


res = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release(),
                "postgresql": E["PG_VERSION"], "dovecot": E["DOVECOT_VERSION"],
                "libetpan": modversion("libetpan"), "libcurl": modversion("libcurl"),
                "libpq": modversion("libpq"),
                "loadavg_start": E["LOAD_START"], "loadavg_end": E["LOAD_END"],
                "note": "shared machine: other processes' load shows in the figures"},
    "sink": "bench/smtpsink (C, epoll, PIPELINING, discards)",
    "parts": parts,
    "ingest": {"mails": int(E["INBOX_COUNT"]), "stored": stored, "seconds": round(isecs, 3),
               "mails_per_second": round(ingest_rate, 1), "peak_rss_kb": int(E["INGEST_RSS"]),
               "acks_queued": True, "slowest_part": slowest,
               "rate_by_tenth": ingest_tenths,
               "fraction_of_slowest_part": parts[slowest]["ingest_fraction"],
               "cpu": ingest_cpu},
    "ingest_breakdown": breakdown,
    "outbox": {"queued": int(E["OUTBOX_QUEUED"]), "sent": osent, "acks_sent": int(E["OUTBOX_ACKS"]),
               "sink_accepted": int(E["OUTBOX_SINK"]), "seconds": round(osecs, 3),
               "mails_per_second": round(outbox_rate, 1), "rate_by_tenth": outbox_tenths,
               "fraction_of_smtp_limit": round(outbox_rate / send_rate, 3) if send_rate else None},
    "idle_latency_ms": {"mails": len(sent), "rate_per_second": float(E["RATE"]),
                        "committed": len(lat), "p50": pct(50), "p99": p99,
                        "max": round(lat[-1], 1) if lat else None},
    "memory": {"small": {"mails": int(E["SMALL"]), "stored": int(E["SMALL_STORED"]),
                         "seconds": round(num(E["SMALL_SECS"]), 3), "peak_rss_kb": small_rss},
               "big": {"mails": big, "stored": int(E["BIG_STORED"]),
                       "seconds": round(num(E["BIG_SECS"]), 3), "peak_rss_kb": big_rss,
                       "rate_by_tenth": big_tenths}
               if big else None},
    "sla_scan": {"open_tickets": int(E["SLA_TICKETS"]), "due": int(E["SLA_DUE"]),
                 "notices": int(E["SLA_NOTICES"]), "ms": sla_ms,
                 "ms_nothing_due": int(E["SLA_IDLE_MS"]), "plan": E["SLA_PLAN"]},
    "hostile_ingest_ms": {k: int(v) for k, v in kv(E["HOSTILE_TIMES"]).items()},
    "takeover_ms": {"what": "kill -9 of the fetcher -> a new mail stored by the standby "
                            "(default poll_interval, IDLE)", "ms": int(E["TAKEOVER_MS"])},
    "targets": targets,
}


def mark(t):
    return "-" if t["met"] is None else ("met" if t["met"] else "NOT MET")


rows = []
def row(name, value, ref="", verdict=""):
    rows.append((name, value, ref, verdict))


n = int(E["INBOX_COUNT"])
row("part limits, same %d mails" % n, "per s", "postdesk", "")
for key, label in (("imap_fetch", "IMAP UID FETCH BODY.PEEK[] (x100)"),
                   ("pg_one_transaction", "PostgreSQL rows, 1 transaction"),
                   ("pg_transaction_per_mail", "PostgreSQL rows, 1 tx per mail"),
                   ("pg_set_batch", "PostgreSQL rows, unnest, 100/tx"),
                   ("pg_copy_batch", "PostgreSQL rows, COPY, 100/tx")):
    p = parts[key]
    row("  " + label, "%.0f" % p["mails_per_second"],
        "%.2f" % p["ingest_fraction"] if p["ingest_fraction"] is not None else "-",
        "pg %.2f ms/mail" % p["postgresql_cpu_ms_per_mail"]
        if "postgresql_cpu_ms_per_mail" in p else "")
row("  SMTP 1 session, C sink", "%.0f" % send_rate,
    "%.2f" % (outbox_rate / send_rate) if send_rate else "-")
row("  SMTP 1 session, Python sink", "%.0f" % parts["smtp_one_session_python_sink"]["mails_per_second"])
row("ingest mails/s (%d, acks queued)" % n, "%.0f" % ingest_rate, ">= 5000",
    mark(targets["ingest_mails_per_second"]))
row("  fraction of slowest part", "%.2f" % (res["ingest"]["fraction_of_slowest_part"] or 0),
    slowest.replace("_", " "))
def first_last(t):
    return "%.0f/%.0f" % (t[0] or 0, t[-1] or 0) if t else "-"


row("  rate first/last tenth of the run", first_last(ingest_tenths), "mails/s")
if ingest_cpu:
    c = ingest_cpu["ms_per_mail"]
    row("  CPU ms/mail daemon/pg/imap",
        "%.2f/%.2f/%.2f" % (c.get("postdeskd", 0), c.get("postgres", 0), c.get("imap", 0)),
        "sum %.2f" % ingest_cpu["ms_per_mail_total"])
    row("  ceiling: pg on 1 core / all on %d" % (os.cpu_count() or 1),
        "%s/%s" % (ingest_cpu["ceiling_postgresql_one_core"], ingest_cpu["ceiling_all_cores"]),
        "mails/s")
b = breakdown
if b["total_ms"] > 0:
    row("  time: store/mark/wait/other (fetch/parse/mark)",
        "/".join("%d" % round(100 * b[k] / b["total_ms"]) for k in (
            "store_ms", "mark_ms", "wait_ms", "other_ms"))
        + " (%s)" % "/".join("%d" % round(100 * b[k] / b["total_ms"]) for k in ("fetch_ms", "parse_ms", "ahead_mark_ms")),
        "%% (%d mails, debug)" % b["mails"])
row("outbox sent/s (%d acks+%d notices)" % (int(E["OUTBOX_ACKS"]), osent - int(E["OUTBOX_ACKS"])), "%.0f" % outbox_rate, ">= 1000",
    mark(targets["outbox_acks_per_second"]))
row("  rate first/last tenth of the run", first_last(outbox_tenths), "mails/s")
i = res["idle_latency_ms"]
row("IDLE %d at %g/s, p50 ms" % (i["mails"], i["rate_per_second"]), "%s" % i["p50"])
row("IDLE p99 ms (%d/%d committed)" % (i["committed"], i["mails"]), "%s" % i["p99"], "< 1000",
    mark(targets["idle_p99_ms"]))
row("IDLE max ms", "%s" % i["max"])
row("peak RSS KB, %d mails" % int(E["SMALL"]), "%d" % small_rss, "< 32768",
    mark(targets["peak_rss_small_kb"]))
if big:
    row("peak RSS KB, %d mails" % big, "%d" % big_rss, "< 32768", mark(targets["peak_rss_big_kb"]))
    row("  ingest mails/s at %d (no SMTP)" % big,
        "%.0f" % (int(E["BIG_STORED"]) / num(E["BIG_SECS"])) if num(E["BIG_SECS"]) else "-")
    row("  rate first/last tenth of the run", first_last(big_tenths), "mails/s")
else:
    row("peak RSS KB, big mailbox", "skipped", "--big 0")
row("peak RSS KB, %d + outbox" % n, "%d" % int(E["INGEST_RSS"]))
row("SLA scan ms (%d open, %d due)" % (int(E["SLA_TICKETS"]), int(E["SLA_DUE"])), "%d" % sla_ms,
    "< 100", mark(targets["sla_scan_ms"]))
row("SLA scan ms (nothing due)", "%d" % int(E["SLA_IDLE_MS"]))
row("hostile mail alone, --once, ms", "")
for k, v in res["hostile_ingest_ms"].items():
    row("  " + k, "%d" % v)
row("takeover ms (kill -9 -> mail stored)", "%d" % int(E["TAKEOVER_MS"]), "< 5000",
    mark(targets["takeover_ms"]))

m = res["machine"]
print()
print("postdesk bench, %s; %d CPUs %s; PostgreSQL %s, Dovecot %s; load %s -> %s" % (
    res["date"], m["nproc"], m["cpu"], m["postgresql"], m["dovecot"], m["loadavg_start"],
    m["loadavg_end"]))
print("%-36s %9s  %-22s %s" % ("measure", "value", "target / fraction", ""))
print("-" * 80)
for name, value, ref, verdict in rows:
    print("%-36s %9s  %-22s %s" % (name, value, ref, verdict))
print("-" * 80)
print("SMTP sink: %s; shared machine, expect noise" % res["sink"])
with open(E["OUT"], "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
print("written to", E["OUT"])
PYEOF
