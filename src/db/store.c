/*
 * store.c - the ingest transaction.
 *
 * One batch of fetched mails = one transaction.  First the set-based part
 * (storeset.c) writes the batch's new tickets and customers' follow-ups that
 * depend on no other mail of the batch, a few statements for all of them;
 * then every other mail goes the per-mail way here, with a savepoint per mail
 * so one bad mail cannot spoil the others.  The store gathers facts and
 * executes plans; every decision is plan.c's.  Per mail, in this order:
 *   1. one lookup statement gathers the facts: is this exact mail already
 *      stored (dedupe key: Message-ID + hash without trace headers), which
 *      ticket its In-Reply-To/References point at (ours first), whether its
 *      subject tag names a ticket the sender belongs to, which ticket a
 *      bounce is about;
 *   2. the planner decides; when the mail threads to a ticket it asks about
 *      that ticket (status, survey, participant, assignee: one statement that
 *      locks it) and decides again;
 *   3. a new ticket (with its requester and Cc participants) when planned;
 *   4. one statement inserts the message, its raw bytes, the audit event and
 *      touches the ticket (flagging it for a human when the mail was not
 *      parsed); a conflict on the dedupe index means another process stored
 *      it first: rolled back to the savepoint and reported as a duplicate;
 *   5. attachments, content stored once per SHA-256;
 *   6. the plan's steps: links, bounces, ratings, held mail, commands, status
 *      changes, the first response and the mails to queue (compose.c).
 * Finally the mailbox checkpoint moves, and the caller may mark the mails in
 * IMAP only after COMMIT returned.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentid.h"
#include "compose.h"
#include "db_int.h"
#include "log.h"
#include "mime.h"
#include "plan.h"
#include "replyaddr.h"
#include "slascan.h"
#include "store.h"
#include "storeset.h"
#include "util.h"

#define MAX_PARAMS 32

/* Parameters of one statement; text values are copied when formatted here. */
struct params {
	int n;
	const char *v[MAX_PARAMS];
	int len[MAX_PARAMS];
	int fmt[MAX_PARAMS];
	char *owned[MAX_PARAMS];
	int n_owned;
};

static void p_init(struct params *p)
{
	memset(p, 0, sizeof(*p));
}

static void p_free(struct params *p)
{
	for (int i = 0; i < p->n_owned; i++)
		free(p->owned[i]);
	p->n_owned = 0;
}

static void p_text(struct params *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static void p_own(struct params *p, char *s)
{
	p->owned[p->n_owned++] = s;
	p_text(p, s);
}

static void p_int(struct params *p, int64_t v)
{
	p_own(p, pd_xasprintf("%" PRId64, v));
}

static void p_bin(struct params *p, const void *data, size_t len)
{
	p->v[p->n] = data;
	p->len[p->n] = (int)len;
	p->fmt[p->n] = 1;
	p->n++;
}

/* A text[] literal of v[0..n), or of get(ctx, i) when get is given. */
static char *array_literal(char *const *v, size_t n, const char *(*get)(const void *, size_t),
			   const void *ctx)
{
	return get != NULL ? pd_db_text_array(n, get, ctx) : pd_db_text_array(n, pd_db_strv_get, v);
}

static const char *addr_name(const void *ctx, size_t i)
{
	return ((const struct pd_addrlist *)ctx)->v[i].name;
}

static const char *addr_address(const void *ctx, size_t i)
{
	return ((const struct pd_addrlist *)ctx)->v[i].address;
}

static PGresult *run(struct pd_db *db, const char *name, const char *sql, struct params *p,
		     struct pd_err *err)
{
	return pd_db_query_bin(db, name, sql, p->n, p->v, p->len, p->fmt, err);
}

/*
 * Run a statement whose result is not needed; frees the parameters.  Inside
 * a transaction it is only sent: its outcome arrives with the next statement
 * that waits for a result (pd_db_defer), one round trip for both.
 */
static int run_done(struct pd_db *db, const char *name, const char *sql, struct params *p,
		    struct pd_err *err)
{
	int r = pd_db_defer_bin(db, name, sql, p->n, p->v, p->len, p->fmt, err);

	p_free(p);
	return r;
}

static int exec_simple(struct pd_db *db, const char *sql, struct pd_err *err)
{
	return pd_db_exec(db, sql, err);
}

const char *pd_ingest_action_name(enum pd_ingest_action a)
{
	switch (a) {
	case PD_INGEST_PENDING:
		return "pending";
	case PD_INGEST_NEW_TICKET:
		return "new-ticket";
	case PD_INGEST_APPENDED:
		return "appended";
	case PD_INGEST_DUPLICATE:
		return "duplicate";
	case PD_INGEST_FAILED:
		return "failed";
	}
	return "unknown";
}

/* --------------------------------------------------------------- lookups */

/* One mail's facts (storeset.h's PD_STORE_FACTS_COLS, for the batch too). */
static const char SQL_FACTS[] =
    "SELECT" PD_STORE_FACTS_COLS("$1", "$2", "$3::text[]", "$4::bigint", "$5", "$6::bigint",
				 "$7")
    " FROM (" PD_OUTBOX_AUTO_COUNTS_SQL("$5") ") AS counts";

#define MAX_REPLY_TICKETS 8

/* What the database says about one mail, for the planner. */
struct facts {
	struct pd_plan_facts p;
	int64_t reply_tickets[MAX_REPLY_TICKETS]; /* of the valid reply addresses it was sent to */
	struct pd_auto_counts sender; /* automatic mails to the sender lately */
};

static int64_t get_i64(PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? 0 : strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

static int lookup_facts(struct pd_db *db, const struct pd_store_ctx *ctx,
			const struct pd_msg *msg, const struct pd_plan_probe *probe,
			struct facts *f, struct pd_err *err)
{
	struct params p;
	PGresult *res;

	memset(f, 0, sizeof(*f));
	int n = pd_reply_tickets(db, ctx->cfg, msg, f->reply_tickets, MAX_REPLY_TICKETS, err);
	if (n < 0)
		return -1;
	f->p.reply_tickets = f->reply_tickets;
	f->p.n_reply_tickets = (size_t)n;
	p_init(&p);
	p_text(&p, msg->message_id ? msg->message_id : "");
	p_bin(&p, msg->content_hash, sizeof(msg->content_hash));
	p_own(&p, array_literal(msg->references, msg->n_references, NULL, NULL));
	p_int(&p, probe->tag);
	p_text(&p, msg->from.address);
	p_int(&p, n > 0 ? f->reply_tickets[0] : 0);
	p_text(&p, probe->bounce_of ? probe->bounce_of : "");
	res = run(db, "pd_facts", SQL_FACTS, &p, err);
	p_free(&p);
	if (res == NULL)
		return -1;
	f->p.duplicate_of = get_i64(res, 0);
	f->p.own_ref_ticket = get_i64(res, 1);
	f->p.ref_ticket = get_i64(res, 2);
	f->p.tag_ticket = get_i64(res, 3);
	f->p.tag_from_participant = PQgetvalue(res, 0, 4)[0] == 't';
	f->p.token_ticket = get_i64(res, 5);
	f->p.bounce_ticket = get_i64(res, 6);
	pd_outbox_auto_counts_read(res, 7, &f->sender);
	PQclear(res);
	return 0;
}

/* What the planner needs to know about the ticket a mail threads to, which
 * is locked for this transaction. */
static int ticket_facts(struct pd_db *db, int64_t ticket, const char *from,
			struct pd_plan_ticket_facts *t, struct pd_err *err)
{
	struct params p;
	PGresult *res;

	memset(t, 0, sizeof(*t));
	p_init(&p);
	p_int(&p, ticket);
	p_text(&p, from);
	res = run(db, "pd_ticket_facts",
		  "SELECT" PD_STORE_TICKET_FACTS_COLS("t", "$2")
		  " FROM tickets t WHERE id = $1::bigint FOR UPDATE",
		  &p, err);
	p_free(&p);
	if (res == NULL)
		return -1;
	t->known = true;
	if (PQntuples(res) == 1) {
		t->exists = true;
		snprintf(t->status, sizeof(t->status), "%s", PQgetvalue(res, 0, 0));
		t->resolved_age = get_i64(res, 1);
		t->surveyed = PQgetvalue(res, 0, 2)[0] == 't';
		t->from_participant = PQgetvalue(res, 0, 3)[0] == 't';
		t->unassigned = PQgetvalue(res, 0, 4)[0] == 't';
	}
	PQclear(res);
	return 0;
}


/* ------------------------------------------------------------ new ticket */

#define TS(n) "to_timestamp(nullif($" #n ", '')::double precision)"

static const char SQL_NEW_TICKET[] =
    "WITH t AS ("
    "  INSERT INTO tickets (subject, requester_address, requester_name, queue, mailbox,"
    "    language, priority, line, sla_calendar, sla_since, first_response_target,"
    "    resolution_target, first_response_due, first_response_warn, resolution_due,"
    "    resolution_warn, plan, type)"
    "  VALUES ($1, lower($2), $3, $4, $5, $6, $7, $8::int, nullif($9, ''), " TS(10) ","
    "    nullif($11, '')::bigint, nullif($12, '')::bigint, " TS(13) ", " TS(14) ","
    "    " TS(15) ", " TS(16) ", $18, $19) RETURNING id),"
    " p AS ("
    "  INSERT INTO participants (ticket_id, address, name, role)"
    "  SELECT id, lower($2), $3, 'requester' FROM t WHERE $2 <> ''),"
    " e AS ("
    "  INSERT INTO events (ticket_id, actor, kind, detail)"
    "  SELECT id, 'mailbox:' || coalesce($5, ''), 'ticket.classified', $17::jsonb FROM t)"
    "SELECT id FROM t";

/* Cc participants: everyone in To/Cc but our own addresses and the sender. */
static const char SQL_ADD_CC[] =
    "INSERT INTO participants (ticket_id, address, name, role)"
    " SELECT $1::bigint, lower(a), n, 'cc'"
    "   FROM unnest($2::text[], $3::text[]) AS u(a, n)"
    "  WHERE " PD_STORE_CC_WHERE("a", "$4::text[]")
    " ON CONFLICT DO NOTHING";

static void p_time(struct params *p, time_t t)
{
	if (t == 0)
		p_text(p, "");
	else
		p_own(p, pd_xasprintf("%lld", (long long)t));
}

static void p_opt_int(struct params *p, int64_t v)
{
	if (v <= 0)
		p_text(p, "");
	else
		p_int(p, v);
}

/* Open the ticket the plan describes, with its SLA clocks started now.  Sent
 * without waiting: the message's INSERT follows it in the same round trip and
 * names the new ticket (0 = the one just inserted). */
static int new_ticket(struct pd_db *db, const struct pd_store_ctx *ctx, const struct pd_msg *msg,
		      const struct pd_plan_fresh *fr, struct pd_err *err)
{
	struct params p;
	struct pd_sla_initial sla;
	const struct pd_classification *c = &fr->cls;

	pd_slascan_initial(ctx->cfg, fr->plan, pd_priority_name(c->priority), c->line, time(NULL),
			   &sla);
	p_init(&p);
	p_text(&p, fr->subject);
	p_text(&p, msg->from.address);
	p_text(&p, msg->from.name);
	p_text(&p, c->queue);
	p_text(&p, ctx->mailbox);
	p_text(&p, fr->language);
	p_text(&p, pd_priority_name(c->priority));
	p_int(&p, c->line);
	p_text(&p, sla.calendar ? sla.calendar : "");
	p_time(&p, sla.calendar ? sla.st.since : 0);
	p_opt_int(&p, sla.first_response_target);
	p_opt_int(&p, sla.resolution_target);
	p_time(&p, sla.st.fr_due);
	p_time(&p, sla.st.fr_warn);
	p_time(&p, sla.st.res_due);
	p_time(&p, sla.st.res_warn);
	p_own(&p, pd_store_classified_json(c, fr->plan));
	p_text(&p, fr->plan);
	p_text(&p, pd_type_name(c->type));
	return run_done(db, "pd_new_ticket", SQL_NEW_TICKET, &p, err);
}


static int add_cc(struct pd_db *db, const struct pd_store_ctx *ctx, const struct pd_msg *msg,
		  int64_t ticket, struct pd_err *err)
{
	const struct pd_addrlist *lists[2] = {&msg->to, &msg->cc};
	char *exclude[2] = {ctx->cfg->support_address, msg->from.address};

	for (size_t l = 0; l < 2; l++) {
		struct params p;
		/* our plus-addresses (a ticket's reply address in an agent's
		 * direct mail, the note address) are never participants */
		struct pd_addrlist keep = {0, pd_xcalloc(lists[l]->n + 1, sizeof(struct pd_addr))};

		for (size_t i = 0; i < lists[l]->n; i++)
			if (!pd_support_plus(ctx->cfg->support_address, lists[l]->v[i].address))
				keep.v[keep.n++] = lists[l]->v[i];
		if (keep.n == 0) {
			free(keep.v);
			continue;
		}
		p_init(&p);
		p_int(&p, ticket);
		p_own(&p, array_literal(NULL, keep.n, addr_address, &keep));
		p_own(&p, array_literal(NULL, keep.n, addr_name, &keep));
		p_own(&p, array_literal(exclude, 2, NULL, NULL));
		free(keep.v);
		if (run_done(db, "pd_add_cc", SQL_ADD_CC, &p, err) < 0)
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- message */

/*
 * $1 = 0: the ticket inserted just before in this session (new_ticket sends
 * its INSERT without waiting; this statement follows it in the same round
 * trip).
 */
static const char SQL_MESSAGE[] =
    "WITH k AS (SELECT coalesce(nullif($1::bigint, 0),"
    "                           currval('tickets_id_seq'::regclass)) AS id),"
    " m AS ("
    "  INSERT INTO messages (ticket_id, direction, kind, message_id, content_hash,"
    "    in_reply_to, refs, from_name, from_address, to_addrs, cc_addrs, subject, sent_date,"
    "    body_text, body_charset, raw_size, parse_error, mailbox, uidvalidity, uid)"
    "  SELECT k.id, 'in', $2, nullif($3, ''), $4, $5, $6::text[], $7, $8,"
    "    (SELECT coalesce(jsonb_agg(jsonb_build_object('name', n, 'address', a) ORDER BY i),"
    "       '[]') FROM unnest($9::text[], $10::text[]) WITH ORDINALITY AS u(a, n, i)),"
    "    (SELECT coalesce(jsonb_agg(jsonb_build_object('name', n, 'address', a) ORDER BY i),"
    "       '[]') FROM unnest($11::text[], $12::text[]) WITH ORDINALITY AS u(a, n, i)),"
    "    $13, to_timestamp(nullif($14, '0')::double precision), $15, nullif($16, ''),"
    "    $17::bigint, $18, $19, $20::bigint, $21::bigint"
    "  FROM k"
    "  ON CONFLICT ((coalesce(message_id, '')), content_hash) DO NOTHING"
    "  RETURNING id, ticket_id),"
    " r AS (INSERT INTO message_raw (message_id, raw) SELECT id, $22 FROM m),"
    " e AS (INSERT INTO events (ticket_id, message_id, actor, kind, detail)"
    "  SELECT ticket_id, id, 'mailbox:' || $19, $23,"
    "    jsonb_build_object('rule', $24::text, 'mailbox', $19::text, 'uid', $21::bigint,"
    "                       'message_id', nullif($3, ''), 'from', $8::text)"
    "  FROM m),"
    " f AS (INSERT INTO events (ticket_id, message_id, actor, kind, detail)"
    "  SELECT ticket_id, id, 'mailbox:' || $19, 'message.flagged',"
    "    jsonb_build_object('reason', $18::text)"
    "  FROM m WHERE $18 IS NOT NULL),"
    " g AS (INSERT INTO events (ticket_id, message_id, actor, kind, detail)"
    "  SELECT ticket_id, id, 'mailbox:' || $19, 'thread.foreign_tag',"
    "    jsonb_build_object('tag_ticket', $25::bigint, 'from', $8::text)"
    "  FROM m WHERE $25::bigint <> 0),"
    " t AS (UPDATE tickets SET updated_at = now(),"
    "    flagged = flagged OR $18 IS NOT NULL,"
    "    flag_reason = CASE WHEN $18 IS NULL THEN flag_reason"
    "                       ELSE concat_ws('; ', flag_reason, $18) END"
    "  WHERE id = (SELECT id FROM k) AND EXISTS (SELECT 1 FROM m)"
    "    AND (NOT $26::boolean OR $18 IS NOT NULL))" /* a new ticket is up to date */
    "SELECT id, ticket_id FROM m";

static int insert_message(struct pd_db *db, const struct pd_store_ctx *ctx,
			  const struct pd_ingest_item *it, int64_t *ticket_io, const char *kind,
			  const char *event, const char *rule, int64_t foreign_tag,
			  const char *flag, int64_t *message_r, struct pd_err *err)
{
	const struct pd_msg *msg = it->msg;
	struct params p;
	PGresult *res;

	p_init(&p);
	p_int(&p, *ticket_io);                                         /* 1 */
	p_text(&p, kind);                                              /* 2 */
	p_text(&p, msg->message_id ? msg->message_id : "");            /* 3 */
	p_bin(&p, msg->content_hash, sizeof(msg->content_hash));       /* 4 */
	p_text(&p, msg->in_reply_to);                                  /* 5 */
	p_own(&p, array_literal(msg->references, msg->n_references, NULL, NULL)); /* 6 */
	p_text(&p, msg->from.name);                                    /* 7 */
	p_text(&p, msg->from.address);                                 /* 8 */
	p_own(&p, array_literal(NULL, msg->to.n, addr_address, &msg->to)); /* 9 */
	p_own(&p, array_literal(NULL, msg->to.n, addr_name, &msg->to));    /* 10 */
	p_own(&p, array_literal(NULL, msg->cc.n, addr_address, &msg->cc)); /* 11 */
	p_own(&p, array_literal(NULL, msg->cc.n, addr_name, &msg->cc));    /* 12 */
	p_text(&p, msg->subject);                                      /* 13 */
	p_int(&p, (int64_t)msg->date);                                 /* 14 */
	p_text(&p, msg->body_text);                                    /* 15 */
	p_text(&p, msg->body_charset ? msg->body_charset : "");        /* 16 */
	/* the size on the server, also when only a prefix was fetched */
	p_int(&p, (int64_t)(msg->server_size > msg->raw_len ? msg->server_size
							    : msg->raw_len)); /* 17 */
	p_text(&p, flag);                                              /* 18 */
	p_text(&p, ctx->mailbox);                                      /* 19 */
	p_int(&p, ctx->uidvalidity);                                   /* 20 */
	p_int(&p, it->uid);                                            /* 21 */
	p_bin(&p, msg->raw, msg->raw_len);                             /* 22 */
	p_text(&p, event);                                             /* 23 */
	p_text(&p, rule);                                              /* 24 */
	p_int(&p, foreign_tag);                                        /* 25 */
	p_text(&p, strcmp(event, "ticket.created") == 0 ? "true" : "false"); /* 26 */
	res = run(db, "pd_message", SQL_MESSAGE, &p, err);
	p_free(&p);
	if (res == NULL)
		return -1;
	*message_r = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (PQntuples(res))
		*ticket_io = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

static const char SQL_ATTACHMENT[] =
    "WITH b AS (INSERT INTO blobs (sha256, size, data) VALUES ($1, $2::bigint, $3)"
    "           ON CONFLICT (sha256) DO NOTHING)"
    "INSERT INTO attachments (message_id, position, filename, content_type, disposition,"
    "                         content_id, size, sha256)"
    " VALUES ($4::bigint, $5::int, $6, $7, $8, $9, $2::bigint, $1)";

static int insert_attachments(struct pd_db *db, const struct pd_msg *msg, int64_t message,
			      struct pd_err *err)
{
	for (size_t i = 0; i < msg->n_attachments; i++) {
		const struct pd_attachment *a = &msg->attachments[i];
		struct params p;

		p_init(&p);
		p_bin(&p, a->sha256, sizeof(a->sha256));
		p_int(&p, (int64_t)a->size);
		p_bin(&p, a->data ? a->data : "", a->size);
		p_int(&p, message);
		p_int(&p, (int64_t)i);
		p_text(&p, a->filename);
		p_text(&p, a->content_type ? a->content_type : "application/octet-stream");
		p_text(&p, a->disposition);
		p_text(&p, a->content_id);
		if (run_done(db, "pd_attachment", SQL_ATTACHMENT, &p, err) < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- conversation */

/* Record a bounce on its ticket; a permanent failure suppresses automatic
 * mail to the address for suppress_days. */
static int record_bounce(struct pd_db *db, const struct pd_store_ctx *ctx, int64_t ticket,
			 const char *rcpt, bool permanent, struct pd_err *err)
{
	struct params p;

	p_init(&p);
	p_int(&p, ticket);
	p_text(&p, rcpt ? rcpt : "");
	p_text(&p, permanent ? "true" : "false");
	p_int(&p, ctx->cfg->suppress_days);
	return run_done(db, "pd_bounce_record",
		  "WITH e AS (INSERT INTO events (ticket_id, actor, kind, detail)"
		  "  VALUES ($1::bigint, 'system', 'mail.bounced',"
		  "          jsonb_build_object('recipient', $2::text, 'permanent', $3::boolean)))"
		  "INSERT INTO suppressions (address, until, reason)"
		  " SELECT lower($2), now() + make_interval(days => $4::int),"
		  "        'permanent delivery failure (ticket #' || $1 || ')'"
		  "  WHERE $3::boolean AND $2 <> '' AND $4::int > 0"
		  " ON CONFLICT (address) DO UPDATE SET until = EXCLUDED.until,"
		  "   reason = EXCLUDED.reason",
			&p, err);
}

/* Run a statement on a ticket ($1) with one number ($2), no result. */
static int ticket_stmt(struct pd_db *db, const char *name, const char *sql, int64_t ticket,
		       int64_t value, struct pd_err *err)
{
	struct params p;

	p_init(&p);
	p_int(&p, ticket);
	p_int(&p, value);
	return run_done(db, name, sql, &p, err);
}

/* A mail with an agent's From that could not be verified, or to a reply
 * address from someone not an agent: kept as a note with an event saying
 * why (the plan tells its sender). */
static int held_event(struct pd_db *db, int64_t ticket, const struct pd_msg *msg,
		      const struct pd_plan_step *s, struct pd_err *err)
{
	struct params p;

	pd_log_info("ticket=%lld action=held verdict=%s from=%s reason=%s", (long long)ticket,
		    s->actor, msg->from.address, s->value);
	p_init(&p);
	p_int(&p, ticket);
	p_text(&p, s->field);
	p_text(&p, msg->from.address);
	p_text(&p, s->value);
	p_text(&p, msg->message_id ? msg->message_id : "");
	return run_done(db, "pd_agent_held",
		     "INSERT INTO events (ticket_id, actor, kind, detail)"
		     " VALUES ($1::bigint, 'system', $2, jsonb_build_object('from', lower($3),"
		     "   'reason', $4::text, 'message_id', nullif($5, '')))",
		     &p, err);
}

/* The first answer to the customer, relayed or written directly. */
static int first_response(struct pd_db *db, const struct pd_store_ctx *ctx, int64_t ticket,
			  struct pd_err *err)
{
	struct params p;

	p_init(&p);
	p_int(&p, ticket);
	PGresult *res = run(db, "pd_first_response",
			    "UPDATE tickets SET first_response_at = coalesce(first_response_at, now()),"
			    " updated_at = now() WHERE id = $1::bigint",
			    &p, err);
	p_free(&p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return pd_slascan_sync(db, ctx->cfg, ticket, time(NULL), err);
}

/* Queue one mail of the plan.  A template or address problem must not cost
 * the mail that caused it: it is logged; only a database error fails. */
static int queue_mail(struct pd_db *db, const struct pd_store_ctx *ctx, int64_t ticket,
		      int64_t message, const struct pd_msg *msg, const struct pd_plan *plan,
		      const struct pd_plan_step *s, const struct facts *f, struct pd_err *err)
{
	const struct pd_config *cfg = ctx->cfg;
	struct pd_err ce;
	bool relayed = false;
	int r = 0;
	const char *what = "";

	pd_err_clear(&ce);
	switch (s->mail) {
	case PD_MAIL_NEW_TICKET:
		r = pd_compose_new_ticket(db, cfg, ticket, plan->fresh.subject, plan->fresh.language,
					  &plan->fresh.cls, msg, message,
					  plan->sender_counts ? &f->sender : NULL, &ce);
		what = "no acknowledgement or notice sent";
		break;
	case PD_MAIL_FOLLOW_UP:
		r = pd_compose_follow_up(db, cfg, ticket, msg, message, &ce);
		what = "no notice to the agents";
		break;
	case PD_MAIL_SURVEY:
		r = pd_compose_survey(db, cfg, ticket, &ce);
		what = "no satisfaction survey sent";
		break;
	case PD_MAIL_AGENT_REPLY:
		r = pd_compose_agent_reply(db, cfg, ticket, msg, plan->answer, &relayed, &ce);
		what = "could not relay the answer of the agent";
		break;
	case PD_MAIL_COMMAND_ERROR:
		r = pd_compose_command_error(db, cfg, ticket, msg, s->value, &ce);
		what = "could not tell the agent about the bad command";
		break;
	case PD_MAIL_HELD_UNVERIFIED:
		r = pd_compose_agent_held(db, cfg, ticket, msg, PD_HELD_UNVERIFIED, s->value, &ce);
		what = "could not tell the sender why their mail was held";
		break;
	case PD_MAIL_HELD_NOT_AGENT:
		r = pd_compose_agent_held(db, cfg, ticket, msg, PD_HELD_NOT_AGENT, s->value, &ce);
		what = "could not tell the sender why their mail was held";
		break;
	case PD_MAIL_HELD_EMPTY:
		r = pd_compose_agent_held(db, cfg, ticket, msg, PD_HELD_EMPTY, NULL, &ce);
		what = "could not tell the agent that the answer was empty";
		break;
	}
	if (r >= 0)
		return 0;
	if (ce.src == PD_SRC_DB) {
		*err = ce;
		return -1;
	}
	pd_log_err("ticket=%lld from=%s: %s: %s", (long long)ticket, msg->from.address, what,
		   ce.msg);
	return 0;
}

/* Execute one step of a plan on ticket (message: the stored message). */
static int run_step(struct pd_db *db, const struct pd_store_ctx *ctx, int64_t ticket,
		    int64_t message, const struct pd_msg *msg, const struct pd_plan *plan,
		    const struct pd_plan_step *s, const struct facts *f, struct pd_err *err)
{
	switch (s->kind) {
	case PD_STEP_LINK:
		return ticket_stmt(db, "pd_link_ticket",
				   "WITH u AS (UPDATE tickets SET linked_ticket = $2::bigint"
				   "           WHERE id = $1::bigint)"
				   "INSERT INTO events (ticket_id, actor, kind, detail)"
				   " VALUES ($1::bigint, 'system', 'ticket.follow_up',"
				   "         jsonb_build_object('of', $2::bigint))",
				   ticket, s->number, err);
	case PD_STEP_BOUNCE:
		return record_bounce(db, ctx, ticket, s->value, s->number != 0, err);
	case PD_STEP_RATING:
		return ticket_stmt(db, "pd_rating",
				   "WITH u AS (UPDATE tickets SET rating = $2::int, rated_at = now()"
				   "           WHERE id = $1::bigint)"
				   "INSERT INTO events (ticket_id, actor, kind, detail)"
				   " VALUES ($1::bigint, 'system', 'ticket.rated',"
				   "         jsonb_build_object('rating', $2::int))",
				   ticket, s->number, err);
	case PD_STEP_AGENT_AUTOMATIC:
		return ticket_stmt(db, "pd_agent_automatic",
				   "INSERT INTO events (ticket_id, actor, kind, detail)"
				   " SELECT $1::bigint, 'system', 'agent.automatic',"
				   "   jsonb_build_object('message', $2::bigint)",
				   ticket, message, err);
	case PD_STEP_HELD:
		return held_event(db, ticket, msg, s, err);
	case PD_STEP_SET_FIELD:
		return pd_store_set_field(db, ctx->cfg, ticket, s->field, s->value, s->actor, err) < 0
			   ? -1
			   : 0;
	case PD_STEP_FIRST_RESPONSE:
		return first_response(db, ctx, ticket, err);
	case PD_STEP_MAIL:
		return queue_mail(db, ctx, ticket, message, msg, plan, s, f, err);
	}
	return 0;
}

/* ------------------------------------------------------------ one mail */

/* Store one mail inside the current savepoint: gather the facts, let the
 * planner decide (plan.c), execute its plan.  Returns 0 with the action set,
 * 1 when another process stored the same mail meanwhile (the caller rolls
 * back to the savepoint), or -1. */
static int store_one(struct pd_db *db, const struct pd_store_ctx *ctx, struct pd_ingest_item *it,
		     struct pd_err *err)
{
	const struct pd_msg *msg = it->msg;
	struct pd_plan_probe probe;
	struct facts f;
	struct pd_plan plan;
	int64_t ticket, message = 0;
	int rc = -1;

	memset(&plan, 0, sizeof(plan));
	pd_plan_probe(ctx->cfg, msg, &probe);
	if (lookup_facts(db, ctx, msg, &probe, &f, err) < 0)
		goto out;
	const struct pd_plan_input in = {
	    .cfg = ctx->cfg,
	    .mailbox = ctx->mailbox,
	    .msg = msg,
	    .probe = &probe,
	    .facts = &f.p,
	};
	if (pd_plan_mail(&in, &plan) == PD_PLAN_NEED_TICKET) {
		int64_t want = plan.ticket;
		pd_plan_free(&plan);
		if (ticket_facts(db, want, msg->from.address, &f.p.ticket, err) < 0)
			goto out;
		if (pd_plan_mail(&in, &plan) == PD_PLAN_NEED_TICKET) {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_STORE, 0,
				   "the ingest planner asked twice about ticket %lld",
				   (long long)want);
			goto out;
		}
	}
	it->rule = plan.rule;
	if (plan.kind == PD_PLAN_DUPLICATE) {
		it->action = PD_INGEST_DUPLICATE;
		it->ticket = plan.ticket;
		rc = 0;
		goto out;
	}
	ticket = plan.ticket;
	if (plan.kind == PD_PLAN_NEW_TICKET) {
		if (new_ticket(db, ctx, msg, &plan.fresh, err) < 0)
			goto out;
		ticket = 0;
		it->action = PD_INGEST_NEW_TICKET;
	} else {
		it->action = PD_INGEST_APPENDED;
	}
	if (insert_message(db, ctx, it, &ticket, plan.msg_kind, plan.event, plan.rule,
			   plan.foreign_tag, plan.flag, &message, err) < 0)
		goto out;
	if (message == 0) {
		/* another process stored the same mail since our lookup */
		it->action = PD_INGEST_DUPLICATE;
		it->rule = "duplicate";
		it->ticket = 0;
		rc = 1; /* roll back the savepoint: the new ticket (if any) must go */
		goto out;
	}
	/* customers' Cc's become participants who may write into the ticket */
	if (plan.add_cc && add_cc(db, ctx, msg, ticket, err) < 0)
		goto out;
	if (insert_attachments(db, msg, message, err) < 0)
		goto out;
	for (size_t i = 0; i < plan.n_steps; i++)
		if (run_step(db, ctx, ticket, message, msg, &plan, &plan.steps[i], &f, err) < 0)
			goto out;
	it->ticket = ticket;
	it->flagged = msg->parse_failed || msg->oversized;
	rc = 0;
out:
	pd_plan_free(&plan);
	pd_plan_probe_free(&probe);
	return rc;
}


/*
 * When the parsed form cannot be stored (a database data error on some odd
 * value), keep the mail anyway: raw bytes on a ticket flagged for a human.
 */
static int store_raw_only(struct pd_db *db, const struct pd_store_ctx *ctx,
			  struct pd_ingest_item *it, const char *why, struct pd_err *err)
{
	struct pd_msg bare;
	struct pd_ingest_item copy = *it;
	char *reason = pd_xasprintf("could not store the parsed mail: %s", why);
	int r;

	memset(&bare, 0, sizeof(bare));
	bare.raw = it->msg->raw;
	bare.raw_len = it->msg->raw_len;
	memcpy(bare.content_hash, it->msg->content_hash, sizeof(bare.content_hash));
	bare.message_id = it->msg->message_id;
	/* what the loop guard and the bounce reader decide on (borrowed), as
	 * they did when they read the raw bytes themselves */
	bare.n_fields = it->msg->n_fields;
	bare.fields = it->msg->fields;
	bare.content_type = it->msg->content_type;
	bare.report_type = it->msg->report_type;
	bare.dsn = it->msg->dsn;
	bare.subject = (char *)"";
	bare.from.name = (char *)"";
	bare.from.address = (char *)"";
	bare.body_text = (char *)"";
	bare.parse_failed = true;
	bare.parse_error = reason;
	copy.msg = &bare;
	r = store_one(db, ctx, &copy, err);
	free(reason);
	if (r == 0) {
		it->action = copy.action;
		it->ticket = copy.ticket;
		it->rule = copy.rule;
		it->flagged = 1;
	}
	return r;
}

static void item_reset(struct pd_ingest_item *it)
{
	it->action = PD_INGEST_PENDING;
	it->ticket = 0;
	it->flagged = 0;
}

/*
 * A mail's statements failed (e: the first failure).  Roll back to its
 * savepoint; for bad data keep it raw, and when even that is refused leave
 * it unstored (it stays on the server).  -1 with *err when the whole batch
 * must go (connection lost, timeout...).
 */
static int mail_failed(struct pd_db *db, const struct pd_store_ctx *ctx, struct pd_ingest_item *it,
		       int tag, struct pd_err *e, struct pd_err *err)
{
	struct pd_err e2;
	int r;

	if (e->cls != PD_ERR_PERM) {
		*err = *e;
		return -1;
	}
	pd_db_discard(db);
	if (exec_simple(db, "ROLLBACK TO SAVEPOINT pd_mail", err) < 0)
		return -1;
	pd_log_warning("mailbox=%s uid=%u: storing the parsed mail failed, keeping it raw: %s",
		       ctx->mailbox, it->uid, e->msg);
	item_reset(it);
	pd_db_set_tag(db, tag);
	pd_err_clear(&e2);
	r = store_raw_only(db, ctx, it, e->msg, &e2);
	/* checked here, not behind the next mail: this path must stay simple */
	if (r == 0 && (pd_db_defer(db, NULL, "RELEASE SAVEPOINT pd_mail", 0, NULL, &e2) < 0 ||
		       pd_db_sync(db, &e2) < 0))
		r = -1;
	if (r == 0)
		return 0;
	if (e2.cls != PD_ERR_PERM) {
		*err = e2;
		return -1;
	}
	pd_db_discard(db);
	if (exec_simple(db, "ROLLBACK TO SAVEPOINT pd_mail", err) < 0 ||
	    pd_db_defer(db, NULL, "RELEASE SAVEPOINT pd_mail", 0, NULL, err) < 0)
		return -1;
	item_reset(it);
	it->action = PD_INGEST_FAILED;
	pd_log_err("mailbox=%s uid=%u action=failed: could not store the mail, it stays on the "
		   "server and is retried: %s",
		   ctx->mailbox, it->uid, e2.msg);
	return 0;
}

/*
 * The set-based part (storeset.c) under a savepoint: when it fails on data
 * (a value the database refuses in the batch's own statements), it is
 * rolled back and every mail goes the per-mail way, where such a mail is
 * kept raw or left on the server alone.
 */
static int store_set(struct pd_db *db, const struct pd_store_ctx *ctx,
		     struct pd_ingest_item *items, size_t n, unsigned wave, bool *done,
		     struct pd_err *err)
{
	struct pd_err e;

	pd_err_clear(&e);
	if (pd_db_defer(db, NULL, "SAVEPOINT pd_batch", 0, NULL, err) < 0)
		return -1;
	if (pd_storeset_run(db, ctx, items, n, wave, done, &e) == 0)
		return pd_db_defer(db, NULL, "RELEASE SAVEPOINT pd_batch", 0, NULL, err);
	if (e.cls != PD_ERR_PERM) {
		*err = e;
		return -1;
	}
	pd_log_warning("mailbox=%s: storing the batch's new tickets together failed, storing its "
		       "%zu mails one by one: %s",
		       ctx->mailbox, n, e.msg);
	pd_db_discard(db);
	if (exec_simple(db, "ROLLBACK TO SAVEPOINT pd_batch", err) < 0 ||
	    exec_simple(db, "RELEASE SAVEPOINT pd_batch", err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		done[i] = false;
		item_reset(&items[i]);
	}
	return 0;
}

/*
 * The set-based part in waves.  A mail that waits for an earlier one of the
 * batch (a reply to it, a copy of it, a bounce about its sender...) is left
 * by the first wave; once that one is written, the mails left are planned
 * again together, on facts that now include it, and so on while a wave
 * writes something, up to SET_WAVES.  What is left after that goes mail by
 * mail.  The mails left keep their order, so ticket numbers still follow
 * the mails'.
 */
#define SET_WAVES 3

static int store_waves(struct pd_db *db, const struct pd_store_ctx *ctx,
		       struct pd_ingest_item *items, size_t n, bool *done, struct pd_err *err)
{
	struct pd_ingest_item *sub;
	size_t *at, before = n;
	bool *sub_done;
	int rc = 0;

	if (store_set(db, ctx, items, n, 1, done, err) < 0)
		return -1;
	sub = pd_xcalloc(n, sizeof(*sub));
	at = pd_xcalloc(n, sizeof(*at));
	sub_done = pd_xcalloc(n, sizeof(*sub_done));
	for (unsigned wave = 2; wave <= SET_WAVES; wave++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (!done[i]) {
				at[k] = i;
				sub[k++] = items[i];
			}
		/* nothing written by the last wave: the next would find the same */
		if (k < 2 || k == before)
			break;
		before = k;
		if (store_set(db, ctx, sub, k, wave, sub_done, err) < 0) {
			rc = -1;
			break;
		}
		for (size_t j = 0; j < k; j++)
			if (sub_done[j]) {
				items[at[j]] = sub[j];
				done[at[j]] = true;
			}
	}
	free(sub);
	free(at);
	free(sub_done);
	return rc;
}

int pd_store_batch(struct pd_db *db, const struct pd_store_ctx *ctx, struct pd_ingest_item *items,
		   size_t n, struct pd_err *err)
{
	uint32_t checkpoint = 0;
	struct params p;

	bool *done = pd_xcalloc(n ? n : 1, sizeof(*done));

	for (size_t i = 0; i < n; i++)
		items[i].timed_out = false;
	if (pd_db_begin(db, err) < 0) {
		free(done);
		return -1;
	}
	/* the new tickets of the batch in a few statements (storeset.c); the
	 * rest mail by mail below, seeing what that wrote */
	pd_db_set_tag(db, -1);
	if (ctx->raw_reason == NULL && n > 1 && store_waves(db, ctx, items, n, done, err) < 0)
		goto fail;
	size_t last = n; /* the last mail left to the per-mail path */
	for (size_t i = 0; i < n; i++)
		if (!done[i])
			last = i;
	/*
	 * A mail's last statements (its outbox rows, events, the savepoint's
	 * release) are not waited for: they travel with the next mail's first
	 * query.  Each statement carries its mail's index, so a failure that
	 * surfaces during mail i but belongs to mail i-1 rolls back to i-1's
	 * savepoint (i's was never set), deals with i-1 and starts i again.
	 */
	for (size_t i = 0; i < n;) {
		struct pd_ingest_item *it = &items[i];
		struct pd_err e1;
		int r;

		if (done[i]) {
			i++;
			continue;
		}
		item_reset(it);
		pd_db_set_tag(db, (int)i);
		pd_err_clear(&e1);
		r = pd_db_defer(db, NULL, "SAVEPOINT pd_mail", 0, NULL, &e1) < 0 ? -1
		    : ctx->raw_reason != NULL ? store_raw_only(db, ctx, it, ctx->raw_reason, &e1)
					      : store_one(db, ctx, it, &e1);
		if (r == 0 && pd_db_defer(db, NULL, "RELEASE SAVEPOINT pd_mail", 0, NULL, &e1) < 0)
			r = -1;
		/* the server's unit of work ends with each mail (not waited for) */
		if (r == 0 && i != last && pd_db_sync_point(db, &e1) < 0)
			r = -1;
		if (r == 0 && i == last && pd_db_sync(db, &e1) < 0)
			r = -1; /* the last mail's tail is checked before the checkpoint */
		if (r < 0) {
			int t = pd_db_failed_tag(db);
			if (t >= 0 && (size_t)t < i) {
				/* the previous mail's tail failed: this one never started */
				item_reset(it);
				i = (size_t)t;
				it = &items[i];
			}
			if (mail_failed(db, ctx, it, (int)i, &e1, err) < 0) {
				/* the caller may store the batch again around this mail */
				it->timed_out = err->code == PD_DB_TIMEOUT;
				goto fail;
			}
			i++;
			continue;
		}
		if (r == 1) {
			/* stored meanwhile by another process: this mail's work must go */
			pd_db_discard(db);
			if (exec_simple(db, "ROLLBACK TO SAVEPOINT pd_mail", err) < 0 ||
			    pd_db_defer(db, NULL, "RELEASE SAVEPOINT pd_mail", 0, NULL, err) < 0)
				goto fail;
			if (i == last ? pd_db_sync(db, err) < 0 : pd_db_sync_point(db, err) < 0)
				goto fail;
		}
		i++;
	}
	for (size_t i = 0; i < n; i++)
		if (items[i].action != PD_INGEST_FAILED && items[i].action != PD_INGEST_PENDING &&
		    items[i].uid > checkpoint)
			checkpoint = items[i].uid;

	p_init(&p);
	p_text(&p, ctx->mailbox);
	p_int(&p, ctx->uidvalidity);
	p_int(&p, checkpoint);
	if (run_done(db, "pd_checkpoint",
		  "INSERT INTO mailbox_state (name, uidvalidity, last_uid, last_poll_at)"
		  " VALUES ($1, $2::bigint, $3::bigint, now())"
		  " ON CONFLICT (name) DO UPDATE SET"
		  "  last_uid = CASE WHEN mailbox_state.uidvalidity = EXCLUDED.uidvalidity"
		  "                  THEN greatest(mailbox_state.last_uid, EXCLUDED.last_uid)"
		  "                  ELSE mailbox_state.last_uid END,"
		  "  last_poll_at = now(), last_error = NULL, updated_at = now()",
		     &p, err) < 0)
		goto fail;
	if (pd_db_commit(db, err) < 0)
		goto fail;
	free(done);
	return 0;
fail:
	free(done);
	pd_db_rollback(db);
	for (size_t i = 0; i < n; i++) {
		items[i].action = PD_INGEST_FAILED;
		items[i].ticket = 0;
	}
	return -1;
}

int pd_store_get_mailbox(struct pd_db *db, const char *mailbox, uint32_t *uidvalidity_r,
			 uint32_t *last_uid_r, struct pd_err *err)
{
	const char *params[1] = {mailbox};
	PGresult *res = pd_db_query(db, "pd_get_mailbox",
				    "SELECT uidvalidity, last_uid FROM mailbox_state WHERE name = $1",
				    1, params, err);
	int found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		*uidvalidity_r = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
		*last_uid_r = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return found;
}

int pd_store_set_uidvalidity(struct pd_db *db, const char *mailbox, uint32_t uidvalidity,
			     struct pd_err *err)
{
	struct params p;

	p_init(&p);
	p_text(&p, mailbox);
	p_int(&p, uidvalidity);
	return run_done(db, "pd_set_uidvalidity",
		  "INSERT INTO mailbox_state (name, uidvalidity, last_uid) VALUES ($1, $2::bigint, 0)"
		  " ON CONFLICT (name) DO UPDATE SET uidvalidity = EXCLUDED.uidvalidity,"
		  "  last_uid = 0, updated_at = now()",
			&p, err);
}

/* One statement: check, update, and record who changed what. */
static const char SQL_SET_FIELD[] =
    "WITH old AS (SELECT id, status, priority, queue, assignee, line, type FROM tickets"
    "             WHERE id = $1::bigint FOR UPDATE),"
    " upd AS (UPDATE tickets t SET"
    "   status = CASE WHEN $2 = 'status' THEN $3 ELSE t.status END,"
    "   priority = CASE WHEN $2 = 'priority' THEN $3 ELSE t.priority END,"
    "   queue = CASE WHEN $2 = 'queue' THEN $3 ELSE t.queue END,"
    "   assignee = CASE WHEN $2 = 'assignee' THEN nullif($3, '') ELSE t.assignee END,"
    "   line = CASE WHEN $2 = 'line' THEN $3::int ELSE t.line END,"
    "   type = CASE WHEN $2 = 'type' THEN $3 ELSE t.type END,"
    "   resolved_at = CASE WHEN $2 = 'status' AND $3 = 'resolved' THEN now()"
    "                      WHEN $2 = 'status' AND $3 IN ('new', 'open', 'pending') THEN NULL"
    "                      ELSE t.resolved_at END,"
    "   closed_at = CASE WHEN $2 = 'status' AND $3 = 'closed' THEN now()"
    "                    WHEN $2 = 'status' THEN NULL ELSE t.closed_at END,"
    "   updated_at = now()"
    "  FROM old WHERE t.id = old.id RETURNING t.id),"
    " ev AS (INSERT INTO events (ticket_id, actor, kind, detail)"
    "  SELECT old.id, $4, $2 || '.changed', json_build_object('field', $2::text, 'from',"
    "    CASE $2 WHEN 'status' THEN old.status WHEN 'priority' THEN old.priority"
    "            WHEN 'queue' THEN old.queue WHEN 'assignee' THEN old.assignee"
    "            WHEN 'type' THEN old.type ELSE old.line::text END, 'to', $3::text)"
    "  FROM old)"
    "SELECT count(*) FROM upd";

int pd_store_set_field(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
		       const char *field, const char *value, const char *actor, struct pd_err *err)
{
	struct params p;
	PGresult *res;
	int found;
	/* the clocks follow status, priority and line: one transaction */
	bool clocks = strcmp(field, "status") == 0 || strcmp(field, "priority") == 0 ||
		      strcmp(field, "line") == 0;
	bool own_tx = clocks && PQtransactionStatus(pd_db_pg(db)) == PQTRANS_IDLE;

	if (own_tx && pd_db_begin(db, err) < 0)
		return -1;
	p_init(&p);
	p_int(&p, ticket);
	p_text(&p, field);
	p_text(&p, value);
	p_text(&p, actor);
	res = run(db, "pd_set_field", SQL_SET_FIELD, &p, err);
	p_free(&p);
	if (res == NULL)
		goto fail;
	found = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	if (found && clocks && pd_slascan_sync(db, cfg, ticket, time(NULL), err) < 0)
		goto fail;
	if (own_tx && pd_db_commit(db, err) < 0)
		goto fail;
	return found;
fail:
	if (own_tx)
		pd_db_rollback(db);
	return -1;
}

int pd_store_mailbox_status(struct pd_db *db, const char *mailbox, const char *error,
			    struct pd_err *err)
{
	struct params p;

	p_init(&p);
	p_text(&p, mailbox);
	p_text(&p, error);
	/* uidvalidity 0 = never selected: pd_ingest_open takes it for "none" */
	return run_done(db, "pd_mailbox_status",
		  "INSERT INTO mailbox_state (name, uidvalidity, last_poll_at, last_error,"
		  "                           last_error_at)"
		  " VALUES ($1, 0, CASE WHEN $2::text IS NULL THEN now() END, $2,"
		  "         CASE WHEN $2::text IS NOT NULL THEN now() END)"
		  " ON CONFLICT (name) DO UPDATE SET"
		  "  last_poll_at = CASE WHEN $2::text IS NULL THEN now()"
		  "                      ELSE mailbox_state.last_poll_at END,"
		  "  last_error = $2,"
		  "  last_error_at = CASE WHEN $2::text IS NULL THEN mailbox_state.last_error_at"
		  "                       ELSE now() END",
			&p, err);
}

static const char SQL_REPROCESS[] =
    "WITH u AS ("
    "  UPDATE messages SET message_id = coalesce(message_id, nullif($2, '')),"
    "    in_reply_to = $3, refs = $4::text[], from_name = $5, from_address = $6,"
    "    to_addrs = (SELECT coalesce(jsonb_agg(jsonb_build_object('name', n, 'address', a)"
    "                ORDER BY i), '[]') FROM unnest($7::text[], $8::text[])"
    "                WITH ORDINALITY AS x(a, n, i)),"
    "    cc_addrs = (SELECT coalesce(jsonb_agg(jsonb_build_object('name', n, 'address', a)"
    "                ORDER BY i), '[]') FROM unnest($9::text[], $10::text[])"
    "                WITH ORDINALITY AS x(a, n, i)),"
    "    subject = $11, sent_date = to_timestamp(nullif($12, '0')::double precision),"
    "    body_text = $13, body_charset = nullif($14, ''), parse_error = $15"
    "  WHERE id = $1::bigint RETURNING ticket_id, id),"
    " d AS (DELETE FROM attachments WHERE message_id = $1::bigint),"
    " e AS (INSERT INTO events (ticket_id, message_id, actor, kind, detail)"
    "   SELECT ticket_id, id, $16, 'message.reprocessed',"
    "     jsonb_build_object('parse_error', $15::text) FROM u)"
    "SELECT ticket_id FROM u";

int pd_store_reprocess(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
		       int64_t index, const char *actor, char **parse_error_r,
		       struct pd_err *err)
{
	struct params p;
	PGresult *res;
	struct pd_msg *msg = NULL;
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	int64_t message;
	int rc = -1;

	*parse_error_r = NULL;
	if (pd_db_begin(db, err) < 0)
		return -1;
	p_init(&p);
	p_int(&p, ticket);
	p_int(&p, index);
	res = run(db, "pd_reprocess_find",
		  "SELECT m.id, r.raw, m.raw_size FROM messages m"
		  " JOIN message_raw r ON r.message_id = m.id"
		  " WHERE m.ticket_id = $1::bigint ORDER BY m.id OFFSET $2::bigint - 1 LIMIT 1"
		  " FOR UPDATE OF m",
		  &p, err);
	p_free(&p);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		pd_db_rollback(db);
		return 0;
	}
	message = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 1), &raw_len);
	int64_t server_size = get_i64(res, 2);
	PQclear(res);
	if (raw == NULL) {
		pd_err_set(err, PD_ERR_PERM, PD_SRC_STORE, 0, "stored original of message %lld unreadable",
			   (long long)message);
		goto fail;
	}
	struct pd_mime_opts mopts = {cfg->max_message_size, 0, 0};
	bool partial = server_size > 0 && (uint64_t)server_size > raw_len;
	if (partial)
		mopts.max_size = 1; /* only a prefix was stored: its header, never its parts */
	msg = pd_mime_parse((const char *)raw, raw_len, &mopts);
	if (partial) {
		/* the ticket stays flagged: the mail itself is on the mail server */
		free(msg->parse_error);
		msg->parse_error = pd_xasprintf(
		    "only the first %zu of its %lld bytes were stored (it was above "
		    "max_message_size); the whole mail is on the mail server",
		    raw_len, (long long)server_size);
	}
	if (msg->parse_error != NULL)
		*parse_error_r = pd_xstrdup(msg->parse_error);

	p_init(&p);
	p_int(&p, message);                                                    /* 1 */
	p_text(&p, msg->message_id ? msg->message_id : "");                   /* 2 */
	p_text(&p, msg->in_reply_to);                                          /* 3 */
	p_own(&p, array_literal(msg->references, msg->n_references, NULL, NULL)); /* 4 */
	p_text(&p, msg->from.name);                                            /* 5 */
	p_text(&p, msg->from.address);                                         /* 6 */
	p_own(&p, array_literal(NULL, msg->to.n, addr_address, &msg->to));     /* 7 */
	p_own(&p, array_literal(NULL, msg->to.n, addr_name, &msg->to));        /* 8 */
	p_own(&p, array_literal(NULL, msg->cc.n, addr_address, &msg->cc));     /* 9 */
	p_own(&p, array_literal(NULL, msg->cc.n, addr_name, &msg->cc));        /* 10 */
	p_text(&p, msg->subject);                                              /* 11 */
	p_int(&p, (int64_t)msg->date);                                         /* 12 */
	p_text(&p, msg->body_text);                                            /* 13 */
	p_text(&p, msg->body_charset ? msg->body_charset : "");                /* 14 */
	p_text(&p, msg->parse_error);                                          /* 15 */
	p_text(&p, actor);                                                     /* 16 */
	if (run_done(db, "pd_reprocess", SQL_REPROCESS, &p, err) < 0)
		goto fail;
	if (insert_attachments(db, msg, message, err) < 0)
		goto fail;
	/* lift the flag when nothing of the ticket is left unparsed */
	if (ticket_stmt(db, "pd_reprocess_unflag",
			"UPDATE tickets SET flagged = false, flag_reason = NULL"
			" WHERE id = $1::bigint AND flagged AND $2::int = 0 AND NOT EXISTS"
			" (SELECT 1 FROM messages WHERE ticket_id = $1::bigint"
			"   AND parse_error IS NOT NULL)",
			ticket, 0, err) < 0)
		goto fail;
	if (pd_db_commit(db, err) < 0)
		goto fail;
	rc = 1;
	goto out;
fail:
	pd_db_rollback(db);
out:
	pd_msg_free(msg);
	PQfreemem(raw);
	return rc;
}

int pd_store_gauges(struct pd_db *db, uint64_t outbox_r[3], uint64_t tickets_r[5][4],
		    struct pd_err *err)
{
	static const char *const statuses[5] = {"new", "open", "pending", "resolved", "closed"};
	static const char *const priorities[4] = {"critical", "high", "normal", "low"};
	PGresult *res;

	memset(outbox_r, 0, 3 * sizeof(outbox_r[0]));
	memset(tickets_r, 0, 5 * sizeof(tickets_r[0]));
	res = pd_db_query(db, "pd_gauges_outbox",
			  "SELECT count(*) FILTER (WHERE status = 'queued'),"
			  " count(*) FILTER (WHERE status = 'sending'),"
			  " count(*) FILTER (WHERE status = 'failed')"
			  " FROM outbox WHERE status <> 'sent'",
			  0, NULL, err);
	if (res == NULL)
		return -1;
	for (int i = 0; i < 3; i++)
		outbox_r[i] = strtoull(PQgetvalue(res, 0, i), NULL, 10);
	PQclear(res);
	res = pd_db_query(db, "pd_gauges_tickets",
			  "SELECT status, priority, count(*) FROM tickets GROUP BY 1, 2", 0, NULL,
			  err);
	if (res == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++)
		for (int a = 0; a < 5; a++)
			for (int b = 0; b < 4; b++)
				if (strcmp(PQgetvalue(res, r, 0), statuses[a]) == 0 &&
				    strcmp(PQgetvalue(res, r, 1), priorities[b]) == 0)
					tickets_r[a][b] = strtoull(PQgetvalue(res, r, 2), NULL, 10);
	PQclear(res);
	return 0;
}
