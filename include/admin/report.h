/*
 * report.h - what the team lead looks at: `postdesk report`.
 *
 * One period, [now - since, now] with now the database's clock: tickets
 * created and resolved, first response and resolution times (business
 * seconds, as the SLA clocks count them), SLA compliance per priority and per
 * support line, the SLA notices sent, the backlog as it stands, and customer
 * satisfaction.
 *
 * Every number is computed by PostgreSQL, from one set of SQL sections
 * (report.c) that both outputs share:
 *   - pd_report_json() runs them as one statement that builds the whole
 *     report as one JSON object (json_build_object / json_agg);
 *   - pd_report_fetch() runs each section as its own query, all in one
 *     read-only REPEATABLE READ transaction (one snapshot, one now()), and
 *     copies the rows into a struct pd_report that formatters walk:
 *     pd_report_write_text() and pd_report_write_html().
 * A new breakdown is one more dimension of the SLA section's grouping sets:
 * it arrives in pd_report.sla as rows with a new `dim`, and in the JSON
 * under sla (priority, line, plan and type now).
 *
 * Common problems: the request types of the tickets created in the period,
 * most frequent first, and the keywords that the classification rules
 * matched in them (the `matched` text of the ticket.classified events'
 * reasons with source "keyword", lower-cased by PostgreSQL), counted once per
 * ticket, the ten most frequent.  Keywords say what customers wrote about,
 * in words the desk's own rules chose, without stemming surprises.
 *
 * pd_report_write_html() draws the same struct as one self-contained page
 * with inline SVG charts (svg.h).
 *
 * Errors are those of the database layer (db_int.h): TEMP when the server
 * cannot be reached or a statement timed out, FATAL when the schema is not
 * the one this build knows.
 */
#ifndef PD_REPORT_H
#define PD_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"
#include "err.h"

/* Longest period accepted (100 years); longer ones are a usage error. */
#define PD_REPORT_MAX_SINCE ((int64_t)36500 * 86400)

/* Met targets out of the tickets that counted (see pd_report_sla_row). */
struct pd_report_ratio {
	int64_t met;
	int64_t total;
	double percent; /* 100 * met / total rounded to 0.1 by PostgreSQL; -1 when total is 0 */
};

/* Median and 90th percentile (percentile_cont) of one clock's business
 * seconds, rounded to whole seconds. */
struct pd_report_times {
	int64_t count;
	double median; /* -1 when count is 0 */
	double p90;
};

/*
 * One row of the SLA compliance table, over the tickets created in the period
 * whose priority has a target for the clock: met = the clock stopped within
 * the target; missed = it stopped later, or it is still running and its due
 * time has passed.  Clocks still running and not yet due do not count.
 */
struct pd_report_sla_row {
	char dim[16]; /* "priority" (all four, in order), "line", "plan", "type" (those
		       * seen), "all" */
	char key[64]; /* "critical".."low", the line number, the plan ("default" for
		       * none), the type, "all" */
	struct pd_report_ratio first_response, resolution;
};

/* SLA notices (sla_notices rows) created in the period, per kind, clock and
 * priority; only the combinations that occurred. */
struct pd_report_notices {
	char kind[16];     /* warning | breach | escalation */
	char clock[16];    /* first_response | resolution */
	char priority[16]; /* the ticket's priority when the notice was sent */
	int64_t count;
};

/* Open tickets (new, open, pending) now, per status, priority and line;
 * only the combinations that occur. */
struct pd_report_backlog {
	char status[16];
	char priority[16];
	int line;
	int64_t count;
};

/* The request types of tickets.type, in the order reports list them. */
#define PD_REPORT_N_TYPES 6
extern const char *const pd_report_types[PD_REPORT_N_TYPES];

/* Tickets created on one UTC day, per request type (pd_report_types order). */
struct pd_report_day {
	char day[16]; /* YYYY-MM-DD */
	int64_t total;
	int64_t by_type[PD_REPORT_N_TYPES];
};

/* Business-time buckets of the first response and resolution clocks: <15m,
 * 15-60m, 1-4h, 4-8h, 8-24h, 1-3d, >3d (a day being 24 business hours). */
#define PD_REPORT_N_BUCKETS 7
struct pd_report_bucket {
	char label[16];
	int64_t min_secs; /* from this many seconds (inclusive) */
	int64_t max_secs; /* to this many (exclusive); -1 = no upper bound */
	int64_t first_response, resolution;
};

/* One line of the common problems: a request type or keyword, the tickets
 * created in the period that have it, and their share of all created. */
struct pd_report_share {
	char *name; /* owned by the report */
	int64_t tickets;
	double percent; /* rounded to 0.1 */
};

struct pd_report {
	char since[32]; /* "YYYY-MM-DD HH:MM UTC" */
	char until[32];
	int64_t period_secs;
	int64_t created;  /* created_at in the period */
	int64_t resolved; /* resolved_at in the period */
	struct pd_report_times first_response; /* first_response_at in the period */
	struct pd_report_times resolution;     /* resolved_at in the period */
	struct pd_report_sla_row *sla;
	size_t n_sla;
	struct pd_report_notices *notices;
	size_t n_notices;
	struct pd_report_backlog *backlog;
	size_t n_backlog;
	int64_t oldest_ticket; /* the open ticket created first; 0 = no open ticket */
	int64_t oldest_age;    /* its age in seconds (wall clock) */
	int64_t rated;         /* ratings given (rated_at) in the period */
	double rating_average; /* rounded to 0.01; -1 when none */
	int64_t ratings[5];    /* ratings[i]: how many gave i + 1 */
	/* tickets created per UTC day: every day of periods up to
	 * PD_REPORT_DAILY_MAX seconds, else only the days with tickets */
	struct pd_report_day *days;
	size_t n_days;
	struct pd_report_bucket buckets[PD_REPORT_N_BUCKETS];
	struct pd_report_share *top_types; /* types with tickets, most first */
	size_t n_top_types;
	struct pd_report_share *top_keywords; /* at most PD_REPORT_TOP_KEYWORDS */
	size_t n_top_keywords;
};

#define PD_REPORT_DAILY_MAX ((int64_t)93 * 86400)
#define PD_REPORT_TOP_KEYWORDS 10

/*
 * Fetch the report for the period of since_secs (> 0) seconds up to now.
 * On success *rep_r is owned by the caller (pd_report_free).  Runs (and ends)
 * its own transaction, so call it outside one.
 */
int pd_report_fetch(struct pd_db *db, int64_t since_secs, struct pd_report **rep_r,
		    struct pd_err *err);
void pd_report_free(struct pd_report *rep);

/*
 * The same report as one JSON object built by PostgreSQL in one statement
 * (keys: see postdesk(1)).  *json_r is one line without a newline, owned by
 * the caller (free).
 */
int pd_report_json(struct pd_db *db, int64_t since_secs, char **json_r, struct pd_err *err);

/* Write rep as aligned text tables for people. */
void pd_report_write_text(const struct pd_report *rep, FILE *out);

/*
 * Write rep as one self-contained UTF-8 HTML page (inline CSS and SVG, no
 * script, nothing fetched): headline numbers, tickets per day by type, the
 * two time distributions, SLA compliance per priority, plan, line and type,
 * the backlog, ratings, common problems and notices.  Every string from the
 * database is escaped.
 */
void pd_report_write_html(const struct pd_report *rep, FILE *out);

/*
 * Seconds as people read them, the two largest units: "45s", "12m 30s",
 * "1h 12m", "2d 3h" (a day is 24 hours, also of business time); "-" when
 * secs is negative.  Writes at most n bytes to buf and returns buf.
 */
const char *pd_report_duration(double secs, char *buf, size_t n);

#endif
