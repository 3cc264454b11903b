/*
 * test_commands.c - agent commands at the top of a mail: a table of bodies
 * and what they give (commands, text left to relay, note flag, error), then
 * arguments one command at a time, error wording and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "commands.h"
#include "util.h"

#define VALID                                                                             \
	"valid: #close #resolve #pending #priority LEVEL #assign ADDRESS #line N #type TYPE "   \
	"#note"

/* Expected commands as text: "close;priority=high;assign=bob@x" ("" = none). */
static char *cmds_str(const struct pd_cmd_result *r)
{
	struct pd_buf b;

	pd_buf_init(&b);
	for (size_t i = 0; i < r->n; i++) {
		if (i > 0)
			pd_buf_append_char(&b, ';');
		pd_buf_append_str(&b, pd_cmd_name(r->v[i].kind));
		if (r->v[i].arg != NULL)
			pd_buf_printf(&b, "=%s", r->v[i].arg);
	}
	if (b.data == NULL)
		return pd_xstrdup("");
	return pd_buf_steal(&b, NULL);
}

struct ccase {
	const char *in;
	const char *cmds;  /* see cmds_str */
	const char *body;  /* NULL: the input unchanged */
	bool note;
	const char *error; /* NULL: none; else a prefix of the error */
};

static void run(const struct ccase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pd_cmd_result r;
		char *got;
		const char *want_body = c[i].body ? c[i].body : c[i].in;

		pd_commands_parse(c[i].in, &r);
		got = cmds_str(&r);
		if (strcmp(got, c[i].cmds) != 0)
			fail_msg("case %zu: commands \"%s\", want \"%s\" (error: %s)", i, got,
				 c[i].cmds, r.error ? r.error : "none");
		if (strcmp(r.body, want_body) != 0)
			fail_msg("case %zu: body \"%s\", want \"%s\"", i, r.body, want_body);
		if (r.note != c[i].note)
			fail_msg("case %zu: note %d, want %d", i, r.note, c[i].note);
		if (c[i].error == NULL && r.error != NULL)
			fail_msg("case %zu: unexpected error \"%s\"", i, r.error);
		if (c[i].error != NULL &&
		    (r.error == NULL || strncmp(r.error, c[i].error, strlen(c[i].error)) != 0))
			fail_msg("case %zu: error \"%s\", want \"%s...\"", i,
				 r.error ? r.error : "none", c[i].error);
		free(got);
		pd_commands_free(&r);
	}
}

/* The block: where it starts and ends, what the text is. */
static void test_block(void **state)
{
	(void)state;
	static const struct ccase cases[] = {
		/* no commands: the text untouched */
		{"", "", NULL, false, NULL},
		{"Hello, the printer works again.\n", "", NULL, false, NULL},
		{"\n\nHello\n", "", NULL, false, NULL},
		/* one command, then text after a blank line */
		{"#close\n\nThanks, closing this.\n", "close", "Thanks, closing this.\n", false, NULL},
		{"#close\nThanks.\n", "close", "Thanks.\n", false, NULL},
		/* several, with blank lines between and before */
		{"\n\n#pending\n\n#priority high\n#assign bob@example.com\n\n\nDear customer,\n"
		 "we are on it.\n",
		 "pending;priority=high;assign=bob@example.com", "Dear customer,\nwe are on it.\n",
		 false, NULL},
		/* commands only: nothing to relay */
		{"#resolve", "resolve", "", false, NULL},
		{"#resolve\n\n\n", "resolve", "", false, NULL},
		/* the first text line ends the block: later commands are text */
		{"Hi Ivan,\n#close\n", "", NULL, false, NULL},
		{"#pending\nHi Ivan,\n\n#close\n", "pending", "Hi Ivan,\n\n#close\n", false, NULL},
		/* quoted reply text is text */
		{"> #close\n", "", NULL, false, NULL},
		{"Done.\n\nOn Mon, Ivan wrote:\n> #close\n> #priority critical\n", "", NULL, false,
		 NULL},
		/* '#' and a digit, a blank, punctuation: text, never an error */
		{"#123 is my order number\n", "", NULL, false, NULL},
		{"#1 priority for us is the invoice\n#close\n", "", NULL, false, NULL},
		{"# Heading\n", "", NULL, false, NULL},
		{"#\n", "", NULL, false, NULL},
		{"#!/bin/sh\n", "", NULL, false, NULL},
		{"##close\n", "", NULL, false, NULL},
		{"#close\n#42 is the ticket you meant\n", "close", "#42 is the ticket you meant\n",
		 false, NULL},
		/* case-insensitive names; leading and trailing white space */
		{"#CLOSE\n", "close", "", false, NULL},
		{"#Close\n\ntext\n", "close", "text\n", false, NULL},
		{"  #close\n\ntext\n", "close", "text\n", false, NULL},
		{"\t#close  \t\ntext\n", "close", "text\n", false, NULL},
		{"#PRIORITY High\n", "priority=high", "", false, NULL},
		{"#priority\thigh\n", "priority=high", "", false, NULL},
		{"#priority   low   \n", "priority=low", "", false, NULL},
		/* the text keeps its own indentation */
		{"#close\n\n    indented code\n", "close", "    indented code\n", false, NULL},
		/* NBSP from HTML mail around a command */
		{"\xc2\xa0#close\xc2\xa0\n\ntext\n", "close", "text\n", false, NULL},
		/* a byte order mark before the first line */
		{"\xef\xbb\xbf#close\n\ntext\n", "close", "text\n", false, NULL},
		/* the same command twice: both kept, in order */
		{"#priority low\n#priority high\n", "priority=low;priority=high", "", false, NULL},
	};
	run(cases, PD_ARRAY_LEN(cases));
}

static void test_note(void **state)
{
	(void)state;
	static const struct ccase cases[] = {
		{"#note\n\nCustomer called, wants a refund.\n", "note",
		 "Customer called, wants a refund.\n", true, NULL},
		{"#NOTE\nx\n", "note", "x\n", true, NULL},
		/* anywhere in the block */
		{"#priority high\n#note\n\nEscalating.\n", "priority=high;note", "Escalating.\n", true,
		 NULL},
		{"#note\n#pending\ntext\n", "note;pending", "text\n", true, NULL},
		/* after the text it is text, and not a note */
		{"Hi\n#note\n", "", NULL, false, NULL},
		{"> #note\n", "", NULL, false, NULL},
		{"#note to self\n", "", NULL, false, "#note takes no argument"},
	};
	run(cases, PD_ARRAY_LEN(cases));
}

static void test_arguments(void **state)
{
	(void)state;
	static const struct ccase cases[] = {
		/* priority */
		{"#priority critical\n", "priority=critical", "", false, NULL},
		{"#priority high\n", "priority=high", "", false, NULL},
		{"#priority NORMAL\n", "priority=normal", "", false, NULL},
		{"#priority low\n", "priority=low", "", false, NULL},
		{"#priority urgent\n", "", NULL, false,
		 "bad argument \"urgent\" for #priority on line 1: expected critical, high, normal or "
		 "low"},
		{"#priority\n", "", NULL, false,
		 "#priority needs an argument on line 1: critical, high, normal or low"},
		{"#priority high please\n", "", NULL, false,
		 "#priority takes one argument, got \"high please\" on line 1"},
		{"#priority hi\n", "", NULL, false, "bad argument \"hi\" for #priority"},
		/* assign */
		{"#assign bob@example.com\n", "assign=bob@example.com", "", false, NULL},
		{"#assign <bob@example.com>\n", "assign=bob@example.com", "", false, NULL},
		{"#assign Bob.Smith+l2@Support.Example.COM\n", "assign=Bob.Smith+l2@Support.Example.COM",
		 "", false, NULL},
		{"#assign o'brien@example.ie\n", "assign=o'brien@example.ie", "", false, NULL},
		{"#assign \"bob smith\"@example.com\n", "", NULL, false,
		 "#assign takes one argument"},
		{"#assign \"bob.smith\"@example.com\n", "assign=\"bob.smith\"@example.com", "", false,
		 NULL},
		{"#assign bob@localhost\n", "assign=bob@localhost", "", false, NULL},
		{"#assign иван@пример.рф\n", "assign=иван@пример.рф", "", false, NULL},
		{"#assign bob\n", "", NULL, false,
		 "bad argument \"bob\" for #assign on line 1: expected an e-mail address"},
		{"#assign bob@\n", "", NULL, false, "bad argument \"bob@\" for #assign"},
		{"#assign @example.com\n", "", NULL, false, "bad argument"},
		{"#assign bob@@example.com\n", "", NULL, false, "bad argument"},
		{"#assign bob@example..com\n", "", NULL, false, "bad argument"},
		{"#assign bob@-example.com\n", "", NULL, false, "bad argument"},
		{"#assign bob@example-.com\n", "", NULL, false, "bad argument"},
		{"#assign .bob@example.com\n", "", NULL, false, "bad argument"},
		{"#assign bob.@example.com\n", "", NULL, false, "bad argument"},
		{"#assign bo..b@example.com\n", "", NULL, false, "bad argument"},
		{"#assign bob@exa_mple.com\n", "", NULL, false, "bad argument"},
		{"#assign bob(x)@example.com\n", "", NULL, false, "bad argument"},
		{"#assign <bob@example.com\n", "", NULL, false, "bad argument"},
		/* angle brackets inside a quoted local part (found by fuzz_commands) */
		{"#assign \"<o\"@ex\n", "", NULL, false, "bad argument \"\"<o\"@ex\" for #assign"},
		{"#assign <\"a>b\"@example.com>\n", "", NULL, false, "bad argument"},
		{"#assign \"\\<o\"@ex\n", "", NULL, false, "bad argument"},
		{"#assign \"a\\\001b\"@example.com\n", "", NULL, false, "bad argument"},
		{"#assign \"a\\\"b\"@example.com\n", "assign=\"a\\\"b\"@example.com", "", false,
		 NULL},
		{"#assign\n", "", NULL, false, "#assign needs an argument on line 1"},
		{"#assign Bob <bob@example.com>\n", "", NULL, false, "#assign takes one argument"},
		/* line */
		{"#line 1\n", "line=1", "", false, NULL},
		{"#line 2\n", "line=2", "", false, NULL},
		{"#line 99\n", "line=99", "", false, NULL},
		{"#line 02\n", "line=2", "", false, NULL},
		{"#line 0\n", "", NULL, false,
		 "bad argument \"0\" for #line on line 1: expected a number from 1 to 99"},
		{"#line 100\n", "", NULL, false, "bad argument \"100\" for #line"},
		{"#line -1\n", "", NULL, false, "bad argument \"-1\" for #line"},
		{"#line +2\n", "", NULL, false, "bad argument"},
		{"#line 2.0\n", "", NULL, false, "bad argument"},
		{"#line two\n", "", NULL, false, "bad argument"},
		{"#line 99999999999999999999\n", "", NULL, false, "bad argument"},
		{"#line\n", "", NULL, false, "#line needs an argument on line 1: a number from 1 to 99"},
		/* type */
		{"#type question\n", "type=question", "", false, NULL},
		{"#type incident\n", "type=incident", "", false, NULL},
		{"#type complaint\n", "type=complaint", "", false, NULL},
		{"#type suggestion\n", "type=suggestion", "", false, NULL},
		{"#type refund\n", "type=refund", "", false, NULL},
		{"#type access\n", "type=access", "", false, NULL},
		{"#TYPE Complaint\n", "type=complaint", "", false, NULL},
		{"#type\tREFUND  \n", "type=refund", "", false, NULL},
		{"#type complaint\n#priority high\n\nSorry about that.\n",
		 "type=complaint;priority=high", "Sorry about that.\n", false, NULL},
		{"#type bug\n", "", NULL, false,
		 "bad argument \"bug\" for #type on line 1: expected question, incident, complaint, "
		 "suggestion, refund or access"},
		{"#type жалоба\n", "", NULL, false, "bad argument \"жалоба\" for #type on line 1"},
		{"#type complaints\n", "", NULL, false, "bad argument \"complaints\" for #type"},
		{"#type\n", "", NULL, false,
		 "#type needs an argument on line 1: question, incident, complaint, suggestion, "
		 "refund or access"},
		{"#type refund exchange\n", "", NULL, false,
		 "#type takes one argument, got \"refund exchange\" on line 1"},
		/* commands without arguments refuse one */
		{"#close now\n", "", NULL, false, "#close takes no argument, got \"now\" on line 1"},
		{"#resolve please\n", "", NULL, false, "#resolve takes no argument"},
		{"#pending 2 days\n", "", NULL, false, "#pending takes no argument, got \"2 days\""},
	};
	run(cases, PD_ARRAY_LEN(cases));
}

static void test_errors(void **state)
{
	(void)state;
	static const struct ccase cases[] = {
		{"#clsoe\n\nDone.\n", "", NULL, false,
		 "unknown command #clsoe on line 1; " VALID},
		{"\n\n#close\n#urgent\n\nHi\n", "", NULL, false,
		 "unknown command #urgent on line 4; " VALID},
		/* the name as written */
		{"#ClOsEd\n", "", NULL, false, "unknown command #ClOsEd on line 1;"},
		{"#close.\n", "", NULL, false, "unknown command #close. on line 1;"},
		{"#priority: high\n", "", NULL, false, "unknown command #priority: on line 1;"},
		/* a command in another script is a command too */
		{"#закрыть\n", "", NULL, false, "unknown command #закрыть on line 1;"},
		/* the first error is reported; nothing parsed survives an error */
		{"#close\n#foo\n#bar\n", "", NULL, false, "unknown command #foo on line 2;"},
		{"#priority high\n#line 0\n", "", NULL, false, "bad argument \"0\" for #line on line 2"},
		/* a #note before the error still marks the mail as a note */
		{"#note\n#bogus\n", "", NULL, true, "unknown command #bogus on line 2;"},
		/* CRLF counts lines the same */
		{"\r\n#close\r\n#nope\r\n", "", NULL, false, "unknown command #nope on line 3;"},
	};
	run(cases, PD_ARRAY_LEN(cases));

	/* exact wording of the full message */
	struct pd_cmd_result r;
	pd_commands_parse("#clsoe\n", &r);
	assert_string_equal(r.error, "unknown command #clsoe on line 1; valid: #close #resolve "
				     "#pending #priority LEVEL #assign ADDRESS #line N #type TYPE "
				     "#note");
	assert_int_equal(r.n, 0);
	assert_null(r.v);
	assert_string_equal(r.body, "#clsoe\n");
	pd_commands_free(&r);
}

static void test_crlf_and_cyrillic(void **state)
{
	(void)state;
	static const struct ccase cases[] = {
		{"#close\r\n\r\nThanks.\r\nBye.\r\n", "close", "Thanks.\r\nBye.\r\n", false, NULL},
		{"#priority high\r\n#assign bob@example.com\r\n\r\n\r\nHi\r\n",
		 "priority=high;assign=bob@example.com", "Hi\r\n", false, NULL},
		{"#line 2\r\n", "line=2", "", false, NULL},
		{"Hello\r\n#close\r\n", "", NULL, false, NULL},
		{"> #close\r\n", "", NULL, false, NULL},
		/* Cyrillic text after commands, and text alone */
		{"#pending\n\nЗдравствуйте, Иван!\nМы проверяем ваш заказ.\n", "pending",
		 "Здравствуйте, Иван!\nМы проверяем ваш заказ.\n", false, NULL},
		{"#NOTE\r\n\r\nКлиент звонил, просит возврат.\r\n", "note",
		 "Клиент звонил, просит возврат.\r\n", true, NULL},
		{"Добрый день!\n#close\n", "", NULL, false, NULL},
		{"#1 заказ\n", "", NULL, false, NULL},
		/* a Cyrillic text right after the block, no blank line */
		{"#resolve\nГотово.\n", "resolve", "Готово.\n", false, NULL},
	};
	run(cases, PD_ARRAY_LEN(cases));
}

/* What goes back to the agent by mail is cut short and has no control
 * characters. */
static void test_error_quoting(void **state)
{
	(void)state;
	struct pd_cmd_result r;
	struct pd_buf b;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "#");
	for (int i = 0; i < 500; i++)
		pd_buf_append_str(&b, "ж");
	pd_buf_append_char(&b, '\n');
	pd_commands_parse(b.data, &r);
	assert_non_null(r.error);
	assert_true(strlen(r.error) < 250);
	assert_non_null(strstr(r.error, "жжж... on line 1"));
	/* cut on a character boundary: still valid UTF-8 */
	assert_true(pd_utf8_valid(r.error, strlen(r.error)));
	pd_commands_free(&r);
	pd_buf_free(&b);

	pd_commands_parse("#close \x1b[31mred\x07\n", &r);
	assert_non_null(r.error);
	assert_null(strchr(r.error, '\x1b'));
	assert_null(strchr(r.error, '\x07'));
	assert_non_null(strstr(r.error, "\"?[31mred?\""));
	pd_commands_free(&r);

	/* a bare CR inside a line is not a line break, and is not echoed */
	pd_commands_parse("#line 2\r3\n", &r);
	assert_non_null(r.error);
	assert_null(strchr(r.error, '\r'));
	pd_commands_free(&r);
}

static void test_api(void **state)
{
	(void)state;
	struct pd_cmd_result r;

	/* NULL body: empty result */
	pd_commands_parse(NULL, &r);
	assert_int_equal(r.n, 0);
	assert_string_equal(r.body, "");
	assert_null(r.error);
	assert_false(r.note);
	pd_commands_free(&r);
	/* free twice and free NULL are harmless */
	pd_commands_free(&r);
	pd_commands_free(NULL);

	/* arguments: NULL for commands without one */
	pd_commands_parse("#close\n#assign bob@example.com\n", &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.v[0].kind, PD_CMD_CLOSE);
	assert_null(r.v[0].arg);
	assert_int_equal(r.v[1].kind, PD_CMD_ASSIGN);
	assert_string_equal(r.v[1].arg, "bob@example.com");
	pd_commands_free(&r);

	static const struct {
		enum pd_cmd_kind k;
		const char *name;
	} names[] = {
		{PD_CMD_CLOSE, "close"},   {PD_CMD_RESOLVE, "resolve"},   {PD_CMD_PENDING, "pending"},
		{PD_CMD_PRIORITY, "priority"}, {PD_CMD_ASSIGN, "assign"}, {PD_CMD_LINE, "line"},
		{PD_CMD_NOTE, "note"},     {PD_CMD_TYPE, "type"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(names); i++)
		assert_string_equal(pd_cmd_name(names[i].k), names[i].name);
	assert_string_equal(pd_cmd_name((enum pd_cmd_kind)42), "unknown");
}

/* Big and odd input: linear, no crash, no leak. */
static void test_hostile(void **state)
{
	(void)state;
	struct pd_cmd_result r;
	struct pd_buf b;

	/* 100,000 command lines */
	pd_buf_init(&b);
	for (int i = 0; i < 100000; i++)
		pd_buf_append_str(&b, "#pending\n");
	pd_buf_append_str(&b, "text\n");
	pd_commands_parse(b.data, &r);
	assert_null(r.error);
	assert_int_equal(r.n, 100000);
	assert_string_equal(r.body, "text\n");
	pd_commands_free(&r);
	pd_buf_free(&b);

	/* one 1 MB line */
	pd_buf_init(&b);
	pd_buf_append_str(&b, "#assign ");
	for (int i = 0; i < (1 << 20); i++)
		pd_buf_append_char(&b, 'a');
	pd_commands_parse(b.data, &r);
	assert_non_null(r.error);
	assert_true(strlen(r.error) < 300);
	pd_commands_free(&r);
	pd_buf_free(&b);

	/* invalid UTF-8 and lone CRs */
	pd_commands_parse("\xff\xfe#close\n", &r);
	assert_int_equal(r.n, 0);
	assert_null(r.error);
	pd_commands_free(&r);
	pd_commands_parse("#\xff\xfe\xd0\n", &r);
	assert_non_null(r.error);
	assert_string_equal(r.error, "unknown command #??? on line 1; " VALID);
	pd_commands_free(&r);
	pd_commands_parse("\r\r\r#close\r\r\n", &r);
	assert_int_equal(r.n, 0);
	pd_commands_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_crlf_and_cyrillic),
		cmocka_unit_test(test_error_quoting),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
