#!/bin/bash
# tests/valgrind.sh - `make check-valgrind`: the test programs and postdeskd
# under valgrind's memcheck, in a build configured WITHOUT --enable-sanitizers
# (valgrind cannot run ASan binaries).
#
#   tests/valgrind.sh PROGRAM... [-- INTEGRATION-SUITE[:SCENARIOS]...]
#
# Each PROGRAM (cmocka unit tests, fuzz replays) runs under valgrind with
# --error-exitcode=99, full leak checking and definite/indirect leaks counted
# as errors, with tests/valgrind.supp; its own cases are counted from its
# output ("[  PASSED  ] N tests", "N passed, N failed").  A valgrind report
# fails the program once more on top of its cases.  Each integration suite
# runs with PD_VALGRIND=1 (tests/integration/lib.sh: postdeskd under
# valgrind); "suite.sh:a,b" runs only scenarios a and b.  Reports are kept in
# tests/valgrind/NAME.log of the build directory.  The last line is
# "N passed, N failed"; the exit status is 0 only when all passed.
#
# Environment: top_srcdir, top_builddir (set by make), VALGRIND (default
# valgrind), PD_VALGRIND_INTEGRATION=0 skips the integration suites.
set -uo pipefail

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$PWD}"
VALGRIND=${VALGRIND:-valgrind}
export top_srcdir top_builddir

if ! command -v "$VALGRIND" >/dev/null; then
	echo "valgrind.sh: $VALGRIND not found (run scripts/deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
if grep -q __asan_init "$top_builddir/postdeskd" 2>/dev/null; then
	echo "valgrind.sh: $top_builddir is built with --enable-sanitizers; valgrind needs a plain build" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

outdir=$top_builddir/tests/valgrind
mkdir -p "$outdir"
passed=0
failed=0

# count FILE: "P F" from a program's output (cmocka summary or our own line).
count() {
	awk '
		/^\[  PASSED  \] [0-9]+ test/ { p += $4; cm = 1 }
		/^\[  FAILED  \] [0-9]+ test/ { f += $4; cm = 1 }
		/^[0-9]+ passed, [0-9]+ failed/ { ip = $1; if_ = $3; it = 1 }
		END {
			if (it) print ip + 0, if_ + 0
			else if (cm) print p + 0, f + 0
			else print 0, 0
		}' "$1"
}

suites=()
progs=()
while [ $# -gt 0 ]; do
	if [ "$1" = -- ]; then
		shift
		suites=("$@")
		break
	fi
	progs+=("$1")
	shift
done

for prog in "${progs[@]}"; do
	name=$(basename "$prog")
	log=$outdir/$name.log
	out=$outdir/$name.out
	# cmocka forks nothing; --child-silent-after-fork keeps helpers quiet
	"$VALGRIND" -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--child-silent-after-fork=yes \
		--suppressions="$top_srcdir/tests/valgrind.supp" --log-file="$log" \
		"$top_builddir/$prog" >"$out" 2>&1
	rc=$?
	read -r p f < <(count "$out")
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then
		# no summary line: the program itself is the case
		if [ $rc = 0 ]; then p=1; else f=1; fi
	fi
	if [ $rc = 99 ] || [ -s "$log" ]; then
		echo "not ok - $name: valgrind reports errors ($log)"
		sed 's/^/#   /' "$log" | head -n 40
		f=$((f + 1))
	elif [ $rc != 0 ]; then
		echo "not ok - $name: exit status $rc"
		tail -n 20 "$out" | sed 's/^/#   /'
		[ "$f" = 0 ] && f=1
	else
		echo "ok - $name under valgrind: $p passed"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

if [ "${PD_VALGRIND_INTEGRATION:-1}" != 0 ]; then
	for s in "${suites[@]}"; do
		script=${s%%:*}
		scen=
		[ "$s" != "$script" ] && scen=${s#*:}
		name=$(basename "$script" .sh)
		out=$outdir/integration-$name.out
		# shellcheck disable=SC2086 # scenario names are words
		PD_VALGRIND=1 bash "$top_srcdir/$script" ${scen//,/ } >"$out" 2>&1
		rc=$?
		if [ $rc = 77 ]; then
			echo "skip - $script (servers missing)"
			continue
		fi
		read -r p f < <(count "$out")
		[ $rc != 0 ] && [ "$f" = 0 ] && f=1
		grep -E '^not ok|^Bail out' "$out"
		echo "$( [ "$f" = 0 ] && echo ok || echo 'not ok') - $script ${scen:+($scen) }with postdeskd under valgrind: $p passed, $f failed"
		passed=$((passed + p))
		failed=$((failed + f))
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
