#!/bin/bash
# tests/integration/ingest.sh - mail in, end to end: real PostgreSQL, Dovecot
# and SMTP sink on loopback (tests/integration/lib.sh), the built postdeskd
# and postdesk, and checks through `postdesk tickets/show --json` (DESIGN.md)
# plus a few looks at the database and the mailbox.
#
# Each scenario has its own database (pd_X) and IMAP account (u_X), so one
# failure does not spoil the next.  Run by `make check` (configure
# --enable-integration-tests) or by hand:
#   top_srcdir=. top_builddir=build tests/integration/ingest.sh [SCENARIO...]
# Scenarios: a seen b c d e f corpus g att h hup i j k m set overlap (default: all).
#
# Hooks the daemon provides for this script when built with
# --enable-test-hooks (scripts/test.sh does; without them scenario e is skipped):
#   PD_TEST_CRASH_AFTER_COMMIT=1  postdeskd SIGKILLs itself right after the
#                                 first ingest COMMIT, before touching IMAP.

. "$(dirname "$0")/lib.sh"

MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"
CORPUS=${PD_CORPUS:-$top_srcdir/../shared/corpus}
ALL_SCENARIOS="a seen b c d e f corpus g att h hup i j k m set overlap markahead"
SCENARIOS=${*:-$ALL_SCENARIOS}
RUNS=0

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres
users=
for s in $ALL_SCENARIOS; do users="$users u_$s"; done
pd_start_dovecot $users u_m2
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot imap :$PD_IMAP_PORT imaps :$PD_IMAPS_PORT  SMTP sink :$PD_SMTP_PORT  in $T"

# ------------------------------------------------------------------ helpers

# setup X [pd_write_config options]: database pd_X, account u_X, $CONF.
setup() {
	X=$1
	shift
	DB=pd_$X
	U=u_$X
	CONF=$T/$X.conf
	pd_log "---- scenario $X"
	pd_createdb "$DB" || pd_die "createdb $DB"
	pd_write_config "$CONF" db="$DB" user="$U" smtp=no "$@"
}

# migrate_ok: postdesk migrate must succeed.
migrate_ok() {
	local out=$T/$X.migrate.$((++RUNS)).out
	if pd_cli "$CONF" migrate >"$out" 2>&1; then
		pd_ok "$X: postdesk migrate"
	else
		pd_fail "$X: postdesk migrate" "$(tail -n 20 "$out" "$T/cli.err")"
	fi
}

# mk FILE mkmail-options...
mk() {
	local f=$1
	shift
	$MKMAIL "$@" >"$f" || pd_die "mkmail failed for $f"
}

deliver() {
	pd_deliver "$1" "$2" || pd_die "delivery of $2 to $1 failed"
}

# once [VAR=value ...]: postdeskd --once; status in $RC, log in $LOG.
once() {
	LOG=$T/$X.daemon.$((++RUNS)).log
	pd_daemon_once "$CONF" "$LOG" "$@"
	RC=$?
}

# once_ok NAME [VAR=value ...]: postdeskd --once must exit 0.
once_ok() {
	local name=$1
	shift
	once "$@"
	if [ "$RC" = 0 ]; then
		pd_ok "$X: $name: postdeskd --once exits 0"
	else
		pd_fail "$X: $name: postdeskd --once exits 0" "exit status $RC" \
			"$(tail -n 25 "$LOG")"
	fi
}

# tickets: `postdesk tickets --json` into $TJ (status checked once per call).
tickets() {
	TJ=$T/$X.tickets.$((++RUNS)).json
	if ! pd_cli "$CONF" tickets --json >"$TJ"; then
		pd_fail "$X: postdesk tickets --json" "$(tail -n 5 "$T/cli.err")"
		return 1
	fi
	if [ -z "$(pd_json "$TJ" 'isinstance(d, list)')" ]; then
		pd_fail "$X: tickets --json prints a JSON array" "$(head -c 600 "$TJ")"
		return 1
	fi
	return 0
}

# show N: `postdesk show N --json` into $SJ.
show() {
	SJ=$T/$X.show.$1.$((++RUNS)).json
	if ! pd_cli "$CONF" show "$1" --json >"$SJ"; then
		pd_fail "$X: postdesk show $1 --json" "$(tail -n 5 "$T/cli.err")"
		return 1
	fi
	return 0
}

# jeq NAME FILE EXPR EXPECTED: the Python expression over the JSON equals.
jeq() {
	local got
	got=$(pd_json "$2" "$3")
	if [ -n "$got" ] && [ "$got" = "$4" ]; then
		pd_ok "$X: $1"
	else
		pd_fail "$X: $1" "expression: $3" "expected: $4" "got:      $got" \
			"json: $(head -c 800 "$2")"
	fi
}

# jtrue NAME FILE EXPR
jtrue() { jeq "$1" "$2" "$3" true; }

# mbox_eq NAME FOLDER COUNT [USER]
mbox_eq() {
	local got
	got=$(pd_mailbox_count "${4:-$U}" "$2")
	pd_check_eq "$X: $1" "$3" "$got"
}

TICKET_FIELDS="['number','subject','requester','status','priority','queue','line','created_at','first_response_due','resolution_due','first_response_at','resolved_at','messages','flagged','flag_reason']"
MSG_FIELDS="['direction','kind','message_id','from','to','cc','subject','date','body_text','attachments']"
ISO_RE="r'^\\d{4}-\\d\\d-\\d\\d[T ]\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?([+-]\\d\\d(:?\\d\\d)?|Z)\$'"

# ------------------------------------------------------------------ (a) new mail

sc_a() {
	setup a
	migrate_ok
	local before after
	before=$(pd_psql "$DB" "SELECT (SELECT count(*) FROM schema_version) || '/' || (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')" 2>&1)
	migrate_ok
	after=$(pd_psql "$DB" "SELECT (SELECT count(*) FROM schema_version) || '/' || (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')" 2>&1)
	if [[ $before =~ ^[1-9][0-9]*/[1-9][0-9]*$ ]] && [ "$before" = "$after" ]; then
		pd_ok "a: second migrate is a no-op (schema_version rows/tables: $after)"
	else
		pd_fail "a: second migrate is a no-op (schema_version rows/tables)" \
			"after the first: $before" "after the second: $after"
	fi

	mk "$T/a1.eml" --from 'Jane Customer <jane@customer.example>' \
		--subject 'Printer on floor 3 is jammed' --message-id '<a1.7391@customer.example>' \
		--cc 'Bob Builder <bob@customer.example>' \
		--body 'Hello,\n\nthe printer on floor 3 jams on every page. Token alpha-7391.\n\nJane\n'
	deliver "$U" "$T/a1.eml"
	mbox_eq "delivered mail is in INBOX" INBOX 1
	once_ok "new mail"
	tickets || return
	jeq "one ticket" "$TJ" 'len(d)' 1
	jtrue "ticket has every DESIGN.md field" "$TJ" "all(k in d[0] for k in $TICKET_FIELDS)"
	jtrue "number is an integer" "$TJ" "isinstance(d[0]['number'], int) and not isinstance(d[0]['number'], bool)"
	jeq "subject" "$TJ" "d[0]['subject']" 'Printer on floor 3 is jammed'
	jeq "requester" "$TJ" "d[0]['requester']" 'jane@customer.example'
	jtrue "status new or open" "$TJ" "d[0]['status'] in ('new', 'open')"
	jtrue "priority is one of critical/high/normal/low" "$TJ" "d[0]['priority'] in ('critical', 'high', 'normal', 'low')"
	jtrue "line is an integer >= 1" "$TJ" "isinstance(d[0]['line'], int) and d[0]['line'] >= 1"
	jtrue "created_at is ISO 8601 with offset" "$TJ" "bool(re.match($ISO_RE, d[0]['created_at']))"
	jeq "messages = 1" "$TJ" "d[0]['messages']" 1
	jeq "not flagged" "$TJ" "d[0]['flagged']" false

	local n
	n=$(pd_json "$TJ" "d[0]['number']")
	show "$n" || return
	jeq "show: number" "$SJ" "d['number']" "$n"
	jeq "show: one message" "$SJ" "len(d['messages'])" 1
	jtrue "show: message has every DESIGN.md field" "$SJ" "all(k in d['messages'][0] for k in $MSG_FIELDS)"
	jeq "show: direction in" "$SJ" "d['messages'][0]['direction']" in
	jeq "show: kind customer" "$SJ" "d['messages'][0]['kind']" customer
	jeq "show: message_id" "$SJ" "nomid(d['messages'][0]['message_id'])" 'a1.7391@customer.example'
	jeq "show: from name" "$SJ" "d['messages'][0]['from']['name']" 'Jane Customer'
	jeq "show: from address" "$SJ" "d['messages'][0]['from']['address']" 'jane@customer.example'
	jeq "show: to" "$SJ" "[a['address'] for a in d['messages'][0]['to']]" '["support@example.com"]'
	jeq "show: cc" "$SJ" "[(a['name'], a['address']) for a in d['messages'][0]['cc']]" '[["Bob Builder", "bob@customer.example"]]'
	jeq "show: subject" "$SJ" "d['messages'][0]['subject']" 'Printer on floor 3 is jammed'
	jtrue "show: body_text" "$SJ" "'Token alpha-7391.' in d['messages'][0]['body_text']"
	jeq "show: no attachments" "$SJ" "d['messages'][0]['attachments']" '[]'

	mbox_eq "mail left INBOX" INBOX 0
	mbox_eq "mail moved to processed_folder" Processed 1
	pd_check_eq "a: database holds one message" 1 "$(pd_psql "$DB" 'SELECT count(*) FROM messages' 2>&1)"

	local out=$T/a.table.out
	if pd_cli "$CONF" tickets >"$out" && grep -q 'Printer on floor 3 is jammed' "$out"; then
		pd_ok "a: postdesk tickets prints a table with the subject"
	else
		pd_fail "a: postdesk tickets prints a table with the subject" "$(cat "$out")"
	fi

	once_ok "nothing new"
	tickets || return
	jeq "still one ticket after a second run" "$TJ" 'len(d)' 1
}

# ------------------------------------------------------------------ no processed_folder: \Seen

sc_seen() {
	setup seen processed=
	migrate_ok
	mk "$T/seen1.eml" --from 'Sam Seen <sam@customer.example>' --subject 'Flag me seen' \
		--message-id '<seen1@customer.example>'
	deliver "$U" "$T/seen1.eml"
	once_ok "processed_folder unset"
	tickets || return
	jeq "one ticket" "$TJ" 'len(d)' 1
	mbox_eq "mail stays in INBOX" INBOX 1
	pd_check_eq "seen: mail is flagged \\Seen" 0 "$(pd_mailbox_count "$U" INBOX unseen)"
	once_ok "second run"
	tickets || return
	jeq "second run adds nothing" "$TJ" "[len(d), d[0]['messages']]" '[1, 1]'
}

# ------------------------------------------------------------------ (b) reply by References

sc_b() {
	setup b
	migrate_ok
	mk "$T/b1.eml" --from 'Carla Diaz <carla@customer.example>' \
		--subject 'Cannot log in to the portal' --message-id '<b1.first@customer.example>' \
		--body 'My password reset link says it expired. Token bravo-1.\n'
	deliver "$U" "$T/b1.eml"
	once_ok "first mail"
	mk "$T/b2.eml" --from 'Carla Diaz <carla@customer.example>' \
		--subject 'Re: Cannot log in to the portal' --message-id '<b2.reply@customer.example>' \
		--in-reply-to '<b1.first@customer.example>' --references '<b1.first@customer.example>' \
		--body 'Any news? Token bravo-2.\n'
	deliver "$U" "$T/b2.eml"
	once_ok "reply with In-Reply-To/References"
	tickets || return
	jeq "one ticket" "$TJ" 'len(d)' 1
	jeq "messages = 2" "$TJ" "d[0]['messages']" 2
	# A colleague's mail that only has References (no In-Reply-To, another
	# subject) still belongs to the thread.
	mk "$T/b3.eml" --from 'Dan Colleague <dan@customer.example>' \
		--subject 'portal' --message-id '<b3.colleague@customer.example>' \
		--references '<b1.first@customer.example> <b2.reply@customer.example>' \
		--body 'Same here. Token bravo-3.\n'
	deliver "$U" "$T/b3.eml"
	once_ok "References only, other sender"
	tickets || return
	jeq "still one ticket" "$TJ" 'len(d)' 1
	jeq "messages = 3" "$TJ" "d[0]['messages']" 3
	show "$(pd_json "$TJ" "d[0]['number']")" || return
	jeq "show: three messages in order" "$SJ" "[nomid(m['message_id']) for m in d['messages']]" \
		'["b1.first@customer.example", "b2.reply@customer.example", "b3.colleague@customer.example"]'
	jtrue "show: reply body" "$SJ" "'bravo-2' in d['messages'][1]['body_text']"
}

# ------------------------------------------------------------------ (c) subject tag

sc_c() {
	setup c
	migrate_ok
	mk "$T/c1.eml" --from 'Jane Customer <jane@customer.example>' \
		--cc 'Bob Builder <bob@customer.example>' \
		--subject 'VPN drops every hour' --message-id '<c1@customer.example>'
	deliver "$U" "$T/c1.eml"
	once_ok "first mail"
	tickets || return
	local n
	n=$(pd_json "$TJ" "d[0]['number']")
	pd_check "c: ticket number known" test -n "$n"

	# From the requester, with the tag and no References: same ticket.
	mk "$T/c2.eml" --from 'Jane Customer <jane@customer.example>' \
		--subject "Re: [Support #$n] VPN drops every hour" --message-id '<c2@customer.example>' \
		--body 'Still happening. Token charlie-2.\n'
	deliver "$U" "$T/c2.eml"
	once_ok "tag from requester"
	tickets || return
	jeq "tag from requester joins the ticket" "$TJ" "[len(d), [t['messages'] for t in d if t['number'] == $n]]" "[1, [2]]"

	# From a stranger: a new ticket.
	mk "$T/c3.eml" --from 'Mallory <mallory@evil.example>' \
		--subject "[Support #$n] please add me to this ticket" --message-id '<c3@evil.example>'
	deliver "$U" "$T/c3.eml"
	once_ok "tag from stranger"
	tickets || return
	jeq "tag from a stranger starts a new ticket" "$TJ" "[len(d), [t['messages'] for t in d if t['number'] == $n]]" "[2, [2]]"
	jeq "stranger is the new ticket's requester" "$TJ" "[t['requester'] for t in d if t['number'] != $n]" '["mallory@evil.example"]'

	# From a Cc'd participant and from an agent: same ticket.
	mk "$T/c4.eml" --from 'Bob Builder <bob@customer.example>' \
		--subject "[Support #$n] VPN drops every hour" --message-id '<c4@customer.example>'
	mk "$T/c5.eml" --from 'Alice Agent <alice@example.com>' \
		--subject "Re: [Support #$n] VPN drops every hour" --message-id '<c5@example.com>'
	deliver "$U" "$T/c4.eml"
	deliver "$U" "$T/c5.eml"
	once_ok "tag from cc and agent"
	tickets || return
	jeq "tag from a Cc'd participant and an agent joins" "$TJ" "[len(d), [t['messages'] for t in d if t['number'] == $n]]" "[2, [4]]"

	# Re: alone decides nothing: a new ticket.
	mk "$T/c6.eml" --from 'Jane Customer <jane@customer.example>' \
		--subject 'Re: VPN drops every hour' --message-id '<c6@customer.example>'
	deliver "$U" "$T/c6.eml"
	once_ok "Re: without tag or references"
	tickets || return
	jeq "Re: prefix alone starts a new ticket" "$TJ" "[len(d), [t['messages'] for t in d if t['number'] == $n]]" "[3, [4]]"
}

# ------------------------------------------------------------------ (d) duplicates

sc_d() {
	setup d
	migrate_ok
	local common=(--from 'Erin Example <erin@customer.example>' --subject 'Invoice 2291 is wrong'
		--message-id '<d1.dup@customer.example>' --date 'Mon, 05 Jan 2026 10:00:00 +0100'
		--body 'The invoice lists 12 seats, we have 10. Token delta-1.\n')
	mk "$T/d1.eml" --received 'from mx1.customer.example by mx.example.com; Mon, 05 Jan 2026 10:00:01 +0100' "${common[@]}"
	mk "$T/d2.eml" --received 'from mx2.customer.example by mx.example.com; Mon, 05 Jan 2026 10:00:09 +0100' "${common[@]}"
	mk "$T/d3.eml" --received 'from mx3.customer.example by mx.example.com; Mon, 05 Jan 2026 10:07:00 +0100' "${common[@]}"
	deliver "$U" "$T/d1.eml"
	deliver "$U" "$T/d2.eml"
	once_ok "same mail twice in one batch"
	tickets || return
	jeq "one ticket, one message" "$TJ" "[len(d), d[0]['messages']]" '[1, 1]'
	deliver "$U" "$T/d3.eml"
	once_ok "same mail again later"
	tickets || return
	jeq "still one ticket, one message" "$TJ" "[len(d), d[0]['messages']]" '[1, 1]'
	mbox_eq "all copies processed" INBOX 0
	pd_check_eq "d: database holds one message" 1 "$(pd_psql "$DB" 'SELECT count(*) FROM messages' 2>&1)"

	# Another mail that reuses the Message-ID with other content is kept.
	mk "$T/d4.eml" --from 'Erin Example <erin@customer.example>' --subject 'Invoice 2291 is wrong' \
		--message-id '<d1.dup@customer.example>' --date 'Tue, 06 Jan 2026 09:00:00 +0100' \
		--body 'A different mail with a recycled Message-ID. Token delta-4.\n'
	deliver "$U" "$T/d4.eml"
	once_ok "reused Message-ID"
	tickets || return
	jeq "a different mail with the same Message-ID is kept" "$TJ" "sum(t['messages'] for t in d)" 2
}

# ------------------------------------------------------------------ (e) crash between COMMIT and IMAP flag

sc_e() {
	if ! pd_have_test_hooks; then
		pd_log "e: skipped: postdeskd is built without --enable-test-hooks (PD_TEST_CRASH_AFTER_COMMIT)"
		return
	fi
	setup e
	migrate_ok
	local i
	for i in 1 2 3; do
		mk "$T/e$i.eml" --from "Customer $i <c$i@customer.example>" --subject "Crash test mail $i" \
			--message-id "<e$i.crash@customer.example>" --body "Token echo-$i.\n"
		deliver "$U" "$T/e$i.eml"
	done
	once PD_TEST_CRASH_AFTER_COMMIT=1
	if [ "$RC" = 137 ]; then
		pd_ok "e: postdeskd died by SIGKILL after COMMIT (PD_TEST_CRASH_AFTER_COMMIT=1)"
	else
		pd_fail "e: postdeskd died by SIGKILL after COMMIT (PD_TEST_CRASH_AFTER_COMMIT=1)" \
			"exit status $RC (expected 137)" "$(tail -n 15 "$LOG")"
	fi
	local stored
	stored=$(pd_psql "$DB" 'SELECT count(*) FROM messages' 2>/dev/null)
	pd_check "e: the crashed run committed mail ($stored)" test "$stored" -ge 1 2>/dev/null
	mbox_eq "nothing marked before the crash" INBOX 3
	once_ok "restart after the crash"
	tickets || return
	jeq "three tickets, one message each" "$TJ" "sorted(t['messages'] for t in d)" '[1, 1, 1]'
	pd_check_eq "e: database holds three messages" 3 "$(pd_psql "$DB" 'SELECT count(*) FROM messages' 2>&1)"
	mbox_eq "all mail processed after restart" INBOX 0
	mbox_eq "all mail in processed_folder" Processed 3
}

# ------------------------------------------------------------------ (f) too big: stored raw, flagged

sc_f() {
	setup f 'extra=max_message_size = "1K"'
	migrate_ok
	mk "$T/f1.eml" --from 'Small Sender <small@customer.example>' --subject 'A small mail' \
		--message-id '<f1.small@customer.example>' --body 'Short. Token fox-1.\n'
	mk "$T/f2.eml" --from 'Big Sender <big@customer.example>' --subject 'A big mail' \
		--message-id '<f2.big@customer.example>' --body 'Long. Token fox-2.\n' --body-size 4096
	deliver "$U" "$T/f1.eml"
	deliver "$U" "$T/f2.eml"
	once_ok "mail above max_message_size"
	tickets || return
	jeq "two tickets" "$TJ" 'len(d)' 2
	jeq "the big mail's ticket is flagged" "$TJ" "[t['flagged'] for t in d if t['requester'] == 'big@customer.example']" '[true]'
	jeq "flag_reason is set" "$TJ" "[isinstance(t['flag_reason'], str) and len(t['flag_reason']) > 0 for t in d if t['requester'] == 'big@customer.example']" '[true]'
	jeq "the small mail's ticket is not flagged" "$TJ" "[t['flagged'] for t in d if t['requester'] == 'small@customer.example']" '[false]'
	jeq "big mail stored as one message" "$TJ" "[t['messages'] for t in d if t['requester'] == 'big@customer.example']" '[1]'
	mbox_eq "both processed" INBOX 0

	# The limit raised, the stored original is parsed again and the flag lifted.
	local big
	big=$(pd_json "$TJ" "[t['number'] for t in d if t['requester'] == 'big@customer.example'][0]")
	pd_write_config "$CONF" db="$DB" user="$U" smtp=no
	pd_cli "$CONF" reprocess "$big" 1 >"$T/f.reprocess" || pd_fail "$X: postdesk reprocess" "$(cat "$T/cli.err")"
	show "$big" || return
	jtrue "reprocess: the big mail is parsed now" "$SJ" "'fox-2' in d['messages'][0]['body_text']"
	jeq "reprocess: and its ticket no longer flagged" "$SJ" "d['flagged']" false
	jtrue "reprocess: recorded as an event" "$SJ" "any(e['kind'] == 'message.reprocessed' for e in d['events'])"
	pd_write_config "$CONF" db="$DB" user="$U" smtp=no 'extra=max_message_size = "1K"'

	# A mail that does not parse at all: no header, binary junk.
	printf '\001\002\377 binary junk\r\nwithout any header\r\n' >"$T/f3.eml"
	deliver "$U" "$T/f3.eml"
	once_ok "unparseable mail"
	tickets || return
	jeq "unparseable mail: stored on a third ticket" "$TJ" 'len(d)' 3
	jeq "unparseable mail: its ticket is flagged" "$TJ" "d[-1]['flagged']" true
	jtrue "unparseable mail: flag_reason says why" "$TJ" "'not parsed' in d[-1]['flag_reason']"
	local n
	n=$(pd_json "$TJ" "d[-1]['number']")
	if pd_cli "$CONF" raw "$n" >"$T/f3.raw" && cmp -s "$T/f3.eml" "$T/f3.raw"; then
		pd_ok "$X: postdesk raw shows the original bytes"
	else
		pd_fail "$X: postdesk raw shows the original bytes" "$(od -c "$T/f3.raw" | head -5)"
	fi
	mbox_eq "unparseable mail processed" INBOX 0
}

# ------------------------------------------------------------------ corpus: hostile real-world mail

sc_corpus() {
	setup corpus
	migrate_ok
	if [ ! -d "$CORPUS/mailgem/messages" ]; then
		# a clone without ../shared skips these cases; CI, which has it, must run them
		if [ "${CI:-}" = true ]; then
			pd_fail "corpus: $CORPUS present"
		else
			pd_log "corpus not found at $CORPUS (set PD_CORPUS): its cases skipped"
		fi
		return
	fi
	local f n=0 list=$T/corpus.files
	: >"$list"
	for f in "$CORPUS"/mailgem/messages/error_emails/*.eml \
		"$CORPUS"/mailgem/messages/mime_emails/*.eml \
		"$CORPUS"/mimekit-tnef/messages/*.eml; do
		[ -f "$f" ] || continue
		# Bulk/auto mail may rightly be ignored by loop protection.
		grep -qiE '^(precedence: *(junk|bulk|list)|auto-submitted: *auto)' "$f" && continue
		deliver "$U" "$f"
		echo "$f" >>"$list"
		n=$((n + 1))
	done
	local distinct
	distinct=$(xargs -d '\n' sha256sum <"$list" | awk '{print $1}' | sort -u | wc -l)
	pd_log "corpus: delivered $n mails ($distinct distinct)"
	once_ok "hostile corpus mail"
	tickets || return
	jeq "every distinct corpus mail is stored" "$TJ" "sum(t['messages'] for t in d)" "$distinct"
	mbox_eq "the mailbox is drained" INBOX 0
	pd_log "corpus: $(pd_json "$TJ" "len([t for t in d if t['flagged']])") ticket(s) flagged"
}

# ------------------------------------------------------------------ (g) Russian charsets

sc_g() {
	setup g
	migrate_ok
	mk "$T/g1.eml" --charset koi8-r --subject-encoding B \
		--from 'Иван Петров <ivan@customer.example>' --subject 'Не работает принтер в бухгалтерии' \
		--message-id '<g1.koi8@customer.example>' \
		--body 'Здравствуйте!\n\nПринтер в бухгалтерии не печатает с утра.\n\nИван\n'
	mk "$T/g2.eml" --charset windows-1251 --subject-encoding Q --html \
		--from 'Ольга Смирнова <olga@customer.example>' --subject 'Счёт на оплату №42' \
		--message-id '<g2.cp1251@customer.example>' \
		--body '<html><head><title>x</title></head><body><p>Добрый день!</p><p>Прошу выставить <b>счёт</b> на оплату.</p></body></html>'
	mk "$T/g3.eml" --charset utf-8 --subject-encoding 8bit \
		--from 'Пётр <petr@customer.example>' --subject 'Вопрос по договору: срок действия' \
		--message-id '<g3.utf8@customer.example>' --body 'Текст в UTF-8.\n'
	deliver "$U" "$T/g1.eml"
	deliver "$U" "$T/g2.eml"
	deliver "$U" "$T/g3.eml"
	once_ok "koi8-r, windows-1251, raw UTF-8"
	tickets || return
	jeq "subjects decoded to UTF-8" "$TJ" "sorted(t['subject'] for t in d)" \
		'["Вопрос по договору: срок действия", "Не работает принтер в бухгалтерии", "Счёт на оплату №42"]'
	local n
	n=$(pd_json "$TJ" "[t['number'] for t in d if t['requester'] == 'ivan@customer.example'][0]")
	if show "$n"; then
		jeq "koi8-r display name" "$SJ" "d['messages'][0]['from']['name']" 'Иван Петров'
		jtrue "koi8-r body" "$SJ" "'Принтер в бухгалтерии не печатает с утра.' in d['messages'][0]['body_text']"
	fi
	n=$(pd_json "$TJ" "[t['number'] for t in d if t['requester'] == 'olga@customer.example'][0]")
	if show "$n"; then
		jeq "windows-1251 display name" "$SJ" "d['messages'][0]['from']['name']" 'Ольга Смирнова'
		jtrue "windows-1251 HTML-only body as text" "$SJ" "'на оплату' in d['messages'][0]['body_text'] and 'Добрый день!' in d['messages'][0]['body_text'] and '<p>' not in d['messages'][0]['body_text']"
	fi
}

# ------------------------------------------------------------------ attachments

sc_att() {
	setup att
	migrate_ok
	local pdf=$T/report-2026.pdf size sha
	printf '%%PDF-1.4\n%% postdesk test attachment\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%%%EOF\n' >"$pdf"
	head -c 3000 /dev/urandom >>"$pdf"
	size=$(stat -c %s "$pdf")
	sha=$(sha256sum "$pdf" | cut -d' ' -f1)
	mk "$T/att1.eml" --from 'Tom Becker <tom@customer.example>' --subject 'Report attached' \
		--message-id '<att1@customer.example>' --attach "$pdf:application/pdf" \
		--body 'Please see the attached report. Token papa-1.\n'
	deliver "$U" "$T/att1.eml"
	once_ok "mail with a PDF attachment"
	tickets || return
	show "$(pd_json "$TJ" "d[0]['number']")" || return
	jeq "attachment filename, type, size, sha256" "$SJ" \
		"[(a['filename'], a['content_type'], a['size'], a['sha256']) for a in d['messages'][0]['attachments']]" \
		"[[\"report-2026.pdf\", \"application/pdf\", $size, \"$sha\"]]"
	jtrue "text part is the body" "$SJ" "'Token papa-1.' in d['messages'][0]['body_text']"
}

# ------------------------------------------------------------------ (h) IDLE

# wait_tickets COUNT SECONDS: poll tickets --json until COUNT tickets exist.
wait_tickets() {
	local want=$1 secs=$2 start now got
	start=$(date +%s.%N)
	while :; do
		if pd_cli "${CLI_CONF:-$CONF}" tickets --json >"$T/$X.poll.json" 2>/dev/null; then
			got=$(pd_json "$T/$X.poll.json" 'len(d)')
			[ "${got:-0}" -ge "$want" ] 2>/dev/null && break
		fi
		now=$(date +%s.%N)
		if awk -v s="$start" -v n="$now" -v l="$secs" 'BEGIN { exit !(n - s > l) }'; then
			return 1
		fi
		sleep 0.1
	done
	WAITED=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }')
}

sc_h() {
	setup h 'mailbox_extra=poll_interval    = "300s"'
	migrate_ok
	LOG=$T/h.daemon.log
	pd_daemon_start "$CONF" "$LOG"
	mk "$T/h1.eml" --from 'Hank Idle <hank@customer.example>' --subject 'First mail while running' \
		--message-id '<h1@customer.example>'
	deliver "$U" "$T/h1.eml"
	if wait_tickets 1 15; then
		pd_ok "h: running daemon picks up the first mail (${WAITED}s)"
	else
		pd_fail "h: running daemon picks up the first mail" "$(tail -n 20 "$LOG")"
	fi
	sleep 1 # let it settle in IDLE
	mk "$T/h2.eml" --from 'Hank Idle <hank@customer.example>' --subject 'Second mail, pushed by IDLE' \
		--message-id '<h2@customer.example>'
	deliver "$U" "$T/h2.eml"
	if wait_tickets 2 10; then
		pd_ok "h: mail delivered during IDLE becomes a ticket within 10 s (${WAITED}s)"
		pd_log "IDLE delivery-to-ticket latency: ${WAITED}s (includes CLI polling every 0.1 s)"
	else
		pd_fail "h: mail delivered during IDLE becomes a ticket within 10 s" "$(tail -n 20 "$LOG")"
	fi
	if kill -0 "$PD_DAEMON_PID" 2>/dev/null; then
		kill -TERM "$PD_DAEMON_PID"
		pd_wait_exit "$PD_DAEMON_PID" 15
		RC=$?
	else
		wait "$PD_DAEMON_PID"
		RC="died early: $?"
	fi
	if [ "$RC" = 0 ]; then
		pd_ok "h: SIGTERM stops the daemon with exit 0"
	else
		pd_fail "h: SIGTERM stops the daemon with exit 0" "exit status $RC" "$(tail -n 20 "$LOG")"
	fi
	mbox_eq "both mails processed" INBOX 0
}

# ------------------------------------------------------------------ SIGHUP with a broken config

sc_hup() {
	setup hup
	migrate_ok
	LOG=$T/hup.daemon.log
	pd_daemon_start "$CONF" "$LOG"
	mk "$T/hup1.eml" --from 'Hugo <hugo@customer.example>' --subject 'Before the reload' \
		--message-id '<hup1@customer.example>'
	deliver "$U" "$T/hup1.eml"
	if wait_tickets 1 15; then
		pd_ok "hup: running daemon picks up mail"
	else
		pd_fail "hup: running daemon picks up mail" "$(tail -n 20 "$LOG")"
	fi
	cp "$CONF" "$T/hup.conf.good"
	sed -i '3a this_key_does_not_exist = 1' "$CONF"
	kill -HUP "$PD_DAEMON_PID" 2>/dev/null
	sleep 1
	if kill -0 "$PD_DAEMON_PID" 2>/dev/null; then
		pd_ok "hup: SIGHUP with a broken config keeps the daemon running"
	else
		pd_fail "hup: SIGHUP with a broken config keeps the daemon running" "$(tail -n 20 "$LOG")"
	fi
	if grep -qE "$CONF:4" "$LOG"; then
		pd_ok "hup: the log names the broken line"
	else
		pd_fail "hup: the log names the broken line ($CONF:4)" "$(tail -n 10 "$LOG")"
	fi
	mk "$T/hup2.eml" --from 'Hugo <hugo@customer.example>' --subject 'After a failed reload' \
		--message-id '<hup2@customer.example>'
	deliver "$U" "$T/hup2.eml"
	# (the CLI reads the good copy: the daemon's file is broken now)
	if CLI_CONF=$T/hup.conf.good wait_tickets 2 10; then
		pd_ok "hup: the old config keeps working"
	else
		pd_fail "hup: the old config keeps working" "$(tail -n 20 "$LOG")"
	fi
	cp "$T/hup.conf.good" "$CONF"
	kill -HUP "$PD_DAEMON_PID" 2>/dev/null
	sleep 0.5
	kill -TERM "$PD_DAEMON_PID" 2>/dev/null
	pd_wait_exit "$PD_DAEMON_PID" 15
	pd_check_eq "hup: SIGTERM after reloads exits 0" 0 "$?"
}

# ------------------------------------------------------------------ (i) no schema

sc_i() {
	setup i
	mk "$T/i1.eml" --from 'Ivy <ivy@customer.example>' --subject 'Before migrations' \
		--message-id '<i1@customer.example>'
	deliver "$U" "$T/i1.eml"
	once
	case $RC in
	69 | 78) pd_ok "i: daemon refuses a database without migrations (exit $RC)" ;;
	*) pd_fail "i: daemon refuses a database without migrations (exit 69 or 78)" \
		"exit status $RC" "$(tail -n 15 "$LOG")" ;;
	esac
	if grep -qiE 'schema|migrat' "$LOG"; then
		pd_ok "i: the message says why (schema/migrate)"
	else
		pd_fail "i: the message says why (schema/migrate)" "$(tail -n 15 "$LOG")"
	fi
	mbox_eq "mail left untouched" INBOX 1
	pd_check_eq "i: mail still unseen" 1 "$(pd_mailbox_count "$U" INBOX unseen)"
}

# ------------------------------------------------------------------ (j) check-config

# cc_run FILE: postdesk -c FILE check-config, all output in $CCO, status in $RC.
cc_run() {
	CCO=$T/$X.cc.$((++RUNS)).out
	timeout -k 5 60 "$top_builddir/postdesk" -c "$1" check-config >"$CCO" 2>&1
	RC=$?
}

# line_of FILE REGEX: number of the first line matching.
line_of() { grep -n -m1 -E "$2" "$1" | cut -d: -f1; }

sc_j() {
	setup j
	cc_run "$CONF"
	pd_check_eq "j: the minimal config passes check-config" 0 "$RC"

	local bad=$T/j-unknown.conf l
	sed '3a bogus_key = 1' "$CONF" >"$bad"
	chmod 600 "$bad"
	l=$(line_of "$bad" '^bogus_key')
	cc_run "$bad"
	pd_check_eq "j: unknown key exits 78" 78 "$RC"
	if grep -q "^$bad:$l: " "$CCO"; then
		pd_ok "j: unknown key reported as FILE:LINE: ($l)"
	else
		pd_fail "j: unknown key reported as $bad:$l:" "$(cat "$CCO")"
	fi

	bad=$T/j-values.conf
	sed -e 's/first_response = "30m"/first_response = "soon"/' \
	    -e 's|url              = "imap://[^"]*"|url              = "gopher:/nowhere"|' "$CONF" >"$bad"
	chmod 600 "$bad"
	local ldur lurl
	ldur=$(line_of "$bad" 'first_response = "soon"')
	lurl=$(line_of "$bad" 'gopher:')
	cc_run "$bad"
	pd_check_eq "j: bad duration and bad URL exit 78" 78 "$RC"
	if grep -q "^$bad:$ldur: " "$CCO"; then
		pd_ok "j: bad duration reported at its line ($ldur)"
	else
		pd_fail "j: bad duration reported at $bad:$ldur:" "$(cat "$CCO")"
	fi
	if grep -qE "^$bad:($lurl|$((lurl - 1))): " "$CCO"; then
		pd_ok "j: bad URL reported too, at its line ($lurl)"
	else
		pd_fail "j: bad URL reported too, at $bad:$lurl:" "$(cat "$CCO")"
	fi

	bad=$T/j-nopass.conf
	grep -v 'password ' "$CONF" >"$bad"
	chmod 600 "$bad"
	cc_run "$bad"
	if [ "$RC" = 78 ] && grep -q "^$bad:[0-9]*: " "$CCO"; then
		pd_ok "j: missing password: FILE:LINE: and exit 78"
	else
		pd_fail "j: missing password: FILE:LINE: and exit 78" "exit $RC" "$(cat "$CCO")"
	fi

	bad=$T/j-pwfile.conf
	sed 's|password         = "secret"|password_file    = "/nonexistent/postdesk-password"|' "$CONF" >"$bad"
	chmod 600 "$bad"
	cc_run "$bad"
	if [ "$RC" = 78 ] && grep -q "^$bad:[0-9]*: " "$CCO"; then
		pd_ok "j: unreadable password_file: FILE:LINE: and exit 78"
	else
		pd_fail "j: unreadable password_file: FILE:LINE: and exit 78" "exit $RC" "$(cat "$CCO")"
	fi

	local good=$T/j-pwfile-ok.conf
	(umask 077 && printf 'secret\n' >"$T/j.password")
	sed "s|password         = \"secret\"|password_file    = \"$T/j.password\"|" "$CONF" >"$good"
	chmod 600 "$good"
	cc_run "$good"
	pd_check_eq "j: readable password_file passes" 0 "$RC"

	bad=$T/j-readable.conf
	cp "$CONF" "$bad"
	chmod 644 "$bad"
	cc_run "$bad"
	if [ "$RC" = 78 ] && grep -q "^$bad:[0-9]*: " "$CCO"; then
		pd_ok "j: inline password in a world-readable file: FILE:LINE: and exit 78"
	else
		pd_fail "j: inline password in a world-readable file: FILE:LINE: and exit 78" "exit $RC" "$(cat "$CCO")"
	fi
}

# ------------------------------------------------------------------ (k) TLS

sc_k() {
	setup k url="imaps://127.0.0.1:$PD_IMAPS_PORT/INBOX" tls=implicit
	migrate_ok
	mk "$T/k1.eml" --from 'Kim Secure <kim@customer.example>' --subject 'Over implicit TLS' \
		--message-id '<k1@customer.example>'
	deliver "$U" "$T/k1.eml"

	once
	pd_log "k: without ca_file postdeskd --once exited $RC"
	tickets || return
	jeq "untrusted certificate: no ticket" "$TJ" 'len(d)' 0
	if grep -qi 'certificate' "$LOG"; then
		pd_ok "k: the log says the certificate was refused"
	else
		pd_fail "k: the log says the certificate was refused" "$(tail -n 15 "$LOG")"
	fi
	mbox_eq "mail untouched" INBOX 1

	pd_write_config "$CONF" db="$DB" user="$U" smtp=no url="imaps://127.0.0.1:$PD_IMAPS_PORT/INBOX" \
		tls=implicit ca_file="$PD_CA_FILE"
	once_ok "imaps:// with ca_file"
	tickets || return
	jeq "implicit TLS with the test CA: one ticket" "$TJ" 'len(d)' 1
	mbox_eq "mail processed" INBOX 0

	pd_write_config "$CONF" db="$DB" user="$U" smtp=no url="imaps://localhost:$PD_IMAPS_PORT/INBOX" \
		tls=implicit ca_file="$PD_CA_FILE"
	mk "$T/k2.eml" --from 'Kim Secure <kim@customer.example>' --subject 'Over TLS to localhost' \
		--message-id '<k2@customer.example>'
	deliver "$U" "$T/k2.eml"
	once_ok "imaps://localhost with ca_file"
	tickets || return
	jeq "host name localhost verified: two tickets" "$TJ" 'len(d)' 2

	pd_write_config "$CONF" db="$DB" user="$U" smtp=no url="imap://127.0.0.1:$PD_IMAP_PORT/INBOX" \
		tls=starttls ca_file="$PD_CA_FILE"
	mk "$T/k3.eml" --from 'Kim Secure <kim@customer.example>' --subject 'Over STARTTLS' \
		--message-id '<k3@customer.example>'
	deliver "$U" "$T/k3.eml"
	once_ok "STARTTLS with ca_file"
	tickets || return
	jeq "STARTTLS: three tickets" "$TJ" 'len(d)' 3

	# Bad certificates from the test CA's set (tests/data/tls): the daemon
	# must refuse them before it sends the password.
	local tls_dir=${PD_TLS_DIR:-$top_srcdir/tests/data/tls} bad
	for bad in wrongname expired selfsigned; do
		if [ ! -f "$tls_dir/$bad.pem" ] || [ ! -f "$tls_dir/$bad-key.pem" ]; then
			pd_log "k: no $tls_dir/$bad.pem, $bad certificate not tested"
			continue
		fi
		pd_start_tls_decoy "$bad" "$tls_dir/$bad.pem" "$tls_dir/$bad-key.pem"
		pd_write_config "$CONF" db="$DB" user="$U" smtp=no \
			url="imaps://127.0.0.1:$PD_DECOY_PORT/INBOX" tls=implicit ca_file="$PD_CA_FILE"
		once
		pd_stop_tls_decoy
		pd_log "k: $bad: postdeskd --once exited $RC; server saw: $(sort "$PD_DECOY_LOG" | uniq -c | tr -s ' \n' ' ')"
		if grep -qE 'command (LOGIN|AUTHENTICATE)' "$PD_DECOY_LOG"; then
			pd_fail "k: $bad certificate refused before the password is sent" "$(cat "$PD_DECOY_LOG")"
		elif ! grep -q . "$PD_DECOY_LOG"; then
			pd_fail "k: $bad certificate refused before the password is sent" "the daemon never connected" "$(tail -n 10 "$LOG")"
		else
			pd_ok "k: $bad certificate refused before the password is sent"
		fi
		if grep -qiE 'certificate|host ?name' "$LOG"; then
			pd_ok "k: $bad: the log says why"
		else
			pd_fail "k: $bad: the log says why (certificate/host name)" "$(tail -n 10 "$LOG")"
		fi
	done
}

# ------------------------------------------------------------------ (m) two mailboxes, one mail

sc_m() {
	setup m
	cat >>"$CONF" <<-EOF
		mailbox "sales" {
		  url              = "imap://127.0.0.1:$PD_IMAP_PORT/INBOX"
		  tls              = "none"
		  user             = "u_m2"
		  password         = "secret"
		  processed_folder = "Processed"
		}
	EOF
	migrate_ok
	local common=(--from 'Mia Multi <mia@customer.example>' --to 'support@example.com'
		--to 'sales@example.com' --subject 'Quote for 40 licences'
		--message-id '<m1.both@customer.example>' --date 'Wed, 07 Jan 2026 12:00:00 +0000')
	mk "$T/m1.eml" --received 'by mx.example.com for <support@example.com>' "${common[@]}"
	mk "$T/m2.eml" --received 'by mx.example.com for <sales@example.com>' "${common[@]}"
	deliver "$U" "$T/m1.eml"
	deliver u_m2 "$T/m2.eml"
	once_ok "two mailboxes"
	tickets || return
	jeq "one mail to two watched mailboxes is one message" "$TJ" "[len(d), d[0]['messages']]" '[1, 1]'
	mbox_eq "first mailbox drained" INBOX 0
	mbox_eq "second mailbox drained" INBOX 0 u_m2
}

# ------------------------------------------------------------------ (set) a batch together

# A batch's new tickets and customers' follow-ups are written together
# (storeset.c): the result is what mail-by-mail storing gives - ticket
# numbers in the mails' order, one sender's two mails each acknowledged,
# follow-up notices threaded under the ticket's earlier notices, a duplicate
# in the batch stored once - and the debug line says the set took them.
sc_set() {
	setup set smtp=yes 'extra=log_level = "debug"'
	migrate_ok
	mk "$T/s1.eml" --from 'Ann Able <ann@customer.example>' --subject 'Printer jams' \
		--message-id '<s1@customer.example>' --body 'The printer jams. Token set-1.\n'
	mk "$T/s2.eml" --from 'Bob Baker <bob@customer.example>' --subject 'Invoice missing' \
		--message-id '<s2@customer.example>' --cc 'Cid Cole <cid@customer.example>' \
		--body 'Where is my invoice? Token set-2.\n'
	mk "$T/s3.eml" --from 'Ann Able <ann@customer.example>' --subject 'Scanner too' \
		--message-id '<s3@customer.example>' --body 'And the scanner. Token set-3.\n'
	for f in s1 s2 s3; do deliver "$U" "$T/$f.eml"; done
	once_ok "three new mails, two of one sender"
	pd_check "$X: the set wrote the three new tickets" \
		grep -q "set: mails=3 new=3 follow_ups=0 duplicates=0 per_mail=0" "$LOG"
	tickets || return
	jeq "tickets in the mails' order" "$TJ" \
		"[t['requester'] + ' ' + t['subject'] for t in sorted(d, key=lambda t: t['number'])]" \
		'["ann@customer.example Printer jams", "bob@customer.example Invoice missing", "ann@customer.example Scanner too"]'
	pd_check_eq "$X: each mail acknowledged, the second of one sender too" \
		"ann@customer.example ann@customer.example bob@customer.example" \
		"$(pd_psql "$DB" "SELECT string_agg(to_address, ' ' ORDER BY to_address) FROM outbox WHERE kind = 'ack'")"
	pd_check_eq "$X: the Cc is a participant of its ticket" "cid@customer.example cc" \
		"$(pd_psql "$DB" "SELECT address || ' ' || role FROM participants p JOIN tickets t ON t.id = p.ticket_id WHERE t.subject = 'Invoice missing' AND role = 'cc'")"
	pd_check_eq "$X: one notice per ticket" "1 1 1" \
		"$(pd_psql "$DB" "SELECT string_agg(n::text, ' ') FROM (SELECT count(*) AS n FROM outbox WHERE kind = 'notice' GROUP BY ticket_id ORDER BY ticket_id) c")"
	pd_check_eq "$X: created and classified once per ticket" "3 3" \
		"$(pd_psql "$DB" "SELECT count(*) FILTER (WHERE kind = 'ticket.created') || ' ' || count(*) FILTER (WHERE kind = 'ticket.classified') FROM events")"

	# follow-ups of two tickets, a new mail, and that mail again
	mk "$T/s4.eml" --from 'Ann Able <ann@customer.example>' --subject 'Re: Printer jams' \
		--message-id '<s4@customer.example>' --in-reply-to '<s1@customer.example>' \
		--references '<s1@customer.example>' --body 'Still jamming. Token set-4.\n'
	mk "$T/s5.eml" --from 'Bob Baker <bob@customer.example>' --subject 'Re: Invoice missing' \
		--message-id '<s5@customer.example>' --in-reply-to '<s2@customer.example>' \
		--references '<s2@customer.example>' --body 'Any news? Token set-5.\n'
	mk "$T/s6.eml" --from 'Dee Dale <dee@customer.example>' --subject 'New laptop' \
		--message-id '<s6@customer.example>' --body 'Please order one. Token set-6.\n'
	for f in s4 s5 s6 s6; do deliver "$U" "$T/$f.eml"; done
	once_ok "two follow-ups, a new mail and its copy"
	pd_check "$X: the set wrote the follow-ups and the new ticket, the copy is a duplicate" \
		grep -q "set: mails=4 new=1 follow_ups=2 duplicates=0 per_mail=1" "$LOG"
	tickets || return
	jeq "four tickets" "$TJ" 'len(d)' 4
	# in and out: the customer's mails, the acknowledgement, the notices
	jeq "messages per ticket" "$TJ" "[t['messages'] for t in sorted(d, key=lambda t: t['number'])]" \
		"[5, 5, 3, 3]"
	pd_check_eq "$X: the follow-ups are threaded events on their tickets" \
		"message.threaded message-id Printer jams|message.threaded message-id Invoice missing" \
		"$(pd_psql "$DB" "SELECT string_agg(e.kind || ' ' || (e.detail->>'rule') || ' ' || t.subject, '|' ORDER BY e.id) FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE e.kind = 'message.threaded'")"
	# read in the notices as they were delivered (the outbox keeps what they
	# are rendered from, not their bytes)
	local pair_t pair_1 pair_2 pair_f per_ticket= last_t= c=0
	while IFS='|' read -r pair_t pair_1 pair_2; do
		if [ -n "$last_t" ] && [ "$pair_t" != "$last_t" ]; then
			per_ticket="$per_ticket${per_ticket:+ }$c"
			c=0
		fi
		last_t=$pair_t
		pair_f=$(grep -liF "Message-ID: <$pair_2>" "$PD_SINK_DIR"/*.eml 2>/dev/null | head -1)
		if [ -n "$pair_f" ] && grep -qF "In-Reply-To: <$pair_1>" "$pair_f" &&
			grep -qF "References: <$pair_1>" "$pair_f"; then
			c=$((c + 1))
		fi
		if [ "$pair_2" != "$pair_1" ]; then c=$((c + 1)); fi
	done < <(pd_psql "$DB" "SELECT n1.ticket_id || '|' || n1.message_id || '|' || n2.message_id
		      FROM outbox n1 JOIN outbox n2 ON n2.ticket_id = n1.ticket_id AND n2.id > n1.id
		     WHERE n1.kind = 'notice' AND n2.kind = 'notice'
		     ORDER BY n1.ticket_id, n1.id, n2.id")
	if [ -n "$last_t" ]; then per_ticket="$per_ticket${per_ticket:+ }$c"; fi
	pd_check_eq "$X: each follow-up's notice answers the ticket's first notice" "2 2" "$per_ticket"
	pd_check_eq "$X: the follow-ups' tickets were touched" 2 \
		"$(pd_psql "$DB" "SELECT count(*) FROM tickets WHERE updated_at > created_at")"
	pd_check_eq "$X: the new mail acknowledged once, its copy not" 1 \
		"$(pd_psql "$DB" "SELECT count(*) FROM outbox WHERE kind = 'ack' AND to_address = 'dee@customer.example'")"
	mbox_eq "all marked" INBOX 0

	# two new mails, each with a reply to it in the same batch: the
	# replies wait for their tickets, and a second wave writes them
	mk "$T/s7.eml" --from 'Eve East <eve@customer.example>' --subject 'VPN down' \
		--message-id '<s7@customer.example>' --body 'No VPN. Token set-7.\n'
	mk "$T/s8.eml" --from 'Eve East <eve@customer.example>' --subject 'Re: VPN down' \
		--message-id '<s8@customer.example>' --in-reply-to '<s7@customer.example>' \
		--references '<s7@customer.example>' --body 'Since this morning. Token set-8.\n'
	mk "$T/s9.eml" --from 'Fay Field <fay@customer.example>' --subject 'Password reset' \
		--message-id '<s9@customer.example>' --body 'Locked out. Token set-9.\n'
	mk "$T/s10.eml" --from 'Fay Field <fay@customer.example>' --subject 'Re: Password reset' \
		--message-id '<s10@customer.example>' --in-reply-to '<s9@customer.example>' \
		--references '<s9@customer.example>' --body 'Still locked out. Token set-10.\n'
	for f in s7 s8 s9 s10; do deliver "$U" "$T/$f.eml"; done
	once_ok "two new mails and a reply to each in one batch"
	pd_check "$X: the first wave wrote the new mails" \
		grep -q "set: mails=4 new=2 follow_ups=0 duplicates=0 per_mail=2" "$LOG"
	pd_check "$X: a second wave wrote the replies" \
		grep -q "set: mails=2 new=0 follow_ups=2 duplicates=0 per_mail=0 .* wave=2" "$LOG"
	tickets || return
	jeq "six tickets, in the mails' order" "$TJ" \
		"[t['subject'] for t in sorted(d, key=lambda t: t['number'])][4:]" \
		'["VPN down", "Password reset"]'
	pd_check_eq "$X: each reply is on the ticket of the mail it answers" \
		"s10 Password reset message-id|s8 VPN down message-id" \
		"$(pd_psql "$DB" "SELECT string_agg(split_part(m.message_id, '@', 1) || ' ' || t.subject || ' ' || (e.detail->>'rule'), '|' ORDER BY m.message_id) FROM events e JOIN tickets t ON t.id = e.ticket_id JOIN messages m ON m.id = e.message_id WHERE m.message_id IN ('s8@customer.example', 's10@customer.example')")"
	pd_check_eq "$X: each new ticket acknowledged once, the replies not" \
		"eve@customer.example fay@customer.example" \
		"$(pd_psql "$DB" "SELECT string_agg(to_address, ' ' ORDER BY to_address) FROM outbox WHERE kind = 'ack' AND to_address IN ('eve@customer.example', 'fay@customer.example')")"
	# in the notices as delivered
	local first reply f answered=0
	while IFS='|' read -r first reply; do
		f=$(grep -liF "Message-ID: <$reply>" "$PD_SINK_DIR"/*.eml 2>/dev/null | head -1)
		[ -n "$f" ] && grep -qF "In-Reply-To: <$first>" "$f" && answered=$((answered + 1))
	done < <(pd_psql "$DB" "SELECT n1.message_id || '|' || n2.message_id
		  FROM outbox n1 JOIN outbox n2 ON n2.ticket_id = n1.ticket_id AND n2.id > n1.id
		  JOIN tickets t ON t.id = n1.ticket_id
		 WHERE n1.kind = 'notice' AND n2.kind = 'notice' AND t.subject IN ('VPN down', 'Password reset')")
	pd_check_eq "$X: each reply's notice answers its ticket's first notice" 2 "$answered"
	mbox_eq "all marked after the waves" INBOX 0
}

# numbered PREFIX N NAME SUBJECT: N mails delivered, PREFIX01@customer.example
# ... from NAME 01 ..., Subject "SUBJECT 01" ...; WANT lists their local parts.
numbered() {
	local i
	WANT=
	for i in $(seq -w 1 "$2"); do
		mk "$T/$1$i.eml" --from "$3 $i <${3,,}$i@customer.example>" --subject "$4 $i" \
			--message-id "<$1$i@customer.example>" --body "Mail $i of $2.\n"
		deliver "$U" "$T/$1$i.eml"
		WANT="$WANT${WANT:+ }$1$i"
	done
}

# stored_order: the customers' mails' local parts by ticket, then message.
stored_order() {
	pd_psql "$DB" "SELECT string_agg(split_part(m.message_id, '@', 1), ' ' ORDER BY t.id, m.id)
		FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.direction = 'in'"
}

# ------------------------------------------------------------------ (overlap) fetch ahead

# While batch k is stored, the next one is fetched and parsed ahead.  With
# batch_size 3 over 20 mails, the database refuses the second batch (a
# trigger on its checkpoint, which only that batch's transaction writes):
# the first batch is stored and moved, the second, the one fetched ahead of
# it and all later ones stay in INBOX and unstored; the next run stores the
# other 17 exactly once, ticket numbers in the mails' order.
sc_overlap() {
	setup overlap 'extra=batch_size = 3' 'extra=log_level = "debug"'
	migrate_ok
	pd_psql "$DB" "CREATE FUNCTION refuse_batch2() RETURNS trigger LANGUAGE plpgsql AS
		\$\$ BEGIN
		  IF NEW.last_uid BETWEEN 4 AND 6 THEN
		    RAISE EXCEPTION 'refusing the checkpoint of the second batch';
		  END IF;
		  RETURN NEW;
		END \$\$;
		CREATE TRIGGER refuse_batch2 BEFORE UPDATE ON mailbox_state
		  FOR EACH ROW EXECUTE FUNCTION refuse_batch2()" >/dev/null || pd_die "overlap: trigger"
	numbered ov 20 Olga Overlap

	once
	pd_check "$X: a refused batch fails the run (exit $RC)" test "$RC" != 0
	pd_check "$X: the log says why" grep -q "refusing the checkpoint of the second batch" "$LOG"
	pd_check_eq "$X: the first batch is stored" "ov01 ov02 ov03" \
		"$(pd_psql "$DB" "SELECT string_agg(split_part(message_id, '@', 1), ' ' ORDER BY message_id) FROM messages WHERE direction = 'in'")"
	mbox_eq "only the stored batch is moved" Processed 3
	mbox_eq "the refused batch, the one fetched ahead and the rest stay" INBOX 17
	pd_check "$X: the third batch was fetched ahead while the second was stored" \
		grep -q "imap: > UID FETCH 7:9 (UID BODY.PEEK\[\])" "$LOG"
	pd_check "$X: the batch line tells the wait for the batch fetched ahead" \
		grep -q "batch=3 fetch_ms=[0-9]* parse_ms=[0-9]* store_ms=[0-9]* wait_ms=[0-9]*\$" "$LOG"
	pd_check "$X: and nothing after the refused batch is fetched" \
		bash -c "! grep -q 'imap: > UID FETCH 10:' '$LOG'"

	pd_psql "$DB" "DROP TRIGGER refuse_batch2 ON mailbox_state" >/dev/null
	once_ok "the database accepts the rest"
	pd_check_eq "$X: all twenty stored once, ticket numbers in the mails' order" "$WANT" \
		"$(stored_order)"
	pd_check_eq "$X: in six batches of 3, 3, 3, 3, 3 and 2" "3 3 3 3 3 2" \
		"$(sed -n 's/.* batch=\([0-9]*\) fetch_ms=.*/\1/p' "$LOG" | tr '\n' ' ' | sed 's/ $//')"
	mbox_eq "all moved" Processed 20
	mbox_eq "nothing left" INBOX 0
}

# ------------------------------------------------------------------ (markahead) marks during a backlog

# A backlog is marked on the server as it is stored, every ten batches (at
# most 1,000 UIDs), by the fetch of a later batch, so that the server's work
# on the mark overlaps the store: batch_size 3 over 40 mails marks UIDs
# 1-30 (committed by then) before it fetches the twelfth batch, and the
# rest at the end.  Each mail is stored once, and all forty are moved.
sc_markahead() {
	setup markahead 'extra=batch_size = 3' 'extra=log_level = "debug"'
	migrate_ok
	numbered ma 40 Mira Backlog
	once_ok "a backlog of 40"
	pd_check_eq "$X: marked in two commands, 30 during the backlog and 10 at its end" "30 10" \
		"$(sed -n 's/.* marked=\([0-9]*\) \(ahead_\)\{0,1\}mark_ms=.*/\1/p' "$LOG" | tr '\n' ' ' | sed 's/ $//')"
	pd_check "$X: the first by the fetch ahead, while a batch is stored" \
		grep -q " marked=30 ahead_mark_ms=" "$LOG"
	# the first mark, then the fetch that follows it in the same thread
	pd_check_eq "$X: the first 30 are marked before the twelfth batch is fetched" \
		"marked=30 UID FETCH 34:36" \
		"$(grep -o 'marked=30\|UID FETCH 34:36 (UID BODY' "$LOG" | head -n 2 | sed 's/ (UID BODY//' | tr '\n' ' ' | sed 's/ $//')"
	pd_check "$X: UIDs 1 to 30 are what that command marks" \
		grep -q "imap: > UID MOVE 1:30 \|imap: > UID STORE 1:30 " "$LOG"
	pd_check_eq "$X: all forty stored once, in the mails' order" "$WANT" \
		"$(stored_order)"
	mbox_eq "all moved" Processed 40
	mbox_eq "nothing left" INBOX 0
	once_ok "the next run"
	pd_check_eq "$X: which finds nothing more to store" 40 \
		"$(pd_psql "$DB" "SELECT count(*) FROM messages WHERE direction = 'in'")"
}

# ------------------------------------------------------------------ run

for s in $SCENARIOS; do
	case " $ALL_SCENARIOS " in
	*" $s "*) "sc_$s" ;;
	*) pd_die "unknown scenario $s (known: $ALL_SCENARIOS)" ;;
	esac
done
pd_finish
