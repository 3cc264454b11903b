# tests/integration/lib.sh - throwaway servers and small test helpers for
# postdesk's integration tests and the demo.  Source it from bash:
#
#   . "$top_srcdir/tests/integration/lib.sh"
#   pd_init                      # temp folder $T, trap EXIT -> pd_stop_all
#   pd_require_servers           # exit 77 (SKIP) or 1 (CI) when a server is missing
#   pd_start_postgres            # PGHOST/PGPORT/PGUSER/PGDATABASE, $PD_CONNINFO
#   pd_start_dovecot             # $PD_IMAP_PORT, $PD_IMAPS_PORT, $PD_DOVECOT_CONF
#   pd_start_smtp_sink           # $PD_SMTP_PORT, mails land in $T/sink/N.eml
#   pd_write_config FILE [key=value ...]
#   pd_deliver USER FILE         # one mail into USER's INBOX (doveadm save)
#   pd_ok NAME / pd_fail NAME / pd_check NAME CMD... / pd_finish
#   pd_have_test_hooks           # built with --enable-test-hooks (PD_TEST_*)?
#
# Everything listens on 127.0.0.1 only, on free ports picked per run, with
# all state in $T.  As root, PostgreSQL runs as the `postgres` system user and
# mail is stored by an unprivileged user (postdesk-test, created if missing);
# otherwise everything runs as the current user.
#
# Environment: top_srcdir, top_builddir (automake exports them; defaults to
# the source tree this file is in), PD_REQUIRE_INTEGRATION=1 (missing
# servers fail instead of skip), PD_KEEP_TMP=1 (keep $T after the run),
# PD_PG_BINDIR (PostgreSQL server binaries), PD_TLS_DIR (CA + server cert),
# PD_VALGRIND=1 (postdeskd under valgrind; see pd_valgrind_prefix).

PD_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$PD_LIB_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

PD_PYTHON=/usr/bin/python3
PD_MAIL_USER_ROOT=postdesk-test
PD_TESTS_RUN=0
PD_TESTS_FAILED=0
PD_TESTS_SKIPPED=0
PD_USED_PORTS=
PD_BG_PIDS=
PD_PG_STARTED=
PD_DOVECOT_STARTED=
PD_SMTP_PID=
PD_OWN_T=

pd_is_root() { [ "$(id -u)" = 0 ]; }

pd_log() { printf '# %s\n' "$*"; }

# pd_die MESSAGE: the harness itself failed; counts as one failed test.
pd_die() {
	printf 'Bail out! %s\n' "$*"
	echo "$((PD_TESTS_RUN - PD_TESTS_FAILED)) passed, $((PD_TESTS_FAILED + 1)) failed"
	exit 1
}

# ------------------------------------------------------------------ results

pd_ok() {
	PD_TESTS_RUN=$((PD_TESTS_RUN + 1))
	printf 'ok %d - %s\n' "$PD_TESTS_RUN" "$1"
}

pd_fail() {
	PD_TESTS_RUN=$((PD_TESTS_RUN + 1))
	PD_TESTS_FAILED=$((PD_TESTS_FAILED + 1))
	printf 'not ok %d - %s\n' "$PD_TESTS_RUN" "$1"
	shift
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

# pd_check NAME CMD...: ok when CMD succeeds.
pd_check() {
	local name=$1
	shift
	if "$@"; then
		pd_ok "$name"
	else
		pd_fail "$name" "command failed: $*"
	fi
}

# pd_check_eq NAME EXPECTED ACTUAL
pd_check_eq() {
	if [ "$2" = "$3" ]; then
		pd_ok "$1"
	else
		pd_fail "$1" "expected: $2" "got:      $3"
	fi
}

# pd_finish: summary line, exit status for automake (0 pass, 1 fail).
pd_finish() {
	local passed=$((PD_TESTS_RUN - PD_TESTS_FAILED))
	echo "1..$PD_TESTS_RUN"
	echo "$passed passed, $PD_TESTS_FAILED failed"
	[ "$PD_TESTS_FAILED" = 0 ] && exit 0
	exit 1
}

# pd_skip_all REASON: exit 77 (automake SKIP), or fail when CI demands the
# integration tests (PD_REQUIRE_INTEGRATION=1).
pd_skip_all() {
	if [ "${PD_REQUIRE_INTEGRATION:-0}" = 1 ]; then
		echo "not ok 1 - integration prerequisites: $*"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 77
}

# ------------------------------------------------------------------ setup

# pd_init [DIR]: use DIR (kept afterwards) or a new temp folder as $T.
pd_init() {
	if [ -n "${1:-}" ]; then
		T=$1
		mkdir -p "$T"
	else
		T=$(mktemp -d "${TMPDIR:-/tmp}/postdesk-it.XXXXXX") || pd_die "mktemp failed"
		PD_OWN_T=1
	fi
	T=$(cd "$T" && pwd)
	# The postgres and mail users must be able to reach their folders in $T.
	chmod 755 "$T"
	# Unix socket paths are limited to ~107 bytes: keep sockets short.
	if [ ${#T} -gt 40 ]; then
		PD_SOCK_DIR=$(mktemp -d /tmp/postdesk-sock.XXXXXX)
		chmod 755 "$PD_SOCK_DIR"
		echo "$PD_SOCK_DIR" > "$T/sockdir"
	else
		PD_SOCK_DIR=$T/sock
		mkdir -p "$PD_SOCK_DIR"
		chmod 755 "$PD_SOCK_DIR"
	fi
	export T PD_SOCK_DIR
	trap pd_stop_all EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

pd_pg_bindir() {
	if [ -n "${PD_PG_BINDIR:-}" ]; then
		echo "$PD_PG_BINDIR"
		return
	fi
	local d
	# Highest installed major version first.
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	done
	d=$(command -v initdb 2>/dev/null) && dirname "$d"
}

# pd_require_servers: every server program the harness needs, else skip.
pd_require_servers() {
	local missing= bindir
	bindir=$(pd_pg_bindir)
	[ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] &&
		[ -x "$bindir/postgres" ] || missing="$missing initdb/pg_ctl/postgres"
	command -v psql >/dev/null || missing="$missing psql"
	command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || missing="$missing dovecot"
	command -v doveadm >/dev/null || missing="$missing doveadm"
	command -v certtool >/dev/null || missing="$missing certtool"
	"$PD_PYTHON" -c 'import aiosmtpd' 2>/dev/null || missing="$missing python3-aiosmtpd"
	if pd_is_root; then
		getent passwd postgres >/dev/null || missing="$missing postgres-user"
	fi
	if [ -n "$missing" ]; then
		pd_skip_all "missing:$missing (run scripts/deps.sh)"
	fi
}

# pd_have_test_hooks: the binaries under test read the PD_TEST_* variables
# (configure --enable-test-hooks, as scripts/test.sh builds them); a
# production build does not, and the cases that need them are skipped.
pd_have_test_hooks() {
	grep -q '^#define PD_TEST_HOOKS 1' "$top_builddir/autoconfig.h" 2>/dev/null
}

# pd_require_binaries: the programs under test.
pd_require_binaries() {
	local b
	for b in postdeskd postdesk; do
		if [ ! -x "$top_builddir/$b" ]; then
			echo "not ok 1 - $top_builddir/$b not built"
			echo "0 passed, 1 failed"
			exit 1
		fi
	done
	if [ "${PD_VALGRIND:-0}" = 1 ]; then
		if ! command -v valgrind >/dev/null; then
			pd_skip_all "PD_VALGRIND=1 but valgrind is not installed (run scripts/deps.sh)"
		fi
		# valgrind cannot run a program built with AddressSanitizer
		if grep -q __asan_init "$top_builddir/postdeskd"; then
			echo "not ok 1 - PD_VALGRIND=1 needs a build without --enable-sanitizers"
			echo "0 passed, 1 failed"
			exit 1
		fi
	fi
}

# pd_free_port VAR: set VAR to a port on 127.0.0.1 that nobody listens on,
# from a random high range (so parallel runs and other servers do not clash).
pd_free_port() {
	local p
	p=$("$PD_PYTHON" - "$PD_USED_PORTS" <<-'EOF'
		import random, socket, sys
		used = set(sys.argv[1].split())
		for _ in range(500):
		    p = random.randint(20000, 32000)
		    if str(p) in used:
		        continue
		    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		    try:
		        s.bind(("127.0.0.1", p))
		    except OSError:
		        continue
		    finally:
		        s.close()
		    print(p)
		    break
	EOF
	)
	[ -n "$p" ] || pd_die "no free port found"
	PD_USED_PORTS="$PD_USED_PORTS $p"
	printf -v "$1" '%s' "$p"
}

# pd_wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
pd_wait_port() {
	local port=$1 secs=${2:-30} i=0
	while [ "$i" -lt $((secs * 10)) ]; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# ------------------------------------------------------------------ PostgreSQL

pd_as_postgres() {
	if pd_is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pd_start_postgres() {
	local bindir port
	bindir=$(pd_pg_bindir)
	[ -n "$bindir" ] || pd_die "PostgreSQL server binaries not found"
	PD_PG_BINDIR=$bindir
	pd_free_port port
	PD_PG_DATA=$T/pg
	PD_PG_SOCK=$PD_SOCK_DIR/pg
	mkdir -p "$PD_PG_DATA" "$PD_PG_SOCK"
	chmod 700 "$PD_PG_DATA"
	touch "$T/postgres.log"
	if pd_is_root; then
		chown postgres: "$PD_PG_DATA" "$PD_PG_SOCK" "$T/postgres.log"
	fi
	if [ ! -f "$PD_PG_DATA/PG_VERSION" ]; then
		if ! pd_as_postgres "$bindir/initdb" -D "$PD_PG_DATA" -A trust -U postgres \
			-E UTF8 --no-locale --no-sync >"$T/initdb.log" 2>&1; then
			cat "$T/initdb.log" >&2
			pd_die "initdb failed"
		fi
	fi
	if ! pd_as_postgres "$bindir/pg_ctl" -D "$PD_PG_DATA" -l "$T/postgres.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $PD_PG_SOCK -c fsync=off \
		    -c synchronous_commit=off -c full_page_writes=off -c max_connections=50 \
		    ${PD_PG_OPTIONS:-}" \
		start >"$T/pg_ctl.log" 2>&1; then
		cat "$T/pg_ctl.log" "$T/postgres.log" >&2
		pd_die "PostgreSQL did not start"
	fi
	PD_PG_STARTED=1
	PD_PG_PID=$(head -n 1 "$PD_PG_DATA/postmaster.pid" 2>/dev/null)
	PGHOST=127.0.0.1
	PGPORT=$port
	export PGHOST PGPORT
	psql -X -q -v ON_ERROR_STOP=1 -U postgres -d postgres >/dev/null <<-'EOF' ||
		DO $$ BEGIN
		  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postdesk') THEN
		    CREATE ROLE postdesk LOGIN;
		  END IF;
		END $$;
	EOF
		pd_die "creating role postdesk failed"
	pd_createdb postdesk || pd_die "createdb postdesk failed"
	PGUSER=postdesk
	PGDATABASE=postdesk
	PD_CONNINFO="host=127.0.0.1 port=$port dbname=postdesk user=postdesk"
	export PGUSER PGDATABASE PD_CONNINFO PD_PG_BINDIR
}

# pd_createdb NAME: an empty database owned by postdesk (no-op if it exists).
pd_createdb() {
	if [ "$(psql -X -At -U postgres -d postgres \
		-c "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]; then
		return 0
	fi
	createdb -U postgres -O postdesk "$1"
}

# pd_conninfo DBNAME
pd_conninfo() {
	echo "host=127.0.0.1 port=$PGPORT dbname=$1 user=postdesk"
}

# pd_psql DBNAME SQL: one value/rows, unaligned.
pd_psql() {
	psql -X -At -U postdesk -d "$1" -c "$2"
}

# pd_reply_address DBNAME NUMBER [SUPPORT]: the reply address of ticket NUMBER
# (the Reply-To of its notices), from the database's secret: an agent's answer
# sent there counts as the agent's.  SUPPORT defaults to support@example.com.
pd_reply_address() {
	"$PD_PYTHON" - "$(pd_psql "$1" "SELECT encode(secret, 'hex') FROM postdesk_secret WHERE name = 'reply-token'")" \
		"$2" "${3:-support@example.com}" <<-'PY'
		import hashlib, hmac, sys
		key, n, support = bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3]
		local, domain = support.rsplit("@", 1)
		code = hmac.new(key, ("ticket:" + n).encode(), hashlib.sha256).hexdigest()[:16]
		print("%s+t%s-%s@%s" % (local, n, code, domain))
	PY
}

pd_stop_postgres() {
	[ -n "$PD_PG_STARTED" ] || return 0
	pd_as_postgres "$PD_PG_BINDIR/pg_ctl" -D "$PD_PG_DATA" -m fast -w -t 30 stop \
		>/dev/null 2>&1 ||
		pd_as_postgres "$PD_PG_BINDIR/pg_ctl" -D "$PD_PG_DATA" -m immediate stop \
			>/dev/null 2>&1 ||
		{ [ -n "${PD_PG_PID:-}" ] && kill -QUIT "$PD_PG_PID" 2>/dev/null; }
	PD_PG_STARTED=
}

# ------------------------------------------------------------------ TLS

# pd_tls_files: sets PD_CA_FILE, PD_SERVER_CERT, PD_SERVER_KEY from
# $PD_TLS_DIR or tests/data/tls, else generates a throwaway CA in $T/tls.
pd_tls_files() {
	local dir=${PD_TLS_DIR:-$top_srcdir/tests/data/tls} c k
	PD_CA_FILE= PD_SERVER_CERT= PD_SERVER_KEY=
	if [ -f "$dir/ca.pem" ]; then
		for c in server.pem server-cert.pem server.crt cert.pem; do
			[ -f "$dir/$c" ] && { PD_SERVER_CERT=$dir/$c; break; }
		done
		for k in server-key.pem server.key key.pem server.key.pem; do
			[ -f "$dir/$k" ] && { PD_SERVER_KEY=$dir/$k; break; }
		done
		if [ -n "$PD_SERVER_CERT" ] && [ -n "$PD_SERVER_KEY" ]; then
			PD_CA_FILE=$dir/ca.pem
			export PD_CA_FILE PD_SERVER_CERT PD_SERVER_KEY
			return 0
		fi
	fi
	pd_generate_tls "$T/tls"
}

# pd_generate_tls DIR: CA + server certificate for 127.0.0.1 and localhost.
pd_generate_tls() {
	local d=$1
	mkdir -p "$d"
	if [ ! -f "$d/server.pem" ]; then
		cat >"$d/ca.tmpl" <<-'EOF'
			cn = "postdesk test CA"
			organization = "postdesk tests"
			ca
			cert_signing_key
			crl_signing_key
			expiration_days = 3650
		EOF
		cat >"$d/server.tmpl" <<-'EOF'
			cn = "localhost"
			organization = "postdesk tests"
			dns_name = "localhost"
			ip_address = "127.0.0.1"
			tls_www_server
			signing_key
			encryption_key
			expiration_days = 3650
		EOF
		{
			certtool --generate-privkey --key-type=ecdsa --outfile "$d/ca-key.pem" &&
			certtool --generate-self-signed --load-privkey "$d/ca-key.pem" \
				--template "$d/ca.tmpl" --outfile "$d/ca.pem" &&
			certtool --generate-privkey --key-type=ecdsa --outfile "$d/server-key.pem" &&
			certtool --generate-certificate --load-privkey "$d/server-key.pem" \
				--load-ca-certificate "$d/ca.pem" --load-ca-privkey "$d/ca-key.pem" \
				--template "$d/server.tmpl" --outfile "$d/server.pem"
		} >"$d/certtool.log" 2>&1 || { cat "$d/certtool.log" >&2; pd_die "certtool failed"; }
	fi
	chmod 644 "$d/ca.pem" "$d/server.pem"
	PD_CA_FILE=$d/ca.pem
	PD_SERVER_CERT=$d/server.pem
	PD_SERVER_KEY=$d/server-key.pem
	export PD_CA_FILE PD_SERVER_CERT PD_SERVER_KEY
}

# ------------------------------------------------------------------ Dovecot

# The unprivileged owner of the maildirs.
pd_mail_user() {
	if pd_is_root; then
		if ! getent passwd "$PD_MAIL_USER_ROOT" >/dev/null; then
			useradd --system --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$PD_MAIL_USER_ROOT" ||
				pd_die "useradd $PD_MAIL_USER_ROOT failed"
		fi
		echo "$PD_MAIL_USER_ROOT"
	else
		id -un
	fi
}

# pd_dovecot_add_user NAME [PASSWORD]: add (or keep) an IMAP account.
pd_dovecot_add_user() {
	local name=$1 pass=${2:-secret}
	grep -q "^$name:" "$PD_DOVECOT_USERS" 2>/dev/null && return 0
	printf '%s:{PLAIN}%s:%s:%s::%s/%s::\n' "$name" "$pass" "$PD_MAIL_UID" "$PD_MAIL_GID" \
		"$PD_MAIL_DIR" "$name" >>"$PD_DOVECOT_USERS"
}

# pd_start_dovecot [USER...]: users "support" and "sales" (password "secret")
# plus any named here.  PD_DOVECOT_EXTRA_CONF names a file of extra settings.
pd_start_dovecot() {
	local muser tmpl=$PD_LIB_DIR/dovecot.conf.in dh_line= u
	muser=$(pd_mail_user)
	PD_MAIL_UID=$(id -u "$muser")
	PD_MAIL_GID=$(id -g "$muser")
	PD_MAIL_DIR=$T/mail
	PD_DOVECOT_DIR=$T/dovecot
	PD_DOVECOT_CONF=$PD_DOVECOT_DIR/dovecot.conf
	PD_DOVECOT_USERS=$PD_DOVECOT_DIR/users
	PD_DOVECOT_BASE=$PD_SOCK_DIR/dovecot
	mkdir -p "$PD_MAIL_DIR" "$PD_DOVECOT_DIR/state" "$PD_DOVECOT_BASE"
	chown "$PD_MAIL_UID:$PD_MAIL_GID" "$PD_MAIL_DIR"
	pd_tls_files
	pd_free_port PD_IMAP_PORT
	pd_free_port PD_IMAPS_PORT
	[ -f /usr/share/dovecot/dh.pem ] && dh_line="ssl_dh = </usr/share/dovecot/dh.pem"

	: >"$PD_DOVECOT_USERS"
	for u in support sales "$@"; do
		pd_dovecot_add_user "$u"
	done
	chmod 644 "$PD_DOVECOT_USERS"

	if pd_is_root; then
		: >"$PD_DOVECOT_DIR/local.conf"
	else
		# Running Dovecot without root: every service as ourselves, no chroot.
		local me grp
		me=$(id -un)
		grp=$(id -gn)
		cat >"$PD_DOVECOT_DIR/local.conf" <<-EOF
			default_login_user = $me
			default_internal_user = $me
			default_internal_group = $grp
			service imap-login {
			  chroot =
			  user = $me
			}
			service anvil {
			  chroot =
			}
			service auth {
			  user = $me
			}
			service auth-worker {
			  user = $me
			}
			service stats {
			  user = $me
			}
		EOF
	fi

	# PD_DOVECOT_EXTRA_CONF=FILE: settings a suite adds (oauth2.sh: the oauth2
	# passdb); read last, so they may also replace earlier ones
	if [ -n "${PD_DOVECOT_EXTRA_CONF:-}" ]; then
		cat "$PD_DOVECOT_EXTRA_CONF" >>"$PD_DOVECOT_DIR/local.conf"
	fi

	sed -e "s|@BASE_DIR@|$PD_DOVECOT_BASE|g" \
	    -e "s|@STATE_DIR@|$PD_DOVECOT_DIR/state|g" \
	    -e "s|@INSTANCE@|postdesk-it-$$|g" \
	    -e "s|@LOG_DIR@|$T|g" \
	    -e "s|@SSL_CERT@|$PD_SERVER_CERT|g" \
	    -e "s|@SSL_KEY@|$PD_SERVER_KEY|g" \
	    -e "s|@SSL_DH_LINE@|$dh_line|g" \
	    -e "s|@USERS_FILE@|$PD_DOVECOT_USERS|g" \
	    -e "s|@IMAP_PORT@|$PD_IMAP_PORT|g" \
	    -e "s|@IMAPS_PORT@|$PD_IMAPS_PORT|g" \
	    -e "s|@LOCAL_CONF@|$PD_DOVECOT_DIR/local.conf|g" \
	    "$tmpl" >"$PD_DOVECOT_CONF"

	if ! dovecot -c "$PD_DOVECOT_CONF" >"$T/dovecot-start.log" 2>&1; then
		cat "$T/dovecot-start.log" "$T/dovecot.log" >&2 2>/dev/null
		pd_die "Dovecot did not start"
	fi
	PD_DOVECOT_STARTED=1
	if ! pd_wait_port "$PD_IMAP_PORT" 30 || ! pd_wait_port "$PD_IMAPS_PORT" 30; then
		cat "$T/dovecot.log" >&2 2>/dev/null
		pd_die "Dovecot is not listening on $PD_IMAP_PORT/$PD_IMAPS_PORT"
	fi
	# listening, so its pid file is written (a script under set -e read it too early)
	PD_DOVECOT_PID=$(cat "$PD_DOVECOT_BASE/master.pid" 2>/dev/null || true)
	export PD_IMAP_PORT PD_IMAPS_PORT PD_DOVECOT_CONF PD_MAIL_DIR
}

pd_doveadm() {
	doveadm -c "$PD_DOVECOT_CONF" "$@"
}

# pd_deliver USER FILE [FOLDER]: store one mail as new (IDLE clients hear of it).
pd_deliver() {
	pd_doveadm save -u "$1" -m "${3:-INBOX}" <"$2"
}

# pd_mailbox_count USER FOLDER [FIELD]: messages (or unseen, ...) in FOLDER.
pd_mailbox_count() {
	pd_doveadm -f tab mailbox status -u "$1" "${3:-messages}" "$2" 2>/dev/null | awk -F'\t' 'NR == 2 { print $NF }'
}

pd_stop_dovecot() {
	[ -n "$PD_DOVECOT_STARTED" ] || return 0
	local pid=${PD_DOVECOT_PID:-} kids= i=0
	[ -n "$pid" ] || pid=$(cat "$PD_DOVECOT_BASE/master.pid" 2>/dev/null)
	if [ -n "$pid" ]; then
		kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
		kill -TERM "$pid" 2>/dev/null
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
		# Its own children normally go with it; make sure.
		for pid in $kids; do
			kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
		done
	else
		doveadm -c "$PD_DOVECOT_CONF" stop >/dev/null 2>&1
	fi
	PD_DOVECOT_STARTED=
}

# ------------------------------------------------------------------ SMTP sink

# pd_start_smtp_sink [smtp_sink.py options, e.g. --discard]
pd_start_smtp_sink() {
	pd_free_port PD_SMTP_PORT
	PD_SINK_DIR=$T/sink
	mkdir -p "$PD_SINK_DIR"
	"$PD_PYTHON" "$PD_LIB_DIR/smtp_sink.py" --port "$PD_SMTP_PORT" --dir "$PD_SINK_DIR" \
		--pidfile "$T/smtp-sink.pid" "$@" >"$T/smtp-sink.log" 2>&1 &
	PD_SMTP_PID=$!
	if ! pd_wait_port "$PD_SMTP_PORT" 30; then
		cat "$T/smtp-sink.log" >&2
		pd_die "SMTP sink did not start"
	fi
	export PD_SMTP_PORT PD_SINK_DIR
}

pd_stop_smtp_sink() {
	[ -n "$PD_SMTP_PID" ] || return 0
	kill "$PD_SMTP_PID" 2>/dev/null
	wait "$PD_SMTP_PID" 2>/dev/null
	PD_SMTP_PID=
}

# pd_start_tls_decoy NAME CERT KEY: a TLS "IMAP server" on 127.0.0.1 with a
# bad certificate; sets PD_DECOY_PORT, logs connections to $T/decoy-NAME.log.
pd_start_tls_decoy() {
	pd_free_port PD_DECOY_PORT
	PD_DECOY_LOG=$T/decoy-$1.log
	: >"$PD_DECOY_LOG"
	"$PD_PYTHON" "$PD_LIB_DIR/tls_decoy.py" --port "$PD_DECOY_PORT" --cert "$2" --key "$3" \
		--log "$PD_DECOY_LOG" >"$T/decoy-$1.out" 2>&1 &
	PD_DECOY_PID=$!
	PD_BG_PIDS="$PD_BG_PIDS $PD_DECOY_PID"
	pd_wait_port "$PD_DECOY_PORT" 30 || pd_die "TLS decoy did not start: $(cat "$T/decoy-$1.out")"
	sleep 0.3 # forget the probe connection of pd_wait_port
	: >"$PD_DECOY_LOG"
}

pd_stop_tls_decoy() {
	kill "$PD_DECOY_PID" 2>/dev/null
	wait "$PD_DECOY_PID" 2>/dev/null
}

# ------------------------------------------------------------------ config

# pd_write_config FILE [key=value ...]
#   db=NAME (database, default postdesk)   user=IMAP user (default support)
#   url=... (default imap://127.0.0.1:$PD_IMAP_PORT/INBOX)  tls=none|implicit|starttls
#   ca_file=PATH  processed=FOLDER ("" = flag \Seen)  password=...  smtp=no
#   mailbox_extra='line'  extra='top-level line' (both may repeat)
#   templates=DIR (templates_dir; default the source tree's conf/templates,
#   "" = no templates_dir line: the templates compiled into the binary)
# Writes DESIGN.md's minimal config with the harness's real ports; mode 600.
pd_write_config() {
	local file=$1
	shift
	local db=postdesk user=support password=secret tls=none ca_file= processed=Processed
	local url="imap://127.0.0.1:${PD_IMAP_PORT:-10143}/INBOX"
	local extra= mbextra= kv smtp=yes smtp_block sla_block= smtpextra= agextra=
	local templates=$top_srcdir/conf/templates tline
	for kv in "$@"; do
		case $kv in
		db=*) db=${kv#db=} ;;
		user=*) user=${kv#user=} ;;
		password=*) password=${kv#password=} ;;
		url=*) url=${kv#url=} ;;
		tls=*) tls=${kv#tls=} ;;
		ca_file=*) ca_file=${kv#ca_file=} ;;
		processed=*) processed=${kv#processed=} ;;
		smtp=*) smtp=${kv#smtp=} ;;
		templates=*) templates=${kv#templates=} ;;
		extra=*) extra="$extra${kv#extra=}"$'\n' ;;
		sla=*) sla_block="$sla_block${kv#sla=}"$'\n' ;;
		mailbox_extra=*) mbextra="$mbextra  ${kv#mailbox_extra=}"$'\n' ;;
		smtp_extra=*) smtpextra="$smtpextra  ${kv#smtp_extra=}"$'\n' ;;
		agents_extra=*) agextra="$agextra  ${kv#agents_extra=}" ;;
		*) pd_die "pd_write_config: unknown option $kv" ;;
		esac
	done
	tline="templates_dir   = \"$templates\""
	[ -n "$templates" ] || tline="# no templates_dir: the templates compiled into postdeskd"
	[ -n "$ca_file" ] && mbextra="$mbextra  ca_file          = \"$ca_file\""$'\n'
	[ -n "$processed" ] && mbextra="$mbextra  processed_folder = \"$processed\""$'\n'
	# smtp=no: no smtp section, so nothing is composed or sent (ingest-only tests)
	smtp_block="smtp {
  url  = \"smtp://127.0.0.1:${PD_SMTP_PORT:-10025}\"
  tls  = \"none\"
  from = \"Example Support <support@example.com>\"
${smtpextra}}"
	[ "$smtp" = no ] && smtp_block="# no smtp section: nothing is sent"
	# sla=TEXT (repeatable): these sla, calendar and line sections instead of DESIGN.md's
	[ -n "$sla_block" ] || sla_block='sla "critical" { first_response = "30m"  resolution = "4h"  calendar = "24x7"   warn_at = 80 }
sla "normal"   { first_response = "8h"   resolution = "3d"  calendar = "office" warn_at = 80 }
calendar "office" { timezone = "Europe/Moscow"  hours = {"mon-fri 09:00-18:00"}  holidays = {"2027-01-01"} }
line 1 { notify = {"l1@example.com"} }
line 2 { notify = {"l2@example.com"} }'
	(
		umask 077
		cat >"$file" <<-EOF
			# written by tests/integration/lib.sh (pd_write_config)
			support_address = "support@example.com"
			subject_tag     = "Support"
			${tline}
			${extra}database { conninfo = "host=127.0.0.1 port=${PGPORT:-5432} dbname=$db user=postdesk" }
			mailbox "support" {
			  url              = "$url"
			  tls              = "$tls"
			  user             = "$user"
			  password         = "$password"
			${mbextra}}
			${smtp_block}
			agents { addresses = {"alice@example.com"}  notify = {"team@example.com"}${agextra} }
			${sla_block}
		EOF
	)
	chmod 600 "$file"
}

# ------------------------------------------------------------------ programs under test

# PD_VALGRIND=1: every postdeskd the helpers below start runs under valgrind's
# memcheck (build without sanitizers: configure without --enable-sanitizers).
# A memory error or a definite/indirect leak makes the daemon exit 99, so the
# suite's own "exits 0" checks fail; the reports are in $T/valgrind.PID.log
# and pd_valgrind_report prints them.  Valgrind is slow: timeouts are longer.
PD_VALGRIND_EXIT=99
pd_valgrind_prefix() {
	[ "${PD_VALGRIND:-0}" = 1 ] || return 0
	printf '%s\n' valgrind -q --error-exitcode=$PD_VALGRIND_EXIT --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--suppressions="$top_srcdir/tests/valgrind.supp" \
		--log-file="$T/valgrind.%p.log"
}

# pd_daemon_timeout SECONDS: the bound for one run, multiplied under valgrind.
pd_daemon_timeout() {
	if [ "${PD_VALGRIND:-0}" = 1 ]; then echo $(($1 * 10)); else echo "$1"; fi
}

# pd_valgrind_report: the valgrind logs with findings (none: prints nothing, returns 1).
pd_valgrind_report() {
	local f found=1
	for f in "$T"/valgrind.*.log; do
		[ -s "$f" ] || continue
		echo "== $f"
		head -n 60 "$f"
		found=0
	done
	return $found
}

# pd_daemon_once CONF LOG [VAR=value ...]: postdeskd --once, bounded; returns its status.
pd_daemon_once() {
	local conf=$1 log=$2 vg
	shift 2
	mapfile -t vg < <(pd_valgrind_prefix)
	env "$@" timeout -k 5 "$(pd_daemon_timeout 120)" "${vg[@]}" "$top_builddir/postdeskd" \
		-c "$conf" --once >"$log" 2>&1
}

# pd_daemon_start CONF LOG: postdeskd in the background (pid in $PD_DAEMON_PID).
pd_daemon_start() {
	local vg
	mapfile -t vg < <(pd_valgrind_prefix)
	"${vg[@]}" "$top_builddir/postdeskd" -c "$1" --foreground >"$2" 2>&1 &
	PD_DAEMON_PID=$!
	PD_BG_PIDS="$PD_BG_PIDS $PD_DAEMON_PID"
}

# pd_wait_exit PID SECONDS: returns the process's exit status, or 124 when it
# is still running after SECONDS (it is then killed).
pd_wait_exit() {
	local pid=$1 secs=$2 i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt $((secs * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# pd_cli CONF ARGS...: postdesk, stdout only (stderr to $T/cli.err).
pd_cli() {
	local conf=$1
	shift
	timeout -k 5 60 "$top_builddir/postdesk" -c "$conf" "$@" 2>>"$T/cli.err"
}

# pd_json FILE EXPR: evaluate a Python expression over the JSON in FILE (as d);
# strings print as they are, everything else as JSON.  Empty on any error.
pd_json() {
	"$PD_PYTHON" - "$1" "$2" <<-'EOF' 2>/dev/null
		import json, re, sys
		with open(sys.argv[1], encoding="utf-8") as f:
		    d = json.load(f)
		def nomid(s):
		    return (s or "").strip().strip("<>")
		v = eval(sys.argv[2], {"d": d, "nomid": nomid, "len": len, "any": any,
		                       "all": all, "sum": sum, "sorted": sorted, "set": set,
		                       "str": str, "isinstance": isinstance, "int": int,
		                       "bool": bool, "list": list, "re": re})
		print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
	EOF
}

# ------------------------------------------------------------------ teardown

pd_stop_all() {
	local rc=$? pid
	trap - EXIT
	for pid in $PD_BG_PIDS; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			pd_wait_exit "$pid" 5 >/dev/null 2>&1
		fi
	done
	PD_BG_PIDS=
	pd_stop_smtp_sink
	pd_stop_dovecot
	pd_stop_postgres
	if [ -n "$PD_OWN_T" ]; then
		if [ "${PD_KEEP_TMP:-0}" = 1 ] || { [ "$rc" != 0 ] && [ "$rc" != 77 ]; }; then
			echo "# kept $T for inspection" >&2
		else
			rm -rf "$T"
			[ "$PD_SOCK_DIR" != "$T/sock" ] && rm -rf "$PD_SOCK_DIR"
		fi
	fi
	exit "$rc"
}
