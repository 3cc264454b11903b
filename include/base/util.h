/*
 * util.h - allocation, growable byte buffers, string, hex and hash helpers
 * (pure; the file and clock helpers are in ioutil.h).
 *
 * Allocation failure aborts the process (as every daemon we learn from does):
 * the x-allocators never return NULL.
 */
#ifndef PD_UTIL_H
#define PD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *pd_xmalloc(size_t n);
void *pd_xcalloc(size_t nmemb, size_t size);
void *pd_xrealloc(void *p, size_t n);
/* reallocarray-style growth with overflow check. */
void *pd_xreallocarray(void *p, size_t nmemb, size_t size);
/* Room for element n (0-based) of an array that grows one element at a
 * time and keeps no capacity: its capacity is taken to be the smallest power
 * of two >= n (at least 4), so appends cost amortised O(1).  Returns p or
 * the reallocated array. */
void *pd_xgrow(void *p, size_t n, size_t size);
char *pd_xstrdup(const char *s);          /* NULL in, NULL out */
char *pd_xstrndup(const char *s, size_t n);
char *pd_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overwrite then free a secret (passwords). NULL is a no-op. */
void pd_free_secret(char *s);

/*
 * A libpq conninfo fit for a log line: the value of every secret key
 * (password, sslpassword, any key ending in "password" or holding "secret")
 * in key=value form, and in URI form (postgresql://user:SECRET@host/db?
 * password=SECRET) the userinfo's password and those query parameters, are
 * replaced by "***"; everything else is kept as written.  Returns an owned
 * string.  Pure: no parsing beyond finding those values.
 */
char *pd_conninfo_redact(const char *conninfo);
/* text (a library's message about conninfo) with every secret value of
 * conninfo, as written there, replaced by "***".  Returns an owned string. */
char *pd_conninfo_scrub(const char *text, const char *conninfo);

/* A list of strings (a configuration list). */
struct pd_strlist {
	size_t n;
	char **v;
};

/* True when addr (an addr-spec, any case) matches an entry of l: the exact
 * address, or its domain as "@example.com" or "example.com" (not
 * subdomains). */
bool pd_addr_listed(const struct pd_strlist *l, const char *addr);

/* Growable byte buffer; data is always NUL-terminated (len excludes the NUL). */
struct pd_buf {
	char *data;
	size_t len;
	size_t cap;
};
void pd_buf_init(struct pd_buf *b);
void pd_buf_free(struct pd_buf *b);
void pd_buf_reset(struct pd_buf *b);
void pd_buf_append(struct pd_buf *b, const void *data, size_t len);
void pd_buf_append_str(struct pd_buf *b, const char *s);
void pd_buf_append_char(struct pd_buf *b, char c);
void pd_buf_printf(struct pd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the data to the caller (who frees it) and reset the buffer. */
char *pd_buf_steal(struct pd_buf *b, size_t *len_r);

/* Value of one hex digit, -1 for anything else. */
int pd_hexval(char ch);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void pd_hex(const unsigned char *in, size_t n, char *out);

/* Case-insensitive ASCII helpers. */
bool pd_str_iequal(const char *a, const char *b);
bool pd_str_istartswith(const char *s, const char *prefix);
/* Trim ASCII whitespace in place; returns s. */
char *pd_str_trim(char *s);
/* An RFC 5322 dot-atom of n bytes (atext, UTF-8 allowed as in RFC 6532):
 * no leading, trailing or doubled dot.  The local part of most addresses. */
bool pd_dot_atom_valid(const char *s, size_t n);
/* A host name of n bytes (at most 253): dot-separated labels of 1-63 bytes
 * of letters, digits, UTF-8 bytes and '-' (not at either end of a label). */
bool pd_hostname_valid(const char *s, size_t n);
/* True when s is valid UTF-8 of length len. */
bool pd_utf8_valid(const char *s, size_t len);
/* Characters are read with libunistring; a byte that does not start a
 * valid character counts as one character of its own. */
/* Length of s[0..len) cut to at most max bytes without splitting a character. */
size_t pd_utf8_cut(const char *s, size_t len, size_t max);
/* Characters (code points) in s[0..len). */
size_t pd_utf8_count(const char *s, size_t len);
/* Bytes of the first at most max_chars characters of s[0..len). */
size_t pd_utf8_prefix(const char *s, size_t len, size_t max_chars);

/* Parse "30s", "15m", "8h", "3d" (or a bare number of seconds) into seconds.
 * Returns 0 on success, -1 when the text is not a duration. */
int pd_parse_duration(const char *s, int64_t *secs_r);
/* Parse "25M", "512K", "1G" or bytes into bytes. Returns 0 / -1. */
int pd_parse_size(const char *s, uint64_t *bytes_r);

#endif
