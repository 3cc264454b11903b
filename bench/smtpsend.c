/*
 * bench/smtpsend.c - how fast libcurl submits mail over one SMTP session.
 *
 *   smtpsend --port PORT [--mails N] [--size BYTES]
 *
 * Sends N acknowledgement-sized mails (default 2,000 of about 2 KB) to
 * 127.0.0.1:PORT through ONE curl easy handle, so libcurl keeps the session
 * open between mails as postdesk's smtp.c does (one MAIL/RCPT/DATA per mail,
 * no new connection, no EHLO).  Prints one line:
 *   mails=N seconds=S mails_per_s=R connections=C
 * where C is the number of connections libcurl opened (1 when reused).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct reader {
	const char *p;
	size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct reader *r = arg;
	size_t n = size * nmemb;

	if (n > r->len - r->off)
		n = r->len - r->off;
	memcpy(buf, r->p + r->off, n);
	r->off += n;
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An acknowledgement as postdesk renders one: CRLF lines, about size bytes. */
static char *make_mail(unsigned i, size_t size, size_t *len_r)
{
	static const char line[] =
	    "Thank you for your message. We have opened ticket 12345 for it and will "
	    "answer as soon as possible.\r\n";
	size_t cap = size + 1024, len;
	char *m = malloc(cap);

	if (m == NULL) {
		fprintf(stderr, "smtpsend: out of memory\n");
		exit(1);
	}
	len = (size_t)snprintf(m, cap,
			       "From: Example Support <support@example.com>\r\n"
			       "To: <customer%u@customer.example.org>\r\n"
			       "Subject: [Support #%u] Re: the printer does not print\r\n"
			       "Message-ID: <ack-%u@bench.example.com>\r\n"
			       "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
			       "Auto-Submitted: auto-replied\r\n"
			       "MIME-Version: 1.0\r\n"
			       "Content-Type: text/plain; charset=utf-8\r\n"
			       "Content-Transfer-Encoding: 8bit\r\n\r\n",
			       i % 2000, i, i);
	while (len + sizeof(line) - 1 <= size) {
		memcpy(m + len, line, sizeof(line) - 1);
		len += sizeof(line) - 1;
	}
	*len_r = len;
	return m;
}

static void usage(void)
{
	fprintf(stderr, "usage: smtpsend --port PORT [--mails N] [--size BYTES]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	long port = 0, mails = 2000, size = 2048;
	char url[64];
	struct curl_slist *rcpt = NULL;
	CURL *h;
	long connects = 0;
	double t0, secs;
	int rc = 0;
	long sent = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--mails") == 0 && i + 1 < argc)
			mails = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
			size = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	if (port <= 0 || port > 65535 || mails <= 0 || size < 256 || size > 1 << 24)
		usage();

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "smtpsend: curl_global_init failed\n");
		return 1;
	}
	h = curl_easy_init();
	if (h == NULL) {
		fprintf(stderr, "smtpsend: curl_easy_init failed\n");
		curl_global_cleanup();
		return 1;
	}
	/* loopback only */
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%ld/bench.example.com", port);
	rcpt = curl_slist_append(NULL, "<customer@customer.example.org>");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, "<support@example.com>");
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);

	t0 = now_s();
	for (long i = 0; i < mails; i++) {
		size_t len;
		char *m = make_mail((unsigned)i, (size_t)size, &len);
		struct reader r = {m, len, 0};
		long code = 0, c = 0;
		CURLcode cr;

		curl_easy_setopt(h, CURLOPT_READDATA, &r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
		cr = curl_easy_perform(h);
		free(m);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &c);
		connects += c;
		if (cr != CURLE_OK || code != 250) {
			fprintf(stderr, "smtpsend: mail %ld to 127.0.0.1:%ld failed: %s (last reply %ld)\n",
				i + 1, port, curl_easy_strerror(cr), code);
			rc = 1;
			break;
		}
		sent++;
	}
	secs = now_s() - t0;
	printf("mails=%ld seconds=%.3f mails_per_s=%.1f connections=%ld\n", sent, secs,
	       secs > 0 ? sent / secs : 0.0, connects);
	curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	curl_global_cleanup();
	return rc;
}
