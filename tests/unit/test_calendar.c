/*
 * test_calendar.c - business-time arithmetic: 24x7, Moscow office hours,
 * DST in Europe/Berlin and America/New_York, split ranges, holidays, zero
 * and negative amounts, a calendar with no hours, and add/elapsed
 * consistency.  Every instant is written in UTC; "now" is always passed in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "calendar.h"
#include "config.h"
#include "confload.h"
#include "tzif.h"
#include "util.h"

#define H 3600
#define M 60

/* "YYYY-MM-DD HH:MM[:SS]" in UTC -> instant (timegm without the extension). */
static time_t utc(const char *s)
{
	int y, mo, d, h, mi, sec = 0;
	int n = sscanf(s, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &sec);
	assert_true(n == 5 || n == 6);
	y -= mo <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return (time_t)(days * 86400 + h * 3600 + mi * 60 + sec);
}

/* A calendar from a zone, hours lines ("" ends) and holidays (NULL ends). */
static struct pd_calendar *cal(const char *tz, const char *const *hours,
			       const char *const *holidays)
{
	struct pd_calendar_cfg cfg;
	size_t nh = 0, nd = 0;
	char why[200];

	memset(&cfg, 0, sizeof(cfg));
	while (hours != NULL && hours[nh] != NULL)
		nh++;
	while (holidays != NULL && holidays[nd] != NULL)
		nd++;
	cfg.timezone = (char *)(uintptr_t)tz;
	cfg.hours.n = nh;
	cfg.holidays.n = nd;
	cfg.hours_parsed = pd_xcalloc(nh + 1, sizeof(*cfg.hours_parsed));
	cfg.holiday_dates = pd_xcalloc(nd + 1, sizeof(*cfg.holiday_dates));
	for (size_t i = 0; i < nh; i++)
		assert_int_equal(pd_config_parse_hours(hours[i], &cfg.hours_parsed[i], why,
						       sizeof(why)),
				 0);
	for (size_t i = 0; i < nd; i++)
		assert_int_equal(pd_config_parse_date(holidays[i], &cfg.holiday_dates[i]), 0);
	struct pd_calendar *c = pd_calendar_new(&cfg);
	free(cfg.hours_parsed);
	free(cfg.holiday_dates);
	return c;
}

static const char *const office[] = {"mon-fri 09:00-18:00", NULL};
static const char *const split[] = {"mon-fri 09:00-13:00,14:00-18:00", NULL};
static const char *const allday[] = {"mon-sun 00:00-24:00", NULL};

struct add_case {
	const char *start;
	int64_t secs;
	const char *want; /* NULL: PD_CALENDAR_NEVER */
};

static void run_add(struct pd_calendar *c, const struct add_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		time_t got = pd_calendar_add(c, utc(t[i].start), t[i].secs);
		time_t want = t[i].want ? utc(t[i].want) : PD_CALENDAR_NEVER;
		if (got != want)
			fail_msg("case %zu: add(%s, %lld) = %lld, want %s", i, t[i].start,
				 (long long)t[i].secs, (long long)got, t[i].want);
		/* elapsed is the inverse of add */
		if (t[i].want && t[i].secs > 0)
			assert_int_equal(pd_calendar_elapsed(c, utc(t[i].start), got), t[i].secs);
	}
}

struct el_case {
	const char *from, *to;
	int64_t want;
};

static void run_elapsed(struct pd_calendar *c, const struct el_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t got = pd_calendar_elapsed(c, utc(t[i].from), utc(t[i].to));
		if (got != t[i].want)
			fail_msg("case %zu: elapsed(%s, %s) = %lld, want %lld", i, t[i].from,
				 t[i].to, (long long)got, (long long)t[i].want);
		assert_int_equal(pd_calendar_elapsed(c, utc(t[i].to), utc(t[i].from)), -t[i].want);
	}
}

static void test_24x7(void **state)
{
	(void)state;
	struct pd_calendar *c = pd_calendar_new(NULL);
	time_t t = utc("2026-03-29 00:30");

	assert_true(pd_calendar_is_24x7(c));
	assert_true(pd_calendar_add(c, t, 0) == t);
	assert_true(pd_calendar_add(c, t, 3 * H) == t + 3 * H);
	assert_true(pd_calendar_add(c, t, -1) == PD_CALENDAR_NEVER);
	assert_int_equal(pd_calendar_elapsed(c, t, t + 86400 * 10), 86400 * 10);
	assert_int_equal(pd_calendar_elapsed(c, t + 5, t), -5);
	assert_true(pd_calendar_is_open(c, t));
	assert_true(pd_calendar_next_open(c, t) == t);
	pd_calendar_free(c);
}

/* Moscow is UTC+3 all year: 09:00-18:00 MSK = 06:00-15:00 UTC.
 * 2026-11-20 is a Friday, 2026-11-23 a Monday. */
static void test_moscow_office(void **state)
{
	(void)state;
	struct pd_calendar *c = cal("Europe/Moscow", office, NULL);
	static const struct add_case a[] = {
		{"2026-11-20 14:00", 2 * H, "2026-11-23 07:00"},  /* Fri 17:00 over weekend */
		{"2026-11-21 09:00", 1 * H, "2026-11-23 07:00"},  /* Saturday start */
		{"2026-11-23 04:00", 1 * H, "2026-11-23 07:00"},  /* before opening */
		{"2026-11-23 06:00", 1 * H, "2026-11-23 07:00"},  /* at opening */
		{"2026-11-23 17:00", 1 * H, "2026-11-24 07:00"},  /* after closing */
		{"2026-11-23 21:30", 30 * M, "2026-11-24 06:30"}, /* after local midnight */
		{"2026-11-23 06:00", 9 * H, "2026-11-23 15:00"},  /* ends at closing */
		{"2026-11-23 06:00", 9 * H + 1, "2026-11-24 06:00:01"},
		{"2026-11-23 06:00", 45 * H, "2026-11-27 15:00"}, /* whole week */
		{"2026-11-23 06:00", 46 * H, "2026-11-30 07:00"},
		{"2026-11-23 10:00", 0, "2026-11-23 10:00"},      /* zero seconds */
		{"2026-11-22 10:00", 0, "2026-11-22 10:00"},      /* zero while closed */
		{"2026-11-23 10:00", -5, NULL},
	};
	static const struct el_case e[] = {
		{"2026-11-20 14:00", "2026-11-23 07:00", 2 * H},
		{"2026-11-21 00:00", "2026-11-22 23:00", 0},
		{"2026-11-23 00:00", "2026-11-24 00:00", 9 * H},
		{"2026-11-23 00:00", "2026-11-30 00:00", 45 * H},
		{"2026-11-23 10:00", "2026-11-23 10:00", 0},
	};
	run_add(c, a, PD_ARRAY_LEN(a));
	run_elapsed(c, e, PD_ARRAY_LEN(e));
	assert_true(pd_calendar_is_open(c, utc("2026-11-23 06:00")));
	assert_false(pd_calendar_is_open(c, utc("2026-11-23 15:00")));
	assert_false(pd_calendar_is_open(c, utc("2026-11-22 10:00")));
	assert_true(pd_calendar_next_open(c, utc("2026-11-21 10:00")) == utc("2026-11-23 06:00"));
	assert_true(pd_calendar_next_open(c, utc("2026-11-23 08:00")) == utc("2026-11-23 08:00"));
	assert_true(pd_calendar_next_open(c, utc("2026-11-23 15:00")) == utc("2026-11-24 06:00"));
	pd_calendar_free(c);
}

/* Berlin: CET (UTC+1) -> CEST (UTC+2) on Sun 2026-03-29 02:00,
 * back on Sun 2026-10-25 03:00. */
static void test_berlin_dst(void **state)
{
	(void)state;
	struct pd_calendar *c = cal("Europe/Berlin", office, NULL);
	static const struct add_case a[] = {
		/* Fri 17:00 CET + 2h -> Mon 10:00 CEST */
		{"2026-03-27 16:00", 2 * H, "2026-03-30 08:00"},
		/* Fri 17:00 CEST + 2h -> Mon 10:00 CET */
		{"2026-10-23 15:00", 2 * H, "2026-10-26 09:00"},
		/* a week of hours from Mon 09:00 CET lands on Fri 18:00 CET */
		{"2026-03-23 08:00", 45 * H, "2026-03-27 17:00"},
		/* ... and from Thu 09:00 CET on the next Wed 18:00 CEST */
		{"2026-03-26 08:00", 45 * H, "2026-04-01 16:00"},
	};
	static const struct el_case e[] = {
		{"2026-03-27 16:00", "2026-03-30 08:00", 2 * H},
		{"2026-03-23 00:00", "2026-04-04 00:00", 90 * H},
		{"2026-10-19 00:00", "2026-10-31 00:00", 90 * H},
	};
	run_add(c, a, PD_ARRAY_LEN(a));
	run_elapsed(c, e, PD_ARRAY_LEN(e));
	/* 09:00 local is 08:00 UTC in winter, 07:00 UTC in summer */
	assert_false(pd_calendar_is_open(c, utc("2026-03-30 06:59")));
	assert_true(pd_calendar_is_open(c, utc("2026-03-30 07:00")));
	assert_true(pd_calendar_next_open(c, utc("2026-10-24 12:00")) == utc("2026-10-26 08:00"));
	pd_calendar_free(c);

	/* whole days: the switch days are 23 and 25 hours long */
	c = cal("Europe/Berlin", allday, NULL);
	static const struct el_case d[] = {
		{"2026-03-28 23:00", "2026-03-29 22:00", 23 * H},
		{"2026-10-24 22:00", "2026-10-25 23:00", 25 * H},
	};
	run_elapsed(c, d, PD_ARRAY_LEN(d));
	static const struct add_case ad[] = {
		/* Sat 12:00 CET + 24h -> Sun 13:00 CEST (24 real hours) */
		{"2026-03-28 11:00", 24 * H, "2026-03-29 11:00"},
	};
	run_add(c, ad, PD_ARRAY_LEN(ad));
	pd_calendar_free(c);

	/* ranges through the switch hours */
	static const char *const night[] = {"sun 02:00-04:00", NULL};
	c = cal("Europe/Berlin", night, NULL);
	static const struct el_case n[] = {
		/* spring: 02:00 does not exist, range is 03:00-04:00 CEST = 1h */
		{"2026-03-28 00:00", "2026-03-30 00:00", 1 * H},
		/* autumn: 02:00 CEST (00:00Z) .. 04:00 CET (03:00Z) = 3h */
		{"2026-10-24 00:00", "2026-10-26 00:00", 3 * H},
		/* an ordinary Sunday: 2h */
		{"2026-03-21 00:00", "2026-03-23 00:00", 2 * H},
	};
	run_elapsed(c, n, PD_ARRAY_LEN(n));
	assert_true(pd_calendar_next_open(c, utc("2026-03-28 12:00")) == utc("2026-03-29 01:00"));
	assert_true(pd_calendar_add(c, utc("2026-03-28 12:00"), 30 * M) == utc("2026-03-29 01:30"));
	assert_true(pd_calendar_add(c, utc("2026-03-28 12:00"), 90 * M) == utc("2026-04-05 00:30"));
	assert_true(pd_calendar_is_open(c, utc("2026-10-25 00:30")));  /* 02:30 CEST */
	assert_true(pd_calendar_is_open(c, utc("2026-10-25 01:30")));  /* 02:30 CET */
	assert_false(pd_calendar_is_open(c, utc("2026-10-25 03:00"))); /* 04:00 CET */
	pd_calendar_free(c);
}

/* New York: EST (UTC-5) -> EDT (UTC-4) on Sun 2026-03-08 02:00,
 * back on Sun 2026-11-01 02:00. */
static void test_new_york_dst(void **state)
{
	(void)state;
	struct pd_calendar *c = cal("America/New_York", office, NULL);
	static const struct add_case a[] = {
		/* Fri 17:00 EST + 2h -> Mon 10:00 EDT */
		{"2026-03-06 22:00", 2 * H, "2026-03-09 14:00"},
		/* Fri 17:00 EDT + 2h -> Mon 10:00 EST */
		{"2026-10-30 21:00", 2 * H, "2026-11-02 15:00"},
		/* Sunday start, either side */
		{"2026-03-08 12:00", 1 * H, "2026-03-09 14:00"},
		{"2026-11-01 12:00", 1 * H, "2026-11-02 15:00"},
		/* Mon 09:00 EST = 14:00Z, Tue 09:00 EDT = 13:00Z */
		{"2026-03-02 14:00", 45 * H + 1 * H, "2026-03-09 14:00"},
	};
	run_add(c, a, PD_ARRAY_LEN(a));
	pd_calendar_free(c);

	c = cal("America/New_York", allday, NULL);
	static const struct el_case d[] = {
		{"2026-03-08 05:00", "2026-03-09 04:00", 23 * H},
		{"2026-11-01 04:00", "2026-11-02 05:00", 25 * H},
	};
	run_elapsed(c, d, PD_ARRAY_LEN(d));
	pd_calendar_free(c);

	/* 01:00-03:00 on the fall-back day: 01:00 EDT (05:00Z) .. 03:00 EST (08:00Z) */
	static const char *const early[] = {"sun 01:00-03:00", NULL};
	c = cal("America/New_York", early, NULL);
	static const struct el_case n[] = {
		{"2026-10-31 12:00", "2026-11-02 12:00", 3 * H},
		{"2026-03-07 12:00", "2026-03-09 12:00", 1 * H}, /* 01:00-02:00 EST, then 03:00 */
	};
	run_elapsed(c, n, PD_ARRAY_LEN(n));
	assert_true(pd_calendar_next_open(c, utc("2026-10-31 12:00")) == utc("2026-11-01 05:00"));
	assert_true(pd_calendar_add(c, utc("2026-10-31 12:00"), 3 * H) == utc("2026-11-01 08:00"));
	pd_calendar_free(c);
}

static void test_split_ranges(void **state)
{
	(void)state;
	struct pd_calendar *c = cal("Europe/Moscow", split, NULL);
	static const struct add_case a[] = {
		{"2026-11-23 09:00", 2 * H, "2026-11-23 12:00"},  /* 12:00 MSK + 2h -> 15:00 */
		{"2026-11-23 10:00", 30 * M, "2026-11-23 11:30"}, /* 13:00 lunch -> 14:30 */
		{"2026-11-23 06:00", 4 * H, "2026-11-23 10:00"},  /* morning ends at 13:00 */
		{"2026-11-23 06:00", 8 * H, "2026-11-23 15:00"},
		{"2026-11-23 06:00", 8 * H + 1, "2026-11-24 06:00:01"},
	};
	static const struct el_case e[] = {
		{"2026-11-23 09:30", "2026-11-23 11:30", 1 * H},
		{"2026-11-23 00:00", "2026-11-24 00:00", 8 * H},
	};
	run_add(c, a, PD_ARRAY_LEN(a));
	run_elapsed(c, e, PD_ARRAY_LEN(e));
	assert_false(pd_calendar_is_open(c, utc("2026-11-23 10:30")));
	assert_true(pd_calendar_next_open(c, utc("2026-11-23 10:30")) == utc("2026-11-23 11:00"));
	pd_calendar_free(c);

	/* overlapping lines are merged, not counted twice */
	static const char *const overlap[] = {"mon-fri 09:00-18:00", "mon 12:00-20:00", NULL};
	c = cal("Europe/Moscow", overlap, NULL);
	assert_int_equal(pd_calendar_elapsed(c, utc("2026-11-23 00:00"), utc("2026-11-24 00:00")),
			 11 * H);
	pd_calendar_free(c);

	/* lines out of order, one range inside another, two that touch: one
	 * run 09:00-13:00 MSK (06:00-10:00 UTC), with no gap at 12:00 */
	static const char *const parts[] = {"mon 12:00-13:00", "mon 09:00-12:00", "mon 10:00-11:00",
					    "tue 09:00-10:00,11:00-12:00", "tue 09:30-11:00",
					    NULL};
	c = cal("Europe/Moscow", parts, NULL);
	assert_int_equal(pd_calendar_elapsed(c, utc("2026-11-23 00:00"), utc("2026-11-24 00:00")),
			 4 * H);
	assert_int_equal(pd_calendar_elapsed(c, utc("2026-11-23 08:59"), utc("2026-11-23 09:01")),
			 2 * M);
	assert_true(pd_calendar_is_open(c, utc("2026-11-23 09:00")));
	assert_true(pd_calendar_next_open(c, utc("2026-11-23 02:00")) == utc("2026-11-23 06:00"));
	assert_true(pd_calendar_add(c, utc("2026-11-23 06:00"), 4 * H) ==
		    utc("2026-11-23 10:00"));
	/* Tuesday: 09:00-10:00, 09:30-11:00 and 11:00-12:00 are 09:00-12:00 */
	assert_int_equal(pd_calendar_elapsed(c, utc("2026-11-24 00:00"), utc("2026-11-25 00:00")),
			 3 * H);
	assert_true(pd_calendar_is_open(c, utc("2026-11-24 07:00"))); /* 10:00 MSK */
	pd_calendar_free(c);
}

static void test_holidays(void **state)
{
	(void)state;
	static const char *const hol[] = {"2026-11-23", "2026-11-24", "2026-12-31", NULL};
	struct pd_calendar *c = cal("Europe/Moscow", office, hol);
	static const struct add_case a[] = {
		{"2026-11-20 14:00", 2 * H, "2026-11-25 07:00"},
		{"2026-11-23 08:00", 1 * H, "2026-11-25 07:00"},
		/* holiday dates are local: 2026-11-23 00:30 MSK is 11-22 21:30Z */
		{"2026-11-22 21:30", 1 * H, "2026-11-25 07:00"},
	};
	run_add(c, a, PD_ARRAY_LEN(a));
	assert_false(pd_calendar_is_open(c, utc("2026-11-23 08:00")));
	assert_int_equal(pd_calendar_elapsed(c, utc("2026-11-23 00:00"), utc("2026-11-26 00:00")),
			 9 * H);
	pd_calendar_free(c);
}

static void test_no_hours(void **state)
{
	(void)state;
	struct pd_calendar *c = cal("Europe/Moscow", NULL, NULL);
	time_t t = utc("2026-11-23 08:00");

	assert_false(pd_calendar_is_24x7(c));
	assert_true(pd_calendar_add(c, t, 1) == PD_CALENDAR_NEVER);
	assert_true(pd_calendar_add(c, t, 0) == t);
	assert_true(pd_calendar_next_open(c, t) == PD_CALENDAR_NEVER);
	assert_false(pd_calendar_is_open(c, t));
	assert_int_equal(pd_calendar_elapsed(c, t, t + 86400 * 30), 0);
	pd_calendar_free(c);

	/* one short opening a week: the search walks past closed days */
	static const char *const one[] = {"mon 09:00-10:00", NULL};
	c = cal("Europe/Moscow", one, NULL);
	assert_true(pd_calendar_add(c, utc("2026-11-23 07:00"), 2 * H) == utc("2026-12-07 07:00"));
	pd_calendar_free(c);
}

/* TZ of the process is put back, whether it was set or not. */
static void test_tz_restored(void **state)
{
	(void)state;
	struct pd_calendar *c = cal("America/New_York", office, NULL);

	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	assert_true(pd_calendar_add(c, utc("2026-03-06 22:00"), 2 * H) == utc("2026-03-09 14:00"));
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	unsetenv("TZ");
	tzset();
	assert_true(pd_calendar_is_open(c, utc("2026-03-09 14:00")));
	assert_null(getenv("TZ"));
	pd_calendar_free(c);
}

/* add(start, elapsed(start, x)) == x for open x; elapsed(s, add(s, n)) == n. */
static void test_consistency(void **state)
{
	(void)state;
	static const struct {
		const char *tz;
		const char *const *hours;
		const char *from;
	} cals[] = {
		{"Europe/Berlin", office, "2026-03-20 00:00"},
		{"Europe/Berlin", split, "2026-10-18 00:00"},
		{"America/New_York", office, "2026-03-01 00:00"},
		{"America/New_York", allday, "2026-10-28 00:00"},
		{"Europe/Moscow", split, "2026-11-18 00:00"},
	};
	for (size_t k = 0; k < PD_ARRAY_LEN(cals); k++) {
		struct pd_calendar *c = cal(cals[k].tz, cals[k].hours, NULL);
		time_t base = utc(cals[k].from);
		for (time_t s = base; s < base + 10 * 86400; s += 7 * H + 13 * M) {
			for (time_t x = s + 1; x < s + 9 * 86400; x += 5 * H + 47 * M) {
				int64_t el = pd_calendar_elapsed(c, s, x);
				assert_true(el >= 0);
				if (el > 0 && pd_calendar_is_open(c, x) &&
				    pd_calendar_add(c, s, el) != x)
					fail_msg("%s: add(%lld, elapsed=%lld) != %lld", cals[k].tz,
						 (long long)s, (long long)el, (long long)x);
			}
			for (int64_t n = 1; n < 60 * H; n += 3 * H + 11 * M) {
				time_t t = pd_calendar_add(c, s, n);
				assert_true(t != PD_CALENDAR_NEVER);
				assert_true(pd_calendar_is_open(c, t - 1));
				assert_int_equal(pd_calendar_elapsed(c, s, t), n);
			}
		}
		pd_calendar_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_24x7),        cmocka_unit_test(test_moscow_office),
		cmocka_unit_test(test_berlin_dst),  cmocka_unit_test(test_new_york_dst),
		cmocka_unit_test(test_split_ranges), cmocka_unit_test(test_holidays),
		cmocka_unit_test(test_no_hours),    cmocka_unit_test(test_tz_restored),
		cmocka_unit_test(test_consistency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
