/*
 * mimeout.c - the MIME body of an outbound mail.  See mimeout.h.
 *
 * The structure is built as a tree of libetpan `struct mailmime` and written
 * by mailmime_write_mem(), which chooses the boundaries and does the
 * quoted-printable and base64 encoding; the part data is referenced, not
 * copied.  File names are written as a plain quoted filename= when they are
 * ASCII, as an RFC 2231 filename*=utf-8''... otherwise (libetpan writes
 * parameters as it is given them), the same for the Content-Type name.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <libetpan/libetpan.h>

#include "mimeout.h"
#include "render.h"

/* "type/subtype" made of token characters, else NULL. */
static bool ctype_ok(const char *s)
{
	size_t slash = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 200)
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '/') {
			if (slash++ || p == s || p[1] == '\0')
				return false;
		} else if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"[]?=", c) != NULL) {
			return false;
		}
	}
	return slash == 1;
}

/* Copy of a file name without control characters, quotes and backslashes
 * (which no file name needs and some clients mishandle). */
static char *clean_name(const char *s)
{
	char *c = pd_xstrdup(s);

	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
			*p = ' ';
	return c;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* RFC 2231 value "utf-8''percent-encoded". */
static char *rfc2231(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct pd_buf b;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "utf-8''");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("!#$&+-.^_`|~", *p) != NULL) {
			pd_buf_append_char(&b, (char)*p);
		} else {
			pd_buf_append_char(&b, '%');
			pd_buf_append_char(&b, hex[*p >> 4]);
			pd_buf_append_char(&b, hex[*p & 15]);
		}
	}
	return pd_buf_steal(&b, NULL);
}

static void content_param(struct mailmime_content *ct, const char *name, const char *value)
{
	char *n = pd_xstrdup(name), *v = pd_xstrdup(value);
	/* libetpan copies both */
	struct mailmime_parameter *p = mailmime_param_new_with_data(n, v);

	free(n);
	free(v);
	if (p != NULL && clist_append(ct->ct_parameters, p) < 0)
		mailmime_parameter_free(p);
}

/* The encoded texts of a build, freed after writing (libetpan references
 * part data, it does not copy it). */
struct encoded {
	char **v;
	size_t n;
};

/* A text part of type ctype, utf-8, quoted-printable by render.c's encoder
 * (libetpan's writes "a =20" for a trailing "a ", which decodes to two
 * spaces). */
static struct mailmime *text_part(const char *ctype, const char *text, struct encoded *enc)
{
	struct mailmime_content *ct = mailmime_content_new_with_str(ctype);
	struct mailmime_fields *f;
	struct mailmime *m;
	struct pd_buf qp;
	size_t qlen;
	char *q;

	if (ct == NULL)
		return NULL;
	pd_buf_init(&qp);
	pd_render_qp(text, &qp);
	pd_buf_append(&qp, "", 0);
	q = pd_buf_steal(&qp, &qlen);
	enc->v = pd_xgrow(enc->v, enc->n, sizeof(*enc->v));
	enc->v[enc->n++] = q;
	content_param(ct, "charset", "utf-8");
	f = mailmime_fields_new_encoding(MAILMIME_MECHANISM_QUOTED_PRINTABLE);
	if (f == NULL || (m = mailmime_new_empty(ct, f)) == NULL) {
		if (f)
			mailmime_fields_free(f);
		mailmime_content_free(ct);
		return NULL;
	}
	/* its last CRLF stays: the one the writer puts before the boundary
	 * belongs to the boundary */
	m->mm_data.mm_single = mailmime_data_new(MAILMIME_DATA_TEXT,
						 MAILMIME_MECHANISM_QUOTED_PRINTABLE, 1, q, qlen, NULL);
	if (m->mm_data.mm_single == NULL) {
		mailmime_free(m);
		return NULL;
	}
	return m;
}

/* One attachment or inline image, base64.  An attached mail (message/...)
 * or a bare multipart goes as application/octet-stream: RFC 2046 allows
 * neither base64 nor any other encoding that keeps every byte for them, and
 * libetpan would take the type for a structure it has to build. */
static struct mailmime *file_part(const struct pd_mimeout_part *p, bool related)
{
	const char *ctype = ctype_ok(p->content_type) ? p->content_type : "application/octet-stream";
	bool container = strncasecmp(ctype, "message/", 8) == 0 ||
			 strncasecmp(ctype, "multipart/", 10) == 0;
	char *name = p->filename && p->filename[0]
			 ? clean_name(p->filename)
			 : container && strncasecmp(ctype, "message/", 8) == 0
			       ? pd_xstrdup("message.eml")
			       : NULL;
	struct mailmime_content *ct = NULL;
	struct mailmime_disposition *dsp = NULL;
	struct mailmime_fields *f = NULL;
	struct mailmime_mechanism *enc = NULL;
	struct mailmime *m = NULL;
	char *cid = NULL;

	if (container)
		ctype = "application/octet-stream";
	ct = mailmime_content_new_with_str(ctype);
	/* whatever libetpan reads as a container ("multiparttext/html" included)
	 * travels as plain bytes too */
	if (ct != NULL && (ct->ct_type == NULL || ct->ct_type->tp_type != MAILMIME_TYPE_DISCRETE_TYPE)) {
		mailmime_content_free(ct);
		ct = mailmime_content_new_with_str("application/octet-stream");
	}
	if (ct == NULL)
		goto fail;
	dsp = mailmime_disposition_new_with_data(related ? MAILMIME_DISPOSITION_TYPE_INLINE
						 : p->content_id ? MAILMIME_DISPOSITION_TYPE_INLINE
								 : MAILMIME_DISPOSITION_TYPE_ATTACHMENT,
						 NULL, NULL, NULL, NULL, (size_t)-1);
	if (dsp == NULL)
		goto fail;
	if (name != NULL) {
		struct mailmime_disposition_parm *dp;
		struct mailmime_parameter *prm;
		if (is_ascii(name)) {
			content_param(ct, "name", name);
			dp = mailmime_disposition_parm_new(MAILMIME_DISPOSITION_PARM_FILENAME,
							   pd_xstrdup(name), NULL, NULL, NULL,
							   (size_t)-1, NULL);
		} else {
			char *v = rfc2231(name);
			content_param(ct, "name*", v);
			char *pn = pd_xstrdup("filename*");
			prm = mailmime_param_new_with_data(pn, v);
			free(pn);
			free(v);
			dp = prm ? mailmime_disposition_parm_new(MAILMIME_DISPOSITION_PARM_PARAMETER,
								 NULL, NULL, NULL, NULL, (size_t)-1,
								 prm)
				 : NULL;
			if (dp == NULL && prm != NULL)
				mailmime_parameter_free(prm);
		}
		if (dp == NULL || clist_append(dsp->dsp_parms, dp) < 0) {
			if (dp)
				mailmime_disposition_parm_free(dp);
			goto fail;
		}
	}
	enc = mailmime_mechanism_new(MAILMIME_MECHANISM_BASE64, NULL);
	if (enc == NULL)
		goto fail;
	cid = p->content_id && p->content_id[0] ? pd_xstrdup(p->content_id) : NULL;
	f = mailmime_fields_new_with_data(enc, cid, NULL, dsp, NULL);
	if (f == NULL)
		goto fail;
	enc = NULL, cid = NULL, dsp = NULL; /* owned by f now */
	m = mailmime_new_empty(ct, f);
	if (m == NULL)
		goto fail;
	ct = NULL, f = NULL;
	if (m->mm_type != MAILMIME_SINGLE)
		goto fail; /* not with the types above; mm_single would be the wrong member */
	m->mm_data.mm_single = mailmime_data_new(MAILMIME_DATA_TEXT, MAILMIME_MECHANISM_BASE64, 0,
						 p->data ? p->data : "", p->size, NULL);
	if (m->mm_data.mm_single == NULL)
		goto fail;
	free(name);
	return m;
fail:
	if (m)
		mailmime_free(m);
	if (f)
		mailmime_fields_free(f);
	if (enc)
		mailmime_mechanism_free(enc);
	if (dsp)
		mailmime_disposition_free(dsp);
	if (ct)
		mailmime_content_free(ct);
	free(cid);
	free(name);
	return NULL;
}

/* A multipart of type with a boundary that no part's content can hold:
 * "=_" never occurs in quoted-printable ("=" is written "=3D") nor in base64,
 * and the random rest makes it unguessable to whoever writes the text. */
static struct mailmime *multipart(const char *type)
{
	struct mailmime *m = mailmime_multiple_new(type);
	unsigned char rnd[16];
	char hex[33];

	if (m == NULL || m->mm_content_type == NULL ||
	    getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return m; /* libetpan's own boundary then */
	pd_hex(rnd, sizeof(rnd), hex);
	for (clistiter *it = clist_begin(m->mm_content_type->ct_parameters); it != NULL;
	     it = clist_next(it)) {
		struct mailmime_parameter *p = clist_content(it);
		if (strcasecmp(p->pa_name, "boundary") == 0) {
			char *b = malloc(40);
			if (b == NULL)
				break;
			snprintf(b, 40, "=_pd_%s", hex);
			free(p->pa_value);
			p->pa_value = b;
		}
	}
	return m;
}

/* Add child to parent (a multipart); child is freed on failure. */
static int add(struct mailmime *parent, struct mailmime *child)
{
	if (child == NULL)
		return -1;
	if (mailmime_smart_add_part(parent, child) != MAILIMF_NO_ERROR) {
		mailmime_free(child);
		return -1;
	}
	return 0;
}

static bool goes_related(const struct pd_mimeout_part *p, const char *html)
{
	return html != NULL && p->related && p->content_id != NULL && p->content_id[0];
}

/* The tree: [mixed: [alternative: text, [related: html, images...]], files...] */
static struct mailmime *build(const char *text, const char *html,
			      const struct pd_mimeout_part *parts, size_t n, struct encoded *enc)
{
	struct mailmime *body = NULL, *top = NULL;
	size_t n_related = 0, n_files = 0;

	for (size_t i = 0; i < n; i++) {
		if (goes_related(&parts[i], html))
			n_related++;
		else
			n_files++;
	}
	if (html == NULL) {
		body = text_part("text/plain", text, enc);
	} else {
		struct mailmime *h;
		body = multipart("multipart/alternative");
		if (body == NULL || add(body, text_part("text/plain", text, enc)) < 0)
			goto fail;
		if (n_related > 0) {
			h = multipart("multipart/related");
			if (h == NULL)
				goto fail;
			if (add(h, text_part("text/html", html, enc)) < 0) {
				mailmime_free(h);
				goto fail;
			}
			for (size_t i = 0; i < n; i++)
				if (goes_related(&parts[i], html) &&
				    add(h, file_part(&parts[i], true)) < 0) {
					mailmime_free(h);
					goto fail;
				}
		} else {
			h = text_part("text/html", html, enc);
		}
		if (add(body, h) < 0)
			goto fail;
	}
	if (body == NULL)
		return NULL;
	if (n_files == 0)
		return body;
	top = multipart("multipart/mixed");
	if (top == NULL)
		goto fail;
	if (add(top, body) < 0) {
		body = NULL;
		goto fail;
	}
	body = NULL;
	for (size_t i = 0; i < n; i++)
		if (!goes_related(&parts[i], html) && add(top, file_part(&parts[i], false)) < 0)
			goto fail;
	return top;
fail:
	if (body)
		mailmime_free(body);
	if (top)
		mailmime_free(top);
	return NULL;
}

static void encoded_free(struct encoded *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

int pd_mimeout_body(const char *text, const char *html, const struct pd_mimeout_part *parts,
		    size_t n_parts, struct pd_buf *out, struct pd_err *err)
{
	struct encoded enc = {NULL, 0};
	struct mailmime *body = build(text ? text : "", html, parts, n_parts, &enc);
	struct mailmime *msg = NULL;
	MMAPString *s;
	int col = 0, r;

	if (body == NULL)
		return encoded_free(&enc), pd_err_set(err, PD_ERR_PERM, PD_SRC_MIMEOUT, 0,
				  "could not build the MIME structure of an outbound mail (out of "
				  "memory?)");
	msg = mailmime_new_message_data(body);
	if (msg == NULL) {
		mailmime_free(body);
		encoded_free(&enc);
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_MIMEOUT, 0,
				  "could not build the MIME structure of an outbound mail (out of "
				  "memory?)");
	}
	s = mmap_string_new("");
	r = s ? mailmime_write_mem(s, &col, msg) : MAILIMF_ERROR_MEMORY;
	if (r == MAILIMF_NO_ERROR)
		pd_buf_append(out, s->str, s->len);
	if (s)
		mmap_string_free(s);
	mailmime_free(msg);
	encoded_free(&enc);
	if (r != MAILIMF_NO_ERROR)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_MIMEOUT, r,
				  "libetpan could not write the MIME body of an outbound mail "
				  "(error %d)",
				  r);
	return 0;
}
