/*
 * sql_migrations.h - the migrations compiled in from sql/ (see
 * scripts/embed-sql.sh); used by migrate.c only.
 */
#ifndef PD_SQL_MIGRATIONS_H
#define PD_SQL_MIGRATIONS_H

struct pd_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct pd_migration pd_migrations[];
extern const int pd_n_migrations;

#endif
