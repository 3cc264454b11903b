/*
 * metrics.h - /metrics (Prometheus text format) and /healthz over HTTP with
 * libmicrohttpd, on a configured (loopback) address.
 *
 * Single-threaded like the rest of the daemon: libmicrohttpd runs in
 * external-epoll mode; the daemon adds pd_metrics_fd() to its poll set and
 * calls pd_metrics_run() when it is readable (and at least once per loop).
 * Requests are answered from the snapshot last given to pd_metrics_publish.
 */
#ifndef PD_METRICS_H
#define PD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

struct pd_metrics;

struct pd_metrics_mailbox {
	const char *name;
	uint64_t ingested;        /* mails stored (new tickets + threaded + duplicates) */
	uint64_t failed;          /* mails that could not be stored */
	uint64_t errors;          /* connection/session failures (login, TLS, network) */
	time_t last_poll;         /* last successful round, 0 = never */
	bool idle;                /* waiting in IMAP IDLE */
	bool healthy;             /* connected, or not yet failed */
	const char *last_error;   /* NULL when healthy */
	bool oauth2;              /* logs in with an OAuth 2.0 token: the two below apply */
	int64_t token_expires_in; /* seconds until the held token expires (<= 0: none) */
	uint64_t token_refresh_failures; /* token requests that failed */
};

struct pd_metrics_snapshot {
	bool db_ok;
	const char *db_error;     /* NULL when ok */
	size_t n_mailboxes;
	const struct pd_metrics_mailbox *mailboxes;
	/* outbox rows by status and totals sent by this process */
	uint64_t outbox_queued, outbox_sending, outbox_failed;
	uint64_t sent_total, retried_total, failed_total;
	/* tickets by status and priority: counts[status][priority], statuses
	 * new open pending resolved closed, priorities critical high normal low */
	uint64_t tickets[5][4];
	uint64_t sla_warnings_total, sla_breaches_total, sla_escalations_total;
	/* SMTP's OAuth 2.0 token, as for mailboxes (smtp_oauth2 false: none) */
	bool smtp_oauth2;
	int64_t smtp_token_expires_in;
	uint64_t smtp_token_refresh_failures;
};

/* Listen on host:port (host must be a numeric address).  Returns NULL with
 * err when the address cannot be used. */
struct pd_metrics *pd_metrics_start(const char *host, uint16_t port, struct pd_err *err);
void pd_metrics_stop(struct pd_metrics *m);

/* File descriptor to poll for POLLIN. */
int pd_metrics_fd(const struct pd_metrics *m);
/* Serve what is ready without blocking. */
void pd_metrics_run(struct pd_metrics *m);

/* The data answered from now on.  Borrowed: it (and the strings it points
 * to) must stay valid until the next publish or stop. */
void pd_metrics_publish(struct pd_metrics *m, const struct pd_metrics_snapshot *s);

#endif
