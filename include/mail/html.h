/*
 * html.h - HTML mail body to readable plain text, and sanitised HTML, with gumbo.
 *
 * Drops script/style/head, turns block elements into line breaks, lists into
 * "- " items, links into "text <url>" when the URL differs from the text,
 * decodes entities, collapses whitespace.  Input must already be UTF-8.
 * Also sanitises HTML to send on (pd_html_sanitize).
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

#define PD_HTML_SANITIZE_STRIP_QUOTES 1u /* also drop quoted history and the notice */

/*
 * HTML that is safe to send on (a customer's or an agent's text/html part):
 * the content of the document's body as well-formed HTML, UTF-8, built from
 * gumbo's tree through a whitelist.  Kept: text formatting, paragraphs,
 * lists, tables, links (href only http:, https:, mailto:) and images whose
 * src is "cid:..." (a part of the same mail; other images become their alt
 * text), with presentational attributes and inline styles that cannot load
 * anything (no url(), image-set(), escapes, comments, at-rules).  Dropped
 * with their content: script, style, head, iframe, object, embed, form
 * controls, meta, link, base, svg, math, media, comments; dropped alone: the
 * tags of other elements (form, unknown ones; their text stays) and every
 * other attribute (on*, id, class, srcset, background, ...).
 *
 * With PD_HTML_SANITIZE_STRIP_QUOTES also the quoted history and the
 * notice: <blockquote type="cite"> (Thunderbird, Apple Mail) with the
 * attribution just before it, .moz-cite-prefix, Gmail's .gmail_quote and
 * .gmail_attr, Yahoo's .yahoo_quoted, Proton's .protonmail_quote, and
 * everything from Outlook's div#divRplyFwdMsg, #appendonsend, header block
 * with a top border, #mail-editor-reference-message-container or
 * .OutlookMessageHeader (or Zimbra's hr#zwchr) to the end; and what lies
 * between the elements holding the notice's marker lines (answer.h), those
 * elements included, with an attribution just before.
 *
 * Input too big or too deeply nested for gumbo becomes its text, escaped,
 * in a <div> (cut at the notice's first marker with STRIP_QUOTES).
 * *out is newly allocated (never NULL on success).  Returns 0; -1 only when
 * out is NULL (allocation failure aborts).
 */
int pd_html_sanitize(const char *html, size_t len, unsigned flags, char **out);

#endif
