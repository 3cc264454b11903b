/*
 * thread.c - threading decisions (pure: no I/O).  See thread.h for the
 * rules.  The store gathers the facts from the database; this module decides,
 * so the rules can be tested exhaustively without a server.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "thread.h"
#include "util.h"

void pd_thread_decide(const struct pd_thread_facts *f, struct pd_thread_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (f->own_ref_ticket > 0) {
		d->rule = PD_THREAD_OWN_REF;
		d->ticket = f->own_ref_ticket;
	} else if (f->ref_ticket > 0) {
		d->rule = PD_THREAD_REF;
		d->ticket = f->ref_ticket;
	} else if (f->tag_ticket > 0 && f->tag_sender_allowed) {
		d->rule = PD_THREAD_TAG;
		d->ticket = f->tag_ticket;
	} else if (f->token_ticket > 0) {
		d->rule = PD_THREAD_TOKEN;
		d->ticket = f->token_ticket;
	} else {
		d->rule = PD_THREAD_NEW;
		if (f->tag_ticket > 0)
			d->foreign_tag = f->tag_ticket;
	}
}

const char *pd_thread_rule_name(enum pd_thread_rule rule)
{
	switch (rule) {
	case PD_THREAD_NEW:
		return "new";
	case PD_THREAD_OWN_REF:
		return "own-message-id";
	case PD_THREAD_REF:
		return "message-id";
	case PD_THREAD_TAG:
		return "subject-tag";
	case PD_THREAD_TOKEN:
		return "reply-address";
	}
	return "unknown";
}

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Match "[TAG #N]" at p (p points at '['); returns the end or NULL. */
static const char *match_tag(const char *p, const char *tag, size_t taglen, int64_t *number_r)
{
	const char *q = skip_blanks(p + 1);
	char *end;
	long long n;

	if (strncasecmp(q, tag, taglen) != 0)
		return NULL;
	q = skip_blanks(q + taglen);
	if (*q != '#')
		return NULL;
	q = skip_blanks(q + 1);
	if (!isdigit((unsigned char)*q))
		return NULL;
	errno = 0;
	n = strtoll(q, &end, 10);
	if (errno != 0 || n <= 0)
		return NULL;
	q = skip_blanks(end);
	if (*q != ']')
		return NULL;
	*number_r = (int64_t)n;
	return q + 1;
}

int pd_thread_find_tag(const char *subject, const char *tag, int64_t *number_r)
{
	size_t taglen = strlen(tag);

	if (subject == NULL || taglen == 0)
		return 0;
	for (const char *p = strchr(subject, '['); p != NULL; p = strchr(p + 1, '[')) {
		if (match_tag(p, tag, taglen, number_r) != NULL)
			return 1;
	}
	return 0;
}

/*
 * Reply and forward markers of the mail clients our customers use, in the
 * forms they write them.  Compared byte-wise after ASCII case folding; the
 * Cyrillic ones are listed in the capitalisations clients produce.
 */
static const char *const reply_prefixes[] = {
	"re", "fwd", "fw", "aw", "wg", "sv", "vs", "antw", "tr", "rif", "r", "ref", "enc",
	"odp", "vá", "ynt", "回复", "答复", "转发", "返信", "転送",
	"Ответ", "ответ", "ОТВЕТ", "Отв", "отв", "ОТВ", "Пересл", "пересл", "ПЕРЕСЛ",
	"Переслано", "переслано", "Fwd", "Re",
};

/* Length of a reply prefix at p ("Re:", "RE[2]:", "Fwd (3):", "Ответ:"), 0 when none. */
static size_t prefix_len(const char *p)
{
	for (size_t i = 0; i < PD_ARRAY_LEN(reply_prefixes); i++) {
		size_t l = strlen(reply_prefixes[i]);
		const char *q;

		if (strncasecmp(p, reply_prefixes[i], l) != 0)
			continue;
		q = skip_blanks(p + l);
		/* counters: Re[2]: Re(2): */
		if (*q == '[' || *q == '(') {
			char close = *q == '[' ? ']' : ')';
			q++;
			while (isdigit((unsigned char)*q))
				q++;
			if (*q != close)
				continue;
			q = skip_blanks(q + 1);
		}
		/* full-width colon used by CJK clients, or ':' */
		if (*q == ':')
			return (size_t)(skip_blanks(q + 1) - p);
		if (strncmp(q, "\xef\xbc\x9a", 3) == 0)
			return (size_t)(skip_blanks(q + 3) - p);
	}
	return 0;
}

char *pd_thread_clean_subject(const char *subject, const char *tag)
{
	struct pd_buf b;
	const char *p = subject ? subject : "";
	size_t taglen = tag ? strlen(tag) : 0;
	bool changed = true;

	/* Strip prefixes and leading tags, repeatedly: "Re: [Support #3] Fwd: x". */
	while (changed) {
		size_t l;
		int64_t n;
		const char *e;

		changed = false;
		p = skip_blanks(p);
		if ((l = prefix_len(p)) > 0) {
			p += l;
			changed = true;
		} else if (*p == '[' && taglen > 0 && (e = match_tag(p, tag, taglen, &n)) != NULL) {
			p = e;
			changed = true;
		}
	}
	/* Remove our tag anywhere else too. */
	pd_buf_init(&b);
	while (*p) {
		int64_t n;
		const char *e = NULL;

		if (*p == '[' && taglen > 0)
			e = match_tag(p, tag, taglen, &n);
		if (e != NULL) {
			p = skip_blanks(e);
			if (b.len > 0 && b.data[b.len - 1] != ' ' && *p)
				pd_buf_append_char(&b, ' ');
			continue;
		}
		pd_buf_append_char(&b, *p++);
	}
	char *s = pd_buf_steal(&b, NULL);
	return pd_str_trim(s);
}
