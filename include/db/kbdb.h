/*
 * kbdb.h - knowledge-base articles in PostgreSQL: the import that makes
 * kb_articles equal to a folder's articles, and the full-text ranking that
 * picks the articles an acknowledgement suggests (see sql/0005_kb.sql).
 *
 * Ranking: the words of the mail (subject and the first PD_KB_QUERY_BODY
 * bytes of the body) become one OR query, websearch_to_tsquery in the
 * russian configuration for Russian articles and the english one for
 * English ones; ts_rank_cd (normalised by the article's length) ranks every
 * article that matches.  Articles in the customer's language come first:
 * the other language is used only when none in theirs reaches the minimum.
 * Shown are at most PD_KB_MAX_SUGGEST articles ranked at least
 * PD_KB_MIN_RANK and at least PD_KB_MIN_SHARE of the best one, that share
 * real terms with the customer's own words (the subject unless it is a
 * reply or forward, the body without quoted lines): a keyword of the
 * article found as a phrase counts 2, a word of its title that is in none
 * of its keywords 1, twice in the subject; at least 3, and at least half of the best-matched article's.
 * Words shared only with an article's body, or one generic word, suggest
 * nothing.
 */
#ifndef PD_KBDB_H
#define PD_KBDB_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "kb.h"

/* One title or keyword hit in an article of a hundred words ranks about
 * 0.5; a body word alone about 0.05. */
#define PD_KB_MIN_RANK 0.45
#define PD_KB_MIN_SHARE 0.25

struct pd_kb_counts {
	int added;
	int updated;
	int unchanged;
	int removed;
};

/*
 * Make kb_articles hold exactly set: insert new slugs, update changed
 * articles, delete those not in set; one transaction of its own (the caller
 * must not have one open), serialised with other imports.  Errors: TEMP
 * (database), PERM (a value the database refuses); nothing changes then.
 */
int pd_kbdb_import(struct pd_db *db, const struct pd_kb_set *set, struct pd_kb_counts *counts,
		   struct pd_err *err);

/* A ranked article (kb search). */
struct pd_kb_match {
	char *slug;
	char *language;
	char *title;
	char *url;      /* "" = none */
	char *body;
	double rank;
	int position;   /* 1.. when an acknowledgement would show it, else 0 */
};

/*
 * Rank the articles for a mail with subject and body from a customer
 * writing in lang ("ru", else English): up to limit matching articles, the
 * shown ones first (by position), then the rest by language and rank.
 * *v_r is newly allocated (pd_kbdb_matches_free).
 */
int pd_kbdb_search(struct pd_db *db, const char *lang, const char *subject, const char *body,
		   int limit, struct pd_kb_match **v_r, size_t *n_r, struct pd_err *err);
void pd_kbdb_matches_free(struct pd_kb_match *v, size_t n);

/*
 * At a new ticket's acknowledgement, inside the caller's transaction: rank
 * the articles as above, record the shown ones in ticket_kb and an event
 * kb.suggested {language, articles: [{slug, rank}]}, and return the
 * {{kb.articles}} section (pd_kb_section, newly allocated; "" when nothing
 * matched or there are no articles, which costs one index-only query).
 * Errors: TEMP/FATAL from the database (the transaction is then aborted).
 */
int pd_kbdb_suggest(struct pd_db *db, int64_t ticket, const char *lang, const char *subject,
		    const char *body, char **section_r, struct pd_err *err);

/*
 * The same for a batch's n new tickets at once, before their
 * acknowledgements are composed: one statement ranks them all and keeps
 * the result in c (c->kb); pd_kbdb_suggest on the connection collecting
 * into c then takes a ticket's suggestions from there (recording them,
 * deferred) instead of asking.  Nothing is written here.  Errors as above.
 */
struct pd_outbox_collect;
int pd_kbdb_prefetch(struct pd_db *db, struct pd_outbox_collect *c, size_t n,
		     const int64_t *tickets, const char *const *langs, const char *const *subjects,
		     const char *const *bodies, struct pd_err *err);

#endif
