/*
 * db.c - the PostgreSQL connection.
 *
 * Owns the PGconn, its session settings, a small cache of the statements
 * prepared on it, and the mapping of SQLSTATE to error classes (STYLE.md:
 * TEMP for what a retry can cure, PERM for bad data, FATAL for a schema or
 * configuration problem).  Every statement goes through pd_db_query*, which
 * only ever sends parameters separately from the SQL text.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "util.h"

#define PD_DB_MAX_PREPARED 64
#define PD_DB_MAX_PENDING 256
#define PD_DB_FLUSH_AT 4096 /* half of the 8 KB at which libpq starts writing */

/* A statement sent in pipeline mode whose result has not been read yet. */
struct pending {
	const char *what; /* statement name for messages (static storage) */
	bool prepare;     /* a PQsendPrepare: on failure the name is not prepared */
	int tag;          /* pd_db_set_tag when it was sent */
};

struct pd_db {
	PGconn *conn;
	char *conninfo;
	int64_t statement_timeout;
	unsigned generation;
	size_t n_prepared;
	char *prepared[PD_DB_MAX_PREPARED]; /* names prepared on the current connection */
	bool in_tx;                         /* between pd_db_begin and commit/rollback */
	bool pipeline;                      /* libpq pipeline mode, statements pending */
	size_t n_syncs;                     /* Syncs sent whose result is not read yet */
	size_t unsent;                      /* bytes (at most) in libpq's buffer, not written */
	size_t n_pending;
	struct pending pending[PD_DB_MAX_PENDING];
	int tag;        /* given to statements sent from now on */
	int failed_tag; /* tag of the statement behind the last failure, -1 = none */
	void *collect;  /* rows gathered instead of written (pd_db_set_collect) */
};

PGconn *pd_db_pg(struct pd_db *db)
{
	return db->conn;
}

void pd_db_set_collect(struct pd_db *db, void *collect)
{
	db->collect = collect;
}

void *pd_db_collect(const struct pd_db *db)
{
	return db->collect;
}

/* Notices (e.g. "relation already exists, skipping") go to debug. */
static void db_notice(void *arg, const char *message)
{
	(void)arg;
	pd_log_debug("postgresql: %s", message);
}

/* libpq's message without the newline it ends with, in buf. */
static const char *pq_msg(const char *m, char *buf, size_t n)
{
	size_t l;

	snprintf(buf, n, "%s", m ? m : "");
	l = strlen(buf);
	while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == ' '))
		buf[--l] = '\0';
	return buf;
}

static void forget_prepared(struct pd_db *db)
{
	for (size_t i = 0; i < db->n_prepared; i++)
		free(db->prepared[i]);
	db->n_prepared = 0;
}

static int db_open(struct pd_db *db, struct pd_err *err)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name", "client_encoding",
			      "options", NULL};
	char opts[192];
	const char *vals[6];
	PQconninfoOption *parsed;
	char *perr = NULL;
	bool has_timeout = false;

	/* Only set connect_timeout when the operator did not. */
	parsed = PQconninfoParse(db->conninfo, &perr);
	if (parsed == NULL) {
		/* libpq may quote the part it could not read: a password, say */
		char *why = pd_conninfo_scrub(perr ? perr : "out of memory", db->conninfo);
		char mb[400];
		pd_err_set(err, PD_ERR_FATAL, PD_SRC_DB, 0, "database conninfo is invalid: %s",
			   pq_msg(why, mb, sizeof(mb)));
		pd_free_secret(why);
		PQfreemem(perr);
		return -1;
	}
	for (PQconninfoOption *o = parsed; o->keyword; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL)
			has_timeout = true;
	PQconninfoFree(parsed);

	/*
	 * Prepared statements are point lookups and inserts written so that
	 * their generic plan is an index probe: plan them once.  (With the
	 * default "auto", cheap custom plans for empty arrays keep PostgreSQL
	 * re-planning every execution, a third of a millisecond each.)
	 */
	snprintf(opts, sizeof(opts),
		 "-c statement_timeout=%lld -c TimeZone=UTC -c plan_cache_mode=force_generic_plan",
		 (long long)db->statement_timeout * 1000);
	vals[0] = db->conninfo; /* expand_dbname: conninfo string in dbname position */
	vals[1] = has_timeout ? NULL : "10";
	vals[2] = "postdesk";
	vals[3] = "UTF8";
	vals[4] = opts;
	vals[5] = NULL;
	if (has_timeout) {
		/* NULL value means "not set" for PQconnectdbParams */
		vals[1] = NULL;
	}
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		char mb[400];
		const char *m = pq_msg(PQerrorMessage(db->conn), mb, sizeof(mb));
		/* authentication and missing databases will not cure themselves */
		enum pd_err_class cls = (strstr(m, "authentication") || strstr(m, "does not exist"))
						? PD_ERR_FATAL
						: PD_ERR_TEMP;
		/* never the password: the conninfo as written, its secrets starred */
		char *shown = pd_conninfo_redact(db->conninfo);
		char *why = pd_conninfo_scrub(m, db->conninfo);
		pd_err_set(err, cls, PD_SRC_DB, 0,
			   "cannot connect to PostgreSQL (%s): %s; check database.conninfo and that "
			   "the server is running",
			   shown, why);
		free(shown);
		pd_free_secret(why);
		PQfinish(db->conn);
		db->conn = NULL;
		return -1;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	forget_prepared(db);
	db->in_tx = false;
	db->pipeline = false;
	db->n_syncs = 0;
	db->unsent = 0;
	db->n_pending = 0;
	db->failed_tag = -1;
	db->generation++;
	return 0;
}

int pd_db_connect(const char *conninfo, int64_t statement_timeout, struct pd_db **db_r,
		  struct pd_err *err)
{
	struct pd_db *db = pd_xcalloc(1, sizeof(*db));

	db->conninfo = pd_xstrdup(conninfo);
	db->statement_timeout = statement_timeout;
	if (db_open(db, err) < 0) {
		pd_db_close(db);
		*db_r = NULL;
		return -1;
	}
	*db_r = db;
	return 0;
}

void pd_db_close(struct pd_db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	forget_prepared(db);
	free(db->conninfo);
	free(db);
}

int pd_db_ensure(struct pd_db *db, struct pd_err *err)
{
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	if (db->conn != NULL) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	pd_log_notice("reconnecting to PostgreSQL");
	return db_open(db, err);
}

int pd_db_result_err(struct pd_db *db, PGresult *res, const char *what, struct pd_err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	enum pd_err_class cls = PD_ERR_PERM;

	char mb[400];

	if (msg == NULL || *msg == '\0')
		msg = db->conn ? PQerrorMessage(db->conn) : "no connection";
	msg = pq_msg(msg, mb, sizeof(mb));
	if (state == NULL || db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		cls = PD_ERR_TEMP; /* connection lost */
	} else if (strncmp(state, "08", 2) == 0 || strcmp(state, "40001") == 0 ||
		   strcmp(state, "40P01") == 0 || strcmp(state, "57014") == 0 ||
		   strncmp(state, "53", 2) == 0 || strcmp(state, "55P03") == 0 ||
		   strncmp(state, "57P", 3) == 0) {
		cls = PD_ERR_TEMP; /* serialization, deadlock, timeout, resources, shutdown */
	} else if (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0 ||
		   strcmp(state, "42883") == 0) {
		cls = PD_ERR_FATAL; /* undefined table/column/function: schema mismatch */
	}
	if (state == NULL)
		return pd_err_set(err, cls, PD_SRC_DB, 0,
				  "lost the connection to PostgreSQL during %s: %s; will reconnect",
				  what, msg);
	int code = strcmp(state, "57014") == 0	 ? PD_DB_TIMEOUT
		   : strcmp(state, "23505") == 0 ? PD_DB_UNIQUE
						 : 0;
	return pd_err_set(err, cls, PD_SRC_DB, code, "%s failed (SQLSTATE %s): %s", what, state,
			  msg);
}

static bool is_prepared(struct pd_db *db, const char *name)
{
	for (size_t i = 0; i < db->n_prepared; i++)
		if (strcmp(db->prepared[i], name) == 0)
			return true;
	return false;
}

/* Whether name should be prepared now (not yet, and the cache has room). */
static bool to_prepare(struct pd_db *db, const char *name)
{
	return name != NULL && !is_prepared(db, name) && db->n_prepared < PD_DB_MAX_PREPARED;
}

static void unprepare(struct pd_db *db, const char *name)
{
	for (size_t i = 0; i < db->n_prepared; i++)
		if (strcmp(db->prepared[i], name) == 0) {
			free(db->prepared[i]);
			db->prepared[i] = db->prepared[--db->n_prepared];
			return;
		}
}

/*
 * Pipeline mode.  Inside a transaction, statements whose result nobody reads
 * (an event row, a queued mail, a savepoint) are only sent (pd_db_defer);
 * the next statement that needs its result goes out behind them in the same
 * round trip, and reading its result first checks every deferred one.  The
 * first failure is the error of that statement, whichever it was, so the
 * caller rolls back exactly as if the failing statement had been its own.
 */
static void broken(struct pd_db *db)
{
	/* The protocol state is unknown: drop the connection, pd_db_ensure makes a new one. */
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->pipeline = false;
	db->n_syncs = 0;
	db->unsent = 0;
	db->n_pending = 0;
	db->in_tx = false;
}

static int pipe_drain(struct pd_db *db, PGresult **last_r, bool quiet, struct pd_err *err);

static int pipe_send(struct pd_db *db, const char *name, const char *sql, int nparams,
		     const char *const *values, const int *lengths, const int *formats,
		     int result_format, struct pd_err *err)
{
	/* a mail with hundreds of attachments: collect what is pending first */
	if (db->n_pending + 2 > PD_DB_MAX_PENDING && pipe_drain(db, NULL, false, err) < 0)
		return -1;
	if (!db->pipeline) {
		if (PQenterPipelineMode(db->conn) != 1)
			return pd_db_result_err(db, NULL, "entering pipeline mode", err);
		db->pipeline = true;
	}
	/* what this statement adds to libpq's output buffer, at most: its
	 * messages' headers, names, parameters and, when parsed now, its text */
	size_t bytes = 64 + 8 * (size_t)nparams + (name ? 2 * strlen(name) : 0);
	for (int i = 0; i < nparams; i++)
		if (values[i] != NULL)
			bytes += formats && formats[i] && lengths ? (size_t)lengths[i] : strlen(values[i]);
	if (name == NULL || to_prepare(db, name))
		bytes += strlen(sql);
	if (to_prepare(db, name)) {
		if (PQsendPrepare(db->conn, name, sql, nparams, NULL) != 1)
			return pd_db_result_err(db, NULL, name, err);
		db->prepared[db->n_prepared++] = pd_xstrdup(name);
		db->pending[db->n_pending++] = (struct pending){name, true, db->tag};
	}
	int ok = name != NULL && is_prepared(db, name)
		     ? PQsendQueryPrepared(db->conn, name, nparams, values, lengths, formats,
					   result_format)
		     : PQsendQueryParams(db->conn, sql, nparams, NULL, values, lengths, formats,
					 result_format);
	if (ok != 1)
		return pd_db_result_err(db, NULL, name ? name : "query", err);
	db->pending[db->n_pending++] = (struct pending){name ? name : "statement", false, db->tag};
	/*
	 * Never leave a statement half sent.  libpq writes its buffer out in
	 * 8 KB blocks once it holds 8 KB, so a statement that crosses that mark
	 * goes out in part and the rest waits for the next Sync.  The server
	 * starts a statement's clock at its first message (Parse/Bind) and stops
	 * it only when its Execute completes, so all the client's work meanwhile
	 * - the rest of the batch - would count against statement_timeout (a
	 * 1 MB Subject in an acknowledgement did that).  Whenever what was added
	 * since the last write may have reached half of 8 KB, write it all now:
	 * one write, no round trip; small statements still travel together.
	 */
	db->unsent += bytes;
	if (db->unsent >= PD_DB_FLUSH_AT) {
		if (PQflush(db->conn) != 0)
			return pd_db_result_err(db, NULL, name ? name : "query", err);
		db->unsent = 0;
	}
	return 0;
}

/*
 * Sync and read every pending result.  The last one is handed back in *last_r
 * when last_r is not NULL and everything succeeded.  With quiet, failures are
 * only logged at debug (the caller rolls back anyway).
 */
static int pipe_drain(struct pd_db *db, PGresult **last_r, bool quiet, struct pd_err *err)
{
	struct pd_err first;
	bool failed = false, synced = false;
	size_t idx = 0, n = db->n_pending, syncs = 0;
	int nulls = 0;
	PGresult *last = NULL;

	if (last_r != NULL)
		*last_r = NULL;
	if (!db->pipeline)
		return 0;
	pd_err_clear(&first);
	if (PQpipelineSync(db->conn) != 1) {
		pd_db_result_err(db, NULL, "pipeline sync", err);
		broken(db);
		return -1;
	}
	db->unsent = 0;
	while (!synced) {
		PGresult *r = PQgetResult(db->conn);
		if (r == NULL) {
			if (++nulls > 1)
				break; /* nothing more is coming: the connection is gone */
			continue;
		}
		nulls = 0;
		ExecStatusType st = PQresultStatus(r);
		const struct pending *pe = idx < n ? &db->pending[idx] : NULL;
		if (st == PGRES_PIPELINE_SYNC) {
			/* the sync points sent before (pd_db_sync_point), then ours */
			synced = ++syncs > db->n_syncs;
		} else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			idx++;
			if (idx == n && !failed) {
				last = r; /* the statement that waited for its result */
				continue;
			}
		} else {
			idx++;
			if (st != PGRES_PIPELINE_ABORTED && !failed) {
				db->failed_tag = pe ? pe->tag : db->tag;
				pd_db_result_err(db, r, pe ? pe->what : "statement", &first);
				failed = true;
				if (quiet)
					pd_log_debug("discarded: %s", first.msg);
			}
			if (pe != NULL && pe->prepare)
				unprepare(db, pe->what);
		}
		PQclear(r);
	}
	if (!synced || PQexitPipelineMode(db->conn) != 1) {
		/* the connection went away, or its protocol state is unknown */
		if (synced)
			pd_db_result_err(db, NULL, "leaving pipeline mode", &first);
		else if (!failed)
			pd_db_result_err(db, NULL, "pipeline", &first);
		first.cls = PD_ERR_TEMP;
		PQclear(last);
		broken(db);
		*err = first;
		return -1;
	}
	db->pipeline = false;
	db->n_syncs = 0;
	db->n_pending = 0;
	if (failed) {
		PQclear(last);
		if (quiet)
			return 0;
		*err = first;
		return -1;
	}
	if (last_r != NULL)
		*last_r = last;
	else
		PQclear(last);
	return 0;
}

/* pd_db_query_bin with the result in result_format (0 text, 1 binary). */
static PGresult *query(struct pd_db *db, const char *name, const char *sql, int nparams,
		       const char *const *values, const int *lengths, const int *formats,
		       int result_format, struct pd_err *err)
{
	PGresult *res;

	if (db->conn == NULL) {
		pd_err_set(err, PD_ERR_TEMP, PD_SRC_DB, 0, "not connected to PostgreSQL");
		return NULL;
	}
	if (db->pipeline) {
		/* behind the deferred statements, in the same round trip */
		if (pipe_send(db, name, sql, nparams, values, lengths, formats, result_format,
			      err) < 0 ||
		    pipe_drain(db, &res, false, err) < 0)
			return NULL;
		if (res == NULL)
			pd_err_set(err, PD_ERR_TEMP, PD_SRC_DB, 0, "%s: no result from PostgreSQL",
				   name ? name : "query");
		return res;
	}
	if (to_prepare(db, name)) {
		res = PQprepare(db->conn, name, sql, nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pd_db_result_err(db, res, name, err);
			PQclear(res);
			return NULL;
		}
		PQclear(res);
		db->prepared[db->n_prepared++] = pd_xstrdup(name);
	}
	if (name != NULL && is_prepared(db, name))
		res = PQexecPrepared(db->conn, name, nparams, values, lengths, formats,
				     result_format);
	else
		res = PQexecParams(db->conn, sql, nparams, NULL, values, lengths, formats,
				   result_format);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pd_db_result_err(db, res, name ? name : "query", err);
		PQclear(res);
		return NULL;
	}
	return res;
}

PGresult *pd_db_query_bin(struct pd_db *db, const char *name, const char *sql, int nparams,
			  const char *const *values, const int *lengths, const int *formats,
			  struct pd_err *err)
{
	return query(db, name, sql, nparams, values, lengths, formats, 0, err);
}

PGresult *pd_db_query_bin_result(struct pd_db *db, const char *name, const char *sql,
				 int nparams, const char *const *values, const int *lengths,
				 const int *formats, struct pd_err *err)
{
	return query(db, name, sql, nparams, values, lengths, formats, 1, err);
}

PGresult *pd_db_query(struct pd_db *db, const char *name, const char *sql, int nparams,
		      const char *const *values, struct pd_err *err)
{
	return pd_db_query_bin(db, name, sql, nparams, values, NULL, NULL, err);
}

int pd_db_defer_bin(struct pd_db *db, const char *name, const char *sql, int nparams,
		    const char *const *values, const int *lengths, const int *formats,
		    struct pd_err *err)
{
	if (db->conn == NULL)
		return pd_err_set(err, PD_ERR_TEMP, PD_SRC_DB, 0, "not connected to PostgreSQL");
	if (!db->in_tx) {
		/* outside a transaction nothing would send it later: run it now */
		PGresult *res = pd_db_query_bin(db, name, sql, nparams, values, lengths, formats,
						err);
		if (res == NULL)
			return -1;
		PQclear(res);
		return 0;
	}
	return pipe_send(db, name, sql, nparams, values, lengths, formats, 0, err);
}

int pd_db_defer(struct pd_db *db, const char *name, const char *sql, int nparams,
		const char *const *values, struct pd_err *err)
{
	return pd_db_defer_bin(db, name, sql, nparams, values, NULL, NULL, err);
}

void pd_db_set_tag(struct pd_db *db, int tag)
{
	db->tag = tag;
	db->failed_tag = -1;
}

int pd_db_failed_tag(const struct pd_db *db)
{
	return db->failed_tag;
}

int pd_db_sync(struct pd_db *db, struct pd_err *err)
{
	return pipe_drain(db, NULL, false, err);
}

int pd_db_sync_point(struct pd_db *db, struct pd_err *err)
{
	if (db->conn == NULL || !db->pipeline || db->n_pending == 0)
		return 0;
	if (PQpipelineSync(db->conn) != 1) {
		pd_db_result_err(db, NULL, "pipeline sync", err);
		broken(db);
		return -1;
	}
	db->n_syncs++;
	db->unsent = 0; /* PQpipelineSync writes the buffer */
	return 0;
}

void pd_db_discard(struct pd_db *db)
{
	struct pd_err e;

	pd_err_clear(&e);
	if (db->conn != NULL)
		pipe_drain(db, NULL, true, &e);
}

int pd_db_exec(struct pd_db *db, const char *sql, struct pd_err *err)
{
	PGresult *res;

	if (db->conn == NULL)
		return pd_err_set(err, PD_ERR_TEMP, PD_SRC_DB, 0, "not connected to PostgreSQL");
	if (db->pipeline) {
		/* one statement, behind the deferred ones */
		if (pipe_send(db, NULL, sql, 0, NULL, NULL, NULL, 0, err) < 0 ||
		    pipe_drain(db, NULL, false, err) < 0)
			return -1;
		return 0;
	}
	res = PQexec(db->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char what[64];
		snprintf(what, sizeof(what), "%.40s", sql);
		pd_db_result_err(db, res, what, err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

int pd_db_begin(struct pd_db *db, struct pd_err *err)
{
	if (pd_db_exec(db, "BEGIN", err) < 0)
		return -1;
	db->in_tx = true;
	return 0;
}

int pd_db_commit(struct pd_db *db, struct pd_err *err)
{
	int r = pd_db_exec(db, "COMMIT", err);

	if (r < 0)
		pd_db_rollback(db); /* a deferred statement failed: COMMIT never ran */
	db->in_tx = false;
	return r;
}

void pd_db_rollback(struct pd_db *db)
{
	pd_db_discard(db);
	db->in_tx = false;
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK) {
		PGresult *res = PQexec(db->conn, "ROLLBACK");
		PQclear(res);
	}
}

unsigned pd_db_generation(const struct pd_db *db)
{
	return db->generation;
}

/* Two 32-bit keys: a fixed class for postdesk, a hash of the name. */
#define LOCK_SQL(fn) "SELECT " fn "(7140012, hashtext($1))"

int pd_db_try_lock(struct pd_db *db, const char *key, struct pd_err *err)
{
	const char *v[1] = {key};
	PGresult *res = pd_db_query(db, "pd_try_lock", LOCK_SQL("pg_try_advisory_lock"), 1, v, err);
	int got;

	if (res == NULL)
		return -1;
	got = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return got;
}

void pd_db_unlock(struct pd_db *db, const char *key)
{
	const char *v[1] = {key};
	struct pd_err err;
	PGresult *res = pd_db_query(db, "pd_unlock", LOCK_SQL("pg_advisory_unlock"), 1, v, &err);

	PQclear(res);
}

/* ------------------------------------------------------------ array parameters */

/* The binary array header: ndim, has-null flag, element type, then the one
 * dimension's length and lower bound; each element is its length (-1 for
 * NULL) and its bytes. */
#define ARRAY_HEADER 20

static void put_u32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

void pd_db_array_init(struct pd_db_array *a, unsigned elem_oid)
{
	char h[ARRAY_HEADER];

	pd_buf_init(&a->b);
	a->n = 0;
	a->has_null = false;
	put_u32(h, 1);
	put_u32(h + 4, 0);
	put_u32(h + 8, elem_oid);
	put_u32(h + 12, 0); /* the length, set by pd_db_array_value */
	put_u32(h + 16, 1);
	pd_buf_append(&a->b, h, sizeof(h));
}

void pd_db_array_add(struct pd_db_array *a, const void *data, size_t len)
{
	char l[4];

	put_u32(l, data == NULL ? UINT32_MAX : (uint32_t)len);
	pd_buf_append(&a->b, l, sizeof(l));
	if (data != NULL)
		pd_buf_append(&a->b, data, len);
	else
		a->has_null = true;
	a->n++;
}

void pd_db_array_add_str(struct pd_db_array *a, const char *s)
{
	pd_db_array_add(a, s, s != NULL ? strlen(s) : 0);
}

void pd_db_array_add_int8(struct pd_db_array *a, int64_t v)
{
	char b[8];

	put_u32(b, (uint32_t)((uint64_t)v >> 32));
	put_u32(b + 4, (uint32_t)v);
	pd_db_array_add(a, b, sizeof(b));
}

const char *pd_db_array_value(struct pd_db_array *a, int *len)
{
	if (a->n == 0) {
		put_u32(a->b.data, 0); /* no dimension at all: '{}' */
		a->b.len = 12;
	} else {
		put_u32(a->b.data + 4, a->has_null ? 1 : 0);
		put_u32(a->b.data + 12, (uint32_t)a->n);
	}
	*len = (int)a->b.len;
	return a->b.data;
}

void pd_db_array_free(struct pd_db_array *a)
{
	pd_buf_free(&a->b);
}

char *pd_db_text_array(size_t n, const char *(*get)(const void *ctx, size_t i), const void *ctx)
{
	struct pd_buf b;

	pd_buf_init(&b);
	pd_buf_append_char(&b, '{');
	for (size_t i = 0; i < n; i++) {
		const char *s = get(ctx, i);
		if (i)
			pd_buf_append_char(&b, ',');
		pd_buf_append_char(&b, '"');
		for (; s != NULL && *s; s++) {
			if (*s == '"' || *s == '\\')
				pd_buf_append_char(&b, '\\');
			pd_buf_append_char(&b, *s);
		}
		pd_buf_append_char(&b, '"');
	}
	pd_buf_append_char(&b, '}');
	return pd_buf_steal(&b, NULL);
}

const char *pd_db_strv_get(const void *ctx, size_t i)
{
	return ((const char *const *)ctx)[i];
}
