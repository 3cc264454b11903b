/*
 * err.c - filling struct pd_err.  See err.h.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

void pd_err_clear(struct pd_err *err)
{
	if (err == NULL)
		return;
	err->cls = PD_ERR_NONE;
	err->src = PD_SRC_NONE;
	err->code = 0;
	err->msg[0] = '\0';
}

int pd_err_set(struct pd_err *err, enum pd_err_class cls, enum pd_err_src src, int code,
	       const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->cls = cls;
	err->src = src;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* one line: fold the newlines and tabs libraries put into their
	 * messages, and the runs of blanks that leaves, into single spaces */
	char *w = err->msg;
	for (const char *r = err->msg; *r; r++) {
		char c = (*r == '\n' || *r == '\r' || *r == '\t') ? ' ' : *r;
		if (c == ' ' && (w == err->msg || w[-1] == ' '))
			continue;
		*w++ = c;
	}
	while (w > err->msg && w[-1] == ' ')
		w--;
	*w = '\0';
	return -1;
}

void pd_err_prefix(struct pd_err *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err->msg)];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* prefix + ": " + old message, cut at the buffer's end */
	size_t plen = strlen(prefix); /* < sizeof(prefix) <= sizeof(msg) - 3 */
	memcpy(err->msg, prefix, plen);
	memcpy(err->msg + plen, ": ", 2);
	size_t room = sizeof(err->msg) - plen - 3;
	size_t olen = strnlen(old, room);
	memcpy(err->msg + plen + 2, old, olen);
	err->msg[plen + 2 + olen] = '\0';
}

const char *pd_err_class_name(enum pd_err_class cls)
{
	switch (cls) {
	case PD_ERR_NONE:
		return "none";
	case PD_ERR_TEMP:
		return "temporary";
	case PD_ERR_PERM:
		return "permanent";
	case PD_ERR_FATAL:
		return "fatal";
	}
	return "unknown";
}

const char *pd_err_src_name(enum pd_err_src src)
{
	static const char *const names[] = {
		[PD_SRC_NONE] = "",         [PD_SRC_DB] = "db",           [PD_SRC_IMAP] = "imap",
		[PD_SRC_SMTP] = "smtp",     [PD_SRC_TLS] = "tls",         [PD_SRC_OAUTH2] = "oauth2",
		[PD_SRC_CONFIG] = "config", [PD_SRC_MIGRATE] = "migrate", [PD_SRC_STORE] = "store",
		[PD_SRC_COMPOSE] = "compose", [PD_SRC_MIMEOUT] = "mimeout",
		[PD_SRC_RENDER] = "render", [PD_SRC_OUTBOX] = "outbox",   [PD_SRC_REPORT] = "report",
		[PD_SRC_METRICS] = "metrics", [PD_SRC_DATA] = "data",
	};

	return (unsigned)src < sizeof(names) / sizeof(names[0]) && names[src] != NULL
		   ? names[src]
		   : "unknown";
}
