/*
 * smtp.c - mail submission over libcurl's SMTP client.  See smtp.h.
 *
 * Owns one CURL easy handle per struct pd_smtp.  Every message goes through
 * that same handle, so libcurl keeps the SMTP session open between messages
 * (no new TCP/TLS handshake, EHLO or AUTH per mail) until the server closes it
 * or it has been idle longer than CURLOPT_MAXAGE_CONN (libcurl default 118 s).
 * After any failed transfer the handle is replaced by a fresh one, which closes
 * every connection the old one kept: a session that has seen an error is never
 * used again.
 *
 * libcurl facts this file relies on (7.88, Debian 12; the build needs 7.74):
 *  - CURLINFO_RESPONSE_CODE is the code of the last reply read; the text is
 *    not exposed, so we collect reply lines through CURLOPT_DEBUGFUNCTION
 *    (CURLINFO_HEADER_IN, one call per line), which needs CURLOPT_VERBOSE.
 *  - Every failing SMTP reply stops the transaction (we leave
 *    CURLOPT_MAIL_RCPT_ALLOWFAILS off), so when the last code is 4xx/5xx that
 *    reply is the reason, whatever CURLcode came with it: CURLE_SEND_ERROR
 *    for a refused MAIL/RCPT (libcurl then sends QUIT itself, inside the same
 *    transfer, and closes), CURLE_WEIRD_SERVER_REPLY for a refused end of
 *    DATA (libcurl then keeps the connection "intact" for reuse, even after
 *    421), CURLE_LOGIN_DENIED for a refused AUTH.
 *  - libcurl dot-stuffs the upload and appends CRLF "." CRLF itself; it does
 *    not convert bare LF, so the data must already use CRLF.
 *  - curl_easy_reset() keeps live connections; only curl_easy_cleanup()
 *    closes them, sending QUIT on a session still open (through libcurl's
 *    internal closure handle, so our debug callback does not see it; it
 *    inherits our timeouts).
 *  - With a user set but no AUTH advertised by the server, libcurl skips
 *    authentication and goes on; the server then decides (530/550 -> PERM).
 *  - curl_global_init()/curl_global_cleanup() are reference-counted inside
 *    libcurl; we call them from pd_smtp_new()/pd_smtp_free().
 *
 * Thread assumptions: postdesk is single-threaded.  A pd_smtp handle must only
 * be used by one thread at a time, and pd_smtp_new()/pd_smtp_free() must not
 * race with other threads that use libcurl or GnuTLS: curl_global_init() is
 * only thread-safe in libcurl builds that report CURL_VERSION_THREADSAFE
 * (7.84+; Debian 12's does).
 */
#include "autoconfig.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ioutil.h"
#include "log.h"
#include "oauth2.h"
#include "codec.h"
#include "smtp.h"
#include "util.h"

struct pd_smtp {
	const struct pd_smtp_cfg *cfg;
	CURL *curl;
	CURLcode setup_rc;      /* first failed setopt (libcurl too old / built without TLS) */
	const char *setup_what; /* which option failed */
	bool global_init;       /* curl_global_init() succeeded and needs its cleanup */
	char hostport[300];     /* "host:port" for messages ("[v6]:port") */
	char errbuf[CURL_ERROR_SIZE];

	/* the message being sent (borrowed from pd_smtp_send's arguments) */
	const char *data;
	size_t len, off;

	/* what the protocol trace told us during this message */
	char reply[400];   /* last reply line from the server, sanitised */
	char stage[320];   /* what that reply answers: "RCPT TO:<a@b>", "end of DATA" */
	bool data_started; /* message bytes went out */
	bool quitting;     /* QUIT sent: its 221 must not hide the reply that failed */
};

/* ------------------------------------------------------------- the trace */

/* Copy one protocol line (up to CR/LF) into out, replacing control
 * characters; returns out. */
static char *copy_line(char *out, size_t size, const char *p, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n && p[i] != '\r' && p[i] != '\n' && w + 1 < size; i++) {
		unsigned char c = (unsigned char)p[i];
		out[w++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[w] = '\0';
	return out;
}

/* Commands whose text can be shown as sent; anything else we send is AUTH or
 * an AUTH continuation (credentials) and is never shown. */
static bool cmd_showable(const char *line)
{
	static const char *const verbs[] = {"EHLO ", "HELO ", "STARTTLS", "MAIL ", "RCPT ",
					    "DATA",  "QUIT",  "RSET",     "NOOP"};

	for (size_t i = 0; i < PD_ARRAY_LEN(verbs); i++)
		if (pd_str_istartswith(line, verbs[i]))
			return true;
	return false;
}

/* Remember what we sent last (so a refusal can say what was refused), masking
 * credentials: "AUTH PLAIN <base64>" becomes "AUTH PLAIN", continuation lines
 * (credentials) leave it at that. */
static void note_command(struct pd_smtp *s, const char *p, size_t n)
{
	char line[320];

	copy_line(line, sizeof(line), p, n);
	if (pd_str_istartswith(line, "QUIT")) {
		/* libcurl ends a session refused at MAIL/RCPT with QUIT inside
		 * the same transfer; keep what was refused */
		s->quitting = true;
		pd_log_debug("smtp: C: QUIT server=%s", s->hostport);
		return;
	}
	if (cmd_showable(line)) {
		snprintf(s->stage, sizeof(s->stage), "%s", line);
	} else if (pd_str_istartswith(line, "AUTH ")) {
		size_t mech = strcspn(line + 5, " ");
		snprintf(s->stage, sizeof(s->stage), "AUTH %.*s", (int)mech, line + 5);
	} else {
		/* an AUTH continuation: keep "AUTH <mechanism>" as the stage */
		if (!pd_str_istartswith(s->stage, "AUTH "))
			snprintf(s->stage, sizeof(s->stage), "AUTH");
		pd_log_debug("smtp: C: (credentials) server=%s", s->hostport);
		return;
	}
	pd_log_debug("smtp: C: %s server=%s", s->stage, s->hostport);
}

static int on_debug(CURL *c, curl_infotype type, char *p, size_t n, void *ud)
{
	struct pd_smtp *s = ud;

	(void)c;
	switch (type) {
	case CURLINFO_HEADER_IN:
		/* one reply line per call; keep the last non-empty one */
		if (n > 0 && p[0] != '\r' && p[0] != '\n' && !s->quitting) {
			copy_line(s->reply, sizeof(s->reply), p, n);
			pd_log_debug("smtp: S: %s server=%s", s->reply, s->hostport);
		}
		break;
	case CURLINFO_HEADER_OUT:
		note_command(s, p, n);
		break;
	case CURLINFO_DATA_OUT:
		if (!s->data_started) {
			s->data_started = true;
			snprintf(s->stage, sizeof(s->stage), "end of DATA");
		}
		break;
	case CURLINFO_TEXT:
		if (pd_log_enabled(PD_LOG_DEBUG)) {
			char line[400];
			pd_log_debug("smtp: * %s", copy_line(line, sizeof(line), p, n));
		}
		break;
	default:
		break;
	}
	return 0;
}

/* Upload from memory. */
static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct pd_smtp *s = ud;
	size_t room = size * nitems, left = s->len - s->off;
	size_t n = left < room ? left : room;

	memcpy(buf, s->data + s->off, n);
	s->off += n;
	return n;
}

/* ------------------------------------------------------------ the handle */

#define SETOPT(s, opt, val)                                                                        \
	do {                                                                                       \
		if ((s)->setup_rc == CURLE_OK) {                                                   \
			(s)->setup_rc = curl_easy_setopt((s)->curl, opt, val);                     \
			if ((s)->setup_rc != CURLE_OK)                                             \
				(s)->setup_what = #opt;                                            \
		}                                                                                  \
	} while (0)

/*
 * A fresh easy handle with every per-connection option.  Option failures are
 * remembered and reported (FATAL) by the next pd_smtp_send().
 */
static void setup_handle(struct pd_smtp *s)
{
	const struct pd_smtp_cfg *cfg = s->cfg;
	long t = cfg->timeout > 0
		     ? (cfg->timeout < LONG_MAX / 1000 ? (long)cfg->timeout : LONG_MAX / 1000)
		     : 60;

	s->curl = curl_easy_init();
	if (s->curl == NULL) {
		/* only fails on allocation (or a failed global init) */
		fprintf(stderr, "postdesk: curl_easy_init failed\n");
		abort();
	}
	s->setup_rc = CURLE_OK;
	s->setup_what = NULL;

	SETOPT(s, CURLOPT_URL, cfg->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: CURLOPT_PROTOCOLS deprecated */
	SETOPT(s, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	SETOPT(s, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	/* We are single-threaded with SIGPIPE ignored; never let libcurl use
	 * signals (alarm() for DNS timeouts) behind the daemon's back. */
	SETOPT(s, CURLOPT_NOSIGNAL, 1L);
	SETOPT(s, CURLOPT_ERRORBUFFER, s->errbuf);

	/*
	 * Timeouts: smtp.timeout is "connect and transfer timeout per mail":
	 * CURLOPT_TIMEOUT bounds the whole message (connect, TLS, EHLO, AUTH,
	 * envelope, data, final reply).  The others bound single steps by the
	 * same value: connect, each server reply (also used for QUIT when a
	 * handle is cleaned up), and a stalled upload (< 1 byte/s for t
	 * seconds), so they still hold if the total is ever made longer for
	 * big mails.
	 */
	SETOPT(s, CURLOPT_CONNECTTIMEOUT, t);
	SETOPT(s, CURLOPT_TIMEOUT, t);
	SETOPT(s, CURLOPT_SERVER_RESPONSE_TIMEOUT, t);
	SETOPT(s, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(s, CURLOPT_LOW_SPEED_TIME, t);
	/* keep an idle session's NAT/firewall state alive between messages */
	SETOPT(s, CURLOPT_TCP_KEEPALIVE, 1L);
	/* one server, one session: nothing else to cache */
	SETOPT(s, CURLOPT_MAXCONNECTS, 1L);

	/*
	 * TLS.  smtps:// is TLS from the first byte (libcurl's scheme); for
	 * smtp:// "starttls" requires STARTTLS (CURLUSESSL_ALL: refuse to go on
	 * in clear text when the server does not offer it) and "none" never
	 * tries (config allows that, with a warning off loopback).
	 */
	SETOPT(s, CURLOPT_USE_SSL,
	       (long)(cfg->tls == PD_TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL));
	SETOPT(s, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(s, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file != NULL) {
		/* only ca_file, as imap does: drop libcurl's built-in CA path */
		SETOPT(s, CURLOPT_CAINFO, cfg->ca_file);
		SETOPT(s, CURLOPT_CAPATH, (char *)NULL);
	}

	if (cfg->user != NULL && cfg->oauth2 != NULL) {
		/* AUTH XOAUTH2 / OAUTHBEARER with the token set before each
		 * transfer (pd_smtp_send); no other mechanism is tried */
		SETOPT(s, CURLOPT_USERNAME, cfg->user);
		SETOPT(s, CURLOPT_LOGIN_OPTIONS, cfg->auth == PD_IMAP_AUTH_OAUTHBEARER
							 ? "AUTH=OAUTHBEARER"
							 : "AUTH=XOAUTH2");
	} else if (cfg->user != NULL) {
		SETOPT(s, CURLOPT_USERNAME, cfg->user);
		SETOPT(s, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
	}

	/*
	 * All or nothing per message: the first refused RCPT ends the
	 * transaction (no DATA), so a message is never delivered to only some
	 * of its recipients and then retried to all of them.  This is
	 * libcurl's default; set explicitly to document the choice.
	 */
#if LIBCURL_VERSION_NUM >= 0x080200
	SETOPT(s, CURLOPT_MAIL_RCPT_ALLOWFAILS, 0L);
#else
	SETOPT(s, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 0L);
#endif

	SETOPT(s, CURLOPT_UPLOAD, 1L);
	SETOPT(s, CURLOPT_READFUNCTION, on_read);
	SETOPT(s, CURLOPT_READDATA, s);

	/* the reply texts come only through the debug callback */
	SETOPT(s, CURLOPT_DEBUGFUNCTION, on_debug);
	SETOPT(s, CURLOPT_DEBUGDATA, s);
	SETOPT(s, CURLOPT_VERBOSE, 1L);
}

struct pd_smtp *pd_smtp_new(const struct pd_smtp_cfg *cfg)
{
	struct pd_smtp *s = pd_xcalloc(1, sizeof(*s));

	s->cfg = cfg;
	s->global_init = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	if (cfg->host != NULL && strchr(cfg->host, ':') != NULL)
		snprintf(s->hostport, sizeof(s->hostport), "[%s]:%u", cfg->host,
			 (unsigned)cfg->port);
	else
		snprintf(s->hostport, sizeof(s->hostport), "%s:%u", cfg->host ? cfg->host : "?",
			 (unsigned)cfg->port);
	setup_handle(s);
	return s;
}

void pd_smtp_free(struct pd_smtp *s)
{
	if (s == NULL)
		return;
	curl_easy_cleanup(s->curl); /* QUIT on a live session */
	if (s->global_init)
		curl_global_cleanup();
	free(s);
}

/* Drop the handle and every connection it holds; start over. */
static void reset_handle(struct pd_smtp *s)
{
	curl_easy_cleanup(s->curl);
	s->curl = NULL;
	setup_handle(s);
}

/* ------------------------------------------------------------ addresses */

/* An addr-spec we can put between <> on a command line: codec.h's check
 * (no controls, blanks or angle brackets: CR/LF never reach the wire); the
 * null reverse-path only where empty_ok. */
static bool address_ok(const char *a, bool empty_ok)
{
	if (*a == '\0')
		return empty_ok;
	return pd_addr_spec_valid(a, PD_ADDR_UTF8);
}

/* ------------------------------------------------------------ failures */

static bool is_cert_error(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_ISSUER_ERROR ||
	       rc == CURLE_SSL_INVALIDCERTSTATUS || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

static bool is_setup_error(CURLcode rc)
{
	return rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT ||
	       rc == CURLE_NOT_BUILT_IN || rc == CURLE_UNKNOWN_OPTION ||
	       rc == CURLE_BAD_FUNCTION_ARGUMENT || rc == CURLE_FUNCTION_NOT_FOUND ||
	       rc == CURLE_SSL_ENGINE_NOTFOUND || rc == CURLE_SSL_ENGINE_SETFAILED ||
	       rc == CURLE_SSL_ENGINE_INITFAILED || rc == CURLE_FAILED_INIT;
}

/* The code of the last reply read for this message (QUIT's aside), 0 when
 * none was.  It is taken from the line we saw during this transfer, so a
 * code left from an earlier message never counts; CURLINFO_RESPONSE_CODE
 * (which also skips QUIT) must agree. */
static int reply_code(struct pd_smtp *s)
{
	long code = 0;
	const char *r = s->reply;

	if (!(r[0] >= '2' && r[0] <= '5' && r[1] >= '0' && r[1] <= '9' && r[2] >= '0' &&
	      r[2] <= '9'))
		return 0;
	int seen = (r[0] - '0') * 100 + (r[1] - '0') * 10 + (r[2] - '0');
	if (curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == seen)
		return (int)code;
	return seen;
}

/* What the failed step was waiting for, when no command was sent yet. */
static const char *stage_name(struct pd_smtp *s)
{
	curl_off_t connect_us = 0, tls_us = 0;

	if (s->stage[0])
		return s->stage;
	curl_easy_getinfo(s->curl, CURLINFO_CONNECT_TIME_T, &connect_us);
	curl_easy_getinfo(s->curl, CURLINFO_APPCONNECT_TIME_T, &tls_us);
	if (connect_us == 0)
		return "the TCP connection";
	if (s->cfg->tls == PD_TLS_IMPLICIT && tls_us == 0)
		return "the TLS handshake";
	return "the greeting";
}

/*
 * Map a failed transfer to err.  A 4xx/5xx reply decides by itself (it ended
 * the transaction); otherwise the CURLcode: certificate and STARTTLS problems
 * are PERM (retrying cannot help until the operator acts), setup problems
 * FATAL, everything else (refused, timed out, reset, TLS handshake) TEMP.
 */
static int map_failure(struct pd_smtp *s, CURLcode rc, struct pd_err *err)
{
	const struct pd_smtp_cfg *cfg = s->cfg;
	const char *why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);
	int code = reply_code(s);

	if (code >= 400 && code <= 599) {
		enum pd_err_class cls = code < 500 ? PD_ERR_TEMP : PD_ERR_PERM;
		bool auth = pd_str_istartswith(s->stage, "AUTH");
		return pd_err_set(err, cls, PD_SRC_SMTP, code, "%s answered %s%s%s%s with: %s",
				  s->hostport, stage_name(s), auth ? " (user " : "",
				  auth ? cfg->user : "", auth ? ")" : "", s->reply);
	}
	if (is_cert_error(rc)) {
		if (cfg->ca_file != NULL)
			return pd_err_set(
			    err, PD_ERR_PERM, PD_SRC_SMTP, 0,
			    "certificate of %s not trusted (%s): it must be issued by "
			    "a CA in smtp.ca_file %s, be within its validity dates and name "
			    "host %s",
			    s->hostport, why, cfg->ca_file, cfg->host ? cfg->host : "?");
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_SMTP, 0,
				  "certificate of %s not trusted by the system CA store (%s): set "
				  "smtp.ca_file to the CA that issued it, or give the server a "
				  "certificate for host %s",
				  s->hostport, why, cfg->host ? cfg->host : "?");
	}
	switch (rc) {
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
		return pd_err_set(
		    err, PD_ERR_PERM, PD_SRC_SMTP, 0, "smtp.ca_file %s cannot be used for %s: %s",
		    cfg->ca_file ? cfg->ca_file : "(system CA store)", s->hostport, why);
	case CURLE_USE_SSL_FAILED:
		return pd_err_set(
		    err, PD_ERR_PERM, PD_SRC_SMTP, 0,
		    "%s does not offer STARTTLS (smtp.tls = \"starttls\"), so no mail "
		    "is sent in clear text: %s",
		    s->hostport, why);
	case CURLE_LOGIN_DENIED:
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_SMTP, 0, "login as %s to %s failed: %s",
				  cfg->user ? cfg->user : "(none)", s->hostport, why);
	case CURLE_OPERATION_TIMEDOUT:
		return pd_err_set(err, PD_ERR_TEMP, PD_SRC_SMTP, 0,
				  "%s: timed out after %llds waiting for %s (%s)", s->hostport,
				  (long long)(cfg->timeout > 0 ? cfg->timeout : 60), stage_name(s),
				  why);
	default:
		break;
	}
	if (is_setup_error(rc))
		return pd_err_set(err, PD_ERR_FATAL, PD_SRC_SMTP, 0, "cannot send to %s (url %s): %s",
				  s->hostport, cfg->url ? cfg->url : "(none)", why);
	return pd_err_set(err, PD_ERR_TEMP, PD_SRC_SMTP, 0, "%s: %s failed: %s (curl %d)", s->hostport,
			  stage_name(s), why, (int)rc);
}

/* --------------------------------------------------------------- send */

int pd_smtp_send(struct pd_smtp *s, const char *mail_from, const char *const *rcpts, size_t n,
		 const char *data, size_t len, struct pd_err *err)
{
	struct curl_slist *list = NULL;
	char *from;
	CURLcode rc;

	if (s->setup_rc != CURLE_OK)
		return pd_err_set(err, PD_ERR_FATAL, PD_SRC_SMTP, 0,
				  "libcurl refused %s for %s: %s (libcurl %s)", s->setup_what,
				  s->hostport, curl_easy_strerror(s->setup_rc), curl_version());
	if (mail_from == NULL)
		mail_from = s->cfg->from_address ? s->cfg->from_address : "";
	if (!address_ok(mail_from, true))
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_SMTP, 0, "invalid sender address \"%.200s\"",
				  mail_from);
	if (n == 0)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_SMTP, 0, "message without recipients");
	if (len == 0)
		return pd_err_set(err, PD_ERR_PERM, PD_SRC_SMTP, 0, "empty message");
	for (size_t i = 0; i < n; i++) {
		if (rcpts[i] == NULL || !address_ok(rcpts[i], false)) {
			curl_slist_free_all(list);
			return pd_err_set(err, PD_ERR_PERM, PD_SRC_SMTP, 0,
					  "invalid recipient address \"%.200s\"",
					  rcpts[i] ? rcpts[i] : "(null)");
		}
		char *r = pd_xasprintf("<%s>", rcpts[i]);
		struct curl_slist *l = curl_slist_append(list, r);
		free(r);
		if (l == NULL) {
			fprintf(stderr, "postdesk: out of memory\n");
			abort();
		}
		list = l;
	}
	from = pd_xasprintf("<%s>", mail_from);

	s->data = data;
	s->len = len;
	s->off = 0;
	s->errbuf[0] = '\0';
	s->reply[0] = '\0';
	s->stage[0] = '\0';
	s->data_started = false;
	s->quitting = false;

	for (int attempt = 0;; attempt++) {
		const char *token = NULL;

		if (s->cfg->oauth2 != NULL &&
		    pd_oauth2_token("smtp", s->cfg->oauth2, attempt > 0, &token, err) < 0) {
			/* not this message's fault: code 0 keeps the row for a retry
			 * (outbox.c), whatever the class */
			if (err != NULL) {
				err->code = 0;
				err->src = PD_SRC_SMTP;
			}
			rc = CURLE_LOGIN_DENIED;
			break;
		}
		SETOPT(s, CURLOPT_MAIL_FROM, from);
		SETOPT(s, CURLOPT_MAIL_RCPT, list);
		SETOPT(s, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
		if (token != NULL)
			SETOPT(s, CURLOPT_XOAUTH2_BEARER, token); /* libcurl keeps a copy */
		if (s->setup_rc != CURLE_OK) {
			rc = s->setup_rc;
			pd_err_set(err, PD_ERR_FATAL, PD_SRC_SMTP, 0, "libcurl refused %s for %s: %s",
				   s->setup_what, s->hostport, curl_easy_strerror(rc));
			reset_handle(s);
			break;
		}
		int64_t t0 = pd_now_ms();
		long connects = 0;

		rc = curl_easy_perform(s->curl);
		curl_easy_getinfo(s->curl, CURLINFO_NUM_CONNECTS, &connects);
		if (rc == CURLE_OK) {
			pd_log_debug(
			    "smtp: accepted by %s: %s bytes=%zu rcpts=%zu connection=%s ms=%lld",
			    s->hostport, s->reply, len, n, connects ? "new" : "reused",
			    (long long)(pd_now_ms() - t0));
			break;
		}
		bool auth_refused = s->cfg->oauth2 != NULL &&
				    (rc == CURLE_LOGIN_DENIED || pd_str_istartswith(s->stage, "AUTH"));
		map_failure(s, rc, err);
		pd_log_debug("smtp: failed: %s (curl %d, new connections %ld)",
			     err ? err->msg : "", (int)rc, connects);
		/* never reuse a session that has seen an error */
		reset_handle(s);
		if (!auth_refused)
			break;
		pd_oauth2_invalidate("smtp");
		if (attempt > 0) {
			/* a login problem, not this message's: keep it for a retry */
			if (err != NULL) {
				err->code = 0;
				pd_err_prefix(err, "the access token was refused also when fresh "
						   "(check the scope, e.g. SMTP.Send, and that SMTP AUTH "
						   "is enabled for %s)",
					      s->cfg->user);
			}
			break;
		}
		pd_log_notice("smtp: %s refused the access token (%s); fetching a new one and trying "
			      "once more",
			      s->hostport,
			      pd_str_istartswith(s->reply, "334") ? "its error challenge"
			      : s->reply[0]                        ? s->reply
								   : "no reply");
		s->off = 0;
		s->errbuf[0] = '\0';
		s->reply[0] = '\0';
		s->stage[0] = '\0';
		s->data_started = false;
		s->quitting = false;
	}
	/* libcurl keeps the pointers, not copies of the list: unset before freeing */
	if (s->curl != NULL && rc == CURLE_OK)
		curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL);
	curl_slist_free_all(list);
	free(from);
	s->data = NULL;
	s->len = s->off = 0;
	return rc == CURLE_OK ? 0 : -1;
}
