/*
 * test_html.c - HTML to text: one case per conversion rule, then hostile
 * input (deep nesting, formatting-element floods, bad UTF-8, NUL bytes).
 * Then the sanitiser: its whitelist case by case, each mail client's quoted
 * history and the notice's markers with PD_HTML_SANITIZE_STRIP_QUOTES, and
 * input too hostile for gumbo.
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

/* ------------------------------------------------------------ sanitiser */

#define BEGIN "======== postdesk notice: answer above or below; nothing between these " \
	      "lines reaches the customer ========"
#define END "======== end of postdesk notice ========"
/* A notice's text/html: its marker lines in <p> elements. */
#define NOTICE_HTML                                                                  \
	"<p>" BEGIN "</p><p>Ticket #42: a message from Carl &lt;carl@example.org&gt;</p>" \
	"<p>INTERNAL: customer is on the old contract</p><p>" END "</p>"

struct scase {
	const char *name, *html, *want;
};

static void run_sanitize(const struct scase *c, size_t n, unsigned flags)
{
	for (size_t i = 0; i < n; i++) {
		char *out = NULL;
		assert_int_equal(pd_html_sanitize(c[i].html, strlen(c[i].html), flags, &out), 0);
		assert_non_null(out);
		if (strcmp(out, c[i].want) != 0)
			fail_msg("case %zu (%s):\n got [%s]\nwant [%s]", i, c[i].name, out, c[i].want);
		assert_true(pd_utf8_valid(out, strlen(out)));
		assert_null(strcasestr(out, "<script"));
		assert_null(strcasestr(out, "src=\"http"));
		assert_null(strstr(out, "INTERNAL"));
		free(out);
	}
}

/* The whitelist: what is kept, what goes with its content, what is
 * unwrapped, and how text and attribute values are escaped. */
static void test_sanitize_whitelist(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{"script and on* attributes", "<p onclick=\"x()\">Hi<script>alert(1)</script></p>",
		 "<p>Hi</p>"},
		{"onerror on an image", "<img src=x onerror=\"alert(1)\">", ""},
		{"remote image becomes its alt text",
		 "<p><img src=\"http://tracker.example/p.gif\" alt=\"Logo &amp; co\"></p>",
		 "<p>Logo &amp; co</p>"},
		{"protocol-relative image", "<img src=\"//tracker.example/p.gif\">", ""},
		{"data: image", "<img src=\"data:image/png;base64,AAAA\" alt=\"dot\">", "dot"},
		{"cid: image kept", "<img src=\"cid:part1.abc@example.com\" alt=\"scan\" width=\"10\" "
		 "srcset=\"http://x/a.png 2x\">",
		 "<img src=\"cid:part1.abc@example.com\" alt=\"scan\" width=\"10\">"},
		{"javascript: link", "<a href=\"javascript:alert(1)\">x</a>", "x"},
		{"javascript: link, spaced and mixed case", "<a href=\" JaVaScRiPt:alert(1)\">x</a>", "x"},
		{"javascript: link, entity-encoded", "<a href=\"&#106;avascript:alert(1)\">x</a>", "x"},
		{"data: link", "<a href=\"data:text/html,&lt;script&gt;\">x</a>", "x"},
		{"https link kept, other attributes dropped",
		 "<a href=\"https://example.com/?a=1&amp;b=2\" target=\"_blank\" id=\"l\" class=\"c\">x</a>",
		 "<a href=\"https://example.com/?a=1&amp;b=2\">x</a>"},
		{"mailto link kept", "<a href=\"mailto:a@example.com\">a</a>",
		 "<a href=\"mailto:a@example.com\">a</a>"},
		{"CSS url()", "<div style=\"background:url(http://x.example/y.png)\">t</div>",
		 "<div>t</div>"},
		{"CSS url() in capitals", "<div style=\"BACKGROUND: URL(http://x.example/y.png)\">t</div>",
		 "<div>t</div>"},
		{"CSS image-set()", "<div style=\"background-image:image-set('x.png' 1x)\">t</div>",
		 "<div>t</div>"},
		{"CSS escape", "<div style=\"background:u\\72l(http://x)\">t</div>", "<div>t</div>"},
		{"CSS comment", "<div style=\"background:ur/**/l(http://x)\">t</div>", "<div>t</div>"},
		{"CSS expression", "<div style=\"width:expression(alert(1))\">t</div>", "<div>t</div>"},
		{"CSS @import", "<div style=\"@import 'http://x'\">t</div>", "<div>t</div>"},
		{"harmless CSS kept", "<div style=\"color:red; background: rgb(1, 2, 3)\">t</div>",
		 "<div style=\"color:red; background: rgb(1, 2, 3)\">t</div>"},
		{"style element", "<style>body{background:url(http://x)}</style><p>t</p>", "<p>t</p>"},
		{"iframe, object, embed, form controls",
		 "<iframe src=\"http://x\"></iframe><object data=\"x\">o</object><embed src=\"x\">"
		 "<form action=\"http://x\"><input name=\"a\">text<button>Go</button></form>",
		 "text"},
		{"meta, base, link", "<html><head><meta http-equiv=\"refresh\" content=\"0;url=http://x\">"
		 "<base href=\"http://x/\"><link rel=\"stylesheet\" href=\"http://x\"></head>"
		 "<body><p>t</p></body></html>",
		 "<p>t</p>"},
		{"svg and math", "<svg><script>alert(1)</script><image href=\"http://x\"/></svg>"
		 "<math><mi>x</mi></math>ok",
		 "ok"},
		{"noscript and template", "<noscript><img src=\"http://x\"></noscript>"
		 "<template><p>t</p></template>ok",
		 "ok"},
		{"table background", "<table background=\"http://x/bg.png\" border=\"1\"><tr>"
		 "<td bgcolor=\"#fff\">a</td></tr></table>",
		 "<table border=\"1\"><tbody><tr><td bgcolor=\"#fff\">a</td></tr></tbody></table>"},
		{"unknown elements unwrapped", "<p>a<o:p>b</o:p><custom-tag x=1>c</custom-tag></p>",
		 "<p>abc</p>"},
		{"text escaped", "a &lt;script&gt; &amp; \"q\"", "a &lt;script&gt; &amp; &quot;q&quot;"},
		{"attribute values escaped", "<p title='a\"b<c>&amp;'>x</p>",
		 "<p title=\"a&quot;b&lt;c&gt;&amp;\">x</p>"},
		{"comments dropped", "<!-- secret --><p>x<!--[if mso]>y<![endif]--></p>", "<p>x</p>"},
		{"UTF-8 and entities", "<p>Привет&nbsp;&eacute;</p>", "<p>Привет\xc2\xa0\xc3\xa9</p>"},
		{"lists and formatting", "<ul><li><b>a</b></li><li><i>b</i></li></ul>",
		 "<ul><li><b>a</b></li><li><i>b</i></li></ul>"},
		{"quotes stay without the flag",
		 "<blockquote type=\"cite\">a<blockquote type=\"cite\">b</blockquote></blockquote>",
		 "<blockquote type=\"cite\">a<blockquote type=\"cite\">b</blockquote></blockquote>"},
		{"empty", "", ""},
	};
	run_sanitize(cases, PD_ARRAY_LEN(cases), 0);

	char *out = NULL;
	assert_int_equal(pd_html_sanitize(NULL, 0, 0, &out), 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(pd_html_sanitize("x", 1, 0, NULL), -1);
	/* bad bytes: valid UTF-8 out */
	static const char bad[] = "<p>a\xff\xfe b\0c</p><p>\xe2\x82 end</p>";
	assert_int_equal(pd_html_sanitize(bad, sizeof(bad) - 1, 0, &out), 0);
	assert_true(pd_utf8_valid(out, strlen(out)));
	assert_non_null(strstr(out, "end"));
	free(out);
}

/* PD_HTML_SANITIZE_STRIP_QUOTES over each client's reply to a notice. */
static void test_sanitize_quotes(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{"Thunderbird", "<html><head><meta http-equiv=\"content-type\" content=\"text/html; "
		 "charset=UTF-8\"></head><body><p>Please restart it.</p><div class=\"moz-cite-prefix\">"
		 "On 12/7/26 10:00, Support wrote:<br></div><blockquote type=\"cite\" "
		 "cite=\"mid:n42@example.com\">" NOTICE_HTML "</blockquote><br></body></html>",
		 "<p>Please restart it.</p><br>"},
		{"Thunderbird, answer below", "<div class=\"moz-cite-prefix\">On 12/7/26 10:00, Support "
		 "wrote:<br></div><blockquote type=\"cite\">" NOTICE_HTML "</blockquote><p>Below.</p>",
		 "<p>Below.</p>"},
		{"Gmail", "<div dir=\"ltr\">Please restart it.</div><br><div class=\"gmail_quote "
		 "gmail_quote_container\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon, 7 Dec 2026 at "
		 "10:00, Support &lt;<a href=\"mailto:support@example.com\">support@example.com</a>&gt; "
		 "wrote:<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;"
		 "border-left:1px solid rgb(204,204,204);padding-left:1ex\">" NOTICE_HTML
		 "</blockquote></div>",
		 "<div dir=\"ltr\">Please restart it.</div><br>"},
		{"Outlook on the web", "<div style=\"font-family:Calibri\">Please restart it.</div>"
		 "<div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\" "
		 "tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri\"><b>From:"
		 "</b> Support<br><b>Sent:</b> Monday</font></div><div>" NOTICE_HTML "</div>",
		 "<div style=\"font-family:Calibri\">Please restart it.</div>"},
		{"Outlook on the web, no #appendonsend", "<div>Please restart it.</div><hr "
		 "style=\"display:inline-block;width:98%\"><div id=\"divRplyFwdMsg\" dir=\"ltr\">"
		 "From: Support</div><div>" NOTICE_HTML "</div>",
		 "<div>Please restart it.</div>"},
		{"Outlook desktop", "<div class=\"WordSection1\"><p class=\"MsoNormal\">Please restart "
		 "it.<o:p></o:p></p><div><div style=\"border:none;border-top:solid #E1E1E1 1.0pt;"
		 "padding:3.0pt 0cm 0cm 0cm\"><p class=\"MsoNormal\"><b>From:</b> Support<br><b>Sent:"
		 "</b> Monday</p></div></div><p class=\"MsoNormal\">INTERNAL history</p>" NOTICE_HTML
		 "</div>",
		 "<div><p>Please restart it.</p><div></div></div>"},
		{"Outlook 2010 border colour", "<p>Done.</p><div style=\"border:none;border-top:solid "
		 "#B5C4DF 1.0pt;padding:3.0pt 0in 0in 0in\"><p>From: Support</p></div><p>INTERNAL</p>",
		 "<p>Done.</p>"},
		{"Apple Mail on iOS", "<html><head></head><body dir=\"auto\">Please restart it.<br>"
		 "<div dir=\"ltr\"><br><blockquote type=\"cite\">On 7 Dec 2026, at 10:00, Support "
		 "&lt;support@example.com&gt; wrote:<br><br></blockquote></div><blockquote "
		 "type=\"cite\"><div dir=\"ltr\">" NOTICE_HTML "</div></blockquote></body></html>",
		 /* the div holding the first quote reads as an attribution: it goes too */
		 "Please restart it.<br>"},
		{"Apple Mail on macOS, attribution before the quote", "<div>Please restart it.</div>"
		 "<div><br><div>On 7 Dec 2026, at 10:00, Support &lt;support@example.com&gt; wrote:"
		 "</div><br class=\"Apple-interchange-newline\"><blockquote type=\"cite\">" NOTICE_HTML
		 "</blockquote></div>",
		 "<div>Please restart it.</div><div><br><br></div>"},
		{"new Outlook for Mac", "<div>Done.</div><div id=\"mail-editor-reference-message-"
		 "container\"><div><b>From: </b>Support</div>" NOTICE_HTML "</div>",
		 "<div>Done.</div>"},
		{"Zimbra", "<div>Done.</div><hr id=\"zwchr\"><div><b>From: </b>Support</div>"
		 NOTICE_HTML,
		 "<div>Done.</div>"},
		{"Yahoo and Proton", "<div>Done.</div><div class=\"yahoo_quoted\">INTERNAL</div>"
		 "<div class=\"protonmail_quote\">INTERNAL</div><div>Ann</div>",
		 "<div>Done.</div><div>Ann</div>"},
		{"nested quotes", "<p>Answer.</p><blockquote type=\"cite\">INTERNAL<blockquote "
		 "type=\"cite\">INTERNAL deeper</blockquote></blockquote>",
		 "<p>Answer.</p>"},
		{"markers in an unknown container", "<div>Answer</div><div class=\"x\">" NOTICE_HTML
		 "</div><div>Below</div>",
		 "<div>Answer</div><div></div><div>Below</div>"},
		{"marker inside a span inside a paragraph", "<p>Answer</p><p><span style=\"color:grey\">"
		 BEGIN "</span></p><p>INTERNAL</p><p><b>" END "</b></p><p>Below</p>",
		 "<p>Answer</p><p>Below</p>"},
		{"markers as text right in the body", "Answer<br>" BEGIN "<br>INTERNAL<br>" END
		 "<br>Below",
		 "Answer<br><br>Below"},
		{"the attribution before an unquoted notice", "<p>Answer</p><div>On 12/7/26 10:00, "
		 "Support wrote:</div>" NOTICE_HTML,
		 "<p>Answer</p>"},
		{"BEGIN without END: to the end of its parent", "<div><p>Answer</p></div><div><p>"
		 BEGIN "</p><p>INTERNAL</p></div><p>Below</p>",
		 "<div><p>Answer</p></div><div></div><p>Below</p>"},
		{"END alone", "<p>Answer</p><p>" END "</p>", "<p>Answer</p>"},
		{"an ordinary blockquote stays", "<p>As the manual says:</p><blockquote>Restart "
		 "it.</blockquote>",
		 "<p>As the manual says:</p><blockquote>Restart it.</blockquote>"},
		{"a colon line before a plain blockquote stays", "<div>Steps:</div><blockquote>"
		 "1</blockquote>",
		 "<div>Steps:</div><blockquote>1</blockquote>"},
	};
	run_sanitize(cases, PD_ARRAY_LEN(cases), PD_HTML_SANITIZE_STRIP_QUOTES);
}

/* Input too big or deep for gumbo: escaped text, safe, quotes cut. */
static void test_sanitize_hostile(void **state)
{
	(void)state;
	size_t len;
	char *html = repeat("<div>", 300000, &len);
	html = pd_xrealloc(html, len + 200);
	strcpy(html + len, "<script>alert(1)</script>tail<p>" BEGIN "</p>INTERNAL");
	char *out = NULL;
	assert_int_equal(pd_html_sanitize(html, strlen(html), PD_HTML_SANITIZE_STRIP_QUOTES, &out),
			 0);
	assert_null(strcasestr(out, "<script"));
	assert_null(strstr(out, "INTERNAL"));
	assert_non_null(strstr(out, "tail"));
	free(out);
	free(html);

	html = repeat("<blockquote type=cite><br>", 900, &len);
	assert_int_equal(pd_html_sanitize(html, len, PD_HTML_SANITIZE_STRIP_QUOTES, &out), 0);
	assert_string_equal(out, "");
	free(out);
	free(html);
	html = repeat("<p>" BEGIN "</p><div>x</div>", 5000, &len);
	assert_int_equal(pd_html_sanitize(html, len, PD_HTML_SANITIZE_STRIP_QUOTES, &out), 0);
	assert_string_equal(out, "");
	free(out);
	free(html);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_sanitize_whitelist),
		cmocka_unit_test(test_sanitize_quotes),
		cmocka_unit_test(test_sanitize_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
