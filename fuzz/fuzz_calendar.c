/*
 * fuzz_calendar.c - durations, sizes, business hours and holidays as the
 * configuration writes them, and the calendar and SLA arithmetic on them.
 *
 * Input: lines.  The first names the time zone (an IANA name as the
 * configuration accepts it; empty or unknown = the server's zone).  Then:
 *   hours SPEC          a calendar hours entry ("mon-fri 09:00-18:00")
 *   holiday YYYY-MM-DD  a closed day
 *   at SECONDS          an instant to compute from (1970..2100)
 *   sla FR RES [WARN]   SLA targets (durations) and warning percent
 *   anything else       tried as a duration, a size, hours and a date
 * Every duration read becomes a business-time sum from every instant.
 *
 * Checked besides memory and UB: add and elapsed agree (the open time
 * between start and add(start, d) is d), the next opening is open, and a
 * 24x7 clock is plain arithmetic.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "config.h"
#include "confload.h"
#include "fuzz.h"
#include "sla.h"
#include "tzif.h"
#include "util.h"

#define REQUIRE(cond)                                                                         \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_calendar: %s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                                             \
			abort();                                                              \
		}                                                                             \
	} while (0)

#define MAX_HOURS 8
#define MAX_HOLIDAYS 32
#define MAX_AT 3
#define MAX_DUR 3
#define MAX_SLA 2
#define T_MAX ((time_t)4102444800) /* 2100-01-01 */

struct input {
	struct pd_calendar_cfg cfg;
	struct pd_hours hours[MAX_HOURS];
	struct pd_date dates[MAX_HOLIDAYS];
	char *hours_text[MAX_HOURS];
	char *date_text[MAX_HOLIDAYS];
	size_t n_at, n_dur, n_sla;
	time_t at[MAX_AT];
	int64_t dur[MAX_DUR];
	struct {
		int64_t fr, res;
		int warn_at;
	} sla[MAX_SLA];
};

/* A zone name as config.c's load_timezone (tzif.c) accepts it. */
static bool zone_ok(const char *tz)
{
	const char *dir = getenv("TZDIR");
	char magic[4];

	if (*tz == '\0' || tz[0] == '/' || strstr(tz, "..") != NULL ||
	    strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-.") !=
		strlen(tz))
		return false;
	char *path = pd_xasprintf("%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	bool ok = fd >= 0 && read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	if (fd >= 0)
		close(fd);
	free(path);
	return ok;
}

static void add_duration(struct input *in, int64_t d)
{
	char buf[32];

	pd_sla_format_duration(d, buf, sizeof(buf));
	pd_sla_format_duration(-d, buf, sizeof(buf));
	if (in->n_dur < MAX_DUR)
		in->dur[in->n_dur++] = d;
}

static void line(struct input *in, char *s)
{
	char why[256];
	int64_t d;
	uint64_t size;

	if (strncmp(s, "hours ", 6) == 0) {
		if (in->cfg.hours.n < MAX_HOURS &&
		    pd_config_parse_hours(s + 6, &in->hours[in->cfg.hours.n], why, sizeof(why)) == 0)
			in->hours_text[in->cfg.hours.n++] = s + 6;
		return;
	}
	if (strncmp(s, "holiday ", 8) == 0) {
		if (in->cfg.holidays.n < MAX_HOLIDAYS &&
		    pd_config_parse_date(s + 8, &in->dates[in->cfg.holidays.n]) == 0)
			in->date_text[in->cfg.holidays.n++] = s + 8;
		return;
	}
	if (strncmp(s, "at ", 3) == 0) {
		char *end;
		long long t = strtoll(s + 3, &end, 10);
		if (*end == '\0' && t > 0 && t < T_MAX && in->n_at < MAX_AT)
			in->at[in->n_at++] = (time_t)t;
		return;
	}
	if (strncmp(s, "sla ", 4) == 0) {
		char a[64], b[64], extra[2];
		int warn = 80;
		int n = sscanf(s + 4, "%63s %63s %d %1s", a, b, &warn, extra);
		int64_t fr, res;
		/* as config.c reads a plan's "FR RES" and warn_at (1..100) */
		if ((n == 2 || n == 3) && pd_parse_duration(a, &fr) == 0 &&
		    pd_parse_duration(b, &res) == 0 && fr >= 1 && res >= 1 && warn >= 1 &&
		    warn <= 100 && in->n_sla < MAX_SLA) {
			in->sla[in->n_sla].fr = fr;
			in->sla[in->n_sla].res = res;
			in->sla[in->n_sla].warn_at = warn;
			in->n_sla++;
		}
		return;
	}
	if (pd_parse_duration(s, &d) == 0)
		add_duration(in, d);
	(void)pd_parse_size(s, &size);
	struct pd_hours h;
	(void)pd_config_parse_hours(s, &h, why, sizeof(why));
	struct pd_date dt;
	(void)pd_config_parse_date(s, &dt);
}

static void calendar_checks(const struct pd_calendar *c, const struct input *in)
{
	bool always = pd_calendar_is_24x7(c);

	for (size_t i = 0; i < in->n_at; i++) {
		time_t t = in->at[i];
		time_t o = pd_calendar_next_open(c, t);
		bool open = pd_calendar_is_open(c, t);

		if (o != PD_CALENDAR_NEVER) {
			REQUIRE(o >= t);
			REQUIRE(pd_calendar_is_open(c, o));
			REQUIRE(open == (o == t));
		} else {
			REQUIRE(!open);
		}
		for (size_t k = 0; k < in->n_dur; k++) {
			int64_t d = in->dur[k];
			time_t r = pd_calendar_add(c, t, d);
			if (always)
				REQUIRE(r == PD_CALENDAR_NEVER || r - t == d);
			if (r == PD_CALENDAR_NEVER)
				continue;
			REQUIRE(r >= t);
			REQUIRE(pd_calendar_elapsed(c, t, r) == d);
			REQUIRE(pd_calendar_elapsed(c, r, t) == -d);
		}
		for (size_t k = 0; k < in->n_at; k++)
			(void)pd_calendar_elapsed(c, t, in->at[k]);
	}
}

static void sla_checks(const struct pd_calendar *c, const struct pd_calendar *warn_cal,
		       const struct input *in)
{
	for (size_t i = 0; i < in->n_sla; i++) {
		struct pd_sla_targets t = {
		    .first_response = in->sla[i].fr,
		    .resolution = in->sla[i].res,
		    .warn_at = in->sla[i].warn_at,
		    .cal = c,
		    .warn_cal = warn_cal,
		};
		for (size_t k = 0; k < in->n_at; k++) {
			struct pd_sla_state st;
			time_t now = in->at[k];
			char buf[32];

			memset(&st, 0, sizeof(st));
			st.running_wanted = true;
			st.first_response_secs = -1;
			st.resolution_secs = -1;
			pd_sla_update(&t, &st, now);
			REQUIRE(st.fr_warn == 0 || st.fr_warn < st.fr_due);
			REQUIRE(st.res_warn == 0 || st.res_warn < st.res_due);
			/* the customer waits (pending), then answers */
			time_t later = in->at[(k + 1) % in->n_at];
			if (later < now)
				continue;
			st.running_wanted = false;
			pd_sla_update(&t, &st, later);
			st.running_wanted = true;
			st.responded = true;
			pd_sla_update(&t, &st, later);
			int64_t used = pd_sla_used_now(&t, &st, later);
			pd_sla_format_duration(used, buf, sizeof(buf));
			struct pd_sla_clock_view v = {false, st.res_due, st.res_warn, 0, 0};
			(void)pd_sla_notice_name(pd_sla_due_notice(&v, later));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input *in = pd_xcalloc(1, sizeof(*in));
	char *text = pd_xstrndup((const char *)data, size);
	char *save = NULL;
	char *first = strchr(text, '\n');

	if (first != NULL)
		*first = '\0';
	if (zone_ok(text))
		in->cfg.timezone = text;
	for (char *s = first ? strtok_r(first + 1, "\r\n", &save) : NULL; s != NULL;
	     s = strtok_r(NULL, "\r\n", &save))
		line(in, s);
	if (in->n_at == 0)
		in->at[in->n_at++] = 1711845000; /* 2024-03-31 00:30 UTC */

	in->cfg.name = (char *)"fuzz";
	in->cfg.hours.v = in->hours_text;
	in->cfg.holidays.v = in->date_text;
	in->cfg.hours_parsed = in->hours;
	in->cfg.holiday_dates = in->dates;
	struct pd_calendar *c = pd_calendar_new(&in->cfg);
	struct pd_calendar *always = pd_calendar_new(NULL);

	calendar_checks(c, in);
	calendar_checks(always, in);
	sla_checks(c, NULL, in);
	sla_checks(always, c, in);

	pd_calendar_free(c);
	pd_calendar_free(always);
	free(text);
	free(in);
	return 0;
}
