/*
 * test_tzif.c - time zone tables read from the system's TZif files
 * (Europe/Berlin, America/New_York, Australia/Lord_Howe with its half-hour
 * daylight time, Asia/Tokyo without any) against libc's localtime_r; the
 * POSIX rule at a file's end; version 1 files; damaged files; and
 * calendars in several zones used side by side without touching TZ.
 *
 * This test sets TZ to ask libc; the modules under test never do.
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
#define T_1970 ((int64_t)0)
#define T_2100 ((int64_t)4102444800)

static const char *const zones[] = {"Europe/Berlin", "America/New_York",
				    "Australia/Lord_Howe", "Asia/Tokyo"};

/* "YYYY-MM-DD HH:MM" in UTC -> instant. */
static int64_t utc(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi;

	assert_int_equal(sscanf(s, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi), 5);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm);
}

static struct pd_zone *load(const char *name)
{
	struct pd_zone *z = NULL;
	char why[600];

	if (pd_tzif_load(name, &z, why, sizeof(why)) < 0)
		fail_msg("%s: %s", name, why);
	return z;
}

/* libc's offset of the zone TZ is set to, at t. */
static int32_t libc_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(localtime_r(&tt, &tm));
	return (int32_t)tm.tm_gmtoff;
}

static void use_tz(const char *name)
{
	setenv("TZ", name, 1);
	tzset();
}

/* z agrees with libc at t. */
static void same(const struct pd_zone *z, const char *name, int64_t t)
{
	int32_t got = pd_zone_offset(z, t), want = libc_offset(t);

	if (got != want)
		fail_msg("%s at %lld: offset %ld, libc says %ld", name, (long long)t, (long)got,
			 (long)want);
}

/* Every change of the table from 1970 to 2100 (a second either side of
 * it) and a sample every 5 days and 7 hours agree with libc. */
static size_t compare_with_libc(const struct pd_zone *z, const char *name)
{
	size_t checked = 0;

	use_tz(name);
	for (size_t i = 0; i < z->n; i++) {
		if (z->at[i] < T_1970 || z->at[i] > T_2100)
			continue;
		same(z, name, z->at[i] - 1);
		same(z, name, z->at[i]);
		same(z, name, z->at[i] + 1);
		checked += 3;
	}
	for (int64_t t = T_1970; t < T_2100; t += 5 * 86400 + 7 * H) {
		same(z, name, t);
		checked++;
	}
	return checked;
}

static void test_zones_match_libc(void **state)
{
	(void)state;
	for (size_t i = 0; i < PD_ARRAY_LEN(zones); i++) {
		struct pd_zone *z = load(zones[i]);
		size_t n = compare_with_libc(z, zones[i]);
		print_message("%s: %zu instants agree with libc\n", zones[i], n);
		assert_true(n > 8900);
		pd_zone_free(z);
	}
	unsetenv("TZ");
	tzset();
}

struct change_case {
	const char *zone;
	const char *at; /* UTC */
	int32_t before, after;
};

/* Known changes, written out by hand. */
static void test_known_changes(void **state)
{
	(void)state;
	static const struct change_case t[] = {
		/* CET -> CEST Sun 2026-03-29 02:00 local, back Sun 2026-10-25 03:00 */
		{"Europe/Berlin", "2026-03-29 01:00", 1 * H, 2 * H},
		{"Europe/Berlin", "2026-10-25 01:00", 2 * H, 1 * H},
		/* in 2090, beyond the file's explicit transitions: the rule's */
		{"Europe/Berlin", "2090-03-26 01:00", 1 * H, 2 * H},
		{"Europe/Berlin", "2090-10-29 01:00", 2 * H, 1 * H},
		/* EST -> EDT Sun 2026-03-08 02:00 local, back Sun 2026-11-01 02:00 */
		{"America/New_York", "2026-03-08 07:00", -5 * H, -4 * H},
		{"America/New_York", "2026-11-01 06:00", -4 * H, -5 * H},
		/* +10:30 -> +11 Sun 2026-10-04 02:00 local, back Sun 2026-04-05 02:00 */
		{"Australia/Lord_Howe", "2026-10-03 15:30", 10 * H + 30 * M, 11 * H},
		{"Australia/Lord_Howe", "2026-04-04 15:00", 11 * H, 10 * H + 30 * M},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(t); i++) {
		struct pd_zone *z = load(t[i].zone);
		int64_t at = utc(t[i].at);
		if (pd_zone_offset(z, at - 1) != t[i].before || pd_zone_offset(z, at) != t[i].after)
			fail_msg("case %zu (%s at %s): %ld then %ld", i, t[i].zone, t[i].at,
				 (long)pd_zone_offset(z, at - 1), (long)pd_zone_offset(z, at));
		pd_zone_free(z);
	}
	/* Tokyo: +9 since 1951, no change at all afterwards */
	struct pd_zone *z = load("Asia/Tokyo");
	for (size_t i = 0; i < z->n; i++)
		assert_true(z->at[i] < utc("1952-01-01 00:00"));
	assert_int_equal(pd_zone_offset(z, utc("2026-07-01 00:00")), 9 * H);
	assert_int_equal(pd_zone_offset(z, utc("2199-07-01 00:00")), 9 * H);
	pd_zone_free(z);
}

/* A POSIX rule alone gives what the whole file gives after 1996. */
static void test_rule_alone(void **state)
{
	(void)state;
	static const struct {
		const char *zone, *rule;
	} t[] = {
		{"Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3"},
		{"America/New_York", "EST5EDT,M3.2.0,M11.1.0"},
		{"Australia/Lord_Howe", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"},
		{"Asia/Tokyo", "JST-9"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(t); i++) {
		struct pd_zone *file = load(t[i].zone), *rule = NULL;
		assert_int_equal(pd_tzif_rule(t[i].rule, &rule), 0);
		for (int64_t s = utc("2008-01-01 00:00"); s < T_2100; s += 86400 + 17 * M)
			if (pd_zone_offset(file, s) != pd_zone_offset(rule, s))
				fail_msg("%s at %lld: file %ld, rule %ld", t[i].zone, (long long)s,
					 (long)pd_zone_offset(file, s), (long)pd_zone_offset(rule, s));
		pd_zone_free(file);
		pd_zone_free(rule);
	}
	/* Julian days, a day number, times past 24h and negative (RFC 8536 3.3.1) */
	static const char *const good[] = {"UTC0", "<-03>3", "XXX3YYY,J60/1,J300/26",
					    "XXX-2YYY-3,59/0,300/-1",
					    "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
					    "EST5EDT4,M3.2.0/2:00:00,M11.1.0/2:00:00"};
	static const char *const bad[] = {"", "X0", "UTC", "CET-1CEST,M13.1.0,M10.5.0",
					   "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.7,M10.5.0",
					   "CET-25", "<abc", "CET-1CEST,J0,J100"};
	for (size_t i = 0; i < PD_ARRAY_LEN(good); i++) {
		struct pd_zone *z = NULL;
		if (pd_tzif_rule(good[i], &z) != 0)
			fail_msg("rule \"%s\" was refused", good[i]);
		pd_zone_free(z);
	}
	for (size_t i = 0; i < PD_ARRAY_LEN(bad); i++) {
		struct pd_zone *z = NULL;
		if (pd_tzif_rule(bad[i], &z) == 0)
			fail_msg("rule \"%s\" was accepted", bad[i]);
		assert_null(z);
	}
	/* "XXX3YYY,J60/1,J300/26": J60 is March 1st in every year */
	struct pd_zone *z = NULL;
	assert_int_equal(pd_tzif_rule("XXX3YYY,J60/1,J300/26", &z), 0);
	assert_int_equal(pd_zone_offset(z, utc("2028-03-01 03:59")), -3 * H);
	assert_int_equal(pd_zone_offset(z, utc("2028-03-01 04:00")), -2 * H);
	pd_zone_free(z);
}

static unsigned char *read_zone_file(const char *name, size_t *len)
{
	const char *dir = getenv("TZDIR");
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	unsigned char *buf = pd_xmalloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* The 32-bit block of a version 1 file agrees with libc up to 2037; damaged
 * files are refused with a reason, never read past their end. */
static void test_file_forms(void **state)
{
	(void)state;
	size_t len;
	unsigned char *data = read_zone_file("Europe/Berlin", &len);
	struct pd_zone *z = NULL;
	char why[200];

	/* version 1: only the first block counts */
	unsigned char *v1 = pd_xmalloc(len);
	memcpy(v1, data, len);
	v1[4] = '\0';
	assert_int_equal(pd_tzif_parse(v1, len, &z, why, sizeof(why)), 0);
	use_tz("Europe/Berlin");
	for (int64_t t = utc("1980-01-01 00:00"); t < utc("2037-12-01 00:00"); t += 86400 + 13 * M)
		same(z, "Europe/Berlin (version 1)", t);
	pd_zone_free(z);
	free(v1);

	/* every truncation is refused */
	for (size_t cut = 0; cut + 1 < len; cut += cut < 100 ? 1 : 37) {
		z = NULL;
		int r = pd_tzif_parse(data, cut, &z, why, sizeof(why));
		if (r == 0)
			fail_msg("a file cut at %zu of %zu bytes was accepted", cut, len);
		assert_null(z);
	}
	/* bad magic, bad counts, a type index out of range */
	unsigned char *bad = pd_xmalloc(len);
	memcpy(bad, data, len);
	bad[0] = 'X';
	assert_int_equal(pd_tzif_parse(bad, len, &z, why, sizeof(why)), -1);
	assert_string_equal(why, "not a TZif file");
	memcpy(bad, data, len);
	bad[36] = bad[37] = bad[38] = bad[39] = 0; /* typecnt 0 */
	assert_int_equal(pd_tzif_parse(bad, len, &z, why, sizeof(why)), -1);
	free(bad);
	free(data);

	/* names */
	assert_int_equal(pd_tzif_load("Mars/Olympus", &z, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "unknown time zone \"Mars/Olympus\" (not found in "));
	assert_int_equal(pd_tzif_load("../etc/passwd", &z, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "is not a time zone name"));
	assert_int_equal(pd_tzif_load("Europe", &z, why, sizeof(why)), -1);
	assert_null(z);

	/* the server's zone follows TZ as libc does */
	use_tz("Asia/Tokyo");
	assert_int_equal(pd_tzif_load(NULL, &z, why, sizeof(why)), 0);
	assert_int_equal(pd_zone_offset(z, utc("2026-01-01 00:00")), 9 * H);
	pd_zone_free(z);
	use_tz("EST5EDT,M3.2.0,M11.1.0");
	assert_int_equal(pd_tzif_load(NULL, &z, why, sizeof(why)), 0);
	assert_int_equal(pd_zone_offset(z, utc("2026-07-01 00:00")), -4 * H);
	pd_zone_free(z);
	unsetenv("TZ");
	tzset();
}

/* A calendar from hours, in a zone loaded as the configuration loads it. */
static struct pd_calendar *cal(const char *zone, const char *hours)
{
	struct pd_calendar_cfg cfg;
	struct pd_hours h;
	char why[200];

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(pd_config_parse_hours(hours, &h, why, sizeof(why)), 0);
	cfg.timezone = (char *)(uintptr_t)zone;
	cfg.hours.n = 1;
	cfg.hours_parsed = &h;
	cfg.zone = load(zone);
	struct pd_calendar *c = pd_calendar_build(&cfg);
	pd_zone_free(cfg.zone);
	return c;
}

struct span_case {
	const char *zone, *hours, *from, *to;
	int64_t want;
};

/* Lord Howe's half-hour jumps; several zones side by side; TZ untouched. */
static void test_calendars_side_by_side(void **state)
{
	(void)state;
	static const struct span_case t[] = {
		/* 2026-10-04: 02:00 +10:30 -> 02:30 +11: 01:00-04:00 is 2.5 hours */
		{"Australia/Lord_Howe", "sun 01:00-04:00", "2026-10-03 00:00", "2026-10-05 00:00",
		 2 * H + 30 * M},
		/* 2026-04-05: 02:00 +11 -> 01:30 +10:30: 01:00-03:00 is 2.5 hours */
		{"Australia/Lord_Howe", "sun 01:00-03:00", "2026-04-04 00:00", "2026-04-06 00:00",
		 2 * H + 30 * M},
		/* a range starting in the gap starts when the clocks jump */
		{"Australia/Lord_Howe", "sun 02:10-03:00", "2026-10-03 00:00", "2026-10-05 00:00",
		 30 * M},
		{"Europe/Berlin", "sun 00:00-24:00", "2026-03-28 00:00", "2026-03-30 00:00", 23 * H},
		{"Europe/Berlin", "sun 00:00-24:00", "2026-10-24 00:00", "2026-10-26 00:00", 25 * H},
		{"America/New_York", "sun 00:00-24:00", "2026-03-07 00:00", "2026-03-09 12:00",
		 23 * H},
		{"Asia/Tokyo", "mon-fri 09:00-18:00", "2026-11-23 00:00", "2026-11-30 00:00", 45 * H},
	};
	struct pd_calendar *c[PD_ARRAY_LEN(t)];
	const char *tz_before = getenv("TZ");

	for (size_t i = 0; i < PD_ARRAY_LEN(t); i++)
		c[i] = cal(t[i].zone, t[i].hours);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < PD_ARRAY_LEN(t); i++) {
			int64_t got = pd_calendar_elapsed(c[i], (time_t)utc(t[i].from),
							  (time_t)utc(t[i].to));
			if (got != t[i].want)
				fail_msg("case %zu (%s %s): %lld, want %lld", i, t[i].zone,
					 t[i].hours, (long long)got, (long long)t[i].want);
		}
	/* Tokyo opens 09:00 JST = 00:00 UTC */
	assert_true(pd_calendar_next_open(c[6], (time_t)utc("2026-11-21 12:00")) ==
		    (time_t)utc("2026-11-23 00:00"));
	/* Lord Howe's gap: the 02:10 start is the instant of the jump, 15:30 UTC */
	assert_true(pd_calendar_next_open(c[2], (time_t)utc("2026-10-03 12:00")) ==
		    (time_t)utc("2026-10-03 15:30"));
	for (size_t i = 0; i < PD_ARRAY_LEN(t); i++)
		pd_calendar_free(c[i]);
	assert_true(getenv("TZ") == tz_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zones_match_libc),
		cmocka_unit_test(test_known_changes),
		cmocka_unit_test(test_rule_alone),
		cmocka_unit_test(test_file_forms),
		cmocka_unit_test(test_calendars_side_by_side),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
