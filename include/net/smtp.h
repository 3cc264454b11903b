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

/*
 * More on pd_smtp_send (src/net/smtp.c has the details):
 *  - mail_from is an addr-spec without <>; "" sends the null reverse-path
 *    MAIL FROM:<> (RFC 3834 auto-replies), NULL means cfg->from_address.
 *    Addresses with controls, spaces or <> are refused (PERM) before anything
 *    is sent; so are n == 0 and len == 0.
 *  - All or nothing: one refused RCPT fails the whole message (no DATA is
 *    sent), with that reply's class and code.
 *  - PERM with code 0 is not about this message but the configuration: the
 *    server's certificate is not trusted (the text names smtp.ca_file), it
 *    does not offer STARTTLS although tls = "starttls", ca_file unusable.
 *  - FATAL: libcurl cannot do what the config asks (URL scheme not supported
 *    or malformed, libcurl without TLS).
 *  - err->msg names the server (host:port) and the command refused, never
 *    the password.
 */

#endif
