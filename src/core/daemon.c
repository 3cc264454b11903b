/*
 * daemon.c - postdeskd's loop.
 *
 * One thread serves every mailbox.  Each mailbox is a small state machine:
 * DOWN (waiting to reconnect, with exponential backoff), READY (connected,
 * polled every poll_interval) or IDLE (an IMAP IDLE is outstanding and its
 * socket is in the poll set).  Signals arrive through a signalfd in the same
 * poll: handlers never run in signal context.  TERM/INT stop after the
 * current round (a second one exits at once); HUP re-reads the config and
 * keeps the old one when the new one is invalid.
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "confload.h"
#include "daemon.h"
#include "db.h"
#include "imap.h"
#include "ingest.h"
#include "ioutil.h"
#include "log.h"
#include "metrics.h"
#include "oauth2.h"
#include "migrate.h"
#include "outbox.h"
#include "slascan.h"
#include "smtp.h"
#include "store.h"
#include "util.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS (300 * 1000)
#define IDLE_MAX_MS (25 * 60 * 1000) /* RFC 2177: re-issue before 29 minutes */
#define OUTBOX_EVERY_MS 5000         /* retries and rows other instances queued */
#define OUTBOX_BATCH 500             /* rows per flush before the loop looks around */
#define STANDBY_RETRY_MS 1000        /* a standby asks for a mailbox's lock this often */

enum mb_state { MB_DOWN, MB_READY, MB_IDLE };

struct mbox {
	const struct pd_mailbox_cfg *cfg;
	struct pd_imap *im;
	enum mb_state state;
	uint32_t uidvalidity;
	int64_t next_ms;    /* DOWN: reconnect; READY: next poll; IDLE: re-issue */
	int64_t backoff_ms;
	enum pd_err_class last_failure;
	struct pd_ingest_stats stats;
	uint64_t errors;         /* session failures, for /metrics */
	time_t last_poll;        /* last successful round */
	char last_error[512];    /* "" when the last attempt worked */
	bool locked;             /* we hold the mailbox's advisory lock ... */
	unsigned lock_gen;       /* ... on this database connection */
	bool standby_logged;
};

struct daemon {
	const char *config_path;
	uint64_t watchdog_usec;    /* systemd's WatchdogSec, 0 when not watched */
	char status[160];          /* last STATUS= sent, to send only changes */
	struct pd_config *cfg;
	struct pd_db *db;
	struct mbox *mb;
	size_t n_mb;
	struct pd_smtp *smtp;      /* NULL without an smtp section */
	int64_t next_outbox_ms;
	bool send_in_backlog; /* running (not --once): answers go out between batches */
	struct pd_outbox_stats outbox;
	int64_t next_sla_ms;
	struct pd_slascan_stats sla;
	struct pd_metrics *metrics;       /* NULL without a metrics section */
	struct pd_metrics_mailbox *mm;    /* what /metrics last published */
	struct pd_metrics_snapshot snap;
	int64_t next_gauges_ms;
	char db_error[512];
	int sigfd;
	bool stop;
	bool reload_pending; /* SIGHUP seen: reload between rounds, never inside one */
	int exit_code;
};

/* ----------------------------------------------------------- helpers */

static int load_config(const char *path, struct pd_config **cfg_r)
{
	struct pd_config_errors errs = {0, NULL};

	if (pd_config_load(path, cfg_r, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			pd_log_err("%s", errs.v[i]);
		pd_config_errors_free(&errs);
		return -1;
	}
	pd_config_errors_free(&errs);
	return 0;
}

static void apply_log_level(const struct pd_config *cfg)
{
	enum pd_log_level lvl;

	if (cfg->log_level != NULL && pd_log_level_parse(cfg->log_level, &lvl) == 0)
		pd_log_set_level(lvl);
}

/* Connect to PostgreSQL and check the schema.  FATAL errors stop the daemon. */
static int ensure_db(struct daemon *d, struct pd_err *err)
{
	if (d->db != NULL)
		return pd_db_ensure(d->db, err);
	if (pd_db_connect(d->cfg->db_conninfo, d->cfg->db_statement_timeout, &d->db, err) < 0)
		return -1;
	if (pd_migrate_check(d->db, err) < 0) {
		pd_db_close(d->db);
		d->db = NULL;
		return -1;
	}
	return 0;
}

static int64_t jitter(int64_t ms)
{
	/* +-20% so that many mailboxes failing together do not retry together */
	return ms - ms / 5 + (int64_t)(random() % (ms / 5 * 2 + 1));
}

static void mb_close(struct mbox *m, bool polite)
{
	if (m->im == NULL)
		return;
	if (polite) {
		struct pd_err e;
		if (m->state == MB_IDLE)
			pd_imap_idle_done(m->im, &e);
		pd_imap_logout(m->im);
	}
	pd_imap_free(m->im);
	m->im = NULL;
	m->state = MB_DOWN;
}

static void mb_fail(struct mbox *m, const struct pd_err *err, struct pd_db *db)
{
	struct pd_err e2;

	m->errors++;
	snprintf(m->last_error, sizeof(m->last_error), "%s", err->msg);
	/* for `postdesk mailboxes`; the database may be what failed */
	if (db != NULL && err->src != PD_SRC_DB)
		pd_store_mailbox_status(db, m->cfg->name, err->msg, &e2);
	mb_close(m, false);
	m->last_failure = err->cls;
	m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (m->backoff_ms > BACKOFF_MAX_MS)
		m->backoff_ms = BACKOFF_MAX_MS;
	int64_t wait = jitter(m->backoff_ms);
	pd_log(err->cls == PD_ERR_TEMP ? PD_LOG_WARNING : PD_LOG_ERR,
	       "mailbox=%s: %s (%s error from %s); retrying in %llds", m->cfg->name, err->msg,
	       pd_err_class_name(err->cls), pd_err_src_name(err->src), (long long)(wait + 999) / 1000);
	m->next_ms = pd_now_ms() + wait;
}

static int64_t idle_refresh_ms(const struct mbox *m)
{
	int64_t poll_ms = m->cfg->poll_interval * 1000;

	return poll_ms > 0 && poll_ms < IDLE_MAX_MS ? poll_ms : IDLE_MAX_MS;
}

/* ----------------------------------------------------------- systemd */

/* Tell systemd we are alive (no-op without a watchdog or outside systemd). */
static void watchdog_ping(struct daemon *d)
{
	if (d->watchdog_usec > 0)
		sd_notify(0, "WATCHDOG=1");
}

/* STATUS= for `systemctl status`: mailboxes, how many wait in IDLE, outbox. */
static void notify_status(struct daemon *d)
{
	char status[sizeof(d->status)];
	size_t idle = 0, down = 0;

	for (size_t i = 0; i < d->n_mb; i++) {
		idle += d->mb[i].state == MB_IDLE;
		down += d->mb[i].state == MB_DOWN;
	}
	snprintf(status, sizeof(status),
		 "%zu mailboxes, %zu idle, %zu down; outbox: %zu sent, %zu retried, %zu failed",
		 d->n_mb, idle, down, d->outbox.sent, d->outbox.retried, d->outbox.failed);
	if (strcmp(status, d->status) != 0) {
		memcpy(d->status, status, sizeof(status));
		sd_notifyf(0, "STATUS=%s", status);
	}
}

/* Give /metrics and /healthz the current state; database gauges are
 * refreshed every 10 seconds. */
static void publish_metrics(struct daemon *d)
{
	struct pd_err err;

	if (d->metrics == NULL)
		return;
	d->mm = pd_xreallocarray(d->mm, d->n_mb ? d->n_mb : 1, sizeof(*d->mm));
	for (size_t i = 0; i < d->n_mb; i++) {
		const struct mbox *m = &d->mb[i];
		d->mm[i] = (struct pd_metrics_mailbox){
		    .name = m->cfg->name,
		    .ingested = m->stats.new_tickets + m->stats.appended + m->stats.duplicates,
		    .failed = m->stats.failed,
		    .errors = m->errors,
		    .last_poll = m->last_poll,
		    .idle = m->state == MB_IDLE,
		    .healthy = m->last_error[0] == '\0',
		    .last_error = m->last_error[0] ? m->last_error : NULL,
		};
		if (m->cfg->oauth2 != NULL) {
			char key[128];
			snprintf(key, sizeof(key), "mailbox %s", m->cfg->name);
			d->mm[i].oauth2 = true;
			(void)pd_oauth2_status(key, &d->mm[i].token_expires_in,
					       &d->mm[i].token_refresh_failures);
		}
	}
	d->snap.smtp_oauth2 = d->cfg->smtp.oauth2 != NULL;
	if (d->snap.smtp_oauth2)
		(void)pd_oauth2_status("smtp", &d->snap.smtp_token_expires_in,
				       &d->snap.smtp_token_refresh_failures);
	d->snap.n_mailboxes = d->n_mb;
	d->snap.mailboxes = d->mm;
	d->snap.sent_total = d->outbox.sent;
	d->snap.retried_total = d->outbox.retried;
	d->snap.failed_total = d->outbox.failed;
	d->snap.sla_warnings_total = d->sla.warnings;
	d->snap.sla_breaches_total = d->sla.breaches;
	d->snap.sla_escalations_total = d->sla.escalations;
	if (pd_now_ms() >= d->next_gauges_ms) {
		uint64_t ob[3];
		d->next_gauges_ms = pd_now_ms() + 10000;
		pd_err_clear(&err);
		if (ensure_db(d, &err) == 0 && pd_store_gauges(d->db, ob, d->snap.tickets, &err) == 0) {
			d->snap.outbox_queued = ob[0];
			d->snap.outbox_sending = ob[1];
			d->snap.outbox_failed = ob[2];
			d->db_error[0] = '\0';
		} else {
			snprintf(d->db_error, sizeof(d->db_error), "%s", err.msg);
			d->next_gauges_ms = pd_now_ms() + 2000; /* look again soon */
		}
	}
	d->snap.db_ok = d->db_error[0] == '\0';
	d->snap.db_error = d->snap.db_ok ? NULL : d->db_error;
	pd_metrics_publish(d->metrics, &d->snap);
}

static void read_signals(struct daemon *d);

static int outbox_service(struct daemon *d);

/* Between batches: a stop signal ends the round early. */
static bool should_stop(void *arg)
{
	struct daemon *d = arg;

	watchdog_ping(d); /* a long backlog must not look like a hang */
	read_signals(d);
	/* A backlog of thousands must not hold back the answers to the first
	 * mails: what is due in the outbox goes out between batches. */
	if (!d->stop && d->send_in_backlog && d->smtp != NULL && pd_now_ms() >= d->next_outbox_ms)
		outbox_service(d);
	return d->stop;
}

/*
 * Bring the mailbox up if needed and process everything pending; repeat
 * while mail keeps arriving; then IDLE (or schedule the next poll).
 */
static int mb_service(struct daemon *d, struct mbox *m, bool once)
{
	struct pd_err err;

	pd_err_clear(&err);
	if (ensure_db(d, &err) < 0) {
		if (err.cls == PD_ERR_FATAL) {
			pd_log_err("%s", err.msg);
			d->stop = true;
			d->exit_code = EX_CONFIG;
			return -1;
		}
		goto fail;
	}
	/* One fetcher per mailbox among all instances sharing the database:
	 * whoever holds its advisory lock.  A lock lives as long as the database
	 * session, so a dead instance's mailboxes are free again at once. */
	if (!m->locked || m->lock_gen != pd_db_generation(d->db)) {
		int got = pd_db_try_lock(d->db, m->cfg->name, &err);
		if (got < 0)
			goto fail;
		if (got == 0) {
			mb_close(m, true);
			if (!m->standby_logged)
				pd_log_notice("mailbox=%s: another instance is fetching it; standing by",
					      m->cfg->name);
			m->standby_logged = true;
			m->locked = false;
			/* pg_try_advisory_lock never waits, so asking every second
			 * costs one short query and holds up nothing else: the
			 * mailbox is taken over within a second of the fetcher's
			 * database session ending, whatever poll_interval says */
			m->next_ms = pd_now_ms() + STANDBY_RETRY_MS;
			return 0;
		}
		if (m->standby_logged)
			pd_log_notice("mailbox=%s: taking over as its fetcher", m->cfg->name);
		m->standby_logged = false;
		m->locked = true;
		m->lock_gen = pd_db_generation(d->db);
	}
	if (m->im == NULL) {
		m->im = pd_imap_new(m->cfg);
		if (pd_imap_connect(m->im, &err) < 0 ||
		    pd_ingest_open(m->im, d->db, m->cfg, &m->uidvalidity, &err) < 0)
			goto fail;
		pd_log_notice("mailbox=%s: connected to %s:%u, folder %s%s", m->cfg->name,
			      m->cfg->host, m->cfg->port, m->cfg->folder,
			      pd_imap_has_idle(m->im) && m->cfg->idle ? ", using IDLE" : ", polling");
		m->state = MB_READY;
	} else if (m->state == MB_IDLE) {
		if (pd_imap_idle_done(m->im, &err) < 0)
			goto fail;
		m->state = MB_READY;
	}
	for (;;) {
		size_t stored = m->stats.new_tickets + m->stats.appended;
		uint32_t exists = pd_imap_exists(m->im);
		struct pd_ingest_ctl ctl = {should_stop, d};

		if (pd_ingest_pending(m->im, d->db, d->cfg, m->cfg, m->uidvalidity, &ctl,
				      &m->stats, &err) < 0)
			goto fail;
		if (d->stop)
			return 0;
		/* Again when this round stored new mail or mail arrived during it;
		 * duplicates and mails that failed to store are no reason to spin. */
		if (m->stats.new_tickets + m->stats.appended == stored &&
		    pd_imap_exists(m->im) <= exists)
			break;
	}
	m->backoff_ms = 0;
	m->last_failure = PD_ERR_NONE;
	m->last_poll = time(NULL);
	m->last_error[0] = '\0';
	if (pd_store_mailbox_status(d->db, m->cfg->name, NULL, &err) < 0)
		goto fail;
	if (once)
		return 0;
	if (m->cfg->idle && pd_imap_has_idle(m->im)) {
		if (pd_imap_idle_start(m->im, &err) < 0)
			goto fail;
		m->state = MB_IDLE;
		m->next_ms = pd_now_ms() + idle_refresh_ms(m);
		/* news the server sent with "+ idling" sits in libetpan's buffer,
		 * where poll() cannot see it: serve it on the next loop pass */
		if (pd_imap_idle_ready(m->im))
			m->next_ms = pd_now_ms();
	} else {
		m->next_ms = pd_now_ms() + m->cfg->poll_interval * 1000;
	}
	return 0;
fail:
	if (err.cls == PD_ERR_FATAL && d->db == NULL) {
		pd_log_err("%s", err.msg);
		d->stop = true;
		d->exit_code = EX_CONFIG;
		return -1;
	}
	mb_fail(m, &err, d->db); /* a lost database connection is re-made next time */
	return -1;
}

/* Send what is due in the outbox.  Returns 1 when more may be due right
 * now, 0 when done for the moment, -1 when the database failed. */
static int outbox_service(struct daemon *d)
{
	struct pd_err err;
	size_t before;

	if (d->smtp == NULL)
		return 0;
	pd_err_clear(&err);
	d->next_outbox_ms = pd_now_ms() + OUTBOX_EVERY_MS;
	before = d->outbox.sent + d->outbox.retried + d->outbox.failed;
	if (ensure_db(d, &err) < 0 ||
	    pd_outbox_flush(d->db, d->smtp, OUTBOX_BATCH, &d->outbox, &err) < 0) {
		pd_log_warning("outbox: %s; retrying in %ds", err.msg, OUTBOX_EVERY_MS / 1000);
		return -1;
	}
	if (d->outbox.sent + d->outbox.retried + d->outbox.failed - before < OUTBOX_BATCH)
		return 0;
	d->next_outbox_ms = pd_now_ms();
	return 1;
}

/* One SLA scan: warnings, breach notices and escalations that are due.
 * Returns 0, or -1 when the database failed (retried next interval). */
static int sla_service(struct daemon *d, bool once)
{
	struct pd_err err;
	uint64_t before = d->sla.warnings + d->sla.breaches + d->sla.escalations;

	struct pd_slascan_stats was = d->sla;
	int64_t t0 = pd_now_ms();

	pd_err_clear(&err);
	d->next_sla_ms = t0 + d->cfg->sla_scan_interval * 1000;
	if (ensure_db(d, &err) < 0 ||
	    pd_slascan_run(d->db, d->cfg, time(NULL), 200, &d->sla, &err) < 0) {
		pd_log_warning("sla scan: %s; retrying in %llds", err.msg,
			       (long long)d->cfg->sla_scan_interval);
		return -1;
	}
	if (d->sla.warnings + d->sla.breaches + d->sla.escalations != before || once)
		pd_log_notice("sla scan: %" PRIu64 " tickets due, %" PRIu64 " warnings, %" PRIu64
			      " breaches, %" PRIu64 " escalations in %lld ms",
			      d->sla.scanned - was.scanned, d->sla.warnings - was.warnings,
			      d->sla.breaches - was.breaches, d->sla.escalations - was.escalations,
			      (long long)(pd_now_ms() - t0));
	if (d->sla.warnings + d->sla.breaches + d->sla.escalations != before)
		d->next_outbox_ms = 0; /* notices to send */
	return 0;
}

static void smtp_setup(struct daemon *d)
{
	pd_smtp_free(d->smtp);
	d->smtp = d->cfg->smtp.enabled ? pd_smtp_new(&d->cfg->smtp) : NULL;
	if (d->smtp == NULL)
		pd_log_notice("no smtp section: acknowledgements and notices are not sent");
	d->next_outbox_ms = 0;
}

static void mailboxes_setup(struct daemon *d)
{
	d->n_mb = d->cfg->n_mailboxes;
	d->mb = pd_xcalloc(d->n_mb, sizeof(*d->mb));
	for (size_t i = 0; i < d->n_mb; i++) {
		d->mb[i].cfg = &d->cfg->mailboxes[i];
		d->mb[i].state = MB_DOWN;
		d->mb[i].next_ms = 0;
	}
}

static void mailboxes_teardown(struct daemon *d, bool polite)
{
	for (size_t i = 0; i < d->n_mb; i++) {
		mb_close(&d->mb[i], polite);
		if (d->mb[i].locked && d->db != NULL &&
		    d->mb[i].lock_gen == pd_db_generation(d->db))
			pd_db_unlock(d->db, d->mb[i].cfg->name);
	}
	free(d->mb);
	d->mb = NULL;
	d->n_mb = 0;
}

/* ----------------------------------------------------------- signals */

static int signals_setup(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Every setting that matters to a running session is the same. */
static bool mailbox_unchanged(const struct pd_mailbox_cfg *a, const struct pd_mailbox_cfg *b)
{
	return same_str(a->name, b->name) && same_str(a->url, b->url) && a->tls == b->tls &&
	       a->auth == b->auth && same_str(a->user, b->user) &&
	       same_str(a->password, b->password) &&
	       same_str(a->processed_folder, b->processed_folder) &&
	       same_str(a->ca_file, b->ca_file) && same_str(a->queue, b->queue) &&
	       a->poll_interval == b->poll_interval && a->idle == b->idle &&
	       a->timeout == b->timeout;
}

static void reload(struct daemon *d)
{
	struct pd_config *ncfg;

	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	pd_log_notice("reloading configuration from %s", d->config_path);
	if (load_config(d->config_path, &ncfg) < 0) {
		pd_log_err("new configuration in %s is invalid; keeping the running one",
			   d->config_path);
		sd_notify(0, "READY=1");
		return;
	}
	bool db_changed = strcmp(ncfg->db_conninfo, d->cfg->db_conninfo) != 0 ||
			  ncfg->db_statement_timeout != d->cfg->db_statement_timeout;
	struct mbox *old = d->mb;
	size_t n_old = d->n_mb, kept = 0;

	/* The new table: a mailbox whose settings did not change keeps its
	 * session (and its IDLE); the others are started fresh. */
	d->n_mb = ncfg->n_mailboxes;
	d->mb = pd_xcalloc(d->n_mb, sizeof(*d->mb));
	for (size_t i = 0; i < d->n_mb; i++) {
		const struct pd_mailbox_cfg *nc = &ncfg->mailboxes[i];
		d->mb[i].cfg = nc;
		d->mb[i].state = MB_DOWN;
		for (size_t j = 0; j < n_old && !db_changed; j++) {
			if (old[j].cfg != NULL && mailbox_unchanged(old[j].cfg, nc)) {
				d->mb[i] = old[j];
				d->mb[i].cfg = nc;
				if (d->mb[i].im != NULL)
					pd_imap_rebind(d->mb[i].im, nc);
				old[j].cfg = NULL; /* moved */
				old[j].im = NULL;
				kept++;
				break;
			}
		}
	}
	for (size_t j = 0; j < n_old; j++) {
		if (old[j].cfg == NULL)
			continue;
		pd_log_notice("mailbox=%s: stopped (removed or changed by the reload)",
			      old[j].cfg->name);
		mb_close(&old[j], true);
		if (old[j].locked && d->db != NULL && old[j].lock_gen == pd_db_generation(d->db))
			pd_db_unlock(d->db, old[j].cfg->name);
	}
	free(old);
	if (db_changed) {
		pd_db_close(d->db);
		d->db = NULL;
	}
	pd_config_free(d->cfg);
	d->cfg = ncfg;
	apply_log_level(d->cfg);
	smtp_setup(d);
	pd_log_notice("configuration reloaded: %zu mailboxes, %zu kept running", d->n_mb, kept);
	sd_notify(0, "READY=1");
}

static void read_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (d->stop) {
				pd_log_notice("second stop signal: exiting now");
				_exit(0);
			}
			pd_log_notice("stop signal received: finishing and logging out");
			sd_notify(0, "STOPPING=1");
			d->stop = true;
			break;
		case SIGHUP:
			d->reload_pending = true;
			break;
		}
	}
}

/* ----------------------------------------------------------- loops */

static int run_once(struct daemon *d)
{
	int rc = 0;

	for (size_t i = 0; i < d->n_mb && !d->stop; i++) {
		struct mbox *m = &d->mb[i];

		if (mb_service(d, m, true) < 0) {
			if (d->exit_code)
				return d->exit_code;
			rc = m->last_failure == PD_ERR_TEMP && rc != EX_UNAVAILABLE ? EX_TEMPFAIL
										     : EX_UNAVAILABLE;
			continue;
		}
		pd_log_notice("mailbox=%s: done: %zu fetched, %zu new tickets, %zu threaded, %zu "
			      "duplicates, %zu flagged, %zu failed",
			      m->cfg->name, m->stats.fetched, m->stats.new_tickets, m->stats.appended,
			      m->stats.duplicates, m->stats.flagged, m->stats.failed);
		/* mail that could not be stored stays on the server: not done */
		if (m->stats.failed > 0 && rc == 0)
			rc = EX_TEMPFAIL;
		mb_close(m, true);
	}
	/* one SLA scan, then everything due in the outbox */
	if (!d->stop && sla_service(d, true) < 0 && rc == 0)
		rc = EX_TEMPFAIL;
	int more = 1;
	while (!d->stop && more == 1)
		more = outbox_service(d);
	if (more < 0 && rc == 0)
		rc = EX_TEMPFAIL;
	if (d->smtp != NULL)
		pd_log_notice("outbox: %zu sent, %zu to retry, %zu failed", d->outbox.sent,
			      d->outbox.retried, d->outbox.failed);
	return rc;
}

static int run_loop(struct daemon *d)
{
	struct pollfd *pfd = NULL;
	size_t *pmap = NULL;

	while (!d->stop) {
		int64_t now, next;
		size_t np = 0;

		if (d->reload_pending) {
			d->reload_pending = false;
			reload(d);
		}
		now = pd_now_ms();
		next = now + 60 * 1000;

		for (size_t i = 0; i < d->n_mb && !d->stop; i++) {
			struct mbox *m = &d->mb[i];
			size_t stored = m->stats.new_tickets + m->stats.appended;
			if (now >= m->next_ms)
				mb_service(d, m, false); /* IDLE: re-issue, safety round */
			if (m->stats.new_tickets + m->stats.appended != stored)
				d->next_outbox_ms = 0; /* new mail may have queued answers */
		}
		if (!d->stop && pd_now_ms() >= d->next_sla_ms)
			sla_service(d, false);
		if (!d->stop && pd_now_ms() >= d->next_outbox_ms)
			outbox_service(d);
		if (d->stop)
			break;
		pfd = pd_xreallocarray(pfd, d->n_mb + 2, sizeof(*pfd));
		pmap = pd_xreallocarray(pmap, d->n_mb + 2, sizeof(*pmap));
		pfd[np].fd = d->sigfd;
		pfd[np].events = POLLIN;
		np++;
		publish_metrics(d);
		size_t metrics_slot = 0;
		if (d->metrics != NULL) {
			metrics_slot = np;
			pfd[np].fd = pd_metrics_fd(d->metrics);
			pfd[np].events = POLLIN;
			pmap[np] = SIZE_MAX;
			np++;
		}
		now = pd_now_ms();
		if (d->smtp != NULL && d->next_outbox_ms < next)
			next = d->next_outbox_ms;
		if (d->next_sla_ms < next)
			next = d->next_sla_ms;
		for (size_t i = 0; i < d->n_mb; i++) {
			struct mbox *m = &d->mb[i];
			if (m->next_ms < next)
				next = m->next_ms;
			if (m->state == MB_IDLE) {
				pfd[np].fd = pd_imap_fd(m->im);
				pfd[np].events = POLLIN;
				pmap[np] = i;
				np++;
			}
		}
		watchdog_ping(d);
		notify_status(d);
		if (d->watchdog_usec > 0 && next > now + (int64_t)(d->watchdog_usec / 2000))
			next = now + (int64_t)(d->watchdog_usec / 2000);
		int timeout = next > now ? (int)(next - now) : 0;
		int n = poll(pfd, np, timeout);
		if (n < 0 && errno != EINTR) {
			pd_log_err("poll failed: %s", strerror(errno));
			break;
		}
		if (d->metrics != NULL)
			pd_metrics_run(d->metrics); /* also expires idle HTTP connections */
		if (n <= 0)
			continue;
		(void)metrics_slot;
		if (pfd[0].revents & POLLIN)
			read_signals(d);
		if (d->mb == NULL)
			continue;
		for (size_t k = 1; k < np && !d->stop; k++) {
			/* the metrics socket, or a mailbox a reload removed */
			if (pmap[k] >= d->n_mb)
				continue;
			struct mbox *m = &d->mb[pmap[k]];
			if (m->state == MB_IDLE && pfd[k].fd == pd_imap_fd(m->im) && pfd[k].revents) {
				mb_service(d, m, false);
				d->next_outbox_ms = 0;
			}
		}
	}
	free(pfd);
	free(pmap);
	return d->exit_code;
}

int pd_daemon_run(const struct pd_daemon_opts *opts)
{
	struct daemon d;
	struct pd_err err;
	int rc;

	memset(&d, 0, sizeof(d));
	d.config_path = opts->config_path;
	pd_log_init("postdeskd", PD_LOG_INFO);
	srandom((unsigned)(getpid() ^ pd_now_ms()));
	if (load_config(d.config_path, &d.cfg) < 0) {
		pd_log_err("cannot start: the configuration in %s is invalid", d.config_path);
		return EX_CONFIG;
	}
	apply_log_level(d.cfg);
	d.sigfd = signals_setup();
	if (d.sigfd < 0) {
		pd_log_err("cannot set up signal handling: %s", strerror(errno));
		pd_config_free(d.cfg);
		return EX_OSERR;
	}
	pd_err_clear(&err);
	if (ensure_db(&d, &err) < 0) {
		pd_log_err("cannot start: %s", err.msg);
		if (err.cls == PD_ERR_FATAL || opts->once) {
			close(d.sigfd);
			pd_config_free(d.cfg);
			return err.cls == PD_ERR_FATAL ? EX_CONFIG : EX_TEMPFAIL;
		}
		/* not fatal: the loop keeps retrying with each mailbox's backoff */
	}
	smtp_setup(&d);
	mailboxes_setup(&d);
	if (d.cfg->metrics_enabled && !opts->once) {
		d.metrics = pd_metrics_start(d.cfg->metrics_host, d.cfg->metrics_port, &err);
		if (d.metrics == NULL) {
			pd_log_err("cannot start: %s", err.msg);
			mailboxes_teardown(&d, false);
			pd_smtp_free(d.smtp);
			pd_db_close(d.db);
			pd_config_free(d.cfg);
			close(d.sigfd);
			return EX_CONFIG;
		}
		pd_log_notice("metrics on http://%s:%u/metrics and /healthz", d.cfg->metrics_host,
			      d.cfg->metrics_port);
	}
	pd_log_notice("postdeskd %s started: %zu mailboxes%s", PACKAGE_VERSION, d.n_mb,
		      opts->once ? " (--once)" : "");
	if (!opts->once) {
		if (sd_watchdog_enabled(0, &d.watchdog_usec) <= 0)
			d.watchdog_usec = 0;
		sd_notify(0, "READY=1");
	}
	d.send_in_backlog = !opts->once;
	rc = opts->once ? run_once(&d) : run_loop(&d);
	mailboxes_teardown(&d, true);
	pd_metrics_stop(d.metrics);
	free(d.mm);
	pd_smtp_free(d.smtp);
	pd_oauth2_cache_free();
	pd_db_close(d.db);
	pd_config_free(d.cfg);
	close(d.sigfd);
	pd_log_notice("postdeskd stopped");
	return rc;
}
