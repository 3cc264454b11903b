/*
 * test_tls.c - certificate chain verification against the test PKI in
 * tests/data/tls (regenerate with tests/data/tls/make-certs.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "err.h"
#include "tls.h"
#include "util.h"

/* Directory of the test certificates: $top_srcdir/tests/data/tls under make
 * check, else found relative to this source file (out-of-tree builds compile
 * it by absolute path), else relative to the current directory. */
static char data_dir[4096];

static void find_data_dir(void)
{
	const char *top = getenv("top_srcdir");
	char probe[4200];

	if (top != NULL) {
		snprintf(data_dir, sizeof(data_dir), "%s/tests/data/tls", top);
		return;
	}
	snprintf(data_dir, sizeof(data_dir), "%s", __FILE__);
	char *slash = strrchr(data_dir, '/');
	if (slash != NULL) {
		/* .../tests/unit/test_tls.c -> .../tests/data/tls */
		*slash = '\0';
		slash = strrchr(data_dir, '/');
		if (slash != NULL) {
			snprintf(slash, sizeof(data_dir) - (size_t)(slash - data_dir), "/data/tls");
			snprintf(probe, sizeof(probe), "%s/ca.pem", data_dir);
			if (access(probe, R_OK) == 0)
				return;
		}
	}
	snprintf(data_dir, sizeof(data_dir), "tests/data/tls");
}

static char *path_of(const char *name)
{
	return pd_xasprintf("%s/%s", data_dir, name);
}

/* A chain read from PEM files, converted to DER as a server would send it. */
struct chain {
	struct pd_tls_cert c[4];
	gnutls_datum_t der[4];
	size_t n;
};

static void chain_add(struct chain *ch, const char *name)
{
	char *path = path_of(name);
	gnutls_datum_t pem = {NULL, 0};
	gnutls_x509_crt_t crt;

	assert_int_equal(gnutls_load_file(path, &pem), 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &ch->der[ch->n]), 0);
	ch->c[ch->n].der = ch->der[ch->n].data;
	ch->c[ch->n].len = ch->der[ch->n].size;
	ch->n++;
	gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
	free(path);
}

static void chain_free(struct chain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		gnutls_free(ch->der[i].data);
	ch->n = 0;
}

/* Verify names[] (leaf first) for host with ca_file (a file name in the data
 * directory, an absolute path, or NULL for the system store). */
static int verify(const char *const *names, const char *host, const char *ca, struct pd_err *err)
{
	struct chain ch = {.n = 0};
	char *ca_path = NULL;
	int r;

	for (size_t i = 0; names[i] != NULL; i++)
		chain_add(&ch, names[i]);
	if (ca != NULL)
		ca_path = ca[0] == '/' ? pd_xstrdup(ca) : path_of(ca);
	pd_err_clear(err);
	r = pd_tls_verify_chain(ch.c, ch.n, host, ca_path, err);
	if (r < 0) {
		/* a TAP comment, so the refusal texts show in the test log */
		printf("# %s: %s\n", names[0], err->msg);
		fflush(stdout);
	}
	free(ca_path);
	chain_free(&ch);
	return r;
}

static void assert_refused(int r, const struct pd_err *err, const char *needle)
{
	assert_int_equal(r, -1);
	assert_int_equal(err->cls, PD_ERR_PERM);
	assert_int_equal(err->src, PD_SRC_TLS);
	if (strstr(err->msg, needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, err->msg);
}

static void test_trusted_with_ca_file(void **state)
{
	static const char *const leaf[] = {"server.pem", NULL};
	static const char *const full[] = {"server.pem", "ca.pem", NULL};
	struct pd_err err;

	(void)state;
	assert_int_equal(verify(leaf, "127.0.0.1", "ca.pem", &err), 0);
	assert_int_equal(verify(leaf, "localhost", "ca.pem", &err), 0);
	assert_int_equal(verify(leaf, "LOCALHOST", "ca.pem", &err), 0);
	assert_int_equal(verify(leaf, "::1", "ca.pem", &err), 0);
	/* servers often send the CA along; that must not hurt */
	assert_int_equal(verify(full, "127.0.0.1", "ca.pem", &err), 0);
}

static void test_untrusted_system_store(void **state)
{
	static const char *const leaf[] = {"server.pem", NULL};
	static const char *const self[] = {"selfsigned.pem", NULL};
	struct pd_err err;

	(void)state;
	/* our private CA is not in the system store: refused, with the hint */
	assert_refused(verify(leaf, "127.0.0.1", NULL, &err), &err, "ca_file");
	assert_refused(verify(self, "127.0.0.1", NULL, &err), &err, "ca_file");
	/* a self-signed certificate is not trusted through some other CA */
	assert_refused(verify(self, "127.0.0.1", "ca.pem", &err), &err, "not trusted");
	assert_refused(verify(self, "127.0.0.1", "ca.pem", &err), &err, "issuer");
	/* ... but is when it is itself the configured trust anchor */
	assert_int_equal(verify(self, "127.0.0.1", "selfsigned.pem", &err), 0);
}

static void test_wrong_host_name(void **state)
{
	static const char *const wrong[] = {"wrongname.pem", NULL};
	static const char *const leaf[] = {"server.pem", NULL};
	struct pd_err err;

	(void)state;
	assert_refused(verify(wrong, "127.0.0.1", "ca.pem", &err), &err,
		       "does not match host name 127.0.0.1");
	assert_refused(verify(wrong, "localhost", "ca.pem", &err), &err, "localhost");
	/* a valid certificate, but for other names */
	assert_refused(verify(leaf, "mail.example.com", "ca.pem", &err), &err,
		       "does not match host name mail.example.com");
	assert_refused(verify(leaf, "127.0.0.2", "ca.pem", &err), &err, "does not match");
	/* wildcards and suffixes do not stretch */
	assert_refused(verify(leaf, "localhost.example.com", "ca.pem", &err), &err,
		       "does not match");
}

static void test_expired(void **state)
{
	static const char *const expired[] = {"expired.pem", NULL};
	struct pd_err err;

	(void)state;
	assert_refused(verify(expired, "127.0.0.1", "ca.pem", &err), &err, "expired");
}

static void test_unreadable_ca_file(void **state)
{
	static const char *const leaf[] = {"server.pem", NULL};
	struct pd_err err;
	char *empty = pd_xstrdup("/tmp/pd-test-tls-XXXXXX");
	int fd;

	(void)state;
	assert_refused(verify(leaf, "127.0.0.1", "/nonexistent/ca.pem", &err), &err,
		       "cannot read ca_file /nonexistent/ca.pem");
	assert_true(strstr(err.msg, "No such file") != NULL);

	/* readable but holding no certificate */
	fd = mkstemp(empty);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a certificate\n", 18), 18);
	close(fd);
	assert_refused(verify(leaf, "127.0.0.1", empty, &err), &err, "no PEM certificate");
	unlink(empty);
	free(empty);
}

static void test_empty_chain(void **state)
{
	struct pd_tls_cert none = {NULL, 0};
	struct pd_tls_cert garbage = {(const unsigned char *)"\x30\x03\x02\x01\x01", 5};
	struct pd_err err;
	char *ca = path_of("ca.pem");

	(void)state;
	pd_err_clear(&err);
	assert_refused(pd_tls_verify_chain(NULL, 0, "127.0.0.1", ca, &err), &err, "no certificate");
	assert_refused(pd_tls_verify_chain(&none, 1, "127.0.0.1", ca, &err), &err,
		       "no certificate");
	assert_refused(pd_tls_verify_chain(&garbage, 1, "127.0.0.1", ca, &err), &err,
		       "not valid DER");
	free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trusted_with_ca_file),
		cmocka_unit_test(test_untrusted_system_store),
		cmocka_unit_test(test_wrong_host_name),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_unreadable_ca_file),
		cmocka_unit_test(test_empty_chain),
	};

	find_data_dir();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
