#!/bin/bash
# tests/integration/sla.sh - urgency, routing and SLA clocks end to end, with
# second-sized targets: a ticket left unanswered gets exactly one warning,
# one breach notice and one escalation; one answered in time gets none; two
# daemons on one database still send each notice once; tickets past both
# due times at one scan get both breaches and one escalation; pending pauses
# the clocks and the customer's reply resumes them; `postdesk set`
# recomputes them; rules classify and route new tickets.  Real PostgreSQL, Dovecot and
# SMTP sink on loopback (tests/integration/lib.sh).
#
#   top_srcdir=. top_builddir=build tests/integration/sla.sh [SCENARIO...]
# Scenarios: breach answered twin both pause classify plan (default: all).

. "$(dirname "$0")/lib.sh"

MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"
ALL_SCENARIOS="breach answered twin both pause classify plan"
SCENARIOS=${*:-$ALL_SCENARIOS}

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres
users=
for s in $ALL_SCENARIOS; do users="$users s_$s"; done
pd_start_dovecot $users
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP sink :$PD_SMTP_PORT  in $T"

LINES='line 1 { notify = {"l1@example.com"} }
line 2 { notify = {"l2@example.com"} }
line 3 { notify = {"l3@example.com"} }'

setup() {
	X=$1
	shift
	DB=ps_$X
	U=s_$X
	CONF=$T/$X.conf
	pd_log "---- scenario $X"
	rm -f "$PD_SINK_DIR"/*.eml "$PD_SINK_DIR"/*.env
	pd_createdb "$DB" || pd_die "createdb $DB"
	pd_write_config "$CONF" db="$DB" user="$U" 'extra=sla_scan_interval = "1s"' \
		'mailbox_extra=poll_interval = "1s"' "$@"
	pd_cli "$CONF" migrate >/dev/null || pd_die "migrate $DB"
}

q() { pd_psql "$DB" "$1"; }

# kind_count KIND [RCPT]: mails in the sink with X-Postdesk-Kind KIND (to RCPT).
kind_count() {
	local f n=0
	for f in $(grep -lE "^X-Postdesk-Kind: $1[[:space:]]*$" "$PD_SINK_DIR"/*.eml 2>/dev/null); do
		if [ -z "${2:-}" ] || grep -qi "^rcpt.*$2" "${f%.eml}.env"; then
			n=$((n + 1))
		fi
	done
	echo $n
}
kind_at_least() { [ "$(kind_count "$1")" -ge "$2" ]; }
kind_file() { grep -lE "^X-Postdesk-Kind: $1[[:space:]]*$" "$PD_SINK_DIR"/*.eml 2>/dev/null | head -n 1; }

header() {
	"$PD_PYTHON" - "$1" "$2" <<-'PY'
		import email, email.policy, sys
		m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
		v = m[sys.argv[2]]
		print("" if v is None else str(v))
	PY
}
body() {
	"$PD_PYTHON" - "$1" <<-'PY'
		import email, email.policy, sys
		m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
		print(m.get_body(("plain",)).get_content())
	PY
}

# wait_until SECONDS CMD...: poll CMD every 0.2 s; 0 when it succeeded.
wait_until() {
	local secs=$1 i=0
	shift
	while [ $i -lt $((secs * 5)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}
sql_true() { [ "$(q "$1")" = t ]; }

customer_mail() {
	local n=$1 subject=$2 text=$3
	shift 3
	$MKMAIL --from "Customer $n <c$n@customer.example>" --subject "$subject" \
		--message-id "<c$n.$X@customer.example>" --body "$text" "$@" >"$T/$X-c$n.eml"
	pd_deliver "$U" "$T/$X-c$n.eml"
}

stop_daemon() {
	kill -TERM "$1" 2>/dev/null
	pd_wait_exit "$1" 30 >/dev/null
}

# ------------------------------------------------------------------ unanswered

sc_breach() {
	setup breach "sla=sla \"normal\" { first_response = \"4s\"  resolution = \"1h\"  calendar = \"24x7\"  warn_at = 50 }" \
		"sla=$LINES"
	customer_mail 1 'Cannot log in' $'Since this morning nobody can log in.\nLAST-WORDS-MARKER'
	pd_daemon_start "$CONF" "$T/breach.log"
	local pid=$PD_DAEMON_PID
	wait_until 60 kind_at_least escalation 1 ||
		pd_fail "breach: an escalation within 60 s" "$(tail -n 5 "$T/breach.log")"
	# let the daemon scan a few more times: nothing more may come
	sleep 3
	stop_daemon "$pid"
	# and a restart finds nothing left to send
	pd_daemon_once "$CONF" "$T/breach.once.log"
	pd_check_eq "breach: postdeskd --once after the restart exits 0" 0 $?

	pd_check_eq "breach: exactly one warning, to line 1" "1 1" \
		"$(kind_count warning) $(kind_count warning l1@example.com)"
	pd_check_eq "breach: exactly one breach notice, to line 1" "1 1" \
		"$(kind_count breach) $(kind_count breach l1@example.com)"
	pd_check_eq "breach: exactly one escalation, to line 2" "1 1" \
		"$(kind_count escalation) $(kind_count escalation l2@example.com)"
	pd_check_eq "breach: the ticket is on line 2" 2 "$(q 'SELECT line FROM tickets WHERE id = 1')"
	pd_check_eq "breach: recorded once each, the warning first" \
		"first_response:warning:1 first_response:breach:1 first_response:escalation:2" \
		"$(q "SELECT string_agg(clock || ':' || kind || ':' || line, ' ' ORDER BY id) FROM sla_notices")"
	pd_check_eq "breach: events sla.warning, sla.breach, line.escalated" "1 1 1" \
		"$(q "SELECT count(*) FILTER (WHERE kind = 'sla.warning') || ' ' ||
		        count(*) FILTER (WHERE kind = 'sla.breach') || ' ' ||
		        count(*) FILTER (WHERE kind = 'line.escalated') FROM events WHERE ticket_id = 1")"
	local f
	f=$(kind_file breach)
	if [ -n "$f" ]; then
		pd_check_eq "breach: notice Reply-To the ticket's reply address" \
			"Example Support <$(pd_reply_address "$DB" 1)>" "$(header "$f" Reply-To)"
		case $(header "$f" Subject) in
		"[Support #1] SLA breached: Cannot log in") pd_ok "breach: subject with the ticket tag" ;;
		*) pd_fail "breach: subject with the ticket tag" "$(header "$f" Subject)" ;;
		esac
		pd_check_eq "breach: Auto-Submitted auto-generated" auto-generated "$(header "$f" Auto-Submitted)"
		local b
		b=$(body "$f")
		case $b in
		*LAST-WORDS-MARKER*) pd_ok "breach: carries the customer's last message" ;;
		*) pd_fail "breach: carries the customer's last message" "$b" ;;
		esac
		case $b in
		*"c1@customer.example"*"first response"*"Overdue by:"*"normal ("*) pd_ok "breach: requester, clock, lateness, priority and reasons" ;;
		*) pd_fail "breach: requester, clock, lateness, priority and reasons" "$b" ;;
		esac
	else
		pd_fail "breach: notice mail" "none in the sink"
	fi
	f=$(kind_file escalation)
	[ -n "$f" ] && case $(body "$f") in
	*"from support line 1"*"to line 2"*) pd_ok "escalation: says from which line to which" ;;
	*) pd_fail "escalation: says from which line to which" "$(body "$f")" ;;
	esac
	pd_check_eq "breach: no resolution notice (its target is an hour)" 0 \
		"$(q "SELECT count(*) FROM sla_notices WHERE clock = 'resolution'")"
}

# ------------------------------------------------------------------ answered in time

sc_answered() {
	setup answered "sla=sla \"normal\" { first_response = \"20s\"  resolution = \"1h\"  calendar = \"24x7\"  warn_at = 50 }" \
		"sla=$LINES"
	customer_mail 1 'Question about invoices' 'Where do I find my invoices?'
	pd_daemon_start "$CONF" "$T/answered.log"
	local pid=$PD_DAEMON_PID
	wait_until 30 kind_at_least notice 1 || pd_fail "answered: the agents' notice" "none"
	$MKMAIL --from 'Alice Agent <alice@example.com>' --to "$(pd_reply_address "$DB" 1)" \
		--subject 'Re: [Support #1] Question about invoices' --message-id '<a1.answered@example.com>' \
		--body $'They are under Account > Billing.\n\nAlice' >"$T/answered-a1.eml"
	pd_deliver "$U" "$T/answered-a1.eml"
	wait_until 30 sql_true "SELECT first_response_at IS NOT NULL FROM tickets WHERE id = 1" ||
		pd_fail "answered: the agent's answer was stored" "$(tail -n 5 "$T/answered.log")"
	# wait past the first response due time (and a few scans more)
	wait_until 60 sql_true "SELECT now() > created_at + interval '23 seconds' FROM tickets WHERE id = 1"
	stop_daemon "$pid"
	pd_check_eq "answered: no warning, breach or escalation mail" "0 0 0" \
		"$(kind_count warning) $(kind_count breach) $(kind_count escalation)"
	pd_check_eq "answered: no notice recorded" 0 "$(q 'SELECT count(*) FROM sla_notices')"
	pd_check_eq "answered: the answer was relayed" 1 "$(kind_count agent)"
	pd_check_eq "answered: still on line 1, pending, clock paused" "1|pending|true" \
		"$(q "SELECT line || '|' || status || '|' || (sla_since IS NULL) FROM tickets WHERE id = 1")"
	pd_check "answered: first response time recorded within the target" \
		sql_true "SELECT first_response_secs BETWEEN 0 AND 20 FROM tickets WHERE id = 1"
}

# ------------------------------------------------------------------ two daemons

sc_twin() {
	setup twin "sla=sla \"normal\" { first_response = \"4s\"  resolution = \"1h\"  calendar = \"24x7\"  warn_at = 50 }" \
		"sla=$LINES"
	local n
	for n in 1 2 3 4 5; do
		customer_mail $n "Twin problem $n" "Problem number $n."
	done
	pd_daemon_start "$CONF" "$T/twin-a.log"
	local a=$PD_DAEMON_PID
	pd_daemon_start "$CONF" "$T/twin-b.log"
	local b=$PD_DAEMON_PID
	wait_until 90 kind_at_least escalation 5 ||
		pd_fail "twin: five escalations within 90 s" "$(kind_count escalation)"
	sleep 3
	stop_daemon "$a"
	stop_daemon "$b"
	pd_check_eq "twin: five tickets" 5 "$(q 'SELECT count(*) FROM tickets')"
	pd_check_eq "twin: five warnings, five breaches, five escalations in the sink" "5 5 5" \
		"$(kind_count warning) $(kind_count breach) $(kind_count escalation)"
	local per
	per=$(for f in $(grep -lE '^X-Postdesk-Kind: (warning|breach|escalation)[[:space:]]*$' "$PD_SINK_DIR"/*.eml); do
		echo "$(header "$f" X-Postdesk-Kind) $(header "$f" Subject | grep -o '#[0-9]*')"
	done | sort | uniq -c | awk '{print $1}' | sort -u | tr '\n' ' ')
	pd_check_eq "twin: each ticket got each notice exactly once" "1 " "$per"
	pd_check_eq "twin: fifteen notices recorded" 15 "$(q 'SELECT count(*) FROM sla_notices')"
	pd_check_eq "twin: every ticket on line 2" "2" "$(q "SELECT string_agg(DISTINCT line::text, ',') FROM tickets")"
	pd_check "twin: no scan failed in either instance" \
		bash -c "! grep -qi 'sla scan: .*retrying' '$T/twin-a.log' '$T/twin-b.log'"
}

# ------------------------------------------------------------------ both clocks at once

# Two tickets left until both their clocks are past due: one scan sends the
# first-response breach to line 1, escalates to line 2 and tells line 2 of
# the resolution breach; a ticket moves up one line per scan, so no second
# escalation.
sc_both() {
	setup both 'sla=sla "normal" { first_response = "5s"  resolution = "6s"  calendar = "24x7" }' \
		"sla=$LINES"
	customer_mail 1 'Printer offline' 'The printer is offline.'
	customer_mail 2 'Scanner offline' 'The scanner is offline.'
	pd_daemon_once "$CONF" "$T/both.1.log"
	pd_check_eq "both: nothing due at first" 0 "$(q 'SELECT count(*) FROM sla_notices')"
	sleep 7
	pd_daemon_once "$CONF" "$T/both.2.log"
	pd_check_eq "both: postdeskd --once exits 0" 0 $?
	pd_daemon_once "$CONF" "$T/both.3.log"
	local t
	for t in 1 2; do
		pd_check_eq "both: ticket $t: breach, escalation, then the resolution breach on line 2" \
			"first_response:breach:1 first_response:escalation:2 resolution:breach:2" \
			"$(q "SELECT string_agg(clock || ':' || kind || ':' || line, ' ' ORDER BY id) FROM sla_notices WHERE ticket_id = $t")"
		pd_check_eq "both: ticket $t: on line 2, events sla.breach x2, sla.escalation, line.escalated" "2 2 1 1" \
			"$(q "SELECT (SELECT line FROM tickets WHERE id = $t) || ' ' ||
			        count(*) FILTER (WHERE kind = 'sla.breach') || ' ' ||
			        count(*) FILTER (WHERE kind = 'sla.escalation') || ' ' ||
			        count(*) FILTER (WHERE kind = 'line.escalated') FROM events WHERE ticket_id = $t")"
	done
	pd_check_eq "both: breaches to line 1 and to line 2, escalations to line 2" "2 2 2 2" \
		"$(kind_count breach l1@example.com) $(kind_count breach l2@example.com) $(kind_count escalation) $(kind_count escalation l2@example.com)"
	pd_check_eq "both: each mail recorded on its ticket" 6 \
		"$(q "SELECT count(*) FROM messages WHERE direction = 'out' AND kind = 'notice' AND subject LIKE '%offline%' AND message_id IN (SELECT message_id FROM outbox WHERE kind IN ('breach', 'escalation'))")"
}

# ------------------------------------------------------------------ pause and recompute

sc_pause() {
	setup pause 'sla=sla "normal"   { first_response = "1h"  resolution = "2h"  calendar = "24x7"  warn_at = 80 }' \
		'sla=sla "critical" { first_response = "10m"  resolution = "30m"  calendar = "24x7"  warn_at = 80 }' \
		"sla=$LINES"
	customer_mail 1 'Export fails' 'The CSV export fails with a timeout.'
	pd_daemon_once "$CONF" "$T/pause.1.log"
	pd_check_eq "pause: a new ticket's clock runs" "true|3600|7200" \
		"$(q "SELECT (sla_since IS NOT NULL) || '|' || first_response_target || '|' || resolution_target FROM tickets WHERE id = 1")"
	pd_check "pause: first response due an hour after creation" \
		sql_true "SELECT abs(extract(epoch FROM first_response_due - created_at) - 3600) < 5 FROM tickets WHERE id = 1"
	pd_check "pause: warning at 80 % and the next scan instant is it" \
		sql_true "SELECT abs(extract(epoch FROM first_response_warn - created_at) - 2880) < 5 AND next_sla_at = first_response_warn FROM tickets WHERE id = 1"
	local res_due1
	res_due1=$(q "SELECT extract(epoch FROM resolution_due)::bigint FROM tickets WHERE id = 1")

	# the agent answers: first response met, pending, the clocks stop
	$MKMAIL --from 'Alice Agent <alice@example.com>' --to "$(pd_reply_address "$DB" 1)" \
		--subject 'Re: [Support #1] Export fails' --message-id '<a1.pause@example.com>' \
		--body $'Could you send the file?\n\nAlice' >"$T/pause-a1.eml"
	pd_deliver "$U" "$T/pause-a1.eml"
	sleep 2
	pd_daemon_once "$CONF" "$T/pause.2.log"
	pd_check_eq "pause: pending stops the clocks (nothing to scan)" "pending|true|true" \
		"$(q "SELECT status || '|' || (sla_since IS NULL) || '|' || (next_sla_at IS NULL) FROM tickets WHERE id = 1")"
	pd_check "pause: first response time recorded" \
		sql_true "SELECT first_response_secs BETWEEN 1 AND 120 AND sla_used = first_response_secs FROM tickets WHERE id = 1"

	# the customer answers 3 s later: the clock resumes, the time paused is not counted
	sleep 3
	$MKMAIL --from 'Customer 1 <c1@customer.example>' --to 'support@example.com' \
		--subject 'Re: [Support #1] Export fails' --message-id '<c2.pause@customer.example>' \
		--in-reply-to '<c1.pause@customer.example>' --body 'Here it is.' >"$T/pause-c2.eml"
	pd_deliver "$U" "$T/pause-c2.eml"
	pd_daemon_once "$CONF" "$T/pause.3.log"
	pd_check_eq "pause: the customer's reply reopens and resumes" "open|true|true" \
		"$(q "SELECT status || '|' || (sla_since IS NOT NULL) || '|' || (next_sla_at = resolution_warn) FROM tickets WHERE id = 1")"
	pd_check "pause: resolution due moved by the time spent pending" \
		sql_true "SELECT extract(epoch FROM resolution_due)::bigint >= $res_due1 + 3 FROM tickets WHERE id = 1"
	pd_check "pause: resolution due = resume + target - used" \
		sql_true "SELECT abs(extract(epoch FROM resolution_due - sla_since) - (7200 - sla_used)) < 2 FROM tickets WHERE id = 1"

	# priority raised from the command line: targets and due times follow
	pd_cli "$CONF" set 1 priority critical >/dev/null
	pd_check_eq "pause: set priority critical" "critical|600|1800" \
		"$(q "SELECT priority || '|' || first_response_target || '|' || resolution_target FROM tickets WHERE id = 1")"
	pd_check "pause: resolution due recomputed for the 30 m target" \
		sql_true "SELECT abs(extract(epoch FROM resolution_due - sla_since) - (1800 - sla_used)) < 2 FROM tickets WHERE id = 1"
	pd_check_eq "pause: who changed the priority is recorded" "cli:normal:critical" \
		"$(q "SELECT split_part(actor, ':', 1) || ':' || (detail->>'from') || ':' || (detail->>'to') FROM events WHERE ticket_id = 1 AND kind = 'priority.changed'")"

	# resolved: the resolution time is kept, the clocks stop
	pd_cli "$CONF" set 1 status resolved >/dev/null
	pd_check_eq "pause: resolved stops the clocks and records the time" "true|true|true" \
		"$(q "SELECT (sla_since IS NULL) || '|' || (resolution_secs >= first_response_secs) || '|' || (next_sla_at IS NULL) FROM tickets WHERE id = 1")"
	# a status change for a ticket with no sla section keeps working
	pd_cli "$CONF" set 1 priority low >/dev/null
	pd_check_eq "pause: a priority without an sla has no due times" "||" \
		"$(q "SELECT coalesce(first_response_target::text, '') || '|' || coalesce(resolution_target::text, '') || '|' || coalesce(next_sla_at::text, '') FROM tickets WHERE id = 1")"
}

# ------------------------------------------------------------------ classify and route

sc_classify() {
	setup classify 'sla=sla "critical" { first_response = "10m"  resolution = "1h"  calendar = "24x7" }' \
		'sla=sla "normal" { first_response = "8h"  resolution = "3d"  calendar = "24x7" }' \
		"sla=$LINES" \
		'extra=rule "outage" { keywords = {"не работает", "outage", "авари*"}  priority = "critical" }' \
		'extra=rule "vip" { senders = {"@bigcorp.example"}  priority = "high" }' \
		'extra=queue "billing" { addresses = {"billing@example.com"}  line = 2 }'
	customer_mail 1 'СРОЧНО: касса НЕ РАБОТАЕТ' 'Касса не пробивает чеки с утра.'
	customer_mail 2 'Invoice copy' 'Please send me a copy of the invoice.' --to 'support+billing@example.com'
	customer_mail 3 'Hello' 'A general question.'
	$MKMAIL --from 'Boss <boss@bigcorp.example>' --subject 'Download link' \
		--message-id '<c4.classify@bigcorp.example>' --body 'The download link is broken.' \
		>"$T/classify-c4.eml"
	pd_deliver "$U" "$T/classify-c4.eml"
	pd_daemon_once "$CONF" "$T/classify.log"
	pd_check_eq "classify: postdeskd --once exits 0" 0 $?
	pd_check_eq "classify: Russian keyword in any case -> critical" critical \
		"$(q "SELECT priority FROM tickets WHERE subject LIKE '%касса%'")"
	pd_check_eq "classify: critical clock (10 m)" 600 \
		"$(q "SELECT first_response_target FROM tickets WHERE subject LIKE '%касса%'")"
	pd_check "classify: the reason names the rule and the word as written" \
		sql_true "SELECT detail::text LIKE '%outage%' AND detail::text LIKE '%НЕ РАБОТАЕТ%' FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE t.subject LIKE '%касса%' AND e.kind = 'ticket.classified'"
	pd_check_eq "classify: plus-address routes to the billing queue on line 2" "billing|2|normal" \
		"$(q "SELECT queue || '|' || line || '|' || priority FROM tickets WHERE subject = 'Invoice copy'")"
	pd_check_eq "classify: no rule -> normal, default queue, line 1" "normal|default|1" \
		"$(q "SELECT priority || '|' || queue || '|' || line FROM tickets WHERE subject = 'Hello'")"
	pd_check_eq "classify: VIP sender -> high ('download' is not 'down')" high \
		"$(q "SELECT priority FROM tickets WHERE subject = 'Download link'")"
	local n
	n=$(q "SELECT id FROM tickets WHERE subject LIKE '%касса%'")
	pd_cli "$CONF" show "$n" >"$T/classify-show.txt"
	pd_check "classify: postdesk show gives the reasons" grep -q 'НЕ РАБОТАЕТ' "$T/classify-show.txt"
	local f
	f=
	for g in $(grep -lE '^X-Postdesk-Kind: notice[[:space:]]*$' "$PD_SINK_DIR"/*.eml); do
		case $(header "$g" Subject) in "[Support #$n]"*) f=$g ;; esac
	done
	pd_check "classify: the agents' notice shows the priority" grep -q 'Priority: critical' "${f:-/nonexistent}"
}

# ------------------------------------------------------------------ customer plans

sc_plan() {
	setup plan 'sla=sla "normal" { first_response = "8h"  resolution = "3d"  calendar = "office" }' \
		'sla=calendar "office" { timezone = "Europe/Moscow"  hours = {"mon-fri 09:00-18:00"} }' \
		'sla=plan "premium" { customers = {"@bigcorp.example"}  calendar = "24x7"  normal = "2s 1h" }' \
		'sla=plan "standard" { customers = {"small.example"}  high = "4h 2d" }' \
		"sla=$LINES"
	$MKMAIL --from 'Ops <ops@BigCorp.example>' --subject 'Premium question' \
		--message-id '<p1.plan@bigcorp.example>' --body 'A question.' >"$T/plan-1.eml"
	$MKMAIL --from 'Shop <shop@small.example>' --subject 'Standard question' \
		--message-id '<p2.plan@small.example>' --body 'A question.' >"$T/plan-2.eml"
	$MKMAIL --from 'Someone <someone@elsewhere.example>' --subject 'Default question' \
		--message-id '<p3.plan@elsewhere.example>' --body 'A question.' >"$T/plan-3.eml"
	pd_deliver "$U" "$T/plan-1.eml"
	pd_deliver "$U" "$T/plan-2.eml"
	pd_deliver "$U" "$T/plan-3.eml"
	pd_daemon_once "$CONF" "$T/plan.1.log"
	pd_check_eq "plan: postdeskd --once exits 0" 0 $?
	pd_check_eq "plan: premium customer: the plan's targets on 24x7" "premium|2|3600|24x7" \
		"$(q "SELECT plan || '|' || first_response_target || '|' || resolution_target || '|' || sla_calendar FROM tickets WHERE subject = 'Premium question'")"
	pd_check_eq "plan: standard customer, a priority the plan does not set: the default sla" "standard|28800|office" \
		"$(q "SELECT plan || '|' || first_response_target || '|' || sla_calendar FROM tickets WHERE subject = 'Standard question'")"
	pd_check_eq "plan: no plan: the default sla" "-|28800|office" \
		"$(q "SELECT coalesce(plan, '-') || '|' || first_response_target || '|' || sla_calendar FROM tickets WHERE subject = 'Default question'")"
	sleep 3
	pd_daemon_once "$CONF" "$T/plan.2.log"
	pd_check_eq "plan: only the premium ticket breached its 2 s first response" "Premium question" \
		"$(q "SELECT string_agg(t.subject, ',') FROM sla_notices n JOIN tickets t ON t.id = n.ticket_id WHERE n.kind = 'breach'")"
	pd_check "plan: the plan is in the classification event" \
		sql_true "SELECT detail->>'plan' = 'premium' FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE t.subject = 'Premium question' AND e.kind = 'ticket.classified'"
}

for s in $SCENARIOS; do
	case " $ALL_SCENARIOS " in
	*" $s "*) "sc_$s" ;;
	*) pd_die "unknown scenario $s" ;;
	esac
done
pd_finish
