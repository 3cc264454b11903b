/*
 * msg.h - an inbound mail after parsing: what the rest of postdesk needs to
 * know about it, all text decoded to UTF-8.
 *
 * A pd_msg owns all its strings and arrays; pd_msg_free releases them.  The
 * raw bytes are NOT owned: `raw` points at the caller's buffer, which must
 * outlive the message.
 */
#ifndef PD_MSG_H
#define PD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct pd_addr {
	char *name;    /* decoded display name, "" when none (never NULL) */
	char *address; /* addr-spec as written (local@domain), "" when unusable */
};

struct pd_addrlist {
	size_t n;
	struct pd_addr *v;
};

struct pd_attachment {
	char *filename;      /* decoded (RFC 2047 / RFC 2231), NULL when none */
	char *content_type;  /* lower case "type/subtype" */
	char *disposition;   /* "attachment", "inline" or NULL */
	char *content_id;    /* without <>, NULL when none */
	size_t size;         /* decoded size */
	unsigned char sha256[32];
	char sha256_hex[65];
	char *data;          /* decoded content, owned; size bytes */
};

struct pd_msg {
	/* the bytes as received; borrowed, see above */
	const char *raw;
	size_t raw_len;

	char *message_id;        /* without <>, NULL when missing */
	char *in_reply_to;       /* first id, without <>, NULL when none */
	size_t n_references;     /* References ids then In-Reply-To ids, deduplicated, without <> */
	char **references;

	char *subject;           /* decoded UTF-8, "" when missing, never NULL */
	struct pd_addr from;     /* first usable From (Sender as fallback) */
	struct pd_addr reply_to; /* address "" when none */
	struct pd_addrlist to;
	struct pd_addrlist cc;
	struct pd_addrlist delivered_to; /* Delivered-To and X-Original-To, all of them: the
					  * envelope recipients, which show a Bcc to us */
	time_t date;             /* Date header, 0 when missing/unparseable */
	int date_tz_minutes;     /* offset east of UTC as written */

	/* headers the loop guard and classifier will want, raw-decoded, NULL when absent */
	char *auto_submitted;
	char *precedence;
	char *list_id;
	char *return_path;
	char *x_priority;
	char *importance;
	char *priority_hdr;      /* RFC 2156 Priority: ("urgent", "normal", "non-urgent") */
	char *authentication_results; /* the topmost Authentication-Results (the one the
				       * receiving server added last), unfolded, NULL when none */

	char *body_text;         /* UTF-8 text body as a reader sees it (mime.h), "" when none */
	char *body_charset;      /* charset the body was declared in, lower case, "" when none */
	bool body_from_html;     /* body_text was converted from text/html */
	char *body_html;         /* the first text/html body part decoded to UTF-8 (also when
				  * body_text came from a text/plain alternative), NULL when none */

	size_t n_attachments;
	struct pd_attachment *attachments;

	/* dedupe fingerprint: SHA-256 of the raw mail without trace headers */
	unsigned char content_hash[32];

	/* problems: the mail is still stored, raw, and the ticket flagged for a human */
	bool parse_failed;       /* MIME structure could not be parsed at all */
	bool oversized;          /* above max_message_size: not parsed */
	uint64_t server_size;    /* > raw_len: only the first raw_len bytes were fetched */
	char *parse_error;       /* reason, NULL when none */
	size_t n_warnings;       /* recoverable oddities (bad charset, broken encoded word...) */
	char **warnings;
};

void pd_msg_free(struct pd_msg *msg);

/* Lower-case copy of addr's domain part, or NULL. */
char *pd_addr_domain(const char *addr);

#endif
