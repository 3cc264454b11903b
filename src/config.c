/*
 * config.c - the libconfuse schema, validation, and the immutable
 * struct pd_config built from it.  See config.h.
 *
 * Loading runs in four steps:
 *   1. read the file (and stat it: inline secrets need mode 0600);
 *   2. scan it with a small tokenizer that follows libconfuse's lexer.  The
 *      scan records the line of every section, key and list item, reports
 *      every unknown option/section and every syntax error with its real
 *      line, and blanks out comments and unknown statements (keeping the
 *      newlines) so that
 *   3. libconfuse parses the cleaned text into cfg_t without stopping at
 *      the first unknown key;
 *   4. a checking pass walks cfg_t, converts every value and runs the
 *      cross-field checks, reporting each problem at the line the scan
 *      recorded.
 * Why the scan: libconfuse 3.3 has no per-option line, counts each comment
 * line twice in cfg->line, and calls validate callbacks only after reading
 * the next token, so its line numbers are wrong after the first comment.
 * Blanking comments also makes libconfuse's own syntax messages exact, and
 * lets comments appear anywhere (libconfuse 3.3 rejects them inside lists).
 *
 * Numbers and booleans are declared as strings in the schema and converted
 * in step 4, so that a bad value is one more collected problem instead of a
 * parse error that hides all the others.
 *
 * Not reentrant (libconfuse's lexer is not either): load one file at a time.
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

#include "codec.h"
#include "config.h"
#include "log.h"
#include "util.h"

/* ------------------------------------------------------------------ schema */

/*
 * One table per section, keys alphabetical.  CFGF_NODEFAULT marks keys
 * without a default (required ones are checked in step 4, so that a missing
 * key is reported with the section's line).  Every value is a string; see
 * the top of the file.
 */
static cfg_opt_t database_opts[] = {
	CFG_STR("conninfo", NULL, CFGF_NODEFAULT),
	CFG_STR("statement_timeout", "25s", CFGF_NONE),
	CFG_END(),
};

/* oauth2 { } inside a mailbox or smtp section (auth = xoauth2 | oauthbearer) */
static cfg_opt_t oauth2_opts[] = {
	CFG_STR("client_id", NULL, CFGF_NODEFAULT),
	CFG_STR("client_secret_file", NULL, CFGF_NODEFAULT),
	CFG_STR("device_url", NULL, CFGF_NODEFAULT),
	CFG_STR("grant", "refresh_token", CFGF_NONE),
	CFG_STR("refresh_token_file", NULL, CFGF_NODEFAULT),
	CFG_STR("scope", NULL, CFGF_NODEFAULT),
	CFG_STR("token_url", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t mailbox_opts[] = {
	CFG_STR("auth", "auto", CFGF_NONE),
	CFG_STR("ca_file", NULL, CFGF_NODEFAULT),
	CFG_STR("idle", "true", CFGF_NONE),
	CFG_SEC("oauth2", oauth2_opts, CFGF_NONE),
	CFG_STR("password", NULL, CFGF_NODEFAULT),
	CFG_STR("password_file", NULL, CFGF_NODEFAULT),
	CFG_STR("poll_interval", "60s", CFGF_NONE),
	CFG_STR("processed_folder", NULL, CFGF_NODEFAULT),
	CFG_STR("queue", "default", CFGF_NONE),
	CFG_STR("timeout", "25s", CFGF_NONE),
	CFG_STR("tls", NULL, CFGF_NODEFAULT),
	CFG_STR("token_command", NULL, CFGF_NODEFAULT),
	CFG_STR("url", NULL, CFGF_NODEFAULT),
	CFG_STR("user", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t smtp_opts[] = {
	CFG_STR("auth", "password", CFGF_NONE),
	CFG_STR("ca_file", NULL, CFGF_NODEFAULT),
	CFG_STR("from", NULL, CFGF_NODEFAULT),
	CFG_STR("max_message_size", "25M", CFGF_NONE),
	CFG_SEC("oauth2", oauth2_opts, CFGF_NONE),
	CFG_STR("password", NULL, CFGF_NODEFAULT),
	CFG_STR("password_file", NULL, CFGF_NODEFAULT),
	CFG_STR("timeout", "25s", CFGF_NONE),
	CFG_STR("token_command", NULL, CFGF_NODEFAULT),
	CFG_STR("tls", NULL, CFGF_NODEFAULT),
	CFG_STR("url", NULL, CFGF_NODEFAULT),
	CFG_STR("user", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t metrics_opts[] = {
	CFG_STR("listen", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t agents_opts[] = {
	CFG_STR_LIST("addresses", NULL, CFGF_NODEFAULT),
	CFG_STR("max_notice_attachments", "10M", CFGF_NONE),
	CFG_STR_LIST("notify", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("trusted_authserv_ids", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t sla_opts[] = {
	CFG_STR("calendar", "24x7", CFGF_NONE),
	CFG_STR("first_response", NULL, CFGF_NODEFAULT),
	CFG_STR("resolution", NULL, CFGF_NODEFAULT),
	CFG_STR("warn_at", "80", CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t calendar_opts[] = {
	CFG_STR_LIST("holidays", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("hours", NULL, CFGF_NODEFAULT),
	CFG_STR("timezone", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t plan_opts[] = {
	CFG_STR("calendar", NULL, CFGF_NODEFAULT),
	CFG_STR("critical", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("customers", NULL, CFGF_NODEFAULT),
	CFG_STR("high", NULL, CFGF_NODEFAULT),
	CFG_STR("low", NULL, CFGF_NODEFAULT),
	CFG_STR("normal", NULL, CFGF_NODEFAULT),
	CFG_STR("warn_at", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t line_opts[] = {
	CFG_STR("calendar", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("notify", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t queue_opts[] = {
	CFG_STR_LIST("addresses", NULL, CFGF_NODEFAULT),
	CFG_STR("line", "1", CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t rule_opts[] = {
	CFG_STR_LIST("exclude", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("fields", NULL, CFGF_NODEFAULT),
	CFG_STR("final", "false", CFGF_NONE),
	CFG_STR_LIST("keywords", NULL, CFGF_NODEFAULT),
	CFG_STR("priority", NULL, CFGF_NODEFAULT),
	CFG_STR("queue", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("senders", NULL, CFGF_NODEFAULT),
	CFG_STR("type", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t type_opts[] = {
	CFG_STR("line", NULL, CFGF_NODEFAULT),
	CFG_STR("queue", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t root_opts[] = {
	CFG_SEC("agents", agents_opts, CFGF_NONE),
	CFG_STR("batch_bytes", "32M", CFGF_NONE),
	CFG_STR("batch_size", "100", CFGF_NONE),
	CFG_SEC("calendar", calendar_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_SEC("database", database_opts, CFGF_NONE),
	CFG_SEC("metrics", metrics_opts, CFGF_NONE),
	CFG_STR("default_language", "en", CFGF_NONE),
	CFG_SEC("line", line_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_STR("log_level", "info", CFGF_NONE),
	CFG_SEC("mailbox", mailbox_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_STR("max_message_size", "25M", CFGF_NONE),
	CFG_STR("message_id_domain", NULL, CFGF_NODEFAULT),
	CFG_SEC("plan", plan_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_SEC("queue", queue_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_STR("reopen_days", "14", CFGF_NONE),
	CFG_SEC("rule", rule_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_STR("sla_scan_interval", "10s", CFGF_NONE),
	CFG_SEC("sla", sla_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_SEC("smtp", smtp_opts, CFGF_NONE),
	CFG_STR("subject_tag", "Support", CFGF_NONE),
	CFG_STR("support_address", NULL, CFGF_NODEFAULT),
	CFG_STR("auto_reply_limit_10m", "10", CFGF_NONE),
	CFG_STR("auto_reply_limit_day", "40", CFGF_NONE),
	CFG_STR("suppress_days", "7", CFGF_NONE),
	CFG_STR("templates_dir", PD_DATADIR "/templates", CFGF_NONE),
	CFG_STR("trust_priority_headers", "false", CFGF_NONE),
	CFG_SEC("type", type_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_END(),
};

#define PASSWORD_FILE_MAX 4096
#define CRED_PREFIX "$CREDENTIALS_DIRECTORY/"

/* ------------------------------------------------------------ error list */

struct problem {
	int line; /* 0 = the whole file */
	size_t seq;
	char *text;
};

struct problems {
	size_t n, cap;
	struct problem *v;
};

static void problems_add(struct problems *p, int line, char *text)
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

static int problem_cmp(const void *a, const void *b)
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

/* A key assignment or list update seen in a section. */
struct scan_assign {
	const char *key; /* schema name */
	int line;
	bool append;     /* += */
	size_t n;        /* list items given in this statement */
	int *item_lines;
};

/* One occurrence of a top-level section (or the root). */
struct scan_sec {
	const char *name; /* schema name; "" for the root */
	char *title;      /* as written (unescaped); NULL when untitled */
	bool titled;
	int line;
	size_t n, cap;
	struct scan_assign *a;
	size_t n_kids;           /* sections inside this one (mailbox's oauth2 { }) */
	struct scan_sec **kids;
};

struct range {
	size_t start, end;
};

struct scanner {
	const char *path;
	const char *s;
	size_t len, pos;
	int line;
	int last_line; /* line of the last token: where "end of file" errors go */
	bool failed;   /* syntax error seen: stop */
	struct problems *probs;
	/* byte ranges libconfuse must not see: comments, unknown statements */
	size_t n_blank, cap_blank;
	struct range *blank;
	struct scan_sec root;
	size_t n_secs, cap_secs;
	struct scan_sec **secs;
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
static char *sec_desc(const char *name, const char *title)
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
static void scan_body(struct scanner *sc, const cfg_opt_t *opts, struct scan_sec *sec,
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

static void scanner_free(struct scanner *sc)
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

struct ctx {
	const char *path;
	char *dir;            /* directory of path, for relative password files */
	bool group_readable;  /* the file's mode has bits in 077 */
	struct scanner sc;
	struct problems probs;
	cfg_t *root;
	struct pd_config *cfg;
	/* nested sections met while loading (cfg_t has no parent link): which
	 * scanned section each stands for */
	size_t n_nested;
	struct {
		cfg_t *sec;
		const struct scan_sec *scan;
	} nested[64];
};

static void report(struct ctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(struct ctx *c, int line, const char *fmt, ...)
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
static struct ctx *confuse_ctx;

static void confuse_error(cfg_t *cfg, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void confuse_error(cfg_t *cfg, const char *fmt, va_list ap)
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
static size_t sec_instances(const struct ctx *c, cfg_t *sec, const struct scan_sec **out,
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
static int sec_line(const struct ctx *c, cfg_t *sec)
{
	const struct scan_sec *inst[8];

	if (sec == c->root)
		return 0;
	return sec_instances(c, sec, inst, PD_ARRAY_LEN(inst)) > 0 ? inst[0]->line : 0;
}

/* Line of the assignment libconfuse kept for key; the section's line when
 * the key was not written. */
static int key_line(const struct ctx *c, cfg_t *sec, const char *key)
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
static int item_line(const struct ctx *c, cfg_t *sec, const char *key, unsigned idx)
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

static const struct scan_sec *first_scan_sec(const struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->sc.n_secs; i++)
		if (strcmp(c->sc.secs[i]->name, name) == 0)
			return c->sc.secs[i];
	return NULL;
}

/* --------------------------------------------------------- value syntax */

/* Host name: labels of letters, digits, '-' (and UTF-8), 1-63 bytes each. */
static bool domain_valid_n(const char *s, size_t n)
{
	return pd_utf8_valid(s, n) && pd_hostname_valid(s, n);
}

static bool domain_valid(const char *s)
{
	return domain_valid_n(s, strlen(s));
}

/* local@domain: codec.h's check, UTF-8 allowed (RFC 6531). */
static bool addr_spec_valid(const char *s)
{
	return pd_addr_spec_valid(s, PD_ADDR_UTF8);
}

bool pd_config_host_is_loopback(const char *host)
{
	unsigned char a4[4], a6[16];
	static const unsigned char v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	size_t n;

	if (host == NULL)
		return false;
	n = strlen(host);
	if (pd_str_iequal(host, "localhost") ||
	    (n > 10 && pd_str_iequal(host + n - 10, ".localhost")))
		return true;
	if (inet_pton(AF_INET, host, a4) == 1)
		return a4[0] == 127;
	if (inet_pton(AF_INET6, host, a6) == 1)
		return memcmp(a6, v6_loop, 16) == 0 ||
		       (memcmp(a6, v4_mapped, 12) == 0 && a6[12] == 127);
	return false;
}

void pd_url_free(struct pd_url *u)
{
	if (u == NULL)
		return;
	free(u->host);
	free(u->path);
	u->host = NULL;
	u->path = NULL;
}

/*
 * Why libcurl refused the authority [p, e) of a URL, in the words the
 * operator needs: curl says "bad port" for "::1" without brackets and for
 * text after "]", and "bad IPv6" for a missing "]".
 */
static void url_authority_why(CURLUcode rc, const char *p, const char *e, char *why,
			      size_t why_len)
{
	const char *close = *p == '[' ? memchr(p, ']', (size_t)(e - p)) : NULL;
	size_t colons = 0;

	for (const char *q = p; q < e; q++)
		colons += *q == ':';
	if (rc == CURLUE_NO_HOST)
		snprintf(why, why_len, "missing host name");
	else if (*p == '[' && close == NULL)
		snprintf(why, why_len, "missing ']' after the IPv6 address");
	else if (*p == '[' && rc == CURLUE_BAD_IPV6)
		snprintf(why, why_len, "bad IPv6 address [%.*s]", (int)(close - p - 1), p + 1);
	else if (*p == '[' && close + 1 < e && close[1] != ':')
		snprintf(why, why_len, "unexpected text after ']'");
	else if (*p != '[' && colons > 1)
		snprintf(why, why_len, "IPv6 addresses must be written in brackets, e.g. [::1]");
	else if (rc == CURLUE_BAD_PORT_NUMBER)
		snprintf(why, why_len, "port must be a number from 1 to 65535");
	else
		snprintf(why, why_len, "%s", curl_url_strerror(rc));
}

/* The path of a URL percent-decoded into *out (newly allocated); -1 with a
 * reason when an escape is broken, or the result holds a control character
 * or is not UTF-8. */
static int url_path_decode(const char *path, char **out, char *why, size_t why_len)
{
	int n = 0;
	char *dec;

	*out = NULL;
	/* libcurl leaves a broken escape as it is: refuse it instead */
	for (const char *q = strchr(path, '%'); q != NULL; q = strchr(q + 1, '%')) {
		if (pd_hexval(q[1]) < 0 || pd_hexval(q[2]) < 0) {
			snprintf(why, why_len, "bad percent-encoding in the path");
			return -1;
		}
	}
	dec = curl_easy_unescape(NULL, path, 0, &n);
	if (dec == NULL) {
		snprintf(why, why_len, "out of memory decoding the path");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f) {
			snprintf(why, why_len, "the path decodes to a control character");
			curl_free(dec);
			return -1;
		}
	}
	if (!pd_utf8_valid(dec, (size_t)n)) {
		snprintf(why, why_len, "the path is not valid UTF-8");
		curl_free(dec);
		return -1;
	}
	*out = pd_xstrndup(dec, (size_t)n);
	curl_free(dec);
	return 0;
}

/*
 * Strict on purpose: these URLs name where passwords go, so anything
 * surprising is refused rather than guessed at.  libcurl's URL API splits
 * the URL; the rules are ours.  Scheme names match in any case; user names
 * ("imap://u@h") are refused (the user key holds it); '?', '#', blanks and
 * control characters must be percent-encoded; IMAP ';' parameters (RFC 5092
 * ";UIDVALIDITY=") are refused; an IPv6 zone ("%25eth0") is refused.  The
 * path is taken as written (no "." or ".." folding), percent-decoded, and
 * must be UTF-8 without control characters.
 */
int pd_config_parse_url(const char *url, enum pd_url_proto proto, struct pd_url *u, char *why,
			size_t why_len)
{
	const char *plain = proto == PD_URL_IMAP ? "imap" : "smtp";
	const char *p, *auth_end;
	uint16_t def_port;
	size_t plen = strlen(plain);
	CURLU *h = NULL;
	CURLUcode rc;
	char *host = NULL, *port = NULL, *path = NULL, *user = NULL, *pass = NULL, *zone = NULL;
	int ret = -1;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, plain, plen) == 0 && strncmp(url + plen, "://", 3) == 0) {
		u->implicit_tls = false;
		p = url + plen + 3;
	} else if (strncasecmp(url, plain, plen) == 0 && (url[plen] == 's' || url[plen] == 'S') &&
		   strncmp(url + plen + 1, "://", 3) == 0) {
		u->implicit_tls = true;
		p = url + plen + 4;
	} else {
		snprintf(why, why_len, "must start with %s:// or %ss://", plain, plain);
		return -1;
	}
	if (proto == PD_URL_IMAP)
		def_port = u->implicit_tls ? 993 : 143;
	else
		def_port = u->implicit_tls ? 465 : 25;

	if (strpbrk(url, "?#") != NULL) {
		snprintf(why, why_len, "'?' and '#' are not allowed (percent-encode them)");
		return -1;
	}
	for (const char *q = url; *q; q++) {
		if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
			snprintf(why, why_len, "spaces and control characters are not allowed "
					       "(percent-encode them)");
			return -1;
		}
	}
	auth_end = p + strcspn(p, "/");
	if ((h = curl_url()) == NULL) {
		snprintf(why, why_len, "out of memory parsing the URL");
		return -1;
	}
	rc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
	if (rc != CURLUE_OK) {
		url_authority_why(rc, p, auth_end, why, why_len);
		goto done;
	}
	curl_url_get(h, CURLUPART_USER, &user, 0);
	curl_url_get(h, CURLUPART_PASSWORD, &pass, 0);
	if (user != NULL || pass != NULL) {
		snprintf(why, why_len, "a user name in the URL is not supported; use the user "
				       "option");
		goto done;
	}
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL ||
	    *host == '\0') {
		snprintf(why, why_len, "missing host name");
		goto done;
	}
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (curl_url_get(h, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK && zone != NULL) {
			snprintf(why, why_len, "bad IPv6 address %s: a zone (%%25%s) is not supported",
				 host, zone);
			goto done;
		}
		u->host = pd_xstrndup(host + 1, n >= 2 ? n - 2 : 0);
	} else {
		if (!domain_valid(host)) {
			snprintf(why, why_len, "bad host name '%s'", host);
			goto done;
		}
		u->host = pd_xstrdup(host);
	}
	u->port = def_port;
	if (curl_url_get(h, CURLUPART_PORT, &port, 0) == CURLUE_OK && port != NULL) {
		/* libcurl checked the digits and the range 0-65535 */
		long v = strtol(port, NULL, 10);
		if (v < 1 || v > 65535) {
			snprintf(why, why_len, "port must be a number from 1 to 65535");
			goto done;
		}
		u->port = (uint16_t)v;
	} else if (auth_end > p && auth_end[-1] == ':') {
		snprintf(why, why_len, "missing port number after ':'");
		goto done;
	}

	/* path: "/folder", percent-decoded */
	if (curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK || path == NULL) {
		snprintf(why, why_len, "no path in the URL");
		goto done;
	}
	const char *folder = path[0] == '/' ? path + 1 : path;
	if (proto == PD_URL_IMAP && strchr(folder, ';') != NULL) {
		snprintf(why, why_len, "';' parameters are not supported (write ';' in a folder "
				       "name as %%3B)");
		goto done;
	}
	if (url_path_decode(folder, &u->path, why, why_len) < 0)
		goto done;
	if (*u->path == '\0') {
		free(u->path);
		u->path = proto == PD_URL_IMAP ? pd_xstrdup("INBOX") : NULL;
	}
	ret = 0;
done:
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	curl_free(pass);
	curl_free(zone);
	curl_url_cleanup(h);
	if (ret < 0)
		pd_url_free(u);
	return ret;
}

/* Parse "HH:MM" at *p into minutes (0..1440). */
static int parse_hhmm(const char **p, int *min_r)
{
	const char *s = *p;
	int h = 0, m, digits = 0;

	while (isdigit((unsigned char)*s) && digits < 2)
		h = h * 10 + (*s++ - '0'), digits++;
	if (digits == 0 || *s != ':' || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || isdigit((unsigned char)s[3]))
		return -1;
	m = (s[1] - '0') * 10 + (s[2] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return -1;
	*min_r = h * 60 + m;
	*p = s + 3;
	return 0;
}

static int parse_day(const char **p, int *day_r)
{
	static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

	for (int i = 0; i < 7; i++) {
		if (strncasecmp(*p, days[i], 3) == 0 && !isalpha((unsigned char)(*p)[3])) {
			*day_r = i;
			*p += 3;
			return 0;
		}
	}
	return -1;
}

/*
 * DAYS TIMES, see config.h.  Day ranges run forward only (a week is
 * mon..sun: "fri-mon" is refused rather than wrapped, write "fri-sun,mon").
 * Times may not cross midnight: "22:00-02:00" is two entries.  Within an
 * entry ranges ascend and may touch ("09:00-12:00,12:00-13:00") but not
 * overlap.  Blanks around commas are allowed.
 */
int pd_config_parse_hours(const char *s, struct pd_hours *h, char *why, size_t why_len)
{
	const char *p = s;

	memset(h, 0, sizeof(*h));
	while (isspace((unsigned char)*p))
		p++;
	/* days: mon | mon-fri | mon,wed,fri-sun */
	for (;;) {
		int d1, d2;
		const char *start = p;
		if (parse_day(&p, &d1) < 0) {
			snprintf(why, why_len, "unknown day '%.*s' (use mon, tue, wed, thu, fri, sat, "
					       "sun)",
				 (int)strcspn(start, " \t,-"), start);
			return -1;
		}
		d2 = d1;
		if (*p == '-') {
			p++;
			start = p;
			if (parse_day(&p, &d2) < 0) {
				snprintf(why, why_len, "unknown day '%.*s' (use mon, tue, wed, thu, "
						       "fri, sat, sun)",
					 (int)strcspn(start, " \t,-"), start);
				return -1;
			}
			if (d2 < d1) {
				snprintf(why, why_len, "day range '%.7s' runs backwards (weeks run "
						       "mon..sun)",
					 start - 4);
				return -1;
			}
		}
		for (int d = d1; d <= d2; d++)
			h->days |= (uint8_t)(1u << d);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',')
			break;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (!isdigit((unsigned char)*p)) {
		snprintf(why, why_len, "expected days then times, as in \"mon-fri 09:00-18:00\"");
		return -1;
	}
	/* times: 09:00-13:00 | 09:00-13:00,14:00-18:00 */
	for (;;) {
		int a, b;
		const char *start = p;
		if (parse_hhmm(&p, &a) < 0 || *p != '-' || (p++, parse_hhmm(&p, &b)) < 0) {
			snprintf(why, why_len, "bad time range '%.*s' (use HH:MM-HH:MM, 00:00 to "
					       "24:00)",
				 (int)strcspn(start, " \t,"), start);
			return -1;
		}
		if (b <= a) {
			snprintf(why, why_len, "time range '%.11s' ends before it starts (split "
					       "ranges that cross midnight)",
				 start);
			return -1;
		}
		if (h->n > 0 && a < h->r[h->n - 1].end) {
			snprintf(why, why_len, "time range '%.11s' overlaps or precedes the one "
					       "before it",
				 start);
			return -1;
		}
		if (h->n == PD_HOURS_MAX_RANGES) {
			snprintf(why, why_len, "more than %d time ranges", PD_HOURS_MAX_RANGES);
			return -1;
		}
		h->r[h->n].start = (uint16_t)a;
		h->r[h->n].end = (uint16_t)b;
		h->n++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',')
			break;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (*p != '\0') {
		snprintf(why, why_len, "unexpected '%.20s' at the end", p);
		return -1;
	}
	return 0;
}

int pd_config_parse_date(const char *s, struct pd_date *d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return -1;
		} else if (!isdigit((unsigned char)s[i])) {
			return -1;
		}
	}
	if (s[10] != '\0')
		return -1;
	int y = atoi(s), m = atoi(s + 5), day = atoi(s + 8);
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1900 || m < 1 || m > 12 || day < 1 ||
	    day > mdays[m - 1] + (m == 2 && leap ? 1 : 0))
		return -1;
	d->year = y;
	d->month = m;
	d->day = day;
	return 0;
}

/* ------------------------------------------------------- typed getters */

/*
 * The getters convert one value of sec, report a problem at the line of
 * the key (or of the section when the key was not written), and leave
 * *out untouched on error, so the caller's default stays in place and the
 * checks go on.  Since every value is a string in the schema, a value of
 * the wrong type is one more reported problem, never a parse stop.
 */

/* A string value; NULL when unset. */
static const char *get_str(cfg_t *sec, const char *key)
{
	return cfg_getstr(sec, key);
}

/* Required string: reports and returns NULL when missing or empty. */
static const char *need_str(struct ctx *c, cfg_t *sec, const char *key)
{
	const char *v = get_str(sec, key);

	if (v == NULL) {
		if (sec == c->root) {
			report(c, 0, "missing required option '%s'", key);
		} else {
			char *d = sec_desc(cfg_name(sec), cfg_title(sec));
			report(c, sec_line(c, sec), "%s: missing required option '%s'", d, key);
			free(d);
		}
		return NULL;
	}
	if (*v == '\0') {
		report(c, key_line(c, sec, key), "%s: must not be empty", key);
		return NULL;
	}
	return v;
}

/* Optional string: NULL when unset; reports an empty value. */
static const char *opt_str(struct ctx *c, cfg_t *sec, const char *key)
{
	const char *v = get_str(sec, key);

	if (v != NULL && *v == '\0') {
		report(c, key_line(c, sec, key), "%s: must not be empty", key);
		return NULL;
	}
	return v;
}

static void get_duration(struct ctx *c, cfg_t *sec, const char *key, int64_t min,
			 int64_t *out)
{
	const char *v = get_str(sec, key);
	int64_t secs;

	if (v == NULL)
		return;
	if (pd_parse_duration(v, &secs) < 0) {
		report(c, key_line(c, sec, key),
		       "%s: \"%s\" is not a duration (use e.g. 30s, 15m, 8h or 3d)", key, v);
		return;
	}
	if (secs < min) {
		report(c, key_line(c, sec, key), "%s: must be at least %llds", key,
		       (long long)min);
		return;
	}
	*out = secs;
}

static void get_size(struct ctx *c, cfg_t *sec, const char *key, uint64_t *out)
{
	const char *v = get_str(sec, key);
	uint64_t bytes;

	if (pd_parse_size(v, &bytes) < 0) {
		report(c, key_line(c, sec, key),
		       "%s: \"%s\" is not a size (use e.g. 512K, 25M or 1G)", key, v);
		return;
	}
	if (bytes == 0) {
		report(c, key_line(c, sec, key), "%s: must be greater than zero", key);
		return;
	}
	*out = bytes;
}

static void get_int(struct ctx *c, cfg_t *sec, const char *key, long lo, long hi, int *out)
{
	const char *v = get_str(sec, key), *p = v;
	long n = 0;
	bool ok = *p != '\0';

	for (; *p && ok; p++) {
		if (!isdigit((unsigned char)*p) || n > hi)
			ok = false;
		else
			n = n * 10 + (*p - '0');
	}
	if (!ok || n < lo || n > hi) {
		report(c, key_line(c, sec, key), "%s: must be a whole number from %ld to %ld, not "
						 "\"%s\"",
		       key, lo, hi, v);
		return;
	}
	*out = (int)n;
}

static void get_bool(struct ctx *c, cfg_t *sec, const char *key, bool *out)
{
	const char *v = get_str(sec, key);
	int b = cfg_parse_boolean(v);

	if (b < 0) {
		report(c, key_line(c, sec, key), "%s: must be true or false, not \"%s\"", key, v);
		return;
	}
	*out = b == 1;
}

static void copy_list(cfg_t *sec, const char *key, struct pd_strlist *l)
{
	unsigned n = cfg_size(sec, key);

	l->n = n;
	l->v = n ? pd_xcalloc(n, sizeof(char *)) : NULL;
	for (unsigned i = 0; i < n; i++)
		l->v[i] = pd_xstrdup(cfg_getnstr(sec, key, i));
}

static void check_addr_list(struct ctx *c, cfg_t *sec, const char *key, bool domains_ok)
{
	unsigned n = cfg_size(sec, key);

	for (unsigned i = 0; i < n; i++) {
		const char *v = cfg_getnstr(sec, key, i);
		bool ok = addr_spec_valid(v);
		if (!ok && domains_ok)
			ok = v[0] == '@' ? domain_valid(v + 1) : domain_valid(v);
		if (!ok)
			report(c, item_line(c, sec, key, i),
			       domains_ok ? "%s: \"%s\" is neither an e-mail address nor a domain"
					  : "%s: \"%s\" is not an e-mail address",
			       key, v);
	}
}

/* ------------------------------------------------------------- secrets */

/*
 * Where a password_file value points:
 *   "$CREDENTIALS_DIRECTORY/NAME"  -> $CREDENTIALS_DIRECTORY/NAME (must be set)
 *   "/abs/path"                    -> as written
 *   "NAME" (no '/') and CREDENTIALS_DIRECTORY set -> $CREDENTIALS_DIRECTORY/NAME
 *   any other relative path        -> relative to the config file's directory
 * Returns NULL (and reports) when it cannot be resolved.
 */
static char *resolve_secret_path(struct ctx *c, int line, const char *v)
{
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	bool have_cred = cred != NULL && *cred != '\0';

	if (strncmp(v, CRED_PREFIX, strlen(CRED_PREFIX)) == 0) {
		const char *rest = v + strlen(CRED_PREFIX);
		if (!have_cred) {
			report(c, line, "password_file: \"%s\" needs $CREDENTIALS_DIRECTORY, which "
					"is not set (LoadCredential= in the systemd unit)",
			       v);
			return NULL;
		}
		if (*rest == '\0' || strchr(rest, '/') != NULL) {
			report(c, line, "password_file: \"%s\" must name one credential", v);
			return NULL;
		}
		return pd_xasprintf("%s/%s", cred, rest);
	}
	if (v[0] == '/')
		return pd_xstrdup(v);
	if (strchr(v, '/') == NULL && have_cred)
		return pd_xasprintf("%s/%s", cred, v);
	return pd_xasprintf("%s/%s", c->dir, v);
}

/*
 * Read a one-line secret: at most PASSWORD_FILE_MAX bytes, one trailing
 * newline ("\n" or "\r\n") removed.  Buffers are wiped.  Returns the
 * password or NULL with *why set (errno text or a reason).
 */
static char *read_secret_file(const char *path, char *why, size_t why_len)
{
	char *buf = pd_xmalloc(PASSWORD_FILE_MAX + 2);
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		snprintf(why, why_len, "%s", strerror(errno));
		free(buf);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, PASSWORD_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, why_len, "%s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > PASSWORD_FILE_MAX) {
			snprintf(why, why_len, "larger than %d bytes", PASSWORD_FILE_MAX);
			goto fail;
		}
	}
	close(fd);
	fd = -1;
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	buf[len] = '\0';
	if (len == 0) {
		snprintf(why, why_len, "the file is empty");
		goto fail;
	}
	if (memchr(buf, '\n', len) || memchr(buf, '\r', len) || memchr(buf, '\0', len)) {
		snprintf(why, why_len, "the password must be one line");
		goto fail;
	}
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	explicit_bzero(buf, PASSWORD_FILE_MAX + 2);
	free(buf);
	return NULL;
}

/*
 * Resolve the password of sec from password / password_file / the
 * credential cred_name.  required: report when none is given.  Returns the
 * password (owned) or NULL.
 */
static char *get_password(struct ctx *c, cfg_t *sec, const char *cred_name, bool required)
{
	const char *inline_pw = get_str(sec, "password");
	const char *file = get_str(sec, "password_file");
	char why[256];

	if (inline_pw != NULL && file != NULL) {
		report(c, key_line(c, sec, "password_file"),
		       "set either password or password_file, not both");
		return NULL;
	}
	if (inline_pw != NULL) {
		if (*inline_pw == '\0') {
			report(c, key_line(c, sec, "password"), "password: must not be empty");
			return NULL;
		}
		if (c->group_readable) {
			report(c, key_line(c, sec, "password"),
			       "inline password in a file readable by group/other; chmod 600 %s or "
			       "use password_file",
			       c->path);
			return NULL;
		}
		return pd_xstrdup(inline_pw);
	}
	if (file != NULL) {
		int line = key_line(c, sec, "password_file");
		if (*file == '\0') {
			report(c, line, "password_file: must not be empty");
			return NULL;
		}
		char *path = resolve_secret_path(c, line, file);
		if (path == NULL)
			return NULL;
		char *pw = read_secret_file(path, why, sizeof(why));
		if (pw == NULL)
			report(c, line, "password_file: cannot use \"%s\": %s", path, why);
		free(path);
		return pw;
	}
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	if (cred != NULL && *cred != '\0') {
		char *path = pd_xasprintf("%s/%s", cred, cred_name);
		if (access(path, F_OK) == 0) {
			char *pw = read_secret_file(path, why, sizeof(why));
			if (pw == NULL)
				report(c, sec_line(c, sec), "credential \"%s\": %s", path, why);
			free(path);
			return pw;
		}
		free(path);
	}
	if (required) {
		char *d = sec_desc(cfg_name(sec), cfg_title(sec));
		report(c, sec_line(c, sec),
		       "%s: no password: set password_file (preferred) or password, or provide the "
		       "credential '%s' in $CREDENTIALS_DIRECTORY",
		       d, cred_name);
		free(d);
	}
	return NULL;
}

/* Wipe libconfuse's copy of a secret before cfg_free. */
static void wipe_value(cfg_t *sec, const char *key)
{
	char *v = cfg_getstr(sec, key);

	if (v != NULL)
		explicit_bzero(v, strlen(v));
}

/* libpq conninfo with a password: "password=..." or "scheme://user:pw@". */
static bool conninfo_has_password(const char *s)
{
	if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0) {
		const char *auth = strstr(s, "://") + 3;
		size_t alen = strcspn(auth, "/?");
		const char *at = memchr(auth, '@', alen);
		if (at != NULL && memchr(auth, ':', (size_t)(at - auth)) != NULL)
			return true;
		const char *q = strchr(s, '?');
		return q != NULL && (strstr(q, "?password=") || strstr(q, "&password="));
	}
	for (const char *p = s; (p = strstr(p, "password")) != NULL; p += 8) {
		if (p != s && !isspace((unsigned char)p[-1]))
			continue;
		const char *e = p + 8;
		while (isspace((unsigned char)*e))
			e++;
		if (*e == '=')
			return true;
	}
	return false;
}

static void check_readable(struct ctx *c, cfg_t *sec, const char *key, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		report(c, key_line(c, sec, key), "%s: cannot read \"%s\": %s", key, path,
		       strerror(errno));
		return;
	}
	close(fd);
}

/* ------------------------------------------------------------ OAuth 2.0 */

/* The last scanned section called name inside sec; NULL when not written. */
static const struct scan_sec *scan_kid(const struct ctx *c, cfg_t *sec, const char *name)
{
	const struct scan_sec *inst[8], *found = NULL;
	size_t n = sec_instances(c, sec, inst, PD_ARRAY_LEN(inst));

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < inst[i]->n_kids; k++)
			if (strcmp(inst[i]->kids[k]->name, name) == 0)
				found = inst[i]->kids[k];
	return found;
}

/* An endpoint URL: https://, or http:// to a loopback host (tests, a
 * local token broker).  Parsed by libcurl, which will use it. */
static void check_endpoint(struct ctx *c, cfg_t *sec, const char *key, const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int line = key_line(c, sec, key);

	if (u == NULL)
		abort();
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		report(c, line, "%s: \"%s\" is not a URL (https://HOST/PATH)", key, url);
	} else if (strcmp(scheme, "https") == 0) {
		; /* fine */
	} else if (strcmp(scheme, "http") == 0) {
		size_t hl = strlen(host);
		char *h = hl >= 2 && host[0] == '[' ? pd_xstrndup(host + 1, hl - 2) : pd_xstrdup(host);
		if (!pd_config_host_is_loopback(h))
			report(c, line,
			       "%s: \"%s\": http:// is allowed only to a loopback address; use "
			       "https://",
			       key, url);
		free(h);
	} else {
		report(c, line, "%s: \"%s\": the scheme must be https://", key, url);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
}

/* refresh_token_file: absolute, or relative to the config's directory (it
 * is written back, so never in $CREDENTIALS_DIRECTORY, which is read-only).
 * It may not exist yet (`postdesk oauth2` creates it); its directory must. */
static char *refresh_token_path(struct ctx *c, cfg_t *sec, const char *what, const char *login,
				const char *v)
{
	int line = key_line(c, sec, "refresh_token_file");
	char *path = v[0] == '/' ? pd_xstrdup(v) : pd_xasprintf("%s/%s", c->dir, v);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd >= 0) {
		close(fd);
		return path;
	}
	if (errno != ENOENT) {
		report(c, line, "refresh_token_file: cannot read \"%s\": %s", path, strerror(errno));
		return path;
	}
	char *dir = pd_xstrdup(path), *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir)
		*slash = '\0';
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		report(c, line, "refresh_token_file: the directory of \"%s\" does not exist", path);
	else
		pd_log_warning("%s:%d: %s: refresh_token_file \"%s\" does not exist yet: run "
			       "`postdesk -c %s oauth2 %s` to sign in once",
			       c->path, line, what, path, c->path, login);
	free(dir);
	return path;
}

/*
 * auth = xoauth2 | oauthbearer: the oauth2 { } section or token_command of
 * sec (a mailbox or smtp).  Returns the owned configuration, or NULL when
 * auth is a password (then neither may be written) or on errors (reported).
 */
static struct pd_oauth2_cfg *load_oauth2(struct ctx *c, cfg_t *sec, const char *what,
					 const char *login, enum pd_imap_auth auth, int64_t timeout)
{
	const struct scan_sec *kid = scan_kid(c, sec, "oauth2");
	const char *cmd = get_str(sec, "token_command");
	bool oauth = auth == PD_IMAP_AUTH_XOAUTH2 || auth == PD_IMAP_AUTH_OAUTHBEARER;
	const char *mech = auth == PD_IMAP_AUTH_XOAUTH2 ? "xoauth2" : "oauthbearer";
	struct pd_oauth2_cfg *o;

	if (!oauth) {
		if (kid != NULL)
			report(c, kid->line,
			       "%s: an oauth2 section needs auth = \"xoauth2\" or \"oauthbearer\"",
			       what);
		if (cmd != NULL)
			report(c, key_line(c, sec, "token_command"),
			       "token_command: needs auth = \"xoauth2\" or \"oauthbearer\"");
		return NULL;
	}
	if (get_str(sec, "password") != NULL || get_str(sec, "password_file") != NULL) {
		const char *k = get_str(sec, "password") != NULL ? "password" : "password_file";
		report(c, key_line(c, sec, k), "%s: not used with auth = \"%s\"; remove it", k, mech);
	}
	o = pd_xcalloc(1, sizeof(*o));
	o->timeout = timeout;
	if (kid != NULL && cmd != NULL) {
		report(c, key_line(c, sec, "token_command"),
		       "%s: set either an oauth2 section or token_command, not both", what);
		return o;
	}
	if (kid == NULL && cmd == NULL) {
		report(c, key_line(c, sec, "auth"),
		       "%s: auth = \"%s\" needs an oauth2 { } section or token_command", what, mech);
		return o;
	}
	if (cmd != NULL) {
		if (*cmd == '\0')
			report(c, key_line(c, sec, "token_command"), "token_command: must not be empty");
		o->token_command = pd_xstrdup(cmd);
		return o;
	}

	cfg_t *os = cfg_getsec(sec, "oauth2");
	if (os == NULL || c->n_nested == PD_ARRAY_LEN(c->nested)) {
		report(c, kid->line, "%s: too many oauth2 sections", what);
		return o;
	}
	c->nested[c->n_nested].sec = os;
	c->nested[c->n_nested].scan = kid;
	c->n_nested++;

	const char *v = need_str(c, os, "token_url");
	if (v != NULL) {
		o->token_url = pd_xstrdup(v);
		check_endpoint(c, os, "token_url", v);
	}
	v = opt_str(c, os, "device_url");
	if (v != NULL) {
		o->device_url = pd_xstrdup(v);
		check_endpoint(c, os, "device_url", v);
	}
	o->client_id = pd_xstrdup(need_str(c, os, "client_id"));
	o->scope = pd_xstrdup(need_str(c, os, "scope"));
	v = get_str(os, "grant");
	if (strcmp(v, "refresh_token") == 0)
		o->grant = PD_OAUTH2_GRANT_REFRESH_TOKEN;
	else if (strcmp(v, "client_credentials") == 0)
		o->grant = PD_OAUTH2_GRANT_CLIENT_CREDENTIALS;
	else
		report(c, key_line(c, os, "grant"),
		       "grant: must be refresh_token or client_credentials, not \"%s\"", v);
	v = opt_str(c, os, "client_secret_file");
	if (v != NULL) {
		int line = key_line(c, os, "client_secret_file");
		char why[256];
		char *path = resolve_secret_path(c, line, v);
		if (path != NULL) {
			o->client_secret = read_secret_file(path, why, sizeof(why));
			if (o->client_secret == NULL)
				report(c, line, "client_secret_file: cannot use \"%s\": %s", path, why);
			free(path);
		}
	} else if (o->grant == PD_OAUTH2_GRANT_CLIENT_CREDENTIALS) {
		report(c, key_line(c, os, "grant"),
		       "grant = \"client_credentials\" needs client_secret_file");
	}
	v = opt_str(c, os, "refresh_token_file");
	if (o->grant == PD_OAUTH2_GRANT_REFRESH_TOKEN) {
		if (v == NULL && get_str(os, "refresh_token_file") == NULL)
			report(c, kid->line,
			       "%s: oauth2: grant = \"refresh_token\" needs refresh_token_file", what);
		else if (v != NULL)
			o->refresh_token_file = refresh_token_path(c, os, what, login, v);
	} else if (v != NULL) {
		report(c, key_line(c, os, "refresh_token_file"),
		       "refresh_token_file: not used with grant = \"client_credentials\"");
	}
	return o;
}

static void oauth2_cfg_free(struct pd_oauth2_cfg *o)
{
	if (o == NULL)
		return;
	free(o->token_url);
	free(o->device_url);
	free(o->client_id);
	pd_free_secret(o->client_secret);
	free(o->refresh_token_file);
	free(o->scope);
	free(o->token_command);
	free(o);
}

/* ------------------------------------------------------- section checks */

/*
 * tls: default "implicit" for the s-scheme (imaps/smtps), else "starttls".
 * The s-scheme means TLS from the first byte, so any other mode contradicts
 * it; "implicit" on the plain scheme contradicts it the other way.  "none"
 * on the plain scheme is allowed (tests and local relays); the caller warns
 * when the host is not loopback.  Returns 0 / -1 (reported).
 */
static int parse_tls(struct ctx *c, cfg_t *sec, const struct pd_url *u, bool url_ok,
		     const char *scheme, enum pd_tls_mode *out)
{
	const char *v = get_str(sec, "tls");
	int line = key_line(c, sec, "tls");
	enum pd_tls_mode m;

	if (v == NULL) {
		*out = url_ok && u->implicit_tls ? PD_TLS_IMPLICIT : PD_TLS_STARTTLS;
		return 0;
	}
	if (strcmp(v, "implicit") == 0) {
		m = PD_TLS_IMPLICIT;
	} else if (strcmp(v, "starttls") == 0) {
		m = PD_TLS_STARTTLS;
	} else if (strcmp(v, "none") == 0) {
		m = PD_TLS_NONE;
	} else {
		report(c, line, "tls: must be one of implicit, starttls, none, not \"%s\"", v);
		return -1;
	}
	if (url_ok) {
		if (u->implicit_tls && m != PD_TLS_IMPLICIT) {
			report(c, line, "tls = \"%s\" conflicts with %ss:// (implicit TLS); use "
					"tls = \"implicit\" or an %s:// URL",
			       v, scheme, scheme);
			return -1;
		}
		if (!u->implicit_tls && m == PD_TLS_IMPLICIT) {
			report(c, line, "tls = \"implicit\" conflicts with %s://; use an %ss:// URL "
					"or tls = \"starttls\"",
			       scheme, scheme);
			return -1;
		}
	}
	*out = m;
	return 0;
}

static void warn_cleartext(struct ctx *c, cfg_t *sec, const char *what, const char *host)
{
	if (pd_config_host_is_loopback(host))
		return;
	pd_log_warning("%s:%d: %s: tls = \"none\" to %s, which is not a loopback address: "
		       "mail and passwords cross the network unencrypted",
		       c->path, key_line(c, sec, "tls"), what, host);
}

static bool name_valid(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

/*
 * One mailbox "NAME" section.  The name must be usable as a log field, a
 * credential name ("mailbox.NAME.password") and a database key, hence the
 * restricted character set.  host/port/folder come from url; tls defaults
 * from its scheme (see parse_tls).
 */
static void load_mailbox(struct ctx *c, cfg_t *sec, struct pd_mailbox_cfg *mb)
{
	const char *name = cfg_title(sec);
	char why[256];
	struct pd_url u;
	bool url_ok = false;

	mb->name = pd_xstrdup(name);
	if (!name_valid(name))
		report(c, sec_line(c, sec), "mailbox \"%s\": names may use only letters, digits, "
					    "'.', '_' and '-' (at most 64)",
		       name);

	const char *url = need_str(c, sec, "url");
	memset(&u, 0, sizeof(u));
	if (url != NULL) {
		mb->url = pd_xstrdup(url);
		if (pd_config_parse_url(url, PD_URL_IMAP, &u, why, sizeof(why)) < 0) {
			report(c, key_line(c, sec, "url"), "url: \"%s\": %s", url, why);
		} else {
			url_ok = true;
			mb->host = u.host;
			mb->port = u.port;
			mb->folder = u.path;
		}
	}
	if (parse_tls(c, sec, &u, url_ok, "imap", &mb->tls) == 0 && url_ok &&
	    mb->tls == PD_TLS_NONE) {
		char *what = pd_xasprintf("mailbox \"%s\"", name);
		warn_cleartext(c, sec, what, mb->host);
		free(what);
	}

	const char *auth = get_str(sec, "auth");
	if (strcmp(auth, "auto") == 0 || strcmp(auth, "password") == 0)
		mb->auth = PD_IMAP_AUTH_AUTO;
	else if (strcmp(auth, "login") == 0)
		mb->auth = PD_IMAP_AUTH_LOGIN;
	else if (strcmp(auth, "plain") == 0)
		mb->auth = PD_IMAP_AUTH_PLAIN;
	else if (strcmp(auth, "xoauth2") == 0)
		mb->auth = PD_IMAP_AUTH_XOAUTH2;
	else if (strcmp(auth, "oauthbearer") == 0)
		mb->auth = PD_IMAP_AUTH_OAUTHBEARER;
	else
		report(c, key_line(c, sec, "auth"),
		       "auth: must be one of password, xoauth2, oauthbearer (or auto, login, "
		       "plain), not \"%s\"",
		       auth);

	mb->user = pd_xstrdup(need_str(c, sec, "user"));
	mb->timeout = 25;
	get_duration(c, sec, "timeout", 1, &mb->timeout);
	char *what = pd_xasprintf("mailbox \"%s\"", name);
	mb->oauth2 = load_oauth2(c, sec, what, name, mb->auth, mb->timeout);
	free(what);
	if (mb->oauth2 == NULL) {
		char *cred = pd_xasprintf("mailbox.%s.password", name);
		mb->password = get_password(c, sec, cred, true);
		free(cred);
	}

	mb->processed_folder = pd_xstrdup(opt_str(c, sec, "processed_folder"));
	if (mb->processed_folder != NULL && mb->folder != NULL &&
	    strcmp(mb->processed_folder, mb->folder) == 0)
		report(c, key_line(c, sec, "processed_folder"),
		       "processed_folder: \"%s\" is the folder the mailbox reads from",
		       mb->processed_folder);
	mb->ca_file = pd_xstrdup(opt_str(c, sec, "ca_file"));
	if (mb->ca_file != NULL)
		check_readable(c, sec, "ca_file", mb->ca_file);
	mb->queue = pd_xstrdup(need_str(c, sec, "queue"));
	mb->poll_interval = 60;
	get_duration(c, sec, "poll_interval", 1, &mb->poll_interval);
	mb->idle = true;
	get_bool(c, sec, "idle", &mb->idle);
}

/* "Name <addr>" or "addr": returns the addr-spec (owned) or NULL. */
static char *from_address(const char *from)
{
	const char *lt = strrchr(from, '<');
	size_t n = strlen(from);

	for (const char *p = from; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL;
	if (lt == NULL)
		return addr_spec_valid(from) ? pd_xstrdup(from) : NULL;
	if (n < 2 || from[n - 1] != '>' || strchr(lt, '>') != from + n - 1)
		return NULL;
	char *addr = pd_xstrndup(lt + 1, (size_t)(from + n - 1 - lt - 1));
	if (!addr_spec_valid(addr)) {
		free(addr);
		return NULL;
	}
	return addr;
}

static void load_smtp(struct ctx *c, cfg_t *sec, struct pd_smtp_cfg *s)
{
	char why[256];
	struct pd_url u;
	bool url_ok = false;

	s->enabled = true;
	memset(&u, 0, sizeof(u));
	const char *url = need_str(c, sec, "url");
	if (url != NULL) {
		s->url = pd_xstrdup(url);
		if (pd_config_parse_url(url, PD_URL_SMTP, &u, why, sizeof(why)) < 0) {
			report(c, key_line(c, sec, "url"), "url: \"%s\": %s", url, why);
		} else {
			url_ok = true;
			s->host = u.host;
			s->port = u.port;
			free(u.path);
		}
	}
	if (parse_tls(c, sec, &u, url_ok, "smtp", &s->tls) == 0 && url_ok &&
	    s->tls == PD_TLS_NONE)
		warn_cleartext(c, sec, "smtp", s->host);

	const char *from = need_str(c, sec, "from");
	if (from != NULL) {
		s->from = pd_xstrdup(from);
		s->from_address = from_address(from);
		if (s->from_address == NULL)
			report(c, key_line(c, sec, "from"),
			       "from: \"%s\" is not an address (use \"Name <addr@example.com>\" or "
			       "addr@example.com)",
			       from);
	}
	s->timeout = 25;
	get_duration(c, sec, "timeout", 1, &s->timeout);
	const char *auth = get_str(sec, "auth");
	if (strcmp(auth, "password") == 0)
		s->auth = PD_IMAP_AUTH_AUTO;
	else if (strcmp(auth, "xoauth2") == 0)
		s->auth = PD_IMAP_AUTH_XOAUTH2;
	else if (strcmp(auth, "oauthbearer") == 0)
		s->auth = PD_IMAP_AUTH_OAUTHBEARER;
	else
		report(c, key_line(c, sec, "auth"),
		       "auth: must be one of password, xoauth2, oauthbearer, not \"%s\"", auth);
	s->user = pd_xstrdup(opt_str(c, sec, "user"));
	s->oauth2 = load_oauth2(c, sec, "smtp", "smtp", s->auth, s->timeout);
	if (s->oauth2 != NULL) {
		if (s->user == NULL)
			report(c, key_line(c, sec, "auth"),
			       "auth = \"%s\" needs user (the mailbox the token belongs to)", auth);
	} else if (s->user != NULL) {
		s->password = get_password(c, sec, "smtp.password", true);
	} else if (get_str(sec, "password") != NULL || get_str(sec, "password_file") != NULL) {
		const char *k = get_str(sec, "password") != NULL ? "password" : "password_file";
		report(c, key_line(c, sec, k), "%s without user: set user too, or remove %s", k, k);
	}
	s->ca_file = pd_xstrdup(opt_str(c, sec, "ca_file"));
	if (s->ca_file != NULL)
		check_readable(c, sec, "ca_file", s->ca_file);
	s->max_message_size = 25 * 1024 * 1024;
	get_size(c, sec, "max_message_size", &s->max_message_size);
}

static const char *const priorities[] = {"critical", "high", "normal", "low"};

static void load_sla(struct ctx *c, cfg_t *sec, struct pd_sla_cfg *sla)
{
	const char *prio = cfg_title(sec);
	bool known = false;

	for (size_t i = 0; i < PD_ARRAY_LEN(priorities); i++)
		known |= strcmp(prio, priorities[i]) == 0;
	if (!known)
		report(c, sec_line(c, sec),
		       "sla \"%s\": unknown priority; use critical, high, normal or low", prio);
	sla->priority = pd_xstrdup(prio);
	if (need_str(c, sec, "first_response") != NULL)
		get_duration(c, sec, "first_response", 1, &sla->first_response);
	if (need_str(c, sec, "resolution") != NULL)
		get_duration(c, sec, "resolution", 1, &sla->resolution);
	sla->calendar = pd_xstrdup(need_str(c, sec, "calendar"));
	sla->warn_at = 80;
	get_int(c, sec, "warn_at", 1, 100, &sla->warn_at);
}

/* plan "NAME" { customers = {...}  calendar = "..."  high = "1h 8h" ... } */
static void load_plan(struct ctx *c, const struct pd_config *cfg, cfg_t *sec,
		      struct pd_plan_cfg *p)
{
	const char *title = cfg_title(sec);
	const char *cal = get_str(sec, "calendar");
	bool any = false;

	p->name = pd_xstrdup(title);
	for (const struct pd_plan_cfg *q = cfg->plans; q < p; q++)
		if (strcmp(q->name, title) == 0)
			report(c, sec_line(c, sec), "plan \"%s\": defined twice", title);
	copy_list(sec, "customers", &p->customers);
	check_addr_list(c, sec, "customers", true);
	if (p->customers.n == 0)
		report(c, sec_line(c, sec),
		       "plan \"%s\": customers = {...} is required (addresses or @domains)", title);
	if (cal != NULL) {
		p->calendar = pd_xstrdup(cal);
		if (strcmp(cal, "24x7") != 0 && pd_config_calendar(cfg, cal) == NULL)
			report(c, key_line(c, sec, "calendar"),
			       "calendar: no calendar \"%s\" is defined (add calendar \"%s\" "
			       "{ ... } or use \"24x7\")",
			       cal, cal);
	}
	if (get_str(sec, "warn_at") != NULL)
		get_int(c, sec, "warn_at", 1, 100, &p->warn_at);
	for (size_t i = 0; i < PD_ARRAY_LEN(priorities); i++) {
		const char *v = get_str(sec, priorities[i]);
		char a[64], b[64], extra[2];
		int64_t fr, res;

		if (v == NULL)
			continue;
		any = true;
		if (sscanf(v, "%63s %63s %1s", a, b, extra) != 2 || pd_parse_duration(a, &fr) < 0 ||
		    pd_parse_duration(b, &res) < 0 || fr < 1 || res < 1) {
			report(c, key_line(c, sec, priorities[i]),
			       "%s: \"%s\" must be two durations, first response and resolution "
			       "(e.g. \"1h 8h\")",
			       priorities[i], v);
			continue;
		}
		p->prio[i].set = true;
		p->prio[i].first_response = fr;
		p->prio[i].resolution = res;
	}
	if (!any && cal == NULL)
		report(c, sec_line(c, sec),
		       "plan \"%s\": sets nothing; give targets (e.g. high = \"1h 8h\") or a "
		       "calendar",
		       title);
}

static void check_timezone(struct ctx *c, cfg_t *sec, const char *tz)
{
	const char *dir = getenv("TZDIR");
	int line = key_line(c, sec, "timezone");
	char magic[4];

	if (dir == NULL || *dir == '\0')
		dir = "/usr/share/zoneinfo";
	if (tz[0] == '/' || strstr(tz, "..") != NULL || strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
								    "abcdefghijklmnopqrstuvwxyz"
								    "0123456789/_+-.") != strlen(tz)) {
		report(c, line, "timezone: \"%s\" is not a time zone name such as Europe/Moscow",
		       tz);
		return;
	}
	char *path = pd_xasprintf("%s/%s", dir, tz);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	bool ok = fd >= 0 && read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok)
		report(c, line, "timezone: unknown time zone \"%s\" (not found in %s)", tz, dir);
	free(path);
}

static void load_calendar(struct ctx *c, cfg_t *sec, struct pd_calendar_cfg *cal)
{
	const char *name = cfg_title(sec);
	char why[256];

	cal->name = pd_xstrdup(name);
	if (strcmp(name, "24x7") == 0)
		report(c, sec_line(c, sec),
		       "calendar \"24x7\" is built in (always open) and cannot be redefined");
	const char *tz = need_str(c, sec, "timezone");
	if (tz != NULL) {
		cal->timezone = pd_xstrdup(tz);
		check_timezone(c, sec, tz);
	}
	copy_list(sec, "hours", &cal->hours);
	copy_list(sec, "holidays", &cal->holidays);
	if (cal->hours.n == 0)
		report(c, key_line(c, sec, "hours"),
		       "calendar \"%s\": hours must list the open hours, e.g. hours = {\"mon-fri "
		       "09:00-18:00\"}",
		       name);
	cal->hours_parsed = pd_xcalloc(cal->hours.n, sizeof(*cal->hours_parsed));
	for (size_t i = 0; i < cal->hours.n; i++)
		if (pd_config_parse_hours(cal->hours.v[i], &cal->hours_parsed[i], why,
					  sizeof(why)) < 0)
			report(c, item_line(c, sec, "hours", (unsigned)i), "hours: \"%s\": %s",
			       cal->hours.v[i], why);
	cal->holiday_dates = pd_xcalloc(cal->holidays.n, sizeof(*cal->holiday_dates));
	for (size_t i = 0; i < cal->holidays.n; i++)
		if (pd_config_parse_date(cal->holidays.v[i], &cal->holiday_dates[i]) < 0)
			report(c, item_line(c, sec, "holidays", (unsigned)i),
			       "holidays: \"%s\" is not a date (YYYY-MM-DD)", cal->holidays.v[i]);
}

/* True when key was written in sec (set or appended), not just defaulted. */
static bool key_written(const struct ctx *c, cfg_t *sec, const char *key)
{
	const struct scan_sec *inst[8];
	size_t n = sec_instances(c, sec, inst, PD_ARRAY_LEN(inst));

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < inst[i]->n; j++)
			if (strcmp(inst[i]->a[j].key, key) == 0)
				return true;
	return false;
}

/*
 * Queue names: [a-z0-9._-], 1 to 64 bytes.  One spelling per queue, since
 * a plus-address tag names it (support+billing@example.com) and tags are
 * compared in lower case; and every character is allowed in a dot-atom.
 */
static bool queue_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

#define KEYWORD_MAX 200

/*
 * What is wrong with one keyword, NULL when nothing.  A keyword is UTF-8
 * text of 1 to KEYWORD_MAX bytes without control characters; '*' may only
 * end it (a prefix match), and something must be left to match: an ASCII
 * letter or digit, or any non-ASCII character (classify.c segments words
 * by Unicode rules; a keyword of punctuation only matches nothing).
 */
static const char *keyword_problem(const char *k)
{
	size_t n = strlen(k);
	bool letter = false;

	if (n == 0)
		return "an empty keyword matches nothing";
	if (n > KEYWORD_MAX)
		return "is longer than 200 bytes";
	if (!pd_utf8_valid(k, n))
		return "is not valid UTF-8";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)k[i];
		if (ch < 0x20 || ch == 0x7f)
			return "contains a control character";
		if (ch == '*' && i + 1 < n)
			return "may have '*' only at its end (a prefix, as in \"urgen*\")";
		letter |= ch >= 0x80 || isalnum(ch);
	}
	if (!letter)
		return "has no letter or digit to match";
	return NULL;
}

/*
 * One queue "NAME" section.  Addresses listed twice, in one queue or two,
 * are caught in build() once every queue is loaded.
 */
static void load_queue(struct ctx *c, cfg_t *sec, struct pd_queue_cfg *q)
{
	const char *name = cfg_title(sec);

	q->name = pd_xstrdup(name);
	if (!queue_name_valid(name))
		report(c, sec_line(c, sec),
		       "queue \"%s\": names may use only lower-case letters, digits, '.', '_' and "
		       "'-' (at most 64)",
		       name);
	copy_list(sec, "addresses", &q->addresses);
	check_addr_list(c, sec, "addresses", false);
	q->line = 1;
	get_int(c, sec, "line", 1, 1000, &q->line);
}

/* The request types (tickets.type); question is the default. */
static const char *const types[] = {"question", "incident", "complaint",
				    "suggestion", "refund",   "access"};
#define TYPE_LIST "question, incident, complaint, suggestion, refund, access"

static bool type_known(const char *s)
{
	for (size_t i = 0; i < PD_ARRAY_LEN(types); i++)
		if (strcmp(s, types[i]) == 0)
			return true;
	return false;
}

/* One type "TYPE" section: the queue and line of new tickets of that type. */
static void load_type(struct ctx *c, cfg_t *sec, struct pd_type_cfg *t)
{
	const char *name = cfg_title(sec);

	t->name = pd_xstrdup(name);
	if (!type_known(name))
		report(c, sec_line(c, sec), "type \"%s\": unknown request type; use %s", name,
		       TYPE_LIST);
	const char *queue = opt_str(c, sec, "queue");
	if (queue != NULL) {
		t->queue = pd_xstrdup(queue);
		if (!queue_name_valid(queue))
			report(c, key_line(c, sec, "queue"),
			       "queue: \"%s\" is not a queue name (lower-case letters, digits, "
			       "'.', '_' and '-')",
			       queue);
	}
	t->line = 0;
	if (get_str(sec, "line") != NULL)
		get_int(c, sec, "line", 1, 1000, &t->line);
}

/*
 * One rule "NAME" section; see struct pd_rule_cfg.  Keywords are checked
 * here as bytes; classify.c folds them (Unicode) on first use.
 */
static void load_rule(struct ctx *c, cfg_t *sec, struct pd_rule_cfg *r)
{
	const char *name = cfg_title(sec);

	r->name = pd_xstrdup(name);
	if (!name_valid(name))
		report(c, sec_line(c, sec), "rule \"%s\": names may use only letters, digits, "
					    "'.', '_' and '-' (at most 64)",
		       name);

	copy_list(sec, "senders", &r->senders);
	check_addr_list(c, sec, "senders", true);
	copy_list(sec, "keywords", &r->keywords);
	copy_list(sec, "exclude", &r->exclude);
	for (int which = 0; which < 2; which++) {
		const char *key = which == 0 ? "keywords" : "exclude";
		const struct pd_strlist *l = which == 0 ? &r->keywords : &r->exclude;
		for (size_t i = 0; i < l->n; i++) {
			const char *k = l->v[i];
			const char *why = keyword_problem(k);
			int line = item_line(c, sec, key, (unsigned)i);
			if (why == NULL)
				continue;
			/* do not echo what cannot be printed on one line */
			if (*k == '\0')
				report(c, line, "%s: %s", key, why);
			else if (strlen(k) > KEYWORD_MAX || !pd_utf8_valid(k, strlen(k)))
				report(c, line, "%s: item %zu %s", key, i + 1, why);
			else
				report(c, line, "%s: \"%s\" %s", key, k, why);
		}
	}
	if (r->senders.n == 0 && r->keywords.n == 0)
		report(c, sec_line(c, sec), "rule \"%s\": needs senders or keywords (or both)",
		       name);
	if (r->exclude.n > 0 && r->keywords.n == 0)
		report(c, key_line(c, sec, "exclude"),
		       "exclude: only applies to keywords, and rule \"%s\" has none", name);

	r->match_subject = r->match_body = true;
	if (key_written(c, sec, "fields")) {
		unsigned n = cfg_size(sec, "fields");
		r->match_subject = r->match_body = false;
		for (unsigned i = 0; i < n; i++) {
			const char *f = cfg_getnstr(sec, "fields", i);
			if (strcmp(f, "subject") == 0)
				r->match_subject = true;
			else if (strcmp(f, "body") == 0)
				r->match_body = true;
			else
				report(c, item_line(c, sec, "fields", i),
				       "fields: must be subject or body, not \"%s\"", f);
		}
		if (n == 0)
			report(c, key_line(c, sec, "fields"),
			       "fields: must list subject, body or both");
		else if (r->keywords.n == 0)
			report(c, key_line(c, sec, "fields"),
			       "fields: only applies to keywords, and rule \"%s\" has none", name);
	}

	const char *prio = opt_str(c, sec, "priority");
	if (prio != NULL) {
		bool known = false;
		for (size_t i = 0; i < PD_ARRAY_LEN(priorities); i++)
			known |= strcmp(prio, priorities[i]) == 0;
		r->priority = pd_xstrdup(prio);
		if (!known)
			report(c, key_line(c, sec, "priority"),
			       "priority: must be one of critical, high, normal, low, not \"%s\"",
			       prio);
	}
	const char *queue = opt_str(c, sec, "queue");
	if (queue != NULL) {
		r->queue = pd_xstrdup(queue);
		if (!queue_name_valid(queue))
			report(c, key_line(c, sec, "queue"),
			       "queue: \"%s\" is not a queue name (lower-case letters, digits, "
			       "'.', '_' and '-')",
			       queue);
	}
	const char *type = opt_str(c, sec, "type");
	if (type != NULL) {
		r->type = pd_xstrdup(type);
		if (!type_known(type))
			report(c, key_line(c, sec, "type"), "type: must be one of %s, not \"%s\"",
			       TYPE_LIST, type);
	}
	if (get_str(sec, "priority") == NULL && get_str(sec, "queue") == NULL &&
	    get_str(sec, "type") == NULL)
		report(c, sec_line(c, sec), "rule \"%s\": needs priority, queue or type", name);

	r->final = false;
	get_bool(c, sec, "final", &r->final);
	if (r->final && r->senders.n == 0)
		report(c, key_line(c, sec, "final"),
		       "final: only a rule with senders can be final");
	else if (r->final && get_str(sec, "priority") == NULL)
		report(c, key_line(c, sec, "final"),
		       "final: decides the priority, and rule \"%s\" sets none", name);
}

/* An address listed in two queues (or twice in one) would route by file order: refuse. */
static void check_queue_addresses(struct ctx *c)
{
	struct pd_config *cfg = c->cfg;

	for (size_t i = 0; i < cfg->n_queues; i++) {
		const struct pd_queue_cfg *q = &cfg->queues[i];
		for (size_t j = 0; j < q->addresses.n; j++) {
			const char *a = q->addresses.v[j];
			const char *other = NULL;
			for (size_t k = 0; k <= i && other == NULL; k++) {
				const struct pd_queue_cfg *p = &cfg->queues[k];
				size_t end = k == i ? j : p->addresses.n;
				for (size_t m = 0; m < end && other == NULL; m++)
					if (pd_str_iequal(a, p->addresses.v[m]))
						other = p->name;
			}
			if (other != NULL)
				report(c, item_line(c, cfg_getnsec(c->root, "queue", (unsigned)i),
						    "addresses", (unsigned)j),
				       "addresses: \"%s\" is already listed for queue \"%s\"", a,
				       other);
		}
	}
}

/* "1", "2", ... -> number; -1 otherwise (also for "01": one spelling per line). */
static int line_number(const char *s)
{
	long n = 0;

	if (*s == '\0' || *s == '0')
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || n > 1000)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n <= 1000 ? (int)n : -1;
}

static int line_cmp(const void *a, const void *b)
{
	const struct pd_line_cfg *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

/* Sections written twice: libconfuse keeps one silently, so say so. */
static void check_duplicates(struct ctx *c)
{
	for (size_t i = 0; i < c->sc.n_secs; i++) {
		const struct scan_sec *s = c->sc.secs[i];
		for (size_t j = 0; j < i; j++) {
			const struct scan_sec *f = c->sc.secs[j];
			if (strcmp(s->name, f->name) != 0)
				continue;
			if (!s->titled) {
				report(c, s->line, "section '%s' appears twice (first on line %d)",
				       s->name, f->line);
				break;
			}
			/* line titles are canonical numbers, so equal text = equal number */
			if (strcmp(s->title, f->title) == 0) {
				report(c, s->line, "duplicate %s \"%s\" (first defined on line %d)",
				       s->name, s->title, f->line);
				break;
			}
		}
	}
}

/*
 * Step 4: convert and check every value of c->root into c->cfg.  Each
 * check reports and goes on; the caller fails the load when anything was
 * reported.  Calendars are loaded before sla sections, which refer to them.
 */
static void build(struct ctx *c)
{
	cfg_t *r = c->root;
	struct pd_config *cfg = c->cfg;
	char *d;

	check_duplicates(c);

	/* top level */
	const char *sa = need_str(c, r, "support_address");
	if (sa != NULL) {
		cfg->support_address = pd_xstrdup(sa);
		if (!addr_spec_valid(sa))
			report(c, key_line(c, r, "support_address"),
			       "support_address: \"%s\" is not an e-mail address", sa);
	}
	const char *tag = need_str(c, r, "subject_tag");
	if (tag != NULL) {
		cfg->subject_tag = pd_xstrdup(tag);
		bool bad = strpbrk(tag, "[]#") != NULL || isspace((unsigned char)tag[0]) ||
			   isspace((unsigned char)tag[strlen(tag) - 1]) || strlen(tag) > 64 ||
			   !pd_utf8_valid(tag, strlen(tag));
		for (const char *p = tag; *p; p++)
			bad |= (unsigned char)*p < 0x20 || *p == 0x7f;
		if (bad)
			report(c, key_line(c, r, "subject_tag"),
			       "subject_tag: \"%s\" must be at most 64 characters without '[', ']', "
			       "'#' or surrounding spaces",
			       tag);
	}
	const char *mid = opt_str(c, r, "message_id_domain");
	if (mid != NULL) {
		cfg->message_id_domain = pd_xstrdup(mid);
		if (!domain_valid(mid))
			report(c, key_line(c, r, "message_id_domain"),
			       "message_id_domain: \"%s\" is not a domain name", mid);
	} else if (cfg->support_address != NULL && strrchr(cfg->support_address, '@')) {
		cfg->message_id_domain = pd_xstrdup(strrchr(cfg->support_address, '@') + 1);
	}
	const char *lang = need_str(c, r, "default_language");
	if (lang != NULL) {
		cfg->default_language = pd_xstrdup(lang);
		size_t n = strspn(lang, "abcdefghijklmnopqrstuvwxyz");
		if (n < 2 || n > 3 ||
		    (lang[n] != '\0' &&
		     (lang[n] != '-' || lang[n + 1] == '\0' ||
		      strspn(lang + n + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					   "0123456789-") != strlen(lang + n + 1))))
			report(c, key_line(c, r, "default_language"),
			       "default_language: \"%s\" is not a language code such as en or ru",
			       lang);
	}
	cfg->templates_dir = pd_xstrdup(get_str(r, "templates_dir"));
	cfg->auto_reply_limit_10m = 10;
	get_int(c, r, "auto_reply_limit_10m", 0, 100000, &cfg->auto_reply_limit_10m);
	cfg->auto_reply_limit_day = 40;
	get_int(c, r, "auto_reply_limit_day", 0, 1000000, &cfg->auto_reply_limit_day);
	cfg->suppress_days = 7;
	get_int(c, r, "suppress_days", 0, 3650, &cfg->suppress_days);
	const char *ll = get_str(r, "log_level");
	enum pd_log_level lvl;
	cfg->log_level = pd_xstrdup(ll);
	if (pd_log_level_parse(ll, &lvl) < 0)
		report(c, key_line(c, r, "log_level"),
		       "log_level: must be one of err, warning, notice, info, debug, not \"%s\"", ll);
	cfg->max_message_size = 25 * 1024 * 1024;
	get_size(c, r, "max_message_size", &cfg->max_message_size);
	cfg->batch_size = 100;
	get_int(c, r, "batch_size", 1, 10000, &cfg->batch_size);
	cfg->batch_bytes = 32 * 1024 * 1024;
	get_size(c, r, "batch_bytes", &cfg->batch_bytes);
	cfg->reopen_days = 14;
	get_int(c, r, "reopen_days", 0, 3650, &cfg->reopen_days);
	get_duration(c, r, "sla_scan_interval", 1, &cfg->sla_scan_interval);

	/* database */
	cfg->db_statement_timeout = 25;
	if (first_scan_sec(c, "database") == NULL) {
		report(c, 0, "missing required section 'database' (database { conninfo = \"...\" "
			     "})");
	} else {
		cfg_t *db = cfg_getsec(r, "database");
		const char *ci = need_str(c, db, "conninfo");
		if (ci != NULL) {
			cfg->db_conninfo = pd_xstrdup(ci);
			if (c->group_readable && conninfo_has_password(ci))
				report(c, key_line(c, db, "conninfo"),
				       "inline password in a file readable by group/other; chmod 600 "
				       "%s or use a passfile (PGPASSFILE)",
				       c->path);
		}
		get_duration(c, db, "statement_timeout", 1, &cfg->db_statement_timeout);
	}

	/* mailboxes */
	cfg->n_mailboxes = cfg_size(r, "mailbox");
	cfg->mailboxes = pd_xcalloc(cfg->n_mailboxes, sizeof(*cfg->mailboxes));
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		load_mailbox(c, cfg_getnsec(r, "mailbox", (unsigned)i), &cfg->mailboxes[i]);

	/* smtp (optional; outbound mail is off without it) */
	if (first_scan_sec(c, "smtp") != NULL)
		load_smtp(c, cfg_getsec(r, "smtp"), &cfg->smtp);

	/* metrics (optional): "127.0.0.1:9187" or "[::1]:9187", numeric only */
	if (first_scan_sec(c, "metrics") != NULL) {
		cfg_t *ms = cfg_getsec(r, "metrics");
		const char *l = opt_str(c, ms, "listen");
		const char *colon = l ? strrchr(l, ':') : NULL;
		char *end = NULL;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (l == NULL) {
			report(c, key_line(c, ms, "listen"), "metrics: listen is required");
		} else if (colon == NULL || end == NULL || *end != '\0' || port < 1 || port > 65535 ||
			   colon == l) {
			report(c, key_line(c, ms, "listen"),
			       "metrics: listen: \"%s\" is not ADDRESS:PORT (e.g. 127.0.0.1:9187)", l);
		} else {
			const char *h = l;
			size_t hl = (size_t)(colon - l);
			if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
				h++, hl -= 2;
			cfg->metrics_host = pd_xstrndup(h, hl);
			cfg->metrics_port = (uint16_t)port;
			cfg->metrics_enabled = true;
		}
	}

	/* agents */
	cfg_t *ag = cfg_getsec(r, "agents");
	copy_list(ag, "addresses", &cfg->agent_addresses);
	copy_list(ag, "notify", &cfg->agent_notify);
	cfg->max_notice_attachments = 10 * 1024 * 1024;
	get_size(c, ag, "max_notice_attachments", &cfg->max_notice_attachments);
	copy_list(ag, "trusted_authserv_ids", &cfg->trusted_authserv_ids);
	check_addr_list(c, ag, "addresses", true);
	check_addr_list(c, ag, "notify", false);

	/* calendars before sla: sla refers to them */
	cfg->n_calendars = cfg_size(r, "calendar");
	cfg->calendars = pd_xcalloc(cfg->n_calendars, sizeof(*cfg->calendars));
	for (size_t i = 0; i < cfg->n_calendars; i++)
		load_calendar(c, cfg_getnsec(r, "calendar", (unsigned)i), &cfg->calendars[i]);

	cfg->n_sla = cfg_size(r, "sla");
	cfg->sla = pd_xcalloc(cfg->n_sla, sizeof(*cfg->sla));
	for (size_t i = 0; i < cfg->n_sla; i++) {
		cfg_t *s = cfg_getnsec(r, "sla", (unsigned)i);
		load_sla(c, s, &cfg->sla[i]);
		const char *cal = cfg->sla[i].calendar;
		if (cal != NULL && strcmp(cal, "24x7") != 0 && pd_config_calendar(cfg, cal) == NULL)
			report(c, key_line(c, s, "calendar"),
			       "calendar: no calendar \"%s\" is defined (add calendar \"%s\" { ... } "
			       "or use \"24x7\")",
			       cal, cal);
	}

	cfg->n_lines = cfg_size(r, "line");
	cfg->lines = pd_xcalloc(cfg->n_lines, sizeof(*cfg->lines));
	for (size_t i = 0; i < cfg->n_lines; i++) {
		cfg_t *s = cfg_getnsec(r, "line", (unsigned)i);
		struct pd_line_cfg *l = &cfg->lines[i];
		l->number = line_number(cfg_title(s));
		if (l->number < 0) {
			d = sec_desc("line", cfg_title(s));
			report(c, sec_line(c, s),
			       "%s: the name must be a support line number from 1 to 1000, as in "
			       "line 1 { ... }",
			       d);
			free(d);
		}
		copy_list(s, "notify", &l->notify);
		check_addr_list(c, s, "notify", false);
		const char *lcal = get_str(s, "calendar");
		if (lcal != NULL) {
			l->calendar = pd_xstrdup(lcal);
			if (strcmp(lcal, "24x7") != 0 && pd_config_calendar(cfg, lcal) == NULL)
				report(c, key_line(c, s, "calendar"),
				       "calendar: no calendar \"%s\" is defined (add calendar \"%s\" "
				       "{ ... } or use \"24x7\")",
				       lcal, lcal);
		}
	}
	qsort(cfg->lines, cfg->n_lines, sizeof(*cfg->lines), line_cmp);

	cfg->n_plans = cfg_size(r, "plan");
	cfg->plans = pd_xcalloc(cfg->n_plans, sizeof(*cfg->plans));
	for (size_t i = 0; i < cfg->n_plans; i++)
		load_plan(c, cfg, cfg_getnsec(r, "plan", (unsigned)i), &cfg->plans[i]);

	/* classification: queues, then rules (file order is their order) */
	cfg->trust_priority_headers = false;
	get_bool(c, r, "trust_priority_headers", &cfg->trust_priority_headers);
	cfg->n_queues = cfg_size(r, "queue");
	cfg->queues = pd_xcalloc(cfg->n_queues, sizeof(*cfg->queues));
	for (size_t i = 0; i < cfg->n_queues; i++)
		load_queue(c, cfg_getnsec(r, "queue", (unsigned)i), &cfg->queues[i]);
	check_queue_addresses(c);
	cfg->n_rules = cfg_size(r, "rule");
	cfg->rules = pd_xcalloc(cfg->n_rules, sizeof(*cfg->rules));
	for (size_t i = 0; i < cfg->n_rules; i++)
		load_rule(c, cfg_getnsec(r, "rule", (unsigned)i), &cfg->rules[i]);
	cfg->n_types = cfg_size(r, "type");
	cfg->types = pd_xcalloc(cfg->n_types, sizeof(*cfg->types));
	for (size_t i = 0; i < cfg->n_types; i++)
		load_type(c, cfg_getnsec(r, "type", (unsigned)i), &cfg->types[i]);
}

/* ------------------------------------------------------------ public API */

static void strlist_free(struct pd_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void pd_config_free(struct pd_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->support_address);
	free(cfg->subject_tag);
	free(cfg->message_id_domain);
	free(cfg->default_language);
	free(cfg->templates_dir);
	free(cfg->metrics_host);
	free(cfg->log_level);
	pd_free_secret(cfg->db_conninfo); /* may hold a password */
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		struct pd_mailbox_cfg *m = &cfg->mailboxes[i];
		free(m->name);
		free(m->url);
		free(m->host);
		free(m->folder);
		free(m->user);
		pd_free_secret(m->password);
		oauth2_cfg_free(m->oauth2);
		free(m->processed_folder);
		free(m->ca_file);
		free(m->queue);
	}
	free(cfg->mailboxes);
	free(cfg->smtp.url);
	free(cfg->smtp.host);
	free(cfg->smtp.user);
	pd_free_secret(cfg->smtp.password);
	oauth2_cfg_free(cfg->smtp.oauth2);
	free(cfg->smtp.from);
	free(cfg->smtp.from_address);
	free(cfg->smtp.ca_file);
	strlist_free(&cfg->agent_addresses);
	strlist_free(&cfg->agent_notify);
	strlist_free(&cfg->trusted_authserv_ids);
	for (size_t i = 0; i < cfg->n_sla; i++) {
		free(cfg->sla[i].priority);
		free(cfg->sla[i].calendar);
	}
	free(cfg->sla);
	for (size_t i = 0; i < cfg->n_calendars; i++) {
		struct pd_calendar_cfg *cal = &cfg->calendars[i];
		free(cal->name);
		free(cal->timezone);
		strlist_free(&cal->hours);
		strlist_free(&cal->holidays);
		free(cal->hours_parsed);
		free(cal->holiday_dates);
	}
	free(cfg->calendars);
	for (size_t i = 0; i < cfg->n_plans; i++) {
		free(cfg->plans[i].name);
		free(cfg->plans[i].calendar);
		strlist_free(&cfg->plans[i].customers);
	}
	free(cfg->plans);
	for (size_t i = 0; i < cfg->n_lines; i++) {
		strlist_free(&cfg->lines[i].notify);
		free(cfg->lines[i].calendar);
	}
	free(cfg->lines);
	for (size_t i = 0; i < cfg->n_rules; i++) {
		struct pd_rule_cfg *r = &cfg->rules[i];
		free(r->name);
		strlist_free(&r->senders);
		strlist_free(&r->keywords);
		strlist_free(&r->exclude);
		free(r->priority);
		free(r->queue);
		free(r->type);
	}
	free(cfg->rules);
	for (size_t i = 0; i < cfg->n_types; i++) {
		free(cfg->types[i].name);
		free(cfg->types[i].queue);
	}
	free(cfg->types);
	for (size_t i = 0; i < cfg->n_queues; i++) {
		free(cfg->queues[i].name);
		strlist_free(&cfg->queues[i].addresses);
	}
	free(cfg->queues);
	if (cfg->derived != NULL) {
		if (cfg->derived->classify != NULL && cfg->derived->classify_free != NULL)
			cfg->derived->classify_free(cfg->derived->classify);
		free(cfg->derived);
	}
	free(cfg);
}

void pd_config_errors_free(struct pd_config_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

static void wipe_confuse_secrets(cfg_t *root)
{
	for (unsigned i = 0; i < cfg_size(root, "mailbox"); i++)
		wipe_value(cfg_getnsec(root, "mailbox", i), "password");
	wipe_value(cfg_getsec(root, "smtp"), "password");
	wipe_value(cfg_getsec(root, "database"), "conninfo");
}

/*
 * The four steps of the top of the file.  A scan syntax error stops before
 * libconfuse; a libconfuse failure stops before the checks.  Secrets read
 * on the way are wiped: the file text, libconfuse's copies, and (through
 * pd_config_free) the result when the load fails.
 */
int pd_config_load(const char *path, struct pd_config **cfg_r, struct pd_config_errors *errs)
{
	struct ctx c;
	char *text = NULL;
	size_t len = 0;
	struct stat st;

	*cfg_r = NULL;
	if (errs != NULL) {
		errs->n = 0;
		errs->v = NULL;
	}
	memset(&c, 0, sizeof(c));
	c.path = path;
	const char *slash = strrchr(path, '/');
	c.dir = slash == NULL ? pd_xstrdup(".")
			      : pd_xstrndup(path, slash == path ? 1 : (size_t)(slash - path));

	if (pd_read_file(path, &text, &len) < 0) {
		report(&c, 0, "cannot read the configuration: %s", strerror(errno));
		goto out;
	}
	if (stat(path, &st) == 0)
		c.group_readable = (st.st_mode & 077) != 0;
	if (memchr(text, '\0', len) != NULL) {
		int line = 1;
		for (const char *p = text; *p; p++)
			line += *p == '\n';
		report(&c, line, "NUL byte in the file");
		goto out;
	}

	/* 2. scan: lines, unknown keys, syntax */
	c.sc.path = path;
	c.sc.s = text;
	c.sc.len = len;
	c.sc.line = 1;
	c.sc.probs = &c.probs;
	c.sc.root.name = "";
	scan_body(&c.sc, root_opts, &c.sc.root, "", 0, 0);
	if (c.sc.failed)
		goto out;

	/* 3. libconfuse on the text without comments and unknown statements */
	char *clean = pd_xstrndup(text, len);
	for (size_t i = 0; i < c.sc.n_blank; i++)
		for (size_t j = c.sc.blank[i].start; j < c.sc.blank[i].end; j++)
			if (clean[j] != '\n')
				clean[j] = ' ';
	c.root = cfg_init(root_opts, CFGF_NONE);
	cfg_set_error_function(c.root, confuse_error);
	confuse_ctx = &c;
	int rc = cfg_parse_buf(c.root, clean);
	confuse_ctx = NULL;
	explicit_bzero(clean, len);
	free(clean);
	if (rc != CFG_SUCCESS) {
		if (c.probs.n == 0)
			report(&c, 0, "cannot parse the file");
		goto out;
	}

	/* 4. values and cross checks */
	c.cfg = pd_xcalloc(1, sizeof(*c.cfg));
	c.cfg->path = pd_xstrdup(path);
	c.cfg->derived = pd_xcalloc(1, sizeof(*c.cfg->derived));
	build(&c);

out:
	if (c.root != NULL) {
		wipe_confuse_secrets(c.root);
		cfg_free(c.root);
	}
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	scanner_free(&c.sc);
	free(c.dir);
	if (c.probs.n > 0) {
		pd_config_free(c.cfg);
		qsort(c.probs.v, c.probs.n, sizeof(*c.probs.v), problem_cmp);
		if (errs != NULL) {
			errs->n = c.probs.n;
			errs->v = pd_xcalloc(c.probs.n, sizeof(char *));
		}
		for (size_t i = 0; i < c.probs.n; i++) {
			if (errs != NULL)
				errs->v[i] = c.probs.v[i].text;
			else
				free(c.probs.v[i].text);
		}
		free(c.probs.v);
		return -1;
	}
	free(c.probs.v);
	*cfg_r = c.cfg;
	return 0;
}

const struct pd_mailbox_cfg *pd_config_mailbox(const struct pd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		if (strcmp(cfg->mailboxes[i].name, name) == 0)
			return &cfg->mailboxes[i];
	return NULL;
}

const struct pd_sla_cfg *pd_config_sla(const struct pd_config *cfg, const char *priority)
{
	for (size_t i = 0; i < cfg->n_sla; i++)
		if (strcmp(cfg->sla[i].priority, priority) == 0)
			return &cfg->sla[i];
	return NULL;
}

const struct pd_calendar_cfg *pd_config_calendar(const struct pd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_calendars; i++)
		if (strcmp(cfg->calendars[i].name, name) == 0)
			return &cfg->calendars[i];
	return NULL;
}

const struct pd_line_cfg *pd_config_line(const struct pd_config *cfg, int number)
{
	for (size_t i = 0; i < cfg->n_lines; i++)
		if (cfg->lines[i].number == number)
			return &cfg->lines[i];
	return NULL;
}

const struct pd_queue_cfg *pd_config_queue(const struct pd_config *cfg, const char *name)
{
	if (cfg == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_queues; i++)
		if (strcmp(cfg->queues[i].name, name) == 0)
			return &cfg->queues[i];
	return NULL;
}

const struct pd_plan_cfg *pd_config_plan(const struct pd_config *cfg, const char *name)
{
	for (size_t i = 0; name != NULL && i < cfg->n_plans; i++)
		if (strcmp(cfg->plans[i].name, name) == 0)
			return &cfg->plans[i];
	return NULL;
}

bool pd_config_addr_listed(const struct pd_strlist *l, const char *addr)
{
	const char *at;

	if (addr == NULL || (at = strrchr(addr, '@')) == NULL)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		const char *e = l->v[i];
		if (e[0] == '@') {
			if (pd_str_iequal(at + 1, e + 1))
				return true;
		} else if (strchr(e, '@') == NULL) {
			if (pd_str_iequal(at + 1, e))
				return true;
		} else if (pd_str_iequal(addr, e)) {
			return true;
		}
	}
	return false;
}

const struct pd_plan_cfg *pd_config_plan_for(const struct pd_config *cfg, const char *addr)
{
	for (size_t i = 0; i < cfg->n_plans; i++)
		if (pd_config_addr_listed(&cfg->plans[i].customers, addr))
			return &cfg->plans[i];
	return NULL;
}

bool pd_config_sla_for(const struct pd_config *cfg, const char *plan, const char *priority,
		       struct pd_sla_cfg *out)
{
	const struct pd_sla_cfg *base = pd_config_sla(cfg, priority);
	const struct pd_plan_cfg *p = pd_config_plan(cfg, plan);
	int idx = -1;

	for (size_t i = 0; i < PD_ARRAY_LEN(priorities); i++)
		if (priority != NULL && strcmp(priority, priorities[i]) == 0)
			idx = (int)i;
	if (p != NULL && idx >= 0 && p->prio[idx].set) {
		memset(out, 0, sizeof(*out));
		out->priority = (char *)(uintptr_t)priorities[idx];
		out->first_response = p->prio[idx].first_response;
		out->resolution = p->prio[idx].resolution;
		out->calendar = base != NULL ? base->calendar : (char *)(uintptr_t) "24x7";
		out->warn_at = base != NULL ? base->warn_at : 80;
	} else if (base != NULL) {
		*out = *base;
	} else {
		return false;
	}
	if (p != NULL && p->calendar != NULL)
		out->calendar = p->calendar;
	if (p != NULL && p->warn_at > 0)
		out->warn_at = p->warn_at;
	return true;
}

const struct pd_type_cfg *pd_config_type(const struct pd_config *cfg, const char *name)
{
	if (cfg == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_types; i++)
		if (strcmp(cfg->types[i].name, name) == 0)
			return &cfg->types[i];
	return NULL;
}

bool pd_config_is_agent(const struct pd_config *cfg, const char *addr)
{
	return cfg != NULL && pd_config_addr_listed(&cfg->agent_addresses, addr);
}
