/*
 * sla.h - a ticket's two SLA clocks (first response, resolution): when they
 * are due, when to warn, when they pause, and which notice is due now.
 *
 * A pure module: the clock state and "now" in, the new state or a decision
 * out; no I/O and no clock is read.
 *
 * Both clocks of a ticket run on the calendar of its priority's sla section
 * and pause together: they run while the ticket is new or open, and stop
 * while it is pending (waiting for the customer), resolved or closed.  The
 * state is (used, since): `used` business seconds consumed before `since`,
 * the instant the clock last started (0 while paused).  So
 *     due  = calendar_add(since, target - used)
 *     warn = calendar_add(since, target * warn_at / 100 - used)
 * and a pause adds calendar_elapsed(since, now) to used.  When the remaining
 * time is already spent (a resumed clock that had breached before its
 * pause), the previous instant is kept, so the same breach is not notified
 * again.  A warning falls at or after the due time is dropped; with a line
 * calendar (line N { calendar }), a warning outside that calendar's hours
 * is moved to its next opening.
 */
#ifndef PD_SLA_H
#define PD_SLA_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "calendar.h"

/* The targets that apply to a ticket (from its priority's sla section). */
struct pd_sla_targets {
	int64_t first_response;            /* business seconds; 0 = none */
	int64_t resolution;                /* 0 = none */
	int warn_at;                       /* percent, 1..100 (100 = no warning) */
	const struct pd_calendar *cal;     /* the clocks' calendar; never NULL */
	const struct pd_calendar *warn_cal; /* warnings only while open; NULL = any time */
};

/* One ticket's clock state, as stored on the ticket.  Instants are Unix
 * seconds, 0 = none. */
struct pd_sla_state {
	bool running_wanted;     /* in: the status lets the clock run (new, open) */
	bool responded;          /* in: the first agent response has come */
	bool resolved;           /* in: status resolved or closed */

	time_t since;            /* running since; 0 = paused */
	int64_t used;            /* business seconds used before since */
	int64_t first_response_secs; /* -1 = not yet */
	int64_t resolution_secs;      /* -1 = not yet */
	time_t fr_due, fr_warn;
	time_t res_due, res_warn;
};

/*
 * Bring st up to date at now under targets t: pause or resume the clock as
 * running_wanted says, record first_response_secs (once, when responded) and
 * resolution_secs (when resolved; cleared when not), and recompute the due
 * and warning instants of a running clock.  A clock without a target has
 * due and warn 0.  t NULL = no SLA at all: every instant 0, the clock still
 * kept (so the times are known if an SLA applies later).
 */
void pd_sla_update(const struct pd_sla_targets *t, struct pd_sla_state *st, time_t now);

/* Business seconds the clock has used by now. */
int64_t pd_sla_used_now(const struct pd_sla_targets *t, const struct pd_sla_state *st,
			time_t now);

enum pd_sla_clock { PD_SLA_FIRST_RESPONSE = 0, PD_SLA_RESOLUTION = 1 };
enum pd_sla_notice { PD_SLA_NONE = 0, PD_SLA_WARNING, PD_SLA_BREACH };

/* What the scan finds on one clock: the instants and what was notified. */
struct pd_sla_clock_view {
	bool stopped;       /* met (responded / resolved) or paused: nothing is due */
	time_t due, warn;   /* 0 = none */
	time_t warned;      /* the due time a warning was sent for, 0 = none */
	time_t breached;    /* the due time a breach notice was sent for, 0 = none */
};

/*
 * The notice due on one clock at now: a breach when now >= due and no breach
 * was sent for this due time; else a warning when now >= warn and no warning
 * was sent for it.  A breach makes the pending warning moot: the caller
 * records both as done.
 */
enum pd_sla_notice pd_sla_due_notice(const struct pd_sla_clock_view *v, time_t now);

const char *pd_sla_clock_name(enum pd_sla_clock c);   /* "first_response" "resolution" */
const char *pd_sla_notice_name(enum pd_sla_notice n); /* "none" "warning" "breach" */

/* "1h 30m", "2d 4h", "45s", "0s" (at most two units; negative -> "-" prefix).
 * buf of at least 32 bytes. */
const char *pd_sla_format_duration(int64_t secs, char *buf, size_t len);

#endif
