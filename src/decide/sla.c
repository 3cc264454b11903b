/*
 * sla.c - SLA clocks: pause, resume, due and warning instants, and which
 * notice is due (see sla.h).  Pure: no I/O, "now" passed in.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sla.h"

int64_t pd_sla_used_now(const struct pd_sla_targets *t, const struct pd_sla_state *st,
			time_t now)
{
	int64_t used = st->used;

	if (st->since != 0 && now > st->since) {
		if (t != NULL)
			used += pd_calendar_elapsed(t->cal, st->since, now);
		else
			used += (int64_t)(now - st->since);
	}
	return used;
}

/* The instant `at` business seconds of the target after the clock started
 * (counted from since with used already spent).  When that was already spent
 * before since (a clock resumed after its breach, or a shorter target set),
 * the instant is in the past: the previous one (keep) when it was, so a
 * notice already sent is not repeated, else since itself. */
static time_t instant(const struct pd_calendar *cal, const struct pd_sla_state *st, int64_t at,
		      time_t keep)
{
	int64_t left = at - st->used;

	if (left <= 0)
		return keep != 0 && keep <= st->since ? keep : st->since;
	time_t r = pd_calendar_add(cal, st->since, left);
	return r == PD_CALENDAR_NEVER ? 0 : r;
}

static void clock_times(const struct pd_sla_targets *t, const struct pd_sla_state *st,
			int64_t target, time_t *due, time_t *warn)
{
	if (target <= 0) {
		*due = *warn = 0;
		return;
	}
	*due = instant(t->cal, st, target, *due);
	if (t->warn_at <= 0 || t->warn_at >= 100 || *due == 0) {
		*warn = 0;
		return;
	}
	/* target * warn_at / 100 without overflow for any target */
	time_t w = instant(t->cal, st, target / 100 * t->warn_at + target % 100 * t->warn_at / 100,
			   *warn);
	if (w != 0 && t->warn_cal != NULL) {
		time_t o = pd_calendar_next_open(t->warn_cal, w);
		w = o == PD_CALENDAR_NEVER ? 0 : o;
	}
	*warn = w != 0 && w < *due ? w : 0;
}

void pd_sla_update(const struct pd_sla_targets *t, struct pd_sla_state *st, time_t now)
{
	/* pause or resume */
	if (st->since != 0 && !st->running_wanted) {
		st->used = pd_sla_used_now(t, st, now);
		st->since = 0;
	} else if (st->since == 0 && st->running_wanted) {
		st->since = now;
	}
	/* what the clocks came to */
	if (st->responded && st->first_response_secs < 0)
		st->first_response_secs = pd_sla_used_now(t, st, now);
	if (st->resolved) {
		if (st->resolution_secs < 0)
			st->resolution_secs = pd_sla_used_now(t, st, now);
	} else {
		st->resolution_secs = -1;
	}
	if (t == NULL) {
		st->fr_due = st->fr_warn = st->res_due = st->res_warn = 0;
		return;
	}
	if (st->since == 0)
		return; /* paused: the instants are recomputed when it resumes */
	clock_times(t, st, t->first_response, &st->fr_due, &st->fr_warn);
	clock_times(t, st, t->resolution, &st->res_due, &st->res_warn);
}

enum pd_sla_notice pd_sla_due_notice(const struct pd_sla_clock_view *v, time_t now)
{
	if (v->stopped || v->due == 0)
		return PD_SLA_NONE;
	if (now >= v->due && v->breached != v->due)
		return PD_SLA_BREACH;
	if (v->breached == v->due)
		return PD_SLA_NONE;
	if (v->warn != 0 && now >= v->warn && v->warned != v->due)
		return PD_SLA_WARNING;
	return PD_SLA_NONE;
}

const char *pd_sla_clock_name(enum pd_sla_clock c)
{
	return c == PD_SLA_FIRST_RESPONSE ? "first_response" : "resolution";
}

const char *pd_sla_notice_name(enum pd_sla_notice n)
{
	switch (n) {
	case PD_SLA_WARNING:
		return "warning";
	case PD_SLA_BREACH:
		return "breach";
	default:
		return "none";
	}
}

const char *pd_sla_format_duration(int64_t secs, char *buf, size_t len)
{
	static const struct {
		int64_t s;
		const char *u;
	} units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
	const char *sign = "";
	uint64_t v;
	size_t n = 0;
	int shown = 0;

	if (secs < 0) {
		sign = "-";
		v = (uint64_t)(-(secs + 1)) + 1;
	} else {
		v = (uint64_t)secs;
	}
	if (len == 0)
		return buf;
	buf[0] = '\0';
	n = (size_t)snprintf(buf, len, "%s", sign);
	if (v == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
		uint64_t q = v / (uint64_t)units[i].s;
		if (q == 0) {
			if (shown > 0)
				break; /* "1d 0h 5m" reads worse than "1d" */
			continue;
		}
		v -= q * (uint64_t)units[i].s;
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%" PRIu64 "%s",
					      shown ? " " : "", q, units[i].u);
		shown++;
	}
	return buf;
}
