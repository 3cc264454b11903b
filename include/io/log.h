/*
 * log.h - one line per event on stderr.
 *
 * When JOURNAL_STREAM is set (started by systemd) each line starts with a
 * "<N>" syslog priority prefix so journald records the level; otherwise it
 * starts with a timestamp and the level name.  Lines end with key=value
 * fields (mailbox= uid= ticket= msgid= action=).  Never log bodies or
 * secrets.
 *
 * Levels: err = the operator must act; warning = degraded, retrying;
 * notice = start/reload/stop; info = one line per mail outcome;
 * debug = protocol traces, off by default.
 */
#ifndef PD_LOG_H
#define PD_LOG_H

#include <stdbool.h>

enum pd_log_level {
	PD_LOG_ERR = 3,
	PD_LOG_WARNING = 4,
	PD_LOG_NOTICE = 5,
	PD_LOG_INFO = 6,
	PD_LOG_DEBUG = 7,
};

/* ident: program name shown in timestamped lines. Reads JOURNAL_STREAM. */
void pd_log_init(const char *ident, enum pd_log_level max_level);
void pd_log_set_level(enum pd_log_level max_level);
bool pd_log_enabled(enum pd_log_level level);
/* Parse "err", "warning", "notice", "info", "debug". Returns 0 / -1. */
int pd_log_level_parse(const char *s, enum pd_log_level *level_r);

void pd_log(enum pd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define pd_log_err(...) pd_log(PD_LOG_ERR, __VA_ARGS__)
#define pd_log_warning(...) pd_log(PD_LOG_WARNING, __VA_ARGS__)
#define pd_log_notice(...) pd_log(PD_LOG_NOTICE, __VA_ARGS__)
#define pd_log_info(...) pd_log(PD_LOG_INFO, __VA_ARGS__)
#define pd_log_debug(...) pd_log(PD_LOG_DEBUG, __VA_ARGS__)

#endif
