/*
 * test_smtp.c - smtp.c against a real SMTP server on loopback:
 * tests/integration/smtp_sink.py (aiosmtpd), started as a child process per
 * test with the options the test needs (scripted failures, STARTTLS or
 * implicit TLS with tests/data/tls, AUTH).  The sink writes each mail to
 * DIR/N.eml, its envelope to DIR/N.env and counts SMTP sessions in
 * DIR/connections, so the tests check what arrived and over how many
 * connections.
 *
 * Skips (exit 77) when /usr/bin/python3 cannot import aiosmtpd, unless
 * PD_REQUIRE_INTEGRATION=1.  Also prints (does not assert) the send rate of
 * 1,000 mails of 3 KB over one connection.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ioutil.h"
#include "log.h"
#include "smtp.h"
#include "util.h"

#define PYTHON "/usr/bin/python3"

static char tmpdir[256];
static char srcdir[1024]; /* top_srcdir */
static char sink_py[1200];

/* ------------------------------------------------------------ the sink */

struct sink {
	pid_t pid;
	int port;
	char dir[512];
};

static struct sink cur; /* the running sink, stopped by the teardown */
static int dir_seq;

/* A port nobody listens on right now. */
static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		perror("free_port");
		abort();
	}
	close(fd);
	return ntohs(a.sin_port);
}

static void new_dir(char *out, size_t size)
{
	snprintf(out, size, "%s/%d", tmpdir, ++dir_seq);
	assert_int_equal(mkdir(out, 0700), 0);
}

/* Start smtp_sink.py with extra options (NULL-terminated); waits for its
 * pidfile, which it writes once it listens. */
static void sink_start(const char *opt, ...)
{
	const char *argv[40];
	char port[16], pidfile[600], logf[600];
	size_t n = 0;
	va_list ap;

	memset(&cur, 0, sizeof(cur));
	new_dir(cur.dir, sizeof(cur.dir));
	cur.port = free_port();
	snprintf(port, sizeof(port), "%d", cur.port);
	snprintf(pidfile, sizeof(pidfile), "%s/sink.pid", cur.dir);
	snprintf(logf, sizeof(logf), "%s/sink.log", cur.dir);
	argv[n++] = PYTHON;
	argv[n++] = sink_py;
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--dir";
	argv[n++] = cur.dir;
	argv[n++] = "--pidfile";
	argv[n++] = pidfile;
	va_start(ap, opt);
	for (const char *a = opt; a != NULL && n + 1 < PD_ARRAY_LEN(argv);
	     a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(PYTHON, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	cur.pid = pid;
	for (int i = 0; i < 1500; i++) {
		int status;
		if (access(pidfile, F_OK) == 0)
			return;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			char *log = NULL;
			size_t len;
			cur.pid = 0;
			if (pd_read_file(logf, &log, &len) == 0)
				fprintf(stderr, "%s", log);
			free(log);
			fail_msg("smtp_sink.py exited during start-up");
		}
		usleep(10000);
	}
	fail_msg("smtp_sink.py did not start within 15 s");
}

static void sink_stop(void)
{
	if (cur.pid > 0) {
		kill(cur.pid, SIGTERM);
		waitpid(cur.pid, NULL, 0);
		cur.pid = 0;
	}
}

static int teardown_sink(void **state)
{
	(void)state;
	sink_stop();
	return 0;
}

/* Contents of a file in the sink's folder (NULL when missing). */
static char *sink_file(const char *name, size_t *len_r)
{
	char path[700];
	char *data = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s", cur.dir, name);
	if (pd_read_file(path, &data, &len) < 0)
		return NULL;
	if (len_r)
		*len_r = len;
	return data;
}

/* DIR/connections or DIR/accepted as a number. */
static int sink_count(const char *name)
{
	char *s = sink_file(name, NULL);
	int n = s ? atoi(s) : -1;

	free(s);
	return n;
}

/* ------------------------------------------------------------ config */

static void cfg_init(struct pd_smtp_cfg *c, const char *scheme, int port, enum pd_tls_mode tls)
{
	memset(c, 0, sizeof(*c));
	c->url = pd_xasprintf("%s://127.0.0.1:%d", scheme, port);
	c->host = pd_xstrdup("127.0.0.1");
	c->port = (uint16_t)port;
	c->tls = tls;
	c->from = pd_xstrdup("Example Support <support@example.com>");
	c->from_address = pd_xstrdup("support@example.com");
	c->timeout = 10;
	c->enabled = true;
}

static void cfg_set_ca(struct pd_smtp_cfg *c)
{
	c->ca_file = pd_xasprintf("%s/tests/data/tls/ca.pem", srcdir);
}

static void cfg_free(struct pd_smtp_cfg *c)
{
	free(c->url);
	free(c->host);
	free(c->from);
	free(c->from_address);
	free(c->ca_file);
	free(c->user);
	pd_free_secret(c->password);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ mails */

/* A small mail with a numbered subject, CRLF line ends. */
static char *small_mail(int i, size_t *len_r)
{
	char *m = pd_xasprintf("From: Example Support <support@example.com>\r\n"
			       "To: alice@example.org\r\n"
			       "Subject: [Support #%d] test\r\n"
			       "Message-ID: <t%d@example.com>\r\n"
			       "\r\n"
			       "Hello %d.\r\n",
			       i, i, i);
	*len_r = strlen(m);
	return m;
}

static const char *const alice[] = {"alice@example.org"};

static int send_small(struct pd_smtp *s, int i, struct pd_err *err)
{
	size_t len;
	char *m = small_mail(i, &len);
	int r = pd_smtp_send(s, "support@example.com", alice, 1, m, len, err);

	free(m);
	return r;
}

/* With PD_TEST_DEBUG set, show the message an error case produced. */
static void show(const struct pd_err *err)
{
	if (getenv("PD_TEST_DEBUG") != NULL)
		printf("# %s %d: %s\n", pd_err_class_name(err->cls), err->code, err->msg);
}

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (strstr((hay), (needle)) == NULL)                                               \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

/* ------------------------------------------------------------ tests */

/* The body arrives byte for byte: lines ".", "..", ".x" (which the
 * protocol must dot-stuff), 8-bit UTF-8, blank lines, a final "." line. */
static void test_body_intact(void **state)
{
	(void)state;
	static const char mail[] = "From: Example Support <support@example.com>\r\n"
				   "To: alice@example.org\r\n"
				   "Subject: dots\r\n"
				   "MIME-Version: 1.0\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Transfer-Encoding: 8bit\r\n"
				   "\r\n"
				   "first line\r\n"
				   ".\r\n"
				   "..\r\n"
				   ".hidden\r\n"
				   " .\r\n"
				   "a.\r\n"
				   "\r\n"
				   "\r\n"
				   "From the start of a line\r\n"
				   "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n"
				   ".\r\n"
				   "\r\n"
				   ".\r\n";
	struct pd_smtp_cfg c;
	struct pd_err err;
	size_t len;

	sink_start(NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	int r = pd_smtp_send(s, "support@example.com", alice, 1, mail, sizeof(mail) - 1, &err);
	if (r != 0)
		fail_msg("send: %s", err.msg);
	pd_smtp_free(s);

	char *got = sink_file("1.eml", &len);
	assert_non_null(got);
	assert_int_equal(len, sizeof(mail) - 1);
	assert_memory_equal(got, mail, len);
	free(got);
	char *env = sink_file("1.env", NULL);
	assert_non_null(env);
	assert_string_equal(env, "MAIL FROM:support@example.com\nRCPT TO:alice@example.org\n");
	free(env);
	cfg_free(&c);
}

/* NULL mail_from means the configured from_address; three recipients, one mail. */
static void test_three_rcpts(void **state)
{
	(void)state;
	static const char *const rcpts[] = {"alice@example.org", "bob@example.net",
					    "carol@example.com"};
	struct pd_smtp_cfg c;
	struct pd_err err;
	size_t len;
	char *m = small_mail(1, &len);

	sink_start(NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	if (pd_smtp_send(s, NULL, rcpts, 3, m, len, &err) != 0)
		fail_msg("send: %s", err.msg);
	pd_smtp_free(s);
	char *env = sink_file("1.env", NULL);
	assert_non_null(env);
	assert_string_equal(env, "MAIL FROM:support@example.com\n"
				 "RCPT TO:alice@example.org\n"
				 "RCPT TO:bob@example.net\n"
				 "RCPT TO:carol@example.com\n");
	free(env);
	assert_int_equal(sink_count("accepted"), 1);
	free(m);
	cfg_free(&c);
}

/* "" is the null reverse-path, MAIL FROM:<> (what RFC 3834 wants for acks). */
static void test_null_sender(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;
	size_t len;
	char *m = small_mail(1, &len);

	sink_start(NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	if (pd_smtp_send(s, "", alice, 1, m, len, &err) != 0)
		fail_msg("send: %s", err.msg);
	pd_smtp_free(s);
	char *env = sink_file("1.env", NULL);
	assert_non_null(env);
	assert_string_equal(env, "MAIL FROM:<>\nRCPT TO:alice@example.org\n");
	free(env);
	free(m);
	cfg_free(&c);
}

/* All or nothing: one refused recipient out of three -> PERM, nothing sent. */
static void test_rcpt_refused_all_or_nothing(void **state)
{
	(void)state;
	static const char *const rcpts[] = {"alice@example.org", "bob@example.net",
					    "carol@example.com"};
	struct pd_smtp_cfg c;
	struct pd_err err;
	size_t len;
	char *m = small_mail(1, &len);

	sink_start("--reject-rcpt", "bob@example.net", NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(pd_smtp_send(s, NULL, rcpts, 3, m, len, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_int_equal(err.code, 550);
	assert_int_equal(err.src, PD_SRC_SMTP);
	assert_contains(err.msg, "RCPT TO:<bob@example.net>");
	assert_contains(err.msg, "550 5.1.1 <bob@example.net>: sink: recipient rejected");
	/* the next message goes through on a new session */
	assert_int_equal(send_small(s, 2, &err), 0);
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 1);
	assert_int_equal(sink_count("connections"), 2);
	free(m);
	cfg_free(&c);
}

/* 100 messages, one SMTP session. */
static void test_reuse_100(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	sink_start(NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	for (int i = 1; i <= 100; i++)
		if (send_small(s, i, &err) != 0)
			fail_msg("send %d: %s", i, err.msg);
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 100);
	assert_int_equal(sink_count("connections"), 1);
	/* and in order */
	char *m100 = sink_file("100.eml", NULL);
	assert_non_null(m100);
	assert_contains(m100, "Subject: [Support #100] test");
	free(m100);
	cfg_free(&c);
}

static void test_451_temp(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	sink_start("--fail-code", "451", NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_TEMP);
	assert_int_equal(err.code, 451);
	assert_int_equal(err.src, PD_SRC_SMTP);
	assert_contains(err.msg, "451 4.3.0 sink: temporary failure, try again later");
	assert_contains(err.msg, "end of DATA");
	assert_contains(err.msg, "127.0.0.1:");
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 0);
	cfg_free(&c);
}

static void test_550_perm(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	sink_start("--fail-code", "550", "--fail-text", "5.7.1 spam detected", NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(send_small(s, 1, &err), -1);
		show(&err);
		assert_int_equal(err.cls, PD_ERR_PERM);
		assert_int_equal(err.code, 550);
		assert_contains(err.msg, "550 5.7.1 spam detected");
	}
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 0);
	cfg_free(&c);
}

/* 421 closes the session; the retry opens a new one and succeeds. */
static void test_421_then_success(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	sink_start("--fail-code", "421", "--fail-count", "1", NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_TEMP);
	assert_int_equal(err.code, 421);
	assert_contains(err.msg, "421 4.3.2 sink: service not available");
	if (send_small(s, 1, &err) != 0)
		fail_msg("retry: %s", err.msg);
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 1);
	assert_int_equal(sink_count("connections"), 2);
	cfg_free(&c);
}

/* After a failure the session is dropped even though the server kept it
 * open: two 451s then success = three sessions; then reuse resumes. */
static void test_no_reuse_after_failure(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	sink_start("--fail-code", "451", "--fail-count", "2", NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	assert_int_equal(err.code, 451);
	assert_int_equal(send_small(s, 1, &err), -1);
	assert_int_equal(err.code, 451);
	for (int i = 0; i < 3; i++)
		if (send_small(s, 1, &err) != 0)
			fail_msg("send: %s", err.msg);
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 3);
	assert_int_equal(sink_count("connections"), 3);
	cfg_free(&c);
}

/* A refusal at RCPT names the command. */
static void test_452_at_rcpt(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	sink_start("--fail-code", "452", "--fail-at", "rcpt", "--fail-text",
		   "4.5.3 too many recipients", NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_TEMP);
	assert_int_equal(err.code, 452);
	assert_contains(err.msg, "RCPT TO:<alice@example.org>");
	assert_contains(err.msg, "452 4.5.3 too many recipients");
	pd_smtp_free(s);
	cfg_free(&c);
}

static void test_connection_refused(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	cfg_init(&c, "smtp", free_port(), PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_TEMP);
	assert_int_equal(err.code, 0);
	assert_contains(err.msg, "127.0.0.1:");
	pd_smtp_free(s);
	cfg_free(&c);
}

/* A server that accepts the TCP connection but never greets. */
static void test_timeout(void **state)
{
	(void)state;
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	struct pd_smtp_cfg c;
	struct pd_err err;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	cfg_init(&c, "smtp", ntohs(a.sin_port), PD_TLS_NONE);
	c.timeout = 1;
	struct pd_smtp *s = pd_smtp_new(&c);
	int64_t t0 = pd_now_ms();
	assert_int_equal(send_small(s, 1, &err), -1);
	int64_t ms = pd_now_ms() - t0;
	show(&err);
	assert_int_equal(err.cls, PD_ERR_TEMP);
	assert_int_equal(err.code, 0);
	assert_contains(err.msg, "timed out");
	assert_true(ms >= 900 && ms < 5000);
	pd_smtp_free(s);
	close(fd);
	cfg_free(&c);
}

static void test_starttls_with_ca(void **state)
{
	(void)state;
	char cert[1200], key[1200];
	struct pd_smtp_cfg c;
	struct pd_err err;

	snprintf(cert, sizeof(cert), "%s/tests/data/tls/server-chain.pem", srcdir);
	snprintf(key, sizeof(key), "%s/tests/data/tls/server-key.pem", srcdir);
	sink_start("--tls", "starttls", "--cert", cert, "--key", key, NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_STARTTLS);
	cfg_set_ca(&c);
	struct pd_smtp *s = pd_smtp_new(&c);
	for (int i = 1; i <= 3; i++)
		if (send_small(s, i, &err) != 0)
			fail_msg("send %d: %s", i, err.msg);
	pd_smtp_free(s);
	/* the sink refuses MAIL before STARTTLS, so these went over TLS */
	assert_int_equal(sink_count("accepted"), 3);
	assert_int_equal(sink_count("connections"), 1);
	cfg_free(&c);
}

static void test_starttls_untrusted(void **state)
{
	(void)state;
	char cert[1200], key[1200];
	struct pd_smtp_cfg c;
	struct pd_err err;

	snprintf(cert, sizeof(cert), "%s/tests/data/tls/server-chain.pem", srcdir);
	snprintf(key, sizeof(key), "%s/tests/data/tls/server-key.pem", srcdir);
	sink_start("--tls", "starttls", "--cert", cert, "--key", key, NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_STARTTLS); /* no ca_file: system store */
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_int_equal(err.code, 0);
	assert_contains(err.msg, "certificate of 127.0.0.1:");
	assert_contains(err.msg, "not trusted");
	assert_contains(err.msg, "set smtp.ca_file");
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 0);
	cfg_free(&c);
}

/* With ca_file set: a certificate for another name, an expired one, a
 * self-signed one are all refused before any mail command, PERM. */
static void test_bad_certificates(void **state)
{
	(void)state;
	static const char *const names[] = {"wrongname", "expired", "selfsigned"};

	for (size_t i = 0; i < PD_ARRAY_LEN(names); i++) {
		char cert[1200], key[1200];
		struct pd_smtp_cfg c;
		struct pd_err err;

		snprintf(cert, sizeof(cert), "%s/tests/data/tls/%s.pem", srcdir, names[i]);
		snprintf(key, sizeof(key), "%s/tests/data/tls/%s-key.pem", srcdir, names[i]);
		sink_start("--tls", "starttls", "--cert", cert, "--key", key, NULL);
		cfg_init(&c, "smtp", cur.port, PD_TLS_STARTTLS);
		cfg_set_ca(&c);
		struct pd_smtp *s = pd_smtp_new(&c);
		assert_int_equal(send_small(s, 1, &err), -1);
		show(&err);
		assert_int_equal(err.cls, PD_ERR_PERM);
		assert_int_equal(err.code, 0);
		assert_contains(err.msg, "not trusted");
		assert_contains(err.msg, "smtp.ca_file");
		pd_smtp_free(s);
		assert_int_equal(sink_count("accepted"), 0);
		sink_stop();
		cfg_free(&c);
	}
}

/* tls = starttls against a server without STARTTLS: refused, not sent in clear. */
static void test_starttls_not_offered(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	sink_start(NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_STARTTLS);
	cfg_set_ca(&c);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_contains(err.msg, "does not offer STARTTLS");
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 0);
	cfg_free(&c);
}

static void test_implicit_tls(void **state)
{
	(void)state;
	char cert[1200], key[1200];
	struct pd_smtp_cfg c;
	struct pd_err err;

	snprintf(cert, sizeof(cert), "%s/tests/data/tls/server-chain.pem", srcdir);
	snprintf(key, sizeof(key), "%s/tests/data/tls/server-key.pem", srcdir);
	sink_start("--tls", "implicit", "--cert", cert, "--key", key, NULL);
	cfg_init(&c, "smtps", cur.port, PD_TLS_IMPLICIT);
	cfg_set_ca(&c);
	struct pd_smtp *s = pd_smtp_new(&c);
	for (int i = 1; i <= 2; i++)
		if (send_small(s, i, &err) != 0)
			fail_msg("send %d: %s", i, err.msg);
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 2);
	assert_int_equal(sink_count("connections"), 1);

	/* the same server without ca_file: refused before any SMTP */
	cfg_free(&c);
	cfg_init(&c, "smtps", cur.port, PD_TLS_IMPLICIT);
	s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_contains(err.msg, "not trusted");
	pd_smtp_free(s);
	assert_int_equal(sink_count("connections"), 1);
	cfg_free(&c);
}

static void test_auth(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	sink_start("--auth", "postdesk:s3cret-Pw", NULL);

	/* no user: the sink requires AUTH -> 530, PERM */
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_int_equal(err.code, 530);
	pd_smtp_free(s);

	/* right password: two mails, one login, one session */
	c.user = pd_xstrdup("postdesk");
	c.password = pd_xstrdup("s3cret-Pw");
	s = pd_smtp_new(&c);
	for (int i = 1; i <= 2; i++)
		if (send_small(s, i, &err) != 0)
			fail_msg("send %d: %s", i, err.msg);
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 2);

	/* wrong password: 535, PERM, user named, password never shown */
	pd_free_secret(c.password);
	c.password = pd_xstrdup("Wr0ng-Pa55");
	s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_int_equal(err.code, 535);
	assert_contains(err.msg, "AUTH");
	assert_contains(err.msg, "postdesk");
	assert_null(strstr(err.msg, "Wr0ng-Pa55"));
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 2);
	cfg_free(&c);
}

/* The server closes an idle session; the next mail opens a new one. */
static void test_idle_close(void **state)
{
	(void)state;
	struct pd_smtp_cfg c;
	struct pd_err err;

	sink_start("--idle-timeout", "0.5", NULL);
	cfg_init(&c, "smtp", cur.port, PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(send_small(s, 1, &err), 0);
	usleep(1200 * 1000);
	if (send_small(s, 2, &err) != 0)
		fail_msg("send after idle close: %s", err.msg);
	pd_smtp_free(s);
	assert_int_equal(sink_count("accepted"), 2);
	assert_int_equal(sink_count("connections"), 2);
	cfg_free(&c);
}

/* Addresses that could smuggle commands never reach the wire. */
static void test_bad_addresses(void **state)
{
	(void)state;
	static const char *const bad[] = {"alice@example.org\r\nRSET"};
	static const char *const bad2[] = {"<alice@example.org>"};
	struct pd_smtp_cfg c;
	struct pd_err err;
	size_t len;
	char *m = small_mail(1, &len);

	cfg_init(&c, "smtp", free_port(), PD_TLS_NONE);
	struct pd_smtp *s = pd_smtp_new(&c);
	assert_int_equal(pd_smtp_send(s, NULL, bad, 1, m, len, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_contains(err.msg, "invalid recipient");
	assert_int_equal(pd_smtp_send(s, NULL, bad2, 1, m, len, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_PERM);
	assert_int_equal(pd_smtp_send(s, "a b@example.com", alice, 1, m, len, &err), -1);
	assert_contains(err.msg, "invalid sender");
	assert_int_equal(pd_smtp_send(s, NULL, alice, 0, m, len, &err), -1);
	show(&err);
	assert_int_equal(err.cls, PD_ERR_PERM);
	pd_smtp_free(s);
	free(m);
	cfg_free(&c);
}

/* ------------------------------------------------------------ main */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int setup_dir(void **state)
{
	(void)state;
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/pd-test-smtp-XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	sink_stop();
	if (getenv("PD_KEEP_TMP") == NULL)
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Can we run the sink?  Returns 0, or 77 (skip) / 1 with a reason printed. */
static int find_sink(void)
{
	const char *top = getenv("top_srcdir");
	bool require = getenv("PD_REQUIRE_INTEGRATION") != NULL &&
		       strcmp(getenv("PD_REQUIRE_INTEGRATION"), "1") == 0;

	if (top != NULL && *top) {
		snprintf(srcdir, sizeof(srcdir), "%s", top);
	} else {
		/* __FILE__ = .../tests/unit/test_smtp.c */
		snprintf(srcdir, sizeof(srcdir), "%s", __FILE__);
		for (int up = 0; up < 3; up++) {
			char *slash = strrchr(srcdir, '/');
			if (slash == NULL) {
				snprintf(srcdir, sizeof(srcdir), ".");
				break;
			}
			*slash = '\0';
		}
	}
	snprintf(sink_py, sizeof(sink_py), "%s/tests/integration/smtp_sink.py", srcdir);
	if (access(sink_py, R_OK) != 0) {
		fprintf(stderr, "test_smtp: %s not found (set top_srcdir)\n", sink_py);
		return 1;
	}

	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(PYTHON, PYTHON, "-c", "import aiosmtpd.controller", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr,
			"test_smtp: %s cannot import aiosmtpd (apt install "
			"python3-aiosmtpd)%s\n",
			PYTHON, require ? "; PD_REQUIRE_INTEGRATION=1: failing" : ": skipped");
		return require ? 1 : 77;
	}
	return 0;
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_body_intact, teardown_sink),
		cmocka_unit_test_teardown(test_three_rcpts, teardown_sink),
		cmocka_unit_test_teardown(test_null_sender, teardown_sink),
		cmocka_unit_test_teardown(test_rcpt_refused_all_or_nothing, teardown_sink),
		cmocka_unit_test_teardown(test_reuse_100, teardown_sink),
		cmocka_unit_test_teardown(test_451_temp, teardown_sink),
		cmocka_unit_test_teardown(test_550_perm, teardown_sink),
		cmocka_unit_test_teardown(test_421_then_success, teardown_sink),
		cmocka_unit_test_teardown(test_no_reuse_after_failure, teardown_sink),
		cmocka_unit_test_teardown(test_452_at_rcpt, teardown_sink),
		cmocka_unit_test_teardown(test_connection_refused, teardown_sink),
		cmocka_unit_test_teardown(test_timeout, teardown_sink),
		cmocka_unit_test_teardown(test_starttls_with_ca, teardown_sink),
		cmocka_unit_test_teardown(test_starttls_untrusted, teardown_sink),
		cmocka_unit_test_teardown(test_bad_certificates, teardown_sink),
		cmocka_unit_test_teardown(test_starttls_not_offered, teardown_sink),
		cmocka_unit_test_teardown(test_implicit_tls, teardown_sink),
		cmocka_unit_test_teardown(test_auth, teardown_sink),
		cmocka_unit_test_teardown(test_idle_close, teardown_sink),
		cmocka_unit_test_teardown(test_bad_addresses, teardown_sink),
	};
	/* clang-format on */

	unsetenv("JOURNAL_STREAM");
	signal(SIGPIPE, SIG_IGN);
	pd_log_init("test_smtp", getenv("PD_TEST_DEBUG") ? PD_LOG_DEBUG : PD_LOG_INFO);
	int r = find_sink();
	if (r != 0)
		return r;
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
