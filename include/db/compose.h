/*
 * compose.h - the mails a ticket event causes, rendered from the templates
 * and put in the outbox inside the caller's (ingest) transaction.
 */
#ifndef PD_COMPOSE_H
#define PD_COMPOSE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "classify.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "outbox.h"
#include "msg.h"

/*
 * A new ticket from a customer's mail: an acknowledgement to the requester in
 * lang (unless the loop guard refuses: the reason is recorded as an event)
 * and a notice to agents.notify carrying the customer's text, Reply-To the
 * support address.  Errors: PERM for a missing or broken template (the mail
 * is still stored; the caller decides), TEMP for the database.
 * counts: the customer's automatic mails as pd_outbox_auto_counts gives them,
 * when the caller has them already; NULL = ask the database.  message: msg's
 * row in messages (its original in message_raw, written in the same
 * transaction), which the sender reads the notice's HTML and files from; 0 =
 * not stored, the notice is rendered at once.
 */
int pd_compose_new_ticket(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			  const char *subject, const char *lang,
			  const struct pd_classification *cls, const struct pd_msg *msg,
			  int64_t message, const struct pd_auto_counts *counts, struct pd_err *err);

/*
 * An agent's answer on a ticket, relayed to the requester and the Cc'd
 * participants from the support address ("Alice via Example Support"),
 * threaded under the customer's last message; body is the agent's text with
 * commands already stripped.  Skipped (returns 0, *relayed_r false) when the
 * agent wrote to the requester directly.
 */
int pd_compose_agent_reply(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			   const struct pd_msg *msg, const char *body, bool *relayed_r,
			   struct pd_err *err);

/* Tell the agent that their commands were not understood (nothing was
 * relayed or applied): reason says what was wrong. */
int pd_compose_command_error(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			     const struct pd_msg *msg, const char *reason, struct pd_err *err);

/* A customer wrote again on a ticket: the agents get the text as a notice
 * they can answer with Reply. */
/*
 * Ask once, for the whole batch, what composing for tickets[0..n) needs of
 * them (each ticket's subject, requester, status..., and its notices'
 * Message-IDs): kept in c, where the compose calls made while c is the
 * connection's collector find them.  Returns 0, or -1 (err).
 */
struct pd_outbox_collect;
int pd_compose_prefetch(struct pd_db *db, struct pd_outbox_collect *c, const int64_t *tickets,
			size_t n, struct pd_err *err);

/* message: msg's row in messages, as for pd_compose_new_ticket. */
int pd_compose_follow_up(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			 const struct pd_msg *msg, int64_t message, struct pd_err *err);

/* On resolve: ask the requester to rate the help with a digit 1-5 (skipped
 * for a suppressed or rate-limited address, recorded as an event). */
int pd_compose_survey(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
		      struct pd_err *err);

/* An SLA notice (see slascan.h). */
struct pd_sla_notice_info {
	int64_t ticket;
	const char *kind;  /* "warning", "breach" or "escalation" */
	const char *clock; /* "first_response" or "resolution" */
	time_t due;        /* the due time it is about */
	int64_t late;      /* seconds past due (negative: still to go) */
	int line;          /* the line told (escalation: the new line) */
	int from_line;     /* escalation: the line it came from */
};

/*
 * Warning, breach and escalation notices, count of them, each about its
 * ticket to its line's notify list (agents.notify when the line has none):
 * the ticket number and subject, requester, priority and the reasons for it,
 * how late, and the customer's last message; Reply-To the support address.
 * The set at once: one query reads what they say, one statement queues them.
 * A notice nobody is to be told of is skipped; one that cannot be rendered
 * (a template problem) is logged and not sent.  Returns 0, or -1 with err
 * (the database).
 */
int pd_compose_sla_notices(struct pd_db *db, const struct pd_config *cfg,
			   const struct pd_sla_notice_info *n, size_t count, struct pd_err *err);

/* Why an agent's mail (or a mail to a reply address) was not relayed. */
enum pd_compose_held {
	PD_HELD_UNVERIFIED, /* an agent's From without proof that the agent wrote it */
	PD_HELD_NOT_AGENT,  /* to a reply address from someone not in agents.addresses */
	PD_HELD_EMPTY,      /* an agent's answer with no text of its own */
};

/*
 * Tell the sender of msg (its From address: the caller makes sure it is an
 * agent's, or that it wrote to the ticket's reply address) why nothing was
 * relayed, and how to answer: an X-Postdesk-Kind: error mail outside the
 * thread msg came in.  detail: the reason in English (PD_HELD_UNVERIFIED).
 * Counted as automatic mail; never sent in answer to automatic mail or over
 * the automatic-mail limits (event agent.error_suppressed then).
 */
int pd_compose_agent_held(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			  const struct pd_msg *msg, enum pd_compose_held why, const char *detail,
			  struct pd_err *err);

#endif
