/*
 * mime_int.h - what the files of the MIME parser share (mime.c: the MIME
 * walk, the body choice and the public entry; mime_header.c: header
 * blocks, encoded words, parameters, addresses, ids, dates, the content
 * hash; mime_codec.c: charsets of undeclared text and transfer decodings).
 * Not for use outside those files.
 */
#ifndef PD_MIME_INT_H
#define PD_MIME_INT_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "charset.h"
#include "mime.h"
#include "msg.h"
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

#define W_DIGEST 1u   /* parent is multipart/digest: parts default to message/rfc822 */
#define W_ALT 2u      /* below multipart/alternative */
#define W_EMBED 4u    /* inside an attached message */
#define W_SKIPFROM 8u /* a message top: skip an mbox "From " line */
#define W_REPORT 16u  /* inside a delivery report (never inside an attached message) */

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

/* A growable list of owned id strings. */
struct idlist {
	char **v;
	size_t n;
};

/* ------------------------------------------------------------ small helpers */

/* RFC 5322 WSP: the blanks that may start a folded line. */
static inline bool is_wsp(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* WSP plus line ends, for values that were unfolded or never folded. */
static inline bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* True when [p, e) is empty or only whitespace (the gap between two encoded words). */
static inline bool all_space(const char *p, const char *e)
{
	for (; p < e; p++)
		if (!is_space(*p))
			return false;
	return true;
}

/* Case-insensitive match of a length-delimited field name against a C string. */
static inline bool name_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && strncasecmp(name, want, nlen) == 0;
}

/* ASCII lower case in place (MIME tokens are case-insensitive, we store them lower). */
static inline void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Steal the buffer's string, always non-NULL; the buffer is left empty. */
static inline char *buf_take(struct pd_buf *b)
{
	return pd_buf_steal(b, NULL);
}

/* ------------------------------------------------ shared between the files */


/* mime.c */
void mime_warn(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* mime_codec.c */
void mime_body_decode(struct pctx *c, const struct part *pt, struct pd_buf *out);
void mime_bytes_decode(struct pctx *c, enum cte cte, const char *body, size_t len,
			 const char *what, struct pd_buf *out);
bool mime_conv_append(struct pd_charset_cache *cv, const char *label, const char *in,
			size_t len, struct pd_buf *out);
enum cte mime_cte_parse(const char *v, size_t len);
void mime_raw_append(struct pctx *c, const char *s, size_t len, struct pd_buf *out);
void mime_undeclared_append(struct pctx *c, const char *s, size_t len, bool whole,
			      struct pd_buf *out);

/* mime_header.c */
void mime_decode_words(struct pctx *c, const char *s, size_t len, struct pd_buf *out);
char *mime_finish_text(struct pd_buf *b);
bool mime_has_8bit(const char *s, size_t n);
const struct hfield *mime_hblock_find(const struct hblock *hb, const char *name);
void mime_hblock_free(struct hblock *hb);
void mime_hblock_parse(struct hblock *hb, const char *s, const char *e, bool skip_from);
void mime_hblock_parse_ex(struct hblock *hb, const char *s, const char *e, bool skip_from,
			    bool skip_junk);
void mime_headers_fill(struct pctx *c, const struct hblock *hb);
void mime_idlist_free(struct idlist *l);
void mime_ids_parse(struct pctx *c, const char *v, size_t len, struct idlist *out);
const struct param *mime_param_find(const struct ctparams *ps, const char *name);
char *mime_param_raw(const struct ctparams *ps, const char *name);
char *mime_param_text(struct pctx *c, const struct ctparams *ps, const char *name,
			char **raw8_r);
void mime_params_free(struct ctparams *ps);
void mime_params_parse(const char *v, size_t len, struct ctparams *ps);
void mime_unfold(const char *v, size_t len, struct pd_buf *out);

#endif
