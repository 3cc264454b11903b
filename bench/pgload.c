/*
 * bench/pgload.c - how fast PostgreSQL takes the rows postdesk writes per mail.
 *
 *   pgload --conninfo STR --maildir DIR [--each] [--mailbox NAME]
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
 * The database must be fresh and migrated (postdesk migrate).  Prints:
 *   mails=N seconds=S mails_per_s=R mode=one|each first_tenth=R1 last_tenth=R10
 * (the rates over the first and the last tenth of the mails: a falling rate
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
#include <time.h>

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

static bool exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "pgload: %s failed: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return ok;
}

static void usage(void)
{
	fprintf(stderr, "usage: pgload --conninfo STR --maildir DIR [--each] [--mailbox NAME]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	const char *conninfo = NULL, *maildir = NULL, *mailbox = "support";
	bool each = false;
	struct mail *mails;
	char **paths;
	size_t n, done = 0;
	PGconn *c;
	PGresult *res;
	double t0, secs, t_tenth, first_tenth = 0, last_tenth = 0;
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
			each = true;
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
	res = PQprepare(c, "pgload_mail", SQL, NPARAMS, types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pgload: PREPARE failed: %s", PQerrorMessage(c));
		PQclear(res);
		goto out;
	}
	PQclear(res);

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
	printf("mails=%zu seconds=%.3f mails_per_s=%.1f mode=%s first_tenth=%.1f last_tenth=%.1f\n",
	       done, secs, secs > 0 ? done / secs : 0.0, each ? "each" : "one", first_tenth,
	       last_tenth);
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
