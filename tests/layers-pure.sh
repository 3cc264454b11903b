#!/bin/bash
# layers-pure.sh - the deciding modules stay pure: every object of
# libdecide.a (src/decide/: plan, thread, classify, loopguard, commands,
# answer, agentid, sla, calendar, language, kb) needs from elsewhere only
# libc's string, memory and character functions, libunistring, the sanitizers'
# hooks and postdesk's own pure functions (src/base/, src/decide/); never the
# database, the mail library, HTTP, the configuration parser, the clock, a
# random source, the environment, files, sockets or postdesk's own I/O
# helpers (log, ioutil).  render.o (src/mail/) is read the same way for
# its headers and templates: they come in as text (config_templates.c reads
# the files) and a Message-ID's random part as bytes from its caller.
#
# The calendar (calendar.o) and the classifier (classify.o) decide from
# their own sections (struct pd_calendar_cfg with its loaded zone table,
# struct pd_classify_rules), so they also need none of the lookups over the
# whole configuration (pd_config_*), and the calendar never the zone files'
# reader (pd_tzif_*, src/config/tzif.c).
#
# Known exceptions, each named below and removed when its module no longer
# needs it: none at present.
#
# Reads $top_builddir/libdecide.a, libbase.a and libmail.a (built by make).
# Prints "ok N - ..." / "not ok N - ..." and "N passed, N failed"; exits 0
# when all passed.
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
for a in libdecide.a libbase.a libmail.a; do
	if [ ! -f "$top_builddir/$a" ]; then
		echo "# $top_builddir/$a not built: run make first"
		exit 77
	fi
done

# what libc gives that is pure: strings, memory, character classes, sorting
libc='^(free|malloc|calloc|realloc|memset|memcpy|memmove|memcmp|memchr|memmem|strlen|strnlen|strcmp|strncmp|strcasecmp|strncasecmp|strchr|strrchr|strstr|strcasestr|strspn|strcspn|strpbrk|strtol|strtoll|strtoul|strtoull|snprintf|vsnprintf|qsort|bsearch|tolower|toupper|gmtime_r|timegm|__errno_location|__snprintf_chk|__vsnprintf_chk|__memcpy_chk|__memmove_chk|__memset_chk|__ctype_b_loc|__ctype_tolower_loc|__ctype_toupper_loc|__stack_chk_fail|__assert_fail)$'
# libunistring (text)
libs='^(u8_|u16_|u32_|uc_|uninorm_|ulc_)'
# postdesk's functions a deciding module may call: those of base and decide
pd=$( (nm --defined-only -g "$top_builddir/libbase.a"; nm --defined-only -g "$top_builddir/libdecide.a") |
	awk 'NF == 3 && $2 ~ /^[TDBRC]$/ { print $3 }' | sort -u)
# named outright: what would make a module impure
impure='^(PQ|mail|clist_|mmap_string_|curl_|cfg_|json_|MHD_|gumbo_|uchardet_|iconv|gnutls_|pd_log|pd_read_file$|pd_now_ms$|pd_db_|pd_store_|pd_compose_|pd_outbox_|pd_slascan_|pd_imap_|pd_smtp_|pd_oauth2_|pd_metrics_|pd_config_load$|pd_tzif_|pd_kb_load_dir$|pd_template_load$|pd_template_render$|time$|clock_gettime$|gettimeofday$|localtime$|localtime_r$|mktime$|tzset$|random$|srandom$|rand$|getrandom$|arc4random|getenv$|secure_getenv$|setenv$|unsetenv$|putenv$|environ$|open$|open64$|openat$|fopen$|fdopen$|read$|write$|close$|stat$|fstat$|lstat$|scandir$|opendir$|readdir$|access$|unlink$|socket$|connect$|bind$|listen$|accept|send$|recv$|poll$|select$|getaddrinfo$|fputs$|fwrite$|fprintf$|printf$|puts$|fputc$|stderr$|stdout$|syslog$|sleep$|usleep$|nanosleep$)'

# the sanitizers' and the fuzzing build's coverage hooks
hooks='(__asan|__ubsan|__sanitizer|__sancov|__start___sancov|__stop___sancov)'

# per object: OBJECT SYMBOL... that it may need although impure (see above)
exception() {
	case $1 in
	*) ;;
	esac
}

# per object: a regular expression of what it must not need although other
# deciding modules may (see above)
narrowed() {
	case $1 in
	calendar.o | libdecide_a-calendar.o | classify.o | libdecide_a-classify.o) echo '^pd_config_' ;;
	esac
}

# the undefined symbols of every member of an archive, as "member symbol"
undefined() {
	nm -u "$1" | awk '/:$/ { obj = substr($1, 1, length($1) - 1); next }
		NF >= 2 { print obj, $NF }' | grep -Ev " $hooks"
}

check() {
	local obj=$1 syms=$2 label=$3
	local allowed bad named s
	local narrow
	allowed=$(exception "$obj")
	narrow=$(narrowed "$obj")
	bad= named=
	for s in $syms; do
		case " $allowed " in *" $s "*) continue ;; esac
		if echo "$s" | grep -Eq "$impure" ||
			{ [ -n "$narrow" ] && echo "$s" | grep -Eq "$narrow"; }; then
			named="$named $s"
		elif ! echo "$s" | grep -Eq "$libc" && ! echo "$s" | grep -Eq "$libs" &&
			! echo "$pd" | grep -qx "$s"; then
			bad="$bad $s"
		fi
	done
	if [ -z "$named$bad" ]; then
		ok "$label needs only pure functions${narrow:+, none matching $narrow}${allowed:+ (known exceptions: $allowed)}"
	else
		not_ok "$label needs only pure functions" \
			"${named:+calls what is impure:$named}${named:+${bad:+; }}${bad:+needs what no pure module gives:$bad}"
	fi
}

undefined "$top_builddir/libdecide.a" >"${TMPDIR:-/tmp}/layers-pure.$$"
trap 'rm -f "${TMPDIR:-/tmp}/layers-pure.$$"' EXIT
objs=$(awk '{ print $1 }' "${TMPDIR:-/tmp}/layers-pure.$$" | sort -u)
members=$(ar t "$top_builddir/libdecide.a")
for m in $members; do
	syms=$(awk -v o="$m" '$1 == o { print $2 }' "${TMPDIR:-/tmp}/layers-pure.$$")
	check "$m" "$syms" "src/decide/${m#libdecide_a-}"
done
[ -n "$objs$members" ] || not_ok "libdecide.a has members" "ar t found none"

for m in $(ar t "$top_builddir/libmail.a" | grep -- 'render\.o$'); do
	syms=$(nm -u "$top_builddir/libmail.a" 2>/dev/null | awk -v o="$m:" '/:$/ { on = ($1 == o); next }
		on && NF >= 2 { print $NF }' | grep -Ev "^$hooks")
	# render writes MIME with mimeout.c, in its own layer (mail)
	syms=$(echo "$syms" | grep -v '^pd_mimeout_')
	check "$m" "$syms" "src/mail/${m#libmail_a-}"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
