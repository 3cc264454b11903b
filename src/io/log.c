/*
 * log.c - one line per event on stderr, journald-aware.  See log.h.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char *log_ident = "postdesk";
static enum pd_log_level log_max = PD_LOG_INFO;
static bool log_journal;

static const char *level_names[] = {
	[PD_LOG_ERR] = "err",       [PD_LOG_WARNING] = "warning", [PD_LOG_NOTICE] = "notice",
	[PD_LOG_INFO] = "info",     [PD_LOG_DEBUG] = "debug",
};

void pd_log_init(const char *ident, enum pd_log_level max_level)
{
	if (ident != NULL)
		log_ident = ident;
	log_max = max_level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void pd_log_set_level(enum pd_log_level max_level)
{
	log_max = max_level;
}

bool pd_log_enabled(enum pd_log_level level)
{
	return level <= log_max;
}

int pd_log_level_parse(const char *s, enum pd_log_level *level_r)
{
	for (int l = PD_LOG_ERR; l <= PD_LOG_DEBUG; l++) {
		if (pd_str_iequal(s, level_names[l])) {
			*level_r = (enum pd_log_level)l;
			return 0;
		}
	}
	if (pd_str_iequal(s, "error")) {
		*level_r = PD_LOG_ERR;
		return 0;
	}
	return -1;
}

void pd_log(enum pd_log_level level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	size_t off = 0, len;

	if (level > log_max)
		return;
	if (log_journal) {
		off = (size_t)snprintf(line, sizeof(line), "<%d>", (int)level);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		off += (size_t)snprintf(line + off, sizeof(line) - off, ".%03ld %s[%s]: ",
					ts.tv_nsec / 1000000, log_ident, level_names[level]);
	}
	va_start(ap, fmt);
	vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap); /* room for the newline */
	va_end(ap);
	/* one event, one line: control characters from the network never split it */
	for (char *p = line + off; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			*p = ' ';
	len = strlen(line);
	line[len++] = '\n';
	/* One write(2) per line, not stdio: the ingest round's fetching thread
	 * logs too, and a line is never interleaved with another thread's. */
	for (size_t done = 0; done < len;) {
		ssize_t w = write(STDERR_FILENO, line + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* nowhere left to say it */
		done += (size_t)w;
	}
}
