/*
 * oauth2.h - OAuth 2.0 access tokens for IMAP and SMTP logins (Microsoft 365,
 * Gmail): the SASL strings XOAUTH2 and OAUTHBEARER, the token endpoint's
 * JSON answers, when to refresh, and a per-login token cache that asks a
 * token endpoint (over libcurl) or runs a token_command.
 *
 * The pure part (strings, parsing, decisions) takes its inputs, clock
 * included, as parameters and is tested as tables in tests/unit/test_oauth2.c.
 *
 * Secrets: access tokens, refresh tokens and client secrets never reach a log
 * line, an error text or the CLI's output.  Buffers that held one are wiped
 * before they are freed.
 */
#ifndef PD_OAUTH2_H
#define PD_OAUTH2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

/* ------------------------------------------------------------ pure part */

/*
 * base64("user=" USER "\x01auth=Bearer " TOKEN "\x01\x01"): the initial
 * response of SASL XOAUTH2 as Microsoft and Google document it.  Returns an
 * owned string (free with pd_oauth2_secret_free).
 */
char *pd_oauth2_sasl_xoauth2(const char *user, const char *token);

/*
 * base64 of the RFC 7628 OAUTHBEARER initial response:
 * "n,a=USER,\x01host=HOST\x01port=PORT\x01auth=Bearer TOKEN\x01\x01", with ','
 * and '=' in USER written as "=2C" and "=3D" (RFC 5801 saslname).  Owned.
 */
char *pd_oauth2_sasl_oauthbearer(const char *user, const char *host, unsigned port,
				 const char *token);

/* Wipe and free a string that held a secret; NULL is a no-op. */
void pd_oauth2_secret_free(char *s);

/* What a token or device-authorization endpoint answered (RFC 6749 5.1/5.2,
 * RFC 8628 3.2/3.5).  Every string is owned; free with pd_oauth2_answer_free. */
struct pd_oauth2_answer {
	char *access_token;
	char *token_type;    /* "Bearer" */
	char *refresh_token; /* NULL when the server did not send one (no rotation) */
	int64_t expires_in;  /* seconds; 0 = not given */
	char *error;         /* "invalid_grant", "authorization_pending"...; NULL = none */
	char *error_description;
	/* device authorization (RFC 8628 3.2) */
	char *device_code;
	char *user_code;
	char *verification_uri; /* verification_uri, or Google's verification_url */
	int64_t interval;       /* seconds between polls; 0 = not given */
};

/*
 * Parse a JSON object of len bytes.  Returns 0, or -1 with a reason (no
 * secret in it) in why when it is not a JSON object or a field has the wrong
 * type.  Unknown fields are ignored; expires_in and interval may be numbers
 * or numeric strings (some servers quote them).
 */
int pd_oauth2_parse_answer(const char *json, size_t len, struct pd_oauth2_answer *a, char *why,
			   size_t why_len);
void pd_oauth2_answer_free(struct pd_oauth2_answer *a);

/*
 * Is a token obtained at obtained_at and expiring at expires_at (seconds on
 * one clock) due for renewal at now?  True when there is none (expires_at 0)
 * or when now is within the margin before expiry: a fifth of the token's
 * life, at most 300 seconds and at least 1.
 */
bool pd_oauth2_refresh_due(int64_t obtained_at, int64_t expires_at, int64_t now);

/*
 * The device authorization endpoint (RFC 8628) that belongs to token_url when
 * it is recognisable: Microsoft's ".../oauth2/v2.0/token" -> ".../oauth2/v2.0/
 * devicecode"; Google's token endpoints -> https://oauth2.googleapis.com/
 * device/code.  Returns an owned string, or NULL when not recognisable.
 */
char *pd_oauth2_device_url_for(const char *token_url);

/* What a device-flow poll answer means (RFC 8628 3.5). */
enum pd_oauth2_poll {
	PD_OAUTH2_POLL_DONE,    /* access (and refresh) token granted */
	PD_OAUTH2_POLL_WAIT,    /* authorization_pending: ask again after interval */
	PD_OAUTH2_POLL_SLOWER,  /* slow_down: interval += 5 s, then ask again */
	PD_OAUTH2_POLL_DENIED,  /* access_denied */
	PD_OAUTH2_POLL_EXPIRED, /* expired_token: start again */
	PD_OAUTH2_POLL_FAILED,  /* any other error */
};
enum pd_oauth2_poll pd_oauth2_poll_decide(const struct pd_oauth2_answer *a);

/* -------------------------------------------------------- token cache */

/*
 * An access token for the login named key ("mailbox support", "smtp"),
 * configured by cfg (borrowed for the call only; a cache entry whose
 * configuration changed is started afresh).  The cache lives in this module
 * for the process's lifetime, so sessions that are torn down and made again
 * keep the token.
 *
 * A token is fetched when there is none, when pd_oauth2_refresh_due() says
 * so, or when force is set (after a refused AUTHENTICATE).  A refresh token
 * the server rotates is written back to refresh_token_file (atomically, mode
 * 0600) before the new access token is handed out.
 *
 * Returns 0 and *token_r (borrowed, valid until the next call for key), or
 * -1: TEMP (endpoint unreachable, 5xx, command timed out) or PERM
 * (invalid_grant, invalid_client, the command failed: the text names key
 * and says what the operator must do).
 */
int pd_oauth2_token(const char *key, const struct pd_oauth2_cfg *cfg, bool force,
		    const char **token_r, struct pd_err *err);

/* Forget key's access token (the server refused it). */
void pd_oauth2_invalidate(const char *key);

/* For /metrics: seconds until key's token expires (negative: expired; 0
 * when none is held) and how many refreshes failed.  False when key has
 * no cache entry. */
bool pd_oauth2_status(const char *key, int64_t *expires_in_r, uint64_t *failures_r);

/* Free the whole cache (at exit, so leak checkers report zero). */
void pd_oauth2_cache_free(void);

/* ------------------------------------------------------- consent (CLI) */

/*
 * The device-code flow of RFC 8628 for cfg (grant refresh_token): ask the
 * device authorization endpoint, call show(verification_uri, user_code, arg)
 * so the operator can sign in, poll the token endpoint honouring interval and
 * slow_down, and write the refresh token to cfg->refresh_token_file (atomic,
 * 0600).  Returns 0, or -1 with err (TEMP: network; PERM: refused, expired).
 */
int pd_oauth2_device_consent(const char *key, const struct pd_oauth2_cfg *cfg,
			     void (*show)(const char *uri, const char *user_code, void *arg),
			     void *arg, struct pd_err *err);

/* Write data to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory; mode 0600.  Returns 0 or -1 with
 * err (PERM) naming the path and the system error. */
int pd_oauth2_write_secret_file(const char *path, const char *data, struct pd_err *err);

#endif
