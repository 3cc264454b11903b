/*
 * test_thread.c - threading rules, subject tags and subject cleaning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "thread.h"

static void test_decide_order(void **state)
{
	(void)state;
	static const struct {
		struct pd_thread_facts f;
		enum pd_thread_rule rule;
		int64_t ticket, foreign;
	} cases[] = {
		/* nothing known: new ticket */
		{{0, 0, 0, false, 0}, PD_THREAD_NEW, 0, 0},
		/* our own Message-ID wins over everything */
		{{7, 8, 9, true, 0}, PD_THREAD_OWN_REF, 7, 0},
		/* any stored Message-ID beats the tag */
		{{0, 8, 9, true, 0}, PD_THREAD_REF, 8, 0},
		{{0, 8, 9, false, 0}, PD_THREAD_REF, 8, 0},
		/* tag from someone allowed */
		{{0, 0, 9, true, 0}, PD_THREAD_TAG, 9, 0},
		/* tag from a stranger: new ticket, foreign tag noted */
		{{0, 0, 9, false, 0}, PD_THREAD_NEW, 0, 9},
		/* the reply address decides only when nothing else does */
		{{0, 0, 0, false, 5}, PD_THREAD_TOKEN, 5, 0},
		{{0, 0, 9, false, 5}, PD_THREAD_TOKEN, 5, 0},
		{{0, 0, 9, true, 5}, PD_THREAD_TAG, 9, 0},
		{{0, 8, 0, false, 5}, PD_THREAD_REF, 8, 0},
		{{7, 0, 0, false, 5}, PD_THREAD_OWN_REF, 7, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pd_thread_decision d;
		pd_thread_decide(&cases[i].f, &d);
		assert_int_equal(d.rule, cases[i].rule);
		assert_int_equal(d.ticket, cases[i].ticket);
		assert_int_equal(d.foreign_tag, cases[i].foreign);
	}
	assert_string_equal(pd_thread_rule_name(PD_THREAD_TAG), "subject-tag");
	assert_string_equal(pd_thread_rule_name(PD_THREAD_NEW), "new");
}

static void test_find_tag(void **state)
{
	(void)state;
	static const struct {
		const char *subject;
		int found;
		int64_t number;
	} cases[] = {
		{"[Support #123] Printer broken", 1, 123},
		{"Re: [Support #123] Printer broken", 1, 123},
		{"RE: AW: [support #5]", 1, 5},
		{"[SUPPORT#77]", 1, 77},
		{"[ Support # 8 ]", 1, 8},
		{"Ответ: [Support #42] Не работает", 1, 42},
		{"[Sales #12] other desk", 0, 0},
		{"[Support #] no number", 0, 0},
		{"[Support #0]", 0, 0},
		{"[Support #-3]", 0, 0},
		{"[Support #12x]", 0, 0},
		{"[Support #99999999999999999999999]", 0, 0},
		{"Support #12", 0, 0},
		{"[Support [Support #9]", 1, 9},
		{"", 0, 0},
		{"[[[[", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t n = 0;
		int r = pd_thread_find_tag(cases[i].subject, "Support", &n);
		assert_int_equal(r, cases[i].found);
		if (r)
			assert_int_equal(n, cases[i].number);
	}
	int64_t n;
	assert_int_equal(pd_thread_find_tag(NULL, "Support", &n), 0);
	assert_int_equal(pd_thread_find_tag("[Help Desk #4]", "Help Desk", &n), 1);
	assert_int_equal(n, 4);
}

static void test_clean_subject(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"Printer broken", "Printer broken"},
		{"Re: Printer broken", "Printer broken"},
		{"RE: re: Fwd: Printer broken", "Printer broken"},
		{"Re[2]: Printer", "Printer"},
		{"AW: WG: Drucker", "Drucker"},
		{"Ответ: Не работает", "Не работает"},
		{"Отв: Re: Пересл: Счёт", "Счёт"},
		{"Re: [Support #12] Printer broken", "Printer broken"},
		{"Printer [Support #12] broken", "Printer broken"},
		{"Report: weekly", "Report: weekly"},
		{"Re:", ""},
		{"  ", ""},
		{"", ""},
		{"RE (3): x", "x"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = pd_thread_clean_subject(cases[i].in, "Support");
		assert_string_equal(s, cases[i].out);
		free(s);
	}
	char *s = pd_thread_clean_subject(NULL, "Support");
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide_order),
		cmocka_unit_test(test_find_tag),
		cmocka_unit_test(test_clean_subject),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
