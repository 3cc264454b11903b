/*
 * answer.c - the agent's own text in a reply to a notice (pure).
 *
 * Owns the rules of answer.h.  The body is cut into lines, each line is
 * marked as kept or dropped in a few passes (notice regions, an Outlook
 * history, '>' quotes, attributions before a quote), and the kept runs are
 * joined back, one blank line between them.  The passes work on line
 * indexes only; nothing is copied until the result is built.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "answer.h"
#include "util.h"

enum mark { M_NONE, M_BEGIN, M_END };

struct line {
	const char *p;
	size_t len;     /* without the line end (LF or CRLF) */
	bool quoted;    /* starts, after white space, with '>' */
	bool blank;     /* nothing but white space */
	enum mark mark; /* a notice marker line, quoted or not */
	bool drop;      /* not the agent's own text */
};

/* ------------------------------------------------------------ characters */

/* Length of the white space at p (space, tab, U+00A0, U+202F), 0 if none. */
static size_t ws_len(const char *p, const char *e)
{
	if (p >= e)
		return 0;
	if (*p == ' ' || *p == '\t' || *p == '\f' || *p == '\v' || *p == '\r')
		return 1;
	if (e - p >= 2 && (unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xa0)
		return 2;
	if (e - p >= 3 && (unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x80 &&
	    (unsigned char)p[2] == 0xaf)
		return 3;
	return 0;
}

static const char *skip_ws(const char *p, const char *e)
{
	size_t n;

	while ((n = ws_len(p, e)) > 0)
		p += n;
	return p;
}

/* The end of [s, e) without trailing white space (ASCII, U+00A0, U+202F). */
static const char *rtrim(const char *s, const char *e)
{
	for (;;) {
		if (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\f' ||
			      e[-1] == '\v'))
			e--;
		else if (e - s >= 2 && (unsigned char)e[-2] == 0xc2 && (unsigned char)e[-1] == 0xa0)
			e -= 2;
		else if (e - s >= 3 && (unsigned char)e[-3] == 0xe2 &&
			 (unsigned char)e[-2] == 0x80 && (unsigned char)e[-1] == 0xaf)
			e -= 3;
		else
			return e;
	}
}

/* [s, e) starts with prefix (ASCII case-insensitive). */
static bool starts(const char *s, const char *e, const char *prefix)
{
	size_t k = strlen(prefix);

	return (size_t)(e - s) >= k && strncasecmp(s, prefix, k) == 0;
}

/* [s, e) ends with suffix (ASCII case-insensitive). */
static bool ends(const char *s, const char *e, const char *suffix)
{
	size_t k = strlen(suffix);

	return (size_t)(e - s) >= k && strncasecmp(e - k, suffix, k) == 0;
}

/* [s, e) contains needle (exact bytes). */
static bool contains(const char *s, const char *e, const char *needle)
{
	return memmem(s, (size_t)(e - s), needle, strlen(needle)) != NULL;
}

/* ----------------------------------------------------------------- lines */

/* The text of a line after any quote prefix ("> > ", ">>") and white space. */
static const char *unquoted_start(const struct line *l)
{
	const char *p = l->p, *e = l->p + l->len;

	for (;;) {
		p = skip_ws(p, e);
		if (p < e && *p == '>')
			p++;
		else
			return p;
	}
}

static enum mark marker(const struct line *l)
{
	const char *p = unquoted_start(l), *e = l->p + l->len;

	if (starts(p, e, "======== postdesk notice"))
		return M_BEGIN;
	if (starts(p, e, "======== end of postdesk notice"))
		return M_END;
	return M_NONE;
}

/* Cut body into lines (a CR before the LF is not part of the line). */
static struct line *split_lines(const char *body, size_t *n_r)
{
	struct line *v = NULL;
	size_t n = 0;
	const char *p = body;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		size_t next = len + (nl ? 1 : 0);

		while (len > 0 && p[len - 1] == '\r')
			len--;
		v = pd_xgrow(v, n, sizeof(*v));
		struct line *l = &v[n++];
		const char *s = skip_ws(p, p + len);
		*l = (struct line){.p = p, .len = len};
		l->quoted = s < p + len && *s == '>';
		l->blank = s == p + len;
		l->mark = marker(l);
		p += next;
	}
	*n_r = n;
	return v;
}

/* ---------------------------------------------------------- the notice */

/*
 * Drop every notice: BEGIN to the next END, whatever is between (quoted or
 * not; also lines a client wrapped without repeating the '>').  A BEGIN
 * without an END drops the rest of its quote block, or of its run of
 * unquoted lines; a stray END is dropped alone.
 */
static void drop_notices(struct line *v, size_t n)
{
	bool no_end = false; /* no END after the last BEGIN seen: none for later ones either */

	for (size_t i = 0; i < n; i++) {
		if (v[i].mark == M_END) {
			v[i].drop = true;
			continue;
		}
		if (v[i].mark != M_BEGIN)
			continue;
		size_t j = no_end ? n : i + 1;
		while (j < n && v[j].mark != M_END)
			j++;
		if (j == n) {
			no_end = true;
			/* no END: the rest of this block */
			j = i + 1;
			while (j < n && v[j].quoted == v[i].quoted && v[j].mark != M_BEGIN)
				j++;
			j--;
		}
		for (size_t k = i; k <= j; k++)
			v[k].drop = true;
		i = j;
	}
}

/* ------------------------------------------------------------- Outlook */

/* A line is label followed by text: "From: X", "De : X". */
static bool labelled(const struct line *l, const char *const *labels, size_t nlabels)
{
	const char *p = skip_ws(l->p, l->p + l->len), *e = l->p + l->len;

	for (size_t i = 0; i < nlabels; i++)
		if (starts(p, e, labels[i]))
			return true;
	return false;
}

/* The labels of Outlook's header block, in the languages we meet. */
#define NBSP "\xc2\xa0"
static const char *const FROM[] = {
	"From:", "От:", "Von:", "De :", "De" NBSP ":", "De:", "Da:", "Van:",
};
/* Outlook's own word for the date: with "From:" enough to be sure */
static const char *const SENT[] = {
	"Sent:",   "Отправлено:", "Gesendet:", "Envoyé :", "Envoyé" NBSP ":",
	"Envoyé:", "Inviato:",    "Verzonden:",
};
/* others write "Date:": then a "To:" or "Subject:" must follow too */
static const char *const DATE[] = {"Date:", "Дата:", "Datum:"};
static const char *const TO[] = {
	"To:",      "Subject:",   "Кому:",   "Тема:",   "An:",      "Betreff:",
	"À :",      "À" NBSP ":", "À:",      "Objet :", "Objet" NBSP ":",
	"Objet:",   "A:",         "Oggetto:", "Aan:",   "Onderwerp:", "Cc:",
	"Копия:",
};

/* One of labels appears inside [s, e), after white space. */
static bool has_inner_label(const char *s, const char *e, const char *const *labels, size_t nl)
{
	for (size_t i = 0; i < nl; i++) {
		char buf[32];
		int k = snprintf(buf, sizeof(buf), " %s ", labels[i]);
		if (k > 0 && (size_t)k < sizeof(buf) && contains(s, e, buf))
			return true;
	}
	return false;
}

/*
 * "-----Original Message-----" (Outlook), "-------- Original Message
 * --------" (Thunderbird's header-style reply) and their translations: a
 * title between runs of at least three dashes.
 */
static bool separator(const char *p, const char *e)
{
	static const char *const titles[] = {
		"Original Message",        "Исходное сообщение",    "Ursprüngliche Nachricht",
		"Message d'origine",       "Messaggio originale",   "Oorspronkelijk bericht",
		"Mensaje original",        "Mensagem original",
	};
	const char *s = p, *t;

	e = rtrim(p, e);
	while (s < e && *s == '-')
		s++;
	if (s - p < 3)
		return false;
	s = skip_ws(s, e);
	t = e;
	while (t > s && t[-1] == '-')
		t--;
	if (e - t < 3)
		return false;
	t = rtrim(s, t);
	for (size_t k = 0; k < PD_ARRAY_LEN(titles); k++)
		if ((size_t)(t - s) == strlen(titles[k]) &&
		    strncasecmp(s, titles[k], (size_t)(t - s)) == 0)
			return true;
	return false;
}

/*
 * An Outlook history starts at line i: its separator line, a line of
 * underscores above "From:", or a header block on consecutive lines,
 * "From:" + "Sent:" or "From:" + "Date:" + "To:"/"Subject:" (or on one
 * line, as some HTML turns into text).
 */
static bool outlook_start(const struct line *v, size_t n, size_t i)
{
	const char *p = skip_ws(v[i].p, v[i].p + v[i].len), *e = v[i].p + v[i].len;

	if (separator(p, e))
		return true;
	/* Outlook's line of underscores right above "From:" */
	const char *u = p;
	while (u < e && *u == '_')
		u++;
	if (u - p >= 20 && rtrim(u, e) == u && i + 1 < n &&
	    labelled(&v[i + 1], FROM, PD_ARRAY_LEN(FROM)))
		return true;
	if (!labelled(&v[i], FROM, PD_ARRAY_LEN(FROM)))
		return false;
	if ((has_inner_label(p, e, SENT, PD_ARRAY_LEN(SENT)) ||
	     has_inner_label(p, e, DATE, PD_ARRAY_LEN(DATE))) &&
	    has_inner_label(p, e, TO, PD_ARRAY_LEN(TO)))
		return true;
	bool sent = false, date = false, to = false;
	for (size_t j = i + 1; j < n && j <= i + 6 && !v[j].blank && !v[j].quoted; j++) {
		sent = sent || labelled(&v[j], SENT, PD_ARRAY_LEN(SENT));
		date = date || labelled(&v[j], DATE, PD_ARRAY_LEN(DATE));
		to = to || labelled(&v[j], TO, PD_ARRAY_LEN(TO));
	}
	return sent || (date && to);
}

/* A line of 10 or more '_' (or '-') and nothing else. */
static bool rule_line(const struct line *l)
{
	const char *p = skip_ws(l->p, l->p + l->len), *e = rtrim(p, l->p + l->len);
	size_t k = 0;

	for (; p < e; p++, k++)
		if (*p != '_' && *p != '-')
			return false;
	return k >= 10;
}

/* Drop an Outlook history, outside the notices, and everything after it. */
static void drop_outlook(struct line *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].drop || v[i].quoted || !outlook_start(v, n, i))
			continue;
		size_t from = i;
		/* the rule above the header block, across blank lines */
		size_t j = i;
		while (j > 0 && v[j - 1].blank && !v[j - 1].drop)
			j--;
		if (j > 0 && !v[j - 1].drop && rule_line(&v[j - 1]))
			from = j - 1;
		for (size_t k = from; k < n; k++)
			v[k].drop = true;
		return;
	}
}

/* ---------------------------------------------------------- attribution */

/*
 * A line that ends the way clients end an attribution: a "wrote:" verb in
 * some language, or an address before the colon ("Анна <a@b>:", mutt's
 * "* Ann <a@b> [2026-12-07 10:00]:").
 */
static bool attribution_end(const struct line *l)
{
	static const char *const verbs[] = {
		"wrote",    "writes",  "schrieb", "a écrit",    "escribió", "scrisse",
		"skrev",    "schreef", "napisał", "napisał(a)", "kirjoitti", "escreveu",
		"написал",  "написала", "написал(а)", "пишет",   "написав",
	};
	const char *s = l->p, *e = rtrim(l->p, l->p + l->len);

	if (e == s || e[-1] != ':')
		return false;
	const char *w = rtrim(s, e - 1); /* before the colon, French puts a space */
	for (size_t i = 0; i < PD_ARRAY_LEN(verbs); i++)
		if (ends(s, w, verbs[i]))
			return true;
	if ((ends(s, w, ">") || ends(s, w, "]")) && memchr(s, '@', (size_t)(e - s)) != NULL)
		return true;
	/* German and Dutch put the verb before the name: "Am ... schrieb Ann:" */
	return contains(s, e, " schrieb ") || contains(s, e, " schreef ");
}

/* A line that opens an attribution ("On ...", "Le ...", "пн, ...", a date,
 * mutt's "* "), for joining one that a client wrapped. */
static bool attribution_open(const struct line *l)
{
	static const char *const open[] = {
		"On ", "Le ", "Am ", "El ", "Il ", "Em ", "Op ", "W dniu ", "Den ", "* ",
		"пн,", "вт,", "ср,", "чт,", "пт,", "сб,", "вс,", "Пн,", "Вт,", "Ср,",
		"Чт,", "Пт,", "Сб,", "Вс,",
	};
	const char *p = skip_ws(l->p, l->p + l->len), *e = l->p + l->len;

	if (p < e && *p >= '0' && *p <= '9')
		return true;
	for (size_t i = 0; i < PD_ARRAY_LEN(open); i++)
		if (starts(p, e, open[i]))
			return true;
	return false;
}

/* A wrapped attribution's first part: opens one, does not end a sentence. */
static bool attribution_head(const struct line *l)
{
	const char *e = rtrim(l->p, l->p + l->len);

	if (l->drop || l->quoted || l->blank || !attribution_open(l))
		return false;
	return !(e[-1] == '.' || e[-1] == '!' || e[-1] == '?');
}

/* Drop the attribution line(s) just above each quote block or notice. */
static void drop_attributions(struct line *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].drop || v[i].blank || v[i].quoted)
			continue;
		size_t k = i + 1;
		while (k < n && v[k].blank)
			k++;
		if (k == n || !(v[k].quoted || v[k].mark == M_BEGIN) || !attribution_end(&v[i]))
			continue;
		v[i].drop = true;
		/* Gmail wraps a long attribution: "On ..., Ann <" / "a@b> wrote:" */
		if (attribution_open(&v[i]))
			continue;
		if (i >= 1 && attribution_head(&v[i - 1])) {
			v[i - 1].drop = true;
		} else if (i >= 2 && !v[i - 1].drop && !v[i - 1].blank && !v[i - 1].quoted &&
			   !attribution_open(&v[i - 1]) && attribution_head(&v[i - 2])) {
			v[i - 1].drop = true;
			v[i - 2].drop = true;
		}
	}
}

/* ---------------------------------------------------------------- API */

int pd_answer_split(const char *body, struct pd_answer *out)
{
	struct line *v;
	size_t n;
	struct pd_buf b;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	v = split_lines(body ? body : "", &n);
	drop_notices(v, n);
	drop_outlook(v, n);
	for (size_t i = 0; i < n; i++)
		if (v[i].quoted)
			v[i].drop = true;
	drop_attributions(v, n);

	/* the kept runs, without their blank edges, one blank line apart */
	pd_buf_init(&b);
	for (size_t i = 0; i < n;) {
		if (v[i].drop) {
			out->had_quote = true;
			i++;
			continue;
		}
		size_t s = i, e;
		while (i < n && !v[i].drop)
			i++;
		e = i;
		while (s < e && v[s].blank)
			s++;
		while (e > s && v[e - 1].blank)
			e--;
		if (s == e)
			continue;
		if (b.len > 0)
			pd_buf_append_str(&b, "\n\n");
		for (size_t k = s; k < e; k++) {
			if (k > s)
				pd_buf_append_char(&b, '\n');
			const char *end = v[k].p + v[k].len;
			if (k + 1 == e)
				end = rtrim(v[k].p, end);
			pd_buf_append(&b, v[k].p, (size_t)(end - v[k].p));
		}
	}
	free(v);
	out->text = pd_buf_steal(&b, NULL);
	return 0;
}

void pd_answer_free(struct pd_answer *a)
{
	if (a == NULL)
		return;
	free(a->text);
	memset(a, 0, sizeof(*a));
}
