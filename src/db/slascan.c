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
#include "tzif.h"
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

/*
 * A scan claims up to batch due tickets and settles them together, each
 * kind of write one statement for the whole set: the warning and breach
 * notices (recorded with their events; the ones already recorded by an
 * earlier scan come back as not new), the escalations (notice, line, events),
 * the marks, the notice mails (pd_compose_sla_notices).  A ticket with
 * notices on both clocks takes two rounds, as an escalation for the first
 * clock moves it to the line its second notice tells.
 */

/* One claimed ticket. */
struct due_ticket {
	int64_t id;
	const char *priority; /* into the claim's result */
	int line, first_line;
	bool escalated;
	int n_clocks;                /* clocks with a notice due, in order */
	int clocks[2];
	enum pd_sla_notice notice[2]; /* by clock */
	time_t due[2];
	bool set[4]; /* fr warned, fr breached, res warned, res breached: set to the due time */
	bool fresh;  /* this round's statement recorded it */
};

/* The notices recorded in one round, as statement parameters. */
struct round_params {
	struct pd_buf v[7];
	size_t n;
};

static void round_init(struct round_params *p)
{
	for (int k = 0; k < 7; k++) {
		pd_buf_init(&p->v[k]);
		pd_buf_append_char(&p->v[k], '{');
	}
	p->n = 0;
}

static void round_free(struct round_params *p)
{
	for (int k = 0; k < 7; k++)
		pd_buf_free(&p->v[k]);
}

/* Add one row of 7 values, each quoted as an array element. */
static void round_add(struct round_params *p, const char *const *val)
{
	for (int k = 0; k < 7; k++) {
		pd_buf_append_str(&p->v[k], p->n ? ",\"" : "\"");
		for (const char *c = val[k]; *c; c++) {
			if (*c == '"' || *c == '\\')
				pd_buf_append_char(&p->v[k], '\\');
			pd_buf_append_char(&p->v[k], *c);
		}
		pd_buf_append_char(&p->v[k], '"');
	}
	p->n++;
}

/* Run a round's statement; each ticket whose row came back is fresh. */
static int round_run(struct pd_db *db, const char *name, const char *sql,
		     struct round_params *p, struct due_ticket *t, size_t nt,
		     struct pd_err *err)
{
	const char *v[7];
	PGresult *res;

	for (size_t i = 0; i < nt; i++)
		t[i].fresh = false;
	for (int k = 0; k < 7; k++) {
		pd_buf_append_char(&p->v[k], '}');
		v[k] = p->v[k].data;
	}
	res = pd_db_query(db, name, sql, 7, v, err);
	if (res == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		for (size_t i = 0; i < nt; i++)
			if (t[i].id == id)
				t[i].fresh = true;
	}
	PQclear(res);
	return 0;
}

/* The round's warnings and breaches, one per ticket: recorded with their
 * events; returns the tickets whose notice is new. */
static const char SQL_NOTICES[] =
    "WITH i AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[],"
    "                                $5::text[], $6::int[], $7::bigint[])"
    "            WITH ORDINALITY AS i(ticket, clock, kind, due, priority, line, late, ord)),"
    " n AS (INSERT INTO sla_notices (ticket_id, clock, kind, due_at, priority, line)"
    "  SELECT ticket, clock, kind, to_timestamp(due), priority, line FROM i ORDER BY ord"
    "  ON CONFLICT (ticket_id, clock, kind, due_at) DO NOTHING RETURNING ticket_id),"
    " e AS (INSERT INTO events (ticket_id, actor, kind, detail)"
    "  SELECT i.ticket, 'system', 'sla.' || i.kind, jsonb_build_object('clock', i.clock,"
    "    'due', to_timestamp(i.due), 'priority', i.priority, 'line', i.line,"
    "    'late_seconds', i.late)"
    "  FROM i JOIN n ON n.ticket_id = i.ticket ORDER BY i.ord)"
    "SELECT ticket_id FROM n";

/* The round's escalations: the notice and the two events (sla.escalation,
 * line.escalated) of each one that is new; the new line is written with the
 * marks. */
static const char SQL_ESCALATIONS[] =
    "WITH i AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[],"
    "                                $5::int[], $6::int[], $7::bigint[])"
    "            WITH ORDINALITY AS i(ticket, clock, due, priority, from_line, to_line, late,"
    "                                 ord)),"
    " n AS (INSERT INTO sla_notices (ticket_id, clock, kind, due_at, priority, line)"
    "  SELECT ticket, clock, 'escalation', to_timestamp(due), priority, to_line FROM i"
    "   ORDER BY ord"
    "  ON CONFLICT (ticket_id, clock, kind, due_at) DO NOTHING RETURNING ticket_id),"
    " e AS (INSERT INTO events (ticket_id, actor, kind, detail)"
    "  SELECT i.ticket, 'system', x.kind, CASE x.k"
    "    WHEN 1 THEN jsonb_build_object('clock', i.clock, 'due', to_timestamp(i.due),"
    "      'priority', i.priority, 'line', i.to_line, 'late_seconds', i.late)"
    "    ELSE jsonb_build_object('from', i.from_line, 'to', i.to_line,"
    "      'reason', i.clock || ' SLA breached') END"
    "  FROM i JOIN n ON n.ticket_id = i.ticket"
    "   CROSS JOIN (VALUES (1, 'sla.escalation'), (2, 'line.escalated')) AS x(k, kind)"
    "  ORDER BY i.ord, x.k)"
    "SELECT ticket_id FROM n";

/* Each ticket's marks: its own due column (exactly, whatever its precision)
 * or as it was; and its line, which an escalation moved (0: as it was). */
static const char SQL_MARKS[] =
    "UPDATE tickets t SET"
    " line = CASE WHEN m.line <> 0 THEN m.line ELSE t.line END,"
    " updated_at = CASE WHEN m.line <> 0 THEN now() ELSE t.updated_at END,"
    " first_response_warned = CASE WHEN m.fw THEN t.first_response_due"
    "                          ELSE t.first_response_warned END,"
    " first_response_breached = CASE WHEN m.fb THEN t.first_response_due"
    "                          ELSE t.first_response_breached END,"
    " resolution_warned = CASE WHEN m.rw THEN t.resolution_due ELSE t.resolution_warned END,"
    " resolution_breached = CASE WHEN m.rb THEN t.resolution_due"
    "                          ELSE t.resolution_breached END"
    " FROM unnest($1::bigint[], $2::boolean[], $3::boolean[], $4::boolean[], $5::boolean[],"
    "             $6::int[]) AS m(id, fw, fb, rw, rb, line)"
    " WHERE t.id = m.id";

/* The next configured line above line, or 0. */
static int next_line(const struct pd_config *cfg, int line)
{
	for (size_t i = 0; i < cfg->n_lines; i++)
		if (cfg->lines[i].number > line)
			return cfg->lines[i].number;
	return 0;
}

/* Whether warnings to lines a and b keep the same hours (their calendars). */
static bool same_hours(const struct pd_config *cfg, int a, int b)
{
	const struct pd_line_cfg *la = pd_config_line(cfg, a), *lb = pd_config_line(cfg, b);
	const char *ca = la != NULL ? la->calendar : NULL, *cb = lb != NULL ? lb->calendar : NULL;

	return ca == cb || (ca != NULL && cb != NULL && strcmp(ca, cb) == 0);
}

/* A notice mail to send, and where it stands among the ticket's. */
struct mail_job {
	struct pd_sla_notice_info info;
	size_t ticket; /* index in the claim */
	size_t seq;
};

static int cmp_job(const void *a, const void *b)
{
	const struct mail_job *x = a, *y = b;

	if (x->ticket != y->ticket)
		return x->ticket < y->ticket ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Everything due on the claimed tickets (the rows of res). */
static int scan_batch(struct pd_db *db, const struct pd_config *cfg, PGresult *res, time_t now,
		      struct pd_slascan_stats *stats, struct pd_err *err)
{
	size_t nt = (size_t)PQntuples(res), n_jobs = 0;
	struct due_ticket *t = pd_xcalloc(nt + 1, sizeof(*t));
	struct mail_job *jobs = pd_xcalloc(nt * 4 + 1, sizeof(*jobs));
	struct pd_sla_notice_info *infos = NULL;
	struct round_params p;
	int rc = -1;

	/* what is due: sla.c decides, from the claimed row */
	for (size_t i = 0; i < nt; i++) {
		int r = (int)i;

		t[i].id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		t[i].priority = PQgetvalue(res, r, 1);
		t[i].line = t[i].first_line = (int)get_int(res, r, 2, 1);
		for (int c = 0; c < 2; c++) {
			int base = c == 0 ? 4 : 9;
			struct pd_sla_clock_view cv = {
			    .stopped = PQgetvalue(res, r, base)[0] == 't',
			    .due = get_time(res, r, base + 1),
			    .warn = get_time(res, r, base + 2),
			    .warned = get_time(res, r, base + 3),
			    .breached = get_time(res, r, base + 4),
			};
			enum pd_sla_notice n = pd_sla_due_notice(&cv, now);

			t[i].notice[c] = n;
			t[i].due[c] = cv.due;
			if (n == PD_SLA_NONE)
				continue;
			t[i].clocks[t[i].n_clocks++] = c;
			/* after a breach a warning would only repeat the news */
			t[i].set[c * 2] = true;
			if (n == PD_SLA_BREACH)
				t[i].set[c * 2 + 1] = true;
		}
		stats->scanned++;
	}

	for (int round = 0; round < 2; round++) {
		char due[24], line[24], late[24], to_line[24];

		/* 1. each ticket's notice of this round */
		round_init(&p);
		for (size_t i = 0; i < nt; i++) {
			if (t[i].n_clocks <= round)
				continue;
			int c = t[i].clocks[round];
			char id[24];
			fmt_i64(id, sizeof(id), t[i].id);
			fmt_i64(due, sizeof(due), (int64_t)t[i].due[c]);
			fmt_i64(line, sizeof(line), t[i].line);
			fmt_i64(late, sizeof(late), (int64_t)(now - t[i].due[c]));
			const char *row[7] = {id,
					      pd_sla_clock_name((enum pd_sla_clock)c),
					      pd_sla_notice_name(t[i].notice[c]),
					      due,
					      t[i].priority,
					      line,
					      late};
			round_add(&p, row);
		}
		if (p.n == 0) {
			round_free(&p);
			break;
		}
		if (round_run(db, "pd_sla_notices", SQL_NOTICES, &p, t, nt, err) < 0)
			goto out;
		round_free(&p);

		/* 2. the new ones: a mail each, and a breach moves its ticket up
		 * one line, once per scan */
		round_init(&p);
		for (size_t i = 0; i < nt; i++) {
			if (t[i].n_clocks <= round || !t[i].fresh)
				continue;
			int c = t[i].clocks[round];
			struct mail_job *j = &jobs[n_jobs++];
			j->ticket = i;
			j->seq = (size_t)round * 2;
			j->info = (struct pd_sla_notice_info){
			    .ticket = t[i].id,
			    .kind = pd_sla_notice_name(t[i].notice[c]),
			    .clock = pd_sla_clock_name((enum pd_sla_clock)c),
			    .due = t[i].due[c],
			    .late = (int64_t)(now - t[i].due[c]),
			    .line = t[i].line,
			};
			pd_log_notice("ticket=%" PRId64 " sla=%s clock=%s priority=%s line=%d",
				      t[i].id, j->info.kind, j->info.clock, t[i].priority, t[i].line);
			if (t[i].notice[c] == PD_SLA_WARNING) {
				stats->warnings++;
				continue;
			}
			stats->breaches++;
			int to = t[i].escalated ? 0 : next_line(cfg, t[i].line);
			if (to == 0)
				continue;
			char id[24];
			fmt_i64(id, sizeof(id), t[i].id);
			fmt_i64(due, sizeof(due), (int64_t)t[i].due[c]);
			fmt_i64(line, sizeof(line), t[i].line);
			fmt_i64(to_line, sizeof(to_line), to);
			fmt_i64(late, sizeof(late), (int64_t)(now - t[i].due[c]));
			const char *row[7] = {id,   j->info.clock, due, t[i].priority,
					      line, to_line,       late};
			round_add(&p, row);
		}
		if (p.n > 0 &&
		    round_run(db, "pd_sla_escalations", SQL_ESCALATIONS, &p, t, nt, err) < 0)
			goto out;
		for (size_t i = 0; p.n > 0 && i < nt; i++) {
			if (!t[i].fresh)
				continue;
			int to = next_line(cfg, t[i].line);
			struct mail_job *j = &jobs[n_jobs++];
			j->ticket = i;
			j->seq = (size_t)round * 2 + 1;
			j->info = (struct pd_sla_notice_info){
			    .ticket = t[i].id,
			    .kind = "escalation",
			    .clock = pd_sla_clock_name((enum pd_sla_clock)t[i].clocks[round]),
			    .due = t[i].due[t[i].clocks[round]],
			    .late = (int64_t)(now - t[i].due[t[i].clocks[round]]),
			    .line = to,
			    .from_line = t[i].line,
			};
			stats->escalations++;
			pd_log_notice("ticket=%" PRId64 " action=escalated from_line=%d to_line=%d",
				      t[i].id, t[i].line, to);
			t[i].escalated = true;
			t[i].line = to;
		}
		round_free(&p);
	}

	/* 3. the marks and new lines of every ticket that had something due */
	struct pd_buf m[6];
	size_t nm = 0;
	for (int k = 0; k < 6; k++) {
		pd_buf_init(&m[k]);
		pd_buf_append_char(&m[k], '{');
	}
	for (size_t i = 0; i < nt; i++) {
		if (t[i].n_clocks == 0)
			continue;
		pd_buf_printf(&m[0], "%s%" PRId64, nm ? "," : "", t[i].id);
		for (int k = 0; k < 4; k++)
			pd_buf_printf(&m[k + 1], "%s%c", nm ? "," : "", t[i].set[k] ? 't' : 'f');
		pd_buf_printf(&m[5], "%s%d", nm ? "," : "", t[i].escalated ? t[i].line : 0);
		nm++;
	}
	const char *mv[6];
	for (int k = 0; k < 6; k++) {
		pd_buf_append_char(&m[k], '}');
		mv[k] = m[k].data;
	}
	int mr = nm > 0 ? pd_db_defer(db, "pd_sla_marks", SQL_MARKS, 6, mv, err) : 0;
	for (int k = 0; k < 6; k++)
		pd_buf_free(&m[k]);
	if (mr < 0)
		goto out;

	/* 4. a new line may have other hours for its warnings */
	for (size_t i = 0; i < nt; i++)
		if (t[i].escalated && !same_hours(cfg, t[i].first_line, t[i].line) &&
		    pd_slascan_sync(db, cfg, t[i].id, now, err) < 0)
			goto out;

	/* 5. the mails, each ticket's in the order of its notices */
	if (cfg->smtp.enabled && n_jobs > 0) {
		qsort(jobs, n_jobs, sizeof(*jobs), cmp_job);
		infos = pd_xcalloc(n_jobs, sizeof(*infos));
		for (size_t k = 0; k < n_jobs; k++)
			infos[k] = jobs[k].info;
		if (pd_compose_sla_notices(db, cfg, infos, n_jobs, err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(infos);
	free(jobs);
	free(t);
	return rc;
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
		if (n > 0 && scan_batch(db, cfg, res, now, stats, err) < 0) {
			PQclear(res);
			goto fail;
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
