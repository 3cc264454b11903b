/*
 * storeset.h - the set-based part of the ingest transaction (storeset.c):
 * the mails of a batch that open new tickets, written together in a few
 * statements.  Called by pd_store_batch inside its transaction.
 */
#ifndef PD_STORESET_H
#define PD_STORESET_H

#include <stdbool.h>
#include <stddef.h>

#include "classify.h"
#include "db.h"
#include "err.h"
#include "outbox.h"
#include "store.h"

/*
 * What the planner needs to know of a mail (plan.h's pd_plan_facts), as the
 * select list of one row: the per-mail lookup (store.c) gives SQL
 * parameters, the batch's (storeset.c) the columns of its unnest.  mid: the
 * Message-ID ('' when none); hash: the dedupe hash; refs: text[] of the
 * references, the last one (the direct parent) wins; tag: the subject tag's
 * ticket; sender: the From address; token: the ticket of the reply address
 * it was sent to; bounce_of: the Message-ID a DSN reports on ('' when none).
 * Columns: duplicate_of, own_ref_ticket, ref_ticket, tag_ticket,
 * tag_from_participant, token_ticket, bounce_ticket, then the sender's
 * automatic-mail counts (PD_OUTBOX_AUTO_COUNTS_SQL) from a FROM item the
 * caller names `counts`.  The references and the participant are probed one
 * by one (LIMIT 1): over a whole batch the planner would otherwise hash the
 * tables, a scan that grows with them.
 */
#define PD_STORE_FACTS_COLS(mid, hash, refs, tag, sender, token, bounce_of)                  \
	" (SELECT ticket_id FROM messages"                                                  \
	"   WHERE coalesce(message_id, '') = " mid " AND content_hash = " hash " LIMIT 1),"   \
	" (SELECT x.ticket_id FROM unnest(" refs ") WITH ORDINALITY AS r(mid, pos)"         \
	"   CROSS JOIN LATERAL ("                                                          \
	"     (SELECT ticket_id FROM outbox WHERE message_id = r.mid AND ticket_id IS NOT NULL" \
	"      LIMIT 1)"                                                                   \
	"     UNION ALL"                                                                   \
	"     (SELECT ticket_id FROM messages WHERE message_id = r.mid AND direction = 'out'" \
	"      ORDER BY id DESC LIMIT 1)"                                                  \
	"     LIMIT 1) x"                                                                  \
	"   ORDER BY r.pos DESC LIMIT 1),"                                                 \
	" (SELECT x.ticket_id FROM unnest(" refs ") WITH ORDINALITY AS r(mid, pos)"         \
	"   CROSS JOIN LATERAL (SELECT ticket_id FROM messages WHERE message_id = r.mid"   \
	"                       ORDER BY id DESC LIMIT 1) x"                               \
	"   ORDER BY r.pos DESC LIMIT 1),"                                                 \
	" (SELECT id FROM tickets WHERE id = " tag "),"                                     \
	" coalesce((SELECT true FROM participants"                                         \
	"            WHERE ticket_id = " tag " AND address = lower(" sender ") LIMIT 1), false)," \
	" (SELECT id FROM tickets WHERE id = " token "),"                                   \
	" coalesce((SELECT ticket_id FROM outbox WHERE message_id = nullif(" bounce_of ", '')" \
	"           LIMIT 1),"                                                             \
	"          (SELECT ticket_id FROM messages WHERE message_id = nullif(" bounce_of ", '')" \
	"             AND direction = 'out' LIMIT 1), 0),"                                  \
	" counts.*"

/* Which of a customer's To/Cc addresses a (a column) become the ticket's
 * participants: an address at all, and not one of exclude (a text[]: the
 * support address and the sender).  Our plus-addresses are left out before. */
#define PD_STORE_CC_WHERE(a, exclude) a " LIKE '%_@_%' AND lower(" a ") <> ALL (" exclude ")"

/*
 * What the planner needs of the ticket t (a FROM item of tickets, locked by
 * the caller) a mail from sender threads to (pd_plan_ticket_facts): status,
 * seconds since it was resolved (else updated), whether a survey was
 * queued, whether the sender is a participant, whether nobody has it.
 */
#define PD_STORE_TICKET_FACTS_COLS(t, sender)                                               \
	" " t ".status,"                                                                    \
	" extract(epoch FROM now() - coalesce(" t ".resolved_at, " t ".updated_at))::bigint," \
	" coalesce((SELECT true FROM outbox WHERE ticket_id = " t ".id AND kind = 'survey'"  \
	"           LIMIT 1), false),"                                                      \
	" coalesce((SELECT true FROM participants"                                         \
	"            WHERE ticket_id = " t ".id AND address = lower(" sender ") LIMIT 1), false)," \
	" " t ".assignee IS NULL"

/*
 * Gather the facts of items[0..n) in one statement, plan each mail, and
 * write every independent new ticket (and note every duplicate) set-based.
 * done[i] is set for each mail handled here (its action, ticket and rule
 * filled in); the others are left to the per-mail path, which must run after
 * this, in the same transaction.  wave (1, 2, ...) counts the runs over what
 * a batch's earlier runs left; it only shows in the debug line.  Returns 0,
 * or -1 with err when the transaction must be rolled back (database down,
 * timeout).
 */
int pd_storeset_run(struct pd_db *db, const struct pd_store_ctx *ctx,
		    struct pd_ingest_item *items, size_t n, unsigned wave, bool *done,
		    struct pd_err *err);

/*
 * The detail of a new ticket's ticket.classified event as JSON text (newly
 * allocated), for both paths: {"priority", "type", "queue", "line", "plan"
 * (null when none), "reasons": [{"what", "source", "rule", "matched",
 * "field", "value", "decided"}...]}.  Built here and sent as text: building
 * it in the statement cost the server about as much as the event's insert.
 */
char *pd_store_classified_json(const struct pd_classification *c, const char *plan);

#endif
