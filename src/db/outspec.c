/*
 * outspec.c - the render spec of an outbound mail, and the one place that
 * renders a mail carrying a customer's message.  See outspec.h.
 *
 * The spec is a JSON object (json-c writes and reads it; PostgreSQL keeps it
 * as jsonb):
 *   {"kind", "auto_submitted" (or null), "from": {"name", "address"},
 *    "reply_to": {...}, "to": [{...}...], "cc": [...], "subject",
 *    "message_id", "in_reply_to" (or null), "references": [...], "date"
 *    (seconds since the epoch), "language" (or null), "body",
 *    "carry": {"message": messages.id, "html": text or null, "parts": bool}}
 * "carry" only when the mail carries something of a stored message.  No
 * "body" (or null) when the text is kept once, as the body_text of the
 * ticket's outbound message row with the same Message-ID, which the queueing
 * statement writes (pd_outspec_json's body_kept).
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "html.h"
#include "outparts.h"
#include "outspec.h"

bool pd_outspec_carries_parts(const struct pd_msg *msg, uint64_t max_notice_attachments,
			      uint64_t max_message_size)
{
	uint64_t total = pd_outparts_total(msg);

	/* within the notice limit, and the mail within what the server takes */
	return total <= max_notice_attachments &&
	       pd_outparts_encoded_size(total) + msg->n_attachments * 400 +
			   (msg->body_html ? strlen(msg->body_html) : 0) * 3 +
			   strlen(msg->body_text) * 3 + 16384 <=
		   max_message_size;
}

int pd_outspec_render_mail(const struct pd_render_mail *m_in, const struct pd_outspec_carry *c,
			   const struct pd_msg *msg, struct pd_buf *out, char **note_r,
			   struct pd_err *err)
{
	struct pd_render_mail m = *m_in;
	char *clean = NULL, *html = NULL;
	struct pd_mimeout_part *parts = NULL;
	size_t n_parts = 0;
	int rc;

	*note_r = NULL;
	m.html = NULL;
	m.parts = NULL;
	m.n_parts = 0;
	if (c != NULL && msg != NULL) {
		if (c->html_text != NULL && msg->body_html != NULL) {
			if (pd_html_sanitize(msg->body_html, strlen(msg->body_html), 0, &clean) < 0) {
				clean = NULL;
				*note_r = pd_xstrdup("the HTML of the customer's mail could not be "
						     "sanitised");
			} else {
				html = pd_outparts_text_html(c->html_text,
							     PD_OUTSPEC_HTML_PLACEHOLDER, clean);
			}
		}
		/* an inline image the sanitised HTML shows goes as a related part */
		if (c->parts)
			parts = pd_outparts_of(msg, clean, &n_parts);
		m.html = html;
		m.parts = parts;
		m.n_parts = n_parts;
	}
	rc = pd_render_mail(&m, out, err);
	free(parts);
	free(html);
	free(clean);
	return rc;
}

/* ------------------------------------------------------------ writing */

static json_object *jstr(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL; /* NULL is JSON null */
}

static json_object *jaddr(const struct pd_addr *a)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(a->name ? a->name : ""));
	json_object_object_add(o, "address", json_object_new_string(a->address ? a->address : ""));
	return o;
}

static json_object *jaddrs(const struct pd_addr *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, jaddr(&v[i]));
	return a;
}

char *pd_outspec_json(const struct pd_render_mail *m, const struct pd_outspec_carry *c,
		      bool body_kept)
{
	json_object *o = json_object_new_object(), *refs = json_object_new_array();

	json_object_object_add(o, "kind", jstr(m->kind));
	json_object_object_add(o, "auto_submitted", jstr(m->auto_submitted));
	json_object_object_add(o, "from", jaddr(&m->from));
	json_object_object_add(o, "reply_to", jaddr(&m->reply_to));
	json_object_object_add(o, "to", jaddrs(m->to, m->n_to));
	json_object_object_add(o, "cc", jaddrs(m->cc, m->n_cc));
	json_object_object_add(o, "subject", jstr(m->subject));
	json_object_object_add(o, "message_id", jstr(m->message_id));
	json_object_object_add(o, "in_reply_to", jstr(m->in_reply_to));
	for (size_t i = 0; i < m->n_references; i++)
		json_object_array_add(refs, jstr(m->references[i]));
	json_object_object_add(o, "references", refs);
	json_object_object_add(o, "date", json_object_new_int64((int64_t)m->date));
	json_object_object_add(o, "language", jstr(m->language));
	if (!body_kept)
		json_object_object_add(o, "body", jstr(m->body));
	if (c != NULL && c->message > 0 && (c->html_text != NULL || c->parts)) {
		json_object *k = json_object_new_object();
		json_object_object_add(k, "message", json_object_new_int64(c->message));
		json_object_object_add(k, "html", jstr(c->html_text));
		json_object_object_add(k, "parts", json_object_new_boolean(c->parts));
		json_object_object_add(o, "carry", k);
	}
	char *s = pd_xstrdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/* ------------------------------------------------------------ reading */

/* Field name of o: a string (null allowed when nullable: *out NULL).
 * Missing counts as null. */
static int get_str(json_object *o, const char *name, bool nullable, const char **out,
		   struct pd_err *err)
{
	json_object *v = NULL;

	*out = NULL;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL) {
		if (nullable)
			return 0;
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0, "the render spec has no \"%s\"",
				  name);
	}
	if (!json_object_is_type(v, json_type_string))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec's \"%s\" is not a string", name);
	*out = json_object_get_string(v);
	return 0;
}

static int get_addr(json_object *v, const char *what, struct pd_addr *a, struct pd_err *err)
{
	json_object *name = NULL, *address = NULL;

	if (v == NULL || !json_object_is_type(v, json_type_object) ||
	    !json_object_object_get_ex(v, "address", &address) ||
	    !json_object_is_type(address, json_type_string) ||
	    (json_object_object_get_ex(v, "name", &name) && name != NULL &&
	     !json_object_is_type(name, json_type_string)))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec's \"%s\" is not an address ({\"name\", \"address\"})",
				  what);
	/* borrowed from the JSON object; render.c only reads them */
	a->name = (char *)(uintptr_t)(name != NULL ? json_object_get_string(name) : "");
	a->address = (char *)(uintptr_t)json_object_get_string(address);
	return 0;
}

/* Field name of o: an array (missing: empty, unless required). */
static int get_array(json_object *o, const char *name, bool required, json_object **out,
		     size_t *n_r, struct pd_err *err)
{
	json_object *v = NULL;

	*out = NULL;
	*n_r = 0;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL) {
		if (!required)
			return 0;
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0, "the render spec has no \"%s\"",
				  name);
	}
	if (!json_object_is_type(v, json_type_array))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec's \"%s\" is not a list", name);
	*out = v;
	*n_r = json_object_array_length(v);
	return 0;
}

static int get_carry(json_object *o, struct pd_outspec_carry *c, struct pd_err *err)
{
	json_object *k = NULL, *v = NULL;

	memset(c, 0, sizeof(*c));
	if (!json_object_object_get_ex(o, "carry", &k) || k == NULL)
		return 0;
	if (!json_object_is_type(k, json_type_object))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec's \"carry\" is not an object");
	if (!json_object_object_get_ex(k, "message", &v) || !json_object_is_type(v, json_type_int) ||
	    (c->message = json_object_get_int64(v)) <= 0)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec's \"carry\" names no stored message");
	if (get_str(k, "html", true, &c->html_text, err) < 0)
		return -1;
	if (json_object_object_get_ex(k, "parts", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_boolean))
			return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
					  "the render spec's \"carry\".\"parts\" is not true or false");
		c->parts = json_object_get_boolean(v);
	}
	return 0;
}

int pd_outspec_parse(const char *json, struct pd_outspec *s, struct pd_err *err)
{
	enum json_tokener_error jerr = json_tokener_success;
	json_object *o, *to, *cc, *refs, *v = NULL;
	size_t n_to, n_cc, n_refs;
	struct pd_render_mail *m = &s->mail;

	memset(s, 0, sizeof(*s));
	o = json_tokener_parse_verbose(json ? json : "", &jerr);
	if (o == NULL)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec is not JSON (%s)", json_tokener_error_desc(jerr));
	s->json = o;
	if (!json_object_is_type(o, json_type_object))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec is not a JSON object");
	if (get_str(o, "kind", false, &m->kind, err) < 0 ||
	    get_str(o, "auto_submitted", true, &m->auto_submitted, err) < 0 ||
	    get_str(o, "subject", false, &m->subject, err) < 0 ||
	    get_str(o, "message_id", false, &m->message_id, err) < 0 ||
	    get_str(o, "in_reply_to", true, &m->in_reply_to, err) < 0 ||
	    get_str(o, "language", true, &m->language, err) < 0 ||
	    get_str(o, "body", true, &m->body, err) < 0)
		return -1;
	if (!json_object_object_get_ex(o, "date", &v) || !json_object_is_type(v, json_type_int))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec has no \"date\" (seconds since the epoch)");
	m->date = (time_t)json_object_get_int64(v);
	if (!json_object_object_get_ex(o, "from", &v))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec has no \"from\"");
	if (get_addr(v, "from", &m->from, err) < 0)
		return -1;
	m->reply_to = (struct pd_addr){(char *)"", (char *)""};
	if (json_object_object_get_ex(o, "reply_to", &v) && v != NULL &&
	    get_addr(v, "reply_to", &m->reply_to, err) < 0)
		return -1;
	if (get_array(o, "to", true, &to, &n_to, err) < 0 ||
	    get_array(o, "cc", false, &cc, &n_cc, err) < 0 ||
	    get_array(o, "references", false, &refs, &n_refs, err) < 0)
		return -1;
	if (n_to == 0)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				  "the render spec's \"to\" is empty");
	s->addrs = pd_xcalloc(n_to + n_cc, sizeof(*s->addrs));
	for (size_t i = 0; i < n_to; i++)
		if (get_addr(json_object_array_get_idx(to, i), "to", &s->addrs[i], err) < 0)
			return -1;
	for (size_t i = 0; i < n_cc; i++)
		if (get_addr(json_object_array_get_idx(cc, i), "cc", &s->addrs[n_to + i], err) < 0)
			return -1;
	m->to = s->addrs;
	m->n_to = n_to;
	m->cc = n_cc ? s->addrs + n_to : NULL;
	m->n_cc = n_cc;
	s->references = pd_xcalloc(n_refs + 1, sizeof(*s->references));
	for (size_t i = 0; i < n_refs; i++) {
		json_object *r = json_object_array_get_idx(refs, i);
		if (r == NULL || !json_object_is_type(r, json_type_string))
			return pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
					  "the render spec's \"references\" holds a non-string");
		s->references[i] = json_object_get_string(r);
	}
	m->references = n_refs ? s->references : NULL;
	m->n_references = n_refs;
	return get_carry(o, &s->carry, err);
}

void pd_outspec_free(struct pd_outspec *s)
{
	if (s->json != NULL)
		json_object_put(s->json);
	free(s->addrs);
	free(s->references);
	memset(s, 0, sizeof(*s));
}

bool pd_outspec_needs_message(const struct pd_outspec *s)
{
	return s->carry.message > 0 && (s->carry.html_text != NULL || s->carry.parts);
}
