/*
 * slascan.c - SLA clocks kept in PostgreSQL and the scan that notifies and
 * escalates (see slascan.h).  The arithmetic is sla.c's and calendar.c's;
 * this file only moves the state in and out of the tickets table.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "db_int.h"
#include "log.h"
#include "slascan.h"
#include "util.h"

/* ------------------------------------------------------------ targets */

/* The targets for priority on line under plan; the sla section that
 * applies is copied into *s and the calendars are built into *cal and
 * *warn_cal (free both with pd_calendar_free; either may be NULL).  Returns
 * NULL (and leaves *s alone) when no target applies. */
static const struct pd_sla_targets *targets_for(const struct pd_config *cfg, const char *plan,
						const char *priority, int line,
						struct pd_sla_targets *t, struct pd_sla_cfg *s,
						struct pd_calendar **cal,
						struct pd_calendar **warn_cal)
{
	const struct pd_line_cfg *l = pd_config_line(cfg, line);

	*cal = *warn_cal = NULL;
	if (!pd_config_sla_for(cfg, plan, priority, s))
		return NULL;
	*cal = pd_calendar_new(strcmp(s->calendar, "24x7") == 0
				   ? NULL
				   : pd_config_calendar(cfg, s->calendar));
	if (l != NULL && l->calendar != NULL)
		*warn_cal = pd_calendar_new(strcmp(l->calendar, "24x7") == 0
						? NULL
						: pd_config_calendar(cfg, l->calendar));
	memset(t, 0, sizeof(*t));
	t->first_response = s->first_response;
	t->resolution = s->resolution;
	t->warn_at = s->warn_at;
	t->cal = *cal;
	t->warn_cal = *warn_cal;
	return t;
}

void pd_slascan_initial(const struct pd_config *cfg, const char *plan, const char *priority,
			int line, time_t now, struct pd_sla_initial *out)
{
	struct pd_sla_targets tb;
	struct pd_sla_cfg sb;
	struct pd_calendar *cal, *wcal;
	const struct pd_sla_targets *t =
	    targets_for(cfg, plan, priority, line, &tb, &sb, &cal, &wcal);
	const struct pd_sla_cfg *s = t != NULL ? &sb : NULL;

	memset(out, 0, sizeof(*out));
	out->st.running_wanted = true;
	out->st.first_response_secs = -1;
	out->st.resolution_secs = -1;
	pd_sla_update(t, &out->st, now);
	if (s != NULL) {
		out->first_response_target = s->first_response;
		out->resolution_target = s->resolution;
		out->calendar = s->calendar;
	}
	pd_calendar_free(cal);
	pd_calendar_free(wcal);
}

/* ------------------------------------------------------------ helpers */

static void fmt_i64(char *buf, size_t len, int64_t v)
{
	snprintf(buf, len, "%" PRId64, v);
}

/* A timestamp parameter: Unix seconds as text, "" for NULL (nullif'd in SQL). */
static void fmt_time(char *buf, size_t len, time_t t)
{
	if (t == 0)
		buf[0] = '\0';
	else
		snprintf(buf, len, "%lld", (long long)t);
}

static time_t get_time(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : (time_t)strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static int64_t get_int(PGresult *res, int row, int col, int64_t dflt)
{
	return PQgetisnull(res, row, col) ? dflt : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

#define EPOCH(col) "extract(epoch FROM " col ")::bigint"
#define TS(n) "to_timestamp(nullif($" #n ", '')::double precision)"

/* ------------------------------------------------------------ sync */

static const char SQL_CLOCK[] =
    "SELECT status, priority, line, " EPOCH("sla_since") ", sla_used,"
    " first_response_at IS NOT NULL, first_response_secs, resolution_secs,"
    " " EPOCH("first_response_due") ", " EPOCH("first_response_warn") ","
    " " EPOCH("resolution_due") ", " EPOCH("resolution_warn") ", plan"
    " FROM tickets WHERE id = $1::bigint FOR UPDATE";

static const char SQL_CLOCK_SET[] =
    "UPDATE tickets SET sla_since = " TS(2) ", sla_used = $3::bigint,"
    " first_response_secs = nullif($4, '')::bigint, resolution_secs = nullif($5, '')::bigint,"
    " first_response_due = " TS(6) ", first_response_warn = " TS(7) ","
    " resolution_due = " TS(8) ", resolution_warn = " TS(9) ","
    " first_response_target = nullif($10, '')::bigint,"
    " resolution_target = nullif($11, '')::bigint, sla_calendar = nullif($12, '')"
    " WHERE id = $1::bigint";

int pd_slascan_sync(struct pd_db *db, const struct pd_config *cfg, int64_t ticket, time_t now,
		    struct pd_err *err)
{
	char id[24], since[24], used[24], frs[24], rss[24], frd[24], frw[24], rsd[24], rsw[24];
	char frt[24] = "", rst[24] = "";
	const char *v[12] = {id};
	struct pd_sla_state st;
	struct pd_sla_targets tb;
	struct pd_calendar *cal, *wcal;
	PGresult *res;

	fmt_i64(id, sizeof(id), ticket);
	res = pd_db_query(db, "pd_sla_clock", SQL_CLOCK, 1, v, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	const char *status = PQgetvalue(res, 0, 0);
	memset(&st, 0, sizeof(st));
	st.running_wanted = strcmp(status, "new") == 0 || strcmp(status, "open") == 0;
	st.resolved = strcmp(status, "resolved") == 0 || strcmp(status, "closed") == 0;
	st.since = get_time(res, 0, 3);
	st.used = get_int(res, 0, 4, 0);
	st.responded = PQgetvalue(res, 0, 5)[0] == 't';
	st.first_response_secs = get_int(res, 0, 6, -1);
	st.resolution_secs = get_int(res, 0, 7, -1);
	st.fr_due = get_time(res, 0, 8);
	st.fr_warn = get_time(res, 0, 9);
	st.res_due = get_time(res, 0, 10);
	st.res_warn = get_time(res, 0, 11);
	const char *priority = PQgetvalue(res, 0, 1);
	const char *plan = PQgetisnull(res, 0, 12) ? NULL : PQgetvalue(res, 0, 12);
	struct pd_sla_cfg sb;
	const struct pd_sla_targets *t =
	    targets_for(cfg, plan, priority, (int)get_int(res, 0, 2, 1), &tb, &sb, &cal, &wcal);
	const struct pd_sla_cfg *s = t != NULL ? &sb : NULL;

	pd_sla_update(t, &st, now);
	pd_calendar_free(cal);
	pd_calendar_free(wcal);
	PQclear(res); /* plan pointed into it */

	fmt_time(since, sizeof(since), st.since);
	fmt_i64(used, sizeof(used), st.used);
	frs[0] = rss[0] = '\0';
	if (st.first_response_secs >= 0)
		fmt_i64(frs, sizeof(frs), st.first_response_secs);
	if (st.resolution_secs >= 0)
		fmt_i64(rss, sizeof(rss), st.resolution_secs);
	fmt_time(frd, sizeof(frd), st.fr_due);
	fmt_time(frw, sizeof(frw), st.fr_warn);
	fmt_time(rsd, sizeof(rsd), st.res_due);
	fmt_time(rsw, sizeof(rsw), st.res_warn);
	if (s != NULL && s->first_response > 0)
		fmt_i64(frt, sizeof(frt), s->first_response);
	if (s != NULL && s->resolution > 0)
		fmt_i64(rst, sizeof(rst), s->resolution);
	v[1] = since;
	v[2] = used;
	v[3] = frs;
	v[4] = rss;
	v[5] = frd;
	v[6] = frw;
	v[7] = rsd;
	v[8] = rsw;
	v[9] = frt;
	v[10] = rst;
	v[11] = s != NULL ? s->calendar : "";
	/* no result needed: inside a transaction it travels with the next query */
	return pd_db_defer(db, "pd_sla_clock_set", SQL_CLOCK_SET, 12, v, err);
}

/* ------------------------------------------------------------ scan */

static const char SQL_DUE[] =
    "SELECT id, priority, line, status,"
    " first_response_at IS NOT NULL OR first_response_due IS NULL,"
    " " EPOCH("first_response_due") ", " EPOCH("first_response_warn") ","
    " " EPOCH("first_response_warned") ", " EPOCH("first_response_breached") ","
    " resolution_due IS NULL,"
    " " EPOCH("resolution_due") ", " EPOCH("resolution_warn") ","
    " " EPOCH("resolution_warned") ", " EPOCH("resolution_breached")
    " FROM tickets WHERE next_sla_at <= to_timestamp($1::double precision)"
    " ORDER BY next_sla_at LIMIT $2::int FOR UPDATE SKIP LOCKED";

/* Record one notice; returns 1 when it is new (send it), 0 when another
 * scan already recorded it, -1 on error. */
static int record_notice(struct pd_db *db, int64_t ticket, const char *clock, const char *kind,
			 time_t due, const char *priority, int line, time_t now,
			 struct pd_err *err)
{
	char id[24], d[24], l[24], late[24];
	const char *v[7] = {id, clock, kind, d, priority, l, late};
	PGresult *res;
	int fresh;

	fmt_i64(id, sizeof(id), ticket);
	fmt_time(d, sizeof(d), due);
	fmt_i64(l, sizeof(l), line);
	fmt_i64(late, sizeof(late), (int64_t)(now - due));
	res = pd_db_query(
	    db, "pd_sla_notice",
	    "WITH n AS (INSERT INTO sla_notices (ticket_id, clock, kind, due_at, priority, line)"
	    "  VALUES ($1::bigint, $2, $3, to_timestamp($4::double precision), $5, $6::int)"
	    "  ON CONFLICT (ticket_id, clock, kind, due_at) DO NOTHING RETURNING id),"
	    " e AS (INSERT INTO events (ticket_id, actor, kind, detail)"
	    "  SELECT $1::bigint, 'system', 'sla.' || $3, jsonb_build_object('clock', $2::text,"
	    "    'due', to_timestamp($4::double precision), 'priority', $5::text,"
	    "    'line', $6::int, 'late_seconds', $7::bigint) FROM n)"
	    "SELECT count(*) FROM n",
	    7, v, err);
	if (res == NULL)
		return -1;
	fresh = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	return fresh;
}

/* The next configured line above line, or 0. */
static int next_line(const struct pd_config *cfg, int line)
{
	for (size_t i = 0; i < cfg->n_lines; i++)
		if (cfg->lines[i].number > line)
			return cfg->lines[i].number;
	return 0;
}

static int escalate(struct pd_db *db, int64_t ticket, int from, int to, const char *clock,
		    struct pd_err *err)
{
	char id[24], f[24], t[24];
	const char *v[4] = {id, f, t, clock};

	fmt_i64(id, sizeof(id), ticket);
	fmt_i64(f, sizeof(f), from);
	fmt_i64(t, sizeof(t), to);
	return pd_db_defer(
	    db, "pd_sla_escalate",
	    "WITH u AS (UPDATE tickets SET line = $3::int, updated_at = now()"
	    "           WHERE id = $1::bigint)"
	    "INSERT INTO events (ticket_id, actor, kind, detail)"
	    " VALUES ($1::bigint, 'system', 'line.escalated', jsonb_build_object('from', $2::int,"
	    "         'to', $3::int, 'reason', $4::text || ' SLA breached'))",
	    4, v, err);
}

/* Send a notice mail, when mail is on.  A template problem is logged and
 * does not stop the scan (the notice stays recorded). */
static int notice_mail(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
		       const struct pd_sla_notice_info *n, struct pd_err *err)
{
	struct pd_err ce;

	if (!cfg->smtp.enabled)
		return 0;
	pd_err_clear(&ce);
	if (pd_compose_sla_notice(db, cfg, ticket, n, &ce) < 0) {
		if (strcmp(ce.src, "db") == 0)
			return *err = ce, -1;
		pd_log_err("ticket=%" PRId64 ": no %s notice sent: %s", ticket, n->kind, ce.msg);
	}
	return 0;
}

/* Whether warnings to lines a and b keep the same hours (their calendars). */
static bool same_hours(const struct pd_config *cfg, int a, int b)
{
	const struct pd_line_cfg *la = pd_config_line(cfg, a), *lb = pd_config_line(cfg, b);
	const char *ca = la != NULL ? la->calendar : NULL, *cb = lb != NULL ? lb->calendar : NULL;

	return ca == cb || (ca != NULL && cb != NULL && strcmp(ca, cb) == 0);
}

/* Everything due on one claimed ticket (row r of res). */
static int scan_ticket(struct pd_db *db, const struct pd_config *cfg, PGresult *res, int r,
		       time_t now, struct pd_slascan_stats *stats, struct pd_err *err)
{
	int64_t ticket = strtoll(PQgetvalue(res, r, 0), NULL, 10);
	const char *priority = PQgetvalue(res, r, 1);
	int line = (int)get_int(res, r, 2, 1);
	const int first_line = line;
	bool escalated = false;
	char id[24], marks[4][24];
	bool set[4] = {false, false, false, false}; /* fr warned, fr breached, res warned, res
						     * breached: set to the due time */

	fmt_i64(id, sizeof(id), ticket);
	for (int c = 0; c < 2; c++) {
		int base = c == 0 ? 4 : 9;
		struct pd_sla_clock_view cv = {
		    .stopped = PQgetvalue(res, r, base)[0] == 't',
		    .due = get_time(res, r, base + 1),
		    .warn = get_time(res, r, base + 2),
		    .warned = get_time(res, r, base + 3),
		    .breached = get_time(res, r, base + 4),
		};
		const char *clock = pd_sla_clock_name((enum pd_sla_clock)c);
		enum pd_sla_notice n = pd_sla_due_notice(&cv, now);

		if (n == PD_SLA_NONE)
			continue;
		int fresh = record_notice(db, ticket, clock, pd_sla_notice_name(n), cv.due, priority,
					  line, now, err);
		if (fresh < 0)
			return -1;
		set[c * 2] = true; /* after a breach a warning would only repeat the news */
		if (n == PD_SLA_BREACH)
			set[c * 2 + 1] = true;
		if (fresh == 0)
			continue;
		struct pd_sla_notice_info info = {
		    .kind = pd_sla_notice_name(n),
		    .clock = clock,
		    .due = cv.due,
		    .late = (int64_t)(now - cv.due),
		    .line = line,
		};
		pd_log_notice("ticket=%" PRId64 " sla=%s clock=%s priority=%s line=%d", ticket,
			      info.kind, clock, priority, line);
		if (notice_mail(db, cfg, ticket, &info, err) < 0)
			return -1;
		if (n == PD_SLA_WARNING) {
			stats->warnings++;
			continue;
		}
		stats->breaches++;
		/* the breach moves the ticket up one line, once per scan */
		int to = escalated ? 0 : next_line(cfg, line);
		if (to == 0)
			continue;
		int efresh = record_notice(db, ticket, clock, "escalation", cv.due, priority, to,
					   now, err);
		if (efresh < 0)
			return -1;
		if (efresh == 0)
			continue;
		if (escalate(db, ticket, line, to, clock, err) < 0)
			return -1;
		escalated = true;
		stats->escalations++;
		pd_log_notice("ticket=%" PRId64 " action=escalated from_line=%d to_line=%d", ticket,
			      line, to);
		info.kind = "escalation";
		info.line = to;
		info.from_line = line;
		if (notice_mail(db, cfg, ticket, &info, err) < 0)
			return -1;
		line = to;
	}
	/* each mark is the ticket's own due column (exactly, whatever its
	 * precision) or stays as it was */
	const char *v[5] = {id, marks[0], marks[1], marks[2], marks[3]};
	for (int i = 0; i < 4; i++)
		snprintf(marks[i], sizeof(marks[i]), "%s", set[i] ? "t" : "f");
	if (pd_db_defer(
	    db, "pd_sla_marks",
	    "UPDATE tickets SET"
	    " first_response_warned = CASE WHEN $2::boolean THEN first_response_due"
	    "                          ELSE first_response_warned END,"
	    " first_response_breached = CASE WHEN $3::boolean THEN first_response_due"
	    "                          ELSE first_response_breached END,"
	    " resolution_warned = CASE WHEN $4::boolean THEN resolution_due"
	    "                          ELSE resolution_warned END,"
	    " resolution_breached = CASE WHEN $5::boolean THEN resolution_due"
	    "                          ELSE resolution_breached END"
	    " WHERE id = $1::bigint",
	    5, v, err) < 0)
		return -1;
	/* a new line may have other hours for its warnings */
	if (escalated && !same_hours(cfg, first_line, line) &&
	    pd_slascan_sync(db, cfg, ticket, now, err) < 0)
		return -1;
	return 0;
}

int pd_slascan_run(struct pd_db *db, const struct pd_config *cfg, time_t now, size_t batch,
		   struct pd_slascan_stats *stats, struct pd_err *err)
{
	char t[24], lim[24];
	const char *v[2] = {t, lim};

	fmt_time(t, sizeof(t), now);
	fmt_i64(lim, sizeof(lim), (int64_t)(batch ? batch : 100));
	for (;;) {
		PGresult *res;
		int n;

		if (pd_db_begin(db, err) < 0)
			return -1;
		res = pd_db_query(db, "pd_sla_due", SQL_DUE, 2, v, err);
		if (res == NULL)
			goto fail;
		n = PQntuples(res);
		for (int r = 0; r < n; r++) {
			stats->scanned++;
			if (scan_ticket(db, cfg, res, r, now, stats, err) < 0) {
				PQclear(res);
				goto fail;
			}
		}
		PQclear(res);
		if (pd_db_commit(db, err) < 0)
			goto fail;
		if ((size_t)n < (batch ? batch : 100))
			return 0;
	}
fail:
	pd_db_rollback(db);
	return -1;
}
