/*
 * mimeout.h - the MIME body of an outbound mail, written with libetpan's
 * MIME writer: text/plain alone, or with text/html as
 * multipart/alternative, inline images beside the HTML as
 * multipart/related, attachments around it all as multipart/mixed.
 *
 * Pure: data in, bytes out.  Headers other than the MIME ones are render.c's.
 */
#ifndef PD_MIMEOUT_H
#define PD_MIMEOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "util.h"

struct pd_mimeout_part {
	const char *filename;     /* UTF-8, NULL or "" = none; control characters become spaces */
	const char *content_type; /* "type/subtype"; anything else is sent as
				   * application/octet-stream */
	const char *content_id;   /* without <>, NULL = none */
	bool related;             /* an inline image the HTML refers to by cid: (needs html and
				   * content_id; otherwise it goes out as an inline attachment) */
	const void *data;
	size_t size;
};

/* Append "MIME-Version: 1.0", the top Content-Type (and Content-Transfer-
 * Encoding), the blank line and the body (CRLF line ends) to out.  text is
 * UTF-8 with LF line ends (required); html is UTF-8 HTML or NULL.  Text parts
 * are quoted-printable, everything else base64.  Fails (PERM) only when
 * libetpan cannot build or write the structure (memory); out is untouched
 * then. */
int pd_mimeout_body(const char *text, const char *html, const struct pd_mimeout_part *parts,
		    size_t n_parts, struct pd_buf *out, struct pd_err *err);

#endif
