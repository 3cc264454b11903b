/*
 * tls.c - verify the certificate chain a server presented, with GnuTLS.
 *
 * libetpan (over GnuTLS on Debian) completes the handshake without looking at
 * the server's certificate.  The caller hands us the DER chain it got from the
 * stream; we check it against the system CA store, or only against ca_file
 * when one is configured, and require the leaf to match the host name (a DNS
 * name, or an IP address against the IPAddress subjectAltName).  See tls.h.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls.h"

/* Longer chains are not sent by sane servers; cap what we import. */
#define PD_TLS_MAX_CHAIN 16

/* gnutls_datum_t and gnutls_typed_vdata_st carry non-const pointers although
 * the functions we pass them to only read; convert without a cast that
 * -Wcast-qual would flag. */
static unsigned char *datum_ptr(const void *p)
{
	unsigned char *q;

	memcpy(&q, &p, sizeof(q));
	return q;
}

/* Build the trust list: only ca_file when set, else the system store. */
static int load_trust(gnutls_x509_trust_list_t tl, const char *ca_file, struct pd_err *err)
{
	int r;

	if (ca_file != NULL) {
		/* Check readability ourselves: GnuTLS reports a missing file as a
		 * generic "file error" and an empty file as zero certificates. */
		int fd = open(ca_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, errno,
					  "cannot read ca_file %s: %s", ca_file, strerror(errno));
		close(fd);
		r = gnutls_x509_trust_list_add_trust_file(tl, ca_file, NULL, GNUTLS_X509_FMT_PEM, 0,
							  0);
		if (r == 0 || r == GNUTLS_E_NO_CERTIFICATE_FOUND)
			return pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, r,
					  "ca_file %s holds no PEM certificate", ca_file);
		if (r < 0)
			return pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, r, "cannot load ca_file %s: %s",
					  ca_file, gnutls_strerror(r));
		return 0;
	}
	r = gnutls_x509_trust_list_add_system_trust(tl, 0, 0);
	if (r < 0)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, r,
				  "cannot load the system CA store: %s (set ca_file)",
				  gnutls_strerror(r));
	if (r == 0)
		return pd_err_set(
			err, PD_ERR_PERM, PD_SRC_TLS, 0,
			"the system CA store is empty (install ca-certificates or set ca_file)");
	return 0;
}

/* gnutls' description of status, without its "The certificate is NOT
 * trusted." lead-in (we say that ourselves) and trailing blanks. */
static void status_text(unsigned int status, char *out, size_t outlen)
{
	static const char lead[] = "The certificate is NOT trusted. ";
	gnutls_datum_t d = {NULL, 0};
	const char *s;
	size_t n;

	if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &d, 0) < 0 ||
	    d.data == NULL) {
		snprintf(out, outlen, "verification status 0x%x", status);
		return;
	}
	s = (const char *)d.data;
	if (strncmp(s, lead, sizeof(lead) - 1) == 0)
		s += sizeof(lead) - 1;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		n--;
	snprintf(out, outlen, "%.*s", (int)n, s);
	gnutls_free(d.data);
}

int pd_tls_verify_chain(const struct pd_tls_cert *chain, size_t n, const char *hostname,
			const char *ca_file, struct pd_err *err)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t crts[PD_TLS_MAX_CHAIN];
	size_t ncrts = 0;
	gnutls_typed_vdata_st vdata[2];
	unsigned int status = 0;
	int r, ret = -1;

	if (chain == NULL || n == 0 || chain[0].der == NULL || chain[0].len == 0)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, 0, "server %s presented no certificate",
				  hostname ? hostname : "?");
	if (hostname == NULL || *hostname == '\0')
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, 0,
				  "no host name to check the certificate against");
	if (n > PD_TLS_MAX_CHAIN)
		n = PD_TLS_MAX_CHAIN;

	r = gnutls_x509_trust_list_init(&tl, 0);
	if (r < 0)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, r, "gnutls: %s", gnutls_strerror(r));
	if (load_trust(tl, ca_file, err) < 0)
		goto out;

	for (size_t i = 0; i < n; i++) {
		gnutls_datum_t d;

		if (chain[i].der == NULL || chain[i].len == 0 || chain[i].len > UINT32_MAX) {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, 0,
				   "certificate %zu of the chain from %s is empty", i, hostname);
			goto out;
		}
		r = gnutls_x509_crt_init(&crts[ncrts]);
		if (r < 0) {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, r, "gnutls: %s", gnutls_strerror(r));
			goto out;
		}
		ncrts++;
		d.data = datum_ptr(chain[i].der);
		d.size = (unsigned int)chain[i].len;
		r = gnutls_x509_crt_import(crts[ncrts - 1], &d, GNUTLS_X509_FMT_DER);
		if (r < 0) {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, r,
				   "certificate %zu of the chain from %s is not valid DER: %s", i,
				   hostname, gnutls_strerror(r));
			goto out;
		}
	}

	/* The host name check covers IP addresses too: GnuTLS matches an IP
	 * literal against the IPAddress subjectAltName entries. */
	vdata[0].type = GNUTLS_DT_DNS_HOSTNAME;
	vdata[0].data = datum_ptr(hostname);
	vdata[0].size = 0;
	vdata[1].type = GNUTLS_DT_KEY_PURPOSE_OID;
	vdata[1].data = datum_ptr(GNUTLS_KP_TLS_WWW_SERVER);
	vdata[1].size = 0;
	r = gnutls_x509_trust_list_verify_crt2(tl, crts, (unsigned int)ncrts, vdata, 2, 0, &status,
					       NULL);
	if (r < 0) {
		pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, r, "cannot verify the certificate of %s: %s",
			   hostname, gnutls_strerror(r));
		goto out;
	}
	if (status != 0) {
		char text[300];
		const char *hint = "";

		status_text(status, text, sizeof(text));
		if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
			hint = ca_file ? " (ca_file does not hold the issuer of this certificate)"
				       : " (set ca_file to your private CA)";
		if (status == (GNUTLS_CERT_INVALID | GNUTLS_CERT_UNEXPECTED_OWNER) ||
		    status == GNUTLS_CERT_UNEXPECTED_OWNER)
			pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, (int)status,
				   "certificate does not match host name %s: %s", hostname, text);
		else
			pd_err_set(err, PD_ERR_PERM, PD_SRC_TLS, (int)status,
				   "certificate of %s not trusted: %s%s", hostname, text, hint);
		goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < ncrts; i++)
		gnutls_x509_crt_deinit(crts[i]);
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	return ret;
}
