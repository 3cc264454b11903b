/*
 * test_render.c - outbound mail bytes, header encoding and injection,
 * addresses, quoted-printable bodies, templates and language detection.
 *
 * Encoded output is checked by decoding it again here (RFC 2047 B/Q words,
 * quoted-printable) with small decoders of the test's own, so that the
 * tests do not trust the encoder they test.  The shipped templates are found
 * under $top_srcdir/conf/templates (make check sets top_srcdir), else beside
 * this source file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ioutil.h"
#include "language.h"
#include "render.h"

/* ----------------------------------------------------------- helpers */

static char *top_srcdir(void)
{
	const char *env = getenv("top_srcdir");
	const char *file = __FILE__; /* .../tests/unit/test_render.c */
	const char *cut;

	if (env != NULL && *env != '\0')
		return pd_xstrdup(env);
	cut = strstr(file, "tests/unit/test_render.c");
	if (cut == NULL || cut == file)
		return pd_xstrdup(".");
	return pd_xstrndup(file, (size_t)(cut - file - 1));
}

static char *templates_dir(void)
{
	char *top = top_srcdir();
	char *dir = pd_xasprintf("%s/conf/templates", top);

	free(top);
	return dir;
}

/* The shipped templates, conf/templates/{en,ru}/NAME.txt, read and checked
 * as the configuration does; fails the test on any problem. */
static void shipped(struct pd_templates *set)
{
	static const char *const langs[] = {"en", "ru"};
	char *dir = templates_dir();

	memset(set, 0, sizeof(*set));
	for (size_t l = 0; l < PD_ARRAY_LEN(langs); l++) {
		for (size_t i = 0; i < pd_n_template_kinds; i++) {
			const char *name = pd_template_kinds[i].name;
			char *path = pd_xasprintf("%s/%s/%s.txt", dir, langs[l], name), *data;
			size_t len;
			struct pd_template t;
			struct pd_err err;

			pd_err_clear(&err);
			if (pd_read_file(path, &data, &len) < 0)
				fail_msg("cannot read %s", path);
			if (pd_template_parse(langs[l], name, path, data, len, &t, &err) < 0)
				fail_msg("%s", err.msg);
			pd_templates_put(set, &t);
			free(data);
			free(path);
		}
	}
	free(dir);
}

/* A rendered mail taken apart: unfolded headers and the raw body. */
#define MAX_HDRS 64
struct parsed {
	size_t n;
	char *name[MAX_HDRS];
	char *value[MAX_HDRS]; /* unfolded: CRLF removed, first space after ':' dropped */
	char *body;            /* after the blank line, still encoded */
	size_t longest;        /* longest physical header line */
};

/* Parse raw, asserting the framing every mail must have: CRLF only, ASCII
 * headers, a blank line, and a CRLF at the end. */
static void parse_mail(const char *raw, struct parsed *p)
{
	const char *sep = strstr(raw, "\r\n\r\n");
	size_t rawlen = strlen(raw);

	memset(p, 0, sizeof(*p));
	assert_non_null(sep);
	assert_true(rawlen >= 2 && memcmp(raw + rawlen - 2, "\r\n", 2) == 0);
	for (size_t i = 0; i < rawlen; i++) {
		if (raw[i] == '\n')
			assert_true(i > 0 && raw[i - 1] == '\r');
		if (raw[i] == '\r')
			assert_true(raw[i + 1] == '\n');
	}
	for (const char *q = raw; q < sep; q++) {
		unsigned char c = (unsigned char)*q;
		assert_true(c < 0x80);
		assert_true(c >= 0x20 || c == '\r' || c == '\n');
		assert_true(c != 0x7f);
	}

	const char *line = raw;
	while (line < sep + 2) {
		const char *end = strstr(line, "\r\n");
		size_t len = (size_t)(end - line);
		if (len > p->longest)
			p->longest = len;
		if (line[0] == ' ' || line[0] == '\t') {
			assert_true(p->n > 0); /* a continuation needs a header */
			char *v = pd_xasprintf("%s%.*s", p->value[p->n - 1], (int)len, line);
			free(p->value[p->n - 1]);
			p->value[p->n - 1] = v;
		} else {
			const char *colon = memchr(line, ':', len);
			assert_non_null(colon);
			assert_true(p->n < MAX_HDRS);
			p->name[p->n] = pd_xstrndup(line, (size_t)(colon - line));
			const char *v = colon + 1;
			if (v < end && *v == ' ')
				v++;
			p->value[p->n] = pd_xstrndup(v, (size_t)(end - v));
			p->n++;
		}
		line = end + 2;
	}
	p->body = pd_xstrdup(sep + 4);
}

static void parsed_free(struct parsed *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->name[i]);
		free(p->value[i]);
	}
	free(p->body);
}

static const char *hdr(const struct parsed *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcasecmp(p->name[i], name) == 0)
			return p->value[i];
	return NULL;
}

static size_t hdr_count(const struct parsed *p, const char *name)
{
	size_t c = 0;

	for (size_t i = 0; i < p->n; i++)
		c += strcasecmp(p->name[i], name) == 0;
	return c;
}

static int b64val(char c)
{
	const char *d = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *f = c ? strchr(d, c) : NULL;

	return f ? (int)(f - d) : -1;
}

/* Decode base64 text of n characters (a multiple of 4, '=' padded). */
static void b64_decode(const char *s, size_t n, struct pd_buf *out)
{
	assert_int_equal(n % 4, 0);
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++) {
			v[k] = s[i + k] == '=' ? 0 : b64val(s[i + k]);
			assert_true(v[k] >= 0);
		}
		uint32_t w = (uint32_t)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
		pd_buf_append_char(out, (char)(w >> 16));
		if (s[i + 2] != '=')
			pd_buf_append_char(out, (char)(w >> 8));
		if (s[i + 3] != '=')
			pd_buf_append_char(out, (char)w);
	}
}

/* Decode one RFC 2047 encoded word (charset UTF-8, B or Q) into out; false
 * when tok is not an encoded word.  Every word must be at most 75
 * characters and hold whole UTF-8 characters. */
static bool decode_word(const char *tok, size_t n, struct pd_buf *out)
{
	if (n < 8 || strncmp(tok, "=?", 2) != 0 || strncmp(tok + n - 2, "?=", 2) != 0)
		return false;
	const char *cs = tok + 2;
	const char *q1 = memchr(cs, '?', n - 2);
	if (q1 == NULL || q1 + 3 > tok + n - 2 || q1[2] != '?')
		return false;
	assert_true((size_t)(q1 - cs) == 5 && strncasecmp(cs, "UTF-8", 5) == 0);
	assert_true(n <= 75);
	const char *text = q1 + 3;
	size_t tlen = (size_t)(tok + n - 2 - text);
	struct pd_buf w;
	pd_buf_init(&w);
	pd_buf_append(&w, "", 0);
	if (q1[1] == 'B' || q1[1] == 'b') {
		b64_decode(text, tlen, &w);
	} else {
		assert_true(q1[1] == 'Q' || q1[1] == 'q');
		for (size_t i = 0; i < tlen; i++) {
			if (text[i] == '_') {
				pd_buf_append_char(&w, ' ');
			} else if (text[i] == '=') {
				assert_true(i + 2 < tlen);
				pd_buf_append_char(&w, (char)(pd_hexval(text[i + 1]) * 16 +
							      pd_hexval(text[i + 2])));
				i += 2;
			} else {
				pd_buf_append_char(&w, text[i]);
			}
		}
	}
	assert_true(pd_utf8_valid(w.data, w.len)); /* no character split between words */
	pd_buf_append(out, w.data, w.len);
	pd_buf_free(&w);
	return true;
}

/* Decode an unfolded header value: encoded words decoded, the white space
 * between two adjacent encoded words dropped (RFC 2047 section 6.2). */
static char *decode_2047(const char *v)
{
	struct pd_buf out;
	bool prev_ew = false;
	const char *p = v;

	pd_buf_init(&out);
	pd_buf_append(&out, "", 0);
	while (*p) {
		const char *ws = p;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t wsn = (size_t)(p - ws);
		if (*p == '\0') {
			pd_buf_append(&out, ws, wsn);
			break;
		}
		const char *t = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		struct pd_buf w;
		pd_buf_init(&w);
		bool ew = decode_word(t, (size_t)(p - t), &w);
		if (!(ew && prev_ew))
			pd_buf_append(&out, ws, wsn);
		if (ew)
			pd_buf_append(&out, w.data, w.len);
		else
			pd_buf_append(&out, t, (size_t)(p - t));
		pd_buf_free(&w);
		prev_ew = ew;
	}
	return pd_buf_steal(&out, NULL);
}

/* Decode a quoted-printable body, asserting its lines are at most 76
 * characters with no trailing white space; the result keeps CRLF. */
static char *qp_decode(const char *s)
{
	struct pd_buf out;

	pd_buf_init(&out);
	pd_buf_append(&out, "", 0);
	while (*s) {
		const char *end = strstr(s, "\r\n");
		assert_non_null(end);
		size_t len = (size_t)(end - s);
		assert_true(len <= 76);
		if (len > 0)
			assert_true(s[len - 1] != ' ' && s[len - 1] != '\t');
		bool soft = len > 0 && s[len - 1] == '=';
		for (size_t i = 0; i < (soft ? len - 1 : len); i++) {
			unsigned char c = (unsigned char)s[i];
			assert_true(c < 0x80);
			if (c == '=') {
				assert_true(i + 2 < (soft ? len - 1 : len));
				int hi = pd_hexval(s[i + 1]), lo = pd_hexval(s[i + 2]);
				assert_true(hi >= 0 && lo >= 0);
				pd_buf_append_char(&out, (char)(hi * 16 + lo));
				i += 2;
			} else {
				pd_buf_append_char(&out, (char)c);
			}
		}
		if (!soft)
			pd_buf_append(&out, "\r\n", 2);
		s = end + 2;
	}
	return pd_buf_steal(&out, NULL);
}

/* text with every LF as CRLF (the expected decoded body). */
static char *crlf(const char *s)
{
	struct pd_buf b;

	pd_buf_init(&b);
	pd_buf_append(&b, "", 0);
	for (; *s; s++) {
		if (*s == '\n')
			pd_buf_append_char(&b, '\r');
		pd_buf_append_char(&b, *s);
	}
	return pd_buf_steal(&b, NULL);
}

/* A header value with its folds (CRLF before white space) undone. */
static char *unfold(const char *v)
{
	struct pd_buf b;

	pd_buf_init(&b);
	pd_buf_append(&b, "", 0);
	for (const char *p = v; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t'))
			p++;
		else
			pd_buf_append_char(&b, *p);
	}
	return pd_buf_steal(&b, NULL);
}

/* Every physical line of a header value (as returned, with CRLF SP folds)
 * fits in max columns, the first one after `first` columns. */
static void assert_folded_within(const char *v, size_t first, size_t max)
{
	size_t col = first;

	for (const char *p = v; *p; p++) {
		if (p[0] == '\r') {
			assert_true(p[1] == '\n' && p[2] == ' ');
			assert_true(col <= max);
			col = 0;
			p++;
			continue;
		}
		col++;
	}
	assert_true(col <= max);
}

static struct pd_addr addr(const char *name, const char *address)
{
	struct pd_addr a = {(char *)(uintptr_t)name, (char *)(uintptr_t)address};
	return a;
}

/* A minimal valid mail; tests change what they look at. */
static void base_mail(struct pd_render_mail *m, const struct pd_addr *to)
{
	memset(m, 0, sizeof(*m));
	m->kind = "ack";
	m->from = addr("Example Support", "support@example.com");
	m->reply_to = addr("", "");
	m->to = to;
	m->n_to = 1;
	m->subject = "Hello";
	m->message_id = "pd.1.ack.0011223344556677@example.com";
	m->date = 1772701623; /* Thu, 05 Mar 2026 09:07:03 UTC */
	m->body = "Hi.\n";
}

static char *render_ok(const struct pd_render_mail *m)
{
	struct pd_buf b;
	struct pd_err err;

	pd_buf_init(&b);
	pd_err_clear(&err);
	int r = pd_render_mail(m, &b, &err);
	if (r != 0)
		fail_msg("render failed: %s", err.msg);
	return pd_buf_steal(&b, NULL);
}

/* ------------------------------------------------------------ the mail */

static void test_golden_ack(void **state)
{
	(void)state;
	struct pd_addr to = addr("Ivan Petrov", "ivan@example.org");
	const char *refs[] = {"CAF1234@mail.example.org"};
	struct pd_render_mail m;

	base_mail(&m, &to);
	m.reply_to = addr("", "support@example.com");
	m.subject = "[Support #42] We received your request: Printer on the third floor "
		    "prints only blank pages";
	m.message_id = "pd.42.ack.0123456789abcdef@example.com";
	m.in_reply_to = "CAF1234@mail.example.org";
	m.references = refs;
	m.n_references = 1;
	m.auto_submitted = "auto-replied";
	m.language = "en";
	m.body = "Hello,\n\nWe received your request.\n.\nSupport\n";

	char *raw = render_ok(&m);
	assert_string_equal(raw,
			    "Date: Thu, 05 Mar 2026 09:07:03 +0000\r\n"
			    "From: Example Support <support@example.com>\r\n"
			    "Reply-To: support@example.com\r\n"
			    "To: Ivan Petrov <ivan@example.org>\r\n"
			    "Subject: [Support #42] We received your request: Printer on the third"
			    " floor\r\n"
			    " prints only blank pages\r\n"
			    "Message-ID: <pd.42.ack.0123456789abcdef@example.com>\r\n"
			    "In-Reply-To: <CAF1234@mail.example.org>\r\n"
			    "References: <CAF1234@mail.example.org>\r\n"
			    "Auto-Submitted: auto-replied\r\n"
			    "X-Postdesk-Kind: ack\r\n"
			    "X-Postdesk-Loop: example.com\r\n"
			    "Content-Language: en\r\n"
			    "MIME-Version: 1.0\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n"
			    "Content-Transfer-Encoding: 7bit\r\n"
			    "\r\n"
			    "Hello,\r\n"
			    "\r\n"
			    "We received your request.\r\n"
			    ".\r\n"
			    "Support\r\n");

	/* the result is appended to what the buffer holds */
	struct pd_buf b;
	struct pd_err err;
	pd_buf_init(&b);
	pd_buf_append_str(&b, "X");
	assert_int_equal(pd_render_mail(&m, &b, &err), 0);
	assert_int_equal(b.len, strlen(raw) + 1);
	assert_memory_equal(b.data + 1, raw, strlen(raw));
	pd_buf_free(&b);
	free(raw);
}

static void test_optional_headers(void **state)
{
	(void)state;
	struct pd_addr to[] = {addr("", "a@example.org"), addr("B", "b@example.org")};
	struct pd_addr cc[] = {addr("C", "c@example.org")};
	struct pd_render_mail m;
	struct parsed p;

	/* without the optional headers: exactly the mandatory ones, in order */
	base_mail(&m, to);
	char *raw = render_ok(&m);
	parse_mail(raw, &p);
	static const char *const bare[] = {"Date", "From", "To", "Subject", "Message-ID",
					   "X-Postdesk-Kind", "X-Postdesk-Loop", "MIME-Version",
					   "Content-Type",
					   "Content-Transfer-Encoding"};
	assert_int_equal(p.n, PD_ARRAY_LEN(bare));
	for (size_t i = 0; i < p.n; i++)
		assert_string_equal(p.name[i], bare[i]);
	parsed_free(&p);
	free(raw);

	/* with all of them: the documented order */
	m.n_to = 2;
	m.cc = cc;
	m.n_cc = 1;
	m.reply_to = addr("Example Support", "support@example.com");
	m.in_reply_to = "x@y";
	m.auto_submitted = "auto-generated";
	m.language = "ru";
	raw = render_ok(&m);
	parse_mail(raw, &p);
	static const char *const full[] = {
		"Date",       "From",           "Reply-To",        "To",
		"Cc",         "Subject",        "Message-ID",      "In-Reply-To",
		"References", "Auto-Submitted", "X-Postdesk-Kind", "X-Postdesk-Loop",
		"Content-Language",
		"MIME-Version", "Content-Type", "Content-Transfer-Encoding"};
	assert_int_equal(p.n, PD_ARRAY_LEN(full));
	for (size_t i = 0; i < p.n; i++)
		assert_string_equal(p.name[i], full[i]);
	assert_string_equal(hdr(&p, "To"), "a@example.org, B <b@example.org>");
	assert_string_equal(hdr(&p, "Cc"), "C <c@example.org>");
	assert_string_equal(hdr(&p, "Reply-To"), "Example Support <support@example.com>");
	/* In-Reply-To alone still gives References */
	assert_string_equal(hdr(&p, "References"), "<x@y>");
	assert_string_equal(hdr(&p, "Auto-Submitted"), "auto-generated");
	parsed_free(&p);
	free(raw);
}

static void test_date(void **state)
{
	(void)state;
	static const struct {
		time_t t;
		const char *want;
	} cases[] = {
		{0, "Thu, 01 Jan 1970 00:00:00 +0000"},
		{951782400, "Tue, 29 Feb 2000 00:00:00 +0000"},
		{1767225599, "Wed, 31 Dec 2025 23:59:59 +0000"},
		{1772701623, "Thu, 05 Mar 2026 09:07:03 +0000"},
	};
	struct pd_addr to = addr("", "a@example.org");
	struct pd_render_mail m;

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		struct parsed p;
		base_mail(&m, &to);
		m.date = cases[i].t;
		char *raw = render_ok(&m);
		parse_mail(raw, &p);
		assert_string_equal(hdr(&p, "Date"), cases[i].want);
		parsed_free(&p);
		free(raw);
	}
}

static void test_references(void **state)
{
	(void)state;
	struct pd_addr to = addr("", "a@example.org");
	struct pd_render_mail m;
	struct parsed p;
	char *ids[30];

	for (size_t i = 0; i < 30; i++)
		ids[i] = pd_xasprintf("id%zu.1234567890@mail.example.org", i);
	base_mail(&m, &to);
	m.references = (const char *const *)ids;
	m.n_references = 30;
	m.in_reply_to = ids[29];

	char *raw = render_ok(&m);
	parse_mail(raw, &p);
	assert_true(p.longest <= 78);
	/* the first id and the last 19 */
	struct pd_buf want;
	pd_buf_init(&want);
	pd_buf_printf(&want, "<%s>", ids[0]);
	for (size_t i = 11; i < 30; i++)
		pd_buf_printf(&want, " <%s>", ids[i]);
	assert_string_equal(hdr(&p, "References"), want.data);
	assert_string_equal(hdr(&p, "In-Reply-To"), "<id29.1234567890@mail.example.org>");
	pd_buf_free(&want);
	parsed_free(&p);
	free(raw);

	/* hostile or broken ids are dropped, In-Reply-To appended when missing */
	const char *bad[] = {"good1@x", "bad id@x", "x>y@z", "no-at-sign", "", "ctl\r\nBcc: e@x",
			     "good2@x"};
	base_mail(&m, &to);
	m.references = bad;
	m.n_references = PD_ARRAY_LEN(bad);
	m.in_reply_to = "parent@x";
	raw = render_ok(&m);
	parse_mail(raw, &p);
	assert_string_equal(hdr(&p, "References"), "<good1@x> <good2@x> <parent@x>");
	assert_int_equal(hdr_count(&p, "Bcc"), 0);
	parsed_free(&p);
	free(raw);

	/* an unusable In-Reply-To is left out entirely */
	base_mail(&m, &to);
	m.in_reply_to = "broken <id>";
	raw = render_ok(&m);
	parse_mail(raw, &p);
	assert_null(hdr(&p, "In-Reply-To"));
	assert_null(hdr(&p, "References"));
	parsed_free(&p);
	free(raw);

	for (size_t i = 0; i < 30; i++)
		free(ids[i]);
}

static void test_render_errors(void **state)
{
	(void)state;
	struct pd_addr to = addr("", "a@example.org");
	struct pd_render_mail m;
	struct pd_buf b;
	struct pd_err err;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "keep");

	base_mail(&m, &to);
	m.n_to = 0;
	assert_int_equal(pd_render_mail(&m, &b, &err), -1);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_non_null(strstr(err.msg, "To"));

	base_mail(&m, &to);
	m.message_id = "no id";
	assert_int_equal(pd_render_mail(&m, &b, &err), -1);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_non_null(strstr(err.msg, "Message-ID"));

	base_mail(&m, &to);
	m.kind = "ack\r\nBcc: x@y";
	assert_int_equal(pd_render_mail(&m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "X-Postdesk-Kind"));

	base_mail(&m, &to);
	m.language = "en us";
	assert_int_equal(pd_render_mail(&m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "Content-Language"));

	base_mail(&m, &to);
	m.auto_submitted = "auto-replied\n";
	assert_int_equal(pd_render_mail(&m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "Auto-Submitted"));

	/* a failure leaves the output untouched */
	assert_string_equal(b.data, "keep");
	pd_buf_free(&b);
}

/* ----------------------------------------------------------- addresses */

static void test_address_quoting(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		const char *want; /* To: value, unfolded */
	} cases[] = {
		{"", "a@example.com"},
		{NULL, "a@example.com"},
		{"   ", "a@example.com"},
		{"John Smith", "John Smith <a@example.com>"},
		{"  John   Smith ", "John Smith <a@example.com>"},
		{"O'Brien", "O'Brien <a@example.com>"},
		{"Smith, John", "\"Smith, John\" <a@example.com>"},
		{"John Q. Public", "\"John Q. Public\" <a@example.com>"},
		{"say \"hi\"", "\"say \\\"hi\\\"\" <a@example.com>"},
		{"back\\slash", "\"back\\\\slash\" <a@example.com>"},
		{"a <b@c>", "\"a <b@c>\" <a@example.com>"},
		{"(comment) [x]; y:", "\"(comment) [x]; y:\" <a@example.com>"},
		{"Evil\r\nBcc: x@y", "\"Evil Bcc: x@y\" <a@example.com>"},
		{"Иван Петров", "=?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <a@example.com>"},
		{"=?utf-8?q?hi?=", "=?UTF-8?B?PT91dGYtOD9xP2hpPz0=?= <a@example.com>"},
	};
	struct pd_render_mail m;

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		struct pd_addr to = addr(cases[i].name, "a@example.com");
		struct parsed p;
		base_mail(&m, &to);
		char *raw = render_ok(&m);
		parse_mail(raw, &p);
		assert_string_equal(hdr(&p, "To"), cases[i].want);
		assert_int_equal(hdr_count(&p, "Bcc"), 0);
		parsed_free(&p);
		free(raw);
	}
}

static void test_address_long_names(void **state)
{
	(void)state;
	const char *cyr = "Константин Константинович Константинопольский-Воскресенский, "
			  "отдел закупок";
	const char *quoted = "Dr. Bartholomew J. Featherstonehaugh-Cholmondeley III, "
			     "Procurement and Logistics";
	struct pd_addr to[] = {
		addr(cyr, "konstantin@example.org"),
		addr(quoted, "bart@example.org"),
		addr("Alice Example", "alice.with.a.long.local.part@subdomain.example.org"),
		addr("Bob", "bob@example.org"),
		addr("", "carol@example.org"),
		addr("Smith, John (Procurement and Logistics Department)", "js@example.org"),
	};
	struct pd_render_mail m;
	struct parsed p;

	base_mail(&m, to);
	m.n_to = PD_ARRAY_LEN(to);
	char *raw = render_ok(&m);
	parse_mail(raw, &p);
	assert_true(p.longest <= 78);
	char *dec = decode_2047(hdr(&p, "To"));
	/* a quoted string too long for one line is encoded instead */
	char *want = pd_xasprintf("%s <konstantin@example.org>, %s <bart@example.org>, Alice "
				  "Example <alice.with.a.long.local.part@subdomain.example.org>, "
				  "Bob <bob@example.org>, carol@example.org, \"Smith, John "
				  "(Procurement and Logistics Department)\" <js@example.org>",
				  cyr, quoted);
	assert_string_equal(dec, want);
	free(want);
	free(dec);
	parsed_free(&p);
	free(raw);
}

static void test_address_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		NULL,
		"nobody",
		"a b@example.com",
		"a@exa mple.com",
		"a@example.com>",
		"<a@example.com>",
		"a@example.com\r\nBcc: x@y",
		"a@example.com\n",
		"a@",
		"@example.com",
		"\xc3\xa4@example.com",
		"a..b@example.com",
		".a@example.com",
		"a.@example.com",
		"a@example.com.",
		"a\"b@example.com",
		"a,b@example.com",
		"a@b@example.com",
		"a@exam\tple.com",
		"a\x7f@example.com",
	};
	static const char *const good[] = {
		"a@example.com", "first.last+tag@sub.example.co.uk", "a@[192.0.2.1]",
		"o'brien@example.ie", "x_y@host_name.example",
	};
	struct pd_addr ok = addr("", "ok@example.com");
	struct pd_render_mail m;
	struct pd_buf b;
	struct pd_err err;

	pd_buf_init(&b);
	for (size_t i = 0; i < PD_ARRAY_LEN(bad); i++) {
		struct pd_addr a = addr("Name", bad[i]);
		struct pd_addr to2[] = {ok, a};

		/* each field names itself in the error */
		base_mail(&m, &a);
		pd_err_clear(&err);
		assert_int_equal(pd_render_mail(&m, &b, &err), -1);
		assert_int_equal(err.cls, PD_ERR_PERM);
		assert_true(strncmp(err.msg, "To address 1", 12) == 0);
		assert_null(strchr(err.msg, '\r'));

		base_mail(&m, &ok);
		m.cc = to2;
		m.n_cc = 2;
		assert_int_equal(pd_render_mail(&m, &b, &err), -1);
		assert_true(strncmp(err.msg, "Cc address 2", 12) == 0);

		base_mail(&m, &ok);
		m.from = a;
		assert_int_equal(pd_render_mail(&m, &b, &err), -1);
		assert_true(strncmp(err.msg, "From address", 12) == 0);

		base_mail(&m, &ok);
		m.reply_to = a;
		if (bad[i] != NULL && bad[i][0] != '\0') { /* "" means no Reply-To */
			assert_int_equal(pd_render_mail(&m, &b, &err), -1);
			assert_true(strncmp(err.msg, "Reply-To address", 16) == 0);
		}
	}
	assert_int_equal(b.len, 0);
	for (size_t i = 0; i < PD_ARRAY_LEN(good); i++) {
		struct pd_addr a = addr("", good[i]);
		base_mail(&m, &a);
		free(render_ok(&m));
	}
	pd_buf_free(&b);
}

/* --------------------------------------------------- header injection */

static void test_injection(void **state)
{
	(void)state;
	static const struct {
		const char *subject;
		const char *want; /* decoded Subject */
	} cases[] = {
		{"x\r\nBcc: evil@x", "x Bcc: evil@x"},
		{"\n\n body", "body"},
		{"x\rBcc: evil@x", "x Bcc: evil@x"},
		{"x\nBcc: evil@x\n\nbody text", "x Bcc: evil@x body text"},
		{"\r\n\r\nBcc: evil@x\r\n\r\n", "Bcc: evil@x"},
		{"a\tb", "a b"},
		{"a\vb\fc", "a b c"},
		{"a\x1b[31mred", "a [31mred"},
		{"a\x7f" "b", "a b"},
		{"a\x01\x02\x03\x1f" "b", "a b"},
		{"Привет\xe2\x80\xa8" "Bcc: evil@x", "Привет Bcc: evil@x"},
		{"para\xe2\x80\xa9" "Bcc: evil@x", "para Bcc: evil@x"},
		{"nel\xc2\x85" "Bcc: evil@x", "nel Bcc: evil@x"},
		{"bad \xff\xfe utf8", "bad \xef\xbf\xbd\xef\xbf\xbd utf8"},
		{"overlong \xc0\x8a", "overlong \xef\xbf\xbd\xef\xbf\xbd"},
		{"Subject: twice", "Subject: twice"},
		{"", ""},
	};
	struct pd_addr to = addr("Victim\r\nBcc: evil@x", "victim@example.org");
	struct pd_render_mail m;

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		struct parsed p;
		base_mail(&m, &to);
		m.from = addr("Support\nBcc: evil@x", "support@example.com");
		m.subject = cases[i].subject;
		char *raw = render_ok(&m);
		parse_mail(raw, &p);
		static const char *const want[] = {
			"Date", "From", "To", "Subject", "Message-ID", "X-Postdesk-Kind",
			"X-Postdesk-Loop", "MIME-Version", "Content-Type",
			"Content-Transfer-Encoding"};
		assert_int_equal(p.n, PD_ARRAY_LEN(want));
		for (size_t k = 0; k < p.n; k++)
			assert_string_equal(p.name[k], want[k]);
		assert_int_equal(hdr_count(&p, "Bcc"), 0);
		char *dec = decode_2047(hdr(&p, "Subject"));
		assert_string_equal(dec, cases[i].want);
		free(dec);
		assert_string_equal(hdr(&p, "From"),
				    "\"Support Bcc: evil@x\" <support@example.com>");
		assert_string_equal(hdr(&p, "To"), "\"Victim Bcc: evil@x\" <victim@example.org>");
		/* the body is what we sent: nothing leaked into it */
		assert_string_equal(p.body, "Hi.\r\n");
		parsed_free(&p);
		free(raw);
	}
}

/* A header line over 78 columns holds one ASCII word that cannot be
 * folded (after "Name:" on a header's first line), never an encoded word,
 * a quoted string or anything with a blank in it. */
static void assert_long_lines_unbreakable(const char *raw)
{
	const char *end_hdr = strstr(raw, "\r\n\r\n");

	for (const char *line = raw; line < end_hdr;) {
		const char *end = strstr(line, "\r\n");
		size_t len = (size_t)(end - line);
		if (len > 78) {
			const char *s = line;
			if (*s != ' ')
				s = memchr(line, ':', len) + 1;
			while (*s == ' ')
				s++;
			if (memchr(s, ' ', (size_t)(end - s)) != NULL || s[0] == '"' ||
			    strncmp(s, "=?", 2) == 0)
				fail_msg("foldable long line: %.*s", (int)len, line);
		}
		line = end + 2;
	}
}

/* Random hostile text: the invariants hold whatever comes in. */
static void test_injection_random(void **state)
{
	(void)state;
	static const char *const pieces[] = {
		"a", "Z", " ", "  ", "\r", "\n", "\r\n", "\t", "\v", "\x1b", "\x7f", "\x01",
		"Bcc: x@y", ":", "\"", "\\", "<", ">", ",", "=?", "?=", "=?UTF-8?B?QQ==?=",
		"\xc3\xa9", "\xd0\x96", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x80\xa8",
		"\xc2\x85", "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "word",
		"supercalifragilisticexpialidocious",
	};
	uint32_t x = 2463534242u; /* xorshift32, fixed seed: reproducible */
	struct pd_addr to = addr("", "a@example.org");
	struct pd_render_mail m;

	for (int iter = 0; iter < 3000; iter++) {
		struct pd_buf in;
		pd_buf_init(&in);
		pd_buf_append(&in, "", 0);
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		int n = (int)(x % 60);
		for (int k = 0; k < n; k++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			pd_buf_append_str(&in, pieces[x % PD_ARRAY_LEN(pieces)]);
		}

		/* the value alone */
		char *v = pd_render_header_encode("Subject", in.data);
		char *line = pd_xasprintf("Subject: %s\r\n\r\n", v);
		assert_long_lines_unbreakable(line);
		free(line);
		char *u = unfold(v);
		char *dec = decode_2047(u);
		size_t dl = strlen(dec);
		assert_true(pd_utf8_valid(dec, dl));
		for (size_t i = 0; i < dl; i++) {
			unsigned char c = (unsigned char)dec[i];
			assert_true(c >= 0x20 && c != 0x7f);
			if (c == ' ')
				assert_true(i > 0 && i + 1 < dl && dec[i + 1] != ' ');
		}
		assert_null(strstr(dec, "\xe2\x80\xa8"));
		assert_null(strstr(dec, "\xc2\x85"));
		free(dec);
		free(u);
		free(v);

		/* in a mail, as subject and as display names */
		struct parsed p;
		base_mail(&m, &to);
		m.subject = in.data;
		to.name = in.data;
		m.from.name = in.data;
		char *raw = render_ok(&m);
		parse_mail(raw, &p);
		static const char *const want[] = {
			"Date", "From", "To", "Subject", "Message-ID", "X-Postdesk-Kind",
			"X-Postdesk-Loop", "MIME-Version", "Content-Type",
			"Content-Transfer-Encoding"};
		assert_int_equal(p.n, PD_ARRAY_LEN(want));
		for (size_t k = 0; k < p.n; k++)
			assert_string_equal(p.name[k], want[k]);
		assert_long_lines_unbreakable(raw);
		assert_string_equal(p.body, "Hi.\r\n");
		parsed_free(&p);
		free(raw);
		to.name = NULL;
		pd_buf_free(&in);
	}
}

/* ------------------------------------------------------- RFC 2047 */

static void test_header_encode(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		const char *value;
		const char *want;
	} cases[] = {
		{"Subject", "Hello world", "Hello world"},
		{"Subject", "", ""},
		{"Subject", NULL, ""},
		{"Subject", "  spaced   out  ", "spaced out"},
		{"Subject", "Привет", "=?UTF-8?B?0J/RgNC40LLQtdGC?="},
		{"Subject", "Re: Привет", "=?UTF-8?B?UmU6INCf0YDQuNCy0LXRgg==?="},
		{"Subject", "looks =?like?= a word", "=?UTF-8?B?bG9va3MgPT9saWtlPz0gYSB3b3Jk?="},
		{"Subject", "a=b ?= c", "a=b ?= c"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		char *v = pd_render_header_encode(cases[i].name, cases[i].value);
		assert_string_equal(v, cases[i].want);
		free(v);
	}

	/* a header name that leaves no room on its line: still whole words */
	char name[71];
	memset(name, 'X', 70);
	name[70] = '\0';
	char *v = pd_render_header_encode(name, "Привет, мир");
	assert_true(strncmp(v, "=?UTF-8?B?", 10) == 0);
	char *u = unfold(v);
	char *dec = decode_2047(u);
	free(u);
	assert_string_equal(dec, "Привет, мир");
	free(dec);
	free(v);
}

/* value encoded after "Name: ": every line within 78 columns, words within 75,
 * and it decodes back to the sanitised value. */
static void check_roundtrip(const char *name, const char *value, const char *want)
{
	char *v = pd_render_header_encode(name, value);

	assert_folded_within(v, strlen(name) + 2, 78);
	for (const char *p = v; *p; p++)
		assert_true((unsigned char)*p < 0x80);
	char *u = unfold(v);
	char *dec = decode_2047(u);
	assert_string_equal(dec, want);
	free(dec);
	free(u);
	free(v);
}

static void test_long_subject_folding(void **state)
{
	(void)state;
	struct pd_buf s;

	/* ASCII: folded at spaces, not encoded */
	const char *ascii = "This is a rather long subject line that a customer wrote because "
			    "the printer on the third floor prints only blank pages since Monday "
			    "morning and nobody knows why";
	char *v = pd_render_header_encode("Subject", ascii);
	assert_null(strstr(v, "=?"));
	assert_non_null(strstr(v, "\r\n "));
	free(v);
	check_roundtrip("Subject", ascii, ascii);

	/* Russian: encoded words of whole characters */
	pd_buf_init(&s);
	for (int i = 0; i < 12; i++)
		pd_buf_append_str(&s, "Не работает принтер на третьем этаже, ");
	pd_buf_append_str(&s, "конец");
	check_roundtrip("Subject", s.data, s.data);

	/* four-byte characters and mixed scripts at every alignment */
	for (int shift = 0; shift < 8; shift++) {
		pd_buf_reset(&s);
		for (int k = 0; k < shift; k++)
			pd_buf_append_char(&s, 'x');
		for (int i = 0; i < 20; i++)
			pd_buf_append_str(&s, "\xf0\x9f\x98\x80 ok Ж\xe2\x82\xac ");
		pd_buf_append_str(&s, "end");
		check_roundtrip("Subject", s.data, s.data);
		check_roundtrip("X-Very-Long-Header-Name-For-Testing", s.data, s.data);
	}

	/* one ASCII word too long for any line: encoded so it can fold */
	pd_buf_reset(&s);
	for (int i = 0; i < 1000; i++)
		pd_buf_append_char(&s, (char)('a' + i % 26));
	v = pd_render_header_encode("Subject", s.data);
	assert_non_null(strstr(v, "=?UTF-8?B?"));
	free(v);
	check_roundtrip("Subject", s.data, s.data);

	/* a long unbroken but legal word stays as it is, on a line of its own */
	const char *url = "see https://example.com/a/very/long/path/that/does/not/fit/in/the/"
			  "seventy/eight/columns/of/a/header/line";
	v = pd_render_header_encode("Subject", url);
	assert_null(strstr(v, "=?"));
	free(v);

	/* in a whole mail */
	struct pd_addr to = addr("", "a@example.org");
	struct pd_render_mail m;
	struct parsed p;
	pd_buf_reset(&s);
	for (int i = 0; i < 12; i++)
		pd_buf_append_str(&s, "Не работает принтер на третьем этаже, ");
	base_mail(&m, &to);
	m.subject = s.data;
	char *raw = render_ok(&m);
	parse_mail(raw, &p);
	assert_true(p.longest <= 78);
	char *dec = decode_2047(hdr(&p, "Subject"));
	char *want = pd_xstrndup(s.data, s.len - 1); /* sanitising trims the last space */
	assert_string_equal(dec, want);
	free(want);
	free(dec);
	parsed_free(&p);
	free(raw);
	pd_buf_free(&s);
}

/* ------------------------------------------------------------ the body */

static void test_body_qp_russian(void **state)
{
	(void)state;
	const char *body =
		"Здравствуйте!\n"
		"\n"
		"Спасибо за обращение. Это очень длинная строка, которая заведомо не "
		"помещается в семьдесят шесть символов закодированного текста.\n"
		"A line with trailing space \n"
		"A line with a trailing tab\t\n"
		"x = y, 100% =3D\n"
		".\n"
		"From here on\n"
		"\n"
		"С уважением,\n"
		"служба поддержки\n";
	struct pd_addr to = addr("Иван", "ivan@example.org");
	struct pd_render_mail m;
	struct parsed p;

	base_mail(&m, &to);
	m.body = body;
	m.language = "ru";
	char *raw = render_ok(&m);
	parse_mail(raw, &p);
	assert_string_equal(hdr(&p, "Content-Transfer-Encoding"), "quoted-printable");
	assert_string_equal(hdr(&p, "Content-Type"), "text/plain; charset=utf-8");
	assert_string_equal(hdr(&p, "Content-Language"), "ru");
	for (const char *q = p.body; *q; q++)
		assert_true((unsigned char)*q < 0x80);
	char *dec = qp_decode(p.body);
	char *want = crlf(body);
	assert_string_equal(dec, want);
	free(want);
	free(dec);
	parsed_free(&p);
	free(raw);
}

static void test_body_encoding_choice(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		const char *cte;
		const char *decoded; /* NULL: body with LF as CRLF */
	} cases[] = {
		{"plain\n", "7bit", NULL},
		{"", "7bit", ""},
		{NULL, "7bit", ""},
		{"no newline at the end", "7bit", "no newline at the end\r\n"},
		{"crlf\r\nlines\r\n", "7bit", "crlf\r\nlines\r\n"},
		{"lone\rcr\n", "7bit", "lone\r\ncr\r\n"},
		{".\n..\n", "7bit", NULL},
		{"tab\tinside\n", "7bit", NULL},
		{"trailing space \n", "quoted-printable", NULL},
		{"trailing space at the end ", "quoted-printable",
		 "trailing space at the end \r\n"},
		{"esc\x1b[0m\n", "quoted-printable", NULL},
		{"caf\xc3\xa9\n", "quoted-printable", NULL},
		{"bad \xff utf8\n", "quoted-printable", "bad \xef\xbf\xbd utf8\r\n"},
		{"0123456789012345678901234567890123456789012345678901234567890123456789012345\n",
		 "7bit", NULL},
		{"01234567890123456789012345678901234567890123456789012345678901234567890123456\n",
		 "quoted-printable", NULL},
		{"==================================================================="
		 "=====================\n",
		 "quoted-printable", NULL},
	};
	struct pd_addr to = addr("", "a@example.org");
	struct pd_render_mail m;

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		struct parsed p;
		base_mail(&m, &to);
		m.body = cases[i].body;
		char *raw = render_ok(&m);
		parse_mail(raw, &p);
		assert_string_equal(hdr(&p, "Content-Transfer-Encoding"), cases[i].cte);
		bool qp = strcmp(cases[i].cte, "7bit") != 0;
		char *dec = qp ? qp_decode(p.body) : pd_xstrdup(p.body);
		char *want = cases[i].decoded ? pd_xstrdup(cases[i].decoded) : crlf(cases[i].body);
		assert_string_equal(dec, want);
		free(want);
		free(dec);
		parsed_free(&p);
		free(raw);
	}
}

/* ------------------------------------------------ ids and the subject tag */

static void test_message_id(void **state)
{
	(void)state;
	static const unsigned char r1[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	static const unsigned char r2[8] = {0xff, 0, 0, 0, 0, 0, 0, 0x10};
	char *a = pd_render_message_id("example.com", 42, "ack", r1, sizeof(r1));
	char *b = pd_render_message_id("example.com", 42, "ack", r2, sizeof(r2));

	/* the randomness is the caller's: the same bytes make the same id */
	assert_string_equal(a, "pd.42.ack.0123456789abcdef@example.com");
	assert_string_equal(b, "pd.42.ack.ff00000000000010@example.com");
	free(a);
	free(b);

	/* whatever comes in, the id stays one token */
	a = pd_render_message_id("bad domain>", 7, "x y\r\n", r1, sizeof(r1));
	assert_true(strncmp(a, "pd.7.x-y--.", 11) == 0);
	assert_string_equal(a + 27, "@bad-domain-");
	free(a);
}

static void test_tagged_subject(void **state)
{
	(void)state;
	static const struct {
		const char *tag;
		int64_t n;
		const char *subject;
		const char *want;
	} cases[] = {
		{"Support", 42, "Printer broken", "[Support #42] Printer broken"},
		{"Support", 42, "Re: [Support #42] Printer", "Re: [Support #42] Printer"},
		{"Support", 42, "[support#42] x", "[support#42] x"},
		{"Support", 42, "[ SUPPORT # 42 ] x", "[ SUPPORT # 42 ] x"},
		{"Support", 42, "[Support #4] x", "[Support #42] [Support #4] x"},
		{"Support", 42, "[Support #420] x", "[Support #42] [Support #420] x"},
		{"Support", 42, "[Sales #42] x", "[Support #42] [Sales #42] x"},
		{"Support", 42, "[Support #42x] x", "[Support #42] [Support #42x] x"},
		{"Support", 42, "", "[Support #42]"},
		{"Support", 42, NULL, "[Support #42]"},
		{"Support", 42, "   ", "[Support #42]"},
		{"Support", 42, "x\r\nBcc: evil@x", "[Support #42] x Bcc: evil@x"},
		{"Support", 42, "Ответ: [Support #42] Сбой", "Ответ: [Support #42] Сбой"},
		{"Help Desk", 7, "[help desk #7] x", "[help desk #7] x"},
		{"Help Desk", 7, "x", "[Help Desk #7] x"},
		{NULL, 3, "x", "[Support #3] x"},
		{"Support", 9223372036854775807LL, "x", "[Support #9223372036854775807] x"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		char *s = pd_render_tagged_subject(cases[i].tag, cases[i].n, cases[i].subject);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
}

/* ------------------------------------------------------------ templates */

static void test_template_expand(void **state)
{
	(void)state;
	static const struct pd_render_var vars[] = {
		{"ticket.number", "42"},
		{"customer.name", "Ivan"},
		{"empty", ""},
		{"null", NULL},
		{"nested", "{{ticket.number}}"},
	};
	static const struct {
		const char *text;
		const char *want;
	} ok[] = {
		{"Ticket #{{ticket.number}}", "Ticket #42"},
		{"{{ ticket.number }}", "42"},
		{"{{\tticket.number  }}.", "42."},
		{"{{customer.name}}{{ticket.number}}", "Ivan42"},
		{"[{{empty}}][{{null}}]", "[][]"},
		{"{{nested}}", "{{ticket.number}}"},
		{"{{{{ticket.number}}", "{{ticket.number}}"},
		{"{{{{", "{{"},
		{"a { b } c }} d {x}", "a { b } c }} d {x}"},
		{"", ""},
		{"no fields\nat all\n", "no fields\nat all\n"},
		{"Привет, {{customer.name}}!", "Привет, Ivan!"},
	};
	static const struct {
		const char *text;
		const char *in_msg;
	} bad[] = {
		{"Dear {{customer.nmae}},", "customer.nmae"},
		{"{{ unknown }}", "unknown"},
		{"{{ticket.number", "unterminated"},
		{"{{ticket.number }", "unterminated"},
		{"{{}}", "empty"},
		{"{{   }}", "empty"},
		{"{{a b}}", "unterminated"},
		{"{{{ticket.number}}}", "unterminated"},
	};
	struct pd_err err;

	for (size_t i = 0; i < PD_ARRAY_LEN(ok); i++) {
		char *s = pd_template_expand(ok[i].text, vars, PD_ARRAY_LEN(vars), &err);
		assert_non_null(s);
		assert_string_equal(s, ok[i].want);
		free(s);
	}
	for (size_t i = 0; i < PD_ARRAY_LEN(bad); i++) {
		pd_err_clear(&err);
		assert_null(pd_template_expand(bad[i].text, vars, PD_ARRAY_LEN(vars), &err));
		assert_int_equal(err.cls, PD_ERR_PERM);
		assert_non_null(strstr(err.msg, bad[i].in_msg));
	}
}

static const char *const template_names[] = {
	"ack",        "agent-notice", "agent-relay-footer", "sla-warning", "sla-breach",
	"escalation", "survey",       "auto-close",         "command-error", "agent-held",
	"attachment-error",
};

static const struct pd_render_var full_vars[] = {
	{"ticket.number", "42"},
	{"ticket.subject", "Printer prints blank pages"},
	{"ticket.status", "open"},
	{"ticket.priority", "high"},
	{"ticket.queue", "hardware"},
	{"ticket.line", "2"},
	{"customer.name", "Ivan Petrov"},
	{"customer.address", "ivan@example.org"},
	{"agent.name", "Alice Agent"},
	{"agent.address", "alice@example.com"},
	{"message.body", "MESSAGE-BODY-MARKER\nsecond line"},
	{"support.address", "support@example.com"},
	{"sla.clock", "first response"},
	{"sla.target", "30m (24x7)"},
	{"ticket.reasons", "REASONS-MARKER keyword rule"},
	{"line.from", "1"},
	{"sla.due", "2026-03-05 12:00 +0000"},
	{"sla.late", "1h 30m"},
	{"reason", "REASON-MARKER unknown command #clsoe"},
	{"advice", "ADVICE-MARKER"},
	{"kb.articles", "KB-ARTICLES-MARKER\n"},
	{"message.attachments", "ATTACHMENTS-MARKER"},
	{"attachments", "FILES-MARKER"},
	{"limit", "25.0 MB"},
};

static void test_shipped_templates(void **state)
{
	(void)state;
	static const char *const langs[] = {"en", "ru"};
	struct pd_templates set;

	shipped(&set);
	struct pd_err err;

	assert_int_equal(pd_n_template_kinds, PD_ARRAY_LEN(template_names));
	for (size_t l = 0; l < PD_ARRAY_LEN(langs); l++) {
		for (size_t i = 0; i < PD_ARRAY_LEN(template_names); i++) {
			const char *name = template_names[i];
			char *subject, *body;
			const struct pd_template *t = pd_templates_find(&set, langs[l], name);

			pd_err_clear(&err);
			assert_non_null(t);
			assert_string_equal(t->lang, langs[l]);
			assert_non_null(pd_template_kind(name));
			assert_true(t->subject[0] != '\0');
			assert_true(t->body[0] != '\0');

			if (pd_template_render(&set, langs[l], name, full_vars,
					       PD_ARRAY_LEN(full_vars), &subject, &body,
					       &err) != 0)
				fail_msg("%s/%s: %s", langs[l], name, err.msg);
			assert_null(strstr(subject, "{{"));
			assert_null(strstr(body, "{{"));
			assert_null(strchr(subject, '\n'));
			assert_true(pd_utf8_valid(body, strlen(body)));
			assert_true(body[strlen(body) - 1] == '\n');
			/* the language of the text is the language of the directory */
			const char *lang = pd_language_detect(subject, body);
			if (strcmp(langs[l], "ru") == 0)
				assert_string_equal(lang, "ru");
			else
				assert_null(lang);

			/* and it makes a well-formed mail */
			struct pd_addr to = addr(full_vars[6].value, "ivan@example.org");
			struct pd_render_mail m;
			struct parsed p;
			char *tagged = pd_render_tagged_subject("Support", 42, subject);
			base_mail(&m, &to);
			m.subject = tagged;
			m.body = body;
			m.language = langs[l];
			char *raw = render_ok(&m);
			parse_mail(raw, &p);
			assert_true(p.longest <= 78);
			char *dec = decode_2047(hdr(&p, "Subject"));
			assert_string_equal(dec, tagged);
			assert_true(strncmp(dec, "[Support #42]", 13) == 0);
			free(dec);
			const char *cte = hdr(&p, "Content-Transfer-Encoding");
			bool qp = strcmp(cte, "7bit") != 0;
			char *text = qp ? qp_decode(p.body) : pd_xstrdup(p.body);
			char *want = crlf(body);
			assert_string_equal(text, want);
			free(want);
			free(text);
			parsed_free(&p);
			free(raw);
			free(tagged);
			free(subject);
			free(body);
		}
	}
	pd_templates_free(&set);
}

/* What each template must tell its reader. */
static void test_template_content(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		const char *must[16];
	} cases[] = {
		{"ack", {"42", "Printer prints blank pages", "support@example.com", "KB-ARTICLES-MARKER",
			 NULL}},
		{"agent-notice",
		 {"MESSAGE-BODY-MARKER\nsecond line", "#note", "#close", "#resolve", "#pending",
		  "#priority", "#assign", "#line", "#type", "ivan@example.org", "ATTACHMENTS-MARKER",
		  NULL}},
		{"agent-relay-footer", {"Alice Agent", "42", NULL}},
		{"sla-warning",
		 {"42", "first response", "30m (24x7)", "2026-03-05 12:00 +0000", "REASONS-MARKER",
		  "MESSAGE-BODY-MARKER", "ivan@example.org", NULL}},
		{"sla-breach",
		 {"42", "first response", "1h 30m", "REASONS-MARKER", "MESSAGE-BODY-MARKER", NULL}},
		{"escalation", {"42", "REASON-MARKER", "2", "REASONS-MARKER", "MESSAGE-BODY-MARKER",
				NULL}},
		{"survey", {"42", "1", "5", NULL}},
		{"auto-close", {"42", NULL}},
		{"command-error",
		 {"REASON-MARKER", "#note", "#close", "#resolve", "#pending", "#priority",
		  "#assign", "#line", "#type", NULL}},
		{"agent-held", {"REASON-MARKER", "ADVICE-MARKER", "42", NULL}},
	};
	static const char *const en_words[] = {
		"reply to this email", "reply to this email", "reply to", "reply to this email",
		"reply to this email", "reply to this email",
		"reply to this email with a single digit from 1 to 5", "reply to this email", "",
		"not sent to the customer"};
	static const char *const ru_words[] = {
		"ответьте на это письмо", "ответ на это письмо", "ответьте", "ответьте на это письмо",
		"ответьте на это письмо", "ответьте на это письмо",
		"ответьте на это письмо одной цифрой от 1 до 5", "ответьте на это письмо", "",
		"не отправлено клиенту"};
	struct pd_templates set;

	shipped(&set);
	struct pd_err err;

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		for (int ru = 0; ru < 2; ru++) {
			char *subject, *body;
			assert_int_equal(pd_template_render(&set, ru ? "ru" : "en", cases[i].name,
							    full_vars, PD_ARRAY_LEN(full_vars),
							    &subject, &body, &err),
					 0);
			for (size_t k = 0; cases[i].must[k] != NULL; k++)
				if (strstr(body, cases[i].must[k]) == NULL)
					fail_msg("%s/%s lacks \"%s\"", ru ? "ru" : "en",
						 cases[i].name, cases[i].must[k]);
			const char *w = ru ? ru_words[i] : en_words[i];
			if (strcasestr(body, w) == NULL)
				fail_msg("%s/%s lacks \"%s\"", ru ? "ru" : "en", cases[i].name, w);
			free(subject);
			free(body);
		}
	}
	pd_templates_free(&set);
}

/* The notice's own text stands between the two marker lines, in every
 * language: the first line of the body and the last. */
static void test_notice_markers(void **state)
{
	(void)state;
	static const char begin[] = "======== postdesk notice: answer above or below; nothing "
				    "between these lines reaches the customer ========\n";
	static const char end[] = "\n======== end of postdesk notice ========\n";
	struct pd_templates set;

	shipped(&set);
	struct pd_err err;

	for (int ru = 0; ru < 2; ru++) {
		char *subject, *body;
		assert_int_equal(pd_template_render(&set, ru ? "ru" : "en", "agent-notice", full_vars,
						    PD_ARRAY_LEN(full_vars), &subject, &body, &err),
				 0);
		assert_memory_equal(body, begin, strlen(begin));
		assert_true(strlen(body) > strlen(end));
		assert_string_equal(body + strlen(body) - strlen(end), end);
		free(subject);
		free(body);
	}
	pd_templates_free(&set);
}

static void test_template_parse(void **state)
{
	(void)state;
	struct pd_templates set;
	struct pd_template t;
	struct pd_err err;

	/* a language without templates, or a strange one, falls back to en */
	shipped(&set);
	const struct pd_template *en = pd_templates_find(&set, "en", "ack");
	assert_non_null(en);
	static const char *const other[] = {"de", NULL, "", "../en", "EN", "en/../ru"};
	for (size_t i = 0; i < PD_ARRAY_LEN(other); i++)
		assert_ptr_equal(pd_templates_find(&set, other[i], "ack"), en);
	assert_ptr_not_equal(pd_templates_find(&set, "ru", "ack"), en);
	assert_string_not_equal(pd_templates_find(&set, "ru", "ack")->subject, en->subject);
	assert_null(pd_templates_find(&set, "ru", "nonexistent"));
	assert_null(pd_templates_find(&set, "en", "../en/ack"));
	assert_null(pd_templates_find(NULL, "en", "ack"));

	/* a missing template is an error naming it */
	char *subject, *body;
	pd_err_clear(&err);
	assert_int_equal(pd_template_render(&set, "ru", "nonexistent", full_vars,
					    PD_ARRAY_LEN(full_vars), &subject, &body, &err),
			 -1);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_non_null(strstr(err.msg, "en/nonexistent.txt"));
	assert_null(subject);
	assert_null(body);

	/* a field the caller did not give (the check at load makes this a bug in
	 * the caller): the template's file and line, and the field */
	pd_err_clear(&err);
	assert_int_equal(pd_template_render(&set, "ru", "ack", full_vars, 3, &subject, &body, &err),
			 -1);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_non_null(strstr(err.msg, "template: "));
	assert_non_null(strstr(err.msg, "ru/ack.txt:"));
	assert_non_null(strstr(err.msg, "unknown field"));
	assert_null(subject);

	/* a template put again replaces the one of its language and name */
	size_t n = set.n;
	static const char mine[] = "Subject: mine\n\nx\n";
	assert_int_equal(pd_template_parse("ru", "ack", "mine/ru/ack.txt", mine, strlen(mine), &t,
					   &err),
			 0);
	pd_templates_put(&set, &t);
	assert_null(t.subject); /* taken */
	assert_int_equal(set.n, n);
	assert_string_equal(pd_templates_find(&set, "ru", "ack")->subject, "mine");
	assert_string_equal(pd_templates_find(&set, "ru", "ack")->origin, "mine/ru/ack.txt");
	pd_templates_free(&set);
	pd_templates_free(&set); /* idempotent */
	pd_templates_free(NULL);
	pd_template_free(NULL);

	/* file format */
	static const struct {
		const char *content;
		const char *subject, *body; /* NULL: refused, body = the message */
	} files[] = {
		{"Subject: Hi {{ticket.number}}\n\nBody\n", "Hi {{ticket.number}}", "Body\n"},
		{"Subject:   padded   \n\nBody", "padded", "Body"},
		{"subject: lower\n\n", "lower", ""},
		{"Subject: crlf\r\n\r\nline 1\r\nline 2\r\n", "crlf", "line 1\nline 2\n"},
		{"\xef\xbb\xbfSubject: bom\n\nx\n", "bom", "x\n"},
		{"Subject: only\n", "only", ""},
		{"Subject: {{{{literal\n\nx\n", "{{{{literal", "x\n"},
		{"Subject: no blank\nbody\n", NULL, "t.txt:2: a template must start with"},
		{"Hello\n\nbody\n", NULL, "t.txt:1: a template must start with"},
		{"", NULL, "t.txt:1: a template must start with"},
		{"Subject: x\n\nok\nbad \xff utf8\n", NULL, "t.txt:4: not UTF-8 text"},
		/* a field its kind has not, or a broken one: the line of the field */
		{"Subject: x\n\nHello {{customer.name}},\n\n{{ customer.nmae }}\n", NULL,
		 "t.txt:5: unknown field \"customer.nmae\" (ack may use ticket.number, "},
		{"Subject: {{agent.name}}\n\nx\n", NULL, "t.txt:1: unknown field \"agent.name\""},
		{"Subject: x\n\nline\n{{ticket.number\n", NULL,
		 "t.txt:4: unterminated or empty field"},
		{"Subject: x\n\n{{}}\n", NULL, "t.txt:3: unterminated or empty field"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(files); i++) {
		pd_err_clear(&err);
		int r = pd_template_parse("en", "ack", "dir/en/t.txt", files[i].content,
					  strlen(files[i].content), &t, &err);
		if (files[i].subject != NULL) {
			if (r != 0)
				fail_msg("case %zu: %s", i, err.msg);
			assert_string_equal(t.subject, files[i].subject);
			assert_string_equal(t.body, files[i].body);
			assert_string_equal(t.lang, "en");
			assert_string_equal(t.name, "ack");
			pd_template_free(&t);
		} else {
			assert_int_equal(r, -1);
			assert_int_equal(err.cls, PD_ERR_PERM);
			if (strncmp(err.msg, "dir/en/", 7) != 0 ||
			    strncmp(err.msg + 7, files[i].body, strlen(files[i].body)) != 0)
				fail_msg("case %zu: %s", i, err.msg);
			assert_null(t.subject);
		}
	}
	/* a NUL byte is no text either; a name postdesk does not send is refused */
	assert_int_equal(pd_template_parse("en", "ack", "a.txt", "Subject: x\n\n\0y\n", 15, &t, &err),
			 -1);
	assert_string_equal(err.msg, "a.txt:3: not UTF-8 text");
	assert_int_equal(pd_template_parse("en", "acknowledgement", "e/acknowledgement.txt",
					   "Subject: x\n\ny\n", 14, &t, &err),
			 -1);
	assert_non_null(strstr(err.msg, "no template called \"acknowledgement\""));

	/* every kind renders with the fields the caller gives it: each field of
	 * each kind is one of those the shipped-template test fills in */
	for (size_t i = 0; i < pd_n_template_kinds; i++)
		for (const char *const *f = pd_template_kinds[i].fields; *f != NULL; f++) {
			bool known = false;
			for (size_t k = 0; k < PD_ARRAY_LEN(full_vars); k++)
				known |= strcmp(full_vars[k].name, *f) == 0;
			if (!known)
				fail_msg("%s: field %s", pd_template_kinds[i].name, *f);
		}
}

/* --------------------------------------------------------- language */

static void test_detect_language(void **state)
{
	(void)state;
	static const struct {
		const char *subject, *body;
		const char *want;
	} cases[] = {
		{"Не работает принтер", "", "ru"},
		{"Printer broken", "It prints blank pages", NULL},
		{"Re: [Support #5] Принтер", "Добрый день! Принтер HP LaserJet не печатает.", "ru"},
		{"Invoice", "Hello, please see the attached invoice. Спасибо", NULL},
		{"Ошибка", "Error error error error error", NULL},
		{"Привет", "Hi", "ru"},
		{"Да", "No", NULL}, /* a tie is not "most" */
		{"Ёлка", NULL, "ru"},
		{NULL, "Съешь же ещё этих мягких французских булок", "ru"},
		{"Café résumé naïve", "", NULL},
		{"", "", NULL},
		{NULL, NULL, NULL},
		{"12345 !!! ???", "2026-03-05 +7 (495) 123-45-67", NULL},
		{"\xff\xfeПривет", "\xc0", "ru"},
		{"Заявка", "https://example.com/very/long/url/with/latin/letters", NULL},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		const char *got = pd_language_detect(cases[i].subject, cases[i].body);
		if (cases[i].want == NULL)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_ack),
		cmocka_unit_test(test_optional_headers),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_render_errors),
		cmocka_unit_test(test_address_quoting),
		cmocka_unit_test(test_address_long_names),
		cmocka_unit_test(test_address_invalid),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_injection_random),
		cmocka_unit_test(test_header_encode),
		cmocka_unit_test(test_long_subject_folding),
		cmocka_unit_test(test_body_qp_russian),
		cmocka_unit_test(test_body_encoding_choice),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_tagged_subject),
		cmocka_unit_test(test_template_expand),
		cmocka_unit_test(test_shipped_templates),
		cmocka_unit_test(test_notice_markers),
		cmocka_unit_test(test_template_content),
		cmocka_unit_test(test_template_parse),
		cmocka_unit_test(test_detect_language),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
