/*
 * test_agentid.c - reply addresses, Authentication-Results and the decision
 * whether a mail is an agent's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agentid.h"
#include "replyaddr.h"

/* bytes 0x00..0x1f; the expected digits come from Python's hmac module */
static unsigned char secret[32];

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (unsigned char)i;
	return 0;
}

static void test_token_address(void **state)
{
	(void)state;
	static const struct {
		const char *support;
		int64_t number;
		int rc;
		const char *want;
	} cases[] = {
		{"support@example.com", 1, 0, "support+t1-76a9d650b629fede@example.com"},
		{"support@example.com", 123, 0, "support+t123-8c266dcee604210e@example.com"},
		{"Help.Desk@Example.COM", 123, 0, "Help.Desk+t123-8c266dcee604210e@Example.COM"},
		{"support@example.com", INT64_MAX, 0,
		 "support+t9223372036854775807-27f15150aab7b684@example.com"},
		{"support@example.com", 0, -1, ""},
		{"support@example.com", -5, -1, ""},
		{"support", 1, -1, ""},
		{"@example.com", 1, -1, ""},
		{NULL, 1, -1, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[128];
		int rc = pd_token_address(cases[i].support, cases[i].number, secret,
					  sizeof(secret), out, sizeof(out));
		assert_int_equal(rc, cases[i].rc);
		assert_string_equal(out, cases[i].want);
	}
	/* too small a buffer, an empty secret */
	char small[20];
	assert_int_equal(pd_token_address("support@example.com", 1, secret, sizeof(secret), small,
					  sizeof(small)),
			 -1);
	assert_string_equal(small, "");
	char out[128];
	assert_int_equal(pd_token_address("support@example.com", 1, secret, 0, out, sizeof(out)), -1);
	/* another secret, another token */
	unsigned char other[32] = {1};
	assert_int_equal(pd_token_address("support@example.com", 1, other, sizeof(other), out,
					  sizeof(out)),
			 0);
	assert_string_not_equal(out, "support+t1-76a9d650b629fede@example.com");
}

static void test_token_ticket(void **state)
{
	(void)state;
	static const struct {
		const char *addr;
		int64_t want;
		bool shaped;
	} cases[] = {
		{"support+t123-8c266dcee604210e@example.com", 123, true},
		/* case does not matter in either part or in the digits */
		{"SUPPORT+T123-8C266DCEE604210E@EXAMPLE.COM", 123, true},
		{"support+t1-76a9d650b629fede@example.com", 1, true},
		{"support+t9223372036854775807-27f15150aab7b684@example.com", INT64_MAX, true},
		{"support+t9223372036854775808-27f15150aab7b684@example.com", 0, false},
		/* a token of another ticket, a wrong digit */
		{"support+t124-8c266dcee604210e@example.com", 0, true},
		{"support+t123-8c266dcee604210f@example.com", 0, true},
		/* other shapes */
		{"support+t123-8c266dcee604210@example.com", 0, false},
		{"support+t123-8c266dcee604210e0@example.com", 0, false},
		{"support+t0123-8c266dcee604210e@example.com", 0, false},
		{"support+t-8c266dcee604210e@example.com", 0, false},
		{"support+t123_8c266dcee604210e@example.com", 0, false},
		{"support+t123-8c266dcee604210g@example.com", 0, false},
		{"support+t123-8c266dcee604210e@example.org", 0, false},
		{"supporx+t123-8c266dcee604210e@example.com", 0, false},
		{"xsupport+t123-8c266dcee604210e@example.com", 0, false},
		{"support+note@example.com", 0, false},
		{"support@example.com", 0, false},
		{"support+t99999999999999999999-8c266dcee604210e@example.com", 0, false},
		{"", 0, false},
		{NULL, 0, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pd_token_ticket("support@example.com", cases[i].addr, secret,
						 sizeof(secret)),
				 cases[i].want);
		assert_int_equal(pd_token_shaped("support@example.com", cases[i].addr),
				 cases[i].shaped);
	}
	/* any plus-address of the support address */
	static const struct {
		const char *addr;
		bool plus;
	} plus[] = {
		{"support+t123-8c266dcee604210e@example.com", true},
		{"Support+note@Example.COM", true},
		{"support+@example.com", true},
		{"support@example.com", false},
		{"support+note@example.org", false},
		{"supportx+note@example.com", false},
		{"suppor+note@example.com", false},
		{"", false},
		{NULL, false},
	};
	for (size_t i = 0; i < sizeof(plus) / sizeof(plus[0]); i++)
		assert_int_equal(pd_support_plus("support@example.com", plus[i].addr), plus[i].plus);
	assert_false(pd_support_plus("@example.com", "+x@example.com"));

	/* round trip */
	for (int64_t n = 1; n < 2000; n += 37) {
		char out[128];
		assert_int_equal(pd_token_address("support@example.com", n, secret, sizeof(secret),
						  out, sizeof(out)),
				 0);
		assert_int_equal(pd_token_ticket("support@example.com", out, secret, sizeof(secret)),
				 n);
	}
}

static void test_authres_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		const char *id;
		bool none;
		const char *results; /* "method=result[/d][/from];..." */
	} cases[] = {
		{"mx.example.com; dkim=pass header.d=example.com header.s=sel header.b=AbC/d+=;"
		 " spf=pass smtp.mailfrom=alice@example.com; dmarc=pass (p=reject dis=none)"
		 " header.from=example.com",
		 0, "mx.example.com", false,
		 "dkim=pass/example.com/;spf=pass//;dmarc=pass//example.com;"},
		/* version, comments everywhere, nested and escaped */
		{"  mx.example.com 1 (the (inner) one\\)) ; (c) DKIM (x) = (y) PASS"
		 " (good) Header.D (z) = (w) Example.COM",
		 0, "mx.example.com", false, "dkim=pass/Example.COM/;"},
		/* quoted strings: authserv-id and values */
		{"\"mx example\"; dkim=pass header.d=\"exa\\\"mple.com\"", 0, "mx example", false,
		 "dkim=pass/exa\"mple.com/;"},
		/* method versions and a reason */
		{"mx; dkim/1=fail reason=\"bad signature\" header.d=example.com", 0, "mx", false,
		 "dkim=fail/example.com/;"},
		/* none */
		{"mx.example.com; none", 0, "mx.example.com", true, ""},
		{"mx.example.com 1; none (nothing checked)", 0, "mx.example.com", true, ""},
		/* only the authserv-id, a trailing ';' */
		{"mx.example.com", 0, "mx.example.com", false, ""},
		{"mx.example.com; spf=none;", 0, "mx.example.com", false, "spf=none//;"},
		/* first header.d wins */
		{"mx; dkim=pass header.d=a.example header.d=b.example", 0, "mx", false,
		 "dkim=pass/a.example/;"},
		/* errors */
		{"", -1, NULL, false, NULL},
		{"(only a comment)", -1, NULL, false, NULL},
		{"mx; dkim", -1, NULL, false, NULL},
		{"mx; dkim=", -1, NULL, false, NULL},
		{"mx; dkim=pass header.d", -1, NULL, false, NULL},
		{"mx; dkim=pass (unclosed", -1, NULL, false, NULL},
		{"mx; dkim=pass header.d=\"unclosed", -1, NULL, false, NULL},
		{"mx; none; dkim=pass", -1, NULL, false, NULL},
		{"mx; dkim=pass; none", -1, NULL, false, NULL},
		{"mx garbage; dkim=pass", -1, NULL, false, NULL},
		{NULL, -1, NULL, false, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pd_authres ar;
		int rc = pd_authres_parse(cases[i].in, &ar);
		assert_int_equal(rc, cases[i].rc);
		if (rc < 0) {
			assert_null(ar.authserv_id);
			assert_int_equal(ar.n, 0);
			continue;
		}
		assert_string_equal(ar.authserv_id, cases[i].id);
		assert_int_equal(ar.none, cases[i].none);
		char got[512] = "";
		for (size_t k = 0; k < ar.n; k++) {
			size_t l = strlen(got);
			snprintf(got + l, sizeof(got) - l, "%s=%s/%s/%s;", ar.v[k].method,
				 ar.v[k].result, ar.v[k].header_d ? ar.v[k].header_d : "",
				 ar.v[k].header_from ? ar.v[k].header_from : "");
		}
		assert_string_equal(got, cases[i].results);
		pd_authres_free(&ar);
	}
}

static void test_decide(void **state)
{
	(void)state;
	static const char *const trusted[] = {"mx.example.com", "MX2.Example.com"};
	static const int64_t t5[] = {5}, t7[] = {7}, t57[] = {5, 7};
	static const struct {
		bool agent, participant;
		const char *from;
		int64_t ticket;
		const int64_t *tokens;
		size_t n_tokens;
		const char *authres;
		enum pd_agent_verdict verdict;
		enum pd_agent_why why;
	} cases[] = {
		/* an ordinary customer's mail */
		{false, false, "bob@customer.org", 5, NULL, 0, NULL, PD_AGENT_NONE, PD_AGENT_WHY_NONE},
		{false, false, "bob@customer.org", 5, NULL, 0, "mx.example.com; dmarc=pass", PD_AGENT_NONE,
		 PD_AGENT_WHY_NONE},
		/* someone who is not an agent wrote to a reply address */
		{false, false, "mate@example.com", 5, t5, 1, NULL, PD_AGENT_UNKNOWN, PD_AGENT_WHY_NOT_AGENT},
		{false, false, "mate@example.com", 5, t7, 1, "mx.example.com; dmarc=pass", PD_AGENT_UNKNOWN,
		 PD_AGENT_WHY_NOT_AGENT},
		/* the ticket's own customer answering all (an agent's direct mail with
		 * the reply address in Cc): an ordinary customer's mail */
		{false, true, "sarah@customer.example", 5, t5, 1, NULL, PD_AGENT_NONE,
		 PD_AGENT_WHY_NONE},
		/* an agent who is also a participant is still an agent */
		{true, true, "alice@example.com", 5, NULL, 0, NULL, PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_NO_PROOF},
		/* the reply address of this ticket */
		{true, false, "alice@example.com", 5, t5, 1, NULL, PD_AGENT_VERIFIED, PD_AGENT_WHY_TOKEN},
		{true, false, "alice@example.com", 7, t57, 2, NULL, PD_AGENT_VERIFIED, PD_AGENT_WHY_TOKEN},
		/* ... of another ticket: not this one's */
		{true, false, "alice@example.com", 7, t5, 1, NULL, PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_OTHER_TICKET},
		{true, false, "alice@example.com", 7, t5, 1, "evil.example; dmarc=pass", PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_OTHER_TICKET},
		/* ... but a trusted pass still counts */
		{true, false, "alice@example.com", 7, t5, 1, "mx.example.com; dmarc=pass", PD_AGENT_VERIFIED,
		 PD_AGENT_WHY_DMARC},
		/* nothing at all */
		{true, false, "alice@example.com", 5, NULL, 0, NULL, PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_NO_PROOF},
		/* trusted authserv-ids (any case) */
		{true, false, "alice@example.com", 5, NULL, 0, "mx.example.com; spf=pass; dmarc=pass",
		 PD_AGENT_VERIFIED, PD_AGENT_WHY_DMARC},
		{true, false, "alice@example.com", 5, NULL, 0, "mx2.EXAMPLE.com 1; dmarc=pass", PD_AGENT_VERIFIED,
		 PD_AGENT_WHY_DMARC},
		{true, false, "alice@example.com", 5, NULL, 0,
		 "mx.example.com; dmarc=pass header.from=example.com", PD_AGENT_VERIFIED,
		 PD_AGENT_WHY_DMARC},
		{true, false, "alice@example.com", 5, NULL, 0,
		 "mx.example.com; dmarc=pass header.from=other.example", PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_AUTH_FAILED},
		{true, false, "alice@Example.COM", 5, NULL, 0,
		 "mx.example.com; dkim=pass header.d=example.com", PD_AGENT_VERIFIED,
		 PD_AGENT_WHY_DKIM},
		/* dkim for another domain is not aligned; a subdomain is not the domain */
		{true, false, "alice@example.com", 5, NULL, 0,
		 "mx.example.com; dkim=pass header.d=mailer.example", PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_AUTH_FAILED},
		{true, false, "alice@example.com", 5, NULL, 0,
		 "mx.example.com; dkim=pass header.d=mail.example.com", PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_AUTH_FAILED},
		{true, false, "alice@example.com", 5, NULL, 0, "mx.example.com; dkim=pass", PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_AUTH_FAILED},
		/* the domain only in a comment does not count */
		{true, false, "alice@example.com", 5, NULL, 0,
		 "mx.example.com; dkim=pass (header.d=example.com) header.d=evil.example",
		 PD_AGENT_UNVERIFIED, PD_AGENT_WHY_AUTH_FAILED},
		{true, false, "alice@example.com", 5, NULL, 0,
		 "mx.example.com; dkim=fail header.d=example.com; dmarc=fail", PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_AUTH_FAILED},
		{true, false, "alice@example.com", 5, NULL, 0, "mx.example.com; none", PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_AUTH_FAILED},
		/* a forger's header: untrusted id, or a trusted id in a comment */
		{true, false, "alice@example.com", 5, NULL, 0, "evil.example; dmarc=pass", PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_UNTRUSTED},
		{true, false, "alice@example.com", 5, NULL, 0, "evil.example (mx.example.com); dmarc=pass",
		 PD_AGENT_UNVERIFIED, PD_AGENT_WHY_UNTRUSTED},
		{true, false, "alice@example.com", 5, NULL, 0, "mx.example.com.evil; dmarc=pass",
		 PD_AGENT_UNVERIFIED, PD_AGENT_WHY_UNTRUSTED},
		/* unreadable */
		{true, false, "alice@example.com", 5, NULL, 0, "mx.example.com; dmarc", PD_AGENT_UNVERIFIED,
		 PD_AGENT_WHY_AUTH_MALFORMED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pd_agent_facts f = {
		    .from_agent = cases[i].agent,
		    .from_participant = cases[i].participant,
		    .from_address = cases[i].from,
		    .ticket = cases[i].ticket,
		    .token_tickets = cases[i].tokens,
		    .n_tokens = cases[i].n_tokens,
		    .authres = cases[i].authres,
		    .trusted = trusted,
		    .n_trusted = 2,
		};
		struct pd_agent_decision d;
		pd_agent_decide(&f, &d);
		if (d.verdict != cases[i].verdict || d.why != cases[i].why)
			fail_msg("case %zu: verdict %s why %d, want %s why %d", i,
				 pd_agent_verdict_name(d.verdict), (int)d.why,
				 pd_agent_verdict_name(cases[i].verdict), (int)cases[i].why);
		assert_non_null(pd_agent_why_text(d.why));
	}
	/* no trusted ids configured: Authentication-Results never count */
	struct pd_agent_facts f = {.from_agent = true,
				   .from_address = "alice@example.com",
				   .ticket = 5,
				   .authres = "mx.example.com; dmarc=pass"};
	struct pd_agent_decision d;
	pd_agent_decide(&f, &d);
	assert_int_equal(d.verdict, PD_AGENT_UNVERIFIED);
	assert_int_equal(d.why, PD_AGENT_WHY_UNTRUSTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_address),
		cmocka_unit_test(test_token_ticket),
		cmocka_unit_test(test_authres_parse),
		cmocka_unit_test(test_decide),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
