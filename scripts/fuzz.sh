#!/bin/bash
# scripts/fuzz.sh - build the libFuzzer targets (fuzz/) with clang and run
# each for a while, seeded from the shared mail corpus and the project's
# own configuration.
#
#   ./scripts/fuzz.sh [TARGET...]        TARGET: mime thread commands config calendar html
#
# Environment:
#   PD_FUZZ_SECONDS    seconds per target (default 60)
#   PD_FUZZ_BUILD_DIR  build directory (default build-fuzz/; configured here with
#                      CC=clang ./configure --enable-fuzzing when it has no Makefile)
#   PD_FUZZ_WORK       scratch directory: seeds, the growing corpora, logs
#                      (default BUILD_DIR/fuzz-work; kept, so later runs go on from
#                      what earlier ones found)
#   PD_FUZZ_JOBS       targets run at the same time (default 1)
#   PD_CORPUS          the shared mail corpus (default ../shared/corpus beside the repo)
#
# Prints "fuzz TARGET: N runs, no crash" or where the crash input is, then
# "N passed, N failed" (one case per target); exits 1 when a target crashed,
# leaked, timed out or ran out of memory.  Each such input is copied to
# tests/data/fuzz/TARGET/ under libFuzzer's name (crash-SHA1, leak-SHA1,
# timeout-SHA1, oom-SHA1): commit it with the fix, and make check replays it
# in every build from then on.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${PD_FUZZ_SECONDS:-60}
build=${PD_FUZZ_BUILD_DIR:-$top/build-fuzz}
jobs=${PD_FUZZ_JOBS:-1}
corpus=${PD_CORPUS:-$top/../shared/corpus}
all_targets=(mime thread commands config calendar html)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

die() {
	echo "fuzz.sh: $*" >&2
	echo "0 passed, ${#targets[@]} failed"
	exit 1
}

for t in "${targets[@]}"; do
	case " ${all_targets[*]} " in
	*" $t "*) ;;
	*) die "unknown target $t (targets: ${all_targets[*]})" ;;
	esac
done

# Longest input per target: a mail, a header block, a body, a config file,
# calendar lines, an HTML page.
max_len() {
	case $1 in
	mime) echo 65536 ;;
	thread) echo 4096 ;;
	commands) echo 8192 ;;
	config) echo 24576 ;;
	calendar) echo 2048 ;;
	html) echo 16384 ;;
	esac
}

# ------------------------------------------------------------------ build
if [ ! -f "$build/Makefile" ]; then
	command -v clang >/dev/null || die "clang not found (scripts/deps.sh installs it)"
	if [ ! -x "$top/configure" ]; then
		(cd "$top" && autoreconf -fi) || die "autoreconf failed"
	fi
	mkdir -p "$build" || die "cannot create $build"
	(cd "$build" && CC=clang "$top/configure" --enable-fuzzing >configure.out 2>&1) || {
		cat "$build/configure.out" >&2
		die "configure failed"
	}
fi
grep -q -- '--enable-fuzzing' "$build/config.status" 2>/dev/null ||
	die "$build is not configured with --enable-fuzzing"
bins=()
for t in "${targets[@]}"; do
	bins+=("fuzz/fuzz_$t")
done
make -C "$build" -j"${PD_JOBS:-2}" "${bins[@]}" >"$build/fuzz-make.out" 2>&1 || {
	cat "$build/fuzz-make.out" >&2
	die "make failed"
}

# ------------------------------------------------------------------ seeds
work=${PD_FUZZ_WORK:-$build/fuzz-work}
seeds=$work/seeds
rm -rf "$seeds"
mkdir -p "$seeds" || die "cannot create $seeds"
for t in "${all_targets[@]}"; do
	mkdir -p "$seeds/$t" "$work/corpus/$t" "$work/artifacts/$t"
done

# the mails: the shared corpus and the project's test mail
mails=()
if [ -d "$corpus" ]; then
	while IFS= read -r -d '' f; do
		mails+=("$f")
	done < <(find "$corpus" -path '*/messages/*' -type f -print0 | sort -z)
else
	echo "fuzz.sh: no corpus at $corpus: seeding from tests/data only" >&2
fi
while IFS= read -r -d '' f; do
	mails+=("$f")
done < <(find "$top/tests/data/mime" "$top/tests/data/loop" "$top/tests/data/demo" \
	-name '*.eml' -type f -print0 2>/dev/null | sort -z)

i=0
for f in "${mails[@]}"; do
	i=$((i + 1))
	n=$(printf '%04d' "$i")
	cp "$f" "$seeds/mime/$n.eml"
	# header block (to the first empty line) behind the subject tag line
	{
		echo Support
		awk '/^\r?$/ { exit } { print }' "$f"
	} >"$seeds/thread/$n"
	# the body (after the first empty line), as an agent's reply would carry it
	awk 'b { print; next } /^\r?$/ { b = 1 }' "$f" | head -c 8192 >"$seeds/commands/$n"
	[ -s "$seeds/commands/$n" ] || rm -f "$seeds/commands/$n"
	if grep -qiE '<(html|body|div|p|table)[ >]' "$f"; then
		cp "$f" "$seeds/html/$n.html"
	fi
done
# commands in front of some bodies
j=0
for f in "$seeds"/commands/*; do
	[ -f "$f" ] || continue
	j=$((j + 1))
	[ $((j % 8)) = 0 ] || continue
	{
		printf '#priority high\n#assign bob@example.com\n#line 2\n#type refund\n\n'
		cat "$f"
	} >"$f.cmd"
done

# configurations: the example file as shipped and with its commented-out
# examples switched on
cp "$top/conf/postdesk.conf" "$seeds/config/postdesk.conf"
sed -E 's/^#([a-z]|\t[a-z_]+ *=|\})/\1/' "$top/conf/postdesk.conf" >"$seeds/config/postdesk-examples.conf"

# calendar lines from the example file: hours, holidays and durations,
# under a few zones with unusual rules
strings_of() { grep -oE '"[^"]*"' "$top/conf/postdesk.conf" | tr -d '"' | grep -E "$1" | sort -u; }
hours=$(strings_of '^[a-z]{3}[a-z,-]* [0-9]')
holidays=$(strings_of '^[0-9]{4}-[0-9]{2}-[0-9]{2}$')
durations=$(strings_of '^[0-9]+ *[smhdw]?$')
k=0
for zone in Europe/Moscow Europe/Berlin America/New_York Australia/Lord_Howe Asia/Kathmandu UTC ""; do
	k=$((k + 1))
	{
		echo "$zone"
		echo "$hours" | sed 's/^/hours /'
		echo "$holidays" | sed 's/^/holiday /'
		echo "at $((1711845000 + k * 86400 * 45))"
		echo "at $((1729990800 - k * 3600 * 7))"
		echo "sla 30m 4h 80"
		echo "$durations" | head -n 3
	} >"$seeds/calendar/$k"
done

# the regression cases are seeds too
for t in "${all_targets[@]}"; do
	[ -d "$top/tests/data/fuzz/$t" ] && cp "$top/tests/data/fuzz/$t"/* "$seeds/$t/" 2>/dev/null
done

# ------------------------------------------------------------------ run
run_one() {
	local t=$1 log=$work/fuzz-$1.log
	(
		cd "$work/artifacts/$t" || exit 1
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1} \
			UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
			"$build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len="$(max_len "$t")" \
			-timeout=10 -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 \
			-artifact_prefix="$work/artifacts/$t/" \
			"$work/corpus/$t" "$seeds/$t"
	) >"$log" 2>&1
	echo $? >"$work/fuzz-$t.rc"
}

for t in "${targets[@]}"; do
	rm -f "$work/fuzz-$t.rc" "$work/artifacts/$t"/*
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	echo "fuzz.sh: $t for ${secs}s (log $work/fuzz-$t.log)" >&2
	run_one "$t" &
done
wait

passed=0
failed=0
for t in "${targets[@]}"; do
	log=$work/fuzz-$t.log
	rc=$(cat "$work/fuzz-$t.rc" 2>/dev/null || echo 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	found=()
	for a in "$work/artifacts/$t"/*; do
		[ -f "$a" ] || continue
		case $(basename "$a") in
		crash-* | leak-* | timeout-* | oom-*)
			mkdir -p "$top/tests/data/fuzz/$t"
			cp "$a" "$top/tests/data/fuzz/$t/"
			found+=("tests/data/fuzz/$t/$(basename "$a")")
			;;
		esac
	done
	if [ "$rc" = 0 ] && [ ${#found[@]} = 0 ]; then
		echo "fuzz $t: ${runs:-0} runs, no crash"
		passed=$((passed + 1))
	else
		echo "fuzz $t: FAILED after ${runs:-?} runs (exit $rc): ${found[*]:-no artefact} (log $log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|fuzz_[a-z]+: )' "$log" | head -n 5 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
