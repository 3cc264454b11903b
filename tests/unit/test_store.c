/*
 * test_store.c - the ingest transaction (pd_store_batch) against a real
 * PostgreSQL (tests/unit/pgtest.sh), through its public API and the rows it
 * leaves: a batch of parsed mails becomes tickets and messages, a reply joins
 * its ticket, a mail twice in a batch (or again later) is stored once, a mail
 * that does not parse or whose parsed form the database refuses is kept raw
 * on a flagged ticket, a mail that cannot be stored at all is left for the
 * next run, and the mailbox checkpoint moves only to UIDs that were stored.
 * Exit 77 (SKIP) when PostgreSQL is not installed.
 */
#include "autoconfig.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "confload.h"
#include "classify.h"
#include "db.h"
#include "db_int.h"
#include "log.h"
#include "mime.h"
#include "msg.h"
#include "pgtest.h"
#include "store.h"
#include "storeset.h"
#include "util.h"

static struct pd_config *cfg;
static char cfg_path[] = "/tmp/pd-test-store.XXXXXX";

#define MAILBOX "support"
#define UIDVALIDITY 777u

static struct pd_config *load_cfg(void)
{
	struct pd_config *c = NULL;
	struct pd_config_errors e = {0, NULL};
	int fd = mkstemp(cfg_path);
	static const char text[] = "support_address = \"support@example.com\"\n"
				   "database { conninfo = \"dbname=postdesk\" }\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	if (pd_config_load(cfg_path, &c, &e) != 0) {
		for (size_t i = 0; i < e.n; i++)
			print_message("  %s\n", e.v[i]);
		fail_msg("the test configuration does not load");
	}
	unlink(cfg_path);
	return c;
}

/* A mail: From, Subject, Message-ID (without <>), optional References, body. */
static char *mail(const char *from, const char *subject, const char *msgid, const char *refs,
		  const char *body)
{
	return pd_xasprintf("From: %s\r\nTo: support@example.com\r\nSubject: %s\r\n"
			    "Message-ID: <%s>\r\n%s%s%sDate: Tue, 06 Jan 2026 09:00:00 +0100\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
			    from, subject, msgid, refs ? "References: <" : "", refs ? refs : "",
			    refs ? ">\r\n" : "", body);
}

struct batch {
	size_t n;
	char *raw[8];
	struct pd_ingest_item it[8];
};

static void add(struct batch *b, uint32_t uid, char *raw)
{
	struct pd_mime_opts o = {0, 0, 0};

	b->raw[b->n] = raw;
	memset(&b->it[b->n], 0, sizeof(b->it[b->n]));
	b->it[b->n].uid = uid;
	b->it[b->n].msg = pd_mime_parse(raw, strlen(raw), &o);
	b->n++;
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		pd_msg_free(b->it[i].msg);
		free(b->raw[i]);
	}
	b->n = 0;
}

static int store(struct pd_db *db, struct batch *b, struct pd_err *err)
{
	struct pd_store_ctx ctx = {cfg, MAILBOX, "default", UIDVALIDITY, NULL};

	return pd_store_batch(db, &ctx, b->it, b->n, err);
}

static uint32_t checkpoint(struct pd_db *db)
{
	uint32_t v = 0, last = 0;
	struct pd_err err;

	assert_int_equal(pd_store_get_mailbox(db, MAILBOX, &v, &last, &err), 1);
	assert_int_equal(v, UIDVALIDITY);
	return last;
}

/* An empty database whose mailbox has its UIDVALIDITY recorded. */
static struct pd_db *fresh(void)
{
	struct pd_db *db = pd_pgtest_connect(0);
	struct pd_err err;

	pd_pgtest_exec(db, "TRUNCATE tickets, messages, message_raw, events, outbox, "
			   "mailbox_state, participants, attachments, blobs CASCADE");
	assert_int_equal(pd_store_set_uidvalidity(db, MAILBOX, UIDVALIDITY, &err), 0);
	assert_int_equal(checkpoint(db), 0);
	return db;
}

static void test_batch_tickets(void **state)
{
	(void)state;
	struct pd_db *db = fresh();
	struct batch b = {0};
	struct pd_err err;

	add(&b, 3, mail("Alice <alice@customer.example>", "Printer on fire", "a1@customer.example",
			NULL, "The printer is on fire."));
	add(&b, 5, mail("Bob <bob@other.example>", "Invoice 2291", "b1@other.example", NULL,
			"The invoice is wrong."));
	add(&b, 6, mail("Alice <alice@customer.example>", "Re: Printer on fire",
			"a2@customer.example", "a1@customer.example", "Still burning."));
	assert_int_equal(store(db, &b, &err), 0);
	assert_int_equal(b.it[0].action, PD_INGEST_NEW_TICKET);
	assert_int_equal(b.it[1].action, PD_INGEST_NEW_TICKET);
	assert_int_equal(b.it[2].action, PD_INGEST_APPENDED);
	assert_true(b.it[0].ticket > 0 && b.it[1].ticket > 0);
	assert_true(b.it[0].ticket != b.it[1].ticket);
	assert_int_equal(b.it[2].ticket, b.it[0].ticket);
	for (size_t i = 0; i < b.n; i++)
		assert_int_equal(b.it[i].flagged, 0);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM tickets"), 2);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM messages WHERE direction = 'in'"
					     " AND mailbox = 'support' AND uidvalidity = 777"),
			 3);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM message_raw"), 3);
	char *t = pd_pgtest_value(db, "SELECT string_agg(subject || '/' || requester_address || '/'"
				      " || flagged, ',' ORDER BY id) FROM tickets");
	assert_string_equal(t, "Printer on fire/alice@customer.example/false,"
			       "Invoice 2291/bob@other.example/false");
	free(t);
	t = pd_pgtest_value(db, "SELECT string_agg(uid::text || ':' || message_id, ',' ORDER BY uid)"
				" FROM messages");
	assert_string_equal(t, "3:a1@customer.example,5:b1@other.example,6:a2@customer.example");
	free(t);
	assert_int_equal(checkpoint(db), 6);
	batch_free(&b);
	pd_db_close(db);
}

static void test_duplicates(void **state)
{
	(void)state;
	struct pd_db *db = fresh();
	struct batch b = {0};
	struct pd_err err;
	char *m = mail("Carol <carol@customer.example>", "Twice", "twice@customer.example", NULL,
		       "Delivered twice.");

	/* the same mail twice in one batch (two copies in the folder) */
	add(&b, 10, pd_xstrdup(m));
	add(&b, 11, pd_xstrdup(m));
	assert_int_equal(store(db, &b, &err), 0);
	assert_int_equal(b.it[0].action, PD_INGEST_NEW_TICKET);
	assert_int_equal(b.it[1].action, PD_INGEST_DUPLICATE);
	assert_int_equal(b.it[1].ticket, b.it[0].ticket);
	assert_int_equal(checkpoint(db), 11);
	batch_free(&b);
	/* and once more in a later batch (fetched again after a crash) */
	add(&b, 12, m);
	assert_int_equal(store(db, &b, &err), 0);
	assert_int_equal(b.it[0].action, PD_INGEST_DUPLICATE);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM messages"), 1);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM tickets"), 1);
	assert_int_equal(checkpoint(db), 12);
	batch_free(&b);
	pd_db_close(db);
}

/* Another process commits after a pause what it holds open. */
static void *commit_later(void *arg)
{
	usleep(300 * 1000);
	pd_pgtest_exec(arg, "COMMIT");
	return NULL;
}

/* Another process (another instance on the same mail, in another mailbox)
 * stores a mail of the batch while the batch is being written: the batch's
 * insert of that message waits for the other's transaction and then fails
 * on the dedupe index; the batch goes the per-mail way, where the mail is a
 * duplicate of the other's and the rest is stored as usual.  (When the other
 * commits before the batch gets there, the facts say duplicate at once: the
 * outcome is the same.) */
static void test_stored_meanwhile(void **state)
{
	(void)state;
	struct pd_db *db = fresh(), *other = pd_pgtest_connect(0);
	struct batch b = {0};
	struct pd_err err;
	pthread_t th;
	char hex[2 * 32 + 1];

	add(&b, 30, mail("Gil <gil@customer.example>", "Alone", "alone@customer.example", NULL,
			 "Nobody else has this one."));
	add(&b, 31, mail("Hal <hal@customer.example>", "Both", "both@customer.example", NULL,
			 "Two instances have this one."));
	for (size_t i = 0; i < sizeof(b.it[1].msg->content_hash); i++)
		snprintf(hex + 2 * i, 3, "%02x", b.it[1].msg->content_hash[i]);
	pd_pgtest_exec(other, "BEGIN");
	char *sql = pd_xasprintf(
	    "WITH t AS (INSERT INTO tickets (subject, requester_address)"
	    "           VALUES ('Both, by the other', 'hal@customer.example') RETURNING id)"
	    "INSERT INTO messages (ticket_id, direction, kind, message_id, content_hash)"
	    " SELECT id, 'in', 'customer', 'both@customer.example', '\\x%s'::bytea FROM t",
	    hex);
	pd_pgtest_exec(other, sql);
	free(sql);
	assert_int_equal(pthread_create(&th, NULL, commit_later, other), 0);
	assert_int_equal(store(db, &b, &err), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(b.it[0].action, PD_INGEST_NEW_TICKET);
	assert_int_equal(b.it[1].action, PD_INGEST_DUPLICATE);
	assert_int_equal(b.it[1].ticket, pd_pgtest_count(db, "SELECT id FROM tickets WHERE"
							     " subject = 'Both, by the other'"));
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM messages"
					     " WHERE message_id = 'both@customer.example'"),
			 1);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM messages"
					     " WHERE message_id = 'alone@customer.example'"),
			 1);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM tickets"), 2);
	assert_int_equal(checkpoint(db), 31);
	batch_free(&b);
	pd_db_close(other);
	pd_db_close(db);
}

/* Mail that does not parse, and mail whose parsed form PostgreSQL refuses
 * (a subject that is not UTF-8): both stored raw, byte for byte, on tickets
 * flagged for a human; the mail beside them is stored as usual. */
static void test_kept_raw(void **state)
{
	(void)state;
	struct pd_db *db = fresh();
	struct batch b = {0};
	struct pd_err err;

	add(&b, 20, mail("Dave <dave@customer.example>", "Fine", "fine@customer.example", NULL,
			 "An ordinary mail."));
	add(&b, 21, mail("Erin <erin@customer.example>", "Odd subject", "odd@customer.example",
			 NULL, "A mail whose parsed subject the database refuses."));
	free(b.it[1].msg->subject);
	b.it[1].msg->subject = pd_xstrdup("bad \xff\xfe bytes");
	add(&b, 22, pd_xstrdup("\x01\x02 this is not a mail at all \xff\r\n"));
	assert_int_equal(store(db, &b, &err), 0);
	assert_int_equal(b.it[0].action, PD_INGEST_NEW_TICKET);
	assert_int_equal(b.it[0].flagged, 0);
	for (size_t i = 1; i < 3; i++) {
		assert_true(b.it[i].action == PD_INGEST_NEW_TICKET);
		assert_int_equal(b.it[i].flagged, 1);
	}
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM tickets WHERE flagged"), 2);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM tickets t WHERE flagged AND"
					     " flag_reason IS NOT NULL AND flag_reason <> ''"),
			 2);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM messages"
					     " WHERE parse_error IS NOT NULL"),
			 2);
	/* the originals come back unchanged */
	char *want = pd_xasprintf("%zu/%zu", strlen(b.raw[1]), strlen(b.raw[2]));
	char *got = pd_pgtest_value(db, "SELECT string_agg(length(r.raw)::text, '/' ORDER BY m.uid)"
					" FROM messages m JOIN message_raw r ON r.message_id = m.id"
					" WHERE m.uid IN (21, 22)");
	assert_string_equal(got, want);
	free(got);
	free(want);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM messages m JOIN message_raw r"
					     " ON r.message_id = m.id WHERE m.uid = 22 AND r.raw ="
					     " '\\x0102'::bytea || convert_to(' this is not a mail at all ',"
					     " 'UTF8') || '\\xff0d0a'::bytea"),
			 1);
	assert_int_equal(checkpoint(db), 22);
	batch_free(&b);
	pd_db_close(db);
}

/* A mail that cannot be stored even raw (its Message-ID is not UTF-8) is
 * left on the server: FAILED, the others commit, and the checkpoint stays at
 * the highest UID that was stored. */
static void test_checkpoint_stored_only(void **state)
{
	(void)state;
	struct pd_db *db = fresh();
	struct batch b = {0};
	struct pd_err err;

	add(&b, 30, mail("Fay <fay@customer.example>", "First", "first@customer.example", NULL,
			 "Stored."));
	add(&b, 31, mail("Gus <gus@customer.example>", "Second", "second@customer.example", NULL,
			 "Not storable."));
	free(b.it[1].msg->message_id);
	b.it[1].msg->message_id = pd_xstrdup("bad-\xff-id@customer.example");
	assert_int_equal(store(db, &b, &err), 0);
	assert_int_equal(b.it[0].action, PD_INGEST_NEW_TICKET);
	assert_int_equal(b.it[1].action, PD_INGEST_FAILED);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM messages"), 1);
	assert_int_equal(checkpoint(db), 30);
	batch_free(&b);
	pd_db_close(db);
}

/* The whole transaction fails (a statement runs past statement_timeout
 * while another session locks the tickets): nothing is stored, every mail is
 * FAILED, the checkpoint does not move; the next try stores them. */
static void test_batch_fails(void **state)
{
	(void)state;
	struct pd_db *db = fresh(), *locker = pd_pgtest_connect(0);
	struct pd_db *slow = pd_pgtest_connect(1); /* statement_timeout 1 s */
	struct batch b = {0};
	struct pd_err err;

	add(&b, 40, mail("Hal <hal@customer.example>", "Locked out", "l1@customer.example", NULL,
			 "One."));
	add(&b, 41, mail("Ida <ida@customer.example>", "Locked out too", "l2@customer.example",
			 NULL, "Two."));
	assert_int_equal(pd_db_begin(locker, &err), 0);
	pd_pgtest_exec(locker, "LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE");
	assert_int_equal(store(slow, &b, &err), -1);
	assert_int_equal(err.cls, PD_ERR_TEMP);
	assert_int_equal(err.code, PD_DB_TIMEOUT);
	for (size_t i = 0; i < b.n; i++)
		assert_int_equal(b.it[i].action, PD_INGEST_FAILED);
	pd_db_rollback(locker);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM messages"), 0);
	assert_int_equal(checkpoint(db), 0);
	/* the lock is gone: the same batch goes through */
	assert_int_equal(store(slow, &b, &err), 0);
	assert_int_equal(b.it[0].action, PD_INGEST_NEW_TICKET);
	assert_int_equal(b.it[1].action, PD_INGEST_NEW_TICKET);
	assert_int_equal(checkpoint(db), 41);
	batch_free(&b);
	pd_db_close(slow);
	pd_db_close(locker);
	pd_db_close(db);
}

/* Getters over reasons for pd_db_text_array. */
#define REASON_GET(f)                                                                 \
	static const char *reason_##f(const void *ctx, size_t i)                      \
	{                                                                             \
		const char *v = ((const struct pd_reason *)ctx)[i].f;                 \
		return v != NULL ? v : "";                                            \
	}
REASON_GET(what)
REASON_GET(source)
REASON_GET(rule)
REASON_GET(matched)
REASON_GET(field)
REASON_GET(value)
static const char *reason_decided(const void *ctx, size_t i)
{
	return ((const struct pd_reason *)ctx)[i].decided ? "t" : "f";
}

/*
 * The ticket.classified detail built in C is, as jsonb, the very value the
 * statements built in SQL before: reasons in order, null and empty fields,
 * quotes, backslashes, control characters and non-ASCII text, a plan and
 * none, no reason at all.
 */
static void test_classified_json(void **state)
{
	(void)state;
	static struct pd_reason r1[] = {
	    {(char *)"priority", (char *)"keyword", (char *)"urgent-ru", (char *)"не работает",
	     (char *)"subject", (char *)"high", 1},
	    {(char *)"type", (char *)"default", (char *)"", NULL, NULL, (char *)"question", 1},
	    {(char *)"queue", (char *)"header", (char *)"X-Queue", (char *)"a \"b\" \\ c\td",
	     (char *)"X-Queue", (char *)"billing", 0},
	    {(char *)"queue", (char *)"sender", (char *)"vip", (char *)"ceo@x.example\x01",
	     (char *)"from", (char *)"vip/直通", 1},
	};
	static const struct {
		struct pd_classification c;
		const char *plan;
	} cases[] = {
	    {{PD_PRIO_HIGH, PD_TYPE_INCIDENT, (char *)"billing", 2, 4, r1}, "gold"},
	    {{PD_PRIO_NORMAL, PD_TYPE_QUESTION, (char *)"default", 1, 1, r1 + 1}, NULL},
	    {{PD_PRIO_LOW, PD_TYPE_REFUND, (char *)"очередь", 99, 0, NULL}, ""},
	};
	struct pd_db *db = pd_pgtest_connect(0);

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		const struct pd_classification *c = &cases[i].c;
		char line[16];
		snprintf(line, sizeof(line), "%d", c->line);
		char *json = pd_store_classified_json(c, cases[i].plan);
		char *arr[7] = {
		    pd_db_text_array(c->n_reasons, reason_what, c->reasons),
		    pd_db_text_array(c->n_reasons, reason_source, c->reasons),
		    pd_db_text_array(c->n_reasons, reason_rule, c->reasons),
		    pd_db_text_array(c->n_reasons, reason_matched, c->reasons),
		    pd_db_text_array(c->n_reasons, reason_field, c->reasons),
		    pd_db_text_array(c->n_reasons, reason_value, c->reasons),
		    pd_db_text_array(c->n_reasons, reason_decided, c->reasons),
		};
		const char *v[13] = {json, pd_priority_name(c->priority), pd_type_name(c->type),
				     c->queue, line, cases[i].plan ? cases[i].plan : "",
				     arr[0], arr[1], arr[2], arr[3], arr[4], arr[5], arr[6]};
		struct pd_err err;
		PGresult *res = pd_db_query(
		    db, NULL,
		    "SELECT $1::jsonb = jsonb_build_object('priority', $2::text, 'type', $3::text,"
		    "  'queue', $4::text, 'line', $5::int, 'plan', nullif($6::text, ''),"
		    "  'reasons', (SELECT coalesce(jsonb_agg(jsonb_build_object('what', w,"
		    "      'source', s, 'rule', r, 'matched', m, 'field', f, 'value', x,"
		    "      'decided', d) ORDER BY i), '[]')"
		    "    FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[],"
		    "                $12::text[], $13::boolean[]) WITH ORDINALITY"
		    "      AS u(w, s, r, m, f, x, d, i))), $1::jsonb::text",
		    13, v, &err);
		if (res == NULL)
			fail_msg("case %zu: %s", i, err.msg);
		if (PQgetvalue(res, 0, 0)[0] != 't')
			fail_msg("case %zu: %s differs", i, PQgetvalue(res, 0, 1));
		PQclear(res);
		free(json);
		for (int k = 0; k < 7; k++)
			free(arr[k]);
	}
	pd_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_tickets),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_stored_meanwhile),
	    cmocka_unit_test(test_kept_raw),
	    cmocka_unit_test(test_checkpoint_stored_only),
	    cmocka_unit_test(test_batch_fails),
	    cmocka_unit_test(test_classified_json),
	};
	int r;

	pd_log_init("test_store", getenv("PD_TEST_DEBUG") ? PD_LOG_DEBUG : PD_LOG_ERR);
	if (pd_pgtest_start() == NULL) {
		printf("# PostgreSQL is not installed: test_store skipped\n");
		return 77;
	}
	cfg = load_cfg();
	r = cmocka_run_group_tests_name("store batch (PostgreSQL)", tests, NULL, NULL);
	pd_config_free(cfg);
	return r;
}
