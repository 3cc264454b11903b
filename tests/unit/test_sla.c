/*
 * test_sla.c - SLA clocks: start, pause and resume on 24x7 and on a Moscow
 * office calendar, a breach kept across pause/resume, shorter targets,
 * first response and resolution times, warnings held to a line's hours, the
 * notice decision for every state, and the duration format.  Instants are
 * written in UTC; "now" is always passed in.
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
#include "sla.h"
#include "tzif.h"
#include "util.h"

#define H 3600
#define M 60

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

/* Moscow office: mon-fri 09:00-18:00 (UTC+3 all year), 2027-01-01 closed. */
static struct pd_calendar *moscow_office(void)
{
	struct pd_calendar_cfg cfg;
	struct pd_hours h;
	struct pd_date hol;
	char why[200];

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(pd_config_parse_hours("mon-fri 09:00-18:00", &h, why, sizeof(why)), 0);
	assert_int_equal(pd_config_parse_date("2027-01-01", &hol), 0);
	cfg.timezone = (char *)(uintptr_t) "Europe/Moscow";
	cfg.hours.n = 1;
	cfg.hours_parsed = &h;
	cfg.holidays.n = 1;
	cfg.holiday_dates = &hol;
	return pd_calendar_new(&cfg);
}

static void fresh(struct pd_sla_state *st)
{
	memset(st, 0, sizeof(*st));
	st->running_wanted = true;
	st->first_response_secs = -1;
	st->resolution_secs = -1;
}

static void test_start_24x7(void **state)
{
	(void)state;
	struct pd_calendar *c = pd_calendar_new(NULL);
	struct pd_sla_targets t = {.first_response = 30 * M, .resolution = 4 * H, .warn_at = 80,
				   .cal = c};
	struct pd_sla_state st;
	time_t now = utc("2026-11-21 23:50");

	fresh(&st);
	pd_sla_update(&t, &st, now);
	assert_true(st.since == now);
	assert_int_equal(st.used, 0);
	assert_true(st.fr_due == now + 30 * M);
	assert_true(st.fr_warn == now + 24 * M);
	assert_true(st.res_due == now + 4 * H);
	assert_true(st.res_warn == now + 4 * H * 80 / 100);
	/* the same state later gives the same instants (a scan recomputing
	 * must not move a due time it already notified) */
	struct pd_sla_state again = st;
	pd_sla_update(&t, &again, now + 3 * H);
	assert_true(again.fr_due == st.fr_due && again.res_warn == st.res_warn);
	pd_calendar_free(c);
}

static void test_start_office(void **state)
{
	(void)state;
	struct pd_calendar *c = moscow_office();
	struct pd_sla_targets t = {.first_response = 8 * H, .resolution = 3 * 9 * H,
				   .warn_at = 80, .cal = c};
	struct pd_sla_state st;

	/* Friday 17:00 MSK = 14:00 UTC: 1 h on Friday, 7 h on Monday -> 16:00 MSK */
	fresh(&st);
	pd_sla_update(&t, &st, utc("2026-11-20 14:00"));
	assert_true(st.fr_due == utc("2026-11-23 13:00"));
	/* 80 % of 8 h = 6 h 24 m: Friday 1 h, Monday 09:00 + 5 h 24 m = 14:24 MSK */
	assert_true(st.fr_warn == utc("2026-11-23 11:24"));
	/* 27 business hours: Fri 1 + Mon 9 + Tue 9 + Wed 8 -> Wed 17:00 MSK */
	assert_true(st.res_due == utc("2026-11-25 14:00"));

	/* created on Saturday: the clock starts Monday 09:00 */
	fresh(&st);
	pd_sla_update(&t, &st, utc("2026-11-21 10:00"));
	assert_true(st.fr_due == utc("2026-11-23 14:00"));

	/* across the New Year holiday: 2026-12-31 (Thu) 17:00 MSK, 8 h ->
	 * 1 h on Thursday, Friday is a holiday, 7 h on Monday 2027-01-04 */
	fresh(&st);
	pd_sla_update(&t, &st, utc("2026-12-31 14:00"));
	assert_true(st.fr_due == utc("2027-01-04 13:00"));
	pd_calendar_free(c);
}

static void test_pause_resume(void **state)
{
	(void)state;
	struct pd_calendar *c = pd_calendar_new(NULL);
	struct pd_sla_targets t = {.first_response = 1 * H, .resolution = 4 * H, .warn_at = 50,
				   .cal = c};
	struct pd_sla_state st;
	time_t t0 = utc("2026-11-22 08:00");

	fresh(&st);
	pd_sla_update(&t, &st, t0);
	/* an agent answers after 20 minutes: first response met, pending */
	st.responded = true;
	st.running_wanted = false;
	pd_sla_update(&t, &st, t0 + 20 * M);
	assert_int_equal(st.first_response_secs, 20 * M);
	assert_true(st.since == 0);
	assert_int_equal(st.used, 20 * M);
	assert_true(st.res_due == t0 + 4 * H); /* kept (shown) while paused */
	/* the customer answers 10 hours later: 3 h 40 m left */
	st.running_wanted = true;
	pd_sla_update(&t, &st, t0 + 10 * H);
	assert_true(st.since == t0 + 10 * H);
	assert_true(st.res_due == t0 + 10 * H + 3 * H + 40 * M);
	/* warn at 2 h used: 1 h 40 m after the resume */
	assert_true(st.res_warn == t0 + 10 * H + 1 * H + 40 * M);
	assert_int_equal(st.first_response_secs, 20 * M); /* recorded once */
	/* resolved an hour later: 1 h 20 m of business time in all */
	st.running_wanted = false;
	st.resolved = true;
	pd_sla_update(&t, &st, t0 + 11 * H);
	assert_int_equal(st.resolution_secs, 1 * H + 20 * M);
	/* reopened: no resolution time until it is resolved again */
	st.running_wanted = true;
	st.resolved = false;
	pd_sla_update(&t, &st, t0 + 30 * H);
	assert_int_equal(st.resolution_secs, -1);
	assert_true(st.res_due == t0 + 30 * H + 4 * H - (1 * H + 20 * M));
	pd_calendar_free(c);
}

static void test_pause_office(void **state)
{
	(void)state;
	struct pd_calendar *c = moscow_office();
	struct pd_sla_targets t = {.first_response = 0, .resolution = 9 * H, .warn_at = 80,
				   .cal = c};
	struct pd_sla_state st;

	/* Thursday 10:00 MSK, pending at 12:00 MSK (2 h used) */
	fresh(&st);
	pd_sla_update(&t, &st, utc("2026-11-19 07:00"));
	assert_true(st.fr_due == 0 && st.fr_warn == 0); /* no first response target */
	st.running_wanted = false;
	pd_sla_update(&t, &st, utc("2026-11-19 09:00"));
	assert_int_equal(st.used, 2 * H);
	/* the customer answers on Saturday: the clock resumes, but only runs
	 * from Monday 09:00; 7 h left -> Monday 16:00 MSK */
	st.running_wanted = true;
	pd_sla_update(&t, &st, utc("2026-11-21 12:00"));
	assert_true(st.res_due == utc("2026-11-23 13:00"));
	pd_calendar_free(c);
}

static void test_breach_kept(void **state)
{
	(void)state;
	struct pd_calendar *c = pd_calendar_new(NULL);
	struct pd_sla_targets t = {.first_response = 1 * H, .resolution = 2 * H, .warn_at = 80,
				   .cal = c};
	struct pd_sla_state st;
	time_t t0 = utc("2026-11-22 08:00");

	fresh(&st);
	pd_sla_update(&t, &st, t0);
	time_t due = st.fr_due;
	/* paused after 3 h, both targets spent */
	st.running_wanted = false;
	pd_sla_update(&t, &st, t0 + 3 * H);
	/* resumed: the due times stay where they were, so the breaches
	 * already notified are not notified again */
	st.running_wanted = true;
	pd_sla_update(&t, &st, t0 + 5 * H);
	assert_true(st.fr_due == due);
	assert_true(st.res_due == t0 + 2 * H);
	assert_true(st.res_warn == 0 || st.res_warn < st.res_due);
	pd_calendar_free(c);
}

static void test_shorter_target(void **state)
{
	(void)state;
	struct pd_calendar *c = pd_calendar_new(NULL);
	struct pd_sla_targets normal = {.first_response = 8 * H, .resolution = 3 * 24 * H,
					.warn_at = 80, .cal = c};
	struct pd_sla_targets critical = {.first_response = 30 * M, .resolution = 4 * H,
					  .warn_at = 80, .cal = c};
	struct pd_sla_state st;
	time_t t0 = utc("2026-11-22 08:00");

	fresh(&st);
	pd_sla_update(&normal, &st, t0);
	assert_true(st.fr_due == t0 + 8 * H);
	/* raised to critical after an hour: due 30 minutes after creation,
	 * already past, so the next scan sends the breach */
	pd_sla_update(&critical, &st, t0 + 1 * H);
	assert_true(st.fr_due == t0 + 30 * M);
	assert_true(st.res_due == t0 + 4 * H);
	/* paused with 5 h used, then critical: the spent target is "due now" */
	fresh(&st);
	pd_sla_update(&normal, &st, t0);
	st.running_wanted = false;
	pd_sla_update(&normal, &st, t0 + 5 * H);
	st.running_wanted = true;
	pd_sla_update(&critical, &st, t0 + 6 * H);
	assert_true(st.res_due == t0 + 6 * H);
	assert_true(st.res_warn == 0);
	/* no sla for the priority: no instants at all */
	pd_sla_update(NULL, &st, t0 + 7 * H);
	assert_true(st.fr_due == 0 && st.fr_warn == 0 && st.res_due == 0 && st.res_warn == 0);
	assert_true(st.since == t0 + 6 * H);
	pd_calendar_free(c);
}

static void test_warn_in_line_hours(void **state)
{
	(void)state;
	struct pd_calendar *c = pd_calendar_new(NULL);
	struct pd_calendar *office = moscow_office();
	struct pd_sla_targets t = {.first_response = 10 * H, .resolution = 0, .warn_at = 50,
				   .cal = c, .warn_cal = office};
	struct pd_sla_state st;

	/* 24x7 clock from Monday 00:00 MSK: the warning (05:00 MSK) waits for
	 * the line's 09:00, still before the 10:00 due time */
	fresh(&st);
	pd_sla_update(&t, &st, utc("2026-11-22 21:00"));
	assert_true(st.fr_due == utc("2026-11-23 07:00"));
	assert_true(st.fr_warn == utc("2026-11-23 06:00"));
	/* from Saturday 00:00 MSK the opening is after the due time: no warning */
	fresh(&st);
	pd_sla_update(&t, &st, utc("2026-11-20 21:00"));
	assert_true(st.fr_due == utc("2026-11-21 07:00"));
	assert_true(st.fr_warn == 0);
	assert_true(st.res_due == 0);
	pd_calendar_free(c);
	pd_calendar_free(office);
}

static void test_due_notice(void **state)
{
	(void)state;
	const time_t warn = 1000, due = 2000;
	struct pd_sla_clock_view v = {.due = due, .warn = warn};

	assert_int_equal(pd_sla_due_notice(&v, 999), PD_SLA_NONE);
	assert_int_equal(pd_sla_due_notice(&v, 1000), PD_SLA_WARNING);
	v.warned = due;
	assert_int_equal(pd_sla_due_notice(&v, 1500), PD_SLA_NONE);
	assert_int_equal(pd_sla_due_notice(&v, 2000), PD_SLA_BREACH);
	v.breached = due;
	assert_int_equal(pd_sla_due_notice(&v, 99999), PD_SLA_NONE);
	/* a warning for an older due time does not count for a new one */
	v.warned = v.breached = 500;
	assert_int_equal(pd_sla_due_notice(&v, 1200), PD_SLA_WARNING);
	/* both past and nothing sent: the breach (the warning is moot) */
	v.warned = v.breached = 0;
	assert_int_equal(pd_sla_due_notice(&v, 5000), PD_SLA_BREACH);
	/* met or paused: nothing */
	v.stopped = true;
	assert_int_equal(pd_sla_due_notice(&v, 5000), PD_SLA_NONE);
	/* no due time: nothing */
	struct pd_sla_clock_view none = {0};
	assert_int_equal(pd_sla_due_notice(&none, 5000), PD_SLA_NONE);
	/* no warning instant: only the breach */
	struct pd_sla_clock_view nw = {.due = due};
	assert_int_equal(pd_sla_due_notice(&nw, 1500), PD_SLA_NONE);
	assert_int_equal(pd_sla_due_notice(&nw, 2500), PD_SLA_BREACH);
	assert_string_equal(pd_sla_notice_name(PD_SLA_WARNING), "warning");
	assert_string_equal(pd_sla_clock_name(PD_SLA_RESOLUTION), "resolution");
}

static void test_format(void **state)
{
	(void)state;
	char b[32];

	assert_string_equal(pd_sla_format_duration(0, b, sizeof(b)), "0s");
	assert_string_equal(pd_sla_format_duration(45, b, sizeof(b)), "45s");
	assert_string_equal(pd_sla_format_duration(90 * M, b, sizeof(b)), "1h 30m");
	assert_string_equal(pd_sla_format_duration(2 * 86400 + 4 * H + 5, b, sizeof(b)),
			    "2d 4h");
	assert_string_equal(pd_sla_format_duration(86400 + 5 * M, b, sizeof(b)), "1d");
	assert_string_equal(pd_sla_format_duration(-30 * M, b, sizeof(b)), "-30m");
	assert_string_equal(pd_sla_format_duration(INT64_MIN, b, sizeof(b)),
			    pd_sla_format_duration(INT64_MIN, b, sizeof(b)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_start_24x7),   cmocka_unit_test(test_start_office),
	    cmocka_unit_test(test_pause_resume), cmocka_unit_test(test_pause_office),
	    cmocka_unit_test(test_breach_kept),  cmocka_unit_test(test_shorter_target),
	    cmocka_unit_test(test_warn_in_line_hours), cmocka_unit_test(test_due_notice),
	    cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
