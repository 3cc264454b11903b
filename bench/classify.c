/*
 * bench/classify.c - how fast the classification rules shipped in
 * conf/postdesk.conf decide a mail (classify.c), on this machine.
 *
 *   classify [--mails N] [--conf FILE]
 *
 * Classifies one 4 KB mail of mixed Russian and English support prose N times
 * (default 20,000) with the rules of FILE (default conf/postdesk.conf of the
 * source tree, $top_srcdir) and prints one line:
 *   mails=N bytes=B seconds=S mails_per_s=R
 * Built from postdesk's own objects (make bench/classify; bench/run.sh
 * --only classify does it).  Not part of make check.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classify.h"
#include "config.h"
#include "confload.h"
#include "ioutil.h"
#include "msg.h"
#include "util.h"

static const char *const para[] = {
    "Добрый день! Пишу по поводу вчерашнего обновления личного кабинета. ",
    "After the update the export to CSV takes much longer than before, ",
    "и иногда отчёт приходит пустым, хотя данные за период точно есть. ",
    "We checked it on two browsers (Firefox 128, Chrome 126) and on macOS. ",
    "Прикладываю снимок экрана и номер заказа 100482, посмотрите, пожалуйста. ",
    "Could you also tell me whether the API limits changed in this release? ",
    "Спасибо заранее, с уважением, Иван Петров, ООО «Северстрой». ",
    "P.S. The mobile app works fine; only the web version is affected.\n",
};

/* The credential files conf/postdesk.conf names, in a temp folder. */
static char *fake_credentials(void)
{
	char tmpl[] = "/tmp/pd-bench-classify.XXXXXX";
	char *dir = mkdtemp(tmpl);
	static const char *const files[] = {"imap-support.password", "smtp.password"};

	if (dir == NULL) {
		perror("classify: mkdtemp");
		exit(1);
	}
	for (size_t i = 0; i < PD_ARRAY_LEN(files); i++) {
		char *p = pd_xasprintf("%s/%s", dir, files[i]);
		FILE *f = fopen(p, "w");

		if (f == NULL || fputs("x\n", f) < 0 || fclose(f) != 0) {
			fprintf(stderr, "classify: cannot write %s\n", p);
			exit(1);
		}
		free(p);
	}
	return pd_xstrdup(dir);
}

static void remove_credentials(char *dir)
{
	static const char *const files[] = {"imap-support.password", "smtp.password"};

	for (size_t i = 0; i < PD_ARRAY_LEN(files); i++) {
		char *p = pd_xasprintf("%s/%s", dir, files[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
	free(dir);
}

int main(int argc, char **argv)
{
	long n = 20000;
	char *conf = NULL;
	struct pd_config *cfg = NULL;
	struct pd_config_errors e = {0, NULL};
	struct pd_classification c;
	struct pd_buf body;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mails") == 0 && i + 1 < argc)
			n = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--conf") == 0 && i + 1 < argc)
			conf = pd_xstrdup(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--mails N] [--conf FILE]\n", argv[0]);
			return 64;
		}
	}
	if (n <= 0)
		n = 1;
	if (conf == NULL) {
		const char *top = getenv("top_srcdir");
		conf = pd_xasprintf("%s/conf/postdesk.conf", top != NULL ? top : ".");
	}
	char *cred = fake_credentials();
	setenv("CREDENTIALS_DIRECTORY", cred, 1);
	if (pd_config_load(conf, &cfg, &e) != 0) {
		fprintf(stderr, "classify: %s does not load:\n", conf);
		for (size_t i = 0; i < e.n; i++)
			fprintf(stderr, "  %s\n", e.v[i]);
		remove_credentials(cred);
		return 1;
	}
	remove_credentials(cred);

	pd_buf_init(&body);
	for (size_t i = 0; body.len < 4096; i++)
		pd_buf_append_str(&body, para[i % PD_ARRAY_LEN(para)]);
	struct pd_msg *m = pd_xcalloc(1, sizeof(*m));
	m->from.name = pd_xstrdup("");
	m->from.address = pd_xstrdup("ivan@customer.example");
	m->subject = pd_xstrdup("Re: Экспорт отчётов / CSV export");
	m->body_text = pd_buf_steal(&body, NULL);
	m->to.v = pd_xcalloc(1, sizeof(*m->to.v));
	m->to.v[0].name = pd_xstrdup("");
	m->to.v[0].address = pd_xstrdup("support@example.com");
	m->to.n = 1;

	int64_t t0 = pd_now_ms();
	for (long i = 0; i < n; i++) {
		pd_classify(&cfg->classify, "support", m, &c);
		pd_classification_free(&c);
	}
	int64_t ms = pd_now_ms() - t0;
	printf("mails=%ld bytes=%zu seconds=%.3f mails_per_s=%.0f\n", n, strlen(m->body_text),
	       (double)ms / 1000.0, ms > 0 ? (double)n * 1000.0 / (double)ms : 0.0);
	pd_msg_free(m);
	pd_config_free(cfg);
	free(conf);
	return 0;
}
