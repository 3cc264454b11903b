/*
 * calendar_cfg.h - a calendar section of the configuration and the zone
 * table it is counted in: the data calendar.h (decide) computes from and
 * struct pd_config (config.h) holds.  Types only; the calendar's functions
 * are in calendar.h, the zone's loading in tzif.h (config).
 */
#ifndef PD_CALENDAR_CFG_H
#define PD_CALENDAR_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* One parsed hours entry, e.g. "mon-fri 09:00-13:00,14:00-18:00". */
#define PD_HOURS_MAX_RANGES 8
struct pd_hours {
	uint8_t days;                /* bit 0 = Monday ... bit 6 = Sunday */
	size_t n;                    /* time ranges used in r */
	struct {
		uint16_t start, end; /* minutes since midnight, start < end <= 1440 */
	} r[PD_HOURS_MAX_RANGES];    /* ascending, disjoint */
};

struct pd_date {
	int year, month, day;
};

/*
 * A time zone's UTC offsets over time: `initial` before at[0], utoff[i]
 * from at[i] (inclusive) until at[i + 1]; the last offset holds after
 * at[n - 1].  at is strictly ascending and neighbouring offsets differ.
 * tzif.c fills it from a TZif file and extends it with the file's rule for
 * later years up to PD_ZONE_END_YEAR.
 */
#define PD_ZONE_END_YEAR 2200
struct pd_zone {
	int32_t initial; /* seconds east of UTC */
	size_t n;
	int64_t *at;     /* UTC instants of the changes */
	int32_t *utoff;  /* seconds east of UTC from at[i] */
};

/*
 * A calendar section: calendar "NAME" { timezone = ... hours = {...}
 * holidays = {...} }.  config.c fills it and loads zone with it.
 */
struct pd_calendar_cfg {
	char *name;
	char *timezone;              /* IANA name */
	struct pd_strlist hours;     /* "mon-fri 09:00-18:00" ... as written (validated) */
	struct pd_strlist holidays;  /* "YYYY-MM-DD" */
	struct pd_hours *hours_parsed;  /* hours.n entries, hours.v parsed */
	struct pd_date *holiday_dates;  /* holidays.n entries, holidays.v parsed */
	struct pd_zone *zone;        /* timezone's offsets (owned); NULL: not loaded */
};

#endif
