#!/bin/bash
# tests/integration/hostile.sh - mail built to hurt: 10,000 MIME parts, 1 MB
# header lines, 100-deep nesting, damaged base64 and quoted-printable, NUL
# bytes, a 50 MB attachment, CR/LF smuggled into subjects and names, SQL
# metacharacters everywhere.  Each hostile mail is delivered to a real Dovecot
# between two ordinary mails and fetched by the real postdeskd (--once) with
# PostgreSQL and an SMTP sink on loopback (tests/integration/lib.sh).  Every
# time: the daemon exits 0, the mail is stored exactly once and moved out of
# the INBOX, the log names it, and its neighbours in the batch are stored as
# usual.  Mails come from tests/integration/hostile_mail.py.
#
#   top_srcdir=. top_builddir=build tests/integration/hostile.sh [SCENARIO...]
# Scenarios: parts long deep enc nul big huge crlf sql (default: all).
#
# big also measures the daemon's peak RSS (GNU time) while it stores the
# 50 MB attachment and requires it below 3x the mail's size.  Under ASan the
# allocator's quarantine would keep freed buffers around, so that run has
# quarantine_size_mb=0 (and the bound allows for ASan's shadow memory); with
# PD_VALGRIND=1 that one daemon still runs natively.
# huge sends the same mail above max_message_size ("1M"): only its first
# megabyte is fetched and stored, and the daemon's peak RSS stays far below
# the mail's size (under half of it, ASan's own memory included; the big
# scenario, which fetches the same mail whole, needs over 3x).
# PD_HOSTILE_BIG_MB changes the attachment's size (default 50).

. "$(dirname "$0")/lib.sh"

HOSTILE="$PD_PYTHON $PD_LIB_DIR/hostile_mail.py"
MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"
ALL_SCENARIOS="parts long deep enc nul big huge crlf sql"
SCENARIOS=${*:-$ALL_SCENARIOS}
BIG_MB=${PD_HOSTILE_BIG_MB:-50}

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres
users=
for s in $ALL_SCENARIOS; do users="$users h_$s"; done
pd_start_dovecot $users
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP sink :$PD_SMTP_PORT  in $T"

setup() {
	X=$1
	shift
	DB=ph_$X
	U=h_$X
	CONF=$T/$X.conf
	RUNS=0
	pd_log "---- scenario $X"
	rm -f "$PD_SINK_DIR"/*.eml "$PD_SINK_DIR"/*.env
	pd_createdb "$DB" || pd_die "createdb $DB"
	pd_write_config "$CONF" db="$DB" user="$U" "$@"
	pd_cli "$CONF" migrate >/dev/null || pd_die "migrate $DB"
}

# sql QUERY [name=value ...]: rows of QUERY on $DB, unaligned; the values are
# psql variables, used in the query as :'name' (quoted by psql, so the
# hostile strings themselves never become SQL here either).
sql() {
	local q=$1 kv args=()
	shift
	for kv in "$@"; do args+=(-v "$kv"); done
	psql -X -At -U postdesk -d "$DB" "${args[@]}" <<<"$q"
}

once() {
	LOG=$T/$X.daemon.$((++RUNS)).log
	pd_daemon_once "$CONF" "$LOG" "$@"
	RC=$?
	[ "$RC" = "$PD_VALGRIND_EXIT" ] && [ "${PD_VALGRIND:-0}" = 1 ] && pd_valgrind_report
}

sink_count() { ls "$PD_SINK_DIR"/*.eml 2>/dev/null | wc -l; }

# batch FILE...: an ordinary mail, the hostile FILEs, another ordinary mail,
# all in the INBOX before one run of postdeskd --once.
batch() {
	$MKMAIL --from "Ann Before <ann@customer.example>" --subject "Before $X" \
		--message-id "<$X.before@customer.example>" --body "Ordinary mail before $X." \
		>"$T/$X.before.eml" || pd_die "mkmail"
	$MKMAIL --from "Bob After <bob@customer.example>" --subject "After $X" \
		--message-id "<$X.after@customer.example>" --body "Ordinary mail after $X." \
		>"$T/$X.after.eml" || pd_die "mkmail"
	pd_deliver "$U" "$T/$X.before.eml" || pd_die "deliver before"
	local f
	for f in "$@"; do
		pd_deliver "$U" "$f" || pd_die "doveadm save $f"
	done
	pd_deliver "$U" "$T/$X.after.eml" || pd_die "deliver after"
	NMAILS=$(($# + 2))
	once
}

# common: the checks every hostile batch must pass.
common() {
	pd_check_eq "$X: postdeskd --once exits 0" 0 "$RC"
	pd_check_eq "$X: nothing left in the INBOX" 0 "$(pd_mailbox_count "$U" INBOX)"
	pd_check_eq "$X: all $NMAILS mails moved to Processed" "$NMAILS" \
		"$(pd_mailbox_count "$U" Processed)"
	pd_check_eq "$X: the ordinary mails around it are stored as usual" \
		"Before $X|Ordinary mail before $X.|f
After $X|Ordinary mail after $X.|f" \
		"$(sql "SELECT m.subject || '|' || rtrim(m.body_text, E'\n') || '|' || left(t.flagged::text, 1)
			FROM messages m JOIN tickets t ON t.id = m.ticket_id
			WHERE m.message_id IN (:'a', :'b') ORDER BY m.id" \
			a="$X.before@customer.example" b="$X.after@customer.example")"
	pd_check_eq "$X: one ticket per mail, nothing failed" "$NMAILS $NMAILS 0" \
		"$(sql "SELECT (SELECT count(*) FROM tickets) || ' ' ||
			(SELECT count(*) FROM messages WHERE direction = 'in')") $(grep -c 'action=failed' "$LOG")"
	pd_check "$X: no sanitizer or valgrind report in the log" \
		bash -c "! grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|== ?Invalid' '$LOG'"
}

# stored ID NAME: the mail with Message-ID ID is stored exactly once, not
# flagged, and the daemon's log line names it.
stored() {
	local id=$1 name=$2
	pd_check_eq "$X: $name stored exactly once, parsed (not flagged)" "1 f" \
		"$(sql "SELECT count(*) || ' ' || coalesce(left(bool_or(t.flagged)::text, 1), '-')
			FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = :'id'" \
			id="$id")"
	pd_check "$X: the log line names the $name (msgid, action=new)" logged "$id"
}

# logged ID: the daemon's outcome line for the mail with Message-ID ID.
logged() {
	grep -F "msgid=<$1> size=" "$LOG" | grep -q "action=new"
}

# field ID COLUMN: one column of the stored message with Message-ID ID.
field() {
	sql "SELECT $2 FROM messages m WHERE m.message_id = :'id'" id="$1"
}

# ------------------------------------------------------------------ 10,000 parts

sc_parts() {
	setup parts
	$HOSTILE parts --count 10000 --id parts@customer.example >"$T/parts.eml"
	batch "$T/parts.eml"
	common
	stored parts@customer.example "mail with 10,000 parts"
	case $(field parts@customer.example body_text | head -n 1) in
	"Body of a mail with 10000 parts.") pd_ok "parts: the first part is the body" ;;
	*) pd_fail "parts: the first part is the body" "$(field parts@customer.example 'left(body_text, 200)')" ;;
	esac
	# parts 1..9998 fit the 10,000-entity budget (the top entity counts):
	# every tenth one is an attachment, the last part is not parsed
	pd_check_eq "parts: attachments within the part budget are stored" "999 part-00010.bin part-09990.bin" \
		"$(sql "SELECT count(*) || ' ' || min(filename) || ' ' || max(filename) FROM attachments a
			JOIN messages m ON m.id = a.message_id WHERE m.message_id = 'parts@customer.example'")"
	pd_check_eq "parts: the raw mail is kept whole" "$(wc -c <"$T/parts.eml")" \
		"$(field parts@customer.example raw_size)"
}

# ------------------------------------------------------------------ 1 MB header line, 1 MB subject

sc_long() {
	setup long
	$HOSTILE longhdr --size 1048576 --id longhdr@customer.example >"$T/longhdr.eml"
	$HOSTILE longsubj --size 1048576 --id longsubj@customer.example >"$T/longsubj.eml"
	batch "$T/longhdr.eml" "$T/longsubj.eml"
	common
	stored longhdr@customer.example "mail with a 1 MB header line"
	stored longsubj@customer.example "mail with a 1 MB Subject"
	pd_check_eq "long: the 1 MB header line is in the raw mail" "$(wc -c <"$T/longhdr.eml")" \
		"$(sql "SELECT length(r.raw) FROM message_raw r JOIN messages m ON m.id = r.message_id
			WHERE m.message_id = 'longhdr@customer.example'")"
	pd_check_eq "long: the 1 MB Subject is stored whole" 1048576 \
		"$(field longsubj@customer.example 'length(subject)')"
	pd_check_eq "long: ...and starts as written" "w0000000000 w0000000001" \
		"$(field longsubj@customer.example 'left(subject, 23)')"
	pd_check_eq "long: its ticket's subject (what the classifier, the KB search and the answers see) is cut to 1 KB" \
		"1024" "$(sql "SELECT octet_length(t.subject) FROM tickets t JOIN messages m ON m.ticket_id = t.id
			WHERE m.message_id = 'longsubj@customer.example'")"
	# the acknowledgement and notice of the long subject went out, each
	# header line within SMTP's 998-octet limit
	local f bad=0 n=0
	for f in "$PD_SINK_DIR"/*.eml; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		awk 'BEGIN { RS = "\r\n" } /^$/ { exit } length($0) > 998 { bad = 1 } END { exit !bad }' "$f" &&
			bad=$((bad + 1))
	done
	pd_check_eq "long: acknowledgements and notices for all four mails sent" 8 "$n"
	pd_check_eq "long: no outgoing header line longer than 998 octets" 0 "$bad"
}

# ------------------------------------------------------------------ 100-deep nesting

sc_deep() {
	setup deep
	$HOSTILE deep --depth 100 --id deep@customer.example >"$T/deep.eml"
	$HOSTILE deeprfc --depth 100 --id deeprfc@customer.example >"$T/deeprfc.eml"
	batch "$T/deep.eml" "$T/deeprfc.eml"
	common
	stored deep@customer.example "100-deep multipart"
	stored deeprfc@customer.example "100-deep message/rfc822"
	pd_check_eq "deep: the top text is the body" "Top text of a mail nested 100 deep." \
		"$(field deep@customer.example "rtrim(body_text, E'\n')")"
	pd_check_eq "deep: the forwarded mail's text is the body" "Forwarded 100 levels deep." \
		"$(field deeprfc@customer.example "rtrim(body_text, E'\n')")"
	pd_check_eq "deep: the attached message is kept as one attachment" "1 message/rfc822" \
		"$(sql "SELECT count(*) || ' ' || min(content_type) FROM attachments a
			JOIN messages m ON m.id = a.message_id WHERE m.message_id = 'deeprfc@customer.example'")"
}

# ------------------------------------------------------------------ damaged transfer encodings

sc_enc() {
	setup enc
	$HOSTILE badb64 --id badb64@customer.example >"$T/badb64.eml"
	$HOSTILE badqp --id badqp@customer.example >"$T/badqp.eml"
	batch "$T/badb64.eml" "$T/badqp.eml"
	common
	stored badb64@customer.example "mail with damaged base64"
	stored badqp@customer.example "mail with damaged quoted-printable"
	case $(field badb64@customer.example body_text) in
	*"printer"*) pd_ok "enc: the readable part of the base64 body is kept" ;;
	*) pd_fail "enc: the readable part of the base64 body is kept" "$(field badb64@customer.example body_text)" ;;
	esac
	pd_check_eq "enc: the damaged base64 attachment is stored" "1 broken.pdf" \
		"$(sql "SELECT count(*) || ' ' || min(filename) FROM attachments a
			JOIN messages m ON m.id = a.message_id WHERE m.message_id = 'badb64@customer.example'")"
	local qp
	qp=$(field badqp@customer.example 'left(body_text, 60)')
	case $qp in
	"Damaged quoted-printable =ZZ and =4 and "*) pd_ok "enc: bad =XX sequences kept as written" ;;
	*) pd_fail "enc: bad =XX sequences kept as written" "$qp" ;;
	esac
	pd_check_eq "enc: the 100 kB quoted-printable line is decoded" 1 \
		"$(field badqp@customer.example "(position(repeat('x', 100000) IN body_text) > 0)::int")"
	pd_check_eq "enc: the body is valid text (latin1 bytes decoded)" 1 \
		"$(field badqp@customer.example "(position('raw 8-bit: éè' IN body_text) > 0)::int")"
}

# ------------------------------------------------------------------ NUL bytes

sc_nul() {
	setup nul
	$HOSTILE nul --id nul@customer.example --subject "Nul test" >"$T/nul.eml"
	batch "$T/nul.eml"
	common
	stored nul@customer.example "mail with NUL bytes"
	local subj
	subj=$(field nul@customer.example subject)
	case $subj in
	"Nul test with a "*" NUL") pd_ok "nul: the Subject is stored without the NUL" ;;
	*) pd_fail "nul: the Subject is stored without the NUL" "$subj" ;;
	esac
	case $(field nul@customer.example body_text) in
	"Text with a "*" NUL byte and "*" two more."*) pd_ok "nul: the body is stored" ;;
	*) pd_fail "nul: the body is stored" "$(field nul@customer.example body_text | od -c | head -3)" ;;
	esac
	# IMAP hands a NUL out as it was stored or (Dovecot without BINARY) as
	# 0x80; either way postdesk keeps exactly the bytes it fetched
	local att
	att=$(sql "SELECT a.filename || ' ' || encode(b.data, 'hex') FROM attachments a
			JOIN blobs b ON b.sha256 = a.sha256
			JOIN messages m ON m.id = a.message_id WHERE m.message_id = 'nul@customer.example'")
	case $att in
	"nul.bin 0001020062696e61727900" | "nul.bin 8001028062696e61727980")
		pd_ok "nul: the binary attachment is stored byte for byte ($att)" ;;
	*) pd_fail "nul: the binary attachment is stored byte for byte" "$att" ;;
	esac
	local t
	t=$(sql "SELECT m.ticket_id FROM messages m WHERE m.message_id = 'nul@customer.example'")
	pd_cli "$CONF" raw "$t" >"$T/nul.raw"
	if cmp -s "$T/nul.eml" "$T/nul.raw" ||
		cmp -s <(tr '\000' '\200' <"$T/nul.eml") "$T/nul.raw"; then
		pd_ok "nul: postdesk raw gives back the fetched bytes"
	else
		pd_fail "nul: postdesk raw gives back the fetched bytes" "$(cmp "$T/nul.eml" "$T/nul.raw" 2>&1)"
	fi
}

# ------------------------------------------------------------------ a 50 MB attachment

sc_big() {
	# parsed, not stored raw: the limit is above the mail
	setup big extra="max_message_size = \"$((BIG_MB * 2 + 16))M\""
	$HOSTILE big --size $((BIG_MB * 1024 * 1024)) --attach-out "$T/big.bin" \
		--id big@customer.example >"$T/big.eml" || pd_die "hostile_mail big"
	local size
	size=$(wc -c <"$T/big.eml")
	pd_log "big: mail of $size bytes, attachment of $((BIG_MB * 1024 * 1024)) bytes"
	# deliver and run by hand, with the peak RSS measured by GNU time
	$MKMAIL --from "Ann Before <ann@customer.example>" --subject "Before $X" \
		--message-id "<$X.before@customer.example>" --body "Ordinary mail before $X." \
		>"$T/$X.before.eml"
	$MKMAIL --from "Bob After <bob@customer.example>" --subject "After $X" \
		--message-id "<$X.after@customer.example>" --body "Ordinary mail after $X." \
		>"$T/$X.after.eml"
	pd_deliver "$U" "$T/$X.before.eml"
	pd_deliver "$U" "$T/big.eml" || pd_die "doveadm save big.eml"
	pd_deliver "$U" "$T/$X.after.eml"
	NMAILS=3
	LOG=$T/big.daemon.log
	# always the native daemon, also with PD_VALGRIND=1: under memcheck the
	# RSS means nothing (and 70 MB through it take minutes); the other
	# scenarios cover valgrind
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:malloc_context_size=0" \
		timeout -k 5 600 /usr/bin/time -f '%M' -o "$T/big.rss" \
		"$top_builddir/postdeskd" -c "$CONF" --once >"$LOG" 2>&1
	RC=$?
	common
	stored big@customer.example "mail with a ${BIG_MB} MB attachment"
	pd_check_eq "big: the raw size is the mail's size" "$size $size" \
		"$(sql "SELECT m.raw_size || ' ' || length(r.raw) FROM messages m
			JOIN message_raw r ON r.message_id = m.id WHERE m.message_id = 'big@customer.example'")"
	pd_check_eq "big: the attachment is stored with its size and SHA-256" \
		"big.bin $((BIG_MB * 1024 * 1024)) $(sha256sum "$T/big.bin" | cut -c1-64)" \
		"$(sql "SELECT a.filename || ' ' || a.size || ' ' || encode(a.sha256, 'hex') || ' ' ||
			(SELECT length(data) FROM blobs b WHERE b.sha256 = a.sha256)
			FROM attachments a JOIN messages m ON m.id = a.message_id
			WHERE m.message_id = 'big@customer.example'" | cut -d' ' -f1-3)"
	pd_check_eq "big: the blob holds all of it" "$((BIG_MB * 1024 * 1024))" \
		"$(sql "SELECT length(b.data) FROM blobs b JOIN attachments a ON a.sha256 = b.sha256
			JOIN messages m ON m.id = a.message_id WHERE m.message_id = 'big@customer.example'")"
	# Peak RSS below 3x the mail.  An ASan build also keeps shadow memory, one
	# byte per eight bytes of the program's own (the quarantine is off above),
	# so there the bound is 3x the mail plus an eighth.
	local kb limit what="3x the mail"
	kb=$(tail -n 1 "$T/big.rss" 2>/dev/null)
	limit=$((size * 3 / 1024))
	if grep -q __asan_init "$top_builddir/postdeskd"; then
		limit=$((limit * 9 / 8))
		what="3x the mail + ASan's shadow"
	fi
	pd_log "big: peak RSS of postdeskd ${kb:-?} kB for a mail of $((size / 1024)) kB ($(
		awk -v a="${kb:-0}" -v b="$size" 'BEGIN { printf "%.2f", a * 1024 / b }')x)"
	if [ -n "$kb" ] && [ "$kb" -lt "$limit" ]; then
		pd_ok "big: peak RSS ${kb} kB is under $what ($limit kB)"
	else
		pd_fail "big: peak RSS ${kb:-?} kB is under $what ($limit kB)"
	fi
	rm -f "$T/big.eml" "$T/big.bin"
}

# ------------------------------------------------------------------ above max_message_size

sc_huge() {
	# the limit is far below the mail: it is never fetched whole
	setup huge extra='max_message_size = "1M"'
	$HOSTILE big --size $((BIG_MB * 1024 * 1024)) --id huge@customer.example \
		--subject "Huge mail" >"$T/huge.eml" || pd_die "hostile_mail big"
	local size
	size=$(wc -c <"$T/huge.eml")
	pd_log "huge: mail of $size bytes, max_message_size 1M"
	$MKMAIL --from "Ann Before <ann@customer.example>" --subject "Before $X" \
		--message-id "<$X.before@customer.example>" --body "Ordinary mail before $X." \
		>"$T/$X.before.eml"
	$MKMAIL --from "Bob After <bob@customer.example>" --subject "After $X" \
		--message-id "<$X.after@customer.example>" --body "Ordinary mail after $X." \
		>"$T/$X.after.eml"
	pd_deliver "$U" "$T/$X.before.eml"
	pd_deliver "$U" "$T/huge.eml" || pd_die "doveadm save huge.eml"
	pd_deliver "$U" "$T/$X.after.eml"
	rm -f "$T/huge.eml"
	NMAILS=3
	LOG=$T/huge.daemon.log
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:malloc_context_size=0" \
		timeout -k 5 600 /usr/bin/time -f '%M' -o "$T/huge.rss" \
		"$top_builddir/postdeskd" -c "$CONF" --once >"$LOG" 2>&1
	RC=$?
	common
	pd_check_eq "huge: stored once, its size on the server recorded, its first MB kept" \
		"1 $size 1048576" \
		"$(sql "SELECT count(*) || ' ' || max(m.raw_size) || ' ' || max(length(r.raw)) FROM messages m
			JOIN message_raw r ON r.message_id = m.id WHERE m.message_id = 'huge@customer.example'")"
	pd_check_eq "huge: its ticket is flagged, saying only a part was stored" "t|t|Huge mail" \
		"$(sql "SELECT left(t.flagged::text, 1) || '|' ||
			(t.flag_reason LIKE '%only its first 1048576 bytes%')::text::char || '|' || m.subject
			FROM tickets t JOIN messages m ON m.ticket_id = t.id
			WHERE m.message_id = 'huge@customer.example'")"
	pd_check "huge: the log says it was fetched only in part" \
		grep -q "above max_message_size: fetching only its first 1048576 bytes" "$LOG"
	local kb limit=$((size / 2 / 1024))
	kb=$(tail -n 1 "$T/huge.rss" 2>/dev/null)
	pd_log "huge: peak RSS of postdeskd ${kb:-?} kB for a mail of $((size / 1024)) kB"
	if [ -n "$kb" ] && [ "$kb" -lt "$limit" ]; then
		pd_ok "huge: peak RSS ${kb} kB is under half the mail ($limit kB; fetched whole it was over 3x)"
	else
		pd_fail "huge: peak RSS ${kb:-?} kB is under half the mail ($limit kB)"
	fi
	# marked: the next run finds nothing to do
	once
	pd_check_eq "huge: a second run exits 0" 0 "$RC"
	pd_check_eq "huge: ...and fetches nothing again" 1 \
		"$(grep -c 'done: 0 fetched' "$LOG")"
	# parsing it again cannot lift the flag: only a part is stored
	local t
	t=$(sql "SELECT ticket_id FROM messages WHERE message_id = 'huge@customer.example'")
	pd_cli "$CONF" reprocess "$t" 1 >/dev/null
	pd_check_eq "huge: reprocessing the stored part keeps the ticket flagged" t \
		"$(sql "SELECT left(flagged::text, 1) FROM tickets WHERE id = :'t'" t="$t")"
}

# ------------------------------------------------------------------ CR/LF smuggling

# notice_id ID: <Message-ID> of the agents' notice for the ticket of the mail ID.
notice_id() {
	sql "SELECT '<' || o.message_id || '>' FROM outbox o JOIN messages m ON m.ticket_id = o.ticket_id
		WHERE m.message_id = :'id' AND o.kind = 'notice' ORDER BY o.id LIMIT 1" id="$1"
}

# headers_clean FILE: every line of the header block ends in CRLF, no bare CR
# or LF anywhere in it, and none of the smuggled fields made it in.
headers_clean() {
	"$PD_PYTHON" - "$1" <<-'PY'
		import sys
		data = open(sys.argv[1], "rb").read()
		import email.utils
		head = data.split(b"\r\n\r\n", 1)[0]
		bad = []
		if b"\n" in head.replace(b"\r\n", b"") or b"\r" in head.replace(b"\r\n", b""):
		    bad.append("bare CR or LF in the header block")
		fields = []
		for line in head.split(b"\r\n"):
		    if line[:1] in (b" ", b"\t") and fields:
		        fields[-1] += line  # folded: part of the field above
		    else:
		        fields.append(line)
		for f in fields:
		    name, _, value = f.partition(b":")
		    name = name.strip().lower()
		    if name in (b"bcc", b"x-injected", b"resent-to", b"resent-cc"):
		        bad.append("injected field: %r" % f[:100])
		    if name in (b"to", b"cc", b"from", b"reply-to", b"sender"):
		        for _, addr in email.utils.getaddresses([value.decode("utf-8", "replace")]):
		            if "evil" in addr:
		                bad.append("injected address %r in %r" % (addr, f[:100]))
		if bad:
		    print("\n".join(bad))
		    sys.exit(1)
	PY
}

sc_crlf() {
	setup crlf
	$HOSTILE crlf --id crlf@customer.example --from 'Eve <eve@customer.example>' \
		--subject "Hi" >"$T/crlf.eml"
	batch "$T/crlf.eml"
	common
	stored crlf@customer.example "mail with CR/LF in encoded words"
	pd_check_eq "crlf: no CR or LF in the stored Subject and names" 0 \
		"$(sql "SELECT count(*) FROM messages m LEFT JOIN attachments a ON a.message_id = m.id
			WHERE m.message_id = 'crlf@customer.example' AND
			(m.subject ~ E'[\\r\\n]' OR m.from_name ~ E'[\\r\\n]' OR a.filename ~ E'[\\r\\n]')")"
	local f n=0 bad=0 out
	for f in "$PD_SINK_DIR"/*.eml; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if ! out=$(headers_clean "$f"); then
			bad=$((bad + 1))
			pd_log "crlf: $f: $out"
		fi
	done
	pd_check_eq "crlf: acknowledgements and notices sent for the three mails" 6 "$n"
	pd_check_eq "crlf: no injected header and no bare CR/LF in any outgoing header" 0 "$bad"
	pd_check_eq "crlf: nobody at evil.example got mail" 0 \
		"$(cat "$PD_SINK_DIR"/*.env 2>/dev/null | grep -ci 'evil')"
	pd_check_eq "crlf: the envelope recipients are the customers and the team only" \
		"ann@customer.example bob@customer.example eve@customer.example team@example.com" \
		"$(grep -hi '^rcpt' "$PD_SINK_DIR"/*.env | sed 's/^[^:]*: *//' | tr ',' '\n' |
			tr -d ' ' | sort -u | tr '\n' ' ' | sed 's/ $//')"

	# the agent answers with a smuggling subject; the relay stays clean too
	local nid before
	nid=$(notice_id crlf@customer.example)
	before=$(sink_count)
	printf '%s\r\n' "From: =?utf-8?q?Alice=0D=0ABcc:_victim7@evil.example?= <alice@example.com>" \
		"To: $(pd_reply_address "$DB" "$(sql "SELECT ticket_id FROM messages WHERE message_id = 'crlf@customer.example'")")" \
		"Subject: =?utf-8?q?Re:_Hi=0D=0ABcc:_victim8@evil.example?=" \
		"Message-ID: <crlf-agent@example.com>" "In-Reply-To: $nid" "References: $nid" \
		"Date: Mon, 01 Mar 2027 11:00:00 +0000" "MIME-Version: 1.0" \
		"Content-Type: text/plain; charset=utf-8" "" "We are looking into it." >"$T/crlf-agent.eml"
	pd_deliver "$U" "$T/crlf-agent.eml"
	once
	pd_check_eq "crlf: the agent's answer run exits 0" 0 "$RC"
	local relay
	relay=$(grep -l '^X-Postdesk-Kind: agent' "$PD_SINK_DIR"/*.eml 2>/dev/null | head -n 1)
	pd_check "crlf: the answer is relayed to the customer" test -n "$relay"
	if [ -n "$relay" ]; then
		pd_check "crlf: the relay's headers are clean" headers_clean "$relay"
	fi
	pd_check_eq "crlf: still nobody at evil.example got mail" 0 \
		"$(cat "$PD_SINK_DIR"/*.env 2>/dev/null | grep -ci 'evil')"
	pd_check_eq "crlf: one relay, nothing else sent" $((before + 1)) "$(sink_count)"
}

# ------------------------------------------------------------------ SQL metacharacters

sc_sql() {
	setup sql
	$HOSTILE sql --from 'x <sql@customer.example>' >"$T/sql.eml"
	$HOSTILE sqltexts >"$T/sql.json"
	local subject name mid body filename
	subject=$(pd_json "$T/sql.json" 'd["subject"]')
	name=$(pd_json "$T/sql.json" 'd["name"]')
	mid=$(pd_json "$T/sql.json" 'd["message_id"]')
	body=$(pd_json "$T/sql.json" 'd["body"]')
	filename=$(pd_json "$T/sql.json" 'd["filename"]')
	local tables_before
	tables_before=$(sql "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables
		WHERE schemaname = 'public'")
	batch "$T/sql.eml"
	common
	stored "$mid" "mail with SQL metacharacters"
	pd_check_eq "sql: the Subject is stored verbatim" 1 \
		"$(sql "SELECT count(*) FROM messages WHERE message_id = :'m' AND subject = :'v'" \
			m="$mid" v="$subject")"
	pd_check_eq "sql: the ticket subject too" 1 \
		"$(sql "SELECT count(*) FROM tickets t JOIN messages m ON m.ticket_id = t.id
			WHERE m.message_id = :'m' AND t.subject = :'v'" m="$mid" v="$subject")"
	pd_check_eq "sql: the From name is stored verbatim" 1 \
		"$(sql "SELECT count(*) FROM messages WHERE message_id = :'m' AND from_name = :'v'" \
			m="$mid" v="$name")"
	pd_check_eq "sql: the body is stored verbatim" 1 \
		"$(sql "SELECT count(*) FROM messages WHERE message_id = :'m'
			AND rtrim(body_text, E'\n') = rtrim(:'v', E'\n')" m="$mid" v="$body")"
	pd_check_eq "sql: the attachment name is stored verbatim" 1 \
		"$(sql "SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id
			WHERE m.message_id = :'m' AND a.filename = :'v'" m="$mid" v="$filename")"
	pd_check_eq "sql: every table is still there" "$tables_before" \
		"$(sql "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables
			WHERE schemaname = 'public'")"
	local t
	t=$(sql "SELECT ticket_id FROM messages WHERE message_id = :'m'" m="$mid")
	pd_check "sql: postdesk show prints the subject as it is" \
		bash -c "timeout 60 '$top_builddir/postdesk' -c '$CONF' show '$t' | grep -qF \"\$1\"" _ "$subject"

	# an agent's reply with commands and text full of metacharacters
	local nid
	nid=$(notice_id "$mid")
	local answer=$'#priority high\n#assign o\'brien@example.com\nDear O\'Brien, try \'\'); DROP TABLE outbox;-- $1 \\ E\'\\x27\' $$x$$.'
	$MKMAIL --from 'Alice Agent <alice@example.com>' --to "$(pd_reply_address "$DB" "$t")" \
		--subject "Re: [Support #$t] x'; DELETE FROM tickets;--" --message-id '<sql-agent@example.com>' \
		--in-reply-to "$nid" --references "$nid" --body "$answer" >"$T/sql-agent.eml"
	pd_deliver "$U" "$T/sql-agent.eml"
	local before
	before=$(sink_count)
	once
	pd_check_eq "sql: the agent's answer run exits 0" 0 "$RC"
	pd_check_eq "sql: the answer joins the ticket" "$t" \
		"$(sql "SELECT ticket_id FROM messages WHERE message_id = 'sql-agent@example.com'")"
	pd_check_eq "sql: #assign with a quote stored verbatim, #priority applied" \
		"high|o'brien@example.com" \
		"$(sql "SELECT priority || '|' || coalesce(assignee, '(none)') FROM tickets WHERE id = :'t'" t="$t")"
	local relay
	relay=$(grep -l '^X-Postdesk-Kind: agent' "$PD_SINK_DIR"/*.eml 2>/dev/null | head -n 1)
	pd_check "sql: the answer is relayed" test -n "$relay"
	if [ -n "$relay" ]; then
		pd_check "sql: the relayed text is the agent's, verbatim" \
			grep -qF "Dear O'Brien, try ''); DROP TABLE outbox;-- \$1 \\ E'\\x27' \$\$x\$\$." "$relay"
	fi
	pd_check_eq "sql: nothing else changed: tables, tickets, messages" \
		"$tables_before|3|4" \
		"$(sql "SELECT (SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables
			WHERE schemaname = 'public') || '|' || (SELECT count(*) FROM tickets) || '|' ||
			(SELECT count(*) FROM messages WHERE direction = 'in')")"
	[ "$(sink_count)" -gt "$before" ] || pd_log "sql: no mail sent for the answer"
}

for s in $SCENARIOS; do
	case " $ALL_SCENARIOS " in
	*" $s "*) "sc_$s" ;;
	*) pd_die "unknown scenario $s" ;;
	esac
done
pd_finish
