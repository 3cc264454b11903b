/*
 * fuzz_mime.c - one raw mail through everything ingest does with it before
 * the database: the MIME parse (headers, RFC 2047/2231, charsets, the body
 * and the attachments), the loop guard (its header lookups, the DSN
 * reader and the verdict), the language guess, the classifier's words, and
 * the topmost Authentication-Results through its parser and the decision
 * whether the mail is an agent's (with any reply address it was sent to).
 *
 * Besides crashes, leaks and undefined behaviour, it checks what msg.h
 * promises: the strings that are never NULL are not, every string is valid
 * UTF-8, attachment sizes and hashes match their data; and that the
 * classifier's two word segmentations agree (classify.h).  And that a
 * notice about the mail (render.c and mimeout.c) carries every file of it:
 * parsed again, each attachment's bytes are there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentid.h"
#include "replyaddr.h"
#include "classify.h"
#include "fuzz.h"
#include "language.h"
#include "loopguard.h"
#include "mime.h"
#include "msg.h"
#include "outparts.h"
#include "render.h"
#include "ioutil.h"
#include "util.h"

#define REQUIRE(cond)                                                                     \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz_mime: %s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                                         \
			abort();                                                          \
		}                                                                         \
	} while (0)

static void check_str_at(const char *s, bool may_be_null, const char *what)
{
	if (s == NULL ? may_be_null : pd_utf8_valid(s, strlen(s)))
		return;
	fprintf(stderr, "fuzz_mime: %s is %s\n", what, s == NULL ? "NULL" : "not valid UTF-8");
	abort();
}
#define check_str(s, may_be_null) check_str_at((s), (may_be_null), #s)

static void check_addrs(const struct pd_addrlist *l)
{
	REQUIRE(l->n == 0 || l->v != NULL);
	for (size_t i = 0; i < l->n; i++) {
		check_str(l->v[i].name, false);
		check_str(l->v[i].address, false);
	}
}

static void check_msg(const struct pd_msg *m, const char *raw, size_t len)
{
	unsigned char hash[32];

	REQUIRE(m->raw == raw && m->raw_len == len);
	check_str(m->message_id, true);
	check_str(m->in_reply_to, true);
	for (size_t i = 0; i < m->n_references; i++)
		check_str(m->references[i], false);
	check_str(m->subject, false);
	check_str(m->from.name, false);
	check_str(m->from.address, false);
	check_str(m->reply_to.name, false);
	check_str(m->reply_to.address, false);
	check_addrs(&m->to);
	check_addrs(&m->cc);
	check_addrs(&m->delivered_to);
	check_str(m->auto_submitted, true);
	check_str(m->precedence, true);
	check_str(m->list_id, true);
	check_str(m->return_path, true);
	check_str(m->body_text, false);
	check_str(m->body_charset, false);
	REQUIRE(m->n_fields == 0 || m->fields != NULL);
	for (size_t i = 0; i < m->n_fields; i++) {
		check_str(m->fields[i].name, false);
		check_str(m->fields[i].value, false);
	}
	check_str(m->content_type, false);
	check_str(m->report_type, true);
	check_str(m->dsn.original_message_id, true);
	check_str(m->dsn.returned_message_id, true);
	REQUIRE(m->dsn.n_groups <= PD_DSN_MAX_GROUPS);
	for (size_t i = 0; i < m->dsn.n_groups; i++) {
		check_str(m->dsn.groups[i].final_recipient, true);
		check_str(m->dsn.groups[i].original_recipient, true);
		check_str(m->dsn.groups[i].action, true);
		check_str(m->dsn.groups[i].status, true);
	}
	check_str(m->parse_error, true);
	REQUIRE(!(m->parse_failed || m->oversized) || m->parse_error != NULL);
	for (size_t i = 0; i < m->n_warnings; i++)
		REQUIRE(m->warnings[i] != NULL);
	for (size_t i = 0; i < m->n_attachments; i++) {
		const struct pd_attachment *a = &m->attachments[i];
		unsigned char sum[32];
		char hex[65];

		check_str(a->filename, true);
		check_str(a->content_type, false);
		check_str(a->content_id, true);
		REQUIRE(a->size == 0 || a->data != NULL);
		pd_sha256(a->data != NULL ? a->data : "", a->size, sum);
		REQUIRE(memcmp(sum, a->sha256, 32) == 0);
		pd_hex(sum, 32, hex);
		REQUIRE(strcmp(hex, a->sha256_hex) == 0);
	}
	pd_mime_content_hash(raw, len, hash);
	REQUIRE(memcmp(hash, m->content_hash, 32) == 0);
}

/* The classifier's fast segmentation and the UAX #29 one give the same words. */
static void check_words(const char *text)
{
	size_t len = strlen(text);

	len = pd_utf8_cut(text, len, 16384); /* do not cut a UTF-8 sequence */
	char *fast = pd_classify_words(text, len, false);
	char *slow = pd_classify_words(text, len, true);
	if (strcmp(fast, slow) != 0) {
		fprintf(stderr, "fuzz_mime: words differ:\n fast: %s\n uax29: %s\n", fast, slow);
		abort();
	}
	free(fast);
	free(slow);
}

/* The mail's files in an outbound mail, as compose.c puts them in a notice,
 * and the outbound mail parsed again: every file that is an attachment by
 * mime.c's rules (a name, or not a text type) is there with its bytes. */
static void check_carried(const struct pd_msg *m)
{
	static const struct pd_addr to = {(char *)"", (char *)"team@example.com"};
	size_t n;
	struct pd_mimeout_part *parts = pd_outparts_of(m, m->body_html, &n);
	struct pd_render_mail rm = {
	    .kind = "notice",
	    .from = {(char *)"", (char *)"support@example.com"},
	    .to = &to,
	    .n_to = 1,
	    .subject = m->subject,
	    .message_id = "pd.1.notice.0@example.com",
	    .body = m->body_text,
	    .html = m->body_html,
	    .parts = parts,
	    .n_parts = n,
	};
	struct pd_buf out;
	struct pd_err err;

	pd_buf_init(&out);
	REQUIRE(pd_render_mail(&rm, &out, &err) == 0);
	struct pd_msg *again = pd_mime_parse(out.data, out.len, NULL);
	REQUIRE(!again->parse_failed);
	for (size_t i = 0; i < m->n_attachments; i++) {
		const struct pd_attachment *a = &m->attachments[i];
		bool text = strncmp(a->content_type, "text/", 5) == 0;
		bool found = false;
		if ((a->filename == NULL || a->filename[0] == '\0') && text)
			continue;
		for (size_t k = 0; k < again->n_attachments && !found; k++)
			found = again->attachments[k].size == a->size &&
				memcmp(again->attachments[k].sha256, a->sha256, 32) == 0;
		if (!found) {
			fprintf(stderr, "fuzz_mime: attachment %zu (%s, %s, %zu bytes) is not in the "
					"notice\n",
				i, a->filename ? a->filename : "-", a->content_type, a->size);
			abort();
		}
	}
	pd_msg_free(again);
	pd_buf_free(&out);
	free(parts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *raw = (const char *)data;
	struct pd_mime_opts opts = {0, 0, 0};

	/* the daemon parses mails up to max_message_size (25M by default); the
	 * inputs here are far smaller, so the size limit is exercised with a
	 * limit taken from the input's own length on every 16th one */
	if (size > 0 && data[0] % 16 == 15)
		opts.max_size = size / 2;
	struct pd_msg *m = pd_mime_parse(raw, size, &opts);
	check_msg(m, raw, size);
	if (!m->parse_failed && !m->oversized)
		check_carried(m);

	/* the loop guard, as store.c asks it */
	const char *own[2] = {"support@example.com", "help@example.org"};
	struct pd_loop_input in = {
	    .msg = m,
	    .own_addresses = own,
	    .n_own = 2,
	    .loop_header_value = "example.com",
	    .is_dsn = pd_loopguard_is_dsn(m),
	    .limit_recent = 3,
	    .limit_day = 10,
	};
	const char *reason = NULL;
	enum pd_loop_verdict v = pd_loopguard_check(&in, &reason);
	REQUIRE(pd_loop_verdict_name(v) != NULL);
	char *orig = NULL, *rcpt = NULL;
	bool permanent = false;
	if (pd_loopguard_dsn(m, &orig, &rcpt, &permanent) == 1)
		REQUIRE(orig != NULL || rcpt != NULL);
	else
		REQUIRE(orig == NULL && rcpt == NULL);
	/* both go into SQL text parameters (store.c): valid UTF-8 or nothing */
	check_str(orig, true);
	check_str(rcpt, true);
	free(orig);
	free(rcpt);
	const char *h = pd_msg_field(m, "X-Postdesk-Loop", 0);
	REQUIRE(h == NULL || strlen(h) <= PD_MSG_FIELD_MAX * 3);

	(void)pd_language_detect(m->subject, m->body_text);
	char *dom = pd_addr_domain(m->from.address);
	free(dom);
	check_words(m->subject);
	check_words(m->body_text);

	/* who wrote it, as store.c decides: the parser's result is all or nothing */
	struct pd_authres ar;
	if (pd_authres_parse(m->authentication_results, &ar) == 0) {
		REQUIRE(ar.authserv_id != NULL);
		REQUIRE(!ar.none || ar.n == 0);
		for (size_t i = 0; i < ar.n; i++)
			REQUIRE(ar.v[i].method != NULL && ar.v[i].result != NULL);
		pd_authres_free(&ar);
	} else {
		REQUIRE(ar.authserv_id == NULL && ar.n == 0 && ar.v == NULL);
	}
	static const unsigned char secret[32] = {1, 2, 3};
	int64_t tokens[4];
	size_t n_tokens = 0;
	const struct pd_addrlist *lists[3] = {&m->to, &m->cc, &m->delivered_to};
	for (size_t l = 0; l < 3; l++)
		for (size_t i = 0; i < lists[l]->n && n_tokens < 4; i++) {
			int64_t t = pd_token_ticket("support@example.com", lists[l]->v[i].address,
						    secret, sizeof(secret));
			REQUIRE(t == 0 || pd_token_shaped("support@example.com",
							   lists[l]->v[i].address));
			if (t > 0)
				tokens[n_tokens++] = t;
		}
	static const char *const trusted[] = {"mx.example.com"};
	struct pd_agent_facts af = {
	    .from_agent = size > 0 && data[0] % 2 == 0,
	    .from_address = m->from.address,
	    .ticket = 1,
	    .token_tickets = tokens,
	    .n_tokens = n_tokens,
	    .authres = m->authentication_results,
	    .trusted = trusted,
	    .n_trusted = 1,
	};
	struct pd_agent_decision ad;
	pd_agent_decide(&af, &ad);
	REQUIRE(af.from_agent ? ad.verdict == PD_AGENT_VERIFIED || ad.verdict == PD_AGENT_UNVERIFIED
			      : ad.verdict == PD_AGENT_NONE || ad.verdict == PD_AGENT_UNKNOWN);
	REQUIRE(pd_agent_why_text(ad.why) != NULL);

	pd_msg_free(m);
	return 0;
}
