/*
 * config.c - the libconfuse schema, validation, and the immutable
 * struct pd_config built from it.  See config.h.
 *
 * Loading runs in four steps:
 *   1. read the file (and stat it: inline secrets need mode 0600);
 *   2. scan it with a small tokenizer that follows libconfuse's lexer.  The
 *      scan records the line of every section, key and list item, reports
 *      every unknown option/section and every syntax error with its real
 *      line, and blanks out comments and unknown statements (keeping the
 *      newlines) so that
 *   3. libconfuse parses the cleaned text into cfg_t without stopping at
 *      the first unknown key;
 *   4. a checking pass walks cfg_t, converts every value and runs the
 *      cross-field checks, reporting each problem at the line the scan
 *      recorded.
 * Why the scan: libconfuse 3.3 has no per-option line, counts each comment
 * line twice in cfg->line, and calls validate callbacks only after reading
 * the next token, so its line numbers are wrong after the first comment.
 * Blanking comments also makes libconfuse's own syntax messages exact, and
 * lets comments appear anywhere (libconfuse 3.3 rejects them inside lists).
 *
 * Numbers and booleans are declared as strings in the schema and converted
 * in step 4, so that a bad value is one more collected problem instead of a
 * parse error that hides all the others.
 *
 * The loader's files (sharing src/config/config_int.h): this one holds the schema
 * (every default and range), the section checks, build() and the public
 * API; config_lex.c the scan of step 2 and the problem list; config_values.c
 * the value syntax and typed getters; config_secrets.c passwords,
 * credentials and OAuth 2.0; config_templates.c the mail templates.
 *
 * Not reentrant (libconfuse's lexer is not either): load one file at a time.
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
#include "ioutil.h"
#include "log.h"
#include "render.h"
#include "tzif.h"
#include "util.h"

/* ------------------------------------------------------------------ schema */

/*
 * One table per section, keys alphabetical.  CFGF_NODEFAULT marks keys
 * without a default (required ones are checked in step 4, so that a missing
 * key is reported with the section's line).  Every value is a string; see
 * the top of the file.
 *
 * Each default and each range is written here and nowhere else: the checks
 * of step 4 read them from the option.  A whole number's range and a
 * duration's minimum ride in the option's numeric default fields, which
 * libconfuse does not use for a string option (and copies with it into
 * every section it makes from this table).
 */

/* A whole number from lo to hi, def as written in a file (NULL: none). */
#define PD_CFG_INT(name, def, flags, lo, hi)                                                   \
	{name, 0, CFGT_STR, 0, 0, flags, 0, {lo, hi, cfg_false, def, 0}, 0, {.string = 0}, 0, 0, 0, 0, 0}
/* A duration ("30s", "15m", "8h", "3d") of at least min seconds. */
#define PD_CFG_DURATION(name, def, flags, min)                                                 \
	{name, 0, CFGT_STR, 0, 0, flags, 0, {min, 0, cfg_false, def, 0}, 0, {.string = 0}, 0, 0, 0, 0, 0}

static cfg_opt_t database_opts[] = {
	CFG_STR("conninfo", NULL, CFGF_NODEFAULT),
	PD_CFG_DURATION("statement_timeout", "25s", CFGF_NONE, 1),
	CFG_END(),
};

/* oauth2 { } inside a mailbox or smtp section (auth = xoauth2 | oauthbearer) */
static cfg_opt_t oauth2_opts[] = {
	CFG_STR("client_id", NULL, CFGF_NODEFAULT),
	CFG_STR("client_secret_file", NULL, CFGF_NODEFAULT),
	CFG_STR("device_url", NULL, CFGF_NODEFAULT),
	CFG_STR("grant", "refresh_token", CFGF_NONE),
	CFG_STR("refresh_token_file", NULL, CFGF_NODEFAULT),
	CFG_STR("scope", NULL, CFGF_NODEFAULT),
	CFG_STR("token_url", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t mailbox_opts[] = {
	CFG_STR("auth", "auto", CFGF_NONE),
	CFG_STR("ca_file", NULL, CFGF_NODEFAULT),
	CFG_STR("idle", "true", CFGF_NONE),
	CFG_SEC("oauth2", oauth2_opts, CFGF_NONE),
	CFG_STR("password", NULL, CFGF_NODEFAULT),
	CFG_STR("password_file", NULL, CFGF_NODEFAULT),
	PD_CFG_DURATION("poll_interval", "60s", CFGF_NONE, 1),
	CFG_STR("processed_folder", NULL, CFGF_NODEFAULT),
	CFG_STR("queue", "default", CFGF_NONE),
	PD_CFG_DURATION("timeout", "25s", CFGF_NONE, 1),
	CFG_STR("tls", NULL, CFGF_NODEFAULT),
	CFG_STR("token_command", NULL, CFGF_NODEFAULT),
	CFG_STR("url", NULL, CFGF_NODEFAULT),
	CFG_STR("user", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t smtp_opts[] = {
	CFG_STR("auth", "password", CFGF_NONE),
	CFG_STR("ca_file", NULL, CFGF_NODEFAULT),
	CFG_STR("from", NULL, CFGF_NODEFAULT),
	CFG_STR("max_message_size", "25M", CFGF_NONE),
	CFG_SEC("oauth2", oauth2_opts, CFGF_NONE),
	CFG_STR("password", NULL, CFGF_NODEFAULT),
	CFG_STR("password_file", NULL, CFGF_NODEFAULT),
	PD_CFG_DURATION("timeout", "25s", CFGF_NONE, 1),
	CFG_STR("token_command", NULL, CFGF_NODEFAULT),
	CFG_STR("tls", NULL, CFGF_NODEFAULT),
	CFG_STR("url", NULL, CFGF_NODEFAULT),
	CFG_STR("user", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t metrics_opts[] = {
	CFG_STR("listen", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t agents_opts[] = {
	CFG_STR_LIST("addresses", NULL, CFGF_NODEFAULT),
	CFG_STR("max_notice_attachments", "10M", CFGF_NONE),
	CFG_STR_LIST("notify", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("trusted_authserv_ids", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t sla_opts[] = {
	CFG_STR("calendar", "24x7", CFGF_NONE),
	PD_CFG_DURATION("first_response", NULL, CFGF_NODEFAULT, 1),
	PD_CFG_DURATION("resolution", NULL, CFGF_NODEFAULT, 1),
	PD_CFG_INT("warn_at", "80", CFGF_NONE, 1, 100),
	CFG_END(),
};

static cfg_opt_t calendar_opts[] = {
	CFG_STR_LIST("holidays", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("hours", NULL, CFGF_NODEFAULT),
	CFG_STR("timezone", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t plan_opts[] = {
	CFG_STR("calendar", NULL, CFGF_NODEFAULT),
	CFG_STR("critical", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("customers", NULL, CFGF_NODEFAULT),
	CFG_STR("high", NULL, CFGF_NODEFAULT),
	CFG_STR("low", NULL, CFGF_NODEFAULT),
	CFG_STR("normal", NULL, CFGF_NODEFAULT),
	PD_CFG_INT("warn_at", NULL, CFGF_NODEFAULT, 1, 100),
	CFG_END(),
};

static cfg_opt_t line_opts[] = {
	CFG_STR("calendar", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("notify", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t queue_opts[] = {
	CFG_STR_LIST("addresses", NULL, CFGF_NODEFAULT),
	PD_CFG_INT("line", "1", CFGF_NONE, 1, 1000),
	CFG_END(),
};

static cfg_opt_t rule_opts[] = {
	CFG_STR_LIST("exclude", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("fields", NULL, CFGF_NODEFAULT),
	CFG_STR("final", "false", CFGF_NONE),
	CFG_STR_LIST("keywords", NULL, CFGF_NODEFAULT),
	CFG_STR("priority", NULL, CFGF_NODEFAULT),
	CFG_STR("queue", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("senders", NULL, CFGF_NODEFAULT),
	CFG_STR("type", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t type_opts[] = {
	PD_CFG_INT("line", NULL, CFGF_NODEFAULT, 1, 1000),
	CFG_STR("queue", NULL, CFGF_NODEFAULT),
	CFG_END(),
};

static cfg_opt_t root_opts[] = {
	CFG_SEC("agents", agents_opts, CFGF_NONE),
	CFG_STR("batch_bytes", "32M", CFGF_NONE),
	PD_CFG_INT("batch_size", "100", CFGF_NONE, 1, 10000),
	CFG_SEC("calendar", calendar_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_SEC("database", database_opts, CFGF_NONE),
	CFG_SEC("metrics", metrics_opts, CFGF_NONE),
	CFG_STR("default_language", "en", CFGF_NONE),
	CFG_SEC("line", line_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_STR("log_level", "info", CFGF_NONE),
	CFG_SEC("mailbox", mailbox_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_STR("max_message_size", "25M", CFGF_NONE),
	CFG_STR("message_id_domain", NULL, CFGF_NODEFAULT),
	CFG_SEC("plan", plan_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_SEC("queue", queue_opts, CFGF_TITLE | CFGF_MULTI),
	PD_CFG_INT("reopen_days", "14", CFGF_NONE, 0, 3650),
	CFG_SEC("rule", rule_opts, CFGF_TITLE | CFGF_MULTI),
	PD_CFG_DURATION("sla_scan_interval", "10s", CFGF_NONE, 1),
	CFG_SEC("sla", sla_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_SEC("smtp", smtp_opts, CFGF_NONE),
	CFG_STR("subject_tag", "Support", CFGF_NONE),
	CFG_STR("support_address", NULL, CFGF_NODEFAULT),
	PD_CFG_INT("auto_reply_limit_10m", "10", CFGF_NONE, 0, 100000),
	PD_CFG_INT("auto_reply_limit_day", "40", CFGF_NONE, 0, 1000000),
	PD_CFG_INT("suppress_days", "7", CFGF_NONE, 0, 3650),
	CFG_STR("templates_dir", NULL, CFGF_NODEFAULT), /* config_templates.c */
	CFG_STR("trust_priority_headers", "false", CFGF_NONE),
	CFG_SEC("type", type_opts, CFGF_TITLE | CFGF_MULTI),
	CFG_END(),
};


/* ------------------------------------------------------- section checks */

/*
 * tls: default "implicit" for the s-scheme (imaps/smtps), else "starttls".
 * The s-scheme means TLS from the first byte, so any other mode contradicts
 * it; "implicit" on the plain scheme contradicts it the other way.  "none"
 * on the plain scheme is allowed (tests and local relays); the caller warns
 * when the host is not loopback.  Returns 0 / -1 (reported).
 */
static int parse_tls(struct ctx *c, cfg_t *sec, const struct pd_url *u, bool url_ok,
		     const char *scheme, enum pd_tls_mode *out)
{
	const char *v = get_str(sec, "tls");
	int line = key_line(c, sec, "tls");
	enum pd_tls_mode m;

	if (v == NULL) {
		*out = url_ok && u->implicit_tls ? PD_TLS_IMPLICIT : PD_TLS_STARTTLS;
		return 0;
	}
	if (strcmp(v, "implicit") == 0) {
		m = PD_TLS_IMPLICIT;
	} else if (strcmp(v, "starttls") == 0) {
		m = PD_TLS_STARTTLS;
	} else if (strcmp(v, "none") == 0) {
		m = PD_TLS_NONE;
	} else {
		report(c, line, "tls: must be one of implicit, starttls, none, not \"%s\"", v);
		return -1;
	}
	if (url_ok) {
		if (u->implicit_tls && m != PD_TLS_IMPLICIT) {
			report(c, line, "tls = \"%s\" conflicts with %ss:// (implicit TLS); use "
					"tls = \"implicit\" or an %s:// URL",
			       v, scheme, scheme);
			return -1;
		}
		if (!u->implicit_tls && m == PD_TLS_IMPLICIT) {
			report(c, line, "tls = \"implicit\" conflicts with %s://; use an %ss:// URL "
					"or tls = \"starttls\"",
			       scheme, scheme);
			return -1;
		}
	}
	*out = m;
	return 0;
}

static void warn_cleartext(struct ctx *c, cfg_t *sec, const char *what, const char *host)
{
	if (pd_config_host_is_loopback(host))
		return;
	pd_log_warning("%s:%d: %s: tls = \"none\" to %s, which is not a loopback address: "
		       "mail and passwords cross the network unencrypted",
		       c->path, key_line(c, sec, "tls"), what, host);
}

static bool name_valid(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

/*
 * One mailbox "NAME" section.  The name must be usable as a log field, a
 * credential name ("mailbox.NAME.password") and a database key, hence the
 * restricted character set.  host/port/folder come from url; tls defaults
 * from its scheme (see parse_tls).
 */
static void load_mailbox(struct ctx *c, cfg_t *sec, struct pd_mailbox_cfg *mb)
{
	const char *name = cfg_title(sec);
	char why[256];
	struct pd_url u;
	bool url_ok = false;

	mb->name = pd_xstrdup(name);
	if (!name_valid(name))
		report(c, sec_line(c, sec), "mailbox \"%s\": names may use only letters, digits, "
					    "'.', '_' and '-' (at most 64)",
		       name);

	const char *url = need_str(c, sec, "url");
	memset(&u, 0, sizeof(u));
	if (url != NULL) {
		mb->url = pd_xstrdup(url);
		if (pd_config_parse_url(url, PD_URL_IMAP, &u, why, sizeof(why)) < 0) {
			report(c, key_line(c, sec, "url"), "url: \"%s\": %s", url, why);
		} else {
			url_ok = true;
			mb->host = u.host;
			mb->port = u.port;
			mb->folder = u.path;
		}
	}
	if (parse_tls(c, sec, &u, url_ok, "imap", &mb->tls) == 0 && url_ok &&
	    mb->tls == PD_TLS_NONE) {
		char *what = pd_xasprintf("mailbox \"%s\"", name);
		warn_cleartext(c, sec, what, mb->host);
		free(what);
	}

	const char *auth = get_str(sec, "auth");
	if (strcmp(auth, "auto") == 0 || strcmp(auth, "password") == 0)
		mb->auth = PD_IMAP_AUTH_AUTO;
	else if (strcmp(auth, "login") == 0)
		mb->auth = PD_IMAP_AUTH_LOGIN;
	else if (strcmp(auth, "plain") == 0)
		mb->auth = PD_IMAP_AUTH_PLAIN;
	else if (strcmp(auth, "xoauth2") == 0)
		mb->auth = PD_IMAP_AUTH_XOAUTH2;
	else if (strcmp(auth, "oauthbearer") == 0)
		mb->auth = PD_IMAP_AUTH_OAUTHBEARER;
	else
		report(c, key_line(c, sec, "auth"),
		       "auth: must be one of password, xoauth2, oauthbearer (or auto, login, "
		       "plain), not \"%s\"",
		       auth);

	mb->user = pd_xstrdup(need_str(c, sec, "user"));
	get_duration(c, sec, "timeout", &mb->timeout);
	char *what = pd_xasprintf("mailbox \"%s\"", name);
	mb->oauth2 = load_oauth2(c, sec, what, name, mb->auth, mb->timeout);
	free(what);
	if (mb->oauth2 == NULL) {
		char *cred = pd_xasprintf("mailbox.%s.password", name);
		mb->password = get_password(c, sec, cred, true);
		free(cred);
	}

	mb->processed_folder = pd_xstrdup(opt_str(c, sec, "processed_folder"));
	if (mb->processed_folder != NULL && mb->folder != NULL &&
	    strcmp(mb->processed_folder, mb->folder) == 0)
		report(c, key_line(c, sec, "processed_folder"),
		       "processed_folder: \"%s\" is the folder the mailbox reads from",
		       mb->processed_folder);
	mb->ca_file = pd_xstrdup(opt_str(c, sec, "ca_file"));
	if (mb->ca_file != NULL)
		check_readable(c, sec, "ca_file", mb->ca_file);
	mb->queue = pd_xstrdup(need_str(c, sec, "queue"));
	get_duration(c, sec, "poll_interval", &mb->poll_interval);
	get_bool(c, sec, "idle", &mb->idle);
}

/* "Name <addr>" or "addr": returns the addr-spec (owned) or NULL. */
static char *from_address(const char *from)
{
	const char *lt = strrchr(from, '<');
	size_t n = strlen(from);

	for (const char *p = from; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL;
	if (lt == NULL)
		return addr_spec_valid(from) ? pd_xstrdup(from) : NULL;
	if (n < 2 || from[n - 1] != '>' || strchr(lt, '>') != from + n - 1)
		return NULL;
	char *addr = pd_xstrndup(lt + 1, (size_t)(from + n - 1 - lt - 1));
	if (!addr_spec_valid(addr)) {
		free(addr);
		return NULL;
	}
	return addr;
}

static void load_smtp(struct ctx *c, cfg_t *sec, struct pd_smtp_cfg *s)
{
	char why[256];
	struct pd_url u;
	bool url_ok = false;

	s->enabled = true;
	memset(&u, 0, sizeof(u));
	const char *url = need_str(c, sec, "url");
	if (url != NULL) {
		s->url = pd_xstrdup(url);
		if (pd_config_parse_url(url, PD_URL_SMTP, &u, why, sizeof(why)) < 0) {
			report(c, key_line(c, sec, "url"), "url: \"%s\": %s", url, why);
		} else {
			url_ok = true;
			s->host = u.host;
			s->port = u.port;
			free(u.path);
		}
	}
	if (parse_tls(c, sec, &u, url_ok, "smtp", &s->tls) == 0 && url_ok &&
	    s->tls == PD_TLS_NONE)
		warn_cleartext(c, sec, "smtp", s->host);

	const char *from = need_str(c, sec, "from");
	if (from != NULL) {
		s->from = pd_xstrdup(from);
		s->from_address = from_address(from);
		if (s->from_address == NULL)
			report(c, key_line(c, sec, "from"),
			       "from: \"%s\" is not an address (use \"Name <addr@example.com>\" or "
			       "addr@example.com)",
			       from);
	}
	get_duration(c, sec, "timeout", &s->timeout);
	const char *auth = get_str(sec, "auth");
	if (strcmp(auth, "password") == 0)
		s->auth = PD_IMAP_AUTH_AUTO;
	else if (strcmp(auth, "xoauth2") == 0)
		s->auth = PD_IMAP_AUTH_XOAUTH2;
	else if (strcmp(auth, "oauthbearer") == 0)
		s->auth = PD_IMAP_AUTH_OAUTHBEARER;
	else
		report(c, key_line(c, sec, "auth"),
		       "auth: must be one of password, xoauth2, oauthbearer, not \"%s\"", auth);
	s->user = pd_xstrdup(opt_str(c, sec, "user"));
	s->oauth2 = load_oauth2(c, sec, "smtp", "smtp", s->auth, s->timeout);
	if (s->oauth2 != NULL) {
		if (s->user == NULL)
			report(c, key_line(c, sec, "auth"),
			       "auth = \"%s\" needs user (the mailbox the token belongs to)", auth);
	} else if (s->user != NULL) {
		s->password = get_password(c, sec, "smtp.password", true);
	} else if (get_str(sec, "password") != NULL || get_str(sec, "password_file") != NULL) {
		const char *k = get_str(sec, "password") != NULL ? "password" : "password_file";
		report(c, key_line(c, sec, k), "%s without user: set user too, or remove %s", k, k);
	}
	s->ca_file = pd_xstrdup(opt_str(c, sec, "ca_file"));
	if (s->ca_file != NULL)
		check_readable(c, sec, "ca_file", s->ca_file);
	get_size(c, sec, "max_message_size", &s->max_message_size);
}

static const char *const priorities[] = {"critical", "high", "normal", "low"};

static void load_sla(struct ctx *c, cfg_t *sec, struct pd_sla_cfg *sla)
{
	const char *prio = cfg_title(sec);
	bool known = false;

	for (size_t i = 0; i < PD_ARRAY_LEN(priorities); i++)
		known |= strcmp(prio, priorities[i]) == 0;
	if (!known)
		report(c, sec_line(c, sec),
		       "sla \"%s\": unknown priority; use critical, high, normal or low", prio);
	sla->priority = pd_xstrdup(prio);
	if (need_str(c, sec, "first_response") != NULL)
		get_duration(c, sec, "first_response", &sla->first_response);
	if (need_str(c, sec, "resolution") != NULL)
		get_duration(c, sec, "resolution", &sla->resolution);
	sla->calendar = pd_xstrdup(need_str(c, sec, "calendar"));
	get_int(c, sec, "warn_at", &sla->warn_at);
}

/* plan "NAME" { customers = {...}  calendar = "..."  high = "1h 8h" ... } */
static void load_plan(struct ctx *c, const struct pd_config *cfg, cfg_t *sec,
		      struct pd_plan_cfg *p)
{
	const char *title = cfg_title(sec);
	const char *cal = get_str(sec, "calendar");
	bool any = false;

	p->name = pd_xstrdup(title);
	for (const struct pd_plan_cfg *q = cfg->plans; q < p; q++)
		if (strcmp(q->name, title) == 0)
			report(c, sec_line(c, sec), "plan \"%s\": defined twice", title);
	copy_list(sec, "customers", &p->customers);
	check_addr_list(c, sec, "customers", true);
	if (p->customers.n == 0)
		report(c, sec_line(c, sec),
		       "plan \"%s\": customers = {...} is required (addresses or @domains)", title);
	if (cal != NULL) {
		p->calendar = pd_xstrdup(cal);
		if (strcmp(cal, "24x7") != 0 && pd_config_calendar(cfg, cal) == NULL)
			report(c, key_line(c, sec, "calendar"),
			       "calendar: no calendar \"%s\" is defined (add calendar \"%s\" "
			       "{ ... } or use \"24x7\")",
			       cal, cal);
	}
	if (get_str(sec, "warn_at") != NULL)
		get_int(c, sec, "warn_at", &p->warn_at);
	for (size_t i = 0; i < PD_ARRAY_LEN(priorities); i++) {
		const char *v = get_str(sec, priorities[i]);
		char a[64], b[64], extra[2];
		int64_t fr, res;

		if (v == NULL)
			continue;
		any = true;
		if (sscanf(v, "%63s %63s %1s", a, b, extra) != 2 || pd_parse_duration(a, &fr) < 0 ||
		    pd_parse_duration(b, &res) < 0 || fr < 1 || res < 1) {
			report(c, key_line(c, sec, priorities[i]),
			       "%s: \"%s\" must be two durations, first response and resolution "
			       "(e.g. \"1h 8h\")",
			       priorities[i], v);
			continue;
		}
		p->prio[i].set = true;
		p->prio[i].first_response = fr;
		p->prio[i].resolution = res;
	}
	if (!any && cal == NULL)
		report(c, sec_line(c, sec),
		       "plan \"%s\": sets nothing; give targets (e.g. high = \"1h 8h\") or a "
		       "calendar",
		       title);
}

/* Load the zone tz names into *zone (once, with the configuration: the
 * calendars count business time from it without reading files). */
static void load_timezone(struct ctx *c, cfg_t *sec, const char *tz, struct pd_zone **zone)
{
	char why[600];

	if (pd_tzif_load(tz, zone, why, sizeof(why)) < 0)
		report(c, key_line(c, sec, "timezone"), "timezone: %s", why);
}

static void load_calendar(struct ctx *c, cfg_t *sec, struct pd_calendar_cfg *cal)
{
	const char *name = cfg_title(sec);
	char why[256];

	cal->name = pd_xstrdup(name);
	if (strcmp(name, "24x7") == 0)
		report(c, sec_line(c, sec),
		       "calendar \"24x7\" is built in (always open) and cannot be redefined");
	const char *tz = need_str(c, sec, "timezone");
	if (tz != NULL) {
		cal->timezone = pd_xstrdup(tz);
		load_timezone(c, sec, tz, &cal->zone);
	}
	copy_list(sec, "hours", &cal->hours);
	copy_list(sec, "holidays", &cal->holidays);
	if (cal->hours.n == 0)
		report(c, key_line(c, sec, "hours"),
		       "calendar \"%s\": hours must list the open hours, e.g. hours = {\"mon-fri "
		       "09:00-18:00\"}",
		       name);
	cal->hours_parsed = pd_xcalloc(cal->hours.n, sizeof(*cal->hours_parsed));
	for (size_t i = 0; i < cal->hours.n; i++)
		if (pd_config_parse_hours(cal->hours.v[i], &cal->hours_parsed[i], why,
					  sizeof(why)) < 0)
			report(c, item_line(c, sec, "hours", (unsigned)i), "hours: \"%s\": %s",
			       cal->hours.v[i], why);
	cal->holiday_dates = pd_xcalloc(cal->holidays.n, sizeof(*cal->holiday_dates));
	for (size_t i = 0; i < cal->holidays.n; i++)
		if (pd_config_parse_date(cal->holidays.v[i], &cal->holiday_dates[i]) < 0)
			report(c, item_line(c, sec, "holidays", (unsigned)i),
			       "holidays: \"%s\" is not a date (YYYY-MM-DD)", cal->holidays.v[i]);
}

/* True when key was written in sec (set or appended), not just defaulted. */
static bool key_written(const struct ctx *c, cfg_t *sec, const char *key)
{
	const struct scan_sec *inst[8];
	size_t n = sec_instances(c, sec, inst, PD_ARRAY_LEN(inst));

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < inst[i]->n; j++)
			if (strcmp(inst[i]->a[j].key, key) == 0)
				return true;
	return false;
}

/*
 * Queue names: [a-z0-9._-], 1 to 64 bytes.  One spelling per queue, since
 * a plus-address tag names it (support+billing@example.com) and tags are
 * compared in lower case; and every character is allowed in a dot-atom.
 */
static bool queue_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

#define KEYWORD_MAX 200

/*
 * What is wrong with one keyword, NULL when nothing.  A keyword is UTF-8
 * text of 1 to KEYWORD_MAX bytes without control characters; '*' may only
 * end it (a prefix match), and something must be left to match: an ASCII
 * letter or digit, or any non-ASCII character (classify.c segments words
 * by Unicode rules; a keyword of punctuation only matches nothing).
 */
static const char *keyword_problem(const char *k)
{
	size_t n = strlen(k);
	bool letter = false;

	if (n == 0)
		return "an empty keyword matches nothing";
	if (n > KEYWORD_MAX)
		return "is longer than 200 bytes";
	if (!pd_utf8_valid(k, n))
		return "is not valid UTF-8";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)k[i];
		if (ch < 0x20 || ch == 0x7f)
			return "contains a control character";
		if (ch == '*' && i + 1 < n)
			return "may have '*' only at its end (a prefix, as in \"urgen*\")";
		letter |= ch >= 0x80 || isalnum(ch);
	}
	if (!letter)
		return "has no letter or digit to match";
	return NULL;
}

/*
 * One queue "NAME" section.  Addresses listed twice, in one queue or two,
 * are caught in build() once every queue is loaded.
 */
static void load_queue(struct ctx *c, cfg_t *sec, struct pd_queue_cfg *q)
{
	const char *name = cfg_title(sec);

	q->name = pd_xstrdup(name);
	if (!queue_name_valid(name))
		report(c, sec_line(c, sec),
		       "queue \"%s\": names may use only lower-case letters, digits, '.', '_' and "
		       "'-' (at most 64)",
		       name);
	copy_list(sec, "addresses", &q->addresses);
	check_addr_list(c, sec, "addresses", false);
	get_int(c, sec, "line", &q->line);
}

/* The request types (tickets.type); question is the default. */
static const char *const types[] = {"question", "incident", "complaint",
				    "suggestion", "refund",   "access"};
#define TYPE_LIST "question, incident, complaint, suggestion, refund, access"

static bool type_known(const char *s)
{
	for (size_t i = 0; i < PD_ARRAY_LEN(types); i++)
		if (strcmp(s, types[i]) == 0)
			return true;
	return false;
}

/* One type "TYPE" section: the queue and line of new tickets of that type. */
static void load_type(struct ctx *c, cfg_t *sec, struct pd_type_cfg *t)
{
	const char *name = cfg_title(sec);

	t->name = pd_xstrdup(name);
	if (!type_known(name))
		report(c, sec_line(c, sec), "type \"%s\": unknown request type; use %s", name,
		       TYPE_LIST);
	const char *queue = opt_str(c, sec, "queue");
	if (queue != NULL) {
		t->queue = pd_xstrdup(queue);
		if (!queue_name_valid(queue))
			report(c, key_line(c, sec, "queue"),
			       "queue: \"%s\" is not a queue name (lower-case letters, digits, "
			       "'.', '_' and '-')",
			       queue);
	}
	t->line = 0;
	if (get_str(sec, "line") != NULL)
		get_int(c, sec, "line", &t->line);
}

/*
 * One rule "NAME" section; see struct pd_rule_cfg.  Keywords are checked
 * here as bytes; classify.c folds them (Unicode) on first use.
 */
static void load_rule(struct ctx *c, cfg_t *sec, struct pd_rule_cfg *r)
{
	const char *name = cfg_title(sec);

	r->name = pd_xstrdup(name);
	if (!name_valid(name))
		report(c, sec_line(c, sec), "rule \"%s\": names may use only letters, digits, "
					    "'.', '_' and '-' (at most 64)",
		       name);

	copy_list(sec, "senders", &r->senders);
	check_addr_list(c, sec, "senders", true);
	copy_list(sec, "keywords", &r->keywords);
	copy_list(sec, "exclude", &r->exclude);
	for (int which = 0; which < 2; which++) {
		const char *key = which == 0 ? "keywords" : "exclude";
		const struct pd_strlist *l = which == 0 ? &r->keywords : &r->exclude;
		for (size_t i = 0; i < l->n; i++) {
			const char *k = l->v[i];
			const char *why = keyword_problem(k);
			int line = item_line(c, sec, key, (unsigned)i);
			if (why == NULL)
				continue;
			/* do not echo what cannot be printed on one line */
			if (*k == '\0')
				report(c, line, "%s: %s", key, why);
			else if (strlen(k) > KEYWORD_MAX || !pd_utf8_valid(k, strlen(k)))
				report(c, line, "%s: item %zu %s", key, i + 1, why);
			else
				report(c, line, "%s: \"%s\" %s", key, k, why);
		}
	}
	if (r->senders.n == 0 && r->keywords.n == 0)
		report(c, sec_line(c, sec), "rule \"%s\": needs senders or keywords (or both)",
		       name);
	if (r->exclude.n > 0 && r->keywords.n == 0)
		report(c, key_line(c, sec, "exclude"),
		       "exclude: only applies to keywords, and rule \"%s\" has none", name);

	r->match_subject = r->match_body = true;
	if (key_written(c, sec, "fields")) {
		unsigned n = cfg_size(sec, "fields");
		r->match_subject = r->match_body = false;
		for (unsigned i = 0; i < n; i++) {
			const char *f = cfg_getnstr(sec, "fields", i);
			if (strcmp(f, "subject") == 0)
				r->match_subject = true;
			else if (strcmp(f, "body") == 0)
				r->match_body = true;
			else
				report(c, item_line(c, sec, "fields", i),
				       "fields: must be subject or body, not \"%s\"", f);
		}
		if (n == 0)
			report(c, key_line(c, sec, "fields"),
			       "fields: must list subject, body or both");
		else if (r->keywords.n == 0)
			report(c, key_line(c, sec, "fields"),
			       "fields: only applies to keywords, and rule \"%s\" has none", name);
	}

	const char *prio = opt_str(c, sec, "priority");
	if (prio != NULL) {
		bool known = false;
		for (size_t i = 0; i < PD_ARRAY_LEN(priorities); i++)
			known |= strcmp(prio, priorities[i]) == 0;
		r->priority = pd_xstrdup(prio);
		if (!known)
			report(c, key_line(c, sec, "priority"),
			       "priority: must be one of critical, high, normal, low, not \"%s\"",
			       prio);
	}
	const char *queue = opt_str(c, sec, "queue");
	if (queue != NULL) {
		r->queue = pd_xstrdup(queue);
		if (!queue_name_valid(queue))
			report(c, key_line(c, sec, "queue"),
			       "queue: \"%s\" is not a queue name (lower-case letters, digits, "
			       "'.', '_' and '-')",
			       queue);
	}
	const char *type = opt_str(c, sec, "type");
	if (type != NULL) {
		r->type = pd_xstrdup(type);
		if (!type_known(type))
			report(c, key_line(c, sec, "type"), "type: must be one of %s, not \"%s\"",
			       TYPE_LIST, type);
	}
	if (get_str(sec, "priority") == NULL && get_str(sec, "queue") == NULL &&
	    get_str(sec, "type") == NULL)
		report(c, sec_line(c, sec), "rule \"%s\": needs priority, queue or type", name);

	get_bool(c, sec, "final", &r->final);
	if (r->final && r->senders.n == 0)
		report(c, key_line(c, sec, "final"),
		       "final: only a rule with senders can be final");
	else if (r->final && get_str(sec, "priority") == NULL)
		report(c, key_line(c, sec, "final"),
		       "final: decides the priority, and rule \"%s\" sets none", name);
}

/* An address listed in two queues (or twice in one) would route by file order: refuse. */
static void check_queue_addresses(struct ctx *c)
{
	struct pd_config *cfg = c->cfg;

	for (size_t i = 0; i < cfg->classify.n_queues; i++) {
		const struct pd_queue_cfg *q = &cfg->classify.queues[i];
		for (size_t j = 0; j < q->addresses.n; j++) {
			const char *a = q->addresses.v[j];
			const char *other = NULL;
			for (size_t k = 0; k <= i && other == NULL; k++) {
				const struct pd_queue_cfg *p = &cfg->classify.queues[k];
				size_t end = k == i ? j : p->addresses.n;
				for (size_t m = 0; m < end && other == NULL; m++)
					if (pd_str_iequal(a, p->addresses.v[m]))
						other = p->name;
			}
			if (other != NULL)
				report(c, item_line(c, cfg_getnsec(c->root, "queue", (unsigned)i),
						    "addresses", (unsigned)j),
				       "addresses: \"%s\" is already listed for queue \"%s\"", a,
				       other);
		}
	}
}

/* "1", "2", ... -> number; -1 otherwise (also for "01": one spelling per line). */
static int line_number(const char *s)
{
	long n = 0;

	if (*s == '\0' || *s == '0')
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || n > 1000)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n <= 1000 ? (int)n : -1;
}

static int line_cmp(const void *a, const void *b)
{
	const struct pd_line_cfg *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

/* Sections written twice: libconfuse keeps one silently, so say so. */
static void check_duplicates(struct ctx *c)
{
	for (size_t i = 0; i < c->sc.n_secs; i++) {
		const struct scan_sec *s = c->sc.secs[i];
		for (size_t j = 0; j < i; j++) {
			const struct scan_sec *f = c->sc.secs[j];
			if (strcmp(s->name, f->name) != 0)
				continue;
			if (!s->titled) {
				report(c, s->line, "section '%s' appears twice (first on line %d)",
				       s->name, f->line);
				break;
			}
			/* line titles are canonical numbers, so equal text = equal number */
			if (strcmp(s->title, f->title) == 0) {
				report(c, s->line, "duplicate %s \"%s\" (first defined on line %d)",
				       s->name, s->title, f->line);
				break;
			}
		}
	}
}

/*
 * Step 4: convert and check every value of c->root into c->cfg.  Each
 * check reports and goes on; the caller fails the load when anything was
 * reported.  Calendars are loaded before sla sections, which refer to them.
 */
static void build(struct ctx *c)
{
	cfg_t *r = c->root;
	struct pd_config *cfg = c->cfg;
	char *d;

	check_duplicates(c);

	/* top level */
	const char *sa = need_str(c, r, "support_address");
	if (sa != NULL) {
		cfg->support_address = pd_xstrdup(sa);
		if (!addr_spec_valid(sa))
			report(c, key_line(c, r, "support_address"),
			       "support_address: \"%s\" is not an e-mail address", sa);
	}
	const char *tag = need_str(c, r, "subject_tag");
	if (tag != NULL) {
		cfg->subject_tag = pd_xstrdup(tag);
		bool bad = strpbrk(tag, "[]#") != NULL || isspace((unsigned char)tag[0]) ||
			   isspace((unsigned char)tag[strlen(tag) - 1]) || strlen(tag) > 64 ||
			   !pd_utf8_valid(tag, strlen(tag));
		for (const char *p = tag; *p; p++)
			bad |= (unsigned char)*p < 0x20 || *p == 0x7f;
		if (bad)
			report(c, key_line(c, r, "subject_tag"),
			       "subject_tag: \"%s\" must be at most 64 characters without '[', ']', "
			       "'#' or surrounding spaces",
			       tag);
	}
	const char *mid = opt_str(c, r, "message_id_domain");
	if (mid != NULL) {
		cfg->message_id_domain = pd_xstrdup(mid);
		if (!domain_valid(mid))
			report(c, key_line(c, r, "message_id_domain"),
			       "message_id_domain: \"%s\" is not a domain name", mid);
	} else if (cfg->support_address != NULL && strrchr(cfg->support_address, '@')) {
		cfg->message_id_domain = pd_xstrdup(strrchr(cfg->support_address, '@') + 1);
	}
	const char *lang = need_str(c, r, "default_language");
	if (lang != NULL) {
		cfg->default_language = pd_xstrdup(lang);
		size_t n = strspn(lang, "abcdefghijklmnopqrstuvwxyz");
		if (n < 2 || n > 3 ||
		    (lang[n] != '\0' &&
		     (lang[n] != '-' || lang[n + 1] == '\0' ||
		      strspn(lang + n + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					   "0123456789-") != strlen(lang + n + 1))))
			report(c, key_line(c, r, "default_language"),
			       "default_language: \"%s\" is not a language code such as en or ru",
			       lang);
	}
	load_templates(c);
	get_int(c, r, "auto_reply_limit_10m", &cfg->auto_reply_limit_10m);
	get_int(c, r, "auto_reply_limit_day", &cfg->auto_reply_limit_day);
	get_int(c, r, "suppress_days", &cfg->suppress_days);
	const char *ll = get_str(r, "log_level");
	enum pd_log_level lvl;
	cfg->log_level = pd_xstrdup(ll);
	if (pd_log_level_parse(ll, &lvl) < 0)
		report(c, key_line(c, r, "log_level"),
		       "log_level: must be one of err, warning, notice, info, debug, not \"%s\"", ll);
	get_size(c, r, "max_message_size", &cfg->max_message_size);
	get_int(c, r, "batch_size", &cfg->batch_size);
	get_size(c, r, "batch_bytes", &cfg->batch_bytes);
	get_int(c, r, "reopen_days", &cfg->reopen_days);
	get_duration(c, r, "sla_scan_interval", &cfg->sla_scan_interval);

	/* database */
	if (first_scan_sec(c, "database") == NULL) {
		report(c, 0, "missing required section 'database' (database { conninfo = \"...\" "
			     "})");
	} else {
		cfg_t *db = cfg_getsec(r, "database");
		const char *ci = need_str(c, db, "conninfo");
		if (ci != NULL) {
			cfg->db_conninfo = pd_xstrdup(ci);
			if (c->group_readable && conninfo_has_password(ci))
				report(c, key_line(c, db, "conninfo"),
				       "inline password in a file readable by group/other; chmod 600 "
				       "%s or use a passfile (PGPASSFILE)",
				       c->path);
		}
		get_duration(c, db, "statement_timeout", &cfg->db_statement_timeout);
	}

	/* mailboxes */
	cfg->n_mailboxes = cfg_size(r, "mailbox");
	cfg->mailboxes = pd_xcalloc(cfg->n_mailboxes, sizeof(*cfg->mailboxes));
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		load_mailbox(c, cfg_getnsec(r, "mailbox", (unsigned)i), &cfg->mailboxes[i]);

	/* smtp (optional; outbound mail is off without it) */
	if (first_scan_sec(c, "smtp") != NULL)
		load_smtp(c, cfg_getsec(r, "smtp"), &cfg->smtp);

	/* metrics (optional): "127.0.0.1:9187" or "[::1]:9187", numeric only */
	if (first_scan_sec(c, "metrics") != NULL) {
		cfg_t *ms = cfg_getsec(r, "metrics");
		const char *l = opt_str(c, ms, "listen");
		const char *colon = l ? strrchr(l, ':') : NULL;
		char *end = NULL;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (l == NULL) {
			report(c, key_line(c, ms, "listen"), "metrics: listen is required");
		} else if (colon == NULL || end == NULL || *end != '\0' || port < 1 || port > 65535 ||
			   colon == l) {
			report(c, key_line(c, ms, "listen"),
			       "metrics: listen: \"%s\" is not ADDRESS:PORT (e.g. 127.0.0.1:9187)", l);
		} else {
			const char *h = l;
			size_t hl = (size_t)(colon - l);
			if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
				h++, hl -= 2;
			cfg->metrics_host = pd_xstrndup(h, hl);
			cfg->metrics_port = (uint16_t)port;
			cfg->metrics_enabled = true;
		}
	}

	/* agents */
	cfg_t *ag = cfg_getsec(r, "agents");
	copy_list(ag, "addresses", &cfg->agent_addresses);
	copy_list(ag, "notify", &cfg->agent_notify);
	get_size(c, ag, "max_notice_attachments", &cfg->max_notice_attachments);
	copy_list(ag, "trusted_authserv_ids", &cfg->trusted_authserv_ids);
	check_addr_list(c, ag, "addresses", true);
	check_addr_list(c, ag, "notify", false);

	/* calendars before sla: sla refers to them */
	cfg->n_calendars = cfg_size(r, "calendar");
	cfg->calendars = pd_xcalloc(cfg->n_calendars, sizeof(*cfg->calendars));
	for (size_t i = 0; i < cfg->n_calendars; i++)
		load_calendar(c, cfg_getnsec(r, "calendar", (unsigned)i), &cfg->calendars[i]);

	cfg->n_sla = cfg_size(r, "sla");
	cfg->sla = pd_xcalloc(cfg->n_sla, sizeof(*cfg->sla));
	for (size_t i = 0; i < cfg->n_sla; i++) {
		cfg_t *s = cfg_getnsec(r, "sla", (unsigned)i);
		load_sla(c, s, &cfg->sla[i]);
		const char *cal = cfg->sla[i].calendar;
		if (cal != NULL && strcmp(cal, "24x7") != 0 && pd_config_calendar(cfg, cal) == NULL)
			report(c, key_line(c, s, "calendar"),
			       "calendar: no calendar \"%s\" is defined (add calendar \"%s\" { ... } "
			       "or use \"24x7\")",
			       cal, cal);
	}

	cfg->n_lines = cfg_size(r, "line");
	cfg->lines = pd_xcalloc(cfg->n_lines, sizeof(*cfg->lines));
	for (size_t i = 0; i < cfg->n_lines; i++) {
		cfg_t *s = cfg_getnsec(r, "line", (unsigned)i);
		struct pd_line_cfg *l = &cfg->lines[i];
		l->number = line_number(cfg_title(s));
		if (l->number < 0) {
			d = sec_desc("line", cfg_title(s));
			report(c, sec_line(c, s),
			       "%s: the name must be a support line number from 1 to 1000, as in "
			       "line 1 { ... }",
			       d);
			free(d);
		}
		copy_list(s, "notify", &l->notify);
		check_addr_list(c, s, "notify", false);
		const char *lcal = get_str(s, "calendar");
		if (lcal != NULL) {
			l->calendar = pd_xstrdup(lcal);
			if (strcmp(lcal, "24x7") != 0 && pd_config_calendar(cfg, lcal) == NULL)
				report(c, key_line(c, s, "calendar"),
				       "calendar: no calendar \"%s\" is defined (add calendar \"%s\" "
				       "{ ... } or use \"24x7\")",
				       lcal, lcal);
		}
	}
	qsort(cfg->lines, cfg->n_lines, sizeof(*cfg->lines), line_cmp);

	cfg->n_plans = cfg_size(r, "plan");
	cfg->plans = pd_xcalloc(cfg->n_plans, sizeof(*cfg->plans));
	for (size_t i = 0; i < cfg->n_plans; i++)
		load_plan(c, cfg, cfg_getnsec(r, "plan", (unsigned)i), &cfg->plans[i]);

	/* classification: queues, then rules (file order is their order) */
	get_bool(c, r, "trust_priority_headers", &cfg->classify.trust_priority_headers);
	cfg->classify.n_queues = cfg_size(r, "queue");
	cfg->classify.queues = pd_xcalloc(cfg->classify.n_queues, sizeof(*cfg->classify.queues));
	for (size_t i = 0; i < cfg->classify.n_queues; i++)
		load_queue(c, cfg_getnsec(r, "queue", (unsigned)i), &cfg->classify.queues[i]);
	check_queue_addresses(c);
	cfg->classify.n_rules = cfg_size(r, "rule");
	cfg->classify.rules = pd_xcalloc(cfg->classify.n_rules, sizeof(*cfg->classify.rules));
	for (size_t i = 0; i < cfg->classify.n_rules; i++)
		load_rule(c, cfg_getnsec(r, "rule", (unsigned)i), &cfg->classify.rules[i]);
	cfg->classify.n_types = cfg_size(r, "type");
	cfg->classify.types = pd_xcalloc(cfg->classify.n_types, sizeof(*cfg->classify.types));
	for (size_t i = 0; i < cfg->classify.n_types; i++)
		load_type(c, cfg_getnsec(r, "type", (unsigned)i), &cfg->classify.types[i]);
}

/* ------------------------------------------------------------ public API */

static void strlist_free(struct pd_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void pd_config_free(struct pd_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->support_address);
	free(cfg->subject_tag);
	free(cfg->message_id_domain);
	free(cfg->default_language);
	free(cfg->templates_dir);
	pd_templates_free(&cfg->templates);
	free(cfg->metrics_host);
	free(cfg->log_level);
	pd_free_secret(cfg->db_conninfo); /* may hold a password */
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		struct pd_mailbox_cfg *m = &cfg->mailboxes[i];
		free(m->name);
		free(m->url);
		free(m->host);
		free(m->folder);
		free(m->user);
		pd_free_secret(m->password);
		oauth2_cfg_free(m->oauth2);
		free(m->processed_folder);
		free(m->ca_file);
		free(m->queue);
	}
	free(cfg->mailboxes);
	free(cfg->smtp.url);
	free(cfg->smtp.host);
	free(cfg->smtp.user);
	pd_free_secret(cfg->smtp.password);
	oauth2_cfg_free(cfg->smtp.oauth2);
	free(cfg->smtp.from);
	free(cfg->smtp.from_address);
	free(cfg->smtp.ca_file);
	strlist_free(&cfg->agent_addresses);
	strlist_free(&cfg->agent_notify);
	strlist_free(&cfg->trusted_authserv_ids);
	for (size_t i = 0; i < cfg->n_sla; i++) {
		free(cfg->sla[i].priority);
		free(cfg->sla[i].calendar);
	}
	free(cfg->sla);
	for (size_t i = 0; i < cfg->n_calendars; i++) {
		struct pd_calendar_cfg *cal = &cfg->calendars[i];
		free(cal->name);
		free(cal->timezone);
		strlist_free(&cal->hours);
		strlist_free(&cal->holidays);
		free(cal->hours_parsed);
		free(cal->holiday_dates);
		pd_zone_free(cal->zone);
	}
	free(cfg->calendars);
	for (size_t i = 0; i < cfg->n_plans; i++) {
		free(cfg->plans[i].name);
		free(cfg->plans[i].calendar);
		strlist_free(&cfg->plans[i].customers);
	}
	free(cfg->plans);
	for (size_t i = 0; i < cfg->n_lines; i++) {
		strlist_free(&cfg->lines[i].notify);
		free(cfg->lines[i].calendar);
	}
	free(cfg->lines);
	for (size_t i = 0; i < cfg->classify.n_rules; i++) {
		struct pd_rule_cfg *r = &cfg->classify.rules[i];
		free(r->name);
		strlist_free(&r->senders);
		strlist_free(&r->keywords);
		strlist_free(&r->exclude);
		free(r->priority);
		free(r->queue);
		free(r->type);
	}
	free(cfg->classify.rules);
	for (size_t i = 0; i < cfg->classify.n_types; i++) {
		free(cfg->classify.types[i].name);
		free(cfg->classify.types[i].queue);
	}
	free(cfg->classify.types);
	for (size_t i = 0; i < cfg->classify.n_queues; i++) {
		free(cfg->classify.queues[i].name);
		strlist_free(&cfg->classify.queues[i].addresses);
	}
	free(cfg->classify.queues);
	free(cfg->classify.mailboxes);
	if (cfg->classify.cache != NULL) {
		struct pd_classify_cache *cc = cfg->classify.cache;
		if (cc->compiled != NULL && cc->compiled_free != NULL)
			cc->compiled_free(cc->compiled);
		free(cc);
	}
	free(cfg);
}

void pd_config_errors_free(struct pd_config_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

static void wipe_confuse_secrets(cfg_t *root)
{
	for (unsigned i = 0; i < cfg_size(root, "mailbox"); i++)
		wipe_value(cfg_getnsec(root, "mailbox", i), "password");
	wipe_value(cfg_getsec(root, "smtp"), "password");
	wipe_value(cfg_getsec(root, "database"), "conninfo");
}

/* What classification reads besides its own sections: the support
 * address and each mailbox's queue (borrowed from cfg). */
static void classify_view(struct pd_config *cfg)
{
	cfg->classify.support_address = cfg->support_address;
	cfg->classify.n_mailboxes = cfg->n_mailboxes;
	cfg->classify.mailboxes =
	    pd_xcalloc(cfg->n_mailboxes ? cfg->n_mailboxes : 1, sizeof(*cfg->classify.mailboxes));
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		cfg->classify.mailboxes[i].name = cfg->mailboxes[i].name;
		cfg->classify.mailboxes[i].queue = cfg->mailboxes[i].queue;
	}
}

/*
 * The four steps of the top of the file.  A scan syntax error stops before
 * libconfuse; a libconfuse failure stops before the checks.  Secrets read
 * on the way are wiped: the file text, libconfuse's copies, and (through
 * pd_config_free) the result when the load fails.
 */
int pd_config_load(const char *path, struct pd_config **cfg_r, struct pd_config_errors *errs)
{
	struct ctx c;
	char *text = NULL;
	size_t len = 0;
	struct stat st;

	*cfg_r = NULL;
	if (errs != NULL) {
		errs->n = 0;
		errs->v = NULL;
	}
	memset(&c, 0, sizeof(c));
	c.path = path;
	const char *slash = strrchr(path, '/');
	c.dir = slash == NULL ? pd_xstrdup(".")
			      : pd_xstrndup(path, slash == path ? 1 : (size_t)(slash - path));

	if (pd_read_file(path, &text, &len) < 0) {
		report(&c, 0, "cannot read the configuration: %s", strerror(errno));
		goto out;
	}
	if (stat(path, &st) == 0)
		c.group_readable = (st.st_mode & 077) != 0;
	if (memchr(text, '\0', len) != NULL) {
		int line = 1;
		for (const char *p = text; *p; p++)
			line += *p == '\n';
		report(&c, line, "NUL byte in the file");
		goto out;
	}

	/* 2. scan: lines, unknown keys, syntax */
	c.sc.path = path;
	c.sc.s = text;
	c.sc.len = len;
	c.sc.line = 1;
	c.sc.probs = &c.probs;
	c.sc.root.name = "";
	scan_body(&c.sc, root_opts, &c.sc.root, "", 0, 0);
	if (c.sc.failed)
		goto out;

	/* 3. libconfuse on the text without comments and unknown statements */
	char *clean = pd_xstrndup(text, len);
	for (size_t i = 0; i < c.sc.n_blank; i++)
		for (size_t j = c.sc.blank[i].start; j < c.sc.blank[i].end; j++)
			if (clean[j] != '\n')
				clean[j] = ' ';
	c.root = cfg_init(root_opts, CFGF_NONE);
	cfg_set_error_function(c.root, confuse_error);
	confuse_ctx = &c;
	int rc = cfg_parse_buf(c.root, clean);
	confuse_ctx = NULL;
	explicit_bzero(clean, len);
	free(clean);
	if (rc != CFG_SUCCESS) {
		if (c.probs.n == 0)
			report(&c, 0, "cannot parse the file");
		goto out;
	}

	/* 4. values and cross checks */
	c.cfg = pd_xcalloc(1, sizeof(*c.cfg));
	c.cfg->path = pd_xstrdup(path);
	c.cfg->classify.cache = pd_xcalloc(1, sizeof(*c.cfg->classify.cache));
	build(&c);
	classify_view(c.cfg);

out:
	if (c.root != NULL) {
		wipe_confuse_secrets(c.root);
		cfg_free(c.root);
	}
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	scanner_free(&c.sc);
	free(c.dir);
	if (c.probs.n > 0) {
		pd_config_free(c.cfg);
		qsort(c.probs.v, c.probs.n, sizeof(*c.probs.v), problem_cmp);
		if (errs != NULL) {
			errs->n = c.probs.n;
			errs->v = pd_xcalloc(c.probs.n, sizeof(char *));
		}
		for (size_t i = 0; i < c.probs.n; i++) {
			if (errs != NULL)
				errs->v[i] = c.probs.v[i].text;
			else
				free(c.probs.v[i].text);
		}
		free(c.probs.v);
		return -1;
	}
	free(c.probs.v);
	*cfg_r = c.cfg;
	return 0;
}
