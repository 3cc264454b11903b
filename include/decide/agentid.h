/*
 * agentid.h - who wrote an agent's mail (pure: data in, decision out).
 *
 * A notice to the agents carries Reply-To the ticket's reply address,
 * support+tNUMBER-HEX@domain, where HEX is the first 16 lower-case hex
 * digits of HMAC-SHA256(secret, "ticket:NUMBER") and the secret lives in
 * the database (table postdesk_secret).  A mail from an address listed in
 * agents.addresses counts as that agent's only when it was sent to the reply
 * address of the ticket it threads to, or when its topmost
 * Authentication-Results (RFC 8601) comes from a trusted authserv-id and says
 * dmarc=pass, or dkim=pass with header.d the From address's domain.  Anything
 * else with an agent's From is held; a mail to a reply address from someone
 * who is not an agent is held too.
 */
#ifndef PD_AGENTID_H
#define PD_AGENTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest secret used (bytes) and the token's hex length. */
#define PD_TOKEN_SECRET_MAX 64
#define PD_TOKEN_HEX_LEN 16

/*
 * The reply address of ticket `number` for support_address into out
 * (outlen bytes): "LOCAL+tNUMBER-HEX@DOMAIN", hex being the ticket's
 * PD_TOKEN_HEX_LEN digits (replyaddr.h computes them).  Returns 0, or -1 when
 * support_address has no '@', number <= 0, hex has another length or out is
 * too small (out is "" then).
 */
int pd_token_format(const char *support_address, int64_t number, const char *hex, char *out,
		    size_t outlen);

/* Split addr as one of support_address's reply addresses (local part and
 * domain compared without case): the ticket number and its hex digits (lower
 * case).  False when it has another shape. */
bool pd_token_parse(const char *support_address, const char *addr, int64_t *number_r,
		    char hex_r[PD_TOKEN_HEX_LEN + 1]);

/* Whether two tokens' PD_TOKEN_HEX_LEN digits are equal, in time that does
 * not depend on where they differ. */
bool pd_token_hex_equal(const char *a, const char *b);

/* True when addr has the shape of one of our reply addresses (support's
 * local part + "+t" + digits + "-" + 16 hex digits, support's domain): the
 * store asks the database for the secret only then. */
bool pd_token_shaped(const char *support_address, const char *addr);

/* True when addr is a plus-address of support_address (LOCAL+anything@DOMAIN,
 * any case): a reply address, the note address, never a participant. */
bool pd_support_plus(const char *support_address, const char *addr);

/* ---------------------------------------------- Authentication-Results */

struct pd_authres_result {
	char *method;      /* lower case, without "/version": "dkim", "spf", "dmarc" */
	char *result;      /* lower case: "pass", "fail", "none", ... */
	char *header_d;    /* header.d (dkim), NULL when absent */
	char *header_from; /* header.from (dmarc), NULL when absent */
};

struct pd_authres {
	char *authserv_id; /* as written (compare without case) */
	bool none;         /* "; none": no method was applied */
	size_t n;
	struct pd_authres_result *v;
};

/*
 * Parse the value of one Authentication-Results field (RFC 8601): comments
 * in parentheses (nested, with \-escapes) and quoted strings are understood,
 * unknown properties and a version number skipped.  Returns 0, or -1 on a
 * syntax error (out is then empty; nothing in it may be trusted).  Free with
 * pd_authres_free.
 */
int pd_authres_parse(const char *value, struct pd_authres *out);
void pd_authres_free(struct pd_authres *ar);

/* ---------------------------------------------------------- decision */

enum pd_agent_verdict {
	PD_AGENT_NONE = 0,   /* not an agent's mail, not to a reply address (or from the
			      * ticket's own customer, who may Reply-All to an agent's
			      * direct mail that had it in Cc): ordinary mail */
	PD_AGENT_VERIFIED,   /* the agent's: relay, apply commands, first response */
	PD_AGENT_UNVERIFIED, /* an agent's From without proof: hold as a note */
	PD_AGENT_UNKNOWN,    /* to a reply address from someone not in agents.addresses: hold */
};

enum pd_agent_why {
	PD_AGENT_WHY_NONE = 0,
	PD_AGENT_WHY_TOKEN,          /* verified: sent to the ticket's reply address */
	PD_AGENT_WHY_DMARC,          /* verified: trusted dmarc=pass */
	PD_AGENT_WHY_DKIM,           /* verified: trusted, aligned dkim=pass */
	PD_AGENT_WHY_NO_PROOF,       /* not to the reply address, no Authentication-Results */
	PD_AGENT_WHY_OTHER_TICKET,   /* to the reply address of another ticket */
	PD_AGENT_WHY_UNTRUSTED,      /* Authentication-Results from an untrusted authserv-id */
	PD_AGENT_WHY_AUTH_FAILED,    /* trusted, but neither dmarc=pass nor aligned dkim=pass */
	PD_AGENT_WHY_AUTH_MALFORMED, /* the topmost Authentication-Results does not parse */
	PD_AGENT_WHY_NOT_AGENT,      /* the sender is not in agents.addresses */
};

struct pd_agent_facts {
	bool from_agent;              /* From is in agents.addresses */
	bool from_participant;        /* From is the ticket's requester or a Cc'd participant */
	const char *from_address;     /* From's addr-spec */
	int64_t ticket;               /* the ticket the mail threads to */
	const int64_t *token_tickets; /* tickets of the valid reply addresses it was sent to */
	size_t n_tokens;
	const char *authres;          /* topmost Authentication-Results value, NULL = none */
	const char *const *trusted;   /* agents.trusted_authserv_ids */
	size_t n_trusted;
};

struct pd_agent_decision {
	enum pd_agent_verdict verdict;
	enum pd_agent_why why;
};

void pd_agent_decide(const struct pd_agent_facts *f, struct pd_agent_decision *d);

/* "verified", "unverified", "unknown", "none". */
const char *pd_agent_verdict_name(enum pd_agent_verdict v);
/* Why, in one English sentence fragment (for events, logs, error mails):
 * "it was not sent to the ticket's reply address ...". */
const char *pd_agent_why_text(enum pd_agent_why why);

#endif
