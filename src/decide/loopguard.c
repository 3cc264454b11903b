/*
 * loopguard.c - may postdesk answer this mail automatically? (pure: no I/O)
 *
 * Owns the loop-protection rules (RFC 3834 and what mature mail software
 * checks in practice), a small raw header scanner for the fields the MIME
 * parser does not keep, and a reader for RFC 3464 delivery status
 * notifications that finds which of our messages bounced and for whom.
 *
 * Everything here reads borrowed bytes and allocates only its results and
 * short-lived scratch buffers; every scan is bounded (header block size,
 * value size, MIME depth, part count, decoded size).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loopguard.h"
#include "util.h"

#define DSN_MAX_DEPTH 8          /* multipart nesting followed in a DSN */
#define DSN_MAX_PARTS 256        /* parts looked at in one DSN */
#define DSN_MAX_DECODED (1u << 20) /* decoded bytes of one base64/QP part */
#define ID_MAX 998               /* longest message id or address kept */

/* ------------------------------------------------------------ lines */

/* Skip a leading mbox "From " line. */
static const char *skip_from_line(const char *p, const char *end)
{
	const char *nl;

	if (end - p < 5 || memcmp(p, "From ", 5) != 0)
		return p;
	nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl + 1 : end;
}

/* The line at p: *eol_r is its end without CR LF, the return value the start
 * of the next line (end when none). */
static const char *line_next(const char *p, const char *end, const char **eol_r)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *eol = nl ? nl : end;

	if (eol > p && eol[-1] == '\r')
		eol--;
	*eol_r = eol;
	return nl ? nl + 1 : end;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ------------------------------------------------------ header fields */

/*
 * Iterator over the fields of a header block or of the groups of a
 * message/delivery-status body.  A line that is neither a field nor a
 * continuation (no colon: garbage real mail contains) is skipped.
 */
struct field_it {
	const char *p, *end;
};

enum field_ret { FIELD_END = -1, FIELD_BLANK = 0, FIELD_OK = 1 };

/*
 * Next field: its name in *name_r and *nlen_r, its unfolded, trimmed value
 * (at most PD_LOOPGUARD_HEADER_MAX bytes) in val.  FIELD_BLANK for an empty
 * line (end of a header block, end of a DSN group), FIELD_END at the end.
 */
static enum field_ret field_next(struct field_it *it, const char **name_r, size_t *nlen_r,
				 struct pd_buf *val)
{
	const char *eol, *next, *colon, *ne;

	for (;;) {
		if (it->p >= it->end)
			return FIELD_END;
		next = line_next(it->p, it->end, &eol);
		if (eol == it->p) {
			it->p = next;
			return FIELD_BLANK;
		}
		if (is_wsp(*it->p)) { /* stray continuation: no field to continue */
			it->p = next;
			continue;
		}
		colon = memchr(it->p, ':', (size_t)(eol - it->p));
		if (colon == NULL || colon == it->p) {
			it->p = next;
			continue;
		}
		/* obsolete syntax allows white space before the colon */
		ne = colon;
		while (ne > it->p && is_wsp(ne[-1]))
			ne--;
		*name_r = it->p;
		*nlen_r = (size_t)(ne - it->p);
		pd_buf_reset(val);
		for (colon++; colon < eol && is_wsp(*colon); colon++)
			;
		/* one byte more than kept, so that the cut below happens */
		pd_buf_append(val, colon,
			      (size_t)(eol - colon) > PD_LOOPGUARD_HEADER_MAX
				      ? PD_LOOPGUARD_HEADER_MAX + 1
				      : (size_t)(eol - colon));
		it->p = next;
		/* continuation lines: unfold by dropping the line break */
		while (it->p < it->end && is_wsp(*it->p)) {
			next = line_next(it->p, it->end, &eol);
			if (val->len < PD_LOOPGUARD_HEADER_MAX)
				pd_buf_append(val, it->p, (size_t)(eol - it->p));
			it->p = next;
		}
		if (val->len > PD_LOOPGUARD_HEADER_MAX) {
			val->len = PD_LOOPGUARD_HEADER_MAX;
			val->data[val->len] = '\0';
		}
		pd_str_trim(val->data);
		val->len = strlen(val->data);
		return FIELD_OK;
	}
}

static bool name_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && strncasecmp(name, want, nlen) == 0;
}

/* The nth (0-based) field called name in the header block at p..end, or
 * NULL.  The scan stops at the first empty line. */
static char *hblock_field(const char *p, const char *end, const char *name, size_t nth)
{
	struct field_it it = {p, end};
	struct pd_buf val;
	const char *fname;
	size_t nlen;
	enum field_ret r;

	if ((size_t)(end - p) > PD_LOOPGUARD_HEADER_SCAN)
		it.end = p + PD_LOOPGUARD_HEADER_SCAN;
	pd_buf_init(&val);
	while ((r = field_next(&it, &fname, &nlen, &val)) == FIELD_OK) {
		if (name_is(fname, nlen, name) && nth-- == 0)
			return pd_buf_steal(&val, NULL);
	}
	pd_buf_free(&val);
	return NULL;
}

char *pd_loopguard_header(const char *raw, size_t len, const char *name)
{
	if (raw == NULL || name == NULL)
		return NULL;
	return hblock_field(skip_from_line(raw, raw + len), raw + len, name, 0);
}

/* Where the body of the entity at p..end starts (after the empty line), or
 * end when there is none. */
static const char *body_start(const char *p, const char *end)
{
	const char *eol, *next;

	while (p < end) {
		next = line_next(p, end, &eol);
		if (eol == p)
			return next;
		p = next;
	}
	return end;
}

/* ---------------------------------------------------- structured values */

/* Copy of v without RFC 5322 comments (outside quoted strings). */
static char *uncomment(const char *v)
{
	char *out = pd_xmalloc(strlen(v) + 1), *o = out;
	int depth = 0;
	bool quoted = false;

	for (const char *p = v; *p; p++) {
		if (*p == '\\' && p[1] != '\0' && (quoted || depth > 0)) {
			if (depth == 0) {
				*o++ = *p++;
				*o++ = *p;
			} else {
				p++;
			}
			continue;
		}
		if (quoted) {
			if (*p == '"')
				quoted = false;
			*o++ = *p;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && depth > 0) {
			depth--;
		} else if (depth == 0) {
			if (*p == '"')
				quoted = true;
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* The first token of v (comments removed), lower case, up to ';', ',' or
 * white space; newly allocated, "" when none. */
static char *first_token(const char *v)
{
	char *u = uncomment(v), *p = u, *s;

	while (isspace((unsigned char)*p))
		p++;
	s = p;
	while (*p && *p != ';' && *p != ',' && !isspace((unsigned char)*p)) {
		*p = (char)tolower((unsigned char)*p);
		p++;
	}
	*p = '\0';
	memmove(u, s, strlen(s) + 1);
	return u;
}

/* Media type of a Content-Type value ("multipart/report"), lower case,
 * newly allocated; "" when none. */
static char *ct_type(const char *v)
{
	char *u = uncomment(v), *p = u, *s;

	while (isspace((unsigned char)*p))
		p++;
	s = p;
	while (*p && *p != ';' && !isspace((unsigned char)*p)) {
		*p = (char)tolower((unsigned char)*p);
		p++;
	}
	*p = '\0';
	memmove(u, s, strlen(s) + 1);
	return u;
}

/* Value of parameter name of a Content-Type value (case-insensitive name,
 * quotes removed), newly allocated, or NULL. */
static char *ct_param(const char *v, const char *name)
{
	char *u = uncomment(v), *res = NULL;
	const char *p = u;
	size_t want = strlen(name);

	/* skip the type itself */
	while (*p && *p != ';')
		p++;
	while (*p == ';' && res == NULL) {
		const char *n, *ne;
		struct pd_buf b;

		p++;
		while (isspace((unsigned char)*p))
			p++;
		n = p;
		while (*p && *p != '=' && *p != ';' && !isspace((unsigned char)*p))
			p++;
		ne = p;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=') {
			while (*p && *p != ';')
				p++;
			continue;
		}
		p++;
		while (isspace((unsigned char)*p))
			p++;
		pd_buf_init(&b);
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				pd_buf_append_char(&b, *p);
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ';' && !isspace((unsigned char)*p))
				pd_buf_append_char(&b, *p++);
		}
		while (*p && *p != ';')
			p++;
		if ((size_t)(ne - n) == want && strncasecmp(n, name, want) == 0)
			res = pd_buf_steal(&b, NULL);
		else
			pd_buf_free(&b);
	}
	free(u);
	return res;
}

static bool report_type_is_dsn(const char *ct)
{
	char *type = ct_type(ct), *rt;
	bool yes = false;

	if (strcmp(type, "multipart/report") == 0) {
		rt = ct_param(ct, "report-type");
		yes = rt != NULL && (pd_str_iequal(rt, "delivery-status") ||
				     pd_str_iequal(rt, "global-delivery-status"));
		free(rt);
	}
	free(type);
	return yes;
}

bool pd_loopguard_is_dsn(const char *raw, size_t len)
{
	char *ct = pd_loopguard_header(raw, len, "Content-Type");
	bool yes = ct != NULL && report_type_is_dsn(ct);

	free(ct);
	return yes;
}

/* The id in "<id>" (the first one; comments and white space around it
 * ignored), else the first word; newly allocated, NULL when none. */
static char *extract_id(const char *v)
{
	char *u = uncomment(v), *res = NULL;
	char *lt = strchr(u, '<'), *gt;

	if (lt != NULL && (gt = strchr(lt + 1, '>')) != NULL) {
		*gt = '\0';
		pd_str_trim(lt + 1);
		if (lt[1] != '\0' && strlen(lt + 1) <= ID_MAX)
			res = pd_xstrdup(lt + 1);
	} else if (lt == NULL) {
		char *p = pd_str_trim(u);
		size_t n = strcspn(p, " \t");
		if (n > 0 && n <= ID_MAX)
			res = pd_xstrndup(p, n);
	}
	free(u);
	return res;
}

/* -------------------------------------------------- transfer decoding */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Base64 (junk characters skipped, stops at '=') into out, at most max bytes. */
static void b64_decode(const char *p, const char *end, struct pd_buf *out, size_t max)
{
	unsigned acc = 0;
	int bits = 0, v;

	for (; p < end && *p != '=' && out->len < max; p++) {
		if ((v = b64val((unsigned char)*p)) < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			pd_buf_append_char(out, (char)((acc >> bits) & 0xff));
		}
	}
}

/* Quoted-printable into out, at most max bytes. */
static void qp_decode(const char *p, const char *end, struct pd_buf *out, size_t max)
{
	while (p < end && out->len < max) {
		if (*p != '=') {
			pd_buf_append_char(out, *p++);
			continue;
		}
		if (end - p >= 3 && pd_hexval(p[1]) >= 0 && pd_hexval(p[2]) >= 0) {
			pd_buf_append_char(out, (char)(pd_hexval(p[1]) * 16 + pd_hexval(p[2])));
			p += 3;
			continue;
		}
		/* soft line break: "=" then white space to the end of the line */
		const char *q = p + 1;
		while (q < end && is_wsp(*q))
			q++;
		if (q < end && *q == '\r')
			q++;
		if (q < end && *q == '\n') {
			p = q + 1;
			continue;
		}
		if (q >= end) {
			p = end;
			continue;
		}
		pd_buf_append_char(out, *p++);
	}
}

/* ----------------------------------------------------------------- DSN */

struct dsn_rcpt {
	char *final, *orig;  /* addresses, no type, no <> */
	char *action;        /* first word, lower case */
	char *status;        /* "5.1.1" */
};

struct dsn_ctx {
	bool is_dsn;
	size_t parts;
	char *id_status;     /* Original-Message-ID of the delivery-status part */
	char *id_returned;   /* Message-ID of the returned message */
	struct dsn_rcpt best;
	int best_rank;       /* 0 = none yet */
};

static void rcpt_free(struct dsn_rcpt *r)
{
	free(r->final);
	free(r->orig);
	free(r->action);
	free(r->status);
	memset(r, 0, sizeof(*r));
}

/*
 * The address of a Final-/Original-Recipient value "rfc822; <a@b>"; NULL
 * when the address type is one we cannot mail (x400, unknown) or empty.
 */
static char *dsn_address(const char *v)
{
	char *u = uncomment(v), *a = u, *semi = strchr(u, ';'), *res = NULL;
	size_t n;

	if (semi != NULL) {
		*semi = '\0';
		pd_str_trim(u);
		if (!pd_str_iequal(u, "rfc822") && !pd_str_iequal(u, "utf-8")) {
			free(u);
			return NULL;
		}
		a = semi + 1;
	}
	a = pd_str_trim(a);
	if (*a == '<') {
		a++;
		a[strcspn(a, ">")] = '\0';
		a = pd_str_trim(a);
	}
	n = strcspn(a, " \t");
	if (n > 0 && n <= ID_MAX)
		res = pd_xstrndup(a, n);
	free(u);
	return res;
}

/* How good a recipient group is as "the" failed recipient. */
static int rcpt_rank(const struct dsn_rcpt *r)
{
	if (r->final == NULL && r->orig == NULL)
		return 0;
	if (r->action != NULL && strcmp(r->action, "failed") == 0)
		return r->status != NULL && r->status[0] == '5' ? 4 : 3;
	if (r->action != NULL && strcmp(r->action, "delayed") == 0)
		return 2;
	return 1;
}

static void rcpt_offer(struct dsn_ctx *c, struct dsn_rcpt *r)
{
	int rank = rcpt_rank(r);

	if (rank > c->best_rank) {
		rcpt_free(&c->best);
		c->best = *r;
		c->best_rank = rank;
		memset(r, 0, sizeof(*r));
	} else {
		rcpt_free(r);
	}
}

static void set_once(char **dst, char *value)
{
	if (*dst == NULL)
		*dst = value;
	else
		free(value);
}

/* The fields of a message/delivery-status body: groups separated by blank
 * lines; the first is per message, the others per recipient. */
static void dsn_status_parse(struct dsn_ctx *c, const char *p, const char *end)
{
	struct field_it it = {p, end};
	struct dsn_rcpt r = {NULL, NULL, NULL, NULL};
	struct pd_buf val;
	const char *name;
	size_t nlen;
	enum field_ret ret;

	pd_buf_init(&val);
	do {
		ret = field_next(&it, &name, &nlen, &val);
		if (ret != FIELD_OK) {
			rcpt_offer(c, &r);
			continue;
		}
		if (name_is(name, nlen, "Original-Message-ID") ||
		    name_is(name, nlen, "X-Original-Message-ID"))
			set_once(&c->id_status, extract_id(val.data));
		else if (name_is(name, nlen, "Final-Recipient"))
			set_once(&r.final, dsn_address(val.data));
		else if (name_is(name, nlen, "Original-Recipient"))
			set_once(&r.orig, dsn_address(val.data));
		else if (name_is(name, nlen, "Action"))
			set_once(&r.action, first_token(val.data));
		else if (name_is(name, nlen, "Status"))
			set_once(&r.status, first_token(val.data));
	} while (ret != FIELD_END);
	pd_buf_free(&val);
}

/* The body of a part, transfer-decoded into scratch when needed. */
static void part_body(const char *hstart, const char *b, const char *end, struct pd_buf *scratch,
		      const char **p_r, const char **end_r)
{
	char *cte = hblock_field(hstart, b, "Content-Transfer-Encoding", 0);
	char *enc = cte ? first_token(cte) : NULL;

	*p_r = b;
	*end_r = end;
	if (enc != NULL && (strcmp(enc, "base64") == 0 || strcmp(enc, "quoted-printable") == 0)) {
		pd_buf_reset(scratch);
		if (enc[0] == 'b')
			b64_decode(b, end, scratch, DSN_MAX_DECODED);
		else
			qp_decode(b, end, scratch, DSN_MAX_DECODED);
		*p_r = scratch->data;
		*end_r = scratch->data + scratch->len;
	}
	free(cte);
	free(enc);
}

/*
 * Find the next delimiter line "--boundary" or "--boundary--" at or after
 * p (p is at a line start).  Returns the start of that line or NULL;
 * *after_r is the start of the line after it, *close_r tells the end.
 */
static const char *find_delim(const char *p, const char *end, const char *bnd, size_t blen,
			      const char **after_r, bool *close_r)
{
	const char *eol, *next, *q;

	while (p < end) {
		next = line_next(p, end, &eol);
		if ((size_t)(eol - p) >= blen + 2 && p[0] == '-' && p[1] == '-' &&
		    memcmp(p + 2, bnd, blen) == 0) {
			q = p + 2 + blen;
			*close_r = eol - q >= 2 && q[0] == '-' && q[1] == '-';
			if (*close_r)
				q += 2;
			while (q < eol && is_wsp(*q))
				q++;
			if (q == eol) {
				*after_r = next;
				return p;
			}
		}
		p = next;
	}
	return NULL;
}

static void dsn_walk(struct dsn_ctx *c, const char *p, const char *end, unsigned depth,
		     bool in_report, const char *default_type);

/* The children of a multipart entity with body b..end. */
static void dsn_multipart(struct dsn_ctx *c, const char *ct, const char *type, const char *b,
			  const char *end, unsigned depth, bool in_report)
{
	char *bnd = ct_param(ct, "boundary");
	const char *child_type = strcmp(type, "multipart/digest") == 0 ? "message/rfc822"
								       : "text/plain";
	const char *after, *d, *start;
	bool close = false;
	size_t blen;

	if (bnd == NULL || *bnd == '\0' || depth >= DSN_MAX_DEPTH) {
		free(bnd);
		return;
	}
	blen = strlen(bnd);
	d = find_delim(b, end, bnd, blen, &after, &close);
	while (d != NULL && !close && c->parts < DSN_MAX_PARTS) {
		const char *pend;

		start = after;
		d = find_delim(start, end, bnd, blen, &after, &close);
		pend = d ? d : end;
		/* the line break before a delimiter belongs to the delimiter */
		if (pend > start && pend[-1] == '\n')
			pend--;
		if (pend > start && pend[-1] == '\r')
			pend--;
		c->parts++;
		dsn_walk(c, start, pend, depth + 1, in_report, child_type);
	}
	free(bnd);
}

/* One entity p..end (header block and body). */
static void dsn_walk(struct dsn_ctx *c, const char *p, const char *end, unsigned depth,
		     bool in_report, const char *default_type)
{
	const char *b = body_start(p, end), *bp, *bend;
	char *ct = hblock_field(p, b, "Content-Type", 0);
	char *type = ct ? ct_type(ct) : pd_xstrdup(default_type);
	struct pd_buf scratch;

	pd_buf_init(&scratch);
	if (strncmp(type, "multipart/", 10) == 0) {
		bool report = report_type_is_dsn(ct);
		if (report)
			c->is_dsn = true;
		dsn_multipart(c, ct, type, b, end, depth, in_report || report);
	} else if (in_report && (strcmp(type, "message/delivery-status") == 0 ||
				 strcmp(type, "message/global-delivery-status") == 0)) {
		part_body(p, b, end, &scratch, &bp, &bend);
		dsn_status_parse(c, bp, bend);
	} else if (in_report && c->id_returned == NULL &&
		   (strcmp(type, "message/rfc822") == 0 || strcmp(type, "text/rfc822-headers") == 0 ||
		    strcmp(type, "message/global") == 0 ||
		    strcmp(type, "message/global-headers") == 0)) {
		char *mid;
		part_body(p, b, end, &scratch, &bp, &bend);
		mid = hblock_field(bp, bend, "Message-ID", 0);
		if (mid != NULL)
			c->id_returned = extract_id(mid);
		free(mid);
	}
	pd_buf_free(&scratch);
	free(type);
	free(ct);
}

int pd_loopguard_dsn(const char *raw, size_t len, char **original_message_id_r,
		     char **failed_recipient_r, bool *permanent_r)
{
	struct dsn_ctx c;
	char *id = NULL, *rcpt = NULL;
	bool permanent = false;
	const char *start;

	if (original_message_id_r)
		*original_message_id_r = NULL;
	if (failed_recipient_r)
		*failed_recipient_r = NULL;
	if (permanent_r)
		*permanent_r = false;
	if (raw == NULL)
		return 0;

	memset(&c, 0, sizeof(c));
	start = skip_from_line(raw, raw + len);
	dsn_walk(&c, start, raw + len, 0, false, "text/plain");
	if (c.is_dsn) {
		id = c.id_status ? c.id_status : c.id_returned;
		if (id == c.id_status)
			c.id_status = NULL;
		else
			c.id_returned = NULL;
		if (c.best_rank > 0) {
			rcpt = c.best.orig ? c.best.orig : c.best.final;
			if (rcpt == c.best.orig)
				c.best.orig = NULL;
			else
				c.best.final = NULL;
			permanent = c.best_rank == 4;
		} else {
			/* Exim and Gmail also name the failed addresses in a header */
			char *xf = pd_loopguard_header(raw, len, "X-Failed-Recipients");
			if (xf != NULL) {
				char *a = xf + strspn(xf, " \t,");
				size_t n = strcspn(a, " \t,");
				if (n > 0 && n <= ID_MAX) {
					char *tok = pd_xstrndup(a, n);
					rcpt = dsn_address(tok);
					free(tok);
				}
				free(xf);
			}
		}
	}
	free(c.id_status);
	free(c.id_returned);
	rcpt_free(&c.best);
	/* both become SQL text parameters (store.c): bytes that are not UTF-8
	 * name neither one of our messages nor an address we mailed */
	if (id != NULL && !pd_utf8_valid(id, strlen(id))) {
		free(id);
		id = NULL;
	}
	if (rcpt != NULL && !pd_utf8_valid(rcpt, strlen(rcpt))) {
		free(rcpt);
		rcpt = NULL;
	}

	if (id == NULL && rcpt == NULL)
		return 0;
	if (original_message_id_r)
		*original_message_id_r = id;
	else
		free(id);
	if (failed_recipient_r)
		*failed_recipient_r = rcpt;
	else
		free(rcpt);
	if (permanent_r)
		*permanent_r = permanent;
	return 1;
}

/* -------------------------------------------------------------- rules */

/* A header of the message: the parsed field when the parser kept it, else
 * the raw header block.  Newly allocated or NULL. */
static char *msg_header(const struct pd_msg *m, const char *parsed, const char *name)
{
	if (parsed != NULL)
		return pd_xstrdup(parsed);
	if (m->raw == NULL)
		return NULL;
	return pd_loopguard_header(m->raw, m->raw_len, name);
}

static bool raw_has(const struct pd_msg *m, const char *name)
{
	char *v = m->raw ? pd_loopguard_header(m->raw, m->raw_len, name) : NULL;
	bool yes = v != NULL;

	free(v);
	return yes;
}

/* Split addr at its last '@': local part length and domain; false when
 * there is no '@'. */
static bool addr_split(const char *addr, size_t *llen_r, const char **domain_r)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL)
		return false;
	*llen_r = (size_t)(at - addr);
	*domain_r = at + 1;
	return true;
}

/* Length of the local part without a "+tag". */
static size_t local_base_len(const char *addr, size_t llen)
{
	const char *plus = memchr(addr, '+', llen);

	return plus ? (size_t)(plus - addr) : llen;
}

/* addr equals own, or is a plus-address of it (support+x@ for support@). */
static bool addr_is_own(const char *addr, const char *own)
{
	size_t al, ol;
	const char *ad, *od;

	if (!addr_split(addr, &al, &ad) || !addr_split(own, &ol, &od))
		return false;
	if (!pd_str_iequal(ad, od))
		return false;
	if (al == ol)
		return strncasecmp(addr, own, al) == 0;
	return al > ol && addr[ol] == '+' && strncasecmp(addr, own, ol) == 0;
}

static bool is_role_local(const char *local, size_t n)
{
	static const char *const roles[] = {
		"mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster",
		"noreply",       "no-reply",      "no_reply",     "donotreply",
		"do-not-reply",  "do_not_reply",  "bounce",       "bounces",
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(roles); i++)
		if (strlen(roles[i]) == n && strncasecmp(local, roles[i], n) == 0)
			return true;
	return false;
}

/* The local part (without +tag) of addr is a role account. */
static bool addr_is_role(const char *addr)
{
	size_t llen;
	const char *domain;

	if (!addr_split(addr, &llen, &domain))
		return false;
	return is_role_local(addr, local_base_len(addr, llen));
}

/* Return-Path <> (or empty), or the MAILER-DAEMON envelope sender that
 * some MTAs write for it. */
static bool null_sender(const char *rp)
{
	char *u = uncomment(rp), *p = pd_str_trim(u);
	bool yes;

	if (*p == '<') {
		p++;
		p[strcspn(p, ">")] = '\0';
		p = pd_str_trim(p);
	}
	if (*p == '\0') {
		yes = true;
	} else {
		size_t llen;
		const char *domain;
		if (!addr_split(p, &llen, &domain))
			llen = strlen(p);
		yes = (llen == 13 && strncasecmp(p, "mailer-daemon", 13) == 0);
	}
	free(u);
	return yes;
}

/* A comma/space separated list v contains one of words (case-insensitive). */
static bool list_has(const char *v, const char *const *words, size_t n)
{
	const char *p = v;

	while (*p) {
		size_t len;
		p += strspn(p, " \t,;");
		len = strcspn(p, " \t,;");
		for (size_t i = 0; i < n && len > 0; i++)
			if (strlen(words[i]) == len && strncasecmp(p, words[i], len) == 0)
				return true;
		p += len;
	}
	return false;
}

/* The mail carries our X-Postdesk-Loop field (any of them). */
static bool has_our_loop_field(const struct pd_msg *m, const char *want)
{
	bool yes = false;
	char *v;

	if (m->raw == NULL)
		return false;
	for (size_t i = 0; !yes && i < 32; i++) {
		const char *start = skip_from_line(m->raw, m->raw + m->raw_len);
		v = hblock_field(start, m->raw + m->raw_len, "X-Postdesk-Loop", i);
		if (v == NULL)
			break;
		yes = want == NULL || *want == '\0' || pd_str_iequal(v, want);
		free(v);
	}
	return yes;
}

static enum pd_loop_verdict rule_own(const struct pd_loop_input *in, const char *from,
				     const char **why)
{
	for (size_t i = 0; in->own_addresses != NULL && i < in->n_own; i++) {
		if (in->own_addresses[i] != NULL && addr_is_own(from, in->own_addresses[i])) {
			*why = "sender is one of our own addresses";
			return PD_LOOP_OWN;
		}
	}
	if (in->has_loop_header || has_our_loop_field(in->msg, in->loop_header_value)) {
		*why = "carries our X-Postdesk-Loop header";
		return PD_LOOP_OWN;
	}
	return PD_LOOP_OK;
}

static enum pd_loop_verdict rule_bounce(const struct pd_loop_input *in, const char **why)
{
	const struct pd_msg *m = in->msg;
	char *rp = msg_header(m, m->return_path, "Return-Path");
	bool null = rp != NULL && null_sender(rp);

	free(rp);
	if (null) {
		*why = "null sender (Return-Path <>)";
		return PD_LOOP_BOUNCE;
	}
	if (in->is_dsn || (m->raw != NULL && pd_loopguard_is_dsn(m->raw, m->raw_len))) {
		*why = "delivery status notification (multipart/report)";
		return PD_LOOP_BOUNCE;
	}
	return PD_LOOP_OK;
}

static enum pd_loop_verdict rule_auto(const struct pd_loop_input *in, const char **why)
{
	static const char *const autoresponders[] = {
		"X-Autoreply",
		"X-Autorespond",
		"X-Autogenerated",
		"X-AutoReply-From",
	};
	const struct pd_msg *m = in->msg;
	enum pd_loop_verdict v = PD_LOOP_OK;
	char *as = msg_header(m, m->auto_submitted, "Auto-Submitted"), *tok, *prec, *ct;

	if (as != NULL) {
		tok = first_token(as);
		if (strcmp(tok, "no") != 0) {
			*why = "Auto-Submitted other than no";
			v = PD_LOOP_AUTO_SUBMITTED;
		}
		free(tok);
		free(as);
		if (v != PD_LOOP_OK)
			return v;
	}
	for (size_t i = 0; i < PD_ARRAY_LEN(autoresponders); i++) {
		if (raw_has(m, autoresponders[i])) {
			*why = "autoresponder header (X-Autoreply and the like)";
			return PD_LOOP_AUTO_SUBMITTED;
		}
	}
	prec = msg_header(m, m->precedence, "Precedence");
	if (prec != NULL) {
		tok = first_token(prec);
		if (strcmp(tok, "auto_reply") == 0 || strcmp(tok, "auto-reply") == 0) {
			*why = "Precedence: auto_reply";
			v = PD_LOOP_AUTO_SUBMITTED;
		}
		free(tok);
		free(prec);
		if (v != PD_LOOP_OK)
			return v;
	}
	/* read receipts, abuse and TLS reports: machine-made, never answer */
	ct = m->raw ? pd_loopguard_header(m->raw, m->raw_len, "Content-Type") : NULL;
	if (ct != NULL) {
		char *type = ct_type(ct);
		if (strcmp(type, "multipart/report") == 0) {
			*why = "machine-made report (multipart/report, e.g. a read receipt)";
			v = PD_LOOP_AUTO_SUBMITTED;
		}
		free(type);
		free(ct);
	}
	return v;
}

static enum pd_loop_verdict rule_suppress(const struct pd_loop_input *in, const char **why)
{
	/* Exchange: DR, NDR, RN, NRN only suppress receipts, not answers */
	static const char *const words[] = {"All", "AutoReply", "OOF"};
	char *v = in->msg->raw ? pd_loopguard_header(in->msg->raw, in->msg->raw_len,
						     "X-Auto-Response-Suppress")
			       : NULL;
	bool yes = v != NULL && list_has(v, words, PD_ARRAY_LEN(words));

	free(v);
	if (!yes)
		return PD_LOOP_OK;
	*why = "X-Auto-Response-Suppress asks for no automatic answer";
	return PD_LOOP_SUPPRESS;
}

static enum pd_loop_verdict rule_bulk(const struct pd_loop_input *in, const char **why)
{
	const struct pd_msg *m = in->msg;
	char *prec = msg_header(m, m->precedence, "Precedence"), *lid;
	bool yes = false;

	if (prec != NULL) {
		char *tok = first_token(prec);
		yes = strcmp(tok, "bulk") == 0 || strcmp(tok, "junk") == 0 ||
		      strcmp(tok, "list") == 0;
		free(tok);
		free(prec);
	}
	if (yes) {
		*why = "Precedence: bulk, junk or list";
		return PD_LOOP_BULK;
	}
	lid = msg_header(m, m->list_id, "List-Id");
	if (lid != NULL) {
		free(lid);
		*why = "mailing list (List-Id)";
		return PD_LOOP_BULK;
	}
	if (raw_has(m, "List-Unsubscribe")) {
		*why = "mailing list or newsletter (List-Unsubscribe)";
		return PD_LOOP_BULK;
	}
	return PD_LOOP_OK;
}

static enum pd_loop_verdict decide(const struct pd_loop_input *in, const char **why)
{
	const char *from;
	enum pd_loop_verdict v;

	if (in == NULL || in->msg == NULL || in->msg->from.address == NULL ||
	    strchr(in->msg->from.address, '@') == NULL) {
		*why = "no usable sender address";
		return PD_LOOP_NO_ADDRESS;
	}
	from = in->msg->from.address;
	if ((v = rule_own(in, from, why)) != PD_LOOP_OK)
		return v;
	if ((v = rule_bounce(in, why)) != PD_LOOP_OK)
		return v;
	if (addr_is_role(from)) {
		*why = "role sender (MAILER-DAEMON, postmaster, noreply...)";
		return PD_LOOP_ROLE_SENDER;
	}
	if ((v = rule_auto(in, why)) != PD_LOOP_OK)
		return v;
	if ((v = rule_suppress(in, why)) != PD_LOOP_OK)
		return v;
	if ((v = rule_bulk(in, why)) != PD_LOOP_OK)
		return v;
	if (in->sender_suppressed) {
		*why = "sender suppressed after a permanent delivery failure";
		return PD_LOOP_SUPPRESSED;
	}
	if (in->limit_recent > 0 && in->auto_sent_recent >= in->limit_recent) {
		*why = "rate limit for automatic mail (short window) reached";
		return PD_LOOP_RATE;
	}
	if (in->limit_day > 0 && in->auto_sent_day >= in->limit_day) {
		*why = "rate limit for automatic mail (24 h) reached";
		return PD_LOOP_RATE;
	}
	*why = "no rule matched";
	return PD_LOOP_OK;
}

enum pd_loop_verdict pd_loopguard_check(const struct pd_loop_input *in, const char **reason_r)
{
	const char *why = NULL;
	enum pd_loop_verdict v = decide(in, &why);

	if (reason_r != NULL)
		*reason_r = why;
	return v;
}

const char *pd_loop_verdict_name(enum pd_loop_verdict v)
{
	switch (v) {
	case PD_LOOP_OK:
		return "ok";
	case PD_LOOP_AUTO_SUBMITTED:
		return "auto-submitted";
	case PD_LOOP_BULK:
		return "bulk";
	case PD_LOOP_SUPPRESS:
		return "suppress";
	case PD_LOOP_BOUNCE:
		return "bounce";
	case PD_LOOP_ROLE_SENDER:
		return "role-sender";
	case PD_LOOP_OWN:
		return "own";
	case PD_LOOP_RATE:
		return "rate";
	case PD_LOOP_SUPPRESSED:
		return "suppressed";
	case PD_LOOP_NO_ADDRESS:
		return "no-address";
	}
	return "unknown";
}
