/*
 * render.h - outbound mail as RFC 5322 bytes, and the plain-text templates
 * it is written from (pure: no I/O; templates come in as text).
 *
 * Every header value that can carry customer text (subject, display names)
 * is sanitised: control characters (CR, LF, NUL, TAB...) become spaces, so no
 * header can be injected, and non-ASCII text is RFC 2047 encoded (UTF-8, B or
 * Q, folded under 78 columns).  Bodies are UTF-8, quoted-printable when any
 * line or byte needs it, 7bit otherwise.
 */
#ifndef PD_RENDER_H
#define PD_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "mimeout.h"
#include "msg.h"
#include "templates.h"
#include "util.h"

struct pd_render_mail {
	const char *kind;            /* X-Postdesk-Kind: ack|notice|agent|warning|breach|
				      * escalation|survey|error */
	const char *auto_submitted;  /* "auto-replied", "auto-generated" or NULL (no header) */
	struct pd_addr from;         /* name may be "" */
	struct pd_addr reply_to;     /* address "" = no Reply-To */
	const struct pd_addr *to;
	size_t n_to;
	const struct pd_addr *cc;
	size_t n_cc;
	const char *subject;         /* UTF-8, untrusted */
	const char *message_id;      /* without <> */
	const char *in_reply_to;     /* without <>, NULL = none */
	const char *const *references; /* without <>, oldest first */
	size_t n_references;
	time_t date;
	const char *language;        /* Content-Language, NULL = none */
	const char *body;            /* UTF-8 text, LF line ends */
	const char *html;            /* UTF-8 HTML beside the text (multipart/alternative), or NULL */
	const struct pd_mimeout_part *parts; /* attachments and inline images (mimeout.h) */
	size_t n_parts;
};

/* Append the complete message (CRLF line ends) to out.  Fails (PERM) only
 * when an address is unusable (empty, or with characters no addr-spec has),
 * naming the field ("Cc address 2 ..."), when there is no To, or when
 * message_id, kind, auto_submitted or language is not a clean token (a
 * corrupt outbox row); out is untouched then.  Broken In-Reply-To/References
 * ids are left out; In-Reply-To is appended to References when missing there,
 * and References keeps the first id and the last 19.  Without html and parts
 * the body is one text/plain part; with them, mimeout.c writes the MIME
 * structure below the same headers. */
int pd_render_mail(const struct pd_render_mail *m, struct pd_buf *out, struct pd_err *err);

/* The checks pd_render_mail makes of m's headers (the same failures), without
 * writing the mail: what a mail rendered later must pass. */
int pd_render_check(const struct pd_render_mail *m, struct pd_err *err);

/* text (UTF-8, any line ends) as quoted-printable lines with CRLF ends,
 * appended to out: what render writes for a text body (libetpan's own
 * encoder keeps a line's trailing white space and then adds it encoded). */
void pd_render_qp(const char *text, struct pd_buf *out);

/* A new Message-ID, without <>: "pd.<ticket>.<kind>.<hex of rnd>@<domain>";
 * rnd is n_rnd random bytes from the caller (8 make it unguessable, see
 * PD_RENDER_MSGID_RANDOM).  Newly allocated. */
#define PD_RENDER_MSGID_RANDOM 8
char *pd_render_message_id(const char *domain, int64_t ticket, const char *kind,
			   const unsigned char *rnd, size_t n_rnd);

/* RFC 2047 encoding of one header value (sanitised as above); newly allocated,
 * ASCII only, folded with CRLF SP when longer than fits after "Name: ". */
char *pd_render_header_encode(const char *name, const char *value);

/* Subject with our tag: "[TAG #N] subject" unless subject already carries it;
 * newly allocated, sanitised. */
char *pd_render_tagged_subject(const char *tag, int64_t ticket, const char *subject);

/* ------------------------------------------------------------ templates */

struct pd_render_var {
	const char *name;  /* "ticket.number", "customer.name", ... */
	const char *value; /* UTF-8 */
};

/* struct pd_template and struct pd_templates: templates.h (base), since the
 * configuration holds a set. */

/* What postdesk sends from templates, and the fields it fills in for each:
 * a template may use those and no others.  NULL-terminated lists. */
struct pd_template_kind {
	const char *name;
	const char *const *fields;
};
extern const struct pd_template_kind pd_template_kinds[];
extern const size_t pd_n_template_kinds;

/* The kind called name; NULL when postdesk sends no such template. */
const struct pd_template_kind *pd_template_kind(const char *name);

/* A language code usable for a template folder: 2-8 lower-case letters. */
bool pd_template_lang_ok(const char *lang);

/* Parse text (len bytes, the contents of origin) as template lang/name:
 * UTF-8, "Subject: ..." on the first line, a blank line, the body (CRs and
 * a byte order mark dropped), then render it with sample values for every
 * field of its kind.  Fills *t (free with pd_template_free) and returns 0,
 * or returns -1 with err (PERM) "ORIGIN:LINE: what is wrong" (t empty):
 * not UTF-8, no Subject line or blank line, an unterminated or empty
 * {{field}}, a field its kind does not have (the message lists those it
 * has), or a name that is no kind. */
int pd_template_parse(const char *lang, const char *name, const char *origin, const char *text,
		      size_t len, struct pd_template *t, struct pd_err *err);
void pd_template_free(struct pd_template *t);

/* Add t to set, taking ownership; it replaces a template of the same
 * language and name. */
void pd_templates_put(struct pd_templates *set, struct pd_template *t);
/* Template name for lang, else for en (also when lang is no usable code);
 * NULL when neither is in set.  Borrowed from set. */
const struct pd_template *pd_templates_find(const struct pd_templates *set, const char *lang,
					    const char *name);
void pd_templates_free(struct pd_templates *set);

/* Expand {{field}} (spaces inside the braces allowed) with vars; an unknown
 * field is an error (PERM) naming it, "{{{{" is a literal "{{". */
char *pd_template_expand(const char *text, const struct pd_render_var *vars, size_t n,
			 struct pd_err *err);

/* Expand the subject and body of template name (pd_templates_find) with
 * vars; *subject_r and *body_r are newly allocated.  Returns 0, or -1 with
 * err (PERM) naming the template's origin and line and, for an unknown
 * field, the field (or saying that set has no such template). */
int pd_template_render(const struct pd_templates *set, const char *lang, const char *name,
		       const struct pd_render_var *vars, size_t n, char **subject_r, char **body_r,
		       struct pd_err *err);

#endif
