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
 * Words: the segments of UAX #29 word boundaries that hold a letter or a
 * digit; everything between them (spaces, punctuation, symbols) only
 * separates words, in keywords too ("e-mail" is the two words "e" "mail").
 * Folding: full Unicode case folding without language tailoring (no Turkish
 * dotless i; "STRASSE" and "straße" both fold to "strasse"), in NFC; then
 * "ё" becomes "е" (an orthographic convention of Russian, where "ё" is
 * mostly written as "е", not a case mapping), and invisible format
 * characters inside a word (soft hyphen, ZWNJ, ZWJ, LRM, RLM, word joiner,
 * BOM) are dropped.  A keyword of punctuation only has no words and
 * matches nothing.  Subject and body are searched up to
 * their first 64 KiB each; invalid UTF-8 is read as U+FFFD.
 *
 * Rules (struct pd_rule_cfg) apply in file order.  A rule matches when its
 * sender condition holds (no senders, or the From address is one of them:
 * exact address in any case, or "@domain" / "domain" = exactly that
 * domain) AND its keyword condition holds (no keywords, or one of them is
 * found in one of the rule's fields).
 *
 * Priority, in order of trust:
 *   1. sender rules (rule sections with `senders`): a matching rule with
 *      final = true decides alone (the first such rule in file order);
 *   2. the X-Priority / Importance / Priority headers, only when
 *      trust_priority_headers = true (1-2 / high / urgent -> high;
 *      4-5 / low / non-urgent -> low; the normal values give nothing, so
 *      "X-Priority: 3", which many mailers always send, cannot outweigh a
 *      "low" rule);
 *   3. keyword rules (rule sections with `keywords` and no `senders`) on
 *      the subject and body.
 * Without a final sender rule the highest priority any source gives wins
 * (on a tie the first in the order above); with no match at all the
 * priority is "normal".
 *
 * A rule with `exclude` words does not match at all when one of them is
 * found in its fields (they are searched like keywords).
 *
 * Type (the kind of request): the `type` of the first matching sender rule
 * (in file order) that has one; else, of the matching keyword rules with a
 * type, the one whose keywords found weigh most: every distinct keyword
 * found counts 3 in the subject and 1 in the body (4 in both), times its
 * number of words, so the subject outweighs the body, several matches
 * outweigh one and a phrase outweighs a word; the first in file order on a
 * tie; with none, "question".
 *
 * Queue: a recipient (To, Cc, then Delivered-To / X-Original-To) listed in
 * a queue section's `addresses`, or a plus-address of the support address
 * or of a queue address whose tag names a queue
 * (support+billing@example.com -> "billing"; a tag that names no queue on a
 * queue address -> that address's queue); else the first matching rule with
 * a `queue`; else the `queue` of the type's section (type "incident" {
 * queue = ... }); else the mailbox's queue when it is not "default"; else
 * "default".  The line is the type section's `line` when it has one, else
 * the chosen queue section's `line` (default 1; 1 also for a queue without
 * a section).
 *
 * Reasons: every source that gives a priority or a queue adds one reason,
 * and exactly one reason per `what` has decided = 1:
 *   what      source    rule             matched              field
 *   priority  sender    rule name        From address         "from"
 *   priority  header    header name      header value         header name
 *   priority  keyword   rule name        the words as written "subject"/"body"
 *   priority  default   ""               ""                   ""   (value "normal")
 *   queue     address   queue name       recipient address    "to"/"cc"/"delivered-to"
 *   queue     sender    rule name        From address         "from"
 *   queue     keyword   rule name        the words as written "subject"/"body"
 *   queue     type      type name        ""                   ""
 *   queue     mailbox   mailbox name     ""                   ""
 *   queue     default   ""               ""                   ""   (value "default")
 *   type      sender    rule name        From address         "from"
 *   type      keyword   rule name        the words as written "subject"/"body"
 *   type      default   ""               ""                   ""   (value "question")
 * A rule with both senders and keywords gives source "sender".  The type
 * reason of the queue is added whenever the decided type's section has a
 * queue (decided only when nothing before it routes).  A rule's
 * keyword reason names its first match, the subject before the body.
 * matched is cut to at most 256 bytes (at a character boundary).  The
 * mailbox reason is added whenever the mailbox's queue is not "default",
 * the default ones only when they decide.  Every matching rule with a type
 * adds a type reason; the one chosen as above decides.
 */
#ifndef PD_CLASSIFY_H
#define PD_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "classify_cfg.h"
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

/* The request types, in the order of tickets.type's CHECK. */
enum pd_type {
	PD_TYPE_QUESTION = 0, /* the default */
	PD_TYPE_INCIDENT,     /* something is broken */
	PD_TYPE_COMPLAINT,
	PD_TYPE_SUGGESTION,
	PD_TYPE_REFUND,       /* refund or exchange */
	PD_TYPE_ACCESS,       /* access or account */
};
#define PD_N_TYPES 6

/* "question" "incident" "complaint" "suggestion" "refund" "access" */
const char *pd_type_name(enum pd_type t);
/* 0 and *t on a known name (exact, lower case), -1 otherwise */
int pd_type_parse(const char *s, enum pd_type *t);

/* One reason for a decision. */
struct pd_reason {
	char *what;    /* "priority", "queue" or "type" */
	char *source;  /* "sender", "header", "keyword", "address", "type", "mailbox",
			* "default" */
	char *rule;    /* rule / queue section name, header name, "" when none */
	char *matched; /* the sender address, header value or word as it appears in the mail */
	char *field;   /* "subject", "body", "from", "to", "cc", a header name, "" */
	char *value;   /* the priority, queue or type this reason gives */
	int decided;   /* 1 when this reason is the one the decision was taken from */
};

struct pd_classification {
	enum pd_priority priority;
	enum pd_type type;
	char *queue;    /* never NULL */
	int line;       /* >= 1 */
	size_t n_reasons;
	struct pd_reason *reasons;
};

/*
 * Classify msg, arrived in mailbox (section name, may be NULL), under rules
 * (both non-NULL; NULL strings in msg read as "").  Fills *out (free with
 * pd_classification_free).  Never fails.  Only the first 64 KiB of the body
 * are searched.
 *
 * The keywords are folded once per set of rules, on the first call, and
 * kept in rules->cache (freed with the configuration); rules built by hand
 * without a cache have them folded on every call.
 */
void pd_classify(const struct pd_classify_rules *rules, const char *mailbox,
		 const struct pd_msg *msg, struct pd_classification *out);
void pd_classification_free(struct pd_classification *c);

/*
 * The words of text[0..len) as the classifier compares them: case-folded
 * as above, separated by one space (words never contain a space).  For
 * tests and diagnosis.  uax29_only: segment with libunistring's
 * u8_wordbreaks even where the classifier's own faster segmentation of
 * common scripts applies (the two must agree).  Caller frees.
 */
char *pd_classify_words(const char *text, size_t len, bool uax29_only);

#endif
