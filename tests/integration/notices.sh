#!/bin/bash
# tests/integration/notices.sh - what notices and relayed answers carry, end
# to end through a real Dovecot, PostgreSQL and SMTP sink: the customer's
# attachments and inline images in the notice (bytes compared with Python's
# email package), "[image: NAME]" in its text, its marker lines, the
# sanitised HTML, the thread of a ticket's notices; the agent's attachments
# in the customer's mail; files above agents.max_notice_attachments listed
# and fetched with `postdesk attachment`; an agent's file above
# smtp.max_message_size left out with an error mail to the agent.
#
#   top_srcdir=. top_builddir=build tests/integration/notices.sh [SCENARIO...]
# Scenarios: carry relay big toolarge (default: all).

. "$(dirname "$0")/lib.sh"

MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"
MIME="$PD_PYTHON $PD_LIB_DIR/mimecheck.py"
ALL_SCENARIOS="carry relay big toolarge"
SCENARIOS=${*:-$ALL_SCENARIOS}
BEGIN_MARK='======== postdesk notice: answer above or below; nothing between these lines reaches the customer ========'
END_MARK='======== end of postdesk notice ========'

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres
users=
for s in $ALL_SCENARIOS; do users="$users n_$s"; done
pd_start_dovecot $users
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP sink :$PD_SMTP_PORT  in $T"


setup() {
	X=$1
	shift
	DB=pn_$X
	U=n_$X
	CONF=$T/$X.conf
	pd_log "---- scenario $X"
	rm -f "$PD_SINK_DIR"/*.eml "$PD_SINK_DIR"/*.env "$PD_SINK_DIR/reply"
	pd_createdb "$DB" || pd_die "createdb $DB"
	pd_write_config "$CONF" db="$DB" user="$U" "$@"
	pd_cli "$CONF" migrate >/dev/null || pd_die "migrate $DB"
}

count() { pd_psql "$DB" "$1"; }
sink_files() { grep -lE "$1" "$PD_SINK_DIR"/*.eml 2>/dev/null; }
sink_count() { ls "$PD_SINK_DIR"/*.eml 2>/dev/null | wc -l; }
# the sink file of the mail with Message-ID <$1>
sink_by_id() { grep -liF "Message-ID: <$1>" "$PD_SINK_DIR"/*.eml 2>/dev/null | head -1; }

header() {
	"$PD_PYTHON" - "$1" "$2" <<-'PY'
		import email, email.policy, sys
		m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
		v = m[sys.argv[2]]
		print("" if v is None else " ".join(str(v).split()))
	PY
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
# part FILE NAME: "TYPE SHA256 CID" of the attachment NAME in the mail FILE
part() { $MIME parts "$1" | awk -F'\t' -v n="$2" '$1 == n { print $2, $3, $4; exit }'; }

once() {
	LOG=$T/$X.daemon.$((++RUNS)).log
	pd_daemon_once "$CONF" "$LOG" "$@"
	RC=$?
}
RUNS=0

# binary test files: random bytes behind real magic numbers
mkfile() { # PATH MAGIC SIZE
	{ printf '%b' "$2"; head -c "$3" /dev/urandom; } >"$1"
}

# ------------------------------------------------------------------ carry

sc_carry() {
	setup carry
	mkdir -p "$T/carry"
	mkfile "$T/carry/report.pdf" '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n' 3000
	mkfile "$T/carry/chart.png" '\x89PNG\r\n\x1a\n' 1500
	$MIME build --from 'Sarah Connor <sarah@customer.example>' --subject 'Invoice wrong' \
		--message-id '<c1@customer.example>' \
		--html '<html><body><p>Hello, the total is wrong, see <img src="cid:chart@customer.example" alt="chart"> and the report.</p><img src="http://tracker.example/p.gif"><script>alert(1)</script></body></html>' \
		--inline "$T/carry/chart.png:image/png:chart@customer.example" \
		--attach "$T/carry/report.pdf:application/pdf" >"$T/carry/c1.eml" || pd_die "build c1"
	pd_deliver "$U" "$T/carry/c1.eml"
	once
	pd_check_eq "carry: postdeskd --once exits 0" 0 "$RC"
	local n1
	n1=$(sink_files '^X-Postdesk-Kind: notice')
	pd_check "carry: a notice was sent" test -n "$n1"
	[ -n "$n1" ] || return
	$MIME structure "$n1" >"$T/carry/n1.structure"
	pd_check_eq "carry: the PDF, with its type and exact bytes" \
		"application/pdf $(sha "$T/carry/report.pdf") " "$(part "$n1" report.pdf)"
	pd_check_eq "carry: the inline PNG, with its type, bytes and Content-ID" \
		"image/png $(sha "$T/carry/chart.png") chart@customer.example" "$(part "$n1" chart.png)"
	pd_check_eq "carry: the sha256 is what show --json gives" \
		"$(sha "$T/carry/report.pdf")" \
		"$(pd_cli "$CONF" show 1 --json >"$T/carry/show.json"; pd_json "$T/carry/show.json" \
			"[a['sha256'] for a in d['messages'][0]['attachments'] if a['filename'] == 'report.pdf'][0]")"
	local text
	text=$($MIME text "$n1")
	case $text in
	*"[image: chart.png]"*) pd_ok "carry: the text says [image: chart.png] where the image stood" ;;
	*) pd_fail "carry: the text says [image: chart.png] where the image stood" "$text" ;;
	esac
	pd_check_eq "carry: the marker lines around the notice's own text" \
		"1 1" "$(grep -cxF "$BEGIN_MARK" <<<"$text") $(grep -cxF "$END_MARK" <<<"$text")"
	pd_check_eq "carry: the BEGIN marker is the first line, END the last" \
		"$BEGIN_MARK|$END_MARK" \
		"$(grep -v '^$' <<<"$text" | head -1)|$(grep -v '^$' <<<"$text" | tail -1)"
	local html
	html=$($MIME html "$n1")
	pd_check "carry: the notice has a text/html part" test -n "$html"
	pd_check "carry: the HTML has the customer's text" grep -q 'the total is wrong' <<<"$html"
	pd_check "carry: no <script> in the notice's HTML" bash -c "! grep -qi '<script' <<<\"\$1\"" _ "$html"
	pd_check "carry: no remote image in the notice's HTML" bash -c "! grep -qi 'tracker.example' <<<\"\$1\"" _ "$html"
	pd_check "carry: the inline image is referenced by cid" grep -q 'cid:chart@customer.example' <<<"$html"
	pd_check "carry: the marker lines are paragraphs of the HTML" grep -qF "<p>$END_MARK</p>" <<<"$html"
	pd_check "carry: multipart/related holds the HTML and the image" \
		grep -q '^ *multipart/related' "$T/carry/n1.structure"
	# queued by the ingest as what it is rendered from, not as bytes: the
	# sender read the customer's HTML and files from the stored original
	pd_check_eq "carry: the notice was queued with no bytes, its spec naming the customer's mail" \
		"1|true|true|true" \
		"$(count "SELECT count(*) || '|' || bool_and(o.raw IS NULL) || '|'
		          || bool_and(((o.render::jsonb)->'carry'->>'parts')::boolean) || '|'
		          || bool_and((o.render::jsonb)->'carry'->>'html' IS NOT NULL)
		          FROM outbox o JOIN messages m ON m.id = ((o.render::jsonb)->'carry'->>'message')::bigint
		          WHERE o.kind = 'notice' AND m.message_id = 'c1@customer.example'")"
	pd_check_eq "carry: acknowledgements and notices all queued as specs" 0 \
		"$(count "SELECT count(*) FROM outbox WHERE kind IN ('ack', 'notice')
		          AND (raw IS NOT NULL OR render IS NULL)")"
	pd_check "carry: the sent notice's size is recorded on the ticket (above the PDF's)" \
		test "$(count "SELECT raw_size FROM messages WHERE direction = 'out' AND kind = 'notice'")" -gt 4000

	# two more mails of the customer: three notices in one thread
	# the second as a client writes it: a plain alternative that does not show the image
	mkfile "$T/carry/pic2.png" '\x89PNG\r\n\x1a\n' 700
	$MIME build --from 'Sarah Connor <sarah@customer.example>' \
		--subject 'Re: [Support #1] Invoice wrong' --message-id '<c2@customer.example>' \
		--text 'Mail number 2, see the picture.' \
		--html '<p>Mail number 2, see <img src="cid:pic2@customer.example"> the picture.</p>' \
		--inline "$T/carry/pic2.png:image/png:pic2@customer.example" >"$T/carry/c2.eml"
	pd_deliver "$U" "$T/carry/c2.eml"
	once
	# the third forwards a mail (message/rfc822): it goes on as a file, byte for byte
	printf 'From: shop@example.org\r\nSubject: Your order\r\n\r\nOrder 42.\r\n' >"$T/carry/order.eml"
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' \
		--subject 'Re: [Support #1] Invoice wrong' --message-id "<c3@customer.example>" \
		--body "Mail number 3." --attach "$T/carry/order.eml:message/rfc822" >"$T/carry/c3.eml"
	pd_deliver "$U" "$T/carry/c3.eml"
	once
	local ids
	mapfile -t ids < <(count "SELECT message_id FROM outbox WHERE kind = 'notice' ORDER BY id")
	pd_check_eq "carry: three notices for ticket 1" 3 "${#ids[@]}"
	[ "${#ids[@]}" = 3 ] || return
	local n2 n3
	n2=$(sink_by_id "${ids[1]}")
	n3=$(sink_by_id "${ids[2]}")
	pd_check_eq "carry: a plain alternative's notice says where the image stood" 1 \
		"$($MIME text "$n2" | grep -c 'see \[image: pic2.png\] the picture')"
	pd_check_eq "carry: and carries it" "image/png $(sha "$T/carry/pic2.png") pic2@customer.example" \
		"$(part "$n2" pic2.png)"
	pd_check_eq "carry: a forwarded mail reaches the agents as a file with its bytes" \
		"application/octet-stream $(sha "$T/carry/order.eml") " "$(part "$n3" order.eml)"
	pd_check_eq "carry: the first notice starts the thread" "" "$(header "$n1" In-Reply-To)"
	pd_check_eq "carry: the second notice In-Reply-To the first" "<${ids[0]}>" "$(header "$n2" In-Reply-To)"
	pd_check_eq "carry: the second notice's References" "<${ids[0]}>" "$(header "$n2" References)"
	pd_check_eq "carry: the third notice In-Reply-To the second" "<${ids[1]}>" "$(header "$n3" In-Reply-To)"
	pd_check_eq "carry: the third notice's References" "<${ids[0]}> <${ids[1]}>" "$(header "$n3" References)"
	pd_check_eq "carry: the follow-up notices have the markers too" 1 \
		"$($MIME text "$n3" | grep -cxF "$END_MARK")"
}

# ------------------------------------------------------------------ relay

# agent_answer N ARGS...: Alice answers the last notice (To its Reply-To).
agent_answer() {
	local n=$1
	shift
	local notice reply_to
	notice=$(sink_by_id "$(count "SELECT message_id FROM outbox WHERE kind = 'notice' ORDER BY id DESC LIMIT 1")")
	reply_to=$(header "$notice" Reply-To | sed 's/.*<\(.*\)>.*/\1/')
	$MIME build --from 'Alice Agent <alice@example.com>' --to "$reply_to" \
		--subject 'Re: [Support #1] Printer broken' --message-id "<ag$n@example.com>" \
		--in-reply-to "$(header "$notice" Message-ID)" "$@" >"$T/ag$n.eml" || pd_die "build ag$n"
	pd_deliver "$U" "$T/ag$n.eml"
	once
}

customer_first() {
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Printer broken' \
		--message-id '<cu1@customer.example>' --body 'The label printer shows error 502.' \
		>"$T/$X.cu1.eml"
	pd_deliver "$U" "$T/$X.cu1.eml"
	once
}

sc_relay() {
	setup relay
	customer_first
	mkfile "$T/manual.pdf" '%PDF-1.5\n' 5000
	agent_answer 1 --text $'Here is the manual.\n\nAlice' --attach "$T/manual.pdf:application/pdf"
	pd_check_eq "relay: postdeskd --once exits 0" 0 "$RC"
	local relay
	relay=$(sink_files '^X-Postdesk-Kind: agent')
	pd_check "relay: the answer was relayed" test -n "$relay"
	[ -n "$relay" ] || return
	pd_check_eq "relay: to the customer" "sarah@customer.example" \
		"$(grep -i '^rcpt' "${relay%.eml}.env" | sed 's/^[^:]*: *//')"
	pd_check_eq "relay: the agent's PDF with its exact bytes" \
		"application/pdf $(sha "$T/manual.pdf") " "$(part "$relay" manual.pdf)"
	pd_check_eq "relay: the answer's text" 1 "$($MIME text "$relay" | grep -c 'Here is the manual')"
	pd_check_eq "relay: the signature separator is '-- ' in the multipart mail" 1 \
		"$($MIME text "$relay" | grep -cx -- '-- ')"
	pd_check "relay: nothing of the notice reaches the customer" \
		bash -c "! grep -q 'postdesk notice' \"\$1\"" _ "$relay"

	mkfile "$T/logo.png" '\x89PNG\r\n\x1a\n' 800
	local quote="<blockquote type=\"cite\"><p>$BEGIN_MARK</p><p>Ticket #1: a message from Sarah</p><p>$END_MARK</p></blockquote>"
	agent_answer 2 --text $'Fixed, see the logo.\n\nAlice' \
		--html "<p>Fixed, see the <img src=\"cid:logo@example.com\"> logo.</p><p>Alice</p>$quote" \
		--inline "$T/logo.png:image/png:logo@example.com"
	pd_check_eq "relay: the HTML answer was relayed" 2 \
		"$(count "SELECT count(*) FROM outbox WHERE kind = 'agent'")"
	relay=$(sink_by_id "$(count "SELECT message_id FROM outbox WHERE kind = 'agent' ORDER BY id DESC LIMIT 1")")
	[ -n "$relay" ] || return
	local html
	html=$($MIME html "$relay")
	pd_check "relay: a text/html part with the agent's words" grep -q 'Fixed, see the' <<<"$html"
	pd_check "relay: the quoted notice is not in the HTML" \
		bash -c "! grep -q 'postdesk notice' <<<\"\$1\"" _ "$html"
	pd_check_eq "relay: the inline image with its exact bytes" \
		"image/png $(sha "$T/logo.png") logo@example.com" "$(part "$relay" logo.png)"
	pd_check "relay: the image is in multipart/related" \
		grep -q '^ *multipart/related' <<<"$($MIME structure "$relay")"
}

# ------------------------------------------------------------------ big

sc_big() {
	setup big 'agents_extra=max_notice_attachments = "4K"'
	mkfile "$T/dump.bin" '\x00\x01BIN' 20000
	$MKMAIL --from 'Sarah Connor <sarah@customer.example>' --subject 'Crash dump' \
		--message-id '<b1@customer.example>' --body 'The dump is attached.' \
		--attach "$T/dump.bin:application/octet-stream" >"$T/b1.eml"
	pd_deliver "$U" "$T/b1.eml"
	once
	pd_check_eq "big: postdeskd --once exits 0" 0 "$RC"
	local notice text
	notice=$(sink_files '^X-Postdesk-Kind: notice')
	pd_check "big: a notice was sent" test -n "$notice"
	[ -n "$notice" ] || return
	pd_check_eq "big: the notice carries no file" "" "$($MIME parts "$notice")"
	text=$($MIME text "$notice")
	pd_check "big: it lists the file with its type and size" \
		grep -qF 'dump.bin (application/octet-stream, 20 KB)' <<<"$text"
	local cmd prefix
	cmd=$(grep -oE 'postdesk attachment 1 [0-9a-f]+ > dump\.bin' <<<"$text")
	pd_check "big: with the command that fetches it" test -n "$cmd"
	prefix=$(awk '{ print $4 }' <<<"$cmd")
	pd_check "big: the listing is inside the markers" \
		bash -c "sed -n '/^$BEGIN_MARK\$/,/^$END_MARK\$/p' <<<\"\$1\" | grep -q 'postdesk attachment'" _ "$text"
	pd_cli "$CONF" attachment 1 "$prefix" >"$T/dump.out"
	pd_check_eq "big: postdesk attachment exits 0" 0 "$?"
	pd_check "big: postdesk attachment gives the exact bytes" cmp -s "$T/dump.bin" "$T/dump.out"
	pd_cli "$CONF" attachment 1 "$(printf '%064d' 0)" >/dev/null
	pd_check_eq "big: an unknown prefix exits 65" 65 "$?"
	pd_check "big: and says so" grep -q 'has no attachment whose sha256 starts with' "$T/cli.err"
	pd_cli "$CONF" attachment 7 "$prefix" >/dev/null
	pd_check_eq "big: an unknown ticket exits 65" 65 "$?"
	pd_cli "$CONF" attachment 1 'xyz!' >/dev/null
	pd_check_eq "big: a prefix that is not hex exits 64" 64 "$?"
	# two files whose sha256 share a prefix (made up here: real ones rarely do)
	count "INSERT INTO blobs (sha256, size, data) VALUES
	         (decode('abcd0$(printf '%059d' 1)', 'hex'), 1, 'x'),
	         (decode('abcd1$(printf '%059d' 2)', 'hex'), 1, 'y');
	       INSERT INTO attachments (message_id, position, filename, content_type, size, sha256)
	       SELECT m.id, 90 + v.n, v.name, 'text/plain', 1, decode(v.h, 'hex')
	         FROM (SELECT min(id) AS id FROM messages WHERE ticket_id = 1) m,
	              (VALUES (1, 'one.txt', 'abcd0$(printf '%059d' 1)'),
	                      (2, 'two.txt', 'abcd1$(printf '%059d' 2)')) v(n, name, h)" >/dev/null
	pd_cli "$CONF" attachment 1 abcd >/dev/null
	pd_check_eq "big: an ambiguous prefix exits 64" 64 "$?"
	pd_check "big: and names both files" grep -q 'abcd is ambiguous.*one.txt.*two.txt' "$T/cli.err"
	pd_check_eq "big: one more digit picks one" y "$(pd_cli "$CONF" attachment 1 abcd1)"
}

# ------------------------------------------------------------------ toolarge

sc_toolarge() {
	setup toolarge 'smtp_extra=max_message_size = "60K"'
	customer_first
	printf 'a small file\n' >"$T/small.txt"
	mkfile "$T/huge.bin" 'HUGE' 100000
	agent_answer 1 --text $'Two files for you.\n\nAlice' --attach "$T/small.txt:text/plain" \
		--attach "$T/huge.bin:application/octet-stream"
	pd_check_eq "toolarge: postdeskd --once exits 0" 0 "$RC"
	local relay error
	relay=$(sink_files '^X-Postdesk-Kind: agent')
	error=$(sink_files '^X-Postdesk-Kind: error')
	pd_check "toolarge: the answer was relayed" test -n "$relay"
	pd_check "toolarge: the agent got an error mail" test -n "$error"
	[ -n "$relay" ] && [ -n "$error" ] || return
	pd_check_eq "toolarge: the small file reached the customer" \
		"text/plain $(sha "$T/small.txt") " "$(part "$relay" small.txt)"
	pd_check_eq "toolarge: the big one did not" "" "$(part "$relay" huge.bin)"
	pd_check "toolarge: the relayed mail is under the limit" test "$(stat -c %s "$relay")" -lt 61440
	pd_check_eq "toolarge: the error mail goes to the agent" "alice@example.com" \
		"$(grep -i '^rcpt' "${error%.eml}.env" | sed 's/^[^:]*: *//')"
	local etext
	etext=$($MIME text "$error")
	pd_check "toolarge: it names the file and the limit" \
		bash -c "grep -qF 'huge.bin (application/octet-stream, 98 KB)' <<<\"\$1\" && grep -q 'max_message_size' <<<\"\$1\"" _ "$etext"
}

for s in $SCENARIOS; do
	"sc_$s"
done
pd_finish
