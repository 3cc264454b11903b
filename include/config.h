/*
 * config.h - the parsed, validated, immutable configuration.
 *
 * config.c owns the libconfuse schema; no other module sees cfg_t.  Loading
 * either yields a complete struct pd_config or a list of every problem found,
 * each as "FILE:LINE: reason" (check-config prints them all, exit 78).
 */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "classify.h"
#include "util.h"

enum pd_tls_mode {
	PD_TLS_NONE = 0,
	PD_TLS_IMPLICIT,
	PD_TLS_STARTTLS,
};

enum pd_imap_auth {
	PD_IMAP_AUTH_AUTO = 0, /* AUTHENTICATE PLAIN when advertised, else LOGIN */
	PD_IMAP_AUTH_LOGIN,
	PD_IMAP_AUTH_PLAIN,
	PD_IMAP_AUTH_XOAUTH2,     /* OAuth 2.0 bearer token, SASL XOAUTH2 (Microsoft, Google) */
	PD_IMAP_AUTH_OAUTHBEARER, /* OAuth 2.0 bearer token, SASL OAUTHBEARER (RFC 7628) */
};

enum pd_oauth2_grant {
	PD_OAUTH2_GRANT_REFRESH_TOKEN = 0, /* delegated: a refresh token from the consent */
	PD_OAUTH2_GRANT_CLIENT_CREDENTIALS, /* app-only access */
};

/*
 * Where an OAuth 2.0 access token comes from (auth = "xoauth2" or
 * "oauthbearer"): an oauth2 { } section (token_url set) or token_command.
 */
struct pd_oauth2_cfg {
	char *token_url;          /* NULL when token_command is used */
	char *device_url;         /* RFC 8628 device authorization endpoint; NULL = derived */
	char *client_id;
	char *client_secret;      /* resolved from client_secret_file; NULL = public client */
	enum pd_oauth2_grant grant;
	char *refresh_token_file; /* resolved path; NULL for client_credentials */
	char *scope;
	char *token_command;      /* run with /bin/sh -c; prints an access token */
	int64_t timeout;          /* seconds for one token request or command */
};

struct pd_mailbox_cfg {
	char *name;             /* section title, e.g. "support"; unique */
	char *url;              /* as written */
	char *host;             /* parsed from url */
	uint16_t port;          /* parsed from url (default 143 / 993) */
	char *folder;           /* parsed from url path, default "INBOX" */
	enum pd_tls_mode tls;
	enum pd_imap_auth auth;
	char *user;
	char *password;         /* resolved: inline, password_file or $CREDENTIALS_DIRECTORY;
				 * NULL with auth xoauth2/oauthbearer */
	struct pd_oauth2_cfg *oauth2; /* set exactly when auth is xoauth2 or oauthbearer */
	char *processed_folder; /* NULL = flag \Seen instead of moving */
	char *ca_file;          /* NULL = system CA store */
	char *queue;            /* queue for new tickets from this mailbox, default "default" */
	int64_t poll_interval;  /* seconds between polls when IDLE is unavailable */
	bool idle;              /* use IDLE when the server offers it (default true) */
	int64_t timeout;        /* network timeout in seconds */
};

struct pd_smtp_cfg {
	char *url;
	enum pd_tls_mode tls;
	char *user;             /* NULL = no AUTH */
	char *password;         /* NULL with auth xoauth2/oauthbearer */
	enum pd_imap_auth auth; /* AUTO (password), XOAUTH2 or OAUTHBEARER */
	struct pd_oauth2_cfg *oauth2; /* set exactly when auth is xoauth2 or oauthbearer */
	char *from;             /* "Example Support <support@example.com>" */
	char *ca_file;
	int64_t timeout;
	uint64_t max_message_size; /* bytes: the largest mail we send (agents' files beyond it
				    * are left out, and the agent told) */
	bool enabled;           /* false: no smtp section, outbound mail is off (all else NULL/0) */
	char *host;             /* parsed from url */
	uint16_t port;          /* parsed from url (default 25 / 465, as libcurl) */
	char *from_address;     /* the addr-spec inside from, for MAIL FROM */
};

struct pd_sla_cfg {
	char *priority;         /* critical|high|normal|low */
	int64_t first_response; /* seconds (business seconds on a calendar other than 24x7) */
	int64_t resolution;
	char *calendar;         /* "24x7" or a calendar section name */
	int warn_at;            /* percent */
};

struct pd_line_cfg {
	int number;                  /* 1, 2, 3 ... */
	struct pd_strlist notify;
	char *calendar;              /* warnings to this line only while it is open; NULL = any time */
};

/* plan "NAME" { customers = {...} calendar = "..." high = "1h 8h" ... }: the
 * SLA a group of customers is promised.  prio[] is indexed critical, high,
 * normal, low; a priority the plan does not set keeps the top-level sla
 * section's targets (on the plan's calendar when it has one). */
struct pd_plan_cfg {
	char *name;                  /* section title */
	struct pd_strlist customers; /* addresses, "@domain" or "domain" */
	char *calendar;              /* "24x7" or a calendar section; NULL = each sla's own */
	int warn_at;                 /* percent; 0 = the sla section's */
	struct {
		bool set;
		int64_t first_response, resolution; /* seconds */
	} prio[4];
};

struct pd_config {
	char *path;                  /* file it was read from */
	char *support_address;       /* addr-spec */
	char *subject_tag;           /* default "Support" */
	char *message_id_domain;     /* default: domain of support_address */
	char *default_language;      /* default "en" */
	char *log_level;             /* default "info" */

	char *db_conninfo;
	int64_t db_statement_timeout; /* seconds, default 30 */

	/* ingest limits */
	uint64_t max_message_size;   /* bytes; larger mail is stored raw and flagged */
	int batch_size;              /* mails per fetch and per transaction, default 100 */
	uint64_t batch_bytes;        /* upper bound of one fetch batch, default 32M */

	size_t n_mailboxes;
	struct pd_mailbox_cfg *mailboxes;

	struct pd_smtp_cfg smtp;

	struct pd_strlist agent_addresses; /* addresses or "@domain" / "domain" */
	struct pd_strlist agent_notify;
	uint64_t max_notice_attachments; /* bytes: a notice carries the customer's files up to
					  * this total, above it lists them */
	/* authserv-ids whose Authentication-Results vouch for an agent's mail */
	struct pd_strlist trusted_authserv_ids;

	size_t n_sla;
	struct pd_sla_cfg *sla;
	size_t n_calendars;
	struct pd_calendar_cfg *calendars;
	size_t n_lines;
	struct pd_line_cfg *lines;

	/* classification: rules, queues, types (classify.h; pd_classify(&cfg->classify...)) */
	struct pd_classify_rules classify;

	size_t n_plans;              /* in file order: the first plan naming a customer wins */
	struct pd_plan_cfg *plans;

	int reopen_days;             /* default 14 */
	int64_t sla_scan_interval;   /* seconds between SLA scans, default 10 */

	/* metrics and health over HTTP (metrics { listen = "127.0.0.1:9187" }) */
	bool metrics_enabled;
	char *metrics_host;          /* numeric address */
	uint16_t metrics_port;

	/* mail out */
	char *templates_dir;         /* DIR/{en,ru}/NAME.txt; default PD_DATADIR/templates */
	int auto_reply_limit_10m;    /* automatic mails to one address in 10 minutes (0 = no limit) */
	int auto_reply_limit_day;    /* ... in 24 hours */
	int suppress_days;           /* no automatic mail to an address after a permanent failure */
};

/* One problem found while loading: "FILE:LINE: reason" already formatted,
 * or "FILE: reason" when no line applies (file unreadable, a required
 * top-level key or section missing).  Sorted by line. */
struct pd_config_errors {
	size_t n;
	char **v;
};

/*
 * Load and validate path.  On success returns 0 and *cfg_r (caller frees with
 * pd_config_free).  On failure returns -1, *cfg_r is NULL and errs holds
 * every problem found (caller frees with pd_config_errors_free; errs may be
 * NULL).  Checks: unknown keys, bad durations/sizes/URLs/enums, missing
 * password, unreadable password_file, inline password in a file readable by
 * group/other, references to unknown calendars, rule, queue and type
 * sections (what a rule needs, keywords, queue names, type names, an
 * address in two queues).  A
 * syntax error ends the reading, so it is reported alone.  Warnings (tls =
 * "none" to a host that is not loopback) go to pd_log_warning and do not
 * fail the load.
 *
 * Passwords (mailbox and smtp): password (inline; the file must then not be
 * readable by group/other), or password_file, or, when neither is set and
 * $CREDENTIALS_DIRECTORY is, the credential "mailbox.NAME.password" /
 * "smtp.password" in it.  password_file resolves as:
 *   "$CREDENTIALS_DIRECTORY/NAME" -> in $CREDENTIALS_DIRECTORY (must be set)
 *   "/absolute/path"              -> as written
 *   "NAME" (no '/')               -> in $CREDENTIALS_DIRECTORY when it is set,
 *                                    else next to the config file
 *   "dir/NAME"                    -> relative to the config file's directory
 * The file holds one line of at most 4096 bytes; one trailing newline is
 * removed.
 *
 * TLS: tls defaults to "implicit" for imaps:// and smtps://, "starttls" for
 * imap:// and smtp://; imaps:// with tls other than "implicit", or imap://
 * with "implicit", is an error.
 *
 * Not reentrant (libconfuse is not): load one file at a time.
 */
int pd_config_load(const char *path, struct pd_config **cfg_r, struct pd_config_errors *errs);
void pd_config_free(struct pd_config *cfg);
void pd_config_errors_free(struct pd_config_errors *errs);

/* Lookups; NULL when absent. Borrowed, valid while cfg lives. */
const struct pd_mailbox_cfg *pd_config_mailbox(const struct pd_config *cfg, const char *name);
const struct pd_sla_cfg *pd_config_sla(const struct pd_config *cfg, const char *priority);
const struct pd_calendar_cfg *pd_config_calendar(const struct pd_config *cfg, const char *name);

/*
 * A calendar from a calendar section (see pd_calendar_build), or the 24x7
 * one when cfg is NULL.  A section of a loaded configuration has its zone
 * loaded already and this reads nothing; for a section built by hand
 * (zone NULL) the zone is read now (tzif.h; timezone NULL: the server's
 * zone; a zone that cannot be read counts as UTC).  Free with
 * pd_calendar_free.
 */
struct pd_calendar *pd_calendar_new(const struct pd_calendar_cfg *cfg);
const struct pd_line_cfg *pd_config_line(const struct pd_config *cfg, int number);
const struct pd_queue_cfg *pd_config_queue(const struct pd_config *cfg, const char *name);
const struct pd_plan_cfg *pd_config_plan(const struct pd_config *cfg, const char *name);
/* The first plan whose customers list addr (exact, or its domain); NULL = the default. */
const struct pd_plan_cfg *pd_config_plan_for(const struct pd_config *cfg, const char *addr);
/*
 * The SLA that applies to priority under plan (a plan name, NULL = none):
 * the plan's own targets for it, else the top-level sla section's, on the
 * plan's calendar when it names one.  Fills *out (strings borrowed from cfg;
 * out->priority is the priority) and returns true, or false when no target
 * applies.
 */
bool pd_config_sla_for(const struct pd_config *cfg, const char *plan, const char *priority,
		       struct pd_sla_cfg *out);
const struct pd_type_cfg *pd_config_type(const struct pd_config *cfg, const char *name);

/* True when addr (an addr-spec, any case) matches an entry of l: the exact
 * address, or its domain as "@example.com" or "example.com" (not
 * subdomains).  Used for agents, rule senders and plan customers. */
bool pd_config_addr_listed(const struct pd_strlist *l, const char *addr);

/* True when addr (an addr-spec, any case) is listed as an agent, by exact
 * address or by domain entry ("@example.com" or "example.com"). */
bool pd_config_is_agent(const struct pd_config *cfg, const char *addr);

/* ---- the parsers config uses, public for calendar.c, tls.c and tests ---- */

enum pd_url_proto {
	PD_URL_IMAP, /* imap:// (port 143) or imaps:// (993) */
	PD_URL_SMTP, /* smtp:// (port 25) or smtps:// (465) */
};

struct pd_url {
	bool implicit_tls; /* imaps:// or smtps:// */
	char *host;        /* an IPv6 literal without its brackets */
	uint16_t port;     /* from the URL, else the scheme's default */
	char *path;        /* percent-decoded; IMAP: the folder, "INBOX" when none;
			    * SMTP: NULL when none */
};

/*
 * Parse SCHEME://HOST[:PORT][/PATH].  HOST is a name, an IPv4 address or
 * [IPv6]; no user name, query or fragment.  Returns 0 and fills u (free with
 * pd_url_free), or -1 with a reason in why.
 */
int pd_config_parse_url(const char *url, enum pd_url_proto proto, struct pd_url *u, char *why,
			size_t why_len);
void pd_url_free(struct pd_url *u);

/* localhost, *.localhost, 127.0.0.0/8, ::1 and ::ffff:127.x.x.x. */
bool pd_config_host_is_loopback(const char *host);

/*
 * Parse a business-hours entry: DAYS TIMES, where DAYS is a comma list of
 * days (mon..sun) and forward ranges ("mon-fri,sun") and TIMES a comma list
 * of HH:MM-HH:MM ranges (end after start, ascending, 24:00 allowed as end).
 * Returns 0, or -1 with a reason in why.
 */
int pd_config_parse_hours(const char *s, struct pd_hours *h, char *why, size_t why_len);

/* Parse "YYYY-MM-DD" (a real calendar date, year >= 1900). Returns 0 / -1. */
int pd_config_parse_date(const char *s, struct pd_date *d);

#endif
