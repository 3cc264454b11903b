/*
 * classify.c - urgency and routing of a new ticket (see classify.h for the
 * rules and the reasons).
 *
 * Text matching.  A field (subject, body) is cut into words, every word is
 * case-folded into one buffer, and the keywords, cut and folded the same
 * way once per configuration, are compared word by word.  Two costs
 * dominate, and each has a fast path that gives the same result:
 *   - segmentation: libunistring's u8_wordbreaks implements all of UAX #29
 *     and costs about 35 us per 4 KB.  Most mail uses only characters whose
 *     word-break property is ALetter, Numeric, MidLetter, MidNum,
 *     MidNumLet, Single_Quote, ExtendNumLet or one of the classes that only
 *     ever break (Other, spaces, line ends, '"'); for those, the rules that
 *     join characters into a word are WB5-WB13b, applied here directly with
 *     the property from uc_wordbreak_property.  A line with any other class
 *     (Extend, Format, ZWJ, Katakana, Hebrew, regional indicators) goes to
 *     u8_wordbreaks (lines are independent: see words_split).  Invalid
 *     UTF-8 is replaced first.  A unit test compares both ways.
 *   - folding: u8_casefold with NFC costs about 0.2 us per call.  A word of
 *     ASCII and basic Cyrillic (U+0400-U+045F) only is already NFC and folds
 *     by the simple lower-case mapping, which is done inline; other words
 *     go through u8_casefold.
 * Keywords are found through a small hash of the first (up to) four folded
 * bytes of their first word, so a text word costs one lookup, not one
 * comparison per keyword.
 */
#include "autoconfig.h"

#include <assert.h>
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>
#include <uniwbrk.h>

#include "classify.h"
#include "util.h"

#define TEXT_MAX (64 * 1024) /* bytes of a field that are searched */
#define MATCH_MAX 256        /* bytes of reason->matched */
#define KEY_BYTES 4          /* folded bytes of a keyword's first word that are hashed */
#define N_BUCKETS 256
#define NONE SIZE_MAX

static const char *const prio_names[] = {"low", "normal", "high", "critical"};

const char *pd_priority_name(enum pd_priority p)
{
	return (unsigned)p < 4 ? prio_names[p] : "normal";
}

int pd_priority_parse(const char *s, enum pd_priority *p)
{
	for (int i = 0; i < 4; i++)
		if (s != NULL && strcmp(s, prio_names[i]) == 0) {
			*p = (enum pd_priority)i;
			return 0;
		}
	return -1;
}

static const char *const type_names[PD_N_TYPES] = {"question", "incident", "complaint",
						   "suggestion", "refund",   "access"};

const char *pd_type_name(enum pd_type t)
{
	return (unsigned)t < PD_N_TYPES ? type_names[t] : "question";
}

int pd_type_parse(const char *s, enum pd_type *t)
{
	for (int i = 0; i < PD_N_TYPES; i++)
		if (s != NULL && strcmp(s, type_names[i]) == 0) {
			*t = (enum pd_type)i;
			return 0;
		}
	return -1;
}

/* ------------------------------------------------------------- words */

/* One word of a text: its bytes in the text, and its folded bytes. */
struct word {
	uint32_t start, end;  /* [start, end) in the text as given */
	uint32_t fstart, flen; /* in words.fold */
};

/* The words of one text; the buffers are reused from text to text. */
struct words {
	const uint8_t *text; /* what start/end refer to: the field, or repaired */
	size_t n, cap;
	struct word *v;
	uint8_t *fold;
	size_t flen, fcap;
	char *breaks;        /* u8_wordbreaks output */
	size_t bcap;
	uint8_t *repaired;   /* the text with invalid UTF-8 replaced, when needed */
	size_t rcap;
};

static void words_free(struct words *w)
{
	free(w->v);
	free(w->fold);
	free(w->breaks);
	free(w->repaired);
	memset(w, 0, sizeof(*w));
}

static void fold_reserve(struct words *w, size_t more)
{
	if (w->flen + more <= w->fcap)
		return;
	w->fcap = (w->flen + more) * 2;
	w->fold = pd_xrealloc(w->fold, w->fcap);
}

/* Decode one UTF-8 character strictly; returns its length, 0 when invalid. */
static size_t utf8_dec(const uint8_t *s, size_t n, ucs4_t *c)
{
	int len = u8_mbtoucr(c, s, n);

	return len > 0 ? (size_t)len : 0;
}

/*
 * Fold the word s[0..n) (valid UTF-8) onto the end of w->fold: case
 * folding in NFC, then "ё" -> "е".  ASCII and U+0400-U+045F fold inline
 * (same length); anything else goes through u8_casefold.
 */
static void fold_word(struct words *w, const uint8_t *s, size_t n)
{
	uint8_t *o;
	size_t i = 0;

	fold_reserve(w, n);
	o = w->fold + w->flen;
	while (i < n) {
		uint8_t b = s[i];
		if (b < 0x80) {
			o[i] = b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b;
			i++;
		} else if ((b == 0xd0 || b == 0xd1) && i + 1 < n) {
			ucs4_t c = ((ucs4_t)(b & 0x1f) << 6) | (s[i + 1] & 0x3f);
			if (c >= 0x460)
				goto slow;
			if (c < 0x410)
				c += 0x50; /* Ѐ..Џ -> ѐ..џ */
			else if (c < 0x430)
				c += 0x20; /* А..Я -> а..я */
			if (c == 0x451)
				c = 0x435; /* ё -> е */
			o[i] = (uint8_t)(0xc0 | (c >> 6));
			o[i + 1] = (uint8_t)(0x80 | (c & 0x3f));
			i += 2;
		} else {
			goto slow;
		}
	}
	w->flen += n;
	return;

slow:
	/* case folding can make a word up to three times longer ("ΐ") */
	fold_reserve(w, 3 * n + 16);
	size_t len = w->fcap - w->flen;
	uint8_t *r = u8_casefold(s, n, NULL, UNINORM_NFC, w->fold + w->flen, &len);
	if (r == NULL) { /* only on ENOMEM: keep the word as it is */
		memcpy(w->fold + w->flen, s, n);
		len = n;
	} else if (r != w->fold + w->flen) {
		fold_reserve(w, len);
		memcpy(w->fold + w->flen, r, len);
		free(r);
	}
	/* ё -> е; drop invisible format characters (soft hyphen, ZWNJ, ZWJ,
	 * LRM, RLM, word joiner, BOM) that UAX #29 keeps inside a word */
	o = w->fold + w->flen;
	size_t k = 0;
	for (size_t j = 0; j < len;) {
		if (j + 1 < len && o[j] == 0xd1 && o[j + 1] == 0x91) {
			o[k++] = 0xd0, o[k++] = 0xb5, j += 2;
		} else if (j + 1 < len && o[j] == 0xc2 && o[j + 1] == 0xad) {
			j += 2;
		} else if (j + 2 < len && o[j] == 0xe2 && o[j + 1] == 0x80 && o[j + 2] >= 0x8c &&
			   o[j + 2] <= 0x8f) {
			j += 3;
		} else if (j + 2 < len &&
			   ((o[j] == 0xe2 && o[j + 1] == 0x81 && o[j + 2] == 0xa0) ||
			    (o[j] == 0xef && o[j + 1] == 0xbb && o[j + 2] == 0xbf))) {
			j += 3;
		} else {
			o[k++] = o[j++];
		}
	}
	w->flen += k;
}

static void words_push(struct words *w, size_t start, size_t end)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->v = pd_xreallocarray(w->v, w->cap, sizeof(*w->v));
	}
	struct word *x = &w->v[w->n++];
	x->start = (uint32_t)start;
	x->end = (uint32_t)end;
	x->fstart = (uint32_t)w->flen;
	fold_word(w, w->text + start, end - start);
	x->flen = (uint32_t)(w->flen - x->fstart);
}

/* Word-break classes the fast segmentation knows. */
enum wbc {
	C_OTHER,   /* never joins: Other, CR, LF, Newline, WSegSpace, Double_Quote */
	C_LETTER,  /* ALetter */
	C_DIGIT,   /* Numeric */
	C_MIDL,    /* MidLetter */
	C_MIDN,    /* MidNum */
	C_MIDNL,   /* MidNumLet, Single_Quote (MidNumLetQ) */
	C_EXT,     /* ExtendNumLet */
	C_SLOW,    /* anything else: leave it to u8_wordbreaks */
};

/*
 * The class of each ASCII character, as the digit of its enum wbc value:
 * 0 other, 1 letter, 2 digit, 3 MidLetter (':'), 4 MidNum (',' ';'),
 * 5 MidNumLetQ ('.' '\''), 6 ExtendNumLet ('_').  The unit test compares
 * the segmentation with u8_wordbreaks on every printable character.
 */
static const char ascii_classes[129] =
	"00000000000000000000000000000000"  /* controls */
	"00000005000040502222222222340000"  /*  !"#$%&'()*+,-./0-9:;<=>? */
	"01111111111111111111111111100006"  /* @A-Z[\]^_ */
	"01111111111111111111111111100000"; /* `a-z{|}~ DEL */

static inline enum wbc ascii_class(uint8_t b)
{
	return (enum wbc)(ascii_classes[b & 0x7f] - '0');
}

static enum wbc char_class(ucs4_t c)
{
	if (c < 0x80)
		return ascii_class((uint8_t)c);
	if (c >= 0x400 && c <= 0x45f)
		return C_LETTER; /* basic Cyrillic, the common case */
	switch (uc_wordbreak_property(c)) {
	case WBP_ALETTER:
		return C_LETTER;
	case WBP_NUMERIC:
		return C_DIGIT;
	case WBP_MIDLETTER:
		return C_MIDL;
	case WBP_MIDNUM:
		return C_MIDN;
	case WBP_MIDNUMLET:
	case WBP_SQ:
		return C_MIDNL;
	case WBP_EXTENDNUMLET:
		return C_EXT;
	case WBP_OTHER:
	case WBP_CR:
	case WBP_LF:
	case WBP_NEWLINE:
	case WBP_WSS:
	case WBP_DQ:
		return C_OTHER;
	default:
		return C_SLOW;
	}
}

/* A character that makes its segment a word: letters and digits. */
static bool wordy(enum wbc cls, ucs4_t c)
{
	if (cls == C_LETTER || cls == C_DIGIT)
		return true;
	return c >= 0x80 && uc_is_alnum(c);
}

/* The class of the character at s[i] (its length in *len), C_SLOW when invalid. */
static inline enum wbc class_at(const uint8_t *s, size_t n, size_t i, size_t *len, ucs4_t *c)
{
	uint8_t b = s[i];

	if (b < 0x80) {
		*len = 1;
		*c = b;
		return ascii_class(b);
	}
	if ((b == 0xd0 || b == 0xd1) && i + 1 < n && (s[i + 1] & 0xc0) == 0x80) {
		*len = 2;
		*c = ((ucs4_t)(b & 0x1f) << 6) | (s[i + 1] & 0x3f);
		return *c <= 0x45f ? C_LETTER : char_class(*c);
	}
	*len = utf8_dec(s + i, n - i, c);
	return *len == 0 ? C_SLOW : char_class(*c);
}

/*
 * The fast segmentation (see the top of the file) of w->text[from..to).
 * Returns false, with some words pushed already, when the text needs
 * u8_wordbreaks.  A segment starts at a letter, digit or ExtendNumLet and
 * runs while
 *   (ALetter|Numeric|ExtendNumLet) x (ALetter|Numeric|ExtendNumLet)
 *                                         WB5, WB8-WB10, WB13a, WB13b
 *   ALetter x (MidLetter|MidNumLetQ) ALetter                WB6, WB7
 *   Numeric x (MidNum|MidNumLetQ) Numeric                   WB11, WB12
 * Any other character is a segment of its own.
 */
static bool split_fast(struct words *w, size_t from, size_t to)
{
	const uint8_t *s = w->text;
	size_t i = from;

	while (i < to) {
		ucs4_t c;
		size_t len;
		enum wbc cls = class_at(s, to, i, &len, &c);
		if (cls == C_SLOW)
			return false;
		if (cls != C_LETTER && cls != C_DIGIT && cls != C_EXT) {
			if (c >= 0x80 && wordy(cls, c)) /* e.g. a CJK ideograph */
				words_push(w, i, i + len);
			i += len;
			continue;
		}
		size_t start = i;
		bool word = wordy(cls, c);
		enum wbc last = cls;
		i += len;
		while (i < to) {
			ucs4_t c2, c3;
			size_t l2, l3;
			enum wbc k2 = class_at(s, to, i, &l2, &c2), k3;
			if (k2 == C_SLOW)
				return false;
			if (k2 == C_LETTER || k2 == C_DIGIT || k2 == C_EXT) {
				word = word || wordy(k2, c2);
				last = k2;
				i += l2;
				continue;
			}
			bool mid_l = last == C_LETTER && (k2 == C_MIDL || k2 == C_MIDNL);
			bool mid_n = last == C_DIGIT && (k2 == C_MIDN || k2 == C_MIDNL);
			if ((!mid_l && !mid_n) || i + l2 >= to)
				break;
			k3 = class_at(s, to, i + l2, &l3, &c3);
			if (k3 == C_SLOW)
				return false;
			if (!(mid_l && k3 == C_LETTER) && !(mid_n && k3 == C_DIGIT))
				break;
			word = true; /* k3 is a letter or a digit */
			last = k3;
			i += l2 + l3;
		}
		if (word)
			words_push(w, start, i);
	}
	return true;
}

/* Valid UTF-8 of s: s itself, or a copy in w->repaired with U+FFFD for bad bytes. */
static const uint8_t *valid_text(struct words *w, const uint8_t *s, size_t *n)
{
	const uint8_t *bad = u8_check(s, *n);
	size_t out = 0;

	if (bad == NULL)
		return s;
	if (w->rcap < *n * 3 + 1) {
		w->rcap = *n * 3 + 1;
		w->repaired = pd_xrealloc(w->repaired, w->rcap);
	}
	for (size_t i = 0; i < *n;) {
		ucs4_t c;
		size_t len = utf8_dec(s + i, *n - i, &c);
		if (len == 0) {
			memcpy(w->repaired + out, "\xef\xbf\xbd", 3);
			out += 3;
			i++;
		} else {
			memcpy(w->repaired + out, s + i, len);
			out += len;
			i += len;
		}
	}
	*n = out;
	return w->repaired;
}

/*
 * Segment w->text[from..to) with u8_wordbreaks; a segment is a word when it
 * holds a letter or a digit.
 */
static void split_uax29(struct words *w, size_t from, size_t to)
{
	const uint8_t *s = w->text + from;
	size_t n = to - from;

	if (n == 0)
		return;
	if (w->bcap < n) {
		w->bcap = n;
		w->breaks = pd_xrealloc(w->breaks, n);
	}
	u8_wordbreaks(s, n, w->breaks);
	size_t start = 0;
	bool word = false;
	for (size_t i = 0; i < n;) {
		ucs4_t c;
		size_t len = utf8_dec(s + i, n - i, &c);
		if (len == 0) /* cannot happen: the text is valid */
			len = 1, c = 0xfffd;
		if (i > start && w->breaks[i]) {
			if (word)
				words_push(w, from + start, from + i);
			start = i;
			word = false;
		}
		int p = uc_wordbreak_property(c);
		word |= p == WBP_ALETTER || p == WBP_NUMERIC || p == WBP_HL || p == WBP_KATAKANA ||
			(c < 0x80 ? isalnum((int)c) != 0 : uc_is_alnum(c));
		i += len;
	}
	if (word)
		words_push(w, from + start, to);
}

/*
 * The words of s[0..n).  UAX #29 always breaks before and after a line end
 * (WB3a, WB3b) and no rule looks across one, so each line is segmented on
 * its own: the fast way when it can, else with u8_wordbreaks.  One emoji
 * or combining accent then costs the speed of its line only.
 */
static void words_split(struct words *w, const uint8_t *s, size_t n, bool uax29_only)
{
	w->text = valid_text(w, s, &n);
	w->n = 0;
	w->flen = 0;
	if (uax29_only) {
		split_uax29(w, 0, n);
		return;
	}
	for (size_t from = 0; from < n;) {
		const uint8_t *nl = memchr(w->text + from, '\n', n - from);
		size_t to = nl != NULL ? (size_t)(nl - w->text) + 1 : n;
		size_t n0 = w->n, f0 = w->flen;
		if (!split_fast(w, from, to)) {
			w->n = n0;
			w->flen = f0;
			split_uax29(w, from, to);
		}
		from = to;
	}
}

/* The length of the first at most TEXT_MAX bytes of s, cut at a character start. */
static size_t text_len(const char *s)
{
	/* a character is at most 4 bytes: enough to see whether the last one fits */
	return pd_utf8_cut(s, strnlen(s, TEXT_MAX + 4), TEXT_MAX);
}

char *pd_classify_words(const char *text, size_t len, bool uax29_only)
{
	struct words w;
	struct pd_buf b;

	memset(&w, 0, sizeof(w));
	pd_buf_init(&b);
	words_split(&w, (const uint8_t *)text, len, uax29_only);
	for (size_t i = 0; i < w.n; i++) {
		if (i > 0)
			pd_buf_append_char(&b, ' ');
		pd_buf_append(&b, w.fold + w.v[i].fstart, w.v[i].flen);
	}
	words_free(&w);
	return pd_buf_steal(&b, NULL);
}

/* ---------------------------------------------------------- keywords */

/* One keyword, folded into words. */
struct kw {
	size_t rule;       /* index in cfg->rules */
	size_t n_words;    /* >= 1 */
	uint8_t *fold;     /* the folded words, back to back */
	uint32_t *off, *len;
	bool prefix;       /* the last word is a prefix ("срочн*") */
	bool exclude;      /* one of the rule's exclude words, not a keyword */
	size_t next;       /* next keyword of the same bucket, NONE ends */
};

/* The keywords of a configuration, as classify.c compares them. */
struct compiled {
	size_t n_kw;
	struct kw *kw;
	size_t bucket[N_BUCKETS]; /* first keyword of each hash bucket */
	size_t short_head;        /* prefix keywords of one word under KEY_BYTES: checked always */
};

static unsigned key_hash(const uint8_t *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n && i < KEY_BYTES; i++)
		h = (h ^ s[i]) * 16777619u;
	return (h ^ (h >> 13)) % N_BUCKETS;
}

static void compiled_free(void *p)
{
	struct compiled *cp = p;

	if (cp == NULL)
		return;
	for (size_t i = 0; i < cp->n_kw; i++) {
		free(cp->kw[i].fold);
		free(cp->kw[i].off);
		free(cp->kw[i].len);
	}
	free(cp->kw);
	free(cp);
}

/* Fold every keyword of every rule (struct compiled above). */
static struct compiled *compile(const struct pd_classify_rules *cfg)
{
	struct compiled *cp = pd_xcalloc(1, sizeof(*cp));
	struct words w;
	size_t total = 0;

	memset(&w, 0, sizeof(w));
	for (size_t i = 0; i < N_BUCKETS; i++)
		cp->bucket[i] = NONE;
	cp->short_head = NONE;
	for (size_t r = 0; r < cfg->n_rules; r++)
		total += cfg->rules[r].keywords.n + cfg->rules[r].exclude.n;
	cp->kw = pd_xcalloc(total ? total : 1, sizeof(*cp->kw));
	for (size_t r = 0; r < cfg->n_rules * 2; r++) {
		bool excl = r >= cfg->n_rules;
		const struct pd_rule_cfg *rule = &cfg->rules[excl ? r - cfg->n_rules : r];
		const struct pd_strlist *kl = excl ? &rule->exclude : &rule->keywords;
		for (size_t j = 0; j < kl->n; j++) {
			const char *t = kl->v[j];
			size_t n = strlen(t);
			bool prefix = n > 0 && t[n - 1] == '*';
			words_split(&w, (const uint8_t *)t, prefix ? n - 1 : n, false);
			if (w.n == 0)
				continue; /* punctuation only: matches nothing */
			struct kw *k = &cp->kw[cp->n_kw];
			k->rule = (size_t)(rule - cfg->rules);
			k->exclude = excl;
			k->n_words = w.n;
			k->prefix = prefix;
			k->fold = pd_xmalloc(w.flen ? w.flen : 1);
			memcpy(k->fold, w.fold, w.flen);
			k->off = pd_xcalloc(w.n, sizeof(*k->off));
			k->len = pd_xcalloc(w.n, sizeof(*k->len));
			for (size_t x = 0; x < w.n; x++) {
				k->off[x] = w.v[x].fstart;
				k->len[x] = w.v[x].flen;
			}
			if (prefix && w.n == 1 && k->len[0] < KEY_BYTES) {
				k->next = cp->short_head;
				cp->short_head = cp->n_kw;
			} else {
				unsigned h = key_hash(k->fold, k->len[0]);
				k->next = cp->bucket[h];
				cp->bucket[h] = cp->n_kw;
			}
			cp->n_kw++;
		}
	}
	words_free(&w);
	return cp;
}

/* The configuration's compiled keywords; *temp when the caller must free them. */
static struct compiled *compiled_get(const struct pd_classify_rules *cfg, bool *temp)
{
	struct pd_classify_cache *d = cfg->cache;

	*temp = d == NULL;
	if (d == NULL)
		return compile(cfg);
	if (d->compiled == NULL) {
		d->compiled = compile(cfg);
		d->compiled_free = compiled_free;
	}
	return d->compiled;
}

/* ------------------------------------------------------------ search */

/* What is known about one rule during a classification. */
struct rstate {
	bool eligible;      /* sender condition holds and there are keywords to look for */
	bool matched;       /* the whole rule matched */
	bool hit;           /* a keyword was found */
	bool excluded;      /* one of its exclude words was found */
	unsigned score;     /* weight of its keywords found (type_score) */
	const char *field;  /* "subject" / "body" of the hit */
	char *match_text;   /* the hit as written (at most MATCH_MAX bytes), owned */
};

/* Does keyword k match the words of w from word i on?  *last_r: its last word. */
static bool kw_at(const struct kw *k, const struct words *w, size_t i, size_t *last_r)
{
	if (i + k->n_words > w->n)
		return false;
	for (size_t x = 0; x < k->n_words; x++) {
		const struct word *t = &w->v[i + x];
		bool pre = k->prefix && x + 1 == k->n_words;
		if (pre ? t->flen < k->len[x] : t->flen != k->len[x])
			return false;
		if (memcmp(w->fold + t->fstart, k->fold + k->off[x], k->len[x]) != 0)
			return false;
	}
	*last_r = i + k->n_words - 1;
	return true;
}

/*
 * Record a hit of keyword k at words i..last of field (0 subject, 1 body):
 * an exclude word marks its rule excluded; a keyword is marked seen in that
 * field (seen[k] bit 1 subject, bit 2 body), and the rule's first hit is
 * kept as the text of its reason.
 */
static void hit(struct rstate *rs, const struct compiled *cp, size_t ki, const struct words *w,
		size_t i, size_t last, const char *field, unsigned subject_or_body, uint8_t *seen,
		const struct pd_classify_rules *cfg)
{
	const struct kw *k = &cp->kw[ki];
	struct rstate *s = &rs[k->rule];
	const struct pd_rule_cfg *r = &cfg->rules[k->rule];

	if (!s->eligible)
		return;
	if ((subject_or_body == 0 && !r->match_subject) || (subject_or_body == 1 && !r->match_body))
		return;
	if (k->exclude) {
		s->excluded = true;
		return;
	}
	seen[ki] |= (uint8_t)(subject_or_body == 0 ? 1 : 2);
	if (s->hit)
		return;
	s->hit = true;
	s->field = field;
	/* copy now: the words' buffers are reused for the next field */
	size_t start = w->v[i].start, n = w->v[last].end - start;
	n = pd_utf8_cut((const char *)w->text + start, n, MATCH_MAX);
	s->match_text = pd_xstrndup((const char *)w->text + start, n);
}

/* Search one field for the keywords and exclude words of the eligible rules. */
static void search(const struct compiled *cp, const struct pd_classify_rules *cfg,
		   struct rstate *rs, struct words *w, const char *text, const char *field,
		   unsigned which, uint8_t *seen)
{
	if (text == NULL || *text == '\0')
		return;
	words_split(w, (const uint8_t *)text, text_len(text), false);
	for (size_t i = 0; i < w->n; i++) {
		const struct word *t = &w->v[i];
		size_t last;
		for (size_t k = cp->bucket[key_hash(w->fold + t->fstart, t->flen)]; k != NONE;
		     k = cp->kw[k].next)
			if (kw_at(&cp->kw[k], w, i, &last))
				hit(rs, cp, k, w, i, last, field, which, seen, cfg);
		for (size_t k = cp->short_head; k != NONE; k = cp->kw[k].next)
			if (kw_at(&cp->kw[k], w, i, &last))
				hit(rs, cp, k, w, i, last, field, which, seen, cfg);
	}
}

/*
 * The type score of every rule: each distinct keyword found counts 3 in the
 * subject and 1 in the body (4 in both), times its number of words (a
 * phrase says more than a word).
 */
static void type_score(const struct compiled *cp, struct rstate *rs, const uint8_t *seen)
{
	for (size_t k = 0; k < cp->n_kw; k++) {
		if (seen[k] == 0 || cp->kw[k].exclude)
			continue;
		unsigned wgt = ((seen[k] & 1) ? 3u : 0u) + ((seen[k] & 2) ? 1u : 0u);
		rs[cp->kw[k].rule].score += wgt * (unsigned)cp->kw[k].n_words;
	}
}

/* ----------------------------------------------------------- reasons */

static void add_reason(struct pd_classification *out, const char *what, const char *source,
		       const char *rule, const char *matched, const char *field, const char *value)
{
	out->reasons = pd_xgrow(out->reasons, out->n_reasons, sizeof(*out->reasons));
	struct pd_reason *r = &out->reasons[out->n_reasons++];
	size_t n = pd_utf8_cut(matched, strlen(matched), MATCH_MAX);

	r->what = pd_xstrdup(what);
	r->source = pd_xstrdup(source);
	r->rule = pd_xstrdup(rule);
	r->matched = pd_xstrndup(matched, n);
	r->field = pd_xstrdup(field);
	r->value = pd_xstrdup(value);
	r->decided = 0;
}

/* ----------------------------------------------------------- senders */

/* Is from (an addr-spec) one of r's senders: address, "@domain" or "domain"? */
static bool sender_match(const struct pd_rule_cfg *r, const char *from)
{
	return pd_addr_listed(&r->senders, from);
}

/* ----------------------------------------------------------- headers */

/* v, without surrounding blanks, equals w in any case. */
static bool value_is(const char *v, const char *w)
{
	size_t n = strlen(w);

	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, w, n) != 0)
		return false;
	for (v += n; *v; v++)
		if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
			return false;
	return true;
}

/* X-Priority: "1 (Highest)", "2 (High)", "3 (Normal)", "4 (Low)", "5 (Lowest)". */
static int x_priority(const char *v, enum pd_priority *p)
{
	while (*v == ' ' || *v == '\t')
		v++;
	if (!isdigit((unsigned char)v[0]) || isdigit((unsigned char)v[1]))
		return -1;
	if (v[0] == '1' || v[0] == '2')
		*p = PD_PRIO_HIGH;
	else if (v[0] == '4' || v[0] == '5')
		*p = PD_PRIO_LOW;
	else
		return -1;
	return 0;
}

static int importance(const char *v, enum pd_priority *p)
{
	if (value_is(v, "high"))
		*p = PD_PRIO_HIGH;
	else if (value_is(v, "low"))
		*p = PD_PRIO_LOW;
	else
		return -1;
	return 0;
}

/* RFC 2156 Priority: urgent / normal / non-urgent. */
static int priority_hdr(const char *v, enum pd_priority *p)
{
	if (value_is(v, "urgent"))
		*p = PD_PRIO_HIGH;
	else if (value_is(v, "non-urgent"))
		*p = PD_PRIO_LOW;
	else
		return -1;
	return 0;
}

/* ------------------------------------------------------------ queues */

static const struct pd_queue_cfg *queue_named(const struct pd_classify_rules *cfg,
					      const char *name)
{
	for (size_t i = 0; i < cfg->n_queues; i++)
		if (strcmp(cfg->queues[i].name, name) == 0)
			return &cfg->queues[i];
	return NULL;
}

static const struct pd_type_cfg *type_named(const struct pd_classify_rules *cfg,
					    const char *name)
{
	for (size_t i = 0; i < cfg->n_types; i++)
		if (strcmp(cfg->types[i].name, name) == 0)
			return &cfg->types[i];
	return NULL;
}

static const struct pd_classify_mailbox *mailbox_named(const struct pd_classify_rules *cfg,
						       const char *name)
{
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		if (strcmp(cfg->mailboxes[i].name, name) == 0)
			return &cfg->mailboxes[i];
	return NULL;
}

/* The queue whose addresses list addr exactly (any case), NULL when none. */
static const struct pd_queue_cfg *queue_of_address(const struct pd_classify_rules *cfg,
						   const char *addr)
{
	for (size_t i = 0; i < cfg->n_queues; i++)
		for (size_t j = 0; j < cfg->queues[i].addresses.n; j++)
			if (pd_str_iequal(addr, cfg->queues[i].addresses.v[j]))
				return &cfg->queues[i];
	return NULL;
}

/*
 * The queue a recipient address routes to: listed in a queue; or
 * LOCAL+TAG@DOMAIN where LOCAL@DOMAIN is the support address or a queue
 * address and TAG (any case) names a queue; or, when TAG names none and
 * LOCAL@DOMAIN is a queue address, that queue.  NULL when none.
 */
static const struct pd_queue_cfg *queue_of_recipient(const struct pd_classify_rules *cfg,
						     const char *addr)
{
	const struct pd_queue_cfg *q = queue_of_address(cfg, addr);
	const char *at = strrchr(addr, '@'), *plus = strchr(addr, '+');

	if (q != NULL || at == NULL || plus == NULL || plus > at)
		return q;
	char *base = pd_xasprintf("%.*s%s", (int)(plus - addr), addr, at);
	char *tag = pd_xstrndup(plus + 1, (size_t)(at - plus - 1));
	for (char *p = tag; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const struct pd_queue_cfg *base_q = queue_of_address(cfg, base);
	if (base_q != NULL ||
	    (cfg->support_address != NULL && pd_str_iequal(base, cfg->support_address))) {
		q = queue_named(cfg, tag);
		if (q == NULL)
			q = base_q;
	}
	free(base);
	free(tag);
	return q;
}

/* Add a reason for each recipient of l that routes to a queue (once per address). */
static void recipients(const struct pd_classify_rules *cfg, const struct pd_addrlist *l,
		       const char *field, struct pd_classification *out)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *a = l->v[i].address;
		const struct pd_queue_cfg *q;
		bool seen = false;
		if (a == NULL || *a == '\0' || (q = queue_of_recipient(cfg, a)) == NULL)
			continue;
		for (size_t j = 0; j < out->n_reasons && !seen; j++)
			seen = strcmp(out->reasons[j].what, "queue") == 0 &&
			       strcmp(out->reasons[j].source, "address") == 0 &&
			       pd_str_iequal(out->reasons[j].matched, a);
		if (!seen)
			add_reason(out, "queue", "address", q->name, a, field, q->name);
	}
}

/* ---------------------------------------------------------- classify */

static const char *str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* The reason a rule gives (source, matched, field) for priority or queue. */
static void rule_reason(struct pd_classification *out, const char *what,
			const struct pd_rule_cfg *r, const struct rstate *s, const char *from,
			const char *value)
{
	if (r->senders.n > 0)
		add_reason(out, what, "sender", r->name, from, "from", value);
	else
		add_reason(out, what, "keyword", r->name, s->match_text, s->field, value);
}

/* The priority decision so far: the reason with the highest priority (the
 * first of equals) and the first final sender rule. */
struct pick {
	size_t decided;
	enum pd_priority best;
	size_t final;
};

static void consider(struct pick *pk, enum pd_priority p, size_t reason)
{
	if (pk->decided == NONE || p > pk->best) {
		pk->decided = reason;
		pk->best = p;
	}
}

/* The priority reasons of the matching rules with senders (senders = true) or without. */
static void priority_rules(const struct pd_classify_rules *cfg, const struct rstate *rs,
			   bool senders, const char *from, struct pd_classification *out,
			   struct pick *pk)
{
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct pd_rule_cfg *r = &cfg->rules[i];
		enum pd_priority p;
		if (!rs[i].matched || (r->senders.n > 0) != senders ||
		    pd_priority_parse(r->priority, &p) < 0)
			continue;
		rule_reason(out, "priority", r, &rs[i], from, pd_priority_name(p));
		consider(pk, p, out->n_reasons - 1);
		if (senders && r->final && pk->final == NONE)
			pk->final = out->n_reasons - 1;
	}
}

void pd_classify(const struct pd_classify_rules *cfg, const char *mailbox,
		 const struct pd_msg *msg, struct pd_classification *out)
{
	assert(cfg != NULL && msg != NULL && out != NULL);

	const char *from = str_or_empty(msg->from.address);
	struct rstate *rs = pd_xcalloc(cfg->n_rules ? cfg->n_rules : 1, sizeof(*rs));
	size_t left = 0, decided, first, best;
	bool temp;

	memset(out, 0, sizeof(*out));

	/* which rules match: senders first, then keywords where still needed */
	bool need_subject = false, need_body = false;
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct pd_rule_cfg *r = &cfg->rules[i];
		bool sender_ok = r->senders.n == 0 || sender_match(r, from);
		rs[i].matched = sender_ok && r->keywords.n == 0;
		rs[i].eligible = sender_ok && r->keywords.n > 0;
		if (rs[i].eligible) {
			left++;
			need_subject |= r->match_subject;
			need_body |= r->match_body;
		}
	}
	if (left > 0) {
		struct compiled *cp = compiled_get(cfg, &temp);
		uint8_t *seen = pd_xcalloc(cp->n_kw ? cp->n_kw : 1, 1);
		struct words w;
		memset(&w, 0, sizeof(w));
		if (need_subject)
			search(cp, cfg, rs, &w, msg->subject, "subject", 0, seen);
		if (need_body)
			search(cp, cfg, rs, &w, msg->body_text, "body", 1, seen);
		words_free(&w);
		type_score(cp, rs, seen);
		free(seen);
		if (temp)
			compiled_free(cp);
		for (size_t i = 0; i < cfg->n_rules; i++)
			rs[i].matched |= rs[i].hit && !rs[i].excluded;
	}

	/* priority: 1. sender rules, 2. trusted headers, 3. keyword rules */
	struct pick pk = {NONE, PD_PRIO_LOW, NONE};
	priority_rules(cfg, rs, true, from, out, &pk);
	if (cfg->trust_priority_headers) {
		const struct {
			const char *name, *value;
			int (*parse)(const char *, enum pd_priority *);
		} hdrs[] = {
			{"X-Priority", msg->x_priority, x_priority},
			{"Importance", msg->importance, importance},
			{"Priority", msg->priority_hdr, priority_hdr},
		};
		for (size_t h = 0; h < PD_ARRAY_LEN(hdrs); h++) {
			enum pd_priority p;
			if (hdrs[h].value == NULL || hdrs[h].parse(hdrs[h].value, &p) < 0)
				continue;
			add_reason(out, "priority", "header", hdrs[h].name, hdrs[h].value,
				   hdrs[h].name, pd_priority_name(p));
			consider(&pk, p, out->n_reasons - 1);
		}
	}
	priority_rules(cfg, rs, false, from, out, &pk);
	decided = pk.final != NONE ? pk.final : pk.decided;
	if (decided == NONE) {
		add_reason(out, "priority", "default", "", "", "", "normal");
		decided = out->n_reasons - 1;
	}
	out->reasons[decided].decided = 1;
	pd_priority_parse(out->reasons[decided].value, &out->priority);

	/* type: a matching sender rule with one (the first), else the keyword
	 * rule with the highest score (the first of equals), else "question" */
	first = out->n_reasons;
	best = NONE;
	unsigned best_score = 0;
	bool best_sender = false;
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct pd_rule_cfg *r = &cfg->rules[i];
		enum pd_type t;
		if (!rs[i].matched || pd_type_parse(r->type, &t) != 0)
			continue;
		rule_reason(out, "type", r, &rs[i], from, pd_type_name(t));
		bool sender = r->senders.n > 0;
		if (best == NONE || (sender && !best_sender) ||
		    (sender == best_sender && !sender && rs[i].score > best_score)) {
			best = out->n_reasons - 1;
			best_score = rs[i].score;
			best_sender = sender;
		}
	}
	if (best == NONE) {
		add_reason(out, "type", "default", "", "", "", "question");
		best = out->n_reasons - 1;
	}
	out->reasons[best].decided = 1;
	pd_type_parse(out->reasons[best].value, &out->type);
	const struct pd_type_cfg *ts = type_named(cfg, pd_type_name(out->type));

	/* queue: 1. recipients, 2. rules, 3. the type, 4. the mailbox, 5. "default" */
	first = out->n_reasons;
	recipients(cfg, &msg->to, "to", out);
	recipients(cfg, &msg->cc, "cc", out);
	recipients(cfg, &msg->delivered_to, "delivered-to", out);
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct pd_rule_cfg *r = &cfg->rules[i];
		if (rs[i].matched && r->queue != NULL)
			rule_reason(out, "queue", r, &rs[i], from, r->queue);
	}
	if (ts != NULL && ts->queue != NULL)
		add_reason(out, "queue", "type", ts->name, "", "", ts->queue);
	const struct pd_classify_mailbox *mb = mailbox ? mailbox_named(cfg, mailbox) : NULL;
	if (mb != NULL && mb->queue != NULL && strcmp(mb->queue, "default") != 0)
		add_reason(out, "queue", "mailbox", mb->name, "", "", mb->queue);
	if (out->n_reasons == first)
		add_reason(out, "queue", "default", "", "", "", "default");
	out->reasons[first].decided = 1;
	out->queue = pd_xstrdup(out->reasons[first].value);
	const struct pd_queue_cfg *q = queue_named(cfg, out->queue);
	if (ts != NULL && ts->line >= 1)
		out->line = ts->line;
	else
		out->line = q != NULL && q->line >= 1 ? q->line : 1;

	for (size_t i = 0; i < cfg->n_rules; i++)
		free(rs[i].match_text);
	free(rs);
}

void pd_classification_free(struct pd_classification *c)
{
	for (size_t i = 0; i < c->n_reasons; i++) {
		struct pd_reason *r = &c->reasons[i];
		free(r->what);
		free(r->source);
		free(r->rule);
		free(r->matched);
		free(r->field);
		free(r->value);
	}
	free(c->reasons);
	free(c->queue);
	memset(c, 0, sizeof(*c));
}
