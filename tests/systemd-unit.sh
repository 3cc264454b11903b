#!/bin/bash
# tests/systemd-unit.sh - offline checks of systemd/postdeskd.service:
#   - the directives the daemon relies on are there (Type=notify, WatchdogSec=,
#     ExecReload= sending SIGHUP, ...) and nothing cuts it off the network;
#   - `systemd-analyze verify` prints nothing (run on a temp copy whose
#     ExecStart= is /bin/true, as postdeskd need not be installed; man page
#     lookup is off, and Documentation= is checked against man/ instead);
#   - `systemd-analyze security --offline=true` rates the unit 2.0 or lower.
#
# Needs systemd-analyze (systemd 250 or newer for --offline): without it the
# script exits 77 (automake SKIP), or fails when PD_REQUIRE_INTEGRATION=1.
# Boots nothing and needs no running systemd.
#
#   top_srcdir=. tests/systemd-unit.sh
#
# Environment: top_srcdir (default: the tree this script is in),
# PD_SECURITY_MAX (default 2.0), PD_KEEP_TMP=1 (keep the temp folder).

set -u

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
UNIT="$top_srcdir/systemd/postdeskd.service"
MAX="${PD_SECURITY_MAX:-2.0}"
RUN=0
FAILED=0

ok() {
	RUN=$((RUN + 1))
	printf 'ok %d - %s\n' "$RUN" "$1"
}

# not_ok NAME [DETAIL...]: one failed check, details as "#" lines.
not_ok() {
	RUN=$((RUN + 1))
	FAILED=$((FAILED + 1))
	printf 'not ok %d - %s\n' "$RUN" "$1"
	shift
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

finish() {
	echo "1..$RUN"
	echo "$((RUN - FAILED)) passed, $FAILED failed"
	[ "$FAILED" = 0 ]
	exit $?
}

skip_all() {
	if [ "${PD_REQUIRE_INTEGRATION:-0}" = 1 ]; then
		echo "not ok 1 - prerequisites: $*"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 77
}

# ------------------------------------------------------------ prerequisites

SA=$(command -v systemd-analyze) || skip_all "systemd-analyze missing (apt-get install systemd)"
"$SA" --help 2>/dev/null | grep -q -- '--offline' ||
	skip_all "$SA has no --offline (systemd 250 or newer needed)"
if [ ! -r "$UNIT" ]; then
	not_ok "unit file $UNIT exists"
	finish
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/postdesk-unit.XXXXXX") || exit 1
if [ "${PD_KEEP_TMP:-0}" = 1 ]; then
	trap 'echo "# kept $T"' EXIT
else
	trap 'rm -rf "$T"' EXIT
fi

# ------------------------------------------------------------ directives

# Effective [Service] assignments, comments dropped: "Key=value" lines.
sed -n '/^\[Service\]/,/^\[/p' "$UNIT" | grep -E '^[A-Za-z]+=' >"$T/service"

# has NAME REGEX: some [Service] line matches ^REGEX$.
has() {
	if grep -Eq "^$2\$" "$T/service"; then
		ok "$1"
	else
		not_ok "$1" "no [Service] line matches ^$2\$"
	fi
}

# lacks NAME REGEX: no [Service] line matches ^REGEX.
lacks() {
	local hit
	hit=$(grep -E "^$2" "$T/service")
	if [ -z "$hit" ]; then
		ok "$1"
	else
		not_ok "$1" "$hit"
	fi
}

has "Type=notify (READY/STATUS/WATCHDOG/STOPPING via sd_notify)" 'Type=notify'
has "WatchdogSec= is set" 'WatchdogSec=[1-9][0-9]*(s|min)?'
# shellcheck disable=SC2016 # a literal $MAINPID in the regex
has "ExecReload= sends SIGHUP to the main process" 'ExecReload=/(usr/)?bin/kill -HUP \$MAINPID'
has "ExecStart= runs postdeskd in the foreground with a config" \
	'ExecStart=/[^ ]*/postdeskd -c /[^ ]+ --foreground'
has "Restart=on-failure" 'Restart=on-failure'
has "a dedicated user (User= or DynamicUser=yes)" '(User=postdesk|DynamicUser=yes)'
has "UMask=0077" 'UMask=0077'
has "NoNewPrivileges=yes" 'NoNewPrivileges=yes'
has "ProtectSystem=strict" 'ProtectSystem=strict'
has "empty CapabilityBoundingSet=" 'CapabilityBoundingSet='
has "SystemCallFilter=@system-service" 'SystemCallFilter=@system-service'
has "RestrictAddressFamilies= allows AF_UNIX AF_INET AF_INET6" \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'
# postdeskd must reach the IMAP, SMTP and PostgreSQL servers its config names.
lacks "no PrivateNetwork=yes (IMAP/SMTP/PostgreSQL are remote)" 'PrivateNetwork=(yes|true|1|on)'
lacks "no IPAddressDeny= (the servers' addresses are not known here)" 'IPAddressDeny='

# Documentation=man:NAME(N) pages exist in man/ (verify's own man lookup
# needs them installed, so it is switched off below).
docs=$(sed -n 's/^Documentation=//p' "$UNIT" | tr ' ' '\n' | sed -n 's/^man:\(.*\)(\(.*\))$/\1.\2/p')
missing=
for page in $docs; do
	[ -r "$top_srcdir/man/$page" ] || missing="$missing $page"
done
if [ -z "$docs" ]; then
	not_ok "Documentation= names man pages"
elif [ -n "$missing" ]; then
	not_ok "Documentation= man pages exist in man/" "missing:$missing"
else
	ok "Documentation= man pages exist in man/ (${docs//$'\n'/ })"
fi

# ------------------------------------------------------------ verify

# A copy under the same name (verify derives the unit name from the file),
# with ExecStart= pointing at a binary that exists.
mkdir "$T/verify"
sed 's|^ExecStart=[^ ]*|ExecStart=/bin/true|' "$UNIT" >"$T/verify/postdeskd.service"
out=$("$SA" verify --man=no "$T/verify/postdeskd.service" 2>&1)
rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then
	ok "systemd-analyze verify: clean"
else
	not_ok "systemd-analyze verify: clean" "exit status $rc" "$out"
fi

# ------------------------------------------------------------ security

out=$("$SA" security --offline=true "$UNIT" 2>&1)
rc=$?
# "→ Overall exposure level for postdeskd.service: 1.1 OK 🙂"
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p')
if [ "$rc" != 0 ] || [ -z "$score" ]; then
	not_ok "systemd-analyze security --offline=true reports an exposure level" \
		"exit status $rc" "$out"
elif awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s + 0 <= m + 0) }'; then
	ok "exposure level $score <= $MAX"
else
	not_ok "exposure level $score <= $MAX" "$(printf '%s\n' "$out" | grep '✗')"
fi

finish
