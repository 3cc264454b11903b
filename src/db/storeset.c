/*
 * storeset.c - the set-based part of the ingest transaction.
 *
 * A batch's mails are looked at together: one statement gathers the facts
 * of all of them (what the per-mail path asks one mail at a time), the
 * planner decides each one in order, and every mail that opens a new ticket
 * (or is a duplicate) and depends on no other mail of the batch is written
 * with a few set-based statements for all of them at once:
 *   - ticket and message numbers from their sequences in one call;
 *   - one INSERT ... SELECT FROM unnest(arrays) per table: tickets,
 *     participants, events, messages, raw bytes, blobs and attachments;
 *   - the acknowledgements and notices rendered (compose.c) into a collector
 *     and written with one statement (outbox.h).
 * A mail depends on an earlier one of the batch when they share a sender (its
 * automatic-mail counts, participation), a Message-ID or content, when it
 * refers to the earlier one's Message-ID, or when the earlier one is a bounce
 * about its sender: such a mail, and every mail the planner threads into an
 * existing ticket, is left to the per-mail path (store.c), which runs after
 * this part in the same transaction and so sees what it wrote.
 *
 * Isolation stays exact: when the set's statements fail on data (a value the
 * database refuses), they are rolled back to a savepoint and written again
 * by halves, down to the single mail, which is then left to the per-mail path
 * (where it is kept raw on a flagged ticket, as before).
 */
#include "autoconfig.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "agentid.h"
#include "compose.h"
#include "db_int.h"
#include "ioutil.h"
#include "kbdb.h"
#include "log.h"
#include "outbox.h"
#include "plan.h"
#include "replyaddr.h"
#include "slascan.h"
#include "store.h"
#include "storeset.h"
#include "util.h"

/* One mail of the batch as the set sees it. */
struct smail {
	struct pd_ingest_item *it;
	struct pd_plan_probe probe;
	struct pd_plan_facts facts;
	struct pd_auto_counts counts;
	struct pd_plan plan;
	bool planned;
	bool fresh;              /* a new ticket (else a follow-up on plan.ticket) */
	bool follows;            /* the same as an earlier mail of the batch, or its reply */
	bool odd;                /* a value the facts' statement cannot carry (not UTF-8) */
	bool written;            /* its rows are in */
	int64_t ticket, message; /* its ticket (given for a new one) and message numbers */
};

/* Where a batch's time goes (milliseconds), for the debug log line. */
static struct {
	int64_t facts, plan, rows, kb, compose, sync;
} took;

/* ------------------------------------------------------------ arrays */

/* Up to 24 array parameters of one statement. */
#define MAX_ARRAYS 24
struct arrays {
	int n;
	struct pd_db_array a[MAX_ARRAYS];
	const char *v[MAX_ARRAYS + 2];
	int len[MAX_ARRAYS + 2], fmt[MAX_ARRAYS + 2];
};

static void arrays_init(struct arrays *s, const char *oids)
{
	s->n = (int)strlen(oids);
	for (int k = 0; k < s->n; k++)
		pd_db_array_init(&s->a[k], oids[k] == 'i'   ? PD_OID_INT8
					   : oids[k] == 'b' ? PD_OID_BYTEA
							    : PD_OID_TEXT);
}

static void arrays_free(struct arrays *s)
{
	for (int k = 0; k < s->n; k++)
		pd_db_array_free(&s->a[k]);
	s->n = 0; /* freed: a second call does nothing */
}

static void arrays_values(struct arrays *s)
{
	for (int k = 0; k < s->n; k++) {
		s->v[k] = pd_db_array_value(&s->a[k], &s->len[k]);
		s->fmt[k] = 1;
	}
}

/* Text parameters after the arrays ($n+1...), e.g. the mailbox's name. */
static void arrays_scalar(struct arrays *s, int at, const char *v)
{
	s->v[at] = v;
	s->len[at] = 0;
	s->fmt[at] = 0;
}

/* Send a statement over the arrays (and n_scalars text values after them,
 * set with arrays_scalar after arrays_values) without waiting for it. */
static int arrays_send(struct pd_db *db, const char *name, const char *sql, struct arrays *s,
		       int n_scalars, struct pd_err *err)
{
	int r = pd_db_defer_bin(db, name, sql, s->n + n_scalars, s->v, s->len, s->fmt, err);
	arrays_free(s);
	return r;
}

static int arrays_defer(struct pd_db *db, const char *name, const char *sql, struct arrays *s,
			struct pd_err *err)
{
	arrays_values(s);
	return arrays_send(db, name, sql, s, 0, err);
}

/* NULL stays SQL NULL, as a NULL text parameter does in the per-mail path. */
static void add_str(struct arrays *s, int k, const char *v)
{
	if (v == NULL)
		pd_db_array_add(&s->a[k], NULL, 0);
	else
		pd_db_array_add_str(&s->a[k], v);
}

static void add_own(struct arrays *s, int k, char *v)
{
	pd_db_array_add_str(&s->a[k], v);
	free(v);
}

static void add_i64(struct arrays *s, int k, int64_t v)
{
	pd_db_array_add_int8(&s->a[k], v);
}

/* A time as epoch seconds text, "" = none (to_timestamp(nullif(...))). */
static void add_time(struct arrays *s, int k, time_t t)
{
	if (t == 0)
		add_str(s, k, "");
	else
		add_own(s, k, pd_xasprintf("%lld", (long long)t));
}

static const char *addr_address(const void *ctx, size_t i)
{
	return ((const struct pd_addrlist *)ctx)->v[i].address;
}

static const char *addr_name(const void *ctx, size_t i)
{
	return ((const struct pd_addrlist *)ctx)->v[i].name;
}

/* ------------------------------------------------------------- facts */

/*
 * The per-mail lookup of store.c for every mail of the batch at once: one
 * row per mail, in the batch's order.
 */
static const char SQL_FACTS[] =
    "SELECT" PD_STORE_FACTS_COLS("m.mid", "m.hash", "m.refs::text[]", "m.tag", "m.sender",
				 "m.token", "m.bounce_of")
    " FROM unnest($1::text[], $2::bytea[], $3::text[], $4::bigint[], $5::text[], $6::bigint[],"
    "             $7::text[]) WITH ORDINALITY AS m(mid, hash, refs, tag, sender, token,"
    "                                              bounce_of, i)"
    " CROSS JOIN LATERAL (" PD_OUTBOX_AUTO_COUNTS_SQL("m.sender") ") AS counts"
    " ORDER BY m.i";

#define MAX_REPLY_TICKETS 8

static bool text_ok(const char *s)
{
	return s == NULL || pd_utf8_valid(s, strlen(s));
}

static int64_t cell_i64(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static int gather_facts(struct pd_db *db, const struct pd_store_ctx *ctx, struct smail *m,
			size_t n, int64_t (*reply)[MAX_REPLY_TICKETS], struct pd_err *err)
{
	struct arrays s;
	PGresult *res;

	arrays_init(&s, "tbtitit");
	for (size_t i = 0; i < n; i++) {
		const struct pd_msg *msg = m[i].it->msg;
		/* text the database would refuse (not UTF-8) is the per-mail
		 * path's to deal with: this mail is asked about with nothing */
		m[i].odd = !text_ok(msg->message_id) || !text_ok(msg->from.address) ||
			   !text_ok(m[i].probe.bounce_of);
		for (size_t r = 0; r < msg->n_references && !m[i].odd; r++)
			m[i].odd = !text_ok(msg->references[r]);
		if (m[i].odd) {
			reply[i][0] = 0;
			add_str(&s, 0, "");
			pd_db_array_add(&s.a[1], msg->content_hash, sizeof(msg->content_hash));
			add_str(&s, 2, "{}");
			add_i64(&s, 3, 0);
			add_str(&s, 4, "");
			add_i64(&s, 5, 0);
			add_str(&s, 6, "");
			continue;
		}
		int k = pd_reply_tickets(db, ctx->cfg, msg, reply[i], MAX_REPLY_TICKETS, err);
		if (k < 0) {
			arrays_free(&s);
			return -1;
		}
		m[i].facts.reply_tickets = reply[i];
		m[i].facts.n_reply_tickets = (size_t)k;
		add_str(&s, 0, msg->message_id ? msg->message_id : "");
		pd_db_array_add(&s.a[1], msg->content_hash, sizeof(msg->content_hash));
		add_own(&s, 2, pd_db_text_array(msg->n_references, pd_db_strv_get, msg->references));
		add_i64(&s, 3, m[i].probe.tag);
		add_str(&s, 4, msg->from.address);
		add_i64(&s, 5, k > 0 ? reply[i][0] : 0);
		add_str(&s, 6, m[i].probe.bounce_of ? m[i].probe.bounce_of : "");
	}
	arrays_values(&s);
	res = pd_db_query_bin(db, "pd_set_facts", SQL_FACTS, s.n, s.v, s.len, s.fmt, err);
	arrays_free(&s);
	if (res == NULL)
		return -1;
	if ((size_t)PQntuples(res) != n) {
		PQclear(res);
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_DB, 0,
				  "the batch's facts came back with %d rows for %zu mails",
				  PQntuples(res), n);
	}
	for (size_t i = 0; i < n; i++) {
		struct pd_plan_facts *f = &m[i].facts;
		int r = (int)i;
		f->duplicate_of = cell_i64(res, r, 0);
		f->own_ref_ticket = cell_i64(res, r, 1);
		f->ref_ticket = cell_i64(res, r, 2);
		f->tag_ticket = cell_i64(res, r, 3);
		f->tag_from_participant = PQgetvalue(res, r, 4)[0] == 't';
		f->token_ticket = cell_i64(res, r, 5);
		f->bounce_ticket = cell_i64(res, r, 6);
		m[i].counts.recent = atoi(PQgetvalue(res, r, 7));
		m[i].counts.day = atoi(PQgetvalue(res, r, 8));
		m[i].counts.suppressed = PQgetvalue(res, r, 9)[0] == 't';
	}
	PQclear(res);
	return 0;
}

/* -------------------------------------------------------- dependencies */

/* Mail x as the batch rules (plan.h) see it. */
static struct pd_plan_item item_of(const struct smail *x)
{
	return (struct pd_plan_item){x->it->msg, &x->probe, &x->facts,
				     x->planned ? &x->plan : NULL};
}

/* Plan mail i on the batch's facts; returns what the set may write of it
 * (PD_SET_NO when it depends on an earlier mail of the batch). */
static enum pd_plan_set plan_for_set(const struct pd_store_ctx *ctx, struct smail *m, size_t i)
{
	struct smail *y = &m[i];
	const struct pd_msg *msg = y->it->msg;
	bool dependent = false;

	if (y->odd || msg->parse_failed || msg->oversized || y->facts.n_reply_tickets > 0 ||
	    y->probe.is_dsn || (y->probe.tag != 0 && y->facts.tag_ticket == 0))
		return PD_SET_NO;
	for (size_t k = 0; k < i && !y->follows; k++) {
		struct pd_plan_item x = item_of(&m[k]), me = item_of(y);
		enum pd_plan_dep d = pd_plan_depends(&x, &me);
		y->follows = d == PD_DEP_FOLLOWS;
		dependent = dependent || d != PD_DEP_NONE;
	}
	if (y->follows)
		return PD_SET_NO;
	/* planned also when it depends on an earlier mail: what it would be
	 * tells whether it may open a ticket (pd_plan_may_open) */
	const struct pd_plan_input in = {
	    .cfg = ctx->cfg,
	    .mailbox = ctx->mailbox,
	    .msg = msg,
	    .probe = &y->probe,
	    .facts = &y->facts,
	};
	pd_plan_mail(&in, &y->plan);
	y->planned = true;
	for (size_t k = 0; k < i && !dependent; k++) {
		/* the ticket it threads to, now known */
		struct pd_plan_item x = item_of(&m[k]);
		dependent = pd_plan_may_touch(&x, y->plan.ticket);
	}
	if (dependent)
		return PD_SET_NO;
	enum pd_plan_set set = pd_plan_set_kind(&y->plan);
	y->fresh = set == PD_SET_NEW;
	return set;
}

/*
 * The facts of the tickets the follow-ups y[0..k) thread to, locked for
 * this transaction (in the order of their numbers, so two instances lock
 * alike), then each one planned again with them.
 */
static const char SQL_TICKET_FACTS[] =
    "WITH l AS MATERIALIZED (SELECT id FROM tickets WHERE id = ANY($1::bigint[])"
    "                        ORDER BY id FOR UPDATE)"
    "SELECT u.i," PD_STORE_TICKET_FACTS_COLS("t", "u.sender")
    " FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(tk, sender, i)"
    " JOIN l ON l.id = u.tk JOIN tickets t ON t.id = u.tk"
    " ORDER BY u.i";

static int plan_follow_ups(struct pd_db *db, const struct pd_store_ctx *ctx, struct smail **y,
			   size_t k, struct pd_err *err)
{
	struct arrays s;
	PGresult *res;

	if (k == 0)
		return 0;
	arrays_init(&s, "it");
	for (size_t i = 0; i < k; i++) {
		add_i64(&s, 0, y[i]->plan.ticket);
		add_str(&s, 1, y[i]->it->msg->from.address);
	}
	arrays_values(&s);
	res = pd_db_query_bin(db, "pd_set_ticket_facts", SQL_TICKET_FACTS, s.n, s.v, s.len, s.fmt,
			      err);
	arrays_free(&s);
	if (res == NULL)
		return -1;
	for (size_t i = 0; i < k; i++)
		y[i]->facts.ticket.known = true; /* a ticket that is gone: exists stays false */
	for (int r = 0; r < PQntuples(res); r++) {
		size_t i = (size_t)strtoull(PQgetvalue(res, r, 0), NULL, 10) - 1;
		struct pd_plan_ticket_facts *t;
		if (i >= k)
			continue;
		t = &y[i]->facts.ticket;
		t->exists = true;
		snprintf(t->status, sizeof(t->status), "%s", PQgetvalue(res, r, 1));
		t->resolved_age = cell_i64(res, r, 2);
		t->surveyed = PQgetvalue(res, r, 3)[0] == 't';
		t->from_participant = PQgetvalue(res, r, 4)[0] == 't';
		t->unassigned = PQgetvalue(res, r, 5)[0] == 't';
	}
	PQclear(res);
	for (size_t i = 0; i < k; i++) {
		const struct pd_plan_input in = {
		    .cfg = ctx->cfg,
		    .mailbox = ctx->mailbox,
		    .msg = y[i]->it->msg,
		    .probe = &y[i]->probe,
		    .facts = &y[i]->facts,
		};
		pd_plan_free(&y[i]->plan);
		pd_plan_mail(&in, &y[i]->plan);
	}
	return 0;
}

/* --------------------------------------------------------------- writes */

static const char SQL_TICKETS[] =
    "INSERT INTO tickets (id, subject, requester_address, requester_name, queue, mailbox,"
    "  language, priority, line, sla_calendar, sla_since, first_response_target,"
    "  resolution_target, first_response_due, first_response_warn, resolution_due,"
    "  resolution_warn, plan, type)"
    " SELECT id, subject, lower(addr), name, queue, $19, lang, prio, line::int,"
    "   nullif(cal, ''), to_timestamp(nullif(since, '')::double precision),"
    "   nullif(frt, 0), nullif(rest, 0),"
    "   to_timestamp(nullif(frd, '')::double precision),"
    "   to_timestamp(nullif(frw, '')::double precision),"
    "   to_timestamp(nullif(rd, '')::double precision),"
    "   to_timestamp(nullif(rw, '')::double precision), nullif(plan, ''), type"
    " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
    "             $7::text[], $8::bigint[], $9::text[], $10::text[], $11::bigint[],"
    "             $12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[],"
    "             $17::text[], $18::text[])"
    "   AS u(id, subject, addr, name, queue, lang, prio, line, cal, since, frt, rest, frd, frw,"
    "        rd, rw, plan, type)";

/* The classification of each new ticket (pd_store_classified_json). */
static const char SQL_CLASSIFIED[] =
    "INSERT INTO events (ticket_id, actor, kind, detail)"
    " SELECT t, 'mailbox:' || $3, 'ticket.classified', d::jsonb"
    " FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(t, d, i)"
    " ORDER BY i";

static json_object *jstr_or_empty(const char *s)
{
	return json_object_new_string(s != NULL ? s : "");
}

char *pd_store_classified_json(const struct pd_classification *c, const char *plan)
{
	json_object *o = json_object_new_object(), *reasons = json_object_new_array();

	json_object_object_add(o, "priority", json_object_new_string(pd_priority_name(c->priority)));
	json_object_object_add(o, "type", json_object_new_string(pd_type_name(c->type)));
	json_object_object_add(o, "queue", jstr_or_empty(c->queue));
	json_object_object_add(o, "line", json_object_new_int(c->line));
	json_object_object_add(o, "plan",
			       plan != NULL && plan[0] != '\0' ? json_object_new_string(plan) : NULL);
	for (size_t i = 0; i < c->n_reasons; i++) {
		const struct pd_reason *r = &c->reasons[i];
		json_object *x = json_object_new_object();
		json_object_object_add(x, "what", jstr_or_empty(r->what));
		json_object_object_add(x, "source", jstr_or_empty(r->source));
		json_object_object_add(x, "rule", jstr_or_empty(r->rule));
		json_object_object_add(x, "matched", jstr_or_empty(r->matched));
		json_object_object_add(x, "field", jstr_or_empty(r->field));
		json_object_object_add(x, "value", jstr_or_empty(r->value));
		json_object_object_add(x, "decided", json_object_new_boolean(r->decided != 0));
		json_object_array_add(reasons, x);
	}
	json_object_object_add(o, "reasons", reasons);
	char *s = pd_xstrdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/* The requesters, and the Cc's as store.c's add_cc picks them ($5 the
 * sender of each row's mail, $6 the support address). */
static const char SQL_PARTICIPANTS[] =
    "INSERT INTO participants (ticket_id, address, name, role)"
    " SELECT t, lower(a), n, r FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],"
    "                                      $5::text[]) WITH ORDINALITY AS u(t, a, n, r, sender, i)"
    "  WHERE r = 'requester' OR (" PD_STORE_CC_WHERE("a", "ARRAY[$6, sender]") ")"
    "  ORDER BY i"
    " ON CONFLICT DO NOTHING";

static const char SQL_MESSAGES[] =
    "INSERT INTO messages (id, ticket_id, direction, kind, message_id, content_hash,"
    "  in_reply_to, refs, from_name, from_address, to_addrs, cc_addrs, subject, sent_date,"
    "  body_text, body_charset, raw_size, parse_error, mailbox, uidvalidity, uid)"
    " OVERRIDING SYSTEM VALUE"
    " SELECT id, ticket, 'in', kind, nullif(mid, ''), hash, nullif(irt, ''), refs::text[],"
    "   fname, faddr,"
    "   (SELECT coalesce(jsonb_agg(jsonb_build_object('name', n, 'address', a) ORDER BY i),"
    "      '[]') FROM unnest(ta::text[], tn::text[]) WITH ORDINALITY AS x(a, n, i)),"
    "   (SELECT coalesce(jsonb_agg(jsonb_build_object('name', n, 'address', a) ORDER BY i),"
    "      '[]') FROM unnest(ca::text[], cn::text[]) WITH ORDINALITY AS x(a, n, i)),"
    "   subject, to_timestamp(nullif(sent, 0)::double precision), body, nullif(charset, ''),"
    "   size, NULL, $20, $21::bigint, uid"
    " FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bytea[],"
    "             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],"
    "             $12::text[], $13::text[], $14::text[], $15::bigint[], $16::text[],"
    "             $17::text[], $18::bigint[], $19::bigint[]) WITH ORDINALITY"
    "   AS u(id, ticket, kind, mid, hash, irt, refs, fname, faddr, ta, tn, ca, cn, subject,"
    "        sent, body, charset, size, uid, ord)"
    " ORDER BY ord";

static const char SQL_RAW[] =
    "INSERT INTO message_raw (message_id, raw)"
    " SELECT * FROM unnest($1::bigint[], $2::bytea[])";

/* Each message's event (ticket.created or message.threaded), and the
 * follow-ups' tickets ($8) touched. */
static const char SQL_EVENTS[] =
    "WITH t AS (UPDATE tickets SET updated_at = now() WHERE id = ANY($8::bigint[]))"
    "INSERT INTO events (ticket_id, message_id, actor, kind, detail)"
    " SELECT t, m, 'mailbox:' || $9, kind,"
    "   jsonb_build_object('rule', rule, 'mailbox', $9::text, 'uid', uid,"
    "                      'message_id', nullif(mid, ''), 'from', sender)"
    " FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],"
    "             $6::text[], $7::text[]) WITH ORDINALITY"
    "   AS u(t, m, rule, uid, mid, sender, kind, i)"
    " ORDER BY i";

static const char SQL_ATTACHMENTS[] =
    "WITH a AS (SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[], $4::bigint[],"
    "                                $5::bigint[], $6::text[], $7::text[], $8::text[],"
    "                                $9::text[]) WITH ORDINALITY"
    "             AS u(sha, size, data, msg, pos, fname, ctype, disp, cid, i)),"
    " b AS (INSERT INTO blobs (sha256, size, data)"
    "       SELECT sha, size, data FROM a ORDER BY i ON CONFLICT (sha256) DO NOTHING)"
    "INSERT INTO attachments (message_id, position, filename, content_type, disposition,"
    "                         content_id, size, sha256)"
    " SELECT msg, pos::int, fname, ctype, disp, cid, size, sha"
    "   FROM a ORDER BY i";

/* Numbers for the new tickets among w[0..k) and for all their messages, in
 * one call (a follow-up's ticket is plan.ticket). */
static int take_numbers(struct pd_db *db, struct smail **w, size_t k, struct pd_err *err)
{
	char fresh[24], all[24];
	const char *v[2] = {fresh, all};
	size_t n_fresh = 0, f = 0;
	PGresult *res;

	for (size_t i = 0; i < k; i++)
		n_fresh += w[i]->fresh;
	snprintf(fresh, sizeof(fresh), "%zu", n_fresh);
	snprintf(all, sizeof(all), "%zu", k);
	res = pd_db_query(db, "pd_set_numbers",
			  "SELECT CASE WHEN g <= $1::int THEN nextval('tickets_id_seq'::regclass) END,"
			  "       nextval('messages_id_seq'::regclass)"
			  "  FROM generate_series(1, $2::int) AS g ORDER BY g",
			  2, v, err);
	if (res == NULL)
		return -1;
	if ((size_t)PQntuples(res) != k) {
		PQclear(res);
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_DB, 0, "the sequences gave too few numbers");
	}
	for (size_t i = 0; i < k; i++) {
		w[i]->ticket = w[i]->fresh ? cell_i64(res, (int)f++, 0) : w[i]->plan.ticket;
		w[i]->message = cell_i64(res, (int)i, 1);
	}
	PQclear(res);
	return 0;
}

static int write_tickets(struct pd_db *db, const struct pd_store_ctx *ctx, struct smail **w,
			 size_t k, time_t now, struct pd_err *err)
{
	struct arrays t, c, p;

	arrays_init(&t, "ittttttittiitttttt");
	arrays_init(&c, "it");
	arrays_init(&p, "itttt");
	size_t n_fresh = 0;
	for (size_t i = 0; i < k; i++) {
		const struct pd_msg *msg = w[i]->it->msg;
		const struct pd_plan_fresh *fr = &w[i]->plan.fresh;
		const struct pd_classification *cls = &fr->cls;
		const char *prio = pd_priority_name(cls->priority);
		struct pd_sla_initial sla;

		if (!w[i]->fresh)
			goto cc;
		n_fresh++;
		pd_slascan_initial(ctx->cfg, fr->plan, prio, cls->line, now, &sla);
		add_i64(&t, 0, w[i]->ticket);
		add_str(&t, 1, fr->subject);
		add_str(&t, 2, msg->from.address);
		add_str(&t, 3, msg->from.name);
		add_str(&t, 4, cls->queue);
		add_str(&t, 5, fr->language);
		add_str(&t, 6, prio);
		add_i64(&t, 7, cls->line);
		add_str(&t, 8, sla.calendar ? sla.calendar : "");
		add_time(&t, 9, sla.calendar ? sla.st.since : 0);
		add_i64(&t, 10, sla.first_response_target > 0 ? sla.first_response_target : 0);
		add_i64(&t, 11, sla.resolution_target > 0 ? sla.resolution_target : 0);
		add_time(&t, 12, sla.st.fr_due);
		add_time(&t, 13, sla.st.fr_warn);
		add_time(&t, 14, sla.st.res_due);
		add_time(&t, 15, sla.st.res_warn);
		add_str(&t, 16, fr->plan ? fr->plan : "");
		add_str(&t, 17, pd_type_name(cls->type));

		add_i64(&c, 0, w[i]->ticket);
		add_own(&c, 1, pd_store_classified_json(cls, fr->plan));

		/* the requester, then the customer's Cc's: everyone in To/Cc
		 * but our own addresses (the support address and its plus
		 * addresses) and the sender */
		if (msg->from.address[0] != '\0') {
			add_i64(&p, 0, w[i]->ticket);
			add_str(&p, 1, msg->from.address);
			add_str(&p, 2, msg->from.name);
			add_str(&p, 3, "requester");
			add_str(&p, 4, msg->from.address);
		}
	cc:
		if (!w[i]->plan.add_cc)
			continue;
		const struct pd_addrlist *lists[2] = {&msg->to, &msg->cc};
		for (size_t l = 0; l < 2; l++)
			for (size_t a = 0; a < lists[l]->n; a++) {
				const struct pd_addr *ad = &lists[l]->v[a];
				if (pd_support_plus(ctx->cfg->support_address, ad->address))
					continue;
				add_i64(&p, 0, w[i]->ticket);
				add_str(&p, 1, ad->address);
				add_str(&p, 2, ad->name);
				add_str(&p, 3, "cc");
				add_str(&p, 4, msg->from.address);
			}
	}
	if (n_fresh == 0) {
		arrays_free(&t);
		arrays_free(&c);
	} else {
		arrays_values(&t);
		arrays_scalar(&t, t.n, ctx->mailbox);
		arrays_values(&c);
		arrays_scalar(&c, c.n, ctx->mailbox);
		if (arrays_send(db, "pd_set_tickets", SQL_TICKETS, &t, 1, err) < 0 ||
		    arrays_send(db, "pd_set_classified", SQL_CLASSIFIED, &c, 1, err) < 0) {
			arrays_free(&c);
			arrays_free(&p);
			return -1;
		}
	}
	if (p.a[0].n == 0) {
		arrays_free(&p);
		return 0;
	}
	arrays_values(&p);
	arrays_scalar(&p, p.n, ctx->cfg->support_address);
	return arrays_send(db, "pd_set_participants", SQL_PARTICIPANTS, &p, 1, err);
}

/* The messages, not waited for: a mail another process stored meanwhile
 * fails the statement on the dedupe index (PD_DB_UNIQUE), when the batch's
 * statements are next waited for. */
static int write_messages(struct pd_db *db, const struct pd_store_ctx *ctx, struct smail **w,
			  size_t k, struct pd_err *err)
{
	struct arrays s;
	char uidvalidity[24];

	arrays_init(&s, "iittbtttttttttittii");
	for (size_t i = 0; i < k; i++) {
		const struct pd_msg *msg = w[i]->it->msg;
		add_i64(&s, 0, w[i]->message);
		add_i64(&s, 1, w[i]->ticket);
		add_str(&s, 2, w[i]->plan.msg_kind);
		add_str(&s, 3, msg->message_id ? msg->message_id : "");
		pd_db_array_add(&s.a[4], msg->content_hash, sizeof(msg->content_hash));
		add_str(&s, 5, msg->in_reply_to);
		add_own(&s, 6, pd_db_text_array(msg->n_references, pd_db_strv_get, msg->references));
		add_str(&s, 7, msg->from.name);
		add_str(&s, 8, msg->from.address);
		add_own(&s, 9, pd_db_text_array(msg->to.n, addr_address, &msg->to));
		add_own(&s, 10, pd_db_text_array(msg->to.n, addr_name, &msg->to));
		add_own(&s, 11, pd_db_text_array(msg->cc.n, addr_address, &msg->cc));
		add_own(&s, 12, pd_db_text_array(msg->cc.n, addr_name, &msg->cc));
		add_str(&s, 13, msg->subject);
		add_i64(&s, 14, (int64_t)msg->date);
		add_str(&s, 15, msg->body_text);
		add_str(&s, 16, msg->body_charset ? msg->body_charset : "");
		/* the size on the server, also when only a prefix was fetched */
		add_i64(&s, 17, (int64_t)(msg->server_size > msg->raw_len ? msg->server_size
									 : msg->raw_len));
		add_i64(&s, 18, w[i]->it->uid);
	}
	arrays_values(&s);
	snprintf(uidvalidity, sizeof(uidvalidity), "%" PRIu32, ctx->uidvalidity);
	arrays_scalar(&s, s.n, ctx->mailbox);
	arrays_scalar(&s, s.n + 1, uidvalidity);
	int r = pd_db_defer_bin(db, "pd_set_messages", SQL_MESSAGES, s.n + 2, s.v, s.len, s.fmt,
				err);
	arrays_free(&s);
	return r;
}

static int write_rest(struct pd_db *db, const struct pd_store_ctx *ctx, struct smail **w,
		      size_t k, struct pd_err *err)
{
	struct arrays raw, ev, at;

	arrays_init(&raw, "ib");
	arrays_init(&ev, "iitittti");
	arrays_init(&at, "bibiitttt");
	for (size_t i = 0; i < k; i++) {
		const struct pd_msg *msg = w[i]->it->msg;
		add_i64(&raw, 0, w[i]->message);
		pd_db_array_add(&raw.a[1], msg->raw, msg->raw_len);
		add_i64(&ev, 0, w[i]->ticket);
		add_i64(&ev, 1, w[i]->message);
		add_str(&ev, 2, w[i]->plan.rule);
		add_i64(&ev, 3, w[i]->it->uid);
		add_str(&ev, 4, msg->message_id);
		add_str(&ev, 5, msg->from.address);
		add_str(&ev, 6, w[i]->plan.event);
		if (!w[i]->fresh)
			add_i64(&ev, 7, w[i]->ticket);
		for (size_t a = 0; a < msg->n_attachments; a++) {
			const struct pd_attachment *f = &msg->attachments[a];
			pd_db_array_add(&at.a[0], f->sha256, sizeof(f->sha256));
			add_i64(&at, 1, (int64_t)f->size);
			pd_db_array_add(&at.a[2], f->data ? f->data : "", f->size);
			add_i64(&at, 3, w[i]->message);
			add_i64(&at, 4, (int64_t)a);
			add_str(&at, 5, f->filename);
			add_str(&at, 6, f->content_type ? f->content_type
							: "application/octet-stream");
			add_str(&at, 7, f->disposition);
			add_str(&at, 8, f->content_id);
		}
	}
	if (arrays_defer(db, "pd_set_raw", SQL_RAW, &raw, err) < 0) {
		arrays_free(&ev);
		arrays_free(&at);
		return -1;
	}
	arrays_values(&ev);
	arrays_scalar(&ev, ev.n, ctx->mailbox);
	int r = arrays_send(db, "pd_set_events", SQL_EVENTS, &ev, 1, err);
	if (r < 0 || at.a[0].n == 0) {
		arrays_free(&at);
		return r;
	}
	return arrays_defer(db, "pd_set_attachments", SQL_ATTACHMENTS, &at, err);
}

/* The acknowledgements and notices of the new tickets, gathered and then
 * written in one statement.  A template or address problem costs no mail:
 * it is logged; only a database error fails. */
static int write_mails(struct pd_db *db, const struct pd_store_ctx *ctx, struct smail **w,
		       size_t k, struct pd_outbox_collect *cp, struct pd_err *err)
{
	struct pd_outbox_collect c = *cp; /* what pd_compose_prefetch found */
	int rc = 0;

	memset(cp, 0, sizeof(*cp)); /* c owns it now */
	pd_db_set_collect(db, &c);
	for (size_t i = 0; i < k && rc == 0; i++) {
		const struct pd_plan *plan = &w[i]->plan;
		const struct pd_msg *msg = w[i]->it->msg;
		for (size_t s = 0; s < plan->n_steps && rc == 0; s++) {
			struct pd_err ce;
			int r;
			pd_err_clear(&ce);
			/* a new ticket has no notice to thread under yet */
			c.fresh = w[i]->fresh;
			/* the sender's automatic mails: the database's and those
			 * queued for the batch's earlier mails */
			struct pd_auto_counts counts = w[i]->counts;
			for (size_t o = 0; o < c.n_mails; o++)
				if (c.mails[o].automatic &&
				    pd_str_iequal(c.mails[o].to_address, msg->from.address)) {
					counts.recent++;
					counts.day++;
				}
			if (w[i]->fresh)
				r = pd_compose_new_ticket(db, ctx->cfg, w[i]->ticket, plan->fresh.subject,
							  plan->fresh.language, &plan->fresh.cls, msg,
							  w[i]->message,
							  plan->sender_counts ? &counts : NULL, &ce);
			else
				r = pd_compose_follow_up(db, ctx->cfg, w[i]->ticket, msg,
							 w[i]->message, &ce);
			if (r >= 0)
				continue;
			if (ce.src == PD_SRC_DB) {
				*err = ce;
				rc = -1;
			} else {
				pd_log_err("ticket=%lld from=%s: %s: %s", (long long)w[i]->ticket,
					   msg->from.address,
					   w[i]->fresh ? "no acknowledgement or notice sent"
						       : "no notice to the agents",
					   ce.msg);
			}
		}
	}
	pd_db_set_collect(db, NULL);
	if (rc == 0)
		rc = pd_outbox_collect_flush(db, &c, err);
	pd_outbox_collect_free(&c);
	return rc;
}

/* The knowledge-base suggestions of the new tickets' acknowledgements,
 * asked at once once their numbers are known (pd_kbdb_prefetch). */
static int kb_prefetch(struct pd_db *db, struct smail **w, size_t k, struct pd_outbox_collect *c,
		       int64_t *ms_r, struct pd_err *err)
{
	int64_t t0 = pd_now_ms();
	int64_t *tickets = pd_xcalloc(k, sizeof(*tickets));
	const char **langs = pd_xcalloc(k, sizeof(*langs));
	const char **subjects = pd_xcalloc(k, sizeof(*subjects));
	const char **bodies = pd_xcalloc(k, sizeof(*bodies));
	size_t n = 0;

	for (size_t i = 0; i < k; i++)
		if (w[i]->fresh && w[i]->plan.n_steps > 0) {
			tickets[n] = w[i]->ticket;
			langs[n] = w[i]->plan.fresh.language;
			subjects[n] = w[i]->it->msg->subject;
			bodies[n] = w[i]->it->msg->body_text;
			n++;
		}
	int rc = pd_kbdb_prefetch(db, c, n, tickets, langs, subjects, bodies, err);
	*ms_r = pd_now_ms() - t0;
	free(tickets);
	free(langs);
	free(subjects);
	free(bodies);
	return rc;
}

static int exec_simple(struct pd_db *db, const char *sql, struct pd_err *err)
{
	return pd_db_defer(db, NULL, sql, 0, NULL, err) < 0 ? -1 : pd_db_sync(db, err);
}

/*
 * Write the new tickets w[0..k) under a savepoint; each one written has
 * `written` set.  A mail that another process stored meanwhile rolls its
 * part back; a value the database refuses rolls back and writes the part
 * again by halves, down to the single mail.  Ticket numbers follow the
 * mails' order, so from the first mail that is not written on, nothing more
 * is: the rest is left to the per-mail path.  Returns 0 (all written), 1
 * (stopped), or -1 (err) when the transaction must go.
 */
static int write_set(struct pd_db *db, const struct pd_store_ctx *ctx, struct smail **w, size_t k,
		     time_t now, struct pd_err *err)
{
	struct pd_err e;

	if (k == 0)
		return 0;
	pd_err_clear(&e);
	int64_t t0 = pd_now_ms(), t1 = 0, t2 = 0, kb_ms = 0;
	/* what the follow-ups' notices need of their tickets, asked once and
	 * before the writes, so that composing waits for nothing */
	struct pd_outbox_collect c;
	int64_t *tickets = pd_xcalloc(k, sizeof(*tickets));
	size_t n_tickets = 0;
	pd_outbox_collect_init(&c, true);
	for (size_t i = 0; i < k; i++)
		if (!w[i]->fresh)
			tickets[n_tickets++] = w[i]->plan.ticket;
	bool ok = pd_db_defer(db, NULL, "SAVEPOINT pd_set", 0, NULL, &e) == 0 &&
	    pd_compose_prefetch(db, &c, tickets, n_tickets, &e) == 0 &&
	    take_numbers(db, w, k, &e) == 0 && kb_prefetch(db, w, k, &c, &kb_ms, &e) == 0 &&
	    write_tickets(db, ctx, w, k, now, &e) == 0 &&
	    write_messages(db, ctx, w, k, &e) == 0 &&
	    write_rest(db, ctx, w, k, &e) == 0 && (t1 = pd_now_ms()) > 0 &&
	    write_mails(db, ctx, w, k, &c, &e) == 0 && (t2 = pd_now_ms()) > 0 &&
	    pd_db_defer(db, NULL, "RELEASE SAVEPOINT pd_set", 0, NULL, &e) == 0 &&
	    pd_db_sync(db, &e) == 0;
	pd_outbox_collect_free(&c); /* what write_mails did not take */
	free(tickets);
	if (ok) {
		took.rows += t1 - t0 - kb_ms;
		took.kb += kb_ms;
		took.compose += t2 - t1;
		took.sync += pd_now_ms() - t2;
		for (size_t i = 0; i < k; i++)
			w[i]->written = true;
		return 0;
	}
	if (e.cls != PD_ERR_PERM) {
		*err = e;
		return -1;
	}
	pd_db_discard(db);
	if (exec_simple(db, "ROLLBACK TO SAVEPOINT pd_set", err) < 0 ||
	    exec_simple(db, "RELEASE SAVEPOINT pd_set", err) < 0)
		return -1;
	if (e.src == PD_SRC_DB && e.code == PD_DB_UNIQUE)
		return 1; /* stored meanwhile by another process: the per-mail path sorts it out */
	if (k == 1) {
		pd_log_debug("mailbox=%s uid=%u: left to the per-mail path: %s", ctx->mailbox,
			     w[0]->it->uid, e.msg);
		return 1;
	}
	/* one of them holds a value the database refuses: by halves */
	int r = write_set(db, ctx, w, k / 2, now, err);
	if (r != 0)
		return r;
	return write_set(db, ctx, w + k / 2, k - k / 2, now, err);
}

int pd_storeset_run(struct pd_db *db, const struct pd_store_ctx *ctx,
		    struct pd_ingest_item *items, size_t n, unsigned wave, bool *done,
		    struct pd_err *err)
{
	struct smail *m = pd_xcalloc(n, sizeof(*m));
	struct smail **w = pd_xcalloc(n, sizeof(*w));
	int64_t(*reply)[MAX_REPLY_TICKETS] = pd_xcalloc(n, sizeof(*reply));
	size_t k = 0;
	int rc = -1;

	int64_t t0 = pd_now_ms();
	memset(&took, 0, sizeof(took));
	for (size_t i = 0; i < n; i++) {
		done[i] = false;
		m[i].it = &items[i];
		pd_plan_probe(ctx->cfg, items[i].msg, &m[i].probe);
	}
	if (gather_facts(db, ctx, m, n, reply, err) < 0)
		goto out;
	took.facts = pd_now_ms() - t0;
	t0 = pd_now_ms();
	/* pass 1: what each mail would be on the batch's facts */
	enum pd_plan_set *cand = pd_xcalloc(n, sizeof(*cand));
	size_t n_need = 0;
	for (size_t i = 0; i < n; i++) {
		cand[i] = plan_for_set(ctx, m, i);
		if (cand[i] == PD_SET_ASK_TICKET)
			w[n_need++] = &m[i];
	}
	/* the follow-ups' tickets, all at once */
	if (plan_follow_ups(db, ctx, w, n_need, err) < 0) {
		free(cand);
		goto out;
	}
	/* pass 2: ticket numbers follow the mails' order: once a mail that may
	 * open a ticket is left to the per-mail path, so are the new tickets
	 * after it */
	bool opener_left = false;
	for (size_t i = 0; i < n; i++) {
		if (cand[i] == PD_SET_ASK_TICKET)
			cand[i] = pd_plan_set_kind(&m[i].plan); /* with its ticket's facts */
		bool set = cand[i] == PD_SET_NEW || cand[i] == PD_SET_DUPLICATE ||
			   cand[i] == PD_SET_FOLLOW_UP;
		if (!set || (opener_left && m[i].fresh)) {
			struct pd_plan_item x = item_of(&m[i]);
			if (pd_plan_may_open(&x, m[i].follows))
				opener_left = true;
			continue;
		}
		if (m[i].plan.kind == PD_PLAN_DUPLICATE) {
			items[i].action = PD_INGEST_DUPLICATE;
			items[i].ticket = m[i].plan.ticket;
			items[i].rule = m[i].plan.rule;
			done[i] = true;
			continue;
		}
		w[k++] = &m[i];
	}
	free(cand);
	took.plan = pd_now_ms() - t0;
	if (write_set(db, ctx, w, k, time(NULL), err) < 0)
		goto out;
	for (size_t i = 0; i < k; i++) {
		struct pd_ingest_item *it = w[i]->it;
		if (!w[i]->written)
			continue;
		it->action = w[i]->fresh ? PD_INGEST_NEW_TICKET : PD_INGEST_APPENDED;
		it->ticket = w[i]->ticket;
		it->rule = w[i]->plan.rule;
		it->flagged = 0;
		done[it - items] = true;
	}
	size_t n_new = 0, n_follow = 0, n_done = 0;
	for (size_t i = 0; i < k; i++)
		if (w[i]->written) {
			n_new += w[i]->fresh;
			n_follow += !w[i]->fresh;
		}
	for (size_t i = 0; i < n; i++)
		n_done += done[i];
	char wave_text[24];
	snprintf(wave_text, sizeof(wave_text), " wave=%u", wave);
	pd_log_debug("mailbox=%s set: mails=%zu new=%zu follow_ups=%zu duplicates=%zu "
		     "per_mail=%zu facts_ms=%lld plan_ms=%lld rows_ms=%lld kb_ms=%lld "
		     "compose_ms=%lld sync_ms=%lld%s",
		     ctx->mailbox, n, n_new, n_follow, n_done - n_new - n_follow, n - n_done,
		     (long long)took.facts, (long long)took.plan, (long long)took.rows,
		     (long long)took.kb, (long long)took.compose, (long long)took.sync,
		     wave > 1 ? wave_text : "");
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		pd_plan_free(&m[i].plan);
		pd_plan_probe_free(&m[i].probe);
	}
	free(reply);
	free(w);
	free(m);
	return rc;
}
