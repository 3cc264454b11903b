/*
 * calendar.c - business-time arithmetic (see calendar.h).
 *
 * Each weekday's hours are precomputed as merged runs of minutes and the
 * holidays as day numbers.  For a local date the runs become real instants
 * through the zone's offset table, with gaps and overlaps resolved
 * explicitly (see local_instant), so every sum is of real seconds between
 * actual instants.  Pure: no environment, file or clock.
 */
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "util.h"

struct run {
	int start, end; /* minutes since local midnight, start < end <= 1440 */
};

struct pd_calendar {
	bool always;             /* 24x7 */
	struct pd_zone *zone;    /* NULL: UTC */
	size_t n_runs[7];        /* 0 = Monday ... 6 = Sunday */
	struct run *runs[7];
	size_t n_holidays;
	int64_t *holidays;       /* local dates as days since 1970-01-01 */
};

/* ------------------------------------------------------------------ zone */

int32_t pd_zone_offset(const struct pd_zone *z, int64_t t)
{
	if (z == NULL || z->n == 0 || t < z->at[0])
		return z != NULL ? z->initial : 0;
	/* the last change at or before t */
	size_t lo = 0, hi = z->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->utoff[lo];
}

struct pd_zone *pd_zone_copy(const struct pd_zone *z)
{
	if (z == NULL)
		return NULL;
	struct pd_zone *c = pd_xcalloc(1, sizeof(*c));
	c->initial = z->initial;
	c->n = z->n;
	if (z->n > 0) {
		c->at = pd_xreallocarray(NULL, z->n, sizeof(*c->at));
		c->utoff = pd_xreallocarray(NULL, z->n, sizeof(*c->utoff));
		memcpy(c->at, z->at, z->n * sizeof(*c->at));
		memcpy(c->utoff, z->utoff, z->n * sizeof(*c->utoff));
	}
	return c;
}

void pd_zone_free(struct pd_zone *z)
{
	if (z == NULL)
		return;
	free(z->at);
	free(z->utoff);
	free(z);
}

/* ------------------------------------------------------------ civil dates */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of a date (timegm does the calendar). */
static int64_t day_number(const struct pd_date *d)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = d->year - 1900;
	tm.tm_mon = d->month - 1;
	tm.tm_mday = d->day;
	tm.tm_hour = 12; /* any hour: the day is what counts */
	return floor_div((int64_t)timegm(&tm), 86400);
}

/* 0 = Monday ... 6 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
	int64_t w = (days + 3) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

/* ------------------------------------------------------- local instants */

/* Local wall time of t as seconds on a uniform civil scale. */
static int64_t local_key(const struct pd_calendar *c, time_t t, int64_t *day)
{
	int64_t k = (int64_t)t + pd_zone_offset(c->zone, (int64_t)t);

	if (day != NULL)
		*day = floor_div(k, 86400);
	return k;
}

/*
 * The real instant of wall time `minute` on local date `day` (minute 1440
 * is next day's 00:00).  Wall times that exist twice give the earlier
 * instant, or the later when `latest`; a wall time skipped by a forward
 * jump gives the first instant whose wall time is at or after it.
 */
static time_t local_instant(const struct pd_calendar *c, int64_t day, int minute, bool latest)
{
	int64_t want = day * 86400 + (int64_t)minute * 60;
	time_t t0 = (time_t)(want - pd_zone_offset(c->zone, want));
	/* the UTC offsets in force around t0 give every reading of the wall
	 * time: one normally, two in an overlap, none in a gap */
	time_t cand[3] = {
		(time_t)(want - pd_zone_offset(c->zone, t0)),
		(time_t)(want - pd_zone_offset(c->zone, t0 - 86400)),
		(time_t)(want - pd_zone_offset(c->zone, t0 + 86400)),
	};
	time_t best = (time_t)-1, lo = cand[0], hi = cand[0];
	bool found = false;

	for (int i = 0; i < 3; i++) {
		if (cand[i] < lo)
			lo = cand[i];
		if (cand[i] > hi)
			hi = cand[i];
		if (local_key(c, cand[i], NULL) != want)
			continue;
		if (!found || (latest ? cand[i] > best : cand[i] < best))
			best = cand[i];
		found = true;
	}
	if (found)
		return best;
	/* in a gap: binary search the jump between the candidates */
	if (local_key(c, lo, NULL) >= want || local_key(c, hi, NULL) < want)
		return t0;
	while (hi - lo > 1) {
		time_t mid = lo + (hi - lo) / 2;
		if (local_key(c, mid, NULL) >= want)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

static bool is_holiday(const struct pd_calendar *c, int64_t day)
{
	for (size_t i = 0; i < c->n_holidays; i++)
		if (c->holidays[i] == day)
			return true;
	return false;
}

/* The open intervals [s, e) of local date `day`, as real instants, in
 * order.  Returns how many (0 on holidays and closed days); out holds 720. */
struct span {
	time_t s, e;
};

static size_t day_spans(const struct pd_calendar *c, int64_t day, struct span *out)
{
	int wd = weekday(day);
	size_t n = 0;

	if (c->n_runs[wd] == 0 || is_holiday(c, day))
		return 0;
	for (size_t i = 0; i < c->n_runs[wd]; i++) {
		time_t s = local_instant(c, day, c->runs[wd][i].start, false);
		time_t e = local_instant(c, day, c->runs[wd][i].end, true);
		if (e > s) {
			out[n].s = s;
			out[n].e = e;
			n++;
		}
	}
	return n;
}

static bool has_hours(const struct pd_calendar *c)
{
	for (int i = 0; i < 7; i++)
		if (c->n_runs[i] > 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ API */

static int run_cmp(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	return x->start != y->start ? (x->start > y->start) - (x->start < y->start)
				    : (x->end > y->end) - (x->end < y->end);
}

struct pd_calendar *pd_calendar_build(const struct pd_calendar_cfg *cfg)
{
	struct pd_calendar *c = pd_xcalloc(1, sizeof(*c));

	if (cfg == NULL) {
		c->always = true;
		return c;
	}
	c->zone = pd_zone_copy(cfg->zone);
	size_t max = 0;
	for (size_t i = 0; cfg->hours_parsed != NULL && i < cfg->hours.n; i++)
		max += cfg->hours_parsed[i].n < PD_HOURS_MAX_RANGES ? cfg->hours_parsed[i].n
								    : PD_HOURS_MAX_RANGES;
	struct run *day = pd_xreallocarray(NULL, max > 0 ? max : 1, sizeof(*day));
	for (int wd = 0; wd < 7; wd++) {
		/* the day's ranges from every line that names it, in order of
		 * their start, then merged where they overlap or touch: a
		 * calendar is built for every new ticket, so no table of the
		 * day's minutes */
		size_t n = 0;
		for (size_t i = 0; cfg->hours_parsed != NULL && i < cfg->hours.n; i++) {
			const struct pd_hours *h = &cfg->hours_parsed[i];
			if (!(h->days & (1u << wd)))
				continue;
			for (size_t r = 0; r < h->n && r < PD_HOURS_MAX_RANGES; r++) {
				int s = h->r[r].start, e = h->r[r].end < 1440 ? h->r[r].end : 1440;
				if (s < e)
					day[n++] = (struct run){s, e};
			}
		}
		qsort(day, n, sizeof(*day), run_cmp);
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (k > 0 && day[i].start <= day[k - 1].end) {
				if (day[i].end > day[k - 1].end)
					day[k - 1].end = day[i].end;
			} else {
				day[k++] = day[i];
			}
		}
		c->n_runs[wd] = k;
		c->runs[wd] = pd_xreallocarray(NULL, k > 0 ? k : 1, sizeof(struct run));
		memcpy(c->runs[wd], day, k * sizeof(struct run));
	}
	free(day);
	if (cfg->holidays.n > 0 && cfg->holiday_dates != NULL) {
		c->holidays = pd_xcalloc(cfg->holidays.n, sizeof(*c->holidays));
		for (size_t i = 0; i < cfg->holidays.n; i++)
			c->holidays[i] = day_number(&cfg->holiday_dates[i]);
		c->n_holidays = cfg->holidays.n;
	}
	return c;
}

void pd_calendar_free(struct pd_calendar *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < 7; i++)
		free(c->runs[i]);
	free(c->holidays);
	pd_zone_free(c->zone);
	free(c);
}

bool pd_calendar_is_24x7(const struct pd_calendar *c)
{
	return c->always;
}

time_t pd_calendar_add(const struct pd_calendar *c, time_t start, int64_t business_seconds)
{
	if (business_seconds < 0)
		return PD_CALENDAR_NEVER;
	if (business_seconds == 0)
		return start;
	if (c->always) /* a target beyond the end of time (config allows it) is never due */
		return (int64_t)start > INT64_MAX - business_seconds ? PD_CALENDAR_NEVER
								       : start + (time_t)business_seconds;
	if (!has_hours(c))
		return PD_CALENDAR_NEVER;

	struct span sp[720];
	int64_t left = business_seconds, day;

	local_key(c, start, &day);
	for (int64_t d = day - 1; d < day + PD_CALENDAR_MAX_DAYS; d++) {
		size_t n = day_spans(c, d, sp);
		for (size_t i = 0; i < n; i++) {
			if (sp[i].e <= start)
				continue;
			time_t a = sp[i].s > start ? sp[i].s : start;
			if (left <= (int64_t)(sp[i].e - a))
				return a + (time_t)left;
			left -= (int64_t)(sp[i].e - a);
		}
	}
	return PD_CALENDAR_NEVER;
}

int64_t pd_calendar_elapsed(const struct pd_calendar *c, time_t from, time_t to)
{
	if (to < from)
		return -pd_calendar_elapsed(c, to, from);
	if (c->always)
		return (int64_t)(to - from);
	if (to == from || !has_hours(c))
		return 0;

	struct span sp[720];
	int64_t sum = 0, day, last;

	local_key(c, from, &day);
	local_key(c, to, &last);
	for (int64_t d = day - 1; d <= last + 1; d++) {
		size_t n = day_spans(c, d, sp);
		for (size_t i = 0; i < n; i++) {
			time_t a = sp[i].s > from ? sp[i].s : from;
			time_t b = sp[i].e < to ? sp[i].e : to;
			if (b > a)
				sum += (int64_t)(b - a);
		}
	}
	return sum;
}

bool pd_calendar_is_open(const struct pd_calendar *c, time_t t)
{
	if (c->always)
		return true;
	if (!has_hours(c))
		return false;

	struct span sp[720];
	bool open = false;
	int64_t day;

	local_key(c, t, &day);
	for (int64_t d = day - 1; d <= day && !open; d++) {
		size_t n = day_spans(c, d, sp);
		for (size_t i = 0; i < n; i++)
			if (sp[i].s <= t && t < sp[i].e)
				open = true;
	}
	return open;
}

time_t pd_calendar_next_open(const struct pd_calendar *c, time_t t)
{
	if (c->always)
		return t;
	if (!has_hours(c))
		return PD_CALENDAR_NEVER;

	struct span sp[720];
	int64_t day;

	local_key(c, t, &day);
	for (int64_t d = day - 1; d < day + PD_CALENDAR_MAX_DAYS; d++) {
		size_t n = day_spans(c, d, sp);
		for (size_t i = 0; i < n; i++) {
			if (sp[i].e <= t)
				continue;
			return sp[i].s > t ? sp[i].s : t;
		}
	}
	return PD_CALENDAR_NEVER;
}
