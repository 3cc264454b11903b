/*
 * codec.h - the byte codecs every layer shares (pure): base64 and
 * quoted-printable in both directions, and the one addr-spec check that
 * configuration, rendering and SMTP agree on.
 *
 * The decoders are tolerant and linear: real mail is damaged in every way,
 * so they never fail, skip what they cannot read and say so in their return
 * value.  The encoders write what RFC 2045 asks for.
 */
#ifndef PD_CODEC_H
#define PD_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Value of a base64 letter, -1 otherwise.  The URL-safe letters '-' and '_'
 * count as '+' and '/' here (some mailers write them in encoded words). */
int pd_b64_value(unsigned char ch);

/* Append the base64 of n bytes at p to out: padded, no line breaks. */
void pd_b64_encode(struct pd_buf *out, const void *p, size_t n);

/* Append the MIME base64 decoding of s to out, skipping white space and
 * anything outside the alphabet (the URL-safe letters included), restarting
 * the quantum after '=' (concatenated encodings).  Returns false when the
 * input was damaged: stray characters or a broken final quantum. */
bool pd_b64_decode(const char *s, size_t n, struct pd_buf *out);

/* Append the quoted-printable decoding of s to out: "=XY" bytes, soft line
 * breaks (with transport padding before the line end); an "=" followed by
 * neither is kept as it is. */
void pd_qp_decode(const char *s, size_t n, struct pd_buf *out);

/* Append one line of text (len bytes, no line end) quoted-printable encoded
 * to out, in lines of at most line_max columns joined by soft breaks, and
 * ending with CRLF.  Bytes outside printable ASCII, '=' and white space at
 * the end of the line are encoded. */
void pd_qp_encode_line(struct pd_buf *out, const char *s, size_t len, size_t line_max);

/* Flags of pd_addr_spec_valid. */
#define PD_ADDR_UTF8 1u /* UTF-8 in the local part and the domain (RFC 6531) */

/*
 * The addr-spec check: local@domain, at most 254 bytes, a dot-atom local
 * part of at most 64 bytes (quoted local parts are refused: no one we write
 * to needs them, and they carry blanks onto command lines), a domain of
 * dot-separated labels (1-63 bytes of letters, digits, '-' not at either
 * end, '_' as DNS allows) or an address literal "[...]" of printable ASCII.
 * Controls, blanks and angle brackets are never part of one.  Without
 * PD_ADDR_UTF8 only ASCII is accepted.  NULL is not valid.
 */
bool pd_addr_spec_valid(const char *s, unsigned flags);

#endif
