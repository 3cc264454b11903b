/*
 * test_config.c - loading and validating postdesk.conf: the DESIGN.md
 * minimal file verbatim, conf/postdesk.conf, a table of broken files with
 * the exact "FILE:LINE: reason" lines expected, passwords and
 * $CREDENTIALS_DIRECTORY, and the URL, hours and date parsers.
 *
 * Expected messages write the config file's path as "%P".
 */
#include "autoconfig.h" /* _GNU_SOURCE: nftw's struct FTW */

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "confload.h"
#include "ioutil.h"
#include "log.h"
#include "render.h"
#include "util.h"

/* DESIGN.md's minimal file, verbatim. */
static const char minimal_conf[] =
	"support_address = \"support@example.com\"\n"
	"subject_tag     = \"Support\"                       # subject tag [Support #123]\n"
	"database { conninfo = \"host=127.0.0.1 port=5432 dbname=postdesk user=postdesk\" }\n"
	"mailbox \"support\" {\n"
	"  url              = \"imap://127.0.0.1:10143/INBOX\"   # imaps:// = implicit TLS\n"
	"  tls              = \"none\"                           # implicit | starttls | none "
	"(none only on loopback\n"
	"  user             = \"support\"                        #   without a warning)\n"
	"  password         = \"secret\"                         # or password_file = \"/path\" "
	"(preferred)\n"
	"  processed_folder = \"Processed\"                      # MOVE here after commit; unset "
	"= flag \\Seen\n"
	"}\n"
	"smtp {\n"
	"  url  = \"smtp://127.0.0.1:10025\"                     # smtps:// = implicit TLS\n"
	"  tls  = \"none\"\n"
	"  from = \"Example Support <support@example.com>\"\n"
	"}\n"
	"agents { addresses = {\"alice@example.com\"}  notify = {\"team@example.com\"} }\n"
	"sla \"critical\" { first_response = \"30m\"  resolution = \"4h\"  calendar = \"24x7\"   "
	"warn_at = 80 }\n"
	"sla \"normal\"   { first_response = \"8h\"   resolution = \"3d\"  calendar = \"office\" "
	"warn_at = 80 }\n"
	"calendar \"office\" { timezone = \"Europe/Moscow\"  hours = {\"mon-fri 09:00-18:00\"}  "
	"holidays = {\"2027-01-01\"} }\n"
	"line 1 { notify = {\"l1@example.com\"} }\n"
	"line 2 { notify = {\"l2@example.com\"} }\n";

/* The smallest valid file, for cases that add one problem to it. */
#define BASE                                                                                   \
	"support_address = \"support@example.com\"\n"                                         \
	"database { conninfo = \"dbname=postdesk\" }\n"

/* ----------------------------------------------------------- helpers */

static char tmpdir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int setup_dir(void **state)
{
	(void)state;
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/pd-test-config-XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	unsetenv("CREDENTIALS_DIRECTORY");
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to tmpdir/name with mode; returns the path (caller frees). */
static char *write_file(const char *name, const char *text, size_t len, mode_t mode)
{
	char *path = pd_xasprintf("%s/%s", tmpdir, name);
	char *slash = strrchr(path, '/');

	*slash = '\0';
	mkdir(path, 0700); /* one level of sub-directory */
	*slash = '/';
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static char *write_conf(const char *name, const char *text, mode_t mode)
{
	return write_file(name, text, strlen(text), mode);
}

/* Replace every "%P" in s by path. */
static char *subst_path(const char *s, const char *path)
{
	struct pd_buf b;

	pd_buf_init(&b);
	for (; *s; s++) {
		if (s[0] == '%' && s[1] == 'P') {
			pd_buf_append_str(&b, path);
			s++;
		} else {
			pd_buf_append_char(&b, *s);
		}
	}
	return pd_buf_steal(&b, NULL);
}

static const char *current_case; /* named in failure output */

static void print_errors(const struct pd_config_errors *e)
{
	if (current_case != NULL)
		print_message("case: %s\n", current_case);
	for (size_t i = 0; i < e->n; i++)
		print_message("  got: %s\n", e->v[i]);
}

/* Load text (written with mode) and expect exactly the messages exp (NULL-terminated). */
static void expect_errors_mode(const char *text, mode_t mode, const char *const *exp)
{
	static int seq;
	char name[32];
	struct pd_config *cfg = (struct pd_config *)1;
	struct pd_config_errors e = {0, NULL};
	size_t n = 0;

	snprintf(name, sizeof(name), "bad-%d.conf", ++seq);
	char *path = write_conf(name, text, mode);
	int rc = pd_config_load(path, &cfg, &e);
	while (exp[n] != NULL)
		n++;
	if (rc != -1 || e.n != n)
		print_errors(&e);
	assert_int_equal(rc, -1);
	assert_null(cfg);
	assert_int_equal(e.n, n);
	for (size_t i = 0; i < n; i++) {
		char *want = subst_path(exp[i], path);
		if (strcmp(want, e.v[i]) != 0)
			print_errors(&e);
		assert_string_equal(e.v[i], want);
		free(want);
	}
	pd_config_errors_free(&e);
	free(path);
}

static void expect_errors(const char *text, const char *const *exp)
{
	expect_errors_mode(text, 0600, exp);
}

/* Load text (mode 0600) and expect success. */
static struct pd_config *load_ok(const char *text)
{
	struct pd_config *cfg = NULL;
	struct pd_config_errors e = {0, NULL};
	char *path = write_conf("ok.conf", text, 0600);

	int rc = pd_config_load(path, &cfg, &e);
	if (rc != 0)
		print_errors(&e);
	assert_int_equal(rc, 0);
	assert_int_equal(e.n, 0);
	assert_non_null(cfg);
	free(path);
	return cfg;
}

/* Run pd_config_load with stderr captured; returns what was written there. */
static char *load_capturing_stderr(const char *path, struct pd_config **cfg_r, int *rc_r)
{
	struct pd_config_errors e = {0, NULL};
	FILE *tf = tmpfile();
	char *out = NULL;
	size_t len = 0;

	assert_non_null(tf);
	fflush(stderr);
	int saved = dup(2);
	dup2(fileno(tf), 2);
	*rc_r = pd_config_load(path, cfg_r, &e);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tf);
	out = pd_xcalloc(1, 4097);
	len = fread(out, 1, 4096, tf);
	out[len] = '\0';
	fclose(tf);
	if (*rc_r != 0)
		print_errors(&e);
	pd_config_errors_free(&e);
	return out;
}

/* ------------------------------------------------- the minimal file */

static void test_minimal_file(void **state)
{
	(void)state;
	char *path = write_conf("minimal.conf", minimal_conf, 0600);
	struct pd_config *cfg = NULL;
	int rc;
	char *err = load_capturing_stderr(path, &cfg, &rc);

	assert_int_equal(rc, 0);
	assert_string_equal(err, ""); /* tls = "none" on loopback: no warning */
	free(err);

	assert_string_equal(cfg->path, path);
	assert_string_equal(cfg->support_address, "support@example.com");
	assert_string_equal(cfg->subject_tag, "Support");
	assert_string_equal(cfg->message_id_domain, "example.com");
	assert_string_equal(cfg->default_language, "en");
	assert_string_equal(cfg->log_level, "info");
	assert_string_equal(cfg->db_conninfo,
			    "host=127.0.0.1 port=5432 dbname=postdesk user=postdesk");
	assert_int_equal(cfg->db_statement_timeout, 25);
	assert_int_equal(cfg->max_message_size, 25u * 1024 * 1024);
	assert_int_equal(cfg->batch_size, 100);
	assert_int_equal(cfg->batch_bytes, 32u * 1024 * 1024);
	assert_int_equal(cfg->reopen_days, 14);

	assert_int_equal(cfg->n_mailboxes, 1);
	const struct pd_mailbox_cfg *mb = &cfg->mailboxes[0];
	assert_ptr_equal(pd_config_mailbox(cfg, "support"), mb);
	assert_null(pd_config_mailbox(cfg, "sales"));
	assert_string_equal(mb->name, "support");
	assert_string_equal(mb->url, "imap://127.0.0.1:10143/INBOX");
	assert_string_equal(mb->host, "127.0.0.1");
	assert_int_equal(mb->port, 10143);
	assert_string_equal(mb->folder, "INBOX");
	assert_int_equal(mb->tls, PD_TLS_NONE);
	assert_int_equal(mb->auth, PD_IMAP_AUTH_AUTO);
	assert_string_equal(mb->user, "support");
	assert_string_equal(mb->password, "secret");
	assert_string_equal(mb->processed_folder, "Processed");
	assert_null(mb->ca_file);
	assert_string_equal(mb->queue, "default");
	assert_int_equal(mb->poll_interval, 60);
	assert_true(mb->idle);
	assert_int_equal(mb->timeout, 25);

	assert_true(cfg->smtp.enabled);
	assert_string_equal(cfg->smtp.url, "smtp://127.0.0.1:10025");
	assert_string_equal(cfg->smtp.host, "127.0.0.1");
	assert_int_equal(cfg->smtp.port, 10025);
	assert_int_equal(cfg->smtp.tls, PD_TLS_NONE);
	assert_null(cfg->smtp.user);
	assert_null(cfg->smtp.password);
	assert_string_equal(cfg->smtp.from, "Example Support <support@example.com>");
	assert_string_equal(cfg->smtp.from_address, "support@example.com");
	assert_null(cfg->smtp.ca_file);
	assert_int_equal(cfg->smtp.timeout, 25);

	assert_int_equal(cfg->agent_addresses.n, 1);
	assert_string_equal(cfg->agent_addresses.v[0], "alice@example.com");
	assert_int_equal(cfg->agent_notify.n, 1);
	assert_string_equal(cfg->agent_notify.v[0], "team@example.com");
	/* not in the minimal file: no Authentication-Results is trusted */
	assert_int_equal(cfg->trusted_authserv_ids.n, 0);

	assert_int_equal(cfg->n_sla, 2);
	const struct pd_sla_cfg *crit = pd_config_sla(cfg, "critical");
	const struct pd_sla_cfg *norm = pd_config_sla(cfg, "normal");
	assert_non_null(crit);
	assert_non_null(norm);
	assert_null(pd_config_sla(cfg, "high"));
	assert_int_equal(crit->first_response, 30 * 60);
	assert_int_equal(crit->resolution, 4 * 3600);
	assert_string_equal(crit->calendar, "24x7");
	assert_int_equal(crit->warn_at, 80);
	assert_int_equal(norm->first_response, 8 * 3600);
	assert_int_equal(norm->resolution, 3 * 86400);
	assert_string_equal(norm->calendar, "office");
	assert_int_equal(norm->warn_at, 80);

	assert_int_equal(cfg->n_calendars, 1);
	const struct pd_calendar_cfg *cal = pd_config_calendar(cfg, "office");
	assert_non_null(cal);
	assert_null(pd_config_calendar(cfg, "24x7"));
	assert_string_equal(cal->timezone, "Europe/Moscow");
	assert_int_equal(cal->hours.n, 1);
	assert_string_equal(cal->hours.v[0], "mon-fri 09:00-18:00");
	assert_int_equal(cal->hours_parsed[0].days, 0x1f);
	assert_int_equal(cal->hours_parsed[0].n, 1);
	assert_int_equal(cal->hours_parsed[0].r[0].start, 9 * 60);
	assert_int_equal(cal->hours_parsed[0].r[0].end, 18 * 60);
	assert_int_equal(cal->holidays.n, 1);
	assert_string_equal(cal->holidays.v[0], "2027-01-01");
	assert_int_equal(cal->holiday_dates[0].year, 2027);
	assert_int_equal(cal->holiday_dates[0].month, 1);
	assert_int_equal(cal->holiday_dates[0].day, 1);

	assert_int_equal(cfg->n_lines, 2);
	assert_int_equal(cfg->lines[0].number, 1);
	assert_int_equal(cfg->lines[0].notify.n, 1);
	assert_string_equal(cfg->lines[0].notify.v[0], "l1@example.com");
	assert_int_equal(cfg->lines[1].number, 2);
	assert_string_equal(pd_config_line(cfg, 2)->notify.v[0], "l2@example.com");
	assert_null(pd_config_line(cfg, 3));

	assert_true(pd_config_is_agent(cfg, "alice@example.com"));
	assert_false(pd_config_is_agent(cfg, "bob@example.com"));
	pd_config_free(cfg);
	free(path);
}

static void test_minimal_file_group_readable(void **state)
{
	(void)state;
	static const char *const exp[] = {
		"%P:8: inline password in a file readable by group/other; chmod 600 %P or use "
		"password_file",
		NULL,
	};
	expect_errors_mode(minimal_conf, 0640, exp);
	expect_errors_mode(minimal_conf, 0604, exp);
	/* without the inline password the same mode is fine */
	char *pw = write_conf("pw-min", "secret\n", 0600);
	char *text = pd_xstrdup(minimal_conf);
	char *p = strstr(text, "password         = \"secret\"");
	assert_non_null(p);
	memcpy(p, "password_file    = \"pw-min\"", strlen("password_file    = \"pw-min\""));
	char *path = write_conf("readable.conf", text, 0644);
	struct pd_config *cfg = NULL;
	struct pd_config_errors e = {0, NULL};
	assert_int_equal(pd_config_load(path, &cfg, &e), 0);
	assert_string_equal(cfg->mailboxes[0].password, "secret");
	pd_config_free(cfg);
	free(path);
	free(text);
	free(pw);
}

/* ------------------------------------------------ conf/postdesk.conf */

static char *example_path(void)
{
	const char *top = getenv("top_srcdir");

	if (top != NULL && *top != '\0')
		return pd_xasprintf("%s/conf/postdesk.conf", top);
	/* run by hand: the source tree this file was compiled from */
	const char *f = __FILE__;
	const char *tail = strstr(f, "tests/unit/test_config.c");
	assert_non_null(tail);
	return pd_xasprintf("%.*sconf/postdesk.conf", (int)(tail - f), f);
}

static void test_example_file(void **state)
{
	(void)state;
	char *path = example_path();
	char *p1 = write_conf("cred/imap-support.password", "imap-secret\n", 0600);
	char *p2 = write_conf("cred/smtp.password", "smtp-secret\r\n", 0600);
	char *cred = pd_xasprintf("%s/cred", tmpdir);
	struct pd_config *cfg = NULL;
	int rc;

	setenv("CREDENTIALS_DIRECTORY", cred, 1);
	char *err = load_capturing_stderr(path, &cfg, &rc);
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	free(err);

	const struct pd_mailbox_cfg *mb = pd_config_mailbox(cfg, "support");
	assert_non_null(mb);
	assert_string_equal(mb->host, "imap.example.com");
	assert_int_equal(mb->port, 993);
	assert_int_equal(mb->tls, PD_TLS_IMPLICIT);
	assert_string_equal(mb->password, "imap-secret");
	assert_string_equal(mb->processed_folder, "Processed");
	assert_int_equal(cfg->smtp.port, 587);
	assert_int_equal(cfg->smtp.tls, PD_TLS_STARTTLS);
	assert_string_equal(cfg->smtp.password, "smtp-secret");
	assert_int_equal(cfg->n_sla, 3);
	/* the shipped rules, in file order: urgency, then request types; queues and
	 * type sections are only shown, commented out */
	assert_int_equal(cfg->classify.n_rules, 8);
	assert_string_equal(cfg->classify.rules[0].name, "outage");
	assert_string_equal(cfg->classify.rules[0].priority, "critical");
	assert_string_equal(cfg->classify.rules[1].priority, "high");
	assert_string_equal(cfg->classify.rules[2].priority, "low");
	static const char *const shipped_types[] = {"refund", "access", "incident", "complaint",
						    "suggestion"};
	for (size_t i = 0; i < PD_ARRAY_LEN(shipped_types); i++) {
		assert_null(cfg->classify.rules[3 + i].priority);
		assert_string_equal(cfg->classify.rules[3 + i].type, shipped_types[i]);
	}
	assert_int_equal(cfg->classify.n_queues, 0);
	assert_int_equal(cfg->classify.n_types, 0);
	assert_false(cfg->classify.trust_priority_headers);
	assert_int_equal(pd_config_calendar(cfg, "office")->hours.n, 2);
	assert_int_equal(pd_config_calendar(cfg, "office")->hours_parsed[0].n, 2);
	assert_true(pd_config_is_agent(cfg, "anyone@support.example.com"));
	pd_config_free(cfg);

	/* every key is documented: "key =" appears, commented out or not */
	static const char *const keys[] = {
		"support_address", "subject_tag", "message_id_domain", "default_language",
		"log_level", "max_message_size", "batch_size", "batch_bytes", "reopen_days",
		"conninfo", "statement_timeout", "url", "tls", "auth", "user", "password",
		"password_file", "processed_folder", "ca_file", "queue", "poll_interval", "idle",
		"timeout", "from", "addresses", "notify", "first_response", "resolution",
		"calendar", "warn_at", "timezone", "hours", "holidays", "templates_dir",
		"auto_reply_limit_10m", "auto_reply_limit_day", "suppress_days",
		"sla_scan_interval", "trust_priority_headers", "senders", "keywords", "fields",
		"priority", "final", "line", "type",
	};
	char *text;
	size_t len;
	assert_int_equal(pd_read_file(path, &text, &len), 0);
	for (size_t i = 0; i < PD_ARRAY_LEN(keys); i++) {
		char *needle = pd_xasprintf("\t%s = ", keys[i]);
		char *top = pd_xasprintf("\n%s = ", keys[i]);
		char *commented = pd_xasprintf("#%s = ", keys[i]);
		if (!strstr(text, needle) && !strstr(text, top) && !strstr(text, commented))
			fail_msg("key %s is not in conf/postdesk.conf", keys[i]);
		free(needle);
		free(top);
		free(commented);
	}
	free(text);
	free(cred);
	free(p1);
	free(p2);
	free(path);
}

/* ------------------------------------------------------ broken files */

struct bad_case {
	const char *name;
	const char *text;
	const char *exp[16];
};

/* 50 bytes, for a keyword over the 200-byte limit */
#define X50 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const struct bad_case bad_cases[] = {
	{"many problems at once",
	 "# a comment\n"
	 "support_address = \"not-an-address\"\n"
	 "colour = \"blue\"   # unknown\n"
	 "batch_size = 0\n"
	 "database {\n"
	 "  conninfo = \"dbname=x\"\n"
	 "  statement_timeout = \"5x\"\n"
	 "  bogus = { \"a\", \"b\" }\n"
	 "}\n"
	 "mailbox \"support\" {\n"
	 "  url = \"imaps://mail.example.com/INBOX\"\n"
	 "  tls = \"starttls\"\n"
	 "  user = \"u\"\n"
	 "  password_file = \"/nonexistent/pw\"\n"
	 "  idle = \"maybe\"\n"
	 "}\n"
	 "sla \"urgent\" { first_response = \"1h\" resolution = \"2h\" calendar = \"nope\" "
	 "warn_at = 101 }\n"
	 "line 1 { notify = {\"l1@example.com\"} }\n",
	 {"%P:2: support_address: \"not-an-address\" is not an e-mail address",
	  "%P:3: unknown option 'colour'",
	  "%P:4: batch_size: must be a whole number from 1 to 10000, not \"0\"",
	  "%P:7: statement_timeout: \"5x\" is not a duration (use e.g. 30s, 15m, 8h or 3d)",
	  "%P:8: unknown option 'bogus' in database",
	  "%P:12: tls = \"starttls\" conflicts with imaps:// (implicit TLS); use tls = "
	  "\"implicit\" or an imap:// URL",
	  "%P:14: password_file: cannot use \"/nonexistent/pw\": No such file or directory",
	  "%P:15: idle: must be true or false, not \"maybe\"",
	  "%P:17: sla \"urgent\": unknown priority; use critical, high, normal or low",
	  "%P:17: warn_at: must be a whole number from 1 to 100, not \"101\"",
	  "%P:17: calendar: no calendar \"nope\" is defined (add calendar \"nope\" { ... } or "
	  "use \"24x7\")",
	  NULL}},
	{"calendar and line problems",
	 BASE "calendar \"office\" {\n"
	      "  timezone = \"Mars/Olympus\"\n"
	      "  hours = {\"mon-fri 09:00-18:00\",\n"
	      "           \"sat 18:00-10:00\"}\n"
	      "  holidays = {\"2027-02-30\"}\n"
	      "}\n"
	      "line 0 { notify = {\"bad\"} }\n"
	      "frobnicate \"x\" { a = 1 }\n",
	 {"%P:4: timezone: unknown time zone \"Mars/Olympus\" (not found in /usr/share/zoneinfo)",
	  "%P:6: hours: \"sat 18:00-10:00\": time range '18:00-10:00' ends before it starts "
	  "(split ranges that cross midnight)",
	  "%P:7: holidays: \"2027-02-30\" is not a date (YYYY-MM-DD)",
	  "%P:9: line \"0\": the name must be a support line number from 1 to 1000, as in line "
	  "1 { ... }",
	  "%P:9: notify: \"bad\" is not an e-mail address", "%P:10: unknown section 'frobnicate'",
	  NULL}},
	{"line numbers survive comments of every kind",
	 "# one\n"
	 "// two\n"
	 "/* three\n"
	 "   four */ support_address = \"support@example.com\" /* five */\n"
	 "database { # six\n"
	 "  conninfo = # seven: a comment between '=' and the value\n"
	 "    \"dbname=x\"\n"
	 "}\n"
	 "agents { addresses = { \"a@example.com\", # nine\n"
	 "                       \"b c\" } }\n"
	 "bogus = 1\n",
	 {"%P:10: addresses: \"b c\" is neither an e-mail address nor a domain",
	  "%P:11: unknown option 'bogus'", NULL}},
	{"libconfuse's own message keeps its line after comments",
	 "# c\n# d\nsupport_address = \"a@example.com\"\ndatabase { conninfo = \"x\" \n"
	 "  statement_timeout = \"\\9\" }\n",
	 {"%P:5: bad escape sequence '\\9'", NULL}},
	{"missing required keys and sections",
	 "subject_tag = \"Help\"\nmailbox \"m\" {\n  tls = \"none\"\n}\nsmtp {\n  tls = \"none\"\n}\n"
	 "sla \"low\" { warn_at = 50 }\ncalendar \"c\" { holidays = {\"2027-01-01\"} }\n",
	 {"%P: missing required option 'support_address'",
	  "%P: missing required section 'database' (database { conninfo = \"...\" })",
	  "%P:2: mailbox \"m\": missing required option 'url'",
	  "%P:2: mailbox \"m\": missing required option 'user'",
	  "%P:2: mailbox \"m\": no password: set password_file (preferred) or password, or "
	  "provide the credential 'mailbox.m.password' in $CREDENTIALS_DIRECTORY",
	  "%P:5: smtp: missing required option 'url'",
	  "%P:5: smtp: missing required option 'from'",
	  "%P:8: sla \"low\": missing required option 'first_response'",
	  "%P:8: sla \"low\": missing required option 'resolution'",
	  "%P:9: calendar \"c\": missing required option 'timezone'",
	  "%P:9: calendar \"c\": hours must list the open hours, e.g. hours = {\"mon-fri "
	  "09:00-18:00\"}",
	  NULL}},
	{"tls and url problems",
	 BASE "mailbox \"a\" { url = \"imap://mail.example.com/INBOX\" tls = \"implicit\"\n"
	      "  user = \"u\" password = \"p\" }\n"
	      "mailbox \"b\" { url = \"imaps://mail.example.com\"\n"
	      "  tls = \"none\" user = \"u\" password = \"p\" }\n"
	      "mailbox \"c\" { url = \"imap://mail.example.com\" tls = \"ssl\" user = \"u\" "
	      "password = \"p\" }\n"
	      "mailbox \"d\" { url = \"imap://mail.example.com:99999/INBOX\" user = \"u\" "
	      "password = \"p\" }\n"
	      "mailbox \"e\" { url = \"pop3://mail.example.com\" user = \"u\" password = \"p\" }\n"
	      "smtp { url = \"smtps://smtp.example.com\" tls = \"starttls\" from = "
	      "\"s@example.com\" }\n",
	 {"%P:3: tls = \"implicit\" conflicts with imap://; use an imaps:// URL or tls = "
	  "\"starttls\"",
	  "%P:6: tls = \"none\" conflicts with imaps:// (implicit TLS); use tls = \"implicit\" "
	  "or an imap:// URL",
	  "%P:7: tls: must be one of implicit, starttls, none, not \"ssl\"",
	  "%P:8: url: \"imap://mail.example.com:99999/INBOX\": port must be a number from 1 to "
	  "65535",
	  "%P:9: url: \"pop3://mail.example.com\": must start with imap:// or imaps://",
	  "%P:10: tls = \"starttls\" conflicts with smtps:// (implicit TLS); use tls = "
	  "\"implicit\" or an smtp:// URL",
	  NULL}},
	{"values: durations, sizes, numbers, enums",
	 BASE "max_message_size = \"lots\"\nbatch_bytes = 0\nreopen_days = -1\nlog_level = "
	      "\"loud\"\n"
	      "subject_tag = \"[Support]\"\ndefault_language = \"english\"\nmessage_id_domain = "
	      "\"-bad-.example\"\n"
	      "mailbox \"m\" {\n  url = \"imap://127.0.0.1/INBOX\"\n  tls = \"none\"\n"
	      "  user = \"u\"\n  password = \"p\"\n  auth = \"cram-md5\"\n"
	      "  poll_interval = \"0\"\n  timeout = \"1 hour\"\n  processed_folder = \"INBOX\"\n"
	      "  queue = \"\"\n}\n",
	 {"%P:3: max_message_size: \"lots\" is not a size (use e.g. 512K, 25M or 1G)",
	  "%P:4: batch_bytes: must be greater than zero",
	  "%P:5: reopen_days: must be a whole number from 0 to 3650, not \"-1\"",
	  "%P:6: log_level: must be one of err, warning, notice, info, debug, not \"loud\"",
	  "%P:7: subject_tag: \"[Support]\" must be at most 64 characters without '[', ']', '#' "
	  "or surrounding spaces",
	  "%P:8: default_language: \"english\" is not a language code such as en or ru",
	  "%P:9: message_id_domain: \"-bad-.example\" is not a domain name",
	  "%P:15: auth: must be one of password, xoauth2, oauthbearer (or auto, login, plain), "
	  "not \"cram-md5\"",
	  "%P:16: poll_interval: must be at least 1s",
	  "%P:17: timeout: \"1 hour\" is not a duration (use e.g. 30s, 15m, 8h or 3d)",
	  "%P:18: processed_folder: \"INBOX\" is the folder the mailbox reads from",
	  "%P:19: queue: must not be empty"}},
	{"smtp problems",
	 BASE "smtp {\n  url = \"smtp://smtp.example.com\"\n  from = \"Support <support>\"\n"
	      "  password = \"x\"\n  ca_file = \"/nonexistent/ca.pem\"\n}\n",
	 {"%P:5: from: \"Support <support>\" is not an address (use \"Name <addr@example.com>\" "
	  "or addr@example.com)",
	  "%P:6: password without user: set user too, or remove password",
	  "%P:7: ca_file: cannot read \"/nonexistent/ca.pem\": No such file or directory", NULL}},
	{"smtp user without any password",
	 BASE "smtp {\n  url = \"smtp://smtp.example.com\"\n  from = \"s@example.com\"\n"
	      "  user = \"s\"\n}\n",
	 {"%P:3: smtp: no password: set password_file (preferred) or password, or provide the "
	  "credential 'smtp.password' in $CREDENTIALS_DIRECTORY",
	  NULL}},
	{"duplicates", BASE "database { conninfo = \"y\" }\n"
			    "mailbox \"m\" { url = \"imap://h\" user = \"u\" password = \"p\" }\n"
			    "mailbox \"m\" { url = \"imap://h\" user = \"u\" password = \"p\" }\n"
			    "calendar \"c\" { timezone = \"UTC\" hours = {\"mon 09:00-10:00\"} }\n"
			    "calendar \"c\" { timezone = \"UTC\" hours = {\"mon 09:00-10:00\"} }\n"
			    "line 1 { }\nline 1 { }\nsla \"low\" { first_response = \"1h\" "
			    "resolution = \"1d\" }\n"
			    "sla \"low\" { first_response = \"1h\" resolution = \"1d\" }\n",
	 {"%P:3: section 'database' appears twice (first on line 2)",
	  "%P:5: duplicate mailbox \"m\" (first defined on line 4)",
	  "%P:7: duplicate calendar \"c\" (first defined on line 6)",
	  "%P:9: duplicate line \"1\" (first defined on line 8)",
	  "%P:11: duplicate sla \"low\" (first defined on line 10)", NULL}},
	{"addresses and names",
	 "support_address = \"support@@example.com\"\ndatabase { conninfo = \"x\" }\n"
	 "agents {\n  addresses = {\"@example.com\", \"example.org\", \"@\", \"a@b@c\"}\n"
	 "  notify = {\"example.com\"}\n}\n"
	 "mailbox \"a b\" { url = \"imap://h\" user = \"u\" password = \"p\" }\n"
	 "line x { notify = {\"ok@example.com\", \"a..b@example.com\"} }\nline 01 { }\n",
	 {"%P:1: support_address: \"support@@example.com\" is not an e-mail address",
	  "%P:4: addresses: \"@\" is neither an e-mail address nor a domain",
	  "%P:4: addresses: \"a@b@c\" is neither an e-mail address nor a domain",
	  "%P:5: notify: \"example.com\" is not an e-mail address",
	  "%P:7: mailbox \"a b\": names may use only letters, digits, '.', '_' and '-' (at most "
	  "64)",
	  "%P:8: line \"x\": the name must be a support line number from 1 to 1000, as in line 1 "
	  "{ ... }",
	  "%P:8: notify: \"a..b@example.com\" is not an e-mail address",
	  "%P:9: line \"01\": the name must be a support line number from 1 to 1000, as in line "
	  "1 { ... }",
	  NULL}},
	{"calendars: reserved name, bad zones, hours and list item lines",
	 BASE "calendar \"24x7\" { timezone = \"UTC\" hours = {\"mon 09:00-10:00\"} }\n"
	      "calendar \"a\" { timezone = \"../../etc/passwd\" hours = {} }\n"
	      "calendar \"b\" { timezone = \"/usr/share/zoneinfo/UTC\"\n"
	      "  hours = {\"mon-fri 09:00-18:00\"}\n"
	      "  hours += {\"sat 10:00-12:00\",\n"
	      "            \"sun 10:00-12:00,11:00-13:00\"}\n"
	      "  holidays = {\"2027-01-01\",\n\"2027-13-01\"}\n}\n"
	      "calendar \"c\" { timezone = \"Europe\" hours = {\"fri-mon 09:00-10:00\"} }\n",
	 {"%P:3: calendar \"24x7\" is built in (always open) and cannot be redefined",
	  "%P:4: timezone: \"../../etc/passwd\" is not a time zone name such as Europe/Moscow",
	  "%P:4: calendar \"a\": hours must list the open hours, e.g. hours = {\"mon-fri "
	  "09:00-18:00\"}",
	  "%P:5: timezone: \"/usr/share/zoneinfo/UTC\" is not a time zone name such as "
	  "Europe/Moscow",
	  "%P:8: hours: \"sun 10:00-12:00,11:00-13:00\": time range '11:00-13:00' overlaps or "
	  "precedes the one before it",
	  "%P:10: holidays: \"2027-13-01\" is not a date (YYYY-MM-DD)",
	  "%P:12: timezone: unknown time zone \"Europe\" (not found in /usr/share/zoneinfo)",
	  "%P:12: hours: \"fri-mon 09:00-10:00\": day range 'fri-mon' runs backwards (weeks run "
	  "mon..sun)",
	  NULL}},
	{"syntax: missing value (one message only)",
	 "colour = 1\nsupport_address = \"a@example.com\"\ndatabase { conninfo = }\nbatch_size = "
	 "0\n",
	 {"%P:1: unknown option 'colour'", "%P:3: syntax error: missing value after 'conninfo ='",
	  NULL}},
	{"syntax: unclosed section is reported where it opens",
	 BASE "mailbox \"m\" {\n  url = \"imap://h\"\n  user = \"u\"\n",
	 {"%P:3: syntax error: mailbox \"m\" is never closed (missing '}')", NULL}},
	{"syntax: stray closing brace", BASE "}\n", {"%P:3: syntax error: unexpected '}'", NULL}},
	{"syntax: unterminated string", BASE "subject_tag = \"Help\n\n",
	 {"%P:3: syntax error: unterminated string", NULL}},
	{"syntax: missing equal sign", BASE "subject_tag \"x\"\n",
	 {"%P:3: syntax error: missing '{' after subject_tag \"x\"", NULL}},
	{"syntax: section used as an option", BASE "smtp = \"x\"\n",
	 {"%P:3: syntax error: 'smtp' is a section: write smtp { ... }", NULL}},
	{"syntax: option used as a section", BASE "subject_tag { }\n",
	 {"%P:3: syntax error: 'subject_tag' is an option: write subject_tag = value", NULL}},
	{"syntax: untitled mailbox", BASE "mailbox { url = \"imap://h\" }\n",
	 {"%P:3: syntax error: section 'mailbox' needs a name: mailbox \"NAME\" { ... }", NULL}},
	{"syntax: titled database", BASE "database \"main\" { }\n",
	 {"%P:3: syntax error: section 'database' takes no name: database { ... }", NULL}},
	{"syntax: list for a single value", BASE "subject_tag = {\"a\", \"b\"}\n",
	 {"%P:3: syntax error: 'subject_tag' takes one value, not a list", NULL}},
	{"syntax: += on a single value", BASE "subject_tag += \"a\"\n",
	 {"%P:3: syntax error: '+=' works on lists only, and 'subject_tag' is not a list", NULL}},
	{"syntax: bad list", BASE "agents {\n  notify = {\"a@example.com\" \"b@example.com\"}\n}\n",
	 {"%P:4: syntax error: missing ',' or '}' in the list of 'notify'", NULL}},
	{"syntax: stray character", BASE "batch_size = 10 * 2\n",
	 {"%P:3: syntax error: unexpected character '*'", NULL}},
	{"syntax: include() is not supported", BASE "include(\"other.conf\")\n",
	 {"%P:3: unknown option 'include'", NULL}},
	{"queues and trust_priority_headers",
	 BASE "trust_priority_headers = \"perhaps\"\n"
	      "queue \"Billing\" { addresses = {\"billing@example.com\",\n"
	      "                  \"not an address\"} line = 0 }\n"
	      "queue \"ops\" { addresses = {\"BILLING@example.com\"} line = \"1001\" }\n"
	      "queue \"a b\" { addresses = {\"@example.com\", \"x@example.com\", "
	      "\"x@example.com\"} }\n",
	 {"%P:3: trust_priority_headers: must be true or false, not \"perhaps\"",
	  "%P:4: queue \"Billing\": names may use only lower-case letters, digits, '.', '_' and "
	  "'-' (at most 64)",
	  "%P:5: addresses: \"not an address\" is not an e-mail address",
	  "%P:5: line: must be a whole number from 1 to 1000, not \"0\"",
	  "%P:6: line: must be a whole number from 1 to 1000, not \"1001\"",
	  "%P:6: addresses: \"BILLING@example.com\" is already listed for queue \"Billing\"",
	  "%P:7: queue \"a b\": names may use only lower-case letters, digits, '.', '_' and '-' "
	  "(at most 64)",
	  "%P:7: addresses: \"@example.com\" is not an e-mail address",
	  "%P:7: addresses: \"x@example.com\" is already listed for queue \"a b\"", NULL}},
	{"rules: what a rule needs, names, priorities, queues",
	 BASE "rule \"empty\" { }\n"
	      "rule \"bad name!\" { keywords = {\"x\"} priority = \"urgent\" }\n"
	      "rule \"q\" { keywords = {\"x\"} queue = \"Sales\" }\n"
	      "rule \"e\" { keywords = {} senders = {} priority = \"\" }\n",
	 {"%P:3: rule \"empty\": needs senders or keywords (or both)",
	  "%P:3: rule \"empty\": needs priority, queue or type",
	  "%P:4: rule \"bad name!\": names may use only letters, digits, '.', '_' and '-' (at "
	  "most 64)",
	  "%P:4: priority: must be one of critical, high, normal, low, not \"urgent\"",
	  "%P:5: queue: \"Sales\" is not a queue name (lower-case letters, digits, '.', '_' and "
	  "'-')",
	  "%P:6: rule \"e\": needs senders or keywords (or both)",
	  "%P:6: priority: must not be empty", NULL}},
	{"rules: keywords",
	 BASE "rule \"kw\" {\n"
	      "  keywords = {\"\", \"ok\", \"ur*gent\",\n"
	      "              \"***\", \"---\", \"tab\\there\", \"*\"}\n"
	      "  keywords += {\"" X50 X50 X50 X50 "x\", \"\xff\xfe\",\n"
	      "               \"срочн*\", \"«—»\"}\n"
	      "  priority = \"high\"\n"
	      "}\n",
	 {"%P:4: keywords: an empty keyword matches nothing",
	  "%P:4: keywords: \"ur*gent\" may have '*' only at its end (a prefix, as in "
	  "\"urgen*\")",
	  "%P:5: keywords: \"***\" may have '*' only at its end (a prefix, as in \"urgen*\")",
	  "%P:5: keywords: \"---\" has no letter or digit to match",
	  "%P:5: keywords: \"tab\there\" contains a control character",
	  "%P:5: keywords: \"*\" has no letter or digit to match",
	  "%P:6: keywords: item 8 is longer than 200 bytes",
	  "%P:6: keywords: item 9 is not valid UTF-8", NULL}},
	{"rules: fields and final",
	 BASE "rule \"f\" { keywords = {\"x\"} fields = {\"subject\", \"headers\"} priority = "
	      "\"low\" }\n"
	      "rule \"nofields\" { senders = {\"a@example.com\"} fields = {\"body\"} priority = "
	      "\"low\" }\n"
	      "rule \"emptyfields\" { keywords = {\"x\"} fields = {} priority = \"low\" }\n"
	      "rule \"final\" { keywords = {\"x\"} priority = \"low\" final = true }\n"
	      "rule \"final2\" { senders = {\"@example.com\", \"@\"} queue = \"ops\"\n"
	      "  final = \"yes\" }\n"
	      "rule \"final3\" { senders = {\"a@example.com\"} priority = \"low\" final = "
	      "\"maybe\" }\n",
	 {"%P:3: fields: must be subject or body, not \"headers\"",
	  "%P:4: fields: only applies to keywords, and rule \"nofields\" has none",
	  "%P:5: fields: must list subject, body or both",
	  "%P:6: final: only a rule with senders can be final",
	  "%P:7: senders: \"@\" is neither an e-mail address nor a domain",
	  "%P:8: final: decides the priority, and rule \"final2\" sets none",
	  "%P:9: final: must be true or false, not \"maybe\"", NULL}},
	{"rules: exclude",
	 BASE "rule \"e1\" { senders = {\"a@example.com\"} exclude = {\"x\"} priority = \"low\" }\n"
	      "rule \"e2\" { keywords = {\"x\"} exclude = {\"---\"} type = \"access\" }\n",
	 {"%P:3: exclude: only applies to keywords, and rule \"e1\" has none",
	  "%P:4: exclude: \"---\" has no letter or digit to match", NULL}},
	{"plans",
	 BASE "plan \"p1\" { }\n"
	      "plan \"p2\" { customers = {\"@\"} high = \"1h\" calendar = \"nowhere\" }\n"
	      "plan \"p3\" { customers = {\"a@example.com\"} low = \"1h 2x\" critical = \"0s 1h\"\n"
	      "  warn_at = 0 }\n",
	 {"%P:3: plan \"p1\": customers = {...} is required (addresses or @domains)",
	  "%P:3: plan \"p1\": sets nothing; give targets (e.g. high = \"1h 8h\") or a calendar",
	  "%P:4: customers: \"@\" is neither an e-mail address nor a domain",
	  "%P:4: calendar: no calendar \"nowhere\" is defined (add calendar \"nowhere\" { ... } "
	  "or use \"24x7\")",
	  "%P:4: high: \"1h\" must be two durations, first response and resolution (e.g. "
	  "\"1h 8h\")",
	  "%P:5: critical: \"0s 1h\" must be two durations, first response and resolution "
	  "(e.g. \"1h 8h\")",
	  "%P:5: low: \"1h 2x\" must be two durations, first response and resolution (e.g. "
	  "\"1h 8h\")",
	  "%P:6: warn_at: must be a whole number from 1 to 100, not \"0\"", NULL}},
	{"types: rule types and type sections",
	 BASE "rule \"t1\" { keywords = {\"x\"} type = \"bug\" }\n"
	      "rule \"t2\" { keywords = {\"x\"} type = \"\" }\n"
	      "rule \"t3\" { keywords = {\"x\"} type = \"Incident\" }\n"
	      "type \"incident\" { queue = \"Engineering\" line = 0 }\n"
	      "type \"bug\" { line = 2 }\n"
	      "type \"refund\" {\n"
	      "  queue = \"\"\n"
	      "  line = \"1001\"\n"
	      "}\n"
	      "type \"access\" { lines = 2 }\n",
	 {"%P:3: type: must be one of question, incident, complaint, suggestion, refund, access, "
	  "not \"bug\"",
	  "%P:4: type: must not be empty",
	  "%P:5: type: must be one of question, incident, complaint, suggestion, refund, access, "
	  "not \"Incident\"",
	  "%P:6: queue: \"Engineering\" is not a queue name (lower-case letters, digits, '.', '_' "
	  "and '-')",
	  "%P:6: line: must be a whole number from 1 to 1000, not \"0\"",
	  "%P:7: type \"bug\": unknown request type; use question, incident, complaint, "
	  "suggestion, refund, access",
	  "%P:9: queue: must not be empty",
	  "%P:10: line: must be a whole number from 1 to 1000, not \"1001\"",
	  "%P:12: unknown option 'lines' in type \"access\"", NULL}},
	{"types: duplicates",
	 BASE "type \"complaint\" { line = 2 }\ntype \"complaint\" { line = 3 }\n",
	 {"%P:4: duplicate type \"complaint\" (first defined on line 3)", NULL}},
	{"rules and queues: duplicates",
	 BASE "queue \"a\" { }\nqueue \"a\" { }\n"
	      "rule \"r\" { keywords = {\"x\"} priority = \"low\" }\n"
	      "rule \"r\" { keywords = {\"y\"} priority = \"low\" }\n",
	 {"%P:4: duplicate queue \"a\" (first defined on line 3)",
	  "%P:6: duplicate rule \"r\" (first defined on line 5)", NULL}},
};

static void test_bad_configs(void **state)
{
	(void)state;
	for (size_t i = 0; i < PD_ARRAY_LEN(bad_cases); i++) {
		current_case = bad_cases[i].name;
		expect_errors(bad_cases[i].text, bad_cases[i].exp);
	}
	current_case = NULL;
}

/* Plans: which customers, which targets, which calendar. */
static void test_plans(void **state)
{
	(void)state;
	struct pd_config *cfg = load_ok(
	    BASE "sla \"high\"   { first_response = \"8h\"  resolution = \"3d\"  calendar = "
		 "\"office\"  warn_at = 75 }\n"
		 "sla \"normal\" { first_response = \"1d\"  resolution = \"5d\"  calendar = "
		 "\"office\" }\n"
		 "calendar \"office\" { timezone = \"Europe/Moscow\"  hours = {\"mon-fri "
		 "09:00-18:00\"} }\n"
		 "plan \"premium\" { customers = {\"@BigCorp.example\", \"ceo@small.example\"}\n"
		 "  calendar = \"24x7\"  high = \"1h 8h\"  critical = \"15m 4h\"  warn_at = 50 }\n"
		 "plan \"standard\" { customers = {\"small.example\"}  normal = \"8h 3d\" }\n");
	struct pd_sla_cfg s;

	assert_int_equal(cfg->n_plans, 2);
	assert_string_equal(pd_config_plan_for(cfg, "ops@bigcorp.EXAMPLE")->name, "premium");
	assert_string_equal(pd_config_plan_for(cfg, "CEO@small.example")->name, "premium");
	assert_string_equal(pd_config_plan_for(cfg, "bob@small.example")->name, "standard");
	assert_null(pd_config_plan_for(cfg, "bob@other.example"));
	assert_null(pd_config_plan_for(cfg, "bob@sub.small.example"));
	assert_null(pd_config_plan_for(cfg, "no-at-sign"));
	/* premium high: its own targets, on its 24x7 calendar, its warn_at */
	assert_true(pd_config_sla_for(cfg, "premium", "high", &s));
	assert_int_equal(s.first_response, 3600);
	assert_int_equal(s.resolution, 8 * 3600);
	assert_string_equal(s.calendar, "24x7");
	assert_int_equal(s.warn_at, 50);
	/* premium critical: the plan's targets although no top-level section */
	assert_true(pd_config_sla_for(cfg, "premium", "critical", &s));
	assert_int_equal(s.first_response, 900);
	assert_int_equal(s.warn_at, 50);
	/* premium normal: the default targets, on the plan's calendar */
	assert_true(pd_config_sla_for(cfg, "premium", "normal", &s));
	assert_int_equal(s.first_response, 86400);
	assert_string_equal(s.calendar, "24x7");
	/* standard normal: its targets on the default section's calendar */
	assert_true(pd_config_sla_for(cfg, "standard", "normal", &s));
	assert_int_equal(s.first_response, 8 * 3600);
	assert_int_equal(s.resolution, 3 * 86400);
	assert_string_equal(s.calendar, "office");
	/* no plan: the top-level sections; none for low */
	assert_true(pd_config_sla_for(cfg, NULL, "high", &s));
	assert_int_equal(s.first_response, 8 * 3600);
	assert_string_equal(s.calendar, "office");
	assert_int_equal(s.warn_at, 75);
	assert_false(pd_config_sla_for(cfg, NULL, "low", &s));
	assert_false(pd_config_sla_for(cfg, "standard", "low", &s));
	assert_false(pd_config_sla_for(cfg, "premium", "bogus", &s));
	/* an unknown plan name (a plan removed from the config) is the default */
	assert_true(pd_config_sla_for(cfg, "gone", "normal", &s));
	assert_int_equal(s.first_response, 86400);
	pd_config_free(cfg);
}

static void test_rules_and_queues(void **state)
{
	(void)state;
	struct pd_config *cfg = load_ok(
		BASE "trust_priority_headers = yes\n"
		     "queue \"billing\" { addresses = {\"billing@example.com\", "
		     "\"Invoices@Example.com\"} line = 2 }\n"
		     "queue \"ops.night_1\" { }\n"
		     "rule \"b\" { keywords = {\"urgent\", \"срочн*\", \"не работает\"} priority = "
		     "\"high\" }\n"
		     "rule \"a\" { senders = {\"@vip.example\", \"boss@example.org\", "
		     "\"example.net\"}\n"
		     "  final = true priority = \"critical\" }\n"
		     "rule \"c\" { keywords = {\"refund\"} fields = {\"subject\"} queue = "
		     "\"billing\" }\n"
		     "rule \"d\" { senders = {\"x@example.com\"} keywords = {\"invoice\"} fields = "
		     "{\"body\", \"body\"}\n"
		     "  priority = \"low\" queue = \"ops.night_1\" final = off }\n");

	assert_true(cfg->classify.trust_priority_headers);
	assert_non_null(cfg->classify.cache);
	assert_int_equal(cfg->classify.n_queues, 2);
	const struct pd_queue_cfg *q = pd_config_queue(cfg, "billing");
	assert_ptr_equal(q, &cfg->classify.queues[0]);
	assert_int_equal(q->line, 2);
	assert_int_equal(q->addresses.n, 2);
	assert_string_equal(q->addresses.v[1], "Invoices@Example.com");
	q = pd_config_queue(cfg, "ops.night_1");
	assert_non_null(q);
	assert_int_equal(q->line, 1);
	assert_int_equal(q->addresses.n, 0);
	assert_null(pd_config_queue(cfg, "Billing"));
	assert_null(pd_config_queue(cfg, "default"));

	/* file order, not alphabetical */
	assert_int_equal(cfg->classify.n_rules, 4);
	const struct pd_rule_cfg *r = &cfg->classify.rules[0];
	assert_string_equal(r->name, "b");
	assert_int_equal(r->keywords.n, 3);
	assert_string_equal(r->keywords.v[1], "срочн*");
	assert_int_equal(r->senders.n, 0);
	assert_true(r->match_subject);
	assert_true(r->match_body);
	assert_string_equal(r->priority, "high");
	assert_null(r->queue);
	assert_false(r->final);
	r = &cfg->classify.rules[1];
	assert_string_equal(r->name, "a");
	assert_int_equal(r->senders.n, 3);
	assert_string_equal(r->senders.v[0], "@vip.example");
	assert_int_equal(r->keywords.n, 0);
	assert_true(r->final);
	assert_string_equal(r->priority, "critical");
	r = &cfg->classify.rules[2];
	assert_string_equal(r->name, "c");
	assert_true(r->match_subject);
	assert_false(r->match_body);
	assert_null(r->priority);
	assert_string_equal(r->queue, "billing");
	r = &cfg->classify.rules[3];
	assert_string_equal(r->name, "d");
	assert_false(r->match_subject);
	assert_true(r->match_body);
	assert_string_equal(r->queue, "ops.night_1");
	assert_false(r->final);
	pd_config_free(cfg);

	/* none of them: no rules, no queues, headers not trusted */
	cfg = load_ok(BASE);
	assert_false(cfg->classify.trust_priority_headers);
	assert_int_equal(cfg->classify.n_rules, 0);
	assert_int_equal(cfg->classify.n_queues, 0);
	assert_null(pd_config_queue(cfg, "billing"));
	pd_config_free(cfg);
}

/* Request types: the type a rule gives, and where a type's tickets go. */
static void test_types(void **state)
{
	(void)state;
	struct pd_config *cfg = load_ok(
		BASE "rule \"broken\" { keywords = {\"не работает\", \"error\"} type = "
		     "\"incident\" }\n"
		     "rule \"both\" { senders = {\"@vip.example\"} priority = \"high\" type = "
		     "\"complaint\"\n"
		     "  queue = \"vip\" }\n"
		     "type \"incident\" { queue = \"engineering\"  line = 2 }\n"
		     "type \"refund\" { queue = \"billing\" }\n"
		     "type \"access\" { line = 3 }\n"
		     "type \"question\" { }\n");

	assert_int_equal(cfg->classify.n_rules, 2);
	assert_string_equal(cfg->classify.rules[0].type, "incident");
	assert_null(cfg->classify.rules[0].priority);
	assert_null(cfg->classify.rules[0].queue);
	assert_string_equal(cfg->classify.rules[1].type, "complaint");
	assert_string_equal(cfg->classify.rules[1].priority, "high");
	assert_string_equal(cfg->classify.rules[1].queue, "vip");
	assert_int_equal(cfg->classify.n_types, 4);
	const struct pd_type_cfg *t = pd_config_type(cfg, "incident");
	assert_ptr_equal(t, &cfg->classify.types[0]);
	assert_string_equal(t->queue, "engineering");
	assert_int_equal(t->line, 2);
	t = pd_config_type(cfg, "refund");
	assert_string_equal(t->queue, "billing");
	assert_int_equal(t->line, 0);
	t = pd_config_type(cfg, "access");
	assert_null(t->queue);
	assert_int_equal(t->line, 3);
	t = pd_config_type(cfg, "question");
	assert_non_null(t);
	assert_null(t->queue);
	assert_int_equal(t->line, 0);
	assert_null(pd_config_type(cfg, "complaint"));
	assert_null(pd_config_type(cfg, NULL));
	assert_null(pd_config_type(NULL, "incident"));
	pd_config_free(cfg);

	/* none: no types; a rule without one has NULL */
	cfg = load_ok(BASE "rule \"p\" { keywords = {\"x\"} priority = \"low\" }\n");
	assert_int_equal(cfg->classify.n_types, 0);
	assert_null(cfg->classify.rules[0].type);
	assert_null(pd_config_type(cfg, "incident"));
	pd_config_free(cfg);
}

static void test_load_edge_cases(void **state)
{
	(void)state;
	struct pd_config *cfg = (struct pd_config *)1;
	struct pd_config_errors e = {0, NULL};
	char *missing = pd_xasprintf("%s/nope.conf", tmpdir);

	assert_int_equal(pd_config_load(missing, &cfg, &e), -1);
	assert_null(cfg);
	assert_int_equal(e.n, 1);
	char *want = pd_xasprintf("%s: cannot read the configuration: No such file or directory",
				  missing);
	assert_string_equal(e.v[0], want);
	free(want);
	pd_config_errors_free(&e);
	assert_int_equal(e.n, 0);
	pd_config_errors_free(&e);

	/* errs may be NULL */
	assert_int_equal(pd_config_load(missing, &cfg, NULL), -1);
	free(missing);

	/* a NUL byte */
	static const char nul[] = BASE "subject_tag = \"a\0b\"\n";
	char *path = write_file("nul.conf", nul, sizeof(nul) - 1, 0600);
	assert_int_equal(pd_config_load(path, &cfg, &e), -1);
	want = pd_xasprintf("%s:3: NUL byte in the file", path);
	assert_string_equal(e.v[0], want);
	free(want);
	free(path);
	pd_config_errors_free(&e);

	pd_config_free(NULL);
	assert_false(pd_config_is_agent(NULL, "a@example.com"));
}

/* --------------------------------------------- defaults and warnings */

static void test_defaults(void **state)
{
	(void)state;
	struct pd_config *cfg = load_ok(
		BASE "mailbox \"a\" { url = \"imaps://imap.example.com\" user = \"u\" password = "
		     "\"p\" }\n"
		     "mailbox \"b\" { url = \"imap://imap.example.com/Support%20Queue\" user = "
		     "\"u\" password = \"p\"\n"
		     "  auth = \"plain\" idle = off poll_interval = 90 timeout = \"2m\" queue = "
		     "\"sales\"\n"
		     "  ca_file = \"/dev/null\" }\n");

	const struct pd_mailbox_cfg *a = pd_config_mailbox(cfg, "a");
	const struct pd_mailbox_cfg *b = pd_config_mailbox(cfg, "b");
	assert_int_equal(a->tls, PD_TLS_IMPLICIT);
	assert_int_equal(a->port, 993);
	assert_string_equal(a->folder, "INBOX");
	assert_null(a->processed_folder);
	assert_int_equal(b->tls, PD_TLS_STARTTLS);
	assert_int_equal(b->port, 143);
	assert_string_equal(b->folder, "Support Queue");
	assert_int_equal(b->auth, PD_IMAP_AUTH_PLAIN);
	assert_false(b->idle);
	assert_int_equal(b->poll_interval, 90);
	assert_int_equal(b->timeout, 120);
	assert_string_equal(b->queue, "sales");
	assert_string_equal(b->ca_file, "/dev/null");
	assert_false(cfg->smtp.enabled);
	assert_null(cfg->smtp.url);
	assert_int_equal(cfg->agent_addresses.n, 0);
	assert_int_equal(cfg->n_sla + cfg->n_calendars + cfg->n_lines, 0);
	pd_config_free(cfg);

	/* durations in every unit, sizes, explicit top-level values */
	cfg = load_ok("support_address = \"s@help.example.com\"\nmessage_id_domain = "
		      "\"mid.example.com\"\n"
		      "subject_tag = \"Поддержка\"\ndefault_language = \"ru\"\nlog_level = debug\n"
		      "max_message_size = 512K\nbatch_size = 10000\nbatch_bytes = 1G\nreopen_days "
		      "= 0\n"
		      "database { conninfo = \"dbname=x password=y\" statement_timeout = \"45\" }\n"
		      "smtp { url = \"smtps://[::1]\" from = \"s@example.com\" user = \"u\" "
		      "password = \"p\" }\n"
		      "sla \"high\" { first_response = \"90s\" resolution = \"2d\" warn_at = 1 }\n"
		      "sla \"low\" { first_response = \"15m\" resolution = \"8h\" warn_at = 100 }\n");
	assert_string_equal(cfg->message_id_domain, "mid.example.com");
	assert_string_equal(cfg->subject_tag, "Поддержка");
	assert_string_equal(cfg->log_level, "debug");
	assert_int_equal(cfg->max_message_size, 512 * 1024);
	assert_int_equal(cfg->batch_size, 10000);
	assert_int_equal(cfg->batch_bytes, 1024 * 1024 * 1024);
	assert_int_equal(cfg->reopen_days, 0);
	assert_int_equal(cfg->db_statement_timeout, 45);
	assert_int_equal(cfg->smtp.tls, PD_TLS_IMPLICIT);
	assert_string_equal(cfg->smtp.host, "::1");
	assert_int_equal(cfg->smtp.port, 465);
	assert_string_equal(cfg->smtp.password, "p");
	assert_string_equal(cfg->smtp.from_address, "s@example.com");
	assert_int_equal(pd_config_sla(cfg, "high")->first_response, 90);
	assert_int_equal(pd_config_sla(cfg, "high")->resolution, 2 * 86400);
	assert_string_equal(pd_config_sla(cfg, "high")->calendar, "24x7");
	assert_int_equal(pd_config_sla(cfg, "high")->warn_at, 1);
	assert_int_equal(pd_config_sla(cfg, "low")->first_response, 900);
	assert_int_equal(pd_config_sla(cfg, "low")->resolution, 8 * 3600);
	pd_config_free(cfg);
}

/* ------------------------------------------------------- templates */

/* Make tmpdir/sub (one level at a time) and write tmpdir/sub/file. */
static char *write_template(const char *sub, const char *file, const char *text)
{
	char *dir = pd_xasprintf("%s/%s", tmpdir, sub);

	for (char *p = dir + strlen(tmpdir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(dir, 0700);
		*p = '/';
	}
	mkdir(dir, 0700);
	free(dir);
	char *name = pd_xasprintf("%s/%s", sub, file);
	char *path = write_file(name, text, strlen(text), 0644);
	free(name);
	return path;
}

static void test_templates(void **state)
{
	(void)state;
	static const char *const langs[] = {"en", "ru"};
	struct pd_config *cfg;
	struct stat st;

	/* compiled in: every kind in every shipped language, read from no file
	 * ("" = the built-in templates only, even where some are installed) */
	cfg = load_ok(BASE "templates_dir = \"\"\n");
	assert_null(cfg->templates_dir);
	assert_int_equal(cfg->templates.n, pd_n_template_kinds * PD_ARRAY_LEN(langs));
	for (size_t l = 0; l < PD_ARRAY_LEN(langs); l++) {
		for (size_t i = 0; i < pd_n_template_kinds; i++) {
			const char *name = pd_template_kinds[i].name;
			const struct pd_template *t = pd_templates_find(&cfg->templates, langs[l], name);
			char *origin = pd_xasprintf("(built in) %s/%s.txt", langs[l], name);
			assert_non_null(t);
			assert_string_equal(t->origin, origin);
			assert_true(t->subject[0] != '\0' && t->body[0] != '\0');
			free(origin);
		}
	}
	/* the built-in text is the file's, byte for byte */
	char *top = getenv("top_srcdir") ? pd_xstrdup(getenv("top_srcdir")) : pd_xstrdup("..");
	char *shipped = pd_xasprintf("%s/conf/templates/ru/agent-notice.txt", top), *text;
	size_t len;
	if (pd_read_file(shipped, &text, &len) == 0) {
		struct pd_template t;
		struct pd_err err;
		assert_int_equal(pd_template_parse("ru", "agent-notice", shipped, text, len, &t, &err),
				 0);
		const struct pd_template *b = pd_templates_find(&cfg->templates, "ru", "agent-notice");
		assert_string_equal(b->subject, t.subject);
		assert_string_equal(b->body, t.body);
		pd_template_free(&t);
		free(text);
	}
	free(shipped);
	free(top);
	pd_config_free(cfg);

	/* unset: the installed folder when there is one, else the built-in ones
	 * (a build that was never installed still sends its mail) */
	cfg = load_ok(BASE);
	if (stat(PD_DATADIR "/templates", &st) != 0) {
		assert_null(cfg->templates_dir);
		assert_string_equal(pd_templates_find(&cfg->templates, "en", "ack")->origin,
				    "(built in) en/ack.txt");
	} else {
		assert_string_equal(cfg->templates_dir, PD_DATADIR "/templates");
	}
	pd_config_free(cfg);

	/* templates_dir overrides file by file; a folder adds a language */
	char *ack = write_template("tpl/en", "ack.txt", "Subject: Mine {{ticket.number}}\n\nHi\n");
	char *de = write_template("tpl/de", "survey.txt", "Subject: Umfrage\n\nBitte\n");
	free(write_template("tpl/.git", "x.txt", "not a template"));
	free(write_template("tpl/en", "README", "not a template either"));
	char *conf = pd_xasprintf(BASE "templates_dir = \"%s/tpl\"\n", tmpdir);
	cfg = load_ok(conf);
	free(conf);
	const struct pd_templates *set = &cfg->templates;
	assert_string_equal(pd_templates_find(set, "en", "ack")->origin, ack);
	assert_string_equal(pd_templates_find(set, "en", "ack")->subject, "Mine {{ticket.number}}");
	assert_string_equal(pd_templates_find(set, "en", "survey")->origin,
			    "(built in) en/survey.txt");
	assert_string_equal(pd_templates_find(set, "ru", "ack")->origin, "(built in) ru/ack.txt");
	assert_string_equal(pd_templates_find(set, "de", "survey")->origin, de);
	assert_string_equal(pd_templates_find(set, "de", "ack")->origin, ack); /* via en */
	char *dir = pd_xasprintf("%s/tpl", tmpdir);
	assert_string_equal(cfg->templates_dir, dir);
	free(dir);
	pd_config_free(cfg);

	/* a templates_dir that is not there: the setting's line */
	current_case = "templates_dir missing";
	expect_errors(BASE "log_level = info\ntemplates_dir = \"/nonexistent/pd-templates\"\n",
		      (const char *const[]){
			      "%P:4: templates_dir: cannot read the folder "
			      "\"/nonexistent/pd-templates\": No such file or directory (create it "
			      "with a folder per language, e.g. en/ack.txt, or remove the setting "
			      "to send the built-in templates)",
			      NULL});

	/* templates that do not render: each file and line, at the setting's
	 * place among the configuration's own problems */
	current_case = "broken templates";
	char *bad1 = write_template("bad/en", "ack.txt",
				    "Subject: {{ticket.number}}\n\nHello {{customer.name}},\n"
				    "{{ agent.name }} is on it.\n");
	char *bad2 = write_template("bad/ru", "survey.txt", "Тема: нет строки Subject\n\nx\n");
	char *bad3 = write_template("bad/ru", "acknowledgement.txt", "Subject: x\n\ny\n");
	free(write_template("bad/pt-BR", "ack.txt", "Subject: x\n\ny\n"));
	char *e1 = pd_xasprintf("%s:4: unknown field \"agent.name\" (ack may use ticket.number, "
				"ticket.subject, ticket.status, ticket.priority, ticket.queue, "
				"ticket.line, customer.name, customer.address, message.body, "
				"kb.articles, support.address)",
				bad1);
	char *e2 = pd_xasprintf("%%P:2: templates_dir: %s/bad/pt-BR is not a language folder (2 "
				"to 8 lower-case letters, such as en or ru)",
				tmpdir);
	char *e3 = pd_xasprintf("%s: postdesk sends no template called \"acknowledgement\" (it "
				"sends ack, agent-notice, agent-relay-footer, sla-warning, "
				"sla-breach, escalation, survey, auto-close, command-error, "
				"agent-held, attachment-error)",
				bad3);
	char *e4 = pd_xasprintf("%s:1: a template must start with a \"Subject: ...\" line and a "
				"blank line",
				bad2);
	conf = pd_xasprintf("support_address = \"nope\"\ntemplates_dir = \"%s/bad\"\n"
			    "database { conninfo = \"dbname=postdesk\" }\n",
			    tmpdir);
	expect_errors(conf, (const char *const[]){
				    "%P:1: support_address: \"nope\" is not an e-mail address",
				    e1, e2, e3, e4, NULL});
	free(conf);
	free(e1);
	free(e2);
	free(e3);
	free(e4);
	free(bad1);
	free(bad2);
	free(bad3);
	free(ack);
	free(de);
	current_case = NULL;
}

static void test_cleartext_warning(void **state)
{
	(void)state;
	char *path = write_conf("warn.conf",
				BASE "mailbox \"support\" {\n  url = \"imap://mail.example.com\"\n"
				     "  tls = \"none\"\n  user = \"u\"\n  password = \"p\"\n}\n",
				0600);
	struct pd_config *cfg = NULL;
	int rc;
	char *err = load_capturing_stderr(path, &cfg, &rc);

	assert_int_equal(rc, 0);
	char *want = pd_xasprintf("%s:5: mailbox \"support\": tls = \"none\" to mail.example.com, "
				  "which is not a loopback address",
				  path);
	assert_non_null(strstr(err, "warning"));
	assert_non_null(strstr(err, want));
	assert_int_equal(cfg->mailboxes[0].tls, PD_TLS_NONE);
	free(want);
	free(err);
	pd_config_free(cfg);
	free(path);
}

static void test_env_and_comments(void **state)
{
	(void)state;
	setenv("PD_TEST_USER", "from-env", 1);
	struct pd_config *cfg = load_ok(
		"/* header */ support_address = \"support@example.com\" // trailing\n"
		"database { conninfo = # between\n \"dbname=x\" }\n"
		"agents {\n  addresses = { # first\n    \"a@example.com\", # a\n"
		"    \"b@example.com\" # b\n  }\n  notify += \"n1@example.com\"\n"
		"  notify += {\"n2@example.com\"}\n"
		"  trusted_authserv_ids = {\"mx.example.com\", \"MX2.example.com\"}\n}\n"
		"mailbox \"m\" # title comment\n{ url = \"imap://localhost/\" tls = none\n"
		"  user = \"${PD_TEST_USER}\" password = 'it\\'s' }\n");
	unsetenv("PD_TEST_USER");
	assert_int_equal(cfg->agent_addresses.n, 2);
	assert_string_equal(cfg->agent_addresses.v[1], "b@example.com");
	assert_int_equal(cfg->agent_notify.n, 2);
	assert_string_equal(cfg->agent_notify.v[1], "n2@example.com");
	assert_int_equal(cfg->trusted_authserv_ids.n, 2);
	assert_string_equal(cfg->trusted_authserv_ids.v[1], "MX2.example.com");
	assert_string_equal(cfg->mailboxes[0].user, "from-env");
	assert_string_equal(cfg->mailboxes[0].host, "localhost");
	assert_string_equal(cfg->mailboxes[0].folder, "INBOX");
	pd_config_free(cfg);
}

/* ----------------------------------------------------------- secrets */

#define MB_FILE(pwline)                                                                        \
	BASE "mailbox \"support\" {\n  url = \"imap://127.0.0.1/INBOX\"\n  tls = \"none\"\n"    \
	     "  user = \"u\"\n  " pwline "\n}\n"

static char *load_password(const char *text)
{
	struct pd_config *cfg = load_ok(text);
	char *pw = pd_xstrdup(cfg->mailboxes[0].password);
	pd_config_free(cfg);
	return pw;
}

static void expect_password(const char *text, const char *want)
{
	char *pw = load_password(text);
	assert_string_equal(pw, want);
	free(pw);
}

static void test_password_file(void **state)
{
	(void)state;
	char *f1 = write_conf("pw/nl", "s3cret\n", 0600);
	char *f2 = write_conf("pw/crlf", "s3cret\r\n", 0600);
	char *f3 = write_conf("pw/none", "s3cret", 0600);
	char *f4 = write_conf("pw/two", "s3cret\n\n", 0600);
	char *f5 = write_conf("pw/empty", "\n", 0600);
	char *f6 = write_conf("pw/spaces", " s3 cret \n", 0600);
	char *text;

	text = pd_xasprintf(MB_FILE("password_file = \"%s\""), f1);
	expect_password(text, "s3cret");
	free(text);
	text = pd_xasprintf(MB_FILE("password_file = \"%s\""), f2);
	expect_password(text, "s3cret");
	free(text);
	text = pd_xasprintf(MB_FILE("password_file = \"%s\""), f3);
	expect_password(text, "s3cret");
	free(text);
	text = pd_xasprintf(MB_FILE("password_file = \"%s\""), f6);
	expect_password(text, " s3 cret ");
	free(text);
	/* relative paths: next to the config file */
	expect_password(MB_FILE("password_file = \"pw/nl\""), "s3cret");
	char *f7 = write_conf("bare.pw", "bare\n", 0600);
	expect_password(MB_FILE("password_file = \"bare.pw\""), "bare");

	char *want;
	text = pd_xasprintf(MB_FILE("password_file = \"%s\""), f4);
	want = pd_xasprintf("%%P:7: password_file: cannot use \"%s\": the password must be one "
			    "line",
			    f4);
	expect_errors(text, (const char *const[]){want, NULL});
	free(want);
	free(text);
	text = pd_xasprintf(MB_FILE("password_file = \"%s\""), f5);
	want = pd_xasprintf("%%P:7: password_file: cannot use \"%s\": the file is empty", f5);
	expect_errors(text, (const char *const[]){want, NULL});
	free(want);
	free(text);
	/* unreadable: missing, a directory, (when not root) mode 000 */
	want = pd_xasprintf("%%P:7: password_file: cannot use \"%s/missing\": No such file or "
			    "directory",
			    tmpdir);
	expect_errors(MB_FILE("password_file = \"missing\""), (const char *const[]){want, NULL});
	free(want);
	want = pd_xasprintf("%%P:7: password_file: cannot use \"%s/pw\": Is a directory", tmpdir);
	expect_errors(MB_FILE("password_file = \"pw\""), (const char *const[]){want, NULL});
	free(want);
	if (geteuid() != 0) {
		assert_int_equal(chmod(f1, 0), 0);
		want = pd_xasprintf("%%P:7: password_file: cannot use \"%s\": Permission denied",
				    f1);
		text = pd_xasprintf(MB_FILE("password_file = \"%s\""), f1);
		expect_errors(text, (const char *const[]){want, NULL});
		free(text);
		free(want);
	}
	/* both, or empty */
	expect_errors(BASE "mailbox \"support\" {\n  url = \"imap://127.0.0.1/INBOX\"\n"
			   "  tls = \"none\"\n  user = \"u\"\n  password = \"p\"\n"
			   "  password_file = \"bare.pw\"\n}\n",
		      (const char *const[]){"%P:8: set either password or password_file, not both",
					    NULL});
	expect_errors(MB_FILE("password = \"\""),
		      (const char *const[]){"%P:7: password: must not be empty", NULL});
	/* a conninfo password counts as an inline secret too */
	expect_errors_mode("support_address = \"s@example.com\"\n"
			   "database {\n  conninfo = \"host=db password = x\"\n}\n",
			   0644,
			   (const char *const[]){"%P:3: inline password in a file readable by "
						 "group/other; chmod 600 %P or use a passfile "
						 "(PGPASSFILE)",
						 NULL});
	expect_errors_mode("support_address = \"s@example.com\"\n"
			   "database { conninfo = \"postgresql://u:pw@db/postdesk\" }\n",
			   0660,
			   (const char *const[]){"%P:2: inline password in a file readable by "
						 "group/other; chmod 600 %P or use a passfile "
						 "(PGPASSFILE)",
						 NULL});
	free(f1), free(f2), free(f3), free(f4), free(f5), free(f6), free(f7);
}

/* ------------------------------------------------------ OAuth 2.0 */

#define MB_OAUTH(lines)                                                                        \
	BASE "mailbox \"m365\" {\n"                                                            \
	     "  url = \"imaps://outlook.office365.com/INBOX\"\n"                               \
	     "  user = \"support@example.com\"\n" lines "}\n"

static void test_oauth2(void **state)
{
	(void)state;
	char *sec = write_conf("oa/client.secret", "s3cret\n", 0600);
	char *rt = write_conf("oa/support.token", "1.refresh\n", 0600);
	struct pd_config *cfg;

	/* the DESIGN.md example: refresh token, relative files next to the config */
	cfg = load_ok(MB_OAUTH(
		"  auth = \"xoauth2\"\n"
		"  oauth2 {\n"
		"    token_url = \"https://login.microsoftonline.com/TENANT/oauth2/v2.0/token\"\n"
		"    client_id = \"abc\"\n"
		"    client_secret_file = \"oa/client.secret\"\n"
		"    grant = \"refresh_token\"\n"
		"    refresh_token_file = \"oa/support.token\"\n"
		"    scope = \"https://outlook.office365.com/IMAP.AccessAsUser.All offline_access\"\n"
		"  }\n"));
	const struct pd_mailbox_cfg *mb = &cfg->mailboxes[0];
	assert_int_equal(mb->auth, PD_IMAP_AUTH_XOAUTH2);
	assert_null(mb->password);
	assert_non_null(mb->oauth2);
	assert_string_equal(mb->oauth2->client_id, "abc");
	assert_string_equal(mb->oauth2->client_secret, "s3cret");
	assert_string_equal(mb->oauth2->refresh_token_file, rt);
	assert_int_equal(mb->oauth2->grant, PD_OAUTH2_GRANT_REFRESH_TOKEN);
	assert_null(mb->oauth2->device_url);
	assert_null(mb->oauth2->token_command);
	pd_config_free(cfg);

	/* token_command, oauthbearer; smtp with client_credentials; http on loopback */
	cfg = load_ok(MB_OAUTH("  auth = \"oauthbearer\"\n"
			       "  token_command = \"/usr/local/bin/get-token support\"\n")
		      "smtp {\n"
		      "  url = \"smtp://127.0.0.1:10025\"\n  tls = \"none\"\n"
		      "  from = \"s@example.com\"\n  user = \"s@example.com\"\n"
		      "  auth = \"xoauth2\"\n"
		      "  oauth2 { token_url = \"http://127.0.0.1:8080/token\" client_id = \"c\"\n"
		      "           grant = \"client_credentials\" client_secret_file = "
		      "\"oa/client.secret\"\n"
		      "           scope = \"https://outlook.office365.com/.default\" }\n"
		      "}\n");
	assert_int_equal(cfg->mailboxes[0].auth, PD_IMAP_AUTH_OAUTHBEARER);
	assert_string_equal(cfg->mailboxes[0].oauth2->token_command,
			    "/usr/local/bin/get-token support");
	assert_int_equal(cfg->smtp.auth, PD_IMAP_AUTH_XOAUTH2);
	assert_null(cfg->smtp.password);
	assert_int_equal(cfg->smtp.oauth2->grant, PD_OAUTH2_GRANT_CLIENT_CREDENTIALS);
	assert_string_equal(cfg->smtp.oauth2->token_url, "http://127.0.0.1:8080/token");
	pd_config_free(cfg);

	/* "password" is the default's other name */
	cfg = load_ok(MB_OAUTH("  auth = \"password\"\n  password_file = \"oa/client.secret\"\n"));
	assert_int_equal(cfg->mailboxes[0].auth, PD_IMAP_AUTH_AUTO);
	assert_null(cfg->mailboxes[0].oauth2);
	pd_config_free(cfg);

	/* a refresh token file not written yet is fine (postdesk oauth2 makes it) */
	cfg = load_ok(MB_OAUTH("  auth = \"xoauth2\"\n"
			       "  oauth2 { token_url = \"https://oauth2.googleapis.com/token\"\n"
			       "    client_id = \"c\" refresh_token_file = \"oa/later.token\"\n"
			       "    scope = \"https://mail.google.com/\" }\n"));
	pd_config_free(cfg);

	static const struct bad_case cases[] = {
		{"unknown auth", MB_OAUTH("  auth = \"kerberos\"\n  password = \"x\"\n"),
		 {"%P:6: auth: must be one of password, xoauth2, oauthbearer (or auto, login, "
		  "plain), not \"kerberos\"",
		  NULL}},
		{"oauth without a token source", MB_OAUTH("  auth = \"xoauth2\"\n"),
		 {"%P:6: mailbox \"m365\": auth = \"xoauth2\" needs an oauth2 { } section or "
		  "token_command",
		  NULL}},
		{"both oauth2 and token_command",
		 MB_OAUTH("  auth = \"xoauth2\"\n"
			  "  token_command = \"get-token\"\n"
			  "  oauth2 { token_url = \"https://idp.example.com/token\" client_id = \"c\"\n"
			  "    refresh_token_file = \"oa/support.token\" scope = \"s\" }\n"),
		 {"%P:7: mailbox \"m365\": set either an oauth2 section or token_command, not both",
		  NULL}},
		{"oauth2 section with a password login",
		 MB_OAUTH("  password = \"x\"\n"
			  "  oauth2 { token_url = \"https://idp.example.com/token\" }\n"
			  "  token_command = \"t\"\n"),
		 {"%P:7: mailbox \"m365\": an oauth2 section needs auth = \"xoauth2\" or "
		  "\"oauthbearer\"",
		  "%P:8: token_command: needs auth = \"xoauth2\" or \"oauthbearer\"", NULL}},
		{"password beside a token",
		 MB_OAUTH("  auth = \"oauthbearer\"\n  password = \"x\"\n  token_command = \"t\"\n"),
		 {"%P:7: password: not used with auth = \"oauthbearer\"; remove it", NULL}},
		{"oauth2 section: what is missing or wrong",
		 MB_OAUTH("  auth = \"xoauth2\"\n"
			  "  oauth2 {\n"
			  "    token_url = \"http://login.example.com/token\"\n"
			  "    device_url = \"ftp://127.0.0.1/device\"\n"
			  "    grant = \"password\"\n"
			  "    client_secret_file = \"oa/missing\"\n"
			  "    colour = \"blue\"\n"
			  "  }\n"),
		 {"%P:7: oauth2: missing required option 'client_id'",
		  "%P:7: oauth2: missing required option 'scope'",
		  "%P:7: mailbox \"m365\": oauth2: grant = \"refresh_token\" needs "
		  "refresh_token_file",
		  "%P:8: token_url: \"http://login.example.com/token\": http:// is allowed only to "
		  "a loopback address; use https://",
		  "%P:9: device_url: \"ftp://127.0.0.1/device\": the scheme must be https://",
		  "%P:10: grant: must be refresh_token or client_credentials, not \"password\"",
		  "%P:11: client_secret_file: cannot use \"%D/oa/missing\": No such file or "
		  "directory",
		  "%P:12: unknown option 'colour' in oauth2", NULL}},
		{"refresh token grant without its file; client_credentials without a secret",
		 MB_OAUTH("  auth = \"xoauth2\"\n"
			  "  oauth2 { token_url = \"https://idp.example.com/token\"\n"
			  "    client_id = \"c\" scope = \"s\" }\n")
			 "smtp {\n"
			 "  url = \"smtp://127.0.0.1:10025\"\n  tls = \"none\"\n"
			 "  from = \"s@example.com\"\n"
			 "  auth = \"oauthbearer\"\n"
			 "  oauth2 { token_url = \"https://idp.example.com/token\" client_id = \"c\"\n"
			 "    grant = \"client_credentials\" scope = \"s\"\n"
			 "    refresh_token_file = \"oa/support.token\" }\n"
			 "}\n",
		 {"%P:7: mailbox \"m365\": oauth2: grant = \"refresh_token\" needs "
		  "refresh_token_file",
		  "%P:14: auth = \"oauthbearer\" needs user (the mailbox the token belongs to)",
		  "%P:16: grant = \"client_credentials\" needs client_secret_file",
		  "%P:17: refresh_token_file: not used with grant = \"client_credentials\"", NULL}},
		{"refresh token file in a directory that does not exist",
		 MB_OAUTH("  auth = \"xoauth2\"\n"
			  "  oauth2 { token_url = \"https://idp.example.com/token\"\n"
			  "    client_id = \"c\" scope = \"s\"\n"
			  "    refresh_token_file = \"/nonexistent/dir/token\" }\n"),
		 {"%P:9: refresh_token_file: the directory of \"/nonexistent/dir/token\" does not "
		  "exist",
		  NULL}},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		const char *exp[16] = {NULL};
		char *owned[16] = {NULL};
		current_case = cases[i].name;
		for (size_t j = 0; cases[i].exp[j] != NULL; j++) {
			/* %D: the test directory */
			const char *d = strstr(cases[i].exp[j], "%D");
			if (d != NULL)
				owned[j] = pd_xasprintf("%.*s%s%s", (int)(d - cases[i].exp[j]),
							cases[i].exp[j], tmpdir, d + 2);
			exp[j] = owned[j] != NULL ? owned[j] : cases[i].exp[j];
		}
		expect_errors(cases[i].text, exp);
		for (size_t j = 0; j < 16; j++)
			free(owned[j]);
	}
	current_case = NULL;
	free(sec);
	free(rt);
}

static void test_credentials_directory(void **state)
{
	(void)state;
	char *cred = pd_xasprintf("%s/creds", tmpdir);
	char *c1 = write_conf("creds/imap", "from-cred\n", 0400);
	char *c2 = write_conf("creds/mailbox.support.password", "implicit-cred\n", 0400);
	char *c3 = write_conf("creds/smtp.password", "smtp-cred\n", 0400);
	char *c4 = write_conf("imap", "next-to-config\n", 0600);
	char *want;

	/* unset: "$CREDENTIALS_DIRECTORY/x" is an error, a bare name is next to the file */
	unsetenv("CREDENTIALS_DIRECTORY");
	expect_errors(MB_FILE("password_file = \"$CREDENTIALS_DIRECTORY/imap\""),
		      (const char *const[]){"%P:7: password_file: \"$CREDENTIALS_DIRECTORY/imap\" "
					    "needs $CREDENTIALS_DIRECTORY, which is not set "
					    "(LoadCredential= in the systemd unit)",
					    NULL});
	expect_password(MB_FILE("password_file = \"imap\""), "next-to-config");
	expect_errors(MB_FILE("user = \"again\""),
		      (const char *const[]){"%P:3: mailbox \"support\": no password: set "
					    "password_file (preferred) or password, or provide the "
					    "credential 'mailbox.support.password' in "
					    "$CREDENTIALS_DIRECTORY",
					    NULL});

	setenv("CREDENTIALS_DIRECTORY", cred, 1);
	expect_password(MB_FILE("password_file = \"$CREDENTIALS_DIRECTORY/imap\""), "from-cred");
	/* a bare name prefers the credentials directory */
	expect_password(MB_FILE("password_file = \"imap\""), "from-cred");
	/* a path with a slash stays relative to the config file */
	expect_password(MB_FILE("password_file = \"creds/imap\""), "from-cred");
	expect_password(MB_FILE("password_file = \"./imap\""), "next-to-config");
	/* neither key: the credential mailbox.NAME.password */
	expect_password(MB_FILE("user = \"again\""), "implicit-cred");
	want = pd_xasprintf("%%P:7: password_file: cannot use \"%s/other\": No such file or "
			    "directory",
			    cred);
	expect_errors(MB_FILE("password_file = \"$CREDENTIALS_DIRECTORY/other\""),
		      (const char *const[]){want, NULL});
	free(want);
	expect_errors(MB_FILE("password_file = \"$CREDENTIALS_DIRECTORY/a/b\""),
		      (const char *const[]){"%P:7: password_file: \"$CREDENTIALS_DIRECTORY/a/b\" "
					    "must name one credential",
					    NULL});
	struct pd_config *cfg = load_ok(BASE "smtp { url = \"smtp://localhost\" from = "
					     "\"s@example.com\" user = \"u\" }\n");
	assert_string_equal(cfg->smtp.password, "smtp-cred");
	pd_config_free(cfg);
	/* a mailbox without a credential file still needs a password */
	expect_errors(BASE "mailbox \"other\" { url = \"imap://localhost\" user = \"u\" }\n",
		      (const char *const[]){"%P:3: mailbox \"other\": no password: set "
					    "password_file (preferred) or password, or provide the "
					    "credential 'mailbox.other.password' in "
					    "$CREDENTIALS_DIRECTORY",
					    NULL});
	unsetenv("CREDENTIALS_DIRECTORY");
	free(cred), free(c1), free(c2), free(c3), free(c4);
}

/* ------------------------------------------------------------ agents */

static void test_is_agent(void **state)
{
	(void)state;
	struct pd_config *cfg = load_ok(
		BASE "agents { addresses = {\"Alice@Example.com\", \"@support.example.com\", "
		     "\"partner.org\"} }\n");
	static const struct {
		const char *addr;
		bool agent;
	} cases[] = {
		{"alice@example.com", true},        {"ALICE@EXAMPLE.COM", true},
		{"bob@example.com", false},         {"bob@support.example.com", true},
		{"x@SUPPORT.Example.com", true},    {"x@sub.support.example.com", false},
		{"y@partner.org", true},            {"y@Partner.ORG", true},
		{"y@evilpartner.org", false},       {"alice@example.com.evil", false},
		{"notanaddress", false},            {"partner.org", false},
		{"", false},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		if (pd_config_is_agent(cfg, cases[i].addr) != cases[i].agent)
			fail_msg("is_agent(%s) should be %d", cases[i].addr, cases[i].agent);
	}
	assert_false(pd_config_is_agent(cfg, NULL));
	pd_config_free(cfg);
}

/* ------------------------------------------------------------- parsers */

static void test_url_parse(void **state)
{
	(void)state;
	static const struct {
		enum pd_url_proto proto;
		const char *url;
		const char *host; /* NULL: must fail with why */
		unsigned port;
		const char *path;
		bool tls;
		const char *why;
	} cases[] = {
		{PD_URL_IMAP, "imap://127.0.0.1:10143/INBOX", "127.0.0.1", 10143, "INBOX", false, NULL},
		{PD_URL_IMAP, "imaps://mail.example.com", "mail.example.com", 993, "INBOX", true, NULL},
		{PD_URL_IMAP, "imap://mail.example.com/", "mail.example.com", 143, "INBOX", false, NULL},
		{PD_URL_IMAP, "imap://[::1]:10143/INBOX", "::1", 10143, "INBOX", false, NULL},
		{PD_URL_IMAP, "imaps://[2001:db8::1]/Support%20Queue", "2001:db8::1", 993,
		 "Support Queue", true, NULL},
		{PD_URL_IMAP, "IMAPS://Mail.Example.COM:1/INBOX%2fSub", "Mail.Example.COM", 1,
		 "INBOX/Sub", true, NULL},
		{PD_URL_IMAP, "imap://h:65535/%D0%9F%D0%BE%D1%87%D1%82%D0%B0", "h", 65535, "Почта",
		 false, NULL},
		{PD_URL_IMAP, "imap://h/a%3Bb/c", "h", 143, "a;b/c", false, NULL},
		{PD_URL_SMTP, "smtp://127.0.0.1:10025", "127.0.0.1", 10025, NULL, false, NULL},
		{PD_URL_SMTP, "smtps://smtp.example.com", "smtp.example.com", 465, NULL, true, NULL},
		{PD_URL_SMTP, "smtp://smtp.example.com/ehlo.example.com", "smtp.example.com", 25,
		 "ehlo.example.com", false, NULL},
		{PD_URL_SMTP, "smtp://[::1]:587", "::1", 587, NULL, false, NULL},
		/* the folder as written: no "." or ".." folding */
		{PD_URL_IMAP, "imap://h/a/../b", "h", 143, "a/../b", false, NULL},
		{PD_URL_IMAP, "imap://h:00143/", "h", 143, "INBOX", false, NULL},
		/* errors */
		{PD_URL_IMAP, "imap://:pw@h/", NULL, 0, NULL, false,
		 "a user name in the URL is not supported; use the user option"},
		{PD_URL_IMAP, "imap://[fe80::1%25eth0]/", NULL, 0, NULL, false,
		 "bad IPv6 address [fe80::1]: a zone (%25eth0) is not supported"},
		{PD_URL_IMAP, "http://mail.example.com/", NULL, 0, NULL, false,
		 "must start with imap:// or imaps://"},
		{PD_URL_IMAP, "imap:/mail.example.com", NULL, 0, NULL, false,
		 "must start with imap:// or imaps://"},
		{PD_URL_IMAP, "smtp://mail.example.com", NULL, 0, NULL, false,
		 "must start with imap:// or imaps://"},
		{PD_URL_SMTP, "imaps://mail.example.com", NULL, 0, NULL, false,
		 "must start with smtp:// or smtps://"},
		{PD_URL_IMAP, "imap://", NULL, 0, NULL, false, "missing host name"},
		{PD_URL_IMAP, "imap://:143/INBOX", NULL, 0, NULL, false, "missing host name"},
		{PD_URL_IMAP, "imap://h:0/", NULL, 0, NULL, false,
		 "port must be a number from 1 to 65535"},
		{PD_URL_IMAP, "imap://h:65536/", NULL, 0, NULL, false,
		 "port must be a number from 1 to 65535"},
		{PD_URL_IMAP, "imap://h:12a/", NULL, 0, NULL, false,
		 "port must be a number from 1 to 65535"},
		{PD_URL_IMAP, "imap://h:/", NULL, 0, NULL, false, "missing port number after ':'"},
		{PD_URL_IMAP, "imap://user@h/", NULL, 0, NULL, false,
		 "a user name in the URL is not supported; use the user option"},
		{PD_URL_IMAP, "imap://h/INBOX?x=1", NULL, 0, NULL, false,
		 "'?' and '#' are not allowed (percent-encode them)"},
		{PD_URL_IMAP, "imap://h/My Folder", NULL, 0, NULL, false,
		 "spaces and control characters are not allowed (percent-encode them)"},
		{PD_URL_IMAP, "imap://h/a%2", NULL, 0, NULL, false,
		 "bad percent-encoding in the path"},
		{PD_URL_IMAP, "imap://h/a%zz", NULL, 0, NULL, false,
		 "bad percent-encoding in the path"},
		{PD_URL_IMAP, "imap://h/a%00", NULL, 0, NULL, false,
		 "the path decodes to a control character"},
		{PD_URL_IMAP, "imap://h/%ff", NULL, 0, NULL, false, "the path is not valid UTF-8"},
		{PD_URL_IMAP, "imap://h/INBOX;UIDVALIDITY=1", NULL, 0, NULL, false,
		 "';' parameters are not supported (write ';' in a folder name as %3B)"},
		{PD_URL_IMAP, "imap://::1/INBOX", NULL, 0, NULL, false,
		 "IPv6 addresses must be written in brackets, e.g. [::1]"},
		{PD_URL_IMAP, "imap://[::1/INBOX", NULL, 0, NULL, false,
		 "missing ']' after the IPv6 address"},
		{PD_URL_IMAP, "imap://[::g]/", NULL, 0, NULL, false, "bad IPv6 address [::g]"},
		{PD_URL_IMAP, "imap://[::1]x/", NULL, 0, NULL, false, "unexpected text after ']'"},
		{PD_URL_IMAP, "imap://bad_host/", NULL, 0, NULL, false, "bad host name 'bad_host'"},
		{PD_URL_IMAP, "imap://-h.example/", NULL, 0, NULL, false,
		 "bad host name '-h.example'"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		struct pd_url u;
		char why[256] = "";
		int rc = pd_config_parse_url(cases[i].url, cases[i].proto, &u, why, sizeof(why));
		if (cases[i].host == NULL) {
			if (rc != -1 || strcmp(why, cases[i].why) != 0)
				fail_msg("%s: rc %d, why \"%s\", want \"%s\"", cases[i].url, rc, why,
					 cases[i].why);
			assert_null(u.host);
			assert_null(u.path);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", cases[i].url, why);
		assert_string_equal(u.host, cases[i].host);
		assert_int_equal(u.port, cases[i].port);
		if (cases[i].path == NULL)
			assert_null(u.path);
		else
			assert_string_equal(u.path, cases[i].path);
		assert_int_equal(u.implicit_tls, cases[i].tls);
		pd_url_free(&u);
		pd_url_free(&u); /* idempotent */
	}
	pd_url_free(NULL);
}

static void test_loopback(void **state)
{
	(void)state;
	static const char *const yes[] = {"localhost", "LocalHost", "imap.localhost", "127.0.0.1",
					  "127.255.0.9", "::1", "::ffff:127.0.0.1"};
	static const char *const no[] = {"128.0.0.1", "example.com", "::2", "localhost.example.com",
					 "0.0.0.0", "10.0.0.1", "::ffff:10.0.0.1", ""};
	for (size_t i = 0; i < PD_ARRAY_LEN(yes); i++)
		if (!pd_config_host_is_loopback(yes[i]))
			fail_msg("%s should be loopback", yes[i]);
	for (size_t i = 0; i < PD_ARRAY_LEN(no); i++)
		if (pd_config_host_is_loopback(no[i]))
			fail_msg("%s should not be loopback", no[i]);
	assert_false(pd_config_host_is_loopback(NULL));
}

static void test_hours_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		unsigned days;
		size_t n;
		unsigned r[4]; /* start, end of the first two ranges */
	} ok[] = {
		{"mon-fri 09:00-18:00", 0x1f, 1, {540, 1080}},
		{"sat,sun 10:00-14:00", 0x60, 1, {600, 840}},
		{"mon,wed,fri-sun 09:00-13:00,14:00-18:00", 0x75, 2, {540, 780, 840, 1080}},
		{"MON-Fri 9:00-18:00", 0x1f, 1, {540, 1080}},
		{"sun 00:00-24:00", 0x40, 1, {0, 1440}},
		{"  mon , tue\t08:00-12:00 , 12:00-17:00", 0x03, 2, {480, 720, 720, 1020}},
		{"wed-wed 00:00-00:01", 0x04, 1, {0, 1}},
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
		{"mon-fry 09:00-18:00", "unknown day 'fry' (use mon, tue, wed, thu, fri, sat, sun)"},
		{"weekdays 09:00-18:00",
		 "unknown day 'weekdays' (use mon, tue, wed, thu, fri, sat, sun)"},
		{"", "unknown day '' (use mon, tue, wed, thu, fri, sat, sun)"},
		{"fri-mon 09:00-18:00", "day range 'fri-mon' runs backwards (weeks run mon..sun)"},
		{"mon-fri 18:00-09:00",
		 "time range '18:00-09:00' ends before it starts (split ranges that cross midnight)"},
		{"mon-fri 09:00-09:00",
		 "time range '09:00-09:00' ends before it starts (split ranges that cross midnight)"},
		{"mon-fri 09:00-12:00,11:00-13:00",
		 "time range '11:00-13:00' overlaps or precedes the one before it"},
		{"mon-fri 13:00-14:00,09:00-10:00",
		 "time range '09:00-10:00' overlaps or precedes the one before it"},
		{"mon-fri 9-18", "bad time range '9-18' (use HH:MM-HH:MM, 00:00 to 24:00)"},
		{"mon-fri 24:30-25:00",
		 "bad time range '24:30-25:00' (use HH:MM-HH:MM, 00:00 to 24:00)"},
		{"mon-fri 09:60-10:00",
		 "bad time range '09:60-10:00' (use HH:MM-HH:MM, 00:00 to 24:00)"},
		{"mon-fri 09:000-10:00",
		 "bad time range '09:000-10:00' (use HH:MM-HH:MM, 00:00 to 24:00)"},
		{"mon-fri", "expected days then times, as in \"mon-fri 09:00-18:00\""},
		{"mon-fri 09:00-18:00 extra", "unexpected 'extra' at the end"},
		{"mon-fri 0:00-1:00,1:00-2:00,2:00-3:00,3:00-4:00,4:00-5:00,5:00-6:00,6:00-7:00,"
		 "7:00-8:00,8:00-9:00",
		 "more than 8 time ranges"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(ok); i++) {
		struct pd_hours h;
		char why[256] = "";
		if (pd_config_parse_hours(ok[i].in, &h, why, sizeof(why)) != 0)
			fail_msg("\"%s\": %s", ok[i].in, why);
		assert_int_equal(h.days, ok[i].days);
		assert_int_equal(h.n, ok[i].n);
		for (size_t j = 0; j < h.n && j < 2; j++) {
			assert_int_equal(h.r[j].start, ok[i].r[2 * j]);
			assert_int_equal(h.r[j].end, ok[i].r[2 * j + 1]);
		}
	}
	for (size_t i = 0; i < PD_ARRAY_LEN(bad); i++) {
		struct pd_hours h;
		char why[256] = "";
		if (pd_config_parse_hours(bad[i].in, &h, why, sizeof(why)) != -1 ||
		    strcmp(why, bad[i].why) != 0)
			fail_msg("\"%s\": why \"%s\", want \"%s\"", bad[i].in, why, bad[i].why);
	}
}

static void test_date_parse(void **state)
{
	(void)state;
	static const char *const ok[] = {"2027-01-01", "2028-02-29", "2000-02-29", "1999-12-31"};
	static const char *const bad[] = {"2027-02-29", "2100-02-29", "2027-13-01", "2027-00-10",
					  "2027-04-31", "2027-1-01",  "27-01-01",   "2027-01-01x",
					  "2027/01/01", "",           "1899-12-31", "2027-01-00"};
	struct pd_date d;

	for (size_t i = 0; i < PD_ARRAY_LEN(ok); i++)
		if (pd_config_parse_date(ok[i], &d) != 0)
			fail_msg("%s should parse", ok[i]);
	assert_int_equal(pd_config_parse_date("2028-02-29", &d), 0);
	assert_int_equal(d.year, 2028);
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 29);
	for (size_t i = 0; i < PD_ARRAY_LEN(bad); i++)
		if (pd_config_parse_date(bad[i], &d) != -1)
			fail_msg("%s should not parse", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_file),
		cmocka_unit_test(test_minimal_file_group_readable),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_load_edge_cases),
		cmocka_unit_test(test_rules_and_queues),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_plans),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_cleartext_warning),
		cmocka_unit_test(test_env_and_comments),
		cmocka_unit_test(test_password_file),
		cmocka_unit_test(test_credentials_directory),
		cmocka_unit_test(test_oauth2),
		cmocka_unit_test(test_is_agent),
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_hours_parse),
		cmocka_unit_test(test_date_parse),
	};

	/* hermetic: no credentials or zone directory from the caller */
	unsetenv("CREDENTIALS_DIRECTORY");
	unsetenv("TZDIR");
	unsetenv("JOURNAL_STREAM");
	pd_log_init("test_config", PD_LOG_INFO);
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
