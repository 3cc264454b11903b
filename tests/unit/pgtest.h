/*
 * pgtest.h - a private PostgreSQL for unit tests that need a real database
 * (tests/unit/pgtest.sh starts it on a free 127.0.0.1 port in a temp folder).
 */
#ifndef PD_PGTEST_H
#define PD_PGTEST_H

#include "db.h"

/*
 * Start the server and migrate the database "postdesk" to the latest schema.
 * Returns its conninfo (owned by pgtest.c), or NULL when PostgreSQL is not
 * installed (the reason is printed: the caller exits 77, automake's SKIP;
 * with CI=true or PD_REQUIRE_INTEGRATION=1 the program exits 1 instead).
 * A server that does not start, or a migration that fails, aborts the test
 * program.  Stopped and removed at exit.
 */
const char *pd_pgtest_start(void);

/* A new connection to it (fails the test when it cannot connect). */
struct pd_db *pd_pgtest_connect(int64_t statement_timeout);

/* Run sql on db; fails the test on an error. */
void pd_pgtest_exec(struct pd_db *db, const char *sql);

/* The first column of the first row of sql, newly allocated ("" when no row). */
char *pd_pgtest_value(struct pd_db *db, const char *sql);
long long pd_pgtest_count(struct pd_db *db, const char *sql);

#endif
