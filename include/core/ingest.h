/*
 * ingest.h - one ingest round for one mailbox: the pipeline of DESIGN.md
 * (fetch -> parse -> thread/dedupe -> store in one transaction -> THEN mark
 * in IMAP), in bounded batches so memory does not grow with the mailbox.
 */
#ifndef PD_INGEST_H
#define PD_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "imap.h"

/* Asked between batches: true = stop after the batch just committed (the
 * rest stays on the server for the next start). */
struct pd_ingest_ctl {
	bool (*should_stop)(void *arg);
	void *arg;
};

struct pd_ingest_stats {
	size_t fetched;
	size_t new_tickets;
	size_t appended;
	size_t duplicates;
	size_t flagged;
	size_t failed;
};

/*
 * SELECT the mailbox's folder and reconcile UIDVALIDITY with the stored
 * checkpoint: a change is logged and the folder rescanned from UID 1
 * (dedupe absorbs what was stored before).  Returns the UIDVALIDITY.
 */
int pd_ingest_open(struct pd_imap *im, struct pd_db *db, const struct pd_mailbox_cfg *mb,
		   uint32_t *uidvalidity_r, struct pd_err *err);

/*
 * Process everything pending in the selected folder: batches of at most
 * cfg->batch_size mails and cfg->batch_bytes bytes; each batch is stored in
 * one transaction and only then marked processed.  Stats are added to *st.
 * Returns -1 on the first failing step (IMAP or database; err says which);
 * what was committed before stays committed and marked.  ctl may be NULL.
 */
int pd_ingest_pending(struct pd_imap *im, struct pd_db *db, const struct pd_config *cfg,
		      const struct pd_mailbox_cfg *mb, uint32_t uidvalidity,
		      const struct pd_ingest_ctl *ctl, struct pd_ingest_stats *st,
		      struct pd_err *err);

#endif
