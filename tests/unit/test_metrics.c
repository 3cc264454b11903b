/*
 * test_metrics.c - metrics.c served for real on loopback.
 *
 * The module has no thread of its own, so each request is driven from here
 * in one thread: libcurl's multi interface sends the request while the loop
 * waits (curl_multi_poll) on curl's sockets plus pd_metrics_fd() and calls
 * pd_metrics_run() after every wake-up, as the daemon's main loop does.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "err.h"
#include "ioutil.h"
#include "metrics.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

/* A port nobody listens on right now (racy, hence the retries in start()). */
static uint16_t free_port(int family)
{
	struct sockaddr_storage ss;
	socklen_t alen = sizeof(ss);
	int fd = socket(family, SOCK_STREAM, 0);
	uint16_t port;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, family == AF_INET ?
			   sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &alen) < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	port = family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
				 : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return port;
}

static struct pd_metrics *start(const char *host, int family, uint16_t *port_r)
{
	struct pd_err err;

	for (int i = 0; i < 10; i++) {
		uint16_t port = free_port(family);
		struct pd_metrics *m;

		if (port == 0)
			return NULL;
		m = pd_metrics_start(host, port, &err);
		if (m != NULL) {
			*port_r = port;
			return m;
		}
	}
	fail_msg("pd_metrics_start %s: %s", host, err.msg);
	return NULL;
}

struct reply {
	long status;
	char ctype[128];
	struct pd_buf body;
};

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
	pd_buf_append(cls, data, size * n);
	return size * n;
}

/* One request, served by m while curl sends it.  Fails the test on a
 * transport error or after 5 s. */
static void request(struct pd_metrics *m, const char *method, const char *host, uint16_t port,
		    const char *path, struct reply *r)
{
	CURLM *multi = curl_multi_init();
	CURL *easy = curl_easy_init();
	char url[256];
	int running = 1;
	int64_t deadline = pd_now_ms() + 5000;
	struct CURLMsg *msg;
	int left;
	CURLcode rc = CURLE_OK;
	char *ct = NULL;

	assert_non_null(multi);
	assert_non_null(easy);
	snprintf(url, sizeof(url), strchr(host, ':') ? "http://[%s]:%u%s" : "http://%s:%u%s",
		 host, (unsigned int)port, path);
	memset(r, 0, sizeof(*r));
	pd_buf_init(&r->body);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r->body);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "x=1");
	else if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	curl_multi_add_handle(multi, easy);

	while (running > 0) {
		struct curl_waitfd extra = { .fd = pd_metrics_fd(m), .events = CURL_WAIT_POLLIN };

		assert_true(pd_now_ms() < deadline);
		assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
		if (running == 0)
			break;
		assert_int_equal(curl_multi_poll(multi, &extra, 1, 100, NULL), CURLM_OK);
		pd_metrics_run(m);
	}
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	curl_multi_remove_handle(multi, easy);
	curl_easy_cleanup(easy);
	curl_multi_cleanup(multi);
	/* Let MHD notice the closed connection and free it. */
	pd_metrics_run(m);
}

static void get(struct pd_metrics *m, uint16_t port, const char *path, struct reply *r)
{
	request(m, "GET", "127.0.0.1", port, path, r);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("expected\n%s\nin\n%s", needle, hay);
}

static void assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("did not expect\n%s\nin\n%s", needle, hay);
}

/* ------------------------------------------------------------ fixture */

static struct pd_metrics_mailbox boxes[2];
static struct pd_metrics_snapshot snap;

static void fill_snapshot(void)
{
	memset(boxes, 0, sizeof(boxes));
	boxes[0].name = "sales";
	boxes[0].ingested = 42;
	boxes[0].failed = 1;
	boxes[0].errors = 0;
	boxes[0].last_poll = 1767225600;
	boxes[0].idle = true;
	boxes[0].healthy = true;
	/* A name with every character the exposition format escapes. */
	boxes[1].name = "sup\"port\\x\ny";
	boxes[1].ingested = 7;
	boxes[1].failed = 0;
	boxes[1].errors = 3;
	boxes[1].last_poll = 0;
	boxes[1].idle = false;
	boxes[1].healthy = true;
	/* the second logs in with an OAuth 2.0 token */
	boxes[1].oauth2 = true;
	boxes[1].token_expires_in = -12;
	boxes[1].token_refresh_failures = 4;

	memset(&snap, 0, sizeof(snap));
	snap.smtp_oauth2 = true;
	snap.smtp_token_expires_in = 3300;
	snap.db_ok = true;
	snap.n_mailboxes = 2;
	snap.mailboxes = boxes;
	snap.outbox_queued = 5;
	snap.outbox_sending = 1;
	snap.outbox_failed = 2;
	snap.sent_total = 100;
	snap.retried_total = 4;
	snap.failed_total = 2;
	snap.tickets[0][2] = 9;  /* new, normal */
	snap.tickets[1][0] = 1;  /* open, critical */
	snap.tickets[4][3] = 77; /* closed, low */
	snap.sla_warnings_total = 6;
	snap.sla_breaches_total = 3;
}

struct fx {
	struct pd_metrics *m;
	uint16_t port;
};

static int setup(void **state)
{
	static struct fx fx;

	fill_snapshot();
	fx.m = start("127.0.0.1", AF_INET, &fx.port);
	if (fx.m == NULL)
		return -1;
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	pd_metrics_stop(fx->m);
	fx->m = NULL;
	return 0;
}

/* ------------------------------------------------------------ tests */

static void test_starting(void **state)
{
	struct fx *fx = *state;
	struct reply r;

	get(fx->m, fx->port, "/healthz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body.data, "starting\n");
	pd_buf_free(&r.body);

	get(fx->m, fx->port, "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_contains(r.body.data, "postdesk_database_up 0\n");
	pd_buf_free(&r.body);
}

static void test_metrics_body(void **state)
{
	struct fx *fx = *state;
	struct reply r;
	const char *b;

	pd_metrics_publish(fx->m, &snap);
	get(fx->m, fx->port, "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	b = r.body.data;

	assert_contains(b, "# HELP postdesk_mails_ingested_total ");
	assert_contains(b, "# TYPE postdesk_mails_ingested_total counter\n");
	assert_contains(b, "postdesk_mails_ingested_total{mailbox=\"sales\"} 42\n");
	assert_contains(b, "postdesk_mails_ingested_total{mailbox=\"sup\\\"port\\\\x\\ny\"} 7\n");
	assert_contains(b, "# TYPE postdesk_mails_failed_total counter\n");
	assert_contains(b, "postdesk_mails_failed_total{mailbox=\"sales\"} 1\n");
	assert_contains(b, "# TYPE postdesk_mailbox_errors_total counter\n");
	assert_contains(b, "postdesk_mailbox_errors_total{mailbox=\"sup\\\"port\\\\x\\ny\"} 3\n");
	assert_contains(b, "# TYPE postdesk_mailbox_last_poll_timestamp_seconds gauge\n");
	assert_contains(b, "postdesk_mailbox_last_poll_timestamp_seconds"
			   "{mailbox=\"sales\"} 1767225600\n");
	assert_contains(b, "# TYPE postdesk_mailbox_idle gauge\n");
	assert_contains(b, "postdesk_mailbox_idle{mailbox=\"sales\"} 1\n");
	assert_contains(b, "postdesk_mailbox_idle{mailbox=\"sup\\\"port\\\\x\\ny\"} 0\n");
	assert_contains(b, "# TYPE postdesk_mailbox_up gauge\n");
	assert_contains(b, "postdesk_mailbox_up{mailbox=\"sales\"} 1\n");
	assert_contains(b, "# TYPE postdesk_outbox_rows gauge\n");
	assert_contains(b, "postdesk_outbox_rows{status=\"queued\"} 5\n");
	assert_contains(b, "postdesk_outbox_rows{status=\"sending\"} 1\n");
	assert_contains(b, "postdesk_outbox_rows{status=\"failed\"} 2\n");
	assert_contains(b, "# TYPE postdesk_outbox_sent_total counter\n"
			   "postdesk_outbox_sent_total 100\n");
	assert_contains(b, "postdesk_outbox_retried_total 4\n");
	assert_contains(b, "postdesk_outbox_failed_total 2\n");
	assert_contains(b, "# TYPE postdesk_tickets gauge\n");
	assert_contains(b, "postdesk_tickets{status=\"new\",priority=\"normal\"} 9\n");
	assert_contains(b, "postdesk_tickets{status=\"open\",priority=\"critical\"} 1\n");
	assert_contains(b, "postdesk_tickets{status=\"closed\",priority=\"low\"} 77\n");
	assert_contains(b, "postdesk_tickets{status=\"resolved\",priority=\"high\"} 0\n");
	assert_contains(b, "# TYPE postdesk_sla_warnings_total counter\n"
			   "postdesk_sla_warnings_total 6\n");
	assert_contains(b, "postdesk_sla_breaches_total 3\n");
	assert_contains(b, "# TYPE postdesk_database_up gauge\npostdesk_database_up 1\n");
	/* OAuth 2.0: only for mailboxes (and smtp) that use it */
	assert_contains(b, "# TYPE postdesk_oauth2_token_expiry_seconds gauge\n"
			   "postdesk_oauth2_token_expiry_seconds{mailbox=\"sup\\\"port\\\\x\\ny\"} -12\n"
			   "postdesk_oauth2_token_expiry_seconds{smtp=\"1\"} 3300\n");
	assert_contains(b, "# TYPE postdesk_oauth2_refresh_failures_total counter\n"
			   "postdesk_oauth2_refresh_failures_total{mailbox=\"sup\\\"port\\\\x\\ny\"} 4\n"
			   "postdesk_oauth2_refresh_failures_total{smtp=\"1\"} 0\n");
	assert_lacks(b, "postdesk_oauth2_token_expiry_seconds{mailbox=\"sales\"}");

	assert_lacks(b, "sup\"port\\x\ny"); /* the raw name never appears */

	/* Every line is a comment or a sample; an unescaped newline in the
	 * label would leave a line that is neither. */
	for (const char *line = b; *line != '\0';) {
		const char *nl = strchr(line, '\n');

		assert_non_null(nl);
		assert_true(strncmp(line, "# HELP postdesk_", 16) == 0 ||
			    strncmp(line, "# TYPE postdesk_", 16) == 0 ||
			    strncmp(line, "postdesk_", 9) == 0);
		line = nl + 1;
	}
	/* 20 ticket samples, one per status and priority. */
	{
		int n = 0;

		for (const char *p = b; (p = strstr(p, "\npostdesk_tickets{")) != NULL; p++)
			n++;
		assert_int_equal(n, 20);
	}
	pd_buf_free(&r.body);
}

static void test_health_ok(void **state)
{
	struct fx *fx = *state;
	struct reply r;

	pd_metrics_publish(fx->m, &snap);
	get(fx->m, fx->port, "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "ok\n");
	assert_string_equal(r.ctype, "text/plain; charset=utf-8");
	pd_buf_free(&r.body);
}

static void test_health_mailbox_down(void **state)
{
	struct fx *fx = *state;
	struct reply r;

	boxes[0].healthy = false;
	boxes[0].last_error = "LOGIN failed: authentication failed";
	pd_metrics_publish(fx->m, &snap);
	get(fx->m, fx->port, "/healthz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body.data, "mailbox sales: LOGIN failed: authentication failed\n");
	pd_buf_free(&r.body);

	get(fx->m, fx->port, "/metrics", &r);
	assert_contains(r.body.data, "postdesk_mailbox_up{mailbox=\"sales\"} 0\n");
	assert_contains(r.body.data, "postdesk_mailbox_up{mailbox=\"sup\\\"port\\\\x\\ny\"} 1\n");
	pd_buf_free(&r.body);
}

static void test_health_db_and_mailbox_down(void **state)
{
	struct fx *fx = *state;
	struct reply r;

	snap.db_ok = false;
	snap.db_error = "connection refused";
	boxes[1].healthy = false;
	boxes[1].last_error = "TLS handshake\nfailed";
	pd_metrics_publish(fx->m, &snap);
	get(fx->m, fx->port, "/healthz", &r);
	assert_int_equal(r.status, 503);
	/* One line per problem; line breaks inside a reason are flattened. */
	assert_string_equal(r.body.data, "database: connection refused\n"
					 "mailbox sup\"port\\x y: TLS handshake failed\n");
	pd_buf_free(&r.body);

	get(fx->m, fx->port, "/metrics", &r);
	assert_contains(r.body.data, "postdesk_database_up 0\n");
	pd_buf_free(&r.body);

	/* Recovery: a later publish wins. */
	fill_snapshot();
	pd_metrics_publish(fx->m, &snap);
	get(fx->m, fx->port, "/healthz", &r);
	assert_int_equal(r.status, 200);
	pd_buf_free(&r.body);
}

static void test_not_found(void **state)
{
	struct fx *fx = *state;
	struct reply r;

	pd_metrics_publish(fx->m, &snap);
	get(fx->m, fx->port, "/", &r);
	assert_int_equal(r.status, 404);
	pd_buf_free(&r.body);
	get(fx->m, fx->port, "/metrics/x", &r);
	assert_int_equal(r.status, 404);
	pd_buf_free(&r.body);
}

static void test_method_not_allowed(void **state)
{
	struct fx *fx = *state;
	struct reply r;

	pd_metrics_publish(fx->m, &snap);
	request(fx->m, "POST", "127.0.0.1", fx->port, "/metrics", &r);
	assert_int_equal(r.status, 405);
	pd_buf_free(&r.body);
	request(fx->m, "DELETE", "127.0.0.1", fx->port, "/healthz", &r);
	assert_int_equal(r.status, 405);
	pd_buf_free(&r.body);
	/* HEAD is GET without the body (RFC 9110 asks servers to support it). */
	request(fx->m, "HEAD", "127.0.0.1", fx->port, "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	pd_buf_free(&r.body);
	/* The daemon still serves afterwards. */
	get(fx->m, fx->port, "/healthz", &r);
	assert_int_equal(r.status, 200);
	pd_buf_free(&r.body);
}

static void test_many_requests(void **state)
{
	struct fx *fx = *state;
	struct reply r;

	/* More requests than the connection limit: closed connections are
	 * released, not leaked. */
	pd_metrics_publish(fx->m, &snap);
	for (int i = 0; i < 40; i++) {
		get(fx->m, fx->port, "/metrics", &r);
		assert_int_equal(r.status, 200);
		pd_buf_free(&r.body);
	}
}

static void test_ipv6(void **state)
{
	struct pd_metrics *m;
	uint16_t port = 0;
	struct reply r;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	(void)state;
	if (fd < 0 || free_port(AF_INET6) == 0) {
		if (fd >= 0)
			close(fd);
		skip();
	}
	close(fd);
	m = start("::1", AF_INET6, &port);
	assert_non_null(m);
	request(m, "GET", "::1", port, "/healthz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body.data, "starting\n");
	pd_buf_free(&r.body);
	pd_metrics_stop(m);
}

static void test_bad_address(void **state)
{
	struct pd_err err;
	struct pd_metrics *m;
	struct fx *fx = *state;

	pd_err_clear(&err);
	assert_null(pd_metrics_start("localhost", 9100, &err));
	assert_int_equal(err.cls, PD_ERR_FATAL);
	assert_non_null(strstr(err.msg, "localhost"));

	/* The port is taken by the fixture's daemon. */
	pd_err_clear(&err);
	m = pd_metrics_start("127.0.0.1", fx->port, &err);
	assert_null(m);
	assert_int_not_equal(err.cls, PD_ERR_NONE);
	assert_non_null(strstr(err.msg, "cannot listen"));
	print_message("expected error: %s\n", err.msg);

	pd_metrics_stop(NULL);
	assert_int_equal(pd_metrics_fd(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_starting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_mailbox_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_db_and_mailbox_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_requests, setup, teardown),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test_setup_teardown(test_bad_address, setup, teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
