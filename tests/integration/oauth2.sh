#!/bin/bash
# tests/integration/oauth2.sh - mailboxes and SMTP that log in with OAuth 2.0
# (what Microsoft 365 and Gmail require), against real servers on loopback:
# Dovecot with its oauth2 passdb (mechanisms XOAUTH2 and OAUTHBEARER, tokens
# checked by RFC 7662 introspection), the SMTP sink with --xoauth2, and
# tests/integration/oauth2_server.py as token, device and introspection
# endpoint, whose access tokens live a few seconds and whose refresh tokens
# rotate on every use.
#
#   check-config   broken oauth2 settings are reported as FILE:LINE
#   consent        `postdesk oauth2 support`: device code flow (pending,
#                  slow_down honoured), refresh token file written 0600
#   login          support (XOAUTH2, refresh token), sales (OAUTHBEARER,
#                  token_command) store their mail; acks go out over SMTP
#                  with AUTH XOAUTH2 (client_credentials)
#   rotation       the rotated refresh token is written back (content, 0600)
#   refresh        a new login after the token's life gets a new token, and
#                  no expired token is ever presented
#   refused        a token the server revoked is refused once, a fresh one
#                  fetched, and the mailbox goes on (IMAP and SMTP)
#   invalid_grant  billing's refresh token is refused: billing is down with
#                  a log line naming it and `postdesk oauth2 billing`,
#                  /healthz names it, /metrics counts its failures, and the
#                  other mailboxes' mail is stored
#   secrets        no token, refresh token or client secret issued during
#                  the run appears in the daemon's log (at debug level) or
#                  the CLI's output
#
#   top_srcdir=. top_builddir=build tests/integration/oauth2.sh

. "$(dirname "$0")/lib.sh"

MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"
LIFETIME=8 # seconds an access token lives

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres

# ---------------------------------------------------------------- the endpoints

OA=$T/oauth2
mkdir -p "$OA"
pd_free_port PD_OAUTH_PORT
OAURL=http://127.0.0.1:$PD_OAUTH_PORT
rnd() { "$PD_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))'; }
(
	umask 077
	echo "cs-support-$(rnd)" >"$T/support.secret"
	echo "cs-sales-$(rnd)" >"$T/sales.secret"
	echo "cs-smtp-$(rnd)" >"$T/smtp.secret"
)
"$PD_PYTHON" "$PD_LIB_DIR/oauth2_server.py" --port "$PD_OAUTH_PORT" --dir "$OA" \
	--lifetime $LIFETIME --rotate \
	--client "support-app:$(cat "$T/support.secret")" \
	--client "sales-app:$(cat "$T/sales.secret")" \
	--client "smtp-app:$(cat "$T/smtp.secret")" \
	--client billing-app \
	--device support-app:o_support \
	--app sales-app:o_sales --app smtp-app:o_smtp \
	--refresh "o_billing:billing-app:$T/billing.token" --invalid-grant billing-app \
	>"$T/oauth2-server.log" 2>&1 &
PD_BG_PIDS="$PD_BG_PIDS $!"
pd_wait_port "$PD_OAUTH_PORT" 30 || pd_die "the token endpoint did not start"

stats() { # python expression over the endpoint's /stats as d
	curl -s "$OAURL/stats" >"$T/stats.json"
	pd_json "$T/stats.json" "$1"
}

# Dovecot: the oauth2 passdb next to the passwd-file one
cat >"$T/dovecot-oauth2.conf.ext" <<EOF
introspection_mode = post
introspection_url = $OAURL/introspect
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
EOF
cat >"$T/dovecot-extra.conf" <<EOF
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $T/dovecot-oauth2.conf.ext
}
EOF
PD_DOVECOT_EXTRA_CONF=$T/dovecot-extra.conf pd_start_dovecot o_support o_sales o_billing

# the SMTP sink on a fixed port, so that it can be restarted in place
pd_free_port PD_SMTP_PORT
PD_SINK_DIR=$T/sink
start_sink() {
	"$PD_PYTHON" "$PD_LIB_DIR/smtp_sink.py" --port "$PD_SMTP_PORT" --dir "$PD_SINK_DIR" \
		--xoauth2 "$OAURL/introspect" >>"$T/smtp-sink.log" 2>&1 &
	PD_SMTP_PID=$!
	pd_wait_port "$PD_SMTP_PORT" 30 || pd_die "SMTP sink did not start"
}
start_sink
pd_free_port METRICS_PORT
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP :$PD_SMTP_PORT  OAuth :$PD_OAUTH_PORT in $T"

# token_command for sales: client_credentials with curl; stderr says hello
cat >"$T/get-token.sh" <<EOF
#!/bin/sh
echo "get-token: asking for \$1" >&2
curl -s -d grant_type=client_credentials -d client_id=sales-app \\
	--data-urlencode "client_secret=\$(cat $T/sales.secret)" -d scope=imap $OAURL/token |
	$PD_PYTHON -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
EOF
chmod 755 "$T/get-token.sh"

pd_createdb postdesk || pd_die "createdb"
CONF=$T/postdesk.conf
mailbox() { # NAME USER AUTH BODY
	cat <<-EOF
		mailbox "$1" {
		  url = "imap://127.0.0.1:$PD_IMAP_PORT/INBOX"
		  tls = "none"
		  user = "$2"
		  auth = "$3"
		  processed_folder = "Processed"
		  timeout = "10s"
		$4
		}
	EOF
}
(
	umask 077
	cat >"$CONF" <<-EOF
		support_address = "support@example.com"
		templates_dir = "$top_srcdir/conf/templates"
		log_level = "debug"
		auto_reply_limit_10m = 1000
		database { conninfo = "host=127.0.0.1 port=$PGPORT dbname=postdesk user=postdesk" }
		metrics { listen = "127.0.0.1:$METRICS_PORT" }
		smtp {
		  url = "smtp://127.0.0.1:$PD_SMTP_PORT"
		  tls = "none"
		  from = "Example Support <support@example.com>"
		  user = "o_smtp"
		  auth = "xoauth2"
		  oauth2 {
		    token_url = "$OAURL/token"
		    client_id = "smtp-app"
		    client_secret_file = "$T/smtp.secret"
		    grant = "client_credentials"
		    scope = "smtp"
		  }
		}
	EOF
	mailbox support o_support xoauth2 "  oauth2 {
    token_url = \"$OAURL/token\"
    device_url = \"$OAURL/devicecode\"
    client_id = \"support-app\"
    client_secret_file = \"$T/support.secret\"
    refresh_token_file = \"$T/support.token\"
    scope = \"imap offline_access\"
  }" >>"$CONF"
	mailbox sales o_sales oauthbearer "  token_command = \"$T/get-token.sh sales\"" >>"$CONF"
	mailbox billing o_billing xoauth2 "  oauth2 {
    token_url = \"$OAURL/token\"
    client_id = \"billing-app\"
    refresh_token_file = \"$T/billing.token\"
    scope = \"imap offline_access\"
  }" >>"$CONF"
)
CLI_OUT=$T/cli.out
: >"$CLI_OUT"

# ---------------------------------------------------------------- check-config

cat >"$T/bad.conf" <<EOF
support_address = "support@example.com"
database { conninfo = "dbname=postdesk" }
mailbox "m" {
  url = "imap://127.0.0.1:$PD_IMAP_PORT/INBOX"
  tls = "none"
  user = "m"
  auth = "xoauth2"
  token_command = "/bin/true"
  oauth2 {
    token_url = "http://login.example.com/token"
    client_id = "c"
    grant = "refresh_token"
  }
}
EOF
chmod 600 "$T/bad.conf"
"$top_builddir/postdesk" -c "$T/bad.conf" check-config >"$T/bad.out" 2>&1
pd_check_eq "check-config: a broken oauth2 setup exits 78" 78 "$?"
pd_check "check-config: token_command beside oauth2 { } is named with its line" \
	grep -qF "$T/bad.conf:8: mailbox \"m\": set either an oauth2 section or token_command, not both" "$T/bad.out"
cat "$T/bad.out" >>"$CLI_OUT"
"$top_builddir/postdesk" -c "$CONF" check-config >>"$CLI_OUT" 2>&1
pd_check_eq "check-config: the suite's configuration is valid before the consent" 0 "$?"
pd_check "check-config: ...and says the refresh token file is still to be made" \
	grep -qF "run \`postdesk -c $CONF oauth2 support\` to sign in once" "$CLI_OUT"

# ---------------------------------------------------------------- consent

"$top_builddir/postdesk" -c "$CONF" migrate >>"$CLI_OUT" 2>&1 || pd_die "migrate"
timeout 60 "$top_builddir/postdesk" -c "$CONF" oauth2 support >"$T/consent.out" 2>&1
rc=$?
cat "$T/consent.out" >>"$CLI_OUT"
pd_check_eq "consent: postdesk oauth2 support exits 0" 0 "$rc"
pd_check "consent: it shows where to sign in and the code" \
	grep -qE "open $OAURL/device in a browser and enter the code [0-9A-F]{8}" "$T/consent.out"
pd_check_eq "consent: the refresh token file is written with mode 600" 600 \
	"$(stat -c %a "$T/support.token" 2>/dev/null)"
pd_check_eq "consent: after slow_down the next poll waited at least 5 s more" 1 \
	"$(stats 'int(len(d["device_poll_gaps"]) >= 2 and d["device_poll_gaps"][1] >= 5.5)')"
pd_check_eq "consent: the saved refresh token works (rotated once by the proof)" 1 \
	"$(stats 'd["rotations"]')"

# ---------------------------------------------------------------- login

mail() { # USER FROM SUBJECT ID
	$MKMAIL --from "$2" --subject "$3" --message-id "<$4@customer.example>" \
		--body "Body of $3" >"$T/$4.eml" || pd_die "mkmail"
	pd_deliver "$1" "$T/$4.eml"
}
count() { pd_psql postdesk "$1"; }
wait_for() { # SECONDS SQL EXPECTED
	local end=$((SECONDS + $1)) v=
	while :; do
		v=$(count "$2" 2>/dev/null)
		[ "$v" = "$3" ] || [ $SECONDS -ge $end ] && break
		sleep 0.2
	done
	echo "$v"
}
stored() { echo "SELECT count(*) FROM messages WHERE direction = 'in' AND message_id = '$1@customer.example'"; }
wait_log() { # SECONDS PATTERN
	local end=$((SECONDS + $1))
	until grep -qE "$2" "$T/daemon.log" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
# mails the sink holds (its "accepted" count starts again when it restarts)
sink_accepted() { find "$PD_SINK_DIR" -name '*.eml' | wc -l; }
wait_sink() { # SECONDS N
	local end=$((SECONDS + $1))
	while [ "$(sink_accepted)" -lt "$2" ] && [ $SECONDS -lt $end ]; do sleep 0.2; done
	sink_accepted
}

mail o_support ann@customer.example "Printer on fire" s1
mail o_sales bob@customer.example "Quote please" b1
mail o_billing cat@customer.example "Invoice wrong" i1
T0=$SECONDS
pd_daemon_start "$CONF" "$T/daemon.log"
pd_check_eq "login: support's mail is stored (XOAUTH2, refresh token)" 1 \
	"$(wait_for 30 "$(stored s1)" 1)"
pd_check_eq "login: sales' mail is stored (OAUTHBEARER, token_command)" 1 \
	"$(wait_for 30 "$(stored b1)" 1)"
pd_check "login: token_command's stderr reaches the log" \
	wait_log 5 "token_command: get-token: asking for sales login=mailbox sales"
pd_check_eq "login: both acknowledgements leave over SMTP with AUTH XOAUTH2" 2 "$(wait_sink 30 2)"
pd_check "login: the sink saw an XOAUTH2 login of o_smtp" \
	grep -q "sink: XOAUTH2 login as o_smtp" "$T/smtp-sink.log"

# ---------------------------------------------------------------- invalid_grant

pd_check "invalid_grant: billing is down with a line naming it and the cure" \
	wait_log 20 "mailbox=billing: .*invalid_grant.*run \`postdesk oauth2 billing\` to consent again"
pd_check_eq "invalid_grant: billing's mail is not stored" 0 "$(count "$(stored i1)")"
healthz=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$METRICS_PORT/healthz")
pd_check "invalid_grant: /healthz answers 503 and names billing" \
	eval '[[ "$healthz" == *billing* && "$healthz" == *" 503" ]]'
pd_log "/healthz: ${healthz//$'\n'/ | }"
pd_check "invalid_grant: /healthz does not blame support or sales" \
	eval '! printf "%s\n" "$healthz" | grep -qE "mailbox (support|sales)"'
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" >"$T/metrics.txt"
pd_check "metrics: billing's refresh failures are counted" \
	grep -qE '^postdesk_oauth2_refresh_failures_total\{mailbox="billing"\} [1-9]' "$T/metrics.txt"
# (a token is asked for when a login needs one: while a session lasts, the
# one it logged in with may expire)
pd_check "metrics: support's token expiry is reported" \
	grep -qE '^postdesk_oauth2_token_expiry_seconds\{mailbox="support"\} -?[0-9]+$' "$T/metrics.txt"
pd_check "metrics: smtp's token is there too" \
	grep -qE '^postdesk_oauth2_token_expiry_seconds\{smtp="1"\} -?[0-9]+$' "$T/metrics.txt"

# ---------------------------------------------------------------- rotation

current_rt() { stats 'd["current_refresh"].get("o_support", "")'; }
pd_check_eq "rotation: the daemon's refresh rotated the token again" 1 \
	"$(stats 'int(d["rotations"] >= 2)')"
pd_check_eq "rotation: the file holds the endpoint's current refresh token" "$(current_rt)" \
	"$(cat "$T/support.token")"
pd_check_eq "rotation: and is still mode 600" 600 "$(stat -c %a "$T/support.token")"

# ---------------------------------------------------------------- refresh

# past the first token's life: a new login needs a new token
while [ $((SECONDS - T0)) -le $((LIFETIME + 1)) ]; do sleep 0.5; done
grants_before=$(stats 'd["grants"].get("o_support", 0)')
pd_doveadm kick o_support >/dev/null 2>&1
mail o_support dan@customer.example "Second question" s2
pd_check_eq "refresh: after the token's life support logs in again and stores mail" 1 \
	"$(wait_for 30 "$(stored s2)" 1)"
pd_check_eq "refresh: with a new token" 1 \
	"$(stats "int(d['grants'].get('o_support', 0) > $grants_before)")"
pd_check_eq "refresh: no expired token was ever presented" 0 "$(stats 'd["expired"]')"
pd_check_eq "rotation: the file follows every rotation" "$(current_rt)" "$(cat "$T/support.token")"

# ---------------------------------------------------------------- refused

curl -s -d user=o_support "$OAURL/revoke" >/dev/null
pd_doveadm kick o_support >/dev/null 2>&1
mail o_support eve@customer.example "Third question" s3
pd_check_eq "refused: after a revoked token support still stores its mail" 1 \
	"$(wait_for 30 "$(stored s3)" 1)"
pd_check "refused: the refusal was logged and a new token fetched once" \
	wait_log 5 "imap: .* refused the access token .*trying once more mailbox=support"
pd_check "refused: Dovecot's error challenge was answered (the NO came)" \
	grep -q "AUTHENTICATE XOAUTH2 refused" "$T/daemon.log"

# SMTP: a new connection with a revoked cached token
n=$(sink_accepted)
kill "$PD_SMTP_PID" 2>/dev/null
wait "$PD_SMTP_PID" 2>/dev/null
curl -s -d user=o_smtp "$OAURL/revoke" >/dev/null
start_sink
mail o_support fay@customer.example "Fourth question" s4
pd_check_eq "refused: SMTP goes on after its token was revoked" $((n + 1)) \
	"$(wait_sink 60 $((n + 1)))"
pd_check "refused: SMTP logged the refusal and fetched a new token" \
	wait_log 5 "smtp: .* refused the access token"

# ---------------------------------------------------------------- the end

pd_check_eq "invalid_grant: billing still stored nothing, the others everything" "0 5" \
	"$(count "SELECT count(*) FILTER (WHERE message_id = 'i1@customer.example') || ' ' ||
		count(*) FILTER (WHERE message_id <> 'i1@customer.example')
		FROM messages WHERE direction = 'in'")"
kill -TERM "$PD_DAEMON_PID"
pd_wait_exit "$PD_DAEMON_PID" 20
pd_check_eq "the daemon stops cleanly (exit 0)" 0 "$?"

# ---------------------------------------------------------------- secrets

leaks=
while read -r s; do
	[ -n "$s" ] || continue
	for f in "$T/daemon.log" "$CLI_OUT" "$T/cli.err"; do
		[ -f "$f" ] && grep -qF -- "$s" "$f" && leaks="$leaks ${s:0:6}...@$(basename "$f")"
	done
done <"$OA/secrets"
pd_check_eq "secrets: none of the $(grep -c . "$OA/secrets") issued tokens and secrets is in a log or the CLI's output" "" "$leaks"
pd_check "secrets: the daemon ran at debug level (the check means something)" \
	grep -q "debug" "$T/daemon.log"

pd_finish
