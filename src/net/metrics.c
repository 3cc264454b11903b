/*
 * metrics.c - /metrics (Prometheus text exposition format 0.0.4) and /healthz
 * over HTTP with libmicrohttpd.
 *
 * Owns the MHD daemon and a shallow copy of the last published snapshot.
 * MHD runs in external-epoll mode without threads of its own: the main loop
 * polls pd_metrics_fd() and calls pd_metrics_run(), which answers whatever is
 * ready and never blocks.  Every response is rendered into a pd_buf from the
 * snapshot and handed to MHD as a copy, so nothing of ours outlives a call.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

#define PD_METRICS_CONN_LIMIT 16
#define PD_METRICS_CONN_TIMEOUT 10 /* seconds */

struct pd_metrics {
	struct MHD_Daemon *mhd;
	bool published;                      /* false until the first publish */
	struct pd_metrics_snapshot snap;     /* shallow copy; pointers borrowed */
};

static const char *const ticket_status[5] = { "new", "open", "pending", "resolved", "closed" };
static const char *const ticket_prio[4] = { "critical", "high", "normal", "low" };

/* ------------------------------------------------------------ rendering */

/* Append a label value escaped per the exposition format: backslash, double
 * quote and line feed are the only characters that need it. */
static void append_label_value(struct pd_buf *b, const char *v)
{
	for (const char *p = v ? v : ""; *p != '\0'; p++) {
		switch (*p) {
		case '\\':
			pd_buf_append_str(b, "\\\\");
			break;
		case '"':
			pd_buf_append_str(b, "\\\"");
			break;
		case '\n':
			pd_buf_append_str(b, "\\n");
			break;
		default:
			pd_buf_append_char(b, *p);
		}
	}
}

static void header(struct pd_buf *b, const char *name, const char *type, const char *help)
{
	pd_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{mailbox="..."} value */
static void mailbox_sample(struct pd_buf *b, const char *name, const char *mailbox,
			   uint64_t value)
{
	pd_buf_printf(b, "%s{mailbox=\"", name);
	append_label_value(b, mailbox);
	pd_buf_printf(b, "\"} %" PRIu64 "\n", value);
}

/* One family with a sample per mailbox; field picks the value. */
enum mb_field { MB_INGESTED, MB_FAILED, MB_ERRORS, MB_LAST_POLL, MB_IDLE, MB_UP };

static uint64_t mb_value(const struct pd_metrics_mailbox *mb, enum mb_field f)
{
	switch (f) {
	case MB_INGESTED:
		return mb->ingested;
	case MB_FAILED:
		return mb->failed;
	case MB_ERRORS:
		return mb->errors;
	case MB_LAST_POLL:
		return mb->last_poll > 0 ? (uint64_t)mb->last_poll : 0;
	case MB_IDLE:
		return mb->idle ? 1 : 0;
	case MB_UP:
		return mb->healthy ? 1 : 0;
	}
	return 0;
}

static void mailbox_family(struct pd_buf *b, const struct pd_metrics_snapshot *s,
			   const char *name, const char *type, const char *help, enum mb_field f)
{
	header(b, name, type, help);
	for (size_t i = 0; i < s->n_mailboxes; i++)
		mailbox_sample(b, name, s->mailboxes[i].name, mb_value(&s->mailboxes[i], f));
}

static void scalar(struct pd_buf *b, const char *name, const char *type, const char *help,
		   uint64_t value)
{
	header(b, name, type, help);
	pd_buf_printf(b, "%s %" PRIu64 "\n", name, value);
}

static void render_metrics(struct pd_buf *b, const struct pd_metrics *m)
{
	const struct pd_metrics_snapshot *s = &m->snap;

	if (!m->published) {
		/* Nothing measured yet: only say whether we know the database. */
		scalar(b, "postdesk_database_up", "gauge",
		       "1 when the database answered at the last check.", 0);
		return;
	}
	mailbox_family(b, s, "postdesk_mails_ingested_total", "counter",
		       "Mails stored (new tickets, replies and duplicates).", MB_INGESTED);
	mailbox_family(b, s, "postdesk_mails_failed_total", "counter",
		       "Mails that could not be stored.", MB_FAILED);
	mailbox_family(b, s, "postdesk_mailbox_errors_total", "counter",
		       "Connection and session failures (login, TLS, network).", MB_ERRORS);
	mailbox_family(b, s, "postdesk_mailbox_last_poll_timestamp_seconds", "gauge",
		       "Unix time of the last successful poll, 0 when never.", MB_LAST_POLL);
	mailbox_family(b, s, "postdesk_mailbox_idle", "gauge",
		       "1 while the mailbox waits in IMAP IDLE.", MB_IDLE);
	mailbox_family(b, s, "postdesk_mailbox_up", "gauge",
		       "1 when the mailbox is connected or has not failed yet.", MB_UP);

	header(b, "postdesk_oauth2_token_expiry_seconds", "gauge",
	       "Seconds until the OAuth 2.0 access token expires (0 or less: none held).");
	for (size_t i = 0; i < s->n_mailboxes; i++) {
		if (!s->mailboxes[i].oauth2)
			continue;
		pd_buf_append_str(b, "postdesk_oauth2_token_expiry_seconds{mailbox=\"");
		append_label_value(b, s->mailboxes[i].name);
		pd_buf_printf(b, "\"} %" PRId64 "\n", s->mailboxes[i].token_expires_in);
	}
	if (s->smtp_oauth2)
		pd_buf_printf(b, "postdesk_oauth2_token_expiry_seconds{smtp=\"1\"} %" PRId64 "\n",
			      s->smtp_token_expires_in);
	header(b, "postdesk_oauth2_refresh_failures_total", "counter",
	       "OAuth 2.0 token requests (endpoint or token_command) that failed.");
	for (size_t i = 0; i < s->n_mailboxes; i++)
		if (s->mailboxes[i].oauth2)
			mailbox_sample(b, "postdesk_oauth2_refresh_failures_total",
				       s->mailboxes[i].name, s->mailboxes[i].token_refresh_failures);
	if (s->smtp_oauth2)
		pd_buf_printf(b, "postdesk_oauth2_refresh_failures_total{smtp=\"1\"} %" PRIu64 "\n",
			      s->smtp_token_refresh_failures);

	header(b, "postdesk_outbox_rows", "gauge", "Outbox rows by status.");
	pd_buf_printf(b, "postdesk_outbox_rows{status=\"queued\"} %" PRIu64 "\n", s->outbox_queued);
	pd_buf_printf(b, "postdesk_outbox_rows{status=\"sending\"} %" PRIu64 "\n",
		      s->outbox_sending);
	pd_buf_printf(b, "postdesk_outbox_rows{status=\"failed\"} %" PRIu64 "\n", s->outbox_failed);
	scalar(b, "postdesk_outbox_sent_total", "counter", "Mails sent by this process.",
	       s->sent_total);
	scalar(b, "postdesk_outbox_retried_total", "counter",
	       "Temporary send failures scheduled for retry by this process.", s->retried_total);
	scalar(b, "postdesk_outbox_failed_total", "counter",
	       "Outbox rows given up on by this process.", s->failed_total);

	header(b, "postdesk_tickets", "gauge", "Tickets by status and priority.");
	for (size_t st = 0; st < PD_ARRAY_LEN(ticket_status); st++)
		for (size_t pr = 0; pr < PD_ARRAY_LEN(ticket_prio); pr++)
			pd_buf_printf(b,
				      "postdesk_tickets{status=\"%s\",priority=\"%s\"} %" PRIu64
				      "\n",
				      ticket_status[st], ticket_prio[pr], s->tickets[st][pr]);

	scalar(b, "postdesk_sla_warnings_total", "counter", "SLA warning notices queued.",
	       s->sla_warnings_total);
	scalar(b, "postdesk_sla_breaches_total", "counter", "SLA breach notices queued.",
	       s->sla_breaches_total);
	scalar(b, "postdesk_sla_escalations_total", "counter",
	       "Tickets moved to the next support line after a breach.", s->sla_escalations_total);
	scalar(b, "postdesk_database_up", "gauge",
	       "1 when the database answered at the last check.", s->db_ok ? 1 : 0);
}

/* Append text on the current line: embedded line breaks (from a server's
 * error message or a mailbox name) would forge extra problem lines. */
static void append_flat(struct pd_buf *b, const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		pd_buf_append_char(b, *p == '\n' || *p == '\r' ? ' ' : *p);
}

/* Fills b with the /healthz body; returns the HTTP status. */
static unsigned int render_health(struct pd_buf *b, const struct pd_metrics *m)
{
	const struct pd_metrics_snapshot *s = &m->snap;

	if (!m->published) {
		pd_buf_append_str(b, "starting\n");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	if (!s->db_ok) {
		pd_buf_append_str(b, "database: ");
		append_flat(b, s->db_error ? s->db_error : "down");
		pd_buf_append_char(b, '\n');
	}
	for (size_t i = 0; i < s->n_mailboxes; i++) {
		const struct pd_metrics_mailbox *mb = &s->mailboxes[i];

		if (mb->healthy)
			continue;
		pd_buf_append_str(b, "mailbox ");
		append_flat(b, mb->name ? mb->name : "");
		pd_buf_append_str(b, ": ");
		append_flat(b, mb->last_error ? mb->last_error : "unhealthy");
		pd_buf_append_char(b, '\n');
	}
	if (b->len > 0)
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	pd_buf_append_str(b, "ok\n");
	return MHD_HTTP_OK;
}

/* ------------------------------------------------------------ MHD glue */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
			     const char *content_type, const struct pd_buf *body, bool allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(body->len, body->data, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    (allow &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	const struct pd_metrics *m = cls;
	struct pd_buf body;
	unsigned int status;
	const char *ctype = "text/plain; charset=utf-8";
	bool known = strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;

	/* Answer on the first call: no request we serve has a body, and MHD
	 * discards (or closes on) whatever a client uploads anyway. */
	pd_buf_init(&body);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		pd_buf_append_str(&body, "method not allowed\n");
		ret = reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, ctype, &body, true);
		pd_buf_free(&body);
		return ret;
	}
	if (!known) {
		pd_buf_append_str(&body, "not found\n");
		status = MHD_HTTP_NOT_FOUND;
	} else if (strcmp(url, "/metrics") == 0) {
		render_metrics(&body, m);
		status = MHD_HTTP_OK;
		ctype = "text/plain; version=0.0.4; charset=utf-8";
	} else {
		status = render_health(&body, m);
	}
	ret = reply(conn, status, ctype, &body, false);
	pd_buf_free(&body);
	return ret;
}

/* MHD's own complaints (accept failures, bad requests) go to our log. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
							       va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	pd_log_warning("metrics: %s", line);
}

struct pd_metrics *pd_metrics_start(const char *host, uint16_t port, struct pd_err *err)
{
	struct sockaddr_storage ss;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct pd_metrics *m;
	int saved;

	memset(&ss, 0, sizeof(ss));
	if (host != NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
		} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			flags |= MHD_USE_IPv6;
		}
	}
	if (ss.ss_family == AF_UNSPEC) {
		pd_err_set(err, PD_ERR_FATAL, PD_SRC_METRICS, 0,
			   "metrics address \"%s\" is not a numeric IPv4 or IPv6 address",
			   host ? host : "(null)");
		return NULL;
	}

	m = pd_xcalloc(1, sizeof(*m));
	errno = 0;
	m->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, m,
				  /* the logger must come first to catch every message */
				  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)PD_METRICS_CONN_LIMIT,
				  MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned int)PD_METRICS_CONN_TIMEOUT,
				  MHD_OPTION_END);
	if (m->mhd == NULL) {
		saved = errno;
		free(m);
		pd_err_set(err, PD_ERR_FATAL, PD_SRC_METRICS, saved,
			   "cannot listen for metrics on %s port %u: %s", host, (unsigned int)port,
			   saved ? strerror(saved) : "libmicrohttpd refused to start");
		return NULL;
	}
	return m;
}

void pd_metrics_stop(struct pd_metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->mhd);
	free(m);
}

int pd_metrics_fd(const struct pd_metrics *m)
{
	const union MHD_DaemonInfo *info;

	if (m == NULL)
		return -1;
	/* MHD_get_daemon_info takes a non-const daemon but only reads it. */
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	return info != NULL ? info->epoll_fd : -1;
}

void pd_metrics_run(struct pd_metrics *m)
{
	if (m == NULL)
		return;
	/* In epoll mode MHD_run never blocks: it serves what is ready and
	 * expires idle connections. */
	if (MHD_run(m->mhd) != MHD_YES)
		pd_log_debug("metrics: MHD_run failed");
}

void pd_metrics_publish(struct pd_metrics *m, const struct pd_metrics_snapshot *s)
{
	if (m == NULL || s == NULL)
		return;
	m->snap = *s;
	m->published = true;
}
