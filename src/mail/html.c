/*
 * html.c - HTML mail body to readable plain text, with gumbo.
 *
 * Owns the rendering rules: script/style/head/title are dropped, block
 * elements become line breaks (paragraph-like ones a blank line), <br> a
 * newline, <li> a "- " item, links "text <url>" when the URL says more
 * than the text, table cells are separated by tabs and rows by newlines,
 * whitespace runs collapse to one space (except in <pre>), and never more
 * than one blank line in a row.  Entities are decoded by gumbo.
 *
 * gumbo itself is not safe on hostile input: it frees its tree
 * recursively (300,000 nested <div> overflow the stack) and its tree
 * builder is quadratic in the nesting depth and in the number of open
 * formatting elements (100,000 nested <div> take 15 s).  A linear pre-scan
 * estimates both; input that is too big or too deep is rendered by a
 * simple tag stripper instead.  Our own tree walk is iterative.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gumbo.h>
#include <unistr.h>

#include "html.h"
#include "util.h"

#define GUMBO_MAX_INPUT (4u << 20) /* bytes; bigger HTML is stripped, not parsed */
#define MAX_NESTING 1000           /* estimated open elements */
#define MAX_FORMATTING 100         /* estimated open formatting elements */

/* ---------------------------------------------------------- text builder */

/*
 * The text being built and what is owed before the next visible character.
 * Whitespace and breaks are never written eagerly: they are recorded as
 * pending and paid by flush(), which is how runs collapse, how trailing
 * spaces never reach a line end and how blank lines are capped at one.
 */
struct out {
	struct pd_buf b;
	int pending_nl;      /* line breaks owed before the next text (at most 2 are written) */
	bool pending_space;  /* a whitespace run was seen */
	bool pending_tab;    /* a table cell started after another one */
	const char *prefix;  /* list marker owed at the start of the next line */
	int list_depth;
	int pre;             /* inside <pre>: keep whitespace */
	pd_html_cid_name_fn cid_name; /* names an inline image by its Content-ID, or NULL */
	void *cid_ctx;
};

/* True when the next character would start a line (also for empty output). */
static bool at_line_start(const struct out *o)
{
	return o->b.len == 0 || o->b.data[o->b.len - 1] == '\n';
}

/* Pay what is owed (line breaks, a space or tab, a list marker) before
 * visible text. */
static void flush(struct out *o)
{
	if (o->b.len > 0 && o->pending_nl > 0) {
		while (o->b.len > 0 && o->b.data[o->b.len - 1] == ' ')
			o->b.data[--o->b.len] = '\0';
		size_t have = 0; /* newlines already at the end */
		while (have < o->b.len && o->b.data[o->b.len - 1 - have] == '\n')
			have++;
		for (int i = (int)have; i < (o->pending_nl > 2 ? 2 : o->pending_nl); i++)
			pd_buf_append_char(&o->b, '\n');
	} else if (o->pending_tab && !at_line_start(o)) {
		pd_buf_append_char(&o->b, '\t');
	} else if (o->pending_space && !at_line_start(o)) {
		pd_buf_append_char(&o->b, ' ');
	}
	o->pending_nl = 0;
	o->pending_space = o->pending_tab = false;
	if (o->prefix != NULL && at_line_start(o)) {
		for (int i = 1; i < o->list_depth; i++)
			pd_buf_append_str(&o->b, "  ");
		pd_buf_append_str(&o->b, o->prefix);
	}
	o->prefix = NULL;
}

/*
 * A block boundary: n = 1 for a line break, 2 for a paragraph (blank line).
 * Boundaries do not add up: two paragraphs in a row still give one blank line.
 */
static void block(struct out *o, int n)
{
	if (o->pending_nl < n)
		o->pending_nl = n;
	o->pending_space = o->pending_tab = false;
}

/* <br>: unlike block boundaries these add up, so <br><br> is a blank line. */
static void line_break(struct out *o)
{
	/* <br> at the very start of the text has nothing to break */
	if (o->b.len > 0 && o->pending_nl < 2)
		o->pending_nl++;
}

/* Append text, collapsing whitespace runs (HTML space and NBSP) unless in
 * <pre>. */
static void text(struct out *o, const char *s, size_t n)
{
	const char *p = s, *e = s + n;

	while (p < e) {
		unsigned char ch = (unsigned char)*p;
		bool nbsp = ch == 0xc2 && p + 1 < e && (unsigned char)p[1] == 0xa0;

		/* <pre>: every character is kept, only CR is dropped */
		if (o->pre > 0) {
			if (ch == '\r') {
				p++;
			} else if (ch == '\n') {
				flush(o);
				pd_buf_append_char(&o->b, '\n');
				p++;
			} else {
				flush(o);
				pd_buf_append_char(&o->b, (char)ch);
				p++;
			}
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || nbsp) {
			o->pending_space = true;
			p += nbsp ? 2 : 1;
			continue;
		}
		/* a run of visible characters is appended in one go */
		const char *run = p;
		while (p < e && !(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
				  ((unsigned char)*p == 0xc2 && p + 1 < e && (unsigned char)p[1] == 0xa0)))
			p++;
		flush(o);
		pd_buf_append(&o->b, run, (size_t)(p - run));
	}
}

/* ---------------------------------------------------------------- links */

/*
 * Only URLs a reader can use are shown: http, https and mailto (not
 * javascript:, cid: or in-page anchors).
 */
static bool link_worth_showing(const char *href)
{
	return pd_str_istartswith(href, "http://") || pd_str_istartswith(href, "https://") ||
	       pd_str_istartswith(href, "mailto:");
}

/* [s, s+n) without scheme, surrounding space and trailing '/' */
static void url_core(const char **s, size_t *n)
{
	static const char *const schemes[] = {"https://", "http://", "mailto:"};

	while (*n > 0 && isspace((unsigned char)**s))
		(*s)++, (*n)--;
	while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
	for (size_t i = 0; i < PD_ARRAY_LEN(schemes); i++) {
		size_t l = strlen(schemes[i]);
		if (*n >= l && strncasecmp(*s, schemes[i], l) == 0) {
			*s += l;
			*n -= l;
			break;
		}
	}
	while (*n > 0 && (*s)[*n - 1] == '/')
		(*n)--;
}

/* After a link's text: append " <url>" unless the text already is the URL. */
static void link_end(struct out *o, size_t start, const char *href)
{
	const char *t = o->b.data ? o->b.data + start : "", *u = href;
	size_t tn = o->b.len > start ? o->b.len - start : 0, un = strlen(href);

	url_core(&t, &tn);
	url_core(&u, &un);
	if (tn == un && strncasecmp(t, u, tn) == 0)
		return;
	o->pending_space = true;
	flush(o);
	pd_buf_append_char(&o->b, '<');
	for (const char *p = href; *p; p++) /* a URL has no whitespace; folding may add some */
		if (!isspace((unsigned char)*p))
			pd_buf_append_char(&o->b, *p);
	pd_buf_append_char(&o->b, '>');
}

/* ------------------------------------------------------------ gumbo walk */

enum kind { K_NONE, K_SKIP, K_BR, K_PARA, K_BLOCK, K_LIST, K_LI, K_ROW, K_CELL, K_LINK, K_PRE,
	    K_IMG };

/*
 * How an element affects the text: dropped with its content, a break, a
 * paragraph, a list, a table row or cell, a link, preformatted, or nothing.
 */
static enum kind tag_kind(GumboTag t)
{
	switch (t) {
	case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_HEAD: case GUMBO_TAG_TITLE:
	case GUMBO_TAG_TEMPLATE: case GUMBO_TAG_NOSCRIPT:
		return K_SKIP;
	case GUMBO_TAG_BR:
		return K_BR;
	case GUMBO_TAG_P: case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3:
	case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6: case GUMBO_TAG_BLOCKQUOTE:
	case GUMBO_TAG_HR: case GUMBO_TAG_DL: case GUMBO_TAG_ADDRESS: case GUMBO_TAG_FIGURE:
	case GUMBO_TAG_FIELDSET:
		return K_PARA;
	case GUMBO_TAG_PRE: case GUMBO_TAG_LISTING: case GUMBO_TAG_XMP:
		return K_PRE;
	case GUMBO_TAG_DIV: case GUMBO_TAG_DT: case GUMBO_TAG_DD: case GUMBO_TAG_HEADER:
	case GUMBO_TAG_FOOTER: case GUMBO_TAG_SECTION: case GUMBO_TAG_ARTICLE: case GUMBO_TAG_ASIDE:
	case GUMBO_TAG_NAV: case GUMBO_TAG_MAIN: case GUMBO_TAG_CENTER: case GUMBO_TAG_CAPTION:
	case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_SUMMARY: case GUMBO_TAG_DETAILS:
	case GUMBO_TAG_TABLE: case GUMBO_TAG_FORM: case GUMBO_TAG_OPTION: case GUMBO_TAG_LEGEND:
		return K_BLOCK;
	case GUMBO_TAG_UL: case GUMBO_TAG_OL: case GUMBO_TAG_MENU: case GUMBO_TAG_DIR:
		return K_LIST;
	case GUMBO_TAG_LI:
		return K_LI;
	case GUMBO_TAG_TR:
		return K_ROW;
	case GUMBO_TAG_TD: case GUMBO_TAG_TH:
		return K_CELL;
	case GUMBO_TAG_A:
		return K_LINK;
	case GUMBO_TAG_IMG:
		return K_IMG;
	default:
		return K_NONE;
	}
}

/* One open element on the explicit walk stack. */
struct frame {
	const GumboNode *node;
	unsigned next;      /* next child to visit */
	enum kind kind;
	size_t link_start;  /* output offset where the link text began */
	const char *href;   /* shown after the link text, NULL when not */
};

/* An <img src="cid:ID"> the caller can name: "[image: NAME]" where it
 * stood.  Other images leave no text (as before). */
static void inline_image(struct out *o, const GumboNode *n)
{
	const GumboAttribute *src = gumbo_get_attribute(&n->v.element.attributes, "src");
	char *cid, *name;

	if (o->cid_name == NULL || src == NULL || strncasecmp(src->value, "cid:", 4) != 0)
		return;
	cid = pd_xstrdup(src->value + 4);
	pd_str_trim(cid);
	name = o->cid_name(o->cid_ctx, cid);
	free(cid);
	if (name == NULL)
		return;
	o->pending_space = true;
	flush(o);
	pd_buf_append_str(&o->b, "[image: ");
	for (const char *p = name; *p; p++)
		pd_buf_append_char(&o->b, (unsigned char)*p < 0x20 ? ' ' : *p);
	pd_buf_append_char(&o->b, ']');
	o->pending_space = true;
	free(name);
}

/* Effects of an element's start tag. */
static void enter(struct out *o, struct frame *f)
{
	switch (f->kind) {
	case K_PARA:
		block(o, 2);
		break;
	case K_PRE:
		block(o, 2);
		o->pre++;
		break;
	case K_BLOCK: case K_ROW:
		block(o, 1);
		break;
	case K_LIST:
		block(o, o->list_depth > 0 ? 1 : 2);
		o->list_depth++;
		break;
	case K_LI:
		block(o, 1);
		o->prefix = "- ";
		break;
	case K_CELL:
		if (!at_line_start(o) || o->pending_space)
			o->pending_tab = true;
		break;
	case K_LINK: {
		const GumboAttribute *a =
			gumbo_get_attribute(&f->node->v.element.attributes, "href");
		f->href = a != NULL && link_worth_showing(a->value) ? a->value : NULL;
		f->link_start = o->b.len;
		break;
	}
	case K_BR:
		line_break(o);
		break;
	case K_IMG:
		inline_image(o, f->node);
		break;
	case K_NONE: case K_SKIP:
		break;
	}
}

/* Effects of an element's end tag (also for elements gumbo closed itself). */
static void leave(struct out *o, struct frame *f)
{
	switch (f->kind) {
	case K_PARA:
		block(o, 2);
		break;
	case K_PRE:
		o->pre--;
		block(o, 2);
		break;
	case K_BLOCK: case K_ROW: case K_LI:
		block(o, 1);
		break;
	case K_LIST:
		o->list_depth--;
		block(o, o->list_depth > 0 ? 1 : 2);
		break;
	case K_LINK:
		if (f->href != NULL)
			link_end(o, f->link_start, f->href);
		break;
	case K_CELL: case K_BR: case K_IMG: case K_NONE: case K_SKIP:
		break;
	}
}

/* The children of a document or element node, NULL for text and comments. */
static const GumboVector *children_of(const GumboNode *n)
{
	if (n->type == GUMBO_NODE_DOCUMENT)
		return &n->v.document.children;
	if (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE)
		return &n->v.element.children;
	return NULL;
}

/* Depth-first walk with an explicit stack: gumbo trees can be deep. */
static void render_tree(struct out *o, const GumboNode *root)
{
	struct frame *st;
	size_t sp = 0, cap = 64;

	st = pd_xreallocarray(NULL, cap, sizeof(*st));
	st[sp++] = (struct frame){root, 0, K_NONE, 0, NULL};
	while (sp > 0) {
		struct frame *f = &st[sp - 1];
		const GumboVector *ch = children_of(f->node);

		if (ch == NULL || f->next >= ch->length) {
			leave(o, f);
			sp--;
			continue;
		}
		const GumboNode *n = ch->data[f->next++];
		switch (n->type) {
		case GUMBO_NODE_TEXT: case GUMBO_NODE_CDATA: case GUMBO_NODE_WHITESPACE:
			text(o, n->v.text.text, strlen(n->v.text.text));
			break;
		case GUMBO_NODE_ELEMENT: case GUMBO_NODE_TEMPLATE: {
			enum kind k = tag_kind(n->v.element.tag);
			if (k == K_SKIP)
				break;
			if (sp == cap) {
				cap *= 2;
				st = pd_xreallocarray(st, cap, sizeof(*st));
			}
			st[sp] = (struct frame){n, 0, k, 0, NULL};
			enter(o, &st[sp]);
			sp++;
			break;
		}
		default: /* comments, the document type */
			break;
		}
	}
	free(st);
}

/* --------------------------------------------------- hostile-input guard */

/* True when name is one of the n strings in list. */
static bool name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

/* Linear estimate of how deep gumbo's open-element stack and list of active
 * formatting elements would grow; true when either is beyond what gumbo
 * handles in reasonable time and stack. */
static bool too_hostile(const char *s, size_t n)
{
	static const char *const flat[] = {
		"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
		"param", "source", "track", "wbr", "p", "li", "td", "th", "tr", "option",
		"dt", "dd", "tbody", "thead", "tfoot", "colgroup", "html", "body", "head",
	};
	static const char *const formatting[] = {
		"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike",
		"strong", "tt", "u",
	};
	const char *p = s, *e = s + n;
	size_t depth = 0, fmt = 0;

	while (p < e && (p = memchr(p, '<', (size_t)(e - p))) != NULL) {
		char name[16];
		size_t k = 0;
		bool end = false;

		p++;
		if (p < e && *p == '/')
			end = true, p++;
		if (p >= e || !isalpha((unsigned char)*p))
			continue;
		while (p < e && isalnum((unsigned char)*p) && k + 1 < sizeof(name))
			name[k++] = (char)tolower((unsigned char)*p++);
		name[k] = '\0';
		const char *gt = memchr(p, '>', (size_t)(e - p));
		if (gt == NULL)
			break;
		/* void, self-closed and implicitly closed elements do not nest */
		bool self = gt[-1] == '/';
		p = gt + 1;
		if (self || name_in(name, flat, PD_ARRAY_LEN(flat)))
			continue;
		bool f = name_in(name, formatting, PD_ARRAY_LEN(formatting));
		if (end) {
			depth -= depth > 0;
			fmt -= f && fmt > 0;
		} else {
			depth++;
			fmt += f;
			if (depth > MAX_NESTING || fmt > MAX_FORMATTING)
				return true;
		}
	}
	return false;
}

/* --------------------------------------------------------- tag stripper */

/* Minimal entity decoding for the stripper (gumbo does the full set). */
static void entities(struct out *o, const char *s, size_t n)
{
	static const struct {
		const char *name;
		const char *utf8;
	} ent[] = {{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"},
		   {"nbsp", " "}};
	struct pd_buf b;
	const char *p = s, *e = s + n;

	pd_buf_init(&b);
	while (p < e) {
		const char *amp = memchr(p, '&', (size_t)(e - p));
		const char *semi;

		if (amp == NULL)
			break;
		pd_buf_append(&b, p, (size_t)(amp - p));
		semi = memchr(amp, ';', (size_t)(e - amp) < 12 ? (size_t)(e - amp) : 12);
		p = amp + 1;
		if (semi == NULL) {
			pd_buf_append_char(&b, '&');
			continue;
		}
		size_t len = (size_t)(semi - amp - 1);
		bool done = false;
		if (len > 1 && amp[1] == '#') {
			unsigned long cp = amp[2] == 'x' || amp[2] == 'X' ? strtoul(amp + 3, NULL, 16)
									: strtoul(amp + 2, NULL, 10);
			if (cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
				uint8_t u[6];
				int un = u8_uctomb(u, (ucs4_t)cp, (int)sizeof(u));
				if (un > 0)
					pd_buf_append(&b, u, (size_t)un);
				done = true;
			}
		} else {
			for (size_t i = 0; i < PD_ARRAY_LEN(ent) && !done; i++)
				if (strlen(ent[i].name) == len && strncmp(amp + 1, ent[i].name, len) == 0) {
					pd_buf_append_str(&b, ent[i].utf8);
					done = true;
				}
		}
		if (done)
			p = semi + 1;
		else
			pd_buf_append_char(&b, '&');
	}
	pd_buf_append(&b, p, (size_t)(e - p));
	text(o, b.data ? b.data : "", b.len);
	pd_buf_free(&b);
}

/* Linear fallback: drop tags, comments and script/style contents, turn
 * block tags into line breaks. */
static void strip_tags(struct out *o, const char *s, size_t n)
{
	static const char *const blocks[] = {
		"p", "div", "li", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
		"blockquote", "pre", "hr", "dt", "dd", "dl",
	};
	const char *p = s, *e = s + n;

	while (p < e) {
		const char *lt = memchr(p, '<', (size_t)(e - p));
		char name[16];
		size_t k = 0;

		entities(o, p, (size_t)((lt ? lt : e) - p));
		if (lt == NULL)
			break;
		p = lt + 1;
		/* comments can contain anything, also '<' and '>' */
		if (e - p >= 3 && memcmp(p, "!--", 3) == 0) {
			const char *end = memmem(p, (size_t)(e - p), "-->", 3);
			p = end ? end + 3 : e;
			continue;
		}
		bool close = p < e && *p == '/';
		if (close)
			p++;
		while (p < e && isalnum((unsigned char)*p) && k + 1 < sizeof(name))
			name[k++] = (char)tolower((unsigned char)*p++);
		name[k] = '\0';
		const char *gt = memchr(p, '>', (size_t)(e - p));
		p = gt ? gt + 1 : e;
		if (!close && (strcmp(name, "script") == 0 || strcmp(name, "style") == 0 ||
			       strcmp(name, "title") == 0)) {
			/* skip to the matching end tag */
			while (p < e && (p = memchr(p, '<', (size_t)(e - p))) != NULL) {
				if ((size_t)(e - p) > k + 2 && p[1] == '/' &&
				    strncasecmp(p + 2, name, k) == 0)
					break;
				p++;
			}
			if (p == NULL)
				p = e;
			continue;
		}
		if (strcmp(name, "br") == 0)
			line_break(o);
		else if (strcmp(name, "li") == 0 && !close)
			block(o, 1), o->prefix = "- ";
		else if (name_in(name, blocks, PD_ARRAY_LEN(blocks)))
			block(o, 1);
	}
}

/* ------------------------------------------------------------ public API */

/* Hand b's data to the caller as valid UTF-8 without NUL bytes: what is
 * not (the input was not clean) becomes U+FFFD.  b is reset. */
static char *steal_utf8(struct pd_buf *b)
{
	struct pd_buf clean;

	if (b->data != NULL && pd_utf8_valid(b->data, b->len) &&
	    memchr(b->data, '\0', b->len) == NULL)
		return pd_buf_steal(b, NULL);
	pd_buf_init(&clean);
	for (size_t i = 0; i < b->len;) {
		size_t j = i + 1;
		unsigned char ch = (unsigned char)b->data[i];
		ucs4_t uc;
		int n = u8_mbtoucr(&uc, (const uint8_t *)b->data + i, b->len - i);
		if (ch >= 0x80 && n > 0)
			j = i + (size_t)n;
		if (ch == 0 || (ch >= 0x80 && j == i + 1))
			pd_buf_append_str(&clean, "\xef\xbf\xbd");
		else
			pd_buf_append(&clean, b->data + i, j - i);
		i = j;
	}
	pd_buf_free(b);
	return pd_buf_steal(&clean, NULL);
}

char *pd_html_to_text(const char *html, size_t len)
{
	return pd_html_to_text_cid(html, len, NULL, NULL);
}

char *pd_html_to_text_cid(const char *html, size_t len, pd_html_cid_name_fn cid_name, void *ctx)
{
	struct out o;

	memset(&o, 0, sizeof(o));
	pd_buf_init(&o.b);
	o.cid_name = cid_name;
	o.cid_ctx = ctx;
	if (html == NULL)
		html = "", len = 0;
	/* gumbo for everything it can take in linear-ish time, the stripper for
	 * the rest: both follow the same output rules */
	if (len > GUMBO_MAX_INPUT || too_hostile(html, len)) {
		strip_tags(&o, html, len);
	} else {
		GumboOptions opt = kGumboDefaultOptions;
		GumboOutput *g;

		opt.max_errors = 0; /* we do not read them; do not pay for them */
		g = gumbo_parse_with_options(&opt, html, len);
		render_tree(&o, g->document);
		gumbo_destroy_output(&opt, g);
	}
	/* no trailing blank lines or spaces */
	while (o.b.len > 0 && isspace((unsigned char)o.b.data[o.b.len - 1]))
		o.b.data[--o.b.len] = '\0';
	return steal_utf8(&o.b);
}

/* ------------------------------------------------------------ sanitiser */

/*
 * pd_html_sanitize() works in two passes over gumbo's tree, both linear and
 * iterative.  The first lists the nodes in document order (each with the
 * index after its last descendant) and, with PD_HTML_SANITIZE_STRIP_QUOTES,
 * marks the nodes of quoted history and of the notice as dropped: whole
 * subtrees, or everything from a node to the end of the document (Outlook).
 * The second serialises what is left through the whitelist: an element that
 * is dropped, or not on the list, gives no tags but its children still
 * count (it is unwrapped), so the output is always well formed.
 */

/* The notice's marker lines (answer.h's PD_ANSWER_MARK_*), as they start. */
#define MARK_BEGIN "======== postdesk notice"
#define MARK_END "======== end of postdesk notice"
#define ATTRIBUTION_MAX 400 /* bytes of text an attribution line may have */

/* One node in document order. */
struct snode {
	const GumboNode *n;
	size_t end;    /* index after the last descendant */
	size_t parent; /* SIZE_MAX for the document */
	size_t prev;   /* the sibling before, SIZE_MAX for a first child */
};

struct san {
	struct snode *v;
	size_t n;
	bool *drop;
};

static const GumboVector *attrs_of(const GumboNode *n)
{
	return n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE
		       ? &n->v.element.attributes
		       : NULL;
}

static const char *attr(const GumboNode *n, const char *name)
{
	const GumboVector *a = attrs_of(n);
	const GumboAttribute *at = a ? gumbo_get_attribute(a, name) : NULL;

	return at ? at->value : NULL;
}

static bool is_element(const GumboNode *n, GumboTag tag)
{
	return (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE) &&
	       n->v.element.tag == tag;
}

/* The class attribute of n holds the token name. */
static bool has_class(const GumboNode *n, const char *name)
{
	const char *c = attr(n, "class");
	size_t k = strlen(name);

	for (const char *p = c; p != NULL && *p;) {
		while (isspace((unsigned char)*p))
			p++;
		const char *e = p;
		while (*e && !isspace((unsigned char)*e))
			e++;
		if ((size_t)(e - p) == k && strncasecmp(p, name, k) == 0)
			return true;
		p = e;
	}
	return false;
}

/* Document order of the tree at root, iteratively (gumbo trees can be deep). */
static void list_nodes(struct san *s, const GumboNode *root)
{
	struct {
		size_t i;
		unsigned next;
		size_t last; /* the child listed last */
	} *st = NULL;
	size_t sp = 0;

	s->n = 0;
	s->v = pd_xgrow(NULL, 0, sizeof(*s->v));
	s->v[s->n++] = (struct snode){root, 0, SIZE_MAX, SIZE_MAX};
	st = pd_xgrow(st, 0, sizeof(*st));
	st[sp].i = 0, st[sp].next = 0, st[sp].last = SIZE_MAX, sp++;
	while (sp > 0) {
		size_t i = st[sp - 1].i;
		const GumboVector *ch = children_of(s->v[i].n);

		if (ch == NULL || st[sp - 1].next >= ch->length) {
			s->v[i].end = s->n;
			sp--;
			continue;
		}
		s->v = pd_xgrow(s->v, s->n, sizeof(*s->v));
		s->v[s->n] = (struct snode){ch->data[st[sp - 1].next++], 0, i, st[sp - 1].last};
		st[sp - 1].last = s->n;
		st = pd_xgrow(st, sp, sizeof(*st));
		st[sp].i = s->n++, st[sp].next = 0, st[sp].last = SIZE_MAX, sp++;
	}
	free(st);
}

/* Mark nodes [from, to) dropped. */
static void drop_range(struct san *s, size_t from, size_t to)
{
	for (size_t i = from; i < to && i < s->n; i++)
		s->drop[i] = true;
}

/* The text of node i's subtree, at most max bytes (more is cut; so are
 * subtrees of more than max nodes, which are no attribution either). */
static void subtree_text(const struct san *s, size_t i, struct pd_buf *b, size_t max)
{
	for (size_t k = i; k < s->v[i].end && k - i <= max && b->len < max; k++) {
		const GumboNode *n = s->v[k].n;
		if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE ||
		    n->type == GUMBO_NODE_CDATA)
			pd_buf_append_str(b, n->v.text.text);
	}
}

/*
 * The text of [s, s+n) reads like an attribution line: short, ends with
 * ':' and names an address or says "wrote" in one of the languages we
 * meet.
 */
static bool attribution_text(const char *t, size_t n)
{
	static const char *const verbs[] = {"wrote", "writes", "schrieb", "écrit", "escribió",
					    "написал", "пишет", "napisał", "scrisse", "skrev"};

	while (n > 0 && (isspace((unsigned char)t[n - 1]) || (unsigned char)t[n - 1] == 0xa0 ||
			 (unsigned char)t[n - 1] == 0xc2))
		n--;
	if (n == 0 || n > ATTRIBUTION_MAX || t[n - 1] != ':')
		return false;
	if (memchr(t, '@', n) != NULL)
		return true;
	for (size_t i = 0; i < PD_ARRAY_LEN(verbs); i++)
		if (memmem(t, n, verbs[i], strlen(verbs[i])) != NULL)
			return true;
	return false;
}

/* The index of the sibling before node i, skipping white space, comments
 * and <br>; SIZE_MAX when there is none. */
static size_t prev_sibling(const struct san *s, size_t i)
{
	size_t j = s->v[i].prev;

	while (j != SIZE_MAX && (s->v[j].n->type == GUMBO_NODE_WHITESPACE ||
				 s->v[j].n->type == GUMBO_NODE_COMMENT ||
				 is_element(s->v[j].n, GUMBO_TAG_BR)))
		j = s->v[j].prev;
	return j;
}

/* Drop the attribution just before node i ("On ..., Ann wrote:"), an
 * element or a text. */
static void drop_attribution_before(struct san *s, size_t i)
{
	size_t j = prev_sibling(s, i);
	struct pd_buf b;

	if (j == SIZE_MAX)
		return;
	pd_buf_init(&b);
	subtree_text(s, j, &b, ATTRIBUTION_MAX + 1);
	if (attribution_text(b.data ? b.data : "", b.len))
		drop_range(s, j, s->v[j].end);
	pd_buf_free(&b);
}

/* Outlook desktop's header block above the history:
 * <div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"> */
static bool outlook_header_style(const GumboNode *n)
{
	const char *st = attr(n, "style");
	char buf[160];
	size_t k = 0;

	if (st == NULL)
		return false;
	for (const char *p = st; *p && k + 1 < sizeof(buf); p++)
		if (!isspace((unsigned char)*p))
			buf[k++] = (char)tolower((unsigned char)*p);
	buf[k] = '\0';
	return strstr(buf, "border:none") != NULL && strstr(buf, "border-top:solid") != NULL;
}

/* The element that holds a marker text: the nearest ancestor of text node
 * i that is not an inline element. */
static size_t marker_holder(const struct san *s, size_t i)
{
	static const GumboTag inl[] = {
		GUMBO_TAG_SPAN, GUMBO_TAG_B,     GUMBO_TAG_I,     GUMBO_TAG_U,    GUMBO_TAG_EM,
		GUMBO_TAG_STRONG, GUMBO_TAG_FONT, GUMBO_TAG_A,    GUMBO_TAG_SMALL, GUMBO_TAG_BIG,
		GUMBO_TAG_CODE, GUMBO_TAG_TT,    GUMBO_TAG_S,     GUMBO_TAG_STRIKE, GUMBO_TAG_SUB,
		GUMBO_TAG_SUP,
	};
	size_t p = s->v[i].parent;

	while (p != SIZE_MAX) {
		const GumboNode *n = s->v[p].n;
		if (n->type != GUMBO_NODE_ELEMENT || is_element(n, GUMBO_TAG_BODY) ||
		    is_element(n, GUMBO_TAG_HTML))
			return i; /* text right in the body: the text node itself */
		bool inline_el = false;
		for (size_t k = 0; k < PD_ARRAY_LEN(inl); k++)
			inline_el = inline_el || is_element(n, inl[k]);
		if (!inline_el)
			return p;
		p = s->v[p].parent;
	}
	return i;
}

/* Is node i a text holding the marker m? */
static bool text_has(const struct san *s, size_t i, const char *m)
{
	const GumboNode *n = s->v[i].n;

	return (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_CDATA) &&
	       strstr(n->v.text.text, m) != NULL;
}

/*
 * PD_HTML_SANITIZE_STRIP_QUOTES: mark quoted history and the notice.
 * Thunderbird and Apple Mail quote in <blockquote type="cite"> (Thunderbird's
 * attribution is div.moz-cite-prefix, Apple Mail's a <div> just before or
 * inside); Gmail in div.gmail_quote with div.gmail_attr; Outlook on the web
 * starts the history at div#divRplyFwdMsg (after an empty div#appendonsend
 * and an <hr>), Outlook desktop at a div with a grey top border, new
 * Outlook for Mac at #mail-editor-reference-message-container, old
 * Outlook at .OutlookMessageHeader, Zimbra at hr#zwchr: all these end the
 * document.  Yahoo quotes in .yahoo_quoted, Proton in .protonmail_quote.  The notice is everything from the element holding its
 * BEGIN marker to the element holding its END marker (or, without an END,
 * to the end of the BEGIN holder's parent).
 */
static void mark_quotes(struct san *s)
{
	size_t end_at = SIZE_MAX, scan = 0; /* the next END marker's text */

	for (size_t i = 0; i < s->n; i++) {
		const GumboNode *n = s->v[i].n;

		if (s->drop[i])
			continue;
		if (text_has(s, i, MARK_BEGIN)) {
			size_t h = marker_holder(s, i), to = SIZE_MAX;
			/* the next END; the scan only moves forward (linear) */
			if (end_at == SIZE_MAX || end_at < i) {
				scan = scan > i ? scan : i;
				while (scan < s->n && !text_has(s, scan, MARK_END))
					scan++;
				end_at = scan < s->n ? scan : SIZE_MAX;
			}
			if (end_at != SIZE_MAX)
				to = s->v[marker_holder(s, end_at)].end;
			if (to == SIZE_MAX)
				to = s->v[h].parent != SIZE_MAX ? s->v[s->v[h].parent].end : s->n;
			if (to < s->v[h].end)
				to = s->v[h].end;
			drop_attribution_before(s, h);
			drop_range(s, h, to);
			continue;
		}
		if (text_has(s, i, MARK_END)) {
			size_t h = marker_holder(s, i);
			drop_range(s, h, s->v[h].end);
			continue;
		}
		if (n->type != GUMBO_NODE_ELEMENT)
			continue;
		const char *id = attr(n, "id");
		const char *type = attr(n, "type");
		if ((id != NULL && (strstr(id, "divRplyFwdMsg") != NULL ||
				    strstr(id, "appendonsend") != NULL ||
				    strstr(id, "mail-editor-reference-message-container") != NULL)) ||
		    has_class(n, "OutlookMessageHeader") ||
		    (is_element(n, GUMBO_TAG_HR) && id != NULL && strcmp(id, "zwchr") == 0) ||
		    (is_element(n, GUMBO_TAG_DIV) && outlook_header_style(n))) {
			size_t hr = prev_sibling(s, i);
			if (hr != SIZE_MAX && is_element(s->v[hr].n, GUMBO_TAG_HR))
				i = hr;
			drop_range(s, i, s->n);
			break;
		}
		if (is_element(n, GUMBO_TAG_BLOCKQUOTE) && type != NULL &&
		    strcasecmp(type, "cite") == 0) {
			drop_attribution_before(s, i);
			drop_range(s, i, s->v[i].end);
		} else if (has_class(n, "gmail_quote") || has_class(n, "gmail_attr") ||
			   has_class(n, "moz-cite-prefix") || has_class(n, "yahoo_quoted") ||
			   has_class(n, "protonmail_quote")) {
			drop_range(s, i, s->v[i].end);
		}
	}
}

/* ------------------------------------------------------- serialisation */

/* Elements kept (with the attributes start_tag allows); the others are
 * unwrapped or, those of drop_with_content, dropped with all they hold. */
static const char *const SAFE_ELEMENTS[] = {
	"a",       "abbr",   "address", "article", "aside",  "b",       "bdi",     "bdo",
	"big",     "blockquote", "br",  "caption", "center", "cite",    "code",    "col",
	"colgroup", "dd",    "del",     "details", "dfn",    "div",     "dl",      "dt",
	"em",      "figcaption", "figure", "font", "footer", "h1",      "h2",      "h3",
	"h4",      "h5",     "h6",      "header",  "hr",     "i",       "img",     "ins",
	"kbd",     "li",     "mark",    "ol",      "p",      "pre",     "q",       "s",
	"samp",    "section", "small",  "span",    "strike", "strong",  "sub",     "summary",
	"sup",     "table",  "tbody",   "td",      "tfoot",  "th",      "thead",   "tr",
	"tt",      "u",      "ul",      "var",     "wbr",
};

static bool drop_with_content(GumboTag t)
{
	switch (t) {
	case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_HEAD: case GUMBO_TAG_TITLE:
	case GUMBO_TAG_IFRAME: case GUMBO_TAG_FRAME: case GUMBO_TAG_FRAMESET:
	case GUMBO_TAG_NOFRAMES: case GUMBO_TAG_OBJECT: case GUMBO_TAG_EMBED:
	case GUMBO_TAG_APPLET: case GUMBO_TAG_PARAM: case GUMBO_TAG_META: case GUMBO_TAG_LINK:
	case GUMBO_TAG_BASE: case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE:
	case GUMBO_TAG_INPUT: case GUMBO_TAG_BUTTON: case GUMBO_TAG_SELECT:
	case GUMBO_TAG_TEXTAREA: case GUMBO_TAG_OPTION: case GUMBO_TAG_OPTGROUP:
	case GUMBO_TAG_AUDIO: case GUMBO_TAG_VIDEO: case GUMBO_TAG_SOURCE: case GUMBO_TAG_TRACK:
	case GUMBO_TAG_CANVAS: case GUMBO_TAG_SVG: case GUMBO_TAG_MATH: case GUMBO_TAG_KEYGEN:
	case GUMBO_TAG_DATALIST: case GUMBO_TAG_OUTPUT: case GUMBO_TAG_PROGRESS:
	case GUMBO_TAG_METER: case GUMBO_TAG_MAP: case GUMBO_TAG_AREA:
		return true;
	default:
		return false;
	}
}

static bool safe_element(GumboTag t)
{
	const char *name = gumbo_normalized_tagname(t);

	return t != GUMBO_TAG_UNKNOWN && name_in(name, SAFE_ELEMENTS, PD_ARRAY_LEN(SAFE_ELEMENTS));
}

/* Presentational attributes, harmless anywhere (values are escaped). */
static const char *const SAFE_ATTRS[] = {
	"align",   "alt",  "bgcolor", "border", "cellpadding", "cellspacing", "color", "colspan",
	"dir",     "face", "height",  "lang",   "reversed",    "rowspan",     "size",  "span",
	"start",   "title", "type",   "valign", "width",
};

/* CSS with no way to load anything: no url(), image-set() or other
 * function but colours and calc(), no escapes, comments or at-rules. */
static bool safe_css(const char *v)
{
	static const char *const fns[] = {"rgb", "rgba", "hsl", "hsla", "calc"};

	if (strpbrk(v, "\\@<>") != NULL || strstr(v, "/*") != NULL)
		return false;
	for (const char *p = strchr(v, '('); p != NULL; p = strchr(p + 1, '(')) {
		const char *q = p;
		while (q > v && (isalnum((unsigned char)q[-1]) || q[-1] == '-' || q[-1] == '_'))
			q--;
		size_t k = (size_t)(p - q);
		bool ok = false;
		for (size_t i = 0; i < PD_ARRAY_LEN(fns) && !ok; i++)
			ok = k == strlen(fns[i]) && strncasecmp(q, fns[i], k) == 0;
		if (!ok)
			return false;
	}
	/* also without parentheses: old IE's expression and behavior */
	return strcasestr(v, "expression") == NULL && strcasestr(v, "behavior") == NULL &&
	       strcasestr(v, "binding") == NULL && strcasestr(v, "javascript") == NULL;
}

/* A link a reader may follow: http, https or mailto. */
static bool safe_href(const char *v)
{
	while (isspace((unsigned char)*v))
		v++;
	return pd_str_istartswith(v, "http://") || pd_str_istartswith(v, "https://") ||
	       pd_str_istartswith(v, "mailto:");
}

/* An image we carry ourselves: a MIME part of the same mail. */
static bool safe_src(const char *v)
{
	while (isspace((unsigned char)*v))
		v++;
	return pd_str_istartswith(v, "cid:") && v[4] != '\0';
}

/* Text or an attribute value, escaped (quotes too, for attributes). */
static void escape(struct pd_buf *b, const char *s)
{
	for (const char *p = s; *p;) {
		size_t run = strcspn(p, "&<>\"");
		pd_buf_append(b, p, run);
		p += run;
		switch (*p) {
		case '&': pd_buf_append_str(b, "&amp;"); break;
		case '<': pd_buf_append_str(b, "&lt;"); break;
		case '>': pd_buf_append_str(b, "&gt;"); break;
		case '"': pd_buf_append_str(b, "&quot;"); break;
		default: return;
		}
		p++;
	}
}

/* The start tag of a kept element with its whitelisted attributes. */
static void start_tag(struct pd_buf *b, const GumboNode *n)
{
	const GumboVector *a = &n->v.element.attributes;

	pd_buf_append_char(b, '<');
	pd_buf_append_str(b, gumbo_normalized_tagname(n->v.element.tag));
	for (unsigned i = 0; i < a->length; i++) {
		const GumboAttribute *at = a->data[i];
		bool ok;

		if (at->attr_namespace != GUMBO_ATTR_NAMESPACE_NONE)
			continue;
		if (strcmp(at->name, "href") == 0)
			ok = n->v.element.tag == GUMBO_TAG_A && safe_href(at->value);
		else if (strcmp(at->name, "src") == 0)
			ok = n->v.element.tag == GUMBO_TAG_IMG && safe_src(at->value);
		else if (strcmp(at->name, "style") == 0)
			ok = safe_css(at->value);
		else
			ok = name_in(at->name, SAFE_ATTRS, PD_ARRAY_LEN(SAFE_ATTRS));
		if (!ok)
			continue;
		const char *v = at->value;
		if (strcmp(at->name, "href") == 0 || strcmp(at->name, "src") == 0)
			while (isspace((unsigned char)*v))
				v++;
		pd_buf_printf(b, " %s=\"", at->name);
		escape(b, v);
		pd_buf_append_char(b, '"');
	}
	pd_buf_append_char(b, '>');
}

static bool void_element(GumboTag t)
{
	return t == GUMBO_TAG_BR || t == GUMBO_TAG_HR || t == GUMBO_TAG_IMG ||
	       t == GUMBO_TAG_WBR || t == GUMBO_TAG_COL;
}

/* How the second pass treats an element. */
enum san_action { S_KEEP, S_UNWRAP, S_SKIP, S_ALT };

static enum san_action san_action(const GumboNode *n)
{
	GumboTag t = n->v.element.tag;

	if (n->type == GUMBO_NODE_TEMPLATE || n->v.element.tag_namespace != GUMBO_NAMESPACE_HTML ||
	    drop_with_content(t))
		return S_SKIP;
	if (!safe_element(t))
		return S_UNWRAP;
	if (t == GUMBO_TAG_IMG) {
		const char *src = attr(n, "src");
		return src != NULL && safe_src(src) ? S_KEEP : S_ALT;
	}
	if (t == GUMBO_TAG_A) {
		const char *href = attr(n, "href");
		return href != NULL && safe_href(href) ? S_KEEP : S_UNWRAP;
	}
	return S_KEEP;
}

/* Serialise the listed nodes that are not dropped, through the whitelist. */
static void serialise(const struct san *s, struct pd_buf *b)
{
	struct {
		size_t i;
		bool open; /* its start tag was written */
	} *st = NULL;
	size_t sp = 0;

	for (size_t i = 0; i < s->n;) {
		/* end tags of the elements whose subtree ends here */
		while (sp > 0 && s->v[st[sp - 1].i].end <= i) {
			sp--;
			if (st[sp].open)
				pd_buf_printf(b, "</%s>", gumbo_normalized_tagname(
								  s->v[st[sp].i].n->v.element.tag));
		}
		const GumboNode *n = s->v[i].n;
		switch (n->type) {
		case GUMBO_NODE_TEXT: case GUMBO_NODE_WHITESPACE: case GUMBO_NODE_CDATA:
			if (!s->drop[i])
				escape(b, n->v.text.text);
			i++;
			continue;
		case GUMBO_NODE_ELEMENT: case GUMBO_NODE_TEMPLATE:
			break;
		default: /* the document (its children follow), comments */
			i++;
			continue;
		}
		enum san_action a = san_action(n);
		if (a == S_SKIP) {
			i = s->v[i].end;
			continue;
		}
		if (a == S_ALT) {
			const char *alt = attr(n, "alt");
			if (!s->drop[i] && alt != NULL)
				escape(b, alt);
			i = s->v[i].end;
			continue;
		}
		bool open = a == S_KEEP && !s->drop[i];
		if (open)
			start_tag(b, n);
		if (void_element(n->v.element.tag)) {
			i = s->v[i].end;
			continue;
		}
		st = pd_xgrow(st, sp, sizeof(*st));
		st[sp].i = i, st[sp].open = open, sp++;
		i++;
	}
	while (sp > 0) {
		sp--;
		if (st[sp].open)
			pd_buf_printf(b, "</%s>",
				      gumbo_normalized_tagname(s->v[st[sp].i].n->v.element.tag));
	}
	free(st);
}

/* Hostile input (too big or deep for gumbo): its text, escaped, one <br>
 * per line; with STRIP_QUOTES cut at the notice's first marker. */
static void sanitize_as_text(const char *html, size_t len, unsigned flags, struct pd_buf *b)
{
	struct out o;

	memset(&o, 0, sizeof(o));
	pd_buf_init(&o.b);
	strip_tags(&o, html, len);
	char *t = steal_utf8(&o.b);
	if (flags & PD_HTML_SANITIZE_STRIP_QUOTES) {
		char *m = strstr(t, MARK_BEGIN);
		if (m != NULL)
			*m = '\0';
	}
	pd_buf_append_str(b, "<div>");
	for (char *p = t, *nl; p != NULL; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		escape(b, p);
		if (nl != NULL)
			pd_buf_append_str(b, "<br>");
	}
	pd_buf_append_str(b, "</div>");
	free(t);
}

int pd_html_sanitize(const char *html, size_t len, unsigned flags, char **out)
{
	struct pd_buf b;

	if (out == NULL)
		return -1;
	if (html == NULL)
		html = "", len = 0;
	pd_buf_init(&b);
	if (len > GUMBO_MAX_INPUT || too_hostile(html, len)) {
		sanitize_as_text(html, len, flags, &b);
	} else {
		GumboOptions opt = kGumboDefaultOptions;
		GumboOutput *g;
		struct san s;

		opt.max_errors = 0;
		g = gumbo_parse_with_options(&opt, html, len);
		list_nodes(&s, g->document);
		s.drop = pd_xcalloc(s.n, sizeof(*s.drop));
		if (flags & PD_HTML_SANITIZE_STRIP_QUOTES)
			mark_quotes(&s);
		serialise(&s, &b);
		free(s.drop);
		free(s.v);
		gumbo_destroy_output(&opt, g);
	}
	*out = steal_utf8(&b);
	return 0;
}
