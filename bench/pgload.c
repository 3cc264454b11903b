/*
 * bench/pgload.c - how fast PostgreSQL takes the rows postdesk writes per mail.
 *
 *   pgload --conninfo STR --maildir DIR [--each | --set | --copy] [--batch N]
 *          [--mailbox NAME]
 *
 * Reads every file of the Maildir folder DIR (cur/ and new/, in delivery
 * order) into memory first, takes from each the few headers postdesk keeps
 * (Message-ID, In-Reply-To, References, From, Subject), the body as text
 * (bytes that are not UTF-8 replaced, at most 8 KB) and the SHA-256 of the
 * raw mail, and then, with the clock running, stores each mail with ONE
 * prepared statement, as postdesk would for the same mail:
 *   - a reply whose In-Reply-To names a stored message goes on that ticket,
 *     otherwise a ticket row and its requester participant row;
 *   - the message row (dedupe key Message-ID + hash), its raw bytes as a
 *     binary parameter in message_raw, and the audit event row;
 *   - for a new ticket, its acknowledgement queued in the outbox.
 * All mails in one transaction (default), or with --each one transaction per
 * mail (BEGIN, statement, COMMIT: the round trips of a per-mail commit).
 *
 * The set-based limits of the same rows, one transaction per batch of N
 * mails (default 100), the ticket numbers of a batch taken from the sequence
 * in one call and the parents of its replies looked up in one query (a reply
 * to a mail of the same batch goes on that mail's ticket):
 *   --set   one INSERT ... SELECT FROM unnest($1::text[], ...) each for the
 *           tickets with their requesters, the messages (RETURNING their
 *           ids), message_raw, events and outbox (arrays as binary
 *           parameters): 7 round trips a batch with the two above;
 *   --copy  COPY FROM STDIN (text format) into each of the six tables, the
 *           message ids from their sequence too.  COPY has no ON CONFLICT:
 *           a duplicate fails the batch (the generated mail has none).
 * The database must be fresh and migrated (postdesk migrate).  Prints:
 *   mails=N seconds=S mails_per_s=R mode=one|each|set|copy [batch=N]
 *   first_tenth=R1 last_tenth=R10 backend_cpu_ms=B client_cpu_ms=C
 * (B and C: the CPU time its backend and pgload itself spent with the clock
 * running, B read from /proc: the server must run on this machine; the
 * rates over the first and the last tenth of the mails: a falling rate
 * means work that grows with what is already stored).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <libpq-fe.h>

#define BODY_MAX 8192
#define NPARAMS 13

/* Type OIDs of the parameters (pg_type.h is not a client header). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25
#define OID_TEXT_ARRAY 1009

struct mail {
	char *raw;
	size_t len;
	char *msgid, *irt, *refs, *from_name, *from_addr, *subject, *body;
	unsigned char hash[32];
	char uid[24], size[24];
};

static const char SQL[] =
    "WITH p AS (SELECT ticket_id FROM messages"
    "            WHERE message_id = nullif($2, '') ORDER BY id LIMIT 1),"
    " t AS (INSERT INTO tickets (subject, requester_address, requester_name, mailbox)"
    "  SELECT $6, lower($5), $4, $11 WHERE NOT EXISTS (SELECT 1 FROM p) RETURNING id),"
    " pa AS (INSERT INTO participants (ticket_id, address, name, role)"
    "  SELECT id, lower($5), $4, 'requester' FROM t),"
    " tid AS (SELECT id FROM t UNION ALL SELECT ticket_id FROM p),"
    " m AS (INSERT INTO messages (ticket_id, direction, kind, message_id, content_hash,"
    "    in_reply_to, refs, from_name, from_address, subject, body_text, raw_size, mailbox,"
    "    uidvalidity, uid)"
    "  SELECT id, 'in', 'customer', nullif($1, ''), $9, nullif($2, ''), $3, $4, $5, $6, $7,"
    "    $10, $11, 1, $12 FROM tid"
    "  ON CONFLICT ((coalesce(message_id, '')), content_hash) DO NOTHING"
    "  RETURNING id, ticket_id),"
    " r AS (INSERT INTO message_raw (message_id, raw) SELECT id, $8 FROM m),"
    " e AS (INSERT INTO events (ticket_id, message_id, actor, kind, detail)"
    "  SELECT ticket_id, id, 'mailbox:' || $11,"
    "    CASE WHEN EXISTS (SELECT 1 FROM t) THEN 'ticket.created' ELSE 'message.threaded' END,"
    "    jsonb_build_object('mailbox', $11, 'uid', $12, 'message_id', nullif($1, ''),"
    "                       'from', $5)"
    "  FROM m),"
    " o AS (INSERT INTO outbox (ticket_id, kind, message_id, mail_from, rcpt_to, subject, body,"
    "    raw, to_address, automatic)"
    "  SELECT id, 'ack', 'ack-' || id || '@bench.example.com', 'support@example.com',"
    "    ARRAY[lower($5)], '[Support #' || id || '] ' || $6, $13, convert_to($13, 'UTF8'),"
    "    lower($5), true FROM t)"
    "SELECT id FROM m";

static const char ACK[] =
    "Hello,\n\nthank you for your message. We have opened a ticket for it and will answer "
    "as soon as possible; please keep the ticket number in the subject when you write "
    "again.\n\nThese articles may already help:\n  - How to reset your password\n"
    "  - Invoices and refunds\n\nExample Support\n";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * CPU time (user + system, ms) of this connection's backend, read from
 * /proc (the server runs on this machine), and of this process: what the
 * rows cost the server beside what they cost the client.  -1 when /proc
 * cannot tell.
 */
static double backend_cpu_ms(PGconn *c)
{
	char path[64], line[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	long hz = sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof(path), "/proc/%d/stat", PQbackendPID(c));
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* after "pid (comm) ": state, then utime and stime are the 12th and 13th */
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2 ||
	    hz <= 0)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)hz;
}

static double self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "pgload: out of memory\n");
		exit(1);
	}
	return p;
}

/* Copy of s[0..n) keeping valid UTF-8 and turning other bytes (and NUL) into '?'. */
static char *utf8_clean(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 && c >= 0xC2 ? 2 : (c & 0xF0) == 0xE0 ? 3
			 : (c & 0xF8) == 0xF0 && c <= 0xF4			? 4
										: 0;
		bool ok = k > 0 && i + k <= n && c != 0;

		for (size_t j = 1; ok && j < k; j++)
			ok = (p[i + j] & 0xC0) == 0x80;
		if (ok && k == 3)
			ok = !(c == 0xE0 && p[i + 1] < 0xA0) && !(c == 0xED && p[i + 1] >= 0xA0);
		if (ok && k == 4)
			ok = !(c == 0xF0 && p[i + 1] < 0x90) && !(c == 0xF4 && p[i + 1] >= 0x90);
		if (!ok) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, p + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

/* The unfolded value of header name in the header block, or "" (malloc'd). */
static char *header(const char *raw, size_t hlen, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < hlen;) {
		const char *line = raw + i;
		const char *eol = memchr(line, '\n', hlen - i);
		size_t len = eol ? (size_t)(eol - line) : hlen - i;

		if (len > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			/* the value runs over continuation lines */
			size_t end = i + len + 1;
			while (end < hlen && (raw[end] == ' ' || raw[end] == '\t')) {
				const char *e = memchr(raw + end, '\n', hlen - end);
				end = e ? (size_t)(e - raw) + 1 : hlen;
			}
			size_t vs = i + nl + 1, o = 0;
			char *v = xmalloc(end - vs + 1);
			for (size_t k = vs; k < end && k < hlen; k++)
				if (raw[k] != '\r' && raw[k] != '\n')
					v[o++] = raw[k];
			v[o] = '\0';
			char *clean = utf8_clean(v, o), *b = clean, *e2;
			free(v);
			while (*b == ' ' || *b == '\t')
				b++;
			e2 = b + strlen(b);
			while (e2 > b && (e2[-1] == ' ' || e2[-1] == '\t'))
				*--e2 = '\0';
			memmove(clean, b, strlen(b) + 1);
			return clean;
		}
		i += len + 1;
	}
	char *e = xmalloc(1);
	*e = '\0';
	return e;
}

/* "<id>" -> "id" in place. */
static char *strip_angles(char *s)
{
	char *a = strchr(s, '<'), *b;

	if (a == NULL || (b = strchr(a, '>')) == NULL)
		return s;
	*b = '\0';
	memmove(s, a + 1, (size_t)(b - a));
	return s;
}

/* A text[] literal of the <...> ids in a References value. */
static char *refs_array(const char *v)
{
	char *out = xmalloc(strlen(v) * 2 + 3);
	size_t o = 0;
	bool first = true;

	out[o++] = '{';
	for (const char *p = strchr(v, '<'); p != NULL; p = strchr(p, '<')) {
		const char *q = strchr(p, '>');
		if (q == NULL)
			break;
		if (!first)
			out[o++] = ',';
		first = false;
		out[o++] = '"';
		for (const char *c = p + 1; c < q; c++) {
			if (*c == '"' || *c == '\\')
				out[o++] = '\\';
			out[o++] = *c;
		}
		out[o++] = '"';
		p = q + 1;
	}
	out[o++] = '}';
	out[o] = '\0';
	return out;
}

static int parse_mail(struct mail *m, unsigned uid)
{
	const char *sep = memmem(m->raw, m->len, "\n\n", 2);
	const char *sep2 = memmem(m->raw, m->len, "\r\n\r\n", 4);
	size_t hlen, bstart;
	char *from;

	if (sep2 != NULL && (sep == NULL || sep2 < sep)) {
		hlen = (size_t)(sep2 - m->raw) + 2;
		bstart = hlen + 2;
	} else if (sep != NULL) {
		hlen = (size_t)(sep - m->raw) + 1;
		bstart = hlen + 1;
	} else {
		hlen = bstart = m->len;
	}
	m->msgid = strip_angles(header(m->raw, hlen, "Message-ID"));
	m->irt = strip_angles(header(m->raw, hlen, "In-Reply-To"));
	char *refs = header(m->raw, hlen, "References");
	m->refs = refs_array(refs);
	free(refs);
	m->subject = header(m->raw, hlen, "Subject");
	from = header(m->raw, hlen, "From");
	char *lt = strchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt != NULL && gt != NULL) {
		m->from_addr = strndup(lt + 1, (size_t)(gt - lt - 1));
		while (lt > from && (lt[-1] == ' ' || lt[-1] == '"'))
			lt--;
		char *nb = from;
		while (*nb == '"')
			nb++;
		m->from_name = strndup(nb, lt > nb ? (size_t)(lt - nb) : 0);
	} else {
		m->from_addr = strdup(from);
		m->from_name = strdup("");
	}
	free(from);
	if (m->from_addr == NULL || m->from_name == NULL) {
		fprintf(stderr, "pgload: out of memory\n");
		exit(1);
	}
	size_t blen = m->len - bstart;
	m->body = utf8_clean(m->raw + bstart, blen < BODY_MAX ? blen : BODY_MAX);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, m->raw, m->len, m->hash) < 0) {
		fprintf(stderr, "pgload: SHA-256 failed\n");
		return -1;
	}
	snprintf(m->uid, sizeof(m->uid), "%u", uid);
	snprintf(m->size, sizeof(m->size), "%zu", m->len);
	return 0;
}

static void mail_free(struct mail *m)
{
	free(m->raw);
	free(m->msgid);
	free(m->irt);
	free(m->refs);
	free(m->from_name);
	free(m->from_addr);
	free(m->subject);
	free(m->body);
}

static int cmp_name(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* Paths of the mails in DIR/cur and DIR/new, in delivery order (Maildir
 * names start with the delivery time and a sequence number). */
static char **list_maildir(const char *root, size_t *n_r)
{
	static const char *subs[] = {"cur", "new"};
	char **v = NULL;
	size_t n = 0, cap = 0;

	for (size_t s = 0; s < 2; s++) {
		char path[4096];
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", root, subs[s]);
		d = opendir(path);
		if (d == NULL) {
			if (errno == ENOENT)
				continue;
			fprintf(stderr, "pgload: cannot read %s: %s\n", path, strerror(errno));
			exit(1);
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				v = realloc(v, cap * sizeof(*v));
				if (v == NULL) {
					fprintf(stderr, "pgload: out of memory\n");
					exit(1);
				}
			}
			if (asprintf(&v[n], "%s/%s", path, de->d_name) < 0) {
				fprintf(stderr, "pgload: out of memory\n");
				exit(1);
			}
			n++;
		}
		closedir(d);
	}
	/* order by file name, not by folder */
	qsort(v, n, sizeof(*v), cmp_name);
	*n_r = n;
	return v;
}

static int read_file(const char *path, struct mail *m)
{
	FILE *f = fopen(path, "rb");
	long sz;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "pgload: cannot read %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	m->raw = xmalloc((size_t)sz + 1);
	m->len = fread(m->raw, 1, (size_t)sz, f);
	m->raw[m->len] = '\0';
	fclose(f);
	return 0;
}

/* ------------------------------------------------------------ set-based */

#define OID_BOOL 16

/* A growable byte buffer. */
struct sbuf {
	char *d;
	size_t len, cap;
};

static void sb_put(struct sbuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->d = realloc(b->d, b->cap);
		if (b->d == NULL) {
			fprintf(stderr, "pgload: out of memory\n");
			exit(1);
		}
	}
	memcpy(b->d + b->len, p, n);
	b->len += n;
	b->d[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_u32(struct sbuf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};
	sb_put(b, x, 4);
}

/* A one-dimensional array parameter in binary format: ndim, has-null,
 * element type, length and lower bound, then each element's length and
 * bytes. */
struct arr {
	struct sbuf b;
	uint32_t n;
};

static void arr_init(struct arr *a, uint32_t oid)
{
	memset(a, 0, sizeof(*a));
	sb_u32(&a->b, 1);
	sb_u32(&a->b, 0);
	sb_u32(&a->b, oid);
	sb_u32(&a->b, 0); /* the length, set by arr_done */
	sb_u32(&a->b, 1);
}

static void arr_add(struct arr *a, const void *p, size_t n)
{
	sb_u32(&a->b, (uint32_t)n);
	sb_put(&a->b, p, n);
	a->n++;
}

static void arr_str(struct arr *a, const char *s)
{
	arr_add(a, s, strlen(s));
}

static void arr_i64(struct arr *a, int64_t v)
{
	struct sbuf t = {0};
	sb_u32(&t, (uint32_t)((uint64_t)v >> 32));
	sb_u32(&t, (uint32_t)v);
	arr_add(a, t.d, 8);
	free(t.d);
}

static void arr_bool(struct arr *a, bool v)
{
	char c = v ? 1 : 0;
	arr_add(a, &c, 1);
}

static const char *arr_done(struct arr *a, int *len)
{
	if (a->n == 0) {
		memset(a->b.d, 0, 4); /* ndim 0: '{}' */
		a->b.len = 12;
	} else {
		unsigned char *p = (unsigned char *)a->b.d + 12;
		p[0] = (unsigned char)(a->n >> 24);
		p[1] = (unsigned char)(a->n >> 16);
		p[2] = (unsigned char)(a->n >> 8);
		p[3] = (unsigned char)a->n;
	}
	*len = (int)a->b.len;
	return a->b.d;
}

static bool prepare(PGconn *c, const char *name, const char *sql)
{
	PGresult *r = PQprepare(c, name, sql, 0, NULL);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "pgload: PREPARE %s failed: %s", name, PQerrorMessage(c));
	PQclear(r);
	return ok;
}

/* Run prepared statement name with n array parameters (all binary, or text
 * where len is 0); the result, or NULL after saying why. */
static PGresult *run_arrays(PGconn *c, const char *name, int n, struct arr *a,
			    const char *const *text)
{
	const char *v[16];
	int len[16], fmt[16];

	for (int k = 0; k < n; k++) {
		if (text != NULL && text[k] != NULL) {
			v[k] = text[k];
			len[k] = fmt[k] = 0;
		} else {
			v[k] = arr_done(&a[k], &len[k]);
			fmt[k] = 1;
		}
	}
	PGresult *r = PQexecPrepared(c, name, n, v, len, fmt, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fprintf(stderr, "pgload: %s failed: %s", name, PQerrorMessage(c));
		PQclear(r);
		return NULL;
	}
	return r;
}

static void arrs_free(struct arr *a, int n)
{
	for (int k = 0; k < n; k++)
		free(a[k].b.d);
}

static const char SQL_PARENTS[] =
    "SELECT DISTINCT ON (message_id) message_id, ticket_id FROM messages"
    " WHERE message_id = ANY($1::text[]) ORDER BY message_id, id";
static const char SQL_NEXTVAL[] =
    "SELECT nextval($1::regclass) FROM generate_series(1, $2::int)";
static const char SQL_SET_TICKETS[] =
    "WITH t AS (INSERT INTO tickets (id, subject, requester_address, requester_name, mailbox)"
    "  SELECT id, subject, lower(addr), name, $5"
    "  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(id, subject, addr, name)"
    "  RETURNING id, requester_address, requester_name)"
    "INSERT INTO participants (ticket_id, address, name, role)"
    " SELECT id, requester_address, requester_name, 'requester' FROM t";
static const char SQL_SET_MESSAGES[] =
    "INSERT INTO messages (ticket_id, direction, kind, message_id, content_hash, in_reply_to,"
    "  refs, from_name, from_address, subject, body_text, raw_size, mailbox, uidvalidity, uid)"
    " SELECT ticket, 'in', 'customer', nullif(msgid, ''), hash, nullif(irt, ''), refs::text[],"
    "  name, addr, subject, body, size, $12, 1, uid"
    " FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[],"
    "             $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[])"
    "  AS u(ticket, msgid, hash, irt, refs, name, addr, subject, body, size, uid)"
    " ON CONFLICT ((coalesce(message_id, '')), content_hash) DO NOTHING"
    " RETURNING id, uid";
static const char SQL_SET_RAW[] =
    "INSERT INTO message_raw (message_id, raw) SELECT * FROM unnest($1::bigint[], $2::bytea[])";
static const char SQL_SET_EVENTS[] =
    "INSERT INTO events (ticket_id, message_id, actor, kind, detail)"
    " SELECT ticket, id, 'mailbox:' || $7,"
    "  CASE WHEN created THEN 'ticket.created' ELSE 'message.threaded' END,"
    "  jsonb_build_object('mailbox', $7, 'uid', uid, 'message_id', nullif(msgid, ''),"
    "                     'from', addr)"
    " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],"
    "             $6::boolean[]) AS u(ticket, id, uid, msgid, addr, created)";
static const char SQL_SET_OUTBOX[] =
    "INSERT INTO outbox (ticket_id, kind, message_id, mail_from, rcpt_to, subject, body, raw,"
    "  to_address, automatic)"
    " SELECT id, 'ack', 'ack-' || id || '@bench.example.com', 'support@example.com',"
    "  ARRAY[lower(addr)], '[Support #' || id || '] ' || subject, $4, convert_to($4, 'UTF8'),"
    "  lower(addr), true"
    " FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, addr, subject)";

/* A batch's mails, what the set-based modes work out for each. */
struct batch_mail {
	struct mail *m;
	int64_t ticket; /* its ticket (new or its parent's) */
	int64_t id;     /* its message id (0: not stored) */
	int parent;     /* in the batch, -1: none */
	bool created;   /* it opened its ticket */
};

/* n values of sequence seq in one call. */
static bool nextvals(PGconn *c, const char *seq, int n, int64_t *out)
{
	char cnt[16];
	const char *v[2] = {seq, cnt};

	if (n == 0)
		return true;
	snprintf(cnt, sizeof(cnt), "%d", n);
	PGresult *r = PQexecPrepared(c, "pgload_nextval", 2, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != n) {
		fprintf(stderr, "pgload: nextval(%s) failed: %s", seq, PQerrorMessage(c));
		PQclear(r);
		return false;
	}
	for (int i = 0; i < n; i++)
		out[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	PQclear(r);
	return true;
}

/* Which ticket each mail of the batch goes on: a parent stored before (one
 * query), a parent earlier in the batch, or a new ticket (numbers from the
 * sequence in one call). */
static bool assign_tickets(PGconn *c, const char *ticket_seq, struct batch_mail *b, int n,
			   int *n_new)
{
	struct arr a;
	PGresult *r;
	int64_t *ids = xmalloc((size_t)n * sizeof(*ids));
	int k = 0;

	arr_init(&a, OID_TEXT);
	for (int i = 0; i < n; i++)
		if (b[i].m->irt[0] != '\0')
			arr_str(&a, b[i].m->irt);
	r = run_arrays(c, "pgload_parents", 1, &a, NULL);
	arrs_free(&a, 1);
	if (r == NULL) {
		free(ids);
		return false;
	}
	for (int i = 0; i < n; i++) {
		b[i].ticket = 0;
		b[i].parent = -1;
		b[i].id = 0;
		if (b[i].m->irt[0] == '\0')
			continue;
		for (int j = 0; j < PQntuples(r) && b[i].ticket == 0; j++)
			if (strcmp(PQgetvalue(r, j, 0), b[i].m->irt) == 0)
				b[i].ticket = strtoll(PQgetvalue(r, j, 1), NULL, 10);
		for (int j = 0; j < i && b[i].ticket == 0 && b[i].parent < 0; j++)
			if (strcmp(b[j].m->msgid, b[i].m->irt) == 0)
				b[i].parent = j;
	}
	PQclear(r);
	for (int i = 0; i < n; i++)
		k += b[i].ticket == 0 && b[i].parent < 0;
	if (!nextvals(c, ticket_seq, k, ids)) {
		free(ids);
		return false;
	}
	k = 0;
	for (int i = 0; i < n; i++) {
		b[i].created = b[i].ticket == 0 && b[i].parent < 0;
		if (b[i].created)
			b[i].ticket = ids[k++];
		else if (b[i].parent >= 0)
			b[i].ticket = b[b[i].parent].ticket;
	}
	*n_new = k;
	free(ids);
	return true;
}

/* One batch with INSERT ... SELECT FROM unnest(...); returns the mails
 * stored, or -1. */
static int store_set(PGconn *c, const char *ticket_seq, struct batch_mail *b, int n,
		     const char *mailbox)
{
	struct arr a[11];
	const char *text[12] = {0};
	PGresult *r;
	int n_new, stored;

	if (!assign_tickets(c, ticket_seq, b, n, &n_new))
		return -1;
	/* the new tickets and their requesters */
	arr_init(&a[0], OID_INT8);
	for (int k = 1; k < 4; k++)
		arr_init(&a[k], OID_TEXT);
	for (int i = 0; i < n; i++) {
		if (!b[i].created)
			continue;
		arr_i64(&a[0], b[i].ticket);
		arr_str(&a[1], b[i].m->subject);
		arr_str(&a[2], b[i].m->from_addr);
		arr_str(&a[3], b[i].m->from_name);
	}
	text[4] = mailbox;
	r = run_arrays(c, "pgload_set_tickets", 5, a, text);
	arrs_free(a, 4);
	if (r == NULL)
		return -1;
	PQclear(r);
	/* the messages: their ids come back */
	static const uint32_t moid[11] = {OID_INT8, OID_TEXT, OID_BYTEA, OID_TEXT,
					  OID_TEXT, OID_TEXT, OID_TEXT,  OID_TEXT,
					  OID_TEXT, OID_INT8, OID_INT8};
	for (int k = 0; k < 11; k++)
		arr_init(&a[k], moid[k]);
	for (int i = 0; i < n; i++) {
		struct mail *m = b[i].m;
		arr_i64(&a[0], b[i].ticket);
		arr_str(&a[1], m->msgid);
		arr_add(&a[2], m->hash, 32);
		arr_str(&a[3], m->irt);
		arr_str(&a[4], m->refs);
		arr_str(&a[5], m->from_name);
		arr_str(&a[6], m->from_addr);
		arr_str(&a[7], m->subject);
		arr_str(&a[8], m->body);
		arr_i64(&a[9], (int64_t)m->len);
		arr_i64(&a[10], strtoll(m->uid, NULL, 10));
	}
	memset(text, 0, sizeof(text));
	text[11] = mailbox;
	r = run_arrays(c, "pgload_set_messages", 12, a, text);
	arrs_free(a, 11);
	if (r == NULL)
		return -1;
	stored = PQntuples(r);
	for (int j = 0; j < stored; j++) {
		long long uid = strtoll(PQgetvalue(r, j, 1), NULL, 10);
		for (int i = 0; i < n; i++)
			if (strtoll(b[i].m->uid, NULL, 10) == uid)
				b[i].id = strtoll(PQgetvalue(r, j, 0), NULL, 10);
	}
	PQclear(r);
	/* their raw bytes and events */
	arr_init(&a[0], OID_INT8);
	arr_init(&a[1], OID_BYTEA);
	for (int i = 0; i < n; i++) {
		if (b[i].id == 0)
			continue;
		arr_i64(&a[0], b[i].id);
		arr_add(&a[1], b[i].m->raw, b[i].m->len);
	}
	r = run_arrays(c, "pgload_set_raw", 2, a, NULL);
	arrs_free(a, 2);
	if (r == NULL)
		return -1;
	PQclear(r);
	static const uint32_t eoid[6] = {OID_INT8, OID_INT8, OID_INT8, OID_TEXT, OID_TEXT, OID_BOOL};
	for (int k = 0; k < 6; k++)
		arr_init(&a[k], eoid[k]);
	for (int i = 0; i < n; i++) {
		if (b[i].id == 0)
			continue;
		arr_i64(&a[0], b[i].ticket);
		arr_i64(&a[1], b[i].id);
		arr_i64(&a[2], strtoll(b[i].m->uid, NULL, 10));
		arr_str(&a[3], b[i].m->msgid);
		arr_str(&a[4], b[i].m->from_addr);
		arr_bool(&a[5], b[i].created);
	}
	memset(text, 0, sizeof(text));
	text[6] = mailbox;
	r = run_arrays(c, "pgload_set_events", 7, a, text);
	arrs_free(a, 6);
	if (r == NULL)
		return -1;
	PQclear(r);
	/* the acknowledgements of the new tickets */
	arr_init(&a[0], OID_INT8);
	arr_init(&a[1], OID_TEXT);
	arr_init(&a[2], OID_TEXT);
	for (int i = 0; i < n; i++) {
		if (!b[i].created)
			continue;
		arr_i64(&a[0], b[i].ticket);
		arr_str(&a[1], b[i].m->from_addr);
		arr_str(&a[2], b[i].m->subject);
	}
	memset(text, 0, sizeof(text));
	text[3] = ACK;
	r = run_arrays(c, "pgload_set_outbox", 4, a, text);
	arrs_free(a, 3);
	if (r == NULL)
		return -1;
	PQclear(r);
	(void)n_new;
	return stored;
}

/* ------------------------------------------------------------ COPY */

/* s as a COPY text field. */
static void cp_text(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': sb_str(b, "\\\\"); break;
		case '\n': sb_str(b, "\\n"); break;
		case '\r': sb_str(b, "\\r"); break;
		case '\t': sb_str(b, "\\t"); break;
		default: sb_put(b, s, 1);
		}
	}
}

/* s lower-cased (ASCII: the addresses here) as a COPY text field. */
static void cp_lower(struct sbuf *b, const char *s)
{
	char *l = strdup(s);

	if (l == NULL) {
		fprintf(stderr, "pgload: out of memory\n");
		exit(1);
	}
	for (char *p = l; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	cp_text(b, l);
	free(l);
}

/* Bytes as a bytea COPY text field (\x hex, its backslash escaped). */
static void cp_bytea(struct sbuf *b, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = p;
	char *h = xmalloc(n * 2 + 1);

	for (size_t i = 0; i < n; i++) {
		h[2 * i] = hex[u[i] >> 4];
		h[2 * i + 1] = hex[u[i] & 15];
	}
	sb_str(b, "\\\\x");
	sb_put(b, h, n * 2);
	free(h);
}

/* s as a JSON string (with its quotes), into a plain buffer. */
static void json_str(struct sbuf *b, const char *s)
{
	sb_str(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			sb_put(b, "\\", 1);
			sb_put(b, s, 1);
		} else if (ch < 0x20) {
			char u[8];
			snprintf(u, sizeof(u), "\\u%04x", ch);
			sb_str(b, u);
		} else {
			sb_put(b, s, 1);
		}
	}
	sb_str(b, "\"");
}

static void cp_i64(struct sbuf *b, int64_t v)
{
	char n[24];
	snprintf(n, sizeof(n), "%lld", (long long)v);
	sb_str(b, n);
}

/* COPY rows (text format) with statement sql. */
static bool copy_in(PGconn *c, const char *sql, const struct sbuf *rows)
{
	PGresult *r = PQexec(c, sql);
	bool ok;

	if (PQresultStatus(r) != PGRES_COPY_IN) {
		fprintf(stderr, "pgload: %s failed: %s", sql, PQerrorMessage(c));
		PQclear(r);
		return false;
	}
	PQclear(r);
	ok = (rows->len == 0 || PQputCopyData(c, rows->d, (int)rows->len) == 1) &&
	     PQputCopyEnd(c, NULL) == 1;
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			ok = false;
		PQclear(r);
	}
	if (!ok)
		fprintf(stderr, "pgload: %s failed: %s", sql, PQerrorMessage(c));
	return ok;
}

/* One batch with COPY into each table; returns the mails stored, or -1. */
static int store_copy(PGconn *c, const char *ticket_seq, const char *message_seq,
		      struct batch_mail *b, int n, const char *mailbox)
{
	struct sbuf t = {0}, pa = {0}, ms = {0}, raw = {0}, ev = {0}, ob = {0};
	int64_t *ids = xmalloc((size_t)n * sizeof(*ids));
	int n_new, rc = -1;

	if (!assign_tickets(c, ticket_seq, b, n, &n_new) || !nextvals(c, message_seq, n, ids))
		goto out;
	for (int i = 0; i < n; i++) {
		struct mail *m = b[i].m;
		b[i].id = ids[i];
		if (b[i].created) {
			cp_i64(&t, b[i].ticket);
			sb_str(&t, "\t");
			cp_text(&t, m->subject);
			sb_str(&t, "\t");
			cp_lower(&t, m->from_addr);
			sb_str(&t, "\t");
			cp_text(&t, m->from_name);
			sb_str(&t, "\t");
			cp_text(&t, mailbox);
			sb_str(&t, "\n");
			cp_i64(&pa, b[i].ticket);
			sb_str(&pa, "\t");
			cp_lower(&pa, m->from_addr);
			sb_str(&pa, "\t");
			cp_text(&pa, m->from_name);
			sb_str(&pa, "\trequester\n");
			/* the acknowledgement */
			struct sbuf s = {0};
			cp_i64(&ob, b[i].ticket);
			sb_str(&ob, "\tack\tack-");
			cp_i64(&ob, b[i].ticket);
			sb_str(&ob, "@bench.example.com\tsupport@example.com\t");
			sb_str(&s, "{\"");
			for (const char *p = m->from_addr; *p; p++) {
				if (*p == '"' || *p == '\\')
					sb_put(&s, "\\", 1);
				sb_put(&s, p, 1);
			}
			sb_str(&s, "\"}");
			cp_lower(&ob, s.d);
			free(s.d);
			sb_str(&ob, "\t[Support #");
			cp_i64(&ob, b[i].ticket);
			sb_str(&ob, "] ");
			cp_text(&ob, m->subject);
			sb_str(&ob, "\t");
			cp_text(&ob, ACK);
			sb_str(&ob, "\t");
			cp_bytea(&ob, ACK, strlen(ACK));
			sb_str(&ob, "\t");
			cp_lower(&ob, m->from_addr);
			sb_str(&ob, "\tt\n");
		}
		cp_i64(&ms, b[i].id);
		sb_str(&ms, "\t");
		cp_i64(&ms, b[i].ticket);
		sb_str(&ms, "\tin\tcustomer\t");
		if (m->msgid[0])
			cp_text(&ms, m->msgid);
		else
			sb_str(&ms, "\\N");
		sb_str(&ms, "\t");
		cp_bytea(&ms, m->hash, 32);
		sb_str(&ms, "\t");
		if (m->irt[0])
			cp_text(&ms, m->irt);
		else
			sb_str(&ms, "\\N");
		sb_str(&ms, "\t");
		cp_text(&ms, m->refs);
		sb_str(&ms, "\t");
		cp_text(&ms, m->from_name);
		sb_str(&ms, "\t");
		cp_text(&ms, m->from_addr);
		sb_str(&ms, "\t");
		cp_text(&ms, m->subject);
		sb_str(&ms, "\t");
		cp_text(&ms, m->body);
		sb_str(&ms, "\t");
		cp_i64(&ms, (int64_t)m->len);
		sb_str(&ms, "\t");
		cp_text(&ms, mailbox);
		sb_str(&ms, "\t1\t");
		sb_str(&ms, m->uid);
		sb_str(&ms, "\n");
		cp_i64(&raw, b[i].id);
		sb_str(&raw, "\t");
		cp_bytea(&raw, m->raw, m->len);
		sb_str(&raw, "\n");
		struct sbuf j = {0};
		sb_str(&j, "{\"mailbox\": ");
		json_str(&j, mailbox);
		sb_str(&j, ", \"uid\": ");
		sb_str(&j, m->uid);
		sb_str(&j, ", \"message_id\": ");
		if (m->msgid[0])
			json_str(&j, m->msgid);
		else
			sb_str(&j, "null");
		sb_str(&j, ", \"from\": ");
		json_str(&j, m->from_addr);
		sb_str(&j, "}");
		cp_i64(&ev, b[i].ticket);
		sb_str(&ev, "\t");
		cp_i64(&ev, b[i].id);
		sb_str(&ev, "\tmailbox:");
		cp_text(&ev, mailbox);
		sb_str(&ev, b[i].created ? "\tticket.created\t" : "\tmessage.threaded\t");
		cp_text(&ev, j.d);
		sb_str(&ev, "\n");
		free(j.d);
	}
	if (copy_in(c, "COPY tickets (id, subject, requester_address, requester_name, mailbox)"
		       " FROM STDIN", &t) &&
	    copy_in(c, "COPY participants (ticket_id, address, name, role) FROM STDIN", &pa) &&
	    copy_in(c, "COPY messages (id, ticket_id, direction, kind, message_id, content_hash,"
		       " in_reply_to, refs, from_name, from_address, subject, body_text, raw_size,"
		       " mailbox, uidvalidity, uid) FROM STDIN", &ms) &&
	    copy_in(c, "COPY message_raw (message_id, raw) FROM STDIN", &raw) &&
	    copy_in(c, "COPY events (ticket_id, message_id, actor, kind, detail) FROM STDIN", &ev) &&
	    copy_in(c, "COPY outbox (ticket_id, kind, message_id, mail_from, rcpt_to, subject, body,"
		       " raw, to_address, automatic) FROM STDIN", &ob))
		rc = n;
out:
	free(t.d);
	free(pa.d);
	free(ms.d);
	free(raw.d);
	free(ev.d);
	free(ob.d);
	free(ids);
	return rc;
}

static bool exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "pgload: %s failed: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return ok;
}

/* The set-based modes: a transaction per batch of mails; prints the line. */
static int run_batches(PGconn *c, struct mail *mails, size_t n, int batch, const char *mode,
		       const char *mailbox)
{
	bool copy = strcmp(mode, "copy") == 0;
	char ticket_seq[256], message_seq[256];
	struct batch_mail *b = xmalloc((size_t)batch * sizeof(*b));
	size_t nb = (n + (size_t)batch - 1) / (size_t)batch, done = 0;
	double *at = xmalloc((nb + 1) * sizeof(*at)); /* when each batch was committed */
	size_t *upto = xmalloc((nb + 1) * sizeof(*upto));
	PGresult *r;
	int rc = 1;
	double cpu0, bcpu0;

	r = PQexec(c, "SELECT pg_get_serial_sequence('tickets', 'id'),"
		      " pg_get_serial_sequence('messages', 'id')");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		fprintf(stderr, "pgload: the id sequences: %s", PQerrorMessage(c));
		PQclear(r);
		goto out;
	}
	snprintf(ticket_seq, sizeof(ticket_seq), "%s", PQgetvalue(r, 0, 0));
	snprintf(message_seq, sizeof(message_seq), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	if (!prepare(c, "pgload_parents", SQL_PARENTS) || !prepare(c, "pgload_nextval", SQL_NEXTVAL) ||
	    (!copy && (!prepare(c, "pgload_set_tickets", SQL_SET_TICKETS) ||
		       !prepare(c, "pgload_set_messages", SQL_SET_MESSAGES) ||
		       !prepare(c, "pgload_set_raw", SQL_SET_RAW) ||
		       !prepare(c, "pgload_set_events", SQL_SET_EVENTS) ||
		       !prepare(c, "pgload_set_outbox", SQL_SET_OUTBOX))))
		goto out;

	cpu0 = self_cpu_ms();
	bcpu0 = backend_cpu_ms(c);
	at[0] = now_s();
	upto[0] = 0;
	for (size_t k = 0; k < nb; k++) {
		size_t first = k * (size_t)batch;
		int cnt = (int)(n - first < (size_t)batch ? n - first : (size_t)batch), stored;

		for (int i = 0; i < cnt; i++)
			b[i].m = &mails[first + (size_t)i];
		if (!exec_ok(c, "BEGIN"))
			goto out;
		stored = copy ? store_copy(c, ticket_seq, message_seq, b, cnt, mailbox)
			      : store_set(c, ticket_seq, b, cnt, mailbox);
		if (stored < 0 || !exec_ok(c, "COMMIT")) {
			fprintf(stderr, "pgload: batch %zu (mails %zu-%zu) failed\n", k + 1, first + 1,
				first + (size_t)cnt);
			goto out;
		}
		done += (size_t)stored;
		at[k + 1] = now_s();
		upto[k + 1] = first + (size_t)cnt;
	}
	double secs = at[nb] - at[0], first_tenth = 0, last_tenth = 0;
	/* the first batches that make a tenth, and the last ones */
	for (size_t k = 1; k <= nb && n >= 10; k++)
		if (upto[k] >= n / 10) {
			first_tenth = upto[k] / (at[k] - at[0]);
			break;
		}
	for (size_t k = nb; k-- > 0 && n >= 10;)
		if (n - upto[k] >= n / 10) {
			last_tenth = (n - upto[k]) / (at[nb] - at[k]);
			break;
		}
	if (done != n)
		fprintf(stderr, "pgload: %zu of %zu mails stored (the others were duplicates)\n", done,
			n);
	printf("mails=%zu seconds=%.3f mails_per_s=%.1f mode=%s batch=%d first_tenth=%.1f"
	       " last_tenth=%.1f backend_cpu_ms=%.0f client_cpu_ms=%.0f\n",
	       done, secs, secs > 0 ? done / secs : 0.0, mode, batch, first_tenth, last_tenth,
	       backend_cpu_ms(c) - bcpu0, self_cpu_ms() - cpu0);
	rc = 0;
out:
	free(b);
	free(at);
	free(upto);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: pgload --conninfo STR --maildir DIR [--each | --set | --copy]"
			" [--batch N] [--mailbox NAME]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	const char *conninfo = NULL, *maildir = NULL, *mailbox = "support", *mode = "one";
	bool each = false;
	int batch = 100;
	struct mail *mails;
	char **paths;
	size_t n, done = 0;
	PGconn *c;
	PGresult *res;
	double t0, secs, cpu0, bcpu0, t_tenth, first_tenth = 0, last_tenth = 0;
	int rc = 1;
	const Oid types[NPARAMS] = {OID_TEXT, OID_TEXT, OID_TEXT_ARRAY, OID_TEXT, OID_TEXT,
				    OID_TEXT, OID_TEXT, OID_BYTEA,      OID_BYTEA, OID_INT8,
				    OID_TEXT, OID_INT8, OID_TEXT};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--conninfo") == 0 && i + 1 < argc)
			conninfo = argv[++i];
		else if (strcmp(argv[i], "--maildir") == 0 && i + 1 < argc)
			maildir = argv[++i];
		else if (strcmp(argv[i], "--mailbox") == 0 && i + 1 < argc)
			mailbox = argv[++i];
		else if (strcmp(argv[i], "--each") == 0)
			each = true, mode = "each";
		else if (strcmp(argv[i], "--set") == 0)
			mode = "set";
		else if (strcmp(argv[i], "--copy") == 0)
			mode = "copy";
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
			batch = atoi(argv[++i]);
		else
			usage();
	}
	if (conninfo == NULL || maildir == NULL)
		usage();

	paths = list_maildir(maildir, &n);
	mails = xmalloc(n * sizeof(*mails));
	memset(mails, 0, n * sizeof(*mails));
	for (size_t i = 0; i < n; i++)
		if (read_file(paths[i], &mails[i]) < 0 || parse_mail(&mails[i], (unsigned)i + 1) < 0)
			exit(1);

	c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgload: cannot connect (%s): %s", conninfo, PQerrorMessage(c));
		goto out;
	}
	/* loopback only: the benchmark's own server */
	if (PQhost(c) == NULL ||
	    (strcmp(PQhost(c), "127.0.0.1") != 0 && strcmp(PQhost(c), "localhost") != 0 &&
	     PQhost(c)[0] != '/')) {
		fprintf(stderr, "pgload: refusing to load into %s: not on this machine\n",
			PQhost(c) ? PQhost(c) : "?");
		goto out;
	}
	if (strcmp(mode, "set") == 0 || strcmp(mode, "copy") == 0) {
		rc = run_batches(c, mails, n, batch, mode, mailbox);
		goto out;
	}
	res = PQprepare(c, "pgload_mail", SQL, NPARAMS, types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pgload: PREPARE failed: %s", PQerrorMessage(c));
		PQclear(res);
		goto out;
	}
	PQclear(res);

	cpu0 = self_cpu_ms();
	bcpu0 = backend_cpu_ms(c);
	t0 = t_tenth = now_s();
	if (!each && !exec_ok(c, "BEGIN"))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct mail *m = &mails[i];
		const char *v[NPARAMS] = {m->msgid, m->irt,   m->refs,   m->from_name, m->from_addr,
					  m->subject, m->body, m->raw,  (const char *)m->hash,
					  m->size,    mailbox, m->uid,  ACK};
		const int len[NPARAMS] = {0, 0, 0, 0, 0, 0, 0, (int)m->len, 32, 0, 0, 0, 0};
		const int fmt[NPARAMS] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0};

		if (each && !exec_ok(c, "BEGIN"))
			goto out;
		res = PQexecPrepared(c, "pgload_mail", NPARAMS, v, len, fmt, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			fprintf(stderr, "pgload: mail %zu (%s) failed: %s", i + 1, paths[i],
				PQerrorMessage(c));
			PQclear(res);
			goto out;
		}
		done += (size_t)PQntuples(res);
		PQclear(res);
		if (each && !exec_ok(c, "COMMIT"))
			goto out;
		/* the end of the first tenth, and the start of the last one */
		if (n >= 10 && (i + 1 == n / 10 || i + 1 == n - n / 10)) {
			double t = now_s();
			if (i + 1 == n / 10)
				first_tenth = (n / 10) / (t - t_tenth);
			t_tenth = t;
		}
	}
	if (!each && !exec_ok(c, "COMMIT"))
		goto out;
	secs = now_s() - t0;
	if (n >= 10)
		last_tenth = (n / 10) / (now_s() - t_tenth);
	if (done != n)
		fprintf(stderr, "pgload: %zu of %zu mails stored (the others were duplicates)\n", done,
			n);
	printf("mails=%zu seconds=%.3f mails_per_s=%.1f mode=%s first_tenth=%.1f last_tenth=%.1f"
	       " backend_cpu_ms=%.0f client_cpu_ms=%.0f\n",
	       done, secs, secs > 0 ? done / secs : 0.0, mode, first_tenth, last_tenth,
	       backend_cpu_ms(c) - bcpu0, self_cpu_ms() - cpu0);
	rc = 0;
out:
	PQfinish(c);
	for (size_t i = 0; i < n; i++) {
		mail_free(&mails[i]);
		free(paths[i]);
	}
	free(mails);
	free(paths);
	return rc;
}
