/*
 * db_int.h - libpq-level access for the modules that talk SQL (db.c,
 * store.c, migrate.c, cli.c).  Not a public header.
 */
#ifndef PD_DB_INT_H
#define PD_DB_INT_H

#include <libpq-fe.h>

#include "db.h"

PGconn *pd_db_pg(struct pd_db *db);

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

/* Fill err from a failed result (or the connection when res is NULL). */
int pd_db_result_err(struct pd_db *db, PGresult *res, const char *what, struct pd_err *err);

#endif
