/*
 * err.h - error values passed up from every module.
 *
 * A function that can fail returns 0 on success and -1 on failure and fills
 * the `struct pd_err *err` given as its last argument.  The class tells the
 * caller what to do next: retry later (TEMP), give up on this one item and
 * go on (PERM), or stop the process (FATAL).  The text says what failed,
 * where, and what the operator can do; it is fixed-size so that filling it
 * never allocates.
 */
#ifndef PD_ERR_H
#define PD_ERR_H

#include <stdarg.h>

enum pd_err_class {
	PD_ERR_NONE = 0,
	PD_ERR_TEMP,  /* network, timeouts, serialization failures: retry later */
	PD_ERR_PERM,  /* this message/row is bad: record it and go on */
	PD_ERR_FATAL, /* config or schema problem: the process must stop */
};

struct pd_err {
	enum pd_err_class cls;
	char src[32];  /* module or library that reported it: "imap", "db", "tls"... */
	int code;      /* library code where one exists (MAILIMAP_ERROR_*, errno...), else 0 */
	char msg[512]; /* one line, no trailing newline */
};

/* Reset to "no error". */
void pd_err_clear(struct pd_err *err);

/* Fill err (NULL is allowed and ignored); always returns -1 so callers can
 * write `return pd_err_set(err, PD_ERR_TEMP, "db", 0, "...")`. */
int pd_err_set(struct pd_err *err, enum pd_err_class cls, const char *src, int code,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Prefix an existing message with more context: "context: old message". */
void pd_err_prefix(struct pd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "temporary", "permanent", "fatal" or "none". */
const char *pd_err_class_name(enum pd_err_class cls);

#endif
