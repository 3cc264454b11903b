/*
 * ingest.c - one ingest round for one mailbox.  See ingest.h.
 *
 * Order matters: a mail is marked in IMAP (\Seen or moved) only after the
 * transaction that stored it has committed.  A crash between the two leaves
 * the mail unmarked; the next round fetches it again and the dedupe key
 * recognises it, so nothing is lost and nothing is stored twice.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "ioutil.h"
#include "log.h"
#include "mime.h"
#include "store.h"
#include "util.h"

int pd_ingest_open(struct pd_imap *im, struct pd_db *db, const struct pd_mailbox_cfg *mb,
		   uint32_t *uidvalidity_r, struct pd_err *err)
{
	uint32_t uidvalidity, uidnext, stored_validity, last_uid;
	int found;

	if (pd_imap_select(im, &uidvalidity, &uidnext, err) < 0)
		return -1;
	found = pd_store_get_mailbox(db, mb->name, &stored_validity, &last_uid, err);
	if (found < 0)
		return -1;
	if (!found || stored_validity != uidvalidity) {
		if (found && stored_validity != 0) /* 0: state recorded, never selected */
			pd_log_warning("mailbox=%s: UIDVALIDITY changed from %u to %u; rescanning "
				       "the folder (mail already stored is recognised and not "
				       "stored twice)",
				       mb->name, stored_validity, uidvalidity);
		if (pd_store_set_uidvalidity(db, mb->name, uidvalidity, err) < 0)
			return -1;
	}
	*uidvalidity_r = uidvalidity;
	return 0;
}

#ifdef PD_TEST_HOOKS
/* Test hook (configure --enable-test-hooks only): die right after COMMIT and
 * before marking in IMAP, to prove that the next run neither loses nor
 * duplicates anything. */
static void crash_point(void)
{
	static int armed = -1;

	if (armed < 0)
		armed = getenv("PD_TEST_CRASH_AFTER_COMMIT") != NULL;
	if (armed)
		raise(SIGKILL);
}
#else
static void crash_point(void)
{
}
#endif

static void log_outcome(const struct pd_mailbox_cfg *mb, const struct pd_ingest_item *it)
{
	const struct pd_msg *m = it->msg;

	if (it->action == PD_INGEST_FAILED)
		return; /* store.c logged why */
	pd_log_info("mailbox=%s uid=%u msgid=<%s> size=%llu ticket=%lld action=%s rule=%s%s",
		    mb->name, it->uid, m->message_id ? m->message_id : "",
		    (unsigned long long)(m->server_size > m->raw_len ? m->server_size : m->raw_len),
		    (long long)it->ticket, pd_ingest_action_name(it->action),
		    it->rule ? it->rule : "-", it->flagged ? " flagged=yes" : "");
}

/*
 * UIDs stored and committed but not yet marked on the server.  Marking is
 * what a Maildir server pays for in proportion to the folder's size (a UID
 * MOVE rewrites the index), so it is done for many batches at once.  A crash
 * before the mark only means those mails are fetched again and recognised.
 */
struct to_mark {
	uint32_t *v;
	size_t n, cap;
};

/* UIDs marked per command during a backlog: 1,000, or ten batches when
 * batches are smaller (a small batch_size asks for mail marked sooner) */
#define MARK_EVERY 1000
#define MARK_BATCHES 10

/* ahead: by the fetcher, while the main thread stores (logged as
 * ahead_mark_ms, apart from the marks the main thread waits for) */
static int mark_now(struct pd_imap *im, const struct pd_mailbox_cfg *mb, struct to_mark *tm,
		    bool ahead, struct pd_err *err)
{
	int64_t t0 = pd_now_ms();

	if (tm->n == 0)
		return 0;
	if (pd_imap_mark_processed(im, tm->v, tm->n, err) < 0) {
		pd_err_prefix(err, "stored %zu mails but could not mark them (they will be "
				   "fetched again and recognised)",
			      tm->n);
		return -1;
	}
	pd_log_debug("mailbox=%s marked=%zu %smark_ms=%lld", mb->name, tm->n, ahead ? "ahead_" : "",
		     (long long)(pd_now_ms() - t0));
	tm->n = 0;
	return 0;
}

static void marks_reserve(struct to_mark *tm, size_t more)
{
	if (tm->n + more > tm->cap) {
		tm->cap = tm->n + more + MARK_EVERY;
		tm->v = pd_xrealloc(tm->v, tm->cap * sizeof(*tm->v));
	}
}

static void add_marks(struct to_mark *tm, const uint32_t *v, size_t n)
{
	marks_reserve(tm, n);
	memcpy(tm->v + tm->n, v, n * sizeof(*v));
	tm->n += n;
}

/*
 * Store items[0..n).  When PostgreSQL cancels a statement for running past
 * statement_timeout, the same batch would time out again on every round and
 * the mailbox would stall behind it: store it again in smaller pieces - the
 * mails before the one whose statement timed out, that mail alone, the mails
 * after it (halves when no mail is named) - down to one mail, which is then
 * kept raw on a flagged ticket like other mail that cannot be stored parsed.
 * When even the raw mail times out the cause is not the mail (a lock, an
 * overloaded server): the error is returned and the rest waits for the next
 * round, as for any other temporary failure.  Pieces committed before that
 * keep their actions; the others are FAILED.
 */
static int store_pieces(struct pd_db *db, const struct pd_store_ctx *ctx,
			const struct pd_mailbox_cfg *mb, struct pd_ingest_item *items, size_t n,
			struct pd_err *err)
{
	size_t k = n;

	if (n == 0)
		return 0;
	if (pd_store_batch(db, ctx, items, n, err) == 0)
		return 0;
	if (err->code != PD_DB_TIMEOUT || (n == 1 && ctx->raw_reason != NULL))
		return -1;
	if (n == 1) {
		struct pd_store_ctx raw = *ctx;
		raw.raw_reason = "storing it took longer than database.statement_timeout";
		pd_log_warning("mailbox=%s uid=%u: %s; trying to keep it raw on a flagged ticket",
			       mb->name, items[0].uid, err->msg);
		pd_err_clear(err);
		return store_pieces(db, &raw, mb, items, 1, err);
	}
	for (size_t i = 0; i < n; i++)
		if (items[i].timed_out)
			k = i;
	pd_log_warning("mailbox=%s: a batch of %zu mails ran past the statement timeout (%s); "
		       "storing it in smaller pieces",
		       mb->name, n, k < n ? "in one mail" : "no mail named");
	pd_err_clear(err);
	if (k < n)
		return store_pieces(db, ctx, mb, items, k, err) < 0 ||
				       store_pieces(db, ctx, mb, items + k, 1, err) < 0 ||
				       store_pieces(db, ctx, mb, items + k + 1, n - k - 1, err) < 0
			   ? -1
			   : 0;
	return store_pieces(db, ctx, mb, items, n / 2, err) < 0 ||
			       store_pieces(db, ctx, mb, items + n / 2, n - n / 2, err) < 0
		   ? -1
		   : 0;
}

/*
 * A mail above max_message_size is never fetched whole: only its first
 * max(max_message_size, KEEP_MIN) bytes (header and the start of the body)
 * are fetched and stored raw, its ticket flagged and its size on the server
 * recorded; then it is marked like any other, so it cannot come back.  The
 * whole mail stays on the server (in processed_folder, or flagged \Seen).
 * KEEP_MIN keeps the header and the first text also under a tiny limit.
 */
#define KEEP_MIN (64 * 1024)

static uint64_t keep_bytes(const struct pd_config *cfg)
{
	if (cfg->max_message_size == 0)
		return 0; /* no limit */
	return cfg->max_message_size > KEEP_MIN ? cfg->max_message_size : KEEP_MIN;
}

/* The mail is the first prefix bytes of one of server_size: headers only. */
static void truncated(struct pd_msg *m, uint64_t server_size, const struct pd_config *cfg)
{
	m->oversized = true;
	m->server_size = server_size;
	free(m->parse_error);
	m->parse_error = pd_xasprintf(
	    "message of %llu bytes is above max_message_size (%llu): not parsed, only its first "
	    "%zu bytes were fetched and stored; the whole mail stays on the mail server",
	    (unsigned long long)server_size, (unsigned long long)cfg->max_message_size,
	    m->raw_len);
}

/*
 * One batch between the IMAP server and the database: its UIDs (from off in
 * the round's pending list), the mails as fetched and as parsed.  While the
 * main thread stores batch k, a second thread fetches and parses batch k+1
 * into another of these, so the daemon's parsing and the server's fetching
 * overlap PostgreSQL's work; at most two batches are in memory.
 */
struct batch {
	size_t off;  /* its first UID is pending.v[off] */
	size_t take; /* UIDs it covers, after the batch_bytes cut */
	uint32_t prefix, server_size;
	struct pd_imap_mail *mails;
	struct pd_ingest_item *items;
	size_t n_mails;
	int64_t fetch_ms, parse_ms;
	int rc; /* -1: fetching failed, err says why */
	struct pd_err err;
};

/* What fetching a batch needs, the same over the whole round.  The IMAP
 * session belongs to whichever thread fetches (and marks, during a
 * backlog, what the main thread had committed when the fetch began); the
 * main thread uses it (search, mark) only while no fetch is under way. */
struct fetcher {
	struct pd_imap *im;
	const struct pd_config *cfg;
	const struct pd_mailbox_cfg *mb;
	const struct pd_uidlist *pending;
	size_t batch;     /* batch_size */
	uint32_t *sizes;  /* batch entries: the sizes of the next UIDs */
	struct batch *b;  /* the batch being fetched */
	/* UIDs already committed, to be marked before the fetch (n == 0:
	 * none); what could not be marked stays in it */
	struct to_mark mark;
};

static void batch_free(struct batch *b)
{
	for (size_t i = 0; b->items != NULL && i < b->n_mails; i++)
		pd_msg_free(b->items[i].msg);
	free(b->items);
	pd_imap_mails_free(b->mails, b->n_mails);
	b->items = NULL;
	b->mails = NULL;
	b->n_mails = 0;
}

/*
 * Fetch and parse the batch that starts at b->off: ask the sizes of the next
 * batch_size UIDs, cut the batch so one fetch stays under batch_bytes (a
 * single mail larger than that is fetched on its own, and one above what is
 * ever fetched whole (keep) on its own and only in part), fetch, parse.
 * Touches nothing but the IMAP session, f->sizes, *b and the log.
 */
static void fetch_batch(struct fetcher *f)
{
	struct batch *b = f->b;
	const struct pd_config *cfg = f->cfg;
	const struct pd_mailbox_cfg *mb = f->mb;
	size_t n = f->pending->n - b->off < f->batch ? f->pending->n - b->off : f->batch;
	const uint32_t *uids = f->pending->v + b->off;
	struct pd_mime_opts mopts = {cfg->max_message_size, 0, 0};
	uint64_t bytes = 0, keep = keep_bytes(cfg);
	int64_t t0, t_fetch;

	b->take = 0;
	b->mails = NULL;
	b->items = NULL;
	b->n_mails = 0;
	b->fetch_ms = b->parse_ms = 0;
	b->rc = -1;
	pd_err_clear(&b->err);
	/* the mark of what was committed before, here so that the server's
	 * work on it overlaps the store of the batch before this one */
	if (f->mark.n > 0 && mark_now(f->im, mb, &f->mark, true, &b->err) < 0)
		return;
	if (pd_imap_fetch_sizes(f->im, uids, n, f->sizes, &b->err) < 0)
		return;
	b->prefix = keep > 0 && f->sizes[0] > keep ? (uint32_t)keep : 0;
	b->server_size = f->sizes[0];
	while (b->take < n && (b->take == 0 || bytes + f->sizes[b->take] <= cfg->batch_bytes) &&
	       (b->prefix > 0 ? b->take == 0 : keep == 0 || f->sizes[b->take] <= keep)) {
		bytes += f->sizes[b->take];
		b->take++;
	}
	if (b->prefix > 0)
		pd_log_notice("mailbox=%s uid=%u: %u bytes, above max_message_size: fetching "
			      "only its first %u bytes",
			      mb->name, uids[0], f->sizes[0], b->prefix);

	t0 = pd_now_ms();
	if ((b->prefix > 0 ? pd_imap_fetch_prefix(f->im, uids, b->take, b->prefix, &b->mails,
						  &b->n_mails, &b->err)
			   : pd_imap_fetch(f->im, uids, b->take, &b->mails, &b->n_mails, &b->err)) < 0)
		return;
	t_fetch = pd_now_ms();
	b->items = pd_xcalloc(b->n_mails ? b->n_mails : 1, sizeof(*b->items));
	for (size_t i = 0; i < b->n_mails; i++) {
		const struct pd_imap_mail *ml = &b->mails[i];

		b->items[i].uid = ml->uid;
		if (b->prefix > 0 && ml->len < b->server_size) {
			/* a prefix is not a mail: its header only, never its parts */
			struct pd_mime_opts hdr = {1, 0, 0};
			b->items[i].msg = pd_mime_parse(ml->data, ml->len, &hdr);
			truncated(b->items[i].msg, b->server_size, cfg);
		} else {
			b->items[i].msg = pd_mime_parse(ml->data, ml->len, &mopts);
		}
		const struct pd_msg *m = b->items[i].msg;
		if (m->parse_error != NULL)
			pd_log_warning("mailbox=%s uid=%u: %s; storing it raw and flagging the ticket",
				       mb->name, ml->uid, m->parse_error);
		/* what the parser had to repair or leave out, so that nobody wonders */
		for (size_t w = 0; w < m->n_warnings && w < 5; w++)
			pd_log_notice("mailbox=%s uid=%u msgid=<%s>: %s", mb->name, ml->uid,
				      m->message_id ? m->message_id : "", m->warnings[w]);
		if (m->n_warnings > 5)
			pd_log_notice("mailbox=%s uid=%u: %zu more parse warnings", mb->name, ml->uid,
				      m->n_warnings - 5);
	}
	b->fetch_ms = t_fetch - t0;
	b->parse_ms = pd_now_ms() - t_fetch;
	b->rc = 0;
}

static void *fetch_thread(void *arg)
{
	fetch_batch(arg);
	return NULL;
}

/*
 * Start fetching f->b in a second thread.  The thread takes no signal: the
 * daemon's SIGTERM, SIGHUP... stay with the main thread (daemon.c reads
 * them between batches).  When no thread can be started the batch is
 * fetched later in the main thread (*started false), as before the overlap.
 */
static void fetch_start(struct fetcher *f, pthread_t *tid, bool *started)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(tid, NULL, fetch_thread, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	*started = r == 0;
	if (r != 0)
		pd_log_warning("mailbox=%s: cannot start a thread to fetch the next batch while "
			       "this one is stored (%s); fetching one batch after the other",
			       f->mb->name, strerror(r));
}

/* The batch fetch_start began is fetched and parsed (or failed). */
static void fetch_wait(struct fetcher *f, pthread_t tid, bool started)
{
	if (started)
		pthread_join(tid, NULL);
	else
		fetch_batch(f);
}

/* Store a fetched batch; what was stored joins tm, to be marked by the
 * caller (also when a later piece of the batch failed). */
static int store_batch(struct pd_db *db, const struct pd_config *cfg,
		       const struct pd_mailbox_cfg *mb, uint32_t uidvalidity, struct batch *b,
		       struct to_mark *tm, struct pd_ingest_stats *st, int64_t *store_ms,
		       struct pd_err *err)
{
	struct pd_store_ctx ctx = {cfg, mb->name, mb->queue, uidvalidity, NULL};
	int64_t t0 = pd_now_ms();
	int stored;

	stored = store_pieces(db, &ctx, mb, b->items, b->n_mails, err);
	if (stored == 0)
		crash_point();
	*store_ms = pd_now_ms() - t0;

	marks_reserve(tm, b->n_mails);
	for (size_t i = 0; i < b->n_mails; i++) {
		struct pd_ingest_item *it = &b->items[i];

		log_outcome(mb, it);
		st->fetched++;
		switch (it->action) {
		case PD_INGEST_NEW_TICKET:
			st->new_tickets++;
			break;
		case PD_INGEST_APPENDED:
			st->appended++;
			break;
		case PD_INGEST_DUPLICATE:
			st->duplicates++;
			break;
		default:
			if (stored == 0)
				st->failed++; /* else the error is the batch's */
			continue;             /* stays unmarked: retried next round */
		}
		if (it->flagged)
			st->flagged++;
		tm->v[tm->n++] = it->uid;
	}
	return stored;
}

int pd_ingest_pending(struct pd_imap *im, struct pd_db *db, const struct pd_config *cfg,
		      const struct pd_mailbox_cfg *mb, uint32_t uidvalidity,
		      const struct pd_ingest_ctl *ctl, struct pd_ingest_stats *st,
		      struct pd_err *err)
{
	struct pd_uidlist pending = {0, NULL};
	uint32_t stored_validity, last_uid = 0;
	struct batch bt[2], *cur = &bt[0], *next = &bt[1];
	struct fetcher f = {im, cfg, mb, &pending, 0, NULL, NULL, {NULL, 0, 0}};
	struct to_mark tm = {NULL, 0, 0};
	size_t mark_every;
	int rc = -1;

	f.batch = cfg->batch_size > 0 ? (size_t)cfg->batch_size : 100;
	mark_every = f.batch < MARK_EVERY / MARK_BATCHES ? f.batch * MARK_BATCHES : MARK_EVERY;
	memset(bt, 0, sizeof(bt));
	if (pd_db_ensure(db, err) < 0)
		return -1;
	if (pd_store_get_mailbox(db, mb->name, &stored_validity, &last_uid, err) < 0)
		return -1;
	if (pd_imap_search_pending(im, last_uid, &pending, err) < 0)
		return -1;
	f.sizes = pd_xcalloc(f.batch, sizeof(*f.sizes));
	if (pending.n > 0) {
		/* the first batch: nothing to overlap with yet */
		cur->off = 0;
		f.b = cur;
		fetch_batch(&f);
		if (cur->rc < 0) {
			*err = cur->err;
			goto out;
		}
	}
	for (size_t off = 0; off < pending.n;) {
		size_t off_next = cur->off + cur->take;
		bool ahead = off_next < pending.n, started = false;
		pthread_t tid;
		int stored;
		int64_t store_ms, t_stored, t_wait;

		if (ahead) {
			next->off = off_next;
			f.b = next;
			/* a backlog's committed UIDs go with the fetch, which
			 * marks them first: the list is the fetcher's until
			 * fetch_wait, tm starts again empty */
			if (tm.n >= mark_every) {
				struct to_mark t = f.mark;
				f.mark = tm;
				tm = t;
			}
			fetch_start(&f, &tid, &started);
		}
		/* the main thread stores while the other fetches; IMAP is not
		 * touched here until that fetch is over */
		stored = store_batch(db, cfg, mb, uidvalidity, cur, &tm, st, &store_ms, err);
		t_stored = pd_now_ms();
		if (ahead) {
			fetch_wait(&f, tid, started);
			/* what the fetcher could not mark waits with the rest */
			if (f.mark.n > 0) {
				add_marks(&tm, f.mark.v, f.mark.n);
				f.mark.n = 0;
			}
		}
		t_wait = pd_now_ms();
		pd_log_debug("mailbox=%s batch=%zu fetch_ms=%lld parse_ms=%lld store_ms=%lld "
			     "wait_ms=%lld",
			     mb->name, cur->n_mails, (long long)cur->fetch_ms,
			     (long long)cur->parse_ms, (long long)store_ms,
			     (long long)(t_wait - t_stored));
		batch_free(cur);
		off = off_next;
		/* a failed store leaves the batches after it unmarked: the one
		 * fetched ahead is dropped and fetched again next round */
		if (stored < 0)
			goto out;
		/* during a backlog the next fetch marks (above); the round's
		 * last batch is marked here */
		if (off >= pending.n && mark_now(im, mb, &tm, false, err) < 0)
			goto out;
		if (!ahead)
			break;
		if (next->rc < 0) {
			*err = next->err;
			goto out;
		}
		if (ctl != NULL && ctl->should_stop(ctl->arg)) {
			pd_log_notice("mailbox=%s: stopping with %zu mails left on the server for the "
				      "next start",
				      mb->name, pending.n - off);
			break;
		}
		struct batch *t = cur;
		cur = next;
		next = t;
	}
	rc = 0;
out:
	batch_free(&bt[0]);
	batch_free(&bt[1]);
	/* what was committed is marked now, also when a later batch failed or
	 * a stop was asked for */
	if (tm.n > 0) {
		struct pd_err me;
		pd_err_clear(&me);
		if (mark_now(im, mb, &tm, false, &me) < 0) {
			if (rc == 0) {
				*err = me;
				rc = -1;
			} else {
				pd_log_warning("mailbox=%s: %s", mb->name, me.msg);
			}
		}
	}
	free(tm.v);
	free(f.mark.v);
	free(f.sizes);
	pd_uidlist_free(&pending);
	return rc;
}
