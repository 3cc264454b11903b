/*
 * tls.h - server certificate verification for connections whose TLS library
 * (libetpan over GnuTLS) does not verify by itself.
 *
 * The chain the server presented is checked against the system CA store, or
 * only against ca_file when one is configured, and the leaf certificate must
 * match the host name (DNS name or IP address in subjectAltName).
 */
#ifndef PD_TLS_H
#define PD_TLS_H

#include <stddef.h>

#include "err.h"

struct pd_tls_cert {
	const unsigned char *der;
	size_t len;
};

/*
 * Verify chain[0] (leaf) .. chain[n-1] for hostname.  Returns 0 when trusted;
 * -1 with err (class PERM, src "tls") saying why not: "certificate for
 * 127.0.0.1 is not trusted: signer not found (set ca_file = ... for a private
 * CA)", "certificate does not match host name mail.example.com", expired...
 */
int pd_tls_verify_chain(const struct pd_tls_cert *chain, size_t n, const char *hostname,
			const char *ca_file, struct pd_err *err);

#endif
