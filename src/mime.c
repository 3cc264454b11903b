/*
 * mime.c - raw RFC 5322 bytes -> struct pd_msg.
 *
 * Owns everything between the bytes fetched from IMAP and the decoded
 * message model: the header block scanner, the MIME tree walk (multipart
 * splitting under a depth and part budget), transfer decodings (base64,
 * quoted-printable, uuencode), which charset undeclared 8-bit text is read
 * in (charset.c owns the label table, iconv and uchardet), RFC 2047 encoded
 * words, RFC 2231 parameters, address lists, message ids, the choice of the
 * text body, the attachment list, the dedupe content hash, and what the loop
 * guard decides on: the top header fields as written, the top-level type
 * and report-type, and the fields of a delivery report (RFC 3464).
 *
 * Why the MIME tree is walked here and not with libetpan's mailmime_parse():
 * libetpan 1.9 recurses once per nesting level without a limit and rescans
 * the rest of the input at every level, so 10,000 nested multiparts (a
 * 700 KB mail) take seconds and 30,000 overflow the stack; its parameter
 * parser also cuts unquoted values at the first space ("name=This is a
 * test.txt" becomes "This"), its quoted-printable decoder turns "=XY" into a
 * NUL byte and its address parser glues "a@x b@y" into one address.  We keep
 * libetpan's mailimf date parser, which copes with folding and comments, and
 * do the rest in linear passes with explicit bounds so that no input can
 * crash, hang or truncate the parse.
 *
 * Every string that ends up in a pd_msg is valid UTF-8 without NUL bytes:
 * invalid sequences become U+FFFD, never a failure.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <libetpan/mailimf.h>

#include "charset.h"
#include "codec.h"
#include "html.h"
#include "mime.h"
#include "util.h"

#define DEFAULT_MAX_PARTS 10000
#define DEFAULT_MAX_DEPTH 64
#define HARD_MAX_DEPTH 256    /* recursion bound whatever the caller asks for */
#define MAX_WARNINGS 32
#define MAX_REFERENCES 100
#define MAX_IRT_IDS 5
#define MAX_COLLECTED_IDS 100000
#define MAX_HEADERS 10000     /* fields kept per header block */
#define MAX_ADDRS 1000        /* addresses kept per list */
#define MAX_PARAMS 64         /* parameters kept per Content-* field */
#define MAX_SECTIONS 100      /* RFC 2231 continuations per parameter */

/* ------------------------------------------------------------------ types */

enum cte { CTE_IDENTITY, CTE_BASE64, CTE_QP, CTE_UUENCODE };

/* One MIME entity's Content-* facts and where its body is. */
struct part {
	char *ctype;       /* lower case "type/subtype" */
	char *charset;     /* label as written, NULL when none */
	char *boundary;
	char *report_type; /* lower case, multipart/report only, NULL when none */
	char *filename;    /* decoded, NULL when none */
	char *filename_raw; /* the name as written when it holds undeclared 8-bit bytes */
	char *disposition; /* "attachment", "inline" or NULL */
	char *content_id;
	enum cte cte;
	const char *body;
	size_t body_len;
	bool in_alt;   /* below a multipart/alternative */
	unsigned alt;  /* which multipart/alternative (innermost), 0 when none */
	bool embedded; /* inside an attached message */
};

struct hfield {
	const char *name;
	size_t nlen;
	const char *val; /* raw, still folded */
	size_t vlen;
};

#define HB_INLINE 32

struct hblock {
	struct hfield inl[HB_INLINE];
	struct hfield *v;
	size_t n, cap;
	const char *body; /* first byte after the header block */
};

/* Parse state; lives on pd_mime_parse's stack. */
struct pctx {
	struct pd_msg *msg; /* NULL: warnings are dropped */
	struct pd_charset_cache cv;
	const char *defcs; /* label the message declares for its first text part, NULL: none */
	char defcs_buf[48];
	struct pd_buf guess_text; /* the undeclared 8-bit header text, for one guess */
	const char *guess;        /* uchardet's label for it, NULL: none */
	bool guess_done;
	size_t max_parts, max_depth, n_parts;
	size_t scan_budget; /* bytes boundary searches may still read */
	bool stop, depth_warned;
	unsigned cur_alt, n_alt; /* the multipart/alternative being walked, how many so far */
	struct part *leaf; /* leaf entities in document order */
	size_t n_leaf, cap_leaf;
	char **owned; /* decoded copies of encoded message/rfc822 bodies */
	size_t n_owned;
};

static void warn(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ small helpers */

/* RFC 5322 WSP: the blanks that may start a folded line. */
static bool is_wsp(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* WSP plus line ends, for values that were unfolded or never folded. */
static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* True when [p, e) is empty or only whitespace (the gap between two encoded words). */
static bool all_space(const char *p, const char *e)
{
	for (; p < e; p++)
		if (!is_space(*p))
			return false;
	return true;
}

/* Case-insensitive match of a length-delimited field name against a C string. */
static bool name_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && strncasecmp(name, want, nlen) == 0;
}

/* ASCII lower case in place (MIME tokens are case-insensitive, we store them lower). */
static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Steal the buffer's string, always non-NULL; the buffer is left empty. */
static char *buf_take(struct pd_buf *b)
{
	return pd_buf_steal(b, NULL);
}

/* Make *s valid UTF-8 in place (last line of defence before a string is
 * handed out). */
static void fix_utf8(char **s)
{
	struct pd_buf b;
	size_t n;

	if (*s == NULL)
		return;
	n = strlen(*s);
	if (pd_utf8_valid(*s, n))
		return;
	pd_buf_init(&b);
	pd_utf8_append_clean(&b, *s, n);
	free(*s);
	*s = buf_take(&b);
}

/* ---------------------------------------------------------------- charsets */

/*
 * Declared charsets go through the charset codec (charset.c: the label
 * table, iconv, uchardet).  Undeclared 8-bit text (raw bytes in Subject,
 * From names and file names; text bodies without a charset) is read, in
 * order, in:
 *   1. the charset the message declares for its first text part, when the
 *      bytes are well-formed in it (for a single-byte charset only when the
 *      bytes are not valid UTF-8, which such text practically never is);
 *   2. UTF-8 when the bytes are valid UTF-8;
 *   3. uchardet's guess (restricted to charsets seen in mail and checked to
 *      decode the bytes), over a body's own text, or for header text over
 *      all undeclared 8-bit header text of the message at once (one short
 *      subject says too little);
 *   4. the declared charset anyway, else windows-1252 (U+FFFD for what does
 *      not fit).
 * No path fails and no path emits invalid UTF-8 or a NUL byte.
 */

static bool conv_append(struct pd_charset_cache *cv, const char *label, const char *in,
			size_t len, struct pd_buf *out)
{
	return pd_charset_append(cv, label, in, len, out);
}

/* True for the multibyte charsets whose text may happen to be valid UTF-8
 * too (then the declaration wins); single-byte text never is. */
static bool multibyte_name(const char *name)
{
	static const char *const mb[] = {"GB18030", "CP932", "CP949", "BIG5-HKSCS",
					 "EUC-JP-MS", "ISO-2022-JP-2", "UTF-7"};

	for (size_t i = 0; i < PD_ARRAY_LEN(mb); i++)
		if (strcmp(name, mb[i]) == 0)
			return true;
	return false;
}

/* The label to read undeclared 8-bit text s with (steps 1-3 above), NULL
 * when none of them applies.  whole: s is a whole text body (guess on it
 * alone); else header text (guess on the message's header text). */
static const char *undeclared_label(struct pctx *c, const char *s, size_t len, bool whole)
{
	bool utf8 = pd_utf8_valid(s, len);
	const char *g;
	char name[48];

	if (c->defcs != NULL) {
		enum pd_cs_kind k = pd_charset_canon(c->defcs, name, sizeof(name));
		if (k == PD_CS_ICONV && multibyte_name(name) &&
		    pd_charset_fits(&c->cv, c->defcs, s, len))
			return c->defcs;
		if (k == PD_CS_ICONV && !utf8 && pd_charset_fits(&c->cv, c->defcs, s, len))
			return c->defcs;
	}
	if (utf8)
		return "utf-8";
	if (!whole) {
		if (!c->guess_done) {
			c->guess_done = true;
			c->guess = c->guess_text.len > 0
					   ? pd_charset_detect(&c->cv, c->guess_text.data,
							       c->guess_text.len)
					   : NULL;
		}
		if (c->guess != NULL && pd_charset_fits(&c->cv, c->guess, s, len))
			return c->guess;
	}
	if ((g = pd_charset_detect(&c->cv, s, len)) != NULL)
		return g;
	return NULL;
}

/* Append 8-bit text of undeclared charset, by the rules above. */
static void undeclared_append(struct pctx *c, const char *s, size_t len, bool whole,
			      struct pd_buf *out)
{
	const char *label;
	size_t i;

	for (i = 0; i < len && (unsigned char)s[i] < 0x80; i++)
		;
	if (i == len) {
		pd_utf8_append_clean(out, s, len);
		return;
	}
	label = undeclared_label(c, s, len, whole);
	if (label != NULL && conv_append(&c->cv, label, s, len, out))
		return;
	if (c->defcs != NULL && conv_append(&c->cv, c->defcs, s, len, out))
		return;
	if (!conv_append(&c->cv, "windows-1252", s, len, out))
		pd_utf8_append_clean(out, s, len);
}

/* Raw 8-bit header text (not an encoded word). */
static void raw_append(struct pctx *c, const char *s, size_t len, struct pd_buf *out)
{
	undeclared_append(c, s, len, false, out);
}

/* ---------------------------------------------------------------- warnings */

static void warn(struct pctx *c, const char *fmt, ...)
{
	struct pd_msg *m = c->msg;
	struct pd_buf b;
	char tmp[256];
	va_list ap;

	if (m == NULL || m->n_warnings > MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (m->n_warnings == MAX_WARNINGS)
		snprintf(tmp, sizeof(tmp), "more warnings suppressed");
	for (size_t i = 0; i < m->n_warnings; i++)
		if (strcmp(m->warnings[i], tmp) == 0)
			return;
	pd_buf_init(&b);
	pd_utf8_append_clean(&b, tmp, strlen(tmp));
	m->warnings = pd_xgrow(m->warnings, m->n_warnings, sizeof(char *));
	m->warnings[m->n_warnings++] = buf_take(&b);
}

/* ---------------------------------------------------------- header block */

/*
 * Header fields are kept as (name, raw value) slices of the input: nothing
 * is copied until a field is actually used, and folded values stay folded
 * until unfold() runs.  The block ends at the first empty line; a line that
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
static void hblock_parse_ex(struct hblock *hb, const char *s, const char *e, bool skip_from,
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

static void hblock_parse(struct hblock *hb, const char *s, const char *e, bool skip_from)
{
	hblock_parse_ex(hb, s, e, skip_from, false);
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
static void hblock_free(struct hblock *hb)
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
static const struct hfield *hblock_find(const struct hblock *hb, const char *name)
{
	for (size_t i = 0; i < hb->n; i++)
		if (name_is(hb->v[i].name, hb->v[i].nlen, name))
			return &hb->v[i];
	return NULL;
}

/* Copy of a field value with the folding CR/LF removed (RFC 5322 2.2.3). */
static void unfold(const char *v, size_t len, struct pd_buf *out)
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
static char *finish_text(struct pd_buf *b)
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
	if (st->bytes.len > 0 && !conv_append(&c->cv, st->cs, st->bytes.data, st->bytes.len, out)) {
		warn(c, "unknown charset \"%s\" in encoded word", st->cs);
		raw_append(c, st->bytes.data, st->bytes.len, out);
	}
	pd_buf_reset(&st->bytes);
	st->active = false;
	st->bits = st->nbits = 0;
}

/* Decode RFC 2047 words anywhere in s (also glued to text or inside quotes);
 * text between words is raw 8-bit text (UTF-8 or the default charset). */
static void decode_words(struct pctx *c, const char *s, size_t len, struct pd_buf *out)
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
			raw_append(c, lit, (size_t)(q - lit), out);
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
	raw_append(c, lit, (size_t)(e - lit), out);
	pd_buf_free(&st.bytes);
}

/* Decoded one-line text of a raw (folded) header value.  Never NULL. */
static char *header_text(struct pctx *c, const char *v, size_t len)
{
	struct pd_buf u, out;

	unfold(v, len, &u);
	pd_buf_init(&out);
	decode_words(c, u.data ? u.data : "", u.len, &out);
	pd_buf_free(&u);
	return finish_text(&out);
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

/* One Content-* parameter: lower-case name, unquoted value. */
struct param {
	char *name; /* lower case */
	char *value;
	size_t vlen;
};

/* A parsed Content-Type / Content-Disposition value. */
struct ctparams {
	char *main; /* the value before the first ';', lower case, no spaces/comments */
	struct param v[MAX_PARAMS];
	size_t n;
};

/* Parse "token; a=b; c=\"d\"" tolerantly: unquoted values may contain
 * spaces, an unterminated quote runs to the end, backslash escapes only
 * a quote or a backslash (so that "C:\dir\file" survives). */
static void params_parse(const char *v, size_t len, struct ctparams *ps)
{
	struct pd_buf u, m;
	const char *p, *e;
	int depth = 0;

	memset(ps, 0, sizeof(*ps));
	unfold(v, len, &u);
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

/* Release what params_parse allocated; ps can be reused afterwards. */
static void params_free(struct ctparams *ps)
{
	free(ps->main);
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->v[i].name);
		free(ps->v[i].value);
	}
	ps->n = 0;
}

/* Parameter by exact (lower-case) name; "name*" and "name*0*" are distinct. */
static const struct param *param_find(const struct ctparams *ps, const char *name)
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
static bool has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

static char *param_text(struct pctx *c, const struct ctparams *ps, const char *name,
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
	if ((pr = param_find(ps, key)) != NULL) {
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
			if ((pr = param_find(ps, key)) == NULL) {
				enc = false;
				snprintf(key, sizeof(key), "%s*%u", name, i);
				if ((pr = param_find(ps, key)) == NULL)
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
		if ((pr = param_find(ps, name)) != NULL) {
			decode_words(c, pr->value, pr->vlen, &out);
			/* undeclared 8-bit bytes: read again once the body's charset is known */
			if (raw8_r != NULL && has_8bit(pr->value, pr->vlen)) {
				free(*raw8_r);
				*raw8_r = pd_xstrndup(pr->value, pr->vlen);
			}
		}
	} else if (cs[0] != '\0') {
		if (!conv_append(&c->cv, cs, bytes.data ? bytes.data : "", bytes.len, &out)) {
			warn(c, "unknown charset \"%s\" in parameter %s", cs, name);
			raw_append(c, bytes.data ? bytes.data : "", bytes.len, &out);
		}
	} else {
		decode_words(c, bytes.data ? bytes.data : "", bytes.len, &out);
	}
	pd_buf_free(&bytes);
	char *s = finish_text(&out);
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
static char *param_raw(const struct ctparams *ps, const char *name)
{
	const struct param *pr = param_find(ps, name);

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

	unfold(v, len, &u);
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
	decode_words(c, name, nlen, &nb);
	raw_append(c, addr, alen, &ab);
	out->v = pd_xgrow(out->v, out->n, sizeof(*out->v));
	a = &out->v[out->n++];
	a->name = finish_text(&nb);
	a->address = finish_text(&ab);
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

/* A growable list of owned id strings. */
struct idlist {
	char **v;
	size_t n;
};

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
	raw_append(c, b.data, b.len, &clean);
	pd_buf_free(&b);
	l->v = pd_xgrow(l->v, l->n, sizeof(char *));
	l->v[l->n++] = buf_take(&clean);
}

/* Free the ids still owned by the list (moved ones are NULL). */
static void idlist_free(struct idlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The <...> ids of a Message-ID/In-Reply-To/References value; when there is
 * no angle bracket at all, the bare words that look like ids. */
static void ids_parse(struct pctx *c, const char *v, size_t len, struct idlist *out)
{
	struct pd_buf u;
	const char *p, *e;
	bool angles = false;

	unfold(v, len, &u);
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

	unfold(v, len, &u);
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

/* --------------------------------------------------- transfer encodings */

/*
 * Decoders are tolerant and linear: they never fail, they skip what they
 * cannot read, and they report damage as a warning rather than an error.
 */

/*
 * Content-Transfer-Encoding token to enum cte.  Real mail has "7-bit",
 * "8bits", "plain", "text/html" and worse here; everything that is not
 * base64, quoted-printable or uuencode is taken as identity.
 */
static enum cte cte_parse(const char *v, size_t len)
{
	char tok[32];
	size_t n = 0;

	/* keep letters and digits only: "Quoted-printable;", "quoted printable" */
	for (size_t i = 0; i < len && n + 1 < sizeof(tok); i++)
		if (isalnum((unsigned char)v[i]))
			tok[n++] = (char)tolower((unsigned char)v[i]);
	tok[n] = '\0';
	if (strcmp(tok, "base64") == 0)
		return CTE_BASE64;
	if (strncmp(tok, "quotedprintable", 15) == 0)
		return CTE_QP;
	if (strcmp(tok, "xuuencode") == 0 || strcmp(tok, "uuencode") == 0 ||
	    strcmp(tok, "xuue") == 0)
		return CTE_UUENCODE;
	return CTE_IDENTITY; /* 7bit, 8bit, binary and everything unknown */
}

/* uuencode: the lines between "begin NNN name" and "end"; when there is no
 * begin line the body is kept as it is. */
static void uu_decode(const char *s, size_t n, struct pd_buf *out)
{
	const char *p = s, *e = s + n;
	bool begun = false;

	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *le = nl ? nl : e, *next = nl ? nl + 1 : e;

		if (le > p && le[-1] == '\r')
			le--;
		if (!begun) {
			begun = le - p >= 6 && memcmp(p, "begin ", 6) == 0;
		} else if (le - p >= 3 && memcmp(p, "end", 3) == 0) {
			return;
		} else if (le > p) {
			size_t want = (size_t)((*p - 32) & 63), got = 0;
			const char *q = p + 1;

			while (got < want && le - q >= 2) {
				unsigned v[4] = {0, 0, 0, 0};
				for (int k = 0; k < 4; k++)
					v[k] = q + k < le ? (unsigned)((q[k] - 32) & 63) : 0;
				unsigned char b[3] = {(unsigned char)(v[0] << 2 | v[1] >> 4),
						      (unsigned char)(v[1] << 4 | v[2] >> 2),
						      (unsigned char)(v[2] << 6 | v[3])};
				for (int k = 0; k < 3 && got < want; k++, got++)
					pd_buf_append_char(out, (char)b[k]);
				q += 4;
			}
		}
		p = next;
	}
	if (!begun)
		pd_buf_append(out, s, n);
}

/*
 * Give an empty buffer room for n bytes at once.  The decoders below know an
 * upper bound of their output (base64: 3/4 of the input, the others at most
 * the input), so a 50 MB attachment is decoded into one allocation of its
 * final size instead of doubling through 64 MB with a copy at every step.
 */
static void buf_presize(struct pd_buf *b, size_t n)
{
	if (n >= SIZE_MAX - 1 || b->cap > n)
		return;
	b->data = pd_xrealloc(b->data, n + 1);
	b->cap = n + 1;
	b->data[b->len] = '\0';
}

/* Undo the transfer encoding of body into out (initialised here). */
static void bytes_decode(struct pctx *c, enum cte cte, const char *body, size_t len,
			 const char *what, struct pd_buf *out)
{
	pd_buf_init(out);
	/* small parts grow as usual; a large one gets its bound up front */
	if (len >= 4096)
		buf_presize(out, cte == CTE_BASE64 ? len / 4 * 3 + 3 : len);
	switch (cte) {
	case CTE_BASE64:
		if (!pd_b64_decode(body, len, out))
			warn(c, "damaged base64 in a %s part", what);
		break;
	case CTE_QP:
		pd_qp_decode(body, len, out);
		break;
	case CTE_UUENCODE:
		uu_decode(body, len, out);
		break;
	case CTE_IDENTITY:
		pd_buf_append(out, body, len);
		break;
	}
}

/* Transfer-decoded bytes of a leaf part. */
static void body_decode(struct pctx *c, const struct part *pt, struct pd_buf *out)
{
	bytes_decode(c, pt->cte, pt->body, pt->body_len, pt->ctype, out);
}

/* ------------------------------------------- raw fields, delivery reports */

/*
 * What the loop guard and the bounce reader decide on, recorded as written
 * so that they need no parser of their own: the top header fields, the
 * top-level type, and the fields of delivery reports (RFC 3464).
 */

/* A field value as pd_msg keeps it raw (msg.h, struct pd_field): unfolded,
 * cut at the first NUL, trimmed, at most PD_MSG_FIELD_MAX bytes. */
static char *raw_value(const char *v, size_t len)
{
	struct pd_buf b;
	char *s, *t;

	unfold(v, len, &b);
	s = buf_take(&b);
	t = pd_str_trim(s);
	if (strlen(t) > PD_MSG_FIELD_MAX)
		t[PD_MSG_FIELD_MAX] = '\0';
	pd_str_trim(t);
	return t;
}

/* Every field of the top header block into m->fields. */
static void fields_record(struct pd_msg *m, const struct hblock *hb)
{
	if (hb->n == 0)
		return;
	m->fields = pd_xreallocarray(NULL, hb->n, sizeof(*m->fields));
	for (size_t i = 0; i < hb->n; i++) {
		struct pd_field *f = &m->fields[m->n_fields++];
		f->name = pd_xstrndup(hb->v[i].name, hb->v[i].nlen);
		f->value = raw_value(hb->v[i].val, hb->v[i].vlen);
		fix_utf8(&f->name);
		fix_utf8(&f->value);
	}
}

/* report-type of a delivery report: delivery-status or (RFC 6533)
 * global-delivery-status. */
static bool dsn_report_type(const char *rt)
{
	return rt != NULL &&
	       (strcmp(rt, "delivery-status") == 0 || strcmp(rt, "global-delivery-status") == 0);
}

/* The raw value of field f when it is valid UTF-8, else NULL. */
static char *dsn_value(const struct hfield *f)
{
	char *v = raw_value(f->val, f->vlen);

	if (!pd_utf8_valid(v, strlen(v))) {
		free(v);
		return NULL;
	}
	return v;
}

/* Keep the first value of a field: *dst stays when already set. */
static void dsn_set_once(char **dst, const struct hfield *f)
{
	if (*dst == NULL)
		*dst = dsn_value(f);
}

/* The groups of a message/delivery-status body (decoded): separated by
 * empty lines, lines that are not fields skipped. */
static void dsn_status_read(struct pd_dsn *d, const char *p, const char *e)
{
	while (p < e) {
		struct hblock hb;
		struct pd_dsn_group g = {NULL, NULL, NULL, NULL};

		hblock_parse_ex(&hb, p, e, false, true);
		for (size_t i = 0; i < hb.n; i++) {
			const struct hfield *f = &hb.v[i];
			if (name_is(f->name, f->nlen, "Original-Message-ID") ||
			    name_is(f->name, f->nlen, "X-Original-Message-ID"))
				dsn_set_once(&d->original_message_id, f);
			else if (name_is(f->name, f->nlen, "Final-Recipient"))
				dsn_set_once(&g.final_recipient, f);
			else if (name_is(f->name, f->nlen, "Original-Recipient"))
				dsn_set_once(&g.original_recipient, f);
			else if (name_is(f->name, f->nlen, "Action"))
				dsn_set_once(&g.action, f);
			else if (name_is(f->name, f->nlen, "Status"))
				dsn_set_once(&g.status, f);
		}
		p = hb.body;
		hblock_free(&hb);
		if (g.final_recipient == NULL && g.original_recipient == NULL &&
		    g.action == NULL && g.status == NULL)
			continue;
		if (d->n_groups >= PD_DSN_MAX_GROUPS) {
			free(g.final_recipient);
			free(g.original_recipient);
			free(g.action);
			free(g.status);
			break;
		}
		d->groups = pd_xgrow(d->groups, d->n_groups, sizeof(*d->groups));
		d->groups[d->n_groups++] = g;
	}
}

/* A part inside a delivery report: the status fields, or the Message-ID of
 * the first returned message. */
static void report_part(struct pctx *c, const struct part *pt)
{
	struct pd_dsn *d;
	struct pd_buf body;
	bool status, returned;

	if (c->msg == NULL)
		return;
	d = &c->msg->dsn;
	status = strcmp(pt->ctype, "message/delivery-status") == 0 ||
		 strcmp(pt->ctype, "message/global-delivery-status") == 0;
	returned = d->returned_message_id == NULL &&
		   (strcmp(pt->ctype, "message/rfc822") == 0 ||
		    strcmp(pt->ctype, "text/rfc822-headers") == 0 ||
		    strcmp(pt->ctype, "message/global") == 0 ||
		    strcmp(pt->ctype, "message/global-headers") == 0);
	if (!status && !returned)
		return;
	bytes_decode(c, pt->cte, pt->body, pt->body_len, pt->ctype, &body);
	if (status) {
		dsn_status_read(d, body.data, body.data + body.len);
	} else {
		struct hblock hb;
		const struct hfield *f;

		hblock_parse_ex(&hb, body.data, body.data + body.len, false, true);
		if ((f = hblock_find(&hb, "Message-ID")) != NULL)
			d->returned_message_id = dsn_value(f);
		hblock_free(&hb);
	}
	pd_buf_free(&body);
}

/* ------------------------------------------------------------- MIME walk */

/*
 * The tree walk.  Bounds, so that no mail can make it crash or hang:
 *   - max_parts entities (default 10,000), then the rest is skipped;
 *   - max_depth levels (default 64, never more than HARD_MAX_DEPTH), deeper
 *     multiparts and attached messages are not descended;
 *   - a scan budget of 16 bytes per input byte (+4 MiB) for the boundary
 *     searches, since each level rescans its own part;
 * each with one warning in the message.  Leaves are collected in document
 * order and only decoded afterwards, when the body has been chosen.
 */

#define W_DIGEST 1u   /* parent is multipart/digest: parts default to message/rfc822 */
#define W_ALT 2u      /* below multipart/alternative */
#define W_EMBED 4u    /* inside an attached message */
#define W_SKIPFROM 8u /* a message top: skip an mbox "From " line */
#define W_REPORT 16u  /* inside a delivery report (never inside an attached message) */

static void walk(struct pctx *c, const char *s, const char *e, size_t depth, unsigned flags);

/* Release a part's strings; the body pointer is borrowed from the raw mail. */
static void part_free(struct part *pt)
{
	free(pt->ctype);
	free(pt->charset);
	free(pt->boundary);
	free(pt->report_type);
	free(pt->filename);
	free(pt->filename_raw);
	free(pt->disposition);
	free(pt->content_id);
}

/* The media type of a parsed Content-Type, newly allocated; NULL when it
 * is not a usable "type/subtype" ("text" alone is read as text/plain). */
static char *ctype_of(const struct ctparams *ps)
{
	const char *slash = strchr(ps->main, '/');
	bool ok = slash != NULL && slash != ps->main && slash[1] != '\0' &&
		  strchr(slash + 1, '/') == NULL;

	for (const char *q = ps->main; ok && *q; q++)
		if ((unsigned char)*q <= 32 || (unsigned char)*q >= 127 ||
		    strchr("()<>@,;:\\\"[]?=", *q) != NULL)
			ok = false;
	if (ok)
		return pd_xstrdup(ps->main);
	if (strcmp(ps->main, "text") == 0)
		return pd_xstrdup("text/plain");
	return NULL;
}

/* Content-* fields of one entity into pt. */
static void part_from_headers(struct pctx *c, const struct hblock *hb, unsigned flags,
			      struct part *pt)
{
	const struct hfield *ct = hblock_find(hb, "Content-Type");
	const struct hfield *cd = hblock_find(hb, "Content-Disposition");
	const struct hfield *te = hblock_find(hb, "Content-Transfer-Encoding");
	const struct hfield *id = hblock_find(hb, "Content-ID");
	struct ctparams ps;

	memset(pt, 0, sizeof(*pt));
	pt->in_alt = (flags & W_ALT) != 0;
	pt->alt = pt->in_alt ? c->cur_alt : 0;
	pt->embedded = (flags & W_EMBED) != 0;
	if (ct != NULL) {
		params_parse(ct->val, ct->vlen, &ps);
		pt->ctype = ctype_of(&ps);
		pt->charset = param_raw(&ps, "charset");
		pt->boundary = param_raw(&ps, "boundary");
		if (pt->ctype != NULL && strcmp(pt->ctype, "multipart/report") == 0 &&
		    (pt->report_type = param_raw(&ps, "report-type")) != NULL)
			lower(pt->report_type);
		pt->filename = param_text(c, &ps, "name", &pt->filename_raw);
		params_free(&ps);
	}
	if (pt->ctype == NULL)
		pt->ctype = pd_xstrdup((flags & W_DIGEST) ? "message/rfc822" : "text/plain");
	if (cd != NULL) {
		params_parse(cd->val, cd->vlen, &ps);
		char *raw8 = NULL, *fn = param_text(c, &ps, "filename", &raw8);
		if (fn != NULL) {
			free(pt->filename);
			pt->filename = fn;
			free(pt->filename_raw);
			pt->filename_raw = raw8;
		}
		if (strncmp(ps.main, "attachment", 10) == 0)
			pt->disposition = pd_xstrdup("attachment");
		else if (strncmp(ps.main, "inline", 6) == 0)
			pt->disposition = pd_xstrdup("inline");
		params_free(&ps);
	}
	if (te != NULL)
		pt->cte = cte_parse(te->val, te->vlen);
	if (id != NULL) {
		struct idlist ids = {NULL, 0};
		ids_parse(c, id->val, id->vlen, &ids);
		if (ids.n > 0) {
			pt->content_id = ids.v[0];
			ids.v[0] = NULL;
		}
		idlist_free(&ids);
	}
}

/*
 * Append a leaf entity in document order; the leaf array takes pt's strings
 * and pt is cleared so the caller's part_free is harmless.
 */
static void leaf_add(struct pctx *c, struct part *pt)
{
	if (c->n_leaf == c->cap_leaf) {
		c->cap_leaf = c->cap_leaf ? c->cap_leaf * 2 : 16;
		c->leaf = pd_xreallocarray(c->leaf, c->cap_leaf, sizeof(*c->leaf));
	}
	c->leaf[c->n_leaf++] = *pt; /* takes the strings */
	memset(pt, 0, sizeof(*pt));
}

/* True (warned once per mail) when an entity at depth may not be descended. */
static bool too_deep(struct pctx *c, size_t depth)
{
	if (depth < c->max_depth)
		return false;
	if (!c->depth_warned)
		warn(c, "MIME nesting deeper than %zu levels: inner parts not parsed", c->max_depth);
	c->depth_warned = true;
	return true;
}

/* The delimiter line "--boundary" or "--boundary--" at a line start at or
 * after p; sets *after to the next line and *close for the final one.
 * Scanned bytes are charged to the parse's budget. */
static const char *find_delim(struct pctx *c, const char *p, const char *e, const char *b,
			      size_t bl, const char **after, bool *close)
{
	const char *start = p, *found = NULL;

	for (;;) {
		if (e - p >= (ptrdiff_t)(bl + 2) && p[0] == '-' && p[1] == '-' &&
		    memcmp(p + 2, b, bl) == 0) {
			const char *q = p + 2 + bl;
			bool cl = e - q >= 2 && q[0] == '-' && q[1] == '-';

			if (cl)
				q += 2;
			while (q < e && is_wsp(*q))
				q++;
			if (q == e || *q == '\r' || *q == '\n') {
				if (q < e && *q == '\r')
					q++;
				if (q < e && *q == '\n')
					q++;
				*after = q;
				*close = cl;
				found = p;
				break;
			}
		}
		/* next line start; memchr, not memmem: ASan's memmem checks the
		 * whole rest of the buffer on every call */
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	size_t scanned = (size_t)((found ? found : e) - start);
	c->scan_budget = scanned < c->scan_budget ? c->scan_budget - scanned : 0;
	return found;
}

/*
 * Split a multipart body at its delimiter lines and walk every part.
 * The preamble and epilogue are ignored.  A missing first delimiter turns
 * the whole body into a text/plain leaf (shown to the agent rather than
 * lost); a missing close delimiter ends the last part at the end of the
 * body.  Each level only looks for its own boundary inside its own extent,
 * so an inner part can never swallow an outer delimiter.
 */
static void multipart_walk(struct pctx *c, struct part *pt, size_t depth, unsigned flags)
{
	const char *s = pt->body, *e = s + pt->body_len, *b = pt->boundary, *next, *line;
	size_t bl = strlen(b);
	bool close = false;
	unsigned cflags = flags & (W_ALT | W_EMBED | W_REPORT);

	if (strcmp(pt->ctype, "multipart/alternative") == 0)
		cflags |= W_ALT;
	if (strcmp(pt->ctype, "multipart/digest") == 0)
		cflags |= W_DIGEST;
	if ((line = find_delim(c, s, e, b, bl, &next, &close)) == NULL) {
		/* no part at all: show the body as text rather than lose it */
		warn(c, "boundary of a %s not found", pt->ctype);
		free(pt->ctype);
		pt->ctype = pd_xstrdup("text/plain");
		leaf_add(c, pt);
		return;
	}
	unsigned outer_alt = c->cur_alt;
	if (cflags & W_ALT && strcmp(pt->ctype, "multipart/alternative") == 0)
		c->cur_alt = ++c->n_alt;
	while (!close && !c->stop) {
		const char *ps = next, *pe, *nl = find_delim(c, ps, e, b, bl, &next, &close);

		if (nl == NULL) {
			warn(c, "closing boundary of a %s missing", pt->ctype);
			pe = e;
			close = true;
		} else {
			/* the line end before the delimiter belongs to the delimiter */
			pe = nl;
			if (pe > ps && pe[-1] == '\n')
				pe--;
			if (pe > ps && pe[-1] == '\r')
				pe--;
		}
		walk(c, ps, pe, depth + 1, cflags);
	}
	c->cur_alt = outer_alt;
}

/*
 * Classify one entity whose header block is parsed: multiparts are split,
 * message/rfc822 (and message/global) is kept whole as an attachment and
 * then descended for its own attachments, everything else is a leaf.
 * A multipart without a boundary parameter is shown as text.
 */
static void entity_walk(struct pctx *c, const struct hblock *hb, const char *e, size_t depth,
			unsigned flags)
{
	struct part pt;

	part_from_headers(c, hb, flags, &pt);
	pt.body = hb->body;
	pt.body_len = (size_t)(e - hb->body);
	if (!(flags & W_EMBED) && dsn_report_type(pt.report_type)) {
		if (c->msg != NULL)
			c->msg->dsn.found = true;
		flags |= W_REPORT;
	}
	if (flags & W_REPORT)
		report_part(c, &pt);
	if (strncmp(pt.ctype, "multipart/", 10) == 0) {
		if (pt.boundary == NULL) {
			warn(c, "%s without boundary", pt.ctype);
			free(pt.ctype);
			pt.ctype = pd_xstrdup("text/plain");
			leaf_add(c, &pt);
		} else if (!too_deep(c, depth)) {
			multipart_walk(c, &pt, depth, flags);
		}
		part_free(&pt);
		return;
	}
	bool message = strcmp(pt.ctype, "message/rfc822") == 0 ||
		       strcmp(pt.ctype, "message/global") == 0;
	enum cte cte = pt.cte;
	const char *body = pt.body;
	size_t blen = pt.body_len;

	/* kept whole as an attachment; a message inside an attached message is
	 * not copied again (its bytes are in the outer one: nesting would
	 * multiply memory by the depth), only its own attachments are listed */
	if (message && (flags & W_EMBED))
		part_free(&pt);
	else
		leaf_add(c, &pt);
	if (!message || too_deep(c, depth))
		return;
	/* ... and its own attachments listed too (as the mail gem does) */
	if (cte != CTE_IDENTITY) {
		struct pd_buf d;
		bytes_decode(c, cte, body, blen, "message/rfc822", &d);
		c->owned = pd_xgrow(c->owned, c->n_owned, sizeof(char *));
		c->owned[c->n_owned++] = pd_buf_steal(&d, &blen);
		body = c->owned[c->n_owned - 1];
	}
	walk(c, body, body + blen, depth + 1, W_EMBED | W_SKIPFROM);
}

/*
 * Walk the entity [s, e): count it against max_parts and the scan budget,
 * parse its header block, classify it.  Recursion depth is bounded by
 * max_depth (itself at most HARD_MAX_DEPTH).
 */
static void walk(struct pctx *c, const char *s, const char *e, size_t depth, unsigned flags)
{
	struct hblock hb;

	if (c->stop)
		return;
	if (c->scan_budget == 0) {
		/* each nesting level rescans its part: bound the total */
		warn(c, "MIME structure too costly: the rest not parsed");
		c->stop = true;
		return;
	}
	if (++c->n_parts > c->max_parts) {
		warn(c, "more than %zu MIME parts: the rest not parsed", c->max_parts);
		c->stop = true;
		return;
	}
	hblock_parse(&hb, s, e, (flags & W_SKIPFROM) != 0);
	entity_walk(c, &hb, e, depth, flags & ~W_SKIPFROM);
	hblock_free(&hb);
}

/* --------------------------------------------------- body and attachments */

/*
 * Which leaf is the text body and which leaves are attachments.  The body
 * never comes from inside an attached message: a forwarded mail is an
 * attachment, not what the customer wrote.
 */

/*
 * A leaf is an attachment when it says so, has a file name, or is not
 * text/plain or text/html (images, PDFs, TNEF, delivery reports, calendar
 * files...).  Text parts without a name are body candidates instead.
 */
static bool is_attachment(const struct part *pt)
{
	if (pt->disposition != NULL && strcmp(pt->disposition, "attachment") == 0)
		return true;
	if (pt->filename != NULL)
		return true;
	return strcmp(pt->ctype, "text/plain") != 0 && strcmp(pt->ctype, "text/html") != 0;
}

/* charset=... from a <meta> near the top of an HTML part without one. */
static const char *html_meta_charset(const char *s, size_t n, char *out, size_t outsz)
{
	size_t lim = n < 4096 ? n : 4096;

	for (size_t i = 0; i + 8 < lim; i++) {
		if (strncasecmp(s + i, "charset=", 8) != 0)
			continue;
		size_t j = i + 8, k = 0;
		while (j < lim && (s[j] == '"' || s[j] == '\''))
			j++;
		while (j < lim && k + 1 < outsz &&
		       (isalnum((unsigned char)s[j]) || strchr("-_.:", s[j]) != NULL))
			out[k++] = s[j++];
		out[k] = '\0';
		return k > 0 ? out : NULL;
	}
	return NULL;
}

/* The file name of the leaf whose Content-ID is cid, for "[image: NAME]"
 * in the text of an HTML body (its type when it has no name). */
static char *leaf_name_by_cid(void *ctx, const char *cid)
{
	struct pctx *c = ctx;

	for (size_t i = 0; i < c->n_leaf; i++) {
		const struct part *pt = &c->leaf[i];
		if (pt->content_id != NULL && strcmp(pt->content_id, cid) == 0 && !pt->embedded)
			return pd_xstrdup(pt->filename ? pt->filename : pt->ctype);
	}
	return NULL;
}

/* Decoded UTF-8 text of a text/plain or text/html leaf, LF line ends; with
 * html_r (text/html only), the decoded HTML itself too. */
static char *text_of_html(struct pctx *c, const struct part *pt, bool html, char **html_r)
{
	struct pd_buf raw, u, out;
	const char *cs = pt->charset;
	char sniff[48];

	body_decode(c, pt, &raw);
	if (html && cs == NULL)
		cs = html_meta_charset(raw.data ? raw.data : "", raw.len, sniff, sizeof(sniff));
	pd_buf_init(&u);
	if (cs == NULL || !conv_append(&c->cv, cs, raw.data ? raw.data : "", raw.len, &u)) {
		char canon[48];
		if (cs != NULL && pd_charset_canon(cs, canon, sizeof(canon)) != PD_CS_NONE)
			warn(c, "unknown charset \"%s\" in a %s part", cs, pt->ctype);
		undeclared_append(c, raw.data ? raw.data : "", raw.len, true, &u);
	}
	pd_buf_free(&raw);
	if (html) {
		char *t = pd_html_to_text_cid(u.data ? u.data : "", u.len, leaf_name_by_cid, c);
		if (html_r != NULL) {
			pd_buf_append(&u, "", 0);
			*html_r = pd_buf_steal(&u, NULL);
		}
		pd_buf_free(&u);
		return t;
	}
	/* CRLF and lone CR to LF */
	pd_buf_init(&out);
	const char *p = u.data ? u.data : "", *e = p + u.len, *run = p;
	for (; p < e; p++) {
		if (*p != '\r')
			continue;
		pd_buf_append(&out, run, (size_t)(p - run));
		pd_buf_append_char(&out, '\n');
		if (p + 1 < e && p[1] == '\n')
			p++;
		run = p + 1;
	}
	pd_buf_append(&out, run, (size_t)(e - run));
	pd_buf_free(&u);
	return buf_take(&out);
}

static char *text_of(struct pctx *c, const struct part *pt, bool html)
{
	return text_of_html(c, pt, html, NULL);
}

/* True for a string of whitespace only (a body that shows nothing). */
static bool blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

/*
 * Decode a leaf into a pd_attachment with its size and SHA-256; the
 * attachment takes the part's strings.
 */
static void attachment_add(struct pctx *c, struct part *pt)
{
	struct pd_msg *m = c->msg;
	struct pd_attachment *a;
	struct pd_buf d;

	body_decode(c, pt, &d);
	if (pt->filename_raw != NULL) {
		/* undeclared 8-bit name: now read in the message's declared charset */
		struct pd_buf fb;
		pd_buf_init(&fb);
		decode_words(c, pt->filename_raw, strlen(pt->filename_raw), &fb);
		char *fn = finish_text(&fb);
		if (*fn != '\0') {
			free(pt->filename);
			pt->filename = fn;
		} else {
			free(fn);
		}
	}
	m->attachments = pd_xgrow(m->attachments, m->n_attachments, sizeof(*a));
	a = &m->attachments[m->n_attachments++];
	memset(a, 0, sizeof(*a));
	a->data = pd_buf_steal(&d, &a->size);
	pd_sha256(a->data, a->size, a->sha256);
	pd_hex(a->sha256, sizeof(a->sha256), a->sha256_hex);
	a->content_type = pt->ctype;
	a->filename = pt->filename;
	a->disposition = pt->disposition;
	a->content_id = pt->content_id;
	pt->ctype = pt->filename = pt->disposition = pt->content_id = NULL;
}

/*
 * The charset the message declares for its text: that of the first text
 * part outside attached messages with a usable charset label (else the top
 * Content-Type's, set before the walk).  Raw 8-bit header text and names
 * are read in it first.
 */
static void declared_charset(struct pctx *c)
{
	char canon[48];

	for (size_t i = 0; i < c->n_leaf; i++) {
		const struct part *pt = &c->leaf[i];
		if (pt->embedded || strncmp(pt->ctype, "text/", 5) != 0 || pt->charset == NULL)
			continue;
		enum pd_cs_kind k = pd_charset_canon(pt->charset, canon, sizeof(canon));
		if (k == PD_CS_NONE)
			continue;
		snprintf(c->defcs_buf, sizeof(c->defcs_buf), "%s", pt->charset);
		c->defcs = c->defcs_buf;
		return;
	}
}

/*
 * The body a reader sees.  Leaves that are not attachments (outside
 * attached messages) are taken in document order, a multipart/alternative
 * as one unit, and the first unit that shows text is the body:
 *   - an alternative shows its richest part we can render: the HTML (as
 *     text), unless its text/plain is a faithful rendering of it (it holds
 *     at least 80% of the HTML's words) or says more (the HTML has fewer
 *     than half its words), which is then taken as it is;
 *   - a text/plain outside alternatives is the body, unless it is only a
 *     forwarded or quoted remnant (nothing but "> " lines, "On ... wrote:"
 *     and a forward/original-message block) while a text/html beside it
 *     (outside alternatives) has text: then that is the message;
 *   - a text/html outside alternatives is the body when it has text.
 * With nothing non-blank, the first HTML, else the first text/plain.
 * Further inline text/plain parts outside alternatives are appended to a
 * body that came from text/plain.
 */

/* A line that opens a forwarded or original message ("-----Original
 * Message-----", "---------- Forwarded message ---------", "Begin forwarded
 * message:", "-------- Пересылаемое сообщение --------"). */
static bool forward_marker(const char *l, size_t n)
{
	static const char *const words[] = {"forward", "original", "пересыл", "Пересыл",
					    "исходное", "Исходное", "переадрес", "Переадрес"};
	char low[128];
	size_t k = 0;

	if (n >= 23 && strncasecmp(l, "Begin forwarded message", 23) == 0)
		return true;
	if (n < 2 || l[0] != '-' || l[1] != '-')
		return false;
	for (size_t i = 0; i < n && k + 1 < sizeof(low); i++)
		low[k++] = (char)tolower((unsigned char)l[i]);
	low[k] = '\0';
	/* ASCII is lowered; Cyrillic is listed in both cases (tolower() keeps it) */
	for (size_t i = 0; i < PD_ARRAY_LEN(words); i++)
		if (strstr(low, words[i]) != NULL)
			return true;
	return false;
}

/* A quote attribution: "On Mon, ... wrote:", "... написал(а):". */
static bool attribution(const char *l, size_t n)
{
	static const char *const ends[] = {"wrote:", "написал:", "написала:", "написал(а):",
					   "schrieb:", "a écrit :", "a écrit:"};

	for (size_t i = 0; i < PD_ARRAY_LEN(ends); i++) {
		size_t el = strlen(ends[i]);
		if (n >= el && strncasecmp(l + n - el, ends[i], el) == 0)
			return true;
	}
	return false;
}

/* True when text holds nothing of its own: only blank and quoted lines,
 * attributions, and whatever follows a forward marker. */
static bool remnant(const char *t)
{
	const char *p = t;

	while (*p) {
		const char *nl = strchr(p, '\n'), *le = nl ? nl : p + strlen(p);
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		size_t n = (size_t)(le - p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n > 0 && *p != '>' && !attribution(p, n)) {
			if (forward_marker(p, n))
				return true;
			return false;
		}
		p = nl ? nl + 1 : le;
	}
	return true;
}

/* The words of s, ASCII letters lowered, at most max; *n_r set.  A word is
 * a run of letters, digits and non-ASCII bytes.  The "[image: NAME]" that
 * HTML-to-text writes for an inline image is no word of the text. */
static char **words_of(const char *s, size_t max, size_t *n_r)
{
	static const char image[] = "[image: ";
	char **v = NULL;
	size_t n = 0;

	for (const char *p = s; *p && n < max;) {
		while (*p && !isalnum((unsigned char)*p) && (unsigned char)*p < 0x80) {
			const char *close;
			if (strncmp(p, image, sizeof(image) - 1) == 0 &&
			    (close = strchr(p, ']')) != NULL)
				p = close;
			p++;
		}
		const char *b = p;
		while (*p && (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80))
			p++;
		if (p == b)
			continue;
		v = pd_xgrow(v, n, sizeof(char *));
		v[n] = pd_xstrndup(b, (size_t)(p - b));
		lower(v[n]);
		n++;
	}
	*n_r = n;
	return v;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void words_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* True when the HTML shows more than plain: plain is not a faithful
 * rendering of it (it holds less than 80% of the HTML's first 5,000 words)
 * and the HTML is not the poorer one (at least half as many words). */
static bool html_richer(const char *plain, const char *html_text)
{
	size_t np, nh, hit = 0;
	char **pw = words_of(plain, 200000, &np), **hw = words_of(html_text, 5000, &nh);

	if (np > 1) /* no words: no array at all */
		qsort(pw, np, sizeof(char *), cmp_str);
	for (size_t i = 0; i < nh; i++)
		if (np > 0 && bsearch(&hw[i], pw, np, sizeof(char *), cmp_str) != NULL)
			hit++;
	words_free(pw, np);
	words_free(hw, nh);
	return nh > 0 && hit * 10 < nh * 8 && nh * 2 >= np;
}

/* A leaf that may show as the body. */
static bool body_candidate(const struct part *pt)
{
	return !is_attachment(pt) && !pt->embedded &&
	       (strcmp(pt->ctype, "text/plain") == 0 || strcmp(pt->ctype, "text/html") == 0);
}

static bool is_html(const struct part *pt)
{
	return strcmp(pt->ctype, "text/html") == 0;
}

/* Text of pt when it is not blank (caller frees), else NULL. */
static char *shown_text(struct pctx *c, const struct part *pt)
{
	char *t = text_of(c, pt, is_html(pt));

	if (!blank(t))
		return t;
	free(t);
	return NULL;
}

/* The part an alternative shows (its text in *text_r), NULL when none of
 * its parts has text. */
static struct part *alt_choice(struct pctx *c, unsigned alt, char **text_r)
{
	struct part *plain = NULL, *html = NULL;
	char *pt_text = NULL, *ht_text = NULL;

	for (size_t i = 0; i < c->n_leaf; i++) {
		struct part *pt = &c->leaf[i];
		if (pt->alt != alt || !body_candidate(pt))
			continue;
		if (is_html(pt) && html == NULL && (ht_text = shown_text(c, pt)) != NULL)
			html = pt;
		else if (!is_html(pt) && plain == NULL && (pt_text = shown_text(c, pt)) != NULL)
			plain = pt;
	}
	if (html != NULL && (plain == NULL || html_richer(pt_text, ht_text))) {
		free(pt_text);
		*text_r = ht_text;
		return html;
	}
	free(ht_text);
	*text_r = pt_text;
	return plain;
}

/* Pick the text body (rules above) and list the attachments. */
static void body_and_attachments(struct pctx *c)
{
	struct pd_msg *m = c->msg;
	struct part *body_pt = NULL, *html_pt = NULL, *first_plain = NULL;
	char *text = NULL;

	declared_charset(c);

	for (size_t i = 0; i < c->n_leaf && body_pt == NULL; i++) {
		struct part *pt = &c->leaf[i];

		if (!body_candidate(pt))
			continue;
		if (is_html(pt) && html_pt == NULL)
			html_pt = pt;
		if (!is_html(pt) && first_plain == NULL)
			first_plain = pt;
		if (pt->alt != 0) {
			bool seen = false;
			for (size_t k = 0; k < i && !seen; k++)
				seen = c->leaf[k].alt == pt->alt;
			if (!seen)
				body_pt = alt_choice(c, pt->alt, &text);
			continue;
		}
		if ((text = shown_text(c, pt)) == NULL)
			continue;
		body_pt = pt;
		if (is_html(pt) || !remnant(text))
			continue;
		/* a quoted or forwarded remnant: the HTML beside it is the message */
		for (size_t k = 0; k < c->n_leaf; k++) {
			struct part *h = &c->leaf[k];
			char *ht;
			if (h->alt != 0 || !is_html(h) || !body_candidate(h) ||
			    (ht = shown_text(c, h)) == NULL)
				continue;
			free(text);
			text = ht;
			body_pt = h;
			break;
		}
	}
	if (body_pt != NULL && is_html(body_pt)) {
		m->body_from_html = true;
		html_pt = body_pt; /* the HTML kept beside the text is the one shown */
	}
	for (size_t i = 0; i < c->n_leaf && html_pt == NULL; i++)
		if (is_html(&c->leaf[i]) && body_candidate(&c->leaf[i]))
			html_pt = &c->leaf[i];
	if (body_pt == NULL && html_pt != NULL) {
		text = text_of_html(c, html_pt, true, &m->body_html);
		body_pt = html_pt;
		m->body_from_html = true;
	} else if (html_pt != NULL) {
		free(text_of_html(c, html_pt, true, &m->body_html));
	}
	if (body_pt == NULL && first_plain != NULL) {
		text = text_of(c, first_plain, false);
		body_pt = first_plain;
	}
	if (body_pt != NULL && !m->body_from_html) {
		struct pd_buf b;
		pd_buf_init(&b);
		pd_buf_append_str(&b, text);
		free(text);
		for (size_t i = 0; i < c->n_leaf; i++) {
			struct part *pt = &c->leaf[i];
			if (pt == body_pt || pt->in_alt || pt->embedded || is_attachment(pt) ||
			    strcmp(pt->ctype, "text/plain") != 0)
				continue;
			char *t = text_of(c, pt, false);
			if (!blank(t)) {
				while (b.len > 0 && b.data[b.len - 1] == '\n')
					b.len--;
				pd_buf_append_str(&b, "\n\n");
				pd_buf_append_str(&b, t);
			}
			free(t);
		}
		text = buf_take(&b);
	}
	m->body_text = text ? text : pd_xstrdup("");
	if (body_pt != NULL && body_pt->charset != NULL) {
		struct pd_buf cs;
		pd_buf_init(&cs);
		pd_utf8_append_clean(&cs, body_pt->charset, strlen(body_pt->charset));
		m->body_charset = finish_text(&cs);
		lower(m->body_charset);
	}
	for (size_t i = 0; i < c->n_leaf; i++)
		if (is_attachment(&c->leaf[i]))
			attachment_add(c, &c->leaf[i]);
}

/* ----------------------------------------------------------- top headers */

/* Decoded text of the first field called name, NULL when there is none. */
static char *opt_header(struct pctx *c, const struct hblock *hb, const char *name)
{
	const struct hfield *f = hblock_find(hb, name);

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
static void headers_fill(struct pctx *c, const struct hblock *hb)
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
			ids_parse(c, f->val, f->vlen, &mid);
		else if (name_is(f->name, f->nlen, "References") && refs.n == 0)
			ids_parse(c, f->val, f->vlen, &refs);
		else if (name_is(f->name, f->nlen, "In-Reply-To") && irt.n == 0)
			ids_parse(c, f->val, f->vlen, &irt);
		else if (name_is(f->name, f->nlen, "Date") && !have_date) {
			have_date = date_parse(f->val, f->vlen, &m->date, &m->date_tz_minutes);
			bad_date = !have_date;
		}
	}
	if (bad_date)
		warn(c, "unparseable Date header");
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
	idlist_free(&mid);
	idlist_free(&refs);
	idlist_free(&irt);

	if ((f = hblock_find(hb, "Subject")) != NULL)
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

/* ------------------------------------------------------------- public API */

char *pd_mime_to_utf8(const char *charset, const char *in, size_t len)
{
	struct pd_charset_cache cv;
	struct pd_buf b;
	bool ok;

	if (in == NULL)
		in = "", len = 0;
	pd_charset_cache_init(&cv);
	pd_buf_init(&b);
	ok = conv_append(&cv, charset, in, len, &b);
	pd_charset_cache_close(&cv);
	if (!ok) {
		if (!pd_utf8_valid(in, len)) {
			pd_buf_free(&b);
			return NULL;
		}
		pd_utf8_append_clean(&b, in, len);
	}
	return buf_take(&b);
}

char *pd_mime_decode_header(const char *value, const char *default_charset)
{
	struct pctx c;
	struct pd_buf u, out;

	memset(&c, 0, sizeof(c));
	pd_charset_cache_init(&c.cv);
	c.defcs = default_charset;
	unfold(value ? value : "", value ? strlen(value) : 0, &u);
	pd_buf_init(&out);
	decode_words(&c, u.data ? u.data : "", u.len, &out);
	pd_buf_free(&u);
	pd_charset_cache_close(&c.cv);
	/* controls other than TAB to spaces, as for every header we hand out */
	for (size_t i = 0; i < out.len; i++)
		if ((unsigned char)out.data[i] < 0x20 && out.data[i] != '\t')
			out.data[i] = ' ';
	return buf_take(&out);
}

/* charset of the top Content-Type, the best guess for raw 8-bit headers of
 * a single-part mail before the body has been looked at. */
static void top_charset(struct pctx *c, const struct hblock *hb)
{
	const struct hfield *ct = hblock_find(hb, "Content-Type");
	struct ctparams ps;
	char canon[48];

	if (ct == NULL)
		return;
	params_parse(ct->val, ct->vlen, &ps);
	const struct param *cs = param_find(&ps, "charset");
	if (cs != NULL && pd_charset_canon(cs->value, canon, sizeof(canon)) != PD_CS_NONE) {
		snprintf(c->defcs_buf, sizeof(c->defcs_buf), "%s", cs->value);
		c->defcs = c->defcs_buf;
	}
	params_free(&ps);
}

/* The top-level media type and report-type, also for a mail too large to
 * be walked. */
static void top_type(struct pd_msg *m, const struct hblock *hb)
{
	const struct hfield *ct = hblock_find(hb, "Content-Type");
	struct ctparams ps;

	if (ct != NULL) {
		params_parse(ct->val, ct->vlen, &ps);
		m->content_type = ctype_of(&ps);
		if (m->content_type != NULL && strcmp(m->content_type, "multipart/report") == 0 &&
		    (m->report_type = param_raw(&ps, "report-type")) != NULL)
			lower(m->report_type);
		params_free(&ps);
	}
	if (m->content_type == NULL)
		m->content_type = pd_xstrdup("text/plain");
}

/* The undeclared 8-bit text of the top header fields (not valid UTF-8),
 * gathered for one charset guess over all of it (at most 64 KiB). */
static void guess_text_collect(struct pctx *c, const struct hblock *hb)
{
	pd_buf_init(&c->guess_text);
	for (size_t i = 0; i < hb->n && c->guess_text.len < 65536; i++) {
		const struct hfield *f = &hb->v[i];
		if (!has_8bit(f->val, f->vlen) || pd_utf8_valid(f->val, f->vlen))
			continue;
		pd_buf_append(&c->guess_text, f->val, f->vlen);
		pd_buf_append_char(&c->guess_text, '\n');
	}
}

/*
 * Fill the fields msg.h promises are never NULL, then check that every
 * string really is valid UTF-8 (and repair it if a converter misbehaved).
 */
static void finalize(struct pd_msg *m)
{
	if (m->subject == NULL)
		m->subject = pd_xstrdup("");
	if (m->body_text == NULL)
		m->body_text = pd_xstrdup("");
	if (m->body_charset == NULL)
		m->body_charset = pd_xstrdup("");
	if (m->from.name == NULL)
		m->from.name = pd_xstrdup("");
	if (m->from.address == NULL)
		m->from.address = pd_xstrdup("");
	if (m->reply_to.name == NULL)
		m->reply_to.name = pd_xstrdup("");
	if (m->reply_to.address == NULL)
		m->reply_to.address = pd_xstrdup("");
	/* every producer above already writes valid UTF-8; this is the proof */
	char **all[] = {&m->message_id, &m->in_reply_to, &m->subject, &m->from.name,
			&m->from.address, &m->reply_to.name, &m->reply_to.address,
			&m->auto_submitted, &m->precedence, &m->list_id, &m->return_path,
			&m->x_priority, &m->importance, &m->priority_hdr,
			&m->authentication_results, &m->body_text, &m->content_type,
			&m->report_type,
			&m->body_charset, &m->parse_error, &m->body_html};
	for (size_t i = 0; i < PD_ARRAY_LEN(all); i++)
		fix_utf8(all[i]);
	for (size_t i = 0; i < m->n_references; i++)
		fix_utf8(&m->references[i]);
	for (size_t i = 0; i < m->to.n; i++) {
		fix_utf8(&m->to.v[i].name);
		fix_utf8(&m->to.v[i].address);
	}
	for (size_t i = 0; i < m->cc.n; i++) {
		fix_utf8(&m->cc.v[i].name);
		fix_utf8(&m->cc.v[i].address);
	}
	for (size_t i = 0; i < m->delivered_to.n; i++) {
		fix_utf8(&m->delivered_to.v[i].name);
		fix_utf8(&m->delivered_to.v[i].address);
	}
	for (size_t i = 0; i < m->n_attachments; i++) {
		fix_utf8(&m->attachments[i].filename);
		fix_utf8(&m->attachments[i].content_type);
		fix_utf8(&m->attachments[i].content_id);
	}
}

struct pd_msg *pd_mime_parse(const char *raw, size_t len, const struct pd_mime_opts *opts)
{
	struct pd_msg *m = pd_xcalloc(1, sizeof(*m));
	struct pctx c;
	struct hblock hb;
	struct pd_buf fixed;
	size_t body_off = 0;

	if (raw == NULL)
		raw = "", len = 0;
	m->raw = raw;
	m->raw_len = len;
	memset(&c, 0, sizeof(c));
	c.msg = m;
	pd_charset_cache_init(&c.cv);
	c.max_parts = opts && opts->max_parts ? opts->max_parts : DEFAULT_MAX_PARTS;
	c.max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH;
	if (c.max_depth > HARD_MAX_DEPTH)
		c.max_depth = HARD_MAX_DEPTH;
	c.scan_budget = len > SIZE_MAX / 32 - (4u << 20) ? SIZE_MAX : 16 * len + (4u << 20);

	/* the hash and the header scan are linear and done for every mail,
	 * also the oversized and unparseable ones */
	pd_mime_content_hash(raw, len, m->content_hash);
	pd_buf_init(&fixed);
	if (pd_mime_header_repair(raw, len, &fixed, &body_off)) {
		/* fields from the repaired copy, the body from the mail itself */
		hblock_parse(&hb, fixed.data, fixed.data + fixed.len, false);
		hb.body = raw + body_off;
		warn(&c, "damaged header block repaired (text before the fields or a fold "
			 "without its blank)");
	} else {
		hblock_parse(&hb, raw, raw + len, true);
	}
	top_charset(&c, &hb);
	guess_text_collect(&c, &hb);
	fields_record(m, &hb);
	top_type(m, &hb);
	if (len == 0) {
		m->parse_failed = true;
		m->parse_error = pd_xstrdup("empty message");
	} else if (opts && opts->max_size && (uint64_t)len > opts->max_size) {
		/* headers only: they are one linear scan, the MIME tree is not */
		m->oversized = true;
		m->parse_error = pd_xasprintf("message of %zu bytes is above the limit of %llu: "
					      "not parsed", len,
					      (unsigned long long)opts->max_size);
	} else {
		if (hb.n == 0) {
			m->parse_failed = true;
			m->parse_error = pd_xstrdup("no header fields: not a mail message");
		}
		/* the top entity counts as the first part */
		c.n_parts = 1;
		entity_walk(&c, &hb, raw + len, 0, 0);
		body_and_attachments(&c);
	}
	headers_fill(&c, &hb);
	finalize(m);

	hblock_free(&hb);
	pd_buf_free(&fixed);
	for (size_t i = 0; i < c.n_leaf; i++)
		part_free(&c.leaf[i]);
	free(c.leaf);
	for (size_t i = 0; i < c.n_owned; i++)
		free(c.owned[i]);
	free(c.owned);
	pd_charset_cache_close(&c.cv);
	pd_buf_free(&c.guess_text);
	return m;
}
