/*
 * test_mime.c - the MIME parser against real-world mail and against
 * hostile mail.
 *
 * 1. Every message of $PD_CORPUS/<source>/messages must parse without a
 *    crash or leak and give valid UTF-8 everywhere; the expectations in
 *    $PD_CORPUS/<source>/expected.jsonl are checked field by field
 *    (README.md of the corpus says how to compare).
 * 2. Our own fixtures in tests/data/mime: Russian mail in koi8-r and
 *    windows-1251, broken encoded words, RFC 2231 Cyrillic filenames,
 *    HTML-only, nested multipart, message/rfc822, raw 8-bit headers, TNEF;
 *    and a table of mail as real clients write it (raw GBK and Shift_JIS
 *    headers, CP50221, lying charset labels...), with the charset label
 *    table and the charset guess.
 * 3. Hostile mail generated here: 10,000 parts, 200-deep and 100,000-deep
 *    nesting, a 1 MB header line, NUL bytes, broken base64, oversized.
 * 4. The content hash, header decoding and charset conversion directly.
 *
 * The corpus lives outside the repository: PD_CORPUS, else
 * $top_srcdir/../shared/corpus; top_srcdir defaults to the source tree
 * this file was compiled from.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "charset.h"
#include "ioutil.h"
#include "mime.h"
#include "msg.h"
#include "util.h"

/* ------------------------------------------------------------- paths */

/*
 * The source tree: $top_srcdir (set by make check), else the directory
 * this file was compiled from (configure records absolute paths for VPATH
 * builds, relative ones for in-tree builds run from the top).
 */
static char *top_srcdir(void)
{
	const char *env = getenv("top_srcdir");
	const char *file = __FILE__; /* .../tests/unit/test_mime.c */
	const char *cut;

	if (env != NULL && *env != '\0')
		return pd_xstrdup(env);
	cut = strstr(file, "tests/unit/test_mime.c");
	if (cut == NULL || cut == file)
		return pd_xstrdup(".");
	return pd_xstrndup(file, (size_t)(cut - file - 1));
}

/* $PD_CORPUS, else the shared corpus beside the source tree. */
static char *corpus_dir(void)
{
	const char *env = getenv("PD_CORPUS");
	char *top, *dir;

	if (env != NULL && *env != '\0')
		return pd_xstrdup(env);
	top = top_srcdir();
	dir = pd_xasprintf("%s/../shared/corpus", top);
	free(top);
	return dir;
}

/* The shared corpus is not there (a clone without ../shared): say so and skip
 * the case; CI, which always has it, fails instead. */
static void corpus_absent(const char *where)
{
	const char *ci = getenv("CI");

	if (ci != NULL && strcmp(ci, "true") == 0)
		fail_msg("shared corpus not found at %s (CI=true requires it; set PD_CORPUS)", where);
	print_message("shared corpus not found at %s (set PD_CORPUS): corpus cases skipped\n", where);
	skip();
}

/* A file of tests/data/mime. */
static char *fixture_path(const char *name)
{
	char *top = top_srcdir();
	char *p = pd_xasprintf("%s/tests/data/mime/%s", top, name);

	free(top);
	return p;
}

/* Read and parse a file with default options; the caller frees both. */
static struct pd_msg *parse_file(const char *path, char **raw_r)
{
	char *raw;
	size_t len;

	if (pd_read_file(path, &raw, &len) < 0)
		fail_msg("cannot read %s", path);
	*raw_r = raw;
	return pd_mime_parse(raw, len, NULL);
}

/* parse_file for a fixture of tests/data/mime. */
static struct pd_msg *parse_fixture(const char *name, char **raw_r)
{
	char *path = fixture_path(name);
	struct pd_msg *m = parse_file(path, raw_r);

	free(path);
	return m;
}

/* Free a message and the raw bytes it borrowed (in that order). */
static void free_msg(struct pd_msg *m, char *raw)
{
	pd_msg_free(m);
	free(raw);
}

/* ------------------------------------------------------------ checks */

/* Fail with the field name when s (if any) is not valid UTF-8. */
static void assert_utf8(const char *what, const char *s)
{
	if (s == NULL)
		return;
	if (!pd_utf8_valid(s, strlen(s)))
		fail_msg("%s is not valid UTF-8", what);
}

/* Everything a parsed message promises, whatever the input was. */
static void assert_sane(const struct pd_msg *m)
{
	assert_non_null(m->subject);
	assert_non_null(m->body_text);
	assert_non_null(m->body_charset);
	assert_non_null(m->from.name);
	assert_non_null(m->from.address);
	assert_non_null(m->reply_to.name);
	assert_non_null(m->reply_to.address);
	assert_utf8("subject", m->subject);
	assert_utf8("body", m->body_text);
	assert_utf8("body charset", m->body_charset);
	assert_utf8("from name", m->from.name);
	assert_utf8("from address", m->from.address);
	assert_utf8("reply-to", m->reply_to.address);
	assert_utf8("message-id", m->message_id);
	assert_utf8("in-reply-to", m->in_reply_to);
	assert_utf8("auto-submitted", m->auto_submitted);
	assert_utf8("precedence", m->precedence);
	assert_utf8("list-id", m->list_id);
	assert_utf8("return-path", m->return_path);
	assert_utf8("x-priority", m->x_priority);
	assert_utf8("importance", m->importance);
	assert_utf8("parse error", m->parse_error);
	assert_true(m->n_references <= 100);
	for (size_t i = 0; i < m->n_references; i++) {
		assert_utf8("reference", m->references[i]);
		assert_true(m->references[i][0] != '\0');
		assert_null(strchr(m->references[i], '<'));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(m->references[i], m->references[j]);
	}
	if (m->message_id != NULL)
		assert_null(strchr(m->message_id, '<'));
	const struct pd_addrlist *lists[] = {&m->to, &m->cc};
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			assert_non_null(lists[l]->v[i].name);
			assert_non_null(lists[l]->v[i].address);
			assert_utf8("to/cc name", lists[l]->v[i].name);
			assert_utf8("to/cc address", lists[l]->v[i].address);
		}
	for (size_t i = 0; i < m->n_attachments; i++) {
		const struct pd_attachment *a = &m->attachments[i];
		unsigned char h[32];
		char hex[65];

		assert_non_null(a->content_type);
		assert_utf8("filename", a->filename);
		assert_utf8("content type", a->content_type);
		assert_utf8("content id", a->content_id);
		for (const char *p = a->content_type; *p; p++)
			assert_false(*p >= 'A' && *p <= 'Z');
		if (a->disposition != NULL)
			assert_true(strcmp(a->disposition, "attachment") == 0 ||
				    strcmp(a->disposition, "inline") == 0);
		pd_sha256(a->data, a->size, h);
		pd_hex(h, 32, hex);
		assert_memory_equal(h, a->sha256, 32);
		assert_string_equal(hex, a->sha256_hex);
	}
	for (size_t i = 0; i < m->n_warnings; i++)
		assert_utf8("warning", m->warnings[i]);
	if (m->parse_failed || m->oversized)
		assert_non_null(m->parse_error);
}

/* The attachment with exactly this decoded file name, NULL when none. */
static const struct pd_attachment *find_attachment(const struct pd_msg *m, const char *name)
{
	for (size_t i = 0; i < m->n_attachments; i++)
		if (m->attachments[i].filename != NULL && strcmp(m->attachments[i].filename, name) == 0)
			return &m->attachments[i];
	return NULL;
}

/* Whitespace runs (including U+00A0) to one space, as the corpus README says. */
static char *collapse(const char *s)
{
	struct pd_buf b;
	bool space = false;

	pd_buf_init(&b);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		bool ws = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
			  *p == '\v';
		size_t n = 1;
		if (p[0] == 0xc2 && p[1] == 0xa0)
			ws = true, n = 2;
		if (ws) {
			space = true;
		} else {
			if (space && b.len > 0)
				pd_buf_append_char(&b, ' ');
			space = false;
			pd_buf_append_char(&b, (char)*p);
		}
		p += n;
	}
	return pd_buf_steal(&b, NULL);
}

/*
 * body_contains as the corpus README defines it: substring after collapsing
 * whitespace on both sides.
 */
static bool body_contains(const char *body, const char *want)
{
	char *b = collapse(body), *w = collapse(want);
	bool ok = strstr(b, w) != NULL;

	free(b);
	free(w);
	return ok;
}

/* ------------------------------------------------------------ corpus */

/* A growable list of owned paths. */
struct filelist {
	char **v;
	size_t n;
};

/* All regular files below dir, recursively (corpus folders nest by topic). */
static void list_files(const char *dir, struct filelist *fl)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = pd_xasprintf("%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			list_files(p, fl);
			free(p);
		} else if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			fl->v = pd_xreallocarray(fl->v, fl->n + 1, sizeof(char *));
			fl->v[fl->n++] = p;
		} else {
			free(p);
		}
	}
	closedir(d);
}

/* qsort comparator: deterministic order, so failures are reproducible. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Free the paths and the array. */
static void filelist_free(struct filelist *fl)
{
	for (size_t i = 0; i < fl->n; i++)
		free(fl->v[i]);
	free(fl->v);
}

/* The corpus sources: subdirectories with a messages/ folder, sorted. */
static void corpus_sources(struct filelist *out)
{
	char *dir = corpus_dir();
	DIR *d = opendir(dir);
	struct dirent *de;

	memset(out, 0, sizeof(*out));
	if (d == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char *p, *m;

		if (de->d_name[0] == '.')
			continue;
		p = pd_xasprintf("%s/%s", dir, de->d_name);
		m = pd_xasprintf("%s/messages", p);
		if (stat(m, &st) == 0 && S_ISDIR(st.st_mode)) {
			out->v = pd_xreallocarray(out->v, out->n + 1, sizeof(char *));
			out->v[out->n++] = p;
		} else {
			free(p);
		}
		free(m);
	}
	closedir(d);
	free(dir);
	if (out->n > 0)
		qsort(out->v, out->n, sizeof(char *), cmp_str);
}

/*
 * Every corpus message: no crash, no leak (LeakSanitizer), every string
 * valid UTF-8, attachments hashed correctly, and the standalone content
 * hash equal to the one pd_mime_parse stored.
 */
static void test_corpus_all(void **state)
{
	(void)state;
	struct filelist src, files = {NULL, 0};

	corpus_sources(&src);
	if (src.n == 0) {
		char *dir = corpus_dir();
		char where[512];

		snprintf(where, sizeof(where), "%s", dir);
		free(dir);
		corpus_absent(where);
	}
	for (size_t i = 0; i < src.n; i++) {
		char *m = pd_xasprintf("%s/messages", src.v[i]);
		list_files(m, &files);
		free(m);
	}
	qsort(files.v, files.n, sizeof(char *), cmp_str);
	assert_true(files.n >= 100);
	for (size_t i = 0; i < files.n; i++) {
		char *raw;
		struct pd_msg *m = parse_file(files.v[i], &raw);
		unsigned char h[32];

		assert_sane(m);
		assert_false(m->oversized);
		/* the standalone hash is the one stored in the message */
		pd_mime_content_hash(raw, m->raw_len, h);
		assert_memory_equal(h, m->content_hash, 32);
		free_msg(m, raw);
	}
	print_message("%zu corpus messages parsed\n", files.n);
	filelist_free(&files);
	filelist_free(&src);
}

/* Expectations we do not meet on purpose: file, field, reason.  Keep this
 * list short and every reason checkable. */
static const struct {
	const char *file, *field, *reason;
} corpus_skips[] = {
	{NULL, NULL, NULL},
};

/* The documented reason for not meeting an expectation, NULL when we must. */
static const char *skip_reason(const char *file, const char *field)
{
	for (size_t i = 0; i < PD_ARRAY_LEN(corpus_skips); i++)
		if (corpus_skips[i].file != NULL && strcmp(corpus_skips[i].file, file) == 0 &&
		    strcmp(corpus_skips[i].field, field) == 0)
			return corpus_skips[i].reason;
	return NULL;
}

/*
 * A string member of a JSON object; NULL when missing or JSON null
 * (null means "no expectation" in expected.jsonl).
 */
static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Check one expected.jsonl record; returns the number of failed fields. */
static int check_record(const char *srcdir, struct json_object *rec, int *checked, int *skipped)
{
	const char *file = jstr(rec, "file"), *s;
	struct json_object *v;
	char *path, *raw;
	struct pd_msg *m;
	int bad = 0;

	if (file == NULL)
		fail_msg("record without file in %s", srcdir);
	path = pd_xasprintf("%s/%s", srcdir, file);
	m = parse_file(path, &raw);
	assert_sane(m);

#define FIELD_FAIL(field, ...)                                                      \
	do {                                                                        \
		const char *why = skip_reason(file, field);                         \
		if (why != NULL) {                                                  \
			(*skipped)++;                                               \
		} else {                                                            \
			print_error("%s: %s: ", file, field);                       \
			print_error(__VA_ARGS__);                                   \
			print_error("\n");                                          \
			bad++;                                                      \
		}                                                                   \
	} while (0)

	if ((s = jstr(rec, "from_addr")) != NULL) {
		(*checked)++;
		if (strcasecmp(s, m->from.address) != 0)
			FIELD_FAIL("from_addr", "got [%s] want [%s]", m->from.address, s);
	}
	if ((s = jstr(rec, "from_name")) != NULL) {
		(*checked)++;
		if (strcmp(s, m->from.name) != 0)
			FIELD_FAIL("from_name", "got [%s] want [%s]", m->from.name, s);
	}
	if ((s = jstr(rec, "subject")) != NULL) {
		(*checked)++;
		if (strcmp(s, m->subject) != 0)
			FIELD_FAIL("subject", "got [%s] want [%s]", m->subject, s);
	}
	if ((s = jstr(rec, "body_contains")) != NULL) {
		(*checked)++;
		if (!body_contains(m->body_text, s))
			FIELD_FAIL("body_contains", "[%s] not in [%.300s]", s, m->body_text);
	}
	if (json_object_object_get_ex(rec, "attachments", &v) &&
	    json_object_is_type(v, json_type_int)) {
		(*checked)++;
		size_t want = (size_t)json_object_get_int(v);
		if (m->n_attachments != want) {
			FIELD_FAIL("attachments", "got %zu want %zu", m->n_attachments, want);
			for (size_t i = 0; i < m->n_attachments; i++)
				print_error("  %s %s\n", m->attachments[i].content_type,
					    m->attachments[i].filename ? m->attachments[i].filename
								       : "(no name)");
		}
	}
	if (json_object_object_get_ex(rec, "attachment_names", &v) &&
	    json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			const char *name = json_object_get_string(json_object_array_get_idx(v, i));
			(*checked)++;
			if (find_attachment(m, name) == NULL)
				FIELD_FAIL("attachment_names", "[%s] not among the attachments", name);
		}
	}
#undef FIELD_FAIL
	free_msg(m, raw);
	free(path);
	return bad;
}

/*
 * Every expected.jsonl record of every source; all failing fields are
 * printed before the test fails, so one run shows the whole picture.
 */
static void test_corpus_expected(void **state)
{
	(void)state;
	struct filelist src;
	int bad = 0, checked = 0, skipped = 0, records = 0;

	corpus_sources(&src);
	if (src.n == 0) {
		char *dir = corpus_dir();
		char where[512];

		snprintf(where, sizeof(where), "%s", dir);
		free(dir);
		corpus_absent(where);
	}
	for (size_t i = 0; i < src.n; i++) {
		char *path = pd_xasprintf("%s/expected.jsonl", src.v[i]), *data, *line, *save;
		size_t len;

		if (pd_read_file(path, &data, &len) < 0) {
			free(path);
			continue;
		}
		for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			struct json_object *rec = json_tokener_parse(line);
			if (rec == NULL)
				fail_msg("%s: bad JSON line", path);
			bad += check_record(src.v[i], rec, &checked, &skipped);
			records++;
			json_object_put(rec);
		}
		free(data);
		free(path);
	}
	print_message("%d records, %d fields checked, %d skipped (documented), %d failed\n", records,
		      checked, skipped, bad);
	filelist_free(&src);
	assert_int_equal(bad, 0);
}

/* ---------------------------------------------------------- fixtures */

/*
 * koi8-r: Q-encoded subject, B-encoded display name, 8-bit body, CRLF,
 * Date with an offset.
 */
static void test_koi8r(void **state)
{
	(void)state;
	char *raw;
	struct pd_msg *m = parse_fixture("koi8r.eml", &raw);

	assert_sane(m);
	assert_string_equal(m->subject, "Не работает принтер");
	assert_string_equal(m->from.name, "Иван Петров");
	assert_string_equal(m->from.address, "ivan@example.ru");
	assert_string_equal(m->body_charset, "koi8-r");
	assert_true(body_contains(m->body_text, "Принтер в бухгалтерии не печатает."));
	assert_string_equal(m->message_id, "koi8.1@example.ru");
	assert_int_equal(m->date, 1772434800); /* 2026-03-02 07:00:00 UTC */
	assert_int_equal(m->date_tz_minutes, 180);
	assert_int_equal(m->n_attachments, 0);
	assert_false(m->parse_failed);
	free_msg(m, raw);
}

/*
 * windows-1251: B-encoded subject, raw 8-bit display name read in the body's
 * charset, base64 body, LF line ends.
 */
static void test_cp1251(void **state)
{
	(void)state;
	char *raw;
	struct pd_msg *m = parse_fixture("cp1251.eml", &raw);

	assert_sane(m);
	assert_string_equal(m->subject, "Счёт на оплату №15");
	/* raw 8-bit windows-1251 display name, decoded with the body's charset */
	assert_string_equal(m->from.name, "Ольга Смирнова");
	assert_string_equal(m->body_charset, "windows-1251");
	assert_true(body_contains(m->body_text, "Прошу выставить счёт — срочно."));
	assert_null(strchr(m->body_text, '\r'));
	free_msg(m, raw);
}

/*
 * Encoded words glued to text, a multibyte character split across two words,
 * a word inside quotes with lower-case 'b', an unknown charset label whose
 * bytes are UTF-8, an RFC 2231 language suffix, a quoted encoded display name.
 */
static void test_broken_words(void **state)
{
	(void)state;
	char *raw;
	struct pd_msg *m = parse_fixture("broken_subject.eml", &raw);

	assert_sane(m);
	assert_string_equal(m->subject, "Re:Привет!\"Мир\" caféok");
	assert_string_equal(m->from.name, "Jörg");
	free_msg(m, raw);
}

/*
 * RFC 2231: continuations mixing encoded and plain sections (filename*0*,
 * filename*1*, filename*2) win over name*; a koi8-r extended value.
 */
static void test_rfc2231(void **state)
{
	(void)state;
	char *raw;
	struct pd_msg *m = parse_fixture("rfc2231_cyrillic.eml", &raw);
	const struct pd_attachment *a;

	assert_sane(m);
	assert_int_equal(m->n_attachments, 2);
	a = find_attachment(m, "Счёт № 15 от 01.03.pdf");
	assert_non_null(a);
	assert_string_equal(a->content_type, "application/pdf");
	assert_string_equal(a->disposition, "attachment");
	assert_int_equal(a->size, 13);
	assert_memory_equal(a->data, "%PDF-1.4 fake", 13);
	assert_non_null(find_attachment(m, "Счет.txt"));
	assert_string_equal(m->body_text, "См. вложения."); /* the line end before a boundary is the boundary's */
	free_msg(m, raw);
}

/* An HTML-only mail: the body is the converted text and says so. */
static void test_html_only(void **state)
{
	(void)state;
	char *raw;
	struct pd_msg *m = parse_fixture("html_only.eml", &raw);

	assert_sane(m);
	assert_true(m->body_from_html);
	assert_string_equal(m->body_text, "Hello team,\n\nthe VPN is down.\n\n- office\n- home\n\n"
					  "See status page <https://status.example.com/vpn>.");
	assert_int_equal(m->n_attachments, 0);
	free_msg(m, raw);
}

/*
 * mixed[alternative[plain, related[html, inline image]], pdf, inline text]:
 * the plain alternative is the body, the later inline text part is appended,
 * the inline image and the PDF are attachments.
 */
static void test_nested(void **state)
{
	(void)state;
	char *raw;
	struct pd_msg *m = parse_fixture("nested.eml", &raw);

	assert_sane(m);
	assert_false(m->body_from_html);
	/* the plain alternative, then the inline text part after the attachment */
	assert_string_equal(m->body_text, "Plain version of the text.\n\n-- \nsignature footer");
	assert_int_equal(m->n_attachments, 2);
	assert_string_equal(m->attachments[0].content_type, "image/png");
	assert_string_equal(m->attachments[0].content_id, "logo@x");
	assert_string_equal(m->attachments[0].disposition, "inline");
	assert_null(m->attachments[0].filename);
	assert_memory_equal(m->attachments[0].data, "\x89PNG", 4);
	assert_non_null(find_attachment(m, "report.pdf"));
	assert_int_equal(m->n_warnings, 0);
	free_msg(m, raw);
}

/*
 * An attached message is kept whole, and its own attachment listed too; the
 * forwarded text is not the body.
 */
static void test_rfc822(void **state)
{
	(void)state;
	char *raw;
	struct pd_msg *m = parse_fixture("rfc822_attach.eml", &raw);
	const struct pd_attachment *a, *b;

	assert_sane(m);
	assert_string_equal(m->body_text, "forwarding this");
	assert_int_equal(m->n_attachments, 2);
	a = find_attachment(m, "original.eml");
	assert_non_null(a);
	assert_string_equal(a->content_type, "message/rfc822");
	assert_non_null(memmem(a->data, a->size, "Subject: original", 17));
	b = find_attachment(m, "inner.bin");
	assert_non_null(b);
	assert_int_equal(b->size, 256);
	for (int i = 0; i < 256; i++)
		assert_int_equal((unsigned char)b->data[i], i);
	free_msg(m, raw);
}

/* Raw 8-bit headers: UTF-8 as it is, latin1 read via the body charset. */
static void test_raw8bit(void **state)
{
	(void)state;
	char *raw;
	struct pd_msg *m = parse_fixture("raw8bit_utf8.eml", &raw);

	assert_sane(m);
	assert_string_equal(m->subject, "Grüße aus Köln");
	assert_string_equal(m->from.name, "Jürgen Groß");
	free_msg(m, raw);
	m = parse_fixture("raw8bit_latin1.eml", &raw);
	assert_sane(m);
	assert_string_equal(m->subject, "Café ¿qué?");
	assert_string_equal(m->from.name, "José");
	assert_string_equal(m->body_text, "Olá, está bien\n");
	assert_string_equal(m->body_charset, "iso-8859-1");
	free_msg(m, raw);
}

/* Outlook's winmail.dat is an ordinary attachment (not decoded). */
static void test_tnef(void **state)
{
	(void)state;
	char *raw;
	struct pd_msg *m = parse_fixture("tnef.eml", &raw);

	assert_sane(m);
	assert_int_equal(m->n_attachments, 1);
	assert_string_equal(m->attachments[0].content_type, "application/ms-tnef");
	assert_string_equal(m->attachments[0].filename, "winmail.dat");
	assert_int_equal(m->attachments[0].size, 12);
	free_msg(m, raw);
}

/* ------------------------------------------------------------ headers */

/*
 * The header fields the rest of postdesk uses, from one busy header block:
 * mbox line, comments in addresses, groups, bare address lists, folded
 * References, an obsolete Date with a comment, the classifier's fields.
 */
static void test_headers(void **state)
{
	(void)state;
	static const char raw[] =
		"From MAILER-DAEMON Mon Mar  2 10:00:00 2026\n"
		"Return-Path: <bounce@example.net>\n"
		"Authentication-Results: mx.example.com;\n"
		"\tdkim=pass header.d=example.com\n"
		"Authentication-Results: forged.example; dmarc=pass\n"
		"From: \"Doe, John\" (work) <john.doe@Example.COM>\n"
		"Sender: list@example.net\n"
		"Reply-To: Help Desk <help@example.com>\n"
		"To: a@example.com, \"B\" <b@example.com>; undisclosed-recipients:;,\n"
		"  c@example.com d@example.com\n"
		"Cc: Group: x@example.com, y@example.com;\n"
		"Subject: =?utf-8?Q?Hi?=\n"
		"Message-ID: <  id-1@example.com >\n"
		"In-Reply-To: <parent@example.com> (comment)\n"
		"References: <root@example.com>\n <parent@example.com>\n\t<mid@example.com>\n"
		"Date: Thu,\n 13 Feb 1969 23:32 -0330 (Newfoundland Time)\n"
		"Auto-Submitted:  auto-replied \n"
		"Precedence: bulk\n"
		"List-Id: Support <support.example.com>\n"
		"X-Priority: 1 (Highest)\n"
		"Importance: high\n"
		"\n"
		"body\n";
	struct pd_msg *m = pd_mime_parse(raw, sizeof(raw) - 1, NULL);

	assert_sane(m);
	assert_string_equal(m->from.name, "Doe, John");
	assert_string_equal(m->from.address, "john.doe@Example.COM");
	assert_string_equal(m->reply_to.address, "help@example.com");
	assert_string_equal(m->reply_to.name, "Help Desk");
	assert_int_equal(m->to.n, 4);
	assert_string_equal(m->to.v[0].address, "a@example.com");
	assert_string_equal(m->to.v[1].name, "B");
	assert_string_equal(m->to.v[2].address, "c@example.com");
	assert_string_equal(m->to.v[3].address, "d@example.com");
	assert_int_equal(m->cc.n, 2);
	assert_string_equal(m->cc.v[1].address, "y@example.com");
	assert_string_equal(m->subject, "Hi");
	assert_string_equal(m->message_id, "id-1@example.com");
	assert_string_equal(m->in_reply_to, "parent@example.com");
	assert_int_equal(m->n_references, 3);
	assert_string_equal(m->references[0], "root@example.com");
	assert_string_equal(m->references[1], "parent@example.com");
	assert_string_equal(m->references[2], "mid@example.com");
	assert_int_equal(m->date, -27723480); /* 1969-02-14 03:02:00 UTC */
	assert_int_equal(m->date_tz_minutes, -210);
	assert_string_equal(m->auto_submitted, "auto-replied");
	assert_string_equal(m->precedence, "bulk");
	assert_string_equal(m->list_id, "Support <support.example.com>");
	assert_string_equal(m->return_path, "<bounce@example.net>");
	assert_string_equal(m->x_priority, "1 (Highest)");
	assert_string_equal(m->importance, "high");
	/* the topmost one, unfolded: the receiving server's */
	assert_non_null(m->authentication_results);
	assert_non_null(strstr(m->authentication_results, "mx.example.com;"));
	assert_non_null(strstr(m->authentication_results, "dkim=pass header.d=example.com"));
	assert_null(strstr(m->authentication_results, "forged"));
	assert_string_equal(m->body_text, "body\n");
	pd_msg_free(m);
}

/*
 * 5,000 References: at most 100 kept, the root first, the newest last,
 * then In-Reply-To.
 */
static void test_references_cap(void **state)
{
	(void)state;
	struct pd_buf b;
	struct pd_msg *m;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "From: a@example.com\nIn-Reply-To: <p@x>\nReferences:");
	for (int i = 0; i < 5000; i++)
		pd_buf_printf(&b, " <r%d@x>%s", i % 2500, i % 7 == 0 ? "\n" : "");
	pd_buf_append_str(&b, "\n\nbody\n");
	m = pd_mime_parse(b.data, b.len, NULL);
	assert_sane(m);
	assert_true(m->n_references <= 100);
	assert_string_equal(m->references[0], "r0@x");             /* root kept */
	assert_string_equal(m->references[m->n_references - 1], "p@x"); /* then In-Reply-To */
	assert_string_equal(m->references[m->n_references - 2], "r2499@x");
	pd_msg_free(m);
	pd_buf_free(&b);
}

/*
 * pd_mime_decode_header: standard and broken encoded words, CJK and
 * Cyrillic charsets, raw 8-bit text with and without a default charset.
 */
static void test_decode_header(void **state)
{
	(void)state;
	static const struct {
		const char *in, *defcs, *out;
	} cases[] = {
		{"plain", NULL, "plain"},
		{"=?utf-8?q?a_b?=", NULL, "a b"},
		{"=?UTF-8?B?0J/RgNC40LLQtdGC?=", NULL, "Привет"},
		{"=?utf-8?b?0J/RgNC4?= =?utf-8?b?0LLQtdGC?=", NULL, "Привет"},
		/* a base64 quantum split across words by a broken mailer */
		{"=?utf-8?B?0J/R?= =?utf-8?B?gNC4?=", NULL, "При"},
		{"x=?iso-8859-1?q?=E9?=y", NULL, "xéy"},
		{"=?iso-8859-1?q?a?=  =?iso-8859-1?q?b?=", NULL, "ab"},
		{"=?iso-8859-1?q?a?= c =?iso-8859-1?q?b?=", NULL, "a c b"},
		{"=?utf-8?q?=D0?= =?koi8-r?q?=F3?=", NULL, "\xef\xbf\xbd" "С"},
		{"=?bogus-charset?q?caf=E9?=", NULL, "café"},
		{"=?utf-8?q?unterminated", NULL, "=?utf-8?q?unterminated"},
		{"=?utf-8?x?bad-encoding?=", NULL, "=?utf-8?x?bad-encoding?="},
		{"=?gb2312?B?xOO6ww==?=", NULL, "你好"},
		{"=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", NULL, "テスト"},
		{"=?ks_c_5601-1987?B?vsiz58fPvLy/5A==?=", NULL, "안녕하세요"},
		{"=?shift_jis?B?g2WDWINn?=", NULL, "テスト"},
		{"=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=", NULL, "Привет"},
		{"caf\xe9", NULL, "café"},
		{"\xcf\xf0\xe8\xe2\xe5\xf2", "windows-1251", "Привет"},
		{"ok \xff\xfe", "utf-8", "ok \xef\xbf\xbd\xef\xbf\xbd"},
		{"=?utf-8?q?a=00b=0D=0Ac?=", NULL, "a\xef\xbf\xbd" "b  c"},
		{"folded\r\n value", NULL, "folded value"},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		char *s = pd_mime_decode_header(cases[i].in, cases[i].defcs);
		if (strcmp(s, cases[i].out) != 0)
			print_error("case %zu: [%s] -> [%s], want [%s]\n", i, cases[i].in, s,
				    cases[i].out);
		assert_true(pd_utf8_valid(s, strlen(s)));
		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

/*
 * pd_mime_to_utf8: conversion, U+FFFD for invalid bytes, NULL only for an
 * unknown charset with non-UTF-8 bytes, no NUL in the output.
 */
static void test_to_utf8(void **state)
{
	(void)state;
	char *s;

	s = pd_mime_to_utf8("koi8-r", "\xf3\xde\xc5\xd4", 4);
	assert_string_equal(s, "Счет");
	free(s);
	s = pd_mime_to_utf8("UTF-8", "a\xc3", 2);
	assert_string_equal(s, "a\xef\xbf\xbd");
	free(s);
	s = pd_mime_to_utf8("iso-2022-jp", "\x1b$B$9$_$^$;$s!#\x1b(B", 18);
	assert_string_equal(s, "すみません。");
	free(s);
	s = pd_mime_to_utf8("no-such-charset", "ascii", 5);
	assert_string_equal(s, "ascii");
	free(s);
	assert_null(pd_mime_to_utf8("no-such-charset", "\xff", 1));
	s = pd_mime_to_utf8("utf-16le", "a\0\0\0b\0", 6); /* U+0000 never reaches C strings */
	assert_string_equal(s, "a\xef\xbf\xbd" "b");
	free(s);
}

/* ------------------------------------------------- real-world fixtures */

/*
 * Mail as real clients write it, one row per file of tests/data/mime: the
 * decoded From name and address, the Subject, an excerpt of the body and
 * the attachment names.  NULL: not checked.
 */
static const struct fixture_case {
	const char *file;
	const char *from_name, *from_addr, *subject, *body;
	size_t n_att;
	const char *att[3];
	int from; /* 0: not checked, 1: body from text/plain, 2: from text/html */
} fixture_cases[] = {
	/* Foxmail: raw GBK in Subject, From name and file name; body GB2312 */
	{"foxmail_gbk.eml", "张伟", "zhangwei@example.cn", "关于CSV导出崩溃的问题",
	 "导出CSV时程序崩溃，订单号 ACME-7781。", 1, {"订单导出.csv"}, 1},
	/* Becky!: raw Shift_JIS with NEC row 13 (①, ㈱) and IBM 髙, "Shift_JIS" label */
	{"sjis_nec.eml", "髙橋 一郎", "takahashi@example.co.jp", "①ログインできない件（㈱山田商事）",
	 "①ログインできません。 ②パスワード再設定のメールが届きません。 ㈱山田商事 髙橋", 0, {NULL}, 0},
	/* Outlook ISO-2022-JP with CP50221 extensions, in encoded words and the body */
	{"iso2022jp_outlook.eml", "佐藤 花子", "sato@example.jp", "①お問い合わせ ㈱テスト",
	 "㈱テスト　佐藤です。 請求書の件でご連絡しました。 ①金額が違います", 0, {NULL}, 0},
	/* "utf8" label; quoted-printable soft breaks inside two-byte characters */
	{"utf8_label_qp.eml", "Ольга Смирнова", "olga@example.ru", "Не могу войти",
	 "Не могу войти в личный кабинет, пишет «неверный пароль». Заказ № 55120, спасибо.", 0,
	 {NULL}, 0},
	/* no charset anywhere: raw GBK subject, name and body (uchardet) */
	{"undeclared_gbk.eml", "李娜", "lina@example.cn", "无法登录账户，请重置密码",
	 "我们的账户无法登录，系统一直提示密码错误。", 0, {NULL}, 0},
	/* Ukrainian text labelled KOI8-R: read as KOI8-U */
	{"koi8u_mislabel.eml", "Олексій", "oleksii@example.ua", "Не працює експорт",
	 "Не працює експорт звітів, з'являється помилка. Дякую, Олексій", 0, {NULL}, 0},
	/* a relay wrapped a B-encoded Subject at column 0, before From */
	{"broken_fold.eml", "Пётр Иванов", "petr@example.ru",
	 "Не работает экспорт в CSV после обновления до версии 4.2, срочно нужна помощь",
	 "Экспорт падает с ошибкой 500.", 0, {NULL}, 0},
	/* the same as the last field before the body */
	{"broken_fold_last.eml", "Anna Berg", "anna@example.de",
	 "Rückerstattung für Bestellung 4711 fehlt", "Guten Tag, die Rückerstattung fehlt noch.", 0,
	 {NULL}, 0},
	/* a forwarding tool's separator line above the fields */
	{"leading_separator.eml", "Maria Lopez", "maria@example.es", "Invoice 2026-118 is wrong",
	 "Hello, the VAT on invoice 2026-118 is wrong.", 0, {NULL}, 0},
	/* a UTF-8 BOM, an mbox From line, "From :" and "Subject   :" */
	{"mbox_bom.eml", "Jean Dupont", "jean@example.fr", "Commande 8812 : colis endommagé",
	 "Bonjour, le colis est arrivé endommagé.", 0, {NULL}, 0},
	/* multipart/mixed: a forwarded remnant as text/plain, the message in text/html */
	{"mixed_forward_remnant.eml", "Dana Whitfield", "dana@acme.example", "CSV export crashes",
	 "The CSV export crashes every time I open the order list. Order account: ACME-7781.", 0,
	 {NULL}, 2},
	/* the same with a quote and a Russian attribution line */
	{"mixed_quoted_remnant.eml", "Иван Петров", "ivan@example.ru", "Re: Счёт 118",
	 "Счёт 118 не совпадает с заказом, сумма больше на 1200 руб.", 0, {NULL}, 2},
	/* own text above a quote: the text/plain stays the body */
	{"mixed_own_text.eml", "Tom", "tom@example.org", "Re: refund",
	 "Still no refund for order 4471.", 0, {NULL}, 1},
	/* alternative: a placeholder text/plain gives way to the HTML */
	{"alt_placeholder.eml", "Shop Owner", "owner@shop.example", "Checkout error on payment page",
	 "customers get error 502 on the payment page when they press Pay.", 0, {NULL}, 2},
	/* alternative: a faithful text/plain is taken as it is */
	{"alt_faithful.eml", "Lena Kurz", "lena@example.de", "Label printer offline",
	 "See the portal: https://portal.example.de/printers", 0, {NULL}, 1},
};

/*
 * pd_mime_header_repair as a table: what the clean block holds and where
 * the body starts; NULL want = no repair needed.
 */
static void test_header_repair(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want, *body;
	} cases[] = {
		/* clean mail, with or without an mbox From line: nothing to repair */
		{"From: a@b\r\nSubject: s\r\n\r\nbody", NULL, "body"},
		{"From a@b Mon Mar  9 09:00:00 2026\nFrom: a@b\n\nbody", NULL, "body"},
		/* a body without the empty line stays a body */
		{"From: a@b\nSubject: s\nHello there\nbye\n", NULL, "Hello there\nbye\n"},
		/* "Subject :" is a field as it is */
		{"Subject : s\nFrom  : a@b\n\nbody", NULL, "body"},
		/* BOM */
		{"\xef\xbb\xbf" "From: a@b\nSubject: s\n\nbody", "From: a@b\nSubject: s\n\r\n", "body"},
		/* BOM, then an mbox From line */
		{"\xef\xbb\xbf" "From x Mon Mar  9 2026\nFrom: a@b\n\nbody", "From: a@b\n\r\n",
		 "body"},
		/* a separator line, even with an empty line, before the fields */
		{"-----Original Message-----\n\nFrom: a@b\nSubject: s\n\nbody",
		 "From: a@b\nSubject: s\n\r\n", "body"},
		/* one known field alone after junk is not enough */
		{"Hello,\nFrom: a@b\n\nbody", NULL, "Hello,\nFrom: a@b\n\nbody"},
		/* more than five junk lines: not a header block */
		{"1\n2\n3\n4\n5\n6\nFrom: a@b\nTo: c@d\n\nbody", NULL, NULL},
		/* a fold without its blank, before a known field */
		{"Subject: =?utf-8?b?QQ==?=\r\n=?utf-8?b?Qg==?=\r\nFrom: a@b\r\n\r\nbody",
		 "Subject: =?utf-8?b?QQ==?=\r\n =?utf-8?b?Qg==?=\r\nFrom: a@b\r\n\r\n", "body"},
		{"Subject: long text that\ngot wrapped\nTo: a@b\n\nbody",
		 "Subject: long text that\n got wrapped\nTo: a@b\n\r\n", "body"},
		/* an encoded word alone as the last line of the block */
		{"From: a@b\nSubject: =?utf-8?q?a?=\n=?utf-8?q?b?=\n\nbody",
		 "From: a@b\nSubject: =?utf-8?q?a?=\n =?utf-8?q?b?=\n\r\n", "body"},
		/* an unknown field after the damage does not count */
		{"From: a@b\nwrapped\nFoo: bar\n\nbody", NULL, "wrapped\nFoo: bar\n\nbody"},
		/* no empty line at all: the block runs to the end */
		{"\xef\xbb\xbf" "From: a@b\nSubject: s", "From: a@b\nSubject: s\r\n\r\n", ""},
		{"", NULL, ""},
	};

	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		struct pd_buf out;
		size_t off = 0, len = strlen(cases[i].in);
		bool r = pd_mime_header_repair(cases[i].in, len, &out, &off);

		if (r != (cases[i].want != NULL))
			fail_msg("case %zu: repaired=%d", i, (int)r);
		if (r) {
			assert_non_null(out.data);
			if (strcmp(out.data, cases[i].want) != 0)
				fail_msg("case %zu: block [%s], want [%s]", i, out.data, cases[i].want);
			assert_true(off <= len);
			assert_string_equal(cases[i].in + off, cases[i].body);
		}
		pd_buf_free(&out);
	}
	/* NULL input */
	struct pd_buf out;
	size_t off = 0;
	assert_false(pd_mime_header_repair(NULL, 0, &out, &off));
}

static void test_fixture_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < PD_ARRAY_LEN(fixture_cases); i++) {
		const struct fixture_case *fc = &fixture_cases[i];
		char *raw;
		struct pd_msg *m = parse_fixture(fc->file, &raw);

		print_message("%s\n", fc->file);
		assert_sane(m);
		assert_false(m->parse_failed);
		if (fc->from_name != NULL)
			assert_string_equal(m->from.name, fc->from_name);
		if (fc->from_addr != NULL)
			assert_string_equal(m->from.address, fc->from_addr);
		if (fc->subject != NULL)
			assert_string_equal(m->subject, fc->subject);
		if (fc->body != NULL && !body_contains(m->body_text, fc->body))
			fail_msg("%s: body lacks \"%s\":\n%s", fc->file, fc->body, m->body_text);
		assert_int_equal(m->n_attachments, fc->n_att);
		if (fc->from != 0 && m->body_from_html != (fc->from == 2))
			fail_msg("%s: body from %s", fc->file, m->body_from_html ? "HTML" : "text/plain");
		for (size_t k = 0; k < PD_ARRAY_LEN(fc->att) && fc->att[k] != NULL; k++)
			if (find_attachment(m, fc->att[k]) == NULL)
				fail_msg("%s: no attachment \"%s\"", fc->file, fc->att[k]);
		free_msg(m, raw);
	}
}

/* A Russian forward marker ("Пересылаемое сообщение", capitalised) makes the
 * text/plain a remnant too; a plain text of one's own stays the body. */
static void test_remnant_ru(void **state)
{
	(void)state;
	static const char *const plain[] = {
		"\n-------- Пересылаемое сообщение --------\nОт: Биллинг\nТема: Счёт\n\nСчёт 5.\n",
		"Посмотрите, пожалуйста.\n\n-------- Пересылаемое сообщение --------\nСчёт 5.\n",
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(plain); i++) {
		char *raw = pd_xasprintf(
			"From: a@b.example\nSubject: Fwd\nContent-Type: multipart/mixed; boundary=b\n\n"
			"--b\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
			"--b\nContent-Type: text/html; charset=utf-8\n\n<p>Счёт не оплачен, помогите</p>\n"
			"--b--\n",
			plain[i]);
		struct pd_msg *m = pd_mime_parse(raw, strlen(raw), NULL);
		assert_sane(m);
		assert_int_equal(m->body_from_html, i == 0);
		assert_true(body_contains(m->body_text, i == 0 ? "Счёт не оплачен" : "Посмотрите"));
		pd_msg_free(m);
		free(raw);
	}
}

/* ------------------------------------------------------ charset labels */

/*
 * The label table as mail clients read labels (WHATWG Encoding Standard):
 * the kind and decoder of each label, and what a lying label's bytes
 * become.
 */
static void test_charset_labels(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		enum pd_cs_kind kind;
		const char *name; /* decoder for PD_CS_ICONV */
	} labels[] = {
		{"Shift_JIS", PD_CS_ICONV, "CP932"},      {"SJIS", PD_CS_ICONV, "CP932"},
		{"x-sjis", PD_CS_ICONV, "CP932"},         {"windows-31j", PD_CS_ICONV, "CP932"},
		{"GB2312", PD_CS_ICONV, "GB18030"},       {"gbk", PD_CS_ICONV, "GB18030"},
		{"x-gbk", PD_CS_ICONV, "GB18030"},        {"EUC-CN", PD_CS_ICONV, "GB18030"},
		{"ISO-8859-1", PD_CS_ICONV, "WINDOWS-1252"}, {"latin1", PD_CS_ICONV, "WINDOWS-1252"},
		{"us-ascii", PD_CS_ASCII, NULL},          {"EUC-KR", PD_CS_ICONV, "CP949"},
		{"ks_c_5601-1987", PD_CS_ICONV, "CP949"}, {"ISO-2022-JP", PD_CS_ICONV, "ISO-2022-JP-2"},
		{"KOI8-R", PD_CS_ICONV, "KOI8-R"},        {"koi8-u", PD_CS_ICONV, "KOI8-U"},
		{"utf8", PD_CS_UTF8, NULL},               {"UTF8", PD_CS_UTF8, NULL},
		{"\"utf-8\"", PD_CS_UTF8, NULL},          {"uft-8", PD_CS_UTF8, NULL},
		{"utf-8*en", PD_CS_UTF8, NULL},           {"unicode-1-1-utf-7", PD_CS_ICONV, "UTF-7"},
		{"utf-7", PD_CS_ICONV, "UTF-7"},          {"iso-8859-9", PD_CS_ICONV, "WINDOWS-1254"},
		{"tis-620", PD_CS_ICONV, "CP874"},        {"unknown-8bit", PD_CS_NONE, NULL},
		{"", PD_CS_NONE, NULL},                   {"bad/label", PD_CS_NONE, NULL},
		{"windows-1251", PD_CS_ICONV, "WINDOWS-1251"}, {"big5", PD_CS_ICONV, "BIG5-HKSCS"},
	};
	static const struct {
		const char *label, *in, *want;
	} conv[] = {
		/* ① ㈱ № in "Shift_JIS": NEC row 13 exists only in CP932 */
		{"Shift_JIS", "\x87\x40\x87\x8a\x87\x82", "①㈱№"},
		/* 髙 (IBM extension, NEC-selected row 89) */
		{"sjis", "\xfb\xfc", "髙"},
		/* € and 镕 in "GB2312": only GB18030 (and GBK) have them */
		{"GB2312", "\xa2\xe3 \xe6\x46", "€ 鍲"},
		{"gb2312", "\xd5\xc5\xce\xb0", "张伟"},
		/* "ISO-8859-1" with windows-1252 quotes and dash */
		{"iso-8859-1", "\x93quoted\x94 \x96 dash", "“quoted” – dash"},
		/* us-ascii with 8-bit bytes: UTF-8 if valid, else windows-1252 */
		{"us-ascii", "caf\xc3\xa9", "café"},
		{"us-ascii", "caf\xe9", "café"},
		/* EUC-KR text with a UHC-only syllable (똠) */
		{"euc-kr", "\x8c\x63", "똠"},
		/* ISO-2022-JP with CP50221's NEC row 13 (① = row 0x2D cell 0x21) */
		{"iso-2022-jp", "\x1b$B-!-j\x1b(B", "①㈱"},
		{"iso-2022-jp", "\x1b$B$3$s$K$A$O\x1b(B", "こんにちは"},
		/* 8-bit garbage in ISO-2022-JP: U+FFFD, not a CP932 character */
		{"iso-2022-jp", "Dij\x8a" "at", "Dij\xef\xbf\xbd" "at"},
		/* KOI8-R label on Ukrainian words: KOI8-U; box drawing alone stays KOI8-R */
		{"koi8-r", "\xd0\xd2\xc1\xc3\xc0\xa4", "працює"},
		{"koi8-r", "\xa4\xa4 \xf3\xde\xc5\xd4", "╓╓ Счет"},
		{"utf-7", "+BB8EQAQ4BDIENQRC-", "Привет"},
	};
	char name[48];

	for (size_t i = 0; i < PD_ARRAY_LEN(labels); i++) {
		enum pd_cs_kind k = pd_charset_canon(labels[i].label, name, sizeof(name));
		if (k != labels[i].kind)
			fail_msg("label \"%s\": kind %d, want %d", labels[i].label, (int)k,
				 (int)labels[i].kind);
		if (labels[i].name != NULL)
			assert_string_equal(name, labels[i].name);
	}
	for (size_t i = 0; i < PD_ARRAY_LEN(conv); i++) {
		char *s = pd_mime_to_utf8(conv[i].label, conv[i].in, strlen(conv[i].in));
		assert_non_null(s);
		if (strcmp(s, conv[i].want) != 0)
			fail_msg("%s \"%s\": got \"%s\", want \"%s\"", conv[i].label, conv[i].in, s,
				 conv[i].want);
		free(s);
	}
}

/*
 * The guess for undeclared 8-bit text: only charsets seen in mail, only a
 * guess that decodes the bytes, nothing for ASCII or valid UTF-8.
 */
static void test_charset_detect(void **state)
{
	(void)state;
	struct pd_charset_cache cv;
	const char *gbk = "\xc4\xfa\xba\xc3\xa3\xac\xce\xd2\xc3\xc7\xb5\xc4\xd5\xcb\xbb\xa7\xce\xde"
			  "\xb7\xa8\xb5\xc7\xc2\xbc\xa3\xac\xcf\xb5\xcd\xb3\xd2\xbb\xd6\xb1\xcc\xe1"
			  "\xca\xbe\xc3\xdc\xc2\xeb\xb4\xed\xce\xf3\xa1\xa3"; /* 您好，我们的账户无法登录... */
	const char *sjis = "\x8a\x94\x8e\xae\x89\xef\x8e\xd0\x83\x54\x83\x93\x83\x76\x83\x8b"
			   "\x82\xb2\x92\x53\x93\x96\x8e\xd2\x97\x6c"; /* 株式会社サンプルご担当者様 */
	const char *cp1251 = "\xcd\xe5 \xf0\xe0\xe1\xee\xf2\xe0\xe5\xf2 \xef\xf0\xe8\xed\xf2\xe5"
			     "\xf0, \xef\xee\xec\xee\xe3\xe8\xf2\xe5 \xef\xee\xe6\xe0\xeb\xf3\xe9\xf1"
			     "\xf2\xe0"; /* Не работает принтер, помогите пожалуйста */
	const char *g;

	pd_charset_cache_init(&cv);
	g = pd_charset_detect(&cv, gbk, strlen(gbk));
	assert_non_null(g);
	assert_string_equal(g, "gb18030");
	g = pd_charset_detect(&cv, sjis, strlen(sjis));
	assert_non_null(g);
	assert_string_equal(g, "shift_jis");
	g = pd_charset_detect(&cv, cp1251, strlen(cp1251));
	assert_non_null(g);
	assert_string_equal(g, "windows-1251");
	assert_null(pd_charset_detect(&cv, "plain ascii", 11));
	assert_null(pd_charset_detect(&cv, "caf\xc3\xa9", 5));
	assert_null(pd_charset_detect(&cv, "", 0));
	pd_charset_cache_close(&cv);
}

/* ------------------------------------------------------------- hostile */

/* 10,000 parts: parsed up to max_parts, with a warning. */
static void test_many_parts(void **state)
{
	(void)state;
	struct pd_buf b;
	struct pd_msg *m;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "From: a@example.com\nSubject: parts\n"
			      "Content-Type: multipart/mixed; boundary=B\n\n");
	for (int i = 0; i < 10000; i++)
		pd_buf_printf(&b, "--B\nContent-Type: application/octet-stream; name=f%d\n\n%d\n", i, i);
	pd_buf_append_str(&b, "--B--\n");
	m = pd_mime_parse(b.data, b.len, NULL);
	assert_sane(m);
	/* the multipart itself counts: 9,999 leaves fit the default budget */
	assert_int_equal(m->n_attachments, 9999);
	assert_true(m->n_warnings >= 1);
	pd_msg_free(m);

	struct pd_mime_opts o = {.max_parts = 100};
	m = pd_mime_parse(b.data, b.len, &o);
	assert_int_equal(m->n_attachments, 99);
	pd_msg_free(m);
	pd_buf_free(&b);
}

/* A mail with depth nested multipart/mixed levels and one text at the bottom. */
static char *nested(size_t depth, size_t *len_r)
{
	struct pd_buf b;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "From: a@example.com\r\nSubject: deep\r\n");
	for (size_t i = 0; i < depth; i++)
		pd_buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%zu\"\r\n\r\n--b%zu\r\n",
			      i, i);
	pd_buf_append_str(&b, "Content-Type: text/plain\r\n\r\ninnermost\r\n");
	for (size_t i = depth; i-- > 0;)
		pd_buf_printf(&b, "--b%zu--\r\n", i);
	return pd_buf_steal(&b, len_r);
}

/*
 * 200 levels (beyond max_depth), 100,000 levels (what overflows libetpan's
 * stack) and 50,000 nested message/rfc822: bounded, fast, no crash.
 */
static void test_deep_nesting(void **state)
{
	(void)state;
	size_t len;
	char *raw = nested(200, &len);
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);

	/* beyond 64 levels: not descended, warned, no crash */
	assert_sane(m);
	assert_string_equal(m->body_text, "");
	assert_true(m->n_warnings >= 1);
	assert_false(m->parse_failed);
	pd_msg_free(m);
	struct pd_mime_opts o = {.max_depth = 300};
	m = pd_mime_parse(raw, len, &o);
	assert_string_equal(m->body_text, "innermost");
	pd_msg_free(m);
	free(raw);

	/* what made libetpan's recursive parser overflow the stack */
	raw = nested(100000, &len);
	o.max_depth = 1000000; /* clamped */
	m = pd_mime_parse(raw, len, &o);
	assert_sane(m);
	pd_msg_free(m);
	free(raw);

	/* message/rfc822 nested the same way */
	struct pd_buf b;
	pd_buf_init(&b);
	for (int i = 0; i < 50000; i++)
		pd_buf_append_str(&b, "Content-Type: message/rfc822\n\nSubject: x\n");
	pd_buf_append_str(&b, "\nend\n");
	m = pd_mime_parse(b.data, b.len, NULL);
	assert_sane(m);
	/* the outer message/rfc822 whole; the ones inside it are not copied again */
	assert_int_equal(m->n_attachments, 1);
	pd_msg_free(m);
	pd_buf_free(&b);
}

/*
 * A 1 MB subject of near-miss encoded words, a 1 MB header line and a To:
 * full of unbalanced comments: linear time, body intact.
 */
static void test_huge_header(void **state)
{
	(void)state;
	struct pd_buf b;
	struct pd_msg *m;

	pd_buf_init(&b);
	pd_buf_append_str(&b, "From: a@example.com\nSubject: ");
	for (int i = 0; i < 1024 * 1024 / 8; i++)
		pd_buf_append_str(&b, "=?x?q?a");
	pd_buf_append_str(&b, "\nX-Long: ");
	for (int i = 0; i < 1024 * 1024; i++)
		pd_buf_append_char(&b, (char)('a' + i % 26));
	pd_buf_append_str(&b, "\nTo: ");
	for (int i = 0; i < 20000; i++)
		pd_buf_append_str(&b, "(c(c(c<x>) ");
	pd_buf_append_str(&b, "\n\nbody\n");
	m = pd_mime_parse(b.data, b.len, NULL);
	assert_sane(m);
	assert_true(strlen(m->subject) > 900000);
	assert_string_equal(m->body_text, "body\n");
	pd_msg_free(m);
	pd_buf_free(&b);
}

/* NUL bytes neither truncate nor survive: they become U+FFFD. */
static void test_nul_bytes(void **state)
{
	(void)state;
	static const char raw[] = "From: a@exa\0mple.com\r\nSubject: before\0after\r\n"
				  "Content-Type: text/plain\r\n\r\nline one\0line two\r\nend\r\n";
	struct pd_msg *m = pd_mime_parse(raw, sizeof(raw) - 1, NULL);

	assert_sane(m);
	assert_string_equal(m->subject, "before\xef\xbf\xbd" "after");
	assert_string_equal(m->body_text, "line one\xef\xbf\xbdline two\nend\n");
	pd_msg_free(m);
}

/*
 * Broken base64 and quoted-printable, an unknown charset, a missing closing
 * boundary: everything decodable is decoded, damage is a warning.
 */
static void test_broken_encodings(void **state)
{
	(void)state;
	static const char raw[] =
		"From: a@example.com\nSubject: b\nContent-Type: multipart/mixed; boundary=x\n\n"
		"--x\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
		"SGVsbG8s!!IHdvcmxk*\n=ISE=\nQQ\n"
		"--x\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n"
		"%%%%\n"
		"--x\nContent-Type: text/plain; name=q.txt\nContent-Transfer-Encoding: quoted-printable\n\n"
		"a=ZZb=\nc=3Dd=4\n"
		"--x\nContent-Type: text/plain; charset=no-such\nContent-Disposition: attachment\n\nx\n";
	struct pd_msg *m = pd_mime_parse(raw, sizeof(raw) - 1, NULL);
	const struct pd_attachment *q;

	assert_sane(m);
	assert_true(strncmp(m->body_text, "Hello, world", 12) == 0);
	assert_int_equal(m->n_attachments, 3);
	assert_int_equal(m->attachments[0].size, 0);
	q = find_attachment(m, "q.txt");
	assert_non_null(q);
	assert_int_equal(q->size, 10);
	assert_memory_equal(q->data, "a=ZZbc=d=4", 10); /* bad escapes kept, soft break removed */
	assert_true(m->n_warnings >= 1); /* damaged base64, missing close boundary */
	pd_msg_free(m);
}

/*
 * Not a mail, empty, NULL, header only: parse_failed where it applies, a
 * body where there is text, never a crash.
 */
static void test_unparseable(void **state)
{
	(void)state;
	static const char garbage[] = "\x01\x02\xff binary junk\nwithout headers\n";
	struct pd_msg *m;

	m = pd_mime_parse(garbage, sizeof(garbage) - 1, NULL);
	assert_sane(m);
	assert_true(m->parse_failed);
	assert_non_null(m->parse_error);
	assert_non_null(strstr(m->body_text, "without headers"));
	pd_msg_free(m);

	m = pd_mime_parse("", 0, NULL);
	assert_sane(m);
	assert_true(m->parse_failed);
	pd_msg_free(m);

	m = pd_mime_parse(NULL, 0, NULL);
	assert_sane(m);
	pd_msg_free(m);

	/* headers only, no body, no final newline */
	m = pd_mime_parse("Subject: x", 10, NULL);
	assert_sane(m);
	assert_string_equal(m->subject, "x");
	assert_false(m->parse_failed);
	pd_msg_free(m);
}

/* Above max_size: not parsed, but the headers are read. */
static void test_oversized(void **state)
{
	(void)state;
	char *raw;
	char *path = fixture_path("nested.eml");
	size_t len;
	struct pd_mime_opts o = {.max_size = 100};
	struct pd_msg *m;

	assert_int_equal(pd_read_file(path, &raw, &len), 0);
	m = pd_mime_parse(raw, len, &o);
	assert_sane(m);
	assert_true(m->oversized);
	assert_false(m->parse_failed);
	assert_non_null(m->parse_error);
	assert_string_equal(m->subject, "nested"); /* headers still read */
	assert_string_equal(m->from.address, "carol@example.com");
	assert_int_equal(m->n_attachments, 0);
	assert_string_equal(m->body_text, "");
	pd_msg_free(m);
	free(raw);
	free(path);
}

/* --------------------------------------------------------- content hash */

/* pd_mime_content_hash of a C string. */
static void hash_of(const char *s, unsigned char out[32])
{
	pd_mime_content_hash(s, strlen(s), out);
}

/*
 * Same mail delivered twice hashes equal; different mails with one
 * Message-ID hash differently.
 */
static void test_content_hash(void **state)
{
	(void)state;
	unsigned char a[32], b[32], c[32], d[32], e[32];

	/* one mail, two deliveries: other trace headers, mbox line, CRLF vs LF */
	hash_of("Received: from a by b; Mon, 2 Mar 2026 10:00:00 +0000\r\n"
		"Delivered-To: alice@example.com\r\n"
		"From: x@example.com\r\nMessage-ID: <1@x>\r\nSubject: hi\r\n\r\nbody\r\n", a);
	hash_of("From x@example.com Mon Mar  2 10:00:01 2026\n"
		"Return-Path: <x@example.com>\n"
		"Received: from c by d;\n\tMon, 2 Mar 2026 10:00:01 +0000\n"
		"Delivered-To: bob@example.com\n"
		"X-Original-To: support@example.com\n"
		"From: x@example.com\nARC-Seal: i=1; a=rsa-sha256\n"
		"Message-ID: <1@x>\nSubject: hi\nAuthentication-Results: mx; spf=pass\n\nbody\n\n", b);
	assert_memory_equal(a, b, 32);
	/* same Message-ID, other content: different */
	hash_of("From: x@example.com\r\nMessage-ID: <1@x>\r\nSubject: hi\r\n\r\nbody!\r\n", c);
	assert_memory_not_equal(a, c, 32);
	hash_of("From: x@example.com\r\nMessage-ID: <1@x>\r\nSubject: hi there\r\n\r\nbody\r\n", d);
	assert_memory_not_equal(a, d, 32);
	/* DKIM-Signature is part of the mail */
	hash_of("DKIM-Signature: v=1\r\nFrom: x@example.com\r\nMessage-ID: <1@x>\r\n"
		"Subject: hi\r\n\r\nbody\r\n", e);
	assert_memory_not_equal(a, e, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_all),
		cmocka_unit_test(test_corpus_expected),
		cmocka_unit_test(test_koi8r),
		cmocka_unit_test(test_cp1251),
		cmocka_unit_test(test_broken_words),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_html_only),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_rfc822),
		cmocka_unit_test(test_raw8bit),
		cmocka_unit_test(test_tnef),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_references_cap),
		cmocka_unit_test(test_decode_header),
		cmocka_unit_test(test_to_utf8),
		cmocka_unit_test(test_fixture_table),
		cmocka_unit_test(test_header_repair),
		cmocka_unit_test(test_remnant_ru),
		cmocka_unit_test(test_charset_labels),
		cmocka_unit_test(test_charset_detect),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_huge_header),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_broken_encodings),
		cmocka_unit_test(test_unparseable),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_content_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
