/*
 * replyaddr.h - the tickets' reply addresses against the database: the
 * secret from table postdesk_secret, the address of a ticket for a notice's
 * Reply-To, and the tickets whose reply address a mail was sent to; the
 * addresses' HMAC (GnuTLS).  Their shape is agentid.h's.
 */
#ifndef PD_REPLYADDR_H
#define PD_REPLYADDR_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "msg.h"

/* Room for any reply address. */
#define PD_REPLY_ADDRESS_MAX 512

/*
 * The reply address of ticket into out (PD_REPLY_ADDRESS_MAX bytes).
 * Returns 0, or -1 with err set: FATAL when the secret is missing (the
 * database needs `postdesk migrate`), PERM when support_address cannot carry
 * one, the database's own class otherwise.
 */
int pd_reply_address(struct pd_db *db, const struct pd_config *cfg, int64_t ticket, char *out,
		     struct pd_err *err);

/*
 * The tickets whose valid reply address msg was sent to: To, Cc, then
 * Delivered-To / X-Original-To (the envelope recipient, where a server
 * delivering support+X@ to the support mailbox keeps the +X).  Up to max of
 * them, each once, into out; returns how many, or -1 (err).  The database is
 * asked for the secret only when an address has the shape of one.
 */
int pd_reply_tickets(struct pd_db *db, const struct pd_config *cfg, const struct pd_msg *msg,
		     int64_t *out, size_t max, struct pd_err *err);

/*
 * The reply address of ticket `number` for support_address into out
 * (outlen bytes): "LOCAL+tNUMBER-HEX@DOMAIN", HEX the first 16 hex digits of
 * HMAC-SHA256(secret, "ticket:NUMBER").  Returns 0, or -1 when
 * support_address has no '@', number <= 0, the secret is empty or out is
 * too small (out is "" then).
 */
int pd_token_address(const char *support_address, int64_t number, const unsigned char *secret,
		     size_t len, char *out, size_t outlen);

/*
 * The ticket whose valid reply address addr is (local part and domain of
 * support_address compared without case, the HMAC checked), or 0 when addr
 * is not one.
 */
int64_t pd_token_ticket(const char *support_address, const char *addr,
			const unsigned char *secret, size_t len);

#endif
