#!/bin/bash
# scripts/test.sh - build postdesk with ASan/UBSan in build-test/ and run the
# whole test suite: cmocka unit tests and the integration tests against real
# PostgreSQL, Dovecot and an SMTP sink started on loopback.
#
#   ./scripts/test.sh              (as root it first installs what is missing)
#
# Packages: scripts/deps.sh --check first; when something is missing, root
# installs it (scripts/deps.sh, as the demo does), anyone else is told what
# is missing and the command that installs it, and the run goes on (tests
# whose servers are missing are skipped).  PD_SKIP_DEPS=1 skips the check.
# The builds are configured with --enable-test-hooks (the fault-injection
# hooks the integration tests use; never in a production build).
#
# The last line printed is "N passed, N failed" counting test cases: the
# cmocka "[  PASSED  ]"/"[  FAILED  ]" totals plus each integration script's
# own summary line, and one per libFuzzer target run by scripts/fuzz.sh
# (PD_FUZZ_SECONDS per target, default 60; 0 skips them), plus the counts of
# `make check-valgrind` in build-valgrind/ (a build without sanitizers;
# PD_SKIP_VALGRIND=1 skips it).  Exit status 0 only when everything passed.
# CI=true (or PD_REQUIRE_INTEGRATION=1) turns a skipped integration test
# (missing server) into a failure; CI=true also fails the cases that read the
# shared mail corpus when it is missing (a clone without ../shared skips them).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${PD_BUILD_DIR:-$top/build-test}
jobs=${PD_JOBS:-2}
cd "$top" || exit 1

if [ "${CI:-}" = true ]; then
	export PD_REQUIRE_INTEGRATION=1
fi

fail_build() {
	echo "test.sh: $1 failed" >&2
	[ -f "$build/config.log" ] && [ "$1" = configure ] && tail -n 40 "$build/config.log" >&2
	echo "0 passed, 1 failed"
	exit 1
}

if [ -f "$top/config.status" ] && [ "$build" != "$top" ]; then
	echo "test.sh: the source tree is configured in place ($top/config.status);" >&2
	echo "test.sh: run 'make distclean' there first, so that build-test/ can be configured." >&2
	echo "0 passed, 1 failed"
	exit 1
fi

phase() { printf '== %s (%ds)\n' "$1" "$SECONDS"; }

# ------------------------------------------------------------------ packages
if [ "${PD_SKIP_DEPS:-0}" != 1 ]; then
	phase packages
	if ! bash "$top/scripts/deps.sh" --check; then
		if [ "$(id -u)" = 0 ]; then
			bash "$top/scripts/deps.sh" || {
				echo "test.sh: installing the packages failed (see above); fix apt and run again" >&2
				echo "0 passed, 1 failed"
				exit 1
			}
		else
			# go on: what needs a missing server is skipped (a failure with
			# CI=true), a missing library stops configure with its name
			echo "test.sh: some packages are missing (listed above): install them with" >&2
			echo "test.sh:     sudo $top/scripts/deps.sh" >&2
			echo "test.sh: (or run this script as root, which installs them first);" >&2
			echo "test.sh: going on without them" >&2
		fi
	fi
fi

phase autoreconf
autoreconf -fi || fail_build autoreconf
mkdir -p "$build"
cd "$build" || exit 1
phase "configure (build dir $build)"
"$top/configure" --enable-sanitizers --enable-integration-tests --enable-test-hooks >configure.out 2>&1 || {
	cat configure.out >&2
	fail_build configure
}
phase make
make -j"$jobs" >make.out 2>&1 || {
	cat make.out >&2
	fail_build make
}

phase "make check"
make -j"$jobs" check
rc=$?
phase "make check done"
if [ $rc != 0 ]; then
	echo "== test-suite.log"
	cat test-suite.log 2>/dev/null
fi

# Count test cases from every test's .log (not test-suite.log).
passed=0
failed=0
skipped=0
while IFS= read -r -d '' log; do
	[ "$(basename "$log")" = test-suite.log ] && continue
	trs=${log%.log}.trs
	[ -f "$trs" ] || continue
	if grep -q ':test-result: SKIP' "$trs"; then
		skipped=$((skipped + 1))
		continue
	fi
	read -r p f < <(awk '
		# cmocka summaries
		/^\[  PASSED  \] [0-9]+ test/ { p += $4; cm = 1 }
		/^\[  FAILED  \] [0-9]+ test/ { f += $4; cm = 1 }
		# cmocka TAP output (CMOCKA_MESSAGE_OUTPUT=TAP)
		/^ok [0-9]+/ { tp++ }
		/^not ok [0-9]+/ { tf++ }
		# integration scripts: "N passed, N failed"
		/^[0-9]+ passed, [0-9]+ failed/ { ip = $1; if_ = $3; it = 1 }
		END {
			if (it) print ip + 0, if_ + 0
			else if (cm) print p + 0, f + 0
			else print tp + 0, tf + 0
		}' "$log")
	# A test program that crashed before printing its summary still failed.
	if grep -qE ':test-result: (FAIL|ERROR|XPASS)' "$trs" && [ "${f:-0}" = 0 ]; then
		f=1
	fi
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
done < <(find "$build/tests" "$build/fuzz" -name '*.log' -print0 2>/dev/null)

if [ $rc != 0 ] && [ $failed = 0 ]; then
	failed=1 # make check failed outside any counted test
fi

# make check-valgrind in build-valgrind/ (configured without sanitizers:
# valgrind cannot run ASan binaries): unit tests and fuzz replays under
# memcheck, then postdeskd under valgrind through the hostile mail suite.
# PD_SKIP_VALGRIND=1 leaves it out.
if [ "${PD_SKIP_VALGRIND:-0}" != 1 ]; then
	vbuild=${PD_VALGRIND_BUILD_DIR:-$top/build-valgrind}
	phase "valgrind (build dir $vbuild)"
	vrc=0
	mkdir -p "$vbuild" && cd "$vbuild" &&
		"$top/configure" --enable-integration-tests --enable-test-hooks >configure.out 2>&1 &&
		make -j"$jobs" >make.out 2>&1 || vrc=1
	if [ $vrc = 0 ]; then
		make check-valgrind >check-valgrind.out 2>&1 || vrc=1
		grep -E '^(ok|not ok|skip|#)' check-valgrind.out
		read -r vp vf < <(awk '/^[0-9]+ passed, [0-9]+ failed/ { p = $1; f = $3 } END { print p + 0, f + 0 }' \
			check-valgrind.out)
		[ $vrc != 0 ] && [ "$vf" = 0 ] && vf=1
	else
		echo "test.sh: configure or make in $vbuild failed" >&2
		tail -n 40 "$vbuild/configure.out" "$vbuild/make.out" >&2 2>/dev/null
		vp=0 vf=1
	fi
	echo "== valgrind: $vp passed, $vf failed"
	passed=$((passed + vp))
	failed=$((failed + vf))
	[ "$vf" = 0 ] || rc=1
	cd "$top" || exit 1
	phase "valgrind done"
fi

# The libFuzzer targets, PD_FUZZ_SECONDS (default 60) each, in their own
# clang build (build-fuzz/), PD_JOBS at a time; one case per target.
# PD_FUZZ_SECONDS=0 skips them.
if [ "${PD_FUZZ_SECONDS:-60}" != 0 ]; then
	phase "fuzz (${PD_FUZZ_SECONDS:-60}s per target)"
	cd "$top" || exit 1
	PD_FUZZ_JOBS=${PD_FUZZ_JOBS:-$jobs} "$top/scripts/fuzz.sh" 2>&1 | tee "$build/fuzz.out"
	read -r p f < <(awk '/^[0-9]+ passed, [0-9]+ failed/ { p = $1; f = $3 }
		END { print p + 0, (p + f == 0 ? 1 : f + 0) }' "$build/fuzz.out")
	passed=$((passed + p))
	failed=$((failed + f))
	phase "fuzz done"
fi
[ $failed = 0 ] && [ $rc = 0 ] || rc=1
if [ $skipped -gt 0 ]; then
	echo "test.sh: $skipped test program(s) skipped (see $build/test-suite.log)"
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
exit $rc
