/*
 * html.h - HTML mail body to readable plain text, with gumbo.
 *
 * Drops script/style/head, turns block elements into line breaks, lists into
 * "- " items, links into "text <url>" when the URL differs from the text,
 * decodes entities, collapses whitespace.  Input must already be UTF-8.
 */
#ifndef PD_HTML_H
#define PD_HTML_H

#include <stddef.h>

/* Returns newly allocated UTF-8 text (never NULL). */
char *pd_html_to_text(const char *html, size_t len);

#endif
