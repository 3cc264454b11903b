/*
 * calendar.c - business-time arithmetic (see calendar.h).
 *
 * Each weekday's hours are precomputed as merged runs of minutes.  For a
 * local date the runs become real instants via mktime in the calendar's
 * zone, with gaps and overlaps resolved explicitly (see local_instant), so
 * every sum is of real seconds between actual instants.
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
	char *tz;                /* NULL: server's zone */
	size_t n_runs[7];        /* 0 = Monday ... 6 = Sunday */
	struct run *runs[7];
	size_t n_holidays;
	struct pd_date *holidays;
};

/* ------------------------------------------------------------ civil dates */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 0 = Monday ... 6 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
	int64_t w = (days + 3) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

/* ------------------------------------------------------------- zone swap */

struct tz_saved {
	bool swapped;
	char *old; /* NULL: TZ was unset */
};

static void tz_enter(const struct pd_calendar *c, struct tz_saved *s)
{
	s->swapped = false;
	s->old = NULL;
	if (c->tz == NULL)
		return;
	const char *old = getenv("TZ");
	s->old = pd_xstrdup(old);
	s->swapped = true;
	setenv("TZ", c->tz, 1);
	tzset();
}

static void tz_leave(struct tz_saved *s)
{
	if (!s->swapped)
		return;
	if (s->old != NULL)
		setenv("TZ", s->old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(s->old);
	s->old = NULL;
}

/* ------------------------------------------------------- local instants */

/* Local wall time of t as seconds on a uniform civil scale. */
static int64_t local_key(time_t t, int64_t *day)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return INT64_MIN;
	int64_t dd = days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	if (day != NULL)
		*day = dd;
	return dd * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

static time_t mk(int64_t day, int minute, int isdst)
{
	struct tm tm;
	int y, m, d;

	civil_from_days(day, &y, &m, &d);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = minute / 60;
	tm.tm_min = minute % 60;
	tm.tm_isdst = isdst;
	return mktime(&tm);
}

/*
 * The real instant of wall time `minute` on local date `day` (minute 1440
 * is next day's 00:00).  Wall times that exist twice give the earlier
 * instant, or the later when `latest`; a wall time skipped by a forward
 * jump gives the first instant whose wall time is at or after it.
 */
static time_t local_instant(int64_t day, int minute, bool latest)
{
	if (minute >= 1440) {
		day += minute / 1440;
		minute %= 1440;
	}
	int64_t want = day * 86400 + (int64_t)minute * 60;
	time_t t0 = mk(day, minute, -1);
	/* the UTC offsets in force around t0 give every reading of the wall
	 * time: one normally, two in an overlap, none in a gap */
	time_t cand[3] = {
		(time_t)(want - (local_key(t0, NULL) - t0)),
		(time_t)(want - (local_key(t0 - 86400, NULL) - (t0 - 86400))),
		(time_t)(want - (local_key(t0 + 86400, NULL) - (t0 + 86400))),
	};
	time_t best = (time_t)-1, lo = cand[0], hi = cand[0];
	bool found = false;

	for (int i = 0; i < 3; i++) {
		if (cand[i] < lo)
			lo = cand[i];
		if (cand[i] > hi)
			hi = cand[i];
		if (local_key(cand[i], NULL) != want)
			continue;
		if (!found || (latest ? cand[i] > best : cand[i] < best))
			best = cand[i];
		found = true;
	}
	if (found)
		return best;
	/* in a gap: binary search the jump between the candidates */
	if (local_key(lo, NULL) >= want || local_key(hi, NULL) < want)
		return t0;
	while (hi - lo > 1) {
		time_t mid = lo + (hi - lo) / 2;
		if (local_key(mid, NULL) >= want)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

static bool is_holiday(const struct pd_calendar *c, int64_t day)
{
	int y, m, d;

	civil_from_days(day, &y, &m, &d);
	for (size_t i = 0; i < c->n_holidays; i++)
		if (c->holidays[i].year == y && c->holidays[i].month == m &&
		    c->holidays[i].day == d)
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
		time_t s = local_instant(day, c->runs[wd][i].start, false);
		time_t e = local_instant(day, c->runs[wd][i].end, true);
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

struct pd_calendar *pd_calendar_new(const struct pd_calendar_cfg *cfg)
{
	struct pd_calendar *c = pd_xcalloc(1, sizeof(*c));

	if (cfg == NULL) {
		c->always = true;
		return c;
	}
	c->tz = pd_xstrdup(cfg->timezone);
	for (int wd = 0; wd < 7; wd++) {
		bool open[1440];
		memset(open, 0, sizeof(open));
		for (size_t i = 0; cfg->hours_parsed != NULL && i < cfg->hours.n; i++) {
			const struct pd_hours *h = &cfg->hours_parsed[i];
			if (!(h->days & (1u << wd)))
				continue;
			for (size_t r = 0; r < h->n && r < PD_HOURS_MAX_RANGES; r++)
				for (int m = h->r[r].start; m < h->r[r].end && m < 1440; m++)
					open[m] = true;
		}
		c->runs[wd] = pd_xcalloc(720, sizeof(struct run));
		for (int m = 0; m < 1440;) {
			if (!open[m]) {
				m++;
				continue;
			}
			int s = m;
			while (m < 1440 && open[m])
				m++;
			c->runs[wd][c->n_runs[wd]].start = s;
			c->runs[wd][c->n_runs[wd]].end = m;
			c->n_runs[wd]++;
		}
	}
	if (cfg->holidays.n > 0 && cfg->holiday_dates != NULL) {
		c->holidays = pd_xcalloc(cfg->holidays.n, sizeof(*c->holidays));
		memcpy(c->holidays, cfg->holiday_dates, cfg->holidays.n * sizeof(*c->holidays));
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
	free(c->tz);
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

	struct tz_saved saved;
	struct span sp[720];
	time_t result = PD_CALENDAR_NEVER;
	int64_t left = business_seconds, day;

	tz_enter(c, &saved);
	local_key(start, &day);
	for (int64_t d = day - 1; d < day + PD_CALENDAR_MAX_DAYS; d++) {
		size_t n = day_spans(c, d, sp);
		for (size_t i = 0; i < n; i++) {
			if (sp[i].e <= start)
				continue;
			time_t a = sp[i].s > start ? sp[i].s : start;
			if (left <= (int64_t)(sp[i].e - a)) {
				result = a + (time_t)left;
				goto out;
			}
			left -= (int64_t)(sp[i].e - a);
		}
	}
out:
	tz_leave(&saved);
	return result;
}

int64_t pd_calendar_elapsed(const struct pd_calendar *c, time_t from, time_t to)
{
	if (to < from)
		return -pd_calendar_elapsed(c, to, from);
	if (c->always)
		return (int64_t)(to - from);
	if (to == from || !has_hours(c))
		return 0;

	struct tz_saved saved;
	struct span sp[720];
	int64_t sum = 0, day, last;

	tz_enter(c, &saved);
	local_key(from, &day);
	local_key(to, &last);
	for (int64_t d = day - 1; d <= last + 1; d++) {
		size_t n = day_spans(c, d, sp);
		for (size_t i = 0; i < n; i++) {
			time_t a = sp[i].s > from ? sp[i].s : from;
			time_t b = sp[i].e < to ? sp[i].e : to;
			if (b > a)
				sum += (int64_t)(b - a);
		}
	}
	tz_leave(&saved);
	return sum;
}

bool pd_calendar_is_open(const struct pd_calendar *c, time_t t)
{
	if (c->always)
		return true;
	if (!has_hours(c))
		return false;

	struct tz_saved saved;
	struct span sp[720];
	bool open = false;
	int64_t day;

	tz_enter(c, &saved);
	local_key(t, &day);
	for (int64_t d = day - 1; d <= day && !open; d++) {
		size_t n = day_spans(c, d, sp);
		for (size_t i = 0; i < n; i++)
			if (sp[i].s <= t && t < sp[i].e)
				open = true;
	}
	tz_leave(&saved);
	return open;
}

time_t pd_calendar_next_open(const struct pd_calendar *c, time_t t)
{
	if (c->always)
		return t;
	if (!has_hours(c))
		return PD_CALENDAR_NEVER;

	struct tz_saved saved;
	struct span sp[720];
	time_t result = PD_CALENDAR_NEVER;
	int64_t day;

	tz_enter(c, &saved);
	local_key(t, &day);
	for (int64_t d = day - 1; d < day + PD_CALENDAR_MAX_DAYS; d++) {
		size_t n = day_spans(c, d, sp);
		for (size_t i = 0; i < n; i++) {
			if (sp[i].e <= t)
				continue;
			result = sp[i].s > t ? sp[i].s : t;
			goto out;
		}
	}
out:
	tz_leave(&saved);
	return result;
}
