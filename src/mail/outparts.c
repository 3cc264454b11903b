/*
 * outparts.c - the files and the HTML part of notices and relayed answers.
 * See outparts.h.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "outparts.h"
#include "util.h"

#define MARK_PREFIX_BEGIN "======== postdesk notice"
#define MARK_PREFIX_END "======== end of postdesk notice"
#define SHA_PREFIX_LEN 12 /* hex characters shown in the fetch command */

static bool html_refers(const char *html, const char *cid)
{
	char *ref;
	bool yes;

	if (html == NULL || cid == NULL || cid[0] == '\0')
		return false;
	ref = pd_xasprintf("cid:%s", cid);
	yes = strstr(html, ref) != NULL;
	free(ref);
	return yes;
}

struct pd_mimeout_part *pd_outparts_of(const struct pd_msg *msg, const char *html, size_t *n_r)
{
	struct pd_mimeout_part *v;

	*n_r = 0;
	if (msg->n_attachments == 0)
		return NULL;
	v = pd_xcalloc(msg->n_attachments, sizeof(*v));
	for (size_t i = 0; i < msg->n_attachments; i++) {
		const struct pd_attachment *a = &msg->attachments[i];
		v[i] = (struct pd_mimeout_part){
		    .filename = a->filename,
		    .content_type = a->content_type,
		    .content_id = a->content_id,
		    .related = html_refers(html, a->content_id),
		    .data = a->data,
		    .size = a->size,
		};
	}
	*n_r = msg->n_attachments;
	return v;
}

uint64_t pd_outparts_total(const struct pd_msg *msg)
{
	uint64_t t = 0;

	for (size_t i = 0; i < msg->n_attachments; i++)
		t += msg->attachments[i].size;
	return t;
}

uint64_t pd_outparts_encoded_size(uint64_t n)
{
	uint64_t b64 = (n + 2) / 3 * 4;

	return b64 + (b64 / 76 + 1) * 2 + 400;
}

const char *pd_outparts_size(uint64_t bytes, char *out, size_t outlen)
{
	if (bytes < 1024)
		snprintf(out, outlen, "%" PRIu64 " B", bytes);
	else if (bytes < 1024 * 1024)
		snprintf(out, outlen, "%" PRIu64 " KB", (bytes + 1023) / 1024);
	else
		snprintf(out, outlen, "%.1f MB", (double)bytes / (1024.0 * 1024.0));
	return out;
}

/* A file name usable after ">" in a shell as it stands, else "FILE". */
static const char *shell_name(const char *name)
{
	if (name == NULL || name[0] == '\0' || name[0] == '-' || name[0] == '.')
		return "FILE";
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-+", *p) != NULL))
			return "FILE";
	return name;
}

char *pd_outparts_listing(const struct pd_msg *msg, int64_t ticket, uint64_t limit,
			  const char *lang)
{
	bool ru = lang != NULL && strncmp(lang, "ru", 2) == 0;
	char total[32], lim[32];
	struct pd_buf b;

	if (msg->n_attachments == 0)
		return pd_xstrdup("");
	pd_buf_init(&b);
	pd_outparts_size(pd_outparts_total(msg), total, sizeof(total));
	pd_outparts_size(limit, lim, sizeof(lim));
	if (ru)
		pd_buf_printf(&b,
			      "Вложения (%s, больше %s, которые несёт уведомление); каждое можно "
			      "получить командой:\n",
			      total, lim);
	else
		pd_buf_printf(&b,
			      "Attachments (%s in all, more than the %s a notice carries); fetch "
			      "each with the command shown:\n",
			      total, lim);
	for (size_t i = 0; i < msg->n_attachments; i++) {
		const struct pd_attachment *a = &msg->attachments[i];
		char size[32];
		const char *name = a->filename && a->filename[0] ? a->filename : NULL;
		pd_buf_printf(&b, "  %s (%s, %s)\n",
			      name ? name : (ru ? "(без имени)" : "(no name)"), a->content_type,
			      pd_outparts_size(a->size, size, sizeof(size)));
		pd_buf_printf(&b, "    postdesk attachment %" PRId64 " %.*s > %s\n", ticket,
			      SHA_PREFIX_LEN, a->sha256_hex, shell_name(name));
	}
	return pd_buf_steal(&b, NULL);
}

static void escape(struct pd_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': pd_buf_append_str(b, "&amp;"); break;
		case '<': pd_buf_append_str(b, "&lt;"); break;
		case '>': pd_buf_append_str(b, "&gt;"); break;
		case '"': pd_buf_append_str(b, "&quot;"); break;
		default: pd_buf_append_char(b, s[i]); break;
		}
	}
}

/* The line without quote prefixes (">" and blanks) and surrounding blanks
 * starts with a marker prefix. */
static bool is_marker(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == '>' || s[i] == ' ' || s[i] == '\t'))
		i++;
	s += i, n -= i;
	return (n >= strlen(MARK_PREFIX_BEGIN) &&
		strncmp(s, MARK_PREFIX_BEGIN, strlen(MARK_PREFIX_BEGIN)) == 0) ||
	       (n >= strlen(MARK_PREFIX_END) &&
		strncmp(s, MARK_PREFIX_END, strlen(MARK_PREFIX_END)) == 0);
}

bool pd_outparts_has_marker(const char *text)
{
	for (const char *p = text; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (is_marker(p, n))
			return true;
		p = e ? e + 1 : p + n;
	}
	return false;
}

char *pd_outparts_text_html(const char *text, const char *placeholder, const char *html_in)
{
	struct pd_buf b;
	bool open = false;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n");
	for (const char *p = text ? text : ""; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		size_t t = n;
		while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t' || p[t - 1] == '\r'))
			t--;
		bool blank = t == 0;
		bool mark = !blank && is_marker(p, t);
		bool place = placeholder != NULL && t == strlen(placeholder) &&
			     strncmp(p, placeholder, t) == 0;

		if ((blank || mark || place) && open) {
			pd_buf_append_str(&b, "</p>\n");
			open = false;
		}
		if (mark) {
			pd_buf_append_str(&b, "<p>");
			escape(&b, p, t);
			pd_buf_append_str(&b, "</p>\n");
		} else if (place) {
			pd_buf_append_str(&b, "<div>\n");
			pd_buf_append_str(&b, html_in ? html_in : "");
			pd_buf_append_str(&b, "\n</div>\n");
		} else if (!blank) {
			if (open)
				pd_buf_append_str(&b, "<br>\n");
			else
				pd_buf_append_str(&b, "<p>");
			open = true;
			escape(&b, p, t);
		}
		p = e ? e + 1 : p + n;
	}
	if (open)
		pd_buf_append_str(&b, "</p>\n");
	pd_buf_append_str(&b, "</body></html>\n");
	return pd_buf_steal(&b, NULL);
}

/* The file name (else the type) of msg's attachment with Content-ID cid. */
static char *attachment_name_by_cid(void *ctx, const char *cid)
{
	const struct pd_msg *msg = ctx;

	for (size_t i = 0; i < msg->n_attachments; i++) {
		const struct pd_attachment *a = &msg->attachments[i];
		if (a->content_id != NULL && strcmp(a->content_id, cid) == 0)
			return pd_xstrdup(a->filename && a->filename[0] ? a->filename
								 : a->content_type);
	}
	return NULL;
}

char *pd_outparts_image_text(const struct pd_msg *msg)
{
	bool any = false;

	if (msg->body_html == NULL || msg->body_from_html)
		return NULL;
	for (size_t i = 0; i < msg->n_attachments && !any; i++)
		any = html_refers(msg->body_html, msg->attachments[i].content_id);
	if (!any)
		return NULL;
	return pd_html_to_text_cid(msg->body_html, strlen(msg->body_html), attachment_name_by_cid,
				   (void *)(uintptr_t)msg);
}

#define FOOTER_PLACEHOLDER "\x01postdesk-answer\x01"

char *pd_outparts_answer_html(const char *agent_html, int64_t ticket, const char *text,
			      const char *footer, enum pd_answer_html *how)
{
	char *san = NULL, *t, *heading, *html;

	*how = PD_ANSWER_HTML_NONE;
	if (agent_html == NULL)
		return NULL;
	*how = PD_ANSWER_HTML_LEAKED;
	if (pd_html_sanitize(agent_html, strlen(agent_html), PD_HTML_SANITIZE_STRIP_QUOTES,
			     &san) < 0)
		return pd_outparts_text_html(text, NULL, NULL);
	t = pd_html_to_text(san, strlen(san));
	heading = pd_xasprintf("#%" PRId64 ": ", ticket);
	if (pd_outparts_has_marker(t) || strstr(t, heading) != NULL ||
	    strstr(t, "#priority X") != NULL) {
		html = pd_outparts_text_html(text, NULL, NULL);
	} else {
		char *with_footer = pd_xasprintf(FOOTER_PLACEHOLDER "\n\n%s", footer ? footer : "");
		html = pd_outparts_text_html(with_footer, FOOTER_PLACEHOLDER, san);
		free(with_footer);
		*how = PD_ANSWER_HTML_SANITISED;
	}
	free(heading);
	free(t);
	free(san);
	return html;
}
