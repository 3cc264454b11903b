/*
 * bench/smtpclient.c - how fast postdesk's own SMTP client (smtp.c) hands
 * mail to a server over one session, and the CPU it spends per mail.
 *
 *   smtpclient --port PORT [--mails N] [--size BYTES]
 *
 * Sends N mails (default 5,000) of about BYTES (default 3,072) to
 * smtp://127.0.0.1:PORT through ONE pd_smtp handle, as the outbox does, and
 * prints one line:
 *   mails=N bytes=B seconds=S mails_per_s=R cpu_us_per_mail=U
 * bench/run.sh --only smtpclient runs it against bench/smtpsink.  Built from
 * postdesk's own objects (make bench/smtpclient).  Not part of make check.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "err.h"
#include "ioutil.h"
#include "log.h"
#include "smtp.h"
#include "util.h"

/* CPU time this process used so far, in ms. */
static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

int main(int argc, char **argv)
{
	long port = 0, n = 5000, size = 3072;
	static const char *const rcpt[] = {"alice@example.org"};
	struct pd_smtp_cfg c;
	struct pd_err err;
	struct pd_buf b;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--mails") == 0 && i + 1 < argc)
			n = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
			size = strtol(argv[++i], NULL, 10);
		else
			port = -1;
	}
	if (port <= 0 || port > 65535 || n <= 0 || size < 200) {
		fprintf(stderr, "usage: %s --port PORT [--mails N] [--size BYTES >= 200]\n", argv[0]);
		return 64;
	}
	pd_log_init("smtpclient", PD_LOG_WARNING);
	pd_buf_init(&b);
	pd_buf_append_str(&b, "From: Example Support <support@example.com>\r\n"
			      "To: alice@example.org\r\n"
			      "Subject: [Support #42] bench\r\n"
			      "Message-ID: <bench@example.com>\r\n"
			      "\r\n");
	while (b.len < (size_t)size - 80)
		pd_buf_append_str(&b,
				  "The quick brown fox jumps over the lazy dog, again and again.\r\n");

	memset(&c, 0, sizeof(c));
	c.url = pd_xasprintf("smtp://127.0.0.1:%ld", port);
	c.host = pd_xstrdup("127.0.0.1");
	c.port = (uint16_t)port;
	c.tls = PD_TLS_NONE;
	c.from = pd_xstrdup("Example Support <support@example.com>");
	c.from_address = pd_xstrdup("support@example.com");
	c.timeout = 30;
	c.enabled = true;

	struct pd_smtp *s = pd_smtp_new(&c);
	int64_t t0 = pd_now_ms();
	double cpu0 = cpu_ms();
	int rc = 0;
	for (long i = 0; i < n; i++)
		if (pd_smtp_send(s, NULL, rcpt, 1, b.data, b.len, &err) != 0) {
			fprintf(stderr, "smtpclient: mail %ld of %ld: %s\n", i + 1, n, err.msg);
			rc = 1;
			n = i;
			break;
		}
	int64_t ms = pd_now_ms() - t0;
	double cpu = cpu_ms() - cpu0;
	pd_smtp_free(s);
	if (rc == 0)
		printf("mails=%ld bytes=%zu seconds=%.3f mails_per_s=%.0f cpu_us_per_mail=%.0f\n", n,
		       b.len, (double)ms / 1000.0, ms > 0 ? (double)n * 1000.0 / (double)ms : 0.0,
		       cpu * 1000.0 / (double)n);
	pd_buf_free(&b);
	free(c.url);
	free(c.host);
	free(c.from);
	free(c.from_address);
	return rc;
}
