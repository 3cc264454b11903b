/*
 * migrate.c - forward-only schema migrations and the version check.
 *
 * The SQL of every migration is compiled in (src/db/sql_migrations.c, made from
 * sql/ by scripts/embed-sql.sh), so a binary always knows exactly which
 * schema it speaks.  Applying takes a transaction-level advisory lock so two
 * instances upgrading at once do not race; all missing migrations go in one
 * transaction: either the database moves to the new version or it stays.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "migrate.h"
#include "sql_migrations.h"
#include "util.h"

/* Arbitrary constant naming the "schema migration" advisory lock. */
#define PD_MIGRATE_LOCK "7140012001"

int pd_migrate_latest(void)
{
	int v = 0;

	for (int i = 0; i < pd_n_migrations; i++)
		if (pd_migrations[i].version > v)
			v = pd_migrations[i].version;
	return v;
}

int pd_migrate_current(struct pd_db *db, int *version_r, struct pd_err *err)
{
	PGresult *res;

	res = pd_db_query(db, NULL, "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL,
			  err);
	if (res == NULL)
		return -1;
	bool exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!exists) {
		*version_r = 0;
		return 0;
	}
	res = pd_db_query(db, NULL, "SELECT coalesce(max(version), 0) FROM schema_version", 0,
			  NULL, err);
	if (res == NULL)
		return -1;
	*version_r = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int pd_migrate_apply(struct pd_db *db, int *from_r, int *to_r, struct pd_err *err)
{
	int cur, latest = pd_migrate_latest();

	if (pd_db_begin(db, err) < 0)
		return -1;
	if (pd_db_exec(db, "SELECT pg_advisory_xact_lock(" PD_MIGRATE_LOCK ")", err) < 0)
		goto fail;
	if (pd_migrate_current(db, &cur, err) < 0)
		goto fail;
	*from_r = cur;
	*to_r = cur;
	if (cur > latest) {
		pd_err_set(err, PD_ERR_FATAL, PD_SRC_MIGRATE, 0,
			   "database schema is version %d, newer than this postdesk knows (%d): "
			   "upgrade postdesk",
			   cur, latest);
		goto fail;
	}
	for (int i = 0; i < pd_n_migrations; i++) {
		const struct pd_migration *m = &pd_migrations[i];
		char ver[16];
		const char *params[2] = {ver, m->name};

		if (m->version <= cur)
			continue;
		if (pd_db_exec(db, m->sql, err) < 0) {
			pd_err_prefix(err, "migration %s", m->name);
			goto fail;
		}
		snprintf(ver, sizeof(ver), "%d", m->version);
		PGresult *res = pd_db_query(
		    db, NULL, "INSERT INTO schema_version (version, name) VALUES ($1::int, $2)", 2,
		    params, err);
		if (res == NULL)
			goto fail;
		PQclear(res);
		pd_log_notice("applied migration %s", m->name);
		*to_r = m->version;
	}
	if (pd_db_commit(db, err) < 0)
		return -1;
	return 0;
fail:
	pd_db_rollback(db);
	return -1;
}

int pd_migrate_check(struct pd_db *db, struct pd_err *err)
{
	int cur, latest = pd_migrate_latest();

	if (pd_migrate_current(db, &cur, err) < 0)
		return -1;
	if (cur < latest)
		return pd_err_set(err, PD_ERR_FATAL, PD_SRC_MIGRATE, 0,
				  "database schema is version %d but this postdesk needs %d: run "
				  "\"postdesk -c FILE migrate\" first",
				  cur, latest);
	if (cur > latest)
		return pd_err_set(err, PD_ERR_FATAL, PD_SRC_MIGRATE, 0,
				  "database schema is version %d, newer than this postdesk knows "
				  "(%d): upgrade postdesk",
				  cur, latest);
	return 0;
}
