#!/bin/bash
# tests/integration/types.sh - request types end to end: rules on the subject
# and body give a new ticket its type (Russian and English), a type section
# routes it to a queue and starts it on a line, a mail no rule matches is a
# question; an agent's "#type complaint" and `postdesk set N type access`
# change it and are recorded with their actor.  Real PostgreSQL, Dovecot and
# SMTP sink on loopback (tests/integration/lib.sh).
#
#   top_srcdir=. top_builddir=build tests/integration/types.sh

. "$(dirname "$0")/lib.sh"

MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"
X=types
DB=ps_types
U=s_types
CONF=$T/types.conf

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres
pd_start_dovecot $U
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP sink :$PD_SMTP_PORT  in $T"

pd_createdb "$DB" || pd_die "createdb $DB"
pd_write_config "$CONF" db="$DB" user="$U" \
	'extra=rule "type-refund" { keywords = {"refund*", "money back", "возврат*"}  type = "refund" }' \
	'extra=rule "type-incident" { keywords = {"не работает", "error", "сбой"}  type = "incident" }' \
	'extra=rule "type-complaint" { keywords = {"жалоба", "complaint"}  type = "complaint" }' \
	'extra=queue "billing" { addresses = {"billing@example.com"} }' \
	'extra=type "incident" { queue = "engineering"  line = 2 }' \
	'extra=type "refund" { queue = "billing" }'
pd_cli "$CONF" migrate >/dev/null || pd_die "migrate $DB"

q() { pd_psql "$DB" "$1"; }
sql_true() { [ "$(q "$1")" = t ]; }

customer_mail() {
	local n=$1 subject=$2 text=$3
	shift 3
	$MKMAIL --from "Customer $n <c$n@customer.example>" --subject "$subject" \
		--message-id "<c$n.$X@customer.example>" --body "$text" "$@" >"$T/$X-c$n.eml"
	pd_deliver "$U" "$T/$X-c$n.eml"
}

# field SUBJECT: "type|queue|line" of the ticket with that subject.
field() { q "SELECT type || '|' || queue || '|' || line FROM tickets WHERE subject = '$1'"; }

customer_mail 1 'Касса не работает' 'С утра касса не пробивает чеки.'
customer_mail 2 'Order 1042' 'Please refund the order, the size is wrong.'
customer_mail 3 'How do I export a report?' 'Where is the CSV export?'
pd_daemon_once "$CONF" "$T/types.1.log"
pd_check_eq "types: postdeskd --once exits 0" 0 $?

pd_check_eq "types: Russian 'не работает' -> incident, routed by its type section to engineering, line 2" \
	"incident|engineering|2" "$(field 'Касса не работает')"
pd_check_eq "types: English refund -> refund, the type's queue billing, its queue's line 1" \
	"refund|billing|1" "$(field 'Order 1042')"
pd_check_eq "types: no rule -> question, default queue, line 1" \
	"question|default|1" "$(field 'How do I export a report?')"
pd_check "types: the classification event has the type and its reasons" \
	sql_true "SELECT e.detail->>'type' = 'incident'
	            AND e.detail->'reasons' @> '[{\"what\": \"type\", \"source\": \"keyword\", \"rule\": \"type-incident\", \"matched\": \"не работает\", \"decided\": true}]'
	            AND e.detail->'reasons' @> '[{\"what\": \"queue\", \"source\": \"type\", \"rule\": \"incident\", \"value\": \"engineering\", \"decided\": true}]'
	          FROM events e JOIN tickets t ON t.id = e.ticket_id
	         WHERE t.subject = 'Касса не работает' AND e.kind = 'ticket.classified'"
pd_check "types: a question's reason is the default" \
	sql_true "SELECT e.detail->'reasons' @> '[{\"what\": \"type\", \"source\": \"default\", \"value\": \"question\", \"decided\": true}]'
	          FROM events e JOIN tickets t ON t.id = e.ticket_id
	         WHERE t.subject = 'How do I export a report?' AND e.kind = 'ticket.classified'"

n=$(q "SELECT id FROM tickets WHERE subject = 'How do I export a report?'")
pd_check_eq "types: tickets --type incident lists one ticket" 1 \
	"$(pd_cli "$CONF" tickets --type incident --json | "$PD_PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))')"
pd_check_eq "types: tickets --json has type and plan" "question|None" \
	"$(pd_cli "$CONF" tickets --json | "$PD_PYTHON" -c "import json, sys; t = [x for x in json.load(sys.stdin) if x['number'] == $n][0]; print(t['type'] + '|' + str(t['plan']))")"
pd_cli "$CONF" tickets >"$T/types-tickets.txt"
pd_check "types: the tickets table has a TYPE column" grep -q 'TYPE' "$T/types-tickets.txt"

# an agent changes the type by mail
$MKMAIL --from 'Alice Agent <alice@example.com>' --to "$(pd_reply_address "$DB" "$n")" \
	--subject "Re: [Support #$n] How do I export a report?" --message-id "<ag1.$X@example.com>" \
	--body $'#type complaint\n\nSorry for the trouble, we are looking into it.' >"$T/$X-ag1.eml"
pd_deliver "$U" "$T/$X-ag1.eml"
pd_daemon_once "$CONF" "$T/types.2.log"
pd_check_eq "types: postdeskd --once exits 0 after the agent's mail" 0 $?
pd_check_eq "types: #type complaint changes the type" complaint \
	"$(q "SELECT type FROM tickets WHERE id = $n")"
pd_check_eq "types: type.changed by the agent, from question to complaint" \
	"alice@example.com|question|complaint" \
	"$(q "SELECT actor || '|' || (detail->>'from') || '|' || (detail->>'to') FROM events WHERE ticket_id = $n AND kind = 'type.changed' ORDER BY id LIMIT 1")"

# and the administrator from the command line
pd_cli "$CONF" set "$n" type access >/dev/null
pd_check_eq "types: postdesk set N type access exits 0" 0 $?
pd_check_eq "types: postdesk set changes the type" access "$(q "SELECT type FROM tickets WHERE id = $n")"
pd_check "types: type.changed by cli:USER" \
	sql_true "SELECT actor LIKE 'cli:%' AND detail->>'from' = 'complaint' AND detail->>'to' = 'access' FROM events WHERE ticket_id = $n AND kind = 'type.changed' ORDER BY id DESC LIMIT 1"
pd_cli "$CONF" set "$n" type bug >/dev/null 2>&1
pd_check_eq "types: an unknown type is refused (65)" 65 $?
pd_cli "$CONF" show "$n" >"$T/types-show.txt"
pd_check "types: postdesk show gives the type" grep -q 'Type: access' "$T/types-show.txt"

pd_finish
