/*
 * outspec.h - an outbound mail as what it is rendered from: the render spec
 * kept in outbox.render (sql/0015) for the sender to render when it sends.
 *
 * Compose decides everything about a templated mail when the event happens
 * (recipients, subject, Message-ID, threading, Date, the text) and keeps it
 * as a JSON object: the fields of struct pd_render_mail, and, for a notice
 * that carries the customer's mail, which stored message (messages.id) and
 * what of it (its sanitised HTML, its files as parts).  The sender reads
 * that message's original from message_raw, parses it and renders the mail
 * with pd_outspec_render_mail, the one place where a notice's carry (HTML
 * sanitised into the template's HTML part, the files as MIME parts) is
 * built: the same inputs give the same mail, whenever it is rendered.
 */
#ifndef PD_OUTSPEC_H
#define PD_OUTSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"
#include "render.h"
#include "util.h"

/* Stands for the customer's message in the text the HTML part is made from. */
#define PD_OUTSPEC_HTML_PLACEHOLDER "\x01postdesk-html-message\x01"

/* What a mail carries of a customer's stored mail. */
struct pd_outspec_carry {
	int64_t message;       /* messages.id of the customer's mail; 0 = none stored */
	const char *html_text; /* the template's text with PD_OUTSPEC_HTML_PLACEHOLDER where
				* the message stands: the mail gets a text/html part made
				* from it with the message's sanitised HTML there; NULL =
				* text only */
	bool parts;            /* the message's files go along as MIME parts */
};

/*
 * Whether a notice about msg carries msg's files as parts: their total is
 * within max_notice_attachments and the mail, roughly reckoned, within
 * max_message_size (else the notice lists them).  Pure.
 */
bool pd_outspec_carries_parts(const struct pd_msg *msg, uint64_t max_notice_attachments,
			      uint64_t max_message_size);

/*
 * Render m, with what c says it carries of msg (NULL c or msg: nothing), and
 * append the bytes to out (pd_render_mail; m's own html and parts are not
 * used).  msg's HTML is sanitised here; when that fails the mail carries the
 * text only and *note_r (newly allocated, else NULL) says why, for the
 * caller's log.  Returns 0, or -1 with err as pd_render_mail.
 */
int pd_outspec_render_mail(const struct pd_render_mail *m, const struct pd_outspec_carry *c,
			   const struct pd_msg *msg, struct pd_buf *out, char **note_r,
			   struct pd_err *err);

/*
 * The spec of m and c (c NULL, or nothing to carry: none) as JSON text,
 * newly allocated.  m's html and parts are not part of it.  With body_kept
 * m's body is left out too: the caller queues the mail on a ticket, whose
 * outbound message row (same Message-ID) keeps that text, and the sender
 * reads it from there (a notice quotes the customer's whole mail: written
 * once instead of twice).
 */
char *pd_outspec_json(const struct pd_render_mail *m, const struct pd_outspec_carry *c,
		      bool body_kept);

/* A spec read back: mail and carry point into it. */
struct pd_outspec {
	struct pd_render_mail mail;
	struct pd_outspec_carry carry;
	void *json;                   /* json-c's object, owning the strings */
	struct pd_addr *addrs;        /* to, then cc */
	const char **references;
};

/*
 * Parse JSON text into *s (free with pd_outspec_free, also after a failure).
 * A spec written with body_kept has s->mail.body NULL: the caller sets it
 * to the outbound message's text before rendering.
 * Returns 0, or -1 with err (PERM) saying what is wrong: not JSON, or a
 * field missing or of the wrong type ("\"to\" is not a list of addresses").
 */
int pd_outspec_parse(const char *json, struct pd_outspec *s, struct pd_err *err);
void pd_outspec_free(struct pd_outspec *s);

/* Whether rendering s needs the stored customer's mail. */
bool pd_outspec_needs_message(const struct pd_outspec *s);

#endif
