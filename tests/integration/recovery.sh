#!/bin/bash
# tests/integration/recovery.sh - what happens when the world moves under
# postdeskd: the IMAP server resets UIDVALIDITY, the database schema is newer
# than the binary, PostgreSQL goes away while the daemon waits in IDLE.
# Real PostgreSQL and Dovecot on loopback (tests/integration/lib.sh).
#
#   top_srcdir=. top_builddir=build tests/integration/recovery.sh [SCENARIO...]
# Scenarios: uidvalidity newer dbdown stop auth poison deferred window notify reload metrics
# secret
# (default: all).

. "$(dirname "$0")/lib.sh"

MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"
ALL_SCENARIOS="uidvalidity newer dbdown stop auth poison deferred window notify reload metrics secret"
SCENARIOS=${*:-$ALL_SCENARIOS}

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres
users=
for s in $ALL_SCENARIOS; do users="$users r_$s"; done
pd_start_dovecot $users r_reload2 r_reload3
pd_log "PostgreSQL :$PGPORT  Dovecot imap :$PD_IMAP_PORT  in $T"

setup() {
	X=$1
	shift
	DB=pr_$X
	U=r_$X
	CONF=$T/$X.conf
	pd_log "---- scenario $X"
	pd_createdb "$DB" || pd_die "createdb $DB"
	pd_write_config "$CONF" db="$DB" user="$U" smtp=no "$@"
	pd_cli "$CONF" migrate >/dev/null || pd_die "migrate $DB"
}

mail() { # FILE FROM SUBJECT MESSAGE-ID
	$MKMAIL --from "$2" --subject "$3" --message-id "$4" --body "Body of $3" >"$1" ||
		pd_die "mkmail $1"
}

count() { pd_psql "$DB" "$1"; }

# ------------------------------------------------------------------ UIDVALIDITY reset

sc_uidvalidity() {
	setup uidvalidity processed=
	mail "$T/uv1.eml" "ann@customer.example" "First question" "<uv1@customer.example>"
	mail "$T/uv2.eml" "bob@customer.example" "Second question" "<uv2@customer.example>"
	pd_deliver "$U" "$T/uv1.eml"
	pd_deliver "$U" "$T/uv2.eml"
	pd_daemon_once "$CONF" "$T/uv.1.log"
	pd_check_eq "uidvalidity: first run exits 0" 0 $?
	local before
	before=$(count "SELECT uidvalidity FROM mailbox_state")

	# The server rebuilds its index: new UIDVALIDITY, flags lost, one new mail.
	pd_doveadm mailbox update -u "$U" --uid-validity $((before + 1000)) INBOX ||
		pd_die "doveadm mailbox update failed"
	pd_doveadm flags remove -u "$U" '\Seen' mailbox INBOX all || pd_die "doveadm flags failed"
	mail "$T/uv3.eml" "cid@customer.example" "Third question" "<uv3@customer.example>"
	pd_deliver "$U" "$T/uv3.eml"
	pd_daemon_once "$CONF" "$T/uv.2.log"
	pd_check_eq "uidvalidity: run after the reset exits 0" 0 $?
	pd_check "uidvalidity: the change is logged" grep -q "UIDVALIDITY changed" "$T/uv.2.log"
	pd_check_eq "uidvalidity: new UIDVALIDITY recorded" $((before + 1000)) \
		"$(count "SELECT uidvalidity FROM mailbox_state")"
	pd_check_eq "uidvalidity: rescan stores only the new mail (3 messages, 3 tickets)" "3 3" \
		"$(count "SELECT (SELECT count(*) FROM messages) || ' ' || (SELECT count(*) FROM tickets)")"
	pd_check_eq "uidvalidity: everything seen again" 0 "$(pd_mailbox_count "$U" INBOX unseen)"
}

# ------------------------------------------------------------------ schema newer than the binary

sc_newer() {
	setup newer
	mail "$T/nw1.eml" "dan@customer.example" "Schema test" "<nw1@customer.example>"
	pd_deliver "$U" "$T/nw1.eml"
	count "INSERT INTO schema_version (version, name) VALUES (9999, '9999_future.sql')" >/dev/null
	pd_daemon_once "$CONF" "$T/nw.log"
	pd_check_eq "newer: daemon refuses a newer schema (exit 78)" 78 $?
	pd_check "newer: the log says to upgrade" grep -q "newer than this postdesk" "$T/nw.log"
	pd_check_eq "newer: the mail stays unseen on the server" 1 \
		"$(pd_mailbox_count "$U" INBOX unseen)"
	"$top_builddir/postdesk" -c "$CONF" tickets >/dev/null 2>"$T/nw.cli"
	pd_check_eq "newer: the CLI refuses too (exit 78)" 78 $?
	"$top_builddir/postdesk" -c "$CONF" migrate >/dev/null 2>"$T/nw.migrate"
	pd_check_eq "newer: migrate refuses to go backwards (exit 78)" 78 $?
}

# ------------------------------------------------------------------ PostgreSQL outage

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

sc_dbdown() {
	setup dbdown
	mail "$T/db1.eml" "eve@customer.example" "Before the outage" "<db1@customer.example>"
	mail "$T/db2.eml" "fay@customer.example" "During the outage" "<db2@customer.example>"
	pd_deliver "$U" "$T/db1.eml"
	pd_daemon_start "$CONF" "$T/db.log"
	local i n=0
	for i in $(seq 1 100); do
		n=$(count "SELECT count(*) FROM messages")
		[ "$n" = 1 ] && break
		sleep 0.1
	done
	pd_check_eq "dbdown: the running daemon stores the first mail" 1 "$n"

	pg_stop || pd_die "stopping PostgreSQL failed"
	pd_deliver "$U" "$T/db2.eml"
	sleep 3
	pd_check "dbdown: the daemon is still running" kill -0 "$PD_DAEMON_PID"
	pd_check_eq "dbdown: the mail stays in INBOX while the database is down" 1 \
		"$(pd_mailbox_count "$U" INBOX)"
	pd_check "dbdown: the outage is logged with what failed" \
		grep -q "cannot connect to PostgreSQL\|PostgreSQL" "$T/db.log"

	pg_start || pd_die "restarting PostgreSQL failed"
	for i in $(seq 1 600); do
		n=$(count "SELECT count(*) FROM messages" 2>/dev/null)
		[ "$n" = 2 ] && break
		sleep 0.1
	done
	pd_check_eq "dbdown: after the outage the mail is stored" 2 "$n"
	for i in $(seq 1 50); do
		[ "$(pd_mailbox_count "$U" INBOX)" = 0 ] && break
		sleep 0.1
	done
	pd_check_eq "dbdown: and moved out of INBOX" 0 "$(pd_mailbox_count "$U" INBOX)"
	kill -TERM "$PD_DAEMON_PID"
	pd_wait_exit "$PD_DAEMON_PID" 20
	pd_check_eq "dbdown: SIGTERM stops the daemon with exit 0" 0 $?
}

# ------------------------------------------------------------------ SIGTERM in a backlog

sc_stop() {
	setup stop 'extra=batch_size = 20'
	local maildir=$PD_MAIL_DIR/$U/Maildir total=2000 i n=0
	mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp"
	"$PD_PYTHON" "$top_srcdir/bench/genmail.py" $total --maildir "$maildir" --seed 3 \
		--owner "$PD_MAIL_UID:$PD_MAIL_GID" || pd_die "genmail failed"
	chown -R "$PD_MAIL_UID:$PD_MAIL_GID" "$maildir"
	pd_check_eq "stop: backlog in INBOX" $total "$(pd_mailbox_count "$U" INBOX)"
	pd_daemon_start "$CONF" "$T/stop.log"
	for i in $(seq 1 600); do
		n=$(count "SELECT count(*) FROM messages")
		[ "$n" -ge 40 ] && break
		sleep 0.05
	done
	kill -TERM "$PD_DAEMON_PID"
	pd_wait_exit "$PD_DAEMON_PID" 15
	pd_check_eq "stop: SIGTERM in the middle of a backlog exits 0 promptly" 0 $?
	n=$(count "SELECT count(*) FROM messages")
	if [ "$n" -lt $total ]; then
		pd_ok "stop: it stopped before the end of the backlog ($n of $total stored)"
	else
		pd_fail "stop: it stopped before the end of the backlog" "all $n stored"
	fi
	pd_check "stop: the early stop is logged" grep -q "left on the server" "$T/stop.log"
	pd_daemon_once "$CONF" "$T/stop.2.log"
	pd_check_eq "stop: the next run exits 0" 0 $?
	pd_check_eq "stop: every mail stored exactly once" "$total $total" \
		"$(count "SELECT count(*) || ' ' || count(DISTINCT message_id) FROM messages")"
	pd_check_eq "stop: INBOX drained" 0 "$(pd_mailbox_count "$U" INBOX)"
}

# ------------------------------------------------------------------ authentication

sc_auth() {
	local mech
	setup auth
	for mech in plain login; do
		pd_write_config "$CONF" db="$DB" user="$U" smtp=no "mailbox_extra=auth = \"$mech\""
		mail "$T/auth-$mech.eml" "gus@customer.example" "Auth $mech" "<auth-$mech@customer.example>"
		pd_deliver "$U" "$T/auth-$mech.eml"
		pd_daemon_once "$CONF" "$T/auth-$mech.log"
		pd_check_eq "auth: $mech: postdeskd --once exits 0" 0 $?
		pd_check_eq "auth: $mech: the mail is stored" 1 \
			"$(count "SELECT count(*) FROM messages WHERE subject = 'Auth $mech'")"
	done
	pd_write_config "$CONF" db="$DB" user="$U" smtp=no password=wrong
	mail "$T/auth-bad.eml" "gus@customer.example" "Auth wrong" "<auth-bad@customer.example>"
	pd_deliver "$U" "$T/auth-bad.eml"
	pd_daemon_once "$CONF" "$T/auth-bad.log"
	pd_check_eq "auth: a refused login exits 69" 69 $?
	pd_check "auth: the log names the user and the server" \
		grep -q "login as $U refused by 127.0.0.1" "$T/auth-bad.log"
	if grep -q "wrong" "$T/auth-bad.log"; then
		pd_fail "auth: the password never reaches the log" "$(grep wrong "$T/auth-bad.log")"
	else
		pd_ok "auth: the password never reaches the log"
	fi
	pd_check_eq "auth: the mail stays on the server" 1 "$(pd_mailbox_count "$U" INBOX)"
	pd_cli "$CONF" mailboxes >"$T/auth.mailboxes"
	pd_check "auth: postdesk mailboxes shows it failing, with the reason" \
		grep -q "failing" "$T/auth.mailboxes"
	pd_check "auth: ... the reason" grep -q "login as $U refused" "$T/auth.mailboxes"
	pd_write_config "$CONF" db="$DB" user="$U" smtp=no
	pd_daemon_once "$CONF" "$T/auth-fixed.log"
	pd_cli "$CONF" mailboxes --json >"$T/auth.mailboxes.json"
	pd_check_eq "auth: after a good poll it is ok again, with its last poll" "ok True" \
		"$(pd_json "$T/auth.mailboxes.json" "d[0]['state'] + ' ' + str(d[0]['last_poll_at'] is not None)")"
}

# ------------------------------------------------------------------ a mail the database refuses

sc_poison() {
	setup poison processed=
	# A trigger stands in for whatever makes PostgreSQL refuse one mail for good,
	# parsed or raw.
	pd_psql "$DB" "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS
		\$\$ BEGIN
		  IF position('POISON' in convert_from(NEW.raw, 'SQL_ASCII')) > 0 THEN
		    RAISE EXCEPTION 'refusing the poison mail';
		  END IF;
		  RETURN NEW;
		END \$\$;
		CREATE TRIGGER refuse_poison BEFORE INSERT ON message_raw
		  FOR EACH ROW EXECUTE FUNCTION refuse_poison()" >/dev/null || pd_die "trigger"
	mail "$T/p1.eml" "hal@customer.example" "Good before" "<p1@customer.example>"
	mail "$T/p2.eml" "ida@customer.example" "POISON" "<p2@customer.example>"
	mail "$T/p3.eml" "jon@customer.example" "Good after" "<p3@customer.example>"
	pd_deliver "$U" "$T/p1.eml"
	pd_deliver "$U" "$T/p2.eml"
	pd_deliver "$U" "$T/p3.eml"
	pd_daemon_once "$CONF" "$T/poison.1.log"
	pd_check_eq "poison: --once finishes and says not everything was stored (exit 75)" 75 $?
	pd_check_eq "poison: the other two mails are stored" 2 "$(count "SELECT count(*) FROM messages")"
	pd_check "poison: the refusal is logged with the uid and the reason" \
		grep -q "uid=2 action=failed.*refusing the poison mail" "$T/poison.1.log"
	pd_check_eq "poison: the refused mail stays unseen on the server" 1 \
		"$(pd_mailbox_count "$U" INBOX unseen)"
	pd_daemon_once "$CONF" "$T/poison.2.log"
	pd_check_eq "poison: a second run retries it, stores nothing twice" "75 2" \
		"$? $(count "SELECT count(*) FROM messages")"
	pd_psql "$DB" "DROP TRIGGER refuse_poison ON message_raw" >/dev/null
	pd_daemon_once "$CONF" "$T/poison.3.log"
	pd_check_eq "poison: once the database accepts it, it is stored" "0 3" \
		"$? $(count "SELECT count(*) FROM messages")"
	pd_check_eq "poison: nothing left unseen" 0 "$(pd_mailbox_count "$U" INBOX unseen)"
}

# A statement whose result nobody waits for (the acknowledgement's outbox row
# travels with the mail's next query) fails: the failure still belongs to
# that mail alone, which is kept raw and flagged; its neighbours are whole.
sc_deferred() {
	setup deferred processed=
	pd_write_config "$CONF" db="$DB" user="$U" processed=
	pd_psql "$DB" "CREATE FUNCTION refuse_ack() RETURNS trigger LANGUAGE plpgsql AS
		\$\$ BEGIN
		  IF NEW.subject LIKE '%REFUSED-ACK%' THEN
		    RAISE EXCEPTION 'refusing the acknowledgement' USING ERRCODE = 'check_violation';
		  END IF;
		  RETURN NEW;
		END \$\$;
		CREATE TRIGGER refuse_ack BEFORE INSERT ON outbox
		  FOR EACH ROW EXECUTE FUNCTION refuse_ack()" >/dev/null || pd_die "trigger"
	mail "$T/d1.eml" "kim@customer.example" "Fine before" "<d1@customer.example>"
	mail "$T/d2.eml" "lea@customer.example" "REFUSED-ACK please" "<d2@customer.example>"
	mail "$T/d3.eml" "max@customer.example" "Fine after" "<d3@customer.example>"
	mail "$T/d4.eml" "ned@customer.example" "REFUSED-ACK last of the batch" "<d4@customer.example>"
	pd_deliver "$U" "$T/d1.eml"
	pd_deliver "$U" "$T/d2.eml"
	pd_deliver "$U" "$T/d3.eml"
	pd_deliver "$U" "$T/d4.eml"
	pd_daemon_once "$CONF" "$T/deferred.1.log"
	pd_check_eq "deferred: --once stores all four (exit 0)" 0 $?
	pd_check_eq "deferred: four mails, four tickets" "4 4" \
		"$(count "SELECT count(*) FROM messages WHERE direction = 'in'") $(count "SELECT count(*) FROM tickets")"
	# uid 2's failure surfaces during uid 3's first query; uid 4's before the checkpoint
	pd_check "deferred: the failing statement is named in the log, for uid 2" \
		grep -q "uid=2: storing the parsed mail failed, keeping it raw: pd_outbox_enqueue failed.*refusing the acknowledgement" "$T/deferred.1.log"
	pd_check "deferred: ... and for uid 4, the last of the batch" \
		grep -q "uid=4: storing the parsed mail failed, keeping it raw: pd_outbox_enqueue failed" "$T/deferred.1.log"
	pd_check_eq "deferred: those mails' tickets are flagged, the others are not" \
		"kim false raw true max false raw true" \
		"$(count "SELECT string_agg(coalesce(nullif(split_part(requester_address, '@', 1), ''), 'raw') || ' ' || flagged::text, ' ' ORDER BY t.id) FROM tickets t")"
	pd_check_eq "deferred: acknowledgements for the other two only, each once" \
		"kim@customer.example max@customer.example" \
		"$(count "SELECT string_agg(to_address, ' ' ORDER BY id) FROM outbox WHERE kind = 'ack'")"
	pd_check_eq "deferred: no half-stored mail (every message has its raw bytes)" 0 \
		"$(count "SELECT count(*) FROM messages m WHERE direction = 'in' AND NOT EXISTS (SELECT 1 FROM message_raw r WHERE r.message_id = m.id)")"
	pd_check_eq "deferred: nothing left unseen" 0 "$(pd_mailbox_count "$U" INBOX unseen)"
}

# A backlog is searched for in windows of UIDs (10,000; 7 here) up to the
# UIDNEXT seen at SELECT, then "N:*": every mail is found, across a gap in the
# UIDs wider than a window too.
sc_window() {
	if ! pd_have_test_hooks; then
		pd_log "window: skipped: postdeskd is built without --enable-test-hooks (PD_TEST_SEARCH_WINDOW)"
		return
	fi
	setup window
	local i
	for i in $(seq 1 40); do
		mail "$T/w$i.eml" "w$i@customer.example" "Window $i" "<w$i@customer.example>"
		pd_deliver "$U" "$T/w$i.eml"
	done
	# UIDs 21..40 are gone before the daemon looks: a gap of 20 UIDs
	pd_doveadm expunge -u "$U" mailbox INBOX uid 21:40 || pd_die "doveadm expunge"
	for i in $(seq 41 45); do
		mail "$T/w$i.eml" "w$i@customer.example" "Window $i" "<w$i@customer.example>"
		pd_deliver "$U" "$T/w$i.eml"
	done
	pd_daemon_once "$CONF" "$T/window.1.log" PD_TEST_SEARCH_WINDOW=7
	pd_check_eq "window: --once exits 0" 0 $?
	pd_check_eq "window: the 25 mails on the server are stored, each once" "25 25" \
		"$(count "SELECT count(*) FROM messages") $(count "SELECT count(DISTINCT message_id) FROM messages")"
	pd_check_eq "window: the ones after the gap too" 5 \
		"$(count "SELECT count(*) FROM messages WHERE subject ~ '^Window 4[1-5]$'")"
	pd_check_eq "window: nothing left in the inbox" 0 "$(pd_mailbox_count "$U" INBOX)"
}

# ------------------------------------------------------------------ systemd notifications

sc_notify() {
	setup notify
	local sock=$PD_SOCK_DIR/notify.sock out=$T/notify.log i
	: >"$out"
	"$PD_PYTHON" - "$sock" "$out" <<-'PY' &
		import socket, sys
		s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
		s.bind(sys.argv[1])
		with open(sys.argv[2], "a") as f:
		    while True:
		        f.write(s.recv(65536).decode() + "\n")
		        f.flush()
	PY
	local listener=$!
	PD_BG_PIDS="$PD_BG_PIDS $listener"
	for i in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 pd_daemon_start "$CONF" "$T/notify.daemon.log"
	for i in $(seq 1 100); do grep -q "idle" "$out" && break; sleep 0.1; done
	sleep 2
	pd_check "notify: READY=1 once started" grep -qx "READY=1" "$out"
	pd_check "notify: STATUS says how the mailboxes are" grep -q "^STATUS=1 mailboxes, 1 idle, 0 down" "$out"
	pd_check_eq "notify: WATCHDOG=1 sent again and again while idle" yes \
		"$([ "$(grep -cx 'WATCHDOG=1' "$out")" -ge 2 ] && echo yes || grep -cx 'WATCHDOG=1' "$out")"
	kill -HUP "$PD_DAEMON_PID"
	for i in $(seq 1 50); do [ "$(grep -cx 'READY=1' "$out")" -ge 2 ] && break; sleep 0.1; done
	pd_check "notify: SIGHUP sends RELOADING=1 with MONOTONIC_USEC" grep -q "^RELOADING=1" "$out"
	pd_check_eq "notify: and READY=1 again after the reload" 2 "$(grep -cx 'READY=1' "$out")"
	kill -TERM "$PD_DAEMON_PID"
	pd_wait_exit "$PD_DAEMON_PID" 20
	pd_check_eq "notify: SIGTERM exits 0" 0 $?
	pd_check "notify: STOPPING=1 on the way out" grep -qx "STOPPING=1" "$out"
	kill "$listener" 2>/dev/null
}

# ------------------------------------------------------------------ reload, mailbox by mailbox

# extra_mailbox NAME USER: a second mailbox section for pd_write_config's extra=
extra_mailbox() {
	printf 'extra=mailbox "%s" { url = "imap://127.0.0.1:%s/INBOX" tls = "none" user = "%s" password = "secret" processed_folder = "Processed" poll_interval = "1s" }' \
		"$1" "$PD_IMAP_PORT" "$2"
}

sc_reload() {
	setup reload "$(extra_mailbox second r_reload2)"
	local i n
	pd_daemon_start "$CONF" "$T/reload.log"
	$MKMAIL --from 'kim@customer.example' --subject 'Before reload' --message-id '<rl1@customer.example>' >"$T/rl1.eml"
	pd_deliver "$U" "$T/rl1.eml"
	for i in $(seq 1 100); do [ "$(count "SELECT count(*) FROM messages")" = 1 ] && break; sleep 0.1; done
	pd_check_eq "reload: both mailboxes connected" 2 "$(grep -c 'connected to' "$T/reload.log")"
	# keep "support", drop "second", add "third"
	pd_write_config "$CONF" db="$DB" user="$U" smtp=no "$(extra_mailbox third r_reload3)"
	kill -HUP "$PD_DAEMON_PID"
	for i in $(seq 1 100); do grep -q "configuration reloaded" "$T/reload.log" && break; sleep 0.1; done
	pd_check "reload: one mailbox kept running" grep -q "2 mailboxes, 1 kept running" "$T/reload.log"
	pd_check "reload: the removed one is stopped" grep -q "mailbox=second: stopped" "$T/reload.log"
	$MKMAIL --from 'lee@customer.example' --subject 'To the kept one' --message-id '<rl2@customer.example>' >"$T/rl2.eml"
	$MKMAIL --from 'max@customer.example' --subject 'To the new one' --message-id '<rl3@customer.example>' >"$T/rl3.eml"
	pd_deliver "$U" "$T/rl2.eml"
	pd_deliver r_reload3 "$T/rl3.eml"
	for i in $(seq 1 100); do [ "$(count "SELECT count(*) FROM messages")" = 3 ] && break; sleep 0.1; done
	pd_check_eq "reload: the kept and the added mailbox both deliver" 3 "$(count "SELECT count(*) FROM messages")"
	pd_check_eq "reload: the kept mailbox was not reconnected" 1 \
		"$(grep -c 'mailbox=support: connected to' "$T/reload.log")"
	kill -TERM "$PD_DAEMON_PID"
	pd_wait_exit "$PD_DAEMON_PID" 20
	pd_check_eq "reload: SIGTERM exits 0" 0 $?
}

# ------------------------------------------------------------------ /metrics and /healthz

sc_metrics() {
	local port i code
	pd_free_port port
	setup metrics "extra=metrics { listen = \"127.0.0.1:$port\" }"
	pd_daemon_start "$CONF" "$T/metrics.log"
	for i in $(seq 1 100); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
	$MKMAIL --from 'ned@customer.example' --subject 'Count me' --message-id '<mt1@customer.example>' >"$T/mt1.eml"
	pd_deliver "$U" "$T/mt1.eml"
	for i in $(seq 1 100); do [ "$(count "SELECT count(*) FROM messages")" = 1 ] && break; sleep 0.1; done
	sleep 0.5
	curl -s "http://127.0.0.1:$port/metrics" >"$T/metrics.txt"
	pd_check "metrics: the database is up" grep -qx "postdesk_database_up 1" "$T/metrics.txt"
	pd_check "metrics: the mailbox is up and idle" \
		bash -c "grep -q '^postdesk_mailbox_up{mailbox=\"support\"} 1' '$T/metrics.txt' && grep -q '^postdesk_mailbox_idle{mailbox=\"support\"} 1' '$T/metrics.txt'"
	pd_check "metrics: the stored mail is counted" \
		grep -q '^postdesk_mails_ingested_total{mailbox="support"} 1' "$T/metrics.txt"
	code=$(curl -s -o "$T/healthz.txt" -w '%{http_code}' "http://127.0.0.1:$port/healthz")
	pd_check_eq "metrics: /healthz 200 when all is well" 200 "$code"
	# the mailbox starts failing: a wrong password, by reload
	pd_write_config "$CONF" db="$DB" user="$U" smtp=no password=wrong \
		"extra=metrics { listen = \"127.0.0.1:$port\" }"
	kill -HUP "$PD_DAEMON_PID"
	for i in $(seq 1 100); do
		code=$(curl -s -o "$T/healthz.txt" -w '%{http_code}' "http://127.0.0.1:$port/healthz")
		[ "$code" = 503 ] && break
		sleep 0.1
	done
	pd_check_eq "metrics: /healthz 503 when a mailbox fails" 503 "$code"
	pd_check "metrics: ... saying which and why" grep -q "mailbox support: .*refused" "$T/healthz.txt"
	kill -TERM "$PD_DAEMON_PID"
	pd_wait_exit "$PD_DAEMON_PID" 20
	pd_check_eq "metrics: SIGTERM exits 0" 0 $?
}

# ------------------------------------------------------------------ no password in a log

# A database that cannot be reached, with the password in the conninfo in
# each of libpq's forms (and one conninfo libpq cannot read): the daemon's
# log and the admin command's stderr say what failed, never the password.
sc_secret() {
	setup secret
	local form ci n=0
	for form in kv uri badpct; do
		case $form in
		kv) ci="host=127.0.0.1 port=1 dbname=$DB user=postdesk password=S3cretKV sslpassword=S3cretSSL" ;;
		uri) ci="postgresql://postdesk:S3cretURI@127.0.0.1:1/$DB?sslpassword=S3cretQ" ;;
		badpct) ci="postgresql://postdesk:S3cret%zz@127.0.0.1:1/$DB" ;;
		esac
		sed -i "s|^database { conninfo = \"[^\"]*\" }|database { conninfo = \"$ci\" }|" "$CONF"
		grep -qF "$ci" "$CONF" || pd_die "secret: could not set the conninfo"
		pd_daemon_once "$CONF" "$T/secret.$form.log"
		local rc=$?
		pd_check "secret ($form): postdeskd --once fails (exit $rc)" test "$rc" != 0
		pd_cli "$CONF" tickets >"$T/secret.$form.cli" 2>&1
		pd_check "secret ($form): the log says the database failed" \
			grep -q "conninfo" "$T/secret.$form.log"
		pd_check "secret ($form): no password in the daemon's log" \
			bash -c "! grep -q S3cret '$T/secret.$form.log'"
		pd_check "secret ($form): no password on the admin command's stderr" \
			bash -c "! grep -q S3cret '$T/secret.$form.cli'"
		grep -q '\*\*\*' "$T/secret.$form.log" && n=$((n + 1))
	done
	pd_check_eq "secret: the password's place is shown starred (key=value, URI, unreadable URI)" 3 "$n"
}

for s in $SCENARIOS; do
	"sc_$s"
done
pd_finish
