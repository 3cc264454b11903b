/*
 * store.h - the ingest transaction: a batch of fetched mails becomes
 * tickets, messages, attachments and events in ONE transaction with a
 * savepoint per mail, together with the mailbox checkpoint.  Only after it
 * returns 0 (COMMIT done) may the caller mark the mails in IMAP.
 */
#ifndef PD_STORE_H
#define PD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "msg.h"

enum pd_ingest_action {
	PD_INGEST_PENDING = 0, /* not handled yet */
	PD_INGEST_NEW_TICKET,  /* a new ticket was opened */
	PD_INGEST_APPENDED,    /* threaded into an existing ticket */
	PD_INGEST_DUPLICATE,   /* already stored: nothing new */
	PD_INGEST_FAILED,      /* could not be stored; leave it on the server (retry) */
};

struct pd_ingest_item {
	/* in */
	uint32_t uid;
	struct pd_msg *msg;      /* parsed (borrowed); msg->raw / raw_len are the bytes */
	/* out */
	enum pd_ingest_action action;
	int64_t ticket;          /* ticket number, 0 when none */
	const char *rule;        /* threading rule name (static string) */
	int flagged;             /* stored raw, ticket flagged for a human */
	bool timed_out;          /* the batch failed on statement_timeout in this mail */
};

struct pd_store_ctx {
	const struct pd_config *cfg;
	const char *mailbox;     /* mailbox section name */
	const char *queue;       /* queue for new tickets */
	uint32_t uidvalidity;
	/* NULL: store each mail parsed; else keep each one raw on a flagged
	 * ticket, for this reason (a mail whose parsed form cannot be stored
	 * within statement_timeout) */
	const char *raw_reason;
};

/*
 * Store items[0..n) in one transaction.  Each mail has its own savepoint: a
 * mail that fails to store is rolled back alone (action FAILED, logged) and
 * the others commit.  The mailbox checkpoint moves to the highest UID whose
 * mail is stored; a failed mail stays unmarked on the server, where the
 * pending search (unmarked mail below the checkpoint) finds it again.
 * Returns -1 (nothing
 * committed, every item FAILED) when the transaction as a whole fails:
 * database down, serialisation failure - err says which (TEMP).  When the
 * cause was a statement cancelled by statement_timeout (err->code
 * PD_DB_TIMEOUT), the mail whose statement it was has timed_out set, so the
 * caller can store the batch again in pieces around it.
 */
int pd_store_batch(struct pd_db *db, const struct pd_store_ctx *ctx, struct pd_ingest_item *items,
		   size_t n, struct pd_err *err);

/* Mailbox checkpoint: returns 1 and the values, 0 when the mailbox has none yet. */
int pd_store_get_mailbox(struct pd_db *db, const char *mailbox, uint32_t *uidvalidity_r,
			 uint32_t *last_uid_r, struct pd_err *err);
/* Record a (new) UIDVALIDITY; resets last_uid to 0 so the folder is rescanned. */
int pd_store_set_uidvalidity(struct pd_db *db, const char *mailbox, uint32_t uidvalidity,
			     struct pd_err *err);

const char *pd_ingest_action_name(enum pd_ingest_action a);

/*
 * Parse the stored original of message number `index` (1-based) of ticket
 * again and replace its parsed fields and attachments; when no message of the
 * ticket is left unparsed, the ticket's flag is lifted.  One transaction,
 * recorded as a "message.reprocessed" event by actor.  Returns 1, 0 when there
 * is no such message, -1 on error.  *parse_error_r (NULL when it parsed) is
 * newly allocated.
 */
int pd_store_reprocess(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
		       int64_t index, const char *actor, char **parse_error_r,
		       struct pd_err *err);

/* Gauges for /metrics: outbox rows queued, sending, failed; tickets by
 * status (new open pending resolved closed) and priority (critical high
 * normal low). */
int pd_store_gauges(struct pd_db *db, uint64_t outbox_r[3], uint64_t tickets_r[5][4],
		    struct pd_err *err);

/* Record how a mailbox is doing: error NULL = a successful poll now, else the
 * error (shown by `postdesk mailboxes`).  Best effort for the caller. */
int pd_store_mailbox_status(struct pd_db *db, const char *mailbox, const char *error,
			    struct pd_err *err);

/*
 * Set one field of a ticket (status, priority, queue, assignee, line, type)
 * and record an event "FIELD.changed" with the old and new value and the actor.
 * Status changes keep resolved_at/closed_at right; a change of status,
 * priority or line brings the SLA clocks up to date (slascan.h) in the same
 * transaction (its own one when the caller has none).  The value must already be
 * valid for the field.  Returns 1, 0 when there is no such ticket, -1 on error.
 */
int pd_store_set_field(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
		       const char *field, const char *value, const char *actor, struct pd_err *err);

#endif
