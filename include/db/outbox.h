/*
 * outbox.h - the transactional outbox.
 *
 * Outbound mail is written to the outbox table inside the transaction of the
 * event that causes it (a new ticket, an agent's reply), with its Message-ID
 * fixed there: rendered (raw), or as the spec the sender renders it from
 * (render, outspec.h; a notice's HTML and files are read then from the
 * customer's stored original).  The sender claims due rows with FOR
 * UPDATE SKIP LOCKED (so several instances share the work), marking each
 * with its database session and a lease: rows of a session that has ended
 * (a crashed instance) are due again at once, the lease is the fallback.  It
 * commits the claim, sends over one SMTP connection, and records each result
 * right after: sent; retried later with exponential backoff and jitter (4xx,
 * network); or failed (5xx, too many attempts), visible in `postdesk outbox`
 * and as an event on the ticket.  No SMTP while a transaction is open.
 */
#ifndef PD_OUTBOX_H
#define PD_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "smtp.h"

struct pg_result; /* libpq's PGresult */

struct pd_outbox_mail {
	int64_t ticket;             /* 0 = none */
	const char *kind;           /* ack|notice|agent|warning|breach|escalation|survey|error */
	const char *message_id;     /* without <>, fixed now */
	const char *mail_from;      /* envelope sender addr-spec */
	const char *const *rcpts;   /* envelope recipients */
	size_t n_rcpts;
	const char *to_address;     /* main recipient, for rate limits */
	bool automatic;             /* counts against the automatic-mail limits */
	const char *subject;        /* for listings */
	const char *body;           /* for listings and `show` */
	const char *raw;            /* the rendered message, or NULL: */
	size_t raw_len;
	const char *render;         /* its render spec (JSON, outspec.h), rendered when sent */
};

/* Insert one row (and its outbound message on the ticket) in the caller's
 * open transaction. */
int pd_outbox_enqueue(struct pd_db *db, const struct pd_outbox_mail *m, struct pd_err *err);

/* The same for n mails at once: one statement, rows in the order given. */
int pd_outbox_enqueue_many(struct pd_db *db, const struct pd_outbox_mail *m, size_t n,
			   struct pd_err *err);

/*
 * Rows gathered in memory instead of written one statement each: the
 * set-based ingest sets a collector on the connection (pd_db_set_collect)
 * while it composes a batch's mails, then writes them all with
 * pd_outbox_collect_flush (one statement for the outbox rows and their
 * messages, one for the events).  pd_outbox_enqueue and compose's events
 * add to it while it is set.
 */
struct pd_outbox_collect {
	struct pd_outbox_mail *mails; /* copies, in the order queued */
	size_t n_mails, cap_mails;
	void **owned;                 /* what the copies point to */
	size_t n_owned, cap_owned;
	struct pd_outbox_event {
		int64_t ticket;
		char *kind, *key, *value; /* detail {key: value} */
	} *events;
	size_t n_events, cap_events;
	bool fresh; /* every ticket composed for is new: none has a notice yet */
	/* what compose would ask about the tickets, asked once for the batch
	 * (pd_compose_prefetch, pd_kbdb_prefetch); NULL = not asked */
	struct pg_result *info, *threads, *kb;
};
void pd_outbox_collect_init(struct pd_outbox_collect *c, bool fresh);
void pd_outbox_collect_free(struct pd_outbox_collect *c);
void pd_outbox_collect_event(struct pd_outbox_collect *c, int64_t ticket, const char *kind,
			     const char *key, const char *value);
/* Write what was gathered (deferred, in the caller's transaction) and empty it. */
int pd_outbox_collect_flush(struct pd_db *db, struct pd_outbox_collect *c, struct pd_err *err);

/* Automatic mails to an address in the last 10 minutes and 24 hours, and
 * whether the address is suppressed now. */
struct pd_auto_counts {
	int recent;
	int day;
	bool suppressed;
};

/*
 * The query behind them, for addr (a parameter such as "$1"): one row of
 * three columns, so that a caller can also ask it inside a query of its own
 * (FROM (...) AS counts) and read it with pd_outbox_auto_counts_read.
 */
#define PD_OUTBOX_AUTO_COUNTS_SQL(addr)                                                     \
	"SELECT count(*) FILTER (WHERE created_at > now() - interval '10 minutes'),"         \
	"       count(*),"                                                                   \
	"       EXISTS (SELECT 1 FROM suppressions WHERE address = lower(" addr ")"          \
	"               AND until > now())"                                                  \
	" FROM outbox WHERE automatic AND to_address = lower(" addr ")"                      \
	"   AND created_at > now() - interval '1 day'"

/* Inside or outside a transaction. */
int pd_outbox_auto_counts(struct pd_db *db, const char *addr, struct pd_auto_counts *out,
			  struct pd_err *err);
/* The three columns from col on, in row 0 of res. */
void pd_outbox_auto_counts_read(const struct pg_result *res, int col, struct pd_auto_counts *out);

struct pd_outbox_stats {
	size_t sent;
	size_t retried;
	size_t failed;
};

/*
 * Claim up to max due rows and send them over smtp; the loop repeats until
 * nothing is due or max rows were handled.  A row queued as a spec is
 * rendered first (reading the customer's stored mail it carries); one that
 * cannot be (a corrupt spec, the stored mail gone) fails for good, logged
 * and recorded as the event mail.failed like a refused mail.  Returns 0, or -1 when the
 * database failed (SMTP failures are recorded per row, not returned).
 */
int pd_outbox_flush(struct pd_db *db, struct pd_smtp *smtp, size_t max,
		    struct pd_outbox_stats *st, struct pd_err *err);

/*
 * Claim up to max due rows (queued and due; sending, with the lease run out
 * or claimed by a session that has ended): each becomes 'sending' under this
 * session with a lease, its attempts counted up.  FOR UPDATE SKIP LOCKED: two
 * sessions claiming at once never get the same row.  One autocommitted
 * statement (call it outside a transaction).  Rows: id, mail_from, recipients
 * (one a line), raw (bytea, text format; NULL when not rendered yet),
 * attempts, kind, to_address, message_id, render (the spec as JSON text, or
 * NULL).  NULL with err when the database failed; PQclear the result.
 * pd_outbox_flush claims through it.
 */
struct pg_result *pd_outbox_claim(struct pd_db *db, size_t max, struct pd_err *err);

/* Seconds before attempt number `attempt` (1 = first retry): 30 s doubling,
 * at most one hour, +-20 % jitter from `jitter` in [0, 1). */
int64_t pd_outbox_backoff(int attempt, double jitter);

/* Attempts after which a row that keeps failing temporarily is given up. */
#define PD_OUTBOX_MAX_ATTEMPTS 12

#endif
