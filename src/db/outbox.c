/*
 * outbox.c - the transactional outbox: enqueue inside the caller's
 * transaction, then claim, send and record.  See outbox.h.
 *
 * A claimed row names the PostgreSQL session that claimed it (backend pid
 * and backend start, sql/0006): when the claiming process dies its session
 * ends with it, and the next claim by anyone takes the row at once.  Rows of
 * a live session are never taken, except by that session itself: sending is
 * sequential, so a row of our own still 'sending' when we claim again was
 * abandoned by a flush that stopped on a database error.  A lease stays as
 * the fallback for a session that outlives its process on a dead connection.
 *
 * Each result is recorded by the first statement after the SMTP reply, so
 * the one window no client can close (the server said 250, the process died
 * before 'sent' was committed: the mail goes out again after a restart) is
 * one round trip to PostgreSQL wide.  Its Message-ID was fixed when it was
 * enqueued, so such a second copy is recognisable as the same mail.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "mime.h"
#include "outbox.h"
#include "outspec.h"
#include "util.h"

#define LEASE "5 minutes" /* far above the SMTP timeout of one message */
#define CLAIM_ROWS 10     /* rows per claim: little for others to wait on */

/* text[] literal of n strings. */
static char *array_literal(const char *const *v, size_t n)
{
	return pd_db_text_array(n, pd_db_strv_get, v);
}

/* The kind of the outbound message row for an outbox kind. */
#define MESSAGE_KIND(k)                                                                    \
	"CASE " k " WHEN 'ack' THEN 'ack' WHEN 'agent' THEN 'agent' WHEN 'survey' THEN 'survey'" \
	" WHEN 'error' THEN 'system' ELSE 'notice' END"

static const char SQL_ENQUEUE[] =
    "WITH o AS ("
    "  INSERT INTO outbox (ticket_id, kind, message_id, mail_from, rcpt_to, subject, body, raw,"
    "                      to_address, automatic, render)"
    "  VALUES (nullif($1::bigint, 0), $2, $3, $4, $5::text[], $6, '', $8, lower($9),"
    "          $10::boolean, $11)"
    "  RETURNING id),"
    " m AS ("
    "  INSERT INTO messages (ticket_id, direction, kind, message_id, from_address, to_addrs,"
    "                        subject, body_text, raw_size)"
    "  SELECT $1::bigint, 'out', " MESSAGE_KIND("$2") ", $3, $4,"
    "    (SELECT coalesce(jsonb_agg(jsonb_build_object('name', '', 'address', a)), '[]')"
    "       FROM unnest($5::text[]) AS a),"
    "    $6, $7, coalesce(octet_length($8), 0)" /* a spec's: recorded when sent */
    "  WHERE $1::bigint <> 0)"
    "SELECT id FROM o";

static void *own(struct pd_outbox_collect *c, void *p)
{
	if (c->n_owned == c->cap_owned) {
		c->cap_owned = c->cap_owned ? c->cap_owned * 2 : 256;
		c->owned = pd_xreallocarray(c->owned, c->cap_owned, sizeof(*c->owned));
	}
	c->owned[c->n_owned++] = p;
	return p;
}

static const char *own_str(struct pd_outbox_collect *c, const char *s)
{
	return own(c, pd_xstrdup(s ? s : ""));
}

static void collect_mail(struct pd_outbox_collect *c, const struct pd_outbox_mail *m)
{
	struct pd_outbox_mail *d;

	if (c->n_mails == c->cap_mails) {
		c->cap_mails = c->cap_mails ? c->cap_mails * 2 : 64;
		c->mails = pd_xreallocarray(c->mails, c->cap_mails, sizeof(*c->mails));
	}
	d = &c->mails[c->n_mails++];
	*d = *m;
	d->kind = own_str(c, m->kind);
	d->message_id = own_str(c, m->message_id);
	d->mail_from = own_str(c, m->mail_from);
	const char **rcpts = own(c, pd_xcalloc(m->n_rcpts + 1, sizeof(*rcpts)));
	for (size_t i = 0; i < m->n_rcpts; i++)
		rcpts[i] = own_str(c, m->rcpts[i]);
	d->rcpts = rcpts;
	d->to_address = own_str(c, m->to_address);
	d->subject = own_str(c, m->subject);
	d->body = own_str(c, m->body);
	if (m->raw != NULL) {
		char *raw = own(c, pd_xmalloc(m->raw_len + 1));
		memcpy(raw, m->raw, m->raw_len);
		raw[m->raw_len] = '\0';
		d->raw = raw;
	}
	d->render = m->render != NULL ? own_str(c, m->render) : NULL;
}

void pd_outbox_collect_init(struct pd_outbox_collect *c, bool fresh)
{
	memset(c, 0, sizeof(*c));
	c->fresh = fresh;
}

static void collect_clear(struct pd_outbox_collect *c)
{
	for (size_t i = 0; i < c->n_owned; i++)
		free(c->owned[i]);
	for (size_t i = 0; i < c->n_events; i++) {
		free(c->events[i].kind);
		free(c->events[i].key);
		free(c->events[i].value);
	}
	c->n_mails = c->n_events = c->n_owned = 0;
}

void pd_outbox_collect_free(struct pd_outbox_collect *c)
{
	collect_clear(c);
	PQclear(c->info);
	PQclear(c->threads);
	PQclear(c->kb);
	free(c->mails);
	free(c->events);
	free(c->owned);
	memset(c, 0, sizeof(*c));
}

void pd_outbox_collect_event(struct pd_outbox_collect *c, int64_t ticket, const char *kind,
			     const char *key, const char *value)
{
	if (c->n_events == c->cap_events) {
		c->cap_events = c->cap_events ? c->cap_events * 2 : 64;
		c->events = pd_xreallocarray(c->events, c->cap_events, sizeof(*c->events));
	}
	c->events[c->n_events++] = (struct pd_outbox_event){
	    ticket, pd_xstrdup(kind), pd_xstrdup(key), pd_xstrdup(value ? value : "")};
}

int pd_outbox_collect_flush(struct pd_db *db, struct pd_outbox_collect *c, struct pd_err *err)
{
	int r = pd_outbox_enqueue_many(db, c->mails, c->n_mails, err);

	if (r == 0 && c->n_events > 0) {
		struct pd_db_array a[4];
		const char *v[4];
		int len[4], fmt[4] = {1, 1, 1, 1};

		pd_db_array_init(&a[0], PD_OID_INT8);
		for (int k = 1; k < 4; k++)
			pd_db_array_init(&a[k], PD_OID_TEXT);
		for (size_t i = 0; i < c->n_events; i++) {
			pd_db_array_add_int8(&a[0], c->events[i].ticket);
			pd_db_array_add_str(&a[1], c->events[i].kind);
			pd_db_array_add_str(&a[2], c->events[i].key);
			pd_db_array_add_str(&a[3], c->events[i].value);
		}
		for (int k = 0; k < 4; k++)
			v[k] = pd_db_array_value(&a[k], &len[k]);
		r = pd_db_defer_bin(db, "pd_outbox_collect_events",
				    "INSERT INTO events (ticket_id, actor, kind, detail)"
				    " SELECT t, 'system', k, jsonb_build_object(f, v)"
				    "   FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])"
				    "        WITH ORDINALITY AS u(t, k, f, v, i) ORDER BY i",
				    4, v, len, fmt, err);
		for (int k = 0; k < 4; k++)
			pd_db_array_free(&a[k]);
	}
	collect_clear(c);
	return r;
}

int pd_outbox_enqueue(struct pd_db *db, const struct pd_outbox_mail *m, struct pd_err *err)
{
	struct pd_outbox_collect *c = pd_db_collect(db);
	if (c != NULL) {
		collect_mail(c, m);
		return 0;
	}
	char ticket[24];
	char *rcpts = array_literal(m->rcpts, m->n_rcpts);
	const char *v[11] = {ticket,     m->kind,    m->message_id, m->mail_from,
			     rcpts,      m->subject, m->body,       m->raw,
			     m->to_address, m->automatic ? "true" : "false", m->render};
	int len[11] = {0};
	int fmt[11] = {0};
	int r;

	snprintf(ticket, sizeof(ticket), "%" PRId64, m->ticket);
	len[7] = (int)m->raw_len;
	fmt[7] = 1;
	/* no result needed: inside the caller's transaction it travels with the next query */
	r = pd_db_defer_bin(db, "pd_outbox_enqueue", SQL_ENQUEUE, 11, v, len, fmt, err);
	free(rcpts);
	return r;
}

/* Each parameter an array of one column (the recipients: one text[] literal
 * per mail); one INSERT for the outbox rows, one for their messages. */
static const char SQL_ENQUEUE_MANY[] =
    "WITH i AS ("
    "  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],"
    "                       $6::text[], $7::text[], $8::bytea[], $9::text[], $10::boolean[],"
    "                       $11::text[])"
    "   WITH ORDINALITY AS i(ticket, kind, message_id, mail_from, rcpts, subject, body, raw,"
    "                        to_address, automatic, render, ord)),"
    " o AS ("
    "  INSERT INTO outbox (ticket_id, kind, message_id, mail_from, rcpt_to, subject, body, raw,"
    "                      to_address, automatic, render)"
    "  SELECT nullif(ticket, 0), kind, message_id, mail_from, rcpts::text[], subject, '', raw,"
    "         lower(to_address), automatic, render FROM i ORDER BY ord)"
    "INSERT INTO messages (ticket_id, direction, kind, message_id, from_address, to_addrs,"
    "                      subject, body_text, raw_size)"
    " SELECT ticket, 'out', " MESSAGE_KIND("kind") ", message_id, mail_from,"
    "   (SELECT coalesce(jsonb_agg(jsonb_build_object('name', '', 'address', a)), '[]')"
    "      FROM unnest(rcpts::text[]) AS a),"
    "   subject, body, coalesce(octet_length(raw), 0)"
    "  FROM i WHERE ticket <> 0 ORDER BY ord";

int pd_outbox_enqueue_many(struct pd_db *db, const struct pd_outbox_mail *m, size_t n,
			   struct pd_err *err)
{
	enum { N_ARRAYS = 10 }; /* all but $10, the booleans */
	struct pd_db_array a[N_ARRAYS];
	static const unsigned oid[N_ARRAYS] = {PD_OID_INT8, PD_OID_TEXT, PD_OID_TEXT, PD_OID_TEXT,
					       PD_OID_TEXT, PD_OID_TEXT, PD_OID_TEXT, PD_OID_BYTEA,
					       PD_OID_TEXT, PD_OID_TEXT};
	static const int param[N_ARRAYS] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10};
	const char *v[11];
	int len[11], fmt[11], r;
	struct pd_buf automatic;

	if (n == 0)
		return 0;
	for (int k = 0; k < N_ARRAYS; k++)
		pd_db_array_init(&a[k], oid[k]);
	pd_buf_init(&automatic);
	pd_buf_append_char(&automatic, '{');
	for (size_t i = 0; i < n; i++) {
		char *rcpts = array_literal(m[i].rcpts, m[i].n_rcpts);

		pd_db_array_add_int8(&a[0], m[i].ticket);
		pd_db_array_add_str(&a[1], m[i].kind);
		pd_db_array_add_str(&a[2], m[i].message_id);
		pd_db_array_add_str(&a[3], m[i].mail_from);
		pd_db_array_add_str(&a[4], rcpts);
		pd_db_array_add_str(&a[5], m[i].subject);
		pd_db_array_add_str(&a[6], m[i].body);
		pd_db_array_add(&a[7], m[i].raw, m[i].raw_len); /* NULL: SQL NULL */
		pd_db_array_add_str(&a[8], m[i].to_address);
		pd_db_array_add(&a[9], m[i].render, m[i].render ? strlen(m[i].render) : 0);
		pd_buf_append_str(&automatic, i ? "," : "");
		pd_buf_append_char(&automatic, m[i].automatic ? 't' : 'f');
		free(rcpts);
	}
	pd_buf_append_char(&automatic, '}');
	for (int k = 0; k < N_ARRAYS; k++) {
		v[param[k]] = pd_db_array_value(&a[k], &len[param[k]]);
		fmt[param[k]] = 1;
	}
	v[9] = automatic.data;
	len[9] = fmt[9] = 0;
	/* no result needed: inside the caller's transaction it travels with the next query */
	r = pd_db_defer_bin(db, "pd_outbox_enqueue_many", SQL_ENQUEUE_MANY, 11, v, len, fmt, err);
	for (int k = 0; k < N_ARRAYS; k++)
		pd_db_array_free(&a[k]);
	pd_buf_free(&automatic);
	return r;
}

void pd_outbox_auto_counts_read(const PGresult *res, int col, struct pd_auto_counts *out)
{
	out->recent = atoi(PQgetvalue(res, 0, col));
	out->day = atoi(PQgetvalue(res, 0, col + 1));
	out->suppressed = PQgetvalue(res, 0, col + 2)[0] == 't';
}

int pd_outbox_auto_counts(struct pd_db *db, const char *addr, struct pd_auto_counts *out,
			  struct pd_err *err)
{
	const char *v[1] = {addr};
	PGresult *res = pd_db_query(db, "pd_outbox_counts", PD_OUTBOX_AUTO_COUNTS_SQL("$1"), 1, v,
				    err);

	if (res == NULL)
		return -1;
	pd_outbox_auto_counts_read(res, 0, out);
	PQclear(res);
	return 0;
}

int64_t pd_outbox_backoff(int attempt, double jitter)
{
	int64_t secs = 30;

	for (int i = 1; i < attempt && secs < 3600; i++)
		secs *= 2;
	if (secs > 3600)
		secs = 3600;
	/* +-20 % so that rows failing together do not retry together */
	return secs - secs / 5 + (int64_t)(jitter * (double)(secs / 5 * 2));
}

/*
 * Due rows: queued and due; or sending, with the lease run out, or claimed
 * by a session that is gone (no backend with that pid, or one with that pid
 * but another start: the pid was reused), or claimed under our own pid (by
 * this very session, or by a dead one whose pid we now have).  A backend
 * whose start we may not see (another role without pg_read_all_stats) counts
 * as alive.
 */
static const char SQL_CLAIM[] =
    "WITH me AS ("
    "  SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()),"
    " c AS ("
    "  SELECT o.id FROM outbox o"
    "   WHERE (o.status = 'queued' AND o.next_attempt_at <= now())"
    "      OR (o.status = 'sending'"
    "          AND (o.lease_until < now()"
    "               OR o.claimed_pid = pg_backend_pid()"
    "               OR (o.claimed_pid IS NOT NULL"
    "                   AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
    "                                    WHERE a.pid = o.claimed_pid"
    "                                      AND (a.backend_start IS NULL"
    "                                           OR a.backend_start IS NOT DISTINCT FROM"
    "                                              o.claimed_backend_start)))))"
    "   ORDER BY o.next_attempt_at, o.id LIMIT $1::int"
    "   FOR UPDATE SKIP LOCKED)"
    "UPDATE outbox o SET status = 'sending', lease_until = now() + interval '" LEASE "',"
    "                    attempts = o.attempts + 1,"
    "                    claimed_pid = pg_backend_pid(),"
    "                    claimed_backend_start = (SELECT backend_start FROM me)"
    "  FROM c WHERE o.id = c.id"
    " RETURNING o.id, o.mail_from, array_to_string(o.rcpt_to, chr(10)), o.raw, o.attempts,"
    "           o.kind, coalesce(o.to_address, ''), o.message_id, o.render,"
    /* the text a spec on a ticket leaves to its outbound message (outspec.h) */
    "           CASE WHEN o.raw IS NULL AND o.render IS NOT NULL AND o.ticket_id IS NOT NULL"
    "                THEN (SELECT m.body_text FROM messages m"
    "                       WHERE m.message_id = o.message_id AND m.direction = 'out'"
    "                         AND m.ticket_id = o.ticket_id ORDER BY m.id LIMIT 1) END";

struct pg_result *pd_outbox_claim(struct pd_db *db, size_t max, struct pd_err *err)
{
	char limit[24];
	const char *v[1] = {limit};

	snprintf(limit, sizeof(limit), "%zu", max);
	/* its own (autocommitted) statement: no SMTP inside a transaction */
	return pd_db_query(db, "pd_outbox_claim", SQL_CLAIM, 1, v, err);
}

/* Sent: the row ($1), when it has the Message-ID $2 ("": any). */
static const char SQL_SENT[] =
    "UPDATE outbox SET status = 'sent', sent_at = now(), lease_until = NULL, last_error = NULL"
    " WHERE id = $1::bigint AND ($2::text = '' OR message_id = $2::text)";

/*
 * The sizes of the mails a claim's round sent, recorded in the ticket's
 * outbound messages in one statement after the round: a mail rendered by
 * the sender has no size before (0, shown as unknown).  Only a listing's
 * figure: a crash before it leaves those sizes unknown, nothing else.
 */
struct sent_sizes {
	struct pd_db_array mid, size;
};

static void sizes_init(struct sent_sizes *z)
{
	pd_db_array_init(&z->mid, PD_OID_TEXT);
	pd_db_array_init(&z->size, PD_OID_INT8);
}

static void sizes_free(struct sent_sizes *z)
{
	pd_db_array_free(&z->mid);
	pd_db_array_free(&z->size);
}

static int sizes_flush(struct pd_db *db, struct sent_sizes *z, struct pd_err *err)
{
	int r = 0;

	if (z->mid.n > 0) {
		const char *v[2];
		int len[2], fmt[2] = {1, 1};
		v[0] = pd_db_array_value(&z->mid, &len[0]);
		v[1] = pd_db_array_value(&z->size, &len[1]);
		PGresult *res = pd_db_query_bin(
		    db, "pd_outbox_sizes",
		    /* = ANY: an index probe per mail, where a join with the
		     * unnested arrays was planned as a scan of every message */
		    "UPDATE messages SET raw_size = ($2::bigint[])[array_position($1::text[], message_id)]"
		    " WHERE message_id = ANY($1::text[]) AND direction = 'out' AND raw_size = 0",
		    2, v, len, fmt, err);
		if (res == NULL)
			r = -1;
		PQclear(res);
	}
	sizes_free(z);
	sizes_init(z);
	return r;
}

/*
 * A mail the server accepted whose 'sent' could not be recorded because the
 * database went away: recorded first thing on the next flush of this
 * process, instead of being claimed and sent a second time.  A flush stops
 * at the first database error, so there is at most one.  The Message-ID
 * makes sure it is the same row (a reload may point us at another database).
 */
static struct {
	char id[24];
	char message_id[512];
} unrecorded;

static void remember_unrecorded(const char *id, const char *message_id)
{
	if (strlen(id) >= sizeof(unrecorded.id) ||
	    strlen(message_id) >= sizeof(unrecorded.message_id))
		return; /* cannot happen with our ids; then it is sent again */
	strcpy(unrecorded.id, id);
	strcpy(unrecorded.message_id, message_id);
}

static int record_unrecorded(struct pd_db *db, struct pd_outbox_stats *st, struct pd_err *err)
{
	const char *v[2] = {unrecorded.id, unrecorded.message_id};
	PGresult *res;

	if (unrecorded.id[0] == '\0')
		return 0;
	res = pd_db_query(db, NULL, SQL_SENT, 2, v, err);
	if (res == NULL)
		return -1;
	if (strcmp(PQcmdTuples(res), "1") == 0) {
		pd_log_notice("outbox=%s action=sent: recorded now that the database is back",
			      unrecorded.id);
		st->sent++;
	}
	PQclear(res);
	unrecorded.id[0] = '\0';
	return 0;
}

/*
 * Worth another attempt: temporary failures, and failures of the SMTP
 * setup rather than of this message (an untrusted certificate, STARTTLS not
 * offered: no reply code), which the operator fixes without losing the mail.
 */
static bool retryable(const struct pd_err *e)
{
	return e->cls == PD_ERR_TEMP ||
	       (e->src == PD_SRC_SMTP && e->code == 0 && e->cls != PD_ERR_NONE);
}

/* Record the outcome of one row; its own transaction.  A sent mail rendered
 * here (size > 0: the bytes sent) joins z; a mail queued with its bytes got
 * its size then. */
static int record(struct pd_db *db, const char *id, const char *message_id, int attempts,
		  size_t size, const struct pd_err *send_err, struct sent_sizes *z,
		  struct pd_outbox_stats *st, struct pd_err *err)
{
	PGresult *res;

	if (send_err == NULL) {
		const char *v[2] = {id, ""};
		/* unnamed: one round trip even the first time on a connection */
		res = pd_db_query(db, NULL, SQL_SENT, 2, v, err);
		if (res != NULL) {
			st->sent++;
			if (size > 0) {
				pd_db_array_add_str(&z->mid, message_id);
				pd_db_array_add_int8(&z->size, (int64_t)size);
			}
		}
	} else if (retryable(send_err) && attempts < PD_OUTBOX_MAX_ATTEMPTS) {
		char delay[24];
		const char *v[3] = {id, delay, send_err->msg};
		snprintf(delay, sizeof(delay), "%" PRId64,
			 pd_outbox_backoff(attempts, (double)random() / ((double)RAND_MAX + 1)));
		res = pd_db_query(db, "pd_outbox_retry",
				  "UPDATE outbox SET status = 'queued', lease_until = NULL,"
				  " next_attempt_at = now() + make_interval(secs => $2::int),"
				  " last_error = $3 WHERE id = $1::bigint",
				  3, v, err);
		if (res != NULL)
			st->retried++;
	} else {
		const char *v[2] = {id, send_err->msg};
		res = pd_db_query(
		    db, "pd_outbox_failed",
		    "WITH u AS (UPDATE outbox SET status = 'failed', lease_until = NULL,"
		    "             last_error = $2 WHERE id = $1::bigint"
		    "           RETURNING ticket_id, kind, to_address, attempts)"
		    "INSERT INTO events (ticket_id, actor, kind, detail)"
		    " SELECT ticket_id, 'outbox', 'mail.failed',"
		    "   jsonb_build_object('outbox_id', $1::bigint, 'kind', kind, 'to', to_address,"
		    "                      'attempts', attempts, 'error', $2::text)"
		    " FROM u WHERE ticket_id IS NOT NULL",
		    2, v, err);
		if (res != NULL)
			st->failed++;
	}
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/*
 * Render row id from its spec (JSON text) into out: the customer's stored
 * mail it carries is read and parsed here; stored_body (NULL: none) is the
 * text of the ticket's outbound message, for a spec that left its body to
 * it.  Returns 0; -1 with err PERM when the row cannot be rendered (what is
 * wrong, naming the row), or TEMP when the database failed reading the
 * stored mail.
 */
static int render_row(struct pd_db *db, const char *id, const char *json,
		      const char *stored_body, struct pd_buf *out, struct pd_err *err)
{
	struct pd_outspec spec;
	struct pd_msg *msg = NULL;
	PGresult *res = NULL;
	char *note = NULL;
	int rc = -1;

	if (pd_outspec_parse(json, &spec, err) < 0) {
		char *why = pd_xstrdup(err->msg);
		pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
			   "outbox row %s cannot be rendered: %s (a damaged row: the mail is not "
			   "sent; `postdesk outbox` lists it)",
			   id, why);
		free(why);
		goto out;
	}
	if (spec.mail.body == NULL) {
		if (stored_body == NULL) {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				   "outbox row %s cannot be rendered: its text is kept as the "
				   "ticket's outbound message %s, which is not stored (deleted "
				   "since it was queued?): the mail is not sent",
				   id, spec.mail.message_id);
			goto out;
		}
		spec.mail.body = stored_body;
	}
	if (pd_outspec_needs_message(&spec)) {
		char message[24];
		const char *v[1] = {message};
		int len[1] = {0}, fmt[1] = {0};
		struct pd_err qe;

		snprintf(message, sizeof(message), "%" PRId64, spec.carry.message);
		pd_err_clear(&qe);
		res = pd_db_query_bin_result(db, "pd_outbox_carried",
					     "SELECT raw FROM message_raw WHERE message_id = $1::bigint",
					     1, v, len, fmt, &qe);
		if (res == NULL) {
			pd_err_set(err, PD_ERR_TEMP, PD_SRC_DB, 0,
				   "outbox row %s: reading the customer's mail it carries (message "
				   "%s): %s",
				   id, message, qe.msg);
			goto out;
		}
		if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
				   "outbox row %s cannot be rendered: the customer's mail it carries "
				   "(message %s) is no longer stored in message_raw (deleted since it "
				   "was queued?): the mail is not sent",
				   id, message);
			goto out;
		}
		struct pd_mime_opts mopts = {0, 0, 0};
		msg = pd_mime_parse(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), &mopts);
		if (msg->parse_error != NULL)
			pd_log_info("outbox=%s: the customer's mail it carries (message %s) parses "
				    "with an error (%s): it carries what could be read",
				    id, message, msg->parse_error);
	}
	if (pd_outspec_render_mail(&spec.mail, &spec.carry, msg, out, &note, err) < 0) {
		char *why = pd_xstrdup(err->msg);
		pd_err_set(err, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
			   "outbox row %s cannot be rendered: %s (the mail is not sent)", id, why);
		free(why);
		goto out;
	}
	if (note != NULL)
		pd_log_info("outbox=%s: the notice carries the customer's text only (%s)", id, note);
	rc = 0;
out:
	free(note);
	if (msg != NULL)
		pd_msg_free(msg);
	PQclear(res);
	pd_outspec_free(&spec);
	return rc;
}

int pd_outbox_flush(struct pd_db *db, struct pd_smtp *smtp, size_t max,
		    struct pd_outbox_stats *st, struct pd_err *err)
{
	size_t handled = 0;
	struct sent_sizes sizes;

	if (record_unrecorded(db, st, err) < 0)
		return -1;
	sizes_init(&sizes);
	while (handled < max) {
		size_t want = max - handled < CLAIM_ROWS ? max - handled : CLAIM_ROWS;
		PGresult *res;
		int n;

		res = pd_outbox_claim(db, want, err);
		if (res == NULL) {
			sizes_free(&sizes);
			return -1;
		}
		n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			const char *id = PQgetvalue(res, i, 0);
			const char *from = PQgetvalue(res, i, 1);
			int attempts = atoi(PQgetvalue(res, i, 4));
			char *rcpt_text = pd_xstrdup(PQgetvalue(res, i, 2));
			const char **rcpts = pd_xcalloc(strlen(rcpt_text) / 2 + 2, sizeof(*rcpts));
			size_t n_rcpts = 0;
			size_t raw_len = 0;
			unsigned char *raw = NULL;
			struct pd_buf rendered;
			const char *mail = NULL;
			struct pd_err serr;
			int r;

			for (char *save = NULL, *t = strtok_r(rcpt_text, "\n", &save);
			     t != NULL; t = strtok_r(NULL, "\n", &save))
				rcpts[n_rcpts++] = t;
			pd_err_clear(&serr);
			pd_buf_init(&rendered);
			if (!PQgetisnull(res, i, 3)) {
				/* rendered when it was queued */
				raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 3),
						      &raw_len);
				mail = (const char *)raw;
			} else if (!PQgetisnull(res, i, 8)) {
				const char *stored = PQgetisnull(res, i, 9) ? NULL
									  : PQgetvalue(res, i, 9);
				if (render_row(db, id, PQgetvalue(res, i, 8), stored, &rendered,
					       &serr) == 0) {
					mail = rendered.data;
					raw_len = rendered.len;
				}
			}
			if (serr.cls != PD_ERR_NONE)
				r = -1;
			else if (mail == NULL || n_rcpts == 0)
				r = pd_err_set(&serr, PD_ERR_PERM, PD_SRC_OUTBOX, 0,
					       "outbox row %s has no message or no recipient", id);
			else
				r = pd_smtp_send(smtp, from, rcpts, n_rcpts, mail, raw_len, &serr);
			/* the result first: nothing between the server's reply and the
			 * statement that records it */
			int rec = record(db, id, PQgetvalue(res, i, 7), attempts,
					 raw == NULL ? raw_len : 0, r == 0 ? NULL : &serr, &sizes,
					 st, err);
			if (r == 0 && rec < 0) {
				remember_unrecorded(id, PQgetvalue(res, i, 7));
				pd_log_warning("outbox=%s: accepted by the server but not recorded as "
					       "sent (%s); recording it once the database is back",
					       id, err->msg);
			}
			PQfreemem(raw);
			pd_buf_free(&rendered);
			if (r == 0)
				pd_log_info("outbox=%s kind=%s to=%s action=sent", id,
					    PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
			else
				pd_log(serr.cls == PD_ERR_TEMP ? PD_LOG_WARNING : PD_LOG_ERR,
				       "outbox=%s kind=%s to=%s attempt=%d action=%s: %s", id,
				       PQgetvalue(res, i, 5), PQgetvalue(res, i, 6), attempts,
				       retryable(&serr) && attempts < PD_OUTBOX_MAX_ATTEMPTS
					   ? "retry"
					   : "failed",
				       serr.msg);
			free(rcpt_text);
			free(rcpts);
			if (rec < 0) {
				PQclear(res);
				sizes_free(&sizes);
				return -1;
			}
		}
		PQclear(res);
		if (sizes_flush(db, &sizes, err) < 0) {
			sizes_free(&sizes);
			return -1;
		}
		handled += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	sizes_free(&sizes);
	return 0;
}
