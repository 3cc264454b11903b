/*
 * util.c - the helpers every layer shares, all pure (no file, socket,
 * clock, random or environment): the x-allocators (failure aborts),
 * growable byte buffers, case-insensitive string tests, dot-atom, host name
 * and UTF-8 checks, duration and size parsing, hex, SHA-256 (GnuTLS), and
 * redacting the secrets of a libpq conninfo before it is logged.  See
 * util.h.  Reading files and the clock are io/ioutil.c's.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include <unistr.h>

#include "util.h"

static void oom(void)
{
	fputs("postdesk: out of memory\n", stderr);
	abort();
}

void *pd_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *pd_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *pd_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom();
	return q;
}

void *pd_xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		oom();
	return pd_xrealloc(p, nmemb * size);
}

void *pd_xgrow(void *p, size_t n, size_t size)
{
	if (n < 4)
		return n == 0 ? pd_xreallocarray(p, 4, size) : p;
	if ((n & (n - 1)) != 0)
		return p; /* not full: capacity is the next power of two */
	if (n > SIZE_MAX / 2)
		oom();
	return pd_xreallocarray(p, n * 2, size);
}

char *pd_xstrdup(const char *s)
{
	return s == NULL ? NULL : pd_xstrndup(s, strlen(s));
}

char *pd_xstrndup(const char *s, size_t n)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = pd_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *pd_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

void pd_free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* ------------------------------------------------------- conninfo secrets */

static bool secret_key(const char *k, size_t n)
{
	static const char pw[] = "password";
	const size_t pl = sizeof(pw) - 1;

	if (n >= pl && strncasecmp(k + n - pl, pw, pl) == 0)
		return true;
	for (size_t i = 0; i + 6 <= n; i++)
		if (strncasecmp(k + i, "secret", 6) == 0)
			return true;
	return false;
}

/* The spans [off, off+len) of conninfo that hold secret values. */
struct spans {
	size_t n;
	size_t off[16], len[16];
};

static void span_add(struct spans *sp, size_t off, size_t len)
{
	if (sp->n < PD_ARRAY_LEN(sp->off) && len > 0) {
		sp->off[sp->n] = off;
		sp->len[sp->n] = len;
		sp->n++;
	}
}

static void secret_spans(const char *s, struct spans *sp)
{
	size_t i = 0, n = strlen(s);

	sp->n = 0;
	if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0) {
		size_t a = (size_t)(strstr(s, "://") - s) + 3;
		size_t alen = strcspn(s + a, "/?");
		const char *at = NULL;
		for (size_t k = a; k < a + alen; k++) /* the last '@' ends the userinfo */
			if (s[k] == '@')
				at = s + k;
		if (at != NULL) {
			const char *colon = memchr(s + a, ':', (size_t)(at - (s + a)));
			if (colon != NULL)
				span_add(sp, (size_t)(colon + 1 - s), (size_t)(at - colon - 1));
		}
		const char *q = strchr(s + a, '?');
		while (q != NULL) {
			const char *k = q + 1, *amp = strchr(k, '&');
			size_t plen = amp ? (size_t)(amp - k) : strlen(k);
			const char *eq = memchr(k, '=', plen);
			if (eq != NULL && secret_key(k, (size_t)(eq - k)))
				span_add(sp, (size_t)(eq + 1 - s), plen - (size_t)(eq + 1 - k));
			q = amp;
		}
		return;
	}
	/* key = value pairs; a value is 'quoted' (backslash escapes) or runs to
	 * white space (backslash escapes too), as libpq reads them */
	while (i < n) {
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		size_t k = i;
		while (i < n && s[i] != '=' && !isspace((unsigned char)s[i]))
			i++;
		size_t klen = i - k;
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (i >= n || s[i] != '=')
			continue; /* not a pair: skip the word */
		i++;
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		size_t v = i;
		if (i < n && s[i] == '\'') {
			for (i++; i < n && s[i] != '\''; i++)
				if (s[i] == '\\' && i + 1 < n)
					i++;
			if (i < n)
				i++; /* the closing quote */
		} else {
			for (; i < n && !isspace((unsigned char)s[i]); i++)
				if (s[i] == '\\' && i + 1 < n)
					i++;
		}
		if (secret_key(s + k, klen))
			span_add(sp, v, i - v);
	}
}

char *pd_conninfo_redact(const char *conninfo)
{
	struct spans sp;
	struct pd_buf b;
	size_t at = 0;

	if (conninfo == NULL)
		return pd_xstrdup("");
	secret_spans(conninfo, &sp);
	pd_buf_init(&b);
	for (size_t k = 0; k < sp.n; k++) {
		pd_buf_append(&b, conninfo + at, sp.off[k] - at);
		pd_buf_append_str(&b, "***");
		at = sp.off[k] + sp.len[k];
	}
	pd_buf_append_str(&b, conninfo + at);
	return pd_buf_steal(&b, NULL);
}

char *pd_conninfo_scrub(const char *text, const char *conninfo)
{
	struct spans sp;
	char *out = pd_xstrdup(text ? text : "");

	if (conninfo == NULL)
		return out;
	secret_spans(conninfo, &sp);
	for (size_t k = 0; k < sp.n; k++) {
		/* the value as written, and without the quotes around it */
		const char *v = conninfo + sp.off[k];
		size_t l = sp.len[k];
		if (l >= 2 && v[0] == '\'' && v[l - 1] == '\'') {
			v++;
			l -= 2;
		}
		if (l == 0)
			continue;
		char *needle = pd_xstrndup(v, l), *hit;
		size_t from = 0;
		while ((hit = strstr(out + from, needle)) != NULL) {
			size_t pos = (size_t)(hit - out);
			char *next = pd_xasprintf("%.*s***%s", (int)pos, out, hit + l);
			pd_free_secret(out);
			out = next;
			from = pos + 3;
		}
		pd_free_secret(needle);
	}
	return out;
}

void pd_buf_init(struct pd_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void pd_buf_free(struct pd_buf *b)
{
	free(b->data);
	pd_buf_init(b);
}

void pd_buf_reset(struct pd_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static void buf_reserve(struct pd_buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		oom();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = pd_xrealloc(b->data, cap);
	b->cap = cap;
}

void pd_buf_append(struct pd_buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void pd_buf_append_str(struct pd_buf *b, const char *s)
{
	pd_buf_append(b, s, strlen(s));
}

void pd_buf_append_char(struct pd_buf *b, char c)
{
	pd_buf_append(b, &c, 1);
}

void pd_buf_printf(struct pd_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
}

char *pd_buf_steal(struct pd_buf *b, size_t *len_r)
{
	char *p;

	if (b->data == NULL)
		buf_reserve(b, 0), b->data[0] = '\0';
	p = b->data;
	if (len_r != NULL)
		*len_r = b->len;
	pd_buf_init(b);
	return p;
}

void pd_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int pd_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

bool pd_str_iequal(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

bool pd_str_istartswith(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

char *pd_str_trim(char *s)
{
	char *start = s, *end;

	while (*start && isspace((unsigned char)*start))
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	memmove(s, start, (size_t)(end - start));
	s[end - start] = '\0';
	return s;
}

static bool is_atext(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

bool pd_dot_atom_valid(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

bool pd_hostname_valid(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)s[i]) || s[i] == '-' ||
			   (unsigned char)s[i] >= 0x80) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

bool pd_utf8_valid(const char *s, size_t len)
{
	return u8_check((const uint8_t *)s, len) == NULL;
}

/* Length of the character at s (len > 0 bytes left); 1 for an invalid byte. */
static size_t utf8_char_len(const char *s, size_t len)
{
	int n = u8_mblen((const uint8_t *)s, len);

	return n > 0 ? (size_t)n : 1;
}

size_t pd_utf8_cut(const char *s, size_t len, size_t max)
{
	size_t i = 0;

	if (len <= max)
		return len;
	while (i < max) {
		size_t n = utf8_char_len(s + i, len - i);
		if (i + n > max)
			break;
		i += n;
	}
	return i;
}

size_t pd_utf8_count(const char *s, size_t len)
{
	return u8_mbsnlen((const uint8_t *)s, len);
}

size_t pd_utf8_prefix(const char *s, size_t len, size_t max_chars)
{
	size_t i = 0;

	for (size_t c = 0; c < max_chars && i < len; c++)
		i += utf8_char_len(s + i, len - i);
	return i;
}

/* Parse a non-negative decimal integer with an optional one-letter unit. */
static int parse_scaled(const char *s, const char *units, const int64_t *mult, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	int64_t m = 1;
	if (*end != '\0') {
		const char *u = strchr(units, tolower((unsigned char)*end));
		if (u == NULL || *u == '\0')
			return -1;
		m = mult[u - units];
		end++;
		while (isspace((unsigned char)*end))
			end++;
		if (*end != '\0')
			return -1;
	}
	if (v > INT64_MAX / m)
		return -1;
	*out = (int64_t)v * m;
	return 0;
}

int pd_parse_duration(const char *s, int64_t *secs_r)
{
	static const int64_t mult[] = {1, 60, 3600, 86400, 7 * 86400};

	return parse_scaled(s, "smhdw", mult, secs_r);
}

int pd_parse_size(const char *s, uint64_t *bytes_r)
{
	static const int64_t mult[] = {1, 1024, 1024 * 1024, 1024 * 1024 * 1024};
	int64_t v;

	if (parse_scaled(s, "bkmg", mult, &v) < 0)
		return -1;
	*bytes_r = (uint64_t)v;
	return 0;
}

bool pd_addr_listed(const struct pd_strlist *l, const char *addr)
{
	const char *at;

	if (addr == NULL || (at = strrchr(addr, '@')) == NULL)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		const char *e = l->v[i];
		if (e[0] == '@') {
			if (pd_str_iequal(at + 1, e + 1))
				return true;
		} else if (strchr(e, '@') == NULL) {
			if (pd_str_iequal(at + 1, e))
				return true;
		} else if (pd_str_iequal(addr, e)) {
			return true;
		}
	}
	return false;
}
