/*
 * test_codec.c - base64 and quoted-printable both ways, the addr-spec
 * check that config, render and smtp share (tables).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "util.h"

static void test_b64(void **state)
{
	(void)state;
	static const struct {
		const char *plain, *enc;
	} rt[] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
		{"foobar", "Zm9vYmFy"}, {"\xff\xfe\x00", "//4A"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(rt); i++) {
		struct pd_buf b;
		size_t n = i == PD_ARRAY_LEN(rt) - 1 ? 3 : strlen(rt[i].plain);

		pd_buf_init(&b);
		pd_b64_encode(&b, rt[i].plain, n);
		assert_string_equal(b.data ? b.data : "", rt[i].enc);
		pd_buf_reset(&b);
		assert_true(pd_b64_decode(rt[i].enc, strlen(rt[i].enc), &b));
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data ? b.data : "", rt[i].plain, n);
		pd_buf_free(&b);
	}
	static const struct {
		const char *in, *out;
		bool clean;
	} dec[] = {
		{"Zm9v\r\nYmFy\r\n", "foobar", true},  /* line breaks skipped */
		{"Zm9v YmFy", "foobar", true},
		{"Zm9v*YmFy", "foobar", false},        /* junk skipped, reported */
		{"Zm9-", "fo", false},                 /* URL-safe letters are not MIME base64 */
		{"Zg==Zm8=", "ffo", true},             /* concatenated encodings */
		{"Zm9vY", "foo", false},               /* broken final quantum */
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(dec); i++) {
		struct pd_buf b;

		pd_buf_init(&b);
		bool clean = pd_b64_decode(dec[i].in, strlen(dec[i].in), &b);
		if (clean != dec[i].clean || strcmp(b.data ? b.data : "", dec[i].out) != 0)
			fail_msg("case %zu: \"%s\" clean %d", i, b.data ? b.data : "", clean);
		pd_buf_free(&b);
	}
	assert_int_equal(pd_b64_value('A'), 0);
	assert_int_equal(pd_b64_value('-'), 62);
	assert_int_equal(pd_b64_value('_'), 63);
	assert_int_equal(pd_b64_value('='), -1);
}

static void test_qp(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} dec[] = {
		{"a=3Db", "a=b"},
		{"soft=\r\nbreak", "softbreak"},
		{"soft= \t\r\nbreak", "softbreak"},   /* transport padding */
		{"soft=\nbreak", "softbreak"},
		{"end=", "end"},
		{"kept=XY=4", "kept=XY=4"},           /* not hex: kept as written */
		{"=c3=a4", "\xc3\xa4"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(dec); i++) {
		struct pd_buf b;

		pd_buf_init(&b);
		pd_qp_decode(dec[i].in, strlen(dec[i].in), &b);
		assert_string_equal(b.data ? b.data : "", dec[i].out);
		pd_buf_free(&b);
	}
	static const struct {
		const char *in, *out;
		size_t max;
	} enc[] = {
		{"plain text", "plain text\r\n", 76},
		{"trailing ", "trailing=20\r\n", 76},
		{"a=b \xc3\xa4", "a=3Db =C3=A4\r\n", 76},
		{"abcdefgh", "abcd=\r\nefgh\r\n", 5},
		{"", "\r\n", 76},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(enc); i++) {
		struct pd_buf b;

		pd_buf_init(&b);
		pd_qp_encode_line(&b, enc[i].in, strlen(enc[i].in), enc[i].max);
		assert_string_equal(b.data, enc[i].out);
		/* and back */
		pd_buf_reset(&b);
		pd_qp_encode_line(&b, enc[i].in, strlen(enc[i].in), enc[i].max);
		struct pd_buf d;
		pd_buf_init(&d);
		pd_qp_decode(b.data, b.len - 2, &d);
		assert_string_equal(d.data ? d.data : "", enc[i].in);
		pd_buf_free(&d);
		pd_buf_free(&b);
	}
}

static void test_addr_spec(void **state)
{
	(void)state;
	static const struct {
		const char *a;
		bool ascii, utf8;
	} cases[] = {
		{"a@example.com", true, true},
		{"first.last+tag@sub.example.co.uk", true, true},
		{"o'brien@example.ie", true, true},
		{"x_y@host_name.example", true, true},
		{"a@[192.0.2.1]", true, true},
		{"a@localhost", true, true},
		{"\xc3\xa4@example.com", false, true},        /* RFC 6531 */
		{"a@b\xc3\xbc" "cher.example", false, true},
		{"\xc3@example.com", false, false},          /* not UTF-8 */
		{NULL, false, false},
		{"", false, false},
		{"a", false, false},
		{"a@", false, false},
		{"@example.com", false, false},
		{"a..b@example.com", false, false},
		{".a@example.com", false, false},
		{"a.@example.com", false, false},
		{"a@example.com.", false, false},
		{"a@-x.example", false, false},
		{"a@x-.example", false, false},
		{"a\"b@example.com", false, false},
		{"\"a b\"@example.com", false, false},       /* quoted local parts refused */
		{"a,b@example.com", false, false},
		{"a@b@example.com", false, false},
		{"a@exam\tple.com", false, false},
		{"a b@example.com", false, false},
		{"<a@example.com>", false, false},
		{"a@example.com\r\nRSET", false, false},
		{"a\x7f@example.com", false, false},
		{"a@[1.2.3.4", false, false},
		{"a@[]", false, false},
		{"a@[1 2]", false, false},
		/* 64 bytes of local part, then 65 */
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.example", true,
		 true},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.example", false,
		 false},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		if (pd_addr_spec_valid(cases[i].a, 0) != cases[i].ascii)
			fail_msg("case %zu (%s), ASCII: want %d", i, cases[i].a ? cases[i].a : "NULL",
				 cases[i].ascii);
		if (pd_addr_spec_valid(cases[i].a, PD_ADDR_UTF8) != cases[i].utf8)
			fail_msg("case %zu (%s), UTF-8: want %d", i, cases[i].a ? cases[i].a : "NULL",
				 cases[i].utf8);
	}
	/* a label of 64 bytes, of 63; a whole address above 254 */
	char big[300];
	memset(big, 'b', sizeof(big));
	memcpy(big, "a@", 2);
	memcpy(big + 66, ".example", 9);
	assert_false(pd_addr_spec_valid(big, 0));
	memcpy(big + 65, ".example", 9);
	assert_true(pd_addr_spec_valid(big, 0));
	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[1] = '@';
	for (size_t i = 60; i < sizeof(big) - 1; i += 60)
		big[i] = '.';
	assert_false(pd_addr_spec_valid(big, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_addr_spec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
