#!/bin/bash
# tests/integration/agents.sh - agents' mail with a real mail client: mutt, in
# batch mode and through its own reply machinery on a pseudo-terminal, writes
# the customer's mail and the agents' answers; drafts with the bytes
# Thunderbird, Outlook (plain and HTML) and Gmail produce stand for the other
# clients.  What reaches the SMTP sink is read with an independent MIME reader
# (mailcheck.py, Python's email package) and compared: attachments byte for
# byte, the customer's copy of an answer line for line against what the agent
# wrote, and every line of the notice against everything the customer gets.
# DESIGN.md, "Agents' mail", is the contract.
#
#   top_srcdir=. top_builddir=build tests/integration/agents.sh [SCENARIO...]
# Scenarios: attach forward inline agentattach top bottom replyall interleaved inside
#            note command ru forged untrusted trusted teammate thread clients
#            (default: all).

. "$(dirname "$0")/lib.sh"

MC="$PD_PYTHON $PD_LIB_DIR/mailcheck.py"
DATA=$PD_LIB_DIR/../data/agents
ALL_SCENARIOS="attach forward inline agentattach top bottom replyall interleaved inside note command ru forged untrusted trusted teammate thread clients"
SCENARIOS=${*:-$ALL_SCENARIOS}
CUSTOMER=sarah@customer.example
# the notice's marker lines (include/decide/answer.h)
MARK_BEGIN='======== postdesk notice: answer above or below; nothing between these lines reaches the customer ========'
MARK_END='======== end of postdesk notice ========'

pd_require_servers
pd_require_binaries
command -v mutt >/dev/null || pd_skip_all "mutt is not installed (run scripts/deps.sh)"
command -v script >/dev/null || pd_skip_all "script (util-linux) is not installed"
pd_init
pd_start_postgres
users=
for s in $ALL_SCENARIOS; do users="$users a_$s"; done
pd_start_dovecot $users
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP sink :$PD_SMTP_PORT  in $T"

# What the suite compared, printed before the summary.
N_MAILS=0      # mails read from the sink with mailcheck.py
N_ATT=0        # attachments compared by sha256
N_BYTES=0      # bytes of those attachments
N_LINES=0      # notice lines looked for in the customer's mail (x mails)
N_SENT=0       # mails written by mutt or a client draft

# ------------------------------------------------------------------ mutt

mkdir -p "$T/bin" "$T/mutt" "$T/home" "$T/mutt/tmp" "$T/sent"
export HOME=$T/home

# mutt's $sendmail: what the MTA would do with the mail, store it in the
# support mailbox of the scenario (doveadm save, as pd_deliver does); it
# keeps a copy in $T/sent and, like a receiving MTA, adds Received and (when
# PD_MTA_AR is set) its own Authentication-Results on top.
cat >"$T/bin/sendmail" <<'EOF'
#!/bin/bash
n=$(( $(ls "$PD_SENT_DIR" | grep -c '\.eml$') + 1 ))
f=$PD_SENT_DIR/$n.eml
{
	[ -n "${PD_MTA_AR:-}" ] && printf 'Authentication-Results: %s\n' "$PD_MTA_AR"
	printf 'Received: from mail.client.example (mail.client.example [192.0.2.25])\n\tby mx.example.com with ESMTPS id %s; %s\n' \
		"$n$$" "$(LC_ALL=C date -R)"
	cat
} >"$f"
while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
shift
printf '%s\n' "$@" >"$f.rcpt"
exec doveadm -c "$PD_DOVECOT_CONF" save -u "$PD_MUTT_USER" -m INBOX <"$f"
EOF
# mutt's $editor for answers: what the agent types into the reply that mutt
# prepared (headers, attribution, quoted notice).  PD_EDIT_TOP / PD_EDIT_BOTTOM:
# files whose text goes above the attribution / below the quote;
# PD_EDIT_ATTACH: a file to attach (mutt's Attach: pseudo-header);
# PD_EDIT_HEADER: one more header line; PD_EDIT_INLINE: a file whose text
# goes right below the first quoted line holding PD_EDIT_AFTER.  Keeps the
# draft before and after.
cat >"$T/bin/editor" <<'EOF'
#!/bin/bash
f=$1
m0=$(stat -c %Y "$f")
cp "$f" "$PD_SENT_DIR/draft.before"
awk -v top="${PD_EDIT_TOP:-}" -v bottom="${PD_EDIT_BOTTOM:-}" \
    -v inline="${PD_EDIT_INLINE:-}" -v after="${PD_EDIT_AFTER:-}" \
    -v attach="${PD_EDIT_ATTACH:-}" -v hdr="${PD_EDIT_HEADER:-}" '
	BEGIN { inhdr = 1 }
	inhdr && /^$/ {
		if (attach != "") print "Attach: " attach
		if (hdr != "") print hdr
		print ""
		if (top != "") { while ((getline l < top) > 0) print l; print "" }
		inhdr = 0
		next
	}
	!inhdr && inline != "" && after != "" && index($0, after) > 0 {
		print
		print ""
		while ((getline l < inline) > 0) print l
		print ""
		inline = ""
		next
	}
	{ print }
	END { if (bottom != "") { print ""; while ((getline l < bottom) > 0) print l } }
' "$f" >"$f.new" && mv "$f.new" "$f"
# mutt takes a draft whose mtime is the one it had before the editor as not
# edited and sends it as it was.  It moves that mtime a second back only when
# it equals time(NULL); a draft written in a second's last milliseconds has
# the next second's (the kernel's fine-grained file times), and an edit
# within that second kept the same mtime: the answer went without the text.
[ "$(stat -c %Y "$f")" != "$m0" ] || touch -d "@$((m0 - 1))" "$f"
# Return early in a second: right after the editor mutt writes the body
# into a new file and stamps it with time(NULL), whole seconds of the coarse
# clock, and asks "Attachment #1 modified. Update encoding?" (a prompt no
# pushed key answers) when the file's mtime is newer; the kernel's
# fine-grained file times put a write in a second's last milliseconds into
# the next second.
ns=$((10#$(date +%N)))
[ "$ns" -le 700000000 ] || sleep "0.$(printf %09d $((1050000000 - ns)))"
cp "$f" "$PD_SENT_DIR/draft.after"
EOF
chmod 755 "$T/bin/sendmail" "$T/bin/editor"
export PD_SENT_DIR=$T/sent PD_DOVECOT_CONF

# mutt_rc NAME "Real Name" ADDRESS: a user's muttrc as people write them.
mutt_rc() {
	cat >"$T/mutt/$1.rc" <<-EOF
		set realname="$2"
		set from="$2 <$3>"
		set use_from=yes
		set envelope_from=yes
		set hostname="${3#*@}"
		set sendmail="$T/bin/sendmail"
		set charset="utf-8"
		set send_charset="us-ascii:utf-8"
		set edit_headers=yes
		set editor="$T/bin/editor"
		set include=yes
		set indent_string="> "
		set attribution="On %d, %n wrote:"
		set reply_to=yes
		set fast_reply=yes
		set alternative_order="text/plain text/html"
		set sig_dashes=yes
		set signature=""
		set copy=no
		set record=""
		set postpone=no
		set move=no
		set mbox_type=mbox
		set folder="$T/mutt"
		set spoolfile="$T/mutt/$1.mbox"
		set tmpdir="$T/mutt/tmp"
		set abort_nosubject=no
		set abort_unmodified=no
		set wait_key=no
		set confirmappend=no
		set mime_forward=no
		set use_domain=yes
	EOF
}
mutt_rc customer "Sarah Connor" "$CUSTOMER"
mutt_rc alice "Alice Agent" alice@example.com
mutt_rc bob "Bob Teammate" bob@example.com

last_sent() { ls -v "$T"/sent/*.eml 2>/dev/null | tail -1; }

# mutt_send WHO SUBJECT BODYFILE TO [-a FILE...]: mutt in batch mode.
mutt_send() {
	local who=$1 subject=$2 bodyfile=$3 to=$4
	shift 4
	local att=()
	[ "${1:-}" = -a ] && { shift; att=(-a "$@" --); }
	PD_MUTT_USER=$U timeout -k 5 60 mutt -n -F "$T/mutt/$who.rc" -s "$subject" "${att[@]}" \
		"$to" <"$bodyfile" >>"$T/mutt.log" 2>&1 || pd_fail "mutt ($who) sent \"$subject\"" "$(tail -5 "$T/mutt.log")"
	N_SENT=$((N_SENT + 1))
}

# mutt_draft WHO DRAFT: mutt -H (a draft with headers of the sender's choosing).
mutt_draft() {
	PD_MUTT_USER=$U timeout -k 5 60 mutt -n -F "$T/mutt/$1.rc" -H "$2" </dev/null \
		>>"$T/mutt.log" 2>&1 || pd_fail "mutt -H ($1) sent $2" "$(tail -5 "$T/mutt.log")"
	N_SENT=$((N_SENT + 1))
}

# mutt_reply WHO MAIL [VAR=value...]: WHO opens MAIL in mutt (an mbox of it)
# and answers it with <reply> as a user would: mutt quotes it, runs the editor
# (PD_EDIT_* given as VAR=value), and sends.  Runs on a pseudo-terminal.
# MUTT_REPLY=group-reply: Reply All instead.
mutt_reply() {
	local who=$1 mail=$2
	shift 2
	rm -f "$T/mutt/$who.mbox"
	$MC mbox "$T/mutt/$who.mbox" "$mail" || pd_die "mailcheck mbox $mail"
	local before
	before=$(last_sent)
	env "$@" PD_MUTT_USER="$U" TERM=xterm timeout -k 5 60 script -qec \
		"mutt -n -F '$T/mutt/$who.rc' -f '$T/mutt/$who.mbox' -e 'push <${MUTT_REPLY:-reply}><send-message><quit>'" \
		/dev/null </dev/null >>"$T/mutt.log" 2>&1
	if [ "$(last_sent)" = "$before" ]; then
		pd_fail "mutt ($who) replied to $mail" "$(tail -c 600 "$T/mutt.log" | tr -d '\033')"
		return 1
	fi
	N_SENT=$((N_SENT + 1))
}

# ------------------------------------------------------------------ scenario plumbing

setup() {
	# the previous scenario's mail stays in $T/sink.SCENARIO for inspection
	if [ -n "${X:-}" ]; then
		mkdir -p "$T/sink.$X"
		mv "$PD_SINK_DIR"/*.eml "$PD_SINK_DIR"/*.env "$T/sink.$X/" 2>/dev/null
	fi
	X=$1
	shift
	DB=pa_$X
	U=a_$X
	CONF=$T/$X.conf
	pd_log "---- scenario $X"
	rm -f "$PD_SINK_DIR/reply"
	pd_createdb "$DB" || pd_die "createdb $DB"
	pd_write_config "$CONF" db="$DB" user="$U" ${SETUP_EXTRA:+"extra=$SETUP_EXTRA"}
	# agents { } as the scenario needs it (pd_write_config writes DESIGN.md's)
	local agents=${1:-'agents { addresses = {"alice@example.com"}  notify = {"team@example.com"} }'}
	sed -i "s|^agents {.*|$agents|" "$CONF"
	if ! pd_cli "$CONF" migrate >/dev/null; then
		pd_fail "$X: postdesk migrate with this config" "$(tail -3 "$T/cli.err")"
		return 1
	fi
}

count() { pd_psql "$DB" "$1"; }
ticket_field() { count "SELECT coalesce($1::text, '') FROM tickets WHERE id = ${2:-1}"; }

once() {
	LOG=$T/$X.daemon.$((++RUNS)).log
	pd_daemon_once "$CONF" "$LOG"
	RC=$?
	[ "$RC" = 0 ] || pd_fail "$X: postdeskd --once exits 0 (run $RUNS)" "exit $RC" "$(tail -5 "$LOG")" \
		"$([ "$RC" = "$PD_VALGRIND_EXIT" ] && pd_valgrind_report)"
}
RUNS=0

sink_count() { ls "$PD_SINK_DIR"/*.eml 2>/dev/null | wc -l; }
# sink_after N: the sink's mails after the first N, oldest first.
sink_after() { ls -v "$PD_SINK_DIR"/*.eml 2>/dev/null | tail -n +$(($1 + 1)); }
rcpts() { grep -i '^rcpt' "${1%.eml}.env" | sed 's/^[^:]*: *//' | tr '[:upper:]' '[:lower:]'; }
# to_addr ADDR FILE...: those of FILE... with ADDR among the envelope recipients.
to_addr() {
	local a=$1 f
	shift
	for f in "$@"; do rcpts "$f" | grep -qxF "$a" && echo "$f"; done
}
kind_of() { $MC header "$1" X-Postdesk-Kind; }
# kind_files KIND FILE...: those of FILE... whose X-Postdesk-Kind is KIND.
kind_files() {
	local k=$1 f
	shift
	for f in "$@"; do [ "$(kind_of "$f")" = "$k" ] && echo "$f"; done
}
readmail() { N_MAILS=$((N_MAILS + 1)); }

# compare_att LABEL MAIL NAME ORIGINAL: the part named NAME has ORIGINAL's bytes.
compare_att() {
	local sha want
	sha=$($MC sha "$2" "$3")
	want=$(sha256sum <"$4" | cut -d' ' -f1)
	N_ATT=$((N_ATT + 1))
	N_BYTES=$((N_BYTES + $(stat -c %s "$4")))
	pd_check_eq "$1" "$want" "$sha"
}

# check_answer LABEL MAIL EXPECTED_FILE: what the customer reads as the
# agent's text (above the signature) is, line for line, what the agent wrote
# (blank lines aside).
check_answer() {
	local got want
	got=$($MC answer "$2")
	want=$(grep -v '^[[:space:]]*$' "$3" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
	readmail
	pd_check_eq "$1" "$want" "$got"
	# the footer below it starts with the signature separator, exactly "-- "
	# (mail clients grey out or cut what follows it)
	if $MC text "$2" | grep -q '^--[[:space:]]*$'; then
		pd_check "${1%: the customer reads*}: the signature separator is exactly \"-- \"" \
			bash -c "$MC text '$2' | grep -qx -- '-- '"
	fi
}

# check_no_leak LABEL NOTICE MAIL...: no line of the notice, nor of the
# quoted history around it, in any MAIL (KNOWN=FILE: but the lines of the
# customer's own mail FILE, which the customer may well get back).
check_no_leak() {
	local label=$1 notice=$2 out n
	shift 2
	if [ $# = 0 ]; then
		pd_ok "$label (no mail to look at)"
		return
	fi
	n=$($MC lines "$notice")
	N_LINES=$((N_LINES + n * $#))
	# nor the quoted history around it: the attribution, Outlook's header
	# block, the internal addresses the notice went to
	if out=$($MC leaks ${KNOWN:+--known "$KNOWN"} --forbid team@example.com --forbid bob@example.com \
		--forbid "-----Original Message-----" --forbid "________________________________" \
		--forbid " wrote:" --forbid "Sent: " "$notice" "$@"); then
		pd_ok "$label ($n notice lines x $# mails)"
	else
		pd_fail "$label" "$(printf '%s\n' "$out" | head -10)"
	fi
}

# new_ticket [-a FILE...]: Sarah writes to support with mutt; one run; sets
# NOTICE (the notice to team@example.com), TOKEN (its Reply-To) and ACK.
CUSTOMER_BODY=$'Hello,\n\nthe label printer LP-2 in the warehouse shows error 502 since this\nmorning. The invoice and a screenshot are attached.\n\nGrüße, Sarah'
new_ticket() {
	printf '%s\n' "$CUSTOMER_BODY" >"$T/customer-body.txt"
	mutt_send customer "Printer broken" "$T/customer-body.txt" support@example.com "$@"
	CUSTOMER_SENT=$(last_sent)
	local mark
	mark=$(sink_count)
	once
	NOTICE=$(kind_files notice $(to_addr team@example.com $(sink_after "$mark")) | head -1)
	ACK=$(kind_files ack $(to_addr "$CUSTOMER" $(sink_after "$mark")) | head -1)
	if [ -z "$NOTICE" ]; then
		pd_fail "$X: a notice about the customer's mail reached team@example.com" \
			"$(ls "$PD_SINK_DIR")"
		return 1
	fi
	readmail
	TOKEN=$($MC addrs "$NOTICE" Reply-To | head -1)
}

# answer_and_check LABEL EXPECTED_FILE [VAR=value...]: Alice answers NOTICE
# with mutt; the customer gets exactly her text, and no line of the notice.
answer_and_check() {
	local label=$1 expect=$2 mark relay
	shift 2
	mark=$(sink_count)
	mutt_reply alice "$NOTICE" "$@" || return
	once
	relay=$(kind_files agent $(to_addr "$CUSTOMER" $(sink_after "$mark")))
	RELAY=$(printf '%s\n' "$relay" | head -1)
	pd_check_eq "$label: one mail to the customer" 1 "$(to_addr "$CUSTOMER" $(sink_after "$mark") | wc -l)"
	if [ -z "$RELAY" ]; then
		pd_fail "$label: the answer is relayed (X-Postdesk-Kind: agent)" "$(ls "$PD_SINK_DIR")"
		return 1
	fi
	check_answer "$label: the customer reads exactly the agent's text" "$RELAY" "$expect"
	check_no_leak "$label: no line of the notice reaches the customer" "$NOTICE" \
		$(to_addr "$CUSTOMER" $(sink_after "$mark"))
}

text_file() { printf '%s\n' "$2" >"$T/$1.txt"; echo "$T/$1.txt"; }

# ------------------------------------------------------------------ attachments in the notice

sc_attach() {
	setup attach || return
	new_ticket -a "$DATA/invoice.pdf" "$DATA/screenshot.png" || return
	local sent
	sent=$(last_sent)
	pd_check "attach: mutt sent a multipart/mixed mail" grep -qi '^Content-Type: multipart/mixed' "$sent"
	pd_check_eq "attach: the notice names the ticket in its subject" 1 \
		"$($MC header "$NOTICE" Subject | grep -c '^\[Support #1\] .*Printer broken')"
	compare_att "attach: the notice carries invoice.pdf, byte for byte" "$NOTICE" invoice.pdf "$DATA/invoice.pdf"
	compare_att "attach: the notice carries screenshot.png, byte for byte" "$NOTICE" screenshot.png "$DATA/screenshot.png"
	local parts
	parts=$($MC parts "$NOTICE")
	pd_check_eq "attach: with their types" "application/pdf image/png" \
		"$(printf '%s\n' "$parts" | awk -F'\t' '$2 == "invoice.pdf" { a = $1 } $2 == "screenshot.png" { b = $1 } END { print a, b }')"
	# what mutt sent and what the notice carries: the same bytes
	compare_att "attach: mutt sent invoice.pdf byte for byte" "$sent" invoice.pdf "$DATA/invoice.pdf"
	pd_check_eq "attach: the notice's text/plain has both marker lines, BEGIN before END" \
		"$MARK_BEGIN|$MARK_END" \
		"$($MC text "$NOTICE" | grep -xE '(======== postdesk notice.*|======== end of postdesk notice.*)' | paste -sd'|')"
	case $($MC text "$NOTICE") in
	*"error 502"*) pd_ok "attach: the notice's text is the customer's" ;;
	*) pd_fail "attach: the notice's text is the customer's" "$($MC text "$NOTICE" | head -20)" ;;
	esac
	pd_cli "$CONF" show 1 --json >"$T/attach.json"
	pd_check_eq "attach: show --json has both with the same sha256" \
		"$(sha256sum <"$DATA/invoice.pdf" | cut -d' ' -f1) $(sha256sum <"$DATA/screenshot.png" | cut -d' ' -f1)" \
		"$(pd_json "$T/attach.json" "' '.join(a['sha256'] for m in d['messages'] if m['direction'] == 'in' for a in sorted(m['attachments'], key=lambda a: a['filename']))")"
	local ack_parts
	ack_parts=$([ -n "$ACK" ] && $MC parts "$ACK" | awk -F'\t' '$2 != ""' | wc -l)
	pd_check_eq "attach: the acknowledgement carries no attachment back" 0 "${ack_parts:-0}"
	# Alice answers the notice with its files (mutt quotes its text part only);
	# the customer gets her text and nothing of the notice, files included
	answer_and_check "attach: an answer to a notice with files" \
		"$(text_file at-answer $'Thanks Sarah, the invoice is fine; the screenshot shows a paper jam.\n\nAlice')" \
		PD_EDIT_TOP="$T/at-answer.txt" || return
	pd_check_eq "attach: the customer's own files are not sent back" 0 \
		"$($MC parts "$RELAY" | awk -F'\t' '$2 != ""' | wc -l)"
}

# The customer forwards the vendor's mail as an attachment (mutt -a x.eml
# sends it as message/rfc822): the notice carries it, its text unchanged.
sc_forward() {
	setup forward || return
	new_ticket -a "$DATA/vendor-error.eml" || return
	local sent out
	sent=$(last_sent)
	pd_check_eq "forward: mutt sent the mail as message/rfc822" message/rfc822 \
		"$($MC parts "$sent" | awk -F'\t' '$2 == "vendor-error.eml" { print $1 }')"
	N_ATT=$((N_ATT + 1))
	N_BYTES=$((N_BYTES + $(stat -c %s "$DATA/vendor-error.eml")))
	if out=$($MC same "$NOTICE" vendor-error.eml "$DATA/vendor-error.eml"); then
		pd_ok "forward: the notice carries vendor-error.eml with the mail's text unchanged"
	else
		pd_fail "forward: the notice carries vendor-error.eml with the mail's text unchanged" \
			"$out" "$($MC parts "$NOTICE")"
	fi
	case $($MC text "$NOTICE") in
	*"error 502"*) pd_ok "forward: the notice's text is the customer's" ;;
	*) pd_fail "forward: the notice's text is the customer's" "$($MC text "$NOTICE" | head -20)" ;;
	esac
	pd_cli "$CONF" show 1 --json >"$T/forward.json"
	pd_check_eq "forward: show --json lists it" vendor-error.eml \
		"$(pd_json "$T/forward.json" "' '.join(a['filename'] for m in d['messages'] if m['direction'] == 'in' for a in m['attachments'])")"
	answer_and_check "forward: an answer to that notice" \
		"$(text_file fw-answer $'Sarah, the vendor\'s mail says the cutter sensor timed out; we will replace it.\n\nAlice')" \
		PD_EDIT_TOP="$T/fw-answer.txt"
}

# The customer writes from Gmail with a screenshot inline (multipart/related):
# the notice carries the image byte for byte, says [image: NAME] where it
# stood, and its HTML shows it by its cid.
sc_inline() {
	setup inline || return
	local mark
	mark=$(sink_count)
	pd_deliver "$U" "$DATA/customer-gmail-inline.eml"
	N_SENT=$((N_SENT + 1))
	once
	NOTICE=$(kind_files notice $(to_addr team@example.com $(sink_after "$mark")) | head -1)
	pd_check "inline: a notice" test -n "$NOTICE"
	[ -n "$NOTICE" ] || return
	readmail
	compare_att "inline: the notice carries display.png, byte for byte" "$NOTICE" display.png "$DATA/screenshot.png"
	case $($MC text "$NOTICE") in
	*"[image: display.png]"*) pd_ok "inline: the notice's text says [image: display.png]" ;;
	*) pd_fail "inline: the notice's text says [image: display.png]" "$($MC text "$NOTICE" | head -20)" ;;
	esac
	local cid
	cid=$($MC cid "$NOTICE" display.png)
	pd_check "inline: the notice's HTML shows the image by its cid" \
		bash -c "[ -n '$cid' ] && $MC htmlsrc '$NOTICE' | grep -qF 'src=\"cid:$cid\"'"
	answer_and_check "inline: an answer to that notice" \
		"$(text_file in-answer $'Sarah, that screen means the print head is too hot; let it cool for ten minutes.\n\nAlice')" \
		PD_EDIT_TOP="$T/in-answer.txt"
}

# ------------------------------------------------------------------ the agent's attachment

sc_agentattach() {
	setup agentattach || return
	new_ticket || return
	answer_and_check "agentattach" \
		"$(text_file aa $'Hello Sarah,\n\nthe attached PDF shows how to update the firmware.\n\nAlice')" \
		PD_EDIT_TOP="$T/aa.txt" PD_EDIT_ATTACH="$DATA/firmware-steps.pdf" || return
	pd_check "agentattach: mutt attached the file" grep -q 'filename="\?firmware-steps.pdf' "$(last_sent)"
	compare_att "agentattach: the customer's mail carries firmware-steps.pdf, byte for byte" \
		"$RELAY" firmware-steps.pdf "$DATA/firmware-steps.pdf"
	pd_check_eq "agentattach: as application/pdf" application/pdf \
		"$($MC parts "$RELAY" | awk -F'\t' '$2 == "firmware-steps.pdf" { print $1 }')"
	pd_check_eq "agentattach: and nothing else attached" 1 \
		"$($MC parts "$RELAY" | awk -F'\t' '$2 != ""' | wc -l)"
}

# ------------------------------------------------------------------ where the agent writes

sc_top() {
	setup top || return
	new_ticket || return
	pd_check "top: the notice's Reply-To is the ticket's token address" \
		bash -c "[[ '$TOKEN' =~ ^support\\+t1-[0-9a-f]{16}@example\\.com$ ]]"
	local expect
	expect=$(text_file top $'Hello Sarah,\n\nplease switch the printer off for ten seconds and on again;\nthe 502 goes away after a cold start.\n\nBest regards,\nAlice')
	answer_and_check top "$expect" PD_EDIT_TOP="$expect" || return
	pd_check "top: mutt quoted the notice below the answer" \
		grep -q '^> ======== postdesk notice' "$T/sent/draft.after"
	pd_check_eq "top: the answer went to the token address" "$TOKEN" "$(cat "$(last_sent).rcpt")"
	pd_check_eq "top: From Alice via the support address" \
		"Alice Agent via Example Support <support@example.com>" "$($MC header "$RELAY" From)"
	KNOWN=$CUSTOMER_SENT check_no_leak "top: nor in any mail the customer got, the acknowledgement included" "$NOTICE" \
		$(to_addr "$CUSTOMER" $(sink_after 0))
	pd_check_eq "top: the ticket waits for the customer, first response set" "pending true" \
		"$(count "SELECT status || ' ' || (first_response_at IS NOT NULL) FROM tickets WHERE id = 1")"
}

sc_bottom() {
	setup bottom || return
	new_ticket || return
	local expect
	expect=$(text_file bottom $'Sarah,\n\nthe 502 means the label roll is empty; a new roll fixes it.\n\nAlice')
	answer_and_check bottom "$expect" PD_EDIT_BOTTOM="$expect" || return
	pd_check "bottom: the answer stands below mutt's quote" \
		bash -c "tail -3 '$T/sent/draft.after' | grep -q 'new roll fixes it'"
}

# Reply All: mutt answers the token address and copies the team the notice
# went to; the customer gets one mail, exactly the agent's text.
sc_replyall() {
	setup replyall || return
	new_ticket || return
	local expect
	expect=$(text_file replyall $'Sarah, we have ordered a new print head; it arrives on Tuesday.\n\nAlice')
	MUTT_REPLY=group-reply answer_and_check replyall "$expect" PD_EDIT_TOP="$expect" || return
	pd_check_eq "replyall: mutt sent it to the token address and the team" "$TOKEN team@example.com" \
		"$(sort "$(last_sent).rcpt" | paste -sd' ')"
	pd_check_eq "replyall: the relay goes to the customer alone" "$CUSTOMER" "$(rcpts "$RELAY" | paste -sd' ')"
}

sc_interleaved() {
	setup interleaved || return
	new_ticket || return
	local top bottom
	top=$(text_file il-top $'Hi Sarah,')
	bottom=$(text_file il-bottom $'I checked the log you sent: the cutter is jammed.\nOpen the front cover and remove the stuck label.\n\nAlice')
	printf 'Hi Sarah,\nI checked the log you sent: the cutter is jammed.\nOpen the front cover and remove the stuck label.\nAlice\n' >"$T/il.txt"
	answer_and_check interleaved "$T/il.txt" PD_EDIT_TOP="$top" PD_EDIT_BOTTOM="$bottom"
}

# Alice types her answer inside the quoted notice, under the customer's
# sentence; then she sends the quote alone.  Either her text reaches the
# customer exactly, or nothing does and she is told: never a line of the
# notice, never her answer lost without a word.
sc_inside() {
	setup inside || return
	new_ticket || return
	local mark to_cust err
	mark=$(sink_count)
	mutt_reply alice "$NOTICE" PD_EDIT_AFTER="morning. The invoice" \
		PD_EDIT_INLINE="$(text_file inside $'A technician is on his way.')" || return
	pd_check "inside: Alice's text stands between the quoted marker lines" \
		bash -c "sed -n '/^> ======== postdesk notice/,/^> ======== end of postdesk notice/p' '$T/sent/draft.after' | grep -qx 'A technician is on his way.'"
	once
	to_cust=$(to_addr "$CUSTOMER" $(sink_after "$mark"))
	err=$(kind_files error $(to_addr alice@example.com $(sink_after "$mark")))
	if [ -n "$to_cust" ]; then
		check_answer "inside: the customer reads exactly the agent's text" \
			"$(kind_files agent $to_cust | head -1)" "$T/inside.txt"
	else
		pd_check "inside: nothing relayed, so Alice is told (error mail)" test -n "$err"
	fi
	check_no_leak "inside: no line of the notice reaches the customer" "$NOTICE" $to_cust
	# the quote alone: nothing to relay; Alice hears of it
	mark=$(sink_count)
	mutt_reply alice "$NOTICE" || return
	once
	pd_check_eq "inside: a reply of the quote alone sends the customer nothing" 0 \
		"$(to_addr "$CUSTOMER" $(sink_after "$mark") | wc -l)"
	err=$(kind_files error $(to_addr alice@example.com $(sink_after "$mark")) | head -1)
	pd_check "inside: and Alice is told that her answer was empty" test -n "$err"
	[ -n "$err" ] && readmail
}

# ------------------------------------------------------------------ notes and commands below the quote

sc_note() {
	setup note || return
	new_ticket || return
	local mark
	mark=$(sink_count)
	mutt_reply alice "$NOTICE" PD_EDIT_BOTTOM="$(text_file note $'#note\nCustomer is on the premium plan; call before Friday.')" || return
	once
	pd_check_eq "note: nothing reaches the customer" 0 "$(to_addr "$CUSTOMER" $(sink_after "$mark") | wc -l)"
	pd_cli "$CONF" show 1 --json >"$T/note.json"
	pd_check_eq "note: stored on the ticket as kind note" note \
		"$(pd_json "$T/note.json" "[m['kind'] for m in d['messages'] if 'premium plan' in (m['body_text'] or '')][0]")"
	pd_check_eq "note: not a first response" f \
		"$(count "SELECT first_response_at IS NOT NULL FROM tickets WHERE id = 1")"
}

sc_command() {
	setup command || return
	new_ticket || return
	local expect
	expect=$(text_file cmd-text $'We have raised this with the vendor and will write again tomorrow.')
	printf '#priority high\n%s\n' "$(cat "$expect")" >"$T/cmd1.txt"
	answer_and_check "command" "$expect" PD_EDIT_BOTTOM="$T/cmd1.txt" || return
	pd_check_eq "command: #priority high below the quote applied" high "$(ticket_field priority)"
	pd_check_eq "command: an event by the agent" 1 \
		"$(count "SELECT count(*) FROM events WHERE ticket_id = 1 AND actor = 'alice@example.com' AND kind = 'priority.changed'")"
	local mark
	mark=$(sink_count)
	mutt_reply alice "$NOTICE" PD_EDIT_BOTTOM="$(text_file cmd2 '#close')" || return
	once
	pd_check_eq "command: #close below the quote applied" closed "$(ticket_field status)"
	pd_check_eq "command: a reply of a command only sends the customer nothing" 0 \
		"$(to_addr "$CUSTOMER" $(sink_after "$mark") | wc -l)"
}

# A Russian desk: the notice in Russian keeps the ASCII marker lines; a
# Russian answer, top-posted with mutt, reaches the customer exactly.
sc_ru() {
	SETUP_EXTRA='default_language = "ru"' setup ru || return
	CUSTOMER_BODY=$'Здравствуйте!\n\nПринтер этикеток LP-2 на складе показывает ошибку 502.\n\nС уважением, Сарра' \
		new_ticket || return
	pd_check_eq "ru: the Russian notice has both marker lines" "$MARK_BEGIN|$MARK_END" \
		"$($MC text "$NOTICE" | grep -xE '(======== postdesk notice.*|======== end of postdesk notice.*)' | paste -sd'|')"
	case $($MC text "$NOTICE") in
	*"ошибку 502"*) pd_ok "ru: the notice carries the customer's Russian text" ;;
	*) pd_fail "ru: the notice carries the customer's Russian text" "$($MC text "$NOTICE" | head -12)" ;;
	esac
	answer_and_check ru \
		"$(text_file ru $'Здравствуйте, Сарра!\n\nЗамените, пожалуйста, рулон этикеток: ошибка 502 означает, что он закончился.\n\nАлиса')" \
		PD_EDIT_TOP="$T/ru.txt"
}

# ------------------------------------------------------------------ identity

# held LABEL MARK MID AGENT: the mail MID is held: nothing at the customer,
# a note with agent.unverified, an error mail to AGENT.
held() {
	local label=$1 mark=$2 mid=$3 agent=$4
	mid=${mid#<}
	mid=${mid%>}
	pd_check_eq "$label: nothing reaches the customer" 0 "$(to_addr "$CUSTOMER" $(sink_after "$mark") | wc -l)"
	pd_cli "$CONF" show 1 --json >"$T/$X.held.json"
	pd_check_eq "$label: show --json has the mail as kind note" note \
		"$(pd_json "$T/$X.held.json" "[m['kind'] for m in d['messages'] if nomid(m['message_id']) == '$mid'][0]")"
	pd_check_eq "$label: the note keeps what was written" 1 \
		"$(pd_json "$T/$X.held.json" "len([m for m in d['messages'] if nomid(m['message_id']) == '$mid' and len((m['body_text'] or '').strip()) > 0])")"
	pd_check "$label: an ${HELD_EVENT:-agent.unverified} event" \
		test "$(count "SELECT count(*) FROM events WHERE kind IN ('$(printf '%s' "${HELD_EVENT:-agent.unverified}" | sed "s/ or /', '/g")') AND ticket_id = 1")" -ge 1
	local err
	err=$(kind_files error $(to_addr "$agent" $(sink_after "$mark"))| head -1)
	pd_check "$label: an X-Postdesk-Kind: error mail to $agent" test -n "$err"
	[ -n "$err" ] || return
	readmail
	case $($MC header "$err" Subject) in
	*"[Support #1]"*) pd_ok "$label: the error mail names the ticket" ;;
	*) pd_fail "$label: the error mail names the ticket" "$($MC header "$err" Subject)" ;;
	esac
	pd_check "$label: and says why (its text is not empty)" test -n "$($MC text "$err" | tr -d '[:space:]')"
}

# forged_draft FILE [HEADER...]: Alice's address on a mail not to the token address.
forged_draft() {
	local f=$1
	shift
	{
		echo "From: Alice Agent <alice@example.com>"
		echo "To: support@example.com"
		echo "Subject: Re: [Support #1] Printer broken"
		printf '%s\n' "$@"
		echo
		echo "#close"
		echo "Your refund of 900 EUR is approved; send your card number to refunds@example.net."
	} >"$f"
}

sc_forged() {
	setup forged || return
	new_ticket || return
	local mark
	mark=$(sink_count)
	forged_draft "$T/forged.draft"
	mutt_draft alice "$T/forged.draft"
	local mid
	mid=$($MC header "$(last_sent)" Message-ID)
	once
	held forged "$mark" "$mid" alice@example.com
	pd_check_eq "forged: #close not applied, no first response" "new false" \
		"$(count "SELECT status || ' ' || (first_response_at IS NOT NULL) FROM tickets WHERE id = 1")"
}

sc_untrusted() {
	setup untrusted 'agents { addresses = {"alice@example.com"}  notify = {"team@example.com"}  trusted_authserv_ids = {"mx.example.com"} }' || return
	new_ticket || return
	local mark mid
	mark=$(sink_count)
	# the sender writes the header itself, with an authserv-id nobody trusts
	forged_draft "$T/untrusted.draft" \
		"Authentication-Results: evil.example; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"
	mutt_draft alice "$T/untrusted.draft"
	mid=$($MC header "$(last_sent)" Message-ID)
	once
	held "untrusted: authserv-id evil.example" "$mark" "$mid" alice@example.com
	# a trusted id, but written by the sender below the receiving MTA's own (dmarc=fail)
	mark=$(sink_count)
	forged_draft "$T/untrusted2.draft" \
		"Authentication-Results: mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"
	PD_MTA_AR="mx.example.com; spf=fail smtp.mailfrom=example.com; dkim=none; dmarc=fail (p=reject) header.from=example.com" \
		mutt_draft alice "$T/untrusted2.draft"
	mid=$($MC header "$(last_sent)" Message-ID)
	once
	held "untrusted: a forged trusted header below the MTA's dmarc=fail" "$mark" "$mid" alice@example.com
	pd_check_eq "untrusted: nothing applied" "new false" \
		"$(count "SELECT status || ' ' || (first_response_at IS NOT NULL) FROM tickets WHERE id = 1")"
}

sc_trusted() {
	setup trusted 'agents { addresses = {"alice@example.com"}  notify = {"team@example.com"}  trusted_authserv_ids = {"mx.example.com"} }' || return
	new_ticket || return
	local mark relay
	mark=$(sink_count)
	printf 'Sarah, a technician will come by at 14:00 today.\n\nAlice\n' >"$T/trusted.txt"
	PD_MTA_AR="mx.example.com; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com header.s=s1; dmarc=pass (p=reject) header.from=example.com" \
		mutt_send alice "Re: [Support #1] Printer broken" "$T/trusted.txt" support@example.com
	once
	relay=$(kind_files agent $(to_addr "$CUSTOMER" $(sink_after "$mark")) | head -1)
	pd_check "trusted: dmarc=pass from a trusted authserv-id is relayed" test -n "$relay"
	[ -n "$relay" ] && check_answer "trusted: the customer reads exactly the agent's text" "$relay" "$T/trusted.txt"
	pd_check_eq "trusted: first response recorded, no agent.unverified" "true 0" \
		"$(count "SELECT (first_response_at IS NOT NULL) || ' ' || (SELECT count(*) FROM events WHERE kind = 'agent.unverified') FROM tickets WHERE id = 1")"
}

sc_teammate() {
	setup teammate 'agents { addresses = {"alice@example.com"}  notify = {"team@example.com", "bob@example.com"} }' || return
	new_ticket || return
	local bobs mark
	bobs=$(kind_files notice $(to_addr bob@example.com $(sink_after 0)) | head -1)
	pd_check "teammate: bob (notify list) gets the notice" test -n "$bobs"
	[ -n "$bobs" ] || return
	# resolved (its survey goes out now), then Bob answers
	pd_cli "$CONF" set 1 status resolved >/dev/null
	once
	mark=$(sink_count)
	mutt_reply bob "$bobs" PD_EDIT_TOP="$(text_file bob $'Sarah, try turning it off and on again.\n\nBob')" || return
	pd_check_eq "teammate: mutt answered to the token address" "$($MC addrs "$bobs" Reply-To)" "$(cat "$(last_sent).rcpt")"
	local mid
	mid=$($MC header "$(last_sent)" Message-ID)
	once
	# bob's is no agent's address: held as a stranger writing to the reply address
	HELD_EVENT="agent.unverified or agent.unknown" held teammate "$mark" "$mid" bob@example.com
	pd_check_eq "teammate: the ticket is not reopened" resolved "$(ticket_field status)"
}

# ------------------------------------------------------------------ threading

sc_thread() {
	setup thread || return
	new_ticket || return
	local n1=$NOTICE mark n2 n3 mid1 mid2
	mid1=$($MC header "$n1" Message-ID)
	# Sarah answers the acknowledgement with mutt's reply
	mark=$(sink_count)
	pd_check "thread: the customer got an acknowledgement" test -n "$ACK"
	[ -n "$ACK" ] || return
	mutt_reply customer "$ACK" PD_EDIT_TOP="$(text_file cu2 $'It also beeps three times now.')" || return
	once
	n2=$(kind_files notice $(to_addr team@example.com $(sink_after "$mark")) | head -1)
	pd_check "thread: a second notice" test -n "$n2"
	[ -n "$n2" ] || return
	readmail
	mid2=$($MC header "$n2" Message-ID)
	pd_check_eq "thread: the second notice is In-Reply-To the first" "$mid1" "$($MC header "$n2" In-Reply-To)"
	case " $($MC header "$n2" References) " in
	*" $mid1 "*) pd_ok "thread: its References hold the first" ;;
	*) pd_fail "thread: its References hold the first" "$($MC header "$n2" References)" ;;
	esac
	mark=$(sink_count)
	mutt_send customer "Re: [Support #1] Printer broken" "$(text_file cu3 'And now it prints blank labels.')" support@example.com
	once
	n3=$(kind_files notice $(to_addr team@example.com $(sink_after "$mark")) | head -1)
	pd_check "thread: a third notice" test -n "$n3"
	[ -n "$n3" ] || return
	readmail
	local refs
	refs=" $($MC header "$n3" References) "
	case $refs in
	*" $mid1 "*"$mid2 "*) pd_ok "thread: the third's References hold the first and the second, in order" ;;
	*) pd_fail "thread: the third's References hold the first and the second, in order" "$refs" ;;
	esac
	pd_check_eq "thread: the third is In-Reply-To the second" "$mid2" "$($MC header "$n3" In-Reply-To)"
	pd_check_eq "thread: three notices, three Message-IDs" 3 \
		"$(for f in "$n1" "$n2" "$n3"; do $MC header "$f" Message-ID; done | sort -u | wc -l)"
}

# ------------------------------------------------------------------ other clients

sc_clients() {
	setup clients || return
	new_ticket || return
	local c mark relay
	for c in thunderbird outlook-plain outlook-html gmail gmail-inline applemail; do
		$MC fill "$DATA/$c.eml.in" "$NOTICE" >"$T/$c.eml" || { pd_fail "clients: $c draft" "fill failed"; continue; }
		mark=$(sink_count)
		pd_deliver "$U" "$T/$c.eml"
		N_SENT=$((N_SENT + 1))
		once
		relay=$(kind_files agent $(to_addr "$CUSTOMER" $(sink_after "$mark")) | head -1)
		pd_check "clients: $c's answer is relayed" test -n "$relay"
		[ -n "$relay" ] || continue
		check_answer "clients: $c: the customer reads exactly the agent's text" "$relay" "$DATA/$c.expect"
		check_no_leak "clients: $c: no line of the notice reaches the customer" "$NOTICE" \
			$(to_addr "$CUSTOMER" $(sink_after "$mark"))
		if [ "$c" = gmail-inline ]; then
			compare_att "clients: $c: the inline image reaches the customer, byte for byte" \
				"$relay" display.png "$DATA/screenshot.png"
			local cid
			cid=$($MC cid "$relay" display.png)
			pd_check "clients: $c: and the HTML shows it where it stood (img src=cid:)" \
				bash -c "[ -n '$cid' ] && $MC htmlsrc '$relay' | grep -qF 'src=\"cid:$cid\"'"
		fi
		case $c in
		outlook-html | gmail* | applemail)
			case $($MC html "$relay") in
			*"$(head -1 "$DATA/$c.expect")"*) pd_ok "clients: $c: the HTML answer goes out as text/html too" ;;
			*) pd_fail "clients: $c: the HTML answer goes out as text/html too" "$($MC parts "$relay")" ;;
			esac
			# sanitised: no quoted history left in the markup, no remote image
			local bad
			bad=$($MC htmlsrc "$relay" | grep -oiE 'gmail_quote|gmail_attr|divRplyFwdMsg|appendonsend|<blockquote|<script|<style|cdn\.example\.net|https?://[^"]*\.(png|gif)' | sort -u | paste -sd' ')
			pd_check_eq "clients: $c: its HTML holds no quoted history, script or remote image" "" "$bad"
			;;
		esac
	done
}

for s in $SCENARIOS; do
	"sc_$s"
done
if [ "${PD_VALGRIND:-0}" = 1 ]; then
	pd_check_eq "valgrind: no memory error or leak in $RUNS postdeskd runs" "" "$(pd_valgrind_report)"
fi
pd_log "compared: $N_SENT mails written by clients, $N_MAILS mails read at the sink, $N_ATT attachments ($N_BYTES bytes) by sha256, $N_LINES notice lines looked for in the customer's mail"
pd_finish
