/*
 * fuzz_commands.c - an agent's mail body: the command block at its top
 * (#close, #priority high, #assign ..., #note) and the quoted history cut
 * from the reply by pd_answer_split (the agent's own text, above, below or
 * between quotes), whose result store.c parses for commands.
 *
 * The body reaches commands.c as the MIME parser hands it over: UTF-8
 * without NUL bytes, so the input goes through pd_mime_to_utf8 first.
 * Checked besides memory and UB: what commands.h promises about the result
 * (after an error no command and the body unchanged; arguments normalised;
 * the error text, mailed back to the agent, valid UTF-8 on one line);
 * the agent's own text is valid UTF-8, no longer than the body, has no
 * quoted line and no notice marker left, and splitting it again changes
 * nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "answer.h"
#include "commands.h"
#include "fuzz.h"
#include "mime.h"
#include "util.h"

#define REQUIRE(cond)                                                                         \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_commands: %s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                                             \
			abort();                                                              \
		}                                                                             \
	} while (0)

static bool one_of(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return true;
	return false;
}

static void check_result(const char *body, const struct pd_cmd_result *r)
{
	static const char *const prio[] = {"critical", "high", "normal", "low"};
	static const char *const types[] = {"question",   "incident", "complaint",
					    "suggestion", "refund",   "access"};

	REQUIRE(r->body != NULL);
	REQUIRE(pd_utf8_valid(r->body, strlen(r->body)));
	REQUIRE(strlen(r->body) <= strlen(body));
	if (r->error != NULL) {
		REQUIRE(r->n == 0);
		REQUIRE(strcmp(r->body, body) == 0);
		REQUIRE(pd_utf8_valid(r->error, strlen(r->error)));
		REQUIRE(strchr(r->error, '\n') == NULL && strchr(r->error, '\r') == NULL);
	}
	if (r->n == 0 && r->error == NULL)
		REQUIRE(strcmp(r->body, body) == 0);
	bool note = false;
	for (size_t i = 0; i < r->n; i++) {
		const struct pd_cmd *c = &r->v[i];
		REQUIRE(pd_cmd_name(c->kind) != NULL);
		switch (c->kind) {
		case PD_CMD_PRIORITY:
			REQUIRE(c->arg != NULL && one_of(c->arg, prio, 4));
			break;
		case PD_CMD_TYPE:
			REQUIRE(c->arg != NULL && one_of(c->arg, types, 6));
			break;
		case PD_CMD_LINE: {
			REQUIRE(c->arg != NULL);
			char *end;
			long v = strtol(c->arg, &end, 10);
			REQUIRE(*end == '\0' && v >= 1 && v <= 99);
			break;
		}
		case PD_CMD_ASSIGN:
			REQUIRE(c->arg != NULL && strchr(c->arg, '@') != NULL);
			REQUIRE(strchr(c->arg, '<') == NULL && strchr(c->arg, '>') == NULL);
			REQUIRE(pd_utf8_valid(c->arg, strlen(c->arg)));
			break;
		case PD_CMD_NOTE:
			note = true;
			REQUIRE(c->arg == NULL);
			break;
		default:
			REQUIRE(c->arg == NULL);
		}
	}
	if (note)
		REQUIRE(r->note);
}

/* The line [p, e) is a notice marker or quoted (answer.h's rules). */
static bool quoted_or_marker(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v'))
		p++;
	if (p < e && *p == '>')
		return true;
	static const char *const marks[] = {"======== postdesk notice",
					    "======== end of postdesk notice"};
	for (size_t i = 0; i < 2; i++) {
		size_t k = strlen(marks[i]);
		if ((size_t)(e - p) >= k && strncasecmp(p, marks[i], k) == 0)
			return true;
	}
	return false;
}

/* store.c: the agent's own text, then the commands on it */
static void check_answer(const char *body)
{
	struct pd_answer a, again;

	REQUIRE(pd_answer_split(body, &a) == 0);
	REQUIRE(a.text != NULL && pd_utf8_valid(a.text, strlen(a.text)));
	REQUIRE(strlen(a.text) <= strlen(body));
	for (const char *p = a.text; *p;) {
		const char *nl = strchr(p, '\n'), *e = nl ? nl : p + strlen(p);
		REQUIRE(!quoted_or_marker(p, e));
		p = nl ? nl + 1 : e;
	}
	REQUIRE(pd_answer_split(a.text, &again) == 0);
	REQUIRE(strcmp(again.text, a.text) == 0 && !again.had_quote);
	pd_answer_free(&again);

	struct pd_cmd_result r;
	pd_commands_parse(a.text, &r);
	check_result(a.text, &r);
	pd_commands_free(&r);
	pd_answer_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = pd_mime_to_utf8("utf-8", (const char *)data, size);

	if (body == NULL)
		return 0;
	struct pd_cmd_result r;
	pd_commands_parse(body, &r);
	check_result(body, &r);
	pd_commands_free(&r);

	/* store.c: the agent's own text, then its commands */
	check_answer(body);
	free(body);
	return 0;
}
