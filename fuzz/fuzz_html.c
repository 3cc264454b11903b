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

/* What pd_html_sanitize promises: text and values are escaped (no raw '"'
 * outside a tag), so every '="' closes an attribute name of the whitelist. */
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
	for (const char *p = strstr(h, "=\""); p != NULL; p = strstr(p + 2, "=\"")) {
		const char *q = p;
		while (q > h && q[-1] != ' ')
			q--;
		REQUIRE(q > h + 1); /* a name after "<tag " */
		bool known = false;
		for (size_t i = 0; i < PD_ARRAY_LEN(names) && !known; i++)
			known = strlen(names[i]) == (size_t)(p - q) &&
				strncmp(q, names[i], (size_t)(p - q)) == 0;
		REQUIRE(known);
		if (strncmp(q, "href", 4) == 0)
			REQUIRE(strncasecmp(p + 2, "http://", 7) == 0 ||
				strncasecmp(p + 2, "https://", 8) == 0 ||
				strncasecmp(p + 2, "mailto:", 7) == 0);
		if (strncmp(q, "src", 3) == 0)
			REQUIRE(strncasecmp(p + 2, "cid:", 4) == 0);
		if (strncmp(q, "style", 5) == 0) {
			const char *e = strchr(p + 2, '"');
			REQUIRE(e != NULL);
			char *v = pd_xstrndup(p + 2, (size_t)(e - p - 2));
			REQUIRE(strcasestr(v, "url(") == NULL && strchr(v, '\\') == NULL);
			free(v);
		}
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
	(void)pd_render_detect_language(u, u);

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
