/*
 * fuzz_html.c - mail text in and out: an HTML body to plain text (html.c,
 * as the MIME parser uses it for HTML-only mail), and the text that
 * render.c puts into outbound mail (RFC 2047 header encoding, the tagged
 * subject, template expansion, the language guess).
 *
 * The same HTML also goes through the sanitiser (pd_html_sanitize, with
 * and without PD_HTML_SANITIZE_STRIP_QUOTES), as it is relayed.
 *
 * Input is made valid UTF-8 first (pd_mime_to_utf8), as both modules
 * receive it.  Checked besides memory and UB: the HTML text is valid UTF-8;
 * the sanitised HTML is valid UTF-8 with no "<script", no src="http", no
 * attribute outside the whitelist and no href but http:, https:, mailto:;
 * an encoded header is printable ASCII with no line break other than
 * CRLF folding; the tagged subject has no control characters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "fuzz.h"
#include "html.h"
#include "language.h"
#include "mime.h"
#include "render.h"
#include "util.h"

#define REQUIRE(cond)                                                                     \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz_html: %s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                                         \
			abort();                                                          \
		}                                                                         \
	} while (0)

static void check_header(const char *h)
{
	for (const char *p = h; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '\r') {
			/* folding: CRLF followed by white space */
			REQUIRE(p[1] == '\n' && (p[2] == ' ' || p[2] == '\t'));
			p++;
			continue;
		}
		REQUIRE(ch >= 0x20 && ch < 0x7f);
	}
}

/*
 * What pd_html_sanitize promises, read back with a scanner of our own: text
 * and values are escaped, so every raw '<' opens a tag and every raw '"'
 * delimits a value; each tag is <name attr="value" ...> or </name>, every
 * attribute is on the whitelist, href is http/https/mailto, src is cid:,
 * style has no url( and no escape.
 */
static void check_sanitized(const char *h)
{
	static const char *const names[] = {
		"align", "alt", "bgcolor", "border", "cellpadding", "cellspacing", "color",
		"colspan", "dir", "face", "height", "lang", "reversed", "rowspan", "size", "span",
		"start", "title", "type", "valign", "width", "href", "src", "style",
	};

	REQUIRE(pd_utf8_valid(h, strlen(h)));
	REQUIRE(strcasestr(h, "<script") == NULL);
	REQUIRE(strcasestr(h, "src=\"http") == NULL);
	for (const char *p = strchr(h, '<'); p != NULL; p = strchr(p, '<')) {
		p++;
		if (*p == '/')
			p++;
		REQUIRE(*p >= 'a' && *p <= 'z');
		while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
			p++;
		while (*p == ' ') {
			const char *n = ++p;
			while (*p >= 'a' && *p <= 'z')
				p++;
			size_t nl = (size_t)(p - n);
			bool known = false;
			for (size_t i = 0; i < PD_ARRAY_LEN(names) && !known; i++)
				known = strlen(names[i]) == nl && strncmp(n, names[i], nl) == 0;
			REQUIRE(known && p[0] == '=' && p[1] == '"');
			const char *v = p + 2, *e = strchr(v, '"');
			REQUIRE(e != NULL);
			if (nl == 4 && strncmp(n, "href", 4) == 0)
				REQUIRE(strncasecmp(v, "http://", 7) == 0 ||
					strncasecmp(v, "https://", 8) == 0 ||
					strncasecmp(v, "mailto:", 7) == 0);
			if (nl == 3 && strncmp(n, "src", 3) == 0)
				REQUIRE(strncasecmp(v, "cid:", 4) == 0);
			if (nl == 5 && strncmp(n, "style", 5) == 0) {
				char *css = pd_xstrndup(v, (size_t)(e - v));
				REQUIRE(strcasestr(css, "url(") == NULL && strchr(css, '\\') == NULL);
				free(css);
			}
			p = e + 1;
		}
		REQUIRE(*p == '>');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *u = pd_mime_to_utf8("utf-8", (const char *)data, size);

	if (u == NULL)
		return 0;
	size_t len = strlen(u);

	char *text = pd_html_to_text(u, len);
	REQUIRE(text != NULL && pd_utf8_valid(text, strlen(text)));
	free(text);

	/* a customer's or an agent's HTML relayed */
	for (unsigned flags = 0; flags <= PD_HTML_SANITIZE_STRIP_QUOTES; flags++) {
		char *clean = NULL;
		REQUIRE(pd_html_sanitize(u, len, flags, &clean) == 0 && clean != NULL);
		check_sanitized(clean);
		free(clean);
	}

	/* outbound: a customer's subject in our headers */
	char *h = pd_render_header_encode("Subject", u);
	check_header(h);
	free(h);
	char *tagged = pd_render_tagged_subject("Support", 42, u);
	for (const char *p = tagged; *p; p++)
		REQUIRE((unsigned char)*p >= 0x20 && *p != 0x7f);
	REQUIRE(pd_utf8_valid(tagged, strlen(tagged)));
	free(tagged);
	(void)pd_language_detect(u, u);

	/* a template written by the operator, with the customer's text as values */
	const struct pd_render_var vars[] = {
	    {"ticket.number", "42"},
	    {"customer.name", u},
	    {"subject", u},
	};
	struct pd_err err;
	pd_err_clear(&err);
	char *x = pd_template_expand(u, vars, PD_ARRAY_LEN(vars), &err);
	free(x);

	free(u);
	return 0;
}
