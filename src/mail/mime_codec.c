/*
 * mime_codec.c - the bytes of a MIME part as text: which charset undeclared
 * 8-bit text is read in (charset.c owns the label table, iconv and
 * uchardet) and the transfer decodings (base64 and quoted-printable from
 * codec.c, uuencode here), bounded and never failing.  Part of the MIME
 * parser (mime_int.h).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "codec.h"
#include "mime_int.h"
#include "util.h"

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

bool mime_conv_append(struct pd_charset_cache *cv, const char *label, const char *in,
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
void mime_undeclared_append(struct pctx *c, const char *s, size_t len, bool whole,
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
	if (label != NULL && mime_conv_append(&c->cv, label, s, len, out))
		return;
	if (c->defcs != NULL && mime_conv_append(&c->cv, c->defcs, s, len, out))
		return;
	if (!mime_conv_append(&c->cv, "windows-1252", s, len, out))
		pd_utf8_append_clean(out, s, len);
}

/* Raw 8-bit header text (not an encoded word). */
void mime_raw_append(struct pctx *c, const char *s, size_t len, struct pd_buf *out)
{
	mime_undeclared_append(c, s, len, false, out);
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
enum cte mime_cte_parse(const char *v, size_t len)
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
void mime_bytes_decode(struct pctx *c, enum cte cte, const char *body, size_t len,
			 const char *what, struct pd_buf *out)
{
	pd_buf_init(out);
	/* small parts grow as usual; a large one gets its bound up front */
	if (len >= 4096)
		buf_presize(out, cte == CTE_BASE64 ? len / 4 * 3 + 3 : len);
	switch (cte) {
	case CTE_BASE64:
		if (!pd_b64_decode(body, len, out))
			mime_warn(c, "damaged base64 in a %s part", what);
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
void mime_body_decode(struct pctx *c, const struct part *pt, struct pd_buf *out)
{
	mime_bytes_decode(c, pt->cte, pt->body, pt->body_len, pt->ctype, out);
}
