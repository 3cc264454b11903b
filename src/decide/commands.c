/*
 * commands.c - commands and notes at the top of an agent's mail (pure).
 *
 * Owns the command syntax of commands.h.  The command block is the run of
 * lines at the top of the body that are blank or start (after white space)
 * with '#' and a letter; the first other line ends it, and everything from
 * that line on is the text, byte for byte.  '#' followed by a digit, white
 * space or punctuation ("#123 is my order", "# heading", "#!") is text, and
 * so is quoted text ("> #close").  Errors name the line and what is wrong,
 * with the agent's words cut short and control characters replaced, since
 * the message goes back to the agent by mail.
 *
 * Results: commands in the order written (a repeated one stays repeated;
 * the caller applies them in order, so the last #priority wins); #note is
 * in the list as PD_CMD_NOTE and also sets note.  Arguments are normalised:
 * priority and type in lower case, line as a plain decimal, the address
 * without <>.
 * The body is the input unchanged when there is no command; after an error
 * it is the input unchanged, the list is empty and only the first error is
 * reported (note stays set when a #note came before it, so a caller that
 * ignores the error still never relays a note).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "util.h"

#define QUOTE_MAX 64 /* bytes of the agent's text quoted in an error */

static const char VALID[] =
	"valid: #close #resolve #pending #priority LEVEL #assign ADDRESS #line N #type TYPE "
	"#note";

static const struct {
	const char *name;
	enum pd_cmd_kind kind;
	bool has_arg;
} COMMANDS[] = {
	{"close", PD_CMD_CLOSE, false},     {"resolve", PD_CMD_RESOLVE, false},
	{"pending", PD_CMD_PENDING, false}, {"priority", PD_CMD_PRIORITY, true},
	{"assign", PD_CMD_ASSIGN, true},    {"line", PD_CMD_LINE, true},
	{"note", PD_CMD_NOTE, false},       {"type", PD_CMD_TYPE, true},
};

static const char *const PRIORITIES[] = {"critical", "high", "normal", "low"};
/* the request types of tickets.type (classify.h's enum pd_type) */
static const char *const TYPES[] = {"question",   "incident", "complaint",
				    "suggestion", "refund",   "access"};

/* -------------------------------------------------------------- text */

/* Length of the white space at p (space, tab, FF, VT, U+00A0), 0 if none. */
static size_t ws_len(const char *p, const char *end)
{
	if (p >= end)
		return 0;
	if (*p == ' ' || *p == '\t' || *p == '\f' || *p == '\v')
		return 1;
	if (end - p >= 2 && (unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xa0)
		return 2;
	return 0;
}

static const char *skip_ws(const char *p, const char *end)
{
	size_t n;

	while ((n = ws_len(p, end)) > 0)
		p += n;
	return p;
}

/* End of s..e without trailing white space. */
static const char *rtrim(const char *s, const char *e)
{
	for (;;) {
		if (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\f' ||
			      e[-1] == '\v'))
			e--;
		else if (e - s >= 2 && (unsigned char)e[-2] == 0xc2 && (unsigned char)e[-1] == 0xa0)
			e -= 2;
		else
			return e;
	}
}

/* End of the word at p (up to white space or e). */
static const char *word_end(const char *p, const char *e)
{
	while (p < e && ws_len(p, e) == 0)
		p++;
	return p;
}

/* Length of the valid UTF-8 sequence at p (before e), 0 if invalid. */
static size_t utf8_seq(const char *p, const char *e)
{
	size_t n = 0;

	for (size_t len = 1; len <= 4 && n == 0 && len <= (size_t)(e - p); len++)
		if (pd_utf8_valid(p, len))
			n = len;
	return n;
}

/*
 * The agent's words p..e for an error message: control characters and
 * invalid UTF-8 become '?', and more than QUOTE_MAX bytes are cut at a
 * character boundary with "...".  Newly allocated.
 */
static char *quote(const char *p, const char *e)
{
	struct pd_buf b;
	size_t n;

	pd_buf_init(&b);
	while (p < e && b.len < QUOTE_MAX) {
		unsigned char c = (unsigned char)*p;
		n = utf8_seq(p, e);
		if (n == 0 || c < 0x20 || c == 0x7f) {
			pd_buf_append_char(&b, '?');
			p++;
		} else {
			pd_buf_append(&b, p, n);
			p += n;
		}
	}
	if (p < e)
		pd_buf_append_str(&b, "...");
	if (b.data == NULL)
		return pd_xstrdup("");
	return pd_buf_steal(&b, NULL);
}

/* ---------------------------------------------------------- arguments */

/* Local part: a dot-atom, or a quoted string without control characters
 * and without '<' or '>' (an agent's address never has them, and an
 * argument handed on holds no angle bracket: plan.c and the notices take
 * it as the bare address). */
static bool local_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		for (size_t i = 1; i + 1 < n; i++) {
			bool escaped = s[i] == '\\';
			/* a quoted pair (a backslash and x) is held to the rules of x */
			if (escaped && ++i + 1 >= n)
				return false;
			unsigned char c = (unsigned char)s[i];
			if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || (c == '"' && !escaped))
				return false;
		}
		return true;
	}
	return pd_dot_atom_valid(s, n);
}

/* Domain: dot-separated labels of letters, digits and hyphens (IDN in
 * UTF-8 allowed), or an address literal "[...]". */
static bool domain_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return false;
		for (size_t i = 1; i + 1 < n; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != ':')
				return false;
		return true;
	}
	return pd_hostname_valid(s, n);
}

/* An addr-spec, optionally in <>; the address without <> (newly
 * allocated), or NULL. */
static char *parse_addr(const char *p, const char *e)
{
	const char *at = NULL;

	if (e - p >= 2 && *p == '<' && e[-1] == '>') {
		p++;
		e--;
	}
	if (e - p > 254)
		return NULL;
	for (const char *q = p; q < e; q++)
		if (*q == '@')
			at = q;
	if (at == NULL || !local_ok(p, (size_t)(at - p)) || !domain_ok(at + 1, (size_t)(e - at - 1)))
		return NULL;
	return pd_xstrndup(p, (size_t)(e - p));
}

/* "1".."99" (leading zeros allowed) as a normalised decimal, or NULL. */
static char *parse_line_no(const char *p, const char *e)
{
	int v = 0;

	if (p == e || e - p > 4)
		return NULL;
	for (const char *q = p; q < e; q++) {
		if (*q < '0' || *q > '9')
			return NULL;
		v = v * 10 + (*q - '0');
	}
	if (v < 1 || v > 99)
		return NULL;
	return pd_xasprintf("%d", v);
}

/* One of names[0..n) in any case, as written in names (newly allocated), or NULL. */
static char *parse_name(const char *p, const char *e, const char *const *names, size_t n_names)
{
	size_t n = (size_t)(e - p);

	for (size_t i = 0; i < n_names; i++)
		if (strlen(names[i]) == n && strncasecmp(p, names[i], n) == 0)
			return pd_xstrdup(names[i]);
	return NULL;
}

static const char *expected(enum pd_cmd_kind kind)
{
	switch (kind) {
	case PD_CMD_PRIORITY:
		return "critical, high, normal or low";
	case PD_CMD_ASSIGN:
		return "an e-mail address such as bob@example.com";
	case PD_CMD_LINE:
		return "a number from 1 to 99";
	case PD_CMD_TYPE:
		return "question, incident, complaint, suggestion, refund or access";
	default:
		return "nothing";
	}
}

/* ------------------------------------------------------------- parse */

static void add_cmd(struct pd_cmd_result *r, enum pd_cmd_kind kind, char *arg)
{
	r->v = pd_xgrow(r->v, r->n, sizeof(*r->v));
	r->v[r->n].kind = kind;
	r->v[r->n].arg = arg;
	r->n++;
}

/*
 * One command line: name is s..ne (after the '#'), the rest ne..e.  Adds
 * the command, or sets r->error.
 */
static void command(struct pd_cmd_result *r, const char *s, const char *ne, const char *e,
		    unsigned line)
{
	const char *a = skip_ws(ne, e), *ae = word_end(a, e), *extra = skip_ws(ae, e);
	size_t n = (size_t)(ne - s), k;
	char *arg = NULL, *q;

	for (k = 0; k < PD_ARRAY_LEN(COMMANDS); k++)
		if (strlen(COMMANDS[k].name) == n && strncasecmp(s, COMMANDS[k].name, n) == 0)
			break;
	if (k == PD_ARRAY_LEN(COMMANDS)) {
		q = quote(s, ne);
		r->error = pd_xasprintf("unknown command #%s on line %u; %s", q, line, VALID);
		free(q);
		return;
	}
	if (!COMMANDS[k].has_arg) {
		if (a < e) {
			q = quote(a, e);
			r->error = pd_xasprintf("#%s takes no argument, got \"%s\" on line %u",
						COMMANDS[k].name, q, line);
			free(q);
			return;
		}
	} else if (a == e) {
		r->error = pd_xasprintf("#%s needs an argument on line %u: %s", COMMANDS[k].name,
					line, expected(COMMANDS[k].kind));
		return;
	} else if (extra < e) {
		q = quote(a, e);
		r->error = pd_xasprintf("#%s takes one argument, got \"%s\" on line %u",
					COMMANDS[k].name, q, line);
		free(q);
		return;
	} else {
		switch (COMMANDS[k].kind) {
		case PD_CMD_PRIORITY:
			arg = parse_name(a, ae, PRIORITIES, PD_ARRAY_LEN(PRIORITIES));
			break;
		case PD_CMD_TYPE:
			arg = parse_name(a, ae, TYPES, PD_ARRAY_LEN(TYPES));
			break;
		case PD_CMD_ASSIGN:
			arg = parse_addr(a, ae);
			break;
		case PD_CMD_LINE:
			arg = parse_line_no(a, ae);
			break;
		default:
			break;
		}
		if (arg == NULL) {
			q = quote(a, ae);
			r->error = pd_xasprintf("bad argument \"%s\" for #%s on line %u: expected %s",
						q, COMMANDS[k].name, line,
						expected(COMMANDS[k].kind));
			free(q);
			return;
		}
	}
	if (COMMANDS[k].kind == PD_CMD_NOTE)
		r->note = true;
	add_cmd(r, COMMANDS[k].kind, arg);
}

/* A line s..e (trimmed, starting with '#') is a command: '#' and then a
 * letter (any script); '#' with a digit, space or punctuation is text. */
static bool is_command_line(const char *s, const char *e)
{
	unsigned char c;

	if (e - s < 2 || s[0] != '#')
		return false;
	c = (unsigned char)s[1];
	if (c >= 0x80)
		return ws_len(s + 1, e) == 0; /* not U+00A0 */
	return isalpha(c);
}

void pd_commands_parse(const char *body, struct pd_cmd_result *r)
{
	const char *p, *end, *text = NULL;
	bool any = false;
	unsigned line = 0;

	memset(r, 0, sizeof(*r));
	if (body == NULL)
		body = "";
	p = body;
	end = body + strlen(body);
	while (p < end && r->error == NULL) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *s = p, *e;

		line++;
		/* a byte order mark before the first line */
		if (line == 1 && eol - s >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3;
		s = skip_ws(s, eol);
		e = rtrim(s, eol);
		if (s < e) {
			if (!is_command_line(s, e)) {
				text = p;
				break;
			}
			any = true;
			command(r, s + 1, word_end(s + 1, e), e, line);
		}
		p = nl ? nl + 1 : end;
	}
	if (r->error != NULL) {
		/* nothing may be applied: drop what was parsed, keep the text whole */
		for (size_t i = 0; i < r->n; i++)
			free(r->v[i].arg);
		free(r->v);
		r->v = NULL;
		r->n = 0;
		r->body = pd_xstrdup(body);
	} else if (!any) {
		r->body = pd_xstrdup(body);
	} else {
		r->body = pd_xstrdup(text ? text : "");
	}
}

void pd_commands_free(struct pd_cmd_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].arg);
	free(r->v);
	free(r->body);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

const char *pd_cmd_name(enum pd_cmd_kind kind)
{
	switch (kind) {
	case PD_CMD_CLOSE:
		return "close";
	case PD_CMD_RESOLVE:
		return "resolve";
	case PD_CMD_PENDING:
		return "pending";
	case PD_CMD_PRIORITY:
		return "priority";
	case PD_CMD_ASSIGN:
		return "assign";
	case PD_CMD_LINE:
		return "line";
	case PD_CMD_NOTE:
		return "note";
	case PD_CMD_TYPE:
		return "type";
	}
	return "unknown";
}
