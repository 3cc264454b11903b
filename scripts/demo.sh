#!/bin/bash
# scripts/demo.sh - see postdesk work on this machine, with nothing but
# private servers on loopback:
#
#   builds postdesk (build-demo/), starts a private PostgreSQL, Dovecot and an
#   SMTP sink under demo-state/, puts six realistic mails (English and
#   Russian, an HTML-only one, a PDF attachment, a reply) into the support
#   mailbox, runs `postdeskd --once` and prints the tickets it made.
#
#   sudo ./scripts/demo.sh          (or as root: ./scripts/demo.sh)
#   ./scripts/demo.sh --keep        leave the servers running afterwards
#   ./scripts/demo.sh --stop        stop servers left running by --keep
#
# Nothing outside the repository is touched except: packages installed by
# scripts/deps.sh and, as root, a system user "postdesk-test" that owns the
# demo maildir (Dovecot refuses to store mail as root).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
STATE=$top/demo-state
keep=0
case "${1:-}" in
--keep) keep=1 ;;
--stop) ;;
"") ;;
-h | --help)
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [--keep | --stop]" >&2
	exit 64
	;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Stop servers a previous `demo.sh --keep` left running.
stop_previous() {
	[ -f "$STATE/servers.env" ] || return 0
	# shellcheck disable=SC1091
	(
		. "$STATE/servers.env"
		[ -n "${SMTP_PID:-}" ] && kill "$SMTP_PID" 2>/dev/null
		[ -n "${DOVECOT_CONF:-}" ] && doveadm -c "$DOVECOT_CONF" stop 2>/dev/null
		if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
			if [ "$(id -u)" = 0 ]; then
				runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w stop
			else
				"$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w stop
			fi
		fi
	) >/dev/null 2>&1
	rm -f "$STATE/servers.env"
	echo "stopped the demo servers"
}

if [ "${1:-}" = --stop ]; then
	stop_previous
	exit 0
fi

# ------------------------------------------------------------------ packages
say "packages"
if [ "$(id -u)" = 0 ]; then
	bash "$top/scripts/deps.sh" || exit 1
elif ! bash "$top/scripts/deps.sh" --check; then
	echo "Some packages are missing: run this demo as root (sudo $0), or sudo scripts/deps.sh first." >&2
	exit 1
fi

# ------------------------------------------------------------------ build
if [ -f "$top/config.status" ]; then
	build=$top # already configured in the source tree
else
	build=$top/build-demo
fi
mkdir -p "$STATE" "$build"
say "building postdesk in ${build#$top/} (log: demo-state/build.log)"
(
	set -e
	cd "$top"
	autoreconf -fi
	cd "$build"
	[ -f Makefile ] || "$top/configure"
	make -j"$(nproc 2>/dev/null || echo 2)"
) >"$STATE/build.log" 2>&1 || {
	tail -n 40 "$STATE/build.log"
	echo "build failed: see $STATE/build.log" >&2
	exit 1
}
echo "built $build/postdeskd and $build/postdesk"
export top_srcdir=$top top_builddir=$build

# ------------------------------------------------------------------ servers
stop_previous
if [ -L "$STATE/servers" ]; then
	old_servers=$(readlink "$STATE/servers")
	case $old_servers in /tmp/postdesk-demo.*) rm -rf "$old_servers" ;; esac
fi
rm -rf "$STATE/servers" "$STATE"/*.conf
# shellcheck source=../tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
pd_require_servers

# As root the servers run as `postgres` and `postdesk-test`: they must be
# able to reach demo-state/.  If the checkout is somewhere they cannot
# (e.g. under /root), keep the server files in /tmp and link them here.
servers=$STATE/servers
if pd_is_root; then
	muser=$(pd_mail_user)
	if ! runuser -u postgres -- test -x "$STATE" 2>/dev/null ||
		! runuser -u "$muser" -- test -x "$STATE" 2>/dev/null; then
		servers=$(mktemp -d /tmp/postdesk-demo.XXXXXX)
		ln -sfn "$servers" "$STATE/servers"
		echo "note: $STATE is not reachable by the postgres user; server files are in $servers"
	fi
fi
say "starting PostgreSQL, Dovecot and an SMTP sink on 127.0.0.1"
pd_init "$servers"
pd_start_postgres
pd_start_dovecot
pd_start_smtp_sink
cat >"$STATE/servers.env" <<-EOF
	PG_BINDIR='$PD_PG_BINDIR'
	PG_DATA='$PD_PG_DATA'
	PGPORT='$PGPORT'
	DOVECOT_CONF='$PD_DOVECOT_CONF'
	IMAP_PORT='$PD_IMAP_PORT'
	IMAPS_PORT='$PD_IMAPS_PORT'
	SMTP_PORT='$PD_SMTP_PORT'
	SMTP_PID='$PD_SMTP_PID'
EOF
echo "PostgreSQL  127.0.0.1:$PGPORT  (database postdesk, user postdesk)"
echo "Dovecot     imap://127.0.0.1:$PD_IMAP_PORT  imaps://127.0.0.1:$PD_IMAPS_PORT  (user support, password secret)"
echo "SMTP sink   smtp://127.0.0.1:$PD_SMTP_PORT  (mail lands in ${PD_SINK_DIR#$top/})"

CONF=$STATE/postdesk.conf
# DESIGN.md's config, plus the urgency rules shipped in conf/postdesk.conf
pd_write_config "$CONF" "extra=$(sed -n '/^rule "/,/^}/p' "$top/conf/postdesk.conf")"

# ------------------------------------------------------------------ postdesk
say "postdesk migrate"
"$build/postdesk" -c "$CONF" migrate || exit 1

say "postdesk kb import conf/kb"
"$build/postdesk" -c "$CONF" kb import "$top/conf/kb" || exit 1

say "delivering the demo mails to support@example.com's INBOX"
for f in "$top"/tests/data/demo/*.eml; do
	pd_deliver support "$f" || pd_die "delivering $f failed"
	subj=$("$PD_PYTHON" -c '
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print("%-34s %s" % (m["from"].addresses[0].display_name, m["subject"]))' "$f" 2>/dev/null)
	printf '  %-28s %s\n' "$(basename "$f")" "$subj"
done
echo "INBOX now holds $(pd_mailbox_count support INBOX) mails"

say "postdeskd -c demo-state/postdesk.conf --once"
"$build/postdeskd" -c "$CONF" --once 2>&1 | tee "$STATE/postdeskd.log" | tail -n 20
rc=${PIPESTATUS[0]}
echo "postdeskd exited $rc; INBOX: $(pd_mailbox_count support INBOX) mails, Processed: $(pd_mailbox_count support Processed) mails"

say "postdesk tickets"
"$build/postdesk" -c "$CONF" tickets

# The ticket with the most messages: the English question and its reply.
n=$("$build/postdesk" -c "$CONF" tickets --json 2>/dev/null | "$PD_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(max(d, key=lambda t: t["messages"])["number"] if d else "")' 2>/dev/null)
if [ -n "$n" ]; then
	say "postdesk show $n"
	"$build/postdesk" -c "$CONF" show "$n"
fi

# The urgent ticket: its priority, the reasons, its clocks; an agent answers it
# from their mail client and another ticket is resolved from the command line.
urgent=$("$build/postdesk" -c "$CONF" tickets --json 2>/dev/null | "$PD_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(next((t["number"] for t in d if t["priority"] == "critical"), ""))' 2>/dev/null)
if [ -n "$urgent" ]; then
	say "postdesk show $urgent (the urgent one: priority, reasons, SLA clocks)"
	"$build/postdesk" -c "$CONF" show "$urgent" | head -n 6
	say "alice@example.com answers ticket $urgent with Reply (to the notice's Reply-To); ticket 1 is resolved"
	"$PD_PYTHON" "$top/tests/integration/mkmail.py" --from 'Alice Agent <alice@example.com>' \
		--to "$(pd_reply_address postdesk "$urgent")" --subject "Re: [Support #$urgent] checkout" \
		--message-id "<demo-answer-$urgent@example.com>" \
		--body $'We have rolled back the payment release; checkout works again.\n\nAlice' \
		>"$STATE/answer.eml"
	pd_deliver support "$STATE/answer.eml"
	"$build/postdeskd" -c "$CONF" --once >>"$STATE/postdeskd.log" 2>&1
	"$build/postdesk" -c "$CONF" set 1 status resolved
	say "the customer of ticket 1 answers the satisfaction survey with a 5"
	"$PD_PYTHON" "$top/tests/integration/mkmail.py" \
		--from 'Sarah Connor <sarah.connor@acme-logistics.example>' --to support@example.com \
		--subject 'Re: [Support #1] How did we do?' --message-id '<demo-rating-1@acme-logistics.example>' \
		--body $'5\n\nThanks, all good now.' >"$STATE/rating.eml"
	pd_deliver support "$STATE/rating.eml"
	"$build/postdeskd" -c "$CONF" --once >>"$STATE/postdeskd.log" 2>&1
	say "postdesk report"
	"$build/postdesk" -c "$CONF" report
	"$build/postdesk" -c "$CONF" report --html "$STATE/report.html" &&
		echo "The same as a page with charts: ${STATE#$top/}/report.html"
fi

sent=$(ls "$PD_SINK_DIR"/*.eml 2>/dev/null | wc -l)
if [ "$sent" -gt 0 ]; then
	echo
	echo "The SMTP sink received $sent mail(s): ${PD_SINK_DIR#$top/}/"
fi

if [ $keep = 1 ]; then
	trap - EXIT
	PD_BG_PIDS= # nothing of ours to stop
	cat <<-EOF

		The servers are still running (stop them with: $0 --stop).
		  config:   $CONF
		  tickets:  $build/postdesk -c $CONF tickets
		  daemon:   $build/postdeskd -c $CONF --foreground     (Ctrl-C to stop)
		  new mail: doveadm -c $PD_DOVECOT_CONF save -u support -m INBOX < FILE.eml
		  database: psql "host=127.0.0.1 port=$PGPORT dbname=postdesk user=postdesk"
		  IMAP:     curl --url imap://127.0.0.1:$PD_IMAP_PORT/Processed -u support:secret -X 'UID SEARCH ALL'
	EOF
else
	trap - EXIT
	(pd_stop_all) >/dev/null 2>&1
	rm -f "$STATE/servers.env"
	echo "Servers stopped; their files stay in ${STATE#$top/}/ (run with --keep to explore)."
fi
exit "$rc"
