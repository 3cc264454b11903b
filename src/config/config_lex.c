/*
 * config_lex.c - reading a configuration file: the scanner that follows
 * libconfuse's lexer and records the line of every section, key and list
 * item (step 2 of the loading, see config.c), and the diagnostics: the
 * collected problems and the lines they are reported at.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <confuse.h>
#include <curl/curl.h>

#include "config.h"
#include "config_int.h"
#include "log.h"
#include "util.h"

/* ------------------------------------------------------------ error list */

void problems_add(struct problems *p, int line, char *text)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].line == line && strcmp(p->v[i].text, text) == 0) {
			free(text);
			return;
		}
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = pd_xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	p->v[p->n].line = line;
	p->v[p->n].seq = p->n;
	p->v[p->n].text = text;
	p->n++;
}

int problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---------------------------------------------------------------- scanner */

/*
 * The scanner follows libconfuse 3.3's lexer (lexer.l) closely enough to
 * agree on where every token starts:
 *   - blanks are space, tab (and CR, FF, VT, which libconfuse drops);
 *   - "#..." and "//..." run to the end of the line, "/" "*" ... "*" "/"
 *     to its end; a comment starts only where a token could (inside an
 *     unquoted word "a//b" is part of the word, as in libconfuse);
 *   - "..." strings take backslash escapes and may span lines; '...'
 *     strings take \' and \\ only; "${VAR}" is an environment reference;
 *   - { } ( ) = += , are punctuation;
 *   - anything else up to a blank or one of  # " ' = { } ( ) + , *  is an
 *     unquoted word.
 * libconfuse silently drops a lone '*' or '+'; the scanner refuses them.
 * Lines count every newline, including those inside strings and comments.
 */

enum tok_type {
	T_EOF,
	T_STR,
	T_LBRACE,
	T_RBRACE,
	T_LPAREN,
	T_RPAREN,
	T_EQ,
	T_PLUSEQ,
	T_COMMA,
	T_BAD, /* a character libconfuse would silently drop: refused */
	T_ERR, /* lexical error, already reported */
};

struct token {
	enum tok_type t;
	size_t start, end; /* byte range in the text */
	int line;          /* line of the first byte */
};

static void vreport(struct problems *probs, const char *path, int line, const char *fmt,
		    va_list ap) __attribute__((format(printf, 4, 0)));

static void vreport(struct problems *probs, const char *path, int line, const char *fmt,
		    va_list ap)
{
	struct pd_buf b;

	pd_buf_init(&b);
	if (line > 0)
		pd_buf_printf(&b, "%s:%d: ", path, line);
	else
		pd_buf_printf(&b, "%s: ", path);
	char *msg;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	/* one problem, one line */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pd_buf_append_str(&b, msg);
	free(msg);
	problems_add(probs, line, pd_buf_steal(&b, NULL));
}

static void scan_error(struct scanner *sc, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void scan_error(struct scanner *sc, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(sc->probs, sc->path, line, fmt, ap);
	va_end(ap);
}

/* A syntax error ends the scan: what follows cannot be trusted. */
static void scan_syntax(struct scanner *sc, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void scan_syntax(struct scanner *sc, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (sc->failed)
		return;
	sc->failed = true;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	scan_error(sc, line, "syntax error: %s", msg);
	free(msg);
}

static void add_blank(struct scanner *sc, size_t start, size_t end)
{
	if (sc->n_blank == sc->cap_blank) {
		sc->cap_blank = sc->cap_blank ? sc->cap_blank * 2 : 32;
		sc->blank = pd_xreallocarray(sc->blank, sc->cap_blank, sizeof(*sc->blank));
	}
	sc->blank[sc->n_blank].start = start;
	sc->blank[sc->n_blank].end = end;
	sc->n_blank++;
}

/* Characters that end an unquoted string in libconfuse's lexer. */
static bool unquoted_char(char c)
{
	return strchr(" \t\r\n#\"'={}()+,*", c) == NULL;
}

/*
 * Skip a "${...}" environment reference at p if there is one (libconfuse
 * expands them); returns the offset after it, or p when there is none.
 */
static size_t skip_env_ref(struct scanner *sc, size_t p)
{
	if (p + 1 < sc->len && sc->s[p] == '$' && sc->s[p + 1] == '{') {
		const char *close = memchr(sc->s + p + 2, '}', sc->len - p - 2);
		if (close != NULL) {
			size_t end = (size_t)(close - sc->s) + 1;
			for (size_t i = p; i < end; i++)
				if (sc->s[i] == '\n')
					sc->line++;
			return end;
		}
	}
	return p;
}

/* Whitespace and comments (recorded for blanking). */
static void skip_space(struct scanner *sc)
{
	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];
		char n = sc->pos + 1 < sc->len ? sc->s[sc->pos + 1] : '\0';

		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			sc->pos++;
		} else if (c == '\n') {
			sc->line++;
			sc->pos++;
		} else if (c == '#' || (c == '/' && n == '/')) {
			size_t start = sc->pos;
			while (sc->pos < sc->len && sc->s[sc->pos] != '\n')
				sc->pos++;
			add_blank(sc, start, sc->pos);
		} else if (c == '/' && n == '*') {
			size_t start = sc->pos;
			sc->pos += 2;
			while (sc->pos < sc->len &&
			       !(sc->s[sc->pos] == '*' && sc->pos + 1 < sc->len &&
				 sc->s[sc->pos + 1] == '/')) {
				if (sc->s[sc->pos] == '\n')
					sc->line++;
				sc->pos++;
			}
			sc->pos = sc->pos < sc->len ? sc->pos + 2 : sc->len;
			add_blank(sc, start, sc->pos);
		} else {
			break;
		}
	}
}

static struct token next_token(struct scanner *sc)
{
	struct token t;

	skip_space(sc);
	t.start = sc->pos;
	t.line = sc->line;
	if (sc->failed) {
		t.t = T_ERR;
		t.end = t.start;
		return t;
	}
	if (sc->pos >= sc->len) {
		t.t = T_EOF;
		t.end = t.start;
		t.line = sc->last_line > 0 ? sc->last_line : 1;
		return t;
	}
	sc->last_line = t.line;
	char c = sc->s[sc->pos];
	switch (c) {
	case '{':
		t.t = T_LBRACE;
		break;
	case '}':
		t.t = T_RBRACE;
		break;
	case '(':
		t.t = T_LPAREN;
		break;
	case ')':
		t.t = T_RPAREN;
		break;
	case '=':
		t.t = T_EQ;
		break;
	case ',':
		t.t = T_COMMA;
		break;
	case '+':
		if (sc->pos + 1 < sc->len && sc->s[sc->pos + 1] == '=') {
			t.t = T_PLUSEQ;
			sc->pos++;
		} else {
			t.t = T_BAD;
		}
		break;
	case '"':
	case '\'': {
		size_t p = sc->pos + 1;
		for (;;) {
			if (p >= sc->len) {
				scan_syntax(sc, t.line, "unterminated string");
				t.t = T_ERR;
				t.end = sc->len;
				sc->pos = sc->len;
				return t;
			}
			char d = sc->s[p];
			if (d == c) {
				break;
			} else if (d == '\\' && p + 1 < sc->len) {
				if (sc->s[p + 1] == '\n')
					sc->line++;
				p += 2;
			} else if (d == '\n') {
				sc->line++;
				p++;
			} else if (c == '"' && d == '$') {
				size_t q = skip_env_ref(sc, p);
				p = q > p ? q : p + 1;
			} else {
				p++;
			}
		}
		sc->pos = p;
		t.t = T_STR;
		break;
	}
	default:
		if (c == '*') {
			t.t = T_BAD;
			break;
		}
		t.t = T_STR;
		size_t q = skip_env_ref(sc, sc->pos);
		if (q > sc->pos) {
			sc->pos = q;
			t.end = q;
			return t;
		}
		while (sc->pos < sc->len && unquoted_char(sc->s[sc->pos]))
			sc->pos++;
		t.end = sc->pos;
		return t;
	}
	sc->pos++;
	t.end = sc->pos;
	return t;
}

/* The text of a T_STR token, quotes removed and simple escapes resolved. */
static char *token_text(const struct scanner *sc, const struct token *t)
{
	const char *p = sc->s + t->start, *end = sc->s + t->end;
	struct pd_buf b;

	pd_buf_init(&b);
	if (*p != '"' && *p != '\'') {
		pd_buf_append(&b, p, (size_t)(end - p));
		return pd_buf_steal(&b, NULL);
	}
	char q = *p++;
	end--; /* closing quote */
	while (p < end) {
		if (*p == '\\' && p + 1 < end) {
			char e = p[1];
			if (e == '\n')
				; /* line continuation */
			else if (q == '"' && e == 'n')
				pd_buf_append_char(&b, '\n');
			else if (q == '"' && e == 't')
				pd_buf_append_char(&b, '\t');
			else if (q == '\'' && e != '\\' && e != '\'')
				pd_buf_append(&b, p, 2);
			else
				pd_buf_append_char(&b, e);
			p += 2;
		} else {
			pd_buf_append_char(&b, *p++);
		}
	}
	return pd_buf_steal(&b, NULL);
}

/* Describe a token for a syntax error message. */
static const char *token_desc(const struct scanner *sc, const struct token *t, char *buf,
			      size_t len)
{
	switch (t->t) {
	case T_EOF:
		return "end of file";
	case T_STR: {
		char *s = token_text(sc, t);
		snprintf(buf, len, "'%.40s'", s);
		free(s);
		return buf;
	}
	default:
		snprintf(buf, len, "'%c'", sc->s[t->start]);
		return buf;
	}
}

static const cfg_opt_t *schema_find(const cfg_opt_t *opts, const char *name)
{
	if (opts == NULL)
		return NULL;
	for (const cfg_opt_t *o = opts; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

static struct scan_assign *sec_add_assign(struct scan_sec *sec, const char *key, int line,
					  bool append)
{
	if (sec->n == sec->cap) {
		sec->cap = sec->cap ? sec->cap * 2 : 8;
		sec->a = pd_xreallocarray(sec->a, sec->cap, sizeof(*sec->a));
	}
	struct scan_assign *a = &sec->a[sec->n++];
	a->key = key;
	a->line = line;
	a->append = append;
	a->n = 0;
	a->item_lines = NULL;
	return a;
}

static struct scan_sec *scan_new_sec(struct scanner *sc, const char *name, char *title,
				     bool titled, int line)
{
	struct scan_sec *s = pd_xcalloc(1, sizeof(*s));

	s->name = name;
	s->title = title;
	s->titled = titled;
	s->line = line;
	if (sc->n_secs == sc->cap_secs) {
		sc->cap_secs = sc->cap_secs ? sc->cap_secs * 2 : 16;
		sc->secs = pd_xreallocarray(sc->secs, sc->cap_secs, sizeof(*sc->secs));
	}
	sc->secs[sc->n_secs++] = s;
	return s;
}

static void scan_sec_free(struct scan_sec *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->a[i].item_lines);
	free(s->a);
	free(s->title);
	for (size_t i = 0; i < s->n_kids; i++) {
		scan_sec_free(s->kids[i]);
		free(s->kids[i]);
	}
	free(s->kids);
}

/* A section inside a top-level one (depth 1), kept with its parent. */
static struct scan_sec *scan_new_kid(struct scan_sec *parent, const char *name, char *title,
				     int line)
{
	struct scan_sec *s = pd_xcalloc(1, sizeof(*s));

	s->name = name;
	s->title = title;
	s->titled = title != NULL;
	s->line = line;
	parent->kids = pd_xreallocarray(parent->kids, parent->n_kids + 1, sizeof(*parent->kids));
	parent->kids[parent->n_kids++] = s;
	return s;
}

/* "mailbox \"support\"" or "database" for messages. */
char *sec_desc(const char *name, const char *title)
{
	if (title != NULL)
		return pd_xasprintf("%s \"%s\"", name, title);
	return pd_xstrdup(name);
}

/*
 * Parse a value after '=' / '+=': a string or a {list}.  Item lines are
 * stored in a when given.  Returns false on a syntax error.
 */
static bool scan_value(struct scanner *sc, const char *key, bool *is_list,
		       struct scan_assign *a)
{
	char desc[64];
	struct token t = next_token(sc);

	*is_list = false;
	if (t.t == T_STR) {
		if (a != NULL) {
			a->item_lines = pd_xmalloc(sizeof(int));
			a->item_lines[0] = t.line;
			a->n = 1;
		}
		return true;
	}
	if (t.t != T_LBRACE) {
		if (t.t != T_ERR)
			scan_syntax(sc, t.line, "missing value after '%s ='", key);
		return false;
	}
	*is_list = true;
	for (;;) {
		t = next_token(sc);
		if (t.t == T_RBRACE)
			return true;
		if (t.t != T_STR) {
			if (t.t != T_ERR)
				scan_syntax(sc, t.line, "unexpected %s in the list of '%s'",
					    token_desc(sc, &t, desc, sizeof(desc)), key);
			return false;
		}
		if (a != NULL) {
			a->item_lines = pd_xreallocarray(a->item_lines, a->n + 1, sizeof(int));
			a->item_lines[a->n++] = t.line;
		}
		t = next_token(sc);
		if (t.t == T_RBRACE)
			return true;
		if (t.t != T_COMMA) {
			if (t.t != T_ERR)
				scan_syntax(sc, t.line, "missing ',' or '}' in the list of '%s'",
					    key);
			return false;
		}
	}
}

/* Skip "( args )" of a function call such as include("file"). */
static bool scan_call(struct scanner *sc, const char *name)
{
	for (;;) {
		struct token t = next_token(sc);
		if (t.t == T_RPAREN)
			return true;
		if (t.t == T_EOF || t.t == T_ERR || t.t == T_LBRACE || t.t == T_RBRACE) {
			if (t.t != T_ERR)
				scan_syntax(sc, t.line, "missing ')' after '%s('", name);
			return false;
		}
	}
}

/*
 * The grammar, as libconfuse accepts it:
 *   body      := statement*
 *   statement := NAME ('=' | '+=') value
 *              | NAME [TITLE] '{' body '}'
 *              | NAME '(' [WORD (',' WORD)*] ')'      function call
 *   value     := WORD | '{' [WORD (',' WORD)* [',']] '}'
 * Known names must be used the way the schema declares them (section or
 * option, titled or not, list or not): a mismatch is a syntax error, since
 * libconfuse would stop there too.  Unknown names are reported and their
 * whole statement (a nested body included) is blanked out; scanning goes
 * on, so every unknown key in the file is reported at once.
 *
 * Parse statements until the closing brace (depth > 0) or the end of file.
 * opts is the schema of this section (NULL inside an unknown section, where
 * everything is skipped); sec records what is seen (NULL = do not record).
 */
void scan_body(struct scanner *sc, const cfg_opt_t *opts, struct scan_sec *sec,
		      const char *where, int depth, int open_line)
{
	char desc[64];

	while (!sc->failed) {
		struct token t = next_token(sc);

		if (t.t == T_ERR)
			return;
		if (t.t == T_EOF) {
			if (depth > 0)
				scan_syntax(sc, open_line, "%s is never closed (missing '}')",
					    where);
			return;
		}
		if (t.t == T_RBRACE) {
			if (depth == 0)
				scan_syntax(sc, t.line, "unexpected '}'");
			return;
		}
		if (t.t == T_BAD) {
			scan_syntax(sc, t.line, "unexpected character '%c'", sc->s[t.start]);
			return;
		}
		if (t.t != T_STR) {
			scan_syntax(sc, t.line, "unexpected %s",
				    token_desc(sc, &t, desc, sizeof(desc)));
			return;
		}

		char *name = token_text(sc, &t);
		const cfg_opt_t *opt = schema_find(opts, name);
		bool unknown = opts != NULL && opt == NULL;
		struct token t2 = next_token(sc);

		if (t2.t == T_EQ || t2.t == T_PLUSEQ) {
			bool append = t2.t == T_PLUSEQ, is_list;
			struct scan_assign *a = NULL;

			if (opt != NULL && opt->type == CFGT_SEC) {
				scan_syntax(sc, t.line, "'%s' is a section: write %s%s { ... }", name,
					    name, (opt->flags & CFGF_TITLE) ? " \"NAME\"" : "");
				free(name);
				return;
			}
			if (opt != NULL && sec != NULL)
				a = sec_add_assign(sec, opt->name, t.line, append);
			if (!scan_value(sc, name, &is_list, a)) {
				free(name);
				return;
			}
			if (opt != NULL && !(opt->flags & CFGF_LIST)) {
				if (append) {
					scan_syntax(sc, t2.line, "'+=' works on lists only, and '%s' "
								 "is not a list", name);
					free(name);
					return;
				}
				if (is_list) {
					scan_syntax(sc, t.line, "'%s' takes one value, not a list",
						    name);
					free(name);
					return;
				}
			}
		} else if (t2.t == T_LBRACE || t2.t == T_STR) {
			char *title = NULL;
			int title_line = t2.line;

			if (t2.t == T_STR) {
				title = token_text(sc, &t2);
				struct token t3 = next_token(sc);
				if (t3.t != T_LBRACE) {
					if (t3.t != T_ERR)
						scan_syntax(sc, title_line,
							    "missing '{' after %s \"%s\"", name,
							    title);
					free(title);
					free(name);
					return;
				}
			}
			if (opt != NULL && opt->type != CFGT_SEC) {
				scan_syntax(sc, t.line, "'%s' is an option: write %s = value", name,
					    name);
				free(title);
				free(name);
				return;
			}
			if (opt != NULL && (opt->flags & CFGF_TITLE) && title == NULL) {
				scan_syntax(sc, t.line,
					    "section '%s' needs a name: %s \"NAME\" { ... }", name,
					    name);
				free(name);
				return;
			}
			if (opt != NULL && !(opt->flags & CFGF_TITLE) && title != NULL) {
				scan_syntax(sc, title_line, "section '%s' takes no name: %s { ... }",
					    name, name);
				free(title);
				free(name);
				return;
			}
			struct scan_sec *child = NULL;
			char *child_where = sec_desc(name, title);
			if (opt != NULL && depth == 0)
				child = scan_new_sec(sc, opt->name, title, title != NULL, t.line);
			else if (opt != NULL && depth == 1 && sec != NULL)
				child = scan_new_kid(sec, opt->name, title, t.line);
			else
				free(title);
			if (unknown)
				scan_error(sc, t.line, "unknown section '%s'%s%s", name,
					   depth > 0 ? " in " : "", depth > 0 ? where : "");
			scan_body(sc, opt != NULL ? opt->subopts : NULL, child, child_where,
				  depth + 1, t.line);
			free(child_where);
		} else if (t2.t == T_LPAREN) {
			if (opt != NULL) {
				scan_syntax(sc, t.line, "unexpected '(' after '%s'", name);
				free(name);
				return;
			}
			if (!scan_call(sc, name)) {
				free(name);
				return;
			}
		} else {
			if (t2.t != T_ERR)
				scan_syntax(sc, t2.line, "missing '=' after '%s'", name);
			free(name);
			return;
		}

		if (unknown && !sc->failed) {
			if (t2.t == T_LBRACE || t2.t == T_STR)
				; /* reported above, before its body */
			else if (depth > 0)
				scan_error(sc, t.line, "unknown option '%s' in %s", name, where);
			else
				scan_error(sc, t.line, "unknown option '%s'", name);
			add_blank(sc, t.start, sc->pos);
		}
		free(name);
	}
}

void scanner_free(struct scanner *sc)
{
	scan_sec_free(&sc->root);
	for (size_t i = 0; i < sc->n_secs; i++) {
		scan_sec_free(sc->secs[i]);
		free(sc->secs[i]);
	}
	free(sc->secs);
	free(sc->blank);
}

/* ------------------------------------------------------- loading context */

void report(struct ctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(&c->probs, c->path, line, fmt, ap);
	va_end(ap);
}

/*
 * Messages from libconfuse itself: possible only when the scan passed,
 * e.g. a bad escape such as "\9".  Comments are blanked by then, so
 * cfg->line is right (libconfuse 3.3 miscounts lines only in comments).
 * libconfuse's error callback takes no user pointer, hence the static.
 */
struct ctx *confuse_ctx;

void confuse_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct ctx *c = confuse_ctx;

	if (c == NULL)
		return;
	vreport(&c->probs, c->path, cfg != NULL ? cfg->line : 0, fmt, ap);
}

/*
 * Occurrences of sec in the scan.  A titled section written twice keeps
 * only its last occurrence in libconfuse; an untitled one merges all.
 */
size_t sec_instances(const struct ctx *c, cfg_t *sec, const struct scan_sec **out,
			    size_t max)
{
	size_t n = 0;

	if (sec == c->root) {
		out[0] = &c->sc.root;
		return 1;
	}
	for (size_t i = 0; i < c->n_nested; i++) {
		if (c->nested[i].sec == sec) {
			out[0] = c->nested[i].scan;
			return 1;
		}
	}
	const char *name = cfg_name(sec), *title = cfg_title(sec);
	for (size_t i = 0; i < c->sc.n_secs; i++) {
		const struct scan_sec *s = c->sc.secs[i];
		if (strcmp(s->name, name) != 0)
			continue;
		if (title != NULL) {
			if (s->title != NULL && strcmp(s->title, title) == 0) {
				out[0] = s;
				n = 1;
			}
		} else if (n < max) {
			out[n++] = s;
		}
	}
	return n;
}

/* Line of the section header; 0 when unknown. */
int sec_line(const struct ctx *c, cfg_t *sec)
{
	const struct scan_sec *inst[8];

	if (sec == c->root)
		return 0;
	return sec_instances(c, sec, inst, PD_ARRAY_LEN(inst)) > 0 ? inst[0]->line : 0;
}

/* Line of the assignment libconfuse kept for key; the section's line when
 * the key was not written. */
int key_line(const struct ctx *c, cfg_t *sec, const char *key)
{
	const struct scan_sec *inst[8];
	size_t n = sec_instances(c, sec, inst, PD_ARRAY_LEN(inst));
	int line = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < inst[i]->n; j++)
			if (strcmp(inst[i]->a[j].key, key) == 0)
				line = inst[i]->a[j].line;
	return line > 0 ? line : sec_line(c, sec);
}

/* Line of item idx of list key, replaying '=' (reset) and '+=' (append). */
int item_line(const struct ctx *c, cfg_t *sec, const char *key, unsigned idx)
{
	const struct scan_sec *inst[8];
	size_t n = sec_instances(c, sec, inst, PD_ARRAY_LEN(inst));
	size_t count = 0;
	int line = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < inst[i]->n; j++) {
			const struct scan_assign *a = &inst[i]->a[j];
			if (strcmp(a->key, key) != 0)
				continue;
			if (!a->append)
				count = 0;
			if (idx >= count && idx < count + a->n)
				line = a->item_lines[idx - count];
			count += a->n;
		}
	}
	return line > 0 ? line : key_line(c, sec, key);
}

const struct scan_sec *first_scan_sec(const struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->sc.n_secs; i++)
		if (strcmp(c->sc.secs[i]->name, name) == 0)
			return c->sc.secs[i];
	return NULL;
}
