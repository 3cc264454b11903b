/*
 * fuzz_thread.c - which ticket a mail belongs to: the subject tag
 * ("[Support #12]"), the reply-prefix cleaning and the Message-IDs of
 * In-Reply-To and References.
 *
 * Input: an optional first line "TAG" (the configured subject_tag, at most
 * 32 bytes; "Support" when the input has no line break), then the rest,
 * used twice: as a subject string straight into thread.c, and as a mail
 * header block ("Subject: ...", "References: ..." lines) through the MIME
 * parser, whose decoded subject and ids then go through thread.c as
 * store.c hands them over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mime.h"
#include "msg.h"
#include "thread.h"
#include "util.h"

#define REQUIRE(cond)                                                                       \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_thread: %s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                                           \
			abort();                                                            \
		}                                                                           \
	} while (0)

static void subject_checks(const char *subject, const char *tag)
{
	int64_t n = 0;

	if (pd_thread_find_tag(subject, tag, &n) == 1)
		REQUIRE(n > 0);
	char *clean = pd_thread_clean_subject(subject, tag);
	REQUIRE(clean != NULL);
	REQUIRE(strlen(clean) <= strlen(subject));
	if (pd_utf8_valid(subject, strlen(subject)))
		REQUIRE(pd_utf8_valid(clean, strlen(clean)));
	free(clean);

	/* rule 3 both ways, and the decision table around it */
	for (int i = 0; i < 4; i++) {
		struct pd_thread_facts f = {
		    .own_ref_ticket = i & 1 ? 7 : 0,
		    .ref_ticket = i & 2 ? 9 : 0,
		    .tag_ticket = n,
		    .tag_sender_allowed = i % 3 == 0,
		};
		struct pd_thread_decision d;
		pd_thread_decide(&f, &d);
		REQUIRE(pd_thread_rule_name(d.rule) != NULL);
		REQUIRE((d.rule == PD_THREAD_NEW) == (d.ticket == 0));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size);
	char *tag;
	const char *rest;
	size_t rest_len;

	if (nl != NULL && nl - s <= 32) {
		tag = pd_xstrndup(s, (size_t)(nl - s));
		rest = nl + 1;
		rest_len = size - (size_t)(nl - s) - 1;
	} else {
		tag = pd_xstrdup("Support");
		rest = s;
		rest_len = size;
	}
	char *subject = pd_xstrndup(rest, rest_len);
	subject_checks(subject, tag);

	/* the same bytes as a mail header block */
	struct pd_mime_opts opts = {0, 16, 4};
	struct pd_msg *m = pd_mime_parse(rest, rest_len, &opts);
	subject_checks(m->subject, tag);
	char *decoded = pd_mime_decode_header(subject, "windows-1252");
	REQUIRE(pd_utf8_valid(decoded, strlen(decoded)));
	subject_checks(decoded, tag);
	free(decoded);
	for (size_t i = 0; i < m->n_references; i++) {
		const char *id = m->references[i];
		REQUIRE(id != NULL && *id != '\0' && strchr(id, ' ') == NULL);
		/* no id twice (msg.h: deduplicated) */
		for (size_t j = 0; j < i; j++)
			REQUIRE(strcmp(m->references[j], id) != 0);
	}
	if (m->in_reply_to != NULL) {
		bool listed = false;
		for (size_t i = 0; i < m->n_references; i++)
			listed = listed || strcmp(m->references[i], m->in_reply_to) == 0;
		REQUIRE(listed);
	}
	pd_msg_free(m);
	free(subject);
	free(tag);
	return 0;
}
