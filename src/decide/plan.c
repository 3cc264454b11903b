/*
 * plan.c - what ingest does with one mail (pure; see plan.h).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agentid.h"
#include "answer.h"
#include "language.h"
#include "loopguard.h"
#include "plan.h"
#include "thread.h"
#include "util.h"

/* ---------------------------------------------------------------- probe */

/* Mail no person wrote: autoresponders, lists, bounces, our own. */
static bool automatic_mail(const struct pd_config *cfg, const struct pd_msg *msg)
{
	const char *own[1] = {cfg->support_address};
	struct pd_loop_input in = {
	    .msg = msg,
	    .own_addresses = own,
	    .n_own = 1,
	    .loop_header_value = cfg->message_id_domain,
	};
	enum pd_loop_verdict v = pd_loopguard_check(&in, NULL);

	return v != PD_LOOP_OK && v != PD_LOOP_NO_ADDRESS;
}

void pd_plan_probe(const struct pd_config *cfg, const struct pd_msg *msg,
		   struct pd_plan_probe *out)
{
	memset(out, 0, sizeof(*out));
	pd_thread_find_tag(msg->subject, cfg->subject_tag, &out->tag);
	out->automatic = automatic_mail(cfg, msg);
	if (!pd_loopguard_is_dsn(msg))
		return;
	out->is_dsn = true;
	if (pd_loopguard_dsn(msg, &out->bounce_of, &out->bounce_rcpt,
			     &out->bounce_permanent) != 1 ||
	    out->bounce_of == NULL) {
		free(out->bounce_of);
		free(out->bounce_rcpt);
		out->bounce_of = NULL;
		out->bounce_rcpt = NULL;
		out->bounce_permanent = false;
	}
}

void pd_plan_probe_free(struct pd_plan_probe *p)
{
	if (p == NULL)
		return;
	free(p->bounce_of);
	free(p->bounce_rcpt);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------- helpers */

const char *pd_plan_kind_name(enum pd_plan_kind k)
{
	switch (k) {
	case PD_PLAN_NEED_TICKET:
		return "need-ticket";
	case PD_PLAN_DUPLICATE:
		return "duplicate";
	case PD_PLAN_APPEND:
		return "append";
	case PD_PLAN_NEW_TICKET:
		return "new-ticket";
	}
	return "unknown";
}

const char *pd_plan_mail_name(enum pd_plan_mail m)
{
	switch (m) {
	case PD_MAIL_NEW_TICKET:
		return "new-ticket";
	case PD_MAIL_FOLLOW_UP:
		return "follow-up";
	case PD_MAIL_SURVEY:
		return "survey";
	case PD_MAIL_AGENT_REPLY:
		return "agent-reply";
	case PD_MAIL_COMMAND_ERROR:
		return "command-error";
	case PD_MAIL_HELD_UNVERIFIED:
		return "held-unverified";
	case PD_MAIL_HELD_NOT_AGENT:
		return "held-not-agent";
	case PD_MAIL_HELD_EMPTY:
		return "held-empty";
	}
	return "unknown";
}

static struct pd_plan_step *step(struct pd_plan *p, enum pd_plan_step_kind kind)
{
	struct pd_plan_step *s;

	p->steps = pd_xreallocarray(p->steps, p->n_steps + 1, sizeof(*p->steps));
	s = &p->steps[p->n_steps++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	return s;
}

static void mail(struct pd_plan *p, enum pd_plan_mail m, const char *value)
{
	struct pd_plan_step *s = step(p, PD_STEP_MAIL);

	s->mail = m;
	s->value = value;
}

static void set_field(struct pd_plan *p, const char *field, const char *value, const char *actor)
{
	struct pd_plan_step *s = step(p, PD_STEP_SET_FIELD);

	s->field = field;
	s->value = value;
	s->actor = actor;
}

/* Mail to the support address's "+note" plus-address is an internal note. */
static bool to_note_address(const struct pd_config *cfg, const struct pd_msg *msg)
{
	const char *at = strrchr(cfg->support_address, '@');
	const struct pd_addrlist *lists[2] = {&msg->to, &msg->cc};
	char *want;
	bool found = false;

	if (at == NULL)
		return false;
	want = pd_xasprintf("%.*s+note%s", (int)(at - cfg->support_address), cfg->support_address,
			    at);
	for (size_t l = 0; l < 2 && !found; l++)
		for (size_t i = 0; i < lists[l]->n && !found; i++)
			found = pd_str_iequal(lists[l]->v[i].address, want);
	free(want);
	return found;
}

/* The answer to our survey: a lone digit 1-5 opening the reply, else 0. */
static int survey_rating(const char *body)
{
	const unsigned char *p = (const unsigned char *)(body ? body : "");

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p < '1' || *p > '5')
		return 0;
	/* "5", "5.", "5 - thanks"; not "50" or "5x" */
	if (p[1] != '\0' && p[1] != '\n' && p[1] != '\r' && p[1] != ' ' && p[1] != '.' &&
	    p[1] != '!' && p[1] != ')')
		return 0;
	return *p - '0';
}

/* Nothing but white space. */
static bool blank(const char *s)
{
	if (s == NULL)
		return true;
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	return *s == '\0';
}

/* A copy of s cut to at most max bytes at a character, or NULL when s fits. */
static char *cut_copy(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n <= max)
		return NULL;
	return pd_xstrndup(s, pd_utf8_cut(s, n, max)); /* not inside a character */
}

/* A new ticket's opening: subject, language and classification read the
 * first PD_PLAN_SCAN_* bytes of the mail's text (the message keeps all). */
static void fresh_ticket(const struct pd_plan_input *in, struct pd_plan *p)
{
	const struct pd_config *cfg = in->cfg;
	struct pd_msg scan = *in->msg;
	char *subject = cut_copy(in->msg->subject, PD_PLAN_SCAN_SUBJECT);
	char *body = cut_copy(in->msg->body_text, PD_PLAN_SCAN_BODY);
	const char *lang;
	const struct pd_plan_cfg *plan;

	if (subject)
		scan.subject = subject;
	if (body)
		scan.body_text = body;
	p->has_fresh = true;
	p->fresh.subject = pd_thread_clean_subject(scan.subject, cfg->subject_tag);
	lang = pd_language_detect(scan.subject, scan.body_text);
	p->fresh.language = lang ? lang : cfg->default_language ? cfg->default_language : "en";
	pd_classify(&cfg->classify, in->mailbox, &scan, &p->fresh.cls);
	plan = pd_config_plan_for(cfg, in->msg->from.address);
	p->fresh.plan = plan ? plan->name : NULL;
	free(subject);
	free(body);
}

/* ------------------------------------------------------------- an agent */

/* The steps of a verified agent's mail on its ticket: commands, a survey on
 * resolve, then (unless it is a note) the relay, the first response, the
 * assignment and the wait for the customer. */
static void agent_steps(const struct pd_plan_input *in, struct pd_plan *p, bool note)
{
	const struct pd_config *cfg = in->cfg;
	const struct pd_msg *msg = in->msg;
	const struct pd_cmd_result *cr = &p->cmds;
	const char *from = msg->from.address;
	bool status_set = false, resolved = false, assigned = false;

	if (cr->error != NULL) {
		if (cfg->smtp.enabled)
			mail(p, PD_MAIL_COMMAND_ERROR, cr->error);
		return;
	}
	for (size_t i = 0; i < cr->n; i++) {
		const struct pd_cmd *c = &cr->v[i];
		const char *field = NULL, *value = c->arg;

		switch (c->kind) {
		case PD_CMD_CLOSE:
			field = "status", value = "closed";
			break;
		case PD_CMD_RESOLVE:
			field = "status", value = "resolved";
			resolved = true;
			break;
		case PD_CMD_PENDING:
			field = "status", value = "pending";
			break;
		case PD_CMD_PRIORITY:
			field = "priority";
			break;
		case PD_CMD_ASSIGN:
			field = "assignee";
			assigned = true;
			break;
		case PD_CMD_LINE:
			field = "line";
			break;
		case PD_CMD_TYPE:
			field = "type";
			break;
		case PD_CMD_NOTE:
			continue;
		}
		if (strcmp(field, "status") == 0)
			status_set = true;
		set_field(p, field, value, from);
	}
	if (resolved && cfg->smtp.enabled)
		mail(p, PD_MAIL_SURVEY, NULL);
	if (note)
		return;
	/* cr->body is the agent's own words, without the quoted history (our
	 * internal notice must never reach the customer) and the commands */
	if (blank(cr->body)) {
		/* commands alone are no answer: nothing to relay, no response
		 * recorded; no commands either: the agent sent nothing of their own */
		if (cr->n == 0 && cfg->smtp.enabled)
			mail(p, PD_MAIL_HELD_EMPTY, NULL);
		return;
	}
	p->answer = cr->body;
	if (cfg->smtp.enabled)
		mail(p, PD_MAIL_AGENT_REPLY, NULL);
	/* the first answer to the customer, relayed or written directly */
	step(p, PD_STEP_FIRST_RESPONSE);
	/* who answers an unassigned ticket takes it (an #assign said otherwise) */
	if (in->facts->ticket.unassigned && !assigned) {
		p->lower_from = pd_xstrdup(from);
		for (char *c = p->lower_from; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		set_field(p, "assignee", p->lower_from, from);
	}
	/* waiting for the customer now, unless the agent said otherwise */
	if (!status_set)
		set_field(p, "status", "pending", from);
}

/* ---------------------------------------------------------------- plan */

enum pd_plan_kind pd_plan_mail(const struct pd_plan_input *in, struct pd_plan *p)
{
	const struct pd_config *cfg = in->cfg;
	const struct pd_msg *msg = in->msg;
	const struct pd_plan_facts *f = in->facts;
	const struct pd_plan_probe *pr = in->probe;
	const bool is_agent = pd_config_is_agent(cfg, msg->from.address);
	struct pd_thread_decision d;
	struct pd_agent_decision ad = {PD_AGENT_NONE, PD_AGENT_WHY_NONE};

	memset(p, 0, sizeof(*p));
	p->msg_kind = is_agent ? "agent" : "customer";
	p->event = "message.threaded";
	if (f->duplicate_of > 0) {
		p->kind = PD_PLAN_DUPLICATE;
		p->ticket = f->duplicate_of;
		p->rule = "duplicate";
		return p->kind;
	}
	if (msg->oversized || msg->parse_failed)
		p->flag = pd_xasprintf("%s: %s", msg->oversized ? "too large to parse" : "not parsed",
				       msg->parse_error ? msg->parse_error : "unknown reason");

	const struct pd_thread_facts tf = {
	    .own_ref_ticket = f->own_ref_ticket,
	    .ref_ticket = f->ref_ticket,
	    .tag_ticket = f->tag_ticket,
	    .tag_sender_allowed = f->tag_from_participant || (f->tag_ticket > 0 && is_agent),
	    .token_ticket = f->token_ticket,
	};
	pd_thread_decide(&tf, &d);
	p->rule = pd_thread_rule_name(d.rule);
	p->foreign_tag = d.foreign_tag;

	if (f->bounce_ticket > 0) {
		/* a bounce of our own mail: on its ticket, never a new one, no reopening */
		p->kind = PD_PLAN_APPEND;
		p->ticket = f->bounce_ticket;
		p->rule = "bounce";
		p->msg_kind = "system";
		struct pd_plan_step *s = step(p, PD_STEP_BOUNCE);
		s->value = pr->bounce_rcpt ? pr->bounce_rcpt : "";
		s->number = pr->bounce_permanent;
		return p->kind;
	}
	if (d.rule == PD_THREAD_NEW) {
		p->kind = PD_PLAN_NEW_TICKET;
		p->event = "ticket.created";
		fresh_ticket(in, p);
		goto opened;
	}
	if (!f->ticket.known) {
		int64_t t = d.ticket;
		char *flag = p->flag;
		p->flag = NULL;
		free(flag);
		p->kind = PD_PLAN_NEED_TICKET;
		p->ticket = t;
		return p->kind;
	}

	p->kind = PD_PLAN_APPEND;
	p->ticket = d.ticket;
	const struct pd_agent_facts af = {
	    .from_agent = is_agent,
	    .from_participant = !is_agent && f->n_reply_tickets > 0 && f->ticket.from_participant,
	    .from_address = msg->from.address,
	    .ticket = d.ticket,
	    .token_tickets = f->reply_tickets,
	    .n_tokens = f->n_reply_tickets,
	    .authres = msg->authentication_results,
	    .trusted = (const char *const *)cfg->trusted_authserv_ids.v,
	    .n_trusted = cfg->trusted_authserv_ids.n,
	};
	pd_agent_decide(&af, &ad);
	if (ad.verdict == PD_AGENT_VERIFIED && pr->automatic) {
		/* the agent's autoresponder answering a notice (it quotes the
		 * notice): kept, never relayed, nothing applied */
		p->msg_kind = "note";
		step(p, PD_STEP_AGENT_AUTOMATIC);
	} else if (ad.verdict == PD_AGENT_UNVERIFIED || ad.verdict == PD_AGENT_UNKNOWN) {
		/* held: kept on the ticket as a note, nothing relayed or applied,
		 * the sender told why (never in answer to automatic mail) */
		const bool unknown = ad.verdict == PD_AGENT_UNKNOWN;
		struct pd_plan_step *s;
		p->msg_kind = "note";
		s = step(p, PD_STEP_HELD);
		s->field = unknown ? "agent.unknown" : "agent.unverified";
		s->value = pd_agent_why_text(ad.why);
		s->actor = pd_agent_verdict_name(ad.verdict);
		if (cfg->smtp.enabled && !pr->automatic)
			mail(p, unknown ? PD_MAIL_HELD_NOT_AGENT : PD_MAIL_HELD_UNVERIFIED,
			     pd_agent_why_text(ad.why));
	} else if (is_agent) {
		/* the agent's own text first (without the history their client
		 * quoted and our notice, which must never reach the customer),
		 * then its commands: they work above or below the quote */
		struct pd_answer own;
		bool note;
		if (pd_answer_split(msg->body_text, &own) < 0)
			pd_commands_parse("", &p->cmds); /* out of memory: nothing */
		else {
			pd_commands_parse(own.text, &p->cmds);
			pd_answer_free(&own);
		}
		p->has_cmds = true;
		note = p->cmds.note || to_note_address(cfg, msg);
		if (note || p->cmds.error != NULL)
			p->msg_kind = "note"; /* kept on the ticket, never relayed */
		else if (p->cmds.n == 0 && blank(p->cmds.body))
			p->msg_kind = "note"; /* no answer at all: kept, the agent is told */
		agent_steps(in, p, note);
	} else {
		const struct pd_plan_ticket_facts *t = &f->ticket;
		const bool resolved = strcmp(t->status, "resolved") == 0;
		const bool stale = t->exists && (strcmp(t->status, "closed") == 0 ||
						 (resolved && t->resolved_age >
								  (int64_t)cfg->reopen_days * 86400));
		int rating = 0;
		if (t->surveyed && resolved && (rating = survey_rating(msg->body_text)) > 0) {
			/* the survey's answer: a rating, not a reason to reopen */
			step(p, PD_STEP_RATING)->number = rating;
		} else if (stale) {
			/* too late to reopen: a new ticket that points to the old one */
			p->kind = PD_PLAN_NEW_TICKET;
			p->event = "ticket.created";
			p->rule = "follow-up";
			step(p, PD_STEP_LINK)->number = d.ticket;
			p->ticket = 0;
			fresh_ticket(in, p);
			goto opened;
		} else if (!pr->automatic) {
			/* the customer wrote back: the ticket needs us again (an
			 * autoresponder's answer is kept on the ticket, nothing more) */
			if (strcmp(t->status, "pending") == 0 || resolved)
				set_field(p, "status", "open", msg->from.address);
			if (cfg->smtp.enabled)
				mail(p, PD_MAIL_FOLLOW_UP, NULL);
		}
	}
	p->add_cc = strcmp(p->msg_kind, "customer") == 0;
	return p->kind;

opened:
	p->add_cc = strcmp(p->msg_kind, "customer") == 0;
	if (p->add_cc && cfg->smtp.enabled) {
		mail(p, PD_MAIL_NEW_TICKET, NULL);
		p->sender_counts = msg->from.address[0] != '\0';
	}
	return p->kind;
}

void pd_plan_free(struct pd_plan *p)
{
	if (p == NULL)
		return;
	free(p->flag);
	free(p->fresh.subject);
	if (p->has_fresh)
		pd_classification_free(&p->fresh.cls);
	if (p->has_cmds)
		pd_commands_free(&p->cmds);
	free(p->lower_from);
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

/* -------------------------------------------------------------- batches */

static bool same_addr(const char *a, const char *b)
{
	return a != NULL && b != NULL && a[0] != '\0' && strcasecmp(a, b) == 0;
}

static bool same_id(const char *a, const char *b)
{
	return a != NULL && b != NULL && a[0] != '\0' && strcmp(a, b) == 0;
}

bool pd_plan_may_touch(const struct pd_plan_item *x, int64_t t)
{
	const struct pd_plan_facts *f = x->facts;

	if (t == 0)
		return false;
	if (f->duplicate_of == t || f->own_ref_ticket == t || f->ref_ticket == t ||
	    f->tag_ticket == t || x->probe->tag == t || f->token_ticket == t ||
	    f->bounce_ticket == t || (x->plan != NULL && x->plan->ticket == t))
		return true;
	for (size_t i = 0; i < f->n_reply_tickets; i++)
		if (f->reply_tickets[i] == t)
			return true;
	return false;
}

enum pd_plan_dep pd_plan_depends(const struct pd_plan_item *x, const struct pd_plan_item *y)
{
	const struct pd_msg *a = x->msg, *b = y->msg;
	const struct pd_plan_facts *f = y->facts;

	if (memcmp(a->content_hash, b->content_hash, sizeof(a->content_hash)) == 0 ||
	    same_id(a->message_id, b->message_id))
		return PD_DEP_FOLLOWS;
	for (size_t i = 0; i < b->n_references; i++)
		if (same_id(a->message_id, b->references[i]))
			return PD_DEP_FOLLOWS;
	if (same_addr(x->probe->bounce_rcpt, b->from.address))
		return PD_DEP_BOUNCE;
	if (pd_plan_may_touch(x, f->duplicate_of) || pd_plan_may_touch(x, f->own_ref_ticket) ||
	    pd_plan_may_touch(x, f->ref_ticket) || pd_plan_may_touch(x, f->tag_ticket) ||
	    pd_plan_may_touch(x, f->token_ticket) || pd_plan_may_touch(x, f->bounce_ticket) ||
	    (y->plan != NULL && pd_plan_may_touch(x, y->plan->ticket)))
		return PD_DEP_TICKET;
	return PD_DEP_NONE;
}

static bool only_mail(const struct pd_plan *p, enum pd_plan_mail m)
{
	for (size_t k = 0; k < p->n_steps; k++)
		if (p->steps[k].kind != PD_STEP_MAIL || p->steps[k].mail != m)
			return false;
	return true;
}

enum pd_plan_set pd_plan_set_kind(const struct pd_plan *p)
{
	switch (p->kind) {
	case PD_PLAN_DUPLICATE:
		return PD_SET_DUPLICATE;
	case PD_PLAN_NEED_TICKET:
		return PD_SET_ASK_TICKET;
	case PD_PLAN_NEW_TICKET:
		return p->flag == NULL && p->foreign_tag == 0 && only_mail(p, PD_MAIL_NEW_TICKET)
			   ? PD_SET_NEW
			   : PD_SET_NO;
	case PD_PLAN_APPEND:
		return p->flag == NULL && p->foreign_tag == 0 &&
				       strcmp(p->msg_kind, "customer") == 0 &&
				       only_mail(p, PD_MAIL_FOLLOW_UP)
			   ? PD_SET_FOLLOW_UP
			   : PD_SET_NO;
	}
	return PD_SET_NO;
}

bool pd_plan_may_open(const struct pd_plan_item *x, bool follows)
{
	if (x->plan != NULL)
		return x->plan->kind == PD_PLAN_NEW_TICKET;
	if (follows)
		return false; /* a duplicate of or a reply to an earlier mail */
	if (x->facts->token_ticket > 0 || (x->probe->is_dsn && x->facts->bounce_ticket > 0))
		return false; /* answers into its ticket, a bounce onto its ticket */
	return true;
}
