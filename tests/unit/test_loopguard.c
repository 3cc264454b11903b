/*
 * test_loopguard.c - loop protection, rule by rule, table by table, with
 * header variants real mailers write; the header fields as mime.c records
 * them for the guard; the DSN reader (on what mime.c parsed) against Postfix, Exim, Exchange and Gmail bounces of our own mail
 * (tests/data/loop) and the multipart/report mail of the shared corpus
 * ($PD_CORPUS, else $top_srcdir/../shared/corpus).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ioutil.h"
#include "loopguard.h"
#include "mime.h"
#include "msg.h"
#include "util.h"

/* ------------------------------------------------------------- paths */

/* The source tree: $top_srcdir (set by make check), else the directory
 * this file was compiled from. */
static char *top_srcdir(void)
{
	const char *env = getenv("top_srcdir");
	const char *file = __FILE__;
	const char *cut;

	if (env != NULL && *env != '\0')
		return pd_xstrdup(env);
	cut = strstr(file, "tests/unit/test_loopguard.c");
	if (cut == NULL || cut == file)
		return pd_xstrdup(".");
	return pd_xstrndup(file, (size_t)(cut - file - 1));
}

static char *corpus_dir(void)
{
	const char *env = getenv("PD_CORPUS");
	char *top, *dir;

	if (env != NULL && *env != '\0')
		return pd_xstrdup(env);
	top = top_srcdir();
	dir = pd_xasprintf("%s/../shared/corpus", top);
	free(top);
	return dir;
}

static char *read_or_fail(const char *path, size_t *len_r)
{
	char *data;

	if (pd_read_file(path, &data, len_r) < 0)
		fail_msg("cannot read %s", path);
	return data;
}

static char *fixture(const char *name, size_t *len_r)
{
	char *top = top_srcdir();
	char *path = pd_xasprintf("%s/tests/data/loop/%s", top, name);
	char *data = read_or_fail(path, len_r);

	free(top);
	free(path);
	return data;
}

/* ----------------------------------------------------------- helpers */

static const char *const OWN[] = {"support@example.com", "help@example.org"};

/* The usual input: our two addresses, loop value "example.com", no limits. */
static void input_init(struct pd_loop_input *in, const struct pd_msg *m)
{
	memset(in, 0, sizeof(*in));
	in->msg = m;
	in->own_addresses = OWN;
	in->n_own = PD_ARRAY_LEN(OWN);
	in->loop_header_value = "example.com";
}

/*
 * Verdict for a mail made of the header lines hdrs (LF-separated, turned
 * into CRLF) and a short body; when hdrs has no From line a customer's From
 * is added first.
 */
static enum pd_loop_verdict verdict_of(const char *hdrs, const char **reason_r)
{
	struct pd_buf b;
	struct pd_loop_input in;
	struct pd_msg *m;
	enum pd_loop_verdict v;

	pd_buf_init(&b);
	if (strncmp(hdrs, "From:", 5) != 0 && strstr(hdrs, "\nFrom:") == NULL)
		pd_buf_append_str(&b, "From: Ivan Petrov <ivan@customer.example>\r\n");
	for (const char *p = hdrs; *p; p++) {
		if (*p == '\n')
			pd_buf_append_char(&b, '\r');
		pd_buf_append_char(&b, *p);
	}
	pd_buf_append_str(&b, "\r\nSubject: test\r\nMessage-ID: <t@customer.example>\r\n\r\n"
			      "Hello, my printer is broken.\r\n");
	m = pd_mime_parse(b.data, b.len, NULL);
	input_init(&in, m);
	v = pd_loopguard_check(&in, reason_r);
	pd_msg_free(m);
	pd_buf_free(&b);
	return v;
}

struct vcase {
	const char *hdrs;
	enum pd_loop_verdict want;
};

static void run_cases(const struct vcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		enum pd_loop_verdict v = verdict_of(c[i].hdrs, &why);
		if (v != c[i].want)
			fail_msg("case %zu [%s]: got %s (%s), want %s", i, c[i].hdrs,
				 pd_loop_verdict_name(v), why ? why : "-",
				 pd_loop_verdict_name(c[i].want));
		assert_non_null(why);
	}
}

/* Raw mail through the MIME parser, then the loop guard's readers: what
 * the daemon does (ingest parses once, the guard decides from pd_msg). */

/* The nth field called name as mime.c records it, newly allocated or NULL. */
static char *field_of(const char *raw, size_t len, const char *name)
{
	struct pd_msg *m;
	char *v;

	if (raw == NULL)
		return NULL;
	m = pd_mime_parse(raw, len, NULL);
	v = pd_xstrdup(pd_msg_field(m, name, 0));
	pd_msg_free(m);
	return v;
}

static int dsn_of(const char *raw, size_t len, char **id_r, char **rcpt_r, bool *perm_r)
{
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);
	int r = pd_loopguard_dsn(m, id_r, rcpt_r, perm_r);

	pd_msg_free(m);
	return r;
}

static bool is_dsn_of(const char *raw, size_t len)
{
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);
	bool yes = pd_loopguard_is_dsn(m);

	pd_msg_free(m);
	return yes;
}

/* ------------------------------------------- header fields as recorded */

static void test_header_scan(void **state)
{
	(void)state;
	static const struct {
		const char *raw, *name, *want;
	} cases[] = {
		{"A: 1\r\nB: 2\r\n\r\nbody", "B", "2"},
		{"A: 1\nB: 2\n\nbody", "b", "2"},
		{"auto-submitted: Auto-Replied\r\n\r\n", "Auto-Submitted", "Auto-Replied"},
		/* folded with CRLF and tabs: the line break goes, the white space stays */
		{"X-A: one\r\n\ttwo\r\n  three\r\nB: x\r\n\r\n", "X-A", "one\ttwo  three"},
		{"X-A:\r\n auto-replied\r\n\r\n", "X-A", "auto-replied"},
		/* first occurrence wins */
		{"X-A: first\r\nX-A: second\r\n\r\n", "X-A", "first"},
		/* empty field is "", not absent */
		{"X-Autoreply:\r\nB: 2\r\n\r\n", "X-Autoreply", ""},
		{"X-Autoreply:   \r\n\r\n", "X-Autoreply", ""},
		/* names match whole: prefixes and longer names do not count */
		{"X-AutoReply-From: a@b\r\n\r\n", "X-Autoreply", NULL},
		{"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n", "List-Unsubscribe",
		 NULL},
		{"X-Autoreply: yes\r\n\r\n", "X-AutoReply-From", NULL},
		/* white space before the colon (obsolete syntax) */
		{"Precedence : bulk\r\n\r\n", "Precedence", "bulk"},
		/* the body is not the header */
		{"A: 1\r\n\r\nList-Id: <x.example>\r\n", "List-Id", NULL},
		{"A: 1\n\nList-Id: <x.example>\n", "List-Id", NULL},
		/* an mbox From line is skipped, garbage lines too */
		{"From MAILER-DAEMON Mon Mar  4 11:02:17 2024\nList-Id: <l.example>\n\n", "List-Id",
		 "<l.example>"},
		/* a line that is neither a field nor a continuation starts the body
		 * (mime.c, as Python's email package) unless a well-known field
		 * and another field follow it: then the block is repaired */
		{"garbage line\r\nX-A: v\r\n\r\n", "X-A", NULL},
		{"garbage line\r\nFrom: a@b.example\r\nList-Id: <l.example>\r\n\r\n", "List-Id",
		 "<l.example>"},
		{"  stray continuation\r\nX-A: v\r\n\r\n", "X-A", "v"},
		/* no body, no final line break */
		{"X-A: v", "X-A", "v"},
		{"", "X-A", NULL},
		{"\r\nX-A: v\r\n", "X-A", NULL},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		char *v = field_of(cases[i].raw, strlen(cases[i].raw), cases[i].name);
		if (cases[i].want == NULL) {
			if (v != NULL)
				fail_msg("case %zu: got \"%s\", want none", i, v);
		} else {
			if (v == NULL)
				fail_msg("case %zu: got none, want \"%s\"", i, cases[i].want);
			assert_string_equal(v, cases[i].want);
		}
		free(v);
	}
	assert_null(field_of(NULL, 0, "X-A"));
	assert_null(field_of("X-A: v\r\n", 8, NULL));
	/* the length is respected: no read past len */
	char *v = field_of("X-A: value", 7, "X-A");
	assert_string_equal(v, "va");
	free(v);
}

static void test_header_bounds(void **state)
{
	(void)state;
	struct pd_buf b;
	char *v;

	/* a 1 MB value is cut */
	pd_buf_init(&b);
	pd_buf_append_str(&b, "X-Big: ");
	for (int i = 0; i < (1 << 20); i++)
		pd_buf_append_char(&b, 'a');
	pd_buf_append_str(&b, "\r\nX-After: yes\r\n\r\n");
	v = field_of(b.data, b.len, "X-Big");
	assert_non_null(v);
	assert_int_equal(strlen(v), PD_MSG_FIELD_MAX);
	free(v);
	/* ... and the field after it is still read: the header block is bounded
	 * by the message size limit and the parser's field count, not by bytes */
	v = field_of(b.data, b.len, "X-After");
	assert_string_equal(v, "yes");
	free(v);
	pd_buf_free(&b);

	/* many folded lines are cut too */
	pd_buf_init(&b);
	pd_buf_append_str(&b, "X-Folded: start");
	for (int i = 0; i < 10000; i++)
		pd_buf_append_str(&b, "\r\n continued");
	pd_buf_append_str(&b, "\r\nX-After: yes\r\n\r\n");
	v = field_of(b.data, b.len, "X-Folded");
	assert_int_equal(strlen(v), PD_MSG_FIELD_MAX);
	free(v);
	v = field_of(b.data, b.len, "X-After");
	assert_string_equal(v, "yes");
	free(v);
	pd_buf_free(&b);
}

/* ------------------------------------------------------------- rules */

static void test_no_address(void **state)
{
	(void)state;
	static const struct vcase cases[] = {
		{"From: ", PD_LOOP_NO_ADDRESS},
		{"From: undisclosed-recipients:;", PD_LOOP_NO_ADDRESS},
		{"From: postoffice", PD_LOOP_NO_ADDRESS},
		{"From: \"Ivan\" <>", PD_LOOP_NO_ADDRESS},
		{"To: support@example.com", PD_LOOP_OK}, /* From added by the helper */
		/* no From, but a Sender */
		{"From: Ivan\nSender: ivan@customer.example", PD_LOOP_OK},
	};
	run_cases(cases, PD_ARRAY_LEN(cases));

	/* no message at all, no input at all */
	struct pd_loop_input in;
	const char *why;
	input_init(&in, NULL);
	assert_int_equal(pd_loopguard_check(&in, &why), PD_LOOP_NO_ADDRESS);
	assert_int_equal(pd_loopguard_check(NULL, NULL), PD_LOOP_NO_ADDRESS);

	/* a mail without any header block */
	struct pd_msg *m = pd_mime_parse("", 0, NULL);
	input_init(&in, m);
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_NO_ADDRESS);
	pd_msg_free(m);
}

static void test_own(void **state)
{
	(void)state;
	static const struct vcase cases[] = {
		{"From: support@example.com", PD_LOOP_OWN},
		{"From: Example Support <Support@Example.COM>", PD_LOOP_OWN},
		{"From: support+note@example.com", PD_LOOP_OWN},
		{"From: SUPPORT+ticket-42@EXAMPLE.COM", PD_LOOP_OWN},
		{"From: help@example.org", PD_LOOP_OWN},
		{"From: \"Alice via Example Support\" <support@example.com>", PD_LOOP_OWN},
		/* near misses */
		{"From: support@example.org", PD_LOOP_OK},
		{"From: xsupport@example.com", PD_LOOP_OK},
		{"From: supportx@example.com", PD_LOOP_OK},
		{"From: support@sub.example.com", PD_LOOP_OK},
		{"From: support@example.com.evil.example", PD_LOOP_OK},
		{"From: support-team@example.com", PD_LOOP_OK},
		/* our loop header: with our value only */
		{"X-Postdesk-Loop: example.com", PD_LOOP_OWN},
		{"x-postdesk-loop:   EXAMPLE.com  ", PD_LOOP_OWN},
		{"X-Postdesk-Loop: other.example\nX-Postdesk-Loop: example.com", PD_LOOP_OWN},
		{"X-Postdesk-Loop: other.example", PD_LOOP_OK},
	};
	run_cases(cases, PD_ARRAY_LEN(cases));

	/* has_loop_header from the caller; a NULL loop value matches any */
	static const char raw[] = "From: ivan@customer.example\r\nX-Postdesk-Loop: x\r\n\r\nhi\r\n";
	static const char plain[] = "From: ivan@customer.example\r\n\r\nhi\r\n";
	struct pd_msg *m = pd_mime_parse(plain, sizeof(plain) - 1, NULL);
	struct pd_loop_input in;
	const char *why;
	input_init(&in, m);
	in.has_loop_header = true;
	assert_int_equal(pd_loopguard_check(&in, &why), PD_LOOP_OWN);
	assert_string_equal(why, "carries our X-Postdesk-Loop header");
	pd_msg_free(m);
	m = pd_mime_parse(raw, sizeof(raw) - 1, NULL);
	input_init(&in, m);
	in.loop_header_value = NULL;
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_OWN);
	/* no own addresses configured */
	in.loop_header_value = "example.com";
	in.own_addresses = NULL;
	in.n_own = 0;
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_OK);
	pd_msg_free(m);
}

static void test_bounce(void **state)
{
	(void)state;
	static const struct vcase cases[] = {
		{"Return-Path: <>", PD_LOOP_BOUNCE},
		{"Return-path: <>", PD_LOOP_BOUNCE},
		{"Return-Path: < >", PD_LOOP_BOUNCE},
		{"Return-Path: <> (null sender)", PD_LOOP_BOUNCE},
		{"Return-Path:\n <>", PD_LOOP_BOUNCE},
		{"Return-Path: <MAILER-DAEMON>", PD_LOOP_BOUNCE},
		{"Return-Path: <mailer-daemon@mx.example.net>", PD_LOOP_BOUNCE},
		/* the topmost Return-Path is the one the final MTA wrote */
		{"Return-Path: <ivan@customer.example>\nReturn-Path: <>", PD_LOOP_OK},
		{"Return-Path: <ivan@customer.example>", PD_LOOP_OK},
		{"Return-Path: <bounces+123@mailer.example>", PD_LOOP_OK},
		/* detected from the Content-Type */
		{"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n"
		 "\tboundary=\"b\"",
		 PD_LOOP_BOUNCE},
		{"Content-Type: Multipart/Report;\n report-type=\"Delivery-Status\"; boundary=b",
		 PD_LOOP_BOUNCE},
		{"Content-Type: multipart/report; boundary=\"x; report-type=delivery-status\"; "
		 "report-type=global-delivery-status",
		 PD_LOOP_BOUNCE},
		/* a read receipt is a report too, but not a bounce */
		{"Content-Type: multipart/report; report-type=disposition-notification; boundary=b",
		 PD_LOOP_AUTO_SUBMITTED},
		{"Content-Type: multipart/mixed; boundary=\"report-type=delivery-status\"",
		 PD_LOOP_OK},
	};
	run_cases(cases, PD_ARRAY_LEN(cases));

	/* is_dsn from the caller */
	static const char plain[] = "From: ivan@customer.example\r\n\r\nhi\r\n";
	struct pd_msg *m = pd_mime_parse(plain, sizeof(plain) - 1, NULL);
	struct pd_loop_input in;
	input_init(&in, m);
	in.is_dsn = true;
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_BOUNCE);
	pd_msg_free(m);
}

static void test_role_sender(void **state)
{
	(void)state;
	static const struct vcase cases[] = {
		{"From: MAILER-DAEMON@mx.customer.example", PD_LOOP_ROLE_SENDER},
		{"From: Mail Delivery Subsystem <Mailer-Daemon@mx.example.net>", PD_LOOP_ROLE_SENDER},
		{"From: MAILER-DAEMON@lvmail01.LL.com (Mail Delivery System)", PD_LOOP_ROLE_SENDER},
		{"From: Mail Administrator <Postmaster@ci.example>", PD_LOOP_ROLE_SENDER},
		{"From: postmaster@example.net", PD_LOOP_ROLE_SENDER},
		{"From: noreply@shop.example", PD_LOOP_ROLE_SENDER},
		{"From: \"Shop\" <NoReply@shop.example>", PD_LOOP_ROLE_SENDER},
		{"From: no-reply@accounts.google.com", PD_LOOP_ROLE_SENDER},
		{"From: no_reply@bank.example", PD_LOOP_ROLE_SENDER},
		{"From: donotreply@portal.example", PD_LOOP_ROLE_SENDER},
		{"From: DoNotReply@portal.example", PD_LOOP_ROLE_SENDER},
		{"From: do-not-reply@portal.example", PD_LOOP_ROLE_SENDER},
		{"From: bounce@mailer.example", PD_LOOP_ROLE_SENDER},
		{"From: bounces@lists.example", PD_LOOP_ROLE_SENDER},
		{"From: bounces+SRS=abc=12@lists.example", PD_LOOP_ROLE_SENDER},
		{"From: noreply+notifications@github.example", PD_LOOP_ROLE_SENDER},
		{"From: MAILER-DAEMON+x@mx.example", PD_LOOP_ROLE_SENDER},
		/* not roles */
		{"From: noreplyx@shop.example", PD_LOOP_OK},
		{"From: reply@shop.example", PD_LOOP_OK},
		{"From: postmaster-team@example.net", PD_LOOP_OK},
		{"From: ivan@noreply.example", PD_LOOP_OK},
		{"From: bouncer@club.example", PD_LOOP_OK},
		{"From: \"noreply\" <ivan@customer.example>", PD_LOOP_OK},
		{"From: x+noreply@customer.example", PD_LOOP_OK},
	};
	run_cases(cases, PD_ARRAY_LEN(cases));
}

static void test_auto_submitted(void **state)
{
	(void)state;
	static const struct vcase cases[] = {
		{"Auto-Submitted: auto-replied", PD_LOOP_AUTO_SUBMITTED},
		{"Auto-Submitted: auto-generated", PD_LOOP_AUTO_SUBMITTED},
		{"Auto-Submitted: auto-notified", PD_LOOP_AUTO_SUBMITTED},
		{"Auto-Submitted: auto-replied (vacation)", PD_LOOP_AUTO_SUBMITTED},
		{"Auto-Submitted: Auto-Replied; owner-email=\"ivan@customer.example\"",
		 PD_LOOP_AUTO_SUBMITTED},
		{"auto-submitted: AUTO-GENERATED (failure)", PD_LOOP_AUTO_SUBMITTED},
		{"Auto-Submitted:\n\tauto-replied", PD_LOOP_AUTO_SUBMITTED},
		{"Auto-Submitted: yes", PD_LOOP_AUTO_SUBMITTED},
		{"Auto-Submitted: ", PD_LOOP_AUTO_SUBMITTED},
		{"Auto-Submitted: nope", PD_LOOP_AUTO_SUBMITTED},
		{"Auto-Submitted: (no) auto-replied", PD_LOOP_AUTO_SUBMITTED},
		/* "no" in any spelling is a person */
		{"Auto-Submitted: no", PD_LOOP_OK},
		{"Auto-Submitted: No", PD_LOOP_OK},
		{"Auto-Submitted:   NO  ", PD_LOOP_OK},
		{"Auto-Submitted: no (manual)", PD_LOOP_OK},
		{"Auto-Submitted: no; comment=x", PD_LOOP_OK},
		/* autoresponder headers, any value */
		{"X-Autoreply: yes", PD_LOOP_AUTO_SUBMITTED},
		{"X-AutoReply: YES", PD_LOOP_AUTO_SUBMITTED},
		{"X-Autorespond: Thank you for your mail", PD_LOOP_AUTO_SUBMITTED},
		{"X-Autogenerated: Reply", PD_LOOP_AUTO_SUBMITTED},
		{"X-AutoGenerated: Forward", PD_LOOP_AUTO_SUBMITTED},
		{"X-AutoReply-From: ivan@customer.example", PD_LOOP_AUTO_SUBMITTED},
		{"X-Autoreply:", PD_LOOP_AUTO_SUBMITTED},
		{"Precedence: auto_reply", PD_LOOP_AUTO_SUBMITTED},
		/* lookalikes */
		{"X-Autoreply-Suppress: yes", PD_LOOP_OK},
		{"X-Mailer: Autoreply 2.0", PD_LOOP_OK},
		{"Subject: Auto-Submitted: auto-replied", PD_LOOP_OK},
	};
	run_cases(cases, PD_ARRAY_LEN(cases));
}

static void test_suppress(void **state)
{
	(void)state;
	static const struct vcase cases[] = {
		{"X-Auto-Response-Suppress: All", PD_LOOP_SUPPRESS},
		{"X-Auto-Response-Suppress: all", PD_LOOP_SUPPRESS},
		{"X-Auto-Response-Suppress: OOF", PD_LOOP_SUPPRESS},
		{"X-Auto-Response-Suppress: AutoReply", PD_LOOP_SUPPRESS},
		{"X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply", PD_LOOP_SUPPRESS},
		{"X-Auto-Response-Suppress: DR,OOF", PD_LOOP_SUPPRESS},
		{"X-Auto-Response-Suppress: DR, RN,\n NRN, OOF", PD_LOOP_SUPPRESS},
		/* receipts only: answers are still allowed */
		{"X-Auto-Response-Suppress: DR, RN, NRN", PD_LOOP_OK},
		{"X-Auto-Response-Suppress: RN, NRN", PD_LOOP_OK},
		{"X-Auto-Response-Suppress: NDR", PD_LOOP_OK},
		{"X-Auto-Response-Suppress: OOFX, Allow", PD_LOOP_OK},
		{"X-Auto-Response-Suppress:", PD_LOOP_OK},
	};
	run_cases(cases, PD_ARRAY_LEN(cases));
}

static void test_bulk(void **state)
{
	(void)state;
	static const struct vcase cases[] = {
		{"Precedence: bulk", PD_LOOP_BULK},
		{"Precedence: Bulk", PD_LOOP_BULK},
		{"Precedence: junk", PD_LOOP_BULK},
		{"Precedence: list", PD_LOOP_BULK},
		{"Precedence:  LIST ", PD_LOOP_BULK},
		{"Precedence: bulk (newsletter)", PD_LOOP_BULK},
		{"List-Id: <announce.lists.example.org>", PD_LOOP_BULK},
		{"List-Id: \"Users of Foo\" <users.foo.example.org>", PD_LOOP_BULK},
		{"List-ID: Team list <team.googlegroups.com>", PD_LOOP_BULK},
		{"List-Unsubscribe: <mailto:unsubscribe+45b0d380@blah.example>", PD_LOOP_BULK},
		{"List-Unsubscribe: <https://news.shop.example/u?id=42>,\n"
		 " <mailto:u-42@news.shop.example>\n"
		 "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
		 PD_LOOP_BULK},
		/* not bulk */
		{"Precedence: first-class", PD_LOOP_OK},
		{"Precedence: normal", PD_LOOP_OK},
		{"Precedence: bulky", PD_LOOP_OK},
		{"List-Help: <mailto:help@lists.example>", PD_LOOP_OK},
		{"X-List-Id: none", PD_LOOP_OK},
	};
	run_cases(cases, PD_ARRAY_LEN(cases));
}

static void test_suppressed_and_rate(void **state)
{
	(void)state;
	static const struct {
		bool suppressed;
		int recent, day, limit_recent, limit_day;
		enum pd_loop_verdict want;
	} cases[] = {
		{false, 0, 0, 10, 40, PD_LOOP_OK},
		{false, 9, 39, 10, 40, PD_LOOP_OK},
		{false, 10, 10, 10, 40, PD_LOOP_RATE},
		{false, 11, 11, 10, 40, PD_LOOP_RATE},
		{false, 2, 40, 10, 40, PD_LOOP_RATE},
		{false, 1000, 1000, 0, 0, PD_LOOP_OK}, /* 0 = no limit */
		{false, 1000, 5, 0, 40, PD_LOOP_OK},
		{false, 5, 1000, 10, 0, PD_LOOP_OK},
		{false, 1, 0, 1, 0, PD_LOOP_RATE},
		{true, 0, 0, 10, 40, PD_LOOP_SUPPRESSED},
		{true, 50, 50, 10, 40, PD_LOOP_SUPPRESSED}, /* suppressed comes first */
	};
	static const char raw[] = "From: Ivan <ivan@customer.example>\r\nSubject: hi\r\n\r\nhi\r\n";
	struct pd_msg *m = pd_mime_parse(raw, sizeof(raw) - 1, NULL);

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		struct pd_loop_input in;
		const char *why = NULL;
		input_init(&in, m);
		in.sender_suppressed = cases[i].suppressed;
		in.auto_sent_recent = cases[i].recent;
		in.auto_sent_day = cases[i].day;
		in.limit_recent = cases[i].limit_recent;
		in.limit_day = cases[i].limit_day;
		if (pd_loopguard_check(&in, &why) != cases[i].want)
			fail_msg("case %zu: %s", i, why);
	}
	pd_msg_free(m);
}

/* When several rules match, the documented order decides. */
static void test_order(void **state)
{
	(void)state;
	static const struct vcase cases[] = {
		{"From: \nReturn-Path: <>", PD_LOOP_NO_ADDRESS},
		{"From: support@example.com\nReturn-Path: <>\nAuto-Submitted: auto-replied",
		 PD_LOOP_OWN},
		{"From: ivan@customer.example\nX-Postdesk-Loop: example.com\nReturn-Path: <>",
		 PD_LOOP_OWN},
		{"From: MAILER-DAEMON@mx.example\nReturn-Path: <>\nAuto-Submitted: auto-replied",
		 PD_LOOP_BOUNCE},
		{"From: noreply@shop.example\nAuto-Submitted: auto-generated\nPrecedence: bulk",
		 PD_LOOP_ROLE_SENDER},
		{"Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\nPrecedence: bulk",
		 PD_LOOP_AUTO_SUBMITTED},
		{"X-Auto-Response-Suppress: All\nPrecedence: bulk\nList-Id: <l.example>",
		 PD_LOOP_SUPPRESS},
		{"Precedence: bulk\nList-Id: <l.example>", PD_LOOP_BULK},
	};
	run_cases(cases, PD_ARRAY_LEN(cases));

	/* bulk before suppressed before rate */
	static const char raw[] = "From: news@shop.example\r\nList-Id: <n.shop.example>\r\n\r\nx\r\n";
	struct pd_msg *m = pd_mime_parse(raw, sizeof(raw) - 1, NULL);
	struct pd_loop_input in;
	input_init(&in, m);
	in.sender_suppressed = true;
	in.auto_sent_recent = 99;
	in.limit_recent = 1;
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_BULK);
	pd_msg_free(m);
}

/* Whole header sets as real mailers send them. */
static void test_real_world(void **state)
{
	(void)state;
	static const struct vcase cases[] = {
		/* Gmail vacation responder */
		{"From: Ivan Petrov <ivan.petrov@gmail.example>\n"
		 "Auto-Submitted: auto-replied\n"
		 "In-Reply-To: <ack.1.x@support.example.com>\n"
		 "Precedence: bulk\n"
		 "X-Autoreply: yes",
		 PD_LOOP_AUTO_SUBMITTED},
		/* Outlook / Exchange out of office */
		{"From: Martin Mueller <M.Mueller@contoso.example>\n"
		 "Auto-Submitted: auto-generated\n"
		 "X-Auto-Response-Suppress: All\n"
		 "X-MS-Exchange-Inbox-Rules-Loop: M.Mueller@contoso.example\n"
		 "Thread-Topic: Automatic reply: [Support #512] VPN access",
		 PD_LOOP_AUTO_SUBMITTED},
		/* Exchange, old style: only suppression */
		{"From: m.mueller@contoso.example\nX-Auto-Response-Suppress: All", PD_LOOP_SUPPRESS},
		/* Yandex / mail.ru autoresponders */
		{"From: ivanov@yandex.example\nX-Yandex-Autoreply: yes\nAuto-Submitted: auto-replied",
		 PD_LOOP_AUTO_SUBMITTED},
		{"From: olga@mail.example\nX-Autoreply: yes\nX-Mailru-Msgtype: autoreply",
		 PD_LOOP_AUTO_SUBMITTED},
		/* cPanel / vacation(1) */
		{"From: info@hosting.example\nX-Autorespond: Away until Monday\n"
		 "Precedence: auto_reply",
		 PD_LOOP_AUTO_SUBMITTED},
		/* another help desk's acknowledgement */
		{"From: Acme Support <support@acme.example>\n"
		 "Auto-Submitted: auto-replied\n"
		 "X-Autoreply: yes\n"
		 "Subject: [Acme #881] We received your request",
		 PD_LOOP_AUTO_SUBMITTED},
		/* newsletter (Mailchimp-like) */
		{"From: Shop News <news@shop.example>\n"
		 "List-Unsubscribe: <https://shop.us1.list-manage.example/unsubscribe?u=a&id=b>, "
		 "<mailto:unsubscribe-mc.us1_a.b@unsub.mcsv.example>\n"
		 "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
		 "Precedence: bulk",
		 PD_LOOP_BULK},
		/* GitHub-like notification */
		{"From: Octo Cat <notifications@github.example>\n"
		 "Reply-To: org/repo <reply+ABC@reply.github.example>\n"
		 "List-ID: org/repo <repo.org.github.example>\n"
		 "List-Archive: https://github.example/org/repo\n"
		 "X-Auto-Response-Suppress: All\n"
		 "Precedence: list",
		 PD_LOOP_SUPPRESS},
		/* Jira-like notification */
		{"From: \"Anna (Jira)\" <jira@acme.atlassian.example>\n"
		 "Auto-Submitted: auto-generated\n"
		 "Precedence: bulk",
		 PD_LOOP_AUTO_SUBMITTED},
		/* Google Groups message */
		{"From: Ivan <ivan@customer.example>\n"
		 "Mailing-list: list team@googlegroups.example; contact team+owners@googlegroups.example\n"
		 "List-ID: <team.googlegroups.example>\n"
		 "Precedence: list",
		 PD_LOOP_BULK},
		/* a person in Thunderbird, Outlook, Apple Mail, mutt: answer */
		{"From: Ivan Petrov <ivan@customer.example>\n"
		 "User-Agent: Mozilla Thunderbird\n"
		 "Content-Language: ru",
		 PD_LOOP_OK},
		{"From: \"Mueller, Martin\" <M.Mueller@contoso.example>\n"
		 "Thread-Topic: Printer on 3rd floor\n"
		 "X-MS-Has-Attach:\n"
		 "X-Auto-Response-Suppress: DR, RN, NRN",
		 PD_LOOP_OK},
		{"From: =?UTF-8?B?0J7Qu9GM0LPQsA==?= <olga@customer.example>\n"
		 "Auto-Submitted: no\n"
		 "X-Mailer: Apple Mail (2.3774)",
		 PD_LOOP_OK},
	};
	run_cases(cases, PD_ARRAY_LEN(cases));
}

static void test_verdict_names(void **state)
{
	(void)state;
	static const struct {
		enum pd_loop_verdict v;
		const char *name;
	} cases[] = {
		{PD_LOOP_OK, "ok"},
		{PD_LOOP_AUTO_SUBMITTED, "auto-submitted"},
		{PD_LOOP_BULK, "bulk"},
		{PD_LOOP_SUPPRESS, "suppress"},
		{PD_LOOP_BOUNCE, "bounce"},
		{PD_LOOP_ROLE_SENDER, "role-sender"},
		{PD_LOOP_OWN, "own"},
		{PD_LOOP_RATE, "rate"},
		{PD_LOOP_SUPPRESSED, "suppressed"},
		{PD_LOOP_NO_ADDRESS, "no-address"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++)
		assert_string_equal(pd_loop_verdict_name(cases[i].v), cases[i].name);
	assert_string_equal(pd_loop_verdict_name((enum pd_loop_verdict)99), "unknown");
}

/* A pd_msg made by hand, without raw bytes: the parsed fields alone. */
static void test_parsed_fields_only(void **state)
{
	(void)state;
	struct pd_msg m;
	struct pd_loop_input in;

	memset(&m, 0, sizeof(m));
	m.from.name = (char *)(uintptr_t) "";
	m.from.address = (char *)(uintptr_t) "ivan@customer.example";
	input_init(&in, &m);
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_OK);
	m.list_id = (char *)(uintptr_t) "<l.example>";
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_BULK);
	m.precedence = (char *)(uintptr_t) "junk";
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_BULK);
	m.auto_submitted = (char *)(uintptr_t) "auto-replied";
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_AUTO_SUBMITTED);
	m.return_path = (char *)(uintptr_t) "<>";
	assert_int_equal(pd_loopguard_check(&in, NULL), PD_LOOP_BOUNCE);
}

/* --------------------------------------------------------------- DSN */

struct dsn_want {
	const char *file;
	int ret;
	const char *id, *rcpt;
	bool permanent;
	enum pd_loop_verdict verdict;
};

static void check_dsn(const char *label, const char *raw, size_t len, const struct dsn_want *w)
{
	char *id = (char *)(uintptr_t) "junk", *rcpt = (char *)(uintptr_t) "junk";
	bool perm = !w->permanent;
	int r = dsn_of(raw, len, &id, &rcpt, &perm);

	if (r != w->ret)
		fail_msg("%s: returned %d, want %d", label, r, w->ret);
	if ((w->id == NULL) != (id == NULL) || (w->id && strcmp(w->id, id) != 0))
		fail_msg("%s: id %s, want %s", label, id ? id : "NULL", w->id ? w->id : "NULL");
	if ((w->rcpt == NULL) != (rcpt == NULL) || (w->rcpt && strcmp(w->rcpt, rcpt) != 0))
		fail_msg("%s: recipient %s, want %s", label, rcpt ? rcpt : "NULL",
			 w->rcpt ? w->rcpt : "NULL");
	if (perm != w->permanent)
		fail_msg("%s: permanent %d, want %d", label, perm, w->permanent);
	free(id);
	free(rcpt);

	/* the outputs are optional */
	assert_int_equal(dsn_of(raw, len, NULL, NULL, NULL), w->ret);

	/* and what loopguard says about the mail */
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);
	struct pd_loop_input in;
	const char *why;
	input_init(&in, m);
	enum pd_loop_verdict v = pd_loopguard_check(&in, &why);
	if (v != w->verdict)
		fail_msg("%s: verdict %s (%s), want %s", label, pd_loop_verdict_name(v), why,
			 pd_loop_verdict_name(w->verdict));
	pd_msg_free(m);
}

static void test_dsn_fixtures(void **state)
{
	(void)state;
	static const struct dsn_want cases[] = {
		/* alias expanded: the address we sent to (Original-Recipient) */
		{"postfix_failed.eml", 1, "ack.1042.7f3a9c@support.example.com",
		 "info@customer.example", true, PD_LOOP_BOUNCE},
		{"postfix_delayed.eml", 1, "relay.2077.55e1@support.example.com",
		 "helpdesk@slow.example.org", false, PD_LOOP_BOUNCE},
		{"exim_failed.eml", 1, "ack.311.c0ffee@support.example.com",
		 "anna@old-domain.example", true, PD_LOOP_BOUNCE},
		{"exim_delayed.eml", 1, "notice.88.4b1d@support.example.com", "ops@flaky.example",
		 false, PD_LOOP_BOUNCE},
		{"exchange_ndr.eml", 1, "relay.512.9e8d@support.example.com",
		 "M.Mueller@contoso.com", true, PD_LOOP_BOUNCE},
		{"gmail_failed.eml", 1, "ack.77.aa01@support.example.com",
		 "olga.s1monova@gmail.com", true, PD_LOOP_BOUNCE},
		/* a bounce forwarded by a customer is the customer's mail */
		{"forwarded_bounce.eml", 0, NULL, NULL, false, PD_LOOP_OK},
		/* a read receipt: not a DSN, but never answered */
		{"mdn_read_receipt.eml", 0, NULL, NULL, false, PD_LOOP_AUTO_SUBMITTED},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		size_t len;
		char *raw = fixture(cases[i].file, &len);
		check_dsn(cases[i].file, raw, len, &cases[i]);
		assert_int_equal(is_dsn_of(raw, len), cases[i].ret == 1);
		free(raw);
	}
}

/* The shared corpus is not there (a clone without ../shared): say so and skip
 * the case; CI, which always has it, fails instead. */
static void corpus_absent(const char *where)
{
	const char *ci = getenv("CI");

	if (ci != NULL && strcmp(ci, "true") == 0)
		fail_msg("shared corpus not found at %s (CI=true requires it; set PD_CORPUS)", where);
	print_message("shared corpus not found at %s (set PD_CORPUS): corpus cases skipped\n", where);
	skip();
}

/* The multipart/report mail of the shared corpus, value by value. */
static void test_dsn_corpus(void **state)
{
	(void)state;
	static const struct dsn_want cases[] = {
		/* Postfix, five failed recipients: the first; no Return-Path, so the
		 * Content-Type makes it a bounce before the MAILER-DAEMON sender */
		{"multi_address_bounce1.eml", 1, "118707422.15521266992174819.JavaMail.root@lvmail01",
		 "bbbbvhvbbvkjbhfbvbvjhb@gmail.com", true, PD_LOOP_BOUNCE},
		{"multi_address_bounce2.eml", 1, "118707422.15521266992174819.JavaMail.root@lvmail01",
		 "bbbbvhvbbvkjbhfbvbvjhb@gmail.com", true, PD_LOOP_BOUNCE},
		/* two delivery-status parts, the first one prose; "<u@ci.com>" */
		{"multipart_report_multiple_status.eml", 1,
		 "4c2a146147ac8_61ff157c4ec1652df@s.h.c.mail", "u@ci.com", true, PD_LOOP_BOUNCE},
		/* sendmail delay warning, headers only */
		{"report_422.eml", 1,
		 "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au",
		 "fraser@oooooooo.com.au", false, PD_LOOP_BOUNCE},
		/* sendmail failure: Message-Id, not Resent-Message-Id */
		{"report_530.eml", 1, "200712232303.lBNN3jDq002941@mail12.rrrr.com.au",
		 "edwin@zzzzzzz.com", true, PD_LOOP_BOUNCE},
	};
	char *dir = corpus_dir();
	struct stat st;
	char *sub = pd_xasprintf("%s/mailgem/messages/multipart_report_emails", dir);

	free(dir);
	if (stat(sub, &st) < 0) {
		char where[512];

		snprintf(where, sizeof(where), "%s", sub);
		free(sub);
		corpus_absent(where);
	}
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		char *path = pd_xasprintf("%s/%s", sub, cases[i].file);
		size_t len;
		char *raw = read_or_fail(path, &len);
		check_dsn(cases[i].file, raw, len, &cases[i]);
		free(raw);
		free(path);
	}
	free(sub);
}

/* Every corpus message: no crash, no leak, and a DSN only where the mail
 * is a delivery report. */
static void walk_corpus(const char *dir, int *n, int *dsn)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *path;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		path = pd_xasprintf("%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0) {
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			walk_corpus(path, n, dsn);
		} else if (S_ISREG(st.st_mode)) {
			size_t len;
			char *raw = read_or_fail(path, &len), *id = NULL, *rcpt = NULL;
			bool perm;
			int r = dsn_of(raw, len, &id, &rcpt, &perm);
			struct pd_msg *m = pd_mime_parse(raw, len, NULL);
			struct pd_loop_input in;

			if (r == 1) {
				(*dsn)++;
				if (!is_dsn_of(raw, len))
					fail_msg("%s: DSN without a multipart/report at the top",
						 path);
				if (id == NULL && rcpt == NULL)
					fail_msg("%s: 1 without a result", path);
			} else if (id != NULL || rcpt != NULL) {
				fail_msg("%s: results without 1", path);
			}
			input_init(&in, m);
			if (r == 1 && pd_loopguard_check(&in, NULL) == PD_LOOP_OK)
				fail_msg("%s: a DSN would be answered", path);
			pd_msg_free(m);
			free(id);
			free(rcpt);
			free(raw);
			(*n)++;
		}
		free(path);
	}
	closedir(d);
}

static void test_dsn_corpus_all(void **state)
{
	(void)state;
	char *dir = corpus_dir();
	int n = 0, dsn = 0;

	char where[512];

	walk_corpus(dir, &n, &dsn);
	snprintf(where, sizeof(where), "%s", dir);
	free(dir);
	if (n == 0)
		corpus_absent(where);
	print_message("%d corpus messages, %d DSNs\n", n, dsn);
	assert_true(dsn >= 5);
}

/* A DSN built here: status part and returned part as given. */
static char *make_dsn(const char *status_hdrs, const char *status, const char *ret_hdrs,
		      const char *returned)
{
	return pd_xasprintf("From: MAILER-DAEMON@mx.example\r\n"
			    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
			    " boundary=\"=_b\"\r\n\r\n"
			    "--=_b\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n"
			    "--=_b\r\nContent-Type: message/delivery-status\r\n%s\r\n%s\r\n"
			    "--=_b\r\n%s\r\n%s\r\n--=_b--\r\n",
			    status_hdrs, status, ret_hdrs, returned);
}

static void test_dsn_variants(void **state)
{
	(void)state;
	static const char RET822[] = "Content-Type: message/rfc822\r\n";
	static const char RETHDR[] = "Content-Type: text/rfc822-headers\r\n";
	static const struct {
		const char *label, *status_hdrs, *status, *ret_hdrs, *returned;
		int ret;
		const char *id, *rcpt;
		bool permanent;
	} cases[] = {
		{"plain", "", "Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; a@x.example\r\n"
			      "Action: failed\r\nStatus: 5.1.1\r\n",
		 RET822, "Message-ID: <m1@support.example.com>\r\n\r\nbody\r\n", 1,
		 "m1@support.example.com", "a@x.example", true},
		/* Original-Message-ID of the report wins over the returned headers */
		{"orig-id", "", "Original-Message-ID: <from-status@support.example.com>\r\n\r\n"
				"Final-Recipient: rfc822; a@x.example\r\nAction: failed\r\n"
				"Status: 5.0.0\r\n",
		 RETHDR, "Message-ID: <from-headers@support.example.com>\r\n", 1,
		 "from-status@support.example.com", "a@x.example", true},
		/* failed with a 4.x.x status after the queue lifetime: not permanent */
		{"failed-4xx", "", "Final-Recipient: rfc822; a@x.example\r\nAction: failed\r\n"
				   "Status: 4.4.7\r\n",
		 RET822, "Message-ID: <m@s>\r\n\r\n", 1, "m@s", "a@x.example", false},
		/* failed without a status: not known to be permanent */
		{"failed-nostatus", "", "Final-Recipient: rfc822; a@x.example\r\nAction: failed\r\n",
		 RET822, "Message-ID: <m@s>\r\n\r\n", 1, "m@s", "a@x.example", false},
		/* a delayed recipient, then a failed one: the failed one */
		{"delayed-then-failed", "",
		 "Reporting-MTA: dns; mx\r\n\r\n"
		 "Final-Recipient: rfc822; slow@x.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n"
		 "Final-Recipient: rfc822; gone@y.example\r\nAction: Failed\r\n"
		 "Status: 5.2.1 (mailbox disabled)\r\n",
		 RET822, "Message-ID: <m@s>\r\n\r\n", 1, "m@s", "gone@y.example", true},
		/* first failed with 4.x.x, second with 5.x.x: the permanent one */
		{"temp-then-perm", "",
		 "Final-Recipient: rfc822; t@x.example\r\nAction: failed\r\nStatus: 4.4.7\r\n\r\n"
		 "Final-Recipient: rfc822; p@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n",
		 RET822, "Message-ID: <m@s>\r\n\r\n", 1, "m@s", "p@x.example", true},
		/* a delivered (success) notice is still a DSN, not a failure */
		{"delivered", "", "Final-Recipient: rfc822; a@x.example\r\nAction: delivered\r\n"
				  "Status: 2.0.0\r\n",
		 RETHDR, "Message-ID: <m@s>\r\n", 1, "m@s", "a@x.example", false},
		/* an X.400 original recipient: the Final-Recipient instead */
		{"x400", "", "Original-Recipient: x400; /G=Ivan/S=Petrov/O=Acme/\r\n"
			     "Final-Recipient: RFC822; <ivan@acme.example>\r\nAction: failed\r\n"
			     "Status: 5.1.1\r\n",
		 RET822, "Message-ID: <m@s>\r\n\r\n", 1, "m@s", "ivan@acme.example", true},
		/* the delivery-status part in base64 (seen from some gateways) */
		{"base64", "Content-Transfer-Encoding: base64\r\n",
		 /* "Final-Recipient: rfc822; b64@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n" */
		 "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGI2NEB4LmV4YW1wbGUNCkFjdGlv\r\n"
		 "bjogZmFpbGVkDQpTdGF0dXM6IDUuMS4xDQo=\r\n",
		 RET822, "Message-ID: <m@s>\r\n\r\n", 1, "m@s", "b64@x.example", true},
		/* returned headers in quoted-printable, a soft break in the id */
		{"qp", "", "Final-Recipient: rfc822; a@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n",
		 "Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: quoted-printable\r\n",
		 "Subject: =3D?utf-8?q?x?=3D\r\nMessage-ID: <qp.1@support=\r\n.example.com>\r\n", 1,
		 "qp.1@support.example.com", "a@x.example", true},
		/* no per-recipient fields: X-Failed-Recipients is not in this mail either */
		{"empty-status", "", "Reporting-MTA: dns; mx\r\n", RET822,
		 "Message-ID: <only-id@s>\r\n\r\n", 1, "only-id@s", NULL, false},
		/* nothing useful at all */
		{"nothing", "", "Reporting-MTA: dns; mx\r\n", "Content-Type: text/plain\r\n",
		 "Message-ID: <not-a-returned-part@s>\r\n", 0, NULL, NULL, false},
		/* bad ids and addresses are left out */
		{"bad-values", "", "Final-Recipient: rfc822; <>\r\nAction: failed\r\nStatus: 5.1.1\r\n",
		 RET822, "Message-ID: <>\r\n\r\n", 0, NULL, NULL, false},
		/* Message-ID without angle brackets (broken mailers) */
		{"bare-id", "", "Final-Recipient: rfc822;a@x.example\r\nAction: failed\r\n"
				"Status: 5.1.1\r\n",
		 RET822, "Message-ID: bare.id@s (comment)\r\n\r\n", 1, "bare.id@s", "a@x.example",
		 true},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		char *raw = make_dsn(cases[i].status_hdrs, cases[i].status, cases[i].ret_hdrs,
				     cases[i].returned);
		struct dsn_want w = {cases[i].label, cases[i].ret, cases[i].id, cases[i].rcpt,
				     cases[i].permanent, PD_LOOP_BOUNCE};
		check_dsn(cases[i].label, raw, strlen(raw), &w);
		free(raw);
	}
}

static void test_dsn_odd(void **state)
{
	(void)state;
	char *id, *rcpt;
	bool perm;
	const char *raw;

	/* X-Failed-Recipients as the last resort for the address */
	raw = "From: Mail Delivery System <Mailer-Daemon@mx.example>\r\n"
	      "X-Failed-Recipients: first@x.example, second@x.example\r\n"
	      "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
	      "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b--\r\n";
	assert_int_equal(dsn_of(raw, strlen(raw), &id, &rcpt, &perm), 1);
	assert_null(id);
	assert_string_equal(rcpt, "first@x.example");
	assert_false(perm);
	free(rcpt);

	/* not a report: nothing, even with an X-Failed-Recipients header */
	raw = "From: a@b.example\r\nX-Failed-Recipients: c@d.example\r\n\r\nhi\r\n";
	assert_int_equal(dsn_of(raw, strlen(raw), &id, &rcpt, &perm), 0);
	assert_null(id);
	assert_null(rcpt);

	/* truncated in the middle of the report: what was there counts */
	raw = "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
	      "--b\nContent-Type: message/delivery-status\n\n"
	      "Final-Recipient: rfc822; cut@x.example\nAction: failed\nStatus: 5.1.1";
	assert_int_equal(dsn_of(raw, strlen(raw), &id, &rcpt, &perm), 1);
	assert_string_equal(rcpt, "cut@x.example");
	assert_true(perm);
	free(id);
	free(rcpt);

	/* a report wrapped by a gateway that adds a disclaimer part */
	raw = "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
	      "--outer\r\nContent-Type: multipart/report; report-type=delivery-status; "
	      "boundary=inner\r\n\r\n"
	      "--inner\r\nContent-Type: message/delivery-status\r\n\r\n"
	      "Final-Recipient: rfc822; w@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
	      "--inner--\r\n--outer\r\nContent-Type: text/plain\r\n\r\nDisclaimer\r\n--outer--\r\n";
	assert_int_equal(dsn_of(raw, strlen(raw), &id, &rcpt, &perm), 1);
	assert_string_equal(rcpt, "w@x.example");
	free(id);
	free(rcpt);

	/* a boundary that is a prefix of another line is not a delimiter */
	raw = "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
	      "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
	      "--bx\r\nFinal-Recipient: rfc822; p@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
	      "--b--\r\n";
	assert_int_equal(dsn_of(raw, strlen(raw), &id, &rcpt, &perm), 1);
	assert_string_equal(rcpt, "p@x.example");
	free(id);
	free(rcpt);

	/* no boundary, empty input, NULL */
	raw = "Content-Type: multipart/report; report-type=delivery-status\r\n\r\n--b\r\n";
	assert_int_equal(dsn_of(raw, strlen(raw), &id, &rcpt, &perm), 0);
	assert_int_equal(dsn_of("", 0, &id, &rcpt, &perm), 0);
	assert_int_equal(dsn_of(NULL, 0, &id, &rcpt, &perm), 0);
	assert_null(id);
	assert_null(rcpt);
	assert_false(perm);
}

/* What mime.c records for the reader, and the reader on what it records. */
static void test_dsn_recorded(void **state)
{
	(void)state;
	static const char raw[] =
		"From: MAILER-DAEMON@mx.example\r\nX-Failed-Recipients: x@y.example\r\n"
		"Content-Type: Multipart/Report; Report-Type=\"Delivery-Status\"; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
		"Reporting-MTA: dns; mx\r\nOriginal-Message-ID: <o@s>\r\n\r\n"
		"Final-Recipient: rfc822;\r\n <a@x.example>\r\nAction: failed\r\nStatus: 5.1.1\r\n"
		"\r\nFinal-Recipient: rfc822; b@x.example\r\nAction: delayed\r\n"
		"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <r@s>\r\n--b--\r\n";
	struct pd_msg *m = pd_mime_parse(raw, sizeof(raw) - 1, NULL);
	char *id, *rcpt;
	bool perm;

	assert_string_equal(m->content_type, "multipart/report");
	assert_string_equal(m->report_type, "delivery-status");
	assert_true(m->dsn.found);
	assert_string_equal(m->dsn.original_message_id, "<o@s>");
	assert_string_equal(m->dsn.returned_message_id, "<r@s>");
	assert_int_equal(m->dsn.n_groups, 2);
	assert_string_equal(m->dsn.groups[0].final_recipient, "rfc822; <a@x.example>");
	assert_string_equal(m->dsn.groups[0].action, "failed");
	assert_string_equal(m->dsn.groups[0].status, "5.1.1");
	assert_null(m->dsn.groups[0].original_recipient);
	assert_string_equal(m->dsn.groups[1].action, "delayed");
	assert_null(m->dsn.groups[1].status);
	assert_string_equal(pd_msg_field(m, "x-failed-recipients", 0), "x@y.example");
	assert_null(pd_msg_field(m, "X-Failed-Recipients", 1));
	assert_true(pd_loopguard_is_dsn(m));
	assert_int_equal(pd_loopguard_dsn(m, &id, &rcpt, &perm), 1);
	assert_string_equal(id, "o@s");
	assert_string_equal(rcpt, "a@x.example");
	assert_true(perm);
	free(id);
	free(rcpt);
	pd_msg_free(m);

	/* no message */
	assert_false(pd_loopguard_is_dsn(NULL));
	assert_int_equal(pd_loopguard_dsn(NULL, &id, &rcpt, &perm), 0);
	assert_null(id);
	assert_null(rcpt);

	/* too large to parse: the top-level type still makes it a bounce, but
	 * the report's contents are not read */
	struct pd_mime_opts o = {10, 0, 0};
	m = pd_mime_parse(raw, sizeof(raw) - 1, &o);
	assert_true(m->oversized);
	assert_true(pd_loopguard_is_dsn(m));
	assert_false(m->dsn.found);
	assert_int_equal(pd_loopguard_dsn(m, &id, &rcpt, &perm), 0);
	pd_msg_free(m);

	/* an unquoted report-type is read as mime.c reads every parameter: up to
	 * the ';', blanks inside kept, so "delivery-status extra" is no DSN */
	static const char spaced[] = "Content-Type: multipart/report; report-type=delivery-status ;"
				     " boundary=b\r\n\r\n";
	assert_true(is_dsn_of(spaced, sizeof(spaced) - 1));
	static const char odd[] = "Content-Type: multipart/report; report-type=delivery-status extra;"
				  " boundary=b\r\n\r\n";
	assert_false(is_dsn_of(odd, sizeof(odd) - 1));
}

/* Hostile structure: the reader stays bounded. */
static void test_dsn_hostile(void **state)
{
	(void)state;
	struct pd_buf b;
	char *id, *rcpt;
	bool perm;

	/* 200-deep nesting, the status part at the bottom: not reached */
	pd_buf_init(&b);
	for (int i = 0; i < 200; i++)
		pd_buf_printf(&b,
			      "Content-Type: multipart/report; report-type=delivery-status; "
			      "boundary=b%d\r\n\r\n--b%d\r\n",
			      i, i);
	pd_buf_append_str(&b, "Content-Type: message/delivery-status\r\n\r\n"
			      "Final-Recipient: rfc822; deep@x.example\r\nAction: failed\r\n");
	assert_int_equal(dsn_of(b.data, b.len, &id, &rcpt, &perm), 0);
	pd_buf_free(&b);

	/* 20,000 parts: only the first ones are looked at */
	pd_buf_init(&b);
	pd_buf_append_str(&b, "Content-Type: multipart/report; report-type=delivery-status; "
			      "boundary=b\r\n\r\n");
	for (int i = 0; i < 20000; i++)
		pd_buf_append_str(&b, "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n");
	pd_buf_append_str(&b, "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
			      "Final-Recipient: rfc822; late@x.example\r\nAction: failed\r\n"
			      "--b--\r\n");
	assert_int_equal(dsn_of(b.data, b.len, &id, &rcpt, &perm), 0);
	pd_buf_free(&b);

	/* a huge base64 part is decoded only up to the limit */
	pd_buf_init(&b);
	pd_buf_append_str(&b, "Content-Type: multipart/report; report-type=delivery-status; "
			      "boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n"
			      "Content-Transfer-Encoding: base64\r\n\r\n");
	for (int i = 0; i < 100000; i++)
		pd_buf_append_str(&b, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n");
	pd_buf_append_str(&b, "--b--\r\n");
	assert_int_equal(dsn_of(b.data, b.len, &id, &rcpt, &perm), 0);
	pd_buf_free(&b);

	/* NUL bytes and binary garbage */
	static const char bin[] = "Content-Type: multipart/report; report-type=delivery-status; "
				  "boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status"
				  "\r\n\r\nFinal-Recipient: rfc822; n\0ul@x.example\r\n\xff\xfe:\r\n"
				  "Action: failed\r\n--b--\r\n";
	assert_int_equal(dsn_of(bin, sizeof(bin) - 1, &id, &rcpt, &perm), 1);
	assert_string_equal(rcpt, "n");
	free(id);
	free(rcpt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_scan),
		cmocka_unit_test(test_header_bounds),
		cmocka_unit_test(test_no_address),
		cmocka_unit_test(test_own),
		cmocka_unit_test(test_bounce),
		cmocka_unit_test(test_role_sender),
		cmocka_unit_test(test_auto_submitted),
		cmocka_unit_test(test_suppress),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_suppressed_and_rate),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_real_world),
		cmocka_unit_test(test_verdict_names),
		cmocka_unit_test(test_parsed_fields_only),
		cmocka_unit_test(test_dsn_fixtures),
		cmocka_unit_test(test_dsn_corpus),
		cmocka_unit_test(test_dsn_corpus_all),
		cmocka_unit_test(test_dsn_variants),
		cmocka_unit_test(test_dsn_odd),
		cmocka_unit_test(test_dsn_hostile),
		cmocka_unit_test(test_dsn_recorded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
