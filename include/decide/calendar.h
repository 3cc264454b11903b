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
 * NOT THREAD-SAFE: every call that needs the zone temporarily sets TZ
 * (setenv + tzset) and restores the previous value before returning.  The
 * daemon is single-threaded; do not call these from several threads.
 */
#ifndef PD_CALENDAR_H
#define PD_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

/* Returned by pd_calendar_add / pd_calendar_next_open when no open time is
 * found within PD_CALENDAR_MAX_DAYS local days (a calendar with no hours). */
#define PD_CALENDAR_NEVER ((time_t)-1)
#define PD_CALENDAR_MAX_DAYS (20 * 366)

struct pd_calendar;

/* Build a calendar from cfg (copied; cfg may be freed afterwards), or the
 * built-in 24x7 one when cfg is NULL.  cfg->timezone NULL means the
 * server's local zone.  Never returns NULL (allocation aborts). */
struct pd_calendar *pd_calendar_new(const struct pd_calendar_cfg *cfg);
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
