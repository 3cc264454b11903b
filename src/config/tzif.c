/*
 * tzif.c - reading a time zone's offsets (see tzif.h), and building a
 * calendar from a calendar section with its zone (config.h).
 *
 * TZif (RFC 8536): a header "TZif", a version, six counts; the version 1
 * data block (32-bit times); from version 2 on a second header and block
 * with 64-bit times, then a footer "\nPOSIX-TZ-string\n" that gives the
 * offsets after the last transition.  Only the UTC offsets matter here:
 * abbreviations, isdst, standard/wall and UT/local indicators are skipped.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "tzif.h"
#include "util.h"

#define TZIF_MAX_BYTES (1024 * 1024) /* real files are a few KiB */
#define RULE_MAX 256                 /* bytes of a footer */

static void why_set(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ builder */

struct change {
	int64_t at;
	int32_t utoff;
};

struct builder {
	int32_t initial;
	size_t n, cap;
	struct change *v;
};

static void push(struct builder *b, int64_t at, int32_t utoff)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->v = pd_xreallocarray(b->v, b->cap, sizeof(*b->v));
	}
	b->v[b->n].at = at;
	b->v[b->n].utoff = utoff;
	b->n++;
}

static int change_cmp(const void *a, const void *b)
{
	const struct change *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

/* The zone of b's changes: sorted, one per instant (the last pushed wins),
 * and only where the offset changes.  Frees b's array. */
static struct pd_zone *finish(struct builder *b)
{
	struct pd_zone *z = pd_xcalloc(1, sizeof(*z));
	int32_t cur = b->initial;

	z->initial = b->initial;
	if (b->n > 0) {
		/* stable enough: equal instants only come from a rule's two
		 * changes falling together, and then either order gives the
		 * same offset after both */
		qsort(b->v, b->n, sizeof(*b->v), change_cmp);
		z->at = pd_xreallocarray(NULL, b->n, sizeof(*z->at));
		z->utoff = pd_xreallocarray(NULL, b->n, sizeof(*z->utoff));
	}
	for (size_t i = 0; i < b->n; i++) {
		if (i + 1 < b->n && b->v[i + 1].at == b->v[i].at)
			continue;
		if (b->v[i].utoff == cur)
			continue;
		z->at[z->n] = b->v[i].at;
		z->utoff[z->n] = b->v[i].utoff;
		z->n++;
		cur = b->v[i].utoff;
	}
	free(b->v);
	memset(b, 0, sizeof(*b));
	return z;
}

/* ------------------------------------------------------ civil dates */

/* Days since 1970-01-01 of year-month-day (timegm does the calendar). */
static int64_t days_of(int year, int month, int day)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = 12;
	return ((int64_t)timegm(&tm) - 12 * 3600) / 86400;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int len[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap_year(y) ? 29 : len[m - 1];
}

static int year_of(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		return t < 0 ? 1900 : PD_ZONE_END_YEAR;
	return tm.tm_year + 1900;
}

/* ------------------------------------------------- POSIX TZ strings */

/* One end of daylight time: a day rule and a local time of day. */
struct when {
	char kind;    /* 'J' (1-365, no Feb 29), 'n' (0-365), 'M' (month.week.day) */
	int n, m, w, d;
	int32_t time; /* seconds after local midnight, may be negative or > 24h */
};

struct posix_tz {
	int32_t std, dst; /* seconds east of UTC */
	bool has_dst;
	struct when start, end;
};

/* A zone abbreviation: three or more letters, or <...> of letters, digits, '+', '-'. */
static const char *skip_name(const char *p)
{
	const char *s;

	if (*p == '<') {
		for (s = ++p; isalnum((unsigned char)*p) || *p == '+' || *p == '-'; p++)
			;
		return *p == '>' && p - s >= 3 ? p + 1 : NULL;
	}
	for (s = p; isalpha((unsigned char)*p); p++)
		;
	return p - s >= 3 ? p : NULL;
}

static const char *num(const char *p, int max_digits, int *v)
{
	int k = 0;

	*v = 0;
	while (k < max_digits && isdigit((unsigned char)*p)) {
		*v = *v * 10 + (*p++ - '0');
		k++;
	}
	return k > 0 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h; seconds (signed) in *secs. */
static const char *hms(const char *p, int max_h, int32_t *secs)
{
	int sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if ((p = num(p, 3, &h)) == NULL || h > max_h)
		return NULL;
	if (*p == ':') {
		if ((p = num(p + 1, 2, &m)) == NULL || m > 59)
			return NULL;
		if (*p == ':' && ((p = num(p + 1, 2, &s)) == NULL || s > 59))
			return NULL;
	}
	*secs = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *when(const char *p, struct when *w)
{
	memset(w, 0, sizeof(*w));
	w->time = 2 * 3600;
	if (*p == 'J') {
		w->kind = 'J';
		if ((p = num(p + 1, 3, &w->n)) == NULL || w->n < 1 || w->n > 365)
			return NULL;
	} else if (*p == 'M') {
		w->kind = 'M';
		if ((p = num(p + 1, 2, &w->m)) == NULL || w->m < 1 || w->m > 12 || *p != '.' ||
		    (p = num(p + 1, 1, &w->w)) == NULL || w->w < 1 || w->w > 5 || *p != '.' ||
		    (p = num(p + 1, 1, &w->d)) == NULL || w->d > 6)
			return NULL;
	} else {
		w->kind = 'n';
		if ((p = num(p, 3, &w->n)) == NULL || w->n > 365)
			return NULL;
	}
	if (*p == '/')
		p = hms(p + 1, 167, &w->time);
	return p;
}

static int parse_posix(const char *p, struct posix_tz *tz)
{
	int32_t off;

	memset(tz, 0, sizeof(*tz));
	if ((p = skip_name(p)) == NULL || (p = hms(p, 24, &off)) == NULL)
		return -1;
	tz->std = -off; /* POSIX counts west of UTC */
	if (*p == '\0')
		return 0;
	if ((p = skip_name(p)) == NULL)
		return -1;
	tz->has_dst = true;
	tz->dst = tz->std + 3600;
	if (*p != ',' && *p != '\0') {
		if ((p = hms(p, 24, &off)) == NULL)
			return -1;
		tz->dst = -off;
	}
	/* no rule: the United States' (glibc's default) */
	const char *rule = *p == ',' ? p : ",M3.2.0,M11.1.0";
	if ((rule = when(rule + 1, &tz->start)) == NULL || *rule != ',' ||
	    (rule = when(rule + 1, &tz->end)) == NULL || *rule != '\0')
		return -1;
	return 0;
}

/* The local day (days since 1970-01-01) w falls on in year y. */
static int64_t when_day(const struct when *w, int y)
{
	int64_t jan1 = days_of(y, 1, 1);

	if (w->kind == 'J')
		return jan1 + w->n - 1 + (leap_year(y) && w->n >= 60);
	if (w->kind == 'n')
		return jan1 + w->n;
	int64_t first = days_of(y, w->m, 1);
	int wd = (int)(((first + 4) % 7 + 7) % 7); /* 0 = Sunday; 1970-01-01 was a Thursday */
	int mday = 1 + (w->d - wd + 7) % 7 + 7 * (w->w - 1);
	while (mday > month_days(y, w->m))
		mday -= 7;
	return first + mday - 1;
}

/* Push tz's changes of the years from..PD_ZONE_END_YEAR-1 that come after `after`. */
static void expand(struct builder *b, const struct posix_tz *tz, int from, int64_t after)
{
	for (int y = from; y < PD_ZONE_END_YEAR; y++) {
		/* the start is written in standard time, the end in daylight time */
		int64_t s = when_day(&tz->start, y) * 86400 + tz->start.time - tz->std;
		int64_t e = when_day(&tz->end, y) * 86400 + tz->end.time - tz->dst;
		if (s > after)
			push(b, s, tz->dst);
		if (e > after)
			push(b, e, tz->std);
	}
}

int pd_tzif_rule(const char *s, struct pd_zone **zone_r)
{
	struct posix_tz tz;
	struct builder b;

	*zone_r = NULL;
	if (s == NULL || parse_posix(s, &tz) < 0)
		return -1;
	memset(&b, 0, sizeof(b));
	b.initial = tz.std;
	if (tz.has_dst)
		expand(&b, &tz, 1900, INT64_MIN);
	*zone_r = finish(&b);
	return 0;
}

/* --------------------------------------------------------------- TZif */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static size_t block_len(const struct counts *c, size_t tsize)
{
	return (size_t)c->time * (tsize + 1) + (size_t)c->type * 6 + c->chars +
	       (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

int pd_tzif_parse(const unsigned char *data, size_t len, struct pd_zone **zone_r, char *why,
		  size_t why_len)
{
	struct counts c;
	size_t tsize = 4, pos = 0;
	struct builder b;

	*zone_r = NULL;
	memset(&b, 0, sizeof(b));
	if (len < 44 || memcmp(data, "TZif", 4) != 0) {
		why_set(why, why_len, "not a TZif file");
		return -1;
	}
	for (int pass = 0;; pass++) {
		if (len - pos < 44 || memcmp(data + pos, "TZif", 4) != 0) {
			why_set(why, why_len, "truncated at byte %zu (a header)", pos);
			return -1;
		}
		c.isut = be32(data + pos + 20);
		c.isstd = be32(data + pos + 24);
		c.leap = be32(data + pos + 28);
		c.time = be32(data + pos + 32);
		c.type = be32(data + pos + 36);
		c.chars = be32(data + pos + 40);
		if (c.time > 100000 || c.type == 0 || c.type > 256 || c.leap > 100000 ||
		    c.chars > 100000 || (c.isstd != 0 && c.isstd != c.type) ||
		    (c.isut != 0 && c.isut != c.type)) {
			why_set(why, why_len, "bad counts in the header at byte %zu", pos);
			return -1;
		}
		pos += 44;
		if (len - pos < block_len(&c, tsize)) {
			why_set(why, why_len, "truncated at byte %zu (a data block)", pos);
			return -1;
		}
		/* version 1 files have only this block; later ones repeat it with
		 * 64-bit times, which are the ones to read */
		if (pass > 0 || data[4] == '\0')
			break;
		pos += block_len(&c, tsize);
		tsize = 8;
	}

	const unsigned char *times = data + pos;
	const unsigned char *idx = times + (size_t)c.time * tsize;
	const unsigned char *types = idx + c.time;
	int32_t utoff[256];
	for (uint32_t i = 0; i < c.type; i++) {
		utoff[i] = (int32_t)be32(types + 6 * i);
		if (utoff[i] < -26 * 3600 || utoff[i] > 26 * 3600) {
			why_set(why, why_len, "UTC offset %ld of local time type %u is out of range",
				(long)utoff[i], (unsigned)i);
			return -1;
		}
	}
	b.initial = utoff[0]; /* RFC 8536: time type 0 applies before the first transition */
	int64_t last = INT64_MIN;
	for (uint32_t i = 0; i < c.time; i++) {
		int64_t at = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
		if (idx[i] >= c.type || (i > 0 && at <= last)) {
			free(b.v);
			why_set(why, why_len, "transition %u is out of order or has a bad type",
				(unsigned)i);
			return -1;
		}
		push(&b, at, utoff[idx[i]]);
		last = at;
	}
	pos += block_len(&c, tsize);

	/* the footer: "\nRULE\n" (version 2 and later; RULE may be empty) */
	if (tsize == 8) {
		const unsigned char *nl;
		char rule[RULE_MAX];
		struct posix_tz tz;
		if (pos >= len || data[pos] != '\n' ||
		    (nl = memchr(data + pos + 1, '\n', len - pos - 1)) == NULL ||
		    (size_t)(nl - (data + pos + 1)) >= sizeof(rule)) {
			free(b.v);
			why_set(why, why_len, "bad footer at byte %zu", pos);
			return -1;
		}
		size_t n = (size_t)(nl - (data + pos + 1));
		memcpy(rule, data + pos + 1, n);
		rule[n] = '\0';
		if (n > 0) {
			if (parse_posix(rule, &tz) < 0) {
				free(b.v);
				why_set(why, why_len, "cannot read the rule \"%s\" at its end", rule);
				return -1;
			}
			if (tz.has_dst)
				expand(&b, &tz, c.time > 0 ? year_of(last) : 1900, last);
			else if (c.time == 0)
				b.initial = tz.std;
			else if (b.v[b.n - 1].utoff != tz.std)
				push(&b, last + 1, tz.std);
		}
	}
	*zone_r = finish(&b);
	return 0;
}

/* --------------------------------------------------------------- files */

/* The contents of path (at most TZIF_MAX_BYTES).  0, or -1 with errno. */
static int slurp(const char *path, unsigned char **data_r, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	*data_r = NULL;
	*len_r = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TZIF_MAX_BYTES) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	unsigned char *buf = pd_xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*data_r = buf;
	*len_r = got;
	return 0;
}

static const char *zone_dir(void)
{
	const char *dir = getenv("TZDIR");

	return dir != NULL && *dir != '\0' ? dir : "/usr/share/zoneinfo";
}

/* Load the TZif file at path; -1 with why when it cannot be read (missing:
 * *missing is set) or is not a valid TZif file. */
static int load_file(const char *path, struct pd_zone **zone_r, bool *missing, char *why,
		     size_t why_len)
{
	unsigned char *data;
	size_t len;
	char reason[200];

	*missing = false;
	if (slurp(path, &data, &len) < 0) {
		*missing = true;
		why_set(why, why_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (len < 4 || memcmp(data, "TZif", 4) != 0) {
		*missing = true; /* not a zone (a directory's other files) */
		free(data);
		why_set(why, why_len, "%s is not a TZif file", path);
		return -1;
	}
	int r = pd_tzif_parse(data, len, zone_r, reason, sizeof(reason));
	free(data);
	if (r < 0)
		why_set(why, why_len, "time zone file %s is damaged (%s); reinstall tzdata", path,
			reason);
	return r;
}

/* The server's zone, as libc finds it. */
static int load_local(struct pd_zone **zone_r, char *why, size_t why_len)
{
	const char *tz = getenv("TZ");
	bool missing;
	struct builder utc;

	memset(&utc, 0, sizeof(utc));
	if (tz == NULL) {
		if (load_file("/etc/localtime", zone_r, &missing, why, why_len) == 0 || !missing)
			return *zone_r != NULL ? 0 : -1;
		*zone_r = finish(&utc);
		return 0;
	}
	if (*tz == ':')
		tz++;
	if (*tz == '\0') {
		*zone_r = finish(&utc);
		return 0;
	}
	char *path = tz[0] == '/' ? pd_xstrdup(tz) : pd_xasprintf("%s/%s", zone_dir(), tz);
	int r = strstr(tz, "..") == NULL ? load_file(path, zone_r, &missing, why, why_len) : -1;
	free(path);
	if (r == 0)
		return 0;
	if (pd_tzif_rule(tz, zone_r) == 0)
		return 0;
	*zone_r = finish(&utc); /* as libc: a TZ it cannot read is UTC */
	return 0;
}

int pd_tzif_load(const char *name, struct pd_zone **zone_r, char *why, size_t why_len)
{
	bool missing;

	*zone_r = NULL;
	if (name == NULL)
		return load_local(zone_r, why, why_len);
	const char *dir = zone_dir();
	if (*name == '\0' || name[0] == '/' || strstr(name, "..") != NULL ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-.") !=
		strlen(name)) {
		why_set(why, why_len, "\"%s\" is not a time zone name such as Europe/Moscow", name);
		return -1;
	}
	char *path = pd_xasprintf("%s/%s", dir, name);
	int r = load_file(path, zone_r, &missing, why, why_len);
	free(path);
	if (r < 0 && missing)
		why_set(why, why_len, "unknown time zone \"%s\" (not found in %s)", name, dir);
	return r;
}

/* ------------------------------------------------------------ calendars */

struct pd_calendar *pd_calendar_new(const struct pd_calendar_cfg *cfg)
{
	if (cfg == NULL || cfg->zone != NULL)
		return pd_calendar_build(cfg);

	/* a section built by hand: read its zone now */
	struct pd_calendar_cfg c = *cfg;
	char why[512];
	if (pd_tzif_load(cfg->timezone, &c.zone, why, sizeof(why)) < 0)
		c.zone = NULL; /* UTC, as libc counts a zone it cannot read */
	struct pd_calendar *cal = pd_calendar_build(&c);
	pd_zone_free(c.zone);
	return cal;
}
