/*
 * test_plan.c - the ingest planner as a table: a mail and the database's
 * facts in, the plan out (what kind of mail, which ticket, which steps).
 */
#include "autoconfig.h" /* _GNU_SOURCE: nftw's struct FTW */

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "confload.h"
#include "mime.h"
#include "msg.h"
#include "plan.h"
#include "util.h"

/* ----------------------------------------------------------- helpers */

static char tmpdir[256];
static struct pd_config *with_smtp, *without_smtp;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static struct pd_config *load(const char *name, const char *text)
{
	struct pd_config *cfg = NULL;
	struct pd_config_errors e = {0, NULL};
	char *path = pd_xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return NULL;
	fputs(text, f);
	fclose(f);
	if (pd_config_load(path, &cfg, &e) != 0) {
		for (size_t i = 0; i < e.n; i++)
			print_message("  %s\n", e.v[i]);
		cfg = NULL;
	}
	free(path);
	return cfg;
}

#define BASE                                                                                   \
	"support_address = \"support@example.com\"\n"                                         \
	"database { conninfo = \"dbname=postdesk\" }\n"                                       \
	"reopen_days = 14\n"                                                                   \
	"agents {\n"                                                                           \
	"  addresses = {\"alice@example.com\"}\n"                                              \
	"  trusted_authserv_ids = {\"mx.example.com\"}\n"                                      \
	"}\n"

static int setup(void **state)
{
	(void)state;
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/pd-test-plan-XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	with_smtp = load("smtp.conf", BASE "smtp { url = \"smtp://127.0.0.1:25\""
					   " from = \"Support <support@example.com>\" }\n");
	without_smtp = load("nosmtp.conf", BASE);
	return with_smtp && without_smtp ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	pd_config_free(with_smtp);
	pd_config_free(without_smtp);
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The plan's steps as one line: "set:status=open mail:follow-up". */
static char *steps_text(const struct pd_plan *p)
{
	struct pd_buf b;

	pd_buf_init(&b);
	for (size_t i = 0; i < p->n_steps; i++) {
		const struct pd_plan_step *s = &p->steps[i];
		char *one = NULL;

		switch (s->kind) {
		case PD_STEP_LINK:
			one = pd_xasprintf("link:%lld", (long long)s->number);
			break;
		case PD_STEP_BOUNCE:
			one = pd_xasprintf("bounce:%s:%lld", s->value, (long long)s->number);
			break;
		case PD_STEP_RATING:
			one = pd_xasprintf("rating:%lld", (long long)s->number);
			break;
		case PD_STEP_AGENT_AUTOMATIC:
			one = pd_xstrdup("automatic");
			break;
		case PD_STEP_HELD:
			one = pd_xasprintf("held:%s", s->field);
			break;
		case PD_STEP_SET_FIELD:
			one = pd_xasprintf("set:%s=%s", s->field, s->value);
			break;
		case PD_STEP_FIRST_RESPONSE:
			one = pd_xstrdup("first-response");
			break;
		case PD_STEP_MAIL:
			one = pd_xasprintf("mail:%s", pd_plan_mail_name(s->mail));
			break;
		}
		if (i)
			pd_buf_append_char(&b, ' ');
		pd_buf_append(&b, one, strlen(one));
		free(one);
	}
	return pd_buf_steal(&b, NULL);
}

static const char DSN[] =
    "Return-Path: <>\r\n"
    "From: MAILER-DAEMON@mx1.example.com (Mail Delivery System)\r\n"
    "To: support@example.com\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "Message-ID: <dsn1@mx1.example.com>\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Your message could not be delivered.\r\n"
    "--b\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx1.example.com\r\n"
    "\r\n"
    "Final-Recipient: rfc822; ivan@customer.example\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "From: Support <support@example.com>\r\n"
    "To: ivan@customer.example\r\n"
    "Subject: [Support #7] Printer\r\n"
    "Message-ID: <ours.7@example.com>\r\n"
    "\r\n"
    "--b--\r\n";

struct row {
	const char *name;
	bool smtp;
	const char *from;
	const char *to;
	const char *subject;
	const char *headers; /* more header lines, each ending in \r\n */
	const char *body;    /* NULL: the raw mail is DSN */
	/* facts */
	int64_t dup, own_ref, ref, tag_ticket;
	bool tag_part;
	int64_t token;  /* a reply address of this ticket was a recipient */
	int64_t bounce; /* our mail the DSN reports on belongs to this ticket */
	/* the ticket it threads to */
	const char *status;
	int age_days;
	bool surveyed, participant, assigned;
	/* expected */
	enum pd_plan_kind kind;
	int64_t ticket; /* the ticket it threads to (a follow-up's old one) */
	const char *rule;
	const char *msg_kind;
	const char *steps;
	int64_t foreign;
};

#define CUST "ivan@customer.example"
#define AGENT "alice@example.com"
#define SUPPORT "support@example.com"
#define DMARC "Authentication-Results: mx.example.com; dmarc=pass header.from=example.com\r\n"
#define UNTRUSTED "Authentication-Results: evil.example.net; dmarc=pass header.from=example.com\r\n"
#define AUTOREPLY "Auto-Submitted: auto-replied\r\n"

static const struct row rows[] = {
    /* ---- threading */
    {"new mail", true, CUST, SUPPORT, "Printer broken", "", "It is broken.",
     0, 0, 0, 0, false, 0, 0, NULL, 0, false, false, false,
     PD_PLAN_NEW_TICKET, 0, "new", "customer", "mail:new-ticket", 0},
    {"new mail, no smtp", false, CUST, SUPPORT, "Printer broken", "", "It is broken.",
     0, 0, 0, 0, false, 0, 0, NULL, 0, false, false, false,
     PD_PLAN_NEW_TICKET, 0, "new", "customer", "", 0},
    {"reply by our Message-ID", true, CUST, SUPPORT, "Re: Printer", "", "Still broken.",
     0, 7, 8, 0, false, 0, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "mail:follow-up", 0},
    {"reply by References", true, CUST, SUPPORT, "Re: Printer", "", "Still broken.",
     0, 0, 8, 0, false, 0, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 8, "message-id", "customer", "mail:follow-up", 0},
    {"reply while pending reopens", true, CUST, SUPPORT, "Re: Printer", "", "Did not help.",
     0, 7, 0, 0, false, 0, 0, "pending", 0, false, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "set:status=open mail:follow-up", 0},
    {"reply while pending, no smtp", false, CUST, SUPPORT, "Re: Printer", "", "Did not help.",
     0, 7, 0, 0, false, 0, 0, "pending", 0, false, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "set:status=open", 0},
    {"tag from a participant", true, CUST, SUPPORT, "[Support #9] more", "", "Also this.",
     0, 0, 0, 9, true, 0, 0, "new", 0, false, true, false,
     PD_PLAN_APPEND, 9, "subject-tag", "customer", "mail:follow-up", 0},
    {"stranger with a tag", true, "eve@other.example", SUPPORT, "[Support #9] hi", "",
     "Let me in.", 0, 0, 0, 9, false, 0, 0, NULL, 0, false, false, false,
     PD_PLAN_NEW_TICKET, 0, "new", "customer", "mail:new-ticket", 9},
    {"duplicate", true, CUST, SUPPORT, "Printer broken", "", "It is broken.",
     3, 7, 0, 0, false, 0, 0, NULL, 0, false, false, false,
     PD_PLAN_DUPLICATE, 3, "duplicate", "customer", "", 0},
    {"thread to a ticket that is gone", true, CUST, SUPPORT, "Re: x", "", "Hello.",
     0, 0, 8, 0, false, 0, 0, NULL, 0, false, false, false,
     PD_PLAN_APPEND, 8, "message-id", "customer", "mail:follow-up", 0},

    /* ---- reopening, follow-up, survey */
    {"resolved lately reopens", true, CUST, SUPPORT, "Re: Printer", "", "Broken again.",
     0, 7, 0, 0, false, 0, 0, "resolved", 2, false, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "set:status=open mail:follow-up", 0},
    {"resolved long ago: follow-up", true, CUST, SUPPORT, "Re: Printer", "", "Broken again.",
     0, 7, 0, 0, false, 0, 0, "resolved", 20, false, false, true,
     PD_PLAN_NEW_TICKET, 7, "follow-up", "customer", "link:7 mail:new-ticket", 0},
    {"closed: follow-up", true, CUST, SUPPORT, "Re: Printer", "", "Broken again.",
     0, 0, 8, 0, false, 0, 0, "closed", 0, false, false, true,
     PD_PLAN_NEW_TICKET, 8, "follow-up", "customer", "link:8 mail:new-ticket", 0},
    {"survey rating", true, CUST, SUPPORT, "Re: How did we do?", "", "5 - great, thanks",
     0, 7, 0, 0, false, 0, 0, "resolved", 1, true, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "rating:5", 0},
    {"survey answered late still rates", true, CUST, SUPPORT, "Re: survey", "", "3",
     0, 7, 0, 0, false, 0, 0, "resolved", 30, true, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "rating:3", 0},
    {"surveyed, but not a rating", true, CUST, SUPPORT, "Re: survey", "", "50 times broken",
     0, 7, 0, 0, false, 0, 0, "resolved", 1, true, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "set:status=open mail:follow-up", 0},
    {"a digit without a survey", true, CUST, SUPPORT, "Re: Printer", "", "5",
     0, 7, 0, 0, false, 0, 0, "resolved", 1, false, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "set:status=open mail:follow-up", 0},

    /* ---- bounces and automatic mail */
    {"bounce of our mail", true, NULL, NULL, NULL, NULL, NULL,
     0, 0, 0, 0, false, 0, 7, NULL, 0, false, false, false,
     PD_PLAN_APPEND, 7, "bounce", "system", "bounce:ivan@customer.example:1", 0},
    {"bounce of someone else's mail", true, NULL, NULL, NULL, NULL, NULL,
     0, 0, 0, 0, false, 0, 0, NULL, 0, false, false, false,
     PD_PLAN_NEW_TICKET, 0, "new", "customer", "mail:new-ticket", 0},
    {"autoresponder on a ticket", true, CUST, SUPPORT, "Re: Printer", AUTOREPLY, "Away.",
     0, 7, 0, 0, false, 0, 0, "pending", 0, false, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "", 0},
    {"our own mail looping back", true, SUPPORT, SUPPORT, "Re: Printer", "", "Loop.",
     0, 7, 0, 0, false, 0, 0, "pending", 0, false, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "", 0},
    {"list mail on a ticket", true, CUST, SUPPORT, "Re: Printer",
     "List-Id: <x.lists.example>\r\n", "Digest.",
     0, 7, 0, 0, false, 0, 0, "pending", 0, false, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "", 0},

    /* ---- agents */
    {"agent to the reply address", true, AGENT, "support+t5-0000000000000000@example.com",
     "Re: Printer", "", "Fixed it.", 0, 5, 0, 0, false, 5, 0, "open", 0, false, false, false,
     PD_PLAN_APPEND, 5, "own-message-id", "agent",
     "mail:agent-reply first-response set:assignee=alice@example.com set:status=pending", 0},
    {"agent, ticket assigned", true, AGENT, SUPPORT, "Re: Printer", "", "Fixed it.",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "agent",
     "mail:agent-reply first-response set:status=pending", 0},
    {"agent verified by trusted DMARC", true, AGENT, SUPPORT, "Re: Printer", DMARC,
     "Fixed it.", 0, 5, 0, 0, false, 0, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "agent",
     "mail:agent-reply first-response set:status=pending", 0},
    {"agent, no smtp", false, AGENT, SUPPORT, "Re: Printer", "", "Fixed it.",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "agent", "first-response set:status=pending", 0},
    {"agent unverified: no proof", true, AGENT, SUPPORT, "Re: Printer", "", "Fixed it.",
     0, 5, 0, 0, false, 0, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "held:agent.unverified mail:held-unverified",
     0},
    {"agent unverified: untrusted results", true, AGENT, SUPPORT, "Re: Printer", UNTRUSTED,
     "Fixed it.", 0, 5, 0, 0, false, 0, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "held:agent.unverified mail:held-unverified",
     0},
    {"agent unverified, no smtp", false, AGENT, SUPPORT, "Re: Printer", "", "Fixed it.",
     0, 5, 0, 0, false, 0, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "held:agent.unverified", 0},
    {"agent to another ticket's reply address", true, AGENT, SUPPORT, "Re: Printer", "",
     "Fixed it.", 0, 5, 0, 0, false, 6, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "held:agent.unverified mail:held-unverified",
     0},
    {"agent by tag, unverified", true, AGENT, SUPPORT, "[Support #9] answer", "", "Done.",
     0, 0, 0, 9, false, 0, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 9, "subject-tag", "note", "held:agent.unverified mail:held-unverified", 0},
    {"stranger to a reply address", true, "eve@other.example", SUPPORT, "Re: Printer", "",
     "Hi.", 0, 0, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "reply-address", "note", "held:agent.unknown mail:held-not-agent", 0},
    {"automatic mail to a reply address", true, "eve@other.example", SUPPORT, "Re: Printer",
     AUTOREPLY, "Away.", 0, 0, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "reply-address", "note", "held:agent.unknown", 0},
    {"the customer answers all", true, CUST, SUPPORT, "Re: Printer", "", "Thanks!",
     0, 5, 0, 0, false, 5, 0, "pending", 0, false, true, true,
     PD_PLAN_APPEND, 5, "own-message-id", "customer", "set:status=open mail:follow-up", 0},
    {"agent's autoresponder", true, AGENT, SUPPORT, "Re: Printer", AUTOREPLY, "Away.",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "automatic", 0},

    /* ---- agents' commands and notes */
    {"#resolve with text", true, AGENT, SUPPORT, "Re: Printer", "", "#resolve\nFixed it.",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "agent",
     "set:status=resolved mail:survey mail:agent-reply first-response", 0},
    {"#priority and #assign", true, AGENT, SUPPORT, "Re: Printer", "",
     "#priority high\n#assign bob@example.com\nOn it.", 0, 5, 0, 0, false, 5, 0, "open", 0,
     false, false, false, PD_PLAN_APPEND, 5, "own-message-id", "agent",
     "set:priority=high set:assignee=bob@example.com mail:agent-reply first-response "
     "set:status=pending",
     0},
    {"commands alone", true, AGENT, SUPPORT, "Re: Printer", "", "#close\n",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "agent", "set:status=closed", 0},
    {"#note", true, AGENT, SUPPORT, "Re: Printer", "", "#note\nCustomer is angry.",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "", 0},
    {"#note with #resolve", true, AGENT, SUPPORT, "Re: Printer", "", "#note\n#resolve\nDone.",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "set:status=resolved mail:survey", 0},
    {"to the +note address", true, AGENT, "support+note@example.com", "Re: Printer", "",
     "Internal.", 0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "", 0},
    {"a bad command", true, AGENT, SUPPORT, "Re: Printer", "", "#clsoe\nDone.",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "mail:command-error", 0},
    {"an empty answer", true, AGENT, SUPPORT, "Re: Printer", "", "  \n",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "note", "mail:held-empty", 0},
    {"commands below the quote", true, AGENT, SUPPORT, "Re: Printer", "",
     "Fixed.\n\nOn Monday Ivan wrote:\n> it is broken\n", 0, 5, 0, 0, false, 5, 0, "open", 0,
     false, false, true, PD_PLAN_APPEND, 5, "own-message-id", "agent",
     "mail:agent-reply first-response set:status=pending", 0},
    {"#pending with text", true, AGENT, SUPPORT, "Re: Printer", "", "#pending\nWhich model?",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "agent",
     "set:status=pending mail:agent-reply first-response", 0},
    {"#line and #type", true, AGENT, SUPPORT, "Re: Printer", "", "#line 2\n#type refund\nOK.",
     0, 5, 0, 0, false, 5, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 5, "own-message-id", "agent",
     "set:line=2 set:type=refund mail:agent-reply first-response set:status=pending", 0},
    {"agent by tag, verified by DMARC", true, AGENT, SUPPORT, "[Support #9] answer", DMARC,
     "Done.", 0, 0, 0, 9, false, 0, 0, "open", 0, false, false, true,
     PD_PLAN_APPEND, 9, "subject-tag", "agent",
     "mail:agent-reply first-response set:status=pending", 0},
    {"bounce, no smtp", false, NULL, NULL, NULL, NULL, NULL,
     0, 0, 0, 0, false, 0, 7, NULL, 0, false, false, false,
     PD_PLAN_APPEND, 7, "bounce", "system", "bounce:ivan@customer.example:1", 0},
    {"closed, no smtp: follow-up", false, CUST, SUPPORT, "Re: Printer", "", "Again.",
     0, 0, 8, 0, false, 0, 0, "closed", 0, false, false, true,
     PD_PLAN_NEW_TICKET, 8, "follow-up", "customer", "link:8", 0},
    {"an autoresponder opens a ticket", true, CUST, SUPPORT, "Out of office", AUTOREPLY,
     "Away.", 0, 0, 0, 0, false, 0, 0, NULL, 0, false, false, false,
     PD_PLAN_NEW_TICKET, 0, "new", "customer", "mail:new-ticket", 0},
    {"resolved 13 days ago reopens", true, CUST, SUPPORT, "Re: Printer", "", "Again.",
     0, 7, 0, 0, false, 0, 0, "resolved", 13, false, false, true,
     PD_PLAN_APPEND, 7, "own-message-id", "customer", "set:status=open mail:follow-up", 0},
    {"resolved a minute over reopen_days ago", true, CUST, SUPPORT, "Re: Printer", "",
     "Again.", 0, 7, 0, 0, false, 0, 0, "resolved", 14, false, false, true,
     PD_PLAN_NEW_TICKET, 7, "follow-up", "customer", "link:7 mail:new-ticket", 0},
    {"an agent opens a ticket", true, AGENT, SUPPORT, "For the customer", "", "Hello.",
     0, 0, 0, 0, false, 0, 0, NULL, 0, false, false, false,
     PD_PLAN_NEW_TICKET, 0, "new", "agent", "", 0},
};

static char *raw_of(const struct row *r)
{
	if (r->body == NULL)
		return pd_xstrdup(DSN);
	return pd_xasprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <m1@customer.example>\r\n"
			    "%s\r\n%s\r\n",
			    r->from, r->to, r->subject, r->headers, r->body);
}

static void plan_row(const struct row *r, struct pd_msg *msg, struct pd_plan *p,
		     struct pd_plan_probe *probe, struct pd_plan_facts *f, int64_t *tokens)
{
	const struct pd_config *cfg = r->smtp ? with_smtp : without_smtp;

	pd_plan_probe(cfg, msg, probe);
	memset(f, 0, sizeof(*f));
	f->duplicate_of = r->dup;
	f->own_ref_ticket = r->own_ref;
	f->ref_ticket = r->ref;
	f->tag_ticket = r->tag_ticket;
	f->tag_from_participant = r->tag_part;
	if (r->token) {
		tokens[0] = r->token;
		f->reply_tickets = tokens;
		f->n_reply_tickets = 1;
		f->token_ticket = r->token;
	}
	f->bounce_ticket = r->bounce;
	const struct pd_plan_input in = {cfg, "support", msg, probe, f};
	if (pd_plan_mail(&in, p) == PD_PLAN_NEED_TICKET) {
		assert_int_equal(p->ticket, r->ticket);
		assert_int_equal(p->n_steps, 0);
		pd_plan_free(p);
		f->ticket.known = true;
		f->ticket.exists = r->status != NULL;
		snprintf(f->ticket.status, sizeof(f->ticket.status), "%s", r->status ? r->status : "");
		f->ticket.resolved_age = (int64_t)r->age_days * 86400 + 60;
		f->ticket.surveyed = r->surveyed;
		f->ticket.from_participant = r->participant;
		f->ticket.unassigned = !r->assigned;
		assert_int_not_equal(pd_plan_mail(&in, p), PD_PLAN_NEED_TICKET);
	}
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		char *raw = raw_of(r);
		struct pd_mime_opts o = {0, 0, 0};
		struct pd_msg *msg = pd_mime_parse(raw, strlen(raw), &o);
		struct pd_plan p;
		struct pd_plan_probe probe;
		struct pd_plan_facts f;
		int64_t tokens[1];

		print_message("row %zu: %s\n", i, r->name);
		plan_row(r, msg, &p, &probe, &f, tokens);
		char *steps = steps_text(&p);
		if (p.kind != r->kind || strcmp(steps, r->steps) != 0 ||
		    strcmp(p.rule, r->rule) != 0 || strcmp(p.msg_kind, r->msg_kind) != 0)
			print_message("  got %s rule=%s kind=%s steps=\"%s\"\n",
				      pd_plan_kind_name(p.kind), p.rule, p.msg_kind, steps);
		assert_int_equal(p.kind, r->kind);
		assert_string_equal(p.rule, r->rule);
		assert_string_equal(p.msg_kind, r->msg_kind);
		assert_string_equal(steps, r->steps);
		assert_int_equal(p.foreign_tag, r->foreign);
		if (r->kind == PD_PLAN_APPEND || r->kind == PD_PLAN_DUPLICATE)
			assert_int_equal(p.ticket, r->ticket);
		if (r->kind == PD_PLAN_NEW_TICKET) {
			assert_true(p.has_fresh);
			assert_non_null(p.fresh.subject);
			assert_non_null(p.fresh.language);
			assert_string_equal(p.event, "ticket.created");
		} else {
			assert_false(p.has_fresh);
			assert_string_equal(p.event, "message.threaded");
		}
		/* customers' To/Cc become participants; agents', notes' and bounces' not */
		assert_int_equal(p.add_cc, strcmp(r->msg_kind, "customer") == 0 &&
					       r->kind != PD_PLAN_DUPLICATE);
		assert_null(p.flag);
		free(steps);
		pd_plan_free(&p);
		pd_plan_probe_free(&probe);
		pd_msg_free(msg);
		free(raw);
	}
}

/* The same facts give the same plan (nothing else is read). */
static void test_repeatable(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *raw = raw_of(&rows[i]);
		struct pd_mime_opts o = {0, 0, 0};
		struct pd_msg *msg = pd_mime_parse(raw, strlen(raw), &o);
		struct pd_plan a, b;
		struct pd_plan_probe pa, pb;
		struct pd_plan_facts fa, fb;
		int64_t ta[1], tb[1];

		plan_row(&rows[i], msg, &a, &pa, &fa, ta);
		plan_row(&rows[i], msg, &b, &pb, &fb, tb);
		char *sa = steps_text(&a), *sb = steps_text(&b);
		assert_string_equal(sa, sb);
		assert_int_equal(a.kind, b.kind);
		assert_int_equal(a.ticket, b.ticket);
		if (a.has_fresh) {
			assert_string_equal(a.fresh.subject, b.fresh.subject);
			assert_int_equal(a.fresh.cls.priority, b.fresh.cls.priority);
		}
		free(sa);
		free(sb);
		pd_plan_free(&a);
		pd_plan_free(&b);
		pd_plan_probe_free(&pa);
		pd_plan_probe_free(&pb);
		pd_msg_free(msg);
		free(raw);
	}
}

/* A new ticket's subject: prefixes and our tag gone, cut at a character. */
static void test_fresh_subject(void **state)
{
	(void)state;
	static const struct {
		const char *subject, *want;
	} cases[] = {
	    {"Printer broken", "Printer broken"},
	    {"Re: Fwd: Printer broken", "Printer broken"},
	    {"AW: [Support #12345] Drucker", "Drucker"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct row r = rows[0];
		r.subject = cases[i].subject;
		char *raw = raw_of(&r);
		struct pd_mime_opts o = {0, 0, 0};
		struct pd_msg *msg = pd_mime_parse(raw, strlen(raw), &o);
		struct pd_plan p;
		struct pd_plan_probe probe;
		struct pd_plan_facts f;
		int64_t t[1];

		plan_row(&r, msg, &p, &probe, &f, t);
		assert_int_equal(p.kind, PD_PLAN_NEW_TICKET);
		assert_string_equal(p.fresh.subject, cases[i].want);
		assert_string_equal(p.fresh.language, "en");
		assert_null(p.fresh.plan);
		pd_plan_free(&p);
		pd_plan_probe_free(&probe);
		pd_msg_free(msg);
		free(raw);
	}

	/* a 5000-byte subject of two-byte characters: the ticket's is cut */
	struct pd_buf b;
	pd_buf_init(&b);
	for (int i = 0; i < 2500; i++)
		pd_buf_append(&b, "\xc3\xa9", 2);
	char *long_subject = pd_buf_steal(&b, NULL);
	struct pd_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.subject = long_subject;
	msg.body_text = (char *)"";
	msg.from.name = (char *)"";
	msg.from.address = (char *)CUST;
	struct pd_plan p;
	struct pd_plan_probe probe;
	struct pd_plan_facts f;
	memset(&f, 0, sizeof(f));
	pd_plan_probe(with_smtp, &msg, &probe);
	const struct pd_plan_input in = {with_smtp, NULL, &msg, &probe, &f};
	assert_int_equal(pd_plan_mail(&in, &p), PD_PLAN_NEW_TICKET);
	assert_true(strlen(p.fresh.subject) <= PD_PLAN_SCAN_SUBJECT);
	assert_true(strlen(p.fresh.subject) >= PD_PLAN_SCAN_SUBJECT - 4);
	assert_int_equal(strlen(p.fresh.subject) % 2, 0);
	pd_plan_free(&p);
	pd_plan_probe_free(&probe);
	free(long_subject);
}

/* A mail that did not parse is still planned, and flags its ticket. */
static void test_flag(void **state)
{
	(void)state;
	struct row r = rows[0];
	char *raw = raw_of(&r);
	struct pd_mime_opts o = {0, 0, 0};
	struct pd_msg *msg = pd_mime_parse(raw, strlen(raw), &o);
	struct pd_plan p;
	struct pd_plan_probe probe;
	struct pd_plan_facts f;
	int64_t t[1];

	msg->parse_failed = true;
	free(msg->parse_error);
	msg->parse_error = pd_xstrdup("broken MIME");
	plan_row(&r, msg, &p, &probe, &f, t);
	assert_int_equal(p.kind, PD_PLAN_NEW_TICKET);
	assert_string_equal(p.flag, "not parsed: broken MIME");
	pd_plan_free(&p);
	pd_plan_probe_free(&probe);

	msg->parse_failed = false;
	msg->oversized = true;
	r.own_ref = 7;
	r.status = "open";
	r.kind = PD_PLAN_APPEND;
	r.ticket = 7;
	plan_row(&r, msg, &p, &probe, &f, t);
	assert_int_equal(p.kind, PD_PLAN_APPEND);
	assert_string_equal(p.flag, "too large to parse: broken MIME");
	pd_plan_free(&p);
	pd_plan_probe_free(&probe);
	pd_msg_free(msg);
	free(raw);
}

/* What a mail asks the database about. */
static void test_probe(void **state)
{
	(void)state;
	struct pd_mime_opts o = {0, 0, 0};
	struct pd_msg *msg = pd_mime_parse(DSN, strlen(DSN), &o);
	struct pd_plan_probe pr;

	pd_plan_probe(with_smtp, msg, &pr);
	assert_true(pr.is_dsn);
	assert_true(pr.automatic);
	assert_string_equal(pr.bounce_of, "ours.7@example.com");
	assert_string_equal(pr.bounce_rcpt, "ivan@customer.example");
	assert_true(pr.bounce_permanent);
	assert_int_equal(pr.tag, 0);
	pd_plan_probe_free(&pr);
	pd_msg_free(msg);

	struct row r = rows[0];
	r.subject = "Re: [support #42] x";
	char *raw = raw_of(&r);
	msg = pd_mime_parse(raw, strlen(raw), &o);
	pd_plan_probe(with_smtp, msg, &pr);
	assert_false(pr.is_dsn);
	assert_false(pr.automatic);
	assert_null(pr.bounce_of);
	assert_int_equal(pr.tag, 42);
	pd_plan_probe_free(&pr);
	pd_msg_free(msg);
	free(raw);
}

/* ------------------------------------------------------------ batches */

/* One mail of a batch, built by hand: id, references, sender, content. */
struct bmail {
	struct pd_msg msg;
	struct pd_plan_probe probe;
	struct pd_plan_facts facts;
	char *refs[2];
};

static void bmail(struct bmail *b, char *id, char *ref, char *from, int content)
{
	memset(b, 0, sizeof(*b));
	b->msg.message_id = id;
	b->refs[0] = ref;
	b->msg.references = b->refs;
	b->msg.n_references = ref != NULL;
	b->msg.from.address = from;
	b->msg.content_hash[0] = (unsigned char)content;
}

static struct pd_plan_item bitem(struct bmail *b, const struct pd_plan *plan)
{
	return (struct pd_plan_item){&b->msg, &b->probe, &b->facts, plan};
}

/* Which mails of a batch depend on which: a table of (earlier, later). */
static void test_batch_depends(void **state)
{
	(void)state;
	struct bmail x, y;
	struct pd_plan_item a, b;
	static const struct {
		const char *what;
		char *x_id, *y_id, *y_ref, *x_from, *y_from;
		int x_content, y_content;
		char *x_bounce_rcpt;
		int64_t x_tag, y_ref_ticket, x_ref_ticket;
		enum pd_plan_dep want;
	} deps[] = {
	    {"strangers", "a@x", "b@x", NULL, "ann@c", "bob@c", 1, 2, NULL, 0, 0, 0, PD_DEP_NONE},
	    {"one sender, two new tickets", "a@x", "b@x", NULL, "ann@c", "ANN@c", 1, 2, NULL, 0, 0,
	     0, PD_DEP_NONE},
	    {"the same content", "a@x", "b@x", NULL, "ann@c", "bob@c", 1, 1, NULL, 0, 0, 0,
	     PD_DEP_FOLLOWS},
	    {"the same Message-ID", "a@x", "a@x", NULL, "ann@c", "bob@c", 1, 2, NULL, 0, 0, 0,
	     PD_DEP_FOLLOWS},
	    {"a reply to it", "a@x", "b@x", "a@x", "ann@c", "bob@c", 1, 2, NULL, 0, 0, 0,
	     PD_DEP_FOLLOWS},
	    {"a bounce about its sender", "a@x", "b@x", NULL, "mailer@c", "bob@c", 1, 2, "BOB@c", 0,
	     0, 0, PD_DEP_BOUNCE},
	    {"the earlier one's tag names its ticket", "a@x", "b@x", NULL, "ann@c", "bob@c", 1, 2,
	     NULL, 7, 7, 0, PD_DEP_TICKET},
	    {"both reply into one ticket", "a@x", "b@x", NULL, "ann@c", "bob@c", 1, 2, NULL, 0, 7, 7,
	     PD_DEP_TICKET},
	    {"replies into two tickets", "a@x", "b@x", NULL, "ann@c", "bob@c", 1, 2, NULL, 0, 7, 8,
	     PD_DEP_NONE},
	    {"no Message-ID either", NULL, NULL, NULL, "ann@c", "bob@c", 1, 2, NULL, 0, 0, 0,
	     PD_DEP_NONE},
	};
	for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]); i++) {
		bmail(&x, deps[i].x_id, NULL, deps[i].x_from, deps[i].x_content);
		bmail(&y, deps[i].y_id, deps[i].y_ref, deps[i].y_from, deps[i].y_content);
		x.probe.bounce_rcpt = deps[i].x_bounce_rcpt;
		x.probe.tag = deps[i].x_tag;
		x.facts.ref_ticket = deps[i].x_ref_ticket;
		y.facts.ref_ticket = deps[i].y_ref_ticket;
		a = bitem(&x, NULL);
		b = bitem(&y, NULL);
		if (pd_plan_depends(&a, &b) != deps[i].want)
			fail_msg("%s: depends %d, want %d", deps[i].what, pd_plan_depends(&a, &b),
				 deps[i].want);
	}
	/* the ticket a planned mail threads to counts too */
	bmail(&x, "a@x", NULL, "ann@c", 1);
	bmail(&y, "b@x", NULL, "bob@c", 2);
	struct pd_plan px = {.kind = PD_PLAN_APPEND, .ticket = 9};
	struct pd_plan py = {.kind = PD_PLAN_NEED_TICKET, .ticket = 9};
	a = bitem(&x, &px);
	b = bitem(&y, &py);
	assert_int_equal(pd_plan_depends(&a, &b), PD_DEP_TICKET);
	assert_true(pd_plan_may_touch(&a, 9));
	assert_false(pd_plan_may_touch(&a, 0));
	assert_false(pd_plan_may_touch(&a, 10));
}

/* What the set writes of a plan, and which mails left out may open a ticket. */
static void test_batch_set(void **state)
{
	(void)state;
	struct pd_plan_step ack = {.kind = PD_STEP_MAIL, .mail = PD_MAIL_NEW_TICKET};
	struct pd_plan_step notice = {.kind = PD_STEP_MAIL, .mail = PD_MAIL_FOLLOW_UP};
	struct pd_plan_step link = {.kind = PD_STEP_LINK, .number = 3};
	struct pd_plan_step reopen = {.kind = PD_STEP_SET_FIELD, .field = "status", .value = "open"};
	struct pd_plan_step two[2] = {link, ack};
	char flag[] = "not parsed: x";
	static const char *customer = "customer", *agent = "agent";
	struct {
		const char *what;
		struct pd_plan p;
		enum pd_plan_set want;
	} sets[] = {
	    {"duplicate", {.kind = PD_PLAN_DUPLICATE}, PD_SET_DUPLICATE},
	    {"threads to a ticket", {.kind = PD_PLAN_NEED_TICKET}, PD_SET_ASK_TICKET},
	    {"new ticket, acknowledged", {.kind = PD_PLAN_NEW_TICKET, .n_steps = 1, .steps = &ack},
	     PD_SET_NEW},
	    {"new ticket, no SMTP", {.kind = PD_PLAN_NEW_TICKET}, PD_SET_NEW},
	    {"new ticket, flagged", {.kind = PD_PLAN_NEW_TICKET, .flag = flag}, PD_SET_NO},
	    {"new ticket, foreign tag", {.kind = PD_PLAN_NEW_TICKET, .foreign_tag = 4}, PD_SET_NO},
	    {"follow-up ticket of a closed one",
	     {.kind = PD_PLAN_NEW_TICKET, .n_steps = 2, .steps = two},
	     PD_SET_NO},
	    {"customer writes again",
	     {.kind = PD_PLAN_APPEND, .msg_kind = customer, .n_steps = 1, .steps = &notice},
	     PD_SET_FOLLOW_UP},
	    {"customer reopens",
	     {.kind = PD_PLAN_APPEND, .msg_kind = customer, .n_steps = 1, .steps = &reopen},
	     PD_SET_NO},
	    {"agent answers", {.kind = PD_PLAN_APPEND, .msg_kind = agent}, PD_SET_NO},
	};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (pd_plan_set_kind(&sets[i].p) != sets[i].want)
			fail_msg("%s: set kind %d, want %d", sets[i].what,
				 pd_plan_set_kind(&sets[i].p), sets[i].want);

	struct bmail b;
	struct pd_plan_item it;
	struct pd_plan fresh = {.kind = PD_PLAN_NEW_TICKET};
	struct pd_plan reply = {.kind = PD_PLAN_NEED_TICKET, .ticket = 5};
	bmail(&b, "a@x", NULL, "ann@c", 1);
	it = bitem(&b, &fresh);
	assert_true(pd_plan_may_open(&it, false));
	it = bitem(&b, &reply);
	assert_false(pd_plan_may_open(&it, false));
	it = bitem(&b, NULL);
	assert_true(pd_plan_may_open(&it, false)); /* unknown: it may */
	assert_false(pd_plan_may_open(&it, true)); /* a duplicate or reply of an earlier one */
	b.facts.token_ticket = 5;
	assert_false(pd_plan_may_open(&it, false)); /* an answer into its ticket */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_repeatable),
	    cmocka_unit_test(test_fresh_subject),
	    cmocka_unit_test(test_flag),
	    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_batch_depends),
	    cmocka_unit_test(test_batch_set),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
