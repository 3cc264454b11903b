/*
 * charset.c - the charset codec: the label table, conversion to UTF-8 with
 * glibc iconv, and the guess of undeclared 8-bit text with uchardet.
 *
 * The table follows the WHATWG Encoding Standard where it decides what a
 * label means (a mail client shows "Shift_JIS" text with the Windows-31J
 * decoder, "GB2312" with GB18030's, "ISO-8859-1" with windows-1252's...),
 * plus the labels and misspellings real mailers write.  Two decoders need
 * more than a name:
 *   - ISO-2022-JP: glibc's ISO-2022-JP-2 knows JIS X 0208 but not the
 *     Windows extensions (NEC row 13: ① ㈱ №; the IBM rows) that Outlook
 *     and Thunderbird write as CP50221; glibc has no CP50221.  Text that
 *     ISO-2022-JP-2 refuses is re-framed from its escape sequences into the
 *     Shift_JIS byte layout (a fixed arithmetic mapping of the JIS row and
 *     cell; no character table) and decoded by iconv's CP932.
 *   - KOI8-R: read as KOI8-U when one of the eight bytes where the two
 *     differ stands inside a word (a Ukrainian letter, not box drawing).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uchardet.h>
#include <unistr.h>

#include "charset.h"

static const char REPL[] = "\xef\xbf\xbd"; /* U+FFFD */

/* ------------------------------------------------------------------ UTF-8 */

/* Length (1-4) of the well-formed UTF-8 sequence at p, 0 when ill-formed. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
	ucs4_t uc;
	int n = u8_mbtoucr(&uc, p, avail);

	return n > 0 ? (size_t)n : 0;
}

void pd_utf8_append_clean(struct pd_buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;

	while (p < end) {
		size_t n;

		if (*p >= 0x01 && *p < 0x80) {
			p++;
			continue;
		}
		n = *p != 0 ? utf8_seq(p, (size_t)(end - p)) : 0;
		if (n > 0) {
			p += n;
			continue;
		}
		pd_buf_append(b, run, (size_t)(p - run));
		pd_buf_append(b, REPL, 3);
		run = ++p;
	}
	pd_buf_append(b, run, (size_t)(p - run));
}

/* Append converter output, with NUL bytes replaced by U+FFFD. */
static void append_nonul(struct pd_buf *b, const char *s, size_t len)
{
	const char *z;

	while (len > 0 && (z = memchr(s, '\0', len)) != NULL) {
		pd_buf_append(b, s, (size_t)(z - s));
		pd_buf_append(b, REPL, 3);
		len -= (size_t)(z - s) + 1;
		s = z + 1;
	}
	pd_buf_append(b, s, len);
}

/* True when no byte has the high bit set. */
static bool all_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* ------------------------------------------------------------------ table */

/*
 * Labels seen in mail -> the decoder a mail client uses for them.
 * "=utf8", "=ascii" and "=none" are the special kinds of enum pd_cs_kind;
 * everything else is a glibc iconv name.  Labels not listed go to iconv
 * as written (it knows several hundred names).
 */
static const struct {
	const char *label;
	const char *to;
} cs_alias[] = {
	/* UTF-8 and how people spell it */
	{"utf-8", "=utf8"}, {"utf8", "=utf8"}, {"utf_8", "=utf8"}, {"x-utf-8", "=utf8"},
	{"x-utf8", "=utf8"}, {"uft-8", "=utf8"}, {"uft8", "=utf8"}, {"utf-08", "=utf8"},
	{"utf-8-sig", "=utf8"}, {"utf8mb4", "=utf8"}, {"unicode-1-1-utf-8", "=utf8"},
	{"unicode11utf8", "=utf8"}, {"unicode20utf8", "=utf8"}, {"x-unicode20utf8", "=utf8"},
	{"unicode-2-0-utf-8", "=utf8"},
	/* ASCII: 8-bit bytes under it are UTF-8 or windows-1252 */
	{"us-ascii", "=ascii"}, {"ascii", "=ascii"}, {"ansi_x3.4-1968", "=ascii"},
	{"ansi_x3.4-1986", "=ascii"}, {"iso646-us", "=ascii"}, {"us", "=ascii"},
	{"csascii", "=ascii"}, {"cp367", "=ascii"}, {"iso-ir-6", "=ascii"}, {"646", "=ascii"},
	{"7bit", "=ascii"},
	/* ISO-8859-1 is read as windows-1252 (WHATWG) */
	{"iso-8859-1", "WINDOWS-1252"}, {"iso8859-1", "WINDOWS-1252"},
	{"iso_8859-1", "WINDOWS-1252"}, {"iso88591", "WINDOWS-1252"},
	{"iso_8859-1:1987", "WINDOWS-1252"}, {"latin1", "WINDOWS-1252"},
	{"latin-1", "WINDOWS-1252"}, {"l1", "WINDOWS-1252"}, {"cp819", "WINDOWS-1252"},
	{"ibm819", "WINDOWS-1252"}, {"csisolatin1", "WINDOWS-1252"},
	{"iso-ir-100", "WINDOWS-1252"}, {"windows-1252", "WINDOWS-1252"},
	{"cp1252", "WINDOWS-1252"}, {"x-cp1252", "WINDOWS-1252"}, {"cp-1252", "WINDOWS-1252"},
	{"ansi", "WINDOWS-1252"},
	/* ISO-8859-9 is read as windows-1254, ISO-8859-11 / TIS-620 as windows-874 */
	{"iso-8859-9", "WINDOWS-1254"}, {"iso8859-9", "WINDOWS-1254"},
	{"iso_8859-9", "WINDOWS-1254"}, {"latin5", "WINDOWS-1254"}, {"l5", "WINDOWS-1254"},
	{"tis-620", "CP874"}, {"tis620", "CP874"}, {"windows-874", "CP874"},
	{"x-windows-874", "CP874"}, {"iso-8859-11", "CP874"}, {"cp874", "CP874"},
	{"iso-8859-8-i", "ISO-8859-8"}, {"iso-8859-8-e", "ISO-8859-8"},
	{"iso-8859-6-i", "ISO-8859-6"}, {"iso-8859-6-e", "ISO-8859-6"},
	/* Cyrillic */
	{"windows-1251", "WINDOWS-1251"}, {"cp1251", "WINDOWS-1251"},
	{"win-1251", "WINDOWS-1251"}, {"x-cp1251", "WINDOWS-1251"}, {"cp-1251", "WINDOWS-1251"},
	{"win1251", "WINDOWS-1251"},
	{"koi8-r", "=koi8"}, {"koi8r", "=koi8"}, {"koi8", "=koi8"}, {"cskoi8r", "=koi8"},
	{"koi", "=koi8"}, {"koi8-u", "KOI8-U"}, {"koi8u", "KOI8-U"}, {"koi8-ru", "KOI8-U"},
	{"x-mac-cyrillic", "MAC-CYRILLIC"}, {"x-mac-ukrainian", "MAC-CYRILLIC"},
	/* Korean: EUC-KR is read as CP949 (Unified Hangul Code) */
	{"ks_c_5601-1987", "CP949"}, {"ks_c_5601", "CP949"}, {"ks_c_5601-1989", "CP949"},
	{"ksc5601", "CP949"}, {"ksc_5601", "CP949"}, {"euc-kr", "CP949"}, {"euckr", "CP949"},
	{"x-euc-kr", "CP949"}, {"windows-949", "CP949"}, {"x-windows-949", "CP949"},
	{"cp949", "CP949"}, {"uhc", "CP949"}, {"korean", "CP949"},
	{"csksc56011987", "CP949"}, {"iso-ir-149", "CP949"},
	/* Chinese: GB2312 and GBK are read as GB18030 */
	{"gb2312", "GB18030"}, {"gb_2312-80", "GB18030"}, {"gb_2312", "GB18030"},
	{"gbk", "GB18030"}, {"x-gbk", "GB18030"}, {"cp936", "GB18030"}, {"ms936", "GB18030"},
	{"windows-936", "GB18030"}, {"euc-cn", "GB18030"}, {"euccn", "GB18030"},
	{"x-euc-cn", "GB18030"}, {"csgb2312", "GB18030"}, {"chinese", "GB18030"},
	{"iso-ir-58", "GB18030"}, {"gb18030", "GB18030"}, {"x-gb18030", "GB18030"},
	{"big5", "BIG5-HKSCS"}, {"big-5", "BIG5-HKSCS"}, {"x-big5", "BIG5-HKSCS"},
	{"cn-big5", "BIG5-HKSCS"}, {"csbig5", "BIG5-HKSCS"}, {"big5-hkscs", "BIG5-HKSCS"},
	{"cp950", "BIG5-HKSCS"},
	/* Japanese: Shift_JIS is read as Windows-31J (CP932) */
	{"shift_jis", "CP932"}, {"shift-jis", "CP932"}, {"shiftjis", "CP932"}, {"sjis", "CP932"},
	{"x-sjis", "CP932"}, {"ms_kanji", "CP932"}, {"csshiftjis", "CP932"},
	{"windows-31j", "CP932"}, {"cp932", "CP932"}, {"ms932", "CP932"},
	{"x-ms-cp932", "CP932"},
	{"euc-jp", "EUC-JP-MS"}, {"eucjp", "EUC-JP-MS"}, {"x-euc-jp", "EUC-JP-MS"},
	{"cseucpkdfmtjapanese", "EUC-JP-MS"},
	{"iso-2022-jp", "=jis"}, {"csiso2022jp", "=jis"}, {"iso2022jp", "=jis"},
	{"iso-2022-jp-1", "=jis"}, {"iso-2022-jp-2", "=jis"}, {"cp50220", "=jis"},
	{"cp50221", "=jis"}, {"cp50222", "=jis"}, {"iso-2022-jp-ms", "=jis"},
	/* UTF-7 */
	{"utf-7", "UTF-7"}, {"utf7", "UTF-7"}, {"unicode-1-1-utf-7", "UTF-7"},
	{"x-unicode-2-0-utf-7", "UTF-7"}, {"csunicode11utf7", "UTF-7"},
	{"x-mac-roman", "MACINTOSH"}, {"macintosh", "MACINTOSH"}, {"mac", "MACINTOSH"},
	/* no charset at all */
	{"unknown-8bit", "=none"}, {"x-unknown", "=none"}, {"unknown", "=none"},
	{"x-user-defined", "=none"}, {"default", "=none"}, {"8bit", "=none"}, {"none", "=none"},
};

/* Internal decoder names written to out by pd_charset_canon. */
#define NAME_KOI8 "KOI8-R"
#define NAME_JIS "ISO-2022-JP-2"

enum pd_cs_kind pd_charset_canon(const char *label, char *out, size_t outsz)
{
	size_t n = 0;

	if (outsz > 0)
		out[0] = '\0';
	if (label == NULL || outsz == 0)
		return PD_CS_NONE;
	while (*label == ' ' || *label == '\t' || *label == '"' || *label == '\'')
		label++;
	for (; *label && *label != '*' && *label != '"' && *label != '\'' && *label != ' ' &&
	       *label != '\t' && *label != '\r' && *label != '\n';
	     label++) {
		unsigned char ch = (unsigned char)*label;

		if (!isalnum(ch) && strchr("-_.:+()", ch) == NULL) {
			out[0] = '\0';
			return PD_CS_NONE;
		}
		if (n + 1 >= outsz) {
			out[0] = '\0';
			return PD_CS_NONE;
		}
		out[n++] = (char)tolower(ch);
	}
	out[n] = '\0';
	if (n == 0)
		return PD_CS_NONE;
	for (size_t i = 0; i < PD_ARRAY_LEN(cs_alias); i++) {
		const char *to = cs_alias[i].to;

		if (strcmp(out, cs_alias[i].label) != 0)
			continue;
		if (strcmp(to, "=utf8") == 0)
			return PD_CS_UTF8;
		if (strcmp(to, "=ascii") == 0)
			return PD_CS_ASCII;
		if (strcmp(to, "=none") == 0) {
			out[0] = '\0';
			return PD_CS_NONE;
		}
		if (strcmp(to, "=koi8") == 0)
			to = NAME_KOI8;
		else if (strcmp(to, "=jis") == 0)
			to = NAME_JIS;
		snprintf(out, outsz, "%s", to);
		break;
	}
	return PD_CS_ICONV;
}

/* ------------------------------------------------------------ descriptors */

void pd_charset_cache_init(struct pd_charset_cache *cv)
{
	memset(cv, 0, sizeof(*cv));
}

void pd_charset_cache_close(struct pd_charset_cache *cv)
{
	for (unsigned i = 0; i < cv->used; i++)
		if ((iconv_t)cv->slot[i].cd != (iconv_t)-1)
			iconv_close((iconv_t)cv->slot[i].cd);
	cv->used = 0;
	cv->next = 0;
}

/* Descriptor converting name to UTF-8, from the cache or newly opened;
 * (iconv_t)-1 when iconv does not know the name (also cached). */
static iconv_t conv_get(struct pd_charset_cache *cv, const char *name)
{
	iconv_t cd;
	unsigned k;

	for (unsigned i = 0; i < cv->used; i++)
		if (strcmp(cv->slot[i].name, name) == 0)
			return (iconv_t)cv->slot[i].cd;
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1 && strncmp(name, "x-", 2) == 0)
		cd = iconv_open("UTF-8", name + 2);
	if (cv->used < PD_CHARSET_SLOTS) {
		k = cv->used++;
	} else {
		k = cv->next++ % PD_CHARSET_SLOTS;
		if ((iconv_t)cv->slot[k].cd != (iconv_t)-1)
			iconv_close((iconv_t)cv->slot[k].cd);
	}
	snprintf(cv->slot[k].name, sizeof(cv->slot[k].name), "%s", name);
	cv->slot[k].cd = (void *)cd;
	return cd;
}

/*
 * Run iconv over in, appending UTF-8 to out (NULL: only check).  Ill-formed
 * input becomes U+FFFD; returns the number of ill-formed spots.
 */
static size_t iconv_run(iconv_t cd, const char *in, size_t len, struct pd_buf *out)
{
	char chunk[8192];
	/* iconv(3) is not const-correct; it never writes through the input */
	char *ip = (char *)(uintptr_t)in;
	size_t ileft = len, bad = 0;

	iconv(cd, NULL, NULL, NULL, NULL);
	while (ileft > 0) {
		char *op = chunk;
		size_t oleft = sizeof(chunk);
		size_t r = iconv(cd, &ip, &ileft, &op, &oleft);

		if (out != NULL)
			append_nonul(out, chunk, (size_t)(op - chunk));
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		bad++;
		if (out == NULL)
			return bad;
		pd_buf_append(out, REPL, 3);
		if (errno == EILSEQ) {
			ip++;
			ileft--;
		} else {
			ileft = 0; /* EINVAL: truncated sequence at the end */
		}
	}
	char *op = chunk;
	size_t oleft = sizeof(chunk);
	iconv(cd, NULL, NULL, &op, &oleft);
	if (out != NULL)
		append_nonul(out, chunk, (size_t)(op - chunk));
	return bad;
}

/* ------------------------------------------------- the two special cases */

/* The eight KOI8-R box-drawing bytes that are Ukrainian letters in KOI8-U. */
static bool koi8u_byte(unsigned char ch)
{
	switch (ch) {
	case 0xa4: case 0xa6: case 0xa7: case 0xad:
	case 0xb4: case 0xb6: case 0xb7: case 0xbd:
		return true;
	default:
		return false;
	}
}

/* True when one of those bytes stands next to a KOI8 letter (0xc0-0xff):
 * a Ukrainian word mislabelled KOI8-R, not a line of a drawn table. */
static bool koi8u_needed(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		if (!koi8u_byte(p[i]))
			continue;
		if ((i > 0 && p[i - 1] >= 0xc0) || (i + 1 < len && p[i + 1] >= 0xc0))
			return true;
	}
	return false;
}

/* The Shift_JIS bytes gathered so far, through CP932, then emptied. */
static size_t sjis_flush(iconv_t cd, struct pd_buf *sj, struct pd_buf *out)
{
	size_t bad = sj->len > 0 ? iconv_run(cd, sj->data, sj->len, out) : 0;

	pd_buf_reset(sj);
	return bad;
}

/* One spot that has no character: U+FFFD in the output. */
static size_t sjis_bad(iconv_t cd, struct pd_buf *sj, struct pd_buf *out)
{
	size_t bad = sjis_flush(cd, sj, out) + 1;

	if (out != NULL)
		pd_buf_append(out, REPL, 3);
	return bad;
}

/*
 * ISO-2022-JP as Windows writes it (CP50221) re-framed into Shift_JIS bytes
 * for iconv's CP932 (cd): JIS X 0208 and its NEC/IBM extension rows (ESC $ B,
 * ESC $ @) by the standard row/cell arithmetic, JIS X 0201 katakana (ESC ( I,
 * or SO/SI) as single bytes 0xA1-0xDF, ASCII and JIS-Roman as they are.
 * 8-bit bytes and sets CP932 lacks (JIS X 0212...) become U+FFFD.  Returns
 * the ill-formed spots; out NULL only counts them.
 */
static size_t jis_to_sjis(iconv_t cd, const char *in, size_t len, struct pd_buf *out)
{
	const unsigned char *p = (const unsigned char *)in, *e = p + len;
	enum { ASCII, KANJI, KANA, OTHER } set = ASCII;
	bool shifted = false;
	struct pd_buf sj;
	size_t bad = 0;

	pd_buf_init(&sj);
	while (p < e) {
		size_t left = (size_t)(e - p);

		if (*p == 0x1b) {
			if (left >= 3 && p[1] == '(' && (p[2] == 'B' || p[2] == 'J')) {
				set = ASCII;
				p += 3;
			} else if (left >= 3 && p[1] == '(' && p[2] == 'I') {
				set = KANA;
				p += 3;
			} else if (left >= 3 && p[1] == '$' && (p[2] == 'B' || p[2] == '@')) {
				set = KANJI;
				p += 3;
			} else if (left >= 4 && p[1] == '$' && p[2] == '(' &&
				   (p[3] == 'B' || p[3] == '@')) {
				set = KANJI;
				p += 4;
			} else if (left >= 4 && p[1] == '$' && p[2] == '(') {
				set = OTHER;
				p += 4;
			} else if (left >= 3 && (p[1] == '(' || p[1] == '.' || p[1] == '$')) {
				set = OTHER;
				p += 3;
			} else {
				bad += sjis_bad(cd, &sj, out);
				p++;
			}
			continue;
		}
		if (*p == 0x0e || *p == 0x0f) { /* SO / SI: katakana shift (CP50222) */
			shifted = *p == 0x0e;
			p++;
			continue;
		}
		if (*p >= 0x80) {
			bad += sjis_bad(cd, &sj, out);
			p++;
		} else if (*p == '\r' || *p == '\n' || *p < 0x21) {
			pd_buf_append_char(&sj, (char)*p++);
		} else if (shifted || set == KANA) {
			pd_buf_append_char(&sj, (char)(*p <= 0x5f ? *p + 0x80 : *p));
			p++;
		} else if (set == KANJI || set == OTHER) {
			if (left < 2 || p[1] < 0x21 || p[1] > 0x7e || set == OTHER) {
				bad += sjis_bad(cd, &sj, out);
				p += left >= 2 && p[1] >= 0x21 && p[1] <= 0x7e ? 2 : 1;
				continue;
			}
			unsigned j1 = p[0], j2 = p[1];
			unsigned s1 = ((j1 + 1) >> 1) + (j1 <= 0x5e ? 0x70 : 0xb0);
			unsigned s2 = j2 + ((j1 & 1) ? (j2 >= 0x60 ? 0x20 : 0x1f) : 0x7e);
			pd_buf_append_char(&sj, (char)s1);
			pd_buf_append_char(&sj, (char)s2);
			p += 2;
		} else {
			pd_buf_append_char(&sj, (char)*p++);
		}
	}
	bad += sjis_flush(cd, &sj, out);
	pd_buf_free(&sj);
	return bad;
}

/*
 * ISO-2022-JP: glibc's ISO-2022-JP-2 when it takes every byte, else the
 * CP50221 re-framing through CP932.  Returns the ill-formed spots; out NULL
 * only checks.
 */
static size_t jis_run(struct pd_charset_cache *cv, const char *in, size_t len,
		      struct pd_buf *out)
{
	iconv_t cd = conv_get(cv, NAME_JIS);

	if (cd != (iconv_t)-1 && iconv_run(cd, in, len, NULL) == 0) {
		if (out != NULL)
			iconv_run(cd, in, len, out);
		return 0;
	}
	if ((cd = conv_get(cv, "CP932")) == (iconv_t)-1)
		return 1;
	return jis_to_sjis(cd, in, len, out);
}

/* ------------------------------------------------------------- conversion */

/* Convert with the decoder canon named (kind PD_CS_ICONV); out NULL only
 * checks.  Returns the ill-formed spots, or (size_t)-1 when iconv does not
 * know the name. */
static size_t run_named(struct pd_charset_cache *cv, const char *name, const char *in,
			size_t len, struct pd_buf *out)
{
	iconv_t cd;

	if (strcmp(name, NAME_JIS) == 0)
		return jis_run(cv, in, len, out);
	if (strcmp(name, NAME_KOI8) == 0 && koi8u_needed(in, len))
		name = "KOI8-U";
	cd = conv_get(cv, name);
	if (cd == (iconv_t)-1)
		return (size_t)-1;
	return iconv_run(cd, in, len, out);
}

bool pd_charset_append(struct pd_charset_cache *cv, const char *label, const char *in,
		       size_t len, struct pd_buf *out)
{
	char name[48];

	switch (pd_charset_canon(label, name, sizeof(name))) {
	case PD_CS_NONE:
		return false;
	case PD_CS_UTF8:
		pd_utf8_append_clean(out, in, len);
		return true;
	case PD_CS_ASCII:
		/* "us-ascii" with 8-bit bytes: UTF-8 if it is, else what Windows sent */
		if (pd_utf8_valid(in, len)) {
			pd_utf8_append_clean(out, in, len);
			return true;
		}
		snprintf(name, sizeof(name), "WINDOWS-1252");
		break;
	case PD_CS_ICONV:
		/* "latin1" that is valid UTF-8 is UTF-8 mislabelled (web forms do
		 * it); real latin1 text is practically never valid UTF-8 */
		if (strcmp(name, "WINDOWS-1252") == 0 && pd_utf8_valid(in, len)) {
			pd_utf8_append_clean(out, in, len);
			return true;
		}
		break;
	}
	return run_named(cv, name, in, len, out) != (size_t)-1;
}

bool pd_charset_fits(struct pd_charset_cache *cv, const char *label, const char *in, size_t len)
{
	char name[48];

	switch (pd_charset_canon(label, name, sizeof(name))) {
	case PD_CS_NONE:
		return false;
	case PD_CS_UTF8:
		return pd_utf8_valid(in, len);
	case PD_CS_ASCII:
		return all_ascii(in, len);
	case PD_CS_ICONV:
		break;
	}
	return run_named(cv, name, in, len, NULL) == 0;
}

/* ---------------------------------------------------------------- guessing */

/*
 * uchardet's names that mail really uses, and the label they are decoded
 * with.  Anything else it may say (IBM855, MAC-CYRILLIC, EUC-TW, HZ, the
 * UTF-16/32 and ISO-2022-CN/KR forms, Baltic, Hebrew visual...) is no guess
 * for mail.
 */
static const struct {
	const char *uchardet;
	const char *label;
} mail_charsets[] = {
	{"GB18030", "gb18030"},        {"GB2312", "gb18030"},       {"BIG5", "big5"},
	{"SHIFT_JIS", "shift_jis"},    {"EUC-JP", "euc-jp"},        {"ISO-2022-JP", "iso-2022-jp"},
	{"EUC-KR", "euc-kr"},          {"UHC", "euc-kr"},           {"WINDOWS-1251", "windows-1251"},
	{"KOI8-R", "koi8-r"},          {"ISO-8859-5", "iso-8859-5"}, {"WINDOWS-1252", "windows-1252"},
	{"ISO-8859-1", "windows-1252"}, {"ISO-8859-15", "iso-8859-15"},
	{"WINDOWS-1250", "windows-1250"}, {"ISO-8859-2", "iso-8859-2"},
	{"WINDOWS-1253", "windows-1253"}, {"ISO-8859-7", "iso-8859-7"},
	{"WINDOWS-1254", "windows-1254"}, {"ISO-8859-9", "windows-1254"},
	{"WINDOWS-1255", "windows-1255"}, {"WINDOWS-1256", "windows-1256"},
	{"TIS-620", "windows-874"},
};

const char *pd_charset_detect(struct pd_charset_cache *cv, const char *in, size_t len)
{
	const char *label = NULL, *name;
	uchardet_t ud;
	size_t high = 0;

	for (size_t i = 0; i < len; i++)
		high += (unsigned char)in[i] >= 0x80;
	/* fewer than two double-byte characters' worth: too little to go on */
	if (high < 4 || pd_utf8_valid(in, len))
		return NULL;
	ud = uchardet_new();
	if (ud == NULL)
		return NULL;
	/* 64 KiB say all there is to say; the whole text is checked below */
	if (uchardet_handle_data(ud, in, len < 65536 ? len : 65536) == 0) {
		uchardet_data_end(ud);
		name = uchardet_get_charset(ud);
		for (size_t i = 0; name != NULL && i < PD_ARRAY_LEN(mail_charsets); i++)
			if (strcasecmp(name, mail_charsets[i].uchardet) == 0)
				label = mail_charsets[i].label;
	}
	uchardet_delete(ud);
	if (label != NULL && !pd_charset_fits(cv, label, in, len))
		label = NULL;
	return label;
}
