/*
 * storeset.h - the set-based part of the ingest transaction (storeset.c):
 * the mails of a batch that open new tickets, written together in a few
 * statements.  Called by pd_store_batch inside its transaction.
 */
#ifndef PD_STORESET_H
#define PD_STORESET_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "err.h"
#include "store.h"

/*
 * Gather the facts of items[0..n) in one statement, plan each mail, and
 * write every independent new ticket (and note every duplicate) set-based.
 * done[i] is set for each mail handled here (its action, ticket and rule
 * filled in); the others are left to the per-mail path, which must run after
 * this, in the same transaction.  Returns 0, or -1 with err when the
 * transaction must be rolled back (database down, timeout).
 */
int pd_storeset_run(struct pd_db *db, const struct pd_store_ctx *ctx,
		    struct pd_ingest_item *items, size_t n, bool *done, struct pd_err *err);

#endif
