#!/bin/bash
# docs-keys.sh - the documentation keeps up with the code.
#
#   - every key of the libconfuse schema (the cfg_opt_t tables of
#     src/config/config.c) has an entry in man/postdesk.conf.5, under the .SS of its
#     section, and is listed (set or commented out) in its section of
#     conf/postdesk.conf; and neither documents a key the schema does not have;
#   - every command that postdesk's usage() lists (src/admin/cli.c) has an entry in
#     man/postdesk.1, and every long option of postdesk and postdeskd appears
#     in its man page;
#   - the man pages format without groff warnings (when groff is installed).
#
# Needs only bash, awk, grep and sort.  Prints "ok N - ..." / "not ok N - ..."
# lines and "N passed, N failed"; exits 0 when all passed, 1 otherwise.
set -u
export LC_ALL=C

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
CONFIG_C=$top_srcdir/src/config/config.c
CLI_C=$top_srcdir/src/admin/cli.c
MAIN_C=$top_srcdir/src/core/main.c
CONF=$top_srcdir/conf/postdesk.conf
MAN_CONF=$top_srcdir/man/postdesk.conf.5
MAN_CLI=$top_srcdir/man/postdesk.1
MAN_DAEMON=$top_srcdir/man/postdeskd.8

run=0
failed=0

ok() {
	run=$((run + 1))
	printf 'ok %d - %s\n' "$run" "$1"
}

not_ok() {
	run=$((run + 1))
	failed=$((failed + 1))
	printf 'not ok %d - %s\n' "$run" "$1"
	shift
	local line
	for line in "$@"; do
		printf '#   %s\n' "$line"
	done
}

finish() {
	echo "1..$run"
	echo "$((run - failed)) passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}

for f in "$CONFIG_C" "$CLI_C" "$MAIN_C" "$CONF" "$MAN_CONF" "$MAN_CLI" "$MAN_DAEMON"; do
	if [ ! -r "$f" ]; then
		not_ok "${f#"$top_srcdir"/} exists" "cannot read $f"
		finish
	fi
done

# "SECTION KEY" pairs; SECTION is "-" for the top level.  A key of a titled
# section such as mailbox "NAME" is "mailbox KEY".
show() { [ "$1" = - ] && printf '%s' "$2" || printf '%s.%s' "$1" "$2"; }

# ------------------------------------------------------------ the schema

# Every cfg_opt_t table; CFG_SEC("name", table, ...) names the section a
# table belongs to; root_opts is the top level.
schema=$(awk '
	/^static cfg_opt_t [a-z_0-9]+\[\][ \t]*=/ {
		tbl = $3; sub(/\[\].*/, "", tbl); next
	}
	tbl != "" && /CFG_END/ { tbl = ""; next }
	tbl != "" && match($0, /CFG_[A-Z_]+\("[a-z_0-9]+"/) {
		macro = substr($0, RSTART, RLENGTH)
		name = macro; sub(/^[^"]*"/, "", name); sub(/"$/, "", name)
		if (macro ~ /^CFG_SEC\(/) {
			sub_tbl = $0; sub(/^[^,]*,[ \t]*/, "", sub_tbl); sub(/[ ,].*/, "", sub_tbl)
			secof[sub_tbl] = name
			secs[++ns] = name
		} else {
			n++; ktbl[n] = tbl; kname[n] = name
		}
	}
	END {
		for (i = 1; i <= ns; i++) print "SEC", secs[i]
		for (i = 1; i <= n; i++) {
			s = ktbl[i] == "root_opts" ? "-" : secof[ktbl[i]]
			if (s == "") s = "?" ktbl[i]
			print s, kname[i]
		}
	}' "$CONFIG_C")

schema_keys=$(printf '%s\n' "$schema" | grep -v '^SEC ' | sort -u)
schema_secs=$(printf '%s\n' "$schema" | awk '$1 == "SEC" { print $2 }' | sort -u)
n_keys=$(printf '%s\n' "$schema_keys" | grep -c .)
n_secs=$(printf '%s\n' "$schema_secs" | grep -c .)

# A parser that finds nothing would make every check below pass.
if [ "$n_keys" -ge 30 ] && [ "$n_secs" -ge 5 ] &&
	! printf '%s\n' "$schema_keys" | grep -q '^?'; then
	ok "src/config/config.c: $n_keys keys in $n_secs sections plus the top level"
else
	not_ok "src/config/config.c: the schema tables can be read" \
		"found $n_keys keys and $n_secs sections"
fi

# --------------------------------------------------------- postdesk.conf.5

# Entries are ".TP" then a tag line ".BI \"KEY = \" TYPE" (or .B/.BR), under
# ".SS NAME" (".SS \"Top level\"" for the top level).
man_entries=$(awk '
	{ gsub(/\\-/, "-"); gsub(/\\\(dq/, "\"") }
	/^\.SS/ {
		h = $0; sub(/^\.SS[ \t]+"?/, "", h); split(h, w, /[ \t"]+/)
		sec = (tolower(w[1]) == "top") ? "-" : w[1]
		print "SEC", sec
		next
	}
	prev_tp && /^\.B[IR]?[ \t]/ {
		t = $0; sub(/^\.B[IR]?[ \t]+"?/, "", t)
		if (match(t, /^[a-z_0-9]+[ \t]*=/)) {
			k = substr(t, 1, RLENGTH); sub(/[ \t]*=$/, "", k)
			print sec, k
		}
	}
	{ prev_tp = ($0 ~ /^\.TP/) }' "$MAN_CONF")
man_keys=$(printf '%s\n' "$man_entries" | grep -v '^SEC ' | sort -u)
man_secs=$(printf '%s\n' "$man_entries" | awk '$1 == "SEC" { print $2 }' | sort -u)

# ---------------------------------------------------------- postdesk.conf

# Statements of the example file: set keys, and keys commented out as
# "#key = ..." / "#<tab>key = ..." / "#section {" (a "#" then a space is
# prose, including the header's sample file, and does not count).
conf_entries=$(awk '
	function rec(k) {
		if (d == 0) print "-", k
		else if (d == 1 && stack[1] != "(list)") print stack[1], k
		else if (d == 2 && stack[2] == "oauth2") print "oauth2", k  # mailbox/smtp oauth2 { }
	}
	{
		line = $0
		if (line ~ /^[ \t]*(#|\/\/)/) {
			sub(/^[ \t]*(#|\/\/)/, "", line)
			if (line ~ /^ / || line ~ /^$/) next
		}
		gsub(/"([^"\\]|\\.)*"/, " \"S ", line)   # strings: one token
		sub(/(^|[ \t])(#|\/\/).*$/, "", line)     # trailing comment
		gsub(/\+=/, "=", line)
		gsub(/[{}=,]/, " & ", line)
		n = split(line, t, /[ \t]+/)
		for (i = 1; i <= n; i++) {
			w = t[i]
			if (w == "" || w == ",") continue
			if (w == "=") {
				if (name != "") rec(name)
				name = ""; after_eq = 1
			} else if (w == "{") {
				if (after_eq) { stack[++d] = "(list)"; after_eq = 0 }
				else {
					stack[++d] = name
					if (d == 1 || (d == 2 && name == "oauth2")) print "SEC", name
				}
				name = ""
			} else if (w == "}") {
				if (d > 0) d--
				name = ""
			} else if (after_eq) {
				after_eq = 0            # the value
			} else if (name == "" && w ~ /^[a-z_][a-z_0-9]*$/) {
				name = w                # a key or a section name
			}                               # else a section title
		}
	}' "$CONF")
conf_keys=$(printf '%s\n' "$conf_entries" | grep -v '^SEC ' | sort -u)
conf_secs=$(printf '%s\n' "$conf_entries" | awk '$1 == "SEC" { print $2 }' | sort -u)

# ------------------------------------------------------------- the checks

while read -r sec key; do
	[ -n "$key" ] || continue
	k=$(show "$sec" "$key")
	if printf '%s\n' "$man_keys" | grep -qxF -e "$sec $key"; then
		ok "postdesk.conf.5 documents $k"
	else
		not_ok "postdesk.conf.5 documents $k" \
			"no '.TP' entry '$key = ...' under the .SS of section '$sec'"
	fi
	if printf '%s\n' "$conf_keys" | grep -qxF -e "$sec $key"; then
		ok "conf/postdesk.conf lists $k"
	else
		not_ok "conf/postdesk.conf lists $k" \
			"no '$key = ...' (or '#$key = ...') in section '$sec'"
	fi
done <<EOF
$schema_keys
EOF

while read -r sec; do
	[ -n "$sec" ] || continue
	if printf '%s\n' "$man_secs" | grep -qxF -e "$sec"; then
		ok "postdesk.conf.5 has a subsection for section $sec"
	else
		not_ok "postdesk.conf.5 has a subsection for section $sec" "no '.SS $sec'"
	fi
	if printf '%s\n' "$conf_secs" | grep -qxF -e "$sec"; then
		ok "conf/postdesk.conf shows section $sec"
	else
		not_ok "conf/postdesk.conf shows section $sec"
	fi
done <<EOF
$schema_secs
EOF

# The other way round: nothing documented that the schema does not know.
check_stale() { # NAME FOUND-KEYS
	local stale
	stale=$(comm -23 <(printf '%s\n' "$2" | grep .) <(printf '%s\n' "$schema_keys") |
		while read -r sec key; do show "$sec" "$key"; printf ' '; done)
	if [ -z "$stale" ]; then
		ok "$1 has no key the schema lacks"
	else
		not_ok "$1 has no key the schema lacks" "not in src/config/config.c: $stale"
	fi
}
check_stale postdesk.conf.5 "$man_keys"
check_stale conf/postdesk.conf "$conf_keys"

# ------------------------------------------------------------ postdesk(1)

# man text without font escapes, quotes and macro names, with \- as -.
man_text() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' -e 's/"//g' \
		-e 's/^\.[A-Z][A-Z]*[ \t]*//' -e 's/[ \t][ \t]*/ /g' "$1"
}

# The commands of usage(): the lower-case words before the arguments
# ("outbox retry ID" -> "outbox retry").
commands=$(awk '
	/^static void usage\(/ { in_usage = 1; next }
	in_usage && /^}/ { exit }
	in_usage && /^[ \t]*"  [a-z]/ {
		s = $0; sub(/^[ \t]*"  /, "", s); sub(/  .*/, "", s); sub(/\\n.*/, "", s)
		n = split(s, w, " "); c = ""
		for (i = 1; i <= n && w[i] ~ /^[a-z][a-z-]*$/; i++) c = c (c == "" ? "" : " ") w[i]
		if (c != "") print c
	}' "$CLI_C")
cli_options=$(awk '/^static void usage\(/,/^}/' "$CLI_C" | grep -o -- '--[a-z][a-z-]*' | sort -u)

n_cmds=$(printf '%s\n' "$commands" | grep -c .)
if [ "$n_cmds" -ge 5 ]; then
	ok "src/admin/cli.c: usage() lists $n_cmds commands"
else
	not_ok "src/admin/cli.c: usage() lists its commands" "found: $commands"
fi

# Tag lines of .TP entries in postdesk.1, normalised.
cli_tags=$(awk '{ if (prev_tp) print; prev_tp = ($0 ~ /^\.TP/) }' "$MAN_CLI" |
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq//g' -e 's/"//g' \
		-e 's/^\.[A-Z][A-Z]*[ \t]*//' -e 's/[ \t][ \t]*/ /g')
while read -r cmd; do
	[ -n "$cmd" ] || continue
	if printf '%s\n' "$cli_tags" | grep -qE "^$cmd( |\$)"; then
		ok "postdesk.1 documents the command '$cmd'"
	else
		not_ok "postdesk.1 documents the command '$cmd'" \
			"no '.TP' entry starting with '$cmd' in $MAN_CLI"
	fi
done <<EOF
$commands
EOF

check_options() { # MAN SOURCE OPTIONS...
	local man=$1 src=$2 opt text
	shift 2
	text=$(man_text "$man")
	for opt in "$@"; do
		if printf '%s\n' "$text" | grep -qF -- "$opt"; then
			ok "${man##*/} mentions $opt (from ${src##*/})"
		else
			not_ok "${man##*/} mentions $opt (from ${src##*/})"
		fi
	done
}
# shellcheck disable=SC2086
check_options "$MAN_CLI" "$CLI_C" $cli_options
daemon_options=$(grep -o -- '{"[a-z][a-z-]*", *[a-z_]*_argument' "$MAIN_C" |
	sed 's/{"\([^"]*\)".*/--\1/' | sort -u)
if [ -n "$daemon_options" ]; then
	# shellcheck disable=SC2086
	check_options "$MAN_DAEMON" "$MAIN_C" $daemon_options
else
	not_ok "src/core/main.c: the long options can be read"
fi

# ---------------------------------------------------------------- groff

for page in "$MAN_DAEMON" "$MAN_CLI" "$MAN_CONF"; do
	name=${page##*/}
	if ! command -v groff >/dev/null 2>&1; then
		ok "$name formats without warnings # SKIP groff not installed"
		continue
	fi
	out=$(groff -man -ww -z "$page" 2>&1)
	if [ -z "$out" ]; then
		ok "$name formats without warnings"
	else
		not_ok "$name formats without warnings" "$out"
	fi
done

finish
