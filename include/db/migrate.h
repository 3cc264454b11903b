/*
 * migrate.h - forward-only schema migrations (sql/NNNN_*.sql, compiled into
 * the binary) and the schema version check the daemon makes at start.
 */
#ifndef PD_MIGRATE_H
#define PD_MIGRATE_H

#include "db.h"
#include "err.h"

/* The schema version this build knows (number of the newest migration). */
int pd_migrate_latest(void);

/* Current version in the database; 0 when the schema is empty. */
int pd_migrate_current(struct pd_db *db, int *version_r, struct pd_err *err);

/* Apply every missing migration in one transaction (serialised across
 * processes with an advisory lock). from_r and to_r report the versions.
 * A database newer than this build is an error (FATAL). */
int pd_migrate_apply(struct pd_db *db, int *from_r, int *to_r, struct pd_err *err);

/* FATAL error unless the database is exactly at pd_migrate_latest(), with a
 * message telling the operator to run "postdesk migrate" or upgrade. */
int pd_migrate_check(struct pd_db *db, struct pd_err *err);

#endif
