/*
 * mime.c - raw RFC 5322 bytes -> struct pd_msg.
 *
 * The MIME parser owns everything between the bytes fetched from IMAP and
 * the decoded message model, in three files sharing mime_int.h.  This one
 * has the MIME tree walk (multipart splitting under a depth and part
 * budget), the choice of the text body, the attachment list, what the loop
 * guard decides on (the top header fields as written, the top-level type
 * and report-type, the fields of a delivery report, RFC 3464) and the
 * public entry points; mime_header.c the header block scanner, RFC 2047
 * encoded words, RFC 2231 parameters, address lists, message ids, dates and
 * the dedupe content hash; mime_codec.c which charset undeclared 8-bit text
 * is read in and the transfer decodings.
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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "html.h"
#include "mime.h"
#include "mime_int.h"
#include "ioutil.h"
#include "util.h"

/* ------------------------------------------------------------ small helpers */

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

/* ---------------------------------------------------------------- warnings */

void mime_warn(struct pctx *c, const char *fmt, ...)
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

	mime_unfold(v, len, &b);
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

		mime_hblock_parse_ex(&hb, p, e, false, true);
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
		mime_hblock_free(&hb);
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
	mime_bytes_decode(c, pt->cte, pt->body, pt->body_len, pt->ctype, &body);
	if (status) {
		dsn_status_read(d, body.data, body.data + body.len);
	} else {
		struct hblock hb;
		const struct hfield *f;

		mime_hblock_parse_ex(&hb, body.data, body.data + body.len, false, true);
		if ((f = mime_hblock_find(&hb, "Message-ID")) != NULL)
			d->returned_message_id = dsn_value(f);
		mime_hblock_free(&hb);
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
	const struct hfield *ct = mime_hblock_find(hb, "Content-Type");
	const struct hfield *cd = mime_hblock_find(hb, "Content-Disposition");
	const struct hfield *te = mime_hblock_find(hb, "Content-Transfer-Encoding");
	const struct hfield *id = mime_hblock_find(hb, "Content-ID");
	struct ctparams ps;

	memset(pt, 0, sizeof(*pt));
	pt->in_alt = (flags & W_ALT) != 0;
	pt->alt = pt->in_alt ? c->cur_alt : 0;
	pt->embedded = (flags & W_EMBED) != 0;
	if (ct != NULL) {
		mime_params_parse(ct->val, ct->vlen, &ps);
		pt->ctype = ctype_of(&ps);
		pt->charset = mime_param_raw(&ps, "charset");
		pt->boundary = mime_param_raw(&ps, "boundary");
		if (pt->ctype != NULL && strcmp(pt->ctype, "multipart/report") == 0 &&
		    (pt->report_type = mime_param_raw(&ps, "report-type")) != NULL)
			lower(pt->report_type);
		pt->filename = mime_param_text(c, &ps, "name", &pt->filename_raw);
		mime_params_free(&ps);
	}
	if (pt->ctype == NULL)
		pt->ctype = pd_xstrdup((flags & W_DIGEST) ? "message/rfc822" : "text/plain");
	if (cd != NULL) {
		mime_params_parse(cd->val, cd->vlen, &ps);
		char *raw8 = NULL, *fn = mime_param_text(c, &ps, "filename", &raw8);
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
		mime_params_free(&ps);
	}
	if (te != NULL)
		pt->cte = mime_cte_parse(te->val, te->vlen);
	if (id != NULL) {
		struct idlist ids = {NULL, 0};
		mime_ids_parse(c, id->val, id->vlen, &ids);
		if (ids.n > 0) {
			pt->content_id = ids.v[0];
			ids.v[0] = NULL;
		}
		mime_idlist_free(&ids);
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
		mime_warn(c, "MIME nesting deeper than %zu levels: inner parts not parsed", c->max_depth);
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
		mime_warn(c, "boundary of a %s not found", pt->ctype);
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
			mime_warn(c, "closing boundary of a %s missing", pt->ctype);
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
			mime_warn(c, "%s without boundary", pt.ctype);
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
		mime_bytes_decode(c, cte, body, blen, "message/rfc822", &d);
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
		mime_warn(c, "MIME structure too costly: the rest not parsed");
		c->stop = true;
		return;
	}
	if (++c->n_parts > c->max_parts) {
		mime_warn(c, "more than %zu MIME parts: the rest not parsed", c->max_parts);
		c->stop = true;
		return;
	}
	mime_hblock_parse(&hb, s, e, (flags & W_SKIPFROM) != 0);
	entity_walk(c, &hb, e, depth, flags & ~W_SKIPFROM);
	mime_hblock_free(&hb);
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

	mime_body_decode(c, pt, &raw);
	if (html && cs == NULL)
		cs = html_meta_charset(raw.data ? raw.data : "", raw.len, sniff, sizeof(sniff));
	pd_buf_init(&u);
	if (cs == NULL || !mime_conv_append(&c->cv, cs, raw.data ? raw.data : "", raw.len, &u)) {
		char canon[48];
		if (cs != NULL && pd_charset_canon(cs, canon, sizeof(canon)) != PD_CS_NONE)
			mime_warn(c, "unknown charset \"%s\" in a %s part", cs, pt->ctype);
		mime_undeclared_append(c, raw.data ? raw.data : "", raw.len, true, &u);
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

	mime_body_decode(c, pt, &d);
	if (pt->filename_raw != NULL) {
		/* undeclared 8-bit name: now read in the message's declared charset */
		struct pd_buf fb;
		pd_buf_init(&fb);
		mime_decode_words(c, pt->filename_raw, strlen(pt->filename_raw), &fb);
		char *fn = mime_finish_text(&fb);
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
		m->body_charset = mime_finish_text(&cs);
		lower(m->body_charset);
	}
	for (size_t i = 0; i < c->n_leaf; i++)
		if (is_attachment(&c->leaf[i]))
			attachment_add(c, &c->leaf[i]);
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
	ok = mime_conv_append(&cv, charset, in, len, &b);
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
	mime_unfold(value ? value : "", value ? strlen(value) : 0, &u);
	pd_buf_init(&out);
	mime_decode_words(&c, u.data ? u.data : "", u.len, &out);
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
	const struct hfield *ct = mime_hblock_find(hb, "Content-Type");
	struct ctparams ps;
	char canon[48];

	if (ct == NULL)
		return;
	mime_params_parse(ct->val, ct->vlen, &ps);
	const struct param *cs = mime_param_find(&ps, "charset");
	if (cs != NULL && pd_charset_canon(cs->value, canon, sizeof(canon)) != PD_CS_NONE) {
		snprintf(c->defcs_buf, sizeof(c->defcs_buf), "%s", cs->value);
		c->defcs = c->defcs_buf;
	}
	mime_params_free(&ps);
}

/* The top-level media type and report-type, also for a mail too large to
 * be walked. */
static void top_type(struct pd_msg *m, const struct hblock *hb)
{
	const struct hfield *ct = mime_hblock_find(hb, "Content-Type");
	struct ctparams ps;

	if (ct != NULL) {
		mime_params_parse(ct->val, ct->vlen, &ps);
		m->content_type = ctype_of(&ps);
		if (m->content_type != NULL && strcmp(m->content_type, "multipart/report") == 0 &&
		    (m->report_type = mime_param_raw(&ps, "report-type")) != NULL)
			lower(m->report_type);
		mime_params_free(&ps);
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
		if (!mime_has_8bit(f->val, f->vlen) || pd_utf8_valid(f->val, f->vlen))
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
		mime_hblock_parse(&hb, fixed.data, fixed.data + fixed.len, false);
		hb.body = raw + body_off;
		mime_warn(&c, "damaged header block repaired (text before the fields or a fold "
			 "without its blank)");
	} else {
		mime_hblock_parse(&hb, raw, raw + len, true);
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
	mime_headers_fill(&c, &hb);
	finalize(m);

	mime_hblock_free(&hb);
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
