/*
 * plan.h - what ingest does with one mail (pure: facts in, plan out).
 *
 * The store gathers facts from the database, the planner decides every
 * product rule - duplicate, threading, agent or customer (with the agent's
 * verification), bounces, commands, reopening or a follow-up ticket after
 * reopen_days, survey ratings, mail no person wrote, which mails to queue -
 * and the store executes the plan.  The planner calls no I/O, no clock, no
 * random source and no environment: the same facts always give the same
 * plan, and tests/unit/test_plan.c checks it as a table.
 *
 * Use:
 *   pd_plan_probe(cfg, msg, &probe);      what to ask the database
 *   ... facts.* from the database ...
 *   pd_plan_mail(&in, &plan)             PD_PLAN_NEED_TICKET: fill
 *                                         facts.ticket about plan.ticket and
 *                                         call again; else execute the plan
 *   pd_plan_free(&plan); pd_plan_probe_free(&probe);
 */
#ifndef PD_PLAN_H
#define PD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "commands.h"
#include "config.h"
#include "msg.h"

/* --------------------------------------------------------------- probe */

/* What a mail asks the database about, read from the mail alone. */
struct pd_plan_probe {
	int64_t tag;          /* ticket named by the subject tag [TAG #N], 0 = none */
	bool is_dsn;          /* a delivery status notification */
	char *bounce_of;      /* the Message-ID a DSN reports on (ours?), NULL = none */
	char *bounce_rcpt;    /* its failed recipient, NULL = unknown */
	bool bounce_permanent;
	bool automatic;       /* mail no person wrote (loop guard: autoresponder, list, own) */
};

void pd_plan_probe(const struct pd_config *cfg, const struct pd_msg *msg,
		   struct pd_plan_probe *out);
void pd_plan_probe_free(struct pd_plan_probe *p);

/* --------------------------------------------------------------- facts */

/* The ticket the mail threads to, as the database has it (locked). */
struct pd_plan_ticket_facts {
	bool known;             /* filled in for the ticket the planner asked about */
	bool exists;
	char status[16];        /* "new", "open", "pending", "resolved", "closed" */
	int64_t resolved_age;   /* seconds since it was resolved (else last updated) */
	bool surveyed;          /* a satisfaction survey was queued for it */
	bool from_participant;  /* the sender is its requester or a Cc'd participant */
	bool unassigned;        /* nobody has it */
};

struct pd_plan_facts {
	int64_t duplicate_of;          /* ticket of the identical stored mail, 0 = none */
	int64_t own_ref_ticket;        /* ticket of one of our outbound Message-IDs in refs */
	int64_t ref_ticket;            /* ticket of any stored Message-ID in refs */
	int64_t tag_ticket;            /* the subject tag's ticket when it exists */
	bool tag_from_participant;     /* the sender is a participant of tag_ticket */
	const int64_t *reply_tickets;  /* tickets of the valid reply addresses it was sent to */
	size_t n_reply_tickets;
	int64_t token_ticket;          /* reply_tickets[0] when that ticket exists */
	int64_t bounce_ticket;         /* ticket of our mail the DSN reports on, 0 = none */
	struct pd_plan_ticket_facts ticket;
};

struct pd_plan_input {
	const struct pd_config *cfg;
	const char *mailbox;           /* section name, for the classifier (may be NULL) */
	const struct pd_msg *msg;
	const struct pd_plan_probe *probe;
	const struct pd_plan_facts *facts;
};

/* ---------------------------------------------------------------- plan */

enum pd_plan_kind {
	PD_PLAN_NEED_TICKET = 0, /* fill facts.ticket about plan.ticket, plan again */
	PD_PLAN_DUPLICATE,       /* stored already: nothing to do (plan.ticket) */
	PD_PLAN_APPEND,          /* onto ticket plan.ticket */
	PD_PLAN_NEW_TICKET,      /* open a ticket (plan.fresh), then the message on it */
};

/* Mail to queue, rendered by compose.c. */
enum pd_plan_mail {
	PD_MAIL_NEW_TICKET,    /* acknowledgement to the customer + notice to the agents */
	PD_MAIL_FOLLOW_UP,     /* the customer wrote again: notice to the agents */
	PD_MAIL_SURVEY,        /* the ticket was resolved: ask for a rating */
	PD_MAIL_AGENT_REPLY,   /* relay the agent's text (plan.answer) to the customer */
	PD_MAIL_COMMAND_ERROR, /* tell the agent what was wrong (step.value) */
	PD_MAIL_HELD_UNVERIFIED, /* tell the sender why nothing was relayed (step.value) */
	PD_MAIL_HELD_NOT_AGENT,
	PD_MAIL_HELD_EMPTY,
};

enum pd_plan_step_kind {
	PD_STEP_LINK,           /* the new ticket is a follow-up of ticket `number` */
	PD_STEP_BOUNCE,         /* event mail.bounced; value = recipient, number = permanent
				 * (suppression for suppress_days) */
	PD_STEP_RATING,         /* rating `number` from the survey's answer */
	PD_STEP_AGENT_AUTOMATIC,/* event agent.automatic about the stored message */
	PD_STEP_HELD,           /* event `field` (agent.unverified/agent.unknown), reason value,
				 * actor the verdict's name (for the log) */
	PD_STEP_SET_FIELD,      /* field := value, recorded as by actor */
	PD_STEP_FIRST_RESPONSE, /* first_response_at, and the SLA clocks after it */
	PD_STEP_MAIL,           /* queue mail `mail` */
};

struct pd_plan_step {
	enum pd_plan_step_kind kind;
	const char *field;      /* SET_FIELD: the field; HELD: the event kind */
	const char *value;      /* points into the plan, the mail or static text */
	const char *actor;      /* SET_FIELD: who the change is recorded as */
	int64_t number;
	enum pd_plan_mail mail; /* MAIL */
};

/* A new ticket's opening. */
struct pd_plan_fresh {
	char *subject;               /* cleaned and cut; owned */
	const char *language;        /* static or the configuration's */
	const char *plan;            /* customer plan name, NULL = none (configuration's) */
	struct pd_classification cls;
};

struct pd_plan {
	enum pd_plan_kind kind;
	int64_t ticket;         /* APPEND: the ticket; NEED_TICKET: the one to ask about */
	const char *rule;       /* "new", "message-id", ..., "duplicate", "bounce", "follow-up" */
	const char *msg_kind;   /* messages.kind: "customer", "agent", "note", "system" */
	const char *event;      /* "ticket.created" or "message.threaded" */
	int64_t foreign_tag;    /* a stranger's tag naming this ticket, 0 = none */
	char *flag;             /* why the ticket is flagged for a human, NULL = not; owned */
	bool add_cc;            /* To/Cc become participants */
	bool has_fresh;
	struct pd_plan_fresh fresh;
	bool sender_counts;     /* NEW_TICKET mail: the sender's automatic-mail counts apply */
	const char *answer;     /* the agent's text to relay (AGENT_REPLY), in cmds */
	char *lower_from;       /* the sender, lower case (assignee); owned */
	bool has_cmds;
	struct pd_cmd_result cmds; /* the agent's commands and own text; owned */
	size_t n_steps;         /* steps[0..n_steps), in the order to execute them */
	struct pd_plan_step *steps;
};

/* Plan in->msg.  Always fills *out (free with pd_plan_free); returns
 * out->kind. */
enum pd_plan_kind pd_plan_mail(const struct pd_plan_input *in, struct pd_plan *out);
void pd_plan_free(struct pd_plan *p);

const char *pd_plan_kind_name(enum pd_plan_kind k);
const char *pd_plan_mail_name(enum pd_plan_mail m);

/* How much of a mail's subject and body the decisions that read its text see
 * (classifier, language, a new ticket's subject): the rest never changes
 * them, so their cost does not grow with what a sender put in a mail. */
#define PD_PLAN_SCAN_SUBJECT 1024
#define PD_PLAN_SCAN_BODY (8 * 1024)

/* -------------------------------------------------------------- batches */

/*
 * The set-based store (storeset.c) plans a whole batch on facts gathered for
 * all its mails at once.  That holds for a mail only when no earlier mail of
 * the batch changes what it would be; these decide which mails depend on
 * which, and which plans the set writes.
 */
struct pd_plan_item {
	const struct pd_msg *msg;
	const struct pd_plan_probe *probe;
	const struct pd_plan_facts *facts;
	const struct pd_plan *plan; /* NULL: not planned */
};

enum pd_plan_dep {
	PD_DEP_NONE = 0,
	PD_DEP_FOLLOWS, /* the same mail (Message-ID or content), or a reply to it */
	PD_DEP_TICKET,  /* the earlier mail may act on a ticket this one's facts name */
	PD_DEP_BOUNCE,  /* the earlier mail is a bounce about this one's sender */
};
/* How y depends on x, which comes before it in the batch.  A shared sender
 * alone is no dependency: the store counts the earlier mails' automatic
 * mails to that sender itself. */
enum pd_plan_dep pd_plan_depends(const struct pd_plan_item *x, const struct pd_plan_item *y);
/* Whether x may act on ticket t (0: never), as far as its facts and plan tell. */
bool pd_plan_may_touch(const struct pd_plan_item *x, int64_t t);

enum pd_plan_set {
	PD_SET_NO = 0,     /* the per-mail path carries it out */
	PD_SET_DUPLICATE,  /* nothing to write */
	PD_SET_NEW,        /* a new ticket whose only step is its acknowledgement and notice */
	PD_SET_FOLLOW_UP,  /* a customer's follow-up whose only step is the agents' notice */
	PD_SET_ASK_TICKET, /* NEED_TICKET: plan again with the ticket's facts, then ask again */
};
/* What the set may write of plan p. */
enum pd_plan_set pd_plan_set_kind(const struct pd_plan *p);
/* Whether mail x, left to the per-mail path, may open a ticket there
 * (follows: it depends on an earlier mail as PD_DEP_FOLLOWS). */
bool pd_plan_may_open(const struct pd_plan_item *x, bool follows);

#endif
