/*
 * thread.h - which ticket a mail belongs to (pure: data in, decision out).
 *
 * Rules, in order of trust:
 *   1. one of our own outbound Message-IDs in In-Reply-To/References;
 *   2. any stored Message-ID in them;
 *   3. the subject tag [TAG #N], accepted only from the ticket's requester,
 *      a participant (Cc) or an agent; from anyone else it starts a new
 *      ticket and the foreign tag is noted;
 *   4. the ticket whose reply address (see agentid.h) the mail was sent to;
 *   5. otherwise a new ticket.
 * Re:/Fwd:/AW:/WG:/Ответ: prefixes never decide anything alone.
 */
#ifndef PD_THREAD_H
#define PD_THREAD_H

#include <stdbool.h>
#include <stdint.h>

enum pd_thread_rule {
	PD_THREAD_NEW = 0,
	PD_THREAD_OWN_REF, /* rule 1 */
	PD_THREAD_REF,     /* rule 2 */
	PD_THREAD_TAG,     /* rule 3 */
	PD_THREAD_TOKEN,   /* rule 4 */
};

struct pd_thread_facts {
	int64_t own_ref_ticket;  /* ticket of one of our outbound Message-IDs in refs, 0 = none */
	int64_t ref_ticket;      /* ticket of any stored Message-ID in refs, 0 = none */
	int64_t tag_ticket;      /* existing ticket named by the subject tag, 0 = none */
	bool tag_sender_allowed; /* sender is requester, participant or agent of tag_ticket */
	int64_t token_ticket;    /* existing ticket whose valid reply address the mail was sent
				  * to, 0 = none */
};

struct pd_thread_decision {
	enum pd_thread_rule rule;
	int64_t ticket;          /* 0 for PD_THREAD_NEW */
	int64_t foreign_tag;     /* tag ticket refused because of the sender, else 0 */
};

void pd_thread_decide(const struct pd_thread_facts *facts, struct pd_thread_decision *d);

/* "new", "own-message-id", "message-id", "subject-tag", "reply-address". */
const char *pd_thread_rule_name(enum pd_thread_rule rule);

/* Find "[TAG #N]" in subject: TAG compared case-insensitively, spaces around
 * '#' tolerated ("[Support #12]", "[support#12]", "[Support # 12]").  Returns
 * 1 and *number_r, or 0 when there is no tag or N is not a positive number
 * that fits int64. */
int pd_thread_find_tag(const char *subject, const char *tag, int64_t *number_r);

/* Subject without leading reply/forward prefixes (Re:, RE[2]:, Fwd:, Fw:,
 * AW:, WG:, SV:, VS:, Ответ:, Отв:, Пересл:, ...) and without our tag;
 * newly allocated. */
char *pd_thread_clean_subject(const char *subject, const char *tag);

#endif
