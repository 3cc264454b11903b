/*
 * report.c - `postdesk report` (see report.h).
 *
 * Owns the report's SQL and its text layout.  The SQL is a set of sections,
 * each a SELECT over the period CTE `p` (since, until = now()); the JSON
 * statement joins them all as CTEs of one statement, pd_report_fetch() runs
 * them one by one in a single read-only snapshot.  So the text and the JSON
 * show the same numbers by construction, and the C side only copies and
 * lays out: every count, percentile, percentage and average is PostgreSQL's.
 * The only parameter, $1, is the period in seconds.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "report.h"
#include "util.h"

/* ------------------------------------------------------------ SQL sections */

#define R_PERIOD \
	"p AS (SELECT now() - make_interval(secs => $1::bigint) AS since, now() AS until)"

#define R_PRIORITIES "(VALUES ('critical', 1), ('high', 2), ('normal', 3), ('low', 4))"
#define R_OPEN_STATUSES "('new', 'open', 'pending')"

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
 * res_total, res_percent): the four priorities, the lines seen, all. */
#define R_SLA                                                                                      \
	"WITH s AS (SELECT t.priority, t.line, "                                                   \
	R_SLA_OUTCOME("first_response_target", "first_response_secs", "first_response_at",         \
		      "first_response_due") " AS fr, "                                             \
	R_SLA_OUTCOME("resolution_target", "resolution_secs", "resolved_at",                       \
		      "resolution_due") " AS res"                                                  \
	"   FROM p JOIN tickets t ON t.created_at BETWEEN p.since AND p.until"                     \
	"   WHERE coalesce(t.first_response_target, 0) > 0"                                        \
	"      OR coalesce(t.resolution_target, 0) > 0),"                                          \
	" g AS (SELECT grouping(s.priority, s.line) AS gs, s.priority, s.line,"                    \
	"   count(*) FILTER (WHERE s.fr) AS fr_met, count(s.fr) AS fr_total,"                      \
	"   count(*) FILTER (WHERE s.res) AS res_met, count(s.res) AS res_total"                   \
	"   FROM s GROUP BY GROUPING SETS ((s.priority), (s.line), ())),"                          \
	" x AS (SELECT 'priority' AS dim, v.key, 1 AS grp, v.ord,"                                 \
	"     coalesce(g.fr_met, 0) AS fr_met, coalesce(g.fr_total, 0) AS fr_total,"               \
	"     coalesce(g.res_met, 0) AS res_met, coalesce(g.res_total, 0) AS res_total"            \
	"   FROM " R_PRIORITIES " v(key, ord) LEFT JOIN g ON g.gs = 1 AND g.priority = v.key"      \
	"   UNION ALL SELECT 'line', g.line::text, 2, g.line, g.fr_met, g.fr_total,"               \
	"     g.res_met, g.res_total FROM g WHERE g.gs = 2"                                        \
	"   UNION ALL SELECT 'all', 'all', 3, 0, g.fr_met, g.fr_total,"                            \
	"     g.res_met, g.res_total FROM g WHERE g.gs = 3)"                                       \
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

/* ------------------------------------------------------------ the JSON statement */

#define J_RATIO(pre)                                                                               \
	"json_build_object('met', sla." pre "_met, 'total', sla." pre "_total,"                    \
	" 'percent', sla." pre "_percent)"
#define J_RATIOS "'first_response', " J_RATIO("fr") ", 'resolution', " J_RATIO("res")
#define J_TIMES(clock)                                                                             \
	"(SELECT json_build_object('count', tim.n, 'median_seconds', tim.median,"                  \
	"   'p90_seconds', tim.p90) FROM tim WHERE tim.clock = '" clock "')"
#define J_NOTICES(cond) "(SELECT coalesce(sum(ntc.n), 0) FROM ntc WHERE " cond ")"
#define J_BACKLOG(cond) "(SELECT coalesce(sum(blg.n), 0) FROM blg WHERE " cond ")"

static const char SQL_JSON[] =
    "WITH " R_PERIOD ","
    " cnt AS (" R_COUNTS "), tim AS (" R_TIMES "), sla AS (" R_SLA "),"
    " ntc AS (" R_NOTICES "), blg AS (" R_BACKLOG "), old AS (" R_OLDEST "),"
    " sat AS (" R_SATISFACTION ")"
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
    "      '4', sat.r4, '5', sat.r5)))"
    " FROM cnt, sat";

/* ------------------------------------------------------------ the row queries */

static const char SQL_COUNTS[] =
    "WITH " R_PERIOD ", q AS (" R_COUNTS ") SELECT q.since_text, q.until_text, q.created,"
    " q.resolved FROM q";
static const char SQL_TIMES[] =
    "WITH " R_PERIOD ", q AS (" R_TIMES ") SELECT q.clock, q.n, q.median, q.p90 FROM q";
static const char SQL_SLA[] =
    "WITH " R_PERIOD ", q AS (" R_SLA ") SELECT q.dim, q.key, q.fr_met, q.fr_total,"
    " q.fr_percent, q.res_met, q.res_total, q.res_percent FROM q ORDER BY q.grp, q.ord";
static const char SQL_NOTICES[] =
    "WITH " R_PERIOD ", q AS (" R_NOTICES ") SELECT q.kind, q.clock, q.priority, q.n FROM q"
    " ORDER BY q.kind, q.clock, q.priority";
/* the period is not used, but every section takes the same parameter */
static const char SQL_BACKLOG[] =
    "WITH " R_PERIOD ", q AS (" R_BACKLOG ") SELECT q.status, q.priority, q.line, q.n FROM q"
    " ORDER BY q.line, q.pord, q.status";
static const char SQL_OLDEST[] =
    "WITH " R_PERIOD ", q AS (" R_OLDEST ") SELECT q.id, q.age FROM q";
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
		pd_err_set(err, PD_ERR_FATAL, "report", 0,
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
	    {SQL_BACKLOG, 4}, {SQL_OLDEST, 2}, {SQL_SATISFACTION, 7},
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
		return pd_err_set(err, PD_ERR_FATAL, "report", 0,
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
	char a[32], b[32], c[32], d[32], label[48];

	fprintf(out, "SLA COMPLIANCE (tickets created in the period)\n");
	fprintf(out, "  %-14s %20s %20s\n", "", "FIRST RESPONSE", "RESOLUTION");
	fprintf(out, "  %-14s %12s %7s %12s %7s\n", "", "MET/TOTAL", "%", "MET/TOTAL", "%");
	for (size_t i = 0; i < rep->n_sla; i++) {
		const struct pd_report_sla_row *r = &rep->sla[i];

		if (strcmp(r->dim, "priority") == 0 || strcmp(r->dim, "all") == 0)
			snprintf(label, sizeof(label), "%s", r->key);
		else
			snprintf(label, sizeof(label), "%s %s", r->dim, r->key);
		fprintf(out, "  %-14s %12s %7s %12s %7s\n", label,
			ratio_text(&r->first_response, a, 32),
			percent_text(&r->first_response, b, 32),
			ratio_text(&r->resolution, c, 32), percent_text(&r->resolution, d, 32));
	}
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
	write_sla(rep, out);
	fputc('\n', out);
	write_notices(rep, out);
	fputc('\n', out);
	write_backlog(rep, out);
	fputc('\n', out);
	write_satisfaction(rep, out);
}
