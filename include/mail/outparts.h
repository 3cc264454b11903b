/*
 * outparts.h - what a notice or a relayed answer carries besides its text:
 * the files of the mail it is about, the HTML part, the list of files that
 * are too big to carry (pure: data in, text and part lists out).
 */
#ifndef PD_OUTPARTS_H
#define PD_OUTPARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mimeout.h"
#include "msg.h"

/* The parts for msg's attachments, in order (borrowing msg's strings and
 * bytes); an attachment with a Content-ID that html refers to ("cid:ID") is
 * marked related.  Newly allocated array (NULL when none), *n_r its length. */
struct pd_mimeout_part *pd_outparts_of(const struct pd_msg *msg, const char *html, size_t *n_r);

/* When msg's text came from a text/plain alternative but its HTML shows
 * inline images (cid: parts of msg), the HTML as text with "[image: NAME]"
 * where each stood (newly allocated); else NULL (msg->body_text says it). */
char *pd_outparts_image_text(const struct pd_msg *msg);

/* The decoded total of msg's attachments. */
uint64_t pd_outparts_total(const struct pd_msg *msg);

/* What n bytes take once base64 encoded in 76-column lines, with a margin
 * for the part's headers. */
uint64_t pd_outparts_encoded_size(uint64_t n);

/* The list of msg's files for a notice that does not carry them: one entry
 * per file with its name, type and size and the command
 * "postdesk attachment NUMBER SHA256-PREFIX > FILE" that fetches it; in
 * lang ("ru" or else English), total and limit in the heading.  Newly
 * allocated, "" when msg has no attachments. */
char *pd_outparts_listing(const struct pd_msg *msg, int64_t ticket, uint64_t limit,
			  const char *lang);

/* "12 KB", "3.4 MB", "512 B" into out. */
const char *pd_outparts_size(uint64_t bytes, char *out, size_t outlen);

/* Plain text as simple HTML: paragraphs at blank lines, <br> at line ends,
 * everything escaped; the notice's marker lines each in a <p> of their own.
 * When placeholder is not NULL, a paragraph that is exactly the placeholder
 * is replaced by html_in (trusted: already sanitised).  Newly allocated. */
char *pd_outparts_text_html(const char *text, const char *placeholder, const char *html_in);

/* The HTML part of an agent's answer: agent_html sanitised without the
 * quoted notice (PD_HTML_SANITIZE_STRIP_QUOTES), with the footer below it
 * (how: SANITISED).  When the sanitised HTML turned to text still shows the
 * notice (a marker line, its heading "#TICKET: " or its command list), it is
 * not trusted and the HTML is made from text, the plain answer with its
 * footer (how: LEAKED; also when the sanitiser fails).  NULL when agent_html
 * is NULL (how: NONE).  Newly allocated. */
enum pd_answer_html { PD_ANSWER_HTML_NONE, PD_ANSWER_HTML_SANITISED, PD_ANSWER_HTML_LEAKED };
char *pd_outparts_answer_html(const char *agent_html, int64_t ticket, const char *text,
			      const char *footer, enum pd_answer_html *how);

/* True when text (an HTML answer turned to text) still holds a marker line
 * of the notice (answer.h's rule: after quote prefixes and blanks, a line
 * starting with "======== postdesk notice" or "======== end of postdesk
 * notice"). */
bool pd_outparts_has_marker(const char *text);

#endif
