/*
 * imap.h - one IMAP session to one mailbox folder, with libetpan.
 *
 * Connect (plain, STARTTLS or implicit TLS, the certificate verified before
 * any credential is sent), log in (AUTHENTICATE PLAIN or LOGIN), SELECT,
 * find the UIDs still to process, fetch them raw in bounded batches, and
 * after the caller's COMMIT mark them processed (UID MOVE to the processed
 * folder, COPY + \Deleted + UID EXPUNGE when MOVE is missing, or \Seen).
 * IDLE support: start, a file descriptor to poll, done.
 *
 * Every call blocks for at most the configured network timeout.  Errors:
 * TEMP for network/timeouts/server NO, FATAL-ish problems (login refused,
 * certificate untrusted) are PERM so the caller backs off with a clear log
 * line rather than hammering the server.  After any error the session is
 * unusable: free it and connect again.
 */
#ifndef PD_IMAP_H
#define PD_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

struct pd_imap;

struct pd_uidlist {
	size_t n;
	uint32_t *v; /* ascending, owned */
};
void pd_uidlist_free(struct pd_uidlist *l);

struct pd_imap_mail {
	uint32_t uid;
	char *data;   /* raw RFC 5322 bytes, owned, NUL-terminated */
	size_t len;
};

/* cfg is borrowed and must outlive the session. */
struct pd_imap *pd_imap_new(const struct pd_mailbox_cfg *cfg);
void pd_imap_free(struct pd_imap *im);

/* Connect, verify TLS, read capabilities, authenticate. */
int pd_imap_connect(struct pd_imap *im, struct pd_err *err);

/* SELECT the configured folder (creating processed_folder if configured and
 * missing, once).  Reports UIDVALIDITY and UIDNEXT (0 when not sent). */
int pd_imap_select(struct pd_imap *im, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
		   struct pd_err *err);

/*
 * UIDs to process: every UID above last_uid, plus (so a crash between COMMIT
 * and marking heals itself) UIDs at or below last_uid that are still not
 * marked: in move mode every message left in the folder, in \Seen mode every
 * UNSEEN one.  Ascending.
 */
int pd_imap_search_pending(struct pd_imap *im, uint32_t last_uid, struct pd_uidlist *uids_r,
			   struct pd_err *err);

/* RFC822.SIZE of each UID in uids (sizes_r[i] for uids[i]; 0 when the server
 * did not report a message, e.g. expunged meanwhile). */
int pd_imap_fetch_sizes(struct pd_imap *im, const uint32_t *uids, size_t n, uint32_t *sizes_r,
			struct pd_err *err);

/* UID FETCH BODY.PEEK[] of uids in one command.  *mails_r (caller frees with
 * pd_imap_mails_free) holds the messages the server returned, in UID order;
 * an expunged UID is simply missing. */
int pd_imap_fetch(struct pd_imap *im, const uint32_t *uids, size_t n,
		  struct pd_imap_mail **mails_r, size_t *n_r, struct pd_err *err);
/* The same with BODY.PEEK[]<0.prefix>: at most the first prefix bytes of
 * each mail (header and the start of the body) cross the wire and memory,
 * however large the mail is. */
int pd_imap_fetch_prefix(struct pd_imap *im, const uint32_t *uids, size_t n, uint32_t prefix,
			 struct pd_imap_mail **mails_r, size_t *n_r, struct pd_err *err);
void pd_imap_mails_free(struct pd_imap_mail *mails, size_t n);

/* Mark uids processed in one command: UID MOVE to processed_folder when
 * configured (COPY + STORE \Deleted + UID EXPUNGE without MOVE), otherwise
 * UID STORE +FLAGS.SILENT (\Seen). */
int pd_imap_mark_processed(struct pd_imap *im, const uint32_t *uids, size_t n, struct pd_err *err);

bool pd_imap_has_idle(const struct pd_imap *im);
bool pd_imap_has_move(const struct pd_imap *im);

/* Enter IDLE.  While idling, poll pd_imap_fd() for POLLIN; then call
 * pd_imap_idle_done() before any other command. Re-issue before 29 minutes. */
int pd_imap_idle_start(struct pd_imap *im, struct pd_err *err);
int pd_imap_idle_done(struct pd_imap *im, struct pd_err *err);
/* True right after pd_imap_idle_start() when the server's news already sits
 * in libetpan's buffers, where poll() on pd_imap_fd() cannot see it
 * (untagged data sent before "+ idling", or read together with it).  Check
 * it before polling; when true, call pd_imap_idle_done() at once and search. */
bool pd_imap_idle_ready(const struct pd_imap *im);
/* Socket of the session, -1 when not connected. */
int pd_imap_fd(const struct pd_imap *im);

/* Number of messages in the selected folder as last reported by the server
 * (EXISTS), including untagged EXISTS that arrived during any command.  The
 * caller compares it across a round to notice mail that arrived while it was
 * busy, which IDLE would otherwise not report again. */
uint32_t pd_imap_exists(const struct pd_imap *im);

/* Point a live session at an equal configuration (after a reload that left
 * this mailbox unchanged); cfg must outlive the session. */
void pd_imap_rebind(struct pd_imap *im, const struct pd_mailbox_cfg *cfg);

/* LOGOUT politely (errors ignored) and close. */
void pd_imap_logout(struct pd_imap *im);

#endif
