/*
 * pgtest.c - see pgtest.h.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "db_int.h"
#include "migrate.h"
#include "pgtest.h"
#include "util.h"

static char *pg_dir, *pg_conninfo;

static char *srcdir(void)
{
	const char *env = getenv("top_srcdir");
	const char *file = __FILE__;
	const char *cut;

	if (env != NULL && *env != '\0')
		return pd_xstrdup(env);
	cut = strstr(file, "tests/unit/pgtest.c");
	if (cut == NULL || cut == file)
		return pd_xstrdup(".");
	return pd_xstrndup(file, (size_t)(cut - file - 1));
}

static void stop_server(void)
{
	char *top, *cmd;

	if (pg_dir == NULL)
		return;
	top = srcdir();
	cmd = pd_xasprintf("bash '%s/tests/unit/pgtest.sh' stop '%s'", top, pg_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "pgtest: stopping the server in %s failed\n", pg_dir);
	free(cmd);
	free(top);
	free(pg_dir);
	free(pg_conninfo);
	pg_dir = pg_conninfo = NULL;
}

static char *chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

const char *pd_pgtest_start(void)
{
	char *top = srcdir();
	char *cmd = pd_xasprintf("bash '%s/tests/unit/pgtest.sh' start", top);
	char dir[512] = "", conninfo[512] = "";
	FILE *p = popen(cmd, "r");
	int st;

	free(cmd);
	free(top);
	if (p == NULL) {
		perror("pgtest: popen");
		abort();
	}
	if (fgets(dir, sizeof(dir), p) == NULL || fgets(conninfo, sizeof(conninfo), p) == NULL)
		dir[0] = conninfo[0] = '\0';
	st = pclose(p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		const char *ci = getenv("CI"), *req = getenv("PD_REQUIRE_INTEGRATION");

		/* CI must run these: a missing server fails there, as in lib.sh */
		if ((ci != NULL && strcmp(ci, "true") == 0) || (req != NULL && strcmp(req, "1") == 0)) {
			fprintf(stderr, "pgtest: PostgreSQL is required (CI=true or "
					"PD_REQUIRE_INTEGRATION=1)\n");
			exit(1);
		}
		return NULL;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || conninfo[0] == '\0') {
		fprintf(stderr, "pgtest: tests/unit/pgtest.sh start failed (status %d)\n", st);
		exit(1);
	}
	pg_dir = pd_xstrdup(chomp(dir));
	pg_conninfo = pd_xstrdup(chomp(conninfo));
	atexit(stop_server);

	struct pd_db *db = pd_pgtest_connect(0);
	struct pd_err err;
	int from, to;

	if (pd_migrate_apply(db, &from, &to, &err) != 0) {
		fprintf(stderr, "pgtest: migrate: %s\n", err.msg);
		exit(1);
	}
	pd_db_close(db);
	return pg_conninfo;
}

struct pd_db *pd_pgtest_connect(int64_t statement_timeout)
{
	struct pd_db *db = NULL;
	struct pd_err err;

	if (pg_conninfo == NULL)
		fail_msg("pgtest: no server (pd_pgtest_start first)");
	if (pd_db_connect(pg_conninfo, statement_timeout, &db, &err) != 0)
		fail_msg("pgtest: connect to %s: %s", pg_conninfo, err.msg);
	return db;
}

void pd_pgtest_exec(struct pd_db *db, const char *sql)
{
	struct pd_err err;

	if (pd_db_exec(db, sql, &err) != 0)
		fail_msg("pgtest: %s: %s", sql, err.msg);
}

char *pd_pgtest_value(struct pd_db *db, const char *sql)
{
	struct pd_err err;
	PGresult *res = pd_db_query(db, NULL, sql, 0, NULL, &err);
	char *v;

	if (res == NULL)
		fail_msg("pgtest: %s: %s", sql, err.msg);
	v = pd_xstrdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return v;
}

long long pd_pgtest_count(struct pd_db *db, const char *sql)
{
	char *v = pd_pgtest_value(db, sql);
	long long n = strtoll(v, NULL, 10);

	free(v);
	return n;
}
