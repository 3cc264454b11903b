/*
 * db.h - the PostgreSQL connection: connect with timeouts, reconnect,
 * transactions, SQLSTATE -> error class.  libpq types stay in src/db/db_int.h.
 */
#ifndef PD_DB_H
#define PD_DB_H

#include <stdint.h>

#include "err.h"

struct pd_db;

/* err->code of a statement cancelled by statement_timeout (SQLSTATE 57014,
 * class TEMP): the statement, or the data it was given, may be the cause. */
#define PD_DB_TIMEOUT 57014

/* err->code of a row a unique index refuses (SQLSTATE 23505, class PERM):
 * in the ingest, a mail another process stored meanwhile. */
#define PD_DB_UNIQUE 23505

/* Connect with conninfo; sets connect_timeout (10 s unless given),
 * statement_timeout (seconds, 0 = server default), application_name,
 * client_encoding UTF8 and time zone UTC.  Errors are TEMP (server down) or
 * FATAL (authentication, unknown database). */
int pd_db_connect(const char *conninfo, int64_t statement_timeout, struct pd_db **db_r,
		  struct pd_err *err);
void pd_db_close(struct pd_db *db);

/* Reconnect when the connection has gone bad (prepared statements are
 * prepared again on next use). */
int pd_db_ensure(struct pd_db *db, struct pd_err *err);

/* Increases with every (re)connection: session state such as advisory locks
 * taken before is gone when it changed. */
unsigned pd_db_generation(const struct pd_db *db);

/* Session-level advisory lock named by key (a mailbox name...): 1 taken (or
 * already held by this session), 0 held by another session, -1 on error. */
int pd_db_try_lock(struct pd_db *db, const char *key, struct pd_err *err);
/* Give it back (errors ignored: the session may be gone, which frees it). */
void pd_db_unlock(struct pd_db *db, const char *key);

/* Run SQL without parameters and without a result (BEGIN, COMMIT, DDL). */
int pd_db_exec(struct pd_db *db, const char *sql, struct pd_err *err);
int pd_db_begin(struct pd_db *db, struct pd_err *err);
int pd_db_commit(struct pd_db *db, struct pd_err *err);
/* Roll back, ignoring errors (the connection may be gone). */
void pd_db_rollback(struct pd_db *db);

#endif
