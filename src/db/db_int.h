/*
 * db_int.h - libpq-level access for the modules that talk SQL (db.c,
 * store.c, migrate.c, cli.c).  Not a public header.
 */
#ifndef PD_DB_INT_H
#define PD_DB_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "util.h"

PGconn *pd_db_pg(struct pd_db *db);

/*
 * The set-based ingest gathers some rows in memory instead of writing them
 * one statement each (struct pd_outbox_collect, outbox.h): while a collector
 * is set, the modules that know it add to it.  NULL = none (the default).
 */
void pd_db_set_collect(struct pd_db *db, void *collect);
void *pd_db_collect(const struct pd_db *db);

/*
 * Execute a statement with text parameters (NULL value = SQL NULL).  When
 * name is not NULL the statement is prepared once per connection under that
 * name and reused.  Returns the result (caller PQclear()s) when its status is
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK; otherwise NULL with err filled from
 * the SQLSTATE (TEMP for connection loss, 40001/40P01, 57014 timeouts,
 * 53xxx resources; PERM for data errors; FATAL for missing tables, i.e. a
 * schema mismatch).
 */
PGresult *pd_db_query(struct pd_db *db, const char *name, const char *sql, int nparams,
		      const char *const *values, struct pd_err *err);

/* Same with explicit lengths and formats (1 = binary) for bytea parameters. */
PGresult *pd_db_query_bin(struct pd_db *db, const char *name, const char *sql, int nparams,
			  const char *const *values, const int *lengths, const int *formats,
			  struct pd_err *err);
/* Same, with every column of the result in binary format (a bytea's bytes as
 * they are: PQgetvalue/PQgetlength, no unescaping). */
PGresult *pd_db_query_bin_result(struct pd_db *db, const char *name, const char *sql,
				 int nparams, const char *const *values, const int *lengths,
				 const int *formats, struct pd_err *err);

/*
 * Inside a transaction (pd_db_begin), send a statement whose result nobody
 * reads without waiting for it: it travels with the next pd_db_query*,
 * pd_db_exec or pd_db_sync, which fails with this statement's error if it
 * failed.  Outside a transaction it runs at once.  Parameters are copied
 * when sent.  name: as for pd_db_query (a string literal).
 */
int pd_db_defer(struct pd_db *db, const char *name, const char *sql, int nparams,
		const char *const *values, struct pd_err *err);
int pd_db_defer_bin(struct pd_db *db, const char *name, const char *sql, int nparams,
		    const char *const *values, const int *lengths, const int *formats,
		    struct pd_err *err);
/* Wait for every deferred statement; the first failure is returned. */
int pd_db_sync(struct pd_db *db, struct pd_err *err);
/*
 * End the server's unit of work here without waiting for it (a protocol
 * Sync): what was sent so far runs and its results are read with the next
 * statement that waits, as before.  Called once per mail, so that however
 * long a batch is, the server never holds more than one mail's statements
 * open; a failure before the sync point still fails whatever was sent after
 * it (the transaction is aborted), and the first failure is the one reported.
 */
int pd_db_sync_point(struct pd_db *db, struct pd_err *err);
/* Wait for them and forget any failure (before rolling back to a savepoint). */
void pd_db_discard(struct pd_db *db);
/*
 * Label the statements sent from now on (a mail's index in a batch), so that
 * a failure that surfaces later says whose statement failed:
 * pd_db_failed_tag() is that label (-1 when the failure was not a deferred
 * or pipelined statement's, or nothing failed since pd_db_set_tag).
 */
void pd_db_set_tag(struct pd_db *db, int tag);
int pd_db_failed_tag(const struct pd_db *db);

/*
 * A one-dimensional array parameter in PostgreSQL's binary format, for
 * statements that take a whole set at once (unnest($1::text[], ...)): no
 * quoting, and bytea elements travel as they are.  elem_oid is the element
 * type (PD_OID_TEXT, PD_OID_BYTEA, PD_OID_INT8); send the value with format 1
 * and the length pd_db_array_value gives.  pd_db_array_add with data NULL
 * adds an SQL NULL.
 */
#define PD_OID_BYTEA 17
#define PD_OID_INT8 20
#define PD_OID_TEXT 25
struct pd_db_array {
	struct pd_buf b;
	size_t n;
	bool has_null;
};
void pd_db_array_init(struct pd_db_array *a, unsigned elem_oid);
void pd_db_array_add(struct pd_db_array *a, const void *data, size_t len);
void pd_db_array_add_str(struct pd_db_array *a, const char *s);
void pd_db_array_add_int8(struct pd_db_array *a, int64_t v);
const char *pd_db_array_value(struct pd_db_array *a, int *len);
void pd_db_array_free(struct pd_db_array *a);

/*
 * A text[] literal {"a","b"} of n strings, get(ctx, i) giving each (NULL
 * reads as ""; quotes and backslashes escaped): a parameter for statements
 * that take a list, or one element of an array of lists.  Newly allocated.
 * pd_db_strv_get reads a char *[] as ctx.
 */
char *pd_db_text_array(size_t n, const char *(*get)(const void *ctx, size_t i), const void *ctx);
const char *pd_db_strv_get(const void *ctx, size_t i);

/* Fill err from a failed result (or the connection when res is NULL). */
int pd_db_result_err(struct pd_db *db, PGresult *res, const char *what, struct pd_err *err);

#endif
