/*
 * kb.h - knowledge-base articles: parsing an article file's text, and the
 * "these articles may help" section of an acknowledgement (pure; reading a
 * folder of article files is kbfiles.h, the database side kbdb.h).
 *
 * An article is a file NAME.md or NAME.txt.  It may open with header lines
 *
 *   Title: Resetting a forgotten password
 *   Keywords: password, reset, login
 *   Language: en                     (en or ru)
 *   URL: https://help.example.com/reset-password
 *
 * (names case-insensitive, each at most once, in any order), then a blank
 * line, then the body.  Without a Title header a Markdown file may start its
 * body with a "# Title" heading instead, which then becomes the title.  The
 * slug is the path relative to the folder without the extension.  The
 * language, unless given, comes from a ".ru." / ".en." infix in the file
 * name, else from a "ru" / "en" folder on the path, else from the text.
 */
#ifndef PD_KB_H
#define PD_KB_H

#include <stdbool.h>
#include <stddef.h>

/* Files larger than this are refused (an article is a page, not a manual). */
#define PD_KB_MAX_FILE (256 * 1024)
/* How much of a customer's mail body is matched against the articles. */
#define PD_KB_QUERY_BODY (4 * 1024)
/* At most this many articles are suggested. */
#define PD_KB_MAX_SUGGEST 3

struct pd_kb_article {
	char *slug;     /* "en/reset-password" */
	char *file;     /* the path as it is shown in messages */
	char *language; /* "en" or "ru" */
	char *title;
	char **keywords;
	size_t n_keywords;
	char *url;      /* NULL = none */
	char *body;     /* UTF-8, LF line ends, no leading or trailing blank lines */
};

struct pd_kb_set {
	struct pd_kb_article *v;
	size_t n;
};

/* Error lines "FILE:LINE: reason" (or "FILE: reason"), newly allocated. */
struct pd_kb_errors {
	char **v;
	size_t n;
};

/*
 * Parse one article: text (len bytes, need not be NUL-terminated) of the
 * file at rel (relative to the knowledge-base folder, '/'-separated; gives
 * the slug and the default language); file is the name shown in errors.
 * Returns 0 with *a filled (free with pd_kb_article_free), or -1 with
 * *error_r set (newly allocated "FILE:LINE: reason"): not UTF-8, a NUL
 * byte, too large, no title, a header given twice, a language other than en
 * or ru, a URL that is not http(s), nothing but a title.
 */
int pd_kb_parse(const char *file, const char *rel, const char *text, size_t len,
		struct pd_kb_article *a, char **error_r);
void pd_kb_article_free(struct pd_kb_article *a);

/* "ru" / "en" from a ".ru." / ".en." infix in the file name, else from a
 * "ru" / "en" folder on the path; NULL when neither says. */
const char *pd_kb_path_language(const char *rel);

void pd_kb_set_free(struct pd_kb_set *set);
void pd_kb_errors_free(struct pd_kb_errors *errs);

/* What a mail is matched with: subject, a newline and the first
 * PD_KB_QUERY_BODY bytes of the body's own lines (quoted "> " lines left
 * out; cut at a character boundary).  Newly allocated; NULL arguments count
 * as "". */
char *pd_kb_query_text(const char *subject, const char *body);

/* One suggested article, as the acknowledgement shows it. */
struct pd_kb_hit {
	const char *title;
	const char *url;  /* NULL or "" = show the start of the body instead */
	const char *body;
};

/*
 * The {{kb.articles}} text of an acknowledgement in lang ("ru", else
 * English): a heading line, a blank line, then per article "  * Title" and,
 * indented by four, the URL or the first lines of the body (at most three
 * lines of 72 columns, "…" when cut); a blank line between articles; ends
 * with a newline.  n == 0 gives "".  Newly allocated.
 */
char *pd_kb_section(const char *lang, const struct pd_kb_hit *hits, size_t n);

/* The opening of body that the section shows: its first paragraph that is
 * not a heading, on one line, whitespace collapsed, Markdown emphasis and
 * list marks dropped, at most max_cols characters ("…" when cut).  Newly
 * allocated ("" for an empty body). */
char *pd_kb_excerpt(const char *body, size_t max_cols);

#endif
