/*
 * test_kbdb.c - knowledge-base articles in PostgreSQL (kbdb.c): what the
 * ranking needs of an article alone (its keywords' phrase queries, its title
 * words that are in no keyword) is kept with the article, and stays right
 * when a re-import changes the keywords or the title: the suggestions follow
 * the new text, and no longer the old one; and a batch's suggestions asked
 * at once are those asked one by one, recorded alike.
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

#include "db.h"
#include "db_int.h"
#include "kb.h"
#include "kbdb.h"
#include "log.h"
#include "outbox.h"
#include "pgtest.h"
#include "util.h"

/*
 * Articles whose stored columns differ from those computed now from their
 * text, as the ranking computed them per mail before they were kept.
 */
static const char STALE[] =
    "SELECT count(*) FROM kb_articles a,"
    " LATERAL (SELECT CASE a.language WHEN 'ru' THEN 'pg_catalog.russian'::regconfig"
    "                 ELSE 'pg_catalog.english'::regconfig END AS cfg) c"
    " WHERE a.keyword_queries IS DISTINCT FROM ARRAY("
    "         SELECT kq FROM unnest(a.keywords) WITH ORDINALITY k (kw, n),"
    "                        phraseto_tsquery(c.cfg, k.kw) kq"
    "          WHERE numnode(kq) > 0 ORDER BY k.n)"
    "    OR a.title_lexemes IS DISTINCT FROM ARRAY("
    "         SELECT l FROM unnest(tsvector_to_array(to_tsvector(c.cfg, a.title))) l"
    "          WHERE l <> ALL (tsvector_to_array(to_tsvector(c.cfg,"
    "                            array_to_string(a.keywords, ' '))))"
    "          ORDER BY l)";

/* One article; kw is a NULL-terminated list. */
static void article(struct pd_kb_article *a, const char *slug, const char *lang,
		    const char *title, const char *const *kw, const char *body)
{
	memset(a, 0, sizeof(*a));
	a->slug = pd_xstrdup(slug);
	a->file = pd_xstrdup(slug);
	a->language = pd_xstrdup(lang);
	a->title = pd_xstrdup(title);
	while (kw[a->n_keywords] != NULL)
		a->n_keywords++;
	a->keywords = pd_xcalloc(a->n_keywords + 1, sizeof(char *));
	for (size_t i = 0; i < a->n_keywords; i++)
		a->keywords[i] = pd_xstrdup(kw[i]);
	a->body = pd_xstrdup(body);
}

/*
 * The shelf of articles, version 1 (widgets) or 2 (the same file rewritten:
 * gizmo control panels), with an article that does not change beside it.
 */
static void shelf(struct pd_kb_set *set, int version)
{
	static const char *const kw1[] = {"widget", "dashboard", "widget settings", NULL};
	static const char *const kw2[] = {"gizmo", "control panel", NULL};
	static const char *const kw_ru[] = {"пароль", "забыл пароль", NULL};

	set->n = 2;
	set->v = pd_xcalloc(2, sizeof(*set->v));
	if (version == 1)
		article(&set->v[0], "en/tool", "en", "Configuring widgets on the dashboard", kw1,
			"Open the settings and choose what the tool shows.");
	else
		article(&set->v[0], "en/tool", "en", "Repairing a frozen gizmo control panel",
			kw2, "Open the settings and choose what the tool shows.");
	article(&set->v[1], "ru/parol", "ru", "Как восстановить забытый пароль", kw_ru,
		"Нажмите «Забыли пароль?» на странице входа.");
}

static void import(struct pd_db *db, int version, const char *want)
{
	struct pd_kb_set set;
	struct pd_kb_counts counts;
	struct pd_err err;
	char got[128];

	shelf(&set, version);
	assert_int_equal(pd_kbdb_import(db, &set, &counts, &err), 0);
	snprintf(got, sizeof(got), "%d %d %d %d", counts.added, counts.updated,
		 counts.unchanged, counts.removed);
	assert_string_equal(got, want);
	pd_kb_set_free(&set);
}

/* The slugs a search of subject/body shows as suggested, in order. */
static char *suggested(struct pd_db *db, const char *lang, const char *subject, const char *body)
{
	struct pd_kb_match *v;
	size_t n;
	struct pd_err err;
	struct pd_buf b;

	assert_int_equal(pd_kbdb_search(db, lang, subject, body, 10, &v, &n, &err), 0);
	pd_buf_init(&b);
	pd_buf_append_str(&b, "");
	for (size_t i = 0; i < n; i++)
		if (v[i].position > 0)
			pd_buf_printf(&b, "%s%s", b.len ? " " : "", v[i].slug);
	pd_kbdb_matches_free(v, n);
	return pd_buf_steal(&b, NULL);
}

/* What the acknowledgement of a new ticket suggests (ticket_kb), in order. */
static char *acked(struct pd_db *db, const char *subject, const char *body)
{
	struct pd_err err;
	char *section = NULL, sql[256];
	char *id = pd_pgtest_value(
	    db, "INSERT INTO tickets (requester_address) VALUES ('c@customer.example') RETURNING id");

	assert_int_equal(pd_kbdb_suggest(db, strtoll(id, NULL, 10), "en", subject, body, &section,
					 &err),
			 0);
	free(section);
	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(string_agg(a.slug, ' ' ORDER BY k.position), '')"
		 "  FROM ticket_kb k JOIN kb_articles a ON a.id = k.article_id"
		 " WHERE k.ticket_id = %s",
		 id);
	free(id);
	return pd_pgtest_value(db, sql);
}

static void check(struct pd_db *db, const char *subject, const char *body, const char *want)
{
	char *s = suggested(db, "en", subject, body);
	char *a = acked(db, subject, body);

	assert_string_equal(s, want);
	assert_string_equal(a, want);
	free(s);
	free(a);
}

static void test_reimport_follows_the_text(void **state)
{
	(void)state;
	struct pd_db *db = pd_pgtest_connect(0);

	import(db, 1, "2 0 0 0");
	assert_int_equal(pd_pgtest_count(db, STALE), 0);
	assert_int_equal(pd_pgtest_count(db, "SELECT count(*) FROM kb_articles"
					     " WHERE cardinality(keyword_queries) = 0"
					     "    OR cardinality(title_lexemes) = 0"),
			 0);
	check(db, "Widget settings lost", "The dashboard no longer shows my widget.", "en/tool");
	check(db, "Frozen gizmo", "The gizmo control panel is frozen, repairing it fails.", "");

	/* the same file with other keywords and another title */
	import(db, 2, "0 1 1 0");
	assert_int_equal(pd_pgtest_count(db, STALE), 0);
	char *kq = pd_pgtest_value(
	    db, "SELECT keyword_queries::text || ' ' || title_lexemes::text FROM kb_articles"
		" WHERE slug = 'en/tool'");
	assert_string_equal(kq, "{'gizmo',\"'control' <-> 'panel'\"} {frozen,repair}");
	free(kq);
	check(db, "Frozen gizmo", "The gizmo control panel is frozen, repairing it fails.",
	      "en/tool");
	check(db, "Widget settings lost", "The dashboard no longer shows my widget.", "");

	/* a Russian mail still finds the article that did not change */
	char *ru = suggested(db, "ru", "Забыл пароль", "Я забыл пароль и не могу войти.");
	assert_string_equal(ru, "ru/parol");
	free(ru);

	/* rows written without the columns get them from their own text (0016) */
	pd_pgtest_exec(db, "ALTER TABLE kb_articles DISABLE TRIGGER kb_articles_tsv");
	pd_pgtest_exec(db, "UPDATE kb_articles SET keyword_queries = '{}', title_lexemes = '{}'");
	pd_pgtest_exec(db, "ALTER TABLE kb_articles ENABLE TRIGGER kb_articles_tsv");
	assert_int_equal(pd_pgtest_count(db, STALE), 2);
	pd_pgtest_exec(db, "UPDATE kb_articles SET title = title");
	assert_int_equal(pd_pgtest_count(db, STALE), 0);
	pd_db_close(db);
}

/* ticket_kb and the kb.suggested event of a ticket, as text. */
static char *recorded(struct pd_db *db, const char *id)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "SELECT coalesce((SELECT string_agg(a.slug || ':' || k.rank || ':' || k.position, ' '"
		 "                                   ORDER BY k.position)"
		 "                   FROM ticket_kb k JOIN kb_articles a ON a.id = k.article_id"
		 "                  WHERE k.ticket_id = %s), '-') || ' ' ||"
		 "       coalesce((SELECT string_agg(detail::text, ' ') FROM events"
		 "                  WHERE ticket_id = %s AND kind = 'kb.suggested'), '-')",
		 id, id);
	return pd_pgtest_value(db, sql);
}

static void test_batch_as_one_by_one(void **state)
{
	(void)state;
	struct pd_db *db = pd_pgtest_connect(0);
	static const char *const mails[][3] = {
	    {"en", "Frozen gizmo", "The gizmo control panel is frozen, repairing it fails."},
	    {"en", "Catalogue", "Do you have a printed catalogue?"},
	    {"ru", "Забыл пароль", "Я забыл пароль и не могу войти."},
	    {"en", "Re: Забыл пароль", "Forgot my password, and the gizmo control panel too."},
	};
	enum { N = sizeof(mails) / sizeof(mails[0]) };
	int64_t batch[N];
	const char *langs[N], *subjects[N], *bodies[N];
	char *one[N], *ids[N];
	struct pd_err err;
	char *section;

	import(db, 2, "0 0 2 0");
	for (size_t i = 0; i < N; i++) {
		ids[i] = pd_pgtest_value(db, "INSERT INTO tickets (requester_address)"
					     " VALUES ('c@customer.example') RETURNING id");
		assert_int_equal(pd_kbdb_suggest(db, strtoll(ids[i], NULL, 10), mails[i][0],
						 mails[i][1], mails[i][2], &section, &err),
				 0);
		free(section);
		one[i] = recorded(db, ids[i]);
		free(ids[i]);
	}
	assert_string_not_equal(one[0], "- -");
	assert_string_equal(one[1], "- -");
	assert_string_not_equal(one[2], "- -");

	struct pd_outbox_collect c;
	pd_outbox_collect_init(&c, true);
	for (size_t i = 0; i < N; i++) {
		ids[i] = pd_pgtest_value(db, "INSERT INTO tickets (requester_address)"
					     " VALUES ('c@customer.example') RETURNING id");
		batch[i] = strtoll(ids[i], NULL, 10);
		langs[i] = mails[i][0];
		subjects[i] = mails[i][1];
		bodies[i] = mails[i][2];
	}
	/* the last one is not in the batch: it is asked on its own */
	assert_int_equal(pd_kbdb_prefetch(db, &c, N - 1, batch, langs, subjects, bodies, &err), 0);
	assert_non_null(c.kb);
	pd_db_set_collect(db, &c);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(pd_kbdb_suggest(db, batch[i], mails[i][0], mails[i][1],
						 mails[i][2], &section, &err),
				 0);
		free(section);
	}
	pd_db_set_collect(db, NULL);
	assert_int_equal(pd_db_sync(db, &err), 0);
	for (size_t i = 0; i < N; i++) {
		char *got = recorded(db, ids[i]);
		assert_string_equal(got, one[i]);
		free(got);
		free(one[i]);
		free(ids[i]);
	}
	pd_outbox_collect_free(&c);
	pd_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reimport_follows_the_text),
	    cmocka_unit_test(test_batch_as_one_by_one),
	};

	pd_log_init("test_kbdb", getenv("PD_TEST_DEBUG") ? PD_LOG_DEBUG : PD_LOG_ERR);
	if (pd_pgtest_start() == NULL) {
		printf("# PostgreSQL is not installed: test_kbdb skipped\n");
		return 77;
	}
	return cmocka_run_group_tests_name("kb articles (PostgreSQL)", tests, NULL, NULL);
}
