/*
 * charset.h - the charset codec: which converter a charset label means, the
 * conversion of text in a charset to UTF-8 (glibc iconv), and the guess of
 * the charset of undeclared 8-bit text (uchardet).
 *
 * One label table, modelled on the WHATWG Encoding Standard's (what mail
 * clients really do with a label): a label names the superset mailers send
 * under it (Shift_JIS -> CP932, GB2312/GBK -> GB18030, ISO-8859-1/us-ascii
 * -> windows-1252, EUC-KR -> CP949, ISO-2022-JP -> ISO-2022-JP-2 and the
 * CP50221 extensions, KOI8-R -> KOI8-U when Ukrainian letters are in it).
 * MIME bodies, RFC 2047 words and RFC 2231 file names all go through it.
 *
 * Pure apart from iconv descriptors held in a caller-owned cache; no I/O.
 * Every string produced is valid UTF-8 without NUL bytes.
 */
#ifndef PD_CHARSET_H
#define PD_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* What a label means after the table. */
enum pd_cs_kind {
	PD_CS_NONE,  /* no label, an unusable one, or "unknown-8bit" and its kin */
	PD_CS_UTF8,  /* UTF-8 under any of its names */
	PD_CS_ASCII, /* us-ascii: UTF-8 when the bytes are, else windows-1252 */
	PD_CS_ICONV, /* an iconv name, written to out */
};

/*
 * Normalise a label (quotes, an RFC 2231 "*lang" suffix, case) and look it
 * up in the table.  For PD_CS_ICONV the converter name is written to out
 * (a table entry, or the label itself in lower case when the table does
 * not list it); out is always NUL-terminated when outsz > 0.
 */
enum pd_cs_kind pd_charset_canon(const char *label, char *out, size_t outsz);

#define PD_CHARSET_SLOTS 4

/* A few open iconv descriptors: opening one costs more than converting a
 * header.  Zero it with pd_charset_cache_init, release with _close. */
struct pd_charset_cache {
	struct {
		char name[48];
		void *cd; /* iconv_t; (iconv_t)-1 when iconv does not know the name */
	} slot[PD_CHARSET_SLOTS];
	unsigned used, next;
};

void pd_charset_cache_init(struct pd_charset_cache *cv);
void pd_charset_cache_close(struct pd_charset_cache *cv);

/*
 * Append len bytes of text in charset label to out as UTF-8; bytes that are
 * invalid in the charset become U+FFFD.  False (nothing appended) when the
 * label means no charset or iconv does not know it.
 */
bool pd_charset_append(struct pd_charset_cache *cv, const char *label, const char *in,
		       size_t len, struct pd_buf *out);

/*
 * True when the bytes are well-formed text in charset label (every byte
 * sequence maps to a character).  Single-byte charsets accept nearly
 * anything; the test says most for multibyte ones.
 */
bool pd_charset_fits(struct pd_charset_cache *cv, const char *label, const char *in, size_t len);

/*
 * The charset of undeclared 8-bit text as uchardet guesses it, restricted to
 * the charsets seen in mail (the CJK multibyte ones, the Cyrillic ones,
 * windows-125x and their ISO-8859 kin) and checked: the guess must decode
 * the bytes without error.  Returns a label for pd_charset_append (static
 * storage), or NULL when there is no usable guess (also for valid UTF-8,
 * which needs none, and for fewer than four 8-bit bytes, too few to go on).
 */
const char *pd_charset_detect(struct pd_charset_cache *cv, const char *in, size_t len);

/* Append s as valid UTF-8: ill-formed bytes and NUL become U+FFFD. */
void pd_utf8_append_clean(struct pd_buf *b, const char *s, size_t len);

#endif
