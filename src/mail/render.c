/*
 * render.c - outbound mail as RFC 5322 bytes, and the plain-text templates
 * it is written from.  See render.h.
 *
 * Pure: no I/O, no state, no clock, random source or environment: the
 * templates come in as text (config_templates.c reads them, at load and on reload),
 * the Date as a time_t and a Message-ID's randomness as bytes from the
 * caller.  What it owns:
 *   - sanitising untrusted header text (customers' subjects and names): C0
 *     controls, DEL, C1 controls and U+2028/U+2029 become spaces, runs of
 *     spaces collapse to one, the ends are trimmed and invalid UTF-8 becomes
 *     U+FFFD, so no CR or LF can ever reach a header;
 *   - RFC 2047 encoding (UTF-8, B) in encoded words of at most 75 characters
 *     that never split a UTF-8 character, and folding under 78 columns;
 *   - the header block in a fixed order, and the body as 7bit or
 *     quoted-printable with CRLF line ends;
 *   - {{field}} templates: their format, the fields each kind of mail fills
 *     in, the check that a template renders with them and the set a
 *     configuration holds (the language guess for a customer's mail is
 *     decide/language.c's).
 *
 * SMTP dot-stuffing is not done here: libcurl escapes a "." at the start of a
 * line of an upload (CURLOPT_UPLOAD with an smtp:// URL) and sends the final
 * "<CRLF>.<CRLF>" itself, so a body line "." is passed through as it is.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unistr.h>

#include "codec.h"
#include "render.h"

#define LINE_MAX_COLS 78    /* RFC 5322 "SHOULD" limit for header lines */
#define EWORD_MAX 75        /* RFC 2047 limit for one encoded word */
#define EWORD_PREFIX "=?UTF-8?B?"
#define EWORD_OVERHEAD 12   /* "=?UTF-8?B?" + "?=" */
#define WORD_HARD_MAX 900   /* an unbroken ASCII word longer than this is encoded (998 limit) */
#define MSGID_MAX 900       /* longer ids would not fit one header line */
#define REFS_MAX 20         /* References keeps the first id and the last REFS_MAX - 1 */
#define QP_LINE_MAX 76      /* RFC 2045 */

/* ------------------------------------------------------------------ UTF-8 */

/* Decode one UTF-8 character at s (len bytes left, len > 0).  Returns its
 * length and *cp, or 0 when the bytes are not valid UTF-8 (overlong forms,
 * surrogates, beyond U+10FFFF, truncated). */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	ucs4_t uc;
	int n = u8_mbtoucr(&uc, s, len);

	if (n <= 0)
		return 0;
	*cp = uc;
	return (size_t)n;
}

static void utf8_put(struct pd_buf *b, uint32_t cp)
{
	uint8_t u[6];
	int n = u8_uctomb(u, cp, (int)sizeof(u));

	if (n > 0)
		pd_buf_append(b, u, (size_t)n);
}

/* Characters that must never reach a header: they could end it (CR, LF, and
 * the Unicode line and paragraph separators some clients honour), or are
 * invisible controls. */
static bool header_unsafe(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
	       cp == 0x2029;
}

/* Sanitised copy of untrusted header text: unsafe characters become spaces,
 * runs of spaces one space, ends trimmed, invalid UTF-8 U+FFFD. */
static char *sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p);
	struct pd_buf b;
	bool space = false;

	pd_buf_init(&b);
	pd_buf_append(&b, "", 0);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_next(p + i, len - i, &cp);

		if (n == 0)
			cp = 0xfffd, n = 1;
		i += n;
		if (cp == ' ' || header_unsafe(cp)) {
			space = true;
			continue;
		}
		if (space && b.len > 0)
			pd_buf_append_char(&b, ' ');
		space = false;
		utf8_put(&b, cp);
	}
	return pd_buf_steal(&b, NULL);
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* True when s (sanitised, so single spaces) has a word too long for any
 * header line. */
static bool has_huge_word(const char *s)
{
	size_t run = 0;

	for (; *s; s++) {
		run = *s == ' ' ? 0 : run + 1;
		if (run > WORD_HARD_MAX)
			return true;
	}
	return false;
}

/* Plain ASCII is written as it is unless a decoder would take part of it
 * for an encoded word, or a word cannot be folded under 998 columns. */
static bool needs_encoding(const char *s)
{
	return !is_ascii(s) || strstr(s, "=?") != NULL || has_huge_word(s);
}

/* --------------------------------------------------------- header folding */

/* A header line being written: tokens separated by single spaces, folded
 * (CRLF SP) before a token that would pass LINE_MAX_COLS, but never before
 * the first token of a line. */
struct hdr {
	struct pd_buf *b;
	size_t col;       /* columns used on the current line */
	bool line_empty;  /* no token yet on the current line */
};

static void hdr_start(struct hdr *h, struct pd_buf *b, const char *name)
{
	h->b = b;
	pd_buf_append_str(b, name);
	pd_buf_append_char(b, ':');
	h->col = strlen(name) + 1;
	h->line_empty = true;
}

/* Columns left for a token on the current line after its separating space. */
static size_t hdr_room(const struct hdr *h)
{
	return h->col + 1 >= LINE_MAX_COLS ? 0 : LINE_MAX_COLS - h->col - 1;
}

static void hdr_fold(struct hdr *h)
{
	pd_buf_append(h->b, "\r\n", 2);
	h->col = 0;
	h->line_empty = true;
}

/* Append one token, preceded by a space (or a fold when it does not fit). */
static void hdr_token(struct hdr *h, const char *tok, size_t len)
{
	if (!h->line_empty && len > hdr_room(h))
		hdr_fold(h);
	pd_buf_append_char(h->b, ' ');
	pd_buf_append(h->b, tok, len);
	h->col += 1 + len;
	h->line_empty = false;
}

static void hdr_end(struct hdr *h)
{
	pd_buf_append(h->b, "\r\n", 2);
}

/* Space-separated words of s as tokens. */
static void hdr_words(struct hdr *h, const char *s)
{
	while (*s) {
		const char *e = strchr(s, ' ');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n > 0)
			hdr_token(h, s, n);
		s += n;
		while (*s == ' ')
			s++;
	}
}

/* s (valid UTF-8) as B encoded words, each as long as the current line
 * allows (at most EWORD_MAX) and cut between characters.  Whitespace between
 * adjacent encoded words is not part of the text, so the words can be cut
 * anywhere and separated by a space or a fold. */
static void hdr_encoded(struct hdr *h, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	struct pd_buf w;

	pd_buf_init(&w);
	while (len > 0) {
		size_t room = hdr_room(h);

		/* the smallest word holds one 4-byte character: 12 + 8 */
		if (!h->line_empty && room < EWORD_OVERHEAD + 8)
			hdr_fold(h), room = hdr_room(h);
		if (room > EWORD_MAX)
			room = EWORD_MAX;
		if (room < EWORD_OVERHEAD + 8)
			room = EWORD_OVERHEAD + 8; /* a header name too long for any line */
		size_t take = (room - EWORD_OVERHEAD) / 4 * 3;
		if (take >= len) {
			take = len;
		} else {
			take = pd_utf8_cut((const char *)p, len, take); /* not inside a character */
			/* prefer to cut after a space: decoders that wrongly keep
			 * the blank between two words (Python's address parser
			 * does) then double a space instead of splitting a word */
			size_t cut = take;
			while (cut > take / 3 && p[cut - 1] != ' ')
				cut--;
			if (cut > take / 3)
				take = cut;
		}
		pd_buf_reset(&w);
		pd_buf_append_str(&w, EWORD_PREFIX);
		pd_b64_encode(&w, p, take);
		pd_buf_append(&w, "?=", 2);
		hdr_token(h, w.data, w.len);
		p += take;
		len -= take;
	}
	pd_buf_free(&w);
}

/* Unstructured text (Subject): sanitised, then words or encoded words. */
static void hdr_unstructured(struct hdr *h, const char *value)
{
	char *s = sanitize(value);

	if (needs_encoding(s))
		hdr_encoded(h, s);
	else
		hdr_words(h, s);
	free(s);
}

char *pd_render_header_encode(const char *name, const char *value)
{
	struct pd_buf b;
	struct hdr h;
	size_t skip;

	pd_buf_init(&b);
	hdr_start(&h, &b, name);
	skip = b.len;
	hdr_unstructured(&h, value);
	/* the caller writes "Name: " itself: drop "Name:" and the first space */
	if (b.len > skip)
		skip++;
	char *out = pd_xstrdup(b.data + skip);
	pd_buf_free(&b);
	return out;
}

/* ------------------------------------------------------------- addresses */

/* RFC 5322 atext: what a display name may hold without quotes. */
static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Printable copy of an untrusted value for an error message. */
static void err_quote(char *out, size_t size, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 2 < size; s++)
		out[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	out[o] = '\0';
}

/* One mailbox: [phrase] <addr-spec>, or the bare addr-spec without a name.
 * last: no comma after it. */
static int hdr_mailbox(struct hdr *h, const char *field, size_t idx, const struct pd_addr *a,
		       bool last, struct pd_err *err)
{
	const char *addr = a->address ? a->address : "";

	if (!pd_addr_spec_valid(addr, 0)) {
		char shown[200];
		err_quote(shown, sizeof(shown), addr);
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0,
				  "%s address %zu is not a usable addr-spec: \"%s\"", field,
				  idx + 1, shown);
	}

	char *name = sanitize(a->name);
	char *tok;
	if (*name == '\0') {
		tok = pd_xasprintf("%s%s", addr, last ? "" : ",");
	} else {
		bool plain = !needs_encoding(name);
		bool atoms = plain;
		for (const char *p = name; atoms && *p; p++)
			atoms = *p == ' ' || is_atext((unsigned char)*p);
		if (atoms) {
			hdr_words(h, name);
		} else {
			struct pd_buf q;
			pd_buf_init(&q);
			pd_buf_append_char(&q, '"');
			for (const char *p = name; *p; p++) {
				if (*p == '"' || *p == '\\')
					pd_buf_append_char(&q, '\\');
				pd_buf_append_char(&q, *p);
			}
			pd_buf_append_char(&q, '"');
			/* a quoted string is not folded: when it fits neither
			 * here nor on a new line, encoded words can */
			if (plain && (q.len <= hdr_room(h) ||
				      (!h->line_empty && q.len <= LINE_MAX_COLS - 1)))
				hdr_token(h, q.data, q.len);
			else
				hdr_encoded(h, name);
			pd_buf_free(&q);
		}
		tok = pd_xasprintf("<%s>%s", addr, last ? "" : ",");
	}
	hdr_token(h, tok, strlen(tok));
	free(tok);
	free(name);
	return 0;
}

static int hdr_addresses(struct pd_buf *b, const char *field, const struct pd_addr *v, size_t n,
			 struct pd_err *err)
{
	struct hdr h;

	hdr_start(&h, b, field);
	for (size_t i = 0; i < n; i++)
		if (hdr_mailbox(&h, field, i, &v[i], i + 1 == n, err) < 0)
			return -1;
	hdr_end(&h);
	return 0;
}

/* ------------------------------------------------------------ the message */

/* A msg-id (without <>) we can write: printable ASCII, no spaces or angle
 * brackets, an '@', not absurdly long. */
static bool msgid_valid(const char *id)
{
	if (id == NULL || *id == '\0' || strlen(id) > MSGID_MAX || strchr(id, '@') == NULL)
		return false;
	for (const char *p = id; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '<' ||
		    *p == '>')
			return false;
	return true;
}

/* Token values we write from our own data (kind, Auto-Submitted,
 * Content-Language): letters, digits, '-', '.'. */
static bool token_valid(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

static void append_date(struct pd_buf *b, time_t t)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	/* by hand, not strftime: %a and %b follow the locale */
	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	pd_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
		      tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		      tm.tm_sec);
}

/* References: ids in order, In-Reply-To appended when missing, invalid ids
 * dropped, capped to the first and the last REFS_MAX - 1 (the first is the
 * thread's root, the last ones the close ancestors clients thread by). */
static void append_references(struct pd_buf *b, const struct pd_render_mail *m)
{
	const char **ids = pd_xcalloc(m->n_references + 1, sizeof(*ids));
	size_t n = 0;
	bool irt_seen = false;

	for (size_t i = 0; i < m->n_references; i++) {
		if (!msgid_valid(m->references[i]))
			continue;
		ids[n++] = m->references[i];
		if (m->in_reply_to != NULL && strcmp(m->references[i], m->in_reply_to) == 0)
			irt_seen = true;
	}
	if (msgid_valid(m->in_reply_to) && !irt_seen)
		ids[n++] = m->in_reply_to;
	if (n > 0) {
		struct hdr h;
		hdr_start(&h, b, "References");
		for (size_t i = 0; i < n; i++) {
			if (n > REFS_MAX && i > 0 && i < n - (REFS_MAX - 1))
				continue;
			char *tok = pd_xasprintf("<%s>", ids[i]);
			hdr_token(&h, tok, strlen(tok));
			free(tok);
		}
		hdr_end(&h);
	}
	free(ids);
}

/* Copy of the body with every line break (LF, CRLF or a lone CR) as LF and
 * invalid UTF-8 as U+FFFD. */
static char *body_normalize(const char *body)
{
	const unsigned char *p = (const unsigned char *)(body ? body : "");
	size_t len = strlen((const char *)p);
	struct pd_buf b;

	pd_buf_init(&b);
	pd_buf_append(&b, "", 0);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_next(p + i, len - i, &cp);

		if (n == 0) {
			utf8_put(&b, 0xfffd);
			i++;
		} else if (cp == '\r') {
			pd_buf_append_char(&b, '\n');
			i += (i + 1 < len && p[i + 1] == '\n') ? 2 : 1;
		} else {
			pd_buf_append(&b, p + i, n);
			i += n;
		}
	}
	return pd_buf_steal(&b, NULL);
}

/* Quoted-printable is needed for 8-bit bytes, controls other than TAB,
 * lines over QP_LINE_MAX and trailing white space (which transports strip). */
static bool body_needs_qp(const char *s)
{
	size_t col = 0;

	for (const char *p = s;; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n' || c == '\0') {
			bool trailing_ws = p > s && col > 0 && (p[-1] == ' ' || p[-1] == '\t');
			if (col > QP_LINE_MAX || trailing_ws)
				return true;
			if (c == '\0')
				return false;
			col = 0;
			continue;
		}
		if (c >= 0x80 || c == 0x7f || (c < 0x20 && c != '\t'))
			return true;
		col++;
	}
}

static void append_body(struct pd_buf *b, const char *body, bool qp)
{
	const char *p = body;

	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (qp) {
			pd_qp_encode_line(b, p, n, QP_LINE_MAX);
		} else {
			pd_buf_append(b, p, n);
			pd_buf_append(b, "\r\n", 2);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
}

void pd_render_qp(const char *text, struct pd_buf *out)
{
	char *body = body_normalize(text);

	append_body(out, body, true);
	free(body);
}

/* The header block of m (up to the MIME headers) into b; -1 with err when
 * m is unusable (see pd_render_mail). */
static int render_headers(const struct pd_render_mail *m, struct pd_buf *b, struct pd_err *err)
{
	struct hdr h;

	if (m->n_to == 0)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0, "To: no recipient");
	if (!msgid_valid(m->message_id))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0,
				  "Message-ID is not a usable msg-id");
	if (!token_valid(m->kind))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0, "X-Postdesk-Kind is not a token");
	if (m->auto_submitted != NULL && !token_valid(m->auto_submitted))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0, "Auto-Submitted is not a token");
	if (m->language != NULL && !token_valid(m->language))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0,
				  "Content-Language is not a language tag");

	append_date(b, m->date);
	if (hdr_addresses(b, "From", &m->from, 1, err) < 0)
		return -1;
	if (m->reply_to.address != NULL && m->reply_to.address[0] != '\0' &&
	    hdr_addresses(b, "Reply-To", &m->reply_to, 1, err) < 0)
		return -1;
	if (hdr_addresses(b, "To", m->to, m->n_to, err) < 0)
		return -1;
	if (m->n_cc > 0 && hdr_addresses(b, "Cc", m->cc, m->n_cc, err) < 0)
		return -1;
	hdr_start(&h, b, "Subject");
	hdr_unstructured(&h, m->subject);
	hdr_end(&h);
	pd_buf_printf(b, "Message-ID: <%s>\r\n", m->message_id);
	if (msgid_valid(m->in_reply_to))
		pd_buf_printf(b, "In-Reply-To: <%s>\r\n", m->in_reply_to);
	append_references(b, m);
	if (m->auto_submitted != NULL)
		pd_buf_printf(b, "Auto-Submitted: %s\r\n", m->auto_submitted);
	pd_buf_printf(b, "X-Postdesk-Kind: %s\r\n", m->kind);
	/* our loop header: the loop guard refuses to answer mail carrying it */
	pd_buf_printf(b, "X-Postdesk-Loop: %s\r\n", strrchr(m->message_id, '@') + 1);
	if (m->language != NULL)
		pd_buf_printf(b, "Content-Language: %s\r\n", m->language);
	return 0;
}

int pd_render_check(const struct pd_render_mail *m, struct pd_err *err)
{
	struct pd_buf b;
	int r;

	pd_buf_init(&b);
	r = render_headers(m, &b, err);
	pd_buf_free(&b);
	return r;
}

int pd_render_mail(const struct pd_render_mail *m, struct pd_buf *out, struct pd_err *err)
{
	struct pd_buf b;

	/* everything goes to a scratch buffer first so that a failure leaves
	 * out untouched */
	pd_buf_init(&b);
	if (render_headers(m, &b, err) < 0)
		goto fail;

	char *body = body_normalize(m->body);
	if (m->html != NULL || m->n_parts > 0) {
		char *html = m->html ? body_normalize(m->html) : NULL;
		int r = pd_mimeout_body(body, html, m->parts, m->n_parts, &b, err);
		free(html);
		free(body);
		if (r < 0)
			goto fail;
		pd_buf_append(out, b.data, b.len);
		pd_buf_free(&b);
		return 0;
	}
	bool qp = body_needs_qp(body);
	pd_buf_printf(&b,
		      "MIME-Version: 1.0\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: %s\r\n"
		      "\r\n",
		      qp ? "quoted-printable" : "7bit");
	append_body(&b, body, qp);
	free(body);

	pd_buf_append(out, b.data, b.len);
	pd_buf_free(&b);
	return 0;
fail:
	pd_buf_free(&b);
	return -1;
}

/* ---------------------------------------------------- ids and the subject */

/* Copy of s with everything but letters, digits, '-' and '.' as '-'. */
static char *dotatom(const char *s)
{
	char *c = pd_xstrdup(s && *s ? s : "x");

	for (char *p = c; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			*p = '-';
	return c;
}

char *pd_render_message_id(const char *domain, int64_t ticket, const char *kind,
			   const unsigned char *rnd, size_t n_rnd)
{
	char *hex = pd_xcalloc(n_rnd * 2 + 1, 1);

	pd_hex(rnd, n_rnd, hex);
	char *k = dotatom(kind), *d = dotatom(domain);
	char *id = pd_xasprintf("pd.%lld.%s.%s@%s", (long long)ticket, k, hex, d);
	free(k);
	free(d);
	free(hex);
	return id;
}

/* True when s holds "[TAG #N]" for this tag and number: tag compared without
 * case, spaces around '#' and inside the brackets tolerated. */
static bool has_tag(const char *s, const char *tag, int64_t ticket)
{
	size_t tlen = strlen(tag);

	for (const char *p = strchr(s, '['); p != NULL; p = strchr(p + 1, '[')) {
		const char *q = p + 1;
		while (*q == ' ')
			q++;
		if (strncasecmp(q, tag, tlen) != 0)
			continue;
		q += tlen;
		while (*q == ' ')
			q++;
		if (*q++ != '#')
			continue;
		while (*q == ' ')
			q++;
		if (*q < '1' || *q > '9')
			continue;
		int64_t v = 0;
		bool overflow = false;
		for (; *q >= '0' && *q <= '9'; q++) {
			if (v > (INT64_MAX - (*q - '0')) / 10)
				overflow = true;
			else
				v = v * 10 + (*q - '0');
		}
		while (*q == ' ')
			q++;
		if (*q == ']' && !overflow && v == ticket)
			return true;
	}
	return false;
}

char *pd_render_tagged_subject(const char *tag, int64_t ticket, const char *subject)
{
	char *t = sanitize(tag && *tag ? tag : "Support");
	char *s = sanitize(subject);
	char *out;

	if (has_tag(s, t, ticket))
		out = pd_xstrdup(s);
	else if (*s == '\0')
		out = pd_xasprintf("[%s #%lld]", t, (long long)ticket);
	else
		out = pd_xasprintf("[%s #%lld] %s", t, (long long)ticket, s);
	free(t);
	free(s);
	return out;
}

/* -------------------------------------------------------------- templates */

/* The fields compose.c fills in for each kind of mail (keep in step with
 * it): a template may use these and no others, which pd_template_parse
 * checks when the configuration is loaded rather than when a mail is due. */
#define TICKET_FIELDS "ticket.number", "ticket.subject", "ticket.status", "ticket.priority", \
		      "ticket.queue", "ticket.line"
#define CUSTOMER_FIELDS "customer.name", "customer.address"

static const char *const ack_fields[] = {
	TICKET_FIELDS, CUSTOMER_FIELDS, "message.body", "kb.articles", "support.address", NULL};
static const char *const notice_fields[] = {TICKET_FIELDS,	   CUSTOMER_FIELDS,
					    "message.body",	   "message.attachments",
					    "support.address", NULL};
static const char *const footer_fields[] = {"agent.name",     "agent.address", "ticket.number",
					    "ticket.subject", "support.address", NULL};
static const char *const sla_fields[] = {
	TICKET_FIELDS, "ticket.reasons", CUSTOMER_FIELDS, "message.body", "sla.clock",
	"sla.target",  "sla.due",	 "sla.late",	  "line.from",	  "reason",
	"support.address", NULL};
static const char *const requester_fields[] = {"ticket.number", "ticket.subject", CUSTOMER_FIELDS,
					       "support.address", NULL};
static const char *const command_error_fields[] = {"reason", "ticket.number", "ticket.subject",
						   "support.address", NULL};
static const char *const held_fields[] = {"reason",	    "advice",	       "ticket.number",
					  "ticket.subject", "support.address", NULL};
static const char *const attachment_error_fields[] = {
	"attachments", "limit", "ticket.number", "ticket.subject", "support.address", NULL};

const struct pd_template_kind pd_template_kinds[] = {
	{"ack", ack_fields},
	{"agent-notice", notice_fields},
	{"agent-relay-footer", footer_fields},
	{"sla-warning", sla_fields},
	{"sla-breach", sla_fields},
	{"escalation", sla_fields},
	{"survey", requester_fields},
	{"auto-close", requester_fields},
	{"command-error", command_error_fields},
	{"agent-held", held_fields},
	{"attachment-error", attachment_error_fields},
};
const size_t pd_n_template_kinds = sizeof(pd_template_kinds) / sizeof(pd_template_kinds[0]);

const struct pd_template_kind *pd_template_kind(const char *name)
{
	for (size_t i = 0; name != NULL && i < pd_n_template_kinds; i++)
		if (strcmp(pd_template_kinds[i].name, name) == 0)
			return &pd_template_kinds[i];
	return NULL;
}

bool pd_template_lang_ok(const char *lang)
{
	size_t n = lang ? strlen(lang) : 0;

	if (n < 2 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lang[i] < 'a' || lang[i] > 'z')
			return false;
	return true;
}

/* Line (from 1) of position pos in text. */
static int line_at(const char *text, size_t pos)
{
	int line = 1;

	for (size_t i = 0; i < pos; i++)
		line += text[i] == '\n';
	return line;
}

static bool field_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* pd_template_expand, also giving the offset in text of the field it
 * failed on in *bad_r. */
static char *expand(const char *text, const struct pd_render_var *vars, size_t n, size_t *bad_r,
		    struct pd_err *err)
{
	struct pd_buf b;
	const char *p = text ? text : "";

	*bad_r = 0;
	pd_buf_init(&b);
	pd_buf_append(&b, "", 0);
	while (*p) {
		const char *open = strstr(p, "{{");
		if (open == NULL) {
			pd_buf_append_str(&b, p);
			break;
		}
		pd_buf_append(&b, p, (size_t)(open - p));
		if (strncmp(open, "{{{{", 4) == 0) {
			pd_buf_append(&b, "{{", 2);
			p = open + 4;
			continue;
		}
		const char *s = open + 2, *e;
		while (*s == ' ' || *s == '\t')
			s++;
		for (e = s; field_char(*e); e++)
			;
		size_t flen = (size_t)(e - s);
		while (*e == ' ' || *e == '\t')
			e++;
		*bad_r = (size_t)(open - text);
		if (flen == 0 || strncmp(e, "}}", 2) != 0) {
			size_t shown = strcspn(open, "\n");
			pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0,
				   "unterminated or empty field \"%.*s\"",
				   (int)(shown > 40 ? 40 : shown), open);
			pd_buf_free(&b);
			return NULL;
		}
		const char *value = NULL;
		for (size_t i = 0; i < n && value == NULL; i++)
			if (strlen(vars[i].name) == flen && strncmp(vars[i].name, s, flen) == 0)
				value = vars[i].value ? vars[i].value : "";
		if (value == NULL) {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0, "unknown field \"%.*s\"",
				   (int)flen, s);
			pd_buf_free(&b);
			return NULL;
		}
		pd_buf_append_str(&b, value);
		p = e + 2;
	}
	return pd_buf_steal(&b, NULL);
}

char *pd_template_expand(const char *text, const struct pd_render_var *vars, size_t n,
			 struct pd_err *err)
{
	size_t bad;

	return expand(text, vars, n, &bad, err);
}

/* Expand t's subject and body; an error is prefixed "ORIGIN:LINE: ". */
static int template_expand(const struct pd_template *t, const struct pd_render_var *vars,
			   size_t n, char **subject_r, char **body_r, struct pd_err *err)
{
	size_t bad;
	char *subject = expand(t->subject, vars, n, &bad, err), *body = NULL;

	*subject_r = *body_r = NULL;
	if (subject == NULL) {
		pd_err_prefix(err, "%s:1", t->origin);
		return -1;
	}
	if ((body = expand(t->body, vars, n, &bad, err)) == NULL) {
		/* the body starts on line 3, after the Subject line and a blank one */
		pd_err_prefix(err, "%s:%d", t->origin, 2 + line_at(t->body, bad));
		free(subject);
		return -1;
	}
	*subject_r = subject;
	*body_r = body;
	return 0;
}

/* Render t with a sample value for every field its kind fills in. */
static int template_check(const struct pd_template *t, struct pd_err *err)
{
	const struct pd_template_kind *k = pd_template_kind(t->name);
	struct pd_render_var vars[32];
	size_t n = 0;
	char *subject, *body;

	for (; k->fields[n] != NULL && n < PD_ARRAY_LEN(vars); n++) {
		vars[n].name = k->fields[n];
		vars[n].value = "sample";
	}
	if (template_expand(t, vars, n, &subject, &body, err) < 0) {
		if (strstr(err->msg, "unknown field") != NULL) {
			struct pd_buf b;
			pd_buf_init(&b);
			for (size_t i = 0; i < n; i++)
				pd_buf_printf(&b, "%s%s", i ? ", " : "", vars[i].name);
			pd_buf_append(&b, "", 0);
			char *msg = pd_xasprintf("%s (%s may use %s)", err->msg, t->name, b.data);
			pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0, "%s", msg);
			free(msg);
			pd_buf_free(&b);
		}
		return -1;
	}
	free(subject);
	free(body);
	return 0;
}

int pd_template_parse(const char *lang, const char *name, const char *origin, const char *text,
		      size_t len, struct pd_template *t, struct pd_err *err)
{
	const unsigned char *u = (const unsigned char *)text;
	struct pd_buf b;

	memset(t, 0, sizeof(*t));
	if (pd_template_kind(name) == NULL) {
		struct pd_buf kinds;
		pd_buf_init(&kinds);
		for (size_t i = 0; i < pd_n_template_kinds; i++)
			pd_buf_printf(&kinds, "%s%s", i ? ", " : "", pd_template_kinds[i].name);
		pd_buf_append(&kinds, "", 0);
		pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0,
			   "%s: postdesk sends no template called \"%s\" (it sends %s)", origin,
			   name ? name : "", kinds.data);
		pd_buf_free(&kinds);
		return -1;
	}
	/* the first byte that is not UTF-8 text, for its line */
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = utf8_next(u + i, len - i, &cp);
		if (k == 0 || cp == 0)
			return pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0, "%s:%d: not UTF-8 text",
					  origin, line_at(text, i));
		i += k;
	}
	/* drop CRs (the file may have been saved on Windows) and a byte order mark */
	pd_buf_init(&b);
	pd_buf_append(&b, "", 0);
	for (size_t i = 0; i < len; i++)
		if (text[i] != '\r')
			pd_buf_append_char(&b, text[i]);
	if (b.len >= 3 && memcmp(b.data, "\xef\xbb\xbf", 3) == 0) {
		memmove(b.data, b.data + 3, b.len - 2);
		b.len -= 3;
	}
	char *nl = strchr(b.data, '\n');
	if (!pd_str_istartswith(b.data, "Subject:") || nl == NULL ||
	    (nl[1] != '\n' && nl[1] != '\0')) {
		int line = pd_str_istartswith(b.data, "Subject:") && nl != NULL ? 2 : 1;
		pd_buf_free(&b);
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0,
				  "%s:%d: a template must start with a \"Subject: ...\" line "
				  "and a blank line",
				  origin, line);
	}
	*nl = '\0';
	t->lang = pd_xstrdup(lang);
	t->name = pd_xstrdup(name);
	t->origin = pd_xstrdup(origin);
	t->subject = pd_str_trim(pd_xstrdup(b.data + strlen("Subject:")));
	t->body = pd_xstrdup(nl[1] == '\0' ? "" : nl + 2);
	pd_buf_free(&b);
	if (template_check(t, err) < 0) {
		pd_template_free(t);
		return -1;
	}
	return 0;
}

void pd_template_free(struct pd_template *t)
{
	if (t == NULL)
		return;
	free(t->lang);
	free(t->name);
	free(t->origin);
	free(t->subject);
	free(t->body);
	memset(t, 0, sizeof(*t));
}

static struct pd_template *templates_get(const struct pd_templates *set, const char *lang,
					 const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].lang, lang) == 0 && strcmp(set->v[i].name, name) == 0)
			return &set->v[i];
	return NULL;
}

void pd_templates_put(struct pd_templates *set, struct pd_template *t)
{
	struct pd_template *old = templates_get(set, t->lang, t->name);

	if (old != NULL) {
		pd_template_free(old);
	} else {
		set->v = pd_xreallocarray(set->v, set->n + 1, sizeof(*set->v));
		old = &set->v[set->n++];
	}
	*old = *t;
	memset(t, 0, sizeof(*t));
}

const struct pd_template *pd_templates_find(const struct pd_templates *set, const char *lang,
					    const char *name)
{
	const struct pd_template *t = NULL;

	if (set == NULL || name == NULL)
		return NULL;
	if (pd_template_lang_ok(lang))
		t = templates_get(set, lang, name);
	return t != NULL ? t : templates_get(set, "en", name);
}

void pd_templates_free(struct pd_templates *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		pd_template_free(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

int pd_template_render(const struct pd_templates *set, const char *lang, const char *name,
		       const struct pd_render_var *vars, size_t n, char **subject_r, char **body_r,
		       struct pd_err *err)
{
	const struct pd_template *t = pd_templates_find(set, lang, name);

	*subject_r = *body_r = NULL;
	if (t == NULL)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_RENDER, 0, "no template \"%s\" (en/%s.txt)",
				  name ? name : "", name ? name : "");
	if (template_expand(t, vars, n, subject_r, body_r, err) < 0) {
		pd_err_prefix(err, "template");
		return -1;
	}
	return 0;
}
