/*
 * test_answer.c - the agent's own text in replies to a notice: tables of
 * realistic bodies as each mail client writes them (mutt, Thunderbird,
 * Gmail, Apple Mail, Outlook plain and HTML turned to text, Russian,
 * German, French), top-posted, bottom-posted and interleaved, with the
 * notice's markers quoted and unquoted; then commands and #note above and
 * below the quote as pd_commands_parse() finds them in the result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "answer.h"
#include "commands.h"
#include "util.h"

#define BEGIN PD_ANSWER_MARK_BEGIN
#define END PD_ANSWER_MARK_END

/* A notice's text/plain as a client quotes it, each line prefixed with q.
 * The customer's own quote ("> I tried") shows that depth does not matter. */
#define NOTICE(q)                                                                        \
	q BEGIN "\n" q "Ticket #42: a message from Carl Customer <carl@example.org>\n" q  \
	"Status: new | Priority: normal | Queue: support | Line: 1\n" q "\n" q             \
	"My printer does not print.\n" q "> I tried it twice.\n" q "\n" q                   \
	"INTERNAL: customer is on the old contract\n" q "\n" q END "\n"
/* Outlook and HTML turned to text: the same, not quoted. */
#define NOTICE_PLAIN NOTICE("")
#define NOTICE_Q NOTICE("> ")
/* mutt quotes empty lines as ">" without a space */
#define NOTICE_MUTT                                                                      \
	"> " BEGIN "\n> Ticket #42: a message from Carl Customer <carl@example.org>\n>\n"  \
	"> My printer does not print.\n> > I tried it twice.\n>\n"                          \
	"> INTERNAL: customer is on the old contract\n> " END "\n"

struct acase {
	const char *name;
	const char *in;
	const char *text;
	bool had_quote;
};

static void run(const struct acase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pd_answer a;

		assert_int_equal(pd_answer_split(c[i].in, &a), 0);
		assert_non_null(a.text);
		if (strcmp(a.text, c[i].text) != 0 || a.had_quote != c[i].had_quote)
			fail_msg("case %zu (%s): got [%s] had_quote=%d\nwant [%s] had_quote=%d", i,
				 c[i].name, a.text, a.had_quote, c[i].text, c[i].had_quote);
		/* nothing of the notice ever survives */
		assert_null(strstr(a.text, "INTERNAL"));
		assert_null(strstr(a.text, "postdesk notice"));
		assert_true(pd_utf8_valid(a.text, strlen(a.text)));
		pd_answer_free(&a);
		assert_null(a.text);
	}
}

/* Each client's reply, top-posted (answer above the quote). */
static void test_top_posted(void **state)
{
	(void)state;
	static const struct acase cases[] = {
		{"mutt, attribution with date", "Please restart it.\n\nAnn\n\n"
		 "On Mon, Dec 07, 2026 at 10:00:00AM +0300, Support wrote:\n" NOTICE_MUTT,
		 "Please restart it.\n\nAnn", true},
		{"mutt, '* Ann <a@b> [date]:'", "Please restart it.\n\n"
		 "* Support Desk <support@example.com> [2026-12-07 10:00]:\n" NOTICE_MUTT,
		 "Please restart it.", true},
		{"Thunderbird, signature below the quote",
		 "Please restart it.\n\nOn 12/7/26 10:00, Support wrote:\n" NOTICE_Q
		 "\n-- \nAnn Agent\nExample Ltd, support line 1\n",
		 "Please restart it.\n\n-- \nAnn Agent\nExample Ltd, support line 1", true},
		{"Gmail, attribution on one line", "Please restart it.\n\n"
		 "On Mon, 7 Dec 2026 at 10:00, Support <support@example.com> wrote:\n\n" NOTICE_Q,
		 "Please restart it.", true},
		{"Gmail, attribution wrapped over two lines", "Please restart it.\n\n"
		 "On Mon, 7 Dec 2026 at 10:00, Example Support Desk <\n"
		 "support@example.com> wrote:\n\n" NOTICE_Q,
		 "Please restart it.", true},
		{"Gmail, only 'wrote:' wrapped", "Please restart it.\n\n"
		 "On Mon, 7 Dec 2026 at 10:00, Example Support Desk <support@example.com>\n"
		 "wrote:\n\n" NOTICE_Q,
		 "Please restart it.", true},
		{"Apple Mail, unquoted attribution and a blank line", "Please restart it.\n\n"
		 "On 7 Dec 2026, at 10:00, Support <support@example.com> wrote:\n\n" NOTICE_Q,
		 "Please restart it.", true},
		{"Apple Mail on iOS, quoted attribution", "Please restart it.\n\nSent from my iPhone\n\n"
		 "> On 7 Dec 2026, at 10:00, Support <support@example.com> wrote:\n> \n" NOTICE_Q,
		 "Please restart it.\n\nSent from my iPhone", true},
		{"Outlook plain, Original Message", "Please restart it.\r\n\r\nAnn\r\n\r\n"
		 "-----Original Message-----\r\nFrom: Support <support@example.com>\r\n"
		 "Sent: Monday, December 7, 2026 10:00 AM\r\nTo: Ann <ann@example.com>\r\n"
		 "Subject: [Support #42] Printer\r\n\r\n" NOTICE_PLAIN,
		 "Please restart it.\n\nAnn", true},
		{"Outlook plain, underscores and header block", "Please restart it.\n\n"
		 "________________________________\nFrom: Support <support@example.com>\n"
		 "Sent: Monday, December 7, 2026 10:00 AM\nTo: Ann <ann@example.com>\n"
		 "Subject: [Support #42] Printer\n\n" NOTICE_PLAIN,
		 "Please restart it.", true},
		{"Outlook HTML turned to text", "Please restart it.\n\nAnn Agent | Example Ltd\n\n"
		 "From: Support <support@example.com>\nSent: Monday, December 7, 2026 10:00\n"
		 "To: Ann Agent <ann@example.com>\nCc: Bob <bob@example.com>\n"
		 "Subject: [Support #42] Printer\n\n" NOTICE_PLAIN,
		 "Please restart it.\n\nAnn Agent | Example Ltd", true},
		{"Outlook header block, From and Sent only", "Done.\n\nFrom: Support\n"
		 "Sent: Monday\n\n" NOTICE_PLAIN,
		 "Done.", true},
		{"From and Date alone are not enough", "From: me\nDate: today\n\nthe plan\n",
		 "From: me\nDate: today\n\nthe plan", false},
		{"Outlook header block without the notice (history only)",
		 "Fixed.\n\nFrom: Carl <carl@example.org>\nDate: Mon, 7 Dec 2026\n"
		 "Subject: Printer\n\nold text\n",
		 "Fixed.", true},
		{"Outlook for iOS", "Please restart it.\n\nGet Outlook for iOS\n"
		 "________________________________\nFrom: Support <support@example.com>\n"
		 "Sent: Monday, December 7, 2026 10:00:00 AM\nTo: Ann <ann@example.com>\n"
		 "Subject: [Support #42] Printer\n\n" NOTICE_PLAIN,
		 "Please restart it.\n\nGet Outlook for iOS", true},
		{"German", "Bitte neu starten.\n\nAm 07.12.2026 um 10:00 schrieb Support:\n" NOTICE_Q,
		 "Bitte neu starten.", true},
		{"German Outlook", "Bitte neu starten.\n\n-----Ursprüngliche Nachricht-----\n"
		 "Von: Support\nGesendet: Montag, 7. Dezember 2026 10:00\nAn: Ann\n"
		 "Betreff: Drucker\n\n" NOTICE_PLAIN,
		 "Bitte neu starten.", true},
		{"French, space before the colon", "Merci de redémarrer.\n\n"
		 "Le lun. 7 déc. 2026 à 10:00, Support <support@example.com> a écrit :\n" NOTICE_Q,
		 "Merci de redémarrer.", true},
		{"French, no-break space before the colon", "Merci de redémarrer.\n\n"
		 "Le lun. 7 déc. 2026 à 10:00, Support <support@example.com> a écrit\xc2\xa0:\n"
		 NOTICE_Q,
		 "Merci de redémarrer.", true},
		{"Thunderbird, header-style reply", "Please restart it.\n\n"
		 "-------- Original Message --------\nSubject: [Support #42] Printer\n"
		 "Date: Mon, 7 Dec 2026 10:00:00 +0300\nFrom: Support <support@example.com>\n\n"
		 NOTICE_PLAIN,
		 "Please restart it.", true},
		{"Outlook, spaced separator, Spanish", "Reinícielo.\n\n----- Mensaje original -----\n"
		 "De: Support\n\n" NOTICE_PLAIN,
		 "Reinícielo.", true},
		{"French Outlook", "Merci.\n\nDe\xc2\xa0: Support <support@example.com>\n"
		 "Envoyé\xc2\xa0: lundi 7 décembre 2026 10:00\nÀ\xc2\xa0: Ann\n"
		 "Objet\xc2\xa0: Imprimante\n\n" NOTICE_PLAIN,
		 "Merci.", true},
	};
	run(cases, PD_ARRAY_LEN(cases));
}

/* Russian clients: Apple Mail, Gmail (wrapped too), Outlook, Thunderbird. */
static void test_russian(void **state)
{
	(void)state;
	static const struct acase cases[] = {
		{"Apple Mail", "Перезагрузите принтер.\n\nАнна\n\n"
		 "7 дек. 2026 г., в 10:00, Поддержка <support@example.com> написал(а):\n\n" NOTICE_Q,
		 "Перезагрузите принтер.\n\nАнна", true},
		{"Gmail", "Перезагрузите принтер.\n\n"
		 "пн, 7 дек. 2026 г. в 10:00, Поддержка <support@example.com>:\n\n" NOTICE_Q,
		 "Перезагрузите принтер.", true},
		{"Gmail, wrapped", "Перезагрузите принтер.\n\n"
		 "пн, 7 дек. 2026 г. в 10:00, Служба поддержки компании Пример <\n"
		 "support@example.com>:\n\n" NOTICE_Q,
		 "Перезагрузите принтер.", true},
		{"Thunderbird", "Перезагрузите принтер.\n\n07.12.2026 10:00, Поддержка пишет:\n" NOTICE_Q,
		 "Перезагрузите принтер.", true},
		{"Yandex", "Перезагрузите принтер.\n\n07.12.2026, 10:00, \"Поддержка\" "
		 "<support@example.com>:\n" NOTICE_Q,
		 "Перезагрузите принтер.", true},
		{"Mail.ru", "Перезагрузите принтер.\n\n\n>Понедельник, 7 декабря 2026, 10:00 +03:00 от "
		 "Поддержка <support@example.com>:\n>\n" NOTICE("> "),
		 "Перезагрузите принтер.", true},
		{"Mail.ru, attribution unquoted", "Перезагрузите принтер.\n\nПонедельник, 7 декабря "
		 "2026, 10:00 +03:00 от Поддержка <support@example.com>:\n\n" NOTICE_Q,
		 "Перезагрузите принтер.", true},
		{"Outlook plain", "Перезагрузите принтер.\r\n\r\n-----Исходное сообщение-----\r\n"
		 "От: Поддержка <support@example.com>\r\nОтправлено: 7 декабря 2026 г. 10:00\r\n"
		 "Кому: Анна\r\nТема: Принтер\r\n\r\n" NOTICE_PLAIN,
		 "Перезагрузите принтер.", true},
		{"Outlook HTML turned to text", "Перезагрузите принтер.\n\n"
		 "От: Поддержка <support@example.com>\nОтправлено: понедельник, 7 декабря 2026 г. "
		 "10:00\nКому: Анна <anna@example.com>\nТема: [Support #42] Принтер\n\n" NOTICE_PLAIN,
		 "Перезагрузите принтер.", true},
		{"Outlook header block on one line",
		 "Перезагрузите принтер.\n\nОт: Поддержка <support@example.com> Отправлено: 7 декабря "
		 "2026 г. 10:00 Кому: Анна Тема: Принтер\n" NOTICE_PLAIN,
		 "Перезагрузите принтер.", true},
		{"below the quote", "7 дек. 2026 г., в 10:00, Поддержка <support@example.com> "
		 "написал(а):\n" NOTICE_Q "\nПерезагрузите принтер.\n",
		 "Перезагрузите принтер.", true},
	};
	run(cases, PD_ARRAY_LEN(cases));
}

/* Answers below the quote (mutt's default, Thunderbird) and interleaved. */
static void test_bottom_and_interleaved(void **state)
{
	(void)state;
	static const struct acase cases[] = {
		{"mutt, below", "On Mon, Dec 07, 2026 at 10:00:00AM +0300, Support wrote:\n" NOTICE_MUTT
		 "\nPlease restart it.\n\n-- \nAnn\n",
		 "Please restart it.\n\n-- \nAnn", true},
		{"Thunderbird, below", "On 12/7/26 10:00, Support wrote:\n" NOTICE_Q
		 "Please restart it.\n",
		 "Please restart it.", true},
		{"above and below", "Short answer: yes.\n\nOn 12/7/26 10:00, Support wrote:\n" NOTICE_Q
		 "\nLonger answer: restart it.\n",
		 "Short answer: yes.\n\nLonger answer: restart it.", true},
		{"interleaved, blocks kept in order",
		 "> Does it print?\nNo, it does not.\n> Which model?\n\nX200.\n\n> Since when?\n"
		 "Since Monday.\nAnn\n",
		 "No, it does not.\n\nX200.\n\nSince Monday.\nAnn", true},
		{"interleaved with the earlier history, then the notice",
		 "On 12/7/26 10:00, Bob wrote:\n> > Is the printer new?\n\nIt is.\n\n"
		 "> Second question\nSecond answer\n\n" NOTICE_Q "\nFinal words.\n",
		 "It is.\n\nSecond answer\n\nFinal words.", true},
		{"deeper quotes and markers quoted twice",
		 "Answer.\n\nOn 12/7/26, Bob wrote:\n> On 12/7/26, Support wrote:\n" NOTICE(">> ")
		 ">\n> Bob's comment\n",
		 "Answer.", true},
		{"markers quoted with '> > '", "Answer.\n\n" NOTICE("> > "), "Answer.", true},
	};
	run(cases, PD_ARRAY_LEN(cases));
}

/* The notice's markers: unquoted (HTML turned to text), one of them
 * missing, lines between them the agent typed (dropped: internal). */
static void test_markers(void **state)
{
	(void)state;
	static const struct acase cases[] = {
		{"HTML reply turned to text, above", "Please restart it.\n\n"
		 "On 12/7/26 10:00, Support wrote:\n\n" NOTICE_PLAIN,
		 "Please restart it.", true},
		{"HTML reply turned to text, below", "On 12/7/26 10:00, Support wrote:\n\n" NOTICE_PLAIN
		 "\nPlease restart it.\n",
		 "Please restart it.", true},
		{"HTML reply, Gmail's wrapped attribution", "Please restart it.\n\n"
		 "On Mon, 7 Dec 2026 at 10:00, Example Support Desk <\nsupport@example.com> wrote:\n\n"
		 NOTICE_PLAIN,
		 "Please restart it.", true},
		{"unquoted lines between quoted markers are internal",
		 "Above.\n\n> " BEGIN "\n> INTERNAL 1\nmy inline words\n> INTERNAL 2\n> " END
		 "\nBelow.\n",
		 "Above.\n\nBelow.", true},
		{"quoted BEGIN without END: the rest of that quote block",
		 "Above.\n\n> " BEGIN "\n> INTERNAL\n> INTERNAL too\n\nBelow.\n",
		 "Above.\n\nBelow.", true},
		{"unquoted BEGIN without END: the rest of the unquoted run",
		 "Above.\n\n" BEGIN "\nINTERNAL\n\nINTERNAL again\n> quoted\n\nBelow.\n",
		 "Above.\n\nBelow.", true},
		{"unquoted BEGIN without END at the end", "Above.\n\n" BEGIN "\nINTERNAL\n",
		 "Above.", true},
		{"END without BEGIN: only the marker", "Above.\n> INTERNAL\n" END "\nBelow.\n",
		 "Above.\n\nBelow.", true},
		{"marker with spaces around and in the quote prefix",
		 "Answer.\n  >  > \t" BEGIN "  \nINTERNAL\n >>" END "\n",
		 "Answer.", true},
		{"two notices (one quoted inside the other's history)",
		 "Answer.\n" NOTICE_Q "> \n" NOTICE("> > ") "\nsig\n",
		 "Answer.\n\nsig", true},
	};
	run(cases, PD_ARRAY_LEN(cases));
}

/* Empty answers, no quote at all, CRLF, and what must be kept. */
static void test_edges(void **state)
{
	(void)state;
	static const struct acase cases[] = {
		{"only the quote", "On 12/7/26 10:00, Support wrote:\n" NOTICE_Q, "", true},
		{"only the quote, Outlook", "\r\n\r\n-----Original Message-----\r\nFrom: S\r\n"
		 "Sent: x\r\nTo: y\r\n\r\n" NOTICE_PLAIN, "", true},
		{"only blank lines", "\n \n\t\r\n", "", false},
		{"empty", "", "", false},
		{"nothing quoted", "Please restart it.\n", "Please restart it.", false},
		{"nothing quoted, several paragraphs, inner blank lines kept",
		 "\n\nFirst.\n\n\nSecond.\n  indented\n\n", "First.\n\n\nSecond.\n  indented", false},
		{"CRLF everywhere", "Please restart it.\r\n\r\nAnn\r\n\r\nOn 12/7/26 10:00, Support "
		 "wrote:\r\n> " BEGIN "\r\n> INTERNAL\r\n> " END "\r\n",
		 "Please restart it.\n\nAnn", true},
		{"an attribution-like line not before a quote is kept",
		 "My colleague wrote:\nrestart it first.\n", "My colleague wrote:\nrestart it first.",
		 false},
		{"a sentence opening with 'On' above a wrapped 'wrote:' is kept",
		 "On Monday it will be fixed.\nSupport wrote:\n> old\n",
		 "On Monday it will be fixed.", true},
		{"Outlook-like header lines that are not a header block are kept",
		 "From: the customer's point of view it works.\nTo: do: nothing.\n",
		 "From: the customer's point of view it works.\nTo: do: nothing.", false},
		{"dashes around other words are no separator",
		 "Steps\n----- Original plan -----\n1. restart\n",
		 "Steps\n----- Original plan -----\n1. restart", false},
		{"a Markdown heading rule is not an Outlook separator",
		 "Steps\n__________\n1. restart\n", "Steps\n__________\n1. restart", false},
		{"trailing spaces of the last line go", "Done.   \n> q\n", "Done.", true},
		/* pd_commands_trim_quote's cases, through the splitter */
		{"trim_quote: top-posted", "Please restart it.\n\nAlice\n\nOn Sun, Nov 22, 2026 Sarah "
		 "via Support wrote:\n> Ticket #1: a message\n> Status: new\n>\n> internal\n",
		 "Please restart it.\n\nAlice", true},
		{"trim_quote: Russian", "Перезагрузите принтер.\n\n22.11.2026, Сара написал(а):\n"
		 "> Не печатает\n",
		 "Перезагрузите принтер.", true},
		{"trim_quote: no attribution", "Done.\n> old text\n> more\n", "Done.", true},
		{"trim_quote: Outlook", "Please restart it.\n\n-----Original Message-----\nFrom: "
		 "Support\nSent: today\n\nTicket #1\n",
		 "Please restart it.", true},
		{"trim_quote: Outlook underscores", "Please restart it.\r\n\r\n"
		 "________________________________\r\nFrom: Support\r\nSent: today\r\n"
		 "Ticket #1\r\n",
		 "Please restart it.", true},
	};
	run(cases, PD_ARRAY_LEN(cases));

	struct pd_answer a;
	assert_int_equal(pd_answer_split(NULL, &a), 0);
	assert_string_equal(a.text, "");
	assert_false(a.had_quote);
	pd_answer_free(&a);
	pd_answer_free(NULL);
	assert_int_equal(pd_answer_split("x", NULL), -1);
}

/* Commands and #note above or below the quote: pd_commands_parse() on the
 * splitter's text finds them, and the relayed body has neither the
 * commands nor the notice. */
static void test_commands(void **state)
{
	(void)state;
	static const struct {
		const char *name, *in, *cmds, *body;
		bool note;
	} cases[] = {
		{"commands above, mutt", "#close\n#priority high\n\nDone, restarted.\n\n"
		 "On Mon, Dec 07, 2026 at 10:00:00AM +0300, Support wrote:\n" NOTICE_MUTT,
		 "close;priority=high", "Done, restarted.", false},
		{"commands below, mutt", "On Mon, Dec 07, 2026 at 10:00:00AM +0300, Support wrote:\n"
		 NOTICE_MUTT "\n#pending\n#assign bob@example.com\nWaiting for the part.\n",
		 "pending;assign=bob@example.com", "Waiting for the part.", false},
		{"#note above, Outlook", "#note\r\nCalled the customer, all fine.\r\n\r\n"
		 "-----Original Message-----\r\nFrom: Support\r\nSent: today\r\nTo: Ann\r\n\r\n"
		 NOTICE_PLAIN,
		 "note", "Called the customer, all fine.", true},
		{"#note below, Thunderbird", "On 12/7/26 10:00, Support wrote:\n" NOTICE_Q
		 "\n#note\nCustomer is a VIP.\n",
		 "note", "Customer is a VIP.", true},
		{"#note below, Gmail HTML turned to text",
		 "On Mon, 7 Dec 2026 at 10:00, Example Support Desk <\nsupport@example.com> wrote:\n\n"
		 NOTICE_PLAIN "\n#note\nchecked\n",
		 "note", "checked", true},
		{"commands only, Russian Gmail", "#resolve\n\nпн, 7 дек. 2026 г. в 10:00, Поддержка "
		 "<support@example.com>:\n\n" NOTICE_Q,
		 "resolve", "", false},
		{"a quoted command is not one", "Answer.\n\n> #close\n" NOTICE_Q, "", "Answer.", false},
	};
	for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
		struct pd_answer a;
		struct pd_cmd_result r;
		struct pd_buf b;

		assert_int_equal(pd_answer_split(cases[i].in, &a), 0);
		pd_commands_parse(a.text, &r);
		pd_buf_init(&b);
		for (size_t k = 0; k < r.n; k++) {
			if (k > 0)
				pd_buf_append_char(&b, ';');
			pd_buf_append_str(&b, pd_cmd_name(r.v[k].kind));
			if (r.v[k].arg != NULL)
				pd_buf_printf(&b, "=%s", r.v[k].arg);
		}
		const char *got = b.data ? b.data : "";
		if (r.error != NULL || strcmp(got, cases[i].cmds) != 0 ||
		    strcmp(r.body, cases[i].body) != 0 || r.note != cases[i].note)
			fail_msg("case %zu (%s): commands [%s] body [%s] note=%d error=%s", i,
				 cases[i].name, got, r.body, r.note, r.error ? r.error : "none");
		assert_null(strstr(r.body, "INTERNAL"));
		pd_buf_free(&b);
		pd_commands_free(&r);
		pd_answer_free(&a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_posted),
		cmocka_unit_test(test_russian),
		cmocka_unit_test(test_bottom_and_interleaved),
		cmocka_unit_test(test_markers),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
