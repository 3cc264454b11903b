/*
 * config_secrets.c - passwords, password files and systemd credentials,
 * and the OAuth 2.0 sections with their client secrets and refresh tokens.
 * Secrets read here are wiped from memory when no longer needed.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <confuse.h>
#include <curl/curl.h>

#include "config.h"
#include "config_int.h"
#include "confload.h"
#include "log.h"
#include "util.h"

#define PASSWORD_FILE_MAX 4096
#define CRED_PREFIX "$CREDENTIALS_DIRECTORY/"

/* ------------------------------------------------------------- secrets */

/*
 * Where a password_file value points:
 *   "$CREDENTIALS_DIRECTORY/NAME"  -> $CREDENTIALS_DIRECTORY/NAME (must be set)
 *   "/abs/path"                    -> as written
 *   "NAME" (no '/') and CREDENTIALS_DIRECTORY set -> $CREDENTIALS_DIRECTORY/NAME
 *   any other relative path        -> relative to the config file's directory
 * Returns NULL (and reports) when it cannot be resolved.
 */
static char *resolve_secret_path(struct ctx *c, int line, const char *v)
{
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	bool have_cred = cred != NULL && *cred != '\0';

	if (strncmp(v, CRED_PREFIX, strlen(CRED_PREFIX)) == 0) {
		const char *rest = v + strlen(CRED_PREFIX);
		if (!have_cred) {
			report(c, line, "password_file: \"%s\" needs $CREDENTIALS_DIRECTORY, which "
					"is not set (LoadCredential= in the systemd unit)",
			       v);
			return NULL;
		}
		if (*rest == '\0' || strchr(rest, '/') != NULL) {
			report(c, line, "password_file: \"%s\" must name one credential", v);
			return NULL;
		}
		return pd_xasprintf("%s/%s", cred, rest);
	}
	if (v[0] == '/')
		return pd_xstrdup(v);
	if (strchr(v, '/') == NULL && have_cred)
		return pd_xasprintf("%s/%s", cred, v);
	return pd_xasprintf("%s/%s", c->dir, v);
}

/*
 * Read a one-line secret: at most PASSWORD_FILE_MAX bytes, one trailing
 * newline ("\n" or "\r\n") removed.  Buffers are wiped.  Returns the
 * password or NULL with *why set (errno text or a reason).
 */
static char *read_secret_file(const char *path, char *why, size_t why_len)
{
	char *buf = pd_xmalloc(PASSWORD_FILE_MAX + 2);
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		snprintf(why, why_len, "%s", strerror(errno));
		free(buf);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, PASSWORD_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, why_len, "%s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > PASSWORD_FILE_MAX) {
			snprintf(why, why_len, "larger than %d bytes", PASSWORD_FILE_MAX);
			goto fail;
		}
	}
	close(fd);
	fd = -1;
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	buf[len] = '\0';
	if (len == 0) {
		snprintf(why, why_len, "the file is empty");
		goto fail;
	}
	if (memchr(buf, '\n', len) || memchr(buf, '\r', len) || memchr(buf, '\0', len)) {
		snprintf(why, why_len, "the password must be one line");
		goto fail;
	}
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	explicit_bzero(buf, PASSWORD_FILE_MAX + 2);
	free(buf);
	return NULL;
}

/*
 * Resolve the password of sec from password / password_file / the
 * credential cred_name.  required: report when none is given.  Returns the
 * password (owned) or NULL.
 */
char *get_password(struct ctx *c, cfg_t *sec, const char *cred_name, bool required)
{
	const char *inline_pw = get_str(sec, "password");
	const char *file = get_str(sec, "password_file");
	char why[256];

	if (inline_pw != NULL && file != NULL) {
		report(c, key_line(c, sec, "password_file"),
		       "set either password or password_file, not both");
		return NULL;
	}
	if (inline_pw != NULL) {
		if (*inline_pw == '\0') {
			report(c, key_line(c, sec, "password"), "password: must not be empty");
			return NULL;
		}
		if (c->group_readable) {
			report(c, key_line(c, sec, "password"),
			       "inline password in a file readable by group/other; chmod 600 %s or "
			       "use password_file",
			       c->path);
			return NULL;
		}
		return pd_xstrdup(inline_pw);
	}
	if (file != NULL) {
		int line = key_line(c, sec, "password_file");
		if (*file == '\0') {
			report(c, line, "password_file: must not be empty");
			return NULL;
		}
		char *path = resolve_secret_path(c, line, file);
		if (path == NULL)
			return NULL;
		char *pw = read_secret_file(path, why, sizeof(why));
		if (pw == NULL)
			report(c, line, "password_file: cannot use \"%s\": %s", path, why);
		free(path);
		return pw;
	}
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	if (cred != NULL && *cred != '\0') {
		char *path = pd_xasprintf("%s/%s", cred, cred_name);
		if (access(path, F_OK) == 0) {
			char *pw = read_secret_file(path, why, sizeof(why));
			if (pw == NULL)
				report(c, sec_line(c, sec), "credential \"%s\": %s", path, why);
			free(path);
			return pw;
		}
		free(path);
	}
	if (required) {
		char *d = sec_desc(cfg_name(sec), cfg_title(sec));
		report(c, sec_line(c, sec),
		       "%s: no password: set password_file (preferred) or password, or provide the "
		       "credential '%s' in $CREDENTIALS_DIRECTORY",
		       d, cred_name);
		free(d);
	}
	return NULL;
}

/* Wipe libconfuse's copy of a secret before cfg_free. */
void wipe_value(cfg_t *sec, const char *key)
{
	char *v = cfg_getstr(sec, key);

	if (v != NULL)
		explicit_bzero(v, strlen(v));
}

/* libpq conninfo with a password: "password=..." or "scheme://user:pw@". */
bool conninfo_has_password(const char *s)
{
	if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0) {
		const char *auth = strstr(s, "://") + 3;
		size_t alen = strcspn(auth, "/?");
		const char *at = memchr(auth, '@', alen);
		if (at != NULL && memchr(auth, ':', (size_t)(at - auth)) != NULL)
			return true;
		const char *q = strchr(s, '?');
		return q != NULL && (strstr(q, "?password=") || strstr(q, "&password="));
	}
	for (const char *p = s; (p = strstr(p, "password")) != NULL; p += 8) {
		if (p != s && !isspace((unsigned char)p[-1]))
			continue;
		const char *e = p + 8;
		while (isspace((unsigned char)*e))
			e++;
		if (*e == '=')
			return true;
	}
	return false;
}

void check_readable(struct ctx *c, cfg_t *sec, const char *key, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		report(c, key_line(c, sec, key), "%s: cannot read \"%s\": %s", key, path,
		       strerror(errno));
		return;
	}
	close(fd);
}

/* ------------------------------------------------------------ OAuth 2.0 */

/* The last scanned section called name inside sec; NULL when not written. */
static const struct scan_sec *scan_kid(const struct ctx *c, cfg_t *sec, const char *name)
{
	const struct scan_sec *inst[8], *found = NULL;
	size_t n = sec_instances(c, sec, inst, PD_ARRAY_LEN(inst));

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < inst[i]->n_kids; k++)
			if (strcmp(inst[i]->kids[k]->name, name) == 0)
				found = inst[i]->kids[k];
	return found;
}

/* An endpoint URL: https://, or http:// to a loopback host (tests, a
 * local token broker).  Parsed by libcurl, which will use it. */
static void check_endpoint(struct ctx *c, cfg_t *sec, const char *key, const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int line = key_line(c, sec, key);

	if (u == NULL)
		abort();
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		report(c, line, "%s: \"%s\" is not a URL (https://HOST/PATH)", key, url);
	} else if (strcmp(scheme, "https") == 0) {
		; /* fine */
	} else if (strcmp(scheme, "http") == 0) {
		size_t hl = strlen(host);
		char *h = hl >= 2 && host[0] == '[' ? pd_xstrndup(host + 1, hl - 2) : pd_xstrdup(host);
		if (!pd_config_host_is_loopback(h))
			report(c, line,
			       "%s: \"%s\": http:// is allowed only to a loopback address; use "
			       "https://",
			       key, url);
		free(h);
	} else {
		report(c, line, "%s: \"%s\": the scheme must be https://", key, url);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
}

/* refresh_token_file: absolute, or relative to the config's directory (it
 * is written back, so never in $CREDENTIALS_DIRECTORY, which is read-only).
 * It may not exist yet (`postdesk oauth2` creates it); its directory must. */
static char *refresh_token_path(struct ctx *c, cfg_t *sec, const char *what, const char *login,
				const char *v)
{
	int line = key_line(c, sec, "refresh_token_file");
	char *path = v[0] == '/' ? pd_xstrdup(v) : pd_xasprintf("%s/%s", c->dir, v);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd >= 0) {
		close(fd);
		return path;
	}
	if (errno != ENOENT) {
		report(c, line, "refresh_token_file: cannot read \"%s\": %s", path, strerror(errno));
		return path;
	}
	char *dir = pd_xstrdup(path), *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir)
		*slash = '\0';
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		report(c, line, "refresh_token_file: the directory of \"%s\" does not exist", path);
	else
		pd_log_warning("%s:%d: %s: refresh_token_file \"%s\" does not exist yet: run "
			       "`postdesk -c %s oauth2 %s` to sign in once",
			       c->path, line, what, path, c->path, login);
	free(dir);
	return path;
}

/*
 * auth = xoauth2 | oauthbearer: the oauth2 { } section or token_command of
 * sec (a mailbox or smtp).  Returns the owned configuration, or NULL when
 * auth is a password (then neither may be written) or on errors (reported).
 */
struct pd_oauth2_cfg *load_oauth2(struct ctx *c, cfg_t *sec, const char *what,
					 const char *login, enum pd_imap_auth auth, int64_t timeout)
{
	const struct scan_sec *kid = scan_kid(c, sec, "oauth2");
	const char *cmd = get_str(sec, "token_command");
	bool oauth = auth == PD_IMAP_AUTH_XOAUTH2 || auth == PD_IMAP_AUTH_OAUTHBEARER;
	const char *mech = auth == PD_IMAP_AUTH_XOAUTH2 ? "xoauth2" : "oauthbearer";
	struct pd_oauth2_cfg *o;

	if (!oauth) {
		if (kid != NULL)
			report(c, kid->line,
			       "%s: an oauth2 section needs auth = \"xoauth2\" or \"oauthbearer\"",
			       what);
		if (cmd != NULL)
			report(c, key_line(c, sec, "token_command"),
			       "token_command: needs auth = \"xoauth2\" or \"oauthbearer\"");
		return NULL;
	}
	if (get_str(sec, "password") != NULL || get_str(sec, "password_file") != NULL) {
		const char *k = get_str(sec, "password") != NULL ? "password" : "password_file";
		report(c, key_line(c, sec, k), "%s: not used with auth = \"%s\"; remove it", k, mech);
	}
	o = pd_xcalloc(1, sizeof(*o));
	o->timeout = timeout;
	if (kid != NULL && cmd != NULL) {
		report(c, key_line(c, sec, "token_command"),
		       "%s: set either an oauth2 section or token_command, not both", what);
		return o;
	}
	if (kid == NULL && cmd == NULL) {
		report(c, key_line(c, sec, "auth"),
		       "%s: auth = \"%s\" needs an oauth2 { } section or token_command", what, mech);
		return o;
	}
	if (cmd != NULL) {
		if (*cmd == '\0')
			report(c, key_line(c, sec, "token_command"), "token_command: must not be empty");
		o->token_command = pd_xstrdup(cmd);
		return o;
	}

	cfg_t *os = cfg_getsec(sec, "oauth2");
	if (os == NULL || c->n_nested == PD_ARRAY_LEN(c->nested)) {
		report(c, kid->line, "%s: too many oauth2 sections", what);
		return o;
	}
	c->nested[c->n_nested].sec = os;
	c->nested[c->n_nested].scan = kid;
	c->n_nested++;

	const char *v = need_str(c, os, "token_url");
	if (v != NULL) {
		o->token_url = pd_xstrdup(v);
		check_endpoint(c, os, "token_url", v);
	}
	v = opt_str(c, os, "device_url");
	if (v != NULL) {
		o->device_url = pd_xstrdup(v);
		check_endpoint(c, os, "device_url", v);
	}
	o->client_id = pd_xstrdup(need_str(c, os, "client_id"));
	o->scope = pd_xstrdup(need_str(c, os, "scope"));
	v = get_str(os, "grant");
	if (strcmp(v, "refresh_token") == 0)
		o->grant = PD_OAUTH2_GRANT_REFRESH_TOKEN;
	else if (strcmp(v, "client_credentials") == 0)
		o->grant = PD_OAUTH2_GRANT_CLIENT_CREDENTIALS;
	else
		report(c, key_line(c, os, "grant"),
		       "grant: must be refresh_token or client_credentials, not \"%s\"", v);
	v = opt_str(c, os, "client_secret_file");
	if (v != NULL) {
		int line = key_line(c, os, "client_secret_file");
		char why[256];
		char *path = resolve_secret_path(c, line, v);
		if (path != NULL) {
			o->client_secret = read_secret_file(path, why, sizeof(why));
			if (o->client_secret == NULL)
				report(c, line, "client_secret_file: cannot use \"%s\": %s", path, why);
			free(path);
		}
	} else if (o->grant == PD_OAUTH2_GRANT_CLIENT_CREDENTIALS) {
		report(c, key_line(c, os, "grant"),
		       "grant = \"client_credentials\" needs client_secret_file");
	}
	v = opt_str(c, os, "refresh_token_file");
	if (o->grant == PD_OAUTH2_GRANT_REFRESH_TOKEN) {
		if (v == NULL && get_str(os, "refresh_token_file") == NULL)
			report(c, kid->line,
			       "%s: oauth2: grant = \"refresh_token\" needs refresh_token_file", what);
		else if (v != NULL)
			o->refresh_token_file = refresh_token_path(c, os, what, login, v);
	} else if (v != NULL) {
		report(c, key_line(c, os, "refresh_token_file"),
		       "refresh_token_file: not used with grant = \"client_credentials\"");
	}
	return o;
}

void oauth2_cfg_free(struct pd_oauth2_cfg *o)
{
	if (o == NULL)
		return;
	free(o->token_url);
	free(o->device_url);
	free(o->client_id);
	pd_free_secret(o->client_secret);
	free(o->refresh_token_file);
	free(o->scope);
	free(o->token_command);
	free(o);
}
