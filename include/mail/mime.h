/*
 * mime.h - raw RFC 5322 bytes -> struct pd_msg, with libetpan.
 *
 * Decodes RFC 2047 words (including the broken forms real mailers write),
 * RFC 2231 parameters, every charset iconv knows; picks the text body a
 * reader sees (the first part that shows text; in an alternative the HTML
 * converted to text unless the text/plain renders it faithfully; a
 * forwarded or quoted text/plain remnant gives way to the HTML beside it);
 * lists attachments and inline
 * parts with size and SHA-256; keeps message/rfc822 and TNEF as attachments.
 * A damaged top header block is repaired first (pd_mime_header_repair).
 *
 * Never fails on hostile input: a mail that cannot be parsed still yields a
 * pd_msg with parse_failed set and a reason, and with whatever headers could
 * be read.  A mail larger than max_size is not parsed (oversized set).
 */
#ifndef PD_MIME_H
#define PD_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "util.h"

struct pd_mime_opts {
	uint64_t max_size;        /* 0 = no limit */
	size_t max_parts;         /* 0 = default (10000) */
	size_t max_depth;         /* 0 = default (64) */
};

/* Parse raw (borrowed; must outlive the message).  Always returns a message
 * (caller frees with pd_msg_free). */
struct pd_msg *pd_mime_parse(const char *raw, size_t len, const struct pd_mime_opts *opts);

/*
 * Repair a damaged top header block.  When raw starts with a UTF-8 BOM, an
 * mbox "From " line or up to five lines that are not fields (a forwarding
 * tool's separator) before well-known fields, or holds a folded line that
 * lost its leading blank (a line that is not a field, followed by a
 * well-known field before the empty line, or an encoded word alone on its
 * line), writes a clean header block to
 * out (initialised here; the caller frees it): the fields with such lines
 * joined to the field above, CRLF-terminated, ending with an empty line.
 * *body_off_r is where the body starts in raw.  Returns false, out left
 * empty, when the block needs no repair (a bare mbox From line does not
 * count: the scanner skips it itself).  Pure; never fails.
 */
bool pd_mime_header_repair(const char *raw, size_t len, struct pd_buf *out, size_t *body_off_r);

/* The dedupe fingerprint alone: SHA-256 over the header and body with trace
 * headers (Received, Return-Path, Delivered-To, X-Original-To, X-Delivered-To,
 * Envelope-To, X-Envelope-To, Received-SPF, Authentication-Results,
 * ARC-*, DKIM-Signature is kept) and a leading mbox From line removed, line
 * endings normalised to CRLF. */
void pd_mime_content_hash(const char *raw, size_t len, unsigned char out[32]);

/* Convert len bytes in charset to a newly allocated UTF-8 string.  Unknown
 * charsets and invalid bytes never fail: invalid sequences become U+FFFD.
 * Returns NULL only when charset is unknown to iconv and the bytes are not
 * valid UTF-8 or ASCII (caller then keeps the raw bytes with a warning). */
char *pd_mime_to_utf8(const char *charset, const char *in, size_t len);

/* Decode a header value with RFC 2047 encoded words (tolerating missing
 * spaces, encoded words inside quotes, raw 8-bit text in a default charset).
 * Returns newly allocated UTF-8. */
char *pd_mime_decode_header(const char *value, const char *default_charset);

#endif
