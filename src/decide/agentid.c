/*
 * agentid.c - reply addresses' shape, Authentication-Results and the
 * decision who wrote an agent's mail.  Pure: see agentid.h (the reply
 * addresses' HMAC is computed by the caller, replyaddr.c).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentid.h"
#include "util.h"

/* ------------------------------------------------------------ reply address */

int pd_token_format(const char *support_address, int64_t number, const char *hex, char *out,
		    size_t outlen)
{
	const char *at = support_address ? strrchr(support_address, '@') : NULL;

	if (outlen > 0)
		out[0] = '\0';
	if (at == NULL || at == support_address || number <= 0 || hex == NULL ||
	    strlen(hex) != PD_TOKEN_HEX_LEN)
		return -1;
	int n = snprintf(out, outlen, "%.*s+t%" PRId64 "-%s%s", (int)(at - support_address),
			 support_address, number, hex, at);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/* Split addr as support's reply address: *number_r and the hex digits (at
 * *hex_r, PD_TOKEN_HEX_LEN of them).  False when it has another shape. */
static bool token_split(const char *support_address, const char *addr, int64_t *number_r,
			const char **hex_r)
{
	const char *sat = support_address ? strrchr(support_address, '@') : NULL;
	const char *aat = addr ? strrchr(addr, '@') : NULL;

	if (sat == NULL || aat == NULL || !pd_str_iequal(sat, aat))
		return false;
	size_t local = (size_t)(sat - support_address);
	if (local == 0 || (size_t)(aat - addr) < local + 2 ||
	    strncasecmp(addr, support_address, local) != 0)
		return false;
	const char *p = addr + local;
	if (p[0] != '+' || (p[1] != 't' && p[1] != 'T'))
		return false;
	p += 2;
	int64_t n = 0;
	const char *digits = p;
	while (p < aat && isdigit((unsigned char)*p)) {
		int d = *p - '0';
		if (n > (INT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
		p++;
	}
	if (p == digits || *digits == '0' || n <= 0 || *p != '-')
		return false;
	p++;
	if (aat - p != PD_TOKEN_HEX_LEN)
		return false;
	for (const char *h = p; h < aat; h++)
		if (pd_hexval(*h) < 0)
			return false;
	*number_r = n;
	*hex_r = p;
	return true;
}

bool pd_support_plus(const char *support_address, const char *addr)
{
	const char *sat = support_address ? strrchr(support_address, '@') : NULL;
	const char *aat = addr ? strrchr(addr, '@') : NULL;
	size_t local = sat ? (size_t)(sat - support_address) : 0;

	return sat != NULL && aat != NULL && local > 0 && pd_str_iequal(sat, aat) &&
	       (size_t)(aat - addr) > local && addr[local] == '+' &&
	       strncasecmp(addr, support_address, local) == 0;
}

bool pd_token_shaped(const char *support_address, const char *addr)
{
	int64_t n;
	const char *hex;

	return token_split(support_address, addr, &n, &hex);
}

bool pd_token_parse(const char *support_address, const char *addr, int64_t *number_r,
		    char hex_r[PD_TOKEN_HEX_LEN + 1])
{
	const char *hex;

	*number_r = 0;
	hex_r[0] = '\0';
	if (!token_split(support_address, addr, number_r, &hex))
		return false;
	for (size_t i = 0; i < PD_TOKEN_HEX_LEN; i++)
		hex_r[i] = (char)tolower((unsigned char)hex[i]);
	hex_r[PD_TOKEN_HEX_LEN] = '\0';
	return true;
}

bool pd_token_hex_equal(const char *a, const char *b)
{
	unsigned diff = 0;

	/* every digit compared, whatever the first difference */
	for (size_t i = 0; i < PD_TOKEN_HEX_LEN; i++)
		diff |= (unsigned)(a[i] ^ b[i]);
	return diff == 0;
}

/* ---------------------------------------------- Authentication-Results */

/* Skip white space and (nested) comments; NULL on an unclosed comment. */
static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		int depth = 0;
		do {
			if (*p == '\0')
				return NULL;
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			p++;
		} while (depth > 0);
	}
}

/* A value: a quoted string (unescaped) or a run of characters up to white
 * space, ';', '(' or any of stop.  NULL when there is none. */
static char *read_value(const char **pp, const char *stop)
{
	const char *p = *pp;
	struct pd_buf b;

	pd_buf_init(&b);
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0') {
				pd_buf_free(&b);
				return NULL;
			}
			if (*p == '\\' && p[1] != '\0')
				p++;
			pd_buf_append_char(&b, *p);
		}
		p++;
	} else {
		while (*p != '\0' && !strchr(" \t\r\n;(\"", *p) && !strchr(stop, *p))
			pd_buf_append_char(&b, *p++);
		if (b.len == 0) {
			pd_buf_free(&b);
			return NULL;
		}
	}
	*pp = p;
	return pd_buf_steal(&b, NULL);
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

void pd_authres_free(struct pd_authres *ar)
{
	for (size_t i = 0; i < ar->n; i++) {
		free(ar->v[i].method);
		free(ar->v[i].result);
		free(ar->v[i].header_d);
		free(ar->v[i].header_from);
	}
	free(ar->v);
	free(ar->authserv_id);
	memset(ar, 0, sizeof(*ar));
}

/* One resinfo after its ';': "method[/v] = result [reason=..] [ptype.prop=value]...". */
static int parse_resinfo(const char **pp, struct pd_authres *out)
{
	const char *p = *pp;
	char *key = read_value(&p, "=/");
	if (key == NULL)
		return -1;
	lower(key);
	if ((p = skip_cfws(p)) == NULL)
		goto bad;
	if (*p == '/') { /* method-version */
		p = skip_cfws(p + 1);
		char *v = p ? read_value(&p, "=") : NULL;
		if (v == NULL)
			goto bad;
		free(v);
		if ((p = skip_cfws(p)) == NULL)
			goto bad;
	}
	if (*p != '=') {
		/* "none" alone says no method ran */
		if (strcmp(key, "none") == 0 && out->n == 0 && !out->none) {
			out->none = true;
			free(key);
			*pp = p;
			return 0;
		}
		goto bad;
	}
	if ((p = skip_cfws(p + 1)) == NULL)
		goto bad;
	char *result = read_value(&p, "");
	if (result == NULL)
		goto bad;
	lower(result);
	out->v = pd_xgrow(out->v, out->n, sizeof(*out->v));
	struct pd_authres_result *r = &out->v[out->n++];
	memset(r, 0, sizeof(*r));
	r->method = key;
	r->result = result;
	/* reasonspec and propspecs up to the next ';' */
	for (;;) {
		if ((p = skip_cfws(p)) == NULL)
			return -1;
		if (*p == ';' || *p == '\0')
			break;
		char *name = read_value(&p, "=");
		if (name == NULL || (p = skip_cfws(p)) == NULL || *p != '=') {
			free(name);
			return -1;
		}
		if ((p = skip_cfws(p + 1)) == NULL) {
			free(name);
			return -1;
		}
		char *val = read_value(&p, "");
		if (val == NULL) {
			free(name);
			return -1;
		}
		lower(name);
		char **slot = strcmp(name, "header.d") == 0      ? &r->header_d
			      : strcmp(name, "header.from") == 0 ? &r->header_from
								 : NULL;
		if (slot != NULL && *slot == NULL)
			*slot = val;
		else
			free(val);
		free(name);
	}
	*pp = p;
	return 0;
bad:
	free(key);
	return -1;
}

int pd_authres_parse(const char *value, struct pd_authres *out)
{
	const char *p;

	memset(out, 0, sizeof(*out));
	if (value == NULL || (p = skip_cfws(value)) == NULL)
		return -1;
	if ((out->authserv_id = read_value(&p, "")) == NULL)
		goto bad;
	if ((p = skip_cfws(p)) == NULL)
		goto bad;
	/* an optional version number */
	if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p))
			p++;
		if ((p = skip_cfws(p)) == NULL)
			goto bad;
	}
	while (*p == ';') {
		if ((p = skip_cfws(p + 1)) == NULL)
			goto bad;
		if (*p == '\0' || *p == ';')
			continue; /* a stray ';' (some servers end with one) */
		if (out->none || parse_resinfo(&p, out) < 0)
			goto bad;
		if ((p = skip_cfws(p)) == NULL)
			goto bad;
	}
	if (*p != '\0')
		goto bad;
	return 0;
bad:
	pd_authres_free(out);
	return -1;
}

/* ---------------------------------------------------------- decision */

static const char *domain_of(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;

	return at ? at + 1 : "";
}

/* Verdict of a trusted-or-not Authentication-Results for from_address. */
static enum pd_agent_why authres_why(const struct pd_agent_facts *f)
{
	struct pd_authres ar;
	enum pd_agent_why why = PD_AGENT_WHY_AUTH_FAILED;
	bool trusted = false;

	if (pd_authres_parse(f->authres, &ar) < 0)
		return PD_AGENT_WHY_AUTH_MALFORMED;
	for (size_t i = 0; i < f->n_trusted && !trusted; i++)
		trusted = pd_str_iequal(f->trusted[i], ar.authserv_id);
	if (!trusted) {
		pd_authres_free(&ar);
		return PD_AGENT_WHY_UNTRUSTED;
	}
	const char *dom = domain_of(f->from_address);
	for (size_t i = 0; i < ar.n && why == PD_AGENT_WHY_AUTH_FAILED; i++) {
		const struct pd_authres_result *r = &ar.v[i];
		if (strcmp(r->result, "pass") != 0)
			continue;
		/* dmarc=pass is about the From domain by definition; header.from,
		 * when given, must still be that domain */
		if (strcmp(r->method, "dmarc") == 0 &&
		    (r->header_from == NULL || pd_str_iequal(r->header_from, dom)))
			why = PD_AGENT_WHY_DMARC;
		else if (strcmp(r->method, "dkim") == 0 && r->header_d != NULL && dom[0] != '\0' &&
			 pd_str_iequal(r->header_d, dom))
			why = PD_AGENT_WHY_DKIM;
	}
	pd_authres_free(&ar);
	return why;
}

void pd_agent_decide(const struct pd_agent_facts *f, struct pd_agent_decision *d)
{
	bool match = false;

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < f->n_tokens; i++)
		match = match || (f->ticket > 0 && f->token_tickets[i] == f->ticket);
	if (!f->from_agent) {
		if (f->n_tokens > 0 && !f->from_participant) {
			d->verdict = PD_AGENT_UNKNOWN;
			d->why = PD_AGENT_WHY_NOT_AGENT;
		}
		return;
	}
	if (match) {
		d->verdict = PD_AGENT_VERIFIED;
		d->why = PD_AGENT_WHY_TOKEN;
		return;
	}
	enum pd_agent_why why = f->authres != NULL ? authres_why(f) : PD_AGENT_WHY_NO_PROOF;
	if (why == PD_AGENT_WHY_DMARC || why == PD_AGENT_WHY_DKIM) {
		d->verdict = PD_AGENT_VERIFIED;
		d->why = why;
		return;
	}
	d->verdict = PD_AGENT_UNVERIFIED;
	/* a reply address of another ticket says the most about what went wrong */
	d->why = f->n_tokens > 0 ? PD_AGENT_WHY_OTHER_TICKET : why;
}

const char *pd_agent_verdict_name(enum pd_agent_verdict v)
{
	switch (v) {
	case PD_AGENT_NONE:
		return "none";
	case PD_AGENT_VERIFIED:
		return "verified";
	case PD_AGENT_UNVERIFIED:
		return "unverified";
	case PD_AGENT_UNKNOWN:
		return "unknown";
	}
	return "none";
}

const char *pd_agent_why_text(enum pd_agent_why why)
{
	switch (why) {
	case PD_AGENT_WHY_NONE:
		return "";
	case PD_AGENT_WHY_TOKEN:
		return "it was sent to the ticket's reply address";
	case PD_AGENT_WHY_DMARC:
		return "a trusted server reported dmarc=pass";
	case PD_AGENT_WHY_DKIM:
		return "a trusted server reported dkim=pass for the sender's domain";
	case PD_AGENT_WHY_NO_PROOF:
		return "it was not sent to the ticket's reply address and carries no trusted "
		       "authentication result";
	case PD_AGENT_WHY_OTHER_TICKET:
		return "it was sent to the reply address of another ticket";
	case PD_AGENT_WHY_UNTRUSTED:
		return "its Authentication-Results come from a server not listed in "
		       "agents.trusted_authserv_ids";
	case PD_AGENT_WHY_AUTH_FAILED:
		return "the trusted server reported neither dmarc=pass nor dkim=pass for the "
		       "sender's domain";
	case PD_AGENT_WHY_AUTH_MALFORMED:
		return "its Authentication-Results header could not be read";
	case PD_AGENT_WHY_NOT_AGENT:
		return "the sender is not listed in agents.addresses";
	}
	return "";
}
