/*
 * calendar.h - business-time arithmetic over a support calendar.
 *
 * A pure module: no clock is read, "now" is always passed in.  A calendar
 * is a time zone (IANA name), weekly opening hours (several ranges a day)
 * and holiday dates (whole local days closed), or the built-in 24x7.
 *
 * Local instants are computed day by day in the calendar's own zone, so
 * DST changes, midnight, weekends and holidays are handled from the real
 * instants: a 02:00-04:00 range on a spring-forward day is one real hour,
 * a 00:00-03:00 range on a fall-back day is four.  A range bound falling in
 * a spring-forward gap maps to the instant the clocks jump (the first real
 * instant at or after that wall time); a bound in a fall-back overlap maps
 * to the earlier instant for a range start and the later one for an end.
 *
 * The zone is a table of UTC offsets (struct pd_zone), read from the
 * system's time zone database once, when the configuration is loaded
 * (tzif.h); nothing here reads the environment, a file or the clock, so
 * any number of calendars in different zones can be used side by side.
 */
#ifndef PD_CALENDAR_H
#define PD_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "calendar_cfg.h"

/* The UTC offset (seconds east) of z at t; z NULL is UTC. */
int32_t pd_zone_offset(const struct pd_zone *z, int64_t t);
/* A deep copy of z (NULL in, NULL out); never fails (allocation aborts). */
struct pd_zone *pd_zone_copy(const struct pd_zone *z);
void pd_zone_free(struct pd_zone *z);

/* Returned by pd_calendar_add / pd_calendar_next_open when no open time is
 * found within PD_CALENDAR_MAX_DAYS local days (a calendar with no hours). */
#define PD_CALENDAR_NEVER ((time_t)-1)
#define PD_CALENDAR_MAX_DAYS (20 * 366)

struct pd_calendar;

/*
 * Build a calendar from cfg and its loaded zone (both copied; cfg may be
 * freed afterwards), or the built-in 24x7 one when cfg is NULL.  A cfg
 * whose zone is NULL counts in UTC.  Never returns NULL (allocation
 * aborts).  pd_calendar_new (tzif.h, config) also loads the zone of a section
 * built by hand.
 */
struct pd_calendar *pd_calendar_build(const struct pd_calendar_cfg *cfg);
void pd_calendar_free(struct pd_calendar *c);

/* True when the calendar is 24x7. */
bool pd_calendar_is_24x7(const struct pd_calendar *c);

/* The instant at which business_seconds of open time have elapsed after
 * start.  0 seconds -> start itself; negative -> PD_CALENDAR_NEVER;
 * no open time found -> PD_CALENDAR_NEVER.  24x7: start + seconds
 * (PD_CALENDAR_NEVER when that overflows time_t). */
time_t pd_calendar_add(const struct pd_calendar *c, time_t start, int64_t business_seconds);

/* Open seconds in [from, to); negative (-elapsed(to, from)) when to < from. */
int64_t pd_calendar_elapsed(const struct pd_calendar *c, time_t from, time_t to);

/* True when t lies inside an opening range (start inclusive, end exclusive). */
bool pd_calendar_is_open(const struct pd_calendar *c, time_t t);

/* t itself when open, else the next opening instant after t, or
 * PD_CALENDAR_NEVER when none within PD_CALENDAR_MAX_DAYS days. */
time_t pd_calendar_next_open(const struct pd_calendar *c, time_t t);

#endif
