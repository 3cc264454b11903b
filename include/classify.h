/*
 * classify.h - urgency and routing of a new ticket: priority, queue and the
 * initial support line, with the reasons for each decision.
 *
 * A pure module: the configuration and the parsed mail in, a decision out;
 * no I/O.  Text is compared after Unicode case folding (libunistring) and
 * only at word boundaries (UAX #29), so "Срочно" matches the keyword
 * "срочно" and "down" does not match "download".  A keyword ending in '*'
 * matches any word that starts with it ("срочн*" matches "срочная").  A
 * keyword of several words matches them with any run of white space or
 * punctuation between them ("не работает").
 *
 * Priority, in order of trust:
 *   1. sender rules (rule sections with `senders`: addresses or "@domain"):
 *      a matching rule with final = true decides alone;
 *   2. the X-Priority / Importance / Priority headers, only when
 *      trust_priority_headers = true (1-2 / high / urgent -> high;
 *      4-5 / low / non-urgent -> low);
 *   3. keyword rules (rule sections with `keywords`) on the subject and body.
 * Without a final sender rule the highest priority any source gives wins;
 * with no match at all the priority is "normal".
 *
 * Queue: a recipient (To, Cc) listed in a queue section's `addresses`, or a
 * plus-address of the support address whose tag names a queue
 * (support+billing@example.com -> "billing"); else the first matching rule
 * with a `queue`; else the mailbox's queue; else "default".  The line is
 * the queue section's `line` (default 1).
 */
#ifndef PD_CLASSIFY_H
#define PD_CLASSIFY_H

#include <stddef.h>

#include "config.h"
#include "msg.h"

enum pd_priority {
	PD_PRIO_LOW = 0,
	PD_PRIO_NORMAL,
	PD_PRIO_HIGH,
	PD_PRIO_CRITICAL,
};

/* "low" "normal" "high" "critical" */
const char *pd_priority_name(enum pd_priority p);
/* 0 and *p on a known name (exact, lower case), -1 otherwise */
int pd_priority_parse(const char *s, enum pd_priority *p);

/* One reason for a decision. */
struct pd_reason {
	char *what;    /* "priority" or "queue" */
	char *source;  /* "sender", "header", "keyword", "address", "mailbox", "default" */
	char *rule;    /* rule / queue section name, header name, "" when none */
	char *matched; /* the sender address, header value or word as it appears in the mail */
	char *field;   /* "subject", "body", "from", "to", "cc", a header name, "" */
	char *value;   /* the priority or queue this reason gives */
	int decided;   /* 1 when this reason is the one the decision was taken from */
};

struct pd_classification {
	enum pd_priority priority;
	char *queue;    /* never NULL */
	int line;       /* >= 1 */
	size_t n_reasons;
	struct pd_reason *reasons;
};

/*
 * Classify msg, arrived in mailbox (section name, may be NULL), under cfg.
 * Fills *out (free with pd_classification_free).  Never fails.
 * Only the first 64 KiB of the body are searched.
 */
void pd_classify(const struct pd_config *cfg, const char *mailbox, const struct pd_msg *msg,
		 struct pd_classification *out);
void pd_classification_free(struct pd_classification *c);

#endif
