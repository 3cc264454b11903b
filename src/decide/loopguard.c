/*
 * loopguard.c - may postdesk answer this mail automatically? (pure: no I/O)
 *
 * Owns the loop-protection rules (RFC 3834 and what mature mail software
 * checks in practice) and the reading of RFC 3464 delivery status
 * notifications: which of our messages bounced and for whom.  Both decide
 * from what mime.c parsed (struct pd_msg: the header fields as written, the
 * top-level type, the delivery report's fields); nothing here parses mail.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loopguard.h"
#include "util.h"

#define ID_MAX 998               /* longest message id or address kept */

/* ---------------------------------------------------- structured values */

/* Copy of v without RFC 5322 comments (outside quoted strings). */
static char *uncomment(const char *v)
{
	char *out = pd_xmalloc(strlen(v) + 1), *o = out;
	int depth = 0;
	bool quoted = false;

	for (const char *p = v; *p; p++) {
		if (*p == '\\' && p[1] != '\0' && (quoted || depth > 0)) {
			if (depth == 0) {
				*o++ = *p++;
				*o++ = *p;
			} else {
				p++;
			}
			continue;
		}
		if (quoted) {
			if (*p == '"')
				quoted = false;
			*o++ = *p;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && depth > 0) {
			depth--;
		} else if (depth == 0) {
			if (*p == '"')
				quoted = true;
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* The first token of v (comments removed), lower case, up to ';', ',' or
 * white space; newly allocated, "" when none. */
static char *first_token(const char *v)
{
	char *u = uncomment(v), *p = u, *s;

	while (isspace((unsigned char)*p))
		p++;
	s = p;
	while (*p && *p != ';' && *p != ',' && !isspace((unsigned char)*p)) {
		*p = (char)tolower((unsigned char)*p);
		p++;
	}
	*p = '\0';
	memmove(u, s, strlen(s) + 1);
	return u;
}

/* The id in "<id>" (the first one; comments and white space around it
 * ignored), else the first word; newly allocated, NULL when none. */
static char *extract_id(const char *v)
{
	char *u = uncomment(v), *res = NULL;
	char *lt = strchr(u, '<'), *gt;

	if (lt != NULL && (gt = strchr(lt + 1, '>')) != NULL) {
		*gt = '\0';
		pd_str_trim(lt + 1);
		if (lt[1] != '\0' && strlen(lt + 1) <= ID_MAX)
			res = pd_xstrdup(lt + 1);
	} else if (lt == NULL) {
		char *p = pd_str_trim(u);
		size_t n = strcspn(p, " \t");
		if (n > 0 && n <= ID_MAX)
			res = pd_xstrndup(p, n);
	}
	free(u);
	return res;
}

/* ----------------------------------------------------------------- DSN */

struct dsn_rcpt {
	char *final, *orig;  /* addresses, no type, no <> */
	char *action;        /* first word, lower case */
	char *status;        /* "5.1.1" */
};

static void rcpt_free(struct dsn_rcpt *r)
{
	free(r->final);
	free(r->orig);
	free(r->action);
	free(r->status);
	memset(r, 0, sizeof(*r));
}

/*
 * The address of a Final-/Original-Recipient value "rfc822; <a@b>"; NULL
 * when the address type is one we cannot mail (x400, unknown) or empty.
 */
static char *dsn_address(const char *v)
{
	char *u = uncomment(v), *a = u, *semi = strchr(u, ';'), *res = NULL;
	size_t n;

	if (semi != NULL) {
		*semi = '\0';
		pd_str_trim(u);
		if (!pd_str_iequal(u, "rfc822") && !pd_str_iequal(u, "utf-8")) {
			free(u);
			return NULL;
		}
		a = semi + 1;
	}
	a = pd_str_trim(a);
	if (*a == '<') {
		a++;
		a[strcspn(a, ">")] = '\0';
		a = pd_str_trim(a);
	}
	n = strcspn(a, " \t");
	if (n > 0 && n <= ID_MAX)
		res = pd_xstrndup(a, n);
	free(u);
	return res;
}

/* How good a recipient group is as "the" failed recipient. */
static int rcpt_rank(const struct dsn_rcpt *r)
{
	if (r->final == NULL && r->orig == NULL)
		return 0;
	if (r->action != NULL && strcmp(r->action, "failed") == 0)
		return r->status != NULL && r->status[0] == '5' ? 4 : 3;
	if (r->action != NULL && strcmp(r->action, "delayed") == 0)
		return 2;
	return 1;
}

/* A group's values read: addresses without type and <>, first words. */
static void rcpt_read(const struct pd_dsn_group *g, struct dsn_rcpt *r)
{
	r->final = g->final_recipient ? dsn_address(g->final_recipient) : NULL;
	r->orig = g->original_recipient ? dsn_address(g->original_recipient) : NULL;
	r->action = g->action ? first_token(g->action) : NULL;
	r->status = g->status ? first_token(g->status) : NULL;
}

bool pd_loopguard_is_dsn(const struct pd_msg *msg)
{
	return msg != NULL && msg->content_type != NULL &&
	       strcmp(msg->content_type, "multipart/report") == 0 && msg->report_type != NULL &&
	       (strcmp(msg->report_type, "delivery-status") == 0 ||
		strcmp(msg->report_type, "global-delivery-status") == 0);
}

int pd_loopguard_dsn(const struct pd_msg *msg, char **original_message_id_r,
		     char **failed_recipient_r, bool *permanent_r)
{
	struct dsn_rcpt best = {NULL, NULL, NULL, NULL};
	int best_rank = 0;
	char *id = NULL, *rcpt = NULL;
	bool permanent = false;

	if (original_message_id_r)
		*original_message_id_r = NULL;
	if (failed_recipient_r)
		*failed_recipient_r = NULL;
	if (permanent_r)
		*permanent_r = false;
	if (msg == NULL || !msg->dsn.found)
		return 0;

	if (msg->dsn.original_message_id != NULL)
		id = extract_id(msg->dsn.original_message_id);
	if (id == NULL && msg->dsn.returned_message_id != NULL)
		id = extract_id(msg->dsn.returned_message_id);
	for (size_t i = 0; i < msg->dsn.n_groups; i++) {
		struct dsn_rcpt r;
		int rank;

		rcpt_read(&msg->dsn.groups[i], &r);
		rank = rcpt_rank(&r);
		if (rank > best_rank) {
			rcpt_free(&best);
			best = r;
			best_rank = rank;
		} else {
			rcpt_free(&r);
		}
	}
	if (best_rank > 0) {
		rcpt = best.orig ? best.orig : best.final;
		if (rcpt == best.orig)
			best.orig = NULL;
		else
			best.final = NULL;
		permanent = best_rank == 4;
	} else {
		/* Exim and Gmail also name the failed addresses in a header */
		const char *xf = pd_msg_field(msg, "X-Failed-Recipients", 0);
		if (xf != NULL) {
			const char *a = xf + strspn(xf, " \t,");
			size_t n = strcspn(a, " \t,");
			if (n > 0 && n <= ID_MAX) {
				char *tok = pd_xstrndup(a, n);
				rcpt = dsn_address(tok);
				free(tok);
			}
		}
	}
	rcpt_free(&best);
	/* both become SQL text parameters (store.c): bytes that are not UTF-8
	 * name neither one of our messages nor an address we mailed */
	if (id != NULL && !pd_utf8_valid(id, strlen(id))) {
		free(id);
		id = NULL;
	}
	if (rcpt != NULL && !pd_utf8_valid(rcpt, strlen(rcpt))) {
		free(rcpt);
		rcpt = NULL;
	}

	if (id == NULL && rcpt == NULL)
		return 0;
	if (original_message_id_r)
		*original_message_id_r = id;
	else
		free(id);
	if (failed_recipient_r)
		*failed_recipient_r = rcpt;
	else
		free(rcpt);
	if (permanent_r)
		*permanent_r = permanent;
	return 1;
}

/* -------------------------------------------------------------- rules */

/* A header of the message: the decoded field when the parser kept one,
 * else the field as written.  Newly allocated or NULL. */
static char *msg_header(const struct pd_msg *m, const char *parsed, const char *name)
{
	if (parsed != NULL)
		return pd_xstrdup(parsed);
	return pd_xstrdup(pd_msg_field(m, name, 0));
}

static bool raw_has(const struct pd_msg *m, const char *name)
{
	return pd_msg_field(m, name, 0) != NULL;
}

/* Split addr at its last '@': local part length and domain; false when
 * there is no '@'. */
static bool addr_split(const char *addr, size_t *llen_r, const char **domain_r)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL)
		return false;
	*llen_r = (size_t)(at - addr);
	*domain_r = at + 1;
	return true;
}

/* Length of the local part without a "+tag". */
static size_t local_base_len(const char *addr, size_t llen)
{
	const char *plus = memchr(addr, '+', llen);

	return plus ? (size_t)(plus - addr) : llen;
}

/* addr equals own, or is a plus-address of it (support+x@ for support@). */
static bool addr_is_own(const char *addr, const char *own)
{
	size_t al, ol;
	const char *ad, *od;

	if (!addr_split(addr, &al, &ad) || !addr_split(own, &ol, &od))
		return false;
	if (!pd_str_iequal(ad, od))
		return false;
	if (al == ol)
		return strncasecmp(addr, own, al) == 0;
	return al > ol && addr[ol] == '+' && strncasecmp(addr, own, ol) == 0;
}

static bool is_role_local(const char *local, size_t n)
{
	static const char *const roles[] = {
		"mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster",
		"noreply",       "no-reply",      "no_reply",     "donotreply",
		"do-not-reply",  "do_not_reply",  "bounce",       "bounces",
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(roles); i++)
		if (strlen(roles[i]) == n && strncasecmp(local, roles[i], n) == 0)
			return true;
	return false;
}

/* The local part (without +tag) of addr is a role account. */
static bool addr_is_role(const char *addr)
{
	size_t llen;
	const char *domain;

	if (!addr_split(addr, &llen, &domain))
		return false;
	return is_role_local(addr, local_base_len(addr, llen));
}

/* Return-Path <> (or empty), or the MAILER-DAEMON envelope sender that
 * some MTAs write for it. */
static bool null_sender(const char *rp)
{
	char *u = uncomment(rp), *p = pd_str_trim(u);
	bool yes;

	if (*p == '<') {
		p++;
		p[strcspn(p, ">")] = '\0';
		p = pd_str_trim(p);
	}
	if (*p == '\0') {
		yes = true;
	} else {
		size_t llen;
		const char *domain;
		if (!addr_split(p, &llen, &domain))
			llen = strlen(p);
		yes = (llen == 13 && strncasecmp(p, "mailer-daemon", 13) == 0);
	}
	free(u);
	return yes;
}

/* A comma/space separated list v contains one of words (case-insensitive). */
static bool list_has(const char *v, const char *const *words, size_t n)
{
	const char *p = v;

	while (*p) {
		size_t len;
		p += strspn(p, " \t,;");
		len = strcspn(p, " \t,;");
		for (size_t i = 0; i < n && len > 0; i++)
			if (strlen(words[i]) == len && strncasecmp(p, words[i], len) == 0)
				return true;
		p += len;
	}
	return false;
}

/* The mail carries our X-Postdesk-Loop field (any of them). */
static bool has_our_loop_field(const struct pd_msg *m, const char *want)
{
	bool yes = false;
	const char *v;

	for (size_t i = 0; !yes && i < 32; i++) {
		v = pd_msg_field(m, "X-Postdesk-Loop", i);
		if (v == NULL)
			break;
		yes = want == NULL || *want == '\0' || pd_str_iequal(v, want);
	}
	return yes;
}

static enum pd_loop_verdict rule_own(const struct pd_loop_input *in, const char *from,
				     const char **why)
{
	for (size_t i = 0; in->own_addresses != NULL && i < in->n_own; i++) {
		if (in->own_addresses[i] != NULL && addr_is_own(from, in->own_addresses[i])) {
			*why = "sender is one of our own addresses";
			return PD_LOOP_OWN;
		}
	}
	if (in->has_loop_header || has_our_loop_field(in->msg, in->loop_header_value)) {
		*why = "carries our X-Postdesk-Loop header";
		return PD_LOOP_OWN;
	}
	return PD_LOOP_OK;
}

static enum pd_loop_verdict rule_bounce(const struct pd_loop_input *in, const char **why)
{
	const struct pd_msg *m = in->msg;
	char *rp = msg_header(m, m->return_path, "Return-Path");
	bool null = rp != NULL && null_sender(rp);

	free(rp);
	if (null) {
		*why = "null sender (Return-Path <>)";
		return PD_LOOP_BOUNCE;
	}
	if (in->is_dsn || pd_loopguard_is_dsn(m)) {
		*why = "delivery status notification (multipart/report)";
		return PD_LOOP_BOUNCE;
	}
	return PD_LOOP_OK;
}

static enum pd_loop_verdict rule_auto(const struct pd_loop_input *in, const char **why)
{
	static const char *const autoresponders[] = {
		"X-Autoreply",
		"X-Autorespond",
		"X-Autogenerated",
		"X-AutoReply-From",
	};
	const struct pd_msg *m = in->msg;
	enum pd_loop_verdict v = PD_LOOP_OK;
	char *as = msg_header(m, m->auto_submitted, "Auto-Submitted"), *tok, *prec;

	if (as != NULL) {
		tok = first_token(as);
		if (strcmp(tok, "no") != 0) {
			*why = "Auto-Submitted other than no";
			v = PD_LOOP_AUTO_SUBMITTED;
		}
		free(tok);
		free(as);
		if (v != PD_LOOP_OK)
			return v;
	}
	for (size_t i = 0; i < PD_ARRAY_LEN(autoresponders); i++) {
		if (raw_has(m, autoresponders[i])) {
			*why = "autoresponder header (X-Autoreply and the like)";
			return PD_LOOP_AUTO_SUBMITTED;
		}
	}
	prec = msg_header(m, m->precedence, "Precedence");
	if (prec != NULL) {
		tok = first_token(prec);
		if (strcmp(tok, "auto_reply") == 0 || strcmp(tok, "auto-reply") == 0) {
			*why = "Precedence: auto_reply";
			v = PD_LOOP_AUTO_SUBMITTED;
		}
		free(tok);
		free(prec);
		if (v != PD_LOOP_OK)
			return v;
	}
	/* read receipts, abuse and TLS reports: machine-made, never answer */
	if (m->content_type != NULL && strcmp(m->content_type, "multipart/report") == 0) {
		*why = "machine-made report (multipart/report, e.g. a read receipt)";
		v = PD_LOOP_AUTO_SUBMITTED;
	}
	return v;
}

static enum pd_loop_verdict rule_suppress(const struct pd_loop_input *in, const char **why)
{
	/* Exchange: DR, NDR, RN, NRN only suppress receipts, not answers */
	static const char *const words[] = {"All", "AutoReply", "OOF"};
	const char *v = pd_msg_field(in->msg, "X-Auto-Response-Suppress", 0);
	bool yes = v != NULL && list_has(v, words, PD_ARRAY_LEN(words));

	if (!yes)
		return PD_LOOP_OK;
	*why = "X-Auto-Response-Suppress asks for no automatic answer";
	return PD_LOOP_SUPPRESS;
}

static enum pd_loop_verdict rule_bulk(const struct pd_loop_input *in, const char **why)
{
	const struct pd_msg *m = in->msg;
	char *prec = msg_header(m, m->precedence, "Precedence"), *lid;
	bool yes = false;

	if (prec != NULL) {
		char *tok = first_token(prec);
		yes = strcmp(tok, "bulk") == 0 || strcmp(tok, "junk") == 0 ||
		      strcmp(tok, "list") == 0;
		free(tok);
		free(prec);
	}
	if (yes) {
		*why = "Precedence: bulk, junk or list";
		return PD_LOOP_BULK;
	}
	lid = msg_header(m, m->list_id, "List-Id");
	if (lid != NULL) {
		free(lid);
		*why = "mailing list (List-Id)";
		return PD_LOOP_BULK;
	}
	if (raw_has(m, "List-Unsubscribe")) {
		*why = "mailing list or newsletter (List-Unsubscribe)";
		return PD_LOOP_BULK;
	}
	return PD_LOOP_OK;
}

static enum pd_loop_verdict decide(const struct pd_loop_input *in, const char **why)
{
	const char *from;
	enum pd_loop_verdict v;

	if (in == NULL || in->msg == NULL || in->msg->from.address == NULL ||
	    strchr(in->msg->from.address, '@') == NULL) {
		*why = "no usable sender address";
		return PD_LOOP_NO_ADDRESS;
	}
	from = in->msg->from.address;
	if ((v = rule_own(in, from, why)) != PD_LOOP_OK)
		return v;
	if ((v = rule_bounce(in, why)) != PD_LOOP_OK)
		return v;
	if (addr_is_role(from)) {
		*why = "role sender (MAILER-DAEMON, postmaster, noreply...)";
		return PD_LOOP_ROLE_SENDER;
	}
	if ((v = rule_auto(in, why)) != PD_LOOP_OK)
		return v;
	if ((v = rule_suppress(in, why)) != PD_LOOP_OK)
		return v;
	if ((v = rule_bulk(in, why)) != PD_LOOP_OK)
		return v;
	if (in->sender_suppressed) {
		*why = "sender suppressed after a permanent delivery failure";
		return PD_LOOP_SUPPRESSED;
	}
	if (in->limit_recent > 0 && in->auto_sent_recent >= in->limit_recent) {
		*why = "rate limit for automatic mail (short window) reached";
		return PD_LOOP_RATE;
	}
	if (in->limit_day > 0 && in->auto_sent_day >= in->limit_day) {
		*why = "rate limit for automatic mail (24 h) reached";
		return PD_LOOP_RATE;
	}
	*why = "no rule matched";
	return PD_LOOP_OK;
}

enum pd_loop_verdict pd_loopguard_check(const struct pd_loop_input *in, const char **reason_r)
{
	const char *why = NULL;
	enum pd_loop_verdict v = decide(in, &why);

	if (reason_r != NULL)
		*reason_r = why;
	return v;
}

const char *pd_loop_verdict_name(enum pd_loop_verdict v)
{
	switch (v) {
	case PD_LOOP_OK:
		return "ok";
	case PD_LOOP_AUTO_SUBMITTED:
		return "auto-submitted";
	case PD_LOOP_BULK:
		return "bulk";
	case PD_LOOP_SUPPRESS:
		return "suppress";
	case PD_LOOP_BOUNCE:
		return "bounce";
	case PD_LOOP_ROLE_SENDER:
		return "role-sender";
	case PD_LOOP_OWN:
		return "own";
	case PD_LOOP_RATE:
		return "rate";
	case PD_LOOP_SUPPRESSED:
		return "suppressed";
	case PD_LOOP_NO_ADDRESS:
		return "no-address";
	}
	return "unknown";
}
