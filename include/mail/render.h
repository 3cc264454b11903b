/*
 * render.h - outbound mail as RFC 5322 bytes, and the plain-text templates
 * it is written from (pure: no I/O but reading template files).
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

/* text (UTF-8, any line ends) as quoted-printable lines with CRLF ends,
 * appended to out: what render writes for a text body (libetpan's own
 * encoder keeps a line's trailing white space and then adds it encoded). */
void pd_render_qp(const char *text, struct pd_buf *out);

/* A new Message-ID, without <>: "pd.<ticket>.<kind>.<random hex>@<domain>".
 * Newly allocated. */
char *pd_render_message_id(const char *domain, int64_t ticket, const char *kind);

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

struct pd_template {
	char *subject;     /* from the first line "Subject: ..." */
	char *body;        /* after the blank line that follows it */
};

/* Load DIR/LANG/NAME.txt, falling back to DIR/en/NAME.txt.  A template is
 * "Subject: ...\n\nbody".  Returns 0, or -1 with err (PERM) naming the file. */
int pd_template_load(const char *dir, const char *lang, const char *name, struct pd_template *t,
		     struct pd_err *err);
void pd_template_free(struct pd_template *t);

/* Expand {{field}} (spaces inside the braces allowed) with vars; an unknown
 * field is an error (PERM) naming it, "{{{{" is a literal "{{". */
char *pd_template_expand(const char *text, const struct pd_render_var *vars, size_t n,
			 struct pd_err *err);

/* Load template NAME (as pd_template_load) and expand its subject and body;
 * *subject_r and *body_r are newly allocated.  Returns 0, or -1 with err
 * (PERM) naming the template and, for an unknown field, the field. */
int pd_template_render(const char *dir, const char *lang, const char *name,
		       const struct pd_render_var *vars, size_t n, char **subject_r, char **body_r,
		       struct pd_err *err);

#endif
