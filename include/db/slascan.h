/*
 * slascan.h - the SLA loop against PostgreSQL: keep every ticket's clock
 * instants stored, and find and notify what is due.
 *
 * The due and warning instants live on the ticket and a generated column
 * (next_sla_at) says when the scan has something to do for it, so a scan is
 * one indexed range query however many tickets are open.  Due tickets are
 * claimed with FOR UPDATE SKIP LOCKED and each notice is recorded in
 * sla_notices under a unique (ticket, clock, kind, due time) key in the same
 * transaction as its outbox row: several instances scanning at once still
 * send each notice once.  The claimed tickets are settled together: each
 * kind of write (notices, escalations, marks, what the mails say, the mails)
 * is one statement for the whole set, so a scan costs a few round trips
 * however many notices are due.
 */
#ifndef PD_SLASCAN_H
#define PD_SLASCAN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "sla.h"

/* The initial clock of a new ticket of priority on line, for a customer of
 * plan (NULL = the default), at now: st (running since now), the targets
 * (0 = none) and the calendar name (static or config-owned; NULL when no
 * target applies). */
struct pd_sla_initial {
	struct pd_sla_state st;
	int64_t first_response_target;
	int64_t resolution_target;
	const char *calendar;
};
void pd_slascan_initial(const struct pd_config *cfg, const char *plan, const char *priority,
			int line, time_t now, struct pd_sla_initial *out);

/*
 * Bring the stored clock of ticket up to date at now (after a change of
 * status, priority, line or the first response), inside the caller's
 * transaction when there is one.  Returns 0, or -1 with err (db).
 */
int pd_slascan_sync(struct pd_db *db, const struct pd_config *cfg, int64_t ticket, time_t now,
		    struct pd_err *err);

struct pd_slascan_stats {
	uint64_t scanned;      /* tickets looked at */
	uint64_t warnings;     /* warning notices recorded */
	uint64_t breaches;     /* breach notices recorded */
	uint64_t escalations;  /* tickets moved to the next line */
};

/*
 * One scan at now: every ticket whose next SLA instant has passed, in
 * transactions of up to batch tickets, until none is left.  Notice mails go
 * to the outbox only when cfg->smtp.enabled; the notices, events and
 * escalations are recorded either way.  Adds to *stats.  Returns 0, or -1
 * with err (the database; what was committed stays).
 */
int pd_slascan_run(struct pd_db *db, const struct pd_config *cfg, time_t now, size_t batch,
		   struct pd_slascan_stats *stats, struct pd_err *err);

#endif
