/*
 * confload.h - loading the configuration file into a struct pd_config
 * (config.h), and the parsers it uses for URLs, business hours and dates.
 * src/config/config.c owns them with the libconfuse schema.
 */
#ifndef PD_CONFLOAD_H
#define PD_CONFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * Load and validate path.  On success returns 0 and *cfg_r (caller frees with
 * pd_config_free).  On failure returns -1, *cfg_r is NULL and errs holds
 * every problem found (caller frees with pd_config_errors_free; errs may be
 * NULL).  Checks: unknown keys, bad durations/sizes/URLs/enums, missing
 * password, unreadable password_file, inline password in a file readable by
 * group/other, references to unknown calendars, rule, queue and type
 * sections (what a rule needs, keywords, queue names, type names, an
 * address in two queues), the mail templates (the compiled-in ones and
 * templates_dir's, each rendered with sample values; a template's problem
 * is "TEMPLATE-FILE:LINE: reason").  A
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

/* ---- the parsers config uses, public for the tests and fuzz targets ---- */

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
