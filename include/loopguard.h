/*
 * loopguard.h - may postdesk answer this mail automatically? (pure)
 *
 * One layer for every rule (RFC 3834 and the practice of mature mail
 * software): auto-submitted mail, bulk/list mail, autoresponders, bounces,
 * null or role senders, our own addresses, our own loop header, and rate
 * limits whose counts the caller reads from PostgreSQL.
 */
#ifndef PD_LOOPGUARD_H
#define PD_LOOPGUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "msg.h"

enum pd_loop_verdict {
	PD_LOOP_OK = 0,          /* an automatic answer is allowed */
	PD_LOOP_AUTO_SUBMITTED,  /* Auto-Submitted other than "no", X-Autoreply, ... */
	PD_LOOP_BULK,            /* Precedence bulk/junk/list, List-Id, List-Unsubscribe */
	PD_LOOP_SUPPRESS,        /* X-Auto-Response-Suppress (Exchange) asks for none */
	PD_LOOP_BOUNCE,          /* delivery status notification / null sender */
	PD_LOOP_ROLE_SENDER,     /* MAILER-DAEMON, postmaster, noreply... */
	PD_LOOP_OWN,             /* from one of our own addresses, or carries our loop header */
	PD_LOOP_RATE,            /* too many automatic mails to this address lately */
	PD_LOOP_SUPPRESSED,      /* address suppressed after a permanent failure */
	PD_LOOP_NO_ADDRESS,      /* no usable sender address */
};

struct pd_loop_input {
	const struct pd_msg *msg;
	const char *const *own_addresses; /* support address(es), lower case */
	size_t n_own;
	const char *loop_header_value;    /* value of our X-Postdesk-Loop header, e.g. the domain */
	bool has_loop_header;             /* the mail carries X-Postdesk-Loop with that value */
	bool is_dsn;                      /* multipart/report; report-type=delivery-status */
	int auto_sent_recent;             /* automatic mails to the sender in the short window */
	int auto_sent_day;                /* ... in the last 24 h */
	int limit_recent;                 /* configured limits; 0 = no limit */
	int limit_day;
	bool sender_suppressed;           /* a permanent failure recorded for the sender */
};

/* Decide; *reason_r (static string, may be NULL) says which rule matched. */
enum pd_loop_verdict pd_loopguard_check(const struct pd_loop_input *in, const char **reason_r);

/* "ok", "auto-submitted", "bulk", ... */
const char *pd_loop_verdict_name(enum pd_loop_verdict v);

#endif
