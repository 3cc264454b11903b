#!/bin/bash
# tests/integration/faults.sh - faults injected into a running postdesk:
# crashes, restarts and failures lose nothing and duplicate nothing.
#
#   kill       kill -9 of postdeskd at random moments, 20 rounds and more,
#              while it ingests 2,000 mails and sends their answers
#   pgrestart  PostgreSQL restarted while the daemon stores a big backlog
#   sentlost   the database session dies right after the SMTP server accepted
#              a mail, before 'sent' is recorded
#   claims     outbox rows claimed by a live session are left alone, those of
#              a session that ended are sent at once (not after the lease)
#   idle       Dovecot restarted while the daemon waits in IDLE
#   smtptemp   the SMTP server answers 421, then 451, then 250
#   smtpperm   the SMTP server answers 550
#   timeout    statement timeouts (a lock held by another session)
#   midbatch   one mail in the middle of a batch whose statement runs past
#              statement_timeout: the batch is stored around it, that mail
#              kept raw and flagged, and the mailbox goes on
#   diskfull   PostgreSQL runs out of disk (a tablespace on a tiny tmpfs;
#              skipped where tmpfs cannot be mounted)
#   auth       a mailbox with a wrong password next to one that works (last:
#              Dovecot then delays every login from 127.0.0.1 for a while)
#
# Every mail must end up stored exactly once and marked on the server, every
# answer queued once per ticket and delivered; the only second copies the
# SMTP sink may see are of mails it marked ambiguous (the client died right
# after the server's 250, before it could record it: no SMTP client can
# close that window).  Real PostgreSQL, Dovecot and SMTP sink on loopback
# (tests/integration/lib.sh).
#
#   top_srcdir=. top_builddir=build tests/integration/faults.sh [SCENARIO...]
# FAULTS_KILL_MAILS (default 2000) and FAULTS_KILL_ROUNDS (default 20) size
# the kill scenario.

. "$(dirname "$0")/lib.sh"

MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"
ALL_SCENARIOS="kill pgrestart sentlost claims idle smtptemp smtpperm timeout midbatch diskfull auth"
SCENARIOS=${*:-$ALL_SCENARIOS}
KILL_MAILS=${FAULTS_KILL_MAILS:-2000}
KILL_ROUNDS=${FAULTS_KILL_ROUNDS:-20}
TINY_FS=

pd_require_servers
pd_require_binaries
pd_init
# a tmpfs of the diskfull scenario must not outlive the run (lazy: even busy)
trap 'rc=$?; [ -n "$TINY_FS" ] && umount -l "$TINY_FS" 2>/dev/null; (exit $rc); pd_stop_all' EXIT
pd_start_postgres
users=
for s in $ALL_SCENARIOS; do users="$users f_$s"; done
pd_start_dovecot $users f_good
pd_dovecot_add_user f_bad right-password
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP sink :$PD_SMTP_PORT  in $T"

# No limit on automatic answers: every new ticket must get its acknowledgement.
NO_LIMITS=("extra=auto_reply_limit_10m = 100000" "extra=auto_reply_limit_day = 1000000")

setup() {
	X=$1
	shift
	DB=pf_$X
	U=f_$X
	CONF=$T/$X.conf
	GEN_NEW=0
	pd_log "---- scenario $X"
	rm -f "$PD_SINK_DIR/reply"
	pd_createdb "$DB" || pd_die "createdb $DB"
	pd_write_config "$CONF" db="$DB" user="$U" "${NO_LIMITS[@]}" "$@"
	pd_cli "$CONF" migrate >/dev/null || pd_die "migrate $DB"
	sink_mark
}

count() { pd_psql "$DB" "$1"; }

mail() { # FILE FROM SUBJECT MESSAGE-ID
	$MKMAIL --from "$2" --subject "$3" --message-id "$4" --body "Body of $3" >"$1" ||
		pd_die "mkmail $1"
}

# wait_for SECONDS SQL EXPECTED: until the query gives EXPECTED; prints the last value.
wait_for() {
	local end=$((SECONDS + $1)) sql=$2 want=$3 v=
	while :; do
		v=$(count "$sql" 2>/dev/null)
		[ "$v" = "$want" ] || [ $SECONDS -ge $end ] && break
		sleep 0.1
	done
	echo "$v"
}

# wait_unseen SECONDS USER N: until USER's INBOX holds N unseen mails.
wait_unseen() {
	local end=$((SECONDS + $1)) v=
	while :; do
		v=$(pd_mailbox_count "$2" INBOX unseen)
		[ "$v" = "$3" ] || [ $SECONDS -ge $end ] && break
		sleep 0.1
	done
	echo "$v"
}

# sessions_gone: wait until no postdesk session of $DB is left in PostgreSQL
# (a killed daemon's backend ends when it sees the closed socket).
sessions_gone() {
	wait_for 20 "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB'
		AND application_name = 'postdesk' AND pid <> pg_backend_pid()" 0 >/dev/null
}

# genmail USER N SEED: N more realistic mails into USER's Maildir, each
# moved into new/ whole; GEN_NEW counts the new tickets to expect (the mails
# that answer none of the others).
GEN_NEW=0
genmail() {
	local maildir=$PD_MAIL_DIR/$1/Maildir stage=$T/stage.$1.$3
	mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp" "$stage"
	"$PD_PYTHON" "$top_srcdir/bench/genmail.py" "$2" --maildir "$stage" --seed "$3" \
		--owner "$PD_MAIL_UID:$PD_MAIL_GID" || pd_die "genmail failed"
	GEN_NEW=$((GEN_NEW + $(grep -L '^In-Reply-To:' "$stage"/new/* | wc -l)))
	chown -R "$PD_MAIL_UID:$PD_MAIL_GID" "$PD_MAIL_DIR/$1"
	find "$stage/new" -type f -exec mv -t "$maildir/new" {} + || pd_die "moving mail failed"
	rm -rf "$stage"
}

# ------------------------------------------------------------------ the SMTP sink's log

# sink_mark: later checks look only at what the sink accepts from now on.
sink_mark() {
	SINK_IDS_FROM=$(($(cat "$PD_SINK_DIR/accepted.ids" 2>/dev/null | wc -l) + 1))
	SINK_AMB_FROM=$(($(cat "$PD_SINK_DIR/ambiguous" 2>/dev/null | wc -l) + 1))
}

sink_ids() { tail -n +"$SINK_IDS_FROM" "$PD_SINK_DIR/accepted.ids" 2>/dev/null; }
sink_ambiguous() { tail -n +"$SINK_AMB_FROM" "$PD_SINK_DIR/ambiguous" 2>/dev/null; }

# sink_verdict: compares the outbox of $DB with what the sink accepted since
# sink_mark.  Prints "rows missing unknown dups unexplained": outbox rows,
# rows whose Message-ID never arrived, mails that are not from the outbox,
# second (third...) copies, and copies that came although the copy before
# them was not left ambiguous (the sink heard from its client after the 250).
sink_verdict() {
	count "SELECT message_id FROM outbox" >"$T/$X.outbox.ids"
	sink_ids >"$T/$X.sink.ids"
	sink_ambiguous >"$T/$X.sink.ambiguous"
	"$PD_PYTHON" - "$T/$X.outbox.ids" "$T/$X.sink.ids" "$T/$X.sink.ambiguous" <<-'PY'
		import collections, sys
		def lines(path):
		    with open(path, encoding="utf-8", errors="replace") as f:
		        return [l.rstrip("\n").split("\t") for l in f if l.strip()]
		def mid(s):
		    return s.strip().strip("<>")
		rows = {mid(l[0]) for l in lines(sys.argv[1])}
		copies = collections.defaultdict(list)  # Message-ID -> sink file numbers, in order
		for n, m in lines(sys.argv[2]):
		    copies[mid(m)].append(n)
		ambiguous = {n for n, m in lines(sys.argv[3])}
		missing = len(rows - set(copies))
		unknown = len(set(copies) - rows)
		dups = sum(len(c) - 1 for c in copies.values())
		unexplained = sum(1 for c in copies.values() for k in range(1, len(c))
		                  if c[k - 1] not in ambiguous)
		print(len(rows), missing, unknown, dups, unexplained)
	PY
}

# ------------------------------------------------------------------ server restarts

pg_stop() {
	pd_as_postgres "$PD_PG_BINDIR/pg_ctl" -D "$PD_PG_DATA" -m fast -w -t 30 stop \
		>>"$T/pg_ctl.log" 2>&1
}

pg_start() {
	pd_as_postgres "$PD_PG_BINDIR/pg_ctl" -D "$PD_PG_DATA" -l "$T/postgres.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PD_PG_SOCK -c fsync=off \
		    -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
		start >>"$T/pg_ctl.log" 2>&1
}

# dovecot_start_again: the same Dovecot (config, ports, mail) once more.
dovecot_start_again() {
	dovecot -c "$PD_DOVECOT_CONF" >>"$T/dovecot-start.log" 2>&1 || return 1
	PD_DOVECOT_STARTED=1
	PD_DOVECOT_PID=$(cat "$PD_DOVECOT_BASE/master.pid" 2>/dev/null)
	pd_wait_port "$PD_IMAP_PORT" 30
}

# forget_pid PID: a process that has ended leaves the list pd_stop_all signals
# (its number may belong to somebody else by then).
forget_pid() {
	local p keep=
	for p in $PD_BG_PIDS; do
		[ "$p" = "$1" ] || keep="$keep $p"
	done
	PD_BG_PIDS=$keep
}

# stop_daemon NAME: SIGTERM, which must end it with exit 0.
stop_daemon() {
	kill -TERM "$PD_DAEMON_PID" 2>/dev/null
	pd_wait_exit "$PD_DAEMON_PID" 30
	pd_check_eq "$1: SIGTERM stops the daemon with exit 0" 0 $?
	forget_pid "$PD_DAEMON_PID"
}

# ------------------------------------------------------------------ kill -9 at random moments

sc_kill() {
	setup kill processed= 'extra=batch_size = 10' 'mailbox_extra=poll_interval = "1s"'

	# The mail comes in four waves (before rounds 1, 5, 9 and 13), so that
	# kills hit storing and sending, and storing while answers are due.  Kill
	# until the minimum of rounds is done and at least a few kills hit the
	# sending (the daemon sends once what has arrived is stored).
	local round=0 in_ingest=0 in_send=0 ms sent0 sent1 rows1 stored0 stored1 kills
	local wave=0 delivered=0 n
	while [ $round -lt $KILL_ROUNDS ] || [ $wave -lt 4 ] ||
		{ [ $in_send -lt 5 ] && [ $round -lt 80 ]; }; do
		round=$((round + 1))
		if [ $wave -lt 4 ] && [ $(((round - 1) % 4)) = 0 ]; then
			wave=$((wave + 1))
			n=$((KILL_MAILS / 4))
			[ $wave = 4 ] && n=$((KILL_MAILS - delivered))
			genmail "$U" $n $((6 + wave))
			delivered=$((delivered + n))
			pd_log "wave $wave: $n mails more, $delivered in all"
		fi
		stored0=$(count "SELECT count(*) FROM messages WHERE direction = 'in'")
		sent0=$(count "SELECT count(*) FROM outbox WHERE status = 'sent'")
		pd_daemon_start "$CONF" "$T/kill.$round.log"
		if [ $(((round - 1) % 4)) = 0 ]; then
			# a wave's first round kills while the wave is being stored:
			# the batches commit fast, so wait for the first one to
			# land (at most 4 s), then kill within 300 ms
			local w=0
			while [ "$(count "SELECT count(*) FROM messages WHERE direction = 'in'")" = "$stored0" ] &&
				[ $w -lt 200 ]; do
				sleep 0.02
				w=$((w + 1))
			done
			ms=$((RANDOM % 300))
		else
			ms=$((200 + RANDOM % 1801))
		fi
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		kill -9 "$PD_DAEMON_PID" 2>/dev/null
		wait "$PD_DAEMON_PID" 2>/dev/null
		forget_pid "$PD_DAEMON_PID"
		sessions_gone
		stored1=$(count "SELECT count(*) FROM messages WHERE direction = 'in'")
		sent1=$(count "SELECT count(*) FROM outbox WHERE status = 'sent'")
		rows1=$(count "SELECT count(*) FROM outbox")
		[ "$stored1" -gt "$stored0" ] && [ "$stored1" -lt "$delivered" ] && in_ingest=$((in_ingest + 1))
		[ "$sent1" -gt "$sent0" ] && [ "$sent1" -lt "$rows1" ] && in_send=$((in_send + 1))
		pd_log "kill round $round after ${ms} ms: $stored1 stored, $sent1 of $rows1 answers sent"
		# nothing left to interrupt
		[ $round -ge "$KILL_ROUNDS" ] && [ "$stored1" = "$KILL_MAILS" ] && [ "$sent1" = "$rows1" ] &&
			break
	done
	kills=$round
	pd_log "$kills kills: $in_ingest while storing, $in_send while sending"
	if [ $kills -ge "$KILL_ROUNDS" ] && [ $in_ingest -ge 2 ] && [ $in_send -ge 2 ]; then
		pd_ok "kill: $kills kill -9 rounds, $in_ingest while storing, $in_send while sending"
	else
		pd_fail "kill: kill -9 rounds while storing and while sending" \
			"$kills rounds, $in_ingest while storing, $in_send while sending"
	fi

	# Then a normal run to the end: --once until it has nothing left to do.
	local i rc=1
	for i in 1 2 3 4 5; do
		pd_daemon_once "$CONF" "$T/kill.final.$i.log"
		rc=$?
		[ $rc = 0 ] && break
		sessions_gone
	done
	pd_check_eq "kill: the run after the last kill finishes with exit 0" 0 "$rc"

	pd_check_eq "kill: every mail stored exactly once" "$KILL_MAILS $KILL_MAILS" \
		"$(count "SELECT count(*) || ' ' || count(DISTINCT message_id) FROM messages WHERE direction = 'in'")"
	pd_check_eq "kill: no Message-ID stored twice" 0 \
		"$(count "SELECT count(*) FROM (SELECT message_id FROM messages WHERE direction = 'in'
			GROUP BY message_id HAVING count(*) > 1) d")"
	pd_check_eq "kill: one ticket per mail that answers no other ($GEN_NEW)" "$GEN_NEW" \
		"$(count "SELECT count(*) FROM tickets")"
	pd_check_eq "kill: every mail in INBOX, none left unseen" "$KILL_MAILS 0" \
		"$(pd_mailbox_count "$U" INBOX) $(pd_mailbox_count "$U" INBOX unseen)"
	pd_check_eq "kill: one acknowledgement queued per ticket, no ticket without one" \
		"$GEN_NEW $GEN_NEW 0" \
		"$(count "SELECT count(*) || ' ' || count(DISTINCT ticket_id) || ' ' ||
			(SELECT count(*) FROM tickets t WHERE NOT EXISTS
			  (SELECT 1 FROM outbox o WHERE o.ticket_id = t.id AND o.kind = 'ack'))
			FROM outbox WHERE kind = 'ack'")"
	pd_check_eq "kill: one agents' notice queued per mail, on every ticket" "$KILL_MAILS $GEN_NEW" \
		"$(count "SELECT count(*) || ' ' || count(DISTINCT ticket_id) FROM outbox WHERE kind = 'notice'")"
	pd_check_eq "kill: one ack.queued event per ticket" "$GEN_NEW $GEN_NEW" \
		"$(count "SELECT count(*) || ' ' || count(DISTINCT ticket_id) FROM events WHERE kind = 'ack.queued'")"
	pd_check_eq "kill: every outbox row sent, none stuck in 'sending'" "sent" \
		"$(count "SELECT string_agg(DISTINCT status, ',') FROM outbox")"

	local rows missing unknown dups unexplained
	read -r rows missing unknown dups unexplained < <(sink_verdict)
	pd_log "kill: $rows answers, $dups second copies in the sink after $kills kills, $(sink_ambiguous | wc -l) ambiguous"
	pd_check_eq "kill: every answer's Message-ID arrived in the sink" 0 "$missing"
	pd_check_eq "kill: the sink got nothing that is not in the outbox" 0 "$unknown"
	pd_check_eq "kill: every second copy follows one the sink saw its client vanish after 250" \
		0 "$unexplained"
	if [ "$dups" -le "$kills" ]; then
		pd_ok "kill: second copies ($dups) no more than kills ($kills)"
	else
		pd_fail "kill: second copies no more than kills" "$dups second copies, $kills kills"
	fi
}

# ------------------------------------------------------------------ PostgreSQL restart mid-batch

sc_pgrestart() {
	setup pgrestart processed= 'extra=batch_size = 50'
	local total=400 n i
	genmail "$U" $total 11
	pd_daemon_start "$CONF" "$T/pgrestart.log"
	n=0
	for i in $(seq 1 600); do
		n=$(count "SELECT count(*) FROM messages WHERE direction = 'in'")
		[ "$n" -ge 50 ] && break
		sleep 0.05
	done
	pg_stop || pd_die "stopping PostgreSQL failed"
	pd_log "pgrestart: PostgreSQL stopped with $n of $total mails stored"
	sleep 1
	pg_start || pd_die "starting PostgreSQL again failed"
	if [ "$n" -ge 50 ] && [ "$n" -lt $total ]; then
		pd_ok "pgrestart: PostgreSQL restarted in the middle of the backlog ($n of $total stored)"
	else
		pd_fail "pgrestart: PostgreSQL restarted in the middle of the backlog" "$n of $total stored"
	fi
	pd_check_eq "pgrestart: the daemon stores the rest" $total \
		"$(wait_for 120 "SELECT count(*) FROM messages WHERE direction = 'in'" $total)"
	pd_check_eq "pgrestart: and sends every answer" 0 \
		"$(wait_for 120 "SELECT count(*) FROM outbox WHERE status <> 'sent'" 0)"
	pd_check_eq "pgrestart: none left unseen in INBOX" 0 "$(wait_unseen 20 "$U" 0)"
	pd_check "pgrestart: the daemon is still running" kill -0 "$PD_DAEMON_PID"
	pd_check "pgrestart: the ingest logs the lost database and retries" \
		grep -q "mailbox=support: .*PostgreSQL.*retrying in" "$T/pgrestart.log"
	stop_daemon pgrestart
	pd_check_eq "pgrestart: every mail stored exactly once" "$total $total" \
		"$(count "SELECT count(*) || ' ' || count(DISTINCT message_id) FROM messages WHERE direction = 'in'")"
	pd_check_eq "pgrestart: one ticket per new mail ($GEN_NEW), one acknowledgement each" \
		"$GEN_NEW $GEN_NEW $GEN_NEW" \
		"$(count "SELECT (SELECT count(*) FROM tickets) || ' ' || count(*) || ' ' || count(DISTINCT ticket_id)
			FROM outbox WHERE kind = 'ack'")"
	local rows missing unknown dups unexplained
	read -r rows missing unknown dups unexplained < <(sink_verdict)
	pd_check_eq "pgrestart: every answer in the sink exactly once" "$rows 0 0 0" \
		"$rows $missing $unknown $dups"
}

# ------------------------------------------------------------------ the database lost after a 250

sc_sentlost() {
	setup sentlost
	# The first UPDATE to 'sent' ends its own database session: as if
	# PostgreSQL went away just after the SMTP server accepted the mail.
	# One shot: a sequence does not roll back with the failed statement.
	count "CREATE SEQUENCE faults_shot;
		CREATE FUNCTION faults_die() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
		  IF NEW.status = 'sent' THEN
		    IF nextval('faults_shot') = 1 THEN
		      PERFORM pg_terminate_backend(pg_backend_pid());
		    END IF;
		  END IF;
		  RETURN NEW;
		END \$\$;
		CREATE TRIGGER faults_die BEFORE UPDATE ON outbox
		  FOR EACH ROW EXECUTE FUNCTION faults_die()" >/dev/null || pd_die "sentlost: trigger"
	mail "$T/sl1.eml" "kim@customer.example" "Answer me once" "<sl1@customer.example>"
	pd_deliver "$U" "$T/sl1.eml"
	pd_daemon_start "$CONF" "$T/sentlost.log"
	pd_check_eq "sentlost: both answers end up sent" 2 \
		"$(wait_for 60 "SELECT count(*) FROM outbox WHERE status = 'sent'" 2)"
	pd_check_eq "sentlost: the accepted acknowledgement was not claimed again (1 attempt)" 1 \
		"$(count "SELECT attempts FROM outbox WHERE kind = 'ack'")"
	pd_check "sentlost: the lost 'sent' is logged" \
		grep -q "accepted by the server but not recorded as sent" "$T/sentlost.log"
	pd_check "sentlost: and recorded once the database is back, not sent again" \
		grep -q "action=sent: recorded now that the database is back" "$T/sentlost.log"
	stop_daemon sentlost
	local rows missing unknown dups unexplained
	read -r rows missing unknown dups unexplained < <(sink_verdict)
	pd_check_eq "sentlost: each answer in the sink exactly once" "2 0 0 0" \
		"$rows $missing $unknown $dups"
}

# ------------------------------------------------------------------ whose claims may be taken

sc_claims() {
	setup claims
	mail "$T/cl1.eml" "lee@customer.example" "Claimed elsewhere" "<cl1@customer.example>"
	pd_deliver "$U" "$T/cl1.eml"
	echo "451 4.3.0 sink: try again later" >"$PD_SINK_DIR/reply"
	pd_daemon_once "$CONF" "$T/claims.1.log"
	rm -f "$PD_SINK_DIR/reply"
	# another instance's session claims both answers and stays alive
	PGAPPNAME=faults-claimer psql -X -q -U postdesk -d "$DB" \
		-c "UPDATE outbox SET status = 'sending', lease_until = now() + interval '5 minutes',
			claimed_pid = pg_backend_pid(), claimed_backend_start =
			(SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())" \
		-c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
	local claimer=$!
	PD_BG_PIDS="$PD_BG_PIDS $claimer"
	pd_check_eq "claims: a live session holds both answers" 1 \
		"$(wait_for 20 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'faults-claimer'
			AND wait_event = 'PgSleep'" 1)"
	pd_daemon_once "$CONF" "$T/claims.2.log"
	pd_check_eq "claims: the daemon leaves a live session's rows alone" "0 2" \
		"$? $(count "SELECT count(*) FROM outbox WHERE status = 'sending'")"
	pd_check_eq "claims: nothing sent meanwhile" 0 "$(sink_ids | wc -l)"
	count "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'faults-claimer'" >/dev/null
	wait "$claimer" 2>/dev/null
	forget_pid "$claimer"
	wait_for 20 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'faults-claimer'" 0 \
		>/dev/null
	pd_daemon_once "$CONF" "$T/claims.3.log"
	pd_check_eq "claims: once that session has ended they are sent at once, lease or not" "0 2" \
		"$? $(count "SELECT count(*) FROM outbox WHERE status = 'sent'")"
	local rows missing unknown dups unexplained
	read -r rows missing unknown dups unexplained < <(sink_verdict)
	pd_check_eq "claims: each answer in the sink exactly once" "2 0 0 0" \
		"$rows $missing $unknown $dups"
}

# ------------------------------------------------------------------ Dovecot restart during IDLE

sc_idle() {
	setup idle smtp=no
	local i
	mail "$T/idle1.eml" "ann@customer.example" "Before the restart" "<idle1@customer.example>"
	mail "$T/idle2.eml" "bob@customer.example" "While Dovecot is down" "<idle2@customer.example>"
	mail "$T/idle3.eml" "cid@customer.example" "After the restart" "<idle3@customer.example>"
	pd_daemon_start "$CONF" "$T/idle.log"
	pd_deliver "$U" "$T/idle1.eml"
	pd_check_eq "idle: the first mail is stored" 1 \
		"$(wait_for 30 "SELECT count(*) FROM messages" 1)"
	for i in $(seq 1 100); do
		grep -q "using IDLE" "$T/idle.log" && break
		sleep 0.1
	done
	sleep 0.5 # into IDLE after the round that stored the mail
	pd_check "idle: the daemon waits in IDLE" grep -q "using IDLE" "$T/idle.log"

	pd_stop_dovecot
	# a mail arrives meanwhile, straight into the Maildir (as an MDA would)
	local new=$PD_MAIL_DIR/$U/Maildir/new/$(date +%s).faults-idle2.$$
	cp "$T/idle2.eml" "$new" && chown "$PD_MAIL_UID:$PD_MAIL_GID" "$new" ||
		pd_die "idle: writing into the Maildir failed"
	sleep 2
	pd_check "idle: the daemon survives the server going away" kill -0 "$PD_DAEMON_PID"
	dovecot_start_again || pd_die "Dovecot did not start again"
	pd_deliver "$U" "$T/idle3.eml"
	pd_check_eq "idle: after the restart it reconnects and stores both mails" 3 \
		"$(wait_for 90 "SELECT count(*) FROM messages" 3)"
	pd_check_eq "idle: INBOX drained" 0 "$(pd_mailbox_count "$U" INBOX)"
	pd_check "idle: the lost connection is logged with a retry" \
		grep -q "mailbox=support: .*retrying in" "$T/idle.log"
	pd_check_eq "idle: connected twice (once again after the restart)" 2 \
		"$(grep -c 'mailbox=support: connected to' "$T/idle.log")"
	pd_check_eq "idle: every mail stored exactly once" "3 3" \
		"$(count "SELECT count(*) || ' ' || count(DISTINCT message_id) FROM messages")"
	stop_daemon idle
}

# ------------------------------------------------------------------ SMTP 421, 451, then 250

sc_smtptemp() {
	setup smtptemp
	mail "$T/st1.eml" "dan@customer.example" "Temporary trouble" "<st1@customer.example>"
	pd_deliver "$U" "$T/st1.eml"
	echo "421 4.3.2 sink: shutting down, closing connection" >"$PD_SINK_DIR/reply"
	pd_daemon_once "$CONF" "$T/smtptemp.1.log"
	pd_check_eq "smtptemp: 421: --once exits 0, the mail is stored" "0 1" \
		"$? $(count "SELECT count(*) FROM messages WHERE direction = 'in'")"
	pd_check_eq "smtptemp: 421: nothing accepted" 0 "$(sink_ids | wc -l)"
	pd_check_eq "smtptemp: 421: both answers wait for a retry, with the reason" "2 2" \
		"$(count "SELECT count(*) FILTER (WHERE status = 'queued' AND next_attempt_at > now()) || ' ' ||
			count(*) FILTER (WHERE last_error LIKE '%421%') FROM outbox")"
	pd_check "smtptemp: 421: logged as a retry" grep -q "action=retry.*421" "$T/smtptemp.1.log"

	echo "451 4.3.0 sink: try again later" >"$PD_SINK_DIR/reply"
	count "UPDATE outbox SET next_attempt_at = now()" >/dev/null
	pd_daemon_once "$CONF" "$T/smtptemp.2.log"
	pd_check_eq "smtptemp: 451: --once exits 0, nothing accepted" "0 0" "$? $(sink_ids | wc -l)"
	pd_check_eq "smtptemp: 451: still waiting, second attempt, the new reason" "2 2" \
		"$(count "SELECT count(*) FILTER (WHERE status = 'queued' AND attempts = 2) || ' ' ||
			count(*) FILTER (WHERE last_error LIKE '%451%') FROM outbox")"
	count "UPDATE outbox SET next_attempt_at = now()" >/dev/null
	pd_daemon_once "$CONF" "$T/smtptemp.3.log"
	pd_check_eq "smtptemp: 451 once more: still queued" "2" \
		"$(count "SELECT count(*) FROM outbox WHERE status = 'queued' AND attempts = 3")"

	rm -f "$PD_SINK_DIR/reply"
	count "UPDATE outbox SET next_attempt_at = now()" >/dev/null
	pd_daemon_once "$CONF" "$T/smtptemp.4.log"
	pd_check_eq "smtptemp: 250: both rows sent on the fourth attempt" "2" \
		"$(count "SELECT count(*) FROM outbox WHERE status = 'sent' AND attempts = 4 AND last_error IS NULL")"
	pd_daemon_once "$CONF" "$T/smtptemp.5.log"
	local rows missing unknown dups unexplained
	read -r rows missing unknown dups unexplained < <(sink_verdict)
	pd_check_eq "smtptemp: each answer in the sink exactly once" "2 0 0 0" \
		"$rows $missing $unknown $dups"
}

# ------------------------------------------------------------------ SMTP 550

sc_smtpperm() {
	setup smtpperm
	mail "$T/sp1.eml" "eve@customer.example" "Refused answer" "<sp1@customer.example>"
	pd_deliver "$U" "$T/sp1.eml"
	echo "550 5.1.1 sink: mailbox unavailable" >"$PD_SINK_DIR/reply"
	pd_daemon_once "$CONF" "$T/smtpperm.1.log"
	pd_check_eq "smtpperm: --once exits 0, the mail is stored" "0 1" \
		"$? $(count "SELECT count(*) FROM messages WHERE direction = 'in'")"
	pd_check_eq "smtpperm: both rows failed after one attempt, with the server's reason" "2" \
		"$(count "SELECT count(*) FROM outbox WHERE status = 'failed' AND attempts = 1
			AND last_error LIKE '%550 5.1.1%'")"
	pd_check_eq "smtpperm: a mail.failed event on the ticket for each" 2 \
		"$(count "SELECT count(*) FROM events WHERE kind = 'mail.failed' AND ticket_id IS NOT NULL")"
	pd_check "smtpperm: logged as failed with the reply" \
		grep -q "action=failed.*550" "$T/smtpperm.1.log"
	pd_cli "$CONF" outbox >"$T/smtpperm.outbox"
	pd_check "smtpperm: postdesk outbox shows them failed with the reason" \
		grep -q "failed.*550 5.1.1" "$T/smtpperm.outbox"
	# not retried: neither by later runs nor when the server would accept now
	pd_daemon_once "$CONF" "$T/smtpperm.2.log"
	rm -f "$PD_SINK_DIR/reply"
	pd_daemon_once "$CONF" "$T/smtpperm.3.log"
	pd_check_eq "smtpperm: later runs do not retry (still failed, 1 attempt, nothing sent)" "2 0" \
		"$(count "SELECT count(*) FROM outbox WHERE status = 'failed' AND attempts = 1") $(sink_ids | wc -l)"
}

# ------------------------------------------------------------------ a wrong password next to a good one

# refusals SECONDS N: until the bad mailbox was refused N times.
refusals() {
	local end=$((SECONDS + $1)) n=0
	while :; do
		n=$(grep -c "mailbox=support: .*login as f_bad refused" "$T/auth.log")
		[ "$n" -ge "$2" ] || [ $SECONDS -ge $end ] && break
		sleep 0.2
	done
	echo "$n"
}

sc_auth() {
	setup auth user=f_bad password=wrong-password \
		"extra=mailbox \"good\" { url = \"imap://127.0.0.1:$PD_IMAP_PORT/INBOX\" tls = \"none\" user = \"f_good\" password = \"secret\" processed_folder = \"Processed\" }"
	local i
	mail "$T/au0.eml" "fay@customer.example" "To the bad mailbox" "<au0@customer.example>"
	mail "$T/au1.eml" "gus@customer.example" "First to the good one" "<au1@customer.example>"
	mail "$T/au2.eml" "hal@customer.example" "Second to the good one" "<au2@customer.example>"
	pd_deliver f_bad "$T/au0.eml"
	pd_deliver f_good "$T/au1.eml"
	pd_daemon_start "$CONF" "$T/auth.log"
	pd_check_eq "auth: the good mailbox's mail is stored" 1 \
		"$(wait_for 30 "SELECT count(*) FROM messages WHERE direction = 'in'" 1)"
	# the bad mailbox fails, backs off, fails again meanwhile
	refusals 40 2 >/dev/null
	pd_deliver f_good "$T/au2.eml"
	pd_check_eq "auth: and the good one keeps flowing" 2 \
		"$(wait_for 30 "SELECT count(*) FROM messages WHERE direction = 'in'" 2)"
	pd_check_eq "auth: only mail of the good mailbox is stored" "0 2" \
		"$(count "SELECT count(*) FILTER (WHERE message_id = 'au0@customer.example') || ' ' ||
			count(*) FILTER (WHERE message_id IN ('au1@customer.example', 'au2@customer.example'))
			FROM messages WHERE direction = 'in'")"
	pd_check "auth: the refusal is logged with the user and the server" \
		grep -q "mailbox=support: .*login as f_bad refused by 127.0.0.1" "$T/auth.log"
	# "retrying in Ns" of each refusal: 1 s doubling, +-20 %, rounded up
	# (1-2, 2-3, 4-5 ...): the third longer than the first
	local delays
	refusals 40 3 >/dev/null
	delays=$(grep "mailbox=support: .*login as f_bad refused" "$T/auth.log" |
		sed -n 's/.*retrying in \([0-9]*\)s$/\1/p' | tr '\n' ' ')
	set -- $delays
	if [ $# -ge 3 ] && [ "$3" -gt "$1" ]; then
		pd_ok "auth: the bad mailbox is retried with a growing backoff (${delays% }s)"
	else
		pd_fail "auth: the bad mailbox is retried with a growing backoff" \
			"$(grep "mailbox=support:" "$T/auth.log")"
	fi
	if grep -q "wrong-password" "$T/auth.log"; then
		pd_fail "auth: the password never reaches the log"
	else
		pd_ok "auth: the password never reaches the log"
	fi
	pd_check_eq "auth: the bad mailbox's mail stays unseen on the server" "1 1" \
		"$(pd_mailbox_count f_bad INBOX) $(pd_mailbox_count f_bad INBOX unseen)"
	pd_check_eq "auth: the good mailbox is drained" 0 "$(pd_mailbox_count f_good INBOX)"
	pd_cli "$CONF" mailboxes --json >"$T/auth.mailboxes.json"
	pd_check_eq "auth: postdesk mailboxes: support failing (login refused), good ok" "failing True ok" \
		"$(pd_json "$T/auth.mailboxes.json" "' '.join([m['state'] for m in d if m['name'] == 'support'] +
			[str(any('refused' in (m.get('last_error') or '') for m in d if m['name'] == 'support'))] +
			[m['state'] for m in d if m['name'] == 'good'])")"
	pd_check "auth: the daemon is still running" kill -0 "$PD_DAEMON_PID"
	stop_daemon auth
}

# ------------------------------------------------------------------ statement timeout

sc_timeout() {
	setup timeout processed=
	# the daemon's own statement timeout, short, in its database section
	sed -i 's|^database { conninfo = \("[^"]*"\) }|database { conninfo = \1  statement_timeout = "1s" }|' "$CONF"
	grep -q 'statement_timeout = "1s"' "$CONF" || pd_die "timeout: could not set statement_timeout"
	mail "$T/to1.eml" "ida@customer.example" "Stuck behind a lock" "<to1@customer.example>"
	pd_deliver "$U" "$T/to1.eml"
	# another session holds a lock on the messages table, as a long migration would
	PGAPPNAME=faults-locker psql -X -q -U postdesk -d "$DB" \
		-c "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" \
		>/dev/null 2>&1 &
	local locker=$!
	PD_BG_PIDS="$PD_BG_PIDS $locker"
	pd_check_eq "timeout: another session holds the lock" 1 \
		"$(wait_for 20 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'faults-locker'
			AND wait_event = 'PgSleep'" 1)"
	pd_daemon_once "$CONF" "$T/timeout.1.log"
	pd_check_eq "timeout: --once says not everything was stored (exit 75)" 75 $?
	pd_check "timeout: the log names the statement timeout" \
		grep -q "statement timeout" "$T/timeout.1.log"
	pd_check_eq "timeout: the mail stays unseen on the server" "1 1" \
		"$(pd_mailbox_count "$U" INBOX) $(pd_mailbox_count "$U" INBOX unseen)"
	pd_daemon_once "$CONF" "$T/timeout.2.log"
	pd_check_eq "timeout: retried by the next run, fails the same way" 75 $?
	count "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'faults-locker'" >/dev/null
	wait "$locker" 2>/dev/null
	forget_pid "$locker"
	pd_daemon_once "$CONF" "$T/timeout.3.log"
	pd_check_eq "timeout: once the lock is gone the run exits 0" 0 $?
	pd_check_eq "timeout: the mail is stored exactly once, with its ticket and answers" "1 1 2" \
		"$(count "SELECT (SELECT count(*) FROM messages WHERE direction = 'in') || ' ' ||
			(SELECT count(*) FROM tickets) || ' ' || (SELECT count(*) FROM outbox WHERE status = 'sent')")"
	pd_check_eq "timeout: nothing left unseen" 0 "$(pd_mailbox_count "$U" INBOX unseen)"
}

# ------------------------------------------------------------------ timeout mid-batch

# A mail whose parsed form takes the server longer than statement_timeout to
# store (here a trigger sleeps on its subject; in life a huge text on a
# loaded machine), third of five in one batch.  Without care that batch
# would time out on every round and the mailbox would stall behind it.
sc_midbatch() {
	setup midbatch processed=
	sed -i 's|^database { conninfo = \("[^"]*"\) }|database { conninfo = \1  statement_timeout = "1s" }|' "$CONF"
	grep -q 'statement_timeout = "1s"' "$CONF" || pd_die "midbatch: could not set statement_timeout"
	count "CREATE FUNCTION faults_slow() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN IF NEW.subject LIKE '%[slow]%' THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END \$\$;
		CREATE TRIGGER faults_slow BEFORE INSERT ON messages
		FOR EACH ROW EXECUTE FUNCTION faults_slow()" >/dev/null || pd_die "midbatch: trigger"
	local i subj
	for i in 1 2 3 4 5; do
		subj="Question $i"
		[ "$i" = 3 ] && subj="Question $i [slow]"
		mail "$T/mb$i.eml" "u$i@customer.example" "$subj" "<mb$i@customer.example>"
		pd_deliver "$U" "$T/mb$i.eml"
	done
	pd_daemon_once "$CONF" "$T/midbatch.1.log"
	pd_check_eq "midbatch: --once exits 0" 0 $?
	pd_check "midbatch: the log names the statement timeout and the smaller pieces" \
		grep -q "ran past the statement timeout.*smaller pieces" "$T/midbatch.1.log"
	pd_check_eq "midbatch: all five stored once, the slow one raw on a flagged ticket" \
		"mb1@customer.example f
mb2@customer.example f
mb3@customer.example t
mb4@customer.example f
mb5@customer.example f" \
		"$(count "SELECT m.message_id || ' ' || left(t.flagged::text, 1) FROM messages m
			JOIN tickets t ON t.id = m.ticket_id WHERE m.direction = 'in' ORDER BY m.message_id")"
	pd_check "midbatch: its ticket says why" test -n "$(count "SELECT 1 FROM tickets t
		JOIN messages m ON m.ticket_id = t.id WHERE m.message_id = 'mb3@customer.example'
		AND t.flag_reason LIKE '%statement_timeout%'")"
	pd_check_eq "midbatch: nothing left unseen" 0 "$(pd_mailbox_count "$U" INBOX unseen)"
	# the mailbox goes on: the next mail is stored by the next run
	mail "$T/mb6.eml" "u6@customer.example" "Question 6" "<mb6@customer.example>"
	pd_deliver "$U" "$T/mb6.eml"
	pd_daemon_once "$CONF" "$T/midbatch.2.log"
	pd_check_eq "midbatch: the next run exits 0" 0 $?
	pd_check_eq "midbatch: and stores the next mail" 1 \
		"$(count "SELECT count(*) FROM messages WHERE message_id = 'mb6@customer.example'")"
	pd_check_eq "midbatch: six mails, six tickets, no duplicate" "6 6" \
		"$(count "SELECT (SELECT count(*) FROM messages WHERE direction = 'in') || ' ' ||
			(SELECT count(*) FROM tickets)")"
}

# ------------------------------------------------------------------ disk full

sc_diskfull() {
	setup diskfull processed=
	local dir=$T/tinyfs
	mkdir -p "$dir"
	if ! pd_is_root || ! mount -t tmpfs -o size=1m,mode=0755 faults-tiny "$dir" 2>"$T/diskfull.mount"; then
		pd_ok "diskfull: # SKIP cannot mount a tmpfs ($(pd_is_root && cat "$T/diskfull.mount" || echo "not root"))"
		return 0
	fi
	TINY_FS=$dir
	mkdir -p "$dir/ts"
	chown postgres: "$dir/ts"
	# the raw mail goes to a tablespace on a 1 MB file system
	psql -X -q -U postgres -d "$DB" -v ON_ERROR_STOP=1 \
		-c "CREATE TABLESPACE faults_tiny OWNER postdesk LOCATION '$dir/ts'" \
		-c "ALTER TABLE message_raw SET TABLESPACE faults_tiny" >/dev/null ||
		pd_die "diskfull: tablespace"
	# three mails of 400 KB that do not compress: the disk fills on the third
	local i
	for i in 1 2 3; do
		head -c 300000 /dev/urandom >"$T/df$i.bin"
		$MKMAIL --from "jon$i@customer.example" --subject "Big attachment $i" \
			--message-id "<df$i@customer.example>" --body "See the attachment." \
			--attach "$T/df$i.bin:application/octet-stream" >"$T/df$i.eml" || pd_die "mkmail"
		pd_deliver "$U" "$T/df$i.eml"
	done
	pd_daemon_once "$CONF" "$T/diskfull.1.log"
	pd_check_eq "diskfull: --once says not everything was stored (exit 75)" 75 $?
	pd_check "diskfull: the log says the disk is full" \
		grep -qi "No space left on device\|could not extend" "$T/diskfull.1.log"
	local stored
	stored=$(count "SELECT count(*) FROM messages WHERE direction = 'in'")
	pd_check_eq "diskfull: what was not stored stays unseen on the server" "$((3 - stored))" \
		"$(pd_mailbox_count "$U" INBOX unseen)"
	# the operator makes room
	mount -o remount,size=64m "$dir" || pd_die "diskfull: remount"
	pd_daemon_once "$CONF" "$T/diskfull.2.log"
	pd_check_eq "diskfull: with room again the run exits 0" 0 $?
	pd_check_eq "diskfull: all three stored exactly once, raw bytes intact" "3 3 3" \
		"$(count "SELECT count(*) || ' ' || count(DISTINCT message_id) || ' ' ||
			count(*) FILTER (WHERE raw_size > 400000) FROM messages WHERE direction = 'in'")"
	pd_check_eq "diskfull: nothing left unseen" 0 "$(pd_mailbox_count "$U" INBOX unseen)"
	psql -X -q -U postgres -d "$DB" -c "ALTER TABLE message_raw SET TABLESPACE pg_default" \
		-c "DROP TABLESPACE faults_tiny" >/dev/null 2>&1
	umount -l "$dir" && TINY_FS=
}

for s in $SCENARIOS; do
	"sc_$s"
done
pd_finish
