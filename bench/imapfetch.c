/*
 * bench/imapfetch.c - how fast libetpan reads a mailbox from the IMAP server.
 *
 *   imapfetch --port PORT --user USER --password PASS [--folder F] [--batch N]
 *
 * Logs in to 127.0.0.1:PORT (plain IMAP, loopback only), SELECTs the folder
 * (default INBOX), asks UID SEARCH ALL and then fetches every message with
 * UID FETCH set (UID BODY.PEEK[]) in batches of N UIDs (default 100, the
 * daemon's batch_size; the set is sent as ranges), counting the bytes of
 * the bodies.  Nothing is changed on the server.  Prints one line:
 *   mails=N bytes=B seconds=S mails_per_s=R mb_per_s=M batches=K
 * The clock runs from SELECT to the last FETCH.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static const char *why(mailimap *imap, int r)
{
	static char text[512];

	snprintf(text, sizeof(text), "libetpan error %d%s%s", r,
		 imap != NULL && imap->imap_response != NULL ? ": " : "",
		 imap != NULL && imap->imap_response != NULL ? imap->imap_response : "");
	return text;
}

/* UID SEARCH ALL, sorted. */
static int search_all(mailimap *imap, uint32_t **uids_r, size_t *n_r)
{
	struct mailimap_search_key *key = mailimap_search_key_new_all();
	clist *res = NULL;
	uint32_t *v;
	size_t n = 0;
	int r;

	r = mailimap_uid_search(imap, NULL, key, &res);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR) {
		if (res != NULL)
			mailimap_search_result_free(res);
		fprintf(stderr, "imapfetch: UID SEARCH ALL failed: %s\n", why(imap, r));
		return -1;
	}
	v = malloc(((res ? clist_count(res) : 0) + 1) * sizeof(*v));
	if (v == NULL) {
		mailimap_search_result_free(res);
		fprintf(stderr, "imapfetch: out of memory\n");
		return -1;
	}
	for (clistiter *it = res ? clist_begin(res) : NULL; it != NULL; it = clist_next(it))
		v[n++] = *(uint32_t *)clist_content(it);
	if (res != NULL)
		mailimap_search_result_free(res);
	qsort(v, n, sizeof(*v), cmp_u32);
	*uids_r = v;
	*n_r = n;
	return 0;
}

/* One UID FETCH (UID BODY.PEEK[]) of uids[0..n); adds to *mails and *bytes. */
static int fetch_batch(mailimap *imap, const uint32_t *uids, size_t n, size_t *mails,
		       uint64_t *bytes)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	struct mailimap_section *sec = mailimap_section_new(NULL);
	clist *res = NULL;
	int r;

	if (set == NULL || ft == NULL || sec == NULL) {
		fprintf(stderr, "imapfetch: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		mailimap_set_add_interval(set, uids[i], uids[j]);
		i = j + 1;
	}
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_body_peek_section(sec));
	r = mailimap_uid_fetch(imap, set, ft, &res);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR) {
		if (res != NULL)
			mailimap_fetch_list_free(res);
		fprintf(stderr, "imapfetch: UID FETCH failed: %s\n", why(imap, r));
		return -1;
	}
	for (clistiter *it = clist_begin(res); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att *att = clist_content(it);

		for (clistiter *a = clist_begin(att->att_list); a != NULL; a = clist_next(a)) {
			struct mailimap_msg_att_item *item = clist_content(a);
			struct mailimap_msg_att_static *st;

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			st = item->att_data.att_static;
			if (st != NULL && st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION &&
			    st->att_data.att_body_section != NULL) {
				(*mails)++;
				*bytes += st->att_data.att_body_section->sec_length;
			}
		}
	}
	mailimap_fetch_list_free(res);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: imapfetch --port PORT --user USER --password PASS [--folder F] "
			"[--batch N]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	const char *user = NULL, *pass = NULL, *folder = "INBOX";
	long port = 0, batch = 100;
	mailimap *imap;
	uint32_t *uids = NULL;
	size_t n = 0, mails = 0, batches = 0;
	uint64_t bytes = 0;
	double t0, secs;
	int r, rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "--password") == 0 && i + 1 < argc)
			pass = argv[++i];
		else if (strcmp(argv[i], "--folder") == 0 && i + 1 < argc)
			folder = argv[++i];
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
			batch = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	if (port <= 0 || port > 65535 || user == NULL || pass == NULL || batch <= 0)
		usage();

	imap = mailimap_new(0, NULL);
	if (imap == NULL) {
		fprintf(stderr, "imapfetch: out of memory\n");
		return 1;
	}
	mailimap_set_timeout(imap, 120);
	r = mailimap_socket_connect(imap, "127.0.0.1", (uint16_t)port); /* loopback only */
	if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED && r != MAILIMAP_NO_ERROR_AUTHENTICATED) {
		fprintf(stderr, "imapfetch: cannot connect to 127.0.0.1:%ld: %s\n", port,
			why(imap, r));
		goto out;
	}
	r = mailimap_login(imap, user, pass);
	if (r != MAILIMAP_NO_ERROR) {
		fprintf(stderr, "imapfetch: LOGIN as %s failed: %s\n", user, why(imap, r));
		goto out;
	}
	t0 = now_s();
	r = mailimap_select(imap, folder);
	if (r != MAILIMAP_NO_ERROR) {
		fprintf(stderr, "imapfetch: SELECT %s failed: %s\n", folder, why(imap, r));
		goto out;
	}
	if (search_all(imap, &uids, &n) < 0)
		goto out;
	for (size_t off = 0; off < n; off += (size_t)batch) {
		size_t k = n - off < (size_t)batch ? n - off : (size_t)batch;
		if (fetch_batch(imap, uids + off, k, &mails, &bytes) < 0)
			goto out;
		batches++;
	}
	secs = now_s() - t0;
	if (mails != n)
		fprintf(stderr, "imapfetch: %zu of %zu messages fetched\n", mails, n);
	printf("mails=%zu bytes=%llu seconds=%.3f mails_per_s=%.1f mb_per_s=%.1f batches=%zu\n", mails,
	       (unsigned long long)bytes, secs, secs > 0 ? mails / secs : 0.0,
	       secs > 0 ? bytes / secs / 1e6 : 0.0, batches);
	mailimap_logout(imap);
	rc = 0;
out:
	free(uids);
	mailimap_free(imap);
	return rc;
}
