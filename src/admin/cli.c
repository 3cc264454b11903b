/*
 * cli.c - postdesk, the admin command line (its main()).  Owns the command
 * words and their options, usage(), the exit codes, and each command's SQL
 * and output: migrate, check-config, tickets, show, raw, attachment, set,
 * outbox, reprocess, mailboxes, report (report.c lays it out), kb import,
 * list and search (kb.c reads the files, kbdb.c stores them) and oauth2
 * (oauth2.c signs in).  It links the admin layer and below, never the
 * daemon (core).  JSON output is built by PostgreSQL (json_build_object /
 * json_agg), never by hand; human output is a plain table.
 *
 * Exit codes (sysexits.h): 0 ok, 64 usage, 65 bad data (unknown ticket, bad
 * value), 69 database unavailable, 78 configuration or schema problem.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "compose.h"
#include "config.h"
#include "confload.h"
#include "db_int.h"
#include "kb.h"
#include "kbdb.h"
#include "kbfiles.h"
#include "language.h"
#include "log.h"
#include "migrate.h"
#include "oauth2.h"
#include "report.h"
#include "store.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: postdesk -c FILE COMMAND [ARGS]\n"
		"commands:\n"
		"  migrate                            apply schema migrations (idempotent)\n"
		"  check-config                       validate the configuration\n"
		"  tickets [--status S] [--queue Q] [--type T] [--json]\n"
		"  show NUMBER [--json]               a ticket with its messages and events\n"
		"  raw NUMBER [N]                     original bytes of the ticket's Nth message\n"
		"  attachment NUMBER SHA256-PREFIX    the bytes of one of the ticket's attachments\n"
		"  set NUMBER status|priority|queue|assignee|line|type VALUE\n"
		"  outbox [--all] [--json]            mail waiting, being sent or failed\n"
		"  outbox retry ID                    send a failed row again now\n"
		"  mailboxes [--json]                 each mailbox: state, last poll, last error\n"
		"  reprocess NUMBER [N]               parse the stored original of message N again\n"
		"  kb import DIR                      load the knowledge-base articles in DIR\n"
		"  kb list [--json]                   the articles and how often each was suggested\n"
		"  kb search [--lang en|ru] TEXT      the articles a mail with TEXT would get\n"
		"  report [--since 30d] [--json]      volumes, response times, SLA, backlog, ratings\n"
		"  report [--since 30d] --html FILE   the same as one page with charts (- = stdout)\n"
		"  oauth2 MAILBOX|smtp                sign in once (OAuth 2.0 device code) and save\n"
		"                                     the refresh token\n");
}

static int err_exit(const struct pd_err *err)
{
	fprintf(stderr, "postdesk: %s\n", err->msg);
	return err->cls == PD_ERR_FATAL ? EX_CONFIG : EX_UNAVAILABLE;
}

/* Connect and, unless migrating, insist on the schema this build knows. */
static int open_db(const struct pd_config *cfg, bool check_schema, struct pd_db **db_r)
{
	struct pd_err err;

	pd_err_clear(&err);
	if (pd_db_connect(cfg->db_conninfo, cfg->db_statement_timeout, db_r, &err) < 0)
		return err_exit(&err);
	if (check_schema && pd_migrate_check(*db_r, &err) < 0) {
		pd_db_close(*db_r);
		*db_r = NULL;
		return err_exit(&err);
	}
	return 0;
}

static int cmd_migrate(const struct pd_config *cfg)
{
	struct pd_db *db;
	struct pd_err err;
	int from, to, rc;

	if ((rc = open_db(cfg, false, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	if (pd_migrate_apply(db, &from, &to, &err) < 0) {
		pd_db_close(db);
		return err_exit(&err);
	}
	if (from == to)
		printf("schema is up to date at version %d\n", to);
	else
		printf("schema migrated from version %d to %d\n", from, to);
	pd_db_close(db);
	return 0;
}

/* The ticket fields shared by "tickets" and "show" (DESIGN.md's contract). */
#define TICKET_FIELDS                                                                        \
	"'number', t.id, 'subject', t.subject, 'requester', t.requester_address,"            \
	" 'requester_name', t.requester_name, 'status', t.status, 'priority', t.priority,"   \
	" 'type', t.type, 'plan', t.plan,"                                                   \
	" 'queue', t.queue, 'line', t.line, 'assignee', t.assignee, 'language', t.language," \
	" 'mailbox', t.mailbox, 'flagged', t.flagged, 'flag_reason', t.flag_reason,"         \
	" 'created_at', t.created_at, 'updated_at', t.updated_at,"                           \
	" 'first_response_due', t.first_response_due, 'resolution_due', t.resolution_due,"   \
	" 'first_response_at', t.first_response_at, 'resolved_at', t.resolved_at,"           \
	" 'closed_at', t.closed_at, 'linked_ticket', t.linked_ticket, 'rating', t.rating"

static const char SQL_TICKETS_JSON[] =
    "SELECT coalesce(json_agg(json_build_object(" TICKET_FIELDS ","
    "  'messages', (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id))"
    "  ORDER BY t.id), '[]')"
    " FROM tickets t"
    " WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR t.queue = $2)"
    "   AND ($3::text IS NULL OR t.type = $3)";

static const char SQL_TICKETS_TABLE[] =
    "SELECT t.id, t.status, t.priority, t.queue, t.line,"
    "  (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id),"
    "  t.requester_address, t.subject, t.flagged, t.type"
    " FROM tickets t"
    " WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR t.queue = $2)"
    "   AND ($3::text IS NULL OR t.type = $3)"
    " ORDER BY t.id";

/* Print UTF-8 s in at most width columns (counting code points), ending
 * with an ellipsis when cut; returns the columns used. */
static int print_cut(const char *s, int width)
{
	size_t len = strlen(s);
	const char *p = s, *end = s + len;
	int total = (int)pd_utf8_count(s, len), cols = 0;
	int keep = total <= width ? total : width - 1;

	while (p < end && cols < keep) {
		size_t n = pd_utf8_prefix(p, (size_t)(end - p), 1);
		if ((unsigned char)*p < 0x20)
			fputc(' ', stdout);
		else
			fwrite(p, 1, n, stdout);
		p += n;
		cols++;
	}
	if (keep < total) {
		fputs("…", stdout);
		cols++;
	}
	return cols;
}

static int cmd_tickets(const struct pd_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"status", required_argument, NULL, 's'},
	    {"queue", required_argument, NULL, 'q'},
	    {"type", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	const char *params[3] = {NULL, NULL, NULL};
	bool json = false;
	struct pd_db *db;
	struct pd_err err;
	PGresult *res;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 's')
			params[0] = optarg;
		else if (c == 'q')
			params[1] = optarg;
		else if (c == 't')
			params[2] = optarg;
		else if (c == 'j')
			json = true;
		else
			return EX_USAGE;
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	res = pd_db_query(db, NULL, json ? SQL_TICKETS_JSON : SQL_TICKETS_TABLE, 3, params, &err);
	if (res == NULL) {
		pd_db_close(db);
		return err_exit(&err);
	}
	if (json) {
		printf("%s\n", PQgetvalue(res, 0, 0));
	} else {
		printf("%6s  %-8s %-8s %-10s %-10s %4s %4s  %-28s %s\n", "NUMBER", "STATUS",
		       "PRIORITY", "TYPE", "QUEUE", "LINE", "MSGS", "REQUESTER", "SUBJECT");
		for (int i = 0; i < PQntuples(res); i++) {
			printf("%6s  %-8s %-8s %-10s %-10s %4s %4s  ", PQgetvalue(res, i, 0),
			       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 9),
			       PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
			int used = print_cut(PQgetvalue(res, i, 6), 28);
			printf("%*s ", 28 - used, "");
			if (PQgetvalue(res, i, 8)[0] == 't')
				fputs("[needs attention] ", stdout);
			print_cut(PQgetvalue(res, i, 7), 60);
			fputc('\n', stdout);
		}
		printf("(%d tickets)\n", PQntuples(res));
	}
	PQclear(res);
	pd_db_close(db);
	return 0;
}

static const char SQL_SHOW_JSON[] =
    "SELECT json_build_object(" TICKET_FIELDS ","
    " 'participants', (SELECT coalesce(json_agg(json_build_object('address', p.address,"
    "    'name', p.name, 'role', p.role) ORDER BY p.role DESC, p.address), '[]')"
    "    FROM participants p WHERE p.ticket_id = t.id),"
    " 'messages', (SELECT coalesce(json_agg(json_build_object("
    "    'direction', m.direction, 'kind', m.kind, 'message_id', m.message_id,"
    "    'from', json_build_object('name', m.from_name, 'address', m.from_address),"
    "    'to', m.to_addrs, 'cc', m.cc_addrs, 'subject', m.subject, 'date', m.sent_date,"
    "    'received_at', m.created_at,"
    /* an outbound mail queued to be rendered has its size once it is sent */
    "    'size', CASE WHEN m.direction = 'out' AND m.raw_size = 0 THEN NULL ELSE m.raw_size END,"
    "    'parse_error', m.parse_error,"
    "    'body_text', m.body_text,"
    "    'attachments', (SELECT coalesce(json_agg(json_build_object("
    "        'filename', a.filename, 'content_type', a.content_type, 'size', a.size,"
    "        'sha256', encode(a.sha256, 'hex')) ORDER BY a.position), '[]')"
    "      FROM attachments a WHERE a.message_id = m.id))"
    "    ORDER BY m.id), '[]') FROM messages m WHERE m.ticket_id = t.id),"
    " 'priority_reasons', postdesk_priority_reasons(t.id),"
    " 'events', (SELECT coalesce(json_agg(json_build_object('at', e.created_at,"
    "    'actor', e.actor, 'kind', e.kind, 'detail', e.detail) ORDER BY e.id), '[]')"
    "    FROM events e WHERE e.ticket_id = t.id))"
    " FROM tickets t WHERE t.id = $1::bigint";

static const char SQL_SHOW_TICKET[] =
    "SELECT t.id, t.subject, t.requester_name, t.requester_address, t.status, t.priority,"
    "  t.queue, t.line, coalesce(t.assignee, '-'), t.created_at, t.flagged,"
    "  coalesce(t.flag_reason, ''), coalesce(t.language, ''),"
    "  postdesk_priority_reasons(t.id),"
    "  CASE WHEN t.first_response_at IS NOT NULL"
    "       THEN 'answered ' || to_char(t.first_response_at, 'YYYY-MM-DD HH24:MI TZH:TZM')"
    "       WHEN t.first_response_due IS NOT NULL"
    "       THEN 'due ' || to_char(t.first_response_due, 'YYYY-MM-DD HH24:MI TZH:TZM')"
    "       ELSE '-' END,"
    "  CASE WHEN t.resolved_at IS NOT NULL"
    "       THEN 'resolved ' || to_char(t.resolved_at, 'YYYY-MM-DD HH24:MI TZH:TZM')"
    "       WHEN t.resolution_due IS NOT NULL"
    "       THEN 'due ' || to_char(t.resolution_due, 'YYYY-MM-DD HH24:MI TZH:TZM')"
    "       ELSE '-' END,"
    "  CASE WHEN t.sla_calendar IS NULL THEN 'no SLA for this priority'"
    "       WHEN t.sla_since IS NULL THEN 'clocks paused (' || t.status || ')'"
    "       ELSE 'clocks running on ' || t.sla_calendar END,"
    "  t.type, coalesce(t.plan, '-')"
    " FROM tickets t WHERE t.id = $1::bigint";

static const char SQL_SHOW_MESSAGES[] =
    "SELECT m.direction, m.kind, coalesce(m.sent_date, m.created_at), m.from_name,"
    "  m.from_address, m.subject, m.body_text, coalesce(m.parse_error, ''),"
    "  (SELECT string_agg(coalesce(a.filename, '(unnamed)') || ' (' || a.content_type || ', '"
    "     || a.size || ' bytes)', ', ' ORDER BY a.position)"
    "    FROM attachments a WHERE a.message_id = m.id)"
    " FROM messages m WHERE m.ticket_id = $1::bigint ORDER BY m.id";

static const char SQL_SHOW_EVENTS[] =
    "SELECT e.created_at, e.actor, e.kind, e.detail::text FROM events e"
    " WHERE e.ticket_id = $1::bigint ORDER BY e.id";

static int parse_number(const char *s, char *out, size_t outlen)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "postdesk: \"%s\" is not a ticket number\n", s);
		return -1;
	}
	snprintf(out, outlen, "%lld", v);
	return 0;
}

static void show_human(PGresult *t, PGresult *msgs, PGresult *evs)
{
	printf("Ticket #%s: %s\n", PQgetvalue(t, 0, 0), PQgetvalue(t, 0, 1));
	printf("Requester: %s <%s>\n", PQgetvalue(t, 0, 2), PQgetvalue(t, 0, 3));
	printf("Status: %s   Priority: %s   Type: %s   Queue: %s   Line: %s   Assignee: %s   "
	       "Language: %s   Plan: %s\n",
	       PQgetvalue(t, 0, 4), PQgetvalue(t, 0, 5), PQgetvalue(t, 0, 17), PQgetvalue(t, 0, 6),
	       PQgetvalue(t, 0, 7), PQgetvalue(t, 0, 8), PQgetvalue(t, 0, 12),
	       PQgetvalue(t, 0, 18));
	if (PQgetvalue(t, 0, 13)[0])
		printf("Priority reasons: %s\n", PQgetvalue(t, 0, 13));
	printf("Created: %s\n", PQgetvalue(t, 0, 9));
	printf("SLA: first response %s; resolution %s; %s\n", PQgetvalue(t, 0, 14),
	       PQgetvalue(t, 0, 15), PQgetvalue(t, 0, 16));
	if (PQgetvalue(t, 0, 10)[0] == 't')
		printf("NEEDS ATTENTION: %s\n", PQgetvalue(t, 0, 11));
	for (int i = 0; i < PQntuples(msgs); i++) {
		printf("\n--- %d. %s %s, %s, from %s <%s>\n", i + 1, PQgetvalue(msgs, i, 0),
		       PQgetvalue(msgs, i, 1), PQgetvalue(msgs, i, 2), PQgetvalue(msgs, i, 3),
		       PQgetvalue(msgs, i, 4));
		printf("Subject: %s\n", PQgetvalue(msgs, i, 5));
		if (!PQgetisnull(msgs, i, 8))
			printf("Attachments: %s\n", PQgetvalue(msgs, i, 8));
		if (PQgetvalue(msgs, i, 7)[0])
			printf("Not parsed: %s (see: postdesk raw %s %d)\n", PQgetvalue(msgs, i, 7),
			       PQgetvalue(t, 0, 0), i + 1);
		printf("\n%s\n", PQgetvalue(msgs, i, 6));
	}
	printf("\nEvents:\n");
	for (int i = 0; i < PQntuples(evs); i++)
		printf("  %s  %-24s %-20s %s\n", PQgetvalue(evs, i, 0), PQgetvalue(evs, i, 1),
		       PQgetvalue(evs, i, 2), PQgetvalue(evs, i, 3));
}

static int cmd_show(const struct pd_config *cfg, int argc, char **argv)
{
	bool json = false;
	const char *num = NULL;
	char number[32];
	const char *params[1] = {number};
	struct pd_db *db;
	struct pd_err err;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (num == NULL)
			num = argv[i];
		else
			return EX_USAGE;
	}
	if (num == NULL) {
		usage(stderr);
		return EX_USAGE;
	}
	if (parse_number(num, number, sizeof(number)) < 0)
		return EX_DATAERR;
	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	PGresult *t = pd_db_query(db, NULL, json ? SQL_SHOW_JSON : SQL_SHOW_TICKET, 1, params, &err);
	if (t == NULL) {
		rc = err_exit(&err);
	} else if (PQntuples(t) == 0) {
		fprintf(stderr, "postdesk: no ticket #%s\n", number);
		rc = EX_DATAERR;
	} else if (json) {
		printf("%s\n", PQgetvalue(t, 0, 0));
	} else {
		PGresult *m = pd_db_query(db, NULL, SQL_SHOW_MESSAGES, 1, params, &err);
		PGresult *e = m ? pd_db_query(db, NULL, SQL_SHOW_EVENTS, 1, params, &err) : NULL;
		if (m == NULL || e == NULL)
			rc = err_exit(&err);
		else
			show_human(t, m, e);
		PQclear(m);
		PQclear(e);
	}
	PQclear(t);
	pd_db_close(db);
	return rc;
}

static int cmd_raw(const struct pd_config *cfg, int argc, char **argv)
{
	char number[32], idx[32] = "1";
	const char *params[2] = {number, idx};
	struct pd_db *db;
	struct pd_err err;
	int rc;

	if (argc < 2 || argc > 3) {
		usage(stderr);
		return EX_USAGE;
	}
	if (parse_number(argv[1], number, sizeof(number)) < 0 ||
	    (argc == 3 && parse_number(argv[2], idx, sizeof(idx)) < 0))
		return EX_DATAERR;
	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	PGresult *res = pd_db_query_bin(db, NULL,
					"SELECT r.raw FROM messages m JOIN message_raw r"
					" ON r.message_id = m.id WHERE m.ticket_id = $1::bigint"
					" ORDER BY m.id OFFSET $2::bigint - 1 LIMIT 1",
					2, params, NULL, NULL, &err);
	if (res == NULL) {
		rc = err_exit(&err);
	} else if (PQntuples(res) == 0) {
		fprintf(stderr, "postdesk: ticket #%s has no message %s\n", number, idx);
		rc = EX_DATAERR;
	} else {
		size_t len;
		unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0),
						     &len);
		if (raw != NULL)
			fwrite(raw, 1, len, stdout);
		PQfreemem(raw);
	}
	PQclear(res);
	pd_db_close(db);
	return rc;
}

/* The exact bytes of the attachment of ticket NUMBER whose SHA-256 (as
 * show --json gives it) starts with the hex PREFIX, to stdout. */
static int cmd_attachment(const struct pd_config *cfg, int argc, char **argv)
{
	char number[32], prefix[65];
	struct pd_db *db;
	struct pd_err err;
	int rc = 0;

	if (argc != 3) {
		usage(stderr);
		return EX_USAGE;
	}
	if (parse_number(argv[1], number, sizeof(number)) < 0)
		return EX_DATAERR;
	size_t pl = strlen(argv[2]);
	if (pl < 4 || pl > 64 || strspn(argv[2], "0123456789abcdefABCDEF") != pl) {
		fprintf(stderr,
			"postdesk: \"%s\" is not a SHA-256 prefix: give 4 to 64 hex digits of the "
			"sha256 that the notice or show --json lists\n",
			argv[2]);
		return EX_USAGE;
	}
	for (size_t i = 0; i <= pl; i++)
		prefix[i] = (char)(argv[2][i] >= 'A' && argv[2][i] <= 'F' ? argv[2][i] + 32
									   : argv[2][i]);
	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	const char *params[2] = {number, prefix};
	/* which files match: at most two are needed to tell */
	PGresult *res = pd_db_query(
	    db, NULL,
	    "SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1::bigint),"
	    " h.hex, h.names FROM (SELECT 1) one LEFT JOIN LATERAL ("
	    "  SELECT encode(a.sha256, 'hex') AS hex,"
	    "         string_agg(DISTINCT coalesce(a.filename, '(no name)'), ', ') AS names"
	    "    FROM attachments a JOIN messages m ON m.id = a.message_id"
	    "   WHERE m.ticket_id = $1::bigint AND encode(a.sha256, 'hex') LIKE $2 || '%'"
	    "   GROUP BY a.sha256 ORDER BY 1 LIMIT 2) h ON true",
	    2, params, &err);
	if (res == NULL) {
		rc = err_exit(&err);
		goto out;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		fprintf(stderr, "postdesk: no ticket #%s\n", number);
		rc = EX_DATAERR;
	} else if (PQgetisnull(res, 0, 1)) {
		fprintf(stderr,
			"postdesk: ticket #%s has no attachment whose sha256 starts with %s (postdesk "
			"show %s --json lists them)\n",
			number, prefix, number);
		rc = EX_DATAERR;
	} else if (PQntuples(res) > 1) {
		fprintf(stderr,
			"postdesk: %s is ambiguous on ticket #%s: it starts the sha256 of %s (%s) and "
			"of %s (%s); give more digits\n",
			prefix, number, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
			PQgetvalue(res, 1, 1), PQgetvalue(res, 1, 2));
		rc = EX_USAGE;
	}
	if (rc != 0) {
		PQclear(res);
		goto out;
	}
	const char *hp[1] = {PQgetvalue(res, 0, 1)};
	PGresult *data = pd_db_query_bin(db, NULL,
					 "SELECT data FROM blobs WHERE sha256 = decode($1, 'hex')", 1,
					 hp, NULL, NULL, &err);
	PQclear(res);
	if (data == NULL) {
		rc = err_exit(&err);
		goto out;
	}
	size_t len = 0;
	unsigned char *bytes =
	    PQntuples(data) ? PQunescapeBytea((const unsigned char *)PQgetvalue(data, 0, 0), &len)
			    : NULL;
	if (bytes == NULL) {
		fprintf(stderr, "postdesk: the content of the attachment is missing from the blobs "
				"table (or out of memory)\n");
		rc = EX_SOFTWARE;
	} else if (fwrite(bytes, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "postdesk: writing the attachment to stdout: %s\n", strerror(errno));
		rc = EX_IOERR;
	}
	PQfreemem(bytes);
	PQclear(data);
out:
	pd_db_close(db);
	return rc;
}

static int cmd_set(const struct pd_config *cfg, int argc, char **argv)
{
	static const char *const fields[] = {"status", "priority", "queue", "assignee", "line",
					     "type"};
	static const char *const statuses[] = {"new", "open", "pending", "resolved", "closed"};
	static const char *const priorities[] = {"critical", "high", "normal", "low"};
	static const char *const types[] = {"question",   "incident", "complaint",
					    "suggestion", "refund",   "access"};
	char number[32], actor[128];
	struct pd_db *db;
	struct pd_err err;
	bool ok = false;
	int rc;

	if (argc != 4) {
		usage(stderr);
		return EX_USAGE;
	}
	if (parse_number(argv[1], number, sizeof(number)) < 0)
		return EX_DATAERR;
	for (size_t i = 0; i < PD_ARRAY_LEN(fields); i++)
		ok = ok || strcmp(argv[2], fields[i]) == 0;
	if (!ok) {
		fprintf(stderr, "postdesk: cannot set \"%s\": use status, priority, queue, assignee, "
				"line or type\n",
			argv[2]);
		return EX_USAGE;
	}
	ok = true;
	if (strcmp(argv[2], "status") == 0) {
		ok = false;
		for (size_t i = 0; i < PD_ARRAY_LEN(statuses); i++)
			ok = ok || strcmp(argv[3], statuses[i]) == 0;
	} else if (strcmp(argv[2], "priority") == 0) {
		ok = false;
		for (size_t i = 0; i < PD_ARRAY_LEN(priorities); i++)
			ok = ok || strcmp(argv[3], priorities[i]) == 0;
	} else if (strcmp(argv[2], "line") == 0) {
		char *end;
		long v = strtol(argv[3], &end, 10);
		ok = *argv[3] && *end == '\0' && v >= 1 && v <= 100;
	} else if (strcmp(argv[2], "queue") == 0) {
		ok = argv[3][0] != '\0';
	} else if (strcmp(argv[2], "type") == 0) {
		ok = false;
		for (size_t i = 0; i < PD_ARRAY_LEN(types); i++)
			ok = ok || strcmp(argv[3], types[i]) == 0;
	}
	if (!ok) {
		if (strcmp(argv[2], "type") == 0)
			fprintf(stderr, "postdesk: \"%s\" is not a valid type: use question, incident, "
					"complaint, suggestion, refund or access\n",
				argv[3]);
		else
			fprintf(stderr, "postdesk: \"%s\" is not a valid %s\n", argv[3], argv[2]);
		return EX_DATAERR;
	}
	const char *user = getenv("SUDO_USER") ? getenv("SUDO_USER") : getenv("USER");
	snprintf(actor, sizeof(actor), "cli:%s", user ? user : "unknown");
	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	int found = pd_store_set_field(db, cfg, strtoll(number, NULL, 10), argv[2], argv[3], actor, &err);
	if (found < 0) {
		rc = err_exit(&err);
	} else if (found == 0) {
		fprintf(stderr, "postdesk: no ticket #%s\n", number);
		rc = EX_DATAERR;
	} else {
		printf("ticket #%s: %s set to %s\n", number, argv[2], argv[3]);
		/* resolving asks the customer for a rating, as from mail */
		if (strcmp(argv[2], "status") == 0 && strcmp(argv[3], "resolved") == 0 &&
		    cfg->smtp.enabled && pd_compose_survey(db, cfg, strtoll(number, NULL, 10), &err) < 0)
			fprintf(stderr, "postdesk: no satisfaction survey queued: %s\n", err.msg);
	}
	pd_db_close(db);
	return rc;
}

static const char SQL_OUTBOX_JSON[] =
    "SELECT coalesce(json_agg(json_build_object('id', o.id, 'ticket', o.ticket_id,"
    "  'kind', o.kind, 'status', o.status, 'to', o.rcpt_to, 'subject', o.subject,"
    "  'message_id', o.message_id, 'attempts', o.attempts, 'next_attempt_at',"
    "  o.next_attempt_at, 'last_error', o.last_error, 'created_at', o.created_at,"
    "  'sent_at', o.sent_at) ORDER BY o.id), '[]')"
    " FROM outbox o WHERE $1::boolean OR o.status <> 'sent'";

static const char SQL_OUTBOX_TABLE[] =
    "SELECT o.id, o.status, o.kind, coalesce(o.ticket_id::text, '-'),"
    "  array_to_string(o.rcpt_to, ','), o.attempts,"
    "  CASE WHEN o.status = 'queued' THEN to_char(o.next_attempt_at, 'YYYY-MM-DD HH24:MI:SS')"
    "       ELSE '' END, coalesce(o.last_error, '')"
    " FROM outbox o WHERE $1::boolean OR o.status <> 'sent' ORDER BY o.id";

/* outbox [--all] [--json] | outbox retry ID */
static int cmd_outbox(const struct pd_config *cfg, int argc, char **argv)
{
	bool json = false, all = false;
	struct pd_db *db;
	struct pd_err err;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "retry") == 0) {
		char id[32], actor[128];
		const char *user = getenv("SUDO_USER") ? getenv("SUDO_USER") : getenv("USER");
		const char *v[2] = {id, actor};

		if (argc != 3) {
			usage(stderr);
			return EX_USAGE;
		}
		if (parse_number(argv[2], id, sizeof(id)) < 0)
			return EX_DATAERR;
		snprintf(actor, sizeof(actor), "cli:%s", user ? user : "unknown");
		if ((rc = open_db(cfg, true, &db)) != 0)
			return rc;
		pd_err_clear(&err);
		PGresult *res = pd_db_query(
		    db, NULL,
		    "WITH u AS (UPDATE outbox SET status = 'queued', next_attempt_at = now(),"
		    "             attempts = 0, lease_until = NULL"
		    "           WHERE id = $1::bigint AND status IN ('failed', 'queued')"
		    "           RETURNING id, ticket_id, last_error),"
		    " e AS (INSERT INTO events (ticket_id, actor, kind, detail)"
		    "       SELECT ticket_id, $2, 'mail.retry',"
		    "         jsonb_build_object('outbox_id', id, 'last_error', last_error)"
		    "       FROM u WHERE ticket_id IS NOT NULL)"
		    "SELECT count(*) FROM u",
		    2, v, &err);
		if (res == NULL) {
			rc = err_exit(&err);
		} else if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
			fprintf(stderr, "postdesk: no failed or queued outbox row %s\n", id);
			rc = EX_DATAERR;
		} else {
			printf("outbox row %s queued for sending now\n", id);
		}
		PQclear(res);
		pd_db_close(db);
		return rc;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--all") == 0)
			all = true;
		else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	const char *v[1] = {all ? "true" : "false"};
	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	PGresult *res = pd_db_query(db, NULL, json ? SQL_OUTBOX_JSON : SQL_OUTBOX_TABLE, 1, v, &err);
	if (res == NULL) {
		pd_db_close(db);
		return err_exit(&err);
	}
	if (json) {
		printf("%s\n", PQgetvalue(res, 0, 0));
	} else {
		printf("%6s  %-7s %-10s %6s  %-28s %3s  %-19s %s\n", "ID", "STATUS", "KIND", "TICKET",
		       "TO", "TRY", "NEXT ATTEMPT", "LAST ERROR");
		for (int i = 0; i < PQntuples(res); i++) {
			printf("%6s  %-7s %-10s %6s  ", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
			int used = print_cut(PQgetvalue(res, i, 4), 28);
			printf("%*s %3s  %-19s ", 28 - used, "", PQgetvalue(res, i, 5),
			       PQgetvalue(res, i, 6));
			print_cut(PQgetvalue(res, i, 7), 70);
			fputc('\n', stdout);
		}
		printf("(%d rows%s)\n", PQntuples(res), all ? "" : "; --all to include sent mail");
	}
	PQclear(res);
	pd_db_close(db);
	return 0;
}

/* reprocess NUMBER [N]: parse the stored original of a message again. */
static int cmd_reprocess(const struct pd_config *cfg, int argc, char **argv)
{
	char number[32], idx[32] = "1", actor[128];
	const char *user = getenv("SUDO_USER") ? getenv("SUDO_USER") : getenv("USER");
	char *perr = NULL;
	struct pd_db *db;
	struct pd_err err;
	int rc, found;

	if (argc < 2 || argc > 3) {
		usage(stderr);
		return EX_USAGE;
	}
	if (parse_number(argv[1], number, sizeof(number)) < 0 ||
	    (argc == 3 && parse_number(argv[2], idx, sizeof(idx)) < 0))
		return EX_DATAERR;
	snprintf(actor, sizeof(actor), "cli:%s", user ? user : "unknown");
	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	found = pd_store_reprocess(db, cfg, strtoll(number, NULL, 10), strtoll(idx, NULL, 10), actor,
				   &perr, &err);
	if (found < 0) {
		rc = err_exit(&err);
	} else if (found == 0) {
		fprintf(stderr, "postdesk: ticket #%s has no message %s\n", number, idx);
		rc = EX_DATAERR;
	} else if (perr != NULL) {
		printf("ticket #%s message %s parsed again, still not cleanly: %s\n", number, idx, perr);
	} else {
		printf("ticket #%s message %s parsed again\n", number, idx);
	}
	free(perr);
	pd_db_close(db);
	return rc;
}

/* mailboxes [--json]: every configured mailbox with what the daemon last said. */
static int cmd_mailboxes(const struct pd_config *cfg, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	struct pd_db *db;
	struct pd_err err;
	struct pd_buf names, urls;
	int rc;

	if (argc > 2 || (argc == 2 && !json)) {
		usage(stderr);
		return EX_USAGE;
	}
	/* the configured names and URLs as text[] literals (names are [A-Za-z0-9._-]) */
	pd_buf_init(&names);
	pd_buf_init(&urls);
	pd_buf_append_char(&names, '{');
	pd_buf_append_char(&urls, '{');
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		pd_buf_printf(&names, "%s\"%s\"", i ? "," : "", cfg->mailboxes[i].name);
		pd_buf_append_str(&urls, i ? ",\"" : "\"");
		for (const char *u = cfg->mailboxes[i].url; *u; u++) {
			if (*u == '"' || *u == '\\')
				pd_buf_append_char(&urls, '\\');
			pd_buf_append_char(&urls, *u);
		}
		pd_buf_append_char(&urls, '"');
	}
	pd_buf_append_char(&names, '}');
	pd_buf_append_char(&urls, '}');
	const char *v[2] = {names.data, urls.data};
	if ((rc = open_db(cfg, true, &db)) != 0) {
		pd_buf_free(&names);
		pd_buf_free(&urls);
		return rc;
	}
	pd_err_clear(&err);
	PGresult *res = pd_db_query(
	    db, NULL,
	    json ? "SELECT coalesce(json_agg(json_build_object('name', c.name, 'url', c.url,"
		   "  'state', CASE WHEN s.name IS NULL THEN 'never polled'"
		   "                WHEN s.last_error IS NOT NULL THEN 'failing' ELSE 'ok' END,"
		   "  'last_poll_at', s.last_poll_at, 'last_error', s.last_error,"
		   "  'last_error_at', s.last_error_at, 'uidvalidity', s.uidvalidity,"
		   "  'last_uid', s.last_uid) ORDER BY c.i), '[]')"
		   " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c(name, url, i)"
		   " LEFT JOIN mailbox_state s ON s.name = c.name"
		 : "SELECT c.name, CASE WHEN s.name IS NULL THEN 'never polled'"
		   "  WHEN s.last_error IS NOT NULL THEN 'failing' ELSE 'ok' END,"
		   "  coalesce(to_char(s.last_poll_at, 'YYYY-MM-DD HH24:MI:SS'), '-'),"
		   "  coalesce(s.last_uid::text, '-'), c.url, coalesce(s.last_error, '')"
		   " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c(name, url, i)"
		   " LEFT JOIN mailbox_state s ON s.name = c.name ORDER BY c.i",
	    2, v, &err);
	pd_buf_free(&names);
	pd_buf_free(&urls);
	if (res == NULL) {
		pd_db_close(db);
		return err_exit(&err);
	}
	if (json) {
		printf("%s\n", PQgetvalue(res, 0, 0));
	} else {
		printf("%-16s %-12s %-19s %8s  %s\n", "MAILBOX", "STATE", "LAST POLL", "LAST UID",
		       "URL / LAST ERROR");
		for (int i = 0; i < PQntuples(res); i++) {
			printf("%-16s %-12s %-19s %8s  %s\n", PQgetvalue(res, i, 0),
			       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
			       PQgetvalue(res, i, 4));
			if (PQgetvalue(res, i, 5)[0])
				printf("%-16s %-12s %-19s %8s  %s\n", "", "", "", "", PQgetvalue(res, i, 5));
		}
	}
	PQclear(res);
	pd_db_close(db);
	return 0;
}

/* Write rep as an HTML page to path ("-" = stdout); 0 or EX_CANTCREAT. */
static int write_report_html(const struct pd_report *rep, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "postdesk: %s: %s\n", path, strerror(errno));
		return EX_CANTCREAT;
	}
	pd_report_write_html(rep, f);
	if (f == stdout ? fflush(f) != 0 || ferror(f) : ferror(f) | fclose(f)) {
		fprintf(stderr, "postdesk: %s: write failed\n", path);
		return EX_CANTCREAT;
	}
	return 0;
}

/* report [--since DURATION] [--json | --html FILE]: the period's figures for the team lead. */
static int cmd_report(const struct pd_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"html", required_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	const char *since = "30d", *html = NULL;
	int64_t secs;
	bool json = false;
	struct pd_db *db;
	struct pd_err err;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 's')
			since = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 'H')
			html = optarg;
		else
			return EX_USAGE;
	}
	if (optind != argc || (json && html != NULL)) {
		usage(stderr);
		return EX_USAGE;
	}
	if (pd_parse_duration(since, &secs) < 0 || secs <= 0 || secs > PD_REPORT_MAX_SINCE) {
		fprintf(stderr, "postdesk: --since \"%s\": give a duration such as 30d, 12h or 90m\n",
			since);
		return EX_USAGE;
	}
	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	if (json) {
		char *text;

		if (pd_report_json(db, secs, &text, &err) < 0) {
			rc = err_exit(&err);
		} else {
			printf("%s\n", text);
			free(text);
		}
	} else {
		struct pd_report *rep;

		if (pd_report_fetch(db, secs, &rep, &err) < 0) {
			rc = err_exit(&err);
		} else {
			if (html != NULL)
				rc = write_report_html(rep, html);
			else
				pd_report_write_text(rep, stdout);
			pd_report_free(rep);
		}
	}
	pd_db_close(db);
	return rc;
}

/* kb import DIR: make the knowledge base equal to DIR's articles.  Every
 * file is read and checked before the database is touched: one bad file
 * (listed as FILE:LINE: reason) leaves everything as it was, exit 65. */
static int cmd_kb_import(const struct pd_config *cfg, const char *dir)
{
	struct pd_kb_set set;
	struct pd_kb_errors errs = {NULL, 0};
	struct pd_kb_counts c;
	struct pd_db *db;
	struct pd_err err;
	int rc;

	if (pd_kb_load_dir(dir, &set, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		fprintf(stderr, "postdesk: %zu problem%s in %s: nothing imported\n", errs.n,
			errs.n == 1 ? "" : "s", dir);
		pd_kb_errors_free(&errs);
		pd_kb_set_free(&set);
		return EX_DATAERR;
	}
	if ((rc = open_db(cfg, true, &db)) != 0) {
		pd_kb_set_free(&set);
		return rc;
	}
	pd_err_clear(&err);
	if (pd_kbdb_import(db, &set, &c, &err) < 0) {
		if (err.cls == PD_ERR_PERM) {
			fprintf(stderr, "postdesk: %s: nothing imported\n", err.msg);
			rc = EX_DATAERR;
		} else {
			rc = err_exit(&err);
		}
	} else {
		printf("%zu articles in %s: %d added, %d updated, %d unchanged, %d removed\n", set.n,
		       dir, c.added, c.updated, c.unchanged, c.removed);
	}
	pd_db_close(db);
	pd_kb_set_free(&set);
	return rc;
}

/* kb list [--json]: the articles with how often each was suggested. */
static int cmd_kb_list(const struct pd_config *cfg, bool json)
{
	struct pd_db *db;
	struct pd_err err;
	int rc;

	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	PGresult *res = pd_db_query(
	    db, NULL,
	    json ? "SELECT coalesce(json_agg(json_build_object('slug', a.slug,"
		   "  'language', a.language, 'title', a.title, 'keywords', a.keywords,"
		   "  'url', a.url, 'updated_at', a.updated_at,"
		   "  'suggested', (SELECT count(*) FROM ticket_kb k WHERE k.article_id = a.id))"
		   "  ORDER BY a.slug), '[]') FROM kb_articles a"
		 : "SELECT a.slug, a.language, a.title,"
		   "  (SELECT count(*) FROM ticket_kb k WHERE k.article_id = a.id),"
		   "  array_to_string(a.keywords, ', '), coalesce(a.url, '')"
		   " FROM kb_articles a ORDER BY a.slug",
	    0, NULL, &err);
	if (res == NULL) {
		pd_db_close(db);
		return err_exit(&err);
	}
	if (json) {
		printf("%s\n", PQgetvalue(res, 0, 0));
	} else {
		printf("%-32s %-4s %9s  %s\n", "SLUG", "LANG", "SUGGESTED", "TITLE / KEYWORDS / URL");
		for (int i = 0; i < PQntuples(res); i++) {
			printf("%-32s %-4s %9s  ", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			       PQgetvalue(res, i, 3));
			print_cut(PQgetvalue(res, i, 2), 60);
			fputc('\n', stdout);
			for (int k = 4; k <= 5; k++) {
				if (PQgetvalue(res, i, k)[0] == '\0')
					continue;
				printf("%-32s %-4s %9s  ", "", "", "");
				print_cut(PQgetvalue(res, i, k), 60);
				fputc('\n', stdout);
			}
		}
	}
	PQclear(res);
	pd_db_close(db);
	return 0;
}

/* kb search [--lang en|ru] TEXT...: what a mail with TEXT would get. */
static int cmd_kb_search(const struct pd_config *cfg, const char *lang, const char *text)
{
	struct pd_kb_match *m;
	size_t n, shown = 0;
	struct pd_db *db;
	struct pd_err err;
	int rc;

	if (lang == NULL)
		lang = pd_language_detect(text, "");
	if (lang == NULL)
		lang = cfg->default_language ? cfg->default_language : "en";
	if ((rc = open_db(cfg, true, &db)) != 0)
		return rc;
	pd_err_clear(&err);
	if (pd_kbdb_search(db, lang, text, "", 10, &m, &n, &err) < 0) {
		pd_db_close(db);
		return err_exit(&err);
	}
	printf("language %s, minimum rank %g (and %g of the best)\n",
	       strcmp(lang, "ru") == 0 ? "ru" : "en", PD_KB_MIN_RANK, PD_KB_MIN_SHARE);
	printf("%-5s %8s %-4s %-32s %s\n", "SHOWN", "RANK", "LANG", "SLUG", "TITLE");
	struct pd_kb_hit hits[PD_KB_MAX_SUGGEST];
	for (size_t i = 0; i < n; i++) {
		char pos[16] = "-";
		if (m[i].position > 0) {
			snprintf(pos, sizeof(pos), "%d", m[i].position);
			if (shown < PD_KB_MAX_SUGGEST) {
				hits[shown].title = m[i].title;
				hits[shown].url = m[i].url;
				hits[shown].body = m[i].body;
				shown++;
			}
		}
		printf("%-5s %8.4f %-4s %-32s ", pos, m[i].rank, m[i].language, m[i].slug);
		print_cut(m[i].title, 60);
		fputc('\n', stdout);
	}
	if (n == 0)
		printf("(no article matches)\n");
	char *section = pd_kb_section(lang, hits, shown);
	printf("\nthe acknowledgement's {{kb.articles}}:\n%s\n", shown ? section : "(empty)\n");
	free(section);
	pd_kbdb_matches_free(m, n);
	pd_db_close(db);
	return 0;
}

static int cmd_kb(const struct pd_config *cfg, int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "import") == 0)
		return cmd_kb_import(cfg, argv[2]);
	if (argc >= 2 && argc <= 3 && strcmp(argv[1], "list") == 0 &&
	    (argc == 2 || strcmp(argv[2], "--json") == 0))
		return cmd_kb_list(cfg, argc == 3);
	if (argc >= 3 && strcmp(argv[1], "search") == 0) {
		const char *lang = NULL;
		int i = 2;
		if (strcmp(argv[2], "--lang") == 0) {
			if (argc < 5) {
				usage(stderr);
				return EX_USAGE;
			}
			lang = argv[3];
			i = 4;
		}
		if (lang != NULL && strcmp(lang, "en") != 0 && strcmp(lang, "ru") != 0) {
			fprintf(stderr, "postdesk: --lang: give en or ru\n");
			return EX_USAGE;
		}
		struct pd_buf text;
		pd_buf_init(&text);
		for (; i < argc; i++)
			pd_buf_printf(&text, "%s%s", text.len ? " " : "", argv[i]);
		int rc = cmd_kb_search(cfg, lang, text.data);
		pd_buf_free(&text);
		return rc;
	}
	usage(stderr);
	return EX_USAGE;
}

static void show_device_code(const char *uri, const char *user_code, void *arg)
{
	const char *login = arg;

	printf("To sign in %s, open %s in a browser and enter the code %s\n"
	       "Waiting for the sign-in to complete...\n",
	       login, uri, user_code);
	fflush(stdout);
}

/*
 * oauth2 MAILBOX|smtp: the one-time consent (RFC 8628 device code) that
 * writes refresh_token_file; then one token request proves that the saved
 * refresh token works.  Nothing secret is printed.
 */
static int cmd_oauth2(const struct pd_config *cfg, int argc, char **argv)
{
	const struct pd_oauth2_cfg *o = NULL;
	char key[128], login[128];
	const char *token;
	struct pd_err err;
	int rc;

	if (argc != 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "smtp") == 0 && pd_config_mailbox(cfg, "smtp") == NULL) {
		o = cfg->smtp.oauth2;
		snprintf(key, sizeof(key), "smtp");
		snprintf(login, sizeof(login), "smtp");
	} else {
		const struct pd_mailbox_cfg *mb = pd_config_mailbox(cfg, argv[1]);
		if (mb == NULL) {
			fprintf(stderr, "postdesk: no mailbox \"%s\" in %s\n", argv[1], cfg->path);
			return EX_DATAERR;
		}
		o = mb->oauth2;
		snprintf(key, sizeof(key), "mailbox %s", mb->name);
		snprintf(login, sizeof(login), "mailbox %s (%s)", mb->name, mb->user);
	}
	if (o == NULL || o->token_url == NULL) {
		fprintf(stderr,
			"postdesk: %s has no oauth2 { } section (auth = \"xoauth2\" or "
			"\"oauthbearer\" with token_url): nothing to sign in\n",
			key);
		return EX_CONFIG;
	}
	pd_err_clear(&err);
	if (o->grant == PD_OAUTH2_GRANT_CLIENT_CREDENTIALS) {
		/* app-only access needs no consent here: just prove it works */
		rc = pd_oauth2_token(key, o, true, &token, &err);
	} else {
		rc = pd_oauth2_device_consent(key, o, show_device_code, login, &err);
		if (rc == 0) {
			printf("%s: refresh token saved to %s (mode 0600)\n", key,
			       o->refresh_token_file);
			rc = pd_oauth2_token(key, o, true, &token, &err);
		}
	}
	if (rc == 0)
		printf("%s: the token endpoint issued an access token; the login is ready\n", key);
	pd_oauth2_cache_free();
	if (rc < 0) {
		fprintf(stderr, "postdesk: %s\n", err.msg);
		return err.cls == PD_ERR_FATAL ? EX_CONFIG
		       : err.cls == PD_ERR_TEMP ? EX_TEMPFAIL
						: EX_NOPERM;
	}
	return 0;
}

static int cmd_check_config(const char *path)
{
	struct pd_config *cfg;
	struct pd_config_errors errs = {0, NULL};

	if (pd_config_load(path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		pd_config_errors_free(&errs);
		return EX_CONFIG;
	}
	printf("%s: configuration is valid (%zu mailboxes)\n", path, cfg->n_mailboxes);
	pd_config_free(cfg);
	pd_config_errors_free(&errs);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = PD_SYSCONFDIR "/postdesk.conf";
	struct pd_config *cfg = NULL;
	struct pd_config_errors errs = {0, NULL};
	int i = 1, rc;

	pd_log_init("postdesk", PD_LOG_WARNING);
	while (i < argc && argv[i][0] == '-') {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[i];
	int cargc = argc - i;
	char **cargv = argv + i;

	if (strcmp(cmd, "check-config") == 0)
		return cargc == 1 ? cmd_check_config(path) : EX_USAGE;
	if (strcmp(cmd, "migrate") != 0 && strcmp(cmd, "tickets") != 0 &&
	    strcmp(cmd, "show") != 0 && strcmp(cmd, "set") != 0 && strcmp(cmd, "raw") != 0 &&
	    strcmp(cmd, "attachment") != 0 &&
	    strcmp(cmd, "outbox") != 0 && strcmp(cmd, "mailboxes") != 0 &&
	    strcmp(cmd, "reprocess") != 0 && strcmp(cmd, "report") != 0 &&
	    strcmp(cmd, "kb") != 0 && strcmp(cmd, "oauth2") != 0) {
		fprintf(stderr, "postdesk: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return EX_USAGE;
	}
	if (pd_config_load(path, &cfg, &errs) < 0) {
		for (size_t k = 0; k < errs.n; k++)
			fprintf(stderr, "%s\n", errs.v[k]);
		pd_config_errors_free(&errs);
		return EX_CONFIG;
	}
	pd_config_errors_free(&errs);
	if (strcmp(cmd, "migrate") == 0)
		rc = cargc == 1 ? cmd_migrate(cfg) : EX_USAGE;
	else if (strcmp(cmd, "tickets") == 0)
		rc = cmd_tickets(cfg, cargc, cargv);
	else if (strcmp(cmd, "show") == 0)
		rc = cmd_show(cfg, cargc, cargv);
	else if (strcmp(cmd, "raw") == 0)
		rc = cmd_raw(cfg, cargc, cargv);
	else if (strcmp(cmd, "attachment") == 0)
		rc = cmd_attachment(cfg, cargc, cargv);
	else if (strcmp(cmd, "outbox") == 0)
		rc = cmd_outbox(cfg, cargc, cargv);
	else if (strcmp(cmd, "mailboxes") == 0)
		rc = cmd_mailboxes(cfg, cargc, cargv);
	else if (strcmp(cmd, "reprocess") == 0)
		rc = cmd_reprocess(cfg, cargc, cargv);
	else if (strcmp(cmd, "report") == 0)
		rc = cmd_report(cfg, cargc, cargv);
	else if (strcmp(cmd, "kb") == 0)
		rc = cmd_kb(cfg, cargc, cargv);
	else if (strcmp(cmd, "oauth2") == 0)
		rc = cmd_oauth2(cfg, cargc, cargv);
	else
		rc = cmd_set(cfg, cargc, cargv);
	pd_config_free(cfg);
	return rc;
}
