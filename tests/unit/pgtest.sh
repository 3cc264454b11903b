#!/bin/bash
# tests/unit/pgtest.sh - a private PostgreSQL for the unit tests that need a
# real database (tests/unit/pgtest.c runs it), started the way the
# integration tests start theirs (tests/integration/lib.sh): on a free
# 127.0.0.1 port, all its files in a temp folder, as the postgres user when
# run as root.
#
#   pgtest.sh start      prints two lines: the temp folder, the conninfo of
#                        an empty database "postdesk" owned by role postdesk;
#                        exit 77 (and why, on stderr) when PostgreSQL's
#                        programs are not installed
#   pgtest.sh stop DIR   stops the server of DIR and removes DIR
set -uo pipefail

. "$(dirname "$0")/../integration/lib.sh"

case "${1:-}" in
start)
	bindir=$(pd_pg_bindir)
	missing=
	[ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] &&
		[ -x "$bindir/postgres" ] || missing="$missing initdb/pg_ctl/postgres"
	command -v psql >/dev/null || missing="$missing psql"
	command -v createdb >/dev/null || missing="$missing createdb"
	if pd_is_root; then
		getent passwd postgres >/dev/null || missing="$missing postgres-user"
	fi
	if [ -n "$missing" ]; then
		echo "PostgreSQL not available (missing:$missing; run scripts/deps.sh)" >&2
		exit 77
	fi
	T=$(mktemp -d /tmp/postdesk-ut.XXXXXX) || exit 1
	chmod 755 "$T"
	PD_SOCK_DIR=$T/sock
	mkdir -p "$PD_SOCK_DIR"
	chmod 755 "$PD_SOCK_DIR"
	# no pd_init: the server must outlive this script (stop removes it)
	(pd_start_postgres >&2 && echo "$PD_CONNINFO" >"$T/conninfo") || {
		cat "$T/postgres.log" >&2 2>/dev/null
		echo "pgtest.sh: PostgreSQL did not start in $T" >&2
		exit 1
	}
	echo "$T"
	cat "$T/conninfo"
	;;
stop)
	dir=${2:-}
	case $dir in
	/tmp/postdesk-ut.*) ;;
	*)
		echo "usage: $0 stop /tmp/postdesk-ut.XXXXXX" >&2
		exit 64
		;;
	esac
	bindir=$(pd_pg_bindir)
	if [ -f "$dir/pg/postmaster.pid" ]; then
		pd_as_postgres "$bindir/pg_ctl" -D "$dir/pg" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			pd_as_postgres "$bindir/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start | stop DIR" >&2
	exit 64
	;;
esac
