/*
 * imap.c - one IMAP session to one mailbox folder, over libetpan's mailimap.
 *
 * Owns: connecting (plain, STARTTLS, implicit TLS), checking the server's
 * certificate with tls.c BEFORE any credential is sent (libetpan/GnuTLS does
 * not verify), capabilities, authentication (AUTHENTICATE PLAIN through
 * libetpan's Cyrus SASL support, or LOGIN; XOAUTH2 and OAUTHBEARER with an
 * OAuth 2.0 token from oauth2.c, sent by hand with SASL-IR), SELECT, the search for UIDs still
 * to process, batched UID FETCH, marking (UID MOVE, COPY + STORE + EXPUNGE, or
 * \Seen), and IDLE.  Every libetpan return code is mapped here into a pd_err
 * naming the mailbox, server, user and command; nothing libetpan leaks out.
 *
 * libetpan facts this file relies on (1.9.4, Debian 12):
 *  - mailimap_set_timeout() must come before connecting: the value is copied
 *    into the stream then and bounds every later read and write.
 *  - imap->imap_response holds the text of the last tagged reply; we reset it
 *    before each command so an error never shows a stale text.
 *  - mailimap_free() sends LOGOUT when a stream is open, which would block on
 *    a dead connection; pd_imap_free() therefore closes the stream first.
 *  - result lists (UID FETCH, UID SEARCH) are handed out even when the
 *    server answers NO, and must then be freed too.
 *  - a plain-socket peer that closes inside a literal makes libetpan spin
 *    (see guard_plain_eof()).
 *  - mailimap_idle() mishandles untagged responses that arrive before the
 *    "+" continuation (it waits for a tagged reply and times out), so IDLE is
 *    started by hand; bytes that arrive together with "+ idling" stay in the
 *    stream's read buffer where poll() cannot see them: pd_imap_idle_ready().
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <libetpan/libetpan.h>

#include "imap.h"
#include "ioutil.h"
#include "log.h"
#include "oauth2.h"
#include "tls.h"
#include "util.h"

struct pd_imap {
	const struct pd_mailbox_cfg *cfg;
	mailimap *imap;
	char *host;	    /* cfg->host without [] around an IPv6 literal */
	char hostport[300]; /* for messages: "host:port" */
	time_t timeout;	    /* seconds */
	int64_t cmd_start;  /* pd_now_ms() when the current command began */
	bool broken;	    /* an error happened: only free is allowed */
	bool authenticated;
	bool selected;
	uint32_t uidnext; /* UIDNEXT when the folder was selected (0 = unknown) */
	bool cap_idle, cap_move, cap_uidplus, cap_starttls, cap_auth_plain, cap_logindisabled;
	bool cap_auth_xoauth2, cap_auth_oauthbearer, cap_sasl_ir;
	bool folder_checked; /* processed_folder exists (checked once per session) */
	bool idling;
	bool idle_ready; /* IDLE saw data poll() cannot report */
	bool warned_no_uidplus;
	bool warned_plain; /* the clear-text warning is given once per session object */
};

/* ------------------------------------------------------------------ helpers */

void pd_uidlist_free(struct pd_uidlist *l)
{
	if (l == NULL)
		return;
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void pd_imap_mails_free(struct pd_imap_mail *mails, size_t n)
{
	if (mails == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(mails[i].data);
	free(mails);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_mail(const void *a, const void *b)
{
	const struct pd_imap_mail *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Sort and drop duplicates in place; returns the new length. */
static size_t sort_unique(uint32_t *v, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || v[out - 1] != v[i])
			v[out++] = v[i];
	return out;
}

/* True when host is localhost, 127.0.0.0/8 or ::1. */
static bool host_is_loopback(const char *host)
{
	unsigned char a[16];

	if (pd_str_iequal(host, "localhost") || pd_str_iequal(host, "localhost."))
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char one[16] = {[15] = 1};
		return memcmp(a, one, 16) == 0;
	}
	return false;
}

static bool host_is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/*
 * A compact UID set from sorted, unique uids: runs become ranges
 * ("1:100,205,300:302").  text_r (may be NULL) receives the same set as text
 * for debug logs.
 */
static struct mailimap_set *make_set(const uint32_t *uids, size_t n, struct pd_buf *text_r)
{
	struct mailimap_set *set = mailimap_set_new_empty();

	if (set == NULL)
		abort();
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (mailimap_set_add_interval(set, uids[i], uids[j]) != MAILIMAP_NO_ERROR)
			abort();
		if (text_r != NULL) {
			if (text_r->len > 0)
				pd_buf_append_char(text_r, ',');
			if (i == j)
				pd_buf_printf(text_r, "%u", uids[i]);
			else
				pd_buf_printf(text_r, "%u:%u", uids[i], uids[j]);
		}
		i = j + 1;
	}
	return set;
}

/* Sorted unique copy of uids[0..n). */
static uint32_t *sorted_copy(const uint32_t *uids, size_t n, size_t *n_r)
{
	uint32_t *v = pd_xreallocarray(NULL, n ? n : 1, sizeof(*v));

	if (n > 0)
		memcpy(v, uids, n * sizeof(*v));
	*n_r = sort_unique(v, n);
	return v;
}

/* A search key without arguments (UNSEEN, ALL): libetpan has no helper. */
static struct mailimap_search_key *search_key_simple(int type)
{
	return mailimap_search_key_new(type, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
				       NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL,
				       NULL, NULL, 0, NULL, NULL, NULL);
}

/* ------------------------------------------------------------ error mapping */

static const char *folder_of(const struct pd_imap *im)
{
	return im->cfg->folder ? im->cfg->folder : "INBOX";
}

/* The server's text of the last reply, or "" */
static const char *server_text(const struct pd_imap *im)
{
	if (im->imap == NULL || im->imap->imap_response == NULL)
		return "";
	return im->imap->imap_response;
}

/* The response code atom of the last reply ("ALREADYEXISTS"...), or "". */
static const char *server_code(const struct pd_imap *im)
{
	if (im->imap == NULL || im->imap->imap_response_info == NULL ||
	    im->imap->imap_response_info->rsp_atom == NULL)
		return "";
	return im->imap->imap_response_info->rsp_atom;
}

static void cmd_begin(struct pd_imap *im, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Log the command at debug level (never with credentials: callers pass only
 * the command name and UID sets) and start its clock. */
static void cmd_begin(struct pd_imap *im, const char *fmt, ...)
{
	im->cmd_start = pd_now_ms();
	if (im->imap != NULL)
		im->imap->imap_response = NULL;
	if (pd_log_enabled(PD_LOG_DEBUG)) {
		char line[1024];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		pd_log_debug("imap: > %s mailbox=%s server=%s", line, im->cfg->name, im->hostport);
	}
}

static void cmd_ok(struct pd_imap *im, const char *cmd)
{
	if (pd_log_enabled(PD_LOG_DEBUG))
		pd_log_debug("imap: < %s OK %s (%lld ms) mailbox=%s", cmd, server_text(im),
			     (long long)(pd_now_ms() - im->cmd_start), im->cfg->name);
}

/* Why a libetpan call failed, in words an operator can act on. */
static void describe(const struct pd_imap *im, int r, char *out, size_t outlen)
{
	const char *txt = server_text(im);
	int64_t elapsed = pd_now_ms() - im->cmd_start;

	switch (r) {
	case MAILIMAP_ERROR_STREAM:
		if (elapsed >= (int64_t)im->timeout * 1000 - 500)
			snprintf(out, outlen, "no answer within %llds (timeout)",
				 (long long)im->timeout);
		else
			snprintf(out, outlen, "connection closed or broken");
		break;
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
		snprintf(out, outlen,
			 "cannot connect (refused, unreachable, unknown host or "
			 "no answer within %llds)",
			 (long long)im->timeout);
		break;
	case MAILIMAP_ERROR_PARSE:
		snprintf(out, outlen, "cannot parse the server's response");
		break;
	case MAILIMAP_ERROR_FATAL:
		snprintf(out, outlen, "server ended the session: BYE %s", txt);
		break;
	case MAILIMAP_ERROR_PROTOCOL:
		snprintf(out, outlen, "protocol error (BAD or unexpected reply)%s%s",
			 *txt ? ": " : "", txt);
		break;
	case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
		snprintf(out, outlen, "server refused the session: %s", txt);
		break;
	case MAILIMAP_ERROR_SSL:
		snprintf(out, outlen, "TLS handshake failed (is the port really %s?)",
			 im->cfg->tls == PD_TLS_IMPLICIT ? "implicit TLS, e.g. 993"
							 : "plain IMAP, e.g. 143");
		break;
	case MAILIMAP_ERROR_MEMORY:
		snprintf(out, outlen, "libetpan ran out of memory");
		break;
	case MAILIMAP_ERROR_BAD_STATE:
		snprintf(out, outlen, "command not allowed in the session's state (bug)");
		break;
	case MAILIMAP_ERROR_SASL:
		snprintf(out, outlen, "SASL error");
		break;
	case MAILIMAP_ERROR_STARTTLS:
		snprintf(out, outlen, "STARTTLS refused%s%s", *txt ? ": " : "", txt);
		break;
	default:
		/* the command-specific codes: the server answered NO */
		snprintf(out, outlen, "server said NO%s%s%s%s%s", *server_code(im) ? " [" : "",
			 server_code(im), *server_code(im) ? "]" : "", *txt ? ": " : "", txt);
		break;
	}
}

/*
 * Record a failed command: the session becomes unusable.  Login refusals are
 * PERM (retrying soon will not help and may lock the account); everything
 * else, network or NO, is TEMP.
 */
static int fail(struct pd_imap *im, int r, const char *cmd, struct pd_err *err)
{
	char why[400];

	im->broken = true;
	describe(im, r, why, sizeof(why));
	pd_log_debug("imap: < %s failed (libetpan %d): %s mailbox=%s", cmd, r, why, im->cfg->name);
	return pd_err_set(err, r == MAILIMAP_ERROR_LOGIN ? PD_ERR_PERM : PD_ERR_TEMP, PD_SRC_IMAP, r,
			  "%s failed on %s (mailbox %s, user %s, folder %s): %s", cmd, im->hostport,
			  im->cfg->name, im->cfg->user ? im->cfg->user : "", folder_of(im), why);
}

/* A refusal of ours (policy, not a libetpan error); the session becomes
 * unusable.  The text is prefixed with the mailbox and server. */
static int refuse(struct pd_imap *im, enum pd_err_class cls, struct pd_err *err, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));

static int refuse(struct pd_imap *im, enum pd_err_class cls, struct pd_err *err, const char *fmt,
		  ...)
{
	char text[400];
	va_list ap;

	im->broken = true;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return pd_err_set(err, cls, PD_SRC_IMAP, 0, "mailbox %s on %s: %s", im->cfg->name, im->hostport,
			  text);
}

/* Commands need a live, error-free session. */
static int usable(struct pd_imap *im, bool need_selected, struct pd_err *err)
{
	if (im->broken)
		return pd_err_set(err, PD_ERR_TEMP, PD_SRC_IMAP, 0,
				  "mailbox %s on %s: session unusable after an earlier error "
				  "(reconnect)",
				  im->cfg->name, im->hostport);
	if (im->imap == NULL || im->imap->imap_stream == NULL || !im->authenticated)
		return pd_err_set(err, PD_ERR_TEMP, PD_SRC_IMAP, 0,
				  "mailbox %s on %s: not connected (connect first)", im->cfg->name,
				  im->hostport);
	if (im->idling)
		return pd_err_set(err, PD_ERR_TEMP, PD_SRC_IMAP, 0,
				  "mailbox %s on %s: still in IDLE (call pd_imap_idle_done first)",
				  im->cfg->name, im->hostport);
	if (need_selected && !im->selected)
		return pd_err_set(
			err, PD_ERR_TEMP, PD_SRC_IMAP, 0,
			"mailbox %s on %s: no folder selected (call pd_imap_select first)",
			im->cfg->name, im->hostport);
	return 0;
}

/* ------------------------------------------------------------ capabilities */

/* Read the capability list libetpan stored into our booleans. */
static void caps_parse(struct pd_imap *im)
{
	struct mailimap_capability_data *cd =
		im->imap->imap_connection_info ? im->imap->imap_connection_info->imap_capability
					       : NULL;

	im->cap_idle = im->cap_move = im->cap_uidplus = false;
	im->cap_starttls = im->cap_auth_plain = im->cap_logindisabled = false;
	im->cap_auth_xoauth2 = im->cap_auth_oauthbearer = im->cap_sasl_ir = false;
	if (cd == NULL || cd->cap_list == NULL)
		return;
	for (clistiter *it = clist_begin(cd->cap_list); it != NULL; it = clist_next(it)) {
		struct mailimap_capability *c = clist_content(it);

		if (c->cap_type == MAILIMAP_CAPABILITY_AUTH_TYPE) {
			const char *a = c->cap_data.cap_auth_type;
			if (a != NULL && pd_str_iequal(a, "PLAIN"))
				im->cap_auth_plain = true;
			else if (a != NULL && pd_str_iequal(a, "XOAUTH2"))
				im->cap_auth_xoauth2 = true;
			else if (a != NULL && pd_str_iequal(a, "OAUTHBEARER"))
				im->cap_auth_oauthbearer = true;
		} else if (c->cap_data.cap_name != NULL) {
			const char *n = c->cap_data.cap_name;

			if (pd_str_iequal(n, "IDLE"))
				im->cap_idle = true;
			else if (pd_str_iequal(n, "MOVE"))
				im->cap_move = true;
			else if (pd_str_iequal(n, "UIDPLUS"))
				im->cap_uidplus = true;
			else if (pd_str_iequal(n, "STARTTLS"))
				im->cap_starttls = true;
			else if (pd_str_iequal(n, "LOGINDISABLED"))
				im->cap_logindisabled = true;
			else if (pd_str_iequal(n, "SASL-IR"))
				im->cap_sasl_ir = true;
		}
	}
}

static bool have_caps(const struct pd_imap *im)
{
	return im->imap->imap_connection_info != NULL &&
	       im->imap->imap_connection_info->imap_capability != NULL;
}

/* Drop libetpan's stored list (our booleans stay until the next
 * caps_parse): after STARTTLS and around login the list must be re-read. */
static void caps_drop(struct pd_imap *im)
{
	if (im->imap->imap_connection_info != NULL &&
	    im->imap->imap_connection_info->imap_capability != NULL) {
		mailimap_capability_data_free(im->imap->imap_connection_info->imap_capability);
		im->imap->imap_connection_info->imap_capability = NULL;
	}
}

/* Ask CAPABILITY unless the server already told us (greeting or the tagged
 * OK of LOGIN/AUTHENTICATE carry [CAPABILITY ...] on Dovecot). */
static int caps_ensure(struct pd_imap *im, struct pd_err *err)
{
	struct mailimap_capability_data *dup = NULL;
	int r;

	if (!have_caps(im)) {
		cmd_begin(im, "CAPABILITY");
		r = mailimap_capability(im->imap, &dup);
		if (r != MAILIMAP_NO_ERROR)
			return fail(im, r, "CAPABILITY", err);
		cmd_ok(im, "CAPABILITY");
		mailimap_capability_data_free(dup); /* libetpan keeps its own copy */
	}
	caps_parse(im);
	return 0;
}

/* ------------------------------------------------------- EOF workaround */

/*
 * libetpan 1.9.4 (and its master as of 2025) reads a literal with
 *     read_bytes = mailstream_read(...); if (read_bytes == -1) error;
 *     needed -= read_bytes;
 * and the plain-socket driver returns 0 at end of file, so a server that
 * closes the connection in the middle of a FETCH literal makes it spin at
 * 100% CPU forever (the timeout never fires: the socket is readable).  The
 * TLS driver already turns 0 into -1.  We give plain sockets a copy of
 * their driver whose read does the same.
 */
static ssize_t (*plain_read_orig)(mailstream_low *, void *, size_t);
static mailstream_low_driver plain_eof_driver;

static ssize_t plain_read_eof_is_error(mailstream_low *s, void *buf, size_t count)
{
	ssize_t r = plain_read_orig(s, buf, count);

	return r == 0 && count > 0 ? -1 : r;
}

static void guard_plain_eof(struct pd_imap *im)
{
	mailstream_low *low = mailstream_get_low(im->imap->imap_stream);

	if (low == NULL || low->driver == &plain_eof_driver)
		return;
	if (plain_read_orig == NULL) {
		plain_eof_driver = *low->driver;
		plain_read_orig = low->driver->mailstream_read;
		plain_eof_driver.mailstream_read = plain_read_eof_is_error;
	} else if (low->driver->mailstream_read != plain_read_orig) {
		return; /* not the driver we wrapped before: leave it alone */
	}
	low->driver = &plain_eof_driver;
}

/* -------------------------------------------------------------------- TLS */

/* Called by libetpan before the handshake: set SNI (never for IP literals,
 * which RFC 6066 forbids in server_name). */
static void tls_setup(struct mailstream_ssl_context *ctx, void *data)
{
	struct pd_imap *im = data;

	if (!host_is_ip_literal(im->host))
		mailstream_ssl_set_server_name(ctx, im->host);
}

/* Check the chain the server presented; refuse (PERM) unless trusted. */
static int verify_peer(struct pd_imap *im, struct pd_err *err)
{
	carray *chain = mailstream_get_certificate_chain(im->imap->imap_stream);
	struct pd_tls_cert *certs;
	unsigned int n;
	int r;

	if (chain == NULL)
		return refuse(im, PD_ERR_PERM, err, "TLS: the server presented no certificate");
	n = carray_count(chain);
	certs = pd_xcalloc(n ? n : 1, sizeof(*certs));
	for (unsigned int i = 0; i < n; i++) {
		MMAPString *s = carray_get(chain, i);
		certs[i].der = (const unsigned char *)s->str;
		certs[i].len = s->len;
	}
	r = pd_tls_verify_chain(certs, n, im->host, im->cfg->ca_file, err);
	free(certs);
	mailstream_certificate_chain_free(chain);
	if (r < 0) {
		im->broken = true;
		pd_err_prefix(err, "mailbox %s on %s: TLS refused, nothing sent", im->cfg->name,
			      im->hostport);
		return -1;
	}
	pd_log_debug("imap: certificate of %s verified (%u in chain, %s) mailbox=%s", im->hostport,
		     n, im->cfg->ca_file ? im->cfg->ca_file : "system CA store", im->cfg->name);
	return 0;
}

/* --------------------------------------------------------------- login */

static int login_refused(struct pd_imap *im, const char *how, struct pd_err *err)
{
	const char *txt = server_text(im);

	im->broken = true;
	return pd_err_set(err, PD_ERR_PERM, PD_SRC_IMAP, MAILIMAP_ERROR_LOGIN,
			  "login as %s refused by %s: %s%s%s%s (%s; mailbox %s)", im->cfg->user,
			  im->hostport, *server_code(im) ? "[" : "", server_code(im),
			  *server_code(im) ? "] " : "", *txt ? txt : "no reason given", how,
			  im->cfg->name);
}

static int login_plain(struct pd_imap *im, bool fallback_ok, bool *fell_back_r, struct pd_err *err)
{
	int tag_before = im->imap->imap_tag;
	int r;

	*fell_back_r = false;
	cmd_begin(im, "AUTHENTICATE PLAIN (user %s)", im->cfg->user);
	/* libetpan runs PLAIN through Cyrus SASL (libsasl2 and its PLAIN
	 * plugin); authzid and authcid are both the user, so the wire carries
	 * base64("user\0user\0password") after the "+" continuation.  libetpan
	 * does not use SASL-IR: one round trip more than necessary. */
	r = mailimap_authenticate(im->imap, "PLAIN", im->host, NULL, NULL, im->cfg->user,
				  im->cfg->user, im->cfg->password, NULL);
	if (r == MAILIMAP_NO_ERROR) {
		cmd_ok(im, "AUTHENTICATE");
		return 0;
	}
	if (r == MAILIMAP_ERROR_LOGIN && im->imap->imap_tag == tag_before) {
		/* Nothing was sent: the local SASL library could not start PLAIN
		 * (no plugin: the package libsasl2-modules is missing). */
		if (fallback_ok) {
			pd_log_warning(
				"imap: AUTHENTICATE PLAIN unavailable locally (Cyrus SASL has "
				"no PLAIN plugin: install libsasl2-modules); using LOGIN "
				"mailbox=%s",
				im->cfg->name);
			*fell_back_r = true;
			return 0;
		}
		return refuse(im, PD_ERR_PERM, err,
			      "AUTHENTICATE PLAIN unavailable locally: Cyrus SASL has no PLAIN "
			      "plugin (install libsasl2-modules, or set auth = login)");
	}
	if (r == MAILIMAP_ERROR_LOGIN)
		return login_refused(im, "AUTHENTICATE PLAIN", err);
	return fail(im, r, "AUTHENTICATE PLAIN", err);
}

static int login_login(struct pd_imap *im, struct pd_err *err)
{
	int r;

	if (im->cap_logindisabled) {
		const char *hint = "";

		if (im->cap_auth_plain)
			hint = "; set auth = plain";
		else if (im->cfg->tls == PD_TLS_NONE)
			hint = "; use tls = starttls or implicit";
		return refuse(im, PD_ERR_PERM, err, "server disables LOGIN (LOGINDISABLED)%s",
			      hint);
	}
	cmd_begin(im, "LOGIN %s ***", im->cfg->user);
	r = mailimap_login(im->imap, im->cfg->user, im->cfg->password);
	if (r == MAILIMAP_NO_ERROR) {
		cmd_ok(im, "LOGIN");
		return 0;
	}
	if (r == MAILIMAP_ERROR_LOGIN)
		return login_refused(im, "LOGIN", err);
	return fail(im, r, "LOGIN", err);
}

static char *skip_literals(struct pd_imap *im, char *line);

/*
 * One AUTHENTICATE MECH exchange with the initial response ir, written by
 * hand: libetpan's mailimap_authenticate() goes through Cyrus SASL, which
 * has no XOAUTH2 plugin on Debian, and cannot answer the error challenge.
 * With SASL-IR (RFC 4959) ir travels on the command line, else after the
 * first "+".  A second "+" is the server's error challenge (base64 JSON
 * with the reason, Google's and Microsoft's documented behaviour, RFC 7628
 * 3.2.3): it is answered with an empty line and the tagged NO follows.
 * Returns 0 (authenticated), 1 (refused: NO, the session is still usable
 * for another attempt; *why holds the server's text) or -1 with err.
 */
static int sasl_oauth(struct pd_imap *im, const char *mech, const char *ir, char *why,
		      size_t why_len, struct pd_err *err)
{
	char tag[16];
	bool ir_sent = im->cap_sasl_ir;
	int r;

	why[0] = '\0';
	cmd_begin(im, "AUTHENTICATE %s (user %s, token not shown)", mech, im->cfg->user);
	r = mailimap_send_current_tag(im->imap);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "AUTHENTICATE", err);
	snprintf(tag, sizeof(tag), "%d ", im->imap->imap_tag);
	if (mailstream_write(im->imap->imap_stream, "AUTHENTICATE ", 13) != 13 ||
	    mailstream_write(im->imap->imap_stream, mech, strlen(mech)) != (ssize_t)strlen(mech) ||
	    (ir_sent && (mailstream_write(im->imap->imap_stream, " ", 1) != 1 ||
			 mailstream_write(im->imap->imap_stream, ir, strlen(ir)) !=
				 (ssize_t)strlen(ir))) ||
	    mailstream_write(im->imap->imap_stream, "\r\n", 2) != 2 ||
	    mailstream_flush(im->imap->imap_stream) < 0)
		return fail(im, MAILIMAP_ERROR_STREAM, "AUTHENTICATE", err);
	for (;;) {
		char *line = skip_literals(im, mailimap_read_line(im->imap));
		size_t len;

		if (line == NULL)
			return fail(im, MAILIMAP_ERROR_STREAM, "AUTHENTICATE", err);
		len = strcspn(line, "\r\n");
		if (line[0] == '+') {
			const char *answer = "";
			if (!ir_sent) {
				answer = ir;
				ir_sent = true;
			} else {
				pd_log_debug("imap: < + (error challenge: the server refuses the "
					     "token) mailbox=%s",
					     im->cfg->name);
			}
			if ((*answer && mailstream_write(im->imap->imap_stream, answer,
							 strlen(answer)) != (ssize_t)strlen(answer)) ||
			    mailstream_write(im->imap->imap_stream, "\r\n", 2) != 2 ||
			    mailstream_flush(im->imap->imap_stream) < 0)
				return fail(im, MAILIMAP_ERROR_STREAM, "AUTHENTICATE", err);
			continue;
		}
		if (line[0] == '*')
			continue; /* untagged CAPABILITY and the like */
		if (strncmp(line, tag, strlen(tag)) != 0)
			return fail(im, MAILIMAP_ERROR_PARSE, "AUTHENTICATE", err);
		const char *rest = line + strlen(tag);
		size_t rlen = len - strlen(tag);
		if (rlen >= 2 && pd_str_istartswith(rest, "OK")) {
			/* libetpan tracks the state its own commands need */
			im->imap->imap_state = MAILIMAP_STATE_AUTHENTICATED;
			cmd_ok(im, "AUTHENTICATE");
			return 0;
		}
		if (rlen >= 2 && pd_str_istartswith(rest, "NO")) {
			snprintf(why, why_len, "%.*s", (int)(rlen > 2 ? rlen - 3 : 0),
				 rlen > 3 ? rest + 3 : "");
			pd_log_debug("imap: < AUTHENTICATE %s refused: %s mailbox=%s", mech, why,
				     im->cfg->name);
			return 1;
		}
		im->broken = true;
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_IMAP, MAILIMAP_ERROR_PROTOCOL,
				  "AUTHENTICATE %s failed on %s (mailbox %s, user %s): server said "
				  "%.*s",
				  mech, im->hostport, im->cfg->name, im->cfg->user, (int)rlen, rest);
	}
}

/*
 * auth = xoauth2 | oauthbearer: a token from oauth2.c's cache; when the
 * server refuses it, one more attempt with a freshly fetched token (it may
 * have been revoked or expired early) before the login counts as failed.
 */
static int login_oauth(struct pd_imap *im, struct pd_err *err)
{
	bool xo = im->cfg->auth == PD_IMAP_AUTH_XOAUTH2;
	const char *mech = xo ? "XOAUTH2" : "OAUTHBEARER";
	uint16_t port = im->cfg->port ? im->cfg->port : (im->cfg->tls == PD_TLS_IMPLICIT ? 993 : 143);
	char key[128], why[300] = "";

	if (im->cfg->oauth2 == NULL || im->cfg->user == NULL)
		return refuse(im, PD_ERR_FATAL, err, "no user or oauth2 configuration");
	if (!(xo ? im->cap_auth_xoauth2 : im->cap_auth_oauthbearer))
		return refuse(im, PD_ERR_PERM, err, "server does not offer AUTH=%s%s", mech,
			      (xo ? im->cap_auth_oauthbearer : im->cap_auth_xoauth2)
				      ? (xo ? " (it offers OAUTHBEARER: set auth = oauthbearer)"
					    : " (it offers XOAUTH2: set auth = xoauth2)")
				      : "");
	snprintf(key, sizeof(key), "mailbox %s", im->cfg->name);
	for (int attempt = 0; attempt < 2; attempt++) {
		const char *token;
		char *ir;
		int r;

		if (pd_oauth2_token(key, im->cfg->oauth2, attempt > 0, &token, err) < 0) {
			im->broken = true;
			return -1;
		}
		ir = xo ? pd_oauth2_sasl_xoauth2(im->cfg->user, token)
			: pd_oauth2_sasl_oauthbearer(im->cfg->user, im->host, port, token);
		r = sasl_oauth(im, mech, ir, why, sizeof(why), err);
		pd_oauth2_secret_free(ir);
		if (r <= 0)
			return r;
		pd_oauth2_invalidate(key);
		if (attempt == 0)
			pd_log_notice("imap: %s refused the access token (%s); fetching a new one and "
				      "trying once more mailbox=%s",
				      im->hostport, *why ? why : "no reason given", im->cfg->name);
	}
	im->broken = true;
	return pd_err_set(err, PD_ERR_PERM, PD_SRC_IMAP, MAILIMAP_ERROR_LOGIN,
			  "login as %s refused by %s: %s (AUTHENTICATE %s, also with a freshly "
			  "fetched token; check the scope and that IMAP access is enabled for "
			  "the account; mailbox %s)",
			  im->cfg->user, im->hostport, *why ? why : "no reason given", mech,
			  im->cfg->name);
}

static int authenticate(struct pd_imap *im, struct pd_err *err)
{
	bool fell_back = false;
	int r;

	if (im->cfg->auth == PD_IMAP_AUTH_XOAUTH2 || im->cfg->auth == PD_IMAP_AUTH_OAUTHBEARER) {
		caps_drop(im);
		return login_oauth(im, err);
	}

	if (im->cfg->user == NULL || im->cfg->password == NULL)
		return refuse(im, PD_ERR_FATAL, err, "no user or password configured");
	if (im->cfg->auth == PD_IMAP_AUTH_PLAIN && !im->cap_auth_plain)
		return refuse(im, PD_ERR_PERM, err,
			      "server does not offer AUTH=PLAIN (set auth = login or auto)");
	/* Capabilities change with authentication (Dovecot lists MOVE, UIDPLUS
	 * only then).  Drop the old list so that a [CAPABILITY ...] in the
	 * tagged OK is what we keep; connect asks CAPABILITY if none came. */
	caps_drop(im);
	switch (im->cfg->auth) {
	case PD_IMAP_AUTH_PLAIN:
		r = login_plain(im, false, &fell_back, err);
		break;
	case PD_IMAP_AUTH_LOGIN:
		r = login_login(im, err);
		break;
	case PD_IMAP_AUTH_AUTO:
	default:
		if (im->cap_auth_plain) {
			r = login_plain(im, true, &fell_back, err);
			if (r == 0 && fell_back)
				r = login_login(im, err);
		} else {
			r = login_login(im, err);
		}
		break;
	}
	return r;
}

/* ------------------------------------------------------- session lifetime */

struct pd_imap *pd_imap_new(const struct pd_mailbox_cfg *cfg)
{
	struct pd_imap *im = pd_xcalloc(1, sizeof(*im));
	const char *h = cfg->host ? cfg->host : "";
	size_t hl = strlen(h);

	im->cfg = cfg;
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
		im->host = pd_xstrndup(h + 1, hl - 2);
	else
		im->host = pd_xstrdup(h);
	uint16_t port = cfg->port ? cfg->port : (cfg->tls == PD_TLS_IMPLICIT ? 993 : 143);
	if (strchr(im->host, ':') != NULL)
		snprintf(im->hostport, sizeof(im->hostport), "[%s]:%u", im->host, port);
	else
		snprintf(im->hostport, sizeof(im->hostport), "%s:%u", im->host, port);
	im->timeout = cfg->timeout > 0 ? (time_t)cfg->timeout : 60;
	return im;
}

/* Close the connection without LOGOUT (mailimap_free would send one and
 * block on a dead peer) and free libetpan's session. */
static void session_close(struct pd_imap *im)
{
	if (im->imap == NULL)
		return;
	if (im->imap->imap_stream != NULL) {
		mailstream_close(im->imap->imap_stream);
		im->imap->imap_stream = NULL;
	}
	mailimap_free(im->imap);
	im->imap = NULL;
	im->authenticated = im->selected = im->idling = im->idle_ready = false;
}

void pd_imap_free(struct pd_imap *im)
{
	if (im == NULL)
		return;
	session_close(im);
	free(im->host);
	free(im);
}

/*
 * Order matters for security: TCP (+ implicit TLS) -> greeting -> certificate
 * check -> [STARTTLS -> certificate check -> capabilities again] -> login.
 * Nothing secret is written before the chain was verified, and a refusal
 * closes the connection without LOGOUT.
 */
int pd_imap_connect(struct pd_imap *im, struct pd_err *err)
{
	const struct pd_mailbox_cfg *cfg = im->cfg;
	uint16_t port = cfg->port;
	bool preauth;
	int r;

	session_close(im); /* reconnect: start from scratch */
	im->broken = false;
	im->folder_checked = false;
	im->imap = mailimap_new(0, NULL);
	if (im->imap == NULL)
		abort(); /* allocation failure aborts, as everywhere */
	/* before connecting: the stream copies the value when it is made */
	mailimap_set_timeout(im->imap, im->timeout);

	switch (cfg->tls) {
	case PD_TLS_IMPLICIT:
		cmd_begin(im, "connect (implicit TLS)");
		r = mailimap_ssl_connect_with_callback(im->imap, im->host, port, tls_setup, im);
		break;
	case PD_TLS_STARTTLS:
		cmd_begin(im, "connect (for STARTTLS)");
		r = mailimap_socket_connect(im->imap, im->host, port);
		break;
	case PD_TLS_NONE:
	default:
		if (!host_is_loopback(im->host) && !im->warned_plain) {
			im->warned_plain = true;
			pd_log_warning("imap: mailbox %s uses %s without TLS: password and mail "
				       "cross the network in clear text (set tls = implicit or "
				       "starttls) mailbox=%s",
				       cfg->name, im->hostport, cfg->name);
		}
		cmd_begin(im, "connect (plain)");
		r = mailimap_socket_connect(im->imap, im->host, port);
		break;
	}
	if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
		return fail(im, r, "connect", err);
	if (cfg->tls != PD_TLS_IMPLICIT)
		guard_plain_eof(im); /* STARTTLS replaces the stream's driver later */
	cmd_ok(im, "greeting");
	preauth = r == MAILIMAP_NO_ERROR_AUTHENTICATED;

	if (cfg->tls == PD_TLS_IMPLICIT && verify_peer(im, err) < 0)
		return -1;
	if (caps_ensure(im, err) < 0)
		return -1;

	if (cfg->tls == PD_TLS_STARTTLS) {
		if (preauth)
			return refuse(im, PD_ERR_PERM, err,
				      "server greeted with PREAUTH on the plain connection, so "
				      "STARTTLS is impossible; refusing to continue in clear text");
		if (!im->cap_starttls)
			return refuse(
				im, PD_ERR_PERM, err,
				"server does not offer STARTTLS; refusing to send the password "
				"in clear text (use tls = implicit, or fix the server)");
		cmd_begin(im, "STARTTLS");
		r = mailimap_socket_starttls_with_callback(im->imap, tls_setup, im);
		if (r != MAILIMAP_NO_ERROR)
			return fail(im, r, "STARTTLS", err);
		cmd_ok(im, "STARTTLS");
		if (verify_peer(im, err) < 0)
			return -1;
		/* RFC 3501 6.2.1: forget what the server said before TLS */
		caps_drop(im);
		if (caps_ensure(im, err) < 0)
			return -1;
	}

	if (preauth) {
		pd_log_notice("imap: %s greeted with PREAUTH, no login needed mailbox=%s",
			      im->hostport, cfg->name);
	} else if (authenticate(im, err) < 0) {
		return -1;
	}
	im->authenticated = true;
	if (caps_ensure(im, err) < 0)
		return -1;
	pd_log_debug("imap: logged in to %s as %s (IDLE %s, MOVE %s, UIDPLUS %s) mailbox=%s",
		     im->hostport, cfg->user ? cfg->user : "", im->cap_idle ? "yes" : "no",
		     im->cap_move ? "yes" : "no", im->cap_uidplus ? "yes" : "no", cfg->name);
	return 0;
}

bool pd_imap_has_idle(const struct pd_imap *im)
{
	return im->cap_idle;
}

bool pd_imap_has_move(const struct pd_imap *im)
{
	return im->cap_move;
}

/* libetpan updates sel_exists from every untagged EXISTS (and decrements it
 * on EXPUNGE), whatever command they came with. */
uint32_t pd_imap_exists(const struct pd_imap *im)
{
	if (im->imap == NULL || !im->selected || im->imap->imap_selection_info == NULL)
		return 0;
	return im->imap->imap_selection_info->sel_exists;
}

/* Polite end: DONE if idling, LOGOUT, close.  A broken session is closed
 * without a word (the peer may be gone; LOGOUT would wait for the timeout). */
void pd_imap_logout(struct pd_imap *im)
{
	if (im->imap == NULL || im->imap->imap_stream == NULL)
		return;
	if (!im->broken) {
		if (im->idling) {
			cmd_begin(im, "DONE");
			(void)mailimap_idle_done(im->imap);
			im->idling = false;
		}
		cmd_begin(im, "LOGOUT");
		/* closes the stream whatever the answer */
		(void)mailimap_logout(im->imap);
	}
	session_close(im);
}

int pd_imap_fd(const struct pd_imap *im)
{
	if (im->imap == NULL || im->imap->imap_stream == NULL)
		return -1;
	return mailstream_low_get_fd(mailstream_get_low(im->imap->imap_stream));
}

/* --------------------------------------------------------------- folders */

/* Make sure processed_folder exists: LIST it, CREATE when missing.  A NO to
 * CREATE because another process created it meanwhile is fine. */
static int ensure_folder(struct pd_imap *im, const char *folder, struct pd_err *err)
{
	clist *list = NULL;
	bool exists;
	int r;

	cmd_begin(im, "LIST \"\" \"%s\"", folder);
	r = mailimap_list(im->imap, "", folder, &list);
	if (r != MAILIMAP_NO_ERROR) {
		if (list != NULL)
			mailimap_list_result_free(list);
		return fail(im, r, "LIST", err);
	}
	cmd_ok(im, "LIST");
	exists = list != NULL && clist_count(list) > 0;
	if (list != NULL)
		mailimap_list_result_free(list);
	if (exists)
		return 0;

	cmd_begin(im, "CREATE \"%s\"", folder);
	r = mailimap_create(im->imap, folder);
	if (r == MAILIMAP_NO_ERROR) {
		cmd_ok(im, "CREATE");
		pd_log_notice("imap: created folder %s on %s for processed mail mailbox=%s", folder,
			      im->hostport, im->cfg->name);
		return 0;
	}
	if (r == MAILIMAP_ERROR_CREATE && pd_str_iequal(server_code(im), "ALREADYEXISTS"))
		return 0;
	return fail(im, r, "CREATE processed_folder", err);
}

/* SELECT (read-write, so that marking works); UIDVALIDITY and UIDNEXT come
 * from the OK [UIDVALIDITY n] / [UIDNEXT n] codes libetpan stores in
 * imap_selection_info.  The processed folder is checked before, once. */
int pd_imap_select(struct pd_imap *im, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
		   struct pd_err *err)
{
	const char *folder = folder_of(im);
	const char *processed = im->cfg->processed_folder;
	int r;

	if (usable(im, false, err) < 0)
		return -1;
	if (processed != NULL && !im->folder_checked) {
		if (strcmp(processed, folder) == 0)
			return refuse(im, PD_ERR_FATAL, err,
				      "processed_folder must differ from the folder it is fetched "
				      "from (%s)",
				      folder);
		if (ensure_folder(im, processed, err) < 0)
			return -1;
		im->folder_checked = true;
	}

	im->selected = false;
	cmd_begin(im, "SELECT \"%s\"", folder);
	r = mailimap_select(im->imap, folder);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "SELECT", err);
	cmd_ok(im, "SELECT");
	struct mailimap_selection_info *si = im->imap->imap_selection_info;
	if (si == NULL || si->sel_uidvalidity == 0)
		return refuse(im, PD_ERR_PERM, err,
			      "server sent no UIDVALIDITY for %s; cannot keep a UID checkpoint",
			      folder);
	if (si->sel_perm == MAILIMAP_MAILBOX_READONLY)
		pd_log_warning("imap: folder %s on %s is read-only: mail cannot be marked "
			       "processed mailbox=%s",
			       folder, im->hostport, im->cfg->name);
	im->selected = true;
	im->uidnext = si->sel_uidnext;
	*uidvalidity_r = si->sel_uidvalidity;
	*uidnext_r = si->sel_uidnext;
	pd_log_debug("imap: selected %s: %u messages, UIDVALIDITY %u, UIDNEXT %u mailbox=%s",
		     folder, si->sel_exists, si->sel_uidvalidity, si->sel_uidnext, im->cfg->name);
	return 0;
}

/* ---------------------------------------------------------------- search */

/* UIDs per SEARCH window during a backlog.  A build configured with
 * --enable-test-hooks reads PD_TEST_SEARCH_WINDOW, so that the tests see the
 * windows at work without thousands of mails. */
#ifdef PD_TEST_HOOKS
static uint32_t search_window(void)
{
	static uint32_t w;

	if (w == 0) {
		const char *e = getenv("PD_TEST_SEARCH_WINDOW");
		long v = e != NULL ? strtol(e, NULL, 10) : 0;
		w = v > 0 && v < 1000000 ? (uint32_t)v : 10000u;
	}
	return w;
}
#else
static uint32_t search_window(void)
{
	return 10000u;
}
#endif

/* UID SEARCH key (takes ownership of key); appends the UIDs to *v. */

static int uid_search(struct pd_imap *im, struct mailimap_search_key *key, const char *what,
		      uint32_t **v, size_t *n, size_t *cap, struct pd_err *err)
{
	clist *res = NULL;
	int r;

	if (key == NULL)
		abort();
	cmd_begin(im, "UID SEARCH %s", what);
	r = mailimap_uid_search(im->imap, NULL, key, &res);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR) {
		if (res != NULL)
			mailimap_search_result_free(res);
		return fail(im, r, "UID SEARCH", err);
	}
	cmd_ok(im, "UID SEARCH");
	if (res == NULL)
		return 0;
	for (clistiter *it = clist_begin(res); it != NULL; it = clist_next(it)) {
		uint32_t *uid = clist_content(it);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*v = pd_xreallocarray(*v, *cap, sizeof(**v));
		}
		(*v)[(*n)++] = *uid;
	}
	mailimap_search_result_free(res);
	return 0;
}

/* Two UID SEARCHes (new mail, and stored-but-unmarked mail), merged.  One
 * combined OR search cannot be filtered afterwards because of the "N:*"
 * rule below. */
int pd_imap_search_pending(struct pd_imap *im, uint32_t last_uid, struct pd_uidlist *uids_r,
			   struct pd_err *err)
{
	uint32_t *v = NULL;
	size_t n = 0, cap = 0, above;
	char what[64];

	uids_r->n = 0;
	uids_r->v = NULL;
	if (usable(im, true, err) < 0)
		return -1;

	/* New mail: UID last+1:*.  "N:*" always matches the highest UID even
	 * when it is below N (RFC 3501 6.4.8), so keep only UIDs above last.
	 * A big backlog is asked for in windows of 10,000 UIDs up to
	 * the UIDNEXT seen at SELECT: the client library keeps a whole answer
	 * as a list of small allocations, which would make memory grow with
	 * the folder. */
	if (last_uid < UINT32_MAX) {
		uint32_t a = last_uid + 1, window = search_window();
		for (;;) {
			/* the last window is open-ended: mail that arrived since SELECT */
			bool open_end = im->uidnext <= a || im->uidnext - a <= window;
			uint32_t b = open_end ? 0 : a + window - 1;
			if (open_end)
				snprintf(what, sizeof(what), "UID %u:*", a);
			else
				snprintf(what, sizeof(what), "UID %u:%u", a, b);
			struct mailimap_set *set = mailimap_set_new_interval(a, b);
			if (set == NULL)
				abort();
			if (uid_search(im, mailimap_search_key_new_uid(set), what, &v, &n, &cap,
				       err) < 0) {
				free(v);
				return -1;
			}
			if (open_end)
				break;
			a += window;
		}
		size_t keep = 0;
		for (size_t i = 0; i < n; i++)
			if (v[i] > last_uid)
				v[keep++] = v[i];
		n = keep;
	}
	above = n;

	/* Stored but not marked (crash between COMMIT and marking): in move
	 * mode anything left at or below last, in \Seen mode what is UNSEEN. */
	if (last_uid > 0) {
		struct mailimap_set *set = mailimap_set_new_interval(1, last_uid);
		struct mailimap_search_key *key;

		if (set == NULL)
			abort();
		if (im->cfg->processed_folder != NULL) {
			snprintf(what, sizeof(what), "UID 1:%u", last_uid);
			key = mailimap_search_key_new_uid(set);
		} else {
			snprintf(what, sizeof(what), "UNSEEN UID 1:%u", last_uid);
			key = mailimap_search_key_new_multiple_empty();
			if (key == NULL ||
			    mailimap_search_key_multiple_add(
				    key, search_key_simple(MAILIMAP_SEARCH_KEY_UNSEEN)) !=
				    MAILIMAP_NO_ERROR ||
			    mailimap_search_key_multiple_add(
				    key, mailimap_search_key_new_uid(set)) != MAILIMAP_NO_ERROR)
				abort();
		}
		if (uid_search(im, key, what, &v, &n, &cap, err) < 0) {
			free(v);
			return -1;
		}
		size_t keep = above;
		for (size_t i = above; i < n; i++)
			if (v[i] >= 1 && v[i] <= last_uid)
				v[keep++] = v[i];
		n = keep;
	}

	n = sort_unique(v, n);
	uids_r->v = v;
	uids_r->n = n;
	if (n > above)
		pd_log_info("imap: %zu message(s) at or below the checkpoint %u are still not "
			    "marked processed; fetching them again mailbox=%s",
			    n - above, last_uid, im->cfg->name);
	return 0;
}

/* ----------------------------------------------------------------- fetch */

/* The UID, RFC822.SIZE and BODY[] of one FETCH response (absent = 0/NULL). */
struct att_info {
	uint32_t uid;
	bool has_size;
	uint32_t size;
	const char *body;
	size_t body_len;
	bool has_body;
};

static void att_read(const struct mailimap_msg_att *att, struct att_info *out)
{
	memset(out, 0, sizeof(*out));
	for (clistiter *it = clist_begin(att->att_list); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		struct mailimap_msg_att_static *st;

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		st = item->att_data.att_static;
		if (st == NULL)
			continue;
		switch (st->att_type) {
		case MAILIMAP_MSG_ATT_UID:
			out->uid = st->att_data.att_uid;
			break;
		case MAILIMAP_MSG_ATT_RFC822_SIZE:
			out->has_size = true;
			out->size = st->att_data.att_rfc822_size;
			break;
		case MAILIMAP_MSG_ATT_BODY_SECTION:
			if (st->att_data.att_body_section != NULL &&
			    st->att_data.att_body_section->sec_body_part != NULL) {
				out->has_body = true;
				out->body = st->att_data.att_body_section->sec_body_part;
				out->body_len = st->att_data.att_body_section->sec_length;
			}
			break;
		default:
			break;
		}
	}
}

/*
 * UID FETCH set (items) and hand back libetpan's list.  A NO carrying
 * [EXPUNGEISSUED] (some UIDs vanished meanwhile) still delivers the rest and
 * counts as success: the missing UIDs are simply absent.
 */
static int uid_fetch(struct pd_imap *im, const uint32_t *sorted, size_t n, bool body,
		     uint32_t prefix, clist **res_r, struct pd_err *err)
{
	struct pd_buf text;
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	struct mailimap_set *set;
	clist *res = NULL;
	int r;

	*res_r = NULL;
	pd_buf_init(&text);
	set = make_set(sorted, n, pd_log_enabled(PD_LOG_DEBUG) ? &text : NULL);
	if (ft == NULL || mailimap_fetch_type_new_fetch_att_list_add(
				  ft, mailimap_fetch_att_new_uid()) != MAILIMAP_NO_ERROR)
		abort();
	if (body) {
		/* prefix > 0: BODY.PEEK[]<0.prefix>, the server sends no more */
		struct mailimap_section *sec = mailimap_section_new(NULL);
		if (sec == NULL ||
		    mailimap_fetch_type_new_fetch_att_list_add(
			    ft, prefix > 0 ? mailimap_fetch_att_new_body_peek_section_partial(sec, 0,
											       prefix)
					   : mailimap_fetch_att_new_body_peek_section(sec)) !=
			    MAILIMAP_NO_ERROR)
			abort();
	} else if (mailimap_fetch_type_new_fetch_att_list_add(
			   ft, mailimap_fetch_att_new_rfc822_size()) != MAILIMAP_NO_ERROR) {
		abort();
	}
	cmd_begin(im, "UID FETCH %s (UID %s%s) [%zu uids]", text.data ? text.data : "",
		  body ? "BODY.PEEK[]" : "RFC822.SIZE", body && prefix ? "<0.N>" : "", n);
	pd_buf_free(&text);
	r = mailimap_uid_fetch(im->imap, set, ft, &res);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r == MAILIMAP_ERROR_UID_FETCH && pd_str_iequal(server_code(im), "EXPUNGEISSUED")) {
		pd_log_info("imap: some messages vanished before UID FETCH: %s mailbox=%s",
			    server_text(im), im->cfg->name);
		r = MAILIMAP_NO_ERROR;
	}
	if (r != MAILIMAP_NO_ERROR) {
		if (res != NULL)
			mailimap_fetch_list_free(res);
		return fail(im, r, "UID FETCH", err);
	}
	cmd_ok(im, "UID FETCH");
	*res_r = res;
	return 0;
}

/* Index of uid in sorted[0..n), or -1. */
static ssize_t find_uid(const uint32_t *sorted, size_t n, uint32_t uid)
{
	const uint32_t *p = bsearch(&uid, sorted, n, sizeof(*sorted), cmp_u32);

	return p ? p - sorted : -1;
}

/* One UID FETCH (UID RFC822.SIZE); answers are matched to the request by
 * UID, since servers reply in sequence order and may add unsolicited FETCH
 * responses (flag changes by other clients). */
int pd_imap_fetch_sizes(struct pd_imap *im, const uint32_t *uids, size_t n, uint32_t *sizes_r,
			struct pd_err *err)
{
	uint32_t *sorted, *ssize;
	size_t ns;
	clist *res;

	for (size_t i = 0; i < n; i++)
		sizes_r[i] = 0;
	if (usable(im, true, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	sorted = sorted_copy(uids, n, &ns);
	if (uid_fetch(im, sorted, ns, false, 0, &res, err) < 0) {
		free(sorted);
		return -1;
	}
	ssize = pd_xcalloc(ns, sizeof(*ssize));
	for (clistiter *it = res ? clist_begin(res) : NULL; it != NULL; it = clist_next(it)) {
		struct att_info a;
		ssize_t k;

		att_read(clist_content(it), &a);
		/* unsolicited FETCH responses (flag changes) lack the size */
		if (!a.has_size || (k = find_uid(sorted, ns, a.uid)) < 0)
			continue;
		ssize[k] = a.size;
	}
	if (res != NULL)
		mailimap_fetch_list_free(res);
	for (size_t i = 0; i < n; i++) {
		ssize_t k = find_uid(sorted, ns, uids[i]);
		sizes_r[i] = k >= 0 ? ssize[k] : 0;
	}
	free(ssize);
	free(sorted);
	return 0;
}

/* One UID FETCH (UID BODY.PEEK[]) for the whole set, sent as compact ranges.
 * PEEK leaves \Seen alone: marking is the caller's decision after COMMIT.
 * Bodies are copied out of libetpan's response (which is then freed) into
 * malloc'd, NUL-terminated buffers; the length is the literal's length, so
 * NUL bytes inside a message survive. */
static int fetch_bodies(struct pd_imap *im, const uint32_t *uids, size_t n, uint32_t prefix,
			struct pd_imap_mail **mails_r, size_t *n_r, struct pd_err *err)
{
	struct pd_imap_mail *mails;
	uint32_t *sorted;
	unsigned char *seen;
	size_t ns, count = 0;
	clist *res;

	*mails_r = NULL;
	*n_r = 0;
	if (usable(im, true, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	sorted = sorted_copy(uids, n, &ns);
	if (uid_fetch(im, sorted, ns, true, prefix, &res, err) < 0) {
		free(sorted);
		return -1;
	}
	mails = pd_xcalloc(ns, sizeof(*mails));
	seen = pd_xcalloc(ns, 1);
	for (clistiter *it = res ? clist_begin(res) : NULL; it != NULL; it = clist_next(it)) {
		struct att_info a;
		ssize_t k;

		att_read(clist_content(it), &a);
		/* keep only what we asked for, once: unsolicited FETCH responses
		 * carry flags, not bodies */
		if (!a.has_body || (k = find_uid(sorted, ns, a.uid)) < 0 || seen[k])
			continue;
		seen[k] = 1;
		/* the literal may contain NULs: copy by length */
		mails[count].uid = a.uid;
		mails[count].len = a.body_len;
		mails[count].data = pd_xmalloc(a.body_len + 1);
		memcpy(mails[count].data, a.body, a.body_len);
		mails[count].data[a.body_len] = '\0';
		count++;
	}
	if (res != NULL)
		mailimap_fetch_list_free(res);
	free(seen);
	free(sorted);
	/* servers answer in sequence order, which is UID order, but do not rely
	 * on it */
	for (size_t i = 1; i < count; i++) {
		if (mails[i - 1].uid > mails[i].uid) {
			qsort(mails, count, sizeof(*mails), cmp_mail);
			break;
		}
	}
	if (count < ns)
		pd_log_debug("imap: UID FETCH returned %zu of %zu messages (others expunged) "
			     "mailbox=%s",
			     count, ns, im->cfg->name);
	*mails_r = mails;
	*n_r = count;
	return 0;
}

int pd_imap_fetch(struct pd_imap *im, const uint32_t *uids, size_t n, struct pd_imap_mail **mails_r,
		  size_t *n_r, struct pd_err *err)
{
	return fetch_bodies(im, uids, n, 0, mails_r, n_r, err);
}

int pd_imap_fetch_prefix(struct pd_imap *im, const uint32_t *uids, size_t n, uint32_t prefix,
			 struct pd_imap_mail **mails_r, size_t *n_r, struct pd_err *err)
{
	return fetch_bodies(im, uids, n, prefix > 0 ? prefix : 1, mails_r, n_r, err);
}

/* ------------------------------------------------------------------ mark */

/* UID STORE set +FLAGS.SILENT (flag); takes ownership of flag. */
static int store_flag(struct pd_imap *im, struct mailimap_set *set, const char *settext,
		      struct mailimap_flag *flag, const char *flagname, struct pd_err *err)
{
	struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
	struct mailimap_store_att_flags *sa;
	int r;

	if (fl == NULL || flag == NULL || mailimap_flag_list_add(fl, flag) != MAILIMAP_NO_ERROR)
		abort();
	sa = mailimap_store_att_flags_new_add_flags_silent(fl);
	if (sa == NULL)
		abort();
	cmd_begin(im, "UID STORE %s +FLAGS.SILENT (%s)", settext, flagname);
	r = mailimap_uid_store(im->imap, set, sa);
	mailimap_store_att_flags_free(sa);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "UID STORE", err);
	cmd_ok(im, "UID STORE");
	return 0;
}

/* One command for the whole set where the server allows it (UID MOVE, or
 * UID STORE \Seen); three (COPY, STORE \Deleted, UID EXPUNGE) without
 * MOVE.  Marking an already moved or expunged UID is not an error: servers
 * ignore UIDs that no longer exist. */
int pd_imap_mark_processed(struct pd_imap *im, const uint32_t *uids, size_t n, struct pd_err *err)
{
	const char *dest = im->cfg->processed_folder;
	struct mailimap_set *set;
	struct pd_buf text;
	uint32_t *sorted;
	size_t ns;
	int r, ret = -1;

	if (usable(im, true, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	sorted = sorted_copy(uids, n, &ns);
	pd_buf_init(&text);
	set = make_set(sorted, ns, &text);

	if (dest == NULL) {
		ret = store_flag(im, set, text.data, mailimap_flag_new_seen(), "\\Seen", err);
	} else if (im->cap_move) {
		cmd_begin(im, "UID MOVE %s \"%s\"", text.data, dest);
		r = mailimap_uid_move(im->imap, set, dest);
		if (r != MAILIMAP_NO_ERROR) {
			fail(im, r, "UID MOVE", err);
		} else {
			cmd_ok(im, "UID MOVE");
			ret = 0;
		}
	} else {
		/* No MOVE: COPY, flag \Deleted, expunge.  A crash in between
		 * leaves a copy in dest and the original, still pending, here:
		 * it is fetched again and recognised as already stored. */
		cmd_begin(im, "UID COPY %s \"%s\"", text.data, dest);
		r = mailimap_uid_copy(im->imap, set, dest);
		if (r != MAILIMAP_NO_ERROR) {
			fail(im, r, "UID COPY", err);
			goto out;
		}
		cmd_ok(im, "UID COPY");
		if (store_flag(im, set, text.data, mailimap_flag_new_deleted(), "\\Deleted", err) <
		    0)
			goto out;
		if (im->cap_uidplus) {
			cmd_begin(im, "UID EXPUNGE %s", text.data);
			r = mailimap_uid_expunge(im->imap, set);
		} else {
			/* Without UIDPLUS only a plain EXPUNGE exists, and it also
			 * removes messages that other clients flagged \Deleted in
			 * this folder.  Acceptable for a folder only we process. */
			if (!im->warned_no_uidplus) {
				pd_log_warning("imap: %s has neither MOVE nor UIDPLUS: using plain "
					       "EXPUNGE, which also removes messages other clients "
					       "flagged \\Deleted in %s mailbox=%s",
					       im->hostport, folder_of(im), im->cfg->name);
				im->warned_no_uidplus = true;
			}
			cmd_begin(im, "EXPUNGE");
			r = mailimap_expunge(im->imap);
		}
		if (r != MAILIMAP_NO_ERROR) {
			fail(im, r, im->cap_uidplus ? "UID EXPUNGE" : "EXPUNGE", err);
			goto out;
		}
		cmd_ok(im, "EXPUNGE");
		ret = 0;
	}
out:
	mailimap_set_free(set);
	pd_buf_free(&text);
	free(sorted);
	return ret;
}

/* ------------------------------------------------------------------ IDLE */

/* Skip a literal announced at the end of line ("... {123}\r\n"): read its
 * bytes and the rest of the response line.  Returns the last line read, or
 * NULL on a stream error. */
static char *skip_literals(struct pd_imap *im, char *line)
{
	while (line != NULL) {
		size_t len = strlen(line);
		unsigned long n;
		char *open, *end;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len < 3 || line[len - 1] != '}')
			return line;
		open = memrchr(line, '{', len);
		if (open == NULL)
			return line;
		n = strtoul(open + 1, &end, 10);
		if (end == open + 1 || (*end != '}' && *end != '+'))
			return line;
		while (n > 0) {
			char chunk[4096];
			ssize_t got = mailstream_read(im->imap->imap_stream, chunk,
						      n < sizeof(chunk) ? n : sizeof(chunk));
			if (got <= 0)
				return NULL;
			n -= (unsigned long)got;
		}
		line = mailimap_read_line(im->imap);
	}
	return NULL;
}

/*
 * IDLE by hand rather than with mailimap_idle(): that function handles an
 * untagged response sent before the "+" continuation (RFC 2177 allows it)
 * by waiting for a tagged reply that never comes, so the call times out.
 * We send "<tag> IDLE", then read lines: "*" lines mean news is already
 * here (idle_ready), "+" starts the idle, our tag means IDLE was refused.
 * mailimap_idle_done() then sends DONE and parses everything up to the
 * tagged OK as usual (the tag counter is shared).
 */
int pd_imap_idle_start(struct pd_imap *im, struct pd_err *err)
{
	char tag[16];
	char *line;
	int r;

	if (usable(im, true, err) < 0)
		return -1;
	if (!im->cap_idle)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_IMAP, 0,
				  "mailbox %s on %s: server does not support IDLE (poll instead)",
				  im->cfg->name, im->hostport);
	cmd_begin(im, "IDLE");
	im->idle_ready = false;
	r = mailimap_send_current_tag(im->imap);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "IDLE", err);
	snprintf(tag, sizeof(tag), "%d ", im->imap->imap_tag);
	if (mailstream_write(im->imap->imap_stream, "IDLE\r\n", 6) != 6 ||
	    mailstream_flush(im->imap->imap_stream) < 0)
		return fail(im, MAILIMAP_ERROR_STREAM, "IDLE", err);
	for (;;) {
		line = skip_literals(im, mailimap_read_line(im->imap));
		if (line == NULL)
			return fail(im, MAILIMAP_ERROR_STREAM, "IDLE", err);
		if (line[0] == '+')
			break;
		if (line[0] == '*') {
			/* untagged news (EXISTS...) before the continuation */
			im->idle_ready = true;
			continue;
		}
		if (strncmp(line, tag, strlen(tag)) == 0) {
			/* tagged reply instead of "+": refused */
			char *text = pd_str_trim(line + strlen(tag));
			im->broken = true;
			return pd_err_set(err, PD_ERR_TEMP, PD_SRC_IMAP, MAILIMAP_ERROR_EXTENSION,
					  "IDLE failed on %s (mailbox %s, user %s, folder %s): "
					  "server said %s",
					  im->hostport, im->cfg->name,
					  im->cfg->user ? im->cfg->user : "", folder_of(im), text);
		}
		return fail(im, MAILIMAP_ERROR_PARSE, "IDLE", err);
	}
	im->idling = true;
	/* Lines that came in the same read as "+ idling" sit in the stream's
	 * buffer, where poll() on the socket cannot see them. */
	if (im->imap->imap_stream->read_buffer_len > 0)
		im->idle_ready = true;
	pd_log_debug("imap: < + idling%s mailbox=%s",
		     im->idle_ready ? " (news already received)" : "", im->cfg->name);
	return 0;
}

bool pd_imap_idle_ready(const struct pd_imap *im)
{
	return im->idling && im->idle_ready;
}

/* DONE, then libetpan parses the untagged news (EXISTS, EXPUNGE...) and the
 * tagged OK of the IDLE command.  The caller searches afterwards. */
int pd_imap_idle_done(struct pd_imap *im, struct pd_err *err)
{
	int r;

	if (!im->idling)
		return 0;
	im->idling = false;
	im->idle_ready = false;
	if (im->broken || im->imap == NULL || im->imap->imap_stream == NULL)
		return usable(im, false, err);
	cmd_begin(im, "DONE");
	r = mailimap_idle_done(im->imap);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "DONE (end of IDLE)", err);
	cmd_ok(im, "IDLE");
	return 0;
}

void pd_imap_rebind(struct pd_imap *im, const struct pd_mailbox_cfg *cfg)
{
	im->cfg = cfg;
}
