/*
 * config_values.c - the syntax of configuration values (domains, addresses,
 * URLs, opening hours, dates) and the typed getters that convert a string
 * of the schema into a number, duration, size or boolean, reporting a bad
 * one at its line.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <confuse.h>
#include <curl/curl.h>

#include "codec.h"
#include "config.h"
#include "config_int.h"
#include "confload.h"
#include "log.h"
#include "util.h"

/* --------------------------------------------------------- value syntax */

/* Host name: labels of letters, digits, '-' (and UTF-8), 1-63 bytes each. */
static bool domain_valid_n(const char *s, size_t n)
{
	return pd_utf8_valid(s, n) && pd_hostname_valid(s, n);
}

bool domain_valid(const char *s)
{
	return domain_valid_n(s, strlen(s));
}

/* local@domain: codec.h's check, UTF-8 allowed (RFC 6531). */
bool addr_spec_valid(const char *s)
{
	return pd_addr_spec_valid(s, PD_ADDR_UTF8);
}

bool pd_config_host_is_loopback(const char *host)
{
	unsigned char a4[4], a6[16];
	static const unsigned char v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	size_t n;

	if (host == NULL)
		return false;
	n = strlen(host);
	if (pd_str_iequal(host, "localhost") ||
	    (n > 10 && pd_str_iequal(host + n - 10, ".localhost")))
		return true;
	if (inet_pton(AF_INET, host, a4) == 1)
		return a4[0] == 127;
	if (inet_pton(AF_INET6, host, a6) == 1)
		return memcmp(a6, v6_loop, 16) == 0 ||
		       (memcmp(a6, v4_mapped, 12) == 0 && a6[12] == 127);
	return false;
}

void pd_url_free(struct pd_url *u)
{
	if (u == NULL)
		return;
	free(u->host);
	free(u->path);
	u->host = NULL;
	u->path = NULL;
}

/*
 * Why libcurl refused the authority [p, e) of a URL, in the words the
 * operator needs: curl says "bad port" for "::1" without brackets and for
 * text after "]", and "bad IPv6" for a missing "]".
 */
static void url_authority_why(CURLUcode rc, const char *p, const char *e, char *why,
			      size_t why_len)
{
	const char *close = *p == '[' ? memchr(p, ']', (size_t)(e - p)) : NULL;
	size_t colons = 0;

	for (const char *q = p; q < e; q++)
		colons += *q == ':';
	if (rc == CURLUE_NO_HOST)
		snprintf(why, why_len, "missing host name");
	else if (*p == '[' && close == NULL)
		snprintf(why, why_len, "missing ']' after the IPv6 address");
	else if (*p == '[' && rc == CURLUE_BAD_IPV6)
		snprintf(why, why_len, "bad IPv6 address [%.*s]", (int)(close - p - 1), p + 1);
	else if (*p == '[' && close + 1 < e && close[1] != ':')
		snprintf(why, why_len, "unexpected text after ']'");
	else if (*p != '[' && colons > 1)
		snprintf(why, why_len, "IPv6 addresses must be written in brackets, e.g. [::1]");
	else if (rc == CURLUE_BAD_PORT_NUMBER)
		snprintf(why, why_len, "port must be a number from 1 to 65535");
	else
		snprintf(why, why_len, "%s", curl_url_strerror(rc));
}

/* The path of a URL percent-decoded into *out (newly allocated); -1 with a
 * reason when an escape is broken, or the result holds a control character
 * or is not UTF-8. */
static int url_path_decode(const char *path, char **out, char *why, size_t why_len)
{
	int n = 0;
	char *dec;

	*out = NULL;
	/* libcurl leaves a broken escape as it is: refuse it instead */
	for (const char *q = strchr(path, '%'); q != NULL; q = strchr(q + 1, '%')) {
		if (pd_hexval(q[1]) < 0 || pd_hexval(q[2]) < 0) {
			snprintf(why, why_len, "bad percent-encoding in the path");
			return -1;
		}
	}
	dec = curl_easy_unescape(NULL, path, 0, &n);
	if (dec == NULL) {
		snprintf(why, why_len, "out of memory decoding the path");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f) {
			snprintf(why, why_len, "the path decodes to a control character");
			curl_free(dec);
			return -1;
		}
	}
	if (!pd_utf8_valid(dec, (size_t)n)) {
		snprintf(why, why_len, "the path is not valid UTF-8");
		curl_free(dec);
		return -1;
	}
	*out = pd_xstrndup(dec, (size_t)n);
	curl_free(dec);
	return 0;
}

/*
 * Strict on purpose: these URLs name where passwords go, so anything
 * surprising is refused rather than guessed at.  libcurl's URL API splits
 * the URL; the rules are ours.  Scheme names match in any case; user names
 * ("imap://u@h") are refused (the user key holds it); '?', '#', blanks and
 * control characters must be percent-encoded; IMAP ';' parameters (RFC 5092
 * ";UIDVALIDITY=") are refused; an IPv6 zone ("%25eth0") is refused.  The
 * path is taken as written (no "." or ".." folding), percent-decoded, and
 * must be UTF-8 without control characters.
 */
int pd_config_parse_url(const char *url, enum pd_url_proto proto, struct pd_url *u, char *why,
			size_t why_len)
{
	const char *plain = proto == PD_URL_IMAP ? "imap" : "smtp";
	const char *p, *auth_end;
	uint16_t def_port;
	size_t plen = strlen(plain);
	CURLU *h = NULL;
	CURLUcode rc;
	char *host = NULL, *port = NULL, *path = NULL, *user = NULL, *pass = NULL, *zone = NULL;
	int ret = -1;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, plain, plen) == 0 && strncmp(url + plen, "://", 3) == 0) {
		u->implicit_tls = false;
		p = url + plen + 3;
	} else if (strncasecmp(url, plain, plen) == 0 && (url[plen] == 's' || url[plen] == 'S') &&
		   strncmp(url + plen + 1, "://", 3) == 0) {
		u->implicit_tls = true;
		p = url + plen + 4;
	} else {
		snprintf(why, why_len, "must start with %s:// or %ss://", plain, plain);
		return -1;
	}
	if (proto == PD_URL_IMAP)
		def_port = u->implicit_tls ? 993 : 143;
	else
		def_port = u->implicit_tls ? 465 : 25;

	if (strpbrk(url, "?#") != NULL) {
		snprintf(why, why_len, "'?' and '#' are not allowed (percent-encode them)");
		return -1;
	}
	for (const char *q = url; *q; q++) {
		if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
			snprintf(why, why_len, "spaces and control characters are not allowed "
					       "(percent-encode them)");
			return -1;
		}
	}
	auth_end = p + strcspn(p, "/");
	if ((h = curl_url()) == NULL) {
		snprintf(why, why_len, "out of memory parsing the URL");
		return -1;
	}
	rc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
	if (rc != CURLUE_OK) {
		url_authority_why(rc, p, auth_end, why, why_len);
		goto done;
	}
	curl_url_get(h, CURLUPART_USER, &user, 0);
	curl_url_get(h, CURLUPART_PASSWORD, &pass, 0);
	if (user != NULL || pass != NULL) {
		snprintf(why, why_len, "a user name in the URL is not supported; use the user "
				       "option");
		goto done;
	}
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL ||
	    *host == '\0') {
		snprintf(why, why_len, "missing host name");
		goto done;
	}
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (curl_url_get(h, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK && zone != NULL) {
			snprintf(why, why_len, "bad IPv6 address %s: a zone (%%25%s) is not supported",
				 host, zone);
			goto done;
		}
		u->host = pd_xstrndup(host + 1, n >= 2 ? n - 2 : 0);
	} else {
		if (!domain_valid(host)) {
			snprintf(why, why_len, "bad host name '%s'", host);
			goto done;
		}
		u->host = pd_xstrdup(host);
	}
	u->port = def_port;
	if (curl_url_get(h, CURLUPART_PORT, &port, 0) == CURLUE_OK && port != NULL) {
		/* libcurl checked the digits and the range 0-65535 */
		long v = strtol(port, NULL, 10);
		if (v < 1 || v > 65535) {
			snprintf(why, why_len, "port must be a number from 1 to 65535");
			goto done;
		}
		u->port = (uint16_t)v;
	} else if (auth_end > p && auth_end[-1] == ':') {
		snprintf(why, why_len, "missing port number after ':'");
		goto done;
	}

	/* path: "/folder", percent-decoded */
	if (curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK || path == NULL) {
		snprintf(why, why_len, "no path in the URL");
		goto done;
	}
	const char *folder = path[0] == '/' ? path + 1 : path;
	if (proto == PD_URL_IMAP && strchr(folder, ';') != NULL) {
		snprintf(why, why_len, "';' parameters are not supported (write ';' in a folder "
				       "name as %%3B)");
		goto done;
	}
	if (url_path_decode(folder, &u->path, why, why_len) < 0)
		goto done;
	if (*u->path == '\0') {
		free(u->path);
		u->path = proto == PD_URL_IMAP ? pd_xstrdup("INBOX") : NULL;
	}
	ret = 0;
done:
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	curl_free(pass);
	curl_free(zone);
	curl_url_cleanup(h);
	if (ret < 0)
		pd_url_free(u);
	return ret;
}

/* Parse "HH:MM" at *p into minutes (0..1440). */
static int parse_hhmm(const char **p, int *min_r)
{
	const char *s = *p;
	int h = 0, m, digits = 0;

	while (isdigit((unsigned char)*s) && digits < 2)
		h = h * 10 + (*s++ - '0'), digits++;
	if (digits == 0 || *s != ':' || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || isdigit((unsigned char)s[3]))
		return -1;
	m = (s[1] - '0') * 10 + (s[2] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return -1;
	*min_r = h * 60 + m;
	*p = s + 3;
	return 0;
}

static int parse_day(const char **p, int *day_r)
{
	static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

	for (int i = 0; i < 7; i++) {
		if (strncasecmp(*p, days[i], 3) == 0 && !isalpha((unsigned char)(*p)[3])) {
			*day_r = i;
			*p += 3;
			return 0;
		}
	}
	return -1;
}

/*
 * DAYS TIMES, see config.h.  Day ranges run forward only (a week is
 * mon..sun: "fri-mon" is refused rather than wrapped, write "fri-sun,mon").
 * Times may not cross midnight: "22:00-02:00" is two entries.  Within an
 * entry ranges ascend and may touch ("09:00-12:00,12:00-13:00") but not
 * overlap.  Blanks around commas are allowed.
 */
int pd_config_parse_hours(const char *s, struct pd_hours *h, char *why, size_t why_len)
{
	const char *p = s;

	memset(h, 0, sizeof(*h));
	while (isspace((unsigned char)*p))
		p++;
	/* days: mon | mon-fri | mon,wed,fri-sun */
	for (;;) {
		int d1, d2;
		const char *start = p;
		if (parse_day(&p, &d1) < 0) {
			snprintf(why, why_len, "unknown day '%.*s' (use mon, tue, wed, thu, fri, sat, "
					       "sun)",
				 (int)strcspn(start, " \t,-"), start);
			return -1;
		}
		d2 = d1;
		if (*p == '-') {
			p++;
			start = p;
			if (parse_day(&p, &d2) < 0) {
				snprintf(why, why_len, "unknown day '%.*s' (use mon, tue, wed, thu, "
						       "fri, sat, sun)",
					 (int)strcspn(start, " \t,-"), start);
				return -1;
			}
			if (d2 < d1) {
				snprintf(why, why_len, "day range '%.7s' runs backwards (weeks run "
						       "mon..sun)",
					 start - 4);
				return -1;
			}
		}
		for (int d = d1; d <= d2; d++)
			h->days |= (uint8_t)(1u << d);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',')
			break;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (!isdigit((unsigned char)*p)) {
		snprintf(why, why_len, "expected days then times, as in \"mon-fri 09:00-18:00\"");
		return -1;
	}
	/* times: 09:00-13:00 | 09:00-13:00,14:00-18:00 */
	for (;;) {
		int a, b;
		const char *start = p;
		if (parse_hhmm(&p, &a) < 0 || *p != '-' || (p++, parse_hhmm(&p, &b)) < 0) {
			snprintf(why, why_len, "bad time range '%.*s' (use HH:MM-HH:MM, 00:00 to "
					       "24:00)",
				 (int)strcspn(start, " \t,"), start);
			return -1;
		}
		if (b <= a) {
			snprintf(why, why_len, "time range '%.11s' ends before it starts (split "
					       "ranges that cross midnight)",
				 start);
			return -1;
		}
		if (h->n > 0 && a < h->r[h->n - 1].end) {
			snprintf(why, why_len, "time range '%.11s' overlaps or precedes the one "
					       "before it",
				 start);
			return -1;
		}
		if (h->n == PD_HOURS_MAX_RANGES) {
			snprintf(why, why_len, "more than %d time ranges", PD_HOURS_MAX_RANGES);
			return -1;
		}
		h->r[h->n].start = (uint16_t)a;
		h->r[h->n].end = (uint16_t)b;
		h->n++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',')
			break;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (*p != '\0') {
		snprintf(why, why_len, "unexpected '%.20s' at the end", p);
		return -1;
	}
	return 0;
}

int pd_config_parse_date(const char *s, struct pd_date *d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return -1;
		} else if (!isdigit((unsigned char)s[i])) {
			return -1;
		}
	}
	if (s[10] != '\0')
		return -1;
	int y = atoi(s), m = atoi(s + 5), day = atoi(s + 8);
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1900 || m < 1 || m > 12 || day < 1 ||
	    day > mdays[m - 1] + (m == 2 && leap ? 1 : 0))
		return -1;
	d->year = y;
	d->month = m;
	d->day = day;
	return 0;
}

/* ------------------------------------------------------- typed getters */

/*
 * The getters convert one value of sec, report a problem at the line of
 * the key (or of the section when the key was not written), and leave
 * *out untouched on error, so the caller's default stays in place and the
 * checks go on.  Since every value is a string in the schema, a value of
 * the wrong type is one more reported problem, never a parse stop.
 */

/* A string value; NULL when unset. */
const char *get_str(cfg_t *sec, const char *key)
{
	return cfg_getstr(sec, key);
}

/* Required string: reports and returns NULL when missing or empty. */
const char *need_str(struct ctx *c, cfg_t *sec, const char *key)
{
	const char *v = get_str(sec, key);

	if (v == NULL) {
		if (sec == c->root) {
			report(c, 0, "missing required option '%s'", key);
		} else {
			char *d = sec_desc(cfg_name(sec), cfg_title(sec));
			report(c, sec_line(c, sec), "%s: missing required option '%s'", d, key);
			free(d);
		}
		return NULL;
	}
	if (*v == '\0') {
		report(c, key_line(c, sec, key), "%s: must not be empty", key);
		return NULL;
	}
	return v;
}

/* Optional string: NULL when unset; reports an empty value. */
const char *opt_str(struct ctx *c, cfg_t *sec, const char *key)
{
	const char *v = get_str(sec, key);

	if (v != NULL && *v == '\0') {
		report(c, key_line(c, sec, key), "%s: must not be empty", key);
		return NULL;
	}
	return v;
}

void get_duration(struct ctx *c, cfg_t *sec, const char *key, int64_t *out)
{
	const char *v = get_str(sec, key);
	int64_t min = cfg_getopt(sec, key)->def.number, secs;

	if (v == NULL)
		return;
	if (pd_parse_duration(v, &secs) < 0) {
		report(c, key_line(c, sec, key),
		       "%s: \"%s\" is not a duration (use e.g. 30s, 15m, 8h or 3d)", key, v);
		return;
	}
	if (secs < min) {
		report(c, key_line(c, sec, key), "%s: must be at least %llds", key,
		       (long long)min);
		return;
	}
	*out = secs;
}

void get_size(struct ctx *c, cfg_t *sec, const char *key, uint64_t *out)
{
	const char *v = get_str(sec, key);
	uint64_t bytes;

	if (pd_parse_size(v, &bytes) < 0) {
		report(c, key_line(c, sec, key),
		       "%s: \"%s\" is not a size (use e.g. 512K, 25M or 1G)", key, v);
		return;
	}
	if (bytes == 0) {
		report(c, key_line(c, sec, key), "%s: must be greater than zero", key);
		return;
	}
	*out = bytes;
}

void get_int(struct ctx *c, cfg_t *sec, const char *key, int *out)
{
	const cfg_opt_t *o = cfg_getopt(sec, key);
	long lo = o->def.number, hi = (long)o->def.fpnumber;
	const char *v = get_str(sec, key), *p = v;

	assert(hi > 0); /* declared with PD_CFG_INT */
	if (v == NULL)
		return;
	long n = 0;
	bool ok = *p != '\0';

	for (; *p && ok; p++) {
		if (!isdigit((unsigned char)*p) || n > hi)
			ok = false;
		else
			n = n * 10 + (*p - '0');
	}
	if (!ok || n < lo || n > hi) {
		report(c, key_line(c, sec, key), "%s: must be a whole number from %ld to %ld, not "
						 "\"%s\"",
		       key, lo, hi, v);
		return;
	}
	*out = (int)n;
}

void get_bool(struct ctx *c, cfg_t *sec, const char *key, bool *out)
{
	const char *v = get_str(sec, key);
	int b = cfg_parse_boolean(v);

	if (b < 0) {
		report(c, key_line(c, sec, key), "%s: must be true or false, not \"%s\"", key, v);
		return;
	}
	*out = b == 1;
}

void copy_list(cfg_t *sec, const char *key, struct pd_strlist *l)
{
	unsigned n = cfg_size(sec, key);

	l->n = n;
	l->v = n ? pd_xcalloc(n, sizeof(char *)) : NULL;
	for (unsigned i = 0; i < n; i++)
		l->v[i] = pd_xstrdup(cfg_getnstr(sec, key, i));
}

void check_addr_list(struct ctx *c, cfg_t *sec, const char *key, bool domains_ok)
{
	unsigned n = cfg_size(sec, key);

	for (unsigned i = 0; i < n; i++) {
		const char *v = cfg_getnstr(sec, key, i);
		bool ok = addr_spec_valid(v);
		if (!ok && domains_ok)
			ok = v[0] == '@' ? domain_valid(v + 1) : domain_valid(v);
		if (!ok)
			report(c, item_line(c, sec, key, i),
			       domains_ok ? "%s: \"%s\" is neither an e-mail address nor a domain"
					  : "%s: \"%s\" is not an e-mail address",
			       key, v);
	}
}
