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
#include "thread.h"
#include "util.h"

/* Arbitrary constant naming the "kb import" advisory lock. */
#define KB_IMPORT_LOCK "7034211"

/*
 * $1 the mail's text, $2 the customer's language (en|ru), $3 the minimum
 * rank, $4 the minimum share of the best rank, $6 the mail's subject when
 * the customer wrote it ("" for a reply or forward: "Re: your invoice" is
 * the topic someone else set).
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
#define KB_RANK_CTE(RANK)                                                                      \
	"WITH words AS ("                                                                      \
	"  SELECT coalesce(string_agg(w, ' or '), '') AS w FROM ("                             \
	"    SELECT DISTINCT w FROM ("                                                         \
	"      SELECT lower(p.token) AS w FROM ts_parse('default', $1::text) p"                \
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
	"     CASE WHEN l.ru THEN to_tsvector('pg_catalog.russian', $6::text || ' ' || own.body)" \
	"     END AS ru,"                                                                      \
	"     CASE WHEN l.en THEN to_tsvector('pg_catalog.english', $6::text || ' ' || own.body)" \
	"     END AS en,"                                                                      \
	"     CASE WHEN l.ru THEN to_tsvector('pg_catalog.russian', $6::text) END AS ru_subject," \
	"     CASE WHEN l.en THEN to_tsvector('pg_catalog.english', $6::text) END AS en_subject"  \
	"     FROM (SELECT substr($1::text, strpos($1::text, E'\\n') + 1) AS body) own,"        \
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
	"           WHERE language = $2::text OR NOT EXISTS (SELECT 1 FROM gated h"            \
	"                   WHERE h.language = $2::text)),"                                    \
	" top AS (SELECT id, slug, language, title, url, body, rank,"                          \
	"                row_number() OVER (ORDER BY rank DESC, slug)::int AS position"         \
	"           FROM pool WHERE rank >= $4::real * (SELECT max(rank) FROM pool)"           \
	"            AND terms * 2 >= (SELECT max(terms) FROM pool)"                           \
	"          ORDER BY rank DESC, slug LIMIT " PD_KB_STR(PD_KB_MAX_SUGGEST) ")"

#define PD_KB_STR_(x) #x
#define PD_KB_STR(x) PD_KB_STR_(x)

static const char SQL_SEARCH[] =
    KB_RANK_CTE(KB_RANK_ALL)
    " SELECT h.slug, h.language, h.title, h.url, h.body, h.rank, coalesce(t.position, 0)"
    "   FROM hits h LEFT JOIN top t USING (id)"
    "  ORDER BY t.position NULLS LAST, h.language = $2::text DESC, h.rank DESC, h.slug"
    "  LIMIT $5::int";

static const char SQL_SUGGEST[] =
    KB_RANK_CTE(KB_RANK_GATED) ","
    " ins AS (INSERT INTO ticket_kb (ticket_id, article_id, rank, position)"
    "         SELECT $5::bigint, id, rank, position FROM top),"
    " ev AS (INSERT INTO events (ticket_id, actor, kind, detail)"
    "        SELECT $5::bigint, 'system', 'kb.suggested',"
    "               jsonb_build_object('language', $2::text, 'articles',"
    "                 jsonb_agg(jsonb_build_object('slug', slug,"
    "                   'rank', round(rank::numeric, 4)) ORDER BY position))"
    "          FROM top HAVING count(*) > 0)"
    " SELECT slug, title, url, body, rank FROM top ORDER BY position";

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

int pd_kbdb_suggest(struct pd_db *db, int64_t ticket, const char *lang, const char *subject,
		    const char *body, char **section_r, struct pd_err *err)
{
	char min_rank[32], min_share[32], id[24];
	struct pd_kb_hit hits[PD_KB_MAX_SUGGEST];
	PGresult *res;

	*section_r = NULL;
	/*
	 * An empty knowledge base costs one query, asked again at most every
	 * KB_EMPTY_RECHECK_MS: articles imported meanwhile are suggested from
	 * then on.  Once there are articles the ranking itself finds nothing
	 * when they are gone.
	 */
	static bool any;
	static int64_t checked_ms;
	int64_t now = pd_now_ms();
	if (!any && (checked_ms == 0 || now - checked_ms >= KB_EMPTY_RECHECK_MS)) {
		res = pd_db_query(db, "pd_kb_any", "SELECT EXISTS (SELECT 1 FROM kb_articles)", 0,
				  NULL, err);
		if (res == NULL)
			return -1;
		any = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		checked_ms = now;
	}
	if (!any) {
		*section_r = pd_xstrdup("");
		return 0;
	}

	char *text = pd_kb_query_text(subject, body);
	char *own = own_subject(subject);
	const char *v[6] = {text, kb_lang(lang), min_rank, min_share, id, own};
	rank_params(min_rank, min_share, sizeof(min_rank));
	snprintf(id, sizeof(id), "%" PRId64, ticket);
	res = pd_db_query(db, "pd_kb_suggest", SQL_SUGGEST, 6, v, err);
	free(text);
	free(own);
	if (res == NULL)
		return -1;
	int n = PQntuples(res);
	struct pd_buf slugs;
	pd_buf_init(&slugs);
	for (int i = 0; i < n && i < PD_KB_MAX_SUGGEST; i++) {
		hits[i].title = PQgetvalue(res, i, 1);
		hits[i].url = PQgetvalue(res, i, 2);
		hits[i].body = PQgetvalue(res, i, 3);
		pd_buf_printf(&slugs, "%s%s:%s", i ? "," : "", PQgetvalue(res, i, 0),
			      PQgetvalue(res, i, 4));
	}
	*section_r = pd_kb_section(kb_lang(lang), hits, (size_t)(n < PD_KB_MAX_SUGGEST ? n
										  : PD_KB_MAX_SUGGEST));
	if (n > 0)
		pd_log_info("ticket=%" PRId64 " action=kb-suggested articles=%s", ticket, slugs.data);
	pd_buf_free(&slugs);
	PQclear(res);
	return 0;
}
