#!/bin/bash
# plan-pure.sh - the ingest planner (src/plan.c) stays pure: the symbols its
# object file needs from elsewhere are libc's string and memory functions,
# the sanitizers' hooks and the functions of postdesk's deciding modules;
# never the database, the mail library, HTTP, the configuration parser, the
# clock, a random source, the environment, files or sockets.
#
# Reads $top_builddir/src/plan.o (built by make).  Prints "ok N - ..." /
# "not ok N - ..." and "N passed, N failed"; exits 0 when all passed.
set -u
export LC_ALL=C

top_builddir=${top_builddir:-$PWD}
OBJ=$top_builddir/src/decide/plan.o
pass=0 fail=0 n=0

ok() { n=$((n + 1)) pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)) fail=$((fail + 1)); echo "not ok $n - $1"; [ -z "${2:-}" ] || echo "# $2"; }

if ! command -v nm >/dev/null; then
	echo "# nm not found (binutils): skipped"
	exit 77
fi
if [ ! -f "$OBJ" ]; then
	echo "# $OBJ not built: run make first"
	exit 77
fi

# what libc gives that is pure: strings, memory, character classes
libc='^(free|malloc|calloc|realloc|memset|memcpy|memmove|memcmp|memchr|strlen|strnlen|strcmp|strncmp|strcasecmp|strncasecmp|strchr|strrchr|strstr|strspn|strcspn|strtol|strtoll|strtoul|strtoull|snprintf|__snprintf_chk|__memcpy_chk|__memset_chk|__ctype_b_loc|__ctype_tolower_loc|__ctype_toupper_loc|__stack_chk_fail)$'
# postdesk's functions the planner may call: the deciding modules and the
# allocation and string helpers
pd='^pd_(agent_|answer_|classif|classify|commands_|config_is_agent$|config_plan_for$|loopguard_|render_detect_language$|str_|thread_|x[a-z]+$|buf_)'
bad=$(nm -u "$OBJ" | awk '{print $2}' | grep -v '^__asan\|^__ubsan\|^__sanitizer' |
	grep -Ev "$libc" | grep -Ev "$pd" || true)
if [ -z "$bad" ]; then
	ok "plan.o needs only pure functions"
else
	not_ok "plan.o needs only pure functions" "also needs: $(echo $bad)"
fi

# and, named outright, what would make it impure
impure=$(nm -u "$OBJ" | awk '{print $2}' |
	grep -E '^(PQ|mail|mailimf|mailmime|curl_|cfg_|pd_db_|pd_compose_|pd_store_|pd_slascan_|pd_log|time$|clock_gettime$|gettimeofday$|random$|rand$|getrandom$|getenv$|secure_getenv$|open$|fopen$|read$|write$|socket$|connect$)' || true)
if [ -z "$impure" ]; then
	ok "plan.o calls no database, mail, HTTP, configuration parser, clock, random, env or I/O"
else
	not_ok "plan.o calls no database, mail, HTTP, configuration parser, clock, random, env or I/O" \
		"calls: $(echo $impure)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
