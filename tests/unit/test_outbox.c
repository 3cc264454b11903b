/*
 * test_outbox.c - the outbox's retry schedule (pd_outbox_backoff, a table)
 * and its claim against a real PostgreSQL (tests/unit/pgtest.sh): two
 * sessions never claim the same row, a row whose lease ran out or whose
 * session ended is claimed again, a row not yet due is not, and a row that
 * keeps failing is given up after PD_OUTBOX_MAX_ATTEMPTS.  The render spec
 * (outspec.c): written and read back it renders the same bytes, and what it
 * carries of a customer's mail comes out as HTML and parts; a row whose spec
 * cannot be rendered fails for good, naming the row and what is wrong.  Exit
 * 77 (SKIP) when PostgreSQL is not installed.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "mime.h"
#include "outbox.h"
#include "outspec.h"
#include "pgtest.h"
#include "render.h"
#include "smtp.h"
#include "util.h"

/* ------------------------------------------------------------ backoff */

static void test_backoff_table(void **state)
{
	(void)state;
	static const struct {
		int attempt;
		double jitter;
		int64_t secs;
	} cases[] = {
	    /* 30 s doubling, -20 % at jitter 0, +0 at 0.5, almost +20 % near 1 */
	    {0, 0.0, 24},       {1, 0.0, 24},       {1, 0.5, 30},     {1, 0.999, 35},
	    {2, 0.0, 48},       {2, 0.5, 60},       {3, 0.5, 120},    {4, 0.5, 240},
	    {5, 0.5, 480},      {6, 0.5, 960},      {7, 0.5, 1920},   {7, 0.0, 1536},
	    /* capped at one hour from the 8th on */
	    {8, 0.5, 3600},     {8, 0.0, 2880},     {8, 0.999, 4318}, {12, 0.5, 3600},
	    {100, 0.5, 3600},   {1000000, 0.0, 2880},
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		int64_t got = pd_outbox_backoff(cases[i].attempt, cases[i].jitter);
		if (got != cases[i].secs)
			fail_msg("attempt %d jitter %.3f: %lld s, want %lld s", cases[i].attempt,
				 cases[i].jitter, (long long)got, (long long)cases[i].secs);
	}
}

/* Every attempt's delay lies within +-20 % of its base and grows (or stays
 * at the cap) from one attempt to the next, whatever the jitter. */
static void test_backoff_bounds(void **state)
{
	(void)state;
	int64_t base = 30, prev_max = 0;

	for (int a = 1; a <= PD_OUTBOX_MAX_ATTEMPTS + 3; a++) {
		int64_t lo = pd_outbox_backoff(a, 0.0), hi = pd_outbox_backoff(a, 0.9999999);
		assert_int_equal(lo, base - base / 5);
		assert_true(hi <= base + base / 5 && hi >= base + base / 5 - 1);
		for (double j = 0.0; j < 1.0; j += 0.05) {
			int64_t d = pd_outbox_backoff(a, j);
			assert_true(d >= lo && d <= hi);
		}
		assert_true(hi >= prev_max || base == 3600);
		prev_max = hi;
		base = base * 2 > 3600 ? 3600 : base * 2;
	}
}

/* ------------------------------------------------------------ claim */

/* An empty outbox holding n new queued rows, due now. */
static void fill(int n)
{
	struct pd_db *db = pd_pgtest_connect(0);
	struct pd_err err;
	struct pd_outbox_mail *m = pd_xcalloc((size_t)n, sizeof(*m));
	char **ids = pd_xcalloc((size_t)n, sizeof(char *));
	static const char *const rcpt[] = {"alice@customer.example"};

	pd_pgtest_exec(db, "TRUNCATE outbox, events");
	for (int i = 0; i < n; i++) {
		ids[i] = pd_xasprintf("claim-%d@test.example", i);
		m[i].kind = "ack";
		m[i].message_id = ids[i];
		m[i].mail_from = "support@example.com";
		m[i].rcpts = rcpt;
		m[i].n_rcpts = 1;
		m[i].to_address = "alice@customer.example";
		m[i].subject = "claim";
		m[i].body = "body";
		m[i].raw = "Subject: claim\r\n\r\nbody\r\n";
		m[i].raw_len = strlen(m[i].raw);
	}
	if (pd_db_begin(db, &err) != 0 || pd_outbox_enqueue_many(db, m, (size_t)n, &err) != 0 ||
	    pd_db_commit(db, &err) != 0)
		fail_msg("enqueue: %s", err.msg);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM outbox WHERE status = 'queued'"), n);
	for (int i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(m);
	pd_db_close(db);
}

/* Claim up to max on db; the ids claimed go into seen[] (counted), each id
 * must be new there.  Returns how many were claimed. */
static int claim(struct pd_db *db, size_t max, int *seen, int n_seen)
{
	struct pd_err err;
	PGresult *res = pd_outbox_claim(db, max, &err);
	int n;

	if (res == NULL)
		fail_msg("claim: %s", err.msg);
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		long id = strtol(PQgetvalue(res, i, 0), NULL, 10);
		assert_true(id > 0);
		for (int k = 0; k < n_seen; k++)
			if (seen[k] == id)
				fail_msg("row %ld claimed twice", id);
		if (seen != NULL)
			seen[n_seen + i] = (int)id;
	}
	PQclear(res);
	return n;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static void test_two_claimers(void **state)
{
	(void)state;
	int seen[64];
	struct pd_db *a, *b;
	struct pd_err err;
	int na, nb;

	fill(10);
	a = pd_pgtest_connect(0);
	b = pd_pgtest_connect(0);
	/* a claims inside a transaction it keeps open: its rows are locked,
	 * b skips them instead of waiting */
	assert_int_equal(pd_db_begin(a, &err), 0);
	na = claim(a, 4, seen, 0);
	assert_int_equal(na, 4);
	nb = claim(b, 10, seen, na);
	assert_int_equal(nb, 6);
	assert_int_equal(pd_db_commit(a, &err), 0);
	assert_int_equal(pd_pgtest_count(a, "SELECT count(*) FROM outbox WHERE status = 'sending'"
					    " AND attempts = 1 AND lease_until > now()"),
			 10);
	/* committed: every row is leased to a live session; a third one gets none */
	struct pd_db *c = pd_pgtest_connect(0);
	assert_int_equal(claim(c, 10, NULL, 0), 0);
	pd_db_close(c);
	/* a session's own rows are due to it again (a flush that stopped before
	 * recording its results), never the other's */
	char *mine = pd_pgtest_value(a, "SELECT string_agg(id::text, ',' ORDER BY id) FROM outbox"
				       " WHERE claimed_pid = pg_backend_pid()");
	qsort(seen, 4, sizeof(int), cmp_int);
	char *want = pd_xasprintf("%d,%d,%d,%d", seen[0], seen[1], seen[2], seen[3]);
	assert_string_equal(mine, want);
	assert_int_equal(claim(a, 10, NULL, 0), 4);
	assert_int_equal(pd_pgtest_count(a, "SELECT count(*) FROM outbox WHERE attempts = 2"
					    " AND claimed_pid = pg_backend_pid()"),
			 4);
	free(mine);
	free(want);
	pd_db_close(a);
	pd_db_close(b);
}

static void test_lease_expired(void **state)
{
	(void)state;
	struct pd_db *a, *b;

	fill(3);
	a = pd_pgtest_connect(0);
	b = pd_pgtest_connect(0);
	assert_int_equal(claim(a, 10, NULL, 0), 3);
	assert_int_equal(claim(b, 10, NULL, 0), 0);
	/* a still lives, but its lease on two rows ran out */
	pd_pgtest_exec(b, "UPDATE outbox SET lease_until = now() - interval '1 second'"
			  " WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 2)");
	assert_int_equal(claim(b, 10, NULL, 0), 2);
	assert_int_equal(pd_pgtest_count(b, "SELECT count(*) FROM outbox WHERE attempts = 2"
					    " AND claimed_pid = pg_backend_pid()"),
			 2);
	pd_db_close(a);
	pd_db_close(b);
}

static void test_session_gone(void **state)
{
	(void)state;
	struct pd_db *a, *b;

	fill(2);
	a = pd_pgtest_connect(0);
	assert_int_equal(claim(a, 10, NULL, 0), 2);
	pd_db_close(a); /* a crashed instance: its session ended, the leases did not */
	b = pd_pgtest_connect(0);
	/* the server may take a moment to drop a's backend */
	int got = 0;
	for (int i = 0; i < 50 && got == 0; i++) {
		got = claim(b, 10, NULL, 0);
		if (got == 0)
			pd_pgtest_exec(b, "SELECT pg_sleep(0.1)");
	}
	assert_int_equal(got, 2);
	pd_db_close(b);
}

static void test_not_due(void **state)
{
	(void)state;
	struct pd_db *b;

	fill(3);
	b = pd_pgtest_connect(0);
	pd_pgtest_exec(b, "UPDATE outbox SET next_attempt_at = now() + interval '10 minutes'"
			  " WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 2)");
	pd_pgtest_exec(b, "UPDATE outbox SET status = 'failed' WHERE id ="
			  " (SELECT max(id) FROM outbox)");
	assert_int_equal(claim(b, 10, NULL, 0), 0);
	pd_pgtest_exec(b, "UPDATE outbox SET status = 'sent' WHERE id ="
			  " (SELECT max(id) FROM outbox)");
	assert_int_equal(claim(b, 10, NULL, 0), 0);
	pd_pgtest_exec(b, "UPDATE outbox SET next_attempt_at = now() - interval '1 second'"
			  " WHERE id = (SELECT min(id) FROM outbox)");
	assert_int_equal(claim(b, 10, NULL, 0), 1);
	pd_db_close(b);
}

/* A server nobody listens on: every send fails temporarily. */
static struct pd_smtp *dead_smtp(struct pd_smtp_cfg *c)
{
	memset(c, 0, sizeof(*c));
	/* port 1 on loopback: connection refused */
	c->url = pd_xstrdup("smtp://127.0.0.1:1");
	c->host = pd_xstrdup("127.0.0.1");
	c->port = 1;
	c->tls = PD_TLS_NONE;
	c->from = pd_xstrdup("Example Support <support@example.com>");
	c->from_address = pd_xstrdup("support@example.com");
	c->timeout = 5;
	c->enabled = true;
	return pd_smtp_new(c);
}

static void free_smtp(struct pd_smtp *s, struct pd_smtp_cfg *c)
{
	pd_smtp_free(s);
	free(c->url);
	free(c->host);
	free(c->from);
	free(c->from_address);
}

static void test_retry_then_failed(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_smtp *s = dead_smtp(&c);
	struct pd_db *db;
	struct pd_outbox_stats st = {0, 0, 0};
	struct pd_err err;

	fill(2);
	db = pd_pgtest_connect(0);
	/* the second row has had all but its last attempt */
	pd_pgtest_exec(db, "UPDATE outbox SET attempts = 11 WHERE id = (SELECT max(id) FROM outbox)");
	assert_int_equal(PD_OUTBOX_MAX_ATTEMPTS, 12);
	assert_int_equal(pd_outbox_flush(db, s, 10, &st, &err), 0);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.failed, 1);
	/* the first: queued again after its first backoff (24..36 s), with the error */
	assert_int_equal(
	    pd_pgtest_count(db, "SELECT count(*) FROM outbox WHERE id = (SELECT min(id) FROM outbox)"
				" AND status = 'queued' AND attempts = 1 AND lease_until IS NULL"
				" AND last_error <> ''"
				" AND next_attempt_at BETWEEN now() + interval '20 seconds'"
				"                         AND now() + interval '37 seconds'"),
	    1);
	/* the second: given up, with the error kept for `postdesk outbox` */
	assert_int_equal(
	    pd_pgtest_count(db, "SELECT count(*) FROM outbox WHERE id = (SELECT max(id) FROM outbox)"
				" AND status = 'failed' AND attempts = 12 AND last_error <> ''"),
	    1);
	/* neither is due now: a flush sends nothing */
	memset(&st, 0, sizeof(st));
	assert_int_equal(pd_outbox_flush(db, s, 10, &st, &err), 0);
	assert_int_equal(st.sent + st.retried + st.failed, 0);
	pd_db_close(db);
	free_smtp(s, &c);
}


/* ------------------------------------------------------------ render spec */

static const struct pd_addr spec_to[2] = {{(char *)"Sarah \"Q\" Connor", (char *)"sarah@customer.example"},
					  {(char *)"", (char *)"team@example.com"}};
static const char *const spec_refs[2] = {"a1@example.com", "pd.7.notice.00ff@example.com"};

static struct pd_render_mail spec_mail(void)
{
	return (struct pd_render_mail){
	    .kind = "notice",
	    .auto_submitted = "auto-generated",
	    .from = {(char *)"Sarah via Example Support", (char *)"support@example.com"},
	    .reply_to = {(char *)"Example Support", (char *)"support+tok7@example.com"},
	    .to = spec_to,
	    .n_to = 1,
	    .cc = spec_to + 1,
	    .n_cc = 1,
	    .subject = "[Support #7] Счёт \"wrong\" / 100%",
	    .message_id = "pd.7.notice.0123456789abcdef@example.com",
	    .in_reply_to = spec_refs[1],
	    .references = spec_refs,
	    .n_references = 2,
	    .date = 1796000000,
	    .language = NULL,
	    .body = "Line one\n\tтекст with a \\ backslash\n\n[image: chart.png]\n",
	};
}

/* Written as JSON and read back, a spec renders the very bytes the mail
 * itself does, with and without the optional fields, and with its text
 * left to the outbound message (body_kept: read back without it, the
 * sender puts the stored text in). */
static void test_spec_round_trip(void **state)
{
	(void)state;
	for (int variant = 0; variant < 3; variant++) {
		struct pd_render_mail m = spec_mail();
		struct pd_outspec s;
		struct pd_buf a, b;
		struct pd_err err;
		char *note = NULL;

		if (variant == 1) {
			m.auto_submitted = NULL;
			m.reply_to = (struct pd_addr){(char *)"", (char *)""};
			m.cc = NULL;
			m.n_cc = 0;
			m.in_reply_to = NULL;
			m.references = NULL;
			m.n_references = 0;
			m.language = "ru";
		}
		char *json = pd_outspec_json(&m, NULL, variant == 2);
		pd_buf_init(&a);
		pd_buf_init(&b);
		if (pd_render_mail(&m, &a, &err) < 0 || pd_outspec_parse(json, &s, &err) < 0)
			fail_msg("variant %d: %s", variant, err.msg);
		if (variant == 2) {
			assert_null(strstr(json, "Line one"));
			assert_null(s.mail.body);
			s.mail.body = m.body;
		} else {
			assert_string_equal(s.mail.body, m.body);
		}
		assert_int_equal(s.carry.message, 0);
		assert_false(pd_outspec_needs_message(&s));
		if (pd_outspec_render_mail(&s.mail, &s.carry, NULL, &b, &note, &err) < 0)
			fail_msg("variant %d: %s", variant, err.msg);
		assert_null(note);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		pd_outspec_free(&s);
		pd_buf_free(&a);
		pd_buf_free(&b);
		free(json);
	}
}

/* A notice's carry survives the round trip, and rendering it with the
 * customer's mail gives the sanitised HTML part around the template's text
 * and the file as a part; without the mail, the text alone. */
static void test_spec_carry(void **state)
{
	(void)state;
	static const char raw[] =
	    "From: Sarah <sarah@customer.example>\r\n"
	    "To: support@example.com\r\n"
	    "Subject: Invoice\r\n"
	    "Message-ID: <c1@customer.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	    "\r\n"
	    "--b1\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "\r\n"
	    "<p>The total is <b>wrong</b></p><script>alert(1)</script>\r\n"
	    "--b1\r\n"
	    "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "JVBERi0xLjQKJeLjz9MK\r\n"
	    "--b1--\r\n";
	struct pd_mime_opts opts = {0, 0, 0};
	struct pd_msg *msg = pd_mime_parse(raw, sizeof(raw) - 1, &opts);
	struct pd_render_mail m = spec_mail();
	struct pd_outspec_carry c = {42, "Ticket #7\n\n" PD_OUTSPEC_HTML_PLACEHOLDER "\n\nEnd", true};
	struct pd_outspec s;
	struct pd_buf with, without;
	struct pd_err err;
	char *note = NULL;

	assert_non_null(msg->body_html);
	assert_int_equal(msg->n_attachments, 1);
	assert_true(pd_outspec_carries_parts(msg, 10 * 1024 * 1024, 25 * 1024 * 1024));
	assert_false(pd_outspec_carries_parts(msg, 5, 25 * 1024 * 1024));
	char *json = pd_outspec_json(&m, &c, false);
	if (pd_outspec_parse(json, &s, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(s.carry.message, 42);
	assert_string_equal(s.carry.html_text, c.html_text);
	assert_true(s.carry.parts);
	assert_true(pd_outspec_needs_message(&s));
	pd_buf_init(&with);
	pd_buf_init(&without);
	if (pd_outspec_render_mail(&s.mail, &s.carry, msg, &with, &note, &err) < 0 ||
	    pd_outspec_render_mail(&s.mail, &s.carry, NULL, &without, &note, &err) < 0)
		fail_msg("%s", err.msg);
	assert_null(note);
	pd_buf_append_char(&with, '\0');
	pd_buf_append_char(&without, '\0');
	assert_non_null(strstr(with.data, "Content-Type: text/html"));
	assert_non_null(strstr(with.data, "report.pdf"));
	assert_non_null(strstr(with.data, "<b>wrong</b>"));
	assert_null(strstr(with.data, "<script"));
	assert_null(strstr(with.data, "\x01"));
	assert_null(strstr(without.data, "text/html"));
	assert_null(strstr(without.data, "report.pdf"));
	/* the headers are the same either way */
	size_t head = (size_t)(strstr(without.data, "MIME-Version:") - without.data);
	assert_memory_equal(with.data, without.data, head);
	pd_buf_free(&with);
	pd_buf_free(&without);
	pd_outspec_free(&s);
	free(json);
	pd_msg_free(msg);
}

/* What pd_outspec_parse refuses, and says. */
static void test_spec_refused(void **state)
{
	(void)state;
	static const struct {
		const char *json, *says;
	} cases[] = {
	    {"", "not JSON"},
	    {"{\"kind\": ", "not JSON"},
	    {"[1, 2]", "not a JSON object"},
	    {"{\"kind\": \"ack\"}", "no \"subject\""},
	    {"{\"kind\": 7}", "\"kind\" is not a string"},
	    {"{\"kind\": \"ack\", \"subject\": \"s\", \"message_id\": \"m@x\", \"body\": \"b\"}",
	     "no \"date\""},
	    {"{\"kind\": \"ack\", \"subject\": \"s\", \"message_id\": \"m@x\", \"body\": \"b\","
	     " \"date\": 1, \"from\": {\"address\": \"s@x\"}, \"to\": \"a@x\"}",
	     "\"to\" is not a list"},
	    {"{\"kind\": \"ack\", \"subject\": \"s\", \"message_id\": \"m@x\", \"body\": \"b\","
	     " \"date\": 1, \"from\": {\"address\": \"s@x\"}, \"to\": []}",
	     "\"to\" is empty"},
	    {"{\"kind\": \"ack\", \"subject\": \"s\", \"message_id\": \"m@x\", \"body\": \"b\","
	     " \"date\": 1, \"from\": \"s@x\", \"to\": [{\"address\": \"a@x\"}]}",
	     "\"from\" is not an address"},
	    {"{\"kind\": \"ack\", \"subject\": \"s\", \"message_id\": \"m@x\", \"body\": \"b\","
	     " \"date\": 1, \"from\": {\"address\": \"s@x\"}, \"to\": [{\"address\": \"a@x\"}],"
	     " \"carry\": {\"message\": 0, \"parts\": true}}",
	     "names no stored message"},
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		struct pd_outspec s;
		struct pd_err err;

		pd_err_clear(&err);
		if (pd_outspec_parse(cases[i].json, &s, &err) == 0)
			fail_msg("case %zu accepted: %s", i, cases[i].json);
		if (err.cls != PD_ERR_PERM || strstr(err.msg, cases[i].says) == NULL)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, err.msg, cases[i].says);
		pd_outspec_free(&s);
	}
}

/* Rows whose spec cannot be rendered fail for good at once, before any SMTP
 * (the server is down: a sendable row would be retried), each with an error
 * naming the row and what is wrong; a ticket's gets the mail.failed event. */
static void test_spec_unrenderable(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_smtp *s = dead_smtp(&c);
	struct pd_db *db = pd_pgtest_connect(0);
	struct pd_outbox_stats st = {0, 0, 0};
	struct pd_err err;

	pd_pgtest_exec(db, "TRUNCATE outbox, events");
	pd_pgtest_exec(db,
		       "INSERT INTO outbox (kind, message_id, mail_from, rcpt_to, render) VALUES"
		       " ('ack', 'bad-1@test.example', 'support@example.com',"
		       "  '{alice@customer.example}', '{\"kind\": \"ack\"}'),"
		       " ('ack', 'bad-2@test.example', 'support@example.com',"
		       "  '{alice@customer.example}', '[\"not\", \"an object\"]'),"
		       " ('notice', 'bad-3@test.example', 'support@example.com',"
		       "  '{team@example.com}', '{\"kind\": \"notice\", \"subject\": \"s\","
		       "   \"message_id\": \"bad-3@test.example\", \"body\": \"b\", \"date\": 1,"
		       "   \"from\": {\"name\": \"\", \"address\": \"support@example.com\"},"
		       "   \"to\": [{\"name\": \"\", \"address\": \"team@example.com\"}],"
		       "   \"carry\": {\"message\": 987654321, \"html\": null, \"parts\": true}}'),"
		       " ('ack', 'bad-4@test.example', 'support@example.com',"
		       "  '{alice@customer.example}', NULL),"
		       /* its text left to an outbound message that is not there */
		       " ('ack', 'bad-5@test.example', 'support@example.com',"
		       "  '{alice@customer.example}', '{\"kind\": \"ack\", \"subject\": \"s\","
		       "   \"message_id\": \"bad-5@test.example\", \"date\": 1,"
		       "   \"from\": {\"name\": \"\", \"address\": \"support@example.com\"},"
		       "   \"to\": [{\"name\": \"\", \"address\": \"alice@customer.example\"}]}')");
	assert_int_equal(pd_outbox_flush(db, s, 10, &st, &err), 0);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.retried, 0);
	assert_int_equal(st.failed, 5);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM outbox WHERE status = 'failed'"
					     " AND attempts = 1"),
			 5);
	static const struct {
		const char *message_id, *says;
	} want[] = {
	    {"bad-1@test.example", "cannot be rendered: the render spec has no \"subject\""},
	    {"bad-2@test.example", "cannot be rendered: the render spec is not a JSON object"},
	    {"bad-3@test.example",
	     "cannot be rendered: the customer's mail it carries (message 987654321) is no longer "
	     "stored"},
	    {"bad-4@test.example", "has no message or no recipient"},
	    {"bad-5@test.example",
	     "cannot be rendered: its text is kept as the ticket's outbound message "
	     "bad-5@test.example, which is not stored"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(want); i++) {
		char *sql = pd_xasprintf("SELECT 'outbox row ' || id || ' ' || last_error FROM outbox"
					 " WHERE message_id = '%s'",
					 want[i].message_id);
		char *got = pd_pgtest_value(db, sql);
		/* "outbox row N <error>", the error itself starting "outbox row N " */
		char *n = pd_xstrndup(got + strlen("outbox row "),
				      strcspn(got + strlen("outbox row "), " "));
		char *prefix = pd_xasprintf("outbox row %s outbox row %s ", n, n);
		if (strncmp(got, prefix, strlen(prefix)) != 0 || strstr(got, want[i].says) == NULL)
			fail_msg("%s: \"%s\", want the row named and \"%s\"", want[i].message_id,
				 got, want[i].says);
		free(prefix);
		free(n);
		free(got);
		free(sql);
	}
	pd_db_close(db);
	free_smtp(s, &c);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_backoff_table),
	    cmocka_unit_test(test_backoff_bounds),
	    cmocka_unit_test(test_spec_round_trip),
	    cmocka_unit_test(test_spec_carry),
	    cmocka_unit_test(test_spec_refused),
	};
	const struct CMUnitTest db[] = {
	    cmocka_unit_test(test_two_claimers),
	    cmocka_unit_test(test_lease_expired),
	    cmocka_unit_test(test_session_gone),
	    cmocka_unit_test(test_not_due),
	    cmocka_unit_test(test_retry_then_failed),
	    cmocka_unit_test(test_spec_unrenderable),
	};
	int r;

	pd_log_init("test_outbox", getenv("PD_TEST_DEBUG") ? PD_LOG_DEBUG : PD_LOG_WARNING);
	r = cmocka_run_group_tests_name("outbox backoff", pure, NULL, NULL);
	if (pd_pgtest_start() == NULL) {
		printf("# PostgreSQL is not installed: the claim cases are skipped\n");
		return r != 0 ? r : 77;
	}
	return r + cmocka_run_group_tests_name("outbox claim (PostgreSQL)", db, NULL, NULL);
}
