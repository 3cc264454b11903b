/*
 * test_util.c - durations, sizes, buffers, UTF-8 validation, hashing, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "ioutil.h"
#include "util.h"

static void test_duration(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		int64_t secs;
	} cases[] = {
		{"30s", 0, 30},     {"15m", 0, 900},     {"8h", 0, 28800},  {"3d", 0, 259200},
		{"2w", 0, 1209600}, {"45", 0, 45},       {" 5m ", 0, 300},  {"0s", 0, 0},
		{"5M", 0, 300},     {"", -1, 0},         {"m", -1, 0},      {"-5m", -1, 0},
		{"5x", -1, 0},      {"5mm", -1, 0},      {"1.5h", -1, 0},   {"5 m s", -1, 0},
		{"99999999999999999999s", -1, 0},        {"9999999999999999d", -1, 0},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		int64_t v = -1;
		int rc = pd_parse_duration(cases[i].in, &v);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(v, cases[i].secs);
	}
	int64_t v;
	assert_int_equal(pd_parse_duration(NULL, &v), -1);
}

static void test_size(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(pd_parse_size("25M", &v), 0);
	assert_int_equal(v, 25u * 1024 * 1024);
	assert_int_equal(pd_parse_size("512k", &v), 0);
	assert_int_equal(v, 512u * 1024);
	assert_int_equal(pd_parse_size("1G", &v), 0);
	assert_int_equal(v, 1024u * 1024 * 1024);
	assert_int_equal(pd_parse_size("100", &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(pd_parse_size("1T", &v), -1);
	assert_int_equal(pd_parse_size("big", &v), -1);
}

static void test_buf(void **state)
{
	(void)state;
	struct pd_buf b;
	size_t len;

	pd_buf_init(&b);
	for (int i = 0; i < 1000; i++)
		pd_buf_printf(&b, "%d,", i);
	assert_true(b.len > 2000);
	assert_int_equal(strlen(b.data), b.len);
	assert_memory_equal(b.data, "0,1,2,", 6);
	pd_buf_reset(&b);
	assert_int_equal(b.len, 0);
	pd_buf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	char *s = pd_buf_steal(&b, &len);
	assert_int_equal(len, 3);
	assert_null(b.data);
	free(s);
	/* stealing an empty buffer gives an empty string, not NULL */
	s = pd_buf_steal(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(pd_utf8_valid("plain", 5));
	assert_true(pd_utf8_valid("Не работает", strlen("Не работает")));
	assert_true(pd_utf8_valid("\xf0\x9f\x98\x80", 4));      /* emoji */
	assert_false(pd_utf8_valid("\xc0\xaf", 2));             /* overlong */
	assert_false(pd_utf8_valid("\xed\xa0\x80", 3));         /* surrogate */
	assert_false(pd_utf8_valid("\xf4\x90\x80\x80", 4));     /* > U+10FFFF */
	assert_false(pd_utf8_valid("\xd0", 1));                 /* truncated */
	assert_false(pd_utf8_valid("\xcf\xf0\xe8", 3));         /* windows-1251 bytes */

	/* cutting and counting by character ("Не" is 4 bytes, 2 characters) */
	static const struct {
		const char *s;
		size_t max, cut;
	} cuts[] = {
		{"plain", 3, 3},         {"plain", 9, 5},          {"\xd0\x9d\xd0\xb5", 3, 2},
		{"\xd0\x9d\xd0\xb5", 1, 0}, {"\xd0\x9d\xd0\xb5", 4, 4},
		{"a\xf0\x9f\x98\x80" "b", 4, 1}, {"a\xf0\x9f\x98\x80" "b", 5, 5},
		{"\xff\xfe\xfd", 2, 2}, /* invalid bytes count one each */
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cuts); i++)
		assert_int_equal(pd_utf8_cut(cuts[i].s, strlen(cuts[i].s), cuts[i].max), cuts[i].cut);
	assert_int_equal(pd_utf8_count("\xd0\x9d\xd0\xb5 ok", 7), 5);
	assert_int_equal(pd_utf8_count("\xff\xfe", 2), 2);
	assert_int_equal(pd_utf8_count("", 0), 0);
	assert_int_equal(pd_utf8_prefix("\xd0\x9d\xd0\xb5 ok", 7, 2), 4);
	assert_int_equal(pd_utf8_prefix("\xd0\x9d\xd0\xb5 ok", 7, 99), 7);
	assert_int_equal(pd_utf8_prefix("\xd0", 1, 1), 1); /* truncated: one byte */
}

static void test_sha256(void **state)
{
	(void)state;
	unsigned char h[32];
	char hex[65];

	pd_sha256("abc", 3, h);
	pd_hex(h, 32, hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_strings(void **state)
{
	(void)state;
	char s[] = "  \t hello world \r\n";
	assert_string_equal(pd_str_trim(s), "hello world");
	assert_true(pd_str_iequal("INBOX", "inbox"));
	assert_true(pd_str_istartswith("Re: x", "re:"));
	assert_false(pd_str_istartswith("R", "re:"));
	char *p = pd_xasprintf("%s-%d", "a", 5);
	assert_string_equal(p, "a-5");
	free(p);
	assert_null(pd_xstrdup(NULL));
}

static void test_err(void **state)
{
	(void)state;
	struct pd_err e;
	char big[1000];

	pd_err_clear(&e);
	assert_int_equal(e.cls, PD_ERR_NONE);
	assert_int_equal(pd_err_set(&e, PD_ERR_TEMP, PD_SRC_IMAP, 3, "line1\nline2 %d", 7), -1);
	assert_string_equal(e.msg, "line1 line2 7");
	assert_int_equal(e.src, PD_SRC_IMAP);
	assert_string_equal(pd_err_src_name(e.src), "imap");
	pd_err_prefix(&e, "mailbox %s", "support");
	assert_string_equal(e.msg, "mailbox support: line1 line2 7");
	assert_string_equal(pd_err_class_name(PD_ERR_FATAL), "fatal");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pd_err_set(&e, PD_ERR_PERM, PD_SRC_DB, 0, "%s", big);
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
	pd_err_prefix(&e, "%s", "ctx");
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
	assert_memory_equal(e.msg, "ctx: xxx", 8);
	assert_int_equal(pd_err_set(NULL, PD_ERR_PERM, PD_SRC_DATA, 0, "ignored"), -1);
}

/* No secret of a conninfo reaches a log line, in either of libpq's forms. */
static void test_conninfo_redact(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"host=127.0.0.1 dbname=postdesk user=postdesk",
	     "host=127.0.0.1 dbname=postdesk user=postdesk"},
	    {"host=db password=S3cret user=pd", "host=db password=*** user=pd"},
	    {"password=S3cret", "password=***"},
	    {"host=db password = S3cret", "host=db password = ***"},
	    {"host=db password='S3 cret\\' x' user=pd", "host=db password=*** user=pd"},
	    {"host=db password=S3\\ cret user=pd", "host=db password=*** user=pd"},
	    {"host=db sslpassword=K3y sslkey=/k.pem", "host=db sslpassword=*** sslkey=/k.pem"},
	    {"host=db PASSWORD=S3cret", "host=db PASSWORD=***"},
	    {"host=db client_secret=abc", "host=db client_secret=***"},
	    {"host=db passfile=/etc/pgpass", "host=db passfile=/etc/pgpass"},
	    {"host=db password=", "host=db password="},
	    {"host=db password", "host=db password"},
	    {"postgresql://pd:S3cret@db:5432/postdesk", "postgresql://pd:***@db:5432/postdesk"},
	    {"postgres://pd:S3c%40ret@db/postdesk", "postgres://pd:***@db/postdesk"},
	    {"postgresql://pd:p@ss@db/x", "postgresql://pd:***@db/x"},
	    {"postgresql://pd@db/postdesk", "postgresql://pd@db/postdesk"},
	    {"postgresql://db/postdesk?user=pd&password=S3cret&sslmode=require",
	     "postgresql://db/postdesk?user=pd&password=***&sslmode=require"},
	    {"postgresql://db?sslpassword=K3y", "postgresql://db?sslpassword=***"},
	    {"postgresql://pd:S3cret@db?password=Other", "postgresql://pd:***@db?password=***"},
	    {"", ""},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		char *r = pd_conninfo_redact(cases[i].in);
		assert_string_equal(r, cases[i].out);
		free(r);
	}
	char *r = pd_conninfo_redact(NULL);
	assert_string_equal(r, "");
	free(r);

	static const struct {
		const char *text, *conninfo, *out;
	} scrub[] = {
	    {"invalid percent-encoded token: \"S3c%zzret\"", "postgresql://pd:S3c%zzret@db/x",
	     "invalid percent-encoded token: \"***\""},
	    {"missing value after S3cret and S3cret", "password=S3cret",
	     "missing value after *** and ***"},
	    {"quoted 'S3 cret' and S3 cret", "password='S3 cret'", "quoted '***' and ***"},
	    {"a * b", "password=*", "a *** b"},
	    {"nothing secret", "host=db", "nothing secret"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(scrub); i++) {
		r = pd_conninfo_scrub(scrub[i].text, scrub[i].conninfo);
		assert_string_equal(r, scrub[i].out);
		free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration), cmocka_unit_test(test_size),
		cmocka_unit_test(test_buf),      cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_sha256),   cmocka_unit_test(test_strings),
		cmocka_unit_test(test_err),      cmocka_unit_test(test_conninfo_redact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
