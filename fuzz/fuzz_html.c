/*
 * fuzz_html.c - mail text in and out: an HTML body to plain text (html.c,
 * as the MIME parser uses it for HTML-only mail), and the text that
 * render.c puts into outbound mail (RFC 2047 header encoding, the tagged
 * subject, template expansion, the language guess).
 *
 * Input is made valid UTF-8 first (pd_mime_to_utf8), as both modules
 * receive it.  Checked besides memory and UB: the HTML text is valid UTF-8;
 * an encoded header is printable ASCII with no line break other than
 * CRLF folding; the tagged subject has no control characters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *u = pd_mime_to_utf8("utf-8", (const char *)data, size);

	if (u == NULL)
		return 0;
	size_t len = strlen(u);

	char *text = pd_html_to_text(u, len);
	REQUIRE(text != NULL && pd_utf8_valid(text, strlen(text)));
	free(text);

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
