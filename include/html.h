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

/* Names the inline image with Content-ID cid (without "cid:" and <>):
 * newly allocated, or NULL when there is none. */
typedef char *(*pd_html_cid_name_fn)(void *ctx, const char *cid);

/* As pd_html_to_text, and an <img src="cid:ID"> that cid_name names
 * becomes "[image: NAME]" where it stood. */
char *pd_html_to_text_cid(const char *html, size_t len, pd_html_cid_name_fn cid_name, void *ctx);

/* The sanitiser (see its definition): well-formed HTML keeping only a
 * whitelist of elements and attributes, no scripts, no remote images (img
 * src only "cid:"), links only http/https/mailto.  With
 * PD_HTML_SANITIZE_STRIP_QUOTES it also drops quoted history and the
 * notice.  Returns 0 with *out newly allocated, or -1. */
#define PD_HTML_SANITIZE_STRIP_QUOTES 1u
int pd_html_sanitize(const char *html, size_t len, unsigned flags, char **out);

#endif
