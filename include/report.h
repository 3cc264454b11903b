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
 *     pd_report_write_text() now; an HTML page later.
 * A new breakdown (per ticket type, per customer plan...) is one more
 * dimension of the SLA section's grouping sets: it arrives in
 * pd_report.sla as rows with a new `dim`, and in the JSON under sla.
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
	char dim[16]; /* "priority" (all four, in order), "line" (those seen), "all" */
	char key[32]; /* "critical".."low", the line number, "all" */
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
};

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
 * Seconds as people read them, the two largest units: "45s", "12m 30s",
 * "1h 12m", "2d 3h" (a day is 24 hours, also of business time); "-" when
 * secs is negative.  Writes at most n bytes to buf and returns buf.
 */
const char *pd_report_duration(double secs, char *buf, size_t n);

#endif
