/*
 * test_slascan.c - the SLA scan's due selection (pd_slascan_run) against a
 * real PostgreSQL (tests/unit/pgtest.sh): a ticket whose warning or due time
 * has passed is picked and its notice recorded once; tickets not yet due,
 * paused (pending), closed or without a service level are not; a notice
 * already recorded is not picked a second time.  Exit 77 (SKIP) when
 * PostgreSQL is not installed.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "confload.h"
#include "db.h"
#include "log.h"
#include "mime.h"
#include "msg.h"
#include "pgtest.h"
#include "slascan.h"
#include "store.h"
#include "util.h"

static struct pd_config *cfg;

static struct pd_config *load_cfg(void)
{
	char path[] = "/tmp/pd-test-slascan.XXXXXX";
	struct pd_config *c = NULL;
	struct pd_config_errors e = {0, NULL};
	int fd = mkstemp(path);
	/* 24x7: every second counts; a warning at half the time */
	static const char text[] = "support_address = \"support@example.com\"\n"
				   "database { conninfo = \"dbname=postdesk\" }\n"
				   "sla \"normal\" { first_response = \"1h\" resolution = \"10h\"\n"
				   "  calendar = \"24x7\" warn_at = 50 }\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	if (pd_config_load(path, &c, &e) != 0) {
		for (size_t i = 0; i < e.n; i++)
			print_message("  %s\n", e.v[i]);
		fail_msg("the test configuration does not load");
	}
	unlink(path);
	return c;
}

/* n new tickets (one mail each, normal priority) opened now; their numbers
 * in ids[]. */
static void open_tickets(struct pd_db *db, int n, int64_t *ids)
{
	struct pd_store_ctx ctx = {cfg, "support", "default", 1, NULL};
	struct pd_ingest_item it[8];
	char *raw[8];
	struct pd_mime_opts o = {0, 0, 0};
	struct pd_err err;

	assert_true(n <= 8);
	memset(it, 0, sizeof(it));
	for (int i = 0; i < n; i++) {
		raw[i] = pd_xasprintf("From: Customer %d <c%d@customer.example>\r\n"
				      "To: support@example.com\r\nSubject: Question %d\r\n"
				      "Message-ID: <sla-%d-%ld@customer.example>\r\n\r\n"
				      "How do I change my plan?\r\n",
				      i, i, i, i, (long)time(NULL));
		it[i].uid = (uint32_t)(100 + i);
		it[i].msg = pd_mime_parse(raw[i], strlen(raw[i]), &o);
	}
	if (pd_store_set_uidvalidity(db, "support", 1, &err) != 0 ||
	    pd_store_batch(db, &ctx, it, (size_t)n, &err) != 0)
		fail_msg("store: %s", err.msg);
	for (int i = 0; i < n; i++) {
		assert_int_equal(it[i].action, PD_INGEST_NEW_TICKET);
		ids[i] = it[i].ticket;
		pd_msg_free(it[i].msg);
		free(raw[i]);
	}
}

static void set(struct pd_db *db, int64_t ticket, const char *field, const char *value)
{
	struct pd_err err;

	if (pd_store_set_field(db, cfg, ticket, field, value, "test", &err) != 1)
		fail_msg("set %s of #%lld to %s: %s", field, (long long)ticket, value, err.msg);
}

/* One scan at t; returns its counts. */
static struct pd_slascan_stats scan(struct pd_db *db, time_t t)
{
	struct pd_slascan_stats st = {0, 0, 0, 0};
	struct pd_err err;

	if (pd_slascan_run(db, cfg, t, 50, &st, &err) != 0)
		fail_msg("scan: %s", err.msg);
	return st;
}

/* The notices recorded, as "TICKET:clock:kind" in order. */
static char *notices(struct pd_db *db, const int64_t *ids, int n)
{
	struct pd_buf b;
	char *q, *v;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "SELECT coalesce(string_agg(CASE ticket_id");
	for (int i = 0; i < n; i++)
		pd_buf_printf(&b, " WHEN %lld THEN '%c'", (long long)ids[i], 'A' + i);
	pd_buf_append_str(&b, " END || ':' || clock || ':' || kind, ',' ORDER BY ticket_id, id),"
			      " '') FROM sla_notices");
	q = pd_buf_steal(&b, NULL);
	v = pd_pgtest_value(db, q);
	free(q);
	return v;
}

static void test_due_selection(void **state)
{
	(void)state;
	struct pd_db *db = pd_pgtest_connect(0);
	int64_t id[5];
	struct pd_slascan_stats st;
	char *got;

	pd_pgtest_exec(db, "TRUNCATE tickets, messages, message_raw, events, outbox, sla_notices,"
			   " mailbox_state CASCADE");
	time_t t0 = time(NULL);
	/* A stays open, B waits for the customer (paused), C is closed, D has
	 * no service level (low has no sla section), E got its first answer */
	open_tickets(db, 5, id);
	set(db, id[1], "status", "pending");
	set(db, id[2], "status", "closed");
	set(db, id[3], "priority", "low");
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM tickets"
					     " WHERE next_sla_at IS NOT NULL"),
			 2);
	pd_pgtest_exec(db, "UPDATE tickets SET first_response_at = now()"
			   " WHERE id = (SELECT max(id) FROM tickets)");
	assert_int_equal(id[4], pd_pgtest_count(db, "SELECT max(id) FROM tickets"));
	{
		struct pd_err err;
		assert_int_equal(pd_slascan_sync(db, cfg, id[4], time(NULL), &err), 0);
	}

	/* 10 minutes in: nothing is due */
	st = scan(db, t0 + 600);
	assert_int_equal(st.warnings + st.breaches + st.escalations, 0);
	got = notices(db, id, 5);
	assert_string_equal(got, "");
	free(got);

	/* 35 minutes: past half of the first-response hour: A's warning only */
	st = scan(db, t0 + 35 * 60);
	assert_int_equal(st.warnings, 1);
	assert_int_equal(st.breaches, 0);
	got = notices(db, id, 5);
	assert_string_equal(got, "A:first_response:warning");
	free(got);
	/* a scan a minute later finds the warning already recorded */
	st = scan(db, t0 + 36 * 60);
	assert_int_equal(st.warnings + st.breaches, 0);

	/* past the hour: A's breach, once */
	st = scan(db, t0 + 61 * 60 + 5);
	assert_int_equal(st.breaches, 1);
	assert_int_equal(st.warnings, 0);
	st = scan(db, t0 + 62 * 60);
	assert_int_equal(st.warnings + st.breaches, 0);

	/* past half of the resolution time (5 h): A and E (answered, still open)
	 * get the resolution warning; never B, C or D */
	st = scan(db, t0 + 5 * 3600 + 60);
	assert_int_equal(st.warnings, 2);
	got = notices(db, id, 5);
	assert_string_equal(got, "A:first_response:warning,A:first_response:breach,"
				 "A:resolution:warning,E:resolution:warning");
	free(got);
	st = scan(db, t0 + 5 * 3600 + 120);
	assert_int_equal(st.warnings + st.breaches, 0);

	/* B resumes: its clock runs again from where it stopped (a few seconds
	 * used), so it is not due yet at once */
	set(db, id[1], "status", "open");
	st = scan(db, time(NULL) + 60);
	assert_int_equal(st.warnings + st.breaches, 0);
	pd_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_due_selection),
	};
	int r;

	pd_log_init("test_slascan", getenv("PD_TEST_DEBUG") ? PD_LOG_DEBUG : PD_LOG_WARNING);
	if (pd_pgtest_start() == NULL) {
		printf("# PostgreSQL is not installed: test_slascan skipped\n");
		return 77;
	}
	cfg = load_cfg();
	r = cmocka_run_group_tests_name("SLA scan due selection (PostgreSQL)", tests, NULL, NULL);
	pd_config_free(cfg);
	return r;
}
