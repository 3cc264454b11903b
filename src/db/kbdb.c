/*
 * kbdb.c - knowledge-base articles in PostgreSQL.  See kbdb.h.
 *
 * One ranking statement serves both the acknowledgement (which also
 * records what it showed) and `postdesk kb search`, so what the search
 * shows the team is what customers get.  Every value goes in as a
 * parameter; the only text built here is the mail's cut-down query text.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "ioutil.h"
#include "kbdb.h"
#include "log.h"
#include "outbox.h"
#include "thread.h"
#include "util.h"

/* Arbitrary constant naming the "kb import" advisory lock. */
#define KB_IMPORT_LOCK "7034211"

/*
 * TEXT the mail's text, LANG the customer's language (en|ru), $3 the
 * minimum rank, $4 the minimum share of the best rank, OWN the mail's
 * subject when the customer wrote it ("" for a reply or forward: "Re: your
 * invoice" is the topic someone else set).  TEXT and LANG are $1 and $2
 * and OWN a parameter after $4 for one mail, or the columns of one mail
 * among a batch's.
 *
 * words: the distinct words of the mail (the parser's word tokens only, so
 *        no operator of the websearch syntax can come through), joined by
 *        "or": one OR query instead of the AND that websearch_to_tsquery
 *        and plainto_tsquery make of plain text;
 * r:     every article matching the query in its own language's
 *        configuration;
 * terms: what the customer's own words (the subject unless it is a reply,
 *        and the body without quoted lines) share with the article's own
 *        terms: each of its keywords found as a phrase (stemmed: "printing"
 *        meets "print") counts 2, each distinct word of its title that is
 *        in none of its keywords 1 (one word is one piece of evidence), and
 *        either counts twice when the subject holds it;
 * hits:  those with their rank, ts_rank_cd normalised by length (1);
 * gated: those above the minimum rank with at least 3 terms (a keyword
 *        and a title word, a keyword in the subject, or three title words):
 *        words the mail shares only with an article's body, or one generic
 *        word ("Order account: ACME-7781"), suggest nothing;
 * pool:  those in the customer's language when any is;
 * top:   the best PD_KB_MAX_SUGGEST with at least $4 of the best rank and at
 *        least half the terms of the best-matched one.
 *
 * What costs the server is text search on the mail, so each piece of it is
 * done once and only where a result depends on it:
 * - the article's side of the terms is kept in kb_articles (0016: the
 *   keywords' phrase queries and the title lexemes that are in no keyword,
 *   in the article's language, set with tsv by its trigger);
 * - the parser's word tokens are picked by their ids before any is
 *   lower-cased, and each is lower-cased once;
 * - q and m are MATERIALIZED: inlined, the tsqueries and tsvectors would be
 *   built again for every article (0.1 ms each, 100 ms for a thousand);
 * - the mail's tsvectors (its own subject and body, parsed again as one
 *   text) are built only in the languages of the matching articles: the
 *   other one's can be in no result;
 * - the rank is the RANK argument: every hit's for a search, which shows
 *   them all; for a suggestion only that of an article with the terms to
 *   pass the gate (KB_GATE_TERMS), as no other one can be suggested.
 */
#define KB_GATE_TERMS "3"
#define KB_RANK_ALL "ts_rank_cd(t.tsv, CASE t.language WHEN 'ru' THEN q.ru ELSE q.en END, 1)"
#define KB_RANK_GATED "CASE WHEN t.terms >= " KB_GATE_TERMS " THEN " KB_RANK_ALL " END"
#define KB_RANK_CTE(RANK, TEXT, LANG, OWN)                                                     \
	"WITH words AS ("                                                                      \
	"  SELECT coalesce(string_agg(w, ' or '), '') AS w FROM ("                             \
	"    SELECT DISTINCT w FROM ("                                                         \
	"      SELECT lower(p.token) AS w FROM ts_parse('default', " TEXT ") p"                \
	"       WHERE p.tokid = ANY (ARRAY(SELECT tokid FROM ts_token_type('default')"        \
	"                WHERE alias IN ('asciiword', 'word', 'numword', 'hword_asciipart',"   \
	"                                'hword_part', 'hword_numpart', 'uint')))"             \
	"      OFFSET 0) s"                                                                    \
	"     WHERE w <> 'or'"                                                                 \
	"     LIMIT 500) t),"                                                                  \
	" q AS MATERIALIZED (SELECT websearch_to_tsquery('pg_catalog.russian', w) AS ru,"      \
	"              websearch_to_tsquery('pg_catalog.english', w) AS en FROM words),"       \
	" r AS MATERIALIZED (SELECT a.id, a.slug, a.language, a.title, a.url, a.body, a.tsv,"  \
	"                           a.keyword_queries, a.title_lexemes"                        \
	"            FROM kb_articles a CROSS JOIN q"                                          \
	"           WHERE (a.language = 'ru' AND a.tsv @@ q.ru)"                               \
	"              OR (a.language = 'en' AND a.tsv @@ q.en)),"                             \
	" mt AS MATERIALIZED (SELECT"                                                          \
	"     CASE WHEN l.ru THEN to_tsvector('pg_catalog.russian', " OWN " || ' ' || own.body)" \
	"     END AS ru,"                                                                      \
	"     CASE WHEN l.en THEN to_tsvector('pg_catalog.english', " OWN " || ' ' || own.body)" \
	"     END AS en,"                                                                      \
	"     CASE WHEN l.ru THEN to_tsvector('pg_catalog.russian', " OWN ") END AS ru_subject," \
	"     CASE WHEN l.en THEN to_tsvector('pg_catalog.english', " OWN ") END AS en_subject"  \
	"     FROM (SELECT substr(" TEXT ", strpos(" TEXT ", E'\\n') + 1) AS body) own,"        \
	"          (SELECT coalesce(bool_or(language = 'ru'), false) AS ru,"                   \
	"                  coalesce(bool_or(language = 'en'), false) AS en FROM r) l),"        \
	" m AS MATERIALIZED (SELECT ru, en, ru_subject, en_subject,"                           \
	"     tsvector_to_array(ru) AS ru_lex, tsvector_to_array(en) AS en_lex,"               \
	"     tsvector_to_array(ru_subject) AS ru_subject_lex,"                                \
	"     tsvector_to_array(en_subject) AS en_subject_lex FROM mt),"                       \
	" terms AS (SELECT r.id, r.slug, r.language, r.title, coalesce(r.url, '') AS url,"     \
	"                  left(r.body, 2000) AS body, r.tsv,"                                 \
	"                  (SELECT 2 * (count(*) FILTER (WHERE"                                \
	"                                 (CASE r.language WHEN 'ru' THEN m.ru ELSE m.en END)" \
	"                                 @@ kq)"                                              \
	"                               + count(*) FILTER (WHERE"                              \
	"                                 (CASE r.language WHEN 'ru' THEN m.ru_subject"        \
	"                                  ELSE m.en_subject END) @@ kq))"                     \
	"                     FROM unnest(r.keyword_queries) kq)"                              \
	"                  + (SELECT count(*) FILTER (WHERE l = ANY (CASE r.language"          \
	"                                  WHEN 'ru' THEN m.ru_lex ELSE m.en_lex END))"        \
	"                          + count(*) FILTER (WHERE l = ANY (CASE r.language"          \
	"                                  WHEN 'ru' THEN m.ru_subject_lex"                    \
	"                                  ELSE m.en_subject_lex END))"                        \
	"                       FROM unnest(r.title_lexemes) l) AS terms"                      \
	"             FROM r CROSS JOIN m),"                                                   \
	" hits AS (SELECT t.id, t.slug, t.language, t.title, t.url, t.body, t.terms,"          \
	"                 " RANK " AS rank"                                                    \
	"            FROM terms t CROSS JOIN q),"                                              \
	" gated AS (SELECT * FROM hits WHERE rank >= $3::real"                                 \
	"                                AND terms >= " KB_GATE_TERMS "),"                     \
	" pool AS (SELECT * FROM gated"                                                        \
	"           WHERE language = " LANG " OR NOT EXISTS (SELECT 1 FROM gated h"            \
	"                   WHERE h.language = " LANG ")),"                                    \
	" top AS (SELECT id, slug, language, title, url, body, rank,"                          \
	"                row_number() OVER (ORDER BY rank DESC, slug)::int AS position"         \
	"           FROM pool WHERE rank >= $4::real * (SELECT max(rank) FROM pool)"           \
	"            AND terms * 2 >= (SELECT max(terms) FROM pool)"                           \
	"          ORDER BY rank DESC, slug LIMIT " PD_KB_STR(PD_KB_MAX_SUGGEST) ")"

#define PD_KB_STR_(x) #x
#define PD_KB_STR(x) PD_KB_STR_(x)

static const char SQL_SEARCH[] =
    KB_RANK_CTE(KB_RANK_ALL, "$1::text", "$2::text", "$6::text")
    " SELECT h.slug, h.language, h.title, h.url, h.body, h.rank, coalesce(t.position, 0)"
    "   FROM hits h LEFT JOIN top t USING (id)"
    "  ORDER BY t.position NULLS LAST, h.language = $2::text DESC, h.rank DESC, h.slug"
    "  LIMIT $5::int";

/* The suggestions for one new ticket ($5 its mail's own subject), in order;
 * what its acknowledgement shows is recorded by record() (SQL_RECORD). */
static const char SQL_SUGGEST[] =
    KB_RANK_CTE(KB_RANK_GATED, "$1::text", "$2::text", "$5::text")
    " SELECT slug, title, url, body, rank, id FROM top ORDER BY position";

/*
 * The suggestions for a batch's new tickets at once: $1 the tickets, $2
 * their mails' texts, $5 their languages, $6 their own subjects (as above);
 * a row per suggested article, in order, and one with a NULL slug for a
 * ticket that gets none.  Nothing is written: what an acknowledgement shows
 * is recorded when it is composed (SQL_RECORD), as one that is not sent
 * shows nothing.
 */
static const char SQL_PREFETCH[] =
    "SELECT x.ticket, top.slug, top.title, top.url, top.body, top.rank, top.id"
    "  FROM unnest($1::bigint[], $2::text[], $5::text[], $6::text[])"
    "       AS x (ticket, text, lang, own)"
    "  LEFT JOIN LATERAL ("
    KB_RANK_CTE(KB_RANK_GATED, "x.text", "x.lang", "x.own")
    "    SELECT id, slug, title, url, body, rank, position FROM top) top ON true"
    " ORDER BY x.ticket, top.position";

/* The suggestions an acknowledgement shows, in ticket_kb and as the
 * kb.suggested event: $1 the ticket, $2 the language, $3 the articles, $4
 * their slugs, $5 their ranks, in order. */
static const char SQL_RECORD[] =
    "WITH top AS (SELECT * FROM unnest($3::bigint[], $4::text[], $5::text[])"
    "                  WITH ORDINALITY AS t (id, slug, rank, position)),"
    " ins AS (INSERT INTO ticket_kb (ticket_id, article_id, rank, position)"
    "         SELECT $1::bigint, id, rank::real, position FROM top)"
    " INSERT INTO events (ticket_id, actor, kind, detail)"
    " SELECT $1::bigint, 'system', 'kb.suggested',"
    "        jsonb_build_object('language', $2::text, 'articles',"
    "          jsonb_agg(jsonb_build_object('slug', slug,"
    "            'rank', round(rank::real::numeric, 4)) ORDER BY position))"
    "   FROM top HAVING count(*) > 0";

static const char *kb_lang(const char *lang)
{
	return lang != NULL && strcmp(lang, "ru") == 0 ? "ru" : "en";
}

/* ------------------------------------------------------------ import */

/* The keywords as one parameter, newline-separated (a keyword is one line). */
static char *keyword_lines(const struct pd_kb_article *a)
{
	struct pd_buf b;

	pd_buf_init(&b);
	for (size_t i = 0; i < a->n_keywords; i++) {
		if (i > 0)
			pd_buf_append_char(&b, '\n');
		pd_buf_append_str(&b, a->keywords[i]);
	}
	return pd_buf_steal(&b, NULL);
}

int pd_kbdb_import(struct pd_db *db, const struct pd_kb_set *set, struct pd_kb_counts *counts,
		   struct pd_err *err)
{
	struct pd_buf slugs;
	PGresult *res;

	memset(counts, 0, sizeof(*counts));
	if (pd_db_begin(db, err) < 0)
		return -1;
	if (pd_db_exec(db, "SELECT pg_advisory_xact_lock(" KB_IMPORT_LOCK ")", err) < 0)
		goto fail;
	pd_buf_init(&slugs);
	for (size_t i = 0; i < set->n; i++) {
		const struct pd_kb_article *a = &set->v[i];
		char *kw = keyword_lines(a);
		const char *v[6] = {a->slug, a->language, a->title, kw, a->body, a->url};

		/* unchanged articles are left alone: RETURNING then gives no row */
		res = pd_db_query(
		    db, "pd_kb_upsert",
		    "INSERT INTO kb_articles (slug, language, title, keywords, body, url)"
		    " VALUES ($1, $2, $3, string_to_array($4, E'\\n'), $5, $6)"
		    " ON CONFLICT (slug) DO UPDATE SET language = EXCLUDED.language,"
		    "   title = EXCLUDED.title, keywords = EXCLUDED.keywords, body = EXCLUDED.body,"
		    "   url = EXCLUDED.url, updated_at = now()"
		    " WHERE (kb_articles.language, kb_articles.title, kb_articles.keywords,"
		    "        kb_articles.body, kb_articles.url)"
		    "       IS DISTINCT FROM (EXCLUDED.language, EXCLUDED.title, EXCLUDED.keywords,"
		    "        EXCLUDED.body, EXCLUDED.url)"
		    " RETURNING xmax = 0",
		    6, v, err);
		free(kw);
		if (res == NULL) {
			pd_err_prefix(err, "%s", a->file);
			pd_buf_free(&slugs);
			goto fail;
		}
		if (PQntuples(res) == 0)
			counts->unchanged++;
		else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			counts->added++;
		else
			counts->updated++;
		PQclear(res);
		if (i > 0)
			pd_buf_append_char(&slugs, '\n');
		pd_buf_append_str(&slugs, a->slug);
	}
	/* slugs never hold a newline (control characters in names are refused) */
	const char *dv[1] = {slugs.data != NULL ? slugs.data : ""}; /* no articles: {} */
	res = pd_db_query(db, "pd_kb_sweep",
			  "DELETE FROM kb_articles WHERE slug <> ALL (string_to_array($1, E'\\n'))",
			  1, dv, err);
	pd_buf_free(&slugs);
	if (res == NULL)
		goto fail;
	counts->removed = atoi(PQcmdTuples(res));
	PQclear(res);
	if (pd_db_commit(db, err) < 0)
		return -1;
	return 0;
fail:
	pd_db_rollback(db);
	memset(counts, 0, sizeof(*counts));
	return -1;
}

/* ------------------------------------------------------------ ranking */

void pd_kbdb_matches_free(struct pd_kb_match *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].slug);
		free(v[i].language);
		free(v[i].title);
		free(v[i].url);
		free(v[i].body);
	}
	free(v);
}

/* The subject as the customer's own words: "" for a reply or a forward
 * (Re:, Fwd:, Ответ: ...), whose subject someone else wrote.  Newly
 * allocated. */
static char *own_subject(const char *subject)
{
	char *clean = pd_thread_clean_subject(subject ? subject : "", NULL);
	const char *s = subject ? subject : "";

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, clean, strlen(clean)) != 0) {
		free(clean);
		return pd_xstrdup("");
	}
	free(clean);
	return pd_xstrdup(subject ? subject : "");
}

static void rank_params(char *min_rank, char *min_share, size_t len)
{
	snprintf(min_rank, len, "%g", PD_KB_MIN_RANK);
	snprintf(min_share, len, "%g", PD_KB_MIN_SHARE);
}

int pd_kbdb_search(struct pd_db *db, const char *lang, const char *subject, const char *body,
		   int limit, struct pd_kb_match **v_r, size_t *n_r, struct pd_err *err)
{
	char min_rank[32], min_share[32], lim[16];
	char *text = pd_kb_query_text(subject, body);
	char *own = own_subject(subject);
	const char *v[6] = {text, kb_lang(lang), min_rank, min_share, lim, own};
	PGresult *res;

	*v_r = NULL;
	*n_r = 0;
	rank_params(min_rank, min_share, sizeof(min_rank));
	snprintf(lim, sizeof(lim), "%d", limit);
	res = pd_db_query(db, NULL, SQL_SEARCH, 6, v, err);
	free(text);
	free(own);
	if (res == NULL)
		return -1;
	int n = PQntuples(res);
	struct pd_kb_match *m = pd_xcalloc((size_t)n + 1, sizeof(*m));
	for (int i = 0; i < n; i++) {
		m[i].slug = pd_xstrdup(PQgetvalue(res, i, 0));
		m[i].language = pd_xstrdup(PQgetvalue(res, i, 1));
		m[i].title = pd_xstrdup(PQgetvalue(res, i, 2));
		m[i].url = pd_xstrdup(PQgetvalue(res, i, 3));
		m[i].body = pd_xstrdup(PQgetvalue(res, i, 4));
		m[i].rank = strtod(PQgetvalue(res, i, 5), NULL);
		m[i].position = atoi(PQgetvalue(res, i, 6));
	}
	PQclear(res);
	*v_r = m;
	*n_r = (size_t)n;
	return 0;
}

#define KB_EMPTY_RECHECK_MS 10000

/*
 * Whether there are articles.  An empty knowledge base costs one query,
 * asked again at most every KB_EMPTY_RECHECK_MS: articles imported
 * meanwhile are suggested from then on.  Once there are articles the
 * ranking itself finds nothing when they are gone.
 */
static int kb_any(struct pd_db *db, bool *any_r, struct pd_err *err)
{
	static bool any;
	static int64_t checked_ms;
	int64_t now = pd_now_ms();

	if (!any && (checked_ms == 0 || now - checked_ms >= KB_EMPTY_RECHECK_MS)) {
		PGresult *res = pd_db_query(db, "pd_kb_any",
					    "SELECT EXISTS (SELECT 1 FROM kb_articles)", 0, NULL, err);
		if (res == NULL)
			return -1;
		any = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		checked_ms = now;
	}
	*any_r = any;
	return 0;
}

/*
 * The {{kb.articles}} section of the n suggestions in res from row first
 * (columns col.. slug, title, url, body, rank), logged.  Newly allocated.
 */
static char *section_of(const char *lang, int64_t ticket, const PGresult *res, int first, int n,
			int col)
{
	struct pd_kb_hit hits[PD_KB_MAX_SUGGEST];
	struct pd_buf slugs;
	char *section;

	if (n > PD_KB_MAX_SUGGEST)
		n = PD_KB_MAX_SUGGEST;
	pd_buf_init(&slugs);
	for (int i = 0; i < n; i++) {
		hits[i].title = PQgetvalue(res, first + i, col + 1);
		hits[i].url = PQgetvalue(res, first + i, col + 2);
		hits[i].body = PQgetvalue(res, first + i, col + 3);
		pd_buf_printf(&slugs, "%s%s:%s", i ? "," : "", PQgetvalue(res, first + i, col),
			      PQgetvalue(res, first + i, col + 4));
	}
	section = pd_kb_section(kb_lang(lang), hits, (size_t)n);
	if (n > 0)
		pd_log_info("ticket=%" PRId64 " action=kb-suggested articles=%s", ticket, slugs.data);
	pd_buf_free(&slugs);
	return section;
}

int pd_kbdb_prefetch(struct pd_db *db, struct pd_outbox_collect *c, size_t n,
		     const int64_t *tickets, const char *const *langs, const char *const *subjects,
		     const char *const *bodies, struct pd_err *err)
{
	struct pd_db_array a[4];
	char min_rank[32], min_share[32];
	const char *v[6];
	int len[6] = {0}, fmt[6] = {1, 1, 0, 0, 1, 1};
	bool any;

	if (n == 0)
		return 0;
	if (kb_any(db, &any, err) < 0)
		return -1;
	if (!any)
		return 0; /* pd_kbdb_suggest finds that out again, for nothing */
	pd_db_array_init(&a[0], PD_OID_INT8);
	for (int i = 1; i < 4; i++)
		pd_db_array_init(&a[i], PD_OID_TEXT);
	for (size_t i = 0; i < n; i++) {
		char *text = pd_kb_query_text(subjects[i], bodies[i]);
		char *own = own_subject(subjects[i]);
		pd_db_array_add_int8(&a[0], tickets[i]);
		pd_db_array_add_str(&a[1], text);
		pd_db_array_add_str(&a[2], kb_lang(langs[i]));
		pd_db_array_add_str(&a[3], own);
		free(text);
		free(own);
	}
	rank_params(min_rank, min_share, sizeof(min_rank));
	v[0] = pd_db_array_value(&a[0], &len[0]);
	v[1] = pd_db_array_value(&a[1], &len[1]);
	v[2] = min_rank;
	v[3] = min_share;
	v[4] = pd_db_array_value(&a[2], &len[4]);
	v[5] = pd_db_array_value(&a[3], &len[5]);
	PQclear(c->kb);
	c->kb = pd_db_query_bin(db, "pd_kb_prefetch", SQL_PREFETCH, 6, v, len, fmt, err);
	for (int i = 0; i < 4; i++)
		pd_db_array_free(&a[i]);
	return c->kb != NULL ? 0 : -1;
}

/* The rows of ticket in a pd_kbdb_prefetch result: *first and the number
 * of suggestions (0: asked, none).  False when the ticket was not asked. */
static bool prefetched(const PGresult *res, int64_t ticket, int *first, int *n)
{
	int rows = PQntuples(res);

	for (int r = 0; r < rows; r++) {
		if (strtoll(PQgetvalue(res, r, 0), NULL, 10) != ticket)
			continue;
		*first = r;
		*n = 0;
		while (r + *n < rows && strtoll(PQgetvalue(res, r + *n, 0), NULL, 10) == ticket &&
		       !PQgetisnull(res, r + *n, 1))
			(*n)++;
		return true;
	}
	return false;
}

/* Record the n suggestions of ticket in res from row first (columns col..
 * slug, title, url, body, rank, id), deferred in the caller's transaction. */
static int record(struct pd_db *db, int64_t ticket, const char *lang, const PGresult *res,
		  int first, int n, int col, struct pd_err *err)
{
	struct pd_db_array a[3];
	char id[24];
	const char *v[5];
	int len[5] = {0}, fmt[5] = {0, 0, 1, 1, 1};
	int rc;

	pd_db_array_init(&a[0], PD_OID_INT8);
	pd_db_array_init(&a[1], PD_OID_TEXT);
	pd_db_array_init(&a[2], PD_OID_TEXT);
	for (int i = 0; i < n; i++) {
		pd_db_array_add_int8(&a[0], strtoll(PQgetvalue(res, first + i, col + 5), NULL, 10));
		pd_db_array_add_str(&a[1], PQgetvalue(res, first + i, col));
		pd_db_array_add_str(&a[2], PQgetvalue(res, first + i, col + 4));
	}
	snprintf(id, sizeof(id), "%" PRId64, ticket);
	v[0] = id;
	v[1] = kb_lang(lang);
	for (int i = 0; i < 3; i++)
		v[2 + i] = pd_db_array_value(&a[i], &len[2 + i]);
	rc = pd_db_defer_bin(db, "pd_kb_record", SQL_RECORD, 5, v, len, fmt, err);
	for (int i = 0; i < 3; i++)
		pd_db_array_free(&a[i]);
	return rc;
}

int pd_kbdb_suggest(struct pd_db *db, int64_t ticket, const char *lang, const char *subject,
		    const char *body, char **section_r, struct pd_err *err)
{
	char min_rank[32], min_share[32];
	const struct pd_outbox_collect *c = pd_db_collect(db);
	PGresult *res;
	int first, n;
	bool any;

	*section_r = NULL;
	/* asked already for the whole batch (pd_kbdb_prefetch) */
	if (c != NULL && c->kb != NULL && prefetched(c->kb, ticket, &first, &n)) {
		if (n > 0 && record(db, ticket, lang, c->kb, first, n, 1, err) < 0)
			return -1;
		*section_r = section_of(lang, ticket, c->kb, first, n, 1);
		return 0;
	}
	if (kb_any(db, &any, err) < 0)
		return -1;
	if (!any) {
		*section_r = pd_xstrdup("");
		return 0;
	}

	char *text = pd_kb_query_text(subject, body);
	char *own = own_subject(subject);
	const char *v[5] = {text, kb_lang(lang), min_rank, min_share, own};
	rank_params(min_rank, min_share, sizeof(min_rank));
	res = pd_db_query(db, "pd_kb_suggest", SQL_SUGGEST, 5, v, err);
	free(text);
	free(own);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	if (n > 0 && record(db, ticket, lang, res, 0, n, 0, err) < 0) {
		PQclear(res);
		return -1;
	}
	*section_r = section_of(lang, ticket, res, 0, n, 0);
	PQclear(res);
	return 0;
}
