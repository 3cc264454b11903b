/*
 * report.c - `postdesk report` (see report.h): for one period, tickets
 * created and resolved, first response and resolution times, SLA compliance
 * by priority, line, plan and type, breaches, warnings and escalations, the
 * backlog, satisfaction, tickets per day, the time distribution and the
 * common problems; as text, as JSON, or as one HTML page with SVG charts
 * (svg.c).
 *
 * Owns the report's SQL and its text and HTML layout.  The SQL is a set of
 * sections, each a SELECT over the period CTE `p` (since, until = now());
 * the JSON statement joins them all as CTEs of one statement,
 * pd_report_fetch() runs them one by one in a single read-only snapshot.
 * So the text and the JSON show the same numbers by construction, and the
 * C side only copies and lays out: every count, percentile, percentage and
 * average is PostgreSQL's.  The only parameter, $1, is the period in
 * seconds.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "report.h"
#include "svg.h"
#include "util.h"

/* ------------------------------------------------------------ SQL sections */

#define R_PERIOD \
	"p AS (SELECT now() - make_interval(secs => $1::bigint) AS since, now() AS until)"

#define R_PRIORITIES "(VALUES ('critical', 1), ('high', 2), ('normal', 3), ('low', 4))"
#define R_OPEN_STATUSES "('new', 'open', 'pending')"
/* tickets.type's values (sql/0004_desk.sql) in pd_report_types order */
#define R_TYPES                                                                                    \
	"(VALUES ('question', 1), ('incident', 2), ('complaint', 3), ('suggestion', 4),"           \
	" ('refund', 5), ('access', 6))"
#define R_TYPE_ORD(col)                                                                            \
	"coalesce(array_position(ARRAY['question', 'incident', 'complaint', 'suggestion',"         \
	" 'refund', 'access'], " col "), 99)"
/* The time distribution's buckets (ord, label, lo, hi) in business seconds,
 * lo <= secs < hi; a day is 24 business hours. */
#define R_BUCKETS                                                                                  \
	"(VALUES (1, '<15m', 0, 900), (2, '15-60m', 900, 3600), (3, '1-4h', 3600, 14400),"         \
	" (4, '4-8h', 14400, 28800), (5, '8-24h', 28800, 86400), (6, '1-3d', 86400, 259200),"      \
	" (7, '>3d', 259200, NULL))"
/* PD_REPORT_DAILY_MAX as SQL text */
#define R_DAILY_MAX "8035200"

/* One row: the period and the ticket counts. */
#define R_COUNTS                                                                                   \
	"SELECT p.since, p.until,"                                                                 \
	"  to_char(p.since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' AS since_text,"     \
	"  to_char(p.until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' AS until_text,"     \
	"  (SELECT count(*) FROM tickets t"                                                        \
	"    WHERE t.created_at BETWEEN p.since AND p.until) AS created,"                          \
	"  (SELECT count(*) FROM tickets t"                                                        \
	"    WHERE t.resolved_at BETWEEN p.since AND p.until) AS resolved"                         \
	" FROM p"

/* Two rows (clock first_response, resolution): count, median, p90. */
#define R_TIMES_CLOCK(name, secs, at)                                                              \
	"SELECT '" name "' AS clock, count(t." secs ") AS n,"                                      \
	"  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY t." secs ")) AS median,"              \
	"  round(percentile_cont(0.9) WITHIN GROUP (ORDER BY t." secs ")) AS p90"                  \
	" FROM p JOIN tickets t ON t." at " BETWEEN p.since AND p.until"
#define R_TIMES                                                                                    \
	R_TIMES_CLOCK("first_response", "first_response_secs", "first_response_at")                \
	" UNION ALL " R_TIMES_CLOCK("resolution", "resolution_secs", "resolved_at")

/*
 * Per ticket created in the period with a target: did each clock meet it
 * (true), miss it (false), or not count yet (NULL)?
 */
#define R_SLA_OUTCOME(target, secs, at, due)                                                       \
	"CASE WHEN coalesce(t." target ", 0) <= 0 THEN NULL"                                       \
	"  WHEN t." secs " IS NOT NULL THEN t." secs " <= t." target                               \
	"  WHEN t." at " IS NULL AND t." due " < p.until THEN false END"

/* Rows (dim, key, grp, ord, fr_met, fr_total, fr_percent, res_met,
 * res_total, res_percent): the four priorities, the lines, plans and types
 * seen, all.  grouping() has one bit per column, priority the highest: the
 * set (priority) is 0111 = 7, (line) 11, (plan) 13, (type) 14, () 15. */
#define R_SLA                                                                                      \
	"WITH s AS (SELECT t.priority, t.line, coalesce(t.plan, 'default') AS plan, t.type, "     \
	R_SLA_OUTCOME("first_response_target", "first_response_secs", "first_response_at",         \
		      "first_response_due") " AS fr, "                                             \
	R_SLA_OUTCOME("resolution_target", "resolution_secs", "resolved_at",                       \
		      "resolution_due") " AS res"                                                  \
	"   FROM p JOIN tickets t ON t.created_at BETWEEN p.since AND p.until"                     \
	"   WHERE coalesce(t.first_response_target, 0) > 0"                                        \
	"      OR coalesce(t.resolution_target, 0) > 0),"                                          \
	" g AS (SELECT grouping(s.priority, s.line, s.plan, s.type) AS gs, s.priority, s.line,"    \
	"   s.plan, s.type,"                                                                       \
	"   count(*) FILTER (WHERE s.fr) AS fr_met, count(s.fr) AS fr_total,"                      \
	"   count(*) FILTER (WHERE s.res) AS res_met, count(s.res) AS res_total"                   \
	"   FROM s GROUP BY GROUPING SETS ((s.priority), (s.line), (s.plan), (s.type), ())),"      \
	" x AS (SELECT 'priority' AS dim, v.key, 1 AS grp, v.ord,"                                 \
	"     coalesce(g.fr_met, 0) AS fr_met, coalesce(g.fr_total, 0) AS fr_total,"               \
	"     coalesce(g.res_met, 0) AS res_met, coalesce(g.res_total, 0) AS res_total"            \
	"   FROM " R_PRIORITIES " v(key, ord) LEFT JOIN g ON g.gs = 7 AND g.priority = v.key"      \
	"   UNION ALL SELECT 'line', g.line::text, 2, g.line, g.fr_met, g.fr_total,"               \
	"     g.res_met, g.res_total FROM g WHERE g.gs = 11"                                       \
	"   UNION ALL SELECT 'plan', g.plan, 3, CASE WHEN g.plan = 'default' THEN 0 ELSE 1 END,"   \
	"     g.fr_met, g.fr_total, g.res_met, g.res_total FROM g WHERE g.gs = 13"                 \
	"   UNION ALL SELECT 'type', g.type, 4, " R_TYPE_ORD("g.type") ","                         \
	"     g.fr_met, g.fr_total, g.res_met, g.res_total FROM g WHERE g.gs = 14"                 \
	"   UNION ALL SELECT 'all', 'all', 5, 0, g.fr_met, g.fr_total,"                            \
	"     g.res_met, g.res_total FROM g WHERE g.gs = 15)"                                      \
	" SELECT x.dim, x.key, x.grp, x.ord, x.fr_met, x.fr_total,"                                \
	"   CASE WHEN x.fr_total > 0 THEN round(100.0 * x.fr_met / x.fr_total, 1) END"             \
	"     AS fr_percent,"                                                                      \
	"   x.res_met, x.res_total,"                                                               \
	"   CASE WHEN x.res_total > 0 THEN round(100.0 * x.res_met / x.res_total, 1) END"          \
	"     AS res_percent"                                                                      \
	" FROM x"

/* Rows (kind, clock, priority, n): SLA notices created in the period. */
#define R_NOTICES                                                                                  \
	"SELECT n.kind, n.clock, n.priority, count(*) AS n"                                        \
	" FROM p JOIN sla_notices n ON n.created_at BETWEEN p.since AND p.until"                   \
	" GROUP BY n.kind, n.clock, n.priority"

/* Rows (status, priority, pord, line, n): open tickets now. */
#define R_BACKLOG                                                                                  \
	"SELECT t.status, t.priority,"                                                             \
	"  array_position(ARRAY['critical', 'high', 'normal', 'low'], t.priority) AS pord,"        \
	"  t.line, count(*) AS n"                                                                  \
	" FROM tickets t WHERE t.status IN " R_OPEN_STATUSES                                       \
	" GROUP BY t.status, t.priority, t.line"

/* At most one row (id, age): the open ticket created first. */
#define R_OLDEST                                                                                   \
	"SELECT t.id, greatest(0, round(extract(epoch FROM p.until - t.created_at))) AS age"       \
	" FROM p, tickets t WHERE t.status IN " R_OPEN_STATUSES                                    \
	" ORDER BY t.created_at, t.id LIMIT 1"

/* One row (n, average, r1..r5): ratings given in the period. */
#define R_SATISFACTION                                                                             \
	"SELECT count(t.rating) AS n, round(avg(t.rating), 2) AS average,"                         \
	"  count(*) FILTER (WHERE t.rating = 1) AS r1,"                                            \
	"  count(*) FILTER (WHERE t.rating = 2) AS r2,"                                            \
	"  count(*) FILTER (WHERE t.rating = 3) AS r3,"                                            \
	"  count(*) FILTER (WHERE t.rating = 4) AS r4,"                                            \
	"  count(*) FILTER (WHERE t.rating = 5) AS r5"                                             \
	" FROM p JOIN tickets t ON t.rated_at BETWEEN p.since AND p.until"                         \
	"   AND t.rating IS NOT NULL"

/* Rows (day, type, n): tickets created per UTC day and type; every day of a
 * period up to R_DAILY_MAX seconds (days without tickets as one row with a
 * NULL type and 0), else only the days with tickets. */
#define R_DAYS                                                                                     \
	"SELECT d.day::text AS day, t.type, count(t.id) AS n"                                      \
	" FROM p CROSS JOIN (SELECT g::date AS day FROM p, generate_series("                       \
	"     date_trunc('day', p.since AT TIME ZONE 'UTC'), p.until AT TIME ZONE 'UTC',"          \
	"     interval '1 day') g WHERE $1::bigint <= " R_DAILY_MAX                                \
	"   UNION SELECT (t.created_at AT TIME ZONE 'UTC')::date FROM p"                           \
	"     JOIN tickets t ON t.created_at BETWEEN p.since AND p.until) d"                       \
	" LEFT JOIN tickets t ON t.created_at BETWEEN p.since AND p.until"                         \
	"   AND (t.created_at AT TIME ZONE 'UTC')::date = d.day"                                   \
	" GROUP BY d.day, t.type"

/* Rows (clock, ord, label, lo, hi, n): the clocks of the times section
 * (stopped in the period) per bucket, every bucket. */
#define R_DIST_CLOCK(name, secs, at)                                                               \
	"SELECT '" name "' AS clock, b.ord, b.label, b.lo, b.hi, count(t.id) AS n"                 \
	" FROM p CROSS JOIN " R_BUCKETS " b(ord, label, lo, hi)"                                    \
	" LEFT JOIN tickets t ON t." at " BETWEEN p.since AND p.until"                             \
	"   AND t." secs " >= b.lo AND (b.hi IS NULL OR t." secs " < b.hi)"                        \
	" GROUP BY b.ord, b.label, b.lo, b.hi"
#define R_DIST                                                                                     \
	R_DIST_CLOCK("first_response", "first_response_secs", "first_response_at")                 \
	" UNION ALL " R_DIST_CLOCK("resolution", "resolution_secs", "resolved_at")

/* Rows (type, n, share, ord): request types of the tickets created in the
 * period, those that occur. */
#define R_TOP_TYPES                                                                                \
	"SELECT t.type, count(*) AS n,"                                                            \
	"  round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS share, " R_TYPE_ORD("t.type")     \
	"  AS ord"                                                                                 \
	" FROM p JOIN tickets t ON t.created_at BETWEEN p.since AND p.until GROUP BY t.type"

/* lower() folds only ASCII in a database with the C locale (postdesk's own
 * tests run one): Cyrillic capitals are folded by translate() first, so the
 * keywords group the same on any server. */
#define R_LOWER(x)                                                                                 \
	"lower(translate(" x ", 'АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ',"                                \
	" 'абвгдеёжзийклмнопрстуфхцчшщъыьэюя'))"

/* Rows (keyword, n, share): the keywords that classification rules matched
 * in the tickets created in the period, lower-cased, once per ticket; the
 * ten most frequent (ties by keyword). */
#define R_TOP_KEYWORDS                                                                             \
	"SELECT k.keyword, count(DISTINCT k.id) AS n,"                                             \
	"  round(100.0 * count(DISTINCT k.id) / (SELECT count(*) FROM p, tickets c"                \
	"    WHERE c.created_at BETWEEN p.since AND p.until), 1) AS share"                         \
	" FROM (SELECT t.id, " R_LOWER("x->>'matched'") " AS keyword"                              \
	"   FROM p JOIN tickets t ON t.created_at BETWEEN p.since AND p.until"                     \
	"   JOIN events e ON e.ticket_id = t.id AND e.kind = 'ticket.classified'"                  \
	"   CROSS JOIN jsonb_array_elements(CASE jsonb_typeof(e.detail->'reasons')"                \
	"     WHEN 'array' THEN e.detail->'reasons' ELSE '[]'::jsonb END) x"                       \
	"   WHERE x->>'source' = 'keyword' AND coalesce(x->>'matched', '') <> '') k"               \
	" GROUP BY k.keyword ORDER BY n DESC, k.keyword LIMIT 10"

/* ------------------------------------------------------------ the JSON statement */

#define J_RATIO(pre)                                                                               \
	"json_build_object('met', sla." pre "_met, 'total', sla." pre "_total,"                    \
	" 'percent', sla." pre "_percent)"
#define J_RATIOS "'first_response', " J_RATIO("fr") ", 'resolution', " J_RATIO("res")
#define J_TIMES(clock)                                                                             \
	"(SELECT json_build_object('count', tim.n, 'median_seconds', tim.median,"                  \
	"   'p90_seconds', tim.p90) FROM tim WHERE tim.clock = '" clock "')"
#define J_DIST(clock)                                                                              \
	"(SELECT json_agg(json_build_object('bucket', dst.label, 'min_seconds', dst.lo,"           \
	"   'max_seconds', dst.hi, 'count', dst.n) ORDER BY dst.ord) FROM dst"                     \
	" WHERE dst.clock = '" clock "')"
#define J_NOTICES(cond) "(SELECT coalesce(sum(ntc.n), 0) FROM ntc WHERE " cond ")"
#define J_BACKLOG(cond) "(SELECT coalesce(sum(blg.n), 0) FROM blg WHERE " cond ")"

static const char SQL_JSON[] =
    "WITH " R_PERIOD ","
    " cnt AS (" R_COUNTS "), tim AS (" R_TIMES "), sla AS (" R_SLA "),"
    " ntc AS (" R_NOTICES "), blg AS (" R_BACKLOG "), old AS (" R_OLDEST "),"
    " sat AS (" R_SATISFACTION "), day AS (" R_DAYS "), dst AS (" R_DIST "),"
    " typ AS (" R_TOP_TYPES "), kwd AS (" R_TOP_KEYWORDS ")"
    " SELECT json_build_object("
    "  'since', cnt.since, 'until', cnt.until, 'period_seconds', $1::bigint,"
    "  'created', cnt.created, 'resolved', cnt.resolved,"
    "  'first_response', " J_TIMES("first_response") ","
    "  'resolution', " J_TIMES("resolution") ","
    "  'sla', json_build_object("
    "    'by_priority', (SELECT coalesce(json_agg(json_build_object('priority', sla.key, "
    J_RATIOS ") ORDER BY sla.ord), '[]') FROM sla WHERE sla.dim = 'priority'),"
    "    'by_line', (SELECT coalesce(json_agg(json_build_object('line', sla.key::integer, "
    J_RATIOS ") ORDER BY sla.ord), '[]') FROM sla WHERE sla.dim = 'line'),"
    "    'by_plan', (SELECT coalesce(json_agg(json_build_object('plan', sla.key, "
    J_RATIOS ") ORDER BY sla.ord, sla.key), '[]') FROM sla WHERE sla.dim = 'plan'),"
    "    'by_type', (SELECT coalesce(json_agg(json_build_object('type', sla.key, "
    J_RATIOS ") ORDER BY sla.ord, sla.key), '[]') FROM sla WHERE sla.dim = 'type'),"
    "    'all', (SELECT json_build_object(" J_RATIOS ") FROM sla WHERE sla.dim = 'all')),"
    "  'breaches', json_build_object("
    "    'total', " J_NOTICES("ntc.kind = 'breach'") ","
    "    'by_priority', (SELECT json_object_agg(v.key, "
    J_NOTICES("ntc.kind = 'breach' AND ntc.priority = v.key") " ORDER BY v.ord)"
    "      FROM " R_PRIORITIES " v(key, ord)),"
    "    'by_clock', json_build_object("
    "      'first_response', " J_NOTICES("ntc.kind = 'breach' AND ntc.clock = 'first_response'") ","
    "      'resolution', " J_NOTICES("ntc.kind = 'breach' AND ntc.clock = 'resolution'") ")),"
    "  'escalations', " J_NOTICES("ntc.kind = 'escalation'") ","
    "  'warnings', " J_NOTICES("ntc.kind = 'warning'") ","
    "  'backlog', json_build_object("
    "    'total', " J_BACKLOG("true") ","
    "    'by_status', (SELECT json_object_agg(v.key, " J_BACKLOG("blg.status = v.key")
    "      ORDER BY v.ord) FROM (VALUES ('new', 1), ('open', 2), ('pending', 3)) v(key, ord)),"
    "    'by_priority', (SELECT json_object_agg(v.key, " J_BACKLOG("blg.priority = v.key")
    "      ORDER BY v.ord) FROM " R_PRIORITIES " v(key, ord)),"
    "    'by_line', (SELECT coalesce(json_object_agg(b.line, b.n ORDER BY b.line), '{}')"
    "      FROM (SELECT blg.line, sum(blg.n) AS n FROM blg GROUP BY blg.line) b),"
    "    'by_line_priority', (SELECT coalesce(json_agg(json_build_object('line', b.line,"
    "        'priority', b.priority, 'count', b.n) ORDER BY b.line, b.pord), '[]')"
    "      FROM (SELECT blg.line, blg.priority, blg.pord, sum(blg.n) AS n FROM blg"
    "            GROUP BY blg.line, blg.priority, blg.pord) b),"
    "    'oldest_ticket', (SELECT old.id FROM old),"
    "    'oldest_age_seconds', (SELECT old.age FROM old)),"
    "  'satisfaction', json_build_object('average', sat.average, 'count', sat.n,"
    "    'distribution', json_build_object('1', sat.r1, '2', sat.r2, '3', sat.r3,"
    "      '4', sat.r4, '5', sat.r5)),"
    "  'per_day', (SELECT coalesce(json_agg(json_build_object('day', dd.day, 'total', dd.total,"
    "      'by_type', dd.by_type) ORDER BY dd.day), '[]')"
    "    FROM (SELECT d.day, sum(coalesce(y.n, 0)) AS total,"
    "            json_object_agg(v.key, coalesce(y.n, 0) ORDER BY v.ord) AS by_type"
    "          FROM (SELECT DISTINCT day.day FROM day) d CROSS JOIN " R_TYPES " v(key, ord)"
    "          LEFT JOIN day y ON y.day = d.day AND y.type = v.key GROUP BY d.day) dd),"
    "  'time_distribution', json_build_object("
    "    'first_response', " J_DIST("first_response") ","
    "    'resolution', " J_DIST("resolution") "),"
    "  'common_problems', json_build_object("
    "    'types', (SELECT coalesce(json_agg(json_build_object('type', typ.type,"
    "        'tickets', typ.n, 'share', typ.share) ORDER BY typ.n DESC, typ.ord), '[]') FROM typ),"
    "    'keywords', (SELECT coalesce(json_agg(json_build_object('keyword', kwd.keyword,"
    "        'tickets', kwd.n, 'share', kwd.share) ORDER BY kwd.n DESC, kwd.keyword), '[]')"
    "      FROM kwd)))"
    " FROM cnt, sat";

/* ------------------------------------------------------------ the row queries */

static const char SQL_COUNTS[] =
    "WITH " R_PERIOD ", q AS (" R_COUNTS ") SELECT q.since_text, q.until_text, q.created,"
    " q.resolved FROM q";
static const char SQL_TIMES[] =
    "WITH " R_PERIOD ", q AS (" R_TIMES ") SELECT q.clock, q.n, q.median, q.p90 FROM q";
static const char SQL_SLA[] =
    "WITH " R_PERIOD ", q AS (" R_SLA ") SELECT q.dim, q.key, q.fr_met, q.fr_total,"
    " q.fr_percent, q.res_met, q.res_total, q.res_percent FROM q ORDER BY q.grp, q.ord, q.key";
static const char SQL_NOTICES[] =
    "WITH " R_PERIOD ", q AS (" R_NOTICES ") SELECT q.kind, q.clock, q.priority, q.n FROM q"
    " ORDER BY q.kind, q.clock, q.priority";
/* the period is not used, but every section takes the same parameter */
static const char SQL_BACKLOG[] =
    "WITH " R_PERIOD ", q AS (" R_BACKLOG ") SELECT q.status, q.priority, q.line, q.n FROM q"
    " ORDER BY q.line, q.pord, q.status";
static const char SQL_OLDEST[] =
    "WITH " R_PERIOD ", q AS (" R_OLDEST ") SELECT q.id, q.age FROM q";
static const char SQL_DAYS[] =
    "WITH " R_PERIOD ", q AS (" R_DAYS ") SELECT q.day, q.type, q.n FROM q ORDER BY q.day";
static const char SQL_DIST[] =
    "WITH " R_PERIOD ", q AS (" R_DIST ") SELECT q.clock, q.label, q.lo, q.hi, q.n FROM q"
    " ORDER BY q.clock, q.ord";
static const char SQL_TOP_TYPES[] =
    "WITH " R_PERIOD ", q AS (" R_TOP_TYPES ") SELECT q.type, q.n, q.share FROM q"
    " ORDER BY q.n DESC, q.ord";
static const char SQL_TOP_KEYWORDS[] =
    "WITH " R_PERIOD ", q AS (" R_TOP_KEYWORDS ") SELECT q.keyword, q.n, q.share FROM q"
    " ORDER BY q.n DESC, q.keyword";
static const char SQL_SATISFACTION[] =
    "WITH " R_PERIOD ", q AS (" R_SATISFACTION ") SELECT q.n, q.average, q.r1, q.r2, q.r3,"
    " q.r4, q.r5 FROM q";

/* ------------------------------------------------------------ fetching */

static int64_t int_at(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* A non-negative number, or -1 for SQL NULL. */
static double num_at(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return -1;
	return strtod(PQgetvalue(res, row, col), NULL);
}

static void text_at(const PGresult *res, int row, int col, char *buf, size_t n)
{
	snprintf(buf, n, "%s", PQgetvalue(res, row, col));
}

/* Run one section; NULL (err filled) on failure or an unexpected shape. */
static PGresult *section(struct pd_db *db, const char *sql, const char *since, int ncols,
			 struct pd_err *err)
{
	const char *params[1] = {since};
	PGresult *res = pd_db_query(db, NULL, sql, 1, params, err);

	if (res != NULL && PQnfields(res) != ncols) {
		pd_err_set(err, PD_ERR_FATAL, PD_SRC_REPORT, 0,
			   "report query returned %d columns, not %d", PQnfields(res), ncols);
		PQclear(res);
		return NULL;
	}
	return res;
}

static void fill_times(struct pd_report *rep, const PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct pd_report_times *t = strcmp(PQgetvalue(res, i, 0), "first_response") == 0
						? &rep->first_response
						: &rep->resolution;
		t->count = int_at(res, i, 1);
		t->median = num_at(res, i, 2);
		t->p90 = num_at(res, i, 3);
	}
}

static void fill_sla(struct pd_report *rep, const PGresult *res)
{
	rep->n_sla = (size_t)PQntuples(res);
	rep->sla = pd_xcalloc(rep->n_sla ? rep->n_sla : 1, sizeof(*rep->sla));
	for (size_t i = 0; i < rep->n_sla; i++) {
		struct pd_report_sla_row *r = &rep->sla[i];
		int row = (int)i;

		text_at(res, row, 0, r->dim, sizeof(r->dim));
		text_at(res, row, 1, r->key, sizeof(r->key));
		r->first_response.met = int_at(res, row, 2);
		r->first_response.total = int_at(res, row, 3);
		r->first_response.percent = num_at(res, row, 4);
		r->resolution.met = int_at(res, row, 5);
		r->resolution.total = int_at(res, row, 6);
		r->resolution.percent = num_at(res, row, 7);
	}
}

static void fill_notices(struct pd_report *rep, const PGresult *res)
{
	rep->n_notices = (size_t)PQntuples(res);
	rep->notices = pd_xcalloc(rep->n_notices ? rep->n_notices : 1, sizeof(*rep->notices));
	for (size_t i = 0; i < rep->n_notices; i++) {
		struct pd_report_notices *n = &rep->notices[i];
		int row = (int)i;

		text_at(res, row, 0, n->kind, sizeof(n->kind));
		text_at(res, row, 1, n->clock, sizeof(n->clock));
		text_at(res, row, 2, n->priority, sizeof(n->priority));
		n->count = int_at(res, row, 3);
	}
}

static void fill_backlog(struct pd_report *rep, const PGresult *res)
{
	rep->n_backlog = (size_t)PQntuples(res);
	rep->backlog = pd_xcalloc(rep->n_backlog ? rep->n_backlog : 1, sizeof(*rep->backlog));
	for (size_t i = 0; i < rep->n_backlog; i++) {
		struct pd_report_backlog *b = &rep->backlog[i];
		int row = (int)i;

		text_at(res, row, 0, b->status, sizeof(b->status));
		text_at(res, row, 1, b->priority, sizeof(b->priority));
		b->line = (int)int_at(res, row, 2);
		b->count = int_at(res, row, 3);
	}
}

const char *const pd_report_types[PD_REPORT_N_TYPES] = {
    "question", "incident", "complaint", "suggestion", "refund", "access",
};

/* Rows (day, type, n) ordered by day: one pd_report_day per day. */
static void fill_days(struct pd_report *rep, const PGresult *res)
{
	int n = PQntuples(res);

	rep->days = pd_xcalloc(n ? (size_t)n : 1, sizeof(*rep->days));
	for (int i = 0; i < n; i++) {
		struct pd_report_day *d = &rep->days[rep->n_days ? rep->n_days - 1 : 0];
		const char *type = PQgetvalue(res, i, 1);

		if (rep->n_days == 0 || strcmp(d->day, PQgetvalue(res, i, 0)) != 0) {
			d = &rep->days[rep->n_days++];
			text_at(res, i, 0, d->day, sizeof(d->day));
		}
		for (size_t t = 0; t < PD_REPORT_N_TYPES; t++)
			if (!PQgetisnull(res, i, 1) && strcmp(type, pd_report_types[t]) == 0) {
				d->by_type[t] += int_at(res, i, 2);
				d->total += int_at(res, i, 2);
			}
	}
}

static void fill_buckets(struct pd_report *rep, const PGresult *res)
{
	size_t fr = 0, rs = 0;

	for (int i = 0; i < PQntuples(res); i++) {
		bool first = strcmp(PQgetvalue(res, i, 0), "first_response") == 0;
		size_t b = first ? fr++ : rs++;

		if (b >= PD_REPORT_N_BUCKETS)
			continue;
		text_at(res, i, 1, rep->buckets[b].label, sizeof(rep->buckets[b].label));
		rep->buckets[b].min_secs = int_at(res, i, 2);
		rep->buckets[b].max_secs = PQgetisnull(res, i, 3) ? -1 : int_at(res, i, 3);
		if (first)
			rep->buckets[b].first_response = int_at(res, i, 4);
		else
			rep->buckets[b].resolution = int_at(res, i, 4);
	}
}

/* Rows (name, n, share). */
static struct pd_report_share *fill_shares(const PGresult *res, size_t *n_r)
{
	struct pd_report_share *v;

	*n_r = (size_t)PQntuples(res);
	v = pd_xcalloc(*n_r ? *n_r : 1, sizeof(*v));
	for (size_t i = 0; i < *n_r; i++) {
		v[i].name = pd_xstrdup(PQgetvalue(res, (int)i, 0));
		v[i].tickets = int_at(res, (int)i, 1);
		v[i].percent = num_at(res, (int)i, 2);
	}
	return v;
}

static void fill_satisfaction(struct pd_report *rep, const PGresult *res)
{
	rep->rated = int_at(res, 0, 0);
	rep->rating_average = num_at(res, 0, 1);
	for (int i = 0; i < 5; i++)
		rep->ratings[i] = int_at(res, 0, 2 + i);
}

int pd_report_fetch(struct pd_db *db, int64_t since_secs, struct pd_report **rep_r,
		    struct pd_err *err)
{
	static const struct {
		const char *sql;
		int ncols;
	} q[] = {
	    {SQL_COUNTS, 4},  {SQL_TIMES, 4},  {SQL_SLA, 8},          {SQL_NOTICES, 4},
	    {SQL_BACKLOG, 4}, {SQL_OLDEST, 2}, {SQL_SATISFACTION, 7}, {SQL_DAYS, 3},
	    {SQL_DIST, 5},    {SQL_TOP_TYPES, 3}, {SQL_TOP_KEYWORDS, 3},
	};
	PGresult *res[PD_ARRAY_LEN(q)] = {NULL};
	struct pd_report *rep;
	char since[32];
	int rc = -1;

	*rep_r = NULL;
	snprintf(since, sizeof(since), "%" PRId64, since_secs);
	/* one snapshot and one now() for every section */
	if (pd_db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) < 0)
		return -1;
	for (size_t i = 0; i < PD_ARRAY_LEN(q); i++) {
		res[i] = section(db, q[i].sql, since, q[i].ncols, err);
		if (res[i] == NULL)
			goto out;
	}
	if (pd_db_commit(db, err) < 0)
		goto out;

	rep = pd_xcalloc(1, sizeof(*rep));
	rep->period_secs = since_secs;
	text_at(res[0], 0, 0, rep->since, sizeof(rep->since));
	text_at(res[0], 0, 1, rep->until, sizeof(rep->until));
	rep->created = int_at(res[0], 0, 2);
	rep->resolved = int_at(res[0], 0, 3);
	rep->first_response.median = rep->first_response.p90 = -1;
	rep->resolution.median = rep->resolution.p90 = -1;
	fill_times(rep, res[1]);
	fill_sla(rep, res[2]);
	fill_notices(rep, res[3]);
	fill_backlog(rep, res[4]);
	if (PQntuples(res[5]) == 1) {
		rep->oldest_ticket = int_at(res[5], 0, 0);
		rep->oldest_age = int_at(res[5], 0, 1);
	}
	fill_satisfaction(rep, res[6]);
	fill_days(rep, res[7]);
	fill_buckets(rep, res[8]);
	rep->top_types = fill_shares(res[9], &rep->n_top_types);
	rep->top_keywords = fill_shares(res[10], &rep->n_top_keywords);
	*rep_r = rep;
	rc = 0;
out:
	if (rc < 0)
		pd_db_rollback(db);
	for (size_t i = 0; i < PD_ARRAY_LEN(q); i++)
		PQclear(res[i]);
	return rc;
}

void pd_report_free(struct pd_report *rep)
{
	if (rep == NULL)
		return;
	free(rep->sla);
	free(rep->notices);
	free(rep->backlog);
	free(rep->days);
	for (size_t i = 0; i < rep->n_top_types; i++)
		free(rep->top_types[i].name);
	for (size_t i = 0; i < rep->n_top_keywords; i++)
		free(rep->top_keywords[i].name);
	free(rep->top_types);
	free(rep->top_keywords);
	free(rep);
}

int pd_report_json(struct pd_db *db, int64_t since_secs, char **json_r, struct pd_err *err)
{
	char since[32];
	const char *params[1] = {since};
	PGresult *res;

	*json_r = NULL;
	snprintf(since, sizeof(since), "%" PRId64, since_secs);
	res = pd_db_query(db, NULL, SQL_JSON, 1, params, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return pd_err_set(err, PD_ERR_FATAL, PD_SRC_REPORT, 0,
				  "report query returned no object");
	}
	*json_r = pd_xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* ------------------------------------------------------------ text */

static const char *const priorities[] = {"critical", "high", "normal", "low"};

const char *pd_report_duration(double secs, char *buf, size_t n)
{
	static const struct {
		int64_t secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};

	if (!(secs >= 0)) {
		snprintf(buf, n, "-");
		return buf;
	}
	int64_t s = (int64_t)(secs + 0.5); /* no libm for one rounding */
	size_t u = 0;
	while (u + 1 < PD_ARRAY_LEN(units) && s < units[u].secs)
		u++;
	int64_t big = s / units[u].secs;
	int64_t rest = u + 1 < PD_ARRAY_LEN(units) ? s % units[u].secs / units[u + 1].secs : 0;
	if (rest > 0)
		snprintf(buf, n, "%" PRId64 "%c %" PRId64 "%c", big, units[u].unit, rest,
			 units[u + 1].unit);
	else
		snprintf(buf, n, "%" PRId64 "%c", big, units[u].unit);
	return buf;
}

/* A count for a table cell: "-" for none. */
static const char *cell(int64_t v, char *buf, size_t n)
{
	if (v == 0)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%" PRId64, v);
	return buf;
}

static const char *ratio_text(const struct pd_report_ratio *r, char *buf, size_t n)
{
	if (r->total == 0)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%" PRId64 "/%" PRId64, r->met, r->total);
	return buf;
}

static const char *percent_text(const struct pd_report_ratio *r, char *buf, size_t n)
{
	if (r->total == 0 || r->percent < 0)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.1f%%", r->percent);
	return buf;
}

static void write_times(const struct pd_report *rep, FILE *out)
{
	char m[32], p[32];

	fprintf(out, "%-30s %8s %10s %10s\n", "RESPONSE TIMES (business time)", "COUNT", "MEDIAN",
		"90TH PCT");
	fprintf(out, "  %-28s %8" PRId64 " %10s %10s\n", "first response",
		rep->first_response.count, pd_report_duration(rep->first_response.median, m, 32),
		pd_report_duration(rep->first_response.p90, p, 32));
	fprintf(out, "  %-28s %8" PRId64 " %10s %10s\n", "resolution", rep->resolution.count,
		pd_report_duration(rep->resolution.median, m, 32),
		pd_report_duration(rep->resolution.p90, p, 32));
}

static void write_sla(const struct pd_report *rep, FILE *out)
{
	char a[32], b[32], c[32], d[32], label[80];
	int width = 14;

	/* the label column fits the longest plan or type name */
	for (size_t i = 0; i < rep->n_sla; i++) {
		int n = (int)(strlen(rep->sla[i].dim) + 1 + strlen(rep->sla[i].key));

		if (n > width)
			width = n;
	}
	fprintf(out, "SLA COMPLIANCE (tickets created in the period)\n");
	fprintf(out, "  %-*s %20s %20s\n", width, "", "FIRST RESPONSE", "RESOLUTION");
	fprintf(out, "  %-*s %12s %7s %12s %7s\n", width, "", "MET/TOTAL", "%", "MET/TOTAL", "%");
	for (size_t i = 0; i < rep->n_sla; i++) {
		const struct pd_report_sla_row *r = &rep->sla[i];

		if (strcmp(r->dim, "priority") == 0 || strcmp(r->dim, "all") == 0)
			snprintf(label, sizeof(label), "%s", r->key);
		else
			snprintf(label, sizeof(label), "%s %s", r->dim, r->key);
		fprintf(out, "  %-*s %12s %7s %12s %7s\n", width, label,
			ratio_text(&r->first_response, a, 32),
			percent_text(&r->first_response, b, 32),
			ratio_text(&r->resolution, c, 32), percent_text(&r->resolution, d, 32));
	}
}

static void write_distribution(const struct pd_report *rep, FILE *out)
{
	char buf[32];

	fprintf(out, "%-30s", "TIME DISTRIBUTION (business)");
	for (size_t b = 0; b < PD_REPORT_N_BUCKETS; b++)
		fprintf(out, " %7s", rep->buckets[b].label);
	fprintf(out, "\n  %-28s", "first response");
	for (size_t b = 0; b < PD_REPORT_N_BUCKETS; b++)
		fprintf(out, " %7s", cell(rep->buckets[b].first_response, buf, 32));
	fprintf(out, "\n  %-28s", "resolution");
	for (size_t b = 0; b < PD_REPORT_N_BUCKETS; b++)
		fprintf(out, " %7s", cell(rep->buckets[b].resolution, buf, 32));
	fputc('\n', out);
}

static void write_days(const struct pd_report *rep, FILE *out)
{
	char buf[32];

	if (rep->created == 0) {
		fprintf(out, "TICKETS PER DAY: none created in the period\n");
		return;
	}
	fprintf(out, "%-16s %6s", "TICKETS PER DAY", "TOTAL");
	for (size_t t = 0; t < PD_REPORT_N_TYPES; t++)
		fprintf(out, " %s", pd_report_types[t]);
	fputc('\n', out);
	for (size_t i = 0; i < rep->n_days; i++) {
		const struct pd_report_day *d = &rep->days[i];

		if (d->total == 0)
			continue;
		fprintf(out, "  %-14s %6" PRId64, d->day, d->total);
		for (size_t t = 0; t < PD_REPORT_N_TYPES; t++)
			fprintf(out, " %*s", (int)strlen(pd_report_types[t]),
				cell(d->by_type[t], buf, 32));
		fputc('\n', out);
	}
}

static void write_shares(FILE *out, const char *what, const struct pd_report_share *v, size_t n)
{
	fprintf(out, "  %7s %7s  %s\n", "TICKETS", "SHARE", what);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %7" PRId64 " %6.1f%%  %s\n", v[i].tickets, v[i].percent, v[i].name);
}

static void write_problems(const struct pd_report *rep, FILE *out)
{
	if (rep->created == 0) {
		fprintf(out, "COMMON PROBLEMS: no tickets created in the period\n");
		return;
	}
	fprintf(out, "COMMON PROBLEMS (tickets created in the period)\n");
	write_shares(out, "REQUEST TYPE", rep->top_types, rep->n_top_types);
	if (rep->n_top_keywords == 0)
		fprintf(out, "  no keyword rule matched\n");
	else
		write_shares(out, "KEYWORD", rep->top_keywords, rep->n_top_keywords);
}

static void write_notices(const struct pd_report *rep, FILE *out)
{
	static const struct {
		const char *kind, *label;
	} kinds[] = {
	    {"breach", "breaches"},
	    {"escalation", "escalations"},
	    {"warning", "warnings"},
	};
	char buf[32];

	fprintf(out, "%-13s %6s %9s %6s %7s %6s %15s %11s\n", "SLA NOTICES", "TOTAL", "CRITICAL",
		"HIGH", "NORMAL", "LOW", "FIRST RESPONSE", "RESOLUTION");
	for (size_t k = 0; k < PD_ARRAY_LEN(kinds); k++) {
		int64_t total = 0, by_prio[4] = {0}, fr = 0, res = 0;

		for (size_t i = 0; i < rep->n_notices; i++) {
			const struct pd_report_notices *n = &rep->notices[i];

			if (strcmp(n->kind, kinds[k].kind) != 0)
				continue;
			total += n->count;
			for (size_t p = 0; p < PD_ARRAY_LEN(priorities); p++)
				if (strcmp(n->priority, priorities[p]) == 0)
					by_prio[p] += n->count;
			if (strcmp(n->clock, "first_response") == 0)
				fr += n->count;
			else
				res += n->count;
		}
		fprintf(out, "  %-11s %6s", kinds[k].label, cell(total, buf, 32));
		fprintf(out, " %9s", cell(by_prio[0], buf, 32));
		fprintf(out, " %6s", cell(by_prio[1], buf, 32));
		fprintf(out, " %7s", cell(by_prio[2], buf, 32));
		fprintf(out, " %6s", cell(by_prio[3], buf, 32));
		fprintf(out, " %15s", cell(fr, buf, 32));
		fprintf(out, " %11s\n", cell(res, buf, 32));
	}
}

static void write_backlog_row(FILE *out, const char *label, const int64_t v[5])
{
	char buf[32];

	fprintf(out, "  %-11s", label);
	fprintf(out, " %9s", cell(v[0], buf, 32));
	fprintf(out, " %6s", cell(v[1], buf, 32));
	fprintf(out, " %7s", cell(v[2], buf, 32));
	fprintf(out, " %6s", cell(v[3], buf, 32));
	fprintf(out, " %6s\n", cell(v[4], buf, 32));
}

static void write_backlog(const struct pd_report *rep, FILE *out)
{
	static const char *const statuses[] = {"new", "open", "pending"};
	int64_t total[5] = {0}, by_status[3] = {0};
	char age[32];

	for (size_t i = 0; i < rep->n_backlog; i++) {
		const struct pd_report_backlog *b = &rep->backlog[i];

		for (size_t s = 0; s < PD_ARRAY_LEN(statuses); s++)
			if (strcmp(b->status, statuses[s]) == 0)
				by_status[s] += b->count;
		for (size_t p = 0; p < PD_ARRAY_LEN(priorities); p++)
			if (strcmp(b->priority, priorities[p]) == 0)
				total[p] += b->count;
		total[4] += b->count;
	}
	if (total[4] == 0) {
		fprintf(out, "BACKLOG NOW: no open tickets\n");
		return;
	}
	fprintf(out, "BACKLOG NOW: %" PRId64 " open (new %" PRId64 ", open %" PRId64
		     ", pending %" PRId64 "); oldest #%" PRId64 ", %s old\n",
		total[4], by_status[0], by_status[1], by_status[2], rep->oldest_ticket,
		pd_report_duration((double)rep->oldest_age, age, sizeof(age)));
	fprintf(out, "  %-11s %9s %6s %7s %6s %6s\n", "", "CRITICAL", "HIGH", "NORMAL", "LOW",
		"TOTAL");
	/* rows come ordered by line: one table row per line */
	for (size_t i = 0; i < rep->n_backlog;) {
		int line = rep->backlog[i].line;
		int64_t row[5] = {0};
		char label[32];

		for (; i < rep->n_backlog && rep->backlog[i].line == line; i++) {
			for (size_t p = 0; p < PD_ARRAY_LEN(priorities); p++)
				if (strcmp(rep->backlog[i].priority, priorities[p]) == 0)
					row[p] += rep->backlog[i].count;
			row[4] += rep->backlog[i].count;
		}
		snprintf(label, sizeof(label), "line %d", line);
		write_backlog_row(out, label, row);
	}
	write_backlog_row(out, "all", total);
}

static void write_satisfaction(const struct pd_report *rep, FILE *out)
{
	char buf[32];

	if (rep->rated == 0) {
		fprintf(out, "SATISFACTION: no ratings in the period\n");
		return;
	}
	fprintf(out, "SATISFACTION: average %.2f from %" PRId64 " rating%s\n", rep->rating_average,
		rep->rated, rep->rated == 1 ? "" : "s");
	fprintf(out, "  %-11s", "rating");
	for (int i = 1; i <= 5; i++)
		fprintf(out, " %5d", i);
	fprintf(out, "\n  %-11s", "count");
	for (int i = 0; i < 5; i++)
		fprintf(out, " %5s", cell(rep->ratings[i], buf, 32));
	fputc('\n', out);
}

void pd_report_write_text(const struct pd_report *rep, FILE *out)
{
	char period[32];

	fprintf(out, "Report for %s .. %s (last %s)\n\n", rep->since, rep->until,
		pd_report_duration((double)rep->period_secs, period, sizeof(period)));
	fprintf(out, "TICKETS\n");
	fprintf(out, "  %-28s %8" PRId64 "\n", "created", rep->created);
	fprintf(out, "  %-28s %8" PRId64 "\n\n", "resolved", rep->resolved);
	write_times(rep, out);
	fputc('\n', out);
	write_distribution(rep, out);
	fputc('\n', out);
	write_sla(rep, out);
	fputc('\n', out);
	write_notices(rep, out);
	fputc('\n', out);
	write_backlog(rep, out);
	fputc('\n', out);
	write_satisfaction(rep, out);
	fputc('\n', out);
	write_days(rep, out);
	fputc('\n', out);
	write_problems(rep, out);
}

/* ------------------------------------------------------------ HTML */

/* Colours people can tell apart (Okabe-Ito for the types). */
static const char *const type_colors[PD_REPORT_N_TYPES] = {
    "#0072B2", "#D55E00", "#CC79A7", "#009E73", "#E69F00", "#56B4E9",
};
static const char *const priority_colors[] = {"#C0392B", "#E67E22", "#2E86C1", "#95A5A6"};
#define COLOR_FR "#2E86C1"
#define COLOR_RES "#27AE60"

#define CHART_W 592
#define WIDE_W 1200
#define CHART_H 300

static const char HTML_STYLE[] =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px;color:#222;"
    "background:#f4f5f7}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}"
    ".period{color:#666;margin-bottom:16px}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:8px}"
    ".card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 14px;"
    "min-width:112px}"
    ".card .v{font-size:22px;font-weight:bold}.card .l{font-size:12px;color:#666}"
    ".card .s{font-size:11px;color:#888}"
    ".grid{display:grid;grid-template-columns:repeat(2," "592px);gap:16px}"
    ".wide{grid-column:1 / span 2}"
    "table{border-collapse:collapse;background:#fff;border:1px solid #ddd;width:100%}"
    "th,td{padding:5px 10px;border-bottom:1px solid #eee;text-align:right;font-size:13px}"
    "th{background:#fafafa;color:#555}th:first-child,td:first-child{text-align:left}"
    ".share{display:inline-block;height:10px;background:#2E86C1;vertical-align:middle;"
    "margin-right:6px}"
    ".none{color:#888;font-style:italic}footer{margin-top:24px;color:#999;font-size:11px}";

static void h(FILE *out, const char *s)
{
	pd_svg_escape(out, s);
}

static void card(FILE *out, const char *label, const char *value, const char *sub)
{
	fputs("<div class=\"card\"><div class=\"v\">", out);
	h(out, value);
	fputs("</div><div class=\"l\">", out);
	h(out, label);
	fputs("</div>", out);
	if (sub != NULL && *sub) {
		fputs("<div class=\"s\">", out);
		h(out, sub);
		fputs("</div>", out);
	}
	fputs("</div>\n", out);
}

static void html_cards(const struct pd_report *rep, FILE *out)
{
	const struct pd_report_sla_row *all = NULL;
	char v[64], sub[96], a[32], b[32];
	int64_t breaches = 0, backlog = 0;

	for (size_t i = 0; i < rep->n_sla; i++)
		if (strcmp(rep->sla[i].dim, "all") == 0)
			all = &rep->sla[i];
	for (size_t i = 0; i < rep->n_notices; i++)
		if (strcmp(rep->notices[i].kind, "breach") == 0)
			breaches += rep->notices[i].count;
	for (size_t i = 0; i < rep->n_backlog; i++)
		backlog += rep->backlog[i].count;

	fputs("<div class=\"cards\">\n", out);
	snprintf(v, sizeof(v), "%" PRId64, rep->created);
	card(out, "tickets created", v, NULL);
	snprintf(v, sizeof(v), "%" PRId64, rep->resolved);
	card(out, "tickets resolved", v, NULL);
	snprintf(sub, sizeof(sub), "90th pct %s, %" PRId64 " answered",
		 pd_report_duration(rep->first_response.p90, a, 32), rep->first_response.count);
	card(out, "first response, median", pd_report_duration(rep->first_response.median, b, 32),
	     sub);
	snprintf(sub, sizeof(sub), "90th pct %s, %" PRId64 " resolved",
		 pd_report_duration(rep->resolution.p90, a, 32), rep->resolution.count);
	card(out, "resolution, median", pd_report_duration(rep->resolution.median, b, 32), sub);
	if (all != NULL) {
		snprintf(sub, sizeof(sub), "%s met", ratio_text(&all->first_response, a, 32));
		card(out, "SLA first response", percent_text(&all->first_response, b, 32), sub);
		snprintf(sub, sizeof(sub), "%s met", ratio_text(&all->resolution, a, 32));
		card(out, "SLA resolution", percent_text(&all->resolution, b, 32), sub);
	}
	snprintf(v, sizeof(v), "%" PRId64, breaches);
	card(out, "SLA breaches", v, NULL);
	snprintf(v, sizeof(v), "%" PRId64, backlog);
	if (backlog > 0)
		snprintf(sub, sizeof(sub), "oldest #%" PRId64 ", %s old", rep->oldest_ticket,
			 pd_report_duration((double)rep->oldest_age, a, 32));
	else
		sub[0] = '\0';
	card(out, "open now", v, sub);
	if (rep->rated > 0)
		snprintf(v, sizeof(v), "%.2f", rep->rating_average);
	else
		snprintf(v, sizeof(v), "-");
	snprintf(sub, sizeof(sub), "%" PRId64 " rating%s", rep->rated, rep->rated == 1 ? "" : "s");
	card(out, "satisfaction (1-5)", v, sub);
	fputs("</div>\n", out);
}

static void chart(FILE *out, const struct pd_svg_bars *c, bool wide)
{
	fprintf(out, "<div class=\"%s\">\n", wide ? "wide" : "cell");
	pd_svg_bars(out, c);
	fputs("</div>\n", out);
}

static void html_days(const struct pd_report *rep, FILE *out)
{
	size_t n = rep->n_days;
	const char **cats = pd_xcalloc(n ? n : 1, sizeof(*cats));
	double *vals = pd_xcalloc(n * PD_REPORT_N_TYPES + 1, sizeof(*vals));
	struct pd_svg_series series[PD_REPORT_N_TYPES];

	for (size_t i = 0; i < n; i++)
		cats[i] = strlen(rep->days[i].day) == 10 ? rep->days[i].day + 5 : rep->days[i].day;
	for (size_t t = 0; t < PD_REPORT_N_TYPES; t++) {
		for (size_t i = 0; i < n; i++)
			vals[t * n + i] = (double)rep->days[i].by_type[t];
		series[t] = (struct pd_svg_series){pd_report_types[t], type_colors[t], vals + t * n};
	}
	chart(out,
	      &(struct pd_svg_bars){.title = "Tickets created per day, by request type",
				    .x_label = "day (UTC, month-day)",
				    .y_label = "tickets",
				    .categories = cats,
				    .n_categories = n,
				    .series = series,
				    .n_series = PD_REPORT_N_TYPES,
				    .stacked = true,
				    .width = WIDE_W,
				    .height = CHART_H},
	      true);
	free(cats);
	free(vals);
}

static void html_histograms(const struct pd_report *rep, FILE *out)
{
	const char *cats[PD_REPORT_N_BUCKETS];
	double fr[PD_REPORT_N_BUCKETS], res[PD_REPORT_N_BUCKETS];

	for (size_t b = 0; b < PD_REPORT_N_BUCKETS; b++) {
		cats[b] = rep->buckets[b].label;
		fr[b] = (double)rep->buckets[b].first_response;
		res[b] = (double)rep->buckets[b].resolution;
	}
	chart(out,
	      &(struct pd_svg_bars){
		  .title = "First response time (business time)",
		  .x_label = "time to the first answer",
		  .y_label = "tickets",
		  .categories = cats,
		  .n_categories = PD_REPORT_N_BUCKETS,
		  .series = &(struct pd_svg_series){"first response", COLOR_FR, fr},
		  .n_series = 1,
		  .width = CHART_W,
		  .height = CHART_H},
	      false);
	chart(out,
	      &(struct pd_svg_bars){
		  .title = "Resolution time (business time)",
		  .x_label = "time to resolution",
		  .y_label = "tickets",
		  .categories = cats,
		  .n_categories = PD_REPORT_N_BUCKETS,
		  .series = &(struct pd_svg_series){"resolution", COLOR_RES, res},
		  .n_series = 1,
		  .width = CHART_W,
		  .height = CHART_H},
	      false);
}

/* Grouped bars of SLA compliance % for the rows of one dimension. */
static void html_sla(const struct pd_report *rep, FILE *out, const char *dim, const char *title)
{
	size_t n = 0;
	const char **cats = pd_xcalloc(rep->n_sla + 1, sizeof(*cats));
	char (*labels)[80] = pd_xcalloc(rep->n_sla + 1, sizeof(*labels));
	double *fr = pd_xcalloc(rep->n_sla + 1, sizeof(*fr));
	double *res = pd_xcalloc(rep->n_sla + 1, sizeof(*res));

	for (size_t i = 0; i < rep->n_sla; i++) {
		const struct pd_report_sla_row *r = &rep->sla[i];

		if (strcmp(r->dim, dim) != 0)
			continue;
		if (strcmp(dim, "line") == 0)
			snprintf(labels[n], sizeof(labels[n]), "line %s", r->key);
		else
			snprintf(labels[n], sizeof(labels[n]), "%s", r->key);
		cats[n] = labels[n];
		fr[n] = r->first_response.total > 0 ? r->first_response.percent : -1;
		res[n] = r->resolution.total > 0 ? r->resolution.percent : -1;
		n++;
	}
	struct pd_svg_series series[2] = {
	    {"first response met", COLOR_FR, fr},
	    {"resolution met", COLOR_RES, res},
	};
	chart(out,
	      &(struct pd_svg_bars){.title = title,
				    .y_label = "% of tickets within target",
				    .categories = cats,
				    .n_categories = n,
				    .series = series,
				    .n_series = 2,
				    .y_max = 100,
				    .suffix = "%",
				    .width = CHART_W,
				    .height = CHART_H},
	      false);
	free(cats);
	free(labels);
	free(fr);
	free(res);
}

static void html_backlog(const struct pd_report *rep, FILE *out)
{
	size_t n = 0;
	const char **cats = pd_xcalloc(rep->n_backlog + 1, sizeof(*cats));
	char (*labels)[16] = pd_xcalloc(rep->n_backlog + 1, sizeof(*labels));
	double *vals = pd_xcalloc(4 * (rep->n_backlog + 1), sizeof(*vals));
	size_t stride = rep->n_backlog + 1;
	struct pd_svg_series series[4];

	/* rows come ordered by line: one category per line */
	for (size_t i = 0; i < rep->n_backlog; i++) {
		const struct pd_report_backlog *b = &rep->backlog[i];

		if (n == 0 || b->line != rep->backlog[i - 1].line) {
			snprintf(labels[n], sizeof(labels[n]), "line %d", b->line);
			cats[n] = labels[n];
			n++;
		}
		for (size_t p = 0; p < PD_ARRAY_LEN(priorities); p++)
			if (strcmp(b->priority, priorities[p]) == 0)
				vals[p * stride + n - 1] += (double)b->count;
	}
	for (size_t p = 0; p < PD_ARRAY_LEN(priorities); p++)
		series[p] = (struct pd_svg_series){priorities[p], priority_colors[p],
						   vals + p * stride};
	chart(out,
	      &(struct pd_svg_bars){.title = "Open tickets now, by support line and priority",
				    .x_label = "support line",
				    .y_label = "open tickets",
				    .categories = cats,
				    .n_categories = n,
				    .series = series,
				    .n_series = 4,
				    .stacked = true,
				    .width = CHART_W,
				    .height = CHART_H},
	      false);
	free(cats);
	free(labels);
	free(vals);
}

static void html_ratings(const struct pd_report *rep, FILE *out)
{
	static const char *const cats[] = {"1", "2", "3", "4", "5"};
	double v[5];

	for (int i = 0; i < 5; i++)
		v[i] = (double)rep->ratings[i];
	chart(out,
	      &(struct pd_svg_bars){
		  .title = "Customer ratings given in the period",
		  .x_label = "rating (1 = bad, 5 = great)",
		  .y_label = "ratings",
		  .categories = cats,
		  .n_categories = 5,
		  .series = &(struct pd_svg_series){"ratings", "#8E44AD", v},
		  .n_series = 1,
		  .width = CHART_W,
		  .height = CHART_H},
	      false);
}

static void html_shares(FILE *out, const char *what, const struct pd_report_share *v, size_t n,
			const char *none)
{
	fputs("<div class=\"cell\"><table><tr><th>", out);
	h(out, what);
	fputs("</th><th>tickets</th><th>share of created</th></tr>\n", out);
	if (n == 0) {
		fputs("<tr><td class=\"none\" colspan=\"3\">", out);
		h(out, none);
		fputs("</td></tr>\n", out);
	}
	for (size_t i = 0; i < n; i++) {
		double pct = v[i].percent < 0 ? 0 : v[i].percent > 100 ? 100 : v[i].percent;

		fputs("<tr><td>", out);
		h(out, v[i].name);
		fprintf(out,
			"</td><td>%" PRId64 "</td><td><span class=\"share\" style=\"width:%.0fpx\">"
			"</span>%.1f%%</td></tr>\n",
			v[i].tickets, pct * 1.2, v[i].percent);
	}
	fputs("</table></div>\n", out);
}

static void html_notices(const struct pd_report *rep, FILE *out)
{
	static const char *const kinds[] = {"breach", "escalation", "warning"};
	static const char *const labels[] = {"breaches", "escalations", "warnings"};

	fputs("<table><tr><th>SLA notices</th>", out);
	for (size_t p = 0; p < PD_ARRAY_LEN(priorities); p++)
		fprintf(out, "<th>%s</th>", priorities[p]);
	fputs("<th>first response</th><th>resolution</th><th>total</th></tr>\n", out);
	for (size_t k = 0; k < PD_ARRAY_LEN(kinds); k++) {
		int64_t by_prio[4] = {0}, fr = 0, res = 0, total = 0;

		for (size_t i = 0; i < rep->n_notices; i++) {
			const struct pd_report_notices *n = &rep->notices[i];

			if (strcmp(n->kind, kinds[k]) != 0)
				continue;
			for (size_t p = 0; p < PD_ARRAY_LEN(priorities); p++)
				if (strcmp(n->priority, priorities[p]) == 0)
					by_prio[p] += n->count;
			if (strcmp(n->clock, "first_response") == 0)
				fr += n->count;
			else
				res += n->count;
			total += n->count;
		}
		fprintf(out, "<tr><td>%s</td>", labels[k]);
		for (size_t p = 0; p < PD_ARRAY_LEN(priorities); p++)
			fprintf(out, "<td>%" PRId64 "</td>", by_prio[p]);
		fprintf(out, "<td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64 "</td></tr>\n", fr,
			res, total);
	}
	fputs("</table>\n", out);
}

void pd_report_write_html(const struct pd_report *rep, FILE *out)
{
	char period[32];

	pd_report_duration((double)rep->period_secs, period, sizeof(period));
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
	      "postdesk report: ",
	      out);
	h(out, rep->since);
	fputs(" .. ", out);
	h(out, rep->until);
	fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n", HTML_STYLE);
	fputs("<h1>Support report</h1>\n<div class=\"period\">", out);
	h(out, rep->since);
	fputs(" .. ", out);
	h(out, rep->until);
	fputs(" (last ", out);
	h(out, period);
	fputs("); times in business hours of each ticket's SLA calendar</div>\n", out);
	html_cards(rep, out);

	fputs("<h2>Volume</h2>\n<div class=\"grid\">\n", out);
	html_days(rep, out);
	fputs("</div>\n<h2>Response times</h2>\n<div class=\"grid\">\n", out);
	html_histograms(rep, out);
	fputs("</div>\n<h2>SLA compliance (tickets created in the period)</h2>\n"
	      "<div class=\"grid\">\n",
	      out);
	html_sla(rep, out, "priority", "SLA compliance by priority");
	html_sla(rep, out, "plan", "SLA compliance by customer plan");
	html_sla(rep, out, "line", "SLA compliance by support line");
	html_sla(rep, out, "type", "SLA compliance by request type");
	fputs("<div class=\"wide\">\n", out);
	html_notices(rep, out);
	fputs("</div>\n</div>\n<h2>Backlog and satisfaction</h2>\n<div class=\"grid\">\n", out);
	html_backlog(rep, out);
	html_ratings(rep, out);
	fputs("</div>\n<h2>Common problems (tickets created in the period)</h2>\n"
	      "<div class=\"grid\">\n",
	      out);
	html_shares(out, "request type", rep->top_types, rep->n_top_types,
		    "no tickets created in the period");
	html_shares(out, "keyword matched by the rules", rep->top_keywords, rep->n_top_keywords,
		    "no keyword rule matched");
	fputs("</div>\n<footer>postdesk " PACKAGE_VERSION " &middot; generated from the ticket "
	      "database; no scripts, nothing loaded from the network</footer>\n</body>\n</html>\n",
	      out);
}
