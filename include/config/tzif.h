/*
 * tzif.h - a time zone's UTC offsets from the system's time zone database.
 *
 * The configuration loads each calendar's zone once with pd_tzif_load, so
 * that calendar.c counts business time from a table (struct pd_zone) and
 * never touches TZ, tzset or the files.  libc has no call for "the offset
 * of zone Z at instant t" other than setting TZ for the whole process, so
 * the zone file is read here: a TZif file (RFC 8536) from $TZDIR or
 * /usr/share/zoneinfo, whose transitions are taken as they are and whose
 * closing rule (a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3")
 * is evaluated for every later year up to PD_ZONE_END_YEAR.  Leap-second
 * records are skipped: postdesk counts POSIX time.
 */
#ifndef PD_TZIF_H
#define PD_TZIF_H

#include <stddef.h>
#include <stdint.h>

#include "calendar.h"

/*
 * The zone of a TZif file's contents data[0..len).  Returns 0 and
 * *zone_r (free with pd_zone_free), or -1 with a reason in why.
 */
int pd_tzif_parse(const unsigned char *data, size_t len, struct pd_zone **zone_r, char *why,
		  size_t why_len);

/*
 * The zone a POSIX TZ string describes ("JST-9", "EST5EDT,M3.2.0,M11.1.0",
 * "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"), its changes from 1900 to
 * PD_ZONE_END_YEAR.  Returns 0 and *zone_r, or -1 when s is not one.
 */
int pd_tzif_rule(const char *s, struct pd_zone **zone_r);

/*
 * Load the zone NAME (an IANA name such as "Europe/Berlin": letters,
 * digits, "/_+-.", no leading '/' and no "..") from $TZDIR, else
 * /usr/share/zoneinfo.  NAME NULL: the server's zone as libc finds it: $TZ
 * (":NAME", NAME, an absolute path, or a POSIX TZ string; empty = UTC),
 * else /etc/localtime, else UTC.  Returns 0 and *zone_r (free with
 * pd_zone_free), or -1 with why ready to follow "timezone: ", e.g.
 * `unknown time zone "Mars/Olympus" (not found in /usr/share/zoneinfo)`.
 */
int pd_tzif_load(const char *name, struct pd_zone **zone_r, char *why, size_t why_len);

/*
 * A calendar from a calendar section (see pd_calendar_build), or the 24x7
 * one when cfg is NULL.  A section of a loaded configuration has its zone
 * loaded already and this reads nothing; for a section built by hand
 * (zone NULL) the zone is read now (pd_tzif_load; timezone NULL: the server's
 * zone; a zone that cannot be read counts as UTC).  Free with
 * pd_calendar_free.
 */
struct pd_calendar *pd_calendar_new(const struct pd_calendar_cfg *cfg);

#endif
