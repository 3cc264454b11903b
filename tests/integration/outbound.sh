#!/bin/bash
# tests/integration/outbound.sh - mail out, end to end: a customer's mail
# becomes a ticket, the customer gets an acknowledgement and the agents a
# notice, through the outbox and a real SMTP sink on loopback; mail that
# must never be answered automatically gets nothing; SMTP failures retry or
# fail visibly.
#
#   top_srcdir=. top_builddir=build tests/integration/outbound.sh [SCENARIO...]
# Scenarios: ack ru loop retry fail agent verify bounce backlog builtin retemplate
# (default: all).

. "$(dirname "$0")/lib.sh"

MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"
ALL_SCENARIOS="ack ru loop retry fail agent verify bounce backlog builtin retemplate"
SCENARIOS=${*:-$ALL_SCENARIOS}

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres
users=
for s in $ALL_SCENARIOS; do users="$users o_$s"; done
pd_start_dovecot $users
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP sink :$PD_SMTP_PORT  in $T"

setup() {
	X=$1
	shift
	DB=po_$X
	U=o_$X
	CONF=$T/$X.conf
	pd_log "---- scenario $X"
	rm -f "$PD_SINK_DIR"/*.eml "$PD_SINK_DIR"/*.env "$PD_SINK_DIR/reply"
	pd_createdb "$DB" || pd_die "createdb $DB"
	pd_write_config "$CONF" db="$DB" user="$U" "$@"
	pd_cli "$CONF" migrate >/dev/null || pd_die "migrate $DB"
}

count() { pd_psql "$DB" "$1"; }

# sink_grep PATTERN: files in the sink whose text matches (extended regex).
sink_files() { grep -lE "$1" "$PD_SINK_DIR"/*.eml 2>/dev/null; }
sink_count() { ls "$PD_SINK_DIR"/*.eml 2>/dev/null | wc -l; }

# header FILE NAME: the (unfolded) value of the first NAME header.
header() {
	"$PD_PYTHON" - "$1" "$2" <<-'PY'
		import email, email.header, email.policy, sys
		m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
		v = m[sys.argv[2]]
		print("" if v is None else str(v))
	PY
}

# body FILE: the decoded text body.
body() {
	"$PD_PYTHON" - "$1" <<-'PY'
		import email, email.policy, sys
		m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
		print(m.get_body(("plain",)).get_content())
	PY
}

once() {
	LOG=$T/$X.daemon.$((++RUNS)).log
	pd_daemon_once "$CONF" "$LOG" "$@"
	RC=$?
}
RUNS=0

# ------------------------------------------------------------------ ack and notice

sc_ack() {
	setup ack
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Printer broken' \
		--message-id '<ack1@customer.example>' --body 'The label printer shows error 502.' \
		>"$T/ack1.eml"
	pd_deliver "$U" "$T/ack1.eml"
	once
	pd_check_eq "ack: postdeskd --once exits 0" 0 "$RC"
	pd_check_eq "ack: two mails reached the sink (ack + notice)" 2 "$(sink_count)"
	local ack notice
	ack=$(sink_files '^X-Postdesk-Kind: ack')
	notice=$(sink_files '^X-Postdesk-Kind: notice')
	pd_check "ack: an acknowledgement was sent" test -n "$ack"
	pd_check "ack: a notice was sent" test -n "$notice"
	[ -n "$ack" ] && [ -n "$notice" ] || return
	pd_check_eq "ack: To is the customer" "Sarah Connor <sarah@customer.example>" \
		"$(header "$ack" To)"
	pd_check_eq "ack: envelope to the customer" "sarah@customer.example" \
		"$(grep -i '^rcpt' "${ack%.eml}.env" | sed 's/^[^:]*: *//')"
	pd_check_eq "ack: subject carries the tag" "1" \
		"$(header "$ack" Subject | grep -c '^\[Support #1\] .*Printer broken')"
	pd_check_eq "ack: In-Reply-To the customer's mail" "<ack1@customer.example>" \
		"$(header "$ack" In-Reply-To)"
	pd_check_eq "ack: Auto-Submitted: auto-replied" "auto-replied" \
		"$(header "$ack" Auto-Submitted)"
	pd_check "ack: Message-ID of our domain" \
		bash -c "grep -qiE '^Message-ID: <[^>]+@example\.com>' '$ack'"
	pd_check "ack: From is the support address" \
		bash -c "grep -qiE '^From: .*<support@example\.com>' '$ack'"
	pd_check "ack: the body names the ticket number" bash -c "grep -q '1' <<<\"\$(cat '$ack')\""
	pd_check_eq "notice: to the agents" "team@example.com" \
		"$(grep -i '^rcpt' "${notice%.eml}.env" | sed 's/^[^:]*: *//')"
	pd_check "notice: Reply-To is the ticket's reply address (support+t1-CODE@)" \
		bash -c "grep -qE '^support\+t1-[0-9a-f]{16}@example\.com\$' <<<'$(header "$notice" Reply-To | sed 's/.*<\(.*\)>.*/\1/')'"
	pd_check "notice: carries the customer's text" \
		bash -c "$(declare -f body); PD_PYTHON=$PD_PYTHON; body '$notice' | grep -q 'error 502'"
	pd_check_eq "notice: Auto-Submitted: auto-generated" "auto-generated" \
		"$(header "$notice" Auto-Submitted)"
	pd_check_eq "ack: outbox rows sent" "2" \
		"$(count "SELECT count(*) FROM outbox WHERE status = 'sent'")"
	pd_check_eq "ack: the ack is a message of the ticket" "1" \
		"$(count "SELECT count(*) FROM messages WHERE ticket_id = 1 AND kind = 'ack' AND direction = 'out'")"
	# a reply to the ack threads into the ticket by its Message-ID
	local mid
	mid=$(header "$ack" Message-ID)
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Re: thanks' \
		--message-id '<ack2@customer.example>' --in-reply-to "$mid" --references "$mid" \
		--body 'One more detail.' >"$T/ack2.eml"
	pd_deliver "$U" "$T/ack2.eml"
	once
	pd_check_eq "ack: a reply to the ack joins ticket 1" "1 2" \
		"$(count "SELECT count(DISTINCT ticket_id) || ' ' || count(*) FROM messages WHERE direction = 'in'")"
	pd_check "ack: threaded by our own Message-ID" \
		grep -q "rule=own-message-id" "$LOG"
	# an autoresponder answering our acknowledgement: kept, nothing sent, no reopening
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Auto: Out of office' \
		--message-id '<ack3@customer.example>' --in-reply-to "$mid" --references "$mid" \
		--header 'Auto-Submitted: auto-replied' --body 'I am out of the office.' >"$T/ack3.eml"
	pd_deliver "$U" "$T/ack3.eml"
	once
	pd_check_eq "ack: an autoresponder's answer is kept on the ticket" 1 \
		"$(count "SELECT count(*) FROM messages WHERE message_id = 'ack3@customer.example' AND ticket_id = 1")"
	pd_check_eq "ack: and gets nothing back, not even a notice to the agents" 3 "$(sink_count)"
	pd_check_eq "ack: no second acknowledgement for a reply" 1 \
		"$(sink_files '^X-Postdesk-Kind: ack' | wc -l)"
	pd_check_eq "ack: the agents hear of the reply" 2 \
		"$(sink_files '^X-Postdesk-Kind: notice' | wc -l)"
}

# ------------------------------------------------------------------ language

sc_ru() {
	setup ru
	$MKMAIL --from 'Иван Петров <ivan@customer.example>' --subject 'Не работает принтер' \
		--charset koi8-r --subject-encoding B --message-id '<ru1@customer.example>' \
		--body 'Здравствуйте! Принтер в бухгалтерии не печатает.' >"$T/ru1.eml"
	pd_deliver "$U" "$T/ru1.eml"
	once
	pd_check_eq "ru: postdeskd --once exits 0" 0 "$RC"
	local ack
	ack=$(sink_files '^X-Postdesk-Kind: ack')
	pd_check "ru: an acknowledgement was sent" test -n "$ack"
	[ -n "$ack" ] || return
	local subject text
	subject=$(header "$ack" Subject)
	case $subject in
	"[Support #1] "*"Не работает принтер"*) pd_ok "ru: the subject is decoded and tagged" ;;
	*) pd_fail "ru: the subject is decoded and tagged" "got: $subject" ;;
	esac
	text=$(body "$ack")
	case $text in
	*Здравствуйте*) pd_ok "ru: the acknowledgement is in Russian" ;;
	*) pd_fail "ru: the acknowledgement is in Russian" "$(printf '%s' "$text" | head -5)" ;;
	esac
	pd_check_eq "ru: Content-Language ru" "ru" "$(header "$ack" Content-Language)"
}

# ------------------------------------------------------------------ loop protection

sc_loop() {
	setup loop
	$MKMAIL --from 'Vacation <away@customer.example>' --subject 'Out of office' \
		--message-id '<l1@customer.example>' --header 'Auto-Submitted: auto-replied' \
		--body 'I am away.' >"$T/l1.eml"
	$MKMAIL --from 'News <news@lists.example>' --subject 'Weekly digest' \
		--message-id '<l2@lists.example>' --header 'Precedence: bulk' \
		--header 'List-Id: <weekly.lists.example>' --body 'News.' >"$T/l2.eml"
	$MKMAIL --from 'Mail Delivery System <MAILER-DAEMON@mx.example>' \
		--subject 'Undelivered Mail Returned to Sender' --message-id '<l3@mx.example>' \
		--body 'This is the mail system.' >"$T/l3.eml"
	$MKMAIL --from 'Support <support@example.com>' --subject 'Looping back' \
		--message-id '<l4@example.com>' --body 'Our own address.' >"$T/l4.eml"
	for f in l1 l2 l3 l4; do pd_deliver "$U" "$T/$f.eml"; done
	once
	pd_check_eq "loop: postdeskd --once exits 0" 0 "$RC"
	pd_check_eq "loop: no acknowledgement to any of them" 0 \
		"$(sink_files '^X-Postdesk-Kind: ack' | wc -l)"
	pd_check_eq "loop: each refusal recorded with its reason" 4 \
		"$(count "SELECT count(*) FROM events WHERE kind = 'ack.suppressed'")"
	# rate limit: the 4th mail from one address within 10 minutes gets no ack
	pd_write_config "$CONF" db="$DB" user="$U" 'extra=auto_reply_limit_10m = 3'
	local i
	for i in 1 2 3 4 5; do
		$MKMAIL --from "Flood <flood@customer.example>" --subject "Question $i" \
			--message-id "<fl$i@customer.example>" --body "Question $i." >"$T/fl$i.eml"
		pd_deliver "$U" "$T/fl$i.eml"
	done
	once
	pd_check_eq "loop: at most 3 acknowledgements to one address in 10 minutes" 3 \
		"$(grep -l '^To: .*flood@customer.example' $(sink_files '^X-Postdesk-Kind: ack') /dev/null | wc -l)"
}

# ------------------------------------------------------------------ SMTP 4xx then success

sc_retry() {
	setup retry
	echo "451 4.3.0 try again later" >"$PD_SINK_DIR/reply"
	$MKMAIL --from 'Tom <tom@customer.example>' --subject 'Retry me' \
		--message-id '<r1@customer.example>' --body 'Hello.' >"$T/r1.eml"
	pd_deliver "$U" "$T/r1.eml"
	once
	pd_check_eq "retry: postdeskd --once exits 0 with the answers queued" 0 "$RC"
	pd_check_eq "retry: nothing delivered during the 451s" 0 "$(sink_count)"
	pd_check_eq "retry: both rows wait for a retry, with the server's reason" "2 2" \
		"$(count "SELECT count(*) FILTER (WHERE status = 'queued' AND next_attempt_at > now()) || ' ' || count(*) FILTER (WHERE last_error LIKE '%451%') FROM outbox")"
	rm -f "$PD_SINK_DIR/reply"
	count "UPDATE outbox SET next_attempt_at = now()" >/dev/null
	once
	pd_check_eq "retry: after the 451s both are delivered" 2 "$(sink_count)"
	once
	pd_check_eq "retry: and never twice" 2 "$(sink_count)"
}

# ------------------------------------------------------------------ SMTP 5xx

sc_fail() {
	setup fail
	echo "550 5.1.1 mailbox unavailable" >"$PD_SINK_DIR/reply"
	$MKMAIL --from 'Una <una@customer.example>' --subject 'Fail me' \
		--message-id '<f1@customer.example>' --body 'Hello.' >"$T/f1.eml"
	pd_deliver "$U" "$T/f1.eml"
	once
	pd_check_eq "fail: postdeskd --once exits 0" 0 "$RC"
	pd_check_eq "fail: both rows failed, not retried" "2" \
		"$(count "SELECT count(*) FROM outbox WHERE status = 'failed' AND last_error LIKE '%550%'")"
	pd_check_eq "fail: the failure is an event on the ticket" "2" \
		"$(count "SELECT count(*) FROM events WHERE kind = 'mail.failed' AND ticket_id = 1")"
	pd_check "fail: the log says what failed" grep -q "action=failed.*550" "$LOG"
	rm -f "$PD_SINK_DIR/reply"
	pd_cli "$CONF" outbox >"$T/fail.outbox"
	pd_check "fail: postdesk outbox lists the failed rows with the reason" \
		grep -q "failed.*550 5.1.1" "$T/fail.outbox"
	pd_cli "$CONF" outbox --json >"$T/fail.outbox.json"
	local id
	id=$(pd_json "$T/fail.outbox.json" "[r['id'] for r in d if r['kind'] == 'ack'][0]")
	pd_check_eq "fail: outbox --json shows the ack as failed" failed \
		"$(pd_json "$T/fail.outbox.json" "[r['status'] for r in d if r['id'] == $id][0]")"
	pd_cli "$CONF" outbox retry "$id" >/dev/null
	pd_check_eq "fail: outbox retry queues it again" queued \
		"$(count "SELECT status FROM outbox WHERE id = $id")"
	once
	pd_check_eq "fail: and the next run sends it" "sent 1" \
		"$(count "SELECT status FROM outbox WHERE id = $id") $(sink_count)"
	pd_check_eq "fail: the retry is an event" 1 \
		"$(count "SELECT count(*) FROM events WHERE kind = 'mail.retry'")"
}

# ------------------------------------------------------------------ agents answer by mail

# agent_mail N BODY [extra mkmail options]: alice answers the notice of ticket 1
# with Reply, as a mail client does: to the notice's Reply-To.
agent_mail() {
	local n=$1 body=$2
	shift 2
	$MKMAIL --from 'Alice Agent <alice@example.com>' --to "$REPLY_TO" \
		--subject 'Re: [Support #1] Printer broken' --message-id "<ag$n@example.com>" \
		--in-reply-to "$NOTICE_ID" --references "$NOTICE_ID" --body "$body" "$@" >"$T/ag$n.eml"
	pd_deliver "$U" "$T/ag$n.eml"
	once
}

ticket_field() { count "SELECT coalesce($1::text, '') FROM tickets WHERE id = ${2:-1}"; }

sc_agent() {
	setup agent
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Printer broken' \
		--message-id '<cu1@customer.example>' --body 'The label printer shows error 502.' \
		>"$T/cu1.eml"
	pd_deliver "$U" "$T/cu1.eml"
	once
	local notice
	notice=$(sink_files '^X-Postdesk-Kind: notice')
	NOTICE_ID=$(header "$notice" Message-ID)
	REPLY_TO=$(header "$notice" Reply-To | sed 's/.*<\(.*\)>.*/\1/')

	# 1. a plain answer is relayed to the customer, from the support address
	agent_mail 1 $'Please restart the printer and try again.\n\nAlice'
	pd_check_eq "agent: postdeskd --once exits 0" 0 "$RC"
	local relay
	relay=$(sink_files '^X-Postdesk-Kind: agent')
	pd_check "agent: the answer was relayed" test -n "$relay"
	if [ -n "$relay" ]; then
		pd_check_eq "agent: relayed to the customer" "sarah@customer.example" \
			"$(grep -i '^rcpt' "${relay%.eml}.env" | sed 's/^[^:]*: *//')"
		pd_check_eq "agent: from Alice via the support address" \
			"Alice Agent via Example Support <support@example.com>" "$(header "$relay" From)"
		case $(header "$relay" Subject) in
		"Re: [Support #1] Printer broken") pd_ok "agent: subject Re: [Support #1] ..." ;;
		*) pd_fail "agent: subject Re: [Support #1] ..." "$(header "$relay" Subject)" ;;
		esac
		case $(header "$relay" References) in
		*"<cu1@customer.example>"*) pd_ok "agent: References thread under the customer's mail" ;;
		*) pd_fail "agent: References thread under the customer's mail" "$(header "$relay" References)" ;;
		esac
		case $(header "$relay" In-Reply-To) in
		"<cu1@customer.example>" | "<pd.1.ack."*) pd_ok "agent: In-Reply-To a mail the customer has" ;;
		*) pd_fail "agent: In-Reply-To a mail the customer has" "$(header "$relay" In-Reply-To)" ;;
		esac
		case $(body "$relay") in
		*"restart the printer"*) pd_ok "agent: the relayed text" ;;
		*) pd_fail "agent: the relayed text" "$(body "$relay")" ;;
		esac
	fi
	pd_check_eq "agent: the ticket waits for the customer" pending "$(ticket_field status)"
	pd_check_eq "agent: first response recorded" t \
		"$(count "SELECT first_response_at IS NOT NULL FROM tickets WHERE id = 1")"
	pd_check_eq "agent: answering an unassigned ticket assigns it to the agent" \
		"alice@example.com 1" \
		"$(ticket_field assignee) $(count "SELECT count(*) FROM events WHERE ticket_id = 1 AND kind = 'assignee.changed' AND actor = 'alice@example.com' AND detail->>'to' = 'alice@example.com'")"
	pd_check_eq "agent: a verified answer is no held mail" 0 \
		"$(count "SELECT count(*) FROM events WHERE kind IN ('agent.unverified', 'agent.unknown')")"

	# 2. a note is stored, never relayed
	local before
	before=$(sink_count)
	agent_mail 2 $'#note\nCustomer is on the premium plan.'
	pd_check_eq "agent: a #note is not sent to anyone" "$before" "$(sink_count)"
	pd_check_eq "agent: the note is on the ticket" 1 \
		"$(count "SELECT count(*) FROM messages WHERE ticket_id = 1 AND kind = 'note'")"
	agent_mail 3 'Via the note address.' --cc 'support+note@example.com'
	pd_check_eq "agent: mail to support+note@ is a note" 2 \
		"$(count "SELECT count(*) FROM messages WHERE ticket_id = 1 AND kind = 'note'")"

	# 3. commands are applied and stripped
	agent_mail 4 $'#priority high\n#assign bob@example.com\nWe are on it.'
	pd_check_eq "agent: #priority applied" high "$(ticket_field priority)"
	pd_check_eq "agent: #assign applied" bob@example.com "$(ticket_field assignee)"
	pd_check_eq "agent: each command is an event by the agent" 2 \
		"$(count "SELECT count(*) FROM events WHERE ticket_id = 1 AND actor = 'alice@example.com' AND kind IN ('priority.changed', 'assignee.changed') AND detail->>'to' IN ('high', 'bob@example.com')")"
	local last
	last=$(ls -t "$PD_SINK_DIR"/*.eml | head -1)
	case $(body "$last") in
	*"#priority"* | *"#assign"*) pd_fail "agent: commands stripped before relaying" "$(body "$last")" ;;
	*"We are on it."*) pd_ok "agent: commands stripped before relaying" ;;
	*) pd_fail "agent: commands stripped before relaying" "$(body "$last")" ;;
	esac

	# 4. an unknown command: an error to the agent, nothing relayed or applied
	before=$(sink_count)
	agent_mail 5 $'#clsoe\nDone here.'
	pd_check_eq "agent: one mail for an unknown command" $((before + 1)) "$(sink_count)"
	last=$(ls -t "$PD_SINK_DIR"/*.eml | head -1)
	pd_check_eq "agent: it is an error to the agent" "error alice@example.com" \
		"$(header "$last" X-Postdesk-Kind) $(grep -i '^rcpt' "${last%.eml}.env" | sed 's/^[^:]*: *//')"
	case $(body "$last") in
	*clsoe*) pd_ok "agent: the error names the bad command" ;;
	*) pd_fail "agent: the error names the bad command" "$(body "$last")" ;;
	esac

	# 5. the customer answers: open again; resolve; reopen; too late: a new linked ticket
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Re: [Support #1] Printer broken' \
		--message-id '<cu2@customer.example>' --body 'Restarted, still broken.' >"$T/cu2.eml"
	pd_deliver "$U" "$T/cu2.eml"
	once
	pd_check_eq "agent: a customer reply to a pending ticket opens it" open "$(ticket_field status)"
	agent_mail 6 $'#resolve\nFixed by a firmware update.'
	pd_check_eq "agent: #resolve" resolved "$(ticket_field status)"
	local survey
	survey=$(sink_files '^X-Postdesk-Kind: survey')
	pd_check_eq "agent: resolving sends the customer a survey" "sarah@customer.example" \
		"$(grep -i '^rcpt' "${survey%.eml}.env" 2>/dev/null | sed 's/^[^:]*: *//')"
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Re: [Support #1] How did we do?' \
		--message-id '<cu2b@customer.example>' --in-reply-to "$(header "$survey" Message-ID)" \
		--body $'4\n\nThanks!' >"$T/cu2b.eml"
	pd_deliver "$U" "$T/cu2b.eml"
	once
	pd_check_eq "agent: a digit answering the survey is the rating, the ticket stays resolved" \
		"4 resolved" "$(count "SELECT rating || ' ' || status FROM tickets WHERE id = 1")"
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Re: [Support #1] Printer broken' \
		--message-id '<cu3@customer.example>' --body 'It broke again.' >"$T/cu3.eml"
	pd_deliver "$U" "$T/cu3.eml"
	once
	pd_check_eq "agent: a reply to a resolved ticket reopens it" open "$(ticket_field status)"
	agent_mail 7 '#resolve'
	count "UPDATE tickets SET resolved_at = now() - interval '30 days' WHERE id = 1" >/dev/null
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Re: [Support #1] Printer broken' \
		--message-id '<cu4@customer.example>' --body 'A month later: broken again.' >"$T/cu4.eml"
	pd_deliver "$U" "$T/cu4.eml"
	once
	pd_check_eq "agent: after reopen_days a reply is a new ticket linked to the old" "2 1 resolved" \
		"$(count "SELECT max(id) || ' ' || (SELECT linked_ticket FROM tickets WHERE id = 2) || ' ' || (SELECT status FROM tickets WHERE id = 1) FROM tickets")"
	pd_check_eq "agent: a second resolve the same day sends no second survey" 1 \
		"$(count "SELECT count(*) FROM outbox WHERE ticket_id = 1 AND kind = 'survey'")"

	# 6. the other commands, and an agent writing to the customer directly
	before=$(sink_count)
	agent_mail 8 $'#line 2\n#pending'
	pd_check_eq "agent: #line and #pending" "2 pending" \
		"$(count "SELECT line || ' ' || status FROM tickets WHERE id = 1")"
	pd_check_eq "agent: a mail of commands only relays nothing" "$before" "$(sink_count)"
	agent_mail 9 '#close'
	pd_check_eq "agent: #close" closed "$(ticket_field status)"
	before=$(sink_count)
	$MKMAIL --from 'Alice Agent <alice@example.com>' --to 'Sarah Connor <sarah@customer.example>' \
		--cc "$REPLY_TO" --subject 'Re: [Support #1] Printer broken' \
		--message-id '<ag10@example.com>' --in-reply-to "$NOTICE_ID" \
		--body 'I called you; here is the summary.' >"$T/ag10.eml"
	pd_deliver "$U" "$T/ag10.eml"
	once
	pd_check_eq "agent: written to the customer directly: recorded" 1 \
		"$(count "SELECT count(*) FROM messages WHERE message_id = 'ag10@example.com' AND ticket_id = 1 AND kind = 'agent'")"
	pd_check_eq "agent: and not sent a second time" "$before" "$(sink_count)"
}

# ------------------------------------------------------------------ whose mail counts as an agent's

# notice_of N: the newest notice about ticket N in the sink.
notice_of() {
	local f
	f=$(grep -lE '^X-Postdesk-Kind: notice' "$PD_SINK_DIR"/*.eml 2>/dev/null |
		xargs -r grep -lE "^Subject: .*\[Support #$1\]" | xargs -r ls -t | head -1)
	echo "$f"
}
reply_to_of() { header "$1" Reply-To | sed 's/.*<\(.*\)>.*/\1/'; }
# rcpts FILE: the envelope recipients of a sunk mail, space-separated.
rcpts() { grep -i '^rcpt' "${1%.eml}.env" | sed 's/^[^:]*: *//' | tr '\n' ' ' | sed 's/ $//'; }
# newest_to ADDR KIND: the newest sunk mail of X-Postdesk-Kind KIND to ADDR.
newest_to() {
	local f
	for f in $(ls -t "$PD_SINK_DIR"/*.eml 2>/dev/null); do
		grep -q "^X-Postdesk-Kind: $2" "$f" && grep -qi "^rcpt.*$1" "${f%.eml}.env" && {
			echo "$f"
			return
		}
	done
}
# vmail N [mkmail options]: one mail into the mailbox, then one daemon run.
vmail() {
	local n=$1
	shift
	$MKMAIL --message-id "<v$n@example.com>" "$@" >"$T/v$n.eml"
	pd_deliver "$U" "$T/v$n.eml"
	once
}
# held_ok NAME MID EVENT TICKET: the mail MID is a note on TICKET with one EVENT.
held_ok() {
	pd_check_eq "verify: $1: kept as a note on ticket $4 with $3" "$4 note 1" \
		"$(count "SELECT m.ticket_id || ' ' || m.kind || ' ' || (SELECT count(*) FROM events e WHERE e.ticket_id = m.ticket_id AND e.kind = '$3' AND e.detail->>'message_id' = '$2') FROM messages m WHERE m.message_id = '$2'")"
}

sc_verify() {
	setup verify
	sed -i 's/^agents { addresses/agents { trusted_authserv_ids = {"mx.example.com"}  addresses/' "$CONF"
	local before n1 n2 r1 r2 m
	# two tickets, each with its notice and reply address
	vmail c1 --from 'Sarah Connor <sarah@customer.example>' --subject 'Printer broken' \
		--body 'The label printer shows error 502.'
	vmail c2 --from 'John Doe <john@customer.example>' --subject 'Invoice wrong' \
		--body 'The invoice total is wrong.'
	n1=$(notice_of 1)
	n2=$(notice_of 2)
	r1=$(reply_to_of "$n1")
	r2=$(reply_to_of "$n2")
	pd_check "verify: each ticket has its own reply address" \
		bash -c "[[ '$r1' =~ ^support\+t1-[0-9a-f]{16}@example\.com$ && '$r2' =~ ^support\+t2-[0-9a-f]{16}@example\.com$ ]]"
	pd_check_eq "verify: the address's code is the database secret's" 1 \
		"$(count "SELECT count(*) FROM postdesk_secret WHERE length(secret) = 32")"

	# 1. a forged agent's From with the subject tag: held, the agent told, the customer nothing
	before=$(sink_count)
	vmail f1 --from 'Alice Agent <alice@example.com>' --to 'support@example.com' \
		--subject 'Re: [Support #1] Printer broken' --body $'#close\nPlease send us your password.'
	held_ok "forged From" vf1@example.com agent.unverified 1
	pd_check_eq "verify: forged From: one mail, an error to alice only" \
		"$((before + 1)) error alice@example.com" \
		"$(sink_count) $(header "$(ls -t "$PD_SINK_DIR"/*.eml | head -1)" X-Postdesk-Kind) $(rcpts "$(ls -t "$PD_SINK_DIR"/*.eml | head -1)")"
	m=$(newest_to alice@example.com error)
	case $(body "$m") in
	*"reply to the notice"*) pd_ok "verify: the error says how to answer" ;;
	*) pd_fail "verify: the error says how to answer" "$(body "$m")" ;;
	esac
	pd_check_eq "verify: the error is not in the forged thread" "" "$(header "$m" In-Reply-To)"
	pd_check_eq "verify: forged From: no command applied, status unchanged" "new" \
		"$(ticket_field status 1)"
	pd_check_eq "verify: forged From: nothing to the customer, no first response" "0 f" \
		"$(count "SELECT count(*) FROM outbox WHERE kind = 'agent'") $(count "SELECT first_response_at IS NOT NULL FROM tickets WHERE id = 1")"

	# 2. an automatic mail with an agent's From: held, and no error mail (no loop)
	before=$(sink_count)
	vmail f2 --from 'Alice Agent <alice@example.com>' --to 'support@example.com' \
		--subject 'Auto: [Support #1] out of office' --header 'Auto-Submitted: auto-replied' \
		--body 'I am away.'
	held_ok "autoresponder" vf2@example.com agent.unverified 1
	pd_check_eq "verify: an automatic agent's mail gets no error back" "$before" "$(sink_count)"

	# 3. Authentication-Results from an untrusted server: held
	before=$(sink_count)
	vmail f3 --from 'Alice Agent <alice@example.com>' --to 'support@example.com' \
		--subject 'Re: [Support #1] Printer broken' --in-reply-to "$(header "$n1" Message-ID)" \
		--header 'Authentication-Results: evil.example; dmarc=pass header.from=example.com' \
		--body 'Forged with a header.'
	held_ok "untrusted authserv-id" vf3@example.com agent.unverified 1
	pd_check_eq "verify: untrusted authserv-id: the reason is recorded" 1 \
		"$(count "SELECT count(*) FROM events WHERE detail->>'message_id' = 'vf3@example.com' AND detail->>'reason' LIKE '%trusted_authserv_ids%'")"
	pd_check_eq "verify: untrusted authserv-id: only the error to alice" "$((before + 1))" "$(sink_count)"

	# 4. the reply address of ticket 2 on a mail that threads into ticket 1: held
	vmail f4 --from 'Alice Agent <alice@example.com>' --to "$r2" \
		--subject 'Re: [Support #1] Printer broken' --in-reply-to "$(header "$n1" Message-ID)" \
		--body 'Wrong ticket.'
	held_ok "another ticket's reply address" vf4@example.com agent.unverified 1
	pd_check_eq "verify: another ticket's address: still nothing to any customer" 0 \
		"$(count "SELECT count(*) FROM outbox WHERE kind = 'agent'")"

	# 5. a trusted server's dmarc=pass: relayed
	vmail a5 --from 'Alice Agent <alice@example.com>' --to 'support@example.com' \
		--subject 'Re: [Support #1] Printer broken' --in-reply-to "$(header "$n1" Message-ID)" \
		--header 'Authentication-Results: MX.example.com; spf=pass smtp.mailfrom=example.com; dmarc=pass (p=reject) header.from=example.com' \
		--header 'Authentication-Results: evil.example; dmarc=fail' \
		--body 'Please restart the printer.'
	m=$(newest_to sarah@customer.example agent)
	pd_check "verify: trusted dmarc=pass: relayed to the customer" test -n "$m"
	pd_check_eq "verify: trusted dmarc=pass: an agent's message, ticket pending, alice assigned" \
		"agent pending alice@example.com" \
		"$(count "SELECT kind FROM messages WHERE message_id = 'va5@example.com'") $(ticket_field status 1) $(ticket_field assignee 1)"

	# 6. Reply to the notice of ticket 2 (To its reply address, no other threading): relayed
	vmail a6 --from 'Alice Agent <alice@example.com>' --to "$r2" --subject 'Your invoice' \
		--body $'We corrected it.\n\nAlice'
	m=$(newest_to john@customer.example agent)
	pd_check "verify: to the reply address: relayed to the customer" test -n "$m"
	case $(body "$m") in
	*"We corrected it."*) pd_ok "verify: to the reply address: the text" ;;
	*) pd_fail "verify: to the reply address: the text" "$(body "$m")" ;;
	esac
	pd_check_eq "verify: to the reply address: threaded into ticket 2, assigned, first response" \
		"2 reply-address alice@example.com t" \
		"$(count "SELECT ticket_id FROM messages WHERE message_id = 'va6@example.com'") $(grep -o 'rule=[a-z-]*' "$LOG" | tail -1 | cut -d= -f2) $(ticket_field assignee 2) $(count "SELECT first_response_at IS NOT NULL FROM tickets WHERE id = 2")"
	pd_check_eq "verify: the assignment is an event like the others" 1 \
		"$(count "SELECT count(*) FROM events WHERE ticket_id = 2 AND kind = 'assignee.changed' AND detail->>'to' = 'alice@example.com'")"

	# 7. a teammate outside agents.addresses answers a notice: held, told, customer nothing
	vmail c7 --from 'John Doe <john@customer.example>' --subject 'Re: [Support #2] Invoice wrong' \
		--body 'Thanks, but it is still wrong.'
	pd_check_eq "verify: the customer's answer opens ticket 2" open "$(ticket_field status 2)"
	count "UPDATE tickets SET status = 'pending' WHERE id = 2" >/dev/null
	before=$(count "SELECT count(*) FROM outbox WHERE to_address = 'john@customer.example'")
	vmail t7 --from 'Team Mate <mate@example.com>' --to "$r2" \
		--subject 'Re: [Support #2] Invoice wrong' --in-reply-to "$(header "$(notice_of 2)" Message-ID)" \
		--body 'I think we should refund.'
	held_ok "teammate" vt7@example.com agent.unknown 2
	m=$(newest_to mate@example.com error)
	pd_check "verify: teammate: told" test -n "$m"
	case $(body "$m") in
	*agents.addresses*) pd_ok "verify: teammate: told to be added to agents.addresses" ;;
	*) pd_fail "verify: teammate: told to be added to agents.addresses" "$(body "$m")" ;;
	esac
	pd_check_eq "verify: teammate: the customer gets nothing, the ticket is not reopened" \
		"$before pending" \
		"$(count "SELECT count(*) FROM outbox WHERE to_address = 'john@customer.example'") $(ticket_field status 2)"

	# 8. bottom-posted: the quote first, then #note: a note, nothing to the customer
	before=$(count "SELECT count(*) FROM outbox WHERE to_address = 'sarah@customer.example'")
	vmail a8 --from 'Alice Agent <alice@example.com>' --to "$r1" \
		--subject 'Re: [Support #1] Printer broken' --in-reply-to "$(header "$n1" Message-ID)" \
		--body $'On Mon, 2 Mar 2026, Sarah Connor via Example Support wrote:\n> The label printer shows error 502.\n> Reply to this email to answer the customer.\n\n#note\nShe has the old firmware.'
	pd_check_eq "verify: bottom-posted #note: a note, nothing to the customer" \
		"note $before" \
		"$(count "SELECT kind FROM messages WHERE message_id = 'va8@example.com'") $(count "SELECT count(*) FROM outbox WHERE to_address = 'sarah@customer.example'")"

	# 9. an empty answer (only the quote): nothing sent, the agent told
	before=$(count "SELECT count(*) FROM outbox WHERE to_address = 'sarah@customer.example'")
	vmail a9 --from 'Alice Agent <alice@example.com>' --to "$r1" \
		--subject 'Re: [Support #1] Printer broken' --in-reply-to "$(header "$n1" Message-ID)" \
		--body $'On Mon, 2 Mar 2026, Sarah Connor via Example Support wrote:\n> The label printer shows error 502.\n> Reply to this email to answer the customer.'
	m=$(newest_to alice@example.com error)
	pd_check_eq "verify: empty answer: nothing to the customer" "$before" \
		"$(count "SELECT count(*) FROM outbox WHERE to_address = 'sarah@customer.example'")"
	case $(body "$m") in
	*"no text of your own"*) pd_ok "verify: empty answer: the agent is told" ;;
	*) pd_fail "verify: empty answer: the agent is told" "$(body "$m")" ;;
	esac
	pd_check_eq "verify: empty answer: kept as a note, no first response from it" "note" \
		"$(count "SELECT kind FROM messages WHERE message_id = 'va9@example.com'")"

	# 10. the agent's own autoresponder answering a notice: kept, not relayed, no error back
	before=$(sink_count)
	vmail a10 --from 'Alice Agent <alice@example.com>' --to "$r1" \
		--subject 'Out of office: [Support #1] Printer broken' --header 'Auto-Submitted: auto-replied' \
		--in-reply-to "$(header "$n1" Message-ID)" --body $'I am away until Monday.\n\n> The label printer shows error 502.'
	pd_check_eq "verify: the agent's autoresponder: a note, an event, nothing sent" \
		"note 1 $before" \
		"$(count "SELECT kind FROM messages WHERE message_id = 'va10@example.com'") $(count "SELECT count(*) FROM events WHERE kind = 'agent.automatic'") $(sink_count)"

	# 11. the reply address only in the envelope (Bcc): Delivered-To, as Dovecot's LMTP
	#     and Postfix write the RCPT TO address with its +detail
	vmail a11 --from 'Alice Agent <alice@example.com>' --to 'sarah@customer.example' \
		--header "Delivered-To: $r1" --subject 'Re: [Support #1] Printer broken' \
		--in-reply-to "$(header "$n1" Message-ID)" --body 'I wrote to you directly.'
	pd_check_eq "verify: reply address in Delivered-To: the agent's message, not sent again" \
		"agent 0" \
		"$(count "SELECT kind FROM messages WHERE message_id = 'va11@example.com'") $(count "SELECT count(*) FROM events WHERE kind LIKE 'agent.%' AND detail->>'message_id' = 'va11@example.com'")"

	# 12. the customer answers all to that mail (the reply address in Cc): the customer's
	#     mail as ever, no error to the customer
	pd_check_eq "verify: ticket 1 waits for the customer" pending "$(ticket_field status 1)"
	vmail c12 --from 'Sarah Connor <sarah@customer.example>' --to 'alice@example.com' --cc "$r1" \
		--subject 'Re: [Support #1] Printer broken' --in-reply-to '<va11@example.com>' \
		--body 'Thanks, that helped only a little.'
	pd_check_eq "verify: the customer's answer-all: a customer message, the ticket open, nothing held" \
		"customer open 0" \
		"$(count "SELECT kind FROM messages WHERE message_id = 'vc12@example.com'") $(ticket_field status 1) $(count "SELECT count(*) FROM events WHERE kind LIKE 'agent.%' AND detail->>'message_id' = 'vc12@example.com'")"
	pd_check_eq "verify: no error mail to the customer" "" "$(newest_to sarah@customer.example error)"
	pd_check_eq "verify: the reply address in her Cc is no participant" 0 \
		"$(count "SELECT count(*) FROM participants WHERE address LIKE 'support+%'")"
}

# ------------------------------------------------------------------ bounces of our own mail

sc_bounce() {
	setup bounce
	$MKMAIL --from 'Gone Customer <gone@customer.example>' --subject 'Please call me' \
		--message-id '<bo1@customer.example>' --body 'Call me back.' >"$T/bo1.eml"
	pd_deliver "$U" "$T/bo1.eml"
	once
	local ack mid
	ack=$(sink_files '^X-Postdesk-Kind: ack')
	mid=$(header "$ack" Message-ID)
	# the customer's server refuses the acknowledgement: a Postfix-style DSN
	cat >"$T/dsn.eml" <<-EOF
		Return-Path: <>
		From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>
		To: support@example.com
		Subject: Undelivered Mail Returned to Sender
		Message-ID: <dsn1@mx.customer.example>
		Date: Sun, 22 Nov 2026 10:00:00 +0000
		MIME-Version: 1.0
		Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

		--B1
		Content-Type: text/plain

		I'm sorry to have to inform you that your message could not be delivered.

		--B1
		Content-Type: message/delivery-status

		Reporting-MTA: dns; mx.customer.example

		Final-Recipient: rfc822; gone@customer.example
		Action: failed
		Status: 5.1.1
		Diagnostic-Code: smtp; 550 5.1.1 user unknown

		--B1
		Content-Type: text/rfc822-headers

		From: Example Support <support@example.com>
		To: gone@customer.example
		Subject: [Support #1] We received your request
		Message-ID: $mid

		--B1--
	EOF
	pd_deliver "$U" "$T/dsn.eml"
	once
	pd_check_eq "bounce: postdeskd --once exits 0" 0 "$RC"
	pd_check_eq "bounce: no ticket is created for it" 1 "$(count "SELECT count(*) FROM tickets")"
	pd_check_eq "bounce: recorded on the ticket of the bounced mail" 1 \
		"$(count "SELECT count(*) FROM messages WHERE ticket_id = 1 AND kind = 'system' AND direction = 'in'")"
	pd_check_eq "bounce: as an event with the recipient" "gone@customer.example true" \
		"$(count "SELECT detail->>'recipient' || ' ' || (detail->>'permanent') FROM events WHERE kind = 'mail.bounced'")"
	pd_check_eq "bounce: the ticket is not reopened or changed" new "$(count "SELECT status FROM tickets WHERE id = 1")"
	pd_check_eq "bounce: nothing is sent back" 2 "$(sink_count)"
	pd_check_eq "bounce: the address is suppressed" 1 \
		"$(count "SELECT count(*) FROM suppressions WHERE address = 'gone@customer.example' AND until > now()")"
	$MKMAIL --from 'Gone Customer <gone@customer.example>' --subject 'Another question' \
		--message-id '<bo2@customer.example>' --body 'Hello again.' >"$T/bo2.eml"
	pd_deliver "$U" "$T/bo2.eml"
	once
	pd_check_eq "bounce: no acknowledgement to a suppressed address" 0 \
		"$(grep -l '^To: .*gone@customer.example' $(sink_files '^X-Postdesk-Kind: ack') /dev/null | grep -vc "$ack")"
}

# ------------------------------------------------------------------ backlog

# A running daemon that finds a backlog answers the first mails while it is
# still storing the rest: the outbox is served between batches.
sc_backlog() {
	setup backlog "extra=batch_size = 5"
	local i
	mkdir -p "$T/backlog"
	for i in $(seq 1 40); do
		$MKMAIL --from "c$i@customer.example" --subject "Backlog question $i" \
			--message-id "<bl$i@customer.example>" --body "Question number $i" \
			>"$T/backlog/$i.eml" || pd_die "mkmail"
		pd_deliver "$U" "$T/backlog/$i.eml"
	done
	pd_daemon_start "$CONF" "$T/backlog.log"
	for i in $(seq 1 600); do
		[ "$(count "SELECT count(*) FROM outbox WHERE status = 'sent'")" -ge 80 ] && break
		sleep 0.1
	done
	kill -TERM "$PD_DAEMON_PID"
	pd_wait_exit "$PD_DAEMON_PID" 20
	pd_check_eq "backlog: SIGTERM exits 0" 0 $?
	pd_check_eq "backlog: 40 tickets, 40 acknowledgements and 40 notices sent" "40 80" \
		"$(count "SELECT count(*) FROM tickets") $(count "SELECT count(*) FROM outbox WHERE status = 'sent'")"
	pd_check_eq "backlog: the first answers went out before the last mail was stored" t \
		"$(count "SELECT (SELECT min(sent_at) FROM outbox) < (SELECT max(created_at) FROM messages WHERE direction = 'in')")"
}

# ------------------------------------------------------------------ templates

# A build that was never installed, with a config that names no
# templates_dir, answers from the templates compiled into it.
sc_builtin() {
	setup builtin templates=
	local installed
	installed=$(sed -n 's/^pkgdatadir = //p' "$top_builddir/Makefile")
	[ -d "${installed/\$(datadir)/}/templates" ] &&
		pd_log "builtin: note: an installed templates folder exists; postdeskd reads it"
	local out rc
	out=$("$top_builddir/postdesk" -c "$CONF" check-config 2>&1)
	pd_check_eq "builtin: check-config accepts a config without templates_dir" 0 "$?"
	$MKMAIL --from 'Bob Builder <bob@customer.example>' --subject 'Uninstalled build' \
		--message-id '<bi1@customer.example>' --body 'Does anyone answer?' >"$T/bi1.eml"
	pd_deliver "$U" "$T/bi1.eml"
	once
	pd_check_eq "builtin: postdeskd --once exits 0" 0 "$RC"
	local ack notice
	ack=$(sink_files '^X-Postdesk-Kind: ack')
	notice=$(sink_files '^X-Postdesk-Kind: notice')
	pd_check "builtin: the acknowledgement reaches the SMTP sink" test -n "$ack"
	pd_check "builtin: the notice to the agents reaches the SMTP sink" test -n "$notice"
	[ -n "$ack" ] || { pd_log "$(tail -n 20 "$LOG")"; return; }
	pd_check_eq "builtin: the ack's subject is the built-in template's" \
		"[Support #1] We received your request: Uninstalled build" "$(header "$ack" Subject)"
	pd_check "builtin: the ack's body is the built-in template's" \
		bash -c "$(declare -f body); PD_PYTHON=$PD_PYTHON; body '$ack' | grep 'We have received your request' >/dev/null"
	pd_check_eq "builtin: nothing failed in the outbox" \
		"0" "$(count "SELECT count(*) FROM outbox WHERE status <> 'sent'")"

	# what check-config says about a templates_dir that is not there ...
	sed -i "s|^# no templates_dir.*|templates_dir = \"$T/no-such-folder\"|" "$CONF"
	out=$("$top_builddir/postdesk" -c "$CONF" check-config 2>&1)
	rc=$?
	pd_check_eq "builtin: check-config refuses a missing templates_dir (exit 78)" 78 "$rc"
	pd_check "builtin: ... at the setting's line" \
		grep -qF "$CONF:4: templates_dir: cannot read the folder \"$T/no-such-folder\"" <<<"$out"
	# ... and about a template that does not render
	mkdir -p "$T/broken/en"
	printf 'Subject: Hi\n\nDear {{customer.nmae}},\n' >"$T/broken/en/ack.txt"
	sed -i "s|^templates_dir = .*|templates_dir = \"$T/broken\"|" "$CONF"
	out=$("$top_builddir/postdesk" -c "$CONF" check-config 2>&1)
	rc=$?
	pd_check_eq "builtin: check-config refuses a template that does not render (exit 78)" 78 "$rc"
	pd_check "builtin: ... at the template's line" \
		grep -qF "$T/broken/en/ack.txt:3: unknown field \"customer.nmae\"" <<<"$out"
	once
	pd_check_eq "builtin: postdeskd refuses to start with it (exit 78)" 78 "$RC"
}

# Templates are read as the configuration loads: a template broken while the
# daemon runs changes nothing until a reload, which then refuses it and
# keeps the running configuration; a good one is used from the next reload.
sc_retemplate() {
	mkdir -p "$T/tpl"
	cp -r "$top_srcdir/conf/templates/en" "$T/tpl/"
	setup retemplate templates="$T/tpl"
	LOG=$T/retemplate.daemon.log
	pd_daemon_start "$CONF" "$LOG"
	local i
	for i in $(seq 1 100); do
		grep -q 'connected to' "$LOG" && break
		sleep 0.1
	done
	printf 'Subject: Broken {{ticket.nmber}}\n\nx\n' >"$T/tpl/en/ack.txt"
	kill -HUP "$PD_DAEMON_PID"
	for i in $(seq 1 100); do
		grep -q 'keeping the running one' "$LOG" && break
		sleep 0.1
	done
	pd_check "retemplate: a reload with a broken template names its file and line" \
		grep -qF "$T/tpl/en/ack.txt:1: unknown field \"ticket.nmber\"" "$LOG"
	pd_check "retemplate: ... and keeps the running configuration" \
		grep -q 'new configuration in .* is invalid; keeping the running one' "$LOG"
	$MKMAIL --from 'Rita <rita@customer.example>' --subject 'First' \
		--message-id '<rt1@customer.example>' --body 'One.' >"$T/rt1.eml"
	pd_deliver "$U" "$T/rt1.eml"
	for i in $(seq 1 150); do
		[ -n "$(sink_files '^X-Postdesk-Kind: ack')" ] && break
		sleep 0.1
	done
	pd_check_eq "retemplate: the ack still comes from the templates read at start" \
		"[Support #1] We received your request: First" \
		"$(header "$(sink_files '^X-Postdesk-Kind: ack' | head -n 1)" Subject)"
	rm -f "$PD_SINK_DIR"/*.eml "$PD_SINK_DIR"/*.env
	printf 'Subject: Ticket {{ticket.number}} is open\n\nWe are on it.\n' >"$T/tpl/en/ack.txt"
	kill -HUP "$PD_DAEMON_PID"
	for i in $(seq 1 100); do
		grep -q 'configuration reloaded' "$LOG" && break
		sleep 0.1
	done
	$MKMAIL --from 'Rita <rita@customer.example>' --subject 'Second' \
		--message-id '<rt2@customer.example>' --body 'Two.' >"$T/rt2.eml"
	pd_deliver "$U" "$T/rt2.eml"
	for i in $(seq 1 150); do
		[ -n "$(sink_files '^X-Postdesk-Kind: ack')" ] && break
		sleep 0.1
	done
	pd_check_eq "retemplate: after a good reload the ack uses the new template" \
		"[Support #2] Ticket 2 is open" \
		"$(header "$(sink_files '^X-Postdesk-Kind: ack' | head -n 1)" Subject)"
	kill -TERM "$PD_DAEMON_PID"
	pd_wait_exit "$PD_DAEMON_PID" 20
	pd_check_eq "retemplate: SIGTERM exits 0" 0 $?
}

for s in $SCENARIOS; do
	"sc_$s"
done
pd_finish
