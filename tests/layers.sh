#!/bin/bash
# layers.sh - the arrows between the layers of src/ hold at link time: each
# layer's library (every object of libLAYER.a, --whole-archive) links into a
# throwaway program with only the libraries of the layers below it and their
# external libraries.  A call upward (say, a deciding module calling the
# database) leaves a symbol undefined; the failure names each such symbol
# and the layer whose library defines it.
#
# The layers, their libraries and what each may link with come from
# Makefile.am (PD_LAYER_<layer>="LOWER LIBRARIES|EXTERNAL LIBRARIES", set by
# make check).  Prints "ok N - ..." / "not ok N - ..." and "N passed, N
# failed"; exits 0 when all passed.
set -u
export LC_ALL=C

top_builddir=${top_builddir:-$PWD}
CC=${PD_CC:-cc}
LAYERS="base decide io mail config net db admin core"
pass=0 fail=0 n=0

ok() { n=$((n + 1)) pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)) fail=$((fail + 1))
	echo "not ok $n - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/# /'
}

if [ -z "${PD_LAYER_decide+set}" ]; then
	echo "# PD_LAYER_* not set: run through make check (they come from Makefile.am)"
	exit 77
fi
if ! command -v nm >/dev/null; then
	echo "# nm not found (binutils): skipped"
	exit 77
fi
for l in $LAYERS; do
	if [ ! -f "$top_builddir/lib$l.a" ]; then
		echo "# $top_builddir/lib$l.a not built: run make first"
		exit 77
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'int main(void);\nint main(void) { return 0; }\n' >"$tmp/stub.c"

# which layer defines each global symbol
for l in $LAYERS; do
	nm --defined-only -g "$top_builddir/lib$l.a" 2>/dev/null |
		awk -v l="$l" 'NF == 3 && $2 ~ /^[TDBRCVW]$/ { print $3, l }'
done >"$tmp/defs"

for l in $LAYERS; do
	var=PD_LAYER_$l
	spec=${!var-}
	below=${spec%%|*}
	ext=${spec#*|}
	# shellcheck disable=SC2086
	if (cd "$top_builddir" && $CC ${PD_LDFLAGS:-} -o "$tmp/a.out" "$tmp/stub.c" \
		-Wl,--whole-archive "lib$l.a" -Wl,--no-whole-archive $below $ext) >"$tmp/log" 2>&1; then
		ok "lib$l.a links with only the layers below it${below:+ (${below// /, })}"
		continue
	fi
	# GNU ld: undefined reference to `sym'; lld: undefined symbol: sym
	syms=$(sed -n -e "s/.*undefined reference to \`\([^']*\)'.*/\1/p" \
		-e 's/.*undefined symbol: \([^ ]*\).*/\1/p' "$tmp/log" | sort -u)
	if [ -z "$syms" ]; then
		not_ok "lib$l.a links with only the layers below it" "$(tail -20 "$tmp/log")"
		continue
	fi
	why=$(for s in $syms; do
		from=$(awk -v s="$s" '$1 == s { print $2; exit }' "$tmp/defs")
		if [ -n "$from" ]; then
			echo "$s: defined in src/$from/ (layer $from, not below $l)"
		else
			echo "$s: defined by no library $l may link"
		fi
	done)
	not_ok "lib$l.a links with only the layers below it" "undefined:
$why"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
