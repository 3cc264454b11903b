/*
 * smtp.h - mail submission with libcurl: one handle, one connection reused
 * across messages, TLS verified (system CA store or ca_file, host name
 * checked), AUTH when a user is configured, connect and total timeouts.
 */
#ifndef PD_SMTP_H
#define PD_SMTP_H

#include <stddef.h>

#include "config.h"
#include "err.h"

struct pd_smtp;

/* cfg is borrowed and must outlive the handle. */
struct pd_smtp *pd_smtp_new(const struct pd_smtp_cfg *cfg);
void pd_smtp_free(struct pd_smtp *s);

/*
 * Send data (a complete RFC 5322 message, CRLF line ends) from mail_from to
 * rcpts.  Returns 0 when the server accepted it (250 after DATA).  Otherwise
 * -1 and err: class TEMP for 4xx replies, network errors and timeouts; PERM
 * for 5xx replies; err->code is the SMTP reply code (0 when none) and
 * err->msg has the server's text.  The connection is kept for the next
 * message unless it failed.
 */
int pd_smtp_send(struct pd_smtp *s, const char *mail_from, const char *const *rcpts, size_t n,
		 const char *data, size_t len, struct pd_err *err);

#endif
