/*
 * test_kb.c - knowledge-base article files (headers, "# Title", languages,
 * errors with FILE:LINE), folder loading, the mail's query text and the
 * acknowledgement's article section.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kb.h"
#include "kbfiles.h"
#include "util.h"

/* ----------------------------------------------------------- helpers */

static char *top_srcdir(void)
{
	const char *env = getenv("top_srcdir");
	const char *file = __FILE__; /* .../tests/unit/test_kb.c */
	const char *cut;

	if (env != NULL && *env != '\0')
		return pd_xstrdup(env);
	cut = strstr(file, "tests/unit/test_kb.c");
	if (cut == NULL || cut == file)
		return pd_xstrdup(".");
	return pd_xstrndup(file, (size_t)(cut - file - 1));
}

static int parse(const char *rel, const char *text, struct pd_kb_article *a, char **error_r)
{
	return pd_kb_parse(rel, rel, text, strlen(text), a, error_r);
}

static void parse_ok(const char *rel, const char *text, struct pd_kb_article *a)
{
	char *error = NULL;

	if (parse(rel, text, a, &error) != 0)
		fail_msg("%s: %s", rel, error);
	assert_null(error);
}

/* The error for text, which must start with want. */
static void parse_bad(const char *rel, const char *text, const char *want)
{
	struct pd_kb_article a;
	char *error = NULL;

	assert_int_equal(parse(rel, text, &a, &error), -1);
	assert_non_null(error);
	if (strncmp(error, want, strlen(want)) != 0)
		fail_msg("%s: got \"%s\", want \"%s...\"", rel, error, want);
	assert_null(a.title);
	assert_null(a.slug);
	free(error);
}

/* ----------------------------------------------------------- parsing */

static void test_headers(void **state)
{
	(void)state;
	struct pd_kb_article a;

	parse_ok("en/reset-password.md",
		 "Title: Resetting a password\n"
		 "Keywords: password,  reset , , sign in,\n"
		 "URL: https://help.example.com/reset\n"
		 "\n"
		 "\n"
		 "Open the login page.\n"
		 "\n"
		 "Click \"Forgot password?\".\n"
		 "\n\n",
		 &a);
	assert_string_equal(a.slug, "en/reset-password");
	assert_string_equal(a.file, "en/reset-password.md");
	assert_string_equal(a.language, "en");
	assert_string_equal(a.title, "Resetting a password");
	assert_int_equal(a.n_keywords, 3);
	assert_string_equal(a.keywords[0], "password");
	assert_string_equal(a.keywords[1], "reset");
	assert_string_equal(a.keywords[2], "sign in");
	assert_string_equal(a.url, "https://help.example.com/reset");
	assert_string_equal(a.body, "Open the login page.\n\nClick \"Forgot password?\".");
	pd_kb_article_free(&a);
	pd_kb_article_free(&a); /* cleared: a second free is harmless */

	/* names in any case and order, CRLF, a byte-order mark, a Language header */
	parse_ok("misc/password.txt",
		 "\xef\xbb\xbfkeywords: пароль\r\nLANGUAGE: RU\r\ntitle:\tСброс пароля \r\n\r\n"
		 "Текст.\r\n",
		 &a);
	assert_string_equal(a.slug, "misc/password");
	assert_string_equal(a.language, "ru");
	assert_string_equal(a.title, "Сброс пароля");
	assert_int_equal(a.n_keywords, 1);
	assert_string_equal(a.keywords[0], "пароль");
	assert_null(a.url);
	assert_string_equal(a.body, "Текст.");
	pd_kb_article_free(&a);

	/* a line that is no header of ours starts the body, blank line or not */
	parse_ok("a.txt", "Title: T\nNote: this is body text\nmore\n", &a);
	assert_string_equal(a.body, "Note: this is body text\nmore");
	pd_kb_article_free(&a);

	/* a URL alone is enough */
	parse_ok("link.md", "Title: Status page\nURL: http://status.example.com\n", &a);
	assert_string_equal(a.body, "");
	assert_string_equal(a.url, "http://status.example.com");
	pd_kb_article_free(&a);
}

static void test_markdown_title(void **state)
{
	(void)state;
	struct pd_kb_article a;

	parse_ok("invoices.md", "\n# Invoices and refunds ##\n\nEvery invoice...\n", &a);
	assert_string_equal(a.title, "Invoices and refunds");
	assert_string_equal(a.body, "Every invoice...");
	pd_kb_article_free(&a);

	/* after headers; a second heading stays in the body */
	parse_ok("x.md", "Keywords: a, b\n\n# Title here\n## Part\ntext\n", &a);
	assert_string_equal(a.title, "Title here");
	assert_string_equal(a.body, "## Part\ntext");
	assert_int_equal(a.n_keywords, 2);
	pd_kb_article_free(&a);

	/* a Title header wins: the heading is body */
	parse_ok("y.md", "Title: From the header\n\n# Heading\ntext\n", &a);
	assert_string_equal(a.title, "From the header");
	assert_string_equal(a.body, "# Heading\ntext");
	pd_kb_article_free(&a);

	/* "#hashtag" is no heading, and plain text has none */
	parse_bad("z.md", "#hashtag\ntext\n", "z.md:1: no title");
	parse_bad("z.txt", "# Looks like a heading\ntext\n", "z.txt:1: no title");
}

static void test_language(void **state)
{
	(void)state;
	static const struct {
		const char *rel, *want;
	} paths[] = {
		{"ru/a.md", "ru"},
		{"en/a.md", "en"},
		{"a.ru.md", "ru"},
		{"ru/a.en.md", "en"},      /* the name's infix beats the folder */
		{"help/ru/billing/a.md", "ru"},
		{"ru/en/a.md", "en"},      /* the nearest folder */
		{"russian/a.md", NULL},
		{"a.md", NULL},
		{"enru/a.md", NULL},
		{"a.rus.md", NULL},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(paths); i++) {
		const char *got = pd_kb_path_language(paths[i].rel);
		if (paths[i].want == NULL ? got != NULL
					  : got == NULL || strcmp(got, paths[i].want) != 0)
			fail_msg("%s: got %s", paths[i].rel, got ? got : "NULL");
	}

	struct pd_kb_article a;
	/* from the text when the path does not say */
	parse_ok("a.md", "Title: Как сбросить пароль\n\nОткройте страницу входа.\n", &a);
	assert_string_equal(a.language, "ru");
	pd_kb_article_free(&a);
	parse_ok("b.md", "Title: Reset a password\n\nOpen the login page.\n", &a);
	assert_string_equal(a.language, "en");
	pd_kb_article_free(&a);
	/* the header beats the path, the path beats the text */
	parse_ok("ru/c.md", "Language: en\nTitle: Пароль\n\nТекст.\n", &a);
	assert_string_equal(a.language, "en");
	pd_kb_article_free(&a);
	parse_ok("en/d.md", "Title: Пароль\n\nТекст по-русски.\n", &a);
	assert_string_equal(a.language, "en");
	pd_kb_article_free(&a);
}

static void test_errors(void **state)
{
	(void)state;

	parse_bad("a.md", "Just text\nwithout a title\n", "a.md:1: no title");
	parse_bad("a.md", "Keywords: x\nURL: https://e.example\n\n\nbody\n", "a.md:5: no title");
	parse_bad("a.md", "", "a.md:1: no title");
	parse_bad("a.md", "Title:   \n\nbody\n", "a.md:1: empty title");
	parse_bad("a.md", "Title: A\nKeywords: x\nTitle: B\n\nbody\n",
		  "a.md:3: \"Title:\" given twice (first on line 1)");
	parse_bad("a.md", "Title: A\nLanguage: de\n\nbody\n", "a.md:2: language \"de\"");
	parse_bad("a.md", "Title: A\nURL: ftp://x.example/a\n\nbody\n", "a.md:2: URL");
	parse_bad("a.md", "Title: A\nURL: https://\n\nbody\n", "a.md:2: URL");
	parse_bad("a.md", "Title: A\nURL: https://x.example/a b\n\nbody\n", "a.md:2: URL");
	parse_bad("a.md", "Title: A\n\n\n", "a.md:1: the article has a title but neither");
	parse_bad("a.md", "\n\n# Only a heading\n", "a.md:3: the article has a title but");
	/* windows-1251 "Пароль" on line 3 */
	parse_bad("a.txt", "Title: A\n\n\xcf\xe0\xf0\xee\xeb\xfc\n", "a.txt:3: not UTF-8");
	parse_bad("a.txt", "Title: \xd0\n\nx\n", "a.txt:1: not UTF-8");
	/* an overlong encoding is not UTF-8 either */
	parse_bad("a.txt", "Title: A\n\nx \xc0\xaf y\n", "a.txt:3: not UTF-8");

	struct pd_kb_article a;
	char *error = NULL;
	static const char nul[] = "Title: A\n\nx\0y\n";
	assert_int_equal(pd_kb_parse("n.md", "n.md", nul, sizeof(nul) - 1, &a, &error), -1);
	assert_string_equal(error, "n.md:3: NUL byte (not a text file)");
	free(error);

	size_t big = PD_KB_MAX_FILE + 1;
	char *text = pd_xmalloc(big + 1);
	memset(text, 'x', big);
	memcpy(text, "Title: A\n\n", 10);
	text[big] = '\0';
	assert_int_equal(pd_kb_parse("big.md", "big.md", text, big, &a, &error), -1);
	assert_non_null(strstr(error, "big.md: larger than"));
	free(error);
	free(text);
}

/* ----------------------------------------------------------- folders */

static void put(const char *dir, const char *rel, const char *text)
{
	char *path = pd_xasprintf("%s/%s", dir, rel);
	char *slash = strrchr(path, '/');

	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void test_load_dir(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_kb.XXXXXX";
	char *dir = mkdtemp(tmpl);
	struct pd_kb_set set;
	struct pd_kb_errors errs = {NULL, 0};

	assert_non_null(dir);
	put(dir, "en/b-labels.md", "Title: Labels\n\nPrint them.\n");
	put(dir, "en/a-password.txt", "Title: Password\n\nReset it.\n");
	put(dir, "ru/parol.md", "# Пароль\n\nСбросьте его.\n");
	put(dir, "en/notes.html", "<p>not an article</p>\n");
	put(dir, ".hidden/x.md", "no title at all\n");
	put(dir, "en/.draft.md", "no title at all\n");
	assert_int_equal(pd_kb_load_dir(dir, &set, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(set.n, 3);
	/* name order, folders included */
	assert_string_equal(set.v[0].slug, "en/a-password");
	assert_string_equal(set.v[1].slug, "en/b-labels");
	assert_string_equal(set.v[2].slug, "ru/parol");
	assert_string_equal(set.v[2].language, "ru");
	assert_string_equal(set.v[2].title, "Пароль");
	char *want = pd_xasprintf("%s/en/a-password.txt", dir);
	assert_string_equal(set.v[0].file, want);
	free(want);
	pd_kb_set_free(&set);

	/* a trailing slash changes nothing */
	char *slashed = pd_xasprintf("%s/", dir);
	assert_int_equal(pd_kb_load_dir(slashed, &set, &errs), 0);
	assert_int_equal(set.n, 3);
	assert_string_equal(set.v[0].slug, "en/a-password");
	pd_kb_set_free(&set);
	free(slashed);

	/* every problem is reported, not just the first */
	put(dir, "en/a-password.md", "Title: Password again\n\nx\n");
	put(dir, "ru/bad.md", "Keywords: x\n\nno title\n");
	assert_int_equal(pd_kb_load_dir(dir, &set, &errs), -1);
	assert_int_equal(errs.n, 2);
	assert_non_null(strstr(errs.v[0], "en/a-password.txt: the same article name "
					   "\"en/a-password\" as "));
	assert_non_null(strstr(errs.v[1], "/ru/bad.md:3: no title"));
	pd_kb_errors_free(&errs);
	assert_int_equal(errs.n, 0);
	pd_kb_set_free(&set);

	char *cmd = pd_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);

	/* no such folder, and a file instead of one */
	assert_int_equal(pd_kb_load_dir("/nonexistent/kb", &set, &errs), -1);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0], "/nonexistent/kb: No such file"));
	pd_kb_errors_free(&errs);
	assert_int_equal(pd_kb_load_dir("/etc/hostname", &set, &errs), -1);
	assert_non_null(strstr(errs.v[0], "not a folder"));
	pd_kb_errors_free(&errs);
}

/* The shipped sample knowledge base loads without a problem. */
static void test_shipped_kb(void **state)
{
	(void)state;
	char *top = top_srcdir();
	char *dir = pd_xasprintf("%s/conf/kb", top);
	struct pd_kb_set set;
	struct pd_kb_errors errs = {NULL, 0};
	size_t en = 0, ru = 0;

	if (pd_kb_load_dir(dir, &set, &errs) != 0)
		fail_msg("%s", errs.n ? errs.v[0] : "?");
	for (size_t i = 0; i < set.n; i++) {
		const struct pd_kb_article *a = &set.v[i];
		bool in_ru = strncmp(a->slug, "ru/", 3) == 0;
		assert_string_equal(a->language, in_ru ? "ru" : "en");
		assert_true(a->n_keywords >= 3);
		assert_true(a->body[0] != '\0');
		*(in_ru ? &ru : &en) += 1;
	}
	assert_true(en >= 5);
	assert_true(ru >= 5);
	pd_kb_set_free(&set);
	free(dir);
	free(top);
}

/* ----------------------------------------------------------- mail side */

static void test_query_text(void **state)
{
	(void)state;
	char *t = pd_kb_query_text("Subject", "Body");
	assert_string_equal(t, "Subject\nBody");
	free(t);
	t = pd_kb_query_text(NULL, NULL);
	assert_string_equal(t, "\n");
	free(t);
	/* quoted lines are someone else's words */
	t = pd_kb_query_text("Re: invoice", "Thanks, paid.\n\n> Your invoice 118\n  > is attached\nBye");
	assert_string_equal(t, "Re: invoice\nThanks, paid.\n\nBye");
	free(t);

	/* the body is cut at PD_KB_QUERY_BODY bytes, never inside a character:
	 * "x" then two-byte letters, so byte PD_KB_QUERY_BODY is a second half */
	size_t n = PD_KB_QUERY_BODY + 101;
	char *body = pd_xmalloc(n + 1);
	body[0] = 'x';
	for (size_t i = 1; i + 1 < n; i += 2)
		memcpy(body + i, "\xd0\xb6", 2); /* ж */
	body[n - 1] = '\0';
	t = pd_kb_query_text("S", body);
	assert_int_equal(strlen(t), 2 + PD_KB_QUERY_BODY - 1);
	assert_true(pd_utf8_valid(t, strlen(t)));
	free(t);
	free(body);
}

static void test_excerpt(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		size_t max;
		const char *want;
	} cases[] = {
		{"", 50, ""},
		{"One line.", 50, "One line."},
		{"First  paragraph\nwraps  here.\n\nSecond one.", 50, "First paragraph wraps here."},
		{"## Heading\n\n* **Bold** item\n- `code` item\n\nlater", 50, "Bold item code item"},
		{"1. Step one\n2. Step two", 50, "Step one Step two"},
		{"alpha beta gamma delta epsilon", 16, "alpha beta…"},
		{"Verylongwordwithoutspaces", 10, "Verylongw…"},
		{"Короткий текст статьи про пароль", 20, "Короткий текст…"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		char *e = pd_kb_excerpt(cases[i].body, cases[i].max);
		if (strcmp(e, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, e, cases[i].want);
		free(e);
	}
}

static void test_section(void **state)
{
	(void)state;
	char *s = pd_kb_section("en", NULL, 0);
	assert_string_equal(s, "");
	free(s);

	struct pd_kb_hit hits[] = {
		{"Resetting a password", "https://help.example.com/reset", "ignored"},
		{"Printing labels", "",
		 "Large label batches are generated in the background. When a batch of more "
		 "than 300 parcels is printed at once, the portal may answer \"Error 502\" while "
		 "the labels are still being generated, so wait two minutes and look again "
		 "under Shipping, where finished batches can be downloaded."},
		{"Short", NULL, "Just this."},
	};
	s = pd_kb_section("en", hits, 3);
	assert_string_equal(
	    s, "These articles may help you right away:\n"
	       "\n"
	       "  * Resetting a password\n"
	       "    https://help.example.com/reset\n"
	       "\n"
	       "  * Printing labels\n"
	       "    Large label batches are generated in the background. When a batch of\n"
	       "    more than 300 parcels is printed at once, the portal may answer\n"
	       "    \"Error 502\" while the labels are still being generated, so…\n"
	       "\n"
	       "  * Short\n"
	       "    Just this.\n");
	free(s);

	s = pd_kb_section("ru", hits, 1);
	assert_string_equal(s, "Возможно, ответ уже есть в этих статьях:\n"
			       "\n"
			       "  * Resetting a password\n"
			       "    https://help.example.com/reset\n");
	free(s);

	/* every excerpt line fits in 72 columns, three lines at most, even
	 * with one endless word */
	char word[400];
	memset(word, 'w', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	struct pd_kb_hit one = {"T", NULL, word};
	s = pd_kb_section("en", &one, 1);
	int lines = 0;
	for (char *p = strstr(s, "  * T\n") + 6; *p; lines++) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl - p <= 72 + 2); /* "…" is three bytes, one column */
		p = nl + 1;
	}
	assert_true(lines >= 1 && lines <= 3);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),     cmocka_unit_test(test_markdown_title),
		cmocka_unit_test(test_language),    cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load_dir),    cmocka_unit_test(test_shipped_kb),
		cmocka_unit_test(test_query_text),  cmocka_unit_test(test_excerpt),
		cmocka_unit_test(test_section),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
