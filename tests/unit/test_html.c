/*
 * test_html.c - HTML to text: one case per conversion rule, then hostile
 * input (deep nesting, formatting-element floods, bad UTF-8, NUL bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "html.h"
#include "util.h"

/* pd_html_to_text of a C string. */
static char *conv(const char *html)
{
	return pd_html_to_text(html, strlen(html));
}

/* One case (or a few) per conversion rule of html.h. */
static void test_rules(void **state)
{
	(void)state;
	static const struct {
		const char *html, *text;
	} cases[] = {
		/* paragraphs and blocks */
		{"<p>Hello</p><p>World</p>", "Hello\n\nWorld"},
		{"<div>a</div><div>b</div>", "a\nb"},
		{"<h1>Title</h1>text", "Title\n\ntext"},
		/* dropped elements */
		{"<html><head><title>T</title><style>p{color:red}</style></head>"
		 "<body><script>alert(1)</script>Hi</body></html>", "Hi"},
		{"<body>a<noscript>enable js</noscript> shown</body>", "a shown"},
		/* line breaks */
		{"a<br>b<br><br>c", "a\nb\n\nc"},
		{"<br><br>a", "a"},
		/* lists, nested lists indented */
		{"<ul><li>one</li><li>two</li></ul>", "- one\n- two"},
		{"<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>", "- a\n  - b\n- c"},
		{"<p>before</p><ol><li>x</li></ol><p>after</p>", "before\n\n- x\n\nafter"},
		/* links */
		{"<a href=\"http://x.example/a\">click</a>", "click <http://x.example/a>"},
		{"see <a href=\"https://x.example/\">https://x.example/</a>.", "see https://x.example/."},
		{"<a href=\"http://x.example\">x.example</a>", "x.example"},
		{"<a href=\"mailto:a@b.example\">a@b.example</a>", "a@b.example"},
		{"<a href=\"mailto:a@b.example\">write us</a>", "write us <mailto:a@b.example>"},
		{"<a href=\"javascript:void(0)\">js</a>", "js"},
		{"<a href=\"#top\">up</a>", "up"},
		{"<a href=\"http://img.example/\"><img src=x></a>", "<http://img.example/>"},
		/* tables */
		{"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>",
		 "a\tb\nc\td"},
		{"<table><tr><th>Name</th><th>Qty</th></tr></table>", "Name\tQty"},
		/* whitespace */
		{"<p>a   \n\t b</p>", "a b"},
		{"  lead and trail  ", "lead and trail"},
		{"a&nbsp;&nbsp;b", "a b"},
		{"<pre>a\n  b</pre>", "a\n  b"},
		/* entities */
		{"&lt;tag&gt; &amp; &eacute; &#x416; &#1046;", "<tag> & \xc3\xa9 \xd0\x96 \xd0\x96"},
		/* at most one blank line */
		{"<p>a</p><p></p><p></p><br><div>b</div>", "a\n\nb"},
		{"<p>a</p>\n\n\n<p>b</p>", "a\n\nb"},
		/* inline elements do not break */
		{"<p>a <b>bold</b> <i>it</i>.</p>", "a bold it."},
		{"", ""},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		char *t = conv(cases[i].html);
		if (strcmp(t, cases[i].text) != 0)
			print_error("case %zu: %s\n got [%s]\nwant [%s]\n", i, cases[i].html, t,
				    cases[i].text);
		assert_string_equal(t, cases[i].text);
		free(t);
	}
	char *t = pd_html_to_text(NULL, 0);
	assert_string_equal(t, "");
	free(t);
}

/* A string of n copies of unit (owned by the caller). */
static char *repeat(const char *unit, size_t n, size_t *len_r)
{
	size_t ul = strlen(unit);
	char *s = pd_xmalloc(ul * n + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	*len_r = ul * n;
	return s;
}

/*
 * Inputs that overflow gumbo's recursive free or make its tree builder
 * quadratic: they must take the stripper path, finish in time, keep the
 * text at the end and give valid UTF-8.
 */
static void test_hostile(void **state)
{
	(void)state;
	static const struct {
		const char *unit;
		size_t n;
	} cases[] = {
		{"<div>", 300000},              /* gumbo frees recursively: stack */
		{"<b id=x>", 50000},            /* active formatting list */
		{"<p><b>", 50000},              /* reconstruction per paragraph */
		{"<table><tr><td>", 20000},     /* nested tables */
		{"<a href=\"http://x\">", 20000},
		{"<i><b><u>", 100000},
		{"</div>", 100000},
		{"<!--", 1000},
		{"&#x110000;&#0;&bogus;&", 1000},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		size_t len;
		char *html = repeat(cases[i].unit, cases[i].n, &len);
		/* text at the very end must survive */
		html = pd_xrealloc(html, len + 8);
		memcpy(html + len, "tail", 5);
		char *t = pd_html_to_text(html, len + 4);
		assert_true(pd_utf8_valid(t, strlen(t)));
		if (strstr(cases[i].unit, "<!--") == NULL)
			assert_non_null(strstr(t, "tail"));
		free(t);
		free(html);
	}
}

/* Invalid UTF-8 and NUL bytes in the HTML: valid output, nothing lost after them. */
static void test_bad_bytes(void **state)
{
	(void)state;
	/* invalid UTF-8 and NUL bytes: valid output, nothing after them lost */
	static const char in[] = "<p>a\xff\xfe b\0c</p><p>\xe2\x82 end</p>";
	char *t = pd_html_to_text(in, sizeof(in) - 1);
	assert_true(pd_utf8_valid(t, strlen(t)));
	assert_non_null(strstr(t, "end"));
	assert_non_null(strstr(t, "a"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_bad_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
