#!/bin/bash
# decide-pure.sh - the calendar (src/calendar.c) and the classifier
# (src/classify.c) stay pure: the symbols their object files need from
# elsewhere are libc's string, memory and calendar-arithmetic functions,
# libunistring's, the sanitizers' hooks and postdesk's base helpers; never
# the configuration parser, the database, the environment (TZ, setenv,
# tzset, getenv), the clock, files or sockets.
#
# Reads $top_builddir/src/{calendar,classify}.o (built by make).  Prints
# "ok N - ..." / "not ok N - ..." and "N passed, N failed"; exits 0 when
# all passed.
set -u
export LC_ALL=C

top_builddir=${top_builddir:-$PWD}
pass=0 fail=0 n=0

ok() { n=$((n + 1)) pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)) fail=$((fail + 1)); echo "not ok $n - $1"; [ -z "${2:-}" ] || echo "# $2"; }

if ! command -v nm >/dev/null; then
	echo "# nm not found (binutils): skipped"
	exit 77
fi

# pure libc: strings, memory, character classes, UTC calendar arithmetic
libc='^(free|malloc|calloc|realloc|memset|memcpy|memmove|memcmp|memchr|strlen|strnlen|strcmp|strncmp|strcasecmp|strncasecmp|strchr|strrchr|strstr|strspn|strcspn|snprintf|__snprintf_chk|__memcpy_chk|__memset_chk|__ctype_b_loc|__ctype_tolower_loc|__ctype_toupper_loc|__stack_chk_fail|__assert_fail|timegm|gmtime_r)$'
# libunistring (classification's words) and postdesk's base helpers
lib='^(u8_|uc_|uninorm_|pd_x[a-z]+$|pd_buf_|pd_str_|pd_addr_listed$)'
# what would make a deciding module impure
impure='^(PQ|cfg_|pd_config_|pd_tzif_|pd_log|setenv$|unsetenv$|putenv$|tzset$|getenv$|secure_getenv$|localtime|mktime$|time$|clock_gettime$|gettimeofday$|random$|rand$|getrandom$|open$|open64$|fopen|read$|write$|socket$|connect$)'

for m in calendar classify; do
	obj=$top_builddir/src/$m.o
	if [ ! -f "$obj" ]; then
		echo "# $obj not built: run make first"
		exit 77
	fi
	syms=$(nm -u "$obj" | awk '{print $2}' | grep -v '^__asan\|^__ubsan\|^__sanitizer')
	bad=$(echo "$syms" | grep -Ev "$libc" | grep -Ev "$lib" || true)
	if [ -z "$bad" ]; then
		ok "$m.o needs only pure functions"
	else
		not_ok "$m.o needs only pure functions" "also needs: $(echo $bad)"
	fi
	calls=$(echo "$syms" | grep -E "$impure" || true)
	if [ -z "$calls" ]; then
		ok "$m.o calls no configuration parser, database, environment, clock or I/O"
	else
		not_ok "$m.o calls no configuration parser, database, environment, clock or I/O" \
			"calls: $(echo $calls)"
	fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
