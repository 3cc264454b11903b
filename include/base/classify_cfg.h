/*
 * classify_cfg.h - what classification decides from: the rule, queue and
 * type sections of the configuration, the support address and each
 * mailbox's queue (struct pd_classify_rules).  struct pd_config (config.h)
 * embeds it as cfg->classify; classify.h (decide) reads it.  Types only.
 */
#ifndef PD_CLASSIFY_CFG_H
#define PD_CLASSIFY_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/*
 * rule "NAME" { senders = {...} keywords = {...} fields = {...} priority = ...
 * queue = ... final = ... }: one classification rule (classify.h says how
 * they are applied).  A rule has senders or keywords or both (both: the
 * sender must match AND a keyword must); and a priority, a queue or a type
 * (any of them together).
 */
struct pd_rule_cfg {
	char *name;                  /* section title: letters, digits, '.', '_', '-' */
	struct pd_strlist senders;   /* addresses, "@domain" or "domain"; n = 0: any sender */
	struct pd_strlist keywords;  /* as written (UTF-8, <= 200 bytes, a trailing '*' =
				      * prefix); n = 0: no keyword condition */
	struct pd_strlist exclude;   /* words or phrases (as keywords) whose presence in the
				      * rule's fields makes it not match; needs keywords */
	bool match_subject;          /* fields: where keywords are searched (default both) */
	bool match_body;
	char *priority;              /* critical|high|normal|low, NULL = none */
	char *queue;                 /* queue name, NULL = none */
	char *type;                  /* request type (question|incident|complaint|suggestion|
				      * refund|access), NULL = none */
	bool final;                  /* a matching sender rule decides the priority alone */
};

/* queue "NAME" { addresses = {...} line = N }: a ticket queue. */
struct pd_queue_cfg {
	char *name;                  /* [a-z0-9._-]+, unique */
	struct pd_strlist addresses; /* addr-specs: mail to one of them goes to this queue */
	int line;                    /* support line of new tickets in it, 1..1000, default 1 */
};

/* type "TYPE" { queue = ... line = N }: where tickets of a request type go. */
struct pd_type_cfg {
	char *name;                  /* one of the six request types */
	char *queue;                 /* queue name, NULL = none */
	int line;                    /* support line of new tickets, 1..1000; 0 = none */
};

/* A mailbox's queue for new tickets (queue = in a mailbox section). */
struct pd_classify_mailbox {
	const char *name;  /* section title */
	const char *queue; /* NULL or "default": none */
};

/*
 * The keywords of the rules, folded once (classify.c fills compiled on the
 * first call; the owner of the rules frees it with compiled_free).  Filling
 * it mutates const rules: not thread-safe on first use (postdesk is
 * single-threaded).
 */
struct pd_classify_cache {
	void *compiled;
	void (*compiled_free)(void *);
};

/*
 * What classification decides from: the rule, queue and type sections of
 * the configuration (config.c fills it; struct pd_config embeds it as
 * cfg->classify), the support address and each mailbox's queue.  Strings
 * and arrays belong to the configuration.
 */
struct pd_classify_rules {
	const char *support_address; /* addr-spec; its plus-addresses name queues */
	bool trust_priority_headers;  /* X-Priority/Importance/Priority count; default false */
	size_t n_rules;               /* in file order */
	struct pd_rule_cfg *rules;
	size_t n_queues;              /* in file order */
	struct pd_queue_cfg *queues;
	size_t n_types;               /* in file order */
	struct pd_type_cfg *types;
	size_t n_mailboxes;
	struct pd_classify_mailbox *mailboxes;
	struct pd_classify_cache *cache; /* never NULL in a loaded configuration; NULL:
					  * the keywords are folded on every call */
};

#endif
