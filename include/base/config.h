/*
 * config.h - the parsed, validated, immutable configuration, and the pure
 * lookups over it (src/base/config_lookup.c).
 *
 * src/config/config.c owns the libconfuse schema; no other module sees
 * cfg_t.  Loading (confload.h) either yields a complete struct pd_config or
 * a list of every problem found, each as "FILE:LINE: reason" (check-config
 * prints them all, exit 78).
 */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar_cfg.h"
#include "classify_cfg.h"
#include "templates.h"
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
	char *templates_dir;         /* the folder read for DIR/LANG/NAME.txt; NULL = none */
	struct pd_templates templates; /* the compiled-in ones, those of templates_dir in
				       * their place; each renders (config_templates.c) */
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

/* Lookups; NULL when absent. Borrowed, valid while cfg lives. */
const struct pd_mailbox_cfg *pd_config_mailbox(const struct pd_config *cfg, const char *name);
const struct pd_sla_cfg *pd_config_sla(const struct pd_config *cfg, const char *priority);
const struct pd_calendar_cfg *pd_config_calendar(const struct pd_config *cfg, const char *name);

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

#endif
