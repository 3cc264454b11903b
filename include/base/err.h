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

/*
 * What reported the error: the class says temporary or permanent, the
 * source says where (the database, the IMAP or SMTP server, the
 * configuration, the data being handled...).  Callers decide by comparing
 * these enums; pd_err_src_name gives the word printed in logs.
 */
enum pd_err_src {
	PD_SRC_NONE = 0, /* "" */
	PD_SRC_DB,       /* "db": PostgreSQL (libpq) */
	PD_SRC_IMAP,     /* "imap": an IMAP server */
	PD_SRC_SMTP,     /* "smtp": the SMTP server */
	PD_SRC_TLS,      /* "tls": a TLS handshake or certificate */
	PD_SRC_OAUTH2,   /* "oauth2": an OAuth 2.0 token endpoint or token_command */
	PD_SRC_CONFIG,   /* "config": the configuration or a file it names */
	PD_SRC_MIGRATE,  /* "migrate": the database schema */
	PD_SRC_STORE,    /* "store": storing a message */
	PD_SRC_COMPOSE,  /* "compose": writing an outbound mail */
	PD_SRC_MIMEOUT,  /* "mimeout": building MIME */
	PD_SRC_RENDER,   /* "render": a template */
	PD_SRC_OUTBOX,   /* "outbox": an outbox row */
	PD_SRC_REPORT,   /* "report": a report */
	PD_SRC_METRICS,  /* "metrics": the metrics listener */
	PD_SRC_DATA,     /* "data": the data being handled (a message, a row) */
};

struct pd_err {
	enum pd_err_class cls;
	enum pd_err_src src; /* what reported it (pd_err_src_name prints it) */
	int code;      /* library code where one exists (MAILIMAP_ERROR_*, errno...), else 0 */
	char msg[512]; /* one line, no trailing newline */
};

/* Reset to "no error". */
void pd_err_clear(struct pd_err *err);

/* Fill err (NULL is allowed and ignored); always returns -1 so callers can
 * write `return pd_err_set(err, PD_ERR_TEMP, PD_SRC_DB, 0, "...")`. */
int pd_err_set(struct pd_err *err, enum pd_err_class cls, enum pd_err_src src, int code,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Prefix an existing message with more context: "context: old message". */
void pd_err_prefix(struct pd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "temporary", "permanent", "fatal" or "none". */
const char *pd_err_class_name(enum pd_err_class cls);

/* "db", "imap", "smtp", ... ("" for PD_SRC_NONE): the word logs print. */
const char *pd_err_src_name(enum pd_err_src src);

#endif
