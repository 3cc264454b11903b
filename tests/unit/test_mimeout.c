/*
 * test_mimeout.c - outbound MIME built by mimeout.c (through render.c) and
 * read back by the inbound parser (mime.c): the text, the HTML, every
 * attachment's file name, type, Content-ID and exact bytes; the structure
 * (mixed / alternative / related) as the headers say it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "html.h"
#include "mime.h"
#include "mimeout.h"
#include "msg.h"
#include "outparts.h"
#include "render.h"

static struct pd_addr to1 = {(char *)"", (char *)"agent@example.com"};

static char *render(const char *text, const char *html, const struct pd_mimeout_part *p,
		    size_t n, size_t *len)
{
	struct pd_render_mail m = {
	    .kind = "notice",
	    .auto_submitted = "auto-generated",
	    .from = {(char *)"Support", (char *)"support@example.com"},
	    .to = &to1,
	    .n_to = 1,
	    .subject = "[Support #1] Hello",
	    .message_id = "pd.1.notice.abc@example.com",
	    .date = 1700000000,
	    .body = text,
	    .html = html,
	    .parts = p,
	    .n_parts = n,
	};
	struct pd_buf b;
	struct pd_err err;

	pd_buf_init(&b);
	assert_int_equal(pd_render_mail(&m, &b, &err), 0);
	pd_buf_append(&b, "", 0);
	return pd_buf_steal(&b, len);
}

static const struct pd_attachment *find(const struct pd_msg *m, const char *name)
{
	for (size_t i = 0; i < m->n_attachments; i++)
		if (m->attachments[i].filename && strcmp(m->attachments[i].filename, name) == 0)
			return &m->attachments[i];
	return NULL;
}

/* Every byte value, twice, and a CRLF, a lone LF and a NUL in a row. */
static unsigned char binary[600];

static void fill_binary(void)
{
	for (size_t i = 0; i < sizeof(binary); i++)
		binary[i] = (unsigned char)(i * 7 + 3);
	memcpy(binary + 100, "\r\n\n\0--boundary\r\n", 16);
}

static void test_text_only_is_unchanged(void **state)
{
	(void)state;
	size_t len;
	char *raw = render("hello\n", NULL, NULL, 0, &len);

	assert_non_null(strstr(raw, "Content-Type: text/plain; charset=utf-8\r\n"));
	assert_null(strstr(raw, "multipart"));
	free(raw);
}

static void test_attachments_round_trip(void **state)
{
	(void)state;
	fill_binary();
	static const char png[] = "\x89PNG\r\n\x1a\n fake image";
	struct pd_mimeout_part parts[] = {
	    {"report 2024.pdf", "application/pdf", NULL, false, binary, sizeof(binary)},
	    {"logo.png", "image/png", "logo@x", true, png, sizeof(png) - 1},
	    {"Отчёт.txt", "text/plain", NULL, false, "plain file\n", 11},
	    {"empty.bin", "bogus type!", NULL, false, "", 0},
	};
	size_t len;
	char *raw = render("Text with = and ü\n[image: logo.png]\n",
			   "<p>Hi <img src=\"cid:logo@x\"></p>", parts, 4, &len);
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);

	assert_false(m->parse_failed);
	assert_string_equal(m->body_text, "Text with = and ü\n[image: logo.png]\n");
	assert_non_null(m->body_html);
	assert_non_null(strstr(m->body_html, "<img src=\"cid:logo@x\">"));
	assert_int_equal(m->n_attachments, 4);

	const struct pd_attachment *a = find(m, "report 2024.pdf");
	assert_non_null(a);
	assert_string_equal(a->content_type, "application/pdf");
	assert_int_equal(a->size, sizeof(binary));
	assert_memory_equal(a->data, binary, sizeof(binary));
	assert_string_equal(a->disposition, "attachment");

	a = find(m, "logo.png");
	assert_non_null(a);
	assert_string_equal(a->content_type, "image/png");
	assert_string_equal(a->content_id, "logo@x");
	assert_int_equal(a->size, sizeof(png) - 1);
	assert_memory_equal(a->data, png, sizeof(png) - 1);

	a = find(m, "Отчёт.txt");
	assert_non_null(a);
	assert_string_equal(a->content_type, "text/plain");
	assert_int_equal(a->size, 11);
	assert_memory_equal(a->data, "plain file\n", 11);

	a = find(m, "empty.bin");
	assert_non_null(a);
	assert_string_equal(a->content_type, "application/octet-stream");
	assert_int_equal(a->size, 0);

	/* the structure: mixed around alternative around related */
	char *mixed = strstr(raw, "Content-Type: multipart/mixed");
	char *alt = strstr(raw, "Content-Type: multipart/alternative");
	char *rel = strstr(raw, "Content-Type: multipart/related");
	assert_non_null(mixed);
	assert_non_null(alt);
	assert_non_null(rel);
	assert_true(mixed < alt && alt < rel);
	/* boundaries no quoted-printable or base64 content can hold: "=_" and random */
	char *bd = strstr(raw, "boundary=\"=_pd_");
	assert_non_null(bd);
	assert_int_equal(strspn(bd + 15, "0123456789abcdef"), 32);
	assert_int_equal(bd[47], '"');
	/* the headers stay render.c's, once */
	assert_non_null(strstr(raw, "X-Postdesk-Kind: notice\r\n"));
	assert_int_equal(strstr(raw, "MIME-Version") == strstr(strstr(raw, "MIME-Version") + 1,
							       "MIME-Version"),
			 0);
	pd_msg_free(m);
	free(raw);
}

static void test_html_without_images(void **state)
{
	(void)state;
	size_t len;
	char *raw = render("plain\n", "<p>rich</p>", NULL, 0, &len);
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);

	assert_non_null(strstr(raw, "Content-Type: multipart/alternative"));
	assert_null(strstr(raw, "multipart/mixed"));
	assert_null(strstr(raw, "multipart/related"));
	assert_string_equal(m->body_text, "plain\n");
	assert_int_equal(strncmp(m->body_html, "<p>rich</p>", 11), 0); /* and its line end */
	assert_int_equal(m->n_attachments, 0);
	pd_msg_free(m);
	free(raw);
}

/* Trailing white space survives the quoted-printable text parts exactly
 * (the signature separator "-- " above all). */
static void test_trailing_space(void **state)
{
	(void)state;
	size_t len;
	char *raw = render("Thanks.\n\n-- \nAlice  \ntab\t\n", "<p>x</p>", NULL, 0, &len);
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);

	assert_non_null(strstr(raw, "\r\n--=20\r\n"));
	assert_string_equal(m->body_text, "Thanks.\n\n-- \nAlice  \ntab\t\n");
	pd_msg_free(m);
	free(raw);
}

static void test_inline_without_html_is_attached(void **state)
{
	(void)state;
	struct pd_mimeout_part p = {"a.png", "image/png", "c1", true, "PNG", 3};
	size_t len;
	char *raw = render("plain\n", NULL, &p, 1, &len);
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);

	assert_non_null(strstr(raw, "multipart/mixed"));
	assert_int_equal(m->n_attachments, 1);
	assert_memory_equal(m->attachments[0].data, "PNG", 3);
	assert_string_equal(m->attachments[0].content_id, "c1");
	pd_msg_free(m);
	free(raw);
}

/* An attached mail keeps its bytes: it travels as a file (a message/rfc822
 * part may not be base64, and libetpan would build it as a structure). */
static void test_attached_message(void **state)
{
	(void)state;
	static const char inner[] = "From: x@example.org\r\nSubject: fwd\r\n\r\nInner body\r\n";
	struct pd_mimeout_part p[] = {
	    {NULL, "message/rfc822", NULL, false, inner, sizeof(inner) - 1},
	    {"parts.bin", "multipart/mixed", NULL, false, "--x--\r\n", 7},
	};
	size_t len;
	char *raw = render("see the forwarded mail\n", NULL, p, 2, &len);
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);

	assert_int_equal(m->n_attachments, 2);
	assert_string_equal(m->attachments[0].filename, "message.eml");
	assert_string_equal(m->attachments[0].content_type, "application/octet-stream");
	assert_int_equal(m->attachments[0].size, sizeof(inner) - 1);
	assert_memory_equal(m->attachments[0].data, inner, sizeof(inner) - 1);
	assert_string_equal(m->attachments[1].filename, "parts.bin");
	assert_memory_equal(m->attachments[1].data, "--x--\r\n", 7);
	pd_msg_free(m);
	free(raw);
}

/* A name with quotes and control characters cannot break the header. */
static void test_hostile_name(void **state)
{
	(void)state;
	struct pd_mimeout_part p = {"a\"b\r\nX-Evil: 1\\.txt", "text/plain", NULL, false, "x", 1};
	size_t len;
	char *raw = render("plain\n", NULL, &p, 1, &len);
	struct pd_msg *m = pd_mime_parse(raw, len, NULL);

	assert_null(strstr(raw, "\r\nX-Evil"));
	assert_int_equal(m->n_attachments, 1);
	assert_non_null(m->attachments[0].filename);
	assert_non_null(strstr(m->attachments[0].filename, "X-Evil: 1"));
	pd_msg_free(m);
	free(raw);
}

/* [image: NAME] where a cid image stood in an HTML-only mail. */
static void test_image_placeholder(void **state)
{
	(void)state;
	static const char mail[] =
	    "From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/related; boundary=\"B\"\r\n\r\n"
	    "--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	    "<p>See <img src=\"cid:img1@x\" alt=\"shot\"> here and <img src=\"http://e/x.png\"></p>\r\n"
	    "--B\r\nContent-Type: image/png; name=\"screen shot.png\"\r\nContent-ID: <img1@x>\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nUE5H\r\n--B--\r\n";
	struct pd_msg *m = pd_mime_parse(mail, sizeof(mail) - 1, NULL);

	assert_true(m->body_from_html);
	assert_string_equal(m->body_text, "See [image: screen shot.png] here and");
	assert_non_null(m->body_html);
	pd_msg_free(m);
}

/* The parts of a parsed mail: related only where the HTML refers to them. */
static void test_outparts_of(void **state)
{
	(void)state;
	static const char mail[] =
	    "From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"M\"\r\n\r\n"
	    "--M\r\nContent-Type: multipart/related; boundary=\"B\"\r\n\r\n"
	    "--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	    "<p>See <img src=\"cid:img1@x\"></p>\r\n"
	    "--B\r\nContent-Type: image/png; name=\"a.png\"\r\nContent-ID: <img1@x>\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nUE5H\r\n--B--\r\n"
	    "--M\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n"
	    "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--M--\r\n";
	struct pd_msg *m = pd_mime_parse(mail, sizeof(mail) - 1, NULL);
	size_t n;
	struct pd_mimeout_part *p = pd_outparts_of(m, m->body_html, &n);

	assert_int_equal(n, 2);
	assert_string_equal(p[0].filename, "a.png");
	assert_true(p[0].related);
	assert_string_equal(p[1].filename, "r.pdf");
	assert_false(p[1].related);
	assert_int_equal(pd_outparts_total(m), 3 + 9);
	free(p);

	char *l = pd_outparts_listing(m, 77, 10, "en");
	assert_non_null(strstr(l, "  a.png (image/png, 3 B)\n"));
	assert_non_null(strstr(l, "    postdesk attachment 77 "));
	char want[80];
	snprintf(want, sizeof(want), "postdesk attachment 77 %.12s > r.pdf\n",
		 m->attachments[1].sha256_hex);
	assert_non_null(strstr(l, want));
	free(l);
	l = pd_outparts_listing(m, 77, 10, "ru");
	assert_non_null(strstr(l, "Вложения"));
	free(l);
	pd_msg_free(m);
}

/* A plain alternative without the images: the notice's text comes from
 * the HTML, with [image: NAME]; an HTML-only mail's text says it already. */
static void test_outparts_image_text(void **state)
{
	(void)state;
	static const char mail[] =
	    "From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"A\"\r\n\r\n"
	    "--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee here.\r\n"
	    "--A\r\nContent-Type: multipart/related; boundary=\"B\"\r\n\r\n"
	    "--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	    "<p>See <img src=\"cid:i@x\"> here.</p>\r\n"
	    "--B\r\nContent-Type: image/png; name=\"shot.png\"\r\nContent-ID: <i@x>\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nUE5H\r\n--B--\r\n--A--\r\n";
	struct pd_msg *m = pd_mime_parse(mail, sizeof(mail) - 1, NULL);
	char *t = pd_outparts_image_text(m);

	assert_false(m->body_from_html);
	assert_non_null(t);
	assert_string_equal(t, "See [image: shot.png] here.");
	free(t);
	free(m->body_html);
	m->body_html = pd_xstrdup("<p>no images</p>");
	assert_null(pd_outparts_image_text(m));
	pd_msg_free(m);
}

/* The agent's HTML answer: sanitised without the quoted notice and with
 * the footer; made from the plain text when the notice still shows. */
static void test_outparts_answer_html(void **state)
{
	(void)state;
	enum pd_answer_html how;
	char *h;

	assert_null(pd_outparts_answer_html(NULL, 7, "text", "footer", &how));
	assert_int_equal(how, PD_ANSWER_HTML_NONE);

	h = pd_outparts_answer_html(
	    "<p>Restart it.</p><script>x()</script><blockquote type=\"cite\"><p>======== postdesk "
	    "notice: answer above or below; nothing between these lines reaches the customer "
	    "========</p><p>Ticket #7: a message from Sarah</p><p>======== end of postdesk notice "
	    "========</p></blockquote>",
	    7, "Restart it.\n\n-- \nAlice", "-- \nAlice", &how);
	assert_int_equal(how, PD_ANSWER_HTML_SANITISED);
	assert_non_null(strstr(h, "Restart it."));
	assert_non_null(strstr(h, "Alice"));
	assert_null(strstr(h, "script"));
	assert_null(strstr(h, "postdesk notice"));
	assert_null(strstr(h, "Ticket #7"));
	free(h);

	/* the notice quoted in a way the sanitiser does not know as a quote */
	h = pd_outparts_answer_html("<p>Restart it.</p><div>Ticket #7: a message from Sarah</div>",
				    7, "Restart it.\n\n-- \nAlice", "-- \nAlice", &how);
	assert_int_equal(how, PD_ANSWER_HTML_LEAKED);
	assert_non_null(strstr(h, "<p>Restart it.</p>"));
	assert_null(strstr(h, "Ticket #7"));
	free(h);
}

static void test_outparts_text_html(void **state)
{
	(void)state;
	char *h = pd_outparts_text_html(
	    "======== postdesk notice: x ========\nHello <you> & \"me\"\nline 2\n\n"
	    "---\nPLACE\n---\n======== end of postdesk notice ========\n",
	    "PLACE", "<b>customer</b>");

	assert_non_null(strstr(h, "<p>======== postdesk notice: x ========</p>"));
	assert_non_null(strstr(h, "<p>Hello &lt;you&gt; &amp; &quot;me&quot;<br>\nline 2</p>"));
	assert_non_null(strstr(h, "<div>\n<b>customer</b>\n</div>"));
	assert_non_null(strstr(h, "<p>======== end of postdesk notice ========</p>"));
	char *t = pd_html_to_text(h, strlen(h));
	assert_true(pd_outparts_has_marker(t));
	free(t);
	free(h);
	assert_true(pd_outparts_has_marker("answer\n> > ======== end of postdesk notice ===\n"));
	assert_false(pd_outparts_has_marker("answer\n== postdesk notice\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_only_is_unchanged),
	    cmocka_unit_test(test_attachments_round_trip),
	    cmocka_unit_test(test_html_without_images),
	    cmocka_unit_test(test_trailing_space),
	    cmocka_unit_test(test_inline_without_html_is_attached),
	    cmocka_unit_test(test_attached_message),
	    cmocka_unit_test(test_hostile_name),
	    cmocka_unit_test(test_image_placeholder),
	    cmocka_unit_test(test_outparts_of),
	    cmocka_unit_test(test_outparts_image_text),
	    cmocka_unit_test(test_outparts_answer_html),
	    cmocka_unit_test(test_outparts_text_html),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
