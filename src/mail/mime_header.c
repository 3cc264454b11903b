/*
 * mime_header.c - header blocks: the field scanner and its repair, RFC 2047
 * encoded words, RFC 2231 parameters, address lists, message ids, dates
 * (libetpan's mailimf date parser), the top header fields of a pd_msg and
 * the dedupe content hash.  Part of the MIME parser (mime_int.h).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <libetpan/mailimf.h>

#include "charset.h"
#include "codec.h"
#include "mime.h"
#include "mime_int.h"
#include "ioutil.h"
#include "util.h"

/* ---------------------------------------------------------- header block */

/*
 * Header fields are kept as (name, raw value) slices of the input: nothing
 * is copied until a field is actually used, and folded values stay folded
 * until mime_unfold() runs.  The block ends at the first empty line; a line that
 * is neither a field nor a continuation also ends it (it is the first body
 * line, as in Python's email package), so mail without the empty separator
 * still has a body.  NUL bytes are ordinary bytes here.
 */

/* If [p, le) is a "Name: value" line, return the colon and the name length. */
static const char *hdr_colon(const char *p, const char *le, size_t *nlen)
{
	const char *q = p, *name_end;

	while (q < le && *q != ':' && (unsigned char)*q > 32 && (unsigned char)*q < 127)
		q++;
	name_end = q;
	while (q < le && is_wsp(*q)) /* RFC 822 allowed "Subject :" */
		q++;
	if (q >= le || *q != ':' || name_end == p)
		return NULL;
	*nlen = (size_t)(name_end - p);
	return q;
}

static const char *skip_from_line(const char *p, const char *e)
{
	if (e - p >= 5 && memcmp(p, "From ", 5) == 0) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		return nl ? nl + 1 : e;
	}
	return p;
}

/* Split the header block at s into fields.  The block ends at the first
 * empty line, or at the first line that is neither a field nor a
 * continuation (then that line starts the body) -- unless skip_junk, when
 * such a line and its continuations are dropped and the block goes on (the
 * groups of a delivery-status body, the headers a report returns). */
void mime_hblock_parse_ex(struct hblock *hb, const char *s, const char *e, bool skip_from,
			    bool skip_junk)
{
	const char *p = skip_from ? skip_from_line(s, e) : s;
	bool skipping = false; /* over MAX_HEADERS or after junk: drop continuations */

	hb->v = hb->inl;
	hb->n = 0;
	hb->cap = HB_INLINE;
	hb->body = e;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *next = nl ? nl + 1 : e, *le = nl ? nl : e, *colon;
		size_t nlen;

		if (le > p && le[-1] == '\r')
			le--;
		if (le == p) {
			hb->body = next;
			return;
		}
		if (is_wsp(*p)) {
			if (hb->n > 0 && !skipping) {
				struct hfield *f = &hb->v[hb->n - 1];
				f->vlen = (size_t)(le - f->val);
			}
			p = next;
			continue;
		}
		colon = hdr_colon(p, le, &nlen);
		if (colon == NULL && skip_junk) {
			skipping = true;
			p = next;
			continue;
		}
		if (colon == NULL) {
			hb->body = p;
			return;
		}
		skipping = hb->n >= MAX_HEADERS;
		if (!skipping) {
			if (hb->n == hb->cap) {
				if (hb->v == hb->inl) {
					hb->v = pd_xreallocarray(NULL, hb->cap * 2, sizeof(*hb->v));
					memcpy(hb->v, hb->inl, sizeof(hb->inl));
				} else {
					hb->v = pd_xreallocarray(hb->v, hb->cap * 2, sizeof(*hb->v));
				}
				hb->cap *= 2;
			}
			hb->v[hb->n++] = (struct hfield){p, nlen, colon + 1, (size_t)(le - colon - 1)};
		}
		p = next;
	}
}

void mime_hblock_parse(struct hblock *hb, const char *s, const char *e, bool skip_from)
{
	mime_hblock_parse_ex(hb, s, e, skip_from, false);
}

/*
 * Repair of a damaged top header block, before it is split into fields.
 * Real mail breaks the rules in three ways that would otherwise hide the
 * headers (the scanner above takes the first line that is not a field as
 * the start of the body):
 *   - something before the first field: a UTF-8 BOM, an mbox "From " line,
 *     a separator a forwarding tool wrote ("-----Original Message-----");
 *   - a folded line that lost its leading blank (a relay that wraps long
 *     base64 encoded words at column 0);
 *   - "Subject :" (handled by hdr_colon: trailing blanks after the name).
 * A line that is not a field counts as damage only when a well-known field
 * follows it before the empty line, or when it is an encoded word alone;
 * otherwise it is the body of a mail without the empty separator line, as
 * before.
 */

#define REPAIR_MAX_LEAD 5   /* lines skipped before the first field */
#define REPAIR_MAX_LOOK 20  /* lines looked ahead for a field after damage */

/* Fields that a body line is most unlikely to imitate. */
static bool well_known_field(const char *name, size_t n)
{
	static const char *const known[] = {
		"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to", "sender",
		"in-reply-to", "references", "mime-version", "content-type",
		"content-transfer-encoding", "content-disposition", "received", "return-path",
		"delivered-to", "user-agent", "list-id", "precedence", "auto-submitted",
		"importance", "dkim-signature", "thread-index", "thread-topic",
		"authentication-results",
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(known); i++)
		if (name_is(name, n, known[i]))
			return true;
	return n > 2 && strncasecmp(name, "x-", 2) == 0;
}

/* The line at p: its end (before CR LF) and the next line's start. */
static void line_at(const char *p, const char *e, const char **le_r, const char **next_r)
{
	const char *nl = memchr(p, '\n', (size_t)(e - p));

	*next_r = nl ? nl + 1 : e;
	*le_r = nl ? nl : e;
	if (*le_r > p && (*le_r)[-1] == '\r')
		(*le_r)--;
}

/* True when [p, le) is a field line with a well-known name. */
static bool known_field_line(const char *p, const char *le)
{
	size_t nlen;

	return le > p && !is_wsp(*p) && hdr_colon(p, le, &nlen) != NULL &&
	       well_known_field(p, nlen);
}

/* True when, within REPAIR_MAX_LOOK lines from p and before an empty line,
 * a well-known field follows lines that are not fields. */
static bool field_follows(const char *p, const char *e)
{
	for (int i = 0; i < REPAIR_MAX_LOOK && p < e; i++) {
		const char *le, *next;
		size_t nlen;

		line_at(p, e, &le, &next);
		if (le == p)
			return false;
		if (!is_wsp(*p) && hdr_colon(p, le, &nlen) != NULL)
			return well_known_field(p, nlen);
		p = next;
	}
	return false;
}

bool pd_mime_header_repair(const char *raw, size_t len, struct pd_buf *out, size_t *body_off_r)
{
	const char *p = raw, *e = raw + len, *le, *next;
	bool damaged = false;

	pd_buf_init(out);
	*body_off_r = 0;
	if (raw == NULL)
		return false;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		damaged = true;
	}
	p = skip_from_line(p, e);
	/* lines before the first field: skipped when well-known fields follow */
	line_at(p, e, &le, &next);
	if (p < e && !known_field_line(p, le)) {
		size_t nlen;
		const char *q = p;
		bool is_field = le > p && !is_wsp(*p) && hdr_colon(p, le, &nlen) != NULL;

		for (int i = 0; !is_field && i < REPAIR_MAX_LEAD && q < e; i++) {
			const char *qle, *qnext;

			line_at(q, e, &qle, &qnext);
			if (qle > q && !is_wsp(*q) && hdr_colon(q, qle, &nlen) != NULL) {
				if (well_known_field(q, nlen) && field_follows(qnext, e)) {
					p = q;
					damaged = true;
				}
				break;
			}
			q = qnext;
		}
	}
	for (const char *s = p; s < e; s = next) {
		size_t nlen;

		line_at(s, e, &le, &next);
		if (le == s) {
			*body_off_r = (size_t)(next - raw);
			goto done;
		}
		if (!is_wsp(*s) && hdr_colon(s, le, &nlen) == NULL) {
			/* an encoded word alone on a line is a wrapped header value,
			 * also right before the empty line */
			bool ew = le - s >= 8 && s[0] == '=' && s[1] == '?' && le[-2] == '?' &&
				  le[-1] == '=';
			if (out->len == 0 || (!ew && !field_follows(next, e))) {
				*body_off_r = (size_t)(s - raw);
				goto done;
			}
			/* a fold without its blank: a continuation of the field above */
			pd_buf_append_char(out, ' ');
			damaged = true;
		}
		pd_buf_append(out, s, (size_t)(next - s));
		if (next == e && le == e)
			pd_buf_append_str(out, "\r\n");
	}
	*body_off_r = len;
done:
	if (!damaged) {
		pd_buf_free(out);
		return false;
	}
	pd_buf_append_str(out, "\r\n");
	return true;
}

/* Release a header block's heap array (the first HB_INLINE fields live inline). */
void mime_hblock_free(struct hblock *hb)
{
	if (hb->v != hb->inl)
		free(hb->v);
	hb->v = hb->inl;
	hb->n = 0;
}

/*
 * First field called name (case-insensitive), NULL when there is none.
 * Linear: header blocks are short and every lookup is one pass.
 */
const struct hfield *mime_hblock_find(const struct hblock *hb, const char *name)
{
	for (size_t i = 0; i < hb->n; i++)
		if (name_is(hb->v[i].name, hb->v[i].nlen, name))
			return &hb->v[i];
	return NULL;
}

/* Copy of a field value with the folding CR/LF removed (RFC 5322 2.2.3). */
void mime_unfold(const char *v, size_t len, struct pd_buf *out)
{
	const char *p = v, *e = v + len, *run = v;

	pd_buf_init(out);
	for (; p < e; p++) {
		if (*p == '\r' || *p == '\n') {
			pd_buf_append(out, run, (size_t)(p - run));
			run = p + 1;
		}
	}
	pd_buf_append(out, run, (size_t)(p - run));
}

/* Hand out b as a one-line string: controls other than TAB become spaces,
 * outer whitespace is trimmed.  Never NULL. */
char *mime_finish_text(struct pd_buf *b)
{
	size_t n;
	char *s = pd_buf_steal(b, &n);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			s[i] = ' ';
	return pd_str_trim(s);
}

/* ------------------------------------------------------- RFC 2047 words */

/*
 * Encoded words as real mailers write them: glued to the surrounding text
 * ("Re:=?utf-8?q?...?="), inside quoted strings, with lower-case
 * encodings, with an RFC 2231 language suffix on the charset, with a
 * multibyte character (or even a base64 quantum) split across two words,
 * and with charset labels nobody knows.  Whitespace between two encoded
 * words is dropped, as RFC 2047 section 6.2 says.
 */

/* Consecutive encoded words in one charset are decoded into one byte
 * string before conversion, so that a multibyte character split across two
 * words (and a base64 quantum split by a broken mailer) survives. */
struct ew_state {
	char cs[64];
	struct pd_buf bytes;
	unsigned bits, nbits; /* base64 carry */
	bool active;
};


/* If an encoded word "=?cs?e?text?=" starts at p, fill the pieces and
 * return its length, else 0.  Tolerates lower-case encodings, a
 * "*lang" charset suffix and spaces inside Q text. */
static size_t ew_parse(const char *p, const char *e, const char **cs, size_t *cslen, char *enc,
		       const char **txt, size_t *txtlen)
{
	const char *q = p + 2, *csb = q, *tb;

	if (e - p < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	while (q < e && *q != '?' && !is_space(*q) && q - csb < 60)
		q++;
	if (q >= e || *q != '?' || q == csb || e - q < 5)
		return 0;
	*cs = csb;
	*cslen = (size_t)(q - csb);
	*enc = (char)tolower((unsigned char)q[1]);
	if ((*enc != 'q' && *enc != 'b') || q[2] != '?')
		return 0;
	tb = q += 3;
	while (q < e && *q != '?') {
		if (*enc == 'b' && pd_b64_value((unsigned char)*q) < 0 && *q != '=' && !is_wsp(*q))
			return 0;
		q++;
	}
	if (e - q < 2 || q[1] != '=')
		return 0;
	*txt = tb;
	*txtlen = (size_t)(q - tb);
	return (size_t)(q + 2 - p);
}

/*
 * Append the bytes of one encoded word's text to st: Q ('_' is a space,
 * =XX a byte, a lone '=' kept) or B (carrying partial quanta into the
 * next word of the same charset).
 */
static void ew_decode(struct ew_state *st, char enc, const char *t, size_t n)
{
	if (enc == 'q') {
		for (size_t i = 0; i < n; i++) {
			int hi, lo;

			if (t[i] == '_') {
				pd_buf_append_char(&st->bytes, ' ');
			} else if (t[i] == '=' && i + 2 < n && (hi = pd_hexval(t[i + 1])) >= 0 &&
				   (lo = pd_hexval(t[i + 2])) >= 0) {
				pd_buf_append_char(&st->bytes, (char)(hi << 4 | lo));
				i += 2;
			} else {
				pd_buf_append_char(&st->bytes, t[i]);
			}
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int v = pd_b64_value((unsigned char)t[i]);

		if (t[i] == '=') {
			st->bits = st->nbits = 0; /* padding ends the quantum */
			continue;
		}
		if (v < 0)
			continue;
		st->bits = (st->bits << 6 | (unsigned)v) & 0xffffff;
		st->nbits += 6;
		if (st->nbits >= 8) {
			st->nbits -= 8;
			pd_buf_append_char(&st->bytes, (char)(st->bits >> st->nbits & 0xff));
		}
	}
}

/*
 * Convert the bytes gathered from consecutive encoded words and append
 * them; an unknown charset label falls back to the raw-text rules (UTF-8
 * if valid, else the default charset) with a warning.
 */
static void ew_flush(struct pctx *c, struct ew_state *st, struct pd_buf *out)
{
	if (!st->active)
		return;
	if (st->bytes.len > 0 && !mime_conv_append(&c->cv, st->cs, st->bytes.data, st->bytes.len, out)) {
		mime_warn(c, "unknown charset \"%s\" in encoded word", st->cs);
		mime_raw_append(c, st->bytes.data, st->bytes.len, out);
	}
	pd_buf_reset(&st->bytes);
	st->active = false;
	st->bits = st->nbits = 0;
}

/* Decode RFC 2047 words anywhere in s (also glued to text or inside quotes);
 * text between words is raw 8-bit text (UTF-8 or the default charset). */
void mime_decode_words(struct pctx *c, const char *s, size_t len, struct pd_buf *out)
{
	const char *p = s, *e = s + len, *lit = s, *q;
	struct ew_state st;

	memset(&st, 0, sizeof(st));
	pd_buf_init(&st.bytes);
	while (p < e && (q = memchr(p, '=', (size_t)(e - p))) != NULL) {
		const char *cs, *txt;
		size_t cslen, txtlen, n;
		char enc;

		if ((n = ew_parse(q, e, &cs, &cslen, &enc, &txt, &txtlen)) == 0) {
			p = q + 1;
			continue;
		}
		/* whitespace between two encoded words is not text */
		if (!(st.active && all_space(lit, q))) {
			ew_flush(c, &st, out);
			mime_raw_append(c, lit, (size_t)(q - lit), out);
		}
		if (st.active && (strlen(st.cs) != cslen || strncasecmp(st.cs, cs, cslen) != 0))
			ew_flush(c, &st, out);
		if (!st.active) {
			snprintf(st.cs, sizeof(st.cs), "%.*s", (int)cslen, cs);
			st.active = true;
		}
		ew_decode(&st, enc, txt, txtlen);
		p = lit = q + n;
	}
	ew_flush(c, &st, out);
	mime_raw_append(c, lit, (size_t)(e - lit), out);
	pd_buf_free(&st.bytes);
}

/* Decoded one-line text of a raw (folded) header value.  Never NULL. */
static char *header_text(struct pctx *c, const char *v, size_t len)
{
	struct pd_buf u, out;

	mime_unfold(v, len, &u);
	pd_buf_init(&out);
	mime_decode_words(c, u.data ? u.data : "", u.len, &out);
	pd_buf_free(&u);
	return mime_finish_text(&out);
}

/* ------------------------------------------------- Content-* parameters */

/*
 * Content-Type and Content-Disposition parameters, parsed from the raw
 * field so that values libetpan would drop survive: unquoted values with
 * spaces, unterminated quotes, RFC 2231 extended values ("name*=cs'lang'
 * %XX") and continuations ("name*0*=", "name*1=") in any mix, and RFC 2047
 * words in plain values (Outlook, Gmail).  At most MAX_PARAMS parameters
 * and MAX_SECTIONS continuations are kept.
 */



/* Parse "token; a=b; c=\"d\"" tolerantly: unquoted values may contain
 * spaces, an unterminated quote runs to the end, backslash escapes only
 * a quote or a backslash (so that "C:\dir\file" survives). */
void mime_params_parse(const char *v, size_t len, struct ctparams *ps)
{
	struct pd_buf u, m;
	const char *p, *e;
	int depth = 0;

	memset(ps, 0, sizeof(*ps));
	mime_unfold(v, len, &u);
	p = u.data ? u.data : "";
	e = p + u.len;
	pd_buf_init(&m);
	for (; p < e && *p != ';'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !is_space(*p) && *p != '"')
			pd_buf_append_char(&m, (char)tolower((unsigned char)*p));
	}
	ps->main = buf_take(&m);
	while (p < e && ps->n < MAX_PARAMS) {
		const char *nb, *ne;
		struct pd_buf val;

		p++; /* ';' */
		while (p < e && is_space(*p))
			p++;
		nb = p;
		while (p < e && *p != '=' && *p != ';')
			p++;
		ne = p;
		while (ne > nb && is_space(ne[-1]))
			ne--;
		if (p >= e || *p == ';' || ne == nb)
			continue;
		p++; /* '=' */
		while (p < e && is_space(*p))
			p++;
		pd_buf_init(&val);
		if (p < e && *p == '"') {
			for (p++; p < e && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < e && (p[1] == '"' || p[1] == '\\'))
					p++;
				pd_buf_append_char(&val, *p);
			}
			while (p < e && *p != ';')
				p++;
		} else {
			const char *vb = p, *ve;

			while (p < e && *p != ';')
				p++;
			ve = p;
			while (ve > vb && is_space(ve[-1]))
				ve--;
			pd_buf_append(&val, vb, (size_t)(ve - vb));
		}
		ps->v[ps->n].name = pd_xstrndup(nb, (size_t)(ne - nb));
		lower(ps->v[ps->n].name);
		ps->v[ps->n].value = pd_buf_steal(&val, &ps->v[ps->n].vlen);
		ps->n++;
	}
	pd_buf_free(&u);
}

/* Release what mime_params_parse allocated; ps can be reused afterwards. */
void mime_params_free(struct ctparams *ps)
{
	free(ps->main);
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->v[i].name);
		free(ps->v[i].value);
	}
	ps->n = 0;
}

/* Parameter by exact (lower-case) name; "name*" and "name*0*" are distinct. */
const struct param *mime_param_find(const struct ctparams *ps, const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].name, name) == 0)
			return &ps->v[i];
	return NULL;
}

/* Append s with %XX escapes decoded (RFC 2231 extended values). */
static void pct_decode(const char *s, size_t n, struct pd_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n && (hi = pd_hexval(s[i + 1])) >= 0 &&
		    (lo = pd_hexval(s[i + 2])) >= 0) {
			pd_buf_append_char(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			pd_buf_append_char(out, s[i]);
		}
	}
}

/* Decoded value of parameter name: RFC 2231 "name*", "name*0*"... first,
 * else the plain value (RFC 2047 words and raw 8-bit tolerated).  NULL when
 * absent or empty. */
bool mime_has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

char *mime_param_text(struct pctx *c, const struct ctparams *ps, const char *name,
			char **raw8_r)
{
	char key[64];
	const struct param *pr;
	struct pd_buf bytes, out;
	char cs[64] = "";
	bool ext = false;

	pd_buf_init(&bytes);
	pd_buf_init(&out);
	snprintf(key, sizeof(key), "%s*", name);
	if ((pr = mime_param_find(ps, key)) != NULL) {
		ext = true;
		const char *q1 = memchr(pr->value, '\'', pr->vlen);
		const char *q2 = q1 ? memchr(q1 + 1, '\'', pr->vlen - (size_t)(q1 + 1 - pr->value)) : NULL;
		if (q2 != NULL) {
			snprintf(cs, sizeof(cs), "%.*s", (int)(q1 - pr->value), pr->value);
			pct_decode(q2 + 1, pr->vlen - (size_t)(q2 + 1 - pr->value), &bytes);
		} else {
			pct_decode(pr->value, pr->vlen, &bytes);
		}
	} else {
		/* continuations: name*0*=cs'lang'..., name*1*=..., name*2=... */
		for (unsigned i = 0; i < MAX_SECTIONS; i++) {
			bool enc = true;

			snprintf(key, sizeof(key), "%s*%u*", name, i);
			if ((pr = mime_param_find(ps, key)) == NULL) {
				enc = false;
				snprintf(key, sizeof(key), "%s*%u", name, i);
				if ((pr = mime_param_find(ps, key)) == NULL)
					break;
			}
			if (i == 0)
				ext = true;
			const char *val = pr->value;
			size_t vlen = pr->vlen;
			if (i == 0 && enc) {
				const char *q1 = memchr(val, '\'', vlen);
				const char *q2 = q1 ? memchr(q1 + 1, '\'', vlen - (size_t)(q1 + 1 - val)) : NULL;
				if (q2 != NULL) {
					snprintf(cs, sizeof(cs), "%.*s", (int)(q1 - val), val);
					vlen -= (size_t)(q2 + 1 - val);
					val = q2 + 1;
				}
			}
			if (enc)
				pct_decode(val, vlen, &bytes);
			else
				pd_buf_append(&bytes, val, vlen);
		}
	}
	if (!ext) {
		if ((pr = mime_param_find(ps, name)) != NULL) {
			mime_decode_words(c, pr->value, pr->vlen, &out);
			/* undeclared 8-bit bytes: read again once the body's charset is known */
			if (raw8_r != NULL && mime_has_8bit(pr->value, pr->vlen)) {
				free(*raw8_r);
				*raw8_r = pd_xstrndup(pr->value, pr->vlen);
			}
		}
	} else if (cs[0] != '\0') {
		if (!mime_conv_append(&c->cv, cs, bytes.data ? bytes.data : "", bytes.len, &out)) {
			mime_warn(c, "unknown charset \"%s\" in parameter %s", cs, name);
			mime_raw_append(c, bytes.data ? bytes.data : "", bytes.len, &out);
		}
	} else {
		mime_decode_words(c, bytes.data ? bytes.data : "", bytes.len, &out);
	}
	pd_buf_free(&bytes);
	char *s = mime_finish_text(&out);
	if (*s == '\0') {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * A parameter's value as written (charset, boundary): no decoding, since
 * a boundary must match the body byte for byte.  NULL when absent or empty.
 */
char *mime_param_raw(const struct ctparams *ps, const char *name)
{
	const struct param *pr = mime_param_find(ps, name);

	if (pr == NULL || pr->vlen == 0)
		return NULL;
	return pd_xstrndup(pr->value, pr->vlen);
}

/* ------------------------------------------------------------ addresses */

static void mailbox_parse(struct pctx *c, const char *s, const char *e, struct pd_addrlist *out);

/* Split an address list at top-level ',' and ';' and hand each piece to
 * mailbox_parse.  The parser is deliberately forgiving: comments anywhere,
 * groups, missing commas between bare addresses, unterminated quotes. */
static void addrlist_parse(struct pctx *c, const char *v, size_t len, struct pd_addrlist *out)
{
	struct pd_buf u;
	const char *p, *e, *start;
	bool inq = false;
	int cdepth = 0, adepth = 0;

	mime_unfold(v, len, &u);
	p = start = u.data ? u.data : "";
	e = p + u.len;
	for (; p < e; p++) {
		if (*p == '\\' && (inq || cdepth > 0) && p + 1 < e) {
			p++;
		} else if (inq) {
			inq = *p != '"';
		} else if (*p == '"' && cdepth == 0) {
			inq = true;
		} else if (*p == '(') {
			cdepth++;
		} else if (*p == ')' && cdepth > 0) {
			cdepth--;
		} else if (cdepth == 0 && *p == '<') {
			adepth = 1;
		} else if (cdepth == 0 && *p == '>') {
			adepth = 0;
		} else if (cdepth == 0 && adepth == 0 && (*p == ',' || *p == ';')) {
			mailbox_parse(c, start, p, out);
			start = p + 1;
		}
	}
	mailbox_parse(c, start, e, out);
	pd_buf_free(&u);
}

/*
 * Append one address: the display name is RFC 2047-decoded, the addr-spec
 * kept as written (made valid UTF-8: RFC 6532 allows UTF-8 addresses).
 * Lists are capped at MAX_ADDRS so a hostile To: cannot grow without bound.
 */
static void addr_push(struct pctx *c, struct pd_addrlist *out, const char *name, size_t nlen,
		      const char *addr, size_t alen)
{
	struct pd_buf nb, ab;
	struct pd_addr *a;

	if (out->n >= MAX_ADDRS)
		return;
	pd_buf_init(&nb);
	pd_buf_init(&ab);
	mime_decode_words(c, name, nlen, &nb);
	mime_raw_append(c, addr, alen, &ab);
	out->v = pd_xgrow(out->v, out->n, sizeof(*out->v));
	a = &out->v[out->n++];
	a->name = mime_finish_text(&nb);
	a->address = mime_finish_text(&ab);
	/* 'John Doe' as Outlook sometimes writes it */
	size_t n = strlen(a->name);
	if (n >= 2 && a->name[0] == '\'' && a->name[n - 1] == '\'') {
		memmove(a->name, a->name + 1, n - 2);
		a->name[n - 2] = '\0';
		pd_str_trim(a->name);
	}
}

/*
 * One mailbox (or group member) of an address list, [s, e):
 *   - a group prefix "Name:" is dropped;
 *   - "Name <addr>": the phrase (quoted strings unquoted) is the name;
 *   - "addr (Name)": the first comment is the name;
 *   - several bare addr-specs without commas become several addresses;
 *   - a phrase without any '@' is a name without an address ("" address),
 *     a single word without '@' is a local address (MAILER-DAEMON).
 * Comments are skipped everywhere, also inside the angle brackets.
 */
static void mailbox_parse(struct pctx *c, const char *s, const char *e, struct pd_addrlist *out)
{
	struct pd_buf phrase, comment, angle;
	size_t wstart[64], wlen[64], nw = 0, at_words = 0;
	bool have_angle = false, in_word = false;
	const char *p;
	int depth;

	/* a group "Name:" prefix: a top-level ':' before any '<' */
	for (p = s, depth = 0; p < e && *p != '<'; p++) {
		if (*p == '"') {
			for (p++; p < e && *p != '"'; p++)
				if (*p == '\\' && p + 1 < e)
					p++;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && depth > 0) {
			depth--;
		} else if (*p == ':' && depth == 0) {
			s = p + 1;
			break;
		}
		if (p >= e)
			break;
	}
	pd_buf_init(&phrase);
	pd_buf_init(&comment);
	pd_buf_init(&angle);
	for (p = s; p < e; p++) {
		if (*p == '(') {
			/* comment: the first one may be the display name, "a@b (Name)" */
			bool keep = comment.len == 0;
			for (depth = 1, p++; p < e && depth > 0; p++) {
				if (*p == '\\' && p + 1 < e)
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')' && --depth == 0)
					break;
				if (keep && depth > 0)
					pd_buf_append_char(&comment, *p);
			}
			if (p >= e)
				break;
			in_word = false;
		} else if (*p == '<' && !have_angle) {
			have_angle = true;
			bool q = false;
			for (p++; p < e && (q || *p != '>'); p++) {
				if (*p == '"')
					q = !q;
				if (!q && *p == '(') {
					for (depth = 1, p++; p < e && depth > 0; p++)
						if (*p == '(')
							depth++;
						else if (*p == ')' && --depth == 0)
							break;
					if (p >= e)
						break;
					continue;
				}
				if (!q && (is_space(*p) || *p == '<'))
					continue;
				if (!q && *p == ':')
					pd_buf_reset(&angle); /* source route "@a,@b:" */
				else
					pd_buf_append_char(&angle, *p);
			}
			if (p >= e)
				break;
			in_word = false;
		} else if (have_angle) {
			continue; /* text after the angle address */
		} else if (is_space(*p)) {
			in_word = false;
		} else {
			if (!in_word) {
				if (phrase.len > 0)
					pd_buf_append_char(&phrase, ' ');
				if (nw < PD_ARRAY_LEN(wstart)) {
					wstart[nw] = phrase.len;
					wlen[nw++] = 0;
				}
				in_word = true;
			}
			size_t before = phrase.len;
			if (*p == '"') {
				for (p++; p < e && *p != '"'; p++) {
					if (*p == '\\' && p + 1 < e)
						p++;
					pd_buf_append_char(&phrase, *p);
				}
				if (p >= e)
					p = e - 1;
			} else {
				pd_buf_append_char(&phrase, *p);
			}
			if (nw > 0 && nw <= PD_ARRAY_LEN(wstart))
				wlen[nw - 1] += phrase.len - before;
		}
	}
	const char *ph = phrase.data ? phrase.data : "", *cm = comment.data ? comment.data : "";
	if (have_angle) {
		const char *name = phrase.len ? ph : cm;
		size_t nlen = phrase.len ? phrase.len : comment.len;
		if (angle.len > 0 || nlen > 0)
			addr_push(c, out, name, nlen, angle.data ? angle.data : "", angle.len);
		goto done;
	}
	for (size_t i = 0; i < nw; i++) {
		const char *at = memchr(ph + wstart[i], '@', wlen[i]);
		if (at != NULL && at > ph + wstart[i] && at < ph + wstart[i] + wlen[i] - 1)
			at_words++;
	}
	if (at_words >= 2 && nw <= PD_ARRAY_LEN(wstart)) {
		/* "a@x b@y": several bare addresses without commas */
		for (size_t i = 0; i < nw; i++)
			if (memchr(ph + wstart[i], '@', wlen[i]) != NULL)
				addr_push(c, out, "", 0, ph + wstart[i], wlen[i]);
	} else if (memchr(ph, '@', phrase.len) != NULL || nw == 1) {
		/* one addr-spec, possibly with spaces around '.' and '@' */
		struct pd_buf a;
		pd_buf_init(&a);
		for (size_t i = 0; i < phrase.len; i++)
			if (ph[i] != ' ')
				pd_buf_append_char(&a, ph[i]);
		addr_push(c, out, cm, comment.len, a.data ? a.data : "", a.len);
		pd_buf_free(&a);
	} else if (nw > 1) {
		addr_push(c, out, ph, phrase.len, "", 0); /* a name without an address */
	}
done:
	pd_buf_free(&phrase);
	pd_buf_free(&comment);
	pd_buf_free(&angle);
}

/* ---------------------------------------------------------- message ids */

/*
 * Message-ID, In-Reply-To and References: ids are taken from the angle
 * brackets and kept without them; comments are skipped; when a header has
 * no angle brackets at all (broken mailers), the bare words with an '@'
 * are used.  Phrases in In-Reply-To ("your message of ...") are ignored.
 */


/*
 * Add one id with whitespace and controls removed (folding can split a long
 * id); empty ids are dropped.  Collection stops at MAX_COLLECTED_IDS.
 */
static void idlist_push(struct pctx *c, struct idlist *l, const char *s, size_t n)
{
	struct pd_buf b;

	if (n == 0 || l->n >= MAX_COLLECTED_IDS)
		return;
	pd_buf_init(&b);
	for (size_t i = 0; i < n; i++) /* ids never contain spaces; folding may add some */
		if ((unsigned char)s[i] > 32)
			pd_buf_append_char(&b, s[i]);
	if (b.len == 0) {
		pd_buf_free(&b);
		return;
	}
	struct pd_buf clean;
	pd_buf_init(&clean);
	mime_raw_append(c, b.data, b.len, &clean);
	pd_buf_free(&b);
	l->v = pd_xgrow(l->v, l->n, sizeof(char *));
	l->v[l->n++] = buf_take(&clean);
}

/* Free the ids still owned by the list (moved ones are NULL). */
void mime_idlist_free(struct idlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The <...> ids of a Message-ID/In-Reply-To/References value; when there is
 * no angle bracket at all, the bare words that look like ids. */
void mime_ids_parse(struct pctx *c, const char *v, size_t len, struct idlist *out)
{
	struct pd_buf u;
	const char *p, *e;
	bool angles = false;

	mime_unfold(v, len, &u);
	p = u.data ? u.data : "";
	e = p + u.len;
	while (p < e) {
		if (*p == '(') {
			int depth = 1;
			for (p++; p < e && depth > 0; p++)
				if (*p == '(')
					depth++;
				else if (*p == ')')
					depth--;
			continue;
		}
		if (*p == '<') {
			const char *gt = memchr(p + 1, '>', (size_t)(e - p - 1));
			const char *end = gt ? gt : e;
			angles = true;
			idlist_push(c, out, p + 1, (size_t)(end - p - 1));
			p = gt ? gt + 1 : e;
			continue;
		}
		p++;
	}
	if (!angles) {
		size_t words = 0;
		const char *w = NULL;
		p = u.data ? u.data : "";
		for (const char *q = p;; q++) {
			if (q < e && !is_space(*q)) {
				if (w == NULL)
					w = q;
				continue;
			}
			if (w != NULL) {
				words++;
				if (memchr(w, '@', (size_t)(q - w)) != NULL)
					idlist_push(c, out, w, (size_t)(q - w));
				w = NULL;
			}
			if (q >= e)
				break;
		}
		if (out->n == 0 && words == 1)
			idlist_push(c, out, p, u.len);
	}
	pd_buf_free(&u);
}

/* Linear membership test; used on at most MAX_REFERENCES entries. */
static bool strv_has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* References ids then In-Reply-To ids, deduplicated, at most MAX_REFERENCES:
 * when there are too many, the root (first) and the most recent are kept. */
static void references_fill(struct pd_msg *m, struct idlist *refs, struct idlist *irt)
{
	size_t n_irt = irt->n < MAX_IRT_IDS ? irt->n : MAX_IRT_IDS;
	size_t room = MAX_REFERENCES - n_irt;

	m->references = pd_xreallocarray(NULL, MAX_REFERENCES, sizeof(char *));
	for (size_t i = 0; i < refs->n; i++) {
		if (refs->n > room && i > 0 && i < refs->n - (room - 1))
			continue;
		if (strv_has(m->references, m->n_references, refs->v[i]))
			continue;
		m->references[m->n_references++] = refs->v[i];
		refs->v[i] = NULL;
	}
	for (size_t i = 0; i < n_irt; i++) {
		if (strv_has(m->references, m->n_references, irt->v[i]))
			continue;
		m->references[m->n_references++] = pd_xstrdup(irt->v[i]);
	}
	if (m->n_references == 0) {
		free(m->references);
		m->references = NULL;
	}
}

/* ----------------------------------------------------------------- dates */

/* Date header -> UTC time and the written offset, with libetpan's mailimf
 * parser (folding, comments, obsolete zones).  False when unusable. */
static bool date_parse(const char *v, size_t len, time_t *t_r, int *tz_r)
{
	struct pd_buf u;
	struct mailimf_date_time *dt = NULL;
	size_t idx = 0;
	bool ok = false;

	mime_unfold(v, len, &u);
	if (u.len > 0 && mailimf_date_time_parse(u.data, u.len, &idx, &dt) == MAILIMF_NO_ERROR) {
		int y = dt->dt_year, zone = dt->dt_zone, zabs = zone < 0 ? -zone : zone;

		if (y < 50)
			y += 2000;
		else if (y < 1000)
			y += 1900;
		if (dt->dt_month >= 1 && dt->dt_month <= 12 && dt->dt_day >= 1 && dt->dt_day <= 31 &&
		    dt->dt_hour >= 0 && dt->dt_hour < 24 && dt->dt_min >= 0 && dt->dt_min < 60 &&
		    dt->dt_sec >= 0 && dt->dt_sec <= 60 && zabs <= 2359 && zabs % 100 < 60 &&
		    y <= 9999) {
			int tz = (zabs / 100 * 60 + zabs % 100) * (zone < 0 ? -1 : 1);
			/* timegm reads the fields as UTC and never looks at the
			 * process time zone; it normalises Feb 30 and :60 as the
			 * arithmetic would */
			struct tm tm = {.tm_year = y - 1900,
					.tm_mon = dt->dt_month - 1,
					.tm_mday = dt->dt_day,
					.tm_hour = dt->dt_hour,
					.tm_min = dt->dt_min,
					.tm_sec = dt->dt_sec};

			/* years up to 9999 always fit a 64-bit time_t: no error case */
			*t_r = timegm(&tm) - (time_t)tz * 60;
			*tz_r = tz;
			ok = true;
		}
		mailimf_date_time_free(dt);
	}
	pd_buf_free(&u);
	return ok;
}

/* ----------------------------------------------------------- top headers */

/* Decoded text of the first field called name, NULL when there is none. */
static char *opt_header(struct pctx *c, const struct hblock *hb, const char *name)
{
	const struct hfield *f = mime_hblock_find(hb, name);

	return f ? header_text(c, f->val, f->vlen) : NULL;
}

/* An address we can reply to: it has an '@'. */
static bool usable(const struct pd_addr *a)
{
	return a->address != NULL && strchr(a->address, '@') != NULL;
}

/* Move the first usable address of l (else the first one left) into a. */
static bool addr_take_first(struct pd_addrlist *l, struct pd_addr *a)
{
	size_t pick = l->n;

	for (size_t i = 0; i < l->n && pick == l->n; i++)
		if (usable(&l->v[i]))
			pick = i;
	for (size_t i = 0; i < l->n && pick == l->n; i++)
		if (l->v[i].address != NULL)
			pick = i;
	if (pick == l->n)
		return false;
	*a = l->v[pick];
	l->v[pick].name = l->v[pick].address = NULL;
	return true;
}

/* Free a temporary address list (entries moved out are NULL). */
static void addrlist_free(struct pd_addrlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].address);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * Fill the header-derived fields of the message from the top header block:
 * addresses, ids, date, subject and the fields the classifier reads.  Runs
 * after the body was chosen so that raw 8-bit header text can be read in
 * the body's charset.  The first occurrence of a field wins (mail with two
 * From: or Subject: fields exists); To and Cc fields are all merged.
 */
void mime_headers_fill(struct pctx *c, const struct hblock *hb)
{
	struct pd_msg *m = c->msg;
	struct idlist refs = {NULL, 0}, irt = {NULL, 0}, mid = {NULL, 0};
	struct pd_addrlist from = {0, NULL}, sender = {0, NULL}, rt = {0, NULL};
	const struct hfield *f;
	bool have_date = false, bad_date = false;

	for (size_t i = 0; i < hb->n; i++) {
		f = &hb->v[i];
		if (name_is(f->name, f->nlen, "From") && from.n == 0)
			addrlist_parse(c, f->val, f->vlen, &from);
		else if (name_is(f->name, f->nlen, "Sender") && sender.n == 0)
			addrlist_parse(c, f->val, f->vlen, &sender);
		else if (name_is(f->name, f->nlen, "Reply-To") && rt.n == 0)
			addrlist_parse(c, f->val, f->vlen, &rt);
		else if (name_is(f->name, f->nlen, "To"))
			addrlist_parse(c, f->val, f->vlen, &m->to);
		else if (name_is(f->name, f->nlen, "Cc"))
			addrlist_parse(c, f->val, f->vlen, &m->cc);
		else if (name_is(f->name, f->nlen, "Delivered-To") ||
			 name_is(f->name, f->nlen, "X-Original-To"))
			addrlist_parse(c, f->val, f->vlen, &m->delivered_to);
		else if (name_is(f->name, f->nlen, "Message-ID") && mid.n == 0)
			mime_ids_parse(c, f->val, f->vlen, &mid);
		else if (name_is(f->name, f->nlen, "References") && refs.n == 0)
			mime_ids_parse(c, f->val, f->vlen, &refs);
		else if (name_is(f->name, f->nlen, "In-Reply-To") && irt.n == 0)
			mime_ids_parse(c, f->val, f->vlen, &irt);
		else if (name_is(f->name, f->nlen, "Date") && !have_date) {
			have_date = date_parse(f->val, f->vlen, &m->date, &m->date_tz_minutes);
			bad_date = !have_date;
		}
	}
	if (bad_date)
		mime_warn(c, "unparseable Date header");
	if (!addr_take_first(&from, &m->from) && !addr_take_first(&sender, &m->from)) {
		m->from.name = pd_xstrdup("");
		m->from.address = pd_xstrdup("");
	} else if (!usable(&m->from)) {
		/* From without an address: Sender may have one */
		struct pd_addr s = {NULL, NULL};
		if (addr_take_first(&sender, &s) && usable(&s)) {
			free(m->from.address);
			m->from.address = s.address;
			s.address = NULL;
			if (*m->from.name == '\0') {
				free(m->from.name);
				m->from.name = s.name;
				s.name = NULL;
			}
		}
		free(s.name);
		free(s.address);
	}
	if (!addr_take_first(&rt, &m->reply_to)) {
		m->reply_to.name = pd_xstrdup("");
		m->reply_to.address = pd_xstrdup("");
	}
	addrlist_free(&from);
	addrlist_free(&sender);
	addrlist_free(&rt);

	if (mid.n > 0) {
		m->message_id = mid.v[0];
		mid.v[0] = NULL;
	}
	if (irt.n > 0)
		m->in_reply_to = pd_xstrdup(irt.v[0]);
	references_fill(m, &refs, &irt);
	mime_idlist_free(&mid);
	mime_idlist_free(&refs);
	mime_idlist_free(&irt);

	if ((f = mime_hblock_find(hb, "Subject")) != NULL)
		m->subject = header_text(c, f->val, f->vlen);
	else
		m->subject = pd_xstrdup("");
	m->auto_submitted = opt_header(c, hb, "Auto-Submitted");
	m->precedence = opt_header(c, hb, "Precedence");
	m->list_id = opt_header(c, hb, "List-Id");
	m->return_path = opt_header(c, hb, "Return-Path");
	m->x_priority = opt_header(c, hb, "X-Priority");
	m->importance = opt_header(c, hb, "Importance");
	m->priority_hdr = opt_header(c, hb, "Priority");
	m->authentication_results = opt_header(c, hb, "Authentication-Results");
}

/* ------------------------------------------------------------ content hash */

/*
 * The dedupe fingerprint.  One mail delivered twice differs only in trace
 * fields, in an mbox From line, in line ends and in trailing empty lines
 * (mbox adds one); all of those are normalised away here, everything else
 * (including DKIM-Signature and the body bytes) is hashed as it is, so two
 * different mails that share a Message-ID still hash differently.
 */

/* Headers that differ per delivery of one mail: mime.h's list, plus the
 * local state mbox/MUAs write and per-recipient scanner verdicts. */
static bool is_trace_header(const char *name, size_t n)
{
	static const char *const exact[] = {
		"received", "return-path", "delivered-to", "x-original-to", "x-delivered-to",
		"envelope-to", "x-envelope-to", "received-spf", "authentication-results",
		"x-received", "status", "x-status", "x-uid", "x-keywords", "x-mozilla-status",
		"x-mozilla-status2", "x-virus-scanned", "x-virus-status",
	};
	static const char *const prefix[] = {"arc-", "x-spam-", "x-rspamd-"};

	for (size_t i = 0; i < PD_ARRAY_LEN(exact); i++)
		if (name_is(name, n, exact[i]))
			return true;
	for (size_t i = 0; i < PD_ARRAY_LEN(prefix); i++) {
		size_t pl = strlen(prefix[i]);
		if (n > pl && strncasecmp(name, prefix[i], pl) == 0)
			return true;
	}
	return false;
}

/* Incremental SHA-256 state for the content hash, heap-allocated (16 KiB). */
struct hasher {
	gnutls_hash_hd_t h;
	size_t n;
	char buf[16384];
};

/*
 * Feed the hash through a staging buffer: the normalisation below writes
 * line by line, and one gnutls_hash call per line would dominate.
 */
static void hput(struct hasher *hs, const void *p, size_t n)
{
	if (hs->n + n > sizeof(hs->buf)) {
		gnutls_hash(hs->h, hs->buf, hs->n);
		hs->n = 0;
		if (n >= sizeof(hs->buf)) {
			gnutls_hash(hs->h, p, n);
			return;
		}
	}
	memcpy(hs->buf + hs->n, p, n);
	hs->n += n;
}

void pd_mime_content_hash(const char *raw, size_t len, unsigned char out[32])
{
	struct hasher *hs;
	const char *p, *e;
	bool in_hdr = true, drop = false;
	size_t blanks = 0;

	if (raw == NULL)
		raw = "", len = 0;
	hs = pd_xmalloc(sizeof(*hs));
	hs->n = 0;
	if (gnutls_hash_init(&hs->h, GNUTLS_DIG_SHA256) < 0) {
		free(hs);
		pd_sha256(raw, len, out);
		return;
	}
	p = skip_from_line(raw, raw + len);
	e = raw + len;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *le = nl ? nl : e, *next = nl ? nl + 1 : e, *colon;
		size_t nlen;

		if (le > p && le[-1] == '\r')
			le--;
		if (in_hdr) {
			if (le == p) {
				in_hdr = false;
				hput(hs, "\r\n", 2);
				p = next;
				continue;
			}
			if (is_wsp(*p) || (colon = hdr_colon(p, le, &nlen)) != NULL) {
				if (!is_wsp(*p))
					drop = is_trace_header(p, nlen);
				if (!drop) {
					hput(hs, p, (size_t)(le - p));
					hput(hs, "\r\n", 2);
				}
				p = next;
				continue;
			}
			in_hdr = false; /* a body without the empty line: hash it as body */
		}
		/* body: line ends normalised, trailing empty lines ignored */
		if (le == p) {
			blanks++;
		} else {
			for (; blanks > 0; blanks--)
				hput(hs, "\r\n", 2);
			hput(hs, p, (size_t)(le - p));
			hput(hs, "\r\n", 2);
		}
		p = next;
	}
	gnutls_hash(hs->h, hs->buf, hs->n);
	gnutls_hash_deinit(hs->h, out);
	free(hs);
}
