/*
 * kb.c - knowledge-base articles: what an article file says (its headers,
 * title, keywords, language and slug), the text of a mail that is matched
 * with them, and the acknowledgement's article section.  See kb.h.  Pure:
 * no file, database or configuration (src/config/kbfiles.c reads the
 * folder, src/db/kbdb.c stores and ranks); errors are "FILE:LINE: reason"
 * lines so that one import run reports every bad file at once.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb.h"
#include "language.h"
#include "util.h"

/* Columns of the section's excerpt lines (after a four-space indent). */
#define KB_SECTION_COLS 68
#define KB_SECTION_LINES 3

void pd_kb_article_free(struct pd_kb_article *a)
{
	if (a == NULL)
		return;
	free(a->slug);
	free(a->file);
	free(a->language);
	free(a->title);
	for (size_t i = 0; i < a->n_keywords; i++)
		free(a->keywords[i]);
	free(a->keywords);
	free(a->url);
	free(a->body);
	memset(a, 0, sizeof(*a));
}

void pd_kb_set_free(struct pd_kb_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		pd_kb_article_free(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

void pd_kb_errors_free(struct pd_kb_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

/* ------------------------------------------------------------ paths */

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

const char *pd_kb_path_language(const char *rel)
{
	const char *base = strrchr(rel, '/');

	base = base ? base + 1 : rel;
	if (strstr(base, ".ru.") != NULL)
		return "ru";
	if (strstr(base, ".en.") != NULL)
		return "en";
	/* the nearest folder that names a language */
	const char *found = NULL;
	for (const char *p = rel; p < base;) {
		const char *slash = strchr(p, '/');
		size_t n = (size_t)(slash - p);
		if (n == 2 && (strncmp(p, "ru", 2) == 0 || strncmp(p, "en", 2) == 0))
			found = strncmp(p, "ru", 2) == 0 ? "ru" : "en";
		p = slash + 1;
	}
	return found;
}

/* ------------------------------------------------------------ parsing */

/* One line of the file: [start, start + len), CR of a CRLF excluded. */
struct line {
	const char *start;
	size_t len;
};

static bool line_blank(const struct line *l)
{
	for (size_t i = 0; i < l->len; i++)
		if (l->start[i] != ' ' && l->start[i] != '\t')
			return false;
	return true;
}

static char *trimmed_copy(const char *s, size_t n)
{
	char *c = pd_xstrndup(s, n);
	/* a tab inside a one-line value is just a space */
	for (char *p = c; *p; p++)
		if (*p == '\t')
			*p = ' ';
	return pd_str_trim(c);
}

/* The header "Name: value" on l, when Name is one of ours: returns the index
 * in names and points *value at the value; -1 otherwise. */
static int header_of(const struct line *l, const char *const *names, size_t n_names,
		     const char **value_r, size_t *value_len_r)
{
	const char *colon = memchr(l->start, ':', l->len);

	if (colon == NULL)
		return -1;
	size_t nlen = (size_t)(colon - l->start);
	for (size_t i = 0; i < n_names; i++) {
		if (nlen == strlen(names[i]) && strncasecmp(l->start, names[i], nlen) == 0) {
			*value_r = colon + 1;
			*value_len_r = l->len - nlen - 1;
			return (int)i;
		}
	}
	return -1;
}

static void split_keywords(const char *v, struct pd_kb_article *a)
{
	const char *p = v;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char *k = trimmed_copy(p, n);
		if (k[0] != '\0') {
			a->keywords = pd_xgrow(a->keywords, a->n_keywords, sizeof(*a->keywords));
			a->keywords[a->n_keywords++] = k;
		} else {
			free(k);
		}
		p += n;
		if (*p == ',')
			p++;
	}
}

static bool url_ok(const char *u)
{
	if (!pd_str_istartswith(u, "https://") && !pd_str_istartswith(u, "http://"))
		return false;
	const char *host = strstr(u, "://") + 3;
	if (*host == '\0' || *host == '/')
		return false;
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* The line number (1-based) of byte offset off in text. */
static size_t line_at(const char *text, size_t off)
{
	size_t n = 1;
	for (size_t i = 0; i < off; i++)
		n += text[i] == '\n';
	return n;
}

/* Offset of the first byte that is not part of valid UTF-8, or len. */
static size_t utf8_bad_offset(const char *text, size_t len)
{
	size_t start = 0;

	/* line by line, so the line of the error is known */
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;
		if (!pd_utf8_valid(text + start, end - start)) {
			size_t i = start;
			/* narrow down to the first bad byte */
			while (i < end && pd_utf8_valid(text + start, i - start + 1))
				i++;
			while (i > start && !pd_utf8_valid(text + start, i - start))
				i--;
			return i;
		}
		start = end + 1;
	}
	return len;
}

enum { H_TITLE, H_KEYWORDS, H_LANGUAGE, H_URL, H_COUNT };

int pd_kb_parse(const char *file, const char *rel, const char *text, size_t len,
		struct pd_kb_article *a, char **error_r)
{
	static const char *const names[H_COUNT] = {"Title", "Keywords", "Language", "URL"};
	struct line *lines = NULL;
	size_t n_lines = 0, i = 0, title_line = 0;
	size_t seen[H_COUNT] = {0}; /* line of each header, 0 = not given */
	char *error = NULL;

	memset(a, 0, sizeof(*a));
	*error_r = NULL;
	if (len > PD_KB_MAX_FILE) {
		*error_r = pd_xasprintf("%s: larger than %d KiB", file, PD_KB_MAX_FILE / 1024);
		return -1;
	}
	const char *nul = memchr(text, '\0', len);
	if (nul != NULL) {
		*error_r = pd_xasprintf("%s:%zu: NUL byte (not a text file)", file,
					line_at(text, (size_t)(nul - text)));
		return -1;
	}
	size_t bad = utf8_bad_offset(text, len);
	if (bad < len) {
		*error_r = pd_xasprintf("%s:%zu: not UTF-8 (save the file as UTF-8)", file,
					line_at(text, bad));
		return -1;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) { /* byte-order mark */
		text += 3;
		len -= 3;
	}
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t l = end - off;
		if (l > 0 && text[off + l - 1] == '\r')
			l--;
		lines = pd_xgrow(lines, n_lines, sizeof(*lines));
		lines[n_lines].start = text + off;
		lines[n_lines].len = l;
		n_lines++;
		off = end + 1;
	}

	/* the header block */
	for (; i < n_lines; i++) {
		const char *v;
		size_t vlen;
		int h = header_of(&lines[i], names, H_COUNT, &v, &vlen);
		if (h < 0)
			break;
		if (seen[h]) {
			error = pd_xasprintf("%s:%zu: \"%s:\" given twice (first on line %zu)", file,
					     i + 1, names[h], seen[h]);
			goto fail;
		}
		seen[h] = i + 1;
		char *value = trimmed_copy(v, vlen);
		switch (h) {
		case H_TITLE:
			if (value[0] == '\0') {
				free(value);
				error = pd_xasprintf("%s:%zu: empty title", file, i + 1);
				goto fail;
			}
			a->title = value;
			title_line = i + 1;
			break;
		case H_KEYWORDS:
			split_keywords(value, a);
			free(value);
			break;
		case H_LANGUAGE:
			if (!pd_str_iequal(value, "en") && !pd_str_iequal(value, "ru")) {
				error = pd_xasprintf("%s:%zu: language \"%s\": give en or ru", file,
						     i + 1, value);
				free(value);
				goto fail;
			}
			a->language = pd_xstrdup(pd_str_iequal(value, "ru") ? "ru" : "en");
			free(value);
			break;
		default:
			if (!url_ok(value)) {
				error = pd_xasprintf("%s:%zu: URL \"%s\": give an http:// or "
						     "https:// address without spaces",
						     file, i + 1, value);
				free(value);
				goto fail;
			}
			a->url = value;
			break;
		}
	}
	while (i < n_lines && line_blank(&lines[i]))
		i++;
	/* a Markdown article may carry its title as the first heading */
	if (a->title == NULL && i < n_lines && ends_with(rel, ".md") && lines[i].len >= 2 &&
	    lines[i].start[0] == '#' && (lines[i].start[1] == ' ' || lines[i].start[1] == '\t')) {
		char *t = trimmed_copy(lines[i].start + 1, lines[i].len - 1);
		size_t tl = strlen(t);
		while (tl > 0 && t[tl - 1] == '#') /* "# Title #" */
			t[--tl] = '\0';
		pd_str_trim(t);
		if (t[0] != '\0') {
			a->title = t;
			title_line = i + 1;
			i++;
			while (i < n_lines && line_blank(&lines[i]))
				i++;
		} else {
			free(t);
		}
	}
	if (a->title == NULL) {
		error = pd_xasprintf("%s:%zu: no title: start the file with a \"Title: ...\" line%s",
				     file, i < n_lines ? i + 1 : (size_t)1,
				     ends_with(rel, ".md") ? " or a \"# Title\" heading" : "");
		goto fail;
	}

	/* the body: the rest, without trailing blank lines */
	size_t last = n_lines;
	while (last > i && line_blank(&lines[last - 1]))
		last--;
	struct pd_buf body;
	pd_buf_init(&body);
	for (size_t k = i; k < last; k++) {
		pd_buf_append(&body, lines[k].start, lines[k].len);
		pd_buf_append_char(&body, '\n');
	}
	if (body.len > 0)
		body.data[--body.len] = '\0';
	a->body = pd_buf_steal(&body, NULL);
	if (a->body[0] == '\0' && a->url == NULL) {
		error = pd_xasprintf("%s:%zu: the article has a title but neither a body nor a "
				     "\"URL:\" line",
				     file, title_line);
		goto fail;
	}

	/* names: the slug is the relative path without its extension */
	a->file = pd_xstrdup(file);
	a->slug = pd_xstrndup(rel, strlen(rel) - (ends_with(rel, ".md") ? 3 : 4));
	if (a->language == NULL) {
		const char *l = pd_kb_path_language(rel);
		if (l == NULL)
			l = pd_language_detect(a->title, a->body);
		a->language = pd_xstrdup(l != NULL && strcmp(l, "ru") == 0 ? "ru" : "en");
	}
	free(lines);
	return 0;
fail:
	free(lines);
	pd_kb_article_free(a);
	*error_r = error;
	return -1;
}

/* ------------------------------------------------------------ mail side */

char *pd_kb_query_text(const char *subject, const char *body)
{
	struct pd_buf b;

	if (subject == NULL)
		subject = "";
	if (body == NULL)
		body = "";
	pd_buf_init(&b);
	pd_buf_append_str(&b, subject);
	pd_buf_append_char(&b, '\n');
	size_t start = b.len;
	/* the customer's own lines: quoted ones ("> ...") are someone else's */
	for (const char *p = body; *p && b.len - start < PD_KB_QUERY_BODY;) {
		const char *nl = strchr(p, '\n'), *e = nl ? nl + 1 : p + strlen(p), *q = p;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if (*q != '>')
			pd_buf_append(&b, p, (size_t)(e - p));
		p = e;
	}
	size_t bl = pd_utf8_cut(b.data + start, b.len - start, PD_KB_QUERY_BODY);
	b.len = start + bl;
	b.data[b.len] = '\0';
	return pd_buf_steal(&b, NULL);
}

/* Characters (code points) in s[0..n). */
static size_t cols(const char *s, size_t n)
{
	return pd_utf8_count(s, n);
}

/* Byte length of the first max_cols characters of s. */
static size_t bytes_for_cols(const char *s, size_t max_cols)
{
	return pd_utf8_prefix(s, strlen(s), max_cols);
}

/* Append the words of line (Markdown list and emphasis marks dropped) to b,
 * separated by single spaces. */
static void append_words(struct pd_buf *b, const char *line, size_t n)
{
	size_t i = 0;

	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	/* "- ", "* ", "+ ", "> " and "1. " at the start of a line */
	if (i + 1 < n && strchr("-*+>", line[i]) != NULL && line[i + 1] == ' ')
		i += 2;
	else {
		size_t d = i;
		while (d < n && line[d] >= '0' && line[d] <= '9')
			d++;
		if (d > i && d + 1 < n && (line[d] == '.' || line[d] == ')') && line[d + 1] == ' ')
			i = d + 2;
	}
	for (; i < n; i++) {
		char ch = line[i];
		if (ch == '*' || ch == '_' || ch == '`')
			continue;
		if (ch == ' ' || ch == '\t') {
			if (b->len > 0 && b->data[b->len - 1] != ' ')
				pd_buf_append_char(b, ' ');
			continue;
		}
		pd_buf_append_char(b, ch);
	}
	if (b->len > 0 && b->data[b->len - 1] != ' ')
		pd_buf_append_char(b, ' ');
}

char *pd_kb_excerpt(const char *body, size_t max_cols)
{
	struct pd_buf b;
	const char *p = body ? body : "";
	bool in_para = false;

	pd_buf_init(&b);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		struct line l = {p, n};
		if (line_blank(&l)) {
			if (in_para)
				break;
		} else if (p[0] == '#' && !in_para) {
			/* a heading before the first paragraph */
		} else {
			append_words(&b, p, n);
			in_para = true;
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	while (b.len > 0 && b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	if (cols(b.data, b.len) > max_cols && max_cols > 0) {
		size_t keep = bytes_for_cols(b.data, max_cols - 1);
		/* cut at a word boundary when one is reasonably near */
		size_t sp = keep;
		while (sp > 0 && b.data[sp] != ' ')
			sp--;
		if (sp > keep / 2)
			keep = sp;
		while (keep > 0 && b.data[keep - 1] == ' ')
			keep--;
		b.len = keep;
		b.data[keep] = '\0';
		pd_buf_append_str(&b, "…");
	}
	return pd_buf_steal(&b, NULL);
}

/* Append text wrapped at KB_SECTION_COLS columns in at most KB_SECTION_LINES
 * lines, each indented by four. */
static void append_wrapped(struct pd_buf *b, const char *text)
{
	const char *p = text;

	for (int line = 0; *p; line++) {
		size_t rest = strlen(p);
		size_t take = rest;
		if (line == KB_SECTION_LINES - 1 && cols(p, rest) > KB_SECTION_COLS) {
			/* the last line: cut, whatever the words */
			pd_buf_append_str(b, "    ");
			pd_buf_append(b, p, bytes_for_cols(p, KB_SECTION_COLS - 1));
			pd_buf_append_str(b, "…\n");
			return;
		}
		if (cols(p, rest) > KB_SECTION_COLS) {
			take = bytes_for_cols(p, KB_SECTION_COLS);
			size_t sp = take;
			while (sp > 0 && p[sp] != ' ')
				sp--;
			if (sp > 0)
				take = sp;
		}
		pd_buf_append_str(b, "    ");
		pd_buf_append(b, p, take);
		pd_buf_append_char(b, '\n');
		p += take;
		while (*p == ' ')
			p++;
	}
}

char *pd_kb_section(const char *lang, const struct pd_kb_hit *hits, size_t n)
{
	bool ru = lang != NULL && strcmp(lang, "ru") == 0;
	struct pd_buf b;

	if (n == 0)
		return pd_xstrdup("");
	pd_buf_init(&b);
	pd_buf_append_str(&b, ru ? "Возможно, ответ уже есть в этих статьях:\n\n"
				 : "These articles may help you right away:\n\n");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			pd_buf_append_char(&b, '\n');
		pd_buf_printf(&b, "  * %s\n", hits[i].title);
		if (hits[i].url != NULL && hits[i].url[0] != '\0') {
			pd_buf_printf(&b, "    %s\n", hits[i].url);
		} else {
			/* three lines' worth, a little less so the words fit */
			char *ex = pd_kb_excerpt(hits[i].body,
						 KB_SECTION_COLS * KB_SECTION_LINES - 12);
			if (ex[0] != '\0')
				append_wrapped(&b, ex);
			free(ex);
		}
	}
	return pd_buf_steal(&b, NULL);
}
