#!/bin/bash
# tests/integration/instances.sh - several postdeskd on one database: one
# fetcher per mailbox (PostgreSQL advisory lock), the other takes over when
# it dies (within seconds, also with the default poll_interval and IDLE:
# the time from kill -9 to a new mail stored is printed); outbox rows are
# claimed with SKIP LOCKED.  Real PostgreSQL,
# Dovecot and SMTP sink on loopback (tests/integration/lib.sh).
#
#   top_srcdir=. top_builddir=build tests/integration/instances.sh

. "$(dirname "$0")/lib.sh"

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres
pd_start_dovecot
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP sink :$PD_SMTP_PORT  in $T"

DB=twin
TOTAL=1000
pd_createdb "$DB" || pd_die "createdb"
CONF=$T/twin.conf
pd_write_config "$CONF" db="$DB" 'mailbox_extra=poll_interval = "1s"' 'extra=batch_size = 20'
pd_cli "$CONF" migrate >/dev/null || pd_die "migrate"
count() { pd_psql "$DB" "$1"; }

M=$PD_MAIL_DIR/support/Maildir
mkdir -p "$M/new" "$M/cur" "$M/tmp"
"$PD_PYTHON" "$top_srcdir/bench/genmail.py" $TOTAL --maildir "$M" --seed 11 \
	--owner "$PD_MAIL_UID:$PD_MAIL_GID" || pd_die "genmail"
chown -R "$PD_MAIL_UID:$PD_MAIL_GID" "$M"
pd_check_eq "twin: $TOTAL mails waiting" $TOTAL "$(pd_mailbox_count support INBOX)"

"$top_builddir/postdeskd" -c "$CONF" >"$T/a.log" 2>&1 &
A=$!
PD_BG_PIDS="$PD_BG_PIDS $A"
sleep 1
"$top_builddir/postdeskd" -c "$CONF" >"$T/b.log" 2>&1 &
B=$!
PD_BG_PIDS="$PD_BG_PIDS $B"

# wait until both have started (one fetching, the other standing by) and a
# good part is stored, then kill the fetcher without warning
for _ in $(seq 1 1200); do
	if grep -q "standing by" "$T/a.log" "$T/b.log" 2>/dev/null &&
		[ "$(count "SELECT count(*) FROM messages WHERE direction = 'in'")" -ge 200 ]; then
		break
	fi
	sleep 0.1
done
if grep -q "standing by" "$T/b.log"; then FETCHER=$A OTHER=$B OLOG=$T/b.log; else FETCHER=$B OTHER=$A OLOG=$T/a.log; fi
pd_check "twin: exactly one instance fetches, the other stands by" \
	bash -c "grep -q 'standing by' '$T/a.log' || grep -q 'standing by' '$T/b.log'"
kill -9 "$FETCHER"
wait "$FETCHER" 2>/dev/null
inflight=$(count "SELECT count(*) FROM outbox WHERE status = 'sending'")
stored_at_kill=$(count "SELECT count(*) FROM messages WHERE direction = 'in'")
pd_log "killed the fetcher with $stored_at_kill mails stored, $inflight outbox rows in flight"
# a dead instance's claims come back when their lease ends; end it now
count "UPDATE outbox SET lease_until = now() WHERE status = 'sending'" >/dev/null

for _ in $(seq 1 900); do
	n=$(count "SELECT count(*) FROM messages WHERE direction = 'in'")
	q=$(count "SELECT count(*) FROM outbox WHERE status <> 'sent'")
	[ "$n" -ge $TOTAL ] && [ "$q" = 0 ] && grep -q "taking over" "$OLOG" && break
	sleep 0.2
done
pd_check "twin: the other instance took over" grep -q "taking over" "$OLOG"
pd_check_eq "twin: every mail stored exactly once" "$TOTAL $TOTAL" \
	"$(count "SELECT count(*) || ' ' || count(DISTINCT message_id) FROM messages WHERE direction = 'in'")"
pd_check_eq "twin: the mailbox is drained" 0 "$(pd_mailbox_count support INBOX)"
pd_check_eq "twin: every new ticket has exactly one acknowledgement queued" 0 \
	"$(count "SELECT count(*) FROM tickets t WHERE (SELECT count(*) FROM outbox o WHERE o.ticket_id = t.id AND o.kind = 'ack') <> 1")"
pd_check_eq "twin: every outbox row was sent" 0 "$(count "SELECT count(*) FROM outbox WHERE status <> 'sent'")"
acks_sent=$(grep -l '^X-Postdesk-Kind: ack' "$PD_SINK_DIR"/*.eml | wc -l)
tickets=$(count "SELECT count(*) FROM tickets")
extra=$((acks_sent - tickets))
pd_log "acknowledgements at the sink: $acks_sent for $tickets tickets ($extra sent twice)"
if [ "$extra" -ge 0 ] && [ "$extra" -le "$inflight" ]; then
	pd_ok "twin: every ticket's acknowledgement reached the sink; twice at most for the $inflight rows the dead instance had in flight ($extra)"
else
	pd_fail "twin: acknowledgements at the sink" "acks $acks_sent, tickets $tickets, in flight $inflight"
fi
kill -TERM "$OTHER"
pd_wait_exit "$OTHER" 20
pd_check_eq "twin: the survivor stops cleanly" 0 $?

# ---- takeover: with the default poll_interval of 60 s and IDLE, the
# standby still takes a dead fetcher's mailbox over within seconds.  Kill
# the fetcher, deliver a mail, and time kill -> mail stored by the survivor.
CONF2=$T/takeover.conf
pd_write_config "$CONF2" db="$DB" 'extra=batch_size = 20'
"$top_builddir/postdeskd" -c "$CONF2" >"$T/c.log" 2>&1 &
C=$!
PD_BG_PIDS="$PD_BG_PIDS $C"
for _ in $(seq 1 100); do grep -q "using IDLE" "$T/c.log" && break; sleep 0.1; done
"$top_builddir/postdeskd" -c "$CONF2" >"$T/d.log" 2>&1 &
D=$!
PD_BG_PIDS="$PD_BG_PIDS $D"
for _ in $(seq 1 100); do grep -q "standing by" "$T/d.log" && break; sleep 0.1; done
pd_check "takeover: the first instance fetches with IDLE" grep -q "using IDLE" "$T/c.log"
pd_check "takeover: the second stands by" grep -q "standing by" "$T/d.log"
"$PD_PYTHON" "$PD_LIB_DIR/mkmail.py" --from "Kay <kay@customer.example>" --subject "After the crash" \
	--message-id "<takeover@customer.example>" --body "Sent while the fetcher was dead." \
	>"$T/takeover.eml" || pd_die "mkmail"
t0=$(date +%s%N)
kill -9 "$C"
wait "$C" 2>/dev/null
pd_deliver support "$T/takeover.eml" || pd_die "deliver"
took=
for _ in $(seq 1 300); do
	if [ "$(count "SELECT count(*) FROM messages WHERE message_id = 'takeover@customer.example'")" = 1 ]; then
		took=$((($(date +%s%N) - t0) / 1000000))
		break
	fi
	sleep 0.05
done
pd_log "takeover: kill -9 of the fetcher to the new mail stored by the survivor: ${took:-more than 15000} ms"
# the design target is 5 s; the bound here is generous for a loaded machine
if [ -n "$took" ] && [ "$took" -le 15000 ]; then
	pd_ok "takeover: the survivor stored the new mail ${took} ms after the kill (within 15 s)"
else
	pd_fail "takeover: the survivor stored the new mail within 15 s of the kill" "took ${took:-more than 15000} ms"
fi
pd_check "takeover: the survivor says it took over" grep -q "taking over" "$T/d.log"
kill -TERM "$D"
pd_wait_exit "$D" 20
pd_check_eq "takeover: the survivor stops cleanly" 0 $?
pd_finish
