/*
 * test_oauth2.c - the pure part of oauth2.c as tables: the SASL XOAUTH2 and
 * OAUTHBEARER strings (decoded and compared byte for byte), token and
 * device answers, the refresh decision, device endpoints derived from token
 * URLs, the device-flow poll decision; and the atomic secret-file write
 * (content, mode 0600, no temporary left behind).
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>

#include "ioutil.h"
#include "oauth2.h"
#include "util.h"

/* base64 decode for the checks */
static char *unb64(const char *s, size_t *len_r)
{
	const gnutls_datum_t in = {(unsigned char *)(uintptr_t)s, (unsigned int)strlen(s)};
	gnutls_datum_t dec = {NULL, 0};

	assert_int_equal(gnutls_base64_decode2(&in, &dec), 0);
	char *out = pd_xmalloc((size_t)dec.size + 1);
	memcpy(out, dec.data, dec.size);
	out[dec.size] = '\0';
	gnutls_free(dec.data);
	*len_r = dec.size;
	return out;
}

static void test_sasl_strings(void **state)
{
	(void)state;
	static const struct {
		const char *user, *host;
		unsigned port;
		const char *token;
		bool bearer;
		const char *want;
		size_t want_len;
	} t[] = {
#define S(x) x, sizeof(x) - 1
		{"someuser@example.com", NULL, 0, "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", false,
		 S("user=someuser@example.com\001auth=Bearer "
		   "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001")},
		{"support", NULL, 0, "t", false, S("user=support\001auth=Bearer t\001\001")},
		{"user@example.com", "server.example.com", 143, "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==",
		 true,
		 S("n,a=user@example.com,\001host=server.example.com\001port=143\001auth=Bearer "
		   "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\001\001")},
		/* saslname escapes of RFC 5801: ',' -> =2C, '=' -> =3D */
		{"a,b=c", "127.0.0.1", 10143, "tok", true,
		 S("n,a=a=2Cb=3Dc,\001host=127.0.0.1\001port=10143\001auth=Bearer tok\001\001")},
#undef S
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(t); i++) {
		char *s = t[i].bearer
				  ? pd_oauth2_sasl_oauthbearer(t[i].user, t[i].host, t[i].port, t[i].token)
				  : pd_oauth2_sasl_xoauth2(t[i].user, t[i].token);
		size_t len;
		char *d = unb64(s, &len);

		assert_int_equal(len, t[i].want_len);
		assert_memory_equal(d, t[i].want, len);
		assert_null(strchr(s, '\n'));
		free(d);
		pd_oauth2_secret_free(s);
	}
	/* Google's documented example, encoded */
	char *g = pd_oauth2_sasl_xoauth2("someuser@example.com",
					 "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	assert_string_equal(g, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbV"
			       "RjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
	pd_oauth2_secret_free(g);
}

static void test_parse_answer(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		int rc;
		const char *access, *refresh, *error, *user_code, *uri;
		int64_t expires_in, interval;
	} t[] = {
		{"{\"access_token\":\"AT\",\"token_type\":\"Bearer\",\"expires_in\":3599,"
		 "\"refresh_token\":\"RT\",\"scope\":\"x\"}",
		 0, "AT", "RT", NULL, NULL, NULL, 3599, 0},
		{"{\"access_token\":\"AT\",\"expires_in\":\"3600\"}\n", 0, "AT", NULL, NULL, NULL,
		 NULL, 3600, 0},
		{"{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70000\"}", 0, NULL,
		 NULL, "invalid_grant", NULL, NULL, 0, 0},
		{"{\"device_code\":\"DC\",\"user_code\":\"ABCD-EFGH\",\"verification_uri\":"
		 "\"https://microsoft.com/devicelogin\",\"expires_in\":900,\"interval\":5}",
		 0, NULL, NULL, NULL, "ABCD-EFGH", "https://microsoft.com/devicelogin", 900, 5},
		/* Google says verification_url */
		{"{\"device_code\":\"DC\",\"user_code\":\"X\",\"verification_url\":"
		 "\"https://www.google.com/device\",\"interval\":\"5\"}",
		 0, NULL, NULL, NULL, "X", "https://www.google.com/device", 0, 5},
		{"{\"access_token\":null}", 0, NULL, NULL, NULL, NULL, NULL, 0, 0},
		{"{}", 0, NULL, NULL, NULL, NULL, NULL, 0, 0},
		{"", -1, NULL, NULL, NULL, NULL, NULL, 0, 0},
		{"<html>502 Bad Gateway</html>", -1, NULL, NULL, NULL, NULL, NULL, 0, 0},
		{"[1,2]", -1, NULL, NULL, NULL, NULL, NULL, 0, 0},
		{"\"AT\"", -1, NULL, NULL, NULL, NULL, NULL, 0, 0},
		{"{\"access_token\":1}", -1, NULL, NULL, NULL, NULL, NULL, 0, 0},
		{"{\"access_token\":\"AT\",\"expires_in\":-5}", -1, NULL, NULL, NULL, NULL, NULL, 0,
		 0},
		{"{\"access_token\":\"AT\",\"expires_in\":\"soon\"}", -1, NULL, NULL, NULL, NULL,
		 NULL, 0, 0},
		{"{\"access_token\":\"AT\"} trailing", -1, NULL, NULL, NULL, NULL, NULL, 0, 0},
		{"{\"access_token\":\"AT\"", -1, NULL, NULL, NULL, NULL, NULL, 0, 0},
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(t); i++) {
		struct pd_oauth2_answer a;
		char why[200] = "";
		int rc = pd_oauth2_parse_answer(t[i].json, strlen(t[i].json), &a, why, sizeof(why));

		if (rc != t[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d (%s)", i, t[i].json, rc, t[i].rc,
				 why);
		if (rc < 0) {
			assert_true(why[0] != '\0');
			/* a failing parse leaves nothing to free but is safe to free */
			pd_oauth2_answer_free(&a);
			continue;
		}
#define STR_EQ(got, want)                                                                          \
	do {                                                                                       \
		if ((want) == NULL)                                                                \
			assert_null(got);                                                          \
		else                                                                               \
			assert_string_equal(got, want);                                            \
	} while (0)
		STR_EQ(a.access_token, t[i].access);
		STR_EQ(a.refresh_token, t[i].refresh);
		STR_EQ(a.error, t[i].error);
		STR_EQ(a.user_code, t[i].user_code);
		STR_EQ(a.verification_uri, t[i].uri);
		assert_int_equal(a.expires_in, t[i].expires_in);
		assert_int_equal(a.interval, t[i].interval);
		pd_oauth2_answer_free(&a);
	}
}

static void test_refresh_due(void **state)
{
	(void)state;
	static const struct {
		int64_t obtained, expires, now;
		bool due;
	} t[] = {
		{0, 0, 1000, true},          /* no token */
		{1000, 4600, 1000, false},   /* fresh, 1 h */
		{1000, 4600, 4299, false},   /* margin 300 s: not yet */
		{1000, 4600, 4300, true},    /* 5 min before expiry */
		{1000, 4600, 5000, true},    /* expired */
		{1000, 1010, 1007, false},   /* 10 s token: margin 2 s */
		{1000, 1010, 1008, true},
		{1000, 1003, 1001, false},   /* 3 s token: margin at least 1 s */
		{1000, 1003, 1002, true},
		{1000, 1000, 1000, true},    /* zero life */
		{1000, 87400, 87099, false}, /* 1 day: margin capped at 300 s */
		{1000, 87400, 87100, true},
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(t); i++)
		if (pd_oauth2_refresh_due(t[i].obtained, t[i].expires, t[i].now) != t[i].due)
			fail_msg("case %zu: want %s", i, t[i].due ? "due" : "not due");
}

static void test_device_url(void **state)
{
	(void)state;
	static const struct {
		const char *token_url, *want;
	} t[] = {
		{"https://login.microsoftonline.com/common/oauth2/v2.0/token",
		 "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"},
		{"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
		 "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"},
		{"https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/device/code"},
		{"https://accounts.google.com/o/oauth2/token",
		 "https://oauth2.googleapis.com/device/code"},
		{"https://login.microsoftonline.com//oauth2/v2.0/token", NULL},
		{"https://login.microsoftonline.com/a/b/oauth2/v2.0/token", NULL},
		{"https://login.microsoftonline.com/common/oauth2/token", NULL},
		{"http://127.0.0.1:8080/token", NULL},
		{"https://idp.example.com/token", NULL},
		{NULL, NULL},
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(t); i++) {
		char *got = pd_oauth2_device_url_for(t[i].token_url);
		if (t[i].want == NULL)
			assert_null(got);
		else
			assert_string_equal(got, t[i].want);
		free(got);
	}
}

static void test_poll_decide(void **state)
{
	(void)state;
	static const struct {
		const char *error, *access;
		enum pd_oauth2_poll want;
	} t[] = {
		{NULL, "AT", PD_OAUTH2_POLL_DONE},
		{NULL, NULL, PD_OAUTH2_POLL_FAILED},
		{NULL, "", PD_OAUTH2_POLL_FAILED},
		{"authorization_pending", NULL, PD_OAUTH2_POLL_WAIT},
		{"slow_down", NULL, PD_OAUTH2_POLL_SLOWER},
		{"access_denied", NULL, PD_OAUTH2_POLL_DENIED},
		{"authorization_declined", NULL, PD_OAUTH2_POLL_DENIED},
		{"expired_token", NULL, PD_OAUTH2_POLL_EXPIRED},
		{"invalid_grant", NULL, PD_OAUTH2_POLL_FAILED},
		{"invalid_client", "AT", PD_OAUTH2_POLL_FAILED},
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(t); i++) {
		struct pd_oauth2_answer a = {0};
		a.error = pd_xstrdup(t[i].error);
		a.access_token = pd_xstrdup(t[i].access);
		assert_int_equal(pd_oauth2_poll_decide(&a), t[i].want);
		pd_oauth2_answer_free(&a);
	}
}

static void test_write_secret_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/pd-oauth2-XXXXXX";
	struct pd_err err;
	struct stat st;
	char *path, *data;
	size_t len;

	assert_non_null(mkdtemp(dir));
	path = pd_xasprintf("%s/token", dir);
	/* an existing file readable by all is replaced by one of mode 0600 */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("old\n", f);
	fclose(f);
	chmod(path, 0644);
	assert_int_equal(pd_oauth2_write_secret_file(path, "new-refresh-token", &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(pd_read_file(path, &data, &len), 0);
	assert_string_equal(data, "new-refresh-token\n");
	free(data);
	/* nothing else is left in the directory */
	char *tmp = pd_xasprintf("%s.tmp.%ld", path, (long)getpid());
	assert_int_not_equal(access(tmp, F_OK), 0);
	free(tmp);
	/* a directory that does not exist: PERM naming the path */
	char *bad = pd_xasprintf("%s/missing/token", dir);
	assert_int_equal(pd_oauth2_write_secret_file(bad, "x", &err), -1);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_non_null(strstr(err.msg, bad));
	assert_null(strstr(err.msg, "x\n"));
	free(bad);
	unlink(path);
	rmdir(dir);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_strings),    cmocka_unit_test(test_parse_answer),
		cmocka_unit_test(test_refresh_due),     cmocka_unit_test(test_device_url),
		cmocka_unit_test(test_poll_decide),     cmocka_unit_test(test_write_secret_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
