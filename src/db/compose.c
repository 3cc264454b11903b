/*
 * compose.c - outbound mail for ticket events.  See compose.h.
 *
 * Owns which mail each ticket event sends, to whom and with what: the
 * acknowledgement of a new ticket (with knowledge-base articles) and the
 * notice to agents, an agent's answer relayed to the requester and the
 * participants, the notice of a customer's follow-up, the survey on
 * resolve, the SLA warnings, breaches and escalations, and the error mails
 * to a sender (one error_to_sender() for a command error, files left out
 * and an agent's mail held).  It fills the templates' fields, asks the loop
 * guard and the automatic-mail limits whether a mail may go, and queues it
 * in the outbox (outbox.c).
 *
 * Everything about a templated mail is decided here, in the transaction that
 * records the event: recipients, subject, Message-ID, threading, Date, the
 * text, what a notice carries of the customer's mail.  What is queued is the
 * render spec of it (outspec.c): the sender builds the MIME message, reading
 * the customer's HTML and files from the stored original, so that the
 * ingest writes no second copy of them.  An agent's answer relayed to the
 * customer carries the agent's own files and is rendered here (outbox.raw).
 * Envelope sender is the support address, so bounces of our own mail come
 * back to the mailbox, where the loop guard recognises them.
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "compose.h"
#include "db_int.h"
#include "kbdb.h"
#include "log.h"
#include "loopguard.h"
#include "outbox.h"
#include "outparts.h"
#include "outspec.h"
#include "render.h"
#include "replyaddr.h"
#include "sla.h"
#include "util.h"

/* The display name in smtp.from ("Example Support <support@...>"), or "". */
static char *from_name(const struct pd_config *cfg)
{
	const char *f = cfg->smtp.from, *lt;

	if (f == NULL || (lt = strchr(f, '<')) == NULL)
		return pd_xstrdup("");
	char *n = pd_xstrndup(f, (size_t)(lt - f));
	pd_str_trim(n);
	size_t l = strlen(n);
	if (l >= 2 && n[0] == '"' && n[l - 1] == '"') {
		memmove(n, n + 1, l - 2);
		n[l - 2] = '\0';
	}
	return n;
}

static int record_event(struct pd_db *db, int64_t ticket, const char *kind, const char *key,
			const char *value, struct pd_err *err)
{
	char t[24];
	const char *v[4] = {t, kind, key, value};
	struct pd_outbox_collect *c = pd_db_collect(db);

	if (c != NULL) {
		pd_outbox_collect_event(c, ticket, kind, key, value);
		return 0;
	}
	snprintf(t, sizeof(t), "%" PRId64, ticket);
	return pd_db_defer(db, "pd_compose_event",
			   "INSERT INTO events (ticket_id, actor, kind, detail)"
			   " VALUES ($1::bigint, 'system', $2, jsonb_build_object($3::text, $4::text))",
			   4, v, err);
}

/* A new Message-ID for a mail of kind about ticket (render.c makes it from
 * random bytes read here). */
static char *new_message_id(const struct pd_config *cfg, int64_t ticket, const char *kind)
{
	unsigned char rnd[PD_RENDER_MSGID_RANDOM];
	size_t got = 0;

	while (got < sizeof(rnd)) {
		ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* only on kernels older than 3.17: nothing sane to do */
			fputs("postdesk: getrandom failed\n", stderr);
			abort();
		}
		got += (size_t)n;
	}
	return pd_render_message_id(cfg->message_id_domain, ticket, kind, rnd, sizeof(rnd));
}

/* Render template NAME in lang with vars and enqueue the mail's spec.
 * vars hold at least the fields render.c's pd_template_kinds lists for NAME:
 * the templates were checked against those when the configuration loaded. */
struct outgoing {
	const char *template;
	const char *lang;
	const struct pd_render_var *vars;
	size_t n_vars;
	struct pd_render_mail mail;     /* subject, message_id, body, date filled here */
	const char *const *rcpts;
	size_t n_rcpts;
	bool automatic;
	const struct pd_msg *carry_msg; /* the customer's mail it carries (its sanitised HTML
					 * where {{message.body}} stands in an HTML part, its
					 * files when carry_parts); NULL = none */
	int64_t carry_message;          /* its messages.id; 0 = not stored: rendered now */
	bool carry_parts;
};

/* The text the HTML part of o is made from: its template rendered with the
 * placeholder for the message (outspec.c puts the customer's HTML there). */
static char *templated_text(const struct pd_config *cfg, const struct outgoing *o,
			    struct pd_err *err)
{
	struct pd_render_var *vars = pd_xcalloc(o->n_vars, sizeof(*vars));
	char *subject = NULL, *body = NULL;

	for (size_t i = 0; i < o->n_vars; i++) {
		vars[i] = o->vars[i];
		if (strcmp(vars[i].name, "message.body") == 0)
			vars[i].value = PD_OUTSPEC_HTML_PLACEHOLDER;
	}
	if (pd_template_render(&cfg->templates, o->lang, o->template, vars, o->n_vars, &subject,
			       &body, err) < 0) {
		free(body);
		body = NULL;
	}
	free(vars);
	free(subject);
	return body;
}

static int send_templated(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			  struct outgoing *o, struct pd_err *err)
{
	char *subject = NULL, *body = NULL, *tagged = NULL, *mid = NULL, *html_text = NULL;
	char *spec = NULL, *note = NULL;
	struct pd_buf raw;
	int rc = -1;

	pd_buf_init(&raw);
	if (pd_template_render(&cfg->templates, o->lang, o->template, o->vars, o->n_vars,
			       &subject, &body, err) < 0)
		goto out;
	if (o->carry_msg != NULL && o->carry_msg->body_html != NULL &&
	    (html_text = templated_text(cfg, o, err)) == NULL)
		goto out;
	tagged = pd_render_tagged_subject(cfg->subject_tag, ticket, subject);
	mid = new_message_id(cfg, ticket, o->mail.kind);
	o->mail.subject = tagged;
	o->mail.message_id = mid;
	o->mail.body = body;
	o->mail.date = time(NULL);
	struct pd_outspec_carry carry = {o->carry_message, html_text, o->carry_parts};
	if (o->carry_msg != NULL && o->carry_message <= 0) {
		/* no stored original to read it from later: rendered now */
		if (pd_outspec_render_mail(&o->mail, &carry, o->carry_msg, &raw, &note, err) < 0)
			goto out;
		if (note != NULL)
			pd_log_info("ticket=%" PRId64 ": the notice carries the customer's text only "
				    "(%s)",
				    ticket, note);
	} else {
		/* what would fail when it is rendered fails now, before it is queued */
		if (pd_render_check(&o->mail, err) < 0)
			goto out;
		/* on a ticket the text is kept once, in its outbound message */
		spec = pd_outspec_json(&o->mail, o->carry_msg != NULL ? &carry : NULL,
				       ticket != 0);
	}

	struct pd_outbox_mail m = {
	    .ticket = ticket,
	    .kind = o->mail.kind,
	    .message_id = mid,
	    .mail_from = cfg->support_address,
	    .rcpts = o->rcpts,
	    .n_rcpts = o->n_rcpts,
	    .to_address = o->rcpts[0],
	    .automatic = o->automatic,
	    .subject = tagged,
	    .body = body,
	    .raw = spec == NULL ? raw.data : NULL,
	    .raw_len = spec == NULL ? raw.len : 0,
	    .render = spec,
	};
	rc = pd_outbox_enqueue(db, &m, err);
out:
	free(html_text);
	free(subject);
	free(body);
	free(tagged);
	free(mid);
	free(spec);
	free(note);
	pd_buf_free(&raw);
	return rc;
}

/* The Message-IDs of the ticket's notices so far, oldest first: the first
 * and the last 10 (References); the last is In-Reply-To. */
static PGresult *notice_thread(struct pd_db *db, int64_t ticket, struct pd_err *err)
{
	char id[24];
	const char *v[1] = {id};

	snprintf(id, sizeof(id), "%" PRId64, ticket);
	return pd_db_query(db, "pd_compose_notice_thread",
			   "SELECT message_id FROM ("
			   "  SELECT message_id, id, row_number() OVER (ORDER BY id) AS rn,"
			   "         count(*) OVER () AS n"
			   "    FROM outbox WHERE ticket_id = $1::bigint AND kind = 'notice') t"
			   " WHERE rn = 1 OR rn > n - 10 ORDER BY id",
			   1, v, err);
}

/* The notice to agents.notify about a customer's mail on ticket: From
 * "Customer via Support", Reply-To the ticket's reply address, so that Reply
 * in any mail client answers into the ticket as the agent.  It carries the
 * customer's files and HTML (outspec.c, from the stored original, message)
 * and threads under the ticket's earlier notices. */
static int notify_agents(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			 const struct pd_render_var *vars_in, size_t n_in, const struct pd_msg *msg,
			 int64_t message, char *name, struct pd_err *err)
{
	const char *customer = msg->from.address;
	char reply[PD_REPLY_ADDRESS_MAX];
	struct pd_addr support = {name, reply};
	const char *lang = cfg->default_language ? cfg->default_language : "en";
	PGresult *thread;
	int r;

	if (cfg->agent_notify.n == 0)
		return 0;
	/* Reply goes to the ticket's own address: an answer sent there is the agent's */
	if (pd_reply_address(db, cfg, ticket, reply, err) < 0)
		return -1;
	/* a ticket opened in this batch has no notice yet: nothing to ask;
	 * the batch's others were asked about at once (pd_compose_prefetch) */
	const struct pd_outbox_collect *collect = pd_db_collect(db);
	const PGresult *batch = collect != NULL ? collect->threads : NULL;
	if ((collect != NULL && collect->fresh) || batch != NULL)
		thread = NULL;
	else if ((thread = notice_thread(db, ticket, err)) == NULL)
		return -1;
	/* the files as parts while within the limits, else listed in the text */
	bool parts = pd_outspec_carries_parts(msg, cfg->max_notice_attachments,
					      cfg->smtp.max_message_size);
	char *listing = parts ? pd_xstrdup("")
			      : pd_outparts_listing(msg, ticket, cfg->max_notice_attachments, lang);
	size_t n_vars = n_in + 1;
	struct pd_render_var *vars = pd_xcalloc(n_vars, sizeof(*vars));
	memcpy(vars, vars_in, n_in * sizeof(*vars));
	vars[n_in] = (struct pd_render_var){"message.attachments", listing};
	/* the images' places: the HTML's text when the plain alternative lacks them */
	char *image_text = pd_outparts_image_text(msg);
	for (size_t i = 0; image_text != NULL && i < n_in; i++)
		if (strcmp(vars[i].name, "message.body") == 0)
			vars[i].value = image_text;
	int n_refs = 0;
	const char **refs;
	if (thread != NULL) {
		refs = pd_xcalloc((size_t)PQntuples(thread) + 1, sizeof(*refs));
		for (int i = 0; i < PQntuples(thread); i++)
			refs[n_refs++] = PQgetvalue(thread, i, 0);
	} else if (batch != NULL && !collect->fresh) {
		/* rows (ticket, message_id), a ticket's in order */
		refs = pd_xcalloc((size_t)PQntuples(batch) + 1, sizeof(*refs));
		for (int i = 0; i < PQntuples(batch); i++)
			if (strtoll(PQgetvalue(batch, i, 0), NULL, 10) == ticket)
				refs[n_refs++] = PQgetvalue(batch, i, 1);
	} else {
		refs = pd_xcalloc(1, sizeof(*refs));
	}
	struct pd_addr *to = pd_xcalloc(cfg->agent_notify.n, sizeof(*to));
	char *via = pd_xasprintf("%s via %s", msg->from.name[0] ? msg->from.name : customer,
				 name[0] ? name : cfg->support_address);
	for (size_t i = 0; i < cfg->agent_notify.n; i++) {
		to[i].name = (char *)"";
		to[i].address = cfg->agent_notify.v[i];
	}
	struct outgoing o = {
	    .template = "agent-notice",
	    .lang = lang,
	    .vars = vars,
	    .n_vars = n_vars,
	    .mail = {.kind = "notice",
		     .auto_submitted = "auto-generated",
		     .from = {via, cfg->support_address},
		     .reply_to = support,
		     .to = to,
		     .n_to = cfg->agent_notify.n,
		     .in_reply_to = n_refs > 0 ? refs[n_refs - 1] : NULL,
		     .references = refs,
		     .n_references = (size_t)n_refs,
		     .language = NULL},
	    .rcpts = (const char *const *)cfg->agent_notify.v,
	    .n_rcpts = cfg->agent_notify.n,
	    .automatic = false,
	    .carry_msg = msg,
	    .carry_message = message,
	    .carry_parts = parts && msg->n_attachments > 0,
	};
	r = send_templated(db, cfg, ticket, &o, err);
	free(via);
	free(to);
	free(vars);
	free(image_text);
	free(refs);
	PQclear(thread);
	free(listing);
	return r;
}

int pd_compose_new_ticket(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			  const char *subject, const char *lang,
			  const struct pd_classification *cls, const struct pd_msg *msg,
			  int64_t message, const struct pd_auto_counts *counts, struct pd_err *err)
{
	char number[24], line[16];
	char *name = from_name(cfg);
	struct pd_addr support = {name, cfg->support_address};
	const char *customer = msg->from.address;
	const char *own[1] = {cfg->support_address};
	struct pd_auto_counts ac = {0, 0, false};
	const char *reason = NULL;
	char *kb = NULL;
	int rc = -1;

	snprintf(number, sizeof(number), "%" PRId64, ticket);
	snprintf(line, sizeof(line), "%d", cls->line);
	struct pd_render_var vars[] = {
	    {"ticket.number", number},
	    {"ticket.subject", subject},
	    {"ticket.status", "new"},
	    {"ticket.priority", pd_priority_name(cls->priority)},
	    {"ticket.queue", cls->queue},
	    {"ticket.line", line},
	    {"customer.name", msg->from.name[0] ? msg->from.name : customer},
	    {"customer.address", customer},
	    {"message.body", msg->body_text},
	    {"support.address", cfg->support_address},
	    {"kb.articles", ""}, /* last: filled in for the acknowledgement */
	};

	/* 1. the acknowledgement, unless it could feed a loop */
	if (counts != NULL)
		ac = *counts;
	else if (customer[0] != '\0' && pd_outbox_auto_counts(db, customer, &ac, err) < 0)
		goto out;
	struct pd_loop_input in = {
	    .msg = msg,
	    .own_addresses = own,
	    .n_own = 1,
	    .loop_header_value = cfg->message_id_domain,
	    .has_loop_header = false, /* the guard reads X-Postdesk-Loop itself */
	    .is_dsn = false,
	    .auto_sent_recent = ac.recent,
	    .auto_sent_day = ac.day,
	    .limit_recent = cfg->auto_reply_limit_10m,
	    .limit_day = cfg->auto_reply_limit_day,
	    .sender_suppressed = ac.suppressed,
	};
	enum pd_loop_verdict verdict = pd_loopguard_check(&in, &reason);
	if (verdict == PD_LOOP_OK) {
		const char *rcpts[1] = {customer};
		struct pd_addr to = msg->from;
		const char *refs[101];
		size_t n_refs = 0;

		for (size_t i = 0; i < msg->n_references && n_refs < 100; i++)
			refs[n_refs++] = msg->references[i];
		if (msg->message_id != NULL)
			refs[n_refs++] = msg->message_id;
		/* knowledge-base articles that may answer the mail at once (the
		 * subject as written: a reply's is not the customer's own topic) */
		if (pd_kbdb_suggest(db, ticket, lang, msg->subject, msg->body_text, &kb, err) < 0)
			goto out;
		vars[PD_ARRAY_LEN(vars) - 1].value = kb;
		struct outgoing o = {
		    .template = "ack",
		    .lang = lang,
		    .vars = vars,
		    .n_vars = PD_ARRAY_LEN(vars),
		    .mail = {.kind = "ack",
			     .auto_submitted = "auto-replied",
			     .from = support,
			     .reply_to = {(char *)"", (char *)""},
			     .to = &to,
			     .n_to = 1,
			     .in_reply_to = msg->message_id,
			     .references = refs,
			     .n_references = n_refs,
			     .language = lang},
		    .rcpts = rcpts,
		    .n_rcpts = 1,
		    .automatic = true,
		};
		if (send_templated(db, cfg, ticket, &o, err) < 0 ||
		    record_event(db, ticket, "ack.queued", "to", customer, err) < 0)
			goto out;
	} else {
		pd_log_info("ticket=%" PRId64 " action=no-ack reason=%s from=%s", ticket,
			    pd_loop_verdict_name(verdict), customer);
		if (record_event(db, ticket, "ack.suppressed", "reason",
				 reason ? reason : pd_loop_verdict_name(verdict), err) < 0)
			goto out;
	}

	/* 2. the notice to the agents: Reply goes to the ticket's reply address */
	if (notify_agents(db, cfg, ticket, vars, PD_ARRAY_LEN(vars), msg, message, name, err) < 0)
		goto out;
	rc = 0;
out:
	free(kb);
	free(name);
	return rc;
}

/* The ticket's subject, requester and language. */
struct ticket_info {
	char *subject;
	char *requester;
	char *requester_name;
	char *language;
	char *status;
	char *priority;
	char *queue;
	char *line;
	char *plan; /* NULL = the default */
};

static void ticket_info_free(struct ticket_info *t)
{
	free(t->status);
	free(t->priority);
	free(t->queue);
	free(t->line);
	free(t->plan);
	free(t->subject);
	free(t->requester);
	free(t->requester_name);
	free(t->language);
}

/* The ticket_info columns, in this order, start every query that fills one. */
#define TICKET_INFO_COLS                                                                   \
	"subject, requester_address, requester_name, coalesce(language, ''), status,"       \
	" priority, queue, line, plan"
#define TICKET_INFO_N 9

/* The TICKET_INFO_COLS of row r from column c on. */
static void ticket_info_at(const PGresult *res, int r, int c, struct ticket_info *t)
{
	t->subject = pd_xstrdup(PQgetvalue(res, r, c));
	t->requester = pd_xstrdup(PQgetvalue(res, r, c + 1));
	t->requester_name = pd_xstrdup(PQgetvalue(res, r, c + 2));
	t->language = pd_xstrdup(PQgetvalue(res, r, c + 3));
	t->status = pd_xstrdup(PQgetvalue(res, r, c + 4));
	t->priority = pd_xstrdup(PQgetvalue(res, r, c + 5));
	t->queue = pd_xstrdup(PQgetvalue(res, r, c + 6));
	t->line = pd_xstrdup(PQgetvalue(res, r, c + 7));
	t->plan = PQgetisnull(res, r, c + 8) ? NULL : pd_xstrdup(PQgetvalue(res, r, c + 8));
}

static void ticket_info_from(PGresult *res, struct ticket_info *t)
{
	ticket_info_at(res, 0, 0, t);
}

static int ticket_info(struct pd_db *db, int64_t ticket, struct ticket_info *t, struct pd_err *err)
{
	char id[24];
	const char *v[1] = {id};
	PGresult *res;
	const struct pd_outbox_collect *c = pd_db_collect(db);

	memset(t, 0, sizeof(*t));
	/* asked already for the whole batch (pd_compose_prefetch): column 0 the id */
	for (int r = 0; c != NULL && c->info != NULL && r < PQntuples(c->info); r++)
		if (strtoll(PQgetvalue(c->info, r, 0), NULL, 10) == ticket) {
			ticket_info_at(c->info, r, 1, t);
			return 0;
		}
	snprintf(id, sizeof(id), "%" PRId64, ticket);
	res = pd_db_query(db, "pd_compose_ticket",
			  "SELECT " TICKET_INFO_COLS " FROM tickets WHERE id = $1::bigint", 1, v, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_COMPOSE, 0, "no ticket #%" PRId64, ticket);
	}
	ticket_info_from(res, t);
	PQclear(res);
	return 0;
}

int pd_compose_prefetch(struct pd_db *db, struct pd_outbox_collect *c, const int64_t *tickets,
			size_t n, struct pd_err *err)
{
	struct pd_db_array a;
	const char *v[1];
	int len[1], fmt[1] = {1};

	if (n == 0)
		return 0;
	pd_db_array_init(&a, PD_OID_INT8);
	for (size_t i = 0; i < n; i++)
		pd_db_array_add_int8(&a, tickets[i]);
	v[0] = pd_db_array_value(&a, &len[0]);
	c->info = pd_db_query_bin(db, "pd_compose_prefetch_info",
				  "SELECT id, " TICKET_INFO_COLS " FROM tickets"
				  " WHERE id = ANY($1::bigint[])",
				  1, v, len, fmt, err);
	if (c->info != NULL)
		/* notice_thread's rows for every ticket: the first and the last 10 */
		c->threads = pd_db_query_bin(
		    db, "pd_compose_prefetch_threads",
		    "SELECT ticket_id, message_id FROM ("
		    "  SELECT ticket_id, message_id, id,"
		    "         row_number() OVER (PARTITION BY ticket_id ORDER BY id) AS rn,"
		    "         count(*) OVER (PARTITION BY ticket_id) AS n"
		    "    FROM outbox WHERE ticket_id = ANY($1::bigint[]) AND kind = 'notice') t"
		    " WHERE rn = 1 OR rn > n - 10 ORDER BY ticket_id, id",
		    1, v, len, fmt, err);
	pd_db_array_free(&a);
	return c->info != NULL && c->threads != NULL ? 0 : -1;
}

static bool addressed_to(const struct pd_msg *msg, const char *addr)
{
	const struct pd_addrlist *lists[2] = {&msg->to, &msg->cc};

	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++)
			if (pd_str_iequal(lists[l]->v[i].address, addr))
				return true;
	return false;
}

/* The HTML part of an agent's answer (outparts.h), logged when the
 * sanitised HTML still showed the notice. */
static char *answer_html(const struct pd_msg *msg, int64_t ticket, const char *text,
			 const char *footer, bool *sanitised_r)
{
	enum pd_answer_html how;
	char *html = pd_outparts_answer_html(msg->body_html, ticket, text, footer, &how);

	if (how == PD_ANSWER_HTML_LEAKED)
		pd_log_warning("ticket=%" PRId64 ": the HTML of the answer from %s still showed the "
			       "notice after sanitising; its HTML part is made from the plain text",
			       ticket, msg->from.address);
	*sanitised_r = how == PD_ANSWER_HTML_SANITISED;
	return html;
}

/* Leave out (from the end of parts) the files that would make the mail
 * larger than smtp.max_message_size: the kept ones are moved to the front,
 * *n_r is how many; returns the list of the dropped ones (for the agent's
 * error mail), or NULL when none was dropped. */
static char *fit_parts(const struct pd_config *cfg, struct pd_mimeout_part *parts, size_t *n_r,
		       uint64_t base)
{
	uint64_t used = base;
	size_t kept = 0;
	struct pd_buf dropped;

	pd_buf_init(&dropped);
	for (size_t i = 0; i < *n_r; i++) {
		uint64_t need = pd_outparts_encoded_size(parts[i].size);
		if (used + need <= cfg->smtp.max_message_size) {
			used += need;
			parts[kept++] = parts[i];
		} else {
			char size[32];
			pd_buf_printf(&dropped, "  %s (%s, %s)\n",
				      parts[i].filename ? parts[i].filename : "(no name)",
				      parts[i].content_type,
				      pd_outparts_size(parts[i].size, size, sizeof(size)));
		}
	}
	*n_r = kept;
	return dropped.len ? pd_buf_steal(&dropped, NULL) : (pd_buf_free(&dropped), NULL);
}

/* An X-Postdesk-Kind: error mail (template with vars) to the sender of msg
 * alone.  in_thread: it answers msg (In-Reply-To/References); else it stands
 * outside the thread msg wrote into.  automatic: it counts against the
 * sender's automatic-mail limits. */
static int error_to_sender(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			   const struct pd_msg *msg, const char *template,
			   const struct pd_render_var *vars, size_t n_vars, bool in_thread,
			   bool automatic, struct pd_err *err)
{
	char *name = from_name(cfg);
	const char *rcpts[1] = {msg->from.address};
	struct pd_addr to = msg->from;
	const char *refs[1] = {msg->message_id};
	const bool refer = in_thread && msg->message_id != NULL;
	struct outgoing o = {
	    .template = template,
	    .lang = cfg->default_language ? cfg->default_language : "en",
	    .vars = vars,
	    .n_vars = n_vars,
	    .mail = {.kind = "error",
		     .auto_submitted = "auto-replied",
		     .from = {name, cfg->support_address},
		     .reply_to = {(char *)"", (char *)""},
		     .to = &to,
		     .n_to = 1,
		     .in_reply_to = in_thread ? msg->message_id : NULL,
		     .references = refer ? refs : NULL,
		     .n_references = refer ? 1 : 0},
	    .rcpts = rcpts,
	    .n_rcpts = 1,
	    .automatic = automatic,
	};
	int rc = send_templated(db, cfg, ticket, &o, err);

	free(name);
	return rc;
}

/* The agent's error mail about files left out of an answer. */
static int attachment_error(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			    const struct pd_msg *msg, const char *subject, const char *files,
			    struct pd_err *err)
{
	char number[24], limit[32];

	snprintf(number, sizeof(number), "%" PRId64, ticket);
	pd_outparts_size(cfg->smtp.max_message_size, limit, sizeof(limit));
	const struct pd_render_var vars[] = {
	    {"attachments", files},
	    {"limit", limit},
	    {"ticket.number", number},
	    {"ticket.subject", subject},
	    {"support.address", cfg->support_address},
	};
	return error_to_sender(db, cfg, ticket, msg, "attachment-error", vars, PD_ARRAY_LEN(vars),
			       true, false, err);
}

int pd_compose_agent_reply(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			   const struct pd_msg *msg, const char *body, bool *relayed_r,
			   struct pd_err *err)
{
	struct ticket_info t;
	char id[24], number[24];
	const char *v[1] = {id};
	PGresult *parts = NULL, *refs = NULL;
	char *name = from_name(cfg), *via = NULL, *subject_re = NULL, *text = NULL;
	char *footer_subject = NULL, *footer = NULL, *html = NULL, *dropped = NULL;
	struct pd_mimeout_part *files = NULL;
	size_t n_files = 0;
	struct pd_addr *to = NULL;
	const char **rcpts = NULL;
	const char **ref_ids = NULL;
	size_t n_to = 0, n_refs = 0;
	int rc = -1;

	*relayed_r = false;
	if (ticket_info(db, ticket, &t, err) < 0) {
		free(name);
		return -1;
	}
	if (addressed_to(msg, t.requester)) {
		rc = 0; /* the agent wrote to the customer directly: recorded, not sent again */
		goto out;
	}
	snprintf(id, sizeof(id), "%" PRId64, ticket);
	snprintf(number, sizeof(number), "%" PRId64, ticket);
	/* the requester first, then the Cc'd participants */
	parts = pd_db_query(db, "pd_compose_participants",
			    "SELECT address, name FROM participants WHERE ticket_id = $1::bigint"
			    " ORDER BY role DESC, address",
			    1, v, err);
	if (parts == NULL)
		goto out;
	refs = pd_db_query(db, "pd_compose_refs",
			   "SELECT message_id FROM ("
			   "  SELECT message_id, id FROM messages WHERE ticket_id = $1::bigint"
			   "   AND message_id IS NOT NULL"
			   "   AND (kind = 'customer' OR (direction = 'out' AND kind IN"
			   "        ('ack', 'agent', 'survey')))"
			   "  ORDER BY id DESC LIMIT 20) r ORDER BY id",
			   1, v, err);
	if (refs == NULL)
		goto out;
	int np = PQntuples(parts);
	to = pd_xcalloc((size_t)np + 1, sizeof(*to));
	rcpts = pd_xcalloc((size_t)np + 1, sizeof(*rcpts));
	for (int i = 0; i < np; i++) {
		char *a = PQgetvalue(parts, i, 0);
		if (pd_config_is_agent(cfg, a) || pd_str_iequal(a, cfg->support_address))
			continue;
		to[n_to].address = a;
		to[n_to].name = PQgetvalue(parts, i, 1);
		rcpts[n_to] = a;
		n_to++;
	}
	if (n_to == 0) {
		rc = 0;
		goto out;
	}
	ref_ids = pd_xcalloc((size_t)PQntuples(refs) + 1, sizeof(*ref_ids));
	for (int i = 0; i < PQntuples(refs); i++)
		ref_ids[n_refs++] = PQgetvalue(refs, i, 0);

	const char *agent_name = msg->from.name[0] ? msg->from.name : msg->from.address;
	const struct pd_render_var vars[] = {
	    {"agent.name", agent_name},
	    {"agent.address", msg->from.address},
	    {"ticket.number", number},
	    {"ticket.subject", t.subject},
	    {"support.address", cfg->support_address},
	};
	const char *lang = t.language[0] ? t.language : cfg->default_language;
	if (pd_template_render(&cfg->templates, lang, "agent-relay-footer", vars,
			       PD_ARRAY_LEN(vars), &footer_subject, &footer, err) < 0)
		goto out;
	text = pd_xasprintf("%s\n\n%s", body, footer);
	bool sanitised;
	html = answer_html(msg, ticket, text, footer, &sanitised);
	files = pd_outparts_of(msg, html, &n_files);
	if (sanitised) {
		/* inline images the agent's HTML showed but the sanitised HTML no
		 * longer does stood in the quote (the notice's own): they stay out */
		size_t k = 0;
		for (size_t i = 0; i < n_files; i++) {
			char *ref = files[i].content_id ? pd_xasprintf("cid:%s", files[i].content_id)
							: NULL;
			bool quoted = ref != NULL && !files[i].related &&
				      strstr(msg->body_html, ref) != NULL;
			free(ref);
			if (!quoted)
				files[k++] = files[i];
		}
		n_files = k;
	}
	dropped = fit_parts(cfg, files, &n_files,
			    (strlen(text) + (html ? strlen(html) : 0)) * 3 / 2 + 8192);
	if (dropped != NULL) {
		size_t n_dropped = 0;
		for (const char *c = dropped; *c; c++)
			n_dropped += *c == '\n';
		pd_log_notice("ticket=%" PRId64 " action=attachments-left-out count=%zu: the answer "
			      "of %s would be larger than smtp.max_message_size with them; the "
			      "agent gets an error mail naming them",
			      ticket, n_dropped, msg->from.address);
	}
	via = pd_xasprintf("%s via %s", agent_name, name[0] ? name : cfg->support_address);
	char *tagged = pd_render_tagged_subject(cfg->subject_tag, ticket, t.subject);
	subject_re = pd_xasprintf("Re: %s", tagged);
	free(tagged);

	struct pd_buf raw;
	char *mid = new_message_id(cfg, ticket, "agent");
	struct pd_render_mail m = {
	    .kind = "agent",
	    .auto_submitted = NULL,
	    .from = {via, cfg->support_address},
	    .reply_to = {(char *)"", (char *)""},
	    .to = to,
	    .n_to = 1,
	    .cc = n_to > 1 ? to + 1 : NULL,
	    .n_cc = n_to - 1,
	    .subject = subject_re,
	    .message_id = mid,
	    .in_reply_to = n_refs ? ref_ids[n_refs - 1] : NULL,
	    .references = ref_ids,
	    .n_references = n_refs,
	    .date = time(NULL),
	    .language = lang,
	    .body = text,
	    .html = html,
	    .parts = files,
	    .n_parts = n_files,
	};
	pd_buf_init(&raw);
	if (pd_render_mail(&m, &raw, err) == 0) {
		struct pd_outbox_mail om = {
		    .ticket = ticket,
		    .kind = "agent",
		    .message_id = mid,
		    .mail_from = cfg->support_address,
		    .rcpts = rcpts,
		    .n_rcpts = n_to,
		    .to_address = rcpts[0],
		    .automatic = false,
		    .subject = subject_re,
		    .body = text,
		    .raw = raw.data,
		    .raw_len = raw.len,
		};
		if (pd_outbox_enqueue(db, &om, err) == 0 &&
		    (dropped == NULL ||
		     attachment_error(db, cfg, ticket, msg, t.subject, dropped, err) == 0)) {
			*relayed_r = true;
			rc = 0;
		}
	}
	pd_buf_free(&raw);
	free(mid);
out:
	PQclear(parts);
	PQclear(refs);
	free(to);
	free(rcpts);
	free(ref_ids);
	free(name);
	free(via);
	free(subject_re);
	free(text);
	free(footer_subject);
	free(footer);
	free(html);
	free(files);
	free(dropped);
	ticket_info_free(&t);
	return rc;
}

int pd_compose_command_error(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			     const struct pd_msg *msg, const char *reason, struct pd_err *err)
{
	struct ticket_info t;
	char number[24];

	if (ticket_info(db, ticket, &t, err) < 0)
		return -1;
	snprintf(number, sizeof(number), "%" PRId64, ticket);
	const struct pd_render_var vars[] = {
	    {"reason", reason},
	    {"ticket.number", number},
	    {"ticket.subject", t.subject},
	    {"support.address", cfg->support_address},
	};
	int rc = error_to_sender(db, cfg, ticket, msg, "command-error", vars, PD_ARRAY_LEN(vars),
				 true, false, err);
	ticket_info_free(&t);
	return rc;
}

int pd_compose_survey(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
		      struct pd_err *err)
{
	struct ticket_info t;
	char number[24];
	char *name;
	struct pd_auto_counts ac;
	int rc = -1;

	if (ticket_info(db, ticket, &t, err) < 0)
		return -1;
	if (t.requester[0] == '\0') {
		ticket_info_free(&t);
		return 0; /* nobody to ask */
	}
	if (pd_outbox_auto_counts(db, t.requester, &ac, err) < 0) {
		ticket_info_free(&t);
		return -1;
	}
	/* per ticket: one survey a day, however often it is resolved and reopened */
	char id[24];
	const char *v[1] = {id};
	snprintf(id, sizeof(id), "%" PRId64, ticket);
	PGresult *res = pd_db_query(db, "pd_compose_survey_recent",
				    "SELECT EXISTS (SELECT 1 FROM outbox WHERE ticket_id = $1::bigint"
				    " AND kind = 'survey' AND created_at > now() - interval '1 day')",
				    1, v, err);
	if (res == NULL) {
		ticket_info_free(&t);
		return -1;
	}
	bool asked = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (ac.suppressed || asked ||
	    (cfg->auto_reply_limit_10m > 0 && ac.recent >= cfg->auto_reply_limit_10m) ||
	    (cfg->auto_reply_limit_day > 0 && ac.day >= cfg->auto_reply_limit_day)) {
		rc = record_event(db, ticket, "survey.skipped", "reason",
				  ac.suppressed ? "address suppressed"
				  : asked    ? "a survey for this ticket was sent today"
					     : "rate limit",
				  err);
		ticket_info_free(&t);
		return rc;
	}
	name = from_name(cfg);
	snprintf(number, sizeof(number), "%" PRId64, ticket);
	const struct pd_render_var vars[] = {
	    {"ticket.number", number},
	    {"ticket.subject", t.subject},
	    {"customer.name", t.requester_name[0] ? t.requester_name : t.requester},
	    {"customer.address", t.requester},
	    {"support.address", cfg->support_address},
	};
	const char *rcpts[1] = {t.requester};
	struct pd_addr to = {t.requester_name, t.requester};
	const char *lang = t.language[0] ? t.language : cfg->default_language;
	struct outgoing o = {
	    .template = "survey",
	    .lang = lang,
	    .vars = vars,
	    .n_vars = PD_ARRAY_LEN(vars),
	    .mail = {.kind = "survey",
		     .auto_submitted = "auto-generated",
		     .from = {name, cfg->support_address},
		     .reply_to = {(char *)"", (char *)""},
		     .to = &to,
		     .n_to = 1,
		     .language = lang},
	    .rcpts = rcpts,
	    .n_rcpts = 1,
	    .automatic = true,
	};
	rc = send_templated(db, cfg, ticket, &o, err);
	free(name);
	ticket_info_free(&t);
	return rc;
}

int pd_compose_follow_up(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			 const struct pd_msg *msg, int64_t message, struct pd_err *err)
{
	struct ticket_info t;
	char number[24];
	char *name;
	int rc;

	if (cfg->agent_notify.n == 0)
		return 0;
	if (ticket_info(db, ticket, &t, err) < 0)
		return -1;
	name = from_name(cfg);
	snprintf(number, sizeof(number), "%" PRId64, ticket);
	const struct pd_render_var vars[] = {
	    {"ticket.number", number},
	    {"ticket.subject", t.subject},
	    {"ticket.status", t.status},
	    {"ticket.priority", t.priority},
	    {"ticket.queue", t.queue},
	    {"ticket.line", t.line},
	    {"customer.name", msg->from.name[0] ? msg->from.name : msg->from.address},
	    {"customer.address", msg->from.address},
	    {"message.body", msg->body_text},
	    {"support.address", cfg->support_address},
	};
	rc = notify_agents(db, cfg, ticket, vars, PD_ARRAY_LEN(vars), msg, message, name, err);
	free(name);
	ticket_info_free(&t);
	return rc;
}

/* ------------------------------------------------------------ SLA notices */

/* What the notices say about their tickets beyond ticket_info, for a whole
 * set at once ($1 the tickets, $2 the due times, one element per notice):
 * the reasons for its priority (all tickets' in one query, sql/0014) and the
 * customer's last words, read once per ticket; one row per notice, in order
 * (ord), a notice of a ticket that is gone has none. */
static const char SQL_NOTICE_FACTS[] =
    "WITH j AS (SELECT * FROM unnest($1::bigint[], $2::bigint[])"
    "            WITH ORDINALITY AS j(ticket, due, ord)),"
    " f AS MATERIALIZED (SELECT t.id, " TICKET_INFO_COLS ", r.reasons,"
    "   coalesce((SELECT body_text FROM messages m WHERE m.ticket_id = t.id"
    "              AND m.kind = 'customer' ORDER BY m.id DESC LIMIT 1), '')"
    "  FROM tickets t"
    "  JOIN postdesk_priority_reasons(ARRAY(SELECT DISTINCT ticket FROM j)) AS r"
    "    ON r.ticket = t.id)"
    "SELECT j.ord, f.*, to_char(to_timestamp(j.due), 'YYYY-MM-DD HH24:MI TZH:TZM')"
    " FROM j JOIN f ON f.id = j.ticket ORDER BY j.ord";
/* the columns: ord, id, the ticket_info ones, then these */
#define FACT_COL(i) (2 + TICKET_INFO_N + (i))

/* One notice composed: what its outbox row points into. */
struct sla_mail {
	char *subject, *body, *tagged, *mid, *reason, *name;
	char reply[PD_REPLY_ADDRESS_MAX]; /* the ticket's reply address */
	struct pd_addr *to;
	char *spec;                       /* its render spec (outspec.h) */
};

static void sla_mail_free(struct sla_mail *m)
{
	free(m->subject);
	free(m->body);
	free(m->tagged);
	free(m->mid);
	free(m->reason);
	free(m->name);
	free(m->to);
	free(m->spec);
}

/* Compose notice n about the ticket in row r of facts into *m and *om; 0, or
 * -1 with err (a template or address problem: that notice is not sent). */
static int render_sla_notice(const struct pd_config *cfg, const struct pd_sla_notice_info *n,
			     const struct pd_strlist *notify, PGresult *facts, int r,
			     struct sla_mail *m, struct pd_outbox_mail *om, struct pd_err *err)
{
#define COL(i) PQgetvalue(facts, r, 2 + (i))
	const char *template, *kind;
	char id[24], target[32] = "-", late[32], line[16], from_line[16];
	struct pd_sla_cfg slab;
	const struct pd_sla_cfg *sla;
	const char *plan = PQgetisnull(facts, r, 2 + 8) ? NULL : COL(8);

	if (strcmp(n->kind, "warning") == 0)
		template = "sla-warning", kind = "warning";
	else if (strcmp(n->kind, "breach") == 0)
		template = "sla-breach", kind = "breach";
	else
		template = "escalation", kind = "escalation";
	snprintf(id, sizeof(id), "%" PRId64, n->ticket);
	sla = pd_config_sla_for(cfg, plan, COL(5), &slab) ? &slab : NULL;
	if (sla != NULL) {
		int64_t secs = strcmp(n->clock, "first_response") == 0 ? sla->first_response
									: sla->resolution;
		char d[32];
		snprintf(target, sizeof(target), "%s %s", pd_sla_format_duration(secs, d, sizeof(d)),
			 strcmp(sla->calendar, "24x7") == 0 ? "(24x7)" : "(business time)");
	}
	pd_sla_format_duration(n->late < 0 ? -n->late : n->late, late, sizeof(late));
	/* the line the ticket is on as the notice is sent (an escalation's: the new one) */
	snprintf(line, sizeof(line), "%d", n->line);
	snprintf(from_line, sizeof(from_line), "%d", n->from_line);
	const char *lang = cfg->default_language ? cfg->default_language : "en";
	bool ru = strncmp(lang, "ru", 2) == 0;
	bool fr = strcmp(n->clock, "first_response") == 0;
	const char *clock = ru ? (fr ? "первый ответ" : "решение")
			       : (fr ? "first response" : "resolution");
	const char *reasons = PQgetvalue(facts, r, FACT_COL(0));
	const char *due = PQgetvalue(facts, r, FACT_COL(2));
	const char *requester = COL(1), *requester_name = COL(2);
	m->reason = ru ? pd_xasprintf("нарушен срок «%s» (срок %s, просрочено на %s)", clock, due,
				      late)
		       : pd_xasprintf("the %s SLA was breached (due %s, %s late)", clock, due, late);
	m->name = from_name(cfg);
	const struct pd_render_var vars[] = {
	    {"ticket.number", id},
	    {"ticket.subject", COL(0)},
	    {"ticket.status", COL(4)},
	    {"ticket.priority", COL(5)},
	    {"ticket.queue", COL(6)},
	    {"ticket.line", line},
	    {"ticket.reasons", reasons[0] ? reasons : "-"},
	    {"customer.name", requester_name[0] ? requester_name : requester},
	    {"customer.address", requester},
	    {"message.body", PQgetvalue(facts, r, FACT_COL(1))},
	    {"sla.clock", clock},
	    {"sla.target", target},
	    {"sla.due", due},
	    {"sla.late", late},
	    {"line.from", from_line},
	    {"reason", m->reason},
	    {"support.address", cfg->support_address},
	};
#undef COL
	m->to = pd_xcalloc(notify->n, sizeof(*m->to));
	for (size_t i = 0; i < notify->n; i++) {
		m->to[i].name = (char *)"";
		m->to[i].address = notify->v[i];
	}
	if (pd_template_render(&cfg->templates, lang, template, vars, PD_ARRAY_LEN(vars),
			       &m->subject, &m->body, err) < 0)
		return -1;
	m->tagged = pd_render_tagged_subject(cfg->subject_tag, n->ticket, m->subject);
	m->mid = new_message_id(cfg, n->ticket, kind);
	struct pd_render_mail rm = {
	    .kind = kind,
	    .auto_submitted = "auto-generated",
	    .from = {m->name, cfg->support_address},
	    .reply_to = {m->name, m->reply},
	    .to = m->to,
	    .n_to = notify->n,
	    .subject = m->tagged,
	    .message_id = m->mid,
	    .body = m->body,
	    .date = time(NULL),
	    .language = NULL,
	};
	if (pd_render_check(&rm, err) < 0)
		return -1;
	m->spec = pd_outspec_json(&rm, NULL, n->ticket != 0);
	*om = (struct pd_outbox_mail){
	    .ticket = n->ticket,
	    .kind = kind,
	    .message_id = m->mid,
	    .mail_from = cfg->support_address,
	    .rcpts = (const char *const *)notify->v,
	    .n_rcpts = notify->n,
	    .to_address = notify->v[0],
	    .automatic = false,
	    .subject = m->tagged,
	    .body = m->body,
	    .render = m->spec,
	};
	return 0;
}

/* The line's notify list, or agents.notify when it has none. */
static const struct pd_strlist *sla_notify(const struct pd_config *cfg, int line)
{
	const struct pd_line_cfg *l = pd_config_line(cfg, line);

	return l != NULL && l->notify.n > 0 ? &l->notify : &cfg->agent_notify;
}

int pd_compose_sla_notices(struct pd_db *db, const struct pd_config *cfg,
			   const struct pd_sla_notice_info *n, size_t count, struct pd_err *err)
{
	size_t *which = pd_xcalloc(count + 1, sizeof(*which)), k = 0, sent = 0;
	struct pd_buf ids, dues;
	PGresult *facts = NULL;
	struct sla_mail *m = NULL;
	struct pd_outbox_mail *om = NULL;
	int rc = -1;

	/* only the notices someone is told of; their facts in one query */
	pd_buf_init(&ids);
	pd_buf_init(&dues);
	for (size_t i = 0; i < count; i++) {
		if (sla_notify(cfg, n[i].line)->n == 0)
			continue;
		pd_buf_printf(&ids, "%s%" PRId64, k ? "," : "{", n[i].ticket);
		pd_buf_printf(&dues, "%s%lld", k ? "," : "{", (long long)n[i].due);
		which[k++] = i;
	}
	if (k == 0) {
		rc = 0;
		goto out;
	}
	pd_buf_append_char(&ids, '}');
	pd_buf_append_char(&dues, '}');
	const char *v[2] = {ids.data, dues.data};
	facts = pd_db_query(db, "pd_compose_notice_facts", SQL_NOTICE_FACTS, 2, v, err);
	if (facts == NULL)
		goto out;
	/* render each in memory; a notice that cannot be is logged, the others go */
	m = pd_xcalloc(k, sizeof(*m));
	om = pd_xcalloc(k, sizeof(*om));
	int rows = PQntuples(facts), r = 0;
	for (size_t j = 0; j < k; j++) {
		const struct pd_sla_notice_info *ni = &n[which[j]];
		struct pd_err ce;

		pd_err_clear(&ce);
		/* answers to it go to the ticket's reply address, as a notice's do */
		if (pd_reply_address(db, cfg, ni->ticket, m[j].reply, err) < 0)
			goto out;
		while (r < rows && strtoull(PQgetvalue(facts, r, 0), NULL, 10) < j + 1)
			r++;
		if (r >= rows || strtoull(PQgetvalue(facts, r, 0), NULL, 10) != j + 1)
			pd_err_set(&ce, PD_ERR_PERM, PD_SRC_COMPOSE, 0, "no ticket #%" PRId64, ni->ticket);
		else if (render_sla_notice(cfg, ni, sla_notify(cfg, ni->line), facts, r, &m[j],
					   &om[sent], &ce) == 0) {
			sent++;
			continue;
		}
		pd_log_err("ticket=%" PRId64 ": no %s notice sent: %s", ni->ticket, ni->kind,
			   ce.msg);
	}
	rc = pd_outbox_enqueue_many(db, om, sent, err);
out:
	for (size_t j = 0; m != NULL && j < k; j++)
		sla_mail_free(&m[j]);
	free(m);
	free(om);
	PQclear(facts);
	pd_buf_free(&ids);
	pd_buf_free(&dues);
	free(which);
	return rc;
}

/* ------------------------------------------------- held agents' mail */

/* What went wrong and what to do, in the configured language. */
static void held_texts(const struct pd_config *cfg, enum pd_compose_held why, const char *detail,
		       char **reason_r, const char **advice_r)
{
	bool ru = cfg->default_language != NULL && strncmp(cfg->default_language, "ru", 2) == 0;

	switch (why) {
	case PD_HELD_UNVERIFIED:
		*reason_r = ru ? pd_xasprintf("не удалось подтвердить, что письмо написали вы (%s)",
					      detail)
			       : pd_xasprintf("postdesk could not confirm that you wrote it: %s",
					      detail);
		*advice_r =
		    ru ? "Чтобы ответить клиенту, ответьте (Reply) на уведомление об обращении:\n"
			 "его адрес Reply-To принадлежит только этому обращению и подтверждает,\n"
			 "что ответ ваш. Сообщение сохранено в обращении как внутренняя заметка."
		       : "To answer the customer, reply to the notice about the ticket: its\n"
			 "Reply-To is the ticket's own address, which shows that the answer is\n"
			 "yours. The message is kept on the ticket as an internal note.";
		break;
	case PD_HELD_NOT_AGENT:
		*reason_r = ru ? pd_xstrdup("ваш адрес не входит в список сотрудников поддержки"
					    " (agents.addresses)")
			       : pd_xstrdup("your address is not one of the agents'"
					    " (agents.addresses)");
		*advice_r =
		    ru ? "Отвечать клиентам могут только адреса из agents.addresses в настройках\n"
			 "postdesk: попросите администратора добавить ваш адрес. Сообщение\n"
			 "сохранено в обращении как внутренняя заметка."
		       : "Only the addresses in agents.addresses of postdesk's configuration may\n"
			 "answer customers: ask the administrator to add yours. The message is\n"
			 "kept on the ticket as an internal note.";
		break;
	case PD_HELD_EMPTY:
	default:
		*reason_r = ru ? pd_xstrdup("в ответе нет вашего текста, только цитата")
			       : pd_xstrdup("the answer has no text of your own, only the quote");
		*advice_r = ru ? "Напишите ответ над цитатой или под ней и отправьте его ещё раз."
			       : "Write your answer above or below the quote and send it again.";
		break;
	}
}

int pd_compose_agent_held(struct pd_db *db, const struct pd_config *cfg, int64_t ticket,
			  const struct pd_msg *msg, enum pd_compose_held why, const char *detail,
			  struct pd_err *err)
{
	const char *own[1] = {cfg->support_address};
	const char *addr = msg->from.address, *why_not = NULL, *advice = NULL;
	struct pd_auto_counts ac = {0, 0, false};
	struct ticket_info t;
	char number[24];
	char *reason = NULL;
	int rc;

	if (addr[0] == '\0')
		return 0;
	/* never an answer to an automatic mail or a flood: one error each way */
	if (pd_outbox_auto_counts(db, addr, &ac, err) < 0)
		return -1;
	struct pd_loop_input in = {
	    .msg = msg,
	    .own_addresses = own,
	    .n_own = 1,
	    .loop_header_value = cfg->message_id_domain,
	    .auto_sent_recent = ac.recent,
	    .auto_sent_day = ac.day,
	    .limit_recent = cfg->auto_reply_limit_10m,
	    .limit_day = cfg->auto_reply_limit_day,
	    .sender_suppressed = ac.suppressed,
	};
	enum pd_loop_verdict verdict = pd_loopguard_check(&in, &why_not);
	if (verdict != PD_LOOP_OK)
		return record_event(db, ticket, "agent.error_suppressed", "reason",
				    why_not ? why_not : pd_loop_verdict_name(verdict), err);
	if (ticket_info(db, ticket, &t, err) < 0)
		return -1;
	held_texts(cfg, why, detail ? detail : "", &reason, &advice);
	snprintf(number, sizeof(number), "%" PRId64, ticket);
	const struct pd_render_var vars[] = {
	    {"reason", reason},
	    {"advice", advice},
	    {"ticket.number", number},
	    {"ticket.subject", t.subject},
	    {"support.address", cfg->support_address},
	};
	/* to the sender's own address only, outside the thread it wrote into */
	rc = error_to_sender(db, cfg, ticket, msg, "agent-held", vars, PD_ARRAY_LEN(vars), false,
			     true, err);
	ticket_info_free(&t);
	free(reason);
	return rc;
}
