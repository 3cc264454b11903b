/*
 * oauth2.c - OAuth 2.0 access tokens for IMAP and SMTP logins.
 *
 * Owns: the SASL XOAUTH2 and OAUTHBEARER initial responses, parsing token
 * endpoint answers (json-c), the refresh decision, a process-wide cache of
 * access tokens keyed by login ("mailbox NAME", "smtp"), the token request
 * (libcurl, application/x-www-form-urlencoded), token_command, the atomic
 * write-back of a rotated refresh token, and the device-code consent of
 * RFC 8628 for `postdesk oauth2`.
 *
 * Secrets (access token, refresh token, client secret) live only in buffers
 * of this file and the callers' SASL strings; they are wiped before being
 * freed and never formatted into a log line or an error text.  Error texts
 * carry the endpoint's "error" code and, at most, its error_description
 * (which servers write for people, not secrets).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <gnutls/gnutls.h>

#include "ioutil.h"
#include "log.h"
#include "oauth2.h"
#include "util.h"

extern char **environ;

#define ANSWER_MAX (64 * 1024)      /* a token answer is a few KB at most */
#define COMMAND_OUT_MAX (16 * 1024) /* a token_command's stdout */
#define COMMAND_LIFETIME 300        /* seconds a token_command's token is kept */
#define DEFAULT_LIFETIME 3600       /* when a token answer has no expires_in */

/* ------------------------------------------------------------ pure part */

static char *b64(const char *data, size_t len)
{
	/* GnuTLS only reads the input; its datum type has no const */
	const gnutls_datum_t in = {(unsigned char *)(uintptr_t)data, (unsigned int)len};
	gnutls_datum_t enc = {NULL, 0};

	/* what is encoded holds a token: GnuTLS's copy is wiped before it goes */
	if (len > UINT_MAX / 2 || gnutls_base64_encode2(&in, &enc) < 0) {
		fputs("postdesk: out of memory\n", stderr);
		abort();
	}
	char *out = pd_xmalloc((size_t)enc.size + 1);
	memcpy(out, enc.data, enc.size);
	out[enc.size] = '\0';
	explicit_bzero(enc.data, enc.size);
	gnutls_free(enc.data);
	return out;
}

/* b64 of a pd_buf holding a secret; the buffer is wiped and freed. */
static char *b64_secret_buf(struct pd_buf *b)
{
	char *out = b64(b->data ? b->data : "", b->len);

	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	pd_buf_free(b);
	return out;
}

char *pd_oauth2_sasl_xoauth2(const char *user, const char *token)
{
	struct pd_buf b;

	pd_buf_init(&b);
	pd_buf_printf(&b, "user=%s\001auth=Bearer %s\001\001", user, token);
	return b64_secret_buf(&b);
}

char *pd_oauth2_sasl_oauthbearer(const char *user, const char *host, unsigned port,
				 const char *token)
{
	struct pd_buf b;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "n,a=");
	for (const char *p = user; *p; p++) {
		if (*p == ',')
			pd_buf_append_str(&b, "=2C");
		else if (*p == '=')
			pd_buf_append_str(&b, "=3D");
		else
			pd_buf_append_char(&b, *p);
	}
	pd_buf_printf(&b, ",\001host=%s\001port=%u\001auth=Bearer %s\001\001", host, port, token);
	return b64_secret_buf(&b);
}

void pd_oauth2_secret_free(char *s)
{
	pd_free_secret(s);
}

void pd_oauth2_answer_free(struct pd_oauth2_answer *a)
{
	if (a == NULL)
		return;
	pd_free_secret(a->access_token);
	free(a->token_type);
	pd_free_secret(a->refresh_token);
	free(a->error);
	free(a->error_description);
	pd_free_secret(a->device_code);
	free(a->user_code);
	free(a->verification_uri);
	memset(a, 0, sizeof(*a));
}

/* A string field; false when present with another type. */
static bool take_str(struct json_object *o, const char *key, char **out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	free(*out);
	*out = pd_xstrndup(json_object_get_string(v), (size_t)json_object_get_string_len(v));
	return true;
}

/* A non-negative integer given as a number or a numeric string. */
static bool take_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return true;
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);
		if (n < 0)
			return false;
		*out = n;
		return true;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		char *end;
		long long n;

		errno = 0;
		n = strtoll(s, &end, 10);
		if (end == s || *end != '\0' || errno != 0 || n < 0)
			return false;
		*out = n;
		return true;
	}
	return false;
}

int pd_oauth2_parse_answer(const char *json, size_t len, struct pd_oauth2_answer *a, char *why,
			   size_t why_len)
{
	struct json_tokener *tok;
	struct json_object *o;
	const char *bad = NULL;

	memset(a, 0, sizeof(*a));
	if (len > INT_MAX) {
		snprintf(why, why_len, "answer too long");
		return -1;
	}
	tok = json_tokener_new();
	if (tok == NULL)
		abort();
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) < len) {
		/* trailing white space is fine; anything else is not JSON */
		size_t off = o != NULL ? json_tokener_get_parse_end(tok) : 0;
		bool only_space = o != NULL;
		for (size_t i = off; only_space && i < len; i++)
			only_space = json[i] == ' ' || json[i] == '\n' || json[i] == '\r' ||
				     json[i] == '\t';
		if (!only_space) {
			snprintf(why, why_len, "answer is not JSON (%s)",
				 o == NULL ? json_tokener_error_desc(json_tokener_get_error(tok))
					   : "data after the object");
			json_object_put(o);
			json_tokener_free(tok);
			return -1;
		}
	}
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(why, why_len, "answer is JSON but not an object");
		json_object_put(o);
		return -1;
	}
	if (!take_str(o, "access_token", &a->access_token))
		bad = "access_token";
	else if (!take_str(o, "token_type", &a->token_type))
		bad = "token_type";
	else if (!take_str(o, "refresh_token", &a->refresh_token))
		bad = "refresh_token";
	else if (!take_int(o, "expires_in", &a->expires_in))
		bad = "expires_in";
	else if (!take_str(o, "error", &a->error))
		bad = "error";
	else if (!take_str(o, "error_description", &a->error_description))
		bad = "error_description";
	else if (!take_str(o, "device_code", &a->device_code))
		bad = "device_code";
	else if (!take_str(o, "user_code", &a->user_code))
		bad = "user_code";
	else if (!take_str(o, "verification_url", &a->verification_uri) ||
		 !take_str(o, "verification_uri", &a->verification_uri))
		bad = "verification_uri";
	else if (!take_int(o, "interval", &a->interval))
		bad = "interval";
	json_object_put(o);
	if (bad != NULL) {
		snprintf(why, why_len, "answer has a malformed \"%s\"", bad);
		pd_oauth2_answer_free(a);
		return -1;
	}
	return 0;
}

bool pd_oauth2_refresh_due(int64_t obtained_at, int64_t expires_at, int64_t now)
{
	int64_t margin;

	if (expires_at == 0)
		return true;
	margin = (expires_at - obtained_at) / 5;
	if (margin > 300)
		margin = 300;
	if (margin < 1)
		margin = 1;
	return now >= expires_at - margin;
}

char *pd_oauth2_device_url_for(const char *token_url)
{
	static const char ms_host[] = "https://login.microsoftonline.com/";
	static const char ms_tail[] = "/oauth2/v2.0/token";
	size_t n;

	if (token_url == NULL)
		return NULL;
	n = strlen(token_url);
	if (strncmp(token_url, ms_host, sizeof(ms_host) - 1) == 0 && n > sizeof(ms_tail) - 1 &&
	    strcmp(token_url + n - (sizeof(ms_tail) - 1), ms_tail) == 0) {
		const char *tenant = token_url + sizeof(ms_host) - 1;
		size_t tl = n - (sizeof(ms_host) - 1) - (sizeof(ms_tail) - 1);
		if (tl == 0 || memchr(tenant, '/', tl) != NULL)
			return NULL;
		return pd_xasprintf("%s%.*s/oauth2/v2.0/devicecode", ms_host, (int)tl, tenant);
	}
	if (strcmp(token_url, "https://oauth2.googleapis.com/token") == 0 ||
	    strcmp(token_url, "https://accounts.google.com/o/oauth2/token") == 0 ||
	    strcmp(token_url, "https://www.googleapis.com/oauth2/v4/token") == 0)
		return pd_xstrdup("https://oauth2.googleapis.com/device/code");
	return NULL;
}

enum pd_oauth2_poll pd_oauth2_poll_decide(const struct pd_oauth2_answer *a)
{
	if (a->error == NULL)
		return a->access_token != NULL && *a->access_token ? PD_OAUTH2_POLL_DONE
								   : PD_OAUTH2_POLL_FAILED;
	if (strcmp(a->error, "authorization_pending") == 0)
		return PD_OAUTH2_POLL_WAIT;
	if (strcmp(a->error, "slow_down") == 0)
		return PD_OAUTH2_POLL_SLOWER;
	if (strcmp(a->error, "access_denied") == 0 ||
	    strcmp(a->error, "authorization_declined") == 0)
		return PD_OAUTH2_POLL_DENIED;
	if (strcmp(a->error, "expired_token") == 0 || strcmp(a->error, "code_expired") == 0)
		return PD_OAUTH2_POLL_EXPIRED;
	return PD_OAUTH2_POLL_FAILED;
}

/* ---------------------------------------------------------- secret files */

int pd_oauth2_write_secret_file(const char *path, const char *data, struct pd_err *err)
{
	char *dir = pd_xstrdup(path), *slash = strrchr(dir, '/');
	char *tmp;
	size_t len = strlen(data), off = 0;
	int fd, dfd, e;

	if (slash == NULL) {
		free(dir);
		dir = pd_xstrdup(".");
	} else if (slash == dir) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	tmp = pd_xasprintf("%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	if (fchmod(fd, 0600) < 0)
		goto fail_fd;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail_fd;
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		goto fail_fd;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		e = errno;
		if (dfd >= 0)
			close(dfd);
		pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, e,
			   "cannot sync the directory %s after writing %s: %s", dir, path,
			   strerror(e));
		free(tmp);
		free(dir);
		return -1;
	}
	close(dfd);
	free(tmp);
	free(dir);
	return 0;
fail_fd:
	e = errno;
	close(fd);
	errno = e;
fail:
	e = errno;
	unlink(tmp);
	pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, e,
		   "cannot write %s (through %s): %s; check that the directory is writable by "
		   "postdesk",
		   path, tmp, strerror(e));
	free(tmp);
	free(dir);
	return -1;
}

/* The first line of a secret file (wiped on free), or NULL with err. */
static char *read_secret(const char *path, const char *what, const char *key, struct pd_err *err)
{
	char *data = NULL;
	size_t len = 0;

	if (pd_read_file(path, &data, &len) < 0) {
		int e = errno;
		pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, e,
			   "%s: cannot read the %s %s: %s%s", key, what, path, strerror(e),
			   e == ENOENT ? " (run `postdesk oauth2` for it first)" : "");
		return NULL;
	}
	data[strcspn(data, "\r\n")] = '\0';
	if (data[0] == '\0') {
		pd_free_secret(data);
		pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, 0, "%s: the %s %s is empty", key, what,
			   path);
		return NULL;
	}
	return data;
}

/* ------------------------------------------------------------ HTTP POST */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct pd_buf *b = ud;

	if (b->len + size * n > ANSWER_MAX)
		return 0; /* too big: libcurl reports a write error */
	pd_buf_append(b, p, size * n);
	return size * n;
}

/* name=escaped(value) to a form body. */
static void form_add(CURL *c, struct pd_buf *b, const char *name, const char *value)
{
	char *v = curl_easy_escape(c, value, 0);

	if (v == NULL)
		abort();
	if (b->len > 0)
		pd_buf_append_char(b, '&');
	pd_buf_printf(b, "%s=%s", name, v);
	explicit_bzero(v, strlen(v));
	curl_free(v);
}

/*
 * POST form to url; *a receives the parsed answer (also for 4xx, whose body
 * carries "error").  Returns the HTTP status, or -1 with err (TEMP: network,
 * 5xx without JSON; PERM: answer not understood).
 */
static long post_form(const char *key, const char *url, const struct pd_buf *form,
		      int64_t timeout, struct pd_oauth2_answer *a, struct pd_err *err)
{
	CURL *c = curl_easy_init();
	char ebuf[CURL_ERROR_SIZE] = "";
	char why[200];
	struct pd_buf body;
	long status = 0;
	CURLcode rc;

	memset(a, 0, sizeof(*a));
	if (c == NULL)
		abort();
	pd_buf_init(&body);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout > 0 ? timeout : 25));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(timeout > 0 ? timeout : 25));
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form->data ? form->data : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form->len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "postdesk/" PACKAGE_VERSION);
	/* libcurl sets Content-Type: application/x-www-form-urlencoded for
	 * POSTFIELDS; ask for JSON explicitly */
	struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	pd_log_debug("oauth2: POST %s (%zu bytes of form, secrets not shown) login=%s", url,
		     form->len, key);
	rc = curl_easy_perform(c);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		pd_err_set(err, PD_ERR_TEMP, PD_SRC_OAUTH2, (int)rc, "%s: request to %s failed: %s",
			   key, url, *ebuf ? ebuf : curl_easy_strerror(rc));
		status = -1;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	pd_log_debug("oauth2: < HTTP %ld (%zu bytes) login=%s", status, body.len, key);
	if (pd_oauth2_parse_answer(body.data ? body.data : "", body.len, a, why, sizeof(why)) < 0) {
		pd_err_set(err, status >= 500 || status == 429 ? PD_ERR_TEMP : PD_ERR_PERM,
			   PD_SRC_OAUTH2, (int)status, "%s: %s answered HTTP %ld: %s", key,
			   url, status, why);
		status = -1;
	}
out:
	if (body.data != NULL)
		explicit_bzero(body.data, body.cap);
	pd_buf_free(&body);
	curl_easy_cleanup(c);
	return status;
}

/* ------------------------------------------------------------ token_command */

/*
 * Run cfg->token_command with /bin/sh -c, stdin /dev/null.  Its stdout's
 * first line is the token (owned, returned); its stderr goes to the log at
 * warning level with the token masked.  NULL with err on a timeout (TEMP)
 * or a failure (PERM).
 */
static char *run_command(const char *key, const struct pd_oauth2_cfg *cfg, struct pd_err *err)
{
	int out[2] = {-1, -1}, errp[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid;
	struct pd_buf o, e;
	int64_t deadline = pd_now_ms() + (cfg->timeout > 0 ? cfg->timeout : 25) * 1000;
	bool timed_out = false, too_big = false;
	int status = 0, rc;
	char *token = NULL;
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", cfg->token_command, NULL};

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		int en = errno;
		if (out[0] >= 0) {
			close(out[0]);
			close(out[1]);
		}
		pd_err_set(err, PD_ERR_TEMP, PD_SRC_OAUTH2, en, "%s: cannot run token_command: %s", key,
			   strerror(en));
		return NULL;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	posix_spawnattr_init(&attr);
	/* the daemon blocks its signals (signalfd) and ignores SIGPIPE: the
	 * command gets the defaults */
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	sigset_t dflt;
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(out[1]);
	close(errp[1]);
	if (rc != 0) {
		close(out[0]);
		close(errp[0]);
		pd_err_set(err, PD_ERR_TEMP, PD_SRC_OAUTH2, rc, "%s: cannot run token_command: %s", key,
			   strerror(rc));
		return NULL;
	}
	pd_buf_init(&o);
	pd_buf_init(&e);
	struct pollfd pf[2] = {{out[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		int64_t left = deadline - pd_now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		int n = poll(pf, 2, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			char chunk[4096];
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t got = read(pf[i].fd, chunk, sizeof(chunk));
			if (got <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				continue;
			}
			struct pd_buf *b = i == 0 ? &o : &e;
			if (b->len + (size_t)got > COMMAND_OUT_MAX) {
				too_big = i == 0;
				continue; /* drain, keep nothing more */
			}
			pd_buf_append(b, chunk, (size_t)got);
		}
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (o.data != NULL) {
		o.data[strcspn(o.data, "\r\n")] = '\0';
		char *t = pd_str_trim(o.data);
		if (*t != '\0')
			token = pd_xstrdup(t);
	}
	/* the command's complaints, one log line each, never the token */
	if (e.len > 0) {
		char *save = NULL;
		for (char *line = strtok_r(e.data, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			if (token != NULL && strstr(line, token) != NULL)
				line = (char *)"(a line holding the token, not shown)";
			pd_log_warning("oauth2: token_command: %s login=%s", line, key);
		}
	}
	if (timed_out) {
		pd_err_set(err, PD_ERR_TEMP, PD_SRC_OAUTH2, ETIMEDOUT,
			   "%s: token_command did not finish within %llds (killed)", key,
			   (long long)(cfg->timeout > 0 ? cfg->timeout : 25));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, 0,
			   "%s: token_command failed (%s %d); its messages are logged above; fix "
			   "the command or run it by hand to see why",
			   key, WIFEXITED(status) ? "exit status" : "signal",
			   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	} else if (too_big || token == NULL) {
		pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, 0,
			   "%s: token_command printed %s on stdout (expected one access token)",
			   key, too_big ? "more than 16 KB" : "nothing");
	} else {
		pd_buf_free(&e);
		if (o.data != NULL)
			explicit_bzero(o.data, o.cap);
		pd_buf_free(&o);
		return token;
	}
	pd_free_secret(token);
	pd_buf_free(&e);
	if (o.data != NULL)
		explicit_bzero(o.data, o.cap);
	pd_buf_free(&o);
	return NULL;
}

/* ------------------------------------------------------------ token cache */

struct entry {
	struct entry *next;
	char *key;
	char *fingerprint;  /* what the configuration said when the token was got */
	char *access_token; /* NULL = none */
	int64_t obtained_at, expires_at; /* seconds, pd_now_ms() / 1000 */
	uint64_t failures;
};

static struct entry *cache;

static char *fingerprint(const struct pd_oauth2_cfg *cfg)
{
	return pd_xasprintf("%s|%s|%d|%s|%s|%s", cfg->token_url ? cfg->token_url : "",
			    cfg->client_id ? cfg->client_id : "", (int)cfg->grant,
			    cfg->refresh_token_file ? cfg->refresh_token_file : "",
			    cfg->scope ? cfg->scope : "",
			    cfg->token_command ? cfg->token_command : "");
}

static struct entry *find(const char *key)
{
	for (struct entry *e = cache; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void drop_token(struct entry *e)
{
	pd_free_secret(e->access_token);
	e->access_token = NULL;
	e->obtained_at = e->expires_at = 0;
}

static int64_t now_s(void)
{
	return pd_now_ms() / 1000;
}

/* Ask the token endpoint; on success the entry holds the new token. */
static int fetch_from_endpoint(struct entry *ent, const struct pd_oauth2_cfg *cfg,
			       struct pd_err *err)
{
	struct pd_oauth2_answer a;
	struct pd_buf form;
	char *refresh = NULL;
	CURL *esc = curl_easy_init();
	long status;
	int r = -1;

	if (esc == NULL)
		abort();
	pd_buf_init(&form);
	if (cfg->grant == PD_OAUTH2_GRANT_REFRESH_TOKEN) {
		refresh = read_secret(cfg->refresh_token_file, "refresh token file", ent->key, err);
		if (refresh == NULL) {
			curl_easy_cleanup(esc);
			pd_buf_free(&form);
			return -1;
		}
		form_add(esc, &form, "grant_type", "refresh_token");
		form_add(esc, &form, "refresh_token", refresh);
	} else {
		form_add(esc, &form, "grant_type", "client_credentials");
	}
	form_add(esc, &form, "client_id", cfg->client_id);
	if (cfg->client_secret != NULL)
		form_add(esc, &form, "client_secret", cfg->client_secret);
	if (cfg->scope != NULL)
		form_add(esc, &form, "scope", cfg->scope);
	curl_easy_cleanup(esc);

	status = post_form(ent->key, cfg->token_url, &form, cfg->timeout, &a, err);
	explicit_bzero(form.data, form.cap);
	pd_buf_free(&form);
	if (status < 0)
		goto out;
	if (a.error != NULL || status != 200 || a.access_token == NULL || !*a.access_token) {
		const char *code = a.error ? a.error : "no access_token";
		bool grant = a.error != NULL && strcmp(a.error, "invalid_grant") == 0;
		bool client = a.error != NULL && (strcmp(a.error, "invalid_client") == 0 ||
						  strcmp(a.error, "unauthorized_client") == 0);
		const char *login = strncmp(ent->key, "mailbox ", 8) == 0 ? ent->key + 8 : ent->key;
		char consent[200];
		snprintf(consent, sizeof(consent),
			 "the refresh token was revoked or expired: run `postdesk oauth2 %s` to "
			 "consent again",
			 login);
		const char *todo =
			grant ? (cfg->grant == PD_OAUTH2_GRANT_REFRESH_TOKEN
					 ? consent
					 : "the grant was refused: check the app registration")
			: client ? "check client_id and client_secret_file"
			: status >= 500 || status == 429 ? "the endpoint has trouble; retrying"
							 : "check the oauth2 section";
		pd_err_set(err, status >= 500 || status == 429 ? PD_ERR_TEMP : PD_ERR_PERM,
			   PD_SRC_OAUTH2, (int)status,
			   "%s: token endpoint %s refused (HTTP %ld, %s%s%.200s): %s", ent->key,
			   cfg->token_url, status, code, a.error_description ? ": " : "",
			   a.error_description ? a.error_description : "", todo);
		goto out;
	}
	if (a.token_type != NULL && !pd_str_iequal(a.token_type, "Bearer")) {
		pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, 0,
			   "%s: token endpoint %s issued a token of type \"%.40s\", not Bearer",
			   ent->key, cfg->token_url, a.token_type);
		goto out;
	}
	/* A rotated refresh token is saved before the new access token is used:
	 * the old one may already be invalid at the server. */
	if (cfg->grant == PD_OAUTH2_GRANT_REFRESH_TOKEN && a.refresh_token != NULL &&
	    *a.refresh_token && strcmp(a.refresh_token, refresh) != 0) {
		if (pd_oauth2_write_secret_file(cfg->refresh_token_file, a.refresh_token, err) < 0) {
			pd_err_prefix(err, "%s: saving the rotated refresh token", ent->key);
			goto out;
		}
		pd_log_info("oauth2: refresh token rotated, saved to %s login=%s",
			    cfg->refresh_token_file, ent->key);
	}
	drop_token(ent);
	ent->access_token = a.access_token;
	a.access_token = NULL;
	ent->obtained_at = now_s();
	ent->expires_at = ent->obtained_at + (a.expires_in > 0 ? a.expires_in : DEFAULT_LIFETIME);
	pd_log_info("oauth2: access token obtained, valid %llds login=%s",
		    (long long)(ent->expires_at - ent->obtained_at), ent->key);
	r = 0;
out:
	pd_free_secret(refresh);
	pd_oauth2_answer_free(&a);
	return r;
}

int pd_oauth2_token(const char *key, const struct pd_oauth2_cfg *cfg, bool force,
		    const char **token_r, struct pd_err *err)
{
	struct entry *e = find(key);
	char *fp = fingerprint(cfg);
	int r;

	*token_r = NULL;
	if (e == NULL) {
		e = pd_xcalloc(1, sizeof(*e));
		e->key = pd_xstrdup(key);
		e->next = cache;
		cache = e;
	}
	if (e->fingerprint == NULL || strcmp(e->fingerprint, fp) != 0) {
		drop_token(e);
		free(e->fingerprint);
		e->fingerprint = fp;
	} else {
		free(fp);
	}
	if (!force && e->access_token != NULL &&
	    !pd_oauth2_refresh_due(e->obtained_at, e->expires_at, now_s())) {
		*token_r = e->access_token;
		return 0;
	}
	if (cfg->token_command != NULL) {
		char *t = run_command(key, cfg, err);
		if (t == NULL) {
			r = -1;
		} else {
			drop_token(e);
			e->access_token = t;
			e->obtained_at = now_s();
			e->expires_at = e->obtained_at + COMMAND_LIFETIME;
			pd_log_info("oauth2: access token from token_command login=%s", key);
			r = 0;
		}
	} else {
		r = fetch_from_endpoint(e, cfg, err);
	}
	if (r < 0) {
		e->failures++;
		return -1;
	}
	*token_r = e->access_token;
	return 0;
}

void pd_oauth2_invalidate(const char *key)
{
	struct entry *e = find(key);

	if (e != NULL)
		drop_token(e);
}

bool pd_oauth2_status(const char *key, int64_t *expires_in_r, uint64_t *failures_r)
{
	struct entry *e = find(key);

	if (e == NULL)
		return false;
	*expires_in_r = e->access_token != NULL ? e->expires_at - now_s() : 0;
	*failures_r = e->failures;
	return true;
}

void pd_oauth2_cache_free(void)
{
	while (cache != NULL) {
		struct entry *e = cache;
		cache = e->next;
		drop_token(e);
		free(e->fingerprint);
		free(e->key);
		free(e);
	}
}

/* ------------------------------------------------------- consent (CLI) */

int pd_oauth2_device_consent(const char *key, const struct pd_oauth2_cfg *cfg,
			     void (*show)(const char *uri, const char *user_code, void *arg),
			     void *arg, struct pd_err *err)
{
	struct pd_oauth2_answer dev, a;
	struct pd_buf form;
	CURL *esc;
	char *url;
	int64_t interval, deadline;
	long status;
	int r = -1;

	if (cfg->token_url == NULL || cfg->grant != PD_OAUTH2_GRANT_REFRESH_TOKEN ||
	    cfg->refresh_token_file == NULL)
		return pd_err_set(err, PD_ERR_FATAL, PD_SRC_OAUTH2, 0,
				  "%s: consent needs an oauth2 section with grant = "
				  "\"refresh_token\" and refresh_token_file",
				  key);
	url = cfg->device_url ? pd_xstrdup(cfg->device_url)
			      : pd_oauth2_device_url_for(cfg->token_url);
	if (url == NULL)
		return pd_err_set(err, PD_ERR_FATAL, PD_SRC_OAUTH2, 0,
				  "%s: cannot tell the device authorization endpoint from "
				  "token_url %s: set device_url in the oauth2 section",
				  key, cfg->token_url);
	esc = curl_easy_init();
	if (esc == NULL)
		abort();
	pd_buf_init(&form);
	form_add(esc, &form, "client_id", cfg->client_id);
	if (cfg->client_secret != NULL)
		form_add(esc, &form, "client_secret", cfg->client_secret);
	if (cfg->scope != NULL)
		form_add(esc, &form, "scope", cfg->scope);
	status = post_form(key, url, &form, cfg->timeout, &dev, err);
	explicit_bzero(form.data, form.cap);
	pd_buf_free(&form);
	if (status < 0)
		goto out_url;
	if (status != 200 || dev.error != NULL || dev.device_code == NULL ||
	    dev.user_code == NULL || dev.verification_uri == NULL) {
		pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, (int)status,
			   "%s: device authorization endpoint %s refused (HTTP %ld, %s%s%.200s)",
			   key, url, status, dev.error ? dev.error : "answer incomplete",
			   dev.error_description ? ": " : "",
			   dev.error_description ? dev.error_description : "");
		pd_oauth2_answer_free(&dev);
		goto out_url;
	}
	show(dev.verification_uri, dev.user_code, arg);
	interval = dev.interval > 0 ? dev.interval : 5;
	deadline = now_s() + (dev.expires_in > 0 ? dev.expires_in : 900);
	for (;;) {
		struct timespec ts = {(time_t)interval, 0};
		enum pd_oauth2_poll what;

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (now_s() > deadline) {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, 0,
				   "%s: the code expired before the sign-in was completed; run the "
				   "command again",
				   key);
			break;
		}
		pd_buf_init(&form);
		form_add(esc, &form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
		form_add(esc, &form, "device_code", dev.device_code);
		form_add(esc, &form, "client_id", cfg->client_id);
		if (cfg->client_secret != NULL)
			form_add(esc, &form, "client_secret", cfg->client_secret);
		status = post_form(key, cfg->token_url, &form, cfg->timeout, &a, err);
		explicit_bzero(form.data, form.cap);
		pd_buf_free(&form);
		if (status < 0) {
			if (err != NULL && err->cls == PD_ERR_TEMP)
				continue; /* the network hiccuped: keep polling until expiry */
			break;
		}
		what = pd_oauth2_poll_decide(&a);
		if (what == PD_OAUTH2_POLL_WAIT) {
			pd_oauth2_answer_free(&a);
			continue;
		}
		if (what == PD_OAUTH2_POLL_SLOWER) {
			interval += 5; /* RFC 8628 3.5 */
			pd_oauth2_answer_free(&a);
			continue;
		}
		if (what == PD_OAUTH2_POLL_DONE && a.refresh_token == NULL) {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, 0,
				   "%s: signed in, but the server issued no refresh token (add "
				   "offline_access to scope for Microsoft)",
				   key);
		} else if (what == PD_OAUTH2_POLL_DONE) {
			r = pd_oauth2_write_secret_file(cfg->refresh_token_file, a.refresh_token,
							err);
			if (r == 0)
				pd_oauth2_invalidate(key);
		} else {
			pd_err_set(err, PD_ERR_PERM, PD_SRC_OAUTH2, (int)status,
				   "%s: sign-in %s (%s%s%.200s)", key,
				   what == PD_OAUTH2_POLL_DENIED    ? "was declined"
				   : what == PD_OAUTH2_POLL_EXPIRED ? "expired; run the command again"
								    : "failed",
				   a.error ? a.error : "no token", a.error_description ? ": " : "",
				   a.error_description ? a.error_description : "");
		}
		pd_oauth2_answer_free(&a);
		break;
	}
	pd_oauth2_answer_free(&dev);
out_url:
	curl_easy_cleanup(esc);
	free(url);
	return r;
}
