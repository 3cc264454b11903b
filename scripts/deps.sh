#!/bin/bash
# scripts/deps.sh - install every Debian 12 package that postdesk's build,
# tests and demo need.  Run as root (CI does); as another user it only checks
# and tells you what is missing.
#
#   sudo ./scripts/deps.sh          install (apt-get update + install)
#   ./scripts/deps.sh --check       only report; exit 1 when something is missing
set -euo pipefail

PACKAGES=(
	# build
	autoconf automake libtool pkg-config gcc make
	# libraries (DESIGN.md: Dependencies)
	libetpan-dev libconfuse-dev libgumbo-dev libjson-c-dev libpq-dev libsystemd-dev
	libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev
	# charset guess for undeclared 8-bit headers and bodies (raw GBK/Shift_JIS)
	libuchardet-dev
	# Unicode case folding and word boundaries for the classification rules
	libunistring-dev
	# IMAP AUTHENTICATE PLAIN goes through libetpan's Cyrus SASL: its PLAIN plugin
	libsasl2-modules
	# unit tests
	libcmocka-dev
	# scripts/fuzz.sh: libFuzzer targets need clang; libclang-rt-14-dev holds
	# libclang_rt.fuzzer (and clang's ASan/UBSan runtimes)
	clang libclang-rt-14-dev
	# integration tests and demo: throwaway servers on loopback
	postgresql dovecot-imapd dovecot-core gnutls-bin
	python3 python3-aiosmtpd curl
	# tests/integration/agents.sh: a real mail client writes the customers' and agents' mail
	mutt
	# tests/integration/report_html.sh: screenshots of `postdesk report --html`
	chromium fonts-dejavu-core
	# bench/run.sh; time (GNU time) also measures peak RSS in tests/integration/hostile.sh
	bc time
	# make check-valgrind (tests/valgrind.sh) and PD_VALGRIND=1
	valgrind
	# systemd-analyze checks the unit file (no service manager is started)
	systemd
	# used by the scripts themselves
	ca-certificates passwd util-linux procps coreutils
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps.sh: all ${#PACKAGES[@]} packages are installed"
	exit 0
fi

echo "deps.sh: missing: ${missing[*]}"
if [ "${1:-}" = --check ]; then
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: run it as root to install them: sudo $0" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
# The postgresql and dovecot packages start system services when a service
# manager runs; the tests never use those (they start private servers).
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
echo "deps.sh: installed ${missing[*]}"
