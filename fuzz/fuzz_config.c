/*
 * fuzz_config.c - a configuration file: the scanner that checks lines,
 * keys and syntax, libconfuse, and every value and cross check of
 * pd_config_load; then what the daemon derives from a loaded configuration
 * (the classifier's rules on a sample mail, each priority's SLA clocks
 * under each plan).
 *
 * The loader reads a path, so each input is written to a file of mode
 * 0600 in a private temporary directory (removed at exit); password_file
 * names resolve next to it, and $CREDENTIALS_DIRECTORY is unset.  Log
 * lines (warnings about settings) are silenced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify.h"
#include "config.h"
#include "confload.h"
#include "fuzz.h"
#include "log.h"
#include "mime.h"
#include "slascan.h"
#include "util.h"

#define REQUIRE(cond)                                                                       \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_config: %s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                                           \
			abort();                                                            \
		}                                                                           \
	} while (0)

static char *dir, *path;

static const char SAMPLE[] =
	"From: Ann Example <ann@customer.example>\r\n"
	"To: support@example.com\r\n"
	"Cc: billing@example.com\r\n"
	"Subject: URGENT: checkout is down, refund please\r\n"
	"X-Priority: 1\r\n"
	"Message-ID: <a1@customer.example>\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"Our shop cannot take orders since 9:00. Срочно! Please call back.\r\n";

static void cleanup(void)
{
	if (path != NULL)
		unlink(path);
	if (dir != NULL)
		rmdir(dir);
	free(path);
	free(dir);
	path = dir = NULL;
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char *tmpl = pd_xasprintf("%s/pd-fuzz-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");

	if (mkdtemp(tmpl) == NULL) {
		fprintf(stderr, "fuzz_config: mkdtemp %s: %s\n", tmpl, strerror(errno));
		abort();
	}
	dir = tmpl;
	path = pd_xasprintf("%s/postdesk.conf", dir);
	unsetenv("CREDENTIALS_DIRECTORY");
	pd_log_set_level(PD_LOG_ERR - 1); /* nothing */
	atexit(cleanup);
}

static void write_file(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		fprintf(stderr, "fuzz_config: %s: %s\n", path, strerror(errno));
		abort();
	}
	while (size > 0) {
		ssize_t n = write(fd, data, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "fuzz_config: write %s: %s\n", path, strerror(errno));
			abort();
		}
		data += n;
		size -= (size_t)n;
	}
	close(fd);
}

static void use_config(const struct pd_config *cfg)
{
	static const char *const prio[] = {"critical", "high", "normal", "low"};
	/* 2024-03-31 00:30 UTC: a DST change in Europe, a Sunday */
	const time_t now = 1711845000;

	REQUIRE(cfg->support_address != NULL && cfg->subject_tag != NULL);
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		REQUIRE(pd_config_mailbox(cfg, cfg->mailboxes[i].name) != NULL);
	(void)pd_config_is_agent(cfg, "ann@customer.example");

	struct pd_msg *m = pd_mime_parse(SAMPLE, sizeof(SAMPLE) - 1, NULL);
	for (size_t i = 0; i <= cfg->n_mailboxes; i++) {
		struct pd_classification cls;
		pd_classify(&cfg->classify, i < cfg->n_mailboxes ? cfg->mailboxes[i].name : NULL, m,
			    &cls);
		REQUIRE(cls.queue != NULL && cls.line >= 1);
		pd_classification_free(&cls);
	}
	pd_msg_free(m);

	const struct pd_plan_cfg *p = pd_config_plan_for(cfg, "ann@customer.example");
	REQUIRE(p == NULL || pd_config_plan(cfg, p->name) == p);
	for (size_t i = 0; i <= cfg->n_plans && i < 4; i++) {
		const char *plan = i == 0 ? NULL : cfg->plans[i - 1].name;
		for (size_t k = 0; k < PD_ARRAY_LEN(prio); k++) {
			int line = cfg->n_lines > 0 ? cfg->lines[k % cfg->n_lines].number : 1;
			struct pd_sla_initial out;
			pd_slascan_initial(cfg, plan, prio[k], line, now, &out);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pd_config *cfg = NULL;
	struct pd_config_errors errs;

	if (dir == NULL)
		setup();
	write_file(data, size);
	int rc = pd_config_load(path, &cfg, &errs);
	if (rc == 0) {
		REQUIRE(cfg != NULL && errs.n == 0);
		use_config(cfg);
		pd_config_free(cfg);
	} else {
		REQUIRE(cfg == NULL && errs.n > 0);
		for (size_t i = 0; i < errs.n; i++)
			REQUIRE(errs.v[i] != NULL);
	}
	pd_config_errors_free(&errs);
	return 0;
}
