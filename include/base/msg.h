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

/* A field of the top header block as written: the value unfolded (line
 * breaks removed), cut at the first NUL byte, leading and trailing white
 * space trimmed, not RFC 2047 decoded, at most PD_MSG_FIELD_MAX bytes
 * (then made valid UTF-8: invalid bytes become U+FFFD). */
#define PD_MSG_FIELD_MAX 8192

struct pd_field {
	char *name;  /* as written ("X-Autoreply") */
	char *value; /* "" for an empty field */
};

/* One group of a message/delivery-status part (RFC 3464), the values as
 * written (unfolded, trimmed, comments kept); NULL when the group lacks the
 * field or its value is not valid UTF-8. */
struct pd_dsn_group {
	char *final_recipient;    /* "rfc822; a@b.example" */
	char *original_recipient;
	char *action;             /* "failed" */
	char *status;             /* "5.1.1" */
};

/*
 * What a delivery report says, as mime.c reads it: a multipart/report with
 * report-type delivery-status or global-delivery-status (RFC 3464, 6533),
 * at the top or inside multipart containers, never inside an attached
 * message (a forwarded bounce is not a bounce).  Only the parts inside
 * such a report are read; bodies are transfer-decoded first.
 */
struct pd_dsn {
	bool found;                /* such a report is in the mail */
	char *original_message_id; /* value of the first Original-Message-ID (or Gmail's
				    * X-Original-Message-ID) of a delivery-status part */
	char *returned_message_id; /* Message-ID of the first returned message
				    * (message/rfc822, text/rfc822-headers, message/global,
				    * message/global-headers) */
	size_t n_groups;           /* groups of the delivery-status parts in order (the
				    * per-message one included), at most PD_DSN_MAX_GROUPS */
	struct pd_dsn_group *groups;
};

#define PD_DSN_MAX_GROUPS 1000

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

	/* the top header block, every field in order (at most the parser's field
	 * limit); pd_msg_field looks one up */
	size_t n_fields;
	struct pd_field *fields;
	char *content_type;      /* top-level "type/subtype", lower case, never NULL after
				  * pd_mime_parse ("text/plain" when missing or unusable) */
	char *report_type;       /* report-type parameter of a top-level multipart/report, lower
				  * case, NULL otherwise */
	struct pd_dsn dsn;       /* delivery report contents (see struct pd_dsn) */

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

/* Value of the nth (0-based) top header field called name (case-insensitive),
 * borrowed from msg; NULL when there is no such field. */
const char *pd_msg_field(const struct pd_msg *msg, const char *name, size_t nth);

/* Lower-case copy of addr's domain part, or NULL. */
char *pd_addr_domain(const char *addr);

#endif
