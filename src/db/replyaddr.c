/*
 * replyaddr.c - reply addresses against the database.  See replyaddr.h.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "agentid.h"
#include "db_int.h"
#include "replyaddr.h"
#include "util.h"

/* The first PD_TOKEN_HEX_LEN hex digits of HMAC-SHA256(secret, "ticket:N"). */
static int token_hex(int64_t number, const unsigned char *secret, size_t len,
		     char hex[PD_TOKEN_HEX_LEN + 1])
{
	unsigned char mac[32];
	char text[40], all[65];
	int n = snprintf(text, sizeof(text), "ticket:%" PRId64, number);

	if (len == 0 || number <= 0 ||
	    gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, len, text, (size_t)n, mac) != 0)
		return -1;
	pd_hex(mac, sizeof(mac), all);
	memcpy(hex, all, PD_TOKEN_HEX_LEN);
	hex[PD_TOKEN_HEX_LEN] = '\0';
	return 0;
}

int pd_token_address(const char *support_address, int64_t number, const unsigned char *secret,
		     size_t len, char *out, size_t outlen)
{
	char hex[PD_TOKEN_HEX_LEN + 1];

	if (outlen > 0)
		out[0] = '\0';
	if (token_hex(number, secret, len, hex) < 0)
		return -1;
	return pd_token_format(support_address, number, hex, out, outlen);
}

int64_t pd_token_ticket(const char *support_address, const char *addr,
			const unsigned char *secret, size_t len)
{
	int64_t n;
	char got[PD_TOKEN_HEX_LEN + 1], want[PD_TOKEN_HEX_LEN + 1];

	if (!pd_token_parse(support_address, addr, &n, got) || token_hex(n, secret, len, want) < 0)
		return 0;
	return pd_token_hex_equal(got, want) ? n : 0;
}

/*
 * The secret never changes once made (replacing it means every reply address
 * handed out so far stops counting: restart the daemons then), so a process
 * reads it once; every notice would otherwise wait for one more round trip.
 */
static unsigned char cached[PD_TOKEN_SECRET_MAX];
static int cached_len;

/* The secret (binary) into buf; its length, or -1 (err). */
static int secret_get(struct pd_db *db, unsigned char *buf, size_t cap, struct pd_err *err)
{
	if (cached_len > 0 && (size_t)cached_len <= cap) {
		memcpy(buf, cached, (size_t)cached_len);
		return cached_len;
	}
	PGresult *res = pd_db_query(db, "pd_reply_secret",
				    "SELECT encode(secret, 'hex') FROM postdesk_secret"
				    " WHERE name = 'reply-token'",
				    0, NULL, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return pd_err_set(err, PD_ERR_FATAL, PD_SRC_DB, 0,
				  "table postdesk_secret has no reply-token row: run `postdesk migrate`"
				  " (or insert 32 random bytes under that name)");
	}
	const char *hex = PQgetvalue(res, 0, 0);
	size_t n = strlen(hex) / 2;
	if (n == 0 || n > cap) {
		PQclear(res);
		return pd_err_set(err, PD_ERR_FATAL, PD_SRC_DB, 0,
				  "postdesk_secret's reply-token is %zu bytes, want 1-%zu", n, cap);
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(pd_hexval(hex[2 * i]) << 4 | pd_hexval(hex[2 * i + 1]));
	PQclear(res);
	if (n <= sizeof(cached)) {
		memcpy(cached, buf, n);
		cached_len = (int)n;
	}
	return (int)n;
}

int pd_reply_address(struct pd_db *db, const struct pd_config *cfg, int64_t ticket, char *out,
		     struct pd_err *err)
{
	unsigned char secret[PD_TOKEN_SECRET_MAX];
	int n = secret_get(db, secret, sizeof(secret), err);
	int r;

	out[0] = '\0';
	if (n < 0)
		return -1;
	r = pd_token_address(cfg->support_address, ticket, secret, (size_t)n, out,
			     PD_REPLY_ADDRESS_MAX);
	explicit_bzero(secret, sizeof(secret));
	if (r < 0)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_COMPOSE, 0,
				  "no reply address for ticket #%lld from support_address \"%s\"",
				  (long long)ticket, cfg->support_address);
	return 0;
}

int pd_reply_tickets(struct pd_db *db, const struct pd_config *cfg, const struct pd_msg *msg,
		     int64_t *out, size_t max, struct pd_err *err)
{
	const struct pd_addrlist *lists[3] = {&msg->to, &msg->cc, &msg->delivered_to};
	unsigned char secret[PD_TOKEN_SECRET_MAX];
	int len = 0;
	size_t n = 0;

	for (size_t l = 0; l < 3; l++)
		for (size_t i = 0; i < lists[l]->n && n < max; i++) {
			const char *a = lists[l]->v[i].address;
			if (!pd_token_shaped(cfg->support_address, a))
				continue;
			if (len == 0 && (len = secret_get(db, secret, sizeof(secret), err)) < 0)
				return -1;
			int64_t t = pd_token_ticket(cfg->support_address, a, secret, (size_t)len);
			bool seen = t == 0;
			for (size_t k = 0; k < n && !seen; k++)
				seen = out[k] == t;
			if (!seen)
				out[n++] = t;
		}
	if (len > 0)
		explicit_bzero(secret, sizeof(secret));
	return (int)n;
}
