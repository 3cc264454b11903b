#!/bin/bash
# tests/integration/report.sh - `postdesk report`: a database seeded with
# tickets and SLA notices at known times (relative to now) gives known
# counts, percentiles, SLA compliance, notices, backlog and ratings, in the
# JSON and in the text; --since narrows the period; an empty database gives
# zeros and nulls; bad arguments, a missing schema and an unreachable server
# give the documented exit codes.  Only a throwaway PostgreSQL on loopback
# (tests/integration/lib.sh); no mail servers.
#
#   top_srcdir=. top_builddir=build tests/integration/report.sh

. "$(dirname "$0")/lib.sh"

# Only PostgreSQL is needed here.
bindir=$(pd_pg_bindir)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ] ||
	! command -v psql >/dev/null; then
	pd_skip_all "missing: initdb/pg_ctl/psql (run scripts/deps.sh)"
fi
if pd_is_root && ! getent passwd postgres >/dev/null; then
	pd_skip_all "missing: postgres-user"
fi
pd_require_binaries
pd_init
pd_start_postgres
pd_log "PostgreSQL :$PGPORT in $T"

DB=report
pd_createdb "$DB" || pd_die "createdb $DB"
CONF=$T/report.conf
pd_write_config "$CONF" db="$DB" smtp=no
pd_cli "$CONF" migrate >/dev/null || pd_die "migrate"

# report ARGS...: run postdesk report; stdout in $OUT, status in $RC.
OUT=$T/report.out
report() {
	pd_cli "$CONF" report "$@" >"$OUT"
	RC=$?
}

# jcheck NAME EXPR EXPECTED: the value of the Python expression EXPR over the
# JSON in $OUT (as d) equals EXPECTED, a Python literal (so 50 == 50.0 and
# tuples compare as lists).
jcheck() {
	local got
	got=$(pd_json "$OUT" "$2")
	if "$PD_PYTHON" -c 'import json, sys
want = json.loads(json.dumps(eval(sys.argv[2])))   # tuples as lists
sys.exit(0 if json.loads(sys.argv[1]) == want else 1)' "$got" "$3" 2>/dev/null; then
		pd_ok "$1"
	else
		pd_fail "$1" "expected: $3" "got:      $got"
	fi
}

# tline NAME REGEX: a line of the text report in $OUT matches REGEX (spaces
# squeezed to one).
tline() {
	if tr -s ' ' <"$OUT" | grep -qE -- "$2"; then
		pd_ok "$1"
	else
		pd_fail "$1" "no line matching: $2" "$(cat "$OUT")"
	fi
}

# ------------------------------------------------------------ empty database

report --json
pd_check_eq "empty: report --json exits 0" 0 "$RC"
jcheck "empty: zero tickets created and resolved" '[d["created"], d["resolved"]]' '[0, 0]'
jcheck "empty: no response times" '[d["first_response"], d["resolution"]]' \
	'[{"count": 0, "median_seconds": None, "p90_seconds": None}] * 2'
jcheck "empty: SLA lists the four priorities with nothing counted" \
	'[(r["priority"], r["first_response"]["total"], r["resolution"]["percent"]) for r in d["sla"]["by_priority"]] + [d["sla"]["by_line"]]' \
	'[("critical", 0, None), ("high", 0, None), ("normal", 0, None), ("low", 0, None), []]'
jcheck "empty: SLA all row is 0 of 0" 'd["sla"]["all"]' \
	'{"first_response": {"met": 0, "total": 0, "percent": None}, "resolution": {"met": 0, "total": 0, "percent": None}}'
jcheck "empty: no notices" '[d["breaches"]["total"], d["escalations"], d["warnings"]]' '[0, 0, 0]'
jcheck "empty: no backlog" \
	'[d["backlog"]["total"], d["backlog"]["by_line"], d["backlog"]["oldest_ticket"], d["backlog"]["oldest_age_seconds"]]' \
	'[0, {}, None, None]'
jcheck "empty: no ratings" 'd["satisfaction"]' \
	'{"average": None, "count": 0, "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}'
jcheck "empty: default period is 30 days" 'd["period_seconds"]' '2592000'
jcheck "empty: SLA by plan and by type are empty" '[d["sla"]["by_plan"], d["sla"]["by_type"]]' '[[], []]'
jcheck "empty: per_day lists the 31 UTC days of the period, all zero" \
	'[len(d["per_day"]), sum(x["total"] for x in d["per_day"]), sorted(d["per_day"][0]["by_type"])]' \
	'[31, 0, sorted(["question", "incident", "complaint", "suggestion", "refund", "access"])]'
jcheck "empty: time distribution has the seven buckets, all zero" \
	'[[(b["bucket"], b["min_seconds"], b["max_seconds"], b["count"]) for b in d["time_distribution"][c]] for c in ("first_response", "resolution")]' \
	'[[("<15m", 0, 900, 0), ("15-60m", 900, 3600, 0), ("1-4h", 3600, 14400, 0), ("4-8h", 14400, 28800, 0), ("8-24h", 28800, 86400, 0), ("1-3d", 86400, 259200, 0), (">3d", 259200, None, 0)]] * 2'
jcheck "empty: no common problems" 'd["common_problems"]' '{"types": [], "keywords": []}'
report
pd_check_eq "empty: text report exits 0" 0 "$RC"
tline "empty: text says there is no backlog" '^BACKLOG NOW: no open tickets$'
tline "empty: text shows dashes for missing times" '^ first response 0 - -$'
tline "empty: text has no common problems" '^COMMON PROBLEMS: no tickets created in the period$'
tline "empty: text has no tickets per day" '^TICKETS PER DAY: none created in the period$'

# ------------------------------------------------------------ seeded database
# (tickets, notices, types, plans and keywords: see report_seed.sh)

. "$(dirname "$0")/report_seed.sh"
pd_report_seed "$DB"

report --json
pd_check_eq "30d: report --json exits 0" 0 "$RC"
jcheck "30d: one JSON object with the documented keys" 'sorted(d)' \
	'sorted(["since", "until", "period_seconds", "created", "resolved", "first_response", "resolution", "sla", "breaches", "escalations", "warnings", "backlog", "satisfaction", "per_day", "time_distribution", "common_problems"])'
pd_check_eq "30d: since and until are 30 days apart, in UTC" "2592000 +00:00" \
	"$(pd_json "$OUT" 'str(round((__import__("datetime").datetime.fromisoformat(d["until"]) - __import__("datetime").datetime.fromisoformat(d["since"])).total_seconds())) + " " + d["until"][-6:]')"
jcheck "30d: 8 tickets created (not the two of 40 days ago)" 'd["created"]' '8'
jcheck "30d: 4 resolved (#1 #2 #5 and #8, created before the period)" 'd["resolved"]' '4'
# 600 1200 1800 3600 7200: median 1800, p90 = 3600 + 0.6 * 3600
jcheck "30d: first response median and p90 over the 5 answered in the period" \
	'd["first_response"]' '{"count": 5, "median_seconds": 1800, "p90_seconds": 5760}'
# 7200 20000 50000 300000: median 35000, p90 = 50000 + 0.7 * 250000
jcheck "30d: resolution median and p90 over the 4 resolved in the period" \
	'd["resolution"]' '{"count": 4, "median_seconds": 35000, "p90_seconds": 225000}'

sla_cell() { # DIM-INDEX-EXPR
	echo "[($1)[\"first_response\"][k] for k in (\"met\", \"total\", \"percent\")] + [($1)[\"resolution\"][k] for k in (\"met\", \"total\", \"percent\")]"
}
jcheck "30d: SLA by_priority in order critical, high, normal, low" \
	'[r["priority"] for r in d["sla"]["by_priority"]]' '["critical", "high", "normal", "low"]'
jcheck "30d: SLA critical: first response 2/4 (#3 overdue, #9 exactly on target), resolution 1/2" \
	"$(sla_cell 'd["sla"]["by_priority"][0]')" '[2, 4, 50.0, 1, 2, 50.0]'
jcheck "30d: SLA high: no target, nothing counted" \
	"$(sla_cell 'd["sla"]["by_priority"][1]')" '[0, 0, None, 0, 0, None]'
jcheck "30d: SLA normal: first response 2/2 (#6 not yet due), resolution 0/2 (#10 overdue unresolved)" \
	"$(sla_cell 'd["sla"]["by_priority"][2]')" '[2, 2, 100.0, 0, 2, 0.0]'
jcheck "30d: SLA low: nothing" "$(sla_cell 'd["sla"]["by_priority"][3]')" '[0, 0, None, 0, 0, None]'
jcheck "30d: SLA by_line lists lines 1, 2, 3" '[r["line"] for r in d["sla"]["by_line"]]' '[1, 2, 3]'
jcheck "30d: SLA line 1: 3/4 and 1/2" "$(sla_cell 'd["sla"]["by_line"][0]')" '[3, 4, 75.0, 1, 2, 50.0]'
jcheck "30d: SLA line 2: 0/1 and 0/1" "$(sla_cell 'd["sla"]["by_line"][1]')" '[0, 1, 0.0, 0, 1, 0.0]'
jcheck "30d: SLA line 3: 1/1 and 0/1" "$(sla_cell 'd["sla"]["by_line"][2]')" '[1, 1, 100.0, 0, 1, 0.0]'
jcheck "30d: SLA all: 4/6 (66.7%) and 1/4 (25%)" "$(sla_cell 'd["sla"]["all"]')" '[4, 6, 66.7, 1, 4, 25.0]'
jcheck "30d: 5 breaches: critical 3, normal 2; first response 2, resolution 3" 'd["breaches"]' \
	'{"total": 5, "by_priority": {"critical": 3, "high": 0, "normal": 2, "low": 0}, "by_clock": {"first_response": 2, "resolution": 3}}'
jcheck "30d: 2 escalations, 3 warnings" '[d["escalations"], d["warnings"]]' '[2, 3]'
jcheck "30d: backlog 6 by status and priority" \
	'[d["backlog"]["total"], d["backlog"]["by_status"], d["backlog"]["by_priority"]]' \
	'[6, {"new": 2, "open": 2, "pending": 2}, {"critical": 2, "high": 1, "normal": 2, "low": 1}]'
jcheck "30d: backlog by line" 'd["backlog"]["by_line"]' '{"1": 4, "2": 1, "3": 1}'
jcheck "30d: backlog by line and priority" \
	'[(c["line"], c["priority"], c["count"]) for c in d["backlog"]["by_line_priority"]]' \
	'[(1, "critical", 2), (1, "high", 1), (1, "low", 1), (2, "normal", 1), (3, "normal", 1)]'
jcheck "30d: the oldest open ticket is #7, 40 days old" \
	'[d["backlog"]["oldest_ticket"], 3456000 <= d["backlog"]["oldest_age_seconds"] < 3456000 + 300]' \
	'[7, True]'
jcheck "30d: satisfaction 5 ratings, average 3.6 (the rating of 38 days ago left out)" \
	'd["satisfaction"]' \
	'{"average": 3.6, "count": 5, "distribution": {"1": 0, "2": 1, "3": 1, "4": 2, "5": 1}}'

jcheck "30d: SLA by plan: default first, then by name" \
	'[(r["plan"],) + tuple(r["first_response"][k] for k in ("met", "total", "percent")) + tuple(r["resolution"][k] for k in ("met", "total", "percent")) for r in d["sla"]["by_plan"]]' \
	'[("default", 2, 3, 66.7, 0, 1, 0.0), ("basic", 1, 1, 100.0, 0, 1, 0.0), ("gold", 1, 2, 50.0, 1, 2, 50.0)]'
jcheck "30d: SLA by type: the types with targets, in type order (#4, a question, has none)" \
	'[(r["type"],) + tuple(r["first_response"][k] for k in ("met", "total", "percent")) + tuple(r["resolution"][k] for k in ("met", "total", "percent")) for r in d["sla"]["by_type"]]' \
	'[("incident", 2, 4, 50.0, 1, 2, 50.0), ("complaint", 1, 1, 100.0, 0, 1, 0.0), ("refund", 1, 1, 100.0, 0, 1, 0.0), ("access", 0, 0, None, 0, 0, None)]'
jcheck "30d: per_day covers 31 days and adds up to the 8 created, by type" \
	'[len(d["per_day"]), sum(x["total"] for x in d["per_day"]), {t: sum(x["by_type"][t] for x in d["per_day"]) for t in d["per_day"][0]["by_type"]}]' \
	'[31, 8, {"question": 1, "incident": 4, "complaint": 1, "suggestion": 0, "refund": 1, "access": 1}]'
jcheck "30d: per_day is in day order, each total the sum of its types" \
	'[[x["day"] for x in d["per_day"]] == sorted(x["day"] for x in d["per_day"]), all(x["total"] == sum(x["by_type"].values()) for x in d["per_day"])]' \
	'[True, True]'
jcheck "30d: the day of #5 (10 days ago) has one refund" \
	'[x["by_type"]["refund"] for x in d["per_day"] if x["day"] == (__import__("datetime").datetime.now(__import__("datetime").timezone.utc) - __import__("datetime").timedelta(days=10)).date().isoformat()]' \
	'[1]'
# first responses 600 1200 1800 3600 7200; resolutions 7200 20000 50000 300000
jcheck "30d: first response distribution (3600 s falls in 1-4h)" \
	'[b["count"] for b in d["time_distribution"]["first_response"]]' '[1, 2, 2, 0, 0, 0, 0]'
jcheck "30d: resolution distribution" \
	'[b["count"] for b in d["time_distribution"]["resolution"]]' '[0, 0, 1, 1, 1, 0, 1]'
jcheck "30d: common problems: request types, most first, ties in type order" \
	'[(x["type"], x["tickets"], x["share"]) for x in d["common_problems"]["types"]]' \
	'[("incident", 4, 50.0), ("question", 1, 12.5), ("complaint", 1, 12.5), ("refund", 1, 12.5), ("access", 1, 12.5)]'
jcheck "30d: common problems: keywords lower-cased, once per ticket, not the old #7 nor senders" \
	'[(x["keyword"], x["tickets"], x["share"]) for x in d["common_problems"]["keywords"]]' \
	'[("не работает", 3, 37.5), ("down", 2, 25.0), ("ошибка", 1, 12.5)]'

report
pd_check_eq "30d: text report exits 0" 0 "$RC"
tline "30d: text SLA plan row" '^ plan default 2/3 66\.7% 0/1 0\.0%$'
tline "30d: text SLA type row" '^ type incident 2/4 50\.0% 1/2 50\.0%$'
tline "30d: text time distribution heading" '^TIME DISTRIBUTION \(business\) <15m 15-60m 1-4h 4-8h 8-24h 1-3d >3d$'
tline "30d: text first response distribution" '^ first response 1 2 2 - - - -$'
tline "30d: text resolution distribution" '^ resolution - - 1 1 1 - 1$'
tline "30d: text common problems heading" '^COMMON PROBLEMS \(tickets created in the period\)$'
tline "30d: text top request type" '^ 4 50\.0% incident$'
tline "30d: text top keyword" '^ 3 37\.5% не работает$'
tline "30d: text tickets per day heading" '^TICKETS PER DAY TOTAL question incident complaint suggestion refund access$'
if [ "$(awk '/^TICKETS PER DAY/ { on = 1; next } on && /^$/ { exit } on { s += $2 } END { print s }' "$OUT")" = 8 ]; then
	pd_ok "30d: text tickets per day add up to 8"
else
	pd_fail "30d: text tickets per day add up to 8" "$(cat "$OUT")"
fi
tline "30d: text header names the period" '^Report for [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{5} UTC \.\. [0-9-]{10} [0-9:]{5} UTC \(last 30d\)$'
tline "30d: text tickets created" '^ created 8$'
tline "30d: text first response times human readable" '^ first response 5 30m 1h 36m$'
tline "30d: text resolution times human readable" '^ resolution 4 9h 43m 2d 14h$'
tline "30d: text SLA critical row" '^ critical 2/4 50\.0% 1/2 50\.0%$'
tline "30d: text SLA high row is dashes" '^ high - - - -$'
tline "30d: text SLA line 2 row" '^ line 2 0/1 0\.0% 0/1 0\.0%$'
tline "30d: text SLA all row" '^ all 4/6 66\.7% 1/4 25\.0%$'
tline "30d: text breaches row" '^ breaches 5 3 - 2 - 2 3$'
tline "30d: text escalations row" '^ escalations 2 1 - 1 - 1 1$'
tline "30d: text backlog heading" '^BACKLOG NOW: 6 open \(new 2, open 2, pending 2\); oldest #7, 40d old$'
tline "30d: text backlog line 1" '^ line 1 2 1 - 1 4$'
tline "30d: text backlog total" '^ all 2 1 2 1 6$'
tline "30d: text satisfaction" '^SATISFACTION: average 3\.60 from 5 ratings$'
tline "30d: text rating distribution" '^ count - 1 1 2 1$'
# right-aligned columns: the SLA table's rows all end in the same column
if awk '/^SLA COMPLIANCE/ { on = 1; next } on && /^$/ { exit } on && NR > 0 { print length($0) }' \
	"$OUT" | sort -u | wc -l | grep -qx 1; then
	pd_ok "30d: text SLA table columns line up"
else
	pd_fail "30d: text SLA table columns line up" "$(cat "$OUT")"
fi

# ------------------------------------------------------------ --since 1h

report --since 1h --json
pd_check_eq "1h: report --since 1h --json exits 0" 0 "$RC"
jcheck "1h: period_seconds 3600" 'd["period_seconds"]' '3600'
jcheck "1h: only #6 and #9 created, none resolved" '[d["created"], d["resolved"]]' '[2, 0]'
jcheck "1h: first response of #9 only" 'd["first_response"]' \
	'{"count": 1, "median_seconds": 1800, "p90_seconds": 1800}'
jcheck "1h: no resolution times" 'd["resolution"]' \
	'{"count": 0, "median_seconds": None, "p90_seconds": None}'
jcheck "1h: SLA all: #9 met, #6 not yet due" "$(sla_cell 'd["sla"]["all"]')" '[1, 1, 100.0, 0, 0, None]'
jcheck "1h: the one warning, no breach or escalation" \
	'[d["warnings"], d["breaches"]["total"], d["escalations"]]' '[1, 0, 0]'
jcheck "1h: backlog is the same now" 'd["backlog"]["total"]' '6'
jcheck "1h: the one rating" '[d["satisfaction"]["count"], d["satisfaction"]["average"]]' '[1, 4.0]'
jcheck "1h: per_day: one or two days, 2 tickets" \
	'[len(d["per_day"]) in (1, 2), sum(x["total"] for x in d["per_day"])]' '[True, 2]'
jcheck "1h: common problems of #6 and #9" \
	'[[(x["type"], x["tickets"]) for x in d["common_problems"]["types"]], [(x["keyword"], x["tickets"], x["share"]) for x in d["common_problems"]["keywords"]]]' \
	'[[("incident", 1), ("access", 1)], [("down", 1, 50.0)]]'
report --since 90m
tline "1h: text header says 1h 30m" '\(last 1h 30m\)$'

# ------------------------------------------------------------ usage and failures

report --since x
pd_check_eq "--since x exits 64" 64 "$RC"
report --since 0
pd_check_eq "--since 0 exits 64" 64 "$RC"
report --json extra
pd_check_eq "an extra argument exits 64" 64 "$RC"
report --frobnicate
pd_check_eq "an unknown option exits 64" 64 "$RC"

pd_createdb report_empty || pd_die "createdb report_empty"
pd_write_config "$T/noschema.conf" db=report_empty smtp=no
pd_cli "$T/noschema.conf" report >/dev/null
pd_check_eq "a database without the schema exits 78" 78 $?

pd_cli "$T/nonexistent.conf" report >/dev/null
pd_check_eq "a missing configuration file exits 78" 78 $?

pd_free_port DEAD_PORT
PGPORT=$DEAD_PORT pd_write_config "$T/dead.conf" db="$DB" smtp=no
pd_cli "$T/dead.conf" report --json >/dev/null
pd_check_eq "a database server that is not there exits 69" 69 $?

pd_finish
